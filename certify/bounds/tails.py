"""Spectral tails from eigenvalue sequences, and the neuron count N(eps) of L4 (THEORY.md).

A finite list of eigenvalues ``lambda_1, ..., lambda_K`` determines the tails
``sum_{i>d} lambda_i`` (trace) and ``tau(d) = (sum_{i>d} lambda_i^2)^(1/2)`` (L2)
only up to the unseen remainder ``i > K``:

* the sum over the values given is a LOWER bound on the true tail: safe for a
  lower bound such as L6, never for an upper bound;
* an UPPER bound needs a bound on the remainder (``remainder``: an upper bound on
  ``sum_{i>K} lambda_i`` or ``sum_{i>K} lambda_i^2``), e.g. from a closed form or
  from the trace; without one the upper end is unknown (None), not guessed.
"""

from __future__ import annotations

import math  # noqa: F401 - used by the doctests
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from flint import arb, ctx

from certify._rigorous import WORKING_PRECISION
from certify._validation import check_finite_array, check_int, check_real
from certify.bounds._arb_eval import down_float, up_float
from certify.bounds.barron import BarronConstant
from certify.bounds.lemmas import BoundValue, bound
from certify.errors import InvalidInputError

__all__ = ["NeuronCount", "Tail", "neurons_for_accuracy", "spectral_tail", "spectral_tails"]

Norm = Literal["l2", "trace"]


@dataclass(frozen=True)
class Tail:
    """Enclosure of one spectral tail.

    Attributes
    ----------
    rank : int
        d: the tail is over ``i > d``.
    norm : {"l2", "trace"}
        ``(sum_{i>d} lambda_i^2)^(1/2)`` or ``sum_{i>d} lambda_i``.
    lower : float
        From the values given, rounded down: a lower bound on the true tail.
    upper : float or None
        With the remainder bound, rounded up: an upper bound on the true tail;
        None without a remainder bound.
    n_values : int
        K, the eigenvalues given.
    """

    rank: int
    norm: Norm
    lower: float
    upper: float | None
    n_values: int


def _eigenvalues(eigenvalues: npt.ArrayLike) -> npt.NDArray[np.float64]:
    lam = check_finite_array(eigenvalues, "eigenvalues")
    if lam.ndim != 1:
        raise InvalidInputError(
            f"`eigenvalues` must be one-dimensional; got an array of shape {lam.shape}."
        )
    if lam.size and float(lam.min()) < 0:
        k = int(np.argmin(lam))
        raise InvalidInputError(
            f"`eigenvalues` must be >= 0 (a PSD kernel's Mercer eigenvalues); entry {k + 1} is "
            f"{float(lam[k])!r}. Clip round-off explicitly before calling, and record that you did."
        )
    return lam


def _remainder(remainder: Any) -> float | None:
    if remainder is None:
        return None
    r = check_real(remainder, "remainder")
    if r < 0:
        raise InvalidInputError(f"`remainder` must be >= 0 (a bound on a tail sum); got {r!r}.")
    return r


def _norm(norm: str) -> Norm:
    if norm not in ("l2", "trace"):
        raise InvalidInputError(f"`norm` must be 'l2' or 'trace'; got {norm!r}.")
    return norm  # type: ignore[return-value]


def _suffix_balls(lam: npt.NDArray[np.float64], power: int) -> list[arb]:
    """Balls S[d] = sum_{i>d} lambda_i^power over the values given, d = 0..K."""
    out = [arb(0)] * (lam.size + 1)
    acc = arb(0)
    for k in range(lam.size - 1, -1, -1):
        acc = acc + arb(float(lam[k])) ** power
        out[k] = acc
    return out


