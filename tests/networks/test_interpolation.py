"""Tests of certify.networks.builders.build_interpolation: the exact ReLU interpolation witness.

The witness is exact by construction: ``<phi(x), phi(y)>`` is the bilinear interpolant
``hat(x)^T K hat(y)`` of the kernel on the knots. The tests recompute the hats and the
interpolant independently in numpy and compare within a tolerance derived from float
rounding; the interpolation error itself is checked against the closed form for
min(x, y) (w / 4 at the centres of the diagonal cells, 0 off the diagonal cells).
"""

from __future__ import annotations

import numpy as np
import pytest

from certify.certificates.symmetric import certify_symmetric
from certify.errors import InvalidInputError, NotPSDError
from certify.networks import MLP
from certify.networks.builders import (
    InterpolationResult,
    _relu_interpolant,
    build_interpolation,
)
from certify.relations.evaluation import gram

U = np.finfo(np.float64).eps / 2  # unit round-off


def gamma(n: int) -> float:
    """Higham's gamma_n = n u / (1 - n u)."""
    return n * U / (1.0 - n * U)


def hats(knots: np.ndarray, x: np.ndarray) -> np.ndarray:
    """hat_j(x) = max(0, 1 - |x - t_j| / w), computed directly (independent of the builder)."""
    w = (knots[-1] - knots[0]) / (knots.size - 1)
    return np.maximum(0.0, 1.0 - np.abs(x[:, None] - knots[None, :]) / w)


def phi_rounding(net: MLP, x: np.ndarray) -> np.ndarray:
    """A bound on |fl(phi(x)) - phi(x)| per output, from the weights (Higham eq. 3.5).

    Hidden unit j: fl(s_j x + b_j) is off by at most u (|x| + |b_j|) and relu is
    1-Lipschitz; output o: a dot product of n terms plus a bias, so with
    T_o(x) = sum_j |A_oj| (|x| + |b_j|) + |c_o| the error is <= gamma_{n+3} T_o(x).
    """
    (W0, A), (b0, c) = net.weights, net.biases
    mags = np.abs(x[:, None]) * np.abs(W0[:, 0])[None, :] + np.abs(b0)[None, :]
    T = mags @ np.abs(A).T + np.abs(c)[None, :]
    return gamma(W0.shape[0] + 3) * T


