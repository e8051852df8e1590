"""A newcomer's first hour, offline, timed: the "first hour" commands of docs/getting-started.md as a user types them.

Each command runs in a working directory of its own (not the repository: relative paths must work from
anywhere), one after another, nothing else running; its wall-clock seconds, exit status and last output
line go to benchmarks/results/first_hour.json. With --fresh-clone, the first row is `git clone` of this
checkout and `make install` in it (torch from the local wheel cache), and the commands use that install.

    python benchmarks/first_hour.py --workdir /tmp/first-hour
    python benchmarks/first_hour.py --fresh-clone --workdir /tmp/first-hour

The explorer row is the time from `infogan explore` until its page answers over HTTP (then it is stopped).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import common

# (what it shows, the command line as the docs write it, expected exit status)
COMMANDS = [
    ("the seed's command, offline (prints the advice)", "python {root}/main.py --dataset MNIST --epochs 1", 2),
    ("the advice, followed", "python {root}/main.py --dataset mnist-sample --epochs 1 --outdir runs/seed", 0),
    ("the shipped model, scored on held-out digits", "infogan evaluate pretrained:mnist --dataset mnist-sample", 0),
    (
        "a short training run of your own",
        "infogan train --dataset mnist-sample --epochs 5 --outdir runs/first --no-progress",
        0,
    ),
    ("continue it for 2 more epochs", "infogan train --resume runs/first --epochs 7 --no-progress", 0),
    ("its held-out score", "infogan evaluate runs/first", 0),
    ("digits of one category", "infogan generate runs/first --category 3 --out three.png", 0),
    ("a continuous code's traversal", "infogan traverse runs/first --code 1 --out code1.png", 0),
]


def timed(line: str, cwd: Path, env: dict, expected: int) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(line, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = (proc.stdout + proc.stderr).strip().splitlines()
    row = {
        "command": line,
        "seconds": round(seconds, 1),
        "status": proc.returncode,
        "as_expected": proc.returncode == expected,
        "last_line": output[-1][:300] if output else "",
    }
    print(f"{seconds:7.1f} s  exit {proc.returncode}  $ {line}", flush=True)
    return row


def explorer_start(cwd: Path, env: dict, port: int) -> dict:
    """`infogan explore` (the shipped model): seconds until its page answers."""
    line = f"infogan explore --port {port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        line.split(), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    seconds, ok = None, False
    try:
        while time.perf_counter() - started < 120 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                    ok = reply.status == 200
                    seconds = time.perf_counter() - started
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        if proc.poll() is None:  # (one that exited by itself, e.g. on a taken port, is already reaped)
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    print(f"{seconds or float('nan'):7.1f} s  page answers: {ok}  $ {line}", flush=True)
    return {
        "command": line,
        "seconds": round(seconds, 1) if seconds else None,
        "status": 0 if ok else 1,
        "as_expected": ok,
        "last_line": "page answered" if ok else (proc.stderr.read() or "")[-300:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="the newcomer's folder (emptied first)")
    parser.add_argument("--fresh-clone", action="store_true", help="time git clone + make install first")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(common.RESULTS / "first_hour.json"))
    args = parser.parse_args()

    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = []
    root, bin_dir = common.ROOT, Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INFOGAN_DOWNLOAD_MIRROR")}
    env["INFOGAN_DATA"] = str(work / "cache")  # a newcomer's empty cache: nothing downloaded before
    if args.fresh_clone:
        root = work / "infogan"
        rows.append(
            {
                "what": "clone and install (make install: .venv, torch, the package)",
                **timed(
                    f"git clone -q {shlex.quote(str(common.ROOT))} {shlex.quote(str(root))} && "
                    f"make -C {shlex.quote(str(root))} install",
                    work,
                    env,
                    0,
                ),
            }
        )
        bin_dir = root / ".venv" / "bin"
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # the venv's python and infogan first
    for what, line, expected in COMMANDS:
        rows.append({"what": what, **timed(line.format(root=shlex.quote(str(root))), work, env, expected)})
    rows.append({"what": "the explorer, on the shipped model", **explorer_start(work, env, args.port)})
    common.save(common.header("first_hour", fresh_clone=args.fresh_clone, rows=rows), args.out)
    return 0 if all(r["as_expected"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
