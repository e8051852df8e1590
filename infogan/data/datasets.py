"""The table of data sets, and `load_dataset`: from a `--dataset` spec to `ImageData` in memory.

Every loader returns `ImageData`: images uint8 [N, C, H, W] (normalised to [-1, 1] on the fly, batch by
batch, by `to_unit_range`) and, when the data set has them, int64 labels [N] per ground-truth factor
(`y`, and `y2`, `y3`, ... for data with several factors). Labels are kept for evaluation and never used
in training.

`DATASETS` is the one table of data sets (`--dataset`, names case-insensitive): what each is, its loader,
whether it has an official test split (evaluate scores on it), and the preset a run on it takes by default.
Adding a data set is one entry there plus its loader (formats.py); help texts and error messages are made from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infogan.data.download import default_data_dir
from infogan.data.formats import (
    load_cifar10,
    load_dsprites,
    load_folder,
    load_mnist,
    load_mnist_sample,
    load_npz,
    load_shapes,
    load_svhn,
)
from infogan.data.images import ImageData
from infogan.errors import UsageError


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
        preset="mnist-iic",
        test_split=True,
    ),
    "mnist-sample": DataSource(
        "5,000 real MNIST digits shipped in the package, and 1,000 others held out for evaluate (offline)",
        lambda r: load_mnist_sample(r.split),
        preset="mnist-iic",
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
