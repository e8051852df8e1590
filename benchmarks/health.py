"""Does the health monitor name the failures users meet, early, and stay quiet on healthy runs?

A catalogue of deliberately failing configurations, each trained with `infogan train`, and the failure it
should be flagged with within the first 20% of its steps; then every healthy run given with --healthy
(run directories, or folders of them: the demo, the time-to-accuracy runs, the shapes benchmark's runs),
whose health records are counted as false alarms. JSON to benchmarks/results/health.json.

    python benchmarks/health.py --healthy /work/runs/tta /work/runs/dis
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import common
from infogan.artifacts import read_metrics

MNIST = ["--dataset", "mnist-sample", "--epochs", "10", "--batch-size", "64", "--log-every", "10"]
CATALOGUE = {  # name -> (train options, the failure it should raise)
    "lr D x50, beta1 0.9": (MNIST + ["--lr-d", "1e-2", "--beta1", "0.9"], "d_wins"),
    "G frozen (lr G 1e-7)": (MNIST + ["--lr-g", "1e-7"], "d_wins"),
    "information weights 0": (MNIST + ["--categorical-weight", "0", "--continuous-weight", "0"], "code_ignored"),
    "Q's head frozen (lr Q 1e-9)": (MNIST + ["--lr-q", "1e-9"], "code_ignored"),
    "lr G x100": (MNIST + ["--lr-g", "1e-1"], "collapse"),
    "the old shapes recipe (paper-mnist nets, lr D 2e-3, batch 32)":
        (["--dataset", "shapes:32", "--preset", "shapes", "--arch", "paper-mnist", "--batch-size", "32",
          "--epochs", "1", "--log-every", "20"], "collapse"),
    "lr D 10": (MNIST + ["--lr-d", "10"], "diverged"),
}


def findings(run: Path) -> list[dict]:
    return [r for r in read_metrics(run / "metrics.jsonl", kind=None) if r.get("kind") == "health"]


def total_steps(run: Path) -> int:
    import json

    cfg = json.loads((run / "config.json").read_text())
    per_epoch = {"mnist-sample": 5000}.get(cfg["dataset"], None)
    if per_epoch is None:  # shapes:32 and others: from the run's own records
        records = read_metrics(run / "metrics.jsonl")
        return records[-1]["step"] if records else 0
    return per_epoch // cfg["batch_size"] * cfg["epochs"]


def healthy_runs(paths: list[str]) -> list[Path]:
    runs = []
    for path in map(Path, paths):
        runs += [p.parent for p in sorted(path.rglob("metrics.jsonl")) if (p.parent / "config.json").exists()]
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--healthy", nargs="*", default=[], help="healthy runs (or folders of runs) to count alarms in")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=str(common.RESULTS / "health.json"))
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-health-"))
    rows = {}
    for i, (name, (options, expected)) in enumerate(CATALOGUE.items()):
        run = workdir / f"failing_{i}"
        if not (run / "metrics.jsonl").exists() or not findings(run):
            common.infogan("train", *options, "--outdir", run, "--overwrite", "--no-progress", "--seed", "0",
                           log=workdir / f"failing_{i}.log", check=False)
        found = findings(run)
        steps = total_steps(run)
        first = next((f["step"] for f in found if f["failure"] == expected), None)
        rows[name] = {"options": options, "expected": expected, "steps": steps, "first_flagged_step": first,
                      "flagged_in_first_20_percent": first is not None and first <= 0.2 * steps,
                      "all_findings": [(f["failure"], f.get("subject", ""), f["step"]) for f in found]}
        print(f"{name}: expected {expected}, first at step {first} of {steps}; all {rows[name]['all_findings']}",
              flush=True)
    healthy = {str(run): [(f["failure"], f.get("subject", ""), f["step"]) for f in findings(run)]
               for run in healthy_runs(args.healthy)}
    missed = [n for n, r in rows.items() if not r["flagged_in_first_20_percent"]]
    alarms = {run: found for run, found in healthy.items() if found}
    common.save(common.header("health", catalogue=rows, misses=missed, healthy_runs=len(healthy),
                              false_alarms=alarms), args.out)
    print(f"catalogue: {len(rows) - len(missed)} of {len(rows)} flagged in their first 20% of steps; "
          f"healthy runs: {len(alarms)} of {len(healthy)} raised an alarm", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
