"""Measurement records: JSONL round trips, gzip appends, schema checks, resumption keys, splits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from optcompiler.costmodel import dataset
from optcompiler.costmodel.dataset import Record


def _record(kernel: str = "k", cid: str = "c1", size: int = 10, **kw) -> Record:
    fields = {
        "kernel": kernel,
        "candidate_id": cid,
        "target": "njit",
        "derivation": ("loops.licm",),
        "size": size,
        "sizes": {"n": size},
        "status": "ok",
        "seconds_min": 1.0e-3,
        "seconds_median": 1.2e-3,
        "times": (1.0e-3, 1.2e-3, 1.3e-3, 1.1e-3),
        "threads": 2,
        "hardware_id": "hw",
    }
    fields.update(kw)
    return Record(**fields)


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_records_round_trip_through_appends(tmp_path: Path, name: str) -> None:
    path = tmp_path / "sub" / name
    first, second = _record(size=10), _record(size=20, status="too_slow", times=(2.0,))
    assert dataset.append(path, [first]) == 1
    assert dataset.append(path, [second]) == 1  # a second append keeps the first
    assert dataset.append(path, []) == 0
    assert list(dataset.read(path)) == [first, second]


def test_gzip_file_holds_one_member_per_append(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    dataset.append(path, [_record(size=1)])
    size_after_one = path.stat().st_size
    dataset.append(path, [_record(size=2)])
    assert path.read_bytes()[:size_after_one] == gzip.compress(
        (json.dumps(dataset.to_json(_record(size=1)), sort_keys=True) + "\n").encode(), mtime=0
    )
    assert [r.size for r in dataset.read(path)] == [1, 2]


def test_noise_and_spread() -> None:
    r = _record(times=(1.0, 2.0, 3.0, 4.0, 5.0))
    assert r.noise == pytest.approx((3.0 - 1.0) / 1.0)
    assert r.spread == pytest.approx((4.0 - 2.0) / 3.0)
    assert _record(times=(1.0,)).noise is None
    assert _record(times=(1.0, 2.0)).spread is None
    stored = dataset.to_json(r)
    assert stored["noise"] == r.noise and stored["spread"] == r.spread


def test_other_schema_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    dataset.append(path, [_record()])
    data = dataset.to_json(_record(size=99))
    data["schema"] = 999
    with path.open("a") as f:
        f.write(json.dumps(data) + "\n")
    with pytest.raises(dataset.DatasetError, match=r"r\.jsonl:2: record schema 999"):
        list(dataset.read(path))


def test_torn_last_line_is_skipped_but_a_bad_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    dataset.append(path, [_record(size=1), _record(size=2)])
    with path.open("a") as f:
        f.write('{"kernel": "k", "cand')
    assert [r.size for r in dataset.read(path)] == [1, 2]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "not json", lines[1]]) + "\n")
    with pytest.raises(dataset.DatasetError, match=r"r\.jsonl:2: not a JSON record"):
        list(dataset.read(path))


def test_a_truncated_gzip_member_keeps_the_complete_ones(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    dataset.append(path, [_record(size=1)])
    first = path.stat().st_size
    dataset.append(path, [_record(size=2)])
    raw = path.read_bytes()
    path.write_bytes(raw[: first + (len(raw) - first) // 2])  # the last member cut short, as by a kill
    assert [r.size for r in dataset.read(path)] == [1]
    path.write_bytes(raw[:-4])  # only the trailer lost: its record is whole and still read
    assert [r.size for r in dataset.read(path)] == [1, 2]


def test_record_lacking_fields_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"schema": dataset.SCHEMA_VERSION, "kernel": "k"}) + "\n\n")
    with pytest.raises(dataset.DatasetError, match="lacks candidate_id, size, status, target"):
        list(dataset.read(path))


def test_done_keys_and_retry_failed(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    assert dataset.done_keys(path) == set()
    ok, failed = _record(size=1), _record(size=2, status="timeout", seconds_min=None, times=())
    dataset.append(path, [ok, failed])
    assert dataset.done_keys(path) == {ok.key, failed.key}
    assert dataset.done_keys(path, retry_failed=True) == {ok.key}
    assert ok.key == ("k", "c1", 1, 2, "hw")


def test_latest_and_groups() -> None:
    old = _record(cid="a", seconds_min=5.0)
    new = _record(cid="a", seconds_min=1.0)
    other = _record(cid="b", seconds_min=2.0)
    failed = _record(cid="c", status="compile_error", seconds_min=None, times=())
    elsewhere = _record(cid="a", size=20)
    assert dataset.latest([old, new]) == [new]
    groups = dataset.groups([old, new, other, failed, elsewhere])
    assert {k: sorted(r.candidate_id for r in v) for k, v in groups.items()} == {
        ("k", 10, "hw", 2): ["a", "b"],
        ("k", 20, "hw", 2): ["a"],
    }
    assert groups[("k", 10, "hw", 2)][0].seconds_min == 1.0


def test_kernel_folds_hold_every_kernel_out_once() -> None:
    names = [f"k{i:02d}" for i in range(11)]
    folds = dataset.kernel_folds(names + names[:3], 4)
    assert len(folds) == 4
    tests = [test for _, test in folds]
    assert sorted(n for t in tests for n in t) == sorted(names)
    for train, test in folds:
        assert not train & test and train | test == set(names)
        assert 2 <= len(test) <= 3
    # contiguous runs of the sorted names: alike names are held out together
    assert tests[0] == frozenset({"k00", "k01", "k02"})
    with pytest.raises(ValueError, match="need 2 <= k"):
        dataset.kernel_folds(names, 1)
    with pytest.raises(ValueError, match="need 2 <= k"):
        dataset.kernel_folds(names[:2], 3)
