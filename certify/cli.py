"""The ``certify`` console script.

Subcommands grow with the project; today: ``certify demo`` (the main job of the
foundation milestone: a Gram matrix summary and a sampled residual).
Nothing in the package imports this module.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from certify._version import __version__
from certify.errors import CertifyError


def _demo(args: argparse.Namespace) -> int:
    from certify.relations import Box, gram, parse_domain, parse_relation, residual_max

    relation = parse_relation(args.relation)
    domain = parse_domain(args.domain)
    if not isinstance(domain, Box):
        raise CertifyError(f"the demo samples a box domain; got {domain.spec!r}.")
    if not relation.symmetric:
        raise CertifyError(
            f"the demo fits a symmetric model <phi, phi>; {relation.spec!r} is not symmetric."
        )
    rng = np.random.default_rng(args.seed)
    X = domain.lower + domain.widths * rng.random((args.n, domain.dim))

    t0 = time.perf_counter()
    G = gram(relation, X)
    t_gram = time.perf_counter() - t0
    eigenvalues, eigenvectors = np.linalg.eigh(G)
    print(f"certify {__version__} demo")
    print(f"relation : {relation.spec}")
    print(f"domain   : {domain.spec}, {args.n} uniform random points (seed {args.seed})")
    print(
        f"Gram     : shape {G.shape}, entries in [{G.min():.6g}, {G.max():.6g}], "
        f"trace/n {np.trace(G) / args.n:.6g}, built in {t_gram * 1e3:.1f} ms"
    )
    print(
        f"spectrum : largest eigenvalue {eigenvalues[-1]:.6g}, smallest {eigenvalues[0]:.3e} "
        f"(round-off scale {args.n * np.finfo(float).eps * eigenvalues[-1]:.1e})"
    )

    # Features of the rank-r eigen-truncation of the sample Gram matrix: P = V_r sqrt(L_r),
    # so <P_i, P_j> is the best rank-r approximation of G (Eckart-Young, lemma L6).
    r = min(args.rank, args.n)
    top = eigenvalues[-r:].clip(min=0.0)
    P = eigenvectors[:, -r:] * np.sqrt(top)
    t0 = time.perf_counter()
    res = residual_max(relation, X, X, P, P)
    t_res = time.perf_counter() - t0
    print(
        f"residual : rank-{r} truncation, max_ij |r(x_i, x_j) - <P_i, P_j>| = {res.value:.3e} "
        f"at (x_{res.i}, x_{res.j}) [sampled estimate on the {args.n} points, not a certificate]"
        f" in {t_res * 1e3:.1f} ms"
    )
    print(
        f"           next eigenvalue {eigenvalues[-r - 1] if r < args.n else 0.0:.3e} "
        "(the spectral-norm error of the truncation)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certify",
        description=(
            "Certify, instance by instance, the approximation theorems for relation functions "
            "and attention (Altabaa & Lafferty, 2024)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"certify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="Gram matrix summary and a sampled residual of a low-rank model",
        description="Build a Gram matrix on random points, truncate its spectrum, and report "
        "the largest residual on the sample (an estimate, not a certificate).",
    )
    demo.add_argument(
        "--relation",
        default="gaussian:lengthscale=0.5",
        help="relation spec (default: %(default)s)",
    )
    demo.add_argument(
        "--domain", default="box:-1,1;-1,1", help="domain spec (default: %(default)s)"
    )
    demo.add_argument("--n", type=int, default=2000, help="number of points (default: %(default)s)")
    demo.add_argument("--rank", type=int, default=20, help="features kept (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``certify`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        code: int = args.func(args)
    except CertifyError as exc:
        print(f"certify {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
