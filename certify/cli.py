"""The ``certify`` console script.

Subcommands: ``demo`` (a Gram matrix summary and a sampled residual), ``check``
(certify a network against a relation), ``verify`` (the independent checker),
``show`` (summaries, LaTeX rows, BibTeX entries). Nothing in the package imports
this module.

Exit codes: ``check`` gives 0 for HOLDS, 1 for VIOLATED, 3 for UNKNOWN;
``verify`` gives 0 when the certificate's claim is confirmed, 1 when it is
refuted or cannot be confirmed, 2 for a malformed or tampered file; every
command gives 2 for bad input, with a one-line message and no traceback.
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
    if args.no_certificate:
        return 0
    return _demo_certificate(args)


def _demo_certificate(args: argparse.Namespace) -> int:
    """Fit a small 1-D witness, certify it, and re-check the certificate independently."""
    from pathlib import Path

    from certify.certificates import certify_model, summary, verify
    from certify.networks.builders import fit_random_features

    kernel, domain = "gaussian:lengthscale=0.5", "box:-1,1"
    phi = fit_random_features(kernel, domain, n_neurons=12, ridge=1e-8, rng=args.seed)
    print()
    print(
        f"certificate: {kernel} on {domain}, witness phi = tanh MLP 1-12-12 "
        "(random hidden layer, least-squares output layer)"
    )
    cert = certify_model(kernel, domain, phi, eps=1e-2, rel_gap=0.05, progress=False)
    print(summary(cert))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = cert.save(out / "demo-certificate.json")
    result = verify(path, progress=False)
    print(f"written to {path}; independent check (arb balls): {result.status}: {result.reason}")
    return 0 if result.confirmed else 1


def _check(args: argparse.Namespace) -> int:
    from certify.certificates import Budget, certify_model, summary

    budget = Budget(boxes=args.max_boxes, seconds=args.max_seconds)
    cert = certify_model(
        args.relation,
        args.domain,
        args.phi,
        args.psi,
        y_domain=args.y_domain,
        eps=args.eps,
        rel_gap=args.rel_gap,
        budget=budget,
        rng=args.seed,
        progress=not args.no_progress,
    )
    print(summary(cert))
    if args.out:
        path = cert.save(args.out)
        print(f"certificate written to {path} (sha256 {cert.sha256})")
    return {"HOLDS": 0, "VIOLATED": 1}.get(cert.verdict, 3)


def _symmetric(args: argparse.Namespace) -> int:
    from certify.certificates import Budget, summary
    from certify.certificates.symmetric import certify_symmetric

    cert = certify_symmetric(
        args.kernel,
        args.domain,
        eps=args.eps,
        method=args.method,
        measure=args.measure,
        rel_gap=args.rel_gap,
        budget=Budget(boxes=args.max_boxes, seconds=args.max_seconds),
        rng=args.seed,
        progress=not args.no_progress,
    )
    print(summary(cert))
    tried = cert.method["witness"]["tried"][-1]
    print(f"witness:   built by {cert.method['witness']['builder']}: {tried}")
    l6 = cert.method["bounds"]["L6"]
    print(
        f"L6:        any model with sup error <= eps needs >= {l6['min_features_at_eps']} "
        f"features; the witness has {l6['witness_features']}"
    )
    l4 = cert.method["bounds"].get("L4", {})
    if l4.get("neurons_at_eps") is not None:
        print(
            f"L4:        Barron networks of {l4['neurons_at_eps']:.3g} neurons suffice at eps "
            f"(theory); the witness has {l4['witness_neurons']} "
            f"(bound / witness = {l4['ratio_neurons_bound_to_witness']:.3g})"
        )
    elif l4:
        missing = ", ".join(l4.get("missing") or []) or "see the certificate"
        print(f"L4:        not evaluated (missing: {missing})")
    if args.out:
        path = cert.save(args.out)
        print(f"certificate written to {path} (sha256 {cert.sha256})")
    return {"HOLDS": 0, "VIOLATED": 1}.get(cert.verdict, 3)


def _verify(args: argparse.Namespace) -> int:
    from certify.certificates import verify

    result = verify(args.file, progress=not args.no_progress)
    print(f"{result.status}: {result.reason}")
    return int(result.exit_code)


def _show(args: argparse.Namespace) -> int:
    from certify.certificates import Certificate, as_json, bibtex, latex_row, summary
    from certify.errors import CertificateError

    try:
        cert = Certificate.load(args.file)
    except CertificateError as exc:
        print(f"certify show: {exc}", file=sys.stderr)
        return 2
    if args.latex:
        print(latex_row(cert))
    elif args.bibtex:
        print(bibtex(cert))
    elif args.json:
        print(as_json(cert))
    else:
        print(summary(cert))
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
    demo.add_argument("--out", default="out", help="folder for the certificate (default: out)")
    demo.add_argument(
        "--no-certificate",
        action="store_true",
        help="skip the certificate part (Gram summary only)",
    )
    demo.set_defaults(func=_demo)

    check = sub.add_parser(
        "check",
        help="certify sup |r(x,y) - <phi(x), psi(y)>| <= eps for your own network",
        description="Enclose sup over X x Y of |r(x, y) - <phi(x), psi(y)>| by branch and bound "
        "and write a certificate. Exit 0 HOLDS, 1 VIOLATED, 3 UNKNOWN, 2 bad input.",
    )
    check.add_argument("relation", help="relation spec, e.g. gaussian:lengthscale=0.5")
    check.add_argument("--domain", required=True, help="X, a box spec such as box:-1,1")
    check.add_argument("--phi", required=True, help="phi as an .npz saved by certify.MLP.save")
    check.add_argument("--psi", help="psi (.npz); omitted means psi = phi")
    check.add_argument("--y-domain", help="Y (box spec); omitted means Y = X")
    check.add_argument("--eps", type=float, required=True, help="the tolerance of the claim")
    check.add_argument("--rel-gap", type=float, default=0.05, help="stop at u/l - 1 <= this")
    check.add_argument("--max-boxes", type=int, default=200_000, help="box budget")
    check.add_argument("--max-seconds", type=float, default=None, help="time budget")
    check.add_argument("--seed", type=int, default=0, help="seed of the lower-bound search")
    check.add_argument("--out", help="write the certificate (JSON) here")
    check.add_argument("--no-progress", action="store_true", help="no progress bar")
    check.set_defaults(func=_check)

    sym = sub.add_parser(
        "symmetric",
        help="theorem T-S on one instance: build and certify phi with <phi, phi> ~ kernel",
        description="Check PSD-ness (L7), compute Mercer data, build a witness MLP and certify "
        "sup |k - <phi, phi>| <= eps. Exit 0 HOLDS, 1 VIOLATED, 3 UNKNOWN, 2 bad input "
        "(including a non-PSD kernel, reported with its certified L7 bound).",
    )
    sym.add_argument("kernel", help="kernel spec, e.g. gaussian:lengthscale=0.5")
    sym.add_argument("--domain", required=True, help="a box spec such as box:-1,1")
    sym.add_argument("--eps", type=float, required=True, help="target sup error")
    sym.add_argument(
        "--method", choices=["direct", "construction", "interpolation"], default="direct"
    )
    sym.add_argument("--measure", default="uniform", help="measure of the Mercer data")
    sym.add_argument("--rel-gap", type=float, default=0.05, help="stop at u/l - 1 <= this")
    sym.add_argument("--max-boxes", type=int, default=200_000, help="box budget")
    sym.add_argument("--max-seconds", type=float, default=None, help="time budget")
    sym.add_argument("--seed", type=int, default=0, help="seed")
    sym.add_argument("--out", help="write the certificate (JSON) here")
    sym.add_argument("--no-progress", action="store_true", help="no progress bar")
    sym.set_defaults(func=_symmetric)

    ver = sub.add_parser(
        "verify",
        help="re-check a certificate independently (ball arithmetic)",
        description="Re-evaluate the relation and the witness over every leaf of the stored "
        "cover in arb ball arithmetic. Exit 0 confirmed, 1 refuted or not confirmed, "
        "2 malformed or tampered.",
    )
    ver.add_argument("file", help="certificate JSON")
    ver.add_argument("--no-progress", action="store_true", help="no progress bar")
    ver.set_defaults(func=_verify)

    show = sub.add_parser("show", help="summarise a certificate (text, LaTeX, BibTeX, JSON)")
    show.add_argument("file", help="certificate JSON")
    fmt = show.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true", help="a LaTeX table row")
    fmt.add_argument("--bibtex", action="store_true", help="a citation entry with the sha256")
    fmt.add_argument("--json", action="store_true", help="the certificate as JSON")
    show.set_defaults(func=_show)
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
    except (CertifyError, OSError) as exc:
        print(f"certify {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
