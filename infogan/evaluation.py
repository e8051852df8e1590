"""`infogan evaluate`: score a run's codes on a data set and write RUN_DIR/eval/<dataset>.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import image_quality, metrics
from .artifacts import plot_confusion, plot_continuous_effects
from .checkpoint import atomic_write_bytes, load_checkpoint
from .config import MAX_METRIC_SAMPLES, require_int
from .classifier import classifier_scores, default_path, load_classifier
from .data import evaluation_split, load_dataset
from .disentanglement import disentanglement_report, q_codes
from .errors import UsageError
from .inference import generated_sample, load_generator, load_run_config
from .networks import Discriminator


def load_discriminator(run_dir: str | Path, device="cpu") -> Discriminator:
    """D/Q from the run's last checkpoint (Q lives there; generator.safetensors holds only G)."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    disc = Discriminator(cfg)
    try:
        disc.load_state_dict(ckpt["discriminator"])
    except RuntimeError as exc:
        raise UsageError(f"checkpoint of {run_dir} does not fit its config.json ({str(exc).splitlines()[0]})") from None
    return disc.to(device).eval()


def evaluate_run(run_dir: str | Path, dataset: str | None = None, batch_size: int = 500,
                 n_generated: int = 2000, device: str = "cpu", image_metrics: list[str] | None = None,
                 samples: int = 10_000, inception_weights: str | None = None,
                 classifier: str | None = None) -> dict:
    """All metrics of one run on one data set; writes eval/<name>.json, confusion.png, continuous_effects.png.

    With several categorical codes every code is scored against every ground-truth factor the data has
    (`per_code`), and each factor names its best-matching code (`factors`); see metrics.code_scores.
    `image_metrics` (torch-fidelity's names) and `classifier` (a path, or "cached": the data set's own from
    `infogan classifier train`) score `samples` generated images against the data set's images."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    spec = dataset or cfg.dataset
    split = evaluation_split(spec)
    data = load_dataset(spec, cfg.data_dir, split, *cfg.folder_options())
    if list(data.shape) != list(cfg.image_shape):
        raise UsageError(f"{spec} has images of shape {list(data.shape)}, the run was trained on {cfg.image_shape}")
    require_int("samples", samples, minimum=2, maximum=MAX_METRIC_SAMPLES)
    if image_metrics:  # fail on missing torch-fidelity or weights before any long computation
        weights = image_quality.prepare(inception_weights, cfg.data_dir)
    model = None
    if classifier:
        model, about = load_classifier(default_path(data, cfg.data_dir) if classifier == "cached" else classifier)
        if list(about["image_shape"]) != list(cfg.image_shape):
            raise UsageError(f"the classifier was trained on {about['dataset']} images of shape {about['image_shape']}, "
                             f"the run makes {cfg.image_shape}: train one on the run's data set")
    gen, disc = load_generator(run_dir, device), load_discriminator(run_dir, device)
    latent = cfg.latent

    report: dict = {"run_dir": str(run_dir), "dataset": spec, "split": split, "n_samples": len(data),
                    "categorical": list(latent.categorical), "continuous": latent.continuous}
    probs = metrics.q_on_real(disc, data.images, batch_size)
    factors = {name: y.numpy() for name, y in data.factors.items()}
    report.update(metrics.code_scores(probs, factors))
    first = next(iter(factors), None)
    if first in report["factors"] and probs:
        code = report["factors"][first]["best_code"]
        table, cat_values, label_values = metrics.contingency(probs[code - 1].argmax(1).numpy(), factors[first])
        matching = {int(k): v for k, v in report["matching"].items()}
        plot_confusion(table, cat_values, label_values, matching, run_dir / "eval" / "confusion.png")
    elif not factors:
        report["label_metrics_omitted"] = f"{spec} has no labels: categorical_accuracy, nmi and ari need them"
    if factors:  # MIG and FactorVAE on every code (categorical argmax, continuous means) against every factor
        codes, discrete = q_codes(disc, data.images, batch_size)
        if codes.shape[1]:
            report.update(disentanglement_report(codes, discrete, factors))
    report.update(metrics.generated_information(latent, gen, disc, n=n_generated, batch_size=batch_size))
    report.update(metrics.continuous_effects(latent, cfg.image_shape[0], gen))
    if report["continuous_effects"]:
        plot_continuous_effects(report["continuous_effects"], run_dir / "eval" / "continuous_effects.png")
    report["category_histogram"] = [np.bincount(p.argmax(1).numpy(), minlength=p.shape[1]).tolist() for p in probs]
    if len(probs) == 1:
        report["category_histogram"] = report["category_histogram"][0]  # single-code runs: one list, as before
    if image_metrics or model is not None:
        fake, codes = generated_sample(gen, samples, batch_size)
        if image_metrics:
            report["image_metrics"] = image_quality.image_metrics(
                fake, data.images, image_metrics, weights, image_quality.cache_dir(cfg.data_dir),
                f"infogan-{data.name}-{split}-{len(data)}",
                device, batch_size=min(batch_size, 200))
            report["image_metrics_samples"] = samples
        if model is not None:
            report["classifier"] = classifier_scores(model, fake, codes, data.images)
    out = run_dir / "eval" / f"{data.name}.json"
    atomic_write_bytes(out, (json.dumps(report, indent=2) + "\n").encode())
    return report


def describe_effects(effects: list[dict]) -> list[str]:
    """One line per continuous code saying which property it controls most."""
    lines = []
    for e in effects:
        strongest = "slant" if abs(e["slant_spearman"]) >= abs(e["ink_spearman"]) else "ink"
        lines.append(f"code {e['code']}: slant rho {e['slant_spearman']:+.2f}, ink rho {e['ink_spearman']:+.2f} "
                     f"-> mostly {'rotation' if strongest == 'slant' else 'width'}")
    return lines

