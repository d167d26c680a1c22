"""Probability measures on the domains of relation functions.

THEORY.md, "Objects": the approximation theorems are sup-norm statements on a
compact domain X, but the Mercer data behind them are taken in L2(X, mu) for a
probability measure mu with full support on X (uniform on a box or a sphere, the
Chebyshev (arcsine) measure on a box, uniform or empirical on a finite set), and
the Gaussian-kernel reference instance uses a centred Gaussian on R^d. Every
measure here has total mass 1.

A measure is a description, not tied to one domain: the domain is passed to
:meth:`Measure.sample` and :meth:`Measure.density`, and
:meth:`Measure.check_domain` says whether the pair makes sense.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from certify._validation import as_points, check_finite_array, check_int, describe
from certify.errors import InvalidInputError
from certify.relations.domains import Box, Domain, FiniteSet, RealSpace, Sphere

__all__ = ["Chebyshev", "Empirical", "Gaussian", "Measure", "Uniform", "as_generator"]

RNGLike = np.random.Generator | int | None


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` as a :class:`numpy.random.Generator` (via ``np.random.default_rng``).

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        A generator (used as is, so its state advances), a non-negative seed,
        or ``None`` for fresh OS entropy.
    name : str, default="rng"
        The argument name for error messages.

    Raises
    ------
    InvalidInputError
        ``rng`` is of another type, a bool, or a negative int.

    Examples
    --------
    >>> a = as_generator(7).standard_normal(3)
    >>> b = as_generator(7).standard_normal(3)
    >>> bool(np.all(a == b))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise InvalidInputError(f"`{name}` must be a seed >= 0; got {int(rng)}.")
        return np.random.default_rng(int(rng))
    raise InvalidInputError(
        f"`{name}` must be a numpy.random.Generator, an int seed or None; got {describe(rng)}."
    )


def _readonly(arr: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def _fmt(x: float) -> str:
    """Shortest round-tripping decimal of a float (repr), as in domain specs."""
    return repr(float(x))


def _check_domain_type(domain: Any) -> Domain:
    if not isinstance(domain, Domain):
        raise InvalidInputError(
            "`domain` must be a certify Domain (Box, RealSpace, Sphere or FiniteSet); "
            f"got {describe(domain)}."
        )
    return domain


def _sphere_area(dim: int) -> float:
    """Surface area |S^(dim-1)| = 2 pi^(dim/2) / Gamma(dim/2) of the unit sphere in R^dim."""
    return math.exp(math.log(2.0) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim))


def _box_from_unit(box: Box, U: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Affine image ``lower + widths * U`` of points ``U`` in [0, 1]^dim, kept inside the box.

    Rounding in the affine map can overshoot ``upper`` by an ulp; the final
    ``minimum``/``maximum`` removes exactly that overshoot (and nothing more, as
    the exact image lies in the box) so that ``box.contains`` holds.
    """
    X = box.lower + box.widths * U
    return np.minimum(np.maximum(X, box.lower), box.upper)


