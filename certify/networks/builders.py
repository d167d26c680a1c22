"""Witness builders: networks phi with <phi(x), phi(y)> close to a symmetric relation.

This module holds the fast start of builder (b) of the symmetric pipeline: a
one-hidden-layer tanh network whose hidden layer is random and whose output
layer is fitted by least squares on a sample, so that
<phi(x), phi(y)> = h(x)^T A^T A h(y) matches the Gram matrix. A witness is a
proposal; only a certificate decides how good it is.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from certify._validation import check_int, check_positive
from certify.errors import InvalidInputError
from certify.networks.mlp import MLP
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain
from certify.relations.evaluation import gram
from certify.relations.measures import RNGLike, as_generator
from certify.relations.spec import parse_domain, parse_relation

__all__ = ["fit_random_features"]


def fit_random_features(
    relation: Relation | str,
    domain: Domain | str,
    *,
    n_neurons: int,
    n_features: int | None = None,
    weight_scale: float | None = None,
    n_samples: int = 1024,
    ridge: float = 1e-10,
    rng: RNGLike = None,
) -> MLP:
    """Fit phi = A tanh(W x + b) so that <phi(x), phi(y)> approximates a symmetric relation.

    The hidden layer (``n_neurons`` units) is random; the output layer solves
    ``min_M ||H M H^T - K||_F`` over symmetric M on a scrambled Sobol sample (K the
    Gram matrix, H the hidden features; ridge-regularised pseudo-inverse), then keeps the
    ``n_features`` largest positive eigenpairs of M: A = diag(sqrt(mu)) Q^T, so the
    model <phi, phi> = h^T A^T A h is PSD by construction (theorem T-S's converse).

    Parameters
    ----------
    relation : Relation or str
        A symmetric relation (typically a PD kernel).
    domain : Box or str
        Where the fit matters.
    n_neurons : int
        Hidden units ("neurons" of THEORY.md).
    n_features : int, optional
        Output dimension m; default ``n_neurons``.
    weight_scale : float, optional
        Standard deviation of the hidden weights; default 2 / (domain diameter / 2),
        so the tanh units vary across the domain.
    n_samples : int, default=1024
        Sample points (rounded up to a power of two).
    ridge : float, default=1e-10
        Relative regularisation of the pseudo-inverse (recorded by the caller).
    rng : Generator, int or None

    Returns
    -------
    MLP
        ``input_dim -> n_neurons -> n_features``, tanh.
    """
    rel = parse_relation(relation)
    dom = parse_domain(domain)
    if not rel.symmetric:
        raise InvalidInputError(
            f"`relation` must be symmetric for <phi, phi>; {rel.spec!r} is not."
        )
    if not isinstance(dom, Box):
        raise InvalidInputError(f"`domain` must be a box; got {dom.spec!r}.")
    n_neurons = check_int(n_neurons, "n_neurons", minimum=1, what="hidden units of phi")
    m = n_neurons if n_features is None else check_int(n_features, "n_features", minimum=1)
    ridge = check_positive(ridge, "ridge")
    gen = as_generator(rng)
    d = dom.dim
    radius = 0.5 * float(np.linalg.norm(dom.widths))
    scale = 2.0 / radius if weight_scale is None else check_positive(weight_scale, "weight_scale")

    W = gen.normal(0.0, scale, size=(n_neurons, d))
    # biases place each unit's transition at a random point of the domain
    anchors = dom.lower + gen.random((n_neurons, d)) * dom.widths
    b = -np.einsum("ij,ij->i", W, anchors)

    n = 1 << int(np.ceil(np.log2(max(n_samples, 16))))
    X = dom.lower + qmc.Sobol(d, scramble=True, rng=gen).random(n) * dom.widths
    X = np.clip(X, dom.lower, dom.upper)
    K = gram(rel, X)
    H = np.tanh(X @ W.T + b)
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    s_inv = s / (s**2 + ridge * s[0] ** 2)
    core = (U.T @ K @ U) * np.outer(s_inv, s_inv)
    M = Vt.T @ core @ Vt
    M = 0.5 * (M + M.T)
    mu, Qm = np.linalg.eigh(M)
    keep = np.argsort(mu)[::-1][:m]
    mu_k = np.clip(mu[keep], 0.0, None)
    A = np.sqrt(mu_k)[:, None] * Qm[:, keep].T
    return MLP([W, A], [b, np.zeros(A.shape[0])], activation="tanh")
