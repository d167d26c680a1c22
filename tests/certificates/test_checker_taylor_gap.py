"""The checker's Taylor models of tanh MLPs and its bound of the feature gap |F - phi| (lemma L2).

``ArbMLP.tanh_taylor`` is the Taylor model of a one-hidden-layer tanh network over a box;
``checker._TaylorGap`` bounds sup |F - phi|_2 over a box from it and from the Gaussian
Nystrom model. Reference values are balls computed here at ``REF_BITS`` = 200 bits
(``ctx.workprec``) straight from the float parameters: one ``tanh`` per hidden unit, one exp
per Nystrom node, no series, no multinomial coefficients, so they share nothing with the
Taylor models and "the model contains the reference ball" is a containment check with no
tolerance (the reference balls have radii ~1e-60). Derivatives for the degenerate-box checks
come from the closed forms tanh' = 1 - tanh^2 and tanh'' = -2 tanh (1 - tanh^2), and the
normalised derivatives of tanh from polynomials in tanh built by sympy
(``P_(k+1) = (1 - y^2) P_k' / (k + 1)``, the chain rule), not from the checker's recurrence.
Floats only fit the witness and locate maxima.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
from flint import arb, arb_mat, ctx
from scipy.stats import qmc

from certify.certificates import arb_models, checker
from certify.certificates.arb_models import (
    CHECK_PRECISION,
    ArbMLP,
    ArbNystrom,
    NotCheckableError,
    TaylorModel,
    interval_ball,
    multi_indices,
    tanh_taylor_1d,
)
from certify.certificates.model import certify_model, nystrom_witness
from certify.networks import MLP
from certify.spectral import NystromFeatures, mercer

from . import mlp_dict

REF_BITS = 200
ELL = 0.5
SPEC = f"gaussian:lengthscale={ELL!r}"


# --- networks and their reference values ---------------------------------------------------------
@dataclasses.dataclass
class Net:
    """phi(x) = A tanh(W x + b) + c with float parameters, and its reference values in arb."""

    W: np.ndarray  # (N, dim)
    b: np.ndarray  # (N,)
    A: np.ndarray  # (m, N)
    c: np.ndarray  # (m,)

    @property
    def witness(self) -> dict[str, Any]:
        return mlp_dict([self.W, self.A], [self.b, self.c], "tanh")

    def model(self) -> ArbMLP:
        """A fresh ball model (its cached tables are built by the code under test as it is)."""
        return ArbMLP.from_dict(self.witness)

    @functools.cached_property
    def _exact(self) -> tuple[arb_mat, arb_mat, arb_mat, arb_mat]:
        def mat(a: np.ndarray) -> arb_mat:
            a = np.atleast_2d(a)
            return arb_mat(a.shape[0], a.shape[1], [float(v) for v in a.ravel()])

        return mat(self.W), mat(self.b[:, None]), mat(self.A), mat(self.c[:, None])

    def _hidden(self, x: np.ndarray) -> list[arb]:
        W, b, _, _ = self._exact
        xs = arb_mat(len(x), 1, [float(v) for v in x])
        return list((W * xs + b).entries())

    def ref(self, x: np.ndarray) -> list[arb]:
        """Balls containing phi(x), at REF_BITS bits (one tanh per hidden unit)."""
        with ctx.workprec(REF_BITS):
            t = [z.tanh() for z in self._hidden(x)]
            _, _, A, c = self._exact
            return list((A * arb_mat(len(t), 1, t) + c).entries())

    def ref_derivatives(self, x: np.ndarray) -> tuple[list[list[arb]], list[list[list[arb]]]]:
        """Balls containing the gradient [i][k] and the Hessian [i][k][l] of phi at x."""
        with ctx.workprec(REF_BITS):
            t = [z.tanh() for z in self._hidden(x)]
            d1 = [1 - v * v for v in t]
            d2 = [-2 * v * (1 - v * v) for v in t]
            m, n = self.A.shape
            dim = self.W.shape[1]
            w = [[arb(float(v)) for v in row] for row in self.W]
            grad, hess = [], []
            for i in range(m):
                a = [arb(float(v)) for v in self.A[i]]
                grad.append(
                    [sum((a[j] * d1[j] * w[j][k] for j in range(n)), arb(0)) for k in range(dim)]
                )
                hess.append(
                    [
                        [
                            sum((a[j] * d2[j] * w[j][k] * w[j][ell] for j in range(n)), arb(0))
                            for ell in range(dim)
                        ]
                        for k in range(dim)
                    ]
                )
            return grad, hess


def random_net(
    rng: np.random.Generator, width: int, dim: int, *, outputs: int = 3, out_scale: float = 50.0
) -> Net:
    """Hidden weights ~ N(0, 1.5^2), biases ~ N(0, 1), output weights uniform in +-out_scale."""
    return Net(
        W=rng.normal(0.0, 1.5, (width, dim)),
        b=rng.normal(0.0, 1.0, width),
        A=rng.uniform(-out_scale, out_scale, (outputs, width)),
        c=rng.normal(0.0, 1.0, outputs),
    )


def random_boxes(
    rng: np.random.Generator, dim: int, count: int, *, low: float = 1e-3, high: float = 0.2
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Boxes with half-widths log-uniform in [low, high] per coordinate, centres in [-1, 1]."""
    for _ in range(count):
        half = 10.0 ** rng.uniform(math.log10(low), math.log10(high), dim)
        centre = rng.uniform(-1.0, 1.0, dim)
        yield centre - half, centre + half


