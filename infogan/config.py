"""The one typed description of a training run.

`TrainConfig` is what the CLI fills in, what `train()` consumes, and what every run directory and every
checkpoint stores as `config.json`, so a model can be rebuilt without the CLI. Fields left at `None` are
filled by `resolve()` from the run's preset (`PRESETS`, the one table of the paper's and the seed's models:
`--preset`, else the data set's own, else by the images' channels), once the data's image shape is known;
a resolved config has no `None` left in its model-defining fields. The latent code it describes is
`cfg.latent` (a `latent.LatentSpec`). Every field is checked for type and range by `validate()`, also when
a config is read from a file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from infogan.checks import check_types, flag, require_choice, require_int
from infogan.errors import UsageError
from infogan.files import read_file
from infogan.model.architectures import ARCHS
from infogan.model.latent import LatentSpec
from infogan.model.networks import ModelSpec
from infogan.presets import (  # the table of architectures: names and the image-side divisor of each
    IIC_FIELDS,
    PRESET_FIELDS,
    PRESETS,
    default_preset,
)

NOISE_PRIORS = ("uniform", "normal")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CUDA_GRAPHS = ("auto", "on", "off")  # see cuda_graphs.py
LR_SCHEDULES = ("constant", "cosine", "linear")  # see schedule.py (kept equal to schedule.SCHEDULES by a test)
DEVICES = ("auto", "cpu", "cuda", "mps")
EFFECT_PENALTIES = ("orthogonal", "interaction")  # what --effects-weight penalises (model/losses.py)
# Bounds on the sizes a config may ask for: beyond them a model cannot be built on any machine we know.
MAX_NOISE_DIM, MAX_CODE_VALUES, MAX_CODES = 10_000, 1_000, 100
MAX_CONFIG_BYTES = 1_000_000  # a config.json is about 1 kB
MAX_IMAGE_SIZE, MAX_BATCH = 1024, 65_536
# Seeds derive others (seed * 1_000_003 + epoch, seed + offsets) that must stay below 2**63 for torch.
MAX_SEED = 2**32 - 1
SELECTION_CRITERIA = ("q_real_mi", "centrality")  # how `sweep --select` picks a run without labels
MAX_METRIC_SAMPLES = 100_000  # generated images one image-metric evaluation may draw (papers use 50,000)


def parse_categorical(text: str) -> list[int]:
    """'10' -> [10]; '10,10,10' -> three codes; '' or '0' -> none."""
    text = text.strip()
    if text in ("", "0"):
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(
            f"--categorical must be comma-separated numbers of values such as 10 or 10,10,10 "
            f"(0 or '' for none), got {text!r}"
        ) from None


@dataclass
class TrainConfig:
    # --- data ---
    dataset: str = "mnist"  # a name of data.DATASETS, or npz:PATH / folder:PATH
    data_dir: str | None = None  # None: $INFOGAN_DATA or the per-user cache dir
    preset: str | None = None  # a name of PRESETS; None: the data set's own (grey: mnist, colour: cifar10)
    image_size: int | None = None  # folder: only; images are centre-cropped square and resized to this
    channels: int | None = None  # folder: only; 1 = grey, 3 = RGB
    crop: int | None = None  # folder: only; side of the centre square cut before resizing (None: the largest)
    # --- latent code: z ~ noise prior, c_i ~ Cat(categorical[i]), c_cont ~ U(-1, 1)^continuous ---
    noise_dim: int | None = None
    noise_prior: str = "uniform"  # the official code's U(-1, 1); "normal" is the seed's N(0, 1)
    categorical: list[int] | None = None  # values of each categorical code, e.g. [10] or [10, 10, 10, 10]
    continuous: int | None = None
    # --- model ---
    arch: str | None = None
    learn_std: bool = False  # Q predicts a log-std per continuous code instead of fixing std = 1
    spectral_norm: bool | None = None  # spectral normalisation of D's layers; None: the preset's
    # --- loss weights: L_info = categorical_weight * sum_i CE_i + continuous_weight * NLL ---
    continuous_weight: float | None = None
    categorical_weight: float | None = None
    # --- InfoGAN-CR's contrastive regulariser (losses.py): G minimises L_G + L_info + cr_weight * L_CR ---
    cr_weight: float = 0.0  # 0: off (plain InfoGAN); Lin et al. use 2 on dSprites
    cr_start_step: int = 0  # G takes the term from this step on; H, the pair discriminator, trains from step 0
    # --- Q's categorical information on real images (losses.real_information): D/Q minimise
    # L_D + L_info - real_info_weight * I_real; 0: off (the paper's InfoGAN) ---
    real_info_weight: float = 0.0
    real_info_until: int = 0  # the term is in D's objective before this step only; 0: for the whole run
    # --- Q's continuous readings of real images matched to the codes' prior (losses.code_prior_match): D/Q
    # minimise L_D + L_info + code_prior_weight * SW_2^2; 0: off (the paper's InfoGAN) ---
    code_prior_weight: float = 0.0
    # --- the continuous codes' effects on G's images kept orthogonal (losses.effect_overlap, OroJaR-like): G
    # minimises L_G + L_info + effects_weight * overlap from effects_start_step on; 0: off ---
    effects_weight: float = 0.0
    effects_start_step: int = 0
    effects_penalty: str = "orthogonal"  # orthogonal: effect_overlap; interaction: effect_interaction (Hessian)
    # --- the continuous codes join one by one: code k (0-based) is held at 0 in G's input before step
    # k * code_stagger_steps, so code 1 takes the data's main factor alone before code 2 can share it; 0: all
    # codes from the start (the paper's InfoGAN) ---
    code_stagger_steps: int = 0
    # --- IIC's two-view information on real images (losses.paired_information): D/Q minimise
    # L_D + L_info - iic_weight * I_pair, the second view a random affine deformation (augment.py); 0: off.
    # None: the preset's (mnist-iic, the MNIST data sets' preset, turns it on with its parts; every other preset
    # leaves it off) ---
    iic_weight: float | None = None
    iic_rotation: float = 20.0  # degrees, each way
    iic_scale: float = 0.15  # the scale is drawn from 1 +- this
    iic_shift: float = 0.06  # of the image side, each way and direction
    iic_elastic: float | None = None  # elastic displacement, about this fraction of the side; 0: none
    iic_stroke: float | None = None  # stroke thicker or thinner, up to this share of a 3x3 dilation/erosion
    iic_shear: float | None = None  # horizontal shear (x moves by this times y) drawn from +- this; 0: none
    # with --iic-weight: an over-clustering head of this many clusters on D's trunk, trained by the same two-view
    # information (IIC's auxiliary head: it makes the shared trunk tell apart finer groups); 0: none
    iic_overcluster: int | None = None
    # with --iic-weight: Q also reads each fake's categories from a deformed copy of it (the same deformations),
    # at this weight in D's and G's objectives, so G draws its categories in what survives them; 0: off
    iic_fake_weight: float | None = None
    # --- optimisation (paper appendix C: Adam, lr D 2e-4, G 1e-3) ---
    epochs: int | None = None
    stop_when_settled: bool = False  # end before --epochs once Q's categories of fixed real images settle (settle.py)
    min_epochs: int = 0  # --stop-when-settled never stops before this epoch
    batch_size: int | None = None
    lr_d: float | None = None
    lr_g: float | None = None
    lr_q: float | None = None  # Q's own head; None: lr_g (the paper's "Q trained with G"); the official code's is lr_d
    beta1: float = 0.5
    beta2: float = 0.999
    lr_schedule: str = "constant"  # the rates over the run (schedule.py); constant: the paper's fixed rates
    lr_final: float = 0.1  # with a schedule: the rates at the last step, as a fraction of the configured ones
    seed: int = 0
    # --- runtime ---
    threads: int | None = None  # CPU threads of this process; None: the cores it may run on (see runtime.py)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 where native and faster, else fp32 (runtime.py)
    cuda_graphs: str = "auto"  # the step as one replayed CUDA graph; auto: on CUDA where the run allows it
    # --- run directory and logging ---
    outdir: str | None = None  # None: runs/<dataset>-<YYYYmmdd-HHMMSS>
    log_every: int = 50  # steps between interval records in metrics.jsonl
    eval_every: int = 1  # epochs between label metrics and plots (the last epoch always has them)
    eval_dataset: str | None = None  # labelled held-out images the per-epoch label metrics score (None: training's)
    checkpoint_every: int = 0  # steps between extra checkpoints (0: only at epoch ends)
    image_metrics: list[str] = field(default_factory=lambda: ["fid", "kid"])  # what --image-metrics-every computes
    image_metrics_every: int = 0  # epochs between torch-fidelity metrics on generated images (0: never)
    image_metrics_samples: int = 5000  # generated (and real) images those metrics use during training
    inception_weights: str | None = None  # local Inception file; None: $INFOGAN_INCEPTION_WEIGHTS or download
    keep_every: int = 0  # keep checkpoints/epoch_NNNN.pt every N epochs (0: only last.pt)
    tensorboard: bool = False
    progress: bool = True
    stop_on_failure: bool = False  # stop (checkpointed) when the health monitor finds a failure (health.py)
    dist_timeout: int = 600  # seconds a collective waits for its peers before the rank gives up (torchrun runs)
    # --- filled by resolve() from the data: [channels, height, width] ---
    image_shape: list[int] | None = field(default=None)
    # --- set when a run is created: its identity, carried by config.json and every checkpoint ---
    run_id: str | None = None

    def __post_init__(self) -> None:
        # A resolved config (it has image_shape) with IIC's fields unset was written before they existed, or
        # built by hand: IIC did not run, so they are 0; an unresolved one leaves them to the preset (resolve).
        if self.image_shape is not None:
            for name in IIC_FIELDS:
                if getattr(self, name) is None:
                    setattr(self, name, 0)

    # ------------------------------------------------------------------ checks and (de)serialisation
    def validate(self) -> None:
        """Raise UsageError naming the first bad field (type, then range); says nothing about the data.
        A field's range is one entry of the tables below it (INT_RANGES, CHOICES, ...)."""
        check_types(self)
        for name, (minimum, maximum) in INT_RANGES.items():
            if getattr(self, name) is not None:  # None: left to the preset (resolve)
                require_int(name, getattr(self, name), minimum, maximum)
        if self.categorical is not None:
            if len(self.categorical) > MAX_CODES:
                raise UsageError(f"--categorical names {len(self.categorical)} codes, at most {MAX_CODES} are allowed")
            for k in self.categorical:
                if not 2 <= k <= MAX_CODE_VALUES:
                    raise UsageError(
                        f"--categorical: each code needs 2..{MAX_CODE_VALUES} values, got {k} "
                        f"(use 0 or '' for no categorical code)"
                    )
        for name in NON_NEGATIVE:
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise UsageError(f"--{flag(name)} must be a finite number >= 0, got {value!r}")
        for name in LEARNING_RATES:
            if getattr(self, name) == 0:
                raise UsageError(f"--{flag(name)} must be > 0, got 0")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise UsageError(f"--{flag(name)} must be in [0, 1), got {getattr(self, name)!r}")
        for name, (low, high) in FLOAT_RANGES.items():
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and low <= value < high):
                raise UsageError(f"--{flag(name)} must be in [{low}, {high}), got {value!r}")
        if not 0 < self.lr_final <= 1:
            raise UsageError(f"--lr-final must be in (0, 1] (a fraction of the starting rates), got {self.lr_final!r}")
        for name, choices in CHOICES.items():
            if getattr(self, name) is not None:
                require_choice(name, getattr(self, name), choices)
        self._check_combinations()

    def _check_combinations(self) -> None:
        """What no single field's range says: fields that only make sense together."""
        if self.image_metrics_every and not self.image_metrics:  # the names: registry.check_names
            raise UsageError("--image-metrics-every needs at least one name in --image-metrics")
        if (
            self.cr_weight > 0
            and self.categorical is not None
            and self.continuous is not None
            and len(self.categorical) + self.continuous < 2
        ):
            raise UsageError(
                "--cr-weight needs at least two codes (the regulariser asks which one a pair of "
                "images shares): add codes with --categorical/--continuous, or drop --cr-weight"
            )
        for name, (kind, least, why) in NEEDS_CODES.items():
            codes = (
                self.continuous if kind == "continuous" else None if self.categorical is None else len(self.categorical)
            )
            if (getattr(self, name) or 0) > 0 and codes is not None and codes < least:
                count, them = ("a", "one") if least == 1 else ("two", "them")
                raise UsageError(
                    f"--{flag(name)} needs {count} {kind} code{'s or more' if least > 1 else ''} ({why}): add "
                    f"{them} with --{kind}, or drop --{flag(name)}"
                )
        for name, (term, verb) in BOUNDS_A_TERM.items():
            if getattr(self, name) > 0 and not getattr(self, term):
                raise UsageError(
                    f"--{flag(name)} {verb} --{flag(term)}, which is 0 (off): set it, or drop --{flag(name)}"
                )
        for name in ("iic_overcluster", "iic_elastic", "iic_stroke", "iic_shear", "iic_fake_weight"):
            # a weight left None is the preset's: resolve() checks again once it is known
            if (getattr(self, name) or 0) > 0 and self.iic_weight == 0:
                raise UsageError(
                    f"--{flag(name)} shapes --iic-weight's two-view information, which is 0 (off"
                    f"{'' if self.preset is None else ' with preset ' + self.preset}): "
                    f"give --iic-weight, or drop --{flag(name)}"
                )
        if self.image_shape is not None and (len(self.image_shape) != 3 or min(self.image_shape) < 1):
            raise UsageError(f"image_shape must be [channels, height, width], got {self.image_shape!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """A config from its saved form; also reads configs written before several categorical codes
        existed (`categories: K` is one code of K values)."""
        data = dict(data)
        if "categories" in data:
            if "categorical" in data:
                raise UsageError("config has both 'categories' and 'categorical': keep 'categorical'")
            k = data.pop("categories")
            data["categorical"] = [] if k == 0 else [k]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"config has unknown field(s) {', '.join(unknown)}: written by a newer infogan?")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        if not Path(path).exists():
            raise UsageError(f"{path} does not exist: is this a run directory made by `infogan train`?")
        return cls.from_json(read_file(path, "config file", max_bytes=MAX_CONFIG_BYTES), str(path))

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> TrainConfig:
        """A validated config from JSON text (a config.json, a safetensors header's metadata)."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
            raise UsageError(f"cannot read {source}: not valid JSON ({str(exc)[:100]})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{source} is not a JSON object")
        cfg = cls.from_dict(data)
        cfg.validate()
        return cfg

    @property
    def latent(self) -> LatentSpec:
        """The latent code this (resolved) config describes."""
        return LatentSpec.from_config(self)

    @property
    def model(self) -> ModelSpec:
        """What the networks are built from (resolved configs only: the image shape comes from the data)."""
        if self.image_shape is None:
            raise ValueError("config is not resolved: image_shape is unknown (call config.resolve first)")
        shape = tuple(int(v) for v in self.image_shape)
        return ModelSpec(self.arch, shape, self.latent, bool(self.spectral_norm), int(self.iic_overcluster or 0))

    def folder_options(self) -> tuple[int, int, int | None]:
        """(image_size, channels, crop) for folder: data: as given, else the preset's, else 32x32 RGB."""
        preset = PRESETS[self.preset] if self.preset else None
        size = self.image_size or (preset.image_size if preset else 32)
        channels = self.channels or (preset.channels if preset else 3)
        crop = self.crop if self.crop is not None else (preset.crop if preset else None)
        return size, channels, crop


# A term that needs codes: field -> (which codes, how many at least, what the term does with them).
NEEDS_CODES = {
    "real_info_weight": ("categorical", 1, "it asks Q to sort real images into the code's values"),
    "iic_weight": ("categorical", 1, "it asks Q to give an image and its deformed copy the same category"),
    "stop_when_settled": ("categorical", 1, "it watches Q's categories of real images"),
    "code_prior_weight": ("continuous", 1, "it matches Q's continuous readings of real images to their prior"),
    "effects_weight": ("continuous", 2, "it keeps their effects on the image apart"),
    "code_stagger_steps": ("continuous", 2, "it lets them join one by one"),
}
# A setting read only with a term on: field -> (the term's field, what the setting does to it).
BOUNDS_A_TERM = {
    "real_info_until": ("real_info_weight", "switches off"),
    "effects_start_step": ("effects_weight", "starts"),
    "min_epochs": ("stop_when_settled", "bounds"),
}
# Each field's range, checked by TrainConfig.validate (a new field: one entry here).
INT_RANGES = {  # integer field -> (minimum, maximum or None)
    "log_every": (1, None),
    "eval_every": (1, None),
    "epochs": (1, None),
    "min_epochs": (0, None),
    "crop": (1, None),
    "image_size": (4, MAX_IMAGE_SIZE),
    "batch_size": (2, MAX_BATCH),  # BatchNorm needs two samples to normalise a batch
    "noise_dim": (1, MAX_NOISE_DIM),
    "continuous": (0, MAX_CODES),
    "checkpoint_every": (0, None),
    "keep_every": (0, None),
    "cr_start_step": (0, None),
    "effects_start_step": (0, None),
    "code_stagger_steps": (0, None),
    "real_info_until": (0, None),
    "iic_overcluster": (0, 1000),
    "image_metrics_every": (0, None),
    "image_metrics_samples": (2, MAX_METRIC_SAMPLES),
    "dist_timeout": (1, 7 * 24 * 3600),
    "threads": (1, 1024),
    "seed": (0, MAX_SEED),
}
FLOAT_RANGES = {  # float field -> [low, high)
    "iic_rotation": (0.0, 180.0),
    "iic_scale": (0.0, 1.0),
    "iic_shift": (0.0, 0.5),
    "iic_elastic": (0.0, 0.25),
    "iic_stroke": (0.0, 1.0),
    "iic_shear": (0.0, 1.0),
}
LEARNING_RATES = ("lr_d", "lr_g", "lr_q")  # > 0
NON_NEGATIVE = (
    "categorical_weight",
    "continuous_weight",
    "cr_weight",
    "real_info_weight",
    "code_prior_weight",
    "effects_weight",
    "iic_weight",
    "iic_fake_weight",
    *LEARNING_RATES,
)  # finite, >= 0
CHOICES = {
    "noise_prior": NOISE_PRIORS,
    "precision": PRECISIONS,
    "cuda_graphs": CUDA_GRAPHS,
    "device": DEVICES,
    "lr_schedule": LR_SCHEDULES,
    "arch": ARCHS,
    "preset": PRESETS,
    "channels": (1, 3),
    "effects_penalty": EFFECT_PENALTIES,
}


def resolve(cfg: TrainConfig, image_shape: tuple[int, int, int], data_preset: str | None = None) -> TrainConfig:
    """Fill every `None` from the run's preset (--preset, else the data set's own, else by channels) and
    check that the architecture fits the images."""
    channels, height, width = image_shape
    name = cfg.preset or data_preset or default_preset(channels)
    if cfg.preset is None and PRESETS[name].smaller and max(height, width) < PRESETS[name].image_size:
        name = PRESETS[name].smaller  # e.g. shapes:32 trains with shapes-32, the CPU form of shapes
    preset = PRESETS[name]
    filled = {f: getattr(preset, f) if getattr(cfg, f) is None else getattr(cfg, f) for f in PRESET_FIELDS}
    filled["categorical"] = list(filled["categorical"])
    filled.update(_iic_fields(cfg, preset, one_categorical=len(filled["categorical"]) == 1))
    out = dataclasses.replace(cfg, preset=name, image_shape=[int(channels), int(height), int(width)], **filled)
    out._check_combinations()  # e.g. a part of IIC given on a preset whose weight is 0
    multiple = ARCHS[out.arch].divisor
    if height % multiple or width % multiple:
        raise UsageError(
            f"--arch {out.arch} needs image sides divisible by {multiple}, the data is "
            f"{height}x{width}: pick another --arch or resize the images"
        )
    return out


def _iic_fields(cfg: TrainConfig, preset, one_categorical: bool) -> dict:
    """IIC's weight and parts: the preset's where the run leaves the weight None and has one categorical code;
    where the run gives the weight, a part it leaves None is 0.

    The preset's recipe is for one code: IIC sorts real images into its categories, so without a code there is
    nothing to sort, and with two codes on two-digit images it merged both digits into both codes (accuracy
    0.31 against 0.81 without it; docs/results.md#two-digits). `--iic-weight` still turns it on for any run."""
    if cfg.iic_weight is None:
        recipe = {f: getattr(preset, f) if one_categorical else 0 for f in IIC_FIELDS}
        return {f: recipe[f] if getattr(cfg, f) is None else getattr(cfg, f) for f in IIC_FIELDS}
    return {f: 0 if getattr(cfg, f) is None else getattr(cfg, f) for f in IIC_FIELDS}
