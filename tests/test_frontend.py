"""Frontend: reading files, parse errors, kernel discovery; the module is never modified."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from optcompiler.errors import OptcError
from optcompiler.frontend import (
    ASYNC,
    DECORATED,
    GENERATED_HEADER,
    SKIP_COMMENT,
    KernelSite,
    find_kernels,
    is_generated,
    parse,
    read_source,
)


def sites(source: str, exclude: tuple[str, ...] = ()) -> dict[str, KernelSite]:
    module = parse(textwrap.dedent(source), "k.py")
    return {site.name: site for site in find_kernels(module, "k.py", exclude)}


def reasons(source: str, exclude: tuple[str, ...] = ()) -> dict[str, str | None]:
    return {name: site.skip_reason for name, site in sites(source, exclude).items()}


# ---- discovery ---------------------------------------------------------------------------------------


def test_only_top_level_functions_are_sites():
    found = sites(
        """\
        import numpy as np

        def outer(x):
            def inner(y):
                return y
            return inner(x)

        class Model:
            def method(self):
                return 1

        if True:
            def conditional():
                pass

        def last(a, b):
            return a + b
        """
    )
    assert list(found) == ["outer", "last"]
    assert found["outer"].line == 3
    assert found["last"].line == 16
    assert all(site.skip_reason is None for site in found.values())


def test_site_node_is_the_modules_own_node():
    module = parse("x = 1\n\n\ndef f(a):\n    return a\n", "k.py")
    (site,) = find_kernels(module, "k.py")
    assert site.node is module.body[1]
    assert site.line == 4


def test_skip_comment_on_the_def_line():
    assert reasons(
        """\
        def a(x):  # optc: skip
            return x

        def b(x) -> float:  # optc:skip (too clever)
            return x

        def c(x,  # optc: skip
              y):
            return x

        def d(x): return x  # optc: skip

        def e(x):  # optc: keep
            return x
        """
    ) == {"a": SKIP_COMMENT, "b": SKIP_COMMENT, "c": SKIP_COMMENT, "d": SKIP_COMMENT, "e": None}


def test_skip_comment_directly_above():
    assert reasons(
        """\
        # optc: skip
        def a(x):
            return x

        # optc: skip
        # because the loop order matters to a reader
        def b(x):
            return x

        # optc: skip

        def c(x):
            return x

        def d(x):
            # optc: skip   (a comment inside the body is not about the def)
            return x
        """
    ) == {"a": SKIP_COMMENT, "b": SKIP_COMMENT, "c": None, "d": None}


def test_decorated_and_async_functions_are_skipped():
    found = reasons(
        """\
        import numba

        @numba.njit
        def compiled(x):
            return x

        @staticmethod
        # optc: skip
        def marked(x):
            return x

        async def fetch(x):
            return x
        """
    )
    assert found == {"compiled": DECORATED, "marked": SKIP_COMMENT, "fetch": ASYNC}


def test_exclude_globs_match_function_names():
    found = reasons(
        """\
        def slow_path(x):
            return x

        def _helper(x):
            return x

        def kernel(x):
            return x
        """,
        exclude=("slow_*", "_*"),
    )
    assert found["slow_path"] == "excluded by [tool.optc] exclude ('slow_*')"
    assert found["_helper"] == "excluded by [tool.optc] exclude ('_*')"
    assert found["kernel"] is None


def test_rebound_names_skip_the_shadowed_definition():
    found = sites(
        """\
        import numba

        def f(x):
            return x

        f = numba.njit(f)

        def g(x):
            return x

        def g(x):
            return x + 1
        """
    )
    assert found["f"].skip_reason == "name rebound at line 6"
    assert [site.skip_reason for site in find_kernels(parse(_two_gs(), "k.py"), "k.py")] == [
        "name rebound at line 4",
        None,
    ]


def _two_gs() -> str:
    return "def g(x):\n    return x\n\ndef g(x):\n    return x + 1\n"


def test_frontend_keeps_every_byte():
    source = "\ufeff# -*- coding: utf-8 -*-\r\nimport numpy as np  \r\n\r\n\r\ndef f(a) :\r\n\treturn (a+1)  # hi\r\n"
    module = parse(source, "k.py")
    find_kernels(module, "k.py")
    assert module.code == source.removeprefix("\ufeff")
    assert module.bytes == source.encode("utf-8")


# ---- reading and parsing -------------------------------------------------------------------------------


def test_read_source_keeps_bom_and_newlines(tmp_path: Path):
    path = tmp_path / "k.py"
    data = "\ufeffx = 'é'\r\ny = 2\n".encode()
    path.write_bytes(data)
    text = read_source(path)
    assert text.encode("utf-8") == data
    assert parse(text, str(path)).bytes == data


def test_syntax_error_names_the_line():
    with pytest.raises(OptcError) as caught:
        parse("import numpy as np\n\ndef f(a:\n    return a\n", "bad.py")
    assert str(caught.value) == "bad.py:3: syntax error: '(' was never closed"


def test_syntax_error_line_is_exact():
    with pytest.raises(OptcError) as caught:
        parse("x = 1\ny = 2 +\nz = 3 3\n", "bad.py")
    assert caught.value.line == 2
    with pytest.raises(OptcError) as caught:
        parse("def f(x):\n    return x\n\n\ndef g(:\n    pass\n", "bad.py")
    assert caught.value.line == 5


def test_undecodable_bytes(tmp_path: Path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"x = 1\ny = 'caf\xe9'\n")
    with pytest.raises(OptcError) as caught:
        read_source(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: not valid UTF-8: byte e9 at offset 14")
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path: Path):
    with pytest.raises(OptcError) as caught:
        read_source(tmp_path / "nope.py")
    assert str(caught.value) == f"{tmp_path / 'nope.py'}: no such file"
    with pytest.raises(OptcError) as caught:
        read_source(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a Python file"


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.py"
    path.write_text("x = 1\n")

    def refuse(self: Path) -> bytes:  # chmod 000 does not stop root, so refuse here
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(OptcError) as caught:
        read_source(path)
    assert str(caught.value) == f"{path}: permission denied"


def test_is_generated():
    assert is_generated(f"{GENERATED_HEADER} 0.1 from k.py — do not edit\nimport numba\n")
    assert is_generated(f"\ufeff{GENERATED_HEADER} 0.1\n")
    assert not is_generated(f"import numpy\n{GENERATED_HEADER}\n")
    assert not is_generated("# Generated by hand\n")
    assert not is_generated("")


def test_parse_returns_a_libcst_module():
    assert isinstance(parse("x = 1\n", "k.py"), cst.Module)
