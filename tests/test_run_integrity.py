"""Never lose a run: one writer per run directory (real processes), checkpoints that belong to their run and
are always finite, metrics that always parse, files that follow the umask, and the machine's faults (a
full or read-only file system on a real tmpfs, a trickling download, a port in use) as one line and exit 2."""

import http.server
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, blob_images, fill, needs, remount_read_only, small_filesystem

from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.data import datasets as data
from infogan.data import download, formats
from infogan.errors import UsageError


@pytest.fixture
def done_run(finished_tiny_run):
    return finished_tiny_run


def copy_run(done_run, dest):
    shutil.copytree(done_run, dest)
    return dest


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- one writer per run
def slow_training(tmp_path, run, extra=()):
    x, y = blob_images(2048, 8)
    np.savez(tmp_path / "big.npz", x=x, y=y)
    cmd = [
        sys.executable,
        "-m",
        "infogan",
        "train",
        "--dataset",
        f"npz:{tmp_path / 'big.npz'}",
        "--outdir",
        str(run),
        "--batch-size",
        "16",
        "--epochs",
        "50",
        "--noise-dim",
        "4",
        "--categorical",
        "4",
        "--no-progress",
        "--log-every",
        "1",
        "--checkpoint-every",
        "2",
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"training did not start: {proc.communicate()}")
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("second", [["--resume", "{run}"], ["--outdir", "{run}", "--overwrite"]])
def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys, second):
    run = tmp_path / "run"
    proc = slow_training(tmp_path, run)
    try:
        before = (run / "config.json").read_bytes()
        args = ["train", *[a.format(run=run) for a in second], "--no-progress"]
        if "--overwrite" in second:
            args += ["--dataset", f"npz:{tmp_path / 'big.npz'}", "--batch-size", "16", "--noise-dim", "4"]
        assert main(args) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"in use by another infogan process (PID {proc.pid})" in line
        assert (run / "config.json").read_bytes() == before and proc.poll() is None  # the first run goes on
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel dropped the lock with the process: resuming now works at once, no stale lock
    assert main(["train", "--resume", str(run), "--epochs", "1", "--no-progress"]) == 0


def test_a_second_sweep_on_the_same_parent_is_refused(tmp_path, capsys):
    from infogan.train.runlock import RunLock

    with RunLock.acquire(tmp_path / "", "sweep directory"):
        x, y = blob_images(32, 8)
        np.savez(tmp_path / "d.npz", x=x, y=y)
        assert (
            main(["sweep", "--seeds", "0", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(tmp_path), *TINY])
            == 2
        )
    assert f"sweep directory {tmp_path} is in use by another infogan process (PID {os.getpid()})" in one_error_line(
        capsys.readouterr().err
    )


# ---------------------------------------------------------------- checkpoints belong to their run
def test_a_foreign_checkpoint_is_refused_before_anything_is_written(done_run, tmp_path, capsys):
    run = copy_run(done_run, tmp_path / "run")
    other = tmp_path / "other"
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "o.npz", x=x, y=y)
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'o.npz'}",
                "--outdir",
                str(other),
                *TINY,
                "--categorical",
                "5",
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    shutil.copyfile(other / "checkpoints" / "last.pt", run / "checkpoints" / "last.pt")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    assert main(["train", "--resume", str(run), "--epochs", "4", "--no-progress"]) == 2
    assert "belongs to another run" in one_error_line(capsys.readouterr().err)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"} == before


def test_checkpoints_and_config_carry_the_run_id(done_run):
    run_id = json.loads((done_run / "config.json").read_text())["run_id"]
    assert len(run_id) == 32 and load_checkpoint(done_run / "checkpoints" / "last.pt")["config"]["run_id"] == run_id


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda c: c.pop("rng"), "field 'rng' is missing"),
        (lambda c: c.update(step="4"), "field 'step' is str"),
        (lambda c: c.update(generator={"w": 3}), "not a state dict of tensors"),
    ],
)
def test_a_checkpoint_of_the_wrong_structure_is_named(done_run, tmp_path, capsys, damage, message):
    run = copy_run(done_run, tmp_path / "run")
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    damage(ckpt)
    torch.save(ckpt, run / "checkpoints" / "last.pt")
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 2
    assert message in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- metrics always parse, layout is checked
