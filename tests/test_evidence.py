"""The one GPU command's CPU dry run: benchmarks/evidence.py --device cpu --quick runs every section's whole
chain (data, sweeps, evaluation, result files) at the smallest sizes, on stand-in digits."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, blob_images, child_env


def test_evidence_dry_run_writes_every_section(tmp_path):
    x, y = blob_images(300, 28)  # stand-in digits: 28x28, labels 0-3
    np.savez(tmp_path / "digits.npz", x=x, y=y)
    x, y = blob_images(300, 32, channels=3)  # stand-in CIFAR-10: 32x32 RGB
    np.savez(tmp_path / "cifar.npz", x=x, y=y)
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/evidence.py",
            "--device",
            "cpu",
            "--quick",
            "--results",
            str(results),
            "--workdir",
            str(tmp_path / "work"),
            "--mnist",
            str(tmp_path / "digits.npz"),
            "--cifar10",
            str(tmp_path / "cifar.npz"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=child_env(),
    )
    report = json.loads((results / "evidence.json").read_text())
    logs = {
        name: (results / f"{name}.log").read_text()[-2000:]
        for name in ("disentanglement", "multicode", "quality", "cifar10")
        if (results / f"{name}.log").exists()
    }
    assert proc.returncode == 0, (proc.stderr[-2000:], logs)
    sections = report["sections"]
    assert {k: v["status"] for k, v in sections.items()} == {
        "disentanglement": 0,
        "multicode": 0,
        "quality": 0,
        "cifar10": 0,
        "cuda_graphs": "skipped",
    }
    shapes = json.loads((results / "disentanglement.json").read_text())
    assert set(shapes["arms"]) == {"infogan", "infogan-cr"}
    assert all(len(arm["runs"]) == 3 for arm in shapes["arms"].values())
    assert set(json.loads((results / "multicode.json").read_text())["runs"]) == {"0"}
    quality = json.loads((results / "quality.json").read_text())
    assert quality["summary"]["seeds_done"] == 2 and quality["failed"] == {}
    cifar10 = json.loads((results / "cifar10.json").read_text())
    judged = cifar10["archs"]["seed-cifar10"]  # 64 generated images, judged by a classifier of the 4 labels
    assert sum(judged["label_histogram"]) == 64 and len(judged["label_histogram"]) == 4
    assert judged["checkerboard_ratio_to_real"] == pytest.approx(
        judged["checkerboard_power"] / cifar10["real_checkerboard_power"]
    )
    assert (results / "docs" / "cifar10" / "seed-cifar10_epoch_1.png").is_file()


def test_a_section_past_the_budget_is_stopped_and_recorded(tmp_path):
    x, y = blob_images(300, 28)
    np.savez(tmp_path / "digits.npz", x=x, y=y)
    x, y = blob_images(300, 32, channels=3)
    np.savez(tmp_path / "cifar.npz", x=x, y=y)
    results = tmp_path / "results"
    chain = [
        "benchmarks/evidence.py",
        "--device",
        "cpu",
        "--quick",
        "--sections",
        "multicode,cifar10",
        "--budget",
        "1",
        "--workdir",
        str(tmp_path / "work"),
        "--mnist",
        str(tmp_path / "digits.npz"),
        "--cifar10",
        str(tmp_path / "cifar.npz"),
    ]
    proc = subprocess.run(
        [sys.executable, *chain, "--parallel", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads((results / "evidence.json").read_text())
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert report["parallel"] is True and report["budget"] == 1
    assert {k: v["status"] for k, v in report["sections"].items()} == {"multicode": "timed out", "cifar10": "timed out"}
    assert not (results / "multicode.json").exists()  # stopped before its result: no half-written file
    # one after another: the first stopped at the budget, the next not started at all
    proc = subprocess.run(
        [sys.executable, *chain, "--no-parallel", "--results", str(tmp_path / "seq")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads((tmp_path / "seq" / "evidence.json").read_text())
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert {k: v["status"] for k, v in report["sections"].items()} == {
        "multicode": "timed out",
        "cifar10": "not started",
    }


def test_an_unknown_section_is_refused(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/evidence.py",
            "--device",
            "cpu",
            "--sections",
            "shapes",
            "--results",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("unknown section(s) shapes: choose from")
    assert not (tmp_path / "evidence.json").exists()