def points_of(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, count: int) -> np.ndarray:
    """The corners, the centre and ``count`` random points of the box [lo, hi]."""
    corners = [np.array(c) for c in itertools.product(*zip(lo, hi, strict=True))]
    inside = [lo + (hi - lo) * rng.uniform(0, 1, len(lo)) for _ in range(count)]
    return np.array([*corners, (lo + hi) / 2, *inside])


def balls_of(lo: np.ndarray, hi: np.ndarray) -> list[arb]:
    return [interval_ball(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


def polynomial_at(tm: TaylorModel, x: np.ndarray) -> list[arb]:
    """Balls containing P_i(x - c), i = 1..m, at REF_BITS bits."""
    with ctx.workprec(REF_BITS):
        ys = [arb(float(v)) - c for v, c in zip(x, tm.centre, strict=True)]
        monomials = [
            math.prod((y**e for y, e in zip(ys, alpha, strict=True)), start=arb(1))
            for alpha in tm.exponents
        ]
        coef = tm.coefficients
        return [
            sum((coef[i, k] * mono for k, mono in enumerate(monomials)), start=arb(0))
            for i in range(coef.nrows())
        ]


def violations(
    net: Net,
    boxes: list[tuple[np.ndarray, np.ndarray]],
    orders: list[int],
    n_points: int,
    seed: int,
) -> list[tuple[int, int, int]]:
    """(box, order, output) where a reference value lies certainly outside P_i +- rho_i.

    The exact phi_i(x) - P_i(x - c) is the Lagrange remainder, |.| <= rho_i on the box; it lies
    in the ball ``value - poly``, so only a ball certainly outside [-rho_i, rho_i] refutes the
    model (no slack).
    """
    gen = np.random.default_rng(seed)
    model = net.model()
    found = []
    for b, (lo, hi) in enumerate(boxes):
        xs = points_of(gen, lo, hi, n_points)
        refs = [net.ref(x) for x in xs]
        for order in orders:
            with ctx.workprec(CHECK_PRECISION):
                tm = model.tanh_taylor(balls_of(lo, hi), order)
            for x, values in zip(xs, refs, strict=True):
                for i, (value, poly) in enumerate(zip(values, polynomial_at(tm, x), strict=True)):
                    with ctx.workprec(REF_BITS):
                        if (value - poly).abs_lower() > tm.remainder[i]:
                            found.append((b, order, i))
    return found


# --- the one-variable factors ---------------------------------------------------------------------
@functools.cache
def _tanh_polynomials(top: int) -> list[list[int | sp.Rational]]:
    """Coefficients (ascending) of P_k with tanh^(k)(x) / k! = P_k(tanh x), k <= top."""
    y = sp.Symbol("y")
    polys = [sp.Poly(y, y)]
    for k in range(top):
        polys.append(sp.Poly(sp.expand((1 - y**2) * sp.diff(polys[-1].as_expr(), y) / (k + 1)), y))
    return [list(reversed(p.all_coeffs())) for p in polys]


def _scaled_derivative(u: arb, k: int) -> arb:
    """A ball containing tanh^(k)(u) / k!, from the polynomial in tanh(u), at REF_BITS bits."""
    with ctx.workprec(REF_BITS):
        y = u.tanh()
        total = arb(0)
        for coef in reversed(_tanh_polynomials(k)[k]):
            total = total * y + arb(sp.Rational(coef).p) / arb(sp.Rational(coef).q)
        return total


@pytest.mark.parametrize("t", [0.0, 0.4375, -1.3, 2.9])
@pytest.mark.parametrize("half_width", [1e-3, 0.05, 0.3, 1.0])
def test_one_variable_factors_are_the_scaled_derivatives_of_tanh(t, half_width):
    order = 6
    with ctx.workprec(CHECK_PRECISION):
        a, b = tanh_taylor_1d(arb(t), arb(0, half_width), order)
    assert len(a) == order + 1 and len(b) == order + 2
    for k, value in enumerate(a):  # at a point: the closed form, to the last bits
        assert value.overlaps(_scaled_derivative(arb(t), k)), k
        assert value.rad() < 1e-30
    for s in np.linspace(t - half_width, t + half_width, 41):
        for k, ball in enumerate(b):
            assert ball.contains(_scaled_derivative(arb(float(s)), k)), (s, k)
    # the Cauchy caps hold for every real x: sup |tanh^(k) / k!| over a fine grid is below them
    grid = np.linspace(-6.0, 6.0, 2401)
    for k in range(2, 10):
        cap = arb_models._tanh_cap(k)
        top = max(abs(_scaled_derivative(arb(float(x)), k)).upper() for x in grid[::8])
        assert top <= cap.abs_upper(), k
    with pytest.raises(ValueError, match="must be >= 0"):
        tanh_taylor_1d(arb(t), arb(0, half_width), -1)


def test_tabulated_bound_covers_the_scaled_derivative_over_wide_balls(rng):
    # sup |y_k| over t +- s, read from the table of |P_k| on cells of tanh values: it must
    # contain every sampled value, and it is what makes wide balls tight (measured: within
    # 10 % of the sampled sup at s = 0.3 .. 1, where the recurrence alone is 2 to 10 times off)
    with ctx.workprec(CHECK_PRECISION):
        for _ in range(20):
            t, s = rng.uniform(-3.0, 3.0), 10.0 ** rng.uniform(-3.0, 0.3)
            wide = arb(t) + arb(0, s)
            y0 = wide.lower().tanh().union(wide.upper().tanh())
            for k in (2, 5, 7):
                bound = arb_models._tanh_table_bound(arb_models._object_array([y0]), k)[0]
                top = max(
                    abs(_scaled_derivative(arb(float(u)), k)).upper()
                    for u in np.linspace(t - s, t + s, 101)
                )
                assert top <= bound.abs_upper(), (t, s, k)


# --- (a) containment ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dim", "width"), [(1, 1), (1, 8), (1, 40), (2, 1), (2, 12), (2, 60)], ids=str
)
def test_tanh_taylor_model_encloses_the_network(dim, width, rng):
    net = random_net(rng, width, dim)
    boxes = list(random_boxes(rng, dim, 6))
    assert violations(net, boxes, [0, 1, 3, 6, 7], 6, seed=1) == []


def test_models_share_the_exponents_of_the_gaussian_model(rng):
    net = random_net(rng, 5, 2)
    with ctx.workprec(CHECK_PRECISION):
        tm = net.model().tanh_taylor(balls_of(np.array([0.1, 0.2]), np.array([0.3, 0.25])), 4)
    assert tm.exponents == tuple(multi_indices(2, 4))
    assert tm.coefficients.nrows() == 3 and tm.coefficients.ncols() == len(tm.exponents)
    assert len(tm.remainder) == 3 and tm.order == 4


# --- (b) the coefficients at a point --------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2])
def test_coefficients_at_a_degenerate_box_are_value_gradient_and_hessian(dim, rng):
    net = random_net(rng, 20, dim)
    model = net.model()
    for _ in range(3):
        x = rng.uniform(-1.0, 1.0, dim)
        point = [arb(float(v)) for v in x]
        with ctx.workprec(CHECK_PRECISION):
            tm = model.tanh_taylor(point, 5)
            forward = model.forward(point)
            _, jac = model.forward_jacobian(point)
        assert all(r == 0 for r in tm.remainder)  # s_j = 0: no remainder at all
        where = {alpha: k for k, alpha in enumerate(tm.exponents)}
        value = net.ref(x)
        grad, hess = net.ref_derivatives(x)
        for i in range(3):
            c0 = tm.coefficients[i, where[(0,) * dim]]
            assert c0.overlaps(value[i]) and c0.overlaps(forward[i])
            assert c0.rad() < 1e-25
            for k in range(dim):
                e = tuple(int(q == k) for q in range(dim))
                c1 = tm.coefficients[i, where[e]]
                assert c1.overlaps(grad[i][k]) and c1.overlaps(jac[i, k]), (i, k)
                for ell in range(k, dim):
                    beta = tuple(int(q == k) + int(q == ell) for q in range(dim))
                    want = hess[i][k][ell] if k != ell else hess[i][k][k] / 2
                    assert tm.coefficients[i, where[beta]].overlaps(want), (i, k, ell)


# --- (d) planted bugs: each broken variant must be caught -----------------------------------------
@pytest.fixture
def fresh_tables() -> Iterator[None]:
    """The tabulated bounds are cached per process: rebuild them around a monkeypatch."""
    arb_models._tanh_sup_table.cache_clear()
    yield
    arb_models._tanh_sup_table.cache_clear()


def _bug_instances() -> list[tuple[Net, list[tuple[np.ndarray, np.ndarray]]]]:
    """Small networks (bounds tight to a factor ~2) and boxes of half-widths 0.05 .. 0.2."""
    gen = np.random.default_rng(11)
    out = []
    for width, dim in ((1, 1), (3, 2), (12, 2)):
        net = random_net(gen, width, dim, out_scale=2.0)
        out.append((net, list(random_boxes(gen, dim, 4, low=0.05, high=0.2))))
    return out


def _caught(orders: list[int]) -> int:
    return sum(len(violations(net, boxes, orders, 8, seed=3)) for net, boxes in _bug_instances())


def test_the_real_model_passes_the_planted_bug_instances(fresh_tables):
    assert _caught([1, 2, 3, 6]) == 0


def test_a_shrunk_remainder_is_caught(monkeypatch, fresh_tables):
    # s_j^(p+2) instead of s_j^(p+1): the remainder shrinks by s_j (~0.1 .. 0.5 here)
    real = arb_models._tanh_lagrange_terms
    monkeypatch.setattr(
        arb_models, "_tanh_lagrange_terms", lambda d, s, power: real(d, s, power + 1)
    )
    assert _caught([1, 2, 3]) > 0


def test_a_dropped_multinomial_coefficient_is_caught(monkeypatch, fresh_tables, rng):
    monkeypatch.setattr(arb_models, "_multinomial", lambda alpha: 1)
    assert _caught([2, 3]) > 0
    # and the mixed second derivative at a point no longer matches the Hessian
    net = random_net(rng, 20, 2)
    x = np.array([0.3, -0.2])
    with ctx.workprec(CHECK_PRECISION):
        tm = net.model().tanh_taylor([arb(0.3), arb(-0.2)], 2)
    _, hess = net.ref_derivatives(x)
    assert not tm.coefficients[0, tm.exponents.index((1, 1))].overlaps(hess[0][0][1])


def test_an_off_by_one_recurrence_is_caught(monkeypatch, fresh_tables):
    def shifted(start: Any, top: int) -> list[Any]:
        # sum_(i <= k - 1) y_i y_(k-1-i) where the recurrence has sum_(i <= k) y_i y_(k-i)
        ys = list(start)
        for k in range(1, top):
            conv: Any = 0
            for i in range(k):
                conv = conv + ys[i] * ys[k - 1 - i]
            ys.append(-conv / (k + 1))
        return ys

    monkeypatch.setattr(arb_models, "_tanh_series", shifted)
    assert _caught([2, 3]) > 0


# --- (c) the feature gap --------------------------------------------------------------------------
@dataclasses.dataclass
class Gap:
    """Gaussian Nystrom features F on [-1, 1]^2, a tanh fit phi of them, and the checker's parts."""

    F_witness: dict[str, Any]
    nodes: np.ndarray
    C: np.ndarray
    phi: Net
    taylor: checker._TaylorGap
    mean_value: checker._VectorNorm

    def gap_ref(self, x: np.ndarray) -> arb:
        return gap_ref(self.nodes, self.C, self.phi, x)

    def gap_float(self, X: np.ndarray) -> np.ndarray:
        return gap_float(self.nodes, self.C, self.phi, X)


def features_ref(nodes: np.ndarray, C: np.ndarray, x: np.ndarray) -> list[arb]:
    """Balls containing F_i(x) = sum_j C[j, i] exp(-|x - n_j|^2 / (2 l^2)), at REF_BITS."""
    with ctx.workprec(REF_BITS):
        xs = [arb(float(v)) for v in x]
        scale = 1 / (2 * arb(ELL) ** 2)
        col = []
        for node in nodes:
            s = arb(0)
            for a, b in zip(xs, node, strict=True):
                s += (a - arb(float(b))) ** 2
            col.append((-s * scale).exp())
        n, m = C.shape
        Ct = arb_mat(m, n, [float(C[j, i]) for i in range(m) for j in range(n)])
        return list((Ct * arb_mat(n, 1, col)).entries())


def gap_ref(nodes: np.ndarray, C: np.ndarray, phi: Net, x: np.ndarray) -> arb:
    """A ball containing |F(x) - phi(x)|_2."""
    with ctx.workprec(REF_BITS):
        d = [u - v for u, v in zip(features_ref(nodes, C, x), phi.ref(x), strict=True)]
        return sum((v * v for v in d), arb(0)).sqrt()


def gap_float(nodes: np.ndarray, C: np.ndarray, phi: Net, X: np.ndarray) -> np.ndarray:
    """Float estimates of |F - phi|_2 on the rows of X (to locate maxima only)."""
    out = np.empty(len(X))
    for start in range(0, len(X), 2048):  # chunks: the distances are rows x nodes x dim
        rows = X[start : start + 2048]
        d2 = np.sum((rows[:, None, :] - nodes[None, :, :]) ** 2, axis=-1)
        F = np.exp(-d2 / (2 * ELL**2)) @ C
        P = np.tanh(rows @ phi.W.T + phi.b) @ phi.A.T + phi.c
        out[start : start + 2048] = np.linalg.norm(F - P, axis=1)
    return out


def fit_tanh(F: NystromFeatures, width: int, *, seed: int = 0, ridge: float = 1e-10) -> Net:
    """Random hidden units, output layer by ridge least squares on 1024 Sobol points."""
    gen = np.random.default_rng(seed)
    dim = F.input_dim
    W = gen.normal(0.0, 1.5, (width, dim))
    b = gen.normal(0.0, 1.0, width)
    X = qmc.Sobol(dim, seed=seed).random(1024) * 2 - 1
    H = np.hstack([np.tanh(X @ W.T + b), np.ones((len(X), 1))])
    sol = np.linalg.solve(H.T @ H + ridge * np.eye(width + 1), H.T @ F.forward(X))
    return Net(W=W, b=b, A=np.ascontiguousarray(sol[:width].T), c=sol[width].copy())


@pytest.fixture(scope="module")
def gap() -> Gap:
    return make_gap()


def make_gap() -> Gap:
    """d = 12 features (576 Chebyshev nodes) and 300 tanh units: sup |F - phi| ~ 3e-4."""
    dec = mercer(SPEC, "box:-1,1;-1,1", measure="chebyshev", rng=0)
    F = NystromFeatures.from_mercer(dec, rank=12)
    phi = fit_tanh(F, 300)
    witness = nystrom_witness(F)
    with ctx.workprec(CHECK_PRECISION):
        Fm = ArbNystrom.from_dict(witness)
        pm = phi.model()
        return Gap(
            witness,
            np.asarray(F.nodes),
            np.asarray(F.coefficients),
            phi,
            checker._TaylorGap(Fm, pm),
            checker._VectorNorm(Fm, pm),
        )


def test_gap_bound_contains_the_gap(gap, rng):
    for lo, hi in random_boxes(rng, 2, 6, high=0.1):
        with ctx.workprec(CHECK_PRECISION):
            bound = gap.taylor.sup_abs(balls_of(lo, hi))
        assert bound.is_finite()
        for x in points_of(rng, lo, hi, 5):
            value = gap.gap_ref(x)
            assert value.upper() <= bound, (lo, hi, x)
            with ctx.workprec(CHECK_PRECISION):  # point values stay the parent's
                assert gap.taylor.abs_at([arb(float(v)) for v in x]).overlaps(value)


def test_gap_bound_is_tight_where_the_mean_value_form_is_not(gap):
    # boxes of half-width 1/32 around the sampled maximiser of |F - phi| (the corner (-1, -1),
    # |F - phi| = 2.9e-4 there) and at 3 other places (~3e-6 there); the leaf's true max is >=
    # the arb value at its float argmax on a 41 x 41 grid. Measured: the Taylor bound is 1.000
    # times that value at the maximiser and 1.22, 1.40, 1.24 times it elsewhere; the mean-value
    # form (_VectorNorm) is 690 times it at the maximiser and 7e4 .. 1.2e5 times elsewhere.
    axes = np.linspace(-1.0, 1.0, 101)
    X = np.stack(np.meshgrid(axes, axes, indexing="ij"), axis=-1).reshape(-1, 2)
    x_star = X[int(np.argmax(gap.gap_float(X)))]
    half = 1 / 32
    centres = [np.clip(x_star, -1 + half, 1 - half), *np.array([[0.3, -0.4], [-0.7, 0.8], [0, 0]])]
    for centre in centres:
        lo, hi = centre - half, centre + half
        grid = np.stack(
            np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41)), axis=-1
        ).reshape(-1, 2)
        top = gap.gap_ref(grid[int(np.argmax(gap.gap_float(grid)))])
        with ctx.workprec(CHECK_PRECISION):
            taylor = gap.taylor.sup_abs(balls_of(lo, hi))
            mean_value = gap.mean_value.sup_abs(balls_of(lo, hi))
        assert top.lower() <= taylor <= 1.5 * top.upper(), centre
        assert mean_value >= 100 * taylor, centre


