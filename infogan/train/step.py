"""One training step: InfoGAN's updates as a list of phases, each an optimiser and the loss it minimises.

    draws = draw_step(...)             the step's random draws: latents (and InfoGAN-CR's pairs)
    fake  = G(codes)                   the one G forward every phase shares
    for phase in PHASES:               D/Q, then H (InfoGAN-CR only), then G
        loss = phase.loss(ctx)         reports its statistics by name as it computes them
        phase's optimiser steps on loss

A phase is data (`Phase`): its loss function, the optimiser that owns its parameters, and the networks it
must leave alone. losses.py says who minimises what and why Q's head sits with D's optimiser.

Statistics: a loss function calls `ctx.report(name, value, label=...)` where it computes a value; the
training loop sums what was reported, and metrics.jsonl, the plots, the epoch line and the progress bar
all read the names and labels given there (`statistics_of` lists them before the first step). A new
statistic is that one call.

Naming, one rule everywhere: `Nets.gen`, `.disc`, `.pair` are the bare modules (checkpoints, pictures and
metrics use them); `.gen_ddp`, `.disc_ddp`, `.pair_ddp` are what gradient passes run: the
DistributedDataParallel wrapper under torchrun, the module itself otherwise.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from infogan.config import TrainConfig
from infogan.data import augment
from infogan.data.datasets import to_unit_range
from infogan.errors import UsageError
from infogan.model import losses
from infogan.model.latent import Latent, LatentSpec, QCodes
from infogan.model.networks import ContrastiveDiscriminator, Discriminator, Generator, build_networks
from infogan.train import cuda_graphs, distributed
from infogan.train.cuda_graphs import CapturedStep
from infogan.train.distributed import SINGLE, Dist
from infogan.train.runtime import Runtime


# ---------------------------------------------------------------------------------------------- networks, optimisers
@dataclass
class Nets:
    """A run's networks: bare modules and what the step's gradient passes run (see the module docstring)."""

    gen: Generator
    disc: Discriminator
    pair: ContrastiveDiscriminator | None = None  # InfoGAN-CR's H (--cr-weight), else None
    gen_ddp: nn.Module | None = None
    disc_ddp: nn.Module | None = None
    pair_ddp: nn.Module | None = None

    def __post_init__(self):
        self.gen_ddp = self.gen if self.gen_ddp is None else self.gen_ddp
        self.disc_ddp = self.disc if self.disc_ddp is None else self.disc_ddp
        self.pair_ddp = self.pair if self.pair_ddp is None else self.pair_ddp

    @classmethod
    def build(cls, cfg: TrainConfig, device: torch.device, dist: Dist = SINGLE) -> Nets:
        """The networks of a resolved config on `device` (weights from the global seed, set by the caller),
        wrapped in DDP when the run has several processes."""
        gen, disc = (module.to(device) for module in build_networks(cfg))
        pair = ContrastiveDiscriminator(cfg).to(device) if cfg.cr_weight > 0 else None
        if not dist.enabled:
            return cls(gen, disc, pair)
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        return cls(
            gen,
            disc,
            pair,
            DDP(gen, device_ids=ids),
            DDP(disc, device_ids=ids),
            DDP(pair, device_ids=ids) if pair is not None else None,
        )

    def modules(self) -> list[nn.Module]:
        """The bare modules that hold the run's weights."""
        return [self.gen, self.disc, *([self.pair] if self.pair is not None else [])]

    def state_dict(self) -> dict:
        """The checkpoint's network entries."""
        return {
            "generator": self.gen.state_dict(),
            "discriminator": self.disc.state_dict(),
            **({"contrastive": self.pair.state_dict()} if self.pair is not None else {}),
        }

    def load_state_dict(self, ckpt: dict) -> None:
        self.gen.load_state_dict(ckpt["generator"])
        self.disc.load_state_dict(ckpt["discriminator"])
        if self.pair is not None:
            self.pair.load_state_dict(ckpt["contrastive"])


