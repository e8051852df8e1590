"""Q's reading of real images: what a trained model says each image is, without labels.

    encoder = load_encoder("pretrained:mnist")
    codes = encode(encoder, images)       # images: uint8 [N, C, H, W], as data sets hold them
    codes.categories[:, 0], codes.continuous

`infogan encode RUN DATA` writes the same for every image of a data set or of a list of image files, one CSV
row or JSON line per image: to standard output batch by batch (`rows`), or to `--out` whole, written once
when every row is ready (the text is held in memory) so that the file is never half written.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from infogan.data.datasets import DATASETS, evaluation_split, load_dataset
from infogan.data.images import batched
from infogan.errors import UsageError
from infogan.model.networks import Discriminator, eval_mode
from infogan.serve.inference import load_run_config
from infogan.serve.names import Names, load_names
from infogan.serve.pretrained import discriminator_state, resolve_run


@dataclass
class Encoded:
    """Q's reading of N images."""

    categories: torch.Tensor  # int64 [N, n_categorical]: each categorical code's most probable value
    probabilities: torch.Tensor  # float [N, n_categorical]: Q's probability of that value
    continuous: torch.Tensor  # float [N, L]: each continuous code's Gaussian mean
    continuous_std: torch.Tensor | None  # float [N, L] where Q learns a std (--learn-std), else None (std 1)


def load_encoder(run_dir: str | Path, device="cpu") -> Discriminator:
    """D/Q of a run, in eval mode: from its last checkpoint (Q lives there; generator.safetensors holds only G),
    or from a shipped run's discriminator.safetensors. `run_dir` may be pretrained:NAME."""
    run_dir = resolve_run(run_dir)
    cfg = load_run_config(run_dir)
    disc = Discriminator(cfg.model)
    disc.cfg = cfg  # the run's whole config rides along: `encode` reads its image shape and data options
    try:
        disc.load_state_dict(discriminator_state(run_dir))
    except RuntimeError as exc:
        raise UsageError(f"checkpoint of {run_dir} does not fit its config.json ({str(exc).splitlines()[0]})") from None
    return disc.to(device).eval()


@torch.no_grad()
def encode(encoder: Discriminator, images: torch.Tensor, batch_size: int = 500) -> Encoded:
    """Q's codes of real images, uint8 [N, C, H, W] of the run's image shape (as data sets hold them;
    `to_uint8` turns generated ones into such)."""
    check_shape(encoder, tuple(images.shape[1:]), "the images")
    if images.dtype != torch.uint8:
        raise UsageError(f"encode reads uint8 images (0..255) as data sets hold them, got {images.dtype}")
    spec = encoder.spec

    def read(x):  # [B, sum K_i + L (+ L)]: each code's probabilities, the continuous means (and stds)
        q = encoder(x).q
        parts = [F.softmax(logits.float(), 1) for logits in q.cat_logits] + [q.cont_mean.float()]
        return torch.cat(parts + ([] if q.cont_logstd is None else [q.cont_logstd.float().exp()]), 1)

    with eval_mode(encoder):
        out = batched(read, images, batch_size, next(encoder.parameters()).device)
    *probs, means, stds = out.split([*spec.categorical, spec.continuous, spec.continuous * spec.learn_std], 1)
    top = [p.max(1) for p in probs]
    categories = torch.stack([t.indices for t in top], 1) if top else torch.zeros(len(out), 0, dtype=torch.long)
    probabilities = torch.stack([t.values for t in top], 1) if top else torch.zeros(len(out), 0)
    return Encoded(categories, probabilities, means, stds if spec.learn_std else None)


def check_shape(encoder: Discriminator, shape: tuple[int, ...], what: str, one: bool = False) -> None:
    """Refuse images of another size or number of channels than the run's, naming both (`what`: the images, or
    `one` image)."""
    expected = tuple(encoder.cfg.image_shape)
    if shape != expected:
        got, want = _describe(shape), _describe(expected)
        said = f"is a {got} image, the run reads {want} ones" if one else f"are {got}, the run reads {want} images"
        raise UsageError(f"{what} {said}: resize {'it' if one else 'them'} (or use a run trained on such images)")


def _describe(shape) -> str:
    c, h, w = shape if len(shape) == 3 else (None, *shape[-2:])
    kind = {1: "grey", 3: "RGB"}.get(c, f"{c}-channel")
    return f"{kind} {w}x{h}"


# ---------------------------------------------------------------------------------------------- image files
def read_image_file(path: Path, channels: int) -> np.ndarray:
    """One image file as uint8 [C, H, W] (grey or RGB as the run reads them); a file PIL cannot read raises
    OSError or ValueError (a damaged file, a decompression bomb)."""
    with Image.open(path) as img:
        array = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def read_image_bytes(data: bytes, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file's bytes as uint8 [1, C, H, W] of `shape` (grey or RGB as the run reads them), resized to
    the run's size where it differs; ValueError where PIL cannot read it."""
    channels, height, width = shape
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.LANCZOS)
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    return torch.from_numpy((array[None] if array.ndim == 2 else array.transpose(2, 0, 1)).copy())[None]


