"""evaluate, generate, traverse and sweep end to end on a tiny run."""

import json

import numpy as np
import pytest
from conftest import TINY, train_tiny_run
from PIL import Image

from infogan.cli import main

REPORT_KEYS = {"run_dir", "dataset", "n_samples", "categorical_accuracy", "nmi", "ari", "matching",
               "mutual_information_bound", "q_real_mi", "q_confidence", "continuous_effects", "category_histogram"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    run = train_tiny_run(root)
    np.savez(root / "unlabelled.npz", x=np.load(root / "d.npz")["x"])
    return root, run


def test_training_logs_label_metrics_per_epoch(tiny_run):
    _, run = tiny_run
    epochs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if '"epoch"' in l]
    epochs = [r for r in epochs if r["kind"] == "epoch"]
    assert all(0 <= r["categorical_accuracy"] <= 1 and "nmi" in r and "ari" in r for r in epochs)


def test_evaluate_writes_json_and_plots(tiny_run, capsys):
    root, run = tiny_run
    assert main(["evaluate", str(run)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "eval" / "npz-d.json").read_text())
    assert printed == saved
    assert REPORT_KEYS <= set(saved)
    assert saved["n_samples"] == 64 and 0.25 <= saved["categorical_accuracy"] <= 1
    assert set(map(int, saved["matching"])) <= {0, 1, 2, 3}  # categories
    assert len(set(saved["matching"].values())) == len(saved["matching"])  # one-to-one onto labels
    assert saved["mutual_information_bound"] <= np.log(4) + 1e-6
    assert [e["code"] for e in saved["continuous_effects"]] == [1, 2]
    assert all(-1 <= e["slant_spearman"] <= 1 and -1 <= e["ink_spearman"] <= 1 for e in saved["continuous_effects"])
    assert sum(saved["category_histogram"]) == 64
    for name in ("confusion.png", "continuous_effects.png"):
        with Image.open(run / "eval" / name) as img:
            assert img.size[0] > 100


def test_evaluate_without_labels_states_why(tiny_run, capsys):
    root, run = tiny_run
    assert main(["evaluate", str(run), "--dataset", f"npz:{root / 'unlabelled.npz'}"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "categorical_accuracy" not in report and "no labels" in report["label_metrics_omitted"]
    assert "mutual_information_bound" in report and "q_real_mi" in report


def test_evaluate_errors(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    np.savez(tmp_path / "big.npz", x=np.zeros((4, 16, 16), dtype=np.uint8))
    assert main(["evaluate", str(run), "--dataset", f"npz:{tmp_path / 'big.npz'}"]) == 2
    assert "trained on [1, 8, 8]" in capsys.readouterr().err


def test_generate_grid_for_chosen_codes(tiny_run, tmp_path):
    _, run = tiny_run
    out = tmp_path / "g.png"
    assert main(["generate", str(run), "--category", "2", "--code", "1=0.5", "--code", "2=-1", "-n", "12",
                 "--seed", "3", "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size == (10 * 10 + 2, 2 * 10 + 2)
    first = out.read_bytes()
    assert main(["generate", str(run), "--category", "2", "--code", "1=0.5", "--code", "2=-1", "-n", "12",
                 "--seed", "3", "--out", str(out)]) == 0
    assert out.read_bytes() == first  # same seed, same picture
    assert main(["generate", str(run), "--category", "9", "--out", str(out)]) == 2
    assert main(["generate", str(run), "--code", "3=1", "--out", str(out)]) == 2


def test_traverse_grid(tiny_run, tmp_path):
    _, run = tiny_run
    out = tmp_path / "t.png"
    assert main(["traverse", str(run), "--code", "2", "--range", "-1", "1", "--steps", "5", "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size == (5 * 10 + 2, 4 * 10 + 2)
    assert main(["traverse", str(run), "--code", "0", "--out", str(out)]) == 2


def test_sweep_two_seeds(tiny_run, tmp_path, capsys):
    root, _ = tiny_run
    parent = tmp_path / "sweep"
    args = ["sweep", "--seeds", "0,1", "--dataset", f"npz:{root / 'd.npz'}", "--outdir", str(parent), *TINY]
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and set(summary["runs"]) == {"0", "1"}
    acc = summary["metrics"]["categorical_accuracy"]
    values = [summary["runs"][s]["categorical_accuracy"] for s in ("0", "1")]
    assert acc["worst"] == min(values) and acc["best"] == max(values) and acc["mean"] == pytest.approx(np.mean(values))
    sel = summary["selection"]
    assert sel["criterion"] == "q_real_mi" and sel["picked_seed"] in (0, 1) and isinstance(sel["agrees"], bool)
    assert "label-free pick" in out and "median" in out
    # a second call reuses the finished runs instead of retraining, and continues an interrupted one
    (parent / "seed_1" / "generator.safetensors").unlink()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "seed 0: " in out and "not retrained" in out and f"resuming {parent / 'seed_1'}" in out
    assert (parent / "seed_1" / "generator.safetensors").exists()


def test_sweep_bad_seeds(capsys):
    assert main(["sweep", "--seeds", "a,b"]) == 2
    assert "--seeds" in capsys.readouterr().err
