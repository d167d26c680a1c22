"""Quadrature rules for the probability measures of :mod:`certify.relations.measures`.

A rule approximates ``int f dmu ~ sum_i w_i f(x_i)`` with weights summing to 1.
The spectral module discretises Mercer integral operators with these rules
(Nystrom; the nodes ``x_j`` and weights ``w_j`` of lemma L1' in THEORY.md), so
each rule states exactly which integrands it gets right
(:attr:`QuadratureRule.degree`). L1' is sound whatever the rule: a better rule
only gives better features, never a different verdict.

Rules
-----
``"gauss"``
    Tensor-product Gauss rule matched to the measure, ``n`` nodes per axis:
    Gauss-Legendre for :class:`Uniform` on a :class:`Box`, Gauss-Hermite
    (probabilists') for :class:`Gaussian` on :class:`RealSpace`, Gauss-Chebyshev
    (first kind) for :class:`Chebyshev` on a :class:`Box`; on a :class:`Sphere`
    a product rule in spherical coordinates (Gauss-Jacobi in the cosines of the
    polar angles, ``2 n`` equispaced azimuths).
``"sobol"``
    ``2**ceil(log2 n)`` scrambled Sobol points mapped to the measure, equal weights.
``"exact"``
    The atoms and masses of a discrete measure (:class:`Empirical`, or
    :class:`Uniform` on a :class:`FiniteSet`).
``"auto"``
    ``"exact"`` for discrete measures; otherwise ``"gauss"`` for dim <= 2
    (spheres: dim <= 3) and ``"sobol"`` above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.polynomial.chebyshev import chebgauss
from numpy.polynomial.legendre import leggauss
from scipy.special import roots_hermitenorm

from certify._validation import check_int, describe
from certify.errors import InvalidInputError
from certify.relations.domains import Box, Domain, FiniteSet, RealSpace, Sphere
from certify.relations.measures import (
    Chebyshev,
    Empirical,
    Gaussian,
    Measure,
    RNGLike,
    Uniform,
    _box_from_unit,
    as_generator,
)

__all__ = [
    "DEFAULT_SOBOL_POINTS",
    "MAX_NODES",
    "RULES",
    "QuadratureRule",
    "default_nodes_per_axis",
    "quadrature",
]

RULES: tuple[str, ...] = ("auto", "gauss", "sobol", "exact")
"""Valid values of the ``rule`` argument of :func:`quadrature`."""

MAX_NODES: int = 10**7
"""Largest number of nodes :func:`quadrature` builds (memory guard for tensor rules)."""

DEFAULT_SOBOL_POINTS: int = 4096
"""Default ``n`` of the Sobol rule (``2**12`` points)."""

_SOBOL_BITS = 30
"""Resolution of scipy's Sobol points: every coordinate is a multiple of ``2**-30``."""

_DEFAULT_TOTAL_NODES = 4096
"""Target total node count of the default Gauss rule with three or more axes."""


def default_nodes_per_axis(n_axes: int) -> int:
    """Default ``n`` of the ``"gauss"`` rule for a tensor product over ``n_axes`` axes.

    32 for one axis, 24 for two, and for three or more the largest ``k >= 2``
    with ``k**n_axes <= 4096`` (16, 8, 5, 4, 3, then 2 from 8 axes on). A box,
    the Gaussian on R^dim and the Chebyshev measure have ``n_axes = dim``; the
    sphere S^(dim-1) has ``n_axes = dim - 1`` (``dim - 2`` polar angles and the
    azimuth, which gets ``2 n`` nodes).

    Examples
    --------
    >>> [default_nodes_per_axis(a) for a in (1, 2, 3, 4, 5, 12)]
    [32, 24, 16, 8, 5, 2]
    """
    n_axes = check_int(n_axes, "n_axes", minimum=1)
    if n_axes == 1:
        return 32
    if n_axes == 2:
        return 24
    k = 2
    while (k + 1) ** n_axes <= _DEFAULT_TOTAL_NODES:
        k += 1
    return k


