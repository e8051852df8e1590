"""Data sets as one uint8 tensor in memory, and the readers and downloaders behind them.

Every loader returns `ImageData`: images uint8 [N, C, H, W] (normalised to [-1, 1] on the fly, batch by
batch, by `to_unit_range`) and, when the data set has them, int64 labels [N] per ground-truth factor
(`y`, and `y2`, `y3`, ... for data with several factors). Labels are kept for evaluation and never used
in training.

`DATASETS` is the one table of data sets (`--dataset`, names case-insensitive): what each is, its loader,
whether it has an official test split (evaluate scores on it), and the preset a run on it takes by default.
Adding a data set is one entry there plus its loader; help texts and error messages are made from it.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import struct
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from infogan.data import shapes
from infogan.data.shapes import FACTOR_NAMES
from infogan.errors import UsageError
from infogan.files import check_regular_file, read_file

LABEL_KEY = re.compile(r"y([2-9]|[1-9][0-9]+)?")  # npz label arrays: y, y2, y3, ... (one per ground-truth factor)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class ImageData:
    name: str  # short name for run directories and reports, e.g. "mnist", "npz-digits"
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor | None  # int64 [N] (the first ground-truth factor, named label_name), or None
    more_labels: dict[str, torch.Tensor] = field(default_factory=dict)  # further factors: {"y2": int64 [N], ...}
    label_name: str = "y"  # the first factor's name ("shape" for the shapes data set)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def factors(self) -> dict[str, torch.Tensor]:
        """Every ground-truth factor by name, the first first; empty without labels."""
        return {**({self.label_name: self.labels} if self.labels is not None else {}), **self.more_labels}

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def to_unit_range(images_uint8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    # uint8 [0, 255] -> [-1, 1], matching the generator's tanh output
    return images_uint8.to(dtype) / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    # [-1, 1] (any float, any device) -> uint8 [0, 255] on the CPU, the inverse of to_unit_range
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@torch.no_grad()
def batched(fn, images_uint8: torch.Tensor, batch_size: int = 500, device="cpu") -> torch.Tensor:
    """fn applied to uint8 images [N, C, H, W] in batches, each moved to `device` and put in [-1, 1]; the
    outputs ([B, ...] tensors) concatenated on the CPU. The one loop of every network run on real images."""
    return torch.cat(
        [
            fn(to_unit_range(images_uint8[i : i + batch_size].to(device))).float().cpu()
            for i in range(0, len(images_uint8), batch_size)
        ]
    )


# ---------------------------------------------------------------------------------------------- in training
# Labelled images scored per epoch when the data set has labels. 2,000 put the accuracy's standard error
# at most 0.012 (binomial, any accuracy) at 0.6 s an epoch on a 2-core CPU; 5,000 cost 1.4-1.7 s, 7% of a
# 5,000-digit epoch on their own. `infogan evaluate` scores the held-out split in full.
EPOCH_EVAL_IMAGES = 2000


@dataclass
class TrainingImages:
    """The training images where the step reads them, and the fixed subsets the per-epoch metrics read."""

    images: torch.Tensor  # uint8 [N, C, H, W], on the device when it fits
    copy_batches: bool  # batches come from pinned host memory to an accelerator
    labelled: tuple[torch.Tensor, dict] | None  # (images, {factor: labels}) scored per epoch, rank 0 only
    fidelity_real: torch.Tensor | None  # real images for --image-metrics-every, rank 0 only
    health_real: torch.Tensor  # 64 real images: the health monitor's measure of the data's diversity

    @classmethod
    def place(
        cls,
        data: ImageData,
        device: torch.device,
        seed: int,
        is_main: bool,
        fidelity_images: int = 0,
        scored: ImageData | None = None,
    ) -> TrainingImages:
        """`fidelity_images`: how many real images --image-metrics-every compares with (0: none); `scored`:
        labelled images the per-epoch metrics read instead of the training images (--eval-dataset)."""
        images = place_images(data.images, device)
        labelled = fidelity = None
        # Labels (never used for training) let each epoch report how well Q's categories match them,
        # on a fixed subset so the number is comparable across epochs and cheap on large data sets.
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
        source = scored if scored is not None else data
        if source.labels is not None and is_main:
            chosen = pick[:EPOCH_EVAL_IMAGES] if scored is None else torch.arange(min(len(scored), EPOCH_EVAL_IMAGES))
            labelled = (source.images[chosen], {name: y[chosen].numpy() for name, y in source.factors.items()})
        if fidelity_images and is_main:
            fidelity = data.images[pick[: min(fidelity_images, len(data))]]
        return cls(images, needs_host_copy(images.device, device), labelled, fidelity, data.images[pick[:64]])


def place_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The data set on the device when it fits (no copies per step); else in pinned host memory."""
    if device.type == "cpu":
        return images
    try:
        return images.to(device)
    except torch.OutOfMemoryError:
        print(
            f"note: the data set ({images.numel() / 2**20:.0f} MiB) does not fit on {device}; batches are copied "
            f"from pinned host memory",
            file=sys.stderr,
        )
        return images.pin_memory() if device.type == "cuda" else images