def spectral_tails(
    eigenvalues: npt.ArrayLike, *, norm: str = "l2", remainder: float | None = None
) -> list[Tail]:
    """The tails for every rank d = 0, ..., K (K eigenvalues given).

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        lambda_1, ..., lambda_K, each >= 0 (order as in the Mercer expansion).
    norm : {"l2", "trace"}, default="l2"
        tau(d) = (sum_{i>d} lambda_i^2)^(1/2) (L4, L6) or sum_{i>d} lambda_i.
    remainder : float, optional
        An upper bound on the unseen sum ``sum_{i>K} lambda_i^2`` ("l2") or
        ``sum_{i>K} lambda_i`` ("trace"). Without it the upper ends are None.

    Returns
    -------
    list of Tail
        ``tails[d]`` for d = 0..K.

    Examples
    --------
    >>> t = spectral_tails([0.5, 0.25, 0.125], norm="trace", remainder=0.125)
    >>> t[1].lower, t[1].upper
    (0.375, 0.5)
    """
    lam = _eigenvalues(eigenvalues)
    kind = _norm(norm)
    rem = _remainder(remainder)
    power = 2 if kind == "l2" else 1
    out = []
    with ctx.workprec(WORKING_PRECISION):
        sums = _suffix_balls(lam, power)
        for d, s in enumerate(sums):
            lo_b = s.sqrt() if kind == "l2" else s
            upper = None
            if rem is not None:
                total = s + arb(rem)
                upper = up_float(total.sqrt() if kind == "l2" else total)
            out.append(Tail(d, kind, max(0.0, down_float(lo_b)), upper, int(lam.size)))
    return out


def spectral_tail(
    eigenvalues: npt.ArrayLike, rank: int, *, norm: str = "l2", remainder: float | None = None
) -> Tail:
    """One tail over ``i > rank``; see :func:`spectral_tails`.

    Examples
    --------
    >>> t = spectral_tail([0.5, 0.25, 0.125], 1)  # no remainder bound: upper unknown
    >>> t.lower <= math.sqrt(0.25**2 + 0.125**2) <= math.nextafter(t.lower, 1), t.upper
    (True, None)
    """
    lam = _eigenvalues(eigenvalues)
    d = check_int(rank, "rank", minimum=0, what="retained eigenpairs")
    if d > lam.size:
        raise InvalidInputError(f"`rank` must be <= the {lam.size} eigenvalues given; got {d}.")
    return spectral_tails(lam, norm=norm, remainder=remainder)[d]


@dataclass(frozen=True)
class NeuronCount:
    """The sufficient neuron count of L4 at one accuracy.

    Attributes
    ----------
    eps : float
        Target L2(mu x mu) accuracy.
    rank : int or None
        d_eps = min{d : tau(d) <= eps/2}, with tau(d) the certified upper tail.
    width : int or None
        Units per feature network, ``ceil(max{(16 R A/eps)^2, 16 R^2 B/eps, 1})``.
    total : int or None
        ``rank * width``: N(eps).
    A, B : float or None
        Upper bounds on ``sum_{i<=d} lambda_i C_i`` and ``sum_{i<=d} lambda_i C_i^2``.
    tail : float or None
        The upper bound on tau(rank) used.
    bound : BoundValue or None
        L4-equal-width at (tail, A, B, width): the error bound achieved, <= eps.
    missing : tuple of str
        Unknown Barron constants (``"C[2]"``).
    reason : str
        Why the count is None, if it is.
    """

    eps: float
    rank: int | None
    width: int | None
    total: int | None
    A: float | None
    B: float | None
    tail: float | None
    bound: BoundValue | None
    missing: tuple[str, ...] = ()
    reason: str = ""


