"""Benchmark: feature efficiency at a CERTIFIED sup error (issue 4, part 6).

Run as ``python benchmarks/features.py [--eps 1e-3] [--seeds 3] [--quick]``.

Instance: the Gaussian kernel with lengthscale 0.5 on X = [-1,1]^2 and a target sup
error eps = 1e-3 over X x X. For each way of building m features F: X -> R^m the
question is the smallest m at which ``sup |k(x, y) - <F(x), F(y)>| <= eps`` is
*proven*:

* Mercer truncation (certify): the top-m Nystrom Mercer features of the kernel
  for a measure mu on X (``certify.mercer``), for mu uniform and mu the Chebyshev
  (arcsine) density on each axis. Certified by lemma L1' (``G = C^T K C <= I`` in
  ball arithmetic, so k - <F, F> is PSD) and L1 (the sup over X x X is the sup of
  the diagonal ``1 - |F(x)|^2``), the diagonal enclosed by the engine with the
  Taylor-model form (``certified_uniform_tail``).
* sklearn's ``Nystroem`` (the named peer; landmarks drawn uniformly from a
  uniform sample of X): the same certification (``NystromFeatures.from_sklearn``,
  ``certified_feature_tail``) -- its features are also Nystrom features, so L1'
  applies after the same tiny shrink. The smallest m is found by bisection, per seed.
* sklearn's ``RBFSampler`` (random Fourier features, the second peer): its error
  is not PSD, so L1 does not apply and a four-dimensional enclosure is out of
  reach at this accuracy; instead the benchmark PROVES that it fails: at m = 10 x
  the Mercer m (and more) it evaluates ``e(x, x) = 1 - |z(x)|^2`` in 128-bit ball
  arithmetic (python-flint) at the worst sampled point and shows ``|e| > eps``
  (a certified VIOLATED). The m at which its sampled error would reach eps is
  extrapolated from the measured 1/sqrt(m) law and labelled an ESTIMATE.
* Lower bound L6 (Eckart-Young): every model with m features has L2(mu x mu)
  error >= tau_mu(m) = (sum_{k>m} lambda_k^2)^(1/2), and the L2 error under a
  probability measure is <= the sup error, so m >= min{m : tau_mu(m) <= eps}
  for EVERY mu; the best bound is the largest over the measures tried. tau uses
  the quadrature spectrum (an estimate of the operator's eigenvalues, not a
  certificate; stated in the output).

Targets (issue 4): Mercer m <= 1.5 x the best L6 bound; >= 10x fewer features than
RBFSampler at the same certified error.

Last, the neurons of the two witness builders of theorem T-S on the same instance
(``certify_symmetric``): the construction, certified end to end; the direct fit, whose
sampled error is reported as an ESTIMATE (see :func:`builder_rows`).

The machine may be shared: the load average is printed at the start and the end;
numba compilation is warmed up first and excluded from the times.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flint import arb, ctx

from certify.certificates.enclosure import Budget
from certify.certificates.symmetric import _DIRECT_SIZES, certify_symmetric, sampled_sup_error
from certify.networks.builders import fit_direct
from certify.relations import Gaussian
from certify.relations.spec import parse_domain, parse_relation
from certify.spectral import (
    NystromFeatures,
    certified_feature_tail,
    certified_uniform_tail,
    mercer,
)

LENGTHSCALE = 0.5
BOX = "box:-1,1;-1,1"
KERNEL = f"gaussian:lengthscale={LENGTHSCALE}"


def load_average() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover
        return "load average unavailable"


@dataclass
class Row:
    method: str
    m: int
    bound: float
    lower: float
    verdict: str
    boxes: int
    seconds: float
    note: str = ""


def l6_bound(dec: Any, eps: float) -> int:
    """min{m : tau(m) <= eps} from the quadrature spectrum (an estimate of the operator's)."""
    lam = np.sort(np.clip(np.asarray(dec.spectrum), 0.0, None))[::-1]
    tails = np.sqrt(np.cumsum((lam**2)[::-1])[::-1])
    hits = np.flatnonzero(tails <= eps)
    return int(hits[0]) if hits.size else int(lam.size)


def _sample(n: int = 40_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.uniform(-1, 1, (n, 2)), [[-1, -1], [-1, 1], [1, -1], [1, 1]]])


