"""Two architectures that fail by construction, for the health catalogue (benchmarks/health.py).

Each is one entry added to infogan's table of architectures (`architectures.ARCHS`, the extension point) when
this file runs; then it is `infogan` as usual:

    python benchmarks/health_archs.py train --dataset mnist-sample --arch noise-only-g ...

- `noise-only-g`: the paper's MNIST networks, but G's input has its code columns zeroed, so G draws from
  the noise alone and no code can carry information (the monitor should say `code_ignored`).
- `small-g`: the paper's MNIST D against a G with 1/32 of the paper's widths (FC 32, FC 7x7x4, upconv 2):
  D has 705x G's parameters (the monitor should say `d_wins`). At 1/8 of the widths (58x) the run
  still learnt, so that was no failure to catch.
"""

from __future__ import annotations

import sys

import common  # noqa: F401  (first: this checkout's infogan)
import torch
from torch import nn

from infogan.model import architectures
from infogan.model.latent import LatentSpec


class ZeroCodes(nn.Module):
    """[N, noise_dim + codes] -> the same with every code column set to 0 (the noise passes unchanged)."""

    def __init__(self, noise_dim: int):
        super().__init__()
        self.noise_dim = noise_dim

    def forward(self, latent_vector: torch.Tensor) -> torch.Tensor:
        keep = torch.zeros_like(latent_vector)
        keep[:, : self.noise_dim] = 1
        return latent_vector * keep


def noise_only_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    return nn.Sequential(ZeroCodes(spec.noise_dim), *architectures.ARCHS["paper-mnist"].generator(spec, c, h, w))


def small_g(spec: LatentSpec, c: int, h: int, w: int, divisor: int = 32) -> nn.Sequential:
    """The paper's MNIST G with every width divided by `divisor` (FC 1024 -> 32, 7x7x128 -> 7x7x4, upconv 64 -> 2)."""
    fc, mid, up = 1024 // divisor, 128 // divisor, 64 // divisor
    return nn.Sequential(
        nn.Linear(spec.input_dim, fc),
        nn.BatchNorm1d(fc),
        nn.ReLU(),
        nn.Linear(fc, mid * (h // 4) * (w // 4)),
        nn.BatchNorm1d(mid * (h // 4) * (w // 4)),
        nn.ReLU(),
        nn.Unflatten(1, (mid, h // 4, w // 4)),  # [N, mid, H/4, W/4]
        nn.ConvTranspose2d(mid, up, 4, stride=2, padding=1),
        nn.BatchNorm2d(up),
        nn.ReLU(),  # [N, up, H/2, W/2]
        nn.ConvTranspose2d(up, c, 4, stride=2, padding=1),
        nn.Tanh(),  # [N, C, H, W]
    )


# name -> (generator builder, description); each takes the paper's MNIST D trunk
ARCHS = {
    "noise-only-g": (noise_only_g, "the paper's MNIST networks, G blind to the codes (fails)"),
    "small-g": (small_g, "the paper's MNIST D, G at 1/32 of its widths (fails)"),
}


def register() -> None:
    paper = architectures.ARCHS["paper-mnist"]
    for name, (generator, description) in ARCHS.items():
        architectures.ARCHS[name] = architectures.Arch(generator, paper.trunk, paper.divisor, description)


if __name__ == "__main__":
    register()
    from infogan.cli import main  # after register(): the CLI's --arch choices are read from the table

    sys.exit(main())