@dataclass(frozen=True, eq=False)
class QuadratureRule:
    """Nodes and weights of a quadrature rule for a probability measure.

    ``int f dmu ~ weights @ f(nodes)``.

    Parameters
    ----------
    nodes : ndarray of shape (n_points, dim)
        The nodes ``x_i``, all in the domain (read-only float64 copy).
    weights : ndarray of shape (n_points,)
        The weights ``w_i``: finite, >= 0 and summing to 1 up to round-off
        (read-only float64 copy).
    kind : str
        ``"gauss-legendre"``, ``"gauss-hermite"``, ``"gauss-chebyshev"``,
        ``"gauss-sphere"``, ``"sobol"`` or ``"exact"``.
    degree : int or None
        Polynomial exactness (up to round-off), whose meaning depends on ``kind``:

        - tensor Gauss rules (``gauss-legendre``, ``gauss-hermite``,
          ``gauss-chebyshev``) with ``k`` nodes per axis: ``degree = 2k - 1``, and
          every monomial ``prod_j x_j**p_j`` with EACH ``p_j <= degree`` is
          integrated exactly (so also every polynomial of total degree <= degree);
        - ``gauss-sphere`` with parameter ``k``: ``degree = 2k - 1``, and every
          polynomial of TOTAL degree <= degree, restricted to the sphere, is
          integrated exactly;
        - ``sobol``: ``degree = 0``: only constants are exact (the rule is a
          randomised QMC estimate, unbiased but not exact);
        - ``exact``: ``degree = None``, meaning the rule IS the (discrete) measure
          and every function is integrated exactly.
    n_points : int
        Number of nodes, ``nodes.shape[0]``.

    Raises
    ------
    InvalidInputError
        Inconsistent shapes, non-finite entries, negative weights, weights not
        summing to 1 within ``8 * (n_points + dim) * eps``, or ``n_points`` not
        matching.

    Examples
    --------
    >>> r = QuadratureRule(np.array([[0.0], [1.0]]), np.array([0.5, 0.5]), "exact", None, 2)
    >>> r.is_exact, float(r.weights @ r.nodes[:, 0])
    (True, 0.5)
    """

    nodes: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    kind: str
    degree: int | None
    n_points: int

    def __post_init__(self) -> None:
        nodes = np.array(self.nodes, dtype=np.float64, copy=True)
        weights = np.array(self.weights, dtype=np.float64, copy=True)
        if nodes.ndim != 2 or weights.ndim != 1 or weights.shape[0] != nodes.shape[0]:
            raise InvalidInputError(
                "`nodes` must have shape (n_points, dim) and `weights` shape (n_points,); got "
                f"shapes {nodes.shape} and {weights.shape}."
            )
        if self.n_points != nodes.shape[0]:
            raise InvalidInputError(
                f"`n_points` must equal the number of nodes {nodes.shape[0]}; "
                f"got {describe(self.n_points)}."
            )
        if not (np.all(np.isfinite(nodes)) and np.all(np.isfinite(weights))):
            raise InvalidInputError("`nodes` and `weights` must be finite.")
        if np.any(weights < 0.0):
            raise InvalidInputError(
                f"`weights` must be >= 0; got minimum {float(weights.min())!r}."
            )
        # Forming and summing n products of at most dim rounded factors: relative
        # error <= (n + dim) eps; a factor 8 leaves headroom.
        tol = 8.0 * (nodes.shape[0] + nodes.shape[1]) * np.finfo(np.float64).eps
        total = float(np.sum(weights))
        if not abs(total - 1.0) <= tol:
            raise InvalidInputError(
                f"`weights` of a probability rule must sum to 1 (within {tol:.1e}); got {total!r}."
            )
        if self.degree is not None and (
            isinstance(self.degree, bool) or not isinstance(self.degree, int) or self.degree < 0
        ):
            raise InvalidInputError(
                f"`degree` must be an int >= 0 or None; got {describe(self.degree)}."
            )
        nodes.setflags(write=False)
        weights.setflags(write=False)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", weights)

    @property
    def dim(self) -> int:
        """Dimension of the nodes."""
        return int(self.nodes.shape[1])

    @property
    def is_exact(self) -> bool:
        """Whether the rule integrates every function exactly (a discrete measure)."""
        return self.kind == "exact"

    def __repr__(self) -> str:
        return (
            f"QuadratureRule(kind={self.kind!r}, degree={self.degree!r}, "
            f"n_points={self.n_points}, dim={self.dim})"
        )


