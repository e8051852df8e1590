"""Real training processes, interrupted: SIGKILL at any moment loses at most --checkpoint-every steps;
SIGINT/SIGTERM checkpoint and exit 130/143; --resume then finishes the run with consistent files."""

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ROOT, assert_picture, blob_images

from infogan.checkpoint import load_checkpoint
from infogan.cli import main

EPOCHS, STEPS_PER_EPOCH = 4, 64


def start(tmp_path, epochs=EPOCHS):
    x, y = blob_images(STEPS_PER_EPOCH * 16, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "infogan",
        "train",
        "--dataset",
        f"npz:{tmp_path / 'd.npz'}",
        "--outdir",
        str(run),
        "--batch-size",
        "16",
        "--epochs",
        str(epochs),
        "--noise-dim",
        "4",
        "--categories",
        "4",
        "--no-progress",
        "--checkpoint-every",
        "5",
        "--log-every",
        "1",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, run


def wait_until(condition, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the training process")
        time.sleep(0.05)


def interval_steps(run):
    path = run / "metrics.jsonl"
    text = path.read_text() if path.exists() else ""
    # polled while the run appends: a last line without its newline is still being written, not yet a record
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    return [json.loads(l)["step"] for l in lines if '"interval"' in l]


def test_sigkill_then_resume_completes_with_consistent_files(tmp_path):
    proc, run = start(tmp_path)
    # kill mid-epoch 2, after at least one step checkpoint of that epoch
    wait_until(
        lambda: (run / "checkpoints" / "last.pt").exists() and len(interval_steps(run)) >= STEPS_PER_EPOCH + 12, proc
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")  # always a complete checkpoint
    assert ckpt["step"] >= STEPS_PER_EPOCH and (ckpt["step"] % 5 == 0 or ckpt["batch"] == 0)

    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    records = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == list(range(1, EPOCHS + 1))
    assert interval_steps(run) == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))  # none missing, none twice
    assert (run / "generator.safetensors").exists()
    assert_picture(run / "samples" / "progress.gif", frames=EPOCHS)  # one frame per epoch
    assert sorted(p.name for p in (run / "samples").glob("epoch_*.png")) == [f"epoch_{e:04d}.png" for e in range(1, 5)]
    final = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (final["epoch"], final["step"]) == (EPOCHS, EPOCHS * STEPS_PER_EPOCH)


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_checkpoint_and_exit(tmp_path, sig, status):
    proc, run = start(tmp_path, epochs=200)
    wait_until(lambda: len(interval_steps(run)) >= STEPS_PER_EPOCH + 3, proc)  # into epoch 2
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"resume with: infogan train --resume {run}" in err and "Traceback" not in err
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] >= 1 and ckpt["step"] == interval_steps(run)[-1]  # checkpoint = the last step logged
    for name in ("losses.png", "accuracy.png", "mutual_information.png"):
        assert_picture(run / "plots" / name)
    assert_picture(run / "samples" / "progress.gif")


def _stderr_lines(proc) -> list[str]:
    """Reads the process's stderr on a thread, line by line, into the returned list (as they arrive)."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    return lines


def test_a_repeated_sigterm_is_the_same_graceful_stop(tmp_path):
    """Launchers repeat SIGTERM (SLURM signals every process, torchrun forwards its own): the second one must
    not abort the checkpoint the first one asked for."""
    proc, run = start(tmp_path, epochs=200)
    err = _stderr_lines(proc)
    wait_until(lambda: len(interval_steps(run)) >= 3, proc)
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: any("SIGTERM received" in line for line in err), proc)
    assert proc.poll() is None, "the run ended before the second SIGTERM: the test would signal no one"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    time.sleep(0.2)  # the reader thread takes the last lines
    text = "".join(err)
    assert proc.returncode == 143, text
    assert f"resume with: infogan train --resume {run}" in text and "aborted" not in text
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == interval_steps(run)[-1]


def test_a_second_ctrl_c_aborts_at_once_and_the_checkpoint_on_disk_stays_whole(tmp_path):
    proc, run = start(tmp_path, epochs=200)
    err = _stderr_lines(proc)
    wait_until(lambda: len(interval_steps(run)) >= 8, proc)  # past the first --checkpoint-every 5
    proc.send_signal(signal.SIGINT)
    wait_until(lambda: any("SIGINT received" in line for line in err), proc)
    assert proc.poll() is None, "the run ended before the second SIGINT: the test would signal no one"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    time.sleep(0.2)
    text = "".join(err)
    assert proc.returncode == 130, text
    assert "aborted; the last checkpoint written is complete" in text and "Traceback" not in text
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")  # whole: it loads, and it is a step the run logged
    assert ckpt["step"] in interval_steps(run)
    assert main(["train", "--resume", str(run), "--epochs", str(ckpt["epoch"] + 1), "--no-progress"]) == 0