@dataclass
class Optimizers:
    """G's owns G; D's owns the trunk, D's head and Q's head (Q's head at lr_q, default G's lr); H's (InfoGAN-CR)
    owns H, at D's learning rate as Lin et al."""

    g: torch.optim.Optimizer
    d: torch.optim.Optimizer
    pair: torch.optim.Optimizer | None = None

    def state_dict(self) -> dict:
        """The checkpoint's optimiser entries."""
        return {
            "opt_g": self.g.state_dict(),
            "opt_d": self.d.state_dict(),
            **({"opt_contrastive": self.pair.state_dict()} if self.pair is not None else {}),
        }

    def load_state_dict(self, ckpt: dict, capturable: bool) -> None:
        self.g.load_state_dict(ckpt["opt_g"])
        self.d.load_state_dict(ckpt["opt_d"])
        set_capturable(capturable, self.g, self.d)
        if self.pair is not None:
            self.pair.load_state_dict(ckpt["opt_contrastive"])


def make_optimizers(cfg: TrainConfig, nets: Nets, capturable: bool = False) -> Optimizers:
    """`capturable`: Adam's step count kept on the device, as a CUDA graph needs (cuda_graphs.py)."""
    betas = (cfg.beta1, cfg.beta2)
    groups = [{"params": nets.disc.shared_and_d_parameters(), "lr": cfg.lr_d}]
    if nets.disc.q_parameters():
        groups.append({"params": nets.disc.q_parameters(), "lr": cfg.lr_g if cfg.lr_q is None else cfg.lr_q})
    kernels = _adam_kernels(next(nets.gen.parameters()).device)  # every network lives on the run's device
    adam = dict(betas=betas, capturable=capturable, **kernels)
    return Optimizers(
        torch.optim.Adam(nets.gen.parameters(), lr=cfg.lr_g, **adam),
        torch.optim.Adam(groups, **adam),
        torch.optim.Adam(nets.pair.parameters(), lr=cfg.lr_d, betas=betas, **kernels)
        if nets.pair is not None
        else None,
    )


def _adam_kernels(device: torch.device) -> dict:
    """On a CPU, fused Adam (one kernel a tensor): measured side by side, 1.12x the step of paper-mnist at
    batch 64 and level at batch 256 (BENCHMARKS.md, "The demo's step"). Elsewhere foreach (one launch a
    parameter group), the kernels CUDA graph capture was tested with."""
    return {"fused": True} if device.type == "cpu" else {"foreach": True}


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


# ---------------------------------------------------------------------------------------------- reporting
@dataclass(frozen=True)
class Shown:
    """How a reported statistic is shown: `label` in plots, `figure` the plot it joins (artifacts.FIGURES; None:
    logged only), `console` its part of the epoch line (a format with one {} for the value; None: left out),
    `bar` whether the progress bar shows it."""

    label: str
    figure: str | None = None
    console: str | None = None
    bar: bool = False


class Report:
    """What one step reported: 0-d tensors by name (left on the device: no host sync), and how each is shown."""

    def __init__(self):
        self.values: dict[str, torch.Tensor] = {}
        self.shown: dict[str, Shown] = {}

    def __call__(
        self,
        name: str,
        value: torch.Tensor,
        label: str,
        figure: str | None = None,
        console: str | None = None,
        bar: bool = False,
    ) -> None:
        self.values[name] = value.detach().float()
        self.shown[name] = Shown(label, figure, console, bar)


# ---------------------------------------------------------------------------------------------- the phases
@dataclass
class StepDraws:
    """The random draws of one step: the latents, InfoGAN-CR's partners and shared-code indices, and the real
    batch's deformations (--iic-weight)."""

    latent: Latent
    partner: Latent | None = None  # --cr-weight only
    shared: torch.Tensor | None = None  # [N] int64, the code each pair shares
    deform: torch.Tensor | None = None  # [N, 2, 3] affine matrices of the real batch's second view (--iic-weight)


def draw_step(
    spec: LatentSpec,
    n: int,
    latent_rng: torch.Generator,
    device,
    contrastive: bool,
    jitter: augment.AffineJitter | None = None,
) -> StepDraws:
    """One step's draws from the run's latent generator, in the order the step has always used them (the
    latents, then InfoGAN-CR's partners, then the real batch's deformations), so runs without a term keep
    their random streams and checkpoints hold every draw's state."""
    latent = spec.sample(n, latent_rng, device)
    draws = StepDraws(latent, *spec.contrastive_pair(latent, latent_rng)) if contrastive else StepDraws(latent)
    if jitter is not None:
        draws.deform = jitter.draw(n, latent_rng, device)
    return draws


def jitter_of(cfg: TrainConfig) -> augment.AffineJitter | None:
    """The deformations of the real batch's second view, when --iic-weight asks for one."""
    return augment.AffineJitter(cfg.iic_rotation, cfg.iic_scale, cfg.iic_shift) if cfg.iic_weight > 0 else None


