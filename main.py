"""The seed's entry point, kept: `python3 main.py --dataset CIFAR10 --noise_dim 64`.

Accepts exactly the seed's flags and defaults and runs the same training as `infogan train`, plus one data
set the seed did not have: `--dataset mnist-sample`, the digits shipped in the package, so that the offline
advice a failed download prints works here too. Everything else (resume, presets, precision, ...) is in
`infogan train --help`.
"""

import argparse
import sys

from infogan.cli import main as infogan_main

SEED_DEFAULTS = {  # the seed README's "Help Log"
    "mnist": {"epochs": 50, "noise_dim": 62, "continuous_weight": 0.5},
    "cifar10": {"epochs": 150, "noise_dim": 64, "continuous_weight": 1.0},
}
SEED_DEFAULTS["mnist-sample"] = SEED_DEFAULTS["mnist"]  # MNIST digits, offline


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="main.py", description="InfoGAN (seed-compatible entry point; `infogan train --help` lists every option)"
    )
    parser.add_argument(
        "--dataset",
        default="MNIST",
        help="Name of dataset: MNIST (default) or CIFAR10; "
        "mnist-sample trains on the digits shipped in the package (no download)",
    )
    parser.add_argument("--epochs", type=int, help="No of epochs: default 50 for MNIST, 150 for CIFAR10")
    parser.add_argument(
        "--noise_dim", type=int, help="No of latent Noise variables, default 62 for MNIST, 64 for CIFAR10"
    )
    parser.add_argument(
        "--continuous_weight",
        type=float,
        help="Weight given to continuous Latent codes in loss calculation, default 0.5 for MNIST, 1 for CIFAR10",
    )
    parser.add_argument("--batch_size", type=int, default=256, help="Batch size, default 256")
    parser.add_argument(
        "--outdir", help="Directory in which to store data, default runs/<dataset>-<time> (a trailing '/' is fine)"
    )
    args = parser.parse_args(argv)
    dataset = args.dataset.lower()
    if dataset not in SEED_DEFAULTS:
        parser.exit(
            2,
            f"main.py: error: --dataset must be MNIST, CIFAR10 or mnist-sample, got {args.dataset!r} "
            f"(infogan train takes more data sets)\n",
        )
    return args, dataset


def translate(argv):
    """The seed's flags as an `infogan train` argument list."""
    args, dataset = parse(argv)
    defaults = SEED_DEFAULTS[dataset]
    out = ["train", "--dataset", dataset, "--batch-size", str(args.batch_size)]
    for name in ("epochs", "noise_dim", "continuous_weight"):
        value = getattr(args, name)
        out += [f"--{name.replace('_', '-')}", str(defaults[name] if value is None else value)]
    if args.outdir:
        out += ["--outdir", args.outdir.rstrip("/") or "/"]
    return out


if __name__ == "__main__":
    sys.exit(infogan_main(translate(sys.argv[1:])))
