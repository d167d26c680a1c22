"""The sup-norm enclosure engine: branch and bound on boxes.

For an interval-evaluable function f on a box D (a :class:`BoxFunction`; the
main one is the model error e(x, y) = r(x, y) - <phi(x), psi(y)> on X x Y),
:func:`enclose` returns an :class:`Enclosure` of ``S = sup_D |f|``:

* an **upper bound** u, proven: D is partitioned into leaf boxes by repeated
  bisection (the *cover*), and on each leaf an outward-rounded interval
  enclosure (mean-value form intersected with naive interval arithmetic)
  bounds |f|; u is the largest leaf bound;
* a **lower bound** l, attained: a concrete point p with |f(p)| >= l, where l
  is the lower end of a rigorous point enclosure of |f(p)| (candidates come
  from the fused numba kernels on a sample, from box centres, and from a local
  optimiser; every candidate is re-evaluated rigorously before it counts);
* a **verdict** against eps: HOLDS when u <= eps, VIOLATED when l > eps,
  otherwise UNKNOWN. NaN or an infinite bound anywhere is UNKNOWN, never HOLDS.

Refinement is best-first: the leaves with the largest bounds are split (in
batches, evaluated in parallel by the numba kernels) until u / l - 1 <= rel_gap,
eps is decided, or the budget of boxes or seconds runs out (then UNKNOWN).
"""

from __future__ import annotations

import heapq
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.stats import qmc
from tqdm.auto import tqdm

from certify._validation import check_int, check_positive, check_real
from certify.errors import InvalidInputError
from certify.relations.domains import Box

__all__ = [
    "BoxFunction",
    "Budget",
    "Cover",
    "Enclosure",
    "Verdict",
    "enclose",
]

Verdict = Literal["HOLDS", "VIOLATED", "UNKNOWN"]
F64 = npt.NDArray[np.float64]


class BoxFunction(ABC):
    """A real function on a box that can be evaluated at points and enclosed over boxes.

    Subclasses implement :meth:`values` (float estimates at points) and
    :meth:`enclose` (rigorous bounds over boxes); :meth:`sample_lower` may be
    overridden with a faster search for large |f| (the residual uses the fused
    numba kernels on a product sample).
    """

    #: The box the function is defined on.
    domain: Box

    @property
    def dim(self) -> int:
        return self.domain.dim

    @abstractmethod
    def values(self, Z: F64) -> F64:
        """Float values f(Z[k]) (estimates, used only to propose points)."""

    @abstractmethod
    def enclose(self, lo: F64, hi: F64) -> tuple[F64, F64]:
        """Rigorous bounds: f(z) in [flo[k], fhi[k]] for every z in the box [lo[k], hi[k]].

        Degenerate boxes (lo == hi) are points: the result encloses the exact value there.
        NaN means unknown (the engine treats it as an infinite bound).
        """

    def describe(self) -> dict[str, Any]:
        """What the function is, for certificates (overridden by concrete functions)."""
        return {"function": type(self).__name__}

    def sample_lower(self, n_points: int, rng: np.random.Generator) -> tuple[float, F64]:
        """A large |f| on a sample: (estimate, point). Default: scrambled Sobol points."""
        n = 1 << max(4, math.ceil(math.log2(max(n_points, 16))))
        U = qmc.Sobol(self.dim, scramble=True, rng=rng).random(n)
        Z = np.clip(
            self.domain.lower + U * self.domain.widths, self.domain.lower, self.domain.upper
        )
        v = np.abs(self.values(Z))
        k = int(np.nanargmax(v)) if np.any(np.isfinite(v)) else 0
        return float(v[k]), Z[k]


@dataclass(frozen=True)
class Budget:
    """Limits of one enclosure run: boxes evaluated and wall-clock seconds (None = no limit)."""

    boxes: int | None = 200_000
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.boxes is not None:
            object.__setattr__(self, "boxes", check_int(self.boxes, "budget.boxes", minimum=1))
        if self.seconds is not None:
            object.__setattr__(self, "seconds", check_positive(self.seconds, "budget.seconds"))


@dataclass(frozen=True, eq=False)
class Cover:
    """The final partition of the domain into leaf boxes, as a bisection tree.

    ``tree`` is the preorder traversal (-1 = leaf, k >= 0 = split along
    coordinate k); ``splits`` holds the split value of each internal node in
    preorder (children: [lo, s] then [s, hi]); ``leaf_lower``/``leaf_upper``
    are the leaves' boxes and ``leaf_bound`` their bounds on sup |f|, in preorder.
    """

    root_lower: F64
    root_upper: F64
    tree: npt.NDArray[np.int64]
    splits: F64
    leaf_lower: F64
    leaf_upper: F64
    leaf_bound: F64

    @property
    def n_leaves(self) -> int:
        return int(self.leaf_bound.shape[0])


