"""The distribution installs `optcompiler.passes`, `.costmodel`, `.corpus` and nothing generic."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_subpackages_import_under_optcompiler() -> None:
    for name in (
        "optcompiler.passes",
        "optcompiler.costmodel",
        "optcompiler.corpus",
        "optcompiler.passes.egraph",
    ):
        assert importlib.import_module(name) is not None


def test_no_generic_top_level_packages_are_importable(tmp_path: Path) -> None:
    # run outside the checkout, so only what the installation put on sys.path counts
    code = (
        "import importlib.util as u; print([n for n in ('passes', 'costmodel', 'corpus') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("optc") == "optcompiler.cli:main"


@pytest.mark.slow
def test_wheel_contains_only_optcompiler(tmp_path: Path) -> None:
    """A normal (non-editable) build maps the top-level folders under optcompiler/."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
    )
    (wheel,) = tmp_path.glob("optc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.startswith("optc-")}
    assert tops == {"optcompiler"}
    for module in (
        "optcompiler/passes/egraph.py",
        "optcompiler/costmodel/analytic.py",
        "optcompiler/corpus/__init__.py",
    ):
        assert module in names
