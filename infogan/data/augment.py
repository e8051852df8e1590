"""Small random deformations of a real batch: the second view of IIC's two-view information
(losses.paired_information, --iic-weight).

Each image gets its own rotation, scale and shift (`AffineJitter`), and optionally a smooth elastic
displacement (--iic-elastic, as in Elastic-InfoGAN's augmentation), a thicker or thinner stroke
(--iic-stroke: a blend towards the image's 3x3 dilation or erosion) and a horizontal shear (--iic-shear:
it changes a digit's slant and keeps its rows, so a category cannot stand for slant; a rotation turns the
rows too and reaches only the digits near a slant threshold). Everything is drawn from the run's
latent generator after the step's latents (so a checkpoint's RNG state already holds it and a resumed run
draws the same deformations), affine first, so a run without the optional parts draws what it always drew;
it is applied on the batch's device with `affine_grid`, `grid_sample` and `max_pool2d`. Why not kornia's
RandomAffine: it draws from torch's global RNG, which would tie the deformations to every other global draw
of the process; here the draws come from a generator the run owns. Border padding repeats the edge pixels
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


ELASTIC_GRID = 4  # the elastic displacement is drawn on a 4x4 grid and upsampled: smooth over a quarter side


@dataclass(frozen=True)
class Deformation:
    """One batch's draws: what `Deformations.draw` returns and `apply` uses."""

    theta: torch.Tensor  # [N, 2, 3] affine matrices
    displacement: torch.Tensor | None = None  # [N, 2, ELASTIC_GRID, ELASTIC_GRID] in grid units (a side is 2)
    stroke: torch.Tensor | None = None  # [N] in [-1, 1]: > 0 towards the dilation, < 0 towards the erosion
    shear: torch.Tensor | None = None  # [N]: x moves by this times y (grid units), composed into theta

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """images [N, C, H, W] in [-1, 1], deformed; same shape and dtype."""
        theta = self.theta if self.shear is None else sheared(self.theta, self.shear)
        out = warp(images, theta, self.displacement)
        if self.stroke is not None:
            t = self.stroke.to(out.dtype).view(-1, 1, 1, 1)
            dilated = F.max_pool2d(out, 3, stride=1, padding=1)  # bright strokes one pixel wider
            eroded = -F.max_pool2d(-out, 3, stride=1, padding=1)  # ... one pixel narrower
            out = out + t.clamp_min(0) * (dilated - out) + (-t).clamp_min(0) * (eroded - out)
        return out


@dataclass(frozen=True)
class Deformations:
    """The affine jitter, plus an elastic displacement of up to about `elastic` of the side (a Gaussian's
    standard deviation at each coarse grid point), a stroke change drawn from U(-`stroke`, `stroke`)
    (1: all the way to the 3x3 dilation or erosion) and a horizontal shear drawn from U(-`shear`, `shear`)
    (0.5: a slant of about 27 degrees either way); 0 turns any of them off and draws nothing for it. The
    optional parts draw in this order, after the affine part, so adding one leaves the earlier draws as they
    were."""

    affine: AffineJitter
    elastic: float = 0.0
    stroke: float = 0.0
    shear: float = 0.0

    def draw(self, n: int, rng: torch.Generator, device) -> Deformation:
        theta = self.affine.draw(n, rng, device)
        displacement = stroke = shear = None
        if self.elastic > 0:
            grid = (n, 2, ELASTIC_GRID, ELASTIC_GRID)
            displacement = torch.randn(grid, generator=rng, device=device) * 2 * self.elastic
        if self.stroke > 0:
            stroke = (torch.rand(n, generator=rng, device=device) * 2 - 1) * self.stroke
        if self.shear > 0:
            shear = (torch.rand(n, generator=rng, device=device) * 2 - 1) * self.shear
        return Deformation(theta, displacement, stroke, shear)


def sheared(theta: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """theta [N, 2, 3] after a horizontal shear of the output coordinates: the sampling point of output
    (x, y) is theta's at (x + shear * y, y), so rows stay rows and a vertical stroke leans by atan(shear)."""
    shear_matrix = torch.zeros(len(shear), 3, 3, dtype=theta.dtype, device=theta.device)
    shear_matrix[:, 0, 0] = shear_matrix[:, 1, 1] = shear_matrix[:, 2, 2] = 1
    shear_matrix[:, 0, 1] = shear.to(theta.dtype)
    return theta @ shear_matrix  # [N, 2, 3]


def warp(images: torch.Tensor, theta: torch.Tensor, displacement: torch.Tensor | None = None) -> torch.Tensor:
    """images [N, C, H, W] deformed by theta [N, 2, 3] and, if given, a coarse displacement field [N, 2, g, g]
    (grid units, upsampled bicubically to the image) added to the affine sampling grid (bilinear, border
    padding); same shape and dtype."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)  # [N, H, W, 2]
    if displacement is not None:
        field = F.interpolate(
            displacement.to(images.dtype), size=images.shape[-2:], mode="bicubic", align_corners=False
        )
        grid = grid + field.permute(0, 2, 3, 1)  # [N, H, W, 2]: x then y, as the grid
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
