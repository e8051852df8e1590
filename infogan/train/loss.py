"""InfoGAN's loss as the training step meets it: `InfoGANLoss.accumulate_gradients(phase, ctx)` computes one
phase's objective from the terms of model/losses.py, reports its statistics by name, and runs its backward
pass; the step then lets the phase's optimiser step.

    "D"  L_D + L_info on the detached fakes [- real_info_weight * I_real] [+ code_prior_weight * SW_2^2]
         [- iic_weight * I_pair]
         -> D's trunk, D's head and Q's head (model/losses.py says why Q sits with D's optimiser)
    "CR" L_CR on the detached pair (InfoGAN-CR only)                 -> CR's pair discriminator
    "G"  L_G + L_info [+ cr_weight * L_CR] [+ effects_weight * overlap], through the just-updated D/Q -> G

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

    def accumulate_gradients(self, phase: str, ctx: StepContext) -> None:
        """The phase's loss (under autocast) and its backward pass (scaled under fp16)."""
        # parametrize.cached: a spectral-norm weight W / sigma is computed once per phase, not at each of the
        # phase's calls of D
        with self.rt.autocast(), parametrize.cached():
            loss = {"D": self._discriminator, "CR": self._cr, "G": self._generator}[phase](ctx)
        self.rt.backward(loss)

    def _discriminator(self, ctx: StepContext) -> torch.Tensor:
        cfg, nets, report = self.cfg, self.nets, ctx.report
        fake = ctx.fake.detach()
        if cfg.iic_weight > 0:  # with the deformed copies, every view in one call of D
            deform = ctx.draws.deform.apply
            fake_copy = [deform(fake)] if cfg.iic_fake_weight > 0 else []
            d_real, d_fake, *d_fake_view, d_view = self._in_one_call(
                nets.disc_ddp, [ctx.real, fake, *fake_copy, deform(ctx.real)]
            )
        else:  # the paper's objective, call by call
            d_real, d_fake = nets.disc_ddp(ctx.real), nets.disc_ddp(fake)
        d_adv = losses.discriminator_loss(d_real.logit.float(), d_fake.logit.float())
        acc_real, acc_fake = losses.discriminator_accuracy(d_real.logit, d_fake.logit)
        report("d_loss", d_adv)
        report("d_acc_real", acc_real)
        report("d_acc_fake", acc_fake)
        loss = d_adv + self._information(ctx, d_fake.q).total
        if cfg.iic_fake_weight > 0:  # the fakes' categories read through the real batch's deformations too
            loss = loss + cfg.iic_fake_weight * self._deformed_categorical(ctx, d_fake_view[0].q)
        real_logits = [logits.float() for logits in d_real.q.cat_logits]
        if cfg.real_info_weight > 0:  # Q sorts the real batch too; at most sum ln K_i
            real_info = losses.real_information(real_logits)
            report("q_real_info", real_info)  # reported after --real-info-until too, no longer trained on
            if ctx.real_info_on:
                loss = loss - cfg.real_info_weight * real_info
        if cfg.code_prior_weight > 0:  # Q's continuous readings of real images spread as the prior is
            prior_match = losses.code_prior_match(d_real.q.cont_mean.float(), ctx.draws.latent.cont)
            report("q_real_code_prior", prior_match)
            loss = loss + cfg.code_prior_weight * prior_match
        if cfg.iic_weight > 0:  # the same categories for a real image and its deformed copy (IIC)
            pair_info = losses.paired_information(real_logits, [logits.float() for logits in d_view.q.cat_logits])
            report("q_pair_info", pair_info)
            loss = loss - cfg.iic_weight * pair_info
            if cfg.iic_overcluster:  # IIC's auxiliary head: the same information over finer groups
                over_info = losses.paired_information([d_real.overcluster.float()], [d_view.overcluster.float()])
                report("q_pair_info_over", over_info)
                loss = loss - cfg.iic_weight * over_info
        return loss

    def _cr(self, ctx: StepContext) -> torch.Tensor:
        """InfoGAN-CR's D_CR: which code does each pair (fake, partner) share? Trained on the detached pair."""
        nets, shared = self.nets, ctx.draws.shared
        ctx.partner = nets.gen_ddp(nets.disc.spec.vector(ctx.draws.partner))  # [N, C, H, W]
        pair_logits = nets.cr_ddp(ctx.fake.detach(), ctx.partner.detach()).float()  # [N, n_codes]
        cr_loss = losses.contrastive_loss(pair_logits, shared)
        ctx.report("cr_loss", cr_loss)
        ctx.report("cr_acc", losses.contrastive_accuracy(pair_logits, shared))
        return cr_loss

    def _generator(self, ctx: StepContext) -> torch.Tensor:
        """The bare D runs here: its weights take no gradient in this phase, so under DDP nothing needs an
        all-reduce."""
        nets, report, spec = self.nets, ctx.report, self.nets.disc.spec
        if self.cfg.iic_fake_weight > 0:
            d_gen, d_gen_view = self._in_one_call(nets.disc, [ctx.fake, ctx.draws.deform.apply(ctx.fake)])
        else:
            d_gen = nets.disc(ctx.fake)
        g_adv = losses.generator_loss(d_gen.logit.float())
        info = self._information(ctx, d_gen.q)
        report("g_loss", g_adv)
        report("cat_loss", info.categorical)
        report("cont_loss", info.continuous)
        report("mi_bound", spec.total_entropy - info.categorical)  # sum over codes of ln K_i - CE_i
        if spec.n_categorical > 1:  # with one code the totals above are that code's values
            for i, (ce, k) in enumerate(zip(info.categorical_per_code, spec.categorical), start=1):
                report(f"cat_loss_cat{i}", ce)
                report(f"mi_bound_cat{i}", losses.mutual_information_bound(ce, k))
        total = g_adv + info.total
        if self.cfg.iic_fake_weight > 0:  # G draws each category so that Q still reads it from the deformed fake
            deformed = self._deformed_categorical(ctx, d_gen_view.q)
            report("cat_loss_deformed", deformed)
            total = total + self.cfg.iic_fake_weight * deformed
        if self.cfg.effects_weight > 0:  # reported from step 0, in G's loss from --effects-start-step on
            interaction = self.cfg.effects_penalty == "interaction"
            with torch.set_grad_enabled(ctx.effects_on):  # before then, no graph is kept for a value only shown
                penalty = self._effect_interaction(ctx) if interaction else self._effect_overlap(ctx)
            report("effect_interaction" if interaction else "effect_overlap", penalty)
            if ctx.effects_on:
                total = total + self.cfg.effects_weight * penalty
        if ctx.g_takes_cr:  # cooperative: G lowers the same cross-entropy D_CR does, through both images of the pair
            pair_logits = nets.cr(ctx.fake, ctx.partner).float()
            total = total + self.cfg.cr_weight * losses.contrastive_loss(pair_logits, ctx.draws.shared)
        return total

    def _effect_overlap(self, ctx: StepContext) -> torch.Tensor:
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

    def _effect_interaction(self, ctx: StepContext) -> torch.Tensor:
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

    @staticmethod
    def _deformed_categorical(ctx: StepContext, q: QCodes) -> torch.Tensor:
        """sum_i CE(Q_i(T(G(z, c))), c_i): the categories only; a deformation changes what the continuous codes
        draw (slant, width), so they are not asked to survive it."""
        return sum(losses.categorical_nlls([logits.float() for logits in q.cat_logits], ctx.draws.latent.cat))

    def _information(self, ctx: StepContext, q: QCodes) -> losses.InfoLoss:
        fp32 = QCodes(
            [logits.float() for logits in q.cat_logits],
            q.cont_mean.float(),
            None if q.cont_logstd is None else q.cont_logstd.float(),
        )
        return losses.information_loss(fp32, ctx.draws.latent, self.cfg.categorical_weight, self.cfg.continuous_weight)


def statistic_names(cfg: TrainConfig) -> tuple[str, ...]:
    """What a step of this (resolved) config reports, in the order the phases report it."""
    spec: LatentSpec = cfg.latent
    names = ["d_loss", "d_acc_real", "d_acc_fake"]
    names += ["q_real_info"] * (cfg.real_info_weight > 0) + ["q_real_code_prior"] * (cfg.code_prior_weight > 0)
    names += ["q_pair_info"] * (cfg.iic_weight > 0)
    names += ["q_pair_info_over"] * (cfg.iic_overcluster > 0)
    names += ["cr_loss", "cr_acc"] * (cfg.cr_weight > 0)
    names += ["g_loss", "cat_loss", "cont_loss", "mi_bound"]
    if spec.n_categorical > 1:
        names += [f"{kind}_cat{i}" for i in range(1, spec.n_categorical + 1) for kind in ("cat_loss", "mi_bound")]
    names += ["cat_loss_deformed"] * (cfg.iic_fake_weight > 0)
    effect = "effect_interaction" if cfg.effects_penalty == "interaction" else "effect_overlap"
    names += [effect] * (cfg.effects_weight > 0)
    return tuple(names)
