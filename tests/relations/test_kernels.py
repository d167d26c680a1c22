"""Kernels: values against independent formulas, diagonals, certified Lipschitz constants."""

from __future__ import annotations

import math

import numpy as np
import pytest

import certify
from certify.errors import InvalidInputError
from certify.relations import Box
from certify.relations.kernels import (
    ArcCosine,
    Brownian,
    ExpDot,
    Gaussian,
    Laplace,
    Matern32,
    Matern52,
    Periodic,
    Polynomial,
)

EPS = np.finfo(np.float64).eps


def _angle(x: np.ndarray, y: np.ndarray) -> float:
    if x is y:
        # exactly 0: arccos of a rounded 1 - delta would carry sqrt(eps) noise
        return 0.0
    nx, ny = math.sqrt(float(x @ x)), math.sqrt(float(y @ y))
    if nx == 0 or ny == 0:
        return math.pi / 2
    return math.acos(max(-1.0, min(1.0, float(x @ y) / (nx * ny))))


# Scalar reference formulas written from the definitions (math module, one pair at a time),
# independent of the vectorised implementations under test.
REFERENCES = [
    (Gaussian(lengthscale=0.7), lambda x, y: math.exp(-float((x - y) @ (x - y)) / (2 * 0.49))),
    (Laplace(lengthscale=0.7), lambda x, y: math.exp(-math.dist(x, y) / 0.7)),
    (
        Matern32(lengthscale=0.7),
        lambda x, y: (
            (1 + math.sqrt(3) * math.dist(x, y) / 0.7)
            * math.exp(-math.sqrt(3) * math.dist(x, y) / 0.7)
        ),
    ),
    (
        Matern52(lengthscale=0.7),
        lambda x, y: (
            (1 + math.sqrt(5) * math.dist(x, y) / 0.7 + 5 * math.dist(x, y) ** 2 / (3 * 0.49))
            * math.exp(-math.sqrt(5) * math.dist(x, y) / 0.7)
        ),
    ),
    (Polynomial(degree=3, offset=0.5, gamma=2.0), lambda x, y: (2 * float(x @ y) + 0.5) ** 3),
    (
        Periodic(kappa=1.5, period=2.0),
        lambda x, y: math.exp(
            1.5 * sum(math.cos(math.pi * (a - b)) for a, b in zip(x, y, strict=True))
        ),
    ),
    (ArcCosine(order=0), lambda x, y: 1 - _angle(x, y) / math.pi),
    (
        ArcCosine(order=1),
        lambda x, y: (
            math.sqrt(float(x @ x) * float(y @ y))
            * (math.sin(_angle(x, y)) + (math.pi - _angle(x, y)) * math.cos(_angle(x, y)))
            / math.pi
        ),
    ),
    (ExpDot(scale=2.0), lambda x, y: math.exp(float(x @ y) / 2.0)),
]


@pytest.mark.parametrize("kernel,reference", REFERENCES, ids=lambda v: getattr(v, "spec", ""))
@pytest.mark.parametrize("dim", [1, 3])
def test_kernel_matches_scalar_formula(rng, kernel, reference, dim):
    X = rng.uniform(-1, 1, size=(7, dim))
    Y = rng.uniform(-1, 1, size=(5, dim))
    G = kernel(X, Y)
    want = np.array([[reference(x, y) for y in Y] for x in X])
    # Both sides are a few dozen flops and one or two libm calls per entry, each accurate
    # to a few ulps; the arc-cosine's arccos amplifies by up to 1/sqrt(1 - c^2) near c = +-1,
    # which these random points keep below ~1e4: rtol 1e4 * 16 eps, atol for entries near 0.
    np.testing.assert_allclose(G, want, rtol=1e4 * 16 * EPS, atol=1e-12)
    np.testing.assert_allclose(
        kernel.diag(X), [reference(x, x) for x in X], rtol=1e4 * 16 * EPS, atol=1e-12
    )


def test_brownian_matches_min(rng):
    X = rng.uniform(0, 2, size=(6, 2))
    Y = rng.uniform(0, 2, size=(4, 2))
    want = np.array([[min(x[0], y[0]) * min(x[1], y[1]) for y in Y] for x in X])
    # min is exact and the product is one rounding: 1 ulp.
    np.testing.assert_allclose(Brownian()(X, Y), want, rtol=EPS, atol=0)
    np.testing.assert_array_equal(Brownian().diag(X), X.prod(axis=1))


@pytest.mark.parametrize("kernel", [ref[0] for ref in REFERENCES] + [Brownian()], ids=str)
def test_gram_is_symmetric_psd(rng, kernel):
    low = 0.0 if isinstance(kernel, Brownian) else -1.0
    X = rng.uniform(low, 1, size=(40, 2))
    G = kernel(X)
    np.testing.assert_array_equal(G, G.T)
    lam = np.linalg.eigvalsh(G)
    # eigvalsh is backward stable: eigenvalues carry an absolute error <= c n eps ||G||_2.
    assert lam[0] >= -40 * 10 * EPS * lam[-1], f"smallest eigenvalue {lam[0]:.3e}"


