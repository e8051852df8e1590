"""Image files: [-1, 1] float batches to 8-bit grids, PNGs and GIFs, each written atomically (temp + rename)
so an interrupted run never leaves a half-written picture."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from infogan.data import images as image_data
from infogan.files import atomic_write_bytes

PAD = 2  # pixels between grid cells


def to_uint8(images: torch.Tensor) -> np.ndarray:
    # [N, C, H, W] float in [-1, 1] -> [N, H, W, C] uint8, as pictures are laid out
    return image_data.to_uint8(images).permute(0, 2, 3, 1).numpy()


def make_grid(images: np.ndarray, rows: int, cols: int, pad: int = PAD, fill: int = 255) -> np.ndarray:
    """Tile [N, H, W, C] uint8 images (N <= rows*cols, row-major) into one [H', W', C] image."""
    n, h, w, c = images.shape
    if n > rows * cols:
        raise ValueError(f"{n} images do not fit a {rows}x{cols} grid")
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def _pil(array: np.ndarray):
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def encode_png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    _pil(array).save(buf, format="PNG")
    return buf.getvalue()


def save_png(array: np.ndarray, path: str | Path) -> None:
    atomic_write_bytes(Path(path), encode_png(array))


def save_image_grid(
    images: torch.Tensor,
    rows: int,
    cols: int,
    path: str | Path,
    row_labels: list[str] | None = None,
    column_labels: list[str] | None = None,
) -> np.ndarray:
    grid = make_grid(to_uint8(images), rows, cols)
    if row_labels or column_labels:
        grid = labelled(grid, images.shape[-2] + PAD, images.shape[-1] + PAD, row_labels, column_labels)
    save_png(grid, path)
    return grid


LABEL_CHAR = 6  # pixels per character of PIL's built-in font, and LABEL_LINE per line
LABEL_LINE = 12


def labelled(
    grid: np.ndarray, row_step: int, column_step: int, row_labels: list[str] | None, column_labels: list[str] | None
) -> np.ndarray:
    """The grid [H, W, C] with each row's label in a white margin on its left and each column's on top (PIL's
    built-in font, black), so a picture of categories says which is which."""
    left = PAD + LABEL_CHAR * max(map(len, row_labels)) if row_labels else 0
    top = LABEL_LINE if column_labels else 0
    h, w, c = grid.shape
    canvas = np.full((h + top, w + left, c), 255, dtype=np.uint8)
    canvas[top:, left:] = grid
    picture = _pil(canvas).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for i, label in enumerate(row_labels or []):
        draw.text((1, top + PAD + i * row_step + max(0, row_step - LABEL_LINE) // 2), label, fill=(0, 0, 0))
    for j, label in enumerate(column_labels or []):
        draw.text((left + PAD + j * column_step, 0), label, fill=(0, 0, 0))
    out = np.asarray(picture)
    return out[..., :1] if c == 1 else out


def save_gif(frames: list[Path], path: str | Path, seconds_per_frame: float = 0.5) -> None:
    """Animate PNG frames (e.g. the per-epoch grids) into one looping GIF; the last frame lingers."""
    if not frames:
        return
    images = []
    for frame in frames:
        with Image.open(frame) as img:
            images.append(img.convert("RGB").convert("P", palette=Image.ADAPTIVE))
    durations = [int(seconds_per_frame * 1000)] * (len(images) - 1) + [2000]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    atomic_write_bytes(Path(path), buf.getvalue())