@dataclass
class StepContext:
    """What the phases of one step share: the inputs, the one G forward, and the report."""

    cfg: TrainConfig
    nets: Nets
    real: torch.Tensor  # [N, C, H, W] in [-1, 1]
    draws: StepDraws
    g_takes_cr: bool  # G's loss has the contrastive term (InfoGAN-CR, from --cr-start-step on)
    real_info_on: bool = True  # D's loss has Q's real information (--real-info-weight, before --real-info-until)
    fake: torch.Tensor | None = None  # G(codes) [N, C, H, W]
    partner: torch.Tensor | None = None  # G(partner codes) [N, C, H, W], InfoGAN-CR
    report: Report = field(default_factory=Report)

    @property
    def spec(self) -> LatentSpec:
        return self.nets.disc.spec


def _information(ctx: StepContext, q: QCodes) -> losses.InfoLoss:
    fp32 = QCodes(
        [logits.float() for logits in q.cat_logits],
        q.cont_mean.float(),
        None if q.cont_logstd is None else q.cont_logstd.float(),
    )
    return losses.information_loss(fp32, ctx.draws.latent, ctx.cfg.categorical_weight, ctx.cfg.continuous_weight)


def discriminator_phase(ctx: StepContext) -> torch.Tensor:
    """L_D + L_info on the detached fakes: the info gradient trains Q's head and the shared trunk."""
    d_real = ctx.nets.disc_ddp(ctx.real)
    d_fake = ctx.nets.disc_ddp(ctx.fake.detach())
    d_adv = losses.discriminator_loss(d_real.logit.float(), d_fake.logit.float())
    acc_real, acc_fake = losses.discriminator_accuracy(d_real.logit, d_fake.logit)
    ctx.report("d_loss", d_adv, "D loss", "losses", "d_loss {:.3f}", bar=True)
    ctx.report("d_acc_real", acc_real, "D accuracy on real", "accuracy", "acc real {:.2f}")
    ctx.report("d_acc_fake", acc_fake, "D accuracy on fake", "accuracy", "fake {:.2f}")
    loss = d_adv + _information(ctx, d_fake.q).total
    if ctx.cfg.real_info_weight > 0:  # Q sorts the real batch too (losses.real_information); at most sum ln K_i
        real_info = losses.real_information([logits.float() for logits in d_real.q.cat_logits])
        # reported after --real-info-until too (a run's statistics keep their names), no longer trained on
        ctx.report("q_real_info", real_info, "I(x; c) of Q on real images", "information", "real MI {:.3f}")
        if ctx.real_info_on:
            loss = loss - ctx.cfg.real_info_weight * real_info
    if ctx.cfg.iic_weight > 0:  # the same categories for a real image and its deformed copy (IIC)
        d_view = ctx.nets.disc_ddp(augment.warp(ctx.real, ctx.draws.deform))
        pair_info = losses.paired_information(
            [logits.float() for logits in d_real.q.cat_logits], [logits.float() for logits in d_view.q.cat_logits]
        )
        ctx.report("q_pair_info", pair_info, "I(c(x); c(T(x))) of Q on real images", "information", "pair MI {:.3f}")
        loss = loss - ctx.cfg.iic_weight * pair_info
    return loss


def pair_phase(ctx: StepContext) -> torch.Tensor:
    """InfoGAN-CR's H: which code does each pair (fake, partner) share? Trained on the detached pair."""
    ctx.partner = ctx.nets.gen_ddp(ctx.spec.vector(ctx.draws.partner))  # [N, C, H, W]
    pair_logits = ctx.nets.pair_ddp(ctx.fake.detach(), ctx.partner.detach()).float()  # [N, n_codes]
    cr_loss = losses.contrastive_loss(pair_logits, ctx.draws.shared)
    ctx.report("cr_loss", cr_loss, "contrastive CE (InfoGAN-CR)", "losses", "cr {:.3f}")
    # chance: 1 / number of codes
    ctx.report(
        "cr_acc",
        losses.contrastive_accuracy(pair_logits, ctx.draws.shared),
        "H accuracy at the shared code (InfoGAN-CR)",
        "accuracy",
        "H acc {:.2f}",
    )
    return cr_loss