def test_the_gap_uses_the_taylor_form_for_gaussian_features_and_tanh_nets_only(gap, rng):
    with ctx.workprec(CHECK_PRECISION):
        F = ArbNystrom.from_dict(gap.F_witness)
        phi = gap.phi.model()
        assert checker._TaylorGap.applies(F, phi) and checker._TaylorGap.applies(phi, F)
        swapped = checker._TaylorGap(phi, F)  # |phi - F| = |F - phi|
        box = balls_of(np.array([0.1, 0.1]), np.array([0.15, 0.2]))
        assert swapped.sup_abs(box) == gap.taylor.sup_abs(box)
        relu = ArbMLP.from_dict({**gap.phi.witness, "activation": "relu"})
        deep = ArbMLP.from_dict(
            mlp_dict([np.eye(2), np.eye(2), np.ones((12, 2))], [np.zeros(2)] * 2 + [np.zeros(12)])
        )
        laplace = ArbNystrom.from_dict({**gap.F_witness, "relation": "laplace:lengthscale=0.5"})
        assert not checker._TaylorGap.applies(F, relu)
        assert not checker._TaylorGap.applies(F, deep)
        assert not checker._TaylorGap.applies(laplace, phi)
        with pytest.raises(NotCheckableError, match="needs Gaussian Nystrom features"):
            checker._TaylorGap(laplace, phi)
        with pytest.raises(NotCheckableError, match="one hidden layer with tanh"):
            relu.tanh_taylor(box, 3)
        with pytest.raises(NotCheckableError, match="2 hidden layer"):
            deep.tanh_taylor(box, 3)
        with pytest.raises(ValueError, match="must be >= 0"):
            phi.tanh_taylor(box, -1)


