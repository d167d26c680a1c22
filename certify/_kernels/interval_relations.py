"""Interval enclosures of relation values and Clarke gradients over box pairs (numba).

For ``k`` box pairs ``X_i x Y_i`` (rows of ``xlo, xhi`` and ``ylo, yhi``) every
function here returns intervals ``[value_lo, value_hi]`` holding ``r(x, y)`` for
all ``(x, y)`` in the pair and, on request, componentwise intervals holding every
element of the (joint) Clarke generalized gradient of ``r`` projected on ``x``
and on ``y``. For differentiable ``r`` that is the gradient; at kinks
(``|x - y|`` at 0, ``min(x, y)`` at ``x = y``) it is the convex hull of the nearby
gradients, which is what Lebourg's mean-value theorem needs:
``r(z) - r(c) = <g, z - c>`` for some ``g`` in the Clarke gradient at a point of
the segment ``[c, z]``. Where ``r`` jumps (arc-cosine order 0 at the origin, a
``sign`` or ``Heaviside`` in an expression) the gradient bounds are ``-inf, inf``.

Every operation is outward rounded with the primitives of
:mod:`certify._kernels.interval` (and its libm accuracy assumption). Products and
quotients that can meet infinite ends (an overflowed ``exp``, a division by an
interval holding 0) use :func:`~certify._kernels.interval.imul_ext` /
:func:`~certify._kernels.interval.idiv_ext`. Any NaN left in a result (an
"unknown") is turned into an infinite bound before it leaves this module.

Three families:

* the kernels of :mod:`certify._kernels.codes` (:func:`enclose_kernel`), one
  hand-written enclosure per formula, tight in the sense that the value range is
  exact up to rounding for the monotone profiles of the stationary kernels;
* bilinear forms ``x^T W y`` (:func:`enclose_bilinear`);
* sympy expressions (:func:`compile_expression`): Python source is generated
  from the sympy tree (value and each partial derivative from ``sympy.diff``),
  executed in a namespace holding the primitives and jitted by numba.

Inputs are assumed validated by the public layer (:meth:`Relation.enclose`):
C-contiguous float64 arrays with finite entries and ``lo <= hi``.

No pure-numpy twin: the independent check of these enclosures is the test suite,
which evaluates the relations in 200-bit mpmath at points of the boxes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import sympy as sp

from certify._kernels import interval as _iv
from certify._kernels.codes import (
    ARCCOS0,
    ARCCOS1,
    BROWNIAN,
    EXPDOT,
    GAUSSIAN,
    LAPLACE,
    MATERN32,
    MATERN52,
    PERIODIC,
    POLYNOMIAL,
)
from certify._kernels.gram import check_kind_params
from certify._kernels.interval import down as _down
from certify._kernels.interval import up as _up

__all__ = [
    "SUPPORTED_EXPRESSION_NODES",
    "compile_expression",
    "enclose_bilinear",
    "enclose_kernel",
]

FloatArray = npt.NDArray[np.float64]

# math.pi is below pi (3.14159265358979311... < 3.14159265358979323...), the next float above it.
_PI_LO = math.pi
_PI_HI = math.nextafter(math.pi, math.inf)
_INF = np.inf


# ---------------------------------------------------------------------------
# The primitives of interval.py are ``inline="always"`` (inlined in numba IR at every
# call site), which makes large callers slow to compile. These thin wrappers inline each
# primitive once; LLVM still inlines the wrappers into the machine code.
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def iadd(alo, ahi, blo, bhi):
    return _iv.iadd(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def isub(alo, ahi, blo, bhi):
    return _iv.isub(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def ineg(alo, ahi):
    return _iv.ineg(alo, ahi)


@numba.njit(cache=True)
def iscale(c, alo, ahi):
    return _iv.iscale(c, alo, ahi)


@numba.njit(cache=True)
def imul(alo, ahi, blo, bhi):
    return _iv.imul(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def imul_ext(alo, ahi, blo, bhi):
    return _iv.imul_ext(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def idiv(alo, ahi, blo, bhi):
    return _iv.idiv(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def idiv_ext(alo, ahi, blo, bhi):
    return _iv.idiv_ext(alo, ahi, blo, bhi)


@numba.njit(cache=True)
def isqr(alo, ahi):
    return _iv.isqr(alo, ahi)


@numba.njit(cache=True)
def ipow(alo, ahi, n):
    return _iv.ipow(alo, ahi, n)


@numba.njit(cache=True)
def isqrt(alo, ahi):
    return _iv.isqrt(alo, ahi)


@numba.njit(cache=True)
def iexp(alo, ahi):
    return _iv.iexp(alo, ahi)


@numba.njit(cache=True)
def ilog(alo, ahi):
    return _iv.ilog(alo, ahi)


@numba.njit(cache=True)
def itanh(alo, ahi):
    return _iv.itanh(alo, ahi)


@numba.njit(cache=True)
def iatan(alo, ahi):
    return _iv.iatan(alo, ahi)


@numba.njit(cache=True)
def iatan2(ylo, yhi, xlo, xhi):
    return _iv.iatan2(ylo, yhi, xlo, xhi)


@numba.njit(cache=True)
def icos(alo, ahi):
    return _iv.icos(alo, ahi)


@numba.njit(cache=True)
def isin(alo, ahi):
    return _iv.isin(alo, ahi)


@numba.njit(cache=True)
def iabs(alo, ahi):
    return _iv.iabs(alo, ahi)


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _fix(lo, hi):
    """An unknown (NaN) end becomes an infinite bound."""
    if lo != lo:
        lo = -_INF
    if hi != hi:
        hi = _INF
    return lo, hi


@numba.njit(cache=True)
def _clamp(lo, hi, a, b):
    """[lo, hi] intersected with a known range [a, b] of the exact value (never empty)."""
    return max(lo, a), min(hi, b)


@numba.njit(cache=True)
def _store_grad(i, k, glo, ghi, gxlo, gxhi, gylo, gyhi, x_is_minus_y):
    """Write grad_x = -g and grad_y = g (``x_is_minus_y``), or the other sign."""
    glo, ghi = _fix(glo, ghi)
    if x_is_minus_y:
        gxlo[i, k] = -ghi
        gxhi[i, k] = -glo
        gylo[i, k] = glo
        gyhi[i, k] = ghi
    else:
        gxlo[i, k] = glo
        gxhi[i, k] = ghi
        gylo[i, k] = -ghi
        gyhi[i, k] = -glo


# ---------------------------------------------------------------------------
# stationary kernels: f(r), r = |x - y|
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _sq_distance(xlo, xhi, ylo, yhi, i):
    """[r^2] = sum_k [x_k - y_k]^2 (isqr per coordinate: uses the whole difference interval)."""
    slo = 0.0
    shi = 0.0
    for k in range(xlo.shape[1]):
        dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
        qlo, qhi = isqr(dlo, dhi)
        slo, shi = iadd(slo, shi, qlo, qhi)
    return max(slo, 0.0), shi


@numba.njit(cache=True)
def _matern_poly(kind, p):
    """Enclosure at the point a = p of (1 + a) e^-a (kind MATERN32) or
    (1 + a + a^2/3) e^-a (kind MATERN52), both decreasing for a >= 0."""
    elo, ehi = iexp(-p, -p)
    plo, phi = iadd(1.0, 1.0, p, p)
    if kind == MATERN52:
        s_lo, s_hi = isqr(p, p)
        t_lo, t_hi = idiv(s_lo, s_hi, 3.0, 3.0)
        plo, phi = iadd(plo, phi, t_lo, t_hi)
    return imul_ext(plo, phi, elo, ehi)


@numba.njit(cache=True)
def _stationary(kind, params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    ell = params[0]
    slo, shi = _sq_distance(xlo, xhi, ylo, yhi, i)
    l2lo, l2hi = isqr(ell, ell)
    l2lo = max(l2lo, 0.0)
    d = xlo.shape[1]
    if kind == GAUSSIAN:
        # k = exp(-r^2 c), c = 1 / (2 l^2): decreasing in r^2, so exact range from [r^2].
        clo, chi = idiv_ext(1.0, 1.0, 2.0 * l2lo, 2.0 * l2hi)
        tlo, thi = imul_ext(slo, shi, clo, chi)
        klo, khi = iexp(-thi, -tlo)
        klo, khi = _clamp(klo, khi, 0.0, 1.0)
        vlo[i], vhi[i] = _fix(klo, khi)
        if want_grad:
            # grad_x = -(x - y) / l^2 k, grad_y = -grad_x.
            ilo, ihi = idiv_ext(1.0, 1.0, l2lo, l2hi)
            flo, fhi = imul_ext(klo, khi, ilo, ihi)
            for k in range(d):
                dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
                glo, ghi = imul_ext(dlo, dhi, flo, fhi)
                _store_grad(i, k, glo, ghi, gxlo, gxhi, gylo, gyhi, True)
        return
    rlo, rhi = isqrt(slo, shi)
    if kind == LAPLACE:
        # k = exp(-a), a = r / l.
        alo, ahi = idiv_ext(rlo, rhi, ell, ell)
        alo = max(alo, 0.0)
        klo, khi = iexp(-ahi, -alo)
        klo, khi = _clamp(klo, khi, 0.0, 1.0)
        vlo[i], vhi[i] = _fix(klo, khi)
        if want_grad:
            # grad_x = -(x - y) / (r l) e^-a; (x_k - y_k) / r is in [-1, 1] (the Clarke hull
            # at r = 0), intersected with the interval quotient when r > 0 on the whole pair.
            flo, fhi = idiv_ext(klo, khi, ell, ell)
            for k in range(d):
                ulo, uhi = -1.0, 1.0
                if rlo > 0.0:
                    dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
                    qlo, qhi = idiv_ext(dlo, dhi, rlo, rhi)
                    ulo, uhi = _clamp(qlo, qhi, -1.0, 1.0)
                glo, ghi = imul_ext(ulo, uhi, flo, fhi)
                _store_grad(i, k, glo, ghi, gxlo, gxhi, gylo, gyhi, True)
        return
    # Matern: a = sqrt(nu2) r / l with nu2 = 3 or 5.
    nu2 = 3.0 if kind == MATERN32 else 5.0
    s_lo, s_hi = isqrt(nu2, nu2)
    s_lo, s_hi = idiv_ext(s_lo, s_hi, ell, ell)
    alo, ahi = imul_ext(s_lo, s_hi, rlo, rhi)
    alo = max(alo, 0.0)
    # The profile is decreasing in a: its range is [f(ahi), f(alo)].
    klo = _matern_poly(kind, ahi)[0]
    khi = _matern_poly(kind, alo)[1]
    klo, khi = _clamp(klo, khi, 0.0, 1.0)
    vlo[i], vhi[i] = _fix(klo, khi)
    if not want_grad:
        return
    if kind == MATERN32:
        # grad_x = -(3 / l^2) e^-a (x - y); e^-a decreasing.
        flo, fhi = iexp(-ahi, -alo)
        clo, chi = idiv_ext(3.0, 3.0, l2lo, l2hi)
    else:
        # grad_x = -(5 / (3 l^2)) (1 + a) e^-a (x - y); (1 + a) e^-a decreasing.
        flo = _matern_poly(MATERN32, ahi)[0]
        fhi = _matern_poly(MATERN32, alo)[1]
        t_lo, t_hi = iscale(3.0, l2lo, l2hi)
        clo, chi = idiv_ext(5.0, 5.0, t_lo, t_hi)
    flo, fhi = imul_ext(max(flo, 0.0), fhi, clo, chi)
    for k in range(d):
        dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
        glo, ghi = imul_ext(dlo, dhi, flo, fhi)
        _store_grad(i, k, glo, ghi, gxlo, gxhi, gylo, gyhi, True)


# ---------------------------------------------------------------------------
# dot-product kernels
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _dot(xlo, xhi, ylo, yhi, i):
    """[<x, y>] = sum_k [x_k] [y_k] (each coordinate pair once: exact range up to rounding)."""
    slo = 0.0
    shi = 0.0
    for k in range(xlo.shape[1]):
        plo, phi = imul(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
        slo, shi = iadd(slo, shi, plo, phi)
    return slo, shi


@numba.njit(cache=True)
def _dot_grads(i, flo, fhi, xlo, xhi, ylo, yhi, gxlo, gxhi, gylo, gyhi):
    """grad_x = f y and grad_y = f x for a scalar factor interval f."""
    for k in range(xlo.shape[1]):
        glo, ghi = imul_ext(flo, fhi, ylo[i, k], yhi[i, k])
        gxlo[i, k], gxhi[i, k] = _fix(glo, ghi)
        glo, ghi = imul_ext(flo, fhi, xlo[i, k], xhi[i, k])
        gylo[i, k], gyhi[i, k] = _fix(glo, ghi)


@numba.njit(cache=True)
def _polynomial(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    degree = np.int64(params[0])
    offset = params[1]
    gamma = params[2]
    dlo, dhi = _dot(xlo, xhi, ylo, yhi, i)
    blo, bhi = iscale(gamma, dlo, dhi)
    blo, bhi = iadd(blo, bhi, offset, offset)
    klo, khi = ipow(blo, bhi, degree)
    vlo[i], vhi[i] = _fix(klo, khi)
    if want_grad:
        # grad_x = degree gamma (gamma <x, y> + c)^(degree - 1) y.
        plo, phi = ipow(blo, bhi, degree - 1)
        clo, chi = imul(float(degree), float(degree), gamma, gamma)
        flo, fhi = imul_ext(plo, phi, clo, chi)
        _dot_grads(i, flo, fhi, xlo, xhi, ylo, yhi, gxlo, gxhi, gylo, gyhi)


@numba.njit(cache=True)
def _expdot(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    scale = params[0]
    dlo, dhi = _dot(xlo, xhi, ylo, yhi, i)
    alo, ahi = idiv_ext(dlo, dhi, scale, scale)
    klo, khi = iexp(alo, ahi)
    vlo[i], vhi[i] = _fix(klo, khi)
    if want_grad:
        # grad_x = y / s exp(<x, y> / s).
        flo, fhi = idiv_ext(klo, khi, scale, scale)
        _dot_grads(i, flo, fhi, xlo, xhi, ylo, yhi, gxlo, gxhi, gylo, gyhi)


# ---------------------------------------------------------------------------
# Brownian: prod_k min(x_k, y_k) on x, y >= 0
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _brownian(xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    d = xlo.shape[1]
    plo = 1.0
    phi = 1.0
    for k in range(d):
        # min is monotone in both arguments: [min(lo), min(hi)] exactly.
        plo, phi = imul(plo, phi, min(xlo[i, k], ylo[i, k]), min(xhi[i, k], yhi[i, k]))
    vlo[i], vhi[i] = _fix(max(plo, 0.0), phi)
    if not want_grad:
        return
    for k in range(d):
        # prod_{j != k} min(x_j, y_j) >= 0
        qlo = 1.0
        qhi = 1.0
        for j in range(d):
            if j != k:
                qlo, qhi = imul(qlo, qhi, min(xlo[i, j], ylo[i, j]), min(xhi[i, j], yhi[i, j]))
        qlo = max(qlo, 0.0)
        # Clarke gradient of min(x_k, y_k) in x_k: 1 where certainly x_k < y_k, 0 where
        # certainly x_k > y_k, [0, 1] when the pair can tie (including at the boundary).
        if xhi[i, k] < ylo[i, k]:
            gxlo[i, k], gxhi[i, k] = qlo, qhi
            gylo[i, k], gyhi[i, k] = 0.0, 0.0
        elif xlo[i, k] > yhi[i, k]:
            gxlo[i, k], gxhi[i, k] = 0.0, 0.0
            gylo[i, k], gyhi[i, k] = qlo, qhi
        else:
            gxlo[i, k], gxhi[i, k] = 0.0, qhi
            gylo[i, k], gyhi[i, k] = 0.0, qhi


# ---------------------------------------------------------------------------
# periodic: exp(kappa sum_k cos(w (x_k - y_k))), w = 2 pi / period
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _periodic(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    kappa = params[0]
    period = params[1]
    d = xlo.shape[1]
    wlo, whi = idiv(2.0 * _PI_LO, 2.0 * _PI_HI, period, period)
    slo = 0.0
    shi = 0.0
    for k in range(d):
        dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
        tlo, thi = imul(wlo, whi, dlo, dhi)
        clo, chi = icos(tlo, thi)
        slo, shi = iadd(slo, shi, clo, chi)
    elo, ehi = iscale(kappa, slo, shi)
    klo, khi = iexp(elo, ehi)
    vlo[i], vhi[i] = _fix(klo, khi)
    if not want_grad:
        return
    # grad_x_k = -kappa w sin(w (x_k - y_k)) k, grad_y = -grad_x.
    flo, fhi = iscale(kappa, wlo, whi)
    flo, fhi = imul_ext(flo, fhi, klo, khi)
    for k in range(d):
        dlo, dhi = isub(xlo[i, k], xhi[i, k], ylo[i, k], yhi[i, k])
        tlo, thi = imul(wlo, whi, dlo, dhi)
        s_lo, s_hi = isin(tlo, thi)
        glo, ghi = imul_ext(flo, fhi, s_lo, s_hi)
        _store_grad(i, k, glo, ghi, gxlo, gxhi, gylo, gyhi, True)


# ---------------------------------------------------------------------------
# arc-cosine kernels
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _coord(lo, hi, i, k, centre):
    """Coordinate interval of the box, or the point interval at its centre."""
    a = lo[i, k]
    b = hi[i, k]
    if not centre:
        return a, b
    c = min(max(0.5 * a + 0.5 * b, a), b)
    return c, c


@numba.njit(cache=True)
def _norm(lo, hi, i, centre):
    """[|x|] over the box (or at its centre)."""
    slo = 0.0
    shi = 0.0
    for k in range(lo.shape[1]):
        a, b = _coord(lo, hi, i, k, centre)
        qlo, qhi = isqr(a, b)
        slo, shi = iadd(slo, shi, qlo, qhi)
    return isqrt(slo, shi)


@numba.njit(cache=True)
def _unit(a, b, nlo, nhi):
    """[x_k / |x|], intersected with [-1, 1] (the whole of it when |x| can vanish)."""
    if not nlo > 0.0:
        return -1.0, 1.0
    qlo, qhi = idiv_ext(a, b, nlo, nhi)
    return _clamp(qlo, qhi, -1.0, 1.0)


@numba.njit(cache=True)
def _angle(xlo, xhi, ylo, yhi, i, centre):
    """[|x|], [|y|] and the angle [theta] = 2 atan2(|u - v|, |u + v|) (Kahan's formula),
    u = x / |x|, v = y / |y|."""
    nxlo, nxhi = _norm(xlo, xhi, i, centre)
    nylo, nyhi = _norm(ylo, yhi, i, centre)
    mlo = 0.0
    mhi = 0.0
    plo = 0.0
    phi = 0.0
    for k in range(xlo.shape[1]):
        a, b = _coord(xlo, xhi, i, k, centre)
        ulo, uhi = _unit(a, b, nxlo, nxhi)
        a, b = _coord(ylo, yhi, i, k, centre)
        wlo, whi = _unit(a, b, nylo, nyhi)
        dlo, dhi = isub(ulo, uhi, wlo, whi)
        dlo, dhi = isqr(dlo, dhi)
        mlo, mhi = iadd(mlo, mhi, dlo, dhi)
        dlo, dhi = iadd(ulo, uhi, wlo, whi)
        dlo, dhi = isqr(dlo, dhi)
        plo, phi = iadd(plo, phi, dlo, dhi)
    mlo, mhi = isqrt(mlo, mhi)
    plo, phi = isqrt(plo, phi)
    hlo, hhi = iatan2(mlo, mhi, plo, phi)
    tlo = max(2.0 * hlo, 0.0)  # doubling is exact
    thi = min(2.0 * hhi, _PI_HI)
    return nxlo, nxhi, nylo, nyhi, tlo, thi


@numba.njit(cache=True)
def _arc_j_point(t):
    """Enclosure of J(t) = sin t + (pi - t) cos t at a point t in [0, pi]."""
    s_lo, s_hi = isin(t, t)
    c_lo, c_hi = icos(t, t)
    p_lo, p_hi = isub(_PI_LO, _PI_HI, t, t)
    q_lo, q_hi = imul(max(p_lo, 0.0), p_hi, c_lo, c_hi)
    return iadd(s_lo, s_hi, q_lo, q_hi)


@numba.njit(cache=True)
def _arccos_value(order, nxlo, nxhi, nylo, nyhi, tlo, thi):
    if order == 0:
        # 1 - theta / pi
        qlo, qhi = idiv(tlo, thi, _PI_LO, _PI_HI)
        klo, khi = isub(1.0, 1.0, qlo, qhi)
        return _clamp(klo, khi, 0.0, 1.0)
    # |x| |y| J(theta) / pi with J decreasing on [0, pi] (J' = -(pi - t) sin t), 0 <= J <= pi.
    jlo = max(_arc_j_point(thi)[0], 0.0)
    jhi = min(_arc_j_point(tlo)[1], _PI_HI)
    nlo, nhi = imul(nxlo, nxhi, nylo, nyhi)
    klo, khi = imul(max(nlo, 0.0), nhi, jlo, jhi)
    klo, khi = idiv(klo, khi, _PI_LO, _PI_HI)
    return _clamp(klo, khi, 0.0, max(nhi, 0.0))


@numba.njit(cache=True)
def _min_norm(lo, hi, i):
    """A lower bound of min |x| over the box (its distance to the origin)."""
    s = 0.0
    for k in range(lo.shape[1]):
        a = lo[i, k]
        b = hi[i, k]
        t = 0.0
        if a > 0.0:
            t = a
        elif b < 0.0:
            t = -b
        s = _down(s + _down(t * t))
    return max(_down(math.sqrt(max(s, 0.0))), 0.0)


@numba.njit(cache=True)
def _radius(lo, hi, i):
    """An upper bound of |x - c| over the box, c its (float) centre."""
    s = 0.0
    for k in range(lo.shape[1]):
        a = lo[i, k]
        b = hi[i, k]
        c = min(max(0.5 * a + 0.5 * b, a), b)
        r = _up(max(c - a, b - c))
        s = _up(s + _up(r * r))
    return _up(math.sqrt(s))


@numba.njit(cache=True)
def _is_origin(lo, hi, i):
    for k in range(lo.shape[1]):  # noqa: SIM110 (numba: plain loop)
        if lo[i, k] != 0.0 or hi[i, k] != 0.0:
            return False
    return True


@numba.njit(cache=True)
def _arccos_lipschitz(order, nxhi, nyhi, mnx, mny):
    """Lipschitz constants in x and in y on the box pair (inf where none exists)."""
    if order == 1:
        # |grad_x| <= |y| and |grad_y| <= |x| (see ArcCosine._lipschitz_x).
        return nyhi, nxhi
    # order 0: |grad_x| <= 1 / (pi |x|) on a box avoiding the origin.
    lx = _INF
    ly = _INF
    den = _down(_PI_LO * mnx)
    if den > 0.0:  # (numba raises on a float division by 0)
        lx = _up(1.0 / den)
    den = _down(_PI_LO * mny)
    if den > 0.0:
        ly = _up(1.0 / den)
    return lx, ly


@numba.njit(cache=True)
def _arccos_order0_grad(i, x_lo, x_hi, y_lo, y_hi, nlo, nhi, nylo, nyhi, tlo, thi, lx, g_lo, g_hi):
    """grad_x k0 = (v - cos(theta) u) / (pi |x| sin(theta)) intersected with [-lx, lx]."""
    d = x_lo.shape[1]
    s_lo, s_hi = isin(tlo, thi)
    c_lo, c_hi = icos(tlo, thi)
    formula = nlo > 0.0 and s_lo > 0.0 and nylo > 0.0
    if formula:
        den_lo, den_hi = imul(nlo, nhi, s_lo, s_hi)
        den_lo, den_hi = imul(den_lo, den_hi, _PI_LO, _PI_HI)
    for k in range(d):
        glo = -lx
        ghi = lx
        if formula:
            ulo, uhi = _unit(x_lo[i, k], x_hi[i, k], nlo, nhi)
            vlo_, vhi_ = _unit(y_lo[i, k], y_hi[i, k], nylo, nyhi)
            plo, phi = imul(c_lo, c_hi, ulo, uhi)
            plo, phi = isub(vlo_, vhi_, plo, phi)
            qlo, qhi = idiv_ext(plo, phi, den_lo, den_hi)
            glo, ghi = _clamp(qlo, qhi, glo, ghi)
        g_lo[i, k], g_hi[i, k] = _fix(glo, ghi)


@numba.njit(cache=True)
def _arccos_order1_grad(i, x_lo, x_hi, y_lo, y_hi, nlo, nhi, nylo, nyhi, tlo, thi, g_lo, g_hi):
    """grad_x k1 = ((pi - theta) y + |y| sin(theta) x/|x|) / pi, each component within |y|."""
    d = x_lo.shape[1]
    s_lo, s_hi = isin(tlo, thi)
    s_lo = max(s_lo, 0.0)  # theta in [0, pi]
    p_lo, p_hi = isub(_PI_LO, _PI_HI, tlo, thi)
    p_lo = max(p_lo, 0.0)
    a_lo, a_hi = imul(nylo, nyhi, s_lo, s_hi)
    for k in range(d):
        ulo, uhi = _unit(x_lo[i, k], x_hi[i, k], nlo, nhi)
        t1lo, t1hi = imul(p_lo, p_hi, y_lo[i, k], y_hi[i, k])
        t2lo, t2hi = imul(a_lo, a_hi, ulo, uhi)
        glo, ghi = iadd(t1lo, t1hi, t2lo, t2hi)
        glo, ghi = idiv(glo, ghi, _PI_LO, _PI_HI)
        glo, ghi = _clamp(glo, ghi, -nyhi, nyhi)
        g_lo[i, k], g_hi[i, k] = _fix(glo, ghi)


@numba.njit(cache=True)
def _arccos(order, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    d = xlo.shape[1]
    nxlo, nxhi, nylo, nyhi, tlo, thi = _angle(xlo, xhi, ylo, yhi, i, False)
    klo, khi = _arccos_value(order, nxlo, nxhi, nylo, nyhi, tlo, thi)
    mnx = _min_norm(xlo, xhi, i)
    mny = _min_norm(ylo, yhi, i)
    lx, ly = _arccos_lipschitz(order, nxhi, nyhi, mnx, mny)
    x0 = _is_origin(xlo, xhi, i)
    y0 = _is_origin(ylo, yhi, i)
    one_dim0 = order == 0 and d == 1 and mnx > 0.0 and mny > 0.0
    if x0 or y0:
        # The conventions at a zero vector: k0 = 1/2, k1 = 0.
        klo = 0.5 if order == 0 else 0.0
        khi = klo
    elif one_dim0:
        # In one dimension k0 is 1 for equal signs and 0 otherwise (both boxes avoid 0).
        klo = 1.0 if (xlo[i, 0] > 0.0) == (ylo[i, 0] > 0.0) else 0.0
        khi = klo
    elif math.isfinite(lx) and math.isfinite(ly):
        # Centred form: the value at the box centres +- L_x rho_x + L_y rho_y.
        c = _angle(xlo, xhi, ylo, yhi, i, True)
        clo, chi = _arccos_value(order, c[0], c[1], c[2], c[3], c[4], c[5])
        e = _up(_up(lx * _radius(xlo, xhi, i)) + _up(ly * _radius(ylo, yhi, i)))
        klo = max(klo, _down(clo - e))
        khi = min(khi, _up(chi + e))
    vlo[i], vhi[i] = _fix(klo, khi)
    if not want_grad:
        return
    if order == 1:
        _arccos_order1_grad(i, xlo, xhi, ylo, yhi, nxlo, nxhi, nylo, nyhi, tlo, thi, gxlo, gxhi)
        _arccos_order1_grad(i, ylo, yhi, xlo, xhi, nylo, nyhi, nxlo, nxhi, tlo, thi, gylo, gyhi)
        return
    if one_dim0:
        gxlo[i, 0], gxhi[i, 0], gylo[i, 0], gyhi[i, 0] = 0.0, 0.0, 0.0, 0.0
        return
    # order 0 jumps at a zero vector: no finite gradient bound on a box holding one.
    _arccos_order0_grad(i, xlo, xhi, ylo, yhi, nxlo, nxhi, nylo, nyhi, tlo, thi, lx, gxlo, gxhi)
    _arccos_order0_grad(i, ylo, yhi, xlo, xhi, nylo, nyhi, nxlo, nxhi, tlo, thi, ly, gylo, gyhi)


# ---------------------------------------------------------------------------
# driver over box pairs
# ---------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def _kernel_impl(kind, params, xlo, xhi, ylo, yhi, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    for i in numba.prange(xlo.shape[0]):
        if kind == GAUSSIAN or kind == LAPLACE or kind == MATERN32 or kind == MATERN52:  # noqa: SIM109
            _stationary(
                kind, params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi
            )
        elif kind == POLYNOMIAL:
            _polynomial(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi)
        elif kind == BROWNIAN:
            _brownian(xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi)
        elif kind == PERIODIC:
            _periodic(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi)
        elif kind == ARCCOS0 or kind == ARCCOS1:  # noqa: SIM109
            order = 0 if kind == ARCCOS0 else 1
            _arccos(order, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi)
        elif kind == EXPDOT:
            _expdot(params, xlo, xhi, ylo, yhi, i, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi)
        else:
            vlo[i], vhi[i] = -_INF, _INF


def _outputs(
    k: int, dx: int, dy: int, gradients: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    kg = k if gradients else 0
    return (
        np.empty(k),
        np.empty(k),
        np.empty((kg, dx)),
        np.empty((kg, dx)),
        np.empty((kg, dy)),
        np.empty((kg, dy)),
    )


def enclose_kernel(
    kind: int,
    params: FloatArray,
    xlo: FloatArray,
    xhi: FloatArray,
    ylo: FloatArray,
    yhi: FloatArray,
    *,
    gradients: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Value and gradient enclosures of a kernel of :mod:`certify._kernels.codes` over box pairs.

    Parameters
    ----------
    kind : int
        Kernel code.
    params : ndarray of shape (n_params,)
        Its parameter vector.
    xlo, xhi, ylo, yhi : ndarray of shape (k, d)
        The box pairs (validated: finite, ``lo <= hi``, C-contiguous float64).
    gradients : bool, default=True
        Whether to enclose the gradients (otherwise the gradient arrays have 0 rows).

    Returns
    -------
    value_lo, value_hi : ndarray of shape (k,)
    grad_x_lo, grad_x_hi, grad_y_lo, grad_y_hi : ndarray of shape (k, d)

    Examples
    --------
    >>> from certify._kernels.codes import LAPLACE
    >>> X = np.array([[0.0, 0.0]]); Y = np.array([[0.0, 0.5]])
    >>> vlo, vhi, gxlo, gxhi, _, _ = enclose_kernel(LAPLACE, np.array([1.0]), X, X, Y, Y)
    >>> bool(vlo[0] <= np.exp(-0.5) <= vhi[0]) and bool(gxlo[0, 1] <= np.exp(-0.5) <= gxhi[0, 1])
    True
    """
    code = check_kind_params(kind, params)
    k, d = xlo.shape
    out = _outputs(k, d, d, gradients)
    _kernel_impl(code, params, xlo, xhi, ylo, yhi, gradients, *out)
    return out


# ---------------------------------------------------------------------------
# bilinear x^T W y
# ---------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def _bilinear_impl(W, xlo, xhi, ylo, yhi, want_grad, vlo, vhi, gxlo, gxhi, gylo, gyhi):
    dx, dy = W.shape
    for i in numba.prange(xlo.shape[0]):
        # value = sum_a x_a (W y)_a and also = sum_b (W^T x)_b y_b: both enclose it, so
        # does their intersection. (W y)_a and (W^T x)_b are the gradients.
        v1lo = 0.0
        v1hi = 0.0
        for a in range(dx):
            glo = 0.0
            ghi = 0.0
            for b in range(dy):
                tlo, thi = iscale(W[a, b], ylo[i, b], yhi[i, b])
                glo, ghi = iadd(glo, ghi, tlo, thi)
            if want_grad:
                gxlo[i, a], gxhi[i, a] = glo, ghi
            tlo, thi = imul(xlo[i, a], xhi[i, a], glo, ghi)
            v1lo, v1hi = iadd(v1lo, v1hi, tlo, thi)
        v2lo = 0.0
        v2hi = 0.0
        for b in range(dy):
            glo = 0.0
            ghi = 0.0
            for a in range(dx):
                tlo, thi = iscale(W[a, b], xlo[i, a], xhi[i, a])
                glo, ghi = iadd(glo, ghi, tlo, thi)
            if want_grad:
                gylo[i, b], gyhi[i, b] = glo, ghi
            tlo, thi = imul(glo, ghi, ylo[i, b], yhi[i, b])
            v2lo, v2hi = iadd(v2lo, v2hi, tlo, thi)
        vlo[i], vhi[i] = _fix(max(v1lo, v2lo), min(v1hi, v2hi))


def enclose_bilinear(
    W: FloatArray,
    xlo: FloatArray,
    xhi: FloatArray,
    ylo: FloatArray,
    yhi: FloatArray,
    *,
    gradients: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Enclosures of ``x^T W y`` (``W`` exact floats), ``grad_x = W y`` and ``grad_y = W^T x``.

    Shapes as in :func:`enclose_kernel`, with ``W`` of shape (x_dim, y_dim).

    Examples
    --------
    >>> W = np.array([[1.0, 2.0]])
    >>> vlo, vhi, *_ = enclose_bilinear(W, np.array([[1.0]]), np.array([[2.0]]),
    ...                                 np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    >>> bool(vlo[0] <= 2.0 and vhi[0] >= 6.0)  # x (y0 + 2 y1) ranges over [2, 6]
    True
    """
    k = xlo.shape[0]
    out = _outputs(k, W.shape[0], W.shape[1], gradients)
    _bilinear_impl(np.ascontiguousarray(W), xlo, xhi, ylo, yhi, gradients, *out)
    return out


# ---------------------------------------------------------------------------
# sympy expressions: generated interval code
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _recip(lo, hi):
    """1 / [a], with the half line when [a] touches 0 at one end only."""
    if lo > 0.0 or hi < 0.0:
        return idiv_ext(1.0, 1.0, lo, hi)
    if lo == 0.0 and hi > 0.0:
        return _down(1.0 / hi), _INF
    if hi == 0.0 and lo < 0.0:
        return -_INF, _up(1.0 / lo)
    return -_INF, _INF


@numba.njit(cache=True)
def _rpow(blo, bhi, elo, ehi):
    """[b]^[e] = exp([e] log [b]) on the part of [b] that is >= 0 (the limit at b = 0)."""
    llo, lhi = ilog(blo, bhi)
    plo, phi = imul_ext(elo, ehi, llo, lhi)
    return iexp(plo, phi)


@numba.njit(cache=True)
def _point_sinh(p):
    alo, ahi = iexp(p, p)
    blo, bhi = iexp(-p, -p)
    dlo, dhi = isub(alo, ahi, blo, bhi)
    return iscale(0.5, dlo, dhi)


@numba.njit(cache=True)
def _isinh(lo, hi):
    """sinh (increasing): ends from point enclosures."""
    return _point_sinh(lo)[0], _point_sinh(hi)[1]


@numba.njit(cache=True)
def _point_cosh(p):
    alo, ahi = iexp(p, p)
    blo, bhi = iexp(-p, -p)
    slo, shi = iadd(alo, ahi, blo, bhi)
    return iscale(0.5, slo, shi)


@numba.njit(cache=True)
def _icosh(lo, hi):
    """cosh (increasing in |a|), at least 1."""
    mlo, mhi = iabs(lo, hi)
    return max(_point_cosh(mlo)[0], 1.0), _point_cosh(mhi)[1]


@numba.njit(cache=True)
def _itan(lo, hi):
    """tan: increasing between poles; the whole line when [a] may hold a pole (cos = 0)."""
    clo, chi = icos(lo, hi)
    if clo <= 0.0 <= chi:
        return -_INF, _INF
    slo, shi = isin(lo, lo)
    c1lo, c1hi = icos(lo, lo)
    t_lo = idiv_ext(slo, shi, c1lo, c1hi)[0]
    slo, shi = isin(hi, hi)
    c1lo, c1hi = icos(hi, hi)
    t_hi = idiv_ext(slo, shi, c1lo, c1hi)[1]
    return t_lo, t_hi


@numba.njit(cache=True)
def _isign(lo, hi):
    """sign: its Clarke-style range [-1, 1] wherever [a] holds 0 (even [0, 0])."""
    if lo > 0.0:
        return 1.0, 1.0
    if hi < 0.0:
        return -1.0, -1.0
    return -1.0, 1.0


@numba.njit(cache=True)
def _iheaviside(lo, hi, h0lo, h0hi):
    """Heaviside with value h0 at 0: [min(0, h0), max(1, h0)] wherever [a] holds 0."""
    if lo > 0.0:
        return 1.0, 1.0
    if hi < 0.0:
        return 0.0, 0.0
    return min(0.0, h0lo), max(1.0, h0hi)


@numba.njit(cache=True)
def _imax(alo, ahi, blo, bhi):
    return max(alo, blo), max(ahi, bhi)


@numba.njit(cache=True)
def _imin(alo, ahi, blo, bhi):
    return min(alo, blo), min(ahi, bhi)


class _Abs(sp.Function):
    """|u| whose derivative is sign(u) du whatever sympy knows about u (sympy's own Abs
    differentiates through re/im when it cannot prove u real)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return _Sign(self.args[0])

    def _eval_is_extended_real(self) -> bool:
        return True


class _Sign(sp.Function):
    """sign(u); its derivative is a jump (2 delta(u))."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 2 * _Delta(self.args[0])

    def _eval_is_extended_real(self) -> bool:
        return True


class _Heaviside(sp.Function):
    """Heaviside(u[, h0]); its derivative is a jump (delta(u))."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return _Delta(self.args[0])

    def _eval_is_extended_real(self) -> bool:
        return True


class _Delta(sp.Function):
    """A jump marker: a gradient that depends on it is unbounded where its argument can vanish."""

    nargs = 1


#: Human-readable list of the sympy nodes :func:`compile_expression` can enclose.
SUPPORTED_EXPRESSION_NODES: tuple[str, ...] = (
    "the symbols x0, x1, ..., y0, y1, ...",
    "numbers (integers, rationals, floats, pi, E and other real constants)",
    "Add",
    "Mul",
    "Pow (integer or half-integer exponents; other exponents over a base >= 0)",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "atan",
    "Abs",
    "sign",
    "Heaviside",
    "Max",
    "Min",
)

_UNARY_PRIMITIVES: dict[type, str] = {
    sp.exp: "iexp",
    sp.log: "ilog",
    sp.sin: "isin",
    sp.cos: "icos",
    sp.tan: "_itan",
    sp.sinh: "_isinh",
    sp.cosh: "_icosh",
    sp.tanh: "itanh",
    sp.atan: "iatan",
    sp.Abs: "iabs",
    _Abs: "iabs",
    sp.sign: "_isign",
    _Sign: "_isign",
}


class UnsupportedNodeError(Exception):
    """Raised by the code generator; carries the offending sympy node."""

    def __init__(self, node: sp.Basic, reason: str = "") -> None:
        super().__init__(str(node))
        self.node = node
        self.reason = reason


def _float_enclosure(q: Fraction) -> tuple[float, float]:
    """The tightest float interval [lo, hi] holding the rational q."""
    try:
        f = float(q)
    except OverflowError:
        raise UnsupportedNodeError(
            sp.Rational(q.numerator, q.denominator), "beyond float64"
        ) from None
    lo = f if Fraction(f) <= q else math.nextafter(f, -math.inf)
    hi = f if Fraction(f) >= q else math.nextafter(f, math.inf)
    return lo, hi


def _number_enclosure(node: sp.Basic) -> tuple[float, float]:
    if isinstance(node, sp.Rational):  # Integer included
        return _float_enclosure(Fraction(int(node.p), int(node.q)))
    if isinstance(node, sp.Float):
        if not node.is_finite:
            raise UnsupportedNodeError(node, "not a finite real number")
        sign, man, exp, _ = node._mpf_
        q = Fraction(int(man)) * (Fraction(2) ** int(exp))
        return _float_enclosure(-q if sign else q)
    if isinstance(node, sp.NumberSymbol) and node.is_real:
        # 40 digits, then the nearest float widened by one ulp each way.
        approx = sp.Float(sp.N(node, 40), 40)
        sign, man, exp, _ = approx._mpf_
        q = Fraction(int(man)) * (Fraction(2) ** int(exp))
        f = float(-q if sign else q)
        return math.nextafter(f, -math.inf), math.nextafter(f, math.inf)
    raise UnsupportedNodeError(node, "not a finite real number")


class _Emitter:
    """Emits straight-line interval code for a set of sympy expressions (shared subtrees once)."""

    def __init__(self, xs: Sequence[sp.Symbol], ys: Sequence[sp.Symbol]) -> None:
        self.lines: list[str] = []
        self.memo: dict[sp.Basic, tuple[str, str, frozenset[str]]] = {}
        self.leaves = {s: (f"xl[{k}]", f"xh[{k}]") for k, s in enumerate(xs)}
        self.leaves.update({s: (f"yl[{k}]", f"yh[{k}]") for k, s in enumerate(ys)})
        self.count = 0

    def _new(self, call: str) -> tuple[str, str]:
        n = self.count
        self.count += 1
        lo, hi = f"t{n}l", f"t{n}h"
        self.lines.append(f"{lo}, {hi} = {call}")
        # A NaN end means "unknown": the whole line from here on.
        self.lines.append(f"if {lo} != {lo} or {hi} != {hi}:")
        self.lines.append(f"    {lo}, {hi} = -np.inf, np.inf")
        return lo, hi

    def emit(self, node: sp.Basic) -> tuple[str, str, frozenset[str]]:
        hit = self.memo.get(node)
        if hit is None:
            hit = self._emit(node)
            self.memo[node] = hit
        return hit

    def _fold(self, fn: str, args: Sequence[sp.Basic]) -> tuple[str, str, frozenset[str]]:
        lo, hi, deps = self.emit(args[0])
        for a in args[1:]:
            alo, ahi, adeps = self.emit(a)
            lo, hi = self._new(f"{fn}({lo}, {hi}, {alo}, {ahi})")
            deps = deps | adeps
        return lo, hi, deps

    def _emit(self, node: sp.Basic) -> tuple[str, str, frozenset[str]]:
        none: frozenset[str] = frozenset()
        if isinstance(node, sp.Symbol):
            if node not in self.leaves:
                raise UnsupportedNodeError(node, "an unknown symbol")
            lo, hi = self.leaves[node]
            return lo, hi, none
        if isinstance(node, (sp.Number, sp.NumberSymbol)):
            a, b = _number_enclosure(node)
            return repr(a), repr(b), none
        if isinstance(node, sp.Add):
            return self._fold("iadd", node.args)
        if isinstance(node, sp.Mul):
            args = list(node.args)
            if len(args) > 1 and args[0] == -1:
                lo, hi, deps = self._fold("imul_ext", args[1:])
                lo, hi = self._new(f"ineg({lo}, {hi})")
                return lo, hi, deps
            return self._fold("imul_ext", args)
        if isinstance(node, sp.Pow):
            return self._pow(node)
        if isinstance(node, sp.Max):
            return self._fold("_imax", node.args)
        if isinstance(node, sp.Min):
            return self._fold("_imin", node.args)
        if isinstance(node, (sp.Heaviside, _Heaviside)):
            lo, hi, deps = self.emit(node.args[0])
            h0lo, h0hi = 0.5, 0.5
            if len(node.args) > 1:
                h0 = node.args[1]
                if not isinstance(h0, (sp.Number, sp.NumberSymbol)):
                    raise UnsupportedNodeError(node, "a non-numeric value at 0")
                h0lo, h0hi = _number_enclosure(h0)
            lo, hi = self._new(f"_iheaviside({lo}, {hi}, {h0lo!r}, {h0hi!r})")
            return lo, hi, deps
        if isinstance(node, (_Delta, sp.DiracDelta)) and self.allow_jumps:
            lo, hi, deps = self.emit(node.args[0])
            flag = f"jump{self.count}"
            self.count += 1
            # A jump of the function: flagged where the argument can vanish, 0 elsewhere.
            self.lines.append(f"{flag} = not ({lo} > 0.0 or {hi} < 0.0)")
            return "0.0", "0.0", deps | {flag}
        fn = _UNARY_PRIMITIVES.get(type(node))
        if fn is not None and len(node.args) == 1:
            lo, hi, deps = self.emit(node.args[0])
            lo, hi = self._new(f"{fn}({lo}, {hi})")
            return lo, hi, deps
        raise UnsupportedNodeError(node)

    allow_jumps = False

    def _pow(self, node: sp.Pow) -> tuple[str, str, frozenset[str]]:
        base, expo = node.args
        lo, hi, deps = self.emit(base)
        if isinstance(expo, sp.Integer):
            n = int(expo)
            if n == 0:
                return "1.0", "1.0", deps
            if n > 0:
                lo, hi = self._new(f"ipow({lo}, {hi}, {n})")
                return lo, hi, deps
            lo, hi = self._new(f"ipow({lo}, {hi}, {-n})")
            lo, hi = self._new(f"_recip({lo}, {hi})")
            return lo, hi, deps
        if isinstance(expo, sp.Rational) and int(expo.q) == 2:
            # b^(p/2) = sqrt(b)^p on b >= 0
            p = int(expo.p)
            lo, hi = self._new(f"isqrt({lo}, {hi})")
            if abs(p) != 1:
                lo, hi = self._new(f"ipow({lo}, {hi}, {abs(p)})")
            if p < 0:
                lo, hi = self._new(f"_recip({lo}, {hi})")
            return lo, hi, deps
        elo, ehi, edeps = self.emit(expo)
        lo, hi = self._new(f"_rpow({lo}, {hi}, {elo}, {ehi})")
        return lo, hi, deps | edeps


def _prepare(expr: sp.Expr) -> sp.Expr:
    """Swap Abs, sign and Heaviside for versions whose derivatives stay real (see _Abs)."""
    out = expr.replace(sp.Abs, _Abs)
    out = out.replace(sp.sign, _Sign)
    return out.replace(sp.Heaviside, _Heaviside)


def _generate_source(
    outputs: Sequence[sp.Expr], xs: Sequence[sp.Symbol], ys: Sequence[sp.Symbol], jumps: bool
) -> str:
    em = _Emitter(xs, ys)
    em.allow_jumps = jumps
    results = [em.emit(e) for e in outputs]
    body = list(em.lines)
    for j, (lo, hi, deps) in enumerate(results):
        if deps:
            body.append(f"if {' or '.join(sorted(deps))}:")
            body.append(f"    ol[{j}], oh[{j}] = -np.inf, np.inf")
            body.append("else:")
            body.append(f"    ol[{j}], oh[{j}] = {lo}, {hi}")
        else:
            body.append(f"ol[{j}], oh[{j}] = {lo}, {hi}")
    src = ["def _box(xl, xh, yl, yh, ol, oh):"]
    src += ["    " + line for line in body] or ["    pass"]
    src += [
        "",
        "def _drive(xlo, xhi, ylo, yhi, out_lo, out_hi):",
        "    for i in numba.prange(xlo.shape[0]):",
        "        _box(xlo[i], xhi[i], ylo[i], yhi[i], out_lo[i], out_hi[i])",
        "",
    ]
    return "\n".join(src)


def _namespace() -> dict[str, Any]:
    names = [
        "iabs", "iadd", "iatan", "icos", "idiv_ext", "iexp", "ilog", "imul_ext", "ineg",
        "ipow", "iscale", "isin", "isqrt", "isub", "itanh",
    ]  # fmt: skip
    here = globals()
    ns: dict[str, Any] = {name: here[name] for name in names}
    ns.update(
        {
            "_recip": _recip,
            "_rpow": _rpow,
            "_isinh": _isinh,
            "_icosh": _icosh,
            "_itan": _itan,
            "_isign": _isign,
            "_iheaviside": _iheaviside,
            "_imax": _imax,
            "_imin": _imin,
            "np": np,
            "numba": numba,
        }
    )
    return ns


ExpressionEnclosure = Callable[
    [FloatArray, FloatArray, FloatArray, FloatArray], tuple[FloatArray, FloatArray]
]


def compile_expression(
    expr: sp.Expr,
    xs: Sequence[sp.Symbol],
    ys: Sequence[sp.Symbol],
    *,
    gradients: bool,
) -> tuple[ExpressionEnclosure, str]:
    """Compile interval code for ``expr`` (and its partial derivatives) over box pairs.

    Parameters
    ----------
    expr : sympy expression
        In the symbols ``xs`` and ``ys``.
    xs, ys : sequences of sympy symbols
        The coordinates of x and of y, in order.
    gradients : bool
        Whether to enclose the partial derivatives ``d expr / d xs[k]`` and
        ``d expr / d ys[k]`` (from ``sympy.diff``, with ``Abs`` differentiated to
        ``sign``, which over an interval holding 0 is [-1, 1]: the Clarke hull).

    Returns
    -------
    function, str
        ``function(xlo, xhi, ylo, yhi)`` returns ``(lo, hi)`` of shape
        ``(k, n_out)``: column 0 the value, then the x- and y-derivatives when
        ``gradients``. The string is the generated source (for inspection).

    Raises
    ------
    UnsupportedNodeError
        A node without an interval enclosure here (the caller turns it into an
        :class:`~certify.errors.InvalidInputError`).
    """
    prepared = _prepare(expr)
    for delta in (sp.DiracDelta, _Delta):
        atoms = prepared.atoms(delta)
        if atoms:  # a distribution, not a function: no value to enclose
            raise UnsupportedNodeError(next(iter(atoms)), "a distribution, not a function")
    outputs = [prepared]
    if gradients:
        outputs += [sp.diff(prepared, s) for s in [*xs, *ys]]
    src = _generate_source(outputs, xs, ys, jumps=gradients)
    ns = _namespace()
    exec(compile(src, "<certify interval expression>", "exec"), ns)
    box = numba.njit(ns["_box"])
    ns["_box"] = box
    drive = numba.njit(parallel=True)(ns["_drive"])
    n_out = len(outputs)

    def run(
        xlo: FloatArray, xhi: FloatArray, ylo: FloatArray, yhi: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        k = xlo.shape[0]
        lo = np.empty((k, n_out))
        hi = np.empty((k, n_out))
        if k:
            drive(xlo, xhi, ylo, yhi, lo, hi)
        return lo, hi

    return run, src
