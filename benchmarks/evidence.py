"""One command for the GPU evidence of "it learns beyond MNIST": every experiment the CPU budget cut short, at
the sizes a GPU affords, into one results folder.

    python benchmarks/evidence.py --device cuda --budget 440    # an H200: all sections at once, 440 s in all
    python benchmarks/evidence.py --device cpu --quick          # the dry run (a test runs it)

Sections, each a benchmark of its own run with the device's sizes (its JSON in --results):
- disentanglement: shapes 64x64 (InfoGAN-CR's dSprites networks), plain InfoGAN against InfoGAN-CR, 3 seeds
  each at equal steps, MIG and FactorVAE on held-out shapes, the ModelCentrality pick;
- multicode: two digits side by side (28x56), two categorical codes, 3 seeds;
- quality: five MNIST seeds at the paper's 50 epochs, scored on held-out digits (not in the default list:
  the H200 quality grid of docs/results.md#quality measured it);
- cifar10: the seed's headline command (`--dataset CIFAR10 --noise_dim 64`: its transposed-convolution networks,
  batch 256) for as many epochs as the budget holds, judged by an independent classifier (purity, modes,
  classifier score, fid_classifier) and by the checkerboard power of its samples against real images;
- cuda_graphs: tests/test_cuda_graphs.py's GPU tests first (if they fail, every training section runs with
  `--cuda-graphs off`, and the report says so), then, with the GPU idle again and time left, the graph's
  speed rows (benchmarks/cuda_check.py).

On a GPU the training sections run at the same time (`--parallel`, the default there): these small networks
leave the card mostly idle, so ten trainings share it at little cost each (docs/results.md#gpu). With
`--budget`, a section still running when the budget is spent is stopped and recorded as timed out; its runs'
metrics stay in --workdir. A section that fails is recorded with its error and the others still run.
evidence.json (rewritten as each section ends) lists what ran, how long each took, and where each result is.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import common

# (section, script, options on a GPU, options of the CPU dry run). The GPU sizes are for all sections at once
# within about 7 minutes of an H200: on 2026-12-04, eager, ten trainings sharing it, disentanglement took 296 s,
# multicode 243 s and cifar10's 100 epochs 129 s of training (its judge trained and scored on the CPU, 145 s
# and then past the budget; both now follow the trainings' --device).
SECTIONS = [
    (
        "disentanglement",
        "disentanglement.py",
        ["--size", "64", "--steps", "5000", "--jobs", "3", "--arms-at-once", "--eval-images", "10000"],
        ["--size", "32", "--steps", "12", "--eval-images", "300", "--seeds", "0,1,2", "--arms-at-once"],
    ),
    (
        "multicode",
        "multicode.py",
        ["--epochs", "20", "--pairs", "20000", "--jobs", "3"],
        ["--epochs", "1", "--pairs", "64", "--heldout-pairs", "64", "--digit-size", "14", "--seeds", "0"],
    ),
    (
        "quality",
        "quality.py",
        ["--epochs", "50", "--seeds", "0,1,2,3,4", "--jobs", "5"],
        ["--epochs", "1", "--seeds", "0,1", "--n-train", "256"],
    ),
    (
        "cifar10",
        "cifar10.py",
        ["--epochs", "100", "--archs", "seed-cifar10", "--pictures", "1,10,30,60,100", "--samples", "10000"],
        [
            "--epochs",
            "1",
            "--archs",
            "seed-cifar10",
            "--pictures",
            "1",
            "--samples",
            "64",
            "--classifier-epochs",
            "1",
            "--n-train",
            "256",
            "--batch-size",
            "32",
        ],
    ),
]
DEFAULT_SECTIONS = {
    "cuda": "cuda_graphs,disentanglement,multicode,cifar10",
    "cpu": "disentanglement,multicode,quality,cifar10,cuda_graphs",
}
GRAPH_SPEED_SECONDS = 120  # what cuda_check.py's quick graph rows need; run only with this much budget left


class Section:
    """One benchmark as a child process (its own process group, so a budget stop takes its trainings too)."""

    def __init__(self, name: str, cmd: list[str], results: Path, env: dict):
        self.name, self.log_path = name, results / f"{name}.log"
        print("$ " + " ".join(cmd), flush=True)
        self.started = time.perf_counter()
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=common.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def finish(self, deadline: float | None) -> dict:
        """Wait for it (at most until `deadline`, a perf_counter time); its record for evidence.json."""
        try:
            code = self.proc.wait(None if deadline is None else max(0.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            code = "timed out"
        record = {"status": code, "seconds": round(time.perf_counter() - self.started, 1), "log": str(self.log_path)}
        if code != 0:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            record["error"] = lines[-1:] or ["(no output)"]
        return record


def section_command(
    name: str, script: str, options: list[str], args, results: Path, workdir: Path, train_options: list[str]
) -> list[str]:
    data = {
        "multicode": ["--data", args.mnist],
        "quality": ["--data", args.mnist],
        "cifar10": ["--data", args.cifar10],
    }.get(name, [])
    return [
        sys.executable,
        str(common.ROOT / "benchmarks" / script),
        *options,
        *data,
        "--workdir",
        str(workdir / name),
        "--out",
        str(results / f"{name}.json"),
        *(["--docs", str(results / "docs" / name)] if name != "quality" else []),
        "--",
        "--device",
        args.device,
        "--no-progress",
        *train_options,
    ]


def graph_tests(env: dict, results: Path, timeout: float) -> dict:
    """tests/test_cuda_graphs.py on the GPU: whether the trainings may capture their step (its whole output
    in cuda_graph_tests.log: which test failed, and how)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "tests/test_cuda_graphs.py"]
    record = Section("cuda_graph_tests", cmd, results, env).finish(time.perf_counter() + timeout)
    lines = Path(record["log"]).read_text(errors="replace").strip().splitlines()
    return {**record, "tests": lines[-1:], "failed": [line for line in lines if line.startswith(("FAILED", "ERROR"))]}


