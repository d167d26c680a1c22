"""The checker's Taylor-model enclosure of lemma L1's diagonal residual (Gaussian Nystrom features).

f(x) = r(x, x) - |F(x)|^2 for Nystrom features F of the Gaussian kernel. The features are
built by the engine (``certify.spectral``: ``mercer``, then ``NystromFeatures.from_mercer``)
and serialised by ``certify.certificates.model.nystrom_witness``, the dictionary a
certificate stores; the checker's objects are built from that dictionary. Reference values
at points are balls computed here from the dictionary in arb (exp of the squared distance to
each node, one ``arb_mat`` product by C^T): a code path that shares nothing with the Taylor
models, so "the enclosure contains the reference ball" is a containment check without any
tolerance (the reference balls have radii ~1e-30). Float evaluations only locate maxima.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from flint import arb, arb_mat, ctx

from certify.certificates import checker
from certify.certificates.arb_models import (
    CHECK_PRECISION,
    ArbNystrom,
    NotCheckableError,
    arb_relation,
    gaussian_taylor_1d,
    interval_ball,
    multi_indices,
)
from certify.certificates.model import nystrom_witness
from certify.certificates.record import (
    L1_HYPOTHESIS,
    Certificate,
    Cover,
    Hypothesis,
    Instance,
    Part,
)
from certify.relations.spec import parse_relation
from certify.spectral import NystromFeatures, certified_uniform_tail, mercer

from . import uniform_cover

ELL = 0.5
SPEC = f"gaussian:lengthscale={ELL!r}"
SQUARE = "box:-1,1;-1,1"
EPS = 1e-3
#: Stored leaf bounds of the hand-made covers are 1.25 x the leaf's sampled maximum
#: (``grid_part`` in test_nystrom_route.py); a leaf stored that way must be confirmed by the
#: checker without bisecting, so 1.25 is the tightness a leaf enclosure has to reach.
LEAF_FACTOR = 1.25


# --- instances -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Features:
    """A Nystrom witness dictionary, its arrays, the checker's models and an arb reference."""

    witness: dict[str, Any]
    nodes: np.ndarray
    coefficients: np.ndarray
    model: ArbNystrom
    taylor: checker._NystromDiagonalResidual
    mean_value: checker._DiagonalResidual
    coef_t: arb_mat

    @classmethod
    def of(cls, witness: dict[str, Any]) -> Features:
        nodes = np.array([[float.fromhex(v) for v in row] for row in witness["nodes"]])
        coef = np.array([[float.fromhex(v) for v in row] for row in witness["coefficients"]])
        dim = nodes.shape[1]
        with ctx.workprec(CHECK_PRECISION):
            model = ArbNystrom.from_dict(witness)
            relation = arb_relation(parse_relation(witness["relation"]), dim, dim)
            n, m = coef.shape
            coef_t = arb_mat(m, n, [float(coef[j, i]) for i in range(m) for j in range(n)])
        return cls(
            witness,
            nodes,
            coef,
            model,
            checker._NystromDiagonalResidual(relation, model),
            checker._DiagonalResidual(relation, model),
            coef_t,
        )

    def features_ref(self, x: np.ndarray) -> list[arb]:
        """Balls containing F_i(x) = sum_j C[j, i] exp(-|x - n_j|^2 / (2 l^2)), in arb."""
        xs = [arb(float(v)) for v in x]
        scale = 1 / (2 * arb(ELL) ** 2)
        column = []
        for node in self.nodes:
            s = arb(0)
            for a, b in zip(xs, node, strict=True):
                s += (a - arb(float(b))) ** 2
            column.append((-s * scale).exp())
        return list((self.coef_t * arb_mat(len(column), 1, column)).entries())

    def f_ref(self, x: np.ndarray) -> arb:
        """A ball containing f(x) = 1 - |F(x)|^2 (r(x, x) = 1 for the Gaussian kernel)."""
        total = arb(1)
        for v in self.features_ref(x):
            total -= v * v
        return total

    def f_float(self, X: np.ndarray) -> np.ndarray:
        """Float estimates of f on the rows of X (to locate maxima only)."""
        out = np.empty(len(X))
        for start in range(0, len(X), 1024):  # chunks: the distance array is rows x nodes x dim
            rows = X[start : start + 1024]
            d2 = np.sum((rows[:, None, :] - self.nodes[None, :, :]) ** 2, axis=-1)
            F = np.exp(-d2 / (2 * ELL**2)) @ self.coefficients
            out[start : start + 1024] = 1.0 - np.sum(F**2, axis=1)
        return out