LIPSCHITZ_CASES = [
    (Gaussian(lengthscale=0.3), Box([-1.0, -1.0], [1.0, 1.0])),
    (Gaussian(lengthscale=5.0), Box([-1.0], [1.0])),  # box diameter below the peak r* = l
    (Laplace(lengthscale=0.5), Box([-1.0, 0.0], [1.0, 0.5])),
    (Matern32(lengthscale=0.4), Box([-1.0], [1.0])),
    (Matern52(lengthscale=0.4), Box([-1.0, -1.0], [1.0, 1.0])),
    (Matern52(lengthscale=10.0), Box([0.0], [0.5])),
    (Polynomial(degree=3, offset=1.0), Box([-1.0, -0.5], [1.0, 0.5])),
    (Brownian(), Box([0.0, 0.0], [1.0, 2.0])),
    (Brownian(), Box([0.0], [3.0])),
    (Periodic(kappa=2.0), Box([-3.0], [3.0])),
    (Periodic(kappa=0.5, period=1.0), Box([0.0, 0.0], [1.0, 1.0])),
    (ArcCosine(order=1), Box([-1.0, -1.0], [1.0, 1.0])),
    (ArcCosine(order=0), Box([0.5, -1.0], [1.5, 1.0])),
    (ExpDot(scale=0.5), Box([-1.0, -1.0], [1.0, 1.0])),
]


@pytest.mark.parametrize("kernel,box", LIPSCHITZ_CASES, ids=lambda v: str(v))
def test_lipschitz_bounds_every_difference_quotient(rng, kernel, box):
    bound = kernel.lipschitz(box)
    assert bound.x == bound.y  # same box for both arguments and a symmetric kernel
    n = 4000
    lo, w = box.lower, box.widths
    X = lo + w * rng.random((n, box.dim))
    # Nearby partners resolve the local slope; far ones probe the global constant.
    near = np.clip(X + 1e-3 * w * rng.standard_normal((n, box.dim)), box.lower, box.upper)
    far = lo + w * rng.random((n, box.dim))
    Y = lo + w * rng.random((n, box.dim))
    worst = 0.0
    for Xp in (near, far):
        diff = np.abs(kernel.paired(X, Y) - kernel.paired(Xp, Y))
        dist = np.linalg.norm(X - Xp, axis=1)
        ok = dist > 0
        # Each paired value is correct to a few ulps of max|k| on the box; the quotient
        # gets that error divided by the distance: allow 8 eps * max|k| / dist.
        scale = max(np.abs(kernel.paired(X, Y)).max(), 1.0)
        slack = 8 * EPS * scale / dist[ok]
        quotient = diff[ok] / dist[ok]
        assert np.all(quotient <= bound.x + slack), (
            f"difference quotient {quotient.max():.6g} exceeds the certified {bound.x:.6g}"
        )
        worst = max(worst, float(quotient.max()))
    # Not absurdly loose either: the sampled slope reaches a fair share of the bound.
    assert worst >= bound.x / 4, f"bound {bound.x:.3g} vs sampled slope {worst:.3g}"


def test_gaussian_lipschitz_closed_form():
    # sup_r r / l^2 exp(-r^2 / 2 l^2) = exp(-1/2) / l, attained at r = l (< diameter 2 sqrt 2).
    got = Gaussian(lengthscale=0.3).lipschitz(Box([-1.0, -1.0], [1.0, 1.0])).x
    exact = math.exp(-0.5) / 0.3
    assert exact <= got <= exact * (1 + 4 * EPS)


def test_lipschitz_whole_space_and_unknown():
    assert Gaussian(lengthscale=2.0).lipschitz(None).x >= math.exp(-0.5) / 2.0
    assert Polynomial(degree=2).lipschitz(None).x == math.inf
    assert ArcCosine(order=0).lipschitz(Box([-1.0, -1.0], [1.0, 1.0])).x == math.inf
    assert Brownian().lipschitz(certify.parse_domain("real:1")).x == 1.0


def test_lipschitz_dimension_mismatch():
    with pytest.raises(InvalidInputError, match="x_domain.*dimension 2"):
        Gaussian(dim=2).lipschitz(Box([-1.0], [1.0]))


def test_brownian_rejects_negative_points():
    with pytest.raises(InvalidInputError, match="non-negative"):
        Brownian()([[-0.1]], [[0.5]])
    with pytest.raises(InvalidInputError, match="non-negative"):
        Brownian().lipschitz(Box([-1.0], [1.0]))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Gaussian(lengthscale=0.0), "lengthscale.*> 0.*0.0"),
        (lambda: Laplace(lengthscale=-1.0), "lengthscale.*> 0"),
        (lambda: Matern32(lengthscale=float("nan")), "lengthscale.*finite"),
        (lambda: Polynomial(degree=0), "degree.*>= 1"),
        (lambda: Polynomial(degree=2.5), "degree.*int"),
        (lambda: Polynomial(offset=-1.0), "offset.*>= 0"),
        (lambda: Periodic(kappa=0.0), "kappa"),
        (lambda: ArcCosine(order=2), "order.*0 or 1"),
        (lambda: ExpDot(scale=-2.0), "scale"),
        (lambda: Gaussian(dim=0), "dim"),
    ],
)
def test_bad_parameters_raise(make, match):
    with pytest.raises(InvalidInputError, match=match):
        make()


def test_point_dimension_checks(rng):
    k = Gaussian(dim=2)
    with pytest.raises(InvalidInputError, match="dimension 2.*dimension 3"):
        k(rng.random((4, 3)))
    with pytest.raises(InvalidInputError, match="same dimension"):
        Gaussian()(rng.random((4, 2)), rng.random((3, 3)))
    with pytest.raises(InvalidInputError, match="finite.*nan"):
        Gaussian()([[0.0], [np.nan]])
    with pytest.raises(InvalidInputError, match="finite.*inf"):
        Gaussian()([[0.0]], [[np.inf]])


def test_spec_round_trip():
    for kernel, _ in REFERENCES:
        assert certify.parse_relation(kernel.spec) == kernel
    assert certify.parse_relation(Brownian(dim=2).spec) == Brownian(dim=2)
