"""Training: the `Trainer`, the networks, optimisers and data of one run, its epoch loop and per-epoch work.
How a run starts or continues (`train`, `resume`) is launch.py.

The step itself is step.py; the run directory's life (creating, locking, checks, tidying, the metrics log)
is rundir.py; pictures are artifacts.RunPictures; per-epoch metrics come from registry.py.

Reproducibility on CPU: the weights are initialised from `torch.manual_seed(seed)`; the latents come
from a dedicated `torch.Generator`; each epoch's batch order is a permutation seeded by (seed, epoch);
checkpoints carry every RNG state and the partial sums of an unfinished epoch, so 2 epochs straight and
1 epoch + resume + 1 epoch give the same weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from infogan.checkpoint import save_generator
from infogan.config import TrainConfig
from infogan.data.datasets import evaluation_split, load_dataset
from infogan.data.images import ImageData, TrainingImages
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.metrics import registry
from infogan.serve.pictures import RunPictures
from infogan.train import display, distributed, run_state, rundir, settle
from infogan.train.distributed import SINGLE, Dist
from infogan.train.health import HealthMonitor
from infogan.train.loss import statistic_names
from infogan.train.outcomes import TrainingFailing, TrainingInterrupted
from infogan.train.run_state import RANK_SEED_OFFSET, Progress
from infogan.train.runtime import Runtime, make_runtime, set_threads
from infogan.train.schedule import schedule_for
from infogan.train.signals import StopFlag
from infogan.train.state import Nets, make_optimizers
from infogan.train.stats import StepSums
from infogan.train.step import StepRunner, use_cuda_graphs


class _Stopwatch:
    """`with watch("name"): ...` adds the block's wall time to watch.seconds["name"]."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


