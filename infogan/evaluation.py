"""`infogan evaluate`: score a run's codes on a data set and write RUN_DIR/eval/<dataset>.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import metrics
from .artifacts import plot_confusion, plot_continuous_effects
from .checkpoint import atomic_write_bytes, load_checkpoint
from .data import load_dataset
from .errors import UsageError
from .inference import load_generator, load_run_config
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
                 n_generated: int = 2000, device: str = "cpu") -> dict:
    """All metrics of one run on one data set; writes eval/<name>.json, confusion.png, continuous_effects.png."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    spec = dataset or cfg.dataset
    # mnist and cifar10 are scored on their official test splits; other data sets as they are.
    split = "test" if spec.lower() in ("mnist", "cifar10") else "train"
    data = load_dataset(spec, cfg.data_dir, split, cfg.image_size, cfg.channels)
    if list(data.shape) != list(cfg.image_shape):
        raise UsageError(f"{spec} has images of shape {list(data.shape)}, the run was trained on {cfg.image_shape}")
    gen, disc = load_generator(run_dir, device), load_discriminator(run_dir, device)

    report: dict = {"run_dir": str(run_dir), "dataset": spec, "split": split, "n_samples": len(data)}
    probs = metrics.q_on_real(disc, data.images, batch_size)
    pred = probs.argmax(1).numpy()
    report.update(metrics.q_real_information(probs))
    if data.labels is not None:
        labels = data.labels.numpy()
        report.update(metrics.label_metrics(pred, labels))
        table, cat_values, label_values = metrics.contingency(pred, labels)
        plot_confusion(table, cat_values, label_values, report["matching"], run_dir / "eval" / "confusion.png")
        report["matching"] = {str(k): v for k, v in report["matching"].items()}  # JSON keys are strings
    else:
        report["label_metrics_omitted"] = f"{spec} has no labels: categorical_accuracy, nmi and ari need them"
    report.update(metrics.generated_information(cfg, gen, disc, n=n_generated, batch_size=batch_size))
    report.update(metrics.continuous_effects(cfg, gen))
    if report["continuous_effects"]:
        plot_continuous_effects(report["continuous_effects"], run_dir / "eval" / "continuous_effects.png")
    report["category_histogram"] = np.bincount(pred, minlength=cfg.categories).tolist()
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

