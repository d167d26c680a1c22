"""Rigorous evaluation of the lemma expressions in python-flint ``arb`` balls.

A small interpreter from a sympy expression tree to an arb ball: every
operation is rigorous, numbers enter exactly (integers, rationals and floats) or
as balls (``pi``, ``sqrt(2)``), so the ball returned contains the exact value
of the expression at the given (exact or ball) inputs. Sums over an index are
iterated here, not expanded by sympy, so long spectra stay cheap.

:func:`certify.relations._arb_eval.arb_evaluate` covers the elementary functions of
relation expressions; the lemmas need sums over an index, sequence entries
(``Indexed``) that may be unknown, ``Max`` and ``ceiling``, hence this separate
interpreter.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy
from flint import arb, ctx

from certify._rigorous import WORKING_PRECISION, upper_float

__all__ = ["EvaluationContext", "down_float", "exact_ball", "to_arb", "up_float"]


def up_float(a: arb) -> float:
    """The smallest float >= every point of ``a``; ``inf`` past the float range."""
    try:
        return upper_float(a)
    except OverflowError:  # an endpoint beyond the largest float
        return math.inf if a.upper() > 0 else -sys.float_info.max


def down_float(a: arb) -> float:
    """The largest float <= every point of ``a``; ``-inf`` past the float range.

    The negation is done at the working precision: at the default 53 bits it
    would round the midpoint and widen the ball by an ulp or two.
    """
    with ctx.workprec(WORKING_PRECISION):
        neg = -a
    return -up_float(neg)


def exact_ball(x: Any) -> arb:
    """The ball of a real number: exact for ints, floats and dyadic rationals.

    Accepts Python ints and floats, :class:`fractions.Fraction`, numpy scalars,
    sympy numbers (rational exactly, irrational as a rigorous ball) and arb balls.
    """
    if isinstance(x, arb):
        return x
    if isinstance(x, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(x, numbers.Integral):
        return arb(int(x))
    if isinstance(x, Fraction):
        return _rational(x.numerator, x.denominator)
    if isinstance(x, sympy.Basic):
        return to_arb(sympy.sympify(x), EvaluationContext({}, {}))
    if isinstance(x, numbers.Real):
        f = float(x)
        if not math.isfinite(f):
            return arb(f) if not math.isnan(f) else arb.nan()
        return arb(f)
    raise TypeError(f"not a real number: {type(x).__name__}")


def _rational(p: int, q: int) -> arb:
    if q == 1:
        return arb(p)
    return arb(p) / arb(q)


class EvaluationContext:
    """Values of the free symbols while interpreting one expression.

    ``scalars`` maps sympy Symbols to balls (or exact ints for summation
    indices and integer symbols); ``sequences`` maps IndexedBase labels to
    Python sequences of balls, indexed from 1 (``None`` for an unknown entry,
    which evaluates to NaN and is listed in ``missing`` under its name in
    ``names``). ``notes`` collects remarks on infinite sums that were truncated
    to the data given.
    """

    def __init__(
        self,
        scalars: Mapping[sympy.Basic, arb | int],
        sequences: Mapping[sympy.Basic, Sequence[arb | None]],
        names: Mapping[sympy.Basic, str] | None = None,
    ) -> None:
        self.scalars: dict[sympy.Basic, arb | int] = dict(scalars)
        self.sequences = dict(sequences)
        self.names: dict[sympy.Basic, str] = dict(names or {})
        self.notes: list[str] = []
        self.missing: list[str] = []


def _to_int(expr: sympy.Basic, ctx: EvaluationContext) -> int:
    """An exact integer from an index expression (``i``, ``m + 1``, ``d``)."""
    if isinstance(expr, sympy.Integer):
        return int(expr)
    if isinstance(expr, sympy.Symbol):
        v = ctx.scalars[expr]
        if isinstance(v, int):
            return v
        z = v.unique_fmpz() if v.is_exact() else None
        if z is not None:
            return int(z)
        raise TypeError(f"index symbol {expr} has no exact integer value")
    if isinstance(expr, sympy.Add):
        return sum(_to_int(a, ctx) for a in expr.args)
    if isinstance(expr, sympy.Mul):
        out = 1
        for a in expr.args:
            out *= _to_int(a, ctx)
        return out
    raise TypeError(f"cannot evaluate index expression {expr}")


def _ball(v: arb | int) -> arb:
    return arb(v) if isinstance(v, int) else v


def to_arb(expr: sympy.Basic, ctx: EvaluationContext) -> arb:
    """A ball containing the value of ``expr`` at the values in ``ctx``."""
    if isinstance(expr, sympy.Integer):
        return arb(int(expr))
    if isinstance(expr, sympy.Rational):
        return _rational(int(expr.p), int(expr.q))
    if isinstance(expr, sympy.Float):
        q = sympy.Rational(expr)  # exact: a sympy Float is a binary fraction
        return _rational(int(q.p), int(q.q))
    if expr is sympy.pi:
        return arb.pi()
    if expr is sympy.E:
        return arb(1).exp()
    if isinstance(expr, sympy.Symbol):
        return _ball(ctx.scalars[expr])
    if isinstance(expr, sympy.Indexed):
        label = expr.base.label
        seq = ctx.sequences[label]
        k = _to_int(expr.indices[0], ctx)
        name = ctx.names.get(label, str(label))
        if not 1 <= k <= len(seq):
            raise IndexError(f"`{name}` has {len(seq)} values; entry {k} is needed")
        value = seq[k - 1]
        if value is None:
            ctx.missing.append(f"{name}[{k}]")
            return arb.nan()
        return value
    if isinstance(expr, sympy.Add):
        out = arb(0)
        for a in expr.args:
            out += to_arb(a, ctx)
        return out
    if isinstance(expr, sympy.Mul):
        out = arb(1)
        for a in expr.args:
            out *= to_arb(a, ctx)
        return out
    if isinstance(expr, sympy.Pow):
        return _pow(expr, ctx)
    if isinstance(expr, sympy.exp):
        return to_arb(expr.args[0], ctx).exp()
    if isinstance(expr, sympy.log):
        return to_arb(expr.args[0], ctx).log()
    if isinstance(expr, sympy.Abs):
        return abs(to_arb(expr.args[0], ctx))
    if isinstance(expr, (sympy.Max, sympy.Min)):
        vals = [to_arb(a, ctx) for a in expr.args]
        out = vals[0]
        for v in vals[1:]:
            out = out.max(v) if isinstance(expr, sympy.Max) else out.min(v)
        return out
    if isinstance(expr, sympy.ceiling):
        return to_arb(expr.args[0], ctx).ceil()
    if isinstance(expr, sympy.Sum):
        return _sum(expr, ctx)
    raise TypeError(f"cannot evaluate {type(expr).__name__} ({expr}) in ball arithmetic")


def _pow(expr: sympy.Pow, ctx: EvaluationContext) -> arb:
    base, e = expr.args
    b = to_arb(base, ctx)
    if isinstance(e, sympy.Integer):
        k = int(e)
        return b**k if k >= 0 else 1 / b ** (-k)
    if e == sympy.Rational(1, 2):
        return b.sqrt()
    if e == sympy.Rational(-1, 2):
        return b.rsqrt()
    return b ** to_arb(e, ctx)


def _sum(expr: sympy.Sum, ctx: EvaluationContext) -> arb:
    term = expr.function
    out = arb(0)
    # One limit per Sum in the lemmas; nested limits are iterated innermost first.
    if len(expr.limits) != 1:
        inner = sympy.Sum(term, *expr.limits[:-1])
        return _sum(sympy.Sum(inner, expr.limits[-1]), ctx)
    index, lo_e, hi_e = expr.limits[0]
    lo = _to_int(lo_e, ctx)
    if hi_e is sympy.oo:
        lengths = [len(ctx.sequences[a.base.label]) for a in term.atoms(sympy.Indexed)]
        if not lengths:
            raise TypeError(f"infinite sum {expr} over no data sequence")
        hi = min(lengths)
        ctx.notes.append(
            f"the infinite sum {expr} was truncated at the {hi} values given: its terms are "
            "nonnegative, so this is a lower bound on the infinite sum"
        )
    else:
        hi = _to_int(hi_e, ctx)
    saved = ctx.scalars.get(index)
    try:
        for k in range(lo, hi + 1):
            ctx.scalars[index] = k
            out += to_arb(term, ctx)
    finally:
        if saved is None:
            ctx.scalars.pop(index, None)
        else:
            ctx.scalars[index] = saved
    return out
