"""Tests of certify._kernels.residual: fused reductions vs numpy twins vs the blocked fallback."""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics.pairwise import rbf_kernel

from certify._kernels import codes
from certify._kernels.gram import gram_numpy
from certify._kernels.residual import (
    RESIDUAL_TILE_COLS,
    residual_max_blocked,
    residual_max_numba,
    residual_max_numpy,
    residual_sumsq_blocked,
    residual_sumsq_numba,
    residual_sumsq_numpy,
)
from certify.errors import InvalidInputError

EPS = np.finfo(np.float64).eps

KIND_PARAMS: dict[int, list[float]] = {
    codes.GAUSSIAN: [0.7],
    codes.LAPLACE: [0.9],
    codes.MATERN32: [0.8],
    codes.MATERN52: [1.1],
    codes.POLYNOMIAL: [3.0, 0.5, 0.8],
    codes.BROWNIAN: [],
    codes.PERIODIC: [0.6, 1.7],
    codes.ARCCOS0: [],
    codes.ARCCOS1: [],
    codes.EXPDOT: [2.0],
}
KIND_NAMES = {
    value: name.lower()
    for name, value in vars(codes).items()
    if name.isupper() and name != "N_KINDS" and isinstance(value, int)
}
ALL_KINDS = pytest.mark.parametrize("kind", sorted(KIND_PARAMS), ids=lambda k: KIND_NAMES[k])

N_FEATURES = 7  # one pass of four features, then three one at a time
# Residual tolerance. A residual r = k - sum_f P_if Q_jf: the two kernel values agree within
# 32 eps max|K| (the twin tolerance of test_gram_kernels); each side's dot product of F
# terms, in its own order (sequential, 4-at-a-time or BLAS with FMA), is within
# (F + 1) eps sum_f |P_if Q_jf| of the exact one, and the subtraction adds eps |r|.
# With S = max|K| + max(|P| @ |Q|^T) >= every |k|, sum |P Q| and |r|:
# atol = (32 + 2 (F + 2)) eps S. rtol 0: that bound is already absolute, for every entry.
RESIDUAL_RTOL = 0.0


def residual_atol(K: np.ndarray, P: np.ndarray, Q: np.ndarray) -> float:
    scale = float(np.abs(K).max() + (np.abs(P) @ np.abs(Q).T).max())
    return (32 + 2 * (P.shape[1] + 2)) * EPS * scale


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def params_of(kind: int) -> np.ndarray:
    return np.asarray(KIND_PARAMS[kind], dtype=np.float64)


def points(rng: np.random.Generator, kind: int, n: int, d: int = 3) -> np.ndarray:
    low = 0.0 if kind == codes.BROWNIAN else -1.0
    return rng.uniform(low, 1.0, size=(n, d))


