"""The catalogue of bad inputs: each one exits with status 2, prints one line naming the problem (and the
fix when there is one), shows no traceback, and leaves every file written before it intact.

Each case is (id, setup, argv, expected text). `setup(ws)` may create files in the workspace and returns
nothing; argv may use {ws} for the workspace path. A finished run lives at {ws}/done before each case, and
its files are hashed before and compared after.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import pickle
import shutil
import sys

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images, idx_bytes, write_mnist_files

from infogan.cli import main
from infogan.data import formats


def write_npz(name, **arrays):
    def setup(ws):
        np.savez(ws / name, **arrays)

    return setup


def mnist_with(mutate):
    def setup(ws):
        write_mnist_files(ws / "d" / "mnist", n_train=32)
        mutate(ws / "d" / "mnist" / "train-images-idx3-ubyte.gz")

    return setup


def truncate(path):
    path.write_bytes(path.read_bytes()[:-50])


def bad_magic(path):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(b"\x00\x00\x07\x03" + raw[4:]))


def wrong_length(path):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw + b"\x00" * 10))


def folder(files):
    def setup(ws):
        (ws / "imgs").mkdir()
        for name, content in files.items():
            (ws / "imgs" / name).write_bytes(content)

    return setup


def copy_done_run(ws):
    shutil.copytree(ws / "done", ws / "again")


def run_without_checkpoint(ws):
    (ws / "empty_run").mkdir()
    (ws / "empty_run" / "config.json").write_text("{}")


def truncated_checkpoint(ws):
    copy_done_run(ws)
    path = ws / "again" / "checkpoints" / "last.pt"
    path.write_bytes(path.read_bytes()[:1000])


def foreign_architecture_checkpoint(ws):
    """last.pt replaced by a checkpoint whose config says one thing and whose weights are another arch's."""
    copy_done_run(ws)
    ckpt = torch.load(ws / "again" / "checkpoints" / "last.pt", weights_only=True)
    ckpt["generator"] = {"net.0.weight": torch.zeros(3, 3)}
    torch.save(ckpt, ws / "again" / "checkpoints" / "last.pt")


class Payload:
    """Unpickling this would create a marker file: the checkpoint loader must never do it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


MARKER = "pickle-payload-executed"  # in the test's own folder


def pickle_payload_checkpoint(ws):
    copy_done_run(ws)
    with open(ws / "again" / "checkpoints" / "last.pt", "wb") as fh:
        pickle.dump(
            {"format": 1, "config": {}, "step": 0, "epoch": 0, "generator": Payload(ws / MARKER), "discriminator": {}},
            fh,
        )


def mnist_labels_of_another_length(ws):
    write_mnist_files(ws / "d" / "mnist", n_train=32)
    (ws / "d" / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8))))


def cifar_batches(record: bytes):
    """CIFAR-10's five training batches extracted, each holding `record` (so nothing is downloaded)."""

    def setup(ws):
        folder = ws / "d" / "cifar10" / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        for i in range(1, 6):
            (folder / f"data_batch_{i}.bin").write_bytes(record)

    return setup


def edited_checkpoint(**changes):
    """The finished run copied to {ws}/again, its last.pt rewritten with these fields changed."""

    def setup(ws):
        copy_done_run(ws)
        path = ws / "again" / "checkpoints" / "last.pt"
        torch.save({**torch.load(path, weights_only=True), **changes}, path)

    return setup


def oversized_checkpoint(ws):
    """A last.pt one byte over the size cap (a sparse file: no disk is used)."""
    from infogan import checkpoint

    copy_done_run(ws)
    with open(ws / "again" / "checkpoints" / "last.pt", "r+b") as fh:
        fh.truncate(checkpoint.MAX_CHECKPOINT_BYTES + 1)


def damaged_generator_weights(ws):
    copy_done_run(ws)
    (ws / "again" / "generator.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")


def config_file(name, content):
    def setup(ws):
        (ws / name).write_text(content)

    return setup


def file_in_the_way(ws):
    (ws / "afile").write_text("not a folder")


