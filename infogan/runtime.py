"""Where and in what precision a run computes: device choice, autocast, loss scaling.

`--precision auto` (the default) picks bf16 where the hardware computes it natively and faster than fp32, and
fp32 elsewhere: emulated bf16 is slower than fp32, and so is native bf16 on some CPUs (measurements in
BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
from dataclasses import dataclass

import torch

from . import distributed
from .config import TrainConfig
from .distributed import SINGLE, Dist
from .errors import UsageError


@dataclass
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None: full fp32
    scaler: torch.amp.GradScaler | None  # fp16 on CUDA only
    # autocast's cache of low-precision weight copies; off inside a CUDA graph (PyTorch requires it: a
    # cached copy made during capture would not be refreshed by replays)
    autocast_cache: bool = True

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, cache_enabled=self.autocast_cache)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)


def select_device(name: str, dist: Dist = SINGLE) -> torch.device:
    if dist.enabled and torch.cuda.is_available() and name in ("auto", "cuda"):
        return torch.device("cuda", dist.local_rank)  # torchrun: one GPU per process
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu (or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple's MPS backend is not available here; use --device cpu (or auto)")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 is computed natively here: a CUDA GPU with bf16 units, or a CPU with AVX512-BF16/AMX.

    On other CPUs bf16 is emulated and slower than fp32; on a CPU, native is not yet fast (see bf16_pays).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


# bf16 must beat fp32 by this much on a matmul before `auto` takes it: a step gains less than its matmuls
# (measured: matmul 4.2x -> step 1.8-2.1x on the bf16 CPU of BENCHMARKS.md's Speed table; matmul 0.61x ->
# step 0.74x on a Xeon with AVX512-BF16 and no AMX)
BF16_MIN_MATMUL_GAIN = 1.5


@functools.lru_cache(maxsize=None)
def cpu_bf16_matmul_gain(n: int = 1024, reps: int = 3) -> float:
    """How many times faster a bf16 matmul runs than an fp32 one on this CPU (best of `reps`, about 0.1 s).

    Measured rather than read from CPU flags: AVX512-BF16 alone does not say it. A 2-core AMD EPYC with it
    ran the demo 1.6x faster in bf16 than in fp32; a 2-core Intel Xeon with it (no AMX) ran the demo's step
    at 0.74x of fp32 (BENCHMARKS.md)."""
    def best(dtype: torch.dtype) -> float:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        a @ b  # warm-up: oneDNN picks and caches its kernel
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
        return min(times)

    return best(torch.float32) / best(torch.bfloat16)


def bf16_pays(device: torch.device) -> bool:
    """Whether `--precision auto` should train in bf16 on `device`: native there, and on a CPU measurably faster."""
    if not native_bf16(device):
        return False
    return device.type != "cpu" or cpu_bf16_matmul_gain() >= BF16_MIN_MATMUL_GAIN


def resolve_precision(cfg: TrainConfig, dist: Dist = SINGLE) -> str:
    """`auto` -> bf16 where it pays (1.8-2.1x faster steps where it does, same accuracy: BENCHMARKS.md), else fp32.

    Under torchrun (collective) rank 0 decides for every rank: a measured choice could differ between ranks."""
    if cfg.precision != "auto":
        return cfg.precision
    device = select_device(cfg.device, dist)
    return distributed.on_main(dist, lambda: "bf16" if bf16_pays(device) else "fp32")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def set_threads(cfg: TrainConfig) -> int:
    """One intra-op thread per core this process is given (--threads, else its affinity mask). Several
    training processes on one machine should split the cores (sweep --jobs does): two processes that each
    run one thread per core of the whole machine thrash (measured: epochs 3-6x slower)."""
    threads = cfg.threads or available_cores()
    torch.set_num_threads(threads)
    return threads


def make_runtime(cfg: TrainConfig, dist: Dist = SINGLE) -> Runtime:
    device = select_device(cfg.device, dist)
    if cfg.precision == "auto":
        cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg, dist))
    if cfg.precision == "fp32":
        return Runtime(device, None, None)
    if cfg.precision == "bf16":
        return Runtime(device, torch.bfloat16, None)
    if device.type != "cuda":
        raise UsageError(f"--precision fp16 needs a CUDA GPU (this run is on {device.type}); use bf16 or fp32")
    return Runtime(device, torch.float16, torch.amp.GradScaler("cuda"))
