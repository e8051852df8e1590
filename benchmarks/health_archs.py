"""Two architectures that fail by construction, for the health catalogue (benchmarks/health.py).

Each is one entry added to infogan's table of architectures (`networks.ARCHS`, the extension point) when
this file runs; then it is `infogan` as usual:

    python benchmarks/health_archs.py train --dataset mnist-sample --arch noise-only-g ...

- `noise-only-g`: the paper's MNIST networks, but G's input has its code columns zeroed, so G draws from
  the noise alone and no code can carry information (the monitor should say `code_ignored`).
- `small-g`: the paper's MNIST D against a G with 1/8 of the paper's widths (FC 128, FC 7x7x16, upconv 8):
  D has 58x G's parameters (6.69 M against 0.11 M) (the monitor should say `d_wins`).
"""

from __future__ import annotations

import sys

import common  # noqa: F401  (first: this checkout's infogan)
import torch
from torch import nn

from infogan import networks
from infogan.latent import LatentSpec


class ZeroCodes(nn.Module):
    """[N, noise_dim + codes] -> the same with every code column set to 0 (the noise passes unchanged)."""

    def __init__(self, noise_dim: int):
        super().__init__()
        self.noise_dim = noise_dim

    def forward(self, latent_vector: torch.Tensor) -> torch.Tensor:
        keep = torch.zeros_like(latent_vector)
        keep[:, :self.noise_dim] = 1
        return latent_vector * keep


def noise_only_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    return nn.Sequential(ZeroCodes(spec.noise_dim), *networks.ARCHS["paper-mnist"].generator(spec, c, h, w))


def small_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(spec.input_dim, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 16 * (h // 4) * (w // 4)), nn.BatchNorm1d(16 * (h // 4) * (w // 4)), nn.ReLU(),
        nn.Unflatten(1, (16, h // 4, w // 4)),  # [N, 16, H/4, W/4]
        nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),  # [N, 8, H/2, W/2]
        nn.ConvTranspose2d(8, c, 4, stride=2, padding=1), nn.Tanh(),  # [N, C, H, W]
    )


def register() -> None:
    paper = networks.ARCHS["paper-mnist"]
    networks.ARCHS["noise-only-g"] = networks.Arch(noise_only_g, paper.trunk, paper.divisor,
                                                   "the paper's MNIST networks, G blind to the codes (fails)")
    networks.ARCHS["small-g"] = networks.Arch(small_g, paper.trunk, paper.divisor,
                                              "the paper's MNIST D, G at 1/8 of its widths (fails)")


if __name__ == "__main__":
    register()
    from infogan.cli import main  # after register(): the CLI's --arch choices are read from the table

    sys.exit(main())
