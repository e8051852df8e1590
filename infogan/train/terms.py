"""The optional terms of InfoGAN's objective, one object each: when it is on, which views of D it needs,
what it adds to each phase's loss, the statistics it reports there, and why a CUDA graph cannot hold it.

The loss (loss.py) runs the paper's objective and then, phase by phase, every term of TERMS that is on, in
the table's order (which is also the order of their statistics). A new term is one class here, one entry
in TERMS and its config fields.

    term                 on with              D phase                         G phase
    DeformedFakes        --iic-fake-weight    + w CE(Q(T(fake)), c)           + w CE(Q(T(fake)), c)
    RealInformation      --real-info-weight   - w I_real  (until --real-info-until)
    CodePrior            --code-prior-weight  + w SW_2^2(Q(real), prior)
    IIC                  --iic-weight         - w I_pair [- w I_pair over]
    ContinuousEffects    --effects-weight                                     + w overlap or interaction
    ContrastiveCR        --cr-weight          (its own phase CR: L_CR -> D_CR) + w L_CR (from --cr-start-step)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from infogan.config import TrainConfig
from infogan.model import losses
from infogan.model.architectures import DOutput
from infogan.model.latent import QCodes

if TYPE_CHECKING:  # loss.py imports this module; its classes are only annotations here
    from infogan.train.loss import InfoGANLoss, StepContext

Views = dict[str, DOutput]  # D's outputs of a phase by view: "real", "fake", "fake_deformed", "real_deformed"


class Term:
    """One optional part of the objective. Each method gets the loss (its config, networks, report) and the
    step's context; `d_loss`/`g_loss` take the phase's running loss and return it with the term added."""

    d_views: tuple[str, ...] = ()  # views of D the D phase needs besides real and fake
    g_views: tuple[str, ...] = ()  # views of D the G phase needs besides the fake

    @staticmethod
    def on(cfg: TrainConfig) -> bool:
        raise NotImplementedError

    def statistics(self, cfg: TrainConfig) -> dict[str, tuple[str, ...]]:
        """What the term reports, per phase ("D", "CR", "G"), in the order it reports it."""
        return {}

    def graph_reason(self, cfg: TrainConfig) -> str | None:
        """Why a step with this term cannot be one captured CUDA graph (None: it can)."""
        return None

    def d_loss(self, loss: InfoGANLoss, ctx: StepContext, views: Views, total: torch.Tensor) -> torch.Tensor:
        return total

    def g_loss(self, loss: InfoGANLoss, ctx: StepContext, views: Views, total: torch.Tensor) -> torch.Tensor:
        return total


def _deformed_categorical(ctx: StepContext, q: QCodes) -> torch.Tensor:
    """sum_i CE(Q_i(T(G(z, c))), c_i): the categories only; a deformation changes what the continuous codes
    draw (slant, width), so they are not asked to survive it."""
    return sum(losses.categorical_nlls([logits.float() for logits in q.cat_logits], ctx.draws.latent.cat))


class DeformedFakes(Term):
    """Q reads each fake's categories through the real batch's deformations too, in D's and G's objectives, so
    G draws its categories in what survives them."""

    d_views = g_views = ("fake_deformed",)

    @staticmethod
    def on(cfg):
        return cfg.iic_fake_weight > 0

    def statistics(self, cfg):
        return {"G": ("cat_loss_deformed",)}

    def d_loss(self, loss, ctx, views, total):
        return total + loss.cfg.iic_fake_weight * _deformed_categorical(ctx, views["fake_deformed"].q)

    def g_loss(self, loss, ctx, views, total):
        deformed = _deformed_categorical(ctx, views["fake_deformed"].q)
        ctx.report("cat_loss_deformed", deformed)
        return total + loss.cfg.iic_fake_weight * deformed


class RealInformation(Term):
    """Q sorts the real batch into confident, balanced categories (at most sum ln K_i)."""

    @staticmethod
    def on(cfg):
        return cfg.real_info_weight > 0

    def statistics(self, cfg):
        return {"D": ("q_real_info",)}

    def graph_reason(self, cfg):
        if cfg.real_info_until > 0:
            return "--real-info-until (a loss changes at that step, a branch one graph cannot hold)"
        return None

    def d_loss(self, loss, ctx, views, total):
        real_info = losses.real_information([logits.float() for logits in views["real"].q.cat_logits])
        ctx.report("q_real_info", real_info)  # reported after --real-info-until too, no longer trained on
        return total - loss.cfg.real_info_weight * real_info if ctx.real_info_on else total


class CodePrior(Term):
    """Q's continuous readings of real images spread as the codes' prior is."""

    @staticmethod
    def on(cfg):
        return cfg.code_prior_weight > 0

    def statistics(self, cfg):
        return {"D": ("q_real_code_prior",)}

    def d_loss(self, loss, ctx, views, total):
        prior_match = losses.code_prior_match(views["real"].q.cont_mean.float(), ctx.draws.latent.cont)
        ctx.report("q_real_code_prior", prior_match)
        return total + loss.cfg.code_prior_weight * prior_match


class IIC(Term):
    """The same categories for a real image and its deformed copy (Ji et al. 2019), and with
    --iic-overcluster the same over finer groups on the auxiliary head."""

    d_views = ("real_deformed",)

    @staticmethod
    def on(cfg):
        return cfg.iic_weight > 0

    def statistics(self, cfg):
        return {"D": ("q_pair_info",) + ("q_pair_info_over",) * (cfg.iic_overcluster > 0)}

    def graph_reason(self, cfg):
        return "--iic-weight (the real batch's deformations are drawn each step, outside the graph's inputs)"

    def d_loss(self, loss, ctx, views, total):
        real, view = views["real"], views["real_deformed"]
        pair_info = losses.paired_information(
            [logits.float() for logits in real.q.cat_logits], [logits.float() for logits in view.q.cat_logits]
        )
        ctx.report("q_pair_info", pair_info)
        total = total - loss.cfg.iic_weight * pair_info
        if loss.cfg.iic_overcluster:
            over_info = losses.paired_information([real.overcluster.float()], [view.overcluster.float()])
            ctx.report("q_pair_info_over", over_info)
            total = total - loss.cfg.iic_weight * over_info
        return total


class ContinuousEffects(Term):
    """Each continuous code changes the image its own way: the overlap of two codes' image changes
    (orthogonal) or how much one code's change depends on another's value (interaction), in G's objective
    from --effects-start-step on, reported from step 0."""

    @staticmethod
    def on(cfg):
        return cfg.effects_weight > 0

    def statistics(self, cfg):
        return {"G": ("effect_interaction" if cfg.effects_penalty == "interaction" else "effect_overlap",)}

    def graph_reason(self, cfg):
        if cfg.effects_start_step > 0:
            return "--effects-start-step (a loss changes at that step, a branch one graph cannot hold)"
        return None

    def g_loss(self, loss, ctx, views, total):
        interaction = loss.cfg.effects_penalty == "interaction"
        with torch.set_grad_enabled(ctx.effects_on):  # before its start, no graph is kept for a value only shown
            penalty = loss.effect_interaction(ctx) if interaction else loss.effect_overlap(ctx)
        ctx.report(self.statistics(loss.cfg)["G"][0], penalty)
        return total + loss.cfg.effects_weight * penalty if ctx.effects_on else total


class ContrastiveCR(Term):
    """InfoGAN-CR (Lin et al. 2020): D_CR learns in its own phase which code a pair shares; G lowers the same
    cross-entropy from --cr-start-step on (cooperative), through both images of the pair."""

    @staticmethod
    def on(cfg):
        return cfg.cr_weight > 0

    def statistics(self, cfg):
        return {"CR": ("cr_loss", "cr_acc")}

    def graph_reason(self, cfg):
        return "--cr-weight (G takes the contrastive term from --cr-start-step on, a branch one graph cannot hold)"

    def cr_loss(self, loss, ctx) -> torch.Tensor:
        """D_CR's phase, on the detached pair."""
        nets, shared = loss.nets, ctx.draws.shared
        ctx.partner = nets.gen_ddp(nets.disc.spec.vector(ctx.draws.partner))  # [N, C, H, W]
        pair_logits = nets.cr_ddp(ctx.fake.detach(), ctx.partner.detach()).float()  # [N, n_codes]
        cr_loss = losses.contrastive_loss(pair_logits, shared)
        ctx.report("cr_loss", cr_loss)
        ctx.report("cr_acc", losses.contrastive_accuracy(pair_logits, shared))
        return cr_loss

    def g_loss(self, loss, ctx, views, total):
        if not ctx.g_takes_cr:
            return total
        pair_logits = loss.nets.cr(ctx.fake, ctx.partner).float()
        return total + loss.cfg.cr_weight * losses.contrastive_loss(pair_logits, ctx.draws.shared)


TERMS: tuple[type[Term], ...] = (DeformedFakes, RealInformation, CodePrior, IIC, ContinuousEffects, ContrastiveCR)


def terms_of(cfg: TrainConfig) -> list[Term]:
    """The terms a (resolved) config turns on, in the table's order."""
    return [term() for term in TERMS if term.on(cfg)]


def graph_reasons(cfg: TrainConfig) -> tuple[str, ...]:
    """What the config's terms say against capturing its step as one CUDA graph (cuda_graphs.py)."""
    return tuple(why for term in terms_of(cfg) if (why := term.graph_reason(cfg)) is not None)
