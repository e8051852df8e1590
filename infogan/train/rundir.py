"""A run directory's life: created (or overwritten) and locked, checked before a resume, tidied back to its
checkpoint, and its metrics log (metrics.jsonl, and TensorBoard when asked).

    RUN_DIR/config.json        the resolved TrainConfig (its run_id is the run's identity)
    RUN_DIR/metrics.jsonl      one JSON record per line: "interval", "epoch", "work", "health"
    RUN_DIR/checkpoints/       last.pt (and epoch_NNNN.pt with --keep-every)
    RUN_DIR/samples/ traversals/ plots/ eval/   pictures, curves, evaluate's reports
    RUN_DIR/generator.safetensors   the finished generator
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from infogan.checkpoint import check_structure, load_checkpoint
from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes, read_file
from infogan.serve.pictures import SAMPLE_NAME, read_metrics
from infogan.train.runlock import LOCK_NAME, RunLock

RUN_LAYOUT = {
    "metrics.jsonl": "file",
    "config.json": "file",
    "samples": "folder",
    "plots": "folder",
    "traversals": "folder",
    "checkpoints": "folder",
    "eval": "folder",
}
# What --resume may change; everything else is the run's identity.
RESUME_OVERRIDABLE = (
    "epochs",
    "data_dir",
    "device",
    "progress",
    "log_every",
    "checkpoint_every",
    "keep_every",
    "tensorboard",
    "threads",
    "eval_every",
    "image_metrics",
    "image_metrics_every",
    "image_metrics_samples",
    "inception_weights",
    "cuda_graphs",
    "stop_on_failure",
    "dist_timeout",
    "eval_dataset",
)


def create(cfg: TrainConfig, data_name: str, overwrite: bool) -> tuple[Path, RunLock]:
    """Create (or, with --overwrite, empty) the run directory and lock it for this process."""
    path = Path(cfg.outdir) if cfg.outdir else Path("runs").absolute() / f"{data_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"--outdir {path} is a file, not a folder: pick another --outdir")
    if path.is_dir() and any(p.name != LOCK_NAME for p in path.iterdir()):
        if not overwrite:
            raise UsageError(
                f"--outdir {path} already holds files: pass --resume {path} to continue that run, "
                f"--overwrite to replace it, or choose another --outdir"
            )
        if not (path / "config.json").is_file():
            raise UsageError(f"--overwrite only replaces run directories (with a config.json); {path} is not one")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --outdir {path}: {exc.strerror or exc}; choose another --outdir") from None
    lock = RunLock.acquire(path)  # before anything is removed: a run still training there keeps its files
    try:
        for item in path.iterdir():
            if item.name != LOCK_NAME:
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        lock.release()
        raise UsageError(f"cannot write to --outdir {path}: {exc.strerror or exc}; choose another --outdir") from None
    return path, lock


def check_layout(run_dir: Path) -> None:
    """Each entry this code writes, where present, is of the kind it writes (a folder where a file should
    be, or the reverse, is named instead of failing mid-run)."""
    for name, kind in RUN_LAYOUT.items():
        path = run_dir / name
        if path.exists() and (path.is_dir() if kind == "file" else not path.is_dir()):
            raise UsageError(
                f"{path} should be a {kind} but is {'a folder' if kind == 'file' else 'not a folder'}: "
                f"move it away and resume again"
            )


def resumable(run_dir: Path, overrides: dict) -> tuple[dict, TrainConfig]:
    """The last checkpoint of the run in `run_dir` and its config, after every check a resume makes before
    writing anything: the folder's layout, a checkpoint there, only RESUME_OVERRIDABLE fields overridden, the
    checkpoint whole and of this run."""
    if not run_dir.is_dir():
        raise UsageError(f"--resume {run_dir}: no such run directory")
    check_layout(run_dir)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.exists():
        raise UsageError(f"--resume {run_dir}: it has no checkpoints/last.pt (nothing to resume; start a new run)")
    bad = sorted(set(overrides) - set(RESUME_OVERRIDABLE))
    if bad:
        raise UsageError(
            f"--resume continues the saved config; {', '.join('--' + b.replace('_', '-') for b in bad)} "
            f"cannot change (start a new run instead)"
        )
    checkpoint = load_checkpoint(ckpt_path)
    check_structure(checkpoint, ckpt_path, resumable=True)
    saved = TrainConfig.from_dict(checkpoint["config"])
    saved.validate()
    check_same_run(run_dir, saved)
    return checkpoint, saved


def auto_resume(cfg: TrainConfig) -> dict:
    """--auto-resume: what to do with --outdir for this resolved config. {"resume": True, "overrides": the
    resumable fields that differ} when it holds a checkpoint of a run with this config; {"resume": False,
    "replace": whether a run of this config that never checkpointed is there} to start; UsageError when it
    holds something else."""
    if not cfg.outdir:
        raise UsageError("--auto-resume needs --outdir DIR: the directory every restart of the run shares")
    path = Path(cfg.outdir)
    if not path.exists() or not any(p.name != LOCK_NAME for p in path.iterdir()):
        return {"resume": False, "replace": False}
    if not (path / "config.json").is_file():
        raise UsageError(
            f"--auto-resume: --outdir {path} holds files but no run (no config.json): choose another --outdir"
        )
    saved = TrainConfig.load(path / "config.json")
    ignored = set(RESUME_OVERRIDABLE) | {"outdir", "run_id"}
    new, old = cfg.to_dict(), saved.to_dict()
    differ = [k for k in new if k not in ignored and new[k] != old.get(k)]
    if differ:
        shown = ", ".join(f"{k} {old.get(k)!r} there, {new[k]!r} here" for k in differ[:3])
        raise UsageError(
            f"--auto-resume: --outdir {path} holds another run ({shown}): choose another --outdir, "
            f"or --overwrite to replace it"
        )
    if not (path / "checkpoints" / "last.pt").is_file():
        return {"resume": False, "replace": True}  # a start that never checkpointed: nothing to lose
    return {"resume": True, "overrides": {k: new[k] for k in RESUME_OVERRIDABLE if new[k] != old.get(k)}}


def check_same_run(run_dir: Path, ckpt_cfg: TrainConfig) -> None:
    """The checkpoint was written by the run that config.json describes, not copied in from another one."""
    on_disk = TrainConfig.load(run_dir / "config.json")
    if on_disk.run_id is not None or ckpt_cfg.run_id is not None:
        same = on_disk.run_id == ckpt_cfg.run_id
    else:  # runs made before run ids: the configs must agree on everything a resume may not change
        ignored = set(RESUME_OVERRIDABLE) | {"outdir"}
        a, b = on_disk.to_dict(), ckpt_cfg.to_dict()
        same = all(a[k] == b[k] for k in a if k not in ignored)
    if not same:
        raise UsageError(
            f"{run_dir / 'checkpoints' / 'last.pt'} belongs to another run than {run_dir / 'config.json'} "
            f"describes (copied in from elsewhere?): resume refused, nothing was changed"
        )


def tidy(run_dir: Path, step: int, epoch: int) -> None:
    """Back to the checkpoint's state: only whole records up to its step in metrics.jsonl (a line torn by a
    kill mid-append, or records written after the checkpoint, are dropped, so every line parses and no
    epoch appears twice), and no sample grid of an epoch after it or of an earlier stop."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        atomic_write_bytes(path, b"")
    else:
        raw = read_file(path, "metrics file")
        lines = [line for line in raw.decode(errors="replace").splitlines() if line.strip()]
        kept = [r for r in read_metrics(path, kind=None) if r.get("step", 0) <= step]
        if len(kept) != len(lines) or (raw and not raw.endswith(b"\n")):
            atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode())
    for stale in (run_dir / "samples").glob("epoch_*.png"):
        match = SAMPLE_NAME.fullmatch(stale.name)
        if match and int(match[1]) > epoch:
            stale.unlink()
    (run_dir / "samples" / "interrupted.png").unlink(missing_ok=True)  # the grid at an earlier stop