def needs_host_copy(data_device: torch.device, run_device: torch.device) -> bool:
    """Whether batches come from host memory to an accelerator. Compared by type: the data sits on
    `cuda:0` while the run's device may be plain `cuda`, and those two devices compare unequal."""
    return data_device.type == "cpu" and run_device.type != "cpu"


# ---------------------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class DataRequest:
    """What a loader is asked for."""

    root: Path  # the data dir (downloads go below it)
    split: str  # "train" or "test"
    argument: str | None  # what follows KIND: in the spec (a path, or shapes' size)
    image_size: int = 32  # folder: only
    channels: int = 3  # folder: only
    crop: int | None = None  # folder: only


@dataclass(frozen=True)
class DataSource:
    help: str
    load: Callable[[DataRequest], ImageData]
    preset: str | None = None  # the preset a run on it takes by default (None: by its channels)
    test_split: bool = False  # has an official test split, which evaluate scores on
    argument: str | None = None  # "PATH": spec is KIND:PATH; "SIZE": KIND or KIND:SIZE


DATASETS: dict[str, DataSource] = {
    "mnist": DataSource(
        "the 60,000 MNIST training digits (IDX files; downloaded, SHA-256 checked)",
        lambda r: load_mnist(r.root, r.split),
        preset="mnist",
        test_split=True,
    ),
    "mnist-sample": DataSource(
        "5,000 real MNIST digits shipped in the package, and 1,000 others held out for evaluate (offline)",
        lambda r: load_mnist_sample(r.split),
        preset="mnist",
        test_split=True,
    ),
    "cifar10": DataSource(
        "CIFAR-10's 50,000 training images (binary version; downloaded, SHA-256 checked)",
        lambda r: load_cifar10(r.root, r.split),
        preset="cifar10",
        test_split=True,
    ),
    "svhn": DataSource(
        "SVHN's 73,257 cropped training digits (train_32x32.mat; downloaded, SHA-256 checked)",
        lambda r: load_svhn(r.root, r.split),
        preset="svhn",
        test_split=True,
    ),
    "shapes": DataSource(
        "dSprites-like sprites with their 5 factors, rendered here (SIZE 64 or 32; default 64)",
        lambda r: load_shapes(r.root, r.argument),
        preset="shapes",
        argument="SIZE",
    ),
    "dsprites": DataSource(
        "the original dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz (its pickled metadata is never read)",
        lambda r: load_dsprites(_path(r)),
        preset="shapes",
        argument="PATH",
    ),
    "npz": DataSource(
        "array x uint8 [N, H, W(, C)], optional labels y, y2, ... (no pickle)",
        lambda r: load_npz(_path(r)),
        argument="PATH",
    ),
    "folder": DataSource(
        "every image under PATH, centre-cropped and resized",
        lambda r: load_folder(_path(r), r.image_size, r.channels, r.crop),
        argument="PATH",
    ),
}


def _path(request: DataRequest) -> Path:
    return Path(request.argument).expanduser()


def spec_form(name: str) -> str:
    """How a data set is named on the command line: mnist, shapes[:SIZE], npz:PATH."""
    return name + {None: "", "PATH": ":PATH", "SIZE": "[:SIZE]"}[DATASETS[name].argument]