def graph_speed(args, results: Path, env: dict, deadline: float | None) -> dict:
    """cuda_check.py's graph rows (eager against captured step, a 1-epoch run each way) on the idle GPU."""
    cmd = [
        sys.executable,
        str(common.ROOT / "benchmarks" / "cuda_check.py"),
        "--data",
        args.mnist,
        "--quick",
        "--no-graph-tests",
        "--out",
        str(results / "cuda_check.json"),
        "--skip",
        "end_to_end,reproducibility,pinned_fallback,throughput,concurrency",
    ]
    record = Section("cuda_graph_speed", cmd, results, env).finish(deadline)
    return {**record, "result": str(results / "cuda_check.json")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--quick", action="store_true", help="the smallest sizes: a dry run of the whole chain")
    ap.add_argument(
        "--sections",
        default=None,
        help="comma-separated (default: " + "; ".join(f"{k}: {v}" for k, v in DEFAULT_SECTIONS.items()) + ")",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds for everything; a section still running then is stopped (default: no limit)",
    )
    ap.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the training sections at the same time (default: on a GPU)",
    )
    ap.add_argument("--results", default=str(common.RESULTS / "evidence"))
    ap.add_argument("--workdir", default=str(common.ROOT / "runs" / "evidence"))
    ap.add_argument(
        "--mnist",
        default=str(common.SHARED_DATA / "mnist-train-10k.npz"),
        help="real MNIST digits (npz x, y) for the multicode, quality and cuda_graphs sections",
    )
    ap.add_argument(
        "--cifar10",
        default=str(common.SHARED_DATA / "cifar10-train-10k.npz"),
        help="real CIFAR-10 images (npz x NHWC uint8, y) for the cifar10 section",
    )
    args = ap.parse_args()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA GPU visible: use --device cpu --quick for the dry run", file=sys.stderr)
            return 2
    parallel = args.device == "cuda" if args.parallel is None else args.parallel
    wanted = (args.sections or DEFAULT_SECTIONS[args.device]).split(",")
    unknown = set(wanted) - {name for name, *_ in SECTIONS} - {"cuda_graphs"}
    if unknown:
        print(
            f"unknown section(s) {', '.join(sorted(unknown))}: choose from "
            f"{', '.join(name for name, *_ in SECTIONS)}, cuda_graphs",
            file=sys.stderr,
        )
        return 2
    results, workdir = Path(args.results), Path(args.workdir)
    results.mkdir(parents=True, exist_ok=True)
    # one thread each: with ten trainings at once the CPU only launches kernels, and 16 threads apiece thrash
    env = dict(common.ENV, **({"OMP_NUM_THREADS": "1"} if parallel and "OMP_NUM_THREADS" not in os.environ else {}))
    report = common.header(
        "evidence", device=args.device, quick=args.quick, parallel=parallel, budget=args.budget, sections={}
    )
    started = time.perf_counter()
    deadline = None if args.budget is None else started + args.budget

    def save():
        report["seconds"] = round(time.perf_counter() - started, 1)
        common.save(report, results / "evidence.json")

    train_options = []
    if "cuda_graphs" in wanted:
        if args.device != "cuda":
            report["sections"]["cuda_graphs"] = {"status": "skipped", "reason": "needs a CUDA GPU"}
        else:
            tests = graph_tests(env, results, timeout=120)
            report["sections"]["cuda_graphs"] = {**tests, "training_sections_use": "auto"}
            if tests["status"] != 0:  # a broken capture must not cost the other sections their evidence
                train_options = ["--cuda-graphs", "off"]
                report["sections"]["cuda_graphs"]["training_sections_use"] = "off"
            print(f"cuda_graphs: {json.dumps(report['sections']['cuda_graphs'])}", flush=True)
        save()
    running = []
    for name, script, gpu, quick in SECTIONS:
        if name not in wanted:
            continue
        if deadline is not None and time.perf_counter() >= deadline:  # one after another, the budget ran out
            report["sections"][name] = {"status": "not started", "reason": "the budget was spent before its turn"}
            continue
        cmd = section_command(name, script, quick if args.quick else gpu, args, results, workdir, train_options)
        running.append(Section(name, cmd, results, env))
        report["sections"][name] = {"status": "running", "result": str(results / f"{name}.json")}
        if not parallel:
            finish(running.pop(), report, deadline)
            save()
    save()
    while running:  # each recorded as it ends (its seconds are its own), the rest stopped at the deadline
        ended = [section for section in running if section.proc.poll() is not None]
        if deadline is not None and time.perf_counter() >= deadline:
            ended = list(running)  # a copy: the loop below removes them from `running`
        for section in ended:
            finish(section, report, deadline)
            running.remove(section)
            save()
        time.sleep(0.5 if running else 0)
    if "cuda_graphs" in wanted and args.device == "cuda" and report["sections"]["cuda_graphs"]["status"] == 0:
        left = None if deadline is None else deadline - time.perf_counter()
        report["sections"]["cuda_graphs"]["speed"] = (
            graph_speed(args, results, env, deadline)
            if left is None or left >= GRAPH_SPEED_SECONDS
            else {"status": "skipped", "reason": f"{left:.0f} s of the budget left"}
        )
        save()
    return 0 if all(s["status"] in (0, "skipped") for s in report["sections"].values()) else 1


def finish(section: Section, report: dict, deadline: float | None) -> None:
    report["sections"][section.name].update(section.finish(deadline))
    print(f"{section.name}: {json.dumps(report['sections'][section.name])}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
