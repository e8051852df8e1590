"""The model card `infogan export` writes beside the weights (README.md): how the model was trained, what it
scores on the data its evaluations read, what each code does, the categories' names, and how to load it.
Every number comes from the run's own files (config.json, eval/*.json, names.json); nothing is typed in."""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
from pathlib import Path

from infogan.config import TrainConfig
from infogan.files import atomic_write_bytes
from infogan.presets import PRESETS
from infogan.serve.names import NAMES_FILE, load_names, names_path
from infogan.serve.pretrained import export_run

# TrainConfig's fields that say where a run writes, how it logs, or on what it runs: not how it trains. Every
# other field is a training choice, and the card's command gives each one that differs from its default.
NOT_TRAINING = {
    "data_dir", "outdir", "threads", "device", "cuda_graphs", "log_every", "eval_every", "eval_dataset",
    "checkpoint_every", "image_metrics", "image_metrics_every", "image_metrics_samples", "inception_weights",
    "keep_every", "tensorboard", "progress", "stop_on_failure", "dist_timeout", "image_shape", "run_id",
}  # fmt: skip
COMMAND_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in NOT_TRAINING)


def data_name(spec: str) -> str:
    """A data set as a reader of the card can name it: npz:/home/me/digits.npz -> npz:digits.npz."""
    kind, sep, path = spec.partition(":")
    return f"{kind}:{Path(path).name}" if sep and path else spec


def training_command(cfg: TrainConfig) -> str:
    """`infogan train` with every training choice of this model that differs from what its preset (or
    TrainConfig's default) gives; the data set and seed always."""
    defaults, preset = TrainConfig(), PRESETS.get(cfg.preset)
    parts = ["infogan train"]
    for name in COMMAND_FIELDS:
        value = getattr(cfg, name)
        given = getattr(preset, name) if hasattr(preset, name) else getattr(defaults, name)
        same = (list(given) if isinstance(given, tuple) else given) == value
        if value is None or (same and name not in ("dataset", "seed")):
            continue  # None: filled from the preset or the data when the run starts
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):  # store_true options; a False that differs cannot be written (none do)
            parts += [flag] if value else []
            continue
        if isinstance(value, list):
            value = ",".join(map(str, value)) or "0"  # --categorical 0: no categorical code
        parts.append(f"{flag} {shlex.quote(data_name(value) if name == 'dataset' else str(value))}")
    return " ".join(parts)


def _effect(effect: dict) -> str:
    return (
        f"code {effect['code']}: slant rho {effect['slant_spearman']:+.2f}, ink (stroke width) rho "
        f"{effect['ink_spearman']:+.2f}, {effect['slant_degrees_per_unit']:+.1f} degrees of slant per unit"
    )


def model_card(
    run_dir: Path, cfg: TrainConfig, name: str, names: dict[int, dict[int, str]], reports: list[dict] | None = None
) -> str:
    """README.md for an exported run `name` (what a user passes to load it); its scores are `reports`
    (evaluate's), by default the run's eval/*.json."""
    lines = [f"# {Path(name).name}", ""]
    codes = ", ".join(
        [*(f"Cat({k})" for k in cfg.categorical), *([f"{cfg.continuous} continuous"] if cfg.continuous else [])]
    )
    lines += [
        f"An InfoGAN model (`{cfg.arch}` networks; codes: {codes}; {cfg.noise_dim} noise values) trained on "
        f"`{data_name(cfg.dataset)}` at seed {cfg.seed} in {cfg.precision}, {cfg.epochs} epochs of batch "
        f"{cfg.batch_size}.",
        "",
        "## How it was trained",
        "",
        f"    {training_command(cfg)}",
        "",
        "(The full configuration is `config.json`; another CPU or thread count trains the same model up to "
        "floating-point rounding, not bit for bit.)",
        "",
        "## Scores",
        "",
    ]
    if reports is None:
        paths = sorted((run_dir / "eval").glob("*.json")) if (run_dir / "eval").is_dir() else []
        reports = [{"dataset": path.stem, **json.loads(path.read_text())} for path in paths]
    if not reports:
        lines += [f"No evaluation on record: `infogan evaluate {name}` scores it.", ""]
    for report in reports:
        split = {"test": "held-out", "all": "every image of", "train": "the training images of"}.get(
            report.get("split"), report.get("split", "")
        )
        lines.append(f"On {split} `{report['dataset']}` ({report.get('n_samples', '?')} images):")
        lines.append("")
        if "categorical_accuracy" in report:
            lines.append(
                f"- categorical accuracy {report['categorical_accuracy']:.3f} (after matching categories to labels), "
                f"NMI {report.get('nmi', float('nan')):.3f}"
            )
        lines += [f"- {_effect(effect)}" for effect in report.get("continuous_effects", [])]
        lines.append("")
    if names:
        lines += ["## Names of the categories", ""]
        for code, per in sorted(names.items()):
            lines.append(f"- code {code}: " + ", ".join(f"{value} = {label}" for value, label in sorted(per.items())))
        lines.append("")
    lines += [
        "## Use",
        "",
        "    from infogan import load_generator, load_encoder, generate, encode",
        f'    G = load_generator("{name}")      # G.spec: the latent code',
        f'    Q = load_encoder("{name}")        # encode(Q, images): each image\'s categories and codes',
        "",
        f"    infogan generate {name} --category 3 --out three.png"
        + (f"   # or --label {next(iter(next(iter(names.values())).values()))}" if names else ""),
        f"    infogan traverse {name} --code 1 --out code1.png",
        f"    infogan encode {name} DATA --out codes.csv",
        f"    infogan explore {name}",
        "",
    ]
    return "\n".join(lines)


def export_with_card(run_dir: str | Path, out_dir: str | Path, half: bool = True) -> Path:
    """`infogan export`: export_run, the categories' names where the run has them, and README.md, the card."""
    out = export_run(run_dir, out_dir, half)
    names = load_names(run_dir)
    if names:
        shutil.copyfile(names_path(run_dir), out / NAMES_FILE)
    card = model_card(Path(run_dir), TrainConfig.load(out / "config.json"), str(out), names)
    atomic_write_bytes(out / "README.md", card.encode())
    return out
