"""Benchmark: certify's sup-norm enclosure engine against a uniform grid with a Lipschitz bound.

Run as ``python benchmarks/enclosure.py [--quick] [--seconds S]``.

The function is the model error of a kernel witness,

    e(x, y) = k(x, y) - <phi(x), phi(y)>,   k = gaussian:lengthscale=0.5,

with phi a one-hidden-layer tanh MLP fitted to k by ``fit_random_features``, on
X x Y = [-1,1] x [-1,1] (D = 2) and on [-1,1]^2 x [-1,1]^2 (D = 4). Both methods
compute a rigorous two-sided enclosure l <= sup |e| <= u, and the time to reach
u / l - 1 <= 0.05 is compared (target: certify at least 10x faster), in one run:

* certify: ``enclose(ResidualFunction(k, phi, None, X, X), rel_gap=0.05,
  budget=Budget(seconds=S))`` (branch and bound with interval enclosures),
  after a warm-up call on a tiny budget so that numba compilation is excluded.
* baseline (implemented here): a uniform grid of N cell centres per dimension on
  Z = X x Y and a global Lipschitz constant L of e in z (Euclidean):

      sup |e| <= max_grid |e~| + slack + L * rho,   sup |e| >= max_grid |e~| - slack,

  where e~ is the float value computed on the grid (by the fused kernel
  ``certify.residual_max`` on the product X_grid x Y_grid, no n x m matrix), rho
  the covering radius of the grid (h sqrt(D) / 2 for cells of width h) and

      L <= sqrt(Lx^2 + Ly^2),
      Lx = Lk_x + Lip(phi) sup_Y |psi|_2,   Ly = Lk_y + Lip(psi) sup_X |phi|_2,

  with Lk from ``Kernel.lipschitz`` on the boxes, Lip(phi) = ``MLP.lipschitz_bound()``
  (the product of the weight norms) and sup |psi|_2 bounded by the norm of the
  componentwise max |.| of ``psi.enclose`` over the whole box. Indeed
  |e(x, y) - e(x', y)| <= Lk_x |x - x'| + |<phi(x) - phi(x'), psi(y)>|, and
  |e(z) - e(z')| <= Lx |dx| + Ly |dy| <= L |z - z'|. N is doubled until the gap
  is reached or the budget S would be exceeded (then one last grid with the
  largest N that fits); if the gap is not reached the time is extrapolated:
  N* = the N with L rho(N) <= 0.05 l (l the best lower bound) and
  time* = setup + (N*)^D x (seconds per grid point at the largest N), which is
  generous to the baseline (one grid at N*, no doubling, no memory limits).

Float-evaluation slack of the grid maximum (u = 2^-53, gamma_n = n u / (1 - n u),
m features, d = dim of x; the Gaussian's values are in [0, 1]):

* kernel: s = sum_i (x_i - y_i)^2 carries gamma_{d+2}, t = s * (0.5 / l^2) another
  gamma_3, and exp(-t(1 + theta)) - exp(-t) <= gamma_{d+5} t e^-t (1 + o(1)) <=
  gamma_{d+5} / 2; libm's exp is within 4 ulp (certify's assumption) <= 8 u. So
  |k~ - k| <= (d + 14) u; we use 2 (d + 14) u.
* the row ``k~ - sum_f P_f Q_f`` (products subtracted four at a time) is a dot
  product of m + 1 terms: error <= gamma_{m+2} (1 + |P|_2 |Q|_2).
* features: P = phi~(x) is the float forward pass; the rigorous point enclosure
  [Plo, Phi] = ``phi.enclose(x, x)`` contains phi(x), so
  |P - phi(x)|_2 <= dP := | max(|P - Plo|, |Phi - P|) |_2 and
  |<P, Q> - <phi(x), psi(y)>| <= dP |Q| + (|P| + dP) dQ.

Maxima over the grid of |P|, |Q|, dP, dQ are inflated by (1 + 2 (m + 4) u) for
the float norms, and every bound is combined in arb ball arithmetic and rounded
outward. The covering radius is computed from the actual float centres.

Timing: numba is warmed up first (compilation excluded); the machine may be
shared, so the load average is printed at the start, between the methods and at
the end. The two methods run one after the other (each may take S seconds, so
they are not interleaved); a certify run that reaches the gap in under S / 4 is
repeated (up to three runs in total) and the best is kept.

The script imports certify from the working tree it sits in. This is a
benchmark, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

KERNEL_SPEC = "gaussian:lengthscale=0.5"
REL_GAP = 0.05
TARGET = 10.0
DEFAULT_SECONDS = 120.0
QUICK_SECONDS = 15.0
BOX_BUDGET = 10**9  # effectively unlimited: the seconds budget binds
UNIT_ROUNDOFF = 2.0**-53


@dataclass(frozen=True)
class Problem:
    """One domain and the witness fitted on it."""

    name: str
    domain_spec: str
    fit_options: dict[str, Any]
    start_n: int  # first grid: points per dimension
    sample_side: int  # points per factor of the dense product sample


PROBLEMS = (
    Problem(
        "[-1,1] x [-1,1]",
        "box:-1,1",
        {"n_neurons": 12, "ridge": 1e-8, "rng": 0},
        start_n=64,
        sample_side=4097,
    ),
    Problem(
        "[-1,1]^2 x [-1,1]^2",
        "box:-1,1;-1,1",
        # Chosen among n_neurons 64..128, n_features 16..64, ridge 1e-4..1e-10 and
        # weight_scale default/1..4 (rng=0) for a small sampled error with a moderate
        # Lipschitz bound; the builder's sup errors there range from 2.4e-2 to 0.98.
        {"n_neurons": 128, "n_features": 64, "ridge": 1e-7, "weight_scale": 3.0, "rng": 0},
        start_n=8,
        sample_side=4096,
    ),
)


# --------------------------------------------------------------------------------------
# plumbing
# --------------------------------------------------------------------------------------


def load_certify() -> Any:
    """Import certify from this working tree (its parent directory)."""
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    return importlib.import_module("certify")


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - platforms without getloadavg
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


def fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "inf"
    if seconds < 1e4:
        return f"{seconds:.3g}"
    return f"{seconds:.2e}"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e12 else f"{n:.2e}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------------------
# witnesses
# --------------------------------------------------------------------------------------


def fit_witness(kernel: Any, problem: Problem) -> tuple[Any, Any, float, float]:
    """(domain box, phi, sampled sup error, rigorous |e| at the sample's argmax)."""
    from certify import residual_max
    from certify.certificates.functions import ResidualFunction
    from certify.networks.builders import fit_random_features
    from certify.relations.spec import parse_domain

    box = parse_domain(problem.domain_spec)
    phi = fit_random_features(kernel, box, **problem.fit_options)
    side = problem.sample_side
    if box.dim == 1:
        S = np.linspace(box.lower[0], box.upper[0], side)[:, None]
    else:  # a random sample plus a 65^d grid (corners and edges included)
        gen = np.random.default_rng(12345)
        g = np.linspace(-1.0, 1.0, 65)
        G = np.stack(np.meshgrid(*[g] * box.dim, indexing="ij"), -1).reshape(-1, box.dim)
        U = box.lower + gen.random((side, box.dim)) * box.widths
        S = np.vstack([U, box.lower + (G + 1.0) / 2.0 * box.widths])
    P = phi.forward(S)
    res = residual_max(kernel, S, S, P, P)
    # the sample's argmax, re-evaluated rigorously: a lower bound on sup |e|
    z = np.concatenate([S[res.i], S[res.j]])[None, :]
    flo, fhi = ResidualFunction(kernel, phi, None, box, box).enclose(z, z)
    lo, hi = float(flo[0]), float(fhi[0])
    at_point = lo if lo > 0 else (-hi if hi < 0 else 0.0)
    return box, phi, res.value, at_point


# --------------------------------------------------------------------------------------
# certify
# --------------------------------------------------------------------------------------


@dataclass
class CertifyRun:
    seconds: float
    boxes: int
    lower: float
    upper: float
    stop_reason: str
    all_seconds: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.upper / self.lower if self.lower > 0 else math.inf

    @property
    def reached(self) -> bool:
        return self.stop_reason == "rel_gap" or self.ratio - 1.0 <= REL_GAP


def run_certify(kernel: Any, phi: Any, box: Any, seconds: float) -> CertifyRun:
    from certify.certificates.enclosure import Budget, enclose
    from certify.certificates.functions import ResidualFunction

    f = ResidualFunction(kernel, phi, None, box, box)
    enclose(f, rel_gap=REL_GAP, budget=Budget(boxes=64), progress=False)  # warm-up
    best: CertifyRun | None = None
    times: list[float] = []
    for _ in range(3):
        start = time.perf_counter()
        e = enclose(f, rel_gap=REL_GAP, budget=Budget(boxes=BOX_BUDGET, seconds=seconds),
                    progress=False)  # fmt: skip
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        run = CertifyRun(elapsed, int(e.statistics["boxes"]), e.lower, e.upper, e.stop_reason)
        if best is None or run.seconds < best.seconds:
            best = run
        if not run.reached or sum(times) + elapsed > seconds or elapsed > seconds / 4:
            break
    assert best is not None
    best.all_seconds = times
    return best


# --------------------------------------------------------------------------------------
# baseline: uniform grid + global Lipschitz constant
# --------------------------------------------------------------------------------------


@dataclass
class GridStep:
    n: int  # points per dimension
    points: int  # n^D
    seconds: float
    grid_max: float
    slack: float
    lower: float
    upper: float
    lipschitz_term: float

    @property
    def ratio(self) -> float:
        return self.upper / self.lower if self.lower > 0 else math.inf


@dataclass
class BaselineRun:
    setup_seconds: float
    lipschitz: float
    lipschitz_parts: dict[str, float]
    dim: int  # D
    steps: list[GridStep]
    cumulative: list[float]  # wall time (incl. setup) after each step
    reached: bool
    time_to_gap: float  # setup + the grid that reached the gap, or the extrapolation
    extrapolated: bool
    n_star: float = math.nan
    seconds_per_point: float = math.nan

    @property
    def best(self) -> GridStep:
        return min(self.steps, key=lambda s: s.ratio)

    def best_by(self, seconds: float) -> GridStep | None:
        """The best step finished within ``seconds`` of wall time."""
        done = [s for s, c in zip(self.steps, self.cumulative, strict=True) if c <= seconds]
        return min(done, key=lambda s: s.ratio) if done else None


def _centres(lo: float, hi: float, n: int) -> tuple[np.ndarray, float]:
    """n cell centres on [lo, hi] (floats, clipped) and a rigorous covering radius."""
    from flint import arb

    from certify._rigorous import ball, upper_float

    g = np.clip(lo + (np.arange(n) + 0.5) * ((hi - lo) / n), lo, hi)
    cand = [g[0] - lo, hi - g[-1]]
    if n > 1:
        cand.append(float(np.max(np.diff(g))) / 2.0)
    r = max(cand)
    # each candidate is one correctly rounded subtraction (halving is exact):
    # the true gap is <= fl(gap) / (1 - u) <= fl(gap) (1 + 2u)
    return g, upper_float(ball(r) * (1 + arb(2) ** -52))


def _grid(axes: list[np.ndarray]) -> np.ndarray:
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.ascontiguousarray(np.stack(mesh, -1).reshape(-1, len(axes)))


def _feature_bounds(net: Any, G: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Float features on grid points, max |P|_2 and max |P - phi(x)|_2 (both rounded up)."""
    P = net.forward(G)
    plo, phi_ = net.enclose(G, G)
    dev = np.maximum(np.abs(P - plo), np.abs(phi_ - P))
    m = P.shape[1]
    inflate = 1.0 + 2.0 * (m + 4) * UNIT_ROUNDOFF
    p_max = float(np.max(np.linalg.norm(P, axis=1))) * inflate
    d_max = float(np.max(np.linalg.norm(dev, axis=1))) * inflate
    return P, math.nextafter(p_max, math.inf), math.nextafter(d_max, math.inf)


def grid_step(
    kernel: Any, phi: Any, psi: Any, x_box: Any, y_box: Any, n: int, lipschitz: float
) -> GridStep:
    from flint import arb, ctx

    from certify import residual_max
    from certify._rigorous import WORKING_PRECISION, ball, lower_float, upper_float

    start = time.perf_counter()
    radii = []
    x_axes, y_axes = [], []
    for lo, hi in zip(x_box.lower, x_box.upper, strict=True):
        g, r = _centres(float(lo), float(hi), n)
        x_axes.append(g)
        radii.append(r)
    for lo, hi in zip(y_box.lower, y_box.upper, strict=True):
        g, r = _centres(float(lo), float(hi), n)
        y_axes.append(g)
        radii.append(r)
    Xg, Yg = _grid(x_axes), _grid(y_axes)
    P, p_max, dp = _feature_bounds(phi, Xg)
    Q, q_max, dq = _feature_bounds(psi, Yg)
    res = residual_max(kernel, Xg, Yg, P, Q)
    seconds = time.perf_counter() - start

    m, d = P.shape[1], x_box.dim
    with ctx.workprec(WORKING_PRECISION):
        u = arb(2) ** -53

        def gamma(k: int) -> arb:
            return k * u / (1 - k * u)

        slack_ball = (
            2 * (d + 14) * u  # kernel evaluation
            + gamma(m + 2) * (1 + ball(p_max) * ball(q_max))  # the dot product and subtraction
            + ball(dp) * ball(q_max)
            + (ball(p_max) + ball(dp)) * ball(dq)  # float features vs exact features
        )
        rho = sum((ball(r) ** 2 for r in radii), arb(0)).sqrt()
        lip_term = ball(lipschitz) * rho
        gmax = ball(res.value)
        upper = upper_float(gmax + slack_ball + lip_term)
        lower = max(0.0, lower_float(gmax - slack_ball))
        slack = upper_float(slack_ball)
        lip_up = upper_float(lip_term)
    return GridStep(
        n=n,
        points=Xg.shape[0] * Yg.shape[0],
        seconds=seconds,
        grid_max=res.value,
        slack=slack,
        lower=lower,
        upper=upper,
        lipschitz_term=lip_up,
    )


def lipschitz_constant(kernel: Any, phi: Any, psi: Any, x_box: Any, y_box: Any) -> dict[str, float]:
    """A certified global Lipschitz constant of e on X x Y (Euclidean), with its parts."""
    from flint import ctx

    from certify._rigorous import WORKING_PRECISION, ball, upper_float

    lk = kernel.lipschitz(x_box, y_box)
    lip_phi, lip_psi = phi.lipschitz_bound(), psi.lipschitz_bound()

    def sup_norm(net: Any, box: Any) -> float:
        lo, hi = net.enclose(box.lower[None, :], box.upper[None, :])
        a = np.maximum(np.abs(lo[0]), np.abs(hi[0]))
        with ctx.workprec(WORKING_PRECISION):
            return upper_float(sum((ball(v) ** 2 for v in a), ball(0.0)).sqrt())

    sup_phi, sup_psi = sup_norm(phi, x_box), sup_norm(psi, y_box)
    with ctx.workprec(WORKING_PRECISION):
        lx = ball(lk.x) + ball(lip_phi) * ball(sup_psi)
        ly = ball(lk.y) + ball(lip_psi) * ball(sup_phi)
        total = (lx**2 + ly**2).sqrt()
        return {
            "L": upper_float(total),
            "Lk_x": lk.x,
            "Lk_y": lk.y,
            "Lip(phi)": lip_phi,
            "Lip(psi)": lip_psi,
            "sup|phi|": sup_phi,
            "sup|psi|": sup_psi,
            "Lx": upper_float(lx),
            "Ly": upper_float(ly),
        }


def run_baseline(
    kernel: Any, phi: Any, box: Any, seconds: float, start_n: int, *, warm_up: bool = True
) -> BaselineRun:
    x_box = y_box = box
    psi = phi
    D = x_box.dim + y_box.dim
    if warm_up:  # compile / load the jitted paths (forward, enclose, fused max)
        grid_step(kernel, phi, psi, x_box, y_box, 2, 1.0)
    t0 = time.perf_counter()
    parts = lipschitz_constant(kernel, phi, psi, x_box, y_box)
    L = parts["L"]
    setup = time.perf_counter() - t0

    steps: list[GridStep] = []
    cumulative: list[float] = []
    n = start_n
    fitted_last = False
    while True:
        step = grid_step(kernel, phi, psi, x_box, y_box, n, L)
        steps.append(step)
        cumulative.append(time.perf_counter() - t0)
        if step.ratio - 1.0 <= REL_GAP:
            return BaselineRun(
                setup, L, parts, D, steps, cumulative, True, setup + step.seconds, False
            )
        remaining = seconds - (time.perf_counter() - t0)
        spp = step.seconds / step.points
        if spp * (2 * n) ** D <= remaining:
            n *= 2
            continue
        if fitted_last:
            break
        # one last grid: the largest N whose predicted time fits what is left
        n_fit = int((0.85 * remaining / spp) ** (1.0 / D))
        if n_fit <= int(1.1 * n):
            break
        n, fitted_last = n_fit, True

    last = steps[-1]
    spp = last.seconds / last.points
    lower = max(s.lower for s in steps)
    # rho(N) = sqrt(sum_j (w_j / (2 N))^2) for cell centres
    half_widths = np.concatenate([x_box.widths, y_box.widths]) / 2.0
    n_star = math.ceil(L * float(np.linalg.norm(half_widths)) / (REL_GAP * lower))
    time_star = setup + float(n_star) ** D * spp
    return BaselineRun(
        setup, L, parts, D, steps, cumulative, False, time_star, True, float(n_star), spp
    )


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    ratio_text: str
    ok: bool | None
    label: str


def report(
    problem: Problem, cert: CertifyRun, base: BaselineRun, S: float, at_point: float
) -> Outcome:
    D = base.dim
    print(f"\n  {'method':<32} {'time to gap [s]':>26} {'boxes / grid points':>24} "
          f"{'l':>11} {'u':>11} {'u/l':>10}")  # fmt: skip
    c_time = (
        f"{fmt_time(cert.seconds)} measured"
        if cert.reached
        else f"> {fmt_time(cert.seconds)} (not reached)"
    )
    print(
        f"  {'certify enclose (branch & bound)':<32} {c_time:>26} "
        f"{fmt_count(cert.boxes) + ' boxes':>24} {cert.lower:11.4e} {cert.upper:11.4e} "
        f"{cert.ratio:10.4f}"
    )
    fin = base.best
    if base.reached:
        b_time = f"{fmt_time(base.time_to_gap)} measured"
        pts = f"{fmt_count(fin.points)} pts"
    else:
        b_time = f"{fmt_time(base.time_to_gap)} EXTRAPOLATED"
        pts = f"{fmt_count(base.n_star**D)} pts (N*)"
    print(
        f"  {'uniform grid + global Lipschitz':<32} {b_time:>26} {pts:>24} "
        f"{fin.lower:11.4e} {fin.upper:11.4e} {fin.ratio:10.4f}"
    )
    note = "" if base.reached else " (the l, u, u/l of the largest grid actually run)"
    print(f"    grid final: N = {fin.n} per dimension, {fmt_count(fin.points)} points{note}")
    if cert.reached and len(cert.all_seconds) > 1:
        runs = ", ".join(f"{t:.3g}" for t in cert.all_seconds)
        print(f"    certify runs [s]: {runs} (best kept)")
    print(f"    certify stop reason: {cert.stop_reason}")

    parts = base.lipschitz_parts
    print(
        f"    grid Lipschitz constant L = {parts['L']:.4g} = sqrt(Lx^2 + Ly^2), "
        f"Lx = Lk_x {parts['Lk_x']:.4g} + Lip(phi) {parts['Lip(phi)']:.4g} x "
        f"sup|psi| {parts['sup|psi|']:.4g} = {parts['Lx']:.4g}, Ly = {parts['Ly']:.4g} "
        f"(setup {base.setup_seconds:.3g} s)"
    )
    print(
        f"    {'N':>8} {'points':>16} {'seconds':>9} {'cum. s':>8} {'grid max':>11} "
        f"{'slack':>9} {'L rho':>10} {'u/l':>10}"
    )
    for s, c in zip(base.steps, base.cumulative, strict=True):
        print(
            f"    {s.n:8d} {fmt_count(s.points):>16} {s.seconds:9.3f} {c:8.2f} "
            f"{s.grid_max:11.4e} {s.slack:9.2e} {s.lipschitz_term:10.3e} {s.ratio:10.4g}"
        )
    if base.reached:
        print(
            f"    grid reached the gap: time to gap = setup + the final grid alone "
            f"({fmt_time(base.time_to_gap)} s; with the doubling sequence "
            f"{fmt_time(base.cumulative[-1])} s)"
        )
    else:
        print(
            f"    grid did not reach the gap within {S:g} s: EXTRAPOLATED N* = {base.n_star:.4g} "
            f"(L rho(N*) <= {REL_GAP} l, l = {max(s.lower for s in base.steps):.4e}), "
            f"{base.n_star**D:.3e} points x {base.seconds_per_point:.3e} s/point "
            f"(measured at N = {base.steps[-1].n}) + setup = {fmt_time(base.time_to_gap)} s"
        )

    if cert.reached:
        at = base.best_by(cert.seconds)
        if at is None:
            print(
                f"    equal time ({cert.seconds:.3g} s): the grid had not finished its first grid"
            )
        else:
            print(
                f"    equal time ({cert.seconds:.3g} s): certify u/l = {cert.ratio:.4f}, "
                f"grid u/l = {at.ratio:.4g} (N = {at.n})"
            )
        ratio = base.time_to_gap / cert.seconds
        kind = "measured" if base.reached else "EXTRAPOLATED (baseline time extrapolated)"
        ok = ratio >= TARGET
        text = f"{ratio:.3g}x, {kind}"
        print(
            f"  time ratio baseline / certify = {text}; target >= {TARGET:g}x: {verdict(ok)}"
            + ("" if base.reached else " (extrapolated)")
        )
        return Outcome(problem.name, text, ok, "" if base.reached else " (extrapolated)")
    at = base.best_by(S)
    if at is None:
        grid_text = "no grid finished"
    else:
        done = base.cumulative[base.steps.index(at)]
        grid_text = (
            f"grid u/l = {at.ratio:.4g} (N = {at.n}, done after {done:.3g} s); "
            f"grid u/l / certify u/l = {at.ratio / cert.ratio:.3g}"
        )
    overran = ", its last round overran the budget" if cert.seconds > S else ""
    print(
        f"  certify did not reach u/l <= {1 + REL_GAP:g} within {S:g} s: time ratio NOT measured."
        f"\n  equal time (budget {S:g} s each): certify u/l = {cert.ratio:.4g} (stopped after "
        f"{cert.seconds:.3g} s{overran}), {grid_text}"
    )
    if at_point > cert.lower * (1.0 + REL_GAP):
        print(
            f"  note: the dense sample's argmax has |e| >= {at_point:.6e} (rigorous point "
            f"enclosure), {at_point / cert.lower - 1:.1%} above certify's l = {cert.lower:.6e}; "
            f"since u >= sup |e| >= {at_point:.6e}, u/l <= {1 + REL_GAP:g} is unreachable until "
            f"certify's lower-bound search finds a better point"
        )
    return Outcome(problem.name, f"not measured (certify u/l = {cert.ratio:.4g} at {S:g} s)",
                   None, "")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smoke run: S = {QUICK_SECONDS:g} s")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help=f"budget S per method per domain (default {DEFAULT_SECONDS:g}; overrides --quick)",
    )
    args = parser.parse_args(argv)
    S = args.seconds if args.seconds is not None else (
        QUICK_SECONDS if args.quick else DEFAULT_SECONDS
    )  # fmt: skip
    if not S > 0:
        parser.error(f"--seconds must be > 0; got {S!r}")

    load_certify()
    from certify.relations.spec import parse_relation

    print(f"load average at start: {load_average()}")
    print(
        f"e = {KERNEL_SPEC} - <phi, phi>; rel_gap = {REL_GAP}; S = {S:g} s per method per "
        f"domain; numba threads = {numba.get_num_threads()}, cpus = {os.cpu_count()}, "
        f"numpy {np.__version__}, numba {numba.__version__}"
    )
    kernel = parse_relation(KERNEL_SPEC)
    outcomes: list[Outcome] = []
    for problem in PROBLEMS:
        box, phi, err, at_point = fit_witness(kernel, problem)
        D = 2 * box.dim
        opts = ", ".join(f"{k}={v}" for k, v in problem.fit_options.items())
        side = problem.sample_side
        sample = (
            f"{side} x {side} grid product"
            if box.dim == 1
            else f"({side} random + 65^2 grid) squared product"
        )
        print(f"\n=== X x Y = {problem.name} (D = {D}) ===")
        print(
            f"  witness phi = {phi} ({opts}); Lip(phi) <= {phi.lipschitz_bound():.4g}; "
            f"sampled sup |e| = {err:.6e} (estimate, {sample}; rigorously >= {at_point:.6e} "
            "at its argmax)"
        )
        cert = run_certify(kernel, phi, box, S)
        print(f"  load average after certify: {load_average()}")
        base = run_baseline(kernel, phi, box, S, problem.start_n)
        print(f"  load average after grid:    {load_average()}")
        outcomes.append(report(problem, cert, base, S, at_point))

    print(
        f"\nTargets (time to u/l <= {1 + REL_GAP:g}: certify >= {TARGET:g}x faster than the grid)"
    )
    for o in outcomes:
        status = "n/a" if o.ok is None else verdict(o.ok) + o.label
        print(f"  {o.name:<22} {o.ratio_text}  {status}")
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
