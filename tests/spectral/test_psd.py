"""Tests of certify.spectral.psd: certified non-PSD witnesses and the L7 lower bound."""

from __future__ import annotations

import math

import cvxpy as cp
import mpmath
import numpy as np
import pytest

from certify.errors import InvalidInputError, NotPSDError
from certify.relations import (
    CallableRelation,
    ExpressionRelation,
    FiniteSet,
    Gaussian,
    Laplace,
    Matern32,
    Matern52,
    Sphere,
)
from certify.spectral.psd import (
    ENTRIES_ARB,
    ENTRIES_CALLABLE,
    PSDCheck,
    _certify,
    _smallest,
    check_psd,
    require_psd,
)

EPS = float(np.finfo(np.float64).eps)
# The search ranks candidates by float scores, which carry eigh's round-off
# (~ p^2 eps relative for p <= 24 points), and ties within 1e-12 go to smaller
# sets; a found bound may therefore sit up to ~1e-12 (relative) below the exact
# value of the reference configuration it tied with. 1e-11 leaves headroom and
# still catches a search that misses the reference configuration (an O(1) loss).
SEARCH_RTOL = 1e-11


def _mp_min_eigenvalue(r, points: np.ndarray) -> mpmath.mpf:
    """Smallest eigenvalue of the exact Gram matrix [r(x_i, x_j)], at 50 digits.

    Independent of certify: ``r`` is written with mpmath functions, the float points
    enter exactly (mpf of a float is exact) and mpmath's Jacobi solver does the rest.
    """
    with mpmath.workdps(50):
        pts = [[mpmath.mpf(float(c)) for c in row] for row in points]
        p = len(pts)
        K = mpmath.matrix(p, p)
        for i in range(p):
            for j in range(p):
                K[i, j] = r(pts[i], pts[j])
        eigenvalues = mpmath.eigsy(K, eigvals_only=True)
        return min(eigenvalues[i] for i in range(p))


def _assert_consistent(res: PSDCheck) -> None:
    """Invariants of a refuted record that hold whatever the search found."""
    assert res.refuted and not res.psd_by_construction
    assert res.points is not None and res.eigenvector is not None
    assert res.eigenvalue_enclosure is not None
    lo, hi = res.eigenvalue_enclosure
    p = res.n_points
    assert lo <= hi < 0
    assert res.gamma == -hi  # gamma = -upper end, exact when the upper end is a float
    assert res.l7_bound <= res.gamma / p
    # The L7 bound is gamma/p rounded down: within one ulp-scale rounding of gamma/p.
    assert res.l7_bound >= res.gamma / p * (1 - 4 * EPS)
    # sum|v_i|^2 <= p |v|^2, so the sharpened bound is never weaker (up to rounding).
    assert res.sharpened_bound >= res.l7_bound * (1 - 4 * EPS)
    assert abs(np.linalg.norm(res.eigenvector) - 1.0) <= 10 * p * EPS


# --- the reference instance -|x - y| on [-1, 1] ---------------------------------------------
def test_abs_distance_is_refuted_with_l7_bound_at_least_one(rng):
    res = check_psd("expr:-Abs(x0-y0)", "box:-1,1", rng=rng)
    _assert_consistent(res)
    assert res.entries == ENTRIES_ARB
    assert res.status == "refuted"
    # Reference configuration {-1, 1}: K = [[0, -2], [-2, 0]] has eigenvalue -2, so
    # gamma / p = 2 / 2 = 1 is available; the search must do at least as well.
    K_ref = np.array([[0.0, -2.0], [-2.0, 0.0]])
    ref = -np.linalg.eigvalsh(K_ref)[0] / 2
    assert ref == 1.0
    assert res.l7_bound >= ref * (1 - SEARCH_RTOL)
    assert np.all(np.abs(res.points) <= 1.0)


