"""Symmetric positive-definite kernels (the relations of theorem T-S in THEORY.md).

Parameters follow scikit-learn's Gaussian-process kernels: ``Gaussian`` is
``RBF(length_scale=l)`` = exp(-|x-y|^2 / (2 l^2)); ``Laplace`` is
``Matern(nu=0.5)`` = exp(-|x-y| / l) with the Euclidean norm (note that
``sklearn.metrics.pairwise.laplacian_kernel`` uses the L1 norm instead; the two
agree in one dimension); ``Matern32`` and ``Matern52`` are ``Matern(nu=1.5)``
and ``Matern(nu=2.5)``. The exact formulas are tabulated in
``certify._kernels.codes``.

Every kernel offers vectorised evaluation (``k(X, Y)``, ``k.paired``,
``k.diag``) and certified Lipschitz constants on boxes (``k.lipschitz``),
computed in ball arithmetic and rounded up, so they can enter proofs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from flint import arb, ctx

from certify._kernels import codes
from certify._kernels.gram import gram_numpy, paired_numpy
from certify._kernels.interval_relations import enclose_kernel
from certify._rigorous import WORKING_PRECISION, ball, upper_float
from certify._validation import check_int, check_positive, check_real
from certify.errors import InvalidInputError
from certify.relations.base import EnclosureArrays, Relation
from certify.relations.domains import Box

__all__ = [
    "ArcCosine",
    "Brownian",
    "ExpDot",
    "Gaussian",
    "Kernel",
    "Laplace",
    "Matern32",
    "Matern52",
    "Periodic",
    "Polynomial",
]

_INF = math.inf


def _fmt(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else repr(int(x))


def _check_dim(dim: int | None) -> int | None:
    return None if dim is None else check_int(dim, "dim", minimum=1, what="input dimension")


# --- ball-arithmetic helpers over boxes (exact float inputs, rigorous outputs) -------------
def _max_distance(xb: Box, yb: Box) -> arb:
    """Largest Euclidean distance between a point of ``xb`` and a point of ``yb``."""
    total = arb(0)
    for xl, xh, yl, yh in zip(xb.lower, xb.upper, yb.lower, yb.upper, strict=True):
        a = abs(ball(xh) - ball(yl))
        b = abs(ball(yh) - ball(xl))
        total += a.max(b) ** 2
    return total.sqrt()


def _max_norm(b: Box) -> arb:
    """max over the box of |y| (Euclidean)."""
    total = arb(0)
    for lo, hi in zip(b.lower, b.upper, strict=True):
        total += abs(ball(lo)).max(abs(ball(hi))) ** 2
    return total.sqrt()


def _min_norm(b: Box) -> arb:
    """min over the box of |x| (distance from the origin to the box)."""
    total = arb(0)
    for lo, hi in zip(b.lower, b.upper, strict=True):
        if lo > 0:
            total += ball(lo) ** 2
        elif hi < 0:
            total += ball(hi) ** 2
    return total.sqrt()


def _max_dot(xb: Box, yb: Box) -> arb:
    """max over the boxes of <x, y> (separable: the max of each product of intervals)."""
    total = arb(0)
    for xl, xh, yl, yh in zip(xb.lower, xb.upper, yb.lower, yb.upper, strict=True):
        corners = [ball(a) * ball(b) for a in (xl, xh) for b in (yl, yh)]
        m = corners[0]
        for c in corners[1:]:
            m = m.max(c)
        total += m
    return total


def _max_abs_dot(xb: Box, yb: Box) -> arb:
    """max over the boxes of |<x, y>|."""
    total = arb(0)
    for xl, xh, yl, yh in zip(xb.lower, xb.upper, yb.lower, yb.upper, strict=True):
        total += abs(ball(xl)).max(abs(ball(xh))) * abs(ball(yl)).max(abs(ball(yh)))
    return total


class Kernel(Relation):
    """A symmetric positive-definite kernel k(x, y) on R^dim (``dim=None``: any dimension)."""

    kind: ClassVar[int]
    spec_name: ClassVar[str]
    dim: int | None

    @property
    def x_dim(self) -> int | None:
        return self.dim

    @property
    def y_dim(self) -> int | None:
        return self.dim

    @property
    def symmetric(self) -> bool:
        return True

    def _params(self) -> list[float]:
        return []

    def _spec_params(self) -> dict[str, str]:
        return {}

    @property
    def spec(self) -> str:
        items = dict(self._spec_params())
        if self.dim is not None:
            items["dim"] = str(self.dim)
        if not items:
            return self.spec_name
        return self.spec_name + ":" + ",".join(f"{k}={v}" for k, v in items.items())

    @property
    def numba_code(self) -> tuple[int, npt.NDArray[np.float64]]:
        return self.kind, np.asarray(self._params(), dtype=np.float64)

    def _pairwise(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        kind, params = self.numba_code
        return gram_numpy(kind, params, X, Y)

    def _paired(
        self, X: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        kind, params = self.numba_code
        return paired_numpy(kind, params, X, Y)

    def _enclose(
        self,
        xlo: npt.NDArray[np.float64],
        xhi: npt.NDArray[np.float64],
        ylo: npt.NDArray[np.float64],
        yhi: npt.NDArray[np.float64],
        *,
        gradients: bool,
    ) -> EnclosureArrays:
        # Interval formulas per kind in certify._kernels.interval_relations: exact ranges of
        # the monotone profiles (stationary kernels), interval dot products (polynomial,
        # exp-dot), Clarke hulls at the kinks (Laplace at r = 0, Brownian at x_i = y_i),
        # Kahan's angle in intervals intersected with a Lipschitz centred form (arc-cosine).
        kind, params = self.numba_code
        return enclose_kernel(kind, params, xlo, xhi, ylo, yhi, gradients=gradients)

    def _lipschitz(
        self, x_box: Box | None, y_box: Box | None, dims: tuple[int | None, int | None]
    ) -> tuple[float, float]:
        with ctx.workprec(WORKING_PRECISION):
            lx = self._lipschitz_x(x_box, y_box, dims[0])
            ly = self._lipschitz_x(y_box, x_box, dims[1])  # symmetry: swap the roles
        return lx, ly

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        """Certified Lipschitz constant in the first argument; override per kernel."""
        raise NotImplementedError  # pragma: no cover - every concrete kernel overrides

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


class _Stationary(Kernel):
    """k(x, y) = f(|x - y|) with |f'| unimodal: increasing on [0, r*], decreasing after."""

    lengthscale: float

    def _spec_params(self) -> dict[str, str]:
        return {"lengthscale": _fmt(self.lengthscale)}

    def _params(self) -> list[float]:
        return [self.lengthscale]

    def _slope(self, r: arb, ell: arb) -> arb:
        """|f'(r)| as a ball."""
        raise NotImplementedError  # pragma: no cover

    def _peak(self, ell: arb) -> arb:
        """r* where |f'| is largest."""
        raise NotImplementedError  # pragma: no cover

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        # |grad_x f(|x - y|)| = |f'(r)|; along a segment in x_box the distance to y stays
        # in [0, D] with D the largest distance between the boxes, so L = sup_[0,D] |f'|.
        ell = ball(self.lengthscale)
        peak = self._peak(ell)
        if x_box is not None and y_box is not None:
            dist = _max_distance(x_box, y_box)
            if dist < peak:  # certainly below the peak: |f'| increasing on [0, D]
                return upper_float(self._slope(dist, ell))
        return upper_float(self._slope(peak, ell))


