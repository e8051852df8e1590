"""Data sets as one uint8 tensor in memory, and the readers and downloaders behind them.

Every loader returns `ImageData`: images uint8 [N, C, H, W] (normalised to [-1, 1] on the fly, batch by
batch, by `to_unit_range`) and, when the data set has them, int64 labels [N]. Labels are kept for
evaluation and never used in training.

Data set specs (`--dataset`, names case-insensitive):
- `mnist`          MNIST's four IDX .gz files in the data dir; downloaded with pooch and SHA-256 checked
                   when absent. split "train" = 60,000 digits, "test" = the official 10,000.
- `mnist-sample`   5,000 real MNIST training digits (500 per class) shipped inside the package; offline.
- `cifar10`        CIFAR-10's *binary* version (cifar-10-binary.tar.gz, or its extracted folder). No pickle
                   is ever loaded.
- `npz:PATH`       array `x` uint8 [N, H, W] or [N, H, W, C]; optional labels `y` [N]. Loaded without pickle.
- `folder:PATH`    every image file under PATH, centre-cropped square and resized to `image_size`.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import sys
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .errors import UsageError

DATASET_KINDS = ("mnist", "mnist-sample", "cifar10", "npz", "folder")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class ImageData:
    name: str  # short name for run directories and reports, e.g. "mnist", "npz-digits"
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor | None  # int64 [N], or None

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def to_unit_range(images_uint8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    # uint8 [0, 255] -> [-1, 1], matching the generator's tanh output
    return images_uint8.to(dtype) / 127.5 - 1.0


# ---------------------------------------------------------------------------------------------- specs
def parse_spec(spec: str) -> tuple[str, str | None]:
    """'MNIST' -> ('mnist', None); 'npz:/a/b.npz' -> ('npz', '/a/b.npz'). Kinds are case-insensitive."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError("--dataset is empty: use mnist, mnist-sample, cifar10, npz:PATH or folder:PATH")
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("npz", "folder"):
        if not sep or not path:
            raise UsageError(f"--dataset {spec!r} needs a path: {kind}:PATH")
        return kind, path
    if sep or kind not in DATASET_KINDS:
        raise UsageError(f"unknown data set {spec!r}: use mnist, mnist-sample, cifar10, npz:PATH or folder:PATH")
    return kind, None


def dataset_name(spec: str) -> str:
    kind, path = parse_spec(spec)
    if path is None:
        return kind
    stem = Path(path.rstrip("/\\")).stem or kind
    return f"{kind}-{stem}"


