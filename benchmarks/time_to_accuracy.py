"""Time to a good model: wall-clock seconds until held-out accuracy first reaches 0.80 and 0.90.

Each candidate recipe trains on the bundled `mnist-sample` (5,000 digits, the demo's data) with the per-epoch
label metrics on its 1,000 held-out digits (`--eval-dataset mnist-sample`: digits of the shared 10,000-digit
set that the sample does not hold), one run per seed, one run at a time (nothing else running: these are
timings). The time of an epoch is the run's own record of it (metrics.jsonl "work": first batch to the end
of the epoch's work, held-out scoring included); start-up is reported apart. Per candidate: the median over
seeds of the seconds to 0.80 and to 0.90 (a seed that never gets there counts as never), and the final
accuracy; one picture of accuracy against seconds for every run (docs/time_to_accuracy.png).

    python benchmarks/time_to_accuracy.py                                   # every candidate, seeds 0,1,2
    python benchmarks/time_to_accuracy.py --candidates default,seed-arch --seeds 0 --precision fp32

A candidate that is faster but ends lower (median final accuracy) is reported, not adopted.

Label-free early stopping is judged on runs already trained, without training anything: where would a stop
on a plateau of a label-free statistic (Q's mutual information on real images, Q's confidence) have ended
each run, and how much held-out accuracy would that have cost against the run's last epoch?

    python benchmarks/time_to_accuracy.py --early-stop /work/runs/tta/*/seed_* infogan/pretrained/mnist
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common

THRESHOLDS = (0.80, 0.90)
# label-free early stopping: the statistic, how many epochs without a gain of min_gain end the run
EARLY_STOP_SIGNALS = ("q_real_mi", "q_confidence")
EARLY_STOP_PATIENCE = (3, 5)
EARLY_STOP_MIN_GAIN = 0.01  # nats for q_real_mi (at most ln 10 = 2.30), probability for q_confidence
CANDIDATES = {  # name -> infogan train options over the demo's data and the mnist preset
    "default": [],  # paper-mnist, batch 64, lr D 2e-4 / G 1e-3: the demo's recipe before this benchmark
    "seed-arch": ["--arch", "seed-mnist"],  # the seed's lighter D: about half the work per image
    "batch32": ["--batch-size", "32"],  # twice the updates per image
    "lr-d-4e-4": ["--lr-d", "4e-4"],
    "seed-arch-batch32": ["--arch", "seed-mnist", "--batch-size", "32"],
    # the categorical code's information term twice as strong: categories that separate sooner, if any
    "cat-weight-2": ["--categorical-weight", "2"],
    "lr-q-2e-4": ["--lr-q", "2e-4"],  # Q's head at D's rate, as the official code trains it (the paper: G's)
    "lr-g-2e-3": ["--lr-g", "2e-3"],  # G (and Q's head) twice as fast
    "beta2-0.99": ["--beta2", "0.99"],  # Adam's second moment forgets faster (common in GAN code)
    # the winner above, combined: twice the updates per image; a smaller noise vector, so that the
    # categorical code carries a larger share of what G is given
    "lr-q-2e-4-batch32": ["--lr-q", "2e-4", "--batch-size", "32"],
    "lr-q-2e-4-noise-16": ["--lr-q", "2e-4", "--noise-dim", "16"],
    # Q also sorts real images into confident, balanced categories (losses.real_information)
    "real-info-0.5": ["--real-info-weight", "0.5"],
    "real-info-1": ["--real-info-weight", "1"],
    # its early lead kept, its later pull dropped: off after 5 epochs of the 5,000-digit set (78 steps each)
    "real-info-0.5-until-5": ["--real-info-weight", "0.5", "--real-info-until", "390"],
    # every rate decays by a half cosine to a tenth of itself at the last step (schedule.py): settles late
    "cosine": ["--lr-schedule", "cosine"],
    # the smaller noise vector alone, at the CLI's rates: with lr-q-2e-4 the 16-wide one was the best
    # combination (median 0.767 against lr-q-2e-4's 0.677 on the EPYC), so the noise size may be the lever
    "noise-16": ["--noise-dim", "16"],
    # the other direction of lr-d-4e-4 (0.367 at seed 0): a slower D, so G's information term leads longer
    "lr-d-1e-4": ["--lr-d", "1e-4"],
}


def reached(curve: list[tuple[float, float]], threshold: float) -> float | None:
    """Seconds at the end of the first epoch whose held-out accuracy reached `threshold`."""
    return next((seconds for seconds, accuracy in curve if accuracy >= threshold), None)


def one_run(name: str, seed: int, options: list[str], args, workdir: Path) -> dict:
    run = workdir / name / f"seed_{seed}"
    started = time.perf_counter()
    if not (run / "generator.safetensors").exists():
        common.infogan(
            "train",
            "--dataset",
            "mnist-sample",
            "--eval-dataset",
            "mnist-sample",
            "--preset",  # the candidates vary the paper's objective (mnist-sample's own preset adds IIC)
            "mnist",
            "--epochs",
            args.epochs,
            "--seed",
            seed,
            "--precision",
            args.precision,
            "--outdir",
            run,
            "--overwrite",
            "--no-progress",
            *options,
            log=workdir / f"{name}_seed{seed}.log",
        )
    process_seconds = time.perf_counter() - started
    records = common.epochs(run)
    from infogan.serve.pictures import read_metrics

    work = read_metrics(run / "metrics.jsonl", kind="work")
    clock, curve = 0.0, []
    for record, spent in zip(records, work):
        clock += spent["wall_seconds"]
        curve.append((round(clock, 1), record["categorical_accuracy"]))
    return {
        "curve": curve,
        "final_accuracy": curve[-1][1],
        "train_seconds": round(clock, 1),
        "process_seconds": round(process_seconds, 1),
        **{f"seconds_to_{t:.2f}": reached(curve, t) for t in THRESHOLDS},
    }


def summarise(runs: dict[int, dict]) -> dict:
    out = {
        "median_final_accuracy": statistics.median(r["final_accuracy"] for r in runs.values()),
        "median_train_seconds": statistics.median(r["train_seconds"] for r in runs.values()),
    }
    for t in THRESHOLDS:
        times = [r[f"seconds_to_{t:.2f}"] for r in runs.values()]
        ordered = sorted(times, key=lambda v: float("inf") if v is None else v)
        median = ordered[len(ordered) // 2]  # a seed that never reached it sorts last (as never)
        out[f"median_seconds_to_{t:.2f}"] = median
        out[f"seeds_reaching_{t:.2f}"] = sum(v is not None for v in times)
    return out


def plateau_epoch(records: list[dict], signal: str, patience: int, min_gain: float) -> int | None:
    """The epoch at whose end an early stop would end the run: `signal` has not beaten its best by
    `min_gain` for `patience` epochs. None: the run would have gone to its end."""
    best, waited = float("-inf"), 0
    for record in records:
        if record[signal] > best + min_gain:
            best, waited = record[signal], 0
        else:
            waited += 1
            if waited >= patience:
                return record["epoch"]
    return None


def early_stop_records(run_dirs: list[Path]) -> dict[str, list[dict]]:
    """Each run's epoch records; ValueError naming the first run that cannot be judged."""
    needed = ("categorical_accuracy", *EARLY_STOP_SIGNALS)
    found = {}
    for run in run_dirs:
        records = common.epochs(run)
        if not records or any(key not in r for r in records for key in needed):
            raise ValueError(
                f"{run}: no epoch records with {', '.join(needed)} in metrics.jsonl (a run trained "
                f"with --eval-dataset and a categorical code?)"
            )
        found[str(run)] = records
    return found


