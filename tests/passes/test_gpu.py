"""The CUDA lowering (passes/gpu.py): generated wrappers compute exactly what CPython computes.

Each lowered kernel runs on numba-cuda's simulator against the original under CPython, on
non-square shapes that no block size divides, and must return bit-identical values and leave its
arguments bit-identically mutated. The simulator is switched on by `NUMBA_ENABLE_CUDASIM=1`, which
numba-cuda reads once, at import; so it runs in a child process (this file run as a script), and
the rest of the suite never sees a simulated `numba.cuda`. Refusals need no CUDA at all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from optcompiler.analysis import analyze
from optcompiler.frontend import lift_function
from optcompiler.passes import gpu

SOURCE = '''
import math

import numpy as np


def jacobi2d(u):
    """One Jacobi sweep, columns outside (as examples/kernels.py writes it); a fresh result."""
    n, m = u.shape
    out = u.copy()
    for j in range(1, m - 1):
        for i in range(1, n - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out


def jacobi_into(A, B):
    n, m = A.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            B[i, j] = 0.2 * (A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])


def axpy(a: float, x, y):
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def row_scale(A, d):
    n, m = A.shape
    for i in range(n):
        s = 1.0 / d[i]
        for j in range(m):
            A[i, j] *= s


def gemm(A, B):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                C[i, j] += A[i, k] * B[k, j]
    return C


def gemm_local(A, B, C):
    n, m = A.shape
    p = B.shape[1]
    for i in range(n):
        for j in range(p):
            acc = 0.0
            for k in range(m):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc


def gemm_tn(A, B):
    """A transposed: its tile is loaded along its rows (k) and read across them."""
    m, n = A.shape
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            s = 0.0
            for k in range(m):
                s += A[k, i] * B[k, j]
            C[i, j] = s
    return C


def row_norms(A):
    n, m = A.shape
    norms = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * A[i, j]
        norms[i] = math.sqrt(s)
    return norms


def two_passes(x, y):
    n = x.shape[0]
    t = np.empty_like(x)
    for i in range(n):
        t[i] = 2.0 * x[i] - 1.0
    c = t[0] + y[n - 1]
    for j in range(n):
        y[j] = t[n - 1 - j] * c + y[j]
    return t


def jacobi_steps(u, steps: int):
    """Time steps: the loop over t stays on the host; u and v stay on the device throughout."""
    n, m = u.shape
    v = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        for p in range(1, n - 1):
            for q in range(1, m - 1):
                u[p, q] = 0.25 * (v[p - 1, q] + v[p + 1, q] + v[p, q - 1] + v[p, q + 1])
    return v


def sum_squares(x):
    """A float sum: the GPU adds it per block and atomically across blocks (reassociated)."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def count_positive(x, offset: int):
    """An int sum, with `continue` and a `-=`: exact in any order."""
    c = offset
    for i in range(x.shape[0]):
        if x[i] <= 0.0:
            continue
        c += 1
        c -= i % 2
    return c


def energy_and_scale(A, y):
    """A 2-D nest with a reduction over its outer loop (a 1-D grid) beside a parallel store."""
    n, m = A.shape
    e = 1.5
    for i in range(n):
        for j in range(m):
            e -= A[i, j] * y[j]
        y2 = A[i, 0] * 2.0
        A[i, 0] = y2
    return e


def wave_steps(u0: np.ndarray, u1: np.ndarray, steps: int, courant: float):
    """Three buffers rotated each step and single-element boundary stores: all stay on the device."""
    n = u0.shape[0]
    prev = u0.copy()
    cur = u1.copy()
    nxt = np.zeros(n)
    c2 = courant * courant
    for _ in range(steps):
        nxt[0] = cur[0]
        nxt[n - 1] = cur[n - 1] * 0.5
        for i in range(1, n - 1):
            nxt[i] = 2.0 * cur[i] - prev[i] + c2 * (cur[i + 1] - 2.0 * cur[i] + cur[i - 1])
        prev, cur, nxt = cur, nxt, prev
    return cur


