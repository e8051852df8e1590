"""Disentanglement scores against ground-truth factors: MIG and the FactorVAE score.

Both take a representation of N real images (`codes` [N, J]: Q's categorical argmax per categorical code
and Q's mean per continuous code, see `q_codes`) and their factor labels (`factors` [N, K] integers).

- MIG (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs"): for each factor v_k, the mutual
  information I(v_k; z_j) with every code j (continuous codes discretised into `bins` equal-width bins,
  categorical codes as they are), normalised by H(v_k); the gap between the two most informative codes,
  averaged over factors. 1: each factor lives in exactly one code; 0: no code singles a factor out.
- FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising"): codes are divided by their standard
  deviation over all N images; a vote fixes one factor k at a random value, draws `batch` images sharing
  it (the other factors as the data has them) and names the code of least variance among them; a
  majority-vote classifier (code -> factor) is fitted on `n_train` votes and its accuracy on `n_eval` new
  votes is the score. Chance is about 1/K.

Estimated from the labelled images themselves (held-out ones where the data set has a test split), so the
scores are independent of Q's own objective.
"""

from __future__ import annotations

import numpy as np
import torch

from infogan.data.images import batched, to_uint8
from infogan.model.networks import eval_mode
from infogan.serve.inference import generate


def q_codes(disc, images_uint8: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, list[bool]]:
    """Q's reading of real images: [N, m + L] (argmax of each categorical code, then each continuous mean),
    and which columns are discrete."""

    def read(x):  # [B, m + L]
        out = disc(x)
        return torch.cat(
            [*(logits.argmax(1, keepdim=True).float() for logits in out.cat_logits), out.cont_mean.float()], 1
        )

    with eval_mode(disc):
        codes = batched(read, images_uint8, batch_size, next(disc.parameters()).device).numpy()
    return codes, [True] * disc.spec.n_categorical + [False] * disc.spec.continuous


def _discretise(column: np.ndarray, bins: int) -> np.ndarray:
    edges = np.histogram_bin_edges(column, bins=bins)
    return np.digitize(column, edges[1:-1])


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats for two integer label arrays (plug-in estimate from their contingency table)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    p = table / table.sum()
    outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / outer[nz])).sum())


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mig(codes: np.ndarray, discrete: list[bool], factors: np.ndarray, bins: int = 20) -> dict:
    """MIG, and per factor the code that carries it most (1-based column of `codes`) with its share."""
    columns = [
        codes[:, j].astype(np.int64) if discrete[j] else _discretise(codes[:, j], bins) for j in range(codes.shape[1])
    ]
    per_factor = []
    for k in range(factors.shape[1]):
        h = _entropy(factors[:, k])
        if h == 0 or len(columns) == 0:
            per_factor.append({"factor": k, "gap": 0.0, "best_code": None, "normalised_mi": 0.0})
            continue
        mi = np.array([_mutual_information(factors[:, k], c) for c in columns]) / h
        order = np.argsort(-mi)
        second = mi[order[1]] if len(mi) > 1 else 0.0
        per_factor.append(
            {
                "factor": k,
                "gap": float(mi[order[0]] - second),
                "best_code": int(order[0]) + 1,
                "normalised_mi": float(mi[order[0]]),
            }
        )
    return {"mig": float(np.mean([f["gap"] for f in per_factor])), "mig_per_factor": per_factor}


