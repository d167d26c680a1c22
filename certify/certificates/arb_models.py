"""Ball-arithmetic models of relations and MLP feature maps for the certificate checker.

This module is the checker's own evaluation path (DESIGN.md, "Certificates: what
the words mean"): it shares no evaluation code with the enclosure engine. It does
not import ``certify._kernels`` or ``certify.networks`` and never calls a
relation's float evaluation methods; from a parsed relation it reads only the
parameters (``lengthscale``, ``W``, the sympy expression, ...) and evaluates its
own python-flint ``arb`` formulas, written from the table in the docstring of
``certify._kernels.codes`` (reproduced per class below).

Every function here takes a box as a list of ``arb`` balls, one per coordinate
(:func:`interval_ball` makes the ball enclosing ``[lo, hi]``; a point is a ball
of radius 0), and returns balls that contain the exact value for every point of
the box. Gradients follow Clarke's generalised gradient at kinks (the Laplace
kernel at ``x = y``: components in ``[-1/l, 1/l]``; ``min`` in the Brownian
kernel: ``[0, 1]``; ``relu'(0)``: ``[0, 1]``), which is what the mean-value form
``f(c) + grad f(box) . (box - c)`` of the checker needs (Lebourg's mean-value
theorem). Where no finite gradient bound exists (the order-0 arc-cosine kernel on
a box touching 0, a sympy derivative with no arb counterpart), the gradient is
the infinite ball and the checker falls back to the direct enclosure.

Monotone elementary functions (exp, tanh, sqrt, acos, ...) are evaluated at the
two end points of their argument, which gives the exact range up to rounding;
``arb``'s own one-shot evaluation of a wide ball is much looser. For the same reason
products of two wide balls go through :func:`imul` (the interval product); the
dependency-free formulas are then as tight as outward-rounded interval arithmetic.
The ball of a float interval (:func:`interval_ball`) exceeds it by ~2^-30 of its width
(arb stores radii with 30 bits), so bounds sit a hair above exact-ended float ones.

For Nystrom features of the Gaussian kernel, :meth:`ArbNystrom.gaussian_taylor` gives a
Taylor model (polynomial in x - c with ball coefficients, plus a remainder bound per
feature) over a box, from the one-variable derivatives of :func:`gaussian_taylor_1d`;
the checker uses it for lemma L1's diagonal residual. :meth:`ArbMLP.tanh_taylor` gives the
Taylor model of a one-hidden-layer tanh MLP with the same exponents (the derivatives of tanh
from :func:`tanh_taylor_1d`'s recurrence), so that the checker can bound the feature gap
``|F - phi|`` of lemma L2 from the difference of the two coefficient matrices.
"""

from __future__ import annotations

import functools
import io
import math
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from flint import arb, arb_mat, ctx

from certify._rigorous import upper_float
from certify.errors import CertificateError
from certify.relations._arb_eval import UnsupportedExpressionError, arb_evaluate
from certify.relations.asymmetric import (
    Bilinear,
    CallableRelation,
    ExpressionRelation,
    relation_symbols,
)
from certify.relations.base import Relation
from certify.relations.kernels import (
    ArcCosine,
    Brownian,
    ExpDot,
    Gaussian,
    Laplace,
    Matern32,
    Matern52,
    Periodic,
    Polynomial,
)

__all__ = [
    "CHECK_PRECISION",
    "GAUSSIAN_EXTRA_ORDERS",
    "MLP_ACTIVATIONS",
    "MLP_FORMAT",
    "NYSTROM_FORMAT",
    "TANH_EXTRA_ORDERS",
    "TANH_TABLE_CELLS",
    "ArbFeatureMap",
    "ArbMLP",
    "ArbNystrom",
    "ArbRelation",
    "NotCheckableError",
    "TaylorModel",
    "arb_features",
    "arb_relation",
    "gaussian_taylor_1d",
    "idot",
    "imul",
    "interval_ball",
    "mlp_dict_from_npz",
    "mlp_npz_bytes",
    "multi_indices",
    "tanh_taylor_1d",
]

#: Bits of working precision of the checker (float64 has 53).
CHECK_PRECISION = 128

#: The MLP dictionary format the checker reads (produced by ``certify.networks.MLP.to_dict``).
MLP_FORMAT = "certify.mlp/1"

#: The Nystrom-features format the checker reads (lemma L1' of THEORY.md).
NYSTROM_FORMAT = "certify.nystrom/1"

#: Hidden-layer activations; the last layer is always linear.
MLP_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")

#: Orders above p + 1 that :func:`tanh_taylor_1d` carries for its refinement of y_(p+1).
TANH_EXTRA_ORDERS = 2

Balls = Sequence[arb]


class NotCheckableError(CertificateError):
    """The certificate is well formed, but this checker cannot evaluate its instance."""


# --- elementary enclosures ---------------------------------------------------------------
def _infinite() -> arb:
    """The ball [-inf, inf] (a gradient with no finite bound)."""
    return arb(0, math.inf)


def interval_ball(lo: float, hi: float) -> arb:
    """The ball enclosing the interval ``[lo, hi]`` of floats (``lo <= hi``).

    Its end points are exact up to the rounding of the radius (30 bits), i.e. the
    ball exceeds the interval by about ``2^-30 (hi - lo)`` at each end.

    Examples
    --------
    >>> b = interval_ball(-1.0, 2.0)
    >>> b.contains(arb(-1)) and b.contains(arb(2)), b.mid() == arb(0.5)
    (True, True)
    """
    if lo == hi:
        return arb(lo)
    return arb(lo).union(arb(hi))


def _is_point(a: arb) -> bool:
    return bool(a.is_exact())


def _increasing(fn: Callable[[arb], arb], a: arb) -> arb:
    """Range of an increasing function over the ball ``a`` (evaluated at the two ends)."""
    if _is_point(a) or not a.is_finite():
        return fn(a)
    return fn(a.lower()).union(fn(a.upper()))


def _decreasing(fn: Callable[[arb], arb], a: arb) -> arb:
    return _increasing(fn, a)  # the union of the two end values encloses either way


def _even_decreasing(fn: Callable[[arb], arb], a: arb) -> arb:
    """Range of a function of |a| that decreases in |a| (sech^2, sigmoid')."""
    if _is_point(a) or not a.is_finite():
        return fn(a)
    return fn(a.abs_upper()).union(fn(a.abs_lower()))


def _sqr(a: arb) -> arb:
    """Range of t^2 over the ball ``a`` (non-negative, unlike ``a * a`` for a ball around 0)."""
    if _is_point(a) or not a.is_finite():
        return a * a
    lo, hi = a.abs_lower(), a.abs_upper()
    return (lo * lo).union(hi * hi)


def _pow_int(a: arb, n: int) -> arb:
    """Range of t^n (integer n >= 0) over the ball ``a``."""
    if n == 0:
        return arb(1)
    if _is_point(a) or not a.is_finite():
        return a**n
    if n % 2 == 1:
        return (a.lower() ** n).union(a.upper() ** n)
    return (a.abs_lower() ** n).union(a.abs_upper() ** n)


def _sqrt(a: arb) -> arb:
    """sqrt of a ball known to enclose non-negative values only (rounding may dip below 0)."""
    a = a.nonnegative_part()
    if _is_point(a) or not a.is_finite():
        return a.sqrt()
    return a.lower().sqrt().union(a.upper().sqrt())


def _exp(a: arb) -> arb:
    return _increasing(lambda t: t.exp(), a)


def _sum(values: Sequence[arb]) -> arb:
    total = arb(0)
    for v in values:
        total += v
    return total


def imul(a: arb, b: arb) -> arb:
    """The product of two balls as intervals: the hull of the four end-point products.

    Ball multiplication ``(m1 +- r1)(m2 +- r2) = m1 m2 +- (|m1| r2 + |m2| r1 + r1 r2)`` is
    much wider than the interval product when both radii are comparable to the midpoints
    (``[-0.74, -0.02]^2`` gives ``[-0.26, 0.55]`` instead of ``[0.0004, 0.55]``); the
    mean-value form multiplies such wide balls (Jacobians by features), so this matters.
    When one factor is a point the ball product is already exact.
    """
    if a.is_exact() or b.is_exact() or not (a.is_finite() and b.is_finite()):
        return a * b
    al, ah, bl, bh = a.lower(), a.upper(), b.lower(), b.upper()
    return (al * bl).union(al * bh).union(ah * bl).union(ah * bh)


def idot(u: Balls, v: Balls) -> arb:
    """sum_i u_i v_i with interval products (:func:`imul`)."""
    total = arb(0)
    for a, b in zip(u, v, strict=True):
        total += imul(a, b)
    return total


def _dot(u: Balls, v: Balls) -> arb:
    return idot(u, v)


def _inv_positive(a: arb) -> arb:
    """1 / a for a ball of positive numbers (decreasing: evaluated at the two ends)."""
    return _decreasing(lambda t: 1 / t, a)


def _sum_sqr(u: Balls) -> arb:
    return _sum([_sqr(a) for a in u])


def _symmetric(bound: arb) -> arb:
    """The ball [-b, b] for the upper end b of ``bound`` (a bound on an absolute value)."""
    if not bound.is_finite():
        return _infinite()
    b = bound.abs_upper()
    return b.union(-b)


def _upper(a: arb) -> arb:
    """The exact upper end of |a| as a point ball (+inf when not finite)."""
    if not a.is_finite():
        return arb(math.inf)
    return a.abs_upper()


def _object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D numpy object array of the given objects (references only)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _monomial_bound(hs: Balls, alpha: Sequence[int]) -> arb:
    """h^alpha = prod_k h_k^alpha_k (the sup of |(x - c)^alpha| over the box c +- h)."""
    out = arb(1)
    for h, e in zip(hs, alpha, strict=True):
        if e:
            out = out * h**e
    return out


def _unit() -> arb:
    """The ball [-1, 1]."""
    return arb(0, 1)


def _sigmoid(t: arb) -> arb:
    return 1 / (1 + (-t).exp())


def _heaviside_ball(d: arb) -> arb:
    """Clarke derivative of min(t, 0) style kinks: 1 if d < 0, 0 if d > 0, else [0, 1]."""
    if d < 0:
        return arb(1)
    if d > 0:
        return arb(0)
    return arb(0.5, 0.5)