def _init_lengthscale(obj: _Stationary, lengthscale: float, dim: int | None) -> None:
    object.__setattr__(obj, "lengthscale", check_positive(lengthscale, "lengthscale"))
    object.__setattr__(obj, "dim", _check_dim(dim))


@dataclass(frozen=True, repr=False)
class Gaussian(_Stationary):
    """Gaussian (RBF) kernel exp(-|x - y|^2 / (2 lengthscale^2)); sklearn's ``RBF``.

    Examples
    --------
    >>> k = Gaussian(lengthscale=0.5)
    >>> float(k([[0.0]], [[0.5]])[0, 0]) == float(np.exp(-0.5))
    True
    >>> bool(k.lipschitz(Box([-1.0], [1.0])).x >= np.exp(-0.5) / 0.5)  # sup |f'| = e^-1/2 / l
    True
    """

    lengthscale: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.GAUSSIAN
    spec_name: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        _init_lengthscale(self, self.lengthscale, self.dim)

    def _slope(self, r: arb, ell: arb) -> arb:
        return r / ell**2 * (-(r**2) / (2 * ell**2)).exp()

    def _peak(self, ell: arb) -> arb:
        return ell


@dataclass(frozen=True, repr=False)
class Laplace(_Stationary):
    """Laplace (exponential) kernel exp(-|x - y| / lengthscale); sklearn's ``Matern(nu=0.5)``.

    Examples
    --------
    >>> Laplace(lengthscale=2.0).lipschitz(None).x >= 0.5  # |f'| <= 1 / l
    True
    """

    lengthscale: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.LAPLACE
    spec_name: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        _init_lengthscale(self, self.lengthscale, self.dim)

    def _slope(self, r: arb, ell: arb) -> arb:
        return (-r / ell).exp() / ell

    def _peak(self, ell: arb) -> arb:
        return arb(0)


