"""The latent code, described once: `LatentSpec` says what the generator takes and what Q reads back.

A spec holds the noise size and prior, the number of values of every categorical code (`categorical`, a
tuple such as (10,) for MNIST or (10, 10, 10, 10) for SVHN, empty for none), the number of continuous codes,
and whether Q predicts a log-std per continuous code. Every other module asks the spec instead of
re-deriving a layout from integers:

- `sample` draws latents from the priors (z ~ U(-1, 1) by default, N(0, 1) optional; each categorical
  code ~ Cat(K_i) uniform; continuous codes ~ U(-1, 1)), always from an explicit `torch.Generator`, so
  training, pictures and resumed runs draw reproducible numbers without touching the global RNG;
- `vector` builds the generator's input  [z, one_hot(c_1), ..., one_hot(c_m), c_cont];
- `split_q` cuts Q's flat output  [logits_1 | ... | logits_m | means | log-stds]  into per-code pieces;
- `grid`, `continuous_traversal`, `categorical_traversal` give the fixed latents of the pictures.

The spec is built from a config (`TrainConfig.latent`), so it is saved wherever the config is: config.json,
checkpoints and the safetensors metadata. The draw order (z, then each categorical code, then the
continuous codes) keeps runs with one categorical code bit-identical to those made before several codes
existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Where pictures, traversals and the explorer move a continuous code: twice its prior's support U(-1, 1),
# far enough to show what the code does beyond what training saw.
CODE_RANGE = (-2.0, 2.0)


@dataclass
class Latent:
    """A batch of latent draws."""

    z: torch.Tensor  # [N, noise_dim] float
    cat: torch.Tensor  # [N, n_categorical] int64, code i's value in [0, K_i)
    cont: torch.Tensor  # [N, continuous] float

    def to(self, device) -> Latent:
        return Latent(self.z.to(device), self.cat.to(device), self.cont.to(device))

    def __len__(self) -> int:
        return self.z.shape[0]


@dataclass
class QCodes:
    """Q's output, split per code."""

    cat_logits: list[torch.Tensor]  # one [N, K_i] tensor of logits per categorical code (never softmaxed)
    cont_mean: torch.Tensor  # [N, L] Gaussian means of the continuous codes
    cont_logstd: torch.Tensor | None  # [N, L] log-stds when learned, else None (std fixed to 1)

    def chunk(self, k: int) -> list[QCodes]:
        """The outputs of k equal batches concatenated along dim 0, one QCodes per batch."""
        cats = [logits.chunk(k) for logits in self.cat_logits]
        stds = [None] * k if self.cont_logstd is None else self.cont_logstd.chunk(k)
        return [
            QCodes([c[i] for c in cats], mean, std) for i, (mean, std) in enumerate(zip(self.cont_mean.chunk(k), stds))
        ]