def neurons_for_accuracy(
    eps: float,
    eigenvalues: npt.ArrayLike,
    barron_constants: Sequence[float | BarronConstant | None],
    *,
    radius: float,
    remainder: float | None,
) -> NeuronCount:
    """N(eps) of L4: d_eps feature networks of equal width, L2 error <= eps.

    Parameters
    ----------
    eps : float
        Target accuracy, > 0.
    eigenvalues : array-like of shape (K,)
        lambda_1, ..., lambda_K (upper bounds are safe), each >= 0.
    barron_constants : sequence
        C_1, C_2, ... of the eigenfunctions (floats that bound them from above,
        :class:`BarronConstant` records, or None for unknown); at least d_eps.
    radius : float
        R, the radius of the ball carrying mu.
    remainder : float or None
        Upper bound on ``sum_{i>K} lambda_i^2``; None leaves the tails, and so the
        count, unknown.

    Returns
    -------
    NeuronCount
        ``total = rank * width`` with ``bound.value <= eps`` checked (if outward
        rounding tips the formula's width over eps, the smallest certified width
        above it is used); None fields
        with ``reason`` (and ``missing``) when the count cannot be certified.

    Examples
    --------
    >>> c = neurons_for_accuracy(0.5, [0.25, 0.01], [1.0, 1.0], radius=1.0, remainder=0.0)
    >>> c.rank, c.width, c.bound.value <= 0.5
    (1, 64, True)
    """
    e = check_real(eps, "eps")
    if not e > 0:
        raise InvalidInputError(f"`eps` must be > 0 (target accuracy); got {e!r}.")
    tails = spectral_tails(eigenvalues, norm="l2", remainder=remainder)
    lam = _eigenvalues(eigenvalues)

    def none(reason: str, **kw: Any) -> NeuronCount:
        fields: dict[str, Any] = dict(
            rank=None, width=None, total=None, A=None, B=None, tail=None, bound=None
        )
        fields.update(kw)
        return NeuronCount(e, reason=reason, **fields)

    if remainder is None:
        return none(
            "no bound on the eigenvalues beyond those given (`remainder`): the tails tau(d) "
            "have no certified upper bound, so d_eps is unknown"
        )
    rank = next((t.rank for t in tails if t.upper is not None and t.upper <= e / 2), None)
    if rank is None:
        return none(
            f"tau(d) > eps/2 = {e / 2!r} for every d <= {lam.size}: give more eigenvalues or a "
            "smaller remainder bound"
        )
    tail = tails[rank].upper
    assert tail is not None
    if len(barron_constants) < rank:
        raise InvalidInputError(
            f"`barron_constants` has {len(barron_constants)} values; d_eps = {rank} are needed."
        )
    missing = []
    cs: list[arb] = []
    for k, c in enumerate(barron_constants[:rank], start=1):
        if c is None or (isinstance(c, BarronConstant) and not c.known):
            missing.append(f"C[{k}]")
            continue
        ball = c.ball() if isinstance(c, BarronConstant) else arb(check_real(c, f"C[{k}]"))
        if not ball >= 0:
            raise InvalidInputError(f"`barron_constants[{k - 1}]` must be >= 0; got {c!r}.")
        cs.append(ball)
    if missing:
        return none(
            f"unknown Barron constants {', '.join(missing)}", rank=rank, tail=tail,
            missing=tuple(missing),
        )  # fmt: skip
    with ctx.workprec(WORKING_PRECISION):
        a = sum((arb(float(lam[i])) * cs[i] for i in range(rank)), arb(0))
        b = sum((arb(float(lam[i])) * cs[i] ** 2 for i in range(rank)), arb(0))
    A, B = up_float(a), up_float(b)
    per = bound("L4-neurons").evaluate(d=1, R=radius, A=A, B=B, eps=e)
    assert per.value is not None
    width = int(per.value)
    equal = bound("L4-equal-width")
    achieved = equal.evaluate(tau=tail, R=radius, A=A, B=B, n=width)
    assert achieved.value is not None
    if achieved.value > e:
        # Only when every inequality is tight and outward rounding tips the sum over eps:
        # take the smallest width the ball evaluation certifies instead.
        sol = equal.solve_for("n", tau=tail, R=radius, A=A, B=B, eps=e)
        assert sol.value is not None and sol.bound is not None
        width, achieved = max(width, int(sol.value)), sol.bound
        achieved = equal.evaluate(tau=tail, R=radius, A=A, B=B, n=width)
    return NeuronCount(e, rank, width, rank * width, A, B, tail, achieved)
