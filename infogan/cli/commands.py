"""What each command does with its parsed arguments: the work itself lives in train/, metrics/ and serve/."""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import sys
from pathlib import Path

from infogan.checks import require_int
from infogan.config import MAX_SEED, TrainConfig
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.metrics.classifier import train_classifier
from infogan.metrics.evaluate import describe_effects, evaluate_run
from infogan.metrics.naming import name_run
from infogan.metrics.registry import parse_names
from infogan.model.latent import CODE_RANGE
from infogan.serve.card import export_with_card
from infogan.serve.encode import encode_to
from infogan.serve.explorer import serve
from infogan.serve.images import save_image_grid
from infogan.serve.inference import categorical_traversal, chosen_latent, continuous_traversal, generate, load_generator
from infogan.serve.names import category_named, load_names
from infogan.sweep import format_table, parse_seeds, run_sweep
from infogan.train.launch import resume, train
from infogan.train.runtime import select_device

_DEFAULTS = TrainConfig()


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


def code_value(text: str) -> tuple[int, float]:
    index, sep, value = text.partition("=")
    try:
        return int(index), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I=V such as 1=0.5, got {text!r}") from None


def category_value(text: str) -> tuple[int, int]:
    """'3' -> code 1 = 3; '2=7' -> code 2 = 7."""
    code, sep, value = text.rpartition("=") if "=" in text else ("1", "", text)
    try:
        return int(code), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K (code 1's value) or N=K such as 2=7, got {text!r}") from None


def label_value(text: str) -> tuple[int, str]:
    """'seven' -> code 1's category named seven; '2=seven' -> code 2's."""
    code, sep, name = text.partition("=")
    if sep and code.isdigit():
        return int(code), name
    return 1, text


def png_path(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"--out must name a .png file, got {text!r}")
    return text


def cmd_encode(args: argparse.Namespace) -> int:
    """Q's codes of every image, to --out (written whole or not at all) or to stdout."""
    options = dict(
        fmt=args.format,
        batch_size=args.batch_size,
        strict=args.strict,
        split=args.split,
        data_dir=args.data_dir,
        device=_device(args.device),
        progress=sys.stderr.isatty(),
    )
    if args.out is None:
        try:
            encode_to(args.run_dir, args.data, sys.stdout, **options)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (| head): as other Unix filters, end quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    out = io.StringIO()  # the rows, then one atomic write: --out is whole or untouched
    count = encode_to(args.run_dir, args.data, out, **options)
    atomic_write_bytes(Path(args.out), out.getvalue().encode())
    print(f"{count} images: {args.out}", file=sys.stderr)
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    path, names = name_run(args.run_dir, args.assignments, args.dataset, args.code, args.data_dir)
    for code, per in sorted(names.items()):
        print(f"code {code}: " + ", ".join(f"{value}={name}" for value, name in sorted(per.items())))
    print(f"names: {path}", file=sys.stderr)
    return 0


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
    categories = dict(args.category or [])
    if args.label:
        names = load_names(args.run_dir)
        for code, name in args.label:
            categories[code] = category_named(names, code, name)
    latent = chosen_latent(gen.cfg, args.n, args.seed, categories, dict(args.code or []))
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
        if args.steps is not None or args.range is not None:
            raise UsageError(
                "--steps and --range set a continuous traversal's values (--code); a categorical one shows every "
                "value of its code: drop them"
            )
        if not 1 <= args.categorical_code <= spec.n_categorical:
            raise UsageError(
                f"--categorical-code must be in 1..{spec.n_categorical} (this run's categorical "
                f"codes), got {args.categorical_code}"
            )
        rows = 10 if args.rows is None else args.rows
        require_int("rows", rows, minimum=1, maximum=100)
        names = load_names(args.run_dir).get(args.categorical_code)
        categorical_traversal(gen, args.categorical_code, args.seed, rows=rows, names=names).save(args.out)
    else:
        if args.rows is not None:
            raise UsageError(
                "--rows sets a categorical traversal's noise rows (--categorical-code); a continuous one has a row "
                "per value of categorical code 1: drop --rows"
            )
        if not 1 <= args.code <= spec.continuous:
            raise UsageError(f"--code must be in 1..{spec.continuous} (this run's continuous codes), got {args.code}")
        steps = 10 if args.steps is None else args.steps
        value_range = list(CODE_RANGE) if args.range is None else args.range
        require_int("steps", steps, minimum=2, maximum=100)
        if not all(math.isfinite(v) for v in value_range):
            raise UsageError(f"--range must be two finite numbers, got {value_range[0]} {value_range[1]}")
        names = load_names(args.run_dir).get(1)
        continuous_traversal(gen, args.code, args.seed, value_range, steps, names=names).save(args.out)
    print(args.out)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:

    if args.keep is not None and args.screen_epochs is None:
        raise UsageError(
            "--keep says how many seeds train on after --screen-epochs, which is not given: give both, or drop --keep"
        )
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
        screen=(args.screen_epochs, 1 if args.keep is None else args.keep) if args.screen_epochs else None,
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

    print(export_with_card(args.run_dir, args.out, half=not args.fp32))
    return 0
