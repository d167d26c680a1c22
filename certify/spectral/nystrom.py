"""Certified Nystrom features and the certified uniform tail T(d) (THEORY.md, L1, L1').

The Nystrom features of a Mercer decomposition (:mod:`certify.spectral.mercer`)
are finite kernel sums

    F_i(x) = sum_j C_ji r(x, x_j),        i = 1..m,

with nodes x_j and a coefficient matrix C. Being finite sums of the relation,
they are interval-evaluable: :class:`NystromFeatures` encloses F and its
Jacobian over boxes (the :class:`~certify.certificates.functions.FeatureMap`
protocol), so the sup-norm enclosure engine can bound the diagonal residual
``r(x, x) - |F(x)|^2`` of lemma L1 over a box.

Lemma L1' turns that diagonal bound into a bound on the sup-norm error
``sup |r - <F, F>|``: with ``g_i = sum_j C_ji k(., x_j)`` in the RKHS H of r,
``F_i(x) = <k_x, g_i>_H`` and the Gram matrix ``G = [<g_i, g_k>_H] = C^T K C``
(``K = r(nodes, nodes)``) is computable exactly. :func:`certify_l1_prime` proves
``lambda_max(G) <= 1`` in ball arithmetic at the exact float nodes and
coefficients, whatever rounding happened while the eigenpairs were computed;
then ``r - <F, F>`` is PSD and L1 gives

    sup_{x, y} |r(x, y) - <F(x), F(y)>|  <=  T(d) = sup_x (r(x, x) - |F(x)|^2).

:func:`certified_uniform_tail` runs both steps. In exact arithmetic the Nystrom
features have ``G = I`` exactly, so the computed ones have ``lambda_max(G) = 1 +
(round-off)`` and the check would fail by a hair: :meth:`NystromFeatures.from_mercer`
multiplies C by a shrink factor ``s = 1 - delta`` (recorded), at a cost of at most
``(1 - s^2) |F(x)|^2 <= (1 - s^2) lambda_max(G) r(x, x)`` in the diagonal residual
(about ``2 delta r(x, x)``).

Floating-point assumptions (as in :mod:`certify._kernels.interval`): IEEE 754
binary64 with round-to-nearest; the relation's own interval enclosures (libm
accurate to 4 ulp). The sums over the nodes are accumulated in float64 (a numba
kernel summing in a fixed order; its pure-numpy twin uses BLAS, whose order is
unknown) and their rounding is bounded a posteriori by a bound that holds for
every summation order (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., eq. (3.5): ``|fl(x^T y) - x^T y| <= gamma_n |x|^T |y|``, ``gamma_n = n u /
(1 - n u)``, plus ``2 n`` times the underflow unit).

Performance: the engine calls :meth:`NystromFeatures.enclose` on the boxes, then
at their centres, then :meth:`NystromFeatures.enclose_jacobian` on the same boxes;
the mean-value form of the first call computes all three, and a small per-instance
memo (keyed by the exact box arrays) serves the other two. The (box, node) work is
tiled (about 2^18 pairs at a time), never forming a (boxes, nodes, features) array.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import numpy.typing as npt
from flint import arb, arb_mat, ctx

from certify._kernels.interval import down as _iv_down
from certify._kernels.interval import up as _iv_up
from certify._kernels.taylor import DEFAULT_ORDER as DEFAULT_TAYLOR_ORDER
from certify._kernels.taylor import GAP_ORDER as GAP_TAYLOR_ORDER
from certify._kernels.taylor import diagonal_enclosure as taylor_diagonal
from certify._kernels.taylor import gap_enclosure as taylor_gap
from certify._kernels.taylor import multi_indices as taylor_multi_indices
from certify._kernels.taylor import unit_monomials as taylor_unit_monomials
from certify._rigorous import lower_float
from certify._validation import as_points, check_int, check_real, describe
from certify.errors import InvalidInputError
from certify.relations.base import Relation
from certify.relations.domains import Box
from certify.relations.evaluation import gram
from certify.relations.kernels import Gaussian, Kernel
from certify.relations.spec import parse_domain
from certify.spectral.mercer import MercerDecomposition
from certify.spectral.psd import _lower_eigenvalue_bound, _positive_definite

if TYPE_CHECKING:  # certificates sits downstream of spectral (DESIGN.md): imported lazily
    from certify.certificates.enclosure import Budget, Enclosure, Verdict

__all__ = [
    "DEFAULT_DELTA",
    "L1PrimeCheck",
    "NystromFeatures",
    "UniformTail",
    "certified_feature_tail",
    "certified_uniform_tail",
    "certify_l1_prime",
    "smallest_certified_rank",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_DELTA: float = 1e-9
"""Smallest shrink ``delta`` (``s = 1 - delta``) of :meth:`NystromFeatures.from_mercer`."""

PRECISION: int = 128
"""Bits of working precision of the ball-arithmetic L1' check (float64 has 53)."""

METHODS = ("best", "naive", "mean_value")
"""Enclosure methods of :meth:`NystromFeatures.enclose`."""

_U = 2.0**-53  # unit round-off of binary64
_ETA = 2.0**-1074  # smallest subnormal: bound on the underflow error of one product
_PAIR_CHUNK = 1 << 18  # (box, node) pairs enclosed at once (about 20 MB of work arrays)
_FORWARD_ENTRIES = 1 << 22  # largest float kernel block of forward()
_ARB_BLOCK = 256  # node block of the ball-arithmetic Gram matrix
_ARB_KEEP_MAX = 1536  # keep the arb Gram blocks in memory up to this many nodes
_MEMO_SIZE = 4


# ---------------------------------------------------------------------------- rounding


def _down(x: FloatArray) -> FloatArray:
    """A float array <= the exact results of correctly rounded operations ``x``."""
    return np.nextafter(x, -np.inf)


def _up(x: FloatArray) -> FloatArray:
    """A float array >= the exact results of correctly rounded operations ``x``."""
    return np.nextafter(x, np.inf)


def _gamma_up(n: int) -> float:
    """A float >= gamma_n = n u / (1 - n u) (Higham's constant), for n u < 1/2."""
    nu = n * _U
    if not nu < 0.5:
        raise InvalidInputError(f"too many nodes ({n}) for the float64 error bound.")
    return math.nextafter(math.nextafter(nu / (1.0 - nu), math.inf) * (1.0 + 4.0 * _U), math.inf)


@numba.njit(cache=True, parallel=True)
def _kernel_sums_numba(v_lo, v_hi, col, C, abs_C, gamma, out_lo, out_hi):  # pragma: no cover
    """Rigorous bounds of ``F_b = sum_j C_j v_bj`` for intervals ``v_bj`` and exact floats C.

    ``v_lo, v_hi`` have shape ``(k * n, D)``: row ``b * n + j`` holds the enclosure of
    (box b, node j), column ``col`` is used. Midpoint-radius form: with ``v in [M - D,
    M + D]`` (M, D floats, D rounded up) the exact set is ``sum_j C_j M_j +- sum_j |C_j| D_j``
    (no overestimation: C is a point matrix). The three sums are accumulated in
    float64 in a fixed order; their rounding is bounded a posteriori by ``gamma_n``
    (module docstring). A box with a non-finite end anywhere gets ``[-inf, inf]``.
    """
    n, m = C.shape
    k = out_lo.shape[0]
    for b in numba.prange(k):
        cen = np.zeros(m)
        spr = np.zeros(m)
        siz = np.zeros(m)
        bad = False
        for j in range(n):
            lo = v_lo[b * n + j, col]
            hi = v_hi[b * n + j, col]
            if lo != lo or hi != hi or lo == -np.inf or hi == np.inf:
                bad = True
                break
            mid = lo + 0.5 * (hi - lo)
            rad = _iv_up(max(hi - mid, mid - lo))
            amid = abs(mid)
            for i in range(m):
                cen[i] += mid * C[j, i]
                spr[i] += rad * abs_C[j, i]
                siz[i] += amid * abs_C[j, i]
        if bad:
            for i in range(m):
                out_lo[b, i] = -np.inf
                out_hi[b, i] = np.inf
            continue
        for i in range(m):
            # exact radius <= (spr + gamma siz) / (1 - gamma) + 2 n eta (underflow),
            # and 1 / (1 - gamma) <= 1 + 2 gamma
            tot = _iv_up(spr[i] + _iv_up(gamma * siz[i]))
            tot = _iv_up(tot * (1.0 + 2.0 * gamma))
            tot = _iv_up(tot + 2.0 * n * _ETA)
            out_lo[b, i] = _iv_down(cen[i] - tot)
            out_hi[b, i] = _iv_up(cen[i] + tot)


