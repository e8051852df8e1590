"""`infogan encode` and `load_encoder`/`encode`: Q's reading of real images, as the metrics read them, written as
CSV or JSON lines for data sets and image files; its refusals."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from infogan.cli import main
from infogan.data.datasets import load_dataset
from infogan.errors import UsageError
from infogan.metrics.codes import categorical_accuracy, q_on_real
from infogan.serve.encode import encode, load_encoder
from infogan.serve.pretrained import resolve_run


def test_encode_is_qs_reading_that_the_metrics_score(finished_tiny_run):
    """encode's categories are the argmax the label metrics use, its probabilities Q's softmax there, and its
    continuous values Q's means; batch size does not change them."""
    encoder = load_encoder(finished_tiny_run)
    images = load_dataset(f"npz:{finished_tiny_run.parent / 'd.npz'}").images
    codes = encode(encoder, images, batch_size=7)
    probs = q_on_real(encoder, images)[0]
    assert torch.equal(codes.categories[:, 0], probs.argmax(1))
    assert torch.allclose(codes.probabilities[:, 0], probs.max(1).values, atol=1e-6)
    with torch.no_grad():
        means = encoder(images.float() / 127.5 - 1).q.cont_mean
    assert torch.allclose(codes.continuous, means, atol=1e-5)
    assert torch.equal(encode(encoder, images, batch_size=64).categories, codes.categories)
    assert codes.continuous_std is None  # std fixed at 1 unless --learn-std
    with pytest.raises(UsageError, match="encode reads uint8 images"):
        encode(encoder, images.float())


def test_encode_command_writes_one_row_per_held_out_digit_in_order(tmp_path, capsys):
    """The bundled digits' held-out split, read by the shipped model: one row per digit with its label, and the
    categories match the labels (after the best one-to-one naming) at the model's recorded accuracy."""
    out = tmp_path / "codes.csv"
    assert main(["encode", "pretrained:mnist", "mnist-sample", "--out", str(out)]) == 0
    table = list(csv.DictReader(out.open()))
    assert list(table[0]) == ["index", "label", "category", "name", "probability", "c1", "c2"]
    labels = load_dataset("mnist-sample", split="test").labels.numpy()
    assert [int(r["index"]) for r in table] == list(range(len(labels)))
    assert [int(r["label"]) for r in table] == labels.tolist()
    accuracy = categorical_accuracy(np.array([int(r["category"]) for r in table]), labels)["categorical_accuracy"]
    recorded = json.loads((resolve_run("pretrained:mnist") / "record.json").read_text())
    assert accuracy == pytest.approx(recorded["heldout_accuracy"], abs=0.005)
    # the shipped names: the guess of each digit's label is right as often as the matching is
    named = np.mean([r["name"] == r["label"] for r in table])
    assert named == pytest.approx(accuracy, abs=1e-9)
    assert all(0 < float(r["probability"]) <= 1 for r in table)
    assert "1000 images" in capsys.readouterr().err


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_encode_command_reads_image_files_skipping_unreadable_ones_or_refusing_them(
    finished_tiny_run, tmp_path, capsys
):
    images = load_dataset(f"npz:{finished_tiny_run.parent / 'd.npz'}").images
    good = [_png(tmp_path / f"{i}.png", images[i, 0].numpy()) for i in range(3)]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert (
        main(["encode", str(finished_tiny_run), str(good[0]), str(bad), *map(str, good[1:]), "--format", "jsonl"]) == 0
    )
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["file"] for line in lines] == list(map(str, good)) and [line["index"] for line in lines] == [0, 1, 2]
    expected = encode(load_encoder(finished_tiny_run), images[:3])
    assert [line["category"] for line in lines] == expected.categories[:, 0].tolist()
    assert f"skipped {bad}" in captured.err
    assert main(["encode", str(finished_tiny_run), str(good[0]), str(bad), "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot read {bad}" in err[0]


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda d: _png(d / "big.png", np.zeros((12, 12), np.uint8)),
            "is a grey 12x12 image, the run reads grey 8x8 ones",
        ),
        (lambda d: _png(d / "rgb.png", np.zeros((8, 8, 3), np.uint8)), None),  # colour files are read as grey
        (lambda d: d / "missing.png", "does not exist"),
    ],
    ids=["wrong-size", "colour-file", "missing"],
)
def test_encode_command_refuses_files_the_run_cannot_read_in_one_line(
    finished_tiny_run, tmp_path, capsys, make, message
):
    path = make(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("earlier\n")
    status = main(["encode", str(finished_tiny_run), str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    if message is None:
        assert status == 0 and len(out.read_text().splitlines()) == 2
        return
    assert status == 2 and len(err) == 1 and message in err[0], err
    assert out.read_text() == "earlier\n"  # nothing the user had is lost


def test_encode_command_refuses_a_data_set_of_another_shape(finished_tiny_run, capsys):
    assert main(["encode", str(finished_tiny_run), "mnist-sample"]) == 2
    err = capsys.readouterr()
    assert "the images of mnist-sample are grey 28x28, the run reads grey 8x8 images" in err.err and err.out == ""


def test_encode_stdout_stops_quietly_when_the_reader_does(finished_tiny_run, tmp_path):
    """`infogan encode ... | head -1`: the command ends without an error when its reader closes the pipe."""
    import subprocess
    import sys

    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc = subprocess.run(
        [sys.executable, "-m", "infogan", "encode", "pretrained:mnist", "mnist-sample", "--batch-size", "10"],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    reader.stdin.close()
    reader.wait(timeout=30)
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr
