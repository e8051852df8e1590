"""The readers of each file format a data set comes in: IDX (MNIST), CIFAR-10's binary batches, SVHN's .mat,
dSprites and the drawn shapes, npz, and folders of images. Each returns `ImageData` (images.py)."""

from __future__ import annotations

import gzip
import io
import struct
import sys
import tarfile
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from infogan.data import shapes
from infogan.data.download import fetch
from infogan.data.images import IMAGE_SUFFIXES, LABEL_KEY, ImageData
from infogan.data.shapes import FACTOR_NAMES
from infogan.errors import UsageError
from infogan.files import check_regular_file, read_file

# ---------------------------------------------------------------------------------------------- IDX (MNIST)
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


MAX_IDX_BYTES = 2 * 2**30  # MNIST's largest file holds 47 MB; a header asking for more is not MNIST


def _idx_header(head: bytes, source: str) -> tuple[int, tuple[int, ...], np.dtype, int]:
    """(header length, dims, dtype, payload bytes) from the IDX header: 2 zero bytes, a dtype code, the
    number of dims, then the dims as big-endian int32."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise UsageError(
            f"{source} is not an IDX file (bad magic number {head[:4].hex() or 'empty'}): "
            f"delete it and download it again"
        )
    ndim = head[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(head) < header:
        raise UsageError(f"{source} has a truncated IDX header: delete it and download it again")
    dims = struct.unpack(f">{ndim}I", head[4:header])
    dtype = np.dtype(_IDX_DTYPES[head[2]])
    payload = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if payload > MAX_IDX_BYTES:
        raise UsageError(
            f"{source}: its IDX header {list(dims)} asks for {payload:,} bytes, more than MNIST's "
            f"files hold: the file is corrupt, delete it and download it again"
        )
    return header, dims, dtype, payload


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse a whole IDX file held in memory."""
    header, dims, dtype, payload = _idx_header(raw[: 4 + 4 * 255], source)
    if len(raw) != header + payload:
        raise UsageError(
            f"{source} holds {len(raw)} bytes but its header {list(dims)} needs {header + payload}: "
            f"the file is truncated or corrupt, delete it and download it again"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped or not, streaming: the header says how many bytes follow, and reading
    stops there, so a file that inflates to far more than its header announces is never held whole."""
    check_regular_file(path, "IDX file")
    try:
        with open(path, "rb") as raw_fh:
            gzipped = raw_fh.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
            head = fh.read(4)
            head += fh.read(4 * head[3]) if len(head) == 4 else b""
            header, dims, dtype, payload = _idx_header(head, str(path))
            body = fh.read(payload)
            extra = fh.read(1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"cannot read {path}: {exc}; delete it and download it again") from None
    if len(body) != payload or extra:
        raise UsageError(
            f"{path} holds {'more' if extra else len(body) + header} bytes but its header {list(dims)} "
            f"needs {header + payload}: the file is truncated or corrupt, delete it and download it again"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


MNIST_FILES = {
    # name: sha256 (the files every mirror serves; sizes 9,912,422 / 28,881 / 1,648,877 / 4,542 bytes)
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

CIFAR10_FILES = {"cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}
CIFAR10_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]


def load_mnist(root: Path, split: str = "train") -> ImageData:
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images_path, labels_path = (
        fetch(root / "mnist", name, MNIST_FILES[name], MNIST_MIRRORS, "MNIST") for name in names
    )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise UsageError(f"{images_path} and {labels_path} do not hold matching MNIST images and labels")
    return ImageData("mnist", torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def load_mnist_sample(split: str = "train") -> ImageData:
    """The bundled digits: 5,000 to train on (500 per class), and 1,000 others (100 per class) held out, both
    from the same 10,000 real MNIST training digits and disjoint (docs/training.md, Data sets)."""
    name = "mnist_sample.npz" if split == "train" else "mnist_sample_test.npz"
    with resources.files("infogan").joinpath(f"assets/{name}").open("rb") as fh:
        data = load_npz_bytes(fh.read(), f"the bundled mnist-sample ({split})")
    data.name = "mnist-sample"
    return data


# ---------------------------------------------------------------------------------------------- CIFAR-10 binary
CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte + 3 colour planes of 32x32


def parse_cifar_binary(raw: bytes, source: str = "CIFAR-10 batch") -> tuple[np.ndarray, np.ndarray]:
    """Records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane, row-major)."""
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise UsageError(
            f"{source} holds {len(raw)} bytes, not a multiple of the {CIFAR_RECORD}-byte CIFAR-10 "
            f"record: the file is truncated or not CIFAR-10's binary version"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise UsageError(f"{source} has label {labels.max()} > 9: not CIFAR-10's binary version")
    images = records[:, 1:].reshape(-1, 3, 32, 32)
    return images, labels


def load_cifar10(root: Path, split: str = "train") -> ImageData:
    members = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    folder = root / "cifar10" / "cifar-10-batches-bin"
    if all((folder / m).exists() for m in members):
        blobs = [(str(folder / m), (folder / m).read_bytes()) for m in members]
    else:
        archive = fetch(
            root / "cifar10",
            "cifar-10-binary.tar.gz",
            CIFAR10_FILES["cifar-10-binary.tar.gz"],
            CIFAR10_MIRRORS,
            "CIFAR-10",
        )
        blobs = _read_tar_members(archive, members)
    parts = [parse_cifar_binary(raw, name) for name, raw in blobs]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return ImageData("cifar10", torch.from_numpy(images), torch.from_numpy(labels))


def _read_tar_members(archive: Path, members: list[str]) -> list[tuple[str, bytes]]:
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                base = Path(info.name).name
                if info.isfile() and base in members:
                    found[base] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UsageError(f"cannot read {archive}: {exc}; delete it and download it again") from None
    missing = [m for m in members if m not in found]
    if missing:
        raise UsageError(f"{archive} lacks {', '.join(missing)}: it is not CIFAR-10's binary version")
    return [(f"{archive}:{m}", found[m]) for m in members]


# ---------------------------------------------------------------------------------------------- SVHN (.mat)
SVHN_FILES = {  # sha256 (sizes 182,040,794 and 64,275,384 bytes)
    "train_32x32.mat": "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
    "test_32x32.mat": "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
}
SVHN_MIRRORS = ["http://ufldl.stanford.edu/housenumbers/"]


def load_svhn(root: Path, split: str = "train") -> ImageData:
    """SVHN's cropped digits: a MATLAB v5 file with X uint8 [32, 32, 3, N] and y [N, 1] in 1..10, where 10
    stands for the digit 0. Read with scipy.io (MATLAB's format, no pickle)."""
    name = f"{split}_32x32.mat"
    return read_svhn_mat(fetch(root / "svhn", name, SVHN_FILES[name], SVHN_MIRRORS, "SVHN"))


def read_svhn_mat(path: Path) -> ImageData:
    from scipy.io import loadmat

    check_regular_file(path, "SVHN file", max_bytes=2 * 2**30)
    try:
        mat = loadmat(str(path), variable_names=["X", "y"])
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError, ... for damaged files
        raise UsageError(
            f"cannot read {path} as a MATLAB file ({type(exc).__name__}: {str(exc)[:120]}): "
            f"delete it and download it again"
        ) from None
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None or x.dtype != np.uint8 or x.ndim != 4 or x.shape[2] != 3 or y.size != x.shape[3]:
        raise UsageError(
            f"{path} does not hold SVHN's X uint8 [32, 32, 3, N] and y [N, 1]: "
            f"is it the cropped-digits format (train_32x32.mat)?"
        )
    labels = y.reshape(-1).astype(np.int64)
    if labels.min() < 1 or labels.max() > 10:
        raise UsageError(f"{path} has labels outside 1..10: not SVHN's cropped digits")
    labels[labels == 10] = 0  # SVHN writes the digit 0 as label 10
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))  # [32, 32, 3, N] -> [N, 3, 32, 32]
    return ImageData("svhn", torch.from_numpy(images), torch.from_numpy(labels))


