"""--auto-resume's decisions on a real --outdir (start, resume, replace a start that never checkpointed, refuse
another run or stray files), the clashes between --resume, --overwrite, --auto-resume and --config, and
--eval-dataset, the held-out digits the demo's per-epoch accuracy is read on."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images
from safetensors.torch import load_file

from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.metrics.codes import label_metrics, q_on_real
from infogan.serve.encode import load_encoder


def run_cli(*argv) -> int:
    return main(["train", *map(str, argv)])


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def data(tmp_path):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    return ["--dataset", f"npz:{tmp_path / 'd.npz'}", *TINY]


def test_auto_resume_starts_then_continues_to_the_weights_of_a_straight_run(tmp_path, data):
    out = tmp_path / "run"
    assert run_cli(*data, "--outdir", tmp_path / "straight") == 0
    assert run_cli(*data, "--epochs", "1", "--outdir", out, "--auto-resume") == 0  # empty: a start
    assert load_checkpoint(out / "checkpoints" / "last.pt")["epoch"] == 1
    assert run_cli(*data, "--outdir", out, "--auto-resume") == 0  # a checkpoint of this run: resumed to 2 epochs
    a, b = (load_file(str(p / "generator.safetensors")) for p in (tmp_path / "straight", out))
    assert all(torch.equal(a[k], b[k]) for k in a)
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted(set(epochs)) == [1, 2]


def test_auto_resume_replaces_a_start_that_never_checkpointed(tmp_path, data):
    out = tmp_path / "run"
    assert run_cli(*data, "--epochs", "1", "--outdir", out) == 0
    (out / "checkpoints" / "last.pt").unlink()  # as if killed before its first checkpoint
    old_id = json.loads((out / "config.json").read_text())["run_id"]
    assert run_cli(*data, "--outdir", out, "--auto-resume") == 0
    assert json.loads((out / "config.json").read_text())["run_id"] != old_id  # a new run in its place
    assert load_checkpoint(out / "checkpoints" / "last.pt")["epoch"] == 2


def test_auto_resume_refuses_another_run_and_stray_files_and_changes_nothing(tmp_path, data, capsys):
    out = tmp_path / "run"
    assert run_cli(*data, "--epochs", "1", "--outdir", out) == 0
    before = (out / "checkpoints" / "last.pt").read_bytes()
    assert run_cli(*data, "--outdir", out, "--auto-resume", "--noise-dim", "7") == 2
    line = one_error_line(capsys)
    assert "holds another run" in line and "noise_dim" in line and "--overwrite" in line
    assert (out / "checkpoints" / "last.pt").read_bytes() == before
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    assert run_cli(*data, "--outdir", stray, "--auto-resume") == 2
    assert "holds files but no run" in one_error_line(capsys)
    assert (stray / "notes.txt").read_text() == "mine" and sorted(p.name for p in stray.iterdir()) == ["notes.txt"]
    assert run_cli(*data, "--auto-resume") == 2
    assert "--auto-resume needs --outdir" in one_error_line(capsys)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--resume", "{run}", "--overwrite"], "--overwrite does not go with it"),
        (["--resume", "{run}", "--auto-resume"], "--auto-resume does not go with it"),
        (["--outdir", "{run}", "--auto-resume", "--overwrite"], "--auto-resume continues the run in --outdir"),
        (["--resume", "{run}", "--config", "{run}/config.json"], "--config starts a new run and --resume"),
        (["--resume", "{run}", "--outdir", "{run}-other"], "--resume DIR already names the run directory"),
    ],
    ids=["resume+overwrite", "resume+auto-resume", "auto-resume+overwrite", "resume+config", "resume+outdir"],
)
def test_clashing_run_options_are_refused_in_one_line_and_change_nothing(tmp_path, data, capsys, argv, message):
    run = tmp_path / "run"
    assert run_cli(*data, "--epochs", "1", "--outdir", run) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert run_cli(*[a.format(run=run) for a in argv]) == 2
    assert message in one_error_line(capsys)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_eval_dataset_scores_each_epoch_on_the_held_out_images_not_the_training_ones(tmp_path, data):
    """The last epoch's label metrics are those of the final D/Q on the held-out images, recomputed here."""
    x, y = blob_images(48, 8, seed=5)
    np.savez(tmp_path / "held.npz", x=x, y=y)
    run = tmp_path / "run"
    assert run_cli(*data, "--epochs", "1", "--outdir", run, "--eval-dataset", f"npz:{tmp_path / 'held.npz'}") == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["kind"] == "epoch"][-1]
    held, train = (
        label_metrics(q_on_real(load_encoder(run), torch.from_numpy(images[:, None]))[0].argmax(1).numpy(), labels)
        for images, labels in ((x, y), tuple(np.load(tmp_path / "d.npz")[k] for k in ("x", "y")))
    )
    keys = ("categorical_accuracy", "nmi", "ari")
    assert {k: last[k] for k in keys} == pytest.approx({k: held[k] for k in keys})
    assert {k: held[k] for k in keys} != pytest.approx({k: train[k] for k in keys})  # not the training images'


def test_eval_dataset_of_another_image_shape_is_refused(tmp_path, data, capsys):
    x, y = blob_images(16, 12)
    np.savez(tmp_path / "big.npz", x=x, y=y)
    assert run_cli(*data, "--outdir", tmp_path / "run", "--eval-dataset", f"npz:{tmp_path / 'big.npz'}") == 2
    assert "needs labels and images of shape" in one_error_line(capsys)
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()
