"""End-to-end runs on a tiny synthetic data set: the run directory, resume, reproducibility."""

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image
from safetensors.torch import load_file

from infogan import TrainConfig, load_generator, train
from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.cli import main
from infogan.serve.inference import config_from_safetensors
from infogan.train.stats import LEGACY_STAT_NAMES as SINGLE_CODE_KEYS

TIMING = re.compile(r"seconds$|images_per_sec$")  # wall-clock fields: the only ones two equal runs may differ in


def run_cli(*args):
    return main(["train", *args])


def test_run_directory_has_every_file(tmp_path, tiny_npz):
    out = tmp_path / "run"
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(out), "--keep-every", "1", *TINY) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["image_shape"] == [1, 8, 8] and cfg["arch"] == "paper-mnist" and cfg["noise_dim"] == 4
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2] and [r["step"] for r in epochs] == [4, 8]
    assert [r["step"] for r in records if r["kind"] == "interval"] == [2, 4, 6, 8]
    for r in epochs:
        assert set(SINGLE_CODE_KEYS) <= set(r) and all(math.isfinite(r[k]) for k in SINGLE_CODE_KEYS)
        # D's accuracies are means over the epoch's 4 steps of a fraction of 16 images: whole 64ths
        for key in ("d_acc_real", "d_acc_fake"):
            assert r[key] * 64 == pytest.approx(round(r[key] * 64), abs=1e-4) and 0 <= r[key] <= 1
        assert r["mi_bound"] == pytest.approx(math.log(4) - r["cat_loss"], abs=1e-5)  # ln K - CE, by definition
    # 10 columns, one row per category (4), 8x8 cells with 2-pixel padding
    for epoch in (1, 2):
        with Image.open(out / "samples" / f"epoch_{epoch:04d}.png") as img:
            assert img.size == (10 * 10 + 2, 4 * 10 + 2)
    with Image.open(out / "samples" / "progress.gif") as gif:
        assert gif.n_frames == 2
    for code in (1, 2):
        with Image.open(out / "traversals" / f"continuous_{code}.png") as img:
            assert img.size == (10 * 10 + 2, 4 * 10 + 2)
    for name in ("losses.png", "accuracy.png", "mutual_information.png"):
        with Image.open(out / "plots" / name) as img:
            assert img.size[0] > 100
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["step"] == 8 and ckpt["config"]["image_shape"] == [1, 8, 8]
    kept = [load_checkpoint(out / "checkpoints" / f"epoch_{e:04d}.pt") for e in (1, 2)]
    assert [(k["epoch"], k["step"]) for k in kept] == [(1, 4), (2, 8)]  # each a whole checkpoint of its epoch
    assert all(torch.equal(kept[1]["generator"][k], v) for k, v in ckpt["generator"].items())  # epoch 2 = last
    assert not all(torch.equal(kept[0]["generator"][k], v) for k, v in ckpt["generator"].items())
    weights = load_file(str(out / "generator.safetensors"))
    assert all(torch.equal(weights[k], v) for k, v in ckpt["generator"].items())
    assert config_from_safetensors(out / "generator.safetensors").image_shape == [1, 8, 8]
    assert not (out / "tensorboard").exists()


def test_python_api_and_load_generator(tmp_path, tiny_npz):
    cfg = TrainConfig(
        dataset=f"npz:{tiny_npz}",
        outdir=str(tmp_path / "api"),
        epochs=1,
        batch_size=16,
        noise_dim=4,
        categorical=[3],
        continuous=1,
        progress=False,
    )
    run_dir = train(cfg)
    gen = load_generator(run_dir)
    assert not gen.training and gen.cfg.categorical == [3]
    with torch.no_grad():
        images = gen(torch.zeros(2, gen.spec.input_dim))
    assert images.shape == (2, 1, 8, 8)


def test_same_seed_same_run_and_other_seed_differs(tmp_path, tiny_npz):
    metrics = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(tmp_path / name), "--seed", seed, *TINY) == 0
        metrics.append((tmp_path / name / "metrics.jsonl").read_text())
    strip = lambda text: [{k: v for k, v in json.loads(l).items() if not TIMING.search(k)} for l in text.splitlines()]  # noqa: E731
    assert strip(metrics[0]) == strip(metrics[1])
    assert strip(metrics[0]) != strip(metrics[2])


