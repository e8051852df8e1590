"""`infogan` command line: argument parsing only; the work happens in training, metrics, inference.

Every multi-word option accepts both spellings (`--noise-dim` and the seed's `--noise_dim`). Every
option's help states its default. Bad input exits with status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from infogan.config import (
    ARCHS,
    CUDA_GRAPHS,
    DEVICES,
    LR_SCHEDULES,
    MAX_SEED,
    NOISE_PRIORS,
    PRECISIONS,
    PRESETS,
    SELECTION_CRITERIA,
    TrainConfig,
    parse_categorical,
    require_int,
)
from infogan.data.datasets import DATASETS, spec_form
from infogan.errors import UsageError
from infogan.metrics.classifier import train_classifier
from infogan.metrics.evaluate import describe_effects, evaluate_run
from infogan.metrics.registry import parse_names
from infogan.model.latent import CODE_RANGE
from infogan.serve.explorer import serve
from infogan.serve.images import save_image_grid
from infogan.serve.inference import categorical_traversal, chosen_latent, continuous_traversal, generate, load_generator
from infogan.serve.pretrained import export_run
from infogan.sweep import format_table, parse_seeds, run_sweep
from infogan.train.distributed import PeerLost
from infogan.train.launch import resume, train
from infogan.train.loop import TrainingDiverged, TrainingFailing, TrainingInterrupted
from infogan.train.runtime import select_device

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


def _categorical(text: str) -> list[int]:
    try:
        return parse_categorical(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


FROM_PRESET = "the preset's"


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


def _add_train_options(parser: argparse.ArgumentParser, single_run: bool = True) -> None:
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
    _option(
        data,
        "data_dir",
        "where mnist/cifar10/svhn files are read from and downloaded to",
        "$INFOGAN_DATA or ~/.cache/infogan",
        metavar="DIR",
    )
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

    _option(
        model,
        "cr_weight",
        "InfoGAN-CR's contrastive regulariser (Lin et al. 2020): weight of the pair "
        "discriminator's cross-entropy in G's loss; 0 is plain InfoGAN (Lin et al. use 2 on dSprites)",
        type=_finite_float,
        metavar="W",
    )
    _option(
        model,
        "cr_start_step",
        "step from which G takes the contrastive term (the pair discriminator trains from step 0)",
        type=int,
        metavar="S",
    )

    _option(
        model,
        "real_info_weight",
        "weight of Q's information on real images in D's objective: Q learns to "
        "sort real images into confident, balanced categories (Krause et al. 2010; not in the paper); 0 is off",
        type=_finite_float,
        metavar="W",
    )
    _option(
        model,
        "real_info_until",
        "with --real-info-weight: the step at which the term is switched off (its "
        "early lead kept, its later pull dropped); 0 keeps it for the whole run",
        type=int,
        metavar="S",
    )
    _option(
        model,
        "iic_weight",
        "weight of IIC's two-view information in D's objective (Ji et al. 2019; not in "
        "the paper): Q gives a real image and a randomly deformed copy the same category, so the categories "
        "become groups of real images that survive small deformations; 0 is the paper's objective",
        type=_finite_float,
        metavar="W",
    )
    _option(
        model,
        "iic_rotation",
        "with --iic-weight: the deformed copy's rotation, up to this many degrees each way",
        type=_finite_float,
        metavar="DEG",
    )
    _option(
        model,
        "iic_scale",
        "with --iic-weight: the copy's scale is drawn from 1 +- this",
        type=_finite_float,
        metavar="F",
    )
    _option(
        model,
        "iic_shift",
        "with --iic-weight: the copy's shift, up to this fraction of the image side each way",
        type=_finite_float,
        metavar="F",
    )

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
        "batch_size",
        "images per step",
        f"{FROM_PRESET}: 64 for grey data such as MNIST (measured: BENCHMARKS.md), 256 for colour",
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
    _option(runtime, "device", "where to train", choices=DEVICES)
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
        "auto (bf16 where the CPU/GPU computes it natively and, on a CPU, a bf16 matmul is "
        "measured 1.5x as fast as fp32; else fp32), fp32, bf16 "
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
        "image quality during training (torch-fidelity, with the torchvision made for "
        "your torch: README, Image quality)"
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
            "labelled images the per-epoch label metrics score instead of 2,000 training "
            "images, e.g. held-out ones (mnist, mnist-sample, cifar10, svhn: their test splits)",
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


def _config_fields(args: argparse.Namespace) -> dict:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def _train_fields(args: argparse.Namespace) -> dict:
    """The options set on the command line, over the --config file's fields when one is given."""
    given = _config_fields(args)
    fields = given
    if args.config:
        saved = TrainConfig.load(args.config).to_dict()
        saved.update(image_shape=None, outdir=None, run_id=None)  # a new run: its own directory, id and shape
        fields = {**saved, **given}
    # the config cannot tell an explicit --lr-final from its default, so a value that would do nothing is
    # caught here, where it is known to have been typed (a resumed run keeps its own schedule: resume checks)
    if (
        "lr_final" in given
        and not getattr(args, "resume", None)
        and fields.get("lr_schedule", _DEFAULTS.lr_schedule) == "constant"
    ):
        raise UsageError(
            "--lr-final is where a decaying schedule ends and these rates are constant: add "
            "--lr-schedule cosine or linear, or drop --lr-final"
        )
    return fields


