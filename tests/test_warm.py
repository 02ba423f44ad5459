"""`optc warm`: compile optc's output into Numba's cache so a new process's first call loads it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optcompiler import warm

EXAMPLE = Path(__file__).parents[1] / "examples" / "kernels.py"


# every test here reads the package the module fixture builds with optc and warms (~45 s)
pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warm")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    # compiled variants for every kernel: a long run (compiling always pays back) and no plain-NumPy
    # variant (which a short run may get, and which has nothing to warm)
    (root / "pyproject.toml").write_text("[tool.optc]\ncalls = 1000000000\nnumpy-target = false\n")
    shutil.copy(EXAMPLE, root / "pkg" / "k.py")
    done = _run(
        "-m", "optcompiler.cli", "pkg/k.py", "-o", "pkg/k_fast.py", "-q", "--sizes", "n=200,m=200", cwd=root
    )
    assert done.returncode == 0, done.stderr
    return root


def test_signatures_are_read_from_the_variant_comments(package: Path) -> None:
    found = dict(warm.signatures((package / "pkg" / "k_fast.py").read_text()))
    assert found["_gemm_v1"] == "(float64[:, ::1], float64[:, ::1])"
    assert found["_moving_average_v1"] == "(float64[::1], int64)"
    assert warm.module_name(package / "pkg" / "k_fast.py") == ("pkg.k_fast", package)


def test_a_new_process_loads_what_optc_warm_compiled(package: Path) -> None:
    done = _run("-m", "optcompiler.cli", "warm", "pkg/k_fast.py", cwd=package)
    assert done.returncode == 0, done.stderr
    assert "_gemm_v1(float64[:, ::1], float64[:, ::1]): compiled in" in done.stdout
    probe = (
        "import numpy as np, pkg.k_fast as k\n"
        "r = np.random.default_rng(0)\n"
        "calls = {'_gemm_v1': (r.random((9, 9)), r.random((9, 9))), '_moving_average_v1': (r.random(50), 4),\n"
        "         '_sum_squares_v1': (r.random(50),), '_jacobi2d_v1': (r.random((9, 9)),)}\n"
        "for name, args in calls.items():\n"
        "    f = getattr(k, name); f(*args)\n"
        "    print(name, sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))\n"
    )
    loaded = _run("-c", probe, cwd=package)
    assert loaded.returncode == 0, loaded.stderr
    for line in loaded.stdout.splitlines():
        name, hits, misses = line.split()
        assert (hits, misses) == ("1", "0"), f"{name} was compiled again instead of loaded from the cache"


def test_warm_refuses_a_file_optc_did_not_write(package: Path) -> None:
    done = _run("-m", "optcompiler.cli", "warm", "pkg/k.py", cwd=package)
    assert done.returncode == 2
    assert "pkg/k.py: " in done.stderr and "not a file optc generated" in done.stderr
