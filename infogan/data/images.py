"""Images in memory: `ImageData` (uint8 [N, C, H, W] and, where known, int64 labels per ground-truth factor),
the conversions to and from [-1, 1], and how a run places its images on its device (`TrainingImages`).

Labels are kept for evaluation and never used in training."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

import torch

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
    settle_real: torch.Tensor | None = None  # SETTLE_IMAGES real images --stop-when-settled watches, rank 0 only

    @classmethod
    def place(
        cls,
        data: ImageData,
        device: torch.device,
        seed: int,
        is_main: bool,
        fidelity_images: int = 0,
        scored: ImageData | None = None,
        settle_images: int = 0,
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
        settle = data.images[pick[:settle_images]] if settle_images and is_main else None
        return cls(images, needs_host_copy(images.device, device), labelled, fidelity, data.images[pick[:64]], settle)


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
