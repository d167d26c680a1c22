"""Benchmark: certify's Gram matrix and fused residual max against scikit-learn and numpy.

Run as ``python benchmarks/gram.py [--n 4000] [--d 3] [--features 20] [--repeat 3]``.

Measured in one run, on the same data:

(a) the Gaussian (RBF) Gram matrix of n points in d dimensions: ``certify.gram``
    (or the jitted ``gram_numba`` if the public function is not there) versus
    ``sklearn.metrics.pairwise.rbf_kernel`` and a numpy broadcast expression;
    both for ``K(X, X)`` (the target) and, for information, ``K(X, Y)`` with two
    different point sets (where certify cannot use the symmetry);
(b) ``max_ij |k(x_i, y_j) - <P_i, Q_j>|`` and its argmax with ``--features``
    features: certify's fused reduction (``certify.residual_max`` or
    ``residual_max_numba``) versus materialising ``K - P Q^T`` in numpy (K from
    ``rbf_kernel``) and taking ``abs().argmax()``.

Timing: numba is warmed up first (compilation excluded); the methods are run in
interleaved rounds (so that a slow phase of a shared machine hits them all),
with a short pause before each call (so that the previous method's BLAS threads
stop spinning), and the best of ``--repeat`` rounds is kept. Memory: the peak of
``tracemalloc`` during one call (numpy's allocations, including certify's Gram
output, which numpy allocates), next to the theoretical size of the arrays each
method must allocate. Whether numba's own allocations (``np.empty`` inside
jitted code: the fused residual's scratch) are traced depends on the numba
version; the script probes it and says so.

The script imports certify from the working tree it sits in (not from an
installed copy), so it benchmarks the code next to it.

This is a benchmark, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
from sklearn.metrics.pairwise import rbf_kernel

LENGTHSCALE = 1.0
GAMMA = 1.0 / (2.0 * LENGTHSCALE**2)
GRAM_TARGET = 1.5
RESIDUAL_TARGET = 2.0
SETTLE_SECONDS = 0.2


@dataclass
class Method:
    name: str
    run: Callable[[], Any]
    theoretical_bytes: int
    note: str = ""
    best: float = float("inf")
    traced_peak: int = 0
    result: Any = None


def numpy_broadcast_rbf(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The textbook numpy version: an (n, m, d) difference array, squared and summed."""
    return np.exp(-GAMMA * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1))


def materialised_residual_max(
    X: np.ndarray, Y: np.ndarray, P: np.ndarray, Q: np.ndarray
) -> tuple[float, int, int]:
    R = np.abs(rbf_kernel(X, Y, gamma=GAMMA) - P @ Q.T)
    flat = int(R.argmax())
    i, j = divmod(flat, Y.shape[0])
    return float(R[i, j]), i, j


def load_certify() -> Any:
    """Import certify from this working tree (its parent directory)."""
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    return importlib.import_module("certify")


def nrt_allocations_traced() -> bool:
    """Whether tracemalloc sees arrays allocated inside jitted code (numba's NRT)."""

    @numba.njit
    def allocate(n: int) -> float:
        a = np.empty(n)
        a[:] = 1.0
        return a[-1]

    allocate(1)
    n_bytes = 8 * 2**20
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    allocate(n_bytes // 8)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak >= n_bytes


def time_interleaved(methods: list[Method], repeat: int) -> None:
    for _ in range(repeat):
        for method in methods:
            # Let the previous method's threads (BLAS spin-waiting, page reclaim) go idle.
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            method.result = method.run()
            method.best = min(method.best, time.perf_counter() - start)


def trace_memory(methods: list[Method]) -> None:
    for method in methods:
        method.result = None
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        method.result = method.run()
        method.traced_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:9.2f}"