def evaluator(kind: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The relation as a callable, for the blocked fallback."""
    params = params_of(kind)
    return lambda A, B: gram_numpy(kind, params, A, B)


def problem(
    rng: np.random.Generator, kind: int, n: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X = points(rng, kind, n)
    Y = points(rng, kind, m)
    P = rng.standard_normal((n, N_FEATURES))
    Q = rng.standard_normal((m, N_FEATURES))
    return X, Y, P, Q


# --- twins: value and argmax -----------------------------------------------------------------


@ALL_KINDS
@pytest.mark.parametrize(("n", "m"), [(37, 2 * RESIDUAL_TILE_COLS + 44), (1, 1), (1, 50), (45, 1)])
def test_residual_max_twins(kind: int, n: int, m: int, rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, kind, n, m)
    params = params_of(kind)
    expected = residual_max_numpy(kind, params, X, Y, P, Q)
    # The argmax is only well defined if the top residual beats the runner-up by more than
    # the rounding error: check the test's own premise first.
    A = np.sort(np.abs(gram_numpy(kind, params, X, Y) - P @ Q.T).ravel())
    atol = residual_atol(gram_numpy(kind, params, X, Y), P, Q)
    assert A.size == 1 or A[-1] - A[-2] > 4 * atol
    for value, i, j in (
        residual_max_numba(kind, params, X, Y, P, Q),
        residual_max_blocked(evaluator(kind), X, Y, P, Q),
        residual_max_blocked(evaluator(kind), X, Y, P, Q, block_rows=4),
    ):
        assert (i, j) == expected[1:]
        assert_allclose(value, expected[0], rtol=RESIDUAL_RTOL, atol=atol)
        assert isinstance(value, float)
        assert isinstance(i, int)
        assert isinstance(j, int)


@pytest.mark.parametrize("n_features", [0, 1, 4, 5, 8])
def test_residual_feature_counts(n_features: int, rng: np.random.Generator) -> None:
    # The jitted update takes features four at a time, then one at a time.
    kind = codes.MATERN32
    X = points(rng, kind, 20)
    Y = points(rng, kind, 150)
    P = rng.standard_normal((20, n_features))
    Q = rng.standard_normal((150, n_features))
    params = params_of(kind)
    value, i, j = residual_max_numba(kind, params, X, Y, P, Q)
    expected = residual_max_numpy(kind, params, X, Y, P, Q)
    assert (i, j) == expected[1:]
    atol = residual_atol(gram_numpy(kind, params, X, Y), P, Q)  # see RESIDUAL_RTOL
    assert_allclose(value, expected[0], rtol=RESIDUAL_RTOL, atol=atol)
    ones_x, ones_y = np.ones(20), np.ones(150)
    total = residual_sumsq_numba(kind, params, X, Y, P, Q, ones_x, ones_y)
    # 3000 non-negative terms summed in different orders: rtol 2 x 3000 eps (worst case);
    # atol 0 (the sum is ~3000).
    assert_allclose(
        total,
        residual_sumsq_numpy(kind, params, X, Y, P, Q, ones_x, ones_y),
        rtol=2 * 3000 * EPS,
        atol=0.0,
    )


@ALL_KINDS
def test_residual_sumsq_twins(kind: int, rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, kind, 37, 2 * RESIDUAL_TILE_COLS + 44)
    wx = rng.uniform(0.0, 1.0, 37)
    wy = rng.uniform(0.0, 1.0, 2 * RESIDUAL_TILE_COLS + 44)
    params = params_of(kind)
    expected = residual_sumsq_numpy(kind, params, X, Y, P, Q, wx, wy)
    # A recursive sum of N = n m non-negative terms is within (N - 1) eps relative of the
    # exact sum (worst case), for each of the two implementations compared: rtol 2 N eps.
    # The terms' own errors (2 |r| x residual_atol ~ 2 |r| x 100 eps, r ~ 2) add ~100 eps
    # relative, far below 2 N eps = 2e4 eps. atol 0: the sum is ~ N, far from 0.
    rtol = 2 * X.shape[0] * Y.shape[0] * EPS
    for value in (
        residual_sumsq_numba(kind, params, X, Y, P, Q, wx, wy),
        residual_sumsq_blocked(evaluator(kind), X, Y, P, Q, wx, wy),
        residual_sumsq_blocked(evaluator(kind), X, Y, P, Q, wx, wy, block_rows=5),
    ):
        assert isinstance(value, float)
        assert_allclose(value, expected, rtol=rtol, atol=0.0)


def test_gaussian_residual_against_sklearn(rng: np.random.Generator) -> None:
    lengthscale = 0.7
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 70, 90)
    K = rbf_kernel(X, Y, gamma=1.0 / (2.0 * lengthscale**2))
    R = K - P @ Q.T
    flat = int(np.argmax(np.abs(R)))
    value, i, j = residual_max_numba(codes.GAUSSIAN, np.array([lengthscale]), X, Y, P, Q)
    assert (i, j) == divmod(flat, 90)
    # sklearn's kernel value is within 32 eps relative (see test_gram_kernels), the dot
    # products differ as between the twins: residual_atol covers both.
    atol = residual_atol(K, P, Q)
    assert_allclose(value, np.abs(R).max(), rtol=0.0, atol=atol)
    total = residual_sumsq_numba(
        codes.GAUSSIAN, np.array([lengthscale]), X, Y, P, Q, np.ones(70), np.ones(90)
    )
    # 6300 squared O(1) terms, sums in different orders: rtol 2 x 6300 eps (worst case).
    assert_allclose(total, np.sum(R * R), rtol=2 * 6300 * EPS, atol=0.0)


# --- tie rule ------------------------------------------------------------------------------


def tie_problem() -> tuple[np.ndarray, ...]:
    """Brownian kernel at x = 0 (so k = 0) and integer features: exact residuals -<P_i, Q_j>.

    |residual| = 3 at (12, 7), (10, 300) and (60, 0), 0 elsewhere. With n = 70 a row tile
    holds 9 rows: rows 10 and 12 share a tile, in which column block 0 (with (12, 7)) is
    swept before column block 2 (with (10, 300); blocks of RESIDUAL_TILE_COLS = 128),
    although (10, 300) comes first in row-major order. (60, 0) is in a later tile.
    """
    n, m = 70, 2 * RESIDUAL_TILE_COLS + 60
    X = np.zeros((n, 2))
    Y = np.ones((m, 2))
    P = np.zeros((n, 3))
    Q = np.zeros((m, 3))
    P[12, 0] = 1.0
    Q[7, 0] = 3.0
    P[10, 1] = 1.0
    Q[300, 1] = 3.0
    P[60, 2] = 1.0
    Q[0, 2] = -3.0
    return X, Y, P, Q


def test_ties_go_to_first_in_row_major_order() -> None:
    X, Y, P, Q = tie_problem()
    params = np.empty(0)
    expected = (3.0, 10, 300)
    assert residual_max_numpy(codes.BROWNIAN, params, X, Y, P, Q) == expected
    assert residual_max_numba(codes.BROWNIAN, params, X, Y, P, Q) == expected
    for block_rows in (None, 1, 11, 12, 70):
        got = residual_max_blocked(evaluator(codes.BROWNIAN), X, Y, P, Q, block_rows=block_rows)
        assert got == expected


def test_all_equal_residuals_give_first_pair() -> None:
    X = np.ones((40, 2))
    Y = np.ones((300, 2))
    P = np.zeros((40, 1))
    Q = np.zeros((300, 1))
    # k = 1 everywhere (Brownian at x = y = 1): every |residual| is exactly 1.
    for result in (
        residual_max_numba(codes.BROWNIAN, np.empty(0), X, Y, P, Q),
        residual_max_numpy(codes.BROWNIAN, np.empty(0), X, Y, P, Q),
        residual_max_blocked(evaluator(codes.BROWNIAN), X, Y, P, Q, block_rows=3),
    ):
        assert result == (1.0, 0, 0)


# --- NaN and inf ----------------------------------------------------------------------------


def all_residual_max(
    X: np.ndarray, Y: np.ndarray, P: np.ndarray, Q: np.ndarray, block_rows: int | None = None
) -> list[tuple[float, int, int]]:
    params = params_of(codes.GAUSSIAN)
    return [
        residual_max_numba(codes.GAUSSIAN, params, X, Y, P, Q),
        residual_max_numpy(codes.GAUSSIAN, params, X, Y, P, Q),
        residual_max_blocked(evaluator(codes.GAUSSIAN), X, Y, P, Q, block_rows=block_rows),
    ]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_in_features_propagates(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 50, 270)
    P[33, 2] = np.nan  # row 33 of the residual is all NaN
    P[45, 0] = np.nan
    for value, i, j in all_residual_max(X, Y, P, Q, block_rows=7):
        assert np.isnan(value)
        assert (i, j) == (33, 0)
    params = params_of(codes.GAUSSIAN)
    ones_x, ones_y = np.ones(50), np.ones(270)
    assert np.isnan(residual_sumsq_numba(codes.GAUSSIAN, params, X, Y, P, Q, ones_x, ones_y))
    assert np.isnan(residual_sumsq_numpy(codes.GAUSSIAN, params, X, Y, P, Q, ones_x, ones_y))
    blocked = residual_sumsq_blocked(evaluator(codes.GAUSSIAN), X, Y, P, Q, ones_x, ones_y)
    assert np.isnan(blocked)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_takes_precedence_over_inf(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 20, 300)
    P[3, 0] = np.inf
    Q[:, 0] = 1.0
    Q[280, 0] = 0.0  # inf x 0 = NaN at (3, 280); -inf at (3, j) for every other j
    P[9, 1] = np.inf  # more infs later
    for value, i, j in all_residual_max(X, Y, P, Q, block_rows=2):
        assert np.isnan(value)
        assert (i, j) == (3, 280)


def test_inf_without_nan(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 20, 300)
    Q[:, 0] = np.abs(Q[:, 0]) + 1.0  # no zero: no inf x 0
    P[17, 0] = -np.inf  # +inf residuals in row 17
    P[5, 0] = np.inf  # -inf residuals in row 5, earlier
    for value, i, j in all_residual_max(X, Y, P, Q, block_rows=3):
        assert value == np.inf
        assert (i, j) == (5, 0)


# --- determinism and memory -----------------------------------------------------------------


def test_results_do_not_depend_on_thread_count(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.MATERN52, 90, 300)
    params = params_of(codes.MATERN52)
    wx, wy = rng.uniform(size=90), rng.uniform(size=300)
    before = numba.get_num_threads()
    try:
        results = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(
                (
                    residual_max_numba(codes.MATERN52, params, X, Y, P, Q),
                    residual_sumsq_numba(codes.MATERN52, params, X, Y, P, Q, wx, wy),
                )
            )
    finally:
        numba.set_num_threads(before)
    # Fixed tiles and a serial reduction in tile order: bit-identical results.
    assert all(r == results[0] for r in results)


def test_default_block_rows_and_blocks_agree(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.LAPLACE, 30, 40)
    f = evaluator(codes.LAPLACE)
    expected = residual_max_numpy(codes.LAPLACE, params_of(codes.LAPLACE), X, Y, P, Q)
    # BLAS picks different kernels (gemv, gemm, ...) for different block shapes, so P @ Q.T
    # may differ in the last bits: residual_atol, as for the twins; same argmax.
    atol = residual_atol(gram_numpy(codes.LAPLACE, params_of(codes.LAPLACE), X, Y), P, Q)
    for block_rows in (None, 1, 29, 30, 31):
        value, i, j = residual_max_blocked(f, X, Y, P, Q, block_rows=block_rows)
        assert (i, j) == expected[1:]
        assert_allclose(value, expected[0], rtol=RESIDUAL_RTOL, atol=atol)


def test_blocked_evaluates_blocks_of_about_a_million_entries(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 600, 4000)
    seen: list[tuple[int, int]] = []

    def evaluate(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        seen.append((A.shape[0], B.shape[0]))
        return rbf_kernel(A, B, gamma=0.5)

    residual_max_blocked(evaluate, X, Y, P, Q)
    assert seen[0] == (2**20 // 4000, 4000)
    assert sum(rows for rows, _ in seen) == 600


# --- errors ---------------------------------------------------------------------------------


def test_blocked_rejects_bad_block_rows(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 5, 5)
    with pytest.raises(InvalidInputError, match=r"`block_rows` must be an int >= 1"):
        residual_max_blocked(evaluator(codes.GAUSSIAN), X, Y, P, Q, block_rows=0)
    with pytest.raises(InvalidInputError, match=r"`block_rows` must be an int >= 1"):
        residual_sumsq_blocked(
            evaluator(codes.GAUSSIAN), X, Y, P, Q, np.ones(5), np.ones(5), block_rows=1.5
        )


def test_blocked_rejects_wrongly_shaped_evaluation(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 5, 6)
    with pytest.raises(
        InvalidInputError, match=r"`evaluate\(Xb, Y\)` must return .* shape \(5, 6\)"
    ):
        residual_max_blocked(lambda A, B: np.zeros((B.shape[0], A.shape[0])), X, Y, P, Q)
    with pytest.raises(InvalidInputError, match=r"must return the matrix of relation values"):
        residual_sumsq_blocked(lambda A, B: np.zeros(3), X, Y, P, Q, np.ones(5), np.ones(6))


def test_max_over_no_pairs_raises(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 3, 4)
    params = params_of(codes.GAUSSIAN)
    match = r"`X` and `Y` must hold at least one point each .* got 0 and 4 points"
    with pytest.raises(InvalidInputError, match=match):
        residual_max_numba(codes.GAUSSIAN, params, X[:0], Y, P[:0], Q)
    with pytest.raises(InvalidInputError, match=match):
        residual_max_numpy(codes.GAUSSIAN, params, X[:0], Y, P[:0], Q)
    with pytest.raises(InvalidInputError, match=r"got 3 and 0 points"):
        residual_max_blocked(evaluator(codes.GAUSSIAN), X, Y[:0], P, Q[:0])


def test_numba_checks_kind(rng: np.random.Generator) -> None:
    X, Y, P, Q = problem(rng, codes.GAUSSIAN, 3, 3)
    with pytest.raises(InvalidInputError, match="`kind` must be a kernel code"):
        residual_max_numba(42, np.array([1.0]), X, Y, P, Q)
    with pytest.raises(InvalidInputError, match="`params` of kernel kind 6"):
        residual_sumsq_numba(codes.PERIODIC, np.array([1.0]), X, Y, P, Q, np.ones(3), np.ones(3))
