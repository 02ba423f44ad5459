"""The content-addressed cache: where it lives, what its key covers, entries that cannot be trusted."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import optcompiler
from optcompiler import cache
from optcompiler.frontend import lift_function

# ---- location ------------------------------------------------------------------------------------------


def test_root_is_the_env_var_else_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "here"))
    assert cache.cache_root() == tmp_path / "here"
    monkeypatch.delenv("OPTC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "optc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "optc"
    package = Path(optcompiler.__file__).resolve().parent
    assert package not in cache.cache_root().resolve().parents


# ---- the key -------------------------------------------------------------------------------------------


def _parts(**changes: object) -> cache.KeyParts:
    parts = cache.KeyParts(
        ir="ir",
        globals=(("SCALE", "float 2.0"),),
        signature="sig",
        options="opts",
        hardware="hw",
        versions=(("optc", "0"),),
    )
    return replace(parts, **changes)  # type: ignore[arg-type]


def test_key_is_stable_and_covers_every_part() -> None:
    base = _parts().key()
    assert base == _parts().key() and len(base) == 64
    for change in (
        {"ir": "ir2"},
        {"globals": (("SCALE", "float 3.0"),)},
        {"signature": "sig2"},
        {"options": "opts2"},
        {"hardware": "hw2"},
        {"versions": (("optc", "1"),)},
    ):
        assert _parts(**change).key() != base, change


def test_versions_name_optc_numba_numpy_python() -> None:
    names = dict(cache.versions())
    assert set(names) >= {"optc", "numba", "llvmlite", "numpy", "python"}
    assert names["optc"] == optcompiler.__version__


FORMATTED = '''
def colsum(X):
    """Column sums."""
    n, m = X.shape
    out = np.zeros(m)
    for j in range(m):
        for i in range(n):
            out[j] += X[i, j] * SCALE
    return out
'''

REFORMATTED = """
def colsum( X ):
    # the same kernel, reformatted, commented, with another docstring
    "Sums of columns."
    n , m = X.shape
    out = np.zeros( m )
    for j in range( 0, m ):
        for i in range(n):   # inner
            out[ j ] += (X[i, j] * SCALE)
    return out