def heat_swap(u, steps: int, alpha: float):
    """Ping-pong buffers of a 2-D heat equation; `a` is the result (either allocation, by parity)."""
    n, m = u.shape
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = a[i, j] + alpha * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j])
        a, b = b, a
    return a


def relax_reused_index(u, steps: int, alpha: float):
    """Consecutive nests reuse the loop variable `i`: each is still parallel."""
    n = u.shape[0]
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            b[i] = a[i] + alpha * (a[i - 1] - 2.0 * a[i] + a[i + 1])
        for i in range(1, n - 1):
            a[i] = b[i]
    return a


def rms_rows32(X: np.ndarray[np.float32], eps: float):
    """float32 in NumPy's kinds: `s` is a Python float, then a float32; `inv` a Python float."""
    n, m = X.shape
    out = np.empty_like(X)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += X[i, j] * X[i, j]
        inv = 1.0 / math.sqrt(s / m + eps)
        for j in range(m):
            out[i, j] = X[i, j] * inv
    return out


def blend_clip32(x: np.ndarray[np.float32], y: np.ndarray[np.float32], alpha: float, k: int):
    """Weak scalars (0.1, alpha, k) take float32; 0.7 is compared as float32(0.7). Where the clip
    runs, CPython goes on with a Python float (np.sqrt of it is a float64): the lowering's float32
    differs there in the last bits, within the float policy (rtol32)."""
    for i in range(x.shape[0]):
        v = 0.1 * x[i] + alpha * y[i] - k
        if v > 0.7:
            v = 0.7
        y[i] = np.sqrt(abs(v)) + v / 3.0


def heat32(u: np.ndarray[np.float32], steps: int, alpha: float):
    """Ping-pong float32 buffers on the device across steps."""
    n, m = u.shape
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = a[i, j] + alpha * (a[i - 1, j] + a[i + 1, j] - 4.0 * a[i, j] + a[i, j - 1] + a[i, j + 1])
        a, b = b, a
    return a


