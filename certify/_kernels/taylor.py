"""Taylor-model enclosures of the diagonal residual of Gaussian-kernel Nystrom features.

For features ``F_i(x) = sum_j C_ji g(x - n_j)`` with the Gaussian kernel
``g(t) = exp(-|t|^2 / (2 l^2))`` the diagonal residual of lemma L1,

    f(x) = 1 - sum_i F_i(x)^2,

is a tiny difference (1e-3 and below) of terms of size 1. A first-order
(mean-value) enclosure pays the *term-wise* curvature of ``sum_i F_i^2`` times
``h^2`` -- thousands of times the curvature of f itself -- so it needs boxes of
width ~1e-3 in two dimensions (millions of boxes). A Taylor model keeps the
cancellation: on a box ``c +- h`` each feature is a polynomial of degree p in
``x - c`` plus a remainder,

    F_i(x) = P_i(x) + R_i(x),   P_i = sum_{|a| <= p} A_ia (x - c)^a,
    |R_i(x)| <= rho_i = sum_{|a| = p+1} |B_ia| h^a,

with ``A_ia = sum_j C_ji d^a g(c - n_j) / a!`` (at the point c) and ``B_ia`` an
enclosure of ``sum_j C_ji d^a g(xi - n_j) / a!`` over the box (the Lagrange
remainder: one xi on the segment from c to x serves every node, because it is
the remainder of the single function F_i). Then

    f(x) = 1 - Q(x) - E(x),   Q = sum_i P_i^2 (all coefficients, degree <= 2p),
    |E(x)| <= sum_i rho_i (2 |P_i|_box + rho_i),

and Q's coefficients are summed over i coefficient by coefficient, so the
cancellation happens between numbers, not between ranges: the enclosure width
is ``O(h^(p+1))`` times the size of the (p+1)-th derivatives of the F_i. Q is
bounded on the box monomial by monomial (``(x - c)^b`` in ``[0, h^b]`` when every
exponent is even, ``[-h^b, h^b]`` otherwise).

The Gaussian factorises over coordinates, ``d^a g(t) / a! = prod_k gamma_{a_k}(t_k)``
with the one-dimensional normalised derivatives ``gamma_q = g^(q) / q!``:

    gamma_0(t) = exp(-t^2 / (2 l^2)),
    gamma_{q+1}(t) = -(t gamma_q(t) + gamma_{q-1}(t)) / ((q + 1) l^2),

evaluated in interval arithmetic at the (interval) point ``c_k - n_jk`` and over
the interval ``c_k - n_jk +- h_k``. Over a wide interval the recurrence
overestimates (t appears in every step), so it is intersected with Cramer's
inequality ``|He_q(u)| exp(-u^2 / 4) <= K sqrt(q!)``, K = 1.086435 (Abramowitz &
Stegun 22.14.17, converted to the probabilists' Hermite polynomials), which gives
``|gamma_q(t)| <= K / (sqrt(q!) l^q)`` for every real t.

Rounding: every interval operation rounds outward (:mod:`certify._kernels.interval`).
The sums over the nodes are done in midpoint-radius form with the a-posteriori bound
of Higham (``gamma_n``), exactly as :mod:`certify.spectral.nystrom` does for the
features themselves. Hand-written because no library provides rigorous multivariate
Taylor models in compiled code (the Python Taylor-model packages are pure Python
and orders of magnitude too slow for the thousands of boxes per enclosure).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numba
import numpy as np
import numpy.typing as npt

from certify._kernels.interval import down, iadd, iexp, imul, isqr, isub, itanh, up

__all__ = [
    "DEFAULT_ORDER",
    "GAP_ORDER",
    "gap_enclosure",
    "gaussian_nystrom_diagonal",
    "gaussian_nystrom_tanh_gap",
    "multi_indices",
    "unit_monomials",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_ORDER: int = 5
"""Default order p of the Taylor models (remainder of order p + 1)."""

GAP_ORDER: int = 6
"""Default order of the feature-gap models: on a 2-D construction witness (400 tanh units,
47 Gaussian Nystrom features) boxes of half-width 0.05 gave median bounds 1.3e-4 / 2.6e-5 /
1.7e-5 at orders 5 / 6 / 7 for 1.3 / 1.5 / 1.9 ms per box."""

_CRAMER_K = 1.0865  # > 1.086435, Cramer's constant (A&S 22.14.17)
_ETA = 2.0**-1074


@lru_cache(maxsize=16)
def multi_indices(dim: int, order: int) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Index tables of the Taylor models in ``dim`` variables of order ``order``.

    Returns ``(alphas, rems, betas, pairs, even)``: the exponents with ``|a| <= p``
    (rows, by degree), those with ``|a| = p + 1``, those with ``|b| <= 2p``; ``pairs``
    has rows ``(a, a', b, mult)`` for ``a <= a'`` with ``alphas[a] + alphas[a'] =
    betas[b]`` and ``mult`` 1 on the diagonal, 2 off it; ``even[b]`` is 1 when every
    exponent of ``betas[b]`` is even.
    """

    def degree(n: int) -> list[tuple[int, ...]]:
        return [t for t in itertools.product(range(n + 1), repeat=dim) if sum(t) == n]

    alphas = [t for n in range(order + 1) for t in degree(n)]
    rems = degree(order + 1)
    betas = [t for n in range(2 * order + 1) for t in degree(n)]
    where = {t: i for i, t in enumerate(betas)}
    pairs = []
    for a, ta in enumerate(alphas):
        for b in range(a, len(alphas)):
            tb = alphas[b]
            s = tuple(u + v for u, v in zip(ta, tb, strict=True))
            pairs.append((a, b, where[s], 1 if a == b else 2))
    even = [1 if all(e % 2 == 0 for e in t) else 0 for t in betas]
    return (
        np.array(alphas, dtype=np.int64).reshape(-1, dim),
        np.array(rems, dtype=np.int64).reshape(-1, dim),
        np.array(betas, dtype=np.int64).reshape(-1, dim),
        np.array(pairs, dtype=np.int64).reshape(-1, 4),
        np.array(even, dtype=np.int64),
    )