class Trainer:
    """One run's networks, optimisers, data and counters; `fit()` runs the epochs to the end or to a stop
    request, `finish()` writes what a finished run leaves. `state_dict()` is the checkpoint."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: Path,
        data: ImageData,
        dist: Dist,
        rt: Runtime,
        inception_weights: Path | None = None,
    ):
        self.cfg, self.run_dir, self.data_name, self.dist, self.rt = cfg, run_dir, data.name, dist, rt
        self.inception_weights = inception_weights
        torch.manual_seed(cfg.seed)
        self.nets = Nets.build(cfg, rt.device, dist)
        self.graphs = use_cuda_graphs(cfg, rt, dist)
        self.opts = make_optimizers(cfg, self.nets, capturable=self.graphs)
        self.latent_rng = torch.Generator(rt.device).manual_seed(cfg.seed + dist.rank * RANK_SEED_OFFSET)
        self.step = StepRunner(cfg, self.nets, self.opts, rt, self.latent_rng, graphs=self.graphs)
        self.data = _training_images(cfg, data, rt, dist)
        self.steps_per_epoch = len(data) // cfg.batch_size
        # built before any checkpoint is loaded: its base rates are the config's (schedule.py)
        self.schedule = schedule_for(cfg, self.opts, self.steps_per_epoch * cfg.epochs)
        self.progress = Progress()
        self.saved_step: int | None = None  # step of the checkpoint on disk (None: none written yet)
        self.shown = display.how_shown(statistic_names(cfg), cfg.latent)  # what a step reports, and how it is shown
        self.sums = StepSums(tuple(self.shown), rt.device)
        self.log = rundir.MetricsLog(run_dir, cfg.tensorboard) if dist.is_main else None
        series = {**{k: (s.label, s.figure) for k, s in self.shown.items() if s.figure}, **registry.series()}
        self.pictures = RunPictures(run_dir, cfg.latent, cfg.seed, series) if dist.is_main else None
        self.health = (
            HealthMonitor(cfg.latent, self.data.health_real, self.steps_per_epoch * cfg.epochs, cfg.seed)
            if dist.is_main
            else None
        )
        watched = cfg.stop_when_settled and dist.is_main
        self.settle = settle.SettleWatch(self.data.settle_real, cfg.min_epochs) if watched else None
        self.settled_at: int | None = None  # the epoch --stop-when-settled ended the run at (every rank)

    @classmethod
    def from_config(
        cls,
        cfg: TrainConfig,
        run_dir: Path,
        data: ImageData,
        dist: Dist = SINGLE,
        checkpoint: dict | None = None,
        inception_weights: Path | None = None,
        rt: Runtime | None = None,
    ) -> Trainer:
        """A trainer for a resolved config, restored from `checkpoint` when given (refused if it does not fit)."""
        set_threads(cfg)
        trainer = cls(cfg, run_dir, data, dist, rt or make_runtime(cfg, dist), inception_weights)
        if checkpoint is not None:
            trainer.load_state_dict(checkpoint)
        return trainer

    # --- checkpoints ---
    def state_dict(self) -> dict:
        """The checkpoint; collective under DDP (every rank's RNG state is gathered), so all ranks call it."""
        return run_state.checkpoint_of(self)

    def load_state_dict(self, ckpt: dict) -> None:
        """Restore a checkpoint of this run; UsageError (before anything is written) if it does not fit."""
        run_state.restore(self, ckpt)

    def save_checkpoint(self) -> None:
        """last.pt is always a whole, finite, earlier state (run_state.save)."""
        run_state.save(self)

    # --- the loop ---
    def fit(self, stop: StopFlag) -> None:
        while self.progress.epoch < self.cfg.epochs and self.settled_at is None:
            epoch_started = time.perf_counter()  # the epoch's whole wall time: its batches and its work
            first_batch = self.progress.batch
            self._train_epoch(stop)
            seconds = time.perf_counter() - epoch_started
            self._end_epoch(seconds, (self.steps_per_epoch - first_batch) * self.cfg.batch_size, epoch_started)

    def _train_epoch(self, stop: StopFlag) -> None:
        cfg, p, rank_batch = self.cfg, self.progress, self.cfg.batch_size // self.dist.world
        order = torch.randperm(
            len(self.data.images), generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + p.epoch)
        ).to(self.data.images.device)
        with _progress_bar(self) as bar:
            while p.batch < self.steps_per_epoch:
                start = p.batch * cfg.batch_size + self.dist.rank * rank_batch  # this rank's slice of the batch
                batch = self.data.images[order[start : start + rank_batch]]  # uint8 [B/W, C, H, W]
                if self.data.copy_batches:  # async copy from pinned host memory
                    batch = batch.pin_memory().to(self.rt.device, non_blocking=True)
                if self.schedule is not None:
                    self.schedule.apply(p.step)
                self.sums.add(self.step(batch, p.step))
                p.batch, p.step = p.batch + 1, p.step + 1
                bar.update(1)
                self._after_step(stop, bar)

    def _after_step(self, stop: StopFlag, bar) -> None:
        """The interval record, extra checkpoints, and a stop request honoured by every rank at the same step."""
        p, cfg = self.progress, self.cfg
        if p.step % cfg.log_every == 0:
            measured = self.health.measure(self.nets.gen, self.nets.disc, p.step) if self.dist.is_main else {}
            record = _record(self, "interval", **measured)
            bar.set_postfix({k: f"{record[k]:.3f}" for k, s in self.shown.items() if s.bar})
            _check_health(self, record)
        if cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0:
            self.save_checkpoint()
        if distributed.any_rank(stop.signum is not None, self.dist, self.rt.device):
            self.save_checkpoint()
            if self.dist.is_main:  # the grid of now, the curves and GIF so far, as a finished run has them
                self.pictures.interrupted(self.nets.gen, self.log.records(kind=None))
            raise TrainingInterrupted(stop.signum or signal.SIGTERM, self.run_dir, p.step)

    def _end_epoch(self, seconds: float, images_seen: int, epoch_started: float) -> None:
        """The epoch's record, checkpoint and sample grid; label metrics and plots every --eval-every epochs
        and at the last. Each piece is timed; the times go to metrics.jsonl as a "work" record, with the
        epoch's wall time from its first batch to the end of this work (`wall_seconds`)."""
        p, cfg, work = self.progress, self.cfg, _Stopwatch()
        p.epoch, p.batch = p.epoch + 1, 0
        with work("settle"):
            watched = _judge_settled(self)
        last = p.epoch == cfg.epochs or self.settled_at is not None
        full = p.epoch % cfg.eval_every == 0 or last
        with work("label_metrics"):
            extra = {**watched, **(_epoch_metrics(self, (None,)) if full else {})}
        if cfg.image_metrics_every and (p.epoch % cfg.image_metrics_every == 0 or p.epoch == cfg.epochs):
            with work("image_metrics"):
                extra.update(_epoch_metrics(self, ("image",)))
        if self.schedule is not None:  # the rates' multiplier at the epoch's last step
            extra["lr_factor"] = round(self.schedule.factor(p.step - 1), 6)
        rate = round(images_seen / max(seconds, 1e-9), 1)
        record = _record(self, "epoch", **extra, seconds=round(seconds, 3), images_per_sec=rate)
        with work("checkpoint"):
            self.save_checkpoint()
        if not self.dist.is_main:
            return
        with work("sample_grid"):
            self.pictures.epoch_grid(self.nets.gen, p.epoch)
        if cfg.keep_every and p.epoch % cfg.keep_every == 0:
            rundir.keep_checkpoint(self.run_dir, p.epoch)
        if full:
            with work("plots"):
                self.pictures.summaries(self.log.records(), gif=False)
        self.log.append(_work_record(p, seconds, work, epoch_started))
        print(display.epoch_line(p.epoch, cfg.epochs, record, self.shown, registry.console()), flush=True)
        if self.settled_at is not None:
            print(f"stopped after epoch {p.epoch} of {cfg.epochs}: {self.settle.reason()}", flush=True)

    def finish(self) -> None:
        report = distributed.replica_report(self.nets.modules(), self.dist)  # collective
        if not self.dist.is_main:
            return
        if report is not None:  # evidence that DDP kept every replica identical
            atomic_write_bytes(self.run_dir / "ddp.json", (json.dumps(report, indent=2) + "\n").encode())
        self.pictures.traversals(self.nets.gen)
        self.pictures.summaries(self.log.records())
        save_generator(self.run_dir / "generator.safetensors", self.nets.gen, self.cfg)
        self.log.close()


