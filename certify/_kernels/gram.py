"""Gram matrices, diagonals and paired values of the kernels of :mod:`certify._kernels.codes`.

Every numba kernel here has a pure-numpy twin of the same signature
(``gram_numba`` / ``gram_numpy``, ``diag_numba`` / ``diag_numpy``,
``paired_numba`` / ``paired_numpy``); the formulas are those of the table in
:mod:`certify._kernels.codes`, written once for numba in the small ``_k_*``
functions below and once for numpy in :func:`_values_numpy`.

Inputs are assumed validated by the public layer: ``X`` and ``Y`` are
C-contiguous float64 arrays of shape ``(n, d)`` and ``(m, d)`` with finite
entries, ``params`` a float64 vector. Only the kind code and the length of
``params`` are re-checked here, because a wrong length would make the jitted
code read out of bounds.

Numerical conventions shared by both twins (so that they agree to a few ulps):

* squared distances and dot products are summed over the dimensions in order
  ``k = 0, ..., d - 1`` without fused multiply-adds;
* the Gaussian is evaluated as ``exp(-r^2 * c)`` with ``c = 0.5 / l^2``
  (equal to ``1 / (2 l^2)`` exactly, scaling by 2 being exact);
* the Matern kernels use ``a = (sqrt(3) / l) r`` and ``a = (sqrt(5) / l) r``,
  and ``5 r^2 / (3 l^2) = a^2 / 3``;
* the periodic kernel uses ``w = 2 pi / period`` and ``cos(w (x_k - y_k))``;
* the polynomial power is an integer power (negative bases allowed).

The arc-cosine kernels compute the angle with Kahan's formula
``theta = 2 atan2(|u - v|, |u + v|)`` for the unit vectors ``u = x/|x|``,
``v = y/|y|``: accurate to a few ulps everywhere, where ``arccos`` of a rounded
cosine would lose half the digits near ``theta = 0`` and ``pi`` (an error of
``sqrt(eps) ~ 1e-8`` at ``x = y``).

No work happens at import time: numba compiles each kernel on first call and
caches the machine code on disk (``cache=True``). ``fastmath`` is never used,
since these values feed certificates.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from certify._kernels.codes import (
    ARCCOS0,
    ARCCOS1,
    BROWNIAN,
    EXPDOT,
    GAUSSIAN,
    LAPLACE,
    MATERN32,
    MATERN52,
    N_KINDS,
    PERIODIC,
    POLYNOMIAL,
)
from certify.errors import InvalidInputError

__all__ = [
    "N_PARAMS",
    "check_kind_params",
    "diag_numba",
    "diag_numpy",
    "gram_numba",
    "gram_numpy",
    "paired_numba",
    "paired_numpy",
]

FloatArray = npt.NDArray[np.float64]

#: Length of the parameter vector of each kind (the ``params`` column of the
#: table in :mod:`certify._kernels.codes`).
N_PARAMS: tuple[int, ...] = (1, 1, 1, 1, 3, 0, 2, 0, 0, 1)

# Blocking. A parallel task owns at most TILE_ROWS rows of X (fewer when n is
# small, so that there are at least MIN_TASKS tasks); it sweeps Y in blocks of
# TILE_COLS points (256 * d * 8 bytes stay in L2 up to d of several hundred).
# The symmetric Gram matrix of one point set is computed in SYM_BLOCK x
# SYM_BLOCK blocks of its upper triangle. All sizes depend on the data sizes
# only, never on the thread count, so no result depends on the number of threads.
TILE_ROWS = 32
TILE_COLS = 256
SYM_BLOCK = 64
MIN_TASKS = 8


_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)


def check_kind_params(kind: int, params: FloatArray) -> int:
    """Return ``kind`` as an int after checking it and the length of ``params``.

    Parameters
    ----------
    kind : int
        A kind code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        The parameter vector of that kind.

    Returns
    -------
    int
        ``kind``.

    Raises
    ------
    InvalidInputError
        If ``kind`` is not a known code or ``params`` has the wrong shape.
    """
    code = int(kind)
    if not 0 <= code < N_KINDS:
        raise InvalidInputError(
            f"`kind` must be a kernel code in [0, {N_KINDS}) (see certify._kernels.codes); "
            f"got {kind!r}."
        )
    expected = N_PARAMS[code]
    if params.ndim != 1 or params.shape[0] != expected:
        raise InvalidInputError(
            f"`params` of kernel kind {code} must be a vector of {expected} value(s); "
            f"got an array of shape {params.shape}."
        )
    return code


# ---------------------------------------------------------------------------
# numba: scalar building blocks (one per formula of codes.py)
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _sqdist(X, i, Y, j):
    s = 0.0
    for k in range(X.shape[1]):
        t = X[i, k] - Y[j, k]
        s += t * t
    return s


@numba.njit(cache=True)
def _dot(X, i, Y, j):
    s = 0.0
    for k in range(X.shape[1]):
        s += X[i, k] * Y[j, k]
    return s


@numba.njit(cache=True)
def _ipow(base, exponent):
    # base ** exponent for an integer exponent >= 0, by repeated squaring.
    result = 1.0
    b = base
    e = exponent
    while e > 0:
        if e & 1:
            result *= b
        e >>= 1
        if e > 0:
            b *= b
    return result


@numba.njit(cache=True)
def _k_laplace(r2, inv_l):
    return np.exp(-(np.sqrt(r2) * inv_l))


@numba.njit(cache=True)
def _k_matern32(r2, s):
    a = s * np.sqrt(r2)
    return (1.0 + a) * np.exp(-a)


@numba.njit(cache=True)
def _k_matern52(r2, s):
    a = s * np.sqrt(r2)
    return (1.0 + a + a * a / 3.0) * np.exp(-a)


@numba.njit(cache=True)
def _k_brownian(X, i, Y, j):
    p = 1.0
    for k in range(X.shape[1]):
        x = X[i, k]
        y = Y[j, k]
        p *= x if x < y else y
    return p


@numba.njit(cache=True)
def _k_periodic(X, i, Y, j, kappa, w):
    s = 0.0
    for k in range(X.shape[1]):
        s += np.cos(w * (X[i, k] - Y[j, k]))
    return np.exp(kappa * s)


@numba.njit(cache=True)
def _k_arccos(X, i, Y, j, order):
    nx2 = 0.0
    ny2 = 0.0
    xy = 0.0
    for k in range(X.shape[1]):
        x = X[i, k]
        y = Y[j, k]
        nx2 += x * x
        ny2 += y * y
        xy += x * y
    nx = np.sqrt(nx2)
    ny = np.sqrt(ny2)
    if nx == 0.0 or ny == 0.0:
        return 0.5 if order == 0 else 0.0
    dm = 0.0
    dp = 0.0
    for k in range(X.shape[1]):
        u = X[i, k] / nx
        v = Y[j, k] / ny
        dm += (u - v) * (u - v)
        dp += (u + v) * (u + v)
    theta = 2.0 * np.arctan2(np.sqrt(dm), np.sqrt(dp))
    if order == 0:
        return 1.0 - theta / np.pi
    return nx * ny * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / np.pi


@numba.njit(cache=True)
def _pair_value(kind, params, X, i, Y, j):
    """k(X[i], Y[j]) for every kind of codes.py (the dispatch used by diag/paired)."""
    if kind == GAUSSIAN:
        return np.exp(-_sqdist(X, i, Y, j) * (0.5 / (params[0] * params[0])))
    if kind == LAPLACE:
        return _k_laplace(_sqdist(X, i, Y, j), 1.0 / params[0])
    if kind == MATERN32:
        return _k_matern32(_sqdist(X, i, Y, j), _SQRT3 / params[0])
    if kind == MATERN52:
        return _k_matern52(_sqdist(X, i, Y, j), _SQRT5 / params[0])
    if kind == POLYNOMIAL:
        base = params[2] * _dot(X, i, Y, j) + params[1]
        return _ipow(base, np.int64(params[0]))
    if kind == BROWNIAN:
        return _k_brownian(X, i, Y, j)
    if kind == PERIODIC:
        return _k_periodic(X, i, Y, j, params[0], 2.0 * np.pi / params[1])
    if kind == ARCCOS0:
        return _k_arccos(X, i, Y, j, 0)
    if kind == ARCCOS1:
        return _k_arccos(X, i, Y, j, 1)
    if kind == EXPDOT:
        return np.exp(_dot(X, i, Y, j) / params[0])
    return np.nan


@numba.njit(cache=True)
def fill_block(kind, params, X, Y, i0, i1, j0, j1, out, oi, oj):
    """Write k(X[i], Y[j]) into ``out[i - i0 + oi, j - j0 + oj]`` for the block.

    The kind dispatch is hoisted out of the pair loops: the cheap kinds get
    their own specialised loop, the others go through :func:`_pair_value`.
    Shared by the Gram matrix and the fused residual reductions, so that both
    compute bit-identical kernel values.
    """
    if kind == GAUSSIAN:
        c = 0.5 / (params[0] * params[0])
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = np.exp(-_sqdist(X, i, Y, j) * c)
    elif kind == LAPLACE:
        inv_l = 1.0 / params[0]
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = _k_laplace(_sqdist(X, i, Y, j), inv_l)
    elif kind == MATERN32:
        s = _SQRT3 / params[0]
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = _k_matern32(_sqdist(X, i, Y, j), s)
    elif kind == MATERN52:
        s = _SQRT5 / params[0]
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = _k_matern52(_sqdist(X, i, Y, j), s)
    elif kind == POLYNOMIAL:
        degree = np.int64(params[0])
        offset = params[1]
        gamma = params[2]
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = _ipow(gamma * _dot(X, i, Y, j) + offset, degree)
    elif kind == EXPDOT:
        scale = params[0]
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = np.exp(_dot(X, i, Y, j) / scale)
    else:
        for i in range(i0, i1):
            r = i - i0 + oi
            for j in range(j0, j1):
                out[r, j - j0 + oj] = _pair_value(kind, params, X, i, Y, j)


@numba.njit(cache=True)
def tile_rows(n):
    """Rows of X per parallel task: TILE_ROWS, or fewer so that small n still splits."""
    return max(1, min(TILE_ROWS, (n + MIN_TASKS - 1) // MIN_TASKS))


@numba.njit(cache=True)
def _gram_tile(kind, params, X, Y, out, i0, i1):
    m = Y.shape[0]
    for j0 in range(0, m, TILE_COLS):
        fill_block(kind, params, X, Y, i0, i1, j0, min(m, j0 + TILE_COLS), out, i0, j0)


@numba.njit(cache=True, parallel=True)
def _gram_impl(kind, params, X, Y, out):
    n = X.shape[0]
    rows = tile_rows(n)
    n_tiles = (n + rows - 1) // rows
    for t in numba.prange(n_tiles):
        i0 = np.int64(t) * rows
        _gram_tile(kind, params, X, Y, out, i0, min(n, i0 + rows))


@numba.njit(cache=True)
def _gram_sym_block_row(kind, params, X, out, b):
    # Blocks (b, b), (b, b + 1), ... of the upper triangle, each mirrored below.
    n = X.shape[0]
    i0 = b * SYM_BLOCK
    i1 = min(n, i0 + SYM_BLOCK)
    for j0 in range(i0, n, SYM_BLOCK):
        j1 = min(n, j0 + SYM_BLOCK)
        fill_block(kind, params, X, X, i0, i1, j0, j1, out, i0, j0)
        for j in range(j0, j1):  # rows of the mirror image, written contiguously
            for i in range(i0, min(i1, j)):
                out[j, i] = out[i, j]


@numba.njit(cache=True, parallel=True)
def _gram_sym_impl(kind, params, X, out):
    n = X.shape[0]
    n_blocks = (n + SYM_BLOCK - 1) // SYM_BLOCK
    # Task t owns block rows t and n_blocks - 1 - t: n_blocks + 1 blocks each,
    # which balances the triangle across threads.
    for t in numba.prange((n_blocks + 1) // 2):
        low = np.int64(t)
        high = n_blocks - 1 - low
        _gram_sym_block_row(kind, params, X, out, low)
        if high != low:
            _gram_sym_block_row(kind, params, X, out, high)


@numba.njit(cache=True, parallel=True)
def _paired_impl(kind, params, X, Y, out):
    for i in numba.prange(X.shape[0]):
        out[i] = _pair_value(kind, params, X, i, Y, i)


# ---------------------------------------------------------------------------
# Python-level entry points
# ---------------------------------------------------------------------------


def gram_numba(kind: int, params: FloatArray, X: FloatArray, Y: FloatArray) -> FloatArray:
    """Gram matrix ``K[i, j] = k(X[i], Y[j])`` (numba, parallel over row tiles).

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        C-contiguous float64 points (validated by the caller).
    Y : ndarray of shape (m, d)
        C-contiguous float64 points (validated by the caller).

    Returns
    -------
    ndarray of shape (n, m)
        The Gram matrix.

    Notes
    -----
    Every kernel of the table is symmetric, ``k(x, y) = k(y, x)``. When ``Y``
    is ``X`` (the same array, or a view with the same data, shape and strides)
    each pair is evaluated once, in blocks of the upper triangle that are then
    mirrored, which halves the work and makes the result exactly symmetric.
    Otherwise the rows of ``X`` are split into tiles evaluated in parallel.

    See Also
    --------
    gram_numpy : the pure-numpy twin.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import GAUSSIAN
    >>> X = np.array([[0.0], [1.0]])
    >>> K = gram_numba(GAUSSIAN, np.array([1.0]), X, X)
    >>> bool(np.allclose(K, [[1.0, np.exp(-0.5)], [np.exp(-0.5), 1.0]], rtol=1e-15, atol=0))
    True
    """
    code = check_kind_params(kind, params)
    # Allocated by numpy rather than inside the jitted code: numpy asks the OS for
    # huge pages on large arrays, which makes first-touch page faults much cheaper.
    out = np.empty((X.shape[0], Y.shape[0]), dtype=np.float64)
    if _same_points(X, Y):
        _gram_sym_impl(code, params, X, out)
    else:
        _gram_impl(code, params, X, Y, out)
    return out


def _same_points(X: FloatArray, Y: FloatArray) -> bool:
    """Whether ``X`` and ``Y`` are the same array (same data, shape and strides)."""
    if X is Y:
        return True
    return (
        X.shape == Y.shape
        and X.strides == Y.strides
        and X.__array_interface__["data"][0] == Y.__array_interface__["data"][0]
    )


def diag_numba(kind: int, params: FloatArray, X: FloatArray) -> FloatArray:
    """Diagonal values ``k(X[i], X[i])`` (numba).

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        C-contiguous float64 points.

    Returns
    -------
    ndarray of shape (n,)
        The diagonal of the Gram matrix of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import ARCCOS1
    >>> diag_numba(ARCCOS1, np.empty(0), np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([25.,  0.])
    """
    code = check_kind_params(kind, params)
    out = np.empty(X.shape[0], dtype=np.float64)
    _paired_impl(code, params, X, X, out)
    return out


def paired_numba(kind: int, params: FloatArray, X: FloatArray, Y: FloatArray) -> FloatArray:
    """Paired values ``k(X[i], Y[i])`` for equal-length ``X`` and ``Y`` (numba).

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X, Y : ndarray of shape (n, d)
        C-contiguous float64 points, as many in ``Y`` as in ``X``.

    Returns
    -------
    ndarray of shape (n,)
        The values ``k(X[i], Y[i])``.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import BROWNIAN
    >>> paired_numba(BROWNIAN, np.empty(0), np.array([[1.0, 2.0]]), np.array([[3.0, 0.5]]))
    array([0.5])
    """
    code = check_kind_params(kind, params)
    out = np.empty(X.shape[0], dtype=np.float64)
    _paired_impl(code, params, X, Y, out)
    return out


# ---------------------------------------------------------------------------
# numpy twins
# ---------------------------------------------------------------------------


def _values_numpy(kind: int, params: FloatArray, A: FloatArray, B: FloatArray) -> FloatArray:
    """k(a, b) for broadcastable point arrays ``A``, ``B`` of shape (..., d).

    ``A = X[:, None, :]``, ``B = Y[None, :, :]`` gives the Gram matrix and
    ``A = X``, ``B = Y`` the paired values. Sums over the ``d`` dimensions run
    in the same order as in the numba kernels.
    """
    d = A.shape[-1]
    shape = np.broadcast_shapes(A.shape[:-1], B.shape[:-1])
    cols_a = [A[..., k] for k in range(d)]
    cols_b = [B[..., k] for k in range(d)]

    def sqdist() -> FloatArray:
        s = np.zeros(shape)
        for a, b in zip(cols_a, cols_b, strict=True):
            s = s + (a - b) * (a - b)
        return s

    def dot(ca: list[FloatArray], cb: list[FloatArray]) -> FloatArray:
        s = np.zeros(shape)
        for a, b in zip(ca, cb, strict=True):
            s = s + a * b
        return s

    values: FloatArray
    if kind == GAUSSIAN:
        values = np.exp(-sqdist() * (0.5 / (params[0] * params[0])))
    elif kind == LAPLACE:
        values = np.exp(-(np.sqrt(sqdist()) * (1.0 / params[0])))
    elif kind == MATERN32:
        a = (_SQRT3 / params[0]) * np.sqrt(sqdist())
        values = (1.0 + a) * np.exp(-a)
    elif kind == MATERN52:
        a = (_SQRT5 / params[0]) * np.sqrt(sqdist())
        values = (1.0 + a + a * a / 3.0) * np.exp(-a)
    elif kind == POLYNOMIAL:
        base = params[2] * dot(cols_a, cols_b) + params[1]
        values = base ** int(params[0])
    elif kind == BROWNIAN:
        values = np.ones(shape)
        for a, b in zip(cols_a, cols_b, strict=True):
            values = values * np.minimum(a, b)
    elif kind == PERIODIC:
        w = 2.0 * np.pi / params[1]
        s = np.zeros(shape)
        for a, b in zip(cols_a, cols_b, strict=True):
            s = s + np.cos(w * (a - b))
        values = np.exp(params[0] * s)
    elif kind in (ARCCOS0, ARCCOS1):
        nx = np.sqrt(dot(cols_a, cols_a))
        ny = np.sqrt(dot(cols_b, cols_b))
        zero = (nx == 0.0) | (ny == 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 at zero vectors, masked below
            dm = np.zeros(shape)
            dp = np.zeros(shape)
            for a, b in zip(cols_a, cols_b, strict=True):
                u, v = a / nx, b / ny
                dm = dm + (u - v) ** 2
                dp = dp + (u + v) ** 2
            theta = 2.0 * np.arctan2(np.sqrt(dm), np.sqrt(dp))  # Kahan: accurate at 0 and pi
            if kind == ARCCOS0:
                values = np.where(zero, 0.5, 1.0 - theta / np.pi)
            else:
                arc1 = nx * ny * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / np.pi
                values = np.where(zero, 0.0, arc1)
    else:  # EXPDOT (check_kind_params has rejected unknown codes)
        values = np.exp(dot(cols_a, cols_b) / params[0])
    return values


def gram_numpy(kind: int, params: FloatArray, X: FloatArray, Y: FloatArray) -> FloatArray:
    """Pure-numpy twin of :func:`gram_numba` (broadcasting; clear rather than fast).

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

    Returns
    -------
    ndarray of shape (n, m)
        The Gram matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import POLYNOMIAL
    >>> gram_numpy(POLYNOMIAL, np.array([3.0, 0.0, 1.0]), np.array([[-1.0]]), np.array([[2.0]]))
    array([[-8.]])
    """
    code = check_kind_params(kind, params)
    return _values_numpy(code, params, X[:, None, :], Y[None, :, :])


def diag_numpy(kind: int, params: FloatArray, X: FloatArray) -> FloatArray:
    """Pure-numpy twin of :func:`diag_numba`.

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X : ndarray of shape (n, d)
        Float64 points.

    Returns
    -------
    ndarray of shape (n,)
        The values ``k(X[i], X[i])``.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import ARCCOS0
    >>> diag_numpy(ARCCOS0, np.empty(0), np.array([[1.0, 0.0], [0.0, 0.0]]))
    array([1. , 0.5])
    """
    code = check_kind_params(kind, params)
    return _values_numpy(code, params, X, X)


def paired_numpy(kind: int, params: FloatArray, X: FloatArray, Y: FloatArray) -> FloatArray:
    """Pure-numpy twin of :func:`paired_numba`.

    Parameters
    ----------
    kind : int
        Kernel code of :mod:`certify._kernels.codes`.
    params : ndarray of shape (n_params,)
        Float64 parameter vector of that kind.
    X, Y : ndarray of shape (n, d)
        Float64 points, as many in ``Y`` as in ``X``.

    Returns
    -------
    ndarray of shape (n,)
        The values ``k(X[i], Y[i])``.

    Examples
    --------
    >>> import numpy as np
    >>> from certify._kernels.codes import EXPDOT
    >>> paired_numpy(EXPDOT, np.array([2.0]), np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]]))
    array([1.64872127])
    """
    code = check_kind_params(kind, params)
    return _values_numpy(code, params, X, Y)
