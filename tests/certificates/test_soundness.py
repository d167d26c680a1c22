"""Soundness campaign: neither the engine nor the checker may ever say HOLDS for a false claim.

DESIGN.md ("Certificates: what the words mean"): a certificate may say HOLDS only when the
bound is proven. This module attacks that promise from three sides.

1. **Mutants.** Five base witnesses on X = Y = [-1, 1] (the product box is 2-D) are
   certified HOLDS at eps = 1.5 x their dense-sampled sup (the bilinear one, exact, at a
   fixed eps) and confirmed by the checker. Then *mutants* whose true sup error exceeds eps
   are made: (a) weight mutants (one weight, one bias, a whole layer by a random scale, a
   sign flip; some tightened by bisection until the error exceeds eps only barely),
   (b) claim mutants (the base witness with eps lowered below its true sup), and bound
   mutants (a correct certificate whose stored upper bounds are lowered below the true
   sup). That a mutant is one is shown by a dense 401 x 401 grid evaluated in float with a
   derived, per-point bound of the float error (:func:`dense_sup_lower`), and re-confirmed
   at the grid's best point in mpmath at 160 bits. For every mutant the engine
   (``certify_model``) must not return HOLDS, and the checker must not confirm the forged
   HOLDS file (the base document with the mutant's weights or numbers and a recomputed
   digest, so the file is well formed and only re-evaluation can reject it). Both tools'
   own proven upper bounds must dominate the mutant's proven lower bound on the true sup.
2. **Adversarial search.** For every base certificate, differential evolution seeded with
   the centres of the engine's worst leaves (and its lower-bound point and the grid's best
   point), then L-BFGS-B from every member, hunts for a point with |e| > u, or above the
   bound of a leaf containing it; every point found is evaluated in mpmath at 160 bits.
   The engine's leaf bounds are also checked against the whole dense grid, for the bases
   and for every mutant's engine run (HOLDS rests on each leaf bound, not only on u).
3. **Tampered files** through the ``certify verify`` command line (exit codes, one-line
   reasons, no tracebacks), complementing tests/certificates/test_checker.py.

Float error model (unit roundoff u = 2^-53; gamma_k = k u / (1 - k u), Higham's bound
for a k-term sum of products in any order, FMA or not): libm's exp, tanh and sin are
assumed within 4 ulp, i.e. a relative error <= 8 u, the same assumption the engine
records (ENGINE_TOLERANCES: "exp, log, tanh, sin, cos within 4 ulp").
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import numpy.typing as npt
import pytest
from scipy import optimize

from certify.certificates.checker import CheckResult, cover_leaves, verify
from certify.certificates.enclosure import Budget
from certify.certificates.model import certify_model
from certify.certificates.record import Certificate, document_digest
from certify.cli import main
from certify.networks.builders import fit_random_features
from certify.networks.mlp import MLP
from certify.relations.base import Relation as RelationObject
from certify.relations.spec import parse_relation

F64 = npt.NDArray[np.float64]

U = 2.0**-53  # unit roundoff of float64 (round to nearest)
LIBM = 8 * U  # 4 ulp of a result v is <= 4 * 2u|v|: libm's exp, tanh, sin (module docstring)
GRID = np.linspace(-1.0, 1.0, 401)  # the dense grid per axis; end points exact, all in [-1, 1]
MP_BITS = 160  # mpmath precision of the references: far below any float-level difference
# < 2^9 operations (networks of <= 12 units, the dot product, r), each a few ulps off, on
# terms of magnitude < 2^30 (asserted by mp_abs_error): error < 2^9 * 2^30 * 2^-158 < 2^-100.
MP_SLACK = mpmath.mpf(2) ** -100
ENGINE_BUDGET = Budget(boxes=1000)  # small on purpose: a mutant may end UNKNOWN, never HOLDS
REL_GAP = 0.5  # the engine stops at u <= 1.5 l: small covers (and cheap checker runs)


def _gamma(k: int) -> float:
    return k * U / (1 - k * U)


# --- relations: float values with an error bound, and mpmath references -------------------------
@dataclass(frozen=True)
class Relation:
    """A relation r(x, y) on [-1, 1] x [-1, 1]: its spec, float evaluation and mpmath twin.

    ``floats(x, y)`` takes broadcastable arrays and returns (r_hat, bound) with
    |r_hat - r(x, y)| <= bound to first order in u (derivations in each function).
    """

    name: str
    spec: str
    floats: Callable[[F64, F64], tuple[F64, F64]]
    exact: Callable[[Any, Any], Any]


def _gaussian_floats(x: F64, y: F64) -> tuple[F64, F64]:
    ell = 0.5
    d = x - y  # one rounding: |delta d| <= u |d|
    t = (d * d) / (2.0 * ell * ell)  # 2 l^2 = 0.5 exact; relative error <= 2u + u + u = 4u
    r = np.exp(-t)  # |delta r| <= r |delta t| + 8u r
    return r, U * r * (4 * t + 8)


def _laplace_floats(x: F64, y: F64) -> tuple[F64, F64]:
    ell = 1.0
    t = np.abs(x - y) / ell  # relative error <= u (subtraction) + u (division) = 2u
    r = np.exp(-t)
    return r, U * r * (2 * t + 8)


def _matern32_floats(x: F64, y: F64) -> tuple[F64, F64]:
    ell = 0.5
    a = (np.sqrt(3.0) * np.abs(x - y)) / ell  # sqrt(3) (u), x - y (u), * (u), / (u): 4u relative
    # (1 + a): 4u a + u (1 + a) <= 5u (1 + a); exp(-a): 4u a + 8u; the product: u
    r = (1.0 + a) * np.exp(-a)
    return r, U * r * (14 + 4 * a)


def _bilinear_floats(x: F64, y: F64) -> tuple[F64, F64]:
    r = 1.5 * x * y  # two roundings
    return r, 2 * U * np.abs(r)


def _sine_floats(x: F64, y: F64) -> tuple[F64, F64]:
    a = x - 2.0 * y  # 2y exact, the subtraction: u |a|
    r = np.sin(a)  # |sin'| <= 1, and libm's 8u |r|
    return r, U * (np.abs(a) + 8 * np.abs(r))


def _matern32_exact(x: Any, y: Any) -> Any:
    a = mpmath.sqrt(3) * abs(x - y) / mpmath.mpf(0.5)
    return (1 + a) * mpmath.exp(-a)


RELATIONS = {
    "gaussian": Relation(
        "gaussian",
        "gaussian:lengthscale=0.5",
        _gaussian_floats,
        lambda x, y: mpmath.exp(-((x - y) ** 2) / (2 * mpmath.mpf(0.5) ** 2)),
    ),
    "laplace": Relation(
        "laplace", "laplace:lengthscale=1", _laplace_floats, lambda x, y: mpmath.exp(-abs(x - y))
    ),
    "matern32": Relation("matern32", "matern32:lengthscale=0.5", _matern32_floats, _matern32_exact),
    "bilinear": Relation(
        "bilinear", "bilinear:W=[[1.5]]", _bilinear_floats, lambda x, y: mpmath.mpf(1.5) * x * y
    ),
    "sine": Relation("sine", "expr:sin(x0-2*y0)", _sine_floats, lambda x, y: mpmath.sin(x - 2 * y)),
}


# --- networks: float forward with an error bound, and an mpmath forward --------------------------
def forward_with_error(net: MLP, x: F64) -> tuple[F64, F64]:
    """phi at the 1-D points x in float, and a bound on |computed - exact| per output."""
    a = np.asarray(x, dtype=np.float64)[:, None]
    err = np.zeros_like(a)  # the inputs are the exact points
    last = net.n_layers - 1
    for k, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = a @ W.T + b
        # a (fan_in + 1)-term sum: gamma_{n+1} (|W||a| + |b|); the input error through |W|
        err = _gamma(W.shape[1] + 1) * (np.abs(a) @ np.abs(W).T + np.abs(b)) + err @ np.abs(W).T
        if k < last and net.activation == "tanh":
            a = np.tanh(z)
            err = err + LIBM * np.abs(a)  # |tanh'| <= 1 carries err; libm adds 8u |tanh|
        elif k < last:
            assert net.activation == "linear", net.activation
            a = z
        else:
            a = z
    return a, err


def mp_forward(net: MLP, x: float) -> tuple[list[Any], Any]:
    """phi(x) in mpmath (real arithmetic on the stored float weights; the current precision),
    and the largest magnitude of a term summed on the way (for the error bound MP_SLACK)."""
    a = [mpmath.mpf(float(x))]
    largest = abs(a[0])
    last = net.n_layers - 1
    for k, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = []
        for row, bb in zip(W, b, strict=True):
            terms = [mpmath.mpf(float(w)) * v for w, v in zip(row, a, strict=True)]
            terms.append(mpmath.mpf(float(bb)))
            largest = max(largest, *(abs(t) for t in terms))
            z.append(mpmath.fsum(terms))
        a = [mpmath.tanh(v) for v in z] if k < last and net.activation == "tanh" else z
    return a, largest


def mp_abs_error(rel: Relation, phi: MLP, psi: MLP | None, x: float, y: float) -> Any:
    """|e(x, y)| = |r(x, y) - <phi(x), psi(y)>| in mpmath at MP_BITS (within MP_SLACK)."""
    with mpmath.workprec(MP_BITS):
        p, p_largest = mp_forward(phi, x)
        q, q_largest = mp_forward(phi if psi is None else psi, y)
        terms = [s * t for s, t in zip(p, q, strict=True)]
        largest = max(p_largest, q_largest, *(abs(t) for t in terms))
        assert largest < mpmath.mpf(2) ** 30, largest  # the premise of MP_SLACK
        return abs(rel.exact(mpmath.mpf(float(x)), mpmath.mpf(float(y))) - mpmath.fsum(terms))


def float_error(rel: Relation, phi: MLP, psi: MLP | None, Z: F64) -> F64:
    """e at the rows of Z (x, y) in float (an estimate: for the adversarial search)."""
    P, _ = forward_with_error(phi, Z[:, 0])
    Q, _ = forward_with_error(phi if psi is None else psi, Z[:, 1])
    r, _ = rel.floats(Z[:, 0], Z[:, 1])
    return r - np.einsum("ij,ij->i", P, Q)


@dataclass(frozen=True, eq=False)
class Dense:
    """The dense grid's verdict on sup |e| over [-1, 1]^2."""

    float_max: float  # max |e_hat| over the grid (the "dense-sampled sup", an estimate)
    lower: float  # max (|e_hat| - error bound): a proven lower bound of the true sup (libm aside)
    point: tuple[float, float]  # where ``lower`` is attained
    margin: F64 = field(repr=False)  # |e_hat| - error bound per grid point: |e| >= margin there


