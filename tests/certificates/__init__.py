"""Tests of certify.certificates; this package also holds the hand-made certificate helpers.

The helpers build certificates *by hand*, independently of the enclosure engine: MLP
dicts with hex floats, uniform bisection covers, and leaf bounds from a fine grid plus a
Lipschitz constant (``sup_leaf |f| <= max over the grid + L * h_max``, with ``h_max`` the
largest distance from a point of the leaf to the nearest grid point).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np

from certify.certificates.record import (
    L1_HYPOTHESIS,
    Certificate,
    Cover,
    Hypothesis,
    Instance,
    Part,
)

MP_PREC = 200


def mlp_dict(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activation: str = "tanh"
) -> dict[str, Any]:
    """The certify.mlp/1 dict of float weights (hex strings), weights[k] of shape (out, in)."""
    return {
        "format": "certify.mlp/1",
        "activation": activation,
        "weights": [[[float(v).hex() for v in row] for row in np.atleast_2d(W)] for W in weights],
        "biases": [[float(v).hex() for v in np.atleast_1d(b)] for b in biases],
    }


def random_mlp(
    rng: np.random.Generator,
    sizes: Sequence[int],
    activation: str = "tanh",
    *,
    out_scale: float = 1.0,
) -> dict[str, Any]:
    Ws, bs = [], []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        scale = out_scale if k == len(sizes) - 2 else 1.0
        Ws.append(rng.normal(0.0, scale / math.sqrt(n_in), (n_out, n_in)))
        bs.append(rng.normal(0.0, 0.3, n_out))
    return mlp_dict(Ws, bs, activation)


def arrays(net: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    Ws = [np.array([[float.fromhex(v) for v in row] for row in W]) for W in net["weights"]]
    bs = [np.array([float.fromhex(v) for v in b]) for b in net["biases"]]
    return Ws, bs


_NP_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def np_forward(net: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """Float forward pass on rows of X (an estimate; used to locate maxima)."""
    Ws, bs = arrays(net)
    a = np.atleast_2d(X)
    for k, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        z = a @ W.T + b
        a = z if k == len(Ws) - 1 else _NP_ACT[net["activation"]](z)
    return a


def mp_forward(net: dict[str, Any], x: Sequence[Any]) -> list[Any]:
    """mpmath forward pass (at the current mp precision)."""
    acts = {
        "tanh": mpmath.tanh,
        "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
        "relu": lambda z: z if z > 0 else mpmath.mpf(0),
        "linear": lambda z: z,
    }
    a = [mpmath.mpf(v) for v in x]
    n = len(net["weights"])
    for k, (W, b) in enumerate(zip(net["weights"], net["biases"], strict=True)):
        z = [
            mpmath.fsum(mpmath.mpf(float.fromhex(w)) * v for w, v in zip(row, a, strict=True))
            + mpmath.mpf(float.fromhex(bb))
            for row, bb in zip(W, b, strict=True)
        ]
        a = z if k == n - 1 else [acts[net["activation"]](v) for v in z]
    return a


def op_norm_bounds(net: dict[str, Any]) -> tuple[float, float]:
    """(bound of ||J||_2, bound of sup |output|) for tanh/sigmoid nets (|act'| <= 1, |act| <= 1)."""
    Ws, bs = arrays(net)
    jac = 1.0
    for W in Ws:
        jac *= float(np.linalg.norm(W, 2))
    width = Ws[-1].shape[1]
    out = float(np.linalg.norm(Ws[-1], 2)) * math.sqrt(width) + float(np.linalg.norm(bs[-1]))
    return 1.01 * jac, 1.01 * out  # 1 % covers the float rounding of the norms


def float_down(x: Any) -> float:
    """The largest float <= the mpmath number x."""
    f = float(x)
    return f if mpmath.mpf(f) <= x else math.nextafter(f, -math.inf)


def float_up(x: Any) -> float:
    f = float(x)
    return f if mpmath.mpf(f) >= x else math.nextafter(f, math.inf)


def uniform_cover(
    lower: Sequence[float], upper: Sequence[float], depth: int
) -> tuple[list[int], list[float], list[tuple[np.ndarray, np.ndarray]]]:
    """Bisect ``depth`` times, cycling through the coordinates; (tree, splits, leaves)."""
    dim = len(lower)
    tree: list[int] = []
    splits: list[float] = []
    leaves: list[tuple[np.ndarray, np.ndarray]] = []

    def rec(lo: np.ndarray, hi: np.ndarray, d: int) -> None:
        if d == depth:
            tree.append(-1)
            leaves.append((lo, hi))
            return
        k = d % dim
        s = (lo[k] + hi[k]) / 2
        tree.append(k)
        splits.append(float(s))
        h = hi.copy()
        h[k] = s
        rec(lo, h, d + 1)
        low = lo.copy()
        low[k] = s
        rec(low, hi, d + 1)

    rec(np.array(lower, dtype=float), np.array(upper, dtype=float), 0)
    return tree, splits, leaves


def leaf_bounds_grid(
    f: Callable[[np.ndarray], np.ndarray],
    leaves: Sequence[tuple[np.ndarray, np.ndarray]],
    lipschitz: float,
    per_axis: int = 9,
) -> list[float]:
    """sup_leaf |f| <= max over a per_axis^dim grid of the leaf + L * (max distance to it)."""
    out = []
    for lo, hi in leaves:
        axes = [np.linspace(a, b, per_axis) for a, b in zip(lo, hi, strict=True)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(lo))
        h = (hi - lo) / (per_axis - 1)
        reach = 0.5 * float(np.linalg.norm(h))
        # 2 % + 1e-12 covers the float error of f on the grid (a few ulps of O(1) values)
        out.append(float(np.max(np.abs(f(grid)))) * 1.02 + 1e-12 + lipschitz * reach)
    return out


def gaussian_np(x: np.ndarray, y: np.ndarray, ell: float) -> np.ndarray:
    return np.exp(-np.sum((x - y) ** 2, axis=-1) / (2 * ell**2))


def residual_np(
    phi: dict[str, Any], psi: dict[str, Any], ell: float, dx: int
) -> Callable[[np.ndarray], np.ndarray]:
    def f(Z: np.ndarray) -> np.ndarray:
        X, Y = Z[:, :dx], Z[:, dx:]
        return gaussian_np(X, Y, ell) - np.sum(np_forward(phi, X) * np_forward(psi, Y), axis=1)

    return f


def residual_mp(phi: dict[str, Any], psi: dict[str, Any], ell: float, x: Any, y: Any) -> Any:
    """|e(x, y)| for the Gaussian kernel, in mpmath at MP_PREC bits."""
    with mpmath.workprec(MP_PREC):
        d2 = mpmath.fsum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b in zip(x, y, strict=True))
        k = mpmath.exp(-d2 / (2 * mpmath.mpf(ell) ** 2))
        s = mpmath.fsum(a * b for a, b in zip(mp_forward(phi, x), mp_forward(psi, y), strict=True))
        return abs(k - s)