def sum32(x: np.ndarray[np.float32]):
    """A float32 sum: NumPy adds in float32 (the block sums too), reassociated."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def gemm32(A: np.ndarray[np.float32], B: np.ndarray[np.float32]):
    n, m = A.shape
    p = B.shape[1]
    C = np.zeros((n, p), dtype=np.float32)
    for i in range(n):
        for j in range(p):
            acc = 0.0
            for k in range(m):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc
    return C


def stencil7(u):
    """Three parallel loops: a 3-D grid, x along the last index."""
    n, m, p = u.shape
    out = np.zeros_like(u)
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            for k in range(1, p - 1):
                out[i, j, k] = (
                    u[i - 1, j, k] + u[i + 1, j, k] + u[i, j - 1, k] + u[i, j + 1, k] + u[i, j, k - 1] + u[i, j, k + 1]
                ) / 6.0 - u[i, j, k]
    return out


def heat3d_steps(u, steps: int, alpha: float):
    """3-D ping-pong buffers kept on the device across steps."""
    n, m, p = u.shape
    a = u.copy()
    b = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                for k in range(1, p - 1):
                    b[i, j, k] = a[i, j, k] + alpha * (
                        a[i - 1, j, k] + a[i + 1, j, k] + a[i, j - 1, k] + a[i, j + 1, k] + a[i, j, k - 1]
                        + a[i, j, k + 1] - 6.0 * a[i, j, k]
                    )
        a, b = b, a
    return a


def scale3d(X, w):
    """Scalars each thread recomputes at two levels of a 3-D grid."""
    n, m, p = X.shape
    for i in range(n):
        a = w[i] * 2.0
        for j in range(m):
            b = a + w[j]
            for k in range(p):
                X[i, j, k] = b * X[i, j, k] + w[k]


def skip_negative(x, y):
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            continue
        y[i] = x[i] ** 2 + np.sqrt(x[i])
'''

# kernel -> argument shapes per call (a size symbol per dimension; arrays in [-1, 1), d in [0.5, 2))
CALLS: dict[str, list[tuple[tuple[int, ...] | int, ...]]] = {
    "jacobi2d": [((19, 37),), ((3, 3),), ((1, 5),)],
    "jacobi_into": [((18, 21), (18, 21))],
    "axpy": [((), (300,), (300,)), ((), (0,), (0,))],
    "row_scale": [((13, 21), (13,))],
    "gemm": [((7, 5), (5, 19)), ((17, 3), (3, 2))],
    "gemm_local": [((9, 4), (4, 18), (9, 18))],
    "row_norms": [((29, 6),)],
    "two_passes": [((70,), (70,))],
    "skip_negative": [((90,), (90,))],
    "jacobi_steps": [((11, 13), 3), ((5, 4), 0)],
    "sum_squares": [((1000,),), ((33,),), ((0,),)],
    "count_positive": [((701,), 5), ((0,), 2)],
    "energy_and_scale": [((70, 9), (9,))],
    "wave_steps": [((50,), (50,), 7, ()), ((3,), (3,), 2, ()), ((40,), (40,), 0, ())],
    "heat_swap": [((12, 17), 3, ()), ((9, 6), 4, ()), ((5, 5), 0, ())],
    "relax_reused_index": [((45,), 5, ())],
    # `kernel#variant`: the same kernel lowered with other options (OPTIONS)
    "gemm#tiled": [((7, 5), (5, 19)), ((17, 9), (9, 6)), ((4, 0), (0, 3))],
    "gemm_local#tiled": [((9, 4), (4, 18), (9, 18)), ((13, 11), (11, 5), (13, 5))],
    "gemm_tn#tiled": [((6, 11), (6, 9))],
    "rms_rows32": [((9, 13), ())],
    "blend_clip32": [((70,), (70,), (), 0), ((50,), (50,), (), 2)],
    "heat32": [((12, 9), 3, ())],
    "sum32": [((300,),), ((0,),)],
    "gemm32#tiled": [((7, 5), (5, 9))],
    "gemm#micro": [((7, 5), (5, 19)), ((17, 9), (9, 6)), ((4, 0), (0, 3))],
    "gemm_local#micro": [((9, 4), (4, 18), (9, 18)), ((13, 11), (11, 5), (13, 5))],
    "gemm_tn#micro": [((6, 11), (6, 9))],
    "gemm32#micro": [((7, 5), (5, 9))],
    "stencil7": [((6, 5, 11),), ((3, 3, 3),), ((2, 4, 4),)],
    "row_scale#pinned": [((13, 21), (13,))],
    "heat3d_steps": [((5, 6, 9), 3, ())],
    "scale3d": [((4, 5, 7), (7,))],
}
SINGLE = {"rms_rows32", "blend_clip32", "heat32", "sum32", "gemm32#tiled", "gemm32#micro"}  # float32 arrays
# reassociated float sums: equal within the float policy's tolerance, not bit-identical
REASSOC = {"sum_squares", "energy_and_scale", "sum32", "blend_clip32"}
# small blocks keep the simulator (a Python thread per GPU thread) fast; default blocks elsewhere
SMALL_BLOCKS = {"block_2d": (8, 4), "block_1d": 32}
OPTIONS: dict[str, dict[str, object]] = {
    "jacobi2d": {},
    "jacobi_into": SMALL_BLOCKS,
    "axpy": {},
    "row_scale": SMALL_BLOCKS,
    "gemm": SMALL_BLOCKS,
    "gemm_local": SMALL_BLOCKS,
    "row_norms": {},
    "two_passes": SMALL_BLOCKS,
    "skip_negative": SMALL_BLOCKS,
    "jacobi_steps": SMALL_BLOCKS,
    "sum_squares": {"block_1d": 64},
    "count_positive": SMALL_BLOCKS,
    "energy_and_scale": SMALL_BLOCKS,
    "wave_steps": SMALL_BLOCKS,
    "heat_swap": SMALL_BLOCKS,
    "relax_reused_index": SMALL_BLOCKS,
    "gemm#tiled": {"block_2d": (4, 4), "tile": 4},
    "gemm_local#tiled": {"block_2d": (4, 4), "tile": 4},
    "gemm_tn#tiled": {"block_2d": (4, 4), "tile": 4},
    "rms_rows32": SMALL_BLOCKS,
    "blend_clip32": SMALL_BLOCKS,
    "heat32": SMALL_BLOCKS,
    "sum32": {"block_1d": 64},
    "gemm32#tiled": {"block_2d": (4, 4), "tile": 4},
    # register blocking: 2x2 threads, each 3x3 outputs of a 6x6 tile (2 values of k staged at a time)
    "gemm#micro": {"block_2d": (2, 2), "tile": 6, "micro": 3},
    "gemm_local#micro": {"block_2d": (2, 2), "tile": 4, "micro": 2},
    "gemm_tn#micro": {"block_2d": (2, 2), "tile": 4, "micro": 2},
    "gemm32#micro": {"block_2d": (2, 2), "tile": 4, "micro": 2},
    "stencil7": {"block_3d": (4, 2, 2)},
    "row_scale#pinned": {**SMALL_BLOCKS, "pinned": True},
    "heat3d_steps": {"block_3d": (4, 2, 2)},
    "scale3d": {"block_3d": (4, 2, 2)},
}
FORTRAN = {"jacobi_into", "row_scale", "row_scale#pinned"}  # also called with Fortran-ordered arrays


def lowered(name: str, **options: object) -> str | None:
    kernel = lift_function(SOURCE, "kernels.py", name)
    return gpu.lower_cuda(kernel, kernel.body, analyze(kernel), **options)  # type: ignore[arg-type]


def refusal(source: str, **options: object) -> str | None:
    kernel = lift_function(source, "kernel.py")
    facts = analyze(kernel)
    reason = gpu.refusal_reason(kernel, kernel.body, facts, **options)  # type: ignore[arg-type]
    assert (gpu.lower_cuda(kernel, kernel.body, facts, **options) is None) == (reason is not None)  # type: ignore[arg-type]
    return reason


# ---- the simulator side: this file run as a script, with NUMBA_ENABLE_CUDASIM=1 ----------------------


def _arguments(
    name: str, shapes: tuple[tuple[int, ...] | int, ...], fortran: bool, seed: int
) -> list[object]:
    rng = np.random.default_rng(seed)
    args: list[object] = []
    for k, shape in enumerate(shapes):
        if isinstance(shape, int):
            args.append(shape)
            continue
        if shape == ():
            args.append(float(rng.uniform(0.5, 1.5)))
            continue
        low, high = (0.5, 2.0) if (name.split("#")[0] == "row_scale" and k == 1) else (-1.0, 1.0)
        array = rng.uniform(low, high, shape)
        if name in SINGLE:
            array = array.astype(np.float32)
        args.append(np.asfortranarray(array) if fortran else array)
    return args


def _close(a: object, b: object) -> bool:
    """The float policy's tolerance (rtol 1e-9, DESIGN.md), for variants that reorder a float sum."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        rtol = 1e-4 if a.dtype == np.float32 else 1e-9  # the verifier's rtol32 and rtol64
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.allclose(a, b, rtol=rtol, atol=1e-12))
    if isinstance(a, np.float32) or isinstance(b, np.float32):
        return type(a) is type(b) and abs(float(a) - float(b)) <= 1e-4 * max(1.0, abs(float(a)))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return _identical(a, b)


