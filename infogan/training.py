"""The training loop: one InfoGAN step, and the epoch loop around it that writes the run directory.

    train(cfg)             start a new run (returns its directory)
    resume(run_dir, ...)   continue a run exactly where its last checkpoint stopped

Reproducibility on CPU: the weights are initialised from `torch.manual_seed(seed)`; the latents come
from a dedicated `torch.Generator`; each epoch's batch order is a permutation seeded by (seed, epoch);
checkpoints carry every RNG state and the partial sums of an unfinished epoch, so 2 epochs straight and
1 epoch + resume + 1 epoch give the same weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from . import cuda_graphs, distributed, image_quality, losses
from .artifacts import plot_curves, read_metrics, save_gif, save_image_grid
from .checkpoint import atomic_write_bytes, check_structure, load_checkpoint, save_checkpoint, save_generator
from .config import TrainConfig, resolve
from .cuda_graphs import CapturedStep
from .data import ImageData, load_dataset, source_of, to_unit_range
from .distributed import SINGLE, Dist
from .errors import UsageError
from .files import read_file
from .inference import generate, generated_sample
from .latent import Latent, LatentSpec, QCodes
from .metrics import epoch_label_metrics
from .networks import ContrastiveDiscriminator, Discriminator, Generator, build_networks, check_model_size
from .runlock import LOCK_NAME, RunLock
from .runtime import Runtime, make_runtime, resolve_precision, set_threads

TRAVERSAL_RANGE = (-2.0, 2.0)
TRAVERSAL_STEPS = 10
TRAVERSAL_ROWS = 10  # noise rows of a categorical code's traversal
SAMPLE_NAME = re.compile(r"epoch_(\d{4,})\.png")  # the grids this code writes; other files there are left alone
GRID_COLUMNS = 10
# Labelled images scored per epoch when the data set has labels. 2,000 put the accuracy's standard error
# at most 0.012 (binomial, any accuracy) at 0.6 s an epoch on a 2-core CPU; 5,000 cost 1.4-1.7 s, 7% of a
# 5,000-digit epoch on their own. `infogan evaluate` scores the held-out split in full.
EPOCH_EVAL_IMAGES = 2000
# Offsets that give the picture latents their own seeds, apart from the training latents'.
GRID_SEED_OFFSET, TRAVERSAL_SEED_OFFSET = 1_000_003, 2_000_003
RANK_SEED_OFFSET = 7_919  # rank r draws latents from seed + r * this (rank 0 = a single process)


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; the run was checkpointed and can be resumed."""

    def __init__(self, signum: int, run_dir: Path, step: int):
        self.signum, self.run_dir, self.step = signum, run_dir, step
        super().__init__(f"interrupted at step {step}; resume with: infogan train --resume {run_dir}")


class TrainingDiverged(Exception):
    """A loss went NaN/inf; the last good checkpoint was kept."""


# ---------------------------------------------------------------------------------------------- one step
def make_optimizers(cfg: TrainConfig, gen: Generator, disc: Discriminator, capturable: bool = False):
    """G's optimiser owns G; D's owns the trunk, D's head and Q's head (Q's head at lr_q, default G's lr).
    `capturable`: Adam's step count kept on the device, as a CUDA graph needs (cuda_graphs.py).

    See losses.py for why Q's head sits with D's optimiser."""
    betas = (cfg.beta1, cfg.beta2)
    groups = [{"params": disc.shared_and_d_parameters(), "lr": cfg.lr_d}]
    if disc.q_parameters():
        groups.append({"params": disc.q_parameters(), "lr": cfg.lr_g if cfg.lr_q is None else cfg.lr_q})
    # foreach: one fused kernel launch per parameter group instead of one per tensor
    opt_d = torch.optim.Adam(groups, betas=betas, foreach=True, capturable=capturable)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=betas, foreach=True, capturable=capturable)
    return opt_g, opt_d


def set_capturable(capturable: bool, *optimizers: torch.optim.Optimizer) -> None:
    """A loaded optimiser state brings the flag of the run that saved it (a GPU run with graphs, resumed on a
    CPU, must not keep it: capturable Adam refuses CPU tensors); this run's choice wins."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["capturable"] = capturable
            for param in group["params"]:
                state = opt.state.get(param, {})
                if "step" in state:  # capturable Adam counts on the parameter's device, the other on the CPU
                    state["step"] = state["step"].to(param.device if capturable else "cpu", torch.float32)


@dataclass
class Contrastive:
    """InfoGAN-CR's pair discriminator H and its optimiser (Adam at D's learning rate, as Lin et al.).
    `step_module` is what the step runs (the DDP wrapper, or `module` itself)."""

    module: ContrastiveDiscriminator
    opt: torch.optim.Optimizer
    step_module: nn.Module | None = None

    def __post_init__(self):
        self.step_module = self.module if self.step_module is None else self.step_module

    @classmethod
    def build(cls, cfg: TrainConfig, device) -> "Contrastive":
        module = ContrastiveDiscriminator(cfg).to(device)
        return cls(module, torch.optim.Adam(module.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                            foreach=True))


@dataclass
class StepDraws:
    """The random draws of one step: the latents, and InfoGAN-CR's partners and shared-code indices."""

    latent: Latent
    partner: Latent | None = None  # --cr-weight only
    shared: torch.Tensor | None = None  # [N] int64, the code each pair shares


