"""The test suite's own set-up (conftest.py): under pytest-xdist each worker runs on cores of its own, and a
pytest that would split the xdist groups is refused. Checked by running pytest itself on probe tests."""

import json
import os
import subprocess
import sys

import conftest
import pytest
from conftest import ROOT, child_env, on_every_core

PROBE = """
import json, os
from pathlib import Path

def test_probe():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    import torch
    Path(os.environ["PROBE_OUT"], worker + ".json").write_text(
        json.dumps({"cores": sorted(os.sched_getaffinity(0)), "threads": torch.get_num_threads()}))
"""


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
        preexec_fn=on_every_core,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(seen) == {"gw0", "gw1"}, seen
    gw0, gw1 = set(seen["gw0"]["cores"]), set(seen["gw1"]["cores"])
    assert gw0 and gw1 and not gw0 & gw1  # disjoint shares
    assert len(gw0 | gw1) >= 2
    assert all(s["threads"] == len(s["cores"]) for s in seen.values())  # torch's pool follows the mask


class _Item:
    def __init__(self, nodeid: str, grouped: bool):
        self.nodeid, self.grouped, self.path = nodeid, grouped, ROOT / "tests" / nodeid.split("::")[0]

    def get_closest_marker(self, name):
        return object() if self.grouped and name == "xdist_group" else None


class _Config:
    def getvalue(self, name):
        return name == "loadgroup"


def test_a_pytest_that_would_split_the_xdist_groups_is_refused(monkeypatch):
    """Under --dist loadgroup pytest-xdist marks each grouped test's node ID with @group; a pytest that drops
    the mark would scatter a group's tests over the workers: the suite stops with the reason instead."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    marked = [_Item("test_cluster.py::test_a@process-groups", True), _Item("test_cli.py::test_b", False)]
    conftest.pytest_collection_modifyitems(_Config(), marked)  # grouped as it should be: nothing said
    unmarked = [_Item("test_cluster.py::test_a", True), _Item("test_cli.py::test_b", False)]
    with pytest.raises(pytest.UsageError, match="--dist loadgroup is not grouping here"):
        conftest.pytest_collection_modifyitems(_Config(), unmarked)