def dense_sup_lower(rel: Relation, phi: MLP, psi: MLP | None) -> Dense:
    """sup |e| >= max over the 401 x 401 grid of |e_hat| - (bound on the float error of e_hat).

    e_hat = r_hat - P_hat Q_hat^T. With |P_hat - P| <= EP, |Q_hat - Q| <= EQ (per entry),
    |fl(P_hat Q_hat^T) - P_hat Q_hat^T| <= gamma_m |P_hat||Q_hat|^T (m features) and the
    final subtraction's u |e_hat|:
    |e_hat - e| <= er + gamma_m |P||Q|^T + EP |Q|^T + |P| EQ^T + EP EQ^T + u |e_hat|.
    The bound is first order; x2 covers the O(u^2) remainder and the rounding of the bound's
    own float evaluation (sums of <= 20 non-negative terms: relative error <= 20 u << 1).
    """
    P, EP = forward_with_error(phi, GRID)
    Q, EQ = forward_with_error(phi if psi is None else psi, GRID)
    r, er = rel.floats(GRID[:, None], GRID[None, :])

    def outer(A: F64, B: F64) -> F64:  # A B^T; einsum's loops beat threaded BLAS at 401 x 8
        return np.einsum("ik,jk->ij", A, B)

    E = r - outer(P, Q)
    m = P.shape[1]
    aP, aQ = np.abs(P), np.abs(Q)
    bound = er + outer(_gamma(m) * aP + EP, aQ) + outer(aP + EP, EQ) + U * np.abs(E)
    margin = np.abs(E) - 2.0 * bound
    i, j = np.unravel_index(int(np.argmax(margin)), margin.shape)
    point = (float(GRID[i]), float(GRID[j]))
    return Dense(float(np.max(np.abs(E))), float(margin[i, j]), point, margin)


