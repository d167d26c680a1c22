"""Interval arithmetic in float64 with outward rounding, for numba kernels.

An interval is a pair ``(lo, hi)`` of floats with ``lo <= x <= hi`` for every
value ``x`` it stands for. numba has no control over the FPU rounding mode, so
every operation rounds to nearest and then widens its result outward:

* ``+ - * / sqrt`` are correctly rounded (IEEE 754), so the exact result lies
  within half an ulp of the computed one; :func:`down` / :func:`up` move by
  ``|x| 2^-52 + 2^-1074`` (at least one ulp, so at least half an ulp after the
  widening step's own rounding), which is enough.
* ``exp, log, tanh, sin, cos, atan, atan2`` come from the platform's libm,
  which is not correctly rounded. **Assumption**: each is accurate to within
  4 ulp on its whole domain (glibc documents <= 1-2 ulp for these in double
  precision on x86-64 and aarch64). :func:`down_libm` / :func:`up_libm` widen
  by ``|x| 2^-48 + 2^-1074`` (at least 16 ulp), leaving a factor-4 margin.
  Results of compositions (``sigmoid = 1 / (1 + exp(-z))``) widen by the sum.

Overflow: a lower bound that rounds to ``+inf`` becomes the largest float and
an upper bound that rounds to ``-inf`` the most negative one, so bounds stay
true; infinite bounds then make the caller's verdict UNKNOWN. NaN propagates.

Written by hand: no maintained library offers interval arithmetic usable from
numba-jitted code (python-flint's arb balls, used by the checker, are Python
objects).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "down",
    "down_libm",
    "iabs",
    "iadd",
    "iatan",
    "iatan2",
    "icos",
    "idiv",
    "idiv_ext",
    "iexp",
    "ilog",
    "imul",
    "imul_ext",
    "ineg",
    "ipow",
    "irelu",
    "iscale",
    "isigmoid",
    "isin",
    "isqr",
    "isqrt",
    "isub",
    "itanh",
    "up",
    "up_libm",
]

_REL_OP = 2.0**-52
_REL_LIBM = 2.0**-48
_TINY = 5e-324
_MAX = np.finfo(np.float64).max
_TWO_PI = 2.0 * math.pi


@numba.njit(cache=True, inline="always")
def down(x: float) -> float:
    """A float <= the exact value of a correctly rounded result ``x``."""
    if x != x or x == -np.inf:
        return x
    if x == np.inf:
        return _MAX
    return x - (abs(x) * _REL_OP + _TINY)


@numba.njit(cache=True, inline="always")
def up(x: float) -> float:
    """A float >= the exact value of a correctly rounded result ``x``."""
    if x != x or x == np.inf:
        return x
    if x == -np.inf:
        return -_MAX
    return x + (abs(x) * _REL_OP + _TINY)


@numba.njit(cache=True, inline="always")
def down_libm(x: float) -> float:
    """A float <= the exact value of a libm result ``x`` (<= 4 ulp error assumed)."""
    if x != x or x == -np.inf:
        return x
    if x == np.inf:
        return _MAX
    return x - (abs(x) * _REL_LIBM + _TINY)


@numba.njit(cache=True, inline="always")
def up_libm(x: float) -> float:
    """A float >= the exact value of a libm result ``x`` (<= 4 ulp error assumed)."""
    if x != x or x == np.inf:
        return x
    if x == -np.inf:
        return -_MAX
    return x + (abs(x) * _REL_LIBM + _TINY)


@numba.njit(cache=True, inline="always")
def iadd(alo, ahi, blo, bhi):
    """[a] + [b]."""
    return down(alo + blo), up(ahi + bhi)


@numba.njit(cache=True, inline="always")
def isub(alo, ahi, blo, bhi):
    """[a] - [b]."""
    return down(alo - bhi), up(ahi - blo)


@numba.njit(cache=True, inline="always")
def ineg(alo, ahi):
    """-[a] (exact)."""
    return -ahi, -alo


@numba.njit(cache=True, inline="always")
def iscale(c, alo, ahi):
    """c [a] for a float c (the constant is taken as exact; 0 [a] = 0 even for infinite ends)."""
    if c == 0.0:
        return 0.0, 0.0
    # c * 0 = 0 exactly: keep zero ends exact. Rounding them outward to +-2^-1074 was sound
    # but made every inactive ReLU unit carry subnormals, which run on the CPU's slow path
    # (the Jacobian enclosures of ReLU networks were ~17x slower).
    if c > 0.0:
        lo = 0.0 if alo == 0.0 else down(c * alo)
        hi = 0.0 if ahi == 0.0 else up(c * ahi)
        return lo, hi
    lo = 0.0 if ahi == 0.0 else down(c * ahi)
    hi = 0.0 if alo == 0.0 else up(c * alo)
    return lo, hi


@numba.njit(cache=True, inline="always")
def imul(alo, ahi, blo, bhi):
    """[a] [b]; ends may be infinite (0 * inf counts as 0); NaN in any end gives NaN."""
    return imul_ext(alo, ahi, blo, bhi)


@numba.njit(cache=True, inline="always")
def isqr(alo, ahi):
    """[a]^2 (tighter than [a] [a]: never negative)."""
    if alo >= 0.0:
        return down(alo * alo), up(ahi * ahi)
    if ahi <= 0.0:
        return down(ahi * ahi), up(alo * alo)
    m = max(-alo, ahi)
    return 0.0, up(m * m)


@numba.njit(cache=True, inline="always")
def iabs(alo, ahi):
    """|[a]| (exact)."""
    if alo >= 0.0:
        return alo, ahi
    if ahi <= 0.0:
        return -ahi, -alo
    return 0.0, max(-alo, ahi)


@numba.njit(cache=True, inline="always")
def _idiv_finite(alo, ahi, blo, bhi):
    q1 = alo / blo
    q2 = alo / bhi
    q3 = ahi / blo
    q4 = ahi / bhi
    lo = min(min(q1, q2), min(q3, q4))
    hi = max(max(q1, q2), max(q3, q4))
    return down(lo), up(hi)


@numba.njit(cache=True, inline="always")
def idiv(alo, ahi, blo, bhi):
    """[a] / [b]; the whole line when [b] contains 0; ends may be infinite."""
    return idiv_ext(alo, ahi, blo, bhi)


@numba.njit(cache=True, inline="always")
def _ipow_point(a, n):
    lo, hi = 1.0, 1.0
    for _ in range(n):
        lo, hi = imul(lo, hi, a, a)
    return lo, hi


@numba.njit(cache=True, inline="always")
def ipow(alo, ahi, n):
    """[a]^n for an integer n >= 0: monotone for odd n, monotone in |a| for even n."""
    if n == 0:
        return 1.0, 1.0
    if n % 2 == 1:
        return _ipow_point(alo, n)[0], _ipow_point(ahi, n)[1]
    mlo, mhi = iabs(alo, ahi)
    return max(_ipow_point(mlo, n)[0], 0.0), _ipow_point(mhi, n)[1]


@numba.njit(cache=True, inline="always")
def isqrt(alo, ahi):
    """sqrt([a]) on the part of [a] that is >= 0."""
    lo = max(alo, 0.0)
    hi = max(ahi, 0.0)
    return max(down(math.sqrt(lo)), 0.0), up(math.sqrt(hi))


@numba.njit(cache=True, inline="always")
def iexp(alo, ahi):
    """exp([a])."""
    return max(down_libm(math.exp(alo)), 0.0), up_libm(math.exp(ahi))


@numba.njit(cache=True, inline="always")
def itanh(alo, ahi):
    """tanh([a])."""
    return max(down_libm(math.tanh(alo)), -1.0), min(up_libm(math.tanh(ahi)), 1.0)


@numba.njit(cache=True, inline="always")
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def isigmoid(alo, ahi):
    """sigmoid([a]) = 1 / (1 + exp(-[a])); exp, one add and one divide: libm widening x2."""
    lo = _sigmoid(alo)
    hi = _sigmoid(ahi)
    lo = down_libm(down_libm(lo))
    hi = up_libm(up_libm(hi))
    return max(lo, 0.0), min(hi, 1.0)


@numba.njit(cache=True, inline="always")
def irelu(alo, ahi):
    """max([a], 0) (exact)."""
    return max(alo, 0.0), max(ahi, 0.0)


@numba.njit(cache=True, inline="always")
def icos(alo, ahi):
    """cos([a]); [-1, 1] for intervals of width >= 2 pi or non-finite ends."""
    if not (math.isfinite(alo) and math.isfinite(ahi)) or ahi - alo >= _TWO_PI:
        return -1.0, 1.0
    c1 = math.cos(alo)
    c2 = math.cos(ahi)
    lo = min(c1, c2)
    hi = max(c1, c2)
    # Extremes inside: cos = 1 at 2k pi, -1 at (2k + 1) pi. The multiples of pi in
    # [alo, ahi] are found with a margin, so a rounding of pi / k only adds extremes.
    margin = 1e-12 * (1.0 + max(abs(alo), abs(ahi)))
    k0 = math.ceil((alo - margin) / math.pi)
    k1 = math.floor((ahi + margin) / math.pi)
    for k in range(int(k0), int(k1) + 1):
        if k % 2 == 0:
            hi = 1.0
        else:
            lo = -1.0
    return max(down_libm(lo), -1.0), min(up_libm(hi), 1.0)


@numba.njit(cache=True, inline="always")
def isin(alo, ahi):
    """sin([a]) = cos([a] - pi/2) with the shift rounded outward."""
    half_pi = math.pi / 2.0
    slo, shi = isub(alo, ahi, half_pi, half_pi)
    # pi/2 as a float is within 1e-16 of the exact value: widen by it.
    return icos(down(slo - 1e-16), up(shi + 1e-16))


# --- appended: extended multiplication/division, log, atan, atan2 ---------------------------
# IEEE 754 gives NaN for 0 * inf and inf / inf, and numba's min/max drop or keep a NaN
# depending on the argument order, so :func:`imul` and :func:`idiv` may return a *finite,
# wrong* interval when an end is infinite (e.g. imul([1, inf], [0, 2]) = [0, 2]). Code that
# can meet infinite ends (overflowed exp, a division by an interval holding 0, log near 0)
# uses the ``_ext`` versions, which follow the IEEE 1788 rule 0 * inf = 0: every finite
# point times 0 is 0, and the unbounded directions are covered by the other end products.

_HALF_PI_UP = math.nextafter(math.pi / 2.0, math.inf)  # > pi/2 (the float pi/2 is below it)


@numba.njit(cache=True, inline="always")
def _xmul(a, b):
    """a * b with 0 * (+-inf) = 0."""
    if a == 0.0 or b == 0.0:
        return 0.0
    return a * b


@numba.njit(cache=True, inline="always")
def imul_ext(alo, ahi, blo, bhi):
    """[a] [b] where ends may be infinite (unbounded intervals); NaN in any end gives NaN."""
    if alo != alo or ahi != ahi or blo != blo or bhi != bhi:
        return np.nan, np.nan
    p1 = _xmul(alo, blo)
    p2 = _xmul(alo, bhi)
    p3 = _xmul(ahi, blo)
    p4 = _xmul(ahi, bhi)
    lo = min(min(p1, p2), min(p3, p4))
    hi = max(max(p1, p2), max(p3, p4))
    return down(lo), up(hi)


@numba.njit(cache=True, inline="always")
def idiv_ext(alo, ahi, blo, bhi):
    """[a] / [b] where ends may be infinite; the whole line when [b] contains 0.

    With finite ends this is :func:`idiv`; otherwise [a] times the reciprocal interval
    [1 / bhi, 1 / blo] (ends rounded outward, clamped to the sign of [b]), which
    avoids inf / inf.
    """
    if alo != alo or ahi != ahi or blo != blo or bhi != bhi:
        return np.nan, np.nan
    if blo <= 0.0 <= bhi:
        return -np.inf, np.inf
    if math.isfinite(alo) and math.isfinite(ahi) and math.isfinite(blo) and math.isfinite(bhi):
        return _idiv_finite(alo, ahi, blo, bhi)
    if blo > 0.0:
        rlo = max(down(1.0 / bhi), 0.0)
        rhi = up(1.0 / blo)
    else:
        rlo = down(1.0 / blo)
        rhi = min(up(1.0 / bhi), 0.0)
    return imul_ext(alo, ahi, rlo, rhi)


@numba.njit(cache=True, inline="always")
def ilog(alo, ahi):
    """log([a]) on the part of [a] that is > 0.

    The lower end is -inf when [a] reaches 0; NaN (unknown) when [a] has no positive part.
    """
    if alo != alo or ahi != ahi or not ahi > 0.0:
        return np.nan, np.nan
    hi = up_libm(math.log(ahi))
    if alo <= 0.0:
        return -np.inf, hi
    return down_libm(math.log(alo)), hi


@numba.njit(cache=True, inline="always")
def iatan(alo, ahi):
    """atan([a]) (increasing), within [-pi/2, pi/2]."""
    return max(down_libm(math.atan(alo)), -_HALF_PI_UP), min(up_libm(math.atan(ahi)), _HALF_PI_UP)


@numba.njit(cache=True, inline="always")
def iatan2(ylo, yhi, xlo, xhi):
    """atan2([y], [x]) over the part of the box [x] x [y] in the closed quadrant x, y >= 0.

    There the angle increases with y and decreases with x, so its range is
    [atan2(ylo, xhi), atan2(yhi, xlo)]. When the box holds the origin (where atan2 is
    undefined and nearby angles fill the quadrant) the result is [0, pi/2]. Negative
    parts of [x] and [y] are ignored (the caller's quantities are non-negative).
    """
    if ylo != ylo or yhi != yhi or xlo != xlo or xhi != xhi:
        return np.nan, np.nan
    # max(., 0) + 0.0 also turns -0.0 into +0.0 (atan2(0, -0.0) would be pi).
    ylo = max(ylo, 0.0) + 0.0
    yhi = max(yhi, 0.0) + 0.0
    xlo = max(xlo, 0.0) + 0.0
    xhi = max(xhi, 0.0) + 0.0
    if ylo == 0.0 and xlo == 0.0:
        return 0.0, _HALF_PI_UP
    lo = max(down_libm(math.atan2(ylo, xhi)), 0.0)
    hi = min(up_libm(math.atan2(yhi, xlo)), _HALF_PI_UP)
    return lo, hi
