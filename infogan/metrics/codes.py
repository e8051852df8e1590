"""What the codes learned, measured. Every metric is a plain function returning `{name: value}`.

The same functions run during training (per epoch, when the data has labels) and from
`infogan evaluate`. Label metrics compare Q's argmax of each categorical code on real images with the
true labels of each ground-truth factor (a factor is then credited to its best-matching code):
- categorical_accuracy: after the best one-to-one matching of categories to labels (Hungarian algorithm),
- nmi: normalised mutual information (arithmetic-mean normalisation),
- ari: adjusted Rand index.
Label-free ones:
- mutual_information_bound: sum over codes of ln K_i - CE_i of Q on *generated* samples (the paper's L_I,
  Fig. 1),
- q_real_mi: H(E_x Q(c|x)) - E_x H(Q(c|x)) on *real* images, an estimate of I(c; x) under Q: high when Q is
  confident on each image and uses all categories evenly. This is the criterion `sweep` uses to choose a
  seed without labels.
- continuous effects: per continuous code, Spearman correlation between the code's value and the slant
  angle / ink mass of the generated image (grey images), measured within each traversal and averaged.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from infogan.data.images import batched
from infogan.model.latent import CODE_RANGE, LatentSpec
from infogan.model.networks import eval_mode
from infogan.serve.inference import generate


# ---------------------------------------------------------------------------------------------- clustering
def contingency(pred: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts [n_pred_values, n_label_values] and the sorted distinct values of each."""
    pred_values, p = np.unique(pred, return_inverse=True)
    label_values, l = np.unique(labels, return_inverse=True)
    table = np.zeros((len(pred_values), len(label_values)), dtype=np.int64)
    np.add.at(table, (p, l), 1)
    return table, pred_values, label_values


def categorical_accuracy(pred, labels) -> dict:
    """Accuracy after the best one-to-one matching of predicted categories to labels (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    pred, labels = np.asarray(pred), np.asarray(labels)
    table, pred_values, label_values = contingency(pred, labels)
    rows, cols = linear_sum_assignment(table, maximize=True)
    matching = {int(pred_values[r]): int(label_values[c]) for r, c in zip(rows, cols)}
    return {"categorical_accuracy": float(table[rows, cols].sum() / len(pred)), "matching": matching}


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(pred, labels) -> dict:
    """I(pred; labels) / mean(H(pred), H(labels)); 1 for identical partitions up to renaming."""
    table, _, _ = contingency(np.asarray(pred), np.asarray(labels))
    n = table.sum()
    outer = np.outer(table.sum(1), table.sum(0))
    nz = table > 0
    mi = float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())
    h_pred, h_labels = _entropy(table.sum(1)), _entropy(table.sum(0))
    denom = (h_pred + h_labels) / 2
    return {"nmi": 1.0 if denom == 0 else max(0.0, mi / denom)}


def ari(pred, labels) -> dict:
    """Adjusted Rand index (Hubert and Arabie 1985): 1 for identical partitions, about 0 for chance."""
    table, _, _ = contingency(np.asarray(pred), np.asarray(labels))
    comb2 = lambda x: x * (x - 1) / 2  # noqa: E731
    index = comb2(table).sum()
    rows, cols = comb2(table.sum(1)).sum(), comb2(table.sum(0)).sum()
    expected = rows * cols / comb2(table.sum())
    max_index = (rows + cols) / 2
    return {"ari": 1.0 if max_index == expected else float((index - expected) / (max_index - expected))}


def label_metrics(pred, labels) -> dict:
    return {**categorical_accuracy(pred, labels), **nmi(pred, labels), **ari(pred, labels)}


# ---------------------------------------------------------------------------------------------- Q on real images
def q_on_real(disc, images_uint8: torch.Tensor, batch_size: int = 500) -> list[torch.Tensor]:
    """Q's probabilities per categorical code ([N, K_i] each) for real uint8 images [N, C, H, W], D/Q in
    eval mode; an empty list without a categorical code."""
    if not disc.spec.categorical:
        return []

    def probabilities(x):  # [B, sum K_i]: each code's softmax, side by side
        return torch.cat([F.softmax(logits.float(), 1) for logits in disc(x).cat_logits], 1)

    with eval_mode(disc):
        probs = batched(probabilities, images_uint8, batch_size, next(disc.parameters()).device)
    return list(probs.split(list(disc.spec.categorical), 1))


def q_real_information(probs: torch.Tensor) -> dict:
    """Label-free: estimate of I(c; x) under Q on real data, and Q's mean confidence (one code)."""
    eps = 1e-12
    marginal = probs.mean(0)
    h_marginal = float(-(marginal * (marginal + eps).log()).sum())
    h_conditional = float(-(probs * (probs + eps).log()).sum(1).mean())
    return {"q_real_mi": h_marginal - h_conditional, "q_confidence": float(probs.max(1).values.mean())}


