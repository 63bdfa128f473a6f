"""What Heroku's Python buildpack installs: requirements.txt installs the project itself, not
in editable mode, and the built package carries every subpackage and template."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_requirements_install_the_project_without_editable_mode():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    assert lines == ["."]


def test_the_built_package_carries_its_subpackages_and_templates(tmp_path):
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "prmonitor", source / "prmonitor", ignore=_CACHES)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("prmonitor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {
        p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("prmonitor/**/__init__.py")
    }
    assert {f"{package}/__init__.py" for package in packages} <= names
    templates = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("prmonitor/web/templates/*")}
    assert templates and templates <= names


_CACHES = shutil.ignore_patterns("__pycache__")