def mercer_rows(measure: str, eps: float) -> tuple[list[Row], int]:
    """Certified tails around the smallest sampled-feasible rank; returns rows and the best m."""
    dec = mercer(KERNEL, BOX, measure=measure, rank=90)
    # the sampled estimate picks where to start; only certificates decide
    P = dec.features(_sample())
    sampled = 1.0 - np.cumsum(P**2, axis=1)  # column d - 1: the diagonal residual at rank d
    d = 1
    while d < dec.rank and sampled[:, d - 1].max() > eps:
        d += 1
    rows: list[Row] = []
    best = None
    for cand in range(max(1, d - 1), min(dec.rank, d + 4) + 1):
        t0 = time.perf_counter()
        tail = certified_uniform_tail(dec, cand, eps=eps)
        dt = time.perf_counter() - t0
        rows.append(
            Row(
                f"Mercer ({measure})", cand, tail.value, tail.lower, str(tail.verdict),
                int(tail.enclosure.statistics.get("boxes", 0)), dt,
                "L1' " + ("holds" if tail.l1_prime.holds else "NOT proven"),
            )
        )  # fmt: skip
        if tail.verdict == "HOLDS":
            best = cand
            break
    return rows, (best if best is not None else -1)


def nystroem_features(m: int, seed: int, variant: str) -> NystromFeatures:
    """sklearn's Nystroem on m landmarks drawn from a uniform sample of X (fixed seeds).

    ``"sklearn"``: its own coefficients ``normalization_.T`` (a pseudo-inverse square root
    of K_LL with singular values clipped at 1e-12). ``"truncated"``: the same landmarks with
    the eigenvectors of K_LL whose eigenvalues exceed 1e-10 lambda_1, scaled by lambda^-1/2
    (certify's way of computing Nystrom features; fewer features when K_LL is numerically
    singular).
    """
    from sklearn.kernel_approximation import Nystroem

    rng = np.random.default_rng(1000 + seed)
    X = rng.uniform(-1, 1, (20_000, 2))
    ny = Nystroem(gamma=1.0 / (2 * LENGTHSCALE**2), n_components=m, random_state=seed).fit(X)
    if variant == "sklearn":
        return NystromFeatures.from_sklearn(ny)
    L = np.asarray(ny.components_, dtype=np.float64)
    K = Gaussian(LENGTHSCALE)(L, L)
    lam, U = np.linalg.eigh(K)
    keep = lam > 1e-10 * lam[-1]
    C = U[:, keep] / np.sqrt(lam[keep])
    return NystromFeatures.from_coefficients(
        Gaussian(LENGTHSCALE), L, C[:, ::-1], note=f"{m} sklearn landmarks, truncated"
    )


def nystroem_row(m: int, seed: int, variant: str, eps: float) -> Row:
    F = nystroem_features(m, seed, variant)
    t0 = time.perf_counter()
    tail = certified_feature_tail(F, BOX, eps=eps, budget=Budget(boxes=40_000, seconds=60.0))
    dt = time.perf_counter() - t0
    return Row(
        f"Nystroem {variant} (seed {seed}, {m} landmarks)", F.output_dim, tail.value, tail.lower,
        str(tail.verdict), int(tail.enclosure.statistics.get("boxes", 0)), dt,
        f"shrink 1 - {1 - F.shrink:.1e}; L1' " + ("holds" if tail.l1_prime.holds else "NOT proven"),
    )  # fmt: skip


def nystroem_smallest(seed: int, eps: float, variant: str) -> tuple[int, list[Row]]:
    """Smallest certified feature count: sampled estimates pick the candidates, certificates
    decide (the first landmark count, in 5% steps from the sampled crossing, that HOLDS)."""
    X = _sample(20_000, seed=99)
    m = 16
    while m < 1200:
        F = nystroem_features(m, seed, variant)
        if (1.0 - (F.forward(X) ** 2).sum(axis=1)).max() <= 0.9 * eps:
            break
        m = math.ceil(m * 1.1)
    rows: list[Row] = []
    for _ in range(5):
        row = nystroem_row(m, seed, variant, eps)
        rows.append(row)
        print(f"    {variant}, {m} landmarks: {row.verdict} (m = {row.m}, bound {row.bound:.3e})")
        if row.verdict == "HOLDS":
            return row.m, rows
        m = math.ceil(m * 1.05)
    return -1, rows