def cmd_train(args: argparse.Namespace) -> int:

    if args.resume and args.config:
        raise UsageError("--config starts a new run and --resume continues one: pick one")
    fields = _train_fields(args)
    if args.resume:
        if args.overwrite or args.auto_resume:
            raise UsageError(
                f"--resume continues one run; {'--overwrite' if args.overwrite else '--auto-resume'} "
                f"does not go with it: pick one"
            )
        if "outdir" in fields and fields.pop("outdir") != args.resume:
            raise UsageError("--resume DIR already names the run directory: drop --outdir")
        resume(args.resume, **fields)
    else:
        if args.auto_resume and args.overwrite:
            raise UsageError("--auto-resume continues the run in --outdir and --overwrite replaces it: pick one")
        cfg = TrainConfig(**fields)
        train(cfg, overwrite=args.overwrite, auto_resume=args.auto_resume)
    return 0


def _code_value(text: str) -> tuple[int, float]:
    index, sep, value = text.partition("=")
    try:
        return int(index), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I=V such as 1=0.5, got {text!r}") from None


def _category_value(text: str) -> tuple[int, int]:
    """'3' -> code 1 = 3; '2=7' -> code 2 = 7."""
    code, sep, value = text.rpartition("=") if "=" in text else ("1", "", text)
    try:
        return int(code), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K (code 1's value) or N=K such as 2=7, got {text!r}") from None


def _png_path(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"--out must name a .png file, got {text!r}")
    return text


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    names = parse_names(args.image_metrics) if args.image_metrics else None
    report = evaluate_run(
        args.run_dir,
        args.dataset,
        args.batch_size,
        device=_device(args.device),
        image_metrics=names,
        samples=args.samples,
        inception_weights=args.inception_weights,
        classifier=args.classifier,
        data_dir=args.data_dir,
    )
    print(json.dumps(report, indent=2))
    for line in describe_effects(report.get("continuous_effects", [])):
        print(line, file=sys.stderr)
    return 0


def _device(name: str) -> str:
    """--device of evaluate and classifier train: auto takes a GPU where there is one (as train does)."""

    return str(select_device(name))


def cmd_classifier_train(args: argparse.Namespace) -> int:

    require_int("epochs", args.epochs, minimum=1)
    require_int("batch_size", args.batch_size, minimum=2)
    path, acc = train_classifier(
        args.dataset,
        args.data_dir,
        args.epochs,
        args.batch_size,
        args.seed,
        args.out,
        log=lambda line: print(line, file=sys.stderr, flush=True),
        test_dataset=args.test_dataset,
        device=_device(args.device),
    )
    print(f"classifier: {path} (test accuracy {acc:.4f})")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:

    require_int("seed", args.seed, minimum=0, maximum=MAX_SEED)
    gen = load_generator(args.run_dir)
    latent = chosen_latent(gen.cfg, args.n, args.seed, dict(args.category or []), dict(args.code or []))
    cols = min(args.n, 10)
    save_image_grid(generate(gen, latent), -(-args.n // cols), cols, args.out)
    print(args.out)
    return 0


def cmd_traverse(args: argparse.Namespace) -> int:

    if (args.code is None) == (args.categorical_code is None):
        raise UsageError("name one code to traverse: --code I (continuous) or --categorical-code N")
    require_int("seed", args.seed, minimum=0, maximum=MAX_SEED)
    gen = load_generator(args.run_dir)
    spec = gen.spec
    if args.categorical_code is not None:
        if not 1 <= args.categorical_code <= spec.n_categorical:
            raise UsageError(
                f"--categorical-code must be in 1..{spec.n_categorical} (this run's categorical "
                f"codes), got {args.categorical_code}"
            )
        require_int("rows", args.rows, minimum=1, maximum=100)
        categorical_traversal(gen, args.categorical_code, args.seed, rows=args.rows).save(args.out)
    else:
        if not 1 <= args.code <= spec.continuous:
            raise UsageError(f"--code must be in 1..{spec.continuous} (this run's continuous codes), got {args.code}")
        require_int("steps", args.steps, minimum=2, maximum=100)
        if not all(math.isfinite(v) for v in args.range):
            raise UsageError(f"--range must be two finite numbers, got {args.range[0]} {args.range[1]}")
        continuous_traversal(gen, args.code, args.seed, args.range, args.steps).save(args.out)
    print(args.out)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:

    evaluate_options = {"samples": args.samples, **({"classifier": args.classifier} if args.classifier else {})}
    fields = {**_train_fields(args), **({"eval_dataset": args.eval_dataset} if args.eval_dataset else {})}
    summary = run_sweep(
        TrainConfig(**fields),
        parse_seeds(args.seeds),
        args.outdir,
        args.eval_dataset,
        jobs=args.jobs,
        select=args.select,
        evaluate_options=evaluate_options,
    )
    print(format_table(summary))
    print(f"summary: {summary['parent']}/summary.json")
    return 1 if summary["failed"] else 0


def cmd_explore(args: argparse.Namespace) -> int:

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    serve(args.path, args.host, args.port)
    return 0


def cmd_export(args: argparse.Namespace) -> int:

    print(export_run(args.run_dir, args.out, half=not args.fp32))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infogan", description="Train, evaluate and explore InfoGAN models (Chen et al. 2016).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    train_parser = sub.add_parser(
        "train",
        help="train a model and write a run directory",
        description="Train InfoGAN; writes config, metrics, sample grids, traversals, "
        "plots, checkpoints and generator weights to a run directory.",
    )
    _add_train_options(train_parser)
    train_parser.set_defaults(func=cmd_train, command_parser=train_parser)

    ev = sub.add_parser("evaluate", help="measure what a run's codes learned (JSON to stdout and RUN_DIR/eval/)")
    ev.add_argument("run_dir", metavar="RUN_DIR")
    held_out = ", ".join(name for name, src in DATASETS.items() if src.test_split)
    ev.add_argument(
        "--dataset",
        metavar="SPEC",
        default=None,
        help=f"data set to score on, as in train; {held_out} "
        f"are scored on their held-out test splits (default: the run's own data set)",
    )
    ev.add_argument(
        "--data-dir",
        "--data_dir",
        default=None,
        metavar="DIR",
        help="where mnist/cifar10/svhn files are read from and downloaded to (default: the run's)",
    )
    ev.add_argument(
        "--batch-size",
        "--batch_size",
        type=int,
        default=500,
        metavar="N",
        help="images per forward pass (default: 500)",
    )
    ev.add_argument(
        "--image-metrics",
        metavar="NAMES",
        default=None,
        help="image quality by torch-fidelity against the data set's images: any of fid,kid,isc,prc "
        "(needs torch-fidelity and the torchvision made for your torch: README, Image quality; default: none)",
    )
    ev.add_argument(
        "--samples",
        type=int,
        default=10_000,
        metavar="N",
        help="generated images for --image-metrics and --classifier (default: 10000; papers use 50000)",
    )
    ev.add_argument(
        "--inception-weights",
        metavar="PATH",
        default=None,
        help="local copy of weights-inception-2015-12-05-6726825d.pth, for machines without a network "
        "(default: $INFOGAN_INCEPTION_WEIGHTS, else downloaded once into the data dir)",
    )
    ev.add_argument(
        "--classifier",
        metavar="PATH",
        nargs="?",
        const="cached",
        default=None,
        help="score generated images with an independent classifier: purity, mode count, classifier "
        "score, fid_classifier (PATH, or no value: the one `infogan classifier train` cached for "
        "the data set; default: off)",
    )
    ev.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where the networks run (default: auto, a GPU where there is one)",
    )
    ev.set_defaults(func=cmd_evaluate, command_parser=ev)

    cl = sub.add_parser("classifier", help="an independent classifier that judges generated images")
    cl_sub = cl.add_subparsers(dest="action", required=True)
    ct = cl_sub.add_parser("train", help="train it on a labelled data set; cached in the data dir")
    ct.add_argument(
        "--dataset",
        required=True,
        metavar="SPEC",
        help="labelled data set: mnist, cifar10, svhn, npz:PATH with y, ... (required)",
    )
    ct.add_argument(
        "--data-dir",
        "--data_dir",
        default=None,
        metavar="DIR",
        help="where data sets and the cached classifier live (default: $INFOGAN_DATA or ~/.cache/infogan)",
    )
    ct.add_argument(
        "--test-dataset",
        default=None,
        metavar="SPEC",
        help="labelled images to measure its accuracy on (default: mnist/cifar10/svhn's test split; "
        "for other data sets the training images themselves)",
    )
    ct.add_argument("--epochs", type=int, default=5, metavar="N", help="passes over the data (default: 5)")
    ct.add_argument("--batch-size", "--batch_size", type=int, default=128, metavar="N", help="default: 128")
    ct.add_argument("--seed", type=int, default=0, metavar="S", help="default: 0")
    ct.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="where to write it (default: DATA_DIR/classifiers/<data set>.pt, what evaluate --classifier reads)",
    )
    ct.add_argument(
        "--device", default="auto", choices=DEVICES, help="where it trains (default: auto, a GPU where there is one)"
    )
    ct.set_defaults(func=cmd_classifier_train, command_parser=ct)

    gen = sub.add_parser("generate", help="draw images for chosen codes into one PNG grid")
    gen.add_argument("run_dir", metavar="RUN_DIR")
    gen.add_argument(
        "--category",
        type=_category_value,
        action="append",
        metavar="[N=]K",
        help="set categorical code N (1-based; default 1) to value K (0-based); repeatable "
        "(default: sampled per image)",
    )
    gen.add_argument(
        "--code",
        type=_code_value,
        action="append",
        metavar="I=V",
        help="set continuous code I (1-based) to V; repeatable (default: sampled from U(-1, 1))",
    )
    gen.add_argument("--seed", type=int, default=0, help="seed for whatever is sampled (default: 0)")
    gen.add_argument("-n", type=int, default=10, help="number of images (default: 10)")
    gen.add_argument("--out", type=_png_path, required=True, metavar="FILE.png", help="output PNG (required)")
    gen.set_defaults(func=cmd_generate, command_parser=gen)

    tr = sub.add_parser(
        "traverse",
        help="vary one code: a continuous one (rows = values of categorical code 1, "
        "columns = code values) or a categorical one (rows = fixed noise, columns = its values)",
    )
    tr.add_argument("run_dir", metavar="RUN_DIR")
    tr.add_argument(
        "--code",
        type=int,
        default=None,
        metavar="I",
        help="continuous code to vary, 1-based (default: none; this or --categorical-code)",
    )
    tr.add_argument(
        "--categorical-code",
        "--categorical_code",
        type=int,
        default=None,
        metavar="N",
        help="categorical code to draw every value of, 1-based (default: none)",
    )
    tr.add_argument("--rows", type=int, default=10, help="noise rows of a categorical traversal (default: 10)")
    tr.add_argument(
        "--range",
        type=float,
        nargs=2,
        default=list(CODE_RANGE),
        metavar=("LO", "HI"),
        help=f"code values from LO to HI (default: {CODE_RANGE[0]:g} {CODE_RANGE[1]:g})",
    )
    tr.add_argument("--steps", type=int, default=10, help="columns (default: 10)")
    tr.add_argument("--seed", type=int, default=0, help="seed for the noise of each row (default: 0)")
    tr.add_argument("--out", type=_png_path, required=True, metavar="FILE.png", help="output PNG (required)")
    tr.set_defaults(func=cmd_traverse, command_parser=tr)

    sw = sub.add_parser("sweep", help="train and evaluate one run per seed; summary.json and a table")
    sw.add_argument("--seeds", required=True, metavar="S,S,...", help="comma-separated seeds (required)")
    sw.add_argument(
        "--eval-dataset",
        "--eval_dataset",
        metavar="SPEC",
        default=None,
        help="data set to evaluate each run on, at the end and each epoch (default: each run's own; "
        "mnist -> its test split)",
    )
    sw.add_argument(
        "--select",
        choices=SELECTION_CRITERIA,
        default=None,
        help="label-free choice of a run: q_real_mi (Q's information about its categorical codes on "
        "real images) or centrality (ModelCentrality: the run whose Q and generator agree most "
        "with the others', by the FactorVAE score) (default: q_real_mi with categorical codes, "
        "else centrality with 3 seeds or more, else no pick)",
    )
    sw.add_argument(
        "--classifier",
        metavar="PATH",
        nargs="?",
        const="cached",
        default=None,
        help="also score each run's generated images with an independent classifier, as evaluate "
        "--classifier does (default: off)",
    )
    sw.add_argument(
        "--samples",
        type=int,
        default=10_000,
        metavar="N",
        help="generated images --classifier judges per run (default: 10000)",
    )
    sw.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="seeds trained at once, each in its own process with cores/N threads on a CPU; on a GPU "
        "several small trainings share the card well (default: on a CPU one per core, at most "
        "one per seed, measured faster than one after another; on a GPU or with --threads: 1, "
        "one after another in this process)",
    )
    _add_train_options(sw, single_run=False)
    sw.set_defaults(func=cmd_sweep, command_parser=sw)

    ex = sub.add_parser("explore", help="a local web app to play with a run's codes (needs the [explore] extra)")
    ex.add_argument(
        "path",
        metavar="RUN_DIR",
        nargs="?",
        default="pretrained:mnist",
        help="a run directory, or a folder of runs (a selector switches) (default: pretrained:mnist, "
        "the model shipped in the package)",
    )
    ex.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    ex.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    ex.set_defaults(func=cmd_explore, command_parser=ex)

    xp = sub.add_parser("export", help="a finished run's config, G and D/Q as safetensors (fp16), to ship or share")
    xp.add_argument("run_dir", metavar="RUN_DIR")
    xp.add_argument("--out", required=True, metavar="DIR", help="folder to write (required)")
    xp.add_argument("--fp32", action="store_true", help="keep the weights in fp32 (default: fp16, half the size)")
    xp.set_defaults(func=cmd_export, command_parser=xp)
    return parser


def main(argv: list[str] | None = None) -> int:

    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # named by the command's own parser, so the hint is `infogan evaluate --help`, not `infogan --help`
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
    except TrainingFailing as exc:
        print(f"infogan {args.command}: {exc}", file=sys.stderr)
        return 3
    except PeerLost as exc:
        print(f"infogan {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "aborted; the last checkpoint written is complete (infogan train --resume DIR continues it)",
            file=sys.stderr,
        )
        return 130
    except OSError as exc:  # the machine's faults that no reader above named: still one line, exit 2
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"infogan {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"infogan {args.command}: error: out of memory: use smaller sizes (batch, images, -n)", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
