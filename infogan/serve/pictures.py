"""What a run leaves for people to look at: image grids, the progress GIF, traversals, curves.

Images arrive as float tensors in [-1, 1] ([N, C, H, W]) and leave as 8-bit PNGs. Every file is written
atomically (temp + rename) so an interrupted run never leaves a half-written picture.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import torch

from infogan.files import atomic_write_bytes
from infogan.serve.images import save_gif, save_image_grid
from infogan.serve.inference import categorical_traversal, continuous_traversal, generate

SAMPLE_NAME = re.compile(r"epoch_(\d{4,})\.png")  # the grids training writes; other files there are left alone
GRID_COLUMNS = 10
# Offsets that give the picture latents their own seeds, apart from the training latents'.
GRID_SEED_OFFSET, TRAVERSAL_SEED_OFFSET = 1_000_003, 2_000_003


# ---------------------------------------------------------------------------------------------- curves
def read_metrics(path: str | Path, kind: str | None = "epoch") -> list[dict]:
    """Records of metrics.jsonl, optionally only those of one kind ("epoch" or "interval")."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill; resume rewrites the file without it
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records


# The training plots: figure name -> (file, y-axis label). A statistic or metric joins one by naming it (step.py's
# report(..., figure=...), registry.py's series=...); a figure none joins is not drawn.
FIGURES = {
    "losses": ("losses.png", "loss"),
    "accuracy": ("accuracy.png", "fraction correct"),
    "information": ("mutual_information.png", "nats"),
    "fid": ("fid.png", "FID (lower is better)"),
    "inception_score": ("inception_score.png", "IS (higher is better)"),
}


def plot_curves(
    records: list[dict],
    plots_dir: str | Path,
    series: dict[str, tuple[str, str]],
    hlines: dict[str, tuple[float, str]] | None = None,
    x_label: str = "epoch",
) -> None:
    """One figure of FIGURES per group of `series` ({key: (label, figure)}), over epochs, from metrics.jsonl's
    epoch records; only keys the records have (e.g. FID only on the epochs that computed it). `hlines`:
    {figure: (value, label)}, a dashed reference line (the codes' entropy on the information plot). The
    records' "epoch" is the x axis (`x_label` names it)."""
    plt = _pyplot()
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    for figure, (file, ylabel) in FIGURES.items():
        curves = [
            (label, [r for r in records if key in r], key) for key, (label, fig) in series.items() if fig == figure
        ]
        curves = [c for c in curves if c[1]]
        if not curves:
            continue
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for label, having, key in curves:
            ax.plot(
                [r["epoch"] for r in having],
                [r[key] for r in having],
                marker="o" if len(having) < 30 else None,
                label=label,
            )
        if hlines and figure in hlines:
            ax.axhline(hlines[figure][0], color="grey", linestyle="--", label=hlines[figure][1])
        ax.set_xlabel(x_label)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
        # fixed margins instead of tight_layout, which draws the figure once more to measure it (a third of
        # the plots' time, and they are redrawn every epoch); wide enough for 6-character tick labels
        fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.96)
        _save_figure(fig, plots_dir / file)


