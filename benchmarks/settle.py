"""Does --stop-when-settled stop a run early at a worse model?

Every seed of the given quality results files whose runs took the settle measures (runs trained with
`--stop-when-settled --min-epochs N` at N = --epochs record them every epoch and stop at the end) is replayed
with the rule itself (`infogan.train.settle.stop_epoch`, the function the watch's decisions match): the
epoch it would stop at, the held-out accuracy there (the epoch records' accuracy on --eval-dataset) and at
the run's last epoch. The rule passes when every seed stops within TOLERANCE of its last epoch's accuracy.

    python benchmarks/settle.py benchmarks/results/quality_demo_settle.json [...]   # to benchmarks/results/settle.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common

from infogan.train import settle

TOLERANCE = 0.01  # the accuracy a stopped run may give up against its full length


def replay(results: dict, min_epochs: int) -> dict:
    """Per seed with settle measures: where the rule stops and what it costs."""
    rows = {}
    for seed, run in results["runs"].items():
        if "settle_changed_by_epoch" not in run:
            continue
        accuracy = run["train_accuracy_by_epoch"]  # on --eval-dataset's held-out digits where given
        stop = settle.stop_epoch(run["settle_changed_by_epoch"], run["settle_q_real_mi_by_epoch"], min_epochs)
        at_stop = accuracy[(stop or len(accuracy)) - 1]
        rows[seed] = {
            "epochs": len(accuracy),
            "stop_epoch": stop,
            "accuracy_at_stop": at_stop,
            "accuracy_at_end": accuracy[-1],
            "given_up": round(accuracy[-1] - at_stop, 4),
            "within_tolerance": accuracy[-1] - at_stop <= TOLERANCE,
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="quality results files (benchmarks/quality.py)")
    parser.add_argument("--min-epochs", type=int, default=0, help="the rule's --min-epochs (default: 0)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "settle.json"))
    args = parser.parse_args()
    out = common.header("settle", min_epochs=args.min_epochs, tolerance=TOLERANCE)
    out["rule"] = {"changed_at_most": settle.CHANGED_AT_MOST, "mi_moved_at_most": settle.MI_MOVED_AT_MOST}
    out["rule"]["patience"] = settle.PATIENCE
    out["files"] = {}
    for path in args.results:
        rows = replay(json.loads(Path(path).read_text()), args.min_epochs)
        out["files"][Path(path).name] = rows
        for seed, row in rows.items():
            print(
                f"{Path(path).name} seed {seed}: stops at epoch {row['stop_epoch']} of {row['epochs']}, "
                f"accuracy {row['accuracy_at_stop']:.3f} there, {row['accuracy_at_end']:.3f} at the end"
            )
    every = [row for rows in out["files"].values() for row in rows.values()]
    out["summary"] = {
        "seeds": len(every),
        "within_tolerance": sum(row["within_tolerance"] for row in every),
        "median_stop_epoch": sorted(row["stop_epoch"] or row["epochs"] for row in every)[len(every) // 2]
        if every
        else None,
    }
    print(json.dumps(out["summary"]))
    common.save(out, args.out)


if __name__ == "__main__":
    main()
