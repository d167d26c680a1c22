"""The quantitative lemmas of THEORY.md as sympy expressions: evaluate, invert, LaTeX.

Each lemma is a frozen :class:`Bound`: its statement, the sympy expression of the
bound in named symbols (:mod:`certify.bounds.symbols`), whether it is an upper
bound, a lower bound or a sufficient size, its hypotheses, and the direction in
which the bound moves with each input. Certificates put ``Bound.evaluate(...)``
beside the achieved figure (:meth:`BoundValue.ratio_to_achieved`).

Evaluation is rigorous: inputs enter exactly (ints, floats, fractions) or as arb
balls, the expression is evaluated in ball arithmetic, and the final value is
rounded up for upper bounds and sufficient sizes, down for lower bounds (L6, L7).
A missing or unknown input (``None``, an unknown :class:`BarronConstant`) gives
``value=None`` with the names in ``missing``: never a guess.

The bounds (``bound(name)`` or the module attributes):

========================  =========  ===================================================
name / attribute          direction  expression
========================  =========  ===================================================
``L1``                    upper      ``T``
``L2`` / ``L2_SYMMETRIC`` upper      ``T(d) + 2 sqrt(kappa) Delta + Delta^2``
``L2-asymmetric``         upper      ``e0 + |F| Delta_psi + Delta_phi (|G| + Delta_psi)``
``L3``                    upper      ``2 R C_f / sqrt(n)``
``L4``                    upper      ``tau + sum_i (2 sqrt(l_i) delta_i + delta_i^2)``
``L4-equal-width``        upper      ``tau + 4 R A / sqrt(n) + 4 R^2 B / n``
``L4-neurons``            sufficient ``d ceil(max{(16 R A / eps)^2, 16 R^2 B / eps, 1})``
``L5``                    upper      ``tau + sum_k [sqrt(s_k)(delta_k + delta'_k) + ...]``
``L6``                    lower      ``(sum_{k>m} sigma_k^2)^(1/2)``
``L7``                    lower      ``gamma / p``
========================  =========  ===================================================
"""

from __future__ import annotations

import math
import numbers
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import sympy
from flint import arb, ctx

from certify._rigorous import WORKING_PRECISION
from certify._validation import check_int, describe
from certify.bounds._arb_eval import (
    EvaluationContext,
    down_float,
    exact_ball,
    to_arb,
    up_float,
)
from certify.bounds.barron import BarronConstant
from certify.bounds.symbols import SymbolInfo, catalogue, index_symbol, with_description
from certify.errors import InvalidInputError

__all__ = [
    "BOUND_NAMES",
    "Bound",
    "BoundValue",
    "Solution",
    "bound",
]

Direction = Literal["upper", "lower", "sufficient"]

#: The names accepted by :func:`bound`.
BOUND_NAMES = (
    "L1",
    "L2",
    "L2-asymmetric",
    "L3",
    "L4",
    "L4-equal-width",
    "L4-neurons",
    "L5",
    "L6",
    "L7",
)

