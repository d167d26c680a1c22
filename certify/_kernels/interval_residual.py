"""Mean-value enclosure of the model error e(x, y) = r(x, y) - <phi(x), psi(y)> over boxes.

Given, for k box pairs X_b x Y_b with centres c_b = (cx_b, cy_b), interval
enclosures of

* r over the box pair, its gradients in x and y over the box pair, and r at c_b;
* phi over X_b, psi over Y_b, phi(cx_b), psi(cy_b), and the Jacobians of phi
  over X_b and of psi over Y_b,

this kernel returns two enclosures of e over the box pair and intersects them:

* naive: r(X_b, Y_b) - sum_i phi_i(X_b) psi_i(Y_b);
* mean value (Lebourg's theorem for locally Lipschitz e):
  e(c_b) + sum_k g_k (z_k - c_k) with g = (grad_x r - J_phi^T psi(Y_b),
  grad_y r - J_psi^T phi(X_b)) enclosing the (Clarke) gradient of e on the box.

All arithmetic is outward rounded (certify._kernels.interval). If one of the
two enclosures is NaN the other is used; if both are (or, which would be a
bug, they are disjoint) the result is NaN, which the engine reads as unknown.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from certify._kernels.interval import iadd, imul, isqr, isqrt, isub

__all__ = ["diagonal_residual_mean_value", "feature_gap_mean_value", "residual_mean_value"]


@numba.njit(cache=True, parallel=True)
def residual_mean_value(
    lo, hi, centre,
    r_lo, r_hi, rgx_lo, rgx_hi, rgy_lo, rgy_hi, rc_lo, rc_hi,
    pb_lo, pb_hi, qb_lo, qb_hi, pc_lo, pc_hi, qc_lo, qc_hi,
    jp_lo, jp_hi, jq_lo, jq_hi,
):  # fmt: skip
    """Enclosures (f_lo, f_hi) of e over k box pairs; see the module docstring for the inputs.

    Shapes: lo, hi, centre (k, dx + dy); r_* (k,); rgx_* (k, dx); rgy_* (k, dy);
    pb_*, pc_* (k, m) for phi; qb_*, qc_* (k, m) for psi; jp_* (k, m, dx); jq_* (k, m, dy).
    """
    k = lo.shape[0]
    dx = rgx_lo.shape[1]
    dy = rgy_lo.shape[1]
    m = pb_lo.shape[1]
    f_lo = np.empty(k)
    f_hi = np.empty(k)
    for b in prange(k):
        # naive: r(box) - <phi(X), psi(Y)>
        s_lo, s_hi = 0.0, 0.0
        for i in range(m):
            t_lo, t_hi = imul(pb_lo[b, i], pb_hi[b, i], qb_lo[b, i], qb_hi[b, i])
            s_lo, s_hi = iadd(s_lo, s_hi, t_lo, t_hi)
        n_lo, n_hi = isub(r_lo[b], r_hi[b], s_lo, s_hi)
        # value at the centre
        s_lo, s_hi = 0.0, 0.0
        for i in range(m):
            t_lo, t_hi = imul(pc_lo[b, i], pc_hi[b, i], qc_lo[b, i], qc_hi[b, i])
            s_lo, s_hi = iadd(s_lo, s_hi, t_lo, t_hi)
        v_lo, v_hi = isub(rc_lo[b], rc_hi[b], s_lo, s_hi)
        # gradient in x: grad_x r - J_phi^T psi(Y)
        for d in range(dx):
            g_lo, g_hi = rgx_lo[b, d], rgx_hi[b, d]
            for i in range(m):
                t_lo, t_hi = imul(jp_lo[b, i, d], jp_hi[b, i, d], qb_lo[b, i], qb_hi[b, i])
                g_lo, g_hi = isub(g_lo, g_hi, t_lo, t_hi)
            z_lo, z_hi = isub(lo[b, d], hi[b, d], centre[b, d], centre[b, d])
            t_lo, t_hi = imul(g_lo, g_hi, z_lo, z_hi)
            v_lo, v_hi = iadd(v_lo, v_hi, t_lo, t_hi)
        # gradient in y: grad_y r - J_psi^T phi(X)
        for d in range(dy):
            g_lo, g_hi = rgy_lo[b, d], rgy_hi[b, d]
            for i in range(m):
                t_lo, t_hi = imul(jq_lo[b, i, d], jq_hi[b, i, d], pb_lo[b, i], pb_hi[b, i])
                g_lo, g_hi = isub(g_lo, g_hi, t_lo, t_hi)
            z_lo, z_hi = isub(lo[b, dx + d], hi[b, dx + d], centre[b, dx + d], centre[b, dx + d])
            t_lo, t_hi = imul(g_lo, g_hi, z_lo, z_hi)
            v_lo, v_hi = iadd(v_lo, v_hi, t_lo, t_hi)
        n_bad = n_lo != n_lo or n_hi != n_hi
        v_bad = v_lo != v_lo or v_hi != v_hi
        if n_bad and v_bad:
            f_lo[b], f_hi[b] = np.nan, np.nan
        elif n_bad:
            f_lo[b], f_hi[b] = v_lo, v_hi
        elif v_bad:
            f_lo[b], f_hi[b] = n_lo, n_hi
        else:
            f_lo[b] = max(n_lo, v_lo)
            f_hi[b] = min(n_hi, v_hi)
            if f_lo[b] > f_hi[b]:  # two valid enclosures cannot be disjoint: a bug; be safe
                f_lo[b], f_hi[b] = np.nan, np.nan
    return f_lo, f_hi


@numba.njit(cache=True, inline="always")
def _combine(n_lo, n_hi, v_lo, v_hi):
    n_bad = n_lo != n_lo or n_hi != n_hi
    v_bad = v_lo != v_lo or v_hi != v_hi
    if n_bad and v_bad:
        return np.nan, np.nan
    if n_bad:
        return v_lo, v_hi
    if v_bad:
        return n_lo, n_hi
    lo = max(n_lo, v_lo)
    hi = min(n_hi, v_hi)
    if lo > hi:
        return np.nan, np.nan
    return lo, hi


@numba.njit(cache=True, parallel=True)
def feature_gap_mean_value(
    lo, hi, centre,
    ab_lo, ab_hi, ac_lo, ac_hi, ja_lo, ja_hi,
    bb_lo, bb_hi, bc_lo, bc_hi, jb_lo, jb_hi,
):  # fmt: skip
    """Enclosures of |a(x) - b(x)|_2 over k boxes (pass zeros for b to get |a(x)|_2).

    Each component a_i - b_i is enclosed by the naive difference intersected with
    the mean-value form (a - b)_i(c) + sum_k (J_a - J_b)_ik (x_k - c_k); the
    norm is sqrt(sum_i [a_i - b_i]^2), monotone in each squared component.
    Shapes: lo, hi, centre (k, d); *b_* (box), *c_* (centre) (k, m); j*_ (k, m, d).
    """
    k = lo.shape[0]
    d = lo.shape[1]
    m = ab_lo.shape[1]
    f_lo = np.empty(k)
    f_hi = np.empty(k)
    for b in prange(k):
        s_lo, s_hi = 0.0, 0.0
        for i in range(m):
            n_lo, n_hi = isub(ab_lo[b, i], ab_hi[b, i], bb_lo[b, i], bb_hi[b, i])
            v_lo, v_hi = isub(ac_lo[b, i], ac_hi[b, i], bc_lo[b, i], bc_hi[b, i])
            for j in range(d):
                g_lo, g_hi = isub(ja_lo[b, i, j], ja_hi[b, i, j], jb_lo[b, i, j], jb_hi[b, i, j])
                z_lo, z_hi = isub(lo[b, j], hi[b, j], centre[b, j], centre[b, j])
                t_lo, t_hi = imul(g_lo, g_hi, z_lo, z_hi)
                v_lo, v_hi = iadd(v_lo, v_hi, t_lo, t_hi)
            c_lo, c_hi = _combine(n_lo, n_hi, v_lo, v_hi)
            q_lo, q_hi = isqr(c_lo, c_hi)
            s_lo, s_hi = iadd(s_lo, s_hi, q_lo, q_hi)
        f_lo[b], f_hi[b] = isqrt(s_lo, s_hi)
        if s_lo != s_lo or s_hi != s_hi:
            f_lo[b], f_hi[b] = np.nan, np.nan
    return f_lo, f_hi


@numba.njit(cache=True, parallel=True)
def diagonal_residual_mean_value(
    lo, hi, centre,
    rd_lo, rd_hi, rdg_lo, rdg_hi, rdc_lo, rdc_hi,
    ab_lo, ab_hi, ac_lo, ac_hi, ja_lo, ja_hi,
):  # fmt: skip
    """Enclosures of r(x, x) - |a(x)|^2 over k boxes (lemma L1's diagonal).

    rd_* (k,) encloses r(x, x) over the box, rdg_* (k, d) the gradient of
    x -> r(x, x) over the box, rdc_* (k,) r at the centre; a's enclosures as in
    feature_gap_mean_value. Gradient of |a|^2: 2 J_a^T a.
    """
    k = lo.shape[0]
    d = lo.shape[1]
    m = ab_lo.shape[1]
    f_lo = np.empty(k)
    f_hi = np.empty(k)
    for b in prange(k):
        s_lo, s_hi = 0.0, 0.0
        c_lo, c_hi = 0.0, 0.0
        for i in range(m):
            q_lo, q_hi = isqr(ab_lo[b, i], ab_hi[b, i])
            s_lo, s_hi = iadd(s_lo, s_hi, q_lo, q_hi)
            q_lo, q_hi = isqr(ac_lo[b, i], ac_hi[b, i])
            c_lo, c_hi = iadd(c_lo, c_hi, q_lo, q_hi)
        n_lo, n_hi = isub(rd_lo[b], rd_hi[b], s_lo, s_hi)
        v_lo, v_hi = isub(rdc_lo[b], rdc_hi[b], c_lo, c_hi)
        for j in range(d):
            g_lo, g_hi = rdg_lo[b, j], rdg_hi[b, j]
            for i in range(m):
                t_lo, t_hi = imul(ja_lo[b, i, j], ja_hi[b, i, j], ab_lo[b, i], ab_hi[b, i])
                t_lo, t_hi = iadd(t_lo, t_hi, t_lo, t_hi)
                g_lo, g_hi = isub(g_lo, g_hi, t_lo, t_hi)
            z_lo, z_hi = isub(lo[b, j], hi[b, j], centre[b, j], centre[b, j])
            t_lo, t_hi = imul(g_lo, g_hi, z_lo, z_hi)
            v_lo, v_hi = iadd(v_lo, v_hi, t_lo, t_hi)
        f_lo[b], f_hi[b] = _combine(n_lo, n_hi, v_lo, v_hi)
    return f_lo, f_hi