@dataclass(frozen=True, eq=False)
class Enclosure:
    """A two-sided enclosure ``lower <= sup_D |f| <= upper`` with its evidence.

    Attributes
    ----------
    lower : float
        Rigorous lower bound: ``|f(point)| >= lower``.
    point : ndarray of shape (dim,)
        The point behind ``lower``.
    upper : float
        Rigorous upper bound from the cover (``inf`` if any leaf is unbounded).
    eps : float or None
        The tolerance the verdict is against.
    verdict : {"HOLDS", "VIOLATED", "UNKNOWN"} or None
        None when no eps was given.
    cover : Cover
        The leaf boxes and their bounds.
    route : str
        "direct" here; the separable routes (L1, L2) record theirs.
    stop_reason : str
        "rel_gap", "decided", "budget-boxes", "budget-seconds", "nan", "exhausted".
    statistics : dict
        boxes evaluated, seconds, lower-bound sources, ...
    """

    lower: float
    point: F64
    upper: float
    eps: float | None
    verdict: Verdict | None
    rel_gap: float
    cover: Cover
    route: str
    stop_reason: str
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """u / l - 1 (inf when l = 0 < u)."""
        if self.upper == self.lower:
            return 0.0
        return self.upper / self.lower - 1.0 if self.lower > 0 else math.inf

    def __contains__(self, value: float) -> bool:
        return self.lower <= value <= self.upper


def _abs_bounds(flo: F64, fhi: F64) -> tuple[F64, F64]:
    """Bounds of |f| from bounds of f; NaN -> [0, inf]."""
    upper = np.maximum(np.abs(flo), np.abs(fhi))
    lower = np.where(flo > 0, flo, np.where(fhi < 0, -fhi, 0.0))
    bad = np.isnan(flo) | np.isnan(fhi)
    upper = np.where(bad, np.inf, upper)
    lower = np.where(bad, 0.0, lower)
    return lower, upper


def verdict_of(lower: float, upper: float, eps: float | None) -> Verdict | None:
    """HOLDS iff upper <= eps, VIOLATED iff lower > eps, else UNKNOWN; NaN is UNKNOWN."""
    if eps is None:
        return None
    if not math.isnan(lower) and lower > eps:
        return "VIOLATED"
    if math.isfinite(upper) and upper <= eps:
        return "HOLDS"
    return "UNKNOWN"


