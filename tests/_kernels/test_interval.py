"""Interval primitives: every exact result of a point operation lies in the enclosure.

The exact values are computed in 300-bit mpmath arithmetic from the float inputs, so the
tests check containment with no tolerance at all.
"""

from __future__ import annotations

import math

import mpmath
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certify._kernels import interval as iv

finite = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False, allow_infinity=False)
mp = mpmath.mp


def _interval(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


def _inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpmath.mpf(lo) <= value <= mpmath.mpf(hi)


@numba.njit
def _binary(op, alo, ahi, blo, bhi):
    if op == 0:
        return iv.iadd(alo, ahi, blo, bhi)
    if op == 1:
        return iv.isub(alo, ahi, blo, bhi)
    if op == 2:
        return iv.imul(alo, ahi, blo, bhi)
    return iv.idiv(alo, ahi, blo, bhi)


@numba.njit
def _unary(op, alo, ahi, n):
    if op == 0:
        return iv.iexp(alo, ahi)
    if op == 1:
        return iv.itanh(alo, ahi)
    if op == 2:
        return iv.isigmoid(alo, ahi)
    if op == 3:
        return iv.irelu(alo, ahi)
    if op == 4:
        return iv.isqrt(alo, ahi)
    if op == 5:
        return iv.icos(alo, ahi)
    if op == 6:
        return iv.isin(alo, ahi)
    if op == 7:
        return iv.isqr(alo, ahi)
    if op == 8:
        return iv.iabs(alo, ahi)
    return iv.ipow(alo, ahi, n)


BINARY = {
    0: lambda a, b: a + b,
    1: lambda a, b: a - b,
    2: lambda a, b: a * b,
    3: lambda a, b: a / b,
}
UNARY = {
    0: mpmath.exp,
    1: mpmath.tanh,
    2: lambda z: 1 / (1 + mpmath.exp(-z)),
    3: lambda z: max(z, 0),
    4: lambda z: mpmath.sqrt(z),
    5: mpmath.cos,
    6: mpmath.sin,
    7: lambda z: z * z,
    8: abs,
}


@settings(max_examples=300, deadline=None)
@given(finite, finite, finite, finite, st.floats(0, 1), st.floats(0, 1), st.integers(0, 3))
def test_binary_ops_contain_exact_results(a, b, c, d, s, t, op):
    alo, ahi = _interval(a, b)
    blo, bhi = _interval(c, d)
    x = alo + s * (ahi - alo)
    y = blo + t * (bhi - blo)
    x, y = min(max(x, alo), ahi), min(max(y, blo), bhi)
    if op == 3 and y == 0.0:
        return
    lo, hi = _binary(op, alo, ahi, blo, bhi)
    with mpmath.workprec(300):
        exact = BINARY[op](mpmath.mpf(x), mpmath.mpf(y))
        assert _inside(exact, lo, hi), (op, (alo, ahi), (blo, bhi), x, y, lo, hi)


@settings(max_examples=500, deadline=None)
@given(finite, finite, st.floats(0, 1), st.integers(0, 9), st.integers(0, 7))
def test_unary_ops_contain_exact_results(a, b, s, op, n):
    alo, ahi = _interval(a, b)
    if op == 4:  # sqrt on the non-negative part
        alo, ahi = abs(alo), abs(alo) + abs(ahi)
    x = min(max(alo + s * (ahi - alo), alo), ahi)
    lo, hi = _unary(op, alo, ahi, n)
    with mpmath.workprec(300):
        z = mpmath.mpf(x)
        exact = z**n if op == 9 else UNARY[op](z)
        assert _inside(exact, lo, hi), (op, n, (alo, ahi), x, lo, hi)


def test_point_intervals_are_tight():
    # A point interval through one correctly rounded op widens by a couple of ulps only.
    lo, hi = _binary(0, 0.1, 0.1, 0.2, 0.2)
    assert hi - lo <= 4 * math.ulp(0.3)
    lo, hi = _unary(0, 1.0, 1.0, 0)
    assert hi - lo <= 64 * math.ulp(math.e)


def test_cos_extremes_and_wide_intervals():
    assert _unary(5, -0.1, 0.1, 0)[1] == 1.0  # contains 0
    assert _unary(5, 3.0, 3.3, 0)[0] == -1.0  # contains pi
    assert _unary(5, 0.0, 7.0, 0) == (-1.0, 1.0)


def test_overflow_and_nan():
    lo, hi = _binary(0, 1e308, 1e308, 1e308, 1e308)
    assert lo == np.finfo(np.float64).max and hi == np.inf  # true sum is > max float
    lo, hi = _binary(3, 1.0, 2.0, -1.0, 1.0)
    assert (lo, hi) == (-np.inf, np.inf)  # division by an interval containing 0
    lo, hi = _unary(0, np.nan, np.nan, 0)
    assert math.isnan(lo) and math.isnan(hi)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_ipow_straddling_zero(n):
    lo, hi = _unary(9, -2.0, 1.0, n)
    if n % 2:
        assert lo <= -(2.0**n) and hi >= 1.0
    else:
        assert lo == 0.0 and hi >= 2.0**n


# --- extended multiplication/division, log, atan, atan2 ---------------------------------


@numba.njit
def _ext(op, alo, ahi, blo, bhi):
    if op == 0:
        return iv.imul_ext(alo, ahi, blo, bhi)
    if op == 1:
        return iv.idiv_ext(alo, ahi, blo, bhi)
    if op == 2:
        return iv.iatan2(alo, ahi, blo, bhi)
    if op == 3:
        return iv.ilog(alo, ahi)
    return iv.iatan(alo, ahi)


ends = st.one_of(finite, st.just(0.0), st.just(math.inf), st.just(-math.inf))


@settings(max_examples=400, deadline=None)
@given(ends, ends, ends, ends, st.floats(0, 1), st.floats(0, 1), st.integers(0, 1))
def test_extended_mul_div_contain_every_product(a, b, c, d, s, t, op):
    # Intervals with infinite ends stand for unbounded sets of reals: pick finite points.
    alo, ahi = _interval(a, b)
    blo, bhi = _interval(c, d)
    if (alo == ahi and math.isinf(alo)) or (blo == bhi and math.isinf(blo)):
        return  # [inf, inf] holds no real number

    def point(lo: float, hi: float, u: float) -> float:
        lo_f = max(lo, -1e300)
        hi_f = min(hi, 1e300)
        return min(max(lo_f + u * (hi_f - lo_f), lo), hi)

    x, y = point(alo, ahi, s), point(blo, bhi, t)
    lo, hi = _ext(op, alo, ahi, blo, bhi)
    assert not (math.isnan(lo) or math.isnan(hi))
    if op == 1 and y == 0.0:
        return
    with mpmath.workprec(300):
        exact = BINARY[2 + op](mpmath.mpf(x), mpmath.mpf(y))
        assert _inside(exact, lo, hi), (op, (alo, ahi), (blo, bhi), x, y, lo, hi)


def test_imul_ext_fixes_the_nan_cases_of_imul():
    # imul([1, inf], [0, 2]) drops the NaN of inf * 0 together with inf * 2 (numba's max
    # keeps or drops NaN depending on the argument order); imul_ext does not.
    assert _ext(0, 1.0, math.inf, 0.0, 2.0)[1] == math.inf
    assert _ext(0, -math.inf, math.inf, 0.0, 0.0) == (-5e-324, 5e-324)  # {0}, rounded out
    lo, hi = _ext(1, 1.0, math.inf, 1.0, math.inf)  # (0, inf), no inf / inf
    assert lo <= 0.0 and hi == math.inf
    lo, hi = _ext(1, -math.inf, -1.0, -math.inf, -1.0)
    assert lo <= 0.0 and hi == math.inf
    assert _ext(1, 1.0, 2.0, -1.0, 1.0) == (-math.inf, math.inf)
    assert all(math.isnan(v) for v in _ext(0, math.nan, 1.0, 0.0, 1.0))


positive = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.one_of(positive, finite), st.one_of(positive, finite), st.floats(0, 1))
def test_ilog_and_iatan_contain_exact_results(a, b, s):
    alo, ahi = _interval(a, b)
    x = min(max(alo + s * (ahi - alo), alo), ahi)
    with mpmath.workprec(300):
        lo, hi = _ext(4, alo, ahi, 0.0, 0.0)
        assert _inside(mpmath.atan(mpmath.mpf(x)), lo, hi)
        lo, hi = _ext(3, alo, ahi, 0.0, 0.0)
        if ahi <= 0.0:
            assert math.isnan(lo) and math.isnan(hi)  # no positive part: unknown
        elif x > 0.0:
            assert _inside(mpmath.log(mpmath.mpf(x)), lo, hi)
            if alo <= 0.0:
                assert lo == -math.inf