# ---------------------------------------------------------------------------------------------- shapes, dSprites
def load_shapes(root: Path, size: str | None) -> ImageData:

    try:
        side = int(size or 64)
    except ValueError:
        side = -1
    if side not in shapes.SIZES:
        raise UsageError(f"--dataset shapes:{size}: the size must be one of {', '.join(map(str, shapes.SIZES))}")
    try:
        images, factors = shapes.cached(root / "shapes", side)
    except OSError as exc:
        raise UsageError(
            f"cannot read or build the shapes data set in {root / 'shapes'}: {exc.strerror or exc}; pass --data-dir"
        ) from None
    return _factor_data("shapes", images, factors, shapes.FACTOR_NAMES)


def load_dsprites(path: Path) -> ImageData:
    """The original dSprites npz: `imgs` [737280, 64, 64] of 0/1 and `latents_classes` [N, 6] (colour, shape,
    scale, orientation, x, y). Its `metadata` entry is a pickle: it is never touched (allow_pickle=False)."""
    check_regular_file(path, "dSprites file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, classes = npz["imgs"], npz["latents_classes"]
    except Exception as exc:  # zip errors, a missing array
        raise UsageError(f"{path} is not dSprites' npz (imgs, latents_classes): {type(exc).__name__}: {exc}") from None
    if images.ndim != 3 or classes.ndim != 2 or classes.shape != (len(images), 6) or images.max(initial=0) > 1:
        raise UsageError(f"{path}: expected imgs [N, 64, 64] of 0/1 and latents_classes [N, 6]")

    return _factor_data("dsprites", images.astype(np.uint8) * 255, classes[:, 1:], FACTOR_NAMES)


def _factor_data(name: str, images: np.ndarray, factors: np.ndarray, names) -> ImageData:
    labels = {n: torch.from_numpy(factors[:, i].astype(np.int64)) for i, n in enumerate(names)}
    first = names[0]
    return ImageData(name, torch.from_numpy(images).unsqueeze(1), labels.pop(first), labels, label_name=first)


# ---------------------------------------------------------------------------------------------- npz
def load_npz(path: Path) -> ImageData:
    return load_npz_bytes(read_file(path, "npz file"), str(path))


def load_npz_bytes(raw: bytes, source: str) -> ImageData:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files if key == "x" or LABEL_KEY.fullmatch(key)}
    except Exception as exc:  # zip errors, bad headers, object arrays (pickle refused)
        raise UsageError(f"{source} is not a readable .npz of plain arrays ({type(exc).__name__}: {exc})") from None
    if "x" not in arrays:
        raise UsageError(f"{source} has no array named 'x' (expected x: uint8 [N, H, W] or [N, H, W, C])")
    x = arrays.pop("x")
    if x.dtype != np.uint8:
        raise UsageError(
            f"{source}: x must be uint8 in [0, 255], got {x.dtype}; convert with (x * 255).astype(np.uint8)"
        )
    if x.ndim == 3:
        x = x[:, None]  # [N, 1, H, W]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # [N, H, W, C] -> [N, C, H, W]
    else:
        raise UsageError(f"{source}: x must have shape [N, H, W] or [N, H, W, C] with C 1 or 3, got {list(x.shape)}")
    if min(x.shape[2:]) < 4:
        raise UsageError(f"{source}: images of {x.shape[2]}x{x.shape[3]} pixels are too small (at least 4x4)")
    factors = {}
    for key in sorted(arrays, key=lambda k: int(k[1:] or 1)):  # y, y2, y3, ...
        y = arrays[key]
        if y.ndim != 1 or len(y) != len(x):
            raise UsageError(
                f"{source}: {key} must be 1-D with one label per image ({len(x)}), got shape {list(y.shape)}"
            )
        if not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"{source}: {key} must hold integer labels, got {y.dtype}")
        factors[key] = torch.from_numpy(y.astype(np.int64))
    if factors and "y" not in factors:
        raise UsageError(f"{source}: has label arrays {', '.join(factors)} but no 'y': name the first factor y")
    labels = factors.pop("y", None)
    return ImageData("npz", torch.from_numpy(np.ascontiguousarray(x)), labels, factors)


