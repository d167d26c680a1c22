"""Domains: construction, membership, specs and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from certify.errors import InvalidInputError
from certify.relations import Box, FiniteSet, RealSpace, Sphere, parse_domain


def test_box_basics():
    b = Box([-1.0, 0.0], [1.0, 2.0])
    assert b.dim == 2 and b.volume == 4.0
    np.testing.assert_array_equal(b.center, [0.0, 1.0])
    assert b.contains([[1.0, 2.0], [1.0, 2.0 + 1e-12], [-1.0, 0.0]]).tolist() == [True, False, True]
    assert Box.cube(-1, 1, 3) == Box([-1, -1, -1], [1, 1, 1])
    assert parse_domain(b.spec) == b
    with pytest.raises(ValueError):
        b.lower[0] = 5.0  # read-only


@pytest.mark.parametrize(
    "lower,upper,match",
    [
        ([1.0], [1.0], "lower < upper.*coordinate 0"),
        ([0.0, 2.0], [1.0, 1.0], "coordinate 1"),
        ([0.0], [1.0, 2.0], "same non-zero length"),
        ([np.nan], [1.0], "finite"),
        ([0.0], [np.inf], "finite"),
    ],
)
def test_box_errors(lower, upper, match):
    with pytest.raises(InvalidInputError, match=match):
        Box(lower, upper)


def test_check_points_names_the_offender():
    b = Box([0.0], [1.0])
    with pytest.raises(InvalidInputError, match=r"row 1 = \[1.5\] is outside"):
        b.check_points([[0.5], [1.5]])
    with pytest.raises(InvalidInputError, match="dimension 1"):
        b.check_points([[0.5, 0.5]])


def test_sphere_and_real():
    s = Sphere(3)
    x = np.array([[1.0, 2.0, 2.0]]) / 3.0
    assert s.contains(x).tolist() == [True]
    assert s.bounding_box() == Box.cube(-1, 1, 3)
    assert parse_domain("sphere:3") == s
    assert RealSpace(2).contains([[1e300, -1e300]]).tolist() == [True]
    assert not RealSpace(2).is_compact
    with pytest.raises(InvalidInputError, match="unbounded"):
        RealSpace(2).bounding_box()
    with pytest.raises(InvalidInputError, match="dim.*>= 2"):
        Sphere(1)


def test_finite_set():
    f = FiniteSet([[0.0], [0.5], [1.0]])
    assert f.contains([[0.5], [0.25]]).tolist() == [True, False]
    assert parse_domain(f.spec) == f
    bb = f.bounding_box()
    assert bb.lower[0] == 0.0 and bb.upper[0] == 1.0
    with pytest.raises(InvalidInputError, match="distinct"):
        FiniteSet([[0.0], [0.0]])
