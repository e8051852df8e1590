"""Sampling the generator's input: noise z, one categorical code, continuous codes.

The generator sees `[z, one_hot(c_cat), c_cont]` concatenated (`Latent.vector()`). Priors follow the
official code: z ~ U(-1, 1) by default (N(0, 1) optional, the seed's choice), c_cat ~ Cat(K) uniform,
c_cont ~ U(-1, 1). All sampling takes an explicit `torch.Generator` so that training, picture grids and
resumed runs draw reproducible numbers without touching the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import TrainConfig


@dataclass
class Latent:
    z: torch.Tensor  # [N, noise_dim] float
    cat: torch.Tensor  # [N] int64, category index in [0, K)
    cont: torch.Tensor  # [N, continuous] float

    def vector(self, categories: int) -> torch.Tensor:
        # [N, noise_dim + K + continuous]
        return torch.cat([self.z, F.one_hot(self.cat, categories).to(self.z.dtype), self.cont], dim=1)

    def to(self, device) -> "Latent":
        return Latent(self.z.to(device), self.cat.to(device), self.cont.to(device))

    def __len__(self) -> int:
        return self.z.shape[0]


def sample_noise(cfg: TrainConfig, n: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
    if cfg.noise_prior == "normal":
        return torch.randn(n, cfg.noise_dim, generator=gen, device=device)
    return torch.rand(n, cfg.noise_dim, generator=gen, device=device) * 2 - 1


def sample_continuous(cfg: TrainConfig, n: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
    return torch.rand(n, cfg.continuous, generator=gen, device=device) * 2 - 1


def sample_latent(cfg: TrainConfig, n: int, gen: torch.Generator, device="cpu") -> Latent:
    """n independent draws from the priors."""
    z = sample_noise(cfg, n, gen, device)
    cat = torch.randint(cfg.categories, (n,), generator=gen, device=device)
    cont = sample_continuous(cfg, n, gen, device)
    return Latent(z, cat, cont)


def grid_latent(cfg: TrainConfig, gen: torch.Generator, columns: int = 10) -> Latent:
    """Latents for the per-epoch sample grid: row i is category i; column j shares z and c_cont across rows,
    so reading down a column shows what the category alone changes."""
    rows = cfg.categories
    z = sample_noise(cfg, columns, gen).repeat(rows, 1)  # [rows*columns, noise_dim]
    cont = sample_continuous(cfg, columns, gen).repeat(rows, 1)
    cat = torch.arange(rows).repeat_interleave(columns)
    return Latent(z, cat, cont)


def traversal_latent(cfg: TrainConfig, code: int, values: torch.Tensor, gen: torch.Generator,
                     categories: list[int] | None = None) -> Latent:
    """One row per category, one column per value of continuous code `code` (0-based); noise fixed per
    row, the other continuous codes held at 0."""
    if not 0 <= code < cfg.continuous:
        raise ValueError(f"continuous code {code} out of range [0, {cfg.continuous})")
    rows = list(range(cfg.categories)) if categories is None else categories
    steps = values.numel()
    z = sample_noise(cfg, len(rows), gen).repeat_interleave(steps, dim=0)  # [rows*steps, noise_dim]
    cont = torch.zeros(len(rows) * steps, cfg.continuous)
    cont[:, code] = values.float().repeat(len(rows))
    cat = torch.tensor(rows, dtype=torch.long).repeat_interleave(steps)
    return Latent(z, cat, cont)
