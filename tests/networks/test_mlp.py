"""Tests of certify.networks.MLP: validation, evaluation, certified bounds, serialisation.

Exact values come from an independent 200-bit mpmath evaluation of the stored float
weights, so certified claims (enclosures, the Lipschitz bound) are checked without any
tolerance.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import pickle
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

from certify._kernels.mlp import ACTIVATION_CODES, mlp_forward_numpy
from certify.errors import InvalidInputError
from certify.networks import FORMAT, MLP

EPS = np.finfo(np.float64).eps
ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh"]
MP_ACT = {
    "tanh": mpmath.tanh,
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "relu": lambda z: max(z, mpmath.mpf(0)),
    "linear": lambda z: z,
}


def mp_forward(net: MLP, x: np.ndarray) -> list[mpmath.mpf]:
    """phi(x) in 200-bit mpmath from the float weights and input (exact as mpf)."""
    with mpmath.workprec(200):
        h = [mpmath.mpf(float(v)) for v in x]
        for layer, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            z = [
                mpmath.fdot([mpmath.mpf(float(w)) for w in row], h) + mpmath.mpf(float(bo))
                for row, bo in zip(W, b, strict=True)
            ]
            h = z if layer == net.n_layers - 1 else [MP_ACT[net.activation](v) for v in z]
        return h


def mp_inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpmath.mpf(lo) <= value <= mpmath.mpf(hi)


@pytest.fixture
def net(rng: np.random.Generator) -> MLP:
    return MLP.random([2, 16, 5], rng=rng)


# --- construction and shape ------------------------------------------------------------------
def test_shape_properties_and_repr() -> None:
    net = MLP.random([2, 16, 5], rng=0)
    assert (net.input_dim, net.output_dim, net.n_layers, net.n_neurons) == (2, 5, 2, 16)
    assert net.n_parameters == 2 * 16 + 16 + 16 * 5 + 5
    assert net.layer_sizes == (2, 16, 5)
    assert repr(net) == "MLP(2 -> 16 -> 5, tanh)"
    deep = MLP.random([3, 8, 4, 2], activation="relu", rng=0)
    assert deep.n_neurons == 12 and deep.n_layers == 3
    assert repr(deep) == "MLP(3 -> 8 -> 4 -> 2, relu)"
    linear = MLP([np.ones((1, 3))], [np.zeros(1)])
    assert linear.n_neurons == 0 and repr(linear) == "MLP(3 -> 1, tanh)"


def test_stores_read_only_float64_copies() -> None:
    W = np.array([[1.0, 2.0]], dtype=np.float32)
    b = np.array([0.5], dtype=np.float32)
    net = MLP([W], [b])
    W[0, 0] = 99.0
    assert net.weights[0].dtype == np.float64 and net.weights[0][0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        net.weights[0][0, 0] = 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.activation = "relu"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("weights", "biases", "activation", "match"),
    [
        ([], [], "tanh", r"`weights` must hold at least one layer; got an empty list"),
        (np.ones((2, 1, 1)), [np.zeros(1)] * 2, "tanh", r"`weights` must be a list of arrays"),
        ([np.ones((2, 2))], "b", "tanh", r"`biases` must be a list of arrays"),
        ([np.ones((2, 2))], [np.zeros(2)] * 2, "tanh", r"one entry per layer; got 1 weight"),
        ([np.ones(2)], [np.zeros(2)], "tanh", r"`weights\[0\]` must be a non-empty 2-D array"),
        ([np.ones((2, 0))], [np.zeros(2)], "tanh", r"non-empty 2-D array .*shape \(2, 0\)"),
        (
            [np.ones((2, 2)), np.array([[1.0, np.nan]])],
            [np.zeros(2), np.zeros(1)],
            "tanh",
            r"`weights\[1\]` must contain only finite values; found nan at index \(0, 1\)",
        ),
        (
            [np.ones((3, 2))],
            [np.array([0.0, 0.0, np.inf])],
            "tanh",
            r"`biases\[0\]` must contain only finite values; found inf at index 2",
        ),
        (
            [np.ones((16, 2)), np.ones((5, 15))],
            [np.zeros(16), np.zeros(5)],
            "tanh",
            r"`weights\[1\]` must have 16 columns \(the outputs of layer 0, shape \(16, 2\)\); "
            r"got shape \(5, 15\)",
        ),
        (
            [np.ones((16, 2))],
            [np.zeros(15)],
            "tanh",
            r"`biases\[0\]` must have shape \(16,\) .*got shape \(15,\)",
        ),
        ([np.ones((2, 2))], [np.zeros((2, 1))], "tanh", r"`biases\[0\]` must be a non-empty 1-D"),
        (
            [np.ones((1, 1))],
            [np.zeros(1)],
            "gelu",
            r"`activation` must be one of \['linear', 'relu', 'sigmoid', 'tanh'\]; got 'gelu'",
        ),
        ([np.ones((1, 1)) * 1j], [np.zeros(1)], "tanh", r"`weights\[0\]` must be real"),
        ([[["a"]]], [np.zeros(1)], "tanh", r"`weights\[0\]` must be an array of real numbers"),
    ],
)
def test_invalid_networks(weights: Any, biases: Any, activation: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        MLP(weights, biases, activation)


# --- evaluation ------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_against_reference(activation: str, rng: np.random.Generator) -> None:
    net = MLP.random([3, 12, 7, 2], activation=activation, rng=rng)
    X = rng.uniform(-1.0, 1.0, size=(6, 3))
    Y = net.forward(X)
    assert Y.shape == (6, 2)
    np.testing.assert_array_equal(net(X), Y)
    for x, y in zip(X, Y, strict=True):
        exact = np.array([float(v) for v in mp_forward(net, x)])
        # Float forward error <= sum over layers of (n + 1) eps |W| |h| + 4 ulp per act,
        # here with widths <= 12 and Glorot weights: well under 1e3 eps absolute.
        np.testing.assert_allclose(y, exact, rtol=0.0, atol=1e3 * EPS)
    # The numpy twin: same bound for both, so 2 x 1e3 eps apart at most.
    twin = mlp_forward_numpy(X, list(net.weights), list(net.biases), ACTIVATION_CODES[activation])
    np.testing.assert_allclose(Y, twin, rtol=0.0, atol=2e3 * EPS)


def test_forward_input_shapes(net: MLP) -> None:
    assert net.forward(np.empty((0, 2))).shape == (0, 5)
    with pytest.raises(
        InvalidInputError,
        match=r"`X` must hold points of dimension 2 \(the input dimension of phi\); got points "
        r"of dimension 1",
    ):
        net.forward([0.1, 0.2])  # 1-D: two points of dimension 1
    with pytest.raises(InvalidInputError, match=r"`X` must contain only finite values"):
        net.forward([[0.0, np.nan]])
    one_d = MLP.random([1, 4, 2], rng=0)
    np.testing.assert_array_equal(one_d([0.1, 0.2]), one_d([[0.1], [0.2]]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jacobian_against_finite_differences(activation: str, rng: np.random.Generator) -> None:
    net = MLP.random([3, 10, 4], activation=activation, rng=rng)
    X = rng.uniform(-1.0, 1.0, size=(5, 3))
    J = net.jacobian(X)
    assert J.shape == (5, 4, 3)
    h = 2.0**-20
    for i, x in enumerate(X):
        for j in range(3):
            e = np.zeros(3)
            e[j] = h
            with mpmath.workprec(200):
                plus, minus = mp_forward(net, x + e), mp_forward(net, x - e)
                fd = np.array([float((p - m) / (2 * h)) for p, m in zip(plus, minus, strict=True)])
            # Central differences: error <= h^2 / 6 sup |phi'''| (~1e-12 for these nets;
            # ReLU is piecewise linear, exact unless a kink lies within h) + float error.
            np.testing.assert_allclose(J[i, :, j], fd, rtol=0.0, atol=1e-9)


# --- certified bounds ------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lipschitz_bound_dominates_difference_quotients(
    activation: str, rng: np.random.Generator
) -> None:
    net = MLP.random([2, 16, 16, 3], activation=activation, rng=rng, scale=2.0)
    L = net.lipschitz_bound()
    quotients = []
    for _ in range(30):
        x = rng.uniform(-2.0, 2.0, size=2)
        # Far pairs, and near pairs along the direction the Jacobian stretches most.
        _, _, vt = np.linalg.svd(net.jacobian(x[None, :])[0])
        for y in (rng.uniform(-2.0, 2.0, size=2), x + 1e-7 * vt[0]):
            with mpmath.workprec(200):
                fx, fy = mp_forward(net, x), mp_forward(net, y)
                num = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(fx, fy, strict=True)))
                den = mpmath.sqrt(mpmath.fsum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2
                                              for a, b in zip(x, y, strict=True)))  # fmt: skip
                q = num / den
            assert q <= L, (x, y, float(q), L)
            quotients.append(float(q))
    assert max(quotients) > 0.0


def test_lipschitz_bound_of_a_linear_map_is_nearly_the_spectral_norm(
    rng: np.random.Generator,
) -> None:
    for shape in [(5, 3), (3, 7), (20, 20)]:
        W = rng.standard_normal(shape)
        sigma = np.linalg.norm(W, 2)
        L = MLP([W], [np.zeros(shape[0])]).lipschitz_bound()
        # Repeated squaring: L <= rank^(1/128) sigma (<= 1.024 sigma for rank 20), and
        # sigma from LAPACK is accurate to a few eps.
        assert sigma * (1 - 1e-12) <= L <= 1.03 * sigma, (shape, L / sigma)
    assert MLP([np.zeros((2, 2))], [np.ones(2)]).lipschitz_bound() == 0.0
    # Aligned diagonal layers: the product of the norms is attained, 3 x 2 = 6 (every
    # layer counts).
    chain = MLP([np.diag([3.0, 1.0]), np.diag([2.0, 1.0])], [np.zeros(2)] * 2, "linear")
    assert 6.0 <= chain.lipschitz_bound() <= 6.0 * 1.03


def test_lipschitz_bound_uses_the_activation_slope(rng: np.random.Generator) -> None:
    weights = [rng.standard_normal((8, 2)), rng.standard_normal((3, 8))]
    biases = [np.zeros(8), np.zeros(3)]
    L = {a: MLP(weights, biases, a).lipschitz_bound() for a in ACTIVATIONS}
    assert L["tanh"] == L["relu"] == L["linear"]
    assert L["sigmoid"] == L["tanh"] / 4  # the 1/4 is exact in ball arithmetic


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_public_enclosures_contain_exact_values(activation: str, rng: np.random.Generator) -> None:
    net = MLP.random([2, 12, 12, 3], activation=activation, rng=rng)
    lo = rng.uniform(-1.0, 1.0, size=(4, 2))
    hi = lo + np.array([[0.0], [1e-9], [1e-3], [0.5]])
    bounds = {m: net.enclose(lo, hi, method=m) for m in ("naive", "mean_value", "best")}
    J_lo, J_hi = net.enclose_jacobian(lo, hi)
    assert J_lo.shape == (4, 3, 2)
    for b in range(4):
        corners = np.array(list(itertools.product(*zip(lo[b], hi[b], strict=True))))
        points = np.vstack([corners, rng.uniform(lo[b], hi[b], size=(3, 2))])
        points = np.clip(points, lo[b], hi[b])
        for x in points:
            exact = mp_forward(net, x)
            for m, (out_lo, out_hi) in bounds.items():
                assert all(mp_inside(v, out_lo[b, o], out_hi[b, o]) for o, v in enumerate(exact)), m
        # Float Jacobians at the points lie in the enclosure up to their own rounding
        # (a few hundred eps absolute); ReLU at a kink takes 0, inside Clarke's [0, 1].
        J = net.jacobian(points)
        assert np.all(J_lo[b] - 1e3 * EPS <= J) and np.all(J_hi[b] + 1e3 * EPS >= J)
    assert np.all(bounds["best"][0] >= bounds["naive"][0])
    assert np.all(bounds["best"][1] <= bounds["mean_value"][1])


def test_enclose_validation(net: MLP) -> None:
    lo = np.zeros((2, 2))
    hi = np.array([[1.0, 1.0], [0.25, 1.0]])
    with pytest.raises(
        InvalidInputError, match=r"`method` must be one of \['best', 'mean_value', 'naive'\]"
    ):
        net.enclose(lo, hi, method="exact")
    with pytest.raises(
        InvalidInputError,
        match=r"`lo` must be <= `hi` in every coordinate; box 1 has lo=0.5 > hi=0.25 in "
        r"coordinate 0",
    ):
        net.enclose(lo + np.array([[0.0, 0.0], [0.5, 0.0]]), hi)
    with pytest.raises(InvalidInputError, match=r"`lo` and `hi` must have the same shape"):
        net.enclose(lo[:1], hi)
    with pytest.raises(InvalidInputError, match=r"`hi` must hold points of dimension 2"):
        net.enclose_jacobian(lo, np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match=r"`lo` must contain only finite values"):
        net.enclose([[np.inf, 0.0]], [[1.0, 1.0]])
    out_lo, out_hi = net.enclose(np.empty((0, 2)), np.empty((0, 2)))
    assert out_lo.shape == out_hi.shape == (0, 5)


# --- serialisation and identity --------------------------------------------------------------
def _awkward_network(rng: np.random.Generator) -> MLP:
    """Weights that a lossy round trip would change: -0.0, subnormals, 0.1, huge values."""
    net = MLP.random([3, 6, 2], activation="sigmoid", rng=rng)
    weights = [np.array(W) for W in net.weights]
    weights[0][0, :3] = [-0.0, 5e-324, 0.1]
    weights[1][1, :2] = [1.7976931348623157e308, -2.2250738585072014e-308]
    return MLP(weights, [np.array(b) for b in net.biases], "sigmoid")


def _bitwise_equal(a: MLP, b: MLP) -> bool:
    pairs = zip(a.weights + a.biases, b.weights + b.biases, strict=True)
    return a.activation == b.activation and all(
        x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in pairs
    )


def test_save_load_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    net = _awkward_network(rng)
    path = tmp_path / "phi.weights"  # the exact name, no ".npz" appended
    net.save(path)
    assert path.exists()
    loaded = MLP.load(path)
    assert _bitwise_equal(loaded, net) and loaded == net
    assert loaded.sha256() == net.sha256()
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted(
            ["format", "activation", "weights_0", "weights_1", "biases_0", "biases_1"]
        )
        assert str(archive["format"]) == FORMAT == "certify.mlp/1"


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def test_load_errors(tmp_path: Path) -> None:
    good = {
        "format": np.array(FORMAT),
        "activation": np.array("tanh"),
        "weights_0": np.ones((2, 2)),
        "biases_0": np.zeros(2),
    }
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    with pytest.raises(InvalidInputError, match=r"is not an .npz archive written by MLP.save"):
        MLP.load(text)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    with pytest.raises(InvalidInputError, match=r"it holds a single array"):
        MLP.load(single)
    cases = {
        "missing": ({k: v for k, v in good.items() if k != "activation"}, r"lacks the key\(s\) "
                    r"\['activation'\] of format 'certify.mlp/1'"),
        "format": ({**good, "format": np.array("certify.mlp/0")}, r"has format 'certify.mlp/0'; "
                   r"this version of certify reads 'certify.mlp/1'"),
        "nan": ({**good, "weights_0": np.array([[1.0, np.nan], [0.0, 0.0]])}, r"holds an invalid "
                r"network: `weights\[0\]` must contain only finite values; found nan at index "
                r"\(0, 1\)"),
        "biases": ({**good, "weights_1": np.ones((1, 2))}, r"must hold `weights_k` and "
                   r"`biases_k` for k = 0..1 and nothing else; missing \['biases_1'\], "
                   r"unexpected \[\]"),
        "gap": ({**good, "weights_2": np.ones((1, 2))}, r"unexpected \['weights_2'\]"),
        "pickle": ({**good, "extra": np.array([None], dtype=object)}, r"cannot be read without "
                   r"pickle"),
        "chain": ({**good, "weights_1": np.ones((1, 3)), "biases_1": np.zeros(1)},
                  r"`weights\[1\]` must have 2 columns"),
        "activation": ({**good, "activation": np.array("softplus")}, r"`activation` must be one "
                       r"of"),
    }  # fmt: skip
    for name, (arrays, match) in cases.items():
        path = tmp_path / f"{name}.npz"
        _write_npz(path, **arrays)
        with pytest.raises(InvalidInputError, match=match):
            MLP.load(path)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "absent.npz")


def test_dict_round_trip_through_json(rng: np.random.Generator) -> None:
    net = _awkward_network(rng)
    d = json.loads(json.dumps(net.to_dict()))
    assert sorted(d) == ["activation", "biases", "format", "weights"]
    assert d["format"] == FORMAT and d["activation"] == "sigmoid"
    assert (
        d["weights"][0][0][0] == "-0x0.0p+0" and d["weights"][0][0][1] == "0x0.0000000000001p-1022"
    )
    back = MLP.from_dict(d)
    assert _bitwise_equal(back, net) and back.sha256() == net.sha256()
    # Plain floats are accepted too (JSON floats from repr round-trip exactly).
    plain = {**d, "biases": [[float.fromhex(v) for v in b] for b in d["biases"]]}
    assert MLP.from_dict(plain) == net


def test_from_dict_errors() -> None:
    good = MLP([[[1.0, 2.0]]], [[0.5]]).to_dict()
    cases = [
        ([1, 2], r"`d` must be a dict from MLP.to_dict"),
        ({"format": FORMAT}, r"`d` lacks the key\(s\) \['activation', 'weights', 'biases'\]"),
        ({**good, "format": "certify.mlp/9"}, r"`d\['format'\]` must be 'certify.mlp/1'"),
        ({**good, "weights": "0x1p0"}, r"`d\['weights'\]` must be a list with one entry per"),
        ({**good, "weights": [[["0x1p0", "one"]]]}, r"`d\['weights'\]\[0\]\[0\]\[1\]` must be a "
                                                     r"float.hex string such as"),
        ({**good, "weights": [[["0x1p0", None]]]}, r"`d\['weights'\]\[0\]\[0\]\[1\]` must be a "
                                                    r"float.hex string; got None"),
        ({**good, "weights": [["0x1p0"]]}, r"`d\['weights'\]\[0\]\[0\]` must be a list"),
        ({**good, "weights": [[["0x1p0", "0x1p0"], ["0x1p0"]]]}, r"`d\['weights'\]\[0\]` must be "
                                                                 r"a rectangular 2-D nested list"),
        ({**good, "biases": [["inf"]]}, r"`biases\[0\]` must contain only finite values; found "
                                        r"inf"),
        ({**good, "biases": [[True]]}, r"`d\['biases'\]\[0\]\[0\]` must be a float.hex string"),
        ({**good, "activation": 3}, r"`activation` must be one of .*; got 3"),
    ]  # fmt: skip
    for d, match in cases:
        with pytest.raises(InvalidInputError, match=match):
            MLP.from_dict(d)  # type: ignore[arg-type]


def test_pickle_and_copy_go_through_the_constructor(rng: np.random.Generator) -> None:
    net = MLP.random([2, 3, 1], rng=rng)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), copy.copy(net)):
        assert other == net and other.sha256() == net.sha256()
        assert not other.weights[0].flags.writeable
        np.testing.assert_array_equal(other([[0.1, 0.2]]), net([[0.1, 0.2]]))


def test_sha256_identifies_every_bit(rng: np.random.Generator) -> None:
    net = MLP.random([2, 5, 3], rng=rng)
    same = MLP([np.array(W) for W in net.weights], [np.array(b) for b in net.biases])
    assert same.sha256() == net.sha256() and same == net and hash(same) == hash(net)
    digests = {net.sha256()}
    for layer, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        for kind, index in (("weights", (0, 0)), ("weights", (-1, -1)), ("biases", (1,))):
            weights = [np.array(v) for v in net.weights]
            biases = [np.array(v) for v in net.biases]
            target = weights[layer] if kind == "weights" else biases[layer]
            target[index] = np.nextafter(target[index], np.inf)  # one ulp
            changed = MLP(weights, biases)
            assert changed != net
            digests.add(changed.sha256())
        assert W.size and b.size
    assert len(digests) == 1 + 3 * net.n_layers
    relu = MLP(list(net.weights), list(net.biases), "relu")
    assert relu.sha256() != net.sha256() and relu != net
    zero = MLP([np.zeros((1, 1))], [np.zeros(1)])
    negzero = MLP([-np.zeros((1, 1))], [np.zeros(1)])
    assert zero.sha256() != negzero.sha256() and zero != negzero
    assert len(net.sha256()) == 64 and net.__eq__("net") is NotImplemented


# --- random ----------------------------------------------------------------------------------
def test_random_is_reproducible_and_scaled() -> None:
    a = MLP.random([4, 300, 2], rng=7)
    assert a == MLP.random([4, 300, 2], rng=np.random.default_rng(7))
    assert a != MLP.random([4, 300, 2], rng=8)
    b = MLP.random([4, 300, 2], rng=7, scale=3.0)
    # Same draws, standard deviation times 3 (numpy rounds std x z once: 1 ulp apart).
    np.testing.assert_allclose(b.weights[0], 3.0 * a.weights[0], rtol=4 * EPS, atol=0.0)
    std = np.std(a.weights[0])
    # Glorot: sqrt(2 / 304) = 0.0811; 1200 samples give a relative error ~ 1 / sqrt(2400).
    assert abs(std / np.sqrt(2.0 / 304.0) - 1.0) < 0.1
    assert MLP.random([1, 1], activation="relu", rng=0).activation == "relu"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer_sizes": [2]}, r"`layer_sizes` must list at least the input and output widths"),
        ({"layer_sizes": [2, 0, 1]}, r"`layer_sizes\[1\]` must be an int >= 1 \(a layer width\)"),
        ({"layer_sizes": [2, 1.5]}, r"`layer_sizes\[1\]` must be an int"),
        ({"layer_sizes": "2,3"}, r"`layer_sizes` must be a sequence of ints"),
        ({"layer_sizes": [2, 3], "scale": -1.0}, r"`scale` must be > 0; got -1.0"),
        ({"layer_sizes": [2, 3], "rng": "seed"}, r"`rng` must be a numpy.random.Generator"),
        ({"layer_sizes": [2, 3], "activation": "elu"}, r"`activation` must be one of"),
    ],
)
def test_random_errors(kwargs: dict[str, Any], match: str) -> None:
    sizes = kwargs.pop("layer_sizes")
    with pytest.raises(InvalidInputError, match=match):
        MLP.random(sizes, **kwargs)
