"""Certify your own network: ``certify_model`` encloses sup |r(x, y) - <phi(x), psi(y)>|.

Users bring networks trained elsewhere (as :class:`certify.networks.MLP`, or an
``.npz`` file saved by it) and get a :class:`Certificate` that ``certify
verify`` re-checks independently. This is the direct route: a branch and bound
on the product box X x Y (theorem T-S when psi = phi, T-A otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from certify.certificates.enclosure import Budget, Enclosure, enclose
from certify.certificates.functions import ResidualFunction
from certify.certificates.record import Certificate, Cover, Instance, Part
from certify.errors import InvalidInputError
from certify.networks.mlp import MLP
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain
from certify.relations.spec import parse_domain, parse_relation

__all__ = ["certify_model", "load_network"]

#: Tolerances every certificate of the engine records (see certify._kernels.interval).
ENGINE_TOLERANCES: dict[str, Any] = {
    "rounding": "outward after every operation: |x| 2^-52 + 2^-1074 for + - * / sqrt",
    "libm_relative_widening": "2^-48 (assumes exp, log, tanh, sin, cos within 4 ulp)",
    "slack_in_checks": 0.0,
}


def load_network(network: MLP | str | os.PathLike[str], name: str) -> MLP:
    """An MLP from an MLP or from the path of an ``.npz`` saved by :meth:`MLP.save`."""
    if isinstance(network, MLP):
        return network
    if isinstance(network, (str, os.PathLike)):
        path = Path(network)
        if not path.is_file():
            raise InvalidInputError(f"`{name}`: no network file at {str(path)!r}.")
        return MLP.load(path)
    raise InvalidInputError(
        f"`{name}` must be a certify.networks.MLP or the path of an .npz saved by MLP.save; "
        f"got {type(network).__name__}."
    )


def _box(domain: Domain, name: str) -> Box:
    if not isinstance(domain, Box):
        raise InvalidInputError(
            f"`{name}` must be a box for the enclosure engine (it covers boxes by bisection); "
            f"got {domain.spec!r}."
        )
    return domain


def _part(name: str, f: ResidualFunction | Any, enc: Enclosure) -> Part:
    desc = f.describe()
    return Part(
        name=name,
        function=desc["function"],
        args=desc["args"],
        domain_lower=tuple(float(v) for v in enc.cover.root_lower),
        domain_upper=tuple(float(v) for v in enc.cover.root_upper),
        cover=Cover(
            tree=tuple(int(t) for t in enc.cover.tree),
            splits=tuple(float(v) for v in enc.cover.splits),
            leaf_upper=tuple(float(v) for v in enc.cover.leaf_bound),
        ),
        lower=enc.lower,
        upper=enc.upper,
        point=tuple(float(v) for v in enc.point) if enc.lower > 0 else None,
    )


def certify_model(
    relation: Relation | str,
    x_domain: Domain | str,
    phi: MLP | str | os.PathLike[str],
    psi: MLP | str | os.PathLike[str] | None = None,
    *,
    y_domain: Domain | str | None = None,
    eps: float,
    rel_gap: float = 0.05,
    budget: Budget | None = None,
    rng: int | None = 0,
    progress: bool = True,
) -> Certificate:
    """Certify ``sup_{x in X, y in Y} |r(x, y) - <phi(x), psi(y)>| <= eps`` (or refute it).

    Parameters
    ----------
    relation : Relation or str
        The relation r (a kernel, a bilinear form, or a sympy expression; black-box
        callables cannot be enclosed rigorously).
    x_domain : Box or str
        X, a box (``"box:-1,1;-1,1"``).
    phi : MLP or path
        The feature map of x (an ``.npz`` saved by :meth:`MLP.save` is loaded).
    psi : MLP or path, optional
        The feature map of y; omitted means psi = phi (the symmetric model, theorem T-S).
    y_domain : Box or str, optional
        Y; omitted means Y = X.
    eps : float
        The tolerance of the claim, > 0.
    rel_gap : float, default=0.05
        The engine stops once upper / lower - 1 <= rel_gap.
    budget : Budget, optional
        Boxes and seconds of the branch and bound (default 200 000 boxes).
    rng : int or None, default=0
        Seed of the lower-bound sampling (recorded in the certificate).
    progress : bool, default=True
        Progress bar for long runs.

    Returns
    -------
    Certificate
        ``verdict`` HOLDS (proven upper bound <= eps), VIOLATED (a point with error > eps,
        evaluated rigorously) or UNKNOWN (budget exhausted, or eps within the enclosure's
        gap); ``lower``, ``upper``, ``witness_point``; ``save(path)`` writes the JSON that
        ``certify verify`` re-checks.

    Raises
    ------
    InvalidInputError
        A network whose input or output dimension does not fit the relation or the other
        network, a non-box domain, eps <= 0, or a relation that cannot be enclosed.
    """
    rel = parse_relation(relation)
    X = _box(parse_domain(x_domain), "x_domain")
    Y = X if y_domain is None else _box(parse_domain(y_domain), "y_domain")
    phi_net = load_network(phi, "phi")
    psi_net = None if psi is None else load_network(psi, "psi")
    if not (isinstance(eps, (int, float, np.floating)) and float(eps) > 0):
        raise InvalidInputError(f"`eps` must be a number > 0; got {eps!r}.")
    f = ResidualFunction(rel, phi_net, psi_net, X, Y)
    enc = enclose(f, eps=float(eps), rel_gap=rel_gap, budget=budget, rng=rng, progress=progress)
    symmetric_model = psi_net is None
    theorem = "T-S" if symmetric_model else "T-A"
    verdict = enc.verdict if enc.verdict is not None else "UNKNOWN"
    point = enc.point if enc.lower > 0 else None
    budget_used = budget if budget is not None else Budget()
    return Certificate(
        verdict=verdict,
        eps=float(eps),
        lower=enc.lower,
        upper=enc.upper,
        witness_point=None
        if point is None
        else (tuple(point[: X.dim].tolist()), tuple(point[X.dim :].tolist())),
        claim=(
            "sup over x in X, y in Y of |r(x, y) - <phi(x), "
            + ("phi" if symmetric_model else "psi")
            + f"(y)>| <= {float(eps)!r}"
        ),
        instance=Instance(relation=rel.spec, x_domain=X.spec, y_domain=Y.spec, measure=None),
        witness={"phi": phi_net.to_dict(), "psi": None if psi_net is None else psi_net.to_dict()},
        route="direct",
        parts=(_part("residual", f, enc),),
        theorem=theorem,
        lemmas=(),
        tolerances={**ENGINE_TOLERANCES, "rel_gap": rel_gap},
        method={
            "engine": "branch and bound on boxes, best-first",
            "enclosure": "mean-value form intersected with naive interval arithmetic",
            "stop_reason": enc.stop_reason,
            "boxes": int(enc.statistics["boxes"]),
            "leaves": int(enc.statistics["leaves"]),
            "seconds": float(enc.statistics["seconds"]),
            "budget_boxes": budget_used.boxes,
            "budget_seconds": budget_used.seconds,
            "lower_bound_sources": enc.statistics["lower_bound_sources"],
        },
        seed=rng,
    )