def draw_step(spec: LatentSpec, n: int, latent_rng: torch.Generator, device, contrastive: bool) -> StepDraws:
    """One step's draws from the run's latent generator, in the order the step has always used them (the
    latents, then InfoGAN-CR's partners), so runs and checkpoints keep their random streams."""
    latent = spec.sample(n, latent_rng, device)
    if not contrastive:
        return StepDraws(latent)
    return StepDraws(latent, *spec.contrastive_pair(latent, latent_rng))


def train_step(cfg: TrainConfig, gen: Generator, disc: Discriminator, opt_g, opt_d, real: torch.Tensor,
               latent_rng: torch.Generator, rt: Runtime, disc_module: Discriminator | None = None,
               cr: Contrastive | None = None, step: int = 0) -> dict:
    """One D/Q update (and one H update with --cr-weight) then one G update on real images in [-1, 1].

    Under DDP `gen` and `disc` are the wrapped models and `disc_module` the bare discriminator, which the G
    step uses: its gradients are thrown away there, so they need no all-reduce. `step` (the number of steps
    done) tells whether G takes the contrastive term yet.
    Returns the step's statistics by name, 0-d tensors left on the device (no host sync).
    """
    spec = (disc if disc_module is None else disc_module).spec
    draws = draw_step(spec, real.shape[0], latent_rng, rt.device, cr is not None)
    return update_step(cfg, gen, disc, opt_g, opt_d, real, draws, rt, disc_module, cr,
                       g_takes_cr=cr is not None and step >= cfg.cr_start_step)


def update_step(cfg: TrainConfig, gen: Generator, disc: Discriminator, opt_g, opt_d, real: torch.Tensor,
                draws: StepDraws, rt: Runtime, disc_module: Discriminator | None = None,
                cr: Contrastive | None = None, g_takes_cr: bool = False) -> dict:
    """The updates of `train_step` for given draws. No host sync and no Python branch on tensor values, so
    it can be captured in a CUDA graph (cuda_graphs.py)."""
    disc_module = disc if disc_module is None else disc_module
    spec, latent = disc_module.spec, draws.latent
    codes = spec.vector(latent)

    # D and Q: L_D + L_info on the detached fakes (the info gradient trains Q's head and the shared trunk)
    with rt.autocast():
        fake = gen(codes)  # [N, C, H, W]
        d_real = disc(real)
        d_fake = disc(fake.detach())
        d_adv = losses.discriminator_loss(d_real.logit.float(), d_fake.logit.float())
        info_d = _info(cfg, d_fake, latent)
    opt_d.zero_grad(set_to_none=True)
    rt.backward_step(d_adv + info_d.total, opt_d)

    # H (InfoGAN-CR): which code does each pair (fake, partner) share? Trained on the detached pair.
    if cr is not None:
        shared = draws.shared
        with rt.autocast():
            partner = gen(spec.vector(draws.partner))  # [N, C, H, W]
            pair_logits = cr.step_module(fake.detach(), partner.detach()).float()  # [N, n_codes]
            cr_loss = losses.contrastive_loss(pair_logits, shared)
        cr.opt.zero_grad(set_to_none=True)
        rt.backward_step(cr_loss, cr.opt)
        contrastive = (cr_loss, losses.contrastive_accuracy(pair_logits, shared))

    # G: L_G + L_info (+ cr_weight * L_CR) through the updated D/Q (and H); their weights need no gradients
    disc_module.requires_grad_(False)
    with rt.autocast():
        d_gen = disc_module(fake)
        g_adv = losses.generator_loss(d_gen.logit.float())
        info_g = _info(cfg, d_gen, latent)
        g_total = g_adv + info_g.total
        if g_takes_cr:  # cooperative: G lowers the same cross-entropy H does, through both images of the pair
            cr.module.requires_grad_(False)
            g_total = g_total + cfg.cr_weight * losses.contrastive_loss(cr.module(fake, partner).float(), shared)
    opt_g.zero_grad(set_to_none=True)
    rt.backward_step(g_total, opt_g)
    disc_module.requires_grad_(True)
    if g_takes_cr:
        cr.module.requires_grad_(True)
    if rt.scaler is not None:
        rt.scaler.update()

    with torch.no_grad():
        return step_statistics(spec, d_adv, g_adv, info_g, d_real.logit, d_fake.logit,
                               contrastive if cr is not None else None)


