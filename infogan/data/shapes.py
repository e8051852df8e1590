"""`--dataset shapes`: dSprites-like sprites with exact ground-truth factors, rendered here, no download.

Five factors, every combination once (as dSprites, Matthey et al. 2017): shape (square, ellipse, heart),
scale (6 values, 0.5 to 1), orientation (40 values in [0, 2 pi)), x and y position (32 values each at 64x64
pixels, 16 at 32x32). 737,280 images at 64x64 (3.0 GB as uint8), 184,320 at 32x32 (189 MB).

Rendering is a pure function of the factors (anti-aliased by 4x4 supersampling, white on black), so the
set is the same on every machine. Positions are consecutive pixels, so each of the 720 (shape, scale,
orientation) sprites is rendered once and moved to every position by whole pixels: the full 64x64 set
is cheap (seconds for the 32x32 set, under a minute for the 64x64 one on a 2-core CPU), where rendering 737,280 images one by one would take about an hour. It is built once, with a progress bar,
and cached in the data dir as an .npz of plain arrays; the peak while building is about twice the finished
set (the set and the file written from it). Building in full rather than sampling factors per batch keeps
the loader, the epoch loop and evaluate as they are for every other data set (6.2 GB of the machine's
24 GiB at the peak, at 64x64).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from infogan.files import atomic_write_bytes, check_regular_file

SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.arange(40) * (2 * math.pi / 40)
SIZES = {64: 32, 32: 16}  # image side -> positions per axis
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SUPERSAMPLE = 4


def _first_position(size: int) -> int:
    """Pixel of the first position: the positions are consecutive pixels centred in the image."""
    return size // 2 - SIZES[size] // 2


def factor_values(size: int) -> dict[str, np.ndarray]:
    """The value grid of each factor (positions: sprite centres as fractions of the image side)."""
    positions = (_first_position(size) + np.arange(SIZES[size]) + 0.5) / size
    return {"shape": np.arange(3), "scale": SCALES, "orientation": ORIENTATIONS, "pos_x": positions, "pos_y": positions}


def factor_grid(size: int) -> np.ndarray:
    """Every combination of factor indices, [N, 5] int, in dSprites' order (the last factor fastest)."""
    counts = [len(v) for v in factor_values(size).values()]
    return np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1).reshape(-1, 5)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the sprite-frame points (u, v) (unit half-size) are inside the shape."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse
        return u**2 + (v / 0.55) ** 2 <= 1
    hx, hy = u * 1.1, -v * 1.1 + 0.25  # heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, lobes up, centred
    return (hx**2 + hy**2 - 1) ** 3 - hx**2 * hy**3 <= 0


def sprite(shape: int, scale: int, orientation: int, size: int) -> np.ndarray:
    """One sprite (factor indices) centred on pixel (c, c), c = size // 2: float coverage [size, size]."""
    values = factor_values(size)
    fine = size * SUPERSAMPLE
    grid = ((np.arange(fine) + 0.5) / SUPERSAMPLE - (size // 2 + 0.5)).astype(np.float32)  # pixels from centre
    half = 0.12 * values["scale"][scale] * size  # half-size in pixels
    angle = values["orientation"][orientation]
    dx, dy = grid.reshape(1, fine) / half, grid.reshape(fine, 1) / half
    u, v = math.cos(angle) * dx + math.sin(angle) * dy, -math.sin(angle) * dx + math.cos(angle) * dy
    mask = _inside(shape, u, v).astype(np.float32)
    return mask.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean((1, 3))  # 4x4 supersampling


def _placed(coverage: np.ndarray, size: int) -> np.ndarray:
    """All positions of one sprite: uint8 [n_x, n_y, size, size], the sprite moved by whole pixels."""
    n, c, first = SIZES[size], size // 2, _first_position(size)
    image = np.round(coverage * 255).astype(np.uint8)
    padded = np.pad(image, size)  # room to move the sprite anywhere without wrapping
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))  # [3size+1, 3size+1, size, size]
    # position (ix, iy) puts the centre on pixel (first + ix, first + iy): the window starting size - that far
    rows = size - (first + np.arange(n) - c)
    return windows[rows][:, rows].transpose(1, 0, 2, 3)  # [x, y, size, size]: x moves columns, y rows


def render(indices: np.ndarray, size: int) -> np.ndarray:
    """uint8 images [n, size, size] for factor indices [n, 5] (see factor_grid)."""
    out = np.empty((len(indices), size, size), dtype=np.uint8)
    for i, (shape, scale, orientation, x, y) in enumerate(indices):
        out[i] = _placed(sprite(shape, scale, orientation, size), size)[x, y]
    return out


def build(size: int, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The whole set: images [N, size, size] uint8 and factor indices [N, 5] int64, in factor_grid's order.
    Each (shape, scale, orientation) sprite is rendered once and moved to every position."""
    from tqdm import tqdm

    n = SIZES[size]
    sprites = [(s, sc, o) for s in range(3) for sc in range(len(SCALES)) for o in range(len(ORIENTATIONS))]
    images = np.empty((len(sprites), n, n, size, size), dtype=np.uint8)
    for i, (shape, scale, orientation) in enumerate(
        tqdm(
            sprites, desc=f"rendering shapes {size}x{size}", disable=not (progress and sys.stderr.isatty()), leave=False
        )
    ):
        images[i] = _placed(sprite(shape, scale, orientation, size), size)
    return images.reshape(-1, size, size), factor_grid(size).astype(np.int64)


def cached(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The set from folder/shapes_<size>.npz, building and writing it first when absent."""

    path = folder / f"shapes_{size}.npz"
    if path.exists():
        check_regular_file(path, "shapes cache")
        with np.load(path, allow_pickle=False) as npz:
            return npz["x"], npz["factors"]
    print(f"building the shapes data set at {size}x{size} once (cached at {path})", file=sys.stderr, flush=True)
    images, indices = build(size)
    import io

    buf = io.BytesIO()
    np.savez(buf, x=images, factors=indices, factor_names=np.array(FACTOR_NAMES))
    atomic_write_bytes(path, buf.getvalue())
    return images, indices
