"""[tool.optc] discovery, key mapping, validation with file:line errors, and flags over file settings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from optcompiler import config as config_module
from optcompiler.config import (
    DEFAULT_CALLS,
    SETTINGS,
    Config,
    excluded_by,
    find_config_file,
    load_config,
    parse_calls,
    parse_sizes,
    read_settings,
)
from optcompiler.errors import OptcError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# ---- discovery ----------------------------------------------------------------------------------------


def test_nearest_pyproject_upwards_from_a_files_directory(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\n')
    kernel = write(tmp_path / "src" / "pkg" / "k.py", "x = 1\n")
    assert find_config_file(kernel.parent) == tmp_path / "pyproject.toml"
    assert find_config_file(kernel) == tmp_path / "pyproject.toml"  # a file means its directory
    assert load_config(kernel.parent, {}).target == "cpu"


def test_nearer_pyproject_with_optc_table_wins(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\n')
    write(tmp_path / "sub" / "pyproject.toml", '[tool.optc]\ntarget = "gpu"\n')
    assert load_config(tmp_path / "sub", {}).target == "gpu"
    assert load_config(tmp_path, {}).target == "cpu"


def test_pyproject_without_optc_table_is_passed_over_like_ruff(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "sub"\n\n[tool.ruff]\nline-length = 99\n')
    assert find_config_file(tmp_path / "sub") == tmp_path / "pyproject.toml"


def test_no_pyproject_anywhere_gives_defaults(tmp_path):
    assert find_config_file(tmp_path) is None
    assert load_config(tmp_path, {}) == Config(calls=DEFAULT_CALLS)


def test_explicit_config_file_other_than_pyproject_is_read_at_top_level(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\n')
    other = write(tmp_path / "ci" / "optc.toml", 'target = "gpu"\nthreads = 2\n')
    config = load_config(tmp_path, {}, config_path=other)
    assert (config.target, config.threads) == ("gpu", 2)


def test_explicit_config_file_missing_is_an_error(tmp_path):
    with pytest.raises(OptcError, match="config file not found") as info:
        load_config(tmp_path, {}, config_path=tmp_path / "nope.toml")
    assert str(info.value).startswith(str(tmp_path / "nope.toml"))


# ---- key mapping ----------------------------------------------------------------------------------------


def test_every_key_maps_to_its_config_field(tmp_path):
    path = write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "demo"

        [tool.optc]
        target = "cpu"
        sizes = {n = 2000, m = 30}
        default-size = 64
        strict-fp = true
        fastmath = false
        verify = false
        threads = 4
        exclude = ["legacy/*", "slow_*"]
        node-limit = 9000
        iter-limit = 20
        time-limit = 2
        top-k = 8
        max-verify = 3
        verify-timeout = 30.5

        [tool.optc.types]
        "gemm.A" = "float64[:, :]"
        "gemm.n" = "int64"
        """,
    )
    config = load_config(path.parent, {})
    assert config == Config(
        calls=DEFAULT_CALLS,
        target="cpu",
        sizes=(("m", 30), ("n", 2000)),
        default_size=64,
        strict_fp=True,
        fastmath=False,
        verify=False,
        threads=4,
        exclude=("legacy/*", "slow_*"),
        arg_types=(("gemm.A", "float64[:, :]"), ("gemm.n", "int64")),
        node_limit=9000,
        iter_limit=20,
        time_limit=2.0,
        top_k=8,
        max_verify=3,
        verify_timeout=30.5,
    )
    assert config.size_of("n") == 2000 and config.size_of("k") == 64
    assert config.arg_type_hint("gemm", "A") == "float64[:, :]"


def test_sizes_as_their_own_table(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc.sizes]\nn = 10\n")
    assert load_config(tmp_path, {}).sizes == (("n", 10),)


def test_every_setting_is_a_config_field():
    names = {f for f, _ in SETTINGS.values()}
    assert names <= set(Config.__dataclass_fields__)


# ---- mistakes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("strict_fp", "strict-fp"), ("trheads", "threads"), ("node_limit", "node-limit"), ("taget", "target")],
)
def test_unknown_key_names_file_line_and_suggests(tmp_path, key, suggestion):
    path = write(
        tmp_path / "pyproject.toml", f'[project]\nname = "x"\n\n[tool.optc]\nverify = true\n{key} = 1\n'
    )
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value) == (f"{path}:6: unknown key {key!r} in [tool.optc]; did you mean {suggestion!r}?")


