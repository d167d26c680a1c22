"""Lemma L4 (symmetric neuron count) with certified Barron constants of Nystrom features.

Claim (L4, as certify evaluates it). Let r be a continuous PSD kernel on a box X, mu a
probability measure on X, and F_1..F_d real functions on R^D with

* ``||r - <F, F>||_{L2(mu x mu)} <= tau`` and ``||F_i||_{L2(mu)} <= sqrt(lambda_i)``;
* ``C_{F_i} = int |w| |F_i^(w)| dw < oo`` (Barron's constant of F_i on R^D), and
  ``C_i = C_{F_i} / sqrt(lambda_i)`` (the constant of ``e_i = F_i / sqrt(lambda_i)``);
* R the radius of a ball containing X (after centring: half the box's diagonal).

By L3 each F_i has a sigmoidal network phi_i of n_i units with ``||F_i - phi_i||_{L2(mu)}
<= delta_i = 2 R sqrt(lambda_i) C_i / sqrt(n_i)``, and then

    ||r - <phi, phi>||_{L2(mu x mu)} <= tau + sum_i (2 sqrt(lambda_i) delta_i + delta_i^2),

so ``N(eps) = d max{(16 R A / eps)^2, 16 R^2 B / eps}`` units suffice for error <= eps when
``tau <= eps / 2`` (``A = sum lambda_i C_i``, ``B = sum lambda_i C_i^2``). Exact Mercer
data (orthonormal e_i) are one instance; certify uses the certified Nystrom features F_d
of the construction, with tau the certified T(d) (L1, L1': a sup bound, hence an L2(mu x
mu) bound) and lambda_i a certified upper bound on ``||F_i||^2_{L2(mu)}``.

Claim (the Barron step). For ``F_i(x) = sum_j C_ji k(x - n_j)`` with a stationary kernel
``k(x) = int exp(i w.x) k^(w) dw`` (Bochner, ``k^ >= 0``), ``F_i^ = k^ S_i``, ``S_i(w) =
sum_j C_ji exp(-i w.n_j)``, and by Cauchy-Schwarz for the measure ``k^(w) dw``

    C_{F_i} <= min{ sqrt(M2 G_ii), sqrt(k(0) H_ii) },

``M2 = int |w|^2 k^ = -Laplacian k(0)``, ``G = C^T K C`` (L1's Gram matrix), ``H = C^T L C``
with ``L_jl = (-Laplacian k)(n_j - n_l)``.

Already checked in ``test_algebra_symmetric.py`` (not repeated here): Cauchy-Schwarz by
Lagrange's identity, the feature expansion, the tensor-norm factorisation, L4 = tau + sum
of the L3 terms, the equal-width form and the N(eps) width. Checked here: the weighted
Cauchy-Schwarz of the Barron step; the two quadratic-form identities on a discrete
spectral measure; Bochner pairs, second moments and radial Laplacians of the kernels;
the reduction of L4 to ``||F_i|| <= sqrt(lambda_i)`` and ``sqrt(lambda_i) C_i = C_{F_i}``;
then two certified instances, with the L4 figures beside the witness's.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from flint import arb, ctx

import certify
from certify.bounds import bound, catalogue
from certify.bounds.barron import _neg_laplacian, nystrom_barron_constants, second_spectral_moment
from certify.certificates.symmetric import certify_symmetric
from certify.relations.kernels import Gaussian, Laplace, Matern32, Matern52
from certify.spectral import NystromFeatures, mercer

# --------------------------------------------------------------------------- algebra


def test_weighted_cauchy_schwarz_by_lagrange_identity():
    """Claim: for weights p_j >= 0 (a discrete spectral measure k^ = sum_j p_j delta_{w_j}),
    (sum p a^2)(sum p b^2) - (sum p a b)^2 = sum_{j<k} p_j p_k (a_j b_k - a_k b_j)^2 >= 0;
    with a = |w|, b = |S| it is C_F^2 <= M2 G_ii, with a = |w| |S|, b = 1 it is
    C_F^2 <= k(0) H_ii (5 atoms)."""
    m = 5
    p = sp.symbols(f"p1:{m + 1}", nonnegative=True)
    a = sp.symbols(f"a1:{m + 1}", real=True)
    b = sp.symbols(f"b1:{m + 1}", real=True)

    def s(u):
        return sum((p[j] * u[j] for j in range(m)), sp.Integer(0))

    lhs = (
        s([x**2 for x in a]) * s([x**2 for x in b])
        - s([x * y for x, y in zip(a, b, strict=True)]) ** 2
    )
    squares = sum(
        (
            p[j] * p[k] * (a[j] * b[k] - a[k] * b[j]) ** 2
            for j, k in itertools.combinations(range(m), 2)
        ),
        sp.Integer(0),
    )
    assert sp.expand(lhs - squares) == 0
    print("Barron step: weighted Lagrange identity with 5 atoms expands to 0 (10 weighted squares)")


def test_spectral_quadratic_forms_are_the_gram_matrices():
    """Claim: for a symmetric discrete spectral measure k^ = sum_m q_m (delta_{w_m} +
    delta_{-w_m}) / 2, i.e. k(x) = sum_m q_m cos(w_m x), and S(w) = sum_j c_j exp(-i w n_j):
    int k^ |S|^2 = sum_{j,l} c_j c_l k(n_j - n_l) (= G_ii) and
    int w^2 k^ |S|^2 = sum_{j,l} c_j c_l (-k'')(n_j - n_l) (= H_ii); 3 nodes, 2 atoms.
    Written with z_jm = exp(i w_m n_j) (|z_jm| = 1, so conj(z) = 1/z), both sides are
    Laurent polynomials in the z_jm and the identity is checked by expansion."""
    nodes, atoms = 3, 2
    c = sp.symbols(f"c1:{nodes + 1}", real=True)
    q = sp.symbols(f"q1:{atoms + 1}", nonnegative=True)
    w = sp.symbols(f"w1:{atoms + 1}", real=True)
    z = [[sp.Symbol(f"z{j}{m}", nonzero=True) for m in range(atoms)] for j in range(nodes)]

    def s_at(m, sign):  # S(sign w_m) = sum_j c_j exp(-i sign w_m n_j)
        return sum((c[j] * z[j][m] ** (-sign) for j in range(nodes)), sp.Integer(0))

    def abs2(m, sign):  # |S|^2 = S conj(S), conj(z) = 1/z
        return s_at(m, sign) * s_at(m, -sign)

    def cos_diff(j, k, m):  # cos(w_m (n_j - n_k)) = (z_jm / z_km + z_km / z_jm) / 2
        return (z[j][m] / z[k][m] + z[k][m] / z[j][m]) / 2

    for weight in (lambda m: 1, lambda m: w[m] ** 2):  # k, then -k'' (factor w_m^2)
        spectral = sum(
            q[m] * weight(m) * abs2(m, sign) / 2 for m in range(atoms) for sign in (1, -1)
        )
        gram = sum(
            c[j] * c[k] * sum(q[m] * weight(m) * cos_diff(j, k, m) for m in range(atoms))
            for j in range(nodes)
            for k in range(nodes)
        )
        assert sp.expand(spectral - gram) == 0
    # the cosine series: -k'' of sum q_m cos(w_m x) is sum q_m w_m^2 cos(w_m x)
    x = sp.Symbol("x", real=True)
    k = sum(q[m] * sp.cos(w[m] * x) for m in range(atoms))
    assert (
        sp.expand(
            -sp.diff(k, x, 2) - sum(q[m] * w[m] ** 2 * sp.cos(w[m] * x) for m in range(atoms))
        )
        == 0
    )
    print("Barron step: int k^ |S|^2 = c^T K c and int w^2 k^ |S|^2 = c^T L c (3 nodes, 2 atoms)")


def _profiles():
    """(kernel class, kappa(r) with l symbolic, 1-D spectral density, -kappa''(0) l^2)."""
    r, w = sp.Symbol("r", nonnegative=True), sp.Symbol("w", real=True)
    ell = sp.Symbol("l", positive=True)
    a3, a5 = sp.sqrt(3) / ell, sp.sqrt(5) / ell
    return r, w, ell, [
        (Gaussian, sp.exp(-(r**2) / (2 * ell**2)),
         ell / sp.sqrt(2 * sp.pi) * sp.exp(-(ell**2) * w**2 / 2), sp.Integer(1)),
        (Matern32, (1 + a3 * r) * sp.exp(-a3 * r),
         2 * a3**3 / (sp.pi * (a3**2 + w**2) ** 2), sp.Integer(3)),
        (Matern52, (1 + a5 * r + a5**2 * r**2 / 3) * sp.exp(-a5 * r),
         8 * a5**5 / (3 * sp.pi * (a5**2 + w**2) ** 3), sp.Rational(5, 3)),
    ]  # fmt: skip


def test_bochner_pairs_and_second_moments():
    """Claim: for the Gaussian, Matern 3/2 and Matern 5/2 profiles kappa (certify's
    parametrisation, k(0) = 1): the 1-D densities k^ used by the Barron checks satisfy
    int k^ = 1, int k^(w) cos(w t) dw = kappa(t) (Bochner), int w^2 k^ = -kappa''(0) = c / l^2
    with c = 1, 3, 5/3; kappa'(0) = 0, and the second difference (2 - 2 kappa(h)) / h^2 ->
    c / l^2 (the Fatou step giving M2 <= D c / l^2). certify's M2 encloses D c / l^2 (D = 1..3).
    The Laplace profile exp(-r/l) has kappa'(0) = -1/l: the second difference diverges."""
    r, w, ell, rows = _profiles()
    t, h = sp.Symbol("t", positive=True), sp.Symbol("h", positive=True)
    for cls, kappa, density, c in rows:
        assert sp.simplify(sp.integrate(density, (w, -sp.oo, sp.oo)) - 1) == 0
        pair = sp.integrate(density * sp.cos(w * t), (w, -sp.oo, sp.oo))
        assert sp.simplify((pair - kappa.subs(r, t)).rewrite(sp.exp)) == 0, cls
        m2 = sp.integrate(w**2 * density, (w, -sp.oo, sp.oo))
        assert sp.simplify(m2 - c / ell**2) == 0
        series = sp.series(kappa, r, 0, 3).removeO()
        assert series.coeff(r, 1) == 0 and sp.simplify(-2 * series.coeff(r, 2) - c / ell**2) == 0
        assert sp.limit((2 - 2 * kappa.subs(r, h)) / h**2, h, 0) == sp.simplify(c / ell**2)
        for dim in (1, 2, 3):
            got = second_spectral_moment(cls(lengthscale=0.5), dim)
            exact = Fraction(dim) * Fraction(c.p, c.q) * 4  # l = 1/2
            assert got.lower is not None and got.value is not None
            assert Fraction(got.lower) <= exact <= Fraction(got.value)
    lap = sp.exp(-r / ell)
    assert sp.limit((2 - 2 * lap.subs(r, h)) / h**2, h, 0) == sp.oo
    assert not second_spectral_moment(Laplace(lengthscale=0.5), 1).known
    print("M2: Bochner pairs, int k^ = 1, M2 = D c / l^2 (c = 1, 3, 5/3) checked; Laplace M2 = oo")


