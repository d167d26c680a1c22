"""Rigorous enclosures of an MLP and of its Jacobian over boxes, numba and pure numpy.

The network is passed *packed* (see :func:`pack_layers`): ``sizes`` holds the layer
widths ``(n_0, n_1, ..., n_L)``, ``w_flat`` the weight matrices ``W_l`` of shape
``(n_{l+1}, n_l)`` (PyTorch convention) concatenated in C order, ``b_flat`` the biases.
The activation ``act`` (a code of :data:`certify._kernels.mlp.ACTIVATION_CODES`) acts on
every hidden layer; the last layer is linear. Boxes are rows of ``lo`` and ``hi``, arrays
of shape ``(k, n_0)`` with ``lo <= hi`` (``lo == hi`` is a point).

Methods (:data:`METHOD_CODES`)
------------------------------
naive
    Interval arithmetic layer by layer.
mean_value
    ``phi(c) + J(box) (box - c)``, with ``c`` the box centre, ``phi(c)`` a rigorous point
    enclosure and ``J(box)`` the interval Jacobian (forward mode, below). Valid by the mean
    value theorem applied to each output along the segment from ``c`` to ``x``; for ReLU
    the network is piecewise linear along the segment and its derivative lies, almost
    everywhere on the segment, in ``J(box) (x - c)``, a convex set, hence so does the
    integral.
best
    The intersection of the two (both contain the exact value, so it is non-empty).

The Jacobian enclosure runs forward mode: ``J_1 = diag(act'(z_1)) W_0`` and
``J_{l+1} = diag(act'(z_{l+1})) W_l J_l``, the last layer without ``act'``, with ``z_l``
the interval pre-activations of the naive pass and ``act'`` enclosed by ``1 - tanh^2``,
``s (1 - s)`` (concave in ``s``: minimum at an end, maximum 1/4 when ``s`` can be 1/2),
``[0, 1]`` for ReLU where ``z`` can be 0 (Clarke's generalised derivative), 1 for linear.

Rounding argument
-----------------
Each interval affine map ``[z] = W [x] + b`` is evaluated as two ordinary float dot
products, ``s_lo = sum_k W_ok x_k^- + b_o`` and ``s_hi = sum_k W_ok x_k^+ + b_o`` (``x^-`` /
``x^+`` the end of ``[x_k]`` that minimises / maximises the term), in round-to-nearest,
together with ``T = sum_k |W_ok| max(|lo_k|, |hi_k|) + |b_o|``. Whatever the summation
order, with or without fused multiply-adds, every term of a dot product of ``n`` terms
that is summed as part of at most two further additions passes through at most ``n + 2``
roundings, so ``|computed - exact| <= gamma_{n+2} T_exact + n 2^-1074`` (Higham,
*Accuracy and Stability of Numerical Algorithms*, eq. 3.5; the last term bounds the
absolute errors of products that underflow, additions being exact there), with
``gamma_j = j u / (1 - j u)`` and ``u = 2^-53``. The computed ``T`` is at least
``(1 - gamma_{n+1}) T_exact - n 2^-1074``, so the error of either end is at most
``E = c_n T_computed + n 2^-1073`` with ``c_n = (n + 2) u (1 + 2^-20)``, valid for
``n < 2^31``. ``E`` is evaluated with upward widening (:func:`~certify._kernels.interval.up`)
and the ends become ``down(s_lo - E)`` and ``up(s_hi + E)``. This costs one rounding
argument per dot product instead of one widening per operation, and leaves point
enclosures about ``(n + 2) ulp(T)`` wide instead of ``~4 n``. If ``E`` is infinite or NaN
(overflow, or ``0 * inf``) the enclosure is the whole line.

Activations, interval products and sums use the primitives of
:mod:`certify._kernels.interval` (libm accuracy assumption documented there). The numpy
twins use the same formulas vectorised over boxes (BLAS sums in its own order, which the
bound above covers), so the twins return valid, not identical, enclosures.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from certify._kernels.interval import (
    down,
    iadd,
    imul,
    irelu,
    iscale,
    isigmoid,
    isqr,
    isub,
    itanh,
    up,
)
from certify._kernels.mlp import RELU, SIGMOID, TANH, _activate_numpy, _check_act
from certify.errors import InvalidInputError

__all__ = [
    "BEST",
    "MEAN_VALUE",
    "METHOD_CODES",
    "NAIVE",
    "enclose_jacobian_numba",
    "enclose_jacobian_numpy",
    "enclose_numba",
    "enclose_numpy",
    "mlp_jacobian_numpy",
    "pack_layers",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NAIVE = 0
MEAN_VALUE = 1
BEST = 2

#: Enclosure method name -> code understood by the kernels of this module.
METHOD_CODES: dict[str, int] = {"naive": NAIVE, "mean_value": MEAN_VALUE, "best": BEST}

_U = 2.0**-53
_COEF_SLACK = 1.0 + 2.0**-20  # 1 / (1 - 2 (n + 2) u) <= 1 + 2^-20 for n < 2^31
_ETA_UNIT = 2.0**-1073  # per-term allowance for products that underflow (2 x 2^-1074)
_MAX_FAN_IN = 2**31
_MAX = np.finfo(np.float64).max
_REL_OP = 2.0**-52
_REL_LIBM = 2.0**-48
_TINY = 5e-324

# Boxes per parallel task (scratch buffers are allocated once per task).
_TILE_BOXES = 32


def pack_layers(
    weights: Sequence[FloatArray], biases: Sequence[FloatArray]
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Pack validated layers into the flat arrays the kernels of this module take.

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l]`` of shape ``(n_{l+1}, n_l)``, float64.
    biases : sequence of ndarray
        ``biases[l]`` of shape ``(n_{l+1},)``, float64.

    Returns
    -------
    sizes : ndarray of int64, shape (n_layers + 1,)
        ``(n_0, n_1, ..., n_L)``.
    w_flat : ndarray of float64
        The weight matrices, each in C order, one after the other.
    b_flat : ndarray of float64
        The biases, one after the other.

    Raises
    ------
    InvalidInputError
        Empty or unequal sequences, or a fan-in of ``2^31`` or more (outside the
        rounding argument of this module).

    Examples
    --------
    >>> sizes, w, b = pack_layers([np.ones((3, 2)), np.ones((1, 3))], [np.zeros(3), np.zeros(1)])
    >>> sizes.tolist(), w.size, b.size
    ([2, 3, 1], 9, 4)
    """
    if len(weights) == 0 or len(weights) != len(biases):
        raise InvalidInputError(
            f"`weights` and `biases` must be non-empty sequences of the same length; got "
            f"{len(weights)} weight matrices and {len(biases)} bias vectors."
        )
    sizes = [int(weights[0].shape[1])] + [int(W.shape[0]) for W in weights]
    if max(sizes[:-1]) >= _MAX_FAN_IN:
        raise InvalidInputError(
            f"every layer must have fewer than 2^31 inputs (rounding bound); got {max(sizes)}."
        )
    w_flat = np.concatenate([np.ascontiguousarray(W, dtype=np.float64).ravel() for W in weights])
    b_flat = np.concatenate([np.asarray(b, dtype=np.float64).ravel() for b in biases])
    return np.asarray(sizes, dtype=np.int64), w_flat, b_flat