def test_a_torn_metrics_line_is_dropped_on_resume(done_run, tmp_path):
    run = copy_run(done_run, tmp_path / "run")
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "interval", "epoch": 3, "st')  # killed mid-append
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]  # every line parses
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda run: ((run / "metrics.jsonl").unlink(), (run / "metrics.jsonl").mkdir()), "should be a file"),
        (lambda run: (shutil.rmtree(run / "samples"), (run / "samples").write_text("x")), "should be a folder"),
    ],
)
def test_a_run_directory_of_the_wrong_layout_is_named(done_run, tmp_path, capsys, make, message):
    run = copy_run(done_run, tmp_path / "run")
    make(run)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_a_stray_file_among_the_samples_is_left_alone(done_run, tmp_path):
    run = copy_run(done_run, tmp_path / "run")
    (run / "samples" / "epoch_final.png").write_bytes(b"mine")
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 0
    assert (run / "samples" / "epoch_final.png").read_bytes() == b"mine"


# ---------------------------------------------------------------- last.pt is always finite
def test_weights_that_turn_non_finite_are_never_checkpointed(tmp_path, monkeypatch, capsys):
    from infogan.train import step as training  # the step module holds update_step

    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    real_step, calls = training.update_step, {"n": 0}

    def poison_weights(cfg, nets, *a, **k):  # the loss stays finite; the update leaves an inf weight
        stats = real_step(cfg, nets, *a, **k)
        calls["n"] += 1
        if calls["n"] == 3:
            with torch.no_grad():
                next(nets.gen.parameters()).view(-1)[0] = float("inf")
        return stats

    monkeypatch.setattr(training, "update_step", poison_weights)
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'd.npz'}",
                "--outdir",
                str(tmp_path / "run"),
                *TINY,
                "--checkpoint-every",
                "1",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "NaN/inf by step 3" in err and "keeps the last good state (step 2)" in err
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ckpt["step"] == 2 and all(
        torch.isfinite(v).all() for v in ckpt["generator"].values() if v.is_floating_point()
    )