def test_radial_laplacians_match_the_closed_forms():
    """Claim: -Laplacian kappa(|x|) in Cartesian coordinates (D = 1, 2, 3) equals the
    closed forms of certify's H matrix (barron._neg_laplacian), and its value at 0 is
    D c / l^2 = M2; checked at exact rational points (containment in certify's ball)."""
    r, _, ell, rows = _profiles()
    for cls, kappa, _, c in rows:
        for dim in (1, 2, 3):
            xs = sp.symbols(f"x1:{dim + 1}", real=True)
            k = kappa.subs({r: sp.sqrt(sum(x**2 for x in xs)), ell: sp.Rational(1, 2)})
            lap = -sum(sp.diff(k, x, 2) for x in xs)
            f = _neg_laplacian(cls(lengthscale=0.5), dim)
            for point in ([sp.Rational(1, 3)] * dim, [sp.Rational(-3, 4)] + [0] * (dim - 1)):
                exact = lap.subs(dict(zip(xs, point, strict=True)))
                r2 = sum(sp.Rational(v) ** 2 for v in point)
                with ctx.workprec(128):
                    ball = f(arb(r2.p) / arb(r2.q))
                    assert ball.contains(arb(str(sp.N(exact, 60)))), (cls, dim, point)
            with ctx.workprec(128):
                assert f(arb(0)).contains(dim * arb(c.p) / arb(c.q) * 4)
    print("M2: -Laplacian k matches the closed forms in D = 1, 2, 3 and equals M2 at 0")


