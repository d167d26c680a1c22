"""Forward pass of the MLP feature maps (dense layers), numba and pure numpy.

A layer computes ``act(X @ W.T + b)`` with ``W`` of shape ``(n_out, n_in)``
(the PyTorch convention) and ``b`` of shape ``(n_out,)``; an MLP applies the
activation on every hidden layer and none on the last one.

Both twins compute each pre-activation as ``(sum_k X[i, k] W[o, k]) + b[o]``;
the numba kernel sums in order ``k = 0, 1, ...`` without fused multiply-adds,
the numpy twin through BLAS, so they agree to rounding. Inputs are assumed
validated (C-contiguous float64, matching shapes). NaN propagates through
every activation (ReLU included).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from certify.errors import InvalidInputError

__all__ = [
    "ACTIVATION_CODES",
    "LINEAR",
    "RELU",
    "SIGMOID",
    "TANH",
    "dense_numba",
    "dense_numpy",
    "mlp_forward_numba",
    "mlp_forward_numpy",
]

FloatArray = npt.NDArray[np.float64]

LINEAR = 0
TANH = 1
SIGMOID = 2
RELU = 3

#: Activation name -> code understood by the kernels of this module.
ACTIVATION_CODES: dict[str, int] = {
    "linear": LINEAR,
    "tanh": TANH,
    "sigmoid": SIGMOID,
    "relu": RELU,
}

# Rows of X per parallel task.
_TILE_ROWS = 16


def _check_act(act: int) -> int:
    code = int(act)
    if code not in ACTIVATION_CODES.values():
        raise InvalidInputError(
            f"`act` must be an activation code in {sorted(ACTIVATION_CODES.values())} "
            f"({ACTIVATION_CODES}); got {act!r}."
        )
    return code


@numba.njit(cache=True)
def _activate(z, act):
    if act == TANH:
        return np.tanh(z)
    if act == SIGMOID:
        # 1 / (1 + exp(-z)) without overflow: exp of a non-positive number only.
        if z >= 0.0:
            return 1.0 / (1.0 + np.exp(-z))
        e = np.exp(z)
        return e / (1.0 + e)
    if act == RELU:
        return 0.0 if z < 0.0 else z  # NaN is not < 0, so it propagates
    return z


@numba.njit(cache=True)
def _dense_tile(X, W, b, act, out, i0, i1):
    n_out = W.shape[0]
    n_in = W.shape[1]
    for i in range(i0, i1):
        for o in range(n_out):
            s = 0.0
            for k in range(n_in):
                s += X[i, k] * W[o, k]
            out[i, o] = _activate(s + b[o], act)


@numba.njit(cache=True, parallel=True)
def _dense_impl(X, W, b, act, out):
    n = X.shape[0]
    n_tiles = (n + _TILE_ROWS - 1) // _TILE_ROWS
    for t in numba.prange(n_tiles):
        i0 = np.int64(t) * _TILE_ROWS
        _dense_tile(X, W, b, act, out, i0, min(n, i0 + _TILE_ROWS))


def dense_numba(X: FloatArray, W: FloatArray, b: FloatArray, act: int) -> FloatArray:
    """One dense layer ``act(X @ W.T + b)`` (numba, parallel over rows).

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
        C-contiguous float64 inputs.
    W : ndarray of shape (n_out, n_in)
        C-contiguous float64 weights (PyTorch convention).
    b : ndarray of shape (n_out,)
        Float64 biases.
    act : int
        Activation code, a value of :data:`ACTIVATION_CODES`.

    Returns
    -------
    ndarray of shape (n, n_out)
        The layer output.

    See Also
    --------
    dense_numpy : the pure-numpy twin.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, -2.0]])
    >>> dense_numba(X, np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([0.5, 0.0]),
    ...             ACTIVATION_CODES["relu"])
    array([[0., 0.]])
    """
    code = _check_act(act)
    out = np.empty((X.shape[0], W.shape[0]), dtype=np.float64)
    _dense_impl(X, W, b, code, out)
    return out


def mlp_forward_numba(
    X: FloatArray, weights: Sequence[FloatArray], biases: Sequence[FloatArray], act: int
) -> FloatArray:
    """MLP forward pass: ``act`` on every hidden layer, the last layer linear (numba).

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
        C-contiguous float64 inputs.
    weights : sequence of ndarray
        ``weights[l]`` of shape ``(n_l+1, n_l)`` (PyTorch convention).
    biases : sequence of ndarray
        ``biases[l]`` of shape ``(n_l+1,)``, as many as ``weights``.
    act : int
        Activation code of the hidden layers, a value of :data:`ACTIVATION_CODES`.

    Returns
    -------
    ndarray of shape (n, n_out)
        The features, one row per input point.

    Raises
    ------
    InvalidInputError
        If ``act`` is not a known code, or ``weights`` and ``biases`` are empty or
        of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> W = [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])]
    >>> b = [np.zeros(2), np.zeros(1)]
    >>> mlp_forward_numba(np.array([[-3.0], [2.0]]), W, b, ACTIVATION_CODES["relu"])  # |x|
    array([[3.],
           [2.]])
    """
    code = _check_layers(weights, biases, act)
    out = X
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        out = dense_numba(out, W, b, code if layer < len(weights) - 1 else LINEAR)
    return out


def _check_layers(weights: Sequence[FloatArray], biases: Sequence[FloatArray], act: int) -> int:
    if len(weights) == 0 or len(weights) != len(biases):
        raise InvalidInputError(
            f"`weights` and `biases` must be non-empty sequences of the same length; got "
            f"{len(weights)} weight matrices and {len(biases)} bias vectors."
        )
    return _check_act(act)


def _activate_numpy(Z: FloatArray, act: int) -> FloatArray:
    if act == TANH:
        return np.tanh(Z)
    if act == SIGMOID:
        out = np.empty_like(Z)
        nonneg = Z >= 0.0
        out[nonneg] = 1.0 / (1.0 + np.exp(-Z[nonneg]))
        e = np.exp(Z[~nonneg])  # Z < 0 here (or NaN), so no overflow
        out[~nonneg] = e / (1.0 + e)
        return out
    if act == RELU:
        return np.where(Z < 0.0, 0.0, Z)
    return Z


def dense_numpy(X: FloatArray, W: FloatArray, b: FloatArray, act: int) -> FloatArray:
    """Pure-numpy twin of :func:`dense_numba`.

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
        Float64 inputs.
    W : ndarray of shape (n_out, n_in)
        Float64 weights (PyTorch convention).
    b : ndarray of shape (n_out,)
        Float64 biases.
    act : int
        Activation code, a value of :data:`ACTIVATION_CODES`.

    Returns
    -------
    ndarray of shape (n, n_out)
        The layer output.

    Examples
    --------
    >>> import numpy as np
    >>> dense_numpy(np.array([[800.0], [-800.0]]), np.array([[1.0]]), np.zeros(1),
    ...             ACTIVATION_CODES["sigmoid"])
    array([[1.],
           [0.]])
    """
    code = _check_act(act)
    return _activate_numpy(X @ W.T + b, code)


def mlp_forward_numpy(
    X: FloatArray, weights: Sequence[FloatArray], biases: Sequence[FloatArray], act: int
) -> FloatArray:
    """Pure-numpy twin of :func:`mlp_forward_numba`.

    Parameters
    ----------
    X : ndarray of shape (n, n_in)
        Float64 inputs.
    weights : sequence of ndarray
        ``weights[l]`` of shape ``(n_l+1, n_l)``.
    biases : sequence of ndarray
        ``biases[l]`` of shape ``(n_l+1,)``.
    act : int
        Activation code of the hidden layers.

    Returns
    -------
    ndarray of shape (n, n_out)
        The features.

    Raises
    ------
    InvalidInputError
        If ``act`` is not a known code, or ``weights`` and ``biases`` are empty or
        of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> W = [np.array([[2.0]]), np.array([[3.0]])]
    >>> mlp_forward_numpy(np.array([[0.0]]), W, [np.zeros(1), np.ones(1)], ACTIVATION_CODES["tanh"])
    array([[1.]])
    """
    code = _check_layers(weights, biases, act)
    out = X
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        out = dense_numpy(out, W, b, code if layer < len(weights) - 1 else LINEAR)
    return out