def model_tolerance(net: MLP, K: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|fl(<phi(x), phi(y)>) - hat(x)^T K hat(y)| <= this, entrywise, when S^T S = K exactly.

    Terms: (1) the factorisation, |S^T S - K| <= 10 n u ||K||_2 entrywise (eigh is backward
    stable; Cholesky has |S^T S - K| <= gamma_{n+1} sqrt(K_jj K_kk) <= that), and hat(x) has
    convex weights; (2) the forward errors E of phi at x and y, through the inner product;
    (3) the inner product's own rounding gamma_m sum |P_o Q_o|; (4) the numpy reference
    (two nonzero hats per point: a few ulps of max |K|). A factor 2 of headroom.
    """
    n = K.shape[0]
    P, Q = net(x), net(y)
    Ex, Ey = phi_rounding(net, x), phi_rounding(net, y)
    absP, absQ = np.abs(P), np.abs(Q)
    fwd = Ex @ (absQ + Ey).T + absP @ Ey.T + gamma(P.shape[1]) * (absP @ absQ.T)
    fact = 10 * n * U * np.linalg.norm(K, 2)
    ref = 8 * U * np.max(np.abs(K))
    return 2.0 * (fwd + fact + ref)


CASES = [
    ("brownian", "box:0,1", {"n_knots": 33}),
    ("matern32", "box:-1,1", {"n_knots": 17, "factorization": "hierarchical"}),
    ("matern32", "box:-1,1", {"n_knots": 17, "factorization": "eigh"}),
    ("gaussian:lengthscale=0.5", "box:-2,3", {"n_knots": 24}),
    ("laplace:lengthscale=0.3", "box:-1,2", {"n_knots": 2}),
]


@pytest.mark.parametrize(("kernel", "domain", "kwargs"), CASES)
def test_network_is_the_bilinear_interpolant(rng, kernel, domain, kwargs):
    res = build_interpolation(kernel, domain, **kwargs)
    t = res.knots
    a, b = t[0], t[-1]
    # the knots are uniform and end exactly at the domain's ends
    assert np.allclose(np.diff(t), res.spacing, rtol=1e-12, atol=0.0)
    x = np.concatenate([[a, b], t, rng.uniform(a, b, 120)])
    y = np.concatenate([[b, a], rng.uniform(a, b, 80)])
    K = gram(kernel, t[:, None])
    reference = hats(t, x) @ K @ hats(t, y).T
    model = res.network(x) @ res.network(y).T
    tol = model_tolerance(res.network, K, x, y) + res.truncation_tail
    err = np.abs(model - reference)
    assert np.all(err <= tol), f"max excess {np.max(err - tol):.2e}"
    # the tolerance has teeth: far below any interpolation error that matters
    assert np.max(tol) < 1e-9
    assert res.network.n_neurons == t.size - 1 and res.network.activation == "relu"


def test_relu_units_reproduce_the_hats_including_the_end_hats(rng):
    """With S = I the network is hat(x) itself: every hat, the two end hats included."""
    for knots in (np.linspace(0.0, 1.0, 9), np.linspace(-1.0, 3.0, 2), np.linspace(-2, -1, 4)):
        net = _relu_interpolant(np.eye(knots.size), knots)
        a, b = knots[0], knots[-1]
        x = np.concatenate([[a, b], knots, 0.5 * (knots[:-1] + knots[1:]), rng.uniform(a, b, 99)])
        tol = phi_rounding(net, x) + 4 * U  # + the reference hats' own rounding
        assert np.all(np.abs(net(x) - hats(knots, x)) <= tol)
        assert np.max(tol) < 1e-12
        # at the ends: hat_0(a) = 1 and hat_M(b) = 1, every other hat 0
        P = net(np.array([a, b]))
        assert np.allclose(P[0], np.eye(knots.size)[0], rtol=0, atol=1e-13)
        assert np.allclose(P[1], np.eye(knots.size)[-1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("n_knots", [9, 17, 65])
def test_brownian_error_is_w_over_4_at_diagonal_cell_centres(rng, n_knots):
    """min(x, y) - r_h(x, y) = s (1 - s) w on the diagonal (closed form): w / 4 at s = 1/2."""
    res = build_interpolation("brownian", "box:0,1", n_knots=n_knots)
    t, w = res.knots, res.spacing
    centres = 0.5 * (t[:-1] + t[1:])
    P = res.network(centres)
    diag_err = centres - np.einsum("ij,ij->i", P, P)
    K = gram("brownian", t[:, None])
    tol = np.diag(model_tolerance(res.network, K, centres, centres))
    assert np.all(np.abs(diag_err - w / 4) <= tol)
    # off the diagonal cells the interpolant is exact: min is bilinear on those cells
    x, y = rng.uniform(0, 1, 300), rng.uniform(0, 1, 300)
    other = np.floor(x / w) != np.floor(y / w)
    e = np.minimum(x, y) - np.einsum("ij,ij->i", res.network(x), res.network(y))
    tol_xy = np.diag(model_tolerance(res.network, K, x, y))
    assert np.all(np.abs(e[other]) <= tol_xy[other])
    # the check points hold the cell midpoints, so the sampled sup error is w / 4 itself
    assert abs(res.sampled_sup_error - w / 4) <= np.max(tol)


def test_truncation_tail_bounds_what_the_truncation_changes(rng):
    full = build_interpolation("matern32", "box:-1,1", n_knots=41, factorization="eigh")
    cut = build_interpolation("matern32", "box:-1,1", n_knots=41, rank=8)
    assert cut.rank == 8 < full.rank and cut.factorization == "eigh"
    x = rng.uniform(-1, 1, 200)
    K = gram("matern32", full.knots[:, None])
    tol = model_tolerance(cut.network, K, x, x) + model_tolerance(full.network, K, x, x)
    diff = np.abs(cut.network(x) @ cut.network(x).T - full.network(x) @ full.network(x).T)
    assert np.all(diff <= cut.truncation_tail + full.truncation_tail + tol)
    assert np.max(diff) > 0.1 * cut.truncation_tail  # the bound is not vacuous here


def test_knot_rule_doubles_then_bisects():
    """eps = 0.015 on min(x, y): w / 4 <= eps / 2 needs M >= 34 cells (w / 4 = 1 / (4 M))."""
    res = build_interpolation("brownian", "box:0,1", eps=0.015)
    counts = [t["n_knots"] for t in res.tried]
    assert counts[:4] == [9, 17, 33, 65]
    assert res.sampled_sup_error <= 0.015 / 2
    failed = [t for t in res.tried if t["sampled_sup_error"] > 0.015 / 2]
    assert all(t["n_knots"] < res.n_knots for t in failed)
    assert res.n_knots == 35  # resolution M / 16: M = 34 passes, 32 fails
    assert abs(res.sampled_sup_error - 1 / (4 * 34)) < 1e-12


def test_auto_factorization_and_rank():
    # smooth kernel: few eigenpairs carry it, so "eigh" with a truncated rank
    res = build_interpolation("matern32", "box:-1,1", eps=1e-3)
    assert res.factorization == "eigh" and res.rank < res.n_knots // 2
    assert res.truncation_tail <= 1e-3 / 16
    assert res.sampled_sup_error <= 1e-3 / 2
    # min(x, y) needs every knot but t_0 = 0 (min(0, y) = 0): hierarchical, exact
    res = build_interpolation("brownian", "box:0,1", n_knots=17)
    assert res.factorization == "hierarchical" and res.rank == 16
    assert res.truncation_tail == 0.0
    assert isinstance(res, InterpolationResult)


def test_deterministic():
    a = build_interpolation("matern32", "box:-1,1", eps=5e-3)
    b = build_interpolation("matern32", "box:-1,1", eps=5e-3)
    assert a.network == b.network and a.tried == b.tried
    assert a.network.sha256() == b.network.sha256()


@pytest.mark.parametrize(
    ("kernel", "domain", "kwargs", "match"),
    [
        ("brownian", "box:0,1;0,1", {"n_knots": 5}, "1-D box"),
        ("matern32", "sphere:2", {"n_knots": 5}, "must be a box"),
        ("expr:x0 + 2*y0", "box:-1,1", {"n_knots": 5}, "must be symmetric"),
        ("gaussian:dim=2", "box:-1,1", {"n_knots": 5}, "dimension"),
        ("matern32", "box:-1,1", {}, "Give `eps`"),
        ("matern32", "box:-1,1", {"eps": 0.0}, "`eps` must be > 0"),
        ("matern32", "box:-1,1", {"eps": float("nan")}, "`eps` must be finite"),
        ("matern32", "box:-1,1", {"n_knots": 1}, "`n_knots` must be an int >= 2"),
        ("matern32", "box:-1,1", {"n_knots": 2.5}, "`n_knots` must be an int"),
        ("matern32", "box:-1,1", {"n_knots": 9, "max_knots": 5}, "max_knots = 5"),
        ("matern32", "box:-1,1", {"n_knots": 9, "rank": 0}, "`rank` must be an int >= 1"),
        (
            "matern32",
            "box:-1,1",
            {"n_knots": 9, "rank": 3, "factorization": "hierarchical"},
            "truncates an eigendecomposition",
        ),
        ("matern32", "box:-1,1", {"n_knots": 9, "factorization": "svd"}, "`factorization`"),
    ],
)
def test_bad_inputs(kernel, domain, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        build_interpolation(kernel, domain, **kwargs)


def test_not_psd_is_refused():
    with pytest.raises(NotPSDError, match="not positive semidefinite") as info:
        build_interpolation("expr:-Abs(x0 - y0)", "box:-1,1", n_knots=9)
    assert info.value.eigenvalue < 0 and info.value.points.shape == (9, 1)


def test_certify_symmetric_refuses_2d_domains_for_interpolation():
    with pytest.raises(InvalidInputError, match="needs a 1-D box"):
        certify_symmetric("matern32", "box:-1,1;-1,1", eps=1e-2, method="interpolation")


def test_certify_symmetric_interpolation_end_to_end():
    cert = certify_symmetric(
        "matern32", "box:-1,1", eps=2e-2, method="interpolation", progress=False
    )
    assert cert.verdict == "HOLDS" and cert.route == "direct" and cert.upper <= 2e-2
    witness = cert.method["witness"]
    assert witness["builder"] == "build_interpolation"
    assert witness["tried"][-1]["selected"] is True
    phi = MLP.from_dict(cert.network("phi"))
    assert witness["knots"]["count"] == phi.n_neurons + 1
    assert witness["features"] == phi.output_dim
