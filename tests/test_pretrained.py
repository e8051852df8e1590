"""The model shipped inside the package: every command reads pretrained:mnist offline like a run directory,
its weights are safetensors only, and they reproduce the accuracy recorded beside them."""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images, needs
from PIL import Image

from infogan.cli import main

SHIPPED = Path(str(resources.files("infogan").joinpath("pretrained", "mnist")))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOGAN_DATA", str(tmp_path / "data"))  # where a shipped run's reports go
    return tmp_path / "data"


def test_the_shipped_model_holds_tensors_only():
    names = sorted(p.name for p in SHIPPED.iterdir())
    assert names == [
        "MODEL.md",
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "generator.safetensors",
        "metrics.jsonl",
        "names.json",
        "record.json",
    ]
    from safetensors.torch import load_file

    for part in ("generator", "discriminator"):
        tensors = load_file(str(SHIPPED / f"{part}.safetensors"))
        # fp16 weights and BatchNorm's int64 step counters, every value finite
        assert {t.dtype for t in tensors.values()} <= {torch.float16, torch.int64}
        assert all(torch.isfinite(t.float()).all() for t in tensors.values())


def test_it_reproduces_its_recorded_held_out_accuracy(data_dir, capsys):
    record = json.loads((SHIPPED / "record.json").read_text())
    assert main(["evaluate", "pretrained:mnist", "--dataset", "mnist-sample"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "test" and report["n_samples"] == 1000
    assert abs(report["categorical_accuracy"] - record["heldout_accuracy"]) <= 0.01
    assert (data_dir / "pretrained" / "mnist" / "eval" / "mnist-sample.json").exists()  # not into the package


def test_generate_and_traverse_read_it(tmp_path):
    out = tmp_path / "three.png"
    assert main(["generate", "pretrained:mnist", "--category", "3", "-n", "10", "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size == (10 * 30 + 2, 30 + 2)
    assert main(["traverse", "pretrained:mnist", "--code", "1", "--out", str(tmp_path / "t.png")]) == 0
    assert main(["generate", "pretrained:nothing", "--out", str(out)]) == 2


def test_explore_opens_it_by_default():
    needs("fastapi", reason="the explorer's extra is not installed")
    from fastapi.testclient import TestClient

    from infogan.cli import build_parser
    from infogan.serve.explorer import create_app

    assert build_parser().parse_args(["explore"]).path == "pretrained:mnist"
    client = TestClient(create_app("pretrained:mnist"))
    assert client.get("/api/runs").json()["runs"] == ["mnist"]
    assert client.get("/api/generate", params={"category": 3}).headers["content-type"] == "image/png"


def test_export_writes_a_run_the_commands_read(tmp_path, capsys):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(run), *TINY]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "shipped")]) == 0
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "shipped" / "generator.safetensors"))
    assert all(str(t.dtype) == "torch.float16" for t in weights.values() if t.is_floating_point())
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "shipped"), "--dataset", f"npz:{tmp_path / 'd.npz'}"]) == 0
    shipped = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(run), "--dataset", f"npz:{tmp_path / 'd.npz'}"]) == 0
    original = json.loads(capsys.readouterr().out)
    assert abs(shipped["categorical_accuracy"] - original["categorical_accuracy"]) <= 0.02  # fp16 weights
    (run / "checkpoints" / "last.pt").unlink()
    assert main(["export", str(run), "--out", str(tmp_path / "again")]) == 2  # no checkpoint: one line, exit 2
