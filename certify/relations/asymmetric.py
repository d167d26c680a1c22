"""Asymmetric relation functions (theorem T-A of THEORY.md): bilinear forms,
user callables, and sympy expressions."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy as sp
from flint import arb, ctx

from certify._kernels.interval_relations import (
    SUPPORTED_EXPRESSION_NODES,
    UnsupportedNodeError,
    compile_expression,
    enclose_bilinear,
)
from certify._rigorous import WORKING_PRECISION, ball, upper_float
from certify._validation import check_finite_array, check_int, describe
from certify.errors import InvalidInputError
from certify.relations._arb_eval import UnsupportedExpressionError, arb_evaluate, supported
from certify.relations.base import EnclosureArrays, Relation
from certify.relations.domains import Box

__all__ = ["Bilinear", "CallableRelation", "ExpressionRelation"]

# Pairwise evaluation of callables and expressions goes through blocks of about
# this many pairs, so the (n, m) result is the only full-size array.
_BLOCK_PAIRS = 1 << 18

FloatArray = npt.NDArray[np.float64]


def _pairwise_by_blocks(
    paired: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    n, m = X.shape[0], Y.shape[0]
    out = np.empty((n, m), dtype=np.float64)
    rows = max(1, _BLOCK_PAIRS // max(m, 1))
    for start in range(0, n, rows):
        Xb = X[start : start + rows]
        b = Xb.shape[0]
        out[start : start + b] = paired(np.repeat(Xb, m, axis=0), np.tile(Y, (b, 1))).reshape(b, m)
    return out


@dataclass(frozen=True, eq=False)
class Bilinear(Relation):
    """The bilinear relation r(x, y) = x^T W y (symmetric when W = W^T).

    Examples
    --------
    >>> r = Bilinear([[1.0, 2.0], [0.0, 1.0]])
    >>> float(r([[1.0, 1.0]], [[1.0, 0.0]])[0, 0])
    1.0
    >>> r.symmetric
    False
    """

    W: npt.NDArray[np.float64]

    def __init__(self, W: npt.ArrayLike) -> None:
        arr = check_finite_array(W, "W")
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        if arr.ndim != 2 or arr.size == 0:
            raise InvalidInputError(
                "`W` must be a non-empty 2-D matrix of shape (x_dim, y_dim); got shape "
                f"{arr.shape}."
            )
        arr = np.array(arr, dtype=np.float64)
        arr.setflags(write=False)
        object.__setattr__(self, "W", arr)

    @property
    def x_dim(self) -> int:
        return int(self.W.shape[0])

    @property
    def y_dim(self) -> int:
        return int(self.W.shape[1])

    @property
    def symmetric(self) -> bool:
        return self.x_dim == self.y_dim and bool(np.array_equal(self.W, self.W.T))

    @property
    def spec(self) -> str:
        rows = ",".join("[" + ",".join(repr(float(v)) for v in row) + "]" for row in self.W)
        return f"bilinear:W=[{rows}]"

    def _pairwise(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return np.asarray((X @ self.W) @ Y.T, dtype=np.float64)

    def _paired(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return np.einsum("ij,ij->i", X @ self.W, Y)

    def _lipschitz(
        self, x_box: Box | None, y_box: Box | None, dims: tuple[int | None, int | None]
    ) -> tuple[float, float]:
        # grad_x = W y, so L_x = sup_y |W y| <= sqrt(sum_i (sum_j |W_ij| max|y_j|)^2);
        # likewise L_y = sup_x |W^T x|.
        if not np.any(self.W):
            return 0.0, 0.0
        with ctx.workprec(WORKING_PRECISION):
            lx = self._sup_image(self.W, y_box)
            ly = self._sup_image(self.W.T, x_box)
        return lx, ly

    def _enclose(
        self,
        xlo: FloatArray,
        xhi: FloatArray,
        ylo: FloatArray,
        yhi: FloatArray,
        *,
        gradients: bool,
    ) -> EnclosureArrays:
        # Interval x^T W y (W exact), grad_x = W y, grad_y = W^T x.
        return enclose_bilinear(self.W, xlo, xhi, ylo, yhi, gradients=gradients)

    @staticmethod
    def _sup_image(W: npt.NDArray[np.float64], box: Box | None) -> float:
        if box is None:
            return math.inf
        bound = [
            abs(ball(lo)).max(abs(ball(hi))) for lo, hi in zip(box.lower, box.upper, strict=True)
        ]
        total = arb(0)
        for row in W:
            s = arb(0)
            for w, b in zip(row, bound, strict=True):
                s += abs(ball(w)) * b
            total += s**2
        return upper_float(total.sqrt())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Bilinear) and np.array_equal(self.W, other.W)

    def __hash__(self) -> int:
        return hash(("Bilinear", self.W.shape, self.W.tobytes()))

    def __repr__(self) -> str:
        return f"Bilinear(W={self.W.tolist()})"


@dataclass(frozen=True, eq=False)
class CallableRelation(Relation):
    """A relation given by a vectorised numpy callable.

    Parameters
    ----------
    func : callable
        ``func(X, Y)`` receives arrays of shape (n, x_dim) and (n, y_dim) and
        returns the (n,) values r(X[k], Y[k]) (paired, not pairwise).
    x_dim, y_dim : int
        Input dimensions.
    symmetric : bool, default=False
        Whether the caller claims r(x, y) = r(y, x).
    name : str, optional
        A label for messages and specs.

    Notes
    -----
    A callable is a black box, so no Lipschitz constant can be certified:
    :meth:`lipschitz` returns ``inf``. Give a sympy expression
    (:class:`ExpressionRelation`) when certified constants are needed.

    Examples
    --------
    >>> r = CallableRelation(lambda X, Y: np.sin(X[:, 0] - 2 * Y[:, 0]), x_dim=1, y_dim=1)
    >>> r([[0.0], [1.0]], [[0.5]]).shape
    (2, 1)
    """

    func: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], Any]
    dims: tuple[int, int]
    is_symmetric: bool
    name: str

    def __init__(
        self,
        func: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], Any],
        *,
        x_dim: int,
        y_dim: int,
        symmetric: bool = False,
        name: str | None = None,
    ) -> None:
        if not callable(func):
            raise InvalidInputError(f"`func` must be callable; got {describe(func)}.")
        xd = check_int(x_dim, "x_dim", minimum=1)
        yd = check_int(y_dim, "y_dim", minimum=1)
        if symmetric and xd != yd:
            raise InvalidInputError(
                f"`symmetric=True` needs x_dim == y_dim; got x_dim={xd}, y_dim={yd}."
            )
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "dims", (xd, yd))
        object.__setattr__(self, "is_symmetric", bool(symmetric))
        object.__setattr__(self, "name", name or getattr(func, "__name__", "callable"))

    @property
    def x_dim(self) -> int:
        return self.dims[0]

    @property
    def y_dim(self) -> int:
        return self.dims[1]

    @property
    def symmetric(self) -> bool:
        return self.is_symmetric

    @property
    def spec(self) -> str:
        return f"callable:{self.name}"

    def _paired(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        try:
            raw = self.func(X, Y)
        except Exception as exc:  # the user's code: report which relation failed, keep the cause
            raise InvalidInputError(
                f"the relation callable {self.name!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        out = np.asarray(raw, dtype=np.float64)
        n = X.shape[0]
        if out.shape != (n,):
            raise InvalidInputError(
                f"the relation callable {self.name!r} must return shape ({n},) for {n} paired "
                f"points (X[k], Y[k]); it returned shape {out.shape}."
            )
        if not np.all(np.isfinite(out)):
            k = int(np.flatnonzero(~np.isfinite(out))[0])
            raise InvalidInputError(
                f"the relation callable {self.name!r} must return finite values; it returned "
                f"{out[k]!r} at x={X[k].tolist()}, y={Y[k].tolist()}."
            )
        return out

    def _pairwise(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return _pairwise_by_blocks(self._paired, X, Y)

    def _lipschitz(
        self, x_box: Box | None, y_box: Box | None, dims: tuple[int | None, int | None]
    ) -> tuple[float, float]:
        return math.inf, math.inf

    def _enclose(
        self,
        xlo: FloatArray,
        xhi: FloatArray,
        ylo: FloatArray,
        yhi: FloatArray,
        *,
        gradients: bool,
    ) -> EnclosureArrays:
        raise InvalidInputError(
            f"the relation {self.spec!r} is a black-box callable: nothing is known about its "
            "values between the points where it is called, so it cannot be enclosed "
            "rigorously over a box. Give it as a sympy expression instead "
            "(ExpressionRelation('...') or the spec 'expr:...'), or use a kernel or Bilinear."
        )

    def __repr__(self) -> str:
        return f"CallableRelation({self.name!r}, x_dim={self.x_dim}, y_dim={self.y_dim})"


_SYMBOL_RE = re.compile(r"^([xy])(\d+)$")


def relation_symbols(x_dim: int, y_dim: int) -> tuple[list[sp.Symbol], list[sp.Symbol]]:
    """The real sympy symbols x0.., y0.. used by expression relations."""
    xs = [sp.Symbol(f"x{i}", real=True) for i in range(x_dim)]
    ys = [sp.Symbol(f"y{i}", real=True) for i in range(y_dim)]
    return xs, ys


@dataclass(frozen=True, eq=False)
class ExpressionRelation(Relation):
    """A relation given by a sympy expression in the symbols x0, x1, ..., y0, y1, ...

    The expression is lambdified once for numpy evaluation and kept for
    rigorous (ball / interval) evaluation. Dimensions default to one more than
    the largest index used (at least 1).

    Parameters
    ----------
    expr : sympy expression or str
        For example ``"exp(-(x0 - y0)**2)"`` or ``"x0*y1 - x1*y0"``.
    x_dim, y_dim : int, optional
        Override the inferred dimensions (e.g. to let r ignore a coordinate).

    Examples
    --------
    >>> r = ExpressionRelation("sin(x0 - 2*y0)")
    >>> r.x_dim, r.y_dim, r.symmetric
    (1, 1, False)
    >>> bool(np.isclose(r([[1.0]], [[0.0]])[0, 0], np.sin(1.0)))
    True
    """

    expr: sp.Expr
    dims: tuple[int, int]
    is_symmetric: bool

    def __init__(
        self, expr: sp.Expr | str, *, x_dim: int | None = None, y_dim: int | None = None
    ) -> None:
        parsed = _parse_expression(expr)
        used = {str(s) for s in parsed.free_symbols}
        xi, yi = [-1], [-1]
        for s in used:
            match = _SYMBOL_RE.match(s)
            if match is None:
                raise InvalidInputError(
                    f"`expr` may only use the symbols x0, x1, ..., y0, y1, ...; found {s!r} in "
                    f"{str(parsed)!r}."
                )
            (xi if match.group(1) == "x" else yi).append(int(match.group(2)))
        xd = max(xi) + 1 if x_dim is None else check_int(x_dim, "x_dim", minimum=1)
        yd = max(yi) + 1 if y_dim is None else check_int(y_dim, "y_dim", minimum=1)
        xd, yd = max(xd, 1), max(yd, 1)
        if max(xi) >= xd or max(yi) >= yd:
            raise InvalidInputError(
                f"`expr` uses x{max(xi)} / y{max(yi)} but x_dim={xd}, y_dim={yd}; raise the "
                "dimensions or drop the symbol."
            )
        xs, ys = relation_symbols(xd, yd)
        # Re-create the expression over the real symbols (sympify makes plain ones).
        canon = parsed.subs({sp.Symbol(str(s)): s for s in [*xs, *ys]})
        symmetric = False
        if xd == yd:
            swapped = canon.xreplace(
                {**dict(zip(xs, ys, strict=True)), **dict(zip(ys, xs, strict=True))}
            )
            symmetric = sp.simplify(canon - swapped) == 0
        object.__setattr__(self, "expr", canon)
        object.__setattr__(self, "dims", (xd, yd))
        object.__setattr__(self, "is_symmetric", bool(symmetric))
        object.__setattr__(self, "_func", sp.lambdify([*xs, *ys], canon, modules="numpy", cse=True))

    @property
    def x_dim(self) -> int:
        return self.dims[0]

    @property
    def y_dim(self) -> int:
        return self.dims[1]

    @property
    def symmetric(self) -> bool:
        return self.is_symmetric

    @property
    def symbols(self) -> tuple[list[sp.Symbol], list[sp.Symbol]]:
        """The symbols (x0.., y0..) of the expression."""
        return relation_symbols(*self.dims)

    @property
    def spec(self) -> str:
        return f"expr:{sp.sstr(self.expr)}"

    def _paired(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        func = self.__dict__["_func"]
        with np.errstate(all="ignore"):
            raw = func(*X.T, *Y.T)
        out = np.broadcast_to(np.asarray(raw, dtype=np.float64), (X.shape[0],)).copy()
        if not np.all(np.isfinite(out)):
            k = int(np.flatnonzero(~np.isfinite(out))[0])
            raise InvalidInputError(
                f"the relation {self.spec!r} is not finite at x={X[k].tolist()}, "
                f"y={Y[k].tolist()} (value {out[k]!r}); restrict the domain."
            )
        return out

    def _pairwise(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return _pairwise_by_blocks(self._paired, X, Y)

    def _lipschitz(
        self, x_box: Box | None, y_box: Box | None, dims: tuple[int | None, int | None]
    ) -> tuple[float, float]:
        xs, ys = self.symbols
        return self._sup_gradient(xs, x_box, y_box), self._sup_gradient(ys, x_box, y_box)

    # Each box is cut into at most this many pieces for the gradient enclosure.
    _MAX_PIECES = 64

    def _sup_gradient(self, wrt: list[sp.Symbol], x_box: Box | None, y_box: Box | None) -> float:
        """sup over the boxes of |grad_wrt r|, enclosed in arb over a grid of sub-boxes."""
        grads = [sp.diff(self.expr, s) for s in wrt]
        if all(g == 0 for g in grads):
            return 0.0
        if x_box is None or y_box is None or not all(supported(g) for g in grads):
            return math.inf
        xs, ys = self.symbols
        lows = np.concatenate([x_box.lower, y_box.lower])
        highs = np.concatenate([x_box.upper, y_box.upper])
        symbols = [*xs, *ys]
        per_axis = max(1, int(self._MAX_PIECES ** (1.0 / len(symbols))))
        cuts = [np.linspace(lo, hi, per_axis + 1) for lo, hi in zip(lows, highs, strict=True)]
        best = 0.0
        with ctx.workprec(WORKING_PRECISION):
            for idx in itertools.product(range(per_axis), repeat=len(symbols)):
                env = {
                    s: ball(c[k]).union(ball(c[k + 1]))
                    for s, c, k in zip(symbols, cuts, idx, strict=True)
                }
                # Pieces share their end points, so together they cover the boxes.
                try:
                    total = arb(0)
                    for g in grads:
                        total += arb_evaluate(g, env) ** 2
                except (UnsupportedExpressionError, ZeroDivisionError):
                    return math.inf
                best = max(best, upper_float(total.sqrt()))
                if not math.isfinite(best):
                    return math.inf
        return best

    def _interval_function(self, gradients: bool) -> Callable[..., tuple[FloatArray, FloatArray]]:
        """The jitted interval code of the value (and the partial derivatives), compiled once."""
        cache: dict[bool, Callable[..., tuple[FloatArray, FloatArray]]] = self.__dict__.setdefault(
            "_interval_cache", {}
        )
        if True in cache:  # the full function also serves value-only calls
            return cache[True]
        if gradients not in cache:
            try:
                cache[gradients] = _compiled_interval_code(self.expr, *self.dims, gradients)
            except UnsupportedNodeError as exc:
                node = str(exc.node)
                for name in ("Abs", "Sign", "Heaviside", "Delta"):
                    node = node.replace(f"_{name}(", f"{name}(")
                where = "the expression" if not gradients else "the expression or a derivative"
                reason = f" ({exc.reason})" if exc.reason else ""
                raise InvalidInputError(
                    f"the relation {self.spec!r} cannot be enclosed rigorously: {where} holds "
                    f"`{node}` (a {type(exc.node).__name__} node{reason}), which has no interval "
                    f"enclosure. Supported: {'; '.join(SUPPORTED_EXPRESSION_NODES)}."
                ) from None
        return cache[gradients]

    def _enclose(
        self,
        xlo: FloatArray,
        xhi: FloatArray,
        ylo: FloatArray,
        yhi: FloatArray,
        *,
        gradients: bool,
    ) -> EnclosureArrays:
        # Generated interval code for the value and each sympy partial derivative; Abs
        # differentiates to sign, whose range over an interval holding 0 is [-1, 1] (the
        # Clarke hull); a jump (sign, Heaviside) makes the gradient bounds infinite there.
        lo, hi = self._interval_function(gradients)(xlo, xhi, ylo, yhi)
        dx = self.x_dim
        col = np.ascontiguousarray
        if not gradients:
            empty = np.empty((0, dx)), np.empty((0, self.y_dim))
            return col(lo[:, 0]), col(hi[:, 0]), empty[0], empty[0], empty[1], empty[1]
        return (
            col(lo[:, 0]),
            col(hi[:, 0]),
            col(lo[:, 1 : 1 + dx]),
            col(hi[:, 1 : 1 + dx]),
            col(lo[:, 1 + dx :]),
            col(hi[:, 1 + dx :]),
        )

    def __repr__(self) -> str:
        return f"ExpressionRelation({sp.sstr(self.expr)!r})"


@functools.lru_cache(maxsize=64)
def _compiled_interval_code(
    expr: sp.Expr, x_dim: int, y_dim: int, gradients: bool
) -> Callable[..., tuple[FloatArray, FloatArray]]:
    """Compiled interval code, shared by equal expressions (compiling takes ~2 s)."""
    xs, ys = relation_symbols(x_dim, y_dim)
    return compile_expression(expr, xs, ys, gradients=gradients)[0]


def _parse_expression(expr: sp.Expr | str) -> sp.Expr:
    if isinstance(expr, sp.Expr):
        return expr
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidInputError(
            f"`expr` must be a sympy expression or a non-empty string; got {describe(expr)}."
        )
    try:
        parsed = sp.sympify(expr, locals={"e": sp.E, "pi": sp.pi}, rational=False)
    except (sp.SympifyError, SyntaxError, TypeError) as exc:
        raise InvalidInputError(f"`expr` could not be parsed by sympy: {expr!r} ({exc}).") from None
    if not isinstance(parsed, sp.Expr):
        raise InvalidInputError(f"`expr` must be a scalar expression; got {expr!r}.")
    return parsed