def code_scores(probs: list[torch.Tensor], factors: dict[str, np.ndarray]) -> dict:
    """Every categorical code against every ground-truth factor, and each factor's best-matching code.

    Returns `per_code` (per code: values, q_real_mi, q_confidence, and per factor accuracy/NMI/ARI),
    `factors` (per factor: the code with the highest Hungarian accuracy, its scores and matching), and the
    headline keys of single-code reports: `q_real_mi` (summed over codes: the information Q reads from real
    images about all codes), `q_confidence` (mean over codes) and, with labels, `categorical_accuracy`,
    `nmi`, `ari`, `matching` and `best_code` for the first factor ("y" in an npz, "shape" in shapes), and
    `categorical_accuracy_<factor>` for each further factor.
    """
    per_code, best = [], {}
    for code, p in enumerate(probs, start=1):
        pred = p.argmax(1).numpy()
        row = {"code": code, "values": p.shape[1], **q_real_information(p), "labels": {}}
        for name, labels in factors.items():
            scores = label_metrics(pred, labels)
            matching = scores.pop("matching")
            row["labels"][name] = scores
            if name not in best or scores["categorical_accuracy"] > best[name]["categorical_accuracy"]:
                best[name] = {"best_code": code, **scores, "matching": {str(k): v for k, v in matching.items()}}
        per_code.append(row)
    out = {
        "per_code": per_code,
        "factors": best,
        "q_real_mi": sum(r["q_real_mi"] for r in per_code),
        "q_confidence": float(np.mean([r["q_confidence"] for r in per_code])) if per_code else 0.0,
    }
    first = next(iter(factors), None)
    if first in best:
        out.update(best[first])
    for name in list(best)[1:]:  # each further factor's best accuracy, as a number of its own
        out[f"categorical_accuracy_{name}"] = best[name]["categorical_accuracy"]
    return out


