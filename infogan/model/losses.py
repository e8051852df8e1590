"""InfoGAN's objective, term by term.

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q)          (paper, eq. 6)

with the variational lower bound on the mutual information between codes and images (eq. 4-5)

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c)).

Implemented as losses to minimise (all on logits, never on softmax/sigmoid outputs):

    D:  L_D    = BCE(D(x), 1) + BCE(D(G(z, c)), 0)
    G:  L_G    = BCE(D(G(z, c)), 1)                                   (non-saturating)
    Q:  L_info = lambda_cat * sum_i CE(Q_i(x), c_i) + lambda_cont * NLL_Gauss(c_cont | Q_mu(x), Q_sigma(x))

where i runs over the categorical codes (one on MNIST, four on SVHN, ten on CelebA). The codes are
independent under the prior, so H(c) and the bound are sums over codes.

Who minimises what, and which optimiser owns which parameters:
- The D-side optimiser owns D's trunk (shared with Q), D's head and Q's head. Its step minimises
  L_D + L_info on the *detached* fake batch. This is how the information gradient reaches the shared
  trunk: Q learns to read the codes from generated images with every layer it has, which is what the
  official code does (L_I is subtracted from both D's and G's objectives, Q's variables sit with D's).
  Ports that put Q only in G's optimiser never train the trunk for Q, and their codes go dead.
  Q's own head runs at G's learning rate (paper: "lr 1e-3 for G", Q trained with G's step size).
- The G optimiser owns G only. Its step minimises L_G + L_info, so G makes the codes readable.

InfoGAN-CR's contrastive regulariser (Lin et al., ICML 2020), on when --cr-weight > 0:

    L_CR = CE(D_CR(G(z, c), G(z, c')), k)

where the pair shares the noise z and code k (k uniform over all codes, categorical ones first), every
other code of c' drawn afresh, and D_CR (`cr` in the code, Lin et al.'s H) is a second, small discriminator
that sees the two images stacked on the channel axis and predicts which code they share. D_CR and G both
minimise L_CR (cooperative, not a minimax game): D_CR learns to spot the shared factor, G makes each code change one thing that H can spot,
which is what disentangled means. G's objective becomes L_G + L_info + cr_weight * L_CR.

Q's information on real images, on when --real-info-weight > 0 (regularised information maximisation,
Krause et al., NIPS 2010; the same term CatGAN's D maximises, Springenberg, ICLR 2016):

    I_real = sum_i [ H(E_x Q_i(. | x)) - E_x H(Q_i(. | x)) ]      x a real batch, at most sum_i ln K_i

the mutual information between a real image and the category Q reads from it: high when Q is confident
on each image (low conditional entropy) and uses every value about equally over the batch (high marginal
entropy). The D-side optimiser minimises L_D + L_info - real_info_weight * I_real, so the trunk and Q's head
learn to sort real images into K balanced groups while G learns to draw what Q reads as c. The paper
trains Q on generated images only; this term (not in the paper) asks Q's categories to be categories of
the data too. Labels are never used.

IIC's two-view information, on when --iic-weight > 0 (Invariant Information Clustering, Ji et al., ICCV 2019):

    P_i    = sym( E_x  Q_i(. | x) Q_i(. | T(x))^T )             [K_i, K_i], T a small random deformation
    I_pair = sum_i sum_{a,b} P_i[a,b] ln( P_i[a,b] / (P_i[a] P_i[b]) )     at most sum_i ln K_i

the mutual information between the category Q reads from a real image and the one it reads from a deformed
copy (augment.py): high when Q gives both views the same confident category and uses every value over the
batch. The D-side optimiser minimises L_D + L_info - iic_weight * I_pair, so Q's categories become groups of
real images that survive small rotations, scalings and shifts: what tells a 4 from a 9 survives them, the
accidents of one drawing do not. Labels are never used.

The continuous codes' prior matched on real images, on when --code-prior-weight > 0 (not in the paper; the
aggregate-posterior match of adversarial and Wasserstein autoencoders, made with a sliced Wasserstein distance,
Deshpande et al. 2018):

    SW_2^2 = mean_u  W_2^2( <u, Q_mu(x)>, <u, c> )        x a real batch, c the step's draws of U(-1, 1)^L

over fixed directions u (each axis, and six angles in the plane of every pair of codes), each 1-D distance
from the two sorted projections. Zero when Q's continuous readings of real images are spread as the prior is:
each code evenly over [-1, 1] and independent of the others. A perfect G already gives this; the term asks it
of Q on the data, where two codes that read a rotated mix of two independent factors do not satisfy it (a
rotated square is no square; ICA's reason for non-Gaussian sources). Labels are never used, and nothing
names the factors.

For a uniform categorical prior H(c_i) = ln K_i, so  MI_bound_i = ln K_i - CE_i  is code i's part of L_I
(the paper's Fig. 1 shows it rising to ln 10 = 2.30 on MNIST), and the total is sum_i (ln K_i - CE_i).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from infogan.model.latent import Latent, QCodes

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def in_fp32(term):
    """`term` computed in fp32 whatever the run's precision: autocast would run its matrix products in bf16
    (or fp16), where a joint distribution's small entries and a sort's close values lose their digits, and a
    bf16 run would then optimise another objective than an fp32 one. Its tensor arguments are fp32 already."""

    @functools.wraps(term)
    def fp32_term(first, *args, **kwargs):
        device = (first[0] if isinstance(first, list) else first).device.type  # a tensor or a list of them
        with torch.autocast(device, enabled=False):
            return term(first, *args, **kwargs)

    return fp32_term


def discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    # L_D = -E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit), computed stably from logits
    real = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
    fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
    return real + fake


def generator_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    # Non-saturating: L_G = -E[log D(G(z))] (Goodfellow et al. 2014), not E[log(1 - D(G(z)))]
    return F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))


def categorical_nll(cat_logits: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
    # CE = -E[log Q(c_cat | x)] = -E[log softmax(logits)[c]]; mean over the batch
    return F.cross_entropy(cat_logits, cat)


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, logstd: torch.Tensor | None) -> torch.Tensor:
    """-E[log N(c | mu, sigma^2)], summed over codes, mean over the batch.

    Per code: log sigma + (c - mu)^2 / (2 sigma^2) + 0.5 log(2 pi). With sigma fixed at 1 (the official
    code's choice and our default) this is 0.5 (c - mu)^2 + 0.5 log(2 pi): least squares plus a constant.
    """
    if mean.shape[1] == 0:
        return mean.new_zeros(())
    if logstd is None:
        per_code = 0.5 * (target - mean) ** 2 + HALF_LOG_2PI
    else:
        per_code = logstd + 0.5 * ((target - mean) * torch.exp(-logstd)) ** 2 + HALF_LOG_2PI
    return per_code.sum(dim=1).mean()


@dataclass
class InfoLoss:
    total: torch.Tensor  # lambda_cat * categorical + lambda_cont * continuous
    categorical: torch.Tensor  # sum over categorical codes of their CE (0 without a categorical code)
    continuous: torch.Tensor  # Gaussian NLL of the continuous codes
    categorical_per_code: list[torch.Tensor]  # CE_i of each categorical code


def categorical_nlls(cat_logits: list[torch.Tensor], cat: torch.Tensor) -> list[torch.Tensor]:
    """CE_i of each categorical code: logits [N, K_i] (fp32) against the drawn values cat [N, n_codes]."""
    return [categorical_nll(logits, cat[:, i]) for i, logits in enumerate(cat_logits)]


def information_loss(q: QCodes, latent: Latent, categorical_weight: float, continuous_weight: float) -> InfoLoss:
    """L_info from Q's outputs (fp32 logits/means) and the codes the fakes were drawn with."""
    per_code = categorical_nlls(q.cat_logits, latent.cat)
    ce = torch.stack(per_code).sum() if per_code else q.cont_mean.new_zeros(())
    nll = gaussian_nll(q.cont_mean, latent.cont, q.cont_logstd)
    return InfoLoss(categorical_weight * ce + continuous_weight * nll, ce, nll, per_code)


def mutual_information_bound(categorical_ce, values: int):
    # L_I of one categorical code: H(c) - CE, with H(c) = ln K for a uniform prior; at most ln K
    return math.log(values) - categorical_ce


def real_information(cat_logits: list[torch.Tensor]) -> torch.Tensor:
    """I_real above, summed over the categorical codes: logits [N, K_i] of Q on a real batch (fp32)."""
    total = torch.zeros((), device=cat_logits[0].device) if cat_logits else torch.zeros(())
    for logits in cat_logits:
        log_p = F.log_softmax(logits, dim=1)  # [N, K]
        conditional = -(log_p.exp() * log_p).sum(dim=1).mean()  # E_x H(Q(.|x))
        # log of the batch's mean distribution, from logs (stable where some p underflow)
        log_mean = torch.logsumexp(log_p, dim=0) - math.log(logits.shape[0])  # [K]
        marginal = -(log_mean.exp() * log_mean).sum()  # H(E_x Q(.|x))
        total = total + marginal - conditional
    return total


@in_fp32
def paired_information(logits: list[torch.Tensor], logits_other: list[torch.Tensor]) -> torch.Tensor:
    """I_pair above, summed over the categorical codes: Q's logits [N, K_i] on a real batch and on its deformed
    copy, in the same order (fp32)."""
    total = torch.zeros((), device=logits[0].device) if logits else torch.zeros(())
    for a, b in zip(logits, logits_other):
        joint = F.softmax(a, dim=1).t() @ F.softmax(b, dim=1) / a.shape[0]  # [K, K], sums to 1
        joint = ((joint + joint.t()) / 2).clamp_min(torch.finfo(joint.dtype).tiny)  # symmetric: the views are alike
        row, col = joint.sum(dim=1, keepdim=True), joint.sum(dim=0, keepdim=True)
        total = total + (joint * (joint.log() - row.log() - col.log())).sum()
    return total


EFFECT_SAMPLES = 16  # latents of a step whose code effects effect_overlap compares
EFFECT_STEP = 0.25  # the finite difference's move of a code (its prior spans 2)


def effect_overlap(changes: list[torch.Tensor]) -> torch.Tensor:
    """Mean over samples and over pairs of codes of the squared cosine between two codes' image changes
    (G(c + h e_i) - G(c) against G(c + h e_j) - G(c), each [n, C, H, W], fp32): 0 when every code moves the
    image in a direction of its own, 1 when two codes move it alike (OroJaR, Wei et al. 2021, penalises the
    same overlap of G's Jacobian columns unnormalised). The cosine does not change with a change's size, so its
    gradient is orthogonal to each change: G lowers the overlap by turning the changes apart, never by
    shrinking them."""
    flat = [F.normalize(c.flatten(1), dim=1, eps=1e-6) for c in changes]  # unit changes [n, C*H*W]
    total, pairs = changes[0].new_zeros(()), 0
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            total, pairs = total + (flat[i] * flat[j]).sum(1).square().mean(), pairs + 1
    return total / max(pairs, 1)


def effect_interaction(corners: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """How much one code's effect on the image depends on another code's value, mean over samples and pairs of
    codes. Each pair's `corners` are G at c + h(s_i e_i + s_j e_j) for (s_i, s_j) = (+,+), (+,-), (-,+),
    (-,-), each [n, C, H, W] fp32; from them the mixed difference D_ij = G++ - G+- - G-+ + G-- (4 h^2 times
    the mixed second derivative) and the two codes' own differences D_i, D_j (4 h times the first derivative).
    The term is ||D_ij||^2 / mean(||D_i||^2, ||D_j||^2): 0 when each code changes the image the same way
    whatever the other's value, and unchanged by a common scale of the image changes (Peebles et al. 2020's
    Hessian penalty, on the continuous codes, relative). A rotated mix of two factors whose curvatures differ
    interacts; the factors' own axes do not."""
    total = corners[0][0].new_zeros(())
    for pp, pm, mp, mm in corners:
        mixed = (pp - pm - mp + mm).flatten(1)  # [n, C*H*W]
        own_i, own_j = (pp + pm - mp - mm).flatten(1), (pp - pm + mp - mm).flatten(1)
        scale = (own_i.square().sum(1) + own_j.square().sum(1)) / 2
        total = total + (mixed.square().sum(1) / (scale + 1e-8)).mean()
    return total / max(len(corners), 1)


PAIR_ANGLES = tuple(math.pi * k / 8 for k in (1, 2, 3, 5, 6, 7))  # in each pair's plane; 0 and pi/2 are axes


@functools.cache  # built once per number of codes, not at every D step
def prior_directions(codes: int) -> torch.Tensor:
    """The fixed unit directions [D, codes] of code_prior_match: every axis, and PAIR_ANGLES in the plane of
    every pair of codes (8 for two codes). Fixed, so the term draws nothing from any generator."""
    rows = list(torch.eye(codes))
    for i in range(codes):
        for j in range(i + 1, codes):
            for angle in PAIR_ANGLES:
                u = torch.zeros(codes)
                u[i], u[j] = math.cos(angle), math.sin(angle)
                rows.append(u)
    return torch.stack(rows)


@in_fp32
def code_prior_match(readings: torch.Tensor, prior_draws: torch.Tensor) -> torch.Tensor:
    """SW_2^2 above: Q's continuous means on a real batch [N, L] against N draws of the prior [N, L] (fp32)."""
    u = prior_directions(readings.shape[1]).to(readings.device, readings.dtype).t()  # [L, D]
    q_sorted = (readings @ u).sort(dim=0).values  # [N, D]
    prior_sorted = (prior_draws.to(readings.dtype) @ u).sort(dim=0).values  # [N, D]
    return ((q_sorted - prior_sorted) ** 2).mean()


def contrastive_loss(pair_logits: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    # L_CR = -E[log H(k | x, x')]: pair_logits [N, n_codes], shared [N] the index of the code the pair shares
    return F.cross_entropy(pair_logits, shared)


def contrastive_accuracy(pair_logits: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """Fraction of pairs whose shared code D_CR names (chance: 1 / n_codes)."""
    return (pair_logits.argmax(dim=1) == shared).float().mean()


def discriminator_accuracy(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions classified correctly: real images with D(x) > 0.5, fakes with D(G(z)) < 0.5."""
    return (real_logit > 0).float().mean(), (fake_logit < 0).float().mean()
