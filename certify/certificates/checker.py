"""The independent certificate checker (``certify verify``).

DESIGN.md, "Certificates: what the words mean": the checker is a separate code path
in python-flint ``arb`` balls. It re-evaluates the stored witness over the stored
cover and recomputes the claim, trusting no stored number. It shares no evaluation
code with the enclosure engine: relations and networks are evaluated by
:mod:`certify.certificates.arb_models` (never by ``certify._kernels``,
``certify.networks`` or a relation's float methods).

What :func:`verify` does
------------------------
1. Load the file (:meth:`Certificate.load`: JSON, schema id and schema, digest,
   decimal/hex agreement, sidecar hashes). Any failure: MALFORMED, exit 2.
2. Rebuild each part's leaf boxes from its root box and its bisection tree. The
   reconstruction itself guarantees that the leaves partition the root box; a tree
   with wrong counts or a split outside its box is MALFORMED. Each root box must be
   *equal* to the instance's domain (X x Y, X or Y by the part's function), else the
   claim is NOT_CONFIRMED (a cover of a smaller box proves nothing about the domain).
3. On every leaf B, enclose f in the mean-value form ``f(c) + grad f(B) . (B - c)``
   (c the centre, Clarke gradients at kinks) intersected with the direct ball
   evaluation ``f(B)``; for ``|vector|`` parts each component is enclosed that way and
   the norm is ``sqrt(sum of squares)``. The networks' outputs over B are themselves
   the intersection of the layer-by-layer enclosure and their own mean-value form, and
   products of two wide balls are taken as interval products
   (:func:`certify.certificates.arb_models.imul`), which makes the checker as tight as
   the engine on the engine's leaves (for the residual over X x Y this precise form is
   tried on a leaf only when the same form with ball products, eight times faster at
   512 features, misses the stated bound). Exceptions: the diagonal residual
   ``r(x, x) - |F(x)|^2`` of Gaussian Nystrom features F (lemma L1) is enclosed by a
   Taylor model of order p of F (:class:`_NystromDiagonalResidual`), which keeps the
   cancellation between r(x, x) and |F(x)|^2 that the mean-value form loses (there the
   mean-value form needs boxes ~100 times smaller); and the feature gap ``|F(x) - phi(x)|``
   of Gaussian Nystrom features F and a one-hidden-layer tanh MLP phi (lemma L2's Delta)
   is bounded from Taylor models of both maps with the same exponents
   (:class:`_TaylorGap`: the difference of the coefficient matrices keeps the cancellation
   between F and a phi fitted to it; :meth:`ArbMLP.tanh_taylor`). The part's bound is the
   largest leaf bound. A leaf whose bound exceeds the part's stored ``upper`` is bisected
   further by the checker (at most ``refine_depth`` levels, ``refine_budget`` sub-boxes per
   part): any finer partition is an equally valid proof, so this only removes false alarms.
4. Combine the part bounds by the route (THEORY.md): ``direct``: u = U(e);
   ``L1``: u = U(diagonal residual), *conditional* on the hypothesis "r - <phi, phi>
   is PSD"; ``L2``: u = e0 + SF Dpsi + Dphi (SG + Dpsi); ``L2S`` (lemma L2, symmetric,
   on lemma L1 for Nystrom features F): u = T + 2 sqrt(kappa) Delta + Delta^2 with
   T = U(diagonal residual of F), Delta = U(|F - phi|), kappa = U(r(x, x)),
   *conditional* on "r - <F, F> is PSD"; all in ball arithmetic.
5. Re-evaluate |f| at every part's point and |e| at the claim's witness point
   (points are balls of radius 0) and compare with the stored lower bounds.
6. Decide. Every number the certificate states must be confirmed, with no slack:

   * every stored lower bound l (claim and parts) must satisfy ``l <= |f(point)|``
     for the lower end of the ball (if even the upper end is < l, the certificate
     is REFUTED);
   * every stored upper bound (claim and parts) must be >= the checker's bound;
   * every hypothesis must carry a justification a registered verifier accepts
     (otherwise NOT_CONFIRMED: "asserted, not proven"). The default table knows
     ``nystrom-l1prime`` (lemma L1', :func:`verify_nystrom_l1prime`): the features
     are Nystrom features of the instance's kernel with lambda_max(C^T K C) <= 1,
     proven by a ball LDL^T. An MLP phi cannot be justified this way;
   * HOLDS: the checker's u <= stored upper <= eps. REFUTED if a stored point shows
     |e| > eps (lower end of the ball);
   * VIOLATED: the lower end of |e(witness point)| > eps. REFUTED if the upper end
     is <= eps (the point does not violate);
   * UNKNOWN claims only its enclosure ``lower <= sup |e| <= upper``: it is
     CONFIRMED when that enclosure is (both bullets above), whatever eps is.

Exit codes: CONFIRMED 0, REFUTED 1, NOT_CONFIRMED 1, MALFORMED 2.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flint import arb, arb_mat, ctx

from certify._rigorous import lower_float, upper_float
from certify.certificates.arb_models import (
    CHECK_PRECISION,
    NYSTROM_FORMAT,
    ArbFeatureMap,
    ArbMLP,
    ArbNystrom,
    ArbRelation,
    NotCheckableError,
    _ArbGaussian,
    arb_features,
    arb_relation,
    idot,
    interval_ball,
    multi_indices,
)
from certify.certificates.record import (
    Certificate,
    Hypothesis,
    Part,
    Sidecar,
    format_bound,
    l1_hypothesis,
)
from certify.errors import CertificateError, CertifyError
from certify.relations.domains import Box
from certify.relations.kernels import Kernel
from certify.relations.spec import parse_domain, parse_relation

__all__ = [
    "JUSTIFICATION_VERIFIERS",
    "CheckResult",
    "JustificationVerifier",
    "check",
    "cover_leaves",
    "verify",
    "verify_nystrom_l1prime",
]

#: A verifier of a hypothesis' justification: returns (proven, one-line explanation).
JustificationVerifier = Callable[[Certificate, Hypothesis], tuple[bool, str]]

#: Justification kinds this checker can verify, by ``justification["kind"]``; defined at
#: the end of this module (``"nystrom-l1prime"``: lemma L1', :func:`verify_nystrom_l1prime`).
#: Pass ``justification_verifiers=`` to :func:`verify` to replace or extend it.
JUSTIFICATION_VERIFIERS: Mapping[str, JustificationVerifier]

STATUS_EXIT = {"CONFIRMED": 0, "REFUTED": 1, "NOT_CONFIRMED": 1, "MALFORMED": 2}

_PROGRESS_MIN_LEAVES = 1000
_NETWORK_SIDE = {"phi": "x", "F": "x", "psi": "y", "G": "y"}


@dataclass(frozen=True)
class CheckResult:
    """The checker's answer.

    Attributes
    ----------
    status : {"CONFIRMED", "REFUTED", "NOT_CONFIRMED", "MALFORMED"}
    exit_code : int
        0, 1, 1, 2 respectively (the exit code of ``certify verify``).
    reason : str
        One line.
    checked_upper : float
        The upper bound of sup |e| the checker proved itself, rounded up to a float
        (``inf`` when it proved none, e.g. a malformed file or an unproven hypothesis).
    checked_lower : float
        The lower bound the checker confirmed at the stored points, rounded down (0 if none).
    details : dict
        Per-part bounds, leaf counts, leaves/second, the file's sha256, every failure.
    """

    status: str
    exit_code: int
    reason: str
    checked_upper: float
    checked_lower: float
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def confirmed(self) -> bool:
        return self.status == "CONFIRMED"


def _malformed(reason: str, details: dict[str, Any] | None = None) -> CheckResult:
    return CheckResult("MALFORMED", 2, _one_line(reason), math.inf, 0.0, details or {})


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- covers -------------------------------------------------------------------------------------
Leaf = tuple[tuple[float, ...], tuple[float, ...]]


def cover_leaves(
    lower: Sequence[float], upper: Sequence[float], tree: Sequence[int], splits: Sequence[float]
) -> list[Leaf]:
    """The leaf boxes of a preorder bisection tree over the root box ``[lower, upper]``.

    ``tree``: -1 = leaf, k >= 0 = split along coordinate k at the next value of
    ``splits``; the children are ``[lo, s]`` then ``[s, hi]`` along k. By construction
    the leaves partition the root box (they overlap only on faces).

    Raises
    ------
    CertificateError
        A coordinate out of range, a split value not strictly inside its box, or a
        tree / split count that does not add up.

    Examples
    --------
    >>> cover_leaves([0.0, 0.0], [1.0, 1.0], [0, -1, 1, -1, -1], [0.5, 0.25])
    [((0.0, 0.0), (0.5, 1.0)), ((0.5, 0.0), (1.0, 0.25)), ((0.5, 0.25), (1.0, 1.0))]
    """
    dim = len(lower)
    leaves: list[Leaf] = []
    stack: list[tuple[list[float], list[float]]] = [(list(lower), list(upper))]
    pos = spos = 0
    n_tree, n_splits = len(tree), len(splits)
    while stack:
        if pos >= n_tree:
            raise CertificateError(
                f"cover tree ends after {n_tree} entries with {len(stack)} box(es) unexpanded"
            )
        lo, hi = stack.pop()
        k = tree[pos]
        pos += 1
        if k == -1:
            leaves.append((tuple(lo), tuple(hi)))
            continue
        if not 0 <= k < dim:
            raise CertificateError(
                f"cover tree entry {pos - 1} splits coordinate {k}, but the box has {dim}"
            )
        if spos >= n_splits:
            raise CertificateError(f"cover has {n_splits} split values, the tree needs more")
        s = splits[spos]
        spos += 1
        if not lo[k] < s < hi[k]:
            raise CertificateError(
                f"split {spos - 1} (value {s!r} along coordinate {k}) lies outside its box "
                f"[{lo[k]!r}, {hi[k]!r}]"
            )
        left_hi = list(hi)
        left_hi[k] = s
        right_lo = list(lo)
        right_lo[k] = s
        stack.append((right_lo, hi))
        stack.append((lo, left_hi))  # popped first: preorder visits [lo, s] first
    if pos != n_tree:
        raise CertificateError(
            f"cover tree has {n_tree - pos} entries after its last leaf (malformed preorder)"
        )
    if spos != n_splits:
        raise CertificateError(
            f"cover has {n_splits} split values but the tree has {spos} internal nodes"
        )
    return leaves


# --- the functions of the parts ------------------------------------------------------------------
_POS_INF = arb(math.inf)


def _sup_abs(enclosure: arb) -> arb:
    """An exact upper bound of |t| over the ball (+inf when not finite)."""
    if not enclosure.is_finite():
        return _POS_INF
    return enclosure.abs_upper()


def _intersect(a: arb, b: arb) -> arb:
    if not a.is_finite():
        return b
    if not b.is_finite():
        return a
    return a.intersection(b)


def _dot(u: Sequence[arb], v: Sequence[arb]) -> arb:
    return idot(u, v)


def _ball_dot(u: Sequence[arb], v: Sequence[arb]) -> arb:
    """sum_i u_i v_i with ball products, in one arb_mat product (~8x faster than :func:`_dot`
    at length 512). A ball product encloses the interval product; it is wider by about
    2 r_u r_v per term, which only matters when both balls are wide."""
    n = len(u)
    if n == 0:
        return arb(0)
    out: arb = (arb_mat(1, n, list(u)) * arb_mat(n, 1, list(v)))[0, 0]
    return out


def _jt_vector(
    jac: arb_mat, v: Sequence[arb], dot: Callable[[Sequence[arb], Sequence[arb]], arb] = _dot
) -> list[arb]:
    """J^T v (J of shape (m, n), v of length m); interval products unless ``dot`` says."""
    m, n = jac.nrows(), jac.ncols()
    flat = jac.entries()
    return [dot([flat[i * n + j] for i in range(m)], v) for j in range(n)]


def _sqr(a: arb) -> arb:
    if a.is_exact() or not a.is_finite():
        return a * a
    lo, hi = a.abs_lower(), a.abs_upper()
    return (lo * lo).union(hi * hi)


def _norm(components: Sequence[arb]) -> arb:
    total = arb(0)
    for c in components:
        total += _sqr(c)
    return total.nonnegative_part().sqrt()


def _symmetric(bound: arb) -> arb:
    """The ball [-b, b], b the upper end of |bound| (infinite when not finite)."""
    b = _sup_abs(bound)
    return b.union(-b)


def _monomial(hs: Sequence[arb], beta: Sequence[int]) -> arb:
    """h^beta: the sup of |(x - c)^beta| over the box c +- h."""
    out = arb(1)
    for h, e in zip(hs, beta, strict=True):
        if e:
            out = out * h**e
    return out


def _centres(balls: Sequence[arb]) -> tuple[list[arb], list[arb]]:
    """Exact centres c (inside each interval) and the offsets B - c."""
    cs = [b.mid() for b in balls]
    return cs, [b - c for b, c in zip(balls, cs, strict=True)]


class _PartFunction:
    """f of one part: ``sup_abs(box)`` bounds sup |f| over a box; ``abs_at(point)`` encloses |f|."""

    dim: int

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        raise NotImplementedError  # pragma: no cover

    def sup_abs_precise(self, balls: Sequence[arb]) -> arb:
        """A bound at least as tight as :meth:`sup_abs`, tried before a leaf is bisected."""
        return self.sup_abs(balls)

    def abs_at(self, point: Sequence[arb]) -> arb:
        raise NotImplementedError  # pragma: no cover


#: The most ball numbers that :class:`_Residual` keeps in its cache of network enclosures.
_ENCLOSURE_CACHE_BALLS = 1_000_000


class _Residual(_PartFunction):
    """f(x, y) = r(x, y) - <a(x), b(y)> on X x Y (coordinates x then y).

    The networks' enclosures over the x- and y-intervals of a leaf are cached (keyed by
    the exact midpoints and radii of the balls, so only identical boxes share an entry):
    sibling leaves of the bisection tree share one of their two intervals, and for
    phi = psi a leaf on the diagonal has the same interval on both sides. On the Brownian
    instance of proofs/ (a 512-unit ReLU network) this evaluates the network on about a
    third as many boxes. Re-using the result of a deterministic evaluation on the same
    input changes no number the checker computes.
    """

    def __init__(self, relation: ArbRelation, a: ArbFeatureMap, b: ArbFeatureMap) -> None:
        self.relation, self.a, self.b = relation, a, b
        self.dx = a.in_dim
        self.dim = a.in_dim + b.in_dim
        self._cache: OrderedDict[tuple[int, tuple[Any, ...]], Any] = OrderedDict()
        self._cache_size = max(16, _ENCLOSURE_CACHE_BALLS // max(a.out_dim, b.out_dim, 1))

    def _enclose(self, net: ArbFeatureMap, balls: Sequence[arb]) -> Any:
        key = (id(net), tuple((x.mid().man_exp(), x.rad().man_exp()) for x in balls))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        value = net.enclose(balls)
        self._cache[key] = value
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value

    def value(self, point: Sequence[arb]) -> arb:
        xs, ys = point[: self.dx], point[self.dx :]
        return self.relation.value(xs, ys) - _dot(self.a.forward(xs), self.b.forward(ys))

    def abs_at(self, point: Sequence[arb]) -> arb:
        return abs(self.value(point))

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        """The mean-value form with ball products (fast); see :meth:`sup_abs_precise`."""
        return self._mean_value(balls, _ball_dot)

    def sup_abs_precise(self, balls: Sequence[arb]) -> arb:
        """The same with interval products of the wide balls (features and Jacobians over
        the leaf), as tight as the engine's form; tried only on leaves whose fast bound
        misses the stated one (on the Brownian instance of proofs/ the fast form confirms
        almost every leaf, and the whole check is ~3x faster)."""
        return self._mean_value(balls, _dot)

    def _mean_value(
        self, balls: Sequence[arb], dot: Callable[[Sequence[arb], Sequence[arb]], arb]
    ) -> arb:
        xs, ys = balls[: self.dx], balls[self.dx :]
        cs, hs = _centres(balls)
        av, ja, ac = self._enclose(self.a, xs)
        bv, jb, bc = self._enclose(self.b, ys)
        rv, grx, gry = self.relation.value_grad(xs, ys)
        direct = rv - dot(av, bv)
        ja_b = _jt_vector(ja, bv, dot)  # grad_x <a(x), b(y)> = Ja^T b
        jb_a = _jt_vector(jb, av, dot)
        grad = [g - t for g, t in zip(grx, ja_b, strict=True)]
        grad += [g - t for g, t in zip(gry, jb_a, strict=True)]
        # the centre values are narrow balls: ball products lose nothing there
        centre = self.relation.value(cs[: self.dx], cs[self.dx :]) - _ball_dot(ac, bc)
        mv = centre + _dot(grad, hs)
        return _sup_abs(_intersect(mv, direct))


class _DiagonalResidual(_PartFunction):
    """f(x) = r(x, x) - |a(x)|^2 on X (lemma L1)."""

    def __init__(self, relation: ArbRelation, a: ArbFeatureMap) -> None:
        self.relation, self.a = relation, a
        self.dim = a.in_dim

    def value(self, point: Sequence[arb]) -> arb:
        av = self.a.forward(point)
        return self.relation.diagonal(point) - _dot(av, av)

    def abs_at(self, point: Sequence[arb]) -> arb:
        return abs(self.value(point))

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        cs, hs = _centres(balls)
        av, ja, ac = self.a.enclose(balls)
        rv, gr = self.relation.diagonal_grad(balls)
        direct = rv - sum((_sqr(v) for v in av), arb(0))
        ja_a = _jt_vector(ja, av)
        grad = [g - 2 * t for g, t in zip(gr, ja_a, strict=True)]
        mv = self.relation.diagonal(cs) - _dot(ac, ac) + _dot(grad, hs)
        return _sup_abs(_intersect(mv, direct))


def _square_tables(
    dim: int, order: int
) -> tuple[list[tuple[int, int, int, bool]], list[tuple[int, ...]], list[bool]]:
    """How the coefficients of ``sum_i P_i^2`` gather from ``M = A^T A`` (P_i of order p).

    Returns ``(pairs, squares, even)``: ``squares`` are the exponents of degree <= 2p,
    ``even[k]`` whether every exponent of ``squares[k]`` is even, and ``(i, j, k, twice)``
    in ``pairs`` says that ``M[i, j]`` enters the coefficient of ``squares[k]`` (exponents
    ``i`` and ``j`` of ``multi_indices(dim, order)`` add up to it), twice off the diagonal
    (only j >= i is listed; M is symmetric).
    """
    exponents = multi_indices(dim, order)
    squares = multi_indices(dim, 2 * order)
    where = {beta: k for k, beta in enumerate(squares)}
    pairs = [
        (i, j, where[tuple(u + v for u, v in zip(ai, aj, strict=True))], i != j)
        for i, ai in enumerate(exponents)
        for j, aj in enumerate(exponents)
        if j >= i
    ]
    return pairs, squares, [all(e % 2 == 0 for e in beta) for beta in squares]


def _square_coefficients(
    A: arb_mat, pairs: Sequence[tuple[int, int, int, bool]], n_squares: int
) -> list[arb]:
    """The coefficients ``Q_beta = sum_(alpha + alpha' = beta) (A^T A)[alpha, alpha']``."""
    n_alpha = A.ncols()
    M = (A.transpose() * A).entries()
    q = [arb(0)] * n_squares
    for i, j, target, twice in pairs:
        v = M[i * n_alpha + j]
        q[target] += 2 * v if twice else v
    return q


#: Order p of the checker's Taylor models of Gaussian Nystrom features, by input dimension.
#: Measured on the Gaussian kernel of lengthscale 0.5 on [-1, 1]^2 with d = 49 Nystrom
#: features (tests/certificates/test_checker_taylor.py), covering the square at 1e-3 by a
#: uniform grid: p = 3 fails even with 24 x 24 boxes (1.35e-3), p = 4 needs 24 x 24, p = 5
#: 16 x 16, p = 6 and p = 7 need 12 x 12 (worst bounds 9.79e-4 and 9.64e-4; the sampled max
#: of f is 9.54e-4), and p = 6 is the fastest of all (~2.7 s against 3.3 s for p = 7 and 4 s
#: for p = 5). The slack is the remainder: its per-node balls do not cancel under C, and it
#: shrinks by ~h per order. In 3-D the cost grows as binom(p + 3, 3); p = 5 there is a
#: guess, not a measurement.
_TAYLOR_ORDERS = MappingProxyType({1: 6, 2: 6})
_TAYLOR_ORDER_DEFAULT = 5

#: Order p of the Taylor models of the feature gap |F - phi| (Gaussian Nystrom features F,
#: one-hidden-layer tanh phi; :class:`_TaylorGap`), by input dimension. Measured with F the
#: d = 47 features of the Gaussian (l = 0.5) on [-1, 1]^2 (Chebyshev measure, 576 nodes)
#: and phi a ridge fit of 400 or 800 tanh units (sup |F - phi| = 1.9e-4 and 3.2e-5), on 24
#: random boxes per half-width 1/k: the worst bound drops below the sampled sup of the
#: whole square at k ~ 19 and 17 for p = 6, at k ~ 15 and 14 for p = 7, so p = 7 needs
#: ~0.7 times the boxes at ~1.2 times the cost per box (N = 800: 52 against 42 ms); p = 8
#: gains no more (the polynomial part then dominates). The tanh remainder dominates
#: (~30 times the Gaussian one). In 1-D (d = 9, 100 units) p = 6, 7, 8 give the same
#: bounds on boxes small enough to certify, so p stays 6 there.
_GAP_TAYLOR_ORDERS = MappingProxyType({1: 6, 2: 7})


class _NystromDiagonalResidual(_DiagonalResidual):
    """f(x) = r(x, x) - |F(x)|^2 for Gaussian Nystrom features F (lemma L1), by Taylor models.

    The mean-value form of :class:`_DiagonalResidual` loses the cancellation between
    r(x, x) and |F(x)|^2 (both ~1, their difference ~1e-3). Here, over a box B = c +- h,
    ``F_i(x) = P_i(x - c) + R_i(x)`` with ``|R_i| <= rho_i`` on B
    (:meth:`ArbNystrom.gaussian_taylor`, order p), so ``|F(x)|^2 = Q(x - c) + E(x)`` with
    ``Q = sum_i P_i^2`` (degree 2p, all its coefficients kept, summed over i coefficient by
    coefficient: ``Q_beta = sum_(alpha + alpha' = beta) M[alpha, alpha']``, ``M = A^T A``,
    A the m x n_alpha coefficient matrix) and ``|E| <= sum_i rho_i (2 sup_B |P_i| + rho_i)``,
    ``sup_B |P_i| <= sum_alpha |A_(i, alpha)| h^alpha``. The cancellation happens in the
    tight balls Q_beta. The range of ``r(x, x) - Q(x - c)`` over B is bounded term by term:
    ``(x - c)^beta`` ranges over ``[-h^beta, h^beta]``, or ``[0, h^beta]`` when every
    exponent of beta is even.

    The mean-value / direct enclosure of the parent class is only the fallback for a
    Taylor enclosure that is not finite: on 60 random boxes of half-widths 1e-3..0.2 (1-D
    and 2-D test instances) it was never tighter, and it costs as much again per leaf.
    """

    def __init__(self, relation: ArbRelation, a: ArbNystrom, *, order: int | None = None) -> None:
        super().__init__(relation, a)
        self.features = a
        if order is None:
            order = _TAYLOR_ORDERS.get(a.in_dim, _TAYLOR_ORDER_DEFAULT)
        self.order = order
        self._pairs, self._squares, self._even = _square_tables(a.in_dim, order)

    def taylor_enclosure(self, balls: Sequence[arb]) -> arb:
        """An enclosure of f over the box ``balls`` by the Taylor model (class docstring)."""
        tm = self.features.gaussian_taylor(balls, self.order)
        A = tm.coefficients
        n_alpha = A.ncols()
        hs = tm.half_widths
        powers = [_monomial(hs, alpha) for alpha in tm.exponents]
        flat = A.entries()
        error = arb(0)
        for i, rho in enumerate(tm.remainder):
            size = arb(0)
            for c, hp in zip(flat[i * n_alpha : (i + 1) * n_alpha], powers, strict=True):
                size += _sup_abs(c) * hp
            error += rho * (2 * size + rho)
        q = _square_coefficients(A, self._pairs, len(self._squares))
        total = self.relation.diagonal(balls) - q[0]
        for beta, coef, even in zip(self._squares[1:], q[1:], self._even[1:], strict=True):
            span = coef * _monomial(hs, beta)
            total -= span.union(arb(0)) if even else _symmetric(span)
        return total - _symmetric(error)

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        taylor = self.taylor_enclosure(balls)
        if taylor.is_finite():
            return _sup_abs(taylor)
        return super().sup_abs(balls)


class _Diagonal(_PartFunction):
    """f(x) = r(x, x) on X (kappa of lemma L2: sup_x r(x, x))."""

    def __init__(self, relation: ArbRelation, dim: int) -> None:
        self.relation = relation
        self.dim = dim

    def abs_at(self, point: Sequence[arb]) -> arb:
        return abs(self.relation.diagonal(point))

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        cs, hs = _centres(balls)
        direct, grad = self.relation.diagonal_grad(balls)
        mv = self.relation.diagonal(cs) + _dot(grad, hs)
        return _sup_abs(_intersect(mv, direct))


class _VectorNorm(_PartFunction):
    """f(x) = |a(x) - b(x)|_2 (feature gap) or |a(x)|_2 (feature norm, b = None)."""

    def __init__(self, a: ArbFeatureMap, b: ArbFeatureMap | None) -> None:
        self.a, self.b = a, b
        self.dim = a.in_dim

    def _components(self, point: Sequence[arb]) -> list[arb]:
        av = self.a.forward(point)
        if self.b is None:
            return av
        return [u - v for u, v in zip(av, self.b.forward(point), strict=True)]

    def abs_at(self, point: Sequence[arb]) -> arb:
        return _norm(self._components(point))

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        _, hs = _centres(balls)
        av, ja, centre = self.a.enclose(balls)
        if self.b is not None:
            bv, jb, bc = self.b.enclose(balls)
            av = [u - v for u, v in zip(av, bv, strict=True)]
            centre = [u - v for u, v in zip(centre, bc, strict=True)]
            ja = ja - jb
        steps = (ja * arb_mat(len(hs), 1, hs)).entries()
        comps = [_intersect(c + s, d) for c, s, d in zip(centre, steps, av, strict=True)]
        norm = _norm(comps)
        return _sup_abs(norm)


class _TaylorGap(_VectorNorm):
    """f(x) = |F(x) - phi(x)|_2 for Gaussian Nystrom features F and a one-hidden-layer tanh phi.

    Lemma L2 (symmetric) needs Delta = sup |F - phi| where phi is fitted to F (to ~1e-5,
    both O(1)): the mean-value form of :class:`_VectorNorm` loses that cancellation (on the
    2-D instance of tests/certificates/test_checker_taylor_gap.py, boxes of half-width 1/32
    get mean-value bounds 690 to 1e5 times their sampled max, and bounds 1.0 to 1.4 times it
    from the Taylor models). Here, over a box
    B = c +- h, both maps have Taylor models of order p with the same exponents
    (:meth:`ArbNystrom.gaussian_taylor`, :meth:`ArbMLP.tanh_taylor`): ``F_i = P^F_i + R_i``,
    ``phi_i = P^phi_i + S_i`` with ``|R_i| <= rho_i``, ``|S_i| <= sigma_i`` on B. So
    ``g = F - phi`` is ``P_i + E_i`` with the coefficient matrix ``G = A_F - A_phi`` (the
    cancellation happens in these tight balls) and ``|E_i| <= r_i = rho_i + sigma_i``. Two
    bounds of ``sup_B |g|_2``, of which the smaller is returned:

    * per component: ``|g_i(x)| <= v_i + r_i =: u_i`` with ``v_i = sum_alpha |G_(i, alpha)|
      h^alpha >= sup_B |P_i|`` (``|(x - c)^alpha| <= h^alpha``; alpha = 0 gives
      ``|G_(i, 0)|``), so ``|g|_2 <= sqrt(sum_i u_i^2)``;
    * squared norm, as for the diagonal residual (:class:`_NystromDiagonalResidual`):
      ``|g|^2 = Q(x - c) + sum_i E_i (2 P_i + E_i)`` with ``Q = sum_i P_i^2`` (coefficients
      from ``G^T G``), the range of Q bounded term by term (``(x - c)^beta`` in ``[0,
      h^beta]`` for even beta, else in ``[-h^beta, h^beta]``) and the rest by ``sum_i r_i
      (2 v_i + r_i)``. It keeps the cancellation between components (``|sum_i g_i dg_i|``
      instead of ``sum_i |g_i| |dg_i|``): with 9 features and 100 tanh units in 1-D,
      boxes of half-width 1/32 get bounds 1.24 (median; worst 1.8) instead of 1.65 (worst
      2.6) times the box's sampled max.

    The mean-value form of the parent class is only the fallback for a Taylor bound that
    is not finite; point values (``abs_at``) are the parent's.
    """

    def __init__(
        self,
        a: ArbFeatureMap,
        b: ArbFeatureMap,
        *,
        order: int | None = None,
    ) -> None:
        super().__init__(a, b)
        pair = self._split(a, b)
        if pair is None:
            raise NotCheckableError(
                "the Taylor form of |a - b| needs Gaussian Nystrom features and a "
                "one-hidden-layer tanh MLP"
            )
        self.features, self.network = pair
        if order is None:
            order = _GAP_TAYLOR_ORDERS.get(a.in_dim, _TAYLOR_ORDER_DEFAULT)
        self.order = order
        self._pairs, self._squares, self._even = _square_tables(a.in_dim, order)

    @staticmethod
    def _split(a: ArbFeatureMap, b: ArbFeatureMap) -> tuple[ArbNystrom, ArbMLP] | None:
        """(Gaussian Nystrom features, one-hidden-layer tanh MLP) among a and b, or None."""
        for f, n in ((a, b), (b, a)):
            if (
                isinstance(f, ArbNystrom)
                and isinstance(f.relation, _ArbGaussian)
                and isinstance(n, ArbMLP)
                and n.has_tanh_taylor
            ):
                return f, n
        return None

    @classmethod
    def applies(cls, a: ArbFeatureMap, b: ArbFeatureMap) -> bool:
        """Whether one map is Gaussian Nystrom features and the other a 1-hidden-layer tanh MLP."""
        return cls._split(a, b) is not None

    def taylor_bound(self, balls: Sequence[arb]) -> arb:
        """An upper bound of |F - phi|_2 over the box ``balls`` (class docstring)."""
        tf = self.features.gaussian_taylor(balls, self.order)
        tp = self.network.tanh_taylor(balls, self.order)
        assert tf.exponents == tp.exponents and tf.centre == tp.centre
        G = tf.coefficients - tp.coefficients
        flat = G.entries()
        n_alpha = len(tf.exponents)
        hs = tf.half_widths
        powers = [_monomial(hs, alpha) for alpha in tf.exponents]
        components = error = arb(0)
        for i, (rho, sigma) in enumerate(zip(tf.remainder, tp.remainder, strict=True)):
            r = rho + sigma
            v = arb(0)
            for c, hp in zip(flat[i * n_alpha : (i + 1) * n_alpha], powers, strict=True):
                v += _sup_abs(c) * hp
            components += (v + r) * (v + r)
            error += r * (2 * v + r)
        q = _square_coefficients(G, self._pairs, len(self._squares))
        square = q[0] + error
        for beta, coef, even in zip(self._squares[1:], q[1:], self._even[1:], strict=True):
            span = coef * _monomial(hs, beta)
            square += span.union(arb(0)) if even else _symmetric(span)
        bound = _sup_abs(components.sqrt())
        if square.is_finite():
            bound = bound.min(square.upper().nonnegative_part().sqrt().upper())
        return bound

    def sup_abs(self, balls: Sequence[arb]) -> arb:
        bound = self.taylor_bound(balls)
        if bound.is_finite():
            return bound
        return super().sup_abs(balls)


# --- the plan: everything structural, checked before any arithmetic ------------------------------
@dataclass
class _PlannedPart:
    part: Part
    function: _PartFunction
    leaves: list[Leaf]
    domain_ok: bool
    expected: tuple[tuple[float, ...], tuple[float, ...]]


class _Malformed(Exception):
    pass


def _box(spec: str, name: str) -> Box:
    try:
        domain = parse_domain(spec)
    except CertifyError as exc:
        raise _Malformed(f"instance {name} {spec!r} does not parse: {exc}") from None
    if not isinstance(domain, Box):
        raise NotCheckableError(
            f"instance {name} {spec!r} is not a box; this checker verifies covers of boxes only"
        )
    return domain


def _networks(cert: Certificate) -> dict[str, ArbFeatureMap]:
    out = {}
    for name, net in cert.witness.items():
        data = net.network if isinstance(net, Sidecar) else net
        out[name] = arb_features(data, name=name)
    if "psi" not in out:
        out["psi"] = out["phi"]
    return out


def _plan(cert: Certificate) -> tuple[ArbRelation, dict[str, ArbFeatureMap], list[_PlannedPart]]:
    """Everything structural, before any arithmetic: models, networks, leaves, domains."""
    X = _box(cert.instance.x_domain, "x_domain")
    Y = _box(cert.instance.y_domain, "y_domain")
    if cert.instance.relation.strip().lower().startswith("callable:"):
        raise NotCheckableError(
            f"the relation {cert.instance.relation!r} is a Python callable, which is not "
            "checkable; give it as a sympy expression ('expr:...')"
        )
    try:
        relation = parse_relation(cert.instance.relation)
    except CertifyError as exc:
        raise _Malformed(
            f"instance relation {cert.instance.relation!r} does not parse: {exc}"
        ) from None
    model = arb_relation(relation, X.dim, Y.dim)
    model.check_box(X.lower.tolist(), Y.lower.tolist())
    nets = _networks(cert)
    sides = {"x": X, "y": Y}
    for name, net in nets.items():
        side = _NETWORK_SIDE.get(name)
        if side is not None and net.in_dim != sides[side].dim:
            raise _Malformed(
                f"network {name!r} takes {net.in_dim} inputs but its domain "
                f"({'x' if side == 'x' else 'y'}_domain) has dimension {sides[side].dim}"
            )
    if nets["phi"].out_dim != nets["psi"].out_dim:
        raise _Malformed(
            f"phi has {nets['phi'].out_dim} features but psi has {nets['psi'].out_dim}"
        )
    wp = cert.witness_point
    if wp is not None:
        for coords, box, name in ((wp[0], X, "x"), (wp[1], Y, "y")):
            if len(coords) != box.dim or not bool(box.contains([list(coords)])[0]):
                raise _Malformed(
                    f"the claim's witness point {name} = {list(coords)} is not in the "
                    f"{name}_domain {box.spec}"
                )
    planned = []
    for part in cert.parts:
        args = part.args
        if part.function == "residual":
            a, b = nets[args["left"]], nets[args["right"]]
            if a.out_dim != b.out_dim:
                raise _Malformed(f"part {part.name!r}: its networks have different feature counts")
            fn: _PartFunction = _Residual(model, a, b)
            boxes = [X, Y]
        elif part.function == "diagonal_residual":
            features = nets[args["features"]]
            if (
                isinstance(model, _ArbGaussian)
                and isinstance(features, ArbNystrom)
                and isinstance(features.relation, _ArbGaussian)
            ):
                fn = _NystromDiagonalResidual(model, features)
            else:
                fn = _DiagonalResidual(model, features)
            boxes = [X]
        elif part.function == "diagonal":
            fn = _Diagonal(model, X.dim)
            boxes = [X]
        else:
            first = args["a"] if part.function == "feature_gap" else args["features"]
            side_box = sides[_NETWORK_SIDE[first]]
            a = nets[first]
            b2 = nets[args["b"]] if part.function == "feature_gap" else None
            if b2 is not None and (b2.out_dim != a.out_dim or b2.in_dim != a.in_dim):
                raise _Malformed(f"part {part.name!r}: its networks have different shapes")
            if b2 is not None and _TaylorGap.applies(a, b2):
                fn = _TaylorGap(a, b2)
            else:
                fn = _VectorNorm(a, b2)
            boxes = [side_box]
        exp_lo = tuple(float(v) for box in boxes for v in box.lower)
        exp_hi = tuple(float(v) for box in boxes for v in box.upper)
        if len(part.domain_lower) != len(exp_lo):
            raise _Malformed(
                f"part {part.name!r} ({part.function}) has a {len(part.domain_lower)}-dimensional "
                f"box; its domain has dimension {len(exp_lo)}"
            )
        try:
            leaves = cover_leaves(
                part.domain_lower, part.domain_upper, part.cover.tree, part.cover.splits
            )
        except CertificateError as exc:
            raise _Malformed(f"part {part.name!r}: {exc}") from None
        if len(part.cover.leaf_upper) != len(leaves):
            raise _Malformed(
                f"part {part.name!r}: cover has {len(leaves)} leaves but "
                f"{len(part.cover.leaf_upper)} leaf bounds"
            )
        if part.point is not None and not all(
            lo <= p <= hi
            for p, lo, hi in zip(part.point, part.domain_lower, part.domain_upper, strict=True)
        ):
            raise _Malformed(f"part {part.name!r}: its point {list(part.point)} is outside its box")
        domain_ok = part.domain_lower == exp_lo and part.domain_upper == exp_hi
        planned.append(_PlannedPart(part, fn, leaves, domain_ok, (exp_lo, exp_hi)))
    if cert.route in ("L1", "L2S") and X != Y:
        raise _Malformed(
            f"route {cert.route} bounds sup over X x X, but x_domain {X.spec} != y_domain {Y.spec}"
        )
    return model, nets, planned


# --- evaluation -----------------------------------------------------------------------------------
@dataclass
class _Budget:
    remaining: int
    used: int = 0


def _leaf_bound(
    fn: _PartFunction,
    lo: Sequence[float],
    hi: Sequence[float],
    target: arb | None,
    depth: int,
    budget: _Budget,
) -> arb:
    balls = [interval_ball(a, b) for a, b in zip(lo, hi, strict=True)]
    bound = fn.sup_abs(balls)
    if target is not None and not bound <= target:
        precise = fn.sup_abs_precise(balls)  # both are proofs: keep the tighter
        if precise.upper() < bound.upper():
            bound = precise
    if target is None or bound <= target or depth <= 0 or budget.remaining < 2:
        return bound
    widths = [b - a for a, b in zip(lo, hi, strict=True)]
    k = max(range(len(widths)), key=widths.__getitem__)
    s = lo[k] + (hi[k] - lo[k]) / 2
    if not lo[k] < s < hi[k]:
        return bound
    budget.remaining -= 2
    budget.used += 2
    left_hi = list(hi)
    left_hi[k] = s
    right_lo = list(lo)
    right_lo[k] = s
    left = _leaf_bound(fn, lo, left_hi, target, depth - 1, budget)
    right = _leaf_bound(fn, right_lo, hi, target, depth - 1, budget)
    finer = left.max(right)
    return finer if finer < bound else bound


def _points(values: Sequence[float]) -> list[arb]:
    return [arb(float(v)) for v in values]


def _fmt(x: float) -> str:
    """An upper bound (or threshold) for messages: rounded up."""
    return format_bound(x, direction="up", digits=6)


def _fmt_low(x: float) -> str:
    """A lower bound for messages: rounded down."""
    return format_bound(x, direction="down", digits=6)


def verify(
    path: str | os.PathLike[str],
    *,
    progress: bool = True,
    refine_depth: int = 8,
    refine_budget: int | None = None,
    justification_verifiers: Mapping[str, JustificationVerifier] | None = None,
) -> CheckResult:
    """Check a certificate file independently, in ball arithmetic (see the module docstring).

    Parameters
    ----------
    path : path-like
        The certificate (``.json``); sidecars are read relative to its folder.
    progress : bool, default=True
        Show a tqdm bar over the leaves when there are many.
    refine_depth : int, default=8
        Levels of extra bisection the checker may apply to a leaf whose bound exceeds
        the part's stored upper bound (0 disables refinement).
    refine_budget : int, optional
        Extra sub-boxes per part; default ``4 * leaves + 256``.
    justification_verifiers : mapping, optional
        Verifiers of hypothesis justifications by kind; default
        :data:`JUSTIFICATION_VERIFIERS`.

    Returns
    -------
    CheckResult
        ``status``, ``exit_code`` (0 confirmed, 1 refuted / not confirmed, 2 malformed),
        a one-line ``reason``, the checker's own bounds and ``details``.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        return _malformed(f"cannot read certificate {str(p)!r}: {exc.strerror}")
    try:
        cert = Certificate.load(p)
    except CertificateError as exc:
        return _malformed(str(exc), {"file_sha256": hashlib.sha256(raw).hexdigest()})
    return check(
        cert,
        progress=progress,
        refine_depth=refine_depth,
        refine_budget=refine_budget,
        justification_verifiers=justification_verifiers,
        file_sha256=hashlib.sha256(raw).hexdigest(),
    )


