"""One training step: InfoGAN's updates as a list of phases, each an optimiser and the loss it minimises.

    draws = draw_step(...)                          the step's random draws (latents, InfoGAN-CR's pairs, ...)
    fake  = G(codes)                                the one G forward every phase shares
    for phase in PHASES:                            D/Q, then CR (InfoGAN-CR only), then G
        loss.accumulate_gradients(phase, ctx)       the phase's loss and backward (loss.py)
        phase's optimiser steps

The loop calls `StepRunner` once per batch: eagerly, or as one replayed CUDA graph (cuda_graphs.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from dataclasses import dataclass

import torch

from infogan.config import TrainConfig
from infogan.data import augment
from infogan.data.images import to_unit_range
from infogan.errors import UsageError
from infogan.model.latent import Latent, LatentSpec
from infogan.train import cuda_graphs
from infogan.train.cuda_graphs import CapturedStep
from infogan.train.distributed import Dist
from infogan.train.loss import InfoGANLoss, StepContext, StepDraws
from infogan.train.runtime import Runtime
from infogan.train.state import Nets, Optimizers
from infogan.train.terms import graph_reasons


def draw_step(
    spec: LatentSpec,
    n: int,
    latent_rng: torch.Generator,
    device,
    contrastive: bool,
    jitter: augment.Deformations | None = None,
) -> StepDraws:
    """One step's draws from the run's latent generator, in the order the step has always used them (the
    latents, then InfoGAN-CR's partners, then the real batch's deformations), so runs without a term keep
    their random streams and checkpoints hold every draw's state."""
    latent = spec.sample(n, latent_rng, device)
    draws = StepDraws(latent, *spec.contrastive_pair(latent, latent_rng)) if contrastive else StepDraws(latent)
    if jitter is not None:
        draws.deform = jitter.draw(n, latent_rng, device)
    return draws


def hold_late_codes(draws: StepDraws, stagger_steps: int, step: int) -> StepDraws:
    """--code-stagger-steps: continuous code k (0-based) stays at 0 in every latent of the step before step
    k * stagger_steps. Applied after the draws, so the random streams are those of a run without it."""
    if stagger_steps > 0:
        live = step // stagger_steps + 1  # codes 0 .. live-1 have joined
        for latent in (draws.latent, draws.partner):
            if latent is not None:
                latent.cont[:, live:] = 0
    return draws


def jitter_of(cfg: TrainConfig) -> augment.Deformations | None:
    """The deformations of the real batch's second view, when --iic-weight asks for one."""
    if cfg.iic_weight == 0:
        return None
    affine = augment.AffineJitter(cfg.iic_rotation, cfg.iic_scale, cfg.iic_shift)
    return augment.Deformations(affine, cfg.iic_elastic, cfg.iic_stroke, cfg.iic_shear)


@dataclass(frozen=True)
class Phase:
    """One optimiser step within the training step: `optimizer` (an attribute of Optimizers) minimises the
    loss of phase `name`; the networks named in `frozen` (attributes of Nets) take no gradient meanwhile."""

    name: str
    optimizer: str
    frozen: tuple[str, ...] = ()
    cr_only: bool = False  # runs only with --cr-weight


PHASES = (Phase("D", "d"), Phase("CR", "cr", cr_only=True), Phase("G", "g", frozen=("disc", "cr")))


@contextlib.contextmanager
def frozen(modules: list[torch.nn.Module]):
    """The modules take no gradient inside the block and take it again after, also when the block raises (a
    CUDA-graph capture that fails in G's phase falls back to eager steps, whose D phase needs D's gradients)."""
    for module in modules:
        module.requires_grad_(False)
    try:
        yield
    finally:
        for module in modules:
            module.requires_grad_(True)


def update_step(
    cfg: TrainConfig,
    nets: Nets,
    opts: Optimizers,
    real: torch.Tensor,
    draws: StepDraws,
    rt: Runtime,
    g_takes_cr: bool = False,
    real_info_on: bool = True,
    effects_on: bool = False,
) -> dict[str, torch.Tensor]:
    """Every phase's update for given draws, on real images in [-1, 1]; the statistics by name (0-d tensors
    on the device). No host sync and no Python branch on tensor values, so it can be captured in a CUDA
    graph (cuda_graphs.py)."""
    loss = InfoGANLoss(cfg, nets, rt)
    ctx = StepContext(real, draws, g_takes_cr, real_info_on, effects_on)
    with rt.autocast():
        ctx.fake = nets.gen_ddp(nets.disc.spec.vector(draws.latent))  # [N, C, H, W]: the one G forward
    for phase in PHASES:
        if phase.cr_only and nets.cr is None:
            continue
        optimizer = getattr(opts, phase.optimizer)
        with frozen([module for name in phase.frozen if (module := getattr(nets, name)) is not None]):
            optimizer.zero_grad(set_to_none=True)
            loss.accumulate_gradients(phase.name, ctx)
            rt.optimizer_step(optimizer)
    if rt.scaler is not None:
        rt.scaler.update()
    return ctx.report.values