@dataclass(frozen=True, repr=False)
class Matern32(_Stationary):
    """Matern nu = 3/2: (1 + sqrt(3) r / l) exp(-sqrt(3) r / l); sklearn's ``Matern(nu=1.5)``."""

    lengthscale: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.MATERN32
    spec_name: ClassVar[str] = "matern32"

    def __post_init__(self) -> None:
        _init_lengthscale(self, self.lengthscale, self.dim)

    def _slope(self, r: arb, ell: arb) -> arb:
        s3 = arb(3).sqrt()
        return 3 * r / ell**2 * (-s3 * r / ell).exp()

    def _peak(self, ell: arb) -> arb:
        return ell / arb(3).sqrt()


@dataclass(frozen=True, repr=False)
class Matern52(_Stationary):
    """Matern nu = 5/2: (1 + sqrt(5) r/l + 5 r^2/(3 l^2)) exp(-sqrt(5) r/l); ``Matern(nu=2.5)``."""

    lengthscale: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.MATERN52
    spec_name: ClassVar[str] = "matern52"

    def __post_init__(self) -> None:
        _init_lengthscale(self, self.lengthscale, self.dim)

    def _slope(self, r: arb, ell: arb) -> arb:
        s5 = arb(5).sqrt()
        return 5 * r / (3 * ell**2) * (1 + s5 * r / ell) * (-s5 * r / ell).exp()

    def _peak(self, ell: arb) -> arb:
        # d/dt [t (1 + t) e^-t] = (1 + t - t^2) e^-t vanishes at the golden ratio t = sqrt(5) r / l.
        golden = (1 + arb(5).sqrt()) / 2
        return golden * ell / arb(5).sqrt()


@dataclass(frozen=True, repr=False)
class Polynomial(Kernel):
    """Polynomial kernel (gamma <x, y> + offset)^degree; PD for integer degree >= 1, offset >= 0.

    Note ``gamma`` defaults to 1 (sklearn's ``polynomial_kernel`` defaults to 1 / n_features).

    Examples
    --------
    >>> k = Polynomial(degree=2, offset=1.0)
    >>> float(k([[1.0, 2.0]], [[3.0, -1.0]])[0, 0])  # (1*3 + 2*(-1) + 1)^2
    4.0
    """

    degree: int = 2
    offset: float = 1.0
    gamma: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.POLYNOMIAL
    spec_name: ClassVar[str] = "poly"

    def __post_init__(self) -> None:
        object.__setattr__(self, "degree", check_int(self.degree, "degree", minimum=1))
        offset = check_real(self.offset, "offset")
        if offset < 0:
            raise InvalidInputError(
                f"`offset` must be >= 0 (otherwise the polynomial kernel is not positive "
                f"definite); got {offset!r}."
            )
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "gamma", check_positive(self.gamma, "gamma"))
        object.__setattr__(self, "dim", _check_dim(self.dim))

    def _params(self) -> list[float]:
        return [float(self.degree), self.offset, self.gamma]

    def _spec_params(self) -> dict[str, str]:
        out = {"degree": str(self.degree), "offset": _fmt(self.offset)}
        if self.gamma != 1.0:
            out["gamma"] = _fmt(self.gamma)
        return out

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        # grad_x = degree gamma (gamma <x,y> + c)^(degree-1) y.
        if x_box is None or y_box is None:
            return _INF
        g, c = ball(self.gamma), ball(self.offset)
        base = g * _max_abs_dot(x_box, y_box) + c
        return upper_float(self.degree * g * base ** (self.degree - 1) * _max_norm(y_box))