class _Tree:
    """Growing arrays of the bisection tree's nodes."""

    def __init__(self, lo: F64, hi: F64, bound: float) -> None:
        cap = 1024
        d = lo.shape[0]
        self.lo = np.empty((cap, d))
        self.hi = np.empty((cap, d))
        self.bound = np.empty(cap)
        self.split_dim = np.full(cap, -1, dtype=np.int64)
        self.split_val = np.zeros(cap)
        self.child = np.full(cap, -1, dtype=np.int64)
        self.n = 0
        self.add(lo[None, :], hi[None, :], np.array([bound]))

    def add(self, lo: F64, hi: F64, bound: F64) -> npt.NDArray[np.int64]:
        k = lo.shape[0]
        while self.n + k > self.lo.shape[0]:
            cap = 2 * self.lo.shape[0]
            for name in ("lo", "hi"):
                old = getattr(self, name)
                new = np.empty((cap, old.shape[1]))
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
            for name, fill in (
                ("bound", 0.0),
                ("split_dim", -1),
                ("split_val", 0.0),
                ("child", -1),
            ):
                old = getattr(self, name)
                new = np.full(cap, fill, dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        ids = np.arange(self.n, self.n + k)
        self.lo[ids] = lo
        self.hi[ids] = hi
        self.bound[ids] = bound
        self.n += k
        return ids

    def cover(self) -> Cover:
        tree: list[int] = []
        splits: list[float] = []
        leaves: list[int] = []
        stack = [0]
        while stack:
            node = stack.pop()
            k = int(self.split_dim[node])
            tree.append(k)
            if k < 0:
                leaves.append(node)
            else:
                splits.append(float(self.split_val[node]))
                c = int(self.child[node])
                stack.append(c + 1)  # upper child after the lower one (preorder)
                stack.append(c)
        idx = np.array(leaves, dtype=np.int64)
        return Cover(
            root_lower=self.lo[0].copy(),
            root_upper=self.hi[0].copy(),
            tree=np.array(tree, dtype=np.int64),
            splits=np.array(splits, dtype=np.float64),
            leaf_lower=self.lo[idx].copy(),
            leaf_upper=self.hi[idx].copy(),
            leaf_bound=self.bound[idx].copy(),
        )


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise InvalidInputError(
        f"`rng` must be a numpy Generator, an int seed or None; got {type(rng).__name__}."
    )


class _LowerBound:
    """The best rigorous lower bound found so far, with its point."""

    def __init__(self, f: BoxFunction, dim: int) -> None:
        self.f = f
        self.value = 0.0
        self.point = f.domain.center.copy()
        self.estimate = -math.inf
        self.sources: dict[str, int] = {}

    def offer(self, points: F64, estimates: F64, source: str) -> None:
        """Certify the best of some candidate points if its estimate beats the current bound."""
        if points.shape[0] == 0:
            return
        finite = np.where(np.isfinite(estimates), estimates, -np.inf)
        k = int(np.argmax(finite))
        if not finite[k] > self.value:
            return
        p = points[k : k + 1]
        flo, fhi = self.f.enclose(p, p)
        low, _ = _abs_bounds(flo, fhi)
        if low[0] > self.value:
            self.value = float(low[0])
            self.point = p[0].copy()
            self.sources[source] = self.sources.get(source, 0) + 1


def _polish(f: BoxFunction, start: F64, best: _LowerBound, max_iter: int = 60) -> None:
    """A local maximisation of |f| from ``start`` (L-BFGS-B); the result is only a proposal."""
    box = f.domain

    def neg_abs(z: F64) -> float:
        v = f.values(z[None, :])[0]
        return -abs(float(v)) if math.isfinite(v) else 0.0

    try:
        res = optimize.minimize(
            neg_abs,
            start,
            method="L-BFGS-B",
            bounds=list(zip(box.lower, box.upper, strict=True)),
            options={"maxiter": max_iter},
        )
    except (ValueError, FloatingPointError):  # an optimiser failure only costs a proposal
        return
    z = np.clip(res.x, box.lower, box.upper)
    best.offer(z[None, :], np.array([-neg_abs(z)]), "local-optimiser")


def enclose(
    f: BoxFunction,
    *,
    eps: float | None = None,
    rel_gap: float = 0.05,
    budget: Budget | None = None,
    batch: int | None = None,
    n_sample: int = 4096,
    rng: np.random.Generator | int | None = 0,
    progress: bool = True,
) -> Enclosure:
    """Enclose ``sup |f|`` over ``f.domain`` by branch and bound (see the module docstring).

    Parameters
    ----------
    f : BoxFunction
        The function; its ``domain`` is the root box.
    eps : float, optional
        Tolerance for the verdict (HOLDS iff the proven upper bound is <= eps).
    rel_gap : float, default=0.05
        Stop once ``upper / lower - 1 <= rel_gap``.
    budget : Budget, optional
        Boxes and seconds; default ``Budget()`` (200 000 boxes, no time limit).
        Running out gives verdict UNKNOWN unless eps was already decided.
    batch : int, optional
        Leaves split per round (evaluated together by the vectorised enclosure);
        default: a quarter of the open leaves, between 256 and 8192.
    n_sample : int, default=4096
        Points (or product-sample size hint) for the initial lower-bound search.
    rng : Generator, int or None, default=0
        Seed of the sampling (the result is deterministic for a given seed).
    progress : bool, default=True
        Show a progress bar (only for runs longer than about two seconds).

    Returns
    -------
    Enclosure
    """
    if not isinstance(f, BoxFunction):
        raise InvalidInputError(f"`f` must be a BoxFunction; got {type(f).__name__}.")
    if eps is not None:
        eps = check_real(eps, "eps")
        if eps < 0:
            raise InvalidInputError(f"`eps` must be >= 0 (a sup of |f|); got {eps!r}.")
    rel_gap = check_real(rel_gap, "rel_gap")
    if rel_gap < 0:
        raise InvalidInputError(f"`rel_gap` must be >= 0; got {rel_gap!r}.")
    budget = Budget() if budget is None else budget
    if not isinstance(budget, Budget):
        raise InvalidInputError(f"`budget` must be a certify Budget; got {type(budget).__name__}.")
    if batch is not None:
        batch = check_int(batch, "batch", minimum=1)
    gen = _rng(rng)
    t0 = time.perf_counter()

    root = f.domain
    scale = root.widths.copy()
    rflo, rfhi = f.enclose(root.lower[None, :], root.upper[None, :])
    _, rub = _abs_bounds(rflo, rfhi)
    tree = _Tree(root.lower, root.upper, float(rub[0]))
    heap: list[tuple[float, int]] = [(-float(rub[0]), 0)]
    n_boxes = 1

    best = _LowerBound(f, root.dim)
    est, p = f.sample_lower(n_sample, gen)
    best.offer(p[None, :], np.array([est]), "sample")
    if root.dim <= 12:  # error functions often peak at corners, which samples never hit
        bits = (np.arange(1 << root.dim)[:, None] >> np.arange(root.dim)) & 1
        corners = np.where(bits == 1, root.upper, root.lower)
        with np.errstate(all="ignore"):
            best.offer(corners, np.abs(f.values(corners)), "corner")
    _polish(f, best.point, best)

    def upper_now() -> float:
        return -heap[0][0] if heap else 0.0

    def gap_reached(u: float) -> bool:
        return u == 0.0 or (best.value > 0 and u <= best.value * (1.0 + rel_gap))

    stop = "exhausted"
    rounds = 0
    bar = tqdm(total=budget.boxes, unit="box", delay=2.0, disable=not progress, leave=False)
    try:
        while heap:
            u = upper_now()
            if math.isnan(u):
                stop = "nan"
                break
            if verdict_of(best.value, u, eps) in ("HOLDS", "VIOLATED"):
                stop = "decided"
                break
            if gap_reached(u):
                stop = "rel_gap"
                break
            if budget.boxes is not None and n_boxes >= budget.boxes:
                stop = "budget-boxes"
                break
            if budget.seconds is not None and time.perf_counter() - t0 >= budget.seconds:
                stop = "budget-seconds"
                break
            # Take the leaves with the largest bounds (those that keep u up).
            threshold = best.value * (1.0 + rel_gap)
            take: list[int] = []
            keep: list[tuple[float, int]] = []
            n_take = batch if batch is not None else min(8192, max(256, len(heap) // 4))
            while heap and len(take) < n_take:
                negb, node = heapq.heappop(heap)
                if -negb <= threshold and take:
                    keep.append((negb, node))
                    break
                lo, hi = tree.lo[node], tree.hi[node]
                rel = (hi - lo) / scale
                k = int(np.argmax(rel))
                s = lo[k] + 0.5 * (hi[k] - lo[k])
                if not (lo[k] < s < hi[k]):  # cannot split further in floating point
                    keep.append((negb, node))
                    continue
                tree.split_dim[node] = k
                tree.split_val[node] = s
                take.append(node)
            for item in keep:
                heapq.heappush(heap, item)
            if not take:
                stop = "exhausted"  # only unsplittable leaves remain above the threshold
                break
            ids = np.array(take)
            ks = tree.split_dim[ids]
            ss = tree.split_val[ids]
            lo = np.repeat(tree.lo[ids], 2, axis=0)
            hi = np.repeat(tree.hi[ids], 2, axis=0)
            rows = np.arange(ids.shape[0])
            hi[2 * rows, ks] = ss
            lo[2 * rows + 1, ks] = ss
            flo, fhi = f.enclose(lo, hi)
            _, ub = _abs_bounds(flo, fhi)
            ub = np.minimum(ub, np.repeat(tree.bound[ids], 2))  # the parent's bound holds too
            new = tree.add(lo, hi, ub)
            tree.child[ids] = new[0::2]
            for node, b in zip(new, ub, strict=True):
                heapq.heappush(heap, (-float(b), int(node)))
            n_boxes += new.shape[0]
            bar.update(new.shape[0])
            centres = lo + 0.5 * (hi - lo)
            with np.errstate(all="ignore"):
                vals = np.abs(f.values(centres))
            best.offer(centres, vals, "box-centre")
            rounds += 1
            if rounds % 16 == 0:  # now and then, polish the best point
                _polish(f, best.point, best)
            bar.set_postfix(lower=f"{best.value:.4g}", upper=f"{upper_now():.4g}", refresh=False)
    finally:
        bar.close()

    cover = tree.cover()
    upper = float(np.max(cover.leaf_bound)) if cover.n_leaves else 0.0
    if np.any(np.isnan(cover.leaf_bound)):
        upper = math.inf
    return Enclosure(
        lower=best.value,
        point=best.point,
        upper=upper,
        eps=eps,
        verdict=verdict_of(best.value, upper, eps),
        rel_gap=rel_gap,
        cover=cover,
        route="direct",
        stop_reason=stop,
        statistics={
            "boxes": n_boxes,
            "leaves": cover.n_leaves,
            "seconds": time.perf_counter() - t0,
            "lower_bound_sources": dict(best.sources),
        },
    )
