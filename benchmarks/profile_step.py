"""Where a training step's time goes: one configuration against another, same networks and batch, through
torch.profiler (operators by their own CPU time) and the step's wall time.

    python benchmarks/profile_step.py                          # shapes:32, the MNIST preset against `shapes`
    python benchmarks/profile_step.py --arch cr-dsprites       # the same for InfoGAN-CR's networks

Each configuration trains on real shapes:32 images (rendered by the package) with the package's own step
(step.train_step); JSON to benchmarks/results/profile_step.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common
import torch

from infogan.config import TrainConfig, resolve
from infogan.data.datasets import load_dataset
from infogan.data.images import to_unit_range
from infogan.model.networks import CRDiscriminator, build_networks
from infogan.train.runtime import make_runtime
from infogan.train.state import Nets, make_optimizers
from infogan.train.step import train_step

CONFIGS = {  # name -> TrainConfig fields over the arch and batch given
    "mnist preset": dict(preset="mnist"),
    "shapes preset": dict(preset="shapes"),
    "shapes preset without spectral norm": dict(preset="shapes", spectral_norm=False),
    "mnist preset + spectral norm": dict(preset="mnist", spectral_norm=True),
}


def build(fields: dict, arch: str, batch: int, precision: str, shape):
    cfg = resolve(TrainConfig(arch=arch, batch_size=batch, precision=precision, device="cpu", **fields), shape)
    torch.manual_seed(0)
    gen, disc = build_networks(cfg.model)
    nets = Nets(gen, disc, CRDiscriminator(cfg.model) if cfg.cr_weight > 0 else None)
    return cfg, nets, make_optimizers(cfg, nets), make_runtime(cfg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="paper-mnist")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--configs", default=";".join(CONFIGS), help="names of CONFIGS, separated by ;")
    ap.add_argument("--out", default=str(common.RESULTS / "profile_step.json"))
    args = ap.parse_args()
    data = load_dataset("shapes:32", common.ROOT / "runs" / "data")
    rng = torch.Generator().manual_seed(0)
    steps = {}
    for name in args.configs.split(";"):
        cfg, nets, opts, rt = build(CONFIGS[name], args.arch, args.batch_size, args.precision, data.shape)
        latent_rng = torch.Generator().manual_seed(0)

        def step(i, cfg=cfg, nets=nets, opts=opts, rt=rt, latent_rng=latent_rng):
            pick = torch.randint(len(data), (args.batch_size,), generator=rng)
            return train_step(cfg, nets, opts, to_unit_range(data.images[pick]), latent_rng, rt, i)

        for i in range(5):  # warm-up
            step(i)
        steps[name] = step
    # the wall times first, the configurations interleaved round by round (this machine's speed drifts), and
    # only then the profiles (a profiled process does not time alike afterwards: measured 2x slower)
    times = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, step in steps.items():
            t = time.perf_counter()
            step(0)
            times[name].append(time.perf_counter() - t)
    rows = {}
    for name, step in steps.items():
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for i in range(5):
                step(i)
        ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
        total = sum(e.self_cpu_time_total for e in prof.key_averages())
        median = statistics.median(times[name])
        rows[name] = {
            "ms_per_step": round(1000 * median, 2),
            "images_per_s": round(args.batch_size / median, 1),
            "top_ops_self_cpu_share": {e.key: round(e.self_cpu_time_total / total, 3) for e in ops},
        }
        print(
            f"{name:36s} {rows[name]['ms_per_step']:8.2f} ms/step  {rows[name]['images_per_s']:7.1f} img/s  "
            f"top: {list(rows[name]['top_ops_self_cpu_share'].items())[:4]}",
            flush=True,
        )
    common.save(
        common.header(
            "profile_step",
            arch=args.arch,
            batch_size=args.batch_size,
            precision=args.precision,
            threads=torch.get_num_threads(),
            data="shapes:32",
            configs=rows,
        ),
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
