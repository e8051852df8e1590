import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch
from conftest import blob_images, idx_bytes, serve_folder, write_mnist_files

from infogan.data import datasets as data
from infogan.data import formats
from infogan.errors import UsageError


# ---------------------------------------------------------------- IDX
def test_idx_round_trip_plain_and_gz(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a.idx", "a.idx.gz"):
        assert np.array_equal(formats.read_idx(tmp_path / name), array)


def test_idx_bad_magic_and_wrong_length():
    good = idx_bytes(np.zeros((2, 2, 2), dtype=np.uint8))
    with pytest.raises(UsageError, match="magic"):
        formats.parse_idx(b"\x01\x02" + good[2:])
    with pytest.raises(UsageError, match="truncated"):
        formats.parse_idx(good[:-1])
    with pytest.raises(UsageError, match="truncated"):
        formats.parse_idx(good + b"\x00")


def test_mnist_reads_canonical_files(tmp_path):
    write_mnist_files(tmp_path / "mnist", n_train=20, n_test=7)
    train = data.load_dataset("MNIST", tmp_path)
    test = data.load_dataset("mnist", tmp_path, split="test")
    assert train.images.shape == (20, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.shape == (20,) and train.labels.dtype == torch.int64
    assert test.images.shape == (7, 1, 28, 28) and train.name == "mnist"


def test_truncated_gz_is_a_clear_error(tmp_path):
    write_mnist_files(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz"):
        data.load_dataset("mnist", tmp_path)


# ---------------------------------------------------------------- CIFAR-10 binary
def cifar_records(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    pixels = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = b"".join(bytes([labels[i]]) + pixels[i].tobytes() for i in range(n))
    return raw, pixels, labels


def test_cifar_binary_parsing():
    raw, pixels, labels = cifar_records(5)
    images, got_labels = formats.parse_cifar_binary(raw)
    assert np.array_equal(images, pixels) and np.array_equal(got_labels, labels)
    with pytest.raises(UsageError, match="multiple"):
        formats.parse_cifar_binary(raw[:-1])


def test_cifar10_from_archive_and_from_folder(tmp_path):
    root = tmp_path / "cifar10"
    root.mkdir()
    batches = {f"data_batch_{i}.bin": cifar_records(3, i) for i in range(1, 6)}
    batches["test_batch.bin"] = cifar_records(4, 9)
    with tarfile.open(root / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, (raw, _, _) in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    train = data.load_dataset("cifar10", tmp_path)
    assert train.images.shape == (15, 3, 32, 32)
    assert np.array_equal(train.images[:3].numpy(), batches["data_batch_1.bin"][1])
    assert data.load_dataset("CIFAR10", tmp_path, split="test").images.shape == (4, 3, 32, 32)
    # an extracted folder is used as it is
    (root / "cifar-10-binary.tar.gz").unlink()
    folder = root / "cifar-10-batches-bin"
    folder.mkdir()
    for name, (raw, _, _) in batches.items():
        (folder / name).write_bytes(raw)
    assert len(data.load_dataset("cifar10", tmp_path)) == 15


# ---------------------------------------------------------------- npz and folders
def test_npz_layouts_and_labels(tmp_path):
    x, y = blob_images(10, 8, channels=3)
    np.savez(tmp_path / "rgb.npz", x=x, y=y)
    d = data.load_dataset(f"npz:{tmp_path / 'rgb.npz'}")
    assert d.images.shape == (10, 3, 8, 8) and d.labels.tolist() == y.tolist() and d.name == "npz-rgb"
    assert torch.equal(d.images[0, 1], torch.from_numpy(x[0, :, :, 1]))
    np.savez(tmp_path / "grey.npz", x=x[..., 0])
    d = data.load_dataset(f"NPZ:{tmp_path / 'grey.npz'}")
    assert d.images.shape == (10, 1, 8, 8) and d.labels is None


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"y": np.zeros(3)}, "no array named 'x'"),
        ({"x": np.zeros((3, 8, 8), dtype=np.float32)}, "uint8"),
        ({"x": np.zeros((3, 8, 8, 3, 1), dtype=np.uint8)}, "shape"),
        ({"x": np.zeros((3, 8, 8), dtype=np.uint8), "y": np.zeros(2, dtype=np.int64)}, "one label per image"),
    ],
)
def test_bad_npz_is_named(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UsageError, match=message):
        data.load_dataset(f"npz:{tmp_path / 'bad.npz'}")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([object()], dtype=object))
    with pytest.raises(UsageError, match="plain arrays"):
        data.load_dataset(f"npz:{tmp_path / 'obj.npz'}")


