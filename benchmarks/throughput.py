"""Training throughput, side by side in one run: ours against the bound this CPU allows, and the seed's TF.

For the seed configuration (seed-mnist, batch 256) and the paper's (paper-mnist), in fp32 and bf16:
images/s of the real training step (data indexing and normalisation included; median of several repeats
after warm-up), the FLOPs of one step (torch.utils.flop_counter), this machine's matmul peak measured in
the same run, and the achieved fraction of the bound (peak / FLOPs per image). Variants that might pay
(fused Adam, channels_last, torch.compile) are measured on the seed configuration. With
`--tf-python PATH` (a Python with tensorflow-cpu), the seed's TensorFlow step (shared/peers) runs too, as
shipped (eager) and under tf.function. Then peak RSS of a one-epoch run on MNIST's full 60,000-image shape.

    python benchmarks/throughput.py [--tf-python /tmp/tf/bin/python] [--compile] [--quick]
    python benchmarks/throughput.py --demo-batch [--compile]   # the demo's step: batch 64, fp32, where time goes
    python benchmarks/throughput.py --bf16-profile             # the bf16 steps: where time goes, torch.compile

JSON to benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import torch
from common import ROOT

from infogan.config import TrainConfig, resolve
from infogan.data.images import to_unit_range
from infogan.model.networks import build_networks
from infogan.serve.pictures import read_metrics
from infogan.train.runtime import make_runtime, resolve_precision
from infogan.train.state import Nets, make_optimizers
from infogan.train.step import StepRunner, train_step

PEER = ROOT.parent / "shared" / "peers" / "seed_tf_throughput.py"


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """GFLOP/s of a square matmul, best of several (the practical peak of this CPU for that dtype)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def _sync(stats: dict) -> None:
    torch.stack(list(stats.values())).tolist()  # waits for the device's queued work


class Bench:
    """One configuration's training step on an in-memory uint8 data set, as the training loop runs it."""

    def __init__(
        self,
        arch: str,
        precision: str,
        batch: int = 256,
        fused: bool = False,
        channels_last: bool = False,
        compile_step: bool = False,
        device: str = "cpu",
        cuda_graphs: bool = False,
    ):
        self.cfg = resolve(TrainConfig(arch=arch, precision=precision, batch_size=batch, device=device), (1, 28, 28))
        self.rt = make_runtime(self.cfg)
        torch.manual_seed(0)
        self.gen, self.disc = (m.to(self.rt.device) for m in build_networks(self.cfg.model))
        if channels_last:
            self.gen, self.disc = (
                self.gen.to(memory_format=torch.channels_last),
                self.disc.to(memory_format=torch.channels_last),
            )
        self.opts = make_optimizers(self.cfg, Nets(self.gen, self.disc), capturable=cuda_graphs)
        for opt in (self.opts.g, self.opts.d):  # the kernels asked for, whatever the package's default
            for group in opt.param_groups:
                group["foreach"], group["fused"] = not fused, fused
        self.rng = torch.Generator(self.rt.device).manual_seed(0)
        self.images = torch.randint(0, 256, (8192, 1, 28, 28), dtype=torch.uint8, device=self.rt.device)
        self.channels_last = channels_last
        self.compiled = compile_step
        if compile_step:  # what a user would do: compile the two networks, keep the step in Python
            self.gen_run, self.disc_run = torch.compile(self.gen), torch.compile(self.disc)
        else:
            self.gen_run, self.disc_run = self.gen, self.disc
        self.nets = Nets(self.gen_run, self.disc_run)  # what the step runs: compiled or not
        # the loop's own step object (eager, or a replayed CUDA graph with cuda_graphs)
        self.runner = StepRunner(self.cfg, self.nets, self.opts, self.rt, self.rng, graphs=cuda_graphs)
        self.steps_done = 0

    def step(self):
        idx = torch.randint(0, len(self.images), (self.cfg.batch_size,), device=self.rt.device, generator=self.rng)
        if self.channels_last:
            real = to_unit_range(self.images[idx]).contiguous(memory_format=torch.channels_last)
            return train_step(self.cfg, self.nets, self.opts, real, self.rng, self.rt)
        self.steps_done += 1
        return self.runner(self.images[idx], self.steps_done)

    def images_per_second(self, warmup: int, steps: int, repeats: int) -> list[float]:
        for _ in range(warmup):
            stats = self.step()
        _sync(stats)  # the warm-up's queued work (on a GPU) is done before the clock starts
        rates = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(steps):
                stats = self.step()
            _sync(stats)  # one sync at the end, as the loop does at log intervals
            rates.append(steps * self.cfg.batch_size / (time.perf_counter() - t))
        return rates

    def flops_per_step(self) -> int:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        real = to_unit_range(self.images[: self.cfg.batch_size])
        with counter:  # an eager step: a replayed graph's kernels are invisible to the counter
            train_step(self.cfg, Nets(self.gen, self.disc), self.opts, real, self.rng, self.rt)
        return counter.get_total_flops()


