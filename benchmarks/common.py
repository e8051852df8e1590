"""What every benchmark shares: the package's own commands, a result file's header, and its JSON.

Benchmarks call the package (`infogan train/sweep/evaluate`, read_metrics) rather than re-implementing
it. Importing this module puts the repository root first on sys.path, so a benchmark runs this checkout's
`infogan` whether or not it is installed:

    import common  # noqa: F401  (first: this checkout's infogan)
    from infogan... import ...
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"  # real MNIST and CIFAR-10 images (../shared/data/README.md)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def command(*args, script: Path | None = None) -> list[str]:
    """The argv of `python -m infogan ARGS` (or of `script ARGS`, a file that extends the package's tables)."""
    return [sys.executable, *([str(script)] if script else ["-m", "infogan"]), *map(str, args)]


def start(*args, env: dict | None = None) -> subprocess.Popen:
    """`python -m infogan ARGS` started in the background from the repository root (several at once), its
    output discarded; wait() on it."""
    return subprocess.Popen(
        command(*args), cwd=ROOT, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def infogan(
    *args: str,
    log: Path | None = None,
    check: bool = True,
    capture: bool = False,
    env: dict | None = None,
    script: Path | None = None,
) -> subprocess.CompletedProcess:
    """`python -m infogan ARGS` from the repository root, as a user runs it. `log`: its output appended
    there; `capture`: its output returned (text); else it goes to this terminal. `check`: a failure raises.
    `script`: a file that extends the package's tables and then runs its CLI (e.g. health_archs.py)."""
    cmd = command(*args, script=script)
    print("$ infogan " + " ".join(map(str, args)), flush=True)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env or ENV, stdout=subprocess.PIPE if capture else fh, stderr=fh, text=True
            )
    else:
        proc = subprocess.run(cmd, cwd=ROOT, env=env or ENV, capture_output=capture, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"infogan {' '.join(map(str, args[:2]))} failed with exit status {proc.returncode}"
            + (f" (log: {log})" if log else "")
        )
    return proc


def header(name: str, **extra) -> dict:
    """The head of every result file: what was measured, when, on what."""
    import torch

    from infogan.train.runtime import available_cores, bf16_pays, native_bf16

    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), platform.processor()
    )
    return {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": platform.platform(),
        "cpu": cpu,
        "cores": available_cores(),
        "cpu_native_bf16": native_bf16(torch.device("cpu")),
        "cpu_auto_precision": "bf16" if bf16_pays(torch.device("cpu")) else "fp32",
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "threading_env": _threading_env(),
        **extra,
    }


def _threading_env() -> dict[str, str]:
    """The environment variables that change how the CPU kernels use threads and memory, where set."""
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k.startswith(("OMP_", "GOMP_", "KMP_", "MKL_", "DNNL_", "ONEDNN_", "MALLOC_"))
    }


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def save(result: dict, out: str | Path) -> Path:
    """Write a result as indented JSON (atomically) and say where."""
    from infogan.files import atomic_write_bytes

    out = Path(out)
    atomic_write_bytes(out, (json.dumps(result, indent=2) + "\n").encode())
    print(f"results: {out}", flush=True)
    return out


def epochs(run_dir: str | Path) -> list[dict]:
    """A run's epoch records (metrics.jsonl), through the package's reader."""
    from infogan.serve.pictures import read_metrics

    return read_metrics(Path(run_dir) / "metrics.jsonl")


def split_npz(workdir: Path, n_train: int = 9000, data: Path | None = None) -> tuple[Path, Path]:
    """An npz of images and labels (default: the shared 10,000 real MNIST digits) as train (the first n_train)
    and held-out (the rest) npz files in workdir."""
    import numpy as np

    source = np.load(data or SHARED_DATA / "mnist-train-10k.npz")
    if not 0 < n_train < len(source["x"]):
        raise SystemExit(f"--n-train must leave held-out images: 1..{len(source['x']) - 1}, got {n_train}")
    workdir.mkdir(parents=True, exist_ok=True)
    train, heldout = workdir / f"train{n_train}.npz", workdir / "heldout.npz"
    if not train.exists():
        np.savez(train, x=source["x"][:n_train], y=source["y"][:n_train])
        np.savez(heldout, x=source["x"][n_train:], y=source["y"][n_train:])
    return train, heldout
