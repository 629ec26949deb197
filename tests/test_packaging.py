"""An installed feedbackgym is complete: every subpackage and every Hydra config ships in the wheel."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def setup_script() -> dict:
    return runpy.run_path(str(REPO / "setup.py"), run_name="feedbackgym_setup")  # not __main__: setup() is not called


def folders_with_python(folder: Path) -> set[Path]:
    return {p.parent for p in folder.rglob("*.py") if "__pycache__" not in p.parts}


def expected_packages(package_dirs: dict[str, str]) -> set[str]:
    expected = set()
    for name, folder in package_dirs.items():
        root = REPO / folder
        for directory in folders_with_python(root):
            relative = directory.relative_to(root).parts
            expected.add(".".join((name, *relative)))
    return expected


def test_discovery_finds_every_folder_with_python_files() -> None:
    script = setup_script()
    packages = set(script["discovered_packages"]())
    assert packages == expected_packages(script["PACKAGE_DIRS"])
    assert {"feedbackgym.envs.negotiation", "feedbackgym.envs.simulated_user", "feedbackgym.conf.common"} <= packages


def test_the_wheel_holds_every_package_config_and_the_license(tmp_path: Path) -> None:
    if shutil.which("pip") is None and subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("pip is not available")
    source = tmp_path / "src"  # a clean copy: a stale build/ folder in the checkout cannot leak into the wheel
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "outputs", "multirun",
                                                                 "__pycache__", "tests", "benchmarks", ".feedbackgym_cache", "*.whl"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("feedbackgym-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in names if name.endswith("__init__.py")}
    assert packages == set(setup_script()["discovered_packages"]())
    configs = {str(Path("feedbackgym/conf") / p.relative_to(REPO / "conf")) for p in (REPO / "conf").rglob("*.yaml")}
    assert configs and configs <= names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith("dist-info/licenses/LICENSE") for n in names)