class Measure(ABC):
    """A probability measure (total mass 1), described independently of a domain.

    Subclasses: :class:`Uniform`, :class:`Gaussian`, :class:`Chebyshev`,
    :class:`Empirical`.
    """

    @property
    @abstractmethod
    def spec(self) -> str:
        """Short spec string: ``"uniform"``, ``"gaussian:std=0.5"``, ``"chebyshev"``, ..."""

    @abstractmethod
    def check_domain(self, domain: Domain) -> None:
        """Raise :class:`InvalidInputError` unless this measure is defined on ``domain``.

        The message names the measure, the domain spec and what would work.
        """

    def sample(self, domain: Domain, n: int, *, rng: RNGLike = None) -> npt.NDArray[np.float64]:
        """Draw ``n`` independent points from this measure on ``domain``.

        Parameters
        ----------
        domain : Domain
            Must pass :meth:`check_domain`.
        n : int
            Number of points, ``n >= 1``.
        rng : numpy.random.Generator, int or None, default=None
            Source of randomness (``np.random.default_rng`` semantics).

        Returns
        -------
        ndarray of shape (n, domain.dim)
            Points of ``domain`` (``domain.contains`` is true for every row).

        Raises
        ------
        InvalidInputError
            Bad ``n`` or ``rng``, or a measure that does not live on ``domain``.
        """
        domain = _check_domain_type(domain)
        self.check_domain(domain)
        n = check_int(n, "n", minimum=1, what="number of sample points")
        gen = as_generator(rng)
        return self._sample(domain, n, gen)

    def density(self, domain: Domain, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Density of this measure at the points ``X`` of ``domain``.

        With respect to Lebesgue measure on boxes and R^d, and to the (unnormalised)
        surface measure on spheres.

        Parameters
        ----------
        domain : Domain
            Must pass :meth:`check_domain`.
        X : array-like of shape (n, domain.dim)
            Points of ``domain``.

        Returns
        -------
        ndarray of shape (n,)

        Raises
        ------
        InvalidInputError
            A point outside ``domain``, a measure that does not live on ``domain``,
            or a discrete measure (no density exists).
        """
        domain = _check_domain_type(domain)
        self.check_domain(domain)
        pts = domain.check_points(X, "X")
        return self._density(domain, pts)

    @abstractmethod
    def _sample(
        self, domain: Domain, n: int, rng: np.random.Generator
    ) -> npt.NDArray[np.float64]: ...

    @abstractmethod
    def _density(self, domain: Domain, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class Uniform(Measure):
    """The uniform probability measure on a compact domain.

    On a :class:`Box` the density is ``1 / volume``; on a :class:`Sphere`
    ``S^(dim-1)`` it is the surface measure divided by
    ``|S^(dim-1)| = 2 pi^(dim/2) / Gamma(dim/2)``; on a :class:`FiniteSet` every
    point has mass ``1 / size`` (no density). There is no uniform probability
    measure on :class:`RealSpace`.

    Examples
    --------
    >>> from certify.relations.domains import Box
    >>> Uniform().density(Box([-1.0], [1.0]), [[0.0], [0.5]]).tolist()
    [0.5, 0.5]
    >>> X = Uniform().sample(Box([0.0, 0.0], [1.0, 2.0]), 100, rng=0)
    >>> X.shape, bool(Box([0.0, 0.0], [1.0, 2.0]).contains(X).all())
    ((100, 2), True)
    """

    @property
    def spec(self) -> str:
        return "uniform"

    def check_domain(self, domain: Domain) -> None:
        domain = _check_domain_type(domain)
        if isinstance(domain, Box | Sphere | FiniteSet):
            return
        if isinstance(domain, RealSpace):
            raise InvalidInputError(
                f"measure 'uniform' is not defined on {domain.spec!r}: there is no uniform "
                f"probability measure on R^{domain.dim}. Use Gaussian(std) on "
                f"{domain.spec!r}, or Uniform() on a box such as Box.cube(-1, 1, {domain.dim})."
            )
        raise InvalidInputError(
            f"measure 'uniform' is not defined on {domain.spec!r}; it needs a Box, a Sphere "
            "or a FiniteSet."
        )

    def _sample(self, domain: Domain, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        if isinstance(domain, Box):
            return _box_from_unit(domain, rng.random((n, domain.dim)))
        if isinstance(domain, Sphere):
            # A standard normal vector is rotation invariant, so its direction is uniform.
            G = rng.standard_normal((n, domain.dim))
            return G / np.linalg.norm(G, axis=1, keepdims=True)
        assert isinstance(domain, FiniteSet)
        idx = rng.integers(0, domain.size, size=n)
        return np.array(domain.points[idx], dtype=np.float64)

    def _density(self, domain: Domain, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if isinstance(domain, Box):
            return np.full(X.shape[0], 1.0 / domain.volume)
        if isinstance(domain, Sphere):
            return np.full(X.shape[0], 1.0 / _sphere_area(domain.dim))
        raise InvalidInputError(
            f"measure 'uniform' on the finite set {domain.spec!r} is discrete (each point has "
            "mass 1/size) and has no density; use quadrature(domain, Uniform()) for its points "
            "and weights."
        )


@dataclass(frozen=True, eq=False)
class Gaussian(Measure):
    """The centred normal measure N(0, diag(std**2)) on R^dim.

    Density ``prod_k exp(-x_k^2 / (2 std_k^2)) / (sqrt(2 pi) std_k)``. Defined
    only on :class:`RealSpace`; on a compact domain use :class:`Uniform`. The
    measure ``rho(x) = alpha / sqrt(pi) exp(-alpha^2 x^2)`` of THEORY.md's
    Gaussian-kernel reference instance is ``Gaussian(std=1 / (alpha sqrt(2)))``.

    Parameters
    ----------
    std : float or array-like of shape (dim,)
        Per-coordinate standard deviation, each finite and > 0. A scalar is
        broadcast to the dimension of the domain; an array must have the
        domain's dimension.

    Examples
    --------
    >>> from certify.relations.domains import RealSpace
    >>> g = Gaussian(0.5)
    >>> g.spec
    'gaussian:std=0.5'
    >>> d = g.density(RealSpace(1), [[0.0]])[0]
    >>> bool(abs(d - 1.0 / (0.5 * np.sqrt(2.0 * np.pi))) < 1e-15)
    True
    >>> Gaussian([0.5, 1.0]).spec
    'gaussian:std=[0.5,1.0]'
    """

    std: float | npt.NDArray[np.float64]

    def __init__(self, std: float | npt.ArrayLike) -> None:
        arr = check_finite_array(std, "std")
        if arr.ndim > 1 or arr.size == 0:
            raise InvalidInputError(
                "`std` must be a positive number or a 1-D array of them (one per coordinate); "
                f"got shape {arr.shape}."
            )
        if not np.all(arr > 0.0):
            flat = arr.reshape(-1)
            bad = float(flat[~(flat > 0.0)][0])
            raise InvalidInputError(
                f"`std` must be > 0 in every coordinate (standard deviation); got {bad!r}."
            )
        value: float | npt.NDArray[np.float64] = float(arr) if arr.ndim == 0 else _readonly(arr)
        object.__setattr__(self, "std", value)

    @property
    def spec(self) -> str:
        if isinstance(self.std, float):
            return f"gaussian:std={_fmt(self.std)}"
        return "gaussian:std=[" + ",".join(_fmt(s) for s in self.std) + "]"

    def stds(self, dim: int) -> npt.NDArray[np.float64]:
        """The per-coordinate standard deviations as an array of length ``dim``.

        Raises
        ------
        InvalidInputError
            ``std`` is an array whose length is not ``dim``.
        """
        if isinstance(self.std, float):
            return np.full(dim, self.std)
        if self.std.size != dim:
            raise InvalidInputError(
                f"measure {self.spec!r} has {self.std.size} standard deviations but the domain "
                f"has dimension {dim}; pass one std per coordinate or a scalar."
            )
        return np.array(self.std, dtype=np.float64)

    def check_domain(self, domain: Domain) -> None:
        domain = _check_domain_type(domain)
        if not isinstance(domain, RealSpace):
            kind = "a finite set" if isinstance(domain, FiniteSet) else "a compact domain"
            raise InvalidInputError(
                f"measure {self.spec!r} is only defined on the whole space (RealSpace); "
                f"{domain.spec!r} is {kind}. Use Uniform() on {domain.spec!r}, or "
                f"{self.spec!r} on RealSpace({domain.dim})."
            )
        self.stds(domain.dim)

    def _sample(self, domain: Domain, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        return rng.standard_normal((n, domain.dim)) * self.stds(domain.dim)

    def _density(self, domain: Domain, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = self.stds(domain.dim)
        log_norm = np.sum(np.log(s)) + 0.5 * domain.dim * math.log(2.0 * math.pi)
        out: npt.NDArray[np.float64] = np.exp(-0.5 * np.sum((X / s) ** 2, axis=1) - log_norm)
        return out

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Gaussian) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(("Gaussian", self.spec))

    def __repr__(self) -> str:
        std = self.std if isinstance(self.std, float) else self.std.tolist()
        return f"Gaussian(std={std!r})"


@dataclass(frozen=True)
class Chebyshev(Measure):
    """The Chebyshev (arcsine) probability measure on a box.

    The product over axes of the density ``1 / (pi sqrt((x - a)(b - x)))`` on
    ``[a, b]``; the equilibrium measure of the interval, under which Chebyshev
    polynomials are orthogonal. The density is ``inf`` on the boundary of the box.

    Examples
    --------
    >>> from certify.relations.domains import Box
    >>> d = Chebyshev().density(Box([-1.0], [1.0]), [[0.0]])[0]
    >>> bool(abs(d - 1.0 / np.pi) < 1e-16)
    True
    """

    @property
    def spec(self) -> str:
        return "chebyshev"

    def check_domain(self, domain: Domain) -> None:
        domain = _check_domain_type(domain)
        if not isinstance(domain, Box):
            raise InvalidInputError(
                f"measure 'chebyshev' is only defined on a box; got {domain.spec!r}. Use "
                "Uniform() on a sphere or finite set, Gaussian(std) on RealSpace, or "
                "Chebyshev() on a Box."
            )

    def _sample(self, domain: Domain, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        assert isinstance(domain, Box)
        # Inverse CDF of the arcsine law on [0, 1]: (1 - cos(pi u)) / 2.
        U = 0.5 * (1.0 - np.cos(np.pi * rng.random((n, domain.dim))))
        return _box_from_unit(domain, U)

    def _density(self, domain: Domain, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        assert isinstance(domain, Box)
        prod = np.prod((X - domain.lower) * (domain.upper - X), axis=1)
        with np.errstate(divide="ignore"):
            out: npt.NDArray[np.float64] = 1.0 / (np.pi**domain.dim * np.sqrt(prod))
        return out


@dataclass(frozen=True, eq=False)
class Empirical(Measure):
    """A discrete probability measure ``sum_i w_i delta(x_i)`` on given points.

    It lives on any domain containing its atoms, but has full support (as the
    Mercer data of THEORY.md require) only on the finite set of atoms with
    positive weight.

    Parameters
    ----------
    points : array-like of shape (n_points, dim) (or (n_points,) for dim 1)
        The atoms ``x_i``, finite. Repeats are allowed (their masses add up).
    weights : array-like of shape (n_points,), optional
        Non-negative, finite, not all zero; normalised to sum 1. Default: equal.

    Examples
    --------
    >>> m = Empirical([[0.0], [1.0]], weights=[1.0, 3.0])
    >>> m.weights.tolist()
    [0.25, 0.75]
    """

    points: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64] = field(repr=False)

    def __init__(self, points: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> None:
        pts = as_points(points, "points")
        n = pts.shape[0]
        if weights is None:
            w = np.full(n, 1.0 / n)
        else:
            w = check_finite_array(weights, "weights")
            if w.shape != (n,):
                raise InvalidInputError(
                    f"`weights` must have shape ({n},), one per point; got shape {w.shape}."
                )
            if np.any(w < 0.0):
                k = int(np.flatnonzero(w < 0.0)[0])
                raise InvalidInputError(
                    f"`weights` must be >= 0 (masses of the atoms); weights[{k}] = {float(w[k])!r}."
                )
            total = float(np.sum(w))
            if not total > 0.0:
                raise InvalidInputError(
                    "`weights` must not all be zero (they are normalised to sum 1); got all "
                    f"{n} zero."
                )
            w = w / total
        object.__setattr__(self, "points", _readonly(pts))
        object.__setattr__(self, "weights", _readonly(w))

    @property
    def spec(self) -> str:
        return "empirical"

    @property
    def dim(self) -> int:
        """Dimension of the atoms."""
        return int(self.points.shape[1])

    def check_domain(self, domain: Domain) -> None:
        domain = _check_domain_type(domain)
        try:
            domain.check_points(self.points, "points")
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"measure 'empirical' does not live on {domain.spec!r}: {exc} Pass a domain "
                "that contains every atom (e.g. FiniteSet(points) or a box around them)."
            ) from None

    def _sample(self, domain: Domain, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        idx = rng.choice(self.points.shape[0], size=n, p=self.weights)
        return np.array(self.points[idx], dtype=np.float64)

    def _density(self, domain: Domain, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise InvalidInputError(
            "measure 'empirical' is discrete and has no density; use its `points` and "
            "`weights` (or quadrature(domain, measure)) instead."
        )

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Empirical)
            and np.array_equal(self.points, other.points)
            and np.array_equal(self.weights, other.weights)
        )

    def __hash__(self) -> int:
        return hash(("Empirical", self.points.tobytes(), self.weights.tobytes()))

    def __repr__(self) -> str:
        return f"Empirical(points={self.points.tolist()}, weights={self.weights.tolist()})"