class StepRunner:
    """What the loop calls once per batch: the step's draws, then the updates, run eagerly or, with
    `graphs`, as one replayed CUDA graph (cuda_graphs.py). Takes the uint8 batch [B, C, H, W]."""

    def __init__(self, cfg: TrainConfig, gen, disc, opt_g, opt_d, rt: Runtime, latent_rng: torch.Generator,
                 disc_module: Discriminator | None = None, cr: Contrastive | None = None, graphs: bool = False,
                 backend=None):
        self.cfg, self.gen, self.disc, self.opt_g, self.opt_d = cfg, gen, disc, opt_g, opt_d
        self.disc_module = disc if disc_module is None else disc_module
        self.rt, self.latent_rng, self.cr = rt, latent_rng, cr
        # Inside a graph autocast must not cache weight casts; eager steps keep the cache.
        self.captured = CapturedStep(self._captured_update, backend=backend) if graphs else None
        self.graph_rt = dataclasses.replace(rt, autocast_cache=False)

    def __call__(self, batch: torch.Tensor, step: int) -> dict:
        if self.captured is None:
            return train_step(self.cfg, self.gen, self.disc, self.opt_g, self.opt_d, to_unit_range(batch),
                              self.latent_rng, self.rt, self.disc_module, self.cr, step)
        # no contrastive draws here: cuda_graphs.unsupported_reason keeps --cr-weight runs eager
        latent = draw_step(self.disc_module.spec, batch.shape[0], self.latent_rng, self.rt.device, False).latent
        # the statistics are the graph's outputs: read them before the next call
        return self.captured(batch, latent.z, latent.cat, latent.cont)

    def _captured_update(self, batch: torch.Tensor, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> dict:
        return update_step(self.cfg, self.gen, self.disc, self.opt_g, self.opt_d, to_unit_range(batch),
                           StepDraws(Latent(z, cat, cont)), self.graph_rt, self.disc_module)


def use_cuda_graphs(cfg: TrainConfig, rt: Runtime, dist: Dist) -> bool:
    """--cuda-graphs: auto captures where the run allows it and says why not on a GPU run that does not;
    on refuses such a run before it starts; off never captures."""
    if cfg.cuda_graphs == "off":
        return False
    reason = cuda_graphs.unsupported_reason(rt.device.type, dist.enabled, rt.scaler is not None, cfg.cr_weight > 0)
    if reason is None:
        return True
    if cfg.cuda_graphs == "on":
        raise UsageError(f"--cuda-graphs on: {reason}; use --cuda-graphs auto or off")
    if rt.device.type == "cuda" and dist.is_main:
        print(f"note: {reason}; the step runs eagerly", file=sys.stderr)
    return False


def step_statistics(spec: LatentSpec, d_adv, g_adv, info: losses.InfoLoss, real_logit, fake_logit,
                    contrastive: tuple | None = None) -> dict:
    """What each step logs, by name (0-d tensors). A new statistic is one line here: its name reaches
    metrics.jsonl, the plots' inputs and the checkpoint's running sums from this dict."""
    acc_real, acc_fake = losses.discriminator_accuracy(real_logit, fake_logit)
    stats = {"d_loss": d_adv, "g_loss": g_adv, "cat_loss": info.categorical, "cont_loss": info.continuous,
             "mi_bound": spec.total_entropy - info.categorical,  # sum over codes of ln K_i - CE_i
             "d_acc_real": acc_real, "d_acc_fake": acc_fake}
    if spec.n_categorical > 1:  # with one code the totals above are that code's values
        for i, ce in enumerate(info.categorical_per_code):
            stats[f"cat_loss_cat{i + 1}"] = ce
            stats[f"mi_bound_cat{i + 1}"] = losses.mutual_information_bound(ce, spec.categorical[i])
    if contrastive is not None:  # --cr-weight: H's cross-entropy and accuracy (chance: 1 / number of codes)
        stats["cr_loss"], stats["cr_acc"] = contrastive
    return {name: value.detach().float() for name, value in stats.items()}


def stat_names(spec: LatentSpec, contrastive: bool = False) -> tuple[str, ...]:
    """The names `step_statistics` reports for this latent code, with --cr-weight or not (computed on zeros)."""
    zero = torch.zeros(())
    info = losses.InfoLoss(zero, zero, zero, [zero] * spec.n_categorical)
    return tuple(step_statistics(spec, zero, zero, info, zero.view(1), zero.view(1),
                                 (zero, zero) if contrastive else None))


# Checkpoints written before statistics were named hold their sums in this order.
LEGACY_STAT_NAMES = ("d_loss", "g_loss", "cat_loss", "cont_loss", "mi_bound", "d_acc_real", "d_acc_fake")


class RunningSums:
    """Sums of named step statistics since the last reset, on the device as one tensor (so a record costs
    one host sync). The names are saved with the sums; a resume whose names differ is refused."""

    def __init__(self, names: tuple[str, ...], device):
        self.names = tuple(names)
        self.sums = torch.zeros(len(self.names), device=device)
        self.steps = 0

    def stack(self, stats: dict) -> torch.Tensor:
        """A step's statistics as one tensor in this accumulator's order."""
        return torch.stack([stats[name] for name in self.names])

    def add(self, values: torch.Tensor) -> None:
        self.sums += values
        self.steps += 1

    def reset(self) -> None:
        self.sums.zero_()
        self.steps = 0

    def restore(self, names, sums: torch.Tensor, steps: int, what: str) -> None:
        if tuple(names) != self.names or tuple(sums.shape) != (len(self.names),):
            raise UsageError(f"the checkpoint's running sums ({what}) hold {', '.join(names)}, this run logs "
                             f"{', '.join(self.names)}: the checkpoint is not from this run's code layout")
        self.sums = sums.to(self.sums.device, torch.float32)
        self.steps = int(steps)


def _info(cfg: TrainConfig, out, latent) -> losses.InfoLoss:
    q = out.q
    fp32 = QCodes([logits.float() for logits in q.cat_logits], q.cont_mean.float(),
                         None if q.cont_logstd is None else q.cont_logstd.float())
    return losses.information_loss(fp32, latent, cfg.categorical_weight, cfg.continuous_weight)


# ---------------------------------------------------------------------------------------------- run directory
def _new_run_dir(cfg: TrainConfig, data_name: str, overwrite: bool) -> tuple[Path, RunLock]:
    """Create (or, with --overwrite, empty) the run directory and lock it for this process."""
    path = Path(cfg.outdir) if cfg.outdir else Path("runs") / f"{data_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"--outdir {path} is a file, not a folder: pick another --outdir")
    if path.is_dir() and any(p.name != LOCK_NAME for p in path.iterdir()):
        if not overwrite:
            raise UsageError(f"--outdir {path} already holds files: pass --resume {path} to continue that run, "
                             f"--overwrite to replace it, or choose another --outdir")
        if not (path / "config.json").is_file():
            raise UsageError(f"--overwrite only replaces run directories (with a config.json); {path} is not one")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --outdir {path}: {exc.strerror or exc}; choose another --outdir") from None
    lock = RunLock.acquire(path)  # before anything is removed: a run still training there keeps its files
    try:
        for item in path.iterdir():
            if item.name != LOCK_NAME:
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        lock.release()
        raise UsageError(f"cannot write to --outdir {path}: {exc.strerror or exc}; choose another --outdir") from None
    return path, lock


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


class _StopFlag:
    """Turns the first SIGINT/SIGTERM into a request to stop after the current step; a second one aborts."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt  # second signal: stop now (the last checkpoint on disk is complete)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: finishing this step and checkpointing "
              f"(send it again to abort at once)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


# ---------------------------------------------------------------------------------------------- the loop
@dataclass
class _Progress:
    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimiser steps done in all


class _Run:
    """Everything one training run holds; `loop()` runs it to the end or to a stop request."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, data: ImageData, checkpoint: dict | None,
                 dist: Dist = SINGLE):
        self.cfg, self.run_dir, self.data, self.dist = cfg, run_dir, data, dist
        set_threads(cfg)
        self.rt = make_runtime(cfg, dist)
        torch.manual_seed(cfg.seed)
        gen, disc = build_networks(cfg)
        self.gen, self.disc = gen.to(self.rt.device), disc.to(self.rt.device)
        self.graphs = use_cuda_graphs(cfg, self.rt, dist)
        self.opt_g, self.opt_d = make_optimizers(cfg, self.gen, self.disc, capturable=self.graphs)
        # What the step runs: the DDP wrappers (gradient all-reduce) or the bare modules.
        self.gen_step, self.disc_step = self.gen, self.disc
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.rt.device.index] if self.rt.device.type == "cuda" else None
            self.gen_step, self.disc_step = DDP(self.gen, device_ids=ids), DDP(self.disc, device_ids=ids)
        self.cr = Contrastive.build(cfg, self.rt.device) if cfg.cr_weight > 0 else None
        if self.cr is not None and dist.enabled:
            self.cr.step_module = DDP(self.cr.module, device_ids=ids)
        self.latent_rng = torch.Generator(self.rt.device).manual_seed(cfg.seed + dist.rank * RANK_SEED_OFFSET)
        self.step = StepRunner(cfg, self.gen_step, self.disc_step, self.opt_g, self.opt_d, self.rt, self.latent_rng,
                               disc_module=self.disc, cr=self.cr, graphs=self.graphs)
        if self.graphs and dist.is_main:
            print(f"CUDA graphs: the step is captured after {cuda_graphs.WARMUP_STEPS} eager steps and replayed "
                  f"(--cuda-graphs off runs it eagerly)", flush=True)
        self.rank_batch = cfg.batch_size // dist.world  # this process's slice of each global batch
        self.images = _place_images(data.images, self.rt.device)  # uint8 [N, C, H, W]: the whole data set, once
        self.copy_batches = _needs_host_copy(self.images.device, self.rt.device)  # data left in pinned host memory
        self.steps_per_epoch = len(data) // cfg.batch_size
        self.progress = _Progress()
        self.saved_step: int | None = None  # step of the checkpoint on disk (None: none written yet)
        self.spec = cfg.latent
        names = stat_names(self.spec, contrastive=self.cr is not None)
        self.epoch_sums = RunningSums(names, self.rt.device)
        self.interval_sums = RunningSums(names, self.rt.device)
        self.grid_latent = self.spec.grid(torch.Generator().manual_seed(cfg.seed + GRID_SEED_OFFSET), GRID_COLUMNS)
        self.tb = _tensorboard_writer(run_dir) if cfg.tensorboard and dist.is_main else None
        # Labels (never used for training) let each epoch report how well Q's categories match them,
        # on a fixed subset so the number is comparable across epochs and cheap on large data sets.
        self.eval_subset = None
        if data.labels is not None and dist.is_main:
            pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))[:EPOCH_EVAL_IMAGES]
            self.eval_subset = (data.images[pick], {name: y[pick] for name, y in data.factors.items()})
        # --image-metrics-every: torch-fidelity's metrics of a fixed generated sample against fixed real images
        self.fidelity = None
        if cfg.image_metrics_every and dist.is_main:
            n = min(cfg.image_metrics_samples, len(data))
            pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed))[:n]
            self.fidelity = (image_quality.prepare(cfg.inception_weights, cfg.data_dir), data.images[pick],
                             f"infogan-{data.name}-train-{n}-seed{cfg.seed}")
        if checkpoint is not None:
            self._restore(checkpoint)

    # --- checkpoints ---
    def _payload(self) -> dict:
        """The checkpoint; collective under DDP (every rank's RNG state is gathered), so all ranks call it."""
        rng = {"torch": torch.get_rng_state(), "latent": self.latent_rng.get_state()}
        if self.rt.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.rt.device)
        rng_ranks = distributed.gather(rng, self.dist)
        return {
            "config": self.cfg.to_dict(),
            "epoch": self.progress.epoch, "batch": self.progress.batch, "step": self.progress.step,
            "generator": self.gen.state_dict(), "discriminator": self.disc.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "scaler": self.rt.scaler.state_dict() if self.rt.scaler else None,
            "rng": rng_ranks[0], "rng_ranks": rng_ranks if self.dist.enabled else [],
            "stat_names": list(self.epoch_sums.names),
            "epoch_sums": self.epoch_sums.sums.cpu(), "interval_sums": self.interval_sums.sums.cpu(),
            "interval_steps": self.interval_sums.steps,
            **({"contrastive": self.cr.module.state_dict(), "opt_contrastive": self.cr.opt.state_dict()}
               if self.cr is not None else {}),
        }

    def _restore(self, ckpt: dict) -> None:
        try:
            self.gen.load_state_dict(ckpt["generator"])
            self.disc.load_state_dict(ckpt["discriminator"])
            self.opt_g.load_state_dict(ckpt["opt_g"])
            self.opt_d.load_state_dict(ckpt["opt_d"])
            set_capturable(self.graphs, self.opt_g, self.opt_d)
            if self.cr is not None:
                self.cr.module.load_state_dict(ckpt["contrastive"])
                self.cr.opt.load_state_dict(ckpt["opt_contrastive"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"the checkpoint does not fit this run's architecture ({first[:200]})") from None
        if self.rt.scaler is not None and ckpt.get("scaler"):
            self.rt.scaler.load_state_dict(ckpt["scaler"])
        ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
        if len(ranks) == self.dist.world:
            rng = ranks[self.dist.rank]
            torch.set_rng_state(rng["torch"])
            self.latent_rng.set_state(rng["latent"])
            if "cuda" in rng and self.rt.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"], self.rt.device)
        else:  # another process count than before: continue correctly, but not bit-exactly
            self.latent_rng.manual_seed(self.cfg.seed + self.dist.rank * RANK_SEED_OFFSET + ckpt["step"])
            if self.dist.is_main:
                print(f"note: the checkpoint was written by {len(ranks)} process(es), this run has {self.dist.world}; "
                      f"latents are re-seeded, so the resumed run is not bit-identical to an uninterrupted one",
                      file=sys.stderr)
        self.progress = _Progress(ckpt["epoch"], ckpt["batch"], ckpt["step"])
        self.saved_step = ckpt["step"]
        names = ckpt.get("stat_names", LEGACY_STAT_NAMES)
        self.epoch_sums.restore(names, ckpt["epoch_sums"], ckpt["batch"], "epoch")
        self.interval_sums.restore(names, ckpt["interval_sums"], ckpt["interval_steps"], "interval")

    def save_checkpoint(self) -> None:
        """last.pt is always a whole, finite, earlier state: weights or sums that are not finite stop the run
        instead of replacing the last good checkpoint."""
        self._check_finite()
        payload = self._payload()
        if self.dist.is_main:
            save_checkpoint(self.run_dir / "checkpoints" / "last.pt", payload)
        self.saved_step = self.progress.step

    # --- metrics ---
    def _write_record(self, kind: str, sums: RunningSums, **extra) -> dict:
        mean = distributed.mean_(sums.sums / max(sums.steps, 1), self.dist)  # over ranks; collective
        values = mean.tolist()  # the host sync happens here, once per record
        record = {"kind": kind, "epoch": self.progress.epoch + (1 if kind == "interval" else 0),
                  "step": self.progress.step, **dict(zip(sums.names, values)), **extra}
        if not all(math.isfinite(v) for v in values):
            raise self._diverged(record["epoch"])
        if not self.dist.is_main:
            return record
        self._append(record)
        if self.tb is not None:
            for key in sums.names:
                self.tb.add_scalar(f"{kind}/{key}", record[key], self.progress.step)
        return record

    def _append(self, record: dict) -> None:
        try:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk: stop with the checkpoint on disk intact
            raise UsageError(f"could not append to {self.run_dir / 'metrics.jsonl'}: {exc.strerror or exc}; free "
                             f"space and resume (infogan train --resume {self.run_dir})") from None

    # --- pictures ---
    def write_epoch_grid(self) -> None:
        images = generate(self.gen, self.grid_latent)
        save_image_grid(images, self.spec.picture_rows(), GRID_COLUMNS,
                        self.run_dir / "samples" / f"epoch_{self.progress.epoch:04d}.png")

    def write_summaries(self, gif: bool = True) -> None:
        """Curves, and the GIF of the epoch grids so far (at the end, or when interrupted)."""
        records = read_metrics(self.run_dir / "metrics.jsonl")
        if records:
            plot_curves(records, self.run_dir / "plots", self.spec)
        frames = sorted(p for p in (self.run_dir / "samples").glob("epoch_*.png") if SAMPLE_NAME.fullmatch(p.name))
        if gif and frames:
            save_gif(frames, self.run_dir / "samples" / "progress.gif")

    def write_traversals(self) -> None:
        """continuous_N.png: rows = values of categorical code 1, columns = code N from -2 to 2;
        categorical_N.png (codes 2 and up): rows = fixed noise, columns = the code's values."""
        values = torch.linspace(*TRAVERSAL_RANGE, TRAVERSAL_STEPS)
        for code in range(self.spec.continuous):
            rng = torch.Generator().manual_seed(self.cfg.seed + TRAVERSAL_SEED_OFFSET)
            latent = self.spec.continuous_traversal(code, values, rng)
            save_image_grid(generate(self.gen, latent), self.spec.picture_rows(), TRAVERSAL_STEPS,
                            self.run_dir / "traversals" / f"continuous_{code + 1}.png")
        for code in range(1, self.spec.n_categorical):
            rng = torch.Generator().manual_seed(self.cfg.seed + TRAVERSAL_SEED_OFFSET + code)
            latent = self.spec.categorical_traversal(code, rng, rows=TRAVERSAL_ROWS)
            save_image_grid(generate(self.gen, latent), TRAVERSAL_ROWS, self.spec.categorical[code],
                            self.run_dir / "traversals" / f"categorical_{code + 1}.png")

    # --- the loop ---
    def loop(self, stop: _StopFlag) -> None:
        cfg, p, n_batches = self.cfg, self.progress, self.steps_per_epoch
        while p.epoch < cfg.epochs:
            epoch_started = time.perf_counter()  # the epoch's whole wall time: its batches and its work
            order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(
                cfg.seed * 1_000_003 + p.epoch)).to(self.images.device)
            started, first_batch = time.perf_counter(), p.batch
            # A bar on a terminal only: in a log (CI, nohup, a pipe) its carriage-return frames are noise,
            # and the one line per epoch below says what a log needs.
            bar = tqdm(total=n_batches, initial=p.batch, desc=f"epoch {p.epoch + 1}/{cfg.epochs}",
                       disable=not (cfg.progress and self.dist.is_main and sys.stderr.isatty()), leave=False,
                       dynamic_ncols=True, file=sys.stderr)
            first = self.dist.rank * self.rank_batch
            with bar:
                while p.batch < n_batches:
                    start = p.batch * cfg.batch_size + first  # this rank's slice of the global batch
                    batch = self.images[order[start:start + self.rank_batch]]  # uint8 [B/W, C, H, W]
                    if self.copy_batches:  # async copy from pinned host memory
                        batch = batch.pin_memory().to(self.rt.device, non_blocking=True)
                    stats = self.step(batch, p.step)
                    values = self.epoch_sums.stack(stats)  # both accumulators hold the same names; a copy
                    self.epoch_sums.add(values)
                    self.interval_sums.add(values)
                    p.batch += 1
                    p.step += 1
                    bar.update(1)
                    if p.step % cfg.log_every == 0:
                        record = self._write_record("interval", self.interval_sums)
                        self.interval_sums.reset()
                        bar.set_postfix({k: f"{record[k]:.3f}" for k in ("d_loss", "g_loss", "mi_bound")})
                    if cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                    if distributed.any_rank(stop.signum is not None, self.dist, self.rt.device):
                        self.save_checkpoint()
                        if self.dist.is_main:
                            self.write_summaries()
                        raise TrainingInterrupted(stop.signum or signal.SIGTERM, self.run_dir, p.step)
            self._end_epoch(time.perf_counter() - started, (n_batches - first_batch) * cfg.batch_size, epoch_started)

    def _check_finite(self) -> None:
        """Sums of the epoch and every weight and buffer finite, on every rank (one host sync)."""
        modules = [self.gen, self.disc, *([self.cr.module] if self.cr is not None else [])]
        tensors = [self.epoch_sums.sums, *(t for m in modules for t in [*m.parameters(), *m.buffers()]
                                           if t.is_floating_point())]
        finite = torch.stack([torch.isfinite(t).all() for t in tensors]).all()
        if distributed.any_rank(not bool(finite), self.dist, self.rt.device):
            raise self._diverged(self.progress.epoch + 1)

    def _diverged(self, epoch: int) -> TrainingDiverged:
        kept = (f"checkpoints/last.pt keeps the last good state (step {self.saved_step})"
                if self.saved_step is not None else "no checkpoint had been written yet")
        return TrainingDiverged(
            f"a loss or weight became NaN/inf by step {self.progress.step} (epoch {epoch}): training "
            f"stopped; {kept}. Try lower learning rates or --precision fp32")

    def _end_epoch(self, seconds: float, images_seen: int, epoch_started: float) -> None:
        """The epoch's record, checkpoint and sample grid; label metrics and plots every --eval-every epochs
        and at the last. Each piece is timed; the times go to metrics.jsonl as a "work" record, with the
        epoch's wall time from its first batch to the end of this work (`wall_seconds`)."""
        p = self.progress
        p.epoch += 1
        p.batch = 0
        full = p.epoch % self.cfg.eval_every == 0 or p.epoch == self.cfg.epochs
        work = _Stopwatch()
        with work("label_metrics"):
            extra = epoch_label_metrics(self.disc, *self.eval_subset) if self.eval_subset is not None and full else {}
        every = self.cfg.image_metrics_every
        if self.fidelity is not None and (p.epoch % every == 0 or p.epoch == self.cfg.epochs):
            with work("image_metrics"):
                extra.update(self._image_metrics())
        record = self._write_record("epoch", self.epoch_sums, **extra, seconds=round(seconds, 3),
                                    images_per_sec=round(images_seen / max(seconds, 1e-9), 1))
        self.epoch_sums.reset()
        with work("checkpoint"):
            self.save_checkpoint()
        if not self.dist.is_main:
            return
        with work("sample_grid"):
            self.write_epoch_grid()
        if self.cfg.keep_every and p.epoch % self.cfg.keep_every == 0:
            last = self.run_dir / "checkpoints" / "last.pt"
            atomic_write_bytes(last.with_name(f"epoch_{p.epoch:04d}.pt"), last.read_bytes())
        if full:
            with work("plots"):
                self.write_summaries(gif=False)
        self._append({"kind": "work", "epoch": p.epoch, "step": p.step, "steps_seconds": round(seconds, 3),
                      **{f"{name}_seconds": round(t, 3) for name, t in work.seconds.items()},
                      "wall_seconds": round(time.perf_counter() - epoch_started, 3)})
        print(f"epoch {p.epoch}/{self.cfg.epochs}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
              f"cat {record['cat_loss']:.3f}  cont {record['cont_loss']:.3f}  MI {record['mi_bound']:.3f}/"
              f"{self.spec.total_entropy:.3f}  acc real {record['d_acc_real']:.2f} fake {record['d_acc_fake']:.2f}"
              + (f"  cat acc {record['categorical_accuracy']:.3f}" if "categorical_accuracy" in record else "")
              + f"  {record['images_per_sec']:.0f} img/s", flush=True)

    def _image_metrics(self) -> dict:
        weights, real, cache_name = self.fidelity
        fake, _ = generated_sample(self.gen, self.cfg.image_metrics_samples)
        return image_quality.image_metrics(fake, real, self.cfg.image_metrics, weights,
                                           image_quality.cache_dir(self.cfg.data_dir), cache_name,
                                           str(self.rt.device), batch_size=100)

    def finish(self) -> None:
        modules = [self.gen, self.disc, *([self.cr.module] if self.cr is not None else [])]
        digests = distributed.gather(distributed.parameter_digest(*modules), self.dist)
        if not self.dist.is_main:
            return
        if self.dist.enabled:  # evidence that DDP kept every replica identical
            report = {"world_size": self.dist.world, "backend": torch.distributed.get_backend(),
                      "parameter_sha256_per_rank": digests, "identical": len(set(digests)) == 1}
            atomic_write_bytes(self.run_dir / "ddp.json", (json.dumps(report, indent=2) + "\n").encode())
        self.write_traversals()
        self.write_summaries()
        save_generator(self.run_dir / "generator.safetensors", self.gen, self.cfg)
        if self.tb is not None:
            self.tb.close()


