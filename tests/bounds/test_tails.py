"""Spectral tails from eigenvalue lists and the neuron count N(eps) of L4 (certify.bounds.tails).

The Brownian-motion kernel min(x, y) on [0, 1] (THEORY.md reference instance) has
lambda_k = 1 / ((k - 1/2)^2 pi^2), so its tails are Hurwitz zeta values:
sum_{k>d} lambda_k = zeta(2, d + 1/2) / pi^2 and sum_{k>d} lambda_k^2 = zeta(4, d + 1/2) / pi^4,
computed here with mpmath at 40 digits, independently of the code under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from certify.bounds import (
    BarronConstant,
    bound,
    neurons_for_accuracy,
    spectral_tail,
    spectral_tails,
)
from certify.errors import InvalidInputError

K = 200


def brownian_eigenvalues(k: int) -> np.ndarray:
    j = np.arange(1, k + 1)
    return 1.0 / ((j - 0.5) ** 2 * np.pi**2)


def zeta_tail(power: int, d: int) -> mpmath.mpf:
    with mpmath.workdps(40):
        return mpmath.zeta(2 * power, d + mpmath.mpf(1) / 2) / mpmath.pi ** (2 * power)


def float_up(x: mpmath.mpf) -> float:
    """A float >= x (two steps up from the nearest covers any conversion error)."""
    return math.nextafter(math.nextafter(float(x), math.inf), math.inf)


def test_brownian_trace_is_one_half():
    # sum_k lambda_k = trace = int_0^1 min(x, x) dx = 1/2
    assert math.isclose(float(zeta_tail(1, 0)), 0.5, rel_tol=1e-15, abs_tol=0.0)


@pytest.mark.parametrize("d", [0, 5, 50])
@pytest.mark.parametrize("norm", ["l2", "trace"])
def test_brownian_tails_are_enclosed(d, norm):
    power = 2 if norm == "l2" else 1
    lam = brownian_eigenvalues(K)
    # The float eigenvalues differ from the exact ones by rounding; compare against the
    # tails of the floats themselves (Fractions), plus the zeta remainder for k > K.
    given = sum(Fraction(float(v)) ** power for v in lam[d:])
    rem = zeta_tail(power, K)
    t = spectral_tail(lam, d, norm=norm, remainder=float_up(rem))
    truth = mpmath.mpf(given.numerator) / given.denominator + rem
    truth = mpmath.sqrt(truth) if norm == "l2" else truth
    assert t.upper is not None
    assert mpmath.mpf(t.lower) <= truth <= mpmath.mpf(t.upper)
    # and the truncated sum alone is a lower bound on the exact Brownian tail
    exact = zeta_tail(power, d)
    assert mpmath.mpf(t.lower) <= (mpmath.sqrt(exact) if norm == "l2" else exact)


def test_without_a_remainder_only_the_lower_end_is_known():
    tails = spectral_tails(brownian_eigenvalues(10), norm="l2")
    assert all(t.upper is None for t in tails)
    assert tails[10].lower == 0.0 and tails[0].n_values == 10
    # a truncated list gives a lower bound of the true tail: safe for L6
    v = bound("L6").evaluate(m=3, sigma=list(brownian_eigenvalues(10)))
    assert v.value is not None and mpmath.mpf(v.value) <= mpmath.sqrt(zeta_tail(2, 3))


def test_exact_small_example():
    t = spectral_tails([0.5, 0.25, 0.125], norm="trace", remainder=0.125)
    assert [x.lower for x in t] == [0.875, 0.375, 0.125, 0.0]
    assert [x.upper for x in t] == [1.0, 0.5, 0.25, 0.125]


def geometric_case(eps: float, K: int = 30) -> tuple[list[float], float]:
    """lambda_i = 2^-i, C_i = 1: tau(d)^2 = sum_{i>d} 4^-i = 4^-d / 3, remainder 4^-K / 3."""
    lam = [2.0**-i for i in range(1, K + 1)]
    remainder = float(Fraction(1, 3 * 4**K)) * (1 + 2**-50)
    return lam, remainder


def test_neurons_for_accuracy_matches_the_formula():
    eps = 0.01
    lam, rem = geometric_case(eps)
    c = neurons_for_accuracy(eps, lam, [1.0] * len(lam), radius=1.0, remainder=rem)
    # d_eps: smallest d with 4^-d / 3 <= (eps/2)^2, by exact arithmetic
    d = next(k for k in range(40) if Fraction(1, 3 * 4**k) <= (Fraction(eps) / 2) ** 2)
    assert c.rank == d
    A = sum(Fraction(1, 2**i) for i in range(1, d + 1))  # = B, since C_i = 1
    width = math.ceil(max((16 * A / Fraction(eps)) ** 2, 16 * A / Fraction(eps), Fraction(1)))
    assert c.width == width and c.total == d * width
    assert c.bound is not None and c.bound.value is not None and c.bound.value <= eps
    assert c.A is not None and Fraction(c.A) >= A


def test_neurons_for_accuracy_unknowns():
    lam, rem = geometric_case(0.01)
    unknown = BarronConstant(None, None, False, 1, "none", "bounded domain")
    cs = [1.0, None, unknown] + [1.0] * (len(lam) - 3)
    c = neurons_for_accuracy(0.01, lam, cs, radius=1.0, remainder=rem)
    assert c.total is None and c.missing == ("C[2]", "C[3]") and "unknown Barron" in c.reason
    c2 = neurons_for_accuracy(0.01, lam, [1.0] * len(lam), radius=1.0, remainder=None)
    assert c2.total is None and "`remainder`" in c2.reason
    c3 = neurons_for_accuracy(1e-12, lam, [1.0] * len(lam), radius=1.0, remainder=rem)
    assert c3.total is None and "for every d <=" in c3.reason


def test_neurons_rank_zero_when_the_kernel_is_already_small():
    c = neurons_for_accuracy(10.0, [0.5, 0.25], [1.0, 1.0], radius=1.0, remainder=0.0)
    assert c.rank == 0 and c.total == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: spectral_tail([0.5, -0.1], 0), "entry 2 is -0.1"),
        (lambda: spectral_tail([0.5], 2), "`rank` must be <= the 1 eigenvalues"),
        (lambda: spectral_tail([0.5], 0, norm="sup"), "`norm` must be 'l2' or 'trace'"),
        (lambda: spectral_tail([0.5], 0, remainder=-1.0), "`remainder` must be >= 0"),
        (lambda: spectral_tail([[0.5]], 0), "must be one-dimensional"),
        (
            lambda: neurons_for_accuracy(0.0, [0.5], [1.0], radius=1.0, remainder=0.0),
            "`eps` must be > 0",
        ),
        (
            lambda: neurons_for_accuracy(0.1, [0.5, 0.5], [1.0], radius=1.0, remainder=0.0),
            "`barron_constants` has 1 values; d_eps = 2",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()
