"""Tests of certify._kernels.interval_mlp: rigorous enclosures of an MLP and its Jacobian.

The reference is an independent evaluation in 200-bit mpmath from the float weights and
inputs (an error of ~2^-200 relative, far below any enclosure's width), so containment is
checked with no tolerance at all, for both twins and all three methods.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certify._kernels.interval_mlp import (
    BEST,
    MEAN_VALUE,
    METHOD_CODES,
    NAIVE,
    enclose_jacobian_numba,
    enclose_jacobian_numpy,
    enclose_numba,
    enclose_numpy,
    mlp_jacobian_numpy,
    pack_layers,
)
from certify._kernels.mlp import ACTIVATION_CODES
from certify.errors import InvalidInputError

EPS = np.finfo(np.float64).eps
ACTIVATIONS = sorted(ACTIVATION_CODES)
METHODS = {"naive": NAIVE, "mean_value": MEAN_VALUE, "best": BEST}
TWINS = {"numba": enclose_numba, "numpy": enclose_numpy}
JAC_TWINS = {"numba": enclose_jacobian_numba, "numpy": enclose_jacobian_numpy}


# --- the 200-bit reference -------------------------------------------------------------------
def _mp_act(name: str, z: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(act(z), act'(z)); ReLU' at exactly 0 taken as 0 (any value in [0, 1] is valid)."""
    if name == "tanh":
        t = mpmath.tanh(z)
        return t, 1 - t * t
    if name == "sigmoid":
        s = 1 / (1 + mpmath.exp(-z))
        return s, s * (1 - s)
    if name == "relu":
        return (z, mpmath.mpf(1)) if z > 0 else (mpmath.mpf(0), mpmath.mpf(0))
    return z, mpmath.mpf(1)


class Reference:
    """phi and its Jacobian in 200-bit mpmath, from the float weights (exact as mpf)."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray], act: str) -> None:
        self.W = [[[mpmath.mpf(float(w)) for w in row] for row in W] for W in weights]
        self.b = [[mpmath.mpf(float(v)) for v in b] for b in biases]
        self.act = act

    def __call__(self, x: np.ndarray) -> tuple[list[mpmath.mpf], list[list[mpmath.mpf]]]:
        """(phi(x), D phi(x)) with D phi as a list of rows."""
        with mpmath.workprec(200):
            d = len(x)
            h = [mpmath.mpf(float(v)) for v in x]
            J = [[mpmath.mpf(int(i == j)) for j in range(d)] for i in range(d)]
            for layer, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
                z = [mpmath.fdot(row, h) + bo for row, bo in zip(W, b, strict=True)]
                Jz = [[mpmath.fdot(row, [J[k][j] for k in range(len(h))]) for j in range(d)]
                      for row in W]  # fmt: skip
                if layer == len(self.W) - 1:
                    return z, Jz
                pairs = [_mp_act(self.act, v) for v in z]
                h = [p[0] for p in pairs]
                J = [[p[1] * v for v in row] for p, row in zip(pairs, Jz, strict=True)]
        raise AssertionError("unreachable")


def _inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpmath.mpf(lo) <= value <= mpmath.mpf(hi)


def random_network(
    rng: np.random.Generator, widths: list[int], scale: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [
        scale * rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)
        for n_in, n_out in itertools.pairwise(widths)
    ]
    biases = [scale * rng.standard_normal(n_out) for n_out in widths[1:]]
    return weights, biases


def points_in_box(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every corner, the centre and three uniform points of the box [lo, hi] (floats)."""
    corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))
    centre = np.clip(0.5 * lo + 0.5 * hi, lo, hi)[None, :]
    inner = np.clip(rng.uniform(lo, hi, size=(3, lo.size)), lo, hi)
    return np.vstack([corners, centre, inner])


