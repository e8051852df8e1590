"""Every preset of the paper trains: a few hundred steps of each on real images of the right shape.

The paper's own data (SVHN, CelebA, 3D Chairs, 3D Faces) cannot be downloaded here, so each preset runs on
images of its shape made from ../shared/data: CIFAR-10 photos for the colour presets (svhn, celeba,
cifar10), MNIST digits padded to 32x32 for faces, MNIST digits upscaled to 64x64 for chairs, MNIST itself
for mnist. This checks the plumbing at the paper's sizes (every code, every picture, finite losses, the
information bound rising), not what the models learn on their own data.

    python benchmarks/presets.py                    # all presets, 300 steps each at batch 32
    python benchmarks/presets.py --presets chairs --steps 100

JSON to benchmarks/results/presets.json; each preset's last sample grid to docs/presets/<preset>.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
from common import ROOT

from infogan.presets import PRESETS
from infogan.serve.pictures import read_metrics

SHARED = common.SHARED_DATA


def stand_in_data(preset: str, n: int, folder: Path) -> Path:
    """An npz of n real images of the preset's shape (see the module docstring)."""
    p = PRESETS[preset]
    path = folder / f"{preset}.npz"
    if p.channels == 3:
        x = np.load(SHARED / "cifar10-train-10k.npz")["x"][:n]
    else:
        digits = np.load(SHARED / "mnist-train-10k.npz")["x"][:n]
        if p.image_size == 28:
            x = digits
        elif p.image_size == 32:
            x = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
        else:
            from PIL import Image

            x = np.stack(
                [np.asarray(Image.fromarray(d).resize((p.image_size, p.image_size), Image.BILINEAR)) for d in digits]
            )
    np.savez(path, x=x)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "presets.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs" / "presets"))
    parser.add_argument("--workdir", default=None, help="keeps the runs; a finished run there is not retrained")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-presets-"))
    work.mkdir(parents=True, exist_ok=True)
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    rows = {}
    for preset in args.presets.split(","):
        run = work / preset
        started = time.perf_counter()
        status, trained = 0, not (run / "generator.safetensors").exists()  # finished earlier with this --workdir
        if trained:
            data = stand_in_data(preset, args.steps * args.batch_size, work)
            proc = common.infogan(
                "train",
                "--preset",
                preset,
                "--dataset",
                f"npz:{data}",
                "--outdir",
                run,
                "--overwrite",
                "--batch-size",
                args.batch_size,
                "--epochs",
                1,
                "--log-every",
                max(1, args.steps // 12),
                "--no-progress",
                capture=True,
                check=False,
            )
            status = proc.returncode
        seconds = time.perf_counter() - started
        if status != 0:
            rows[preset] = {"exit_status": status, "stderr": proc.stderr[-2000:]}
            print(f"{preset}: FAILED ({status})\n{proc.stderr[-2000:]}", flush=True)
            continue
        cfg = json.loads((run / "config.json").read_text())
        intervals = read_metrics(run / "metrics.jsonl", kind="interval")
        mi = [r["mi_bound"] for r in intervals]
        pictures = sorted(str(p.relative_to(run)) for p in run.rglob("*.png"))
        rows[preset] = {
            "exit_status": 0,
            "arch": cfg["arch"],
            "categorical": cfg["categorical"],
            "continuous": cfg["continuous"],
            "noise_dim": cfg["noise_dim"],
            "image_shape": cfg["image_shape"],
            "steps": intervals[-1]["step"],
            "wall_seconds": round(seconds, 1) if trained else None,
            "mi_bound_first_interval": mi[0] if mi else None,
            "mi_bound_last_interval": mi[-1] if mi else None,
            "mi_bound_max": sum(float(np.log(k)) for k in cfg["categorical"]),
            "all_losses_finite": all(np.isfinite([r[k] for r in intervals for k in ("d_loss", "g_loss", "cont_loss")])),
            "pictures": pictures,
        }
        shutil.copyfile(run / "samples" / "epoch_0001.png", docs / f"{preset}.png")
        print(f"{preset}: {json.dumps(rows[preset])}", flush=True)
    common.save(common.header("presets", steps=args.steps, batch_size=args.batch_size, presets=rows), args.out)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["exit_status"] == 0 for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