def generator_phase(ctx: StepContext) -> torch.Tensor:
    """L_G + L_info (+ cr_weight * L_CR) through the just-updated D/Q (and H). The bare D runs here: its
    weights take no gradient in this phase, so under DDP nothing needs an all-reduce."""
    spec = ctx.spec
    d_gen = ctx.nets.disc(ctx.fake)
    g_adv = losses.generator_loss(d_gen.logit.float())
    info = _information(ctx, d_gen.q)
    ctx.report("g_loss", g_adv, "G loss", "losses", "g_loss {:.3f}", bar=True)
    has_cat, has_cont = spec.n_categorical > 0, spec.continuous > 0  # the epoch line shows the codes there are
    ctx.report("cat_loss", info.categorical, "categorical CE", "losses", "cat {:.3f}" if has_cat else None)
    ctx.report("cont_loss", info.continuous, "continuous NLL", "losses", "cont {:.3f}" if has_cont else None)
    ctx.report(
        "mi_bound",
        spec.total_entropy - info.categorical,  # sum over codes of ln K_i - CE_i
        "H(c) - CE (lower bound on I(c; G(z, c)))" if spec.n_categorical < 2 else "total: sum of H(c_i) - CE_i",
        "information",
        f"MI {{:.3f}}/{spec.total_entropy:.3f}" if has_cat else None,
        bar=has_cat,
    )
    if spec.n_categorical > 1:  # with one code the totals above are that code's values
        for i, (ce, k) in enumerate(zip(info.categorical_per_code, spec.categorical), start=1):
            ctx.report(f"cat_loss_cat{i}", ce, f"code {i}: CE")
            ctx.report(
                f"mi_bound_cat{i}", losses.mutual_information_bound(ce, k), f"code {i}: ln {k} - CE", "information"
            )
    total = g_adv + info.total
    if ctx.g_takes_cr:  # cooperative: G lowers the same cross-entropy H does, through both images of the pair
        pair_logits = ctx.nets.pair(ctx.fake, ctx.partner).float()
        total = total + ctx.cfg.cr_weight * losses.contrastive_loss(pair_logits, ctx.draws.shared)
    return total


@dataclass(frozen=True)
class Phase:
    """One optimiser step within the training step: `optimizer` (an attribute of Optimizers) minimises
    `loss(ctx)`; the networks named in `frozen` (attributes of Nets) take no gradient meanwhile."""

    name: str
    loss: Callable[[StepContext], torch.Tensor]
    optimizer: str
    frozen: tuple[str, ...] = ()
    contrastive_only: bool = False  # runs only with --cr-weight


PHASES = (
    Phase("D/Q", discriminator_phase, "d"),
    Phase("H", pair_phase, "pair", contrastive_only=True),
    Phase("G", generator_phase, "g", frozen=("disc", "pair")),
)


def update_step(
    cfg: TrainConfig,
    nets: Nets,
    opts: Optimizers,
    real: torch.Tensor,
    draws: StepDraws,
    rt: Runtime,
    g_takes_cr: bool = False,
    real_info_on: bool = True,
) -> dict[str, torch.Tensor]:
    """Every phase's update for given draws, on real images in [-1, 1]; the statistics by name (0-d tensors
    on the device). No host sync and no Python branch on tensor values, so it can be captured in a CUDA
    graph (cuda_graphs.py)."""
    ctx = StepContext(cfg, nets, real, draws, g_takes_cr, real_info_on)
    with rt.autocast():
        ctx.fake = nets.gen_ddp(ctx.spec.vector(draws.latent))  # [N, C, H, W]: the one G forward
    for phase in PHASES:
        if phase.contrastive_only and nets.pair is None:
            continue
        frozen = [module for name in phase.frozen if (module := getattr(nets, name)) is not None]
        for module in frozen:
            module.requires_grad_(False)
        # parametrize.cached: a spectral-norm weight W / sigma is computed once per phase, not at each of the
        # phase's calls of D (measured: spectral norm had made a step 1.8x slower, BENCHMARKS.md)
        with rt.autocast(), parametrize.cached():
            loss = phase.loss(ctx)
        optimizer = getattr(opts, phase.optimizer)
        optimizer.zero_grad(set_to_none=True)
        rt.backward_step(loss, optimizer)
        for module in frozen:
            module.requires_grad_(True)
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
    draws = draw_step(nets.disc.spec, real.shape[0], latent_rng, rt.device, nets.pair is not None, jitter_of(cfg))
    return update_step(
        cfg,
        nets,
        opts,
        real,
        draws,
        rt,
        g_takes_cr=_g_takes_cr(cfg, nets, step),
        real_info_on=cfg.real_info_until == 0 or step < cfg.real_info_until,
    )


