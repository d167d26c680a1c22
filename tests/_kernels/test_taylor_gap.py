"""Taylor models of tanh networks and the feature gap |F - phi| (certify._kernels.taylor)."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
import sympy as sp
from flint import arb, ctx

from certify._kernels.taylor import (
    _TANH_CAP,
    _tanh_series,
    multi_indices,
    unit_monomials,
)
from certify.certificates.functions import FeatureGapFunction
from certify.errors import InvalidInputError
from certify.networks.mlp import MLP
from certify.relations.spec import parse_domain
from certify.spectral import mercer
from certify.spectral.nystrom import NystromFeatures


@cache
def _features(dim: int, rank: int) -> NystromFeatures:
    box = "box:-1,1" if dim == 1 else "box:-1,1;-1,1"
    dec = mercer("gaussian:lengthscale=0.5", box, measure="chebyshev", rank=max(rank, 15))
    return NystromFeatures.from_mercer(dec, rank=rank)


@cache
def _fit(dim: int, rank: int, n_units: int, seed: int = 0) -> MLP:
    """A tanh network fitted to F by least squares (random hidden layer), as the builders do."""
    F = _features(dim, rank)
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.5, (n_units, dim))
    b = -np.einsum("ij,ij->i", W, rng.uniform(-1, 1, (n_units, dim)))
    X = rng.uniform(-1, 1, (16 * n_units, dim))
    H = np.hstack([np.tanh(X @ W.T + b), np.ones((X.shape[0], 1))])
    coef = np.linalg.lstsq(H, F.forward(X), rcond=1e-9)[0]
    return MLP([W, coef[:-1].T], [b, coef[-1]], activation="tanh")


def _gap_arb(F: NystromFeatures, phi: MLP, x: np.ndarray) -> arb:
    """|F(x) - phi(x)|_2 in 200-bit ball arithmetic from the exact floats (the reference)."""
    with ctx.workprec(200):
        ell2 = arb(float(F.relation.lengthscale)) ** 2
        xs = [arb(float(v)) for v in x]
        k = [
            (-sum(((u - arb(float(n))) ** 2 for u, n in zip(xs, node, strict=True)), arb(0))
             / (2 * ell2)).exp()
            for node in F.nodes
        ]  # fmt: skip
        W, A = phi.weights
        b, c = phi.biases
        hidden = [
            (sum((arb(float(w)) * u for w, u in zip(W[j], xs, strict=True)), arb(0))
             + arb(float(b[j]))).tanh()
            for j in range(W.shape[0])
        ]  # fmt: skip
        total = arb(0)
        for i in range(F.output_dim):
            col = F.coefficients[:, i]
            Fi = sum((arb(float(C)) * kj for C, kj in zip(col, k, strict=True)), arb(0))
            Pi = sum((arb(float(a)) * h for a, h in zip(A[i], hidden, strict=True)), arb(0))
            total += (Fi - Pi - arb(float(c[i]))) ** 2
        return total.sqrt()


def test_tanh_series_matches_sympy_derivatives():
    """y_k = tanh^(k)(a) / k! at a point (narrow interval) against sympy's exact derivatives."""
    t = sp.Symbol("t")
    derivs = [sp.tanh(t)]
    for _ in range(9):
        derivs.append(sp.diff(derivs[-1], t))
    lo, hi = np.empty(10), np.empty(10)
    for a in (-2.75, -0.5, 0.0, 0.3, 1.25, 4.0):
        _tanh_series(a, a, 10, _TANH_CAP, lo, hi)
        for k in range(10):
            exact = float((derivs[k] / sp.factorial(k)).subs(t, sp.Rational(a)).evalf(40))
            assert lo[k] <= exact <= hi[k], (a, k)
            assert hi[k] - lo[k] <= 1e-12 * max(1.0, abs(exact)), (a, k)


def test_tanh_series_encloses_the_range_over_wide_intervals():
    t = sp.Symbol("t")
    fns = []
    d = sp.tanh(t)
    for k in range(8):
        fns.append(sp.lambdify(t, d / sp.factorial(k), "numpy"))
        d = sp.diff(d, t)
    lo, hi = np.empty(8), np.empty(8)
    rng = np.random.default_rng(1)
    for _ in range(40):
        a = rng.uniform(-4, 4)
        s = 10 ** rng.uniform(-3, 0.5)
        _tanh_series(a - s, a + s, 8, _TANH_CAP, lo, hi)
        grid = np.linspace(a - s, a + s, 401)
        for k in range(8):
            v = fns[k](grid) * np.ones_like(grid)
            # float values of smooth functions: relative rounding << 1e-9 of the cap
            assert np.all(lo[k] - 1e-9 <= v) and np.all(v <= hi[k] + 1e-9), (a, s, k)


