"""InfoGAN's loss as the training step meets it: `InfoGANLoss.accumulate_gradients(phase, ctx)` computes one
phase's objective, reports its statistics by name, and runs its backward pass; the step then lets the
phase's optimiser step.

    "D"  L_D + L_info on the detached fakes, then each optional term's part (terms.py)
         -> D's trunk, D's head and Q's head (model/losses.py says why Q sits with D's optimiser)
    "CR" L_CR on the detached pair (InfoGAN-CR only)                 -> CR's pair discriminator
    "G"  L_G + L_info, then each optional term's part, through the just-updated D/Q -> G

The maths of each term is model/losses.py; which terms a run has, and what each adds where, is terms.py.
`statistic_names(cfg)` lists what a step of a config reports, in order, so the run knows its statistics
before the first step (a checkpoint's running sums are checked against them before anything is written).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn.utils import parametrize

from infogan.config import TrainConfig
from infogan.data import augment
from infogan.model import losses
from infogan.model.architectures import DOutput
from infogan.model.latent import Latent, LatentSpec, QCodes
from infogan.train import terms
from infogan.train.runtime import Runtime
from infogan.train.state import Nets
from infogan.train.stats import Report


@dataclass
class StepDraws:
    """The random draws of one step: the latents, InfoGAN-CR's partners and shared-code indices, and the real
    batch's deformations (--iic-weight)."""

    latent: Latent
    partner: Latent | None = None  # --cr-weight only
    shared: torch.Tensor | None = None  # [N] int64, the code each pair shares
    deform: augment.Deformation | None = None  # the real batch's second view (--iic-weight)


@dataclass
class StepContext:
    """What the phases of one step share: the inputs, the one G forward, and the report."""

    real: torch.Tensor  # [N, C, H, W] in [-1, 1]
    draws: StepDraws
    g_takes_cr: bool = False  # G's loss has the contrastive term (InfoGAN-CR, from --cr-start-step on)
    real_info_on: bool = True  # D's loss has Q's real information (--real-info-weight, before --real-info-until)
    effects_on: bool = False  # G's loss keeps the codes' effects apart (--effects-weight, from --effects-start-step)
    fake: torch.Tensor | None = None  # G(codes) [N, C, H, W]
    partner: torch.Tensor | None = None  # G(partner codes) [N, C, H, W], InfoGAN-CR
    report: Report = field(default_factory=Report)


