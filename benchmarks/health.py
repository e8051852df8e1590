"""Does the health monitor name the failures users meet, early, and stay quiet on healthy runs?

A catalogue of deliberately failing configurations, each trained with `infogan train`, and the failure it
should be flagged with within the first 20% of its steps; then a few healthy recipes trained the same way,
and every healthy run given with --healthy (run directories, or folders of them, trained with this
version's monitor), whose health records are counted as false alarms. JSON to benchmarks/results/health.json.

    python benchmarks/health.py --healthy /work/runs/tta /work/runs/dis
    python benchmarks/health.py --given-only --healthy /work/runs/tta --out results/health_tta.json   # count only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import common
import health_archs  # the made-to-fail architectures, registered when its script runs

from infogan.serve.pictures import read_metrics

# the paper's objective (mnist-sample's own preset adds IIC): the catalogue's failures are made on it
MNIST = ["--dataset", "mnist-sample", "--preset", "mnist", "--epochs", "10", "--batch-size", "64", "--log-every", "10"]
CATALOGUE = {  # name -> (train options, the failure it should raise)
    "lr D x50, beta1 0.9": (MNIST + ["--lr-d", "1e-2", "--beta1", "0.9"], "d_wins"),
    # D does win against a frozen G, but late (step 370 of 780): the cause, a G that does not move, is seen first
    "G frozen (lr G 1e-7)": (MNIST + ["--lr-g", "1e-7"], "g_stalled"),
    "information weights 0": (MNIST + ["--categorical-weight", "0", "--continuous-weight", "0"], "code_ignored"),
    "lr G x100": (MNIST + ["--lr-g", "1e-1"], "collapse"),
    # the disentanglement benchmark's recipe before shapes-32: 600 steps of 19,200 shapes:32 images
    "the old shapes recipe (paper-mnist nets, BN in D, lr D 2e-3, batch 32)": (
        [
            "--dataset",
            "npz:{shapes600}",
            "--preset",
            "shapes",
            "--arch",
            "paper-mnist",
            "--batch-size",
            "32",
            "--epochs",
            "1",
            "--log-every",
            "20",
        ],
        "collapse",
    ),
    "lr D 10": (MNIST + ["--lr-d", "10"], "diverged"),
    # two architectures made to fail, added to the table of architectures by health_archs.py
    "noise-only G (its codes zeroed at its input)": (MNIST + ["--arch", "noise-only-g"], "code_ignored"),
    "D far larger than G (G at 1/32 of the paper's widths: 705x fewer parameters)": (
        MNIST + ["--arch", "small-g"],
        "d_wins",
    ),
}
HEALTHY = {  # name -> train options of a run that learns: every health record it writes is a false alarm
    "the paper's objective on the demo's data, 10 epochs": MNIST,
    "the seed's recipe (seed-mnist, batch 256), 10 epochs": MNIST[:6]
    + ["--batch-size", "256", "--arch", "seed-mnist", "--log-every", "5"],
    "shapes-32 on 19,200 shapes, 4 epochs": [
        "--dataset",
        "npz:{shapes600}",
        "--preset",
        "shapes-32",
        "--epochs",
        "4",
        "--log-every",
        "20",
    ],
}


def shapes_subset(workdir: Path) -> Path:
    """19,200 shapes:32 images (a seeded choice): 600 steps at batch 32, the old benchmark's budget."""
    import numpy as np

    from infogan.data.datasets import load_dataset

    path = workdir / "shapes600.npz"
    if not path.exists():
        shapes = load_dataset("shapes:32", workdir / "cache")
        pick = np.random.default_rng(0).permutation(len(shapes))[:19_200]
        np.savez(path, x=shapes.images[pick, 0].numpy())
    return path


def findings(run: Path) -> list[dict]:
    return [r for r in read_metrics(run / "metrics.jsonl", kind=None) if r.get("kind") == "health"]


def total_steps(run: Path) -> int:
    """The run's planned steps: its first epoch record's step (steps per epoch) times its epochs."""
    import json

    epochs = read_metrics(run / "metrics.jsonl")
    return epochs[0]["step"] * json.loads((run / "config.json").read_text())["epochs"] if epochs else 0


