"""The CUDA path, checked and timed on a real GPU: what CI (CPU only) cannot exercise.

    python benchmarks/cuda_check.py --data PATH/mnist-train-10k.npz [--out FILE] [--quick]

1. `infogan train` end to end on the GPU in fp32, bf16 and fp16 (GradScaler): finite losses, a resume that
   extends the run, `evaluate`, `generate` and `traverse` on the result.
2. Reproducibility on the GPU: two identical fp32 runs, and 1 epoch + resume + 1 epoch against 2 straight
   (largest absolute difference of the generator's weights; cuDNN may pick non-deterministic kernels).
3. The fallback for a data set that does not fit in GPU memory (batches from pinned host memory), forced.
4. Training-step throughput per architecture, precision and batch size, data already on the GPU.
5. Several trainings sharing the GPU at once: aggregate images/s for 1, 6 and 12 processes (sizes
   `benchmarks/quality.py --jobs` on a GPU machine).
6. CUDA graphs (`--cuda-graphs`): tests/test_cuda_graphs.py's GPU tests, the step's images/s eager against
   captured at batch 64, 256 and 1024, and a short training run each way scored on held-out digits.

Each section records its error instead of stopping the rest. JSON to benchmarks/results/cuda_check.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import common
import numpy as np
import torch
from common import ROOT

from infogan.config import TrainConfig

DEVICE = "cuda"  # --device cpu: a dry run of this script's own logic on a machine without a GPU
ENV = dict(common.ENV, OMP_NUM_THREADS="2")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = common.infogan(*args, capture=True, check=False, env=ENV)
    if check and proc.returncode != 0:
        raise RuntimeError(f"infogan {' '.join(args[:3])} ... exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return proc


epochs_of = common.epochs


def generator_weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "generator.safetensors"))


def max_weight_difference(a: Path, b: Path) -> float:
    wa, wb = generator_weights(a), generator_weights(b)
    return max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa)


def end_to_end(tmp: Path, npz: Path, heldout: Path) -> dict:
    out = {}
    for precision in ("fp32", "bf16", "fp16") if DEVICE == "cuda" else ("fp32", "bf16"):
        run = tmp / f"e2e_{precision}"
        t = time.perf_counter()
        cli(
            "train",
            "--dataset",
            f"npz:{npz}",
            "--device",
            DEVICE,
            "--precision",
            precision,
            "--epochs",
            "2",
            "--batch-size",
            "128",
            "--outdir",
            str(run),
            "--no-progress",
        )
        first = time.perf_counter() - t
        if precision == "fp32":
            (tmp / "straight_2").mkdir()
            (tmp / "straight_2" / "generator.safetensors").write_bytes((run / "generator.safetensors").read_bytes())
        cli("train", "--resume", str(run), "--epochs", "3", "--no-progress")
        rows = epochs_of(run)
        finite = all(math.isfinite(r[k]) for r in rows for k in ("d_loss", "g_loss", "cat_loss", "mi_bound"))
        report = json.loads(cli("evaluate", str(run), "--dataset", f"npz:{heldout}").stdout)
        if precision == "fp32":  # the pictures do not depend on the training precision
            cli("generate", str(run), "--category", "3", "-n", "20", "--out", str(tmp / "gen.png"))
            cli("traverse", str(run), "--code", "1", "--out", str(tmp / "trav.png"))
        ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
        out[precision] = {
            "epochs": [r["epoch"] for r in rows],
            "finite": finite,
            "train_2_epochs_seconds": round(first, 1),
            "images_per_sec_by_epoch": [r["images_per_sec"] for r in rows],
            "mi_bound_by_epoch": [round(r["mi_bound"], 4) for r in rows],
            "heldout_accuracy_after_3_epochs": report["categorical_accuracy"],
            "heldout_nmi": report["nmi"],
            "config_precision": json.loads((run / "config.json").read_text())["precision"],
            "grad_scaler_state_saved": bool(ckpt.get("scaler")),
            "generate_png": (tmp / "gen.png").stat().st_size > 0,
            "traverse_png": (tmp / "trav.png").stat().st_size > 0,
        }
        print(f"e2e {precision}: {out[precision]}", flush=True)
    return out


def reproducibility(tmp: Path, npz: Path) -> dict:
    common = [
        "--dataset",
        f"npz:{npz}",
        "--device",
        DEVICE,
        "--precision",
        "fp32",
        "--batch-size",
        "128",
        "--no-progress",
    ]
    cli("train", *common, "--epochs", "2", "--outdir", str(tmp / "again_2"))
    cli("train", *common, "--epochs", "1", "--outdir", str(tmp / "resumed_2"))
    cli("train", "--resume", str(tmp / "resumed_2"), "--epochs", "2", "--no-progress")
    out = {
        "same_seed_twice_max_abs_diff": max_weight_difference(tmp / "straight_2", tmp / "again_2"),
        "resume_vs_straight_max_abs_diff": max_weight_difference(tmp / "straight_2", tmp / "resumed_2"),
    }
    print(f"reproducibility: {out}", flush=True)
    return out


def pinned_fallback(tmp: Path, npz: Path) -> dict:
    """Make the data set's move to the GPU fail as if out of memory; training must go on from pinned memory."""
    from infogan.train import launch

    original = torch.Tensor.to
    refused = []

    def to(self, *args, **kwargs):
        if self.dtype == torch.uint8 and self.dim() == 4 and self.shape[0] >= 9000 and not refused:
            refused.append(tuple(self.shape))
            raise torch.OutOfMemoryError("simulated: the data set does not fit")
        return original(self, *args, **kwargs)

    torch.Tensor.to = to
    try:
        t = time.perf_counter()
        run = launch.train(
            TrainConfig(
                dataset=f"npz:{npz}",
                device=DEVICE,
                precision="bf16",
                epochs=1,
                batch_size=128,
                outdir=str(tmp / "pinned"),
                progress=False,
            )
        )
    finally:
        torch.Tensor.to = original
    rows = epochs_of(run)
    out = {
        "refused_move": refused,
        "epochs": len(rows),
        "finite": all(math.isfinite(r["d_loss"]) for r in rows),
        "images_per_sec": rows[-1]["images_per_sec"],
        "seconds": round(time.perf_counter() - t, 1),
    }
    print(f"pinned fallback: {out}", flush=True)
    return out


