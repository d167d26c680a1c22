"""Barron constants C_f = int |w| |f^(w)| dw from closed-form Fourier data (L3, L4 of THEORY.md).

Barron's theorem (L3) bounds the L2(mu) error of an n-unit sigmoidal network by
``2 R C_f / sqrt(n)`` for mu on the ball of radius R. certify computes C_f only
where the Fourier transform is known in closed form and the integral can be
enclosed rigorously; everything else is reported as unknown (``value=None``,
with the reason), never guessed.

Conventions
-----------
* Fourier transform: ``f(x) = int exp(i w.x) f^(w) dw``, i.e.
  ``f^(w) = (2 pi)^(-d) int exp(-i w.x) f(x) dx`` (Barron 1993).
* Extension: Barron's theorem needs *some* extension of f from the ball to
  R^d with a finite C_f; the best constant is the infimum over extensions.
  certify uses the closed form itself on all of R^d as the extension, so the
  constant it reports is that extension's C_f: an upper bound on the infimum,
  which is the safe direction for L3 and L4. A function given only on a bounded
  domain (the Brownian eigenfunctions ``sqrt(2) sin((k - 1/2) pi x)`` on [0, 1])
  has no Barron constant until an extension is chosen; certify does not choose
  one and reports it as unknown.

What is computable
------------------
* One dimension, ``f(x) = P(x - c) exp(-a (x - c)^2)`` with P a real polynomial
  of one parity (the Hermite functions, the Gaussian-measure eigenfunctions of
  the Gaussian kernel): an enclosure of C_f itself. ``f^`` is a real polynomial
  ``s`` times a Gaussian; [0, oo) is cut into intervals on which ``s`` has a
  certified sign (integrated in closed form with incomplete gamma functions) and
  intervals of width <= 2^-50 times Fujiwara's root bound around its roots
  (enclosed crudely by width x sup, so they contribute O(width^2)); all in arb
  ball arithmetic, at rising precision until the enclosure has 40 correct bits.
* Polynomials of mixed parity, sums with different rates or centres: an upper
  bound by the triangle inequality over the pure parts (``exact=False``).
* Tensor products ``f(x) = prod_j f_j(x_j)`` in d dimensions: the upper bound
  ``C_f <= sum_j C_{f_j} prod_{k != j} ||f_k^||_1`` from ``|w| <= |w|_1``
  (``exact=False``).
* Nystrom features ``F_i(x) = sum_j C_ji k(x - n_j)`` of a stationary kernel with a
  finite second spectral moment (Gaussian, Matern 3/2, Matern 5/2): the upper bound
  ``C_{F_i} <= sqrt(M2 G_ii)`` of :func:`nystrom_barron_constants` (``exact=False``).

Nystrom features (L4)
---------------------
By Bochner, a continuous stationary PD kernel is ``k(x) = int exp(i w.x) k^(w) dw``
with ``k^ >= 0`` and ``int k^ = k(0)``. A kernel sum ``F_i(x) = sum_j C_ji k(x - n_j)``
then has ``F_i^ = k^ S_i`` with ``S_i(w) = sum_j C_ji exp(-i w.n_j)``, and Cauchy-Schwarz
for the measure ``k^(w) dw`` gives

    C_{F_i} = int |w| k^ |S_i| dw <= (int |w|^2 k^ dw)^(1/2) (int k^ |S_i|^2 dw)^(1/2)
            = sqrt(M2 G_ii),

because ``int k^ |S_i|^2 = sum_{j,l} C_ji C_li k(n_j - n_l) = (C^T K C)_ii = G_ii``, the
Gram matrix of lemma L1'. Splitting the integrand the other way,
``|w| k^ |S_i| = (|w| sqrt(k^) |S_i|) sqrt(k^)``, gives the second bound

    C_{F_i} <= sqrt(k(0) H_ii),    H = C^T L C,    L_jl = (-Laplacian k)(n_j - n_l),

since ``|w|^2 k^`` is the Fourier density of ``-Laplacian k`` (integrable when M2 is
finite). certify reports the smaller of the two: H is smaller for the smoothest
(leading) features, which dominate L4's sums, G for the others. The second spectral
moment ``M2 = int |w|^2 k^(w) dw`` of
``k(x) = kappa(|x|)`` with ``kappa(r) = 1 + kappa''(0) r^2 / 2 + O(r^3)`` satisfies
``M2 <= -D kappa''(0)`` (Fatou's lemma on the second differences ``(2 - 2 cos(h w_a)) / h^2
-> w_a^2``, one axis a at a time; equality holds, but only ``<=`` is used):

=============  ===============================================  ===============
kernel         kappa(r)                                          M2
=============  ===============================================  ===============
Gaussian       exp(-r^2 / (2 l^2))                               D / l^2
Matern 3/2     (1 + sqrt(3) r / l) exp(-sqrt(3) r / l)           3 D / l^2
Matern 5/2     (1 + a + a^2 / 3) exp(-a), a = sqrt(5) r / l      5 D / (3 l^2)
Laplace        exp(-r / l)                                       infinite
=============  ===============================================  ===============

(certify's kernels have ``k(0) = 1``: no variance parameter.) With ``t = c r / l``
(``c = sqrt(3)``, ``sqrt(5)``) and the radial Laplacian ``kappa'' + (D - 1) kappa' / r``:
``-Laplacian k = (D / l^2 - r^2 / l^4) exp(-r^2 / (2 l^2))`` (Gaussian),
``(3 / l^2) (D - t) exp(-t)`` (Matern 3/2), ``(5 / (3 l^2)) (D (1 + t) - t^2) exp(-t)``
(Matern 5/2); at ``r = 0`` they equal M2. The Laplace kernel has
``kappa'(0) = -1/l != 0``: its ``k^`` decays like ``|w|^-(D+1)``, ``M2`` is infinite
and the kernel sums have no finite Barron constant in general, so they are reported
unknown. F is defined on all of R^D by its formula, so it is its own extension
(:data:`EXTENSION_CONVENTION`).

L4 is stated for the eigenfunctions ``e_i = F_i / sqrt(lambda_i)``: its ``C_i`` is
``C_{F_i} / sqrt(lambda_i)`` (the Fourier transform is linear), with ``lambda_i`` an
upper bound on ``||F_i||^2_{L2(mu)}``; :mod:`certify.certificates.symmetric` does the
conversion where L4 is evaluated. Barron's theorem (L3) needs a ball of radius R
carrying mu: sigmoidal networks are translation invariant (a shift of the input is
absorbed by the biases) and ``|F^|`` is unchanged by a translation, so R is the radius
of the smallest ball containing the box, half its diagonal (:func:`box_radius`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
from flint import arb, arb_mat, arb_poly, ctx

from certify._rigorous import WORKING_PRECISION
from certify._validation import check_int
from certify.bounds._arb_eval import down_float, exact_ball, up_float
from certify.errors import InvalidInputError

__all__ = [
    "EXTENSION_CONVENTION",
    "BarronConstant",
    "GaussianPolynomial",
    "SpectralMoment",
    "TensorProduct",
    "barron_constant",
    "box_radius",
    "nystrom_barron_constants",
    "second_spectral_moment",
]

#: The extension convention, recorded in every :class:`BarronConstant`.
EXTENSION_CONVENTION = (
    "the closed form itself on all of R^d; f(x) = int exp(i w.x) f^(w) dw; "
    "C_f = int |w| |f^(w)| dw of that extension, an upper bound on the infimum over "
    "extensions of f from the ball"
)

#: Width, relative to the root bound, of the intervals enclosed crudely around roots.
_ROOT_WIDTH_BITS = 50
#: Relative accuracy (bits) asked of an enclosure before raising the precision.
_TARGET_BITS = 40
_PRECISIONS = (128, 256, 512, 1024)


def _exact_number(x: Any, name: str) -> sympy.Expr:
    """A real number as an exact sympy number (floats are dyadic rationals)."""
    if isinstance(x, bool):
        raise InvalidInputError(f"`{name}` must be a real number; got {x!r}.")
    if isinstance(x, sympy.Basic):
        e = sympy.sympify(x)
        if e.free_symbols or e.is_real is not True:
            raise InvalidInputError(f"`{name}` must be a real number; got {e}.")
        return sympy.Rational(e) if isinstance(e, sympy.Float) else e
    if isinstance(x, numbers.Integral):
        return sympy.Integer(int(x))
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, numbers.Real) and math.isfinite(float(x)):
        q = Fraction(float(x))
        return sympy.Rational(q.numerator, q.denominator)
    raise InvalidInputError(f"`{name}` must be a finite real number; got {x!r}.")


@dataclass(frozen=True)
class GaussianPolynomial:
    """``f(x) = sum_k coefficients[k] (x - center)^k exp(-rate (x - center)^2)`` on R.

    Numbers are stored exactly (floats as the dyadic rationals they are; sympy
    numbers such as ``sqrt(2)`` symbolically), so equal rates and centres are
    recognised exactly.

    Parameters
    ----------
    coefficients : sequence of real numbers
        Polynomial coefficients in powers of ``x - center``, constant first.
    rate : real number
        ``a > 0`` in ``exp(-a (x - c)^2)``.
    center : real number, default=0
        ``c``.

    Examples
    --------
    >>> g = GaussianPolynomial([0, 1], rate=0.5)  # x exp(-x^2/2), a Hermite function
    >>> g.parity
    1
    """

    coefficients: tuple[sympy.Expr, ...]
    rate: sympy.Expr
    center: sympy.Expr

    def __init__(self, coefficients: Sequence[Any], rate: Any, center: Any = 0) -> None:
        if isinstance(coefficients, (str, bytes)) or not isinstance(coefficients, Sequence):
            try:
                coefficients = list(coefficients)
            except TypeError:
                raise InvalidInputError(
                    "`coefficients` must be a sequence of real numbers (constant first); "
                    f"got {type(coefficients).__name__}."
                ) from None
        coeffs = tuple(_exact_number(c, f"coefficients[{k}]") for k, c in enumerate(coefficients))
        while coeffs and coeffs[-1] == 0:
            coeffs = coeffs[:-1]
        a = _exact_number(rate, "rate")
        if a.is_positive is not True:
            raise InvalidInputError(
                f"`rate` must be > 0 (the Gaussian exp(-rate (x - c)^2) must decay); got {a}."
            )
        object.__setattr__(self, "coefficients", coeffs)
        object.__setattr__(self, "rate", a)
        object.__setattr__(self, "center", _exact_number(center, "center"))

    @classmethod
    def hermite(
        cls, degree: int, *, rate: Any, scale: Any = 1, amplitude: Any = 1
    ) -> GaussianPolynomial:
        """``amplitude * H_degree(scale * x) * exp(-rate x^2)`` (physicists' Hermite H_k).

        The Gaussian-measure eigenfunctions of the Gaussian kernel have this form
        (Fasshauer and McCourt 2012): ``gamma_n exp(-delta^2 x^2) H_{n-1}(alpha beta x)``.

        Examples
        --------
        >>> GaussianPolynomial.hermite(2, rate=1).coefficients  # H_2(x) = 4x^2 - 2
        (-2, 0, 4)
        """
        k = check_int(degree, "degree", minimum=0, what="degree of the Hermite polynomial")
        s = _exact_number(scale, "scale")
        amp = _exact_number(amplitude, "amplitude")
        x = sympy.Symbol("x")
        poly = sympy.Poly(sympy.hermite_poly(k, x), x)
        coeffs = [sympy.simplify(amp * poly.coeff_monomial(x**j) * s**j) for j in range(k + 1)]
        return cls(coeffs, rate)

    @property
    def parity(self) -> int | None:
        """0 (even), 1 (odd) or None (mixed; the zero function counts as even)."""
        odd = any(c != 0 for c in self.coefficients[1::2])
        even = any(c != 0 for c in self.coefficients[0::2])
        if odd and even:
            return None
        return 1 if odd else 0

    def to_sympy(self, x: sympy.Symbol) -> sympy.Expr:
        """The closed form as a sympy expression in ``x``."""
        t = x - self.center
        poly = sum((c * t**k for k, c in enumerate(self.coefficients)), sympy.Integer(0))
        return poly * sympy.exp(-self.rate * t**2)


@dataclass(frozen=True)
class TensorProduct:
    """``f(x) = prod_j f_j(x_j)`` on R^d, each factor a 1-D function (or a sum of them)."""

    factors: tuple[tuple[GaussianPolynomial, ...], ...]

    def __init__(
        self, factors: Sequence[GaussianPolynomial | Sequence[GaussianPolynomial]]
    ) -> None:
        out = []
        for j, f in enumerate(factors):
            terms = (f,) if isinstance(f, GaussianPolynomial) else tuple(f)
            if not terms or not all(isinstance(t, GaussianPolynomial) for t in terms):
                raise InvalidInputError(
                    f"`factors[{j}]` must be a GaussianPolynomial or a non-empty sequence of them."
                )
            out.append(terms)
        if not out:
            raise InvalidInputError("`factors` must hold at least one factor; got none.")
        object.__setattr__(self, "factors", tuple(out))


@dataclass(frozen=True)
class BarronConstant:
    """The Barron constant of one function, or the reason it is unknown.

    Attributes
    ----------
    value : float or None
        An upper bound on C_f, rounded up (None: unknown).
    lower : float or None
        A lower bound on C_f, rounded down, when ``exact`` (None otherwise).
    exact : bool
        True when ``[lower, value]`` encloses C_f itself; False when ``value`` is
        only an upper bound (triangle inequality, tensor product).
    dimension : int
        d of the domain R^d (0 when the input was not understood).
    method : str
        How the value was obtained.
    reason : str
        Why the value is unknown, or why it is only an upper bound ("" otherwise).
    extension : str
        The extension convention (:data:`EXTENSION_CONVENTION`).
    """

    value: float | None
    lower: float | None
    exact: bool
    dimension: int
    method: str
    reason: str = ""
    extension: str = EXTENSION_CONVENTION

    @property
    def known(self) -> bool:
        """Whether an upper bound is available."""
        return self.value is not None

    def ball(self) -> arb:
        """A ball containing C_f: ``[lower, value]`` or ``[0, value]``; raises if unknown."""
        if self.value is None:
            raise InvalidInputError(f"the Barron constant is unknown: {self.reason}")
        lo = self.lower if (self.exact and self.lower is not None) else 0.0
        with ctx.workprec(WORKING_PRECISION):  # the union is exact at this precision
            return arb(lo).union(arb(self.value))


def _unknown(reason: str, dimension: int = 0) -> BarronConstant:
    return BarronConstant(None, None, False, dimension, "none", reason)


# --------------------------------------------------------------------------- 1-D core


def _hermite_polys(k: int) -> list[arb_poly]:
    """Physicists' Hermite polynomials H_0..H_k (exact integer coefficients)."""
    hs = [arb_poly([1])]
    if k >= 1:
        hs.append(arb_poly([0, 2]))
    for j in range(1, k):
        hs.append(arb_poly([0, 2]) * hs[j] - 2 * j * hs[j - 1])
    return hs


def _enclose_on(p: arb_poly, dp: arb_poly, u: arb, v: arb) -> arb:
    """Mean-value enclosure of p on [u, v]: p(mid) + p'([u, v]) [-h, h]."""
    mid = (u + v) / 2
    h = (v - u) / 2
    return p(mid) + dp(arb(mid, h)) * arb(0, h)


def _moment_pure(b: list[arb], mu: int) -> arb:
    """I = int_0^oo z^mu |s(z)| exp(-z^2) dz for the real polynomial s = sum_j b[j] z^j.

    ``b`` has exact zeros below its lowest nonzero coefficient (those are
    stripped into the power of z). Raises ArithmeticError when the sign
    structure cannot be certified.
    """
    while b and b[-1].is_zero():
        b = b[:-1]
    low = 0
    while low < len(b) and b[low].is_zero():
        low += 1
    if low == len(b):
        return arb(0)
    b = b[low:]
    mu += low
    lead = b[-1]
    if lead.contains(0):
        raise ArithmeticError("the leading coefficient of the Fourier polynomial encloses 0")
    s = arb_poly(b)
    ds = s.derivative()
    # Fujiwara's bound: every root of s has |z| <= 2 max_k |b_{n-k} / b_n|^(1/k), the
    # k = n term halved inside the root.
    n = len(b) - 1
    bound = arb(1)
    for k in range(1, n + 1):
        ratio = abs(b[n - k] / lead) / (2 if k == n else 1)
        if not ratio.is_zero():
            bound = bound.max(2 * ratio ** (arb(1) / k))
    top = 2.0 ** math.ceil(math.log2(up_float(bound)))
    tiny = top * 2.0**-_ROOT_WIDTH_BITS
    # Partition [0, top] into certified-sign intervals and tiny crude ones; [top, oo) has
    # the sign of the leading coefficient.
    pieces: list[tuple[float, float, int]] = []  # (u, v, sign); sign 0 = crude
    stack = [(0.0, top)]
    while stack:
        u, v = stack.pop()
        enc = _enclose_on(s, ds, arb(u), arb(v))
        if enc > 0 or enc < 0:
            pieces.append((u, v, 1 if enc > 0 else -1))
        elif v - u <= tiny:
            pieces.append((u, v, 0))
        else:
            m = (u + v) / 2  # exact: dyadic
            stack.append((m, v))
            stack.append((u, m))
    pieces.sort()
    sign_inf = 1 if lead > 0 else -1

    def moments(x: arb, upper: bool) -> list[arb]:
        # M_n(x) = int_0^x z^n e^{-z^2} dz = gamma((n+1)/2, x^2) / 2 (or the upper tail).
        x2 = x * x
        out = []
        for j in range(len(b)):
            order = arb(j + mu + 1) / 2
            g = x2.gamma_upper(order) if upper else x2.gamma_lower(order)
            out.append(g / 2)
        return out

    def run(u: float, v: float | None) -> arb:
        # int_u^v z^mu s(z) e^{-z^2} dz; v None means oo.
        if v is None:
            mu_u = moments(arb(u), upper=True)
            return sum((b[j] * mu_u[j] for j in range(len(b))), arb(0))
        lo = moments(arb(u), upper=False) if u > 0 else [arb(0)] * len(b)
        hi = moments(arb(v), upper=False)
        return sum((b[j] * (hi[j] - lo[j]) for j in range(len(b))), arb(0))

    total = arb(0)
    pieces.append((top, math.inf, sign_inf))
    k = 0
    while k < len(pieces):
        u, v, sg = pieces[k]
        if sg == 0:
            # Crude: [0, (v - u) sup z^mu |s| e^{-z^2}] over [u, v].
            sup = arb(v) ** mu * abs(_enclose_on(s, ds, arb(u), arb(v))) * (-(arb(u) ** 2)).exp()
            total += arb(0).union((arb(v) - arb(u)) * sup)
            k += 1
            continue
        j = k
        while j + 1 < len(pieces) and pieces[j + 1][2] == sg:
            j += 1
        end = pieces[j][1]
        total += sg * run(u, None if math.isinf(end) else end)
        k = j + 1
    return total


def _fourier_poly(coeffs: list[arb], rate: arb, parity: int) -> list[arb]:
    """Coefficients of s(z) with |f^(w)| = |s(z)| e^{-z^2} / (2 sqrt(pi a)), z = w / (2 sqrt a)."""
    hs = _hermite_polys(len(coeffs) - 1)
    scale = 1 / (2 * rate.sqrt())
    s = arb_poly([0])
    for k, c in enumerate(coeffs):
        if k % 2 != parity or c.is_zero():
            continue
        sign = -1 if ((k - parity) // 2) % 2 else 1
        s = s + hs[k] * (sign * c * scale**k)
    out = [s[j] for j in range(len(coeffs))]
    return out


def _group_moment(coeffs: list[arb], rate: arb, mu: int) -> tuple[arb, bool]:
    """int_R |w|^mu |f^(w)| dw for one Gaussian group; (enclosure, exact)."""
    parts = []
    for parity in (0, 1):
        if any(not c.is_zero() for c in coeffs[parity::2]):
            b = _fourier_poly(coeffs, rate, parity)
            inner = _moment_pure(b, mu)
            parts.append((2 * rate.sqrt()) ** mu / arb.pi().sqrt() * 2 * inner)
    if not parts:
        return arb(0), True
    total = sum(parts, arb(0))
    return total, len(parts) == 1


def _groups(terms: Sequence[GaussianPolynomial]) -> list[tuple[sympy.Expr, list[sympy.Expr]]]:
    """Terms with equal (rate, center) merged exactly; returns [(rate, coefficients)]."""
    merged: dict[tuple[sympy.Expr, sympy.Expr], list[sympy.Expr]] = {}
    for t in terms:
        key = (t.rate, t.center)
        acc = merged.setdefault(key, [])
        for k, c in enumerate(t.coefficients):
            if k < len(acc):
                acc[k] = acc[k] + c
            else:
                acc.append(c)
    out = []
    for (rate, _), coeffs in merged.items():
        while coeffs and sympy.simplify(coeffs[-1]) == 0:
            coeffs.pop()
        if coeffs:
            out.append((rate, coeffs))
    return out


def _moment_1d(terms: Sequence[GaussianPolynomial], mu: int, prec: int) -> tuple[arb, bool]:
    with ctx.workprec(prec):
        groups = _groups(terms)
        total = arb(0)
        exact = len(groups) <= 1
        for rate, coeffs in groups:
            value, ex = _group_moment([exact_ball(c) for c in coeffs], exact_ball(rate), mu)
            total += value
            exact = exact and ex
        return total, exact


def _adaptive(fn: Any, *args: Any) -> tuple[arb, bool]:
    """Run ``fn(*args, prec)`` at rising precision until the enclosure is tight."""
    last: tuple[arb, bool] | None = None
    for prec in _PRECISIONS:
        value, exact = fn(*args, prec)
        last = (value, exact)
        if value.is_finite() and (value.is_zero() or value.rel_accuracy_bits() >= _TARGET_BITS):
            return last
    assert last is not None
    return last


# --------------------------------------------------------------------------- sympy input


_BOUNDED_DOMAIN_REASON = (
    "the Barron constant of a function known only on a bounded domain (for instance the "
    "Brownian eigenfunction sqrt(2) sin((k - 1/2) pi x) on [0, 1]) depends on its extension "
    "to R^d, which certify does not choose; pass a closed form on R^d of the form "
    "polynomial x exp(-a (x - c)^2)"
)


def _from_sympy(expr: sympy.Expr, x: sympy.Symbol) -> list[GaussianPolynomial] | str:
    """Terms ``P_j(x) exp(q_j(x))`` with quadratic q_j, or the reason it is not of that form."""
    expanded = sympy.expand(expr, power_exp=False, log=False, multinomial=True, mul=True)
    terms: list[GaussianPolynomial] = []
    for term in sympy.Add.make_args(expanded):
        exponent = sympy.Integer(0)
        rest = sympy.Integer(1)
        for factor in sympy.Mul.make_args(term):
            if isinstance(factor, sympy.exp):
                exponent += factor.args[0]
            else:
                rest *= factor
        if not x.free_symbols & rest.free_symbols and exponent == 0:
            if rest == 0:
                continue
            return (
                f"the term {term} does not decay: the function is not integrable on R, so its "
                "Fourier transform is not a function; " + _BOUNDED_DOMAIN_REASON
            )
        if not rest.is_polynomial(x) or not sympy.sympify(exponent).is_polynomial(x):
            return f"the term {term} is not a polynomial times exp(quadratic); " + (
                _BOUNDED_DOMAIN_REASON
            )
        q = sympy.Poly(exponent, x)
        p = sympy.Poly(rest, x)
        if q.degree() != 2:
            return (
                f"the term {term} has no Gaussian factor exp(-a x^2) (exponent {exponent}): "
                "not integrable on R; " + _BOUNDED_DOMAIN_REASON
            )
        a = -q.coeff_monomial(x**2)
        bq = q.coeff_monomial(x)
        cq = q.coeff_monomial(1)
        if not all(c.is_real for c in (a, bq, cq)) or a.is_positive is not True:
            return f"the term {term} does not decay like exp(-a x^2) with real a > 0"
        if not all(c.is_real for c in p.all_coeffs()):
            return f"the term {term} has non-real coefficients"
        center = sympy.nsimplify(bq / (2 * a)) if isinstance(bq, sympy.Float) else bq / (2 * a)
        factor = sympy.exp(cq + bq**2 / (4 * a))
        t = sympy.Symbol("t")
        shifted = sympy.Poly(sympy.expand(p.as_expr().subs(x, t + center)), t)
        coeffs = [
            sympy.simplify(factor * shifted.coeff_monomial(t**k))
            for k in range(shifted.degree() + 1)
        ]
        terms.append(GaussianPolynomial(coeffs, a, center))
    return terms


# --------------------------------------------------------------------------- public


def barron_constant(f: Any, *, variable: sympy.Symbol | None = None) -> BarronConstant:
    """The Barron constant C_f = int |w| |f^(w)| dw, or the reason it is unknown (L3).

    Parameters
    ----------
    f : GaussianPolynomial, sequence of them, TensorProduct or sympy expression
        * a :class:`GaussianPolynomial` (or a sequence of them, summed) on R;
        * a :class:`TensorProduct` of such factors on R^d;
        * a sympy expression in one variable of the form
          ``sum_j P_j(x) exp(q_j(x))`` with ``q_j`` quadratic and decaying.
        Anything else (callables, arrays, functions on a bounded domain) gives an
        unknown constant with the reason.
    variable : sympy.Symbol, optional
        The variable of a sympy expression (default: its only free symbol).

    Returns
    -------
    BarronConstant
        ``value`` an upper bound on C_f rounded up (None when unknown), ``lower``
        and ``exact`` when the enclosure is of C_f itself, ``method`` and ``reason``.
        The extension convention is in the module docstring.

    Raises
    ------
    InvalidInputError
        A sympy expression with several free symbols and no ``variable``.

    Examples
    --------
    The Gaussian ``exp(-a x^2)`` has ``C_f = 2 sqrt(a / pi)``:

    >>> c = barron_constant(GaussianPolynomial([1], rate=1))
    >>> c.exact and c.lower <= 2 / math.sqrt(math.pi) <= c.value
    True
    >>> x = sympy.Symbol("x")
    >>> barron_constant(sympy.sqrt(2) * sympy.sin(sympy.pi * x / 2)).value is None
    True
    """
    if isinstance(f, TensorProduct):
        return _tensor(f)
    if isinstance(f, GaussianPolynomial):
        return _one_dimensional([f], "closed form")
    if isinstance(f, sympy.Basic):
        expr = sympy.sympify(f)
        free = expr.free_symbols
        if variable is None:
            if len(free) > 1:
                raise InvalidInputError(
                    f"`f` has free symbols {sorted(map(str, free))}: give `variable`, or pass a "
                    "TensorProduct for a product of one-dimensional factors."
                )
            variable = next(iter(free)) if free else sympy.Symbol("x")
        if free - {variable}:
            return _unknown(
                f"only one-dimensional sympy expressions are recognised; {expr} also depends on "
                f"{sorted(map(str, free - {variable}))} (pass a TensorProduct)"
            )
        terms = _from_sympy(expr, variable)
        if isinstance(terms, str):
            return _unknown(terms, 1)
        return _one_dimensional(terms, f"sympy expression {expr}")
    if isinstance(f, Sequence) and f and all(isinstance(t, GaussianPolynomial) for t in f):
        return _one_dimensional(list(f), "sum of closed forms")
    return _unknown(
        f"no closed-form Fourier data for a {type(f).__name__}: certify computes Barron constants "
        "only for (sums and tensor products of) polynomial x Gaussian functions on R^d, and "
        "reports every other function as unknown rather than estimating it"
    )


def _one_dimensional(terms: Sequence[GaussianPolynomial], source: str) -> BarronConstant:
    try:
        value, exact = _adaptive(_moment_1d, terms, 1)
    except ArithmeticError as exc:
        return _unknown(f"{source}: {exc}", 1)
    if not value.is_finite():
        return _unknown(f"{source}: the enclosure did not converge", 1)
    n_groups = len(_groups(terms))
    mixed = any(GaussianPolynomial(c, r).parity is None for r, c in _groups(terms))
    if exact:
        method = "closed form: sign-certified partition of the Fourier polynomial, incomplete gamma"
        reason = ""
    else:
        method = "upper bound: triangle inequality over pure-parity Gaussian groups"
        why = []
        if n_groups > 1:
            why.append(f"{n_groups} groups with different rates or centres")
        if mixed:
            why.append("a polynomial of mixed parity (split into even and odd parts)")
        reason = "only an upper bound: " + " and ".join(why)
    return BarronConstant(
        value=up_float(value),
        lower=down_float(value) if exact else None,
        exact=exact,
        dimension=1,
        method=f"{method} ({source})",
        reason=reason,
    )


def _tensor(f: TensorProduct) -> BarronConstant:
    d = len(f.factors)
    if d == 1:
        return _one_dimensional(f.factors[0], "tensor product with one factor")
    try:
        c = [_adaptive(_moment_1d, terms, 1) for terms in f.factors]
        l1 = [_adaptive(_moment_1d, terms, 0) for terms in f.factors]
    except ArithmeticError as exc:
        return _unknown(f"tensor product: {exc}", d)
    total = arb(0)
    for j in range(d):
        term = c[j][0]
        for k in range(d):
            if k != j:
                term *= l1[k][0]
        total += term
    if not total.is_finite():
        return _unknown("tensor product: the enclosure did not converge", d)
    return BarronConstant(
        value=up_float(total),
        lower=None,
        exact=False,
        dimension=d,
        method="upper bound: |w| <= |w|_1, C_f <= sum_j C_{f_j} prod_{k != j} ||f_k^||_1",
        reason="only an upper bound: the Euclidean norm |w| is bounded by the l1 norm",
    )


# --------------------------------------------------------------------------- Nystrom features

#: ``-kappa''(0) l^2`` of the radial profiles kappa(r) = k(|x|) (module docstring), by spec name.
_CURVATURE = {"gaussian": Fraction(1), "matern32": Fraction(3), "matern52": Fraction(5, 3)}
_CURVATURE_TEXT = {"gaussian": "D / l^2", "matern32": "3 D / l^2", "matern52": "5 D / (3 l^2)"}


@dataclass(frozen=True)
class SpectralMoment:
    """The second spectral moment ``M2 = int |w|^2 k^(w) dw`` of a stationary kernel, or why not.

    Attributes
    ----------
    value : float or None
        An upper bound on M2, rounded up (None: infinite or unknown).
    lower : float or None
        A lower bound on M2, rounded down (None when ``value`` is None).
    dimension : int
        D, the dimension of ``w``.
    formula : str
        The closed form used (``"D / l^2"``), "" when unknown.
    reason : str
        Why ``value`` is None ("" otherwise).
    """

    value: float | None
    lower: float | None
    dimension: int
    formula: str
    reason: str = ""

    @property
    def known(self) -> bool:
        """Whether M2 is finite and known."""
        return self.value is not None


def _moment_ball(kernel: Any, dim: int) -> tuple[arb | None, str, str]:
    """(ball containing M2 or None, formula, reason) at the current precision."""
    from certify.relations.kernels import Gaussian, Kernel, Laplace, Matern32, Matern52

    spec = getattr(kernel, "spec", repr(kernel))
    if isinstance(kernel, (Gaussian, Matern32, Matern52)):
        c = _CURVATURE[kernel.spec_name]
        ell = arb(float(kernel.lengthscale))
        value = arb(dim * c.numerator) / arb(c.denominator) / (ell * ell)
        return value, _CURVATURE_TEXT[kernel.spec_name], ""
    if isinstance(kernel, Laplace):
        return (
            None,
            "",
            f"{spec!r}: the Laplace kernel exp(-r / l) has kappa'(0) = -1/l != 0, so it is not "
            "twice differentiable at 0 and its second spectral moment int |w|^2 k^(w) dw is "
            "infinite (k^(w) decays like |w|^-(D+1)); kernel sums of it have no finite Barron "
            "constant in general (|w| k^(w) ~ |w|^-D is not integrable)",
        )
    if isinstance(kernel, Kernel) and kernel.spec_name == "periodic":
        return (
            None,
            "",
            f"{spec!r}: the periodic kernel is stationary but its spectral measure is discrete "
            "(a Fourier series), outside the Fourier-density convention of this module; not "
            "implemented",
        )
    return (
        None,
        "",
        f"{spec!r} is not a translation-invariant kernel with a known spectral density "
        "(Gaussian, Matern 3/2, Matern 5/2): its Nystrom features are not translates of one "
        "function, so the Cauchy-Schwarz bound sqrt(M2 G_ii) does not apply",
    )


def second_spectral_moment(kernel: Any, dim: int) -> SpectralMoment:
    """``M2 = int |w|^2 k^(w) dw = -Laplacian k(0)`` of a stationary kernel on R^dim (L4).

    With ``k(x) = int exp(i w.x) k^(w) dw`` (Bochner, ``k^ >= 0``) and ``k(x) =
    kappa(|x|)``, ``M2 <= -dim kappa''(0)`` (module docstring): ``dim / l^2`` (Gaussian),
    ``3 dim / l^2`` (Matern 3/2), ``5 dim / (3 l^2)`` (Matern 5/2). The Laplace kernel
    has ``M2 = oo``; kernels that are not stationary, and the periodic kernel (a
    discrete spectral measure), are unknown. Both are reported with the reason.

    Parameters
    ----------
    kernel : Relation
        A certify kernel (``Gaussian(lengthscale=l)``, ...).
    dim : int
        D >= 1.

    Returns
    -------
    SpectralMoment

    Raises
    ------
    InvalidInputError
        ``dim`` not an int >= 1, or a kernel fixed to another dimension.

    Examples
    --------
    >>> from certify.relations.kernels import Gaussian, Laplace
    >>> m = second_spectral_moment(Gaussian(lengthscale=0.5), 2)  # 2 / 0.5^2
    >>> m.lower <= 8.0 <= m.value, m.formula
    (True, 'D / l^2')
    >>> second_spectral_moment(Laplace(), 1).value is None
    True
    """
    d = check_int(dim, "dim", minimum=1, what="dimension D of the kernel's argument")
    own = getattr(kernel, "dim", None)
    if isinstance(own, int) and own != d:
        raise InvalidInputError(
            f"`dim` must match the kernel's dimension: {kernel.spec!r} is fixed to dim={own}; "
            f"got {d}."
        )
    with ctx.workprec(WORKING_PRECISION):
        value, formula, reason = _moment_ball(kernel, d)
        if value is None:
            return SpectralMoment(None, None, d, "", reason)
        return SpectralMoment(up_float(value), down_float(value), d, formula)


def box_radius(box: Any) -> float:
    """R of Barron's theorem for a box: half its diagonal, rounded up (L3, L4).

    Barron's bound ``2 R C_f / sqrt(n)`` holds for measures on a ball of radius R
    centred at 0. Translating the box's centre to 0 changes neither ``|f^|`` (so
    neither C_f) nor the class of sigmoidal networks (a shift of the input is
    absorbed by the biases), and the smallest ball containing a box has the box's
    half diagonal as radius.

    Parameters
    ----------
    box : Box

    Returns
    -------
    float
        ``sqrt(sum_k (upper_k - lower_k)^2) / 2``, rounded up.

    Raises
    ------
    InvalidInputError
        Not a :class:`~certify.relations.domains.Box`.

    Examples
    --------
    >>> from certify.relations.domains import Box
    >>> box_radius(Box([-1.0], [1.0])), box_radius(Box([0.0, 0.0], [3.0, 4.0]))
    (1.0, 2.5)
    """
    from certify.relations.domains import Box

    if not isinstance(box, Box):
        raise InvalidInputError(
            f"`box` must be a certify Box (the domain of the features); got {type(box).__name__}."
        )
    with ctx.workprec(WORKING_PRECISION):
        total = arb(0)
        for lo, hi in zip(box.lower, box.upper, strict=True):
            total += (arb(float(hi)) - arb(float(lo))) ** 2
        return up_float(total.sqrt() / 2)


def _gram_diagonal(features: Any, gram_diagonal: Any) -> tuple[list[arb], str]:
    """Balls containing upper bounds of G_ii = (C^T K C)_ii, and how they were obtained."""
    from certify.spectral.nystrom import PRECISION, L1PrimeCheck, _ArbGram

    m = features.output_dim
    if gram_diagonal is None:
        with ctx.workprec(PRECISION):
            gram_ = _ArbGram(features.relation, np.asarray(features.nodes))
            G = gram_.quadratic(np.asarray(features.coefficients))
            diag = [G[i, i] for i in range(m)]
        return diag, (
            f"G_ii = (C^T K C)_ii in arb ({PRECISION} bits) at the exact float nodes and "
            "coefficients"
        )
    if isinstance(gram_diagonal, L1PrimeCheck):
        check = gram_diagonal
        if not check.holds:
            raise InvalidInputError(
                "`gram_diagonal` is an L1PrimeCheck that does not hold, so it gives no bound "
                f"on G_ii ({check.details.get('reason', 'lambda_max(G) <= 1 not proven')}); "
                "pass gram_diagonal=None to enclose G_ii directly."
            )
        seen = (
            check.details.get("rank"),
            check.details.get("n_nodes"),
            check.details.get("shrink"),
        )
        want = (m, features.n_nodes, features.shrink)
        if seen != want:
            raise InvalidInputError(
                "`gram_diagonal` is the L1' check of other features: (rank, n_nodes, shrink) = "
                f"{seen}, the features have {want}."
            )
        upper = arb(float(check.lambda_max_upper))
        return [upper] * m, (
            f"G_ii <= lambda_max(G) <= {check.lambda_max_upper!r} (the L1' check, ball arithmetic)"
        )
    try:
        g = np.asarray(gram_diagonal, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "`gram_diagonal` must be None, an L1PrimeCheck, or a sequence of upper bounds on "
            f"G_ii; got {type(gram_diagonal).__name__}."
        ) from None
    if g.shape != (m,):
        raise InvalidInputError(
            f"`gram_diagonal` must hold one upper bound on G_ii per feature, shape ({m},); got "
            f"shape {g.shape}."
        )
    if not np.all(np.isfinite(g) & (g >= 0)):
        k = int(np.flatnonzero(~(np.isfinite(g) & (g >= 0)))[0])
        raise InvalidInputError(
            f"`gram_diagonal` must be finite and >= 0 (G_ii = ||g_i||_H^2); entry {k} is "
            f"{float(g[k])!r}."
        )
    return [arb(float(v)) for v in g], "G_ii bounded by the values given"


def _neg_laplacian(kernel: Any, dim: int) -> Any:
    """``r2 -> (-Laplacian k)`` at squared distance ``r2`` (a ball), for the kernels of M2."""
    ell = arb(float(kernel.lengthscale))
    name = kernel.spec_name
    if name == "gaussian":
        inv = 1 / (ell * ell)

        def gaussian(r2: arb) -> arb:
            return (dim * inv - r2 * inv * inv) * (-r2 * inv / 2).exp()

        return gaussian
    c = arb(3) if name == "matern32" else arb(5)
    scale = c / (ell * ell) if name == "matern32" else c / (3 * ell * ell)
    root = c.sqrt() / ell

    def matern(r2: arb) -> arb:
        t = root * r2.sqrt()
        poly = (dim - t) if name == "matern32" else (dim * (1 + t) - t * t)
        return scale * poly * (-t).exp()

    return matern


def _laplacian_diagonal(features: Any) -> list[arb]:
    """Balls containing ``H_ii = (C^T L C)_ii``, ``L_jl = (-Laplacian k)(n_j - n_l)``."""
    from certify.spectral.nystrom import PRECISION

    nodes = np.asarray(features.nodes)
    C = np.asarray(features.coefficients)
    n, dim = nodes.shape
    m = C.shape[1]
    with ctx.workprec(PRECISION):
        f = _neg_laplacian(features.relation, dim)
        balls = [[arb(float(v)) for v in row] for row in nodes]
        rows: list[list[Any]] = [[None] * n for _ in range(n)]
        for j in range(n):
            for k in range(j, n):
                r2 = arb(0)
                for a in range(dim):
                    diff = balls[j][a] - balls[k][a]
                    r2 += diff * diff
                v = f(r2)
                rows[j][k] = v
                rows[k][j] = v
        L = arb_mat(rows)
        Cm = arb_mat(C.tolist())
        LC = L * Cm
        out = []
        for i in range(m):
            total = arb(0)
            for j in range(n):
                total += Cm[j, i] * LC[j, i]
            out.append(total)
    return out


def nystrom_barron_constants(features: Any, *, gram_diagonal: Any = None) -> list[BarronConstant]:
    """Upper bounds on the Barron constants ``C_{F_i}`` of Nystrom features (L3, L4).

    For ``F_i(x) = sum_j C_ji k(x - n_j)`` with a stationary kernel k (module
    docstring, "Nystrom features"), two Cauchy-Schwarz splits of
    ``int |w| k^(w) |S_i(w)| dw`` give

        C_{F_i}  <=  min{ sqrt(M2 G_ii), sqrt(k(0) H_ii) },

    ``M2`` the second spectral moment (:func:`second_spectral_moment`), ``G_ii =
    (C^T K C)_ii`` the squared RKHS norm of ``g_i = sum_j C_ji k(., n_j)`` and ``H_ii =
    (C^T L C)_ii`` with ``L_jl = (-Laplacian k)(n_j - n_l)``. Everything is evaluated in
    ball arithmetic and rounded up. These are constants of the features ``F_i =
    sqrt(lambda_i) e_i``; L4's ``C_i`` of the eigenfunctions is ``C_{F_i} /
    sqrt(lambda_i)``.

    Parameters
    ----------
    features : NystromFeatures
        From :meth:`~certify.spectral.NystromFeatures.from_mercer` (or built directly).
    gram_diagonal : None, L1PrimeCheck or array-like of shape (m,), default=None
        How ``G_ii`` is bounded. None: enclosed in arb from the exact float nodes and
        coefficients (one ball evaluation of the n x n kernel matrix, as in
        :func:`~certify.spectral.certify_l1_prime`). An :class:`L1PrimeCheck` of these
        features that holds: ``G_ii <= lambda_max(G) <= lambda_max_upper <= 1`` (no
        extra work; for the certified features ``G = s^2 I`` up to round-off, so this
        loses nothing visible). An array: upper bounds on ``G_ii`` supplied by the
        caller. ``H`` is always enclosed in arb (one n x n ball matrix).

    Returns
    -------
    list of BarronConstant
        One per feature: ``value`` an upper bound (``exact=False``; ``method`` gives both
        bounds), or None with the reason when M2 is infinite or unknown (Laplace,
        non-stationary kernels).

    Raises
    ------
    InvalidInputError
        ``features`` not :class:`NystromFeatures`; a ``gram_diagonal`` of the wrong
        shape, negative or non-finite, or an L1' check that does not hold or belongs
        to other features.

    Examples
    --------
    >>> from certify.spectral import NystromFeatures, mercer
    >>> F = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=3)
    >>> c = nystrom_barron_constants(F)
    >>> all(b.value <= 2.0 for b in c)  # sqrt(M2 G_ii) = sqrt(4 (1 - 2e-9)) < 2
    True
    >>> c[0].exact, "Cauchy-Schwarz" in c[0].method
    (False, True)
    """
    from certify.spectral.nystrom import NystromFeatures

    if not isinstance(features, NystromFeatures):
        raise InvalidInputError(
            "`features` must be NystromFeatures (NystromFeatures.from_mercer(...)); got "
            f"{type(features).__name__}."
        )
    m, dim = features.output_dim, features.input_dim
    spec = features.relation.spec
    with ctx.workprec(WORKING_PRECISION):
        moment, formula, reason = _moment_ball(features.relation, dim)
    if moment is None:
        return [_unknown(f"Nystrom feature {i + 1}: {reason}", dim) for i in range(m)]
    diag, how = _gram_diagonal(features, gram_diagonal)
    lap = _laplacian_diagonal(features)
    out = []
    with ctx.workprec(WORKING_PRECISION):
        m2 = up_float(moment)
        for i in range(m):
            g_up = up_float(diag[i])
            h_up = up_float(lap[i])
            # G_ii, H_ii >= 0 (squared norms): a ball's negative part is dropped
            b1 = up_float((arb(m2) * arb(max(g_up, 0.0))).sqrt())
            b2 = up_float(arb(max(h_up, 0.0)).sqrt())  # k(0) = 1
            value = min(b1, b2)
            if not math.isfinite(value):
                out.append(_unknown(f"Nystrom feature {i + 1}: G_ii, H_ii not enclosed", dim))
                continue
            out.append(
                BarronConstant(
                    value=value,
                    lower=None,
                    exact=False,
                    dimension=dim,
                    method=(
                        "upper bound: Cauchy-Schwarz on the spectral measure k^(w) dw, "
                        f"C_F <= min(sqrt(M2 G_ii), sqrt(k(0) H_ii)) = min({b1!r}, {b2!r}) with "
                        f"M2 = {formula} <= {m2!r} ({spec}, D = {dim}), {how} (G_{i + 1},{i + 1} "
                        f"<= {g_up!r}), H = C^T L C in arb, L_jl = -Laplacian k(n_j - n_l) "
                        f"(H_{i + 1},{i + 1} <= {h_up!r})"
                    ),
                    reason=(
                        "only an upper bound: Cauchy-Schwarz, tight only when |S_i(w)| is "
                        "proportional to |w| (first split) or constant (second split)"
                    ),
                )
            )
    return out
