"""FID, KID, Inception Score and precision/recall of generated images, computed by torch-fidelity.

torch-fidelity is the implementation the field's tables are made with (a port of the TensorFlow Inception
the original FID code used, bit-exact to it); we do not write our own Inception. It is an optional
dependency: `INSTALL_HINT` says how to install it (it needs the torchvision release built for the torch in use).

The Inception weights (`weights-inception-2015-12-05-6726825d.pth`) come from
`--inception-weights PATH`, `$INFOGAN_INCEPTION_WEIGHTS`, a copy already downloaded to the data dir, or a
download from torch-fidelity's release page. torch-fidelity loads that file with pickle enabled; we never
let it see the user's file: it is opened here with `torch.load(weights_only=True)`, checked to be a state
dict of exactly the expected keys and shapes (assets/inception_v3_fidelity_shapes.json, taken from
torch-fidelity's network), and re-saved from those plain tensors into the cache, which is what
torch-fidelity is given. The real images' features are cached by torch-fidelity in
DATA_DIR/fidelity-cache (computed once per data set, split and sample count); torch-fidelity reads those
cache files with pickle enabled, so the cache must stay a directory only its user writes (as the data dir).

Grey images are repeated to three channels, as torch-fidelity's Inception takes RGB.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from importlib import resources
from pathlib import Path

import torch

from infogan.data.download import default_data_dir, fetch
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_MIRRORS = ["https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"]
INCEPTION_URL = INCEPTION_MIRRORS[0] + INCEPTION_FILE
INCEPTION_SHA256_PREFIX = "6726825d"  # torch.hub's convention: the file name ends in its SHA-256's first 8 digits
WEIGHTS_ENV = "INFOGAN_INCEPTION_WEIGHTS"
# One install story, here and in docs/getting-started.md: torchvision must be the release built for the installed torch (a
# CPU-only torch from one index and PyPI's torchvision do not import together).
INSTALL_HINT = (
    "pip install torch-fidelity together with the torchvision release made for your torch "
    "(e.g. torch 2.14.1 with torchvision 0.29.1); `make install-fidelity` builds such an environment, "
    ".venv-fidelity"
)
MAX_WEIGHTS_BYTES = 200 * 2**20  # an Inception v3 of 23.9M float32 parameters is about 96 MB
# Our names for torch-fidelity's metrics and the result keys each yields: (torch-fidelity key, our key).
IMAGE_METRICS = {  # each is a metric of registry.py's "image" group
    "fid": [("frechet_inception_distance", "fid")],
    "kid": [("kernel_inception_distance_mean", "kid"), ("kernel_inception_distance_std", "kid_std")],
    "isc": [("inception_score_mean", "isc"), ("inception_score_std", "isc_std")],
    "prc": [("precision", "precision"), ("recall", "recall"), ("f_score", "f_score")],
}


def result_keys(names: list[str]) -> list[str]:
    """The keys `image_metrics` returns for these metrics (what metrics.jsonl and the plot carry)."""
    return [ours for name in names for _, ours in IMAGE_METRICS[name]]


def torch_fidelity():
    try:
        import torch_fidelity as module
    except ImportError as exc:  # also torchvision's own import errors beside a CPU-only torch build
        raise UsageError(
            f"--image-metrics needs torch-fidelity and a torchvision built for this torch "
            f"{torch.__version__} ({exc}): {INSTALL_HINT}"
        ) from None
    return module


# ---------------------------------------------------------------------------------------------- weights
def expected_shapes() -> dict[str, list[int]]:
    text = resources.files("infogan").joinpath("assets/inception_v3_fidelity_shapes.json").read_text()
    return json.loads(text)


def _offline_message() -> str:
    return (
        f"FID/KID/IS need torch-fidelity's Inception weights {INCEPTION_FILE} (from {INCEPTION_URL}), "
        f"which could not be downloaded here: download it elsewhere and pass --inception-weights PATH "
        f"(or set ${WEIGHTS_ENV})"
    )


def check_inception_state(state, source: str) -> dict[str, torch.Tensor]:
    """The state dict if it is exactly torch-fidelity's Inception (names and shapes), else UsageError."""
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UsageError(
            f"{source} is not a state dict of tensors: not torch-fidelity's Inception weights ({INCEPTION_FILE})"
        )
    want = expected_shapes()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    if missing or extra:
        raise UsageError(
            f"{source} does not hold torch-fidelity's Inception weights: "
            f"{len(missing)} tensor(s) missing (e.g. {missing[:1]}), {len(extra)} unexpected "
            f"(e.g. {extra[:1]}); use {INCEPTION_FILE}"
        )
    for name, shape in want.items():
        if list(state[name].shape) != shape:
            raise UsageError(
                f"{source}: tensor {name} has shape {list(state[name].shape)}, torch-fidelity's "
                f"Inception has {shape}; use {INCEPTION_FILE}"
            )
    return state


