"""The independent classifier: training and its cache, the scores on constructed image sets (where the
right answer is known), and `evaluate --classifier` end to end with its refusals."""

import argparse
import json

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images

from infogan.cli import main
from infogan.metrics.classifier import FORMAT, classifier_scores, frechet_distance, load_classifier


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    x, y = blob_images(512, 8)
    np.savez(root / "blobs.npz", x=x, y=y)
    assert (
        main(
            [
                "classifier",
                "train",
                "--dataset",
                f"npz:{root / 'blobs.npz'}",
                "--data-dir",
                str(root),
                "--epochs",
                "3",
                "--batch-size",
                "32",
            ]
        )
        == 0
    )
    model, about = load_classifier(root / "classifiers" / "npz-blobs.pt")
    return root, model, about


def test_training_caches_a_classifier_that_reads_the_labels(trained):
    _, _, about = trained
    assert about["classes"] == 4 and about["image_shape"] == [1, 8, 8]
    assert about["test_accuracy"] > 0.9  # the blobs' position is the label: easy to learn, chance is 0.25


def _by_label(label, n, seed=5):
    x, y = blob_images(n * 8, 8, seed=seed)
    return torch.from_numpy(x[y == label][:n]).unsqueeze(1)


def test_scores_of_a_perfect_and_of_a_collapsed_generator(trained):
    _, model, _ = trained
    real = torch.from_numpy(blob_images(400, 8, seed=9)[0]).unsqueeze(1)
    # code value v draws label (v + 1) % 4: a perfect, permuted generator
    fake = torch.cat([_by_label((v + 1) % 4, 50) for v in range(4)])
    codes = torch.arange(4).repeat_interleave(50)
    good = classifier_scores(model, fake, codes, real)
    assert good["purity"] > 0.9 and good["matched_label"] == {"0": 1, "1": 2, "2": 3, "3": 0}
    assert good["mode_count"] == 4 and good["modes_possible"] == 4
    assert 3.0 < good["classifier_score"] <= 4.0 + 1e-6
    # every code value draws label 2: one mode, a score near 1, purity only for the one matched value
    collapsed = classifier_scores(model, _by_label(2, 200), codes, real)
    assert collapsed["mode_count"] == 1 and collapsed["classifier_score"] < 1.5
    assert collapsed["purity"] < 0.35
    assert collapsed["fid_classifier"] > good["fid_classifier"]


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 1.0) == pytest.approx(8.0, rel=0.01)  # ||mu shift||^2 = 8


def test_evaluate_with_the_cached_classifier(trained, tmp_path):
    root, _, _ = trained
    run = tmp_path / "run"
    assert (
        main(["train", "--dataset", f"npz:{root / 'blobs.npz'}", "--data-dir", str(root), "--outdir", str(run), *TINY])
        == 0
    )
    assert main(["evaluate", str(run), "--classifier", "--samples", "200"]) == 0
    report = json.loads((run / "eval" / "npz-blobs.json").read_text())["classifier"]
    assert report["classifier_samples"] == 200 and len(report["purity_per_category"]) == 4
    # the scores are the cached classifier's, of the run's own fixed sample of 200 images, against the data
    from infogan.data.datasets import load_dataset
    from infogan.metrics.classifier import default_path, load_classifier
    from infogan.serve.inference import generated_sample, load_generator

    model, _ = load_classifier(default_path("npz-blobs", str(root)))
    expected = classifier_scores(
        model, *generated_sample(load_generator(run), 200), load_dataset(f"npz:{root / 'blobs.npz'}").images
    )
    assert report == json.loads(json.dumps(expected))
    assert report["purity"] == pytest.approx(np.mean(report["purity_per_category"]))
    assert report["mode_count"] == sum(c >= 0.1 * 200 / 4 for c in report["label_histogram"])


def test_classifier_refusals_are_one_line(trained, tmp_path, capsys):
    root, _, _ = trained
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{root / 'blobs.npz'}", "--outdir", str(run), *TINY]) == 0
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "none.pt")]) == 2
    assert "no classifier at" in capsys.readouterr().err
    torch.save({"format": 1, "state_dict": {}, "x": argparse.Namespace()}, tmp_path / "evil.pt")
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "evil.pt")]) == 2
    assert "cannot load classifier" in capsys.readouterr().err
    torch.save(
        {"format": FORMAT, "state_dict": {}, "channels": "1", "classes": 4, "image_shape": [1, 8, 8], "dataset": "x"},
        tmp_path / "wrong.pt",
    )  # a field of the wrong type
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "wrong.pt")]) == 2
    assert "is not an infogan classifier" in capsys.readouterr().err
    torch.save(
        {"format": 1, "state_dict": {}, "channels": 1, "classes": 4, "image_shape": [1, 8, 8], "dataset": "x"},
        tmp_path / "old.pt",
    )  # cached by an earlier version
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "old.pt")]) == 2
    assert "earlier format (1, this version reads 2): train it again" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--classifier", "--samples", "10000000000"]) == 2
    assert "samples" in capsys.readouterr().err
    x, y = blob_images(64, 16)
    np.savez(tmp_path / "big.npz", x=x, y=y)
    assert (
        main(
            [
                "classifier",
                "train",
                "--dataset",
                f"npz:{tmp_path / 'big.npz'}",
                "--data-dir",
                str(tmp_path),
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    assert main(["evaluate", str(run), "--classifier", str(tmp_path / "classifiers" / "npz-big.pt")]) == 2
    assert "shape [1, 16, 16]" in capsys.readouterr().err
    np.savez(tmp_path / "unlabelled.npz", x=x)
    assert main(["classifier", "train", "--dataset", f"npz:{tmp_path / 'unlabelled.npz'}"]) == 2
    assert "no labels" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where no CUDA GPU is visible")
def test_device_cuda_without_a_gpu_is_refused_in_one_line(trained, tmp_path, capsys):
    root, _, _ = trained
    assert (
        main(
            [
                "classifier",
                "train",
                "--dataset",
                f"npz:{root / 'blobs.npz'}",
                "--out",
                str(tmp_path / "c.pt"),
                "--epochs",
                "1",
                "--device",
                "cuda",
            ]
        )
        == 2
    )
    assert "--device cuda: no CUDA GPU is visible" in capsys.readouterr().err
    assert not (tmp_path / "c.pt").exists()
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{root / 'blobs.npz'}", "--outdir", str(run), *TINY]) == 0
    assert main(["evaluate", str(run), "--device", "cuda"]) == 2
    assert "--device cuda: no CUDA GPU is visible" in capsys.readouterr().err
    assert not (run / "eval").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (on a CPU it trains on the CPU)")
def test_a_classifier_trained_on_a_gpu_is_saved_on_the_cpu(trained, tmp_path):
    root, _, _ = trained
    assert (
        main(
            [
                "classifier",
                "train",
                "--dataset",
                f"npz:{root / 'blobs.npz'}",
                "--out",
                str(tmp_path / "c.pt"),
                "--epochs",
                "1",
                "--device",
                "cuda",
            ]
        )
        == 0
    )
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    assert {v.device.type for v in payload["state_dict"].values()} == {"cpu"}