def keep_checkpoint(run_dir: Path, epoch: int) -> None:
    """checkpoints/epoch_NNNN.pt: a copy of last.pt kept for good (--keep-every)."""
    last = run_dir / "checkpoints" / "last.pt"
    atomic_write_bytes(last.with_name(f"epoch_{epoch:04d}.pt"), last.read_bytes())


def tensorboard_available():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'") from None
    return SummaryWriter


class MetricsLog:
    """Appends records to metrics.jsonl (and, with --tensorboard, every number of an "interval" or "epoch"
    record to RUN_DIR/tensorboard, under KIND/NAME at the record's step)."""

    def __init__(self, run_dir: Path, tensorboard: bool = False):
        self.path = run_dir / "metrics.jsonl"
        self.run_dir = run_dir
        self.tb = tensorboard_available()(log_dir=str(run_dir / "tensorboard")) if tensorboard else None

    def append(self, record: dict) -> None:
        try:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk: stop with the checkpoint on disk intact
            raise UsageError(
                f"could not append to {self.path}: {exc.strerror or exc}; free space and resume "
                f"(infogan train --resume {self.run_dir})"
            ) from None
        if self.tb is not None and record.get("kind") in ("interval", "epoch"):
            for key, value in record.items():
                if (
                    key not in ("epoch", "step")
                    and isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                ):
                    self.tb.add_scalar(f"{record['kind']}/{key}", value, record["step"])

    def records(self, kind: str | None = "epoch") -> list[dict]:
        return read_metrics(self.path, kind)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
