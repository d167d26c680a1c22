"""Public evaluation API: gram, residual_max, residual_sumsq, and their input checks."""

from __future__ import annotations

import numpy as np
import pytest

import certify
from certify.errors import InvalidInputError
from certify.relations import CallableRelation

EPS = np.finfo(np.float64).eps

RELATIONS = [
    "gaussian:lengthscale=0.5",
    "poly:degree=2,offset=1",
    "bilinear:W=[[1,2],[0,1]]",
    "expr:exp(-(x0-y0)**2 - (x1-y1)**2)",
]


@pytest.mark.parametrize("spec", RELATIONS)
def test_residual_max_matches_materialised(rng, spec):
    r = certify.parse_relation(spec)
    X, Y = rng.uniform(-1, 1, (37, 2)), rng.uniform(-1, 1, (23, 2))
    P, Q = rng.standard_normal((37, 4)) * 0.3, rng.standard_normal((23, 4)) * 0.3
    R = np.abs(certify.gram(r, X, Y) - P @ Q.T)
    res = certify.residual_max(r, X, Y, P, Q)
    i, j = np.unravel_index(np.argmax(R), R.shape)
    # The fused sum of 4 products may round differently from BLAS: 8 eps relative to |P||Q|+|r|.
    assert abs(res.value - R.max()) <= 8 * EPS * (1 + R.max())
    assert R[res.i, res.j] >= R.max() - 8 * EPS * (1 + R.max())
    assert (
        (res.i, res.j) == (i, j)
        or R[i, j] == R[res.i, res.j]
        or abs(R[i, j] - R[res.i, res.j]) <= 8 * EPS
    )
    wx, wy = rng.random(37), rng.random(23)
    ss = certify.residual_sumsq(r, X, Y, P, Q, x_weights=wx, y_weights=wy)
    want = float(wx @ R**2 @ wy)
    # a sum of 851 positive terms: relative error <= 851 eps, with headroom 4x.
    assert abs(ss - want) <= 4 * 851 * EPS * want


def test_symmetric_defaults(rng):
    k = certify.kernels.Gaussian()
    X = rng.uniform(-1, 1, (10, 1))
    P = rng.standard_normal((10, 3))
    assert certify.residual_max(k, X, None, P) == certify.residual_max(k, X, X, P, P)
    np.testing.assert_array_equal(certify.gram(k, X), certify.gram(k, X, X))


def test_callable_relation_goes_through_blocks(rng):
    r = CallableRelation(lambda X, Y: np.cos(X[:, 0] * Y[:, 1]), x_dim=1, y_dim=2)
    X, Y = rng.uniform(-1, 1, (11, 1)), rng.uniform(-1, 1, (7, 2))
    P, Q = rng.standard_normal((11, 2)), rng.standard_normal((7, 2))
    R = np.abs(np.cos(X * Y[:, 1]) - P @ Q.T)
    res = certify.residual_max(r, X, Y, P, Q)
    assert res.value == pytest.approx(R.max(), rel=8 * EPS)


@pytest.mark.parametrize(
    "args,match",
    [
        (dict(X=[[0.0, np.nan]]), "`X` must contain only finite values"),
        (dict(P=np.ones((5, 3))), r"`P` must be a feature matrix of shape \(4, n_features\)"),
        (dict(Q=np.ones((3, 2))), "`Q` must have the same number of features as `P`"),
        (dict(P=np.full((4, 3), np.inf)), "`P` must contain only finite values"),
        (dict(Y=np.ones((3, 5))), "same dimension"),
    ],
)
def test_residual_bad_input(rng, args, match):
    kwargs = dict(X=rng.random((4, 2)), Y=rng.random((3, 2)), P=np.ones((4, 3)), Q=np.ones((3, 3)))
    kwargs.update(args)
    with pytest.raises(InvalidInputError, match=match):
        certify.residual_max("gaussian", kwargs["X"], kwargs["Y"], kwargs["P"], kwargs["Q"])


def test_q_required_with_y(rng):
    with pytest.raises(InvalidInputError, match="`Q` is required"):
        certify.residual_max("gaussian", rng.random((3, 1)), rng.random((2, 1)), np.ones((3, 1)))


def test_weights_checked(rng):
    X = rng.random((3, 1))
    with pytest.raises(InvalidInputError, match="x_weights.*non-negative"):
        certify.residual_sumsq(
            "gaussian", X, X, np.ones((3, 1)), np.ones((3, 1)), x_weights=[1, -1, 1]
        )
    with pytest.raises(InvalidInputError, match=r"y_weights.*shape \(3,\)"):
        certify.residual_sumsq("gaussian", X, X, np.ones((3, 1)), np.ones((3, 1)), y_weights=[1, 1])


def test_gram_bad_points():
    with pytest.raises(InvalidInputError, match="2-D array"):
        certify.gram("gaussian", np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="at least 1 point"):
        certify.gram("gaussian", np.zeros((0, 2)))
    with pytest.raises(InvalidInputError, match="array of real numbers"):
        certify.gram("gaussian", [["a"]])
    with pytest.raises(InvalidInputError, match="`Y` is required"):
        certify.gram("bilinear:W=[[1,2]]", np.zeros((2, 1)))
