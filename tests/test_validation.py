"""Boundary validation helpers and the exception family."""

from __future__ import annotations

import numpy as np
import pytest

import certify
from certify._validation import as_points, check_int, check_positive, check_real
from certify.errors import CertifyError, InvalidInputError, NotPSDError


def test_exception_family():
    assert issubclass(InvalidInputError, ValueError)
    for name in (
        "InvalidInputError",
        "NotPSDError",
        "NotAPreorderError",
        "SolverError",
        "CertificateError",
    ):
        assert issubclass(getattr(certify, name), CertifyError)
    err = NotPSDError("not PSD", points=np.zeros((2, 1)), eigenvalue=-1.0)
    assert err.points.shape == (2, 1) and err.eigenvalue == -1.0


def test_as_points_shapes():
    assert as_points([1.0, 2.0, 3.0], "X").shape == (3, 1)  # 1-D: n points in one dimension
    assert as_points([[1.0, 2.0]], "X", dim=2).flags.c_contiguous
    Xf = np.asfortranarray(np.ones((3, 2)))
    assert as_points(Xf, "X").flags.c_contiguous


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: as_points([[np.nan]], "X"), r"`X` must contain only finite values; found nan"),
        (lambda: as_points(np.ones((2, 2)), "X", dim=3), "dimension 3.*dimension 2"),
        (lambda: check_real("1", "a"), "`a` must be a real number"),
        (lambda: check_real(True, "a"), "real number"),
        (lambda: check_positive(0, "lengthscale"), "`lengthscale` must be > 0; got 0.0"),
        (lambda: check_int(2.5, "n"), "`n` must be an int"),
        (lambda: check_int(0, "n", minimum=1), "`n` must be an int >= 1.*got 0"),
    ],
)
def test_errors_name_argument_constraint_and_value(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_check_int_accepts_integral_floats():
    assert check_int(3.0, "n") == 3
    assert check_int(np.int64(4), "n", minimum=1) == 4