def hand_nystrom(nodes: np.ndarray, rank: int) -> dict[str, Any]:
    """Nystrom features on given nodes with uniform weights: top eigenpairs of K / n, shrunk."""
    n = len(nodes)
    d2 = np.sum((nodes[:, None, :] - nodes[None, :, :]) ** 2, axis=-1)
    lam, U = np.linalg.eigh(np.exp(-d2 / (2 * ELL**2)) / n)
    lam, U = lam[::-1][:rank], U[:, ::-1][:, :rank]
    C = U / np.sqrt(n * lam) * (1 - 1e-9)
    return {
        "format": "certify.nystrom/1",
        "relation": SPEC,
        "nodes": [[float(v).hex() for v in row] for row in nodes],
        "coefficients": [[float(v).hex() for v in row] for row in C],
    }


@pytest.fixture(scope="module")
def square() -> Features:
    """The 2-D instance: Gaussian (l = 0.5) on [-1, 1]^2, d = 49 of a rank-60 decomposition."""
    dec = mercer(SPEC, SQUARE, rank=60)
    return Features.of(nystrom_witness(NystromFeatures.from_mercer(dec, rank=49)))


@pytest.fixture(scope="module")
def line() -> Features:
    """The 1-D instance: Gaussian (l = 0.5) on [-1, 1], d = 9."""
    dec = mercer(SPEC, "box:-1,1", rank=9)
    return Features.of(nystrom_witness(NystromFeatures.from_mercer(dec, rank=9)))


@pytest.fixture(scope="module")
def others() -> dict[str, Features]:
    """Node sets that exercise the other summation paths.

    ``scattered``: 40 random nodes in 2-D (node-by-node sums); ``holey``: a 6 x 6 grid with
    4 nodes removed and one node repeated, random coefficients (grid contraction with empty
    and doubled grid points); ``cube``: a 4 x 4 x 4 Gauss-Legendre grid (3-D contraction).
    """
    gen = np.random.default_rng(7)
    scattered = hand_nystrom(gen.uniform(-1, 1, (40, 2)), 12)
    g6 = np.polynomial.legendre.leggauss(6)[0]
    grid = np.stack(np.meshgrid(g6, g6, indexing="ij"), axis=-1).reshape(-1, 2)
    holey_nodes = np.vstack([np.delete(grid, [3, 10, 17, 30], axis=0), grid[[5]]])
    holey = {
        "format": "certify.nystrom/1",
        "relation": SPEC,
        "nodes": [[float(v).hex() for v in row] for row in holey_nodes],
        "coefficients": [
            [float(v).hex() for v in row] for row in gen.normal(0, 0.2, (len(holey_nodes), 5))
        ],
    }
    g4 = np.polynomial.legendre.leggauss(4)[0]
    cube = hand_nystrom(np.stack(np.meshgrid(g4, g4, g4, indexing="ij"), -1).reshape(-1, 3), 10)
    return {
        name: Features.of(w)
        for name, w in (("scattered", scattered), ("holey", holey), ("cube", cube))
    }