def test_abs_distance_enclosure_contains_high_precision_eigenvalue(rng):
    res = check_psd("expr:-Abs(x0-y0)", "box:-1,1", rng=rng)
    assert res.points is not None and res.eigenvalue_enclosure is not None
    lam = _mp_min_eigenvalue(lambda x, y: -abs(x[0] - y[0]), res.points)
    lo, hi = res.eigenvalue_enclosure
    assert mpmath.mpf(lo) <= lam <= mpmath.mpf(hi)
    # Tight: the Rayleigh quotient of a float eigenvector is accurate to ~eps^2, the
    # LDL^T shift sits 2^-96 below it; outward rounding to floats adds an ulp each side.
    assert hi - lo <= 4 * EPS * abs(hi)


def test_finite_domain_and_the_two_point_witness():
    res = check_psd("expr:-Abs(x0-y0)", FiniteSet([[-1.0], [0.0], [0.5], [1.0]]), rng=0)
    _assert_consistent(res)
    assert res.points is not None
    assert sorted(res.points.ravel().tolist()) == [-1.0, 1.0]
    assert res.l7_bound == 1.0  # K = [[0, -2], [-2, 0]]: every step is exact


# --- L7 itself: no PSD model beats the bound ------------------------------------------------
@pytest.fixture(
    scope="module",
    params=[
        ("expr:-Abs(x0-y0)", "box:-1,1"),
        ("expr:cos(x0+y0)", "box:-1,1"),
        ("expr:-sqrt((x0-y0)**2 + (x1-y1)**2)", "box:-1,1;-1,1"),
    ],
)
def refuted(request) -> tuple[PSDCheck, np.ndarray]:
    spec, domain = request.param
    res = check_psd(spec, domain, n_points=16, n_restarts=3, rng=7)
    assert res.refuted and res.points is not None
    return res, ExpressionRelation(spec.removeprefix("expr:"))(res.points)


def _max_error(K: np.ndarray, Phi: np.ndarray) -> float:
    return float(np.max(np.abs(K - Phi @ Phi.T)))


def test_random_psd_models_do_not_beat_the_l7_bound(refuted, rng):
    res, K = refuted
    X = res.points
    assert X is not None
    p, d = X.shape
    for trial in range(200):
        m = int(rng.integers(1, 2 * p + 2))
        if trial % 2:
            # phi = a random one-hidden-layer tanh network evaluated at the points.
            W1 = rng.normal(scale=3.0, size=(d, 16))
            b1 = rng.normal(size=16)
            W2 = rng.normal(scale=rng.uniform(0.01, 2.0), size=(16, m))
            Phi = np.tanh(X @ W1 + b1) @ W2
        else:
            Phi = rng.normal(scale=rng.uniform(0.01, 3.0), size=(p, m))
        # max|K - S| is computed in floats: the bound is rigorous and the errors here
        # are O(1), so a float margin of 1e-12 cannot hide a violation.
        assert _max_error(K, Phi) >= res.l7_bound - 1e-12
        assert _max_error(K, Phi) >= res.sharpened_bound - 1e-12


def test_clipped_eigendecomposition_does_not_beat_the_l7_bound(refuted):
    # The nearest PSD matrix in Frobenius norm (negative eigenvalues set to zero).
    res, K = refuted
    w, V = np.linalg.eigh(K)
    Phi = V * np.sqrt(np.clip(w, 0.0, None))
    assert _max_error(K, Phi) >= res.sharpened_bound - 1e-12


def test_best_psd_matrix_at_the_points_does_not_beat_the_bound(refuted):
    # min over PSD S of max_ij |K - S|_ij, an SDP: the best any symmetric model can do
    # at these points. L7 (sharpened) is a lower bound of it.
    res, K = refuted
    p = K.shape[0]
    S = cp.Variable((p, p), PSD=True)
    t = cp.Variable()
    prob = cp.Problem(cp.Minimize(t), [cp.abs(K - S) <= t])
    prob.solve(solver=cp.CLARABEL)
    assert prob.status == cp.OPTIMAL
    # Clarabel's default tolerances are 1e-8 (relative gap); entries are O(1).
    assert prob.value >= res.sharpened_bound - 1e-6