# --- containment -----------------------------------------------------------------------------
@st.composite
def cases(draw: st.DrawFn, act: str, depth: int) -> tuple:
    d = draw(st.integers(1, 4))
    widths = [d, *(draw(st.integers(1, 32)) for _ in range(depth)), draw(st.integers(1, 5))]
    scale = draw(st.sampled_from([0.3, 1.0, 3.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    # Three boxes per case: tiny to wide, one with some coordinates degenerate.
    log_widths = [draw(st.floats(-13.0, 0.5)) for _ in range(3)]
    return widths, scale, seed, log_widths


def _case_boxes(rng: np.random.Generator, d: int, log_widths: list[float]) -> tuple:
    centre = rng.uniform(-2.0, 2.0, size=(len(log_widths), d))
    half = 10.0 ** np.array(log_widths)[:, None] * rng.uniform(0.2, 1.0, size=(len(log_widths), d))
    half[-1, rng.uniform(size=d) < 0.5] = 0.0  # degenerate coordinates
    return np.ascontiguousarray(centre - half), np.ascontiguousarray(centre + half)


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_enclosures_contain_exact_values_and_jacobians(act: str, depth: int) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cases(act, depth))
    def check(case: tuple) -> None:
        widths, scale, seed, log_widths = case
        rng = np.random.default_rng(seed)
        weights, biases = random_network(rng, widths, scale)
        net = pack_layers(weights, biases)
        code = ACTIVATION_CODES[act]
        lo, hi = _case_boxes(rng, widths[0], log_widths)
        ref = Reference(weights, biases, act)
        enclosures = {
            (twin, meth): fn(*net, code, lo, hi, mcode)
            for twin, fn in TWINS.items()
            for meth, mcode in METHODS.items()
        }
        jacobians = {twin: fn(*net, code, lo, hi) for twin, fn in JAC_TWINS.items()}
        for b in range(lo.shape[0]):
            for x in points_in_box(lo[b], hi[b], rng):
                value, jac = ref(x)
                for (twin, meth), (out_lo, out_hi) in enclosures.items():
                    for o, v in enumerate(value):
                        assert _inside(v, out_lo[b, o], out_hi[b, o]), (twin, meth, b, o, x)
                for twin, (J_lo, J_hi) in jacobians.items():
                    for o, row in enumerate(jac):
                        for j, v in enumerate(row):
                            assert _inside(v, J_lo[b, o, j], J_hi[b, o, j]), (twin, b, o, j, x)

    check()


def test_relu_clarke_derivative_at_a_kink() -> None:
    # phi(x) = relu(x) - 0.5 x has a kink at 0: both one-sided slopes 0.5 and -0.5 enclosed.
    net = pack_layers([np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    relu = ACTIVATION_CODES["relu"]
    for jfn in JAC_TWINS.values():
        J_lo, J_hi = jfn(*net, relu, np.array([[0.0]]), np.array([[0.0]]))
        assert J_lo[0, 0, 0] <= 0.0 and J_hi[0, 0, 0] >= 1.0
    # The mean-value form is valid across the kink: phi(x) = relu(x) on [-1, 1].
    for fn in TWINS.values():
        out_lo, out_hi = fn(*net, relu, np.array([[-1.0]]), np.array([[1.0]]), MEAN_VALUE)
        assert out_lo[0, 0] <= 0.0 and out_hi[0, 0] >= 1.0


# --- widths ----------------------------------------------------------------------------------
ACT_FLOAT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}
# (slope bound, ulps added per hidden unit); see point_width_bound. Only tanh and sigmoid
# add any, and their values are <= 1, hence the min(., 1) below.
WIDTH_TERMS = {"tanh": (1.0, 44), "sigmoid": (0.25, 84), "relu": (1.0, 0), "linear": (1.0, 0)}


def point_width_bound(
    weights: list[np.ndarray], biases: list[np.ndarray], act: str, x: np.ndarray
) -> np.ndarray:
    """A bound on the width of the enclosure of phi at a point x (a degenerate box).

    Derivation (module docstring of interval_mlp): with input widths w and magnitudes
    a >= max(|lo|, |hi|), a layer's computed ends differ from the exact interval ends by
    at most E = (n + 2) u T (1 + 2^-20) + n 2^-1073 each, T = |W| a + |b|, plus one
    rounding of ``s -+ E`` and one ``down``/``up`` step, 2 eps |s| <= 2 eps T each; so
    ``w_z <= |W| w + (n + 2) eps T + 4 eps T + 8 eps T`` (the last term covers the
    widening of E itself and the second-order terms): ``w_z <= |W| w + (n + 14) eps T``.
    Activations: tanh adds 2 (4 ulp libm error + 16 ulp widening + 2 ulp rounding) of
    max |tanh| <= 1, i.e. 44 eps; sigmoid (slope 1/4) adds 2 (4 + 2 + 2 x 16 + 4) = 84
    eps; ReLU and linear add nothing. For |x| <= 2, widths <= 32 and Glorot-scale weights
    this is a few dozen ulps of T per layer.
    """
    slope, extra = WIDTH_TERMS[act]
    w = np.zeros_like(x)
    h = x.astype(np.float64)
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        T = np.abs(W) @ (np.abs(h) + w) + np.abs(b)
        w_z = np.abs(W) @ w + (W.shape[1] + 14) * EPS * T
        z = W @ h + b
        if layer == len(weights) - 1:
            return w_z
        h = ACT_FLOAT[act](z)
        w = slope * w_z + extra * EPS * np.minimum(np.abs(h) + slope * w_z, 1.0)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_point_enclosures_are_a_few_dozen_ulps_wide(act: str, rng: np.random.Generator) -> None:
    weights, biases = random_network(rng, [2, 32, 10], 1.0)
    net = pack_layers(weights, biases)
    X = rng.uniform(-2.0, 2.0, size=(50, 2))
    for twin, fn in TWINS.items():
        for meth, mcode in METHODS.items():
            out_lo, out_hi = fn(*net, ACTIVATION_CODES[act], X, X, mcode)
            for i, x in enumerate(X):
                bound = point_width_bound(weights, biases, act, x)
                width = out_hi[i] - out_lo[i]
                assert np.all(width <= bound), (twin, meth, i, width / bound)
    # The bound itself: for this net the final layer's T is O(1), so the width is a few
    # dozen ulps (of 1) at most, not thousands.
    T_last = np.abs(weights[-1]) @ np.ones(32) + np.abs(biases[-1])
    assert np.all(point_width_bound(weights, biases, act, X[0]) <= 200 * EPS * T_last)


@pytest.mark.parametrize("twin", sorted(TWINS))
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_best_is_the_intersection(twin: str, act: str, rng: np.random.Generator) -> None:
    weights, biases = random_network(rng, [3, 20, 20, 4], 1.0)
    net = pack_layers(weights, biases)
    lo = rng.uniform(-1.0, 1.0, size=(200, 3))
    hi = lo + 10.0 ** rng.uniform(-8.0, 0.0, size=(200, 1))
    fn = TWINS[twin]
    code = ACTIVATION_CODES[act]
    n_lo, n_hi = fn(*net, code, lo, hi, NAIVE)
    m_lo, m_hi = fn(*net, code, lo, hi, MEAN_VALUE)
    b_lo, b_hi = fn(*net, code, lo, hi, BEST)
    # Same arithmetic, deterministic: the intersection exactly, so never wider than either.
    np.testing.assert_array_equal(b_lo, np.maximum(n_lo, m_lo))
    np.testing.assert_array_equal(b_hi, np.minimum(n_hi, m_hi))
    assert np.all(b_lo <= b_hi)


@pytest.mark.parametrize("widths", [[2, 32, 10], [2, 32, 32, 4]])
def test_mean_value_beats_naive_on_small_boxes(widths: list[int], rng: np.random.Generator) -> None:
    # On a box of width h the naive width is ~ |W_L| |D| |W_0| h (signs lost), the
    # mean-value width ~ |W_L D W_0| h + O(h^2) (cancellation kept): a random tanh net of
    # this size loses a factor 5 to 15 to naive (measured); the test fails if MV is broken.
    weights, biases = random_network(rng, widths, 1.0)
    net = pack_layers(weights, biases)
    lo = rng.uniform(-1.0, 1.0, size=(500, 2))
    hi = lo + 1e-3
    tanh = ACTIVATION_CODES["tanh"]
    for fn in TWINS.values():
        n_lo, n_hi = fn(*net, tanh, lo, hi, NAIVE)
        m_lo, m_hi = fn(*net, tanh, lo, hi, MEAN_VALUE)
        ratio = np.sum(m_hi - m_lo) / np.sum(n_hi - n_lo)
        assert ratio < 0.5, f"mean-value / naive total width {ratio:.3f}"


def test_twins_agree_on_widths(rng: np.random.Generator) -> None:
    # Same formulas in a different summation order: widths equal up to the rounding terms.
    weights, biases = random_network(rng, [2, 16, 16, 3], 1.0)
    net = pack_layers(weights, biases)
    lo = rng.uniform(-1.0, 1.0, size=(100, 2))
    hi = lo + 0.01
    for act in ACTIVATIONS:
        for mcode in METHODS.values():
            a = enclose_numba(*net, ACTIVATION_CODES[act], lo, hi, mcode)
            b = enclose_numpy(*net, ACTIVATION_CODES[act], lo, hi, mcode)
            # Widths >= 1e-4 here; the twins differ by rounding only (<< 1e-10 relative).
            np.testing.assert_allclose(a[1] - a[0], b[1] - b[0], rtol=1e-10, atol=0.0)


# --- special inputs --------------------------------------------------------------------------
def test_linear_network_and_zero_boxes(rng: np.random.Generator) -> None:
    weights, biases = random_network(rng, [3, 4], 1.0)
    net = pack_layers(weights, biases)
    X = rng.uniform(-1.0, 1.0, size=(5, 3))
    for jfn in JAC_TWINS.values():
        J_lo, J_hi = jfn(*net, ACTIVATION_CODES["tanh"], X, X)
        # One affine layer: the Jacobian is W exactly, whatever the activation code.
        np.testing.assert_array_equal(J_lo, np.broadcast_to(weights[0], J_lo.shape))
        np.testing.assert_array_equal(J_hi, J_lo)
    for fn in TWINS.values():
        out_lo, out_hi = fn(*net, 1, np.empty((0, 3)), np.empty((0, 3)), BEST)
        assert out_lo.shape == out_hi.shape == (0, 4)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_cancellation_is_enclosed(act: str) -> None:
    # 1 + 2^-60 - 1 rounds to 0 in floats; the exact 2^-60 must still be enclosed, in the
    # output layer and (through the hidden layer) in the pre-activation of the next one.
    # One ulp of widening per operation would not do: the rounding-error term E is needed.
    x = np.array([[1.0, 2.0**-60, 1.0]])
    one_layer = pack_layers([np.array([[1.0, 1.0, -1.0]])], [np.zeros(1)])
    two_layers = pack_layers(
        [np.array([[1.0, 1.0, -1.0]]), np.array([[2.0**60]])], [np.zeros(1), np.zeros(1)]
    )
    exact_hidden = {"tanh": mpmath.tanh, "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z))}.get(
        act, lambda z: z
    )
    with mpmath.workprec(200):
        exact_two = mpmath.mpf(2) ** 60 * exact_hidden(mpmath.mpf(2) ** -60)
    for twin, fn in TWINS.items():
        for meth, mcode in METHODS.items():
            out_lo, out_hi = fn(*one_layer, ACTIVATION_CODES[act], x, x, mcode)
            assert _inside(mpmath.mpf(2) ** -60, out_lo[0, 0], out_hi[0, 0]), (twin, meth)
            out_lo, out_hi = fn(*two_layers, ACTIVATION_CODES[act], x, x, mcode)
            assert _inside(exact_two, out_lo[0, 0], out_hi[0, 0]), (twin, meth)


def test_overflow_gives_the_whole_line() -> None:
    big = 1e300
    net = pack_layers([np.array([[big, big]]), np.array([[big]])], [np.zeros(1), np.zeros(1)])
    X = np.array([[big, big]])
    for fn in TWINS.values():
        for mcode in METHODS.values():
            out_lo, out_hi = fn(*net, ACTIVATION_CODES["relu"], X, X, mcode)
            assert out_lo[0, 0] == -np.inf and out_hi[0, 0] == np.inf
    for jfn in JAC_TWINS.values():
        J_lo, J_hi = jfn(*net, ACTIVATION_CODES["relu"], X, X)
        # The true derivative, 1e600, is not a float: only the whole line encloses it.
        assert J_lo[0, 0, 0] == -np.inf and J_hi[0, 0, 0] == np.inf


def test_point_jacobian_against_reference(rng: np.random.Generator) -> None:
    for act in ACTIVATIONS:
        weights, biases = random_network(rng, [3, 12, 7, 2], 1.0)
        X = rng.uniform(-1.0, 1.0, size=(4, 3))
        J = mlp_jacobian_numpy(X, weights, biases, ACTIVATION_CODES[act])
        ref = Reference(weights, biases, act)
        for i, x in enumerate(X):
            exact = np.array([[float(v) for v in row] for row in ref(x)[1]])
            # Forward mode in floats: a few hundred eps relative to sum |W| |D| |W| <= ~10.
            np.testing.assert_allclose(J[i], exact, rtol=0.0, atol=1e3 * EPS)


def test_invalid_codes_and_layers() -> None:
    net = pack_layers([np.ones((1, 1))], [np.zeros(1)])
    X = np.zeros((1, 1))
    with pytest.raises(InvalidInputError, match=r"`act` must be an activation code"):
        enclose_numba(*net, 7, X, X, BEST)
    with pytest.raises(InvalidInputError, match=r"`method` must be a method code"):
        enclose_numba(*net, 1, X, X, 3)
    with pytest.raises(InvalidInputError, match=r"`method` must be a method code"):
        enclose_numpy(*net, 1, X, X, -1)
    with pytest.raises(InvalidInputError, match=r"non-empty sequences of the same length"):
        pack_layers([np.ones((1, 1))], [])
    assert METHOD_CODES == {"naive": 0, "mean_value": 1, "best": 2}
