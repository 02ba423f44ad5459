"""What this machine is, as the cost model needs it: cores, caches, SIMD width, clock, bandwidth, GPU.

The descriptor is both a set of model features (a model trained on one machine is told what it ran
on) and part of every cache key (a variant chosen for one machine is not reused on another).
`detect()` reads Linux's /proc and /sys only: no benchmark runs at import time and nothing here
raises; every field has a fallback, so an unusual machine gets a plausible descriptor rather than an
error. `optc calibrate` may later replace the estimated figures (bandwidth) by measured ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

# Fallbacks: a typical recent x86 server core.
DEFAULT_L1D_BYTES = 32 * 1024
DEFAULT_L2_BYTES = 1024 * 1024
DEFAULT_L3_BYTES = 8 * 1024 * 1024
DEFAULT_FREQ_GHZ = 2.5
DRAM_GBS_PER_CORE = 12.0  # what one core streams from DRAM, roughly; sockets saturate at a few cores
DRAM_SATURATING_CORES = 4

_CPUINFO = Path("/proc/cpuinfo")
_CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")
_CPUFREQ_DIR = Path("/sys/devices/system/cpu/cpu0/cpufreq")
_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class Hardware:
    """A CPU (and optional GPU) as the analytic and learned cost models see it."""

    cpu_model: str
    cores: int  # usable cores: the process's CPU affinity, not the machine's total
    l1d_bytes: int
    l2_bytes: int
    l3_bytes: int
    simd_bytes: int  # vector register width: 64 with avx512f, 32 with avx2, else 16
    freq_ghz: float  # nominal clock
    mem_bandwidth_gbs: float  # sustainable DRAM bandwidth of one socket (an estimate unless calibrated)
    gpu: str | None = None  # name of a visible GPU, None when there is none

    @property
    def id(self) -> str:
        """Short stable hash of every field: the hardware part of cache keys and measurement records."""
        payload = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    def as_features(self) -> dict[str, float]:
        """Numeric model features, in a fixed order; cache sizes in KiB so magnitudes stay comparable."""
        return {
            "hw_cores": float(self.cores),
            "hw_l1d_kib": self.l1d_bytes / 1024,
            "hw_l2_kib": self.l2_bytes / 1024,
            "hw_l3_kib": self.l3_bytes / 1024,
            "hw_simd_bytes": float(self.simd_bytes),
            "hw_freq_ghz": float(self.freq_ghz),
            "hw_mem_bandwidth_gbs": float(self.mem_bandwidth_gbs),
            "hw_has_gpu": 0.0 if self.gpu is None else 1.0,
        }


@functools.cache
def detect() -> Hardware:
    """Describe this machine; cached for the process, never raises."""
    info = _cpuinfo_fields()
    cores = _usable_cores()
    caches = _cache_sizes()
    return Hardware(
        cpu_model=info.get("model name") or info.get("Model") or info.get("cpu model") or "unknown",
        cores=cores,
        l1d_bytes=caches.get("l1d", DEFAULT_L1D_BYTES),
        l2_bytes=caches.get("l2", DEFAULT_L2_BYTES),
        l3_bytes=caches.get("l3", DEFAULT_L3_BYTES),
        simd_bytes=_simd_bytes(info.get("flags") or info.get("Features") or ""),
        freq_ghz=_nominal_freq_ghz(info),
        mem_bandwidth_gbs=estimate_mem_bandwidth_gbs(cores),
        gpu=_visible_gpu(),
    )


def estimate_mem_bandwidth_gbs(cores: int) -> float:
    """DRAM bandwidth without a benchmark: a core streams ~10 GB/s and a socket saturates at a few cores."""
    return DRAM_GBS_PER_CORE * max(1, min(cores, DRAM_SATURATING_CORES))


def parse_size(text: str) -> int | None:
    """Parse sysfs cache sizes such as '32K', '1024K', '32M' (or a plain byte count)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, flags=re.IGNORECASE)
    if match is None:
        return None
    scale = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match.group(2).upper()]
    return int(match.group(1)) * scale


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _cpuinfo_fields() -> dict[str, str]:
    """The first processor's 'key: value' lines of /proc/cpuinfo (empty when unreadable)."""
    fields: dict[str, str] = {}
    text = _read(_CPUINFO) or ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # one processor block is enough
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cache_sizes() -> dict[str, int]:
    """L1d/L2/L3 sizes from cpu0's sysfs cache descriptors; levels it cannot read are left out."""
    sizes: dict[str, int] = {}
    try:
        entries = sorted(_CACHE_DIR.glob("index*"))
    except OSError:
        return sizes
    for entry in entries:
        level = (_read(entry / "level") or "").strip()
        kind = (_read(entry / "type") or "").strip()
        size = parse_size(_read(entry / "size") or "")
        if size is None or not size:
            continue
        if level == "1" and kind == "Data":
            sizes["l1d"] = size
        elif level == "2" and kind in ("Unified", "Data"):
            sizes["l2"] = size
        elif level == "3" and kind in ("Unified", "Data"):
            sizes["l3"] = size
    return sizes


def _simd_bytes(flags: str) -> int:
    words = set(flags.split())
    if "avx512f" in words:
        return 64
    if "avx2" in words:
        return 32
    return 16  # SSE2 on x86-64, NEON/ASIMD on arm64


def _nominal_freq_ghz(info: dict[str, str]) -> float:
    """Nominal clock: the model name's '@ 2.50GHz', else cpufreq's base or max, else cpuinfo's current MHz.

    The current MHz (cpuinfo) drifts with load and power states, so it is the last resort.
    """
    match = re.search(r"@\s*([\d.]+)\s*GHz", info.get("model name", ""))
    candidates: list[float] = []
    if match:
        candidates.append(_to_float(match.group(1)))
    for name in ("base_frequency", "cpuinfo_max_freq"):
        khz = _to_float((_read(_CPUFREQ_DIR / name) or "").strip())
        candidates.append(khz / 1e6)
    candidates.append(_to_float(info.get("cpu MHz", "")) / 1e3)
    for ghz in candidates:
        if 0.2 <= ghz <= 10.0:
            return round(ghz, 3)
    return DEFAULT_FREQ_GHZ


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _visible_gpu() -> str | None:
    """Name of the first visible NVIDIA GPU, without initializing CUDA when the driver's /proc says it.

    Asking numba (`cuda.is_available`) creates a CUDA context, which costs ~100 ms and memory; it is
    only the fallback when a driver is loaded but /proc does not name the device.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return None
    if not _NVIDIA_GPUS.exists() and not Path("/dev/nvidia0").exists():
        return None
    try:
        for info_file in sorted(_NVIDIA_GPUS.glob("*/information")):
            for line in (_read(info_file) or "").splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "Model" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return _numba_gpu_name()


def _numba_gpu_name() -> str | None:
    try:
        from numba import cuda  # imported lazily: it is heavy and optional

        if not cuda.is_available():
            return None
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # any driver or import failure means: no usable GPU
        return None