def test_l4_depends_on_the_features_only_through_their_norms_and_barron_constants():
    """Claim: in certify's L4 with C_i = C_{F_i} / sqrt(lambda_i), delta_i = 2 R C_{F_i} /
    sqrt(n_i) and lambda_i enters only through 2 sqrt(lambda_i) delta_i, which is
    nondecreasing in lambda_i: so an upper bound lambda_i >= ||F_i||^2 keeps the bound valid
    (the feature term 2 ||F_i|| delta_i + delta_i^2 <= 2 sqrt(lambda_i) delta_i + delta_i^2,
    gap 2 delta_i (sqrt(lambda_i) - ||F_i||) >= 0); and A = sum sqrt(lambda_i) C_{F_i},
    B = sum C_{F_i}^2 (d = 1..4)."""
    sym = catalogue()
    R, tau = sym["R"].symbol, sym["tau"].symbol
    for depth in range(1, 5):
        cf = sp.symbols(f"cf1:{depth + 1}", positive=True)  # C_{F_i}
        L = sp.symbols(f"L1:{depth + 1}", positive=True)  # lambda_i
        nn = sp.symbols(f"m1:{depth + 1}", positive=True)  # n_i
        C = [cf[k] / sp.sqrt(L[k]) for k in range(depth)]
        # certify's own substitution (it expands the sum over i = 1..d)
        got = bound("L4").substitute(d=depth, lambda_=list(L), C=C, n_i=list(nn)).expression
        deltas = [2 * R * cf[k] / sp.sqrt(nn[k]) for k in range(depth)]
        want = tau + sum(2 * sp.sqrt(L[k]) * deltas[k] + deltas[k] ** 2 for k in range(depth))
        assert sp.simplify(got - want) == 0, depth
        for k in range(depth):
            assert sp.diff(want, L[k]).is_nonnegative
        A = sum(L[k] * cf[k] / sp.sqrt(L[k]) for k in range(depth))
        B = sum(L[k] * (cf[k] / sp.sqrt(L[k])) ** 2 for k in range(depth))
        assert sp.simplify(A - sum(sp.sqrt(L[k]) * cf[k] for k in range(depth))) == 0
        assert sp.simplify(B - sum(x**2 for x in cf)) == 0
    norm, d_, root = sp.symbols("norm delta root", nonnegative=True)  # ||F_i||, delta_i, sqrt(l)
    gap = (2 * root * d_ + d_**2) - (2 * norm * d_ + d_**2)
    assert sp.expand(gap - 2 * d_ * (root - norm)) == 0
    print("L4: with C_i = C_F / sqrt(lambda_i) the bound needs only ||F_i|| <= sqrt(lambda_i)")