def _identical(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and repr(a) == repr(b)


def _simulate(name: str) -> dict[str, object]:
    started = time.perf_counter()
    original: dict[str, object] = {}
    exec(compile(SOURCE, "kernels.py", "exec"), original)
    source = lowered(name.split("#")[0], **OPTIONS[name])
    if source is None:
        return {"ok": False, "why": "not lowered", "seconds": 0.0}
    function = name.split("#")[0]
    namespace: dict[str, object] = {}
    exec(compile("import math\nimport numpy as np\n" + source, f"<cuda {name}>", "exec"), namespace)
    calls = [(shapes, False) for shapes in CALLS[name]]
    if name in FORTRAN:
        calls.append((CALLS[name][0], True))
    for seed, (shapes, fortran) in enumerate(calls):
        expected_args = _arguments(name, shapes, fortran, seed)
        got_args = _arguments(name, shapes, fortran, seed)
        expected = original[function](*expected_args)  # type: ignore[operator]
        got = namespace[function](*got_args)  # type: ignore[operator]
        where = f"shapes {shapes}{' (Fortran order)' if fortran else ''}"
        same = _close if name in REASSOC else _identical
        if not same(expected, got):
            return {"ok": False, "why": f"return value differs at {where}", "seconds": 0.0}
        for k, (e, g) in enumerate(zip(expected_args, got_args, strict=True)):
            if not same(e, g):
                return {"ok": False, "why": f"argument {k} differs after the call at {where}", "seconds": 0.0}
        if isinstance(got, np.ndarray) and any(
            isinstance(a, np.ndarray) and np.shares_memory(got, a) for a in got_args
        ):
            return {
                "ok": False,
                "why": f"the result shares memory with an argument at {where}",
                "seconds": 0.0,
            }
    return {"ok": True, "why": f"{len(calls)} calls identical", "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    print(json.dumps({name: _simulate(name) for name in sys.argv[1:] or CALLS}))
    sys.exit(0)


# ---- the tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> dict[str, dict[str, object]]:
    if importlib.util.find_spec("numba_cuda") is None:  # not imported here: the simulator lives in the child
        pytest.skip("numba-cuda is not installed (pip install 'optc[cuda]')")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_wrapper_matches_cpython_on_the_simulator(simulated: dict[str, dict[str, object]], name: str) -> None:
    result = simulated[name]
    assert result["ok"], f"{name}: {result['why']}"


def test_simulator_stays_in_its_child_process() -> None:
    assert "numba.cuda.simulator_init" not in sys.modules, "numba.cuda was imported here as the simulator"


def test_two_loops_make_a_2d_grid_with_x_along_the_last_index() -> None:
    source = lowered("jacobi2d")
    assert source is not None
    # the outer loop (over j) indexes the last dimension, so j takes x; i takes y
    assert "j = j_lo + cuda.grid(2)[0]" in source
    assert "i = i_lo + cuda.grid(2)[1]" in source
    assert "if j < j_hi and i < i_hi:" in source
    assert "out_dev = _optc_to_device(out)" in source  # u.copy(): its contents go over
    assert "_optc_to_host(out_dev, out)" in source
    assert "_optc_to_host(u_dev" not in source  # u is only read: nothing comes back


def test_statements_before_the_inner_loop_are_recomputed_per_thread() -> None:
    source = lowered("row_scale")
    assert source is not None
    assert "cuda.grid(2)" in source and "s = 1.0 / d[i]" in source


def test_a_loop_after_the_inner_loop_keeps_a_1d_grid() -> None:
    source = lowered("row_norms")
    assert source is not None
    assert "i = i_lo + cuda.grid(1)" in source
    assert "norms_dev = _optc_device_like(norms, None)" in source  # np.empty: nothing to copy or fill


def test_float_products_never_fuse_and_int_products_stay_plain() -> None:
    source = lowered("gemm")
    assert source is not None
    assert "C[i, j] += _optc_mul(A[i, k], B[k, j])" in source
    assert "C_dev = _optc_device_like(C, 0)" in source  # np.zeros: filled on the device
    assert "cuda.libdevice.dmul_rn" in source
    indexed = refusal("def f(x, y):\n    for i in range(x.shape[0]):\n        y[i] = x[i] * (2 * i)\n")
    assert indexed is None
    kernel = lift_function(
        "def f(x, y):\n    for i in range(x.shape[0]):\n        y[i] = x[i] + 2 * i\n", "k.py"
    )
    source = gpu.lower_cuda(kernel, kernel.body, analyze(kernel))
    assert source is not None and "2 * i" in source and "_optc_mul" not in source


def test_a_sequential_loop_around_nests_stays_on_the_host() -> None:
    source = lowered("jacobi_steps")
    assert source is not None
    wrapper = source[source.index("def jacobi_steps") :]
    loop = wrapper[wrapper.index("for t in range(steps):") :]
    assert "_optc_to_device" not in loop and "_optc_to_host(u_dev, u)" in loop  # after the loop only
    assert loop.count("_jacobi_steps_nest") == 2


def test_rotated_buffers_and_boundary_stores_stay_on_the_device() -> None:
    source = lowered("wave_steps")
    assert source is not None
    loop = source[source.index("for _ in range(steps):") :]
    assert "prev_dev, cur_dev, nxt_dev = cur_dev, nxt_dev, prev_dev" in loop
    assert "[1, 1](cur_dev, nxt_dev" in loop  # `nxt[0] = cur[0]`: one thread on the device
    assert loop.count("_optc_to_host") == 1 and "_optc_to_device" not in loop


def test_tiles_stage_rows_and_columns_in_shared_memory() -> None:
    source = lowered("gemm_local", block_2d=(16, 16), tile=16)
    assert source is not None
    assert "cuda.shared.array((16, 16), numba.float64)" in source
    assert "for _optc_k0 in range(0, m, 16):" in source
    assert source.count("cuda.syncthreads()") == 2
    assert (
        "acc += _optc_mul(_optc_A_row_i[_optc_ty, k - _optc_k0], _optc_B_col_j[k - _optc_k0, _optc_tx])"
        in source
    )
    # nothing matmul-like to tile, or blocks that are not tile x tile: no tiled variant
    scale = "def f(A, d):\n    for i in range(A.shape[0]):\n        for j in range(A.shape[1]):\n            A[i, j] *= d[i]\n"
    reason = refusal(scale, tile=16)
    assert reason is not None and "no matmul-like nest" in reason
    kernel = lift_function(SOURCE, "kernels.py", "gemm")
    assert gpu.refusal_reason(kernel, kernel.body, analyze(kernel), tile=16) is None
    assert gpu.lower_cuda(kernel, kernel.body, analyze(kernel), block_2d=(32, 8), tile=16) is None


def test_arrays_stay_on_the_device_between_nests_until_the_host_reads_them() -> None:
    source = lowered("two_passes")
    assert source is not None
    wrapper = source[source.index("def two_passes") :]
    assert wrapper.count("_optc_to_device(") == 2  # x, then y: t is allocated there
    assert wrapper.index("_optc_to_host(t_dev, t)") < wrapper.index("c = t[0]")


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (
            "def f(x, y):\n    for i in range(1, x.shape[0]):\n        x[i] = x[i - 1] + y[i]\n",
            "not parallel",
        ),
        (
            "def f(x):\n    s = 1.0\n    for i in range(x.shape[0]):\n        s *= x[i]\n    return s\n",
            "reduction into `s` other than a sum",
        ),
        (
            "def f(x):\n    i = 0\n    while i < x.shape[0]:\n        x[i] = 0.0\n        i += 1\n",
            "while loop",
        ),
        (
            "def f(x, y):\n    for i in range(x.shape[0]):\n        if x[i] < 0:\n            break\n        y[i] = x[i]\n",
            "early exit",
        ),
        (
            "import numpy as np\ndef f(x, y):\n    for i in range(x.shape[0]):\n        y[i] = np.exp(x[i])\n",
            "np.exp",
        ),
        (
            "def f(x, y):\n    for i in range(x.shape[0]):\n        y[i] = x[i] ** 3\n",
            "** 2",
        ),
        (
            "import numpy as np\n"
            "def f(x: np.ndarray[np.int32], y: np.ndarray[np.int32]):\n"
            "    for i in range(x.shape[0]):\n        y[i] = x[i] * 2\n",
            "int32",
        ),
        (
            "def f(A, y):\n    for i in range(A.shape[0]):\n        y[i] = A[i].sum()\n",
            "effects are not known",
        ),
        ("def f(x):\n    return x[0] * 2.0\n", "no top-level loop"),
        (
            "def f(x, y, steps: int):\n    for t in range(steps):\n        for i in range(x.shape[0]):\n"
            "            y[i] = x[i] * 0.5\n        x, y = y, x\n    return x\n",
            "uses the array `x`",
        ),
        (
            "def f(u, steps: int):\n    a = u.copy()\n    b = a\n    for t in range(steps):\n"
            "        for i in range(1, u.shape[0]):\n            b[i] = a[i - 1]\n        a, b = b, a\n    return a\n",
            "",
        ),
    ],
    ids=[
        "recurrence",
        "reduction",
        "while",
        "break",
        "exp",
        "cube",
        "int32",
        "method-call",
        "no-loop",
        "rotated-params",
        "rotated-alias",
    ],
)
def test_refuses(source: str, words: str) -> None:
    reason = refusal(source)
    assert reason is not None and words in reason, reason


