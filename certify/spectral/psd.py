"""Certified counterexamples to positive semi-definiteness (lemma L7 of THEORY.md).

The symmetric model ``<phi(x), phi(y)>`` has a positive semi-definite (PSD) Gram
matrix at every point set, so a symmetric relation with an indefinite Gram matrix
cannot be approximated by it beyond a certain accuracy (THEORY.md, L7: a Gram
matrix at ``p`` points with smallest eigenvalue ``-gamma < 0`` forces sup error
``>= gamma / p`` on every symmetric model). :func:`check_psd` searches the domain
for such point sets and certifies what it finds in ball arithmetic;
:func:`require_psd` turns a certified counterexample into :class:`NotPSDError`,
the guard of the symmetric pipeline.

A search can refute PSD-ness, never prove it: a record with ``refuted=False``
says "no counterexample found" with the effort spent, not "PSD". The kernels of
:mod:`certify.relations.kernels` are PSD by theorem (their parameters are
validated to the PSD range) and are reported as such without a search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import arb, ctx
from scipy.optimize import minimize
from scipy.stats import qmc

from certify._rigorous import lower_float, upper_float
from certify._validation import check_int
from certify.errors import InvalidInputError, NotPSDError
from certify.relations.asymmetric import CallableRelation
from certify.relations.base import Relation
from certify.relations.domains import Domain, FiniteSet, Sphere
from certify.relations.evaluation import gram
from certify.relations.kernels import Kernel
from certify.relations.measures import as_generator
from certify.relations.spec import parse_domain, parse_relation

__all__ = ["PSDCheck", "check_psd", "require_psd"]

FloatArray = npt.NDArray[np.float64]

#: Bits of working precision of the ball-arithmetic certification (float64 has 53).
PRECISION = 128

# Point sets whose float score lies within this relative distance of the best are
# all certified in arb, and the best *certified* one is kept (at most _N_CERTIFY).
_N_CERTIFY = 3
# Configurations refined by local optimisation of their coordinates.
_N_LOCAL = 3
# Function evaluations of one local optimisation, per coordinate optimised.
_EVALS_PER_COORDINATE = 150
# Scores (and certified bounds) within this relative distance count as tied; ties go
# to the smaller point set.
_TIE = 1e-12
# Above this size, greedy pruning drops the smallest eigenvector entry instead of
# trying every removal.
_FULL_GREEDY_MAX = 64

ENTRIES_ARB = "arb"
ENTRIES_CALLABLE = "callable values (taken as exact)"
ENTRIES_NONE = "none (no candidate below -roundoff_tolerance)"


@dataclass(frozen=True)
class PSDCheck:
    """The outcome of a search for a non-PSD Gram matrix of a symmetric relation.

    ``refuted=True`` is a proof: the Gram matrix ``K = [r(x_i, x_j)]`` at
    ``points`` (exact float64 inputs) has a negative eigenvalue, shown in ball
    arithmetic. ``refuted=False`` proves nothing: either the relation is PSD by
    construction (``psd_by_construction``, a theorem about the kernel family) or
    the search found no certifiable counterexample with the effort recorded here.

    Attributes
    ----------
    relation, domain : str
        Spec strings of the relation and of the domain searched.
    refuted : bool
        Whether PSD-ness is refuted (certified, see :func:`check_psd`).
    psd_by_construction : bool
        The relation is a :class:`~certify.relations.Kernel`, PSD by theorem; no search ran.
    points : ndarray of shape (p, dim) or None
        The retained point set (the counterexample when refuted; otherwise the set
        with the most negative ``eigenvalue / p`` seen). ``None`` without a search.
    eigenvalue : float
        float64 estimate (numpy ``eigh``) of the smallest eigenvalue of the float
        Gram matrix at ``points``; NaN without a search. An estimate, not a bound.
    eigenvector : ndarray of shape (p,) or None
        The float unit vector ``v`` the certificate uses (numpy's eigenvector of
        ``eigenvalue``); the rigorous numbers below are exact functions of it.
    eigenvalue_enclosure : tuple of float or None
        ``(lo, hi)`` with ``lo <= lambda_min(K) <= hi`` for the exact Gram matrix,
        rounded outward to floats: ``hi`` is the Rayleigh quotient of ``v`` (an upper
        bound of ``lambda_min``), ``lo`` a shift ``s`` for which ``K - s I`` was shown
        positive definite by a ball-arithmetic LDL^T factorisation. ``None`` when no
        candidate was negative beyond round-off or the entries could not be
        evaluated rigorously.
    gamma : float
        A rigorous lower bound of ``-lambda_min(K)`` (rounded down); 0.0 if not refuted.
    l7_bound : float
        ``gamma / p`` rounded down: every symmetric model has sup error at least this
        on ``domain`` (L7); 0.0 (the trivial bound) if not refuted.
    sharpened_bound : float
        ``-v^T K v / (sum_i |v_i|)^2`` rounded down, the same argument without the
        step ``(sum_i |v_i|)^2 <= p |v|^2``; always ``>= l7_bound``; 0.0 if not refuted.
    entries : str
        How the certificate evaluated the Gram entries: ``"arb"`` (ball arithmetic
        from the relation's formula), ``"callable values (taken as exact)"`` (a
        black-box callable: its returned floats are the relation), ``"none (...)"``
        when nothing was certified (no search, or no candidate negative beyond
        round-off), or the reason why no rigorous evaluation was possible.
    roundoff_tolerance : float
        A float eigenvalue above ``-roundoff_tolerance`` counts as round-off
        (``16 p^2 eps max|K_ij|`` at ``points``: eigh's backward error plus the
        entries' own rounding, with headroom); such candidates are not certified.
    n_configurations : int
        Search effort: point sets whose smallest Gram eigenvalue was computed
        (sampled sets, pruned subsets and local-optimisation steps).
    n_local_searches : int
        Point sets whose coordinates were locally optimised.
    max_points, n_restarts : int
        The search settings used.
    """

    relation: str
    domain: str
    refuted: bool
    psd_by_construction: bool
    points: FloatArray | None
    eigenvalue: float
    eigenvector: FloatArray | None
    eigenvalue_enclosure: tuple[float, float] | None
    gamma: float
    l7_bound: float
    sharpened_bound: float
    entries: str
    roundoff_tolerance: float
    n_configurations: int
    n_local_searches: int
    max_points: int
    n_restarts: int

    @property
    def n_points(self) -> int:
        """``p``, the number of points in ``points`` (0 without a search)."""
        return 0 if self.points is None else int(self.points.shape[0])

    @property
    def status(self) -> str:
        """``"refuted"``, ``"psd by construction"`` or ``"no counterexample found"``."""
        if self.refuted:
            return "refuted"
        if self.psd_by_construction:
            return "psd by construction"
        return "no counterexample found"


# --- validation ------------------------------------------------------------------------
def _validate(relation: Relation, domain: Domain) -> None:
    if not relation.symmetric:
        hint = (
            " If the callable is symmetric, build it with CallableRelation(..., symmetric=True)."
            if isinstance(relation, CallableRelation)
            else ""
        )
        raise InvalidInputError(
            f"`relation` must be symmetric (r(x, y) = r(y, x)) for a PSD check; {relation.spec!r} "
            "does not claim symmetry, so no symmetric model <phi, phi> can represent it in the "
            "first place. Use an asymmetric model <phi, psi> instead (certify_model with a "
            f"psi network, theorem T-A).{hint}"
        )
    if not domain.is_compact:
        raise InvalidInputError(
            f"`domain` must be compact (a box, a sphere or a finite set) to be searched; got "
            f"{domain.spec!r}."
        )
    if relation.x_dim is not None and relation.x_dim != domain.dim:
        raise InvalidInputError(
            f"`domain` must have dimension {relation.x_dim} for {relation.spec!r}; got "
            f"{domain.spec!r} of dimension {domain.dim}."
        )


# --- float search ----------------------------------------------------------------------
def _roundoff(K: FloatArray) -> float:
    p = K.shape[0]
    scale = float(np.max(np.abs(K))) if K.size else 0.0
    return 16.0 * p * p * float(np.finfo(np.float64).eps) * scale


def _smallest(K: FloatArray) -> tuple[float, FloatArray]:
    """Smallest eigenvalue of the symmetric part of K and a unit eigenvector."""
    w, V = np.linalg.eigh(0.5 * (K + K.T))
    return float(w[0]), V[:, 0]


@dataclass
class _Candidate:
    score: float  # -lambda_min / p of the float Gram matrix
    points: FloatArray


class _Search:
    """The float search state: relation, domain, effort counter."""

    def __init__(self, relation: Relation, domain: Domain, gen: np.random.Generator) -> None:
        self.relation = relation
        self.domain = domain
        self.gen = gen
        self.n_configurations = 0
        self.n_local = 0

    def gram(self, X: FloatArray) -> FloatArray:
        return np.asarray(gram(self.relation, X), dtype=np.float64)

    def score(self, K: FloatArray) -> float:
        self.n_configurations += 1
        lam, _ = _smallest(K)
        return -lam / K.shape[0]

    # Initial point sets ----------------------------------------------------------------
    def initial(self, n_points: int, n_restarts: int) -> list[FloatArray]:
        dom, gen = self.domain, self.gen
        if isinstance(dom, FiniteSet):
            if dom.size <= n_points:
                return [np.array(dom.points)]
            return [
                np.array(dom.points[gen.choice(dom.size, n_points, replace=False)])
                for _ in range(n_restarts)
            ]
        if isinstance(dom, Sphere):
            d = dom.dim
            axes = np.vstack([np.eye(d), -np.eye(d)])[:n_points]
            sets = [axes]
            for _ in range(n_restarts):
                Z = gen.standard_normal((n_points, d))
                sets.append(Z / np.linalg.norm(Z, axis=1, keepdims=True))
            return sets
        box = dom.bounding_box()
        lo, hi, d = box.lower, box.upper, box.dim
        k = math.floor(n_points ** (1.0 / d) + 1e-9)
        if k >= 2:
            axes_1d = [np.linspace(a, b, k) for a, b in zip(lo, hi, strict=True)]
            grid = np.stack(np.meshgrid(*axes_1d, indexing="ij"), axis=-1).reshape(-1, d)
        else:  # too many dimensions for a grid: random vertices of the box
            grid = np.where(gen.integers(0, 2, size=(n_points, d)) == 1, hi, lo)
        sets = [grid]
        m = max(1, math.ceil(math.log2(n_points)))
        sobol = _sobol(d, int(gen.integers(0, 2**31 - 1)))
        sets.append(lo + (hi - lo) * sobol.random_base2(m)[:n_points])
        for _ in range(n_restarts):
            sets.append(lo + (hi - lo) * gen.random((n_points, d)))
        return sets

    # Greedy pruning ------------------------------------------------------------------------
    def prune(self, X: FloatArray, K: FloatArray | None = None) -> _Candidate:
        """Best subset (by -lambda_min / p) on a greedy path of removals, down to one point.

        L7's bound is gamma / p, so a smaller set with almost the same gamma is better:
        at each step the removal that leaves the best score is taken (for large sets,
        the point with the smallest eigenvector entry).
        """
        if K is None:
            K = self.gram(X)
        idx = list(range(X.shape[0]))
        best = _Candidate(self.score(K), X)
        while len(idx) > 1:
            sub = K[np.ix_(idx, idx)]
            if len(idx) > _FULL_GREEDY_MAX:
                _, v = _smallest(sub)
                self.n_configurations += 1
                drop = int(np.argmin(np.abs(v)))
                idx.pop(drop)
                continue
            trial_scores = []
            for j in range(len(idx)):
                keep = idx[:j] + idx[j + 1 :]
                trial_scores.append(self.score(K[np.ix_(keep, keep)]))
            j = int(np.argmax(trial_scores))
            idx.pop(j)
            # Ties within round-off go to the smaller set (a plainer witness).
            if trial_scores[j] >= best.score - _TIE * abs(best.score):
                best = _Candidate(trial_scores[j], X[idx])
        return best

    # Local optimisation of the coordinates -------------------------------------------------
    def local(self, X: FloatArray) -> FloatArray:
        """Coordinates of X moved to lower lambda_min (Powell: the objective has kinks)."""
        dom = self.domain
        if isinstance(dom, FiniteSet):
            return X
        p, d = X.shape
        self.n_local += 1
        to_points: Callable[[FloatArray], FloatArray]
        bounds: list[tuple[float, float]] | None
        if isinstance(dom, Sphere):

            def to_points(z: FloatArray) -> FloatArray:
                Z = z.reshape(p, d)
                norms = np.linalg.norm(Z, axis=1, keepdims=True)
                return np.asarray(Z / np.where(norms > 0, norms, 1.0), dtype=np.float64)

            bounds = None
        else:
            box = dom.bounding_box()

            def to_points(z: FloatArray) -> FloatArray:
                return np.asarray(np.clip(z.reshape(p, d), box.lower, box.upper), dtype=np.float64)

            bounds = [(float(a), float(b)) for a, b in zip(box.lower, box.upper, strict=True)] * p

        def objective(z: FloatArray) -> float:
            Y = to_points(z)
            if not np.all(dom.contains(Y)):
                return 0.0
            try:
                K = self.gram(Y)
            except InvalidInputError:  # the relation is undefined there: no evidence
                return 0.0
            return -self.score(K)

        res = minimize(
            objective,
            X.ravel(),
            method="Powell",
            bounds=bounds,
            options={"maxfev": _EVALS_PER_COORDINATE * p * d, "xtol": 1e-12, "ftol": 1e-14},
        )
        Y = to_points(np.asarray(res.x, dtype=np.float64))
        return Y if np.all(dom.contains(Y)) else X


def _sobol(d: int, seed: int) -> qmc.Sobol:
    try:
        return qmc.Sobol(d, scramble=True, rng=seed)
    except TypeError:  # scipy < 1.15 spells it `seed`
        return qmc.Sobol(d, scramble=True, seed=seed)


def _distinct(cands: list[_Candidate], limit: int) -> list[_Candidate]:
    """The best ``limit`` candidates by score, without repeated point sets."""
    out: list[_Candidate] = []
    seen: set[bytes] = set()
    for c in sorted(cands, key=lambda c: (-c.score, c.points.shape[0])):
        key = np.ascontiguousarray(c.points[np.lexsort(c.points.T[::-1])]).tobytes()
        if key in seen:
            continue
        seen.add(key)
        out.append(c)
        if len(out) == limit:
            break
    return out


# --- ball-arithmetic certification ----------------------------------------------------------
@dataclass(frozen=True)
class _Certified:
    refuted: bool
    enclosure: tuple[float, float] | None
    gamma: float
    l7_bound: float
    sharpened_bound: float
    entries: str


def _arb_gram(relation: Relation, X: FloatArray) -> tuple[list[list[arb]] | None, str]:
    """Balls containing r(x_i, x_j) for every i, j (all p^2 entries, both triangles)."""
    p, d = X.shape
    if isinstance(relation, CallableRelation):
        K = gram(relation, X)
        return [[arb(float(K[i, j])) for j in range(p)] for i in range(p)], ENTRIES_CALLABLE
    # The checker's own ball formulas (imported here: certificates sits downstream).
    from certify.certificates.arb_models import NotCheckableError, arb_relation

    try:
        model = arb_relation(relation, d, d)
        balls = [[arb(float(c)) for c in row] for row in X]
        entries = [[model.value(balls[i], balls[j]) for j in range(p)] for i in range(p)]
    except NotCheckableError as exc:
        return None, f"not evaluable in ball arithmetic ({exc})"
    return entries, ENTRIES_ARB


def _positive_definite(S: list[list[arb]], shift: arb) -> bool:
    """Whether every symmetric matrix in the balls of ``S - shift I`` is positive definite.

    Gaussian elimination without pivoting in ball arithmetic: the pivots of the exact
    matrix lie in the computed balls, and all pivots > 0 means all leading principal
    minors > 0 (Sylvester's criterion).
    """
    p = len(S)
    A = [[S[i][j] - shift if i == j else S[i][j] for j in range(p)] for i in range(p)]
    for k in range(p):
        pivot = A[k][k]
        if not pivot > 0:
            return False
        for i in range(k + 1, p):
            f = A[i][k] / pivot
            for j in range(k + 1, p):
                A[i][j] -= f * A[k][j]
    return True


def _certify(relation: Relation, X: FloatArray, v: FloatArray) -> _Certified:
    """Rigorous Rayleigh quotient, eigenvalue enclosure and L7 bounds at the points X."""
    p = X.shape[0]
    with ctx.workprec(PRECISION):
        K, entries = _arb_gram(relation, X)
        if K is None:
            return _Certified(False, None, 0.0, 0.0, 0.0, entries)
        half = arb(0.5)
        S = [[(K[i][j] + K[j][i]) * half for j in range(p)] for i in range(p)]
        vb = [arb(float(c)) for c in v]
        quad = arb(0)
        for i in range(p):
            row = arb(0)
            for j in range(p):
                row += S[i][j] * vb[j]
            quad += vb[i] * row
        norm2 = arb(0)
        norm1 = arb(0)
        for c in vb:
            norm2 += c * c
        for c in vb:
            norm1 += abs(c)
        rho = quad / norm2
        if not (rho.is_finite() and all(s.is_finite() for row in S for s in row)):
            return _Certified(False, None, 0.0, 0.0, 0.0, entries)
        hi = upper_float(rho)
        lo = _lower_eigenvalue_bound(S, rho)
        refuted = bool(rho < 0)
        if not refuted:
            return _Certified(False, (lo, hi), 0.0, 0.0, 0.0, entries)
        return _Certified(
            True,
            (lo, hi),
            gamma=lower_float(-rho),
            l7_bound=lower_float(-rho / p),
            sharpened_bound=lower_float(-quad / (norm1 * norm1)),
            entries=entries,
        )


def _lower_eigenvalue_bound(S: list[list[arb]], rho: arb) -> float:
    """A float ``s <= lambda_min`` of every symmetric matrix in the balls S.

    Tries shifts just below the Rayleigh quotient (tightest first); falls back on
    Gershgorin's disc bound, which always holds.
    """
    p = len(S)
    scale = max(upper_float(abs(s)) for row in S for s in row)
    scale = scale if scale > 0 else 1.0
    top = lower_float(rho)
    for k in (96, 64, 40, 20, 10, 4, 0):
        s = arb(top) - arb(scale) * arb(2) ** (-k)
        if _positive_definite(S, s):
            return lower_float(s)
    gersh = min(
        lower_float(S[i][i] - sum((abs(S[i][j]) for j in range(p) if j != i), arb(0)))
        for i in range(p)
    )
    return gersh


# --- public API ---------------------------------------------------------------------------
def check_psd(
    relation: Relation | str,
    domain: Domain | str,
    *,
    n_points: int = 24,
    n_restarts: int = 6,
    rng: np.random.Generator | int | None = None,
    search_kernels: bool = False,
) -> PSDCheck:
    """Search for a certified non-PSD Gram matrix of a symmetric relation (lemma L7).

    Every symmetric model ``s(x, y) = <phi(x), phi(y)>`` has PSD Gram matrices, so if
    the Gram matrix ``K = [r(x_i, x_j)]`` of ``r`` at ``p`` points of ``domain`` has
    smallest eigenvalue ``-gamma < 0``, then

        sup over domain x domain of |r - s|  >=  gamma / p        (L7)

    for every such model. Proof, for any vector ``v != 0`` with ``v^T K v < 0``:
    the Gram matrix ``S`` of ``s`` at the points is PSD, so with ``A = K - S``,
    ``v^T A v = v^T K v - v^T S v <= v^T K v < 0``, hence
    ``|v^T K v| <= |v^T A v| <= max_ij |A_ij| (sum_i |v_i|)^2 <= max_ij |A_ij| p |v|^2``
    (Cauchy-Schwarz for the last step), and ``max_ij |A_ij|`` is at most the sup error
    because the points lie in ``domain``. With ``v`` an eigenvector of ``-gamma`` this
    is ``max_ij |A_ij| >= gamma / p``; any upper bound ``-gamma'`` (``gamma' <= gamma``)
    of the Rayleigh quotient ``v^T K v / |v|^2`` gives the weaker valid bound
    ``gamma' / p``, which is what is certified. Stopping one step earlier gives
    ``sharpened_bound = -v^T K v / (sum_i |v_i|)^2 >= gamma' / p``.

    Search. Point sets of ``n_points`` points are sampled (a tensor grid or random
    vertices of the box, a scrambled Sobol set, ``n_restarts`` uniform sets; on a
    sphere the ``+-e_i`` and uniform sets; on a finite set the set itself or random
    subsets). Since the bound is ``gamma / p``, small sets with a large ``gamma`` are
    best: each sampled set is pruned greedily, one point at a time down to a single
    point (a negative diagonal ``r(x, x) < 0`` is the case ``p = 1``), keeping the
    subset with the largest ``-lambda_min / p`` (numpy ``eigh`` on float Gram
    matrices from :func:`certify.gram`). The best few subsets then have their
    coordinates optimised locally (scipy ``minimize``, Powell, on ``lambda_min``;
    boxes keep their bounds, spheres are parametrised by normalisation) and are
    pruned again.

    Certification. The float results are proposals. At the best candidates the Gram
    entries are re-evaluated in ``arb`` balls at the exact float points (the
    checker's formulas, :func:`certify.certificates.arb_models.arb_relation`; a
    black-box :class:`~certify.relations.CallableRelation` *is* its float outputs,
    which are then taken as exact). With the float eigenvector ``v`` the Rayleigh
    quotient ``rho = v^T K v / v^T v`` is computed in ball arithmetic; it is an upper
    bound of ``lambda_min(K)``, so a ball entirely below 0 proves ``K`` is not PSD and
    ``gamma = -upper(rho)``, rounded down, is a rigorous lower bound of ``-lambda_min``.
    A lower end of the eigenvalue enclosure comes from an LDL^T factorisation of
    ``K - s I`` in balls (all pivots > 0 proves ``lambda_min > s``). Among the
    certified candidates the largest certified ``l7_bound`` is kept.

    A search cannot prove PSD-ness: ``refuted=False`` means "no counterexample found".

    Parameters
    ----------
    relation : Relation or str
        A relation claiming symmetry (``relation.symmetric``), or its spec string,
        e.g. ``"expr:-Abs(x0-y0)"``.
    domain : Domain or str
        A compact domain (box, sphere or finite set) of the relation's dimension.
    n_points : int, default=24
        Size of the sampled point sets (the largest ``p`` searched); >= 2.
    n_restarts : int, default=6
        Number of random point sets (besides the deterministic ones); >= 1.
    rng : numpy.random.Generator, int or None, default=None
        Source of randomness of the search.
    search_kernels : bool, default=False
        A :class:`~certify.relations.Kernel` is PSD by theorem (its parameters are
        validated to the PSD range), so by default it is reported as
        ``psd_by_construction`` without a search. ``True`` searches anyway (a sanity
        check: float round-off may produce tiny negative eigenvalues, which the
        certification then rejects).

    Returns
    -------
    PSDCheck
        Frozen record: ``refuted``, ``points``, ``eigenvalue`` (float estimate),
        ``eigenvalue_enclosure``, ``gamma``, ``l7_bound`` and ``sharpened_bound``
        (rounded down), ``eigenvector``, ``entries``, and the search effort.

    Raises
    ------
    InvalidInputError
        A relation that does not claim symmetry (use an asymmetric <phi, psi> model:
        ``certify_model`` with ``psi``), a
        non-compact domain, a dimension mismatch, or bad settings.

    Examples
    --------
    >>> res = check_psd("expr:-Abs(x0-y0)", "box:-1,1", rng=0)
    >>> res.refuted, res.l7_bound >= 1.0  # K = [[0, -2], [-2, 0]] at {-1, 1}
    (True, True)
    >>> check_psd("gaussian:lengthscale=0.5", "box:-1,1").status
    'psd by construction'
    """
    rel = parse_relation(relation)
    dom = parse_domain(domain)
    max_points = check_int(n_points, "n_points", minimum=2, what="size of the sampled point sets")
    restarts = check_int(n_restarts, "n_restarts", minimum=1, what="random point sets")
    gen = as_generator(rng)
    if not isinstance(search_kernels, bool):
        raise InvalidInputError(f"`search_kernels` must be a bool; got {search_kernels!r}.")
    _validate(rel, dom)
    if isinstance(rel, Kernel) and not search_kernels:
        return PSDCheck(
            relation=rel.spec,
            domain=dom.spec,
            refuted=False,
            psd_by_construction=True,
            points=None,
            eigenvalue=math.nan,
            eigenvector=None,
            eigenvalue_enclosure=None,
            gamma=0.0,
            l7_bound=0.0,
            sharpened_bound=0.0,
            entries="none (PSD by construction: no search)",
            roundoff_tolerance=0.0,
            n_configurations=0,
            n_local_searches=0,
            max_points=max_points,
            n_restarts=restarts,
        )

    search = _Search(rel, dom, gen)
    cands = [search.prune(X) for X in search.initial(max_points, restarts)]
    for c in _distinct(cands, _N_LOCAL):
        cands.append(search.prune(search.local(c.points)))
    best_float = max(cands, key=lambda c: c.score)

    chosen: tuple[FloatArray, float, FloatArray, float, _Certified] | None = None
    for c in _distinct(cands, _N_CERTIFY):
        X = np.array(c.points, dtype=np.float64)
        K = search.gram(X)
        lam, v = _smallest(K)
        tol = _roundoff(K)
        if not lam < -tol:
            continue
        cert = _certify(rel, X, v)
        if chosen is None or _better(cert, X.shape[0], chosen[4], chosen[0].shape[0]):
            chosen = (X, lam, v, tol, cert)
    if chosen is None:
        X = np.array(best_float.points, dtype=np.float64)
        K = search.gram(X)
        lam, v = _smallest(K)
        tol = _roundoff(K)
        cert = _Certified(False, None, 0.0, 0.0, 0.0, ENTRIES_NONE)
    else:
        X, lam, v, tol, cert = chosen
    X = _readonly(X)
    return PSDCheck(
        relation=rel.spec,
        domain=dom.spec,
        refuted=cert.refuted,
        psd_by_construction=False,
        points=X,
        eigenvalue=lam,
        eigenvector=_readonly(v),
        eigenvalue_enclosure=cert.enclosure,
        gamma=cert.gamma,
        l7_bound=cert.l7_bound,
        sharpened_bound=cert.sharpened_bound,
        entries=cert.entries,
        roundoff_tolerance=tol,
        n_configurations=search.n_configurations,
        n_local_searches=search.n_local,
        max_points=max_points,
        n_restarts=restarts,
    )


def _better(new: _Certified, p_new: int, old: _Certified, p_old: int) -> bool:
    """Whether a certified candidate beats the kept one (larger L7 bound; ties: fewer points)."""
    if not new.refuted:
        return False
    if not old.refuted or new.l7_bound > old.l7_bound * (1 + _TIE):
        return True
    return new.l7_bound >= old.l7_bound * (1 - _TIE) and p_new < p_old


def _readonly(arr: FloatArray) -> FloatArray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def require_psd(
    relation: Relation | str,
    domain: Domain | str,
    **options: Any,
) -> PSDCheck:
    """Guard of the symmetric pipeline: raise :class:`NotPSDError` on a certified counterexample.

    Runs :func:`check_psd` (same arguments and keyword options) and raises when it
    refutes PSD-ness; otherwise returns its record (PSD by construction, or no
    counterexample found, which is *not* a proof of PSD-ness).

    Raises
    ------
    NotPSDError
        With ``points`` (the ``(p, dim)`` witness) and ``eigenvalue`` (the enclosure
        ``(lo, hi)`` of the smallest Gram eigenvalue) attached; the message gives the
        L7 bound ``gamma / p`` that no ``<phi, phi>`` model can beat.
    InvalidInputError
        As :func:`check_psd`.

    Examples
    --------
    >>> try:
    ...     require_psd("expr:x0*y0 - 1", "box:-1,1", rng=0)
    ... except NotPSDError as err:
    ...     print(err.points.shape[1], err.eigenvalue[1] < 0)
    1 True
    """
    res = check_psd(relation, domain, **options)
    if res.refuted:
        assert res.points is not None and res.eigenvalue_enclosure is not None
        lo, hi = res.eigenvalue_enclosure
        p = res.n_points
        raise NotPSDError(
            f"`relation` {res.relation!r} is not positive semidefinite on {res.domain!r}: the "
            f"Gram matrix at the {p} point(s) in `.points` has eigenvalue {res.eigenvalue:.3e} "
            f"(enclosed in [{lo:.3e}, {hi:.3e}]), so no <phi, phi> model gets below sup error "
            f"{res.l7_bound:.3e} (L7: gamma / p with gamma >= {res.gamma:.3e}, p = {p}). Use "
            "an asymmetric <phi, psi> model (certify_model with psi) for indefinite relations.",
            points=res.points,
            eigenvalue=res.eigenvalue_enclosure,
        )
    return res