def _work_record(p: Progress, steps_seconds: float, work: _Stopwatch, epoch_started: float) -> dict:
    """The epoch's timings: its steps, each piece of its work, and its whole wall time (first batch to now)."""
    return {
        "kind": "work",
        "epoch": p.epoch,
        "step": p.step,
        "steps_seconds": round(steps_seconds, 3),
        **{f"{name}_seconds": round(t, 3) for name, t in work.seconds.items()},
        "wall_seconds": round(time.perf_counter() - epoch_started, 3),
    }


def _record(trainer: Trainer, kind: str, **extra) -> dict:
    """The statistics' means since the last record of `kind`, with `extra`, into metrics.jsonl."""
    means = trainer.sums.take(kind, trainer.dist)
    record = {
        "kind": kind,
        "epoch": trainer.progress.epoch + (1 if kind == "interval" else 0),
        "step": trainer.progress.step,
        **means,
        **extra,
    }
    if not all(math.isfinite(v) for v in means.values()):
        raise run_state.diverged(trainer, record["epoch"])
    if trainer.dist.is_main:
        trainer.log.append(record)
    return record


def _judge_settled(trainer: Trainer) -> dict:
    """--stop-when-settled: rank 0 judges the epoch just ended, every rank learns whether the run stops here
    (trainer.settled_at). The watch's measures, for the epoch's record."""
    if not trainer.cfg.stop_when_settled:
        return {}
    settled = trainer.settle.judge(trainer.nets.disc, trainer.progress.epoch) if trainer.settle else False
    if distributed.any_rank(settled, trainer.dist, trainer.rt.device):
        trainer.settled_at = trainer.progress.epoch
    return trainer.settle.last if trainer.settle else {}