def _cramer_caps(order: int, lengthscale: float) -> FloatArray:
    """Upper bounds of ``sup_t |gamma_q(t)|`` for q = 0..order + 1 (rounded up generously)."""
    caps = np.empty(order + 2)
    for q in range(order + 2):
        v = _CRAMER_K / (math.sqrt(math.factorial(q)) * lengthscale**q)
        caps[q] = v * (1.0 + 1e-12) + 1e-300
    return caps


@numba.njit(cache=True)
def _gammas(tlo, thi, slo, shi, cap, out_lo, out_hi, n):  # pragma: no cover
    """gamma_q over [tlo, thi] for q < n into out[:n] (s = 1 / l^2 as [slo, shi])."""
    # t^2 s / 2
    t2lo, t2hi = isqr(tlo, thi)
    e_lo, e_hi = imul(t2lo, t2hi, slo, shi)
    g_lo, g_hi = iexp(-up(0.5 * e_hi), -down(0.5 * e_lo))
    out_lo[0] = max(g_lo, 0.0)
    out_hi[0] = min(g_hi, 1.0)
    prev_lo, prev_hi = 0.0, 0.0
    for q in range(n - 1):
        a_lo, a_hi = imul(tlo, thi, out_lo[q], out_hi[q])
        a_lo, a_hi = iadd(a_lo, a_hi, prev_lo, prev_hi)
        a_lo, a_hi = imul(a_lo, a_hi, slo, shi)
        inv = 1.0 / (q + 1)  # exact only for powers of two: enclose it
        i_lo, i_hi = down(inv), up(inv)
        a_lo, a_hi = imul(a_lo, a_hi, i_lo, i_hi)
        lo_, hi_ = -a_hi, -a_lo
        c = cap[q + 1]
        prev_lo, prev_hi = out_lo[q], out_hi[q]
        out_lo[q + 1] = max(lo_, -c)
        out_hi[q + 1] = min(hi_, c)


@numba.njit(cache=True, inline="always")
def _inv_square(lengthscale):  # pragma: no cover
    """An enclosure [s_lo, s_hi] of 1 / l^2 (two roundings, each <= 1 ulp)."""
    inv_l2 = 1.0 / (lengthscale * lengthscale)
    return down(inv_l2 * (1.0 - 4.4e-16)), up(inv_l2 * (1.0 + 4.4e-16))


