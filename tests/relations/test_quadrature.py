"""Tests of certify.relations.quadrature: exactness degrees, Sobol rules, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.special import iv

from certify.errors import InvalidInputError
from certify.relations.domains import Box, FiniteSet, RealSpace, Sphere
from certify.relations.measures import Chebyshev, Empirical, Gaussian, Uniform
from certify.relations.quadrature import (
    DEFAULT_SOBOL_POINTS,
    MAX_NODES,
    QuadratureRule,
    default_nodes_per_axis,
    quadrature,
)

EPS = np.finfo(np.float64).eps


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240527)


# --------------------------------------------------------------------------- closed-form moments
# Written from the definitions, independently of the code under test.


def uniform_moment(a: float, b: float, p: int) -> float:
    """E[x^p] for x uniform on [a, b]."""
    return (b ** (p + 1) - a ** (p + 1)) / ((p + 1) * (b - a))


def double_factorial(m: int) -> int:
    return math.prod(range(m, 0, -2)) if m > 0 else 1


def gaussian_moment(std: float, p: int) -> float:
    """E[x^p] for x ~ N(0, std^2): 0 for odd p, std^p (p-1)!! for even p."""
    return 0.0 if p % 2 else std**p * double_factorial(p - 1)


def chebyshev_moment(a: float, b: float, p: int) -> float:
    """E[x^p] for the arcsine law on [a, b]: x = c + h t with E[t^j] = binom(j, j/2) / 2^j."""
    c, h = 0.5 * (a + b), 0.5 * (b - a)
    return sum(
        math.comb(p, j) * c ** (p - j) * h**j * math.comb(j, j // 2) / 2**j
        for j in range(0, p + 1, 2)
    )


def sphere_moment(exponents: tuple[int, ...]) -> float:
    """E[prod x_i^a_i] under the normalised surface measure of S^(dim-1)."""
    if any(a % 2 for a in exponents):
        return 0.0
    dim = len(exponents)
    area = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)
    halves = [(a + 1) / 2 for a in exponents]
    return 2 * math.prod(math.gamma(h) for h in halves) / math.gamma(sum(halves)) / area


def apply(rule: QuadratureRule, exponents: tuple[int, ...]) -> float:
    """Quadrature of the monomial x^a."""
    values = np.prod(rule.nodes ** np.array(exponents, dtype=float), axis=1)
    return float(rule.weights @ values)


def node_scale(rule: QuadratureRule, domain) -> np.ndarray:
    """Per-coordinate size rho_j of the domain, the scale of the nodes' absolute round-off."""
    if isinstance(domain, Box):
        return np.maximum(np.abs(domain.lower), np.abs(domain.upper))
    if isinstance(domain, Sphere):
        return np.ones(domain.dim)
    return np.abs(rule.nodes).max(axis=0)  # RealSpace: the largest Gauss-Hermite node


def tolerance(rule: QuadratureRule, domain, exponents: tuple[int, ...]) -> float:
    # Summing n positive terms w_i |x_i^a| errs by <= n eps sum_i w_i |x_i^a| (plus dim
    # eps for the product weights). A node coordinate carries an ABSOLUTE error
    # eps rho_j (rho_j the size of the domain along j: cos(pi/2) comes out 6e-17,
    # not 0), which moves x^a by <= a_j eps rho_j |x_j|^(a_j - 1) prod_(l != j) |x_l|^a_l.
    # Factor 16 is headroom; a rule that is not exact errs by O(1e-5) relative or more.
    a = np.array(exponents)
    X = np.abs(rule.nodes)
    rho = node_scale(rule, domain)
    total = (rule.n_points + rule.dim) * float(rule.weights @ np.prod(X**a, axis=1))
    for j in np.flatnonzero(a):
        lowered = a.copy()
        lowered[j] -= 1
        total += a[j] * rho[j] * float(rule.weights @ np.prod(X**lowered, axis=1))
    return 16.0 * EPS * total


# --------------------------------------------------------------------------- tensor Gauss rules