"""


def _digest(source: str) -> str:
    kernel = lift_function(textwrap.dedent(source), "k.py")
    return cache.ir_digest(kernel.name, kernel.params, kernel.body)


def test_ir_digest_ignores_formatting_comments_and_docstrings() -> None:
    assert _digest(FORMATTED) == _digest(REFORMATTED)
    assert _digest(FORMATTED) != _digest(FORMATTED.replace("X[i, j] * SCALE", "X[i, j] + SCALE"))
    assert _digest(FORMATTED) != _digest(FORMATTED.replace("def colsum(X)", "def colsum(X, Y=1.0)"))


SCALE = 2.0


def _helper(x: float) -> float:
    return x * SCALE


def test_fingerprints_distinguish_what_changes_results() -> None:
    fp = cache.fingerprint
    assert fp(2.0) == fp(2.0)
    assert len({fp(1), fp(1.0), fp(True), fp("1"), fp(np.float32(1.0))}) == 5
    assert fp((1, 2.0)) != fp((1, 2))
    assert fp(np.arange(3.0)) == fp(np.arange(3.0))
    assert fp(np.arange(3.0)) != fp(np.arange(1.0, 4.0))
    assert fp(np.arange(3.0)) != fp(np.arange(3.0).astype(np.float32))
    assert fp(np) == "module numpy"


def test_a_function_is_fingerprinted_by_source_and_what_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache.fingerprint(_helper)
    assert "return x * SCALE" in before
    monkeypatch.setitem(globals(), "SCALE", 3.0)
    assert cache.fingerprint(_helper) != before


def test_referenced_globals_skip_builtins_and_record_unbound_names() -> None:
    namespace = {"SCALE": 2.0, "np": np}
    found = dict(cache.referenced_globals(["SCALE", "np", "range", "missing"], namespace))
    assert found == {"SCALE": "float 2.0", "np": "module numpy", "missing": "unbound"}


# ---- entries -------------------------------------------------------------------------------------------

MODULE = "import numba\n\n\n@numba.njit(cache=True)\ndef _k_v1(x):\n    return x\n"


def _variant(key: str = "ab" * 32) -> cache.Entry:
    return cache.Entry(
        key=key,
        kernel="k",
        outcome="variant",
        signature="x: float64 1-D C array",
        variant_source="def _k_v1(x):\n    return x\n",
        module_file="_optc_k.py",
        guard="_k_guard",
        alias_pairs=(("x", "y"),),
        target="njit",
        derivation=("loops.licm",),
        why=("hoisted",),
        predicted_speedup=2.0,
        measured_speedup=1.5,
        measured_at="n=10",
        verified="matched on 10 input sets",
        build_seconds=3.0,
    )


def test_store_then_load_round_trips(tmp_path: Path) -> None:
    stored = cache.store(tmp_path, _variant(), MODULE)
    loaded = cache.load(tmp_path, stored.key)
    assert loaded == stored
    assert isinstance(loaded, cache.Entry)
    assert loaded.module_path.read_text() == MODULE
    assert loaded.created and loaded.optc_version == optcompiler.__version__
    assert Path(loaded.path) == cache.entry_dir(tmp_path, stored.key) / cache.ENTRY_FILE
    assert not list(tmp_path.rglob("*.optc-tmp"))  # atomic writes leave nothing behind


def test_a_fallback_needs_no_module(tmp_path: Path) -> None:
    entry = cache.Entry(key="cd" * 32, kernel="k", outcome="fallback", signature="s", reason="no loops")
    stored = cache.store(tmp_path, entry)
    assert cache.load(tmp_path, entry.key) == stored


def test_missing_entry(tmp_path: Path) -> None:
    assert isinstance(cache.load(tmp_path, "ef" * 32), cache.Missing)


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda e: Path(e.path).write_text("{not json"), "bad JSON"),
        (lambda e: Path(e.path).write_text("[1, 2]"), "format"),
        (
            lambda e: Path(e.path).write_text(Path(e.path).read_text().replace('"ab', '"ba', 1)),
            "key mismatch",
        ),
        (lambda e: e.module_path.unlink(), "missing"),
        (lambda e: e.module_path.write_text(MODULE + "# edited\n"), "does not match"),
        (
            lambda e: Path(e.path).write_text(json.dumps({**json.loads(Path(e.path).read_text()), "x": 1})),
            "fields",
        ),
    ],
)
def test_corrupt_entries_are_told_apart_from_missing_ones(tmp_path: Path, damage, why: str) -> None:
    stored = cache.store(tmp_path, _variant(), MODULE)
    damage(stored)
    found = cache.load(tmp_path, stored.key)
    assert isinstance(found, cache.Corrupt), found
    assert why in found.why


def test_lift_memo_round_trips_and_forgets_unreadable_files(tmp_path: Path) -> None:
    digest = cache.text_digest("def f(x):\n    return x\n")
    assert digest != cache.text_digest("def f(x):\n    return x  # changed\n")
    assert cache.load_lifted(tmp_path, digest) is None
    lifted = cache.Lifted(ir="abc", reads=("SCALE", "np"))
    cache.store_lifted(tmp_path, digest, lifted)
    assert cache.load_lifted(tmp_path, digest) == lifted
    (tmp_path / "lift" / f"{digest}.json").write_text("garbage")
    assert cache.load_lifted(tmp_path, digest) is None


# ---- stamps on generated outputs, remembered --check results ---------------------------------------------


def test_a_stamp_tells_fresh_stale_edited_and_unstamped_apart() -> None:
    from optcompiler.config import Config

    settings = cache.settings_text(Config())
    output = cache.with_stamp("x = 1\n", b"source", settings)
    assert output.startswith("x = 1\n# optc-stamp: ") and output.endswith("\n")
    assert cache.stamp_status(output, b"source", settings) == "fresh"
    assert cache.stamp_status(output, b"source edited", settings) == "stale"
    assert cache.stamp_status(output, b"source", cache.settings_text(Config(strict_fp=True))) == "stale"
    assert cache.stamp_status(output.replace("x = 1", "x = 2"), b"source", settings) == "edited"
    assert cache.stamp_status(output + "y = 2\n", b"source", settings) == "edited"
    assert cache.stamp_status("x = 1\n", b"source", settings) == "unstamped"
    assert cache.stamp_status(cache.with_stamp("", b"", settings), b"", settings) == "fresh"


def test_settings_text_leaves_out_what_does_not_change_the_output() -> None:
    from optcompiler.config import Config

    base = cache.settings_text(Config())
    assert base == cache.settings_text(
        Config(verbose=2, threads=1, check_threshold=3.0, outputs=(("a.py", "b.py"),))
    )
    assert base != cache.settings_text(Config(sizes=(("n", 10),)))


def test_results_round_trip_and_unreadable_ones_are_none(tmp_path: Path) -> None:
    key = cache.result_key(b"def f(): pass\n", "settings")
    assert key != cache.result_key(b"def f(): pass\n", "other settings")
    assert cache.load_result(tmp_path, key) is None
    cache.store_result(tmp_path, key, {"changed": False, "kernels": []})
    assert cache.load_result(tmp_path, key) == {"changed": False, "kernels": []}
    next((tmp_path / "results").rglob("*.json")).write_text("{not json")
    assert cache.load_result(tmp_path, key) is None


# ---- the cost model in the keys ---------------------------------------------------------------------------


def _calibrate(hardware_id: str, text: str) -> Path:
    """What `optc calibrate` leaves behind: a model file for this machine in the user cache."""
    path = cache.cost_model_paths(hardware_id)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_calibration_changes_every_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Decisions made with one cost model are not served once another ranks: `@optimize`'s entries
    and `--check`'s results are keyed by the model files of the machine (or "analytic")."""
    from optcompiler.costmodel.hardware import detect

    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("OPTC_COST_MODEL", raising=False)
    hardware_id = detect().id
    if any(p.exists() for p in cache.cost_model_paths(hardware_id)):  # a shipped model for this machine
        monkeypatch.setattr(cache, "cost_model_paths", lambda h, shipped=None: [tmp_path / f"{h}.txt"])
    source = b"def f(x):\n    for i in range(3):\n        x[i] = 0\n"

    def _parts(hardware: str) -> cache.KeyParts:  # made afresh, as the decorator makes it per call
        return cache.KeyParts("ir", (), "sig", "opts", hardware, (("optc", "0"),))

    before = (_parts(hardware=hardware_id).key(), cache.result_key(source, "settings"))
    assert _parts(hardware=hardware_id).cost_model == "analytic"

    model_file = _calibrate(hardware_id, "# a model\n")
    first = (_parts(hardware=hardware_id).key(), cache.result_key(source, "settings"))
    assert first[0] != before[0] and first[1] != before[1]
    assert _parts(hardware=hardware_id).cost_model.startswith("learned ")
    assert first == (_parts(hardware=hardware_id).key(), cache.result_key(source, "settings"))  # stable

    model_file.write_text("# a recalibrated model\n", encoding="utf-8")  # same size class, new contents
    second = (_parts(hardware=hardware_id).key(), cache.result_key(source, "settings"))
    assert second[0] not in (before[0], first[0]) and second[1] not in (before[1], first[1])

    monkeypatch.setenv("OPTC_COST_MODEL", "analytic")  # the learned model turned off: as before
    assert (_parts(hardware=hardware_id).key(), cache.result_key(source, "settings")) == before


def test_the_keys_and_the_pipeline_read_the_same_model_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from optcompiler.costmodel import model

    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path))
    assert model.model_paths("abc123") == cache.cost_model_paths("abc123")
    assert cache.cost_model_paths("abc123")[0].is_relative_to(tmp_path)
