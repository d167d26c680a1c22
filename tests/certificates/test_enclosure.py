"""The branch-and-bound engine on functions with known suprema."""

from __future__ import annotations

import math

import mpmath
import numba
import numpy as np
import pytest

from certify._kernels import interval as iv
from certify.certificates.enclosure import BoxFunction, Budget, enclose, verdict_of
from certify.errors import InvalidInputError
from certify.relations import Box


@numba.njit(cache=True)
def _toy_enclose(lo, hi):
    # f(z) = sin(3 z0) + z1^2 - z0 z1 / 2, naive interval arithmetic
    k = lo.shape[0]
    out_lo = np.empty(k)
    out_hi = np.empty(k)
    for b in range(k):
        t_lo, t_hi = iv.iscale(3.0, lo[b, 0], hi[b, 0])
        s_lo, s_hi = iv.isin(t_lo, t_hi)
        q_lo, q_hi = iv.isqr(lo[b, 1], hi[b, 1])
        p_lo, p_hi = iv.imul(lo[b, 0], hi[b, 0], lo[b, 1], hi[b, 1])
        p_lo, p_hi = iv.iscale(0.5, p_lo, p_hi)
        a_lo, a_hi = iv.iadd(s_lo, s_hi, q_lo, q_hi)
        out_lo[b], out_hi[b] = iv.isub(a_lo, a_hi, p_lo, p_hi)
    return out_lo, out_hi


class Toy(BoxFunction):
    def __init__(self, domain: Box, shift: float = 0.0) -> None:
        self.domain = domain
        self.shift = shift

    def values(self, Z):
        return np.sin(3 * Z[:, 0]) + Z[:, 1] ** 2 - 0.5 * Z[:, 0] * Z[:, 1] - self.shift

    def enclose(self, lo, hi):
        flo, fhi = _toy_enclose(np.ascontiguousarray(lo), np.ascontiguousarray(hi))
        return iv_shift(flo, fhi, self.shift)


def iv_shift(flo, fhi, c):
    if c == 0.0:
        return flo, fhi
    # subtracting a float constant: widen by one ulp each way
    return np.nextafter(flo - c, -np.inf), np.nextafter(fhi - c, np.inf)


def exact_abs(z: np.ndarray, shift: float = 0.0) -> mpmath.mpf:
    with mpmath.workprec(200):
        a, b = (mpmath.mpf(float(v)) for v in z)
        return abs(mpmath.sin(3 * a) + b**2 - a * b / 2 - mpmath.mpf(shift))


def dense_max(f: Toy, n: int = 801) -> float:
    g = np.linspace(-1, 1, n)
    Z = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    return float(np.abs(f.values(Z)).max())


BOX = Box([-1.0, -1.0], [1.0, 1.0])


def test_enclosure_contains_the_sup_and_reaches_the_gap():
    f = Toy(BOX)
    enc = enclose(f, rel_gap=0.01, progress=False)
    assert enc.stop_reason == "rel_gap" and enc.gap <= 0.01
    # the lower bound is attained: |f(point)| >= lower, exactly (200-bit check)
    assert exact_abs(enc.point) >= mpmath.mpf(enc.lower)
    # a dense sample never exceeds the proven upper bound
    assert dense_max(f) <= enc.upper
    # the cover partitions the box: leaf volumes add up exactly (dyadic splits of [-1, 1]^2)
    vol = np.prod(enc.cover.leaf_upper - enc.cover.leaf_lower, axis=1).sum()
    assert vol == pytest.approx(4.0, rel=1e-12)
    assert enc.cover.tree.shape[0] == 2 * enc.cover.n_leaves - 1


def test_verdicts_against_eps():
    f = Toy(BOX)
    sup_estimate = dense_max(f)
    holds = enclose(f, eps=sup_estimate * 1.2, progress=False)
    assert holds.verdict == "HOLDS" and holds.upper <= sup_estimate * 1.2
    violated = enclose(f, eps=sup_estimate * 0.8, progress=False)
    assert violated.verdict == "VIOLATED" and violated.lower > sup_estimate * 0.8
    assert exact_abs(violated.point) > mpmath.mpf(sup_estimate * 0.8)


def test_budget_gives_unknown():
    f = Toy(BOX)
    enc = enclose(
        f, eps=dense_max(f) * 1.0001, rel_gap=0.0, budget=Budget(boxes=50), progress=False
    )
    assert enc.verdict == "UNKNOWN" and enc.stop_reason == "budget-boxes"
    assert dense_max(f) <= enc.upper


def test_nan_is_never_holds():
    class NanFunction(Toy):
        def enclose(self, lo, hi):
            flo, fhi = super().enclose(lo, hi)
            flo[:] = np.nan
            return flo, fhi

    enc = enclose(NanFunction(BOX), eps=1e9, budget=Budget(boxes=20), progress=False)
    assert enc.verdict == "UNKNOWN" and math.isinf(enc.upper)
    assert verdict_of(0.0, math.nan, 1.0) == "UNKNOWN"


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="`eps` must be >= 0"):
        enclose(Toy(BOX), eps=-1.0)
    with pytest.raises(InvalidInputError, match="BoxFunction"):
        enclose(lambda z: z)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="budget.boxes"):
        Budget(boxes=0)