def _check_method(method: int) -> int:
    code = int(method)
    if code not in METHOD_CODES.values():
        raise InvalidInputError(
            f"`method` must be a method code in {sorted(METHOD_CODES.values())} "
            f"({METHOD_CODES}); got {method!r}."
        )
    return code


# --- numba: scalar building blocks ----------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _coef(n):
    """c_n = (n + 2) u (1 + 2^-20), exact for n < 2^31 (32 significant bits at most)."""
    return (n + 2.0) * _U * _COEF_SLACK


@numba.njit(cache=True, inline="always")
def _affine(Wf, base, n, xlo, xhi, b, coef, eta):
    """[sum_k Wf[base + k] [x_k] + b] rounded outward (see the module's rounding argument)."""
    slo = 0.0
    shi = 0.0
    t = 0.0
    for k in range(n):
        w = Wf[base + k]
        a = xlo[k]
        c = xhi[k]
        if w >= 0.0:
            slo += w * a
            shi += w * c
        else:
            slo += w * c
            shi += w * a
        t += abs(w) * max(abs(a), abs(c))
    slo += b
    shi += b
    t += abs(b)
    e = up(up(coef * t) + eta)
    if not e < np.inf:  # overflow or NaN (0 * inf): no information
        return -np.inf, np.inf
    return down(slo - e), up(shi + e)