def test_float_sums_need_the_float_policys_consent_and_int_sums_do_not() -> None:
    float_sum = "def f(x):\n    s = 0.0\n    for i in range(x.shape[0]):\n        s += x[i]\n    return s\n"
    reason = refusal(float_sum, allow_reassoc=False)
    assert reason is not None and "reordered" in reason
    assert refusal(float_sum) is None
    int_sum = "def f(x):\n    c = 0\n    for i in range(x.shape[0]):\n        c += x[i] > 0.0\n    return c\n"
    assert refusal(int_sum, allow_reassoc=False) is None


def test_block_sums_need_a_power_of_two_block() -> None:
    source = "def f(x):\n    s = 0.0\n    for i in range(x.shape[0]):\n        s += x[i]\n    return s\n"
    reason = refusal(source, block_1d=96)
    assert reason is not None and "power of two" in reason
    kernel = lift_function(source, "k.py")
    lowered_sum = gpu.lower_cuda(kernel, kernel.body, analyze(kernel), block_1d=128)
    assert lowered_sum is not None
    assert "cuda.shared.array(128, numba.float64)" in lowered_sum
    assert "cuda.atomic.add(s_sum, 0, s_part[0])" in lowered_sum
    assert "s = s + _optc_sum_of(s_sum)" in lowered_sum


