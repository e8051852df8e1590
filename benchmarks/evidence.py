"""One command for the GPU evidence of "it learns beyond MNIST": every experiment the CPU budget cut short, at
the sizes a GPU affords, into one results folder.

    python benchmarks/evidence.py --device cuda                 # an H200: sized for about 9 minutes
    python benchmarks/evidence.py --device cpu --quick          # the dry run (a test runs it)

The sizes are estimates from the H200 step times in BENCHMARKS.md (9-16 ms a step whatever the batch), not
yet run on a GPU; the cifar10 section (60 epochs of 35 steps) adds about a minute to them. With less time,
`--sections` picks which run.

Sections, each a benchmark of its own run with the device's sizes (its JSON in --results):
- disentanglement: shapes 64x64 (InfoGAN-CR's dSprites networks), plain InfoGAN against InfoGAN-CR, 3 seeds
  each at equal steps, MIG and FactorVAE on held-out shapes, the ModelCentrality pick;
- multicode: two digits side by side (28x56), two categorical codes, 3 seeds;
- quality: five MNIST seeds at the paper's 50 epochs, scored on held-out digits;
- cifar10: the seed's headline command (`--dataset CIFAR10 --noise_dim 64`: its transposed-convolution networks,
  batch 256) for as many epochs as the budget holds, judged by an independent classifier (purity, modes,
  classifier score, fid_classifier) and by the checkerboard power of its samples against real images;
- cuda_graphs: tests/test_cuda_graphs.py's GPU tests and the graph's speed rows (benchmarks/cuda_check.py).
A section that fails is recorded with its error and the others still run. evidence.json lists what ran,
how long each took, and where each result is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

import common

# (section, script, options on a GPU, options of the CPU dry run); {device} and {results} are filled in
SECTIONS = [
    ("disentanglement", "disentanglement.py",
     ["--size", "64", "--steps", "6000", "--jobs", "6", "--eval-images", "10000"],
     ["--size", "32", "--steps", "12", "--eval-images", "300", "--seeds", "0,1,2"]),
    ("multicode", "multicode.py",
     ["--epochs", "20", "--pairs", "20000", "--jobs", "3"],
     ["--epochs", "1", "--pairs", "64", "--heldout-pairs", "64", "--digit-size", "14", "--seeds", "0"]),
    ("quality", "quality.py",
     ["--epochs", "50", "--seeds", "0,1,2,3,4", "--jobs", "5"],
     ["--epochs", "1", "--seeds", "0,1", "--n-train", "256"]),
    ("cifar10", "cifar10.py",
     ["--epochs", "60", "--archs", "seed-cifar10", "--pictures", "1,10,30,60", "--samples", "10000"],
     ["--epochs", "1", "--archs", "seed-cifar10", "--pictures", "1", "--samples", "64", "--classifier-epochs", "1",
      "--n-train", "256", "--batch-size", "32"]),
]


def run_section(name: str, script: str, options: list[str], args, results: Path, workdir: Path) -> dict:
    data = {"multicode": ["--data", args.mnist], "quality": ["--data", args.mnist],
            "cifar10": ["--data", args.cifar10]}.get(name, [])
    cmd = [sys.executable, str(common.ROOT / "benchmarks" / script), *options, *data, "--workdir", str(workdir / name),
           "--out", str(results / f"{name}.json"), *(["--docs", str(results / "docs" / name)]
                                                    if name != "quality" else []),
           "--", "--device", args.device, "--no-progress"]
    started = time.perf_counter()
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=common.ROOT, env=common.ENV, capture_output=True, text=True)
    (results / f"{name}.log").write_text(proc.stdout + proc.stderr)
    return {"status": proc.returncode, "seconds": round(time.perf_counter() - started, 1),
            "result": str(results / f"{name}.json"), "log": str(results / f"{name}.log"),
            **({"error": proc.stderr.strip().splitlines()[-1:] or ["(no output)"]} if proc.returncode else {})}


def cuda_graphs(args, results: Path) -> dict:
    """The CUDA-graph tests, and cuda_check.py's graph section (eager against captured, batch 64/256/1024)."""
    if args.device != "cuda":
        return {"status": "skipped", "reason": "needs a CUDA GPU"}
    started = time.perf_counter()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_cuda_graphs.py"], cwd=common.ROOT,
                           env=common.ENV, capture_output=True, text=True)
    check = subprocess.run([sys.executable, str(common.ROOT / "benchmarks" / "cuda_check.py"), "--data",
                            str(common.SHARED_DATA / "mnist-train-10k.npz"), "--quick", "--out",
                            str(results / "cuda_check.json"), "--skip", "concurrency,end_to_end,reproducibility"],
                           cwd=common.ROOT, env=common.ENV, capture_output=True, text=True)
    (results / "cuda_graphs.log").write_text(tests.stdout + tests.stderr + check.stdout + check.stderr)
    return {"status": tests.returncode or check.returncode, "tests": tests.stdout.strip().splitlines()[-1:],
            "seconds": round(time.perf_counter() - started, 1), "result": str(results / "cuda_check.json")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--quick", action="store_true", help="the smallest sizes: a dry run of the whole chain")
    ap.add_argument("--sections", default="disentanglement,multicode,quality,cifar10,cuda_graphs")
    ap.add_argument("--results", default=str(common.RESULTS / "evidence"))
    ap.add_argument("--workdir", default=str(common.ROOT / "runs" / "evidence"))
    ap.add_argument("--mnist", default=str(common.SHARED_DATA / "mnist-train-10k.npz"),
                    help="real MNIST digits (npz x, y) for the multicode and quality sections")
    ap.add_argument("--cifar10", default=str(common.SHARED_DATA / "cifar10-train-10k.npz"),
                    help="real CIFAR-10 images (npz x NHWC uint8, y) for the cifar10 section")
    args = ap.parse_args()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA GPU visible: use --device cpu --quick for the dry run", file=sys.stderr)
            return 2
    results, workdir = Path(args.results), Path(args.workdir)
    results.mkdir(parents=True, exist_ok=True)
    wanted = args.sections.split(",")
    report = common.header("evidence", device=args.device, quick=args.quick, sections={})
    started = time.perf_counter()
    for name, script, gpu, quick in SECTIONS:
        if name in wanted:
            try:
                report["sections"][name] = run_section(name, script, quick if args.quick else gpu, args, results,
                                                       workdir)
            except Exception as exc:  # a broken section is a result; the others still run
                report["sections"][name] = {"status": "error", "error": traceback.format_exception_only(exc)[-1]}
            print(f"{name}: {json.dumps(report['sections'][name])}", flush=True)
    if "cuda_graphs" in wanted:
        report["sections"]["cuda_graphs"] = cuda_graphs(args, results)
    report["seconds"] = round(time.perf_counter() - started, 1)
    common.save(report, results / "evidence.json")
    return 0 if all(s["status"] in (0, "skipped") for s in report["sections"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
