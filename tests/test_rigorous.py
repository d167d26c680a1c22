"""Outward rounding of arb balls to float64, and arb evaluation of sympy expressions."""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp
from flint import arb, ctx
from hypothesis import given
from hypothesis import strategies as st

from certify._rigorous import lower_float, upper_float
from certify.relations._arb_eval import arb_evaluate, supported


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_upper_and_lower_bracket_a_rational(p, q):
    a = arb(p) / q
    up, lo = upper_float(a), lower_float(a)
    exact = Fraction(p, q)
    assert Fraction(lo) <= exact <= Fraction(up)
    # tight: one step inward leaves the ball's upper end (the ball is ~2^-53 relative wide)
    assert Fraction(math.nextafter(up, 0.0)) < exact + Fraction(p, q) * Fraction(1, 2**50)


def test_infinite_and_nan_balls():
    assert upper_float(arb("inf")) == math.inf
    assert math.isnan(upper_float(arb("nan")))


def test_arb_evaluate_encloses_the_range():
    x = sp.Symbol("x0", real=True)
    expr = sp.exp(-(x**2)) * sp.cos(3 * x) + sp.Abs(x) + sp.Max(x, 0) / 2
    ball = arb(0.25).union(arb(0.5))  # the interval [0.25, 0.5]
    with ctx.workprec(80):
        enc = arb_evaluate(expr, {x: ball})
    f = sp.lambdify(x, expr)
    for k in range(101):
        t = 0.25 + 0.25 * k / 100
        # f(t) in float64 is within a few ulps (say 8 eps |f|, |f| < 2) of the exact value.
        slack = 16 * 2.0**-52
        assert lower_float(enc) - slack <= f(t) <= upper_float(enc) + slack


def test_unsupported_nodes():
    x = sp.Symbol("x0", real=True)
    assert supported(sp.sin(x) + x**3)
    assert not supported(sp.DiracDelta(x))
    assert not supported(sp.floor(x))
