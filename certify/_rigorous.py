"""Rigorous scalar bounds in python-flint ``arb`` ball arithmetic.

Used where certify needs a *provable* upper (or lower) bound on a scalar
constant, such as the Lipschitz constants of :mod:`certify.relations.kernels`.
Floats enter exactly (every float64 is a dyadic rational, and ``arb(float)`` is
exact); every operation on balls is rigorous; the final bound is rounded
outward to the nearest float64 above (or below) the ball.
"""

from __future__ import annotations

import math
from fractions import Fraction

from flint import arb, ctx

__all__ = ["WORKING_PRECISION", "ball", "lower_float", "upper_float"]

#: Bits of working precision for constant bounds (well above float64's 53).
WORKING_PRECISION = 96


def ball(x: float) -> arb:
    """The exact ball {x} for a finite float ``x`` (``inf`` gives an infinite ball)."""
    return arb(float(x))


def _exact(a: arb) -> Fraction | None:
    if not a.is_finite():
        return None
    man, exp = a.man_exp()
    man_i, exp_i = int(man), int(exp)
    return Fraction(man_i) * (Fraction(2) ** exp_i)


def upper_float(a: arb) -> float:
    """The smallest float64 that is >= every point of the ball ``a`` (``inf`` if unbounded).

    Examples
    --------
    >>> with ctx.workprec(WORKING_PRECISION):
    ...     e = upper_float(arb(1).exp())
    >>> e > math.e and math.nextafter(e, 0.0) <= math.e  # the float just above Euler's e
    True
    """
    if a.is_nan():
        return math.nan
    with ctx.workprec(WORKING_PRECISION):
        q = _exact(a.upper())
    if q is None:
        return math.inf
    f = float(q)  # round to nearest
    if Fraction(f) < q:
        f = math.nextafter(f, math.inf)
    return f


def lower_float(a: arb) -> float:
    """The largest float64 that is <= every point of the ball ``a`` (``-inf`` if unbounded)."""
    with ctx.workprec(WORKING_PRECISION):  # negation at working precision: no extra rounding
        neg = -a
    return -upper_float(neg)