def assert_leaf_bounds_contain_the_grid(cert: Certificate, dense: Dense, label: str) -> None:
    """Every leaf bound of the engine's cover dominates |e| at every grid point of its leaf.

    HOLDS rests on these per-leaf enclosures (u is their maximum), so this probes each of
    them, not just the largest: ``dense.margin`` is a proven lower bound of |e| per point.
    """
    part = cert.parts[0]
    leaves = cover_leaves(part.domain_lower, part.domain_upper, part.cover.tree, part.cover.splits)
    for (lo, hi), bound in zip(leaves, part.cover.leaf_upper, strict=True):
        i0, i1 = np.searchsorted(GRID, lo[0], "left"), np.searchsorted(GRID, hi[0], "right")
        j0, j1 = np.searchsorted(GRID, lo[1], "left"), np.searchsorted(GRID, hi[1], "right")
        if i0 < i1 and j0 < j1:  # closed boxes: points on a shared face count for both leaves
            worst = float(np.max(dense.margin[i0:i1, j0:j1]))
            assert worst <= bound, (label, lo, hi, worst, bound)


# --- the base witnesses --------------------------------------------------------------------------
def fit_tanh_features(
    targets: list[Callable[[F64], F64]], n_neurons: int, rng: np.random.Generator
) -> MLP:
    """A 1 -> n_neurons -> len(targets) tanh network fitted by least squares on [-1, 1].

    Random hidden layer (weights N(0, 2^2), each unit's transition at a uniform point of
    [-1, 1]); the output layer and its bias solve the least-squares fit on 257 points.
    """
    W = rng.normal(0.0, 2.0, (n_neurons, 1))
    b = -W[:, 0] * rng.uniform(-1.0, 1.0, n_neurons)
    xs = np.linspace(-1.0, 1.0, 257)
    H = np.hstack([np.tanh(xs[:, None] * W[:, 0] + b), np.ones((xs.size, 1))])
    T = np.stack([f(xs) for f in targets], axis=1)
    C, *_ = np.linalg.lstsq(H, T, rcond=None)
    return MLP([W, C[:-1].T], [b, C[-1]], activation="tanh")