@dataclass(frozen=True, repr=False)
class Brownian(Kernel):
    """Brownian-motion kernel min(x, y) on [0, inf), and its product form prod_i min(x_i, y_i).

    Points must have non-negative coordinates.

    Examples
    --------
    >>> Brownian()([[0.25], [1.0]], [[0.5]]).ravel().tolist()
    [0.25, 0.5]
    """

    dim: int | None = None
    kind: ClassVar[int] = codes.BROWNIAN
    spec_name: ClassVar[str] = "brownian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", _check_dim(self.dim))

    def _check_values(self, X: npt.NDArray[np.float64], name: str) -> None:
        if np.any(X < 0):
            k = np.argwhere(X < 0)[0]
            raise InvalidInputError(
                f"`{name}` must have non-negative coordinates for the Brownian kernel "
                f"min(x, y) (defined on [0, inf)^d); found {X[tuple(k)]!r} at index "
                f"{tuple(int(v) for v in k)}."
            )

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        # d/dx_i prod_j min(x_j, y_j) = [x_i < y_i] prod_{j != i} min(x_j, y_j) (a.e.), and
        # 0 <= min(x_j, y_j) <= m_j = min(hi_x_j, hi_y_j): |grad| <= sqrt(sum_i prod_{j!=i} m_j^2).
        if x_box is None or y_box is None:
            return 1.0 if dim == 1 else _INF
        m = [ball(a).min(ball(b)) for a, b in zip(x_box.upper, y_box.upper, strict=True)]
        total = arb(0)
        for i in range(len(m)):
            prod = arb(1)
            for j, mj in enumerate(m):
                if j != i:
                    prod *= mj
            total += prod**2
        return upper_float(total.sqrt())


@dataclass(frozen=True, repr=False)
class Periodic(Kernel):
    """Periodic (von Mises) kernel exp(kappa sum_i cos(2 pi (x_i - y_i) / period)).

    In one dimension with ``period = 2 pi`` this is exp(kappa cos(x - y)), whose
    Fourier (Mercer) coefficients on the circle are modified Bessel functions.

    Examples
    --------
    >>> k = Periodic(kappa=1.0)
    >>> bool(np.isclose(k([[0.0]], [[2 * np.pi]])[0, 0], np.e))
    True
    """

    kappa: float = 1.0
    period: float = 2 * math.pi
    dim: int | None = None
    kind: ClassVar[int] = codes.PERIODIC
    spec_name: ClassVar[str] = "periodic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kappa", check_positive(self.kappa, "kappa"))
        object.__setattr__(self, "period", check_positive(self.period, "period"))
        object.__setattr__(self, "dim", _check_dim(self.dim))

    def _params(self) -> list[float]:
        return [self.kappa, self.period]

    def _spec_params(self) -> dict[str, str]:
        out = {"kappa": _fmt(self.kappa)}
        if self.period != 2 * math.pi:
            out["period"] = _fmt(self.period)
        return out

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        # d/dx_i = -kappa w sin(w t_i) k with w = 2 pi / period. In one variable
        # |sin t| e^(kappa cos t) peaks where cos t = c = (sqrt(1 + 4 kappa^2) - 1) / (2 kappa);
        # the other factors e^(kappa cos t_j) are <= e^kappa, so
        # |grad| <= kappa w sqrt(d) sqrt(1 - c^2) e^(kappa c) e^(kappa (d - 1)).
        d = dim if dim is not None else (x_box.dim if x_box is not None else None)
        if d is None:
            return _INF
        kap = ball(self.kappa)
        w = 2 * arb.pi() / ball(self.period)
        c = ((1 + 4 * kap**2).sqrt() - 1) / (2 * kap)
        one_dim = (1 - c**2).sqrt() * (kap * c).exp()
        return upper_float(kap * w * arb(d).sqrt() * one_dim * (kap * (d - 1)).exp())


