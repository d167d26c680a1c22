"""Closed-form Mercer data of THEORY.md's reference instances, as cross-checks.

Three families ("Reference instances with known answers" in THEORY.md):

* Gaussian kernel with Gaussian measure (Fasshauer and McCourt 2012, SIAM J. Sci.
  Comput. 34(2); Rasmussen and Williams 2006, section 4.3.1): geometric
  eigenvalues, Hermite-function eigenfunctions; tensor products in d dimensions.
* Brownian kernel min(x, y) on [0, 1] with Lebesgue measure: sine eigenfunctions,
  eigenvalues ``1 / ((k - 1/2)^2 pi^2)``, and every tail in closed form through
  polygamma functions.
* Periodic kernels ``sum_m c_m cos(m (x - y))`` with the uniform measure on one
  period: eigenvalues ``c_0`` and ``c_m / 2`` (twice), Fourier eigenfunctions;
  for certify's ``Periodic(kappa)`` the modified Bessel functions ``I_m(kappa)``.

All eigenvalues are w.r.t. the PROBABILITY measure, like :func:`certify.spectral.mercer`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.special import ive, polygamma

from certify._validation import as_points, check_finite_array, check_int, check_positive
from certify._validation import check_real as _check_real
from certify.errors import InvalidInputError
from certify.relations.domains import Box, Domain, RealSpace
from certify.relations.kernels import Brownian, Gaussian, Kernel, Periodic
from certify.relations.measures import Gaussian as GaussianMeasure
from certify.relations.measures import Measure, Uniform

__all__ = [
    "ClosedFormMercer",
    "brownian_l2_tail",
    "brownian_mercer",
    "brownian_trace_tail",
    "brownian_uniform_tail",
    "fasshauer_mccourt_eigenvalues",
    "gaussian_mercer",
    "periodic_mercer",
    "tensor_eigenvalues",
]

FloatArray = npt.NDArray[np.float64]
ModeTable = Callable[[int, FloatArray, int], FloatArray]
"""``modes(axis, t, m)``: the first m 1-D eigenfunctions of ``axis`` at t, shape (len(t), m)."""


@dataclass(frozen=True, eq=False)
class ClosedFormMercer:
    """Closed-form Mercer data: the first k eigenpairs, trace and Hilbert-Schmidt norm.

    Attributes
    ----------
    kernel : Kernel
    domain : Domain
    measure : Measure
        The instance, ready for :func:`certify.spectral.mercer`.
    eigenvalues : ndarray of shape (k,)
        The k largest eigenvalues, non-increasing.
    indices : ndarray of shape (k, dim), int
        Per coordinate, the 0-based index of the one-dimensional eigenfunction
        whose product is eigenfunction i (tensor products).
    trace : float
        ``int r(x, x) dmu = sum_i lambda_i``.
    hs_norm_squared : float
        ``||r||^2_{L2(mu x mu)} = sum_i lambda_i^2``.
    """

    kernel: Kernel
    domain: Domain
    measure: Measure
    eigenvalues: FloatArray
    indices: npt.NDArray[np.int64]
    trace: float
    hs_norm_squared: float
    modes: ModeTable = field(repr=False)

    @property
    def dim(self) -> int:
        """Dimension of the domain."""
        return int(self.indices.shape[1])

    @property
    def k(self) -> int:
        """Number of eigenpairs listed."""
        return int(self.eigenvalues.shape[0])

    def eigenfunctions(self, X: npt.ArrayLike) -> FloatArray:
        """The listed eigenfunctions at ``X`` (orthonormal in L2(mu)): shape (n, k)."""
        pts = as_points(X, "X", dim=self.dim)
        out = np.ones((pts.shape[0], self.k))
        for a in range(self.dim):
            table = self.modes(a, pts[:, a], int(self.indices[:, a].max()) + 1)
            out *= table[:, self.indices[:, a]]
        return out

    def features(self, X: npt.ArrayLike) -> FloatArray:
        """Mercer features ``sqrt(lambda_i) e_i(x)``: shape (n, k)."""
        return self.eigenfunctions(X) * np.sqrt(self.eigenvalues)

    def _check_d(self, d: int) -> int:
        d = check_int(d, "d", minimum=0, what="truncation rank")
        if d > self.k:
            raise InvalidInputError(
                f"`d` must be <= {self.k} (the eigenvalues listed); got {d}. Ask for more."
            )
        return d

    def trace_tail(self, d: int) -> float:
        """``sum_{i>d} lambda_i = trace - sum_{i<=d} lambda_i`` (THEORY.md, "Tails"), d <= k."""
        d = self._check_d(d)
        return self.trace - math.fsum(self.eigenvalues[:d])

    def l2_tail(self, d: int) -> float:
        """``tau(d) = (||r||^2 - sum_{i<=d} lambda_i^2)^(1/2)`` (Hilbert-Schmidt identity), d <= k.

        Cancels when the tail is far below ``||r||``: relative accuracy about
        ``eps ||r||^2 / tau(d)^2``.
        """
        d = self._check_d(d)
        return math.sqrt(max(self.hs_norm_squared - math.fsum(self.eigenvalues[:d] ** 2), 0.0))


def tensor_eigenvalues(
    factors: Sequence[npt.ArrayLike], k: int
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """The k largest products ``prod_a factors[a][j_a]``, in descending order.

    The eigenvalues of a tensor-product kernel ``prod_a r_a(x_a, y_a)`` under a
    product measure are these products (eigenfunctions: products of the
    one-dimensional ones). Best-first search over multi-indices: a product can
    only follow its predecessors in each coordinate, so each pop is the next
    largest. Ties are broken by the lexicographic order of the multi-index.

    Parameters
    ----------
    factors : sequence of array-like of shape (m_a,)
        One non-increasing, non-negative sequence per coordinate.
    k : int
        ``1 <= k <= prod_a m_a``.

    Returns
    -------
    values : ndarray of shape (k,)
    indices : ndarray of shape (k, len(factors)), int

    Examples
    --------
    >>> v, idx = tensor_eigenvalues([[1.0, 0.5, 0.25], [1.0, 0.1]], 4)
    >>> v.tolist(), idx.tolist()
    ([1.0, 0.5, 0.25, 0.1], [[0, 0], [1, 0], [2, 0], [0, 1]])
    """
    seqs = [check_finite_array(f, f"factors[{a}]").reshape(-1) for a, f in enumerate(factors)]
    if not seqs:
        raise InvalidInputError("`factors` must hold at least one sequence.")
    for a, s in enumerate(seqs):
        if s.size == 0 or np.any(s < 0) or np.any(np.diff(s) > 0):
            raise InvalidInputError(
                f"`factors[{a}]` must be a non-empty, non-negative, non-increasing sequence."
            )
    total = math.prod(s.size for s in seqs)
    k = check_int(k, "k", minimum=1, what="number of products")
    if k > total:
        raise InvalidInputError(f"`k` must be <= {total} (products available); got {k}.")

    def value(idx: tuple[int, ...]) -> float:
        return math.prod(float(s[j]) for s, j in zip(seqs, idx, strict=True))

    start = (0,) * len(seqs)
    heap: list[tuple[float, tuple[int, ...]]] = [(-value(start), start)]
    seen = {start}
    vals: list[float] = []
    idxs: list[tuple[int, ...]] = []
    while len(vals) < k:
        negv, idx = heapq.heappop(heap)
        vals.append(-negv)
        idxs.append(idx)
        for a in range(len(seqs)):
            if idx[a] + 1 < seqs[a].size:
                nxt = (*idx[:a], idx[a] + 1, *idx[a + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (-value(nxt), nxt))
    return np.array(vals, dtype=np.float64), np.array(idxs, dtype=np.int64).reshape(k, len(seqs))


# ---------------------------------------------------------------------------- Gaussian


def _fm_parameters(epsilon: float, alpha: float) -> tuple[float, float, float, float]:
    """beta, delta^2, lambda_1 and the ratio q of Fasshauer-McCourt."""
    beta = (1.0 + (2.0 * epsilon / alpha) ** 2) ** 0.25
    delta2 = 0.5 * alpha**2 * (beta**2 - 1.0)
    denom = alpha**2 + delta2 + epsilon**2
    return beta, delta2, math.sqrt(alpha**2 / denom), epsilon**2 / denom


def fasshauer_mccourt_eigenvalues(epsilon: float, alpha: float, k: int) -> FloatArray:
    """Eigenvalues of exp(-epsilon^2 (x - y)^2) under rho(x) = alpha / sqrt(pi) exp(-alpha^2 x^2).

    Fasshauer and McCourt (2012), eq. (3.3b), in their parametrisation:
    ``beta = (1 + (2 epsilon / alpha)^2)^(1/4)``, ``delta^2 = alpha^2 / 2 (beta^2 - 1)``,
    ``lambda_n = sqrt(alpha^2 / (alpha^2 + delta^2 + epsilon^2)) (epsilon^2 / (alpha^2 +
    delta^2 + epsilon^2))^(n - 1)``, n = 1..k (THEORY.md reference instance). They
    sum to 1 = k(0) (checked in the tests).

    Examples
    --------
    >>> lam = fasshauer_mccourt_eigenvalues(1.0, 1.0, 3)
    >>> bool(abs(lam[1] / lam[0] - (3 - 5**0.5) / 2) < 1e-15)  # beta^2 = sqrt(5) here
    True
    """
    epsilon = check_positive(epsilon, "epsilon", what="kernel shape parameter")
    alpha = check_positive(alpha, "alpha", what="measure scale parameter")
    k = check_int(k, "k", minimum=1, what="number of eigenvalues")
    _, _, lam1, q = _fm_parameters(epsilon, alpha)
    out: FloatArray = lam1 * q ** np.arange(k, dtype=np.float64)
    return out


def _hermite_modes(
    alpha: float, beta: float, delta2: float
) -> Callable[[FloatArray, int], FloatArray]:
    def modes(t: FloatArray, m: int) -> FloatArray:
        # phi_(j+1)(t) = sqrt(beta) exp(-delta^2 t^2) h_j(alpha beta t), h_j = H_j / sqrt(2^j j!)
        # (orthonormal Hermite polynomials for exp(-s^2) / sqrt(pi)); the recurrence
        # h_(j+1) = sqrt(2 / (j+1)) s h_j - sqrt(j / (j+1)) h_(j-1) is linear, so the
        # Gaussian factor rides along from h_0 on and nothing overflows on its own.
        s = alpha * beta * t
        out = np.empty((t.size, m))
        out[:, 0] = math.sqrt(beta) * np.exp(-delta2 * t * t)
        if m > 1:
            out[:, 1] = math.sqrt(2.0) * s * out[:, 0]
        for j in range(1, m - 1):
            out[:, j + 1] = (
                math.sqrt(2.0 / (j + 1)) * s * out[:, j] - math.sqrt(j / (j + 1)) * out[:, j - 1]
            )
        return out

    return modes


def gaussian_mercer(
    lengthscale: float, std: float | npt.ArrayLike, k: int, *, dim: int | None = None
) -> ClosedFormMercer:
    """Gaussian kernel with centred Gaussian measure, in certify's parametrisation.

    ``Gaussian(lengthscale=l)`` is ``exp(-|x - y|^2 / (2 l^2))``, so
    ``epsilon^2 = 1 / (2 l^2)``; the measure ``Gaussian(std=s)`` is THEORY.md's
    ``rho`` with ``alpha = 1 / (s sqrt(2))`` per coordinate. In one dimension
    (:func:`fasshauer_mccourt_eigenvalues`) ``lambda_n = lambda_1 q^(n - 1)``
    with eigenfunctions ``sqrt(beta) exp(-delta^2 x^2) H_(n-1)(alpha beta x) /
    sqrt(2^(n-1) (n-1)!)``; in d dimensions the kernel and measure factorise, so
    eigenvalues are products (:func:`tensor_eigenvalues`). Trace 1, and
    ``||r||^2 = prod_a lambda_1a^2 / (1 - q_a^2)``.

    Parameters
    ----------
    lengthscale : float
        > 0.
    std : float or array-like of shape (dim,)
        Standard deviation(s) of the measure, > 0.
    k : int
        Number of eigenpairs, >= 1.
    dim : int, optional
        Dimension; default ``len(std)`` for an array, else 1.

    Examples
    --------
    >>> cf = gaussian_mercer(1.0, 1.0, 3)
    >>> cf.kernel.spec, cf.domain.spec, cf.measure.spec
    ('gaussian:lengthscale=1', 'real:1', 'gaussian:std=1.0')
    >>> bool(abs(cf.eigenvalues[0] - (5**0.5 - 1) / 2) < 1e-15)  # sqrt(2 / (3 + sqrt(5)))
    True
    """
    ell = check_positive(lengthscale, "lengthscale")
    arr = check_finite_array(std, "std")
    if arr.ndim > 1 or arr.size == 0 or not np.all(arr > 0):
        raise InvalidInputError(
            f"`std` must be a positive number or a 1-D array of them; got {arr.tolist()!r}."
        )
    if dim is None:
        dim = 1 if arr.ndim == 0 else int(arr.size)
    dim = check_int(dim, "dim", minimum=1)
    stds = np.full(dim, float(arr)) if arr.ndim == 0 else arr
    if stds.size != dim:
        raise InvalidInputError(f"`std` has {stds.size} entries but `dim` is {dim}.")
    k = check_int(k, "k", minimum=1, what="number of eigenpairs")
    epsilon = 1.0 / (ell * math.sqrt(2.0))
    params = [_fm_parameters(epsilon, 1.0 / (float(s) * math.sqrt(2.0))) for s in stds]
    factors = [lam1 * q ** np.arange(k, dtype=np.float64) for _, _, lam1, q in params]
    values, indices = tensor_eigenvalues(factors, k)
    axis_modes = [
        _hermite_modes(1.0 / (float(s) * math.sqrt(2.0)), beta, delta2)
        for s, (beta, delta2, _, _) in zip(stds, params, strict=True)
    ]
    hs = math.prod(lam1**2 / (1.0 - q**2) for _, _, lam1, q in params)
    measure = GaussianMeasure(float(arr) if arr.ndim == 0 else stds)
    return ClosedFormMercer(
        kernel=Gaussian(lengthscale=ell),
        domain=RealSpace(dim),
        measure=measure,
        eigenvalues=values,
        indices=indices,
        trace=1.0,
        hs_norm_squared=hs,
        modes=lambda a, t, m: axis_modes[a](t, m),
    )


# ---------------------------------------------------------------------------- Brownian


def _brownian_modes(axis: int, t: FloatArray, m: int) -> FloatArray:
    j = np.arange(m, dtype=np.float64)
    out: FloatArray = math.sqrt(2.0) * np.sin((j + 0.5) * np.pi * t[:, None])
    return out


def brownian_mercer(k: int, *, dim: int = 1) -> ClosedFormMercer:
    """Brownian kernel ``prod_a min(x_a, y_a)`` on [0, 1]^dim with Lebesgue (= uniform) measure.

    THEORY.md: in one dimension ``lambda_k = 1 / ((k - 1/2)^2 pi^2)``, ``e_k(x) =
    sqrt(2) sin((k - 1/2) pi x)``, trace 1/2; ``||r||^2 = int int min(x, y)^2 = 1/6``.
    In dim dimensions: products (trace ``2^-dim``, ``||r||^2 = 6^-dim``).

    Examples
    --------
    >>> cf = brownian_mercer(2)
    >>> bool(abs(cf.eigenvalues[0] - 4 / np.pi**2) < 1e-16), cf.trace
    (True, 0.5)
    """
    k = check_int(k, "k", minimum=1, what="number of eigenpairs")
    dim = check_int(dim, "dim", minimum=1)
    one = 1.0 / ((np.arange(k, dtype=np.float64) + 0.5) ** 2 * np.pi**2)
    values, indices = tensor_eigenvalues([one] * dim, k)
    return ClosedFormMercer(
        kernel=Brownian(),
        domain=Box.cube(0.0, 1.0, dim),
        measure=Uniform(),
        eigenvalues=values,
        indices=indices,
        trace=0.5**dim,
        hs_norm_squared=6.0**-dim,
        modes=_brownian_modes,
    )


def _check_rank(d: int) -> int:
    return check_int(d, "d", minimum=0, what="truncation rank")


def brownian_trace_tail(d: int) -> float:
    """``sum_{k>d} lambda_k = psi_1(d + 1/2) / pi^2`` for min(x, y) on [0, 1] (THEORY.md).

    From ``psi_1(z) = sum_{j>=0} 1 / (z + j)^2`` with ``z = d + 1/2``; ``d = 0`` gives
    the trace ``psi_1(1/2) / pi^2 = 1/2``.

    Examples
    --------
    >>> bool(abs(brownian_trace_tail(0) - 0.5) < 1e-15)
    True
    """
    d = _check_rank(d)
    return float(polygamma(1, d + 0.5)) / math.pi**2


def brownian_uniform_tail(d: int) -> float:
    """``T(d) = sup_x (min(x, x) - |F_d(x)|^2) = 2 psi_1(d + 1/2) / pi^2`` (THEORY.md).

    Attained at x = 1, where ``e_k(1)^2 = 2`` for every k, so the residual is
    ``1 - 2 sum_{k<=d} lambda_k = 2 sum_{k>d} lambda_k`` (the trace is 1/2). By
    L1 it bounds the sup-norm error of the rank-d truncation.

    Examples
    --------
    >>> bool(abs(brownian_uniform_tail(0) - 1.0) < 1e-15)  # sup_x min(x, x) = 1
    True
    """
    return 2.0 * brownian_trace_tail(d)


def brownian_l2_tail(d: int) -> float:
    """``tau(d) = (sum_{k>d} lambda_k^2)^(1/2) = (psi_3(d + 1/2) / (6 pi^4))^(1/2)``.

    From ``psi_3(z) = 6 sum_{j>=0} 1 / (z + j)^4``; ``d = 0`` gives
    ``||min||_{L2} = 6^(-1/2)``.

    Examples
    --------
    >>> bool(abs(brownian_l2_tail(0) ** 2 - 1 / 6) < 1e-15)
    True
    """
    d = _check_rank(d)
    return math.sqrt(float(polygamma(3, d + 0.5)) / (6.0 * math.pi**4))


# ---------------------------------------------------------------------------- periodic


def periodic_mercer(
    kappa: float,
    k: int,
    *,
    period: float = 2.0 * math.pi,
    dim: int = 1,
    lower: float = 0.0,
) -> ClosedFormMercer:
    """``Periodic(kappa, period)`` with the uniform measure on one period per coordinate.

    A periodic kernel ``sum_m c_m cos(m w (x - y))`` (``w = 2 pi / period``) has,
    under the uniform probability on any interval of length one period,
    eigenvalue ``c_0`` (constant eigenfunction) and ``c_m / 2`` twice
    (``sqrt(2) cos(m w x)``, ``sqrt(2) sin(m w x)``): THEORY.md. For certify's
    ``exp(kappa cos(w (x - y)))``, ``exp(kappa cos t) = I_0(kappa) + 2 sum_{m>=1}
    I_m(kappa) cos(m t)``, so the eigenvalues are ``I_0(kappa)``, then
    ``I_m(kappa)`` twice, decreasing in m. They are computed as ``ive(m, kappa)
    e^kappa`` (the scaled Bessel function keeps its relative accuracy for large
    kappa; beyond kappa ~ 709 the kernel itself overflows in float64). Trace
    ``e^(kappa dim)``; ``||r||^2 = I_0(2 kappa)^dim`` (Parseval). In dim
    dimensions the kernel ``exp(kappa sum_a cos(...))`` factorises: products.

    Parameters
    ----------
    kappa : float
        > 0.
    k : int
        Number of eigenpairs, >= 1.
    period : float, default=2 pi
    dim : int, default=1
    lower : float, default=0
        The domain is ``[lower, lower + period]^dim``.

    Examples
    --------
    >>> from scipy.special import iv
    >>> cf = periodic_mercer(2.0, 5)
    >>> bool(np.allclose(cf.eigenvalues, [iv(0, 2), iv(1, 2), iv(1, 2), iv(2, 2), iv(2, 2)]))
    True
    """
    kappa = check_positive(kappa, "kappa")
    k = check_int(k, "k", minimum=1, what="number of eigenpairs")
    period = check_positive(period, "period")
    dim = check_int(dim, "dim", minimum=1)
    lower = _check_real(lower, "lower")
    harmonics = (np.arange(k) + 1) // 2  # 0, 1, 1, 2, 2, ...
    one = ive(harmonics, kappa) * math.exp(kappa)
    values, indices = tensor_eigenvalues([one] * dim, k)
    omega = 2.0 * math.pi / period

    def modes(axis: int, t: FloatArray, m: int) -> FloatArray:
        j = np.arange(m)
        h = (j + 1) // 2
        phase = omega * t[:, None] * h[None, :]
        out: FloatArray = np.where(
            j == 0,
            1.0,
            np.where(j % 2 == 1, math.sqrt(2.0) * np.cos(phase), math.sqrt(2.0) * np.sin(phase)),
        )
        return out

    i0_2k = float(ive(0, 2.0 * kappa)) * math.exp(2.0 * kappa)
    return ClosedFormMercer(
        kernel=Periodic(kappa=kappa, period=period),
        domain=Box.cube(lower, lower + period, dim),
        measure=Uniform(),
        eigenvalues=values,
        indices=indices,
        trace=math.exp(kappa * dim),
        hs_norm_squared=i0_2k**dim,
        modes=modes,
    )