x8, y8 = blob_images(32, 8)
NPZ = ["--dataset", "npz:{ws}/ok.npz"]
CASES = [
    ("unknown data set", None, ["train", "--dataset", "imagenet"], "unknown data set"),
    ("zero epochs", None, ["train", *NPZ, "--epochs", "0"], "--epochs must be an integer >= 1"),
    ("negative epochs", None, ["train", *NPZ, "--epochs", "-2"], "--epochs must be an integer >= 1"),
    ("zero batch size", None, ["train", *NPZ, "--batch-size", "0"], "--batch-size must be an integer >= 2"),
    ("negative batch size", None, ["train", *NPZ, "--batch_size", "-5"], "--batch-size must be an integer >= 2"),
    ("zero noise dim", None, ["train", *NPZ, "--noise-dim", "0"], "--noise-dim must be an integer >= 1"),
    ("zero categories", None, ["train", *NPZ, "--categories", "1"], "--categorical: each code needs 2..1000 values"),
    ("negative continuous", None, ["train", *NPZ, "--continuous", "-1"], "--continuous must be an integer >= 0"),
    ("NaN continuous weight", None, ["train", *NPZ, "--continuous_weight", "nan"], "must be a finite number"),
    ("infinite learning rate", None, ["train", *NPZ, "--lr-g", "inf"], "must be a finite number"),
    ("zero Q learning rate", None, ["train", *NPZ, "--lr-q", "0"], "--lr-q must be > 0"),
    ("batch larger than data", None, ["train", *NPZ, "--batch-size", "64"], "larger than the data set (32 images)"),
    ("fp16 on CPU", None, ["train", *NPZ, "--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA GPU"),
    (
        "missing data dir, no network",
        None,
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/nowhere"],
        "could not download MNIST",
    ),
    (
        "truncated .gz",
        mnist_with(truncate),
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/d"],
        "train-images-idx3-ubyte.gz",
    ),
    (
        "IDX with wrong magic",
        mnist_with(bad_magic),
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/d"],
        "bad magic number",
    ),
    (
        "IDX with wrong length",
        mnist_with(wrong_length),
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/d"],
        "truncated or corrupt",
    ),
    ("missing npz", None, ["train", "--dataset", "npz:{ws}/missing.npz"], "does not exist"),
    ("npz without x", write_npz("nox.npz", y=y8), ["train", "--dataset", "npz:{ws}/nox.npz"], "no array named 'x'"),
    (
        "npz with float x",
        write_npz("float.npz", x=x8.astype(np.float32)),
        ["train", "--dataset", "npz:{ws}/float.npz"],
        "x must be uint8",
    ),
    (
        "npz with 5-D x",
        write_npz("5d.npz", x=x8[:, None, :, :, None]),
        ["train", "--dataset", "npz:{ws}/5d.npz"],
        "x must have shape",
    ),
    (
        "npz with y of wrong length",
        write_npz("y.npz", x=x8, y=y8[:5]),
        ["train", "--dataset", "npz:{ws}/y.npz"],
        "one label per image",
    ),
    (
        "not an npz at all",
        folder({"x.png": b"junk"}),
        ["train", "--dataset", "npz:{ws}/imgs/x.png"],
        "not a readable .npz",
    ),
    ("empty image folder", folder({}), ["train", "--dataset", "folder:{ws}/imgs"], "holds no images"),
    (
        "folder of corrupt images only",
        folder({"a.png": b"\x89PNG broken", "b.jpg": b"nope"}),
        ["train", "--dataset", "folder:{ws}/imgs"],
        "none of its 2 image files could be read",
    ),
    ("missing image folder", None, ["train", "--dataset", "folder:{ws}/nope"], "does not exist"),
    ("outdir under a file", file_in_the_way, ["train", *NPZ, "--outdir", "{ws}/afile/run"], "cannot create --outdir"),
    ("outdir is a file", file_in_the_way, ["train", *NPZ, "--outdir", "{ws}/afile"], "is a file"),
    ("existing run dir without --resume", None, ["train", *NPZ, "--outdir", "{ws}/done"], "--resume"),
    (
        "--overwrite of a non-run folder",
        folder({"keep.txt": b"precious"}),
        ["train", *NPZ, "--outdir", "{ws}/imgs", "--overwrite"],
        "only replaces run directories",
    ),
    ("--resume of a missing dir", None, ["train", "--resume", "{ws}/nope"], "no such run directory"),
    (
        "--resume without checkpoint",
        run_without_checkpoint,
        ["train", "--resume", "{ws}/empty_run"],
        "no checkpoints/last.pt",
    ),
    (
        "--resume changing the architecture",
        copy_done_run,
        ["train", "--resume", "{ws}/again", "--arch", "seed-mnist"],
        "cannot change",
    ),
    (
        "truncated checkpoint",
        truncated_checkpoint,
        ["train", "--resume", "{ws}/again"],
        "truncated or not a checkpoint",
    ),
    (
        "checkpoint of another architecture",
        foreign_architecture_checkpoint,
        ["train", "--resume", "{ws}/again"],
        "does not fit",
    ),
    (
        "checkpoint with a pickle payload",
        pickle_payload_checkpoint,
        ["train", "--resume", "{ws}/again"],
        "refused (never executed)",
    ),
    ("evaluate a missing run", None, ["evaluate", "{ws}/nope"], "does not exist"),
    (
        "generate an out-of-range category",
        None,
        ["generate", "{ws}/done", "--category", "7", "--out", "{ws}/g.png"],
        "--category: code 1 takes values 0..3",
    ),
    ("generate to a non-PNG", None, ["generate", "{ws}/done", "--out", "{ws}/g.jpg"], "must name a .png"),
    # a config file
    (
        "config with an unknown field",
        config_file("c.json", '{"nonsense": 1}'),
        ["train", "--config", "{ws}/c.json"],
        "unknown field(s) nonsense",
    ),
    (
        "config not an object",
        config_file("c.json", "[1, 2]"),
        ["train", "--config", "{ws}/c.json"],
        "is not a JSON object",
    ),
    ("config not JSON", config_file("c.json", "{epochs: 1"), ["train", "--config", "{ws}/c.json"], "not valid JSON"),
    (
        "config with categories and categorical",
        config_file("c.json", '{"categories": 4, "categorical": [4]}'),
        ["train", "--config", "{ws}/c.json"],
        "both 'categories' and 'categorical'",
    ),
    (
        "config with a malformed image shape",
        config_file("c.json", '{"image_shape": [1, 8]}'),
        ["train", "--config", "{ws}/c.json"],
        "image_shape must be [channels, height, width]",
    ),
    (
        "config field of the wrong type",
        config_file("c.json", '{"epochs": "two"}'),
        ["train", "--config", "{ws}/c.json"],
        "config field 'epochs' must be",
    ),
    # options out of range or malformed
    ("beta1 of 1", None, ["train", *NPZ, "--beta1", "1.0"], "--beta1 must be in [0, 1)"),
    ("negative beta2", None, ["train", *NPZ, "--beta2", "-0.1"], "--beta2 must be in [0, 1)"),
    ("101 categorical codes", None, ["train", *NPZ, "--categorical", ",".join(["2"] * 101)], "at most 100 are allowed"),
    ("malformed --categorical", None, ["train", *NPZ, "--categorical", "a,b"], "--categorical must be comma-separated"),
    (
        "code prior without continuous codes",
        None,
        ["train", *NPZ, "--continuous", "0", "--code-prior-weight", "1"],
        "--code-prior-weight needs a continuous code",
    ),
    (
        "malformed generate --code",
        None,
        ["generate", "{ws}/done", "--code", "x", "--out", "{ws}/g.png"],
        "expected I=V",
    ),
    (
        "generate --code of a missing code",
        None,
        ["generate", "{ws}/done", "--code", "9=0.5", "--out", "{ws}/g.png"],
        "continuous codes 1..2",
    ),
    ("explore on a negative port", None, ["explore", "{ws}/done", "--port", "-1"], "--port must be in 0..65535"),
    ("explore on a port over 65535", None, ["explore", "{ws}/done", "--port", "70000"], "--port must be in 0..65535"),
    (
        "sweep with a repeated seed",
        None,
        ["sweep", "--seeds", "1,1", *NPZ, "--outdir", "{ws}/sw"],
        "--seeds must name distinct",
    ),
    (
        "sweep with a negative seed",
        None,
        ["sweep", "--seeds", "-1", *NPZ, "--outdir", "{ws}/sw"],
        "--seeds must name distinct",
    ),
    # data formats
    ("shapes of an unknown size", None, ["train", "--dataset", "shapes:13"], "the size must be one of"),
    (
        "dSprites file of another kind",
        write_npz("ds.npz", x=x8),
        ["train", "--dataset", "dsprites:{ws}/ds.npz"],
        "is not dSprites' npz",
    ),
    (
        "dSprites arrays of the wrong shape",
        write_npz("ds.npz", imgs=np.zeros((4, 8), np.uint8), latents_classes=np.zeros((4, 6), np.int64)),
        ["train", "--dataset", "dsprites:{ws}/ds.npz"],
        "expected imgs [N, 64, 64] of 0/1",
    ),
    (
        "CIFAR-10 label over 9",
        cifar_batches(bytes([12]) + bytes(3072)),
        ["train", "--dataset", "cifar10", "--data-dir", "{ws}/d"],
        "> 9: not CIFAR-10's binary version",
    ),
    (
        "CIFAR-10 batch of a wrong length",
        cifar_batches(bytes(100)),
        ["train", "--dataset", "cifar10", "--data-dir", "{ws}/d"],
        "not a multiple of the 3073-byte",
    ),
    (
        "MNIST labels of another length",
        mnist_labels_of_another_length,
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/d"],
        "do not hold matching MNIST images and labels",
    ),
    (
        "IDX with a truncated header",
        mnist_with(lambda path: path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(4)))),
        ["train", "--dataset", "mnist", "--data-dir", "{ws}/d"],
        "truncated IDX header",
    ),
    # encode
    (
        "encode with a batch of 0",
        None,
        ["encode", "{ws}/done", "npz:{ws}/ok.npz", "--batch-size", "0"],
        "--batch-size must be >= 1",
    ),
    (
        "encode --split of image files",
        folder({"a.png": b"x"}),
        ["encode", "{ws}/done", "{ws}/imgs/a.png", "--split", "test"],
        "--split chooses a data set's split",
    ),
    # options that would be ignored
    (
        "traverse --rows with --code",
        None,
        ["traverse", "{ws}/done", "--code", "1", "--rows", "3", "--out", "{ws}/t.png"],
        "drop --rows",
    ),
    (
        "traverse --steps with --categorical-code",
        None,
        ["traverse", "{ws}/done", "--categorical-code", "1", "--steps", "4", "--out", "{ws}/t.png"],
        "--steps and --range",
    ),
    (
        "traverse --range with --categorical-code",
        None,
        ["traverse", "{ws}/done", "--categorical-code", "1", "--range", "-1", "1", "--out", "{ws}/t.png"],
        "--steps and --range",
    ),
    (
        "sweep --keep without --screen-epochs",
        None,
        ["sweep", "--seeds", "0,1", "--keep", "1", *NPZ, "--outdir", "{ws}/sw"],
        "--keep says how many seeds",
    ),
    # checkpoints and weights
    (
        "checkpoint with a negative step",
        edited_checkpoint(step=-1),
        ["train", "--resume", "{ws}/again"],
        "negative step",
    ),
    (
        "checkpoint of another format",
        edited_checkpoint(format=99),
        ["train", "--resume", "{ws}/again"],
        "has format 99",
    ),
    (
        "checkpoint without its optimiser",
        edited_checkpoint(opt_g=None),
        ["train", "--resume", "{ws}/again"],
        "field 'opt_g' is",
    ),
    (
        "checkpoint over the size cap",
        oversized_checkpoint,
        ["train", "--resume", "{ws}/again"],
        "more than any infogan model",
    ),
    (
        "damaged generator weights",
        damaged_generator_weights,
        ["generate", "{ws}/again", "--out", "{ws}/g.png"],
        "cannot load generator weights",
    ),
]


