"""`infogan` command line: argument parsing only; the work happens in training, metrics, inference.

Every multi-word option accepts both spellings (`--noise-dim` and the seed's `--noise_dim`). Every
option's help states its default. Bad input exits with status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from .config import ARCHS, DEVICES, NOISE_PRIORS, PRECISIONS, TrainConfig
from .errors import UsageError

_DEFAULTS = TrainConfig()


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line (and exit status 2) instead of usage + message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _spellings(name: str) -> list[str]:
    dashed = "--" + name.replace("_", "-")
    return [dashed, "--" + name] if "_" in name else [dashed]


def _finite_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _option(group, name: str, help_text: str, default_text: str | None = None, **kwargs) -> None:
    """An option for TrainConfig field `name`; its parsed value is absent unless given (SUPPRESS), so the
    command knows what the user set explicitly (it matters for --resume)."""
    default = getattr(_DEFAULTS, name)
    shown = default_text if default_text is not None else repr(default) if isinstance(default, str) else default
    group.add_argument(*_spellings(name), dest=name, default=argparse.SUPPRESS,
                       help=f"{help_text} (default: {shown})", **kwargs)


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    _option(data, "dataset", "mnist, mnist-sample (5,000 bundled digits, offline), cifar10, npz:PATH or "
            "folder:PATH; names are case-insensitive", metavar="SPEC")
    _option(data, "data_dir", "where mnist/cifar10 files are read from and downloaded to",
            "$INFOGAN_DATA or ~/.cache/infogan", metavar="DIR")
    _option(data, "image_size", "side in pixels that folder: images are resized to", type=int, metavar="N")
    _option(data, "channels", "1 (grey) or 3 (RGB) for folder: images", type=int, metavar="C")

    latent = parser.add_argument_group("latent codes")
    _option(latent, "noise_dim", "number of noise variables z", "62 for grey data such as MNIST, 64 for colour "
            "such as CIFAR10", type=int, metavar="N")
    _option(latent, "noise_prior", "prior of z: uniform U(-1,1) (official code) or normal N(0,1) (the seed)",
            choices=NOISE_PRIORS)
    _option(latent, "categories", "values of the categorical code", type=int, metavar="K")
    _option(latent, "continuous", "number of continuous codes ~ U(-1,1)", type=int, metavar="L")

    model = parser.add_argument_group("model and loss")
    _option(model, "arch", "architecture preset", "paper-mnist for grey data, seed-cifar10 for colour",
            choices=ARCHS)
    _option(model, "learn_std", "let Q learn a std per continuous code instead of fixing it to 1",
            action="store_true")
    _option(model, "continuous_weight", "lambda for the continuous codes' NLL in the information loss",
            "0.5 for grey data, 1.0 for colour", type=_finite_float, metavar="W")
    _option(model, "categorical_weight", "lambda for the categorical code's cross-entropy", type=_finite_float,
            metavar="W")

    optim = parser.add_argument_group("optimisation")
    _option(optim, "epochs", "passes over the data", "50 for grey data, 150 for colour", type=int, metavar="N")
    _option(optim, "batch_size", "images per step", type=int, metavar="N")
    _option(optim, "lr_d", "Adam learning rate of D (and the trunk it shares with Q)", type=_finite_float,
            metavar="LR")
    _option(optim, "lr_g", "Adam learning rate of G and of Q's head", type=_finite_float, metavar="LR")
    _option(optim, "beta1", "Adam beta1", type=_finite_float, metavar="B")
    _option(optim, "beta2", "Adam beta2", type=_finite_float, metavar="B")
    _option(optim, "seed", "random seed; the same seed gives the same run on CPU", type=int, metavar="S")

    runtime = parser.add_argument_group("runtime")
    _option(runtime, "device", "where to train", choices=DEVICES)
    _option(runtime, "precision", "fp32, bf16 autocast (CPU or CUDA) or fp16 autocast with loss scaling (CUDA)",
            choices=PRECISIONS)

    out = parser.add_argument_group("run directory")
    _option(out, "outdir", "run directory to create", "runs/<dataset>-<YYYYmmdd-HHMMSS>", metavar="DIR")
    out.add_argument("--resume", metavar="DIR", default=None,
                     help="continue the run in DIR from its last checkpoint; --epochs may extend it (default: off)")
    out.add_argument("--overwrite", action="store_true",
                     help="replace an existing run directory at --outdir (default: off, refuse)")
    _option(out, "log_every", "steps between interval records in metrics.jsonl", type=int, metavar="STEPS")
    _option(out, "checkpoint_every", "steps between extra checkpoints besides each epoch's (0: epochs only)",
            type=int, metavar="STEPS")
    _option(out, "keep_every", "keep checkpoints/epoch_NNNN.pt every N epochs (0: keep only last.pt)",
            type=int, metavar="N")
    _option(out, "tensorboard", "also log to DIR/tensorboard (needs: pip install -e '.[tensorboard]')",
            action="store_true")
    out.add_argument("--no-progress", "--no_progress", dest="progress", action="store_false",
                     default=argparse.SUPPRESS, help="no progress bars, only one line per epoch (default: bars on)")


def _config_fields(args: argparse.Namespace) -> dict:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def cmd_train(args: argparse.Namespace) -> int:
    from .training import resume, train

    fields = _config_fields(args)
    if args.resume:
        if args.overwrite:
            raise UsageError("--resume and --overwrite contradict each other: pick one")
        if "outdir" in fields and fields.pop("outdir") != args.resume:
            raise UsageError("--resume DIR already names the run directory: drop --outdir")
        resume(args.resume, **fields)
    else:
        cfg = TrainConfig(**fields)
        train(cfg, overwrite=args.overwrite)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infogan", description="Train, evaluate and explore InfoGAN models (Chen et al. 2016).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    train_parser = sub.add_parser("train", help="train a model and write a run directory",
                                  description="Train InfoGAN; writes config, metrics, sample grids, traversals, "
                                              "plots, checkpoints and generator weights to a run directory.")
    _add_train_options(train_parser)
    train_parser.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .training import TrainingDiverged, TrainingInterrupted

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"infogan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 128 + exc.signum
    except TrainingDiverged as exc:
        print(f"infogan {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aborted; the last checkpoint written is complete (infogan train --resume DIR continues it)",
              file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