def test_inexact_math_is_opt_in() -> None:
    source = (
        "import numpy as np\ndef f(x, y):\n    for i in range(x.shape[0]):\n        y[i] = np.exp(x[i])\n"
    )
    assert refusal(source, inexact_math=True) is None


def test_is_a_lowering_not_a_rule_set() -> None:
    assert gpu.NAME == "gpu" and gpu.PREVIEW is True
    assert gpu.rules(None) == []  # type: ignore[arg-type]
    for section in ("What", "Why faster", "Legal when", "Refuses when", "Float safety"):
        assert f"\n{section}\n" in (gpu.__doc__ or "")


def test_float32_is_lowered_in_float32_with_numpys_kinds() -> None:
    source = lowered("blend_clip32")
    assert source is not None
    # 0.1 * x[i]: the Python float rounded to float32 first, the product in float32 (exactly, via double)
    assert "numpy.float32(_optc_mul(numpy.float64(numpy.float32(0.1)), numpy.float64(x[i])))" in source
    assert "v > 0.7" not in source and "numpy.float32(0.7)" in source  # compared as float32
    assert "_optc_check(x, 'float32', 1)" in source
    # an int32 array or a libdevice float32 function is still refused
    exp32 = (
        "import numpy as np\ndef f(x: np.ndarray[np.float32], y: np.ndarray[np.float32]):\n"
        "    for i in range(x.shape[0]):\n        y[i] = np.exp(x[i])\n"
    )
    reason = refusal(exp32, inexact_math=True)
    assert reason is not None and "float32 functions" in reason


