"""The recipe search behind the shapes-32 preset: short runs of candidate settings on shapes:32, each scored
on held-out shapes (MIG and FactorVAE of Q's reading, `infogan evaluate`).

Each variant trains with `infogan train` on the disentanglement benchmark's training set (every shapes:32
image but 10,000 held out; benchmarks/disentanglement.py writes both) for 3 epochs (8,169 steps at batch
64) unless it says otherwise, one run per seed, two runs at a time with one thread each. A finished run
(its eval JSON present) is not trained or scored again. JSON to benchmarks/results/shapes_recipes.json.

    python benchmarks/shapes_recipes.py --data-dir WORK     # WORK holds shapes32_train.npz, shapes32_eval.npz
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import common

BASE = ["--preset", "shapes", "--arch", "cr-dsprites", "--batch-size", "64", "--log-every", "500", "--threads", "1"]
VARIANTS = {  # name -> (options over BASE, seeds)
    "shapes (lr D 2e-3 / G 1e-3, lambda 0.05)": (["--epochs", "3"], (0, 1, 2)),
    "+ CR weight 2 from step 3,000": (["--epochs", "3", "--cr-weight", "2", "--cr-start-step", "3000"], (0, 1, 2)),
    "lambda 1": (["--epochs", "3", "--continuous-weight", "1"], (0,)),
    "lambda 1, noise 2": (["--epochs", "3", "--continuous-weight", "1", "--noise-dim", "2"], (0,)),
    "noise 2": (["--epochs", "3", "--noise-dim", "2"], (0, 1)),
    "Q learns its std": (["--epochs", "3", "--learn-std"], (0, 1)),
    "lr D 1e-3 / G 5e-4": (["--epochs", "3", "--lr-d", "1e-3", "--lr-g", "5e-4"], (0, 1)),
    "+ CR weight 2 from step 5,000": (["--epochs", "3", "--cr-weight", "2", "--cr-start-step", "5000"], (0,)),
    "Cat(3) for the shape + 4 continuous": (["--epochs", "3", "--categorical", "3", "--continuous", "4"], (0, 1)),
    "Cat(3) + 4 continuous, lambda_cat 0.2": (
        ["--epochs", "3", "--categorical", "3", "--continuous", "4", "--categorical-weight", "0.2"],
        (0, 1),
    ),
    "5 epochs": (["--epochs", "5"], (0,)),
    "5 epochs, CR weight 2 from step 0": (["--epochs", "5", "--cr-weight", "2", "--cr-start-step", "0"], (0,)),
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")[:60]


def one(name: str, options: list[str], seed: int, data: Path, workdir: Path) -> dict:
    run = workdir / f"{slug(name)}_s{seed}"
    report_path = run / "eval" / "npz-shapes32_eval.json"
    if not report_path.exists():
        common.infogan(
            "train",
            "--dataset",
            f"npz:{data / 'shapes32_train.npz'}",
            "--outdir",
            run,
            "--overwrite",
            "--seed",
            seed,
            "--no-progress",
            *BASE,
            *options,
            log=workdir / f"{run.name}.log",
        )
        common.infogan("evaluate", run, "--dataset", f"npz:{data / 'shapes32_eval.npz'}", capture=True)
    report = json.loads(report_path.read_text())
    return {
        "mig": report["mig"],
        "factorvae_score": report["factorvae_score"],
        "per_factor": {
            row["factor"]: [row["best_code"], round(row["gap"], 3), round(row["normalised_mi"], 3)]
            for row in report["mig_per_factor"]
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="where shapes32_train.npz and shapes32_eval.npz are")
    ap.add_argument("--workdir", default=None, help="the runs (default: DATA_DIR/recipes)")
    ap.add_argument("--out", default=str(common.RESULTS / "shapes_recipes.json"))
    args = ap.parse_args()
    data = Path(args.data_dir)
    workdir = Path(args.workdir or data / "recipes")
    jobs = [(name, options, seed) for name, (options, seeds) in VARIANTS.items() for seed in seeds]
    with ThreadPoolExecutor(2) as pool:  # two 1-thread runs at a time: the CPU's two cores
        rows = list(pool.map(lambda j: (j[0], j[2], one(j[0], j[1], j[2], data, workdir)), jobs))
    variants = {}
    for name, seed, row in rows:
        variants.setdefault(name, {"options": VARIANTS[name][0], "runs": {}})["runs"][str(seed)] = row
    for v in variants.values():
        v["median"] = {k: statistics.median(r[k] for r in v["runs"].values()) for k in ("mig", "factorvae_score")}
        print(f"{json.dumps(v['median'])}  {v['options']}")
    common.save(common.header("shapes_recipes", base=BASE, variants=variants), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