def test_a_damaged_health_state_does_not_stop_a_resume(tmp_path, tiny_npz):
    """The monitor's state is the one part of a checkpoint a run can do without: damaged, it is started afresh."""
    base = ["--dataset", f"npz:{tiny_npz}", *TINY]
    assert run_cli(*base, "--outdir", str(tmp_path / "run"), "--epochs", "1") == 0
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    payload = load_checkpoint(path)
    assert payload["health"]["last_step"] > 0  # the monitor measured and kept its last measure
    payload["health"] = {**payload["health"], "last_images": [0.5]}
    save_checkpoint(path, {k: v for k, v in payload.items() if k != "format"})
    assert run_cli("--resume", str(tmp_path / "run"), "--epochs", "2", "--no-progress") == 0
    assert load_checkpoint(path)["epoch"] == 2


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [
            "--iic-weight",
            "3",
            "--categorical",
            "4,2",
            "--iic-elastic",
            "0.03",
            "--iic-stroke",
            "0.5",
            "--iic-shear",
            "0.5",
        ],
    ],
    ids=["paper", "iic-two-codes"],
)
def test_resume_equals_straight_run(tmp_path, tiny_npz, extra):
    """2 epochs straight == 1 epoch, then --resume to 2 epochs: same weights, same metrics; also with the
    real batch's random deformations (--iic-weight), whose draws the checkpoint's RNG state carries."""
    base = ["--dataset", f"npz:{tiny_npz}", *TINY, *extra]
    assert run_cli(*base, "--outdir", str(tmp_path / "straight")) == 0
    assert run_cli(*base, "--outdir", str(tmp_path / "split"), "--epochs", "1") == 0
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["epoch"] == 1
    assert run_cli("--resume", str(tmp_path / "split"), "--epochs", "2", "--no-progress") == 0
    a = load_file(str(tmp_path / "straight" / "generator.safetensors"))
    b = load_file(str(tmp_path / "split" / "generator.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    da = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["discriminator"]
    db = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["discriminator"]
    assert all(torch.equal(da[k], db[k]) for k in da)
    strip = lambda p: [
        {k: v for k, v in json.loads(l).items() if not TIMING.search(k)} for l in p.read_text().splitlines()
    ]  # noqa: E731
    assert strip(tmp_path / "straight" / "metrics.jsonl") == strip(tmp_path / "split" / "metrics.jsonl")
    with Image.open(tmp_path / "split" / "samples" / "progress.gif") as gif:
        assert gif.n_frames == 2


def test_existing_run_dir_is_refused_then_overwritten(tmp_path, tiny_npz, capsys):
    out = tmp_path / "run"
    base = ["--dataset", f"npz:{tiny_npz}", "--outdir", str(out), *TINY, "--epochs", "1"]
    assert run_cli(*base) == 0
    before = (out / "metrics.jsonl").read_bytes()
    assert run_cli(*base) == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "metrics.jsonl").read_bytes() == before
    assert run_cli(*base, "--overwrite") == 0


def test_resume_refuses_changed_architecture_and_other_data(tmp_path, tiny_npz, capsys):
    out = tmp_path / "run"
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(out), *TINY, "--epochs", "1") == 0
    assert run_cli("--resume", str(out), "--arch", "seed-mnist") == 2
    assert "cannot change" in capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    x = np.zeros((64, 16, 16), dtype=np.uint8)
    np.savez(tiny_npz, x=x)  # same path, different image size
    assert run_cli("--resume", str(out)) == 2
    assert "same data set" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text()) == cfg


def test_seed_cifar10_preset_on_colour_data(tmp_path):
    from conftest import blob_images

    x, y = blob_images(32, 16, channels=3)
    np.savez(tmp_path / "rgb.npz", x=x, y=y)
    out = tmp_path / "rgb"
    assert run_cli("--dataset", f"npz:{tmp_path / 'rgb.npz'}", "--outdir", str(out), *TINY, "--epochs", "1") == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["arch"] == "seed-cifar10" and cfg["continuous_weight"] == 1.0 and cfg["image_shape"] == [3, 16, 16]
    with Image.open(out / "samples" / "epoch_0001.png") as img:
        assert img.mode == "RGB"