# --------------------------------------------------------------------------- instances


def _integrated_constants(features, density, slope, tail, pieces):
    """[lo, hi] containing int |w| |F_i^| dw for 1-D features (midpoint rule, derived error).

    g(w) = w k^(w) |S(w)| is even; on a cell [u, v] of width h with midpoint c,
    |int g - h g(c)| <= h^2/2 sup |g'|, |g'| <= |(w k^)'| |S| + w k^ |S'|, k^ decreasing on
    [0, oo), |S| <= |S(c)| + h c2 / 2, |S'| <= |S'(c)| + h c3 / 2; the tail beyond W is
    <= sum_j |C_j| int_W^oo w k^; a relative 1e-9 covers float rounding.
    """
    n, C = features.nodes[:, 0], features.coefficients
    c1 = np.abs(C).sum(axis=0)
    c2 = (np.abs(C) * np.abs(n)[:, None]).sum(axis=0)
    c3 = (np.abs(C) * (n**2)[:, None]).sum(axis=0)
    mid, err = np.zeros(C.shape[1]), np.zeros(C.shape[1])
    for start, stop, h in pieces:
        edges = np.arange(start, stop + h / 2, h)
        for s in range(0, edges.size - 1, 20000):
            u, v = edges[s : s + 20001][:-1], edges[s : s + 20001][1:]
            c, hh = (u + v) / 2, (v - u)[:, None]
            E = np.exp(-1j * np.outer(c, n))
            S, dS = np.abs(E @ C), np.abs((E * (-1j * n)) @ C)
            ku = density(u)
            e1, e2 = ku * (1 + v * slope(u, v)), v * ku
            mid += (hh * (c * density(c))[:, None] * S).sum(axis=0)
            sup = e1[:, None] * (S + hh * c2 / 2) + e2[:, None] * (dS + hh * c3 / 2)
            err += (hh**2 / 2 * sup).sum(axis=0)
    err += c1 * tail(pieces[-1][1]) + 1e-9 * np.abs(mid)
    return 2 * (mid - err), 2 * (mid + err)