def _place_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The data set on the device when it fits (no copies per step); else in pinned host memory."""
    if device.type == "cpu":
        return images
    try:
        return images.to(device)
    except torch.OutOfMemoryError:
        print(f"note: the data set ({images.numel() / 2**20:.0f} MiB) does not fit on {device}; batches are copied "
              f"from pinned host memory", file=sys.stderr)
        return images.pin_memory() if device.type == "cuda" else images


def _needs_host_copy(data_device: torch.device, run_device: torch.device) -> bool:
    """Whether batches come from host memory to an accelerator. Compared by type: the data sits on
    `cuda:0` while the run's device may be plain `cuda`, and those two devices compare unequal."""
    return data_device.type == "cpu" and run_device.type != "cpu"


def _tensorboard_available():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'") from None
    return SummaryWriter


def _tensorboard_writer(run_dir: Path):
    return _tensorboard_available()(log_dir=str(run_dir / "tensorboard"))


def _check_data_fits(cfg: TrainConfig, data: ImageData, dist: Dist) -> None:
    if len(data) < 2:
        raise UsageError(f"the data set holds {len(data)} image; training needs at least 2 (BatchNorm normalises "
                         f"over a batch)")
    if cfg.batch_size > len(data):
        raise UsageError(f"--batch-size {cfg.batch_size} is larger than the data set ({len(data)} images): "
                         f"use --batch-size {len(data)} or less")
    if cfg.batch_size % dist.world or cfg.batch_size // dist.world < 2:
        raise UsageError(f"--batch-size {cfg.batch_size} (the global batch) must divide evenly among the "
                         f"{dist.world} processes, at least 2 each: use a multiple of {dist.world}")