def rff_violation(m: int, seed: int, eps: float) -> tuple[float, float, float]:
    """(certified lower bound of sup |e|, sampled sup |e| on the diagonal, seconds) at m RFF."""
    from sklearn.kernel_approximation import RBFSampler

    t0 = time.perf_counter()
    rff = RBFSampler(gamma=1.0 / (2 * LENGTHSCALE**2), n_components=m, random_state=seed)
    rff.fit(np.zeros((1, 2)))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (20_000, 2))
    Z = rff.transform(X)
    e = 1.0 - (Z**2).sum(axis=1)
    i = int(np.argmax(np.abs(e)))
    x = X[i]
    # z(x) = s cos(W^T x + b) with sklearn's float constants W, b and s = fl(sqrt(2) / sqrt(m))
    W = np.asarray(rff.random_weights_, dtype=np.float64)
    b = np.asarray(rff.random_offset_, dtype=np.float64)
    s = float(np.sqrt(2.0) / np.sqrt(m))
    with ctx.workprec(128):
        xs = [arb(float(v)) for v in x]
        total = arb(0)
        for f in range(m):
            t = arb(float(b[f])) + sum((xs[a] * arb(float(W[a, f])) for a in range(2)), arb(0))
            total += (arb(s) * t.cos()) ** 2
        err = abs(1 - total)  # the kernel is exactly 1 on the diagonal
        lower = float(err.lower())
    return lower, float(np.abs(e).max()), time.perf_counter() - t0


