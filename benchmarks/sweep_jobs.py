"""`infogan sweep --jobs 1` against `--jobs 2` on this CPU: two seeds, the wall time of each way, one run.

With --jobs 2 each run gets cores/2 threads (sweep splits the cores); with --jobs 1 the seeds run one
after the other with every core. Which is faster decides the CPU default.

    python benchmarks/sweep_jobs.py [--epochs 3]

JSON to benchmarks/results/sweep_jobs.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import common
from common import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dataset", default="mnist-sample")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_jobs.json"))
    args = ap.parse_args()
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            started = time.perf_counter()
            common.infogan(
                "sweep",
                "--seeds",
                "0,1",
                "--jobs",
                jobs,
                "--dataset",
                args.dataset,
                "--epochs",
                args.epochs,
                "--device",
                "cpu",
                "--no-progress",
                "--outdir",
                Path(tmp) / f"jobs{jobs}",
                capture=True,
            )
            walls[jobs] = round(time.perf_counter() - started, 1)
            print(f"--jobs {jobs}: {walls[jobs]} s for 2 seeds x {args.epochs} epochs", flush=True)
    common.save(
        common.header(
            "sweep-jobs", dataset=args.dataset, epochs=args.epochs, wall_seconds=walls, faster=min(walls, key=walls.get)
        ),
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