def test_batch_size_defaults_per_data_set_and_is_refused_when_larger_than_the_data(tmp_path, tiny_npz, capsys):
    from infogan.config import resolve

    # grey data: 64 (the seed's 256 collapses some MNIST seeds: docs/results.md#quality); colour: the seed's 256
    assert resolve(TrainConfig(), (1, 28, 28)).batch_size == 64
    assert resolve(TrainConfig(), (3, 32, 32)).batch_size == 256
    assert resolve(TrainConfig(batch_size=8), (1, 28, 28)).batch_size == 8
    # tiny_npz holds 64 images: the default batch fits exactly, one more image per batch does not
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(tmp_path / "b65"), "--batch-size", "65") == 2
    assert "--batch-size 65 is larger than the data set (64 images)" in capsys.readouterr().err
    out = tmp_path / "default_batch"
    assert (
        run_cli(
            "--dataset",
            f"npz:{tiny_npz}",
            "--outdir",
            str(out),
            "--arch",
            "seed-mnist",
            "--epochs",
            "1",
            "--no-progress",
            "--noise-dim",
            "4",
            "--precision",
            "fp32",
        )
        == 0
    )
    assert json.loads((out / "config.json").read_text())["batch_size"] == 64


def test_bf16_autocast_trains(tmp_path, tiny_npz):
    out = tmp_path / "bf16"
    assert (
        run_cli(
            "--dataset",
            f"npz:{tiny_npz}",
            "--outdir",
            str(out),
            *TINY,
            "--precision",
            "bf16",
            "--learn-std",
            "--noise-prior",
            "normal",
        )
        == 0
    )
    weights = load_file(str(out / "generator.safetensors"))
    assert all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())


@pytest.mark.parametrize("decided", ["bf16", "fp32"])
def test_precision_auto_records_what_ran(tmp_path, tiny_npz, monkeypatch, decided):
    """config.json holds the precision the decision gave (patched to each answer), not "auto"; the weights
    G trained stay fp32 either way (autocast leaves the parameters alone)."""
    from infogan.train import runtime

    monkeypatch.setattr(runtime, "precision_decision", lambda device: (decided, "patched"))
    out = tmp_path / "auto"
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(out), *TINY, "--epochs", "1") == 0
    assert json.loads((out / "config.json").read_text())["precision"] == decided


@pytest.mark.parametrize(
    "native, flags, gain, expected",
    [
        (False, set(), 4.0, "fp32"),  # emulated bf16
        (True, {"avx512_bf16"}, 0.7, "fp32"),  # AVX512-BF16 without AMX, slower there
        (True, {"avx512_bf16"}, 1.4, "fp32"),
        (True, {"avx512_bf16"}, 1.5, "bf16"),
        (True, {"avx512_bf16"}, 4.2, "bf16"),
        (True, {"avx512_bf16", "amx_bf16", "amx_tile"}, 0.1, "bf16"),  # AMX: no timing consulted
    ],
)
def test_precision_auto_reads_the_machine(monkeypatch, native, flags, gain, expected):
    from infogan.train import runtime

    monkeypatch.setattr(runtime, "native_bf16", lambda device: native)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: flags)
    monkeypatch.setattr(runtime, "cpu_bf16_matmul_gain", lambda: gain)
    assert runtime.resolve_precision(TrainConfig(device="cpu")) == expected
    assert runtime.resolve_precision(TrainConfig(device="cpu", precision="bf16")) == "bf16"  # asked for: kept
    assert runtime.make_runtime(TrainConfig(device="cpu")).autocast_dtype == (
        torch.bfloat16 if expected == "bf16" else None
    )