def test_ilog_at_zero_and_one():
    assert _ext(3, 0.0, 1.0, 0.0, 0.0)[0] == -math.inf
    lo, hi = _ext(3, 1.0, 1.0, 0.0, 0.0)
    assert lo <= 0.0 <= hi and hi - lo < 1e-300


quadrant = st.one_of(st.just(0.0), st.floats(0.0, 1e6), st.floats(1e-300, 1e-6), st.just(math.inf))


@settings(max_examples=400, deadline=None)
@given(quadrant, quadrant, quadrant, quadrant, st.floats(0, 1), st.floats(0, 1))
def test_iatan2_contains_every_angle_of_the_box(a, b, c, d, s, t):
    ylo, yhi = _interval(a, b)
    xlo, xhi = _interval(c, d)
    if ylo == math.inf or xlo == math.inf:
        return
    y = min(max(ylo + s * (min(yhi, 1e300) - ylo), ylo), yhi)
    x = min(max(xlo + t * (min(xhi, 1e300) - xlo), xlo), xhi)
    lo, hi = _ext(2, ylo, yhi, xlo, xhi)
    assert 0.0 <= lo <= hi <= math.pi / 2 + 1e-15
    if x == 0.0 and y == 0.0:
        assert (lo, hi) == (0.0, math.nextafter(math.pi / 2, math.inf))  # nearby: the quadrant
        return
    with mpmath.workprec(300):
        assert _inside(mpmath.atan2(mpmath.mpf(y), mpmath.mpf(x)), lo, hi), (ylo, yhi, xlo, xhi)


