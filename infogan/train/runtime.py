"""Where and in what precision a run computes: device choice, autocast, loss scaling.

`--precision auto` (the default) picks bf16 where the hardware computes it natively and faster than fp32, and
fp32 elsewhere (`precision_decision`): emulated bf16 is slower than fp32, and so is native bf16 on some CPUs.
The decision reads the machine, not a moment's timing, so the same command picks the same precision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from infogan.config import TrainConfig
from infogan.data.download import default_data_dir
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.train import distributed
from infogan.train.distributed import SINGLE, Dist


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

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)  # skipped where the scaled gradients hold an inf


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


# bf16 must beat fp32 by this much on a matmul before `auto` takes it on a CPU without AMX: a step gains less
# than its matmuls (docs/results.md#speed)
BF16_MIN_MATMUL_GAIN = 1.5
PRECISION_CACHE = "cpu_precision.json"  # in the cache folder: this CPU's one stored bf16 measurement


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def cpu_identity() -> str:
    """The CPU's model name, its flags and the core count this process sees: what a stored measurement is for."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    model = next((line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    digest = hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:16]
    return f"{model} | flags {digest} | {available_cores()} cores | torch {torch.__version__}"


@functools.cache
def cpu_bf16_matmul_gain(n: int = 1024, reps: int = 5) -> float:
    """How many times faster a bf16 matmul runs than an fp32 one on this CPU (the median of `reps` pairs)."""

    def one(dtype: torch.dtype) -> list[float]:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        a @ b  # warm-up: oneDNN picks and caches its kernel
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
        return times

    return statistics.median(one(torch.float32)) / statistics.median(one(torch.bfloat16))


def cpu_bf16_decision(cache_dir: Path | None = None) -> tuple[bool, str]:
    """Whether `auto` trains in bf16 on this CPU, and why; the same answer every time on the same machine.

    - no native bf16 (neither AVX512-BF16 nor AMX): fp32, bf16 would be emulated;
    - AMX: bf16, its tile units run bf16 matmuls several times faster than fp32;
    - AVX512-BF16 without AMX: some such CPUs gain and some lose, so it is measured once, stored in the
      cache folder under the CPU's identity, and every later run on this CPU reads the stored answer
      instead of timing again (a timing on a busy machine could flip it)."""
    if not native_bf16(torch.device("cpu")):
        return False, "this CPU has no native bf16 (bf16 would be emulated, slower than fp32)"
    flags = cpu_flags()
    if {"amx_bf16", "amx_tile"} & flags:
        return True, "this CPU has AMX (bf16 matrix units)"
    path = (cache_dir or default_data_dir()) / PRECISION_CACHE
    identity = cpu_identity()
    stored = _read_json(path)
    gain = stored.get(identity)
    how = "stored"
    if not isinstance(gain, (int, float)):
        gain, how = round(cpu_bf16_matmul_gain(), 3), "measured once"
        stored[identity] = gain
        _write_json(path, stored)
    choice = gain >= BF16_MIN_MATMUL_GAIN
    return choice, (
        f"AVX512-BF16 without AMX: a bf16 matmul runs {gain:.2f}x fp32 here ({how}, {path}; "
        f"bf16 needs {BF16_MIN_MATMUL_GAIN}x)"
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    """Written whole or not at all; a folder that cannot be written is no error: the next run measures again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    except OSError:
        pass


def precision_decision(device: torch.device) -> tuple[str, str]:
    """`--precision auto` on `device`: the precision and the reason, printed once when a run starts."""
    if device.type == "cpu":
        pays, why = cpu_bf16_decision()
        return ("bf16" if pays else "fp32"), why
    if native_bf16(device):
        return "bf16", f"{device.type} computes bf16 natively"
    return "fp32", f"{device.type} has no native bf16"


def bf16_pays(device: torch.device) -> bool:
    """Whether `--precision auto` trains in bf16 on `device`."""
    return precision_decision(device)[0] == "bf16"


def resolve_precision(cfg: TrainConfig, dist: Dist = SINGLE, announce: bool = False) -> str:
    """`auto` -> bf16 where it pays (precision_decision), else fp32; `announce`: print the choice and why.

    Under torchrun (collective) rank 0 decides for every rank."""
    if cfg.precision != "auto":
        return cfg.precision
    device = select_device(cfg.device, dist)
    precision, why = distributed.on_main(dist, lambda: precision_decision(device))
    if announce and dist.is_main:
        print(f"precision: {precision} ({why}; --precision fp32 or bf16 overrides)", flush=True)
    return precision


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def set_threads(cfg: TrainConfig) -> int:
    """One intra-op thread per core this process is given (--threads, else its affinity mask), shared with the
    other ranks torchrun starts on this machine (LOCAL_WORLD_SIZE). Several training processes on one machine
    should split the cores (sweep --jobs does): two processes that each run one thread per core of the whole
    machine thrash (epochs 3-6x slower)."""
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE") or 1)
    threads = cfg.threads or max(1, available_cores() // max(local_ranks, 1))
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