def test_a_python_float_that_becomes_float32_needs_the_float_policy() -> None:
    kernel = lift_function(SOURCE, "kernels.py", "rms_rows32")
    facts = analyze(kernel)
    reason = gpu.refusal_reason(kernel, kernel.body, facts, allow_reassoc=False)
    assert reason is not None and "`s` is first a Python number, then a float32" in reason
    assert "`v` is first a Python number" in (
        gpu.refusal_reason(*_lifted(SOURCE, "blend_clip32"), allow_reassoc=False) or ""
    )
    # a float32 local whose Python-number value is only ever stored or combined with a float32 is exact
    stored = (
        "import numpy as np\ndef f(x: np.ndarray[np.float32], y: np.ndarray[np.float32]):\n"
        "    for i in range(x.shape[0]):\n        v = 0.5\n        if x[i] > 0.0:\n"
        "            v = x[i] * 3.0\n        y[i] = v\n"
    )
    assert gpu.refusal_reason(*_lifted(stored), allow_reassoc=False) is None


def _lifted(source: str, name: str | None = None) -> tuple[object, object, object]:
    kernel = lift_function(source, "kernels.py", name) if name else lift_function(source, "kernel.py")
    return kernel, kernel.body, analyze(kernel)


def test_three_parallel_loops_make_a_3d_grid() -> None:
    source = lowered("stencil7", block_3d=(8, 4, 2))
    assert source is not None
    assert "k = k_lo + cuda.grid(3)[0]" in source and "i = i_lo + cuda.grid(3)[2]" in source
    assert "if i < i_hi and j < j_hi and k < k_hi:" in source
    assert "(8, 4, 2)](" in source
    scaled = lowered("scale3d")
    assert scaled is not None and "a = _optc_mul(w[i], 2.0)" in scaled and "b = a + w[j]" in scaled
    # an inner bound that reads an outer grid variable: two levels only
    triangle = (
        "def f(X):\n    for i in range(X.shape[0]):\n        for j in range(X.shape[1]):\n"
        "            for k in range(i):\n                X[i, j, k] = 0.0\n"
    )
    kernel = lift_function(triangle, "k.py")
    source = gpu.lower_cuda(kernel, kernel.body, analyze(kernel))
    assert source is not None and "cuda.grid(2)" in source and "cuda.grid(3)" not in source
    reason = refusal(triangle, block_3d=(32, 32, 2))
    assert reason is not None and "block limits" in reason


