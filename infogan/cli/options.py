"""The command line's options: one definition each, the training options from TrainConfig's fields."""

from __future__ import annotations

import argparse

from infogan.cli.fields import FROM_PRESET, finite_float, option
from infogan.cli.objective_options import add_model_and_loss_options
from infogan.cli.shared import shared_help
from infogan.config import CUDA_GRAPHS, DEVICES, LR_SCHEDULES, NOISE_PRIORS, PRECISIONS, PRESETS, parse_categorical
from infogan.data.datasets import DATASETS, spec_form
from infogan.errors import UsageError
from infogan.metrics.registry import parse_names


def _categorical(text: str) -> list[int]:
    try:
        return parse_categorical(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _image_metrics(text: str) -> list[str]:

    try:
        return parse_names(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_train_options(parser: argparse.ArgumentParser, single_run: bool = True) -> None:
    """TrainConfig's fields as options, group by group (`single_run`: train's, with --seed and the run
    directory's own options; a sweep's leaves those out)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="start from a saved config.json (a run's, or one written by hand); options given "
        "here override it, and the run gets its own directory (default: none)",
    )
    _data_options(parser)
    _latent_options(parser)
    add_model_and_loss_options(parser)
    _optimisation_options(parser, single_run)
    _runtime_options(parser)
    _quality_options(parser)
    _run_directory_options(parser, single_run)


def _data_options(parser: argparse.ArgumentParser) -> None:
    """The data set and where it lives."""
    data = parser.add_argument_group("data")
    option(
        data,
        "dataset",
        "; ".join(f"{spec_form(name)}: {src.help}" for name, src in DATASETS.items()) + " (names are case-insensitive)",
        metavar="SPEC",
    )
    option(data, "data_dir", shared_help("data_dir"), "$INFOGAN_DATA or ~/.cache/infogan", metavar="DIR")
    option(
        data,
        "preset",
        "a model of the paper or the seed: fills codes, noise, architecture, loss weights, "
        "learning rates, batch, epochs and folder: image size; any option given overrides it "
        f"({', '.join(PRESETS)})",
        "the data set's own: svhn for svhn, mnist for grey data, cifar10 for colour",
        choices=list(PRESETS),
        metavar="NAME",
    )
    option(
        data,
        "image_size",
        "side in pixels that folder: images are resized to",
        "the preset's, else 32",
        type=int,
        metavar="N",
    )
    option(data, "channels", "1 (grey) or 3 (RGB) for folder: images", "the preset's, else 3", type=int, metavar="C")
    option(
        data,
        "crop",
        "folder: images: side of the centre square cut before resizing",
        "the preset's (celeba: 108), else the largest square",
        type=int,
        metavar="N",
    )


def _latent_options(parser: argparse.ArgumentParser) -> None:
    """The latent code: noise, categorical and continuous codes."""
    latent = parser.add_argument_group("latent codes")
    option(
        latent,
        "noise_dim",
        "number of noise variables z",
        f"{FROM_PRESET}: 62 for grey data such as MNIST, 64 for colour such as CIFAR10",
        type=int,
        metavar="N",
    )
    option(
        latent,
        "noise_prior",
        "prior of z: uniform U(-1,1) (official code) or normal N(0,1) (the seed)",
        choices=NOISE_PRIORS,
    )
    option(
        latent,
        "categorical",
        "values of each categorical code: 10 (one code), 10,10,10,10 (four codes), "
        "0 or '' (none); --categories K is the same as --categorical K",
        f"{FROM_PRESET}: 10",
        aliases=("--categories",),
        type=_categorical,
        metavar="K[,K...]",
    )
    option(latent, "continuous", "number of continuous codes ~ U(-1,1)", f"{FROM_PRESET}: 2", type=int, metavar="L")


def _optimisation_options(parser: argparse.ArgumentParser, single_run: bool) -> None:
    """Epochs, batch, learning rates, the schedule and the seed."""
    optim = parser.add_argument_group("optimisation")
    option(
        optim,
        "epochs",
        "passes over the data",
        f"{FROM_PRESET}: 50 for grey data, 150 for colour",
        type=int,
        metavar="N",
    )
    option(
        optim,
        "stop_when_settled",
        "end the run before --epochs once it has settled, judged without labels: Q's categories of 1,000 fixed "
        "real images stay put and its information on them flat for 3 epochs (the log says when and why)",
        action="store_true",
    )
    option(optim, "min_epochs", "with --stop-when-settled: the fewest epochs a run trains", type=int, metavar="N")
    option(
        optim,
        "batch_size",
        "images per step",
        f"{FROM_PRESET}: 64 for grey data such as MNIST (256 collapses some seeds), 256 for colour",
        type=int,
        metavar="N",
    )
    option(
        optim,
        "lr_d",
        "Adam learning rate of D (and the trunk it shares with Q)",
        f"{FROM_PRESET}: 2e-4",
        type=finite_float,
        metavar="LR",
    )
    option(optim, "lr_g", "Adam learning rate of G", f"{FROM_PRESET}: 1e-3", type=finite_float, metavar="LR")
    option(
        optim,
        "lr_q",
        "Adam learning rate of Q's own head (the trunk it shares with D runs at --lr-d)",
        "--lr-g",
        type=finite_float,
        metavar="LR",
    )
    option(optim, "beta1", "Adam beta1", type=finite_float, metavar="B")
    option(optim, "beta2", "Adam beta2", type=finite_float, metavar="B")
    option(
        optim,
        "lr_schedule",
        "every learning rate over the run: constant, or decaying to --lr-final of it at "
        "the last step by a cosine or a straight line",
        "constant",
        choices=LR_SCHEDULES,
    )
    option(
        optim,
        "lr_final",
        "with --lr-schedule cosine/linear: the rates at the last step, as a fraction of the starting ones",
        "0.1",
        type=finite_float,
        metavar="F",
    )
    if single_run:  # a sweep takes its seeds from --seeds
        option(optim, "seed", "random seed; the same seed gives the same run on CPU", type=int, metavar="S")


def _runtime_options(parser: argparse.ArgumentParser) -> None:
    """Device, precision, threads and CUDA graphs."""
    runtime = parser.add_argument_group("runtime")
    option(runtime, "device", shared_help("device"), choices=DEVICES)
    option(
        runtime,
        "threads",
        "CPU threads of this process (sweep --jobs N gives each run cores/N)",
        "the cores this process may run on",
        type=int,
        metavar="N",
    )
    option(
        runtime,
        "dist_timeout",
        "under torchrun: seconds a rank waits in a collective for its peers before "
        "it stops, naming the lost rank (raise it when rank 0's per-epoch work takes longer, e.g. "
        "--image-metrics-every on a CPU)",
        type=int,
        metavar="S",
    )
    option(
        runtime,
        "precision",
        "auto (bf16 on a GPU with bf16 and a CPU with AMX, and on a CPU with AVX512-BF16 where a bf16 "
        "matmul runs at least 1.5x as fast as fp32, timed once and stored; else fp32), fp32, bf16 "
        "autocast (CPU or CUDA) or fp16 autocast with loss scaling (CUDA)",
        choices=PRECISIONS,
    )
    option(
        runtime,
        "cuda_graphs",
        "run the training step as one replayed CUDA graph (GPU steps of these small "
        "networks are launch-bound); auto: on for single-process CUDA runs in fp32/bf16 without --cr-weight, "
        "and says why when not; on: the same, but any other run is refused",
        choices=CUDA_GRAPHS,
    )


def _quality_options(parser: argparse.ArgumentParser) -> None:
    """torch-fidelity metrics during training."""
    quality = parser.add_argument_group(
        "image quality during training (torch-fidelity, with the torchvision made for your torch: docs/evaluation.md)"
    )
    option(
        quality,
        "image_metrics_every",
        "compute --image-metrics every N epochs and at the last, into "
        "metrics.jsonl and plots/fid.png (0: never; `infogan evaluate --image-metrics` does it after)",
        type=int,
        metavar="N",
    )
    option(quality, "image_metrics", "which: any of fid,kid,isc,prc", "fid,kid", type=_image_metrics, metavar="NAMES")
    option(
        quality, "image_metrics_samples", "generated images (and as many real ones) each time", type=int, metavar="N"
    )
    option(
        quality,
        "inception_weights",
        "local copy of weights-inception-2015-12-05-6726825d.pth for machines without a network",
        "$INFOGAN_INCEPTION_WEIGHTS, else downloaded once into the data dir",
        metavar="PATH",
    )


def _run_directory_options(parser: argparse.ArgumentParser, single_run: bool) -> None:
    """Where the run goes, how it resumes, what it logs."""
    out = parser.add_argument_group("run directory")
    if single_run:
        option(out, "outdir", "run directory to create", "runs/<dataset>-<YYYYmmdd-HHMMSS>", metavar="DIR")
        out.add_argument(
            "--resume",
            metavar="DIR",
            default=None,
            help="continue the run in DIR from its last checkpoint; --epochs may extend it (default: off)",
        )
        out.add_argument(
            "--overwrite",
            action="store_true",
            help="replace an existing run directory at --outdir (default: off, refuse)",
        )
        out.add_argument(
            "--auto-resume",
            "--auto_resume",
            action="store_true",
            help="one command line for the first start and every restart (torchrun --max-restarts, "
            "a requeued job): resume --outdir when it holds a checkpoint of a run with this "
            "config, else start it (default: off)",
        )
    else:
        out.add_argument(
            "--outdir",
            metavar="DIR",
            default=None,
            help="parent directory of the runs (default: runs/sweep-<YYYYmmdd-HHMMSS>)",
        )
    option(out, "log_every", "steps between interval records in metrics.jsonl", type=int, metavar="STEPS")
    if single_run:  # a sweep's --eval-dataset is this too
        option(
            out,
            "eval_dataset",
            shared_help("eval_dataset") + " each epoch, instead of 2,000 training images",
            "none",
            metavar="SPEC",
        )
    option(
        out,
        "eval_every",
        "epochs between label metrics and plots; the last epoch always has them "
        "(the sample grid and the checkpoint are written every epoch)",
        type=int,
        metavar="N",
    )
    option(
        out,
        "checkpoint_every",
        "steps between extra checkpoints besides each epoch's (0: epochs only)",
        type=int,
        metavar="STEPS",
    )
    option(
        out, "keep_every", "keep checkpoints/epoch_NNNN.pt every N epochs (0: keep only last.pt)", type=int, metavar="N"
    )
    option(
        out, "tensorboard", "also log to DIR/tensorboard (needs: pip install -e '.[tensorboard]')", action="store_true"
    )
    option(
        out,
        "stop_on_failure",
        "stop the run (checkpointed, exit status 3) when the health monitor finds a "
        "failure: D wins, collapse, an ignored code (default: report it and go on)",
        action="store_true",
    )
    out.add_argument(
        "--no-progress",
        "--no_progress",
        dest="progress",
        action="store_false",
        default=argparse.SUPPRESS,
        help="no progress bar, only one line per epoch (default: a bar when "
        "standard error is a terminal; one line per epoch in logs and pipes either way)",
    )
