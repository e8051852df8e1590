"""`infogan sweep`: one run per seed under one parent directory, each evaluated, then summarised.

InfoGAN's result depends on the seed (published re-runs: 0.91 +- 0.04 accuracy on MNIST), so a claim
about a setting needs several seeds, and a user without labels needs a way to pick a good run. The
summary reports mean/std/median/worst/best of every metric, and which seed a label-free criterion
(`q_real_mi`, see metrics/codes.py, or ModelCentrality) picks next to the seed the labels say is best.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infogan.checks import require_int
from infogan.config import SELECTION_CRITERIA, TrainConfig
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.metrics import registry
from infogan.metrics.disentanglement import model_centrality
from infogan.metrics.evaluate import evaluate_run
from infogan.serve.encode import load_encoder
from infogan.serve.inference import load_generator
from infogan.serve.pictures import read_metrics
from infogan.train.launch import resume, train
from infogan.train.outcomes import TrainingDiverged, TrainingFailing
from infogan.train.runlock import RunLock
from infogan.train.runtime import available_cores, resolve_precision


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
    keys = sorted(
        {
            k
            for r in reports.values()
            for k, v in r.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n_samples"
        }
    )
    stats = {}
    for key in keys:
        values = [r[key] for r in reports.values() if key in r]
        stats[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values),
            "median": statistics.median(values),
            "worst": min(values),
            "best": max(values),
        }
    return stats


def default_criterion(reports: dict[int, dict]) -> str | None:
    """`--select` when not given, from what the finished runs report: q_real_mi where they have categorical
    codes (Q's reading of them); runs of continuous codes only are picked by ModelCentrality, which needs 3 runs
    or more; with fewer there is no label-free pick."""
    if all("q_real_mi" in r for r in reports.values()):
        return "q_real_mi"
    return "centrality" if len(reports) >= 3 else None


def _no_categorical_codes(base: TrainConfig) -> bool:
    """Known before training only when --categorical was given (else the data set's preset decides)."""
    return base.categorical is not None and not any(base.categorical)


def select_seed(reports: dict[int, dict], criterion: str | None = "q_real_mi") -> dict:
    """The run a label-free criterion picks (the highest value), next to the other criteria's picks and,
    with labels, the best run by them. criterion None: no pick (no criterion applies to these runs)."""
    picks = {
        c: max(reports, key=lambda s: reports[s][c])
        for c in SELECTION_CRITERIA
        if all(c in r for r in reports.values())
    }
    if criterion not in picks:
        return {
            "criterion": criterion,
            "picked_seed": None,
            "picks": picks,
            "note": "no label-free criterion applies: q_real_mi needs categorical codes, centrality 3 runs",
        }
    picked = picks[criterion]
    out = {"criterion": criterion, "picked_seed": picked, "picks": picks}
    if all("categorical_accuracy" in r for r in reports.values()):
        ranked = sorted(reports, key=lambda s: -reports[s]["categorical_accuracy"])
        out.update(
            best_seed_by_labels=ranked[0],
            agrees=picked == ranked[0],
            picked_rank_by_labels=ranked.index(picked) + 1,
            picked_accuracy=reports[picked]["categorical_accuracy"],
        )
    return out


def run_sweep(
    base: TrainConfig,
    seeds: list[int],
    parent: str | Path | None = None,
    eval_dataset: str | None = None,
    jobs: int | None = None,
    select: str | None = None,
    evaluate_options: dict | None = None,
    screen: tuple[int, int] | None = None,
) -> dict:
    """`jobs` None: `default_jobs` (on a CPU one process per core, one thread each; on a GPU one at a time).
    `select` None: `default_criterion` of the finished runs.
    `evaluate_options`: more keyword arguments of evaluate_run for every seed (classifier, samples).
    `screen` (epochs, keep): every seed trains that many epochs, and only the `keep` seeds with the most
    information in Q's categories on real images (q_real_mi, label-free) train on to the config's epochs.

    A seed whose training fails (diverged, or its process exited with an error) does not stop the others:
    summary.json lists it under `failed` with the reason, and the summary covers the seeds that finished."""
    base.validate()
    if jobs is not None:
        require_int("jobs", jobs, minimum=1)
    if select is not None and select not in SELECTION_CRITERIA:
        raise UsageError(f"--select must be one of {', '.join(SELECTION_CRITERIA)}, got {select!r}")
    if select == "q_real_mi" and _no_categorical_codes(base):
        raise UsageError(
            "--select q_real_mi reads Q's categorical codes and these runs have none: use --select "
            "centrality (3 seeds or more)"
        )
    if select == "centrality" and len(seeds) < 3:  # with two runs each one's mean score is the same number
        raise UsageError(
            f"--select centrality compares every run with the others and needs 3 seeds or more "
            f"(with {len(seeds)}, every run scores the same): add seeds"
            + ("" if _no_categorical_codes(base) else ", or use --select q_real_mi")
        )
    if screen is not None:
        _check_screen(base, seeds, *screen)
    if base.precision == "auto":
        # decided once here and handed to every seed, so that their comparison is never one of precisions
        base = dataclasses.replace(base, precision=resolve_precision(base))
        print(f"--precision auto: {base.precision} for every seed", flush=True)
    parent = Path(parent) if parent else Path("runs") / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --outdir {parent}: {exc.strerror or exc}; choose another --outdir") from None
    with RunLock.acquire(parent, "sweep directory"):  # one sweep per parent; each run locks its own directory
        return _sweep(base, seeds, parent, eval_dataset, jobs, select, evaluate_options or {}, screen)


def _sweep(
    base: TrainConfig,
    seeds: list[int],
    parent: Path,
    eval_dataset: str | None,
    jobs: int,
    select: str | None,
    evaluate_options: dict,
    screen: tuple[int, int] | None = None,
) -> dict:
    screened = {}
    if screen is None:
        timings, failed = _train_all(base, seeds, parent, jobs)
        done = [seed for seed in seeds if seed not in failed]
    else:
        done, timings, failed, screened = _screen(base, seeds, parent, jobs, eval_dataset, *screen)
    if not done:
        raise UsageError("no seed finished: " + "; ".join(f"seed {s}: {why}" for s, why in failed.items()))
    reports = {seed: evaluate_run(parent / f"seed_{seed}", eval_dataset, **evaluate_options) for seed in done}
    if select is None:
        select = default_criterion(reports)
    extra = {}
    if select == "centrality" and len(done) > 2:  # every run's Q scored on every other run's generated groups
        runs = {seed: (load_generator(parent / f"seed_{seed}"), load_encoder(parent / f"seed_{seed}")) for seed in done}
        extra = model_centrality(runs)
        for seed in done:
            reports[seed]["centrality"] = extra["centrality"][str(seed)]
    elif select == "centrality":  # too few runs finished to compare: Q's categorical codes, where there are any
        select = default_criterion(reports)  # fewer than 3 runs: q_real_mi or no pick
        extra = {
            "centrality_note": f"only {len(done)} seeds finished: "
            + ("picked by q_real_mi" if select else "no label-free pick")
        }
    summary = {
        "parent": str(parent),
        "seeds": seeds,
        "metrics": summarise(reports),
        "selection": {**select_seed(reports, select), **extra},
        "failed": {str(s): why for s, why in failed.items()},
        "runs": {str(s): {**reports[s], "train_seconds": round(timings[s], 1)} for s in done},
        **({"screen": screened} if screened else {}),
    }
    atomic_write_bytes(parent / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary


def _check_screen(base: TrainConfig, seeds: list[int], epochs: int, keep: int) -> None:
    require_int("screen_epochs", epochs, minimum=1)
    require_int("keep", keep, minimum=1)
    if base.epochs is not None and epochs >= base.epochs:
        raise UsageError(f"--screen-epochs {epochs} must be fewer than --epochs {base.epochs}: the screen is the start")
    if keep >= len(seeds):
        raise UsageError(
            f"--keep {keep} keeps every one of the {len(seeds)} seeds: keep fewer, or drop --screen-epochs"
        )
    if _no_categorical_codes(base):
        raise UsageError(
            "--screen-epochs ranks seeds by Q's categorical codes on real images, and these runs have none"
        )


def _screen(
    base: TrainConfig,
    seeds: list[int],
    parent: Path,
    jobs: int | None,
    eval_dataset: str | None,
    epochs: int,
    keep: int,
) -> tuple[list[int], dict, dict, dict]:
    """Every seed for `epochs` epochs; the `keep` with the highest q_real_mi train on to `base.epochs`, in this
    process with every core. q_real_mi needs no labels: it is high when Q sorts real images into confident,
    balanced categories (docs/results.md#choosing-a-seed-without-labels-early says how well it picks)."""
    timings, failed = _train_all(dataclasses.replace(base, epochs=epochs), seeds, parent, jobs)
    scores = {
        seed: evaluate_run(parent / f"seed_{seed}", eval_dataset)["q_real_mi"] for seed in seeds if seed not in failed
    }
    kept = sorted(scores, key=lambda seed: (-scores[seed], seed))[:keep]
    print(
        f"screened at epoch {epochs} by q_real_mi: "
        + ", ".join(f"seed {seed} {score:.4f}" for seed, score in scores.items())
        + f"; training on: seed(s) {', '.join(map(str, kept))}",
        flush=True,
    )
    threads = base.threads or (None if _uses_gpu(base) else available_cores())
    for seed in kept:
        started = time.perf_counter()
        try:
            resume(parent / f"seed_{seed}", epochs=base.epochs, threads=threads)
        except (TrainingDiverged, TrainingFailing) as exc:
            failed[seed] = f"diverged: {exc}"
        timings[seed] += time.perf_counter() - started
    done = [seed for seed in kept if seed not in failed]
    screened = {
        "epochs": epochs,
        "score": "q_real_mi",
        "scores": {str(k): round(v, 4) for k, v in scores.items()},
        "kept": kept,
    }
    return done, timings, failed, screened


def _train_all(base: TrainConfig, seeds: list[int], parent: Path, jobs: int | None) -> tuple[dict, dict]:
    """Train every seed not finished earlier; ({seed: seconds}, {seed: why it failed})."""
    timings, failed, pending = {}, {}, []
    for seed in seeds:
        if (parent / f"seed_{seed}" / "generator.safetensors").exists():  # finished earlier: not retrained
            print(f"seed {seed}: {parent / f'seed_{seed}'} is complete, not retrained", flush=True)
            timings[seed] = recorded_training_seconds(parent / f"seed_{seed}")
        else:
            pending.append(seed)
    if jobs is None:
        jobs = default_jobs(base, len(pending))
        if jobs > 1 and len(pending) > 1:
            print(
                f"on a CPU a sweep trains {jobs} seeds at once, one process per core (faster than one "
                f"after another for small models; --jobs 1 trains them in turn)",
                flush=True,
            )
    if jobs > 1 and len(pending) > 1:
        more_timings, failed = _train_in_processes(base, pending, parent, jobs)
        timings.update(more_timings)
        return timings, failed
    for seed in pending:
        started = time.perf_counter()
        why = _train_here(base, seed, parent / f"seed_{seed}")
        if why is not None:
            failed[seed] = why
            print(f"seed {seed} failed: {why}", flush=True)
        timings[seed] = time.perf_counter() - started
    return timings, failed


def recorded_training_seconds(run_dir: Path) -> float:
    """A finished run's training time as it recorded it: the sum of its epochs' wall seconds ("work" records:
    steps, scoring, checkpoint, pictures; start-up apart), so a sweep that only evaluates again still reports
    what training took rather than 0."""
    return sum(r.get("wall_seconds", 0.0) for r in read_metrics(run_dir / "metrics.jsonl", kind="work"))


def default_jobs(base: TrainConfig, seeds: int) -> int:
    """Seeds trained at once when --jobs is not given. On a CPU: one process per core (each with one thread),
    at most one per seed: these small convolutions use a second thread poorly, so processes side by side
    finish sooner than one after another (docs/results.md#speed). On a GPU, or with
    --threads set: one at a time."""
    if base.threads is not None or _uses_gpu(base):
        return 1
    return max(1, min(seeds, available_cores()))


def _train_here(base: TrainConfig, seed: int, run_dir: Path) -> str | None:
    """Train (or continue) one seed in this process; None, or why it failed (it diverged, or its run was refused,
    as a seed trained in a process of its own is: the sweep goes on with the other seeds)."""
    try:
        if (run_dir / "checkpoints" / "last.pt").exists():  # interrupted earlier: continue it
            resume(run_dir)
        else:
            train(dataclasses.replace(base, seed=seed, outdir=str(run_dir)), overwrite=run_dir.exists())
    except TrainingDiverged as exc:
        return f"diverged: {exc}"
    except TrainingFailing as exc:  # --stop-on-failure
        return f"failing: {exc}"
    except UsageError as exc:
        return f"refused: {exc}"
    return None


def _train_in_processes(base: TrainConfig, seeds: list[int], parent: Path, jobs: int) -> tuple[dict, dict]:
    """Each seed as its own `infogan train` process, `jobs` at a time; output to parent/seed_<S>.log.

    Processes rather than threads: each run owns its RNG and signal handling, and a GPU interleaves the
    small kernels of several processes (docs/results.md#gpu). Ctrl-C
    reaches every process of the terminal's group: each checkpoints, and the sweep run again resumes them.
    """
    config_path = parent / "sweep_config.json"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            config_path, dataclasses.replace(base, outdir=None, progress=False, run_id=None).to_json().encode()
        )
    except OSError as exc:
        raise UsageError(f"cannot write to --outdir {parent}: {exc.strerror or exc}; choose another --outdir") from None

    threads = []
    if base.threads is None and not _uses_gpu(base):  # split the cores: one thread per core in all
        per_run = max(1, available_cores() // jobs)
        threads = ["--threads", str(per_run)]
        print(f"on the CPU: {jobs} runs at a time, {per_run} thread(s) each ({available_cores()} cores)", flush=True)
    package_root = str(Path(__file__).resolve().parents[1])  # this infogan, also when it is not installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))

    def one(seed: int) -> tuple[int, int, float]:
        run_dir = parent / f"seed_{seed}"
        if (run_dir / "checkpoints" / "last.pt").exists():
            args = ["train", "--resume", str(run_dir), *threads]
        else:
            args = [
                "train",
                "--config",
                str(config_path),
                "--seed",
                str(seed),
                "--outdir",
                str(run_dir),
                *threads,
                *(["--overwrite"] if run_dir.exists() else []),
            ]
        started = time.perf_counter()
        with open(parent / f"seed_{seed}.log", "a") as log:
            status = subprocess.run(
                [sys.executable, "-m", "infogan", *args], stdout=log, stderr=subprocess.STDOUT, env=env
            ).returncode
        return seed, status, time.perf_counter() - started

    print(f"training seeds {', '.join(map(str, seeds))}, {jobs} at a time; logs: {parent}/seed_<S>.log", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, seeds))
    stopped = [seed for seed, status, _ in results if status in (130, 143)]  # SIGINT/SIGTERM: checkpointed
    if stopped:
        raise UsageError(
            f"seed(s) {', '.join(map(str, stopped))} were interrupted; run the same sweep again to resume them"
        )
    failed = {
        seed: f"exit status {status} (log {parent / f'seed_{seed}.log'})" for seed, status, _ in results if status != 0
    }
    for seed, status, seconds in results:
        print(
            f"seed {seed}: " + (f"trained in {seconds:.0f} s" if status == 0 else f"failed, {failed[seed]}"), flush=True
        )
    return {seed: seconds for seed, _, seconds in results}, failed


def _uses_gpu(cfg: TrainConfig) -> bool:
    import torch

    return cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())


def format_table(summary: dict) -> str:
    """Seeds down, the registry's table columns across (full names), then mean/std/median/worst/best."""
    present = registry.table_columns(summary["metrics"]) + (
        ["centrality"] if "centrality" in summary["metrics"] else []
    )
    width = {c: max(len(c), 8) for c in present}
    lines = ["seed  " + "  ".join(f"{c:>{width[c]}}" for c in present)]
    for seed, report in summary["runs"].items():
        lines.append(
            f"{seed:>4}  " + "  ".join(f"{report[c]:{width[c]}.4f}" if c in report else " " * width[c] for c in present)
        )
    for stat in ("mean", "std", "median", "worst", "best"):
        lines.append(f"{stat:>6}" + "".join(f"  {summary['metrics'][c][stat]:{width[c]}.4f}" for c in present))
    lines += [f"seed {seed} failed: {why}" for seed, why in summary.get("failed", {}).items()]
    if "screen" in summary:
        scr = summary["screen"]
        lines.append(
            f"screened at epoch {scr['epochs']} by {scr['score']}: "
            + ", ".join(f"seed {seed} {score:.4f}" for seed, score in scr["scores"].items())
            + f"; trained on: {', '.join(map(str, scr['kept']))}"
        )
    sel = summary["selection"]
    if sel["picked_seed"] is None:
        return "\n".join(lines + [f"label-free pick: none ({sel['note']})"])
    line = f"label-free pick ({sel['criterion']}): seed {sel['picked_seed']}"
    if "best_seed_by_labels" in sel:
        line += (
            f"; best by labels: seed {sel['best_seed_by_labels']} "
            f"({'agrees' if sel['agrees'] else 'picked rank ' + str(sel['picked_rank_by_labels'])})"
        )
    return "\n".join(lines + [line])