def _witness(name: str) -> tuple[MLP, MLP | None]:
    if name in ("gaussian", "laplace", "matern32"):
        # n_neurons 8, seed 4: sup errors 0.07 / 0.14 / 0.15, covers of 800-1000 leaves
        phi = fit_random_features(RELATIONS[name].spec, "box:-1,1", n_neurons=8, ridge=1e-8, rng=4)
        return phi, None
    if name == "bilinear":
        # phi(x) = (x, x/2), psi(y) = (y, y): <phi, psi> = 1.5 x y exactly (in real arithmetic)
        phi = MLP([[[1.0], [1.0]], [[1.0, 0.0], [0.0, 0.5]]], [[0.5, -0.5], [-0.5, 0.25]], "linear")
        psi = MLP([[[1.0], [2.0]], [[1.0, 0.0], [0.0, 0.5]]], [[0.0, 0.0], [0.0, 0.0]], "linear")
        return phi, psi
    # sin(x - 2y) = <(sin x, -cos x), (cos 2y, sin 2y)>
    gen = np.random.default_rng(0)
    phi = fit_tanh_features([np.sin, lambda x: -np.cos(x)], 5, gen)
    psi = fit_tanh_features([lambda y: np.cos(2 * y), lambda y: np.sin(2 * y)], 5, gen)
    return phi, psi


BASE_NAMES = ("gaussian", "laplace", "matern32", "bilinear", "sine")
# The bilinear witness is exact (sup 0), so "1.5 x the sup" is no eps: 0.05 is certified
# with a 128-leaf cover (the interval gradient of e has width ~3h on a leaf of width h).
FIXED_EPS = {"bilinear": 0.05}


@dataclass
class Base:
    name: str
    rel: Relation
    phi: MLP
    psi: MLP | None
    dense: Dense
    eps: float
    cert: Certificate
    path: Path
    document: dict[str, Any] = field(repr=False)
    checked: CheckResult = field(repr=False)
    # parsed once: an expression relation compiles its numba kernel per instance (~2 s)
    relation: RelationObject = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.relation = parse_relation(self.rel.spec)

    def certify(self, phi: MLP, psi: MLP | None, eps: float) -> Certificate:
        return certify_model(
            self.relation,
            "box:-1,1",
            phi,
            psi,
            y_domain=None if psi is None else "box:-1,1",
            eps=eps,
            rel_gap=REL_GAP,
            budget=ENGINE_BUDGET,
            progress=False,
        )


def _build_base(name: str, folder: Path) -> Base:
    rel = RELATIONS[name]
    phi, psi = _witness(name)
    dense = dense_sup_lower(rel, phi, psi)
    eps = FIXED_EPS.get(name, 1.5 * dense.float_max)
    cert = certify_model(
        rel.spec,
        "box:-1,1",
        phi,
        psi,
        y_domain=None if psi is None else "box:-1,1",
        eps=eps,
        rel_gap=REL_GAP,
        progress=False,
    )
    path = cert.save(folder / f"{name}.json")
    doc = json.loads(path.read_text())
    return Base(name, rel, phi, psi, dense, eps, cert, path, doc, verify(path, progress=False))


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Base]:
    """The base certificates, built once per process on first use."""
    folder = tmp_path_factory.mktemp("soundness-bases")
    cache: dict[str, Base] = {}

    def get(name: str) -> Base:
        if name not in cache:
            cache[name] = _build_base(name, folder)
        return cache[name]

    return get


# --- forging certificate files -------------------------------------------------------------------
def _number(x: float) -> dict[str, Any]:
    return {"value": float(x), "hex": float(x).hex()}


def forge(
    base: Base,
    path: Path,
    *,
    phi: MLP | None = None,
    psi: MLP | None = None,
    eps: float | None = None,
    upper: float | None = None,
    part_upper: float | None = None,
    keep_points: bool = True,
) -> Path:
    """The base document with new weights / numbers and a recomputed digest, written to path.

    Lowered uppers also clip the lowers below them and the leaf bounds, so the record stays
    consistent; ``keep_points=False`` drops the stored points and lowers (0), so only the
    upper bounds can be at fault.
    """
    doc = copy.deepcopy(base.document)
    claim, part = doc["claim"], doc["parts"][0]
    if phi is not None:
        doc["witness"]["phi"] = phi.to_dict()
    if psi is not None:
        doc["witness"]["psi"] = psi.to_dict()
    if eps is not None:
        claim["statement"] = claim["statement"].replace(repr(base.eps), repr(float(eps)))
        claim["eps"] = _number(eps)
    if upper is not None:
        claim["upper"] = _number(upper)
        lower = float.fromhex(claim["lower"]["hex"])
        claim["lower"] = _number(min(lower, upper))
    if part_upper is not None:
        part["upper"] = _number(part_upper)
        part["lower"] = _number(min(float.fromhex(part["lower"]["hex"]), part_upper))
        part["cover"]["leaf_upper"] = [
            min(float.fromhex(v), part_upper).hex() for v in part["cover"]["leaf_upper"]
        ]
    if not keep_points:
        claim["lower"], claim["witness_point"] = _number(0.0), None
        part["lower"], part["point"] = _number(0.0), None
    doc["digest"] = document_digest(doc)
    path.write_text(json.dumps(doc))
    return path