def gaussian_lipschitz(phi: dict[str, Any], psi: dict[str, Any], ell: float) -> float:
    """Lipschitz constant of e = k - <phi, psi> in (x, y) jointly (Euclidean)."""
    jp, op = op_norm_bounds(phi)
    jq, oq = op_norm_bounds(psi)
    lk = math.exp(-0.5) / ell * 1.01  # sup |f'(r)| of exp(-r^2 / (2 l^2))
    lx, ly = lk + jp * oq, lk + jq * op
    return math.hypot(lx, ly)


def residual_part(
    name: str,
    phi: dict[str, Any],
    psi: dict[str, Any],
    ell: float,
    lower: Sequence[float],
    upper: Sequence[float],
    depth: int,
    *,
    left: str = "phi",
    right: str = "phi",
    dx: int = 1,
) -> tuple[Part, float, tuple[float, ...]]:
    """A residual part with grid + Lipschitz leaf bounds; (part, stored upper, argmax point)."""
    tree, splits, leaves = uniform_cover(lower, upper, depth)
    f = residual_np(phi, psi, ell, dx)
    bounds = leaf_bounds_grid(f, leaves, gaussian_lipschitz(phi, psi, ell))
    point = grid_argmax(f, lower, upper)
    value = residual_mp(phi, psi, ell, point[:dx], point[dx:])
    part = Part(
        name=name,
        function="residual",
        args={"left": left, "right": right},
        domain_lower=tuple(lower),
        domain_upper=tuple(upper),
        cover=Cover(tuple(tree), tuple(splits), tuple(bounds)),
        lower=float_down(value),
        upper=max(bounds),
        point=point,
    )
    return part, max(bounds), point