# ---------------------------------------------------------------------------------------------- image folder
def load_folder(path: Path, image_size: int, channels: int, crop: int | None = None) -> ImageData:
    """Every image under `path` (recursively, sorted): the centre square of side `crop` (default: the
    largest square), resized to image_size. Unreadable files are skipped with one warning."""
    from PIL import Image

    if not path.is_dir():
        raise UsageError(f"image folder {path} does not exist or is not a folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UsageError(f"image folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    mode = "L" if channels == 1 else "RGB"
    arrays, bad = [], []
    for file in files:
        try:
            with Image.open(file) as img:
                img = img.convert(mode)
                side = min(img.size) if crop is None else min(crop, *img.size)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side)).resize((image_size, image_size), Image.BICUBIC)
                arrays.append(np.asarray(img, dtype=np.uint8).reshape(image_size, image_size, channels))
        except Exception:  # PIL raises many types for damaged files (and bombs); a bad file is skipped
            bad.append(file)
    if not arrays:
        raise UsageError(f"image folder {path}: none of its {len(files)} image files could be read")
    if bad:
        print(f"warning: skipped {len(bad)} unreadable image(s) in {path}, e.g. {bad[0]}", file=sys.stderr)
    x = np.stack(arrays).transpose(0, 3, 1, 2)  # [N, C, H, W]
    return ImageData("folder", torch.from_numpy(np.ascontiguousarray(x)), None)
