"""Asymmetric relations: bilinear forms, callables, sympy expressions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from certify.errors import InvalidInputError
from certify.relations import Bilinear, Box, CallableRelation, ExpressionRelation

EPS = np.finfo(np.float64).eps


def test_bilinear_values_and_symmetry(rng):
    W = rng.standard_normal((2, 3))
    r = Bilinear(W)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal((4, 3))
    want = np.array([[x @ W @ y for y in Y] for x in X])
    # a 2x3 bilinear form: a handful of flops per entry, errors of a few eps * |x||W||y|.
    np.testing.assert_allclose(r(X, Y), want, rtol=0, atol=32 * EPS * 10)
    assert (r.x_dim, r.y_dim, r.symmetric) == (2, 3, False)
    assert Bilinear([[1.0, 2.0], [2.0, 1.0]]).symmetric


def test_bilinear_lipschitz_is_sound(rng):
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    r = Bilinear(W)
    xb, yb = Box([-1.0, 0.0], [1.0, 2.0]), Box([0.0, -1.0], [1.0, 1.0])
    bound = r.lipschitz(xb, yb)
    # exact: L_x = max_{y in yb} |W y| and L_y = max_{x in xb} |W^T x|, attained at corners
    corners_y = np.array([[a, b] for a in (0.0, 1.0) for b in (-1.0, 1.0)])
    corners_x = np.array([[a, b] for a in (-1.0, 1.0) for b in (0.0, 2.0)])
    assert bound.x >= np.linalg.norm(corners_y @ W.T, axis=1).max()
    assert bound.y >= np.linalg.norm(corners_x @ W, axis=1).max()


def test_callable_relation(rng):
    r = CallableRelation(lambda X, Y: np.sin(X[:, 0] - 2 * Y[:, 0]), x_dim=1, y_dim=1, name="s")
    X, Y = rng.uniform(-1, 1, (6, 1)), rng.uniform(-1, 1, (3, 1))
    np.testing.assert_array_equal(r(X, Y), np.sin(X - 2 * Y.T))
    assert r.lipschitz(Box([0.0], [1.0])).x == math.inf  # a black box has no certified constant


def test_callable_bad_outputs():
    wrong_shape = CallableRelation(lambda X, Y: np.zeros((len(X), 2)), x_dim=1, y_dim=1, name="w")
    with pytest.raises(InvalidInputError, match=r"'w' must return shape \(3,\).*\(3, 2\)"):
        wrong_shape.paired(np.zeros((3, 1)), np.zeros((3, 1)))
    nan = CallableRelation(lambda X, Y: np.log(X[:, 0] - Y[:, 0]), x_dim=1, y_dim=1, name="lg")
    with (
        pytest.raises(InvalidInputError, match="'lg' must return finite values.*nan"),
        np.errstate(invalid="ignore"),
    ):
        nan([[0.0]], [[1.0]])
    boom = CallableRelation(lambda X, Y: 1 / 0, x_dim=1, y_dim=1, name="boom")
    with pytest.raises(InvalidInputError, match="'boom' raised ZeroDivisionError"):
        boom([[0.0]], [[1.0]])
    with pytest.raises(InvalidInputError, match="x_dim == y_dim"):
        CallableRelation(lambda X, Y: X[:, 0], x_dim=1, y_dim=2, symmetric=True)
    with pytest.raises(InvalidInputError, match="dimension 2"):
        CallableRelation(lambda X, Y: X[:, 0], x_dim=1, y_dim=2)([[0.0]], [[1.0]])


def test_expression_relation(rng):
    r = ExpressionRelation("x0*y1 - x1*y0 + exp(-(x0 - y0)**2)")
    assert (r.x_dim, r.y_dim, r.symmetric) == (2, 2, False)
    X, Y = rng.uniform(-1, 1, (5, 2)), rng.uniform(-1, 1, (4, 2))
    want = X[:, :1] * Y[:, 1] - X[:, 1:] * Y[:, 0] + np.exp(-((X[:, :1] - Y[:, 0]) ** 2))
    # one exp and a few flops per entry
    np.testing.assert_allclose(r(X, Y), want, rtol=16 * EPS, atol=16 * EPS)
    assert ExpressionRelation("cos(x0 - y0) + x1*y1").symmetric
    c = ExpressionRelation("3")
    assert c([[0.0], [1.0]], [[2.0]]).tolist() == [[3.0], [3.0]]


def test_expression_lipschitz(rng):
    r = ExpressionRelation("sin(x0 - 2*y0)")
    box = Box([-1.0], [1.0])
    b = r.lipschitz(box)
    # |d/dx| = |cos| <= 1 and |d/dy| <= 2, attained: the enclosure is sound and close.
    assert 1.0 <= b.x <= 1.5 and 2.0 <= b.y <= 3.0
    assert ExpressionRelation("x0 + y0**2").lipschitz(None).y == math.inf
    assert ExpressionRelation("Heaviside(x0 - y0)").lipschitz(box).x == math.inf  # a jump


def test_expression_errors():
    with pytest.raises(InvalidInputError, match="only use the symbols"):
        ExpressionRelation("a*x0")
    with pytest.raises(InvalidInputError, match="uses x1"):
        ExpressionRelation("x1*y0", x_dim=1)
    with pytest.raises(InvalidInputError, match="not finite"):
        ExpressionRelation("log(x0 - y0)")([[0.0]], [[1.0]])
    assert ExpressionRelation(sp.Symbol("x0") * sp.Symbol("y0")).x_dim == 1
