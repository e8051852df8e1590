"""Threads per process, progress output fit for logs, --eval-every, and the per-epoch work record."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, assert_picture, blob_images

from infogan.cli import main
from infogan.config import TrainConfig
from infogan.train.runtime import available_cores, set_threads


def test_threads_default_to_the_cores_given_and_follow_the_flag():
    before = torch.get_num_threads()
    try:
        assert set_threads(TrainConfig()) == available_cores() == torch.get_num_threads()
        assert set_threads(TrainConfig(threads=1)) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_a_log_gets_one_line_per_epoch_and_no_progress_frames(tmp_path):
    """stderr is a pipe here, as under CI or nohup: no carriage-return frames even without --no-progress."""
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    tiny = [a for a in TINY if a != "--no-progress"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "infogan",
            "train",
            "--dataset",
            f"npz:{tmp_path / 'd.npz'}",
            "--outdir",
            str(tmp_path / "run"),
            *tiny,
            "--epochs",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "\r" not in proc.stdout
    epoch_lines = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]


def test_eval_every_scores_labels_every_n_epochs_and_always_at_the_last(tmp_path):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'd.npz'}",
                "--outdir",
                str(run),
                *TINY,
                "--epochs",
                "5",
                "--eval-every",
                "2",
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = [r["epoch"] for r in records if r["kind"] == "epoch" and "categorical_accuracy" in r]
    assert scored == [2, 4, 5]
    work = [r for r in records if r["kind"] == "work"]
    assert [r["epoch"] for r in work] == [1, 2, 3, 4, 5]
    # every epoch times its checkpoint and grid; the times are finite numbers of seconds (rounded to 1 ms)
    assert all(isinstance(r["checkpoint_seconds"], float) and 0 <= r["checkpoint_seconds"] < 60 for r in work)
    assert all({"checkpoint_seconds", "sample_grid_seconds", "label_metrics_seconds"} <= set(r) for r in work)
    assert ["plots_seconds" in r for r in work] == [False, True, False, True, True]
    # the epoch's wall time holds its batches and every timed piece of its work (each rounded to 1 ms)
    parts = ("steps", "label_metrics", "checkpoint", "sample_grid", "plots")
    assert all(r["wall_seconds"] >= sum(r.get(f"{p}_seconds", 0) for p in parts) - 0.003 for r in work)
    assert_picture(run / "plots" / "losses.png")


def test_sweep_jobs_on_the_cpu_splits_the_cores(tmp_path, monkeypatch, capsys):
    """Four cores (patched: a test worker is pinned to one), two runs at a time: two threads each, in each
    seed's config."""
    from infogan import sweep

    monkeypatch.setattr(sweep, "available_cores", lambda: 4)
    x, y = blob_images(32, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    argv = ["sweep", "--seeds", "0,1", "--jobs", "2", "--device", "cpu", "--dataset", f"npz:{tmp_path / 'd.npz'}"]
    assert main([*argv, "--outdir", str(tmp_path / "sw"), *TINY, "--epochs", "1", "--precision", "fp32"]) == 0
    assert "2 runs at a time, 2 thread(s) each (4 cores)" in capsys.readouterr().out
    for seed in (0, 1):  # the threads a run used are its config's
        assert json.loads((tmp_path / "sw" / f"seed_{seed}" / "config.json").read_text())["threads"] == 2


def test_sweep_resolves_precision_auto_once_for_every_seed(tmp_path, monkeypatch, capsys):
    """Seeds trained at once used to time the bf16 matmul each on busy cores and could train in different
    precisions; the sweep decides once and hands its decision to every seed's process."""
    from infogan.train import runtime

    calls = []
    # the patch lives in this process only: one call shows the sweep decided here, and bf16 in every seed's
    # config shows the decision reached them (on a CPU where bf16 does not pay they would have chosen fp32)
    monkeypatch.setattr(runtime, "precision_decision", lambda device: calls.append(device) or ("bf16", "patched"))
    x, y = blob_images(32, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert (
        main(
            [
                "sweep",
                "--seeds",
                "0,1",
                "--jobs",
                "2",
                "--device",
                "cpu",
                "--dataset",
                f"npz:{tmp_path / 'd.npz'}",
                "--outdir",
                str(tmp_path / "sw"),
                *TINY,
                "--epochs",
                "1",
                "--precision",
                "auto",
            ]
        )
        == 0
    )
    assert len(calls) == 1
    assert "--precision auto: bf16 for every seed" in capsys.readouterr().out
    for seed in (0, 1):
        assert json.loads((tmp_path / "sw" / f"seed_{seed}" / "config.json").read_text())["precision"] == "bf16"


def test_sweep_default_jobs_on_a_cpu_is_one_process_per_core(monkeypatch):
    """benchmarks/sweep_jobs.py: on a 2-core CPU two 1-thread processes beat one 2-thread run after another."""
    from infogan import sweep
    from infogan.sweep import default_jobs

    cpu = TrainConfig(device="cpu")
    monkeypatch.setattr(sweep, "available_cores", lambda: 4)  # a test worker is pinned to one core: say four
    assert default_jobs(cpu, 5) == 4 and default_jobs(cpu, 3) == 3
    assert default_jobs(cpu, 1) == 1  # one seed: in this process
    assert default_jobs(TrainConfig(device="cpu", threads=2), 5) == 1  # the user chose the threads


@pytest.mark.parametrize("cores, ranks, expected", [(2, "2", 1), (8, "2", 4), (8, "", 8), (3, "4", 1)])
def test_torchruns_ranks_on_one_machine_share_its_cores(monkeypatch, cores, ranks, expected):
    """LOCAL_WORLD_SIZE ranks on a machine of `cores` cores: each runs cores // ranks threads, never 0; a
    run outside torchrun takes every core; --threads wins."""
    from infogan.train import runtime

    monkeypatch.setattr(runtime, "available_cores", lambda: cores)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", ranks)
    before = torch.get_num_threads()
    try:
        assert set_threads(TrainConfig()) == expected == torch.get_num_threads()
        assert set_threads(TrainConfig(threads=2)) == 2
    finally:
        torch.set_num_threads(before)  # the worker's own, for the tests after this one
