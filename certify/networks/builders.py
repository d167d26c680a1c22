"""Witness builders: networks phi with <phi(x), phi(y)> close to a symmetric relation.

Four builders:

- :func:`fit_random_features`: a one-hidden-layer tanh network whose hidden layer
  is random and whose output layer is fitted by least squares on a sample, so that
  ``<phi(x), phi(y)> = h(x)^T A^T A h(y)`` matches the Gram matrix (the fast start).
- :func:`build_construction`: THEORY.md's construction behind T-S and lemma L4:
  truncate the Mercer expansion at ``d = rank``, fit one one-hidden-layer tanh
  network per feature ``F_i = sqrt(lambda_i) e_i`` and stack them into one MLP with
  a block-diagonal output layer (output ``i`` reads only its own hidden block).
- :func:`fit_direct` (and :func:`fit_direct_record`): L-BFGS-B on every weight of
  ``phi`` for the quadrature estimate of ``||r - <phi, phi>||^2_{L2(mu x mu)}``,
  with an analytic gradient, started from :func:`fit_random_features`.
- :func:`build_interpolation` (1-D boxes): no fitting at all. The bilinear interpolant
  of ``r`` on a knot grid is ``<phi(x), phi(y)>`` for ``phi = S hat`` with
  ``S^T S = K`` (the Gram matrix at the knots), and the hat functions are exact
  combinations of ReLU units, so ``phi`` is exactly a one-hidden-layer ReLU MLP.

A witness is a proposal; only a certificate decides how good it is. Every error
recorded here is a SAMPLED ESTIMATE and is labelled so. All builders but
:func:`build_interpolation` are deterministic given ``rng``; it has no randomness.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.stats import qmc

from certify._validation import check_finite_array, check_int, check_positive, check_real, describe
from certify.errors import InvalidInputError, NotPSDError
from certify.networks.mlp import MLP
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain
from certify.relations.evaluation import gram, residual_max
from certify.relations.measures import Measure, RNGLike, as_generator
from certify.relations.quadrature import quadrature
from certify.relations.spec import parse_domain, parse_relation
from certify.spectral.mercer import MercerDecomposition

__all__ = [
    "ConstructionResult",
    "DirectFit",
    "InterpolationResult",
    "allocate_widths",
    "build_construction",
    "build_interpolation",
    "fit_direct",
    "fit_direct_record",
    "fit_random_features",
]

FloatArray = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)
_INITS = ("random-features", "random")


# ------------------------------------------------------------------------------ helpers


def _symmetric_box(relation: Relation | str, domain: Domain | str) -> tuple[Relation, Box]:
    """Parse and check: a symmetric relation on a box (the builders' common hypothesis)."""
    rel = parse_relation(relation)
    dom = parse_domain(domain)
    if not rel.symmetric:
        raise InvalidInputError(
            f"`relation` must be symmetric for <phi, phi>; {rel.spec!r} is not."
        )
    if not isinstance(dom, Box):
        raise InvalidInputError(f"`domain` must be a box; got {dom.spec!r}.")
    return rel, dom


def _default_scale(dom: Box, weight_scale: float | None) -> float:
    radius = 0.5 * float(np.linalg.norm(dom.widths))
    if weight_scale is None:
        return 2.0 / radius
    return check_positive(weight_scale, "weight_scale")


def _random_hidden(
    dom: Box, n_neurons: int, scale: float, gen: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Random tanh units: W ~ N(0, scale^2), each transition at a random point of the box."""
    W = gen.normal(0.0, scale, size=(n_neurons, dom.dim))
    anchors = dom.lower + gen.random((n_neurons, dom.dim)) * dom.widths
    b = -np.einsum("ij,ij->i", W, anchors)
    return W, b


def _sobol_sample(dom: Box, n_samples: int, gen: np.random.Generator) -> FloatArray:
    """A scrambled Sobol sample of the box (``n_samples`` rounded up to a power of 2, >= 16)."""
    n = 1 << int(np.ceil(np.log2(max(n_samples, 16))))
    X = dom.lower + qmc.Sobol(dom.dim, scramble=True, rng=gen).random(n) * dom.widths
    return np.clip(X, dom.lower, dom.upper)


def _ridge_pinv_factors(H: FloatArray, ridge: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``U, s_inv, Vt`` with ``V diag(s_inv) U^T`` the ridge-regularised pseudo-inverse of H."""
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    s_inv = s / (s**2 + ridge * s[0] ** 2)
    return U, s_inv, Vt


# ------------------------------------------------------------------- random features


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
    rel, dom = _symmetric_box(relation, domain)
    n_neurons = check_int(n_neurons, "n_neurons", minimum=1, what="hidden units of phi")
    m = n_neurons if n_features is None else check_int(n_features, "n_features", minimum=1)
    ridge = check_positive(ridge, "ridge")
    gen = as_generator(rng)
    scale = _default_scale(dom, weight_scale)

    W, b = _random_hidden(dom, n_neurons, scale, gen)
    X = _sobol_sample(dom, n_samples, gen)
    K = gram(rel, X)
    H = np.tanh(X @ W.T + b)
    U, s_inv, Vt = _ridge_pinv_factors(H, ridge)
    core = (U.T @ K @ U) * np.outer(s_inv, s_inv)
    M = Vt.T @ core @ Vt
    M = 0.5 * (M + M.T)
    mu, Qm = np.linalg.eigh(M)
    keep = np.argsort(mu)[::-1][:m]
    mu_k = np.clip(mu[keep], 0.0, None)
    A = np.sqrt(mu_k)[:, None] * Qm[:, keep].T
    return MLP([W, A], [b, np.zeros(A.shape[0])], activation="tanh")


# ---------------------------------------------------------------------- construction


def allocate_widths(
    eigenvalues: npt.ArrayLike,
    total_neurons: int,
    *,
    barron_constants: npt.ArrayLike | None = None,
) -> tuple[int, ...]:
    """Split ``total_neurons`` hidden units among the features as lemma L4 suggests.

    L4's first-order error term is ``sum_i 2 sqrt(lambda_i) delta_i = sum_i 4 R lambda_i
    C_i / sqrt(n_i)``. Minimising it subject to ``sum_i n_i = N`` (a Lagrange
    multiplier: ``lambda_i C_i n_i^(-3/2)`` equal for all i) gives

        n_i  proportional to  (lambda_i C_i)^(2/3).

    The Barron constants ``C_i`` of the eigenfunctions are rarely known; the default
    takes them all equal (``C_i = 1``), i.e. ``n_i ~ lambda_i^(2/3)``. This
    under-allocates to the oscillating high-index eigenfunctions, whose ``C_i`` grow;
    pass estimates in ``barron_constants`` when you have them. The real weights are
    rounded by largest remainders after giving every feature one unit, so every
    ``n_i >= 1`` and the widths sum to ``total_neurons`` exactly.

    Parameters
    ----------
    eigenvalues : array-like of shape (d,)
        ``lambda_1, ..., lambda_d``, all > 0.
    total_neurons : int
        ``N >= d``.
    barron_constants : array-like of shape (d,), optional
        ``C_i > 0``; default all 1.

    Returns
    -------
    tuple of int
        ``(n_1, ..., n_d)``.

    Examples
    --------
    >>> allocate_widths([1.0, 1.0 / 8.0], 10)
    (8, 2)
    >>> sum(allocate_widths([0.5, 0.3, 0.1, 0.01], 37))
    37
    """
    lam = check_finite_array(eigenvalues, "eigenvalues")
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0):
        raise InvalidInputError(
            f"`eigenvalues` must be a non-empty 1-D array of positive numbers; got {describe(lam)}."
        )
    d = lam.size
    total = check_int(
        total_neurons, "total_neurons", minimum=d, what="at least one unit per feature"
    )
    if barron_constants is None:
        C = np.ones(d)
    else:
        C = check_finite_array(barron_constants, "barron_constants")
        if C.shape != (d,) or np.any(C <= 0):
            raise InvalidInputError(
                f"`barron_constants` must hold {d} positive numbers (one per feature); got "
                f"{describe(C)}."
            )
    share = (lam * C) ** (2.0 / 3.0)
    ideal = share / share.sum() * total
    widths = np.maximum(np.floor(ideal).astype(np.int64), 1)
    # Largest remainders (stable ties: lower index first) until the widths sum to N.
    while widths.sum() < total:
        widths[int(np.argmax(ideal - widths))] += 1
    while widths.sum() > total:
        over = np.where(widths > 1, widths - ideal, -np.inf)
        widths[int(np.argmax(over))] -= 1
    return tuple(int(n) for n in widths)


@dataclass(frozen=True, eq=False)
class ConstructionResult:
    """The network of THEORY.md's construction (T-S via L2-L4) and its record.

    Attributes
    ----------
    network : MLP
        ``phi : R^dim -> R^rank``, one hidden tanh layer of ``sum(widths)`` units;
        hidden block ``i`` (``block_slices[i]``) approximates feature ``F_i``; the
        output layer is block-diagonal (row ``i`` is exactly zero off block ``i``).
        With ``shared_hidden`` there is one block, read by every output row.
    rank : int
        The truncation ``d``.
    widths : tuple of int
        Hidden units per feature ``n_i`` (one entry, the shared layer's size, with
        ``shared_hidden``).
    allocation : str
        How the widths were chosen (``"equal"`` or the L4 rule with its constants).
    eigenvalues : ndarray of shape (rank,)
        The ``lambda_i`` used (estimates from the decomposition).
    barron_constants : ndarray of shape (rank,) or None
        The ``C_i`` used for the allocation (None for equal widths).
    feature_sup_errors_sampled : ndarray of shape (rank,)
        ESTIMATES (sampled maxima, lower bounds of the sup) of ``sup_x |F_i(x) -
        phi_i(x)|`` on ``n_check_points`` check points (a Sobol sample independent of
        the fitting sample). Their Euclidean norm estimates ``Delta`` of lemma L2.
    feature_rms_errors_sampled : ndarray of shape (rank,)
        ESTIMATES of the RMS feature error on the same check points (uniform on the box).
    delta_sampled : float
        ``max_x |F_d(x) - phi(x)|`` (Euclidean norm) over the check points: an ESTIMATE of
        L2's ``Delta``.
    n_fit_points, n_check_points : int
        Sizes of the fitting and check samples.
    ridge : float
        Relative ridge of each least-squares fit.
    weight_scale : float
        Standard deviation of the random hidden weights.
    kernel_spec, domain_spec, measure_spec : str
        The decomposition's instance.
    shared_hidden : bool
        Whether the hidden layer is shared by all features.
    """

    network: MLP
    rank: int
    widths: tuple[int, ...]
    allocation: str
    eigenvalues: FloatArray
    barron_constants: FloatArray | None
    feature_sup_errors_sampled: FloatArray
    feature_rms_errors_sampled: FloatArray
    delta_sampled: float
    n_fit_points: int
    n_check_points: int
    ridge: float
    weight_scale: float
    kernel_spec: str
    domain_spec: str
    measure_spec: str
    shared_hidden: bool = False

    @property
    def n_neurons(self) -> int:
        """Total hidden units ``sum(widths)``."""
        return int(sum(self.widths))

    @property
    def block_slices(self) -> tuple[slice, ...]:
        """Hidden-unit range of each feature's block."""
        ends = np.cumsum((0, *self.widths))
        return tuple(slice(int(a), int(b)) for a, b in itertools.pairwise(ends))


def _readonly(arr: npt.ArrayLike) -> FloatArray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def build_construction(
    decomposition: MercerDecomposition,
    *,
    rank: int,
    n_neurons_per_feature: int | None = None,
    total_neurons: int | None = None,
    barron_constants: npt.ArrayLike | None = None,
    weight_scale: float | None = None,
    n_samples: int | None = None,
    n_check: int = 4096,
    ridge: float | None = None,
    shared_hidden: bool = False,
    rng: RNGLike = None,
) -> ConstructionResult:
    """THEORY.md's construction: one tanh network per Mercer feature, stacked (T-S, L2-L4).

    1. Truncate at ``d = rank``: the target is ``F_d = (sqrt(lambda_i) e_i)_{i<=d}``
       (``decomposition.features``, Nystrom).
    2. Widths: ``n_neurons_per_feature`` for every feature (equal widths), or
       ``total_neurons`` split by :func:`allocate_widths` (L4's optimal split,
       ``n_i ~ (lambda_i C_i)^(2/3)``, ``C_i = 1`` unless ``barron_constants``).
    3. Per feature ``i``: ``n_i`` random tanh units (as in :func:`fit_random_features`)
       and an output row plus bias fitted by ridge least squares to ``F_i`` on a
       scrambled Sobol sample of the box (L3's network, with a least-squares instead
       of Barron's greedy output layer).
    4. Stack: hidden layer = the concatenated blocks; output row ``i`` reads only block
       ``i`` (every other entry exactly 0). Then ``<phi, phi>`` approximates ``r`` with
       the error of L2: ``T(d) + 2 sqrt(kappa) Delta + Delta^2``.

    ``shared_hidden=True`` replaces steps 2-4 by one hidden layer of ``total_neurons``
    random tanh units read by every feature (the output layer is one ridge fit of all
    of F_d). Lemma L2 only needs ``Delta = sup |F_d - phi|``, which does not care how phi
    is wired, and the features of a smooth kernel share their span: on the Gaussian
    kernel (l = 0.5) on [-1,1]^2 with d = 47, 400 shared units reach a sampled Delta of
    1.1e-4, where 64 units per feature (3008 in all) stay above 1e-2.

    Parameters
    ----------
    decomposition : MercerDecomposition
        From :func:`certify.mercer` on a box.
    rank : int
        ``d``, in ``[1, decomposition.rank]``.
    n_neurons_per_feature : int, optional
        Equal widths. Exactly one of this and ``total_neurons`` must be given.
    total_neurons : int, optional
        Total hidden units ``N >= rank``, allocated by L4.
    barron_constants : array-like of shape (rank,), optional
        ``C_i`` for the L4 allocation (only with ``total_neurons``).
    weight_scale : float, optional
        Std of the hidden weights; default as in :func:`fit_random_features`.
    n_samples : int, optional
        Fitting sample size (rounded up to a power of two); default 1024 per block, and
        ``16 * total_neurons`` (at least 1024) for a shared hidden layer.
    n_check : int, default=4096
        Check sample size for the recorded (sampled) feature errors.
    ridge : float, optional
        Relative ridge of the least-squares fits (Tikhonov: singular values ``s`` of the
        hidden features are inverted as ``s / (s^2 + ridge s_max^2)``); default 1e-10 per
        block and 1e-16 for a shared hidden layer (it needs the small singular directions;
        1e-16 keeps the output weights in the hundreds, which the certificate's Taylor
        remainders pay for).
    shared_hidden : bool, default=False
        One hidden layer shared by all features (needs ``total_neurons``; see above).
    rng : numpy.random.Generator, int or None
        All randomness (hidden layers, then the fitting sample, then the check sample).

    Returns
    -------
    ConstructionResult

    Raises
    ------
    InvalidInputError
        Not a MercerDecomposition; a non-box domain; ``rank`` out of range; both or
        neither width option; ``total_neurons < rank``; bad sizes.

    Examples
    --------
    >>> from certify.spectral.mercer import mercer
    >>> dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    >>> res = build_construction(dec, rank=4, total_neurons=40, rng=0)
    >>> res.network.layer_sizes, sum(res.widths)
    ((1, 40, 4), 40)
    >>> W_out = res.network.weights[1]
    >>> bool(np.all(W_out[0, res.block_slices[1]] == 0.0))
    True
    """
    if not isinstance(decomposition, MercerDecomposition):
        raise InvalidInputError(
            f"`decomposition` must be a MercerDecomposition (from certify.mercer); got "
            f"{describe(decomposition)}."
        )
    dom = decomposition.domain
    if not isinstance(dom, Box):
        raise InvalidInputError(
            f"`decomposition` must live on a box (the construction samples the box); got "
            f"{dom.spec!r}."
        )
    d = check_int(rank, "rank", minimum=1, what="Mercer features kept")
    if d > decomposition.rank:
        raise InvalidInputError(
            f"`rank` must be <= decomposition.rank = {decomposition.rank}; got {d}. Remedy: "
            "recompute the decomposition with a larger rank or a smaller tol."
        )
    if shared_hidden and n_neurons_per_feature is not None:
        raise InvalidInputError(
            "`shared_hidden=True` needs `total_neurons` (the size of the shared layer), not "
            "`n_neurons_per_feature`."
        )
    if (n_neurons_per_feature is None) == (total_neurons is None):
        raise InvalidInputError(
            "Give exactly one of `n_neurons_per_feature` (equal widths) and `total_neurons` "
            f"(L4 allocation); got n_neurons_per_feature={n_neurons_per_feature!r}, "
            f"total_neurons={total_neurons!r}."
        )
    lam = np.array(decomposition.eigenvalues[:d], dtype=np.float64)
    C_used: FloatArray | None
    if n_neurons_per_feature is not None:
        if barron_constants is not None:
            raise InvalidInputError(
                "`barron_constants` only applies with `total_neurons` (the L4 allocation)."
            )
        n_each = check_int(n_neurons_per_feature, "n_neurons_per_feature", minimum=1)
        widths = (n_each,) * d
        allocation = "equal"
        C_used = None
    elif shared_hidden:
        if barron_constants is not None:
            raise InvalidInputError("`barron_constants` does not apply to a shared hidden layer.")
        widths = (check_int(total_neurons, "total_neurons", minimum=1),)
        allocation = "shared: one hidden layer read by every feature"
        C_used = None
    else:
        assert total_neurons is not None  # the exactly-one check above
        widths = allocate_widths(lam, total_neurons, barron_constants=barron_constants)
        C_used = (
            np.ones(d)
            if barron_constants is None
            else check_finite_array(barron_constants, "barron_constants")
        )
        allocation = "L4: n_i ~ (lambda_i C_i)^(2/3), " + (
            "C_i = 1 (Barron constants unknown)" if barron_constants is None else "C_i given"
        )
    if n_samples is None:
        n_samples = max(1024, 16 * widths[0]) if shared_hidden else 1024
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_check = check_int(n_check, "n_check", minimum=1)
    ridge = check_positive(
        ridge if ridge is not None else 1e-16 if shared_hidden else 1e-10, "ridge"
    )
    scale = _default_scale(dom, weight_scale)
    gen = as_generator(rng)

    hidden = [_random_hidden(dom, n_i, scale, gen) for n_i in widths]
    X = _sobol_sample(dom, n_samples, gen)
    X_check = _sobol_sample(dom, n_check, gen)
    targets = decomposition.features(X, rank=d)

    N = sum(widths)
    W_all = np.concatenate([W for W, _ in hidden], axis=0)
    b_all = np.concatenate([b for _, b in hidden])
    A = np.zeros((d, N))
    c = np.zeros(d)
    if shared_hidden:
        # every output row + bias at once: ridge least squares on [tanh(X W^T + b), 1]
        H = np.hstack([np.tanh(X @ W_all.T + b_all), np.ones((X.shape[0], 1))])
        U, s_inv, Vt = _ridge_pinv_factors(H, ridge)
        coef_all = Vt.T @ (s_inv[:, None] * (U.T @ targets))
        A[:, :] = coef_all[:-1].T
        c[:] = coef_all[-1]
    else:
        start = 0
        for i, (W_i, b_i) in enumerate(hidden):
            stop = start + widths[i]
            # output row + bias: ridge least squares on [tanh(X W_i^T + b_i), 1]
            H = np.hstack([np.tanh(X @ W_i.T + b_i), np.ones((X.shape[0], 1))])
            U, s_inv, Vt = _ridge_pinv_factors(H, ridge)
            coef = Vt.T @ (s_inv * (U.T @ targets[:, i]))
            A[i, start:stop] = coef[:-1]
            c[i] = coef[-1]
            start = stop
    net = MLP([W_all, A], [b_all, c], activation="tanh")

    err = net(X_check) - decomposition.features(X_check, rank=d)
    return ConstructionResult(
        network=net,
        rank=d,
        widths=tuple(widths),
        allocation=allocation,
        eigenvalues=_readonly(lam),
        barron_constants=None if C_used is None else _readonly(C_used),
        feature_sup_errors_sampled=_readonly(np.max(np.abs(err), axis=0)),
        feature_rms_errors_sampled=_readonly(np.sqrt(np.mean(err**2, axis=0))),
        delta_sampled=float(np.max(np.linalg.norm(err, axis=1))),
        n_fit_points=int(X.shape[0]),
        n_check_points=int(X_check.shape[0]),
        ridge=ridge,
        weight_scale=scale,
        kernel_spec=decomposition.kernel_spec,
        domain_spec=decomposition.domain_spec,
        measure_spec=decomposition.measure_spec,
        shared_hidden=bool(shared_hidden),
    )


# ---------------------------------------------------------------------- direct fitting


def _pack(W: FloatArray, b: FloatArray, A: FloatArray, c: FloatArray) -> FloatArray:
    return np.concatenate([W.ravel(), b, A.ravel(), c])


def _unpack(
    theta: FloatArray, n_neurons: int, dim: int, n_features: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    k = n_neurons * dim
    W = theta[:k].reshape(n_neurons, dim)
    b = theta[k : k + n_neurons]
    k += n_neurons
    A = theta[k : k + n_features * n_neurons].reshape(n_features, n_neurons)
    k += n_features * n_neurons
    c = theta[k : k + n_features]
    return W, b, A, c


def _direct_objective(
    theta: FloatArray,
    X: FloatArray,
    K: FloatArray,
    w: FloatArray,
    n_neurons: int,
    n_features: int,
    weight_decay: float,
) -> tuple[float, FloatArray]:
    """Loss and analytic gradient of fit_direct's objective.

    ``L = sum_ij w_i w_j (K_ij - <P_i, P_j>)^2 + weight_decay (||W||^2 + ||A||^2)`` with
    ``P = Z A^T + c``, ``Z = tanh(X W^T + b)``. With ``R = K - P P^T`` (symmetric) and
    ``Omega = w w^T``: ``dL/dP = -4 (Omega * R) P``; then ``dA = G^T Z``, ``dc = sum_rows G``,
    ``dZ = G A``, ``dpre = dZ * (1 - Z^2)``, ``dW = dpre^T X``, ``db = sum_rows dpre``.
    """
    W, b, A, c = _unpack(theta, n_neurons, X.shape[1], n_features)
    Z = np.tanh(X @ W.T + b)
    P = Z @ A.T + c
    R = K - P @ P.T
    OR = (w[:, None] * R) * w[None, :]
    loss = float(np.sum(OR * R))
    G = -4.0 * (OR @ P)
    dA = G.T @ Z
    dc = G.sum(axis=0)
    dpre = (G @ A) * (1.0 - Z**2)
    dW = dpre.T @ X
    db = dpre.sum(axis=0)
    if weight_decay > 0.0:
        loss += weight_decay * float(np.sum(W**2) + np.sum(A**2))
        dW = dW + 2.0 * weight_decay * W
        dA = dA + 2.0 * weight_decay * A
    return loss, _pack(dW, db, dA, dc)


@dataclass(frozen=True, eq=False)
class DirectFit:
    """Record of :func:`fit_direct_record`.

    Attributes
    ----------
    network : MLP
        The fitted ``phi`` (``dim -> n_neurons -> n_features``, tanh).
    initial_network : MLP
        The starting point (``fit_random_features`` for ``init="random-features"``).
    loss_history : ndarray
        Objective after each L-BFGS-B iteration, starting with the initial value: a
        quadrature ESTIMATE of ``||r - <phi, phi>||^2_{L2(mu x mu)}`` (+ weight decay).
    n_iterations : int
    converged : bool
        scipy's success flag (a solver status, not a certificate).
    message : str
        scipy's message.
    n_nodes : int
        Quadrature nodes of the objective.
    weight_decay : float
    init : str
    """

    network: MLP
    initial_network: MLP
    loss_history: FloatArray
    n_iterations: int
    converged: bool
    message: str
    n_nodes: int
    weight_decay: float
    init: str

    @property
    def initial_loss(self) -> float:
        """Objective at the start."""
        return float(self.loss_history[0])

    @property
    def final_loss(self) -> float:
        """Objective at the end."""
        return float(self.loss_history[-1])


def fit_direct_record(
    kernel: Relation | str,
    domain: Domain | str,
    *,
    n_neurons: int,
    n_features: int,
    measure: Measure | str = "uniform",
    rng: RNGLike = None,
    max_iter: int = 300,
    weight_decay: float = 0.0,
    init: str = "random-features",
    n: int | None = None,
    weight_scale: float | None = None,
    ridge: float = 1e-10,
) -> DirectFit:
    """:func:`fit_direct` with its record (start, loss history, solver status).

    See :func:`fit_direct` for the parameters.
    """
    rel, dom = _symmetric_box(kernel, domain)
    n_neurons = check_int(n_neurons, "n_neurons", minimum=1, what="hidden units of phi")
    n_features = check_int(n_features, "n_features", minimum=1, what="output dimension m")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    weight_decay = check_real(weight_decay, "weight_decay")
    if weight_decay < 0.0:
        raise InvalidInputError(f"`weight_decay` must be >= 0; got {weight_decay!r}.")
    if not isinstance(init, str) or init not in _INITS:
        raise InvalidInputError(f"`init` must be one of {list(_INITS)}; got {describe(init)}.")
    gen = as_generator(rng)
    rule = quadrature(dom, measure, n=n, rng=gen)
    X = np.ascontiguousarray(rule.nodes)
    w = np.ascontiguousarray(rule.weights)
    K = gram(rel, X)

    if init == "random-features":
        start = fit_random_features(
            rel,
            dom,
            n_neurons=n_neurons,
            n_features=n_features,
            weight_scale=weight_scale,
            ridge=ridge,
            rng=gen,
        )
        W0, A0 = start.weights
        b0, c0 = start.biases
        if A0.shape[0] < n_features:  # fewer hidden units than features: pad with zeros
            A0 = np.vstack([A0, np.zeros((n_features - A0.shape[0], n_neurons))])
            c0 = np.concatenate([c0, np.zeros(n_features - c0.shape[0])])
    else:
        scale = _default_scale(dom, weight_scale)
        W0, b0 = _random_hidden(dom, n_neurons, scale, gen)
        A0 = gen.normal(0.0, 1.0 / np.sqrt(n_neurons), size=(n_features, n_neurons))
        c0 = np.zeros(n_features)
    start_net = MLP([W0, A0], [b0, c0], activation="tanh")
    theta0 = _pack(
        np.array(W0, dtype=np.float64),
        np.array(b0, dtype=np.float64),
        np.array(A0, dtype=np.float64),
        np.array(c0, dtype=np.float64),
    )

    args = (X, K, w, n_neurons, n_features, weight_decay)
    history = [_direct_objective(theta0, *args)[0]]
    cache: dict[str, Any] = {}

    def fun(theta: FloatArray) -> tuple[float, FloatArray]:
        f, g = _direct_objective(theta, *args)
        cache["x"], cache["f"] = theta.copy(), f
        return f, g

    def callback(xk: FloatArray) -> None:
        if "x" in cache and np.array_equal(cache["x"], xk):
            history.append(float(cache["f"]))
        else:
            history.append(_direct_objective(xk, *args)[0])

    if max_iter > 0:
        res = minimize(
            fun,
            theta0,
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={"maxiter": max_iter, "maxcor": 20, "ftol": 1e3 * _EPS, "gtol": 0.0},
        )
        theta, n_it, ok, msg = res.x, int(res.nit), bool(res.success), str(res.message)
        final = _direct_objective(theta, *args)[0]
        if final > history[0]:  # never hand back something worse than the start
            theta, final = theta0, history[0]
        if history[-1] != final:
            history.append(final)
    else:
        theta, n_it, ok, msg = theta0, 0, True, "max_iter = 0: the start is returned"
    W, b, A, c = _unpack(theta, n_neurons, dom.dim, n_features)
    return DirectFit(
        network=MLP([W, A], [b, c], activation="tanh"),
        initial_network=start_net,
        loss_history=_readonly(history),
        n_iterations=n_it,
        converged=ok,
        message=msg,
        n_nodes=int(X.shape[0]),
        weight_decay=weight_decay,
        init=init,
    )


def fit_direct(
    kernel: Relation | str,
    domain: Domain | str,
    *,
    n_neurons: int,
    n_features: int,
    measure: Measure | str = "uniform",
    rng: RNGLike = None,
    max_iter: int = 300,
    weight_decay: float = 0.0,
    init: str = "random-features",
    n: int | None = None,
    weight_scale: float | None = None,
    ridge: float = 1e-10,
) -> MLP:
    """Fit phi directly so that <phi(x), phi(y)> matches a symmetric relation (T-S).

    Minimises, with L-BFGS-B over ALL weights (hidden weights and biases, output
    weights and biases),

        L = sum_ij w_i w_j (r(x_i, x_j) - <phi(x_i), phi(x_j)>)^2
            + weight_decay (||W||_F^2 + ||A||_F^2),

    on the quadrature rule ``(x_i, w_i)`` of ``measure`` (a quadrature estimate of
    ``||r - <phi, phi>||^2_{L2(mu x mu)}``), with the analytic gradient of
    ``_direct_objective`` (``dL/dP = -4 (w w^T * R) P`` chained through
    ``phi = A tanh(W x + b) + c``). The start is :func:`fit_random_features`
    (``init="random-features"``) or random weights (``init="random"``). The result is
    never worse than the start on L.

    Parameters
    ----------
    kernel : Relation or str
        A symmetric relation.
    domain : Box or str
    n_neurons : int
        Hidden units.
    n_features : int
        Output dimension m.
    measure : Measure or str, default="uniform"
        The measure of the L2 objective (its quadrature rule gives the nodes).
    rng : numpy.random.Generator, int or None
    max_iter : int, default=300
        L-BFGS-B iterations (0 returns the start).
    weight_decay : float, default=0.0
        >= 0, on the weight matrices (not the biases).
    init : {"random-features", "random"}, default="random-features"
    n : int, optional
        ``n`` of :func:`certify.quadrature` (nodes per axis for Gauss rules).
    weight_scale, ridge : float, optional
        Passed to :func:`fit_random_features` (``weight_scale`` also for ``"random"``).

    Returns
    -------
    MLP
        ``dim -> n_neurons -> n_features``, tanh. Use :func:`fit_direct_record` for the
        loss history.

    Raises
    ------
    InvalidInputError
        A non-symmetric relation, a non-box domain, bad sizes or options.

    Examples
    --------
    >>> phi = fit_direct("gaussian:lengthscale=0.5", "box:-1,1", n_neurons=6,
    ...                  n_features=4, max_iter=20, rng=0)
    >>> phi.layer_sizes
    (1, 6, 4)
    """
    return fit_direct_record(
        kernel,
        domain,
        n_neurons=n_neurons,
        n_features=n_features,
        measure=measure,
        rng=rng,
        max_iter=max_iter,
        weight_decay=weight_decay,
        init=init,
        n=n,
        weight_scale=weight_scale,
        ridge=ridge,
    ).network


# ------------------------------------------------------------- interpolation (1-D boxes)

_FACTORIZATIONS = ("auto", "eigh", "hierarchical")
#: The knot search starts with this many intervals and doubles.
_INTERP_START = 8
#: The knot search accepts a grid once its sampled sup error is <= eps times this.
_INTERP_ERROR_FRACTION = 0.5
#: The automatic rank keeps the truncation's diagonal tail <= eps times this.
_INTERP_TAIL_FRACTION = 1.0 / 16.0
#: Uniform check points of the sampled error (the cell midpoints are added to them).
_INTERP_N_CHECK = 801


@dataclass(frozen=True, eq=False)
class InterpolationResult:
    """The exact ReLU interpolation witness of :func:`build_interpolation`, with its record.

    Attributes
    ----------
    network : MLP
        ``phi : R -> R^rank``, ReLU, ``1 -> n_knots - 1 -> rank``. On the domain,
        ``<phi(x), phi(y)> = hat(x)^T S^T S hat(y)`` exactly (up to float rounding) with
        ``hat`` the hat functions of ``knots``; ``S^T S = K`` unless features were dropped.
    knots : ndarray of shape (n_knots,)
        ``t_0 = a < t_1 < ... < t_M = b``, uniform.
    factorization : {"eigh", "hierarchical"}
        How ``S`` was obtained from ``K = r(knots, knots)`` (see :func:`build_interpolation`).
    rank : int
        Features kept (``network.output_dim``).
    truncation_tail : float
        A float estimate of ``max_j |(K - S^T S)_jj|`` (absolute eigenvalues of the dropped
        part for "eigh", the Schur complement left by skipped pivots for "hierarchical").
        When ``K - S^T S`` is PSD it bounds what dropping features adds to the sup error,
        as ``hat`` takes convex weights.
    sampled_sup_error : float
        ESTIMATE (a sampled maximum, a lower bound of the sup) of
        ``sup |r(x, y) - <phi(x), phi(y)>|`` over the product of the check points.
    n_check_points : int
        The check points: a uniform grid of 801 points plus every cell midpoint (where the
        error of kernels with a kink at x = y, such as min(x, y), peaks).
    tried : tuple of dict
        Every grid tried, in order: ``n_knots``, ``rank``, ``factorization`` and
        ``sampled_sup_error`` (estimates).
    kernel_spec, domain_spec : str
        The instance.
    """

    network: MLP
    knots: FloatArray
    factorization: str
    rank: int
    truncation_tail: float
    sampled_sup_error: float
    n_check_points: int
    tried: tuple[dict[str, Any], ...]
    kernel_spec: str
    domain_spec: str

    @property
    def n_knots(self) -> int:
        """Knots, ends included (``M + 1`` for ``M`` cells)."""
        return int(self.knots.size)

    @property
    def spacing(self) -> float:
        """Knot spacing ``w = (b - a) / M``."""
        return float((self.knots[-1] - self.knots[0]) / (self.knots.size - 1))

    @property
    def n_neurons(self) -> int:
        """Hidden ReLU units (``M``: one per interior knot and one linear unit)."""
        return self.network.n_neurons


def _interpolation_knots(dom: Box, n_intervals: int) -> FloatArray:
    a, b = float(dom.lower[0]), float(dom.upper[0])
    t = a + (b - a) * (np.arange(n_intervals + 1, dtype=np.float64) / n_intervals)
    t[0], t[-1] = a, b
    if not np.all(np.diff(t) > 0):
        raise InvalidInputError(
            f"`n_knots` = {n_intervals + 1} is too many for {dom.spec!r}: the knots are not "
            "distinct floats."
        )
    return t


def _eigh_factor(K: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Eigenpairs of K, largest first, and ``tails[d] = max_j sum_{i >= d} |lam_i| U_ji^2``."""
    lam, U = np.linalg.eigh(K)
    lam, U = lam[::-1], U[:, ::-1]
    contrib = np.abs(lam)[None, :] * U**2
    tails = np.append(np.max(np.cumsum(contrib[:, ::-1], axis=1)[:, ::-1], axis=0), 0.0)
    return lam, U, tails


def _auto_rank(lam: FloatArray, tails: FloatArray, eps: float | None) -> int:
    """Positive eigenvalues above round-off; with eps, the fewest with tail <= eps / 16."""
    n = lam.size
    positive = max(int(np.sum(lam > n * _EPS * max(float(lam[0]), 0.0))), 1)
    if eps is None:
        return positive
    ok = np.flatnonzero(tails[1 : positive + 1] <= eps * _INTERP_TAIL_FRACTION)
    return int(ok[0]) + 1 if ok.size else positive


def _hierarchical_order(n_intervals: int) -> list[int]:
    """Knot indices coarse to fine: both ends, then midpoints of index ranges, level by level."""
    order = [0, n_intervals]
    level = [(0, n_intervals)]
    while level:
        finer = []
        for lo, hi in level:
            if hi - lo >= 2:
                mid = (lo + hi) // 2
                order.append(mid)
                finer += [(lo, mid), (mid, hi)]
        level = finer
    return order


def _hierarchical_factor(K: FloatArray) -> tuple[FloatArray, float]:
    """``S`` with ``S^T S ~ K``: Cholesky of K in coarse-to-fine knot order.

    Pivots at or below round-off (``n eps max K_jj``) are skipped: that knot gets no
    feature and its row of the Schur complement is dropped. The second value is the
    largest skipped pivot, ``max_j |(K - S^T S)_jj|`` up to round-off. For the Brownian
    kernel this is Levy's construction: the features are x and the Schauder tents, each
    tent with compact support.
    """
    n = K.shape[0]
    order = np.array(_hierarchical_order(n - 1))
    A = K[np.ix_(order, order)]
    tol = n * _EPS * max(float(np.max(np.diag(K))), 0.0)
    keep = np.diag(A) > tol
    try:  # fast path: skip the knots with a zero diagonal (t = 0 for min(x, y)) up front
        L = np.linalg.cholesky(A[np.ix_(keep, keep)])
        S = np.zeros((int(keep.sum()), n))
        S[:, order[keep]] = L.T
        skipped = np.diag(A)[~keep]
    except np.linalg.LinAlgError:  # a pivot vanished on the way: skip it there
        A = A.copy()
        rows, dropped = [], []
        for p in range(n):
            d = A[p, p]
            if not d > tol:
                dropped.append(d)
                A[p, :] = 0.0
                A[:, p] = 0.0
                continue
            col = A[p:, p] / np.sqrt(d)
            A[p:, p:] -= np.outer(col, col)
            row = np.zeros(n)
            row[order[p:]] = col
            rows.append(row)
        S = np.array(rows) if rows else np.zeros((1, n))
        skipped = np.array(dropped)
    return S, float(np.max(np.abs(skipped))) if skipped.size else 0.0


def _relu_interpolant(S: FloatArray, knots: FloatArray) -> MLP:
    """The MLP with ``phi(x) = S hat(x)`` on [knots[0], knots[-1]] (see build_interpolation)."""
    a, b = float(knots[0]), float(knots[-1])
    slopes = np.diff(S, axis=1) / np.diff(knots)  # (d, M): slope of phi on cell j
    changes = np.diff(slopes, axis=1)  # (d, M - 1): slope change at t_1, ..., t_{M-1}
    inner = knots[1:-1]
    sign = np.where(inner <= 0.5 * (a + b), 1.0, -1.0)
    # phi(x) = S_0 + slope_0 (x - a) + sum_j change_j relu(x - t_j) on [a, b]. Past the
    # midpoint, relu(x - t) = relu(t - x) + (x - a) - (t - a): each unit is inactive on at
    # most half of the domain. And x - a = L(x) - (b0 + a) with the always-active unit
    # L(x) = relu(x + b0), b0 = (b - a) - a (kink at a - (b - a), outside the domain).
    neg = np.flatnonzero(sign < 0)
    beta = slopes[:, 0].copy()
    if neg.size:
        beta += slopes[:, -1] - slopes[:, neg[0]]  # sum of the turned-around changes
    alpha = S[:, 0] - changes[:, neg] @ (inner[neg] - a)
    b0 = (b - a) - a
    W0 = np.concatenate([[1.0], sign])[:, None]
    bias0 = np.concatenate([[b0], -sign * inner])
    A = np.hstack([beta[:, None], changes])
    return MLP([W0, A], [bias0, alpha - beta * (b0 + a)], activation="relu")


def _interpolation_candidate(
    rel: Relation,
    dom: Box,
    n_intervals: int,
    *,
    eps: float | None,
    rank: int | None,
    factorization: str,
) -> tuple[MLP, FloatArray, str, int, float, float, int]:
    """One grid: (network, knots, factorization, rank, tail, sampled error, check points)."""
    knots = _interpolation_knots(dom, n_intervals)
    K = gram(rel, knots[:, None])
    K = 0.5 * (K + K.T)
    n = K.shape[0]
    lam, U, tails = _eigh_factor(K)
    if lam[-1] < -1e3 * n * _EPS * max(float(lam[0]), _EPS):
        raise NotPSDError(
            f"`kernel` {rel.spec!r} is not positive semidefinite on {dom.spec!r}: its Gram "
            f"matrix at the {n} knots has eigenvalue {lam[-1]:.3e} (a float estimate), so no "
            "<phi, phi> model interpolates it. certify.spectral.require_psd certifies such "
            "counterexamples (lemma L7).",
            points=knots[:, None],
            eigenvalue=float(lam[-1]),
        )
    d = min(rank, n) if rank is not None else _auto_rank(lam, tails, eps)
    used = factorization
    if used == "auto":
        used = "eigh" if rank is not None or 2 * d <= n else "hierarchical"
    if used == "eigh":
        S = np.sqrt(np.clip(lam[:d], 0.0, None))[:, None] * U[:, :d].T
        dropped = np.abs(lam - np.concatenate([np.clip(lam[:d], 0.0, None), np.zeros(n - d)]))
        tail = float(np.max((U**2) @ dropped))
    else:
        S, tail = _hierarchical_factor(K)
    net = _relu_interpolant(S, knots)
    a, b = float(dom.lower[0]), float(dom.upper[0])
    X = np.unique(
        np.concatenate([np.linspace(a, b, _INTERP_N_CHECK), 0.5 * (knots[:-1] + knots[1:])])
    )[:, None]
    P = net(X)
    err = residual_max(rel, X, X, P, P).value
    return net, knots, used, int(S.shape[0]), tail, err, int(X.shape[0])


def build_interpolation(
    kernel: Relation | str,
    domain: Domain | str,
    *,
    eps: float | None = None,
    n_knots: int | None = None,
    rank: int | None = None,
    factorization: str = "auto",
    max_knots: int = 4097,
) -> InterpolationResult:
    """An exact ReLU witness for T-S on an interval: the bilinear interpolant of the kernel.

    On ``[a, b]`` with uniform knots ``t_0 = a < ... < t_M = b`` (spacing ``w``) and hat
    functions ``hat_j``, the bilinear interpolant of ``r`` is
    ``r_h(x, y) = sum_jk hat_j(x) K_jk hat_k(y)`` with ``K = r(t, t)`` (PSD). For
    ``phi(x) = S hat(x)`` with ``S^T S = K``, ``<phi(x), phi(y)> = r_h(x, y)``. Each hat is a
    combination of ``relu(+-(x - t_j))`` and an affine part, so ``phi`` is EXACTLY a
    one-hidden-layer ReLU MLP with ``M`` hidden units: one per interior knot (oriented
    so that it is inactive on at most half the domain, which keeps the enclosure engine's
    Jacobians cheap) and one always-active unit ``relu(x - a + (b - a))`` carrying the
    affine part. Nothing here has to be trusted: the certificate is computed on the
    network (:func:`certify.certify_symmetric`, ``method="interpolation"``).

    The error ``r - r_h`` is that of bilinear interpolation: ``O(w^2 |D^2 r|)`` for smooth
    kernels; for min(x, y) (Brownian motion) it is ``s (1 - s) w`` on the diagonal (``s``
    the position in the cell), so exactly ``w / 4`` at diagonal cell centres.

    ``S`` comes from ``K`` by one of two factorizations:

    - ``"eigh"``: ``S = diag(sqrt(lambda)) U^T`` of the ``rank`` largest eigenpairs.
      Dropping eigenpairs changes the interpolant by at most
      ``max_j sum_{i > rank} |lambda_i| U_ji^2`` (``truncation_tail``), since ``hat(x)``
      holds convex weights. Few features for smooth kernels.
    - ``"hierarchical"``: Cholesky of ``K`` with the knots ordered coarse to fine (ends,
      midpoint, quarter points, ...), pivots at round-off skipped. No truncation. For
      Markov kernels such as min(x, y) the features have compact support (Levy's
      construction: Schauder tents), which keeps interval enclosures of the residual
      tight away from the diagonal.
    - ``"auto"``: ``"eigh"`` when ``rank`` is given or the automatic rank keeps at most
      half of the knots as features, otherwise ``"hierarchical"``.

    Parameters
    ----------
    kernel : Relation or str
        A symmetric PSD relation on 1-D points (``"brownian"``, ``"matern32"``, ...).
    domain : Box or str
        An interval, a 1-D box such as ``"box:-1,1"``.
    eps : float, optional
        Target sup error, > 0. Without ``n_knots``, the number of cells ``M`` is chosen by
        a deterministic rule: ``M = 8, 16, 32, ...`` until the sampled sup error is
        ``<= eps / 2``, then a bisection between the last two ``M`` (to a resolution of
        ``M / 16``) for the smallest that passes. With ``rank=None`` it also sets the
        automatic rank: the fewest eigenpairs with ``truncation_tail <= eps / 16``.
    n_knots : int, optional
        Fixed number of knots ``M + 1 >= 2`` (no search). One of ``eps`` and ``n_knots``
        is required.
    rank : int, optional
        Features kept by ``"eigh"`` (capped at ``n_knots``); default automatic (see
        ``eps``; without eps, every eigenvalue above round-off ``n_knots eps(float64)
        lambda_max``).
    factorization : {"auto", "eigh", "hierarchical"}, default="auto"
    max_knots : int, default=4097
        The search stops before exceeding it and returns its last grid (whose sampled
        error then exceeds eps / 2).

    Returns
    -------
    InterpolationResult
        ``network`` (``1 -> M -> rank``, ReLU), ``knots``, ``factorization``, ``rank``,
        ``truncation_tail``, ``sampled_sup_error`` (an ESTIMATE), ``tried``.

    Raises
    ------
    InvalidInputError
        A non-symmetric relation, a domain that is not a 1-D box, neither ``eps`` nor
        ``n_knots``, bad values, ``rank`` with ``factorization="hierarchical"``.
    NotPSDError
        The Gram matrix at the knots has a clearly negative eigenvalue (a float estimate).

    Examples
    --------
    >>> res = build_interpolation("brownian", "box:0,1", n_knots=5)
    >>> res.network.layer_sizes, res.factorization  # no feature for t_0 = 0: min(0, y) = 0
    ((1, 4, 4), 'hierarchical')
    >>> x = np.array([0.125])  # the centre of the first diagonal cell: error w / 4
    >>> phi_x = res.network(x)[0]
    >>> bool(abs(0.125 - phi_x @ phi_x - 0.25 / 4) < 1e-14)
    True
    >>> res = build_interpolation("matern32", "box:-1,1", eps=1e-3)  # smooth: few features
    >>> res.n_knots, res.rank, res.factorization, res.sampled_sup_error <= 1e-3 / 2
    (81, 25, 'eigh', True)
    >>> [t["n_knots"] for t in res.tried]  # doubling, then bisection to M / 16
    [9, 17, 33, 65, 129, 97, 81, 73, 77]
    """
    rel, dom = _symmetric_box(kernel, domain)
    if dom.dim != 1:
        raise InvalidInputError(
            f"`domain` must be a 1-D box (an interval such as 'box:-1,1'): the hat functions "
            f"and ReLU knots live on a line; got {dom.spec!r} of dimension {dom.dim}."
        )
    if rel.x_dim not in (None, 1):
        raise InvalidInputError(
            f"`kernel` must take 1-D points on an interval; {rel.spec!r} takes points of "
            f"dimension {rel.x_dim}."
        )
    eps_ = None if eps is None else check_positive(eps, "eps", what="target sup error")
    if eps_ is None and n_knots is None:
        raise InvalidInputError(
            "Give `eps` (the knot count is then chosen by the sampled-error rule) or "
            "`n_knots`; got neither."
        )
    if not isinstance(factorization, str) or factorization not in _FACTORIZATIONS:
        raise InvalidInputError(
            f"`factorization` must be one of {list(_FACTORIZATIONS)}; got "
            f"{describe(factorization)}."
        )
    if rank is not None:
        rank = check_int(rank, "rank", minimum=1, what="features kept")
        if factorization == "hierarchical":
            raise InvalidInputError(
                "`rank` truncates an eigendecomposition; factorization='hierarchical' keeps "
                "every knot. Use factorization='eigh' (or 'auto') with `rank`."
            )
    max_knots = check_int(max_knots, "max_knots", minimum=2)
    opts: dict[str, Any] = {"eps": eps_, "rank": rank, "factorization": factorization}
    tried: list[dict[str, Any]] = []

    def attempt(n_intervals: int) -> tuple[MLP, FloatArray, str, int, float, float, int]:
        cand = _interpolation_candidate(rel, dom, n_intervals, **opts)
        tried.append(
            {
                "n_knots": n_intervals + 1,
                "rank": cand[3],
                "factorization": cand[2],
                "sampled_sup_error": cand[5],
            }
        )
        return cand

    if n_knots is not None:
        n_knots = check_int(n_knots, "n_knots", minimum=2, what="knots, both ends included")
        if n_knots > max_knots:
            raise InvalidInputError(f"`n_knots` must be <= max_knots = {max_knots}; got {n_knots}.")
        best = attempt(n_knots - 1)
    else:
        assert eps_ is not None  # checked above
        target = eps_ * _INTERP_ERROR_FRACTION
        m = max(1, min(_INTERP_START, max_knots - 1))
        best = attempt(m)
        while best[5] > target and 2 * m + 1 <= max_knots:
            m *= 2
            best = attempt(m)
        if best[5] <= target and m > _INTERP_START:
            lo, hi = m // 2, m  # lo failed, hi passed: bisect for a smaller passing M
            while hi - lo > max(1, hi // 16):
                mid = (lo + hi) // 2
                cand = attempt(mid)
                if cand[5] <= target:
                    hi, best = mid, cand
                else:
                    lo = mid
    net, knots, used, d, tail, err, n_check = best
    return InterpolationResult(
        network=net,
        knots=_readonly(knots),
        factorization=used,
        rank=d,
        truncation_tail=tail,
        sampled_sup_error=err,
        n_check_points=n_check,
        tried=tuple(tried),
        kernel_spec=rel.spec,
        domain_spec=dom.spec,
    )
