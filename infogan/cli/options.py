"""The command line's options: one definition each, the training options from TrainConfig's fields."""

from __future__ import annotations

import argparse

from infogan.cli.shared import shared_help
from infogan.config import (
    ARCHS,
    CUDA_GRAPHS,
    DEVICES,
    IIC_FIELDS,
    LR_SCHEDULES,
    NOISE_PRIORS,
    PRECISIONS,
    PRESETS,
    TrainConfig,
    parse_categorical,
)
from infogan.data.datasets import DATASETS, spec_form
from infogan.errors import UsageError
from infogan.metrics.registry import parse_names

_DEFAULTS = TrainConfig()


def _spellings(name: str) -> list[str]:
    dashed = "--" + name.replace("_", "-")
    return [dashed, "--" + name] if "_" in name else [dashed]


def _finite_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _categorical(text: str) -> list[int]:
    try:
        return parse_categorical(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


FROM_PRESET = "the preset's"
# what --help shows for IIC's parts, which come from the preset when --iic-weight is not given
IIC_HELP = {n: f"the preset's: {getattr(PRESETS['mnist-iic'], n)} with mnist-iic (MNIST's), else 0" for n in IIC_FIELDS}


# The optional terms' options: (field, help); a weight takes a finite float W, a step an integer S
TERM_OPTIONS = {
    "cr_weight": "InfoGAN-CR's contrastive regulariser (Lin et al. 2020): weight of the pair discriminator's "
    "cross-entropy in G's loss; 0 is plain InfoGAN (Lin et al. use 2 on dSprites)",
    "cr_start_step": "step from which G takes the contrastive term (the pair discriminator trains from step 0)",
    "real_info_weight": "weight of Q's information on real images in D's objective: Q learns to sort real images "
    "into confident, balanced categories (Krause et al. 2010; not in the paper); 0 is off",
    "real_info_until": "with --real-info-weight: the step at which the term is switched off (its early lead kept,"
    " its later pull dropped); 0 keeps it for the whole run",
    "code_prior_weight": "weight in D's objective of the distance between Q's continuous readings of a real batch"
    " and the codes' prior U(-1, 1)^L (sliced Wasserstein; not in the paper): readings independent and evenly "
    "spread, which rotated mixes of independent factors are not; 0 is off",
    "effects_weight": "weight in G's objective of the squared cosine between the continuous codes' finite-"
    "difference image changes (OroJaR-like; not in the paper): each code changes the image its own way; 0 is off",
    "effects_start_step": "with --effects-weight: the step from which G takes the term (0: from the start)",
    "code_stagger_steps": "continuous code k joins at step (k - 1) * S, held at 0 in G's input before: code 1 "
    "takes the data's main factor alone before code 2 can share it (not in the paper); 0: all from the start",
}


def _option(
    group, name: str, help_text: str, default_text: str | None = None, aliases: tuple[str, ...] = (), **kwargs
) -> None:
    """An option for TrainConfig field `name`; its parsed value is absent unless given (SUPPRESS), so the
    command knows what the user set explicitly (it matters for --resume)."""
    default = getattr(_DEFAULTS, name)
    shown = default_text if default_text is not None else repr(default) if isinstance(default, str) else default
    group.add_argument(
        *_spellings(name),
        *aliases,
        dest=name,
        default=argparse.SUPPRESS,
        help=f"{help_text} (default: {shown})",
        **kwargs,
    )


def _image_metrics(text: str) -> list[str]:

    try:
        return parse_names(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_train_options(parser: argparse.ArgumentParser, single_run: bool = True) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="start from a saved config.json (a run's, or one written by hand); options given "
        "here override it, and the run gets its own directory (default: none)",
    )
    data = parser.add_argument_group("data")
    _option(
        data,
        "dataset",
        "; ".join(f"{spec_form(name)}: {src.help}" for name, src in DATASETS.items()) + " (names are case-insensitive)",
        metavar="SPEC",
    )
    _option(data, "data_dir", shared_help("data_dir"), "$INFOGAN_DATA or ~/.cache/infogan", metavar="DIR")
    _option(
        data,
        "preset",
        "a model of the paper or the seed: fills codes, noise, architecture, loss weights, "
        "learning rates, batch, epochs and folder: image size; any option given overrides it "
        f"({', '.join(PRESETS)})",
        "the data set's own: svhn for svhn, mnist for grey data, cifar10 for colour",
        choices=list(PRESETS),
        metavar="NAME",
    )
    _option(
        data,
        "image_size",
        "side in pixels that folder: images are resized to",
        "the preset's, else 32",
        type=int,
        metavar="N",
    )
    _option(data, "channels", "1 (grey) or 3 (RGB) for folder: images", "the preset's, else 3", type=int, metavar="C")
    _option(
        data,
        "crop",
        "folder: images: side of the centre square cut before resizing",
        "the preset's (celeba: 108), else the largest square",
        type=int,
        metavar="N",
    )

    latent = parser.add_argument_group("latent codes")
    _option(
        latent,
        "noise_dim",
        "number of noise variables z",
        f"{FROM_PRESET}: 62 for grey data such as MNIST, 64 for colour such as CIFAR10",
        type=int,
        metavar="N",
    )
    _option(
        latent,
        "noise_prior",
        "prior of z: uniform U(-1,1) (official code) or normal N(0,1) (the seed)",
        choices=NOISE_PRIORS,
    )
    _option(
        latent,
        "categorical",
        "values of each categorical code: 10 (one code), 10,10,10,10 (four codes), "
        "0 or '' (none); --categories K is the same as --categorical K",
        f"{FROM_PRESET}: 10",
        aliases=("--categories",),
        type=_categorical,
        metavar="K[,K...]",
    )
    _option(latent, "continuous", "number of continuous codes ~ U(-1,1)", f"{FROM_PRESET}: 2", type=int, metavar="L")

    model = parser.add_argument_group("model and loss")
    _option(
        model,
        "arch",
        "network architecture",
        f"{FROM_PRESET}: paper-mnist for grey data, seed-cifar10 for colour",
        choices=list(ARCHS),
    )
    _option(model, "learn_std", "let Q learn a std per continuous code instead of fixing it to 1", action="store_true")
    _option(
        model,
        "spectral_norm",
        "spectral normalisation of D's layers (Miyato et al. 2018; the shapes preset's, after InfoGAN-CR)",
        f"{FROM_PRESET}: off",
        action="store_true",
    )
    _option(
        model,
        "continuous_weight",
        "lambda for the continuous codes' NLL in the information loss",
        f"{FROM_PRESET}: 0.5 for grey data, 1.0 for colour",
        type=_finite_float,
        metavar="W",
    )
    _option(
        model,
        "categorical_weight",
        "lambda for the categorical codes' cross-entropies (each code's)",
        f"{FROM_PRESET}: 1.0",
        type=_finite_float,
        metavar="W",
    )

    for name, text in TERM_OPTIONS.items():  # InfoGAN-CR, Q's real information, the continuous codes' terms
        weight = name.endswith("weight")
        _option(model, name, text, type=_finite_float if weight else int, metavar="W" if weight else "S")
    _option(
        model,
        "iic_weight",
        "weight of IIC's two-view information in D's objective (Ji et al. 2019; not in "
        "the paper): Q gives a real image and a randomly deformed copy the same category, so the categories "
        "become groups of real images that survive small deformations; 0 (or --preset mnist) is the paper's "
        "objective. Given, the parts below that are not given are off",
        "the preset's: 3 with mnist-iic, the MNIST data sets' preset, and one categorical code (with its parts), else 0",
        type=_finite_float,
        metavar="W",
    )
    for name, metavar, text in (  # the deformed copy of --iic-weight's second view (data/augment.py), the rest
        ("iic_rotation", "DEG", "the deformed copy's rotation, up to this many degrees each way"),
        ("iic_scale", "F", "the copy's scale is drawn from 1 +- this"),
        ("iic_shift", "F", "the copy's shift, up to this fraction of the image side each way"),
        (
            "iic_elastic",
            "F",
            "a smooth elastic displacement of the copy, about this fraction of the image side "
            "(Elastic-InfoGAN's augmentation); 0: none",
        ),
        (
            "iic_stroke",
            "F",
            "the copy's strokes made thicker or thinner, up to this share of a one-pixel dilation or erosion; 0: none",
        ),
        (
            "iic_shear",
            "F",
            "a horizontal shear of the copy, drawn from +- this (0.5 leans a vertical stroke by about 27 degrees), "
            "so that a category cannot stand for the slant; 0: none",
        ),
        (
            "iic_overcluster",
            "K",
            "an extra head of K clusters on D's trunk, trained by the same two-view information (IIC's "
            "over-clustering head), so that the shared trunk tells finer groups apart; 0: none",
        ),
        (
            "iic_fake_weight",
            "W",
            "Q must also read each fake's categories from a deformed copy of it, at this weight in D's and G's "
            "objectives, so that G draws its categories in what survives the deformations; 0: off",
        ),
    ):
        kind = int if name == "iic_overcluster" else _finite_float
        shown = IIC_HELP.get(name)
        _option(model, name, f"with --iic-weight: {text}", shown, type=kind, metavar=metavar)

    optim = parser.add_argument_group("optimisation")
    _option(
        optim,
        "epochs",
        "passes over the data",
        f"{FROM_PRESET}: 50 for grey data, 150 for colour",
        type=int,
        metavar="N",
    )
    _option(
        optim,
        "stop_when_settled",
        "end the run before --epochs once it has settled, judged without labels: Q's categories of 1,000 fixed "
        "real images stay put and its information on them flat for 3 epochs (the log says when and why)",
        action="store_true",
    )
    _option(optim, "min_epochs", "with --stop-when-settled: the fewest epochs a run trains", type=int, metavar="N")
    _option(
        optim,
        "batch_size",
        "images per step",
        f"{FROM_PRESET}: 64 for grey data such as MNIST (256 collapses some seeds), 256 for colour",
        type=int,
        metavar="N",
    )
    _option(
        optim,
        "lr_d",
        "Adam learning rate of D (and the trunk it shares with Q)",
        f"{FROM_PRESET}: 2e-4",
        type=_finite_float,
        metavar="LR",
    )
    _option(optim, "lr_g", "Adam learning rate of G", f"{FROM_PRESET}: 1e-3", type=_finite_float, metavar="LR")
    _option(
        optim,
        "lr_q",
        "Adam learning rate of Q's own head (the trunk it shares with D runs at --lr-d)",
        "--lr-g",
        type=_finite_float,
        metavar="LR",
    )
    _option(optim, "beta1", "Adam beta1", type=_finite_float, metavar="B")
    _option(optim, "beta2", "Adam beta2", type=_finite_float, metavar="B")
    _option(
        optim,
        "lr_schedule",
        "every learning rate over the run: constant, or decaying to --lr-final of it at "
        "the last step by a cosine or a straight line",
        "constant",
        choices=LR_SCHEDULES,
    )
    _option(
        optim,
        "lr_final",
        "with --lr-schedule cosine/linear: the rates at the last step, as a fraction of the starting ones",
        "0.1",
        type=_finite_float,
        metavar="F",
    )
    if single_run:  # a sweep takes its seeds from --seeds
        _option(optim, "seed", "random seed; the same seed gives the same run on CPU", type=int, metavar="S")

    runtime = parser.add_argument_group("runtime")
    _option(runtime, "device", shared_help("device"), choices=DEVICES)
    _option(
        runtime,
        "threads",
        "CPU threads of this process (sweep --jobs N gives each run cores/N)",
        "the cores this process may run on",
        type=int,
        metavar="N",
    )
    _option(
        runtime,
        "dist_timeout",
        "under torchrun: seconds a rank waits in a collective for its peers before "
        "it stops, naming the lost rank (raise it when rank 0's per-epoch work takes longer, e.g. "
        "--image-metrics-every on a CPU)",
        type=int,
        metavar="S",
    )
    _option(
        runtime,
        "precision",
        "auto (bf16 on a GPU with bf16 and a CPU with AMX, and on a CPU with AVX512-BF16 where a bf16 "
        "matmul runs at least 1.5x as fast as fp32, timed once and stored; else fp32), fp32, bf16 "
        "autocast (CPU or CUDA) or fp16 autocast with loss scaling (CUDA)",
        choices=PRECISIONS,
    )
    _option(
        runtime,
        "cuda_graphs",
        "run the training step as one replayed CUDA graph (GPU steps of these small "
        "networks are launch-bound); auto: on for single-process CUDA runs in fp32/bf16 without --cr-weight, "
        "and says why when not; on: the same, but any other run is refused",
        choices=CUDA_GRAPHS,
    )

    quality = parser.add_argument_group(
        "image quality during training (torch-fidelity, with the torchvision made for your torch: docs/evaluation.md)"
    )
    _option(
        quality,
        "image_metrics_every",
        "compute --image-metrics every N epochs and at the last, into "
        "metrics.jsonl and plots/fid.png (0: never; `infogan evaluate --image-metrics` does it after)",
        type=int,
        metavar="N",
    )
    _option(quality, "image_metrics", "which: any of fid,kid,isc,prc", "fid,kid", type=_image_metrics, metavar="NAMES")
    _option(
        quality, "image_metrics_samples", "generated images (and as many real ones) each time", type=int, metavar="N"
    )
    _option(
        quality,
        "inception_weights",
        "local copy of weights-inception-2015-12-05-6726825d.pth for machines without a network",
        "$INFOGAN_INCEPTION_WEIGHTS, else downloaded once into the data dir",
        metavar="PATH",
    )

    out = parser.add_argument_group("run directory")
    if single_run:
        _option(out, "outdir", "run directory to create", "runs/<dataset>-<YYYYmmdd-HHMMSS>", metavar="DIR")
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
    _option(out, "log_every", "steps between interval records in metrics.jsonl", type=int, metavar="STEPS")
    if single_run:  # a sweep's --eval-dataset is this too
        _option(
            out,
            "eval_dataset",
            shared_help("eval_dataset") + " each epoch, instead of 2,000 training images",
            "none",
            metavar="SPEC",
        )
    _option(
        out,
        "eval_every",
        "epochs between label metrics and plots; the last epoch always has them "
        "(the sample grid and the checkpoint are written every epoch)",
        type=int,
        metavar="N",
    )
    _option(
        out,
        "checkpoint_every",
        "steps between extra checkpoints besides each epoch's (0: epochs only)",
        type=int,
        metavar="STEPS",
    )
    _option(
        out, "keep_every", "keep checkpoints/epoch_NNNN.pt every N epochs (0: keep only last.pt)", type=int, metavar="N"
    )
    _option(
        out, "tensorboard", "also log to DIR/tensorboard (needs: pip install -e '.[tensorboard]')", action="store_true"
    )
    _option(
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