BOX_1D = Box([-0.5], [2.0])
BOX_2D = Box([-1.0, 0.0], [1.0, 3.0])
TENSOR_CASES = [
    pytest.param(BOX_1D, Uniform(), "gauss-legendre", id="legendre-1d"),
    pytest.param(BOX_2D, Uniform(), "gauss-legendre", id="legendre-2d"),
    pytest.param(RealSpace(1), Gaussian(0.7), "gauss-hermite", id="hermite-1d"),
    pytest.param(RealSpace(2), Gaussian([0.5, 2.0]), "gauss-hermite", id="hermite-2d"),
    pytest.param(Box([-1.0], [1.0]), Chebyshev(), "gauss-chebyshev", id="chebyshev-1d"),
    pytest.param(BOX_2D, Chebyshev(), "gauss-chebyshev", id="chebyshev-2d"),
]


def tensor_moment(domain, measure, exponents: tuple[int, ...]) -> float:
    if isinstance(measure, Gaussian):
        stds = np.broadcast_to(np.asarray(measure.std, dtype=float), (domain.dim,))
        return math.prod(gaussian_moment(float(s), p) for s, p in zip(stds, exponents, strict=True))
    moment = uniform_moment if isinstance(measure, Uniform) else chebyshev_moment
    return math.prod(
        moment(float(a), float(b), p)
        for a, b, p in zip(domain.lower, domain.upper, exponents, strict=True)
    )


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
@pytest.mark.parametrize(("domain", "measure", "kind"), TENSOR_CASES)
def test_tensor_gauss_exact_up_to_degree(domain, measure, kind, k):
    rule = quadrature(domain, measure, n=k, rule="gauss")
    assert rule.kind == kind
    assert rule.degree == 2 * k - 1
    assert rule.n_points == k**domain.dim == rule.nodes.shape[0]
    # Each exponent up to the degree, independently per coordinate.
    for exponents in itertools.product(range(rule.degree + 1), repeat=domain.dim):
        exact = tensor_moment(domain, measure, exponents)
        approx = apply(rule, exponents)
        tol = tolerance(rule, domain, exponents)
        assert abs(approx - exact) <= tol, f"{exponents}: {approx!r} vs {exact!r} (tol {tol:.1e})"


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
@pytest.mark.parametrize(("domain", "measure", "kind"), TENSOR_CASES)
def test_tensor_gauss_not_exact_one_degree_above(domain, measure, kind, k):
    rule = quadrature(domain, measure, n=k, rule="gauss")
    # x_1^(2k) minus its interpolant at the k nodes is prod (x - x_i)^2 >= 0, not
    # identically 0, so the rule underestimates its integral strictly.
    exponents = (2 * k,) + (0,) * (domain.dim - 1)
    exact = tensor_moment(domain, measure, exponents)
    approx = apply(rule, exponents)
    assert abs(approx - exact) > 1e3 * tolerance(rule, domain, exponents)


def test_tensor_nodes_lie_in_domain_and_weights_sum_to_one():
    for domain, measure in [(BOX_2D, Uniform()), (BOX_2D, Chebyshev())]:
        rule = quadrature(domain, measure, rule="gauss")
        assert bool(np.all(domain.contains(rule.nodes)))
        # Sum of n positive products of dim rounded factors: error <= (n + dim) eps.
        assert abs(rule.weights.sum() - 1.0) <= (rule.n_points + rule.dim) * EPS
        assert bool(np.all(rule.weights > 0.0))


def test_default_n_per_rule():
    assert quadrature(BOX_1D, Uniform()).n_points == 32
    assert quadrature(BOX_2D, Uniform()).n_points == 24**2
    assert quadrature(RealSpace(2), Gaussian(1.0)).degree == 2 * 24 - 1
    assert quadrature(Box.cube(0.0, 1.0, 3), Uniform(), rule="gauss").n_points == 16**3
    assert quadrature(Sphere(2), Uniform()).n_points == 2 * 32
    assert quadrature(Sphere(3), Uniform()).n_points == 24 * 48
    assert quadrature(Box.cube(0.0, 1.0, 3), Uniform(), rng=0).n_points == DEFAULT_SOBOL_POINTS
    assert [default_nodes_per_axis(a) for a in range(1, 9)] == [32, 24, 16, 8, 5, 4, 3, 2]


