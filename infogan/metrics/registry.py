"""The one table of metrics: what `infogan evaluate` reports, what training logs per epoch, the names the
command line accepts and the columns of a sweep's table all come from `METRICS`.

A metric is one function registered here:

    @register_metric("my_score", needs_labels=True, per_epoch=False, table=("my_score",))
    def my_score(ctx: EvalContext) -> dict:
        return {"my_score": some_maths(ctx.q_probs, ctx.factors)}

It receives an `EvalContext` (the run's networks, real images and their factors, and cached work shared by
several metrics: Q's reading of the real images, a generated sample, torch-fidelity's results) and returns
`{key: value}` for the report. The maths stays in codes.py, disentanglement.py, image_quality.py and
classifier.py; this module says when each runs:

- needs_labels: only on data with ground-truth factors (evaluate then notes why it was left out);
- needs_categorical: only for runs with categorical codes (a run of continuous codes only reports no
  q_real_mi or MI bound rather than a 0 that reads like a measurement);
- per_epoch: also during training, on a fixed subset of the training images, into metrics.jsonl (numbers
  only); `requested` metrics per epoch only when asked for (--image-metrics-every);
- requested: a group name ("image": --image-metrics NAMES; "classifier": --classifier) whose metrics run
  only when asked for by name, and whose keys evaluate nests under `nest`;
- table: the keys sweep's table shows;
- series: {key: (label, figure)} for keys that the training plots draw (artifacts.FIGURES);
- console: {key: format} for keys the epoch line of training shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from infogan.errors import UsageError
from infogan.metrics import codes as code_metrics  # the maths; `codes` below is a metric
from infogan.metrics import image_quality
from infogan.metrics.classifier import classifier_scores
from infogan.metrics.disentanglement import disentanglement_report, q_codes
from infogan.metrics.image_quality import result_keys
from infogan.serve.inference import generated_sample
from infogan.serve.pictures import plot_confusion, plot_continuous_effects


@dataclass
class EvalContext:
    """Everything a metric may read; the expensive shared parts are computed once, on first use."""

    cfg: object  # the run's TrainConfig
    gen: torch.nn.Module
    disc: torch.nn.Module
    images: torch.Tensor  # real images, uint8 [N, C, H, W]
    factors: dict[str, np.ndarray]  # ground-truth factors by name, int [N] each; empty without labels
    out_dir: Path | None = None  # where evaluate's pictures go (None during training: no pictures)
    batch_size: int = 500
    device: str = "cpu"
    samples: int = 10_000  # generated images for image metrics and the classifier
    requested: dict[str, list[str]] = field(default_factory=dict)  # {"image": ["fid", ...], "classifier": [...]}
    inception_weights: Path | None = None  # a verified copy (image_quality.prepare), for image metrics
    real_cache_name: str | None = None  # torch-fidelity's cache entry for the real side
    classifier: object = None  # a loaded classifier.Classifier, for the classifier metric
    during_training: bool = False  # the per-epoch hook (a fixed subset of the training images)

    @property
    def spec(self):
        return self.cfg.latent

    @cached_property
    def q_probs(self) -> list[torch.Tensor]:
        """Q's probabilities per categorical code on the real images ([N, K_i] each)."""
        return code_metrics.q_on_real(self.disc, self.images, self.batch_size)

    @cached_property
    def generated(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`samples` generated images (uint8) from fixed prior draws, and categorical code 1 of each."""

        return generated_sample(self.gen, self.samples, self.batch_size)

    @cached_property
    def fidelity(self) -> dict[str, float]:
        """torch-fidelity's results for every requested image metric: one call, one pass of Inception."""

        return image_quality.image_metrics(
            self.generated[0],
            self.images,
            self.requested.get("image", []),
            self.inception_weights,
            image_quality.cache_dir(self.cfg.data_dir),
            self.real_cache_name,
            self.device,
            batch_size=min(self.batch_size, 200),
        )


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[EvalContext], dict]
    needs_labels: bool = False
    needs_categorical: bool = False
    per_epoch: bool = False
    requested: str | None = None
    nest: str | None = None
    table: tuple[str, ...] = ()
    series: dict = field(default_factory=dict)
    console: dict = field(default_factory=dict)


