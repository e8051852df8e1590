"""Trained models shipped inside the package, read by every command like any other run directory.

    infogan generate pretrained:mnist --category 3 --out three.png
    infogan traverse pretrained:mnist --code 1 --out slant.png
    infogan evaluate pretrained:mnist --dataset mnist-sample
    infogan explore                      # opens pretrained:mnist

A shipped run is what `export_run` writes: config.json, generator.safetensors and discriminator.safetensors
(G, and D/Q for evaluate; safetensors hold tensors only, stored in fp16 to halve the wheel), its
metrics.jsonl, and MODEL.md (the command and seed that made it, its held-out accuracy). Nothing in it is
ever unpickled. `python -m infogan export RUN_DIR OUT_DIR` makes one from any finished run.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import torch

from infogan.checkpoint import load_checkpoint, load_generator_weights
from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes

PREFIX = "pretrained:"
SHIPPED = ("mnist",)  # the folders under infogan/pretrained/


def resolve_run(path: str | Path) -> Path:
    """A run directory from what a user typed: a path, or pretrained:NAME for a model shipped in the package."""
    text = str(path)
    if not text.startswith(PREFIX):
        return Path(path)
    name = text[len(PREFIX) :]
    if name not in SHIPPED:
        raise UsageError(f"no shipped model {name!r}: the package has {', '.join(PREFIX + n for n in SHIPPED)}")
    return Path(str(resources.files("infogan").joinpath("pretrained", name)))


def is_shipped(run_dir: Path) -> bool:
    """Whether a run directory is one of the package's own (read-only where the package is installed)."""
    shipped = Path(str(resources.files("infogan").joinpath("pretrained"))).resolve()
    return shipped in Path(run_dir).resolve().parents


def export_run(run_dir: str | Path, out_dir: str | Path, half: bool = True) -> Path:
    """The parts of a finished run that the commands read, compact: config, G and D/Q as safetensors (fp16 when
    `half`), metrics.jsonl. `card.export_with_card` adds the names and the model card."""
    from safetensors.torch import save

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    if ckpt["epoch"] < cfg.epochs:
        raise UsageError(f"{run_dir} has trained {ckpt['epoch']} of its {cfg.epochs} epochs: finish it first")
    cfg.outdir = None  # where it trained is nobody's business where it is shipped
    meta = {"config": json.dumps(cfg.to_dict())}
    for part, key in (("generator", "generator"), ("discriminator", "discriminator")):
        tensors = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in ckpt[key].items()}
        atomic_write_bytes(out_dir / f"{part}.safetensors", save(tensors, metadata=meta))
    atomic_write_bytes(out_dir / "config.json", cfg.to_json().encode())
    shutil.copyfile(run_dir / "metrics.jsonl", out_dir / "metrics.jsonl")
    return out_dir


def discriminator_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """D/Q's weights: the last checkpoint's, or a shipped run's discriminator.safetensors."""
    if (run_dir / "checkpoints" / "last.pt").exists() or not (run_dir / "discriminator.safetensors").exists():
        return load_checkpoint(run_dir / "checkpoints" / "last.pt")["discriminator"]

    return load_generator_weights(run_dir / "discriminator.safetensors")