def train(options: list[str], run: Path, shapes600: Path, check: bool) -> None:
    """`infogan train` of one catalogue row (seed 0, its own log beside the run)."""
    custom = any(arch in options for arch in health_archs.ARCHS)
    common.infogan(
        "train",
        *(o.format(shapes600=shapes600) for o in options),
        "--outdir",
        run,
        "--overwrite",
        "--no-progress",
        "--seed",
        "0",
        log=run.with_name(run.name + ".log"),
        check=check,
        script=Path(__file__).with_name("health_archs.py") if custom else None,
    )


def healthy_runs(paths: list[str]) -> list[Path]:
    runs = []
    for path in map(Path, paths):
        runs += [p.parent for p in sorted(path.rglob("metrics.jsonl")) if (p.parent / "config.json").exists()]
    return runs


def count_given(paths: list[str], out: str) -> int:
    """Every health record of runs trained elsewhere (each with this version's monitor), by run."""
    missing = [p for p in paths if not Path(p).exists()]
    if not paths or missing:
        why = "none given" if not paths else f"no such path: {missing[0]}"
        print(f"--given-only counts the runs given with --healthy: {why}", file=sys.stderr)
        return 2
    runs = healthy_runs(paths)
    found = {str(run): [(f["failure"], f.get("subject", ""), f["step"]) for f in findings(run)] for run in runs}
    steps = {str(run): total_steps(run) for run in runs}
    alarms = {run: f for run, f in found.items() if f}
    common.save(common.header("health-given-runs", runs=found, planned_steps=steps, runs_with_alarms=alarms), out)
    for run, f in found.items():
        print(f"{run} ({steps[run]} steps): {f or 'no alarm'}", flush=True)
    print(f"{len(alarms)} of {len(found)} runs raised an alarm", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--healthy", nargs="*", default=[], help="healthy runs (or folders of runs) to count alarms in")
    ap.add_argument(
        "--given-only",
        action="store_true",
        help="train nothing: count the alarms of the --healthy runs only (e.g. another benchmark's runs)",
    )
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=str(common.RESULTS / "health.json"))
    args = ap.parse_args()
    if args.given_only:
        return count_given(args.healthy, args.out)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-health-"))
    shapes600 = shapes_subset(workdir)
    rows = {}
    for i, (name, (options, expected)) in enumerate(CATALOGUE.items()):
        run = workdir / f"failing_{i}"
        if not (run / "metrics.jsonl").exists() or not findings(run):
            train(options, run, shapes600, check=False)
        found = findings(run)
        steps = total_steps(run)
        first = next((f["step"] for f in found if f["failure"] == expected), None)
        rows[name] = {
            "options": options,
            "expected": expected,
            "steps": steps,
            "first_flagged_step": first,
            "flagged_in_first_20_percent": first is not None and first <= 0.2 * steps,
            "all_findings": [(f["failure"], f.get("subject", ""), f["step"]) for f in found],
        }
        print(
            f"{name}: expected {expected}, first at step {first} of {steps}; all {rows[name]['all_findings']}",
            flush=True,
        )
    for i, (name, options) in enumerate(HEALTHY.items()):
        run = workdir / f"healthy_{i}"
        if not (run / "generator.safetensors").exists():
            train(options, run, shapes600, check=True)
        print(
            f"{name} (healthy): {[(f['failure'], f.get('subject', ''), f['step']) for f in findings(run)]}", flush=True
        )
    trained_here = [str(workdir / f"healthy_{i}") for i in range(len(HEALTHY))]
    healthy = {
        str(run): [(f["failure"], f.get("subject", ""), f["step"]) for f in findings(run)]
        for run in healthy_runs(trained_here + args.healthy)
    }
    missed = [n for n, r in rows.items() if not r["flagged_in_first_20_percent"]]
    alarms = {run: found for run, found in healthy.items() if found}
    common.save(
        common.header("health", catalogue=rows, misses=missed, healthy_runs=len(healthy), false_alarms=alarms), args.out
    )
    print(
        f"catalogue: {len(rows) - len(missed)} of {len(rows)} flagged in their first 20% of steps; "
        f"healthy runs: {len(alarms)} of {len(healthy)} raised an alarm",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
