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

from certify._kernels.interval import down, iadd, iexp, imul, isqr, up

__all__ = ["DEFAULT_ORDER", "gaussian_nystrom_diagonal", "multi_indices"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_ORDER: int = 5
"""Default order p of the Taylor models (remainder of order p + 1)."""

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


@numba.njit(cache=True, parallel=True)
def gaussian_nystrom_diagonal(
    lo, hi, nodes, C, abs_C, lengthscale, alphas, rems, betas, pairs, even, caps, gamma
):  # pragma: no cover
    """Enclosures ``[out_lo, out_hi]`` of ``1 - sum_i F_i(x)^2`` over each box (module docstring).

    ``lo, hi`` (k, D) boxes; ``nodes`` (n, D); ``C`` (n, m) and ``abs_C = |C|``; the
    tables of :func:`multi_indices`; ``caps`` of :func:`_cramer_caps`; ``gamma`` >= Higham's
    gamma_n. A box with a non-finite intermediate gets ``[-inf, inf]``.
    """
    k, D = lo.shape
    n, m = C.shape
    nA = alphas.shape[0]
    nR = rems.shape[0]
    nB = betas.shape[0]
    p1 = rems[0].sum()  # p + 1
    inv_l2 = 1.0 / (lengthscale * lengthscale)
    s_lo = down(inv_l2 * (1.0 - 4.4e-16))
    s_hi = up(inv_l2 * (1.0 + 4.4e-16))
    out_lo = np.empty(k)
    out_hi = np.empty(k)
    for b in numba.prange(k):
        c = np.empty(D)
        h = np.empty(D)
        for d in range(D):
            c[d] = lo[b, d] + 0.5 * (hi[b, d] - lo[b, d])
            h[d] = up(max(hi[b, d] - c[d], c[d] - lo[b, d]))
        pt_lo = np.empty((D, p1 + 1))
        pt_hi = np.empty((D, p1 + 1))
        bx_lo = np.empty((D, p1 + 1))
        bx_hi = np.empty((D, p1 + 1))
        cen = np.zeros((m, nA + nR))
        spr = np.zeros((m, nA + nR))
        siz = np.zeros((m, nA + nR))
        bad = False
        for j in range(n):
            for d in range(D):
                t = c[d] - nodes[j, d]
                tlo, thi = down(t), up(t)
                _gammas(tlo, thi, s_lo, s_hi, caps, pt_lo[d], pt_hi[d], p1)
                _gammas(
                    down(tlo - h[d]), up(thi + h[d]), s_lo, s_hi, caps, bx_lo[d], bx_hi[d], p1 + 1
                )
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
                    bad = True
                    break
                mid = v_lo + 0.5 * (v_hi - v_lo)
                rad = up(max(v_hi - mid, mid - v_lo))
                amid = abs(mid)
                for i in range(m):
                    cen[i, a] += mid * C[j, i]
                    spr[i, a] += rad * abs_C[j, i]
                    siz[i, a] += amid * abs_C[j, i]
            if bad:
                break
        if bad:
            out_lo[b] = -np.inf
            out_hi[b] = np.inf
            continue
        # h^a for every exponent needed (upper bounds)
        hp_A = np.empty(nA)
        for a in range(nA):
            v = 1.0
            for d in range(D):
                for _ in range(alphas[a, d]):
                    v = up(v * h[d])
            hp_A[a] = v
        hp_B = np.empty(nB)
        for a in range(nB):
            v = 1.0
            for d in range(D):
                for _ in range(betas[a, d]):
                    v = up(v * h[d])
            hp_B[a] = v
        A_lo = np.empty((m, nA))
        A_hi = np.empty((m, nA))
        E = 0.0
        for i in range(m):
            pmag = 0.0
            rho = 0.0
            for a in range(nA + nR):
                tot = up(spr[i, a] + up(gamma * siz[i, a]))
                tot = up(tot * (1.0 + 2.0 * gamma))
                tot = up(tot + 2.0 * n * _ETA)
                vlo = down(cen[i, a] - tot)
                vhi = up(cen[i, a] + tot)
                mag = max(abs(vlo), abs(vhi))
                if a < nA:
                    A_lo[i, a] = vlo
                    A_hi[i, a] = vhi
                    pmag = up(pmag + up(mag * hp_A[a]))
                else:
                    e = rems[a - nA]
                    v = mag
                    for d in range(D):
                        for _ in range(e[d]):
                            v = up(v * h[d])
                    rho = up(rho + v)
            E = up(E + up(rho * up(up(2.0 * pmag) + rho)))
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
