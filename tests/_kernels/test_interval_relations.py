"""Low-level interval enclosures of relations: kernel dispatch, number enclosures, the
expression code generator and its helper primitives (containment against 300-bit mpmath,
no tolerance). The relation-level property tests live in
tests/relations/test_relation_enclosures.py."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numba
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from certify._kernels import interval_relations as ir
from certify._kernels.codes import ARCCOS1, BROWNIAN, GAUSSIAN, N_KINDS, POLYNOMIAL
from certify.errors import InvalidInputError

finite = st.floats(min_value=-30.0, max_value=30.0, allow_nan=False, allow_infinity=False)
PARAMS = [[0.7], [0.7], [0.7], [0.7], [3.0, 0.5, 2.0], [], [1.5, 2.0], [], [], [2.0]]


def _interval(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


def _inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpmath.mpf(lo) <= value <= mpmath.mpf(hi)


# --------------------------------------------------------------------------------------
# kernel dispatch
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", range(N_KINDS))
def test_values_do_not_depend_on_the_gradient_flag(rng, kind):
    xlo = rng.uniform(0.0, 1.0, (64, 2))
    ylo = rng.uniform(0.0, 1.0, (64, 2))
    params = np.array(PARAMS[kind])
    full = ir.enclose_kernel(kind, params, xlo, xlo + 0.1, ylo, ylo + 0.2)
    values = ir.enclose_kernel(kind, params, xlo, xlo + 0.1, ylo, ylo + 0.2, gradients=False)
    np.testing.assert_array_equal(full[0], values[0])
    np.testing.assert_array_equal(full[1], values[1])
    assert values[2].shape == (0, 2) and full[2].shape == (64, 2)
    assert np.all(full[0] <= full[1]) and np.all(full[2] <= full[3]) and np.all(full[4] <= full[5])


def test_kernel_kind_and_params_are_checked():
    X = np.zeros((1, 1))
    with pytest.raises(InvalidInputError, match=r"`kind` must be a kernel code"):
        ir.enclose_kernel(N_KINDS, np.zeros(0), X, X, X, X)
    with pytest.raises(InvalidInputError, match=r"`params` of kernel kind 0 must be a vector"):
        ir.enclose_kernel(GAUSSIAN, np.zeros(2), X, X, X, X)


def test_polynomial_of_a_wide_box_is_the_exact_range_up_to_rounding():
    # (<x, y> + 0)^2 with x in [-1, 2], y = 1: <x, y> in [-1, 2], its square in [0, 4].
    vlo, vhi, *_ = ir.enclose_kernel(
        POLYNOMIAL, np.array([2.0, 0.0, 1.0]), np.array([[-1.0]]), np.array([[2.0]]),
        np.array([[1.0]]), np.array([[1.0]]),
    )  # fmt: skip
    assert vlo[0] == 0.0 and 4.0 <= vhi[0] <= 4.0 + 1e-14


def test_brownian_value_is_exact_on_boxes():
    vlo, vhi, *_ = ir.enclose_kernel(
        BROWNIAN, np.zeros(0), np.array([[0.25, 0.5]]), np.array([[0.75, 1.0]]),
        np.array([[0.5, 0.0]]), np.array([[0.5, 2.0]]),
    )  # fmt: skip
    assert vlo[0] == 0.0 and 0.5 <= vhi[0] <= 0.5 * (1 + 1e-15)


def test_arccos1_box_touching_the_origin():
    # x-box [0, 1]^2 has the origin as a corner: value in [0, |x| |y|], gradients finite.
    vlo, vhi, gxlo, gxhi, _, _ = ir.enclose_kernel(
        ARCCOS1, np.zeros(0), np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]),
        np.array([[1.0, -1.0]]), np.array([[1.0, -1.0]]),
    )  # fmt: skip
    # k1((1, 0), y) = sqrt(2) (sin(pi/4) + (3 pi/4) cos(pi/4)) / pi ~ 1.068; k1 <= |x| |y| = 2
    assert vlo[0] == 0.0 and 1.068 <= vhi[0] <= 2.0 + 1e-14
    assert np.all(np.isfinite(gxlo)) and np.all(np.abs(gxhi) <= math.sqrt(2) + 1e-14)


# --------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [sp.Rational(1, 3), sp.Rational(-7, 10), sp.Integer(2**60 + 1), sp.Float("0.1"), sp.Float(2.5)],
)
def test_number_enclosures_are_exact_and_tightest(number):
    lo, hi = ir._number_enclosure(number)
    q = Fraction(int(sp.Rational(number).p), int(sp.Rational(number).q))
    assert Fraction(lo) <= q <= Fraction(hi)
    assert hi == lo or math.nextafter(lo, math.inf) == hi  # adjacent floats (or exact)


def test_float_constants_are_exact():
    assert ir._number_enclosure(sp.Float(0.1)) == (0.1, 0.1)  # the float 0.1 itself


@pytest.mark.parametrize("constant", [sp.pi, sp.E, sp.EulerGamma, sp.GoldenRatio])
def test_constant_enclosures(constant):
    lo, hi = ir._number_enclosure(constant)
    with mpmath.workprec(300):
        exact = mpmath.mpf(sp.N(constant, 80))
        assert _inside(exact, lo, hi)
    assert hi - lo <= 2 * math.ulp(hi)


@pytest.mark.parametrize("bad", [sp.oo, sp.zoo, sp.nan, sp.I])
def test_non_real_numbers_are_unsupported(bad):
    with pytest.raises(ir.UnsupportedNodeError):
        ir._number_enclosure(bad)


# --------------------------------------------------------------------------------------
# code generation
# --------------------------------------------------------------------------------------


def _symbols(nx: int, ny: int) -> tuple[list[sp.Symbol], list[sp.Symbol]]:
    return (
        [sp.Symbol(f"x{i}", real=True) for i in range(nx)],
        [sp.Symbol(f"y{i}", real=True) for i in range(ny)],
    )


def test_shared_subtrees_are_emitted_once():
    xs, ys = _symbols(1, 1)
    expr = sp.sin(xs[0] * ys[0]) + sp.sin(xs[0] * ys[0]) ** 2 * ys[0]
    _, src = ir.compile_expression(expr, xs, ys, gradients=False)
    assert src.count("isin(") == 1 and src.count("imul_ext(xl[0], xh[0], yl[0], yh[0])") == 1


def test_jumps_poison_only_the_dependent_gradients():
    xs, ys = _symbols(1, 1)
    run, src = ir.compile_expression(sp.Heaviside(xs[0]) + ys[0] ** 2, xs, ys, gradients=True)
    assert "jump" in src
    lo, hi = run(np.array([[-1.0]]), np.array([[1.0]]), np.array([[2.0]]), np.array([[3.0]]))
    assert (lo[0, 1], hi[0, 1]) == (-np.inf, np.inf)  # d/dx0 jumps at 0
    assert 4.0 - 1e-14 <= lo[0, 2] <= 4.0 and 6.0 <= hi[0, 2] <= 6.0 + 1e-14  # d/dy0 = 2 y0


def test_abs_of_a_not_provably_real_argument_differentiates_to_sign():
    # sympy's own diff of Abs(sqrt(x0) - y0) goes through re/im; the generator's Abs
    # differentiates to sign(u) du.
    xs, ys = _symbols(1, 1)
    run, src = ir.compile_expression(sp.Abs(sp.sqrt(xs[0]) - ys[0]), xs, ys, gradients=True)
    assert "re(" not in src and "im(" not in src
    lo, hi = run(np.array([[4.0]]), np.array([[4.0]]), np.array([[0.0]]), np.array([[0.0]]))
    # d/dx0 at x0 = 4, y0 = 0: 1 / (2 sqrt(4)) = 1/4; d/dy0 = -1
    assert lo[0, 1] <= 0.25 <= hi[0, 1] and lo[0, 2] <= -1.0 <= hi[0, 2]


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("floor(x0)", "floor"),
        ("erf(x0)", "erf"),
        ("x0 + I*y0", "I"),
        ("DiracDelta(x0)", "DiracDelta"),
    ],
)
def test_unsupported_nodes_raise(text, node):
    xs, ys = _symbols(1, 1)
    expr = sp.sympify(text, locals={"x0": xs[0], "y0": ys[0]})
    for gradients in (False, True):
        with pytest.raises(ir.UnsupportedNodeError) as info:
            ir.compile_expression(expr, xs, ys, gradients=gradients)
        assert node in str(info.value.node)


def test_huge_integers_are_unsupported_not_a_crash():
    with pytest.raises(ir.UnsupportedNodeError, match="10000"):
        ir._number_enclosure(sp.Integer(10) ** 400)


def test_constant_expression():
    xs, ys = _symbols(1, 1)
    run, _ = ir.compile_expression(sp.Integer(3), xs, ys, gradients=True)
    lo, hi = run(np.zeros((2, 1)), np.ones((2, 1)), np.zeros((2, 1)), np.ones((2, 1)))
    np.testing.assert_array_equal(lo, [[3.0, 0.0, 0.0]] * 2)
    np.testing.assert_array_equal(hi, [[3.0, 0.0, 0.0]] * 2)


# --------------------------------------------------------------------------------------
# helper primitives of the generated code
# --------------------------------------------------------------------------------------


@numba.njit
def _helper(op, alo, ahi, blo, bhi):
    if op == 0:
        return ir._recip(alo, ahi)
    if op == 1:
        return ir._rpow(alo, ahi, blo, bhi)
    if op == 2:
        return ir._isinh(alo, ahi)
    if op == 3:
        return ir._icosh(alo, ahi)
    if op == 4:
        return ir._itan(alo, ahi)
    if op == 5:
        return ir._isign(alo, ahi)
    if op == 6:
        return ir._iheaviside(alo, ahi, 0.5, 0.5)
    if op == 7:
        return ir._imax(alo, ahi, blo, bhi)
    return ir._imin(alo, ahi, blo, bhi)


def _heaviside(z: mpmath.mpf) -> mpmath.mpf:
    return mpmath.mpf(1) if z > 0 else (mpmath.mpf(0) if z < 0 else mpmath.mpf(0.5))


EXACT = {
    0: lambda a, b: 1 / a,
    1: lambda a, b: a**b,
    2: lambda a, b: mpmath.sinh(a),
    3: lambda a, b: mpmath.cosh(a),
    4: lambda a, b: mpmath.tan(a),
    5: lambda a, b: mpmath.sign(a),
    6: lambda a, b: _heaviside(a),
    7: lambda a, b: max(a, b),
    8: lambda a, b: min(a, b),
}


@settings(max_examples=600, deadline=None)
@given(finite, finite, finite, finite, st.floats(0, 1), st.floats(0, 1), st.integers(0, 8))
def test_helpers_contain_exact_results(a, b, c, d, s, t, op):
    alo, ahi = _interval(a, b)
    blo, bhi = _interval(c, d)
    if op == 1:  # real powers: base >= 0
        alo, ahi = abs(alo), abs(alo) + abs(ahi)
    if op == 0 and s < 0.3:
        alo, ahi = 0.0, abs(ahi)  # touching 0 at one end: a half line
    x = min(max(alo + s * (ahi - alo), alo), ahi)
    y = min(max(blo + t * (bhi - blo), blo), bhi)
    if op == 0 and x == 0.0:
        return
    lo, hi = _helper(op, alo, ahi, blo, bhi)
    if op == 1 and ahi == 0.0:  # no positive base: unknown (the generated code widens it)
        assert math.isnan(lo) and math.isnan(hi)
        return
    assert not (math.isnan(lo) or math.isnan(hi))
    if op == 1 and x == 0.0 and y <= 0.0:
        return  # 0^y with y <= 0: undefined (or 1 by convention at y = 0: covered, but skip)
    with mpmath.workprec(300):
        exact = EXACT[op](mpmath.mpf(x), mpmath.mpf(y))
        assert _inside(exact, lo, hi), (op, (alo, ahi), (blo, bhi), x, y, lo, hi)


def test_sign_and_heaviside_are_hulls_at_zero():
    assert _helper(5, 0.0, 0.0, 0.0, 0.0) == (-1.0, 1.0)  # Clarke hull of |u|' at u = 0
    assert _helper(6, 0.0, 0.0, 0.0, 0.0) == (0.0, 1.0)
    assert _helper(6, 0.5, 1.0, 0.0, 0.0) == (1.0, 1.0)
    assert _helper(0, 0.0, 2.0, 0.0, 0.0)[1] == np.inf and _helper(0, 0.0, 2.0, 0, 0)[0] > 0


def test_tan_across_a_pole_is_the_whole_line():
    assert _helper(4, 1.5, 1.6, 0.0, 0.0) == (-np.inf, np.inf)