def early_stop_analysis(run_records: dict[str, list[dict]], out: str) -> dict:
    """Each rule of EARLY_STOP_* applied to each run's recorded epochs: the stop epoch, the held-out
    accuracy there and at the run's end."""
    runs, rules = {}, {}
    for run, records in run_records.items():
        accuracy = {r["epoch"]: r["categorical_accuracy"] for r in records}
        last = records[-1]["epoch"]
        runs[run] = {"epochs": last, "final_accuracy": accuracy[last], "stops": {}}
        for signal in EARLY_STOP_SIGNALS:
            for patience in EARLY_STOP_PATIENCE:
                rule = f"{signal}, patience {patience}"
                stop = plateau_epoch(records, signal, patience, EARLY_STOP_MIN_GAIN)
                runs[run]["stops"][rule] = {"epoch": stop, "accuracy": None if stop is None else accuracy[stop]}
                ended = last if stop is None else stop
                rules.setdefault(rule, []).append((last, stop, accuracy[last] - accuracy[ended]))
    summary = {
        rule: {
            "runs_stopped": sum(stop is not None for _, stop, _ in rows),  # a stop at the last epoch too
            "epochs_saved_share": round(
                sum(last - (stop or last) for last, stop, _ in rows) / sum(last for last, _, _ in rows), 3
            ),
            "median_accuracy_lost": round(statistics.median(lost for *_, lost in rows), 3),
            "worst_accuracy_lost": round(max(lost for *_, lost in rows), 3),
        }
        for rule, rows in rules.items()
    }
    for rule, row in summary.items():
        print(f"{rule:28s} {row}")
    common.save(
        common.header("time_to_accuracy_early_stop", min_gain=EARLY_STOP_MIN_GAIN, runs=runs, rules=summary), out
    )
    return summary


