"""Starting and continuing runs: `train(cfg)` (a new run, or with --auto-resume the same call for every
restart) and `resume(run_dir)`. Everything that can be refused is checked before anything is written; then
the run directory (rank 0), the process group under torchrun, and the Trainer to the end. A collective
that fails because a peer rank is gone becomes one line saying which rank and how to go on.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

from infogan.config import TrainConfig, resolve
from infogan.data.datasets import absolute_dir, absolute_spec, load_dataset, source_of
from infogan.data.images import ImageData
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.metrics import image_quality, registry
from infogan.model.networks import check_model_size
from infogan.train import distributed, rundir
from infogan.train.distributed import Dist
from infogan.train.loop import Trainer
from infogan.train.runlock import RunLock
from infogan.train.runtime import Runtime, make_runtime, resolve_precision
from infogan.train.signals import StopFlag
from infogan.train.step import use_cuda_graphs


def _check_data_fits(cfg: TrainConfig, data: ImageData, dist: Dist) -> None:
    if len(data) < 2:
        raise UsageError(
            f"the data set holds {len(data)} image; training needs at least 2 (BatchNorm normalises over a batch)"
        )
    if cfg.batch_size > len(data):
        raise UsageError(
            f"--batch-size {cfg.batch_size} is larger than the data set ({len(data)} images): "
            f"use --batch-size {len(data)} or less"
        )
    if cfg.batch_size % dist.world or cfg.batch_size // dist.world < 2:
        raise UsageError(
            f"--batch-size {cfg.batch_size} (the global batch) must divide evenly among the "
            f"{dist.world} processes, at least 2 each: use a multiple of {dist.world}"
        )


@dataclass
class _Prepared:
    rt: Runtime
    inception_weights: Path | None  # a verified copy, for --image-metrics-every (rank 0)


def _prepare(cfg: TrainConfig, dist: Dist) -> _Prepared:
    """What must hold before a run writes anything, each checked once: the device and precision, --cuda-graphs
    on, TensorBoard, the image metrics' names, torch-fidelity and its weights."""
    rt = make_runtime(cfg, dist)
    if cfg.cuda_graphs == "on":
        use_cuda_graphs(cfg, rt, dist, announce=False)
    if cfg.tensorboard:
        rundir.tensorboard_available()
    weights = None
    if cfg.image_metrics_every:
        registry.check_names(list(cfg.image_metrics))
        if dist.is_main:
            weights = image_quality.prepare(cfg.inception_weights, cfg.data_dir)
    return _Prepared(rt, weights)


def _join(cfg: TrainConfig) -> Dist:
    return distributed.from_environment(torch.cuda.is_available() and cfg.device in ("auto", "cuda"), cfg.dist_timeout)


def _execute(
    cfg: TrainConfig,
    run_dir: Path,
    data: ImageData,
    dist: Dist,
    held: list[RunLock],
    checkpoint: dict | None,
    prepared: _Prepared,
    before=None,
) -> Path:
    """Build the trainer (refusing a checkpoint that does not fit, before any write), run `before` on rank 0,
    train to the end, release the lock."""
    completed, trainer = False, None
    try:
        trainer = Trainer.from_config(cfg, run_dir, data, dist, checkpoint, prepared.inception_weights, prepared.rt)
        if before is not None:
            distributed.on_main(dist, before)
        with StopFlag() as stop:
            trainer.fit(stop)
            trainer.finish()
        completed = True
    except RuntimeError as exc:
        if not dist.enabled or not _collective_failure(exc):
            raise
        raise _peer_lost(exc, dist, cfg, run_dir, trainer) from None
    finally:
        distributed.shutdown(dist, completed)
        for lock in held:
            lock.release()
    if dist.is_main:
        print(f"done: {run_dir} (samples/, traversals/, plots/, generator.safetensors)", flush=True)
    return run_dir


def _collective_failure(exc: RuntimeError) -> bool:
    """Whether an error of a distributed run came from a collective whose peers are gone (gloo and NCCL say it
    in words, in a DistBackendError or a plain RuntimeError depending on the PyTorch version)."""
    text = str(exc).lower()
    return isinstance(exc, getattr(torch.distributed, "DistError", ())) or any(
        word in text
        for word in (
            "gloo",
            "nccl",
            "connection closed",
            "connection reset",
            "timed out",
            "timeout",
            "broken pipe",
            "peer",
        )
    )