def random_boxes(
    rng: np.random.Generator, dim: int, count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Boxes with widths log-uniform in [1e-3, 0.4] per coordinate, centres in [-1, 1]^dim."""
    for _ in range(count):
        widths = 10.0 ** rng.uniform(-3.0, math.log10(0.4), dim)
        centre = rng.uniform(-1.0, 1.0, dim)
        yield centre - widths / 2, centre + widths / 2


def points_of(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, count: int) -> np.ndarray:
    """The corners, the centre and ``count`` random points of the box [lo, hi]."""
    corners = [np.array(c) for c in itertools.product(*zip(lo, hi, strict=True))]
    inside = [lo + (hi - lo) * rng.uniform(0, 1, len(lo)) for _ in range(count)]
    return np.array([*corners, (lo + hi) / 2, *inside])


def balls_of(lo: np.ndarray, hi: np.ndarray) -> list[arb]:
    return [interval_ball(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


# --- building blocks ---------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("degree", [0, 1, 4, 7])
def test_multi_indices_are_all_the_monomials(dim, degree):
    full = multi_indices(dim, degree)
    exact = multi_indices(dim, degree, exact=True)
    assert len(full) == len(set(full)) == math.comb(degree + dim, dim)
    assert len(exact) == math.comb(degree + dim - 1, dim - 1)
    assert all(sum(a) <= degree and min(a) >= 0 and len(a) == dim for a in full)
    assert exact == [a for a in full if sum(a) == degree]
    assert [sum(a) for a in full] == sorted(sum(a) for a in full)  # graded order


def test_multi_indices_reject_bad_arguments():
    with pytest.raises(ValueError, match="dim >= 1 and degree >= 0"):
        multi_indices(0, 2)
    with pytest.raises(ValueError, match="dim >= 1 and degree >= 0"):
        multi_indices(2, -1)


def _hermite_coefficient(t: arb, q: int) -> arb:
    """g^(q)(t) / q! by the closed form (-1)^q (l sqrt 2)^-q H_q(u) e^(-u^2), u = t / (l sqrt 2)."""
    s = arb(ELL) * arb(2).sqrt()
    u = t / s
    return (-1) ** q * u.hermite_h(q) * (-u * u).exp() / (s**q * arb.fac_ui(q))


@pytest.mark.parametrize("t", [0.0, 0.03125, -0.7, 1.3, -2.9])
@pytest.mark.parametrize("half_width", [1e-3, 0.05, 0.2])
def test_one_variable_factors_match_the_hermite_form_and_enclose_it(t, half_width):
    order = 6
    with ctx.workprec(CHECK_PRECISION):
        inv_ell2 = 1 / arb(ELL) ** 2
        a, b = gaussian_taylor_1d(arb(t), arb(0, half_width), inv_ell2, order)
        assert len(a) == order + 1 and len(b) == order + 2
        for q, value in enumerate(a):  # the recurrence at a point is the closed form
            assert value.overlaps(_hermite_coefficient(arb(t), q)), q
            assert value.rad() < 1e-30
        for s in np.linspace(t - half_width, t + half_width, 41):
            for q, ball in enumerate(b):
                assert ball.contains(_hermite_coefficient(arb(float(s)), q)), (s, q)
        with pytest.raises(ValueError, match="must be >= 0"):
            gaussian_taylor_1d(arb(t), arb(0, half_width), inv_ell2, -1)


def test_node_sets_take_the_intended_summation_path(square, line, others):
    # tensor grids are contracted axis by axis (2-D: per feature V_1 T_i V_2^T), scattered
    # nodes are summed node by node; the containment tests below run on all of them
    with ctx.workprec(CHECK_PRECISION):
        grids = {name: f.model._grid for name, f in _instances(square, line, others).items()}
    assert grids["scattered"] is None
    assert grids["square"] is not None and grids["square"][0] == (24, 24)
    assert grids["line"] is not None and grids["cube"] is not None
    assert grids["holey"] is not None and grids["holey"][0] == (6, 6)


# --- containment ---------------------------------------------------------------------------------
def _instances(
    square: Features, line: Features, others: dict[str, Features]
) -> dict[str, Features]:
    return {"square": square, "line": line, **others}


@pytest.mark.parametrize("name", ["square", "line", "scattered", "holey", "cube"])
def test_taylor_model_of_the_features_encloses_them(name, square, line, others, rng):
    # F_i(x) - P_i(x - c) is the Lagrange remainder: |.| <= rho_i at every point of the box.
    # The exact difference lies in the ball below; only a ball certainly outside
    # [-rho_i, rho_i] would refute the model, and that is what is asserted against.
    feats = _instances(square, line, others)[name]
    model = feats.model
    with ctx.workprec(CHECK_PRECISION):
        for lo, hi in random_boxes(rng, model.in_dim, 6):
            order = feats.taylor.order
            tm = model.gaussian_taylor(balls_of(lo, hi), order)
            assert len(tm.remainder) == model.out_dim and tm.order == order
            coef = tm.coefficients
            for x in points_of(rng, lo, hi, 6):
                ys = [arb(float(v)) - c for v, c in zip(x, tm.centre, strict=True)]
                monomials = [
                    math.prod((y**e for y, e in zip(ys, alpha, strict=True)), start=arb(1))
                    for alpha in tm.exponents
                ]
                for i, value in enumerate(feats.features_ref(x)):
                    poly = sum(
                        (coef[i, k] * mono for k, mono in enumerate(monomials)), start=arb(0)
                    )
                    assert (value - poly).abs_lower() <= tm.remainder[i], (lo, hi, x, i)


@pytest.mark.parametrize("name", ["square", "line", "scattered", "holey", "cube"])
def test_enclosure_of_the_diagonal_residual_contains_f(name, square, line, others, rng):
    feats = _instances(square, line, others)[name]
    with ctx.workprec(CHECK_PRECISION):
        for lo, hi in random_boxes(rng, feats.model.in_dim, 8):
            balls = balls_of(lo, hi)
            enclosure = feats.taylor.taylor_enclosure(balls)
            bound = feats.taylor.sup_abs(balls)
            assert enclosure.is_finite()
            for x in points_of(rng, lo, hi, 8):
                value = feats.f_ref(x)
                assert enclosure.contains(value), (lo, hi, x)
                assert abs(value).upper() <= bound
                # the checker's point values (abs_at) are unchanged: the same ball model
                assert feats.taylor.abs_at([arb(float(v)) for v in x]).overlaps(abs(value))


# --- tightness: what the Taylor form buys ---------------------------------------------------------
def _sampled_max(feats: Features, lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[arb, np.ndarray]:
    """f at the float argmax of an n^dim grid of the box, enclosed in arb (a true value of f)."""
    axes = [np.linspace(a, b, n) for a, b in zip(lo, hi, strict=True)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(lo))
    x = X[int(np.argmax(feats.f_float(X)))]
    with ctx.workprec(CHECK_PRECISION):
        return feats.f_ref(x), x


def test_box_around_the_maximiser_is_tight_and_the_mean_value_form_is_not(square):
    # the sampled maximiser of f on [-1, 1]^2 (a corner: f ~ 9.5e-4 there); the box of
    # half-width 0.05 around it, moved inside the square
    _, x_star = _sampled_max(square, np.array([-1.0, -1.0]), np.array([1.0, 1.0]), 201)
    centre = np.clip(x_star, -0.95, 0.95)
    lo, hi = centre - 0.05, centre + 0.05
    top, _ = _sampled_max(square, lo, hi, 101)
    with ctx.workprec(CHECK_PRECISION):
        balls = balls_of(lo, hi)
        taylor = square.taylor.sup_abs(balls)
        mean_value = square.mean_value.sup_abs(balls)
    assert top.lower() <= taylor  # a true value of f can't exceed a proven bound
    assert taylor <= LEAF_FACTOR * top.upper()  # measured: 1.001 x at p = 6
    assert taylor <= EPS
    assert not mean_value <= LEAF_FACTOR * top.upper()  # measured: ~20, i.e. 2e4 x


def test_one_dimensional_cover_is_tight_and_the_mean_value_form_is_not(line):
    edges = np.linspace(-1.0, 1.0, 33)  # 32 boxes of half-width 1/32
    top = arb(0)
    with ctx.workprec(CHECK_PRECISION):
        worst = worst_mv = arb(0)
        for a, b in itertools.pairwise(edges):
            balls = [interval_ball(float(a), float(b))]
            worst = worst.max(line.taylor.sup_abs(balls))
            worst_mv = worst_mv.max(line.mean_value.sup_abs(balls))
            leaf_top, _ = _sampled_max(line, np.array([a]), np.array([b]), 201)
            top = top.max(leaf_top)
    assert top.lower() <= worst <= LEAF_FACTOR * top.upper()  # measured: 1.00003 x (1.0083e-5)
    assert not worst_mv <= LEAF_FACTOR * top.upper()  # measured: 2.6, i.e. 2.6e5 x


@pytest.mark.slow
def test_uniform_grid_of_half_width_one_twelfth_covers_the_square_at_1e_3(square):
    # 12 x 12 boxes of half-width 1/12 ~ 0.083; at p = 6 the worst bound is 9.79e-4 (the
    # corner boxes; the sampled max of f is 9.54e-4), at p = 5 it would be 1.12e-3
    edges = np.linspace(-1.0, 1.0, 13)
    with ctx.workprec(CHECK_PRECISION):
        worst = arb(0)
        for (a0, b0), (a1, b1) in itertools.product(itertools.pairwise(edges), repeat=2):
            worst = worst.max(
                square.taylor.sup_abs(balls_of(np.array([a0, a1]), np.array([b0, b1])))
            )
        corner = balls_of(np.array([-1.0, 5 / 6]), np.array([-5 / 6, 1.0]))
        mean_value = square.mean_value.sup_abs(corner)
    assert worst <= EPS
    assert not mean_value <= EPS


def l1_certificate(
    witness: dict[str, Any],
    tree: Sequence[int],
    splits: Sequence[float],
    leaf_upper: Sequence[float],
    upper: float,
) -> Certificate:
    """A HOLDS certificate at eps = 1e-3 of lemma L1 on [-1, 1]^2 with the L1' justification."""
    part = Part(
        name="T",
        function="diagonal_residual",
        args={"features": "phi"},
        domain_lower=(-1.0, -1.0),
        domain_upper=(1.0, 1.0),
        cover=Cover(
            tree=tuple(int(v) for v in tree),
            splits=tuple(float(v) for v in splits),
            leaf_upper=tuple(float(v) for v in leaf_upper),
        ),
        lower=0.0,
        upper=upper,
        point=None,
    )
    return Certificate(
        verdict="HOLDS",
        eps=EPS,
        lower=0.0,
        upper=upper,
        witness_point=None,
        claim="sup |k - <F, F>| <= eps via lemmas L1' and L1",
        theorem="T-S",
        lemmas=("L1", "L1'"),
        instance=Instance(SPEC, SQUARE, SQUARE),
        witness={"phi": witness},
        route="L1",
        hypotheses=(Hypothesis(L1_HYPOTHESIS, {"kind": "nystrom-l1prime", "features": "phi"}),),
        parts=(part,),
        created="2024-06-01T12:00:00Z",
    )


@pytest.mark.slow
def test_checker_confirms_an_l1_certificate_on_a_16_by_16_cover_without_bisecting(square):
    tree, splits, leaves = uniform_cover([-1.0, -1.0], [1.0, 1.0], 8)
    leaf_upper = []
    for lo, hi in leaves:
        axes = [np.linspace(a, b, 9) for a, b in zip(lo, hi, strict=True)]
        X = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        leaf_upper.append(LEAF_FACTOR * float(np.max(np.abs(square.f_float(X)))))
    result = checker.check(
        l1_certificate(square.witness, tree, splits, leaf_upper, EPS), progress=False
    )
    assert result.status == "CONFIRMED", result.reason
    assert result.details["parts"][0]["refined_subboxes"] == 0
    assert result.checked_upper <= EPS


@pytest.mark.slow
def test_checker_confirms_the_engines_cover_of_the_tail_without_bisecting():
    # the engine's own certified tail T(49) (its Taylor-model enclosure, 260 leaves of widths
    # 0.0625..0.125, upper 9.71e-4): every leaf is confirmed below the engine's leaf bound
    # (the checker's p = 6 against the engine's order; measured: 9.55e-4 overall)
    tail = certified_uniform_tail(mercer(SPEC, SQUARE, rank=60), 49, eps=EPS)
    cover = tail.enclosure.cover
    cert = l1_certificate(
        nystrom_witness(tail.features), cover.tree, cover.splits, cover.leaf_bound, tail.value
    )
    result = checker.check(cert, progress=False)
    assert result.status == "CONFIRMED", result.reason
    details = result.details["parts"][0]
    assert details["refined_subboxes"] == 0
    assert details["leaves_above_stored_leaf_bound"] == 0
    assert tail.lower <= result.checked_upper <= tail.value


# --- wiring and error paths ----------------------------------------------------------------------
def _l1_plan(witness: dict[str, Any], relation: str) -> Any:
    part = Part(
        name="T",
        function="diagonal_residual",
        args={"features": "phi"},
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover(tree=(-1,), leaf_upper=(1.0,)),
        lower=0.0,
        upper=1.0,
        point=None,
    )
    cert = Certificate(
        verdict="UNKNOWN",
        eps=1.0,
        lower=0.0,
        upper=1.0,
        witness_point=None,
        claim="wiring",
        theorem="T-S",
        lemmas=("L1",),
        instance=Instance(relation, "box:-1,1", "box:-1,1"),
        witness={"phi": witness},
        route="L1",
        hypotheses=(Hypothesis(L1_HYPOTHESIS, None),),
        parts=(part,),
        created="2024-06-01T12:00:00Z",
    )
    _, _, planned = checker._plan(cert)
    return planned[0].function


def test_the_taylor_form_is_used_for_gaussian_nystrom_features_only(line):
    laplace = {**line.witness, "relation": "laplace:lengthscale=0.5"}
    assert type(_l1_plan(line.witness, SPEC)) is checker._NystromDiagonalResidual
    assert type(_l1_plan(laplace, "laplace:lengthscale=0.5")) is checker._DiagonalResidual
    assert type(_l1_plan(laplace, SPEC)) is checker._DiagonalResidual  # features not Gaussian
    with ctx.workprec(CHECK_PRECISION):
        model = ArbNystrom.from_dict(laplace)
        with pytest.raises(NotCheckableError, match="need the Gaussian kernel"):
            model.gaussian_taylor([interval_ball(0.0, 0.1)], 4)
        with pytest.raises(ValueError, match="Taylor order must be >= 0"):
            line.model.gaussian_taylor([interval_ball(0.0, 0.1)], -1)
