"""Checkpoints: plain dicts of tensors and primitives, written atomically, read without running code.

A checkpoint holds the config (as a dict), counters, both networks' and both optimisers' state_dicts,
the RNG states, the running metric sums of an unfinished epoch and the health monitor's state, so a resumed run
continues exactly.
Writes go to a temp file in the same folder, are fsynced, then renamed over the target: a reader sees
either the previous complete file or the new complete file, never a torn one, whatever kills the writer.
Reads use `torch.load(weights_only=True)`, which refuses pickled code; generator weights are also
published as safetensors, a format that holds only tensors.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import torch

from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes

FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 16 * 2**30


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Serialise in memory first: torch's writer reports a full disk as a RuntimeError mid-stream, a plain
    write reports it as the OSError (ENOSPC) that `atomic_write_bytes` turns into a clear message."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **payload}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


# What a checkpoint must hold, and of which type (checked after the weights_only load, before any use).
_REQUIRED = {"format": int, "config": dict, "step": int, "epoch": int, "generator": dict, "discriminator": dict}
_RESUMABLE = {
    "batch": int,
    "opt_g": dict,
    "opt_d": dict,
    "rng": dict,
    "epoch_sums": torch.Tensor,
    "interval_sums": torch.Tensor,
    "interval_steps": int,
}


def check_structure(payload, path, resumable: bool = False) -> None:
    """Refuse a checkpoint that lacks a field or holds one of the wrong type, naming the field."""
    if not isinstance(payload, dict):
        raise UsageError(f"cannot load checkpoint {path}: it is not an infogan checkpoint (not a dict)")
    for key, kind in {**_REQUIRED, **(_RESUMABLE if resumable else {})}.items():
        value = payload.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UsageError(
                f"checkpoint {path} is damaged or not an infogan checkpoint: field {key!r} is "
                f"{'missing' if key not in payload else type(value).__name__}, expected {kind.__name__}"
            )
    for key in ("generator", "discriminator"):
        if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload[key].items()):
            raise UsageError(f"checkpoint {path} is damaged: {key} is not a state dict of tensors")
    if resumable:
        rng = payload["rng"]
        if not (isinstance(rng.get("torch"), torch.Tensor) and isinstance(rng.get("latent"), torch.Tensor)):
            raise UsageError(f"checkpoint {path} is damaged: its RNG state is incomplete")
    if min(payload["step"], payload["epoch"], payload.get("batch", 0)) < 0:
        raise UsageError(f"checkpoint {path} is damaged: negative step, epoch or batch")


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with `weights_only=True`: tensors and primitives only, never arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise UsageError(
            f"checkpoint {path} is {path.stat().st_size / 2**30:.1f} GiB, more than any infogan model "
            f"needs ({MAX_CHECKPOINT_BYTES // 2**30} GiB): not an infogan checkpoint"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it contains pickled objects other than tensors, which are refused (never executed)"
        else:
            reason = f"it is truncated or not a checkpoint ({first[:160]})"
        raise UsageError(f"cannot load checkpoint {path}: {reason}") from None
    check_structure(payload, path)
    if payload["format"] != FORMAT_VERSION:
        raise UsageError(f"checkpoint {path} has format {payload['format']}, this infogan reads {FORMAT_VERSION}")
    return payload


def save_generator(path: str | os.PathLike, generator: torch.nn.Module, cfg: TrainConfig) -> None:
    """Generator weights as safetensors; the config rides along in the header's metadata."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    atomic_write_bytes(Path(path), save(tensors, metadata={"config": json.dumps(cfg.to_dict())}))


def load_generator_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"cannot load generator weights {path}: {exc}") from None