def file_batches(
    files: list[Path], encoder: Discriminator, batch_size: int, strict: bool
) -> Iterator[tuple[list[Path], torch.Tensor]]:
    """The files read in batches (names, uint8 [B, C, H, W]). An unreadable file is skipped with a warning, or
    refused with `strict`; a file of another size or channels than the run's is refused, naming it."""
    channels = encoder.cfg.image_shape[0]
    names, arrays, skipped = [], [], []
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path} does not exist or is not a file")
        try:
            array = read_image_file(path, channels)
        except (OSError, ValueError) as exc:
            if strict:
                raise UsageError(
                    f"cannot read {path} as an image ({type(exc).__name__}); drop --strict to skip it"
                ) from None
            skipped.append(path)
            print(f"warning: skipped {path}: not a readable image", file=sys.stderr)
            continue
        check_shape(encoder, tuple(array.shape), str(path), one=True)
        names.append(path)
        arrays.append(array)
        if len(arrays) == batch_size:
            yield names, torch.from_numpy(np.stack(arrays))
            names, arrays = [], []
    if arrays:
        yield names, torch.from_numpy(np.stack(arrays))
    if skipped and len(skipped) == len(files):
        raise UsageError(f"none of the {len(files)} image files could be read")


# ---------------------------------------------------------------------------------------------- rows
def columns(encoder: Discriminator, with_file: bool, with_label: bool, names: Names | None = None) -> list[str]:
    """The output's columns: index, [file], [label], each categorical code's value [and name, where the run
    names its categories] and probability, each continuous code's mean [and std]."""
    spec, names = encoder.spec, names or {}
    cols = ["index"] + ["file"] * with_file + ["label"] * with_label
    one = spec.n_categorical == 1
    for i in range(1, spec.n_categorical + 1):
        suffix = "" if one else f"_{i}"
        cols += [f"category{suffix}"] + [f"name{suffix}"] * (i in names) + [f"probability{suffix}"]
    for i in range(1, spec.continuous + 1):
        cols += [f"c{i}"] + [f"c{i}_std"] * spec.learn_std
    return cols


def rows(
    encoder: Discriminator,
    batches: Iterator[tuple[list | None, torch.Tensor, torch.Tensor | None]],
    names: Names | None = None,
) -> Iterator[list]:
    """One list of values per image, in `columns` order, from batches of (file names or None, uint8 images,
    labels or None); a category without a name gets an empty one."""
    index, names = 0, names or {}
    for files, images, labels in batches:
        codes = encode(encoder, images, batch_size=len(images))
        for k in range(len(images)):
            row = (
                [index]
                + ([str(files[k])] if files is not None else [])
                + ([int(labels[k])] if labels is not None else [])
            )
            for i in range(codes.categories.shape[1]):
                category = int(codes.categories[k, i])
                named = [names[i + 1].get(category, "")] if i + 1 in names else []
                row += [category, *named, round(float(codes.probabilities[k, i]), 6)]
            for i in range(codes.continuous.shape[1]):
                row.append(round(float(codes.continuous[k, i]), 6))
                if codes.continuous_std is not None:
                    row.append(round(float(codes.continuous_std[k, i]), 6))
            yield row
            index += 1


# ---------------------------------------------------------------------------------------------- the command
FORMATS = ("csv", "jsonl")


def is_dataset_spec(text: str) -> bool:
    """Whether a DATA argument names a data set (mnist-sample, npz:PATH, folder:PATH, ...) rather than a file."""
    kind = text.partition(":")[0].strip().lower()
    return kind in DATASETS and (":" in text or not Path(text).is_file())


def encode_to(
    run_dir: str,
    data: list[str],
    out,
    fmt: str = "csv",
    batch_size: int = 500,
    strict: bool = False,
    split: str | None = None,
    data_dir: str | None = None,
    device="cpu",
    progress: bool = True,
) -> int:
    """`infogan encode`: every image of `data` (one data set spec, or image files) read by the run's Q, written
    to the text stream `out` in `fmt`; returns the number of images."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    encoder = load_encoder(run_dir, device)
    if len(data) == 1 and is_dataset_spec(data[0]):
        spec = data[0]
        cfg = encoder.cfg
        dataset = load_dataset(spec, data_dir or cfg.data_dir, split or evaluation_split(spec), *cfg.folder_options())
        check_shape(encoder, tuple(dataset.shape), f"the images of {spec}")
        images, labels = dataset.images, dataset.labels
        total = len(images)
        batches = (
            (None, images[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
            for i in range(0, total, batch_size)
        )
        with_file, with_label = False, labels is not None
    else:
        if split is not None:
            raise UsageError("--split chooses a data set's split; image files have none: drop --split")
        files = [Path(name) for name in data]
        total = len(files)
        batches = ((names, images, None) for names, images in file_batches(files, encoder, batch_size, strict))
        with_file, with_label = True, False
    names = load_names(run_dir)
    cols = columns(encoder, with_file, with_label, names)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    count = 0
    with tqdm(total=total, unit="img", disable=not progress, file=sys.stderr, leave=False) as bar:
        for row in rows(encoder, batches, names):  # the header with the first row: a refusal before it writes nothing
            if writer is not None:
                if count == 0:
                    writer.writerow(cols)
                writer.writerow(row)
            else:
                out.write(json.dumps(dict(zip(cols, row))) + "\n")
            count += 1
            bar.update(1)
    return count