def _spectral_data(spec):
    ell = 0.5
    if spec.startswith("gaussian"):
        cg = ell / math.sqrt(2 * math.pi)
        return (
            lambda w: cg * np.exp(-(ell**2) * w**2 / 2),
            lambda u, v: ell**2 * v,
            lambda W: math.exp(-(ell**2) * W**2 / 2) / (ell * math.sqrt(2 * math.pi)),
            [(0.0, 40.0, 1e-3)],
        )
    a = math.sqrt(5) / ell
    K = 8 * a**5 / (3 * math.pi)
    return (
        lambda w: K / (a**2 + w**2) ** 3,
        lambda u, v: 6 * v / (a**2 + u**2),
        lambda W: K / (4 * (a**2 + W**2) ** 2),
        [(0.0, 50.0, 2e-3), (50.0, 2000.0, 5e-2)],
    )


INSTANCES = [("gaussian:lengthscale=0.5", 1e-3), ("matern52:lengthscale=0.5", 1e-2)]


@pytest.fixture(scope="module", params=INSTANCES, ids=["gaussian", "matern52"])
def instance(request):
    spec, eps = request.param
    cert = certify_symmetric(spec, "box:-1,1", eps=eps, method="construction", progress=False)
    return spec, eps, cert


def test_barron_bound_dominates_the_integrated_constants(instance):
    """Claim: for the reference features F_d of the certified instance, certify's bound on
    C_{F_i} is >= the upper end of a quadrature enclosure of int |w| |F_i^(w)| dw."""
    spec, _, cert = instance
    d = cert.method["bounds"]["L4"]["inputs"]["d"]
    F = NystromFeatures.from_mercer(mercer(spec, "box:-1,1"), rank=d)
    bounds = np.array([c.value for c in nystrom_barron_constants(F)])
    lo, hi = _integrated_constants(F, *_spectral_data(spec))
    assert np.all(hi - lo <= 0.1 * lo), (lo, hi)
    assert np.all(bounds >= hi), (bounds, hi)
    ratios = bounds / hi
    print(
        f"Barron step {spec}: bound / integrated C_F for F_1..F_{d} in "
        f"[{ratios.min():.2f}, {ratios.max():.2f}] (F_1: {bounds[0]:.4f} vs <= {hi[0]:.4f})"
    )