def _join(cfg: TrainConfig) -> Dist:
    return distributed.from_environment(torch.cuda.is_available() and cfg.device in ("auto", "cuda"))


def _on_main(dist: Dist, action):
    """Run `action` on rank 0 only and hand its result (or its UsageError) to every rank."""
    result = None
    if dist.is_main:
        try:
            result = ("ok", action())
        except UsageError as exc:
            result = ("error", str(exc))
    status, value = distributed.broadcast(result, dist)
    if status == "error":
        raise UsageError(value)
    return value


def _execute(run: _Run, lock: RunLock | None) -> Path:
    try:
        with _StopFlag() as stop:
            run.loop(stop)
            run.finish()
    finally:
        distributed.shutdown(run.dist)
        if lock is not None:
            lock.release()
    if run.dist.is_main:
        print(f"done: {run.run_dir} (samples/, traversals/, plots/, generator.safetensors)", flush=True)
    return run.run_dir


def train(cfg: TrainConfig, overwrite: bool = False) -> Path:
    """Train a new run and return its directory (under torchrun: every rank calls this)."""
    cfg.validate()
    data = load_dataset(cfg.dataset, cfg.data_dir, "train", *cfg.folder_options())
    cfg = resolve(cfg, data.shape, source_of(cfg.dataset).preset)
    check_model_size(cfg)
    dist = _join(cfg)
    _check_data_fits(cfg, data, dist)
    cfg.precision = resolve_precision(cfg, dist)  # config.json records what actually ran
    rt = make_runtime(cfg, dist)  # refuse a bad device/precision before creating anything
    if cfg.cuda_graphs == "on":  # ... and an impossible --cuda-graphs on
        use_cuda_graphs(cfg, rt, dist)
    if cfg.tensorboard:
        _tensorboard_available()
    if cfg.image_metrics_every and dist.is_main:  # torch-fidelity and its weights, before anything is written
        image_quality.prepare(cfg.inception_weights, cfg.data_dir)

    cfg.run_id = _on_main(dist, lambda: uuid.uuid4().hex)  # the run's identity, carried by every checkpoint
    held: list[RunLock] = []

    def create() -> str:
        run_dir, lock = _new_run_dir(cfg, data.name, overwrite)
        held.append(lock)
        atomic_write_bytes(run_dir / "config.json", dataclasses.replace(cfg, outdir=str(run_dir)).to_json().encode())
        atomic_write_bytes(run_dir / "metrics.jsonl", b"")
        return str(run_dir)

    run_dir = Path(_on_main(dist, create))
    cfg.outdir = str(run_dir)
    try:
        run = _Run(cfg, run_dir, data, None, dist)
    except BaseException:
        for lock in held:
            lock.release()
        raise
    return _execute(run, held[0] if held else None)


