"""What ``pip install .`` (the README's Quick start) installs: every file of the package that is not
Python source (the web board's templates, style, script and icon; ``py.typed``) goes into the wheel,
or ``renovation serve`` would fail on an installed copy while passing on the editable one the tests
use."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def checkout_files(*under: str) -> list[str]:
    """The checkout's files as git knows them (tracked, or new and not ignored); in a copy that is not a
    git checkout, the files on disk but build/, *.egg-info and caches."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", *under], cwd=ROOT, capture_output=True,
                            text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return listed.stdout.splitlines()
    skipped = ("build", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")
    return [str(path.relative_to(ROOT)) for top in (under or (".",)) for path in (ROOT / top).rglob("*")
            if path.is_file() and not any(part in skipped or part.endswith(".egg-info")
                                          for part in path.relative_to(ROOT).parts)]


def data_files() -> set[str]:
    """The package's files that are not Python."""
    return {name for name in checkout_files("renovation") if not name.endswith((".py", ".pyc"))}


def test_the_package_has_data_files_to_check() -> None:
    assert {"renovation/py.typed", "renovation/web/static/site.css", "renovation/web/templates/base.html"} <= \
        data_files()


def clean_copy(target: Path) -> Path:
    """The checkout's files as git sees them (no build/ or egg-info left by an earlier build, which
    setuptools would take from)."""
    for name in checkout_files():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_wheel_holds_every_data_file(tmp_path: Path) -> None:
    source = clean_copy(tmp_path / "source")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                            str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("renovation-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert data_files() - names == set()