#: Largest integer :meth:`Bound.solve_for` searches (neurons, features, points).
_INT_CAP = 2**62


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class BoundValue:
    """A lemma's bound at given constants, rounded in the safe direction.

    Attributes
    ----------
    lemma, name : str
        THEORY.md id (``"L4"``) and bound name (``"L4-equal-width"``).
    direction : {"upper", "lower", "sufficient"}
        ``value`` is rounded up for "upper" and "sufficient", down for "lower".
    value : float or None
        The bound, or None when an input is missing or unknown.
    enclosure : tuple of float or None
        Outward-rounded ``(lo, hi)`` enclosure of the expression's exact value at
        the inputs (None when ``value`` is None).
    missing : tuple of str
        Inputs not given or unknown (``"C_f"``, ``"C[3]"``), in order.
    inputs : mapping
        The inputs used, by symbol name (floats, ints, lists; balls as strings).
    notes : tuple of str
        Remarks (truncated infinite sums, unknown Barron constants and their reasons).
    """

    lemma: str
    name: str
    direction: Direction
    value: float | None
    enclosure: tuple[float, float] | None
    missing: tuple[str, ...]
    inputs: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """Whether a value is available."""
        return self.value is not None

    def ratio_to_achieved(self, achieved: float) -> float | None:
        """``value / achieved``: how far the lemma's bound is from the achieved figure.

        For an upper bound, ``achieved`` is the certified error of the model (the
        ratio is >= 1 when the lemma is sound and the model no better than it
        promises, and measures the lemma's slack); for a lower bound it is the
        certified error too (ratio <= 1). A descriptive number, rounded to nearest;
        None when the bound is unknown.

        Examples
        --------
        >>> v = bound("L3").evaluate(R=1, C_f=2, n=16)
        >>> v.value, v.ratio_to_achieved(0.25)
        (1.0, 4.0)
        """
        if self.value is None:
            return None
        a = float(achieved)
        if math.isnan(a) or a < 0:
            raise InvalidInputError(f"`achieved` must be a number >= 0; got {achieved!r}.")
        if a == 0:
            return math.inf if self.value > 0 else math.nan
        return self.value / a

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (floats also as ``float.hex`` so they round-trip)."""
        return {
            "lemma": self.lemma,
            "name": self.name,
            "direction": self.direction,
            "value": self.value,
            "value_hex": None if self.value is None else float(self.value).hex(),
            "enclosure": None if self.enclosure is None else list(self.enclosure),
            "missing": list(self.missing),
            "inputs": dict(self.inputs),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Solution:
    """The result of :meth:`Bound.solve_for`.

    Attributes
    ----------
    lemma, name : str
        The bound solved.
    symbol : str
        The symbol solved for (``"n"``, ``"Delta"``, ``"m"``, ``"eps"``).
    value : int, float or None
        The threshold (see ``meaning``); None when unknown or unreachable.
    eps : float or None
        The target accuracy (None when solving for ``eps``).
    bound : BoundValue or None
        The bound evaluated at ``value`` (for an upper bound: ``<= eps``, checked).
    missing : tuple of str
        Inputs not given or unknown.
    meaning : str
        What ``value`` guarantees, in words.
    reason : str
        Why ``value`` is None, if it is.
    """

    lemma: str
    name: str
    symbol: str
    value: int | float | None
    eps: float | None
    bound: BoundValue | None
    missing: tuple[str, ...] = ()
    meaning: str = ""
    reason: str = ""


# --------------------------------------------------------------------------- the Bound


@dataclass(frozen=True)
class Bound:
    """One quantitative lemma of THEORY.md: ``lhs <= expression`` (or ``>=``, or ``N =``).

    Attributes
    ----------
    lemma : str
        THEORY.md id (``"L4"``).
    name : str
        Name of this form (``"L4-equal-width"``); :func:`bound` takes it.
    statement : str
        The lemma in words, with its norm.
    lhs_latex : str
        The bounded quantity in LaTeX.
    expression : sympy.Expr
        The bound, in the symbols of ``symbols``.
    symbols : mapping of str to SymbolInfo
        Every input of ``expression``, by name.
    direction : {"upper", "lower", "sufficient"}
        An upper bound on the error, a lower bound on it, or a size that suffices.
    monotonicity : mapping of str to int
        +1 where the bound increases with the input, -1 where it decreases;
        inputs absent here are not solved for. The bound stays valid when each
        input is replaced by a value on the side that makes it larger (smaller,
        for a lower bound): upper bounds of tails and Barron constants, etc.
    assumptions : tuple of str
        The hypotheses of the lemma.
    definitions : tuple of str
        Auxiliary quantities used in the statement (``delta_i = ...``).
    substituted : mapping of str to str
        Inputs fixed by :meth:`substitute`.
    """

    lemma: str
    name: str
    statement: str
    lhs_latex: str
    expression: sympy.Expr
    symbols: Mapping[str, SymbolInfo]
    direction: Direction
    monotonicity: Mapping[str, int]
    assumptions: tuple[str, ...]
    definitions: tuple[str, ...] = ()
    substituted: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    # ---------------------------------------------------------------- text

    def latex(self) -> str:
        r"""The lemma as one LaTeX relation, ``lhs \le expression`` (``\ge``, ``=``).

        Examples
        --------
        >>> bound("L3").latex()
        '\\|f - f_n\\|_{L^2(\\mu)} \\le \\frac{2 C_f R}{\\sqrt{n}}'
        """
        names = {info.symbol: info.latex for info in self.symbols.values() if _is_scalar(info)}
        rhs = sympy.latex(self.expression, symbol_names=names)
        rel = {"upper": r"\le", "lower": r"\ge", "sufficient": "="}[self.direction]
        return f"{self.lhs_latex} {rel} {rhs}"

    def describe(self) -> str:
        """Statement, hypotheses and symbols, one per line."""
        lines = [f"{self.lemma} ({self.name}, {self.direction} bound): {self.statement}"]
        lines += [f"  where {d}" for d in self.definitions]
        lines += [f"  assumes {a}" for a in self.assumptions]
        lines += [f"  {info.describe()}" for info in self.symbols.values()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    # ---------------------------------------------------------------- inputs

    def _resolve(self, values: Mapping[str, Any], *, extra: Sequence[str] = ()) -> dict[str, Any]:
        """Values keyed by symbol name (aliases mapped), unknown keys rejected."""
        by_alias = {info.alias: info.name for info in self.symbols.values()}
        allowed = set(self.symbols) | set(extra)
        cat = catalogue()
        for e in extra:
            by_alias[cat[e].alias] = e
        out: dict[str, Any] = {}
        for key, v in values.items():
            name = by_alias.get(key, key)
            if name not in allowed:
                valid = ", ".join(
                    f"{n} ({self.symbols[n].alias})" if n in self.symbols else n
                    for n in (*self.symbols, *extra)
                )
                raise InvalidInputError(
                    f"`{key}` is not an input of {self.name}; its inputs are: {valid}."
                )
            if name in out:
                raise InvalidInputError(
                    f"`{key}` gives {name} twice (by its name and by its alias); give it once."
                )
            out[name] = v
        return out

    def _inputs(
        self, values: Mapping[str, Any]
    ) -> tuple[EvaluationContext, list[str], list[str], dict[str, Any], bool]:
        """Context, missing names, notes, the inputs record, and whether evaluation is possible."""
        scalars: dict[sympy.Basic, arb | int] = {}
        sequences: dict[sympy.Basic, list[arb | None]] = {}
        names: dict[sympy.Basic, str] = {}
        missing: list[str] = []
        notes: list[str] = []
        record: dict[str, Any] = {}
        can_evaluate = True
        for name, info in self.symbols.items():
            v = values.get(name)
            if info.shape == "sequence":
                label = info.symbol.label
                names[label] = name
                if v is None:
                    missing.append(name)
                    sequences[label] = []
                    can_evaluate = False
                    continue
                seq, rec = _convert_sequence(v, info, notes)
                sequences[label] = seq
                record[name] = rec
                continue
            if v is None or (isinstance(v, BarronConstant) and not v.known):
                missing.append(name)
                if isinstance(v, BarronConstant):
                    notes.append(f"{name} unknown: {v.reason}")
                if info.integer:
                    can_evaluate = False
                else:
                    scalars[info.symbol] = arb.nan()
                continue
            ball, rec = _convert_scalar(v, info)
            scalars[info.symbol] = ball
            record[name] = rec
        return EvaluationContext(scalars, sequences, names), missing, notes, record, can_evaluate

    def _compute(self, values: Mapping[str, Any]) -> BoundValue:
        ctx_, missing, notes, record, ok = self._inputs(values)
        if not ok:
            return BoundValue(
                self.lemma,
                self.name,
                self.direction,
                None,
                None,
                tuple(missing),
                record,
                tuple(notes),
            )
        with ctx.workprec(WORKING_PRECISION):
            try:
                ball = to_arb(self.expression, ctx_)
            except IndexError as exc:
                raise InvalidInputError(f"{self.name}: {exc}.") from None
        for m in ctx_.missing:
            if m not in missing:
                missing.append(m)
        notes += ctx_.notes
        if missing:
            return BoundValue(
                self.lemma,
                self.name,
                self.direction,
                None,
                None,
                tuple(missing),
                record,
                tuple(notes),
            )
        if ball.is_nan():
            raise InvalidInputError(
                f"{self.name}: the bound is undefined at these inputs ({record}); "
                "check their domains."
            )
        lo, hi = down_float(ball), up_float(ball)
        value = lo if self.direction == "lower" else hi
        return BoundValue(
            self.lemma, self.name, self.direction, value, (lo, hi), (), record, tuple(notes)
        )

    # ---------------------------------------------------------------- public operations

    def evaluate(self, **values: Any) -> BoundValue:
        """The bound at the given inputs, rounded in the safe direction.

        Parameters
        ----------
        **values
            One value per symbol, by name or alias (``kappa=`` or ``sup_diagonal=``):
            a real number (int, float, Fraction, sympy number: exact), an arb ball,
            a :class:`BarronConstant`, ``None`` (unknown), or for a sequence symbol
            a sequence of those indexed from 1.

        Returns
        -------
        BoundValue
            ``value`` rounded up (upper, sufficient) or down (lower); None with
            ``missing`` when an input is absent or unknown.

        Raises
        ------
        InvalidInputError
            An unknown keyword, a value outside its symbol's domain, or a sequence
            shorter than the sum over it needs.

        Examples
        --------
        >>> v = bound("L2").evaluate(T_d=0.01, kappa=1.0, Delta=0.001)
        >>> v.value >= 0.01 + 2 * 0.001 + 0.001**2
        True
        >>> bound("L3").evaluate(R=1.0, C_f=None, n=100).missing
        ('C_f',)
        """
        return self._compute(self._resolve(values))

    def substitute(self, **values: Any) -> Bound:
        """This bound with some inputs fixed to exact values (a new :class:`Bound`).

        Scalars become exact sympy numbers (floats are dyadic rationals). A
        sequence can be fixed once the limits of the sums over it are numbers (give
        ``d`` in the same call or before); its sums are then expanded.

        Examples
        --------
        >>> b = bound("L3").substitute(R=1, C_f=2)
        >>> b.expression, sorted(b.symbols)
        (4/sqrt(n), ['n'])
        """
        vals = self._resolve(values)
        scalar_map: dict[sympy.Basic, sympy.Expr] = {}
        for name, v in vals.items():
            info = self.symbols[name]
            if info.shape == "scalar":
                scalar_map[info.symbol] = _exact_sympy(v, info)
        expr = self.expression.xreplace(scalar_map)
        for name, v in vals.items():
            info = self.symbols[name]
            if info.shape != "sequence":
                continue
            entries = [_exact_sympy(x, info, index=k) for k, x in enumerate(_as_list(v, info))]
            expr = _expand_sums(expr, info, len(entries), self.name)
            base = info.symbol
            expr = expr.xreplace({base[k + 1]: e for k, e in enumerate(entries)})
            leftover = [a for a in expr.atoms(sympy.Indexed) if a.base == base]
            if leftover:
                raise InvalidInputError(
                    f"`{name}` has {len(entries)} values but {self.name} needs {leftover[0]}."
                )
        kept = {n: i for n, i in self.symbols.items() if n not in vals}
        done = dict(self.substituted)
        done.update({n: str(v) for n, v in vals.items()})
        return replace(
            self,
            expression=expr,
            symbols=MappingProxyType(kept),
            monotonicity=MappingProxyType(
                {n: s for n, s in self.monotonicity.items() if n in kept}
            ),
            substituted=MappingProxyType(done),
        )

    def solve_for(self, symbol: str, **values: Any) -> Solution:
        """Invert the bound: eps given the sizes, or a size (or constant) given eps.

        ``solve_for("eps", ...)`` is :meth:`evaluate`. For another symbol ``x`` it
        needs ``eps`` and every other input, and returns the threshold ``x*``:

        * upper bound, decreasing in ``x`` (neurons ``n``): the smallest ``x*`` with
          bound <= eps, checked in ball arithmetic; every ``x >= x*`` suffices;
        * upper bound, increasing in ``x`` (``Delta``, a tail): the largest ``x*``
          with bound <= eps; every ``x <= x*`` suffices;
        * lower bound, decreasing in ``x`` (features ``m``, points ``p``): the
          smallest ``x*`` whose lower bound is not certified to exceed eps; every
          ``x < x*`` has error > eps, so ``x >= x*`` is necessary;
        * lower bound, increasing in ``x`` (``gamma``): the largest such ``x*``.

        Integers are searched exactly (up to 2^62); reals over the float64 grid.
        The value is None, with the reason, when no value reaches eps (e.g. the
        tail alone exceeds it) or an input is missing.

        Examples
        --------
        >>> s = bound("L3").solve_for("n", R=1, C_f=1, eps=0.1)  # n >= (2 R C_f / eps)^2
        >>> s.value, s.bound.value <= 0.1
        (400, True)
        """
        cat = catalogue()
        target = symbol if symbol in self.symbols or symbol == "eps" else None
        if target is None:
            for info in self.symbols.values():
                if info.alias == symbol:
                    target = info.name
            if symbol == cat["eps"].alias:
                target = "eps"
        if target is None:
            raise InvalidInputError(
                f"`symbol` must be 'eps' or an input of {self.name} "
                f"({', '.join(self.symbols)}); got {symbol!r}."
            )
        if target == "eps":
            if self.direction == "sufficient":
                raise InvalidInputError(
                    f"{self.name} is a sufficient size, not an error bound: solve 'eps' with "
                    "the error bound it comes from."
                )
            bv = self.evaluate(**values)
            meaning = {
                "upper": f"the error is at most {bv.value} ({self.lemma})",
                "lower": f"the error is at least {bv.value} ({self.lemma})",
            }[self.direction]
            return Solution(
                self.lemma, self.name, "eps", bv.value, None, bv, bv.missing, meaning,
                "" if bv.known else f"missing inputs: {', '.join(bv.missing)}",
            )  # fmt: skip
        if self.direction == "sufficient":
            raise InvalidInputError(f"{self.name} is a formula for a size; evaluate it instead.")
        if target not in self.monotonicity:
            solvable = ", ".join(["eps", *self.monotonicity])
            raise InvalidInputError(
                f"{self.name} is not solved for {target!r}: the bound is not monotone in it "
                f"(or it is a sequence); solvable: {solvable}."
            )
        vals = self._resolve(values, extra=("eps",))
        if target in vals:
            raise InvalidInputError(f"`{target}` is the unknown: do not give a value for it.")
        eps_v = vals.pop("eps", None)
        info = self.symbols[target]
        if eps_v is None:
            return Solution(
                self.lemma, self.name, target, None, None, None, ("eps",), "",
                "missing input: eps",
            )  # fmt: skip
        eps = _check_eps(eps_v)
        probe = self._compute({**vals, target: 1 if info.integer else 1.0})
        if probe.missing:
            return Solution(
                self.lemma, self.name, target, None, eps, None, probe.missing, "",
                f"missing inputs: {', '.join(probe.missing)}",
            )  # fmt: skip
        sign = self.monotonicity[target]

        def ok(x: int | float) -> BoundValue | None:
            bv = self._compute({**vals, target: x})
            assert bv.value is not None
            return bv if bv.value <= eps else None

        found = _search(ok, sign, info)
        if found is None:
            best = _extreme(info, sign)
            at = self._compute({**vals, target: best})
            return Solution(
                self.lemma, self.name, target, None, eps, at, (), "",
                f"no value of {target} brings the {self.direction} bound of {self.name} to "
                f"eps = {eps!r}: at the most favourable {target} = {best!r} searched it is "
                f"{at.value!r} (a tail or another fixed term alone exceeds eps)",
            )  # fmt: skip
        x, bv = found
        meaning = _meaning(self, target, x, eps, sign)
        return Solution(self.lemma, self.name, target, x, eps, bv, (), meaning)


# --------------------------------------------------------------------------- helpers


def _is_scalar(info: SymbolInfo) -> bool:
    return info.shape == "scalar"


def _check_eps(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise InvalidInputError(f"`eps` must be a real number > 0; got {describe(v)}.")
    f = float(v)
    if not (math.isfinite(f) and f > 0):
        raise InvalidInputError(f"`eps` must be a finite real number > 0; got {f!r}.")
    return f


def _meaning(b: Bound, target: str, x: int | float, eps: float, sign: int) -> str:
    if b.direction == "upper":
        side = ">=" if sign < 0 else "<="
        return (
            f"{target} {side} {x} suffices: the {b.lemma} bound is <= {eps!r} "
            f"for every such {target}"
        )
    side = "<" if sign < 0 else ">"
    return (
        f"{target} {side} {x} forces error > {eps!r} ({b.lemma} lower bound), so "
        f"{target} {'>=' if sign < 0 else '<='} {x} is necessary for error <= {eps!r}"
    )


def _extreme(info: SymbolInfo, sign: int) -> int | float:
    """The most favourable value :func:`_search` tries (bound smallest there)."""
    if info.integer:
        return _INT_CAP if sign < 0 else (1 if info.domain == "integer>=1" else 0)
    if sign < 0:
        return _float_max()
    return 0.0 if info.domain == "nonnegative" else 5e-324


def _float_key(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def _key_float(k: int) -> float:
    return float(struct.unpack("<d", struct.pack("<q", k))[0])


def _search(
    ok: Callable[[Any], BoundValue | None], sign: int, info: SymbolInfo
) -> tuple[int | float, BoundValue] | None:
    """The extreme x with ok(x): smallest for sign < 0, largest for sign > 0."""
    if info.integer:
        lo = 1 if info.domain == "integer>=1" else 0
        if sign < 0:
            first = ok(lo)
            if first is not None:
                return lo, first
            bad, good = lo, lo + 1
            hit = ok(good)
            while hit is None:
                if good >= _INT_CAP:
                    return None
                bad, good = good, min(2 * good, _INT_CAP)
                hit = ok(good)
            while good - bad > 1:
                mid = (bad + good) // 2
                h = ok(mid)
                if h is None:
                    bad = mid
                else:
                    good, hit = mid, h
            return good, hit
        first = ok(lo)
        if first is None:
            return None
        good, hit, bad = lo, first, lo + 1
        h2 = ok(bad)
        while h2 is not None:
            good, hit = bad, h2
            if good >= _INT_CAP:
                return good, hit
            bad = min(2 * good, _INT_CAP)
            h2 = ok(bad)
        while bad - good > 1:
            mid = (bad + good) // 2
            h = ok(mid)
            if h is None:
                bad = mid
            else:
                good, hit = mid, h
        return good, hit
    # Reals: bisection over the ordered bit patterns of the nonnegative floats.
    lo_f = 0.0 if info.domain == "nonnegative" else 5e-324
    hi_f = _float_max()
    klo, khi = _float_key(lo_f), _float_key(hi_f)
    if sign > 0:
        first = ok(lo_f)
        if first is None:
            return None
        last = ok(hi_f)
        if last is not None:
            return hi_f, last
        good, hit, bad = klo, first, khi
        while bad - good > 1:
            mid = (good + bad) // 2
            h = ok(_key_float(mid))
            if h is None:
                bad = mid
            else:
                good, hit = mid, h
        return _key_float(good), hit
    first = ok(lo_f)
    if first is not None:
        return lo_f, first
    last = ok(hi_f)
    if last is None:
        return None
    bad, good, hit = klo, khi, last
    while good - bad > 1:
        mid = (good + bad) // 2
        h = ok(_key_float(mid))
        if h is None:
            bad = mid
        else:
            good, hit = mid, h
    return _key_float(good), hit


def _float_max() -> float:
    """The largest finite float64."""
    return float(np.finfo(np.float64).max)


def _as_list(v: Any, info: SymbolInfo) -> list[Any]:
    if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, (Sequence, np.ndarray)):
        raise InvalidInputError(
            f"`{info.name}` ({info.alias}) must be a sequence of values indexed from 1; "
            f"got {describe(v)}."
        )
    arr = list(np.asarray(v, dtype=object).ravel()) if isinstance(v, np.ndarray) else list(v)
    return arr


def _convert_scalar(v: Any, info: SymbolInfo, *, where: str = "") -> tuple[arb | int, Any]:
    """A validated ball (or exact int) for one value, and its record form."""
    label = f"`{info.name}`{where}"
    if info.integer:
        minimum = 1 if info.domain == "integer>=1" else 0
        k = check_int(v, f"{info.name}{where}", minimum=minimum, what=info.description)
        return k, k
    if isinstance(v, BarronConstant):
        assert v.value is not None
        return v.ball(), v.value
    try:
        ball = exact_ball(v)
    except TypeError:
        raise InvalidInputError(
            f"{label} must be a real number or an arb ball ({info.description}); got {describe(v)}."
        ) from None
    if not ball.is_finite():
        raise InvalidInputError(f"{label} must be finite ({info.description}); got {describe(v)}.")
    if info.domain == "positive" and not ball > 0:
        raise InvalidInputError(f"{label} must be > 0 ({info.description}); got {describe(v)}.")
    if info.domain == "nonnegative" and not ball >= 0:
        raise InvalidInputError(f"{label} must be >= 0 ({info.description}); got {describe(v)}.")
    rec: Any = float(v) if isinstance(v, (numbers.Real, Fraction)) else str(v)
    return ball, rec


def _convert_sequence(
    v: Any, info: SymbolInfo, notes: list[str]
) -> tuple[list[arb | None], list[Any]]:
    seq: list[arb | None] = []
    rec: list[Any] = []
    for k, x in enumerate(_as_list(v, info), start=1):
        if x is None or (isinstance(x, BarronConstant) and not x.known):
            seq.append(None)
            rec.append(None)
            if isinstance(x, BarronConstant):
                notes.append(f"{info.name}[{k}] unknown: {x.reason}")
            continue
        ball, r = _convert_scalar(x, info, where=f"[{k}]")
        seq.append(arb(ball) if isinstance(ball, int) else ball)
        rec.append(r)
    return seq, rec


def _exact_sympy(v: Any, info: SymbolInfo, *, index: int | None = None) -> sympy.Expr:
    where = "" if index is None else f"[{index + 1}]"
    if isinstance(v, sympy.Basic):
        e = sympy.sympify(v)
        if e.free_symbols:
            return e  # a symbolic substitution
        return sympy.Rational(e) if isinstance(e, sympy.Float) else e
    if isinstance(v, bool) or v is None or isinstance(v, (arb, BarronConstant)):
        raise InvalidInputError(
            f"`{info.name}`{where}: substitute takes exact real numbers or sympy expressions; "
            f"got {describe(v)} (use evaluate for balls, Barron constants and unknowns)."
        )
    if info.integer:
        minimum = 1 if info.domain == "integer>=1" else 0
        return sympy.Integer(check_int(v, info.name + where, minimum=minimum))
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    if isinstance(v, numbers.Integral):
        return sympy.Integer(int(v))
    if isinstance(v, numbers.Real) and math.isfinite(float(v)):
        q = Fraction(float(v))
        return sympy.Rational(q.numerator, q.denominator)
    raise InvalidInputError(
        f"`{info.name}`{where} must be a finite real number; got {describe(v)}."
    )


def _expand_sums(expr: sympy.Expr, info: SymbolInfo, length: int, name: str) -> sympy.Expr:
    """Expand the sums whose terms use the sequence ``info`` (their limits must be numbers)."""
    base = info.symbol

    def expand(s: sympy.Sum) -> sympy.Expr:
        if not any(a.base == base for a in s.function.atoms(sympy.Indexed)):
            return s
        (i, lo, hi) = s.limits[0]
        if hi is sympy.oo:
            hi = sympy.Integer(length)
        if not (lo.is_Integer and hi.is_Integer):
            raise InvalidInputError(
                f"give the limits of {s} (e.g. `d`) to substitute `{info.name}` in {name}."
            )
        return sympy.Add(
            *[s.function.xreplace({i: sympy.Integer(k)}) for k in range(int(lo), int(hi) + 1)]
        )

    return expr.replace(lambda e: isinstance(e, sympy.Sum), expand)


# --------------------------------------------------------------------------- the lemmas


def _syms(*names: str, **descriptions: str) -> MappingProxyType[str, SymbolInfo]:
    cat = catalogue()
    out = {}
    for n in names:
        info = cat[n]
        if n in descriptions:
            info = with_description(info, descriptions[n])
        out[n] = info
    return MappingProxyType(out)


def _sym(name: str) -> Any:
    return catalogue()[name].symbol


def _make(
    lemma: str,
    name: str,
    statement: str,
    lhs: str,
    expression: sympy.Expr,
    symbols: MappingProxyType[str, SymbolInfo],
    direction: Direction,
    monotonicity: dict[str, int],
    assumptions: tuple[str, ...],
    definitions: tuple[str, ...] = (),
) -> Bound:
    return Bound(
        lemma=lemma,
        name=name,
        statement=statement,
        lhs_latex=lhs,
        expression=expression,
        symbols=symbols,
        direction=direction,
        monotonicity=MappingProxyType(monotonicity),
        assumptions=assumptions,
        definitions=definitions,
    )


def _delta(lam: Any, c: Any, n: Any, i: sympy.Symbol) -> sympy.Expr:
    """delta_i = 2 R sqrt(lambda_i) C_i / sqrt(n_i): Barron (L3) for sqrt(lambda_i) e_i."""
    R = _sym("R")
    return 2 * R * sympy.sqrt(lam[i]) * c[i] / sympy.sqrt(n[i])


def _build(name: str) -> Bound:
    R, n, eps = _sym("R"), _sym("n"), _sym("eps")
    i = index_symbol("i")
    if name == "L1":
        return _make(
            "L1",
            "L1",
            "if r - s is PSD, sup_{x,y} |r(x,y) - s(x,y)| <= sup_x (r(x,x) - s(x,x)) = T",
            r"\sup_{x,y} |r(x,y) - s(x,y)|",
            _sym("T"),
            _syms("T"),
            "upper",
            {"T": 1},
            ("r - s is positive semidefinite (Mercer truncation, certified Nystrom, L1')",),
        )
    if name == "L2":
        T, kappa, Delta = _sym("T_d"), _sym("kappa"), _sym("Delta")
        return _make(
            "L2",
            "L2",
            "sup_{x,y} |r - <phi, phi>| <= T(d) + 2 sqrt(kappa) Delta + Delta^2 for any phi",
            r"\sup_{x,y} |r(x,y) - \langle\phi(x),\phi(y)\rangle|",
            T + 2 * sympy.sqrt(kappa) * Delta + Delta**2,
            _syms("T_d", "kappa", "Delta"),
            "upper",
            {"T_d": 1, "kappa": 1, "Delta": 1},
            (
                "r is continuous, symmetric and PSD with Mercer features F_d",
                "|F_d(x)|^2 <= r(x,x) <= kappa for all x",
            ),
            ("Delta = sup_x |F_d(x) - phi(x)|", "T(d) = sup_x (r(x,x) - |F_d(x)|^2)"),
        )
    if name == "L2-asymmetric":
        e0, SF, SG = _sym("e0"), _sym("S_F"), _sym("S_G")
        Dphi, Dpsi = _sym("Delta_phi"), _sym("Delta_psi")
        return _make(
            "L2",
            "L2-asymmetric",
            "sup |r - <phi, psi>| <= e0 + sup|F| Dpsi + Dphi (sup|G| + Dpsi)",
            r"\sup_{x,y} |r(x,y) - \langle\phi(x),\psi(y)\rangle|",
            e0 + SF * Dpsi + Dphi * (SG + Dpsi),
            _syms("e0", "S_F", "S_G", "Delta_phi", "Delta_psi"),
            "upper",
            {"e0": 1, "S_F": 1, "S_G": 1, "Delta_phi": 1, "Delta_psi": 1},
            ("sup |r - <F, G>| <= e0 for reference features F, G",),
            ("Dphi = sup_x |F(x) - phi(x)|", "Dpsi = sup_y |G(y) - psi(y)|"),
        )
    if name == "L3":
        C = _sym("C_f")
        return _make(
            "L3",
            "L3",
            "a one-hidden-layer sigmoidal network with n units has L2(mu) error "
            "<= 2 R C_f / sqrt(n)",
            r"\|f - f_n\|_{L^2(\mu)}",
            2 * R * C / sympy.sqrt(n),
            _syms("R", "C_f", "n"),
            "upper",
            {"R": 1, "C_f": 1, "n": -1},
            (
                "mu is a probability measure on the ball of radius R",
                "C_f = int |w| |f^(w)| dw < oo for an extension of f to R^d (Barron 1993)",
            ),
        )
    if name == "L4":
        lam, c, ni = _sym("lambda_"), _sym("C"), _sym("n_i")
        d, tau = _sym("d"), _sym("tau")
        delta = _delta(lam, c, ni, i)
        return _make(
            "L4",
            "L4",
            "||r - <phi, phi>||_{L2(mu x mu)} <= tau(d) + sum_{i<=d} (2 sqrt(lambda_i) delta_i "
            "+ delta_i^2), phi_i a sigmoidal network of n_i units approximating sqrt(lambda_i) e_i",
            r"\|r - \langle\phi,\phi\rangle\|_{L^2(\mu\otimes\mu)}",
            tau + sympy.Sum(2 * sympy.sqrt(lam[i]) * delta + delta**2, (i, 1, d)),
            _syms("tau", "d", "R", "lambda_", "C", "n_i"),
            "upper",
            {"tau": 1, "R": 1},
            (
                "r is continuous, symmetric and PSD with Mercer data (lambda_i, e_i) w.r.t. mu",
                "mu is supported in the ball of radius R; C_i is a Barron constant of e_i (L3)",
            ),
            (
                "delta_i = 2 R sqrt(lambda_i) C_i / sqrt(n_i)",
                "tau(d) = (sum_{i>d} lambda_i^2)^(1/2)",
            ),
        )
    if name == "L4-equal-width":
        A, B, tau = _sym("A"), _sym("B"), _sym("tau")
        return _make(
            "L4",
            "L4-equal-width",
            "with n units for each of the d features: ||r - <phi, phi>||_{L2(mu x mu)} <= "
            "tau(d) + 4 R A / sqrt(n) + 4 R^2 B / n (d n units in all)",
            r"\|r - \langle\phi,\phi\rangle\|_{L^2(\mu\otimes\mu)}",
            tau + 4 * R * A / sympy.sqrt(n) + 4 * R**2 * B / n,
            _syms("tau", "R", "A", "B", "n"),
            "upper",
            {"tau": 1, "R": 1, "A": 1, "B": 1, "n": -1},
            ("the hypotheses of L4, every n_i = n",),
            ("A = sum_{i<=d} lambda_i C_i", "B = sum_{i<=d} lambda_i C_i^2"),
        )
    if name == "L4-neurons":
        A, B, d = _sym("A"), _sym("B"), _sym("d")
        width = sympy.ceiling(sympy.Max((16 * R * A / eps) ** 2, 16 * R**2 * B / eps, 1))
        return _make(
            "L4",
            "L4-neurons",
            "N(eps) = d_eps * max{(16 R A / eps)^2, 16 R^2 B / eps} units suffice for L2 error "
            "<= eps (each term of L4-equal-width <= eps/4, tau(d_eps) <= eps/2); widths are "
            "rounded up to integers >= 1",
            r"N(\varepsilon)",
            d * width,
            _syms(
                "d",
                "R",
                "A",
                "B",
                "eps",
                d="d_eps = min{d : tau(d) <= eps/2} (any d with tau(d) <= eps/2 will do)",
            ),
            "sufficient",
            {},
            ("the hypotheses of L4", "tau(d) <= eps / 2"),
            ("A = sum_{i<=d} lambda_i C_i", "B = sum_{i<=d} lambda_i C_i^2"),
        )
    if name == "L5":
        sig, cu, cv = _sym("sigma"), _sym("C_u"), _sym("C_v")
        nu, nv = _sym("n_u"), _sym("n_v")
        d, tau = _sym("d"), _sym("tau")
        du, dv = _delta(sig, cu, nu, i), _delta(sig, cv, nv, i)
        return _make(
            "L5",
            "L5",
            "||r - <phi, psi>||_{L2(mu x nu)} <= tau(d) + sum_{k<=d} [sqrt(sigma_k) (delta_k + "
            "delta'_k) + delta_k delta'_k]",
            r"\|r - \langle\phi,\psi\rangle\|_{L^2(\mu\otimes\nu)}",
            tau + sympy.Sum(sympy.sqrt(sig[i]) * (du + dv) + du * dv, (i, 1, d)),
            _syms(
                "tau",
                "d",
                "R",
                "sigma",
                "C_u",
                "C_v",
                "n_u",
                "n_v",
                tau="L2 tail (sum_{k>d} sigma_k^2)^(1/2) of the singular values (an upper bound)",
            ),
            "upper",
            {"tau": 1, "R": 1},
            (
                "r in L2(mu x nu) with Schmidt data (sigma_k, u_k, v_k)",
                "mu and nu are supported in balls of radius R; C_u, C_v are Barron constants of "
                "u_k, v_k (L3)",
            ),
            (
                "delta_k = 2 R sqrt(sigma_k) C^u_k / sqrt(n^u_k)",
                "delta'_k = 2 R sqrt(sigma_k) C^v_k / sqrt(n^v_k)",
            ),
        )
    if name == "L6":
        sig, m = _sym("sigma"), _sym("m")
        k = index_symbol("k")
        return _make(
            "L6",
            "L6",
            "every model with m features has L2(mu x nu) error >= (sum_{k>m} sigma_k^2)^(1/2) "
            "(Eckart-Young); a finite sequence of singular values gives a lower bound on this "
            "tail, which keeps the lower bound valid",
            r"\|r - \langle\phi,\psi\rangle\|_{L^2(\mu\otimes\nu)}",
            sympy.sqrt(sympy.Sum(sig[k] ** 2, (k, m + 1, sympy.oo))),
            _syms("m", "sigma"),
            "lower",
            {"m": -1},
            ("the model <phi, psi> has rank at most m (phi, psi into R^m)",),
        )
    if name == "L7":
        gamma, p = _sym("gamma"), _sym("p")
        return _make(
            "L7",
            "L7",
            "if r's Gram matrix at p points has smallest eigenvalue -gamma < 0, every symmetric "
            "model <phi, phi> has sup error >= gamma / p",
            r"\sup_{x,y} |r(x,y) - \langle\phi(x),\phi(y)\rangle|",
            gamma / p,
            _syms("gamma", "p"),
            "lower",
            {"gamma": 1, "p": -1},
            ("a Gram matrix of r at p points has an eigenvalue <= -gamma",),
        )
    raise AssertionError(name)


@cache
def _cached(name: str) -> Bound:
    return _build(name)


def bound(name: str) -> Bound:
    """The :class:`Bound` of a lemma of THEORY.md by name (built once, on first use).

    Parameters
    ----------
    name : str
        One of :data:`BOUND_NAMES`: ``"L1"``, ``"L2"``, ``"L2-asymmetric"``, ``"L3"``,
        ``"L4"``, ``"L4-equal-width"``, ``"L4-neurons"``, ``"L5"``, ``"L6"``, ``"L7"``.

    Raises
    ------
    InvalidInputError
        An unknown name.

    Examples
    --------
    >>> bound("L7").evaluate(gamma=0.5, p=4).value
    0.125
    """
    if name not in BOUND_NAMES:
        raise InvalidInputError(f"`name` must be one of {', '.join(BOUND_NAMES)}; got {name!r}.")
    return _cached(name)


_ATTRIBUTES = {
    "L1": "L1",
    "L2_SYMMETRIC": "L2",
    "L2_ASYMMETRIC": "L2-asymmetric",
    "L3": "L3",
    "L4": "L4",
    "L4_EQUAL_WIDTH": "L4-equal-width",
    "L4_NEURONS": "L4-neurons",
    "L5": "L5",
    "L6": "L6",
    "L7": "L7",
}


def __getattr__(attr: str) -> Bound:
    """Module attributes ``L1``, ``L2_SYMMETRIC``, ... built lazily."""
    if attr in _ATTRIBUTES:
        return bound(_ATTRIBUTES[attr])
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
