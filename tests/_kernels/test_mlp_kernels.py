"""Tests of certify._kernels.mlp: dense layers and the MLP forward pass, numba vs numpy."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from certify._kernels.mlp import (
    ACTIVATION_CODES,
    dense_numba,
    dense_numpy,
    mlp_forward_numba,
    mlp_forward_numpy,
)
from certify.errors import InvalidInputError

EPS = np.finfo(np.float64).eps
Dense = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
ALL_ACTIVATIONS = pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))

# Error of an activation value relative to its size: tanh / exp within 4 ulp (glibc, or
# numpy's SIMD versions), sigmoid adds one addition and one division: 8 eps.
ACT_RELATIVE_ERROR = 8 * EPS
# Lipschitz constants of the activations (|act'| <= 1; sigmoid 1/4).
ACT_LIPSCHITZ = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(314159)


def network(
    rng: np.random.Generator, widths: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [
        rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)
        for n_in, n_out in itertools.pairwise(widths)
    ]
    biases = [rng.standard_normal(n_out) for n_out in widths[1:]]
    return weights, biases


def forward_error_bound(
    X: np.ndarray,
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    name: str,
    *,
    last_linear: bool = True,
) -> np.ndarray:
    """Elementwise bound on |computed - exact| of the output, for either implementation.

    A pre-activation z = sum_k x_k w_k + b computed in any order, with or without FMA, is
    within gamma_{n_in + 1} (|x| . |w| + |b|) of the exact one (the classical dot-product
    bound, gamma_k = k eps / (1 - k eps) < 1.01 k eps), plus |W| times the error already
    in x. The activation multiplies that by its Lipschitz constant and adds its own
    rounding, ACT_RELATIVE_ERROR x |value|. The computed x is used in place of the exact
    one in the bound, a second-order difference.
    """
    x = X
    error = np.zeros_like(X)
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        act = "linear" if last_linear and layer == len(weights) - 1 else name
        z_error = (W.shape[1] + 1) * 1.01 * EPS * (np.abs(x) @ np.abs(W).T + np.abs(b))
        z_error += error @ np.abs(W).T
        x = dense_numpy(x, W, b, ACTIVATION_CODES[act])
        act_error = 0.0 if act == "linear" else ACT_RELATIVE_ERROR
        error = ACT_LIPSCHITZ[act] * z_error + act_error * np.abs(x)
    return error


def assert_close_elementwise(
    actual: np.ndarray, expected: np.ndarray, *, rtol: float, atol: np.ndarray
) -> None:
    """|actual - expected| <= atol + rtol |expected| entry by entry (atol an array)."""
    assert actual.shape == expected.shape
    allowed = atol + rtol * np.abs(expected)
    excess = np.abs(actual - expected) / allowed
    assert np.all(excess <= 1.0), f"largest |difference| / allowed = {np.max(excess):.3g}"


def test_activation_codes() -> None:
    assert ACTIVATION_CODES == {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3}


@ALL_ACTIVATIONS
@pytest.mark.parametrize("n", [1, 37])
def test_dense_twins(name: str, n: int, rng: np.random.Generator) -> None:
    X = rng.standard_normal((n, 5))
    (W,), (b,) = network(rng, [5, 11])
    act = ACTIVATION_CODES[name]
    got = dense_numba(X, W, b, act)
    assert got.shape == (n, 11)
    bound = forward_error_bound(X, [W], [b], name, last_linear=False)
    # Each twin is within `bound` of the exact value (see forward_error_bound), so they are
    # within 2 x bound of each other; rtol 0 since the bound is already elementwise.
    assert_close_elementwise(got, dense_numpy(X, W, b, act), rtol=0.0, atol=2 * bound)


@ALL_ACTIVATIONS
def test_mlp_forward_twins(name: str, rng: np.random.Generator) -> None:
    X = rng.uniform(-1.0, 1.0, size=(37, 3))
    weights, biases = network(rng, [3, 24, 17, 6])
    act = ACTIVATION_CODES[name]
    got = mlp_forward_numba(X, weights, biases, act)
    expected = mlp_forward_numpy(X, weights, biases, act)
    assert got.shape == (37, 6)
    # Both within forward_error_bound of the exact forward pass: 2 x bound apart; rtol 0.
    assert_close_elementwise(
        got, expected, rtol=0.0, atol=2 * forward_error_bound(X, weights, biases, name)
    )


def test_mlp_hidden_layers_use_the_activation_and_the_last_is_linear() -> None:
    # |x| = relu(x) + relu(-x): exact in floating point.
    weights = [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])]
    biases = [np.zeros(2), np.array([-1.0])]
    X = np.array([[-3.0], [0.5], [0.0]])
    expected = np.array([[2.0], [-0.5], [-1.0]])  # the last layer's bias is not clipped
    relu = ACTIVATION_CODES["relu"]
    assert_array_equal(mlp_forward_numba(X, weights, biases, relu), expected)
    assert_array_equal(mlp_forward_numpy(X, weights, biases, relu), expected)


def test_single_layer_mlp_is_linear(rng: np.random.Generator) -> None:
    X = rng.standard_normal((5, 3))
    (W,), (b,) = network(rng, [3, 4])
    tanh = ACTIVATION_CODES["tanh"]
    linear = ACTIVATION_CODES["linear"]
    # The only layer is the last: same computation as a linear dense layer, bit for bit.
    assert_array_equal(mlp_forward_numba(X, [W], [b], tanh), dense_numba(X, W, b, linear))


def test_activations_against_scalar_formulas() -> None:
    z = np.array([-40.0, -3.0, -0.5, 0.0, 0.25, 2.0, 40.0])
    X = z[:, None]
    W = np.ones((1, 1))
    b = np.zeros(1)
    scalar = {
        "linear": lambda t: t,
        "tanh": math.tanh,
        "sigmoid": lambda t: 1.0 / (1.0 + math.exp(-t)),
        "relu": lambda t: max(t, 0.0),
    }
    for name, f in scalar.items():
        expected = np.array([[f(float(t))] for t in z])
        for dense in (dense_numba, dense_numpy):
            # z is exact (x 1 + 0); tanh and exp within 4 ulp, then +1 and / (sigmoid):
            # rtol 8 eps. atol 0: the smallest value, sigmoid(-40) ~ 4e-18, is far from
            # underflow and compared relatively.
            assert_allclose(
                dense(X, W, b, ACTIVATION_CODES[name]), expected, rtol=8 * EPS, atol=0.0
            )


@pytest.mark.parametrize("dense", [dense_numba, dense_numpy])
def test_sigmoid_is_stable_for_large_arguments(dense: Dense) -> None:
    X = np.array([[-800.0], [-40.0], [40.0], [800.0]])
    with np.errstate(over="raise"):
        out = dense(X, np.ones((1, 1)), np.zeros(1), ACTIVATION_CODES["sigmoid"])
    # exp(-800) underflows to 0, so the ends are exactly 0 and 1; sigmoid(40) rounds to 1.
    assert out[0, 0] == 0.0
    assert out[3, 0] == 1.0
    assert out[2, 0] == 1.0
    # sigmoid(-40) = e^-40 / (1 + e^-40), within 4 ulp of exp(-40) (x (1 - 4e-18)): 8 eps.
    assert_allclose(out[1, 0], math.exp(-40.0), rtol=8 * EPS, atol=0.0)


@ALL_ACTIVATIONS
@pytest.mark.parametrize("dense", [dense_numba, dense_numpy])
def test_nan_propagates_through_every_activation(name: str, dense: Dense) -> None:
    X = np.array([[np.nan], [1.0]])
    out = dense(X, np.ones((1, 1)), np.zeros(1), ACTIVATION_CODES[name])
    assert np.isnan(out[0, 0])
    assert np.isfinite(out[1, 0])


@pytest.mark.parametrize("forward", [mlp_forward_numba, mlp_forward_numpy])
def test_bad_activation_and_layers_raise(forward: Callable[..., np.ndarray]) -> None:
    X = np.zeros((2, 1))
    with pytest.raises(
        InvalidInputError, match=r"`act` must be an activation code in \[0, 1, 2, 3\]"
    ):
        forward(X, [np.ones((1, 1))], [np.zeros(1)], 7)
    with pytest.raises(InvalidInputError, match="must be non-empty sequences of the same length"):
        forward(X, [], [], 0)
    with pytest.raises(InvalidInputError, match="got 1 weight matrices and 2 bias vectors"):
        forward(X, [np.ones((1, 1))], [np.zeros(1), np.zeros(1)], 0)


@pytest.mark.parametrize("dense", [dense_numba, dense_numpy])
def test_dense_bad_activation_raises(dense: Dense) -> None:
    with pytest.raises(InvalidInputError, match="`act` must be an activation code"):
        dense(np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1), -1)