def check(
    cert: Certificate,
    *,
    progress: bool = True,
    refine_depth: int = 8,
    refine_budget: int | None = None,
    justification_verifiers: Mapping[str, JustificationVerifier] | None = None,
    file_sha256: str | None = None,
) -> CheckResult:
    """Check an in-memory :class:`Certificate` (steps 2-6 of :func:`verify`)."""
    with ctx.workprec(CHECK_PRECISION):
        return _check(
            cert,
            progress=progress,
            refine_depth=refine_depth,
            refine_budget=refine_budget,
            verifiers=JUSTIFICATION_VERIFIERS
            if justification_verifiers is None
            else justification_verifiers,
            file_sha256=file_sha256,
        )


def _check(
    cert: Certificate,
    *,
    progress: bool,
    refine_depth: int,
    refine_budget: int | None,
    verifiers: Mapping[str, JustificationVerifier],
    file_sha256: str | None,
) -> CheckResult:
    t0 = time.perf_counter()
    details: dict[str, Any] = {
        "file_sha256": file_sha256 or cert.sha256,
        "digest": cert.digest,
        "route": cert.route,
        "verdict": cert.verdict,
        "precision_bits": CHECK_PRECISION,
    }
    try:
        model, nets, planned = _plan(cert)
    except _Malformed as exc:
        return _malformed(str(exc), details)
    except NotCheckableError as exc:
        return CheckResult("NOT_CONFIRMED", 1, _one_line(str(exc)), math.inf, 0.0, details)
    except CertificateError as exc:
        return _malformed(str(exc), details)

    refuted: list[str] = []
    unconfirmed: list[str] = []

    # hypotheses
    for hyp in cert.hypotheses:
        just = hyp.justification
        if just is None:
            unconfirmed.append(
                f"not confirmed: hypothesis {hyp.statement!r} is asserted, not proven (no "
                "justification the checker can verify)"
            )
            continue
        kind = str(just.get("kind"))
        verifier = verifiers.get(kind)
        if verifier is None:
            unconfirmed.append(
                f"not confirmed: hypothesis {hyp.statement!r} is asserted, not proven (this "
                f"checker has no verifier for justifications of kind {kind!r})"
            )
            continue
        ok, message = verifier(cert, hyp)
        if not ok:
            unconfirmed.append(
                f"not confirmed: hypothesis {hyp.statement!r}: justification {kind!r} fails: "
                f"{_one_line(message, 200)}"
            )

    # domains
    for pp in planned:
        if not pp.domain_ok:
            unconfirmed.append(
                f"not confirmed: part {pp.part.name!r} covers the box "
                f"[{list(pp.part.domain_lower)}, {list(pp.part.domain_upper)}], not the "
                f"instance's domain [{list(pp.expected[0])}, {list(pp.expected[1])}]"
            )

    # the covers
    total_leaves = sum(len(pp.leaves) for pp in planned)
    bar = None
    if progress and total_leaves >= _PROGRESS_MIN_LEAVES:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_leaves, unit="leaf", desc="certify verify", leave=False)
    part_bounds: dict[str, arb] = {}
    part_details = []
    t_eval = time.perf_counter()
    extra = 0
    try:
        for pp in planned:
            part = pp.part
            target = arb(part.upper) if math.isfinite(part.upper) else None
            budget = _Budget(
                4 * len(pp.leaves) + 256 if refine_budget is None else int(refine_budget)
            )
            best = arb(0)
            above_leaf = 0
            worst_ratio = 0.0
            for (lo, hi), stored_leaf in zip(pp.leaves, part.cover.leaf_upper, strict=True):
                b = _leaf_bound(pp.function, lo, hi, target, refine_depth, budget)
                if b > best:
                    best = b
                if math.isfinite(stored_leaf) and not b <= arb(stored_leaf):
                    above_leaf += 1
                    if stored_leaf > 0:
                        worst_ratio = max(worst_ratio, upper_float(b) / stored_leaf)
                if bar is not None:
                    bar.update(1)
            extra += budget.used
            part_bounds[part.name] = best
            checked = upper_float(best)
            part_details.append(
                {
                    "name": part.name,
                    "function": part.function,
                    "args": dict(part.args),
                    "leaves": len(pp.leaves),
                    "refined_subboxes": budget.used,
                    # informational: arb balls exceed a float box by ~2^-30 of its width,
                    # so most leaf bounds sit a hair above an exact-ended engine's
                    "leaves_above_stored_leaf_bound": above_leaf,
                    "max_ratio_to_stored_leaf_bound": worst_ratio,
                    "stored_upper": part.upper,
                    "checked_upper": checked,
                    "stored_lower": part.lower,
                }
            )
            if target is not None and not best <= target:
                unconfirmed.append(
                    f"not confirmed: part {part.name!r} states sup |f| <= {_fmt(part.upper)}, "
                    f"but the checker's bound over its {len(pp.leaves)} leaves is "
                    f"{_fmt(checked)}"
                )
            # the part's lower bound, at its point
            if part.point is not None:
                val = pp.function.abs_at(_points(part.point))
                part_details[-1]["checked_lower_at_point"] = lower_float(val)
                _check_lower(val, part.lower, f"part {part.name!r}", refuted, unconfirmed)
    finally:
        if bar is not None:
            bar.close()
    seconds_eval = time.perf_counter() - t_eval
    details["parts"] = part_details
    details["leaves"] = total_leaves
    details["refined_subboxes"] = extra
    details["seconds_covers"] = seconds_eval
    details["leaves_per_second"] = (
        (total_leaves + extra) / seconds_eval if seconds_eval > 0 else math.inf
    )

    # combine by route
    if not planned:
        u = _POS_INF
    elif cert.route == "L2":
        e0, dphi, dpsi = part_bounds["e0"], part_bounds["Dphi"], part_bounds["Dpsi"]
        sf, sg = part_bounds["SF"], part_bounds["SG"]
        u = e0 + sf * dpsi + dphi * (sg + dpsi)
    elif cert.route == "L2S":
        t, delta, kappa = part_bounds["T"], part_bounds["Delta"], part_bounds["kappa"]
        # sqrt is increasing, so sqrt(an upper bound of kappa) bounds sqrt(kappa)
        if all(v.is_finite() for v in (t, delta, kappa)):
            u = t + 2 * kappa.sqrt() * delta + delta * delta
        else:
            u = _POS_INF
    else:
        u = next(iter(part_bounds.values()))
    combined = upper_float(u)
    conditional = any(m.startswith("not confirmed: hypothesis") for m in unconfirmed)
    if conditional:
        details["conditional_upper"] = combined
    checked_upper = math.inf if conditional or not all(pp.domain_ok for pp in planned) else combined
    details["combined_upper"] = combined
    if math.isfinite(cert.upper) and not combined <= cert.upper:
        unconfirmed.append(
            f"not confirmed: the claim states sup |e| <= {_fmt(cert.upper)}, but the checker "
            f"proves only <= {_fmt(combined)} (route {cert.route})"
        )

    # the claim's lower bound and the verdict
    e = _Residual(model, nets["phi"], nets["psi"])
    lowers: list[arb] = []
    at_witness: arb | None = None
    if cert.witness_point is not None:
        at_witness = e.abs_at(_points([*cert.witness_point[0], *cert.witness_point[1]]))
        lowers.append(at_witness)
        details["witness_abs_error"] = [lower_float(at_witness), upper_float(at_witness)]
    if cert.route == "direct":
        for pp in planned:
            if pp.part.point is not None and pp.domain_ok:
                lowers.append(pp.function.abs_at(_points(pp.part.point)))
    checked_lower = max([0.0, *(lower_float(v) for v in lowers)])
    if at_witness is not None:
        _check_lower(at_witness, cert.lower, "the claim", refuted, unconfirmed)
    elif cert.lower > 0:  # excluded by the record; kept as a guard
        unconfirmed.append("not confirmed: the claim states a lower bound without a point")
    eps = arb(cert.eps)
    if cert.verdict == "HOLDS":
        for v in lowers:
            if v.abs_lower() > eps:
                refuted.append(
                    f"refuted: HOLDS claims sup |e| <= {_fmt(cert.eps)}, but a stored point has "
                    f"|e| >= {_fmt_low(lower_float(v))}"
                )
                break
        if not checked_upper <= cert.eps and not conditional:
            unconfirmed.append(
                f"not confirmed: HOLDS needs sup |e| <= eps = {_fmt(cert.eps)}; the checker "
                f"proves <= {_fmt(checked_upper)}"
            )
    elif cert.verdict == "VIOLATED":
        assert at_witness is not None  # the record requires a witness point
        if at_witness.abs_upper() <= eps:
            refuted.append(
                f"refuted: VIOLATED claims |e| > eps = {_fmt(cert.eps)} at the witness point, "
                f"but there |e| <= {_fmt(upper_float(at_witness))}"
            )
        elif not at_witness.abs_lower() > eps:
            unconfirmed.append(
                f"not confirmed: |e| at the witness point is not certainly > eps = "
                f"{_fmt(cert.eps)} (enclosure [{_fmt_low(lower_float(at_witness))}, "
                f"{_fmt(upper_float(at_witness))}])"
            )

    details["seconds"] = time.perf_counter() - t0
    details["failures"] = refuted + unconfirmed
    if refuted:
        return CheckResult(
            "REFUTED", 1, _one_line(refuted[0]), checked_upper, checked_lower, details
        )
    if unconfirmed:
        return CheckResult(
            "NOT_CONFIRMED", 1, _one_line(unconfirmed[0]), checked_upper, checked_lower, details
        )
    what = {
        "HOLDS": f"HOLDS confirmed: sup |e| <= {_fmt(checked_upper)} <= eps = {_fmt(cert.eps)}",
        "VIOLATED": (
            f"VIOLATED confirmed: |e| >= {_fmt_low(checked_lower)} > eps = {_fmt(cert.eps)} at the "
            "witness point"
        ),
        "UNKNOWN": (
            f"UNKNOWN confirmed as an enclosure: {_fmt_low(cert.lower)} <= sup |e| <= "
            f"{_fmt(cert.upper)} (checker: <= {_fmt(checked_upper)})"
        ),
    }[cert.verdict]
    return CheckResult(
        "CONFIRMED",
        0,
        _one_line(f"{what} (route {cert.route}, {total_leaves} leaves)"),
        checked_upper,
        checked_lower,
        details,
    )


