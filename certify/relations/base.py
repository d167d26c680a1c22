"""The Relation interface shared by kernels and asymmetric relations.

A relation function r : X x Y -> R (THEORY.md, "Objects") knows its x- and
y-dimensions, whether it claims symmetry, how to evaluate itself on point sets
(pairwise and paired), a certified Lipschitz constant in each argument on a box,
and (:meth:`Relation.enclose`) rigorous interval enclosures of its values and
Clarke gradients over many box pairs at once, for the sup-norm enclosure engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from certify._validation import as_points
from certify.errors import InvalidInputError
from certify.relations.domains import Box, Domain

__all__ = ["LipschitzBound", "Relation", "RelationEnclosure"]

FloatArray = npt.NDArray[np.float64]
EnclosureArrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
"""value lo/hi (k,), grad_x lo/hi (k, x_dim), grad_y lo/hi (k, y_dim) (see RelationEnclosure)."""


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


@dataclass(frozen=True)
class RelationEnclosure:
    """Rigorous enclosures of a relation and of its Clarke gradients over k box pairs.

    For every box pair ``i`` and every ``(x, y)`` with ``xlo[i] <= x <= xhi[i]`` and
    ``ylo[i] <= y <= yhi[i]``:

    * ``value_lo[i] <= r(x, y) <= value_hi[i]``;
    * every element ``(g_x, g_y)`` of the Clarke generalized gradient of r at
      ``(x, y)`` (the gradient where r is differentiable; the convex hull of the
      nearby gradients at kinks such as ``|x - y|`` at 0 or ``min(x, y)`` at
      ``x = y``) has ``grad_x_lo[i] <= g_x <= grad_x_hi[i]`` and
      ``grad_y_lo[i] <= g_y <= grad_y_hi[i]`` componentwise.

    With Lebourg's mean-value theorem this gives, for z and c in the box pair,
    ``r(z) - r(c) in sum_k [grad_k] (z_k - c_k)`` (the mean-value form). Bounds are
    ``-inf`` / ``inf`` where no finite bound is known (for instance the gradient of
    a relation that jumps inside the box pair); a NaN never appears.

    Attributes
    ----------
    value_lo, value_hi : ndarray of shape (k,)
    grad_x_lo, grad_x_hi : ndarray of shape (k, x_dim)
    grad_y_lo, grad_y_hi : ndarray of shape (k, y_dim)
    """

    value_lo: FloatArray
    value_hi: FloatArray
    grad_x_lo: FloatArray
    grad_x_hi: FloatArray
    grad_y_lo: FloatArray
    grad_y_hi: FloatArray


def _no_nan(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """An unknown (NaN) bound becomes infinite; never a silent NaN."""
    lo = np.where(np.isnan(lo), -np.inf, lo)
    hi = np.where(np.isnan(hi), np.inf, hi)
    return lo, hi


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
    def _enclose(
        self,
        xlo: FloatArray,
        xhi: FloatArray,
        ylo: FloatArray,
        yhi: FloatArray,
        *,
        gradients: bool,
    ) -> EnclosureArrays:
        """Enclosures on validated boxes: value lo/hi (k,), grad_x lo/hi, grad_y lo/hi.

        With ``gradients=False`` the gradient arrays may have 0 rows. Relations
        without a rigorous enclosure keep this default, which raises.
        """
        raise InvalidInputError(
            f"{type(self).__name__} {self.spec!r} has no rigorous interval enclosure; use a "
            "kernel, a Bilinear relation or an ExpressionRelation ('expr:...')."
        )

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

    # --- rigorous enclosures over boxes ----------------------------------------------------
    def check_boxes(
        self,
        xlo: npt.ArrayLike,
        xhi: npt.ArrayLike,
        ylo: npt.ArrayLike,
        yhi: npt.ArrayLike,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Validate k box pairs for this relation; return them as C-contiguous float64 arrays.

        A 1-D array is read as k boxes in one dimension (as for points).

        Raises
        ------
        InvalidInputError
            Non-finite entries, wrong shapes or dimensions, ``lo > hi`` anywhere, or
            coordinates the relation forbids (e.g. negative ones for the Brownian kernel).
        """
        arrays = []
        for arr, name, dim in (
            (xlo, "xlo", self.x_dim),
            (xhi, "xhi", self.x_dim),
            (ylo, "ylo", self.y_dim),
            (yhi, "yhi", self.y_dim),
        ):
            arrays.append(as_points(arr, name, dim=dim, min_points=0))
        Xl, Xh, Yl, Yh = arrays
        for (a, an), (b, bn) in (((Xl, "xlo"), (Xh, "xhi")), ((Yl, "ylo"), (Yh, "yhi"))):
            if a.shape != b.shape:
                raise InvalidInputError(
                    f"`{an}` and `{bn}` must have the same shape (k, dim); got {a.shape} and "
                    f"{b.shape}."
                )
            bad = np.argwhere(a > b)
            if bad.size:
                j = tuple(int(v) for v in bad[0])
                raise InvalidInputError(
                    f"`{an}` must be <= `{bn}` elementwise (boxes are [lo, hi]); got "
                    f"{an}[{j[0]}, {j[1]}] = {a[j]!r} > {bn}[{j[0]}, {j[1]}] = {b[j]!r}."
                )
        if Xl.shape[0] != Yl.shape[0]:
            raise InvalidInputError(
                f"`xlo` and `ylo` must hold the same number k of boxes (one box pair per row); "
                f"got {Xl.shape[0]} and {Yl.shape[0]}."
            )
        if self.x_dim is None and self.y_dim is None and Xl.shape[1] != Yl.shape[1]:
            raise InvalidInputError(
                f"x- and y-boxes must have the same dimension for {self.spec!r}; got "
                f"{Xl.shape[1]} and {Yl.shape[1]}."
            )
        self._check_values(Xl, "xlo")
        self._check_values(Yl, "ylo")
        return Xl, Xh, Yl, Yh

    def enclose(
        self,
        xlo: npt.ArrayLike,
        xhi: npt.ArrayLike,
        ylo: npt.ArrayLike,
        yhi: npt.ArrayLike,
    ) -> RelationEnclosure:
        """Rigorous enclosures of r and of its Clarke gradients over k box pairs.

        Parameters
        ----------
        xlo, xhi : array-like of shape (k, x_dim)
            Lower and upper corners of the x-boxes (``xlo <= xhi``); a box with
            ``xlo == xhi`` is a point.
        ylo, yhi : array-like of shape (k, y_dim)
            The same for the y-boxes; box pair i is ``[xlo[i], xhi[i]] x [ylo[i], yhi[i]]``.

        Returns
        -------
        RelationEnclosure
            Value and gradient enclosures for every box pair, computed in interval
            arithmetic with outward rounding (the proof step of the sup-norm
            certificates, DESIGN.md "Certificates").

        Raises
        ------
        InvalidInputError
            Invalid boxes (see :meth:`check_boxes`), or a relation that cannot be
            enclosed rigorously (a black-box callable, an unsupported expression node).

        Examples
        --------
        >>> from certify.relations import Laplace
        >>> e = Laplace(lengthscale=1.0).enclose([[0.0]], [[0.1]], [[0.0]], [[0.0]])
        >>> bool(e.value_lo[0] <= np.exp(-0.1) and e.value_hi[0] >= 1.0)
        True
        >>> float(e.grad_x_lo[0, 0]) <= -1.0 and float(e.grad_x_hi[0, 0]) >= 1.0  # kink at 0
        True
        """
        Xl, Xh, Yl, Yh = self.check_boxes(xlo, xhi, ylo, yhi)
        vlo, vhi, gxl, gxh, gyl, gyh = self._enclose(Xl, Xh, Yl, Yh, gradients=True)
        vlo, vhi = _no_nan(vlo, vhi)
        gxl, gxh = _no_nan(gxl, gxh)
        gyl, gyh = _no_nan(gyl, gyh)
        k = Xl.shape[0]
        assert vlo.shape == (k,) and gxl.shape == Xl.shape and gyl.shape == Yl.shape
        return RelationEnclosure(vlo, vhi, gxl, gxh, gyl, gyh)

    def enclose_values(
        self,
        xlo: npt.ArrayLike,
        xhi: npt.ArrayLike,
        ylo: npt.ArrayLike,
        yhi: npt.ArrayLike,
    ) -> tuple[FloatArray, FloatArray]:
        """Enclosures ``(value_lo, value_hi)`` of r over k box pairs, without gradients.

        Same arguments and guarantees as :meth:`enclose`, cheaper when no gradient
        is needed (for instance at the box centres of a mean-value form).
        """
        Xl, Xh, Yl, Yh = self.check_boxes(xlo, xhi, ylo, yhi)
        vlo, vhi, *_ = self._enclose(Xl, Xh, Yl, Yh, gradients=False)
        return _no_nan(vlo, vhi)

    def __str__(self) -> str:
        return self.spec
