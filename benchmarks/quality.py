"""Does the categorical code become the digit? Accuracy, NMI and the MI bound over several seeds.

Trains on the first 9,000 digits of ../shared/data/mnist-train-10k.npz (real MNIST), evaluates each run on
the last 1,000 (held out), one run per seed, and compares with the targets of the project's quality bar:
median accuracy >= 0.95, worst seed >= 0.90, median NMI >= 0.90, and the MI bound within 0.05 of ln 10
by the end of epoch 2.

    python benchmarks/quality.py                      # the project's default MNIST settings, 5 seeds
    python benchmarks/quality.py --epochs 20 --batch-size 64 --precision bf16 --seeds 0,1,2

Any extra `infogan train` options are passed through. Prints a table; JSON to benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist-train-10k.npz"
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"median_accuracy": 0.95, "worst_accuracy": 0.90, "median_nmi": 0.90, "mi_gap_epoch2": 0.05}


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    from infogan.cli import main as infogan_main
    from infogan.evaluation import evaluate_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--data", default=str(DATA), help=f"npz with x, y (default: {DATA})")
    parser.add_argument("--out", default=str(RESULTS / "quality.json"))
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temp dir)")
    args, train_args = parser.parse_known_args(argv)

    data = np.load(args.data)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez(workdir / "train9k.npz", x=data["x"][:9000], y=data["y"][:9000])
    np.savez(workdir / "heldout1k.npz", x=data["x"][9000:], y=data["y"][9000:])

    runs = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        run_dir = workdir / f"seed_{seed}"
        started = time.perf_counter()
        if not (run_dir / "generator.safetensors").exists():
            status = infogan_main(["train", "--dataset", f"npz:{workdir / 'train9k.npz'}", "--outdir", str(run_dir),
                                   "--seed", str(seed), "--no-progress", "--overwrite", *train_args])
            if status != 0:
                return status
        wall = time.perf_counter() - started
        report = evaluate_run(run_dir, f"npz:{workdir / 'heldout1k.npz'}")
        epochs = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
        epochs = [r for r in epochs if r["kind"] == "epoch"]
        runs[seed] = {
            "heldout_accuracy": report["categorical_accuracy"], "heldout_nmi": report["nmi"], "heldout_ari": report["ari"],
            "mi_bound_generated": report["mutual_information_bound"], "q_real_mi": report["q_real_mi"],
            "mi_bound_by_epoch": [round(r["mi_bound"], 4) for r in epochs],
            "train_accuracy_by_epoch": [round(r.get("categorical_accuracy", float("nan")), 4) for r in epochs],
            "continuous_effects": report["continuous_effects"], "wall_seconds": round(wall, 1),
            "steps": epochs[-1]["step"], "images_per_sec": statistics.median(r["images_per_sec"] for r in epochs),
        }
        print(f"seed {seed}: accuracy {report['categorical_accuracy']:.3f}  NMI {report['nmi']:.3f}  "
              f"MI by epoch 2 {runs[seed]['mi_bound_by_epoch'][:2]}  {wall:.0f}s", flush=True)

    cfg = json.loads((workdir / f"seed_{next(iter(runs))}" / "config.json").read_text())
    acc = [r["heldout_accuracy"] for r in runs.values()]
    nmi = [r["heldout_nmi"] for r in runs.values()]
    ln_k = math.log(cfg["categories"])
    gap2 = [ln_k - r["mi_bound_by_epoch"][min(1, len(r["mi_bound_by_epoch"]) - 1)] for r in runs.values()]
    summary = {
        "median_accuracy": statistics.median(acc), "mean_accuracy": statistics.fmean(acc),
        "std_accuracy": statistics.pstdev(acc), "worst_accuracy": min(acc), "best_accuracy": max(acc),
        "median_nmi": statistics.median(nmi), "mi_gap_epoch2": max(gap2),
    }
    met = {
        "median_accuracy": summary["median_accuracy"] >= TARGETS["median_accuracy"],
        "worst_accuracy": summary["worst_accuracy"] >= TARGETS["worst_accuracy"],
        "median_nmi": summary["median_nmi"] >= TARGETS["median_nmi"],
        "mi_gap_epoch2": summary["mi_gap_epoch2"] <= TARGETS["mi_gap_epoch2"],
    }
    result = {
        "benchmark": "quality", "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "train_args": train_args, "config": {k: cfg[k] for k in (
            "arch", "batch_size", "epochs", "noise_dim", "noise_prior", "continuous_weight", "categorical_weight",
            "lr_d", "lr_g", "precision")},
        "summary": summary, "targets": TARGETS, "targets_met": met, "runs": {str(s): r for s, r in runs.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"summary": summary, "targets_met": met}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
