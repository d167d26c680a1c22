"""The Relation interface shared by kernels and asymmetric relations.

A relation function r : X x Y -> R (THEORY.md, "Objects") knows its x- and
y-dimensions, whether it claims symmetry, how to evaluate itself on point sets
(pairwise and paired), and a certified Lipschitz constant in each argument on a box.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from certify._validation import as_points
from certify.errors import InvalidInputError
from certify.relations.domains import Box, Domain

__all__ = ["LipschitzBound", "Relation"]


@dataclass(frozen=True)
class LipschitzBound:
    """Certified Lipschitz constants of a relation in each argument.

    For all ``x, x'`` in ``x_box`` and ``y, y'`` in ``y_box`` (Euclidean norms):
    ``|r(x, y) - r(x', y)| <= x * |x - x'|`` and ``|r(x, y) - r(x, y')| <= y * |y - y'|``.
    ``inf`` means no finite bound is known; ``None`` boxes mean the whole space.
    Each constant is a provable upper bound, computed in ball arithmetic and
    rounded up to a float64.
    """

    x: float
    y: float
    x_box: Box | None
    y_box: Box | None


def _box_or_none(domain: Domain | None, name: str) -> Box | None:
    if domain is None:
        return None
    if not isinstance(domain, Domain):
        raise InvalidInputError(
            f"`{name}` must be a certify domain (Box, Sphere, FiniteSet, RealSpace) or None; "
            f"got {type(domain).__name__}."
        )
    if isinstance(domain, Box):
        return domain
    if not domain.is_compact:
        return None
    return domain.bounding_box()


class Relation(ABC):
    """A relation function r(x, y) on R^x_dim x R^y_dim.

    Subclasses implement :meth:`_pairwise` and :meth:`_paired` on validated
    float64 arrays, and :meth:`_lipschitz` on boxes.
    """

    @property
    @abstractmethod
    def x_dim(self) -> int | None:
        """Dimension of the first argument; ``None`` means any (fixed by the data)."""

    @property
    @abstractmethod
    def y_dim(self) -> int | None:
        """Dimension of the second argument; ``None`` means any (fixed by the data)."""

    @property
    @abstractmethod
    def symmetric(self) -> bool:
        """Whether the relation claims r(x, y) = r(y, x) (then x_dim == y_dim)."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """A spec string that :func:`certify.parse_relation` maps back to an equal relation."""

    @property
    def numba_code(self) -> tuple[int, npt.NDArray[np.float64]] | None:
        """``(kind, params)`` of the jitted hot path (see ``certify._kernels.codes``), or None."""
        return None

    # --- evaluation on validated arrays (no checks) -------------------------------------
    @abstractmethod
    def _pairwise(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """The (n, m) matrix r(X[i], Y[j]) for validated point arrays."""

    @abstractmethod
    def _paired(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """The (n,) vector r(X[k], Y[k]) for validated point arrays of equal length."""

    @abstractmethod
    def _lipschitz(
        self, x_box: Box | None, y_box: Box | None, dims: tuple[int | None, int | None]
    ) -> tuple[float, float]:
        """Certified Lipschitz constants (in x, in y) on the boxes; None = whole space.

        ``dims`` are the dimensions of the x- and y-domains (known even when a
        domain is unbounded and so has no box).
        """

    # --- validation ---------------------------------------------------------------------
    def _check_values(self, X: npt.NDArray[np.float64], name: str) -> None:  # noqa: B027
        """Optional hook: check value constraints on points (e.g. x >= 0); raise if violated."""

    def check_points(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike | None = None,
        *,
        x_name: str = "X",
        y_name: str = "Y",
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Validate a pair of point sets for this relation and return them as float64 arrays.

        ``Y=None`` means ``Y = X`` (allowed when x_dim == y_dim).

        Raises
        ------
        InvalidInputError
            NaN or inf in the points, a wrong dimension, or a value the relation forbids.
        """
        Xa = as_points(X, x_name, dim=self.x_dim)
        if Y is None:
            if self.x_dim != self.y_dim:
                raise InvalidInputError(
                    f"`{y_name}` is required: this relation has x_dim={self.x_dim} and "
                    f"y_dim={self.y_dim}, so `{x_name}` cannot stand in for `{y_name}`."
                )
            Ya = Xa
        else:
            Ya = as_points(Y, y_name, dim=self.y_dim)
            if self.x_dim is None and self.y_dim is None and Xa.shape[1] != Ya.shape[1]:
                raise InvalidInputError(
                    f"`{x_name}` and `{y_name}` must hold points of the same dimension for "
                    f"{self.spec!r}; got {Xa.shape[1]} and {Ya.shape[1]}."
                )
        self._check_values(Xa, x_name)
        if Ya is not Xa:
            self._check_values(Ya, y_name)
        return Xa, Ya

    # --- public evaluation ----------------------------------------------------------------
    def __call__(self, X: npt.ArrayLike, Y: npt.ArrayLike | None = None) -> npt.NDArray[np.float64]:
        """The matrix r(X[i], Y[j]) of shape (n, m); ``Y=None`` means ``Y = X``.

        Same as :func:`certify.gram` (numba hot path where the relation has one).
        """
        from certify.relations.evaluation import gram

        return gram(self, X, Y)

    def paired(self, X: npt.ArrayLike, Y: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The vector r(X[k], Y[k]) for point sets of equal length."""
        Xa, Ya = self.check_points(X, Y)
        if Xa.shape[0] != Ya.shape[0]:
            raise InvalidInputError(
                f"`X` and `Y` must hold the same number of points for paired evaluation; "
                f"got {Xa.shape[0]} and {Ya.shape[0]}."
            )
        return self._checked_output(self._paired(Xa, Ya), (Xa.shape[0],))

    def diag(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The diagonal values r(X[k], X[k]) (needs x_dim == y_dim)."""
        Xa, _ = self.check_points(X, None)
        return self._checked_output(self._paired(Xa, Xa), (Xa.shape[0],))

    def _checked_output(
        self, values: npt.NDArray[np.float64], shape: tuple[int, ...]
    ) -> npt.NDArray[np.float64]:
        return values

    def lipschitz(self, x_domain: Domain | None, y_domain: Domain | None = None) -> LipschitzBound:
        """Certified Lipschitz constants in each argument on (the bounding boxes of) domains.

        ``y_domain=None`` means the same domain as ``x_domain``; a ``None`` or
        unbounded ``x_domain`` means the whole space (``inf`` where no finite
        constant exists there).

        Returns
        -------
        LipschitzBound
            ``x`` and ``y``: provable upper bounds (ball arithmetic, rounded up).
        """
        xb = _box_or_none(x_domain, "x_domain")
        yb = xb if y_domain is None else _box_or_none(y_domain, "y_domain")
        xdim = None if x_domain is None else x_domain.dim
        ydim = xdim if y_domain is None else y_domain.dim
        for dim, name, want in ((xdim, "x_domain", self.x_dim), (ydim, "y_domain", self.y_dim)):
            if dim is not None and want is not None and dim != want:
                raise InvalidInputError(
                    f"`{name}` must have dimension {want} for {self.spec!r}; got {dim}."
                )
        if xdim is not None and ydim is not None and self.x_dim is None and xdim != ydim:
            raise InvalidInputError(
                f"`x_domain` and `y_domain` must have the same dimension for {self.spec!r}; "
                f"got {xdim} and {ydim}."
            )
        for box, name in ((xb, "x_domain"), (yb, "y_domain")):
            if box is not None:
                self._check_values(np.vstack([box.lower, box.upper]), name)
        lx, ly = self._lipschitz(xb, yb, (xdim, ydim))
        return LipschitzBound(x=lx, y=ly, x_box=xb, y_box=yb)

    def __str__(self) -> str:
        return self.spec
