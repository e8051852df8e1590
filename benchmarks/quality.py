"""Does the categorical code become the digit? Accuracy, NMI and the MI bound over several seeds.

Trains on the first 9,000 digits of ../shared/data/mnist-train-10k.npz (real MNIST), evaluates each run on
the last 1,000 (held out), one run per seed, through `infogan sweep`, and compares with the targets of the
project's quality bar: median accuracy >= 0.95, worst seed >= 0.90, median NMI >= 0.90, and the MI bound
within 0.05 of ln 10 by the end of epoch 2. A seed that fails (diverges, or its process exits with an
error) is recorded with the reason, and counts as a failure (accuracy 0) in "worst".

    python benchmarks/quality.py                      # the project's default MNIST settings, 5 seeds
    python benchmarks/quality.py --epochs 20 --batch-size 64 --precision bf16 --seeds 0,1,2
    python benchmarks/quality.py --dataset mnist-sample --epochs 36 --batch-size 64   # the demo's budget

Any extra `infogan train` options are passed through. `--classifier PATH` (from `infogan classifier train`)
also scores each run's generated digits with that independent classifier (`sweep --classifier`): purity,
mode count, classifier score and fid_classifier next to the code's accuracy. JSON to
benchmarks/results/quality.json.

Several settings side by side (a GPU runs many small trainings at once, `--jobs N`):

    python benchmarks/quality.py --jobs 10 --device cuda \\
        --variant base="--batch-size 64 --epochs 40" --variant cw1="--batch-size 64 --epochs 40 --continuous-weight 1"

Each variant is one sweep under WORKDIR/<variant> and gets benchmarks/results/quality_<name>.json; run again
with the same --workdir, finished seeds are not retrained and interrupted ones resume. `--deadline S`: no
variant starts after S seconds.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common

TARGETS = {"median_accuracy": 0.95, "worst_accuracy": 0.90, "median_nmi": 0.90, "mi_gap_epoch2": 0.05}


CLEAN_RHO = 0.9  # a continuous code "moves" a factor when |Spearman rho| with it reaches this
PURE_OTHER_RHO = 0.3  # ... and leaves the other factor alone when |rho| with that one is at most this
WHOLE_ACCURACY = 0.96  # a whole seed's categorical code is the digit on held-out images at least this often
FACTORS = ("slant", "ink")  # ink: the stroke width (continuous_effects measures it as the ink mass)


def codes_clean(effects: list[dict]) -> bool:
    """The loose test of the continuous codes: two of them move different factors, one the slant and
    another the stroke width (ink), each with |rho| >= CLEAN_RHO (`continuous_effects` of evaluate); a code
    may move the other factor too."""
    slant = {e["code"] for e in effects if abs(e["slant_spearman"]) >= CLEAN_RHO}
    width = {e["code"] for e in effects if abs(e["ink_spearman"]) >= CLEAN_RHO}
    return any(a != b for a in slant for b in width)


def pure_factor(effect: dict) -> str | None:
    """The factor a continuous code moves alone (|rho| >= CLEAN_RHO with it, <= PURE_OTHER_RHO with the
    other), or None."""
    for factor in FACTORS:
        other = next(f for f in FACTORS if f != factor)
        if abs(effect[f"{factor}_spearman"]) >= CLEAN_RHO and abs(effect[f"{other}_spearman"]) <= PURE_OTHER_RHO:
            return factor
    return None


def is_whole(accuracy: float, effects: list[dict]) -> bool:
    """The paper's Figure 2 in one seed: the categorical code is the digit (held-out accuracy >=
    WHOLE_ACCURACY), one continuous code is a pure slant code and another a pure width code."""
    pure = {pure_factor(e) for e in effects}
    return accuracy >= WHOLE_ACCURACY and set(FACTORS) <= pure


def seed_row(run_dir: Path, report: dict) -> dict:
    """One finished seed: its held-out scores (from sweep's evaluation) and its training curves."""
    epochs = common.epochs(run_dir)
    row = {
        "heldout_accuracy": report["categorical_accuracy"],
        "heldout_nmi": report["nmi"],
        "heldout_ari": report["ari"],
        "mi_bound_generated": report["mutual_information_bound"],
        "q_real_mi": report["q_real_mi"],
        "mi_bound_by_epoch": [round(r["mi_bound"], 4) for r in epochs],
        "train_accuracy_by_epoch": [round(r.get("categorical_accuracy", float("nan")), 4) for r in epochs],
        # --stop-when-settled's measures (train/settle.py), where the run took them: benchmarks/settle.py
        **({"settle_changed_by_epoch": [r["settle_changed"] for r in epochs]} if "settle_changed" in epochs[0] else {}),
        **(
            {"settle_q_real_mi_by_epoch": [r["settle_q_real_mi"] for r in epochs]}
            if "settle_changed" in epochs[0]
            else {}
        ),
        "continuous_effects": report["continuous_effects"],
        "codes_clean": codes_clean(report["continuous_effects"]),
        "pure": [pure_factor(e) for e in report["continuous_effects"]],
        "whole": is_whole(report["categorical_accuracy"], report["continuous_effects"]),
        "train_seconds": report["train_seconds"],
        "steps": epochs[-1]["step"],
        "images_per_sec": statistics.median(r["images_per_sec"] for r in epochs),
    }
    if "classifier" in report:  # --classifier: the independent judge of the generated digits
        row["classifier"] = {
            k: report["classifier"][k]
            for k in ("purity", "mode_count", "classifier_score", "fid_classifier", "classifier_samples")
        }
    return row


def summarise(runs: dict[str, dict], failed: dict[str, str], entropy: float) -> tuple[dict, dict]:
    """Medians over the finished seeds; "worst" over every seed, a failed one counting as accuracy 0."""
    acc = [r["heldout_accuracy"] for r in runs.values()]
    nmi = [r["heldout_nmi"] for r in runs.values()]
    gap2 = [entropy - r["mi_bound_by_epoch"][min(1, len(r["mi_bound_by_epoch"]) - 1)] for r in runs.values()]
    summary = {
        "seeds_done": len(runs),
        "seeds_failed": len(failed),
        "median_accuracy": statistics.median(acc),
        "mean_accuracy": statistics.fmean(acc),
        "std_accuracy": statistics.pstdev(acc),
        "worst_accuracy": 0.0 if failed else min(acc),
        "best_accuracy": max(acc),
        "median_nmi": statistics.median(nmi),
        "mi_gap_epoch2": max(gap2),
        "codes_clean": sum(r["codes_clean"] for r in runs.values()),  # seeds whose continuous codes pass
        "whole": sum(r["whole"] for r in runs.values()),  # seeds with the digit, a pure slant and a pure width code
    }
    judged = [r["classifier"] for r in runs.values() if "classifier" in r]
    if judged:
        summary.update(
            median_purity=statistics.median(j["purity"] for j in judged),
            worst_purity=0.0 if failed else min(j["purity"] for j in judged),
            min_mode_count=0 if failed else min(j["mode_count"] for j in judged),
            median_fid_classifier=statistics.median(j["fid_classifier"] for j in judged),
        )
    met = {
        "median_accuracy": summary["median_accuracy"] >= TARGETS["median_accuracy"],
        "worst_accuracy": summary["worst_accuracy"] >= TARGETS["worst_accuracy"],
        "median_nmi": summary["median_nmi"] >= TARGETS["median_nmi"],
        "mi_gap_epoch2": summary["mi_gap_epoch2"] <= TARGETS["mi_gap_epoch2"],
    }
    return summary, met


SHEETS = common.ROOT / "docs" / "img" / "quality"  # every seed's traversals, one picture per variant


def traversal_sheet(parent: Path, runs: dict[str, dict], out: Path) -> Path | None:
    """Every seed's continuous traversals side by side (a row per seed: code 1, code 2, ...; in each, a row
    per category and the code's value left to right), captioned with the seed's accuracy and each code's two
    rhos, failures included; None where the runs drew no traversal."""
    from PIL import Image, ImageDraw

    rows = []
    for seed, row in runs.items():
        pictures = sorted((parent / f"seed_{seed}" / "traversals").glob("continuous_*.png"))
        if not pictures:
            continue
        effects = " | ".join(
            f"code {e['code']}: slant {e['slant_spearman']:+.2f} ink {e['ink_spearman']:+.2f}"
            f"{' (' + p + ')' if p else ''}"
            for e, p in zip(row["continuous_effects"], row["pure"])
        )
        caption = f"seed {seed}  accuracy {row['heldout_accuracy']:.3f}  {'WHOLE' if row['whole'] else ''}  {effects}"
        rows.append((caption, [Image.open(p).convert("L") for p in pictures]))
    if not rows:
        return None
    pad, text = 8, 14
    width = max(sum(im.width + pad for im in images) for _, images in rows) + pad
    width = max(width, 7 * max(len(caption) for caption, _ in rows))  # the default font: about 6 px a letter
    height = sum(text + max(im.height for im in images) + pad for _, images in rows) + pad
    sheet = Image.new("L", (width, height), 255)
    draw, y = ImageDraw.Draw(sheet), pad
    for caption, images in rows:
        draw.text((pad, y), caption, fill=0)
        x, y = pad, y + text
        for im in images:
            sheet.paste(im, (x, y))
            x += im.width + pad
        y += max(im.height for im in images) + pad
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def run_variant(name: str, options: list[str], args, workdir: Path, train: str, heldout: str) -> dict | None:
    """One sweep of every seed with these options; its result file, or None when no seed finished."""
    parent = workdir / name
    sweep = [
        "sweep",
        "--seeds",
        args.seeds,
        "--dataset",
        train,
        "--eval-dataset",
        heldout,
        "--outdir",
        parent,
        "--no-progress",
        *(["--jobs", str(args.jobs)] if args.jobs else []),
        *options,
    ]
    if args.classifier:
        sweep += ["--classifier", Path(args.classifier).resolve(), "--samples", str(args.classifier_samples)]
    common.infogan(*sweep, log=workdir / f"{name}.log", check=False)
    if not (parent / "summary.json").exists():
        print(f"{name}: no seed finished (log: {workdir / f'{name}.log'})", flush=True)
        return None
    summary = json.loads((parent / "summary.json").read_text())
    runs = {seed: seed_row(parent / f"seed_{seed}", report) for seed, report in summary["runs"].items()}
    cfg = json.loads((parent / f"seed_{next(iter(runs))}" / "config.json").read_text())
    from infogan.config import TrainConfig

    stats, met = summarise(runs, summary["failed"], TrainConfig.from_dict(cfg).latent.total_entropy)
    sheet = traversal_sheet(parent, runs, Path(args.sheets) / f"quality_{name}.png")
    if sheet is not None:
        print(f"{name}: every seed's traversals in {sheet}", flush=True)
    for seed, why in summary["failed"].items():
        print(f"{name} seed {seed} FAILED: {why}", flush=True)
    return common.header(
        "quality",
        seeds=args.seeds,
        train_args=options,
        config={
            k: cfg.get(k)
            for k in (
                "arch",
                "batch_size",
                "epochs",
                "noise_dim",
                "noise_prior",
                "continuous_weight",
                "categorical_weight",
                "lr_d",
                "lr_g",
                "lr_q",
                "precision",
                "device",
                "threads",
            )
        },
        summary=stats,
        targets=TARGETS,
        targets_met=met,
        failed=summary["failed"],
        runs=runs,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--data", default=str(common.SHARED_DATA / "mnist-train-10k.npz"), help="npz with x, y")
    parser.add_argument("--n-train", type=int, default=9000, help="digits to train on; the rest are held out")
    parser.add_argument(
        "--dataset",
        default=None,
        help="a data set with its own held-out split to use instead of --data, e.g. mnist-sample (the demo's)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="result JSON (default: benchmarks/results/quality.json, or "
        "quality_<variant>.json per variant in --results-dir)",
    )
    parser.add_argument("--results-dir", default=str(common.RESULTS), help="where variants' JSON go")
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temp dir)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar='NAME="TRAIN OPTIONS"',
        help="a named setting to compare; repeatable (default: one, from the extra options)",
    )
    parser.add_argument("--sheets", default=str(SHEETS), help="where each variant's picture of traversals goes")
    parser.add_argument("--jobs", type=int, default=None, help="seeds trained at once (default: sweep's)")
    parser.add_argument("--deadline", type=float, default=None, help="seconds after which no variant starts")
    parser.add_argument(
        "--classifier",
        default=None,
        metavar="PATH",
        help="score generated digits with this classifier (infogan classifier train) (default: off)",
    )
    parser.add_argument("--classifier-samples", type=int, default=5000, help="generated images it judges")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]  # `quality.py ... -- --device cuda` as the other benchmarks take it
    variants = {}
    for spec in args.variant:
        name, _, options = spec.partition("=")
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            parser.error(f'--variant needs NAME="OPTIONS" with a plain name, got {spec!r}')
        variants[name] = [*extra, *shlex.split(options)]
    variants = variants or {"default": extra}

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-quality-"))
    if args.dataset:  # e.g. the demo's: mnist-sample, scored on its 1,000 held-out digits
        train, heldout = args.dataset, args.dataset
    else:
        train, heldout = (f"npz:{path}" for path in common.split_npz(workdir, args.n_train, Path(args.data)))
    started, finished = time.monotonic(), 0
    for name, options in variants.items():
        if args.deadline is not None and time.monotonic() - started > args.deadline:
            print(f"{name}: not started (--deadline)", flush=True)
            continue
        result = run_variant(name, options, args, workdir, train, heldout)
        if result is None:
            continue
        finished += 1
        out = (
            Path(args.out)
            if args.out and len(variants) == 1
            else Path(args.results_dir) / ("quality.json" if name == "default" else f"quality_{name}.json")
        )
        common.save(result, out)
        print(f"{name}: " + json.dumps({k: result[k] for k in ("summary", "targets_met")}), flush=True)
    return 0 if finished == len(variants) else 1


if __name__ == "__main__":
    sys.exit(main())
