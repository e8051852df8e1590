"""Does the categorical code become the digit? Accuracy, NMI and the MI bound over several seeds.

Trains on the first 9,000 digits of ../shared/data/mnist-train-10k.npz (real MNIST), evaluates each run on
the last 1,000 (held out), one run per seed, and compares with the targets of the project's quality bar:
median accuracy >= 0.95, worst seed >= 0.90, median NMI >= 0.90, and the MI bound within 0.05 of ln 10
by the end of epoch 2.

    python benchmarks/quality.py                      # the project's default MNIST settings, 5 seeds
    python benchmarks/quality.py --epochs 20 --batch-size 64 --precision bf16 --seeds 0,1,2

Any extra `infogan train` options are passed through. `--classifier PATH` (from `infogan classifier train`)
also scores each run's generated digits with that independent classifier (`evaluate --classifier`): purity,
mode count, classifier score and fid_classifier next to the code's accuracy. Prints a table; JSON to benchmarks/results/quality.json.

Several settings side by side, runs in parallel (a GPU runs many small trainings at once):

    python benchmarks/quality.py --jobs 10 --device cuda \\
        --variant base="--batch-size 64 --epochs 40" --variant cw1="--batch-size 64 --epochs 40 --continuous-weight 1"

Each variant gets benchmarks/results/quality_<name>.json, rewritten after every finished seed, so a run
stopped by `--deadline` (seconds after which no new run starts) or killed from outside keeps what it finished (an interrupted run is resumed from its checkpoint by the next call with the same
--workdir). Runs are queued seed by seed across variants, so a grid stopped early stays even.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist-train-10k.npz"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from infogan.config import TrainConfig  # noqa: E402

TARGETS = {"median_accuracy": 0.95, "worst_accuracy": 0.90, "median_nmi": 0.90, "mi_gap_epoch2": 0.05}


def infogan(args: list[str], log: Path, env: dict) -> subprocess.CompletedProcess:
    with open(log, "a") as fh:
        return subprocess.run([sys.executable, "-m", "infogan", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=fh, text=True)


def run_seed(workdir: Path, variant: str, seed: int, train_args: list[str], env: dict,
             evaluate_args: tuple[str, ...] = ()) -> dict | None:
    """Train (or finish) one seed's run and score it on the held-out digits; None if it did not finish."""
    run_dir = workdir / variant / f"seed_{seed}"
    log = workdir / variant / f"seed_{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not (run_dir / "generator.safetensors").exists():
        if (run_dir / "checkpoints" / "last.pt").exists():
            cmd = ["train", "--resume", str(run_dir), "--no-progress"]
        else:
            cmd = ["train", "--dataset", f"npz:{workdir / 'train9k.npz'}", "--outdir", str(run_dir), "--seed", str(seed),
                   "--no-progress", "--overwrite", *train_args]
        proc = infogan(cmd, log, env)
        if proc.returncode != 0:
            print(f"{variant} seed {seed}: training stopped with exit status {proc.returncode} (log: {log})", flush=True)
            return None
    wall = time.perf_counter() - started
    proc = infogan(["evaluate", str(run_dir), "--dataset", f"npz:{workdir / 'heldout1k.npz'}", *evaluate_args],
                   log, env)
    if proc.returncode != 0:
        print(f"{variant} seed {seed}: evaluation failed (log: {log})", flush=True)
        return None
    report = json.loads(proc.stdout)
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in epochs if r["kind"] == "epoch"]
    row = {
        "heldout_accuracy": report["categorical_accuracy"], "heldout_nmi": report["nmi"], "heldout_ari": report["ari"],
        "mi_bound_generated": report["mutual_information_bound"], "q_real_mi": report["q_real_mi"],
        "mi_bound_by_epoch": [round(r["mi_bound"], 4) for r in epochs],
        "train_accuracy_by_epoch": [round(r.get("categorical_accuracy", float("nan")), 4) for r in epochs],
        "continuous_effects": report["continuous_effects"], "wall_seconds": round(wall, 1),
        "steps": epochs[-1]["step"], "images_per_sec": statistics.median(r["images_per_sec"] for r in epochs),
    }
    if "classifier" in report:  # --classifier: the independent judge of the generated digits
        row["classifier"] = {k: report["classifier"][k] for k in (
            "purity", "mode_count", "classifier_score", "fid_classifier", "classifier_samples") if k in report["classifier"]}
    judged = (f"  purity {row['classifier']['purity']:.3f}  modes {row['classifier']['mode_count']}"
              if "classifier" in row else "")
    print(f"{variant} seed {seed}: accuracy {row['heldout_accuracy']:.3f}  NMI {row['heldout_nmi']:.3f}  "
          f"MI by epoch 2 {row['mi_bound_by_epoch'][:2]}{judged}  {wall:.0f}s", flush=True)
    return row


