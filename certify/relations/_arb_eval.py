"""Rigorous evaluation of sympy expressions in python-flint ``arb`` balls.

Written by hand because no library maps a sympy tree onto arb balls with
*enclosure* semantics (sympy's own ``lambdify(modules="mpmath")`` gives
point values, and mpmath's ``iv`` context has no support for the piecewise
functions we need). Every supported node maps to an arb operation that returns
a ball containing the exact value for every point of its argument balls, so
evaluating over a ball box gives a rigorous range enclosure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy as sp
from flint import arb

__all__ = ["UnsupportedExpressionError", "arb_evaluate", "supported"]


class UnsupportedExpressionError(Exception):
    """The expression contains a node with no rigorous arb counterpart here."""


def _sign(a: arb) -> arb:
    if a > 0:
        return arb(1)
    if a < 0:
        return arb(-1)
    if a.is_zero():
        return arb(0)
    return arb(0, 1)  # [-1, 1]


def _heaviside(a: arb) -> arb:
    if a > 0:
        return arb(1)
    if a < 0:
        return arb(0)
    return arb(0.5, 0.5)  # [0, 1], covers every convention for H(0)


_UNARY: dict[type, Callable[[arb], arb]] = {
    sp.exp: lambda a: a.exp(),
    sp.log: lambda a: a.log(),
    sp.sin: lambda a: a.sin(),
    sp.cos: lambda a: a.cos(),
    sp.tan: lambda a: a.tan(),
    sp.sinh: lambda a: a.sinh(),
    sp.cosh: lambda a: a.cosh(),
    sp.tanh: lambda a: a.tanh(),
    sp.atan: lambda a: a.atan(),
    sp.asin: lambda a: a.asin(),
    sp.acos: lambda a: a.acos(),
    sp.erf: lambda a: a.erf(),
    sp.Abs: lambda a: abs(a),
    sp.sign: _sign,
    sp.Heaviside: _heaviside,
}


def supported(expr: sp.Basic) -> bool:
    """Whether :func:`arb_evaluate` can enclose ``expr``."""
    try:
        _check(expr)
    except UnsupportedExpressionError:
        return False
    return True


def _check(expr: sp.Basic) -> None:
    if isinstance(expr, (sp.Symbol, sp.Number, sp.NumberSymbol)):
        return
    if isinstance(expr, (sp.Add, sp.Mul, sp.Pow, sp.Max, sp.Min)) or type(expr) in _UNARY:
        for arg in expr.args:
            _check(arg)
        return
    raise UnsupportedExpressionError(f"no rigorous arb evaluation for {type(expr).__name__}")


def _number(expr: sp.Basic) -> arb:
    if isinstance(expr, sp.Integer):
        return arb(int(expr))
    if isinstance(expr, sp.Rational):
        return arb(int(expr.p)) / int(expr.q)
    if expr is sp.pi:
        return arb.pi()
    if expr is sp.E:
        return arb(1).exp()
    if isinstance(expr, sp.Float):
        # A sympy Float is a binary mpf; its exact value as mantissa * 2^exp.
        sign, man, exp, _ = expr._mpf_
        value = arb(int(man)) * arb(2) ** int(exp)
        return -value if sign else value
    if isinstance(expr, sp.NumberSymbol):
        return arb(str(sp.N(expr, 40))) + arb(0, 1e-35)
    raise UnsupportedExpressionError(f"no rigorous arb value for the number {expr}")


def arb_evaluate(expr: sp.Basic, env: Mapping[sp.Symbol, arb]) -> arb:
    """Enclose the range of ``expr`` over the balls in ``env`` (symbol -> arb).

    Raises
    ------
    UnsupportedExpressionError
        For nodes without a rigorous counterpart (e.g. ``DiracDelta``, ``floor``).
    """
    if isinstance(expr, sp.Symbol):
        return env[expr]
    if isinstance(expr, (sp.Number, sp.NumberSymbol)):
        return _number(expr)
    if isinstance(expr, sp.Add):
        total = arb(0)
        for arg in expr.args:
            total += arb_evaluate(arg, env)
        return total
    if isinstance(expr, sp.Mul):
        prod = arb(1)
        for arg in expr.args:
            prod *= arb_evaluate(arg, env)
        return prod
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        b = arb_evaluate(base, env)
        if isinstance(exponent, sp.Integer):
            n = int(exponent)
            return b**n if n >= 0 else 1 / b ** (-n)
        if exponent == sp.Rational(1, 2):
            return b.sqrt()
        return (arb_evaluate(exponent, env) * b.log()).exp()
    if isinstance(expr, (sp.Max, sp.Min)):
        vals = [arb_evaluate(arg, env) for arg in expr.args]
        out = vals[0]
        for v in vals[1:]:
            out = out.max(v) if isinstance(expr, sp.Max) else out.min(v)
        return out
    fn = _UNARY.get(type(expr))
    if fn is not None and len(expr.args) == 1:
        return fn(arb_evaluate(expr.args[0], env))
    raise UnsupportedExpressionError(f"no rigorous arb evaluation for {type(expr).__name__}")