RESUME_OVERRIDABLE = ("epochs", "data_dir", "device", "progress", "log_every", "checkpoint_every",
                      "keep_every", "tensorboard", "threads", "eval_every", "image_metrics", "image_metrics_every",
                      "image_metrics_samples", "inception_weights", "cuda_graphs")


def resume(run_dir: str | Path, **overrides) -> Path:
    """Continue a run from checkpoints/last.pt; only RESUME_OVERRIDABLE fields may change.

    Everything is checked before anything is written: the directory's layout, that the checkpoint belongs
    to this run (its run id, or for runs older than run ids its config, matches config.json), that its
    running sums hold the statistics this code logs. The directory is locked for the whole run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"--resume {run_dir}: no such run directory")
    _check_layout(run_dir)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.exists():
        raise UsageError(f"--resume {run_dir}: it has no checkpoints/last.pt (nothing to resume; start a new run)")
    bad = sorted(set(overrides) - set(RESUME_OVERRIDABLE))
    if bad:
        raise UsageError(f"--resume continues the saved config; {', '.join('--' + b.replace('_', '-') for b in bad)} "
                         f"cannot change (start a new run instead)")
    checkpoint = load_checkpoint(ckpt_path)
    check_structure(checkpoint, ckpt_path, resumable=True)
    saved = TrainConfig.from_dict(checkpoint["config"])
    saved.validate()
    _check_same_run(run_dir, saved)
    cfg = TrainConfig.from_dict({**saved.to_dict(), **overrides, "outdir": str(run_dir)})
    cfg.validate()
    data = load_dataset(cfg.dataset, cfg.data_dir, "train", *cfg.folder_options())
    if list(data.shape) != list(cfg.image_shape):
        raise UsageError(f"--resume {run_dir}: the data's images are {list(data.shape)} but the run was trained on "
                         f"{cfg.image_shape}; resume with the same data set")
    dist = _join(cfg)
    _check_data_fits(cfg, data, dist)
    held: list[RunLock] = []
    _on_main(dist, lambda: held.append(RunLock.acquire(run_dir)))  # before any write; a second writer is refused
    try:
        run = _Run(cfg, run_dir, data, checkpoint, dist)  # refuses a checkpoint that does not fit, before any write

        def tidy() -> None:
            _tidy_metrics(run_dir / "metrics.jsonl", checkpoint["step"])
            if cfg != saved:
                atomic_write_bytes(run_dir / "config.json", cfg.to_json().encode())
            for stale in (run_dir / "samples").glob("epoch_*.png"):
                match = SAMPLE_NAME.fullmatch(stale.name)
                if match and int(match[1]) > checkpoint["epoch"]:
                    stale.unlink()
            print(f"resuming {run_dir} at epoch {checkpoint['epoch'] + 1}, step {checkpoint['step']}", flush=True)

        _on_main(dist, tidy)
    except BaseException:
        for lock in held:
            lock.release()
        raise
    return _execute(run, held[0] if held else None)


RUN_LAYOUT = {"metrics.jsonl": "file", "config.json": "file", "samples": "folder", "plots": "folder",
              "traversals": "folder", "checkpoints": "folder", "eval": "folder"}


def _check_layout(run_dir: Path) -> None:
    """Each entry this code writes, where present, is of the kind it writes (a folder where a file should
    be, or the reverse, is named instead of failing mid-run)."""
    for name, kind in RUN_LAYOUT.items():
        path = run_dir / name
        if path.exists() and (path.is_dir() if kind == "file" else not path.is_dir()):
            raise UsageError(f"{path} should be a {kind} but is {'a folder' if kind == 'file' else 'not a folder'}: "
                             f"move it away and resume again")


def _check_same_run(run_dir: Path, ckpt_cfg: TrainConfig) -> None:
    """The checkpoint was written by the run that config.json describes, not copied in from another one."""
    on_disk = TrainConfig.load(run_dir / "config.json")
    if on_disk.run_id is not None or ckpt_cfg.run_id is not None:
        same = on_disk.run_id == ckpt_cfg.run_id
    else:  # runs made before run ids: the configs must agree on everything a resume may not change
        ignored = set(RESUME_OVERRIDABLE) | {"outdir"}
        a, b = on_disk.to_dict(), ckpt_cfg.to_dict()
        same = all(a[k] == b[k] for k in a if k not in ignored)
    if not same:
        raise UsageError(f"{run_dir / 'checkpoints' / 'last.pt'} belongs to another run than {run_dir / 'config.json'} "
                         f"describes (copied in from elsewhere?): resume refused, nothing was changed")


def _tidy_metrics(path: Path, step: int) -> None:
    """Keep only whole records up to the checkpoint's step: a line torn by a kill mid-append, or records
    written after the checkpoint, are dropped, so every line parses and no epoch appears twice."""
    if not path.exists():
        atomic_write_bytes(path, b"")
        return
    raw = read_file(path, "metrics file")
    lines = [line for line in raw.decode(errors="replace").splitlines() if line.strip()]
    records = read_metrics(path, kind=None)
    kept = [r for r in records if r.get("step", 0) <= step]
    if len(kept) != len(lines) or (raw and not raw.endswith(b"\n")):
        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode())