def train_step(
    cfg: TrainConfig,
    nets: Nets,
    opts: Optimizers,
    real: torch.Tensor,
    latent_rng: torch.Generator,
    rt: Runtime,
    step: int = 0,
) -> dict[str, torch.Tensor]:
    """One step: its draws, then `update_step`. `step` (the number of steps done) tells whether G takes the
    contrastive term yet, and whether D still takes Q's real information."""
    draws = draw_step(nets.disc.spec, real.shape[0], latent_rng, rt.device, nets.cr is not None, jitter_of(cfg))
    hold_late_codes(draws, cfg.code_stagger_steps, step)
    return update_step(cfg, nets, opts, real, draws, rt, **switches_at(cfg, nets, step))


def switches_at(cfg: TrainConfig, nets: Nets, step: int) -> dict[str, bool]:
    """The terms that switch at a step: G takes InfoGAN-CR's term from --cr-start-step on, D takes Q's real
    information before --real-info-until, G keeps the codes' effects apart from --effects-start-step on."""
    return {
        "g_takes_cr": nets.cr is not None and step >= cfg.cr_start_step,
        "real_info_on": cfg.real_info_until == 0 or step < cfg.real_info_until,
        "effects_on": cfg.effects_weight > 0 and step >= cfg.effects_start_step,
    }


class StepRunner:
    """What the loop calls once per batch: the step's draws, then the updates, run eagerly or, with
    `graphs`, as one replayed CUDA graph (cuda_graphs.py). Takes the uint8 batch [B, C, H, W]."""

    def __init__(
        self,
        cfg: TrainConfig,
        nets: Nets,
        opts: Optimizers,
        rt: Runtime,
        latent_rng: torch.Generator,
        graphs: bool = False,
        backend=None,
    ):
        self.cfg, self.nets, self.opts, self.rt, self.latent_rng = cfg, nets, opts, rt, latent_rng
        # Inside a graph autocast must not cache weight casts; eager steps keep the cache.
        self.captured = CapturedStep(self._captured_update, backend=backend) if graphs else None
        self.graph_rt = dataclasses.replace(rt, autocast_cache=False)

    def __call__(self, batch: torch.Tensor, step: int) -> dict:
        cfg, nets, rt = self.cfg, self.nets, self.rt
        if self.captured is None:
            draws = draw_step(
                nets.disc.spec, batch.shape[0], self.latent_rng, rt.device, nets.cr is not None, jitter_of(cfg)
            )
            hold_late_codes(draws, cfg.code_stagger_steps, step)
            return update_step(cfg, nets, self.opts, to_unit_range(batch), draws, rt, **switches_at(cfg, nets, step))
        # no contrastive draws here: terms.ContrastiveCR keeps --cr-weight runs eager (graph_reason)
        draws = draw_step(self.nets.disc.spec, batch.shape[0], self.latent_rng, self.rt.device, False)
        latent = hold_late_codes(draws, cfg.code_stagger_steps, step).latent  # the graph's inputs, held or not
        # the statistics are the graph's outputs: read them before the next call
        return self.captured(batch, latent.z, latent.cat, latent.cont)

    def _captured_update(self, batch: torch.Tensor, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> dict:
        return update_step(
            self.cfg, self.nets, self.opts, to_unit_range(batch), StepDraws(Latent(z, cat, cont)), self.graph_rt
        )


def use_cuda_graphs(cfg: TrainConfig, rt: Runtime, dist: Dist, announce: bool = True) -> bool:
    """--cuda-graphs: auto captures where the run allows it and says why not on a GPU run that does not;
    on refuses such a run before it starts; off never captures. `announce`: say what was decided."""
    if cfg.cuda_graphs == "off":
        return False
    reason = cuda_graphs.unsupported_reason(
        rt.device.type, dist.enabled, rt.scaler is not None, cfg.lr_schedule != "constant", graph_reasons(cfg)
    )
    if reason is None:
        if dist.is_main and announce:
            print(
                f"CUDA graphs: the step is captured after {cuda_graphs.WARMUP_STEPS} eager steps and replayed "
                f"(--cuda-graphs off runs it eagerly)",
                flush=True,
            )
        return True
    if cfg.cuda_graphs == "on":
        raise UsageError(f"--cuda-graphs on: {reason}; use --cuda-graphs auto or off")
    if rt.device.type == "cuda" and dist.is_main and announce:
        print(f"note: {reason}; the step runs eagerly", file=sys.stderr)
    return False