def measure(name, bench: Bench, args, peak_gflops: float) -> dict:
    rates = bench.images_per_second(args.warmup, args.steps, args.repeats)
    flops = bench.flops_per_step()
    per_image = flops / bench.cfg.batch_size
    bound = peak_gflops * 1e9 / per_image
    row = {
        "name": name,
        "arch": bench.cfg.arch,
        "precision": bench.cfg.precision,
        "batch": bench.cfg.batch_size,
        "images_per_s": round(statistics.median(rates), 1),
        "repeats": [round(r, 1) for r in rates],
        "gflop_per_step": round(flops / 1e9, 3),
        "mflop_per_image": round(per_image / 1e6, 2),
        "bound_images_per_s": round(bound, 1),
        "fraction_of_bound": round(statistics.median(rates) / bound, 3),
    }
    print(
        f"{name:<34} {row['images_per_s']:>8.1f} img/s   {row['mflop_per_image']:>7.1f} MFLOP/img   "
        f"bound {bound:>7.0f} img/s   {100 * row['fraction_of_bound']:5.1f}% of bound",
        flush=True,
    )
    return row


# torch.profiler operator names by what they do; a step's self time not named here is "other"
KERNEL_KINDS = {
    "matmul and convolution": (
        "aten::mm",
        "aten::addmm",
        "aten::bmm",
        "aten::convolution_backward",
        "aten::mkldnn_convolution",
        "aten::_convolution",
        "aten::convolution",
    ),
    "optimiser": ("aten::_fused_adam_", "aten::_foreach_", "Optimizer."),
    "bf16 casts and copies": ("aten::_to_copy", "aten::copy_", "aten::to"),
    "normalisation and activations": (
        "aten::native_batch_norm",
        "aten::leaky_relu",
        "aten::threshold",
        "aten::relu",
        "aten::sigmoid",
        "aten::tanh",
        "aten::clamp",
    ),
}