def _check_lower(
    value: arb, stored: float, what: str, refuted: list[str], unconfirmed: list[str]
) -> None:
    """Stored lower bound l vs the ball of |f(point)|: confirmed iff l <= its lower end."""
    s = arb(stored)
    if s <= value.abs_lower():
        return
    if value.is_finite() and value.abs_upper() < s:
        refuted.append(
            f"refuted: {what} states |f| >= {_fmt_low(stored)} at its point, but there |f| <= "
            f"{_fmt(upper_float(value))}"
        )
    else:
        unconfirmed.append(
            f"not confirmed: {what} states |f| >= {_fmt_low(stored)} at its point; the checker "
            f"encloses |f| there in [{_fmt_low(lower_float(value))}, {_fmt(upper_float(value))}]"
        )


# --- justification verifiers ---------------------------------------------------------------------
def _positive_definite(S: Sequence[Sequence[arb]]) -> bool:
    """Whether every symmetric matrix in the balls of ``S`` is positive definite.

    Gaussian elimination (LDL^T) without pivoting in ball arithmetic, as in
    :mod:`certify.spectral.psd`: the pivots of every matrix in the balls lie in the
    computed balls, and all pivots certainly > 0 means all leading principal minors
    > 0 (Sylvester's criterion).
    """
    p = len(S)
    A = [list(row) for row in S]
    for k in range(p):
        pivot = A[k][k]
        if not pivot > 0:
            return False
        for i in range(k + 1, p):
            f = A[i][k] / pivot
            for j in range(k + 1, p):
                A[i][j] -= f * A[k][j]
    return True