# --- mutants -------------------------------------------------------------------------------------
KINDS = ("weight", "bias", "layer", "sign")


@dataclass(frozen=True)
class Mutation:
    """One change of one network: ``apply(t)`` scales the change by t (t = 1: as drawn)."""

    side: str  # "phi" or "psi"
    kind: str
    layer: int
    index: tuple[int, ...]
    delta: float

    def apply(self, net: MLP, t: float = 1.0) -> MLP:
        Ws = [np.array(W) for W in net.weights]
        bs = [np.array(b) for b in net.biases]
        k = self.layer
        if self.kind == "weight":
            Ws[k][self.index] += t * self.delta
        elif self.kind == "bias":
            bs[k][self.index] += t * self.delta
        elif self.kind == "layer":
            Ws[k] *= 1.0 + t * self.delta
            bs[k] *= 1.0 + t * self.delta
        else:
            Ws[k][self.index] = -Ws[k][self.index]
        return MLP(Ws, bs, net.activation)


def draw_mutation(kind: str, nets: dict[str, MLP], gen: np.random.Generator) -> Mutation:
    side = str(gen.choice(sorted(nets)))
    net = nets[side]
    k = int(gen.integers(net.n_layers))
    sign = float(gen.choice([-1.0, 1.0]))
    size = 10.0 ** gen.uniform(-3.0, 0.0)  # relative sizes from 0.1 % to 100 %, log-uniform
    if kind in ("weight", "sign"):
        W = net.weights[k]
        idx: tuple[int, ...] = (int(gen.integers(W.shape[0])), int(gen.integers(W.shape[1])))
        return Mutation(side, kind, k, idx, sign * size * max(abs(float(W[idx])), 0.1))
    if kind == "bias":
        b = net.biases[k]
        i = (int(gen.integers(b.shape[0])),)
        return Mutation(side, kind, k, i, sign * size * max(abs(float(b[i])), 0.1))
    return Mutation(side, kind, k, (), sign * size)


@dataclass(frozen=True)
class Mutant:
    label: str
    phi: MLP
    psi: MLP | None
    eps: float
    dense: Dense


def _nets(base: Base) -> dict[str, MLP]:
    return {"phi": base.phi} if base.psi is None else {"phi": base.phi, "psi": base.psi}


def make_weight_mutant(base: Base, kind: str, tight: bool, gen: np.random.Generator) -> Mutant:
    """Draw mutations of ``kind`` until the dense grid proves sup |e| > eps (200 tries at most).

    ``tight``: bisect the size of the change (12 steps) down to the smallest that still
    proves sup |e| > eps, so the mutant violates the claim only barely.
    """
    nets = _nets(base)
    for _ in range(200):
        mut = draw_mutation(kind, nets, gen)

        def at(t: float, mut: Mutation = mut) -> tuple[dict[str, MLP], Dense]:
            changed = dict(nets)
            changed[mut.side] = mut.apply(nets[mut.side], t)
            return changed, dense_sup_lower(base.rel, changed["phi"], changed.get("psi"))

        changed, dense = at(1.0)
        if not dense.lower > base.eps:
            continue
        if tight and kind != "sign":
            lo, hi = 0.0, 1.0  # dense(hi) proves a violation, dense(lo) does not
            for _ in range(12):  # the smallest violating size to within 2^-12 of the drawn one
                mid = 0.5 * (lo + hi)
                c_mid, d_mid = at(mid)
                if d_mid.lower > base.eps:
                    hi, changed, dense = mid, c_mid, d_mid
                else:
                    lo = mid
        label = f"{kind}{'-tight' if tight else ''} {mut.side}[{mut.layer}]{list(mut.index)}"
        return Mutant(label, changed["phi"], changed.get("psi"), base.eps, dense)
    raise AssertionError(f"no {kind} mutant of {base.name} violates eps in 200 draws")


@dataclass
class Tally:
    """Outcomes of one test's mutants (printed, for the campaign's report)."""

    engine: Counter[str] = field(default_factory=Counter)
    checker: Counter[str] = field(default_factory=Counter)
    ratios: list[float] = field(default_factory=list)

    def line(self, what: str) -> str:
        r = f"sup/eps in [{min(self.ratios):.6g}, {max(self.ratios):.6g}]" if self.ratios else ""
        return f"{what}: engine {dict(self.engine)} checker {dict(self.checker)} {r}"