def kernel_shares(bench: Bench, steps: int) -> dict:
    """Shares of a step's operator self time (torch.profiler, CPU) by KERNEL_KINDS, and the rate the matmul
    and convolution kernels reach on their own: the step's FLOPs over their time alone. That rate bounds what
    removing every other kernel could give: a step cannot run faster than its matmuls."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        bench.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            stats = bench.step()
        _sync(stats)
    times = {event.key: event.self_cpu_time_total for event in prof.key_averages()}  # microseconds
    total = sum(times.values())
    shares = {
        kind: sum(t for name, t in times.items() if name.startswith(prefixes))
        for kind, prefixes in KERNEL_KINDS.items()
    }
    shares["other"] = total - sum(shares.values())
    matmul_seconds = shares["matmul and convolution"] / 1e6 / steps
    top = sorted(times.items(), key=lambda kv: -kv[1])[:8]
    return {
        "self_time_share": {k: round(v / total, 3) for k, v in shares.items()},
        "top_operators": {name: round(t / total, 3) for name, t in top},
        "step_ms_profiled": round(total / 1e3 / steps, 1),
        "matmul_kernels_gflops": round(bench.flops_per_step() / matmul_seconds / 1e9, 1),
    }


def tf_peer(python: str, mode: str, steps: int) -> dict | None:
    try:
        proc = subprocess.run(
            [python, str(PEER), "--mode", mode, "--steps", str(steps)], capture_output=True, text=True, timeout=1200
        )
        line = [l for l in proc.stdout.splitlines() if l.startswith("{")][-1]
        out = json.loads(line)
        print(f"{'seed TF (' + mode + ')':<34} {out['images_per_s']:>8.1f} img/s", flush=True)
        return out
    except (subprocess.SubprocessError, IndexError, ValueError, OSError) as exc:
        print(f"seed TF peer ({mode}) failed: {exc}", flush=True)
        return None


def cli_end_to_end(arch: str, data: Path, tmp: Path, args, step_bench: Bench, epochs: int = 4) -> dict:
    """The real `infogan train` (default options but --arch): images/s over its epochs 2..N, each epoch's wall
    time as the run itself records it (metrics.jsonl's "work" records: first batch to the end of the epoch's
    work; start-up and the final pictures are outside), with the breakdown of that time. Next to it the bare
    step of the same configuration, measured just before and just after the run (step rates drift by 20% and
    more over minutes on a shared 2-core machine; their mean is the fair comparison)."""
    before = statistics.median(step_bench.images_per_second(args.warmup, args.steps, args.repeats))
    run = tmp / arch
    common.infogan(
        "train",
        "--dataset",
        f"npz:{data}",
        "--arch",
        arch,
        "--epochs",
        epochs,
        "--outdir",
        run,
        *args.e2e_options,
        capture=True,
    )
    after = statistics.median(step_bench.images_per_second(args.warmup, args.steps, args.repeats))
    cfg = json.loads((run / "config.json").read_text())
    n_images = (np.load(data)["x"].shape[0] // cfg["batch_size"]) * cfg["batch_size"]
    work = read_metrics(run / "metrics.jsonl", kind="work")[1:]  # epoch 1 holds the warm-up
    cli_rate = len(work) * n_images / sum(r["wall_seconds"] for r in work)
    parts = sorted({k for r in work for k in r if k.endswith("_seconds") and k != "wall_seconds"})
    breakdown = {k: round(statistics.fmean(r.get(k, 0.0) for r in work), 3) for k in parts}
    wall = statistics.fmean(r["wall_seconds"] for r in work)
    step_rate = (before + after) / 2
    row = {
        "name": f"infogan train {arch} (CLI)",
        "arch": arch,
        "batch": cfg["batch_size"],
        "precision": cfg["precision"],
        "data_images": n_images,
        "epochs_timed": len(work),
        "cli_images_per_s": round(cli_rate, 1),
        "step_images_per_s": round(step_rate, 1),
        "step_images_per_s_before_and_after": [round(before, 1), round(after, 1)],
        "cli_fraction_of_step": round(cli_rate / step_rate, 3),
        "epoch_wall_seconds": round(wall, 3),
        "epoch_breakdown_seconds": breakdown,
        "loop_steps_images_per_s": round(n_images / breakdown["steps_seconds"], 1),
        "per_epoch_work_fraction": round(1 - breakdown["steps_seconds"] / wall, 3),
    }
    print(
        f"{row['name']:<34} {cli_rate:>8.1f} img/s end to end, step alone {step_rate:.1f} img/s "
        f"({100 * row['cli_fraction_of_step']:.0f}%; before/after {before:.0f}/{after:.0f}); per-epoch work "
        f"{100 * row['per_epoch_work_fraction']:.1f}% of a {wall:.1f} s epoch: {breakdown}",
        flush=True,
    )
    return row


def peak_rss_full_mnist(tmp: Path) -> dict:
    """Peak resident memory of `infogan train` for one epoch on a 60,000 x 28 x 28 data set (bf16)."""
    rng = np.random.default_rng(0)
    np.savez(
        tmp / "mnist60k.npz",
        x=rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
        y=rng.integers(0, 10, 60000, dtype=np.uint8),
    )
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    common.infogan(
        "train",
        "--dataset",
        f"npz:{tmp / 'mnist60k.npz'}",
        "--epochs",
        1,
        "--batch-size",
        256,
        "--precision",
        "bf16",
        "--outdir",
        tmp / "run",
        "--no-progress",
        capture=True,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = {"peak_rss_mb": round(max(peak_kb, before) / 1024, 1), "epoch_seconds": round(time.perf_counter() - t, 1)}
    print(f"peak RSS, one epoch on 60,000 digits: {out['peak_rss_mb']} MB ({out['epoch_seconds']} s)", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tf-python", default=None, help="a Python with tensorflow-cpu, for the seed's peer")
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile of the step")
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument(
        "--e2e-data",
        default=str(ROOT.parent / "shared" / "data" / "mnist-train-10k.npz"),
        help="npz for the end-to-end CLI rows",
    )
    ap.add_argument("--e2e-only", action="store_true", help="only the end-to-end CLI rows (and their step rows)")
    ap.add_argument("--e2e-options", default="--no-progress", help="options for those runs (default: --no-progress)")
    ap.add_argument(
        "--peer-only",
        action="store_true",
        help="only the seed configuration's step (batch 256, "
        "the precision auto picks here) against the seed's TensorFlow (--tf-python), in one run",
    )
    ap.add_argument(
        "--demo-batch",
        action="store_true",
        help="only the demo's step (paper-mnist, fp32, batch 64) "
        "as a share of this CPU's fp32 matmul bound, with 1 and 2 threads, channels_last and fused Adam, "
        "and in bf16 beside it",
    )
    ap.add_argument(
        "--bf16-profile",
        action="store_true",
        help="only the bf16 steps the targets name (seed-mnist at batch 256, paper-mnist at 64; fused Adam, the "
        "CPU default) against the bf16 matmul bound, where their time goes, and torch.compile of each, with the "
        "fp32 step beside them",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="the JSON to write (default: results/throughput.json, "
        "throughput_e2e.json with --e2e-only, throughput_peer.json with --peer-only, "
        "throughput_batch64.json with --demo-batch)",
    )
    args = ap.parse_args()
    args.out_given = args.out is not None
    args.out = args.out or str(ROOT / "benchmarks" / "results" / "throughput.json")
    args.warmup, args.steps, args.repeats = (2, 3, 2) if args.quick else (5, 10, 5)
    args.e2e_options = args.e2e_options.split()
    default = resolve(TrainConfig(), (1, 28, 28))  # the CLI's defaults for grey data
    precision = resolve_precision(default)
    if args.demo_batch:
        rows = []
        for threads in (2, 1):
            torch.set_num_threads(threads)
            peak = matmul_peak(torch.float32)
            for channels_last in (False, True):
                name = f"paper-mnist fp32 batch 64, {threads} thread(s)" + (", channels_last" if channels_last else "")
                rows.append(
                    {
                        **measure(
                            name, Bench("paper-mnist", "fp32", batch=64, channels_last=channels_last), args, peak
                        ),
                        "threads": threads,
                        "matmul_peak_gflops": round(peak, 1),
                    }
                )
            # Adam as one fused kernel per tensor: at batch 64 the paper networks' 13 M parameters make the
            # optimiser's elementwise passes a larger share of a step than at 256
            fused = Bench("paper-mnist", "fp32", batch=64, fused=True)
            rows.append(
                {
                    **measure(f"paper-mnist fp32 batch 64, {threads} thread(s), fused Adam", fused, args, peak),
                    "threads": threads,
                    "matmul_peak_gflops": round(peak, 1),
                    "kernels": kernel_shares(fused, args.steps * 2),
                }
            )
            print(f"  where its time goes: {rows[-1]['kernels']}", flush=True)
            if args.compile:  # Inductor's fused C++ kernels for the small elementwise work around the matmuls
                rows.append(
                    {
                        **measure(
                            f"paper-mnist fp32 batch 64, {threads} thread(s), fused Adam, torch.compile",
                            Bench("paper-mnist", "fp32", batch=64, fused=True, compile_step=True),
                            args,
                            peak,
                        ),
                        "threads": threads,
                        "matmul_peak_gflops": round(peak, 1),
                    }
                )
            # the same step in bf16, side by side: what `--precision auto` should pick on this CPU
            peak16 = matmul_peak(torch.bfloat16)
            rows.append(
                {
                    **measure(
                        f"paper-mnist bf16 batch 64, {threads} thread(s)",
                        Bench("paper-mnist", "bf16", batch=64),
                        args,
                        peak16,
                    ),
                    "threads": threads,
                    "matmul_peak_gflops": round(peak16, 1),
                }
            )
        common.save(
            common.header("throughput-batch64", rows=rows),
            args.out if args.out_given else Path(args.out).with_name("throughput_batch64.json"),
        )
        return 0
    if args.bf16_profile:
        peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
        print(f"matmul peak: fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s", flush=True)
        rows = []
        for arch, batch in (("seed-mnist", 256), ("paper-mnist", 64)):
            for precision in ("fp32", "bf16"):
                bench = Bench(arch, precision, batch=batch, fused=True)
                row = measure(f"{arch} {precision} batch {batch}", bench, args, peaks[precision])
                row["kernels"] = kernel_shares(bench, args.steps * 2)
                print(f"  where its time goes: {row['kernels']}", flush=True)
                rows.append(row)
            try:  # Inductor: the elementwise work and casts around the matmuls fused into C++ loops
                compiled = Bench(arch, "bf16", batch=batch, fused=True, compile_step=True)
                rows.append(measure(f"{arch} bf16 batch {batch}, torch.compile", compiled, args, peaks["bf16"]))
            except Exception as exc:  # noqa: BLE001  (a failed compile is a result to record, not a crash)
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                print(f"{arch} bf16 torch.compile failed: {first}", flush=True)
                rows.append({"name": f"{arch} bf16 batch {batch}, torch.compile", "failed": first})
        common.save(
            common.header("throughput-bf16-profile", matmul_peak_gflops=peaks, rows=rows),
            args.out if args.out_given else Path(args.out).with_name("throughput_bf16_profile.json"),
        )
        return 0
    if args.peer_only:
        bench = Bench("seed-mnist", precision, batch=256)
        before = statistics.median(bench.images_per_second(args.warmup, args.steps, args.repeats))
        peer = {mode: tf_peer(args.tf_python, mode, 20) for mode in ("eager", "function")} if args.tf_python else {}
        after = statistics.median(bench.images_per_second(args.warmup, args.steps, args.repeats))
        ours = (before + after) / 2  # ours measured around the peers: this machine's speed drifts over minutes
        ratios = {f"ours_vs_tf_{m}": round(ours / r["images_per_s"], 2) for m, r in peer.items() if r}
        print(f"seed-mnist {precision} batch 256: {ours:.1f} img/s; {ratios}", flush=True)
        common.save(
            common.header(
                "throughput-peer",
                cpu_threads=torch.get_num_threads(),
                precision=precision,
                ours_images_per_s=round(ours, 1),
                ours_before_and_after=[round(before, 1), round(after, 1)],
                tf_peer=peer,
                ratios=ratios,
            ),
            args.out if args.out_given else Path(args.out).with_name("throughput_peer.json"),
        )
        return 0
    if args.e2e_only:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [
                cli_end_to_end(
                    arch, Path(args.e2e_data), Path(tmp), args, Bench(arch, precision, batch=default.batch_size)
                )
                for arch in ("seed-mnist", "paper-mnist")
            ]
        common.save(
            common.header("throughput-e2e", cpu_threads=torch.get_num_threads(), rows=rows),
            args.out if args.out_given else Path(args.out).with_name("throughput_e2e.json"),
        )
        return 0

    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(
        f"matmul peak: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s "
        f"({torch.get_num_threads()} threads)",
        flush=True,
    )
    rows = []
    for arch in ("seed-mnist", "paper-mnist"):
        for precision in ("fp32", "bf16"):
            rows.append(measure(f"{arch} {precision}", Bench(arch, precision), args, peaks[precision]))
    for precision in ("fp32", "bf16"):
        rows.append(
            measure(
                f"seed-mnist {precision} fused Adam", Bench("seed-mnist", precision, fused=True), args, peaks[precision]
            )
        )
        rows.append(
            measure(
                f"seed-mnist {precision} channels_last",
                Bench("seed-mnist", precision, channels_last=True),
                args,
                peaks[precision],
            )
        )
        if args.compile:
            try:
                rows.append(
                    measure(
                        f"seed-mnist {precision} torch.compile",
                        Bench("seed-mnist", precision, compile_step=True),
                        args,
                        peaks[precision],
                    )
                )
            except Exception as exc:  # a compiler toolchain problem is a result, not a crash
                print(f"torch.compile ({precision}) failed: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
                rows.append({"name": f"seed-mnist {precision} torch.compile", "error": str(exc)[:500]})

    peer = {}
    if args.tf_python:
        for mode in ("eager", "function"):
            peer[mode] = tf_peer(args.tf_python, mode, 20)
    ratios = {}
    by_name = {r["name"]: r for r in rows if "images_per_s" in r}
    ours_best = max(by_name["seed-mnist fp32"]["images_per_s"], by_name["seed-mnist bf16"]["images_per_s"])
    for mode, result in peer.items():
        if result:
            ratios[f"seed_config_best_vs_tf_{mode}"] = round(ours_best / result["images_per_s"], 2)
            ratios[f"seed_config_fp32_vs_tf_{mode}"] = round(
                by_name["seed-mnist fp32"]["images_per_s"] / result["images_per_s"], 2
            )
    for key, value in ratios.items():
        print(f"{key}: {value}x", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("seed-mnist", "paper-mnist"):
            rows.append(
                cli_end_to_end(
                    arch, Path(args.e2e_data), Path(tmp), args, Bench(arch, precision, batch=default.batch_size)
                )
            )
        memory = peak_rss_full_mnist(Path(tmp))
    common.save(
        common.header(
            "throughput",
            cpu_threads=torch.get_num_threads(),
            matmul_peak_gflops={k: round(v, 1) for k, v in peaks.items()},
            rows=rows,
            tf_peer=peer,
            ratios=ratios,
            memory=memory,
        ),
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