if importlib.util.find_spec("tensorboard") is None:  # the case exists only where the extra is absent
    CASES.append(
        ("--tensorboard without the extra", None, ["train", *NPZ, "--tensorboard"], "pip install -e '.[tensorboard]'")
    )


BIG = 64 * 2**20  # a file this large (the sparse checkpoint over the size cap) is compared by its stat


def tree_digest(root):
    """Every file's content digest; a file over BIG by size and modification time, which a write changes, so
    the check does not read 16 GiB of a sparse file's zeros twice."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        if p.stat().st_size > BIG
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    np.savez(root / "ok.npz", x=x8, y=y8)
    assert main(["train", "--dataset", f"npz:{root / 'ok.npz'}", "--outdir", str(root / "done"), *TINY]) == 0
    return root


def test_catalogue_has_at_least_25_cases():
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name,setup,argv,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, setup, argv, expected, finished_run, tmp_path, monkeypatch, capsys):
    ws = tmp_path
    shutil.copytree(finished_run, ws, dirs_exist_ok=True)
    monkeypatch.setattr(formats, "MNIST_MIRRORS", ["http://127.0.0.1:9/"])  # no network, fast
    if setup:
        setup(ws)
    before = tree_digest(ws)
    argv = [a.format(ws=ws) for a in argv]
    if argv[0] == "train" and "--resume" not in argv:
        argv = ["train", *TINY, "--outdir", str(ws / "new"), *argv[1:]]  # the case's own flags come last and win
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(argv))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert exited.value.code == 2, err
    assert expected in err, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert tree_digest(ws) == before  # nothing written before was removed or changed
    assert not (ws / MARKER).exists()  # the pickle payload never ran


def test_non_finite_loss_stops_and_keeps_the_good_checkpoint(tmp_path, monkeypatch, capsys):
    """A loss that turns NaN is caught at the next log interval; last.pt stays the previous good one."""
    from infogan.train import step as training  # the step module holds update_step

    np.savez(tmp_path / "ok.npz", x=x8, y=y8)
    args = ["train", "--dataset", f"npz:{tmp_path / 'ok.npz'}", "--outdir", str(tmp_path / "run"), *TINY]
    assert main(args[:-2] + ["--log-every", "1", "--epochs", "1"]) == 0  # TINY ends with --log-every 2
    real_step, calls = training.update_step, {"n": 0}

    def poisoned(*a, **k):
        calls["n"] += 1
        stats = real_step(*a, **k)
        return {k: v * float("nan") for k, v in stats.items()} if calls["n"] >= 3 else stats

    monkeypatch.setattr(training, "update_step", poisoned)
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "3", "--no-progress", "--log-every", "1"]) == 1
    err = capsys.readouterr().err
    assert "NaN/inf by step 5" in err and "last good state" in err and "Traceback" not in err
    # last.pt is the end of epoch 2 (step 4), the last state before the NaN, with finite weights
    from infogan.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (ckpt["epoch"], ckpt["step"]) == (2, 4)
    assert all(torch.isfinite(v).all() for v in ckpt["generator"].values() if v.is_floating_point())


def test_image_metrics_without_torch_fidelity_is_one_line(tiny_npz, tmp_path, capsys):
    if importlib.util.find_spec("torch_fidelity") is not None:
        pytest.skip("torch-fidelity is installed here: tests/test_image_metrics.py covers it")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tiny_npz}",
                "--outdir",
                str(out),
                "--image-metrics-every",
                "1",
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torchvision release made for your torch" in err[0] and "make install-fidelity" in err[0]
    assert not out.exists()  # refused before anything was written