def assert_true_mutant(base: Base, mutant: Mutant) -> None:
    """The mutant violates its eps: by the dense bound, and at MP_BITS at the grid's best point."""
    assert mutant.dense.lower > mutant.eps, mutant.label
    x, y = mutant.dense.point
    value = mp_abs_error(base.rel, mutant.phi, mutant.psi, x, y)
    assert value - MP_SLACK > mutant.eps, (mutant.label, value, mutant.eps)


def assert_engine_refuses(base: Base, mutant: Mutant, tally: Tally) -> None:
    """certify_model never says HOLDS; its proven upper bound dominates the true sup's lower."""
    cert = base.certify(mutant.phi, mutant.psi, mutant.eps)
    tally.engine[cert.verdict] += 1
    assert cert.verdict in ("VIOLATED", "UNKNOWN"), (mutant.label, cert.upper, mutant.eps)
    assert cert.upper >= mutant.dense.lower, (mutant.label, cert.upper, mutant.dense.lower)
    assert_leaf_bounds_contain_the_grid(cert, mutant.dense, mutant.label)
    if cert.verdict == "VIOLATED":  # its point really violates: |e| >= lower > eps at MP_BITS
        assert cert.witness_point is not None
        (x,), (y,) = cert.witness_point
        value = mp_abs_error(base.rel, mutant.phi, mutant.psi, x, y)
        assert value + MP_SLACK >= cert.lower > mutant.eps, (mutant.label, value, cert.lower)


def assert_checker_refuses(path: Path, lower: float, label: str, tally: Tally) -> None:
    """verify never confirms the forged file: exit 1 (well formed, rejected by re-evaluation),
    and the checker's own proven bound dominates ``lower`` (a proven lower bound of the sup)."""
    result = verify(path, progress=False)
    tally.checker[result.status] += 1
    assert result.status in ("NOT_CONFIRMED", "REFUTED"), (label, result.status, result.reason)
    assert result.exit_code == 1, (label, result.reason)
    assert "\n" not in result.reason
    assert result.checked_upper >= lower, (label, result.checked_upper, lower)


# --- the campaign plan ---------------------------------------------------------------------------
# relation -> (chunks, mutants per chunk). A kernel mutant costs ~1.5 s (covers of 800-1000
# leaves, and the checker refines up to 4 x leaves + 256 boxes when a leaf exceeds the stored
# bound), a sine mutant ~0.5 s (287 leaves), a bilinear one ~0.2 s (128 leaves).
WEIGHT_PLAN = {"gaussian": (4, 4), "laplace": (4, 4), "matern32": (4, 4), "sine": (8, 4)}
WEIGHT_PLAN["bilinear"] = (8, 12)
# claim mutants need a true sup > 0: not for the exact bilinear witness
CLAIM_PLAN = {"gaussian": (2, 4), "laplace": (2, 4), "matern32": (2, 4), "sine": (3, 4)}
BOUND_VARIANTS = ("claim-tight", "part-tight", "all-stripped", "all-kept")
BOUND_BASES = ("gaussian", "laplace", "matern32", "sine")


def _chunks(plan: dict[str, tuple[int, int]]) -> list[tuple[str, int]]:
    return [(name, c) for name, (n, _) in plan.items() for c in range(n)]


def _chunk_rng(rng: np.random.Generator, *key: int) -> np.random.Generator:
    return np.random.default_rng([int(rng.integers(2**32)), *key])


def test_campaign_has_at_least_200_mutants():
    weight = sum(n * k for n, k in WEIGHT_PLAN.values())
    claim = sum(n * k for n, k in CLAIM_PLAN.values())
    bound = len(BOUND_VARIANTS) * len(BOUND_BASES)
    assert (weight, claim, bound) == (176, 36, 16)
    assert weight + claim + bound >= 200