def entropy_line(spec) -> tuple[float, str]:
    """The information plot's reference: H(c) of the categorical codes, the most the bound can reach."""
    ks = spec.categorical
    if len(ks) > 1:
        return spec.total_entropy, (
            f"H(c) = {' + '.join(f'ln {k}' for k in ks)} = {spec.total_entropy:.2f}"
            if len(ks) <= 4
            else f"H(c) = {spec.total_entropy:.2f}"
        )
    return spec.total_entropy, f"H(c) = ln {ks[0]} = {spec.total_entropy:.2f}" if ks else "no categorical code"


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(table: np.ndarray, category_values, label_values, matching: dict, path: str | Path) -> None:
    """Counts of (category, label); categories ordered by the label they were matched to."""
    plt = _pyplot()
    order = sorted(range(len(category_values)), key=lambda i: matching.get(int(category_values[i]), 1e9))
    table = table[order]
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    im = ax.imshow(table, cmap="Blues")
    ax.set_xticks(range(len(label_values)), [str(v) for v in label_values])
    ax.set_yticks(range(len(order)), [f"c={category_values[i]}" for i in order])
    ax.set_xlabel("true label")
    ax.set_ylabel("Q's category (ordered by matched label)")
    for (r, c), v in np.ndenumerate(table):
        if v:
            ax.text(
                c, r, str(v), ha="center", va="center", fontsize=6, color="white" if v > table.max() / 2 else "black"
            )
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_continuous_effects(effects: list[dict], path: str | Path) -> None:
    """Bars of Spearman correlation with slant and with ink mass, one group per continuous code."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    codes = [e["code"] for e in effects]
    x = np.arange(len(codes))
    ax.bar(x - 0.2, [e["slant_spearman"] for e in effects], 0.4, label="slant (rotation)")
    ax.bar(x + 0.2, [e["ink_spearman"] for e in effects], 0.4, label="ink mass (width)")
    ax.set_xticks(x, [f"code {c}" for c in codes])
    ax.set_ylim(-1, 1)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("Spearman correlation with code value")
    ax.set_title("What each continuous code changes")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    _save_figure(fig, path)


class RunPictures:
    """The pictures a run leaves in its directory: samples/epoch_NNNN.png (one grid per epoch from fixed
    latents: row i = value i of categorical code 1) and samples/progress.gif, traversals/ (one image per code:
    continuous_N.png, rows = values of categorical code 1, columns = code N over CODE_RANGE; categorical_N.png
    for codes 2 and up, rows = fixed noise, columns = the code's values) and plots/ (the curves)."""

    def __init__(self, run_dir: Path, spec, seed: int, series: dict[str, tuple[str, str]]):

        self.run_dir, self.spec, self.seed, self.series = Path(run_dir), spec, seed, series
        self.grid_latent = spec.grid(torch.Generator().manual_seed(seed + GRID_SEED_OFFSET), GRID_COLUMNS)

    def epoch_grid(self, gen, epoch: int) -> None:

        save_image_grid(
            generate(gen, self.grid_latent),
            self.spec.picture_rows(),
            GRID_COLUMNS,
            self.run_dir / "samples" / f"epoch_{epoch:04d}.png",
        )

    def summaries(self, records: list[dict], gif: bool = True) -> None:
        """Curves from the epoch records, and the GIF of the epoch grids so far (at the end, or when stopped)."""
        if records:
            plot_curves(records, self.run_dir / "plots", self.series, {"information": entropy_line(self.spec)})
        frames = sorted(p for p in (self.run_dir / "samples").glob("epoch_*.png") if SAMPLE_NAME.fullmatch(p.name))
        if gif and frames:
            save_gif(frames, self.run_dir / "samples" / "progress.gif")

    def interrupted(self, gen, records: list[dict]) -> None:
        """What a stopped run leaves: samples/interrupted.png (the grid at the stop), the curves (of the epoch
        records, or of the interval records when no epoch has ended) and the GIF (of the epoch grids, or of
        the one grid)."""

        grid = self.run_dir / "samples" / "interrupted.png"
        save_image_grid(generate(gen, self.grid_latent), self.spec.picture_rows(), GRID_COLUMNS, grid)
        epochs = [r for r in records if r.get("kind") == "epoch"]
        intervals = [{**r, "epoch": r["step"]} for r in records if r.get("kind") == "interval"]
        if epochs or intervals:
            plot_curves(
                epochs or intervals,
                self.run_dir / "plots",
                self.series,
                {"information": entropy_line(self.spec)},
                x_label="epoch" if epochs else "step",
            )
        frames = sorted(p for p in (self.run_dir / "samples").glob("epoch_*.png") if SAMPLE_NAME.fullmatch(p.name))
        save_gif(frames or [grid], self.run_dir / "samples" / "progress.gif")

    def traversals(self, gen) -> None:

        seed = self.seed + TRAVERSAL_SEED_OFFSET
        for code in range(1, self.spec.continuous + 1):
            continuous_traversal(gen, code, seed).save(self.run_dir / "traversals" / f"continuous_{code}.png")
        for code in range(2, self.spec.n_categorical + 1):
            categorical_traversal(gen, code, seed + code - 1).save(
                self.run_dir / "traversals" / f"categorical_{code}.png"
            )
