"""Tests of certify.spectral.nystrom: certified Nystrom features, lemma L1', certified T(d).

Enclosures are tested by containment with no slack: the exact values F(x) = sum_j C_ji
r(x, x_j) (the stored float coefficients and nodes are exact dyadic rationals) are
evaluated in 160-bit mpmath at random points of random boxes and compared with the
float bounds exactly (mpf vs float comparisons are exact).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest

from certify.certificates.enclosure import Budget
from certify.errors import InvalidInputError
from certify.relations import Bilinear, CallableRelation, Gaussian, Laplace
from certify.spectral import MercerDecomposition, mercer
from certify.spectral.nystrom import (
    DEFAULT_DELTA,
    L1PrimeCheck,
    NystromFeatures,
    UniformTail,
    _gamma_up,
    _kernel_sums_numba,
    _kernel_sums_numpy,
    certified_uniform_tail,
    certify_l1_prime,
)

PREC = 160  # bits of the mpmath reference (float64 has 53)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def gauss1() -> MercerDecomposition:
    # 32 Gauss-Legendre nodes, 15 eigenpairs down to l_15 = 2.4e-12 (coefficients ~ 1e5)
    return mercer("gaussian:lengthscale=0.5", "box:-1,1")


@pytest.fixture(scope="module")
def gauss2() -> MercerDecomposition:
    return mercer("gaussian:lengthscale=0.5", "box:-1,1;-1,1", n=8, rank=20, rtol=1e-2)


@pytest.fixture(scope="module")
def laplace1() -> MercerDecomposition:
    return mercer("laplace:lengthscale=1", "box:-1,1", n=32, rank=8, rtol=1e-2)


@pytest.fixture(scope="module")
def laplace2() -> MercerDecomposition:
    return mercer("laplace:lengthscale=1", "box:-1,1;-1,1", n=8, rank=8, rtol=1e-1)


@pytest.fixture(scope="module")
def brownian() -> MercerDecomposition:
    return mercer("brownian", "box:0,1", rank=12, rtol=1e-4)


# ------------------------------------------------------------------------- mpmath reference


def _mp_kernel(relation: object, x: list, y: list) -> mpmath.mpf:
    if isinstance(relation, Gaussian):
        ell = mpmath.mpf(relation.lengthscale)
        s = mpmath.fsum((a - b) ** 2 for a, b in zip(x, y, strict=True))
        return mpmath.exp(-s / (2 * ell**2))
    if isinstance(relation, Laplace):
        ell = mpmath.mpf(relation.lengthscale)
        s = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(x, y, strict=True)))
        return mpmath.exp(-s / ell)
    # Brownian: prod_k min(x_k, y_k)
    out = mpmath.mpf(1)
    for a, b in zip(x, y, strict=True):
        out *= min(a, b)
    return out


def _mp_kernel_grad(relation: object, x: list, y: list) -> list:
    """d/dx r(x, y) at x != y (random points never hit a node)."""
    k = _mp_kernel(relation, x, y)
    if isinstance(relation, Gaussian):
        ell = mpmath.mpf(relation.lengthscale)
        return [-(a - b) / ell**2 * k for a, b in zip(x, y, strict=True)]
    assert isinstance(relation, Laplace)
    ell = mpmath.mpf(relation.lengthscale)
    dist = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(x, y, strict=True)))
    return [-(a - b) / (ell * dist) * k for a, b in zip(x, y, strict=True)]


def _mp_points(X: np.ndarray) -> list:
    return [[mpmath.mpf(float(v)) for v in row] for row in X]


def mp_features(F: NystromFeatures, X: np.ndarray, *, jacobian: bool = False) -> list:
    """Exact F(x) (and its Jacobian) at the rows of X, as mpf (160 bits)."""
    nodes = _mp_points(np.asarray(F.nodes))
    C = [[mpmath.mpf(float(c)) for c in row] for row in np.asarray(F.coefficients)]
    n, m = len(C), F.output_dim
    out = []
    with mpmath.workprec(PREC):
        for x in _mp_points(X):
            if not jacobian:
                rx = [_mp_kernel(F.relation, x, nodes[j]) for j in range(n)]
                out.append([mpmath.fsum(C[j][i] * rx[j] for j in range(n)) for i in range(m)])
            else:
                gx = [_mp_kernel_grad(F.relation, x, nodes[j]) for j in range(n)]
                out.append(
                    [
                        [mpmath.fsum(C[j][i] * gx[j][a] for j in range(n)) for a in range(len(x))]
                        for i in range(m)
                    ]
                )
    return out


def random_boxes(
    rng: np.random.Generator, lower: np.ndarray, upper: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """k boxes inside [lower, upper] with widths log-uniform in [1e-4, 0.5] of the domain;
    every fourth box is degenerate (a point)."""
    dim = lower.shape[0]
    span = upper - lower
    widths = span * 10.0 ** rng.uniform(-4, math.log10(0.5), size=(k, dim))
    lo = lower + rng.random((k, dim)) * (span - widths)
    hi = np.minimum(lo + widths, upper)
    hi[::4] = lo[::4]
    return lo, hi


def points_in(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, per_box: int) -> list:
    """Per box: its two extreme corners and random interior points."""
    out = []
    for b in range(lo.shape[0]):
        pts = lo[b] + rng.random((per_box, lo.shape[1])) * (hi[b] - lo[b])
        out.append(np.vstack([lo[b], hi[b], np.clip(pts, lo[b], hi[b])]))
    return out


CASES = ["gauss1", "gauss2", "laplace1", "laplace2"]


# ------------------------------------------------------------------------- enclosures


@pytest.mark.parametrize("case", CASES)
def test_enclose_contains_exact_features(case, request, rng):
    dec = request.getfixturevalue(case)
    F = NystromFeatures.from_mercer(dec, rank=min(8, dec.rank))
    lo, hi = random_boxes(rng, dec.domain.lower, dec.domain.upper, 12)
    pts = points_in(rng, lo, hi, 3)
    exact = [mp_features(F, P) for P in pts]
    for method in ("naive", "mean_value", "best"):
        F._memo.clear()
        out_lo, out_hi = F.enclose(lo, hi, method=method)
        assert out_lo.shape == (12, F.output_dim)
        assert np.all(np.isfinite(out_lo)) and np.all(np.isfinite(out_hi))
        for b, vals in enumerate(exact):
            for v in vals:
                for i in range(F.output_dim):
                    assert out_lo[b, i] <= v[i] <= out_hi[b, i], (method, b, i)


@pytest.mark.parametrize("case", CASES)
def test_point_enclosures_contain_and_are_tight(case, request, rng):
    dec = request.getfixturevalue(case)
    F = NystromFeatures.from_mercer(dec, rank=min(8, dec.rank))
    X = dec.domain.lower + rng.random((10, dec.dim)) * dec.domain.widths
    out_lo, out_hi = F.enclose(X, X)
    exact = mp_features(F, X)
    scale = np.abs(np.asarray(F.coefficients)).sum(axis=0)
    for b in range(10):
        for i in range(F.output_dim):
            assert out_lo[b, i] <= exact[b][i] <= out_hi[b, i]
    # width: libm widening (2^-48 relative) of r and n-term rounding, times sum_j |C_ji|
    # (r <= 1): at most ~ (2^-48 + 4 n 2^-53) sum_j |C_ji| with n <= 64 here
    assert np.all(out_hi - out_lo <= 1e-12 * scale)


@pytest.mark.parametrize("case", CASES)
def test_jacobian_contains_exact(case, request, rng):
    dec = request.getfixturevalue(case)
    F = NystromFeatures.from_mercer(dec, rank=min(6, dec.rank))
    lo, hi = random_boxes(rng, dec.domain.lower, dec.domain.upper, 10)
    J_lo, J_hi = F.enclose_jacobian(lo, hi)
    assert J_lo.shape == (10, F.output_dim, dec.dim)
    for b, P in enumerate(points_in(rng, lo, hi, 3)):
        for J in mp_features(F, P, jacobian=True):
            for i in range(F.output_dim):
                for a in range(dec.dim):
                    assert J_lo[b, i, a] <= J[i][a] <= J_hi[b, i, a], (b, i, a)


def test_mean_value_beats_naive_on_small_boxes(gauss1, rng):
    # F_i = sum_j C_ji r(x, x_j) with |C| up to ~1e5: the naive sum loses the cancellation
    # (width ~ w sum_j |C_ji| |r'|), the mean-value form keeps it to first order.
    F = NystromFeatures.from_mercer(gauss1, rank=10)
    lo = rng.uniform(-1.0, 0.99, (50, 1))
    hi = lo + 1e-3
    n_lo, n_hi = F.enclose(lo, hi, method="naive")
    m_lo, m_hi = F.enclose(lo, hi, method="mean_value")
    b_lo, b_hi = F.enclose(lo, hi, method="best")
    assert np.median((m_hi - m_lo) / (n_hi - n_lo)) < 0.5
    assert np.all(b_lo >= np.maximum(n_lo, m_lo)) and np.all(b_hi <= np.minimum(n_hi, m_hi))


def test_memo_returns_copies_and_matches_fresh(gauss2, rng):
    F = NystromFeatures.from_mercer(gauss2, rank=6)
    lo, hi = random_boxes(rng, gauss2.domain.lower, gauss2.domain.upper, 8)
    a_lo, _ = F.enclose(lo, hi)
    a_lo[:] = np.nan  # a caller that scribbles on the result must not poison the memo
    b_lo, b_hi = F.enclose(lo, hi)
    assert not np.any(np.isnan(b_lo))
    G = NystromFeatures(F.relation, F.nodes, F.coefficients)  # fresh, no memo
    c_lo, c_hi = G.enclose(lo, hi)
    np.testing.assert_array_equal(b_lo, c_lo)
    np.testing.assert_array_equal(b_hi, c_hi)
    J1 = F.enclose_jacobian(lo, hi)
    J2 = G.enclose_jacobian(lo, hi)
    np.testing.assert_array_equal(J1[0], J2[0])


def test_forward_inside_enclosure_and_matches_mercer(gauss2, rng):
    F = NystromFeatures.from_mercer(gauss2, rank=7, shrink=1.0)
    X = rng.uniform(-1, 1, (40, 2))
    # shrink=1: the same numbers as the decomposition's own features (same code path: gram @ C)
    np.testing.assert_allclose(F.forward(X), gauss2.features(X, rank=7), rtol=0, atol=1e-13)
    lo, hi = F.enclose(X, X)
    assert np.all((lo <= F(X)) & (F(X) <= hi))


def test_kernel_sum_twins_agree_and_contain(rng):
    # Both twins bound sum_j C_j [v_lo, v_hi]; check them on intervals with exact sums.
    k, n, m = 7, 50, 4
    mid = rng.standard_normal((k * n, 1))
    rad = rng.random((k * n, 1)) * 1e-3
    v_lo, v_hi = mid - rad, mid + rad
    v_hi[3 * n + 5, 0] = np.inf  # an unknown value: box 3 must be [-inf, inf]
    C = rng.standard_normal((n, m))
    gamma = _gamma_up(2 * n)
    outs = []
    for fn in (_kernel_sums_numba, _kernel_sums_numpy):
        lo = np.empty((k, m))
        hi = np.empty((k, m))
        fn(v_lo, v_hi, 0, C, np.abs(C), gamma, lo, hi)
        outs.append((lo, hi))
        assert np.all(lo[3] == -np.inf) and np.all(hi[3] == np.inf)
        with mpmath.workprec(PREC):
            for b in (0, 1, 6):
                for i in range(m):
                    for pick in (v_lo, v_hi):  # the two extreme vertices per column sign
                        s = mpmath.fsum(
                            mpmath.mpf(float(C[j, i])) * mpmath.mpf(float(pick[b * n + j, 0]))
                            for j in range(n)
                        )
                        assert lo[b, i] <= s <= hi[b, i]
    ok = np.isfinite(outs[0][0])
    np.testing.assert_allclose(outs[0][0][ok], outs[1][0][ok], rtol=0, atol=1e-12)


def test_rank_zero_features(gauss1):
    F = NystromFeatures.from_mercer(gauss1, rank=0)
    assert F.output_dim == 0
    lo, hi = F.enclose([[0.0]], [[0.5]])
    assert lo.shape == hi.shape == (1, 0)
    check = certify_l1_prime(F)
    assert check.holds and check.lambda_max_upper == 0.0


# ------------------------------------------------------------------------------ lemma L1'


@pytest.mark.parametrize(
    ("case", "rank"),
    [("gauss1", 1), ("gauss1", 8), ("gauss1", 15), ("gauss2", 20), ("laplace1", 8),
     ("laplace2", 8), ("brownian", 12)],
)  # fmt: skip
def test_l1_prime_holds_with_default_shrink(case, rank, request):
    dec = request.getfixturevalue(case)
    F = NystromFeatures.from_mercer(dec, rank=rank)
    assert F.delta >= DEFAULT_DELTA
    # the price of the shrink: 2 delta of the diagonal; small wherever eigh was accurate
    assert F.delta < 1e-6
    check = certify_l1_prime(F)
    assert isinstance(check, L1PrimeCheck)
    assert check.holds and not check.refuted and check.psd_by_construction
    assert check.lambda_max_lower <= check.lambda_max_upper <= 1.0
    assert abs(check.lambda_max_estimate - check.lambda_max_upper) < 1e-12  # a float estimate
    # G = s^2 (I + round-off): lambda_max is 1 - 2 delta to first order
    assert check.lambda_max_upper - check.lambda_max_lower < 1e-12
    assert check.margin > 0.0
    assert "arb" in check.method


@pytest.mark.parametrize("case", ["gauss1", "gauss2", "laplace1", "brownian"])
def test_l1_prime_fails_when_scaled_up(case, request):
    # C -> 1.01 C multiplies G by 1.0201: lambda_max(G) ~ 1.02 > 1, so r - <F, F> is
    # certainly not PSD. A test that can fail: it would pass with a vacuous "holds".
    dec = request.getfixturevalue(case)
    F = NystromFeatures.from_mercer(dec, rank=min(8, dec.rank))
    bad = NystromFeatures(F.relation, F.nodes, np.asarray(F.coefficients) * 1.01)
    check = certify_l1_prime(bad)
    assert not check.holds
    assert check.refuted
    assert check.lambda_max_lower > 1.0
    assert 1.0199 < check.lambda_max_lower <= check.lambda_max_upper < 1.0202
    assert "not proven" in check.details["reason"]


def test_l1_prime_needs_a_kernel():
    # A symmetric expression is not known to be PSD, even when it happens to be one.
    dec = mercer("expr:exp(-(x0-y0)**2)", "box:-1,1", rank=4)
    F = NystromFeatures.from_mercer(dec, rank=4)
    check = certify_l1_prime(F)
    assert not check.psd_by_construction and not check.holds
    assert check.lambda_max_upper <= 1.0  # the matrix part is fine
    assert "not known to be PSD" in check.details["reason"]
    tail = certified_uniform_tail(dec, 3, eps=10.0)
    assert tail.sup_error_bound is None and not tail.bounds_sup_error
    assert tail.verdict == "UNKNOWN"  # never HOLDS without L1'
    assert "NOT proven" in tail.method


def test_auto_shrink_tracks_the_excess(gauss1):
    # At d = 15 eigh's round-off divided by l_15 = 2.4e-12 gives lambda_max(G) - 1 ~ 1e-8,
    # far above the default delta: auto must shrink more, and the result must certify.
    F = NystromFeatures.from_mercer(gauss1, rank=15)
    assert F.delta > 2 * DEFAULT_DELTA
    assert "auto" in F.note
    assert certify_l1_prime(F).holds
    F6 = NystromFeatures.from_mercer(gauss1, rank=6)
    assert F6.delta == pytest.approx(DEFAULT_DELTA, rel=1e-6)


def test_given_shrink_is_applied_exactly(gauss1):
    F = NystromFeatures.from_mercer(gauss1, rank=5, shrink=0.5)
    np.testing.assert_array_equal(F.coefficients, 0.5 * gauss1.coefficients[:, :5])
    assert F.shrink == 0.5 and "given" in F.note


# ----------------------------------------------------------------------- certified tails


def _mp_diag_residuals(F: NystromFeatures, X: np.ndarray) -> list:
    vals = mp_features(F, X)
    out = []
    with mpmath.workprec(PREC):
        for x, v in zip(_mp_points(X), vals, strict=True):
            out.append(_mp_kernel(F.relation, x, x) - mpmath.fsum(t * t for t in v))
    return out


@pytest.mark.parametrize("d", [2, 5])
def test_brownian_tail_against_dense_mpmath_sample(brownian, d):
    tail = certified_uniform_tail(brownian, d)
    assert isinstance(tail, UniformTail)
    assert tail.l1_prime.holds and tail.sup_error_bound == tail.value
    X = np.linspace(0.0, 1.0, 801)[:, None]  # includes x = 1, where T(d) peaks
    res = _mp_diag_residuals(tail.features, X)
    sample_max = max(res)
    assert all(tail.value >= v for v in res)  # the certified bound is >= every sample
    assert tail.lower <= sample_max * (1 + 1e-9)  # the rigorous point value is a real value
    # the engine stops at upper <= (1 + rel_gap) lower, and lower <= sup; the dense sample
    # includes the maximiser x = 1, so the bound is within the rel_gap of the sample max
    assert tail.value <= (1.0 + 0.05) * float(sample_max)
    # closed form of the exact Mercer truncation, 2 sum_{k>d} lambda_k (at x = 1): the
    # Nystrom F_d is a different rank-d map, but on 128 Gauss nodes it is close
    exact = 2.0 * sum(1.0 / ((k - 0.5) ** 2 * math.pi**2) for k in range(d + 1, 200_000))
    assert abs(tail.value / exact - 1.0) < 0.1


def test_gaussian_tail_decreases_and_reaches_1e3(gauss1):
    values = []
    for d in range(1, 10):
        tail = certified_uniform_tail(gauss1, d)
        assert tail.l1_prime.holds and tail.enclosure.stop_reason == "rel_gap"
        assert 0.0 < tail.lower <= tail.value <= 1.05 * tail.lower
        values.append(tail.value)
    assert all(b < a for a, b in itertools.pairwise(values))
    first = next(d for d, v in enumerate(values, start=1) if v < 1e-3)
    assert first == 7  # T(7) = 5.9e-4 (T(6) = 3.5e-3)


def _mp_sup_residual(F: NystromFeatures, X: np.ndarray) -> mpmath.mpf:
    vals = mp_features(F, X)
    pts = _mp_points(X)
    best = mpmath.mpf(0)
    with mpmath.workprec(PREC):
        for a in range(len(pts)):
            for b in range(a, len(pts)):
                e = _mp_kernel(F.relation, pts[a], pts[b]) - mpmath.fsum(
                    s * t for s, t in zip(vals[a], vals[b], strict=True)
                )
                best = max(best, abs(e))
    return best


@pytest.mark.parametrize(("case", "d", "n_points"), [("gauss1", 4, 90), ("laplace1", 3, 70),
                                                     ("gauss2", 6, 45)])  # fmt: skip
def test_l1_claim_on_a_dense_product_sample(case, d, n_points, request, rng):
    # Lemma L1 (via L1'): sup_{x,y} |r - <F_d, F_d>| <= T(d). Checked at every pair of a
    # dense sample in mpmath; a wrong PSD claim would show up off the diagonal.
    dec = request.getfixturevalue(case)
    tail = certified_uniform_tail(dec, d)
    assert tail.bounds_sup_error
    box = dec.domain
    X = box.lower + rng.random((n_points, dec.dim)) * box.widths
    X = np.vstack([X, box.lower, box.upper])
    sup = _mp_sup_residual(tail.features, X)
    assert sup <= tail.sup_error_bound
    assert sup >= 0.3 * tail.value  # and the sample sees most of it (not a vacuous bound)


def test_verdicts(gauss1):
    tail = certified_uniform_tail(gauss1, 5, eps=0.1)
    assert tail.verdict == "HOLDS" and tail.eps == 0.1
    tail = certified_uniform_tail(gauss1, 5, eps=1e-3)
    assert tail.verdict == "VIOLATED"
    assert tail.lower > 1e-3
    assert certified_uniform_tail(gauss1, 5).verdict is None


def test_budget_exhaustion_keeps_a_valid_bound(gauss1):
    tail = certified_uniform_tail(gauss1, 8, budget=Budget(boxes=20))
    assert tail.enclosure.stop_reason == "budget-boxes"
    full = certified_uniform_tail(gauss1, 8)
    assert tail.value >= full.lower  # still an upper bound, just looser
    assert tail.gap > full.gap


def test_rank_zero_tail_is_the_diagonal(gauss1):
    tail = certified_uniform_tail(gauss1, 0)
    assert tail.lower <= 1.0 <= tail.value <= 1.0 + 1e-12  # r(x, x) = 1


# --------------------------------------------------------------------------------- errors


def test_errors(gauss1, gauss2):
    F = NystromFeatures.from_mercer(gauss1, rank=3)
    with pytest.raises(InvalidInputError, match="`method` must be one of"):
        F.enclose([[0.0]], [[0.1]], method="taylor")
    with pytest.raises(InvalidInputError, match="`lo` must be <= `hi`"):
        F.enclose([[0.2]], [[0.1]])
    with pytest.raises(InvalidInputError, match="dimension 1"):
        F.enclose([[0.0, 0.0]], [[0.1, 0.1]])
    with pytest.raises(InvalidInputError, match="same shape"):
        F.enclose([[0.0], [0.1]], [[0.1]])
    with pytest.raises(InvalidInputError, match="finite"):
        F.forward([[np.nan]])
    with pytest.raises(InvalidInputError, match=r"`rank` must be an int in \[0, 15\]"):
        NystromFeatures.from_mercer(gauss1, rank=16)
    with pytest.raises(InvalidInputError, match=r"`shrink` must lie in \(0, 1\]"):
        NystromFeatures.from_mercer(gauss1, rank=3, shrink=1.5)
    with pytest.raises(InvalidInputError, match="`shrink` must be 'auto'"):
        NystromFeatures.from_mercer(gauss1, rank=3, shrink="tiny")
    with pytest.raises(InvalidInputError, match="MercerDecomposition"):
        NystromFeatures.from_mercer("gaussian", rank=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be symmetric"):
        NystromFeatures(
            Bilinear([[1.0, 2.0], [0.0, 1.0]]),
            np.zeros((3, 2)),
            np.zeros((3, 1)),
        )
    with pytest.raises(InvalidInputError, match=r"shape \(n_nodes, m\)"):
        NystromFeatures(F.relation, F.nodes, np.zeros((4, 2)))
    with pytest.raises(InvalidInputError, match="finite"):
        NystromFeatures(F.relation, F.nodes, np.full(F.coefficients.shape, np.inf))
    with pytest.raises(InvalidInputError, match="NystromFeatures"):
        certify_l1_prime(gauss1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"`d` must be an int in \[0, 20\]"):
        certified_uniform_tail(gauss2, 21)
    with pytest.raises(InvalidInputError, match="MercerDecomposition"):
        certified_uniform_tail(F, 1)  # type: ignore[arg-type]


def test_constructor_errors(gauss1):
    F = NystromFeatures.from_mercer(gauss1, rank=2)
    black_box = CallableRelation(
        lambda X, Y: np.exp(-((X[:, 0] - Y[:, 0]) ** 2)), x_dim=1, y_dim=1, symmetric=True
    )
    with pytest.raises(InvalidInputError, match="cannot be used for certified Nystrom features"):
        NystromFeatures(black_box, F.nodes, F.coefficients)
    with pytest.raises(InvalidInputError, match="`relation` must be a certify Relation"):
        NystromFeatures("gaussian", F.nodes, F.coefficients)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"`shrink` must lie in \(0, 1\]"):
        NystromFeatures(F.relation, F.nodes, F.coefficients, shrink=0.0)
    with pytest.raises(InvalidInputError, match="`note` must be a string"):
        NystromFeatures(F.relation, F.nodes, F.coefficients, note=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="`nodes` must contain only finite"):
        NystromFeatures(F.relation, np.full((32, 1), np.nan), F.coefficients)


def test_tail_needs_a_box():
    dec = mercer("gaussian:lengthscale=0.5", "finite:0;0.5;1")
    with pytest.raises(InvalidInputError, match="needs a box domain.*finite"):
        certified_uniform_tail(dec, 1)
    dec = mercer("gaussian:lengthscale=1", "real:1", measure="gaussian:std=1", rank=3)
    with pytest.raises(InvalidInputError, match="needs a box domain"):
        certified_uniform_tail(dec, 1)


def test_brownian_points_must_be_nonnegative(brownian):
    F = NystromFeatures.from_mercer(brownian, rank=2)
    with pytest.raises(InvalidInputError, match="lo"):
        F.enclose([[-0.1]], [[0.1]])


def test_smallest_certified_rank_is_minimal():
    """The rank search skips ranks whose sample already exceeds the target (a lower bound of
    T(d)), shares one ball Gram matrix, and returns the first rank that certifies: the rank
    below it does not certify."""
    from certify.spectral import certified_uniform_tail, smallest_certified_rank

    dec = mercer("gaussian:lengthscale=0.5", "box:-1,1;-1,1", measure="chebyshev", rank=45)
    d, tail = smallest_certified_rank(dec, 1e-3)
    assert tail.rank == d and tail.sup_error_bound is not None and tail.sup_error_bound <= 1e-3
    below = certified_uniform_tail(dec, d - 1, eps=1e-3)
    assert below.verdict == "VIOLATED"
