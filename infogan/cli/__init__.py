"""`infogan` command line: the parser of every command and the one place that turns errors into exit codes.

- options.py: the training options, from TrainConfig's fields; shared.py: the options several commands take;
- commands.py: what each command does with its arguments.

Every multi-word option accepts both spellings (`--noise-dim` and the seed's `--noise_dim`). Every
option's help states its default. Bad input exits with status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import sys

from infogan.cli.commands import (
    category_value,
    cmd_classifier_train,
    cmd_encode,
    cmd_evaluate,
    cmd_explore,
    cmd_export,
    cmd_generate,
    cmd_name,
    cmd_sweep,
    cmd_train,
    cmd_traverse,
    code_value,
    label_value,
    png_path,
)
from infogan.cli.options import add_train_options
from infogan.cli.shared import add_shared
from infogan.config import SELECTION_CRITERIA
from infogan.data.datasets import DATASETS
from infogan.errors import UsageError
from infogan.model.latent import CODE_RANGE
from infogan.train.distributed import PeerLost
from infogan.train.outcomes import TrainingDiverged, TrainingFailing, TrainingInterrupted


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line (and exit status 2) instead of usage + message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


RUN_DIR_HELP = "a run directory, or pretrained:mnist (the model shipped in the package)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infogan", description="Train, evaluate and explore InfoGAN models (Chen et al. 2016).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _train_command(sub)
    _evaluate_command(sub)
    _classifier_command(sub)
    _encode_command(sub)
    _name_command(sub)
    _generate_command(sub)
    _traverse_command(sub)
    _sweep_command(sub)
    _explore_command(sub)
    _export_command(sub)
    return parser


def _train_command(sub) -> None:
    train_parser = sub.add_parser(
        "train",
        help="train a model and write a run directory",
        description="Train InfoGAN; writes config, metrics, sample grids, traversals, "
        "plots, checkpoints and generator weights to a run directory.",
    )
    add_train_options(train_parser)
    train_parser.set_defaults(func=cmd_train, command_parser=train_parser)


def _evaluate_command(sub) -> None:
    ev = sub.add_parser("evaluate", help="measure what a run's codes learned (JSON to stdout and RUN_DIR/eval/)")
    ev.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    held_out = ", ".join(name for name, src in DATASETS.items() if src.test_split)
    ev.add_argument(
        "--dataset",
        metavar="SPEC",
        default=None,
        help=f"data set to score on, as in train; {held_out} "
        f"are scored on their held-out test splits (default: the run's own data set)",
    )
    add_shared(ev, "data_dir", "the run's")
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
        "(needs torch-fidelity and the torchvision made for your torch: docs/evaluation.md; default: none)",
    )
    add_shared(ev, "samples", "10000")
    ev.add_argument(
        "--inception-weights",
        metavar="PATH",
        default=None,
        help="local copy of weights-inception-2015-12-05-6726825d.pth, for machines without a network "
        "(default: $INFOGAN_INCEPTION_WEIGHTS, else downloaded once into the data dir)",
    )
    add_shared(ev, "classifier", "off")
    add_shared(ev, "device", "auto")
    ev.set_defaults(func=cmd_evaluate, command_parser=ev)


def _classifier_command(sub) -> None:
    cl = sub.add_parser("classifier", help="an independent classifier that judges generated images")
    cl_sub = cl.add_subparsers(dest="action", required=True)
    ct = cl_sub.add_parser("train", help="train it on a labelled data set; cached in the data dir")
    ct.add_argument(
        "--dataset",
        required=True,
        metavar="SPEC",
        help="labelled data set: mnist, cifar10, svhn, npz:PATH with y, ... (required)",
    )
    add_shared(ct, "data_dir", "$INFOGAN_DATA or ~/.cache/infogan")
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
    add_shared(ct, "device", "auto")
    ct.set_defaults(func=cmd_classifier_train, command_parser=ct)


def _encode_command(sub) -> None:
    enc = sub.add_parser(
        "encode",
        help="read images into codes: Q's category and continuous codes of each image, as CSV or JSON lines",
        description="Q's reading of every image: its category (with Q's probability) for each categorical code "
        "and each continuous code's value, one row per image, in the data's order.",
    )
    enc.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    enc.add_argument(
        "data",
        nargs="+",
        metavar="DATA",
        help="one data set (mnist-sample, npz:PATH, folder:PATH, ...) or image files (PNG, JPEG, ...) of the "
        "run's size and channels",
    )
    enc.add_argument("--format", default="csv", choices=("csv", "jsonl"), help="csv or jsonl (default: csv)")
    enc.add_argument("--out", default=None, metavar="FILE", help="file to write (default: standard output)")
    enc.add_argument(
        "--split",
        default=None,
        choices=("train", "test"),
        help="a data set's split (default: its held-out test split where it has one, else its images)",
    )
    enc.add_argument(
        "--strict", action="store_true", help="refuse an unreadable image file (default: skip it with a warning)"
    )
    enc.add_argument("--batch-size", "--batch_size", type=int, default=500, metavar="N", help="default: 500")
    add_shared(enc, "data_dir", "the run's, else $INFOGAN_DATA or ~/.cache/infogan")
    add_shared(enc, "device", "auto")
    enc.set_defaults(func=cmd_encode, command_parser=enc)


def _name_command(sub) -> None:
    nm = sub.add_parser(
        "name",
        help="name a run's categories, from labelled images or by hand (generate --label and encode use them)",
        description="Give a run's categories names: from labelled images (Q's categories matched one to one to "
        "the labels, as the accuracy metric matches them) or by hand. They are stored in RUN_DIR/names.json.",
    )
    nm.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    nm.add_argument(
        "assignments", nargs="*", metavar="K=NAME", help="names by hand: category K of code 1 (N:K=NAME: of code N)"
    )
    nm.add_argument(
        "--dataset", default=None, metavar="SPEC", help="labelled images to name the categories by (default: none)"
    )
    nm.add_argument(
        "--code", type=int, default=1, metavar="N", help="with --dataset: the categorical code to name (default: 1)"
    )
    add_shared(nm, "data_dir", "the run's, else $INFOGAN_DATA or ~/.cache/infogan")
    nm.set_defaults(func=cmd_name, command_parser=nm)


def _generate_command(sub) -> None:
    gen = sub.add_parser("generate", help="draw images for chosen codes into one PNG grid")
    gen.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    gen.add_argument(
        "--category",
        type=category_value,
        action="append",
        metavar="[N=]K",
        help="set categorical code N (1-based; default 1) to value K (0-based); repeatable "
        "(default: sampled per image)",
    )
    gen.add_argument(
        "--label",
        type=label_value,
        action="append",
        metavar="[N=]NAME",
        help="set categorical code N (default 1) to the category named NAME (infogan name); repeatable (default: none)",
    )
    gen.add_argument(
        "--code",
        type=code_value,
        action="append",
        metavar="I=V",
        help="set continuous code I (1-based) to V; repeatable (default: sampled from U(-1, 1))",
    )
    gen.add_argument("--seed", type=int, default=0, help="seed for whatever is sampled (default: 0)")
    gen.add_argument("-n", type=int, default=10, help="number of images (default: 10)")
    gen.add_argument("--out", type=png_path, required=True, metavar="FILE.png", help="output PNG (required)")
    gen.set_defaults(func=cmd_generate, command_parser=gen)


def _traverse_command(sub) -> None:
    tr = sub.add_parser(
        "traverse",
        help="vary one code: a continuous one (rows = values of categorical code 1, "
        "columns = code values) or a categorical one (rows = fixed noise, columns = its values)",
    )
    tr.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
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
    tr.add_argument("--rows", type=int, default=None, help="noise rows of a categorical traversal (default: 10)")
    tr.add_argument(
        "--range",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help=f"code values from LO to HI (default: {CODE_RANGE[0]:g} {CODE_RANGE[1]:g})",
    )
    tr.add_argument("--steps", type=int, default=None, help="columns of a continuous traversal (default: 10)")
    tr.add_argument("--seed", type=int, default=0, help="seed for the noise of each row (default: 0)")
    tr.add_argument("--out", type=png_path, required=True, metavar="FILE.png", help="output PNG (required)")
    tr.set_defaults(func=cmd_traverse, command_parser=tr)


def _sweep_command(sub) -> None:
    sw = sub.add_parser("sweep", help="train and evaluate one run per seed; summary.json and a table")
    sw.add_argument("--seeds", required=True, metavar="S,S,...", help="comma-separated seeds (required)")
    add_shared(sw, "eval_dataset", "each run's own; mnist -> its test split")
    sw.add_argument(
        "--select",
        choices=SELECTION_CRITERIA,
        default=None,
        help="label-free choice of a run: q_real_mi (Q's information about its categorical codes on "
        "real images) or centrality (ModelCentrality: the run whose Q and generator agree most "
        "with the others', by the FactorVAE score) (default: q_real_mi with categorical codes, "
        "else centrality with 3 seeds or more, else no pick)",
    )
    add_shared(sw, "classifier", "off")
    add_shared(sw, "samples", "10000")
    sw.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="seeds trained at once, each in its own process with cores/N threads on a CPU; on a GPU "
        "several small trainings share the card well (default: on a CPU one per core, at most "
        "one per seed, faster than one after another for these small models; on a GPU or with --threads: 1, "
        "one after another in this process)",
    )
    sw.add_argument(
        "--screen-epochs",
        "--screen_epochs",
        type=int,
        default=None,
        metavar="E",
        help="train every seed E epochs, then only the --keep seeds whose Q holds the most information about "
        "real images (q_real_mi, no labels needed) on to --epochs (default: off, every seed trains to the end)",
    )
    sw.add_argument(
        "--keep", type=int, default=None, metavar="K", help="with --screen-epochs: seeds that train on (default: 1)"
    )
    add_train_options(sw, single_run=False)
    sw.set_defaults(func=cmd_sweep, command_parser=sw)


def _explore_command(sub) -> None:
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


def _export_command(sub) -> None:
    xp = sub.add_parser(
        "export",
        help="a finished run's config, G and D/Q as safetensors (fp16), its names and a model card, to ship or share",
        description="Write a finished run's config, G and D/Q (safetensors), metrics, the categories' names and "
        "README.md, a model card: the command that trains it, its scores on record, what each code does, how to "
        "load it.",
    )
    xp.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
    xp.add_argument("--out", required=True, metavar="DIR", help="folder to write (required)")
    xp.add_argument("--fp32", action="store_true", help="keep the weights in fp32 (default: fp16, half the size)")
    xp.set_defaults(func=cmd_export, command_parser=xp)


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
