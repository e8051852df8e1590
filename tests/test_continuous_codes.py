"""The terms aimed at the continuous codes: --code-prior-weight (Q's continuous readings of real images spread as
the prior, losses.code_prior_match) and --effects-weight (the codes' image changes kept apart,
losses.effect_overlap). Their values by hand, the phases they join, when they switch on, and their refusals.
(The measure of what the codes do, continuous_effects, is tested in test_metrics.py.)"""

import math
import re

import pytest
import torch
from conftest import tiny_step

from infogan.config import TrainConfig
from infogan.data.images import to_unit_range
from infogan.errors import UsageError
from infogan.model import losses
from infogan.train.loss import InfoGANLoss, StepContext, statistic_names
from infogan.train.runtime import make_runtime
from infogan.train.step import StepRunner, draw_step, hold_late_codes, switches_at, train_step, update_step


def test_effect_overlap_is_one_for_alike_changes_zero_for_orthogonal_ones_and_ignores_their_size():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(8, 1, 6, 6, generator=gen)
    b = torch.randn(8, 1, 6, 6, generator=gen)
    b_apart = b - (a * b).sum((1, 2, 3), keepdim=True) / a.square().sum((1, 2, 3), keepdim=True) * a  # b minus a's part
    assert losses.effect_overlap([a, -3 * a]).item() == pytest.approx(1.0)
    assert losses.effect_overlap([a, b_apart]).item() == pytest.approx(0.0, abs=1e-10)
    # three codes: the mean over the three pairs (1, 0, 0)
    assert losses.effect_overlap([a, 2 * a, b_apart]).item() == pytest.approx(1 / 3)


