"""Bad input through the real `optc` (issue 8): each case gives one line `file:line: message` where a
line applies, the documented exit code (0 ok, 2 error), no partial or temporary file, and the input
byte for byte as it was.

Cases already covered by tests/test_cli.py (missing output folder, read-only output, output equal to
the input, interrupts, symlinked --in-place) are not repeated here. Verification runs only where
it is the point (a variant that crashes, hangs or does not compile); elsewhere `--no-verify` keeps
the tests fast.
"""

from __future__ import annotations

import ast
import errno
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from optcompiler import emit
from optcompiler.cli import main

pipeline = pytest.importorskip("optcompiler.pipeline", exc_type=ImportError)

KERNEL = """\
import numpy as np


def row_sums(A: np.ndarray) -> np.ndarray:
    n, m = A.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(m):
            out[i] += A[i, j]
    return out
"""

PLAIN = """\
def greet(name):
    return "hello " + name
"""


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch, tmp_path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / ".cache"))
    return tmp_path


def optc(capsys, *args: str) -> tuple[int, list[str]]:
    """Run optc in-process: (exit code, stderr lines)."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.splitlines()


def write_bytes(name: str, data: bytes) -> Path:
    path = Path(name)
    path.write_bytes(data)
    return path


def assert_clean(folder: Path = Path(".")) -> None:
    """No temporary file of `write_atomic` left behind."""
    assert not [p.name for p in folder.rglob("*.optc-tmp")]


def assert_refused(code: int, err: list[str], line: str, inputs: dict[Path, bytes], output: str) -> None:
    assert (code, err[:1]) == (2, [line]), err
    assert len([e for e in err if not e.startswith("0 files")]) == 1  # one line, then the summary
    assert not Path(output).exists()
    for path, data in inputs.items():
        assert path.read_bytes() == data
    assert_clean()


# ---- what the file holds --------------------------------------------------------------------------------


def test_syntax_error_names_its_line(capsys):
    data = b"import numpy as np\n\n\ndef f(a:\n    return a\n"
    src = write_bytes("bad.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    assert_refused(code, err, "bad.py:4: syntax error: '(' was never closed", {src: data}, "out.py")


def test_undecodable_bytes_name_line_and_byte(capsys):
    data = b"# coding: latin-1\nx = '\xe9'\n"
    src = write_bytes("latin.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    line = "latin.py:2: not valid UTF-8: byte e9 at offset 23; optc reads UTF-8 source files only"
    assert_refused(code, err, line, {src: data}, "out.py")


def test_null_bytes_name_their_line(capsys):
    data = b"x = 1\ny = \x002\n"
    src = write_bytes("nul.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    line = "nul.py:2: syntax error: source code string cannot contain null bytes"
    assert_refused(code, err, line, {src: data}, "out.py")


def test_bom_is_kept_in_the_output(capsys):
    data = b"\xef\xbb\xbf" + KERNEL.encode()
    src = write_bytes("bom.py", data)
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify", "-q")
    out = Path("out.py").read_bytes()
    assert code == 0 and err == []
    assert out.startswith(b"\xef\xbb\xbf") and not out.startswith(b"\xef\xbb\xbf" * 2)
    assert b"numba.njit" in out
    ast.parse(out)
    assert src.read_bytes() == data
    assert_clean()


def test_bom_file_without_kernels_comes_out_byte_identical(capsys):
    data = b"\xef\xbb\xbf" + PLAIN.encode()
    src = write_bytes("bom.py", data)
    assert optc(capsys, src, "-o", "out.py", "-q") == (0, [])
    assert Path("out.py").read_bytes() == data


def test_crlf_line_endings_are_kept(capsys):
    data = KERNEL.replace("\n", "\r\n").encode()
    src = write_bytes("crlf.py", data)
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify", "-q")
    out = Path("out.py").read_bytes()
    assert code == 0 and err == []
    assert b"numba.njit" in out and out.count(b"\n") == out.count(b"\r\n")  # no bare LF added
    ast.parse(out)
    assert src.read_bytes() == data


def test_crlf_syntax_error_counts_lines_right(capsys):
    data = b"x = 1\r\ny = 2\r\ndef f(:\r\n    pass\r\n"
    src = write_bytes("crlf.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    assert (code, err[0].split(": ")[0]) == (2, "crlf.py:3"), err
    assert src.read_bytes() == data and not Path("out.py").exists()


def test_tab_indented_kernel_is_optimized(capsys):
    data = KERNEL.replace("    ", "\t").encode()
    src = write_bytes("tabs.py", data)
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify", "-q")
    out = Path("out.py").read_bytes()
    assert code == 0 and err == [] and b"numba.njit" in out
    ast.parse(out)
    assert src.read_bytes() == data


def test_inconsistent_tabs_are_a_syntax_error_at_their_line(capsys):
    data = b"def f(a):\n\tif a:\n        return 1\n\treturn 2\n"
    src = write_bytes("tabs.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    line = "tabs.py:3: syntax error: inconsistent use of tabs and spaces in indentation"
    assert_refused(code, err, line, {src: data}, "out.py")


def test_empty_file_comes_out_empty(capsys):
    src = write_bytes("empty.py", b"")
    assert optc(capsys, src, "-o", "out.py", "-q") == (0, [])
    assert Path("out.py").read_bytes() == b"" and src.read_bytes() == b""
    assert optc(capsys, src, "--check", "-q") == (0, [])


def test_huge_file_of_ten_megabytes(capsys):
    data = (KERNEL + '\n\nDOC = """\n' + ("x" * 99 + "\n") * 100_000 + '"""\n').encode()
    assert len(data) > 10_000_000
    src = write_bytes("huge.py", data)
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify", "-q")
    out = Path("out.py").read_bytes()
    assert code == 0 and err == []
    assert len(out) > len(data) and out.endswith(data[-1000:]) and b"numba.njit" in out
    assert src.read_bytes() == data
    assert_clean()


def _sum_kernel(terms: int) -> str:
    """A kernel whose line 7 sums `terms` terms: a left-deep expression `terms` levels deep."""
    body = " + ".join(["A[i]"] * terms)
    return f"x = 1\n\n\ndef total(A):\n    s = 0.0\n    for i in range(A.shape[0]):\n        s = s + {body}\n    return s\n"


@pytest.mark.parametrize(
    ("source", "line"),
    [
        # CPython's own limit on brackets (libcst alone accepted it)
        (
            "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
            "deep.py:1: syntax error: too many nested parentheses",
        ),
        # CPython's parser gives up (this made libcst's native parser segfault)
        (
            "y = 2\nx = " + "-" * 100_000 + "1\n",
            "deep.py:2: syntax error: expressions nested too deeply to parse; split the expression into steps",
        ),
        # CPython parses it, libcst's code generation would overflow the recursion limit (a traceback)
        (
            _sum_kernel(3000),
            "deep.py:7: syntax error: expressions nested too deeply to parse; split the expression into steps",
        ),
        (
            _sum_kernel(400),
            "deep.py:7: nested 406 levels deep, more than optc handles (200); split the expression into steps",
        ),
        # one string of 2000 implicitly concatenated literals: flat for CPython, 2000 deep for libcst
        (
            "x = 1\n\nTEXT = (\n" + '    "ab"\n' * 2000 + ")\n",
            "deep.py:3: a statement nested too deeply for libcst (optc's parser) to process; "
            "e.g. split a long implicit string concatenation",
        ),
        # libcst's parser gives up on more (CPython does not): said so, not called a syntax error
        (
            "x = 1\n\nTEXT = (\n" + '    "ab"\n' * 5000 + ")\n",
            'deep.py:5004: libcst (optc\'s parser) cannot parse this valid Python: expected one of STRING, f", t"',
        ),
    ],
    ids=["parentheses", "unary", "sum-3000", "sum-400", "string-concatenation", "libcst-limit"],
)
def test_deeply_nested_expressions_are_one_line_errors(capsys, source, line):
    data = source.encode()
    src = write_bytes("deep.py", data)
    code, err = optc(capsys, src, "-o", "out.py")
    assert_refused(code, err, line, {src: data}, "out.py")


def test_nesting_within_the_limit_is_optimized(capsys):
    src = write_bytes("deep.py", _sum_kernel(190).encode())
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify", "-q")
    assert code == 0 and err == []
    ast.parse(Path("out.py").read_bytes())


# ---- where it is, where it goes ----------------------------------------------------------------------------


def test_directory_given_as_the_input(capsys):
    Path("pkg").mkdir()
    code, err = optc(capsys, "pkg", "-o", "out.py")
    assert_refused(code, err, "pkg: is a directory, not a Python file", {}, "out.py")


def test_symlinked_input_is_read_through_and_left_a_symlink(capsys):
    data = PLAIN.encode()
    real = write_bytes("real.py", data)
    Path("link.py").symlink_to(real)
    assert optc(capsys, "link.py", "-o", "out.py", "-q") == (0, [])
    assert Path("out.py").read_bytes() == data
    assert Path("link.py").is_symlink() and real.read_bytes() == data


def test_output_symlinked_to_the_input_is_refused(capsys):
    data = KERNEL.encode()
    src = write_bytes("k.py", data)
    Path("out.py").symlink_to(src)
    code, err = optc(capsys, src, "-o", "out.py", "--no-verify")
    assert (code, err[:1]) == (2, ["out.py: refusing to overwrite the input; use --in-place"])
    assert src.read_bytes() == data and Path("out.py").is_symlink()
    assert_clean()


def test_dangling_symlink_input_is_no_such_file(capsys):
    Path("link.py").symlink_to("gone.py")
    code, err = optc(capsys, "link.py", "-o", "out.py")
    assert_refused(code, err, "link.py: no such file", {}, "out.py")


def test_full_disk_leaves_the_old_output_and_no_temporary(capsys, monkeypatch):
    """A write that fails half-way (ENOSPC) inside `write_atomic`: the old output stays whole."""
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, text: str) -> int:
            self.handle.write(text[: len(text) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDisk(real_fdopen(fd, *a, **k)))
    data = PLAIN.encode()
    src = write_bytes("p.py", data)
    write_bytes("out.py", b"old\n")
    code, err = optc(capsys, src, "-o", "out.py")
    assert (code, err[:1]) == (2, ["out.py: cannot write: No space left on device"])
    assert Path("out.py").read_bytes() == b"old\n" and src.read_bytes() == data
    assert_clean()


def test_concurrent_writes_to_one_output_leave_one_whole_file(tmp_path):
    """Many writers of the same path: each reader sees one complete version, none is torn."""
    target = tmp_path / "out.py"
    texts = [f"# writer {w}\n" + ("x = 1\n" * (1000 + w)) for w in range(6)]
    errors: list[BaseException] = []

    def writer(text: str) -> None:
        try:
            for _ in range(20):
                emit.write_atomic(target, text)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and target.read_text() in texts
    assert_clean(tmp_path)


def test_concurrent_optc_runs_writing_the_same_output(tmp_path):
    data = KERNEL.encode()
    src = write_bytes("k.py", data)
    command = [sys.executable, "-m", "optcompiler.cli", str(src), "-o", "out.py", "--no-verify", "-q"]
    env = {**os.environ, "OPTC_CACHE_DIR": str(tmp_path / ".cache")}
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for run in runs:
        run.stderr.close()
    assert results == [(0, "")] * 3
    alone = tmp_path / "alone.py"
    assert main([str(src), "-o", str(alone), "--no-verify", "-q"]) == 0
    assert Path("out.py").read_bytes() == alone.read_bytes()  # whole, as one run writes it
    assert src.read_bytes() == data
    assert_clean(tmp_path)


# ---- a variant that crashes, hangs or does not compile during verification ---------------------------------


def _candidates_become(monkeypatch, body: Callable[[str, str], str]) -> None:
    """Every candidate verification compiles is `body(name, params)`; the emitted file keeps the real ones."""
    real = pipeline.variant_source

    def fake(kernel, candidate, name=None, boundscheck=False, math_names=None, parallel_flags=False):
        if name is None or not name.startswith("_optc_candidate_"):
            return real(kernel, candidate, name, boundscheck, math_names, parallel_flags)
        return body(name, ", ".join(p.name for p in kernel.params))

    monkeypatch.setattr(pipeline, "variant_source", fake)


def _verified_run(capsys, timeout: int) -> tuple[int, list[str], bytes]:
    Path("pyproject.toml").write_text(f"[tool.optc]\nverify-timeout = {timeout}\nmax-verify = 1\n")
    data = KERNEL.encode()
    src = write_bytes("k.py", data)
    code, err = optc(capsys, src, "-o", "out.py", "-v", "--sizes", "n=50,m=50")
    assert Path("out.py").read_bytes() == data  # left as written: byte-identical
    assert src.read_bytes() == data
    assert_clean()
    return code, err, data


def _kernel_line(err: list[str]) -> str:
    lines = [e for e in err if e.startswith("k.py:4: row_sums: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.slow
def test_variant_that_segfaults_in_verification_is_not_emitted(capsys, monkeypatch):
    _candidates_become(
        monkeypatch,
        lambda name, params: f"def {name}({params}):\n    import ctypes\n    return ctypes.string_at(0)\n",
    )
    code, err, _ = _verified_run(capsys, timeout=60)
    line = _kernel_line(err)
    assert code == 0 and "no variant passed verification (crashed (signal 11)" in line, line


@pytest.mark.slow
def test_variant_that_loops_forever_in_verification_is_cut_off(capsys, monkeypatch):
    _candidates_become(
        monkeypatch, lambda name, params: f"def {name}({params}):\n    while True:\n        pass\n"
    )
    code, err, _ = _verified_run(capsys, timeout=3)
    line = _kernel_line(err)
    assert code == 0 and "no variant passed verification (timed out after 3s" in line, line


@pytest.mark.slow
def test_variant_numba_cannot_compile_is_not_emitted(capsys, monkeypatch):
    _candidates_become(
        monkeypatch,
        lambda name, params: f"@numba.njit\ndef {name}({params}):\n    return undefined_name({params})\n",
    )
    code, err, _ = _verified_run(capsys, timeout=60)
    line = _kernel_line(err)
    assert code == 0 and "no variant passed verification (numba compile error: " in line, line