METRICS: dict[str, Metric] = {}


def register_metric(
    name: str,
    *,
    needs_labels: bool = False,
    needs_categorical: bool = False,
    per_epoch: bool = False,
    requested: str | None = None,
    nest: str | None = None,
    table: tuple[str, ...] = (),
    series: dict | None = None,
    console: dict | None = None,
):
    """Decorator: add `fn(ctx) -> dict` to METRICS under `name` (see the module docstring)."""

    def add(fn):
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(
            name,
            fn,
            needs_labels,
            needs_categorical,
            per_epoch,
            requested,
            nest,
            tuple(table),
            dict(series or {}),
            dict(console or {}),
        )
        return fn

    return add


def names(requested: str) -> list[str]:
    """The metrics of a requested group, e.g. names("image") -> ["fid", "kid", "isc", "prc"]."""
    return [m.name for m in METRICS.values() if m.requested == requested]


def parse_names(text: str, requested: str = "image", option: str = "--image-metrics") -> list[str]:
    """'fid,kid' -> ['fid', 'kid'], checked against the group's names; duplicates dropped."""
    given = [part.strip().lower() for part in text.split(",") if part.strip()]
    check_names(given, requested, option, text)
    return list(dict.fromkeys(given))


def check_names(
    given: list[str], requested: str = "image", option: str = "--image-metrics", text: str | None = None
) -> None:
    known = names(requested)
    if not given or any(n not in known for n in given):
        raise UsageError(
            f"{option} takes a comma-separated list of {', '.join(known)}, got "
            f"{text if text is not None else ','.join(given)!r}"
        )


def table_columns(keys) -> list[str]:
    """Sweep's table: every registered table key that the summary has, in registry order."""
    return [k for m in METRICS.values() for k in m.table if k in keys]


def series() -> dict[str, tuple[str, str]]:
    return {k: v for m in METRICS.values() for k, v in m.series.items()}


def console() -> dict[str, str]:
    return {k: v for m in METRICS.values() for k, v in m.console.items()}


def applicable(metric: Metric, ctx: EvalContext, during_training: bool) -> bool:
    if metric.needs_labels and not ctx.factors:
        return False
    if metric.needs_categorical and not ctx.spec.n_categorical:
        return False
    if (
        metric.requested is not None
        and metric.name not in ctx.requested.get(metric.requested, ())
        and not (metric.requested == "classifier" and ctx.classifier is not None)
    ):
        return False
    return metric.per_epoch if during_training else True


def evaluate(ctx: EvalContext) -> dict:
    """Every applicable metric's keys (requested groups nested under their `nest` key)."""
    report: dict = {}
    for metric in METRICS.values():
        if applicable(metric, ctx, during_training=False):
            values = metric.fn(ctx)
            (report.setdefault(metric.nest, {}) if metric.nest else report).update(values)
    return report