@numba.njit(cache=True, inline="always")
def _iact(act, lo, hi):
    if act == TANH:
        return itanh(lo, hi)
    if act == SIGMOID:
        return isigmoid(lo, hi)
    if act == RELU:
        return irelu(lo, hi)
    return lo, hi


@numba.njit(cache=True, inline="always")
def _s_one_minus_s(s):
    """s (1 - s) at a float s, as an interval."""
    olo, ohi = isub(1.0, 1.0, s, s)
    return imul(s, s, olo, ohi)


@numba.njit(cache=True, inline="always")
def _iact_deriv(act, zlo, zhi):
    """An enclosure of act'(z) over [zlo, zhi] (Clarke's [0, 1] for ReLU at 0)."""
    if act == TANH:
        tlo, thi = itanh(zlo, zhi)
        qlo, qhi = isqr(tlo, thi)
        dlo, dhi = isub(1.0, 1.0, qlo, qhi)
        return max(dlo, 0.0), min(dhi, 1.0)
    if act == SIGMOID:
        slo, shi = isigmoid(zlo, zhi)
        alo, ahi = _s_one_minus_s(slo)
        blo, bhi = _s_one_minus_s(shi)
        hi = 0.25 if slo <= 0.5 <= shi else max(ahi, bhi)
        return max(min(alo, blo), 0.0), min(hi, 0.25)
    if act == RELU:
        if zlo > 0.0:
            return 1.0, 1.0
        if zhi < 0.0:
            return 0.0, 0.0
        return 0.0, 1.0
    return 1.0, 1.0


# --- numba: one box --------------------------------------------------------------------------
@numba.njit(cache=True)
def _box_forward(sizes, Wf, bf, act, xlo, xhi, alo, ahi, blo, bhi, zlo, zhi, out_lo, out_hi):
    """Naive interval forward pass of one box; hidden pre-activations go to zlo, zhi."""
    n_layers = sizes.shape[0] - 1
    for k in range(sizes[0]):
        alo[k] = xlo[k]
        ahi[k] = xhi[k]
    wbase = 0
    bbase = 0
    zbase = 0
    for layer in range(n_layers):
        n_in = sizes[layer]
        n_out = sizes[layer + 1]
        coef = _coef(n_in)
        eta = n_in * _ETA_UNIT
        if layer == n_layers - 1:
            for o in range(n_out):
                out_lo[o], out_hi[o] = _affine(
                    Wf, wbase + o * n_in, n_in, alo, ahi, bf[bbase + o], coef, eta
                )
        else:
            for o in range(n_out):
                lo, hi = _affine(Wf, wbase + o * n_in, n_in, alo, ahi, bf[bbase + o], coef, eta)
                zlo[zbase + o] = lo
                zhi[zbase + o] = hi
                blo[o], bhi[o] = _iact(act, lo, hi)
            zbase += n_out
            alo, blo = blo, alo
            ahi, bhi = bhi, ahi
        wbase += n_in * n_out
        bbase += n_out


