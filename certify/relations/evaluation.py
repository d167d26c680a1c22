"""Evaluation of relations and model residuals on point sets (the hot path's public face).

Kernels with a jitted path (``Relation.numba_code``) go through the numba
kernels of :mod:`certify._kernels`; other relations through their own
vectorised numpy evaluation, in blocks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from certify._kernels.gram import gram_numba
from certify._kernels.residual import (
    residual_max_blocked,
    residual_max_numba,
    residual_sumsq_blocked,
    residual_sumsq_numba,
)
from certify._validation import check_finite_array
from certify.errors import InvalidInputError
from certify.relations.base import Relation
from certify.relations.spec import parse_relation

__all__ = ["ResidualMax", "gram", "residual_max", "residual_sumsq"]

_F64 = npt.NDArray[np.float64]


class ResidualMax(NamedTuple):
    """max_ij |r(x_i, y_j) - <P_i, Q_j>| and where it is attained.

    A sampled maximum: an *estimate* (a lower bound) of the sup over the domain,
    never a proof of an upper bound. ``value`` is NaN or inf if any residual is.
    """

    value: float
    i: int
    j: int


def gram(
    relation: Relation | str, X: npt.ArrayLike, Y: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """The matrix ``G[i, j] = r(X[i], Y[j])`` (``Y=None`` means ``Y = X``).

    Parameters
    ----------
    relation : Relation or str
        A relation or its spec string (``"gaussian:lengthscale=0.5"``).
    X : array-like of shape (n, x_dim)
        Points (a 1-D array is n points in one dimension).
    Y : array-like of shape (m, y_dim), optional

    Returns
    -------
    ndarray of shape (n, m), float64

    Raises
    ------
    InvalidInputError
        NaN/inf in the points, a dimension that does not fit the relation, or a
        point the relation is not defined at.

    Examples
    --------
    >>> import certify
    >>> G = certify.gram(certify.kernels.Gaussian(lengthscale=1.0), [[0.0], [1.0]])
    >>> bool(np.allclose(G, [[1.0, np.exp(-0.5)], [np.exp(-0.5), 1.0]]))
    True
    """
    rel = parse_relation(relation)
    Xa, Ya = rel.check_points(X, Y)
    code = rel.numba_code
    if code is not None:
        kind, params = code
        return gram_numba(kind, params, Xa, Ya)
    return rel._pairwise(Xa, Ya)


def _features(
    P: npt.ArrayLike, name: str, n_points: int, n_features: int | None
) -> npt.NDArray[np.float64]:
    arr = check_finite_array(P, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_points:
        raise InvalidInputError(
            f"`{name}` must be a feature matrix of shape ({n_points}, n_features), one row per "
            f"point; got shape {arr.shape}."
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidInputError(
            f"`{name}` must have the same number of features as `P` ({n_features}); got "
            f"{arr.shape[1]}."
        )
    return np.ascontiguousarray(arr)


def _prepare(
    relation: Relation | str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike | None,
    P: npt.ArrayLike,
    Q: npt.ArrayLike | None,
) -> tuple[Relation, _F64, _F64, _F64, _F64]:
    rel = parse_relation(relation)
    Xa, Ya = rel.check_points(X, Y)
    Pa = _features(P, "P", Xa.shape[0], None)
    if Q is None:
        if Y is not None:
            raise InvalidInputError("`Q` is required when `Y` is given (Q = P only when Y = X).")
        Qa = Pa
    else:
        Qa = _features(Q, "Q", Ya.shape[0], Pa.shape[1])
    return rel, Xa, Ya, Pa, Qa


def residual_max(
    relation: Relation | str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike | None,
    P: npt.ArrayLike,
    Q: npt.ArrayLike | None = None,
) -> ResidualMax:
    """max over i, j of |r(X[i], Y[j]) - <P[i], Q[j]>|, fused: no (n, m) matrix is formed.

    ``P[i]`` are the features phi(X[i]) and ``Q[j]`` the features psi(Y[j]).
    ``Y=None`` means ``Y = X`` and then ``Q=None`` means ``Q = P`` (the
    symmetric model <phi, phi>).

    Returns
    -------
    ResidualMax
        ``(value, i, j)``: the largest residual on the sample (an estimate of the
        sup, not a bound) and its indices; ties go to the first in row-major order.
        NaN or inf if any residual is (callers must treat that as UNKNOWN).

    Examples
    --------
    >>> import certify
    >>> X = np.linspace(-1, 1, 5)[:, None]
    >>> res = certify.residual_max("bilinear:W=[[2.0]]", X, X, X, X)  # 2xy - xy = xy
    >>> res.value, res.i, res.j
    (1.0, 0, 0)
    """
    rel, Xa, Ya, Pa, Qa = _prepare(relation, X, Y, P, Q)
    code = rel.numba_code
    if code is not None:
        value, i, j = residual_max_numba(code[0], code[1], Xa, Ya, Pa, Qa)
    else:
        value, i, j = residual_max_blocked(rel._pairwise, Xa, Ya, Pa, Qa)
    return ResidualMax(float(value), int(i), int(j))


def _weights(w: npt.ArrayLike | None, name: str, n: int) -> npt.NDArray[np.float64]:
    if w is None:
        return np.ones(n, dtype=np.float64)
    arr = check_finite_array(w, name)
    if arr.shape != (n,):
        raise InvalidInputError(f"`{name}` must have shape ({n},); got {arr.shape}.")
    if np.any(arr < 0):
        raise InvalidInputError(f"`{name}` must be non-negative (quadrature weights).")
    return np.ascontiguousarray(arr)


def residual_sumsq(
    relation: Relation | str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike | None,
    P: npt.ArrayLike,
    Q: npt.ArrayLike | None = None,
    *,
    x_weights: npt.ArrayLike | None = None,
    y_weights: npt.ArrayLike | None = None,
) -> float:
    """sum_ij wx_i wy_j (r(X[i], Y[j]) - <P[i], Q[j]>)^2, fused (no (n, m) matrix).

    With quadrature weights of a probability measure this is the squared
    L2(mu x nu) error of the model (THEORY.md, lemmas L4-L6); weights default to 1.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0]])
    >>> residual_sumsq("bilinear:W=[[1.0]]", X, X, np.zeros((2, 1)), np.zeros((2, 1)))
    1.0
    """
    rel, Xa, Ya, Pa, Qa = _prepare(relation, X, Y, P, Q)
    wx = _weights(x_weights, "x_weights", Xa.shape[0])
    wy = _weights(y_weights, "y_weights", Ya.shape[0])
    code = rel.numba_code
    if code is not None:
        return float(residual_sumsq_numba(code[0], code[1], Xa, Ya, Pa, Qa, wx, wy))
    return float(residual_sumsq_blocked(rel._pairwise, Xa, Ya, Pa, Qa, wx, wy))