def test_precision_auto_does_not_flip_when_the_timing_is_noisy(monkeypatch):
    """A CPU whose bf16 gain sits near the threshold and whose timings swing (here 0.8x to 3.0x): the first
    decision is stored, and every later one, in this process or another, reads it without timing again."""
    from infogan.train import runtime

    noisy = iter([2.9, 0.8, 3.0, 1.1, 2.2, 0.9] * 10)
    timed = []
    monkeypatch.setattr(runtime, "native_bf16", lambda device: True)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(runtime, "cpu_bf16_matmul_gain", lambda: timed.append(1) or next(noisy))
    decisions = {runtime.resolve_precision(TrainConfig(device="cpu")) for _ in range(20)}
    assert decisions == {"bf16"} and len(timed) == 1
    stored = json.loads((Path(os.environ["XDG_CACHE_HOME"]) / "infogan" / runtime.PRECISION_CACHE).read_text())
    assert list(stored.values()) == [2.9]
    # another CPU (another identity) measures for itself: 0.8x, fp32
    monkeypatch.setattr(runtime, "cpu_identity", lambda: "another CPU")
    assert runtime.resolve_precision(TrainConfig(device="cpu")) == "fp32" and len(timed) == 2


def test_a_run_says_which_precision_auto_chose_and_why(tmp_path, tiny_npz, capsys):
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(tmp_path / "run"), *TINY, "--epochs", "1") == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("precision:"))
    assert ("fp32" in line or "bf16" in line) and "overrides" in line


def test_q_head_learning_rate_defaults_to_g_and_can_be_set(tmp_path, tiny_npz):
    from infogan.config import resolve
    from infogan.model.networks import build_networks
    from infogan.train.state import Nets, make_optimizers

    for lr_q, expected in ((None, 1e-3), (2e-4, 2e-4)):
        cfg = resolve(TrainConfig(arch="paper-mnist", lr_q=lr_q), (1, 28, 28))
        gen, disc = build_networks(cfg.model)
        trunk, q_head = make_optimizers(cfg, Nets(gen, disc)).d.param_groups
        assert trunk["lr"] == cfg.lr_d and q_head["lr"] == expected
        assert {id(p) for p in q_head["params"]} == {id(p) for p in disc.q_parameters()}
    out = tmp_path / "lrq"
    assert run_cli("--dataset", f"npz:{tiny_npz}", "--outdir", str(out), *TINY, "--lr-q", "5e-4") == 0
    assert json.loads((out / "config.json").read_text())["lr_q"] == 5e-4
    assert load_checkpoint(out / "checkpoints" / "last.pt")["opt_d"]["param_groups"][1]["lr"] == 5e-4


def test_batches_are_copied_from_host_only_when_the_data_is_on_the_host():
    from infogan.data.images import needs_host_copy as _needs_host_copy

    cuda, cuda0, cpu = torch.device("cuda"), torch.device("cuda", 0), torch.device("cpu")
    # The data set moved to the GPU reports cuda:0 while the run's device is plain cuda: no copy (this
    # comparison once tried to pin GPU batches and stopped every CUDA run at its first step).
    assert not _needs_host_copy(cuda0, cuda)
    assert not _needs_host_copy(cpu, cpu)
    assert _needs_host_copy(cpu, cuda) and _needs_host_copy(cpu, cuda0)


def test_adam_is_fused_on_a_cpu_and_a_checkpoint_of_foreach_adam_still_loads():
    from infogan.config import resolve
    from infogan.model.networks import build_networks
    from infogan.train.state import Nets, make_optimizers

    cfg = resolve(TrainConfig(arch="paper-mnist", noise_dim=4, categorical=[3], continuous=1), (1, 28, 28))
    nets = Nets(*build_networks(cfg.model))
    opts = make_optimizers(cfg, nets)
    assert all(group["fused"] and not group["foreach"] for opt in (opts.g, opts.d) for group in opt.param_groups)
    # a run saved before (foreach Adam) resumes with its saved kernels, and makes the update that run would
    import copy

    old = torch.optim.Adam(nets.gen.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=True)
    nets.gen(torch.rand(2, cfg.latent.input_dim)).sum().backward()
    old.step()
    opts.g.load_state_dict(copy.deepcopy(old.state_dict()))  # a copy: loading may share the saved tensors
    assert all(group["foreach"] and not group["fused"] for group in opts.g.param_groups)
    twin = copy.deepcopy(nets.gen)
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=True)
    twin_opt.load_state_dict(copy.deepcopy(old.state_dict()))
    for p, q in zip(nets.gen.parameters(), twin.parameters()):
        q.grad = p.grad.clone()
    opts.g.step()
    twin_opt.step()
    assert all(torch.equal(p, q) for p, q in zip(nets.gen.parameters(), twin.parameters()))