@numba.njit(cache=True)
def _box_jacobian(sizes, Wf, act, zlo, zhi, Jalo, Jahi, Jblo, Jbhi, out_lo, out_hi):
    """Forward-mode interval Jacobian of one box from its pre-activations; out (m, d).

    Jalo ... Jbhi are scratch of shape (d, max width): Jacobians stored transposed, so
    that column j of layer l's Jacobian is the contiguous row J[j].
    """
    n_layers = sizes.shape[0] - 1
    d = sizes[0]
    n1 = sizes[1]
    if n_layers == 1:  # phi(x) = W x + b
        for o in range(n1):
            for j in range(d):
                out_lo[o, j] = Wf[o * d + j]
                out_hi[o, j] = Wf[o * d + j]
        return
    for k in range(n1):  # first hidden layer: act'(z_1) W_0, with W_0 exact
        dlo, dhi = _iact_deriv(act, zlo[k], zhi[k])
        for j in range(d):
            Jalo[j, k], Jahi[j, k] = iscale(Wf[k * d + j], dlo, dhi)
    wbase = n1 * d
    zbase = n1
    for layer in range(1, n_layers):
        n_in = sizes[layer]
        n_out = sizes[layer + 1]
        coef = _coef(n_in)
        eta = n_in * _ETA_UNIT
        if layer == n_layers - 1:
            for o in range(n_out):
                for j in range(d):
                    out_lo[o, j], out_hi[o, j] = _affine(
                        Wf, wbase + o * n_in, n_in, Jalo[j], Jahi[j], 0.0, coef, eta
                    )
        else:
            for o in range(n_out):
                dlo, dhi = _iact_deriv(act, zlo[zbase + o], zhi[zbase + o])
                for j in range(d):
                    lo, hi = _affine(Wf, wbase + o * n_in, n_in, Jalo[j], Jahi[j], 0.0, coef, eta)
                    Jblo[j, o], Jbhi[j, o] = imul(dlo, dhi, lo, hi)
            zbase += n_out
            Jalo, Jblo = Jblo, Jalo
            Jahi, Jbhi = Jbhi, Jahi
        wbase += n_in * n_out


@numba.njit(cache=True, parallel=True)
def _enclose_impl(sizes, Wf, bf, act, method, lo, hi, out_lo, out_hi):
    n_boxes = lo.shape[0]
    d = sizes[0]
    m = sizes[sizes.shape[0] - 1]
    width = 0
    n_hidden = 0
    for layer in range(sizes.shape[0]):
        width = max(width, sizes[layer])
        if 0 < layer < sizes.shape[0] - 1:
            n_hidden += sizes[layer]
    n_tiles = (n_boxes + _TILE_BOXES - 1) // _TILE_BOXES
    for t in numba.prange(n_tiles):
        alo = np.empty(width)
        ahi = np.empty(width)
        blo = np.empty(width)
        bhi = np.empty(width)
        zlo = np.empty(max(n_hidden, 1))
        zhi = np.empty(max(n_hidden, 1))
        Jalo = np.empty((d, width))
        Jahi = np.empty((d, width))
        Jblo = np.empty((d, width))
        Jbhi = np.empty((d, width))
        J_lo = np.empty((m, d))
        J_hi = np.empty((m, d))
        nlo = np.empty(m)
        nhi = np.empty(m)
        plo = np.empty(m)
        phi = np.empty(m)
        c = np.empty(d)
        dlo = np.empty(d)
        dhi = np.empty(d)
        i0 = np.int64(t) * _TILE_BOXES
        for i in range(i0, min(n_boxes, i0 + _TILE_BOXES)):
            xlo = lo[i]
            xhi = hi[i]
            if method == NAIVE:
                _box_forward(
                    sizes, Wf, bf, act, xlo, xhi, alo, ahi, blo, bhi, zlo, zhi, out_lo[i], out_hi[i]
                )
                continue
            _box_forward(sizes, Wf, bf, act, xlo, xhi, alo, ahi, blo, bhi, zlo, zhi, nlo, nhi)
            _box_jacobian(sizes, Wf, act, zlo, zhi, Jalo, Jahi, Jblo, Jbhi, J_lo, J_hi)
            for j in range(d):
                # A float inside the box (the clamp guards against underflow of 0.5 x).
                c[j] = min(max(0.5 * xlo[j] + 0.5 * xhi[j], xlo[j]), xhi[j])
                dlo[j], dhi[j] = isub(xlo[j], xhi[j], c[j], c[j])
            _box_forward(sizes, Wf, bf, act, c, c, alo, ahi, blo, bhi, zlo, zhi, plo, phi)
            for o in range(m):
                slo = plo[o]
                shi = phi[o]
                for j in range(d):
                    qlo, qhi = imul(J_lo[o, j], J_hi[o, j], dlo[j], dhi[j])
                    slo, shi = iadd(slo, shi, qlo, qhi)
                if not (slo == slo and shi == shi):  # inf * 0 met: no information
                    slo = -np.inf
                    shi = np.inf
                if method == BEST:
                    slo = max(slo, nlo[o])
                    shi = min(shi, nhi[o])
                out_lo[i, o] = slo
                out_hi[i, o] = shi


