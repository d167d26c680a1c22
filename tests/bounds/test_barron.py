"""Barron constants from closed-form Fourier data (certify.bounds.barron).

References are independent of the code under test: closed forms (the Gaussian,
the 2-D Gaussian), the Fourier eigen-relation of the Hermite functions with
mpmath quadrature split at the roots, and a brute-force numpy Fourier transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import sympy

from certify.bounds import BarronConstant, GaussianPolynomial, TensorProduct, barron_constant
from certify.errors import InvalidInputError


def brute_force_barron(
    f: Callable[[np.ndarray], np.ndarray], *, half_width: float, w_max: float
) -> float:
    """int |w| |f^(w)| dw with f^(w) = (1/2pi) int f(x) e^{-iwx} dx, both by the trapezoid rule.

    The x-rule is spectrally accurate for Gaussian decay; the w-rule loses O(h^2) at the
    roots of |f^| (h = w_max / 3000), so agreement to ~1e-5 relative is what to expect.
    """
    x = np.linspace(-half_width, half_width, 801)
    dx = x[1] - x[0]
    w = np.linspace(-w_max, w_max, 6001)
    fx = f(x)
    ft = (np.exp(-1j * np.outer(w, x)) @ fx) * dx / (2 * np.pi)
    return float(np.trapezoid(np.abs(w) * np.abs(ft), w))


@pytest.mark.parametrize("rate", [0.5, 1.0, 3.7])
def test_gaussian_encloses_the_closed_form(rate):
    c = barron_constant(GaussianPolynomial([1], rate=rate))
    with mpmath.workdps(40):
        ref = 2 * mpmath.sqrt(mpmath.mpf(rate) / mpmath.pi)
    assert c.exact and c.lower is not None and c.value is not None
    assert mpmath.mpf(c.lower) <= ref <= mpmath.mpf(c.value)
    # the enclosure is a few ulps wide: 1e-14 relative catches any loss of accuracy
    assert c.value - c.lower <= 1e-14 * float(ref)


@pytest.mark.parametrize("k", range(7))
def test_hermite_functions_against_the_fourier_eigen_relation(k):
    # psi_k(x) = H_k(x) e^{-x^2/2} satisfies (1/sqrt(2 pi)) int psi_k e^{-iwx} dx = (-i)^k psi_k(w),
    # so |f^(w)| = |psi_k(w)| / sqrt(2 pi) and C = int |w| |H_k(w)| e^{-w^2/2} dw / sqrt(2 pi).
    roots = sorted(r for r in np.polynomial.hermite.hermroots([0] * k + [1]) if r > 0)
    with mpmath.workdps(30):
        pts = [mpmath.mpf(0), *map(mpmath.mpf, roots), mpmath.inf]
        g = lambda w: w * abs(mpmath.hermite(k, w)) * mpmath.exp(-(w**2) / 2)  # noqa: E731
        ref = 2 * mpmath.quad(g, pts) / mpmath.sqrt(2 * mpmath.pi)
    c = barron_constant(GaussianPolynomial.hermite(k, rate=0.5))
    assert c.exact and c.value is not None and c.lower is not None
    # mpmath's quadrature is accurate to ~1e-25 here; the enclosure is ~1e-15 wide.
    tol = 1e-13 * float(ref)
    assert c.lower - tol <= float(ref) <= c.value + tol
    assert c.value - c.lower <= 1e-13 * float(ref)


def test_gaussian_kernel_eigenfunctions_against_a_brute_force_transform():
    # Fasshauer-McCourt: phi_n(x) = gamma_n exp(-delta^2 x^2) H_{n-1}(alpha beta x) for the
    # kernel exp(-e^2 (x-y)^2) and the measure alpha/sqrt(pi) exp(-alpha^2 x^2).
    e, alpha = 1.0, 1.0
    beta = (1 + (2 * e / alpha) ** 2) ** 0.25
    delta2 = alpha**2 / 2 * (beta**2 - 1)
    for n in (1, 2, 3, 4):
        gamma = math.sqrt(beta / (2 ** (n - 1) * math.gamma(n)))
        f = GaussianPolynomial.hermite(n - 1, rate=delta2, scale=alpha * beta, amplitude=gamma)
        c = barron_constant(f)
        h = np.polynomial.hermite.Hermite([0] * (n - 1) + [1])

        def fx(x, gamma=gamma, h=h):
            return gamma * np.exp(-delta2 * x**2) * h(alpha * beta * x)

        ref = brute_force_barron(fx, half_width=10.0, w_max=30.0)
        assert c.exact and c.value is not None
        assert math.isclose(c.value, ref, rel_tol=2e-5, abs_tol=0.0), (n, c.value, ref)


def test_shift_and_scale():
    base = barron_constant(GaussianPolynomial([0, 1, 0, 2], rate=0.7))
    shifted = barron_constant(GaussianPolynomial([0, 1, 0, 2], rate=0.7, center=1.5))
    scaled = barron_constant(GaussianPolynomial([0, 3, 0, 6], rate=0.7))
    assert base.value == shifted.value  # a translation only changes the phase of f^
    assert base.value is not None and base.lower is not None
    assert scaled.value is not None and scaled.lower is not None
    assert 3 * base.lower <= scaled.value and scaled.lower <= 3 * base.value * (1 + 1e-15)


def test_sympy_expressions_are_recognised():
    x = sympy.Symbol("x")
    a = barron_constant((x - 1) * sympy.exp(-((x - 1) ** 2) / 2))
    b = barron_constant(GaussianPolynomial([0, 1], rate=0.5, center=1))
    assert a.exact and a.value == b.value
    # exp(-x^2 + 2x) = e * exp(-(x - 1)^2): the constant factor is carried exactly.
    c = barron_constant(sympy.exp(-(x**2) + 2 * x))
    assert c.exact and c.lower is not None and c.value is not None
    assert c.lower <= math.e * 2 / math.sqrt(math.pi) <= c.value * (1 + 1e-15)


def test_mixed_parity_and_several_groups_give_upper_bounds():
    x = sympy.Symbol("x")
    mixed = barron_constant((1 + x) * sympy.exp(-(x**2)))
    assert not mixed.exact and mixed.lower is None and mixed.value is not None
    assert "mixed parity" in mixed.reason
    ref = brute_force_barron(lambda t: (1 + t) * np.exp(-(t**2)), half_width=10.0, w_max=30.0)
    assert mixed.value >= ref * (1 - 1e-5)
    two = barron_constant(sympy.exp(-((x - 1) ** 2)) + sympy.exp(-((x + 1) ** 2)))
    assert not two.exact and "2 groups" in two.reason and two.value is not None
    ref2 = brute_force_barron(
        lambda t: np.exp(-((t - 1) ** 2)) + np.exp(-((t + 1) ** 2)), half_width=10.0, w_max=30.0
    )
    assert two.value >= ref2 * (1 - 1e-5)
    # Equal rate and centre merge exactly: x e^{-x^2} + 2x e^{-x^2} = 3x e^{-x^2}.
    merged = barron_constant(
        [GaussianPolynomial([0, 1], rate=1), GaussianPolynomial([0, 2], rate=1)]
    )
    single = barron_constant(GaussianPolynomial([0, 3], rate=1))
    assert merged.exact and merged.value == single.value


def test_tensor_product_gaussian_is_bounded_above():
    # f(x) = exp(-|x|^2) on R^2: f^(w) = exp(-|w|^2/4) / (4 pi), C_f = sqrt(pi) exactly;
    # the l1 bound gives 2 * (2/sqrt(pi)) * ||f_1^||_1 = 4 / sqrt(pi) (||f_1^||_1 = f_1(0) = 1).
    g = GaussianPolynomial([1], rate=1)
    c = barron_constant(TensorProduct([g, g]))
    assert c.dimension == 2 and not c.exact and c.value is not None
    assert c.value >= math.sqrt(math.pi)
    assert math.isclose(c.value, 4 / math.sqrt(math.pi), rel_tol=1e-14, abs_tol=0.0)


def test_high_degree_is_fast_and_tight():
    c = barron_constant(GaussianPolynomial.hermite(20, rate=0.5))
    assert c.exact and c.value is not None and c.lower is not None
    assert c.value - c.lower <= 1e-12 * c.value


def test_ball_contains_the_enclosure():
    c = barron_constant(GaussianPolynomial([1], rate=2))
    b = c.ball()
    assert c.lower is not None and c.value is not None
    assert b.lower() <= c.lower and b.upper() >= c.value
    with pytest.raises(InvalidInputError, match="the Barron constant is unknown"):
        BarronConstant(None, None, False, 1, "none", "no data").ball()


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("sqrt(2) * sin((2 - 1/2) * pi * x)", "extension"),
        ("x**2", "not integrable"),
        ("exp(x**2)", "does not decay"),
        ("exp(-x**4)", "no Gaussian factor"),
        ("exp(-x**2) * sin(x)", "not a polynomial times exp(quadratic)"),
    ],
)
def test_unknown_with_the_reason(expr, needle):
    x = sympy.Symbol("x")
    c = barron_constant(sympy.sympify(expr, locals={"x": x}))
    assert c.value is None and c.lower is None and not c.known
    assert needle in c.reason


def test_unknown_for_data_without_fourier_information():
    c = barron_constant(lambda x: math.sin(x))
    assert c.value is None and "no closed-form Fourier data" in c.reason
    x, y = sympy.symbols("x y")
    c2 = barron_constant(sympy.exp(-(x**2) - y**2), variable=x)
    assert c2.value is None and "one-dimensional" in c2.reason


def test_errors():
    x, y = sympy.symbols("x y")
    with pytest.raises(InvalidInputError, match="give `variable`"):
        barron_constant(sympy.exp(-(x**2) - y**2))
    with pytest.raises(InvalidInputError, match="`rate` must be > 0"):
        GaussianPolynomial([1], rate=0)
    with pytest.raises(InvalidInputError, match=r"`coefficients\[1\]` must be a finite real"):
        GaussianPolynomial([1, math.nan], rate=1)
    with pytest.raises(InvalidInputError, match="`coefficients` must be a sequence"):
        GaussianPolynomial(3, rate=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="`factors` must hold at least one factor"):
        TensorProduct([])
    with pytest.raises(InvalidInputError, match=r"`factors\[0\]` must be a GaussianPolynomial"):
        TensorProduct([[]])
    with pytest.raises(InvalidInputError, match="`degree` must be an int >= 0"):
        GaussianPolynomial.hermite(-1, rate=1)