def _check_health(trainer: Trainer, record: dict) -> None:
    """The monitor's new findings: a line each on the console and a record in metrics.jsonl; with
    --stop-on-failure the run is checkpointed and stops (every rank at the same step)."""
    found = trainer.health.check(record) if trainer.dist.is_main else []
    for finding in found:
        print(finding.line(), file=sys.stderr, flush=True)
        trainer.log.append(finding.record(record["epoch"]))
    if trainer.cfg.stop_on_failure and distributed.any_rank(bool(found), trainer.dist, trainer.rt.device):
        trainer.save_checkpoint()
        raise TrainingFailing(
            f"stopped at step {trainer.progress.step} on a failure (--stop-on-failure); "
            f"resume with: infogan train --resume {trainer.run_dir}"
        )


def _training_images(cfg: TrainConfig, data: ImageData, rt: Runtime, dist: Dist) -> TrainingImages:
    """The data where the step reads it, and the fixed subsets that the per-epoch work of rank 0 reads."""
    return TrainingImages.place(
        data,
        rt.device,
        cfg.seed,
        dist.is_main,
        cfg.image_metrics_samples if cfg.image_metrics_every else 0,
        _scored_data(cfg, data) if dist.is_main else None,
        settle.SETTLE_IMAGES if cfg.stop_when_settled else 0,
    )


def _scored_data(cfg: TrainConfig, data: ImageData) -> ImageData | None:
    """--eval-dataset: its held-out split (or all of it), checked to have labels and the run's image shape."""
    if cfg.eval_dataset is None:
        return None
    scored = load_dataset(cfg.eval_dataset, cfg.data_dir, evaluation_split(cfg.eval_dataset), *cfg.folder_options())
    if scored.labels is None or scored.shape != data.shape:
        raise UsageError(
            f"--eval-dataset {cfg.eval_dataset} needs labels and images of shape {list(data.shape)} "
            f"(it has {'no labels' if scored.labels is None else list(scored.shape)})"
        )
    return scored


def _progress_bar(trainer: Trainer) -> tqdm:
    """A bar on a terminal only: in a log (CI, nohup, a pipe) its carriage-return frames are noise, and the
    one line per epoch says what a log needs."""
    cfg, p = trainer.cfg, trainer.progress
    return tqdm(
        total=trainer.steps_per_epoch,
        initial=p.batch,
        desc=f"epoch {p.epoch + 1}/{cfg.epochs}",
        disable=not (cfg.progress and trainer.dist.is_main and sys.stderr.isatty()),
        leave=False,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def _epoch_metrics(trainer: Trainer, groups: tuple) -> dict:
    """The registry's per-epoch metrics of `groups` (None: labels, "image": --image-metrics), rank 0 only,
    on fixed subsets of the training images."""
    image = groups == ("image",)
    if not trainer.dist.is_main or (not image and trainer.data.labelled is None):
        return {}
    cfg = trainer.cfg
    images, factors = (trainer.data.fidelity_real, {}) if image else trainer.data.labelled
    ctx = registry.EvalContext(
        cfg,
        trainer.nets.gen,
        trainer.nets.disc,
        images,
        factors,
        device=str(trainer.rt.device),
        batch_size=100 if image else 500,
        samples=cfg.image_metrics_samples,
        requested={"image": list(cfg.image_metrics)},
        inception_weights=trainer.inception_weights,
        during_training=True,
        real_cache_name=f"infogan-{trainer.data_name}-train-{len(images)}-seed{cfg.seed}",
    )
    return registry.epoch_metrics(ctx, groups)
