"""Choosing a seed without labels, early: would `sweep --screen-epochs E --keep 1` have kept the seed that ends
best by labels? Read from finished sweeps, nothing trained.

For each sweep directory (seed_<S>/metrics.jsonl with per-epoch label metrics, as a sweep with
--eval-dataset writes them) and each screening epoch E: the seed with the highest q_real_mi at epoch E
(label-free), its final held-out accuracy, and the best and median final accuracy of all seeds.

    python benchmarks/screen.py /work/runs/demo_default /work/runs/demo_iic3 --epochs 5,10,15,20

JSON to benchmarks/results/screen.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import common


def epochs_of(run: Path) -> list[dict]:
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "epoch"]


def judge(sweep: Path, screen_epochs: list[int]) -> dict:
    runs = {int(p.name.removeprefix("seed_")): epochs_of(p) for p in sorted(sweep.glob("seed_*")) if p.is_dir()}
    final = {seed: records[-1]["categorical_accuracy"] for seed, records in runs.items()}
    best = max(final, key=final.get)
    rows = []
    for epoch in screen_epochs:
        scores = {seed: records[epoch - 1]["q_real_mi"] for seed, records in runs.items() if len(records) >= epoch}
        kept = max(scores, key=lambda seed: (scores[seed], -seed))
        rows.append(
            {
                "screen_epoch": epoch,
                "q_real_mi": {str(s): round(v, 4) for s, v in scores.items()},
                "kept_seed": kept,
                "kept_final_accuracy": final[kept],
                "kept_is_best": final[kept] == final[best],
            }
        )
    return {
        "sweep": str(sweep),
        "epochs": len(next(iter(runs.values()))),
        "final_accuracy": {str(s): a for s, a in final.items()},
        "best_seed": best,
        "median_final_accuracy": statistics.median(final.values()),
        "screens": rows,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweeps", nargs="+", help="sweep directories")
    ap.add_argument("--epochs", default="5,10,15,20", help="screening epochs to judge")
    ap.add_argument("--out", default=str(common.RESULTS / "screen.json"))
    args = ap.parse_args(argv)
    epochs = [int(e) for e in args.epochs.split(",")]
    results = [judge(Path(s), epochs) for s in args.sweeps]
    for r in results:
        print(f"{r['sweep']}: final {r['final_accuracy']} (best seed {r['best_seed']})")
        for row in r["screens"]:
            print(
                f"  screen at epoch {row['screen_epoch']:>2}: keeps seed {row['kept_seed']} "
                f"-> {row['kept_final_accuracy']:.3f} ({'the best' if row['kept_is_best'] else 'not the best'})"
            )
    common.save(common.header("screen", sweeps=results), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