def test_iatan2_ignores_negative_parts_and_signed_zero():
    # -0.0 for x would make atan2(0, -0.0) = pi; the quadrant convention gives 0 .. pi/2.
    lo, hi = _ext(2, 1.0, 1.0, -0.0, -0.0)
    assert lo <= math.pi / 2 <= hi <= math.pi / 2 + 1e-15
    lo, hi = _ext(2, 0.0, 0.0, 1.0, 2.0)
    assert lo == 0.0 and hi < 1e-300
    lo, hi = _ext(2, -1.0, 1.0, -1.0, 1.0)  # holds the origin
    assert lo == 0.0 and hi >= math.pi / 2


def test_point_atan2_is_tight():
    lo, hi = _ext(2, 1.0, 1.0, 1.0, 1.0)
    assert lo <= math.pi / 4 <= hi and hi - lo <= 64 * math.ulp(math.pi / 4)


def test_infinite_ends_never_shrink_a_product():
    # 0 * inf must not turn into NaN and then be dropped by min/max: [1, inf] [0, 2] = [0, inf].
    lo, hi = _binary(2, 1.0, np.inf, 0.0, 2.0)
    assert lo <= 0.0 and hi == np.inf
    lo, hi = _binary(2, -np.inf, np.inf, 0.0, 0.0)
    assert lo <= 0.0 <= hi
    lo, hi = _binary(3, 1.0, np.inf, 2.0, np.inf)  # [1, inf] / [2, inf] = [0, inf]
    assert lo <= 0.0 and hi == np.inf


@numba.njit
def _iscale(c, alo, ahi):
    return iv.iscale(c, alo, ahi)


@given(
    st.floats(-1e300, 1e300, allow_nan=False),
    st.floats(-1e300, 1e300, allow_nan=False) | st.just(0.0),
    st.floats(-1e300, 1e300, allow_nan=False) | st.just(0.0),
)
@settings(max_examples=300, deadline=None)
def test_iscale_contains_the_exact_scaled_interval_and_keeps_zero_ends(c, a, b):
    lo, hi = sorted((a, b))
    out_lo, out_hi = _iscale(c, lo, hi)
    with mpmath.workprec(2200):  # exact products of doubles
        ends = [mpmath.mpf(c) * mpmath.mpf(lo), mpmath.mpf(c) * mpmath.mpf(hi)]
        assert mpmath.mpf(out_lo) <= min(ends) and max(ends) <= mpmath.mpf(out_hi)
    for end, exact in ((lo, out_lo if c >= 0 else out_hi), (hi, out_hi if c >= 0 else out_lo)):
        if end == 0.0:
            assert exact == 0.0  # c * 0 = 0 exactly: no subnormal widening
