"""Shared fixtures: tiny synthetic data sets written to tmp_path, and helpers that write real file formats."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import importlib
import ipaddress
import os
import socket
import struct
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # main.py lives at the repository root


REQUIRE_EXTRAS = {"on": False}  # --require-extras: set before collection (pytest_configure)


def pytest_addoption(parser):
    parser.addoption(
        "--require-extras",
        action="store_true",
        help="a missing optional package (the dev extra: fastapi, schemathesis, tensorboard, ...) fails its tests "
        "instead of skipping them; make test and CI pass it",
    )


def pytest_configure(config):
    REQUIRE_EXTRAS["on"] = config.getoption("--require-extras")
    _one_core_per_worker()


# Under CI=true a skipped test fails the run unless its reason is one CI is not meant to run: the CUDA tests (a
# CPU machine), the torch-fidelity tests of the core environment (make test runs them again in the fidelity
# environment, where a failed import fails), and the refusal that only a machine without a GPU checks.
CI_MAY_SKIP = (
    "needs a CUDA GPU",
    "a CUDA GPU is visible",
    "torch-fidelity (and torchvision) not installed here",
    "torch-fidelity is installed here",
)
SKIPPED_IN_CI: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(allowed in reason for allowed in CI_MAY_SKIP):
            SKIPPED_IN_CI.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if SKIPPED_IN_CI and session.exitstatus == 0:
        print("\nCI=true: these tests were skipped but CI is meant to run them:\n  " + "\n  ".join(SKIPPED_IN_CI))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The longest tests (15-100 s each: the evidence dry run, the real process groups) are handed out first, so
# that the workers do not end with one of them still running a long test alone while the other waits.
LONGEST_FIRST = ("test_evidence.py", "test_cluster.py", "test_distributed.py")


@pytest.hookimpl(trylast=True)  # after pytest-xdist has marked each grouped test's node ID with its group
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)  # a stable sort: the rest keep their order
    if os.environ.get("PYTEST_XDIST_WORKER") and config.getvalue("loadgroup"):
        # Tests marked xdist_group share one worker (the real process groups; a run trained once for several
        # tests). pytest-xdist tells the scheduler by a suffix on the node ID, which pytest 9.2 ignores
        # (pytest-dev/pytest-xdist#1386): then the groups are silently split, so say so instead.
        split = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
        if split:
            raise pytest.UsageError(
                f"--dist loadgroup is not grouping here ({split[0]} has no @group suffix): this pytest-xdist "
                "does not support this pytest (pytest-dev/pytest-xdist#1386); install the dev extra's pytest"
            )


MACHINE_CORES: set[int] = set()  # the cores the suite was given, before a worker's share was cut from them


def on_every_core() -> None:
    """preexec_fn of a child that runs a process group (torchrun's ranks): it runs on every core the suite was
    given, not on its worker's share, so that two ranks do not take turns on one core."""
    if MACHINE_CORES and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, MACHINE_CORES)


