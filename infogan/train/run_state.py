"""What a checkpoint of a run holds, and how a `Trainer` is put back in that state: the networks, the
optimisers, the loss scaler, every RNG (each rank's, under DDP), the position in the epoch, the partial sums
of the statistics and the health monitor's memory. Writing it safely is checkpoint.py's; when it is written
is loop.py's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from infogan.checkpoint import save_checkpoint
from infogan.errors import UsageError
from infogan.train import distributed
from infogan.train.health import Finding
from infogan.train.outcomes import TrainingDiverged

if TYPE_CHECKING:  # loop.py imports this module; the trainer is only read and written here
    from infogan.train.loop import Trainer

RANK_SEED_OFFSET = 7_919  # rank r draws latents from seed + r * this (rank 0 = a single process)


@dataclass
class Progress:
    """Where a run stands; a checkpoint records it and a resume continues from it."""

    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimiser steps done in all


def checkpoint_of(trainer: Trainer) -> dict:
    """The checkpoint; collective under DDP (every rank's RNG state is gathered), so all ranks call it."""
    rng_ranks = distributed.gather(_rng_state(trainer.latent_rng, trainer.rt.device), trainer.dist)
    p = trainer.progress
    return {
        "config": trainer.cfg.to_dict(),
        "epoch": p.epoch,
        "batch": p.batch,
        "step": p.step,
        **trainer.nets.state_dict(),
        **trainer.opts.state_dict(),
        "scaler": trainer.rt.scaler.state_dict() if trainer.rt.scaler else None,
        "rng": rng_ranks[0],
        "rng_ranks": rng_ranks if trainer.dist.enabled else [],
        **trainer.sums.state_dict(),
        **({"health": trainer.health.state_dict()} if trainer.health else {}),
        **({"settle": trainer.settle.state_dict()} if trainer.settle else {}),
        "settled_at": trainer.settled_at,
    }


def restore(trainer: Trainer, ckpt: dict) -> None:
    """Restore a checkpoint of this run; UsageError (before anything is written) if it does not fit."""
    try:
        trainer.nets.load_state_dict(ckpt)
        trainer.opts.load_state_dict(ckpt, capturable=trainer.graphs)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"the checkpoint does not fit this run's architecture ({first[:200]})") from None
    if trainer.rt.scaler is not None and ckpt.get("scaler"):
        trainer.rt.scaler.load_state_dict(ckpt["scaler"])
    _restore_rng(trainer, ckpt.get("rng_ranks") or [ckpt["rng"]], ckpt["step"])
    trainer.progress = Progress(ckpt["epoch"], ckpt["batch"], ckpt["step"])
    trainer.saved_step = ckpt["step"]
    trainer.sums.load_state_dict(ckpt)
    if trainer.health and isinstance(ckpt.get("health"), dict):  # (checkpoints before the monitor kept state: none)
        try:
            trainer.health.load_state_dict(ckpt["health"])
        except (KeyError, TypeError, ValueError):  # damaged: the monitor starts afresh, the run is not lost
            pass
    trainer.settled_at = ckpt.get("settled_at")
    if trainer.settle and isinstance(ckpt.get("settle"), dict):  # (a run made without --stop-when-settled: none)
        trainer.settle.load_state_dict(ckpt["settle"])


def save(trainer: Trainer) -> None:
    """last.pt is always a whole, finite, earlier state: weights or sums that are not finite stop the run
    instead of replacing the last good checkpoint. One host sync for the check."""
    tensors = [
        trainer.sums.epoch.sums,
        *(t for m in trainer.nets.modules() for t in [*m.parameters(), *m.buffers()] if t.is_floating_point()),
    ]
    all_finite = bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())  # one host sync
    if distributed.any_rank(not all_finite, trainer.dist, trainer.rt.device):
        raise diverged(trainer, trainer.progress.epoch + 1)
    payload = checkpoint_of(trainer)
    if trainer.dist.is_main:
        save_checkpoint(trainer.run_dir / "checkpoints" / "last.pt", payload)
    trainer.saved_step = trainer.progress.step


def diverged(trainer: Trainer, epoch: int) -> TrainingDiverged:
    kept = (
        f"checkpoints/last.pt keeps the last good state (step {trainer.saved_step})"
        if trainer.saved_step is not None
        else "no checkpoint had been written yet"
    )
    if trainer.dist.is_main:
        trainer.log.append(Finding("diverged", trainer.progress.step, {"non_finite": "a loss or weight"}).record(epoch))
    return TrainingDiverged(
        f"a loss or weight became NaN/inf by step {trainer.progress.step} (epoch {epoch}): "
        f"training stopped; {kept}. Try lower learning rates or --precision fp32"
    )


def _rng_state(latent_rng: torch.Generator, device: torch.device) -> dict:
    rng = {"torch": torch.get_rng_state(), "latent": latent_rng.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def _restore_rng(trainer: Trainer, ranks: list[dict], step: int) -> None:
    """Every RNG as this rank left it; with another process count than the checkpoint's, latents re-seeded."""
    dist, rt = trainer.dist, trainer.rt
    if len(ranks) == dist.world:
        rng = ranks[dist.rank]
        torch.set_rng_state(rng["torch"])
        trainer.latent_rng.set_state(rng["latent"])
        if "cuda" in rng and rt.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], rt.device)
        return
    trainer.latent_rng.manual_seed(trainer.cfg.seed + dist.rank * RANK_SEED_OFFSET + step)
    if dist.is_main:
        print(
            f"note: the checkpoint was written by {len(ranks)} process(es), this run has {dist.world}; "
            f"latents are re-seeded, so the resumed run is not bit-identical to an uninterrupted one",
            file=sys.stderr,
        )