# --- relations ---------------------------------------------------------------------------
class ArbRelation(ABC):
    """A relation r(x, y) evaluated in ball arithmetic over boxes.

    ``value`` and ``value_grad`` take the x- and y-coordinates as lists of balls;
    ``diagonal`` and ``diagonal_grad`` the diagonal function x -> r(x, x) (used by
    lemma L1's diagonal residual).
    """

    x_dim: int
    y_dim: int

    def __init__(self, x_dim: int, y_dim: int) -> None:
        self.x_dim = x_dim
        self.y_dim = y_dim

    def check_box(self, x_lower: Sequence[float], y_lower: Sequence[float]) -> None:  # noqa: B027
        """Raise :class:`CertificateError` if the relation is undefined on the boxes."""

    @abstractmethod
    def value(self, xs: Balls, ys: Balls) -> arb:
        """Enclosure of r over the box ``xs`` x ``ys``."""

    @abstractmethod
    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        """Enclosures of r, grad_x r and grad_y r (Clarke) over the box."""

    def diagonal(self, xs: Balls) -> arb:
        """Enclosure of r(x, x) over the box ``xs``."""
        return self.value(xs, xs)

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        """Enclosures of r(x, x) and its gradient (grad_x r + grad_y r at (x, x))."""
        v, gx, gy = self.value_grad(xs, xs)
        return v, [a + b for a, b in zip(gx, gy, strict=True)]


def _diffs(xs: Balls, ys: Balls) -> list[arb]:
    return [a - b for a, b in zip(xs, ys, strict=True)]


