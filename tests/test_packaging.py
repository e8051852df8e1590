"""The wheel: built from the source tree as pip builds it, it holds every module and every data file the
package reads (the MNIST sample, the explorer's page, the shipped model), and the build warns of nothing."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import child_env

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "infogan"


def test_the_wheel_builds_without_a_warning_and_holds_every_module_and_data_file(tmp_path):
    tracked = subprocess.run(
        ["git", "ls-files", "infogan", "pyproject.toml", "README.md"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.split()
    source = tmp_path / "source"  # a copy: the build writes its build/ and egg-info beside the sources
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-v", "-w", tmp_path],
        capture_output=True,
        text=True,
        env=child_env(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1"),
        cwd=tmp_path,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    # setuptools' and the build backend's warnings are Python warnings: "...Warning: <what>"
    warnings = [line.strip() for line in (built.stdout + built.stderr).splitlines() if "Warning:" in line]
    assert warnings == [], warnings
    (wheel,) = tmp_path.glob("infogan-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = {name for name in tracked if name.startswith("infogan/")}
    assert "infogan/assets/mnist_sample.npz" in package and package <= shipped, sorted(package - shipped)
