"""The README's `@optimize` example is copy-paste runnable: run it as a script in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_the_readme_decorator_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (example,) = [b for b in blocks if "@optimize" in b]
    script = tmp_path / "example.py"
    script.write_text(example)
    env = {**os.environ, "OPTC_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "True"
    assert "colsum" in done.stdout  # explain's account follows
    assert "OptcWarning" not in done.stderr, done.stderr
