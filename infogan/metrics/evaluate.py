"""`infogan evaluate`: score a run's codes on a data set and write RUN_DIR/eval/<dataset>.json.

Which metrics run, and under which keys, is registry.py's table; this module loads the run and the data,
builds the context the metrics read, and writes the report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from infogan.checks import require_int
from infogan.config import MAX_METRIC_SAMPLES
from infogan.data.datasets import absolute_dir, absolute_spec, evaluation_split, load_dataset
from infogan.data.download import default_data_dir
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes
from infogan.metrics import image_quality, registry
from infogan.metrics.classifier import default_path, load_classifier
from infogan.serve.encode import load_encoder
from infogan.serve.inference import load_generator, load_run_config
from infogan.serve.pictures import read_metrics
from infogan.serve.pretrained import is_shipped, resolve_run

# describe_effects: a code's mean Spearman rho (64 traversals of 9 values) must reach this to be called an
# effect. An unrelated code's rho over 9 values has a standard deviation of 1/sqrt(8) = 0.35, its mean over
# 64 traversals 0.044: 0.3 is about 7 of those, while the codes of a trained MNIST model reach 0.8-1.0.
CLEAR_EFFECT = 0.3
# A classifier right less than half the time on its own test images mislabels most generated ones too.
WEAK_CLASSIFIER = 0.5


def evaluate_run(
    run_dir: str | Path,
    dataset: str | None = None,
    batch_size: int = 500,
    device: str = "cpu",
    image_metrics: list[str] | None = None,
    samples: int = 10_000,
    inception_weights: str | None = None,
    classifier: str | None = None,
    data_dir: str | None = None,
) -> dict:
    """Every metric of the registry that applies, for one run on one data set; writes eval/<name>.json (and
    the metrics' pictures, confusion.png and continuous_effects.png, beside it).

    `image_metrics` (names of the registry's "image" group) and `classifier` (a path, or "cached": the data
    set's own from `infogan classifier train`) score `samples` generated images against the data's images.
    `data_dir`: where data sets are read (default: the run's).

    `split` in the report says what was scored: "test" (the data set's own held-out split), "all" (every image
    of a data set named with `dataset`, other than the one the run trained on) or "train" (the run's own
    training images, for data without a held-out split: said on stderr too)."""
    shown, run_dir = str(run_dir), resolve_run(run_dir)
    cfg = load_run_config(run_dir)
    # a shipped model lives in the (read-only) package: its reports go to the data dir
    out_dir = (default_data_dir() / "pretrained" / run_dir.name / "eval") if is_shipped(run_dir) else run_dir / "eval"
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    require_int("samples", samples, minimum=2, maximum=MAX_METRIC_SAMPLES)
    if image_metrics:
        registry.check_names(image_metrics)
    spec = absolute_spec(dataset) if dataset else cfg.dataset
    data_dir = absolute_dir(data_dir) or cfg.data_dir
    split = evaluation_split(spec)
    data = load_dataset(spec, data_dir, split, *cfg.folder_options())
    if split == "train" and spec != cfg.dataset:
        split = "all"
    elif split == "train":
        print(
            f"note: {spec} has no held-out split, so these are the run's own training images; pass --dataset "
            f"with images it did not train on for an honest score",
            file=sys.stderr,
        )
    if list(data.shape) != list(cfg.image_shape):
        raise UsageError(f"{spec} has images of shape {list(data.shape)}, the run was trained on {cfg.image_shape}")
    # fail on missing torch-fidelity, weights or classifier before any long computation
    weights = image_quality.prepare(inception_weights, cfg.data_dir) if image_metrics else None
    model = _classifier(classifier, data, cfg, data_dir).to(device) if classifier else None
    ctx = registry.EvalContext(
        cfg,
        load_generator(run_dir, device),
        load_encoder(run_dir, device),
        data.images,
        {name: y.numpy() for name, y in data.factors.items()},
        out_dir=out_dir,
        batch_size=batch_size,
        device=device,
        samples=samples,
        requested={"image": list(image_metrics or [])},
        inception_weights=weights,
        real_cache_name=f"infogan-{data.name}-{split}-{len(data)}",
        classifier=model,
    )
    report: dict = {
        "run_dir": shown,
        "dataset": spec,
        "split": split,
        "n_samples": len(data),
        "categorical": list(cfg.latent.categorical),
        "continuous": cfg.latent.continuous,
        **registry.evaluate(ctx),
    }
    if not ctx.factors:
        report["label_metrics_omitted"] = f"{spec} has no labels: categorical_accuracy, nmi and ari need them"
    if image_metrics:
        report["image_metrics_samples"] = samples
    report.update(health_summary(read_metrics(run_dir / "metrics.jsonl", kind=None)))  # what training detected
    out = out_dir / f"{data.name}.json"
    atomic_write_bytes(out, (json.dumps(report, indent=2) + "\n").encode())
    return report


def _classifier(path: str, data, cfg, data_dir):
    model, about = load_classifier(default_path(data, data_dir) if path == "cached" else path)
    if list(about["image_shape"]) != list(cfg.image_shape):
        raise UsageError(
            f"the classifier was trained on {about['dataset']} images of shape {about['image_shape']}, "
            f"the run makes {cfg.image_shape}: train one on the run's data set"
        )
    accuracy = about.get("test_accuracy")
    if isinstance(accuracy, float) and accuracy < WEAK_CLASSIFIER:
        print(
            f"warning: this classifier labels its own test images right only {accuracy:.3f} of the time: its "
            f"judgement of generated images means little (train it longer: infogan classifier train --epochs)",
            file=sys.stderr,
        )
    return model


def describe_effects(effects: list[dict]) -> list[str]:
    """One line per continuous code saying which property it controls most, or that it controls neither
    clearly: below CLEAR_EFFECT in magnitude a mean within-traversal Spearman rho is no evidence."""
    lines = []
    for e in effects:
        slant, ink = e["slant_spearman"], e["ink_spearman"]
        measured = f"code {e['code']}: slant rho {slant:+.2f}, ink rho {ink:+.2f} -> "
        if max(abs(slant), abs(ink)) < CLEAR_EFFECT:
            lines.append(measured + "no clear effect on slant or width")
        else:
            lines.append(measured + f"mostly {'rotation' if abs(slant) >= abs(ink) else 'width'}")
    return lines


def health_summary(records: list[dict]) -> dict:
    """What evaluate reports of a run's health records (the "health" records train/health.py's monitor writes
    into metrics.jsonl): each failure seen, or that none was."""
    found = [r for r in records if r.get("kind") == "health"]
    if not found:
        return {"health": "no failure detected during training"}
    return {
        "health": [{k: r[k] for k in ("failure", "subject", "step", "evidence", "advice") if k in r} for r in found]
    }