def spec_names() -> str:
    """'mnist, mnist-sample, ..., npz:PATH or folder:PATH' for help texts and errors."""
    names = [spec_form(k) for k in DATASETS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'MNIST' -> ('mnist', None); 'npz:/a/b.npz' -> ('npz', '/a/b.npz'). Kinds are case-insensitive."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"--dataset is empty: use {spec_names()}")
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    source = DATASETS.get(kind)
    if source is not None and source.argument == "PATH":
        if not sep or not path:
            raise UsageError(f"--dataset {spec!r} needs a path: {kind}:PATH")
        return kind, path
    if source is not None and source.argument == "SIZE":
        return kind, path or None
    if sep or source is None:
        raise UsageError(f"unknown data set {spec!r}: use {spec_names()}")
    return kind, None


def absolute_spec(spec: str) -> str:
    """The spec with its path made absolute (`~` expanded), so a run's config names its data from anywhere:
    'npz:digits.npz' -> 'npz:/home/me/digits.npz'; specs without a path are returned as they are."""
    kind, argument = parse_spec(spec)
    if DATASETS[kind].argument != "PATH":
        return spec
    return f"{kind}:{os.path.abspath(Path(argument).expanduser())}"


def absolute_dir(path: str | None) -> str | None:
    return None if path is None else os.path.abspath(Path(path).expanduser())


def source_of(spec: str) -> DataSource:
    return DATASETS[parse_spec(spec)[0]]


def evaluation_split(spec: str) -> str:
    """Data sets with an official test split are scored on it; others as they are."""
    return "test" if source_of(spec).test_split else "train"


def dataset_name(spec: str) -> str:
    kind, argument = parse_spec(spec)
    if argument is None:
        return kind
    stem = Path(argument.rstrip("/\\")).stem or kind
    return f"{kind}-{stem}"


def default_data_dir() -> Path:
    env = os.environ.get("INFOGAN_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infogan"


def load_dataset(
    spec: str,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int = 32,
    channels: int = 3,
    crop: int | None = None,
) -> ImageData:
    """Load a data set by spec; every user-fixable problem raises UsageError with one clear line."""
    kind, path = parse_spec(spec)
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    request = DataRequest(root, split, path, image_size, channels, crop)
    data = DATASETS[kind].load(request)
    data.name = dataset_name(spec)
    if len(data) == 0:
        raise UsageError(f"data set {spec!r} holds no images")
    return data


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
    from the same 10,000 real MNIST training digits and disjoint (README: Data sets)."""
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


# ---------------------------------------------------------------------------------------------- download
def fetch(
    folder: Path,
    name: str,
    sha256: str | None,
    mirrors: list[str],
    what: str,
    offline_hint: str = "or use --dataset mnist-sample, which works offline",
) -> Path:
    """Return folder/name, downloading it (SHA-256 verified when `sha256` is given) when absent.

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
            path = pooch.retrieve(
                url, known_hash=f"sha256:{sha256}" if sha256 else None, fname=name, path=folder, downloader=_download
            )
            return Path(path)
        except Exception as exc:  # network errors, HTTP errors, hash mismatch: try the next mirror
            errors.append(f"{url}: {_download_failure(exc)}")
    raise UsageError(
        f"could not download {what} file {name} ({'; '.join(errors)}). Put the file in {folder} by hand, {offline_hint}"
    )


DOWNLOAD_TIMEOUT = 30.0  # seconds to connect, and at most between two received bytes
DOWNLOAD_DEADLINE = 3600.0  # seconds for one whole file
# A download that receives fewer than STALL_BYTES in any STALL_SECONDS gives up (curl's --speed-limit 1024
# --speed-time 60): a server trickling a byte every few seconds would otherwise hold it up to the deadline.
STALL_BYTES, STALL_SECONDS = 1024, 60.0


class DownloadStalled(TimeoutError):
    pass


def _download(url: str, output_file, pooch_instance=None, check_only: bool = False):
    """pooch's downloader, with an overall deadline and a minimum rate. pooch's own (requests) has only a
    per-read timeout, so a server that trickles a byte at a time never ends it; this one stops when fewer than
    STALL_BYTES arrive in STALL_SECONDS, and at DOWNLOAD_DEADLINE whatever the rate."""
    import urllib.request

    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        if check_only:
            return True
        total = int(response.headers.get("Content-Length") or 0) or None
        window_start, window_bytes = time.monotonic(), 0
        with (
            open(output_file, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=Path(url).name,
                disable=not sys.stderr.isatty(),
                leave=False,
            ) as bar,
        ):
            while chunk := response.read1(1 << 16):  # whatever has arrived, up to 64 kB
                out.write(chunk)
                bar.update(len(chunk))
                now, window_bytes = time.monotonic(), window_bytes + len(chunk)
                if now - window_start >= STALL_SECONDS:
                    if window_bytes < STALL_BYTES:
                        raise DownloadStalled(
                            f"stalled: {window_bytes} bytes in {now - window_start:.0f} s, under "
                            f"{STALL_BYTES} bytes per {STALL_SECONDS:.0f} s"
                        )
                    window_start, window_bytes = now, 0
                if now - started > DOWNLOAD_DEADLINE:
                    raise TimeoutError(f"download not finished within {DOWNLOAD_DEADLINE:.0f} s")
    return None


def _download_failure(exc: Exception) -> str:
    """A short reason for a failed download, instead of urllib3's nested repr."""
    text = str(exc)
    if isinstance(exc, DownloadStalled):
        return text
    if "hash" in text.lower():
        return "SHA-256 mismatch (file corrupt or tampered with; not used)"
    name = type(exc).__name__
    if "Timeout" in name or "timed out" in text.lower():
        return "timed out"
    if getattr(exc, "code", None) and isinstance(exc.code, int):  # urllib's HTTPError
        return f"HTTP {exc.code}"
    if "ConnectionError" in name or "connection" in text.lower() or "URLError" in name:
        return "no connection"
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    return (text.splitlines()[0] if text else name)[:120]


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