class _Stationary(ArbRelation):
    """k(x, y) = f(|x - y|); the diagonal is f(0) = 1 with gradient 0."""

    def __init__(self, lengthscale: float, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.ell = arb(lengthscale)

    def diagonal(self, xs: Balls) -> arb:
        return arb(1)

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        return arb(1), [arb(0) for _ in xs]


class _ArbGaussian(_Stationary):
    """exp(-r^2 / (2 l^2)); grad_x = -(x - y) / l^2 k."""

    def value(self, xs: Balls, ys: Balls) -> arb:
        s = _sum_sqr(_diffs(xs, ys))
        return _exp(-s / (2 * self.ell**2))

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        d = _diffs(xs, ys)
        k = _exp(-_sum_sqr(d) / (2 * self.ell**2))
        inv = 1 / self.ell**2
        gx = [-inv * imul(di, k) for di in d]
        return k, gx, [-g for g in gx]


class _ArbLaplace(_Stationary):
    """exp(-r / l); grad_x = -(x - y) / (l r) k, Clarke components [-1/l, 1/l] at r = 0."""

    def value(self, xs: Balls, ys: Balls) -> arb:
        r = _sqrt(_sum_sqr(_diffs(xs, ys)))
        return _exp(-r / self.ell)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        d = _diffs(xs, ys)
        r = _sqrt(_sum_sqr(d))
        k = _exp(-r / self.ell)
        units = []
        for di in d:
            if r > 0:
                u = di / r
                units.append(u.intersection(_unit()) if u.overlaps(_unit()) else u)
            else:
                units.append(_unit())
        gx = [-imul(u, k) / self.ell for u in units]
        return k, gx, [-g for g in gx]


class _ArbMatern32(_Stationary):
    """(1 + a) e^-a with a = sqrt(3) r / l; grad_x = -(3 / l^2) e^-a (x - y)."""

    def _a(self, d: Balls) -> arb:
        return arb(3).sqrt() * _sqrt(_sum_sqr(d)) / self.ell

    def value(self, xs: Balls, ys: Balls) -> arb:
        a = self._a(_diffs(xs, ys))
        return _decreasing(lambda t: (1 + t) * (-t).exp(), a)  # derivative -t e^-t <= 0

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        d = _diffs(xs, ys)
        a = self._a(d)
        k = _decreasing(lambda t: (1 + t) * (-t).exp(), a)
        ea = _exp(-a)
        c = -3 / self.ell**2
        gx = [c * imul(ea, di) for di in d]
        return k, gx, [-g for g in gx]


class _ArbMatern52(_Stationary):
    """(1 + a + a^2 / 3) e^-a, a = sqrt(5) r / l; grad_x = -(5 / (3 l^2)) (1 + a) e^-a (x - y)."""

    def _a(self, d: Balls) -> arb:
        return arb(5).sqrt() * _sqrt(_sum_sqr(d)) / self.ell

    def value(self, xs: Balls, ys: Balls) -> arb:
        a = self._a(_diffs(xs, ys))
        # derivative -(t / 3)(1 + t) e^-t <= 0 for t >= 0
        return _decreasing(lambda t: (1 + t + t * t / 3) * (-t).exp(), a)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        d = _diffs(xs, ys)
        a = self._a(d)
        k = _decreasing(lambda t: (1 + t + t * t / 3) * (-t).exp(), a)
        # (1 + t) e^-t is decreasing for t >= 0 (derivative -t e^-t)
        g = _decreasing(lambda t: (1 + t) * (-t).exp(), a)
        c = -5 / (3 * self.ell**2)
        gx = [c * imul(g, di) for di in d]
        return k, gx, [-v for v in gx]


class _ArbPolynomial(ArbRelation):
    """(gamma <x, y> + offset)^degree; grad_x = degree gamma t^(degree-1) y."""

    def __init__(self, degree: int, offset: float, gamma: float, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.degree = degree
        self.offset = arb(offset)
        self.gamma = arb(gamma)

    def value(self, xs: Balls, ys: Balls) -> arb:
        return _pow_int(self.gamma * _dot(xs, ys) + self.offset, self.degree)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        t = self.gamma * _dot(xs, ys) + self.offset
        k = _pow_int(t, self.degree)
        c = self.degree * self.gamma * _pow_int(t, self.degree - 1)
        return k, [imul(c, y) for y in ys], [imul(c, x) for x in xs]

    def diagonal(self, xs: Balls) -> arb:
        return _pow_int(self.gamma * _sum_sqr(xs) + self.offset, self.degree)

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        t = self.gamma * _sum_sqr(xs) + self.offset
        c = 2 * self.degree * self.gamma * _pow_int(t, self.degree - 1)
        return _pow_int(t, self.degree), [imul(c, x) for x in xs]


class _ArbBrownian(ArbRelation):
    """prod_i min(x_i, y_i) on [0, inf)^d; d/dx_i min(x_i, y_i) = [x_i < y_i], [0, 1] at ties."""

    def check_box(self, x_lower: Sequence[float], y_lower: Sequence[float]) -> None:
        if min([*x_lower, *y_lower]) < 0:
            raise CertificateError(
                "the Brownian kernel min(x, y) is defined on [0, inf)^d, but a domain of the "
                f"certificate has a negative lower corner {min([*x_lower, *y_lower])!r}"
            )

    def value(self, xs: Balls, ys: Balls) -> arb:
        prod = arb(1)
        for a, b in zip(xs, ys, strict=True):
            prod = imul(prod, a.min(b))
        return prod

    @staticmethod
    def _products_without(ms: Sequence[arb]) -> list[arb]:
        out = []
        for i in range(len(ms)):
            prod = arb(1)
            for j, m in enumerate(ms):
                if j != i:
                    prod = imul(prod, m)
            out.append(prod)
        return out

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        ms = [a.min(b) for a, b in zip(xs, ys, strict=True)]
        others = self._products_without(ms)
        gx, gy = [], []
        for a, b, rest in zip(xs, ys, others, strict=True):
            d = a - b
            hx = _heaviside_ball(d)  # 1 where x < y
            gx.append(hx * rest)
            gy.append((1 - hx) * rest if _is_point(hx) else arb(0.5, 0.5) * rest)
        prod = arb(1)
        for m in ms:
            prod = imul(prod, m)
        return prod, gx, gy

    def diagonal(self, xs: Balls) -> arb:
        prod = arb(1)
        for a in xs:
            prod = imul(prod, a)
        return prod

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        return self.diagonal(xs), self._products_without(list(xs))


class _ArbPeriodic(ArbRelation):
    """exp(kappa sum_i cos(w (x_i - y_i))), w = 2 pi / period; grad_x_i = -kappa w sin(w d_i) k."""

    def __init__(self, kappa: float, period: float, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.kappa = arb(kappa)
        self.w = 2 * arb.pi() / arb(period)

    def value(self, xs: Balls, ys: Balls) -> arb:
        s = _sum([(self.w * d).cos() for d in _diffs(xs, ys)])
        return _exp(self.kappa * s)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        angles = [self.w * d for d in _diffs(xs, ys)]
        k = _exp(self.kappa * _sum([t.cos() for t in angles]))
        gx = [-self.kappa * self.w * imul(t.sin(), k) for t in angles]
        return k, gx, [-g for g in gx]

    def diagonal(self, xs: Balls) -> arb:
        return (self.kappa * len(xs)).exp()

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        return self.diagonal(xs), [arb(0) for _ in xs]


class _ArbExpDot(ArbRelation):
    """exp(<x, y> / scale); grad_x = y / scale k."""

    def __init__(self, scale: float, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.scale = arb(scale)

    def value(self, xs: Balls, ys: Balls) -> arb:
        return _exp(_dot(xs, ys) / self.scale)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        k = _exp(_dot(xs, ys) / self.scale)
        c = k / self.scale
        return k, [imul(c, y) for y in ys], [imul(c, x) for x in xs]

    def diagonal(self, xs: Balls) -> arb:
        return _exp(_sum_sqr(xs) / self.scale)

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        k = self.diagonal(xs)
        c = 2 * k / self.scale
        return k, [imul(c, x) for x in xs]


def _acos_point(c: arb) -> arb:
    """acos of a small ball, clamped to [-1, 1] (the exact cosine always lies there)."""
    ends = []
    for t in (c.lower(), c.upper()):
        if t >= 1:
            t = arb(1)
        elif t <= -1:
            t = arb(-1)
        ends.append(t.acos())
    return ends[0].union(ends[1])


class _ArbArcCosine(ArbRelation):
    """Arc-cosine kernels (Cho and Saul, 2009).

    order 0: 1 - theta / pi (1/2 when x = 0 or y = 0); order 1: |x| |y| J(theta) / pi with
    J(t) = sin t + (pi - t) cos t, decreasing on [0, pi] (0 when x = 0 or y = 0). theta is
    enclosed by acos of the clamped cosine <x, y> / (|x| |y|), evaluated at its two ends.
    Gradients: order 1 uses ((pi - theta) y + |y| sin(theta) x / |x|) / pi intersected with the
    Lipschitz box |grad_x| <= max |y|; order 0 uses the Lipschitz box 1 / (pi min |x|)
    (infinite when the x-box touches 0).
    """

    def __init__(self, order: int, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.order = order

    def _angle_ends(self, xs: Balls, ys: Balls) -> tuple[arb, arb, arb, arb] | None:
        """(|x|, |y|, theta_low, theta_high) or None when |x| |y| may vanish."""
        nx, ny = _sqrt(_sum_sqr(xs)), _sqrt(_sum_sqr(ys))
        if not (nx > 0 and ny > 0):
            return None
        c = imul(_dot(xs, ys), _inv_positive(imul(nx, ny)))
        if not c.is_finite():
            return None
        lo, hi = c.lower(), c.upper()
        theta_low = _acos_point(hi)  # acos is decreasing
        theta_high = _acos_point(lo)
        return nx, ny, theta_low, theta_high

    @staticmethod
    def _j(t: arb) -> arb:
        return t.sin() + (arb.pi() - t) * t.cos()

    def value(self, xs: Balls, ys: Balls) -> arb:
        return self._value(xs, ys, self._angle_ends(xs, ys))

    def _value(self, xs: Balls, ys: Balls, ends: tuple[arb, arb, arb, arb] | None) -> arb:
        pi = arb.pi()
        if ends is None:
            nx, ny = _sqrt(_sum_sqr(xs)), _sqrt(_sum_sqr(ys))
            if nx.is_zero() or ny.is_zero():  # the conventions at the origin
                return arb(0.5) if self.order == 0 else arb(0)
            if self.order == 0:
                return arb(0.5, 0.5)  # 1 - theta / pi lies in [0, 1], and so does 1/2
            return imul(nx, ny).union(arb(0))  # J / pi lies in [0, 1]
        nx, ny, t_lo, t_hi = ends
        if self.order == 0:
            return 1 - t_lo.union(t_hi) / pi
        return imul(imul(nx, ny), self._j(t_lo).union(self._j(t_hi))) / pi

    def _lipschitz_ball(self, own: Balls, other: Balls) -> arb:
        """Componentwise bound of the gradient in ``own`` (Lipschitz constant of the kernel)."""
        if self.order == 1:
            return _symmetric(_sqrt(_sum_sqr(other)))
        rho = _sqrt(_sum_sqr(own))
        if not rho > 0:
            return _infinite()
        return _symmetric(1 / (arb.pi() * rho.lower()))

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        ends = self._angle_ends(xs, ys)
        k = self._value(xs, ys, ends)
        box_x = self._lipschitz_ball(xs, ys)
        box_y = self._lipschitz_ball(ys, xs)
        gx = [box_x for _ in xs]
        gy = [box_y for _ in ys]
        if self.order == 1 and ends is not None:
            nx, ny, t_lo, t_hi = ends
            theta = t_lo.union(t_hi)
            pi = arb.pi()
            a, s = (pi - theta) / pi, theta.sin() / pi
            inx, iny = _inv_positive(nx), _inv_positive(ny)
            gx = [
                _intersect(imul(a, y) + imul(imul(ny, s), imul(x, inx)), b)
                for x, y, b in zip(xs, ys, gx, strict=True)
            ]
            gy = [
                _intersect(imul(a, x) + imul(imul(nx, s), imul(y, iny)), b)
                for x, y, b in zip(xs, ys, gy, strict=True)
            ]
        return k, gx, gy

    def diagonal(self, xs: Balls) -> arb:
        n2 = _sum_sqr(xs)
        if self.order == 1:
            return n2  # |x|^2 J(0) / pi = |x|^2 (and 0 at x = 0)
        nx = _sqrt(n2)
        if nx > 0:
            return arb(1)
        if nx.is_zero():
            return arb(0.5)
        return arb(0.75, 0.25)  # [1/2, 1]

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        if self.order == 1:
            return self.diagonal(xs), [2 * x for x in xs]
        nx = _sqrt(_sum_sqr(xs))
        if nx > 0:
            return arb(1), [arb(0) for _ in xs]
        return self.diagonal(xs), [_infinite() for _ in xs]  # discontinuous at 0


class _ArbBilinear(ArbRelation):
    """x^T W y; grad_x = W y, grad_y = W^T x."""

    def __init__(self, W: Any, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        rows = [[float(v) for v in row] for row in W]
        self.W = arb_mat(rows)
        self.WT = self.W.transpose()

    def value(self, xs: Balls, ys: Balls) -> arb:
        wy = (self.W * arb_mat(len(ys), 1, list(ys))).entries()
        return _dot(xs, wy)

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        wy = list((self.W * arb_mat(len(ys), 1, list(ys))).entries())
        wtx = list((self.WT * arb_mat(len(xs), 1, list(xs))).entries())
        return _dot(xs, wy), wy, wtx


class _ArbExpression(ArbRelation):
    """A sympy expression in x0.., y0.., enclosed by ``certify.relations._arb_eval``.

    Gradients come from ``sympy.diff`` (Abs -> sign, Max/Min -> Heaviside, which the
    evaluator maps to [-1, 1] and [0, 1] at the kinks); a derivative with no arb
    counterpart (DiracDelta, ...) gives the infinite ball.
    """

    def __init__(self, expr: sp.Expr, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim)
        self.xs_sym, self.ys_sym = relation_symbols(x_dim, y_dim)
        self.expr = expr
        self.grad_x = [sp.diff(expr, s) for s in self.xs_sym]
        self.grad_y = [sp.diff(expr, s) for s in self.ys_sym]
        self._diag: tuple[sp.Expr, list[sp.Expr]] | None = None

    def _env(self, xs: Balls, ys: Balls | None) -> dict[sp.Symbol, arb]:
        env = dict(zip(self.xs_sym, xs, strict=True))
        if ys is not None:
            env.update(zip(self.ys_sym, ys, strict=True))
        return env

    def _eval(self, expr: sp.Expr, env: Mapping[sp.Symbol, arb]) -> arb:
        try:
            return arb_evaluate(expr, env)
        except UnsupportedExpressionError as exc:
            raise NotCheckableError(f"the relation expression is not checkable: {exc}") from None
        except ZeroDivisionError:
            return arb.nan()

    @staticmethod
    def _eval_grad(expr: sp.Expr, env: Mapping[sp.Symbol, arb]) -> arb:
        try:
            return arb_evaluate(expr, env)
        except (UnsupportedExpressionError, ZeroDivisionError):
            return _infinite()

    def value(self, xs: Balls, ys: Balls) -> arb:
        return self._eval(self.expr, self._env(xs, ys))

    def value_grad(self, xs: Balls, ys: Balls) -> tuple[arb, list[arb], list[arb]]:
        env = self._env(xs, ys)
        return (
            self._eval(self.expr, env),
            [self._eval_grad(g, env) for g in self.grad_x],
            [self._eval_grad(g, env) for g in self.grad_y],
        )

    def _diagonal_exprs(self) -> tuple[sp.Expr, list[sp.Expr]]:
        if self._diag is None:
            d = self.expr.xreplace(dict(zip(self.ys_sym, self.xs_sym, strict=True)))
            self._diag = (d, [sp.diff(d, s) for s in self.xs_sym])
        return self._diag

    def diagonal(self, xs: Balls) -> arb:
        expr, _ = self._diagonal_exprs()
        return self._eval(expr, self._env(xs, None))

    def diagonal_grad(self, xs: Balls) -> tuple[arb, list[arb]]:
        expr, grads = self._diagonal_exprs()
        env = self._env(xs, None)
        return self._eval(expr, env), [self._eval_grad(g, env) for g in grads]


def _intersect(a: arb, b: arb) -> arb:
    """Intersection of two enclosures of the same quantity (a non-finite one is ignored)."""
    if not a.is_finite():
        return b
    if not b.is_finite():
        return a
    return a.intersection(b)


def arb_relation(relation: Relation, x_dim: int, y_dim: int) -> ArbRelation:
    """The checker's ball-arithmetic model of ``relation`` on R^x_dim x R^y_dim.

    Only the relation's parameters are read; the formulas are this module's own.

    Raises
    ------
    NotCheckableError
        For a :class:`~certify.relations.CallableRelation` (a black box) or an
        unknown relation type.
    CertificateError
        When the dimensions disagree with the relation's own.

    Examples
    --------
    >>> from certify.relations import Gaussian
    >>> r = arb_relation(Gaussian(lengthscale=1.0), 1, 1)
    >>> r.value([arb(0)], [arb(1)]).contains(arb(-0.5).exp())
    True
    """
    for dim, want, name in ((x_dim, relation.x_dim, "x"), (y_dim, relation.y_dim, "y")):
        if want is not None and dim != want:
            raise CertificateError(
                f"the relation {relation.spec!r} has {name}-dimension {want}, but the "
                f"certificate's {name}-domain has dimension {dim}"
            )
    if isinstance(relation, CallableRelation):
        raise NotCheckableError(
            f"the relation {relation.spec!r} is a Python callable, which is not checkable; "
            "give it as a sympy expression ('expr:...')"
        )
    kernels = (Gaussian, Laplace, Matern32, Matern52, Polynomial, Brownian, Periodic)
    if isinstance(relation, (*kernels, ArcCosine, ExpDot)) and x_dim != y_dim:
        raise CertificateError(
            f"the kernel {relation.spec!r} needs x- and y-domains of the same dimension; "
            f"got {x_dim} and {y_dim}"
        )
    stationary: dict[type, type[_Stationary]] = {
        Gaussian: _ArbGaussian,
        Laplace: _ArbLaplace,
        Matern32: _ArbMatern32,
        Matern52: _ArbMatern52,
    }
    model = stationary.get(type(relation))
    if model is not None:
        return model(float(relation.lengthscale), x_dim, y_dim)  # type: ignore[attr-defined]
    if isinstance(relation, Polynomial):
        return _ArbPolynomial(relation.degree, relation.offset, relation.gamma, x_dim, y_dim)
    if isinstance(relation, Brownian):
        return _ArbBrownian(x_dim, y_dim)
    if isinstance(relation, Periodic):
        return _ArbPeriodic(relation.kappa, relation.period, x_dim, y_dim)
    if isinstance(relation, ArcCosine):
        return _ArbArcCosine(relation.order, x_dim, y_dim)
    if isinstance(relation, ExpDot):
        return _ArbExpDot(relation.scale, x_dim, y_dim)
    if isinstance(relation, Bilinear):
        return _ArbBilinear(relation.W.tolist(), x_dim, y_dim)
    if isinstance(relation, ExpressionRelation):
        return _ArbExpression(relation.expr, x_dim, y_dim)
    raise NotCheckableError(
        f"the relation {relation.spec!r} ({type(relation).__name__}) has no ball-arithmetic "
        "model in the checker, so it is not checkable"
    )


# --- MLP feature maps --------------------------------------------------------------------
def _hex_float(text: Any, where: str) -> float:
    if not isinstance(text, str):
        raise CertificateError(f"{where} must be a float.hex string; got {type(text).__name__}")
    try:
        value = float.fromhex(text)
    except (ValueError, OverflowError):
        raise CertificateError(f"{where} is not a float.hex string: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise CertificateError(f"{where} must be finite; got {text!r}")
    return value


def _check_mlp_shapes(
    weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]], name: str
) -> None:
    if len(weights) == 0 or len(weights) != len(biases):
        raise CertificateError(
            f"network {name!r} needs one bias vector per weight matrix and at least one layer; "
            f"got {len(weights)} weight matrices and {len(biases)} bias vectors"
        )
    previous = None
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        rows = len(W)
        cols = {len(row) for row in W}
        if rows == 0 or len(cols) != 1 or 0 in cols:
            raise CertificateError(f"network {name!r}: weights[{k}] is not a non-empty matrix")
        (n_in,) = cols
        if previous is not None and n_in != previous:
            raise CertificateError(
                f"network {name!r}: weights[{k}] has {n_in} columns but layer {k - 1} has "
                f"{previous} outputs"
            )
        if len(b) != rows:
            raise CertificateError(
                f"network {name!r}: biases[{k}] has length {len(b)}, weights[{k}] has {rows} rows"
            )
        previous = rows


class ArbFeatureMap(ABC):
    """A feature map x -> R^m in ball arithmetic (the interface the checker's parts use).

    Subclasses provide ``in_dim``, ``out_dim``, :meth:`forward` and
    :meth:`forward_jacobian`; :meth:`enclose` combines them.
    """

    in_dim: int
    out_dim: int

    @abstractmethod
    def forward(self, xs: Balls) -> list[arb]:
        """Enclosure of the features over the box ``xs``."""

    @abstractmethod
    def forward_jacobian(self, xs: Balls) -> tuple[list[arb], arb_mat]:
        """Enclosures of the features and of the (out_dim, in_dim) Jacobian over the box."""

    def enclose(self, xs: Balls) -> tuple[list[arb], arb_mat, list[arb]]:
        """Outputs over the box, Jacobian over the box, and outputs at the box's centre.

        The outputs over the box are the intersection of the direct enclosure with the
        mean-value form ``phi(c) + J(box) (box - c)``, ``c`` the exact centre
        (``ball.mid()`` of each coordinate, the same centre the checker uses).
        """
        values, jac = self.forward_jacobian(xs)
        cs = [x.mid() for x in xs]
        at_centre = self.forward(cs)
        steps = (jac * arb_mat(len(xs), 1, [x - c for x, c in zip(xs, cs, strict=True)])).entries()
        values = [_intersect(v, c + s) for v, c, s in zip(values, at_centre, steps, strict=True)]
        return values, jac, at_centre


@dataclass(frozen=True, eq=False)
class ArbMLP(ArbFeatureMap):
    """An MLP feature map in ball arithmetic: hidden layers use ``activation``, the last is linear.

    Built from the MLP dictionary (format ``certify.mlp/1``, weights as float.hex
    strings, ``weights[k]`` of shape (out, in)) or from an ``.npz`` file with keys
    ``weights_0..``, ``biases_0..``, ``activation``, ``format``. Floats enter exactly.

    Examples
    --------
    >>> net = ArbMLP.from_dict({"format": "certify.mlp/1", "activation": "relu",
    ...     "weights": [[[(1.0).hex()]], [[(2.0).hex()]]],
    ...     "biases": [[(0.0).hex()], [(0.5).hex()]]})
    >>> net.forward([arb(-1)])[0] == arb(0.5), net.n_neurons
    (True, 1)
    """

    weights: tuple[arb_mat, ...]
    biases: tuple[arb_mat, ...]
    activation: str
    in_dim: int
    out_dim: int
    n_neurons: int

    @classmethod
    def from_floats(
        cls,
        weights: Sequence[Sequence[Sequence[float]]],
        biases: Sequence[Sequence[float]],
        activation: str,
        *,
        name: str = "network",
    ) -> ArbMLP:
        """Build from nested float lists (exact conversion)."""
        if activation not in MLP_ACTIVATIONS:
            raise CertificateError(
                f"network {name!r}: unknown activation {activation!r}; expected one of "
                f"{', '.join(MLP_ACTIVATIONS)}"
            )
        _check_mlp_shapes(weights, biases, name)
        for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
            if not all(math.isfinite(v) for row in W for v in row) or not all(
                math.isfinite(v) for v in b
            ):
                raise CertificateError(f"network {name!r}: layer {k} has a non-finite parameter")
        Ws = tuple(arb_mat([[float(v) for v in row] for row in W]) for W in weights)
        bs = tuple(arb_mat(len(b), 1, [float(v) for v in b]) for b in biases)
        return cls(
            weights=Ws,
            biases=bs,
            activation=activation,
            in_dim=len(weights[0][0]),
            out_dim=len(weights[-1]),
            n_neurons=sum(len(W) for W in weights[:-1]),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "network") -> ArbMLP:
        """Build from the ``certify.mlp/1`` dictionary (hex strings)."""
        if not isinstance(data, Mapping) or data.get("format") != MLP_FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise CertificateError(
                f"network {name!r} must be an MLP dictionary of format {MLP_FORMAT!r}; got {got!r}"
            )
        try:
            raw_w, raw_b = data["weights"], data["biases"]
            weights = [
                [
                    [
                        _hex_float(v, f"network {name!r} weights[{k}][{i}][{j}]")
                        for j, v in enumerate(row)
                    ]
                    for i, row in enumerate(W)
                ]
                for k, W in enumerate(raw_w)
            ]
            biases = [
                [_hex_float(v, f"network {name!r} biases[{k}][{i}]") for i, v in enumerate(b)]
                for k, b in enumerate(raw_b)
            ]
        except (KeyError, TypeError) as exc:
            raise CertificateError(f"network {name!r} is malformed: {exc}") from None
        return cls.from_floats(weights, biases, str(data.get("activation")), name=name)

    @classmethod
    def from_npz(cls, data: bytes, *, name: str = "network") -> ArbMLP:
        """Build from the bytes of an ``.npz`` file (weights_k, biases_k, activation, format)."""
        return cls.from_dict(mlp_dict_from_npz(data, name=name), name=name)

    # -- activations ---------------------------------------------------------------------
    def _act(self, z: arb) -> arb:
        return self._act_pair(z, derivative=False)[0]

    def _act_pair(self, z: arb, *, derivative: bool = True) -> tuple[arb, arb]:
        """The activation and its (Clarke) derivative over the ball ``z``.

        tanh and sigmoid are increasing and their derivatives (sech^2, s (1 - s)) decrease
        in |z|, so both ranges come from the two end points (plus the peak at 0 when the
        ball contains 0): tanh' = 1 - tanh^2 <= 1, sigmoid' = s (1 - s) <= 1/4.
        """
        act = self.activation
        if act in ("tanh", "sigmoid"):
            if act == "tanh":
                fn: Callable[[arb], arb] = arb.tanh
                peak = arb(1)
            else:
                fn = _sigmoid
                peak = arb(0.25)
            if _is_point(z) or not z.is_finite():
                v = fn(z)
                return v, (1 - v * v if act == "tanh" else v * (1 - v))
            vl, vh = fn(z.lower()), fn(z.upper())
            value = vl.union(vh)
            if not derivative:
                return value, arb(1)
            if act == "tanh":
                dl, dh = 1 - vl * vl, 1 - vh * vh
            else:
                dl, dh = vl * (1 - vl), vh * (1 - vh)
            d = dl.union(dh)
            if not (z > 0 or z < 0):
                d = d.union(peak)
            return value, d
        if act == "relu":
            if z > 0:
                return z, arb(1)
            if z < 0:
                return arb(0), arb(0)
            if z.is_zero():
                return z, arb(0.5, 0.5)  # Clarke: [0, 1]
            return arb(0).union(z.upper()), arb(0.5, 0.5)
        return z, arb(1)

    # -- evaluation ------------------------------------------------------------------------
    def _check_input(self, xs: Balls) -> None:
        if len(xs) != self.in_dim:
            raise CertificateError(
                f"an MLP with input dimension {self.in_dim} was given {len(xs)} coordinates"
            )

    def forward(self, xs: Balls) -> list[arb]:
        """Enclosure of the network's outputs over the box ``xs``."""
        self._check_input(xs)
        a = arb_mat(len(xs), 1, list(xs))
        last = len(self.weights) - 1
        for k, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = W * a + b
            if k == last:
                return list(z.entries())
            a = arb_mat(z.nrows(), 1, [self._act(v) for v in z.entries()])
        raise AssertionError("unreachable")  # pragma: no cover

    def forward_jacobian(self, xs: Balls) -> tuple[list[arb], arb_mat]:
        """Enclosures of the outputs and of the (out_dim, in_dim) Jacobian over the box ``xs``.

        At kinks of relu the Jacobian encloses Clarke's generalised Jacobian.
        """
        self._check_input(xs)
        a = arb_mat(len(xs), 1, list(xs))
        J: arb_mat | None = None  # None stands for the identity
        last = len(self.weights) - 1
        n_in = len(xs)
        for k, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = W * a + b
            Jz = W if J is None else W * J
            if k == last:
                return list(z.entries()), Jz
            zs = z.entries()
            pairs = [self._act_pair(v) for v in zs]
            a = arb_mat(len(zs), 1, [p[0] for p in pairs])
            ders = [p[1] for p in pairs]
            flat = Jz.entries()
            J = arb_mat(
                len(zs),
                n_in,
                [imul(flat[i * n_in + j], ders[i]) for i in range(len(zs)) for j in range(n_in)],
            )
        raise AssertionError("unreachable")  # pragma: no cover

    # -- Taylor models ---------------------------------------------------------------------
    @property
    def has_tanh_taylor(self) -> bool:
        """Whether :meth:`tanh_taylor` applies: one hidden layer with tanh activation."""
        return len(self.weights) == 2 and self.activation == "tanh"

    @functools.cached_property
    def _tanh_tables(self) -> dict[tuple[int, int], _TanhTables]:
        """The box-independent parts of :meth:`tanh_taylor`, by (order, working precision)."""
        return {}

    def _tanh_table(self, order: int) -> _TanhTables:
        key = (order, ctx.prec)
        table = self._tanh_tables.get(key)
        if table is None:
            table = _TanhTables.of(self.weights[0], self.weights[1], self.biases[1], order)
            self._tanh_tables[key] = table
        return table

    def tanh_taylor(self, xs: Balls, order: int, *, extra: int = TANH_EXTRA_ORDERS) -> TaylorModel:
        """The Taylor model of order p of a one-hidden-layer tanh MLP over the box ``xs``.

        ``phi(x) = A tanh(W x + b) + c``. With the box's exact centre c and half-widths h
        (``xs[k].mid()``, ``xs[k].rad()``, as in :meth:`ArbNystrom.gaussian_taylor`), hidden
        unit j has ``z_j(x) = a_j + t_j``, ``a_j = w_j . c + b_j`` (a ball from the exact
        floats) and ``t_j = w_j . (x - c)``, ``|t_j| <= s_j = sum_k |w_jk| h_k``. Taylor's
        theorem with Lagrange remainder gives ``tanh(a_j + t_j) = sum_(k <= p) y_k(a_j)
        t_j^k + y_(p+1)(xi_j) t_j^(p+1)`` with ``y_k = tanh^(k) / k!`` and ``xi_j`` in
        ``a_j +- s_j`` (:func:`tanh_taylor_1d`), and the multinomial theorem
        ``t_j^k = sum_(|alpha| = k) (k; alpha) w_j^alpha (x - c)^alpha``. Hence
        ``coefficients[i, alpha] = c_i [alpha = 0] + sum_j A_ij y_|alpha|(a_j)
        (|alpha|; alpha) w_j^alpha`` and ``remainder[i] = sum_j |A_ij| sup |y_(p+1)|
        s_j^(p+1)``, over the same exponents (``multi_indices(dim, order)``) as the Gaussian
        model, so the two coefficient matrices can be subtracted.

        The factors ``(|alpha|; alpha) w_j^alpha`` do not depend on the box and are cached
        (per order and working precision); per box the work is the series y_k at the N
        hidden units (numpy object arrays of balls), one N x n_alpha elementwise product
        and one ``arb_mat`` product ``[A | c] M``.

        Parameters
        ----------
        xs : list of arb
            The box, one ball per input coordinate.
        order : int
            p >= 0.
        extra : int, default=TANH_EXTRA_ORDERS
            Orders above p + 1 carried for the refinement of ``y_(p+1)`` over the wide
            balls (:func:`tanh_taylor_1d`).

        Returns
        -------
        TaylorModel

        Raises
        ------
        NotCheckableError
            When the network is not a one-hidden-layer tanh MLP.

        Examples
        --------
        >>> net = ArbMLP.from_floats([[[2.0]], [[3.0]]], [[0.5], [1.0]], "tanh")
        >>> tm = net.tanh_taylor([arb(0.25, 0.01)], 3)
        >>> tm.exponents, tm.coefficients[0, 0].overlaps(1 + 3 * arb(1).tanh())
        (((0,), (1,), (2,), (3,)), True)
        >>> tm.remainder[0] < 1e-6
        True
        """
        if not self.has_tanh_taylor:
            raise NotCheckableError(
                f"Taylor models of MLPs need one hidden layer with tanh activation; this network "
                f"has {len(self.weights) - 1} hidden layer(s) with {self.activation!r}"
            )
        self._check_input(xs)
        if order < 0 or extra < 0:
            raise ValueError(
                f"the Taylor order and extra orders must be >= 0; got {order}, {extra}"
            )
        table = self._tanh_table(order)
        dim, n_alpha = self.in_dim, len(table.exponents)
        cs = [x.mid() for x in xs]
        hs = [x.rad() for x in xs]
        W, b = self.weights[0], self.biases[0]
        n_hidden = W.nrows()
        centre = _object_array((W * arb_mat(dim, 1, cs) + b).entries())
        spread = _object_array(
            [_upper(v) for v in (table.abs_hidden * arb_mat(dim, 1, hs)).entries()]
        )
        points, wide = _tanh_coefficients(centre, spread, order, extra, lowest=order + 1)
        Y = np.stack(points, axis=1)  # (N, p + 1): y_k(a_j)
        M = Y[:, table.degrees] * table.monomials  # y_|alpha|(a_j) (|alpha|; alpha) w_j^alpha
        rows = M.ravel().tolist()
        rows.append(arb(1))  # the row of c: [1, 0, .., 0]
        rows.extend([arb(0)] * (n_alpha - 1))
        coefficients = table.outer * arb_mat(n_hidden + 1, n_alpha, rows)
        terms = _tanh_lagrange_terms(wide[order + 1], spread, order + 1)
        rem = table.abs_outer * arb_mat(n_hidden, 1, terms.tolist())
        return TaylorModel(
            exponents=table.exponents,
            coefficients=coefficients,
            remainder=tuple(_upper(v) for v in rem.entries()),
            centre=tuple(cs),
            half_widths=tuple(hs),
            order=order,
        )


def _hex_matrix(rows: Any, where: str) -> list[list[float]]:
    if not isinstance(rows, (list, tuple)) or not rows:
        raise CertificateError(f"{where} must be a non-empty list of rows")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or not row:
            raise CertificateError(f"{where}[{i}] must be a non-empty list")
        out.append([_hex_float(v, f"{where}[{i}][{j}]") for j, v in enumerate(row)])
    if len({len(r) for r in out}) != 1:
        raise CertificateError(f"{where} is not rectangular")
    return out


# --- Taylor models of Gaussian kernel columns ----------------------------------------------
def multi_indices(dim: int, degree: int, *, exact: bool = False) -> list[tuple[int, ...]]:
    """The multi-indices alpha in N^dim with |alpha| <= degree (``exact``: |alpha| == degree).

    Ordered by total degree, then lexicographically with the first coordinate descending.

    Examples
    --------
    >>> multi_indices(2, 2)
    [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    >>> multi_indices(2, 2, exact=True)
    [(2, 0), (1, 1), (0, 2)]
    """

    def of_degree(d: int, k: int) -> list[tuple[int, ...]]:
        if k == 1:
            return [(d,)]
        return [
            (first, *rest) for first in range(d, -1, -1) for rest in of_degree(d - first, k - 1)
        ]

    if dim < 1 or degree < 0:
        raise ValueError(f"multi_indices needs dim >= 1 and degree >= 0; got {dim}, {degree}")
    if exact:
        return of_degree(degree, dim)
    return [alpha for d in range(degree + 1) for alpha in of_degree(d, dim)]


#: Orders above the needed ones that :func:`gaussian_taylor_1d` carries for its refinement.
GAUSSIAN_EXTRA_ORDERS = 4


def gaussian_taylor_1d(
    t: arb, dx: arb, inv_ell2: arb, order: int, *, extra: int = GAUSSIAN_EXTRA_ORDERS
) -> tuple[list[arb], list[arb]]:
    """Scaled derivatives ``g^(q) / q!`` of ``g(t) = exp(-t^2 / (2 l^2))`` at t and over t + dx.

    With ``a_q = g^(q)(t) / q!`` the derivatives of g satisfy
    ``g^(q+1) = -(t g^(q) + q g^(q-1)) / l^2``, i.e.
    ``a_(q+1) = -(t a_q + a_(q-1)) / (l^2 (q + 1))`` (``a_(-1) = 0``).

    Returns ``a_0..a_order`` at the point(s) of the ball ``t`` and balls ``b_0..b_(order+1)``
    with ``b_q`` containing ``g^(q)(s) / q!`` for every s in ``T = t + dx`` (``dx`` a ball
    ``[-h, h]`` around 0, ``inv_ell2 = 1 / l^2``).

    The b's come from two enclosures, intersected: (i) the recurrence evaluated over the
    ball T (loose at high orders: dependency), for q up to ``order + 1 + extra``; (ii) from
    the top down, the one-variable Taylor form with Lagrange remainder
    ``g^(q)(t + d) / q! = a_q + (q + 1) a_(q+1) d + C(q + 2, 2) g^(q+2)(xi) / (q + 2)! d^2``
    (xi between t and t + d, so in T), whose last factor is the already refined
    ``b_(q+2)`` and ``d^2`` ranges over ``[0, h^2]``. Form (ii) is tight for narrow balls:
    its width is essentially the exact variation of ``g^(q) / q!`` over T.

    Examples
    --------
    >>> a, b = gaussian_taylor_1d(arb(0), arb(0, 0.1), arb(1), 2)
    >>> a[0] == 1, a[1] == 0, a[2] == -0.5, b[0].contains(arb(-0.005).exp())
    (True, True, True, True)
    """
    if order < 0 or extra < 0:
        raise ValueError(f"the order and extra orders must be >= 0; got {order}, {extra}")
    top = order + 2 + extra  # b_0 .. b_(top - 1), a_0 .. a_(top - 1)
    pts = [(-(t * t) * inv_ell2 / 2).exp()]
    pts.append(-t * pts[0] * inv_ell2)
    for q in range(1, top - 1):
        pts.append(-(t * pts[q] + pts[q - 1]) * inv_ell2 / (q + 1))
    T = t + dx
    balls = [_exp(-_sqr(T) * inv_ell2 / 2)]
    balls.append(-(T * balls[0]) * inv_ell2)
    for q in range(1, top - 1):
        balls.append(-(T * balls[q] + balls[q - 1]) * inv_ell2 / (q + 1))
    h2 = dx.rad() ** 2
    for q in range(top - 3, -1, -1):
        curvature = (balls[q + 2] * h2).union(arb(0)) * ((q + 2) * (q + 1) // 2)
        taylor = pts[q] + (q + 1) * pts[q + 1] * dx + curvature
        balls[q] = _intersect(balls[q], taylor)
    return pts[: order + 1], balls[: order + 2]


# --- Taylor models of tanh units ------------------------------------------------------------
ObjectArray = np.ndarray  # a 1-D numpy object array of balls (elementwise arithmetic)


def _tanh_series(start: Sequence[ObjectArray], top: int) -> list[ObjectArray]:
    """Extend ``[y_0, y_1]`` to ``y_0..y_top`` by ``(k + 1) y_(k+1) = -sum_(i=0)^k y_i y_(k-i)``.

    ``y_k = tanh^(k) / k!``: y = tanh solves y' = 1 - y^2, and comparing the Taylor
    coefficients of both sides, ``(k + 1) y_(k+1) = [k = 0] - sum_(i=0)^k y_i y_(k-i)``
    (the k = 0 step is the ``y_1 = 1 - y_0^2`` of ``start``). Elementwise on numpy object
    arrays of balls; every operation is a ball operation, so a ball ``y_0`` (with ``y_1``
    enclosing 1 - y_0^2 over it) gives balls enclosing each y_k over the same set.
    """
    ys = list(start)
    for k in range(1, top):
        conv: Any = 0
        for i in range((k + 1) // 2):  # y_i y_(k-i) and y_(k-i) y_i, i < k - i
            conv = conv + ys[i] * ys[k - i]
        conv = 2 * conv
        if k % 2 == 0:
            conv = conv + ys[k // 2] * ys[k // 2]
        ys.append(-conv / (k + 1))
    return ys


@functools.cache
def _tanh_cap_radius(k: int) -> float:
    """A radius r in (pi/4, pi/2) near the minimiser of tan(r) / r^k (any such r is valid)."""
    # d/dr log(tan(r) / r^k) = 2 / sin(2r) - k / r vanishes where sin(2r) / (2r) = 1 / k;
    # sin(u) / u decreases on (0, pi), so bisect in u = 2r on [pi/2, pi)
    lo, hi = math.pi / 2, math.pi * (1 - 1e-9)
    for _ in range(80):
        mid = (lo + hi) / 2
        if math.sin(mid) / mid > 1 / k:
            lo = mid
        else:
            hi = mid
    return lo / 2


@functools.cache
def _tanh_cap(k: int) -> arb:
    """The ball ``[-C_k, C_k]`` with ``|tanh^(k)(x) / k!| <= C_k`` for every real x.

    Cauchy's estimate on the circle ``|z - x| = r`` (``0 < r < pi/2``, inside the strip
    ``|Im z| < pi/2`` where tanh is holomorphic): ``|tanh^(k)(x) / k!| <= M(r) / r^k`` with
    ``M(r) = max |tanh z|`` over the strip ``|Im z| <= r``. For ``z = u + iv``,
    ``|tanh z|^2 = (cosh 2u - cos 2v) / (cosh 2u + cos 2v)``; with ``C = cosh 2u >= 1`` and
    ``c = cos 2v >= cos 2r > -1`` this is <= 1 when c >= 0, and when c < 0 it equals
    ``1 + 2|c| / (C - |c|) <= (1 + |c|) / (1 - |c|) <= (1 - cos 2r) / (1 + cos 2r) =
    tan(r)^2``. So ``M(r) <= max(1, tan r)``; r = 1 gives the cap ``tan 1 = 1.557`` for all k
    (``1 / (1 - |cos 2|) = 1.71`` is a cruder form of it); the r minimising
    ``tan(r) / r^k`` gives 0.54 for k = 7 (the true sup over the reals is 0.054, at 0).
    For k <= 1 the cap is 1: ``|tanh| < 1`` and ``0 < tanh' = 1 - tanh^2 <= 1``.
    """
    if k <= 1:
        return arb(0, 1)
    with ctx.workprec(CHECK_PRECISION):
        r = arb(_tanh_cap_radius(k))
        assert 0 < r < arb.pi() / 2
        return _symmetric(r.tan().max(arb(1)) / r**k)


#: Cells of [-1, 1] on which :func:`_tanh_sup_table` bounds ``|y_k|`` as a function of tanh.
TANH_TABLE_CELLS = 256


@functools.cache
def _tanh_sup_table(k: int) -> np.ndarray:
    """A sparse table of float upper bounds of ``|y_k|`` over runs of cells of tanh values.

    ``y_k = tanh^(k) / k!`` is a polynomial ``P_k(tanh)`` (the recurrence of
    :func:`_tanh_series` started from ``y_0 = y``, ``y_1 = 1 - y^2``), so
    ``sup |y_k|`` over an interval of x is ``sup |P_k|`` over its image under tanh, inside
    [-1, 1]. ``out[0, i]`` bounds ``|P_k|`` on the i-th of ``TANH_TABLE_CELLS`` equal cells
    of [-1, 1] (the recurrence in ball arithmetic over the cell, rounded up to a float) and
    ``out[l, i]`` the maximum over the cells ``i .. i + 2^l - 1`` (inf where that runs past
    the end), so any run of cells is covered by two overlapping entries of one level.
    """
    cells = TANH_TABLE_CELLS
    with ctx.workprec(CHECK_PRECISION):
        y0 = _object_array(
            [interval_ball(-1 + 2 * i / cells, -1 + 2 * (i + 1) / cells) for i in range(cells)]
        )
        y1 = _object_array([1 - _sqr(v) for v in y0])
        yk = _tanh_series([y0, y1], max(k, 1))[k]
        base = np.array([upper_float(abs(v)) for v in yk])
    levels = cells.bit_length()
    out = np.full((levels, cells), math.inf)
    out[0] = base
    for level in range(1, levels):
        half = 1 << (level - 1)
        out[level, : cells - 2 * half + 1] = np.maximum(
            out[level - 1, : cells - 2 * half + 1], out[level - 1, half : cells - half + 1]
        )
    out.setflags(write=False)
    return out


def _tanh_table_bound(y: ObjectArray, k: int) -> ObjectArray:
    """Balls ``[-U_j, U_j]``, ``U_j >= sup |y_k|`` over the x whose tanh lies in the ball ``y_j``.

    The cells met by ``y_j`` are found in floats with one cell of slack on each side, which
    covers the rounding of the ball's ends to floats and of the scaling (both ~1e-16, a cell
    is 2 / TANH_TABLE_CELLS wide); the maximum over that run of cells is read from the
    sparse table (:func:`_tanh_sup_table`): ``2^l <= i1 - i0 + 1 < 2^(l+1)`` (``frexp`` is
    exact), and the runs ``i0 .. i0 + 2^l - 1`` and ``i1 - 2^l + 1 .. i1`` cover ``i0 .. i1``.
    A ball that is not finite gets the infinite ball.
    """
    table = _tanh_sup_table(k)
    cells = table.shape[1]
    lo = np.array([float(v.lower()) for v in y])
    hi = np.array([float(v.upper()) for v in y])
    finite = np.isfinite(lo) & np.isfinite(hi)
    lo = np.where(finite, np.clip(lo, -1.0, 1.0), -1.0)
    hi = np.where(finite, np.clip(hi, -1.0, 1.0), 1.0)
    i0 = np.clip(np.floor((lo + 1) * (cells / 2)).astype(np.intp) - 1, 0, cells - 1)
    i1 = np.clip(np.floor((hi + 1) * (cells / 2)).astype(np.intp) + 1, 0, cells - 1)
    level = np.frexp((i1 - i0 + 1).astype(np.float64))[1] - 1
    bound = np.maximum(table[level, i0], table[level, i1 - (1 << level) + 1])
    bound = np.where(finite, bound, math.inf)
    return _object_array([arb(0, float(u)) if math.isfinite(u) else _infinite() for u in bound])


def _tanh_range(t: arb, s: arb) -> tuple[arb, arb]:
    """tanh and tanh' = 1 - tanh^2 over the ball t +- s (end points; tanh' peaks at 0)."""
    wide = t + arb(0, s)
    if not wide.is_finite():
        return _unit(), arb(0.5, 0.5)
    lo, hi = wide.lower().tanh(), wide.upper().tanh()
    derivative = (1 - lo * lo).union(1 - hi * hi)
    if not (wide > 0 or wide < 0):
        derivative = derivative.union(arb(1))
    return lo.union(hi), derivative


_TANH = np.frompyfunc(arb.tanh, 1, 1)
_TANH_RANGE = np.frompyfunc(_tanh_range, 2, 2)
_INTERSECT = np.frompyfunc(lambda a, b: _intersect(a, b), 2, 1)
_WITH_ZERO = np.frompyfunc(lambda a: a.union(arb(0)), 1, 1)
_CENTRED = np.frompyfunc(lambda s: arb(0, s), 1, 1)
_UPPER = np.frompyfunc(lambda a: _upper(a), 1, 1)


def _tanh_coefficients(
    t: ObjectArray,
    s: ObjectArray,
    order: int,
    extra: int,
    *,
    lowest: int,
) -> tuple[list[ObjectArray], list[ObjectArray]]:
    """``y_k`` at the balls ``t`` (k <= order) and over the balls ``t +- s`` (k <= order + 1).

    ``y_k = tanh^(k) / k!``, elementwise over numpy object arrays of balls; ``s`` holds
    exact non-negative balls. At ``t`` the recurrence of :func:`_tanh_series` runs up to
    ``top - 1``, ``top = order + 1 + extra``. Over the wide balls ``T = t +- s``: ``y_0``
    and ``y_1`` come from the end points of T (tight), ``y_2..y_top`` from the same
    recurrence (loose for wide T: dependency), the levels from ``lowest`` up intersected
    with the Cauchy cap of :func:`_tanh_cap`. Then, from the top down to ``lowest``, each
    ``y_q`` is intersected with the one-variable Taylor form ``y_q(t + d) = y_q(t) +
    (q + 1) y_(q+1)(t) d + C(q + 2, 2) y_(q+2)(xi) d^2`` (xi between t and t + d, so in T;
    the derivative of ``y_q`` is ``(q + 1) y_(q+1)``), whose last factor is the already
    refined ``y_(q+2)`` and d^2 ranges over ``[0, s^2]`` (as :func:`gaussian_taylor_1d`
    does for the Gaussian): tight for narrow T. Last, ``y_(order+1)`` is intersected with
    the tabulated bound of ``|P_(order+1)|`` over ``tanh(T)`` (:func:`_tanh_table_bound`):
    tight for wide T, where the recurrence overestimates sup |y_7| by 2 to 10 times
    (s = 0.3 to 1).
    """
    top = order + 1 + extra
    y0 = _TANH(t)
    points = _tanh_series([y0, 1 - y0 * y0], top - 1)  # y_top is only needed over T
    w0, w1 = _TANH_RANGE(t, s)
    wide = _tanh_series([w0, w1], top)
    for q in range(max(2, lowest), top + 1):  # the levels that are used below
        wide[q] = _INTERSECT(wide[q], _tanh_cap(q))
    dx = _CENTRED(s)
    s2 = s * s
    for q in range(top - 2, lowest - 1, -1):
        curvature = _WITH_ZERO(wide[q + 2] * s2) * ((q + 2) * (q + 1) // 2)
        wide[q] = _INTERSECT(wide[q], points[q] + (q + 1) * points[q + 1] * dx + curvature)
    if order + 1 >= 2:
        wide[order + 1] = _INTERSECT(wide[order + 1], _tanh_table_bound(w0, order + 1))
    return points[: order + 1], wide[: order + 2]


def tanh_taylor_1d(
    t: arb, dx: arb, order: int, *, extra: int = TANH_EXTRA_ORDERS
) -> tuple[list[arb], list[arb]]:
    """Scaled derivatives ``y_k = tanh^(k) / k!`` at t and over t + dx.

    Returns ``y_0..y_order`` at the point(s) of the ball ``t`` and balls
    ``b_0..b_(order+1)`` with ``b_k`` containing ``y_k(u)`` for every u in ``t + dx``
    (``dx`` a ball ``[-h, h]`` around 0). The recurrence is
    ``(k + 1) y_(k+1) = [k = 0] - sum_(i=0)^k y_i y_(k-i)`` (from y' = 1 - y^2); over the
    ball it is intersected with a Cauchy cap, refined from the top down by the one-variable
    Taylor form as in :func:`gaussian_taylor_1d`, and ``b_(order+1)`` is intersected with a
    tabulated bound of ``y_(order+1)`` as a polynomial of tanh (details in
    ``_tanh_coefficients``, ``_tanh_cap`` and ``_tanh_sup_table``).

    Examples
    --------
    >>> a, b = tanh_taylor_1d(arb(0), arb(0, 0.1), 3)
    >>> a[0] == 0, a[1] == 1, a[2] == 0, a[3].overlaps(arb(-1) / 3)
    (True, True, True, True)
    >>> b[0].contains(arb(0.1).tanh()), b[4].contains(0)
    (True, True)
    """
    if order < 0 or extra < 0:
        raise ValueError(f"the order and extra orders must be >= 0; got {order}, {extra}")
    points, wide = _tanh_coefficients(
        _object_array([t]),
        _object_array([dx.abs_upper()]),
        order,
        extra,
        lowest=0,
    )
    return [p[0] for p in points], [w[0] for w in wide]


def _tanh_lagrange_terms(derivative: ObjectArray, spread: ObjectArray, power: int) -> ObjectArray:
    """``sup |y_(p+1)| s_j^(p+1)`` per unit: the Lagrange remainder of tanh(a_j + t), |t| <= s_j.

    ``derivative`` encloses ``y_(p+1)`` over ``a_j +- s_j``, ``spread`` holds ``s_j``,
    ``power = p + 1``.
    """
    return _UPPER(derivative) * spread**power


def _multinomial(alpha: Sequence[int]) -> int:
    """The multinomial coefficient ``|alpha|! / prod_k alpha_k!``."""
    out = math.factorial(sum(alpha))
    for e in alpha:
        out //= math.factorial(e)
    return out


@dataclass(frozen=True, eq=False)
class _TanhTables:
    """What :meth:`ArbMLP.tanh_taylor` needs that does not depend on the box.

    ``monomials[j, alpha] = (|alpha|; alpha) w_j^alpha`` (N x n_alpha object array),
    ``degrees[alpha] = |alpha|``, ``abs_hidden = |W|`` (N x dim), ``outer = [A | c]``
    (m x (N + 1)) and ``abs_outer = |A|`` (m x N).
    """

    exponents: tuple[tuple[int, ...], ...]
    degrees: np.ndarray
    monomials: np.ndarray
    abs_hidden: arb_mat
    outer: arb_mat
    abs_outer: arb_mat

    @classmethod
    def of(cls, W: arb_mat, A: arb_mat, c: arb_mat, order: int) -> _TanhTables:
        n_hidden, dim = W.nrows(), W.ncols()
        m = A.nrows()
        exponents = tuple(multi_indices(dim, order))
        w = W.entries()
        columns = [_object_array([w[j * dim + k] for j in range(n_hidden)]) for k in range(dim)]
        powers = []
        for col in columns:
            pk = [_object_array([arb(1)] * n_hidden)]
            for _ in range(order):
                pk.append(pk[-1] * col)
            powers.append(pk)
        monomials = np.empty((n_hidden, len(exponents)), dtype=object)
        for q, alpha in enumerate(exponents):
            prod = _object_array([arb(_multinomial(alpha))] * n_hidden)
            for k, e in enumerate(alpha):
                if e:
                    prod = powers[k][e] * prod
            monomials[:, q] = prod
        a = A.entries()
        cv = c.entries()
        outer = arb_mat(
            m,
            n_hidden + 1,
            [v for i in range(m) for v in (*a[i * n_hidden : (i + 1) * n_hidden], cv[i])],
        )
        return cls(
            exponents=exponents,
            degrees=np.array([sum(alpha) for alpha in exponents], dtype=np.intp),
            monomials=monomials,
            abs_hidden=arb_mat(n_hidden, dim, [abs(v) for v in w]),
            outer=outer,
            abs_outer=arb_mat(m, n_hidden, [abs(v) for v in a]),
        )


@dataclass(frozen=True, eq=False)
class TaylorModel:
    """A Taylor model of a feature map over a box: ``F_i(x) = P_i(x - c) + R_i(x)``.

    ``P_i(y) = sum_alpha coefficients[i, alpha] y^alpha`` over the multi-indices
    ``exponents`` (|alpha| <= order) and ``|R_i(x)| <= remainder[i]`` for every x in
    the box ``c +- half_widths``.
    """

    exponents: tuple[tuple[int, ...], ...]
    coefficients: arb_mat
    remainder: tuple[arb, ...]
    centre: tuple[arb, ...]
    half_widths: tuple[arb, ...]
    order: int


@dataclass(frozen=True, eq=False)
class ArbNystrom(ArbFeatureMap):
    """Nystrom features ``F(x) = sum_j C[j, :] r(x, node_j)`` in ball arithmetic.

    Built from the ``certify.nystrom/1`` dictionary (``relation`` spec string, ``nodes``
    of shape (n, dim), ``coefficients`` C of shape (n, m), floats as float.hex strings).
    The kernel columns ``r(x, node_j)`` over a box come from the checker's own
    :func:`arb_relation` model (``value_grad`` with the node as an exact point), so the
    Jacobian is ``C^T grad_x r(x, nodes)``. Nodes and coefficients enter exactly.

    Examples
    --------
    >>> F = ArbNystrom.from_dict({"format": "certify.nystrom/1",
    ...     "relation": "gaussian:lengthscale=0.5", "nodes": [[(0.0).hex()]],
    ...     "coefficients": [[(2.0).hex()]]})
    >>> F.forward([arb(0)])[0] == arb(2), (F.in_dim, F.out_dim, F.n_nodes)
    (True, (1, 1, 1))
    """

    relation: ArbRelation
    relation_spec: str
    nodes: tuple[tuple[float, ...], ...]
    coefficients: tuple[tuple[float, ...], ...]
    in_dim: int
    out_dim: int

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_neurons(self) -> int:
        """The number of kernel columns (the analogue of an MLP's hidden units)."""
        return len(self.nodes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "network") -> ArbNystrom:
        """Build from the ``certify.nystrom/1`` dictionary (hex strings)."""
        if not isinstance(data, Mapping) or data.get("format") != NYSTROM_FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise CertificateError(
                f"network {name!r} must be a Nystrom dictionary of format {NYSTROM_FORMAT!r}; "
                f"got {got!r}"
            )
        from certify.errors import CertifyError
        from certify.relations.spec import parse_relation

        spec = data.get("relation")
        if not isinstance(spec, str):
            raise CertificateError(f"network {name!r}: `relation` must be a spec string")
        try:
            relation = parse_relation(spec)
        except CertifyError as exc:
            raise CertificateError(
                f"network {name!r}: relation {spec!r} does not parse: {exc}"
            ) from None
        if not relation.symmetric:
            raise CertificateError(f"network {name!r}: relation {spec!r} is not symmetric")
        nodes = _hex_matrix(data.get("nodes"), f"network {name!r} nodes")
        coefficients = _hex_matrix(data.get("coefficients"), f"network {name!r} coefficients")
        if len(nodes) != len(coefficients):
            raise CertificateError(
                f"network {name!r}: {len(nodes)} nodes but {len(coefficients)} coefficient rows"
            )
        dim = len(nodes[0])
        model = arb_relation(relation, dim, dim)
        return cls(
            relation=model,
            relation_spec=spec,
            nodes=tuple(tuple(r) for r in nodes),
            coefficients=tuple(tuple(r) for r in coefficients),
            in_dim=dim,
            out_dim=len(coefficients[0]),
        )

    @functools.cached_property
    def _node_balls(self) -> list[list[arb]]:
        return [[arb(v) for v in node] for node in self.nodes]

    @functools.cached_property
    def _coef_t(self) -> arb_mat:
        """C^T, shape (m, n), exact."""
        n, m = len(self.coefficients), self.out_dim
        return arb_mat(m, n, [self.coefficients[j][i] for i in range(m) for j in range(n)])

    def _check_input(self, xs: Balls) -> None:
        if len(xs) != self.in_dim:
            raise CertificateError(
                f"Nystrom features with input dimension {self.in_dim} were given {len(xs)} "
                "coordinates"
            )

    def forward(self, xs: Balls) -> list[arb]:
        """Enclosure of F over the box ``xs``: C^T [r(xs, node_j)]_j."""
        self._check_input(xs)
        col = [self.relation.value(xs, node) for node in self._node_balls]
        return list((self._coef_t * arb_mat(len(col), 1, col)).entries())

    def forward_jacobian(self, xs: Balls) -> tuple[list[arb], arb_mat]:
        """Enclosures of F and of its (m, dim) Jacobian C^T grad_x r(xs, nodes) over the box."""
        self._check_input(xs)
        vals, grads = [], []
        for node in self._node_balls:
            v, gx, _ = self.relation.value_grad(xs, node)
            vals.append(v)
            grads.extend(gx)
        n = len(vals)
        values = (self._coef_t * arb_mat(n, 1, vals)).entries()
        jac = self._coef_t * arb_mat(n, self.in_dim, grads)
        return list(values), jac

    def gram(self) -> arb_mat:
        """Balls containing K = [r(node_i, node_j)] (n x n), exactly symmetric as balls."""
        balls = self._node_balls
        n = len(balls)
        K = arb_mat(n, n)
        for i in range(n):
            for j in range(i, n):
                v = self.relation.value(balls[i], balls[j])
                K[i, j] = v
                K[j, i] = v  # r is symmetric: the ball contains r(node_j, node_i) too
        return K

    @functools.cached_property
    def _axis_values(self) -> tuple[tuple[tuple[float, ...], tuple[int, ...]], ...]:
        """Per coordinate k: the distinct node coordinates and each node's index among them."""
        out = []
        for k in range(self.in_dim):
            values = tuple(sorted({node[k] for node in self.nodes}))
            where = {v: i for i, v in enumerate(values)}
            out.append((values, tuple(where[node[k]] for node in self.nodes)))
        return tuple(out)

    @functools.cached_property
    def _grid(self) -> tuple[tuple[int, ...], arb_mat] | None:
        """The coefficients scattered on the tensor grid of distinct node coordinates.

        ``(shape, T)`` with ``shape = (U_1, .., U_D)`` and T of shape ``U_1 x (U_2 .. U_D m)``,
        ``T[u_1, (u_2, .., u_D, i)] = sum of C[j, i] over the nodes j at grid point u``
        (exact floats, a node repeated has its rows added in ball arithmetic, grid points
        without a node hold 0). None when the grid has more than twice as many points as
        there are nodes (scattered nodes), where the per-node path is cheaper.
        """
        shape = tuple(len(values) for values, _ in self._axis_values)
        size = math.prod(shape)
        if size > 2 * self.n_nodes:
            return None
        m = self.out_dim
        dense = [arb(0)] * (size * m)
        index = [where for _, where in self._axis_values]
        for j, row in enumerate(self.coefficients):
            flat = 0
            for k, u in enumerate(shape):
                flat = flat * u + index[k][j]
            base = flat * m
            for i, c in enumerate(row):
                dense[base + i] += c
        return shape, arb_mat(shape[0], size * m // shape[0], dense)

    def _contract(self, factors: Sequence[arb_mat]) -> np.ndarray:
        """``Y[q_1, .., q_D, i] = sum_j C[j, i] prod_k V_k[q_k, u_k(j)]`` on the tensor grid.

        ``factors[k]`` is ``V_k`` of shape (n_k, U_k); one ``arb_mat`` product per
        coordinate (the axes are moved with numpy object arrays, which only moves
        references). Returns an object array of balls of shape (n_1, .., n_D, m).
        """
        grid = self._grid
        assert grid is not None
        shape, first = grid
        m = self.out_dim
        prod = factors[0] * first
        arr = _object_array(prod.entries()).reshape(factors[0].nrows(), *shape[1:], m)
        for k in range(1, self.in_dim):
            moved = np.moveaxis(arr, k, 0)
            rest = moved.shape[1:]
            mat = arb_mat(shape[k], math.prod(rest), moved.reshape(shape[k], -1).ravel().tolist())
            prod = factors[k] * mat
            arr = _object_array(prod.entries()).reshape(factors[k].nrows(), *rest)
            arr = np.moveaxis(arr, 0, k)
        return arr

    def _per_node(
        self, columns: Sequence[Sequence[Sequence[arb]]], exponents: Sequence[tuple[int, ...]]
    ) -> arb_mat:
        """``C^T V`` with ``V[j, alpha] = prod_k columns[k][u_k(j)][alpha_k]`` (scattered nodes)."""
        index = [where for _, where in self._axis_values]
        dim = self.in_dim
        rows: list[arb] = []
        for j in range(self.n_nodes):
            per = [columns[k][index[k][j]] for k in range(dim)]
            for alpha in exponents:
                v = per[0][alpha[0]]
                for k in range(1, dim):
                    v = v * per[k][alpha[k]]
                rows.append(v)
        return self._coef_t * arb_mat(self.n_nodes, len(exponents), rows)

    @functools.cached_property
    def _grid_slices(self) -> tuple[arb_mat, ...]:
        """On a 2-D tensor grid: per feature i the U_1 x U_2 matrix ``T[:, :, i]``."""
        grid = self._grid
        assert grid is not None and self.in_dim == 2
        (u1, u2), first = grid
        m = self.out_dim
        flat = first.entries()
        return tuple(
            arb_mat(u1, u2, [flat[(a * u2 + b) * m + i] for a in range(u1) for b in range(u2)])
            for i in range(m)
        )

    def _sums(
        self, columns: Sequence[Sequence[Sequence[arb]]], exponents: Sequence[tuple[int, ...]]
    ) -> arb_mat:
        """``S[i, alpha] = sum_j C[j, i] prod_k columns[k][u_k(j)][alpha_k]``, shape (m, n_alpha).

        ``columns[k][u]`` is the list of one-variable factors (indexed by alpha_k) at the
        distinct coordinate ``u`` of axis k. Tensor grids are contracted axis by axis (in
        2-D as ``V_1 T_i V_2^T`` per feature i), other node sets node by node; all of it
        plain ball arithmetic.
        """
        if self._grid is None:
            return self._per_node(columns, exponents)
        sizes = [1 + max(alpha[k] for alpha in exponents) for k in range(self.in_dim)]
        m = self.out_dim
        if self.in_dim == 2:
            (c1, c2), (n1, n2) = columns, sizes
            V1 = arb_mat(n1, len(c1), [c1[u][q] for q in range(n1) for u in range(len(c1))])
            V2t = arb_mat(len(c2), n2, [c2[u][q] for u in range(len(c2)) for q in range(n2)])
            blocks = [(V1 * (T * V2t)).entries() for T in self._grid_slices]
            return arb_mat(
                m,
                len(exponents),
                [blocks[i][a * n2 + b] for i in range(m) for a, b in exponents],
            )
        factors = [
            arb_mat(n_k, len(col), [col[u][q] for q in range(n_k) for u in range(len(col))])
            for n_k, col in zip(sizes, columns, strict=True)
        ]
        arr = self._contract(factors)
        return arb_mat(
            m, len(exponents), [arr[(*alpha, i)] for i in range(m) for alpha in exponents]
        )

    def gaussian_taylor(self, xs: Balls, order: int) -> TaylorModel:
        """The Taylor model of order p of Gaussian Nystrom features over the box ``xs``.

        For the product kernel ``r(x, n) = prod_k g(x_k - n_k)``, ``g(t) = exp(-t^2 /
        (2 l^2))``, Taylor's theorem with Lagrange remainder at the box centre c gives, for
        each node n_j and x in the box (xi_j on the segment [c, x], so in the box),
        ``r(x, n_j) = sum_(|alpha| <= p) A_alpha(j) (x - c)^alpha +
        sum_(|alpha| = p + 1) d^alpha r(xi_j, n_j) / alpha! (x - c)^alpha`` with
        ``A_alpha(j) = prod_k a_(alpha_k)(c_k - n_jk)`` and ``d^alpha r / alpha! =
        prod_k g^(alpha_k) / alpha_k!`` (:func:`gaussian_taylor_1d`), the latter in
        ``B_alpha(j) = prod_k b_(alpha_k)``, each factor enclosed over its interval. With
        the exact coefficients C: ``coefficients[i, alpha] = sum_j C[j, i] A_alpha(j)`` and
        ``|R_i(x)| <= sum_(|alpha| = p + 1) |sum_j C[j, i] B_alpha(j)| h^alpha``.

        The one-variable factors are computed once per distinct node coordinate; when the
        nodes form a tensor grid (quadrature nodes do) the sums over j are contracted axis
        by axis with ``arb_mat`` products, otherwise node by node (``C^T`` times an
        ``n x n_alpha`` matrix).

        Raises
        ------
        NotCheckableError
            When the features' relation is not the Gaussian kernel.
        """
        if not isinstance(self.relation, _ArbGaussian):
            raise NotCheckableError(
                f"Taylor models of Nystrom features need the Gaussian kernel; the features use "
                f"{self.relation_spec!r}"
            )
        self._check_input(xs)
        if order < 0:
            raise ValueError(f"the Taylor order must be >= 0; got {order}")
        dim = self.in_dim
        cs = [x.mid() for x in xs]
        hs = [x.rad() for x in xs]
        inv_ell2 = 1 / self.relation.ell**2
        points: list[list[list[arb]]] = []  # [k][u][q] at the centre
        balls: list[list[list[arb]]] = []  # [k][u][q] over the box
        for k, (values, _) in enumerate(self._axis_values):
            dx = arb(0, hs[k])
            pk, bk = [], []
            for u in values:
                a, b = gaussian_taylor_1d(cs[k] - u, dx, inv_ell2, order)
                pk.append(a)
                bk.append(b)
            points.append(pk)
            balls.append(bk)
        exponents = multi_indices(dim, order)
        top = multi_indices(dim, order + 1, exact=True)
        coefficients = self._sums(points, exponents)
        rem = self._sums(balls, top).entries()
        powers = [_monomial_bound(hs, alpha) for alpha in top]
        n_top = len(top)
        remainder = []
        for i in range(self.out_dim):
            total = arb(0)
            for c, hp in zip(rem[i * n_top : (i + 1) * n_top], powers, strict=True):
                total += _upper(c) * hp
            remainder.append(_upper(total))
        return TaylorModel(
            exponents=tuple(exponents),
            coefficients=coefficients,
            remainder=tuple(remainder),
            centre=tuple(cs),
            half_widths=tuple(hs),
            order=order,
        )


def arb_features(data: Any, *, name: str = "network") -> ArbFeatureMap:
    """The ball model of a witness network dictionary (MLP or Nystrom features)."""
    if isinstance(data, Mapping) and data.get("format") == NYSTROM_FORMAT:
        return ArbNystrom.from_dict(data, name=name)
    return ArbMLP.from_dict(data, name=name)


# --- .npz reading and deterministic writing ------------------------------------------------
def _npz_string(value: Any) -> str:
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "US":
        raise CertificateError("an .npz string field must be a 0-d string array")
    item = arr.item()
    return item.decode() if isinstance(item, bytes) else str(item)


def mlp_dict_from_npz(data: bytes, *, name: str = "network") -> dict[str, Any]:
    """The ``certify.mlp/1`` dictionary stored in ``.npz`` bytes (no pickles are loaded)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            files = set(npz.files)
            n_layers = 0
            while f"weights_{n_layers}" in files:
                n_layers += 1
            weights = [np.asarray(npz[f"weights_{k}"], dtype=np.float64) for k in range(n_layers)]
            biases = [np.asarray(npz[f"biases_{k}"], dtype=np.float64) for k in range(n_layers)]
            activation = _npz_string(npz["activation"])
            fmt = _npz_string(npz["format"]) if "format" in files else MLP_FORMAT
    except CertificateError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise CertificateError(f"network {name!r}: unreadable .npz file ({exc})") from None
    if fmt != MLP_FORMAT:
        raise CertificateError(f"network {name!r}: .npz format {fmt!r}, expected {MLP_FORMAT!r}")
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        if W.ndim != 2 or b.ndim != 1:
            raise CertificateError(
                f"network {name!r}: weights_{k} must be 2-D and biases_{k} 1-D in the .npz file"
            )
    return {
        "format": MLP_FORMAT,
        "activation": activation,
        "weights": [[[float(v).hex() for v in row] for row in W] for W in weights],
        "biases": [[float(v).hex() for v in b] for b in biases],
    }


def mlp_npz_bytes(network: Mapping[str, Any]) -> bytes:
    """Deterministic ``.npz`` bytes of an MLP dictionary (fixed zip timestamps, sorted keys).

    ``numpy.savez`` stamps the current time into the archive, so its output (and hence
    its sha256) changes from run to run; this writer does not.
    """
    ArbMLP.from_dict(network)  # validate before writing
    arrays: dict[str, np.ndarray] = {
        "activation": np.array(str(network["activation"])),
        "format": np.array(MLP_FORMAT),
    }
    for k, (W, b) in enumerate(zip(network["weights"], network["biases"], strict=True)):
        arrays[f"weights_{k}"] = np.array(
            [[float.fromhex(v) for v in row] for row in W], dtype=np.float64
        )
        arrays[f"biases_{k}"] = np.array([float.fromhex(v) for v in b], dtype=np.float64)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, arrays[key], allow_pickle=False)
    return buffer.getvalue()
