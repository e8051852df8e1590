"""Small random affine deformations of a real batch: the second view of IIC's two-view information
(losses.paired_information, --iic-weight).

Each image gets its own rotation, scale and shift, drawn from the run's latent generator after the step's
latents (so a checkpoint's RNG state already holds them and a resumed run draws the same deformations), and
applied on the batch's device with `affine_grid` / `grid_sample`. Why not kornia's RandomAffine: it draws
from torch's global RNG, which would tie the deformations to every other global draw of the process; here
the draws are one [N, 2, 3] tensor from a generator the run owns. Border padding repeats the edge pixels
(a digit's background) instead of bringing in black or white corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineJitter:
    """The range of each deformation: rotation up to +-`rotation` degrees, scale in 1 +- `scale`, shift up to
    +-`shift` of the image side in each direction."""

    rotation: float
    scale: float
    shift: float

    def draw(self, n: int, rng: torch.Generator, device) -> torch.Tensor:
        """n affine matrices [n, 2, 3] (output -> input sampling coordinates, as `affine_grid` takes them)."""
        u = torch.rand(n, 4, generator=rng, device=device) * 2 - 1  # U(-1, 1): angle, scale, shift x, shift y
        angle = u[:, 0] * math.radians(self.rotation)
        scale = 1 + u[:, 1] * self.scale
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # grid coordinates run over [-1, 1], a side of 2: a shift of s sides is 2 s there
        shift = u[:, 2:] * 2 * self.shift
        return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """images [N, C, H, W] deformed by theta [N, 2, 3] (bilinear, border padding); same shape and dtype."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)  # [N, H, W, 2]
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
