"""Hardware detection never fails and describes this machine plausibly."""

from __future__ import annotations

import dataclasses
import os

import pytest

from optcompiler.costmodel import hardware
from optcompiler.costmodel.hardware import Hardware, detect, parse_size

SAMPLE = Hardware(
    cpu_model="Test CPU",
    cores=8,
    l1d_bytes=32 * 1024,
    l2_bytes=1024 * 1024,
    l3_bytes=32 * 1024 * 1024,
    simd_bytes=32,
    freq_ghz=3.0,
    mem_bandwidth_gbs=40.0,
)


def test_detect_gives_sane_values():
    hw = detect()
    assert isinstance(hw, Hardware)
    assert hw.cpu_model
    assert 1 <= hw.cores <= (os.cpu_count() or hw.cores)
    assert 4 * 1024 <= hw.l1d_bytes <= hw.l2_bytes
    assert hw.l3_bytes > 0
    assert hw.simd_bytes in (16, 32, 64)
    assert 0.2 <= hw.freq_ghz <= 10.0
    assert hw.mem_bandwidth_gbs > 0
    assert hw.gpu is None or isinstance(hw.gpu, str)


def test_detect_is_cached():
    assert detect() is detect()


def test_detect_falls_back_when_proc_and_sys_are_missing(monkeypatch, tmp_path):
    missing = tmp_path / "missing"
    monkeypatch.setattr(hardware, "_CPUINFO", missing / "cpuinfo")
    monkeypatch.setattr(hardware, "_CACHE_DIR", missing / "cache")
    monkeypatch.setattr(hardware, "_CPUFREQ_DIR", missing / "cpufreq")
    monkeypatch.setattr(hardware, "_NVIDIA_GPUS", missing / "gpus")
    monkeypatch.setattr(hardware.os, "sched_getaffinity", _raise_os_error, raising=False)
    hw = hardware.detect.__wrapped__()
    assert hw.cpu_model == "unknown"
    assert hw.cores >= 1
    assert hw.l1d_bytes == hardware.DEFAULT_L1D_BYTES
    assert hw.l2_bytes == hardware.DEFAULT_L2_BYTES
    assert hw.l3_bytes == hardware.DEFAULT_L3_BYTES
    assert hw.simd_bytes == 16
    assert hw.freq_ghz == hardware.DEFAULT_FREQ_GHZ


def test_detect_reads_cpuinfo_and_sysfs(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\n"
        "cpu MHz\t\t: 3900.000\nflags\t\t: fpu sse2 avx avx2 avx512f\n\n"
        "processor\t: 1\nmodel name\t: other\n"
    )
    cache = tmp_path / "cache"
    for index, (level, kind, size) in enumerate(
        [
            ("1", "Data", "48K"),
            ("1", "Instruction", "32K"),
            ("2", "Unified", "1280K"),
            ("3", "Unified", "30M"),
        ]
    ):
        folder = cache / f"index{index}"
        folder.mkdir(parents=True)
        (folder / "level").write_text(level + "\n")
        (folder / "type").write_text(kind + "\n")
        (folder / "size").write_text(size + "\n")
    monkeypatch.setattr(hardware, "_CPUINFO", cpuinfo)
    monkeypatch.setattr(hardware, "_CACHE_DIR", cache)
    monkeypatch.setattr(hardware, "_CPUFREQ_DIR", tmp_path / "nope")
    hw = hardware.detect.__wrapped__()
    assert hw.cpu_model.startswith("Intel(R) Xeon(R) Gold 6230")
    assert hw.simd_bytes == 64
    assert hw.freq_ghz == pytest.approx(2.1)  # nominal from the model name, not the turbo MHz
    assert (hw.l1d_bytes, hw.l2_bytes, hw.l3_bytes) == (48 * 1024, 1280 * 1024, 30 * 1024**2)


def test_no_gpu_when_cuda_devices_are_hidden(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert hardware._visible_gpu() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32K", 32 * 1024),
        ("1024K", 1024**2),
        ("32M", 32 * 1024**2),
        ("512", 512),
        ("1G", 1024**3),
        ("x", None),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_id_is_stable_and_covers_every_field():
    assert SAMPLE.id == dataclasses.replace(SAMPLE).id
    assert len(SAMPLE.id) == 12
    for name, value in [("cores", 4), ("l2_bytes", 2 * 1024**2), ("gpu", "H100"), ("freq_ghz", 3.1)]:
        assert dataclasses.replace(SAMPLE, **{name: value}).id != SAMPLE.id


def test_as_features_is_numeric_and_ordered():
    features = SAMPLE.as_features()
    assert list(features) == [
        "hw_cores",
        "hw_l1d_kib",
        "hw_l2_kib",
        "hw_l3_kib",
        "hw_simd_bytes",
        "hw_freq_ghz",
        "hw_mem_bandwidth_gbs",
        "hw_has_gpu",
    ]
    assert all(isinstance(v, float) for v in features.values())
    assert features["hw_l1d_kib"] == 32.0
    assert features["hw_has_gpu"] == 0.0
    assert dataclasses.replace(SAMPLE, gpu="H100").as_features()["hw_has_gpu"] == 1.0


def test_bandwidth_estimate_saturates():
    assert hardware.estimate_mem_bandwidth_gbs(1) < hardware.estimate_mem_bandwidth_gbs(4)
    assert hardware.estimate_mem_bandwidth_gbs(64) == hardware.estimate_mem_bandwidth_gbs(4)


def _raise_os_error(_pid):
    raise OSError("no affinity here")