def summarise(runs: dict[int, dict], entropy: float) -> tuple[dict, dict]:
    acc = [r["heldout_accuracy"] for r in runs.values()]
    nmi = [r["heldout_nmi"] for r in runs.values()]
    ln_k = entropy
    gap2 = [ln_k - r["mi_bound_by_epoch"][min(1, len(r["mi_bound_by_epoch"]) - 1)] for r in runs.values()]
    summary = {
        "seeds_done": len(runs), "median_accuracy": statistics.median(acc), "mean_accuracy": statistics.fmean(acc),
        "std_accuracy": statistics.pstdev(acc), "worst_accuracy": min(acc), "best_accuracy": max(acc),
        "median_nmi": statistics.median(nmi), "mi_gap_epoch2": max(gap2),
    }
    judged = [r["classifier"] for r in runs.values() if "classifier" in r]
    if judged:
        summary.update(median_purity=statistics.median(j["purity"] for j in judged),
                       worst_purity=min(j["purity"] for j in judged),
                       min_mode_count=min(j["mode_count"] for j in judged),
                       median_fid_classifier=statistics.median(j["fid_classifier"] for j in judged))
    met = {
        "median_accuracy": summary["median_accuracy"] >= TARGETS["median_accuracy"],
        "worst_accuracy": summary["worst_accuracy"] >= TARGETS["worst_accuracy"],
        "median_nmi": summary["median_nmi"] >= TARGETS["median_nmi"],
        "mi_gap_epoch2": summary["mi_gap_epoch2"] <= TARGETS["mi_gap_epoch2"],
    }
    return summary, met


def write_result(out: Path, variant_dir: Path, train_args: list[str], runs: dict[int, dict], seeds: list[int]) -> dict:
    cfg = json.loads((variant_dir / f"seed_{next(iter(runs))}" / "config.json").read_text())
    summary, met = summarise(runs, TrainConfig.from_dict(cfg).latent.total_entropy)
    import torch

    result = {
        "benchmark": "quality", "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and cfg["device"] != "cpu" else "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "seeds": seeds,
        "train_args": train_args, "config": {k: cfg.get(k) for k in (
            "arch", "batch_size", "epochs", "noise_dim", "noise_prior", "continuous_weight", "categorical_weight",
            "lr_d", "lr_g", "lr_q", "precision", "device")},
        "summary": summary, "targets": TARGETS, "targets_met": met,
        "runs": {str(s): runs[s] for s in sorted(runs)},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--data", default=str(DATA), help=f"npz with x, y (default: {DATA})")
    parser.add_argument("--out", default=None, help="result JSON (default: benchmarks/results/quality.json, or "
                        "quality_<variant>.json per variant in --results-dir)")
    parser.add_argument("--results-dir", default=str(RESULTS), help=f"where variants' JSON go (default: {RESULTS})")
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temp dir)")
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="TRAIN OPTIONS"',
                        help="a named setting to compare; repeatable (default: one, from the extra options)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once (default: 1)")
    parser.add_argument("--deadline", type=float, default=None, help="seconds after which no run starts (default: none)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per run (default: the cores divided by --jobs, as sweep --jobs does; "
                             "1-2 when --jobs > 1 on a GPU)")
    parser.add_argument("--classifier", default=None, metavar="PATH",
                        help="score generated digits with this classifier (infogan classifier train) (default: off)")
    parser.add_argument("--classifier-samples", type=int, default=5000, help="generated images it judges (default: 5000)")
    args, common = parser.parse_known_args(argv)
    evaluate_args = ("--classifier", str(Path(args.classifier).resolve()), "--samples",
                     str(args.classifier_samples)) if args.classifier else ()

    variants = {}
    for spec in args.variant:
        name, _, options = spec.partition("=")
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            parser.error(f"--variant needs NAME=\"OPTIONS\" with a plain name, got {spec!r}")
        variants[name] = [*common, *shlex.split(options)]
    if not variants:
        variants = {"default": common}
    seeds = [int(s) for s in args.seeds.split(",")]

    data = np.load(args.data)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez(workdir / "train9k.npz", x=data["x"][:9000], y=data["y"][:9000])
    np.savez(workdir / "heldout1k.npz", x=data["x"][9000:], y=data["y"][9000:])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    from infogan.runtime import available_cores

    threads = args.threads or max(1, available_cores() // max(1, args.jobs))
    # each run's own split of the cores (two runs of 2 threads on 2 cores thrash); a variant's --threads wins
    variants = {name: ["--threads", str(threads), *options] for name, options in variants.items()}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))

    def out_path(name: str) -> Path:
        if args.out and len(variants) == 1:
            return Path(args.out)
        return Path(args.results_dir) / ("quality.json" if name == "default" else f"quality_{name}.json")

    started = time.monotonic()
    results: dict[str, dict[int, dict]] = {name: {} for name in variants}
    written: dict[str, dict] = {}
    lock = threading.Lock()

    def task(name: str, seed: int) -> None:
        if args.deadline is not None and time.monotonic() - started > args.deadline:
            return
        row = run_seed(workdir, name, seed, variants[name], env, evaluate_args)
        if row is None:
            return
        with lock:
            results[name][seed] = row
            written[name] = write_result(out_path(name), workdir / name, variants[name], results[name], seeds)

    queue = [(name, seed) for seed in seeds for name in variants]  # seed-major: a stopped grid stays even
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in [pool.submit(task, name, seed) for name, seed in queue]:
            future.result()

    for name in variants:
        if name not in written:
            print(f"{name}: no run finished")
            continue
        print(f"{name}: " + json.dumps({k: written[name][k] for k in ("summary", "targets_met")}))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