@numba.njit(cache=True, inline="always")
def _sum_radius(spread, size, gamma, n):  # pragma: no cover
    """Radius of a midpoint-radius sum of n terms: the radii's sum ``spread`` plus Higham's
    a-posteriori bound on the rounding of the midpoints' sum, ``gamma_n * size`` with
    ``size = sum |mid_j| |coef_j|``; 1 / (1 - gamma) <= 1 + 2 gamma; 2 n eta for underflow."""
    tot = up(spread + up(gamma * size))
    tot = up(tot * (1.0 + 2.0 * gamma))
    return up(tot + 2.0 * n * _ETA)


@numba.njit(cache=True)
def _nystrom_box_model(
    c, h, nodes, C, abs_C, s_lo, s_hi, alphas, rems, caps, gamma, A_lo, A_hi, rho
):  # pragma: no cover
    """Taylor model of Gaussian Nystrom features on the box ``c +- h`` (module docstring).

    Fills ``A_lo, A_hi`` (m, nA) with enclosures of the coefficients at c and ``rho`` (m)
    with upper bounds of the remainders; returns False when an intermediate is not finite.
    """
    D = c.shape[0]
    n, m = C.shape
    nA = alphas.shape[0]
    nR = rems.shape[0]
    p1 = rems[0].sum()  # p + 1
    pt_lo = np.empty((D, p1 + 1))
    pt_hi = np.empty((D, p1 + 1))
    bx_lo = np.empty((D, p1 + 1))
    bx_hi = np.empty((D, p1 + 1))
    cen = np.zeros((m, nA + nR))
    spr = np.zeros((m, nA + nR))
    siz = np.zeros((m, nA + nR))
    for j in range(n):
        for d in range(D):
            t = c[d] - nodes[j, d]
            tlo, thi = down(t), up(t)
            _gammas(tlo, thi, s_lo, s_hi, caps, pt_lo[d], pt_hi[d], p1)
            _gammas(down(tlo - h[d]), up(thi + h[d]), s_lo, s_hi, caps, bx_lo[d], bx_hi[d], p1 + 1)
        for a in range(nA + nR):
            if a < nA:
                e = alphas[a]
                v_lo, v_hi = pt_lo[0, e[0]], pt_hi[0, e[0]]
                for d in range(1, D):
                    v_lo, v_hi = imul(v_lo, v_hi, pt_lo[d, e[d]], pt_hi[d, e[d]])
            else:
                e = rems[a - nA]
                v_lo, v_hi = bx_lo[0, e[0]], bx_hi[0, e[0]]
                for d in range(1, D):
                    v_lo, v_hi = imul(v_lo, v_hi, bx_lo[d, e[d]], bx_hi[d, e[d]])
            if not (abs(v_lo) < np.inf and abs(v_hi) < np.inf):
                return False
            mid = v_lo + 0.5 * (v_hi - v_lo)
            rad = up(max(v_hi - mid, mid - v_lo))
            amid = abs(mid)
            for i in range(m):
                cen[i, a] += mid * C[j, i]
                spr[i, a] += rad * abs_C[j, i]
                siz[i, a] += amid * abs_C[j, i]
    for i in range(m):
        r = 0.0
        for a in range(nA + nR):
            tot = _sum_radius(spr[i, a], siz[i, a], gamma, n)
            vlo = down(cen[i, a] - tot)
            vhi = up(cen[i, a] + tot)
            if a < nA:
                A_lo[i, a] = vlo
                A_hi[i, a] = vhi
            else:
                v = max(abs(vlo), abs(vhi))
                e = rems[a - nA]
                for d in range(D):
                    for _ in range(e[d]):
                        v = up(v * h[d])
                r = up(r + v)
        rho[i] = r
    return True


@numba.njit(cache=True)
def _powers(h, exps):  # pragma: no cover
    """Upper bounds of ``h^e`` for every row e of ``exps``."""
    out = np.empty(exps.shape[0])
    for a in range(exps.shape[0]):
        v = 1.0
        for d in range(h.shape[0]):
            for _ in range(exps[a, d]):
                v = up(v * h[d])
        out[a] = v
    return out