def builder_rows(eps: float) -> list[str]:
    """The neurons of both witness builders (T-S: an MLP phi with <phi, phi> within eps).

    The construction is certified end to end (certify_symmetric, route L2S). The direct
    builder's figures are sampled ESTIMATES: its certificate would be a four-dimensional
    enclosure over X x X, and it does not reach eps / 2 on the sample in its size ladder
    (nor with 10x its default L-BFGS iterations, measured while building this benchmark).
    """
    lines = []
    t0 = time.perf_counter()
    cert = certify_symmetric(
        KERNEL, BOX, eps=eps, method="construction", measure="chebyshev", progress=False
    )
    dt = time.perf_counter() - t0
    phi = cert.network("phi")
    widths = [len(b) for b in phi["biases"]]
    l4 = cert.method["bounds"]["L4"]
    n_eps = l4.get("neurons_at_eps")
    lines.append(
        f"| construction (Chebyshev, shared tanh layer) | {widths[-1]} | {sum(widths[:-1])} | "
        f"{cert.upper:.3e} | {cert.verdict} | {dt:.1f} | L4 N(eps) = "
        f"{'unknown' if n_eps is None else f'{n_eps:.2e}'} |"
    )
    rel, dom = parse_relation(KERNEL), parse_domain(BOX)
    best: tuple[float, int] = (math.inf, 0)
    t0 = time.perf_counter()
    for n in (*_DIRECT_SIZES, 192, 256):
        err = sampled_sup_error(rel, dom, fit_direct(rel, dom, n_neurons=n, n_features=n, rng=0))
        best = min(best, (err, n))
        if err <= eps / 2:
            break
    dt = time.perf_counter() - t0
    lines.append(
        f"| direct (L-BFGS on <phi, phi>) | {best[1]} | {best[1]} | - | not certified | {dt:.1f} | "
        f"best sampled sup error {best[0]:.2e} (ESTIMATE) at {best[1]} neurons; "
        f"{'meets' if best[0] <= eps / 2 else 'never reaches'} eps / 2 |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=3, help="sklearn Nystroem seeds")
    parser.add_argument("--quick", action="store_true", help="one Nystroem seed")
    args = parser.parse_args(argv)
    eps = args.eps
    seeds = 1 if args.quick else args.seeds
    print(f"Gaussian kernel l = {LENGTHSCALE} on {BOX}, certified sup error <= {eps:g}")
    print(load_average())
    # warm-up: compile the jitted enclosure paths on a tiny instance
    warm = mercer(KERNEL, "box:-1,1;-1,1", rank=8)
    certified_uniform_tail(warm, 4)

    rows: list[Row] = []
    best_mercer = {}
    l6 = {}
    for measure in ("uniform", "chebyshev"):
        dec = mercer(KERNEL, BOX, measure=measure, rank=90)
        l6[measure] = l6_bound(dec, eps)
        r, m = mercer_rows(measure, eps)
        rows += r
        best_mercer[measure] = m
        print(f"  Mercer ({measure}): certified m = {m}; L6 bound under {measure}: {l6[measure]}")
    m_mercer = min(m for m in best_mercer.values() if m > 0)
    best_l6 = max(l6.values())

    ny_best: dict[str, list[int]] = {"sklearn": [], "truncated": []}
    for seed in range(seeds):
        for variant in ny_best:
            print(f"  Nystroem landmarks, seed {seed}, {variant}:", flush=True)
            m, r = nystroem_smallest(seed, eps, variant)
            rows += r
            ny_best[variant].append(m)

    rff_rows = []
    for factor in (10, 40):
        m = factor * m_mercer
        lower, sampled, dt = rff_violation(m, 0, eps)
        rff_rows.append((m, lower, sampled, dt))
    # ESTIMATE: sampled error ~ c / sqrt(m) -> m* = (c / eps)^2
    c = np.mean([s * math.sqrt(m) for m, _, s, _ in rff_rows])
    m_star = (c / eps) ** 2

    print()
    print("| features | m | certified sup error | lower | verdict | boxes | seconds | note |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        shown = f"{r.bound:.3e}" if r.verdict == "HOLDS" else "-"
        print(
            f"| {r.method} | {r.m} | {shown} | {r.lower:.3e} | {r.verdict} | {r.boxes} | "
            f"{r.seconds:.1f} | {r.note} |"
        )
    for m, lower, sampled, dt in rff_rows:
        verdict = "VIOLATED (proven)" if lower > eps else "undecided"
        print(
            f"| sklearn RBFSampler (seed 0) | {m} | - | {lower:.3e} | {verdict} | - | {dt:.1f} | "
            f"sampled diagonal max {sampled:.3e} |"
        )
    print()
    print(f"L6 lower bounds (quadrature spectra, estimates): {l6}; best {best_l6}")
    print(f"Mercer certified m: {best_mercer}; best {m_mercer}")
    ratio_l6 = m_mercer / best_l6
    print(
        f"Mercer m / best L6 bound = {m_mercer} / {best_l6} = {ratio_l6:.2f} (target <= 1.5: "
        f"{'PASS' if ratio_l6 <= 1.5 else 'FAIL'})"
    )
    for variant, ms in ny_best.items():
        ok_ny = [m for m in ms if m > 0]
        summary = (
            f"median {int(np.median(ok_ny))} = {np.median(ok_ny) / m_mercer:.2f} x Mercer"
            if ok_ny
            else "none certified"
        )
        print(f"Nystroem ({variant}) certified m per seed (-1: none): {ms}; {summary}")
    proven = [m for m, lower, _, _ in rff_rows if lower > eps]
    if proven:
        print(
            f"RBFSampler PROVEN to violate eps at m = {max(proven)} = "
            f"{max(proven) / m_mercer:.0f} x the Mercer m (target >= 10x fewer: "
            f"{'PASS' if max(proven) >= 10 * m_mercer else 'FAIL'}); its sampled error "
            f"would reach eps near m = {m_star:.2e} (ESTIMATE, 1/sqrt(m) law) = "
            f"{m_star / m_mercer:.0f} x"
        )
    print()
    print("Witness builders (theorem T-S on the same instance):")
    print("| builder | features | neurons | certified sup error | verdict | seconds | note |")
    print("|---|---|---|---|---|---|---|")
    for line in builder_rows(eps):
        print(line)
    print(load_average())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