def test_folder_of_images_resized_and_corrupt_skipped(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "imgs" / "a.png")
    Image.new("L", (16, 16), 128).save(tmp_path / "imgs" / "sub" / "b.jpg")
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    d = data.load_dataset(f"folder:{tmp_path / 'imgs'}", image_size=8, channels=3)
    assert d.images.shape == (2, 3, 8, 8) and d.labels is None
    assert d.images[0, 0].min() == 255 and d.images[0, 1].max() == 0  # red, cropped and resized
    assert "skipped 1 unreadable" in capsys.readouterr().err
    grey = data.load_dataset(f"folder:{tmp_path / 'imgs'}", image_size=8, channels=1)
    assert grey.images.shape == (2, 1, 8, 8)


def test_unknown_and_malformed_specs():
    for spec in ("imagenet", "", "npz:", "mnist:extra"):
        with pytest.raises(UsageError):
            data.parse_spec(spec)


def test_mnist_sample_is_bundled_real_digits():
    d = data.load_dataset("mnist-sample")
    assert d.images.shape == (5000, 1, 28, 28)
    assert torch.bincount(d.labels).tolist() == [500] * 10
    assert 0.08 < d.images.float().mean().item() / 255 < 0.2  # MNIST's ink coverage is about 13%


# ---------------------------------------------------------------- download from a local HTTP server
@pytest.fixture
def http_mirror(tmp_path):
    served = tmp_path / "served"
    hashes = write_mnist_files(served, n_train=12, n_test=5)
    with serve_folder(served) as url:
        yield url, hashes


def test_download_with_right_hash_loads(tmp_path, monkeypatch, http_mirror):
    url, hashes = http_mirror
    monkeypatch.setattr(formats, "MNIST_FILES", hashes)
    monkeypatch.setattr(formats, "MNIST_MIRRORS", [url])
    d = data.load_dataset("mnist", tmp_path / "cache")
    assert d.images.shape == (12, 1, 28, 28)
    assert (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_download_mirror_env_var_is_tried_first(tmp_path, monkeypatch, http_mirror):
    url, hashes = http_mirror
    monkeypatch.setattr(formats, "MNIST_FILES", hashes)
    monkeypatch.setattr(formats, "MNIST_MIRRORS", ["http://127.0.0.1:9/unreachable/"])
    monkeypatch.setenv("INFOGAN_DOWNLOAD_MIRROR", url)
    assert len(data.load_dataset("mnist", tmp_path / "cache", split="test")) == 5


def test_download_with_wrong_hash_is_refused_exit_2(tmp_path, monkeypatch, http_mirror, capsys):
    from infogan.cli import main

    url, hashes = http_mirror
    monkeypatch.setattr(formats, "MNIST_FILES", {k: hashlib.sha256(b"other").hexdigest() for k in hashes})
    monkeypatch.setattr(formats, "MNIST_MIRRORS", [url])
    status = main(
        ["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "cache"), "--outdir", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "SHA-256 mismatch" in err and "mnist-sample" in err and str(tmp_path / "cache") in err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("infogan train: error:") and "Traceback" not in err
    assert not (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()
    assert not (tmp_path / "run").exists()


def test_no_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MNIST_MIRRORS", ["http://127.0.0.1:9/"])
    with pytest.raises(UsageError, match="could not download MNIST.*mnist-sample"):
        data.load_dataset("mnist", tmp_path)