@numba.njit(cache=True)
def _box_centre(lo, hi, b):  # pragma: no cover
    """Centre c (a float inside the box) and half-widths h (rounded up) of box b."""
    D = lo.shape[1]
    c = np.empty(D)
    h = np.empty(D)
    for d in range(D):
        c[d] = lo[b, d] + 0.5 * (hi[b, d] - lo[b, d])
        h[d] = up(max(hi[b, d] - c[d], c[d] - lo[b, d]))
    return c, h


@numba.njit(cache=True, parallel=True)
def gaussian_nystrom_diagonal(
    lo, hi, nodes, C, abs_C, lengthscale, alphas, rems, betas, pairs, even, caps, gamma
):  # pragma: no cover
    """Enclosures ``[out_lo, out_hi]`` of ``1 - sum_i F_i(x)^2`` over each box (module docstring).

    ``lo, hi`` (k, D) boxes; ``nodes`` (n, D); ``C`` (n, m) and ``abs_C = |C|``; the
    tables of :func:`multi_indices`; ``caps`` of :func:`_cramer_caps`; ``gamma`` >= Higham's
    gamma_n. A box with a non-finite intermediate gets ``[-inf, inf]``.
    """
    k = lo.shape[0]
    m = C.shape[1]
    nA = alphas.shape[0]
    nB = betas.shape[0]
    s_lo, s_hi = _inv_square(lengthscale)
    out_lo = np.empty(k)
    out_hi = np.empty(k)
    for b in numba.prange(k):
        c, h = _box_centre(lo, hi, b)
        A_lo = np.empty((m, nA))
        A_hi = np.empty((m, nA))
        rho = np.empty(m)
        ok = _nystrom_box_model(
            c, h, nodes, C, abs_C, s_lo, s_hi, alphas, rems, caps, gamma, A_lo, A_hi, rho
        )
        if not ok:
            out_lo[b] = -np.inf
            out_hi[b] = np.inf
            continue
        hp_A = _powers(h, alphas)
        hp_B = _powers(h, betas)
        E = 0.0
        for i in range(m):
            pmag = 0.0
            for a in range(nA):
                mag = max(abs(A_lo[i, a]), abs(A_hi[i, a]))
                pmag = up(pmag + up(mag * hp_A[a]))
            E = up(E + up(rho[i] * up(up(2.0 * pmag) + rho[i])))
        Q_lo = np.zeros(nB)
        Q_hi = np.zeros(nB)
        for r in range(pairs.shape[0]):
            a1 = pairs[r, 0]
            a2 = pairs[r, 1]
            bb = pairs[r, 2]
            mult = float(pairs[r, 3])
            acc_lo = 0.0
            acc_hi = 0.0
            for i in range(m):
                p_lo, p_hi = imul(A_lo[i, a1], A_hi[i, a1], A_lo[i, a2], A_hi[i, a2])
                acc_lo, acc_hi = iadd(acc_lo, acc_hi, p_lo, p_hi)
            Q_lo[bb] = down(Q_lo[bb] + mult * acc_lo)  # mult in {1, 2}: exact scaling
            Q_hi[bb] = up(Q_hi[bb] + mult * acc_hi)
        r_lo = Q_lo[0]
        r_hi = Q_hi[0]
        for bb in range(1, nB):
            hb = hp_B[bb]
            if even[bb] == 1:
                m_lo, m_hi = 0.0, hb
            else:
                m_lo, m_hi = -hb, hb
            t_lo, t_hi = imul(Q_lo[bb], Q_hi[bb], m_lo, m_hi)
            r_lo, r_hi = iadd(r_lo, r_hi, t_lo, t_hi)
        f_lo = down(down(1.0 - r_hi) - E)
        f_hi = up(up(1.0 - r_lo) + E)
        if not (f_lo == f_lo and f_hi == f_hi):
            f_lo, f_hi = -np.inf, np.inf
        out_lo[b] = f_lo
        out_hi[b] = min(f_hi, 1.0)  # f = 1 - |F|^2 <= 1
    return out_lo, out_hi


# -------------------------------------------------------- tanh networks and the feature gap

