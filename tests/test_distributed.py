"""DistributedDataParallel on CPU: 2 processes with gloo through torchrun, as a user would launch them."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, blob_images, child_env, on_every_core
from safetensors.torch import load_file

from infogan.checkpoint import load_checkpoint

# real process groups: one pytest-xdist worker runs them one after another (make test-core: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("process-groups")


def torchrun(*args, timeout=300):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "infogan",
        "train",
        *args,
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=child_env(), preexec_fn=on_every_core
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_process_ddp_keeps_replicas_identical_and_resumes_exactly(tmp_path):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    base = ["--dataset", f"npz:{tmp_path / 'd.npz'}", *TINY, "--precision", "fp32"]  # global batch 16 -> 8 per process

    proc = torchrun(*base, "--outdir", str(tmp_path / "straight"))
    run = tmp_path / "straight"
    ddp = json.loads((run / "ddp.json").read_text())
    assert ddp["world_size"] == 2 and ddp["backend"] == "gloo"
    assert len(ddp["parameter_sha256_per_rank"]) == 2 and ddp["identical"] is True
    records = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]  # written once, by rank 0 only
    assert [r["step"] for r in records if r["kind"] == "epoch"] == [4, 8]  # same steps per epoch as 1 process
    assert proc.stdout.count("epoch 2/2") == 1
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert len(ckpt["rng_ranks"]) == 2

    # 1 epoch, then resume under DDP for the second: the same weights as 2 epochs straight
    torchrun(*base, "--epochs", "1", "--outdir", str(tmp_path / "split"))
    torchrun("--resume", str(tmp_path / "split"), "--epochs", "2", "--no-progress")
    a = load_file(str(run / "generator.safetensors"))
    b = load_file(str(tmp_path / "split" / "generator.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "split" / "ddp.json").read_text())["identical"] is True


@pytest.mark.parametrize(
    "extra, reported", [(["--cr-weight", "2"], "cr_loss"), (["--iic-weight", "3"], "q_pair_info")], ids=["cr", "iic"]
)
def test_ddp_with_an_extra_term_keeps_replicas_identical(tmp_path, extra, reported):
    """InfoGAN-CR's D_CR, or IIC's deformed views (each rank deforms its own slice of the batch): the replicas
    stay identical, and rank 0 logs the term."""
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    tiny = list(TINY)
    tiny[tiny.index("--epochs") + 1] = "1"
    torchrun("--dataset", f"npz:{tmp_path / 'd.npz'}", *tiny, *extra, "--outdir", str(tmp_path / "run"))
    assert json.loads((tmp_path / "run" / "ddp.json").read_text())["identical"] is True  # G, D/Q (and H)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert reported in next(r for r in records if r["kind"] == "epoch")


def test_global_batch_must_divide_among_processes(tmp_path):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "infogan",
        "train",
        "--dataset",
        f"npz:{tmp_path / 'd.npz'}",
        *TINY,
        "--batch-size",
        "15",
        "--outdir",
        str(tmp_path / "odd"),
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=child_env(), preexec_fn=on_every_core
    )
    assert proc.returncode != 0 and "must divide evenly among the 2 processes" in proc.stderr
    assert not (tmp_path / "odd").exists()


def test_a_two_process_run_resumes_in_one_process_and_says_what_changes(tmp_path):
    """The checkpoint holds each rank's RNG state; one process cannot take two, so the latents are re-seeded
    (said in one note) and the run finishes on the same global batch, its weights finite."""
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    tiny = list(TINY)
    tiny[tiny.index("--epochs") + 1] = "1"
    run = tmp_path / "run"
    torchrun("--dataset", f"npz:{tmp_path / 'd.npz'}", *tiny, "--outdir", str(run))
    assert len(load_checkpoint(run / "checkpoints" / "last.pt")["rng_ranks"]) == 2
    proc = subprocess.run(
        [sys.executable, "-m", "infogan", "train", "--resume", str(run), "--epochs", "2", "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "written by 2 process(es), this run has 1" in proc.stderr and "not bit-identical" in proc.stderr
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["step"] == 8  # 4 steps an epoch at global batch 16, either way
    assert all(torch.isfinite(t).all() for t in load_file(str(run / "generator.safetensors")).values())