def test_auto_rule_choice():
    assert quadrature(BOX_2D, Uniform()).kind == "gauss-legendre"
    assert quadrature(Box.cube(0.0, 1.0, 3), Uniform(), n=8, rng=0).kind == "sobol"
    assert quadrature(Sphere(3), Uniform(), n=4).kind == "gauss-sphere"
    assert quadrature(Sphere(4), Uniform(), n=4, rng=0).kind == "sobol"
    assert quadrature(FiniteSet([[0.0], [1.0]]), Uniform()).kind == "exact"


# --------------------------------------------------------------------------- sphere product rule


def monomials_up_to(dim: int, degree: int):
    for exponents in itertools.product(range(degree + 1), repeat=dim):
        if sum(exponents) <= degree:
            yield exponents


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("dim", [2, 3, 4])
def test_sphere_rule_exact_up_to_total_degree(dim, k):
    domain = Sphere(dim)
    rule = quadrature(domain, Uniform(), n=k, rule="gauss")
    assert rule.kind == "gauss-sphere"
    assert rule.degree == 2 * k - 1
    assert rule.n_points == 2 * k * k ** (dim - 2)
    assert bool(np.all(domain.contains(rule.nodes)))
    for exponents in monomials_up_to(dim, rule.degree):
        exact = sphere_moment(exponents)
        approx = apply(rule, exponents)
        tol = tolerance(rule, domain, exponents)
        assert abs(approx - exact) <= tol, f"{exponents}: {approx!r} vs {exact!r} (tol {tol:.1e})"


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("dim", [2, 3, 4])
def test_sphere_rule_not_exact_one_degree_above(dim, k):
    domain = Sphere(dim)
    rule = quadrature(domain, Uniform(), n=k, rule="gauss")
    exponents = (2 * k,) + (0,) * (dim - 1)
    exact = sphere_moment(exponents)
    approx = apply(rule, exponents)
    assert abs(approx - exact) > 1e3 * tolerance(rule, domain, exponents)


# --------------------------------------------------------------------------- exact rules


def test_exact_rule_for_empirical_measure():
    pts = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    measure = Empirical(pts, weights=[1.0, 2.0, 1.0])
    rule = quadrature(Box([-5.0, -5.0], [5.0, 5.0]), measure, n=7)  # n is ignored
    assert rule.kind == "exact" and rule.degree is None and rule.is_exact
    np.testing.assert_array_equal(rule.nodes, pts)
    np.testing.assert_array_equal(rule.weights, [0.25, 0.5, 0.25])
    assert rule.n_points == 3


def test_exact_rule_for_uniform_on_finite_set():
    domain = FiniteSet([[0.0], [0.5], [1.0], [3.0]])
    rule = quadrature(domain, Uniform(), rule="exact")
    np.testing.assert_array_equal(rule.nodes, domain.points)
    np.testing.assert_array_equal(rule.weights, np.full(4, 0.25))
    # Any function: the rule is the measure. Four equal terms: error <= 4 eps |f|.
    f = np.sin(rule.nodes[:, 0]) * 1e3
    expected = float(np.mean(np.sin(domain.points[:, 0]) * 1e3))
    assert abs(rule.weights @ f - expected) <= 4 * EPS * 1e3


# --------------------------------------------------------------------------- sobol


SOBOL_CASES = [
    pytest.param(Box([-1.0, 0.0, 2.0], [1.0, 0.5, 5.0]), Uniform(), id="box"),
    pytest.param(Box.cube(-2.0, 1.0, 3), Chebyshev(), id="chebyshev"),
    pytest.param(RealSpace(3), Gaussian([0.5, 1.0, 1.5]), id="gaussian"),
    pytest.param(Sphere(5), Uniform(), id="sphere"),
]


