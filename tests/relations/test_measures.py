"""Tests of certify.relations.measures: sampling, densities, specs, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from certify.errors import InvalidInputError
from certify.relations.domains import Box, FiniteSet, RealSpace, Sphere
from certify.relations.measures import Chebyshev, Empirical, Gaussian, Uniform, as_generator
from certify.relations.quadrature import quadrature

EPS = np.finfo(np.float64).eps
N_SAMPLES = 20_000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7_3_2024)


def sphere_area(dim: int) -> float:
    """|S^(dim-1)| = 2 pi^(dim/2) / Gamma(dim/2), written independently of the code."""
    return 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)


# --------------------------------------------------------------------------- specs and records


def test_specs():
    assert Uniform().spec == "uniform"
    assert Chebyshev().spec == "chebyshev"
    assert Gaussian(0.5).spec == "gaussian:std=0.5"
    assert Gaussian(2).spec == "gaussian:std=2.0"
    assert Gaussian([0.5, 1.0]).spec == "gaussian:std=[0.5,1.0]"
    assert Empirical([[0.0], [1.0]]).spec == "empirical"
    assert str(Gaussian(0.5)) == "gaussian:std=0.5"


def test_records_are_frozen_and_comparable():
    assert Gaussian(0.5) == Gaussian(0.5) and hash(Gaussian(0.5)) == hash(Gaussian(0.5))
    assert Gaussian([0.5, 1.0]) != Gaussian([0.5, 2.0])
    assert Uniform() == Uniform() and Chebyshev() == Chebyshev()
    assert Empirical([[0.0], [1.0]]) == Empirical([[0.0], [1.0]], weights=[2.0, 2.0])
    g = Gaussian([0.5, 1.0])
    with pytest.raises(ValueError, match="read-only"):
        g.std[0] = 3.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        g.std = 1.0  # type: ignore[misc]


def test_gaussian_std_broadcast_and_per_axis():
    np.testing.assert_array_equal(Gaussian(0.5).stds(3), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(Gaussian([0.5, 2.0]).stds(2), [0.5, 2.0])


def test_empirical_weights_normalised():
    m = Empirical([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(m.weights, np.full(3, 1.0 / 3.0))
    m = Empirical([0.0, 1.0, 2.0, 3.0], weights=[0, 1, 1, 2])  # 1-D points as a vector
    assert m.points.shape == (4, 1)
    np.testing.assert_array_equal(m.weights, [0.0, 0.25, 0.25, 0.5])


# --------------------------------------------------------------------------- sampling

IN_DOMAIN_CASES = [
    pytest.param(Box([-1.0, 0.0], [1.0, 2.0]), Uniform(), id="uniform-box"),
    # A narrow box far from 0: the affine map is at the edge of float resolution.
    pytest.param(Box([1e10], [1e10 + 1e-4]), Uniform(), id="uniform-narrow-box"),
    pytest.param(Box([1e10], [1e10 + 1e-4]), Chebyshev(), id="chebyshev-narrow-box"),
    pytest.param(Box([-2.0, 1.0, 0.0], [2.0, 3.0, 1.0]), Chebyshev(), id="chebyshev-box"),
    pytest.param(Sphere(2), Uniform(), id="uniform-circle"),
    pytest.param(Sphere(6), Uniform(), id="uniform-sphere6"),
    pytest.param(FiniteSet([[0.0, 1.0], [2.0, 3.0]]), Uniform(), id="uniform-finite"),
    pytest.param(RealSpace(3), Gaussian([0.1, 1.0, 10.0]), id="gaussian"),
    pytest.param(Box([0.0], [1.0]), Empirical([[0.25], [1.0]]), id="empirical-box"),
]


@pytest.mark.parametrize(("domain", "measure"), IN_DOMAIN_CASES)
def test_sample_lands_in_domain(domain, measure, rng):
    X = measure.sample(domain, 2_000, rng=rng)
    assert X.shape == (2_000, domain.dim) and X.dtype == np.float64
    assert bool(np.all(domain.contains(X)))


def test_sample_is_reproducible_from_int_seed():
    a = Uniform().sample(Sphere(3), 10, rng=3)
    b = Uniform().sample(Sphere(3), 10, rng=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Uniform().sample(Sphere(3), 10, rng=4))


def test_gaussian_sample_moments(rng):
    std = np.array([0.5, 2.0, 1.0])
    X = Gaussian(std).sample(RealSpace(3), N_SAMPLES, rng=rng)
    n = X.shape[0]
    # Standard errors: sample mean sigma/sqrt(n); sample variance sigma^2 sqrt(2/(n-1))
    # (normal data). 6 standard errors: a false alarm has probability ~ 2e-9 per check.
    assert np.all(np.abs(X.mean(axis=0)) <= 6 * std / math.sqrt(n))
    assert np.all(np.abs(X.var(axis=0, ddof=1) - std**2) <= 6 * std**2 * math.sqrt(2 / (n - 1)))


def test_uniform_box_sample_moments(rng):
    box = Box([-1.0, 2.0], [3.0, 2.5])
    X = Uniform().sample(box, N_SAMPLES, rng=rng)
    n, w = X.shape[0], box.widths
    var = w**2 / 12
    # Uniform: mean SE sqrt(var/n); variance SE sqrt((mu4 - var^2)/n), mu4 = w^4/80.
    assert np.all(np.abs(X.mean(axis=0) - box.center) <= 6 * np.sqrt(var / n))
    se_var = np.sqrt((w**4 / 80 - var**2) / n)
    assert np.all(np.abs(X.var(axis=0, ddof=1) - var) <= 6 * se_var)


def test_chebyshev_sample_moments(rng):
    box = Box([-1.0, 0.0], [1.0, 4.0])
    X = Chebyshev().sample(box, N_SAMPLES, rng=rng)
    n, h = X.shape[0], 0.5 * box.widths
    # Arcsine law on [c - h, c + h]: variance h^2/2, fourth central moment 3 h^4/8.
    var = h**2 / 2
    assert np.all(np.abs(X.mean(axis=0) - box.center) <= 6 * np.sqrt(var / n))
    se_var = np.sqrt((3 * h**4 / 8 - var**2) / n)
    assert np.all(np.abs(X.var(axis=0, ddof=1) - var) <= 6 * se_var)


def test_sphere_sample_moments(rng):
    dim = 4
    X = Uniform().sample(Sphere(dim), N_SAMPLES, rng=rng)
    n = X.shape[0]
    # E[x_i] = 0 with Var = 1/dim; E[x_i^2] = 1/dim with Var = E[x^4] - 1/dim^2,
    # E[x^4] = 3/(dim (dim + 2)).
    assert np.all(np.abs(X.mean(axis=0)) <= 6 * math.sqrt(1 / dim / n))
    var_sq = 3 / (dim * (dim + 2)) - 1 / dim**2
    assert np.all(np.abs((X**2).mean(axis=0) - 1 / dim) <= 6 * math.sqrt(var_sq / n))


@pytest.mark.parametrize(
    ("domain", "measure", "probabilities"),
    [
        pytest.param(
            FiniteSet([[0.0], [1.0], [2.0]]), Uniform(), np.full(3, 1 / 3), id="uniform-finite"
        ),
        pytest.param(
            RealSpace(1),
            Empirical([[0.0], [1.0], [2.0]], weights=[1, 2, 5]),
            np.array([1, 2, 5]) / 8,
            id="empirical",
        ),
    ],
)
def test_discrete_sample_frequencies(domain, measure, probabilities, rng):
    X = measure.sample(domain, N_SAMPLES, rng=rng)
    freq = np.array([np.mean(X[:, 0] == v) for v in (0.0, 1.0, 2.0)])
    # Binomial frequency: SE sqrt(p (1 - p) / n); 6 SE.
    se = np.sqrt(probabilities * (1 - probabilities) / N_SAMPLES)
    assert np.all(np.abs(freq - probabilities) <= 6 * se)


def test_empirical_never_samples_zero_weight_atom(rng):
    X = Empirical([[0.0], [1.0]], weights=[0.0, 1.0]).sample(RealSpace(1), 500, rng=rng)
    assert bool(np.all(X == 1.0))


# --------------------------------------------------------------------------- densities


@pytest.mark.parametrize("box", [Box([-1.0], [1.0]), Box([-1.0, 0.0, 2.0], [1.0, 3.0, 2.5])])
def test_uniform_box_density(box):
    rule = quadrature(box, Uniform(), n=4, rule="gauss")
    rho = Uniform().density(box, rule.nodes)
    np.testing.assert_array_equal(rho, np.full(rule.n_points, 1.0 / np.prod(box.widths)))
    # int rho dx = volume * E_uniform[rho]; n positive terms: error <= (n + dim) eps.
    total = np.prod(box.widths) * (rule.weights @ rho)
    assert abs(total - 1.0) <= 4 * (rule.n_points + box.dim) * EPS


def test_uniform_density_on_unit_interval_is_one_half():
    assert Uniform().density(Box([-1.0], [1.0]), [[0.3]]).tolist() == [0.5]


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_uniform_sphere_density_integrates_to_one(dim):
    rule = quadrature(Sphere(dim), Uniform(), n=3, rule="gauss")
    rho = Uniform().density(Sphere(dim), rule.nodes)
    # int rho dS = |S| E[rho]; Gamma/exp/log round-off of a few eps each: 64 eps.
    total = sphere_area(dim) * (rule.weights @ rho)
    assert abs(total - 1.0) <= 64 * EPS


@pytest.mark.parametrize("std", [0.5, [0.5, 2.0]])
def test_gaussian_density_integrates_to_one(std):
    domain = RealSpace(np.size(std))
    g = Gaussian(std)
    wider = Gaussian(1.5 * np.asarray(std, dtype=float))
    rule = quadrature(domain, wider, n=32, rule="gauss")
    # int rho_s dx = E_wider[rho_s / rho_wider]; the ratio is exp(-0.625 t^2) in the
    # standardised variable, entire, so 32 Gauss-Hermite nodes are accurate to far
    # below eps; the tolerance is summation round-off (n + dim) eps times 64.
    total = rule.weights @ (g.density(domain, rule.nodes) / wider.density(domain, rule.nodes))
    assert abs(total - 1.0) <= 64 * (rule.n_points + domain.dim) * EPS


def test_gaussian_density_matches_scipy(rng):
    std = np.array([0.5, 2.0])
    X = rng.standard_normal((50, 2)) * 3
    expected = stats.multivariate_normal(mean=np.zeros(2), cov=np.diag(std**2)).pdf(X)
    got = Gaussian(std).density(RealSpace(2), X)
    # Both evaluate exp of a quadratic form of size <= ~40: relative error <= 40 * 4 eps.
    np.testing.assert_allclose(got, expected, rtol=200 * EPS, atol=0.0)


@pytest.mark.parametrize(("a", "b"), [(-1.0, 1.0), (2.0, 7.0)])
def test_chebyshev_density_integrates_to_one(a, b):
    box = Box([a], [b])

    def rho(x: float) -> float:
        return float(Chebyshev().density(box, [[x]])[0])

    # QUADPACK with algebraic endpoint singularities; its error estimate is the tolerance.
    total, est = integrate.quad(rho, a, b, epsabs=1e-12, epsrel=1e-12, limit=200)
    assert abs(total - 1.0) <= max(est, 1e-10)


def test_chebyshev_density_is_product_of_axes(rng):
    box = Box([-1.0, 2.0], [1.0, 7.0])
    X = Uniform().sample(box, 20, rng=rng)
    joint = Chebyshev().density(box, X)
    # The arcsine density 1/(pi sqrt((x-a)(b-x))) per axis, written out here.
    per_axis = 1 / (np.pi * np.sqrt((X - box.lower) * (box.upper - X)))
    # A product of 2 factors with a sqrt and a division each: <= 8 eps relative.
    np.testing.assert_allclose(joint, per_axis.prod(axis=1), rtol=16 * EPS, atol=0.0)


def test_chebyshev_density_infinite_on_boundary():
    rho = Chebyshev().density(Box([0.0], [1.0]), [[0.0], [1.0]])
    assert bool(np.all(np.isinf(rho)))


# --------------------------------------------------------------------------- errors


def test_uniform_on_real_space_suggests_gaussian():
    with pytest.raises(InvalidInputError, match=r"no uniform probability measure on R\^2.*Gauss"):
        Uniform().check_domain(RealSpace(2))
    with pytest.raises(InvalidInputError, match="'uniform' is not defined on 'real:1'"):
        Uniform().sample(RealSpace(1), 3)


@pytest.mark.parametrize("domain", [Box([0.0], [1.0]), Sphere(3), FiniteSet([[0.0], [1.0]])])
def test_gaussian_only_on_real_space(domain):
    with pytest.raises(
        InvalidInputError, match=r"only defined on the whole space.*Use Uniform\(\)"
    ):
        Gaussian(1.0).check_domain(domain)


@pytest.mark.parametrize("domain", [Sphere(3), RealSpace(1), FiniteSet([[0.0], [1.0]])])
def test_chebyshev_only_on_box(domain):
    with pytest.raises(InvalidInputError, match="'chebyshev' is only defined on a box"):
        Chebyshev().density(domain, [[1.0] + [0.0] * (domain.dim - 1)])


@pytest.mark.parametrize(
    ("std", "match"),
    [
        (0.0, "must be > 0"),
        (-1.0, "must be > 0"),
        ([1.0, 0.0], "must be > 0"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ([[1.0]], "1-D array"),
        ([], "1-D array"),
        ("wide", "array of real numbers"),
    ],
)
def test_gaussian_bad_std(std, match):
    with pytest.raises(InvalidInputError, match=match):
        Gaussian(std)


def test_gaussian_std_length_mismatch():
    with pytest.raises(InvalidInputError, match="has 2 standard deviations but the domain has"):
        Gaussian([1.0, 2.0]).check_domain(RealSpace(3))


@pytest.mark.parametrize(
    ("points", "weights", "match"),
    [
        ([[0.0], [1.0]], [1.0, -0.5], r"weights\[1\] = -0.5"),
        ([[0.0], [1.0]], [1.0, float("nan")], "finite"),
        ([[0.0], [1.0]], [0.0, 0.0], "must not all be zero"),
        ([[0.0], [1.0]], [1.0, 1.0, 1.0], r"shape \(2,\)"),
        ([[0.0], [float("inf")]], None, "`points` must contain only finite"),
        (np.zeros((0, 2)), None, "at least 1 point"),
    ],
)
def test_empirical_bad_input(points, weights, match):
    with pytest.raises(InvalidInputError, match=match):
        Empirical(points, weights)


def test_empirical_points_outside_domain():
    m = Empirical([[0.5], [2.0]])
    with pytest.raises(InvalidInputError, match=r"'empirical' does not live on 'box:0.0,1.0'"):
        m.check_domain(Box([0.0], [1.0]))
    with pytest.raises(InvalidInputError, match="points of dimension 2"):
        m.sample(RealSpace(2), 3)


def test_discrete_measures_have_no_density():
    with pytest.raises(InvalidInputError, match="finite set.*has no density"):
        Uniform().density(FiniteSet([[0.0], [1.0]]), [[0.0]])
    with pytest.raises(InvalidInputError, match="'empirical' is discrete and has no density"):
        Empirical([[0.0]]).density(RealSpace(1), [[0.0]])


def test_density_outside_domain():
    with pytest.raises(InvalidInputError, match="`X` must lie in 'box:0.0,1.0'"):
        Uniform().density(Box([0.0], [1.0]), [[0.5], [1.5]])
    with pytest.raises(InvalidInputError, match="`X` must lie in 'sphere:3'"):
        Uniform().density(Sphere(3), [[1.0, 1.0, 0.0]])


@pytest.mark.parametrize("n", [0, -2, 2.5, True, "10"])
def test_sample_bad_n(n):
    with pytest.raises(InvalidInputError, match="`n` must be an int >= 1"):
        Uniform().sample(Box([0.0], [1.0]), n)


@pytest.mark.parametrize(
    ("rng", "match"),
    [("seed", "`rng` must be a numpy.random.Generator"), (True, "`rng` must be"), (-1, ">= 0")],
)
def test_bad_rng(rng, match):
    with pytest.raises(InvalidInputError, match=match):
        Uniform().sample(Box([0.0], [1.0]), 3, rng=rng)
    with pytest.raises(InvalidInputError, match=match):
        as_generator(rng)


def test_bad_domain_type():
    with pytest.raises(InvalidInputError, match="`domain` must be a certify Domain"):
        Uniform().sample("box:0,1", 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="`domain` must be a certify Domain"):
        Gaussian(1.0).check_domain(None)  # type: ignore[arg-type]
