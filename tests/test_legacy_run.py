"""A run directory made before several categorical codes existed (tests/fixtures/legacy_v1, written by that
version's code and committed before the change) still loads, computes the same numbers, resumes,
evaluates and explores."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_picture, needs

from infogan import load_generator
from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.data.datasets import load_dataset
from infogan.metrics.codes import q_on_real
from infogan.serve.encode import load_encoder
from infogan.serve.inference import chosen_latent, generate

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_v1"


@pytest.fixture
def legacy(tmp_path, monkeypatch):
    """A copy of the fixture (its config names its data as npz:data.npz, relative to the working dir)."""
    shutil.copytree(FIXTURE, tmp_path / "legacy")
    monkeypatch.chdir(tmp_path / "legacy")
    return Path("run")


def test_the_fixture_is_in_the_old_format():
    saved = json.loads((FIXTURE / "run" / "config.json").read_text())
    assert saved["categories"] == 3 and "categorical" not in saved
    assert "stat_names" not in load_checkpoint(FIXTURE / "run" / "checkpoints" / "last.pt")


def test_same_images_and_same_q_as_the_code_that_wrote_it(legacy):
    expected = np.load("expected.npz")
    gen = load_generator(legacy)
    assert gen.cfg.categorical == [3] and gen.spec.learn_std
    latent = chosen_latent(gen.cfg, 4, seed=0, categories={1: 1}, codes={1: 0.5})
    assert np.allclose(generate(gen, latent).numpy(), expected["generate_cat1_code1_0p5_seed0_n4"], atol=1e-6)
    probs = q_on_real(load_encoder(legacy), load_dataset("npz:data.npz").images)
    assert len(probs) == 1 and np.allclose(probs[0].numpy(), expected["q_probs_on_data"], atol=1e-6)


def test_resumes_and_continues_its_metrics(legacy):
    assert main(["train", "--resume", str(legacy), "--epochs", "2", "--no-progress"]) == 0
    records = [json.loads(line) for line in (legacy / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert set(epochs[0]) == set(epochs[1])  # the statistics written then, by name, are those written now
    cfg = json.loads((legacy / "config.json").read_text())
    assert cfg["categorical"] == [3] and cfg["epochs"] == 2  # rewritten in today's format
    assert load_checkpoint(legacy / "checkpoints" / "last.pt")["step"] == 4
    assert_picture(legacy / "samples" / "epoch_0002.png")


def test_evaluates(legacy):
    assert main(["evaluate", str(legacy)]) == 0
    report = json.loads((legacy / "eval" / "npz-data.json").read_text())
    assert report["categorical"] == [3] and len(report["category_histogram"]) == 3
    # scored as today's evaluate scores: Q's argmax on the data against its labels, after the best matching
    from infogan.metrics.codes import label_metrics

    data = load_dataset("npz:data.npz")
    expected = label_metrics(q_on_real(load_encoder(legacy), data.images)[0].argmax(1).numpy(), data.labels.numpy())
    assert report["categorical_accuracy"] == pytest.approx(expected["categorical_accuracy"])
    assert report["matching"] == {str(k): v for k, v in expected["matching"].items()}


def test_explores(legacy):
    needs("fastapi", reason="the explorer's extra (fastapi) is not installed")
    from fastapi.testclient import TestClient

    from infogan.serve.explorer import create_app

    client = TestClient(create_app(legacy))
    info = client.get("/api/info").json()
    assert info["categories"] == 3 and info["categorical"] == [3] and info["continuous"] == 2
    for path, params in (
        ("/api/generate", {"category": 2, "c1": 1}),
        ("/api/categories", {}),
        ("/api/traverse", {"code": 2}),
    ):
        assert client.get(path, params=params).status_code == 200
    assert client.get("/api/generate", params={"category": 3}).status_code == 422
