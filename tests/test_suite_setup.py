"""The test suite's own set-up (conftest.py): under pytest-xdist each worker runs on cores of its own, and a
pytest that would split the xdist groups is refused. Checked by running pytest itself on probe tests."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, child_env

PROBE = """
import json, os
from pathlib import Path

def test_probe():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    import torch
    Path(os.environ["PROBE_OUT"], worker + ".json").write_text(
        json.dumps({"cores": sorted(os.sched_getaffinity(0)), "threads": torch.get_num_threads()}))
"""


def _every_core():
    """The child pytest runs on every core of the machine: this test's own worker is pinned to its share."""
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except OSError:
        pass


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to give each worker one")
def test_each_xdist_worker_runs_on_cores_of_its_own(tmp_path):
    tests = tmp_path / "probe"
    tests.mkdir()
    (tests / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nfrom conftest import *\n"
    )
    for i in range(4):  # enough tests that both workers run some
        (tests / f"test_probe{i}.py").write_text(PROBE)
    out = tmp_path / "out"
    out.mkdir()
    env = child_env(PROBE_OUT=str(out), PYTHONPATH=str(ROOT / "tests"))  # the suite's conftest, as a plugin
    for name in [name for name in env if name.startswith("PYTEST_XDIST_")]:  # this worker's: not the child's
        del env[name]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "-n", "2", str(tests)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_every_core,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(seen) == {"gw0", "gw1"}, seen
    gw0, gw1 = set(seen["gw0"]["cores"]), set(seen["gw1"]["cores"])
    assert gw0 and gw1 and not gw0 & gw1  # disjoint shares
    assert len(gw0 | gw1) >= 2
    assert all(s["threads"] == len(s["cores"]) for s in seen.values())  # torch's pool follows the mask