def _g_takes_cr(cfg: TrainConfig, nets: Nets, step: int) -> bool:
    return nets.pair is not None and step >= cfg.cr_start_step


def statistics_of(cfg: TrainConfig) -> dict[str, Shown]:
    """What a step of this (resolved) config reports, in order, and how each is shown: found by running the
    phases' losses once on the meta device (shapes only: no memory, no arithmetic), so the names are known
    before the first step and a checkpoint's running sums can be checked against them before any write."""
    spec = cfg.latent
    with torch.device("meta"):
        nets = Nets(*build_networks(cfg), ContrastiveDiscriminator(cfg) if cfg.cr_weight > 0 else None)
        latent = Latent(
            torch.zeros(2, spec.noise_dim),
            torch.zeros(2, spec.n_categorical, dtype=torch.long),
            torch.zeros(2, spec.continuous),
        )
        draws = (
            StepDraws(latent, latent, torch.zeros(2, dtype=torch.long)) if nets.pair is not None else StepDraws(latent)
        )
        draws.deform = torch.zeros(2, 2, 3) if cfg.iic_weight > 0 else None
        ctx = StepContext(cfg, nets, torch.zeros(2, *cfg.image_shape), draws, nets.pair is not None)
        ctx.fake = nets.gen(spec.vector(latent))
        for phase in PHASES:
            if not (phase.contrastive_only and nets.pair is None):
                phase.loss(ctx)
    return ctx.report.shown


# ---------------------------------------------------------------------------------------------- summed over steps
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
        """Sums saved under `names`, in whatever order they were saved (older versions logged another order)."""
        if set(names) != set(self.names) or len(names) != len(self.names) or tuple(sums.shape) != (len(names),):
            raise UsageError(
                f"the checkpoint's running sums ({what}) hold {', '.join(names)}, this run logs "
                f"{', '.join(self.names)}: the checkpoint is not from this run's code layout"
            )
        saved = dict(zip(names, sums.to(torch.float32)))
        self.sums = torch.stack([saved[name] for name in self.names]).to(self.sums.device)
        self.steps = int(steps)


class StepSums:
    """The statistics steps report, summed twice: since the last interval record and since the epoch began;
    what a checkpoint keeps of them (so a resumed epoch's record equals an uninterrupted one's)."""

    def __init__(self, names: tuple[str, ...], device):
        self.epoch, self.interval = RunningSums(names, device), RunningSums(names, device)

    def add(self, stats: dict) -> None:
        values = self.epoch.stack(stats)  # both hold the same names: one stack for both
        self.epoch.add(values)
        self.interval.add(values)

    def take(self, kind: str, dist: Dist) -> dict[str, float]:
        """The mean of each statistic since the last record of `kind` ("interval" or "epoch"), over steps and
        ranks (collective: one host sync), and that sum reset."""
        sums = self.epoch if kind == "epoch" else self.interval
        values = distributed.mean_(sums.sums / max(sums.steps, 1), dist).tolist()
        sums.reset()
        return dict(zip(sums.names, values))

    def state_dict(self) -> dict:
        return {
            "stat_names": list(self.epoch.names),
            "epoch_sums": self.epoch.sums.cpu(),
            "interval_sums": self.interval.sums.cpu(),
            "interval_steps": self.interval.steps,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        names = ckpt.get("stat_names", LEGACY_STAT_NAMES)
        self.epoch.restore(names, ckpt["epoch_sums"], ckpt["batch"], "epoch")
        self.interval.restore(names, ckpt["interval_sums"], ckpt["interval_steps"], "interval")


# ---------------------------------------------------------------------------------------------- eager or captured
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
        if self.captured is None:
            return train_step(self.cfg, self.nets, self.opts, to_unit_range(batch), self.latent_rng, self.rt, step)
        # no contrastive draws here: cuda_graphs.unsupported_reason keeps --cr-weight runs eager
        latent = draw_step(self.nets.disc.spec, batch.shape[0], self.latent_rng, self.rt.device, False).latent
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
        rt.device.type,
        dist.enabled,
        rt.scaler is not None,
        cfg.cr_weight > 0,
        cfg.lr_schedule != "constant",
        cfg.real_info_until > 0,  # (validate refuses it without a weight)
        cfg.iic_weight > 0,
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
