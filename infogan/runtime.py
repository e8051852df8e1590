"""Where and in what precision a run computes: device choice, autocast, loss scaling.

`--precision auto` (the default) picks bf16 where the hardware computes it natively and fp32 elsewhere,
because emulated bf16 is slower than fp32 (measurements in BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass

import torch

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
    """Whether bf16 autocast is fast here: a CUDA GPU with bf16 units, or a CPU with AVX512-BF16/AMX.

    On other CPUs bf16 is emulated and slower than fp32, so `--precision auto` keeps fp32 there.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(cfg: TrainConfig, dist: Dist = SINGLE) -> str:
    """`auto` -> bf16 where native (1.8-2.1x faster on an AVX512-BF16 CPU, same accuracy: BENCHMARKS.md), else fp32."""
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if native_bf16(select_device(cfg.device, dist)) else "fp32"


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