@pytest.mark.parametrize(("domain", "measure"), SOBOL_CASES)
@pytest.mark.parametrize(("n", "n_points"), [(1, 1), (100, 128), (128, 128), (129, 256)])
def test_sobol_rule_shape_weights_and_domain(domain, measure, n, n_points, rng):
    rule = quadrature(domain, measure, n=n, rule="sobol", rng=rng)
    assert rule.kind == "sobol" and rule.degree == 0
    assert rule.n_points == n_points == rule.nodes.shape[0]
    assert rule.nodes.shape[1] == domain.dim
    assert bool(np.all(np.isfinite(rule.nodes)))
    assert bool(np.all(domain.contains(rule.nodes)))
    assert bool(np.all(rule.weights == rule.weights[0]))
    # Each weight is 2**-m and every partial sum a multiple of it below 1: exact.
    assert rule.weights.sum() == 1.0
    # A constant: n_points equal terms, error <= n_points eps |c|.
    c = -3.7
    assert abs(rule.weights @ np.full(rule.n_points, c) - c) <= rule.n_points * EPS * abs(c)


def test_sobol_is_reproducible_from_seed():
    a = quadrature(Sphere(4), Uniform(), n=64, rule="sobol", rng=5)
    b = quadrature(Sphere(4), Uniform(), n=64, rule="sobol", rng=5)
    c = quadrature(Sphere(4), Uniform(), n=64, rule="sobol", rng=6)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    assert not np.array_equal(a.nodes, c.nodes)


# Going from 2^6 to 2^12 points (64x), Monte Carlo gains sqrt(64) = 8 in RMS error;
# an RMS over 8 seeds fluctuates by ~1/sqrt(16) = 25%, so an MC-rate rule shows a
# ratio below 8 * 1.25 / 0.75 ~ 13. QMC gains more:
# - bounded smooth integrand on the cube (box, Chebyshev): scrambled nets give
#   ~n^-3/2, a gain ~512; we require 64 (the plain n^-1 rate);
# - inverse-normal maps (Gaussian, sphere) make the integrand unbounded on the
#   cube, leaving ~n^-1 up to logs; we require 16 (twice the MC gain, above 13).
SMOOTH_CASES = [
    # (domain, measure, integrand, exact mean, required gain)
    pytest.param(
        Box.cube(-1.0, 1.0, 3),
        Uniform(),
        lambda X: np.exp(X.sum(axis=1)),
        math.sinh(1.0) ** 3,  # E[e^x] = sinh(1) per axis
        64.0,
        id="box",
    ),
    pytest.param(
        Box.cube(-1.0, 1.0, 3),
        Chebyshev(),
        lambda X: np.exp(X.sum(axis=1)),
        float(iv(0, 1.0)) ** 3,  # E[e^x] = (1/pi) int_0^pi e^cos(t) dt = I_0(1)
        64.0,
        id="chebyshev",
    ),
    pytest.param(
        RealSpace(3),
        Gaussian([0.5, 1.0, 1.5]),
        lambda X: np.exp(0.5 * X.sum(axis=1)),
        math.exp(0.5**2 * (0.25 + 1.0 + 2.25) / 2),  # moment generating function
        16.0,
        id="gaussian",
    ),
    pytest.param(
        Sphere(4),
        Uniform(),
        lambda X: np.exp(X[:, 0]),
        2.0 * float(iv(1, 1.0)),  # Gamma(d/2) (2/kappa)^(d/2-1) I_(d/2-1)(kappa), d=4
        16.0,
        id="sphere",
    ),
]


@pytest.mark.parametrize(("domain", "measure", "f", "exact", "gain"), SMOOTH_CASES)
def test_sobol_mean_converges(domain, measure, f, exact, gain):
    def rms_error(m: int) -> float:
        errs = []
        for seed in range(8):
            rule = quadrature(domain, measure, n=2**m, rule="sobol", rng=seed)
            errs.append(rule.weights @ f(rule.nodes) - exact)
        return float(np.sqrt(np.mean(np.square(errs))))

    coarse, fine = rms_error(6), rms_error(12)
    assert fine * gain <= coarse, f"rms error {coarse:.2e} at 2^6 vs {fine:.2e} at 2^12"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("rule", ["simpson", "Gauss", "", 3])
def test_unknown_rule_lists_valid_ones(rule):
    with pytest.raises(InvalidInputError, match="`rule` must be one of 'auto', 'gauss', 'sobol'"):
        quadrature(BOX_1D, Uniform(), rule=rule)