def test_l4_bound_and_neuron_count_beside_the_witness(instance):
    """Claim: the certified witness has L2(mu x mu) error <= sup error <= eps (mu a
    probability measure: sample RMS <= sample max <= proven sup); the recorded L4 value and
    N(eps) are >= L4's expression re-evaluated here in arb (resp. exact rationals) at the
    recorded inputs; sqrt(lambda_i) C_i >= C_{F_i}; lambda_i >= ||F_i||^2_{L2(mu)} (dense
    Gauss-Legendre estimate)."""
    spec, eps, cert = instance
    assert cert.verdict == "HOLDS" and cert.upper <= eps
    l4 = cert.method["bounds"]["L4"]
    assert l4["value"] is not None and not l4["missing"]
    inp = l4["inputs"]
    R, d, n, tau = inp["R"], inp["d"], inp["width"], inp["tau"]
    lam, C, CF, A, B = inp["lambda"], inp["C"], inp["C_F"], inp["A"], inp["B"]
    # the witness: L2 estimate <= sampled max <= proven sup <= eps
    phi = certify.MLP.from_dict(cert.network("phi"))
    g = np.linspace(-1.0, 1.0, 601)[:, None]
    P = phi(g)
    resid = certify.parse_relation(spec)(g, g) - P @ P.T
    rms, top = float(np.sqrt(np.mean(resid**2))), float(np.max(np.abs(resid)))
    assert rms <= top <= cert.upper <= eps
    # n = the witness's units per feature (equal blocks), or its shared layer split equally
    assert d * n <= phi.n_neurons < d * (n + 1) and l4["witness_neurons"] == phi.n_neurons
    # L4 re-evaluated in arb at the recorded inputs
    with ctx.workprec(128):
        total = arb(tau)
        for v, c, cf in zip(lam, C, CF, strict=True):
            delta = 2 * arb(R) * arb(v).sqrt() * arb(c) / arb(n).sqrt()
            total += 2 * arb(v).sqrt() * delta + delta**2
            assert arb(v).sqrt() * arb(c) >= arb(cf)  # C_i = C_F / sqrt(lambda_i), rounded up
        assert total <= arb(l4["value"])
        assert sum((arb(v) * arb(c) for v, c in zip(lam, C, strict=True)), arb(0)) <= arb(A)
        assert sum((arb(v) * arb(c) ** 2 for v, c in zip(lam, C, strict=True)), arb(0)) <= arb(B)
    # N(eps) = d ceil(max{(16 R A / eps)^2, 16 R^2 B / eps, 1}) in exact rationals
    fr = [Fraction(x) for x in (R, A, B, eps)]
    width = max((16 * fr[0] * fr[1] / fr[3]) ** 2, 16 * fr[0] ** 2 * fr[2] / fr[3], Fraction(1))
    exact_n = d * math.ceil(width)
    assert tau <= eps / 2 and exact_n <= l4["neurons_at_eps"] <= exact_n + d
    # lambda_i against a dense Gauss-Legendre estimate of int F_i^2 dmu (uniform on [-1, 1])
    F = NystromFeatures.from_mercer(mercer(spec, "box:-1,1"), rank=d)
    x, wts = np.polynomial.legendre.leggauss(400)
    est = (wts[:, None] * F(x[:, None]) ** 2).sum(axis=0) / 2
    assert np.all(np.array(lam) >= est * (1 - 1e-9)), (lam, est)
    print(
        f"L4 {spec} on [-1,1] at eps={eps:g}: N(eps) = {l4['neurons_at_eps']:.3e} units "
        f"(d={d}, R={R:g}, A={A:.3f}, B={B:.3f}) vs witness {phi.n_neurons} neurons "
        f"(ratio {l4['ratio_neurons_bound_to_witness']:.2e}); L4 at width {n}: "
        f"{l4['value']:.3e} vs certified sup error {cert.upper:.3e} "
        f"(ratio {l4['ratio_bound_to_achieved']:.2e}); lambda_i / ||F_i||^2 <= "
        f"{float(np.max(np.array(lam) / est)):.3g}"
    )