def load_inception_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A weights file opened safely (no pickled objects executed) and checked."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--inception-weights {path}: no such file (expected {INCEPTION_FILE}, from {INCEPTION_URL})")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise UsageError(f"--inception-weights {path} is {path.stat().st_size / 2**20:.0f} MB: not {INCEPTION_FILE}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for pickled objects, RuntimeError/EOFError for damaged files
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        reason = (
            "it contains pickled objects other than tensors, which are refused (never executed)"
            if "weights_only" in str(exc) or "Unsupported global" in str(exc)
            else f"unreadable ({first})"
        )
        raise UsageError(f"--inception-weights {path}: {reason}") from None
    return check_inception_state(state, f"--inception-weights {path}")


def _download_weights(cache: Path) -> Path:
    """The weights in the cache, downloaded once ($INFOGAN_DOWNLOAD_MIRROR first, as for data sets)."""

    try:
        path = fetch(
            cache,
            INCEPTION_FILE,
            None,
            INCEPTION_MIRRORS,
            "torch-fidelity's Inception weights",
            offline_hint=f"or pass --inception-weights PATH (or set ${WEIGHTS_ENV})",
        )
    except UsageError as exc:
        raise UsageError(f"{_offline_message()} [{exc}]") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(INCEPTION_SHA256_PREFIX):
        path.unlink()
        raise UsageError(
            f"the downloaded {INCEPTION_FILE} has SHA-256 {digest[:8]}..., not "
            f"{INCEPTION_SHA256_PREFIX}...: corrupt or tampered with, deleted; {_offline_message()}"
        )
    return path


def cache_dir(data_dir: str | None) -> Path:
    """Where verified weights, downloads and the real images' features live: DATA_DIR/fidelity-cache."""

    return (Path(data_dir).expanduser() if data_dir else default_data_dir()) / "fidelity-cache"


def prepare(weights: str | None, data_dir: str | None) -> Path:
    """Check, before any long work, that torch-fidelity imports and the weights are there and sound."""
    torch_fidelity()
    return verified_weights(weights, cache_dir(data_dir))


def verified_weights(weights: str | None, cache: Path) -> Path:
    """Path of a sanitised copy of the weights (plain tensors re-saved by us) for torch-fidelity to load."""
    source = weights or os.environ.get(WEIGHTS_ENV) or None
    path = Path(source) if source else _download_weights(cache)
    state = load_inception_weights(path)
    buf = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in state.items()}, buf)
    data = buf.getvalue()
    clean = cache / f"inception-verified-{hashlib.sha256(data).hexdigest()[:16]}.pth"
    if not clean.is_file():
        atomic_write_bytes(clean, data)
    return clean


# ---------------------------------------------------------------------------------------------- metrics
class _Images(torch.utils.data.Dataset):
    """uint8 images [N, C, H, W] as torch-fidelity reads them: uint8 [3, H, W] each."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = self.images[i]
        return image.expand(3, -1, -1).contiguous() if image.shape[0] == 1 else image


def image_metrics(
    generated: torch.Tensor,
    real: torch.Tensor,
    names: list[str],
    weights: Path,
    cache: Path,
    real_cache_name: str | None,
    device: str = "cpu",
    batch_size: int = 100,
    verbose: bool = False,
) -> dict[str, float]:
    """torch-fidelity's metrics of generated against real images, both uint8 [N, C, H, W].

    KID's subsets hold min(1000, N) images (its default when there are enough); the seed of its subsets,
    and of everything else torch-fidelity draws, is fixed, so the result is deterministic."""
    fidelity = torch_fidelity()
    cache.mkdir(parents=True, exist_ok=True)
    n = min(len(generated), len(real))
    if "kid" in names and n < 2:
        raise UsageError("KID needs at least 2 images on each side: raise --samples")
    result = fidelity.calculate_metrics(
        input1=_Images(generated),
        input2=_Images(real),
        cuda=device.startswith("cuda"),
        batch_size=batch_size,
        fid="fid" in names,
        kid="kid" in names,
        isc="isc" in names,
        prc="prc" in names,
        kid_subset_size=min(1000, n),
        isc_splits=min(10, len(generated)),
        prc_neighborhood=min(3, n - 1),
        # precision/recall on Inception's 2048 pool features (as StudioGAN reports them), not on torch-fidelity's
        # default VGG-16, whose weights would be a second 500 MB download for one metric
        feature_extractor="inception-v3-compat",
        feature_layer_prc="2048",
        feature_extractor_weights_path=str(weights),
        cache_root=str(cache),
        cache=real_cache_name is not None,
        input2_cache_name=real_cache_name,
        verbose=verbose,
        samples_shuffle=False,
        # our images are tensors in memory: loader worker processes (its default, 4) only cost start-up time
        save_cpu_ram=True,
    )
    return {ours: float(result[theirs]) for name in names for theirs, ours in IMAGE_METRICS[name]}
