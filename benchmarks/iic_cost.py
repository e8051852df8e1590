"""What the IIC recipe costs over the paper's objective at full length: the demo's training (`make demo`'s
command: mnist-sample, 36 epochs, batch 64) with the MNIST default (`mnist-iic`) and with `--preset mnist`,
run in turn, one pair after another, nothing else on the machine.

    python benchmarks/iic_cost.py --out benchmarks/results/iic_cost_full.json [--pairs 1] [--epochs 36]

Per run: the whole process's wall time, and from the run's own records the seconds spent in training steps
(each epoch's `steps_seconds`) and their per-epoch median. The ratios are taken pair by pair, recipe over
paper, so a drift of the machine's speed between pairs does not enter them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common

from infogan.serve.pictures import read_metrics

VARIANTS = {"mnist-iic": [], "mnist": ["--preset", "mnist"]}  # name -> train options over the demo's


def train(workdir: Path, name: str, epochs: int, extra: list[str]) -> dict:
    outdir = workdir / name
    args = ["train", "--dataset", "mnist-sample", "--eval-dataset", "mnist-sample", "--epochs", str(epochs)]
    args += ["--batch-size", "64", "--no-progress", "--outdir", str(outdir), "--overwrite", *extra]
    start = time.perf_counter()
    common.infogan(*args, log=workdir / f"{name}.log")
    wall = time.perf_counter() - start
    steps = [r["steps_seconds"] for r in read_metrics(outdir / "metrics.jsonl", kind="work")]
    last = read_metrics(outdir / "metrics.jsonl")[-1]  # scored on the sample's 1,000 held-out digits
    config = json.loads((outdir / "config.json").read_text())
    return {
        "wall_seconds": round(wall, 1),
        "steps_seconds": round(sum(steps), 1),
        "median_epoch_steps_seconds": round(statistics.median(steps), 2),
        "precision": config["precision"],
        "final_accuracy": last.get("categorical_accuracy"),
        "final_nmi": last.get("nmi"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(common.RESULTS / "iic_cost_full.json"))
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=36)
    args = ap.parse_args()
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.pairs):
            pair = {name: train(Path(tmp), name, args.epochs, extra) for name, extra in VARIANTS.items()}
            pair["ratio"] = {
                key: round(pair["mnist-iic"][key] / pair["mnist"][key], 3)
                for key in ("wall_seconds", "steps_seconds", "median_epoch_steps_seconds")
            }
            print(pair, flush=True)
            pairs.append(pair)
    common.save(
        common.header(
            "iic_cost",
            command="infogan train --dataset mnist-sample --eval-dataset mnist-sample --epochs "
            f"{args.epochs} --batch-size 64 [--preset mnist]",
            method="the two runs in turn, recipe first, nothing else running; ratios pair by pair",
            pairs=pairs,
        ),
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