@pytest.mark.parametrize("n", [0, -3, 2.5, "8", True, float("nan")])
def test_bad_n(n):
    with pytest.raises(InvalidInputError, match="`n` must be an int >= 1"):
        quadrature(BOX_1D, Uniform(), n=n)


def test_measure_incompatible_with_domain():
    with pytest.raises(InvalidInputError, match="only defined on the whole space"):
        quadrature(BOX_2D, Gaussian(1.0))
    with pytest.raises(InvalidInputError, match="no uniform probability measure on R"):
        quadrature(RealSpace(2), Uniform())
    with pytest.raises(InvalidInputError, match="only defined on a box"):
        quadrature(Sphere(3), Chebyshev())
    with pytest.raises(InvalidInputError, match="3 standard deviations but the domain"):
        quadrature(RealSpace(2), Gaussian([1.0, 2.0, 3.0]))
    with pytest.raises(InvalidInputError, match="does not live on"):
        quadrature(Box([0.0], [1.0]), Empirical([[0.5], [2.0]]))


def test_bad_domain_measure_or_rng():
    with pytest.raises(InvalidInputError, match="`domain` must be a certify Domain"):
        quadrature(3, Uniform())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="`measure` must be a certify Measure"):
        quadrature(BOX_1D, 0.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="`rng` must be"):
        quadrature(BOX_1D, Uniform(), rule="sobol", rng="seed")  # type: ignore[arg-type]


def test_tensor_size_guard_suggests_sobol():
    with pytest.raises(InvalidInputError, match=r"10000000.*rule='sobol'"):
        quadrature(Box.cube(0.0, 1.0, 8), Uniform(), n=10, rule="gauss")
    with pytest.raises(InvalidInputError, match="rule='sobol'"):
        quadrature(RealSpace(5), Gaussian(1.0), n=100, rule="gauss")
    with pytest.raises(InvalidInputError, match="gauss-sphere.*rule='sobol'"):
        quadrature(Sphere(8), Uniform(), n=20, rule="gauss")


def test_sobol_size_guard():
    assert MAX_NODES == 10**7
    with pytest.raises(InvalidInputError, match=r"rounded up to 2\*\*24"):
        quadrature(BOX_1D, Uniform(), n=2**23 + 1, rule="sobol", rng=0)


def test_rule_measure_mismatch():
    with pytest.raises(InvalidInputError, match="discrete measure 'uniform'.*rule='exact'"):
        quadrature(FiniteSet([[0.0], [1.0]]), Uniform(), rule="gauss")
    with pytest.raises(InvalidInputError, match="discrete measure 'empirical'"):
        quadrature(BOX_1D, Empirical([[0.0]]), rule="sobol")
    with pytest.raises(InvalidInputError, match="rule 'exact' needs a discrete measure"):
        quadrature(BOX_1D, Uniform(), rule="exact")


def test_quadrature_rule_validation():
    nodes = np.array([[0.0], [1.0]])
    with pytest.raises(InvalidInputError, match="shape"):
        QuadratureRule(nodes, np.array([1.0]), "exact", None, 2)
    with pytest.raises(InvalidInputError, match="`n_points` must equal"):
        QuadratureRule(nodes, np.array([0.5, 0.5]), "exact", None, 3)
    with pytest.raises(InvalidInputError, match="finite"):
        QuadratureRule(nodes, np.array([np.nan, 0.5]), "exact", None, 2)
    with pytest.raises(InvalidInputError, match=">= 0"):
        QuadratureRule(nodes, np.array([1.5, -0.5]), "exact", None, 2)
    with pytest.raises(InvalidInputError, match="must sum to 1"):
        QuadratureRule(nodes, np.array([0.5, 0.6]), "exact", None, 2)
    with pytest.raises(InvalidInputError, match="`degree` must be"):
        QuadratureRule(nodes, np.array([0.5, 0.5]), "gauss-legendre", -1, 2)


def test_quadrature_rule_is_read_only():
    rule = quadrature(BOX_1D, Uniform(), n=3)
    with pytest.raises(ValueError, match="read-only"):
        rule.nodes[0, 0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        rule.weights[0] = 0.0