def print_table(title: str, methods: list[Method], agreement: list[str]) -> None:
    reference = methods[0]
    print(f"\n{title}")
    print(
        f"  {'method':<44} {'best [ms]':>10} {'peer/certify':>13} {'traced MiB':>11} "
        f"{'theory MiB':>11}"
    )
    for method in methods:
        ratio = method.best / reference.best
        ratio_text = "" if method is reference else f"{ratio:12.2f}x"
        print(
            f"  {method.name:<44} {method.best * 1e3:10.1f} {ratio_text:>13} "
            f"{mib(method.traced_peak):>11} {mib(method.theoretical_bytes):>11}"
        )
    for method in methods:
        if method.note:
            print(f"    {method.name}: {method.note}")
    for line in agreement:
        print(f"  {line}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="points per set (n = m)")
    parser.add_argument("--d", type=int, default=3, help="dimension of the points")
    parser.add_argument("--features", type=int, default=20, help="features of the model")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (best is kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n, d, n_features = args.n, args.d, args.features

    certify = load_certify()
    from certify._kernels import codes
    from certify._kernels.gram import gram_numba, tile_rows
    from certify._kernels.residual import RESIDUAL_TILE_COLS, residual_max_numba

    public = hasattr(certify, "gram") and hasattr(certify, "residual_max")

    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-1.0, 1.0, size=(n, d))
    Y = rng.uniform(-1.0, 1.0, size=(n, d))
    P = rng.standard_normal((n, n_features)) / np.sqrt(n_features)
    Q = rng.standard_normal((n, n_features)) / np.sqrt(n_features)
    params = np.array([LENGTHSCALE])

    if public:
        kernel = certify.kernels.Gaussian(lengthscale=LENGTHSCALE)

        def certify_gram_xx() -> np.ndarray:
            return certify.gram(kernel, X)

        def certify_gram_xy() -> np.ndarray:
            return certify.gram(kernel, X, Y)

        def certify_residual() -> tuple[float, int, int]:
            res = certify.residual_max(kernel, X, Y, P, Q)
            return res.value, res.i, res.j

        how = "certify.gram / certify.residual_max (public API, with input validation)"
    else:

        def certify_gram_xx() -> np.ndarray:
            return gram_numba(codes.GAUSSIAN, params, X, X)

        def certify_gram_xy() -> np.ndarray:
            return gram_numba(codes.GAUSSIAN, params, X, Y)

        def certify_residual() -> tuple[float, int, int]:
            return residual_max_numba(codes.GAUSSIAN, params, X, Y, P, Q)

        how = (
            "certify.gram / certify.residual_max not available: calling the jitted "
            "gram_numba / residual_max_numba (kind 0) directly"
        )

    threads = numba.get_num_threads()
    nrt_traced = nrt_allocations_traced()
    print(
        f"n = m = {n}, d = {d}, features = {n_features}, repeat = {args.repeat}, "
        f"numba threads = {threads}, numpy {np.__version__}, numba {numba.__version__}"
    )
    print(f"certify path: {how}")
    print(
        "tracemalloc sees allocations inside jitted code: "
        f"{'yes' if nrt_traced else 'no'} (probed with an 8 MiB np.empty in an njit function)"
    )

    # Warm-up: compile (or load from the on-disk cache), then one full call each.
    certify_gram_xx()
    certify_gram_xy()
    certify_residual()

    nm_bytes = n * n * 8
    rows = tile_rows(n)
    n_tiles = -(-n // rows)
    # per-tile results (value, flat index, NaN index) + per running task: a tile buffer
    # (rows x RESIDUAL_TILE_COLS) and Q's block transposed (features x RESIDUAL_TILE_COLS).
    fused_scratch = 3 * n_tiles * 8 + threads * (rows + n_features) * RESIDUAL_TILE_COLS * 8
    input_bytes = 8 * 2 * n * (d + n_features)

    gram_xx = [
        Method("certify gram(k, X)", certify_gram_xx, nm_bytes, "output only (symmetric path)"),
        Method(
            "sklearn rbf_kernel(X)",
            lambda: rbf_kernel(X, gamma=GAMMA),
            nm_bytes,
            "output; distances computed in it, in place",
        ),
        Method(
            "numpy broadcast exp(-g sum((x-y)^2))",
            lambda: numpy_broadcast_rbf(X, X),
            (d + 1) * nm_bytes,
            "(n, m, d) differences (squared in place by numpy's temporary elision) + sums",
        ),
    ]
    gram_xy = [
        Method("certify gram(k, X, Y)", certify_gram_xy, nm_bytes, "output only (tiled path)"),
        Method("sklearn rbf_kernel(X, Y)", lambda: rbf_kernel(X, Y, gamma=GAMMA), nm_bytes),
        Method("numpy broadcast (X, Y)", lambda: numpy_broadcast_rbf(X, Y), (d + 1) * nm_bytes),
    ]
    residual = [
        Method(
            "certify fused residual max",
            certify_residual,
            fused_scratch,
            "theory: O(n + m) per-tile results + one tile buffer per thread, allocated by numba",
        ),
        Method(
            "numpy |rbf_kernel - P Q^T|.argmax()",
            lambda: materialised_residual_max(X, Y, P, Q),
            2 * nm_bytes,
            "K and P Q^T (the difference and abs() reuse them: temporary elision)",
        ),
    ]

    time_interleaved(gram_xx + gram_xy + residual, args.repeat)
    trace_memory(gram_xx + gram_xy + residual)

    def gram_agreement(methods: list[Method]) -> list[str]:
        ref = methods[0].result
        return [
            f"max |certify - {m.name}| = {np.max(np.abs(ref - m.result)):.2e}" for m in methods[1:]
        ]

    print_table("(a) Gaussian Gram matrix K(X, X)", gram_xx, gram_agreement(gram_xx))
    print_table(
        "    Gaussian Gram matrix K(X, Y), for information", gram_xy, gram_agreement(gram_xy)
    )
    fused, materialised = residual[0].result, residual[1].result
    print_table(
        f"(b) max |K(X, Y) - P Q^T| with {n_features} features",
        residual,
        [
            f"certify  (value, i, j) = ({fused[0]!r}, {fused[1]}, {fused[2]})",
            f"numpy    (value, i, j) = ({materialised[0]!r}, {materialised[1]}, {materialised[2]})",
            f"|value difference| = {abs(fused[0] - materialised[0]):.2e}, same argmax: "
            f"{fused[1:] == materialised[1:]}",
        ],
    )

    gram_ratio = gram_xx[1].best / gram_xx[0].best
    gram_xy_ratio = gram_xy[1].best / gram_xy[0].best
    residual_ratio = residual[1].best / residual[0].best
    # Extra memory of the fused path: what tracemalloc saw, plus numba's scratch if
    # tracemalloc cannot see it.
    fused_extra = residual[0].traced_peak + (0 if nrt_traced else fused_scratch)
    # O(n + m): a small multiple of the inputs' size (points and features), plus the
    # per-thread tile buffers (independent of n and m).
    linear_budget = 8 * input_bytes + fused_scratch
    print("\nTargets")
    print(
        f"  Gram K(X, X): certify >= {GRAM_TARGET}x faster than sklearn rbf_kernel: "
        f"{gram_ratio:.2f}x  {verdict(gram_ratio >= GRAM_TARGET)}"
    )
    print(
        f"  (information, same target) Gram K(X, Y), no symmetry to use: {gram_xy_ratio:.2f}x  "
        f"{verdict(gram_xy_ratio >= GRAM_TARGET)}"
    )
    print(
        f"  fused residual >= {RESIDUAL_TARGET}x faster than materialised: "
        f"{residual_ratio:.2f}x  {verdict(residual_ratio >= RESIDUAL_TARGET)}"
    )
    print(
        f"  fused residual extra memory O(n + m): {mib(fused_extra).strip()} MiB <= "
        f"{mib(linear_budget).strip()} MiB (8 x inputs + tile buffers); one n x m array is "
        f"{mib(nm_bytes).strip()} MiB  {verdict(fused_extra <= linear_budget)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