# --- other non-PSD relations, each with a configuration checked by hand ---------------------
def test_cos_of_sum_is_refuted():
    # cos(x + y) at {-1, 1}: K = [[cos 2, 1], [1, cos 2]], eigenvalues cos 2 -+ 1, so
    # gamma / p = (1 - cos 2) / 2 = 0.708... is available.
    res = check_psd("expr:cos(x0+y0)", "box:-1,1", rng=1)
    _assert_consistent(res)
    ref = (1 - math.cos(2.0)) / 2
    assert res.l7_bound >= ref * (1 - SEARCH_RTOL)
    assert res.points is not None and res.eigenvalue_enclosure is not None
    lam = _mp_min_eigenvalue(lambda x, y: mpmath.cos(x[0] + y[0]), res.points)
    lo, hi = res.eigenvalue_enclosure
    assert mpmath.mpf(lo) <= lam <= mpmath.mpf(hi)


def test_product_minus_one_is_refuted():
    # x y - 1: at the single point 0 the "Gram matrix" is [-1] (p = 1, gamma = 1); at
    # {-1, 1} it is [[0, -2], [-2, 0]] (p = 2, gamma = 2). Either way gamma / p = 1.
    res = check_psd("expr:x0*y0 - 1", "box:-1,1", rng=2)
    _assert_consistent(res)
    assert res.l7_bound >= 1.0 * (1 - SEARCH_RTOL)


def test_indefinite_bilinear_is_refuted():
    # x0 y0 - x1 y1: the grid point (1/3, 1) has r(x, x) = 1/9 - 1 = -8/9 (p = 1).
    res = check_psd("bilinear:W=[[1,0],[0,-1]]", "box:-1,1;-1,1", rng=3)
    _assert_consistent(res)
    assert res.l7_bound >= 8 / 9


def test_symmetric_callable_that_is_not_psd_is_refuted():
    rel = CallableRelation(
        lambda X, Y: -np.abs(X[:, 0] - Y[:, 0]), x_dim=1, y_dim=1, symmetric=True, name="negdist"
    )
    res = check_psd(rel, "box:-1,1", rng=4)
    _assert_consistent(res)
    assert res.entries == ENTRIES_CALLABLE
    assert res.relation == "callable:negdist"
    assert res.l7_bound >= 1.0 * (1 - SEARCH_RTOL)


def test_sphere_points_stay_on_the_sphere():
    res = check_psd(
        "expr:-sqrt((x0-y0)**2 + (x1-y1)**2)", Sphere(2), n_points=8, n_restarts=2, rng=5
    )
    _assert_consistent(res)
    assert res.points is not None
    assert np.all(Sphere(2).contains(res.points))
    # Two antipodal points: K = [[0, -2], [-2, 0]], gamma / p = 1.
    assert res.l7_bound >= 1.0 * (1 - SEARCH_RTOL)


# --- PSD kernels: never refuted ------------------------------------------------------------
KERNELS = [
    Gaussian(lengthscale=0.5),
    Laplace(lengthscale=0.3),
    Matern32(lengthscale=0.4),
    Matern52(lengthscale=0.7),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.spec)
def test_kernels_are_psd_by_construction(kernel):
    res = check_psd(kernel, "box:-1,1")
    assert not res.refuted and res.psd_by_construction
    assert res.status == "psd by construction"
    assert res.points is None and res.n_points == 0 and res.n_configurations == 0
    assert res.l7_bound == 0.0 and math.isnan(res.eigenvalue)
    assert require_psd(kernel, "box:-1,1") == res


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.spec)
def test_kernel_search_finds_no_counterexample(kernel):
    res = check_psd(kernel, "box:-1,1", n_points=10, n_restarts=2, rng=6, search_kernels=True)
    assert not res.refuted and not res.psd_by_construction
    assert res.status == "no counterexample found"
    assert res.l7_bound == 0.0 and res.gamma == 0.0
    assert res.n_configurations > 0 and res.points is not None
    # A PSD Gram matrix: any negative float eigenvalue is round-off.
    assert res.eigenvalue >= -res.roundoff_tolerance