@pytest.mark.slow
@pytest.mark.parametrize("name", BASE_NAMES)
def test_base_certificates_hold_and_are_confirmed(bases, name):
    base = bases(name)
    cert = base.cert
    assert cert.verdict == "HOLDS", (cert.upper, base.eps, cert.method["stop_reason"])
    # the proven enclosure contains the dense grid's proven lower bound of the sup
    assert max(base.dense.lower, 0.0) <= cert.upper <= base.eps
    assert_leaf_bounds_contain_the_grid(cert, base.dense, name)
    if cert.witness_point is not None:  # the engine's lower bound is attained at its point
        (x,), (y,) = cert.witness_point
        assert mp_abs_error(base.rel, base.phi, base.psi, x, y) + MP_SLACK >= cert.lower
    result = base.checked
    assert result.status == "CONFIRMED", result.reason
    assert result.exit_code == 0
    assert max(base.dense.lower, 0.0) <= result.checked_upper <= cert.upper
    print(
        f"\n[base {name}] eps {base.eps:.6g} dense max {base.dense.float_max:.6g} "
        f"l {cert.lower:.6g} u {cert.upper:.6g} leaves {cert.method['leaves']}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "chunk"), _chunks(WEIGHT_PLAN))
def test_weight_mutants_are_never_certified(bases, rng, tmp_path, name, chunk):
    base = bases(name)
    _, per_chunk = WEIGHT_PLAN[name]
    gen = _chunk_rng(rng, BASE_NAMES.index(name), 0, chunk)
    tally = Tally()
    count = 0
    for i in range(per_chunk):
        serial = chunk * per_chunk + i
        kind = KINDS[serial % len(KINDS)]
        tight = (serial // len(KINDS)) % 2 == 1  # every other round of the four kinds
        mutant = make_weight_mutant(base, kind, tight, gen)
        assert_true_mutant(base, mutant)
        tally.ratios.append(mutant.dense.lower / mutant.eps)
        assert_engine_refuses(base, mutant, tally)
        path = forge(
            base,
            tmp_path / f"mutant-{i}.json",
            phi=mutant.phi,
            psi=mutant.psi,
            keep_points=serial % 2 == 0,
        )
        assert_checker_refuses(path, mutant.dense.lower, mutant.label, tally)
        count += 1
    assert count == per_chunk
    assert sum(tally.engine.values()) == sum(tally.checker.values()) == per_chunk
    print("\n" + tally.line(f"[weight {name} {chunk}]"))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "chunk"), _chunks(CLAIM_PLAN))
def test_claim_mutants_are_never_certified(bases, rng, tmp_path, name, chunk):
    base = bases(name)
    _, per_chunk = CLAIM_PLAN[name]
    gen = _chunk_rng(rng, BASE_NAMES.index(name), 1, chunk)
    tally = Tally()
    count = 0
    true_lower = base.dense.lower
    assert true_lower > 0
    for i in range(per_chunk):
        # eps' = L (1 - 10^s), s in [-7, -0.3]: from 50 % below the proven lower bound L of
        # the sup up to 1e-7 relative below it (the hardest claims to refute)
        eps = true_lower * (1.0 - 10.0 ** gen.uniform(-7.0, -0.3))
        mutant = Mutant(f"claim eps={eps!r}", base.phi, base.psi, eps, base.dense)
        assert_true_mutant(base, mutant)
        tally.ratios.append(true_lower / eps)
        assert_engine_refuses(base, mutant, tally)
        path = forge(
            base,
            tmp_path / f"claim-{i}.json",
            eps=eps,
            upper=eps,
            part_upper=eps,
            keep_points=i % 2 == 0,
        )
        assert_checker_refuses(path, true_lower, mutant.label, tally)
        count += 1
    assert count == per_chunk
    print("\n" + tally.line(f"[claim {name} {chunk}]"))


@pytest.mark.slow
@pytest.mark.parametrize("name", BOUND_BASES)
def test_bound_mutants_are_never_confirmed(bases, tmp_path, name):
    base = bases(name)
    L = base.dense.lower  # a proven lower bound of the true sup
    below = math.nextafter(L, 0.0)  # the largest float below it: the tightest false bound
    tally = Tally()
    count = 0
    for variant in BOUND_VARIANTS:
        path = tmp_path / f"bound-{variant}.json"
        if variant == "claim-tight":  # the claim's eps and upper only (the part is honest)
            forge(base, path, eps=below, upper=below)
        elif variant == "part-tight":  # the part's upper and leaf bounds only
            forge(base, path, part_upper=below)
        else:
            value = L * 0.5 if variant == "all-stripped" else L * 0.9
            forge(
                base,
                path,
                eps=value,
                upper=value,
                part_upper=value,
                keep_points=variant == "all-kept",
            )
        assert_checker_refuses(path, L, f"bound {variant}", tally)
        count += 1
    assert count == len(BOUND_VARIANTS)
    print("\n" + tally.line(f"[bound {name}]"))