@dataclass(frozen=True, repr=False)
class ArcCosine(Kernel):
    """Arc-cosine kernel of order 0 or 1 (Cho and Saul, 2009): infinite-width step / ReLU nets.

    order 0: 1 - theta / pi; order 1: |x| |y| (sin theta + (pi - theta) cos theta) / pi,
    with theta the angle between x and y. The order-0 kernel is discontinuous
    at the origin (value 1/2 there), so it is Lipschitz only on boxes that avoid 0.

    Examples
    --------
    >>> float(ArcCosine(order=0)([[1.0, 0.0]], [[0.0, 1.0]])[0, 0])  # theta = pi / 2
    0.5
    """

    order: int = 1
    dim: int | None = None
    kind: ClassVar[int] = codes.ARCCOS1
    spec_name: ClassVar[str] = "arccos"

    def __post_init__(self) -> None:
        order = check_int(self.order, "order")
        if order not in (0, 1):
            raise InvalidInputError(
                f"`order` of the arc-cosine kernel must be 0 or 1; got {order}."
            )
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "dim", _check_dim(self.dim))

    @property
    def numba_code(self) -> tuple[int, npt.NDArray[np.float64]]:
        kind = codes.ARCCOS0 if self.order == 0 else codes.ARCCOS1
        return kind, np.zeros(0, dtype=np.float64)

    def _spec_params(self) -> dict[str, str]:
        return {"order": str(self.order)}

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        if x_box is None or y_box is None:
            return _INF
        if self.order == 1:
            # grad_x = ((pi - theta) y + |y| sin(theta) x/|x|) / pi has norm
            # |y| sqrt((pi-theta)^2 + sin^2 + 2 (pi-theta) sin cos) / pi, decreasing in theta,
            # so <= |y| (its value at theta = 0).
            return upper_float(_max_norm(y_box))
        # order 0: |grad_x theta| = 1 / |x|, and along a segment avoiding the ball of radius
        # rho the angle changes by at most length / rho, so L = 1 / (pi rho).
        rho = _min_norm(x_box)
        if not rho > 0:
            return _INF
        return upper_float(1 / (arb.pi() * rho))


@dataclass(frozen=True, repr=False)
class ExpDot(Kernel):
    """Exponential dot-product kernel exp(<x, y> / scale).

    Examples
    --------
    >>> bool(np.isclose(ExpDot(scale=2.0)([[1.0, 1.0]], [[1.0, 1.0]])[0, 0], np.e))
    True
    """

    scale: float = 1.0
    dim: int | None = None
    kind: ClassVar[int] = codes.EXPDOT
    spec_name: ClassVar[str] = "expdot"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_positive(self.scale, "scale"))
        object.__setattr__(self, "dim", _check_dim(self.dim))

    def _params(self) -> list[float]:
        return [self.scale]

    def _spec_params(self) -> dict[str, str]:
        return {"scale": _fmt(self.scale)}

    def _lipschitz_x(self, x_box: Box | None, y_box: Box | None, dim: int | None) -> float:
        # grad_x = y / s exp(<x, y> / s).
        if x_box is None or y_box is None:
            return _INF
        s = ball(self.scale)
        return upper_float(_max_norm(y_box) / s * (_max_dot(x_box, y_box) / s).exp())


KERNELS: dict[str, type[Kernel]] = {
    cls.spec_name: cls
    for cls in (
        Gaussian,
        Laplace,
        Matern32,
        Matern52,
        Polynomial,
        Brownian,
        Periodic,
        ArcCosine,
        ExpDot,
    )
}
"""Kernel classes by spec name."""