def test_effect_overlap_turns_changes_apart_without_shrinking_them():
    """The norms are held in the gradient: a step down it lowers the overlap and leaves the size of each change."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(4, 16, generator=gen).requires_grad_()
    b = (a.detach() + 0.5 * torch.randn(4, 16, generator=gen)).requires_grad_()
    overlap = losses.effect_overlap([a, b])
    overlap.backward()
    radial = ((a.grad * a).sum(1) / a.detach().norm(dim=1)).abs()  # the gradient's part along each change itself
    assert (radial < 1e-6 * a.grad.norm(dim=1)).all()
    with torch.no_grad():
        after = losses.effect_overlap([a - 0.05 * a.grad, b - 0.05 * b.grad])
    assert after < overlap


def test_the_effects_term_joins_gs_loss_from_its_start_step_with_the_value_it_reports():
    """G's phase on the same networks and draws: before --effects-start-step the overlap is reported and G's
    gradient is the one without the term; from it on, the gradient changes. The reported value is the overlap
    of G's image changes computed here by hand."""
    grads = {}
    for weight, on in ((0.0, False), (2.0, False), (2.0, True)):
        cfg, nets, _ = tiny_step(continuous=2, effects_weight=weight, effects_start_step=5 if weight else 0)
        draws = draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False)
        ctx = StepContext(torch.rand(16, 1, 8, 8) * 2 - 1, draws, effects_on=on)
        ctx.fake = nets.gen(nets.disc.spec.vector(draws.latent))
        nets.disc.requires_grad_(False)
        InfoGANLoss(cfg, nets, make_runtime(cfg)).accumulate_gradients("G", ctx)
        grads[weight, on] = [p.grad.clone() for p in nets.gen.parameters()]
        if weight:
            vector = nets.disc.spec.vector(draws.latent)[: losses.EFFECT_SAMPLES]
            signs = torch.tensor([1.0, -1.0]).repeat(len(vector) // 2)
            moved = [vector] + [
                vector + losses.EFFECT_STEP * signs[:, None] * torch.eye(vector.shape[1])[k - 2] for k in (0, 1)
            ]
            with torch.no_grad():
                images = nets.gen(torch.cat(moved)).chunk(3)
            by_hand = losses.effect_overlap([(im - images[0]) * signs.view(-1, 1, 1, 1) for im in images[1:]])
            assert ctx.report.values["effect_overlap"].item() == pytest.approx(by_hand.item(), rel=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(grads[0.0, False], grads[2.0, False]))
    assert any(not torch.equal(a, b) for a, b in zip(grads[0.0, False], grads[2.0, True]))
    cfg, nets, _ = tiny_step(continuous=2, effects_weight=1.0, effects_start_step=5)
    assert [switches_at(cfg, nets, step)["effects_on"] for step in (0, 4, 5, 6)] == [False, False, True, True]


def test_effect_interaction_by_hand_zero_without_a_mixed_term_and_free_of_scale():
    gen = torch.Generator().manual_seed(2)
    x, a, b, c = (torch.randn(4, 1, 5, 5, generator=gen) for _ in range(4))
    additive = (x + a + b, x + a - b, x - a + b, x - a - b)
    assert losses.effect_interaction([additive]).item() == pytest.approx(0.0, abs=1e-10)
    mixed = (x + a + b + c, x + a - b - c, x - a + b - c, x - a - b + c)  # D_ij = 4c, D_i = 4a, D_j = 4b
    by_hand = 16 * c.flatten(1).square().sum(1) / (8 * (a.flatten(1).square().sum(1) + b.flatten(1).square().sum(1)))
    assert losses.effect_interaction([mixed]).item() == pytest.approx(by_hand.mean().item(), rel=1e-5)
    assert losses.effect_interaction([tuple(3 * m for m in mixed)]).item() == pytest.approx(
        by_hand.mean().item(), rel=1e-5
    )


def test_a_rotated_mix_of_two_factors_interacts_and_the_factors_own_axes_do_not():
    """G(c) = s^2 U + w^2 V with (s, w) the codes turned by an angle: two factors of different curvature that do
    not interact. Read along the factors' own axes (angle 0) the interaction is 0; along a 45-degree mix it is
    not, so the penalty prefers codes aligned with the factors."""
    gen = torch.Generator().manual_seed(3)
    u, v = torch.randn(1, 1, 6, 6, generator=gen), 0.2 * torch.randn(1, 1, 6, 6, generator=gen)
    codes = torch.rand(8, 2, generator=gen) * 2 - 1

    def g(c, angle):
        turn = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        s, w = (c @ turn.T).unbind(1)
        return s.square().view(-1, 1, 1, 1) * u + w.square().view(-1, 1, 1, 1) * v

    def interaction(angle):
        h = losses.EFFECT_STEP
        corners = tuple(g(codes + h * torch.tensor([si, sj]), angle) for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)))
        return losses.effect_interaction([corners]).item()

    assert interaction(0.0) == pytest.approx(0.0, abs=1e-9)
    assert interaction(math.pi / 4) > 0.05


def test_the_interaction_penalty_joins_gs_loss_with_the_value_it_reports():
    grads = {}
    for weight in (0.0, 2.0):
        cfg, nets, _ = tiny_step(continuous=2, effects_weight=weight, effects_penalty="interaction")
        draws = draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False)
        ctx = StepContext(torch.rand(16, 1, 8, 8) * 2 - 1, draws, effects_on=True)
        ctx.fake = nets.gen(nets.disc.spec.vector(draws.latent))
        nets.disc.requires_grad_(False)
        InfoGANLoss(cfg, nets, make_runtime(cfg)).accumulate_gradients("G", ctx)
        grads[weight] = [p.grad.clone() for p in nets.gen.parameters()]
        if weight:
            assert "effect_overlap" not in ctx.report.values
            vector = nets.disc.spec.vector(draws.latent)[: losses.EFFECT_SAMPLES]
            a = torch.tensor([1.0, -1.0]).repeat(8)
            b = torch.tensor([1.0, 1.0, -1.0, -1.0]).repeat(4)
            first = vector.shape[1] - 2
            moved = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                copy = vector.clone()
                copy[:, first] += losses.EFFECT_STEP * si * a
                copy[:, first + 1] += losses.EFFECT_STEP * sj * b
                moved.append(copy)
            with torch.no_grad():
                corners = tuple(nets.gen(torch.cat(moved)).chunk(4))
            by_hand = losses.effect_interaction([corners]).item()
            assert ctx.report.values["effect_interaction"].item() == pytest.approx(by_hand, rel=1e-4)
    assert any(not torch.equal(x, y) for x, y in zip(grads[0.0], grads[2.0]))
    assert statistic_names(cfg)[-1] == "effect_interaction"