def test_divergence_before_any_checkpoint_says_so(tmp_path, monkeypatch, capsys):
    from infogan.train import step as training  # the step module holds update_step

    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    real_step = training.update_step
    monkeypatch.setattr(
        training, "update_step", lambda *a, **k: {n: v * float("nan") for n, v in real_step(*a, **k).items()}
    )
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(tmp_path / "run"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint had been written yet" in err and "last good state" not in err
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


# ---------------------------------------------------------------- permissions follow the umask
def test_files_follow_the_umask(tmp_path):
    x, y = blob_images(32, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    old = os.umask(0o022)
    try:
        assert (
            main(
                [
                    "train",
                    "--dataset",
                    f"npz:{tmp_path / 'd.npz'}",
                    "--outdir",
                    str(tmp_path / "run"),
                    *TINY,
                    "--epochs",
                    "1",
                ]
            )
            == 0
        )
    finally:
        os.umask(old)
    run = tmp_path / "run"
    for path in (
        "config.json",
        "metrics.jsonl",
        "checkpoints/last.pt",
        "generator.safetensors",
        "samples/epoch_0001.png",
        "plots/losses.png",
    ):
        assert stat.S_IMODE((run / path).stat().st_mode) == 0o644, path


# ---------------------------------------------------------------- a full or read-only file system (real tmpfs)
@pytest.mark.parametrize("leave", [0, 64 * 1024])
def test_full_disk_on_resume_is_one_line_and_loses_nothing(done_run, tmp_path, capsys, leave):
    size_kb = sum(p.stat().st_size for p in done_run.rglob("*") if p.is_file()) // 1024 + 256
    with small_filesystem(tmp_path / "fs", size_kb) as fs:
        run = copy_run(done_run, fs / "run")
        fill(fs, leave_bytes=leave)
        last = (run / "checkpoints" / "last.pt").read_bytes()
        status = main(["train", "--resume", str(run), "--epochs", "4", "--no-progress"])
        line = one_error_line(capsys.readouterr().err)
        assert status == 2 and "No space left on device" in line
        assert (run / "checkpoints" / "last.pt").read_bytes() == last  # the last good checkpoint is intact
        assert not [p for p in run.rglob(".*.tmp")]  # no temp file left behind
        for line in (run / "metrics.jsonl").read_text().splitlines():
            json.loads(line)


def test_read_only_file_system(done_run, tmp_path, capsys):
    with small_filesystem(tmp_path / "fs", 64 * 1024) as fs:
        run = copy_run(done_run, fs / "run")
        remount_read_only(fs)
        assert main(["train", "--resume", str(run), "--epochs", "4", "--no-progress"]) == 2
        assert "Read-only file system" in one_error_line(capsys.readouterr().err)
        assert main(["generate", str(run), "--out", str(fs / "g.png")]) == 2
        assert "Read-only file system" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("out,message", [("afile/g.png", "is a file, not a folder"), ("adir.png", "Is a directory")])
def test_generate_into_an_impossible_path(done_run, tmp_path, capsys, out, message):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir.png").mkdir()
    assert main(["generate", str(done_run), "--out", str(tmp_path / out)]) == 2
    assert message in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- hostile files
def test_a_gz_that_inflates_far_beyond_its_header_is_not_read_whole(tmp_path):
    import gzip

    from conftest import idx_bytes

    header = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    with gzip.open(tmp_path / "bomb.gz", "wb") as fh:
        fh.write(header)
        for _ in range(64):  # 64 MiB beyond the 1,568 bytes the header announces
            fh.write(b"\0" * 2**20)
    with pytest.raises(UsageError, match="holds more bytes but its header"):
        formats.read_idx(tmp_path / "bomb.gz")


@pytest.mark.parametrize("spec", ["npz:/dev/zero", "npz:{fifo}"])
def test_devices_and_fifos_are_refused_not_read(tmp_path, spec):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        data.load_dataset(spec.format(fifo=fifo))


def test_a_config_that_links_to_dev_zero_is_refused(done_run, tmp_path, capsys):
    run = copy_run(done_run, tmp_path / "run")
    (run / "config.json").unlink()
    (run / "config.json").symlink_to("/dev/zero")
    assert main(["generate", str(run), "--out", str(tmp_path / "g.png")]) == 2
    assert "not a regular file" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("learn_std", "false", "'learn_std' must be bool"),
        ("categorical", "4", "'categorical' must be list[int]"),
        ("data_dir", 3, "'data_dir' must be str or null"),
        ("seed", 2**40, "--seed must be at most"),
    ],
)
def test_config_fields_are_type_checked_when_read(done_run, tmp_path, capsys, field, value, message):
    run = copy_run(done_run, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg[field] = value
    (run / "config.json").write_text(json.dumps(cfg))
    assert main(["generate", str(run), "--out", str(tmp_path / "g.png")]) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_a_deeply_nested_config_is_one_line(done_run, tmp_path, capsys):
    run = copy_run(done_run, tmp_path / "run")
    (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    assert main(["evaluate", str(run)]) == 2
    assert "not valid JSON" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--seed", "20000000000000"], "--seed must be at most 4294967295"),
        (["train", "--batch-size", "1"], "--batch-size must be an integer >= 2"),
        (["train", "--dataset", "folder:{tmp}", "--image-size", "100000"], "--image-size must be at most 1024"),
        (
            ["train", "--dataset", "folder:{tmp}", "--image-size", "1024", "--arch", "paper-mnist", "--channels", "1"],
            "parameters, more than",
        ),
        (["generate", "{run}", "-n", "100000000", "--out", "{tmp}/g.png"], "-n must be in 1..10000"),
        (["generate", "{run}", "--code", "1=nan", "--out", "{tmp}/g.png"], "must be a finite number"),
        (
            ["traverse", "{run}", "--code", "1", "--steps", "100000000", "--out", "{tmp}/g.png"],
            "--steps must be at most",
        ),
    ],
)
def test_sizes_are_bounded_where_read(done_run, tmp_path, capsys, argv, message):
    from PIL import Image

    Image.new("L", (40, 40)).save(tmp_path / "a.png")
    Image.new("L", (40, 40), 255).save(tmp_path / "b.png")
    argv = [a.format(tmp=tmp_path, run=done_run) for a in argv]
    if argv[0] == "train":
        argv += ["--outdir", str(tmp_path / "new"), "--no-progress"]
    assert main(argv) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "new").exists() and not (tmp_path / "g.png").exists()