def quadrature(
    domain: Domain | str,
    measure: Measure | str = "uniform",
    *,
    n: int | None = None,
    rule: str = "auto",
    rng: RNGLike = None,
) -> QuadratureRule:
    """Build a quadrature rule for ``measure`` on ``domain``.

    Parameters
    ----------
    domain : Domain or str
        A :class:`Box`, :class:`RealSpace`, :class:`Sphere` or :class:`FiniteSet`,
        or its spec string (``"box:-1,1"``).
    measure : Measure or str, default="uniform"
        Must live on ``domain`` (:meth:`Measure.check_domain`); a spec string
        such as ``"gaussian:std=0.5"`` is parsed.
    n : int, optional
        ``"gauss"``: nodes per axis ``k`` (the sphere rule uses ``k`` per polar
        angle and ``2k`` azimuths); default :func:`default_nodes_per_axis`
        (32 in 1-D, 24 in 2-D, about 4096 nodes in total beyond). ``"sobol"``:
        number of points, rounded UP to a power of two; default 4096.
        ``"exact"``: validated but ignored (the rule is the measure's atoms).
    rule : {"auto", "gauss", "sobol", "exact"}, default="auto"
        See the module docstring. ``"auto"`` picks ``"exact"`` for discrete
        measures, ``"gauss"`` for dim <= 2 (spheres: dim <= 3), else ``"sobol"``.
    rng : numpy.random.Generator, int or None, default=None
        Seed of the Sobol scrambling (unused by the deterministic rules).

    Returns
    -------
    QuadratureRule
        With ``degree`` as documented there: ``2n - 1`` for Gauss rules (per
        coordinate for tensor rules, total degree on spheres), 0 for Sobol,
        ``None`` (exact for every function) for discrete measures.

    Raises
    ------
    InvalidInputError
        Unknown ``rule``; ``n`` not an int >= 1; a measure that does not live on
        ``domain``; ``"gauss"``/``"sobol"`` for a discrete measure or ``"exact"``
        for a continuous one; more than ``MAX_NODES = 10**7`` nodes.

    Examples
    --------
    Three Gauss-Legendre nodes integrate x^4 (degree 4 <= 5) exactly against the
    uniform probability on [-1, 1], whose fourth moment is 1/5:

    >>> from certify.relations.domains import Box
    >>> from certify.relations.measures import Uniform
    >>> r = quadrature(Box([-1.0], [1.0]), Uniform(), n=3)
    >>> r.kind, r.degree, r.n_points
    ('gauss-legendre', 5, 3)
    >>> bool(abs(r.weights @ r.nodes[:, 0] ** 4 - 0.2) < 1e-15)
    True
    >>> quadrature(Box.cube(0.0, 1.0, 3), Uniform(), n=100, rng=0).n_points  # auto -> sobol
    128
    >>> quadrature("real:1", "gaussian:std=2", n=4).kind
    'gauss-hermite'

    """
    from certify.relations.spec import parse_domain, parse_measure

    if isinstance(domain, str):
        domain = parse_domain(domain)
    if isinstance(measure, str):
        measure = parse_measure(measure)
    if not isinstance(domain, Domain):
        raise InvalidInputError(
            "`domain` must be a certify Domain (Box, RealSpace, Sphere or FiniteSet); "
            f"got {describe(domain)}."
        )
    if not isinstance(measure, Measure):
        raise InvalidInputError(
            "`measure` must be a certify Measure (Uniform(), Gaussian(std), Chebyshev() or "
            f"Empirical(points)); got {describe(measure)}."
        )
    if not isinstance(rule, str) or rule not in RULES:
        raise InvalidInputError(
            f"`rule` must be one of {', '.join(repr(r) for r in RULES)}; got {describe(rule)}."
        )
    if n is not None:
        n = check_int(n, "n", minimum=1, what="nodes per axis, or Sobol points")
    gen = as_generator(rng)
    measure.check_domain(domain)

    discrete = isinstance(measure, Empirical) or (
        isinstance(measure, Uniform) and isinstance(domain, FiniteSet)
    )
    if discrete:
        if rule not in ("auto", "exact"):
            raise InvalidInputError(
                f"rule {rule!r} does not apply to the discrete measure {measure.spec!r} on "
                f"{domain.spec!r}; its atoms integrate exactly: use rule='exact' or 'auto'."
            )
        return _exact_rule(domain, measure)
    if rule == "exact":
        raise InvalidInputError(
            f"rule 'exact' needs a discrete measure; {measure.spec!r} on {domain.spec!r} is "
            "continuous. Use rule='gauss' or rule='sobol' (or 'auto')."
        )
    if rule == "auto":
        gauss_max_dim = 3 if isinstance(domain, Sphere) else 2
        rule = "gauss" if domain.dim <= gauss_max_dim else "sobol"
    if rule == "gauss":
        return _gauss_rule(domain, measure, n)
    return _sobol_rule(domain, measure, n, gen)


