"""Theorem T-S end to end: certify that an MLP's <phi(x), phi(y)> approximates a PD kernel.

``certify_symmetric`` checks positive semi-definiteness (lemma L7 refutes non-PSD
relations with a certified counterexample), computes the Mercer data, builds a
witness network and certifies it:

* ``method="direct"``: L-BFGS on all weights from a random-features start, grown until
  a sampled error (an estimate) is below eps / 2; certified by the direct route on X x X.
* ``method="construction"``: THEORY.md's construction. The rank d is the smallest with a
  certified uniform tail T(d) <= eps / 4 (Nystrom features, lemmas L1 and L1'); one tanh
  block per feature is fitted and widened until the sampled Delta leaves room for eps;
  certified through lemma L2 (route L2S: three enclosures over X alone, which is what
  makes 2-D domains tractable). The certificate records, beside the
achieved figures, the lemma bounds the theory gives for the same instance: the
Eckart-Young lower bound of L6 on the feature dimension, and L4's bound where its
constants are known (otherwise the missing constants are listed, never guessed).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from certify._validation import check_real
from certify.certificates.enclosure import Budget
from certify.certificates.model import certify_model
from certify.certificates.record import Certificate
from certify.errors import InvalidInputError
from certify.networks.builders import build_construction, fit_direct
from certify.networks.mlp import MLP
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain
from certify.relations.evaluation import residual_max
from certify.relations.spec import parse_domain, parse_relation
from certify.spectral.mercer import MercerDecomposition, mercer
from certify.spectral.nystrom import UniformTail, certified_uniform_tail
from certify.spectral.psd import require_psd

__all__ = ["certify_symmetric", "sampled_sup_error"]

METHODS = ("direct", "construction")
_DIRECT_SIZES = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
_CONSTRUCTION_WIDTHS = (2, 4, 8, 16, 32, 64)


def sampled_sup_error(
    relation: Relation, box: Box, phi: MLP, *, n_per_axis: int | None = None
) -> float:
    """max |r(x, y) - <phi(x), phi(y)>| over a product grid: an ESTIMATE, never a bound."""
    n = n_per_axis or (801 if box.dim == 1 else 61 if box.dim == 2 else 12)
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(box.lower, box.upper, strict=True)]
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(box.dim, -1).T
    P = phi(grid)
    return residual_max(relation, grid, grid, P, P).value


def _min_features(decomposition: MercerDecomposition, error: float) -> int:
    """min{m : tau(m) <= error}: L6's lower bound on the features of any model with that error.

    The L2(mu x mu) error of a rank-m model is >= tau(m) (Eckart-Young, L6) and, mu being a
    probability measure, <= its sup error.
    """
    spectrum = np.sort(np.clip(decomposition.spectrum, 0.0, None))[::-1]
    tails = np.sqrt(np.cumsum((spectrum**2)[::-1])[::-1])  # tails[m] = tau(m)
    hits = np.flatnonzero(tails <= error)
    return int(hits[0]) if hits.size else int(spectrum.size)


def _lemma_bounds(
    decomposition: MercerDecomposition, phi: MLP, eps: float, proven: float | None
) -> dict[str, Any]:
    """The theory's figures beside the witness's (the report's headline ratios)."""
    out: dict[str, Any] = {
        "L6": {
            "statement": "a model with sup error <= e needs m >= min{m : tau(m) <= e} features",
            "min_features_at_eps": _min_features(decomposition, eps),
            "witness_features": phi.output_dim,
            "note": "tau from the quadrature spectrum (an estimate of the operator's spectrum)",
        },
        "L4": {
            "value": None,
            "missing": ["Barron constants C_i of the eigenfunctions under this measure"],
            "note": "the uniform-measure eigenfunctions on a box have no closed-form Fourier data",
        },
    }
    if proven is not None:
        m_min = _min_features(decomposition, proven)
        out["L6"]["min_features_at_proven_error"] = m_min
        out["L6"]["ratio_witness_to_bound"] = phi.output_dim / max(m_min, 1)
    return out


def _rank_by_certified_tail(
    decomposition: MercerDecomposition, target: float, *, rng: int | None
) -> tuple[int, UniformTail]:
    """The smallest d whose certified T(d) (lemmas L1, L1') is <= target, and its tail."""
    last: UniformTail | None = None
    for d in range(1, min(decomposition.rank, 96) + 1):
        tail = certified_uniform_tail(decomposition, d, eps=target, rng=rng)
        last = tail
        if tail.sup_error_bound is not None and tail.sup_error_bound <= target:
            return d, tail
    assert last is not None
    return last.rank, last


def certify_symmetric(
    kernel: Relation | str,
    domain: Domain | str,
    *,
    eps: float,
    method: str = "direct",
    measure: str = "uniform",
    rel_gap: float = 0.05,
    budget: Budget | None = None,
    rng: int | None = 0,
    progress: bool = True,
) -> Certificate:
    """Certify theorem T-S on one instance: an MLP phi with sup |k - <phi, phi>| <= eps.

    Parameters
    ----------
    kernel : Relation or str
        A symmetric relation; a non-PSD one raises :class:`NotPSDError` with a certified
        counterexample and the L7 bound (no <phi, phi> model can beat it).
    domain : Box or str
    eps : float
        Target sup error, > 0.
    method : {"direct", "construction"}, default="direct"
        How the witness is built (see the module docstring).
    measure : str, default="uniform"
        The measure of the Mercer decomposition (used by the construction and by L6).
    rel_gap, budget, rng, progress
        As in :func:`certify_model`.

    Returns
    -------
    Certificate
        From :func:`certify_model` (direct route), with ``method["witness"]`` describing
        the build and ``method["bounds"]`` the lemma bounds beside the achieved figures.
        UNKNOWN when no witness reached eps / 2 on the sample or the engine's budget ran out.
    """
    rel = parse_relation(kernel)
    dom = parse_domain(domain)
    eps = check_real(eps, "eps")
    if not eps > 0:
        raise InvalidInputError(f"`eps` must be > 0; got {eps!r}.")
    if method not in METHODS:
        raise InvalidInputError(f"`method` must be one of {', '.join(METHODS)}; got {method!r}.")
    if not isinstance(dom, Box):
        raise InvalidInputError(f"`domain` must be a box for the certificate; got {dom.spec!r}.")
    if not rel.symmetric:
        raise InvalidInputError(
            f"{rel.spec!r} is not symmetric: theorem T-S is about <phi, phi>; use certify_model "
            "with two networks (theorem T-A)."
        )
    check = require_psd(rel, dom, rng=rng)  # raises NotPSDError with the L7 witness
    decomposition = mercer(rel, dom, measure=measure, rng=rng)

    tried: list[dict[str, Any]] = []
    phi: MLP | None = None
    if method == "direct":
        for n in _DIRECT_SIZES:
            net = fit_direct(rel, dom, n_neurons=n, n_features=n, rng=rng)
            err = sampled_sup_error(rel, dom, net)
            tried.append({"n_neurons": n, "sampled_sup_error": err})
            phi = net
            if err <= eps / 2:
                break
    else:
        # THEORY.md's construction with lemma L2 (symmetric form): the certified Nystrom
        # features F_d with T(d) <= eps / 4 (lemmas L1 and L1'), then one tanh block per
        # feature until the sampled Delta = sup |F_d - phi| leaves room for eps.
        rank, tail = _rank_by_certified_tail(decomposition, eps / 4, rng=rng)
        tried.append({"rank": rank, "certified_T": tail.value})
        reference = tail.features
        kappa = float(np.max(rel._paired(decomposition.nodes, decomposition.nodes)))
        # 2 sqrt(kappa) Delta + Delta^2 <= eps / 2  <=>  Delta <= sqrt(kappa + eps/2) - sqrt(kappa)
        delta_target = float(np.sqrt(kappa + eps / 2) - np.sqrt(kappa))
        for width in _CONSTRUCTION_WIDTHS:
            built = build_construction(
                decomposition, rank=rank, n_neurons_per_feature=width, rng=rng
            )
            tried.append({"width_per_feature": width, "sampled_delta": built.delta_sampled})
            phi = built.network
            if built.delta_sampled <= delta_target / 2:
                break
    assert phi is not None
    if method == "direct":
        cert = certify_model(
            rel, dom, phi, eps=eps, rel_gap=rel_gap, budget=budget, rng=rng, progress=progress
        )
    else:
        cert = certify_model(
            rel, dom, phi, eps=eps, rel_gap=rel_gap, budget=budget, rng=rng, progress=progress,
            route="L2S", reference=reference,
        )  # fmt: skip
    extra = {
        "pipeline": "certify_symmetric",
        "witness": {
            "builder": "fit_direct" if method == "direct" else "build_construction",
            "tried": tried,
            "note": "sampled_sup_error values are estimates on a grid; the certificate decides",
        },
        "psd": check.status,
        "mercer": {
            "measure": decomposition.measure.spec
            if hasattr(decomposition.measure, "spec")
            else str(decomposition.measure),
            "n_nodes": decomposition.n_nodes,
            "eigenvalues": decomposition.eigenvalues[:10].tolist(),
        },
        "bounds": _lemma_bounds(
            decomposition, phi, eps, cert.upper if cert.verdict == "HOLDS" else None
        ),
    }
    return dataclasses.replace(cert, method={**cert.method, **extra})