def test_cauchy_cap_bounds_every_normalised_derivative():
    """_TANH_CAP >= sup |tanh^(k) / k!| (sampled on a fine grid, k <= 12): the cap is real."""
    t = sp.Symbol("t")
    grid = np.linspace(-6, 6, 24001)
    d = sp.tanh(t)
    for k in range(13):
        f = sp.lambdify(t, d / sp.factorial(k), "numpy")
        assert np.max(np.abs(f(grid) * np.ones_like(grid))) <= _TANH_CAP
        d = sp.diff(d, t)
    # and the stated value: 1 / (1 + cos 2) rounded up
    assert 1.0 / (1.0 + math.cos(2.0)) <= _TANH_CAP < 1.0 / (1.0 + math.cos(2.0)) + 1e-4


def test_unit_monomials_are_the_multinomial_expansion():
    y = sp.symbols("y0:2")
    rng = np.random.default_rng(2)
    W = rng.normal(size=(3, 2))
    alphas = multi_indices(2, 5)[0]
    P_lo, P_hi = unit_monomials(W, alphas)
    for j in range(3):
        wy = sum(sp.Float(float(W[j, d]), 30) * y[d] for d in range(2))
        for a, alpha in enumerate(alphas):
            k = int(alpha.sum())
            poly = sp.Poly(sp.expand(wy**k), *y)
            exact = float(poly.coeff_monomial(y[0] ** int(alpha[0]) * y[1] ** int(alpha[1])))
            assert P_lo[j, a] <= exact <= P_hi[j, a]
            assert P_hi[j, a] - P_lo[j, a] <= 1e-13 * max(1.0, abs(exact))


@pytest.mark.parametrize(("dim", "rank", "units"), [(1, 8, 40), (2, 20, 150)])
def test_gap_contains_the_exact_values(dim, rank, units):
    """|F - phi| at points of each box (200-bit arb) lies in the box's enclosure; no margin."""
    F, phi = _features(dim, rank), _fit(dim, rank, units)
    rng = np.random.default_rng(11 + dim)
    for half in (0.0, 1e-3, 0.02, 0.08, 0.3):
        c = rng.uniform(-1 + half, 1 - half, dim)
        lo, hi = (c - half)[None, :], (c + half)[None, :]
        g_lo, g_hi = F.gap_taylor(phi, lo, hi)
        pts = np.vstack([lo, hi, rng.uniform(lo, hi, (3, dim))])
        for x in pts:
            v = _gap_arb(F, phi, x)
            assert g_lo[0] <= float(v.lower()) and float(v.upper()) <= g_hi[0], (half, x)


def test_gap_contains_float_values_on_many_boxes():
    F, phi = _features(2, 20), _fit(2, 20, 150)
    rng = np.random.default_rng(5)
    c = rng.uniform(-0.9, 0.9, (150, 2))
    half = 10.0 ** rng.uniform(-3, -1, (150, 1))
    lo, hi = c - half, c + half
    g_lo, g_hi = F.gap_taylor(phi, lo, hi)
    assert np.all(np.isfinite(g_hi))
    for b in range(150):
        x = rng.uniform(lo[b], hi[b], (40, 2))
        g = np.linalg.norm(F.forward(x) - phi(x), axis=1)
        # float evaluation of two O(1) maps: absolute rounding < 1e-13, far below the widths
        assert np.all(g_lo[b] - 1e-13 <= g) and np.all(g <= g_hi[b] + 1e-13), b


def test_gap_much_tighter_than_the_mean_value_form():
    """The reason for the Taylor model: on boxes of half-width 0.02 in 2-D, the first-order
    form pays the term-wise curvature of F and phi (size 1), the Taylor model only the gap's."""
    F, phi = _features(2, 20), _fit(2, 20, 150)
    box = parse_domain("box:-1,1;-1,1")
    taylor = FeatureGapFunction(F, phi, box, names=("F", "phi"))
    assert taylor._taylor is not None
    plain = FeatureGapFunction(F, phi, box, names=("F", "phi"))
    plain._taylor = None
    rng = np.random.default_rng(9)
    c = rng.uniform(-0.9, 0.9, (40, 2))
    lo, hi = c - 0.02, c + 0.02
    t_hi = taylor.enclose(lo, hi)[1]
    m_hi = plain.enclose(lo, hi)[1]
    x = rng.uniform(lo[0], hi[0], (50, 2))
    sampled = float(np.max(np.linalg.norm(F.forward(x) - phi(x), axis=1)))
    assert np.median(m_hi / t_hi) > 20.0  # measured ~60-300x
    assert t_hi[0] < 3.0 * sampled + 1e-7


