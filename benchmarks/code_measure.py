"""Does `continuous_effects` measure what it names? And how many seeds on record are whole?

1. Traversals built by hand from real MNIST digits (the first N of ../shared/data/mnist-train-10k.npz), each
   changing one thing across 9 values, read by the same within-traversal Spearman rho as a code's effect: a
   shear (up to +-0.5) should read slant ~1 and ink ~0, a stroke change (to a 3x3 dilation or erosion) ink ~1
   and slant ~0, nothing 0 and 0; a scale (1 +- 0.15) shows what the ink mass reads besides stroke width.
2. Every seed of every quality results file (benchmarks/results/quality*.json) re-scored with quality.py's
   `pure_factor` and `is_whole`.

    python benchmarks/code_measure.py            # JSON to benchmarks/results/code_measure.json
"""

from __future__ import annotations

import argparse
import json
import sys

import common
import numpy as np
import quality
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from infogan.data.augment import sheared, warp
from infogan.metrics.codes import slant_and_ink

VALUES = torch.linspace(-1, 1, 9)


def shear(x, v):
    identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(len(x), 2, 3)
    return warp(x, sheared(identity, torch.full((len(x),), 0.5 * v)))


def stroke(x, v):
    dilated, eroded = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(-x, 3, 1, 1)
    return x + max(v, 0) * (dilated - x) + max(-v, 0) * (eroded - x)


def scale(x, v):
    s = 1 + 0.15 * v
    return warp(x, torch.tensor([[1 / s, 0, 0], [0, 1 / s, 0]]).expand(len(x), 2, 3))


CHANGES = {"shear": shear, "stroke": stroke, "nothing": lambda x, v: x, "scale": scale}


def read(images: torch.Tensor, change) -> dict:
    """The change's mean within-traversal rho with slant and ink, and its slant in degrees per unit."""
    n = len(images)
    traversals = torch.stack([change(images, float(v)) for v in VALUES], 1).flatten(0, 1)  # [n * 9, 1, H, W]
    slant, ink = (m.view(n, len(VALUES)).numpy() for m in slant_and_ink(traversals))
    out = {}
    for name, measure in (("slant", slant), ("ink", ink)):
        rhos = [spearmanr(VALUES.numpy(), row).statistic for row in measure if np.ptp(row) > 0]
        out[f"{name}_spearman"] = round(float(np.mean(rhos)) if rhos else 0.0, 3)
    out["slant_degrees_per_unit"] = round(float(np.polyfit(np.tile(VALUES.numpy(), n), slant.ravel(), 1)[0]), 2)
    return out


def record() -> dict:
    """Seeds on record: how many, how many with a pure code of either kind, with both kinds, and whole."""
    files = seeds = some_pure = both_pure = whole = 0
    for path in sorted(common.RESULTS.glob("quality*.json")):
        runs = json.loads(path.read_text()).get("runs", {})
        if not runs or "continuous_effects" not in next(iter(runs.values())):
            continue
        files += 1
        for run in runs.values():
            pure = {quality.pure_factor(e) for e in run["continuous_effects"]} - {None}
            seeds, some_pure, both_pure = seeds + 1, some_pure + bool(pure), both_pure + (pure == set(quality.FACTORS))
            whole += quality.is_whole(run["heldout_accuracy"], run["continuous_effects"])
    return {"files": files, "seeds": seeds, "with_a_pure_code": some_pure, "with_both_pure": both_pure, "whole": whole}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=64, help="real digits traversed (default: 64)")
    parser.add_argument("--out", default=str(common.RESULTS / "code_measure.json"))
    args = parser.parse_args(argv)
    x = np.load(common.SHARED_DATA / "mnist-train-10k.npz")["x"][: args.digits]
    images = torch.from_numpy(x).float().div(127.5).sub(1).unsqueeze(1)  # [N, 1, 28, 28] in [-1, 1]
    changes = {name: read(images, change) for name, change in CHANGES.items()}
    for name, row in changes.items():
        print(f"{name:8s} slant rho {row['slant_spearman']:+.2f}  ink rho {row['ink_spearman']:+.2f}  "
              f"{row['slant_degrees_per_unit']:+.2f} degrees per unit")  # fmt: skip
    on_record = record()
    print("on record:", on_record)
    common.save(common.header("code_measure", digits=args.digits, changes=changes, on_record=on_record), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