def test_unknown_key_far_from_any_lists_known_keys(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\nzzzzzz = 1\n")
    with pytest.raises(OptcError, match="known keys: target, sizes"):
        load_config(tmp_path, {})


@pytest.mark.parametrize(
    ("setting", "line", "message"),
    [
        ('threads = "4"', 3, "threads: expected a positive integer, got '4' (a string)"),
        ("threads = true", 3, "threads: expected a positive integer, got True (a boolean)"),
        ("node-limit = 0", 3, "node-limit: expected a positive integer, got 0"),
        ('target = "tpu"', 3, "target: expected one of 'auto', 'cpu', 'gpu', got 'tpu'"),
        ("verify = 1", 3, "verify: expected true or false, got 1 (an integer)"),
        ("time-limit = -1.0", 3, "time-limit: expected a positive number of seconds"),
        ('exclude = "tests/*"', 3, "exclude: expected an array of glob strings"),
        ("sizes = 1000", 3, "sizes: expected a table like {n = 1000, m = 500}"),
        ("sizes = {n = 10, m = -5}", 3, "sizes: m: expected a positive integer, got -5"),
        ('types = {"gemm" = "float64[:]"}', 3, 'types: keys are "kernel.param"'),
        ('types = {"gemm.A" = 3}', 3, "types: gemm.A: expected a numba type string"),
    ],
)
def test_wrong_types_name_file_line_and_expectation(tmp_path, setting, line, message):
    path = write(tmp_path / "pyproject.toml", f"[tool.optc]\ntop-k = 4\n{setting}\n")
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{path}:{line}: {message}")


def test_bad_entry_in_own_table_points_at_the_entry(tmp_path):
    path = write(
        tmp_path / "pyproject.toml", "[tool.optc]\nverify = true\n\n[tool.optc.sizes]\nn = 10\nm = 0\n"
    )
    with pytest.raises(OptcError) as info:
        read_settings(path)
    assert str(info.value).startswith(f"{path}:6: sizes: m:")


def test_invalid_toml_is_one_line_with_its_line(tmp_path):
    path = write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu\n')
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{path}:2: invalid TOML")
    assert "\n" not in str(info.value)


def test_strict_fp_and_fastmath_in_one_file_contradict(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\nstrict-fp = true\nfastmath = true\n")
    with pytest.raises(OptcError, match=r":3: strict-fp and fastmath contradict"):
        load_config(tmp_path, {})


def test_optc_table_that_is_not_a_table(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool]\noptc = 3\n")
    with pytest.raises(OptcError, match=r"\[tool.optc\] must be a table"):
        load_config(tmp_path, {}, config_path=tmp_path / "pyproject.toml")


def test_without_a_toml_reader_settings_are_ignored_with_a_warning(tmp_path, monkeypatch):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\n')
    monkeypatch.setattr(config_module, "_toml", lambda: None)
    assert find_config_file(tmp_path) == tmp_path / "pyproject.toml"
    with pytest.warns(UserWarning, match="tomli"):
        assert load_config(tmp_path, {"threads": 2}) == Config(threads=2, calls=DEFAULT_CALLS)


# ---- flags over file settings -----------------------------------------------------------------------------


def test_flags_win_over_file_settings(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[tool.optc]\ntarget = "cpu"\nthreads = 8\nverify = true\nsizes = {n = 1000, m = 500}\n',
    )
    config = load_config(
        tmp_path, {"target": "gpu", "threads": 2, "verify": False, "sizes": (("n", 10),), "verbose": 1}
    )
    assert (config.target, config.threads, config.verify, config.verbose) == ("gpu", 2, False, 1)
    assert config.sizes == (("m", 500), ("n", 10))  # merged per dimension, the flag's n wins


def test_flags_not_given_keep_file_settings(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optc]\ntarget = "cpu"\nthreads = 8\n')
    config = load_config(tmp_path, {"target": None, "threads": None, "strict_fp": None})
    assert (config.target, config.threads, config.strict_fp) == ("cpu", 8, False)


def test_strict_fp_flag_beats_file_fastmath_and_back(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\nfastmath = true\n")
    config = load_config(tmp_path, {"strict_fp": True})
    assert (config.strict_fp, config.fastmath) == (True, False)
    write(tmp_path / "pyproject.toml", "[tool.optc]\nstrict-fp = true\n")
    config = load_config(tmp_path, {"fastmath": True})
    assert (config.strict_fp, config.fastmath) == (False, True)


def test_both_fp_flags_contradict(tmp_path):
    with pytest.raises(OptcError, match="--strict-fp and --fastmath"):
        load_config(tmp_path, {"strict_fp": True, "fastmath": True}, config_path=None)


def test_bad_override_values_are_errors_and_unknown_fields_are_bugs(tmp_path):
    with pytest.raises(OptcError, match="threads: expected a positive integer"):
        load_config(tmp_path, {"threads": 0})
    with pytest.raises(TypeError, match="not Config fields: thread"):
        load_config(tmp_path, {"thread": 2})


# ---- per-kernel size profiles -------------------------------------------------------------------------------

MOVING_AVERAGE = ("moving_average", (("n", 2_000_000), ("w", 16)))


def test_sizes_for_overlays_the_kernels_profile_on_the_files():
    config = Config(sizes=(("m", 500), ("n", 1000)), kernel_sizes=(MOVING_AVERAGE,))
    assert config.sizes_for("moving_average") == {"m": 500, "n": 2_000_000, "w": 16}
    assert config.sizes_for("gemm") == {"m": 500, "n": 1000}  # no profile of its own: the file's
    assert config.size_of("n") == 1000  # the file's profile is unchanged
    assert Config().kernel_sizes == () and Config().sizes_for("gemm") == {}


@pytest.mark.parametrize(
    "optc_tables",
    [
        "[tool.optc]\nsizes = { n = 1000, moving_average = { n = 2000000, w = 16 } }\n",
        "[tool.optc.sizes]\nn = 1000\n\n[tool.optc.sizes.moving_average]\nn = 2_000_000\nw = 16\n",
        "[tool.optc]\nsizes.n = 1000\nsizes.moving_average.n = 2000000\nsizes.moving_average.w = 16\n",
        '[tool.optc.sizes]\nn = 1000\n"moving_average.n" = 2000000\n"moving_average.w" = 16\n',
    ],
    ids=["inline", "tables", "dotted", "quoted"],
)
def test_a_table_inside_sizes_is_a_kernels_profile(tmp_path, optc_tables):
    write(tmp_path / "pyproject.toml", optc_tables)
    config = load_config(tmp_path, {})
    assert config.sizes == (("n", 1000),)
    assert config.kernel_sizes == (MOVING_AVERAGE,)


def test_kernel_profiles_are_sorted_and_empty_ones_dropped(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        "[tool.optc]\nsizes = { z = {}, gemm = { p = 3, n = 4 }, b = { w = 1 } }\n",
    )
    config = load_config(tmp_path, {})
    assert config.sizes == ()
    assert config.kernel_sizes == (("b", (("w", 1),)), ("gemm", (("n", 4), ("p", 3))))


@pytest.mark.parametrize(
    ("optc_table", "line", "message"),
    [
        (
            "sizes = { n = 10, moving_average = { w = 0 } }",
            3,
            "sizes: moving_average.w: expected a positive integer, got 0",
        ),
        (
            "sizes = { k = { w = { x = 1 } } }",
            3,
            "sizes: k.w: expected a positive integer, got {'x': 1} (a table)",
        ),
        ("sizes = { k = { w = true } }", 3, "sizes: k.w: expected a positive integer, got True (a boolean)"),
        ('sizes = { k = "big" }', 3, "sizes: k: expected a positive integer, got 'big' (a string)"),
        ('sizes = { k = { "2w" = 1 } }', 3, "sizes: k: size names are identifiers like `n`, got '2w'"),
        ('sizes = { "a.b.c" = 1 }', 3, "sizes: size names are identifiers like `n`, or kernel.symbol"),
        ('sizes = { "k.w" = 1, k = { w = 2 } }', 3, "sizes: k.w is given twice"),
        ("sizes.n = 5\nsizes.k.n = 6\nsizes.k.w = -1", 5, "sizes: k.w: expected a positive integer, got -1"),
    ],
)
def test_kernel_profile_mistakes_name_file_line_and_entry(tmp_path, optc_table, line, message):
    path = write(tmp_path / "pyproject.toml", f"[tool.optc]\ntop-k = 4\n{optc_table}\n")
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{path}:{line}: {message}")


def test_bad_entry_in_a_kernels_own_table_points_at_the_entry(tmp_path):
    path = write(
        tmp_path / "pyproject.toml",
        "[tool.optc.sizes]\nn = 1000\nw = 3\n\n[tool.optc.sizes.moving_average]\nn = 5\nw = 0\n",
    )
    with pytest.raises(OptcError) as info:
        read_settings(path)
    assert str(info.value).startswith(f"{path}:7: sizes: moving_average.w: expected a positive integer")


def test_size_flags_merge_per_kernel_and_symbol(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        "[tool.optc]\nsizes = { n = 1000, m = 5, gemm = { n = 400, m = 400 } }\n",
    )
    config = load_config(tmp_path, {"sizes": parse_sizes("n=10,gemm.m=300,moving_average.w=16")})
    assert config.sizes == (("m", 5), ("n", 10))
    assert config.kernel_sizes == (("gemm", (("m", 300), ("n", 400))), ("moving_average", (("w", 16),)))
    assert config.sizes_for("gemm") == {"m": 300, "n": 400}


def test_kernel_sizes_given_directly_are_validated_and_merged(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\nsizes = { gemm = { n = 400, m = 400 } }\n")
    config = load_config(tmp_path, {"kernel_sizes": {"gemm": {"m": 8}, "blur": (("n", 2),)}})
    assert config.kernel_sizes == (("blur", (("n", 2),)), ("gemm", (("m", 8), ("n", 400))))
    config = load_config(tmp_path, {"kernel_sizes": {"gemm": {"m": 8}}, "sizes": {"gemm": {"p": 9}}})
    assert dict(config.kernel_sizes)["gemm"] == (("m", 8), ("n", 400), ("p", 9))
    with pytest.raises(OptcError, match=r"^command line: kernel-sizes: gemm\.m: expected a positive integer"):
        load_config(tmp_path, {"kernel_sizes": {"gemm": {"m": 0}}})
    with pytest.raises(OptcError, match="kernel-sizes: kernel names are identifiers"):
        load_config(tmp_path, {"kernel_sizes": {"gemm.x": {"m": 1}}})


# ---- --sizes and exclude ------------------------------------------------------------------------------------


def test_parse_sizes():
    assert parse_sizes("n=1000,m=500") == (("m", 500), ("n", 1000))
    assert parse_sizes(" n = 1_000 ") == (("n", 1000),)
    assert parse_sizes("n=1000,moving_average.w=16") == (("moving_average.w", 16), ("n", 1000))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n", "expected name=integer, like n=1000, got 'n'"),
        ("n=", "n: expected a positive integer, got ''"),
        ("n=ten", "n: expected a positive integer, got 'ten'"),
        ("n=0", "n: expected a positive integer, got 0"),
        ("n=1,,m=2", "empty entry"),
        ("n=1,n=2", "n is given twice"),
        ("2n=1", "size names are identifiers like n, or kernel.symbol like moving_average.w, got '2n'"),
        ("a.b.c=1", "size names are identifiers like n, or kernel.symbol like moving_average.w, got 'a.b.c'"),
        ("k.w=0", "k.w: expected a positive integer, got 0"),
        ("k.w=1,k.w=2", "k.w is given twice"),
        ("=5", "expected name=integer"),
    ],
)
def test_parse_sizes_errors(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_sizes(text)


@pytest.mark.parametrize(
    ("relative", "patterns", "expected"),
    [
        ("legacy/k.py", ["legacy/*"], "legacy/*"),
        ("legacy/deep/k.py", ["legacy"], "legacy"),
        ("src/tests/k.py", ["tests"], "tests"),
        ("src/slow_k.py", ["slow_*"], "slow_*"),
        ("src/k.py", ["slow_*", "legacy/*"], None),
        ("src/k.py", [], None),
        ("src/k.py", ["src/*.py"], "src/*.py"),
    ],
)
def test_excluded_by(tmp_path, relative, patterns, expected):
    assert excluded_by(tmp_path / relative, patterns, root=tmp_path) == expected


def test_excluded_by_matches_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert excluded_by(Path("gen/k.py"), ["gen/*"]) == "gen/*"


# ---- the pre-commit hooks' settings ---------------------------------------------------------------------


def test_outputs_and_check_threshold(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.optc]
        outputs = {"src/kernels.py" = "src/kernels_fast.py", "./b.py" = "gen/b.py"}
        check-threshold = 2
        """,
    )
    config = load_config(tmp_path, {})
    assert config.outputs == (("b.py", "gen/b.py"), ("src/kernels.py", "src/kernels_fast.py"))
    assert config.check_threshold == 2.0
    assert load_config(tmp_path, {"check_threshold": 4.5}).check_threshold == 4.5
    assert Config().outputs == () and Config().check_threshold is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('outputs = "a.py"', 'outputs: expected a table like {"src/kernels.py" = "src/kernels_fast.py"}'),
        ('outputs = {"a.py" = "a.txt"}', "outputs: output files are Python paths"),
        ('outputs = {"a.py" = "b.py", "b.py" = "c.py"}', "outputs: b.py is both an input and an output"),
        ('outputs = {"a.py" = "c.py", "b.py" = "c.py"}', "outputs: c.py is the output of more than one"),
        ('outputs = {"a.py" = "b.py", "./a.py" = "c.py"}', "outputs: ./a.py is given twice"),
        ("check-threshold = 0.5", "check-threshold: expected a speed-up of at least 1"),
        ('check-threshold = "2x"', "check-threshold: expected a speed-up of at least 1"),
    ],
)
def test_hook_setting_mistakes_name_file_line(tmp_path, setting, message):
    path = write(tmp_path / "pyproject.toml", f"[tool.optc]\ntop-k = 4\n{setting}\n")
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{path}:3: {message}")


# ---- expected calls: how often a kernel runs, against its compile time ----------------------------------


def test_calls_for_every_kernel_and_per_kernel(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\ncalls = 50\n")
    config = load_config(tmp_path, {})
    assert config.calls == 50 and config.kernel_calls == () and config.calls_for("smooth") == 50
    write(tmp_path / "pyproject.toml", '[tool.optc.calls]\n"*" = 20\nsmooth = 3\n')
    config = load_config(tmp_path, {})
    assert config.calls_for("smooth") == 3 and config.calls_for("other") == 20
    # a table without "*" keeps the default for the kernels it does not name
    write(tmp_path / "pyproject.toml", "[tool.optc]\ncalls = {smooth = 3}\n")
    assert load_config(tmp_path, {}).calls_for("other") == DEFAULT_CALLS


def test_calls_default_is_for_settings_only_not_for_config_built_in_code(tmp_path):
    # `@optimize` builds its Config in code: it weighs no compile time unless told a count
    assert Config().calls is None and Config().calls_for("k") is None
    assert load_config(tmp_path, {}).calls == DEFAULT_CALLS


def test_calls_flag_merges_per_kernel_like_sizes(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.optc]\ncalls = {'*' = 20, smooth = 3, relax = 9}\n")
    config = load_config(tmp_path, {"calls": parse_calls("7,smooth=100")})
    assert config.calls == 7 and dict(config.kernel_calls) == {"smooth": 100, "relax": 9}
    assert load_config(tmp_path, {"calls": parse_calls("smooth=1")}).calls == 20


def test_parse_calls_forms_and_one_line_mistakes():
    assert parse_calls("1000") == (("*", 1000),)
    assert parse_calls("1000, smooth=3") == (("*", 1000), ("smooth", 3))
    for text, message in [
        ("ten", "calls: expected a positive integer, got 'ten'"),
        ("0", "calls: expected a positive integer, got 0"),
        ("smooth=-1", "smooth: expected a positive integer, got -1"),
        ("a.b=3", "expected a count like 1000, or kernel=count like smooth=3, got 'a.b=3'"),
        ("3,4", "the count for every kernel is given twice"),
        ("smooth=3,", "empty entry in 'smooth=3,'"),
    ]:
        with pytest.raises(ValueError) as info:
            parse_calls(text)
        assert str(info.value).startswith(message), (text, str(info.value))


@pytest.mark.parametrize(
    ("setting", "line", "message"),
    [
        ("calls = 0", 3, "calls: expected a positive integer, got 0 (an integer)"),
        ("calls = 2.5", 3, "calls: expected a table like"),
        ("calls = true", 3, "calls: expected a table like"),
        ("[tool.optc.calls]\nsmooth = 'often'", 4, "calls: smooth: expected a positive integer"),
        ("[tool.optc.calls]\n'a.b' = 3", 4, "calls: keys are kernel names like `smooth`"),
    ],
)
def test_calls_mistakes_name_file_line(tmp_path, setting, line, message):
    path = write(tmp_path / "pyproject.toml", f"[tool.optc]\ntop-k = 4\n{setting}\n")
    with pytest.raises(OptcError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{path}:{line}: {message}"), str(info.value)