def step_throughput(quick: bool) -> list[dict]:
    """throughput.py's step measurement (data already on the device), per architecture, precision and batch."""
    from throughput import Bench  # benchmarks/ is this script's folder

    rows = []
    for arch in ("seed-mnist", "paper-mnist"):
        for precision in ("fp32", "bf16", "fp16") if DEVICE == "cuda" else ("fp32",):
            for batch in (64, 256, 1024):
                rate = statistics.median(
                    Bench(arch, precision, batch, device=DEVICE).images_per_second(10, 30 if quick else 100, 3)
                )
                row = {
                    "arch": arch,
                    "precision": precision,
                    "batch": batch,
                    "images_per_s": round(rate),
                    "ms_per_step": round(1e3 * batch / rate, 2),
                }
                rows.append(row)
                print(
                    f"throughput {arch:<12} {precision:<5} batch {batch:>5}: {row['images_per_s']:>8} img/s "
                    f"({row['ms_per_step']} ms/step)",
                    flush=True,
                )
    return rows


def graphs(tmp: Path, npz: Path, heldout: Path, quick: bool, tests: bool = True) -> dict:
    """--cuda-graphs: its GPU tests (unless `tests` is off: run already), step throughput eager vs captured,
    and a 5-epoch run each way."""
    from throughput import Bench

    out = {}
    if DEVICE == "cuda" and tests:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests/test_cuda_graphs.py"],
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
        )
        out["tests"] = {"exit": proc.returncode, "summary": proc.stdout.strip().splitlines()[-1:]}
        print(f"cuda graph tests: {out['tests']}", flush=True)
    rows = []
    for arch in ("paper-mnist", "seed-mnist"):
        for precision in ("bf16", "fp32") if DEVICE == "cuda" else ("fp32",):
            for batch in (64, 256, 1024) if DEVICE == "cuda" else (64,):  # a CPU dry run checks the script only
                row = {"arch": arch, "precision": precision, "batch": batch}
                for mode in ("eager", "graphs") if DEVICE == "cuda" else ("eager",):
                    bench = Bench(arch, precision, batch, device=DEVICE, cuda_graphs=mode == "graphs")
                    steps = (30 if quick else 200) if DEVICE == "cuda" else 5
                    row[f"{mode}_images_per_s"] = round(statistics.median(bench.images_per_second(10, steps, 3)))
                if "graphs_images_per_s" in row:
                    row["speedup"] = round(row["graphs_images_per_s"] / row["eager_images_per_s"], 2)
                rows.append(row)
                print(f"cuda graphs: {row}", flush=True)
    out["throughput"] = rows
    runs = {}
    for mode in ("off", "auto"):
        run = tmp / f"graphs-{mode}"
        t = time.perf_counter()
        cli(
            "train",
            "--dataset",
            f"npz:{npz}",
            "--epochs",
            "1" if quick else "5",
            "--outdir",
            str(run),
            "--device",
            DEVICE,
            "--cuda-graphs",
            mode,
            "--no-progress",
        )
        report = json.loads(cli("evaluate", str(run), "--dataset", f"npz:{heldout}").stdout)
        runs[mode] = {
            "seconds": round(time.perf_counter() - t, 1),
            "heldout_accuracy": report.get("categorical_accuracy"),
            "last_epoch_images_per_s": epochs_of(run)[-1]["images_per_sec"],
        }
        print(f"cuda graphs run --cuda-graphs {mode}: {runs[mode]}", flush=True)
    out["runs"] = runs
    return out


