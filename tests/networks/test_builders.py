"""Tests of certify.networks.builders: the construction (T-S via L2-L4) and direct fitting.

Every sup error below is a SAMPLED maximum on a dense grid (certify.residual_max): an
estimate, used only to compare builders with one another, never as a bound.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from certify.errors import InvalidInputError
from certify.networks import MLP
from certify.networks.builders import (
    _direct_objective,
    _pack,
    allocate_widths,
    build_construction,
    fit_direct,
    fit_direct_record,
    fit_random_features,
)
from certify.relations.evaluation import gram, residual_max
from certify.relations.quadrature import quadrature
from certify.spectral.mercer import MercerDecomposition, mercer

KERNEL = "gaussian:lengthscale=0.5"
DOMAIN = "box:-1,1"
EPS = np.finfo(np.float64).eps
GRID = np.linspace(-1.0, 1.0, 801)[:, None]


@pytest.fixture(scope="module")
def dec() -> MercerDecomposition:
    return mercer(KERNEL, DOMAIN)


def sup_error_sampled(phi: MLP) -> float:
    """max over the 801 x 801 grid of |k - <phi, phi>| (an estimate of the sup)."""
    return residual_max(KERNEL, GRID, None, phi(GRID)).value


# ------------------------------------------------------------------------ allocation


def test_allocate_widths_follows_l4_rule() -> None:
    # n_i ~ (lambda_i C_i)^(2/3): lambda = (1, 1/8) gives shares 1 : 1/4 of 10 units.
    assert allocate_widths([1.0, 0.125], 10) == (8, 2)
    assert allocate_widths([1.0, 0.125], 10, barron_constants=[1.0, 8.0]) == (5, 5)
    widths = allocate_widths([0.5, 0.3, 0.1, 1e-6], 37)
    assert sum(widths) == 37 and min(widths) >= 1
    assert list(widths) == sorted(widths, reverse=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eigenvalues": [1.0, -1.0], "total_neurons": 4}, "positive"),
        ({"eigenvalues": [1.0, 0.5], "total_neurons": 1}, "total_neurons"),
        ({"eigenvalues": [1.0], "total_neurons": 3, "barron_constants": [1.0, 2.0]}, "barron"),
    ],
)
def test_allocate_widths_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        allocate_widths(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- construction


def test_construction_shapes_and_widths(dec: MercerDecomposition) -> None:
    res = build_construction(dec, rank=6, total_neurons=60, rng=0)
    assert res.network.output_dim == 6 == res.rank
    assert res.network.n_neurons == 60 == res.n_neurons == sum(res.widths)
    assert res.widths == allocate_widths(dec.eigenvalues[:6], 60)
    assert res.feature_sup_errors_sampled.shape == (6,)
    assert "C_i = 1" in res.allocation
    eq = build_construction(dec, rank=3, n_neurons_per_feature=5, rng=0)
    assert eq.widths == (5, 5, 5) and eq.allocation == "equal"
    assert eq.network.layer_sizes == (1, 15, 3)


def test_construction_block_structure_is_exact(dec: MercerDecomposition) -> None:
    res = build_construction(dec, rank=5, total_neurons=40, rng=1)
    A = res.network.weights[1]
    for i, block in enumerate(res.block_slices):
        mask = np.ones(A.shape[1], dtype=bool)
        mask[block] = False
        assert np.all(A[i, mask] == 0.0)  # exact zeros off the block
        assert np.any(A[i, block] != 0.0)
    # hence output i depends only on block i: perturbing another block leaves it unchanged
    W, b = res.network.weights[0].copy(), res.network.biases[0].copy()
    b[res.block_slices[0]] += 1.0
    moved = MLP([W, A], [b, res.network.biases[1]], activation="tanh")
    X = np.linspace(-1, 1, 9)[:, None]
    assert np.array_equal(moved(X)[:, 1:], res.network(X)[:, 1:])


def test_construction_error_decreases_with_width(dec: MercerDecomposition) -> None:
    errs = [
        sup_error_sampled(build_construction(dec, rank=6, n_neurons_per_feature=n, rng=2).network)
        for n in (2, 4, 8, 16)
    ]
    assert all(a > b for a, b in itertools.pairwise(errs)), errs
    assert errs[-1] < 1e-2
    l4 = [
        sup_error_sampled(build_construction(dec, rank=6, total_neurons=N, rng=2).network)
        for N in (12, 48, 192)
    ]
    assert all(a > b for a, b in itertools.pairwise(l4)), l4


def test_construction_recorded_errors_are_consistent(dec: MercerDecomposition) -> None:
    res = build_construction(dec, rank=4, n_neurons_per_feature=8, rng=3)
    assert np.all(res.feature_rms_errors_sampled <= res.feature_sup_errors_sampled)
    assert res.delta_sampled <= float(np.linalg.norm(res.feature_sup_errors_sampled)) * (1 + 1e-12)
    assert res.delta_sampled >= float(np.max(res.feature_sup_errors_sampled))


def test_construction_is_deterministic(dec: MercerDecomposition) -> None:
    a = build_construction(dec, rank=5, total_neurons=30, rng=7).network
    b = build_construction(dec, rank=5, total_neurons=30, rng=np.random.default_rng(7)).network
    assert a == b and a.sha256() == b.sha256()
    assert a != build_construction(dec, rank=5, total_neurons=30, rng=8).network


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0, "total_neurons": 5}, "rank"),
        ({"rank": 1000, "total_neurons": 5000}, "decomposition.rank"),
        ({"rank": 3}, "exactly one"),
        ({"rank": 3, "total_neurons": 9, "n_neurons_per_feature": 3}, "exactly one"),
        ({"rank": 3, "total_neurons": 2}, "total_neurons"),
        ({"rank": 3, "n_neurons_per_feature": 0}, "n_neurons_per_feature"),
        ({"rank": 3, "n_neurons_per_feature": 2, "barron_constants": [1, 1, 1]}, "barron"),
        ({"rank": 3, "total_neurons": 9, "ridge": -1.0}, "ridge"),
    ],
)
def test_construction_errors(
    dec: MercerDecomposition, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        build_construction(dec, **kwargs)  # type: ignore[arg-type]


def test_construction_rejects_non_decomposition_and_non_box() -> None:
    with pytest.raises(InvalidInputError, match="MercerDecomposition"):
        build_construction("gaussian", rank=2, total_neurons=4)  # type: ignore[arg-type]
    sphere = mercer("gaussian:lengthscale=1", "sphere:2", rank=3)
    with pytest.raises(InvalidInputError, match="box"):
        build_construction(sphere, rank=2, total_neurons=4)


# ------------------------------------------------------------------------ direct fit


def test_direct_gradient_matches_central_differences(rng: np.random.Generator) -> None:
    rule = quadrature("box:-1,1;-1,1", n=6)
    X, w = np.ascontiguousarray(rule.nodes), np.ascontiguousarray(rule.weights)
    K = gram(KERNEL, X)
    n_neurons, n_features = 5, 3
    theta = _pack(
        rng.normal(size=(n_neurons, 2)),
        rng.normal(size=n_neurons),
        rng.normal(size=(n_features, n_neurons)) / 2,
        rng.normal(size=n_features) / 4,
    )
    args = (X, K, w, n_neurons, n_features, 0.01)
    loss, grad = _direct_objective(theta, *args)
    h, h3 = 1e-5, 1e-3
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = 1.0
        fd = _direct_objective(theta + h * e, *args)[0] - _direct_objective(theta - h * e, *args)[0]
        fd /= 2 * h
        # Central differences: |fd - L'| <= h^2 |L'''| / 6 + eps |L| / h (truncation +
        # round-off of the two loss values). L''' along e_k is estimated from the analytic
        # gradient, L''' ~ (g(x + h3 e) - 2 g(x) + g(x - h3 e)) / h3^2; factor 10 of slack.
        g_p = _direct_objective(theta + h3 * e, *args)[1][k]
        g_m = _direct_objective(theta - h3 * e, *args)[1][k]
        third = abs(g_p - 2 * grad[k] + g_m) / h3**2
        tol = 10 * (h**2 * third / 6 + 4 * EPS * abs(loss) / h) + 10 * EPS * abs(grad[k])
        assert abs(fd - grad[k]) <= tol, (k, fd, grad[k], tol)


def test_direct_improves_on_random_features_start() -> None:
    rec = fit_direct_record(KERNEL, DOMAIN, n_neurons=12, n_features=12, max_iter=300, rng=2)
    start = fit_random_features(KERNEL, DOMAIN, n_neurons=12, n_features=12, rng=quad_rng(2))
    assert rec.initial_network == start
    assert rec.final_loss < rec.initial_loss
    assert np.all(np.diff(rec.loss_history) <= 0.0)
    assert sup_error_sampled(rec.network) < sup_error_sampled(rec.initial_network)


def quad_rng(seed: int) -> np.random.Generator:
    """The generator state fit_direct hands to fit_random_features (after the quadrature)."""
    gen = np.random.default_rng(seed)
    quadrature(DOMAIN, "uniform", rng=gen)  # Gauss rule: draws nothing
    return gen


def test_direct_is_deterministic_and_wraps_record() -> None:
    a = fit_direct(KERNEL, DOMAIN, n_neurons=6, n_features=4, max_iter=30, rng=5)
    b = fit_direct(KERNEL, DOMAIN, n_neurons=6, n_features=4, max_iter=30, rng=5)
    assert a == b and a.layer_sizes == (1, 6, 4)
    rec = fit_direct_record(
        KERNEL, DOMAIN, n_neurons=6, n_features=4, max_iter=30, rng=5, init="random"
    )
    assert rec.final_loss <= rec.initial_loss and rec.init == "random"
    zero = fit_direct_record(KERNEL, DOMAIN, n_neurons=6, n_features=4, max_iter=0, rng=5)
    assert zero.network == zero.initial_network and zero.n_iterations == 0


def test_direct_weight_decay_shrinks_weights() -> None:
    kw = {"n_neurons": 6, "n_features": 4, "max_iter": 100, "rng": 1, "init": "random"}
    free = fit_direct(KERNEL, DOMAIN, **kw)  # type: ignore[arg-type]
    decayed = fit_direct(KERNEL, DOMAIN, weight_decay=1e-2, **kw)  # type: ignore[arg-type]
    norm = lambda net: sum(float(np.sum(W**2)) for W in net.weights)  # noqa: E731
    assert norm(decayed) < norm(free)


@pytest.mark.parametrize(
    ("kernel", "domain", "kwargs", "match"),
    [
        ("bilinear:W=[[1.0, 2.0], [0.0, 1.0]]", "box:-1,1;-1,1", {}, "symmetric"),
        (KERNEL, "sphere:2", {}, "box"),
        (KERNEL, DOMAIN, {"n_neurons": 0}, "n_neurons"),
        (KERNEL, DOMAIN, {"n_features": 0}, "n_features"),
        (KERNEL, DOMAIN, {"max_iter": -1}, "max_iter"),
        (KERNEL, DOMAIN, {"weight_decay": -1.0}, "weight_decay"),
        (KERNEL, DOMAIN, {"init": "zeros"}, "init"),
    ],
)
def test_direct_errors(kernel: str, domain: str, kwargs: dict[str, object], match: str) -> None:
    options: dict[str, object] = {"n_neurons": 4, "n_features": 2, "max_iter": 5}
    options.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        fit_direct(kernel, domain, **options)  # type: ignore[arg-type]


def test_random_features_errors() -> None:
    with pytest.raises(InvalidInputError, match="symmetric"):
        fit_random_features("bilinear:W=[[1.0, 2.0], [0.0, 1.0]]", "box:-1,1;-1,1", n_neurons=3)
    with pytest.raises(InvalidInputError, match="box"):
        fit_random_features(KERNEL, "sphere:2", n_neurons=3)