def epoch_metrics(ctx: EvalContext, groups: tuple[str | None, ...] = (None,)) -> dict:
    """The per-epoch metrics of the given groups (None: the unrequested ones), numbers only."""
    out = {}
    for metric in METRICS.values():
        if metric.requested in groups and applicable(metric, ctx, during_training=True):
            out.update(
                {k: v for k, v in metric.fn(ctx).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            )
    return out


# ---------------------------------------------------------------------------------------------- the metrics
@register_metric(
    "codes",
    needs_categorical=True,
    per_epoch=True,
    table=("categorical_accuracy", "nmi", "ari", "q_real_mi"),
    console={"categorical_accuracy": "cat acc {:.3f}"},
)
def codes(ctx: EvalContext) -> dict:
    """Q's categorical codes on real images: q_real_mi, q_confidence (label-free), and with labels every code
    against every factor (accuracy after Hungarian matching, NMI, ARI); confusion.png in evaluate."""
    report = code_metrics.code_scores(ctx.q_probs, ctx.factors)
    if ctx.during_training and len(ctx.q_probs) < 2:
        report.pop("best_code", None)  # with one code there is no choice to log each epoch
    first = next(iter(ctx.factors), None)
    if ctx.out_dir is not None and first in report["factors"]:
        code = report["factors"][first]["best_code"]
        table, cat_values, label_values = code_metrics.contingency(
            ctx.q_probs[code - 1].argmax(1).numpy(), ctx.factors[first]
        )
        matching = {int(k): v for k, v in report["matching"].items()}
        plot_confusion(table, cat_values, label_values, matching, ctx.out_dir / "confusion.png")
    return report


@register_metric("disentanglement", needs_labels=True, table=("mig", "factorvae_score"))
def disentanglement(ctx: EvalContext) -> dict:
    """MIG and the FactorVAE score of every code (categorical argmax, continuous means) against every factor."""

    codes_, discrete = q_codes(ctx.disc, ctx.images, ctx.batch_size)
    return disentanglement_report(codes_, discrete, ctx.factors) if codes_.shape[1] else {}


@register_metric("generated_information", needs_categorical=True, table=("mutual_information_bound",))
def generated_information(ctx: EvalContext) -> dict:
    """The paper's L_I on fresh samples: sum over codes of ln K_i - CE_i, and Q's accuracy on them."""
    return code_metrics.generated_information(ctx.spec, ctx.gen, ctx.disc, n=2000, batch_size=ctx.batch_size)


@register_metric("continuous_effects")
def continuous_effects(ctx: EvalContext) -> dict:
    """Per continuous code: how slant and ink mass follow its value (grey images); continuous_effects.png."""
    report = code_metrics.continuous_effects(ctx.spec, ctx.cfg.image_shape[0], ctx.gen)
    if report["continuous_effects"] and ctx.out_dir is not None:
        plot_continuous_effects(report["continuous_effects"], ctx.out_dir / "continuous_effects.png")
    return report


@register_metric("category_histogram", needs_categorical=True)
def category_histogram(ctx: EvalContext) -> dict:
    """How many real images Q puts in each category of each code (one list for a single code)."""
    hist = [np.bincount(p.argmax(1).numpy(), minlength=p.shape[1]).tolist() for p in ctx.q_probs]
    return {"category_histogram": hist[0] if len(hist) == 1 else hist}


def _image_metric(name: str, what: str, series_: dict | None = None):
    """torch-fidelity's metric `name` (computed with the other requested ones in one pass: ctx.fidelity)."""

    @register_metric(name, per_epoch=True, requested="image", nest="image_metrics", series=series_)
    def image_metric(ctx: EvalContext) -> dict:
        return {k: ctx.fidelity[k] for k in result_keys([name])}

    image_metric.__doc__ = what
    return image_metric


_image_metric(
    "fid",
    "Fréchet Inception Distance to the data set's images (torch-fidelity).",
    {"fid": ("FID (torch-fidelity's Inception)", "fid")},
)
_image_metric("kid", "Kernel Inception Distance and its spread over subsets (torch-fidelity).")
_image_metric(
    "isc", "Inception Score and its spread (torch-fidelity).", {"isc": ("Inception Score", "inception_score")}
)
_image_metric("prc", "Precision, recall and F-score on Inception's pool features (torch-fidelity).")


@register_metric("classifier", requested="classifier", nest="classifier")
def classifier(ctx: EvalContext) -> dict:
    """An independent classifier's view of generated images: purity, mode count, classifier score, fid_classifier."""

    fake, codes_ = ctx.generated
    return classifier_scores(ctx.classifier, fake, codes_, ctx.images)
