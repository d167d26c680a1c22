"""Tests of certify.spectral.closed_forms: each formula checked on its own before it is trusted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import iv

from certify import gram
from certify.errors import InvalidInputError
from certify.relations import quadrature
from certify.spectral import (
    brownian_l2_tail,
    brownian_mercer,
    brownian_trace_tail,
    brownian_uniform_tail,
    fasshauer_mccourt_eigenvalues,
    gaussian_mercer,
    periodic_mercer,
    tensor_eigenvalues,
)

EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------ Gaussian


@pytest.mark.parametrize(("lengthscale", "std"), [(1.0, 1.0), (0.5, 2.0), (2.0, 0.3)])
def test_gaussian_parametrisation_and_trace(lengthscale, std):
    cf = gaussian_mercer(lengthscale, std, 3)
    fm = fasshauer_mccourt_eigenvalues(
        1.0 / (lengthscale * math.sqrt(2)), 1.0 / (std * math.sqrt(2)), 3
    )
    np.testing.assert_array_equal(cf.eigenvalues, fm)
    # Geometric series: lambda_1 / (1 - q) must equal the trace k(0) = 1; sum_i lambda_i^2 =
    # lambda_1^2 / (1 - q^2) is the stored ||r||^2. A few ulps from the closed-form algebra.
    lam1, q = cf.eigenvalues[0], cf.eigenvalues[1] / cf.eigenvalues[0]
    assert abs(lam1 / (1 - q) - 1.0) <= 16 * EPS / (1 - q)
    assert abs(lam1**2 / (1 - q**2) - cf.hs_norm_squared) <= 16 * EPS * cf.hs_norm_squared


def test_gaussian_hs_norm_by_quadrature():
    # ||r||^2_{L2(rho x rho)} by a 120-node Gauss-Hermite product rule (entire integrand:
    # geometric convergence, round-off ~ n eps).
    cf = gaussian_mercer(0.7, 1.3, 1)
    rule = quadrature("real:1", "gaussian:std=1.3", n=120)
    K = gram(cf.kernel, rule.nodes)
    hs = float(rule.weights @ (K**2) @ rule.weights)
    assert abs(hs - cf.hs_norm_squared) <= 1e-13


@pytest.mark.parametrize(("lengthscale", "std"), [(1.0, 1.0), (0.5, 1.5)])
def test_gaussian_eigenfunctions_orthonormal_and_eigen_equation(lengthscale, std):
    k = 12
    cf = gaussian_mercer(lengthscale, std, k)
    # 300 Gauss-Hermite nodes: spacing ~ pi std / sqrt(2 n) <= 0.2, well below the lengthscale.
    rule = quadrature("real:1", f"gaussian:std={std}", n=300)
    w = rule.weights
    E = cf.eigenfunctions(rule.nodes)
    # phi_i phi_j = polynomial x exp(-2 delta^2 x^2): entire, so the rule integrates it to
    # round-off (sums of 300 terms of size <= beta = O(1): 1e-12 is generous, observed 2e-15).
    np.testing.assert_allclose(E.T @ (w[:, None] * E), np.eye(k), rtol=0, atol=1e-12)
    # Eigen-equation int r(x, y) phi_n(y) drho(y) = lambda_n phi_n(x) at sample x.
    X = np.linspace(-2.0, 2.0, 9)[:, None]
    lhs = gram(cf.kernel, X, rule.nodes) @ (w[:, None] * E)
    rhs = cf.eigenfunctions(X) * cf.eigenvalues
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-12)


def test_gaussian_mercer_series_reproduces_kernel():
    cf = gaussian_mercer(1.0, 1.0, 60)  # q^60 = 0.38^60 ~ 1e-25: truncation negligible
    X = np.linspace(-1.0, 1.0, 11)[:, None]
    F = cf.features(X)
    # |e_n(x)| stays O(1) on [-1, 1]; the sum of 60 rounded terms of size <= 1: 60 eps x 8.
    np.testing.assert_allclose(F @ F.T, gram(cf.kernel, X), rtol=0, atol=500 * EPS)


def test_gaussian_tensor_product_2d():
    k = 15
    cf = gaussian_mercer(0.8, [1.0, 0.5], k)
    a = gaussian_mercer(0.8, 1.0, k).eigenvalues
    b = gaussian_mercer(0.8, 0.5, k).eigenvalues
    brute = np.sort(np.outer(a, b).ravel())[::-1][:k]
    np.testing.assert_allclose(cf.eigenvalues, brute, rtol=4 * EPS, atol=0)
    assert cf.dim == 2 and cf.domain.spec == "real:2"
    assert cf.measure.spec == "gaussian:std=[1.0,0.5]"
    # Product eigenfunctions, orthonormal under the product Gauss-Hermite rule (80 nodes per
    # axis resolve the degree-14 Hermite products to round-off; 60 leave 5e-13).
    rule = quadrature("real:2", "gaussian:std=[1.0,0.5]", n=80)
    E = cf.eigenfunctions(rule.nodes)
    np.testing.assert_allclose(E.T @ (rule.weights[:, None] * E), np.eye(k), rtol=0, atol=1e-12)
    assert (
        abs(
            cf.hs_norm_squared
            - gaussian_mercer(0.8, 1.0, 1).hs_norm_squared
            * gaussian_mercer(0.8, 0.5, 1).hs_norm_squared
        )
        <= 4 * EPS
    )


# ------------------------------------------------------------------------------ Brownian


def test_brownian_eigenpairs():
    k = 10
    cf = brownian_mercer(k)
    j = np.arange(1, k + 1)
    np.testing.assert_allclose(cf.eigenvalues, 1 / ((j - 0.5) ** 2 * np.pi**2), rtol=2 * EPS)
    rule = quadrature("box:0,1", n=64)  # sines: analytic, Gauss-Legendre exact to round-off
    E = cf.eigenfunctions(rule.nodes)
    np.testing.assert_allclose(E.T @ (rule.weights[:, None] * E), np.eye(k), rtol=0, atol=1e-13)
    # Eigen-equation: int_0^1 min(x, y) e(y) dy, split at y = x so each piece is smooth and
    # a 40-node Gauss-Legendre rule per piece is exact to round-off.
    for x in (0.2, 0.55, 1.0):
        t, wt = np.polynomial.legendre.leggauss(40)
        left = 0.5 * x * (t + 1)
        right = x + 0.5 * (1 - x) * (t + 1)
        integral = 0.5 * x * (wt * left) @ cf.eigenfunctions(left) + 0.5 * (1 - x) * x * (
            wt @ cf.eigenfunctions(right)
        )
        np.testing.assert_allclose(
            integral, cf.eigenvalues * cf.eigenfunctions([[x]])[0], rtol=0, atol=1e-14
        )


def test_brownian_tails_closed_forms():
    cf = brownian_mercer(50)
    for d in (0, 1, 7, 30):
        # psi_1 / psi_3 forms against trace - head and ||r||^2 - head (a few ulps of 1/2, 1/6).
        assert abs(brownian_trace_tail(d) - cf.trace_tail(d)) <= 8 * EPS
        assert abs(brownian_l2_tail(d) ** 2 - cf.l2_tail(d) ** 2) <= 8 * EPS
        assert brownian_uniform_tail(d) == 2 * brownian_trace_tail(d)
    assert abs(brownian_trace_tail(0) - 0.5) <= 2 * EPS
    assert abs(brownian_l2_tail(0) ** 2 - 1 / 6) <= 2 * EPS


def test_brownian_uniform_tail_attained_at_one():
    # r(x, x) - |F_d(x)|^2 = sum_{k>d} 2 lambda_k sin^2(...) <= its value at x = 1; on a grid
    # the truncated closed-form residual (d = 5, 400 more modes) peaks at x = 1.
    d, extra = 5, 400
    cf = brownian_mercer(d + extra)
    x = np.linspace(0.0, 1.0, 2001)[:, None]
    F = cf.features(x)
    residual = x[:, 0] - np.sum(F[:, :d] ** 2, axis=1)
    assert int(np.argmax(residual)) == 2000
    # At x = 1 the residual is exactly 1 - 2 sum_{k<=d} lambda_k = T(d).
    assert abs(residual[-1] - brownian_uniform_tail(d)) <= 8 * EPS


def test_brownian_2d_product():
    cf = brownian_mercer(6, dim=2)
    one = brownian_mercer(6).eigenvalues
    np.testing.assert_allclose(
        cf.eigenvalues, np.sort(np.outer(one, one).ravel())[::-1][:6], rtol=4 * EPS
    )
    assert cf.trace == 0.25 and cf.hs_norm_squared == 1 / 36
    assert cf.domain.spec == "box:0.0,1.0;0.0,1.0"


# ------------------------------------------------------------------------------ periodic


@pytest.mark.parametrize("kappa", [0.5, 3.0, 12.0])
def test_periodic_eigenvalues_are_fourier_coefficients(kappa):
    # c_m / 2 = (1/N) sum_j exp(kappa cos t_j) cos(m t_j): the trapezoid rule is spectrally
    # accurate for periodic analytic integrands (aliasing error ~ I_(N-m)(kappa), negligible
    # for N = 256); round-off: a mean of N terms of size <= e^kappa, <= N eps e^kappa.
    k = 21
    cf = periodic_mercer(kappa, k)
    N = 256
    t = 2 * np.pi * np.arange(N) / N
    f = np.exp(kappa * np.cos(t))
    m = (np.arange(k) + 1) // 2
    coeff = np.array([np.mean(f * np.cos(mm * t)) for mm in m])
    np.testing.assert_allclose(cf.eigenvalues, coeff, rtol=1e-13, atol=N * EPS * math.exp(kappa))
    np.testing.assert_allclose(cf.eigenvalues, iv(m, kappa), rtol=1e-13)


def test_periodic_large_kappa_scaled_bessel():
    cf = periodic_mercer(300.0, 5)
    m = np.array([0, 1, 1, 2, 2])
    np.testing.assert_allclose(cf.eigenvalues, iv(m, 300.0), rtol=1e-13)
    assert cf.trace == math.exp(300.0)


def test_periodic_eigenfunctions_and_series():
    kappa = 2.0
    cf = periodic_mercer(kappa, 41, period=1.0, lower=0.5)  # harmonics up to 20
    rule = quadrature(cf.domain, "uniform", n=160)  # harmonics up to 40 in E_i E_j
    E = cf.eigenfunctions(rule.nodes)
    np.testing.assert_allclose(E.T @ (rule.weights[:, None] * E), np.eye(41), rtol=0, atol=1e-13)
    X = np.linspace(0.5, 1.5, 9)[:, None]
    F = cf.features(X)
    # Truncation: 2 sum_{m>20} I_m(2) < 1e-20; round-off: 41 terms of size <= e^2.
    np.testing.assert_allclose(F @ F.T, gram(cf.kernel, X), rtol=0, atol=41 * 8 * EPS * math.e**2)
    # Parseval: ||r||^2 = I_0(2 kappa) = I_0(kappa)^2 + 2 sum_m I_m(kappa)^2.
    parseval = iv(0, kappa) ** 2 + 2 * np.sum(iv(np.arange(1, 40), kappa) ** 2)
    assert abs(cf.hs_norm_squared - parseval) <= 8 * EPS * parseval


def test_periodic_2d_trace():
    cf = periodic_mercer(1.0, 5, dim=2)
    assert cf.trace == math.exp(2.0) and cf.domain.dim == 2
    assert cf.eigenvalues[0] == pytest.approx(iv(0, 1.0) ** 2, rel=4 * EPS)


# ------------------------------------------------------------------------------ tensor


def test_tensor_eigenvalues_matches_brute_force(rng):
    seqs = [np.sort(rng.random(6))[::-1], np.sort(rng.random(5))[::-1], np.array([1.0, 0.5])]
    vals, idx = tensor_eigenvalues(seqs, 40)
    grid = np.einsum("i,j,k->ijk", *seqs)
    np.testing.assert_allclose(vals, np.sort(grid.ravel())[::-1][:40], rtol=2 * EPS)
    np.testing.assert_allclose(vals, grid[tuple(idx.T)], rtol=2 * EPS)
    assert np.all(np.diff(vals) <= 0)


def test_tensor_eigenvalues_ties_are_deterministic():
    vals, idx = tensor_eigenvalues([[1.0, 0.5], [1.0, 0.5]], 3)
    assert vals.tolist() == [1.0, 0.5, 0.5]
    assert idx.tolist() == [[0, 0], [0, 1], [1, 0]]


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tensor_eigenvalues([[0.5, 1.0]], 1), "non-increasing"),
        (lambda: tensor_eigenvalues([[1.0, -0.5]], 1), "non-negative"),
        (lambda: tensor_eigenvalues([[1.0, 0.5]], 3), r"`k` must be <= 2"),
        (lambda: tensor_eigenvalues([], 1), "at least one sequence"),
        (lambda: gaussian_mercer(0.0, 1.0, 3), "`lengthscale` must be > 0"),
        (lambda: gaussian_mercer(1.0, [1.0, -1.0], 3), "`std` must be a positive number"),
        (lambda: gaussian_mercer(1.0, [1.0, 2.0], 3, dim=3), "`std` has 2 entries"),
        (lambda: gaussian_mercer(1.0, 1.0, 0), "`k` must be an int >= 1"),
        (lambda: fasshauer_mccourt_eigenvalues(1.0, -1.0, 2), "`alpha` must be > 0"),
        (lambda: brownian_mercer(3, dim=0), "`dim` must be an int >= 1"),
        (lambda: brownian_trace_tail(-1), "`d` must be an int >= 0"),
        (lambda: periodic_mercer(-1.0, 3), "`kappa` must be > 0"),
        (lambda: periodic_mercer(1.0, 3).trace_tail(4), r"`d` must be <= 3"),
        (lambda: brownian_mercer(3).eigenfunctions([[0.5, 0.5]]), "dimension 1"),
    ],
)
def test_errors(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()