def test_register_blocking_keeps_each_threads_outputs_in_registers() -> None:
    source = lowered("gemm", block_2d=(16, 16), tile=64, micro=4)
    assert source is not None
    assert "cuda.shared.array((64, 16), numba.float64)" in source  # A[i, k]: 64 rows, 16 values of k
    assert "cuda.shared.array((16, 64), numba.float64)" in source
    assert source.count("_optc_C_reg_") >= 16 * 4  # 16 outputs a thread: load, update, store
    assert "C[i, j] +=" not in source  # no memory round trip per k
    assert "_optc_blocks(j_hi - j_lo, 64)" in source  # a block covers 64 x 64 outputs
    # blocks must be tile // micro a side, and micro must divide the tile
    kernel = lift_function(SOURCE, "kernels.py", "gemm")
    facts = analyze(kernel)
    assert gpu.lower_cuda(kernel, kernel.body, facts, block_2d=(16, 16), tile=32, micro=4) is None
    reason = gpu.refusal_reason(kernel, kernel.body, facts, tile=30, micro=4)
    assert reason is not None and "micro-tiles of 4" in reason


def test_pinned_copies_page_lock_the_host_arrays() -> None:
    source = lowered("row_scale", pinned=True)
    assert source is not None and source.count("with cuda.pinned(host):") == 2
    assert "cuda.pinned" not in (lowered("row_scale") or "")
