"""What a newcomer meets in the first hour, offline: advice that the command giving it accepts, an honest
held-out score, paths that work from any directory, readable output, and help that says what is true."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, TINY, blob_images, needs, tree_digest
from PIL import Image

from infogan.cli import main
from infogan.data import datasets as data
from infogan.data import formats


def test_main_py_accepts_the_offline_advice_it_prints(tmp_path, monkeypatch, capsys):
    import main as seed_main

    monkeypatch.setattr(formats, "MNIST_MIRRORS", ["http://127.0.0.1:9/"])  # no network, fast
    monkeypatch.setenv("INFOGAN_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("INFOGAN_DOWNLOAD_MIRROR", raising=False)
    assert main(seed_main.translate(["--dataset", "MNIST", "--epochs", "1", "--outdir", str(tmp_path / "a")])) == 2
    err = capsys.readouterr().err
    assert "--dataset mnist-sample" in err
    # the advice, followed with main.py itself
    argv = seed_main.translate(
        ["--dataset", "mnist-sample", "--epochs", "1", "--batch_size", "1000", "--outdir", str(tmp_path / "b")]
    )
    assert argv[:3] == ["train", "--dataset", "mnist-sample"]
    assert main(argv + ["--no-progress"]) == 0 and (tmp_path / "b" / "generator.safetensors").exists()


def test_unknown_options_point_at_the_commands_own_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "somewhere", "--bogus"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --bogus (see infogan evaluate --help)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["classifier", "train", "--dataset", "x", "--nope"])
    assert "(see infogan classifier train --help)" in capsys.readouterr().err


@pytest.fixture(scope="session")  # with its users in one xdist group: trained once, not once per worker
def sample_run(tmp_path_factory):
    """A run on the bundled digits (one short epoch, the paper's objective: its users test evaluate and resume,
    not the recipe, which costs 1.7x), made from a working directory of its own. Its users work on copies
    (`copy_of`); the session checks at its end that none changed it."""
    root = tmp_path_factory.mktemp("first")
    run = root / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist-sample",
                "--outdir",
                str(run),
                "--epochs",
                "1",
                "--batch-size",
                "500",
                "--preset",
                "mnist",
                "--no-progress",
            ]
        )
        == 0
    )
    before = tree_digest(run)
    yield root, run
    assert tree_digest(run) == before, "a test changed the shared sample run: work on copy_of(run)"


def copy_of(run, tmp_path):
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.xdist_group("sample-run")
def test_evaluate_of_a_bundled_run_scores_its_held_out_digits(sample_run, tmp_path, capsys):
    run = copy_of(sample_run[1], tmp_path)
    assert main(["evaluate", str(run)]) == 0
    report = json.loads(capsys.readouterr().out)
    held_out = data.load_dataset("mnist-sample", split="test")
    train = data.load_dataset("mnist-sample", split="train")
    assert report["split"] == "test" and report["n_samples"] == len(held_out) == 1000
    seen = {x.numpy().tobytes() for x in train.images}
    assert not any(x.numpy().tobytes() in seen for x in held_out.images)  # none of them trained on
    assert np.bincount(held_out.labels.numpy()).tolist() == [100] * 10


def test_split_says_what_was_scored(tmp_path, capsys):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savez(tmp_path / "other.npz", x=x[:32], y=y[:32])
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "train" and "the run's own training images" in captured.err
    assert main(["evaluate", str(run), "--dataset", f"npz:{tmp_path / 'other.npz'}"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "all" and report["n_samples"] == 32


def test_paths_are_stored_absolute_and_work_from_anywhere(tmp_path, monkeypatch):
    x, y = blob_images(64, 8)
    (tmp_path / "work").mkdir()
    np.savez(tmp_path / "work" / "d.npz", x=x, y=y)
    monkeypatch.chdir(tmp_path / "work")
    assert main(["train", "--dataset", "npz:d.npz", "--outdir", "runs/r", "--data-dir", "cache", *TINY]) == 0
    cfg = json.loads((tmp_path / "work" / "runs" / "r" / "config.json").read_text())
    assert cfg["dataset"] == f"npz:{tmp_path / 'work' / 'd.npz'}"
    assert cfg["outdir"] == str(tmp_path / "work" / "runs" / "r") and cfg["data_dir"] == str(
        tmp_path / "work" / "cache"
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: evaluate and resume find the data and keep the absolute outdir
    assert main(["evaluate", "work/runs/r"]) == 0
    assert main(["train", "--resume", "work/runs/r", "--epochs", "3", "--no-progress"]) == 0
    cfg = json.loads((tmp_path / "work" / "runs" / "r" / "config.json").read_text())
    assert cfg["outdir"] == str(tmp_path / "work" / "runs" / "r") and cfg["epochs"] == 3


def test_a_tilde_in_a_folder_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pics").mkdir()
    for i in range(4):
        Image.fromarray((np.random.default_rng(i).random((8, 8, 3)) * 255).astype(np.uint8)).save(
            tmp_path / "pics" / f"{i}.png"
        )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "folder:~/pics",
                "--image-size",
                "8",
                "--outdir",
                str(run),
                "--batch-size",
                "2",
                "--epochs",
                "1",
                "--noise-dim",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads((run / "config.json").read_text())["dataset"] == f"folder:{tmp_path / 'pics'}"


def test_effects_below_the_threshold_are_called_no_clear_effect():
    from infogan.metrics.evaluate import describe_effects

    lines = describe_effects(
        [
            {"code": 1, "slant_spearman": 0.04, "ink_spearman": -0.03},
            {"code": 2, "slant_spearman": 0.12, "ink_spearman": -0.85},
        ]
    )
    assert lines[0] == "code 1: slant rho +0.04, ink rho -0.03 -> no clear effect on slant or width"
    assert lines[1].endswith("-> mostly width")


@pytest.mark.xdist_group("sample-run")
def test_resuming_a_finished_run_says_it_is_finished(sample_run, tmp_path, capsys):
    run = copy_of(sample_run[1], tmp_path)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    out = out.replace(str(run), "RUN")  # the test's own folder name holds the word "resuming"
    assert "has trained all its 1 epoch(s)" in out and "resuming" not in out


def test_a_stop_before_the_first_epoch_leaves_pictures(tmp_path):
    x, y = blob_images(400, 8)  # 200 steps at batch 2: SIGTERM lands well inside the first epoch
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infogan",
            "train",
            "--dataset",
            f"npz:{tmp_path / 'd.npz'}",
            "--outdir",
            str(run),
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--noise-dim",
            "4",
            "--log-every",
            "5",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )

    def logged_an_interval() -> bool:
        log = run / "metrics.jsonl"
        return log.exists() and '"interval"' in log.read_text()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not logged_an_interval():
        time.sleep(0.1)
    if not logged_an_interval():  # a stop at an unknown point would test nothing: say what did not happen
        proc.kill()
        pytest.fail(f"the run logged no interval within 120 s (exit status {proc.wait()}); nothing was stopped")
    assert proc.poll() is None, "the run ended before the stop it is meant to get"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    for name in ("samples/interrupted.png", "samples/progress.gif", "plots/losses.png"):
        assert (run / name).is_file(), name
    assert not list((run / "samples").glob("epoch_*.png"))  # no epoch had ended
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert not (run / "samples" / "interrupted.png").exists()  # tidied away by the resume


def test_a_weak_classifier_is_named(tmp_path, capsys):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(run), *TINY]) == 0
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "noise.npz", x=x, y=rng.integers(0, 4, 64))  # labels unrelated to the images
    assert (
        main(
            [
                "classifier",
                "train",
                "--dataset",
                f"npz:{tmp_path / 'noise.npz'}",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "weak.pt"),
                "--test-dataset",
                f"npz:{tmp_path / 'noise.npz'}",
            ]
        )
        == 0
    )
    import torch

    assert torch.load(tmp_path / "weak.pt", weights_only=True)["test_accuracy"] < 0.5
    capsys.readouterr()
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "weak.pt"), "--samples", "50"]) == 0
    assert "warning: this classifier labels its own test images right only" in capsys.readouterr().err


def test_evaluate_help_names_every_held_out_split(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no word broken at a hyphen
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "mnist, mnist-sample, cifar10, svhn are scored on their held-out test splits" in text
    assert "--data-dir" in text


def test_explore_lists_the_runs_of_a_sweep(tmp_path):
    from infogan.serve.explorer import find_runs

    for name in ("single", "sweep/seed_0", "sweep/seed_1", "deep/a/b/c/too_deep"):  # what makes a run a run
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "config.json").write_text("{}")
        (tmp_path / name / "generator.safetensors").write_bytes(b"")
    (tmp_path / "sweep" / "seed_0" / "samples").mkdir()  # a run's own folders are not searched
    assert sorted(find_runs(tmp_path)) == ["single", "sweep/seed_0", "sweep/seed_1"]


def test_tensorboard_gets_the_accuracy_metrics(tmp_path):
    needs("tensorboard", reason="the [tensorboard] extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(run), *TINY, "--tensorboard"]) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {f"epoch/{k}" for k in ("categorical_accuracy", "nmi", "ari", "q_real_mi", "q_confidence")} <= tags
    assert {"interval/d_loss", "epoch/d_loss"} <= tags