def test_one_image_is_not_advised_a_batch_of_one(tmp_path, capsys):
    from PIL import Image

    Image.new("L", (40, 40)).save(tmp_path / "only.png")
    assert main(["train", "--dataset", f"folder:{tmp_path}", "--outdir", str(tmp_path / "r"), "--no-progress"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "at least 2" in line and "--batch-size 1" not in line


# ---------------------------------------------------------------- downloads that never end
class _Trickle(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(200):  # bounded: stops by itself after about 20 s
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_trickling_download_hits_its_deadline(tmp_path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(download, "DOWNLOAD_DEADLINE", 1.0)
        monkeypatch.setattr(formats, "MNIST_MIRRORS", [f"http://127.0.0.1:{server.server_address[1]}/"])
        with pytest.raises(UsageError, match="timed out.*mnist-sample"):
            data.load_dataset("mnist", tmp_path)
    finally:
        server.shutdown()
        server.server_close()


def _serve_at_rate(payload: bytes, chunk: int, pause: float):
    """A local server that sends `payload` `chunk` bytes at a time with `pause` seconds between chunks."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                for i in range(0, len(payload), chunk):
                    self.wfile.write(payload[i : i + chunk])
                    self.wfile.flush()
                    time.sleep(pause)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_stalled_download_gives_up_at_the_minimum_rate_long_before_the_deadline(tmp_path, monkeypatch, capsys):
    # the rate window shrunk from 60 s to 1 s for the test: 10 bytes every 0.2 s is 50 B/s, under 1,000 B/s
    monkeypatch.setattr(download, "STALL_BYTES", 1000)
    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    server = _serve_at_rate(b"\0" * 100_000, 10, 0.2)
    try:
        monkeypatch.setattr(formats, "MNIST_MIRRORS", [f"http://127.0.0.1:{server.server_address[1]}/"])
        # a 1 s window, checked as bytes arrive: the download gives up by the rate rule, which the message names,
        # not by the hour of DOWNLOAD_DEADLINE
        assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-progress"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    line = one_error_line(capsys.readouterr().err)
    assert "stalled" in line and "under 1000 bytes per 1 s" in line and "mnist-sample" in line


def test_a_slow_but_steady_download_finishes(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "STALL_BYTES", 1000)
    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    payload = bytes(range(256)) * 40  # 10,240 bytes at 2 kB / 0.25 s = 8 kB/s: slow, above the minimum
    server = _serve_at_rate(payload, 2048, 0.25)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.bin"
        download._download(url, tmp_path / "file.bin")
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "file.bin").read_bytes() == payload


# ---------------------------------------------------------------- the explorer
def test_explore_on_a_port_in_use_is_one_line(done_run, capsys):
    needs("uvicorn", reason="the explorer's extra is not installed")
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", str(done_run), "--port", str(port)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "pick another --port" in line


def test_explorer_keeps_serving_good_runs_beside_a_broken_one(done_run, tmp_path):
    needs("fastapi", reason="the explorer's extra is not installed")
    from fastapi.testclient import TestClient

    from infogan.serve.explorer import create_app

    copy_run(done_run, tmp_path / "runs" / "a_broken")
    copy_run(done_run, tmp_path / "runs" / "b_good")
    (tmp_path / "runs" / "a_broken" / "config.json").write_text('{"categorical": "4"}')
    client = TestClient(create_app(tmp_path / "runs"))
    runs = client.get("/api/runs").json()
    assert runs["default"] == "b_good" and "a_broken" in runs["unavailable"]
    assert client.get("/api/info").status_code == 200 and client.get("/api/generate").status_code == 200
    r = client.get("/api/info", params={"run": "a_broken"})
    assert r.status_code == 503 and "a_broken" in r.text and "categorical" in r.text
