"""Mercer decompositions by quadrature Nystrom (THEORY.md, "Objects", "Tails"; L1, L1', L4, L6).

A continuous PSD relation r on X with a probability measure mu has Mercer data
``r(x, y) = sum_i lambda_i e_i(x) e_i(y)``: the eigenpairs of the integral
operator ``(T f)(x) = int r(x, y) f(y) dmu(y)`` on L2(mu). :func:`mercer`
discretises T with a quadrature rule (nodes x_j, weights w_j, summing to 1):

    T f (x)  ~  sum_j w_j r(x, x_j) f(x_j),

whose eigenproblem on the nodes is the symmetric one

    S u = l u,    S = W^(1/2) K W^(1/2),    K_jk = r(x_j, x_k),  W = diag(w),

solved with :func:`scipy.linalg.eigh`. The discrete eigenvalues ``l_i``
approximate the ``lambda_i`` of T w.r.t. the PROBABILITY measure mu (so for a
stationary kernel they sum to k(0)). The nodes are refined (doubled per axis)
until the requested eigenvalues stop moving; see :func:`mercer` for the
criterion.

Nystrom features
----------------
With ``u_i`` the orthonormal eigenvectors of S, the values of the discrete
eigenfunctions at the nodes are ``e_i(x_j) = u_ij / sqrt(w_j)`` (orthonormal
under the rule: ``sum_j w_j e_i(x_j) e_k(x_j) = u_i . u_k``), and the Nystrom
extension ``e_i(x) = (1 / l_i) sum_j w_j r(x, x_j) e_i(x_j)`` gives

    e_i(x) = r(x, X) W^(1/2) u_i / l_i,
    F_i(x) = sqrt(l_i) e_i(x) = r(x, X) C[:, i],   C[:, i] = sqrt(w) * u_i / sqrt(l_i),

the features of lemma L1' (``F_i = <k_x, g_i>`` with ``g_i = sum_j C_ji k_(x_j)``).
At the nodes the extension reproduces the eigenvectors: ``r(X, X) W^(1/2) u_i
/ l_i = W^(-1/2) S u_i / l_i = u_i / sqrt(w)``. :class:`MercerDecomposition`
stores exactly ``nodes`` and ``coefficients = C`` so that ``features(x) =
r(x, nodes) @ coefficients``; certified Nystrom features (L1') are built from
this representation.

Everything here is an ESTIMATE of the continuous Mercer data (its error is the
quadrature's, estimated by the refinement); nothing in this module is a proof.
The certified uniform tail T(d) goes through lemma L1' and ball arithmetic.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.linalg import eigh, eigvalsh

from certify._validation import check_int, check_positive, check_real, describe
from certify.errors import InvalidInputError, NotPSDError
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain, FiniteSet, Sphere
from certify.relations.evaluation import gram
from certify.relations.kernels import Gaussian, Laplace, Matern32, Matern52, Periodic
from certify.relations.measures import Measure, RNGLike, as_generator
from certify.relations.quadrature import (
    DEFAULT_SOBOL_POINTS,
    QuadratureRule,
    default_nodes_per_axis,
    quadrature,
)
from certify.relations.spec import parse_domain, parse_measure, parse_relation

__all__ = [
    "DEFAULT_MAX_NODES",
    "DEFAULT_TOL",
    "MercerConvergence",
    "MercerDecomposition",
    "TailEstimate",
    "default_rtol",
    "mercer",
    "rank_for_tail",
]

FloatArray = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)

DEFAULT_MAX_NODES: int = 4096
"""Default cap on the number of quadrature nodes (a dense ``eigh`` of 4096 takes seconds)."""

DEFAULT_TOL: float = 1e-12
"""Smallest default eigenvalue floor ``tol`` (relative to lambda_1), see :func:`mercer`."""

_ROUNDOFF_FACTOR = 8.0
"""``p(n) = 8 n`` in the backward-error bound ``||E||_2 <= p(n) eps ||S||_2`` of ``eigh``."""

_SYMMETRY_FACTOR = 64.0
"""A symmetric formula evaluated at (x, y) and (y, x) differs by a few ulps per operation."""

_BLOCK_ENTRIES = 1 << 22
"""Largest kernel block (rows x nodes) formed at once when evaluating features (32 MB)."""

_STATIONARY = (Gaussian, Laplace, Matern32, Matern52, Periodic)
"""Kernels with r(x, x) = k(0) at every x, so the trace is exactly k(0) under a probability."""

_CORNER_MAX_DIM = 10
"""Box corners join the sampled-tail points up to this dimension (2**10 corners)."""


def default_rtol(n_axes: int, kind: str) -> float:
    """The default convergence tolerance of :func:`mercer` for a rule.

    ``1e-5`` for one-axis rules and discrete measures, ``1e-3`` otherwise.
    Reason: a kernel with a kink on the diagonal (Laplace, Brownian) converges
    like ``n_axis**-2`` under Gauss rules, i.e. like ``N**(-2 / dim)`` in the
    total node count N, and like ``1 / N`` under Sobol rules; with the default
    cap of 4096 nodes that reaches about 1e-6 in one dimension and 1e-4 in two
    (measured: Laplace(1) on [-1, 1] changes by 4.9e-6 lambda_1 from 512 to 1024
    nodes; on [-1, 1]^2 by 2.3e-4 from 576 to 2304). Smooth kernels converge
    geometrically and end far below either value (the achieved change is
    recorded in :attr:`MercerConvergence.final_change`).

    Examples
    --------
    >>> default_rtol(1, "gauss-legendre"), default_rtol(2, "gauss-legendre")
    (1e-05, 0.001)
    """
    return 1e-5 if (n_axes == 1 or kind == "exact") else 1e-3


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class MercerConvergence:
    """How the node refinement of :func:`mercer` ended.

    Criterion: with ``l^(k)`` the discrete spectrum at refinement level k
    (descending), level k is accepted when

        max_{i <= m} |l_i^(k) - l_i^(k-1)| <= rtol * l_1^(k),

    over the ``m = n_compared`` requested eigenvalues. The scale is the largest
    eigenvalue (the operator norm): by Weyl's inequality a perturbation of the
    operator moves every eigenvalue by at most its norm, so eigenvalue errors
    are absolute, of the size of the quadrature error times lambda_1. Small
    eigenvalues are therefore resolved to ``~ rtol * lambda_1``, not to ``rtol``
    relative to themselves; per-eigenvalue changes are in ``eigenvalue_changes``.

    Attributes
    ----------
    rtol : float
        The tolerance used.
    final_change : float
        ``max_i |l_i^(k) - l_i^(k-1)| / l_1^(k)`` at the accepted level (0 for
        discrete measures, whose rule is exact and is not refined).
    eigenvalue_changes : ndarray of shape (n_compared,)
        ``|l_i^(k) - l_i^(k-1)|`` (absolute) at the accepted level.
    n_compared : int
        Number of leading eigenvalues compared (the decomposition's rank).
    history : tuple of (int, float)
        ``(n_nodes, change)`` per level; ``change`` is NaN at the first level and
        at levels that could not be compared (``rank`` larger than the coarser
        level's node count).
    rule : str
        The quadrature kind (``"gauss-legendre"``, ``"sobol"``, ...).
    n : int or None
        The ``n`` of :func:`certify.quadrature` at the accepted level (nodes per
        axis for Gauss rules, points for Sobol, None for exact rules).
    seed : int or None
        The Sobol scrambling seed (the same at every level, so the rules are
        nested); None for deterministic rules.
    """

    rtol: float
    final_change: float
    eigenvalue_changes: FloatArray
    n_compared: int
    history: tuple[tuple[int, float], ...]
    rule: str
    n: int | None
    seed: int | None

    @property
    def n_levels(self) -> int:
        """Number of refinement levels computed."""
        return len(self.history)


@dataclass(frozen=True)
class TailEstimate:
    """An ESTIMATE of a Mercer tail (THEORY.md, "Tails") -- never a certificate.

    Attributes
    ----------
    kind : str
        ``"trace"`` (sum_{i>d} lambda_i), ``"l2"`` (tau(d)) or ``"sampled_uniform"``
        (max over sample points of r(x, x) - |F_d(x)|^2, a LOWER estimate of T(d)).
    rank : int
        The truncation ``d``.
    value : float
        The estimate: ``raw``, except that ``raw`` in ``[-roundoff, 0)`` becomes 0
        (a tail is non-negative; a value below ``-roundoff`` is kept as is, since
        it signals an inconsistency rather than rounding).
    raw : float
        The value as computed, before clipping.
    roundoff : float
        Bound on the round-off in ``raw`` (same units as ``value``).
    cross_check : float or None
        An independent formula for the same quantity (``"trace"``: the sum of the
        discrete eigenvalues beyond d; ``"l2"``: the Hilbert-Schmidt identity
        ``(||r||^2_{L2(mu x mu)} - sum_{i<=d} lambda_i^2)^(1/2)``), None otherwise.
    point : ndarray of shape (dim,) or None
        ``"sampled_uniform"``: where the sampled maximum is attained.
    n_points : int or None
        ``"sampled_uniform"``: number of points sampled.
    method : str
        What was computed, in words.
    """

    kind: str
    rank: int
    value: float
    raw: float
    roundoff: float
    cross_check: float | None
    point: FloatArray | None
    n_points: int | None
    method: str


def _clip(raw: float, roundoff: float) -> float:
    """0 for a raw tail in [-roundoff, 0), else the raw value (never a hidden clip)."""
    return 0.0 if -roundoff <= raw < 0.0 else raw


def _readonly(arr: npt.ArrayLike) -> FloatArray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class MercerDecomposition:
    """Quadrature-Nystrom Mercer data of a PSD relation on (domain, measure).

    Built by :func:`mercer`; every array is read-only.

    Attributes
    ----------
    kernel : Relation
        The symmetric relation r.
    domain : Domain
        Its domain X.
    measure : Measure
        The probability measure mu on X.
    eigenvalues : ndarray of shape (rank,)
        ``l_1 >= ... >= l_rank > tol * l_1 > 0``: estimates of the lambda_i of T
        w.r.t. the probability measure mu (THEORY.md, "Objects").
    eigenvectors : ndarray of shape (n_nodes, rank)
        Orthonormal eigenvectors ``u_i`` of ``S = W^(1/2) K W^(1/2)``, each signed
        so that its largest-magnitude entry is positive.
    coefficients : ndarray of shape (n_nodes, rank)
        ``C[:, i] = sqrt(weights) * u_i / sqrt(l_i)``, so that the Nystrom
        features are ``F(x) = r(x, nodes) @ C`` (lemma L1'; module docstring).
    nodes : ndarray of shape (n_nodes, dim)
        Quadrature nodes x_j.
    weights : ndarray of shape (n_nodes,)
        Quadrature weights w_j (a probability rule: they sum to 1).
    spectrum : ndarray of shape (n_nodes,)
        The whole discrete spectrum of S, descending, unclipped (entries in
        ``[-roundoff, 0)`` are round-off of zero eigenvalues). ``eigenvalues`` is
        ``spectrum[:rank]``.
    trace : float
        ``int r(x, x) dmu``: exactly k(0) for the stationary kernels (Gaussian,
        Laplace, Matern32/52, Periodic; mu has mass 1), else the quadrature
        ``weights @ r(nodes, nodes)`` (exact for a discrete measure).
    hs_norm_squared : float
        ``||r||^2_{L2(mu x mu)}`` by the product rule, ``sum_jk w_j w_k K_jk^2 =
        ||S||_F^2`` (= the sum of the squared discrete eigenvalues).
    tol : float
        The eigenvalue floor used (relative to l_1).
    roundoff : float
        Round-off bound on each discrete eigenvalue: ``8 n_nodes eps max|l|``
        (``eigh`` is backward stable with error ``p(n) eps ||S||_2``, and the
        entries of S carry a few ulps; ``p(n) = 8 n`` covers both).
    convergence : MercerConvergence
        The refinement record (criterion, final change, history).

    Examples
    --------
    >>> dec = mercer("brownian", "box:0,1", rtol=1e-4)
    >>> lam1 = 4 / np.pi**2  # THEORY.md: lambda_k = 1 / ((k - 1/2)^2 pi^2)
    >>> bool(abs(dec.eigenvalues[0] - lam1) <= dec.convergence.final_change * lam1)
    True
    >>> F = dec.features([[0.5]])
    >>> F.shape == (1, dec.rank)
    True
    """

    kernel: Relation
    domain: Domain
    measure: Measure
    eigenvalues: FloatArray
    eigenvectors: FloatArray
    coefficients: FloatArray
    nodes: FloatArray
    weights: FloatArray
    spectrum: FloatArray
    trace: float
    hs_norm_squared: float
    tol: float
    roundoff: float
    convergence: MercerConvergence

    # --- descriptors ---------------------------------------------------------------------
    @property
    def rank(self) -> int:
        """Number of eigenpairs kept (features)."""
        return int(self.eigenvalues.shape[0])

    @property
    def n_nodes(self) -> int:
        """Number of quadrature nodes."""
        return int(self.nodes.shape[0])

    @property
    def dim(self) -> int:
        """Dimension of the domain."""
        return int(self.nodes.shape[1])

    @property
    def kernel_spec(self) -> str:
        """Spec string of the relation."""
        return self.kernel.spec

    @property
    def domain_spec(self) -> str:
        """Spec string of the domain."""
        return self.domain.spec

    @property
    def measure_spec(self) -> str:
        """Spec string of the measure."""
        return self.measure.spec

    # --- evaluation ----------------------------------------------------------------------
    def _check_rank(self, rank: Any, name: str = "rank") -> int:
        if rank is None:
            return self.rank
        return _check_range(rank, name, 0, self.rank, "eigenpairs kept")

    def _points(self, X: npt.ArrayLike, name: str = "X") -> FloatArray:
        return self.domain.check_points(X, name)

    def _kernel_times(self, X: FloatArray, M: FloatArray) -> FloatArray:
        """``r(X, nodes) @ M`` in row blocks (no (len(X), n_nodes) matrix beyond 32 MB)."""
        out = np.empty((X.shape[0], M.shape[1]))
        step = max(1, _BLOCK_ENTRIES // max(1, self.n_nodes))
        for start in range(0, X.shape[0], step):
            block = gram(self.kernel, X[start : start + step], self.nodes)
            out[start : start + step] = block @ M
        return out

    def features(self, X: npt.ArrayLike, *, rank: int | None = None) -> FloatArray:
        """Nystrom Mercer features ``F_i(x) = sqrt(lambda_i) e_i(x) = r(x, nodes) @ C[:, i]``.

        Parameters
        ----------
        X : array-like of shape (n, dim)
            Points of the domain.
        rank : int, optional
            Number of leading features ``d`` (default: all ``self.rank``).

        Returns
        -------
        ndarray of shape (n, rank)
            ``<F_d(x), F_d(y)>`` approximates the truncation ``sum_{i<=d} lambda_i
            e_i(x) e_i(y)`` (THEORY.md, "Objects").

        Raises
        ------
        InvalidInputError
            Points outside the domain, or ``rank`` not in ``[0, self.rank]``.
        """
        d = self._check_rank(rank)
        pts = self._points(X)
        return self._kernel_times(pts, np.ascontiguousarray(self.coefficients[:, :d]))

    def eigenfunctions(self, X: npt.ArrayLike, *, rank: int | None = None) -> FloatArray:
        """Nystrom eigenfunctions ``e_i(x) = (1 / l_i) sum_j w_j r(x, x_j) e_i(x_j)``.

        Orthonormal in L2(mu) up to quadrature error (exactly, up to round-off,
        under the rule itself: ``E(nodes).T @ diag(weights) @ E(nodes) = I``).

        Returns
        -------
        ndarray of shape (n, rank)
            ``features(X) / sqrt(eigenvalues)``.
        """
        d = self._check_rank(rank)
        return self.features(X, rank=d) / np.sqrt(self.eigenvalues[:d])

    # --- tails ---------------------------------------------------------------------------
    def trace_tail(self, d: int) -> TailEstimate:
        """Trace tail ``sum_{i>d} lambda_i = trace - sum_{i<=d} lambda_i`` (THEORY.md, "Tails").

        Parameters
        ----------
        d : int
            ``0 <= d <= n_nodes`` (beyond ``rank`` the discrete spectrum is used).

        Returns
        -------
        TailEstimate
            ``raw = trace - sum_{i<=d} l_i``, clipped at 0 within ``roundoff =
            (d + 1) * self.roundoff + 8 (n_nodes + dim) eps |trace|`` (d eigenvalues
            and the rule's weight sum); ``cross_check`` = the sum of the discrete
            eigenvalues beyond d. An estimate of the continuous tail.

        Examples
        --------
        >>> dec = mercer("gaussian:lengthscale=1", "box:-1,1")
        >>> t = dec.trace_tail(0)
        >>> t.value == dec.trace == 1.0  # stationary: k(0), exactly
        True
        """
        d = _check_range(d, "d", 0, self.n_nodes, "truncation rank")
        raw = float(self.trace - math.fsum(self.spectrum[:d]))
        roundoff = (d + 1) * self.roundoff + 8.0 * (self.n_nodes + self.dim) * _EPS * abs(
            self.trace
        )
        return TailEstimate(
            kind="trace",
            rank=d,
            value=_clip(raw, roundoff),
            raw=raw,
            roundoff=roundoff,
            cross_check=float(math.fsum(self.spectrum[d:])),
            point=None,
            n_points=None,
            method=(
                f"estimate: trace - sum of the first {d} discrete eigenvalues "
                f"({self.convergence.rule}, {self.n_nodes} nodes)"
            ),
        )

    def l2_tail(self, d: int) -> TailEstimate:
        """L2 tail ``tau(d) = (sum_{i>d} lambda_i^2)^(1/2)`` (THEORY.md, "Tails"; L4, L6).

        Needs eigenvalues beyond the kept rank: computed from the whole discrete
        spectrum, ``value = (sum_{i>d} l_i^2)^(1/2)``, an ESTIMATE whose error is the
        quadrature's. ``cross_check`` is the Hilbert-Schmidt identity
        ``(||r||^2_{L2(mu x mu)} - sum_{i<=d} l_i^2)^(1/2)`` with the norm by the
        product rule. For the discretised operator the identity is exact
        (``||S||_F^2 = sum l_i^2``), so the two differ by round-off only; the
        cross-check loses accuracy to cancellation when the tail is small, which
        is why ``value`` is the spectral sum.

        Parameters
        ----------
        d : int
            ``0 <= d <= n_nodes``.

        Returns
        -------
        TailEstimate
            ``raw = value`` (a sum of squares needs no clipping); ``roundoff`` bounds
            ``|value - cross_check|`` from round-off: with ``delta = 8 n eps ||S||_F^2
            + 2 roundoff sum_{i<=d} |l_i| + d roundoff^2`` (the error of
            ``||S||_F^2 - sum_{i<=d} l_i^2``), ``|sqrt(a) - sqrt(b)| <= sqrt(|a - b|)``
            gives ``sqrt(delta)``.
        """
        d = _check_range(d, "d", 0, self.n_nodes, "truncation rank")
        head = self.spectrum[:d]
        value = math.sqrt(math.fsum(self.spectrum[d:] ** 2))
        hs_raw = self.hs_norm_squared - math.fsum(head**2)
        delta = (
            8.0 * self.n_nodes * _EPS * self.hs_norm_squared
            + 2.0 * self.roundoff * float(np.sum(np.abs(head)))
            + d * self.roundoff**2
        )
        return TailEstimate(
            kind="l2",
            rank=d,
            value=value,
            raw=value,
            roundoff=math.sqrt(delta),
            cross_check=math.sqrt(max(hs_raw, 0.0)),
            point=None,
            n_points=None,
            method=(
                f"estimate: (sum of squared discrete eigenvalues beyond {d})^(1/2) "
                f"({self.convergence.rule}, {self.n_nodes} nodes)"
            ),
        )

    def _tail_points(self, n_points: Any, rng: RNGLike, points: npt.ArrayLike | None) -> FloatArray:
        if points is not None:
            return self._points(points, "points")
        if isinstance(self.domain, FiniteSet):
            return np.array(self.domain.points, dtype=np.float64)
        n_points = check_int(n_points, "n_points", minimum=1, what="random sample points")
        sample = self.measure.sample(self.domain, n_points, rng=rng)
        parts = [sample, np.asarray(self.nodes)]
        if isinstance(self.domain, Box) and self.dim <= _CORNER_MAX_DIM:
            grids = np.meshgrid(*zip(self.domain.lower, self.domain.upper, strict=True))
            parts.append(np.stack([g.reshape(-1) for g in grids], axis=1))
        return np.ascontiguousarray(np.vstack(parts))

    def _diag_residuals(self, X: FloatArray, d: int) -> FloatArray:
        """``r(x, x) - |F_j(x)|^2`` for j = 0..d: shape (len(X), d + 1)."""
        F = self._kernel_times(X, np.ascontiguousarray(self.coefficients[:, :d]))
        diag = self.kernel.diag(X)
        out = np.empty((X.shape[0], d + 1))
        out[:, 0] = diag
        out[:, 1:] = diag[:, None] - np.cumsum(F * F, axis=1)
        return out

    def sampled_uniform_tail(
        self,
        d: int,
        *,
        n_points: int = 1024,
        rng: RNGLike = None,
        points: npt.ArrayLike | None = None,
    ) -> TailEstimate:
        """ESTIMATE of the uniform tail ``T(d) = sup_x (r(x, x) - |F_d(x)|^2)`` on a sample.

        The maximum over finitely many points is a lower estimate of the sup, not
        a bound (DESIGN.md, "Certificates"); the certified T(d) goes through lemma
        L1' in ball arithmetic. By L1 a (certified) T(d) bounds the sup-norm error
        of the rank-d truncation.

        Parameters
        ----------
        d : int
            ``0 <= d <= rank``.
        n_points : int, default=1024
            Random points drawn from the measure. The quadrature nodes and, on a
            box of dimension <= 10, its corners (where diagonal residuals often
            peak: the Brownian kernel's at x = 1) are added. On a finite set the
            domain's points are used instead (the maximum is then exact up to
            rounding). On R^d (Gaussian measure) the sample describes the bulk of
            the measure, not the sup over R^d.
        rng : numpy.random.Generator, int or None
            Source of the random points.
        points : array-like of shape (m, dim), optional
            Use these points instead.

        Returns
        -------
        TailEstimate
            ``kind="sampled_uniform"``, ``point`` the maximiser; ``roundoff`` bounds
            the rounding of ``raw`` at that point: ``eps |r(x, x)| + 2 sum_i |F_i| n
            eps (|r(x, nodes)| @ |C_i|)`` (dot products of n_nodes terms), and
            ``raw`` is clipped at 0 only within it.
        """
        d = self._check_rank(d, "d")
        X = self._tail_points(n_points, rng, points)
        res = self._diag_residuals(X, d)[:, d]
        k = int(np.argmax(res))
        raw = float(res[k])
        x = X[k : k + 1]
        row = gram(self.kernel, x, self.nodes)
        C = self.coefficients[:, :d]
        F = row @ C
        dF = self.n_nodes * _EPS * (np.abs(row) @ np.abs(C))
        diag_x = float(self.kernel.diag(x)[0])
        roundoff = _EPS * abs(diag_x) + 2.0 * float(np.sum(np.abs(F) * dF)) + float(np.sum(dF**2))
        value = _clip(raw, roundoff)
        where = "the finite domain" if isinstance(self.domain, FiniteSet) else "a sample"
        return TailEstimate(
            kind="sampled_uniform",
            rank=d,
            value=value,
            raw=raw,
            roundoff=roundoff,
            cross_check=None,
            point=_readonly(X[k]),
            n_points=int(X.shape[0]),
            method=(
                f"ESTIMATE (not a bound): max of r(x, x) - |F_{d}(x)|^2 over {where} of "
                f"{X.shape[0]} points"
            ),
        )


# ---------------------------------------------------------------------------- helpers


def _check_range(value: Any, name: str, low: int, high: int, what: str) -> int:
    out = check_int(value, name, minimum=low, what=what)
    if out > high:
        raise InvalidInputError(f"`{name}` must be an int in [{low}, {high}] ({what}); got {out}.")
    return out


def _parse_inputs(kernel: Any, domain: Any, measure: Any) -> tuple[Relation, Domain, Measure]:
    rel = parse_relation(kernel) if isinstance(kernel, str) else kernel
    if not isinstance(rel, Relation):
        raise InvalidInputError(
            "`kernel` must be a certify Relation (e.g. Gaussian(lengthscale=1)) or a spec "
            f"string such as 'gaussian:lengthscale=1'; got {describe(kernel)}."
        )
    dom = parse_domain(domain) if isinstance(domain, str) else domain
    if not isinstance(dom, Domain):
        raise InvalidInputError(
            "`domain` must be a certify Domain (Box, RealSpace, Sphere, FiniteSet) or a spec "
            f"string such as 'box:-1,1'; got {describe(domain)}."
        )
    meas = parse_measure(measure) if isinstance(measure, str) else measure
    if not isinstance(meas, Measure):
        raise InvalidInputError(
            "`measure` must be a certify Measure (Uniform(), Gaussian(std), Chebyshev(), "
            f"Empirical(points)) or a spec string such as 'uniform'; got {describe(measure)}."
        )
    if not rel.symmetric:
        raise InvalidInputError(
            f"`kernel` must be symmetric (a Kernel, or a relation claiming r(x, y) = r(y, x)) "
            f"for a Mercer decomposition; {rel.spec!r} is not. Asymmetric relations have "
            "Schmidt/SVD data instead (theorem T-A in THEORY.md)."
        )
    if rel.x_dim is not None and rel.x_dim != dom.dim:
        raise InvalidInputError(
            f"`kernel` {rel.spec!r} takes points of dimension {rel.x_dim}, but `domain` "
            f"{dom.spec!r} has dimension {dom.dim}."
        )
    meas.check_domain(dom)
    return rel, dom, meas


@dataclass
class _Level:
    rule: QuadratureRule
    spectrum: FloatArray  # descending
    vectors: FloatArray  # columns match spectrum
    diag: FloatArray
    hs: float
    roundoff: float


def _discretise(rel: Relation, dom: Domain, rule: QuadratureRule) -> _Level:
    """Form S = W^(1/2) K W^(1/2), solve it, and check symmetry and PSD-ness."""
    nodes = np.ascontiguousarray(rule.nodes)
    try:
        K = gram(rel, nodes)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"`kernel` {rel.spec!r} cannot be evaluated on the quadrature nodes of "
            f"{dom.spec!r}: {exc}"
        ) from None
    if not np.all(np.isfinite(K)):
        raise InvalidInputError(
            f"`kernel` {rel.spec!r} is not finite at some quadrature nodes of {dom.spec!r}; a "
            "Mercer decomposition needs a continuous (hence bounded) relation on the domain."
        )
    scale = float(np.max(np.abs(K)))
    D = K - K.T
    np.abs(D, out=D)
    asym = float(np.max(D))
    if asym > _SYMMETRY_FACTOR * _EPS * scale:
        j, k = np.unravel_index(int(np.argmax(D)), D.shape)
        raise InvalidInputError(
            f"`kernel` {rel.spec!r} claims symmetry, but r(x, y) - r(y, x) = "
            f"{K[j, k] - K[k, j]:.3e} "
            f"at x = {nodes[j].tolist()}, y = {nodes[k].tolist()} (allowed round-off "
            f"{_SYMMETRY_FACTOR * _EPS * scale:.1e}). Declare it asymmetric and use the SVD route."
        )
    del D
    diag = np.array(np.diag(K), dtype=np.float64)
    sw = np.sqrt(rule.weights)
    S = K
    S *= sw[:, None]
    S *= sw[None, :]
    hs = float(np.vdot(S, S))
    vals, vecs = eigh(S, overwrite_a=True, check_finite=False)
    vals = vals[::-1].copy()
    vecs = vecs[:, ::-1].copy()
    size = float(np.max(np.abs(vals)))
    if size == 0.0:
        raise InvalidInputError(
            f"`kernel` {rel.spec!r} vanishes at every quadrature node of {dom.spec!r}: its Mercer "
            "decomposition is empty."
        )
    roundoff = _ROUNDOFF_FACTOR * nodes.shape[0] * _EPS * size
    if vals[-1] < -roundoff:
        gram_min = float(eigvalsh(gram(rel, nodes), subset_by_index=[0, 0])[0])
        p = nodes.shape[0]
        raise NotPSDError(
            f"`kernel` {rel.spec!r} is not positive semidefinite on {dom.spec!r}: the weighted "
            f"Gram matrix W^(1/2) K W^(1/2) at the {p} quadrature nodes in `.points` has "
            f"eigenvalue {vals[-1]:.3e} < -{roundoff:.1e} (round-off bound), and K itself "
            f"{gram_min:.3e}; so by L7 no <phi, phi> model gets below sup error about "
            f"{max(-gram_min, 0.0) / p:.3e} (a float estimate). Use the asymmetric (SVD) route "
            "for indefinite relations.",
            points=_readonly(nodes),
            eigenvalue=gram_min,
        )
    # Deterministic signs: the largest-magnitude entry of each eigenvector is positive.
    idx = np.argmax(np.abs(vecs), axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1.0
    vecs *= signs
    return _Level(rule, vals, vecs, diag, hs, roundoff)


def _n_axes(dom: Domain) -> int:
    return dom.dim - 1 if isinstance(dom, Sphere) else dom.dim


def _fail(
    rel: Relation,
    dom: Domain,
    meas: Measure,
    rtol: float,
    history: list[tuple[int, float]],
    reason: str,
    rank: int | None,
) -> InvalidInputError:
    compared = [(m, c) for m, c in history if not math.isnan(c)]
    if compared:
        m, c = compared[-1]
        seen = (
            f"the requested eigenvalues still changed by {c:.2e} * lambda_1 at {m} nodes "
            f"(rtol={rtol:.1e})"
        )
        suggest = (
            f"loosen `rtol` (the last change suggests rtol={10 ** math.ceil(math.log10(c)):.0e})"
        )
    else:
        seen = "no two refinement levels could be compared"
        suggest = "start from more nodes (`n`)"
        if rank is not None:
            suggest += f" or ask for fewer eigenpairs (`rank`={rank} needs > {rank} nodes)"
    return InvalidInputError(
        f"mercer did not converge for {rel.spec!r} on {dom.spec!r} with measure "
        f"{meas.spec!r}: {seen}, and {reason}. Remedies: {suggest}; raise `max_nodes`; ask for "
        "fewer eigenpairs (`rank`). Kernels with a kink on the diagonal (Laplace, Brownian) "
        "converge only like n_axis^-2; smooth ones geometrically."
    )


# ---------------------------------------------------------------------------- mercer


def mercer(
    kernel: Relation | str,
    domain: Domain | str,
    *,
    measure: Measure | str = "uniform",
    rank: int | None = None,
    tol: float | None = None,
    n: int | None = None,
    rng: RNGLike = None,
    rtol: float | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    rule: str = "auto",
) -> MercerDecomposition:
    """Mercer decomposition of a PSD relation by quadrature Nystrom (THEORY.md, "Objects").

    Solves ``W^(1/2) K W^(1/2) u = l u`` on the nodes of
    ``quadrature(domain, measure, n=..., rule=rule)`` (tensor Gauss-Legendre on
    boxes for the uniform measure, Gauss-Chebyshev for the Chebyshev measure,
    Gauss-Hermite for a Gaussian measure on ``real:d``, a product rule on
    spheres, scrambled Sobol from 3 dimensions on, the atoms of a discrete
    measure), doubling the nodes per axis (Sobol: the points; the Sobol rules
    share one scrambling, so they are nested) until the requested eigenvalues
    converge:

        max_{i <= m} |l_i^(k) - l_i^(k-1)| <= rtol * l_1^(k)

    between consecutive levels (see :class:`MercerConvergence`; a discrete
    measure is integrated exactly and is not refined).

    Parameters
    ----------
    kernel : Relation or str
        A symmetric PSD relation (any :class:`~certify.relations.Kernel`, or a
        relation claiming symmetry), or its spec string.
    domain : Domain or str
        Where it lives (``"box:-1,1"``, ``"real:1"``, ``"sphere:3"``, ...).
    measure : Measure or str, default="uniform"
        A probability measure on ``domain``.
    rank : int, optional
        Number m of eigenpairs to keep and converge. Default: every discrete
        eigenvalue above ``tol * l_1`` at the accepted level that was also
        compared with the previous level (at most that level's node count).
    tol : float, optional
        Eigenvalue floor relative to l_1, in (0, 1): kept eigenvalues satisfy
        ``l_i > tol * l_1`` (features divide by ``sqrt(l_i)``). Default
        ``max(1e-12, 8 n_nodes eps)``, i.e. never below the round-off band of
        ``eigh`` (:attr:`MercerDecomposition.roundoff`).
    n : int, optional
        ``n`` of :func:`certify.quadrature` at the first level (nodes per axis;
        Sobol: points). Default: half the quadrature default
        (:func:`~certify.relations.quadrature.default_nodes_per_axis`: 16 in
        1-D, 12 in 2-D and on the 2-sphere; Sobol 1024 points).
    rng : numpy.random.Generator, int or None
        Source of the Sobol scrambling seed (one seed for all levels).
    rtol : float, optional
        Convergence tolerance, relative to l_1 (the operator norm). Default
        :func:`default_rtol`: 1e-5 for one-axis rules and discrete measures,
        1e-3 otherwise.
    max_nodes : int, default=4096
        Cap on the total node count. Refinement stops there.
    rule : {"auto", "gauss", "sobol", "exact"}, default="auto"
        Passed to :func:`certify.quadrature`.

    Returns
    -------
    MercerDecomposition
        Eigenvalues, Nystrom features ``r(x, nodes) @ coefficients``, the whole
        discrete spectrum, trace, tails and the convergence record.

    Raises
    ------
    InvalidInputError
        A non-symmetric relation; a measure that does not live on the domain;
        dimensions that do not match; a kernel that cannot be evaluated on the
        nodes (e.g. Brownian at negative points); bad ``rank``/``tol``/``rtol``/
        ``n``/``max_nodes``; ``rank`` above the number of eigenvalues over the
        floor; no convergence within ``max_nodes`` (the message gives the last
        change and the remedies).
    NotPSDError
        A discrete eigenvalue below ``-roundoff``: the relation is not PSD (the
        nodes are the witness points, lemma L7).

    Examples
    --------
    >>> dec = mercer("laplace:lengthscale=1", "box:-1,1", rtol=1e-3)
    >>> dec.convergence.final_change <= 1e-3
    True
    >>> dec = mercer("gaussian:lengthscale=1", "real:1", measure="gaussian:std=1", rank=5)
    >>> q = (3 - np.sqrt(5)) / 2  # closed form: lambda_(n+1) / lambda_n (closed_forms.py)
    >>> bool(np.allclose(dec.eigenvalues[1:] / dec.eigenvalues[:-1], q, rtol=1e-10))
    True
    """
    rel, dom, meas = _parse_inputs(kernel, domain, measure)
    if rank is not None:
        rank = check_int(rank, "rank", minimum=1, what="number of eigenpairs to keep")
    if tol is not None:
        tol = check_real(tol, "tol")
        if not 0.0 < tol < 1.0:
            raise InvalidInputError(
                f"`tol` must lie in (0, 1) (eigenvalue floor relative to lambda_1); got {tol!r}."
            )
    if rtol is not None:
        rtol = check_positive(rtol, "rtol", what="convergence tolerance relative to lambda_1")
    max_nodes = check_int(max_nodes, "max_nodes", minimum=1, what="cap on quadrature nodes")
    if n is not None:
        n = check_int(n, "n", minimum=1, what="first-level nodes per axis, or Sobol points")
    if not isinstance(rule, str):
        raise InvalidInputError(f"`rule` must be a string; got {describe(rule)}.")
    seed = int(as_generator(rng).integers(0, 2**63 - 1))

    probe = quadrature(dom, meas, n=1, rule=rule, rng=seed)  # which rule "auto" picks
    kind = probe.kind
    n_axes = _n_axes(dom)
    if rtol is None:
        rtol = default_rtol(n_axes, kind)
    if kind == "exact":
        n_cur: int | None = None
    elif n is not None:
        n_cur = n
    elif kind == "sobol":
        n_cur = DEFAULT_SOBOL_POINTS // 4
    else:
        n_cur = max(2, default_nodes_per_axis(n_axes) // 2)

    history: list[tuple[int, float]] = []
    prev: _Level | None = None
    m = 0
    changes: FloatArray = np.zeros(0)
    while True:
        try:
            # A rule that overflows while being built (numpy's Gauss-Hermite beyond about
            # 370 nodes) is rejected by QuadratureRule; its float warnings are noise here.
            with np.errstate(all="ignore"):
                qr = quadrature(dom, meas, n=n_cur, rule=rule, rng=seed)
        except InvalidInputError as exc:
            if prev is None:
                raise
            reason = f"building the next level (n={n_cur}) failed: {str(exc).rstrip('.')}"
            raise _fail(rel, dom, meas, rtol, history, reason, rank) from None
        if qr.n_points > max_nodes:
            if prev is None:
                raise InvalidInputError(
                    f"the first quadrature level has {qr.n_points} nodes, above `max_nodes`="
                    f"{max_nodes}; pass a smaller `n` or a larger `max_nodes`."
                )
            reason = f"the next level would need {qr.n_points} nodes > max_nodes={max_nodes}"
            raise _fail(rel, dom, meas, rtol, history, reason, rank)
        level = _discretise(rel, dom, qr)
        lam = level.spectrum
        floor = tol if tol is not None else max(DEFAULT_TOL, level.roundoff / lam[0])
        if lam[0] <= 0.0:  # size > 0 and no eigenvalue below -roundoff: cannot happen
            raise InvalidInputError(  # pragma: no cover
                f"`kernel` {rel.spec!r} has no positive eigenvalue on {dom.spec!r}."
            )
        count = int(np.sum(lam > floor * lam[0]))
        if qr.is_exact:
            m = rank if rank is not None else count
            changes = np.zeros(min(m, lam.size))
            history.append((qr.n_points, 0.0))
            break
        if prev is None:
            history.append((qr.n_points, math.nan))
        else:
            coarse = prev.spectrum
            if rank is not None and rank > coarse.size:
                history.append((qr.n_points, math.nan))
            else:
                m = rank if rank is not None else min(count, coarse.size)
                changes = np.abs(lam[:m] - coarse[:m])
                change = float(np.max(changes) / lam[0])
                history.append((qr.n_points, change))
                if change <= rtol:
                    break
        prev = level
        assert n_cur is not None
        n_cur *= 2

    if m > count:
        raise InvalidInputError(
            f"`rank`={m} exceeds the {count} eigenvalues of {rel.spec!r} on {dom.spec!r} above "
            f"the floor tol * lambda_1 = {floor * lam[0]:.3e} (tol={floor:.1e}); eigenvalue "
            f"{m} is {lam[m - 1]:.3e}. Ask for rank <= {count}, or lower `tol` (not below the "
            f"round-off {level.roundoff:.1e})."
        )
    sw = np.sqrt(qr.weights)
    U = level.vectors[:, :m]
    C = sw[:, None] * U / np.sqrt(lam[:m])
    d0 = level.diag
    stationary = isinstance(rel, _STATIONARY)
    trace = float(d0[0]) if stationary else float(math.fsum(qr.weights * d0))
    conv = MercerConvergence(
        rtol=float(rtol),
        final_change=float(np.max(changes)) / float(lam[0]) if changes.size else 0.0,
        eigenvalue_changes=_readonly(changes),
        n_compared=int(m),
        history=tuple(history),
        rule=kind,
        n=n_cur,
        seed=seed if kind == "sobol" else None,
    )
    return MercerDecomposition(
        kernel=rel,
        domain=dom,
        measure=meas,
        eigenvalues=_readonly(lam[:m]),
        eigenvectors=_readonly(U),
        coefficients=_readonly(C),
        nodes=_readonly(qr.nodes),
        weights=_readonly(qr.weights),
        spectrum=_readonly(lam),
        trace=trace,
        hs_norm_squared=level.hs,
        tol=float(floor),
        roundoff=float(level.roundoff),
        convergence=conv,
    )


# ---------------------------------------------------------------------------- rank_for_tail

TailFunction = Callable[[int], float]
"""A tail ``d -> value`` supplied by the caller (e.g. a certified T(d) via lemma L1')."""


def rank_for_tail(
    decomposition: MercerDecomposition,
    target: float,
    *,
    kind: str | TailFunction = "trace",
    n_points: int = 1024,
    rng: RNGLike = None,
) -> int:
    """The smallest d whose tail is at most ``target`` (THEORY.md, "Tails"; L1, L4 d_eps).

    Parameters
    ----------
    decomposition : MercerDecomposition
    target : float
        ``> 0``.
    kind : {"trace", "l2", "sampled_uniform"} or callable, default="trace"
        ``"trace"``: :meth:`~MercerDecomposition.trace_tail`; ``"l2"``:
        :meth:`~MercerDecomposition.l2_tail` (tau(d); L4 uses ``tau(d) <= eps/2``);
        ``"sampled_uniform"``: :meth:`~MercerDecomposition.sampled_uniform_tail`
        on one sample for all d (an ESTIMATE); a callable ``tail(d) -> float``
        (for instance a certified uniform tail built on the Nystrom features) is
        called at d = 0, 1, 2, ... until it first returns a value <= target, so
        it is never called twice for the same d and need not be monotone. A NaN
        never counts as below the target.
    n_points, rng
        Sample for ``"sampled_uniform"`` (see there).

    Returns
    -------
    int
        The smallest ``d`` in ``[0, decomposition.rank]`` with tail <= target.

    Raises
    ------
    InvalidInputError
        Bad ``target`` or ``kind``, a callable returning a non-number, or no
        ``d <= rank`` reaching the target (the message gives the tail at rank).

    Examples
    --------
    >>> dec = mercer("brownian", "box:0,1", rtol=1e-4)
    >>> rank_for_tail(dec, 0.05)  # trace tail psi1(d + 1/2) / pi^2 <= 0.05 first at d = 2
    2
    """
    if not isinstance(decomposition, MercerDecomposition):
        raise InvalidInputError(
            f"`decomposition` must be a MercerDecomposition (from mercer()); got "
            f"{describe(decomposition)}."
        )
    target = check_positive(target, "target", what="tail level")
    dec = decomposition
    r = dec.rank
    if callable(kind):
        last = math.nan
        for d in range(r + 1):
            value = kind(d)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InvalidInputError(
                    f"the tail callable `kind` must return a real number; got {describe(value)} "
                    f"at d={d}."
                )
            last = float(value)
            if last <= target:  # False for NaN
                return d
        tails: FloatArray = np.array([last])
        what = "the tail callable"
    elif kind == "trace":
        raw = dec.trace - np.concatenate([[0.0], np.cumsum(dec.eigenvalues)])
        tails = np.maximum(raw, 0.0)
        what = "the trace tail"
    elif kind == "l2":
        sq = np.cumsum((dec.spectrum**2)[::-1])[::-1]  # sq[d] = sum_{i >= d} l_i^2 (0-based)
        tails = np.sqrt(np.append(sq, 0.0)[: r + 1])
        what = "the L2 tail tau(d)"
    elif kind == "sampled_uniform":
        X = dec._tail_points(n_points, rng, None)
        tails = np.max(dec._diag_residuals(X, r), axis=0)
        what = "the sampled uniform tail (an estimate)"
    else:
        raise InvalidInputError(
            f"`kind` must be 'trace', 'l2', 'sampled_uniform' or a callable d -> tail; got "
            f"{describe(kind)}."
        )
    if not callable(kind):
        hit = np.flatnonzero(tails <= target)
        if hit.size:
            return int(hit[0])
    raise InvalidInputError(
        f"no d <= rank={r} brings {what} of {dec.kernel_spec!r} to `target`={target:.3e}; at "
        f"d={r} it is {float(tails[-1]):.3e}. Keep more eigenpairs: mercer(..., rank=...) with "
        "a smaller `tol` or more nodes."
    )
