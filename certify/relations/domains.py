"""Domains of relation functions: boxes, the whole space, spheres, finite sets.

THEORY.md, "Objects": relations live on compact sets X in R^dx (boxes, spheres,
finite sets); the whole space R^d appears only as the support of the Gaussian
measure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from certify._validation import as_points, check_finite_array, check_int, describe
from certify.errors import InvalidInputError

__all__ = ["Box", "Domain", "FiniteSet", "RealSpace", "Sphere"]


def _readonly(arr: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def _fmt(x: float) -> str:
    """Shortest round-tripping decimal of a float (repr), used in spec strings."""
    return repr(float(x))


class Domain(ABC):
    """A subset of R^dim on which points are drawn and relations are evaluated."""

    dim: int

    @property
    @abstractmethod
    def is_compact(self) -> bool:
        """Whether the domain is a compact set (the theorems need compactness)."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The spec string that :func:`certify.parse_domain` maps back to this domain."""

    @abstractmethod
    def contains(self, X: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Boolean mask: which rows of ``X`` (shape (n, dim)) lie in the domain."""

    def bounding_box(self) -> Box:
        """The smallest axis-aligned box containing the domain.

        Raises
        ------
        InvalidInputError
            If the domain is unbounded.
        """
        raise InvalidInputError(f"{self} is unbounded and has no bounding box.")

    def check_points(self, X: npt.ArrayLike, name: str = "X") -> npt.NDArray[np.float64]:
        """Validate ``X`` as points of this domain and return them as an (n, dim) array.

        Raises
        ------
        InvalidInputError
            If ``X`` has NaN/inf, the wrong dimension, or a point outside the domain.
        """
        pts = as_points(X, name, dim=self.dim)
        inside = self.contains(pts)
        if not np.all(inside):
            k = int(np.flatnonzero(~inside)[0])
            raise InvalidInputError(
                f"`{name}` must lie in {self.spec!r}; row {k} = {pts[k].tolist()} is outside."
            )
        return pts

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True, eq=False)
class Box(Domain):
    """The axis-aligned box prod_k [lower_k, upper_k].

    Parameters
    ----------
    lower, upper : array-like of shape (dim,)
        Finite bounds with ``lower < upper`` in every coordinate.

    Examples
    --------
    >>> b = Box([-1.0, 0.0], [1.0, 2.0])
    >>> b.dim, b.volume
    (2, 4.0)
    >>> b.contains([[0.0, 1.0], [2.0, 1.0]]).tolist()
    [True, False]
    """

    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    dim: int = field(init=False)

    def __init__(self, lower: npt.ArrayLike, upper: npt.ArrayLike) -> None:
        lo = np.atleast_1d(check_finite_array(lower, "lower"))
        hi = np.atleast_1d(check_finite_array(upper, "upper"))
        if lo.ndim != 1 or hi.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
            raise InvalidInputError(
                "`lower` and `upper` must be 1-D arrays of the same non-zero length; "
                f"got shapes {lo.shape} and {hi.shape}."
            )
        if not np.all(lo < hi):
            k = int(np.flatnonzero(~(lo < hi))[0])
            raise InvalidInputError(
                f"Box bounds must satisfy lower < upper in every coordinate; coordinate {k} "
                f"has lower={lo[k]!r}, upper={hi[k]!r}."
            )
        object.__setattr__(self, "lower", _readonly(lo))
        object.__setattr__(self, "upper", _readonly(hi))
        object.__setattr__(self, "dim", int(lo.size))

    @classmethod
    def cube(cls, low: float, high: float, dim: int) -> Box:
        """The cube [low, high]^dim."""
        dim = check_int(dim, "dim", minimum=1)
        return cls(np.full(dim, low, dtype=float), np.full(dim, high, dtype=float))

    @property
    def is_compact(self) -> bool:
        return True

    @property
    def widths(self) -> npt.NDArray[np.float64]:
        """upper - lower, per coordinate."""
        return self.upper - self.lower

    @property
    def center(self) -> npt.NDArray[np.float64]:
        """The midpoint (lower + upper) / 2."""
        return 0.5 * (self.lower + self.upper)

    @property
    def volume(self) -> float:
        """Lebesgue measure of the box."""
        return float(np.prod(self.widths))

    @property
    def spec(self) -> str:
        return "box:" + ";".join(
            f"{_fmt(a)},{_fmt(b)}" for a, b in zip(self.lower, self.upper, strict=True)
        )

    def contains(self, X: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_points(X, "X", dim=self.dim, min_points=0)
        return np.all((pts >= self.lower) & (pts <= self.upper), axis=1)

    def bounding_box(self) -> Box:
        return self

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Box)
            and np.array_equal(self.lower, other.lower)
            and np.array_equal(self.upper, other.upper)
        )

    def __hash__(self) -> int:
        return hash(("Box", self.lower.tobytes(), self.upper.tobytes()))

    def __repr__(self) -> str:
        return f"Box(lower={self.lower.tolist()}, upper={self.upper.tolist()})"


@dataclass(frozen=True)
class RealSpace(Domain):
    """The whole space R^dim (not compact; the support of a Gaussian measure).

    Examples
    --------
    >>> RealSpace(2).spec
    'real:2'
    """

    dim: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", check_int(self.dim, "dim", minimum=1))

    @property
    def is_compact(self) -> bool:
        return False

    @property
    def spec(self) -> str:
        return f"real:{self.dim}"

    def contains(self, X: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_points(X, "X", dim=self.dim, min_points=0)
        return np.ones(pts.shape[0], dtype=bool)


@dataclass(frozen=True)
class Sphere(Domain):
    """The unit sphere S^(dim-1) = {x in R^dim : |x| = 1}; ``dim`` is the ambient dimension.

    So ``Sphere(3)`` (spec ``sphere:3``) is the ordinary 2-sphere in R^3.

    Membership allows a relative round-off of ``tol`` on |x| (default
    ``16 * eps * sqrt(dim)``, the error of a normalised float vector with room to spare).

    Examples
    --------
    >>> Sphere(3).contains([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]).tolist()
    [True, False]
    """

    dim: int
    tol: float | None = None

    def __post_init__(self) -> None:
        dim = check_int(self.dim, "dim", minimum=2, what="ambient dimension of the sphere")
        object.__setattr__(self, "dim", dim)
        if self.tol is None:
            object.__setattr__(self, "tol", 16.0 * np.finfo(np.float64).eps * np.sqrt(dim))

    @property
    def is_compact(self) -> bool:
        return True

    @property
    def spec(self) -> str:
        return f"sphere:{self.dim}"

    def contains(self, X: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_points(X, "X", dim=self.dim, min_points=0)
        assert self.tol is not None
        return np.abs(np.linalg.norm(pts, axis=1) - 1.0) <= self.tol

    def bounding_box(self) -> Box:
        return Box.cube(-1.0, 1.0, self.dim)


@dataclass(frozen=True, eq=False)
class FiniteSet(Domain):
    """A finite set of distinct points in R^dim.

    Examples
    --------
    >>> s = FiniteSet([[0.0], [0.5], [1.0]])
    >>> s.dim, s.size
    (1, 3)
    """

    points: npt.NDArray[np.float64]
    dim: int = field(init=False)

    def __init__(self, points: npt.ArrayLike) -> None:
        pts = as_points(points, "points")
        if np.unique(pts, axis=0).shape[0] != pts.shape[0]:
            raise InvalidInputError(
                f"`points` of a FiniteSet must be distinct; got {describe(pts)} with repeats."
            )
        object.__setattr__(self, "points", _readonly(pts))
        object.__setattr__(self, "dim", int(pts.shape[1]))

    @property
    def size(self) -> int:
        """Number of points."""
        return int(self.points.shape[0])

    @property
    def is_compact(self) -> bool:
        return True

    @property
    def spec(self) -> str:
        return "finite:" + ";".join(",".join(_fmt(v) for v in row) for row in self.points)

    def contains(self, X: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_points(X, "X", dim=self.dim, min_points=0)
        return np.array([bool(np.any(np.all(self.points == p, axis=1))) for p in pts], dtype=bool)

    def bounding_box(self) -> Box:
        lo = self.points.min(axis=0)
        hi = self.points.max(axis=0)
        # A box needs lower < upper; widen flat coordinates by one ulp each side.
        flat = lo == hi
        lo = np.where(flat, np.nextafter(lo, -np.inf), lo)
        hi = np.where(flat, np.nextafter(hi, np.inf), hi)
        return Box(lo, hi)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FiniteSet) and np.array_equal(self.points, other.points)

    def __hash__(self) -> int:
        return hash(("FiniteSet", self.points.tobytes()))

    def __repr__(self) -> str:
        return f"FiniteSet(points={self.points.tolist()})"