#: ``sup_x |tanh^(k)(x)| / k! <= 1 / (1 + cos 2)`` for every k and real x: tanh is analytic
#: on the disc |z - x| <= 1 (its poles are at i pi (j + 1/2)), and there, with z = u + iv,
#: ``|tanh z|^2 = (sinh^2 2u + sin^2 2v) / (cosh 2u + cos 2v)^2 <= cosh^2 2u / (cosh 2u +
#: cos 2)^2 <= 1 / (1 + cos 2)^2`` (|v| <= 1, cos 2 = -0.41615 < 0); Cauchy's estimate on the
#: unit circle gives the bound, 1.71276 rounded up.
_TANH_CAP = 1.7128


@numba.njit(cache=True)
def _tanh_series(alo, ahi, n, cap, out_lo, out_hi):  # pragma: no cover
    """``tanh^(k)(t) / k!`` for t in [alo, ahi], k < n, into out[:n] (intersected with the cap).

    The normalised derivatives y_k of y = tanh(a + t) satisfy y' = 1 - y^2, i.e.
    ``(k + 1) y_(k+1) = [k = 0] - sum_(i <= k) y_i y_(k-i)``, evaluated in interval
    arithmetic (exact for each t in the interval, so it encloses the range).
    """
    y_lo, y_hi = itanh(alo, ahi)
    out_lo[0] = y_lo
    out_hi[0] = y_hi
    for k in range(n - 1):
        s_lo, s_hi = 0.0, 0.0
        for i in range(k + 1):
            p_lo, p_hi = imul(out_lo[i], out_hi[i], out_lo[k - i], out_hi[k - i])
            s_lo, s_hi = iadd(s_lo, s_hi, p_lo, p_hi)
        if k == 0:
            s_lo, s_hi = down(1.0 - s_hi), up(1.0 - s_lo)
        else:
            s_lo, s_hi = -s_hi, -s_lo
        inv = 1.0 / (k + 1)
        s_lo, s_hi = imul(s_lo, s_hi, down(inv), up(inv))
        out_lo[k + 1] = max(s_lo, -cap)
        out_hi[k + 1] = min(s_hi, cap)


@numba.njit(cache=True)
def unit_monomials(W, alphas):  # pragma: no cover
    """Enclosures of ``multinomial(alpha) * w_j^alpha`` for every hidden unit j and exponent.

    ``(w . y)^k = sum_(|alpha| = k) multinomial(alpha) w^alpha y^alpha``; leaf-independent,
    so computed once per network. Returns ``(P_lo, P_hi)`` of shape (N, nA).
    """
    N, D = W.shape
    nA = alphas.shape[0]
    P_lo = np.empty((N, nA))
    P_hi = np.empty((N, nA))
    for a in range(nA):
        # multinomial |alpha|! / prod alpha_d!, an integer: exact in float64 for these orders
        k = 0
        mult = 1.0
        for d in range(D):
            for q in range(alphas[a, d]):
                k += 1
                mult = mult * k / (q + 1)
        mult = float(round(mult))
        for j in range(N):
            v_lo, v_hi = mult, mult
            for d in range(D):
                for _ in range(alphas[a, d]):
                    v_lo, v_hi = imul(v_lo, v_hi, W[j, d], W[j, d])
            P_lo[j, a] = v_lo
            P_hi[j, a] = v_hi
    return P_lo, P_hi