@dataclass(frozen=True)
class LatentSpec:
    noise_dim: int
    categorical: tuple[int, ...] = (10,)
    continuous: int = 2
    noise_prior: str = "uniform"  # "uniform": U(-1, 1) (the official code); "normal": N(0, 1) (the seed)
    learn_std: bool = False

    @classmethod
    def from_config(cls, cfg) -> LatentSpec:
        return cls(
            int(cfg.noise_dim),
            tuple(int(k) for k in cfg.categorical),
            int(cfg.continuous),
            cfg.noise_prior,
            bool(cfg.learn_std),
        )

    # --- sizes ---
    @property
    def n_categorical(self) -> int:
        return len(self.categorical)

    @property
    def input_dim(self) -> int:
        """Width of the generator's input: noise + every one-hot code + continuous codes."""
        return self.noise_dim + sum(self.categorical) + self.continuous

    @property
    def q_dim(self) -> int:
        """Width of Q's flat output: every code's logits, the means, and the log-stds when learned."""
        return sum(self.categorical) + self.continuous * (2 if self.learn_std else 1)

    def entropy(self, code: int) -> float:
        """H(c_code) = ln K for a uniform categorical prior (code 0-based)."""
        return math.log(self.categorical[code])

    @property
    def total_entropy(self) -> float:
        return sum(math.log(k) for k in self.categorical)

    # --- sampling and the generator's input ---
    def sample_noise(self, n: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
        if self.noise_prior == "normal":
            return torch.randn(n, self.noise_dim, generator=gen, device=device)
        return torch.rand(n, self.noise_dim, generator=gen, device=device) * 2 - 1

    def sample_categorical(self, n: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
        columns = [torch.randint(k, (n,), generator=gen, device=device) for k in self.categorical]
        return torch.stack(columns, 1) if columns else torch.zeros(n, 0, dtype=torch.long, device=device)

    def sample_continuous(self, n: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
        return torch.rand(n, self.continuous, generator=gen, device=device) * 2 - 1

    def sample(self, n: int, gen: torch.Generator, device="cpu") -> Latent:
        """n independent draws from the priors."""
        z = self.sample_noise(n, gen, device)
        cat = self.sample_categorical(n, gen, device)
        cont = self.sample_continuous(n, gen, device)
        return Latent(z, cat, cont)

    @property
    def n_codes(self) -> int:
        """Number of codes (categorical, then continuous), as InfoGAN-CR's pair discriminator counts them."""
        return self.n_categorical + self.continuous

    def contrastive_pair(self, latent: Latent, gen: torch.Generator) -> tuple[Latent, torch.Tensor]:
        """Partners for InfoGAN-CR (Lin et al. 2020): per row a code k ~ U{0..n_codes-1} is kept from
        `latent`, every other code is drawn afresh, the noise is shared. Returns (partner, k [N] int64);
        k < n_categorical names a categorical code, else continuous code k - n_categorical."""
        n, device = len(latent), latent.z.device
        fresh = self.sample(n, gen, device)
        shared = torch.randint(self.n_codes, (n,), generator=gen, device=device)  # [N]
        keep_cat = shared[:, None] == torch.arange(self.n_categorical, device=device)  # [N, m]
        keep_cont = shared[:, None] == self.n_categorical + torch.arange(self.continuous, device=device)  # [N, L]
        partner = Latent(
            latent.z, torch.where(keep_cat, latent.cat, fresh.cat), torch.where(keep_cont, latent.cont, fresh.cont)
        )
        return partner, shared

    def vector(self, latent: Latent) -> torch.Tensor:
        # [N, noise_dim + sum K_i + continuous]
        one_hots = [F.one_hot(latent.cat[:, i], k).to(latent.z.dtype) for i, k in enumerate(self.categorical)]
        return torch.cat([latent.z, *one_hots, latent.cont.to(latent.z.dtype)], dim=1)

    # --- Q's output ---
    def split_q(self, q: torch.Tensor) -> QCodes:
        # q [N, q_dim] -> per-code views (no copies)
        if q.shape[1] != self.q_dim:
            raise ValueError(f"Q's output has {q.shape[1]} values, this latent code needs {self.q_dim}")
        cat_logits, start = [], 0
        for k in self.categorical:
            cat_logits.append(q[:, start : start + k])
            start += k
        lc = self.continuous
        cont_mean = q[:, start : start + lc]
        cont_logstd = q[:, start + lc : start + 2 * lc] if self.learn_std else None
        return QCodes(cat_logits, cont_mean, cont_logstd)

    # --- the fixed latents of the pictures ---
    def picture_rows(self) -> int:
        """Rows of the sample grid and of continuous traversals: the values of code 1, or 10 noise rows."""
        return self.categorical[0] if self.categorical else 10

    def grid(self, gen: torch.Generator, columns: int = 10) -> Latent:
        """The per-epoch sample grid: row i sets categorical code 1 to i; column j shares z, the other
        categorical codes and the continuous codes across rows, so reading down a column shows what code 1
        alone changes. Without a categorical code: rows * columns independent draws."""
        rows = self.picture_rows()
        if not self.categorical:
            return self.sample(rows * columns, gen)
        # z, then the continuous codes, then the other categorical codes: the draws of single-code runs
        # made before several codes existed, so their grids stay the same
        z, cont = self.sample_noise(columns, gen), self.sample_continuous(columns, gen)
        cat = self.sample_categorical(columns, gen)
        latent = Latent(z.repeat(rows, 1), cat.repeat(rows, 1), cont.repeat(rows, 1))
        latent.cat[:, 0] = torch.arange(rows).repeat_interleave(columns)
        return latent

    def continuous_traversal(
        self, code: int, values: torch.Tensor, gen: torch.Generator, rows: list[int] | None = None
    ) -> Latent:
        """Continuous code `code` (0-based) across `values` (columns). Rows set categorical code 1 to the
        values in `rows` (default: all of them; 10 rows of fresh noise without a categorical code). Noise and
        the other categorical codes are fixed per row; the other continuous codes are held at 0."""
        if not 0 <= code < self.continuous:
            raise ValueError(f"continuous code {code} out of range [0, {self.continuous})")
        if rows is None:
            rows = list(range(self.picture_rows()))
        steps = values.numel()
        z = self.sample_noise(len(rows), gen).repeat_interleave(steps, dim=0)  # [rows*steps, noise_dim]
        cat = self.sample_categorical(len(rows), gen).repeat_interleave(steps, dim=0)
        if self.categorical:
            cat[:, 0] = torch.tensor(rows, dtype=torch.long).repeat_interleave(steps)
        cont = torch.zeros(len(rows) * steps, self.continuous)
        cont[:, code] = values.float().repeat(len(rows))
        return Latent(z, cat, cont)

    def categorical_traversal(self, code: int, gen: torch.Generator, rows: int = 10) -> Latent:
        """Every value of categorical code `code` (0-based) in the columns; each row fixes its noise, the
        other categorical codes and the continuous codes, so a row shows what that code alone changes."""
        if not 0 <= code < self.n_categorical:
            raise ValueError(f"categorical code {code} out of range [0, {self.n_categorical})")
        k = self.categorical[code]
        base = self.sample(rows, gen)
        latent = Latent(
            base.z.repeat_interleave(k, 0), base.cat.repeat_interleave(k, 0), base.cont.repeat_interleave(k, 0)
        )
        latent.cat[:, code] = torch.arange(k).repeat(rows)
        return latent