def verify_nystrom_l1prime(cert: Certificate, hyp: Hypothesis) -> tuple[bool, str]:
    """Lemma L1': prove "r - <NAME, NAME> is PSD" for Nystrom features NAME in ball arithmetic.

    Justification: ``{"kind": "nystrom-l1prime", "features": NAME}`` (other keys are
    ignored: nothing stored is trusted). The hypothesis statement must be
    ``r - <NAME, NAME> is PSD`` and the witness ``NAME`` inline Nystrom features
    (format ``certify.nystrom/1``) of the instance's own relation, which must be a
    kernel family that is PSD by construction, with every node in the x-domain.

    Proof. Let H be the RKHS of r and k_x = r(., x). With g_i = sum_j C[j, i] k_(x_j),
    the features are F_i(x) = sum_j C[j, i] r(x, x_j) = <k_x, g_i>_H, and
    G = [<g_i, g_k>_H] = C^T K C with K = r(nodes, nodes). The operator
    P = sum_i g_i (x) g_i = A A* (A e_i = g_i) has ||P|| = ||A* A|| = lambda_max(G); if
    lambda_max(G) <= 1 then P <= I on H, so r(x, y) - <F(x), F(y)> = <k_x, (I - P) k_y>_H
    is a PSD kernel, which is the hypothesis of lemma L1.

    Check. K is recomputed by the checker's own ball model of r at the exact float nodes
    (128 bits), G = C^T K C with ``arb_mat`` (C exact), and I - G (symmetrised: the mean
    of G and G^T, whose balls still contain the exact symmetric G) is proven positive
    definite by a ball LDL^T whose pivots are all certainly > 0; then lambda_max(G) < 1.
    The reported margin ``s`` is the largest power 2^-k (k <= 60) with I - G - sI still
    proven positive definite (lambda_max(G) <= 1 - s); it is informational.
    """
    just = hyp.justification or {}
    name = just.get("features")
    if not isinstance(name, str) or not name:
        return False, "the justification needs 'features': the witness name of the features"
    if hyp.statement != l1_hypothesis(name):
        return False, (
            f"the justification is about features {name!r}, so it proves "
            f"{l1_hypothesis(name)!r}, not {hyp.statement!r}"
        )
    data = cert.witness.get(name)
    if isinstance(data, Sidecar) or not isinstance(data, Mapping):
        return False, f"witness {name!r} is not inline Nystrom features"
    if data.get("format") != NYSTROM_FORMAT:
        return False, (
            f"witness {name!r} has format {data.get('format')!r}, not Nystrom features "
            f"({NYSTROM_FORMAT!r}); lemma L1' does not apply to it"
        )
    try:
        rel_instance = parse_relation(cert.instance.relation)
        rel_features = parse_relation(str(data["relation"]))
        X = parse_domain(cert.instance.x_domain)
    except CertifyError as exc:
        return False, f"cannot parse the relation or domain: {exc}"
    if rel_features.spec != rel_instance.spec:
        return False, (
            f"the features use the relation {rel_features.spec!r}, the instance is "
            f"{rel_instance.spec!r}"
        )
    if not isinstance(rel_features, Kernel):
        return False, (
            f"the relation {rel_features.spec!r} is not a kernel family that is PSD by "
            "construction (the RKHS argument of lemma L1' needs one)"
        )
    if not isinstance(X, Box):
        return False, f"x_domain {X.spec!r} is not a box"
    lo, hi = X.lower.tolist(), X.upper.tolist()
    with ctx.workprec(CHECK_PRECISION):
        try:
            F = ArbNystrom.from_dict(data, name=name)
            F.relation.check_box(lo, lo)
        except CertificateError as exc:
            return False, str(exc)
        if F.in_dim != X.dim:
            return False, f"the nodes have dimension {F.in_dim}, x_domain {X.dim}"
        for j, node in enumerate(F.nodes):
            if not all(a <= v <= b for v, a, b in zip(node, lo, hi, strict=True)):
                return False, f"node {j} = {list(node)} is outside x_domain {X.spec}"
        n, m = F.n_nodes, F.out_dim
        C = arb_mat(n, m, [F.coefficients[j][i] for j in range(n) for i in range(m)])
        K = F.gram()
        G = C.transpose() * (K * C)
        half = arb(0.5)
        S = [
            [(arb(1) if i == k else arb(0)) - (G[i, k] + G[k, i]) * half for k in range(m)]
            for i in range(m)
        ]
        if not all(v.is_finite() for row in S for v in row):
            return False, "the Gram matrix G = C^T K C is not finite in ball arithmetic"
        if not _positive_definite(S):
            top = max(upper_float(sum((abs(G[i, k]) for k in range(m)), arb(0))) for i in range(m))
            return False, (
                f"I - G is not proven positive definite by ball LDL^T (m = {m} features, n = {n} "
                f"nodes; Gershgorin row-sum bound of lambda_max(G) is {_fmt(top)}): the features "
                "may not satisfy lambda_max(G) <= 1"
            )

        # the margin: the largest shift 2^-k (k = 1..60, binary search; PD-ness of
        # I - G - sI is monotone in s) with I - G - sI still proven positive definite
        def shifted_pd(k: int) -> bool:
            shift = arb(2) ** (-k)
            return _positive_definite(
                [[v - shift if i == j else v for j, v in enumerate(row)] for i, row in enumerate(S)]
            )

        margin = 0.0
        lo_k, hi_k = 1, 60
        if shifted_pd(hi_k):
            while lo_k < hi_k:
                mid = (lo_k + hi_k) // 2
                if shifted_pd(mid):
                    hi_k = mid
                else:
                    lo_k = mid + 1
            margin = 2.0**-hi_k
    return True, (
        f"lemma L1': lambda_max(C^T K C) <= 1 - {format_bound(margin, direction='down')} "
        f"proven by ball LDL^T of I - G ({m} features, {n} nodes, {CHECK_PRECISION} bits)"
    )


JUSTIFICATION_VERIFIERS = MappingProxyType({"nystrom-l1prime": verify_nystrom_l1prime})