@numba.njit(cache=True, parallel=True)
def _jacobian_impl(sizes, Wf, bf, act, lo, hi, J_lo, J_hi):
    n_boxes = lo.shape[0]
    d = sizes[0]
    m = sizes[sizes.shape[0] - 1]
    width = 0
    n_hidden = 0
    for layer in range(sizes.shape[0]):
        width = max(width, sizes[layer])
        if 0 < layer < sizes.shape[0] - 1:
            n_hidden += sizes[layer]
    n_tiles = (n_boxes + _TILE_BOXES - 1) // _TILE_BOXES
    for t in numba.prange(n_tiles):
        alo = np.empty(width)
        ahi = np.empty(width)
        blo = np.empty(width)
        bhi = np.empty(width)
        zlo = np.empty(max(n_hidden, 1))
        zhi = np.empty(max(n_hidden, 1))
        Jalo = np.empty((d, width))
        Jahi = np.empty((d, width))
        Jblo = np.empty((d, width))
        Jbhi = np.empty((d, width))
        nlo = np.empty(m)
        nhi = np.empty(m)
        i0 = np.int64(t) * _TILE_BOXES
        for i in range(i0, min(n_boxes, i0 + _TILE_BOXES)):
            _box_forward(sizes, Wf, bf, act, lo[i], hi[i], alo, ahi, blo, bhi, zlo, zhi, nlo, nhi)
            _box_jacobian(sizes, Wf, act, zlo, zhi, Jalo, Jahi, Jblo, Jbhi, J_lo[i], J_hi[i])


def enclose_numba(
    sizes: IntArray,
    w_flat: FloatArray,
    b_flat: FloatArray,
    act: int,
    lo: FloatArray,
    hi: FloatArray,
    method: int,
) -> tuple[FloatArray, FloatArray]:
    """Enclose the MLP's outputs over boxes (numba, parallel over boxes).

    For every box ``b`` and every real ``x`` with ``lo[b] <= x <= hi[b]``, the exact
    (real-arithmetic) network output ``phi(x)`` satisfies
    ``out_lo[b] <= phi(x) <= out_hi[b]`` componentwise.

    Parameters
    ----------
    sizes, w_flat, b_flat : ndarray
        The packed network, from :func:`pack_layers`.
    act : int
        Activation code of the hidden layers.
    lo, hi : ndarray of shape (k, n_0)
        C-contiguous float64 box corners, ``lo <= hi``.
    method : int
        A value of :data:`METHOD_CODES`.

    Returns
    -------
    out_lo, out_hi : ndarray of shape (k, n_L)
        The enclosure.

    See Also
    --------
    enclose_numpy : the pure-numpy twin.

    Examples
    --------
    >>> from certify._kernels.mlp import ACTIVATION_CODES
    >>> net = pack_layers([np.array([[2.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    >>> out_lo, out_hi = enclose_numba(*net, ACTIVATION_CODES["tanh"], np.array([[0.5]]),
    ...                                np.array([[0.5]]), METHOD_CODES["best"])
    >>> bool(out_lo[0, 0] < np.tanh(1.0) < out_hi[0, 0])
    True
    """
    code = _check_act(act)
    meth = _check_method(method)
    out_lo = np.empty((lo.shape[0], int(sizes[-1])), dtype=np.float64)
    out_hi = np.empty_like(out_lo)
    _enclose_impl(sizes, w_flat, b_flat, code, meth, lo, hi, out_lo, out_hi)
    return out_lo, out_hi