def default_data_dir() -> Path:
    env = os.environ.get("INFOGAN_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infogan"


def load_dataset(spec: str, data_dir: str | os.PathLike | None = None, split: str = "train",
                 image_size: int = 32, channels: int = 3) -> ImageData:
    """Load a data set by spec; every user-fixable problem raises UsageError with one clear line."""
    kind, path = parse_spec(spec)
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    if kind == "mnist":
        data = load_mnist(root, split)
    elif kind == "mnist-sample":
        data = load_mnist_sample()
    elif kind == "cifar10":
        data = load_cifar10(root, split)
    elif kind == "npz":
        data = load_npz(Path(path).expanduser())
    else:
        data = load_folder(Path(path).expanduser(), image_size, channels)
    data.name = dataset_name(spec)
    if len(data) == 0:
        raise UsageError(f"data set {spec!r} holds no images")
    return data


# ---------------------------------------------------------------------------------------------- IDX (MNIST)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the IDX format: 2 zero bytes, a dtype code, the number of dims, dims as big-endian int32."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise UsageError(f"{source} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'}): "
                         f"delete it and download it again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise UsageError(f"{source} has a truncated IDX header: delete it and download it again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise UsageError(f"{source} holds {len(raw)} bytes but its header {list(dims)} needs {expected}: "
                         f"the file is truncated or corrupt, delete it and download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"cannot read {path}: {exc}; delete it and download it again") from None
    return parse_idx(raw, str(path))


MNIST_FILES = {
    # name: sha256 (the files every mirror serves; sizes 9,912,422 / 28,881 / 1,648,877 / 4,542 bytes)
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"]

CIFAR10_FILES = {"cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}
CIFAR10_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]


def load_mnist(root: Path, split: str = "train") -> ImageData:
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images_path, labels_path = (fetch(root / "mnist", name, MNIST_FILES[name], MNIST_MIRRORS, "MNIST")
                                for name in names)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise UsageError(f"{images_path} and {labels_path} do not hold matching MNIST images and labels")
    return ImageData("mnist", torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def load_mnist_sample() -> ImageData:
    with resources.files("infogan").joinpath("assets/mnist_sample.npz").open("rb") as fh:
        data = load_npz_bytes(fh.read(), "the bundled mnist-sample")
    data.name = "mnist-sample"
    return data


# ---------------------------------------------------------------------------------------------- CIFAR-10 binary
CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte + 3 colour planes of 32x32


def parse_cifar_binary(raw: bytes, source: str = "CIFAR-10 batch") -> tuple[np.ndarray, np.ndarray]:
    """Records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane, row-major)."""
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise UsageError(f"{source} holds {len(raw)} bytes, not a multiple of the {CIFAR_RECORD}-byte CIFAR-10 "
                         f"record: the file is truncated or not CIFAR-10's binary version")
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
        archive = fetch(root / "cifar10", "cifar-10-binary.tar.gz", CIFAR10_FILES["cifar-10-binary.tar.gz"],
                        CIFAR10_MIRRORS, "CIFAR-10")
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


# ---------------------------------------------------------------------------------------------- download
def fetch(folder: Path, name: str, sha256: str, mirrors: list[str], what: str) -> Path:
    """Return folder/name, downloading it (SHA-256 verified) when absent.

    `$INFOGAN_DOWNLOAD_MIRROR` (a base URL) is tried before the built-in mirrors. A file already on disk is
    trusted as the user put it there; the readers check its structure.
    """
    target = folder / name
    if target.exists():
        return target
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is a hard dependency
        raise UsageError("downloading needs the pooch package: pip install pooch") from None
    bases = ([os.environ["INFOGAN_DOWNLOAD_MIRROR"]] if os.environ.get("INFOGAN_DOWNLOAD_MIRROR") else []) + mirrors
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the data dir {folder}: {exc.strerror}; pass --data-dir") from None
    pooch.get_logger().setLevel("WARNING")  # no "Downloading ..." chatter; a bar shows on a terminal
    errors = []
    for base in bases:
        url = base.rstrip("/") + "/" + name
        try:
            path = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=name, path=folder,
                                  progressbar=sys.stderr.isatty())
            return Path(path)
        except Exception as exc:  # network errors, HTTP errors, hash mismatch: try the next mirror
            errors.append(f"{url}: {_download_failure(exc)}")
    raise UsageError(f"could not download {what} file {name} ({'; '.join(errors)}). Put the file in {folder} "
                     f"by hand, or use --dataset mnist-sample, which works offline")


def _download_failure(exc: Exception) -> str:
    """A short reason for a failed download, instead of urllib3's nested repr."""
    text = str(exc)
    if "hash" in text.lower():
        return "SHA-256 mismatch (file corrupt or tampered with; not used)"
    name = type(exc).__name__
    if "ConnectionError" in name or "connection" in text.lower():
        return "no connection"
    if "Timeout" in name:
        return "timed out"
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    return (text.splitlines()[0] if text else name)[:120]


# ---------------------------------------------------------------------------------------------- npz
def load_npz(path: Path) -> ImageData:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"npz file {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read npz file {path}: {exc.strerror or exc}") from None
    return load_npz_bytes(raw, str(path))


def load_npz_bytes(raw: bytes, source: str) -> ImageData:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files if key in ("x", "y")}
    except Exception as exc:  # zip errors, bad headers, object arrays (pickle refused)
        raise UsageError(f"{source} is not a readable .npz of plain arrays ({type(exc).__name__}: {exc})") from None
    if "x" not in arrays:
        raise UsageError(f"{source} has no array named 'x' (expected x: uint8 [N, H, W] or [N, H, W, C])")
    x = arrays["x"]
    if x.dtype != np.uint8:
        raise UsageError(f"{source}: x must be uint8 in [0, 255], got {x.dtype}; convert with (x * 255).astype(np.uint8)")
    if x.ndim == 3:
        x = x[:, None]  # [N, 1, H, W]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # [N, H, W, C] -> [N, C, H, W]
    else:
        raise UsageError(f"{source}: x must have shape [N, H, W] or [N, H, W, C] with C 1 or 3, got {list(x.shape)}")
    if min(x.shape[2:]) < 4:
        raise UsageError(f"{source}: images of {x.shape[2]}x{x.shape[3]} pixels are too small (at least 4x4)")
    labels = None
    if "y" in arrays:
        y = arrays["y"]
        if y.ndim != 1 or len(y) != len(x):
            raise UsageError(f"{source}: y must be 1-D with one label per image ({len(x)}), got shape {list(y.shape)}")
        if not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"{source}: y must hold integer labels, got {y.dtype}")
        labels = torch.from_numpy(y.astype(np.int64))
    return ImageData("npz", torch.from_numpy(np.ascontiguousarray(x)), labels)


# ---------------------------------------------------------------------------------------------- image folder
def load_folder(path: Path, image_size: int, channels: int) -> ImageData:
    """Every image under `path` (recursively, sorted). Unreadable files are skipped with one warning."""
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
                side = min(img.size)
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
