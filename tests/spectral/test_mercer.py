"""Tests of certify.spectral.mercer: quadrature-Nystrom Mercer data vs the closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.linalg import eigvalsh

from certify import gram
from certify.errors import InvalidInputError, NotPSDError
from certify.relations import (
    Box,
    CallableRelation,
    FiniteSet,
    GaussianMeasure,
    Laplace,
    RealSpace,
    Uniform,
    quadrature,
)
from certify.spectral import (
    MercerDecomposition,
    TailEstimate,
    brownian_l2_tail,
    brownian_trace_tail,
    brownian_uniform_tail,
    gaussian_mercer,
    mercer,
    periodic_mercer,
    rank_for_tail,
)

EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def brownian() -> MercerDecomposition:
    # Converges at 512 nodes (change 6.9e-6 lambda_1 from 256): the kink of min(x, y) on the
    # diagonal makes Gauss-Legendre Nystrom converge like n^-2.
    return mercer("brownian", "box:0,1", rtol=1e-5)


@pytest.fixture(scope="module")
def laplace() -> MercerDecomposition:
    return mercer("laplace:lengthscale=1", "box:-1,1", rtol=1e-3)


@pytest.fixture(scope="module")
def gauss_box() -> MercerDecomposition:
    return mercer("gaussian:lengthscale=1", "box:-1,1", rtol=1e-10)


# ------------------------------------------------------------------ closed forms (cross-method)


def test_gaussian_gaussian_first_20_match_closed_form():
    # l = 0.4, s = 1: q = 0.67, lambda_20 / lambda_1 = 5e-4. Gauss-Hermite from 160 nodes;
    # the change 160 -> 320 is 3.5e-9 lambda_1, so rtol=1e-8 stops at 320 nodes (numpy's
    # Gauss-Hermite rule overflows beyond about 370 nodes, so 640 is not available).
    dec = mercer(
        "gaussian:lengthscale=0.4", "real:1", measure="gaussian:std=1", n=160, rank=20, rtol=1e-8
    )
    cf = gaussian_mercer(0.4, 1.0, 20)
    assert dec.n_nodes == 320
    # rtol 1e-10 (the target); atol = dec.roundoff = 8 n eps lambda_1, eigh's backward-error
    # bound, which is what double precision guarantees for the small eigenvalues (observed
    # error: 1.3e-14 relative for all 20).
    err = np.abs(dec.eigenvalues - cf.eigenvalues)
    tol = 1e-10 * cf.eigenvalues + dec.roundoff
    assert np.all(err <= tol), f"max err / tol = {np.max(err / tol):.2e}"
    # The first 12 are held to 2e-10 relative (their round-off term is below 1e-10 of them).
    assert np.all(dec.roundoff <= 1e-10 * cf.eigenvalues[:12])


def test_gaussian_gaussian_2d_tensor_product():
    # Anisotropic measure std = (1, 0.7): eigenvalues are products of the two 1-D families.
    # 12 -> 24 -> 48 nodes per axis; the change at 48^2 = 2304 nodes is 6.2e-7 lambda_1.
    dec = mercer(
        "gaussian:lengthscale=1",
        "real:2",
        measure="gaussian:std=[1.0,0.7]",
        n=12,
        rank=10,
        rtol=1e-6,
    )
    cf = gaussian_mercer(1.0, [1.0, 0.7], 10)
    err = np.abs(dec.eigenvalues - cf.eigenvalues)
    # atol: eigh round-off bound; rtol 1e-10: the quadrature error at 48 nodes per axis is
    # below 1e-13 for these modes (observed 5e-14).
    tol = 1e-10 * cf.eigenvalues + dec.roundoff
    assert np.all(err <= tol), f"max err / tol = {np.max(err / tol):.2e}"


def test_periodic_first_20_match_bessel():
    # exp(8 cos(x - y)) on [0, 2 pi]: lambda = I_0(8), then I_m(8) twice. Gauss-Legendre
    # converges geometrically for this analytic integrand: 32 -> 64 -> 128 nodes.
    dec = mercer("periodic:kappa=8", f"box:0,{2 * math.pi!r}", n=32, rank=20, rtol=1e-12)
    cf = periodic_mercer(8.0, 20)
    err = np.abs(dec.eigenvalues - cf.eigenvalues)
    # atol = eigh round-off bound (8.5e-11 of lambda_20 here), rtol 1e-10.
    tol = 1e-10 * cf.eigenvalues + dec.roundoff
    assert np.all(err <= tol), f"max err / tol = {np.max(err / tol):.2e}"


def test_periodic_other_period_and_offset():
    # Any interval of one period gives the same spectrum: period 1 on [0.5, 1.5].
    dec = mercer("periodic:kappa=2,period=1", "box:0.5,1.5", rank=7, rtol=1e-12)
    cf = periodic_mercer(2.0, 7, period=1.0, lower=0.5)
    tol = 1e-10 * cf.eigenvalues + dec.roundoff
    assert np.all(np.abs(dec.eigenvalues - cf.eigenvalues) <= tol)


def test_brownian_eigenvalues_within_recorded_change(brownian):
    k = np.arange(1, 11)
    exact = 1.0 / ((k - 0.5) ** 2 * np.pi**2)
    conv = brownian.convergence
    # Error analysis: with a derivative jump on the diagonal the Gauss-Legendre Nystrom
    # eigenvalue error is err(n) ~ c / n^2, so the change from n/2 to n is ~ 3 err(n):
    # err(n) <= change / 3. The tolerance final_change * lambda_1 leaves a factor 3
    # (observed err / tol = 0.19). The n^-2 rate itself is checked below.
    tol = conv.final_change * brownian.eigenvalues[0]
    err = np.abs(brownian.eigenvalues[:10] - exact)
    assert np.all(err <= tol), f"max err / tol = {np.max(err / tol):.2e}"
    changes = [c for _, c in conv.history[1:]]
    ratios = np.array(changes[:-1]) / np.array(changes[1:])
    # Doubling n divides an O(n^-2) change by 4 (3.5..4.5 allows the higher-order terms).
    assert np.all((ratios[-3:] > 3.5) & (ratios[-3:] < 4.5)), ratios


def test_brownian_sampled_uniform_tail_at_x_equal_1(brownian):
    conv = brownian.convergence
    for d in (1, 3, 7):
        t = brownian.sampled_uniform_tail(d, n_points=256, rng=0)
        assert isinstance(t, TailEstimate) and t.kind == "sampled_uniform"
        assert "ESTIMATE" in t.method
        assert t.point is not None and t.point.tolist() == [1.0]  # the box corner, THEORY.md
        # T(d) = sum_{i<=d} 2 lambda_i - ... : each of the d terms lambda_i e_i(1)^2 = 2 lambda_i
        # moves by about 2 |d lambda_i| <= 2 change lambda_1 (observed ratio <= 0.21).
        tol = 2 * d * conv.final_change * brownian.eigenvalues[0]
        assert abs(t.value - brownian_uniform_tail(d)) <= tol


# ------------------------------------------------------------------ Nystrom representation


def test_features_are_kernel_times_coefficients(laplace):
    X = np.linspace(-1.0, 1.0, 7)[:, None]
    C = np.sqrt(laplace.weights)[:, None] * laplace.eigenvectors / np.sqrt(laplace.eigenvalues)
    np.testing.assert_array_equal(laplace.coefficients, C)
    F = laplace.features(X)
    np.testing.assert_array_equal(F, gram(laplace.kernel, X, laplace.nodes) @ C)
    np.testing.assert_allclose(
        laplace.eigenfunctions(X), F / np.sqrt(laplace.eigenvalues), rtol=4 * EPS, atol=0
    )
    assert laplace.features(X, rank=3).shape == (7, 3)


def test_eigenfunctions_orthonormal_under_the_rule(gauss_box):
    dec = gauss_box
    E = dec.eigenfunctions(dec.nodes)
    G = E.T @ (dec.weights[:, None] * E)
    # At the nodes, W^(1/2) E[:, i] = S u_i / l_i = u_i + r_i / l_i with |r_i| <= roundoff
    # (eigh residual) plus the matmul rounding (also <= roundoff), so
    # |G_ij - delta_ij| <= 2 roundoff / l_i + 2 roundoff / l_j (+ products, absorbed by 4).
    lam = dec.eigenvalues
    atol = 4 * dec.roundoff / np.minimum.outer(lam, lam)
    assert np.all(np.abs(G - np.eye(dec.rank)) <= atol)


def test_eigenfunctions_orthonormal_in_l2_mu(gauss_box):
    # An independent 200-node rule integrates the entire functions e_i e_j to round-off, so
    # the only deviation is the n-node rule's quadrature error (bounded, in units of lambda_1,
    # by the recorded final change) and the round-off above, both scaled by 1 / min(l_i, l_j).
    dec = gauss_box
    fine = quadrature("box:-1,1", n=200)
    E = dec.eigenfunctions(fine.nodes)
    G = E.T @ (fine.weights[:, None] * E)
    lam = dec.eigenvalues
    scale = np.minimum.outer(lam, lam)
    atol = (4 * dec.roundoff + 10 * dec.convergence.final_change * lam[0]) / scale
    assert np.all(np.abs(G - np.eye(dec.rank)) <= atol)


@pytest.mark.parametrize("which", ["laplace", "gauss_box"])
def test_features_reproduce_kernel_monotonically(which, request, rng):
    dec = request.getfixturevalue(which)
    X = rng.uniform(-1.0, 1.0, size=(150, 1))
    K = gram(dec.kernel, X)
    F = dec.features(X)
    errs = []
    for d in sorted({1, 2, 4, 8, 16, 64, dec.rank} & set(range(1, dec.rank + 1))):
        R = K - F[:, :d] @ F[:, :d].T
        errs.append(float(np.max(np.abs(R))))
        # L1: the residual of a Nystrom truncation is PSD, so its sup is on the diagonal.
        assert errs[-1] <= float(np.max(np.diag(R))) + 1e-12
    # The diagonal residual r(x, x) - |F_d(x)|^2 only loses non-negative terms as d grows;
    # 1e-12 = sum of d rounded squares of size <= k(0) = 1, far above d n eps.
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(errs)), errs
    # Final level: Laplace's tail decays like 1/d (kink), about 2e-2 of k(0) at d = 64; the
    # Gaussian's geometrically, to its last kept eigenvalue (1e-11) times sup e_i^2.
    assert errs[-1] < (0.05 if which == "laplace" else 1e-8) * errs[0]


def test_exact_measure_on_finite_set():
    pts = [[0.0], [0.3], [0.5], [1.0]]
    dec = mercer("gaussian:lengthscale=0.5", FiniteSet(pts))
    K = gram("gaussian:lengthscale=0.5", pts)
    assert dec.convergence.history == ((4, 0.0),)
    assert dec.convergence.final_change == 0.0 and dec.convergence.rule == "exact"
    # Same matrix K / 4, two symmetric eigensolvers: both within 8 n eps ||S|| of the truth.
    np.testing.assert_allclose(dec.spectrum, eigvalsh(K / 4)[::-1], rtol=0, atol=2 * dec.roundoff)
    F = dec.features(pts)
    # All 4 eigenpairs kept: F F^T = K up to round-off (relative 1e-12 of k(0) = 1 covers the
    # 1/sqrt(l_min) amplification, l_min / l_1 ~ 1e-4 here).
    assert dec.rank == 4
    np.testing.assert_allclose(F @ F.T, K, rtol=0, atol=1e-10)
    t = dec.sampled_uniform_tail(dec.rank)
    assert "finite domain" in t.method and t.n_points == 4


def test_sphere_multiplicities():
    # A zonal kernel on S^2 has eigenvalues by harmonic degree with multiplicity 2 l + 1.
    dec = mercer("gaussian:lengthscale=1", "sphere:3", rank=9)
    lam = dec.eigenvalues
    atol = 2 * dec.roundoff + dec.convergence.final_change * lam[0]
    assert np.ptp(lam[1:4]) <= atol and np.ptp(lam[4:9]) <= atol
    assert lam[0] - lam[1] > 100 * atol and lam[3] - lam[4] > 100 * atol
    assert dec.trace == 1.0


def test_chebyshev_measure_and_sobol_rule():
    dec = mercer("gaussian:lengthscale=1", "box:-1,1", measure="chebyshev")
    assert dec.convergence.rule == "gauss-chebyshev" and dec.trace == 1.0
    # Sobol in 3-D: one scrambling seed for every level (nested rules); reproducible.
    kw = dict(n=256, max_nodes=1024, rtol=3e-2, rank=4, rng=7)
    a = mercer("gaussian:lengthscale=1", "box:-1,1;-1,1;-1,1", **kw)
    b = mercer("gaussian:lengthscale=1", "box:-1,1;-1,1;-1,1", **kw)
    assert a.convergence.rule == "sobol" and a.convergence.seed is not None
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    assert a.convergence.final_change <= 3e-2


# ------------------------------------------------------------------ trace and L2 tails


def test_trace_identities(laplace, brownian):
    for dec in (laplace, brownian):
        n = dec.n_nodes
        # sum of the eigenvalues of S + E is trace(S) + trace(E), |trace E| <= n ||E||_2 <= n
        # roundoff; trace(S) = sum_j w_j r(x_j, x_j) and the weights sum to 1 within
        # 8 (n + dim) eps.
        atol = n * dec.roundoff + 8 * (n + dec.dim) * EPS * abs(dec.trace)
        assert abs(math.fsum(dec.spectrum) - dec.trace) <= atol
        t0 = dec.trace_tail(0)
        assert t0.value == dec.trace and t0.kind == "trace"
        for d in (1, 5, 20):
            t = dec.trace_tail(d)
            assert t.cross_check is not None
            assert abs(t.raw - t.cross_check) <= atol
            assert t.value == (0.0 if -t.roundoff <= t.raw < 0 else t.raw) >= 0.0
    assert laplace.trace == 1.0  # stationary: k(0) exactly
    # Gauss-Legendre integrates r(x, x) = x exactly: 1/2 within the weight-sum round-off.
    assert abs(brownian.trace - 0.5) <= 8 * (brownian.n_nodes + 1) * EPS


def test_trace_tail_brownian_closed_form(brownian):
    # sum_{i<=d} |d lambda_i| <= d change lambda_1 (each eigenvalue within the change, above).
    tol_unit = brownian.convergence.final_change * brownian.eigenvalues[0]
    for d in (0, 1, 5, 20):
        assert abs(brownian.trace_tail(d).value - brownian_trace_tail(d)) <= max(d, 1) * tol_unit


def test_l2_tail_hilbert_schmidt_cross_check(brownian, laplace):
    for dec in (brownian, laplace):
        assert abs(dec.l2_tail(0).value ** 2 - dec.hs_norm_squared) <= (
            8 * dec.n_nodes * EPS * dec.hs_norm_squared
        )
        for d in (0, 1, 5, 20):
            t = dec.l2_tail(d)
            assert t.cross_check is not None
            assert abs(t.value - t.cross_check) <= t.roundoff
    # Against the closed form tau(d)^2 = psi_3(d + 1/2) / (6 pi^4): the error is the
    # quadrature error of ||min||^2 = 1/6 plus sum_{i<=d} |lambda_i^2 - l_i^2| <= 2 lambda_1
    # |d lambda_i| <= 2 lambda_1 change lambda_1 each.
    hs_err = abs(brownian.hs_norm_squared - 1.0 / 6.0)
    lam1 = brownian.eigenvalues[0]
    for d in (0, 1, 5, 20):
        tol = hs_err + 2 * d * lam1 * brownian.convergence.final_change * lam1
        assert abs(brownian.l2_tail(d).value ** 2 - brownian_l2_tail(d) ** 2) <= tol


# ------------------------------------------------------------------ rank_for_tail


def _midpoint_target(tail, d_star: int) -> float:
    """A target strictly between tail(d_star) and tail(d_star - 1) (robust to small errors)."""
    return 0.5 * (tail(d_star) + tail(d_star - 1))


@pytest.mark.parametrize(
    ("kind", "closed"),
    [
        ("trace", brownian_trace_tail),
        ("l2", brownian_l2_tail),
        ("sampled_uniform", brownian_uniform_tail),
    ],
)
def test_rank_for_tail_matches_closed_form(brownian, kind, closed):
    for d_star in (1, 4, 9):
        target = _midpoint_target(closed, d_star)
        assert rank_for_tail(brownian, target, kind=kind, rng=0) == d_star


def test_rank_for_tail_callable(brownian):
    calls: list[int] = []

    def tail(d: int) -> float:
        calls.append(d)
        return brownian_uniform_tail(d)

    target = _midpoint_target(brownian_uniform_tail, 6)
    assert rank_for_tail(brownian, target, kind=tail) == 6
    assert calls == list(range(7))  # once per d, in order, stopping at the first hit
    # NaN never counts as below the target.
    assert rank_for_tail(brownian, 0.5, kind=lambda d: math.nan if d < 3 else 0.0) == 3


# ------------------------------------------------------------------ inputs and errors


def test_spec_strings_equal_objects():
    a = mercer("laplace:lengthscale=1", "box:-1,1", rtol=1e-3)
    b = mercer(Laplace(lengthscale=1.0), Box([-1.0], [1.0]), measure=Uniform(), rtol=1e-3)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    assert (a.kernel_spec, a.domain_spec, a.measure_spec) == (
        "laplace:lengthscale=1",
        "box:-1.0,1.0",
        "uniform",
    )
    c = mercer("gaussian:lengthscale=1", "real:1", measure="gaussian:std=1")
    d = mercer("gaussian:lengthscale=1", RealSpace(1), measure=GaussianMeasure(1.0))
    np.testing.assert_array_equal(c.eigenvalues, d.eigenvalues)
    cf = gaussian_mercer(1.0, 1.0, 5)
    np.testing.assert_allclose(c.eigenvalues[:5], cf.eigenvalues, rtol=1e-10, atol=c.roundoff)


def test_records_are_read_only(laplace):
    with pytest.raises(ValueError, match="read-only"):
        laplace.eigenvalues[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        laplace.coefficients[0, 0] = 0.0


def test_not_symmetric_relation():
    with pytest.raises(InvalidInputError, match="must be symmetric"):
        mercer("bilinear:W=[[1,2],[0,1]]", "box:-1,1;-1,1")


def test_relation_wrongly_claiming_symmetry():
    r = CallableRelation(
        lambda X, Y: np.exp(-((X[:, 0] - 2 * Y[:, 0]) ** 2)), x_dim=1, y_dim=1, symmetric=True
    )
    with pytest.raises(InvalidInputError, match="claims symmetry"):
        mercer(r, "box:-1,1")


def test_measure_not_on_domain():
    with pytest.raises(InvalidInputError, match="only defined on the whole space"):
        mercer("gaussian:lengthscale=1", "box:-1,1", measure="gaussian:std=1")
    with pytest.raises(InvalidInputError, match="no uniform probability measure"):
        mercer("gaussian:lengthscale=1", "real:1")


def test_not_psd_relation():
    with pytest.raises(NotPSDError, match="not positive semidefinite") as info:
        mercer("expr:-abs(x0-y0)", "box:-1,1")
    assert info.value.points.shape == (16, 1) and info.value.eigenvalue < 0


def test_non_convergence():
    with pytest.raises(InvalidInputError, match="did not converge.*max_nodes=256"):
        mercer("laplace:lengthscale=1", "box:-1,1", rtol=1e-9, max_nodes=256)
    with pytest.raises(InvalidInputError, match="above `max_nodes`"):
        mercer("laplace:lengthscale=1", "box:-1,1", n=512, max_nodes=256)


def test_rank_above_numerical_rank():
    with pytest.raises(InvalidInputError, match="exceeds the 3 eigenvalues"):
        mercer("poly:degree=2", "box:-1,1", rank=5)


def test_kernel_not_evaluable_or_wrong_dimension():
    with pytest.raises(InvalidInputError, match="cannot be evaluated.*non-negative"):
        mercer("brownian", "box:-1,1")
    with pytest.raises(InvalidInputError, match="dimension 2.*dimension 1"):
        mercer("gaussian:lengthscale=1,dim=2", "box:-1,1")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": 42}, "`kernel` must be a certify Relation"),
        ({"domain": 3.0}, "`domain` must be a certify Domain"),
        ({"measure": 5}, "`measure` must be a certify Measure"),
        ({"rank": 0}, "`rank` must be an int >= 1"),
        ({"tol": 1.5}, "`tol` must lie in"),
        ({"rtol": 0.0}, "`rtol` must be > 0"),
        ({"max_nodes": 0}, "`max_nodes` must be an int >= 1"),
        ({"n": -2}, "`n` must be an int >= 1"),
        ({"rule": "simpson"}, "`rule` must be one of"),
        ({"rng": -1}, "`rng` must be a seed >= 0"),
    ],
)
def test_invalid_arguments(kwargs, match):
    args = {"kernel": "gaussian:lengthscale=1", "domain": "box:-1,1"}
    args.update(kwargs)
    kernel, domain = args.pop("kernel"), args.pop("domain")
    with pytest.raises(InvalidInputError, match=match):
        mercer(kernel, domain, **args)


def test_method_argument_errors(laplace):
    with pytest.raises(InvalidInputError, match=r"`X` must lie in 'box:-1.0,1.0'"):
        laplace.features([[2.0]])
    with pytest.raises(InvalidInputError, match=r"`rank` must be an int in \[0, "):
        laplace.features([[0.0]], rank=laplace.rank + 1)
    with pytest.raises(InvalidInputError, match=r"`d` must be an int in \[0, "):
        laplace.trace_tail(laplace.n_nodes + 1)
    with pytest.raises(InvalidInputError, match="`d` must be an int >= 0"):
        laplace.l2_tail(-1)
    with pytest.raises(InvalidInputError, match="`n_points` must be an int >= 1"):
        laplace.sampled_uniform_tail(1, n_points=0)


def test_rank_for_tail_errors(laplace):
    with pytest.raises(InvalidInputError, match="`target` must be > 0"):
        rank_for_tail(laplace, 0.0)
    with pytest.raises(InvalidInputError, match="`kind` must be 'trace'"):
        rank_for_tail(laplace, 0.1, kind="uniform")
    with pytest.raises(InvalidInputError, match="must return a real number"):
        rank_for_tail(laplace, 0.1, kind=lambda d: "small")
    with pytest.raises(InvalidInputError, match="no d <= rank=.*Keep more eigenpairs"):
        rank_for_tail(laplace, 1e-30, kind="l2")
    with pytest.raises(InvalidInputError, match="`decomposition` must be a MercerDecomposition"):
        rank_for_tail("laplace", 0.1)