def draw(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, cand) in enumerate(results.items()):
        for j, run in enumerate(cand["runs"].values()):
            seconds, accuracy = zip(*run["curve"])
            ax.plot(seconds, accuracy, color=colours[i % len(colours)], alpha=0.8, label=name if j == 0 else None)
    for t in THRESHOLDS:
        ax.axhline(t, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("training wall seconds (the runs' own epoch records)")
    ax.set_ylabel("held-out accuracy (1,000 digits)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--precision", default="fp32", help="fp32: what a CPU without native bf16 runs (default)")
    ap.add_argument("--workdir", default=None, help="keeps the runs; finished ones are not retrained")
    ap.add_argument("--out", default=str(common.RESULTS / "time_to_accuracy.json"))
    ap.add_argument("--picture", default=str(common.ROOT / "docs" / "time_to_accuracy.png"))
    ap.add_argument(
        "--early-stop",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        default=None,
        help="train nothing: judge label-free early stopping on these trained runs (JSON to --out)",
    )
    args = ap.parse_args()
    if args.early_stop:
        try:
            found = early_stop_records(args.early_stop)
        except ValueError as exc:
            print(f"time_to_accuracy.py: {exc}", file=sys.stderr)
            return 2
        early_stop_analysis(found, args.out)
        return 0
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-tta-"))
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for seed in seeds:  # seed-major: a stopped benchmark has every candidate at the same seeds
        for name in args.candidates.split(","):
            entry = results.setdefault(name, {"options": CANDIDATES[name], "runs": {}})
            entry["runs"][seed] = one_run(name, seed, CANDIDATES[name], args, workdir)
            r = entry["runs"][seed]
            print(
                f"{name} seed {seed}: final {r['final_accuracy']:.3f}, 0.80 at {r['seconds_to_0.80']} s, "
                f"0.90 at {r['seconds_to_0.90']} s ({r['train_seconds']} s training)",
                flush=True,
            )
    for entry in results.values():
        entry["summary"] = summarise(entry["runs"])
    draw(results, Path(args.picture))
    common.save(
        common.header(
            "time_to_accuracy",
            data="mnist-sample (5,000) / held out 1,000",
            epochs=args.epochs,
            precision=args.precision,
            seeds=seeds,
            candidates=results,
        ),
        args.out,
    )
    for name, entry in results.items():
        print(f"{name:18s} {entry['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
