"""What splits a merged pair? For each run, the categories that mix two digits (no digit holds `--pure` of
the held-out digits Q puts there) and what the digits in each such category look like: mean slant (degrees,
from the ink's second moments), ink (a stroke-width proxy) and width in pixels. Two categories that share the
same two digits and differ mostly in one of these split them by that nuisance instead of by identity. Reads
finished runs; trains nothing.

    python benchmarks/merge_axis.py W/variant/seed_0 W/variant/seed_3 --out benchmarks/results/merge_axis.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common  # noqa: F401  (first: this checkout's infogan)
import numpy as np

from infogan.data.datasets import load_dataset
from infogan.data.images import to_unit_range
from infogan.metrics.codes import categorical_accuracy, contingency, q_on_real, slant_and_ink
from infogan.serve.encode import load_encoder
from infogan.serve.inference import load_run_config

INK_THRESHOLD = 0.3  # a pixel brighter than this (in [0, 1]) is ink, for the width


def mixed_categories(run_dir: Path, dataset: str, pure: float) -> dict:
    """The run's held-out accuracy and, for each category with no digit above `pure` of its digits, the digits'
    counts and their mean slant, ink and width."""
    cfg = load_run_config(run_dir)
    data = load_dataset(dataset, cfg.data_dir, "test")
    labels = np.asarray(data.factors["y"])
    pred = q_on_real(load_encoder(run_dir), data.images)[0].argmax(1).numpy()
    images = to_unit_range(data.images)
    slant, ink = (t.numpy() for t in slant_and_ink(images))
    width = ((images[:, 0] + 1) / 2 > INK_THRESHOLD).any(1).sum(1).numpy()  # columns holding ink
    table, categories, digits = contingency(pred, labels)
    mixed = []
    for row, category in zip(table, categories):
        if row.max() >= pure * row.sum():
            continue
        mask = pred == category
        mixed.append(
            {
                "category": int(category),
                "digits": {int(d): int(n) for d, n in zip(digits, row) if n >= 0.1 * row.sum()},
                "slant_degrees": round(float(slant[mask].mean()), 1),
                "ink": round(float(ink[mask].mean()), 4),
                "width_pixels": round(float(width[mask].mean()), 1),
            }
        )
    return {"heldout_accuracy": categorical_accuracy(pred, labels)["categorical_accuracy"], "mixed": mixed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument("--dataset", default="mnist-sample", help="labelled held-out digits (its test split)")
    parser.add_argument("--pure", type=float, default=0.75, help="a category is mixed below this share")
    parser.add_argument("--out", type=Path, default=common.RESULTS / "merge_axis.json")
    args = parser.parse_args(argv)
    result = common.header("merge_axis", dataset=args.dataset, pure=args.pure, runs={})
    for run_dir in args.runs:
        found = mixed_categories(run_dir, args.dataset, args.pure)
        result["runs"][f"{run_dir.parent.name}/{run_dir.name}"] = found
        print(f"{run_dir}: held-out accuracy {found['heldout_accuracy']:.3f}")
        for c in found["mixed"]:
            print(
                f"  category {c['category']}: digits {c['digits']}  slant {c['slant_degrees']:+.1f} deg  "
                f"ink {c['ink']:.3f}  width {c['width_pixels']:.1f} px"
            )
    common.save(result, args.out)


if __name__ == "__main__":
    main()
