"""The spec-string parser: every documented form, and the errors for bad specs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import certify
from certify.errors import InvalidInputError
from certify.relations import (
    ArcCosine,
    Bilinear,
    Box,
    Brownian,
    ExpressionRelation,
    Gaussian,
    Laplace,
    Matern32,
    Periodic,
    Polynomial,
    RealSpace,
    Sphere,
)


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("gaussian:lengthscale=0.5", Gaussian(lengthscale=0.5)),
        ("rbf:lengthscale=0.5", Gaussian(lengthscale=0.5)),
        ("laplace:lengthscale=1", Laplace(lengthscale=1.0)),
        ("brownian", Brownian()),
        ("matern32:lengthscale=0.3", Matern32(lengthscale=0.3)),
        ("poly:degree=3,offset=1", Polynomial(degree=3, offset=1.0)),
        ("periodic:kappa=2,period=pi", Periodic(kappa=2.0, period=math.pi)),
        ("arccos0", ArcCosine(order=0)),
        ("arccos:order=1", ArcCosine(order=1)),
        ("gaussian:lengthscale=2,dim=3", Gaussian(lengthscale=2.0, dim=3)),
        ("  GAUSSIAN : lengthscale = 0.5 ", Gaussian(lengthscale=0.5)),
    ],
)
def test_parse_relation(spec, expected):
    assert certify.parse_relation(spec) == expected


def test_parse_bilinear_and_expr():
    r = certify.parse_relation("bilinear:W=[[1,2],[0,1]]")
    assert isinstance(r, Bilinear)
    np.testing.assert_array_equal(r.W, [[1.0, 2.0], [0.0, 1.0]])
    e = certify.parse_relation("expr:exp(-(x0-y0)**2)")
    assert isinstance(e, ExpressionRelation) and e.symmetric
    m = certify.parse_relation("expr:Max(x0, y1)")  # commas inside the expression are fine
    assert (m.x_dim, m.y_dim) == (1, 2)


@pytest.mark.parametrize(
    "spec,match",
    [
        ("gausian:lengthscale=1", "unknown relation 'gausian'.*valid names:.*gaussian"),
        ("gaussian:length=1", "unknown parameter.*length.*valid parameters.*lengthscale"),
        ("gaussian:lengthscale=-1", "lengthscale.*> 0"),
        ("gaussian:lengthscale=abc", "lengthscale.*number"),
        ("gaussian:lengthscale", "key=value"),
        ("gaussian:lengthscale=1,lengthscale=2", "twice"),
        ("bilinear:V=[[1]]", "exactly one parameter W"),
        ("expr:", "needs an expression"),
        ("expr:x0 +* y0", "could not be parsed"),
        ("expr:z0 + y0", "only use the symbols"),
        ("", "non-empty string"),
        ("arccos0:order=1", "unknown parameter.*order"),
    ],
)
def test_bad_relation_specs(spec, match):
    with pytest.raises(InvalidInputError, match=match):
        certify.parse_relation(spec)


def test_parse_domain():
    assert certify.parse_domain("box:-1,1") == Box([-1.0], [1.0])
    assert certify.parse_domain("box:-1,1;0,2") == Box([-1.0, 0.0], [1.0, 2.0])
    assert certify.parse_domain("real:2") == RealSpace(2)
    assert certify.parse_domain("sphere:3") == Sphere(3)
    assert certify.parse_domain("finite:0;0.5;1").dim == 1


@pytest.mark.parametrize(
    "spec,match",
    [
        ("cube:-1,1", "unknown domain 'cube'.*valid names: box, finite, real, sphere"),
        ("box:", "needs bounds"),
        ("box:-1,1,2", "exactly two bounds"),
        ("box:1,-1", "lower < upper"),
        ("box:a,b", "comma-separated numbers"),
        ("real:two", "integer dimension"),
        ("sphere:1", "dim"),
        ("finite:0;1,2", "same dimension"),
    ],
)
def test_bad_domain_specs(spec, match):
    with pytest.raises(InvalidInputError, match=match):
        certify.parse_domain(spec)


def test_parse_measure():
    assert certify.parse_measure("uniform").spec == "uniform"
    assert certify.parse_measure("gaussian:std=0.5").spec == "gaussian:std=0.5"
    with pytest.raises(InvalidInputError, match="unknown measure 'lebesgue'.*valid names"):
        certify.parse_measure("lebesgue")
    with pytest.raises(InvalidInputError, match="unknown parameter.*sigma.*std"):
        certify.parse_measure("gaussian:sigma=1")


def test_objects_pass_through():
    k = Gaussian()
    assert certify.parse_relation(k) is k
    b = Box([0.0], [1.0])
    assert certify.parse_domain(b) is b
