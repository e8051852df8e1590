"""Every seed of one or more quality runs in one picture: held-out accuracy per seed and variant (left), and
each seed's accuracy epoch by epoch (right: with --dataset, quality.py scores every epoch on the held-out digits). Reads quality.py's JSON;
trains nothing.

    python benchmarks/seed_spread.py benchmarks/results/quality_demo_default.json \
        benchmarks/results/quality_demo_iic3.json --picture docs/img/seed_spread.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def variant_name(path: Path) -> str:
    return path.stem.removeprefix("quality_")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="quality.py JSON files, one per variant")
    parser.add_argument("--picture", type=Path, required=True, help="PNG to write")
    parser.add_argument("--target", type=float, default=0.90, help="the worst-seed target line (default: 0.90)")
    args = parser.parse_args(argv)

    fig, (spread, curves) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.6]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    print(f"{'variant':<28} {'seeds':<40} median  worst")
    for i, path in enumerate(args.results):
        result = json.loads(path.read_text())
        name, colour = variant_name(path), colours[i % len(colours)]
        runs = {int(seed): run for seed, run in result["runs"].items()}
        accuracies = [runs[s]["heldout_accuracy"] for s in sorted(runs)]
        spread.scatter([i] * len(accuracies), accuracies, color=colour, s=36, zorder=3)
        for seed in sorted(runs):
            spread.annotate(str(seed), (i, runs[seed]["heldout_accuracy"]), xytext=(6, -3), textcoords="offset points")
            by_epoch = runs[seed].get("train_accuracy_by_epoch") or []
            curves.plot(
                range(1, len(by_epoch) + 1),
                by_epoch,
                color=colour,
                alpha=0.8,
                label=name if seed == min(runs) else None,
            )
        summary = result["summary"]
        seeds = " ".join(f"{a:.3f}" for a in accuracies)
        print(f"{name:<28} {seeds:<40} {summary['median_accuracy']:.3f}  {summary['worst_accuracy']:.3f}")
    for axis in (spread, curves):
        axis.axhline(args.target, color="grey", linestyle="--", linewidth=1)
        axis.grid(alpha=0.3)
    spread.set_xticks(range(len(args.results)), [variant_name(p) for p in args.results], rotation=30, ha="right")
    spread.set_xlim(-0.5, len(args.results) - 0.5)
    spread.set_ylabel("held-out accuracy (seed labelled)")
    spread.set_title("every seed, end of training")
    curves.set_xlabel("epoch")
    curves.set_ylabel("accuracy on the scored digits")
    curves.set_title("each seed, epoch by epoch")
    curves.legend(loc="lower right")
    fig.tight_layout()
    args.picture.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.picture, dpi=110)
    print(f"wrote {args.picture}")


if __name__ == "__main__":
    main()