# --------------------------------------------------------------------------- exact


def _exact_rule(domain: Domain, measure: Measure) -> QuadratureRule:
    if isinstance(measure, Empirical):
        nodes, weights = measure.points, measure.weights
    else:
        assert isinstance(domain, FiniteSet)
        nodes, weights = domain.points, np.full(domain.size, 1.0 / domain.size)
    return QuadratureRule(nodes, weights, "exact", None, int(nodes.shape[0]))


# --------------------------------------------------------------------------- gauss


def _check_size(total: int, what: str) -> None:
    if total > MAX_NODES:
        raise InvalidInputError(
            f"{what} has {total} nodes, above the limit MAX_NODES = {MAX_NODES}; use "
            "rule='sobol' (its size does not grow with the dimension) or a smaller `n`."
        )


def _tensor(
    axis_nodes: list[npt.NDArray[np.float64]], axis_weights: list[npt.NDArray[np.float64]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Tensor product of 1-D rules; the last axis varies fastest."""
    grids = np.meshgrid(*axis_nodes, indexing="ij")
    nodes = np.stack([g.reshape(-1) for g in grids], axis=1)
    wgrids = np.meshgrid(*axis_weights, indexing="ij")
    weights = np.ones(nodes.shape[0])
    for g in wgrids:
        weights = weights * g.reshape(-1)
    return nodes, weights


def _normalised(w: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.asarray(w, dtype=np.float64) / float(np.sum(w))
    return out


def _gauss_rule(domain: Domain, measure: Measure, n: int | None) -> QuadratureRule:
    if isinstance(domain, Sphere) and isinstance(measure, Uniform):
        return _sphere_rule(domain, n)
    dim = domain.dim
    k = default_nodes_per_axis(dim) if n is None else n
    kind: str
    if isinstance(domain, Box) and isinstance(measure, Uniform | Chebyshev):
        if isinstance(measure, Uniform):
            t, w = leggauss(k)
            kind = "gauss-legendre"
        else:
            t, w = chebgauss(k)
            t, w = t[::-1], w[::-1]  # ascending, like leggauss
            kind = "gauss-chebyshev"
        _check_size(k**dim, f"the {kind} rule with n={k} per axis in dimension {dim}")
        half = 0.5 * domain.widths
        axis_nodes = [domain.center[j] + half[j] * t for j in range(dim)]
        nodes, weights = _tensor(axis_nodes, [_normalised(w)] * dim)
        nodes = np.minimum(np.maximum(nodes, domain.lower), domain.upper)  # ulp guard
    elif isinstance(domain, RealSpace) and isinstance(measure, Gaussian):
        kind = "gauss-hermite"
        _check_size(k**dim, f"the {kind} rule with n={k} per axis in dimension {dim}")
        # weight exp(-x^2/2): the standard normal up to sqrt(2 pi). scipy's rule stays finite
        # beyond ~370 nodes, where numpy's hermegauss overflows (extreme weights underflow to 0).
        t, w = roots_hermitenorm(k)
        stds = measure.stds(dim)
        nodes, weights = _tensor([s * t for s in stds], [_normalised(w)] * dim)
    else:
        raise InvalidInputError(
            f"no Gauss rule for measure {measure.spec!r} on {domain.spec!r}; use rule='sobol'."
        )
    return QuadratureRule(nodes, weights, kind, 2 * k - 1, int(nodes.shape[0]))


def _sphere_rule(domain: Sphere, n: int | None) -> QuadratureRule:
    """Product Gauss rule for the normalised surface measure of S^(dim-1).

    Coordinates: ``x_1 = t_1``, ``x_2 = s_1 t_2``, ..., ``x_(d-2) = s_1..s_(d-3) t_(d-2)``,
    ``x_(d-1) = s_1..s_(d-2) cos(phi)``, ``x_d = s_1..s_(d-2) sin(phi)``, with
    ``t_j = cos(theta_j)`` and ``s_j = sqrt(1 - t_j^2)``. The surface measure is
    ``prod_j (1 - t_j^2)^((d-2-j)/2) dt_j dphi``, a product of Jacobi weights
    with ``alpha = beta = (d-2-j)/2`` and a uniform azimuth.

    Degree: take a monomial ``x^a`` of total degree D. Its dependence on ``t_1``
    is ``t_1^(a_1) (1 - t_1^2)^((D - a_1)/2)`` times a monomial of degree
    ``D - a_1`` on S^(d-2). If ``D - a_1`` is even this is a polynomial of
    degree D in ``t_1``, exact for k Gauss-Jacobi nodes when D <= 2k - 1, and
    the inner factor is handled by induction. If ``D - a_1`` is odd the inner
    monomial has odd degree, its exact integral is 0, and the inner rule also
    gives 0: the Gauss-Jacobi nodes and weights are symmetric under t -> -t
    (alpha = beta) and the 2k azimuths under phi -> phi + pi. The azimuthal
    factor ``cos^p sin^q`` is a trigonometric polynomial of degree
    ``p + q <= D``, exact for 2k equispaced nodes when D <= 2k - 1. Hence total
    degree ``2k - 1``; ``x_1^(2k)`` is not exact (for dim = 2 ``x_1^(2k)``
    contains ``cos(2k phi)``, which the 2k azimuths alias to a constant).
    """
    from scipy.special import roots_jacobi

    dim = domain.dim
    k = default_nodes_per_axis(dim - 1) if n is None else n
    _check_size(
        2 * k * k ** (dim - 2),
        f"the gauss-sphere rule with n={k} ({2 * k} azimuths) on {domain.spec!r}",
    )
    axis_nodes: list[npt.NDArray[np.float64]] = []
    axis_weights: list[npt.NDArray[np.float64]] = []
    for j in range(1, dim - 1):
        alpha = 0.5 * (dim - 2 - j)
        t, w = roots_jacobi(k, alpha, alpha)
        axis_nodes.append(np.asarray(t, dtype=np.float64))
        axis_weights.append(_normalised(w))
    axis_nodes.append(np.pi * np.arange(2 * k) / k)
    axis_weights.append(np.full(2 * k, 1.0 / (2 * k)))
    grid, weights = _tensor(axis_nodes, axis_weights)
    m = grid.shape[0]
    X = np.empty((m, dim))
    radius = np.ones(m)  # s_1 ... s_(j-1)
    for j in range(dim - 2):
        t = grid[:, j]
        X[:, j] = radius * t
        radius = radius * np.sqrt(np.maximum(1.0 - t * t, 0.0))
    phi = grid[:, -1]
    X[:, dim - 2] = radius * np.cos(phi)
    X[:, dim - 1] = radius * np.sin(phi)
    # Each row has norm 1 up to O(dim eps); renormalise so Sphere.contains holds.
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return QuadratureRule(X, weights, "gauss-sphere", 2 * k - 1, m)


# --------------------------------------------------------------------------- sobol


def _sobol_rule(
    domain: Domain, measure: Measure, n: int | None, rng: np.random.Generator
) -> QuadratureRule:
    from scipy.stats import norm, qmc

    n_req = DEFAULT_SOBOL_POINTS if n is None else n
    m = (n_req - 1).bit_length()  # smallest m with 2**m >= n_req
    _check_size(2**m, f"the sobol rule with n={n_req} (rounded up to 2**{m})")
    dim = domain.dim
    U = qmc.Sobol(dim, scramble=True, bits=_SOBOL_BITS, rng=rng).random_base2(m)
    # Scipy's points are multiples of 2**-30 and may be exactly 0. Moving each to
    # the midpoint of its dyadic cell keeps the net structure, puts every
    # coordinate in the open interval (0, 1) (so norm.ppf is finite) and never
    # exactly at 1/2 (so a Gaussian vector built from it is never zero).
    U = U + 2.0 ** -(_SOBOL_BITS + 1)
    if isinstance(domain, Box) and isinstance(measure, Uniform):
        X = _box_from_unit(domain, U)
    elif isinstance(domain, Box) and isinstance(measure, Chebyshev):
        # Inverse CDF of the arcsine law on [0, 1]: (1 - cos(pi u)) / 2.
        X = _box_from_unit(domain, 0.5 * (1.0 - np.cos(np.pi * U)))
    elif isinstance(domain, RealSpace) and isinstance(measure, Gaussian):
        X = norm.ppf(U) * measure.stds(dim)
    elif isinstance(domain, Sphere) and isinstance(measure, Uniform):
        G = norm.ppf(U)
        X = G / np.linalg.norm(G, axis=1, keepdims=True)
    else:
        raise InvalidInputError(f"no Sobol rule for measure {measure.spec!r} on {domain.spec!r}.")
    npts = 2**m
    return QuadratureRule(X, np.full(npts, 1.0 / npts), "sobol", 0, npts)
