"""Plain InfoGAN against InfoGAN-CR on the shapes data set: MIG and FactorVAE score against the true factors.

Both arms use InfoGAN-CR's dSprites setup with their small networks (5 continuous codes + 5 noise variables,
spectral-norm D, lambda 0.05): the `shapes-32` preset on 32x32 sprites (the CPU form: lr D 1e-3 / G 5e-4),
`shapes` on 64x64 (lr D 2e-3 / G 1e-3), at the same number of steps, several seeds each, through
`infogan sweep --select centrality`; the CR arm adds `--cr-weight` (Lin et al. use 2) from half-way (they
switch it on late). Each run is scored by
`infogan evaluate` on held-out shapes images with their five factors (shape, scale, orientation, pos_x,
pos_y): MIG and the FactorVAE score of Q's continuous means. The sweep's ModelCentrality pick (no labels)
is reported next to the best run by the labelled metrics.

Data: `shapes:SIZE` is rendered by the package (cached); 10,000 images are held out for evaluation, the
training set is the rest (or a random subset of steps x batch images when that is fewer), both as npz with
labels y..y5 (= the five factors, in that order); runs train whole epochs, at least --steps steps.

    python benchmarks/disentanglement.py                      # shapes:32, 3 seeds x 2 arms, the CPU budget
    python benchmarks/disentanglement.py --size 64 --steps 60000 --jobs 6 -- --device cuda   # a GPU

Targets (the project's, for the CPU budget): median over seeds of InfoGAN-CR's FactorVAE >= 0.75 and MIG
>= 0.20, both above plain InfoGAN's; the ModelCentrality pick's MIG at least its arm's median.

Extra options after `--` go to `infogan train`. JSON to benchmarks/results/disentanglement.json; the
traversal pictures of each arm's first seed to docs/disentanglement/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import common
import numpy as np
from common import ROOT

from infogan.data import datasets
from infogan.data.shapes import FACTOR_NAMES

LABEL_KEYS = ("y", "y2", "y3", "y4", "y5")  # npz label arrays, in FACTOR_NAMES order
# The InfoGAN-CR paper's dSprites table (Lin et al. 2020, 50 runs each, 64x64, ~230k steps): where we stand.
PAPER = {
    "InfoGAN (modified)": {"factorvae_score": 0.82, "mig": 0.22},
    "InfoGAN-CR": {"factorvae_score": 0.88, "mig": 0.37},
    "InfoGAN-CR + ModelCentrality": {"factorvae_score": 0.92, "mig": 0.45},
}


def write_subsets(size: int, n_train: int, n_eval: int, workdir: Path) -> tuple[Path, Path]:
    """The held-out set first (n_eval images), the training set from the rest (at most n_train)."""
    shapes = datasets.load_dataset(f"shapes:{size}", workdir / "cache")
    pick = np.random.default_rng(0).permutation(len(shapes))
    pick = np.concatenate([pick[n_eval:][:n_train], pick[:n_eval]])
    n_train = min(n_train, len(shapes) - n_eval)
    paths = []
    for name, rows in (("train", pick[:n_train]), ("eval", pick[n_train : n_train + n_eval])):
        path = workdir / f"shapes{size}_{name}.npz"
        labels = {key: shapes.factors[f][rows].numpy() for key, f in zip(LABEL_KEYS, FACTOR_NAMES)}
        np.savez(path, x=shapes.images[rows, 0].numpy(), **labels)
        paths.append(path)
    return paths[0], paths[1]


def run_arm(name: str, train: Path, heldout: Path, args, extra: list[str], workdir: Path) -> dict:
    cmd = [
        "sweep",
        "--seeds",
        args.seeds,
        "--select",
        "centrality",
        "--dataset",
        f"npz:{train}",
        "--eval-dataset",
        f"npz:{heldout}",
        "--outdir",
        str(workdir / name),
        "--preset",
        args.preset,
        *(["--arch", args.arch] if args.arch else []),
        "--batch-size",
        str(args.batch_size),
        "--epochs",
        str(args.epochs),
        "--log-every",
        str(max(1, args.steps // 10)),
        "--no-progress",
        *(["--jobs", str(args.jobs)] if args.jobs else []),
        *extra,
    ]
    if name == "infogan-cr":
        cmd += ["--cr-weight", str(args.cr_weight), "--cr-start-step", str(args.cr_start_step)]
    started = time.perf_counter()
    common.infogan(*cmd)
    summary = json.loads((workdir / name / "summary.json").read_text())
    runs = {}
    for seed, report in summary["runs"].items():
        factors = {row["factor"]: row for row in report["mig_per_factor"]}
        runs[seed] = {
            "mig": report["mig"],
            "factorvae_score": report["factorvae_score"],
            "centrality": report.get("centrality"),
            "train_seconds": report["train_seconds"],
            "mig_per_factor": {
                FACTOR_NAMES[LABEL_KEYS.index(k)]: {"best_code": v["best_code"], "gap": v["gap"]}
                for k, v in factors.items()
            },
        }
    picked = str(summary["selection"]["picks"]["centrality"])
    by_labels = max(runs, key=lambda s: runs[s]["mig"])
    return {
        "runs": runs,
        "median": {k: statistics.median(r[k] for r in runs.values()) for k in ("mig", "factorvae_score")},
        "spread": {
            k: [min(r[k] for r in runs.values()), max(r[k] for r in runs.values())] for k in ("mig", "factorvae_score")
        },
        "centrality_pick": {
            "seed": picked,
            "mig": runs[picked]["mig"],
            "factorvae_score": runs[picked]["factorvae_score"],
        },
        "best_by_mig": {"seed": by_labels, "mig": runs[by_labels]["mig"]},
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--size", type=int, default=32, choices=(32, 64))
    parser.add_argument(
        "--steps",
        type=int,
        default=16000,
        help="at least this many steps per run (default: 16000, about 15 minutes of a 2-core CPU a run)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--preset", default=None, help="default: shapes-32 for --size 32, shapes for 64")
    parser.add_argument("--arch", default=None, help="default: the preset's (cr-dsprites)")
    parser.add_argument("--cr-weight", type=float, default=2.0)
    parser.add_argument("--cr-start-step", type=int, default=None, help="default: half of --steps")
    parser.add_argument("--eval-images", type=int, default=10000)
    parser.add_argument("--jobs", type=int, default=None, help="seeds trained at once (sweep --jobs; a GPU: all)")
    parser.add_argument(
        "--arms-at-once",
        action="store_true",
        help="train both arms' sweeps at the same time (a GPU shared by 2 x --jobs trainings)",
    )
    parser.add_argument("--workdir", default=None, help="keeps the runs; finished seeds are not retrained")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "disentanglement.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs" / "disentanglement"))
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]

    args.preset = args.preset or ("shapes-32" if args.size == 32 else "shapes")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-disentanglement-"))
    workdir.mkdir(parents=True, exist_ok=True)
    train, heldout = write_subsets(args.size, args.steps * args.batch_size, args.eval_images, workdir)
    # more steps than one pass over the training set: whole epochs, at least --steps in all
    per_epoch = len(np.load(train)["y"]) // args.batch_size
    args.epochs = -(-args.steps // per_epoch)
    args.cr_start_step = args.steps // 2 if args.cr_start_step is None else args.cr_start_step
    args.steps = args.epochs * per_epoch
    started = time.perf_counter()
    names = ("infogan", "infogan-cr")
    # each arm is its own `infogan sweep` process: at once, the two share the device (small networks leave a
    # GPU mostly idle), one after the other on a CPU
    with ThreadPoolExecutor(len(names) if args.arms_at_once else 1) as pool:
        arms = dict(zip(names, pool.map(lambda name: run_arm(name, train, heldout, args, extra, workdir), names)))

    cr, plain = arms["infogan-cr"], arms["infogan"]
    targets = {
        "cr_median_factorvae_at_least_0.75": cr["median"]["factorvae_score"] >= 0.75,
        "cr_median_mig_at_least_0.20": cr["median"]["mig"] >= 0.20,
        "cr_above_plain_on_both": all(cr["median"][k] > plain["median"][k] for k in ("mig", "factorvae_score")),
        "centrality_pick_mig_at_least_median": {
            name: arm["centrality_pick"]["mig"] >= arm["median"]["mig"] for name, arm in arms.items()
        },
    }
    result = common.header(
        "disentanglement",
        data=f"shapes:{args.size}",
        steps=args.steps,
        batch_size=args.batch_size,
        preset=args.preset,
        arch=args.arch,
        cr_weight=args.cr_weight,
        cr_start_step=args.cr_start_step,
        eval_images=args.eval_images,
        extra_train_args=extra,
        wall_seconds=round(time.perf_counter() - started, 1),
        arms=arms,
        targets_met=targets,
        paper_dsprites_64x64=PAPER,
    )
    common.save(result, args.out)

    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    first = args.seeds.split(",")[0]
    for name in arms:
        run = workdir / name / f"seed_{first}"
        for code in range(1, 6):
            picture = run / "traversals" / f"continuous_{code}.png"
            if picture.exists():
                shutil.copyfile(picture, docs / f"{name}_continuous_{code}.png")
        samples = sorted((run / "samples").glob("epoch_*.png"))
        if samples:
            shutil.copyfile(samples[-1], docs / f"{name}_samples.png")

    for name, arm in arms.items():
        print(
            f"{name:11s} MIG median {arm['median']['mig']:.3f} (range {arm['spread']['mig'][0]:.3f}-"
            f"{arm['spread']['mig'][1]:.3f})  FactorVAE median {arm['median']['factorvae_score']:.3f} (range "
            f"{arm['spread']['factorvae_score'][0]:.3f}-{arm['spread']['factorvae_score'][1]:.3f})  centrality "
            f"pick seed {arm['centrality_pick']['seed']}: MIG {arm['centrality_pick']['mig']:.3f}"
        )
    print(f"targets: {json.dumps(targets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