def _kernel_sums_numpy(
    v_lo: FloatArray,
    v_hi: FloatArray,
    col: int,
    C: FloatArray,
    abs_C: FloatArray,
    gamma: float,
    out_lo: FloatArray,
    out_hi: FloatArray,
) -> None:
    """The pure-numpy twin of :func:`_kernel_sums_numba` (same signature, BLAS products).

    BLAS may sum in any order (and use FMA); Higham's bound holds for every order.
    """
    n = C.shape[0]
    k = out_lo.shape[0]
    r_lo = v_lo[:, col].reshape(k, n)
    r_hi = v_hi[:, col].reshape(k, n)
    with np.errstate(invalid="ignore", over="ignore"):
        mid = r_lo + 0.5 * (r_hi - r_lo)
        rad = _up(np.maximum(r_hi - mid, mid - r_lo))
    bad = ~np.all(np.isfinite(r_lo) & np.isfinite(r_hi), axis=1)
    mid = np.where(bad[:, None], 0.0, mid)
    rad = np.where(bad[:, None], 0.0, rad)
    centre = mid @ C
    spread = rad @ abs_C
    size = np.abs(mid) @ abs_C
    with np.errstate(over="ignore"):
        total = _up(spread + _up(gamma * size))
        total = _up(total * (1.0 + 2.0 * gamma))
        total = _up(total + 2.0 * n * _ETA)
        out_lo[...] = _down(centre - total)
        out_hi[...] = _up(centre + total)
    out_lo[bad] = -np.inf
    out_hi[bad] = np.inf


_kernel_sums = _kernel_sums_numba


