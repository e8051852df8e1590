"""Using a trained generator: rebuild it from a run directory and draw images from chosen codes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from infogan.checkpoint import load_checkpoint, load_generator_weights
from infogan.config import TrainConfig
from infogan.data.images import to_uint8
from infogan.errors import UsageError
from infogan.model.latent import CODE_RANGE, Latent
from infogan.model.networks import Generator, eval_mode
from infogan.serve.images import save_image_grid
from infogan.serve.pretrained import resolve_run

MAX_IMAGES = 10_000  # images one generate call draws (a 10,000-image grid is already a 3000x3000 PNG at 28x28)
TRAVERSAL_STEPS = 10  # columns of a continuous traversal
TRAVERSAL_ROWS = 10  # noise rows of a categorical traversal


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The config of a run directory (or of pretrained:NAME, a model shipped in the package)."""
    run_dir = resolve_run(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run directory {run_dir} does not exist")
    cfg = TrainConfig.load(run_dir / "config.json")
    if cfg.image_shape is None:
        raise UsageError(f"{run_dir / 'config.json'} is not a resolved run config (no image_shape)")
    return cfg


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu") -> Generator:
    """The run's generator in eval mode, from generator.safetensors (final) or else checkpoints/last.pt.

    Its config is at `generator.cfg`. `run_dir` may be pretrained:NAME, a model shipped in the package.
    """
    run_dir = resolve_run(run_dir)
    cfg = load_run_config(run_dir)
    weights_path = run_dir / "generator.safetensors"
    if weights_path.exists():
        state = load_generator_weights(weights_path)
    elif (run_dir / "checkpoints" / "last.pt").exists():
        state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["generator"]
    else:
        raise UsageError(
            f"{run_dir} has neither generator.safetensors nor checkpoints/last.pt: "
            f"has its training written anything yet?"
        )
    generator = Generator(cfg.model)
    generator.cfg = cfg  # the run's whole config rides along: `generate` and the explorer draw latents from it
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UsageError(f"the weights in {run_dir} do not fit the architecture in its config.json ({first})") from None
    return generator.to(device).eval()


@torch.no_grad()
def generate(generator: Generator, latent: Latent, batch_size: int = 500) -> torch.Tensor:
    """Images [N, C, H, W] in [-1, 1] for the given latents, generator in eval mode (BN running stats)."""
    device = next(generator.parameters()).device
    vec = generator.spec.vector(latent).to(device)
    with eval_mode(generator):
        return torch.cat([generator(vec[i : i + batch_size]).float().cpu() for i in range(0, len(vec), batch_size)])


def generated_sample(generator: Generator, n: int, batch_size: int = 500, seed: int = 0):
    """n generated images, uint8 [n, C, H, W], from prior draws of a fixed seed (the same images every call);
    and categorical code 1's value of each ([n] int64, None without a categorical code)."""
    latent = generator.spec.sample(n, torch.Generator().manual_seed(seed))
    images = to_uint8(generate(generator, latent, batch_size))
    return images, (latent.cat[:, 0] if generator.spec.n_categorical else None)


def config_from_safetensors(path: str | Path) -> TrainConfig:
    """The config stored in a generator.safetensors header (so the file alone rebuilds the model)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "config" not in meta:
        raise UsageError(f"{path} carries no infogan config in its metadata")
    return TrainConfig.from_json(meta["config"], f"the config in {path}'s metadata")


def chosen_latent(
    cfg: TrainConfig,
    n: int,
    seed: int = 0,
    categories: dict[int, int] | None = None,
    codes: dict[int, float] | None = None,
) -> Latent:
    """n latents with the given categorical codes (1-based code -> value) and continuous codes (1-based
    index -> value); everything else drawn from the priors."""
    if not 1 <= n <= MAX_IMAGES:
        raise UsageError(f"-n must be in 1..{MAX_IMAGES}, got {n}")
    spec = cfg.latent
    latent = spec.sample(n, torch.Generator().manual_seed(seed))
    for code, value in (categories or {}).items():
        if not 1 <= code <= spec.n_categorical:
            raise UsageError(
                f"--category {code}=...: this run has "
                + (f"categorical codes 1..{spec.n_categorical}" if spec.n_categorical else "no categorical code")
            )
        k = spec.categorical[code - 1]
        if not 0 <= value < k:
            raise UsageError(f"--category: code {code} takes values 0..{k - 1}, got {value}")
        latent.cat[:, code - 1] = value
    for index, value in (codes or {}).items():
        if not 1 <= index <= spec.continuous:
            raise UsageError(
                f"--code {index}=...: this run has "
                + (f"continuous codes 1..{spec.continuous}" if spec.continuous else "no continuous code")
            )
        if not math.isfinite(value):
            raise UsageError(f"--code {index}={value}: a code value must be a finite number")
        latent.cont[:, index - 1] = value
    return latent


# ---------------------------------------------------------------------------------------------- traversals
@dataclass
class Traversal:
    """Images [rows * columns, C, H, W] in [-1, 1], row-major: what one code does, one row per fixed rest."""

    images: torch.Tensor
    rows: int
    columns: int
    row_labels: list[str] | None = None  # the rows' category names, where the run has names
    column_labels: list[str] | None = None  # the columns' category names (a categorical traversal)

    def save(self, path) -> None:
        save_image_grid(self.images, self.rows, self.columns, path, self.row_labels, self.column_labels)


def in_name_order(names: dict[int, str]) -> list[int]:
    """Category values ordered by their names: numbers by value ("2" before "10"), then words."""
    return sorted(names, key=lambda v: (0, int(names[v]), "") if names[v].isdigit() else (1, 0, names[v]))


def continuous_traversal(
    gen: Generator,
    code: int,
    seed: int = 0,
    value_range=CODE_RANGE,
    steps: int = TRAVERSAL_STEPS,
    base: Latent | None = None,
    names: dict[int, str] | None = None,
) -> Traversal:
    """Continuous code `code` (1-based) from value_range[0] to [1] in `steps` columns. Rows: each value of
    categorical code 1 (10 noise rows without one), noise and the other codes fixed per row, the other
    continuous codes at 0 (LatentSpec.continuous_traversal); or, with `base`, one row per latent of it,
    every other code as `base` has it. `names` (code 1's, where the run has them): the rows in name order,
    each labelled."""
    values = torch.linspace(float(value_range[0]), float(value_range[1]), steps)
    rows = labels = None
    if base is None and names and gen.spec.categorical:
        rows = [v for v in in_name_order(names) if v < gen.spec.categorical[0]]
        rows += [v for v in range(gen.spec.categorical[0]) if v not in rows]  # unnamed values last
        labels = [names.get(v, f"category {v}") for v in rows]
    if base is None:
        latent = gen.spec.continuous_traversal(code - 1, values, torch.Generator().manual_seed(seed), rows=rows)
    else:
        latent = _repeat_rows(base, steps)
        latent.cont[:, code - 1] = values.repeat(len(base))
    return Traversal(generate(gen, latent), len(latent) // steps, steps, row_labels=labels)


def categorical_traversal(
    gen: Generator,
    code: int,
    seed: int = 0,
    rows: int = TRAVERSAL_ROWS,
    base: Latent | None = None,
    names: dict[int, str] | None = None,
) -> Traversal:
    """Every value of categorical code `code` (1-based) in the columns; each row fixes the noise and the other
    codes (drawn from `seed`, or one row per latent of `base`). `names` (the code's, where the run has them):
    the columns in name order, each labelled."""
    k = gen.spec.categorical[code - 1]
    if base is None:
        latent = gen.spec.categorical_traversal(code - 1, torch.Generator().manual_seed(seed), rows=rows)
    else:
        latent = _repeat_rows(base, k)
        latent.cat[:, code - 1] = torch.arange(k).repeat(len(base))
    labels = None
    if names:
        order = [v for v in in_name_order(names) if v < k]
        order += [v for v in range(k) if v not in order]
        latent.cat[:, code - 1] = torch.tensor(order).repeat(len(latent) // k)
        labels = [names.get(v, f"category {v}") for v in order]
    return Traversal(generate(gen, latent), len(latent) // k, k, column_labels=labels)


def _repeat_rows(base: Latent, columns: int) -> Latent:
    return Latent(
        base.z.repeat_interleave(columns, 0),
        base.cat.repeat_interleave(columns, 0),
        base.cont.repeat_interleave(columns, 0),
    )
