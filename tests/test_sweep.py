"""bench/sweep.py on a handful of standard-library files (no verification), and regressions for
what the full sweep found (bench/results/sweep.md)."""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path

import pytest

from optcompiler.config import Config

pipeline = pytest.importorskip("optcompiler.pipeline", exc_type=ImportError)

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("optc_test_sweep", ROOT / "bench" / "sweep.py")
sweep = importlib.util.module_from_spec(_spec)
sys.modules["optc_test_sweep"] = sweep
_spec.loader.exec_module(sweep)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _quick_jobs(count: int = 24) -> list[tuple[str, str, str]]:
    """About `count` small stdlib files spread over the tree, plus two the full sweep found bugs in."""
    jobs = [j for j in sweep.jobs_for(["stdlib"]) if Path(j[0]).stat().st_size < 12_000]
    picked = jobs[:: max(1, len(jobs) // count)][:count]
    for name in ("base64.py", "curses/ascii.py"):  # a kernel emitted; a one-line function outlined
        path = STDLIB / name
        if path.exists() and all(j[0] != str(path) for j in picked):
            picked.append((str(path), "stdlib", sweep.module_name(path, STDLIB)))
    return picked


def test_quick_sweep_has_no_crash_and_keeps_unoptimized_files_byte_identical():
    result = sweep.sweep(_quick_jobs(), workers=1, file_budget=60.0, verify=False)
    summary = sweep.summarize(result)
    assert summary["crashes and broken checks"] == []
    assert summary["timeouts"] == []
    unchanged = summary["files without an emitted kernel"]
    assert unchanged > 0 and summary["byte-identical files without an emitted kernel"] == unchanged
    assert summary["import checks of unverified outputs (phase 1)"]["fail"] == {}
    assert summary["kernels emitted without verification"] > 0  # base64's loops at least
    text = sweep.markdown(summary, "pytest")
    assert "**crashes and broken checks: 0**" in text


def test_module_names_are_package_qualified():
    assert sweep.module_name(STDLIB / "json" / "decoder.py", STDLIB) == "json.decoder"
    assert sweep.module_name(STDLIB / "json" / "__init__.py", STDLIB) == "json"


def test_import_check_imports_under_the_package_name(tmp_path):
    decoder = STDLIB / "json" / "decoder.py"
    outcome = sweep.Outcome(
        str(decoder), "stdlib", "json.decoder", output=decoder.read_text() + "\nfrom . import scanner\n"
    )
    assert sweep.import_check(outcome) is None  # the relative import resolves to the real sibling
    broken = sweep.Outcome(str(decoder), "stdlib", "json.decoder", output="raise ValueError('broken')\n")
    assert sweep.import_check(broken) == "ValueError: broken"


# ---- regressions: crashes the full sweep found ----------------------------------------------------------


def test_one_line_function_outside_the_subset_is_left_alone():
    """curses/ascii.py: `def isalnum(c): return ...` cannot be lifted, and outlining its loops
    asserted the body was an indented block (AssertionError, the file lost)."""
    source = "def isalnum(c): return isalpha(c) or isdigit(c)\ndef tag(c): return 'x' + c\n"
    result = pipeline.optimize_source(source, "ascii.py", Config(verify=False))
    assert result.output == source
    assert [type(k).__name__ for k in result.kernels] == ["Unchanged", "Unchanged"]