def _peer_lost(exc: RuntimeError, dist: Dist, cfg: TrainConfig, run_dir: Path, trainer) -> distributed.PeerLost:
    """One line: which rank is gone (asked of the launcher's store), where the run stands, how to go on."""
    lost = distributed.lost_ranks(dist, f"infogan/{cfg.run_id}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}")
    who = ("rank(s) " + ", ".join(map(str, lost)) if lost else "a peer rank") + " stopped answering"
    step = f" at step {trainer.progress.step}" if trainer is not None else ""
    kept = (
        f"{run_dir}/checkpoints/last.pt keeps step {trainer.saved_step}"
        if trainer is not None and trainer.saved_step is not None
        else "no checkpoint was written"
    )
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return distributed.PeerLost(
        f"rank {dist.rank}: {who}{step} ({first}); {kept}. Relaunch the same command with "
        f"--auto-resume, or: infogan train --resume {run_dir}"
    )


def train(cfg: TrainConfig, overwrite: bool = False, auto_resume: bool = False) -> Path:
    """Train a new run and return its directory (under torchrun: every rank calls this).

    `auto_resume`: the same call for the first start and every restart (torchrun --max-restarts, a requeued
    job): when --outdir holds a checkpoint of a run with this config, that run is resumed; when it holds one
    of another config, the start is refused; else the run starts (replacing a start that never wrote a
    checkpoint)."""
    cfg.validate()
    # paths as absolute ones in config.json: the run names its data and folders from any working directory
    cfg = dataclasses.replace(
        cfg,
        dataset=absolute_spec(cfg.dataset),
        data_dir=absolute_dir(cfg.data_dir),
        outdir=absolute_dir(cfg.outdir),
        eval_dataset=absolute_spec(cfg.eval_dataset) if cfg.eval_dataset else None,
    )
    data = load_dataset(cfg.dataset, cfg.data_dir, "train", *cfg.folder_options())
    cfg = resolve(cfg, data.shape, source_of(cfg.dataset).preset)
    check_model_size(cfg.model)
    dist = _join(cfg)
    _check_data_fits(cfg, data, dist)
    cfg.precision = resolve_precision(cfg, dist, announce=True)  # config.json records what actually ran
    if auto_resume:
        decision = distributed.on_main(dist, lambda: rundir.auto_resume(cfg))
        if decision["resume"]:
            return resume(cfg.outdir, **decision["overrides"])
        overwrite = overwrite or decision["replace"]
    prepared = _prepare(cfg, dist)
    cfg.run_id = distributed.on_main(dist, lambda: uuid.uuid4().hex)  # the run's identity, carried by every checkpoint
    held: list[RunLock] = []

    def create() -> str:
        run_dir, lock = rundir.create(cfg, data.name, overwrite)
        held.append(lock)
        atomic_write_bytes(run_dir / "config.json", dataclasses.replace(cfg, outdir=str(run_dir)).to_json().encode())
        atomic_write_bytes(run_dir / "metrics.jsonl", b"")
        return str(run_dir)

    cfg.outdir = distributed.on_main(dist, create)
    return _execute(cfg, Path(cfg.outdir), data, dist, held, None, prepared)


def resume(run_dir: str | Path, **overrides) -> Path:
    """Continue a run from checkpoints/last.pt; only rundir.RESUME_OVERRIDABLE fields may change.

    Everything is checked before anything is written: the directory's layout, that the checkpoint belongs
    to this run (its run id, or for runs older than run ids its config, matches config.json), that its
    running sums hold the statistics this code logs. The directory is locked for the whole run."""
    run_dir = Path(absolute_dir(str(run_dir)))
    if "data_dir" in overrides:
        overrides = {**overrides, "data_dir": absolute_dir(overrides["data_dir"])}
    checkpoint, saved = rundir.resumable(run_dir, overrides)
    cfg = TrainConfig.from_dict({**saved.to_dict(), **overrides, "outdir": str(run_dir)})
    cfg.validate()
    data = load_dataset(cfg.dataset, cfg.data_dir, "train", *cfg.folder_options())
    if list(data.shape) != list(cfg.image_shape):
        raise UsageError(
            f"--resume {run_dir}: the data's images are {list(data.shape)} but the run was trained on "
            f"{cfg.image_shape}; resume with the same data set"
        )
    dist = _join(cfg)
    _check_data_fits(cfg, data, dist)
    prepared = _prepare(cfg, dist)
    held: list[RunLock] = []
    distributed.on_main(
        dist, lambda: held.append(RunLock.acquire(run_dir))
    )  # before any write; a second writer is refused

    def tidy() -> None:
        rundir.tidy(run_dir, checkpoint["step"], checkpoint["epoch"])
        if cfg != saved:
            atomic_write_bytes(run_dir / "config.json", cfg.to_json().encode())
        if checkpoint["epoch"] >= cfg.epochs:
            print(
                f"{run_dir} has trained all its {cfg.epochs} epoch(s) (step {checkpoint['step']}): writing its "
                f"final files again; --epochs N trains it for longer",
                flush=True,
            )
        else:
            print(f"resuming {run_dir} at epoch {checkpoint['epoch'] + 1}, step {checkpoint['step']}", flush=True)

    return _execute(cfg, run_dir, data, dist, held, checkpoint, prepared, before=tidy)
