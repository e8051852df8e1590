"""Checkpoints: plain dicts of tensors and primitives, written atomically, read without running code.

A checkpoint holds the config (as a dict), counters, both networks' and both optimisers' state_dicts,
the RNG states, and the running metric sums of an unfinished epoch, so a resumed run continues exactly.
Writes go to a temp file in the same folder, are fsynced, then renamed over the target: a reader sees
either the previous complete file or the new complete file, never a torn one, whatever kills the writer.
Reads use `torch.load(weights_only=True)`, which refuses pickled code; generator weights are also
published as safetensors, a format that holds only tensors.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import torch

from .config import TrainConfig
from .errors import UsageError

FORMAT_VERSION = 1


def _atomic_write(path: Path, write) -> None:
    """Call write(file_object) on a temp file beside `path`, fsync, rename over `path`, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise UsageError(f"could not write {path}: {exc.strerror}; the previous file there is intact. "
                             f"Free space (or fix permissions) and resume the run") from None
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(data))


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    payload = {"format": FORMAT_VERSION, **payload}
    _atomic_write(Path(path), lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with `weights_only=True`: tensors and primitives only, never arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it contains pickled objects other than tensors, which are refused (never executed)"
        else:
            reason = f"it is truncated or not a checkpoint ({first[:160]})"
        raise UsageError(f"cannot load checkpoint {path}: {reason}") from None
    required = {"format", "config", "step", "epoch", "generator", "discriminator"}
    if not isinstance(payload, dict) or not required <= set(payload):
        raise UsageError(f"cannot load checkpoint {path}: it is not an infogan checkpoint (missing fields)")
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
