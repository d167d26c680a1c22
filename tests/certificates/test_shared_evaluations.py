"""Evaluations shared between leaves: the engine's per-batch de-duplication of intervals, the
checker's enclosure cache, and its fast (ball-product) form with the precise fallback.

Each is a pure speed measure, so each test pins the numbers to those of the unshared
computation, and the fallback test shows the precise path is actually needed somewhere.
"""

from __future__ import annotations

import numpy as np
from flint import arb

from certify.certificates.arb_models import ArbMLP, arb_relation, idot, interval_ball
from certify.certificates.checker import (
    _ball_dot,
    _Budget,
    _leaf_bound,
    _PartFunction,
    _Residual,
)
from certify.certificates.functions import ResidualFunction
from certify.networks.mlp import MLP
from certify.relations.spec import parse_domain, parse_relation


def _net(activation: str = "tanh", width: int = 12, rng: int = 0) -> MLP:
    return MLP.random([1, width, 5], activation=activation, rng=rng)


def test_engine_batches_with_repeated_intervals_match_row_by_row():
    """ResidualFunction.enclose evaluates each distinct x- or y-interval once per batch; the
    bounds are exactly those of evaluating every box on its own."""
    rel = parse_relation("gaussian:lengthscale=0.5")
    box = parse_domain("box:-1,1")
    for phi, psi in ((_net(), None), (_net("relu"), _net("relu", rng=1))):
        f = ResidualFunction(rel, phi, psi, box, box)
        edges = np.linspace(-1, 1, 9)
        # every pair of 8 intervals, plus the diagonal boxes twice: many repeats
        cells = [(i, j) for i in range(8) for j in range(8)] + [(i, i) for i in range(8)]
        lo = np.array([[edges[i], edges[j]] for i, j in cells])
        hi = np.array([[edges[i + 1], edges[j + 1]] for i, j in cells])
        batch = f.enclose(lo, hi)
        rows = [f.enclose(lo[k : k + 1], hi[k : k + 1]) for k in range(len(cells))]
        assert np.array_equal(batch[0], np.concatenate([r[0] for r in rows]))
        assert np.array_equal(batch[1], np.concatenate([r[1] for r in rows]))


def _arb_residual(phi: MLP, psi: MLP | None = None) -> _Residual:
    a = ArbMLP.from_dict(phi.to_dict())
    b = a if psi is None else ArbMLP.from_dict(psi.to_dict())
    return _Residual(arb_relation(parse_relation("gaussian:lengthscale=0.5"), 1, 1), a, b)


def test_checker_cache_keys_on_the_exact_ball():
    fn = _arb_residual(_net())
    narrow = [interval_ball(0.25, 0.25 + 2.0**-20)]
    wide = [interval_ball(0.25 - 2.0**-20, 0.25 + 2.0**-19)]  # another radius, same scale
    first = fn._enclose(fn.a, narrow)
    assert fn._enclose(fn.a, narrow) is first  # a hit returns the stored result
    other = fn._enclose(fn.a, wide)
    assert other is not first and len(fn._cache) == 2
    fresh = fn.a.enclose(wide)
    assert all(
        u.mid() == v.mid() and u.rad() == v.rad() for u, v in zip(other[0], fresh[0], strict=True)
    )


def test_checker_cache_is_bounded():
    fn = _arb_residual(_net())
    fn._cache_size = 4
    for k in range(10):
        fn._enclose(fn.a, [interval_ball(k / 16, k / 16 + 1 / 32)])
    assert len(fn._cache) == 4


def test_ball_dot_contains_the_interval_dot():
    """In exact arithmetic a ball product contains the interval product; arb rounds every
    radius up to a 30-bit mantissa (and every unions' ends likewise), so containment holds up
    to ~2^-30 relative per operation: n 2^-28 sum |u_i| |v_i| covers it."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        u = [
            arb(float(m), float(r))
            for m, r in zip(rng.normal(size=n), rng.uniform(0, 1, n), strict=True)
        ]
        v = [
            arb(float(m), float(r))
            for m, r in zip(rng.normal(size=n), rng.uniform(0, 1, n), strict=True)
        ]
        fast, precise = _ball_dot(u, v), idot(u, v)
        size = sum((abs(a).upper() * abs(b).upper() for a, b in zip(u, v, strict=True)), arb(0))
        slack = n * size * arb(2) ** -28
        assert fast.upper() >= precise.upper() - slack
        assert fast.lower() <= precise.lower() + slack
        # and the ball form is the looser one by the r_u r_v terms (both radii up to 1 here)
        assert fast.rad() >= precise.rad() - slack
    assert _ball_dot([], []) == 0


class _TwoForms(_PartFunction):
    """A part function whose fast bound is 2 and whose precise bound is 1 on every box."""

    dim = 1

    def __init__(self) -> None:
        self.calls = {"fast": 0, "precise": 0}

    def sup_abs(self, balls):  # type: ignore[no-untyped-def]
        self.calls["fast"] += 1
        return arb(2)

    def sup_abs_precise(self, balls):  # type: ignore[no-untyped-def]
        self.calls["precise"] += 1
        return arb(1)


def test_leaf_bound_tries_the_precise_form_before_bisecting():
    fn = _TwoForms()
    budget = _Budget(remaining=100)
    assert _leaf_bound(fn, [0.0], [1.0], arb(1), 3, budget) == 1
    assert fn.calls == {"fast": 1, "precise": 1} and budget.used == 0
    # no target (nothing to confirm): the fast form alone
    fn = _TwoForms()
    assert _leaf_bound(fn, [0.0], [1.0], None, 3, _Budget(remaining=100)) == 2
    assert fn.calls == {"fast": 1, "precise": 0}
    # a target below both: bisected, the precise form tried on every box on the way
    fn = _TwoForms()
    budget = _Budget(remaining=100)
    _leaf_bound(fn, [0.0], [1.0], arb(0.5), 2, budget)
    assert budget.used == 6 and fn.calls["precise"] == fn.calls["fast"] == 7


def test_both_residual_forms_enclose_sampled_values():
    """The fast (ball-product) form is a proof too: it bounds |e| at points of each leaf."""
    phi = _net(width=24, rng=5)
    fn = _arb_residual(phi)
    rel = parse_relation("gaussian:lengthscale=0.5")
    rng = np.random.default_rng(8)
    for half in (0.5, 0.05, 0.005):
        c = rng.uniform(-1 + half, 1 - half, 2)
        lo, hi = c - half, c + half
        balls = [interval_ball(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]
        fast, precise = fn.sup_abs(balls), fn.sup_abs_precise(balls)
        Z = rng.uniform(lo, hi, (200, 2))
        e = rel._paired(Z[:, :1], Z[:, 1:]) - np.einsum("ij,ij->i", phi(Z[:, :1]), phi(Z[:, 1:]))
        top = float(np.max(np.abs(e)))
        assert top <= float(fast.upper()) and top <= float(precise.upper())