def concurrency(tmp: Path, npz: Path, counts=(1, 6, 12)) -> list[dict]:
    """Per-process and aggregate speed of k trainings at once (3 epochs each; epochs 2-3 timed)."""
    rows = []
    for k in counts:
        t = time.perf_counter()
        procs = [
            common.start(
                "train",
                "--dataset",
                f"npz:{npz}",
                "--device",
                DEVICE,
                "--epochs",
                "3",
                "--batch-size",
                "64",
                "--seed",
                i,
                "--no-progress",
                "--outdir",
                tmp / f"conc{k}_{i}",
                env=dict(ENV, OMP_NUM_THREADS="1"),
            )
            for i in range(k)
        ]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - t
        per_process = [epochs_of(tmp / f"conc{k}_{i}")[-1]["images_per_sec"] for i in range(k) if codes[i] == 0]
        epoch_seconds = [
            statistics.median(r["seconds"] for r in epochs_of(tmp / f"conc{k}_{i}")[1:])
            for i in range(k)
            if codes[i] == 0
        ]
        row = {
            "processes": k,
            "ok": sum(c == 0 for c in codes),
            "wall_seconds": round(wall, 1),
            "aggregate_images_per_s": round(sum(per_process)),
            "median_epoch_seconds": round(statistics.median(epoch_seconds), 2),
        }
        rows.append(row)
        print(f"concurrency: {row}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="mnist-train-10k.npz (x, y)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cuda_check.json"))
    ap.add_argument("--quick", action="store_true", help="fewer timed steps")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip")
    ap.add_argument("--no-graph-tests", action="store_true", help="the cuda_graphs section without its pytest run")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="cpu: dry-run the script (default: cuda)")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU visible: nothing to check", file=sys.stderr)
        return 2
    result = common.header("cuda_check", device=DEVICE)
    if DEVICE == "cuda":
        result.update(
            cuda=torch.version.cuda,
            gpu=torch.cuda.get_device_name(),
            bf16=torch.cuda.is_bf16_supported(),
            capability=list(torch.cuda.get_device_capability()),
            cudnn=torch.backends.cudnn.version(),
        )
    print(json.dumps(result), flush=True)

    def save():
        common.save(result, args.out)

    data = np.load(args.data)
    with tempfile.TemporaryDirectory(prefix="infogan-cuda-") as tmp_name:
        tmp = Path(tmp_name)
        np.savez(tmp / "train9k.npz", x=data["x"][:9000], y=data["y"][:9000])
        np.savez(tmp / "heldout1k.npz", x=data["x"][9000:], y=data["y"][9000:])
        sections = {
            "end_to_end": lambda: end_to_end(tmp, tmp / "train9k.npz", tmp / "heldout1k.npz"),
            "reproducibility": lambda: reproducibility(tmp, tmp / "train9k.npz"),
            "pinned_fallback": lambda: pinned_fallback(tmp, tmp / "train9k.npz"),
            "throughput": lambda: step_throughput(args.quick),
            "concurrency": lambda: concurrency(tmp, tmp / "train9k.npz"),
            "cuda_graphs": lambda: graphs(
                tmp, tmp / "train9k.npz", tmp / "heldout1k.npz", args.quick, not args.no_graph_tests
            ),
        }
        for name, section in sections.items():
            if name in args.skip.split(","):
                continue
            t = time.perf_counter()
            try:
                result[name] = section()
            except Exception as exc:  # one broken section must not hide the others' results
                result[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
                print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
            result.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t, 1)
            save()
    failed = [n for n in sections if isinstance(result.get(n), dict) and "error" in result[n]]
    print(f"sections failed: {failed or 'none'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
