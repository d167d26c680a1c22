"""Barron constants of Nystrom features (certify.bounds.barron.nystrom_barron_constants).

The reference is an independent numerical evaluation of ``C_F = int |w| |F^(w)| dw`` in 1-D,
from the closed-form spectral densities ``k^`` (``F^ = k^ S``, ``S(w) = sum_j C_j
exp(-i w n_j)``), by the midpoint rule with a derived error bound: the test compares the
certified bound with the UPPER end of the reference interval (the pessimistic direction:
a bound below the true constant fails the test whatever the quadrature error).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from certify.bounds.barron import (
    BarronConstant,
    box_radius,
    nystrom_barron_constants,
    second_spectral_moment,
)
from certify.errors import InvalidInputError
from certify.relations.domains import Box
from certify.relations.kernels import Gaussian, Laplace, Matern32, Matern52, Polynomial
from certify.spectral import NystromFeatures, certify_l1_prime, mercer


def _density(kernel):
    """(k^(w), bound on |k^'(w)| / k^(u) on a cell [u, v], tail int_W^oo w k^ dw) in 1-D."""
    ell = kernel.lengthscale
    if isinstance(kernel, Gaussian):
        c = ell / math.sqrt(2 * math.pi)
        return (
            lambda w: c * np.exp(-(ell**2) * w**2 / 2),
            lambda u, v: ell**2 * v,  # |k^'| = l^2 w k^
            lambda W: math.exp(-(ell**2) * W**2 / 2) / (ell * math.sqrt(2 * math.pi)),
        )
    # Matern nu = p - 1/2 in 1-D: k^(w) = K / (a^2 + w^2)^p, |k^'| = 2 p w k^ / (a^2 + w^2)
    p, a = (2, math.sqrt(3) / ell) if isinstance(kernel, Matern32) else (3, math.sqrt(5) / ell)
    K = 2 * a**3 / math.pi if p == 2 else 8 * a**5 / (3 * math.pi)
    return (
        lambda w: K / (a**2 + w**2) ** p,
        lambda u, v: 2 * p * v / (a**2 + u**2),
        lambda W: K / (2 * (p - 1) * (a**2 + W**2) ** (p - 1)),
    )


def integrated_barron_constants(features, pieces):
    """Intervals [lo, hi] containing int |w| |F_i^(w)| dw, i = 1..m, for 1-D features.

    ``g(w) = w k^(w) |S(w)|`` is even in w, so ``C_F = 2 int_0^oo g``. On each cell [u, v]
    (width h, midpoint c): ``|int_cell g - h g(c)| <= h^2 / 2 sup_cell |g'|`` with
    ``|g'| <= |(w k^)'| |S| + w k^ |S'|``, ``k^`` decreasing on [0, oo), ``sup_cell |S| <=
    |S(c)| + h c2 / 2``, ``sup_cell |S'| <= |S'(c)| + h c3 / 2`` (``c_p = sum_j |C_j|
    |n_j|^(p-1)``). The tail beyond the last cell is ``<= c1 int_W^oo w k^``. Float
    rounding (relative ~1e-13 here) is covered by a relative 1e-9 margin.
    """
    density, slope, tail = _density(features.relation)
    n = features.nodes[:, 0]
    C = features.coefficients
    c1 = np.abs(C).sum(axis=0)
    c2 = (np.abs(C) * np.abs(n)[:, None]).sum(axis=0)
    c3 = (np.abs(C) * (n**2)[:, None]).sum(axis=0)
    mid = np.zeros(C.shape[1])
    err = np.zeros(C.shape[1])
    W = 0.0
    for start, stop, h in pieces:
        edges = np.arange(start, stop + h / 2, h)
        for s in range(0, edges.size - 1, 20000):
            u, v = edges[s : s + 20001][:-1], edges[s : s + 20001][1:]
            c = (u + v) / 2
            E = np.exp(-1j * np.outer(c, n))
            S = np.abs(E @ C)
            dS = np.abs((E * (-1j * n)) @ C)
            ku = density(u)
            e1 = ku * (1 + v * slope(u, v))  # >= |(w k^)'| on the cell
            e2 = v * ku  # >= w k^ on the cell
            hh = (v - u)[:, None]
            mid += (hh * (c * density(c))[:, None] * S).sum(axis=0)
            sup_g1 = e1[:, None] * (S + hh * c2 / 2) + e2[:, None] * (dS + hh * c3 / 2)
            err += (hh**2 / 2 * sup_g1).sum(axis=0)
        W = max(W, stop)
    err += c1 * tail(W) + 1e-9 * np.abs(mid)
    return 2 * (mid - err), 2 * (mid + err)


GAUSSIAN_PIECES = [(0.0, 40.0, 1e-3)]  # k^ ~ exp(-w^2 / 8): the tail at 40 is ~ e^-200
MATERN_PIECES = [(0.0, 50.0, 2e-3), (50.0, 2000.0, 5e-2)]


@pytest.fixture(scope="module")
def gaussian_features():
    dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    return NystromFeatures.from_mercer(dec, rank=12)


def test_gaussian_bound_dominates_the_integrated_constant(gaussian_features):
    F = gaussian_features
    bounds = np.array([c.value for c in nystrom_barron_constants(F)])
    lo, hi = integrated_barron_constants(F, GAUSSIAN_PIECES)
    # the reference interval is narrow (its width is a few percent of the value at most)
    assert np.all(hi - lo <= 0.05 * lo), (lo, hi)
    assert np.all(bounds >= hi), (bounds, hi)
    ratios = bounds / hi
    # Cauchy-Schwarz loses at most a small factor here: 1.1 to 2.1 for features 1..12
    # (measured); 3 would flag a regression of the bound without being brittle.
    assert np.all(ratios <= 3.0), ratios
    print(
        "Gaussian l=0.5 on [-1,1], 12 features: bound / integrated C_F = "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )


def test_matern_bounds_dominate_the_integrated_constants():
    for spec in ("matern32:lengthscale=0.5", "matern52:lengthscale=0.5"):
        F = NystromFeatures.from_mercer(mercer(spec, "box:-1,1"), rank=6)
        bounds = np.array([c.value for c in nystrom_barron_constants(F)])
        lo, hi = integrated_barron_constants(F, MATERN_PIECES)
        assert np.all(hi - lo <= 0.1 * lo), (spec, lo, hi)
        assert np.all(bounds >= hi), (spec, bounds, hi)
        assert np.all(bounds / hi <= 4.0), (spec, bounds / hi)


def test_the_two_gram_bounds_agree_with_the_l1_prime_check(gaussian_features):
    F = gaussian_features
    direct = nystrom_barron_constants(F)
    check = certify_l1_prime(F)
    via_check = nystrom_barron_constants(F, gram_diagonal=check)
    given = nystrom_barron_constants(F, gram_diagonal=[1.0] * F.output_dim)
    for a, b, c in zip(direct, via_check, given, strict=True):
        assert a.value is not None and b.value is not None and c.value is not None
        # G = s^2 I up to round-off: lambda_max(G) <= 1 loses at most ~1e-8 relative
        assert a.value <= b.value * (1 + 1e-12) and b.value <= a.value * (1 + 1e-8)
        assert b.value <= c.value * (1 + 1e-12)
        assert not a.exact and a.lower is None and "Cauchy-Schwarz" in a.method


@pytest.mark.parametrize(
    "kernel,dim,expected",
    [
        (Gaussian(lengthscale=0.5), 1, 4.0),  # D / l^2
        (Gaussian(lengthscale=2.0), 3, 0.75),
        (Matern32(lengthscale=0.5), 2, 24.0),  # 3 D / l^2
        (Matern52(lengthscale=0.5), 1, 20.0 / 3.0),  # 5 D / (3 l^2)
    ],
)
def test_second_moments_enclose_the_closed_forms(kernel, dim, expected):
    m = second_spectral_moment(kernel, dim)
    assert m.known and m.lower is not None and m.value is not None
    assert m.lower <= expected <= m.value
    # outward rounding to floats: at most 2 ulps wide
    assert m.value - m.lower <= 4 * math.ulp(expected)


def test_second_moment_of_the_gaussian_matches_a_quadrature():
    # k^(w) = l / sqrt(2 pi) exp(-l^2 w^2 / 2): int w^2 k^ dw = 1 / l^2 (trapezoid rule on
    # [-40, 40], spectrally accurate for this integrand; 1e-10 relative is ample)
    ell = 0.7
    w = np.linspace(-40, 40, 200001)
    k = ell / math.sqrt(2 * math.pi) * np.exp(-(ell**2) * w**2 / 2)
    m2 = np.trapezoid(w**2 * k, w)
    m = second_spectral_moment(Gaussian(lengthscale=ell), 1)
    assert m.value is not None
    assert abs(m2 - m.value) <= 1e-10 * m.value


def test_laplace_and_non_stationary_kernels_are_unknown():
    m = second_spectral_moment(Laplace(lengthscale=0.5), 1)
    assert not m.known and "infinite" in m.reason
    assert not second_spectral_moment(Polynomial(degree=2), 1).known
    nodes = np.linspace(-1.0, 1.0, 5)[:, None]
    F = NystromFeatures(Laplace(lengthscale=0.5), nodes, np.eye(5)[:, :3])
    constants = nystrom_barron_constants(F)
    assert len(constants) == 3
    assert all(isinstance(c, BarronConstant) and not c.known for c in constants)
    assert "kappa'(0)" in constants[0].reason and "Nystrom feature 1" in constants[0].reason


def test_box_radius_is_half_the_diagonal():
    assert box_radius(Box([-1.0], [1.0])) == 1.0
    assert box_radius(Box([0.0, 0.0], [3.0, 4.0])) == 2.5
    r = box_radius(Box([-1.0, -1.0], [1.0, 1.0]))
    assert r >= math.sqrt(2) and r - math.sqrt(2) <= 2 * math.ulp(math.sqrt(2))


def test_bad_input(gaussian_features):
    F = gaussian_features
    with pytest.raises(InvalidInputError, match="NystromFeatures"):
        nystrom_barron_constants(np.ones((3, 2)))
    with pytest.raises(InvalidInputError, match=r"shape \(12,\)"):
        nystrom_barron_constants(F, gram_diagonal=[1.0, 1.0])
    with pytest.raises(InvalidInputError, match="finite and >= 0"):
        nystrom_barron_constants(F, gram_diagonal=[-1.0] + [1.0] * 11)
    with pytest.raises(InvalidInputError, match="gram_diagonal"):
        nystrom_barron_constants(F, gram_diagonal="one")
    other = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=4)
    with pytest.raises(InvalidInputError, match="other features"):
        nystrom_barron_constants(F, gram_diagonal=certify_l1_prime(other))
    with pytest.raises(InvalidInputError, match="dim"):
        second_spectral_moment(Gaussian(lengthscale=1.0), 0)
    with pytest.raises(InvalidInputError, match="fixed to dim=2"):
        second_spectral_moment(Gaussian(lengthscale=1.0, dim=2), 1)
    with pytest.raises(InvalidInputError, match="Box"):
        box_radius("box:-1,1")