def _one_core_per_worker():
    """Under pytest-xdist (`make test-core` runs `-n auto`), each worker owns its share of the cores: its affinity
    mask is narrowed, so its torch and every process it starts (the CLI reads the mask: runtime.set_threads)
    use those cores only, and two workers never thrash over the same ones."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker is None or count is None or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    MACHINE_CORES.update(cores)
    index, count = int(worker.removeprefix("gw")), int(count)
    if count > len(cores):
        return
    mine = set(cores[index::count])
    os.sched_setaffinity(0, mine)
    import torch  # after the mask: the intra-op pool follows it

    torch.set_num_threads(len(mine))


def needs(module: str, reason: str):
    """The optional `module`, imported; where it is missing, the test skips with `reason`, or fails under
    --require-extras (CI installs every extra, so a skip there would hide a broken install)."""
    if REQUIRE_EXTRAS["on"]:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)


@pytest.fixture(autouse=True)
def isolated_from_the_user(monkeypatch, tmp_path_factory):
    """Every test runs as a fresh user with no network: no INFOGAN_* variable of the caller's (a download
    mirror or data folder of theirs would send tests elsewhere), the data and cache folders in a fresh tmp
    folder of the test's own, beside its tmp_path (subprocesses inherit both), and connections anywhere but
    this machine refused. The global RNGs start from the same seed in every test, so a draw without a
    generator of its own is the same whatever ran before it on the worker."""
    import torch  # here, not at the top: a worker's core mask is set (pytest_configure) before torch starts

    torch.manual_seed(0)
    np.random.seed(0)
    _isolate(monkeypatch, tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture(scope="session", autouse=True)
def isolated_session(tmp_path_factory):
    """The same isolation for the session's shared fixtures (a finished run made once), which pytest sets up
    before any test's own: they too read and write a fresh cache folder, never the user's home."""
    patch = pytest.MonkeyPatch()
    _isolate(patch, tmp_path_factory.mktemp("session-cache"))
    yield
    patch.undo()


def _isolate(monkeypatch, cache: Path) -> None:
    for name in [name for name in os.environ if name.startswith("INFOGAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    real_connect = socket.socket.connect

    def loopback_only(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host != "localhost" and not _is_loopback(host):
            raise OSError(f"tests do not reach the network (a connection to {host} was asked for)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a test's child process: the test's own (isolated_from_the_user: its data and cache
    folders, no INFOGAN_* of the caller's), one thread per process, unbuffered output, and `extra`. Built when
    the child starts, so the child reads and writes the test's folders, never the user's home."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        return False


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (magic 0x0000080N, big-endian dims)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_files(folder: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> dict[str, str]:
    """Write the four MNIST .gz files with synthetic digits; returns {file name: sha256}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, array in (
            ("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            ("labels-idx1", rng.integers(0, 10, n, dtype=np.uint8)),
        ):
            name = f"{prefix}-{kind}-ubyte.gz"
            raw = gzip.compress(idx_bytes(array), mtime=0)
            (folder / name).write_bytes(raw)
            hashes[name] = hashlib.sha256(raw).hexdigest()
    return hashes


def blob_images(n: int, size: int, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images with a bright square whose position depends on the label: learnable, tiny, deterministic."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    x = rng.integers(0, 40, (n, size, size, channels), dtype=np.uint8)
    half = size // 2
    for i, y in enumerate(labels):
        r, c = divmod(int(y), 2)
        x[i, r * half : (r + 1) * half, c * half : (c + 1) * half] = 220
    return (x[..., 0] if channels == 1 else x), labels.astype(np.uint8)


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    """64 grey 8x8 images with labels."""
    x, y = blob_images(64, 8)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=y)
    return path


# Options that make a run take about a second: tiny images, small batches, few epochs, quiet.
TINY = [
    "--batch-size",
    "16",
    "--epochs",
    "2",
    "--noise-dim",
    "4",
    "--categories",
    "4",
    "--no-progress",
    "--log-every",
    "2",
]


def train_tiny_run(root: Path, name: str = "run", n: int = 64, extra: tuple[str, ...] = ()) -> Path:
    """Train a tiny labelled run under root/name (data in root/d.npz) and return its directory."""
    from infogan.cli import main

    data = root / "d.npz"
    if not data.exists():
        x, y = blob_images(n, 8)
        np.savez(data, x=x, y=y)
    assert main(["train", "--dataset", f"npz:{data}", "--outdir", str(root / name), *TINY, *extra]) == 0
    return root / name


def assert_picture(path: Path, frames: int = 1) -> tuple[int, int]:
    """`path` decodes as an image of at least `frames` frames that shows something (not one flat colour);
    its (width, height)."""
    from PIL import Image, ImageStat

    with Image.open(path) as img:
        img.load()
        assert getattr(img, "n_frames", 1) >= frames, f"{path}: {getattr(img, 'n_frames', 1)} frame(s)"
        assert max(ImageStat.Stat(img.convert("L")).stddev) > 0, f"{path} is one flat colour"
        return img.size


def tiny_step(**fields):
    """A resolved 8x8 config (one 2-valued code, one continuous, paper-mnist, batch 16, fp32 on the CPU) with
    `fields` over it, its networks from seed 0 (InfoGAN-CR's D_CR too, with a cr_weight) and their optimisers:
    (cfg, nets, opts) for one-step tests."""
    import torch

    from infogan.config import TrainConfig
    from infogan.model.networks import CRDiscriminator, build_networks
    from infogan.train.state import Nets, make_optimizers

    base = dict(
        noise_dim=4,
        categorical=[2],
        continuous=1,
        arch="paper-mnist",
        image_shape=[1, 8, 8],
        batch_size=16,
        lr_d=2e-3,
        lr_g=1e-3,
        categorical_weight=1.0,
        continuous_weight=0.5,
        precision="fp32",
        device="cpu",
    )
    cfg = TrainConfig(**{**base, **fields})
    torch.manual_seed(0)
    nets = Nets(*build_networks(cfg.model), CRDiscriminator(cfg.model) if cfg.cr_weight > 0 else None)
    return cfg, nets, make_optimizers(cfg, nets)


def tree_digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def finished_tiny_run(tmp_path_factory):
    """One finished tiny run (`train_tiny_run`: 2 epochs of 64 labelled 8x8 images), trained once per test
    session for every test that only reads or copies a finished run. A test that changes it would change it
    for the others: copy it first. The session checks at its end that nobody changed it."""
    run = train_tiny_run(tmp_path_factory.mktemp("finished"))
    before = tree_digest(run)
    yield run
    assert tree_digest(run) == before, "a test changed the shared finished run: copy it before changing it"


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A quiet HTTP server on 127.0.0.1 serving `folder`; yields its base URL (ending in /)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def two_factor_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey 8x16 images whose left half shows factor y (a bright quarter by value 0-3) and right half factor
    y2, drawn independently: a tiny stand-in for two digits side by side."""
    left, y = blob_images(n, 8, seed=seed)
    right, y2 = blob_images(n, 8, seed=seed + 1)
    return np.concatenate([left, right], axis=2), y, y2


def two_factor_run(root: Path, options: list[str]) -> tuple[Path, Path]:
    """A 1-epoch run on 64 two-factor images (npz with y and y2) under root; returns (root, run dir)."""
    from infogan.cli import main

    x, y, y2 = two_factor_images(64)
    np.savez(root / "pairs.npz", x=x, y=y, y2=y2)
    run = root / "run"
    assert main(["train", "--dataset", f"npz:{root / 'pairs.npz'}", "--outdir", str(run), *options]) == 0
    return root, run


@contextlib.contextmanager
def small_filesystem(where: Path, size_kb: int):
    """A real tmpfs of size_kb mounted at `where` (root only); pytest.skip with the reason elsewhere."""
    import os
    import subprocess

    import pytest

    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where: Path) -> None:
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def fill(where: Path, leave_bytes: int = 0) -> None:
    """Fill the file system holding `where` until at most leave_bytes are free."""
    import os

    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with open(where / "filler", "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave_bytes))
            fh.flush()
        except OSError:
            pass


CHROMIUM = next((p for p in ("/usr/bin/chromium",) if Path(p).exists()), None)


@contextlib.contextmanager
def browser_page(app):
    """Serve the ASGI app with uvicorn on 127.0.0.1 and open Debian's Chromium on it; yields (page, url)."""
    import socket
    import time

    playwright = needs("playwright.sync_api", reason="playwright is not installed")
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            try:
                page = browser.new_page()
                yield page, f"http://127.0.0.1:{port}/"
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