# ---------------------------------------------------------------------------------------------- Q on generated images
@torch.no_grad()
def generated_information(spec: LatentSpec, gen, disc, n: int = 2000, seed: int = 0, batch_size: int = 500) -> dict:
    """The paper's L_I for the categorical codes on fresh samples: ln K_i - CE(Q_i(G(z, c)), c_i) per code,
    and its sum over codes (`mutual_information_bound`); Q's accuracy on the codes it was drawn with."""
    device = next(gen.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    total_ce = [0.0] * spec.n_categorical
    correct = [0] * spec.n_categorical
    with eval_mode(gen, disc):
        for start in range(0, n, batch_size):
            lat = spec.sample(min(batch_size, n - start), rng).to(device)
            out = disc(gen(spec.vector(lat)))
            for i, logits in enumerate(out.cat_logits):
                total_ce[i] += float(F.cross_entropy(logits.float(), lat.cat[:, i], reduction="sum"))
                correct[i] += int((logits.argmax(1) == lat.cat[:, i]).sum())
    bounds = [spec.entropy(i) - total_ce[i] / n for i in range(spec.n_categorical)]
    report = {"mutual_information_bound": sum(bounds), "mutual_information_bound_max": spec.total_entropy}
    if bounds:
        report["q_generated_accuracy"] = correct[0] / n
    if len(bounds) > 1:
        report["mutual_information_bound_per_code"] = bounds
        report["q_generated_accuracy_per_code"] = [c / n for c in correct]
    return report


# ---------------------------------------------------------------------------------------------- continuous codes
def slant_and_ink(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Slant angle (degrees, positive = top leans right) and ink mass of grey images [N, 1, H, W] in [-1, 1].

    From second-order central moments of the ink (intensity mapped to [0, 1]): the shear that makes the
    digit upright is mu11 / mu02 (x against y); the angle is atan(-mu11 / mu02) since image rows grow
    downwards. Ink mass is the mean intensity: for the same shape it grows with stroke width.
    """
    ink = ((images[:, 0].float() + 1) / 2).clamp(0, 1)  # [N, H, W]
    n, h, w = ink.shape
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    mass = ink.sum((1, 2)).clamp_min(1e-6)
    cy = (ink * ys).sum((1, 2)) / mass
    cx = (ink * xs).sum((1, 2)) / mass
    dy, dx = ys - cy.view(n, 1, 1), xs - cx.view(n, 1, 1)
    mu11 = (ink * dx * dy).sum((1, 2)) / mass
    mu02 = (ink * dy * dy).sum((1, 2)) / mass
    slant = torch.rad2deg(torch.atan(-mu11 / mu02.clamp_min(1e-6)))
    return slant, ink.mean((1, 2))


@torch.no_grad()
def continuous_effects(
    spec: LatentSpec, image_channels: int, gen, n_noise: int = 64, steps: int = 9, value_range=CODE_RANGE, seed: int = 0
) -> dict:
    """Per continuous code: mean within-traversal Spearman correlation of code value with slant and ink."""
    from scipy.stats import spearmanr

    if image_channels != 1 or spec.continuous == 0:
        return {"continuous_effects": [], "continuous_effects_note": "measured for single-channel images only"}
    values = torch.linspace(*value_range, steps)
    rng = torch.Generator().manual_seed(seed)
    cats = torch.randint(spec.picture_rows(), (n_noise,), generator=rng).tolist()  # code 1's value per row
    effects = []
    for code in range(spec.continuous):
        lat = spec.continuous_traversal(code, values, torch.Generator().manual_seed(seed + 1 + code), rows=cats)
        slant, ink = (m.view(n_noise, steps).numpy() for m in slant_and_ink(generate(gen, lat)))
        row = {"code": code + 1}
        for name, measure in (("slant", slant), ("ink", ink)):
            rhos = [spearmanr(values.numpy(), r).statistic for r in measure if np.ptp(r) > 0]
            row[f"{name}_spearman"] = float(np.mean(rhos)) if rhos else 0.0
        row["slant_degrees_per_unit"] = float(np.polyfit(np.tile(values.numpy(), n_noise), slant.ravel(), 1)[0])
        effects.append(row)
    return {"continuous_effects": effects}


def checkerboard_power(images_uint8: torch.Tensor) -> float:
    """Share of the images' spectral power (mean removed) at the period-2 frequencies: (pi, 0), (0, pi) and
    (pi, pi), where a transposed convolution's checkerboard lives. On a grid of H x W frequencies these 3
    of H*W carry about 3 / (H W) of white noise's power and less of natural images' (power falls with
    frequency); compare generated images with the real ones of the same data set."""
    x = images_uint8.double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)  # [N, C, H, W]
    power = torch.fft.fft2(x).abs() ** 2
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    nyquist = power[..., h, 0] + power[..., 0, w] + power[..., h, w]  # even sides: index H/2 is frequency pi
    return float(nyquist.sum() / power.sum().clamp_min(1e-12))