@numba.njit(cache=True)
def _tanh_box_model(
    c, h, W, bias, A, abs_A, cout, P_lo, P_hi, degree, p, gamma, B_lo, B_hi, rho
):  # pragma: no cover
    """Taylor model of ``phi(x) = A tanh(W x + bias) + cout`` on the box ``c +- h``.

    Unit j: ``tanh(a_j + t) = sum_(k <= p) y_k(a_j) t^k + y_(p+1)(xi) t^(p+1)`` with
    ``a_j = w_j . c + bias_j`` and ``t = w_j . (x - c)``, ``|t| <= s_j = sum_d |w_jd| h_d``;
    ``y_(p+1)`` over ``a_j +- s_j`` is the recurrence over that interval intersected
    with the one-step form ``y_(p+1)(a_j) + (p + 2) y_(p+2)(a_j +- s_j) [-s_j, s_j]``.
    Coefficient of ``(x - c)^alpha``: ``cout_i [alpha = 0] + sum_j A_ij y_|alpha|(a_j)
    P_j,alpha`` (midpoint-radius with Higham's a-posteriori bound, as for the Nystrom
    sums); remainder ``rho_i = sum_j |A_ij| |y_(p+1)| s_j^(p+1)``. Fills ``B_lo, B_hi``
    (m, nA) and ``rho`` (m); returns False on a non-finite intermediate.
    """
    N, D = W.shape
    m = A.shape[0]
    nA = P_lo.shape[1]
    cen = np.zeros((m, nA))
    spr = np.zeros((m, nA))
    siz = np.zeros((m, nA))
    for i in range(m):
        cen[i, 0] = cout[i]
        siz[i, 0] = abs(cout[i])
    rem = np.zeros(m)
    pt_lo = np.empty(p + 2)
    pt_hi = np.empty(p + 2)
    wd_lo = np.empty(p + 3)
    wd_hi = np.empty(p + 3)
    for j in range(N):
        a_lo, a_hi = bias[j], bias[j]
        s = 0.0
        for d in range(D):
            t_lo, t_hi = imul(W[j, d], W[j, d], c[d], c[d])
            a_lo, a_hi = iadd(a_lo, a_hi, t_lo, t_hi)
            s = up(s + up(abs(W[j, d]) * h[d]))
        _tanh_series(a_lo, a_hi, p + 2, _TANH_CAP, pt_lo, pt_hi)
        _tanh_series(down(a_lo - s), up(a_hi + s), p + 3, _TANH_CAP, wd_lo, wd_hi)
        # one-step refinement of y_(p+1) over the wide interval
        g_lo, g_hi = imul(wd_lo[p + 2], wd_hi[p + 2], -s, s)
        g_lo, g_hi = imul(g_lo, g_hi, float(p + 2), float(p + 2))
        g_lo, g_hi = iadd(g_lo, g_hi, pt_lo[p + 1], pt_hi[p + 1])
        y_lo = max(wd_lo[p + 1], g_lo)
        y_hi = min(wd_hi[p + 1], g_hi)
        ymag = max(abs(y_lo), abs(y_hi))
        sp = ymag
        for _ in range(p + 1):
            sp = up(sp * s)
        if not (sp < np.inf and abs(a_lo) < np.inf and abs(a_hi) < np.inf):
            return False
        for a in range(nA):
            v_lo, v_hi = imul(pt_lo[degree[a]], pt_hi[degree[a]], P_lo[j, a], P_hi[j, a])
            mid = v_lo + 0.5 * (v_hi - v_lo)
            rad = up(max(v_hi - mid, mid - v_lo))
            amid = abs(mid)
            for i in range(m):
                cen[i, a] += mid * A[i, j]
                spr[i, a] += rad * abs_A[i, j]
                siz[i, a] += amid * abs_A[i, j]
        for i in range(m):
            rem[i] = up(rem[i] + up(abs_A[i, j] * sp))
    for i in range(m):
        for a in range(nA):
            tot = _sum_radius(spr[i, a], siz[i, a], gamma, N + 1)
            B_lo[i, a] = down(cen[i, a] - tot)
            B_hi[i, a] = up(cen[i, a] + tot)
        rho[i] = rem[i]
    return True


