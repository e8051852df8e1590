"""The options several commands take, defined once each (the training options are options.py's)."""

from __future__ import annotations

from infogan.config import DEVICES

# Options several commands take, one definition each: flags, argparse settings, and what it does. Each command
# adds its own "(default: ...)", which differs: `evaluate --data-dir` defaults to the run's own folder.
SHARED_OPTIONS = {
    "data_dir": (
        ("--data-dir", "--data_dir"),
        {"metavar": "DIR", "default": None},
        "where data sets (and cached classifiers) are read from and downloaded to",
    ),
    "device": (
        ("--device",),
        {"default": "auto", "choices": DEVICES},
        "where the networks run (auto: a GPU where there is one)",
    ),
    "classifier": (
        ("--classifier",),
        {"metavar": "PATH", "nargs": "?", "const": "cached", "default": None},
        "score generated images with an independent classifier: purity, mode count, classifier score, "
        "fid_classifier (PATH, or no value: the one `infogan classifier train` cached for the data set)",
    ),
    "samples": (
        ("--samples",),
        {"type": int, "default": 10_000, "metavar": "N"},
        "generated images --classifier (and evaluate's --image-metrics) judge per run; papers use 50000",
    ),
    "eval_dataset": (
        ("--eval-dataset", "--eval_dataset"),
        {"metavar": "SPEC", "default": None},
        "labelled images the label metrics score, e.g. held-out ones (mnist, mnist-sample, cifar10, svhn: their test splits)",
    ),
}


def add_shared(parser, name: str, default_text: str, **overrides) -> None:
    """Shared option `name` (SHARED_OPTIONS) on `parser`, with this command's default stated in its help."""
    flags, settings, help_text = SHARED_OPTIONS[name]
    parser.add_argument(*flags, dest=name, **{**settings, **overrides}, help=f"{help_text} (default: {default_text})")


def shared_help(name: str) -> str:
    return SHARED_OPTIONS[name][2]