def enclose_jacobian_numba(
    sizes: IntArray,
    w_flat: FloatArray,
    b_flat: FloatArray,
    act: int,
    lo: FloatArray,
    hi: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Enclose the MLP's Jacobian over boxes (numba, forward mode, parallel over boxes).

    For every box ``b`` and every ``x`` in it where ``phi`` is differentiable,
    ``J_lo[b] <= D phi(x) <= J_hi[b]`` entrywise (for ReLU: every element of Clarke's
    generalised Jacobian obtained by the chain rule).

    Parameters
    ----------
    sizes, w_flat, b_flat : ndarray
        The packed network, from :func:`pack_layers`.
    act : int
        Activation code of the hidden layers.
    lo, hi : ndarray of shape (k, n_0)
        C-contiguous float64 box corners, ``lo <= hi``.

    Returns
    -------
    J_lo, J_hi : ndarray of shape (k, n_L, n_0)
        The enclosure.

    See Also
    --------
    enclose_jacobian_numpy : the pure-numpy twin.

    Examples
    --------
    >>> from certify._kernels.mlp import ACTIVATION_CODES
    >>> net = pack_layers([np.array([[2.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    >>> J_lo, J_hi = enclose_jacobian_numba(*net, ACTIVATION_CODES["tanh"], np.array([[0.0]]),
    ...                                     np.array([[0.0]]))
    >>> bool(J_lo[0, 0, 0] <= 2.0 <= J_hi[0, 0, 0])  # d/dx tanh(2 x) at 0
    True
    """
    code = _check_act(act)
    k = lo.shape[0]
    J_lo = np.empty((k, int(sizes[-1]), int(sizes[0])), dtype=np.float64)
    J_hi = np.empty_like(J_lo)
    _jacobian_impl(sizes, w_flat, b_flat, code, lo, hi, J_lo, J_hi)
    return J_lo, J_hi


# --- numpy twins -----------------------------------------------------------------------------
def _down_np(x: FloatArray, rel: float = _REL_OP) -> FloatArray:
    with np.errstate(invalid="ignore", over="ignore"):
        y = x - (np.abs(x) * rel + _TINY)
    y = np.where(x == np.inf, _MAX, y)
    return np.where(x == -np.inf, -np.inf, y)


def _up_np(x: FloatArray, rel: float = _REL_OP) -> FloatArray:
    return -_down_np(-x, rel)


def _imul_np(
    alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.stack([alo * blo, alo * bhi, ahi * blo, ahi * bhi])
    return _down_np(p.min(axis=0)), _up_np(p.max(axis=0))


def _affine_np(
    W: FloatArray, b: FloatArray | float, xlo: FloatArray, xhi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """[x] @ W.T + b over the last axis of xlo, xhi (rows), rounded outward."""
    n = W.shape[1]
    Wp = np.maximum(W, 0.0)
    Wn = np.minimum(W, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        slo = (xlo @ Wp.T + xhi @ Wn.T) + b
        shi = (xhi @ Wp.T + xlo @ Wn.T) + b
        t = np.maximum(np.abs(xlo), np.abs(xhi)) @ np.abs(W).T + np.abs(b)
        coef = (n + 2.0) * _U * _COEF_SLACK
        e = _up_np(_up_np(coef * t) + n * _ETA_UNIT)
        bad = ~(e < np.inf)
        out_lo = _down_np(slo - e)
        out_hi = _up_np(shi + e)
    out_lo[bad] = -np.inf
    out_hi[bad] = np.inf
    return out_lo, out_hi


def _sigmoid_np(z: FloatArray) -> FloatArray:
    return _activate_numpy(np.asarray(z, dtype=np.float64), SIGMOID)


def _iact_np(act: int, lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    if act == TANH:
        return (
            np.maximum(_down_np(np.tanh(lo), _REL_LIBM), -1.0),
            np.minimum(_up_np(np.tanh(hi), _REL_LIBM), 1.0),
        )
    if act == SIGMOID:
        slo = _down_np(_down_np(_sigmoid_np(lo), _REL_LIBM), _REL_LIBM)
        shi = _up_np(_up_np(_sigmoid_np(hi), _REL_LIBM), _REL_LIBM)
        return np.maximum(slo, 0.0), np.minimum(shi, 1.0)
    if act == RELU:
        return np.maximum(lo, 0.0), np.maximum(hi, 0.0)
    return lo, hi


def _iact_deriv_np(act: int, zlo: FloatArray, zhi: FloatArray) -> tuple[FloatArray, FloatArray]:
    if act == TANH:
        tlo, thi = _iact_np(TANH, zlo, zhi)
        m = np.maximum(np.abs(tlo), np.abs(thi))
        qhi = _up_np(m * m)
        qlo = np.where((tlo <= 0.0) & (thi >= 0.0), 0.0, _down_np(np.minimum(tlo * tlo, thi * thi)))
        return np.maximum(_down_np(1.0 - qhi), 0.0), np.minimum(_up_np(1.0 - qlo), 1.0)
    if act == SIGMOID:
        slo, shi = _iact_np(SIGMOID, zlo, zhi)
        ends = []
        for s in (slo, shi):
            olo, ohi = _down_np(1.0 - s), _up_np(1.0 - s)
            ends.append(_imul_np(s, s, olo, ohi))
        lo = np.minimum(ends[0][0], ends[1][0])
        hi = np.where((slo <= 0.5) & (shi >= 0.5), 0.25, np.maximum(ends[0][1], ends[1][1]))
        return np.maximum(lo, 0.0), np.minimum(hi, 0.25)
    if act == RELU:
        lo = np.where(zlo > 0.0, 1.0, 0.0)
        hi = np.where(zhi < 0.0, 0.0, 1.0)
        return lo, hi
    return np.ones_like(zlo), np.ones_like(zlo)


def _unpack(
    sizes: IntArray, w_flat: FloatArray, b_flat: FloatArray
) -> list[tuple[FloatArray, FloatArray]]:
    layers = []
    wb = bb = 0
    for n_in, n_out in itertools.pairwise(sizes.tolist()):
        layers.append(
            (w_flat[wb : wb + n_in * n_out].reshape(n_out, n_in), b_flat[bb : bb + n_out])
        )
        wb += n_in * n_out
        bb += n_out
    return layers


def _forward_np(
    layers: list[tuple[FloatArray, FloatArray]], act: int, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray, list[tuple[FloatArray, FloatArray]]]:
    zs: list[tuple[FloatArray, FloatArray]] = []
    alo, ahi = lo, hi
    for layer, (W, b) in enumerate(layers):
        zlo, zhi = _affine_np(W, b, alo, ahi)
        if layer == len(layers) - 1:
            return zlo, zhi, zs
        zs.append((zlo, zhi))
        alo, ahi = _iact_np(act, zlo, zhi)
    raise AssertionError("unreachable: at least one layer")  # pragma: no cover


def _jacobian_np(
    layers: list[tuple[FloatArray, FloatArray]],
    act: int,
    zs: list[tuple[FloatArray, FloatArray]],
    k: int,
) -> tuple[FloatArray, FloatArray]:
    W0 = layers[0][0]
    Jlo = np.broadcast_to(W0, (k, *W0.shape)).copy()
    Jhi = Jlo.copy()
    for layer in range(1, len(layers)):
        dlo, dhi = _iact_deriv_np(act, *zs[layer - 1])
        Jlo, Jhi = _imul_np(dlo[:, :, None], dhi[:, :, None], Jlo, Jhi)
        W = layers[layer][0]
        # (k, n_in, d) -> (k, d, n_in) rows for _affine_np, then back.
        glo, ghi = _affine_np(W, 0.0, Jlo.transpose(0, 2, 1), Jhi.transpose(0, 2, 1))
        Jlo, Jhi = glo.transpose(0, 2, 1), ghi.transpose(0, 2, 1)
    return np.ascontiguousarray(Jlo), np.ascontiguousarray(Jhi)


def enclose_numpy(
    sizes: IntArray,
    w_flat: FloatArray,
    b_flat: FloatArray,
    act: int,
    lo: FloatArray,
    hi: FloatArray,
    method: int,
) -> tuple[FloatArray, FloatArray]:
    """Pure-numpy twin of :func:`enclose_numba` (vectorised over boxes).

    Examples
    --------
    >>> from certify._kernels.mlp import ACTIVATION_CODES
    >>> net = pack_layers([np.array([[2.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    >>> out_lo, out_hi = enclose_numpy(*net, ACTIVATION_CODES["tanh"], np.array([[0.0]]),
    ...                                np.array([[0.5]]), METHOD_CODES["naive"])
    >>> bool(out_lo[0, 0] <= 0.0 and np.tanh(1.0) <= out_hi[0, 0])
    True
    """
    code = _check_act(act)
    meth = _check_method(method)
    layers = _unpack(sizes, w_flat, b_flat)
    nlo, nhi, zs = _forward_np(layers, code, lo, hi)
    if meth == NAIVE:
        return nlo, nhi
    Jlo, Jhi = _jacobian_np(layers, code, zs, lo.shape[0])
    c = np.minimum(np.maximum(0.5 * lo + 0.5 * hi, lo), hi)
    plo, phi, _ = _forward_np(layers, code, c, c)
    dlo = _down_np(lo - c)
    dhi = _up_np(hi - c)
    slo, shi = plo, phi
    for j in range(lo.shape[1]):
        qlo, qhi = _imul_np(Jlo[:, :, j], Jhi[:, :, j], dlo[:, j : j + 1], dhi[:, j : j + 1])
        with np.errstate(invalid="ignore"):
            slo, shi = _down_np(slo + qlo), _up_np(shi + qhi)
    bad = np.isnan(slo) | np.isnan(shi)
    slo = np.where(bad, -np.inf, slo)
    shi = np.where(bad, np.inf, shi)
    if meth == BEST:
        slo = np.maximum(slo, nlo)
        shi = np.minimum(shi, nhi)
    return slo, shi


def enclose_jacobian_numpy(
    sizes: IntArray,
    w_flat: FloatArray,
    b_flat: FloatArray,
    act: int,
    lo: FloatArray,
    hi: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Pure-numpy twin of :func:`enclose_jacobian_numba` (vectorised over boxes).

    Examples
    --------
    >>> from certify._kernels.mlp import ACTIVATION_CODES
    >>> net = pack_layers([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])],
    ...                   [np.zeros(2), np.zeros(1)])
    >>> J_lo, J_hi = enclose_jacobian_numpy(*net, ACTIVATION_CODES["relu"],
    ...                                     np.array([[-1.0]]), np.array([[1.0]]))
    >>> J_lo.ravel().tolist(), J_hi.ravel().tolist()  # d|x|/dx in [-1, 1] (Clarke at 0)
    ([-1.0], [1.0])
    """
    code = _check_act(act)
    layers = _unpack(sizes, w_flat, b_flat)
    _, _, zs = _forward_np(layers, code, lo, hi)
    return _jacobian_np(layers, code, zs, lo.shape[0])


def mlp_jacobian_numpy(
    X: FloatArray, weights: Sequence[FloatArray], biases: Sequence[FloatArray], act: int
) -> FloatArray:
    """Float Jacobians ``D phi(x)`` at points (forward mode; the float twin of the enclosure).

    ReLU's derivative at exactly 0 is taken as 0 (PyTorch's convention).

    Parameters
    ----------
    X : ndarray of shape (n, n_0)
        Float64 points.
    weights, biases : sequence of ndarray
        The layers, ``weights[l]`` of shape ``(n_{l+1}, n_l)``.
    act : int
        Activation code of the hidden layers.

    Returns
    -------
    ndarray of shape (n, n_L, n_0)
        ``J[i, o, j] = d phi_o / d x_j`` at ``X[i]``.

    Examples
    --------
    >>> from certify._kernels.mlp import ACTIVATION_CODES
    >>> J = mlp_jacobian_numpy(np.array([[0.0]]), [np.array([[2.0]]), np.array([[3.0]])],
    ...                        [np.zeros(1), np.zeros(1)], ACTIVATION_CODES["tanh"])
    >>> J.tolist()  # 3 tanh'(0) 2
    [[[6.0]]]
    """
    code = _check_act(act)
    n, d = X.shape
    h = X
    J = np.broadcast_to(np.eye(d), (n, d, d))
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = h @ W.T + b
        Jz = np.matmul(W, J)
        if layer == len(weights) - 1:
            return np.ascontiguousarray(Jz)
        h = _activate_numpy(z, code)
        if code == TANH:
            dz = 1.0 - h * h
        elif code == SIGMOID:
            dz = h * (1.0 - h)
        elif code == RELU:
            dz = (z > 0.0).astype(np.float64)
        else:
            dz = np.ones_like(z)
        J = dz[:, :, None] * Jz
    raise AssertionError("unreachable: at least one layer")  # pragma: no cover
