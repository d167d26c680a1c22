"""Fused residual reductions: max and weighted sum of squares of ``k(x_i, y_j) - <P_i, Q_j>``.

The model ``<P_i, Q_j>`` (``P[i] = phi(x_i)``, ``Q[j] = psi(y_j)``) is compared
with the relation on all pairs of two point sets without forming the ``(n, m)``
residual matrix: the jitted kernels sweep it in tiles of at most ``TILE_ROWS``
rows (as the Gram matrix, see :mod:`certify._kernels.gram`) and
``RESIDUAL_TILE_COLS`` columns, each parallel task keeping its
own running maximum or partial sum, and a serial pass combines the per-task
results in task order, so that the result does not depend on the number of
threads. Extra memory: one tile buffer per running task plus ``O(n)``
per-task results.

Conventions shared by every implementation here (numba, numpy twin, blocked):

* the maximum is of ``|residual|``; ties go to the smallest flat index
  ``i * m + j`` (the first in row-major order);
* if any residual is NaN the value is NaN and ``(i, j)`` the first NaN pair in
  row-major order; otherwise, if any residual is infinite, the value is inf
  (and ``(i, j)`` the first infinite pair, by the tie rule);
* the residual is ``k - <P_i, Q_j>`` evaluated in float64 without fused
  multiply-adds (the jitted kernels subtract the products four features at a
  time, ``((p0 q0 + p1 q1) + (p2 q2 + p3 q3))``); the numpy twins use BLAS for
  ``P @ Q.T`` and so agree to rounding, not bit for bit.

A sampled maximum is an estimate of the sup over a domain (a lower bound),
never a proof of an upper bound (DESIGN.md, "Certificates").
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import numpy.typing as npt

from certify._kernels.gram import (
    check_kind_params,
    fill_block,
    gram_numpy,
    tile_rows,
)
from certify._validation import check_int, describe
from certify.errors import InvalidInputError

__all__ = [
    "BLOCK_ENTRIES",
    "RESIDUAL_TILE_COLS",
    "residual_max_blocked",
    "residual_max_numba",
    "residual_max_numpy",
    "residual_sumsq_blocked",
    "residual_sumsq_numba",
    "residual_sumsq_numpy",
]

FloatArray = npt.NDArray[np.float64]
Evaluate = Callable[[FloatArray, FloatArray], npt.ArrayLike]

# Columns per block of the fused reductions: a tile buffer (<= 32 x 128) and Q's
# block transposed (n_features x 128) stay in L1/L2 while the block is swept.
RESIDUAL_TILE_COLS = 128

#: Entries of one block of the relation matrix in the blocked fallback
#: (``2**20`` float64 values, 8 MiB).
BLOCK_ENTRIES = 2**20


# ---------------------------------------------------------------------------
# numba
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _subtract_features(P, i, row, qt, width):
    """row[jj] -= <P[i], Q[j0 + jj]>, four features per pass (qt is Q's block transposed)."""
    n_features = P.shape[1]
    f = 0
    while f + 4 <= n_features:
        p0 = P[i, f]
        p1 = P[i, f + 1]
        p2 = P[i, f + 2]
        p3 = P[i, f + 3]
        q0 = qt[f]
        q1 = qt[f + 1]
        q2 = qt[f + 2]
        q3 = qt[f + 3]
        for jj in range(width):
            row[jj] -= (p0 * q0[jj] + p1 * q1[jj]) + (p2 * q2[jj] + p3 * q3[jj])
        f += 4
    while f < n_features:
        p = P[i, f]
        q = qt[f]
        for jj in range(width):
            row[jj] -= p * q[jj]
        f += 1


@numba.njit(cache=True)
def _residual_block(kind, params, X, Y, P, Q, i0, i1, j0, j1, buf, qt):
    """buf[ii, jj] = k(X[i0 + ii], Y[j0 + jj]) - <P[i0 + ii], Q[j0 + jj]>."""
    fill_block(kind, params, X, Y, i0, i1, j0, j1, buf, 0, 0)
    width = j1 - j0
    # Q's block transposed, so that the updates run along contiguous memory.
    for f in range(P.shape[1]):
        for jj in range(width):
            qt[f, jj] = Q[j0 + jj, f]
    for ii in range(i1 - i0):
        _subtract_features(P, i0 + ii, buf[ii], qt, width)


@numba.njit(cache=True)
def _residual_max_tile(kind, params, X, Y, P, Q, i0, i1):
    """(max |residual|, its flat index, flat index of the first NaN or -1) over rows i0:i1."""
    m = Y.shape[0]
    buf = np.empty((i1 - i0, RESIDUAL_TILE_COLS), dtype=np.float64)
    qt = np.empty((P.shape[1], RESIDUAL_TILE_COLS), dtype=np.float64)
    best = -1.0
    best_flat = -1
    nan_flat = -1
    for j0 in range(0, m, RESIDUAL_TILE_COLS):
        j1 = min(m, j0 + RESIDUAL_TILE_COLS)
        _residual_block(kind, params, X, Y, P, Q, i0, i1, j0, j1, buf, qt)
        for ii in range(i1 - i0):
            row = buf[ii]
            row_flat = (i0 + ii) * m + j0
            for jj in range(j1 - j0):
                v = abs(row[jj])
                if v > best:
                    best = v
                    best_flat = row_flat + jj
                elif v == best:
                    # column blocks are swept before rows: keep the first in row-major order
                    if row_flat + jj < best_flat:
                        best_flat = row_flat + jj
                elif v != v and (nan_flat < 0 or row_flat + jj < nan_flat):
                    nan_flat = row_flat + jj
    return best, best_flat, nan_flat


@numba.njit(cache=True, parallel=True)
def _residual_max_impl(kind, params, X, Y, P, Q):
    n = X.shape[0]
    m = Y.shape[0]
    rows = tile_rows(n)
    n_tiles = (n + rows - 1) // rows
    tile_best = np.empty(n_tiles, dtype=np.float64)
    tile_flat = np.empty(n_tiles, dtype=np.int64)
    tile_nan = np.empty(n_tiles, dtype=np.int64)
    for t in numba.prange(n_tiles):
        i0 = np.int64(t) * rows
        best, flat, nan_flat = _residual_max_tile(kind, params, X, Y, P, Q, i0, min(n, i0 + rows))
        tile_best[t] = best
        tile_flat[t] = flat
        tile_nan[t] = nan_flat
    # Serial reduction in tile order (= row-major order of the pairs).
    for t in range(n_tiles):
        if tile_nan[t] >= 0:
            return np.nan, tile_nan[t] // m, tile_nan[t] % m
    best = tile_best[0]
    flat = tile_flat[0]
    for t in range(1, n_tiles):
        if tile_best[t] > best:
            best = tile_best[t]
            flat = tile_flat[t]
    return best, flat // m, flat % m


@numba.njit(cache=True)
def _residual_sumsq_tile(kind, params, X, Y, P, Q, wx, wy, i0, i1):
    """sum over rows i0:i1 of wx_i sum_j wy_j residual_ij^2."""
    m = Y.shape[0]
    buf = np.empty((i1 - i0, RESIDUAL_TILE_COLS), dtype=np.float64)
    qt = np.empty((P.shape[1], RESIDUAL_TILE_COLS), dtype=np.float64)
    row_sums = np.zeros(i1 - i0, dtype=np.float64)
    for j0 in range(0, m, RESIDUAL_TILE_COLS):
        j1 = min(m, j0 + RESIDUAL_TILE_COLS)
        _residual_block(kind, params, X, Y, P, Q, i0, i1, j0, j1, buf, qt)
        for ii in range(i1 - i0):
            row = buf[ii]
            s = 0.0
            for jj in range(j1 - j0):
                r = row[jj]
                s += wy[j0 + jj] * (r * r)
            row_sums[ii] += s
    total = 0.0
    for ii in range(i1 - i0):
        total += wx[i0 + ii] * row_sums[ii]
    return total


@numba.njit(cache=True, parallel=True)
def _residual_sumsq_impl(kind, params, X, Y, P, Q, wx, wy):
    n = X.shape[0]
    rows = tile_rows(n)
    n_tiles = (n + rows - 1) // rows
    partial = np.empty(n_tiles, dtype=np.float64)
    for t in numba.prange(n_tiles):
        i0 = np.int64(t) * rows
        partial[t] = _residual_sumsq_tile(kind, params, X, Y, P, Q, wx, wy, i0, min(n, i0 + rows))
    total = 0.0
    for t in range(n_tiles):
        total += partial[t]
    return total


def residual_max_numba(
    kind: int,
    params: FloatArray,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
) -> tuple[float, int, int]:
    """``max_ij |k(X[i], Y[j]) - <P[i], Q[j]>|`` and its argmax, fused (numba).

    Parallel over row tiles; no ``(n, m)`` array is formed.

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        C-contiguous float64 points, ``n >= 1``.
    Y : ndarray of shape (m, d)
        C-contiguous float64 points, ``m >= 1``.
    P : ndarray of shape (n, n_features)
        Features of the points ``X`` (C-contiguous float64).
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y`` (C-contiguous float64).

    Returns
    -------
    value : float
        The largest absolute residual; NaN if any residual is NaN, else inf if
        any is infinite.
    i, j : int
        Where it is attained: the first such pair in row-major order.

    Raises
    ------
    InvalidInputError
        If ``kind`` or the length of ``params`` is wrong, or ``X`` or ``Y`` is empty.

    See Also
    --------
    residual_max_numpy : the pure-numpy twin.
    residual_max_blocked : the same reduction for any relation given as a callable.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import POLYNOMIAL
    >>> X = np.array([[1.0], [2.0]])
    >>> # k(x, y) = x y (degree 1, offset 0, gamma 1); the model 0 leaves |x y|.
    >>> residual_max_numba(POLYNOMIAL, np.array([1.0, 0.0, 1.0]), X, X, np.zeros((2, 1)),
    ...                    np.zeros((2, 1)))
    (4.0, 1, 1)
    """
    code = check_kind_params(kind, params)
    _check_nonempty(X, Y)
    value, i, j = _residual_max_impl(code, params, X, Y, P, Q)
    return float(value), int(i), int(j)


def residual_sumsq_numba(
    kind: int,
    params: FloatArray,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
    wx: FloatArray,
    wy: FloatArray,
) -> float:
    """``sum_ij wx_i wy_j (k(X[i], Y[j]) - <P[i], Q[j]>)^2``, fused (numba).

    Per-tile partial sums (parallel), then a serial sum in tile order.

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        C-contiguous float64 points.
    Y : ndarray of shape (m, d)
        C-contiguous float64 points.
    P : ndarray of shape (n, n_features)
        Features of the points ``X``.
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y``.
    wx : ndarray of shape (n,)
        Weights of the points ``X`` (quadrature weights; ones for a plain sum).
    wy : ndarray of shape (m,)
        Weights of the points ``Y``.

    Returns
    -------
    float
        The weighted sum of squared residuals (NaN or inf propagate).

    See Also
    --------
    residual_sumsq_numpy : the pure-numpy twin.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import GAUSSIAN
    >>> X = np.array([[0.0], [5.0]])
    >>> ones = np.ones(2)
    >>> # the model <P_i, Q_j> = 1 is exact on the diagonal and off by 1 - exp(-12.5) elsewhere
    >>> s = residual_sumsq_numba(GAUSSIAN, np.array([1.0]), X, X, ones[:, None], ones[:, None],
    ...                          ones, ones)
    >>> bool(np.isclose(s, 2 * (1 - np.exp(-12.5)) ** 2, rtol=1e-14, atol=0))
    True
    """
    code = check_kind_params(kind, params)
    return float(_residual_sumsq_impl(code, params, X, Y, P, Q, wx, wy))


# ---------------------------------------------------------------------------
# numpy twins (references: they materialise the (n, m) residual)
# ---------------------------------------------------------------------------


def _argmax_abs(R: FloatArray) -> tuple[float, int]:
    """Max of ``|R|`` and its flat index with the NaN / first-occurrence rules.

    ``np.argmax`` returns the first NaN if there is one, else the first maximum.
    """
    A = np.abs(R)
    flat = int(np.argmax(A))
    return float(A.flat[flat]), flat


def residual_max_numpy(
    kind: int,
    params: FloatArray,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
) -> tuple[float, int, int]:
    """Pure-numpy twin of :func:`residual_max_numba` (forms the ``(n, m)`` residual).

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        Float64 points.
    Y : ndarray of shape (m, d)
        Float64 points.
    P : ndarray of shape (n, n_features)
        Features of the points ``X``.
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y``.

    Returns
    -------
    value : float
        The largest absolute residual (NaN / inf rules as in the numba version).
    i, j : int
        Where it is attained (first in row-major order).

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import BROWNIAN
    >>> X = np.array([[1.0], [2.0]])
    >>> residual_max_numpy(BROWNIAN, np.empty(0), X, X, np.full((2, 1), np.nan), np.ones((2, 1)))
    (nan, 0, 0)
    """
    _check_nonempty(X, Y)
    R = gram_numpy(kind, params, X, Y) - P @ Q.T
    value, flat = _argmax_abs(R)
    m = Y.shape[0]
    return value, flat // m, flat % m


def residual_sumsq_numpy(
    kind: int,
    params: FloatArray,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
    wx: FloatArray,
    wy: FloatArray,
) -> float:
    """Pure-numpy twin of :func:`residual_sumsq_numba` (forms the ``(n, m)`` residual).

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        Float64 points.
    Y : ndarray of shape (m, d)
        Float64 points.
    P : ndarray of shape (n, n_features)
        Features of the points ``X``.
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y``.
    wx : ndarray of shape (n,)
        Weights of the points ``X``.
    wy : ndarray of shape (m,)
        Weights of the points ``Y``.

    Returns
    -------
    float
        ``sum_ij wx_i wy_j (k(X[i], Y[j]) - <P[i], Q[j]>)^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import BROWNIAN
    >>> X = np.array([[1.0], [2.0]])
    >>> residual_sumsq_numpy(BROWNIAN, np.empty(0), X, X, np.zeros((2, 1)), np.zeros((2, 1)),
    ...                      np.ones(2), np.array([1.0, 0.5]))
    4.5
    """
    R = gram_numpy(kind, params, X, Y) - P @ Q.T
    return float(np.sum(wx[:, None] * wy[None, :] * (R * R)))


# ---------------------------------------------------------------------------
# blocked fallback for relations without a numba kind
# ---------------------------------------------------------------------------


def _check_nonempty(X: FloatArray, Y: FloatArray) -> None:
    if X.shape[0] == 0 or Y.shape[0] == 0:
        raise InvalidInputError(
            "`X` and `Y` must hold at least one point each for a maximum over pairs; got "
            f"{X.shape[0]} and {Y.shape[0]} points."
        )


def _block_rows(m: int, block_rows: int | None) -> int:
    if block_rows is None:
        return max(1, BLOCK_ENTRIES // max(m, 1))
    return check_int(block_rows, "block_rows", minimum=1, what="rows per block")


def _evaluate_block(evaluate: Evaluate, Xb: FloatArray, Y: FloatArray) -> FloatArray:
    values = np.asarray(evaluate(Xb, Y), dtype=np.float64)
    expected = (Xb.shape[0], Y.shape[0])
    if values.shape != expected:
        raise InvalidInputError(
            f"`evaluate(Xb, Y)` must return the matrix of relation values of shape {expected} "
            f"for a block of {Xb.shape[0]} rows; got {describe(values)}."
        )
    return values


def residual_max_blocked(
    evaluate: Evaluate,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
    *,
    block_rows: int | None = None,
) -> tuple[float, int, int]:
    """``max_ij |r(X[i], Y[j]) - <P[i], Q[j]>|`` for a relation given as a callable.

    The generic fallback of :func:`residual_max_numba` for relations without a
    numba kind (user callables, sympy expressions): the rows of ``X`` are
    taken in blocks, so at most one ``(block_rows, m)`` block is alive at a time.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(Xb, Y)`` returns the ``(b, m)`` matrix of relation values
        ``r(Xb[a], Y[j])`` for a block ``Xb`` of ``b`` rows of ``X``.
    X : ndarray of shape (n, x_dim)
        Float64 points.
    Y : ndarray of shape (m, y_dim)
        Float64 points.
    P : ndarray of shape (n, n_features)
        Features of the points ``X``.
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y``.
    block_rows : int, optional
        Rows per block; default: enough for about ``2**20`` entries per block.

    Returns
    -------
    value : float
        The largest absolute residual; NaN if any residual is NaN, else inf if
        any is infinite.
    i, j : int
        Where it is attained: the first such pair in row-major order.

    Raises
    ------
    InvalidInputError
        If ``X`` or ``Y`` is empty, ``block_rows`` is not an int >= 1, or
        ``evaluate`` returns an array of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> product = lambda A, B: A @ B.T
    >>> residual_max_blocked(product, X, X, X, np.zeros((3, 1)), block_rows=2)
    (9.0, 2, 2)
    """
    _check_nonempty(X, Y)
    m = Y.shape[0]
    rows = _block_rows(m, block_rows)
    best = -1.0
    best_flat = 0
    for r0 in range(0, X.shape[0], rows):
        r1 = min(X.shape[0], r0 + rows)
        R = _evaluate_block(evaluate, X[r0:r1], Y) - P[r0:r1] @ Q.T
        value, flat = _argmax_abs(R)
        if np.isnan(value):  # blocks come in row order: this is the first NaN overall
            return value, r0 + flat // m, flat % m
        if value > best:  # strict: an equal value in a later block comes later
            best = value
            best_flat = r0 * m + flat
    return best, best_flat // m, best_flat % m


def residual_sumsq_blocked(
    evaluate: Evaluate,
    X: FloatArray,
    Y: FloatArray,
    P: FloatArray,
    Q: FloatArray,
    wx: FloatArray,
    wy: FloatArray,
    *,
    block_rows: int | None = None,
) -> float:
    """``sum_ij wx_i wy_j (r(X[i], Y[j]) - <P[i], Q[j]>)^2`` for a relation given as a callable.

    The generic fallback of :func:`residual_sumsq_numba`, over blocks of rows.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(Xb, Y)`` returns the ``(b, m)`` matrix of relation values
        for a block ``Xb`` of ``b`` rows of ``X``.
    X : ndarray of shape (n, x_dim)
        Float64 points.
    Y : ndarray of shape (m, y_dim)
        Float64 points.
    P : ndarray of shape (n, n_features)
        Features of the points ``X``.
    Q : ndarray of shape (m, n_features)
        Features of the points ``Y``.
    wx : ndarray of shape (n,)
        Weights of the points ``X``.
    wy : ndarray of shape (m,)
        Weights of the points ``Y``.
    block_rows : int, optional
        Rows per block; default: enough for about ``2**20`` entries per block.

    Returns
    -------
    float
        The weighted sum of squared residuals (NaN or inf propagate).

    Raises
    ------
    InvalidInputError
        If ``block_rows`` is not an int >= 1, or ``evaluate`` returns an array
        of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0]])
    >>> residual_sumsq_blocked(lambda A, B: A @ B.T, X, X, X, X, np.ones(2), np.ones(2))
    0.0
    """
    rows = _block_rows(Y.shape[0], block_rows)
    total = 0.0
    for r0 in range(0, X.shape[0], rows):
        r1 = min(X.shape[0], r0 + rows)
        R = _evaluate_block(evaluate, X[r0:r1], Y) - P[r0:r1] @ Q.T
        total += float(wx[r0:r1] @ ((R * R) @ wy))
    return total