# --- adversarial search --------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", BASE_NAMES)
def test_adversarial_search_finds_no_point_above_the_proven_bound(bases, rng, name):
    base = bases(name)
    cert = base.cert
    part = cert.parts[0]
    leaves = cover_leaves(part.domain_lower, part.domain_upper, part.cover.tree, part.cover.splits)
    worst = np.argsort(np.asarray(part.cover.leaf_upper))[::-1][:15]
    centres = np.array([[(a + b) / 2 for a, b in zip(*leaves[k], strict=True)] for k in worst])
    # popsize 15 x 2 dimensions = 30 members: the 15 worst-leaf centres, the engine's point,
    # the dense grid's best point, and uniform points
    seeds = [centres, [base.dense.point]]
    if cert.witness_point is not None:
        seeds.append([[*cert.witness_point[0], *cert.witness_point[1]]])
    init = np.vstack(seeds)
    init = np.vstack([init, rng.uniform(-1.0, 1.0, (30 - len(init), 2))])
    bounds = [(-1.0, 1.0), (-1.0, 1.0)]

    def negabs(z: F64) -> F64 | float:  # z of shape (2,) or (2, S) (vectorised DE)
        Z = np.atleast_2d(np.asarray(z, dtype=np.float64).T)
        v = -np.abs(float_error(base.rel, base.phi, base.psi, Z))
        return v if np.ndim(z) == 2 else float(v[0])

    res = optimize.differential_evolution(
        negabs,
        bounds,
        init=init,
        maxiter=50,
        tol=0.0,
        polish=False,
        vectorized=True,
        updating="deferred",
        rng=_chunk_rng(rng, BASE_NAMES.index(name), 2),
    )
    # the local polish: L-BFGS-B from every member of the final population
    polished = [
        optimize.minimize(negabs, start, method="L-BFGS-B", bounds=bounds)
        for start in res.population
    ]
    local = min(polished, key=lambda r: r.fun)
    candidates = [*res.population, *(np.clip(r.x, -1.0, 1.0) for r in polished), *centres]
    values = [mp_abs_error(base.rel, base.phi, base.psi, float(x), float(y)) for x, y in candidates]
    best = max(values)
    # no slack beyond the MP_BITS evaluation's own error: a failure proves |e| > u somewhere;
    # the checker's own proven bound (<= the engine's u) must hold as well
    checked = base.checked.checked_upper
    assert best <= checked + MP_SLACK, (float(best), checked)
    assert best <= cert.upper + MP_SLACK, (float(best), cert.upper)
    # and every point stays below the bound of every leaf that contains it
    lows = np.array([lo for lo, _ in leaves])
    highs = np.array([hi for _, hi in leaves])
    leaf_upper = np.asarray(part.cover.leaf_upper)
    for point, value in zip(candidates, values, strict=True):
        inside = np.all((lows <= point) & (point <= highs), axis=1)
        assert inside.any(), point  # the leaves cover the box
        assert value <= float(np.min(leaf_upper[inside])) + MP_SLACK, (point, float(value))
    print(
        f"\n[DE {name}] max |e| found {float(best):.10g} (DE {-res.fun:.10g}, L-BFGS-B "
        f"{-local.fun:.10g}); engine l {cert.lower:.10g} u {cert.upper:.10g}; checker "
        f"{checked:.10g}; u / max = {cert.upper / float(best) if best > 0 else math.inf:.6g}"
    )


# --- tampered files through the command line ------------------------------------------------------
def _rewrite(path: Path, edit: Callable[[dict[str, Any]], None], *, redigest: bool) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    if redigest:
        doc["digest"] = document_digest(doc)
    path.write_text(json.dumps(doc, indent=1))


def _change_weight(doc: dict[str, Any]) -> None:
    row = doc["witness"]["phi"]["weights"][0][0]
    row[0] = (float.fromhex(row[0]) * 1.25).hex()


def _change_bound(doc: dict[str, Any]) -> None:
    value = float.fromhex(doc["claim"]["upper"]["hex"]) * 0.5
    doc["claim"]["upper"] = _number(value)


def _new_schema(doc: dict[str, Any]) -> None:
    doc["schema"] = "certify.certificate/2"


def _run_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["verify", str(path)])
    out, err = capsys.readouterr()
    text = out + err
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text  # one line, whatever the outcome
    assert "Traceback" not in text
    return code, lines[0]


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        ("weight", "digest mismatch"),
        ("bound", "digest mismatch"),
        ("schema", "unknown schema version"),
        ("truncated", "invalid JSON"),
    ],
)
def test_cli_rejects_tampered_files_as_malformed(bases, tmp_path, capsys, tamper, match):
    base = bases("bilinear")
    path = tmp_path / "tampered.json"
    path.write_bytes(base.path.read_bytes())
    if tamper == "weight":
        _rewrite(path, _change_weight, redigest=False)
    elif tamper == "bound":
        _rewrite(path, _change_bound, redigest=False)
    elif tamper == "schema":
        _rewrite(path, _new_schema, redigest=True)  # well-formed digest: the version decides
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    code, line = _run_cli(path, capsys)
    assert code == 2, line
    assert line.startswith("MALFORMED:"), line
    assert match in line


def test_cli_confirms_the_base_and_refuses_a_redigested_forgery(bases, tmp_path, capsys):
    base = bases("bilinear")
    code, line = _run_cli(base.path, capsys)
    assert code == 0 and line.startswith("CONFIRMED: HOLDS confirmed"), line
    path = tmp_path / "forged.json"
    path.write_bytes(base.path.read_bytes())
    _rewrite(path, _change_weight, redigest=True)  # digest fixed: only re-evaluation can tell
    code, line = _run_cli(path, capsys)
    assert code == 1, line
    assert line.startswith(("NOT_CONFIRMED:", "REFUTED:")), line
