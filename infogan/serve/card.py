"""The model card `infogan export` writes beside the weights (README.md): how the model was trained, what it
scores on the data its evaluations read, what each code does, the categories' names, and how to load it.
Every number comes from the run's own files (config.json, eval/*.json, names.json); nothing is typed in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infogan.checkpoint import atomic_write_bytes
from infogan.config import TrainConfig
from infogan.presets import IIC_FIELDS, PRESETS
from infogan.serve.names import NAMES_FILE, load_names, names_path
from infogan.serve.pretrained import export_run

# Fields that say how a run was trained, in the order a command line gives them; one is written only where it
# differs from what the run's preset (or TrainConfig's default) gives it.
COMMAND_FIELDS = (
    "dataset", "preset", "arch", "noise_dim", "categorical", "continuous", "epochs", "batch_size", "lr_d", "lr_g",
    "lr_q", "continuous_weight", "categorical_weight", *IIC_FIELDS, "iic_rotation", "iic_scale", "iic_shift",
    "code_prior_weight", "effects_weight", "effects_start_step", "cr_weight", "cr_start_step", "real_info_weight",
    "learn_std", "spectral_norm", "seed", "precision",
)  # fmt: skip


def data_name(spec: str) -> str:
    """A data set as a reader of the card can name it: npz:/home/me/digits.npz -> npz:digits.npz."""
    kind, sep, path = spec.partition(":")
    return f"{kind}:{Path(path).name}" if sep and path else spec


def training_command(cfg: TrainConfig) -> str:
    """`infogan train` with the fields that made this model (those not at TrainConfig's defaults)."""
    defaults, preset = TrainConfig(), PRESETS.get(cfg.preset)
    parts = ["infogan train"]
    for name in COMMAND_FIELDS:
        value = getattr(cfg, name)
        given = getattr(preset, name) if preset is not None and hasattr(preset, name) else getattr(defaults, name)
        if (list(given) if isinstance(given, tuple) else given) == value and name not in ("dataset", "seed"):
            continue
        if isinstance(value, bool):
            if value:
                parts.append(f"--{name.replace('_', '-')}")
            continue
        if isinstance(value, list):
            value = ",".join(map(str, value))
        if name == "dataset":
            value = data_name(value)
        parts.append(f"--{name.replace('_', '-')} {value}")
    return " ".join(parts)


def _effect(effect: dict) -> str:
    return (
        f"code {effect['code']}: slant rho {effect['slant_spearman']:+.2f}, ink (stroke width) rho "
        f"{effect['ink_spearman']:+.2f}, {effect['slant_degrees_per_unit']:+.1f} degrees of slant per unit"
    )


def model_card(run_dir: Path, cfg: TrainConfig, name: str, names: dict[int, dict[int, str]]) -> str:
    """README.md for an exported run `name` (what a user passes to load it)."""
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
    reports = sorted((run_dir / "eval").glob("*.json")) if (run_dir / "eval").is_dir() else []
    if not reports:
        lines += [f"No evaluation on record: `infogan evaluate {name}` scores it.", ""]
    for path in reports:
        report = json.loads(path.read_text())
        split = {"test": "held-out", "all": "every image of", "train": "the training images of"}.get(
            report.get("split"), report.get("split", "")
        )
        lines.append(f"On {split} `{report.get('dataset', path.stem)}` ({report.get('n_samples', '?')} images):")
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