@numba.njit(cache=True, parallel=True)
def gaussian_nystrom_tanh_gap(
    lo, hi, nodes, C, abs_C, lengthscale, alphas, rems, caps, gamma_n,
    W, bias, A, abs_A, cout, P_lo, P_hi, degree, gamma_N,
):  # pragma: no cover  # fmt: skip
    """Enclosures of ``|F(x) - phi(x)|_2`` over each box (Taylor models of both maps).

    ``F`` Gaussian Nystrom features (as :func:`gaussian_nystrom_diagonal`), ``phi`` a
    one-hidden-layer tanh network (:func:`_tanh_box_model`). The difference ``g = F - phi``
    is taken coefficient by coefficient, so the cancellation between two maps that agree
    to 1e-5 happens between numbers; then ``sup_box |g_i| <= |G_i0| + sum_(alpha != 0)
    |G_i,alpha| h^alpha + rho_i``.
    """
    k = lo.shape[0]
    m = C.shape[1]
    nA = alphas.shape[0]
    p = rems[0].sum() - 1
    s_lo, s_hi = _inv_square(lengthscale)
    out_lo = np.empty(k)
    out_hi = np.empty(k)
    for b in numba.prange(k):
        c, h = _box_centre(lo, hi, b)
        F_lo = np.empty((m, nA))
        F_hi = np.empty((m, nA))
        rF = np.empty(m)
        P2_lo = np.empty((m, nA))
        P2_hi = np.empty((m, nA))
        rP = np.empty(m)
        ok = _nystrom_box_model(
            c, h, nodes, C, abs_C, s_lo, s_hi, alphas, rems, caps, gamma_n, F_lo, F_hi, rF
        )
        ok = ok and _tanh_box_model(
            c, h, W, bias, A, abs_A, cout, P_lo, P_hi, degree, p, gamma_N, P2_lo, P2_hi, rP
        )
        if not ok:
            out_lo[b] = 0.0
            out_hi[b] = np.inf
            continue
        hp = _powers(h, alphas)
        sq_lo = 0.0
        sq_hi = 0.0
        for i in range(m):
            g_lo, g_hi = isub(F_lo[i, 0], F_hi[i, 0], P2_lo[i, 0], P2_hi[i, 0])
            var = up(rF[i] + rP[i])
            for a in range(1, nA):
                d_lo, d_hi = isub(F_lo[i, a], F_hi[i, a], P2_lo[i, a], P2_hi[i, a])
                var = up(var + up(max(abs(d_lo), abs(d_hi)) * hp[a]))
            u = up(max(abs(g_lo), abs(g_hi)) + var)
            mig = 0.0 if g_lo <= 0.0 <= g_hi else min(abs(g_lo), abs(g_hi))
            low = max(down(mig - var), 0.0)
            sq_hi = up(sq_hi + up(u * u))
            sq_lo = max(down(sq_lo + down(low * low)), 0.0)
        f_lo = max(down(math.sqrt(sq_lo)), 0.0)
        f_hi = up(math.sqrt(sq_hi))
        if not (f_lo == f_lo and f_hi == f_hi):
            f_lo, f_hi = 0.0, np.inf
        out_lo[b] = f_lo
        out_hi[b] = f_hi
    return out_lo, out_hi


def gap_enclosure(
    lo: FloatArray,
    hi: FloatArray,
    nodes: FloatArray,
    C: FloatArray,
    lengthscale: float,
    gamma_n: float,
    network: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    monomials: tuple[FloatArray, FloatArray],
    gamma_N: float,
    order: int = DEFAULT_ORDER,
) -> tuple[FloatArray, FloatArray]:
    """Python entry point of :func:`gaussian_nystrom_tanh_gap`.

    ``network = (W, bias, A, cout)`` of a one-hidden-layer tanh network; ``monomials`` from
    :func:`unit_monomials` with the same order (cached by the caller).
    """
    dim = nodes.shape[1]
    alphas, rems, _, _, _ = multi_indices(dim, order)
    C = np.ascontiguousarray(C, dtype=np.float64)
    W, bias, A, cout = (np.ascontiguousarray(v, dtype=np.float64) for v in network)
    return gaussian_nystrom_tanh_gap(
        np.ascontiguousarray(lo, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
        np.ascontiguousarray(nodes, dtype=np.float64),
        C,
        np.abs(C),
        float(lengthscale),
        alphas,
        rems,
        _cramer_caps(order, float(lengthscale)),
        float(gamma_n),
        W,
        bias,
        A,
        np.abs(A),
        cout,
        monomials[0],
        monomials[1],
        alphas.sum(axis=1),
        float(gamma_N),
    )


def diagonal_enclosure(
    lo: FloatArray,
    hi: FloatArray,
    nodes: FloatArray,
    C: FloatArray,
    lengthscale: float,
    gamma: float,
    order: int = DEFAULT_ORDER,
) -> tuple[FloatArray, FloatArray]:
    """Python entry point of :func:`gaussian_nystrom_diagonal` (builds the tables)."""
    dim = nodes.shape[1]
    alphas, rems, betas, pairs, even = multi_indices(dim, order)
    C = np.ascontiguousarray(C, dtype=np.float64)
    return gaussian_nystrom_diagonal(
        np.ascontiguousarray(lo, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
        np.ascontiguousarray(nodes, dtype=np.float64),
        C,
        np.abs(C),
        float(lengthscale),
        alphas,
        rems,
        betas,
        pairs,
        even,
        _cramer_caps(order, float(lengthscale)),
        float(gamma),
    )