def _imul(
    a_lo: FloatArray, a_hi: FloatArray, b_lo: FloatArray, b_hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Interval product (broadcasting) with 0 * inf = 0; NaN in an end gives NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        prods = []
        for a in (a_lo, a_hi):
            for b in (b_lo, b_hi):
                p = a * b
                prods.append(np.where((a == 0.0) | (b == 0.0), 0.0, p))
        lo = np.minimum(np.minimum(prods[0], prods[1]), np.minimum(prods[2], prods[3]))
        hi = np.maximum(np.maximum(prods[0], prods[1]), np.maximum(prods[2], prods[3]))
    return _down(lo), _up(hi)


def _no_nan(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """An unknown (NaN) end becomes infinite: never a silent NaN."""
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


def _centre(lo: FloatArray, hi: FloatArray) -> FloatArray:
    # The engine's own centre formula (certify.certificates.functions), so that its
    # follow-up call at the centres finds the memo.
    return np.ascontiguousarray(lo + 0.5 * (hi - lo))


def _readonly(arr: npt.ArrayLike) -> FloatArray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


# ---------------------------------------------------------------------------- features


@dataclass(frozen=True, eq=False)
class NystromFeatures:
    """Nystrom features ``F(x) = r(x, nodes) @ C`` with rigorous enclosures (lemma L1').

    ``F_i(x) = sum_j C_ji r(x, x_j)`` for a symmetric relation r; the coefficients
    are exact float64 numbers, so F is a well-defined real function and every
    enclosure here bounds it exactly (outward rounding throughout). Implements the
    :class:`~certify.certificates.functions.FeatureMap` protocol of the sup-norm
    enclosure engine. Build it with :meth:`from_mercer` (the features ``F_d`` of a
    :class:`~certify.spectral.MercerDecomposition`) or directly.

    Attributes
    ----------
    relation : Relation
        The symmetric relation r; it must support :meth:`Relation.enclose`.
    nodes : ndarray of shape (n, dim)
        The nodes x_j (read-only float64).
    coefficients : ndarray of shape (n, m)
        The coefficient matrix C (read-only float64), exactly as used.
    shrink : float, default=1.0
        The factor ``s`` already applied to the source coefficients (a record; see
        :meth:`from_mercer`). ``coefficients`` is ``fl(s * C_source)``.
    note : str, default=""
        How the features were built (source, rank, how the shrink was chosen).

    Examples
    --------
    >>> from certify.spectral import mercer
    >>> dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    >>> F = NystromFeatures.from_mercer(dec, rank=4)
    >>> F.output_dim, F.input_dim
    (4, 1)
    >>> lo, hi = F.enclose([[0.1]], [[0.2]])
    >>> x = np.linspace(0.1, 0.2, 11)[:, None]
    >>> bool(np.all((lo <= F.forward(x)) & (F.forward(x) <= hi)))
    True
    """

    relation: Relation
    nodes: FloatArray
    coefficients: FloatArray
    shrink: float = 1.0
    note: str = ""
    _memo: list[tuple[str, FloatArray, FloatArray, Any]] = field(
        init=False, repr=False, compare=False
    )
    _gap_tables: dict[tuple[int, int], tuple[Any, tuple[FloatArray, FloatArray]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        rel = self.relation
        if not isinstance(rel, Relation):
            raise InvalidInputError(
                f"`relation` must be a certify Relation (e.g. Gaussian(lengthscale=1)); got "
                f"{describe(rel)}."
            )
        if not rel.symmetric:
            raise InvalidInputError(
                f"`relation` must be symmetric for Nystrom features (lemma L1' works in the "
                f"RKHS of r); {rel.spec!r} is not."
            )
        nodes = as_points(self.nodes, "nodes", dim=rel.x_dim)
        rel._check_values(nodes, "nodes")
        coef = np.asarray(self.coefficients, dtype=np.float64)
        if coef.ndim != 2 or coef.shape[0] != nodes.shape[0]:
            raise InvalidInputError(
                f"`coefficients` must have shape (n_nodes, m) = ({nodes.shape[0]}, m); got "
                f"shape {coef.shape}."
            )
        if not np.all(np.isfinite(coef)):
            raise InvalidInputError("`coefficients` must contain only finite values.")
        shrink = check_real(self.shrink, "shrink")
        if not 0.0 < shrink <= 1.0:
            raise InvalidInputError(
                f"`shrink` must lie in (0, 1] (the factor applied to the coefficients); got "
                f"{shrink!r}."
            )
        if not isinstance(self.note, str):
            raise InvalidInputError(f"`note` must be a string; got {describe(self.note)}.")
        try:  # fail early, with a clear message, for relations without interval enclosures
            rel.enclose_values(nodes[:1], nodes[:1], nodes[:1], nodes[:1])
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"`relation` {rel.spec!r} cannot be used for certified Nystrom features: {exc}"
            ) from None
        object.__setattr__(self, "nodes", _readonly(nodes))
        object.__setattr__(self, "coefficients", _readonly(coef))
        object.__setattr__(self, "shrink", shrink)
        object.__setattr__(self, "_memo", [])
        object.__setattr__(self, "_gap_tables", {})

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def from_mercer(
        cls,
        decomposition: MercerDecomposition,
        rank: int | None = None,
        *,
        shrink: float | str = "auto",
    ) -> NystromFeatures:
        """The certified Nystrom features ``F_d`` of a Mercer decomposition (lemma L1').

        ``coefficients = fl(s * C[:, :d])`` with ``C`` the decomposition's
        coefficients (``C[:, i] = sqrt(w) u_i / sqrt(l_i)``) and ``s = 1 - delta``.

        Why shrink: in exact arithmetic ``G = C^T K C = I`` exactly, so the computed
        features have ``lambda_max(G) = 1 + rho`` with ``rho`` of the size of eigh's
        round-off divided by ``l_d`` (measured: ``2e-8`` for the Gaussian of lengthscale
        0.5 on [-1, 1] at d = 15, where ``l_15 = 2.4e-12``), and L1' would fail by a
        hair. Scaling by s multiplies G by ``s^2``. The price: ``r(x, x) - s^2 |F(x)|^2
        = (r(x, x) - |F(x)|^2) + (1 - s^2) |F(x)|^2``, and ``|F(x)|^2 = <k_x, P k_x> <=
        Lambda r(x, x)`` with ``Lambda = lambda_max(G)`` of the unshrunk features, so the
        diagonal tail grows by at most ``(1 - s^2) Lambda sup_x r(x, x) ~ 2 delta sup_x
        r(x, x)``: ``2e-9`` for unit-diagonal kernels at the default delta.

        Parameters
        ----------
        decomposition : MercerDecomposition
            From :func:`~certify.spectral.mercer`.
        rank : int, optional
            ``d`` in ``[0, decomposition.rank]``; default all.
        shrink : float or "auto", default="auto"
            ``"auto"``: ``delta = max(1e-9, delta_needed)``, where ``delta_needed`` makes
            ``s^2 lambda_max(G) <= 1 - 1e-9`` even after the rounding of ``s * C``, from a
            rigorous upper bound of ``lambda_max(G)`` of the unshrunk features (ball
            arithmetic, as in :func:`certify_l1_prime`; costs one ball evaluation of the
            n x n Gram matrix). Relations without a ball model fall back on
            ``delta = 1e-9``. A float in (0, 1] is used as ``s`` directly.

        Returns
        -------
        NystromFeatures
            With ``shrink = s`` and a ``note`` saying how s was chosen. The L1' check
            itself is :func:`certify_l1_prime` (never implied by construction).

        Raises
        ------
        InvalidInputError
            A non-decomposition, ``rank`` out of range, a bad ``shrink``.
        """
        features, _ = _from_mercer(decomposition, rank, shrink, None)
        return features

    @classmethod
    def from_coefficients(
        cls,
        relation: Relation,
        nodes: npt.ArrayLike,
        coefficients: npt.ArrayLike,
        *,
        shrink: float | str = "auto",
        note: str = "",
    ) -> NystromFeatures:
        """Nystrom features ``F(x) = r(x, nodes) @ (s C)`` from your own nodes and coefficients.

        The shrink s is chosen as in :meth:`from_mercer` (``"auto"``: from a ball-arithmetic
        bound on ``lambda_max(C^T K C)``, so that lemma L1' survives the rounding in C).

        Examples
        --------
        >>> from certify.relations import Gaussian
        >>> F = NystromFeatures.from_coefficients(Gaussian(0.5), [[0.0], [0.5]], np.eye(2) * 0.7)
        >>> F.output_dim, 0.999 < F.shrink < 1.0
        (2, True)
        """
        if not isinstance(relation, Relation):
            raise InvalidInputError(
                f"`relation` must be a certify Relation; got {describe(relation)}."
            )
        pts = as_points(nodes, "nodes", dim=relation.x_dim)
        C = np.ascontiguousarray(np.asarray(coefficients, dtype=np.float64))
        if C.ndim != 2 or C.shape[0] != pts.shape[0]:
            raise InvalidInputError(
                f"`coefficients` must have shape (n_nodes, m) = ({pts.shape[0]}, m); got "
                f"shape {C.shape}."
            )
        source = note or f"{C.shape[1]} Nystrom features on {pts.shape[0]} nodes"
        features, _ = _shrunk(relation, pts, C, shrink, None, source)
        return features

    @classmethod
    def from_sklearn(cls, nystroem: Any, *, shrink: float | str = "auto") -> NystromFeatures:
        """The features of a fitted ``sklearn.kernel_approximation.Nystroem`` (RBF kernel).

        sklearn's ``Nystroem.transform(X)`` is ``rbf_kernel(X, components_, gamma) @
        normalization_.T``, i.e. Nystrom features with nodes ``components_`` and
        coefficients ``normalization_.T`` of the Gaussian kernel with lengthscale
        ``1 / sqrt(2 gamma)``; in exact arithmetic ``G = C^T K C`` is the identity on the
        span of the landmarks, so lemma L1' applies after a shrink as in
        :meth:`from_mercer`. sklearn itself is not imported (any object with these
        attributes works).

        Parameters
        ----------
        nystroem : fitted sklearn ``Nystroem`` with ``kernel="rbf"``
        shrink : float or "auto", default="auto"
            As in :meth:`from_mercer`.

        Returns
        -------
        NystromFeatures
            Whose ``forward`` equals ``nystroem.transform`` up to rounding (times s).

        Raises
        ------
        InvalidInputError
            Not fitted, another kernel, a non-positive gamma.

        Examples
        --------
        >>> from sklearn.kernel_approximation import Nystroem
        >>> X = np.random.default_rng(0).uniform(-1, 1, (200, 1))
        >>> ny = Nystroem(gamma=2.0, n_components=8, random_state=0).fit(X)
        >>> F = NystromFeatures.from_sklearn(ny)
        >>> F.relation.spec, F.output_dim
        ('gaussian:lengthscale=0.5', 8)
        >>> bool(np.allclose(F.forward(X[:5]), ny.transform(X[:5]), atol=1e-6))
        True
        """
        for attr in ("components_", "normalization_"):
            if not hasattr(nystroem, attr):
                raise InvalidInputError(
                    f"`nystroem` must be a fitted sklearn Nystroem (it lacks `{attr}`); got "
                    f"{describe(nystroem)}."
                )
        if getattr(nystroem, "kernel", None) != "rbf":
            raise InvalidInputError(
                f"only Nystroem(kernel='rbf') maps to a certify kernel (Gaussian); got "
                f"kernel={getattr(nystroem, 'kernel', None)!r}."
            )
        nodes = as_points(np.asarray(nystroem.components_, dtype=np.float64), "components_")
        gamma = getattr(nystroem, "gamma", None)
        gamma_ = 1.0 / nodes.shape[1] if gamma is None else check_real(gamma, "gamma")
        if not gamma_ > 0.0:
            raise InvalidInputError(f"`gamma` must be positive; got {gamma_!r}.")
        lengthscale = 1.0 / math.sqrt(2.0 * gamma_)
        C = np.ascontiguousarray(np.asarray(nystroem.normalization_, dtype=np.float64).T)
        source = (
            f"sklearn Nystroem, {nodes.shape[0]} landmarks, gamma = {gamma_!r} (lengthscale "
            f"{lengthscale!r})"
        )
        features, _ = _shrunk(Gaussian(lengthscale=lengthscale), nodes, C, shrink, None, source)
        return features

    # --- descriptors ---------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        """Dimension of the points x."""
        return int(self.nodes.shape[1])

    @property
    def output_dim(self) -> int:
        """Number m of features."""
        return int(self.coefficients.shape[1])

    @property
    def n_nodes(self) -> int:
        """Number n of nodes."""
        return int(self.nodes.shape[0])

    @property
    def delta(self) -> float:
        """``1 - shrink``."""
        return 1.0 - self.shrink

    # --- float evaluation ------------------------------------------------------------------
    def _points(self, X: npt.ArrayLike, name: str) -> FloatArray:
        pts = as_points(X, name, dim=self.input_dim, min_points=0)
        self.relation._check_values(pts, name)
        return pts

    def forward(self, X: npt.ArrayLike) -> FloatArray:
        """Float values ``F(X) = r(X, nodes) @ C`` (an estimate; see :meth:`enclose` for bounds).

        Parameters
        ----------
        X : array-like of shape (k, dim)

        Returns
        -------
        ndarray of shape (k, m)
        """
        pts = self._points(X, "X")
        out = np.empty((pts.shape[0], self.output_dim))
        step = max(1, _FORWARD_ENTRIES // max(1, self.n_nodes))
        for start in range(0, pts.shape[0], step):
            block = gram(self.relation, pts[start : start + step], self.nodes)
            out[start : start + step] = block @ self.coefficients
        return out

    def __call__(self, X: npt.ArrayLike) -> FloatArray:
        """Same as :meth:`forward`."""
        return self.forward(X)

    # --- rigorous enclosures -----------------------------------------------------------------
    def _boxes(self, lo: npt.ArrayLike, hi: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        lo_arr = self._points(lo, "lo")
        hi_arr = as_points(hi, "hi", dim=self.input_dim, min_points=0)
        if lo_arr.shape != hi_arr.shape:
            raise InvalidInputError(
                f"`lo` and `hi` must have the same shape (one row per box); got {lo_arr.shape} "
                f"and {hi_arr.shape}."
            )
        if not np.all(lo_arr <= hi_arr):
            i, j = (int(v) for v in np.argwhere(~(lo_arr <= hi_arr))[0])
            raise InvalidInputError(
                f"`lo` must be <= `hi` in every coordinate; box {i} has lo={float(lo_arr[i, j])!r} "
                f"> hi={float(hi_arr[i, j])!r} in coordinate {j}."
            )
        return lo_arr, hi_arr

    def _recall(self, kind: str, lo: FloatArray, hi: FloatArray) -> Any:
        for k, mlo, mhi, value in self._memo:
            same = mlo.shape == lo.shape and np.array_equal(mlo, lo) and np.array_equal(mhi, hi)
            if k == kind and same:
                return value
        return None

    def _remember(self, kind: str, lo: FloatArray, hi: FloatArray, value: Any) -> None:
        memo = self._memo
        memo.insert(0, (kind, lo.copy(), hi.copy(), value))
        del memo[_MEMO_SIZE:]

    def _core(
        self, lo: FloatArray, hi: FloatArray, *, values: bool, gradients: bool
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Enclosures of F (k, m) and of its Jacobian (k, m, dim) over boxes.

        Tiled: the (box, node) relation enclosures of a block of boxes are reduced by
        the interval matrix products at once, never forming a (k, n) matrix.
        """
        k, dim = lo.shape
        n, m = self.n_nodes, self.output_dim
        C = self.coefficients
        abs_C = np.abs(C)
        gamma = _gamma_up(2 * n)
        f_lo = np.empty((k, m))
        f_hi = np.empty((k, m))
        j_lo = np.empty((dim, k if gradients else 0, m))  # (dim, k, m): contiguous slices
        j_hi = np.empty_like(j_lo)
        rows = max(1, _PAIR_CHUNK // max(n, 1))
        rel = self.relation
        for s in range(0, k, rows):
            e = min(k, s + rows)
            kc = e - s
            xlo = np.repeat(lo[s:e], n, axis=0)
            xhi = xlo if lo is hi else np.repeat(hi[s:e], n, axis=0)
            y = np.tile(self.nodes, (kc, 1))
            # Relation._enclose is the validated-input path of Relation.enclose: the boxes
            # were validated by _boxes (finite, lo <= hi, relation's value constraints) and
            # the nodes at construction; a NaN end makes the box's sums infinite.
            vlo, vhi, gxl, gxh, _, _ = rel._enclose(xlo, xhi, y, y, gradients=gradients)
            if values:
                v_lo, v_hi = vlo.reshape(-1, 1), vhi.reshape(-1, 1)
                _kernel_sums(v_lo, v_hi, 0, C, abs_C, gamma, f_lo[s:e], f_hi[s:e])
            if gradients:
                for a in range(dim):
                    _kernel_sums(gxl, gxh, a, C, abs_C, gamma, j_lo[a, s:e], j_hi[a, s:e])
        jac_lo = np.ascontiguousarray(j_lo.transpose(1, 2, 0))
        jac_hi = np.ascontiguousarray(j_hi.transpose(1, 2, 0))
        return f_lo, f_hi, jac_lo, jac_hi

    def _point_values(self, pts: FloatArray) -> tuple[FloatArray, FloatArray]:
        hit = self._recall("point", pts, pts)
        if hit is not None:
            return hit
        f_lo, f_hi, _, _ = self._core(pts, pts, values=True, gradients=False)
        out = _no_nan(f_lo, f_hi)
        self._remember("point", pts, pts, out)
        return out

    def enclose(
        self, lo: npt.ArrayLike, hi: npt.ArrayLike, *, method: str = "best"
    ) -> tuple[FloatArray, FloatArray]:
        """Rigorous enclosures of F over boxes.

        For every box b and every real x with ``lo[b] <= x <= hi[b]``, the exact value
        ``F(x) = sum_j C_ji r(x, x_j)`` (real arithmetic on the stored floats) satisfies
        ``out_lo[b] <= F(x) <= out_hi[b]``. ``"naive"``: the relation's value enclosure
        between the box and each node (a point box) times the exact coefficients, summed
        in midpoint-radius form with a rigorous bound on the BLAS rounding error (module
        docstring). ``"mean_value"``: ``F(c) + J(box) (box - c)`` at the centre c, with
        J from :meth:`enclose_jacobian` (Lebourg's mean-value theorem: the relation's
        gradient enclosures hold the Clarke gradients at kinks). ``"best"``: their
        intersection. Degenerate boxes (``lo == hi``) are points: all three coincide.

        Parameters
        ----------
        lo, hi : array-like of shape (k, dim), or (k,) when dim == 1
            Box corners, ``lo <= hi``.
        method : {"best", "naive", "mean_value"}, default="best"

        Returns
        -------
        out_lo, out_hi : ndarray of shape (k, m)
            Infinite ends mean no information.

        Raises
        ------
        InvalidInputError
            Non-finite or mis-shaped corners, ``lo > hi``, points the relation is not
            defined at, or an unknown method.
        """
        if not isinstance(method, str) or method not in METHODS:
            raise InvalidInputError(f"`method` must be one of {METHODS}; got {describe(method)}.")
        lo_a, hi_a = self._boxes(lo, hi)
        if np.array_equal(lo_a, hi_a):
            f_lo, f_hi = self._point_values(lo_a)
            return f_lo.copy(), f_hi.copy()
        hit = self._recall("box:" + method, lo_a, hi_a)
        if hit is not None:
            return hit[0].copy(), hit[1].copy()
        want_mv = method != "naive"
        want_naive = method != "mean_value"
        n_lo, n_hi, j_lo, j_hi = self._core(lo_a, hi_a, values=want_naive, gradients=want_mv)
        if want_mv:
            self._remember("jacobian", lo_a, hi_a, (j_lo, j_hi))
            c = _centre(lo_a, hi_a)
            c_lo, c_hi = self._point_values(c)
            z_lo = _down(lo_a - c)[:, None, :]
            z_hi = _up(hi_a - c)[:, None, :]
            t_lo, t_hi = _imul(j_lo, j_hi, z_lo, z_hi)
            mv_lo, mv_hi = c_lo, c_hi
            for a in range(lo_a.shape[1]):
                mv_lo = _down(mv_lo + t_lo[:, :, a])
                mv_hi = _up(mv_hi + t_hi[:, :, a])
            if method == "mean_value":
                out = _no_nan(mv_lo, mv_hi)
            else:
                # both enclose F; fmax/fmin keep the other where one is unknown (NaN)
                out = _no_nan(np.fmax(n_lo, mv_lo), np.fmin(n_hi, mv_hi))
        else:
            out = _no_nan(n_lo, n_hi)
        self._remember("box:" + method, lo_a, hi_a, out)
        return out[0].copy(), out[1].copy()

    def enclose_jacobian(
        self, lo: npt.ArrayLike, hi: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Rigorous enclosures of the Jacobian ``dF_i / dx_a = sum_j C_ji d_x r(x, x_j)_a``.

        The relation's gradient enclosures w.r.t. x over (box, node) pairs (Clarke
        gradients at kinks, e.g. the Laplace kernel at x = x_j), times the exact
        coefficients, summed as in :meth:`enclose`.

        Parameters
        ----------
        lo, hi : array-like of shape (k, dim), or (k,) when dim == 1

        Returns
        -------
        J_lo, J_hi : ndarray of shape (k, m, dim)
            ``J_lo[b] <= DF(x) <= J_hi[b]`` entrywise for every x in box b (every element
            of the Clarke Jacobian where F is not differentiable).

        Raises
        ------
        InvalidInputError
            As :meth:`enclose`.
        """
        lo_a, hi_a = self._boxes(lo, hi)
        hit = self._recall("jacobian", lo_a, hi_a)
        if hit is None:
            _, _, j_lo, j_hi = self._core(lo_a, hi_a, values=False, gradients=True)
            hit = _no_nan(j_lo, j_hi)
            self._remember("jacobian", lo_a, hi_a, hit)
        return _no_nan(hit[0].copy(), hit[1].copy())

    @property
    def has_taylor_diagonal(self) -> bool:
        """Whether :meth:`diagonal_residual_taylor` applies (the Gaussian kernel)."""
        return type(self.relation) is Gaussian

    def diagonal_residual_taylor(
        self, lo: npt.ArrayLike, hi: npt.ArrayLike, *, order: int = DEFAULT_TAYLOR_ORDER
    ) -> tuple[FloatArray, FloatArray]:
        """Taylor-model enclosures of the diagonal residual ``r(x, x) - |F(x)|^2`` over boxes.

        Gaussian kernel only (:attr:`has_taylor_diagonal`). On a box ``c +- h`` every
        feature is a polynomial of degree ``order`` in ``x - c`` plus a rigorously
        bounded remainder; the squares are summed coefficient by coefficient, so the
        cancellation between ``r(x, x) = 1`` and ``|F(x)|^2`` happens between numbers,
        not between ranges, and the enclosure is tight to ``O(h^(order + 1))``
        (:mod:`certify._kernels.taylor`). A first-order form needs boxes ~100 times
        narrower for the same bound in two dimensions.

        Parameters
        ----------
        lo, hi : array-like of shape (k, dim), or (k,) when dim == 1
        order : int, default=5
            Degree of the Taylor polynomials (2 to 10).

        Returns
        -------
        f_lo, f_hi : ndarray of shape (k,)
            ``f_lo[b] <= r(x, x) - |F(x)|^2 <= f_hi[b]`` for every x in box b.

        Raises
        ------
        InvalidInputError
            Not the Gaussian kernel, a bad order, bad boxes.

        Examples
        --------
        >>> from certify.spectral import mercer
        >>> F = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=7)
        >>> lo, hi = F.diagonal_residual_taylor([[0.2]], [[0.3]])
        >>> x = np.linspace(0.2, 0.3, 11)[:, None]
        >>> f = 1.0 - (F.forward(x) ** 2).sum(axis=1)
        >>> bool(np.all((lo <= f) & (f <= hi)))
        True
        """
        if not self.has_taylor_diagonal:
            raise InvalidInputError(
                f"Taylor-model diagonal enclosures are implemented for the Gaussian kernel "
                f"only; the features use {self.relation.spec!r}."
            )
        order_ = _taylor_order(order)
        lo_a, hi_a = self._boxes(lo, hi)
        hit = self._recall(f"taylor{order_}", lo_a, hi_a)
        if hit is None:
            assert isinstance(self.relation, Gaussian)
            f_lo, f_hi = taylor_diagonal(
                lo_a, hi_a, self.nodes, self.coefficients, float(self.relation.lengthscale),
                _gamma_up(self.n_nodes), order_,
            )  # fmt: skip
            hit = _no_nan(f_lo, f_hi)
            self._remember(f"taylor{order_}", lo_a, hi_a, hit)
        return hit[0].copy(), hit[1].copy()

    def supports_taylor_gap(self, network: Any) -> bool:
        """Whether :meth:`gap_taylor` applies: Gaussian features, a one-hidden-layer tanh MLP."""
        from certify.networks.mlp import MLP

        return (
            self.has_taylor_diagonal
            and isinstance(network, MLP)
            and network.activation == "tanh"
            and network.n_layers == 2
            and network.input_dim == self.input_dim
            and network.output_dim == self.output_dim
        )

    def gap_taylor(
        self,
        network: Any,
        lo: npt.ArrayLike,
        hi: npt.ArrayLike,
        *,
        order: int = GAP_TAYLOR_ORDER,
    ) -> tuple[FloatArray, FloatArray]:
        """Taylor-model enclosures of ``|F(x) - phi(x)|_2`` over boxes (lemma L2's Delta).

        ``phi`` is a one-hidden-layer tanh network fitted to these features (the
        construction of THEORY.md); both are expanded to degree ``order`` at the box
        centre with rigorous remainders and subtracted coefficient by coefficient
        (:func:`certify._kernels.taylor.gaussian_nystrom_tanh_gap`), so a gap of 1e-5
        between two maps of size 1 is bounded on boxes of half-width ~0.05 in 2-D; the
        first-order form needs boxes ~100 times smaller.

        Parameters
        ----------
        network : MLP
            One hidden layer, tanh, as many inputs and outputs as the features
            (:meth:`supports_taylor_gap`).
        lo, hi : array-like of shape (k, dim), or (k,) when dim == 1
        order : int, default=6
            Degree of the Taylor polynomials (2 to 10).

        Returns
        -------
        g_lo, g_hi : ndarray of shape (k,)
            ``g_lo[b] <= |F(x) - phi(x)|_2 <= g_hi[b]`` for every x in box b.

        Raises
        ------
        InvalidInputError
            Not the Gaussian kernel or not such a network, a bad order, bad boxes.

        Examples
        --------
        >>> from certify.networks import MLP
        >>> from certify.spectral import mercer
        >>> F = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=2)
        >>> rng = np.random.default_rng(0)
        >>> W, b = rng.normal(size=(30, 1)), rng.normal(size=30)
        >>> X = np.linspace(-1, 1, 200)[:, None]
        >>> H = np.hstack([np.tanh(X @ W.T + b), np.ones((200, 1))])
        >>> coef = np.linalg.lstsq(H, F.forward(X), rcond=None)[0]
        >>> phi = MLP([W, coef[:-1].T], [b, coef[-1]], activation="tanh")
        >>> g_lo, g_hi = F.gap_taylor(phi, [[0.2]], [[0.3]])
        >>> x = np.linspace(0.2, 0.3, 11)[:, None]
        >>> g = np.linalg.norm(F.forward(x) - phi(x), axis=1)
        >>> bool(np.all((g_lo <= g) & (g <= g_hi))), bool(g_hi[0] < 1e-3)
        (True, True)
        """
        if not self.supports_taylor_gap(network):
            raise InvalidInputError(
                "Taylor-model gap enclosures need Gaussian-kernel features and a one-hidden-"
                f"layer tanh MLP with {self.input_dim} inputs and {self.output_dim} outputs; got "
                f"{self.relation.spec!r} features and {describe(network)}."
            )
        order_ = _taylor_order(order)
        lo_a, hi_a = self._boxes(lo, hi)
        key = (id(network), order_)
        cached = self._gap_tables.get(key)
        if cached is None or cached[0] is not network:
            alphas = taylor_multi_indices(self.input_dim, order_)[0]
            W0 = np.ascontiguousarray(network.weights[0], dtype=np.float64)
            cached = (network, taylor_unit_monomials(W0, alphas))
            self._gap_tables[key] = cached
        assert isinstance(self.relation, Gaussian)
        g_lo, g_hi = taylor_gap(
            lo_a, hi_a, self.nodes, self.coefficients, float(self.relation.lengthscale),
            _gamma_up(self.n_nodes),
            (network.weights[0], network.biases[0], network.weights[1], network.biases[1]),
            cached[1], _gamma_up(network.weights[0].shape[0] + 1), order_,
        )  # fmt: skip
        bad = ~(np.isfinite(g_lo) & np.isfinite(g_hi))
        g_lo[bad] = 0.0
        g_hi[bad] = np.inf
        return g_lo, g_hi


def _taylor_order(order: Any) -> int:
    """The order of a Taylor-model enclosure: an int in [2, 10]."""
    order_ = check_int(order, "order", minimum=2)
    if order_ > 10:
        raise InvalidInputError(f"`order` must be at most 10; got {order_}.")
    return order_


# ---------------------------------------------------------------------------- L1' check


@dataclass(frozen=True)
class L1PrimeCheck:
    """The outcome of the L1' check ``lambda_max(C^T K C) <= 1`` (THEORY.md, L1').

    ``holds=True`` is a proof that ``r - <F, F>`` is PSD on the whole domain (see
    :func:`certify_l1_prime`), so that lemma L1 bounds ``sup |r - <F, F>|`` by the
    diagonal tail. ``holds=False`` proves nothing either way unless ``refuted``.

    Attributes
    ----------
    holds : bool
        r is PSD by construction (a :class:`~certify.relations.Kernel`) and
        ``lambda_max(G) <= lambda_max_upper <= 1`` was proven.
    lambda_max_upper : float
        Rigorous upper bound of ``lambda_max(G)``, rounded up (a shift ``t`` with
        ``t I - G`` proven positive definite by a ball LDL^T factorisation; Gershgorin's
        bound as the fallback). 0.0 for m = 0.
    lambda_max_lower : float
        Rigorous lower bound (the Rayleigh quotient of the float top eigenvector,
        rounded down).
    lambda_max_estimate : float
        float64 estimate (numpy ``eigvalsh`` of the ball midpoints).
    refuted : bool
        ``lambda_max_lower > 1`` for a PSD kernel: then ``r - <F, F>`` is certainly not
        PSD (its Gram matrix at the nodes has a negative eigenvalue), L1 does not apply.
    psd_by_construction : bool
        Whether r is a :class:`~certify.relations.Kernel` (PSD by theorem); L1' needs r
        to be a reproducing kernel, which a merely symmetric relation need not be.
    method : str
        What was computed, in words.
    details : dict
        ``n_nodes``, ``rank``, ``precision`` (bits), ``shrink``, ``seconds``,
        ``entries`` (how K was evaluated), ``reason`` when ``holds`` is False.
    """

    holds: bool
    lambda_max_upper: float
    lambda_max_lower: float
    lambda_max_estimate: float
    refuted: bool
    psd_by_construction: bool
    method: str
    details: dict[str, Any]

    @property
    def margin(self) -> float:
        """``1 - lambda_max_upper`` (> 0 when the check holds with room)."""
        return 1.0 - self.lambda_max_upper


class _ArbGram:
    """Ball enclosures of ``C^T K C`` with ``K = r(nodes, nodes)`` evaluated in arb.

    The entries are the checker's own ball formulas
    (:func:`certify.certificates.arb_models.arb_relation`) at the exact float nodes;
    the float Gram matrix is never used. K is processed in node blocks (upper block
    triangle, by symmetry of r), kept in memory for small n so that several
    coefficient matrices can be checked at the cost of one evaluation of K.
    """

    def __init__(self, relation: Relation, nodes: FloatArray) -> None:
        # The checker's ball formulas (imported here: certificates sits downstream).
        from certify.certificates.arb_models import NotCheckableError, arb_relation

        n, dim = nodes.shape
        self.n = n
        try:
            self.model: Any = arb_relation(relation, dim, dim)
        except NotCheckableError as exc:
            raise InvalidInputError(
                f"`relation` {relation.spec!r} has no ball-arithmetic model, so lemma L1' "
                f"cannot be checked: {exc}."
            ) from None
        self.balls = [[arb(float(c)) for c in row] for row in nodes]
        self.keep = n <= _ARB_KEEP_MAX
        self.blocks: dict[tuple[int, int], arb_mat] = {}
        self.starts = list(range(0, n, _ARB_BLOCK))

    def _block(self, b: int, c: int) -> arb_mat:
        key = (b, c)
        if key in self.blocks:
            return self.blocks[key]
        rb = range(b, min(self.n, b + _ARB_BLOCK))
        rc = range(c, min(self.n, c + _ARB_BLOCK))
        value = self.model.value
        balls = self.balls
        if b == c:
            rows: list[list[Any]] = [[None] * len(rc) for _ in rb]
            for ii, i in enumerate(rb):
                for jj in range(ii, len(rc)):
                    v = value(balls[i], balls[rc[jj]])
                    rows[ii][jj] = v
                    rows[jj][ii] = v  # r is symmetric (a hypothesis of L1')
        else:
            rows = [[value(balls[i], balls[j]) for j in rc] for i in rb]
        out = arb_mat(rows)
        if self.keep:
            self.blocks[key] = out
        return out

    def quadratic(self, C: FloatArray) -> arb_mat:
        """Balls containing every entry of ``C^T K C`` (C exact floats)."""
        m = C.shape[1]
        G = arb_mat(m, m)
        if m == 0:
            return G
        parts = [arb_mat(C[s : s + _ARB_BLOCK].tolist()) for s in self.starts]
        for bi, b in enumerate(self.starts):
            for ci in range(bi, len(self.starts)):
                c = self.starts[ci]
                M = parts[bi].transpose() * (self._block(b, c) * parts[ci])
                G = G + M if bi == ci else G + M + M.transpose()
        return G


def _lambda_max_bounds(G: arb_mat) -> tuple[float, float, float, bool]:
    """(lower, upper, estimate, I - G proven PD) for the symmetric ball matrix G."""
    m = G.nrows()
    if m == 0:
        return 0.0, 0.0, 0.0, True
    entries = [[G[i, j] for j in range(m)] for i in range(m)]
    mid = np.array([[float(e.mid()) for e in row] for row in entries])
    w, V = np.linalg.eigh(0.5 * (mid + mid.T))
    v = [arb(float(c)) for c in V[:, -1]]
    quad = arb(0)
    for i in range(m):
        row = arb(0)
        for j in range(m):
            row += entries[i][j] * v[j]
        quad += v[i] * row
    norm2 = arb(0)
    for c in v:
        norm2 += c * c
    rho = quad / norm2  # v^T G v / v^T v <= lambda_max(G)
    S = [[-e for e in row] for row in entries]  # lambda_min(-G) = -lambda_max(G)
    if not (rho.is_finite() and all(e.is_finite() for row in entries for e in row)):
        return -math.inf, math.inf, float(w[-1]), False
    upper = -_lower_eigenvalue_bound(S, -rho)
    direct = _positive_definite(S, arb(-1))  # -G + I positive definite
    if direct and upper > 1.0:
        upper = 1.0  # I - G PD: lambda_max(G) < 1
    return lower_float(rho), upper, float(w[-1]), direct


def _check(features: NystromFeatures, gram_: _ArbGram) -> L1PrimeCheck:
    t0 = time.perf_counter()
    rel = features.relation
    with ctx.workprec(PRECISION):
        G = gram_.quadratic(np.asarray(features.coefficients))
        lower, upper, estimate, direct = _lambda_max_bounds(G)
    psd = isinstance(rel, Kernel)
    proven = upper <= 1.0 or direct
    holds = psd and proven
    refuted = psd and lower > 1.0
    details: dict[str, Any] = {
        "n_nodes": features.n_nodes,
        "rank": features.output_dim,
        "precision": PRECISION,
        "shrink": features.shrink,
        "entries": "arb (certify.certificates.arb_models ball formulas at the exact nodes)",
        "seconds": time.perf_counter() - t0,
    }
    if not psd:
        details["reason"] = (
            f"{rel.spec!r} is not a certify Kernel, so it is not known to be PSD; L1' needs r "
            "to be a reproducing kernel"
        )
    elif not proven:
        details["reason"] = (
            f"lambda_max(G) <= 1 not proven (enclosure [{lower:.17g}, {upper:.17g}])"
            + ("; refuted: r - <F, F> is not PSD" if refuted else "")
            + "; shrink the coefficients (NystromFeatures.from_mercer(..., shrink=...))"
        )
    return L1PrimeCheck(
        holds=holds,
        lambda_max_upper=upper,
        lambda_max_lower=lower,
        lambda_max_estimate=estimate,
        refuted=refuted,
        psd_by_construction=psd,
        method=(
            f"K = r(nodes, nodes) in arb ({PRECISION} bits) at the exact float nodes, G = C^T K C "
            "in arb_mat with the exact float coefficients; lambda_max(G) enclosed by a Rayleigh "
            "quotient (lower) and ball LDL^T factorisations of t I - G and of I - G (upper)"
        ),
        details=details,
    )


def certify_l1_prime(features: NystromFeatures) -> L1PrimeCheck:
    """Prove (or fail to prove) that ``r - <F, F>`` is PSD, by lemma L1' in ball arithmetic.

    Lemma. Let r be a continuous PSD kernel with RKHS H (reproducing property
    ``f(x) = <f, k_x>_H``, ``k_x = r(., x)``), nodes x_j, coefficients C (n x m) and
    ``g_i = sum_j C_ji k_(x_j)`` in H. Then ``F_i(x) = sum_j C_ji r(x, x_j) = <k_x,
    g_i>_H``, and with ``G = [<g_i, g_k>_H] = C^T K C`` (``K_jl = r(x_j, x_l)``):

        if lambda_max(G) <= 1, then (x, y) -> r(x, y) - <F(x), F(y)> is PSD.

    Proof. Let ``A : R^m -> H``, ``A e_i = g_i``, and ``P = A A^*``, i.e. ``P f = sum_i
    <f, g_i> g_i``. Then ``<k_x, P k_y> = sum_i <k_x, g_i> <g_i, k_y> = <F(x), F(y)>``
    and ``r(x, y) = <k_x, k_y>``, so ``r(x, y) - <F(x), F(y)> = <k_x, (I - P) k_y>_H``.
    P is self-adjoint and PSD with ``||P|| = ||A A^*|| = ||A^* A|| = lambda_max(G)``
    (``A^* A = G``): hence ``0 <= P <= I`` iff ``lambda_max(G) <= 1`` (P vanishes off
    span{g_i}, so only that span matters). If so, for points y_1..y_p and reals a, with
    ``f = sum_k a_k k_(y_k)``: ``sum_kl a_k a_l (r - <F, F>)(y_k, y_l) = <f, (I - P) f>
    >= 0``. Conversely, if ``lambda_max(G) > 1`` an eigenvector direction ``f = sum_i
    c_i g_i`` (a combination of the ``k_(x_j)``) has ``<f, (I - P) f> < 0``: the
    residual's Gram matrix at the nodes is indefinite (``refuted``). Nothing here uses
    how C was computed, so rounding in ``eigh`` cannot invalidate the conclusion.

    Then L1 (for a PSD kernel e, ``|e(x, y)| <= sqrt(e(x, x) e(y, y))``) gives
    ``sup |r - <F, F>| <= sup_x (r(x, x) - |F(x)|^2)``.

    Certification. K is evaluated in arb at the exact float nodes (the checker's own
    formulas, :mod:`certify.certificates.arb_models`; the float Gram matrix is never
    used), G = C^T K C is formed in ``arb_mat`` from the exact float coefficients, and
    ``lambda_max(G)`` is enclosed: below by the Rayleigh quotient of the float top
    eigenvector of the midpoint matrix; above by a shift ``t`` just above that for which
    ``t I - G`` is proven positive definite (Gaussian elimination in balls, all pivots
    certainly > 0: Sylvester's criterion; the helpers of :mod:`certify.spectral.psd`).
    ``I - G`` is also factorised directly. ``holds`` additionally needs r to be PSD by
    theorem (a :class:`~certify.relations.Kernel`).

    Parameters
    ----------
    features : NystromFeatures

    Returns
    -------
    L1PrimeCheck

    Raises
    ------
    InvalidInputError
        Not a :class:`NystromFeatures`, or a relation without a ball-arithmetic model.

    Examples
    --------
    >>> from certify.spectral import mercer
    >>> dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    >>> check = certify_l1_prime(NystromFeatures.from_mercer(dec, rank=6))
    >>> check.holds, check.lambda_max_lower <= check.lambda_max_upper <= 1.0
    (True, True)
    """
    if not isinstance(features, NystromFeatures):
        raise InvalidInputError(
            f"`features` must be NystromFeatures (NystromFeatures.from_mercer(...)); got "
            f"{describe(features)}."
        )
    with ctx.workprec(PRECISION):
        gram_ = _ArbGram(features.relation, np.asarray(features.nodes))
    return _check(features, gram_)


# ---------------------------------------------------------------------------- from_mercer


def _from_mercer(
    decomposition: Any, rank: Any, shrink: Any, gram_: _ArbGram | None
) -> tuple[NystromFeatures, _ArbGram | None]:
    if not isinstance(decomposition, MercerDecomposition):
        raise InvalidInputError(
            f"`decomposition` must be a MercerDecomposition (from certify.spectral.mercer); got "
            f"{describe(decomposition)}."
        )
    dec = decomposition
    d = dec._check_rank(rank)
    C = np.ascontiguousarray(dec.coefficients[:, :d])
    source = f"rank {d} of the Nystrom Mercer features ({dec.n_nodes} nodes) of {dec.kernel_spec!r}"
    return _shrunk(dec.kernel, np.asarray(dec.nodes), C, shrink, gram_, source)


def _shrunk(
    relation: Relation,
    nodes: FloatArray,
    C: FloatArray,
    shrink: Any,
    gram_: _ArbGram | None,
    source: str,
) -> tuple[NystromFeatures, _ArbGram | None]:
    """NystromFeatures with coefficients ``fl(s C)``, s chosen by ``shrink`` ("auto" or a float)."""
    if isinstance(shrink, str):
        if shrink != "auto":
            raise InvalidInputError(
                f"`shrink` must be 'auto' or a float in (0, 1]; got {describe(shrink)}."
            )
        s, why, gram_ = _auto_shrink(relation, nodes, C, gram_)
    else:
        s = check_real(shrink, "shrink")
        if not 0.0 < s <= 1.0:
            raise InvalidInputError(
                f"`shrink` must lie in (0, 1] (a factor s = 1 - delta on the coefficients); "
                f"got {s!r}."
            )
        why = "given"
    coef = C * s if s != 1.0 else C.copy()
    note = f"{source}, shrink s = 1 - {1.0 - s:.3e} ({why})"
    return NystromFeatures(relation, nodes, coef, shrink=s, note=note), gram_


def _auto_shrink(
    relation: Relation, nodes: FloatArray, C: FloatArray, gram_: _ArbGram | None
) -> tuple[float, str, _ArbGram | None]:
    """``s = 1 - delta`` with ``s^2 lambda_max(G) <= 1 - DEFAULT_DELTA`` after rounding.

    With ``Lambda >= lambda_max(C^T K C)`` (ball arithmetic) and ``C_s = fl(s C) = s C +
    E``, ``|E| <= u s |C|``: ``lambda_max(C_s^T K C_s)^(1/2) = ||K^(1/2) C_s||_2 <=
    s Lambda^(1/2) + ||K||^(1/2) u ||C||_F`` and ``||K|| <= trace K`` (K is PSD). So
    ``s = (sqrt(1 - DEFAULT_DELTA) - rho) / sqrt(Lambda)`` with ``rho`` that last term
    (generously rounded) gives ``lambda_max <= 1 - DEFAULT_DELTA``.
    """
    default = 1.0 - DEFAULT_DELTA
    if C.shape[1] == 0:
        return default, "auto: no features", gram_
    try:
        with ctx.workprec(PRECISION):
            if gram_ is None:
                gram_ = _ArbGram(relation, nodes)
            G = gram_.quadratic(C)
            _, upper, _, _ = _lambda_max_bounds(G)
    except InvalidInputError:
        return default, "auto: no ball model of r, default delta", gram_
    if not math.isfinite(upper) or upper <= 0.0:
        return default, "auto: no finite bound on lambda_max(G), default delta", gram_
    trace = float(np.sum(np.abs(relation.diag(nodes))))
    rho = 2.0 * math.sqrt(trace) * _U * float(np.linalg.norm(C)) + 1e-300
    s = (math.sqrt(1.0 - DEFAULT_DELTA) - rho) / math.sqrt(upper)
    s = math.nextafter(min(s, default), 0.0)
    if not s > 0.0:
        return default, f"auto: lambda_max(G) <= {upper:.3e} is too large to shrink", gram_
    why = f"auto: lambda_max(G) of the unshrunk features <= 1 + {upper - 1.0:.3e}"
    return s, why, gram_


# ---------------------------------------------------------------------------- uniform tail


@dataclass(frozen=True, eq=False)
class UniformTail:
    """A certified uniform tail ``T(d) = sup_x (r(x, x) - |F_d(x)|^2)`` (THEORY.md, L1, L1').

    Attributes
    ----------
    rank : int
        d.
    value : float
        Proven upper bound of T(d) for the (shrunk) features ``features``: the engine's
        bound on ``sup |r(x, x) - |F_d(x)|^2|`` over a finite cover of the box.
    lower : float
        Proven lower bound of T(d): a rigorous lower end of the diagonal residual at
        ``point``.
    point : ndarray of shape (dim,)
        Where ``lower`` is attained.
    sup_error_bound : float or None
        ``value`` when L1' holds, i.e. a proven bound on ``sup_{x,y} |r(x, y) - <F_d(x),
        F_d(y)>|`` (lemma L1); None otherwise -- the diagonal bound is then NOT a bound
        on the sup-norm error.
    eps : float or None
        Tolerance of ``verdict``.
    verdict : {"HOLDS", "VIOLATED", "UNKNOWN"} or None
        For the claim ``sup |r - <F_d, F_d>| <= eps``: HOLDS only when L1' holds and
        ``value <= eps``; VIOLATED when ``lower > eps`` (the residual at ``(point,
        point)`` exceeds eps); otherwise UNKNOWN. None without eps.
    shrink : float
        The factor s applied to the Mercer coefficients.
    l1_prime : L1PrimeCheck
        The L1' check of ``features``.
    enclosure : Enclosure
        The engine's record (cover, statistics, stop reason).
    features : NystromFeatures
        The certified features F_d.
    method : str
        What was computed, in words.
    """

    rank: int
    value: float
    lower: float
    point: FloatArray
    sup_error_bound: float | None
    eps: float | None
    verdict: Verdict | None
    shrink: float
    l1_prime: L1PrimeCheck
    enclosure: Enclosure
    features: NystromFeatures
    method: str

    @property
    def bounds_sup_error(self) -> bool:
        """Whether ``value`` also bounds ``sup |r - <F_d, F_d>|`` (L1' holds)."""
        return self.sup_error_bound is not None

    @property
    def gap(self) -> float:
        """``value / lower - 1`` (inf when lower <= 0 < value)."""
        if self.value == self.lower:
            return 0.0
        return self.value / self.lower - 1.0 if self.lower > 0 else math.inf


def certified_uniform_tail(
    decomposition: MercerDecomposition,
    d: int,
    *,
    eps: float | None = None,
    rel_gap: float = 0.05,
    budget: Budget | None = None,
    rng: np.random.Generator | int | None = 0,
    progress: bool = False,
    shrink: float | str = "auto",
) -> UniformTail:
    """Certified uniform tail T(d) of the Nystrom features, and through L1' the sup error.

    Steps: ``F_d = NystromFeatures.from_mercer(decomposition, d, shrink=shrink)``;
    :func:`certify_l1_prime` on F_d (one ball evaluation of the Gram matrix, shared
    with the automatic shrink); the enclosure engine
    (:func:`certify.certificates.enclosure.enclose`) on the diagonal residual
    ``r(x, x) - |F_d(x)|^2`` over the decomposition's box
    (:class:`~certify.certificates.functions.DiagonalResidualFunction`). When L1'
    holds the residual is PSD, hence non-negative on the diagonal, and

        sup_{x, y} |r(x, y) - <F_d(x), F_d(y)>|  <=  T(d)  <=  value      (L1).

    When L1' does not hold, ``value`` still bounds T(d) (the diagonal), but
    ``sup_error_bound`` is None and no HOLDS verdict is given.

    Parameters
    ----------
    decomposition : MercerDecomposition
        On a :class:`~certify.relations.Box` (the engine covers boxes only).
    d : int
        The truncation rank, ``0 <= d <= decomposition.rank``.
    eps : float, optional
        Tolerance for the verdict on ``sup |r - <F_d, F_d>| <= eps``.
    rel_gap : float, default=0.05
        The engine stops once ``upper <= (1 + rel_gap) lower``.
    budget : Budget, optional
        Boxes and seconds of the engine (default: its own, 200 000 boxes).
    rng : Generator, int or None, default=0
        Seed of the engine's sampling.
    progress : bool, default=False
        Show the engine's progress bar.
    shrink : float or "auto", default="auto"
        See :meth:`NystromFeatures.from_mercer`.

    Returns
    -------
    UniformTail

    Raises
    ------
    InvalidInputError
        Not a decomposition, a domain that is not a box, ``d`` out of range, bad engine
        options, a relation without interval or ball-arithmetic models.

    Examples
    --------
    >>> from certify.spectral import mercer
    >>> dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    >>> tail = certified_uniform_tail(dec, 6)
    >>> tail.l1_prime.holds and tail.lower <= tail.value <= 1.05 * tail.lower
    True
    >>> tail.sup_error_bound == tail.value
    True
    """
    box = _decomposition_box(decomposition, "certified_uniform_tail")
    d_ = decomposition._check_rank(d, "d")
    gram_: _ArbGram | None = None
    with ctx.workprec(PRECISION):
        gram_ = _ArbGram(decomposition.kernel, np.asarray(decomposition.nodes))
    features, gram_ = _from_mercer(decomposition, d_, shrink, gram_)
    assert gram_ is not None
    return _tail(features, box, _check(features, gram_), eps, rel_gap, budget, rng, progress)


def _decomposition_box(decomposition: Any, who: str) -> Box:
    """The box of a MercerDecomposition, or a clear error (the engine covers boxes only)."""
    if not isinstance(decomposition, MercerDecomposition):
        raise InvalidInputError(
            f"`decomposition` must be a MercerDecomposition (from certify.spectral.mercer); got "
            f"{describe(decomposition)}."
        )
    box = decomposition.domain
    if not isinstance(box, Box):
        raise InvalidInputError(
            f"{who} needs a box domain (the enclosure engine covers boxes); the decomposition "
            f"lives on {box.spec!r}. Decompose on a box (mercer(kernel, 'box:...')) to certify "
            "T(d)."
        )
    return box


def smallest_certified_rank(
    decomposition: MercerDecomposition,
    target: float,
    *,
    max_rank: int | None = None,
    rng: np.random.Generator | int | None = 0,
    n_sample: int = 20_000,
) -> tuple[int, UniformTail]:
    """The smallest d whose certified T(d) is <= target (lemmas L1, L1'), and its tail.

    Ranks whose sampled diagonal residual (of the unshrunk features) already exceeds
    ``target`` are skipped: the sampled value is a lower bound of T(d), and the shrink only
    raises the residual, so they cannot certify. The ball-arithmetic Gram matrix of the
    nodes is computed once and shared by every rank tried.

    Returns
    -------
    (d, UniformTail)
        The first rank that certifies, or the last one tried (check ``sup_error_bound``).

    Examples
    --------
    >>> from certify.spectral import mercer
    >>> d, tail = smallest_certified_rank(mercer("gaussian:lengthscale=0.5", "box:-1,1"), 1e-3)
    >>> d, tail.sup_error_bound <= 1e-3
    (7, True)
    """
    box = _decomposition_box(decomposition, "smallest_certified_rank")
    target = check_real(target, "target")
    top = min(decomposition.rank, max_rank if max_rank is not None else decomposition.rank)
    gen = np.random.default_rng(12345)
    corners = np.array(list(itertools.product(*zip(box.lower, box.upper, strict=True))))
    X = np.vstack([gen.uniform(box.lower, box.upper, (n_sample, box.dim)), corners])
    P = decomposition.features(X)[:, :top]
    diag = decomposition.kernel.diag(X)
    residual = diag[:, None] - np.cumsum(P**2, axis=1)  # column d - 1: rank d
    start = 1
    while start < top and residual[:, start - 1].max() > target:
        start += 1
    with ctx.workprec(PRECISION):
        gram_: _ArbGram | None = _ArbGram(decomposition.kernel, np.asarray(decomposition.nodes))
    last: UniformTail | None = None
    for d in range(start, top + 1):
        features, gram_ = _from_mercer(decomposition, d, "auto", gram_)
        assert gram_ is not None
        last = _tail(features, box, _check(features, gram_), target, 0.05, None, rng, False)
        if last.sup_error_bound is not None and last.sup_error_bound <= target:
            return d, last
    assert last is not None
    return last.rank, last


def certified_feature_tail(
    features: NystromFeatures,
    domain: Box | str,
    *,
    eps: float | None = None,
    rel_gap: float = 0.05,
    budget: Budget | None = None,
    rng: np.random.Generator | int | None = 0,
    progress: bool = False,
) -> UniformTail:
    """:func:`certified_uniform_tail` for any Nystrom features (e.g. sklearn's Nystroem).

    The L1' check (:func:`certify_l1_prime`) and the enclosure engine on ``r(x, x) -
    |F(x)|^2`` over ``domain``; when L1' holds, ``value`` bounds ``sup_{x, y} |r(x, y) -
    <F(x), F(y)>|`` over ``domain x domain``. Build the features with a shrink
    (:meth:`NystromFeatures.from_sklearn` does) so that L1' survives rounding.

    Parameters
    ----------
    features : NystromFeatures
    domain : Box or str
        A box of the features' input dimension (spec strings such as ``"box:-1,1"``).
    eps, rel_gap, budget, rng, progress
        As in :func:`certified_uniform_tail`.

    Returns
    -------
    UniformTail
        With ``rank`` the number of features.

    Raises
    ------
    InvalidInputError
        Not NystromFeatures, not a box, dimensions that do not match, bad engine options.

    Examples
    --------
    >>> from certify.spectral import mercer
    >>> F = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=7)
    >>> tail = certified_feature_tail(F, "box:-1,1", eps=1e-3)
    >>> tail.verdict, tail.rank
    ('HOLDS', 7)
    """
    if not isinstance(features, NystromFeatures):
        raise InvalidInputError(
            f"`features` must be NystromFeatures (NystromFeatures.from_mercer / from_sklearn); "
            f"got {describe(features)}."
        )
    box = parse_domain(domain) if isinstance(domain, str) else domain
    if not isinstance(box, Box):
        raise InvalidInputError(
            f"certified_feature_tail needs a box domain (the enclosure engine covers boxes); "
            f"got {describe(domain)}."
        )
    if box.dim != features.input_dim:
        raise InvalidInputError(
            f"the domain {box.spec!r} has dimension {box.dim} but the features take points "
            f"of dimension {features.input_dim}."
        )
    check = certify_l1_prime(features)
    return _tail(features, box, check, eps, rel_gap, budget, rng, progress)


def _tail(
    features: NystromFeatures,
    box: Box,
    check: L1PrimeCheck,
    eps: float | None,
    rel_gap: float,
    budget: Budget | None,
    rng: np.random.Generator | int | None,
    progress: bool,
) -> UniformTail:
    from certify.certificates.enclosure import enclose, verdict_of
    from certify.certificates.functions import DiagonalResidualFunction

    d_ = features.output_dim
    fn = DiagonalResidualFunction(features.relation, features, box, name="nystrom")
    enc = enclose(fn, eps=eps, rel_gap=rel_gap, budget=budget, rng=rng, progress=progress)
    p = np.asarray(enc.point, dtype=np.float64)[None, :]
    flo, _ = fn.enclose(p, p)
    lower = float(flo[0]) if math.isfinite(float(flo[0])) else -math.inf
    if check.holds:
        lower = max(lower, 0.0)  # the residual is PSD, so non-negative on the diagonal
    value = float(enc.upper)
    bound = value if check.holds else None
    # HOLDS needs L1' (an upper bound on the sup error); VIOLATED needs only the point
    verdict = (
        None if eps is None else verdict_of(lower, bound if bound is not None else math.inf, eps)
    )
    return UniformTail(
        rank=d_,
        value=value,
        lower=lower,
        point=_readonly(enc.point),
        sup_error_bound=bound,
        eps=None if eps is None else float(eps),
        verdict=verdict,
        shrink=features.shrink,
        l1_prime=check,
        enclosure=enc,
        features=features,
        method=(
            f"enclosure engine on r(x, x) - |F_{d_}(x)|^2 over {box.spec!r} "
            f"({enc.statistics.get('boxes')} boxes, stop: {enc.stop_reason}); L1' "
            + ("holds" if check.holds else "NOT proven: the value bounds the diagonal only")
        ),
    )
