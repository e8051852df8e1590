"""Using a trained generator: rebuild it from a run directory and draw images from chosen codes."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, load_generator_weights
from .config import TrainConfig
from .errors import UsageError
from .latent import Latent
from .networks import Generator, eval_mode


def load_run_config(run_dir: str | Path) -> TrainConfig:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run directory {run_dir} does not exist")
    cfg = TrainConfig.load(run_dir / "config.json")
    if cfg.image_shape is None:
        raise UsageError(f"{run_dir / 'config.json'} is not a resolved run config (no image_shape)")
    return cfg


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu") -> Generator:
    """The run's generator in eval mode, from generator.safetensors (final) or else checkpoints/last.pt.

    Its config is at `generator.cfg`.
    """
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    weights_path = run_dir / "generator.safetensors"
    if weights_path.exists():
        state = load_generator_weights(weights_path)
    elif (run_dir / "checkpoints" / "last.pt").exists():
        state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["generator"]
    else:
        raise UsageError(f"{run_dir} has neither generator.safetensors nor checkpoints/last.pt: "
                         f"has its training written anything yet?")
    generator = Generator(cfg)
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
    vec = latent.vector(generator.cfg.categories).to(device)
    with eval_mode(generator):
        return torch.cat([generator(vec[i:i + batch_size]).float().cpu() for i in range(0, len(vec), batch_size)])


def config_from_safetensors(path: str | Path) -> TrainConfig:
    """The config stored in a generator.safetensors header (so the file alone rebuilds the model)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "config" not in meta:
        raise UsageError(f"{path} carries no infogan config in its metadata")
    return TrainConfig.from_dict(json.loads(meta["config"]))


def chosen_latent(cfg: TrainConfig, n: int, seed: int = 0, category: int | None = None,
                  codes: dict[int, float] | None = None) -> Latent:
    """n latents with the given category and continuous codes (1-based index -> value); the rest from priors."""
    from .latent import sample_latent

    if n < 1:
        raise UsageError(f"-n must be >= 1, got {n}")
    if category is not None and not 0 <= category < cfg.categories:
        raise UsageError(f"--category must be in 0..{cfg.categories - 1}, got {category}")
    latent = sample_latent(cfg, n, torch.Generator().manual_seed(seed))
    if category is not None:
        latent.cat[:] = category
    for index, value in (codes or {}).items():
        if not 1 <= index <= cfg.continuous:
            raise UsageError(f"--code {index}=...: this run has continuous codes 1..{cfg.continuous}")
        latent.cont[:, index - 1] = value
    return latent
