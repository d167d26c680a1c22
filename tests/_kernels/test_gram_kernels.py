"""Tests of certify._kernels.gram: numba vs numpy twins, and independent references."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.gaussian_process.kernels import Matern
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel

from certify._kernels import codes
from certify._kernels.gram import (
    SYM_BLOCK,
    TILE_COLS,
    TILE_ROWS,
    check_kind_params,
    diag_numba,
    diag_numpy,
    gram_numba,
    gram_numpy,
    paired_numba,
    paired_numpy,
)
from certify.errors import InvalidInputError

EPS = np.finfo(np.float64).eps

# One parameter vector per kind of codes.py (lengthscales away from 1 so that a
# missing factor would show).
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

# Twin tolerances. Both twins perform the same float operations in the same
# order except the elementary functions (glibc in numba, numpy's SIMD versions,
# each within 4 ulp) and the integer power (squaring vs pow, 3 ulp): at most 4
# such calls and ~10 roundings per entry, so 32 eps relative.
TWIN_RTOL = 32 * EPS
# Entries that are small by cancellation (polynomial base near 0, arc-cosine near
# theta = pi) carry the absolute error of their larger terms: 32 eps x max |entry|.
TWIN_ATOL_SCALE = 32 * EPS


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def params_of(kind: int) -> np.ndarray:
    return np.asarray(KIND_PARAMS[kind], dtype=np.float64)


def points(rng: np.random.Generator, kind: int, n: int, d: int = 3) -> np.ndarray:
    """Points in [-1, 1]^d, or [0, 1]^d for the Brownian kernel (defined for x >= 0)."""
    low = 0.0 if kind == codes.BROWNIAN else -1.0
    return rng.uniform(low, 1.0, size=(n, d))


def assert_twins(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    assert_allclose(actual, expected, rtol=TWIN_RTOL, atol=TWIN_ATOL_SCALE * scale)


def test_kind_table_is_covered() -> None:
    assert sorted(KIND_PARAMS) == list(range(codes.N_KINDS))


# --- numba vs numpy twins ---------------------------------------------------------------------


@ALL_KINDS
def test_gram_twins(kind: int, rng: np.random.Generator) -> None:
    # 37 rows and 300 columns: neither a multiple of the row tile nor of TILE_COLS.
    X = points(rng, kind, 37)
    Y = points(rng, kind, TILE_COLS + 44)
    K = gram_numba(kind, params_of(kind), X, Y)
    assert K.shape == (37, TILE_COLS + 44)
    assert K.dtype == np.float64
    assert_twins(K, gram_numpy(kind, params_of(kind), X, Y))


@ALL_KINDS
def test_gram_symmetric_path(kind: int, rng: np.random.Generator) -> None:
    # 2 SYM_BLOCKs + 22 rows: three block rows, one task owning two of them.
    X = points(rng, kind, 2 * SYM_BLOCK + 22)
    K_sym = gram_numba(kind, params_of(kind), X, X)
    K_full = gram_numba(kind, params_of(kind), X, X.copy())  # the general (tiled) path
    assert_array_equal(K_sym, K_sym.T)
    # Every formula is symmetric in floating point too (x - y = -(y - x), commutative
    # products), so mirroring changes nothing: equal bit for bit.
    assert_array_equal(K_sym, K_full)
    assert_twins(K_sym, gram_numpy(kind, params_of(kind), X, X))


@ALL_KINDS
def test_diag_and_paired_twins(kind: int, rng: np.random.Generator) -> None:
    X = points(rng, kind, 41)
    Y = points(rng, kind, 41)
    assert_twins(diag_numba(kind, params_of(kind), X), diag_numpy(kind, params_of(kind), X))
    assert_twins(
        paired_numba(kind, params_of(kind), X, Y), paired_numpy(kind, params_of(kind), X, Y)
    )


@ALL_KINDS
def test_diag_and_paired_match_gram(kind: int, rng: np.random.Generator) -> None:
    X = points(rng, kind, 23)
    Y = points(rng, kind, 23)
    # Same formulas, same operations: the numba diagonal equals the Gram diagonal exactly.
    assert_array_equal(
        diag_numba(kind, params_of(kind), X), np.diag(gram_numba(kind, params_of(kind), X, X))
    )
    assert_array_equal(
        paired_numba(kind, params_of(kind), X, Y),
        np.diag(gram_numba(kind, params_of(kind), X, Y)),
    )


@ALL_KINDS
@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 7), (9, 1), (TILE_ROWS + 1, TILE_COLS + 1)])
def test_gram_edge_sizes(kind: int, n: int, m: int, rng: np.random.Generator) -> None:
    X = points(rng, kind, n, d=2)
    Y = points(rng, kind, m, d=2)
    K = gram_numba(kind, params_of(kind), X, Y)
    assert K.shape == (n, m)
    assert_twins(K, gram_numpy(kind, params_of(kind), X, Y))


@ALL_KINDS
def test_one_dimensional_points(kind: int, rng: np.random.Generator) -> None:
    X = points(rng, kind, 10, d=1)
    assert_twins(gram_numba(kind, params_of(kind), X, X), gram_numpy(kind, params_of(kind), X, X))


# --- independent references -------------------------------------------------------------------


def test_gaussian_against_sklearn_rbf(rng: np.random.Generator) -> None:
    lengthscale = 0.7
    X = points(rng, codes.GAUSSIAN, 37)
    Y = points(rng, codes.GAUSSIAN, 53)
    K = gram_numba(codes.GAUSSIAN, np.array([lengthscale]), X, Y)
    expected = rbf_kernel(X, Y, gamma=1.0 / (2.0 * lengthscale**2))
    # sklearn forms r^2 = |x|^2 + |y|^2 - 2 <x, y>, absolute error <= ~4 eps (|x|^2 + |y|^2)
    # <= 24 eps on [-1, 1]^3; times gamma ~ 1 that is the relative error of exp(-gamma r^2),
    # plus 1 ulp per exp: rtol 32 eps.
    # atol 0: every entry is >= exp(-12 / 0.98) ~ 5e-6, far from underflow.
    assert_allclose(K, expected, rtol=32 * EPS, atol=0.0)


@pytest.mark.parametrize(
    ("kind", "nu"), [(codes.LAPLACE, 0.5), (codes.MATERN32, 1.5), (codes.MATERN52, 2.5)]
)
def test_matern_family_against_sklearn(kind: int, nu: float, rng: np.random.Generator) -> None:
    lengthscale = KIND_PARAMS[kind][0]
    X = points(rng, kind, 37)
    Y = points(rng, kind, 53)
    K = gram_numba(kind, params_of(kind), X, Y)
    expected = Matern(length_scale=lengthscale, nu=nu)(X, Y)
    # sklearn computes r = |x/l - y/l| (a few eps relative different from |x - y| / l);
    # dk/k = -a^2/(1+a)-ish x dr/r with a = sqrt(2 nu) r / l <= 10 here: <= ~40 eps, plus
    # 1 ulp per exp on each side: rtol 64 eps.
    # atol 0: entries are >= exp(-10) (1 + ...) > 4e-5, far from underflow.
    assert_allclose(K, expected, rtol=64 * EPS, atol=0.0)


def test_polynomial_against_sklearn(rng: np.random.Generator) -> None:
    degree, offset, gamma = KIND_PARAMS[codes.POLYNOMIAL]
    X = points(rng, codes.POLYNOMIAL, 37)
    Y = points(rng, codes.POLYNOMIAL, 53)
    K = gram_numba(codes.POLYNOMIAL, params_of(codes.POLYNOMIAL), X, Y)
    expected = polynomial_kernel(X, Y, degree=int(degree), gamma=gamma, coef0=offset)
    # Both bases t = gamma <x, y> + offset are within (d + 2) eps S of the exact one, with
    # S = gamma sum |x_k y_k| + offset; t -> t^degree has slope <= degree S^(degree - 1),
    # so each side is within degree (d + 2) eps S^degree plus 3 ulp of the power. Near t = 0
    # the relative error is unbounded: the test is absolute, with a factor 2 for two sides.
    S = float(gamma * (np.abs(X) @ np.abs(Y).T).max() + abs(offset))
    atol = 2 * degree * (X.shape[1] + 2) * EPS * S**degree
    # rtol: the power itself, <= 3 ulp on each side.
    assert_allclose(K, expected, rtol=8 * EPS, atol=atol)


def test_polynomial_negative_base_odd_degree() -> None:
    # (gamma <x, y> + offset) = -2 for x = -1, y = 1: (-2)^3 = -8 exactly, and (-2)^4 = 16.
    X = np.array([[-1.0]])
    Y = np.array([[1.0]])
    for degree, expected in [(3.0, -8.0), (4.0, 16.0), (1.0, -2.0)]:
        params = np.array([degree, 0.0, 2.0])
        # Exact: powers of 2 are representable, and every product along the way is too.
        assert gram_numba(codes.POLYNOMIAL, params, X, Y)[0, 0] == expected
        assert gram_numpy(codes.POLYNOMIAL, params, X, Y)[0, 0] == expected


def _scalar_kernel(kind: int, params: list[float], x: np.ndarray, y: np.ndarray) -> float:
    """The formula of codes.py, literally, with the math module."""
    xs = [float(v) for v in x]
    ys = [float(v) for v in y]
    if kind == codes.BROWNIAN:
        out = 1.0
        for a, b in zip(xs, ys, strict=True):
            out *= min(a, b)
        return out
    if kind == codes.PERIODIC:
        kappa, period = params
        return math.exp(
            kappa
            * sum(math.cos(2 * math.pi * (a - b) / period) for a, b in zip(xs, ys, strict=True))
        )
    if kind == codes.EXPDOT:
        return math.exp(sum(a * b for a, b in zip(xs, ys, strict=True)) / params[0])
    if kind in (codes.ARCCOS0, codes.ARCCOS1):
        nx = math.sqrt(sum(a * a for a in xs))
        ny = math.sqrt(sum(b * b for b in ys))
        if nx == 0.0 or ny == 0.0:
            return 0.5 if kind == codes.ARCCOS0 else 0.0
        # The angle in 200-bit arithmetic from the exact float inputs: a reference that is
        # accurate even at theta = 0 and pi, where acos of a float cosine loses 8 digits.
        with mpmath.workprec(200):
            dot = mpmath.fsum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(xs, ys, strict=True))
            norms = mpmath.sqrt(mpmath.fsum(mpmath.mpf(a) ** 2 for a in xs)) * mpmath.sqrt(
                mpmath.fsum(mpmath.mpf(b) ** 2 for b in ys)
            )
            theta = float(mpmath.acos(max(mpmath.mpf(-1), min(mpmath.mpf(1), dot / norms))))
        if kind == codes.ARCCOS0:
            return 1.0 - theta / math.pi
        return nx * ny * (math.sin(theta) + (math.pi - theta) * math.cos(theta)) / math.pi
    raise AssertionError(kind)  # pragma: no cover


# Tolerances against the scalar formula, per kind (values are O(1) on these points):
SCALAR_TOLERANCES = {
    # min is exact and the d - 1 = 2 products round the same way in the same order: 2 eps.
    # atol 0: zeros are exact zeros on both sides.
    codes.BROWNIAN: (2 * EPS, 0.0),
    # the literal formula rounds 2 pi (x - y) / period differently from w (x - y): the cos
    # argument (|.| <= 2 pi 2 / 1.7 < 8) is off by ~2 eps relative, i.e. <= 16 eps absolute
    # per cosine; x d = 3 x kappa = 0.6 < 32 eps relative in the exp, + 1 ulp: rtol 64 eps.
    # atol 0: values are >= exp(-kappa d) > 0.1.
    codes.PERIODIC: (64 * EPS, 0.0),
    # Kahan's angle formula is accurate to a few ulps of theta (<= pi) against the 200-bit
    # reference; sin / cos / atan2 within 1 ulp each in glibc: rtol and atol 16 eps.
    # At theta ~ pi the order-1 value cancels (sin(theta) + (pi - theta) cos(theta) ~ 0): its
    # absolute error is that of the terms, <= 16 eps |x| |y| <= 16 eps x 3.
    codes.ARCCOS0: (16 * EPS, 16 * EPS),
    codes.ARCCOS1: (16 * EPS, 48 * EPS),
    # one dot product (same order) and one exp: 2 ulp; atol 0 (values >= exp(-1.5)).
    codes.EXPDOT: (4 * EPS, 0.0),
}


@pytest.mark.parametrize("kind", sorted(SCALAR_TOLERANCES), ids=lambda k: KIND_NAMES[k])
def test_against_scalar_formula(kind: int, rng: np.random.Generator) -> None:
    X = points(rng, kind, 5)
    Y = points(rng, kind, 4)
    X[0] = 0.0  # zero vector (arc-cosine conventions; Brownian gives 0)
    Y[1, 0] = 0.0  # one zero coordinate (Brownian gives 0)
    params = KIND_PARAMS[kind]
    expected = np.array([[_scalar_kernel(kind, params, x, y) for y in Y] for x in X])
    rtol, atol = SCALAR_TOLERANCES[kind]
    assert_allclose(gram_numba(kind, params_of(kind), X, Y), expected, rtol=rtol, atol=atol)
    assert_allclose(gram_numpy(kind, params_of(kind), X, Y), expected, rtol=rtol, atol=atol)
    diag_expected = np.array([_scalar_kernel(kind, params, x, x) for x in X])
    assert_allclose(diag_numba(kind, params_of(kind), X), diag_expected, rtol=rtol, atol=atol)


# --- conventions and edge cases ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "at_zero"), [(codes.ARCCOS0, 0.5), (codes.ARCCOS1, 0.0)])
def test_arccos_zero_vector(kind: int, at_zero: float, rng: np.random.Generator) -> None:
    X = np.vstack([np.zeros((1, 3)), points(rng, kind, 3)])
    Y = np.vstack([points(rng, kind, 2), np.zeros((1, 3))])
    for K in (gram_numba(kind, np.empty(0), X, Y), gram_numpy(kind, np.empty(0), X, Y)):
        assert np.all(np.isfinite(K))
        assert_array_equal(K[0, :], at_zero)
        assert_array_equal(K[:, 2], at_zero)
    for f in (diag_numba, diag_numpy):
        assert f(kind, np.empty(0), X)[0] == at_zero
    for g in (paired_numba, paired_numpy):
        values = g(kind, np.empty(0), X[:3], Y)  # pairs (0, y_0), (x_1, y_1), (x_2, 0)
        assert values[0] == at_zero
        assert values[2] == at_zero
        assert np.isfinite(values[1])


@pytest.mark.parametrize("kind", [codes.ARCCOS0, codes.ARCCOS1], ids=["arccos0", "arccos1"])
def test_arccos_collinear_points_are_clipped(kind: int, rng: np.random.Generator) -> None:
    # y = c x: a computed cosine would be +-1 up to rounding, often just outside [-1, 1]
    # (NaN from arccos); the angle formula must stay finite and accurate here.
    X = rng.uniform(-1.0, 1.0, size=(200, 3))
    c = rng.uniform(0.1, 10.0, size=(200, 1)) * rng.choice([-1.0, 1.0], size=(200, 1))
    Y = c * X
    values = paired_numba(kind, np.empty(0), X, Y)
    assert np.all(np.isfinite(values))
    assert_twins(values, paired_numpy(kind, np.empty(0), X, Y))
    same = c[:, 0] > 0
    norms = np.linalg.norm(X, axis=1) * np.linalg.norm(Y, axis=1)
    # theta = 0 (same direction) or pi (opposite): order 0 gives 1 or 0, order 1 gives
    # |x||y| or 0. The unit vectors u, v agree (or are opposite) to ~2 eps per coordinate,
    # so Kahan's theta = 2 atan2(|u - v|, |u + v|) is within ~4 eps of 0 or pi: 16 eps
    # absolute on 1 - theta / pi and on sin(t) + (pi - t) cos(t) (over |x||y| for order 1).
    if kind == codes.ARCCOS0:
        assert_allclose(values, np.where(same, 1.0, 0.0), rtol=0, atol=16 * EPS)
    else:
        assert_allclose(values / norms, np.where(same, 1.0, 0.0), rtol=0, atol=16 * EPS)


def test_brownian_with_zeros() -> None:
    X = np.array([[0.0, 0.5], [0.25, 1.0], [0.0, 0.0]])
    Y = np.array([[1.0, 1.0], [0.5, 0.0]])
    # prod_i min(x_i, y_i), all products of exact binary fractions: exact.
    expected = np.array([[0.0, 0.0], [0.25, 0.0], [0.0, 0.0]])
    assert_array_equal(gram_numba(codes.BROWNIAN, np.empty(0), X, Y), expected)
    assert_array_equal(gram_numpy(codes.BROWNIAN, np.empty(0), X, Y), expected)
    assert_array_equal(diag_numba(codes.BROWNIAN, np.empty(0), X), [0.0, 0.25, 0.0])
    assert_array_equal(diag_numpy(codes.BROWNIAN, np.empty(0), X), [0.0, 0.25, 0.0])


def test_stationary_diagonal_is_one(rng: np.random.Generator) -> None:
    X = rng.uniform(-1.0, 1.0, size=(17, 4))
    for kind in (codes.GAUSSIAN, codes.LAPLACE, codes.MATERN32, codes.MATERN52):
        # r = 0 exactly, so every formula gives exactly 1.
        assert_array_equal(diag_numba(kind, params_of(kind), X), 1.0)
        assert_array_equal(np.diag(gram_numba(kind, params_of(kind), X, X)), 1.0)


def test_gaussian_underflow_is_zero_not_nan() -> None:
    X = np.array([[0.0]])
    Y = np.array([[1.0e3]])
    # exp(-1e6 / 2) underflows to exactly 0.
    assert gram_numba(codes.GAUSSIAN, np.array([1.0]), X, Y)[0, 0] == 0.0
    assert gram_numpy(codes.GAUSSIAN, np.array([1.0]), X, Y)[0, 0] == 0.0


# --- the checks the wrappers do --------------------------------------------------------------


@pytest.mark.parametrize("kind", [-1, codes.N_KINDS, 99])
def test_unknown_kind_raises(kind: int) -> None:
    X = np.zeros((2, 1))
    with pytest.raises(InvalidInputError, match=r"`kind` must be a kernel code in \[0, 10\)"):
        gram_numba(kind, np.array([1.0]), X, X)
    with pytest.raises(InvalidInputError, match="`kind` must be a kernel code"):
        gram_numpy(kind, np.array([1.0]), X, X)


def test_wrong_params_length_raises() -> None:
    X = np.zeros((2, 1))
    with pytest.raises(InvalidInputError, match=r"`params` of kernel kind 4 must be a vector of 3"):
        gram_numba(codes.POLYNOMIAL, np.array([2.0]), X, X)
    with pytest.raises(InvalidInputError, match=r"kind 0 must be a vector of 1 value\(s\)"):
        diag_numba(codes.GAUSSIAN, np.empty(0), X)
    with pytest.raises(InvalidInputError, match="got an array of shape"):
        paired_numpy(codes.BROWNIAN, np.array([1.0]), X, X)


def test_check_kind_params_accepts_numpy_ints() -> None:
    assert check_kind_params(np.int64(codes.PERIODIC), np.array([1.0, 2.0])) == codes.PERIODIC