def test_gaussian_expression_searched_but_not_refuted():
    res = check_psd("expr:exp(-(x0-y0)**2)", "box:-1,1", n_points=12, n_restarts=2, rng=8)
    assert not res.refuted and not res.psd_by_construction
    assert res.eigenvalue >= -res.roundoff_tolerance


def test_certification_rejects_a_round_off_negative_eigenvalue():
    # Clustered points make the Gaussian Gram matrix numerically singular: numpy may
    # report a negative eigenvalue, but the exact matrix is positive definite, so the
    # ball-arithmetic Rayleigh quotient of any vector must not come out negative.
    rel = ExpressionRelation("exp(-(x0-y0)**2)")
    X = np.linspace(0.0, 0.05, 12)[:, None]
    lam, v = _smallest(rel(X))
    assert abs(lam) < 1e-12  # numerically singular
    cert = _certify(rel, X, v)
    assert not cert.refuted and cert.l7_bound == 0.0
    assert cert.enclosure is not None and cert.enclosure[1] >= 0.0


# --- require_psd ---------------------------------------------------------------------------
def test_require_psd_raises_with_the_witness_attached():
    with pytest.raises(NotPSDError, match=r"not positive semidefinite on 'box:-1\.0,1\.0'") as info:
        require_psd("expr:-Abs(x0-y0)", "box:-1,1", rng=0)
    err = info.value
    assert err.points is not None and err.points.shape == (2, 1)
    lo, hi = err.eigenvalue
    assert lo <= -2.0 <= hi
    message = str(err)
    assert "L7" in message and "certify_model with psi" in message and "<phi, phi>" in message
    assert "2 point(s)" in message and "1.000e+00" in message


def test_require_psd_passes_through_no_counterexample():
    res = require_psd("expr:exp(-(x0-y0)**2)", "box:-1,1", n_points=6, n_restarts=1, rng=0)
    assert res.status == "no counterexample found"


# --- bad input -------------------------------------------------------------------------------
def test_non_symmetric_relation_is_rejected():
    with pytest.raises(InvalidInputError, match=r"must be symmetric.*certify_model with a psi"):
        check_psd("expr:sin(x0 - 2*y0)", "box:-1,1")


def test_callable_without_symmetry_claim_gets_a_hint():
    rel = CallableRelation(lambda X, Y: X[:, 0] * Y[:, 0], x_dim=1, y_dim=1)
    with pytest.raises(InvalidInputError, match=r"symmetric=True"):
        check_psd(rel, "box:-1,1")


@pytest.mark.parametrize(
    ("relation", "domain", "options", "pattern"),
    [
        ("expr:-Abs(x0-y0)", "real:1", {}, r"`domain` must be compact"),
        ("expr:-Abs(x0-y0)", "box:-1,1;-1,1", {}, r"`domain` must have dimension 1"),
        ("expr:-Abs(x0-y0)", "box:-1,1", {"n_points": 1}, r"`n_points` must be an int >= 2"),
        ("expr:-Abs(x0-y0)", "box:-1,1", {"n_restarts": 0}, r"`n_restarts` must be an int >= 1"),
        ("expr:-Abs(x0-y0)", "box:-1,1", {"rng": "seed"}, r"`rng` must be"),
        ("gaussian", "box:-1,1", {"search_kernels": 1}, r"`search_kernels` must be a bool"),
    ],
)
def test_bad_input_is_rejected(relation, domain, options, pattern):
    with pytest.raises(InvalidInputError, match=pattern):
        check_psd(relation, domain, **options)
