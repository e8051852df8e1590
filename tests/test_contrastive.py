"""InfoGAN-CR's contrastive regulariser: the pair latents, the pair discriminator's shapes, the loss by hand,
who gets which gradient, and a run with --cr-weight end to end (artefacts, statistics, exact resume)."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from conftest import tiny_step, two_factor_images, two_factor_run

from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.cli import main
from infogan.config import TrainConfig
from infogan.model import losses
from infogan.model.latent import LatentSpec
from infogan.model.networks import CRDiscriminator
from infogan.train.loss import statistic_names
from infogan.train.runtime import make_runtime
from infogan.train.step import draw_step, train_step

CR_RUN = [
    "--batch-size",
    "16",
    "--epochs",
    "1",
    "--noise-dim",
    "4",
    "--categorical",
    "3",
    "--continuous",
    "2",
    "--cr-weight",
    "2",
    "--no-progress",
    "--log-every",
    "2",
]


def test_pair_shares_the_noise_and_exactly_the_chosen_code():
    spec = LatentSpec(noise_dim=3, categorical=(50, 50), continuous=3)
    gen = torch.Generator().manual_seed(0)
    latent = spec.sample(2000, gen)
    partner, shared = spec.contrastive_pair(latent, gen)
    assert shared.shape == (2000,) and set(shared.tolist()) == set(range(5))  # every code gets chosen
    assert torch.equal(partner.z, latent.z)
    for k in range(5):
        rows = shared == k
        cat_same = partner.cat[rows] == latent.cat[rows]  # [n, 2]
        cont_same = partner.cont[rows] == latent.cont[rows]  # [n, 3]
        same = torch.cat([cat_same, cont_same], 1).float().mean(0)  # per code: fraction of rows equal
        assert same[k] == 1.0
        # the others are fresh draws: equal only by chance (1/50 for the categorical codes, never for floats)
        assert (torch.cat([same[:k], same[k + 1 :]]) < 0.1).all(), (k, same)


def test_pair_discriminator_shapes_for_every_image_size():
    for shape, codes in (([1, 28, 28], (10,)), ([3, 32, 32], (10, 10)), ([1, 64, 64], ()), ([1, 8, 16], (4,))):
        cfg = TrainConfig(noise_dim=4, categorical=list(codes), continuous=3, arch="paper-mnist", image_shape=shape)
        h = CRDiscriminator(cfg.model)
        x = torch.randn(5, *shape)
        assert h(x, x).shape == (5, len(codes) + 3)
        assert all(
            hasattr(m, "parametrizations") for m in h.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
        )


def test_contrastive_loss_and_accuracy_by_hand():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    shared = torch.tensor([0, 1])
    expected = -(math.log(math.exp(2) / (math.exp(2) + 2)) + math.log(1 / (2 + math.exp(3)))) / 2
    assert losses.contrastive_loss(logits, shared).item() == pytest.approx(expected, rel=1e-6)
    assert losses.contrastive_accuracy(logits, shared).item() == 0.5


def _tiny(cr_weight, cr_start_step=0):
    return tiny_step(
        categorical=[3], continuous=2, batch_size=8, lr_d=2e-4, cr_weight=cr_weight, cr_start_step=cr_start_step
    )


def test_step_trains_h_always_and_g_on_the_term_from_the_start_step():
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    cfg, nets, opts = _tiny(cr_weight=2.0, cr_start_step=1)
    rt = make_runtime(cfg)
    h_before = [p.detach().clone() for p in nets.cr.parameters()]
    g_before = [p.detach().clone() for p in nets.gen.parameters()]
    # what H sees at this step, before its update: the step's own draws (same generator seed), G unchanged
    draws = draw_step(cfg.latent, 8, torch.Generator().manual_seed(1), "cpu", contrastive=True)
    with torch.no_grad():  # on copies: a forward in training mode moves BN statistics and D_CR's power iteration
        gen, pair = copy.deepcopy(nets.gen), copy.deepcopy(nets.cr)
        logits = pair(*(gen(cfg.latent.vector(lat)) for lat in (draws.latent, draws.partner)))
    stats = train_step(cfg, nets, opts, real, torch.Generator().manual_seed(1), rt, step=0)
    assert list(stats) == list(statistic_names(cfg))  # every statistic the run logs, in its order
    # cr_loss and cr_acc are D_CR's cross-entropy and accuracy on this step's pairs, before its update
    assert stats["cr_loss"].item() == pytest.approx(losses.contrastive_loss(logits, draws.shared).item(), rel=1e-5)
    assert stats["cr_acc"].item() == losses.contrastive_accuracy(logits, draws.shared).item()
    assert any(not torch.equal(a, b) for a, b in zip(h_before, nets.cr.parameters()))  # D_CR trained at step 0

    # G's update differs with the term (step >= start) and without it (weight 0), from the same state
    def g_after(weight, step):
        cfg2, nets2, opts2 = _tiny(cr_weight=weight, cr_start_step=1)
        train_step(cfg2, nets2, opts2, real, torch.Generator().manual_seed(1), rt, step=step)
        return torch.cat([p.detach().flatten() for p in nets2.gen.parameters()])

    before_start, tiny_weight, with_term = g_after(2.0, 0), g_after(1e-12, 1), g_after(2.0, 1)
    assert torch.allclose(before_start, tiny_weight, atol=1e-6)  # before the start step: no CR gradient in G
    assert not torch.allclose(before_start, with_term, atol=1e-4)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, nets.gen.parameters()))
    assert all(p.requires_grad for p in nets.cr.parameters())  # D_CR's gradients switched back on


def test_cr_weight_needs_two_codes():
    from infogan.errors import UsageError

    with pytest.raises(UsageError, match="at least two codes"):
        TrainConfig(categorical=[], continuous=1, cr_weight=1.0).validate()
    with pytest.raises(UsageError, match="cr_weight|cr-weight"):
        TrainConfig(cr_weight=-1.0).validate()


@pytest.fixture(scope="module")
def cr_run(tmp_path_factory):
    return two_factor_run(tmp_path_factory.mktemp("cr"), CR_RUN)


def test_run_with_cr_weight_writes_every_artefact(cr_run):
    root, run = cr_run
    from PIL import Image
    from safetensors.torch import load_file

    grid = (10 * (16 + 2) + 2, 3 * (8 + 2) + 2)  # 10 columns x 3 rows (code 1's values) of 8x16 images
    for name, size in (
        ("samples/epoch_0001.png", grid),
        ("traversals/continuous_1.png", grid),
        ("traversals/continuous_2.png", grid),
        ("plots/losses.png", (600, 400)),
        ("plots/accuracy.png", (600, 400)),
        ("plots/mutual_information.png", (600, 400)),
    ):
        with Image.open(run / name) as img:
            assert img.size == size, name
    with Image.open(run / "samples" / "progress.gif") as gif:
        assert gif.n_frames == 1 and gif.size == grid
    assert json.loads((run / "config.json").read_text())["cr_weight"] == 2.0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epoch = [r for r in records if r["kind"] == "epoch"][-1]
    # the epoch's mean over 4 steps of the fraction right among 16 pairs: a whole number of 64ths; and D_CR,
    # barely trained, near chance among its 3 codes (cross-entropy ln 3)
    assert epoch["step"] == 4 and epoch["cr_acc"] * 64 == pytest.approx(round(epoch["cr_acc"] * 64), abs=1e-4)
    assert abs(epoch["cr_loss"] - math.log(3)) < 0.3
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert {"cr_loss", "cr_acc"} <= set(ckpt["stat_names"])
    assert set(ckpt["cr"]) and ckpt["opt_cr"]["state"]
    weights = load_file(str(run / "generator.safetensors"))
    assert all(torch.equal(weights[k], v) for k, v in ckpt["generator"].items())
    assert main(["evaluate", str(run), "--dataset", f"npz:{root / 'pairs.npz'}"]) == 0


def test_resume_with_cr_is_exact(tmp_path):
    x, y, y2 = two_factor_images(64)
    np.savez(tmp_path / "p.npz", x=x, y=y, y2=y2)
    common = [
        "--dataset",
        f"npz:{tmp_path / 'p.npz'}",
        *CR_RUN[:2],
        "--noise-dim",
        "4",
        "--categorical",
        "3",
        "--continuous",
        "2",
        "--cr-weight",
        "2",
        "--cr-start-step",
        "3",
        "--no-progress",
        "--log-every",
        "2",
    ]
    assert main(["train", *common, "--epochs", "2", "--outdir", str(tmp_path / "straight")]) == 0
    assert main(["train", *common, "--epochs", "1", "--outdir", str(tmp_path / "split")]) == 0
    # written as checkpoints were before the network had one name: they resume the same
    last = tmp_path / "split" / "checkpoints" / "last.pt"
    old = load_checkpoint(last)
    old["contrastive"], old["opt_contrastive"] = old.pop("cr"), old.pop("opt_cr")
    save_checkpoint(last, {k: v for k, v in old.items() if k != "format"})
    assert main(["train", "--resume", str(tmp_path / "split"), "--epochs", "2"]) == 0
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for part in ("generator", "cr"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)
