"""Lemma L7 (PSD obstruction): a Gram eigenvalue -gamma < 0 at p points forces every
symmetric model <phi, phi> to have sup error >= gamma / p.

Proof-check: (1) the algebraic step |v^T A v| <= max|A_ij| (sum |v_i|)^2 <= p max|A_ij| |v|^2
in sympy for p = 2, 3 (the last inequality is Cauchy-Schwarz, a sum of squares); (2) the
certified instance -|x - y| on [-1, 1], whose counterexample is enclosed in arb balls.
"""

from __future__ import annotations

import itertools

import sympy as sp

import certify
from certify.bounds import bound


def test_cauchy_schwarz_step_is_a_sum_of_squares():
    """p |v|^2 - (sum |v_i|)^2 = sum_{i<j} (|v_i| - |v_j|)^2 >= 0."""
    for p in (2, 3, 4):
        a = sp.symbols(f"a0:{p}", nonnegative=True)  # a_i = |v_i|
        lhs = p * sum(x**2 for x in a) - sum(a) ** 2
        sos = sum((a[i] - a[j]) ** 2 for i, j in itertools.combinations(range(p), 2))
        assert sp.expand(lhs - sos) == 0
    print("L7 step: p |v|^2 - (sum |v_i|)^2 is a sum of squares for p = 2, 3, 4")


def test_minus_distance_is_not_psd_and_no_symmetric_model_beats_gamma_over_p():
    """-|x - y| on [-1, 1]: certified eigenvalue -2 at p = 2 points, so sup error >= 1."""
    check = certify.check_psd("expr:-Abs(x0-y0)", "box:-1,1")
    assert check.refuted and check.n_points == 2
    lo, hi = check.eigenvalue_enclosure
    assert lo <= -2.0 <= hi and hi < 0  # the exact eigenvalue of [[0, -2], [-2, 0]]
    value = bound("L7").evaluate(gamma=check.gamma, p=check.n_points).value
    assert value is not None and check.l7_bound <= value and value <= 1.0
    assert check.l7_bound >= 1.0 - 1e-15
    print(
        f"L7 certified: -|x-y| on [-1,1], eigenvalue in [{lo:.6g}, {hi:.6g}] at p = 2, "
        f"every <phi, phi> has sup error >= {check.l7_bound:.6g}"
    )
