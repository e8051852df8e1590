"""`infogan sweep`: one run per seed under one parent directory, each evaluated, then summarised.

InfoGAN's result depends on the seed (published re-runs: 0.91 +- 0.04 accuracy on MNIST), so a claim
about a setting needs several seeds, and a user without labels needs a way to pick a good run. The
summary reports mean/std/median/worst/best of every metric, and which seed a label-free criterion
(`q_real_mi`, see metrics.py) picks next to the seed the labels say is best.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

from .checkpoint import atomic_write_bytes
from .config import TrainConfig
from .errors import UsageError
from .evaluation import evaluate_run
from .training import resume, train

SELECTION_CRITERION = "q_real_mi"


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers such as 0,1,2; got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds must name distinct integers >= 0; got {text!r}")
    return seeds


def summarise(reports: dict[int, dict]) -> dict:
    """mean, std, median, worst, best of every numeric top-level metric across seeds."""
    keys = sorted({k for r in reports.values() for k, v in r.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n_samples"})
    stats = {}
    for key in keys:
        values = [r[key] for r in reports.values() if key in r]
        stats[key] = {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
                      "median": statistics.median(values), "worst": min(values), "best": max(values)}
    return stats


def select_seed(reports: dict[int, dict]) -> dict:
    picked = max(reports, key=lambda s: reports[s][SELECTION_CRITERION])
    out = {"criterion": SELECTION_CRITERION, "picked_seed": picked}
    if all("categorical_accuracy" in r for r in reports.values()):
        ranked = sorted(reports, key=lambda s: -reports[s]["categorical_accuracy"])
        out.update(best_seed_by_labels=ranked[0], agrees=picked == ranked[0],
                   picked_rank_by_labels=ranked.index(picked) + 1,
                   picked_accuracy=reports[picked]["categorical_accuracy"])
    return out


def run_sweep(base: TrainConfig, seeds: list[int], parent: str | Path | None = None,
              eval_dataset: str | None = None) -> dict:
    base.validate()
    parent = Path(parent) if parent else Path("runs") / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    reports, timings = {}, {}
    for seed in seeds:
        run_dir = parent / f"seed_{seed}"
        started = time.perf_counter()
        if (run_dir / "generator.safetensors").exists():  # finished earlier: a re-run of the sweep skips it
            print(f"seed {seed}: {run_dir} is complete, not retrained", flush=True)
        elif (run_dir / "checkpoints" / "last.pt").exists():  # interrupted earlier: continue it
            resume(run_dir)
        else:
            train(dataclasses.replace(base, seed=seed, outdir=str(run_dir)), overwrite=run_dir.exists())
        timings[seed] = time.perf_counter() - started
        reports[seed] = evaluate_run(run_dir, eval_dataset)
    summary = {"parent": str(parent), "seeds": seeds, "metrics": summarise(reports), "selection": select_seed(reports),
               "runs": {str(s): {**reports[s], "train_seconds": round(timings[s], 1)} for s in seeds}}
    atomic_write_bytes(parent / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary


def format_table(summary: dict) -> str:
    columns = ["categorical_accuracy", "nmi", "ari", "mutual_information_bound", "q_real_mi"]
    present = [c for c in columns if c in summary["metrics"]]
    lines = ["seed  " + "  ".join(f"{c[:12]:>12}" for c in present)]
    for seed, report in summary["runs"].items():
        lines.append(f"{seed:>4}  " + "  ".join(f"{report[c]:12.4f}" for c in present))
    for stat in ("mean", "std", "median", "worst", "best"):
        lines.append(f"{stat:>6}" + "".join(f"  {summary['metrics'][c][stat]:12.4f}" for c in present))
    sel = summary["selection"]
    line = f"label-free pick ({sel['criterion']}): seed {sel['picked_seed']}"
    if "best_seed_by_labels" in sel:
        line += (f"; best by labels: seed {sel['best_seed_by_labels']} "
                 f"({'agrees' if sel['agrees'] else 'picked rank ' + str(sel['picked_rank_by_labels'])})")
    return "\n".join(lines + [line])