class InfoGANLoss:
    def __init__(self, cfg: TrainConfig, nets: Nets, rt: Runtime):
        self.cfg, self.nets, self.rt = cfg, nets, rt
        self.terms = terms.terms_of(cfg)  # the optional terms this run's objective has, in their order

    def accumulate_gradients(self, phase: str, ctx: StepContext) -> None:
        """The phase's loss (under autocast) and its backward pass (scaled under fp16)."""
        # parametrize.cached: a spectral-norm weight W / sigma is computed once per phase, not at each of the
        # phase's calls of D
        with self.rt.autocast(), parametrize.cached():
            loss = {"D": self._discriminator, "CR": self._cr, "G": self._generator}[phase](ctx)
        self.rt.backward(loss)

    def _discriminator(self, ctx: StepContext) -> torch.Tensor:
        nets, report = self.nets, ctx.report
        views = self._views(nets.disc_ddp, ctx, {"real": ctx.real, "fake": ctx.fake.detach()}, "d_views")
        d_real, d_fake = views["real"], views["fake"]
        d_adv = losses.discriminator_loss(d_real.logit.float(), d_fake.logit.float())
        acc_real, acc_fake = losses.discriminator_accuracy(d_real.logit, d_fake.logit)
        report("d_loss", d_adv)
        report("d_acc_real", acc_real)
        report("d_acc_fake", acc_fake)
        loss = d_adv + self._information(ctx, d_fake.q).total
        for term in self.terms:
            loss = term.d_loss(self, ctx, views, loss)
        return loss

    def _cr(self, ctx: StepContext) -> torch.Tensor:
        """InfoGAN-CR's phase (terms.ContrastiveCR)."""
        return next(t for t in self.terms if isinstance(t, terms.ContrastiveCR)).cr_loss(self, ctx)

    def _generator(self, ctx: StepContext) -> torch.Tensor:
        """The bare D runs here: its weights take no gradient in this phase, so under DDP nothing needs an
        all-reduce."""
        report, spec = ctx.report, self.nets.disc.spec
        views = self._views(self.nets.disc, ctx, {"fake": ctx.fake}, "g_views")
        g_adv = losses.generator_loss(views["fake"].logit.float())
        info = self._information(ctx, views["fake"].q)
        report("g_loss", g_adv)
        report("cat_loss", info.categorical)
        report("cont_loss", info.continuous)
        report("mi_bound", spec.total_entropy - info.categorical)  # sum over codes of ln K_i - CE_i
        if spec.n_categorical > 1:  # with one code the totals above are that code's values
            for i, (ce, k) in enumerate(zip(info.categorical_per_code, spec.categorical), start=1):
                report(f"cat_loss_cat{i}", ce)
                report(f"mi_bound_cat{i}", losses.mutual_information_bound(ce, k))
        total = g_adv + info.total
        for term in self.terms:
            total = term.g_loss(self, ctx, views, total)
        return total

    def _views(self, disc, ctx: StepContext, views: dict, wanted: str) -> terms.Views:
        """D's outputs on `views` and on the deformed views the terms ask for (`wanted`: "d_views" or
        "g_views"): the fakes' then the real batch's, through the real batch's deformations. With deformed
        views every view goes through one call of D; without, each view is its own call, as the paper's
        objective runs."""
        extra = [
            name for name in ("fake_deformed", "real_deformed") if any(name in getattr(t, wanted) for t in self.terms)
        ]
        if not extra:
            return {name: disc(images) for name, images in views.items()}
        deform = ctx.draws.deform.apply
        views.update({name: deform(views[name.removesuffix("_deformed")]) for name in extra})
        return dict(zip(views, self._in_one_call(disc, list(views.values()))))

    def effect_overlap(self, ctx: StepContext) -> torch.Tensor:
        """losses.effect_overlap of the first EFFECT_SAMPLES latents of the step: G on them and on each copy
        with one continuous code moved by EFFECT_STEP, in one call (one set of BatchNorm statistics). The move's
        sign alternates from sample to sample: a move shared by the whole batch would be taken out by G's
        first BatchNorm in training mode."""
        spec = self.nets.disc.spec
        vector = spec.vector(ctx.draws.latent)[: losses.EFFECT_SAMPLES]  # [n, input_dim]
        n = vector.shape[0]
        signs = torch.ones(n, device=vector.device)
        signs[1::2] = -1
        first = spec.input_dim - spec.continuous  # the continuous codes are the vector's last entries
        moved = [vector]
        for code in range(spec.continuous):
            copy = vector.clone()
            copy[:, first + code] += losses.EFFECT_STEP * signs
            moved.append(copy)
        images = self.nets.gen_ddp(torch.cat(moved)).float().chunk(spec.continuous + 1)  # each [n, C, H, W]
        return losses.effect_overlap([(im - images[0]) * signs.view(-1, 1, 1, 1) for im in images[1:]])

    def effect_interaction(self, ctx: StepContext) -> torch.Tensor:
        """losses.effect_interaction of the first EFFECT_SAMPLES latents of the step: for each pair of continuous
        codes, G at the four corners c + EFFECT_STEP * (+-a e_i +- b e_j), all in one call. The per-sample signs
        a (alternating) and b (alternating in twos) keep each corner's batch mean where the latents' is, so G's
        first BatchNorm in training mode cannot take the moves out; they cancel in the squares."""
        spec = self.nets.disc.spec
        vector = spec.vector(ctx.draws.latent)[: losses.EFFECT_SAMPLES]  # [n, input_dim]
        n, first = vector.shape[0], spec.input_dim - spec.continuous
        a = torch.ones(n, device=vector.device)
        a[1::2] = -1
        b = torch.ones(n, device=vector.device)
        b[2::4], b[3::4] = -1, -1
        pairs = [(i, j) for i in range(spec.continuous) for j in range(i + 1, spec.continuous)]
        moved = []
        for i, j in pairs:
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                copy = vector.clone()
                copy[:, first + i] += losses.EFFECT_STEP * si * a
                copy[:, first + j] += losses.EFFECT_STEP * sj * b
                moved.append(copy)
        images = self.nets.gen_ddp(torch.cat(moved)).float().chunk(len(moved))  # each [n, C, H, W]
        return losses.effect_interaction([tuple(images[4 * p : 4 * p + 4]) for p in range(len(pairs))])

    @staticmethod
    def _in_one_call(disc, views: list[torch.Tensor]) -> list[DOutput]:
        """D's outputs on each of the equal batches `views`, from one call on their concatenation: the same as
        separate calls (Discriminator.forward normalises each view on its own) at a fraction of their cost
        (docs/results.md#every-seed-learns-the-digits). Keep the separate calls' order, so that BatchNorm's running
        statistics take their updates in the same order."""
        return disc(torch.cat(views), views=len(views)).chunk(len(views))

    def _information(self, ctx: StepContext, q: QCodes) -> losses.InfoLoss:
        fp32 = QCodes(
            [logits.float() for logits in q.cat_logits],
            q.cont_mean.float(),
            None if q.cont_logstd is None else q.cont_logstd.float(),
        )
        return losses.information_loss(fp32, ctx.draws.latent, self.cfg.categorical_weight, self.cfg.continuous_weight)


def statistic_names(cfg: TrainConfig) -> tuple[str, ...]:
    """What a step of this (resolved) config reports, in the order the phases report it: each phase's own
    statistics, then its terms' (terms.py), in the terms' order."""
    spec: LatentSpec = cfg.latent
    on = terms.terms_of(cfg)
    names = ["d_loss", "d_acc_real", "d_acc_fake"]
    names += [name for term in on for name in term.statistics(cfg).get("D", ())]
    names += [name for term in on for name in term.statistics(cfg).get("CR", ())]
    names += ["g_loss", "cat_loss", "cont_loss", "mi_bound"]
    names += [f"{kind}_cat{i}" for i in range(1, spec.n_categorical + 1) for kind in ("cat_loss", "mi_bound")] * (
        spec.n_categorical > 1
    )
    names += [name for term in on for name in term.statistics(cfg).get("G", ())]
    return tuple(names)
