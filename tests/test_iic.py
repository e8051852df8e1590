"""--iic-weight: IIC's two-view information on real images (losses.paired_information, augment.py). The loss's
values by hand, the deformations, that the step is the paper's with the term off and trains the term with it
on, that resume stays exact, and the options that are refused."""

import math

import pytest
import torch
from conftest import tiny_step

from infogan.config import TrainConfig, resolve
from infogan.data import augment
from infogan.data.datasets import source_of
from infogan.errors import UsageError
from infogan.metrics.codes import slant_and_ink
from infogan.model import losses
from infogan.presets import IIC_FIELDS, PRESETS
from infogan.train.cuda_graphs import unsupported_reason
from infogan.train.loss import InfoGANLoss, StepContext, statistic_names
from infogan.train.runtime import make_runtime
from infogan.train.step import draw_step, jitter_of, train_step
from infogan.train.terms import graph_reasons


def _tiny(**fields):
    return tiny_step(**fields)


def _real():
    images = -torch.ones(16, 1, 8, 8)
    images[:8, :, :, :4] = 1.0
    images[8:, :, 4:, :] = 1.0
    return images + 0.1 * torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(3))


def test_paired_information_is_ln_k_for_agreeing_confident_balanced_views_and_zero_for_independent_ones():
    k = 4
    confident = torch.eye(k).repeat(8, 1) * 50  # [32, 4]: each value equally often, sure of each
    assert losses.paired_information([confident], [confident]).item() == pytest.approx(math.log(k), abs=1e-4)
    # the second view's category drawn apart from the first's: the joint is the product of its marginals
    shuffled = torch.eye(k)[torch.arange(32) // 8] * 50
    assert losses.paired_information([confident], [shuffled]).item() == pytest.approx(0.0, abs=1e-4)
    # one value for every image: no information however sure
    one_value = torch.zeros(32, k)
    one_value[:, 0] = 50
    assert losses.paired_information([one_value], [one_value]).item() == pytest.approx(0.0, abs=1e-5)


def test_paired_information_by_hand_and_summed_over_codes():
    rng = torch.Generator().manual_seed(1)  # every draw seeded: the global RNG's state depends on the test order
    a, b = torch.randn(6, 3, generator=rng), torch.randn(6, 3, generator=rng)
    pa, pb = a.softmax(1), b.softmax(1)
    joint = sum(torch.outer(pa[i], pb[i]) for i in range(6)) / 6
    joint = (joint + joint.t()) / 2
    expected = sum(
        joint[i, j] * math.log(joint[i, j] / (joint[i].sum() * joint[:, j].sum())) for i in range(3) for j in range(3)
    )
    assert losses.paired_information([a], [b]).item() == pytest.approx(float(expected), rel=1e-5)
    c, d = torch.randn(6, 5, generator=rng), torch.randn(6, 5, generator=rng)
    both = losses.paired_information([a, c], [b, d]).item()
    assert both == pytest.approx(float(expected) + losses.paired_information([c], [d]).item(), rel=1e-5)


def test_the_identity_deformation_leaves_an_image_as_it_was_and_a_shift_moves_it():
    images = torch.rand(3, 1, 12, 12)
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(3, 2, 3)
    assert torch.allclose(augment.warp(images, identity), images, atol=1e-5)
    dot = -torch.ones(1, 1, 12, 12)
    dot[0, 0, 6, 6] = 1.0
    # a shift of +1/6 of the side in x samples from the right: the dot moves 2 pixels left
    moved = augment.warp(dot, torch.tensor([[[1.0, 0, 2 / 6], [0, 1.0, 0]]]))
    assert moved[0, 0].flatten().argmax().item() == 6 * 12 + 4


def test_draws_stay_within_their_ranges_and_come_from_the_run_generator():
    jitter = augment.AffineJitter(rotation=20.0, scale=0.15, shift=0.06)
    theta = jitter.draw(2000, torch.Generator().manual_seed(0), "cpu")
    linear = theta[:, :, :2]
    scale = 1 / torch.linalg.det(linear).sqrt()  # the matrix is a rotation divided by the scale
    assert scale.min() >= 0.85 - 1e-5 and scale.max() <= 1.15 + 1e-5 and scale.max() > 1.12
    angle = torch.rad2deg(torch.atan2(linear[:, 1, 0], linear[:, 0, 0]))
    assert angle.abs().max() <= 20 + 1e-4 and angle.abs().max() > 19
    assert theta[:, :, 2].abs().max() <= 0.12 + 1e-6
    again = jitter.draw(2000, torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(theta, again)


def test_elastic_and_stroke_draw_after_the_affine_part_and_change_the_copy_as_asked():
    """Off, they draw nothing (the affine draws and the generator's state are the affine jitter's alone); a
    stroke of +1 / -1 is the 3x3 dilation / erosion, which adds / removes ink; a zero elastic field is the
    affine warp, a drawn one moves pixels smoothly."""
    affine = augment.AffineJitter(20.0, 0.15, 0.06)
    rng_a, rng_b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    plain = augment.Deformations(affine).draw(8, rng_a, "cpu")
    assert plain.displacement is None and plain.stroke is None
    assert torch.equal(plain.theta, affine.draw(8, rng_b, "cpu")) and torch.equal(rng_a.get_state(), rng_b.get_state())
    full = augment.Deformations(affine, elastic=0.03, stroke=0.5).draw(8, torch.Generator().manual_seed(4), "cpu")
    assert torch.equal(full.theta, plain.theta)  # the optional parts come after: the affine stream is unchanged
    assert full.displacement.shape == (8, 2, augment.ELASTIC_GRID, augment.ELASTIC_GRID)
    assert full.stroke.abs().max() <= 0.5

    digit = _real()[:2]
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    dilated = augment.Deformation(identity, stroke=torch.ones(2)).apply(digit)
    eroded = augment.Deformation(identity, stroke=-torch.ones(2)).apply(digit)
    assert torch.allclose(dilated, torch.nn.functional.max_pool2d(digit, 3, 1, 1), atol=1e-5)
    assert dilated.sum() > digit.sum() > eroded.sum()
    unchanged = augment.Deformation(identity, torch.zeros(2, 2, 4, 4), torch.zeros(2)).apply(digit)
    assert torch.allclose(unchanged, digit, atol=1e-5)
    field = torch.zeros(2, 2, 4, 4)
    field[:, 0] = 2 / 8  # a uniform shift of 1/8 of the side in x: the same as the affine shift
    shifted = torch.tensor([[1.0, 0, 2 / 8], [0, 1.0, 0]]).expand(2, 2, 3)
    assert torch.allclose(augment.warp(digit, identity, field), augment.warp(digit, shifted), atol=1e-4)


def test_the_shear_draws_last_and_leans_a_vertical_stroke_by_its_angle():
    """Off, it draws nothing; on, it draws after every other part (their draws stay as they were), within its
    range, and a shear of s leans an upright bar by atan(s) either way while rotation keeps it upright."""
    affine = augment.AffineJitter(20.0, 0.15, 0.06)
    without = augment.Deformations(affine, 0.03, 0.5).draw(8, torch.Generator().manual_seed(4), "cpu")
    rng = torch.Generator().manual_seed(4)
    with_shear = augment.Deformations(affine, 0.03, 0.5, shear=0.5).draw(8, rng, "cpu")
    assert without.shear is None
    assert torch.equal(with_shear.theta, without.theta) and torch.equal(with_shear.stroke, without.stroke)
    assert torch.equal(with_shear.displacement, without.displacement)
    assert with_shear.shear.shape == (8,) and 0 < with_shear.shear.abs().max() <= 0.5
    many = augment.Deformations(affine, shear=0.5).draw(4000, torch.Generator().manual_seed(0), "cpu").shear
    assert many.min() < -0.49 and many.max() > 0.49  # the whole range, both ways

    bar = -torch.ones(2, 1, 28, 28)
    bar[:, :, 4:24, 13:15] = 1  # an upright stroke: slant 0
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    leaned = augment.Deformation(identity, shear=torch.tensor([0.5, -0.5])).apply(bar)
    slant, ink = slant_and_ink(leaned)
    assert slant.tolist() == pytest.approx([26.565, -26.565], abs=0.5)  # atan(0.5) = 26.57 degrees, either way
    assert torch.allclose(ink, slant_and_ink(bar)[1], rtol=0.05)  # the same stroke, leaned
    unchanged = augment.Deformation(identity, shear=torch.zeros(2)).apply(bar)
    assert torch.allclose(unchanged, bar, atol=1e-5)


def test_with_the_term_off_the_step_and_its_random_stream_are_the_papers():
    """Weight 0 draws nothing more and computes nothing more: the same weights and latent generator state as
    a step built from the paper's phases alone (the draws without deformations)."""
    cfg, nets, opts = _tiny(iic_weight=0.0, iic_rotation=30.0)
    assert jitter_of(cfg) is None
    rng = torch.Generator().manual_seed(5)
    stats = train_step(cfg, nets, opts, _real(), rng, make_runtime(cfg))
    assert "q_pair_info" not in stats and "q_pair_info" not in statistic_names(cfg)
    reference_rng = torch.Generator().manual_seed(5)
    draw_step(cfg.latent, 16, reference_rng, "cpu", contrastive=False)
    assert torch.equal(rng.get_state(), reference_rng.get_state())
    paper_cfg, paper_nets, paper_opts = _tiny()
    train_step(paper_cfg, paper_nets, paper_opts, _real(), torch.Generator().manual_seed(5), make_runtime(paper_cfg))
    for a, b in zip(nets.disc.state_dict().values(), paper_nets.disc.state_dict().values()):
        assert torch.equal(a, b)


def test_the_term_raises_q_agreement_between_views_and_is_reported():
    """A few D/Q updates with the term raise the two-view information of Q on the real batch above what the
    same updates without it reach."""
    after = {}
    for weight in (0.0, 3.0):
        cfg, nets, opts = _tiny(iic_weight=weight)
        rng = torch.Generator().manual_seed(0)
        for _ in range(15):
            stats = train_step(cfg, nets, opts, _real(), rng, make_runtime(cfg))
        theta = augment.AffineJitter(20, 0.15, 0.06).draw(16, torch.Generator().manual_seed(9), "cpu")
        nets.disc.eval()
        with torch.no_grad():
            after[weight] = losses.paired_information(
                nets.disc(_real()).q.cat_logits, nets.disc(augment.warp(_real(), theta)).q.cat_logits
            ).item()
        if weight:
            assert "q_pair_info" in stats and 0 <= stats["q_pair_info"].item() <= math.log(2) + 1e-5
            assert "q_pair_info" in statistic_names(cfg)
    assert after[3.0] > after[0.0] + 0.1


def test_the_over_clustering_head_trains_on_the_pairs_at_qs_rate_and_is_absent_by_default():
    """--iic-overcluster K: a K-way head on D's trunk, in Q's optimiser group, whose two-view information the
    step reports and raises; without it D has no such module (checkpoints keep their keys)."""
    cfg, nets, opts = _tiny(iic_weight=3.0)
    assert nets.disc.overcluster_head is None and "overcluster" not in " ".join(nets.disc.state_dict())
    cfg, nets, opts = _tiny(iic_weight=3.0, iic_overcluster=12)
    head = nets.disc.overcluster_head
    assert head.out_features == 12 and "q_pair_info_over" in statistic_names(cfg)
    q_group = {id(p) for p in opts.d.param_groups[-1]["params"]}
    assert {id(head.weight), id(head.bias)} <= q_group
    rng, infos = torch.Generator().manual_seed(0), []
    for _ in range(15):
        before = head.weight.detach().clone()
        stats = train_step(cfg, nets, opts, _real(), rng, make_runtime(cfg))
        infos.append(stats["q_pair_info_over"].item())
        assert not torch.equal(before, head.weight)
    assert 0 <= min(infos) and max(infos) <= math.log(12) + 1e-5
    assert sum(infos[-3:]) / 3 > sum(infos[:3]) / 3 + 0.1


def test_the_deformed_fakes_term_reaches_g_and_d_and_is_reported_in_order():
    """--iic-fake-weight: Q reads the fakes' categories through the real batch's deformations too. It changes
    both updates of a step (same seed, same draws), reports its CE where statistic_names says, and draws
    nothing more from the run's generator."""
    after = {}
    for weight in (0.0, 2.0):
        cfg, nets, opts = _tiny(iic_weight=1.0, iic_fake_weight=weight)
        rng = torch.Generator().manual_seed(0)
        stats = train_step(cfg, nets, opts, _real(), rng, make_runtime(cfg))
        after[weight] = (nets.gen.state_dict(), nets.disc.state_dict(), rng.get_state())
        assert tuple(stats) == statistic_names(cfg)
        assert ("cat_loss_deformed" in stats) == (weight > 0)
    assert torch.equal(after[0.0][2], after[2.0][2])
    for net in (0, 1):
        differ = [k for k, v in after[0.0][net].items() if not torch.equal(v, after[2.0][net][k])]
        assert differ, "the term left a network as the run without it"


def test_the_deformed_fakes_term_is_in_gs_loss_with_the_value_it_reports():
    """G's phase alone, on the same networks and draws: the term changes G's gradient, and the CE it reports is
    Q's cross-entropy on the deformed fakes against the codes they were drawn with, computed here by hand."""
    grads = {}
    for weight in (0.0, 2.0):
        cfg, nets, _ = _tiny(iic_weight=1.0, iic_fake_weight=weight)
        rt = make_runtime(cfg)
        draws = draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False, jitter_of(cfg))
        ctx = StepContext(_real(), draws)
        ctx.fake = nets.gen(nets.disc.spec.vector(draws.latent))
        nets.disc.requires_grad_(False)  # as the step's G phase: D is frozen
        InfoGANLoss(cfg, nets, rt).accumulate_gradients("G", ctx)
        grads[weight] = [p.grad.clone() for p in nets.gen.parameters()]
        if weight:
            with torch.no_grad():
                logits = nets.disc(draws.deform.apply(ctx.fake)).q.cat_logits[0]
            by_hand = torch.nn.functional.cross_entropy(logits, draws.latent.cat[:, 0])
            assert ctx.report.values["cat_loss_deformed"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(grads[0.0], grads[2.0]))


def test_ds_loss_is_the_sum_of_its_terms_computed_by_hand_view_by_view():
    """D's phase with every optional term of the real batch on: the loss it minimises equals the terms computed
    by hand from separate calls of D on each view (the one call's unpacking order and the deformed-fakes term
    in D included: a view read as another, or a term left out, changes the sum)."""
    cfg, nets, _ = _tiny(iic_weight=1.5, iic_fake_weight=2.0, iic_overcluster=6, code_prior_weight=0.7)
    draws = draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False, jitter_of(cfg))
    ctx = StepContext(_real(), draws)
    with torch.no_grad():
        ctx.fake = nets.gen(nets.disc.spec.vector(draws.latent))
        loss = InfoGANLoss(cfg, nets, make_runtime(cfg))._discriminator(ctx)
        d_real, d_fake = nets.disc(ctx.real), nets.disc(ctx.fake)
        d_fake_view, d_view = nets.disc(draws.deform.apply(ctx.fake)), nets.disc(draws.deform.apply(ctx.real))
    ce = torch.nn.functional.cross_entropy
    by_hand = (
        losses.discriminator_loss(d_real.logit, d_fake.logit)
        + losses.information_loss(d_fake.q, draws.latent, cfg.categorical_weight, cfg.continuous_weight).total
        + 2.0 * ce(d_fake_view.q.cat_logits[0], draws.latent.cat[:, 0])
        + 0.7 * losses.code_prior_match(d_real.q.cont_mean, draws.latent.cont)
        - 1.5 * losses.paired_information(d_real.q.cat_logits, d_view.q.cat_logits)
        - 1.5 * losses.paired_information([d_real.overcluster], [d_view.overcluster])
    )
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    for name in ("q_pair_info", "q_pair_info_over", "q_real_code_prior"):
        assert name in ctx.report.values


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"iic_weight": -1.0}, "--iic-weight must be a finite number >= 0"),
        ({"iic_weight": float("inf")}, "--iic-weight must be a finite number >= 0"),
        ({"iic_weight": 1.0, "categorical": []}, "--iic-weight needs a categorical code"),
        ({"iic_rotation": 200.0}, "--iic-rotation must be in [0.0, 180.0)"),
        ({"iic_scale": 1.0}, "--iic-scale must be in [0.0, 1.0)"),
        ({"iic_shift": -0.1}, "--iic-shift must be in [0.0, 0.5)"),
        ({"iic_overcluster": -1}, "--iic-overcluster must be"),
        ({"iic_overcluster": 50, "iic_weight": 0.0}, "--iic-overcluster shapes --iic-weight's two-view information"),
        ({"iic_elastic": 0.03, "iic_weight": 0.0}, "--iic-elastic shapes --iic-weight's"),
        ({"iic_weight": 1.0, "iic_elastic": 0.5}, "--iic-elastic must be in [0.0, 0.25)"),
        ({"iic_weight": 1.0, "iic_stroke": 1.5}, "--iic-stroke must be in [0.0, 1.0)"),
        ({"iic_shear": 0.5, "iic_weight": 0.0}, "--iic-shear shapes --iic-weight's"),
        ({"iic_weight": 1.0, "iic_shear": -0.5}, "--iic-shear must be in [0.0, 1.0)"),
        ({"iic_fake_weight": 1.0, "iic_weight": 0.0}, "--iic-fake-weight shapes --iic-weight's"),
        ({"iic_weight": 1.0, "iic_fake_weight": -1.0}, "--iic-fake-weight must be a finite number >= 0"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(fields, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**fields).validate()


def test_the_recipe_preset_fills_iic_and_a_weight_given_alone_leaves_the_parts_off():
    """mnist-iic, the MNIST data sets' preset, fills IIC's weight and parts; --preset mnist, or --iic-weight 0,
    is the paper's objective; a weight given alone leaves the parts off (the same meaning on every preset); a
    run without exactly one categorical code gets none of the preset's (given, it is on); a part given where
    the preset's weight is 0 is refused once the preset is known; a resolved config without the fields (older
    runs) ran without IIC."""
    recipe = PRESETS["mnist-iic"]
    assert source_of("mnist-sample").preset == source_of("mnist").preset == "mnist-iic"
    shape = (1, 28, 28)
    assert resolve(TrainConfig(dataset="mnist-sample", preset="mnist"), shape, "mnist-iic").iic_weight == 0
    assert resolve(TrainConfig(dataset="mnist-sample", iic_weight=0.0), shape, "mnist-iic").iic_shear == 0
    on = resolve(TrainConfig(dataset="mnist-sample"), shape, "mnist-iic")
    assert [getattr(on, f) for f in IIC_FIELDS] == [3.0, 0.03, 0.5, 50, 3.0, 0.5]
    assert [getattr(on, f) for f in IIC_FIELDS] == [getattr(recipe, f) for f in IIC_FIELDS]
    assert resolve(TrainConfig(preset="mnist-iic", iic_fake_weight=1.0), shape, None).iic_fake_weight == 1.0
    paper = resolve(TrainConfig(preset="mnist-iic", iic_weight=0.0), shape, None)
    assert [getattr(paper, f) for f in IIC_FIELDS] == [0, 0, 0, 0, 0, 0]
    alone = resolve(TrainConfig(preset="mnist-iic", iic_weight=1.0), shape, None)
    assert [getattr(alone, f) for f in IIC_FIELDS] == [1.0, 0, 0, 0, 0, 0]
    no_code = resolve(TrainConfig(preset="mnist-iic", categorical=[]), shape, None)
    assert no_code.iic_weight == 0 and no_code.iic_overcluster == 0
    two_codes = resolve(TrainConfig(preset="mnist-iic", categorical=[10, 10]), shape, None)  # it merged them
    assert [getattr(two_codes, f) for f in IIC_FIELDS] == [0, 0, 0, 0, 0, 0]
    asked = resolve(TrainConfig(preset="mnist-iic", categorical=[10, 10], iic_weight=3.0, iic_shear=0.5), shape, None)
    assert (asked.iic_weight, asked.iic_shear, asked.iic_elastic) == (3.0, 0.5, 0)
    assert resolve(TrainConfig(), shape, None).iic_weight == 0  # other grey data: the paper's objective
    with pytest.raises(UsageError, match="--iic-elastic shapes --iic-weight's two-view information, which is 0"):
        resolve(TrainConfig(iic_elastic=0.03), (3, 32, 32), "cifar10")
    old = TrainConfig.from_dict({k: v for k, v in on.to_dict().items() if k not in IIC_FIELDS})  # never written
    assert [getattr(old, f) for f in IIC_FIELDS] == [0, 0, 0, 0, 0, 0]


def test_cuda_graphs_step_aside_for_the_term():
    reasons = graph_reasons(resolve(TrainConfig(), (1, 28, 28), "mnist-iic"))  # MNIST's default recipe: IIC on
    assert "--iic-weight" in unsupported_reason("cuda", False, False, term_reasons=reasons)


RECIPE_DEFORMATIONS = augment.Deformations(augment.AffineJitter(20.0, 0.15, 0.06), 0.03, 0.5, 0.5)
GIVEN = ["--iic-rotation", "7", "--iic-scale", "0.1", "--iic-shift", "0.02", "--iic-elastic", "0.04"]
GIVEN_DEFORMATIONS = augment.Deformations(augment.AffineJitter(7.0, 0.1, 0.02), 0.04, 0.3, 0.2)


@pytest.mark.parametrize(
    "options, preset, deformations",
    [
        ([], "mnist-iic", RECIPE_DEFORMATIONS),
        ([*GIVEN, "--iic-stroke", "0.3", "--iic-shear", "0.2"], "mnist-iic", GIVEN_DEFORMATIONS),
        (["--preset", "mnist"], "mnist", None),
        (["--iic-weight", "0"], "mnist-iic", None),
    ],
    ids=["default", "deformations-given", "preset-mnist", "iic-weight-0"],
)
def test_mnist_data_trains_the_recipe_by_default_and_the_papers_objective_when_asked(
    tmp_path, monkeypatch, options, preset, deformations
):
    """From the command line to the step: the bundled digits' preset reaches the run's config.json and its
    step's statistics and deformations; --preset mnist and --iic-weight 0 give the paper's objective. The
    training itself is cut to one step (what a run trains is not under test here)."""
    from infogan.cli import main
    from infogan.train import loop, step

    seen = {}
    real_draw_step = step.draw_step

    def recording_draw_step(*args):
        seen["jitter"] = args[-1] if len(args) == 6 else None
        return real_draw_step(*args)

    def one_step(trainer, stop):
        seen["statistics"] = set(trainer.step(trainer.data.images[:16], 0))

    monkeypatch.setattr(step, "draw_step", recording_draw_step)
    monkeypatch.setattr(loop.Trainer, "fit", one_step)
    monkeypatch.setattr(loop.Trainer, "finish", lambda trainer: None)
    run = tmp_path / "run"
    args = ["train", "--dataset", "mnist-sample", "--outdir", str(run), "--epochs", "1", "--no-progress"]
    assert main([*args, "--precision", "fp32", *options]) == 0
    cfg = TrainConfig.from_json((run / "config.json").read_text(), "the run's config")
    iic_on = deformations is not None
    assert cfg.preset == preset
    assert (cfg.iic_weight, cfg.iic_overcluster, cfg.iic_fake_weight) == ((3.0, 50, 3.0) if iic_on else (0.0, 0, 0.0))
    iic_statistics = {"q_pair_info", "q_pair_info_over", "cat_loss_deformed"}
    assert iic_statistics <= seen["statistics"] if iic_on else not iic_statistics & seen["statistics"]
    assert {"d_loss", "g_loss", "cat_loss", "cont_loss"} <= seen["statistics"]
    assert seen["jitter"] == deformations  # what the step drew its second views with