def factorvae_score(
    codes: np.ndarray, factors: np.ndarray, n_train: int = 800, n_eval: int = 800, batch: int = 64, seed: int = 0
) -> dict:
    """The FactorVAE score (majority-vote accuracy), its votes' classifier, and the chance level."""
    rng = np.random.default_rng(seed)
    scale = codes.std(0)
    active = scale > 0  # a code that never varies can carry no factor (the paper prunes collapsed codes)
    if not active.any():
        return {"factorvae_score": 0.0, "factorvae_note": "no code varies over the data"}
    normed = codes[:, active] / scale[active]
    by_value = [
        {v: np.flatnonzero(factors[:, k] == v) for v in np.unique(factors[:, k])} for k in range(factors.shape[1])
    ]
    usable = [k for k in range(factors.shape[1]) if len(by_value[k]) > 1]

    def votes(n: int) -> np.ndarray:
        out = np.empty((n, 2), dtype=np.int64)
        for i in range(n):
            k = usable[rng.integers(len(usable))]
            values = list(by_value[k])
            pool = by_value[k][values[rng.integers(len(values))]]
            pick = pool[rng.integers(len(pool), size=batch)]
            out[i] = normed[pick].var(0).argmin(), k  # (code of least variance, the fixed factor)
        return out

    n_codes, n_factors = normed.shape[1], factors.shape[1]
    train = votes(n_train)
    counts = np.zeros((n_codes, n_factors), dtype=np.int64)
    np.add.at(counts, (train[:, 0], train[:, 1]), 1)
    classifier = counts.argmax(1)  # each code votes for the factor it was most often the quietest for
    test = votes(n_eval)
    accuracy = float((classifier[test[:, 0]] == test[:, 1]).mean())
    return {"factorvae_score": accuracy, "factorvae_chance": 1 / len(usable)}


def disentanglement_report(codes: np.ndarray, discrete: list[bool], factors: dict[str, np.ndarray]) -> dict:
    """MIG and FactorVAE on named factors; the per-factor table names factors and codes."""
    names = list(factors)
    matrix = np.stack([factors[n] for n in names], 1)
    out = {**mig(codes, discrete, matrix), **factorvae_score(codes, matrix)}
    for row in out["mig_per_factor"]:
        row["factor"] = names[row["factor"]]
        if row["best_code"] is not None:
            j = row["best_code"] - 1
            n_cat = sum(discrete)
            row["best_code"] = f"categorical {j + 1}" if discrete[j] else f"continuous {j - n_cat + 1}"
    return out


# ---------------------------------------------------------------------------------------------- ModelCentrality
CODE_LEVELS = 10  # values a continuous code takes in the generated groups (a grid over its prior's range)


@torch.no_grad()
def generated_factors(gen, n: int = 5000, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """n images of one run's generator with its codes as known factors: uint8 images [n, C, H, W] and factor
    indices [n, m + L] (categorical values; continuous codes on a grid of CODE_LEVELS values in [-1, 1])."""

    spec = gen.spec
    rng = torch.Generator().manual_seed(seed)
    latent = spec.sample(n, rng)
    levels = torch.randint(CODE_LEVELS, (n, spec.continuous), generator=rng)
    latent.cont = torch.linspace(-1, 1, CODE_LEVELS)[levels]
    images = to_uint8(generate(gen, latent))
    return images, torch.cat([latent.cat, levels], 1).numpy()


def model_centrality(runs: dict, n: int = 5000, seed: int = 0) -> dict:
    """ModelCentrality (Lin et al., ICML 2020), without labels: each run's generator makes images whose
    factors are its own codes; every other run's Q reads them, scored with the FactorVAE score; a run's
    centrality is its mean score as the reader over the others' images and as the writer under the others'
    Q. The most central run is the medoid of the set. `runs`: {name: (generator, discriminator)}."""
    names = list(runs)
    if len(names) < 2:
        return {"centrality": {str(k): 0.0 for k in names}, "centrality_note": "needs two runs or more"}
    made = {k: generated_factors(runs[k][0], n, seed) for k in names}
    score = {}
    for writer in names:
        images, factors = made[writer]
        for reader in names:
            if reader != writer:
                codes, _ = q_codes(runs[reader][1], images)
                score[writer, reader] = (
                    factorvae_score(codes, factors, seed=seed)["factorvae_score"] if codes.shape[1] else 0.0
                )
    centrality = {k: float(np.mean([score[w, r] for (w, r) in score if k in (w, r)])) for k in names}
    return {
        "centrality": {str(k): v for k, v in centrality.items()},
        "pairwise_factorvae": {f"{w}->{r}": v for (w, r), v in score.items()},
    }
