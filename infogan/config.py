"""The one typed description of a training run.

`TrainConfig` is what the CLI fills in, what `train()` consumes, and what every run directory and every
checkpoint stores as `config.json`, so a model can be rebuilt without the CLI. Fields left at `None` are
filled per data set by `resolve()` (the seed's per-data-set defaults), once the data's image shape is
known; a resolved config has no `None` left in its model-defining fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

ARCHS = ("paper-mnist", "seed-mnist", "seed-cifar10")
NOISE_PRIORS = ("uniform", "normal")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Preset:
    """Per-data-set defaults: the seed's (README "Help Log"), except where BENCHMARKS.md measured better."""

    epochs: int
    noise_dim: int
    continuous_weight: float
    arch: str
    batch_size: int


# Grey-scale data (MNIST, and any npz/folder of single-channel images) takes the MNIST preset; colour data
# takes the CIFAR-10 one. The MNIST architecture is the paper's (appendix C), the seed's stays one flag away.
# MNIST's batch is 64, not the seed's 256 (BENCHMARKS.md, 5 seeds each on real digits, 50 epochs): at 256 one
# run collapsed (D overpowered G for good: accuracy 0.14) and the median accuracy was 0.833; at 64, with 4x
# the updates per epoch, every seed did better (median 0.940, worst 0.860). Colour data keeps the seed's 256.
MNIST_PRESET = Preset(epochs=50, noise_dim=62, continuous_weight=0.5, arch="paper-mnist", batch_size=64)
CIFAR10_PRESET = Preset(epochs=150, noise_dim=64, continuous_weight=1.0, arch="seed-cifar10", batch_size=256)


def preset_for(channels: int) -> Preset:
    return MNIST_PRESET if channels == 1 else CIFAR10_PRESET


@dataclass
class TrainConfig:
    # --- data ---
    dataset: str = "mnist"  # mnist | mnist-sample | cifar10 | npz:PATH | folder:PATH
    data_dir: str | None = None  # None: $INFOGAN_DATA or the per-user cache dir
    image_size: int = 32  # folder: only; images are centre-cropped square and resized to this
    channels: int = 3  # folder: only; 1 = grey, 3 = RGB
    # --- latent code: z ~ noise prior, c_cat ~ Cat(categories), c_cont ~ U(-1, 1)^continuous ---
    noise_dim: int | None = None  # None: 62 for grey data, 64 for colour (the seed's defaults)
    noise_prior: str = "uniform"  # the official code's U(-1, 1); "normal" is the seed's N(0, 1)
    categories: int = 10
    continuous: int = 2
    # --- model ---
    arch: str | None = None  # None: paper-mnist for grey data, seed-cifar10 for colour
    learn_std: bool = False  # Q predicts a log-std per continuous code instead of fixing std = 1
    # --- loss weights: L_info = categorical_weight * CE + continuous_weight * NLL ---
    continuous_weight: float | None = None  # None: 0.5 for grey data, 1.0 for colour (the seed's)
    categorical_weight: float = 1.0
    # --- optimisation (paper appendix C: Adam, lr D 2e-4, G 1e-3) ---
    epochs: int | None = None  # None: 50 for grey data, 150 for colour (the seed's)
    batch_size: int | None = None  # None: 64 for grey data (measured, see MNIST_PRESET), 256 for colour (the seed's)
    lr_d: float = 2e-4
    lr_g: float = 1e-3
    lr_q: float | None = None  # Q's own head; None: lr_g (the paper's "Q trained with G"); the official code's is lr_d
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    # --- runtime ---
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 where the hardware computes it natively, else fp32 (see training.py)
    # --- run directory and logging ---
    outdir: str | None = None  # None: runs/<dataset>-<YYYYmmdd-HHMMSS>
    log_every: int = 50  # steps between interval records in metrics.jsonl
    checkpoint_every: int = 0  # steps between extra checkpoints (0: only at epoch ends)
    keep_every: int = 0  # keep checkpoints/epoch_NNNN.pt every N epochs (0: only last.pt)
    tensorboard: bool = False
    progress: bool = True
    # --- filled by resolve() from the data: [channels, height, width] ---
    image_shape: list[int] | None = field(default=None)

    # ------------------------------------------------------------------ checks and (de)serialisation
    def validate(self) -> None:
        """Raise UsageError naming the first bad field; says nothing about the data (see resolve)."""
        positive = {"categories": self.categories, "image_size": self.image_size, "log_every": self.log_every}
        for name in ("noise_dim", "epochs", "batch_size"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            require_int(name, value, minimum=1)
        for name in ("continuous", "checkpoint_every", "keep_every", "seed"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("categorical_weight", "continuous_weight", "lr_d", "lr_g", "lr_q"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0):
                raise UsageError(f"--{_flag(name)} must be a finite number >= 0, got {value!r}")
        for name in ("lr_d", "lr_g", "lr_q"):
            if getattr(self, name) == 0:
                raise UsageError(f"--{_flag(name)} must be > 0, got 0")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise UsageError(f"--{_flag(name)} must be in [0, 1), got {value!r}")
        _require_choice("noise_prior", self.noise_prior, NOISE_PRIORS)
        _require_choice("precision", self.precision, PRECISIONS)
        _require_choice("device", self.device, DEVICES)
        if self.arch is not None:
            _require_choice("arch", self.arch, ARCHS)
        if self.channels not in (1, 3):
            raise UsageError(f"--channels must be 1 (grey) or 3 (RGB), got {self.channels!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"config has unknown field(s) {', '.join(unknown)}: written by a newer infogan?")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist: is this a run directory made by `infogan train`?") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a JSON object")
        return cls.from_dict(data)

    @property
    def latent_dim(self) -> int:
        """Width of the generator's input: noise + one-hot category + continuous codes."""
        return self.noise_dim + self.categories + self.continuous


def resolve(cfg: TrainConfig, image_shape: tuple[int, int, int]) -> TrainConfig:
    """Fill every `None` from the data's preset and check that the architecture fits the images."""
    channels, height, width = image_shape
    preset = preset_for(channels)
    out = dataclasses.replace(
        cfg,
        epochs=cfg.epochs if cfg.epochs is not None else preset.epochs,
        noise_dim=cfg.noise_dim if cfg.noise_dim is not None else preset.noise_dim,
        continuous_weight=cfg.continuous_weight if cfg.continuous_weight is not None else preset.continuous_weight,
        arch=cfg.arch if cfg.arch is not None else preset.arch,
        batch_size=cfg.batch_size if cfg.batch_size is not None else preset.batch_size,
        image_shape=[int(channels), int(height), int(width)],
    )
    multiple = 8 if out.arch == "seed-cifar10" else 4
    if height % multiple or width % multiple:
        raise UsageError(f"--arch {out.arch} needs image sides divisible by {multiple}, the data is "
                         f"{height}x{width}: pick another --arch or resize the images")
    return out


def _flag(name: str) -> str:
    return name.replace("_", "-")


def require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"--{_flag(name)} must be an integer >= {minimum}, got {value!r}")


def _require_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise UsageError(f"--{_flag(name)} must be one of {', '.join(choices)}; got {value!r}")