# --- (e) end to end: route L2S, engine then checker -----------------------------------------------
@pytest.fixture(scope="module")
def l2s() -> tuple[Any, Net, NystromFeatures]:
    """A 1-D L2S certificate: d = 6 features, 40 tanh units (sup |F - phi| ~ 3e-4), eps 2.5e-3."""
    dec = mercer(SPEC, "box:-1,1", measure="chebyshev", rng=0)
    F = NystromFeatures.from_mercer(dec, rank=6)
    net = fit_tanh(F, 40, ridge=1e-8)
    phi = MLP([net.W, net.A], [net.b, net.c], activation="tanh")
    cert = certify_model(
        SPEC, "box:-1,1", phi, eps=2.5e-3, route="L2S", reference=F, progress=False
    )
    return cert, net, F


def _part(cert: Any, name: str) -> Any:
    return next(p for p in cert.parts if p.name == name)


def test_l2s_certificate_of_the_engine_is_confirmed(l2s, tmp_path):
    cert, _, _ = l2s
    assert cert.verdict == "HOLDS"
    _, _, planned = checker._plan(cert)
    kinds = {pp.part.name: type(pp.function) for pp in planned}
    assert kinds["Delta"] is checker._TaylorGap
    result = checker.check(cert, progress=False)
    assert result.status == "CONFIRMED", result.reason
    delta = next(p for p in result.details["parts"] if p["name"] == "Delta")
    assert delta["checked_upper"] <= _part(cert, "Delta").upper
    path = tmp_path / "l2s.json"
    cert.save(path)
    saved = checker.verify(Path(path), progress=False)
    assert saved.status == "CONFIRMED", saved.reason
    assert saved.checked_upper == result.checked_upper


def test_l2s_certificate_with_delta_below_the_true_sup_is_not_confirmed(l2s):
    cert, net, F = l2s
    nodes, C = np.asarray(F.nodes), np.asarray(F.coefficients)
    X = np.linspace(-1.0, 1.0, 4001)[:, None]
    x = X[int(np.argmax(gap_float(nodes, C, net, X)))]
    true_low = gap_ref(nodes, C, net, x).lower()  # sup |F - phi| >= this
    lowered = float(true_low) * 0.9
    part = _part(cert, "Delta")
    low = dataclasses.replace(part, upper=lowered, lower=min(part.lower, lowered))
    bad = dataclasses.replace(cert, parts=tuple(low if p is part else p for p in cert.parts))
    result = checker.check(bad, progress=False)
    assert result.status == "NOT_CONFIRMED"
    assert "part 'Delta'" in result.reason
    delta = next(p for p in result.details["parts"] if p["name"] == "Delta")
    assert delta["checked_upper"] > lowered