def test_the_terms_are_reported_where_their_phases_report_and_train_a_step():
    cfg, nets, opts = tiny_step(continuous=2, code_prior_weight=1.0, effects_weight=1.0)
    names = statistic_names(cfg)
    assert names.index("q_real_code_prior") < names.index("g_loss") < names.index("effect_overlap")
    stats = train_step(
        cfg, nets, opts, torch.rand(16, 1, 8, 8) * 2 - 1, torch.Generator().manual_seed(0), make_runtime(cfg)
    )
    assert set(names) == set(stats) and all(torch.isfinite(v) for v in stats.values())
    assert 0 <= stats["effect_overlap"].item() <= 1 and stats["q_real_code_prior"].item() >= 0


def test_staggered_codes_are_held_at_zero_until_their_step_and_the_draws_stay_those_of_a_run_without():
    spec = tiny_step(continuous=3)[1].disc.spec
    drawn = draw_step(spec, 8, torch.Generator().manual_seed(0), "cpu", False).latent.cont
    for step, live in ((0, 1), (4, 1), (5, 2), (9, 2), (10, 3), (99, 3)):
        draws = draw_step(spec, 8, torch.Generator().manual_seed(0), "cpu", False)
        held = hold_late_codes(draws, 5, step).latent.cont
        assert torch.equal(held[:, :live], drawn[:, :live]) and not held[:, live:].any(), (step, live)


@pytest.mark.parametrize("step, held", [(0, True), (4, True), (5, False)])
def test_a_training_step_feeds_g_the_held_codes(step, held):
    """train_step (and the loop's StepRunner) with --code-stagger-steps 5 computes what update_step computes on the draws with code 2 held
    (before step 5) or as drawn (from step 5 on): the statistics of one step agree, and differ from the other."""
    batch = torch.randint(0, 256, (16, 1, 8, 8), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    real = to_unit_range(batch)
    cfg, nets, opts = tiny_step(continuous=2, code_stagger_steps=5)
    stats = train_step(cfg, nets, opts, real, torch.Generator().manual_seed(0), make_runtime(cfg), step=step)
    cfg, nets, opts = tiny_step(continuous=2, code_stagger_steps=5)  # the loop's runner does the same
    by_runner = StepRunner(cfg, nets, opts, make_runtime(cfg), torch.Generator().manual_seed(0))(batch, step)
    assert all(torch.equal(stats[name], by_runner[name]) for name in stats)
    expected = {}
    for hold in (True, False):
        cfg, nets, opts = tiny_step(continuous=2)
        draws = draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False)
        if hold:
            draws.latent.cont[:, 1] = 0
        expected[hold] = update_step(cfg, nets, opts, real, draws, make_runtime(cfg))
    assert all(torch.equal(stats[name], expected[held][name]) for name in stats)
    assert not torch.equal(stats["cont_loss"], expected[not held]["cont_loss"])


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"code_prior_weight": -1.0}, "--code-prior-weight must be a finite number >= 0"),
        ({"code_prior_weight": 1.0, "continuous": 0}, "--code-prior-weight needs a continuous code"),
        ({"effects_weight": 1.0, "continuous": 1}, "--effects-weight needs two continuous codes"),
        ({"effects_weight": float("nan")}, "--effects-weight must be a finite number >= 0"),
        ({"effects_start_step": 10}, "--effects-start-step starts --effects-weight, which is 0"),
        ({"effects_weight": 1.0, "effects_start_step": -1}, "--effects-start-step must be an integer >= 0"),
        ({"code_stagger_steps": 100, "continuous": 1}, "--code-stagger-steps needs two continuous codes"),
        ({"code_stagger_steps": -1}, "--code-stagger-steps must be an integer >= 0"),
        (
            {"effects_weight": 1.0, "effects_penalty": "hessian"},
            "--effects-penalty must be one of orthogonal, interaction",
        ),
    ],
)
def test_bad_values_are_refused_with_the_field_named(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig(**fields).validate()