def test_gap_applies_only_to_one_hidden_layer_tanh_networks():
    F = _features(1, 4)
    relu = MLP.random([1, 6, 4], activation="relu", rng=0)
    deep = MLP.random([1, 6, 6, 4], activation="tanh", rng=0)
    box = parse_domain("box:-1,1")
    for net in (relu, deep, MLP.random([1, 6, 3], activation="tanh", rng=0)):
        assert not F.supports_taylor_gap(net)
        with pytest.raises(InvalidInputError, match="one-hidden-layer tanh"):
            F.gap_taylor(net, [[0.0]], [[0.1]])
    # the feature-gap function falls back to the mean-value form, which still encloses
    fn = FeatureGapFunction(F, relu, box, names=("F", "phi"))
    assert fn._taylor is None
    lo, hi = fn.enclose(np.array([[0.1]]), np.array([[0.2]]))
    x = np.linspace(0.1, 0.2, 21)[:, None]
    g = np.linalg.norm(F.forward(x) - relu(x), axis=1)
    assert np.all(lo[0] - 1e-12 <= g) and np.all(g <= hi[0] + 1e-12)
    with pytest.raises(InvalidInputError, match="order"):
        F.gap_taylor(_fit(1, 4, 10), [[0.0]], [[0.1]], order=11)


@pytest.mark.parametrize("dim", [1, 2])
def test_tanh_model_polynomial_plus_remainder_contains_the_network(dim):
    """phi(x) - P(x - c) lies within the remainder bound at points of the box (200-bit arb).

    Tested on the model itself, not through the gap's range bound, so that a remainder too
    small by any factor shows: on these boxes the truncation error is ~1e-6..1e-2, far
    above the coefficients' rounding.
    """
    from certify._kernels.taylor import _tanh_box_model

    rng = np.random.default_rng(21 + dim)
    order = 5
    alphas = multi_indices(dim, order)[0]
    net = MLP([rng.normal(0, 1.5, (30, dim)), rng.normal(0, 20.0, (3, 30))],
              [rng.normal(size=30), rng.normal(size=3)], activation="tanh")  # fmt: skip
    W, A = net.weights
    b, cout = net.biases
    P = unit_monomials(np.ascontiguousarray(W), alphas)
    for half in (0.05, 0.2, 0.4):
        c = rng.uniform(-0.5, 0.5, dim)
        h = np.full(dim, half)
        B_lo, B_hi, rho = np.empty((3, len(alphas))), np.empty((3, len(alphas))), np.empty(3)
        ok = _tanh_box_model(c, h, W, b, A, np.abs(A), cout, P[0], P[1], alphas.sum(axis=1),
                             order, 1e-12, B_lo, B_hi, rho)  # fmt: skip
        assert ok
        worst = 0.0
        for x in rng.uniform(c - h, c + h, (6, dim)):
            with ctx.workprec(200):
                xs = [arb(float(v)) for v in x]
                hid = [
                    (sum((arb(float(W[j, d])) * xs[d] for d in range(dim)), arb(0))
                     + arb(float(b[j]))).tanh()
                    for j in range(30)
                ]  # fmt: skip
                for i in range(3):
                    val = arb(float(cout[i])) + sum(
                        (arb(float(A[i, j])) * hid[j] for j in range(30)), arb(0)
                    )
                    poly = arb(0)
                    for a, alpha in enumerate(alphas):
                        coef = arb(0.5 * (B_lo[i, a] + B_hi[i, a]), 0.5 * (B_hi[i, a] - B_lo[i, a]))
                        mono = arb(1)
                        for d in range(dim):
                            mono *= (xs[d] - arb(float(c[d]))) ** int(alpha[d])
                        poly += coef * mono
                    err = abs(val - poly)
                    assert float(err.upper()) <= rho[i], (half, x, i)
                    worst = max(worst, float(err.lower()) / rho[i])
        # the truncation error is visible, so the check has teeth (measured largest error /
        # bound for half-widths 0.05, 0.2, 0.4: 0.14, 0.05, 0.008 in 1-D, 0.05, 0.003, 6e-4
        # in 2-D; a remainder halved in the kernel fails the 1-D case)
        assert worst > 1e-4