def grid_argmax(
    f: Callable[[np.ndarray], np.ndarray],
    lower: Sequence[float],
    upper: Sequence[float],
    per_axis: int = 41,
) -> tuple[float, ...]:
    axes = [np.linspace(a, b, per_axis) for a, b in zip(lower, upper, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(lower))
    k = int(np.argmax(np.abs(f(grid))))
    return tuple(float(v) for v in grid[k])


def holds_certificate(
    *,
    rng: np.random.Generator,
    ell: float = 0.5,
    depth: int = 6,
    eps_factor: float = 2.0,
) -> tuple[Certificate, dict[str, Any]]:
    """A correct HOLDS certificate: Gaussian kernel vs a 1 -> 8 -> 3 tanh phi on [-1,1]^2.

    Returns the certificate and facts used by the tests (network, true-sup estimate...).
    """
    phi = random_mlp(rng, [1, 8, 3], out_scale=0.5)
    part, upper, point = residual_part("e", phi, phi, ell, [-1.0, -1.0], [1.0, 1.0], depth)
    value = residual_mp(phi, phi, ell, point[:1], point[1:])
    eps = eps_factor * upper
    cert = Certificate(
        verdict="HOLDS",
        eps=eps,
        lower=float_down(value),
        upper=upper,
        witness_point=((point[0],), (point[1],)),
        claim=f"sup over [-1,1] x [-1,1] of |k(x,y) - <phi(x),phi(y)>| <= {eps!r}",
        theorem="T-S",
        instance=Instance(f"gaussian:lengthscale={ell!r}", "box:-1,1", "box:-1,1", "uniform"),
        witness={"phi": phi},
        route="direct",
        parts=(part,),
        tolerances={"grid_per_axis": 9, "rel_safety": 0.02},
        method={"engine": "tests (grid + Lipschitz)", "depth": depth, "seconds": 0.01},
        seed=20240213,
        created="2024-06-01T12:00:00Z",
    )
    return cert, {"phi": phi, "point": point, "value": value, "ell": ell, "upper": upper}


def l1_certificate(rng: np.random.Generator, justification: Any = None) -> Certificate:
    """Route L1: one diagonal_residual part over X = [-1, 1]; the PSD hypothesis asserted."""
    phi = random_mlp(rng, [1, 6, 2], out_scale=0.5)
    tree, splits, leaves = uniform_cover([-1.0], [1.0], 4)
    jp, op = op_norm_bounds(phi)

    def diag(Z: np.ndarray) -> np.ndarray:
        return 1.0 - np.sum(np_forward(phi, Z) ** 2, axis=1)  # Gaussian: r(x, x) = 1

    bounds = leaf_bounds_grid(diag, leaves, 2 * jp * op)
    point = grid_argmax(diag, [-1.0], [1.0])
    with mpmath.workprec(MP_PREC):
        val = abs(1 - mpmath.fsum(v**2 for v in mp_forward(phi, point)))
    part = Part(
        name="T",
        function="diagonal_residual",
        args={"features": "phi"},
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover(tuple(tree), tuple(splits), tuple(bounds)),
        lower=float_down(val),
        upper=max(bounds),
        point=point,
    )
    return Certificate(
        verdict="HOLDS",
        eps=2 * max(bounds),
        lower=0.0,
        upper=max(bounds),
        witness_point=None,
        claim="sup |k - <phi, phi>| <= eps via lemma L1",
        theorem="T-S",
        lemmas=("L1",),
        instance=Instance("gaussian:lengthscale=0.5", "box:-1,1", "box:-1,1"),
        witness={"phi": phi},
        route="L1",
        hypotheses=(Hypothesis(L1_HYPOTHESIS, justification),),
        parts=(part,),
        created="2024-06-01T12:00:00Z",
    )
