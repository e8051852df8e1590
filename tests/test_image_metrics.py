"""FID/KID/IS/PRC through torch-fidelity: the plumbing, with a randomly initialised Inception (the real
weights cannot be had here), the safe loading of weights files, and the offline error.

torch-fidelity needs torchvision, which does not install beside the CPU-only torch of the main test
environment; `make test` runs this file again in the environment `make install-fidelity` builds.
"""

import argparse
import json
import math
import os

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images

from infogan.cli import main
from infogan.errors import UsageError
from infogan.metrics import image_quality

if os.environ.get("INFOGAN_REQUIRE_FIDELITY"):  # make test's second environment: a missing import fails
    import torch_fidelity as fidelity
else:
    fidelity = pytest.importorskip(
        "torch_fidelity",
        reason="torch-fidelity (and torchvision) not installed here: "
        "`make install-fidelity` builds an environment with them",
        exc_type=ImportError,
    )


def inception_skeleton_state() -> dict:
    """A randomly initialised torch-fidelity Inception's state dict (its constructor insists on loading a
    file: it is given an empty one and its load_state_dict is skipped). The convolutions get He-normal
    weights, so that the signal reaches the 2048 features instead of fading over 90 layers."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):
            return None

    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pth") as empty:
        torch.save({}, empty.name)
        torch.manual_seed(0)
        net = Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty.name)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.state_dict()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / image_quality.INCEPTION_FILE
    torch.save(inception_skeleton_state(), path)
    return path


def _images(seed, n=8, shift=0):  # few: Inception upsamples each to 299x299, about 0.5 s an image on this CPU
    x, _ = blob_images(n, 8, seed=seed)
    return torch.from_numpy(np.clip(x.astype(int) + shift, 0, 255).astype(np.uint8)).unsqueeze(1)


def test_the_shape_manifest_is_torch_fidelitys_network():
    state = inception_skeleton_state()
    assert {k: list(v.shape) for k, v in state.items()} == image_quality.expected_shapes()


def test_a_set_against_itself_and_against_a_shifted_set(weights, tmp_path):
    clean = image_quality.verified_weights(str(weights), tmp_path)
    assert clean.parent == tmp_path and clean.name.startswith("inception-verified-")
    real = _images(0)
    same = image_quality.image_metrics(real, real, ["fid", "kid", "isc", "prc"], clean, tmp_path, None)
    assert set(same) == {"fid", "kid", "kid_std", "isc", "isc_std", "precision", "recall", "f_score"}
    assert abs(same["fid"]) < 1e-2 and abs(same["kid"]) < 1e-3
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    shifted = image_quality.image_metrics(_images(1, shift=120), real, ["fid", "kid"], clean, tmp_path, None)
    assert shifted["fid"] > 100 * max(abs(same["fid"]), 1e-3) and shifted["kid"] > 10 * max(abs(same["kid"]), 1e-4)
    again = image_quality.image_metrics(_images(1, shift=120), real, ["fid", "kid"], clean, tmp_path, None)
    assert again == shifted  # deterministic: torch-fidelity's draws are seeded


def test_pickled_and_wrong_shaped_files_are_refused(weights, tmp_path):
    state = torch.load(weights, weights_only=True)
    torch.save({**state, "extra": argparse.Namespace()}, tmp_path / "pickled.pth")
    with pytest.raises(UsageError, match="pickled objects"):
        image_quality.verified_weights(str(tmp_path / "pickled.pth"), tmp_path)
    name = next(iter(state))
    torch.save({**state, name: torch.zeros(3)}, tmp_path / "shape.pth")
    with pytest.raises(UsageError, match=f"tensor {name} has shape"):
        image_quality.verified_weights(str(tmp_path / "shape.pth"), tmp_path)
    torch.save({k: v for k, v in state.items() if k != name}, tmp_path / "missing.pth")
    with pytest.raises(UsageError, match="1 tensor\\(s\\) missing"):
        image_quality.verified_weights(str(tmp_path / "missing.pth"), tmp_path)


def test_offline_without_weights_names_the_file_and_the_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(image_quality.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("INFOGAN_DOWNLOAD_MIRROR", "http://127.0.0.1:9/")  # nothing listens on port 9
    monkeypatch.setattr(image_quality, "INCEPTION_MIRRORS", [])
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'b.npz'}",
                "--data-dir",
                str(tmp_path / "data"),
                "--outdir",
                str(run),
                *TINY,
            ]
        )
        == 0
    )
    assert main(["evaluate", str(run), "--image-metrics", "fid"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if not line.startswith("note: ")]  # the note: no held-out split to score on
    assert len(err) == 1 and image_quality.INCEPTION_FILE in err[0] and "--inception-weights" in err[0]


def test_evaluate_image_metrics_end_to_end(weights, tmp_path):
    x, y = blob_images(16, 8)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'b.npz'}",
                "--data-dir",
                str(tmp_path / "data"),
                "--outdir",
                str(run),
                *TINY,
            ]
        )
        == 0
    )
    assert (
        main(
            ["evaluate", str(run), "--image-metrics", "fid,kid", "--samples", "8", "--inception-weights", str(weights)]
        )
        == 0
    )
    report = json.loads((run / "eval" / "npz-b.json").read_text())
    assert set(report["image_metrics"]) == {"fid", "kid", "kid_std"} and report["image_metrics_samples"] == 8
    assert all(math.isfinite(v) for v in report["image_metrics"].values())
    assert list((tmp_path / "data" / "fidelity-cache").glob("*infogan-npz-b*"))  # the real side's features, cached


def test_training_computes_them_every_n_epochs_and_at_the_last(weights, tmp_path):
    x, y = blob_images(16, 8)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    run = tmp_path / "run"
    tiny = list(TINY)
    tiny[tiny.index("--epochs") + 1] = "3"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'b.npz'}",
                "--data-dir",
                str(tmp_path / "data"),
                "--outdir",
                str(run),
                *tiny,
                "--image-metrics-every",
                "2",
                "--image-metrics",
                "fid,isc",
                "--image-metrics-samples",
                "4",
                "--inception-weights",
                str(weights),
            ]
        )
        == 0
    )
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = {r["epoch"]: r for r in epochs if r["kind"] == "epoch"}
    assert "fid" not in epochs[1] and {"fid", "isc", "isc_std"} <= set(epochs[2]) and "fid" in epochs[3]
    assert (run / "plots" / "fid.png").is_file() and (run / "plots" / "inception_score.png").is_file()
