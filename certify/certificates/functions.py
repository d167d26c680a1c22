"""The interval-evaluable functions the enclosure engine bounds.

* :class:`ResidualFunction` -- e(x, y) = r(x, y) - <phi(x), psi(y)> on X x Y
  (the direct route for theorems T-S and T-A);
* :class:`DiagonalResidualFunction` -- r(x, x) - |phi(x)|^2 on X (lemma L1:
  when r - <phi, phi> is PSD, its sup over X x Y equals this sup);
* :class:`FeatureGapFunction` -- |a(x) - b(x)|_2 on X, and with ``b=None``
  the feature norm |a(x)|_2 (lemma L2's Delta and sup |F|).

Feature maps are :class:`certify.networks.MLP` witnesses (anything with
``forward``, ``enclose`` and ``enclose_jacobian`` works).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from certify._kernels.interval_residual import (
    diagonal_residual_mean_value,
    feature_gap_mean_value,
    residual_mean_value,
)
from certify._kernels.residual import residual_max_blocked, residual_max_numba
from certify.certificates.enclosure import BoxFunction
from certify.errors import InvalidInputError
from certify.relations.base import Relation
from certify.relations.domains import Box
from certify.relations.kernels import Gaussian, Laplace, Matern32, Matern52, Periodic

__all__ = [
    "DiagonalFunction",
    "DiagonalResidualFunction",
    "FeatureGapFunction",
    "FeatureMap",
    "ResidualFunction",
]

F64 = npt.NDArray[np.float64]


class FeatureMap(Protocol):
    """What the engine needs of a feature map (certify.networks.MLP provides it)."""

    @property
    def input_dim(self) -> int: ...

    @property
    def output_dim(self) -> int: ...

    def forward(self, X: npt.ArrayLike) -> F64: ...

    def enclose(self, lo: F64, hi: F64, *, method: str = "best") -> tuple[F64, F64]: ...

    def enclose_jacobian(self, lo: F64, hi: F64) -> tuple[F64, F64]: ...


def _centre(lo: F64, hi: F64) -> F64:
    # lo + (hi - lo) / 2 lies in [lo, hi] in floating point (no overflow for finite boxes).
    return np.ascontiguousarray(lo + 0.5 * (hi - lo))


def _c(a: F64) -> F64:
    return np.ascontiguousarray(a, dtype=np.float64)


def _map_enclosures(
    fmap: FeatureMap, lo: F64, hi: F64
) -> tuple[tuple[F64, F64], tuple[F64, F64], tuple[F64, F64]]:
    """A map's enclosures over boxes, at their centres, and of its Jacobian over the boxes.

    Each distinct box is evaluated once: the leaves of a bisection tree over X x Y share
    their x- or y-intervals (siblings share one of the two; with phi = psi a leaf on the
    diagonal has the same interval on both sides), so a batch holds several times fewer
    distinct intervals than boxes (~10x on the Brownian instance of proofs/, where the
    network enclosures were 95% of the run). The results are those of the full batch,
    row for row: each row of a batch is evaluated independently.
    """
    d = lo.shape[1]
    uniq, inverse = np.unique(np.hstack([lo, hi]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    ulo, uhi = _c(uniq[:, :d]), _c(uniq[:, d:])
    uc = _centre(ulo, uhi)
    boxes = fmap.enclose(ulo, uhi)
    # at a point the mean-value part of "best" adds nothing (its step is 0): same numbers
    centres = fmap.enclose(uc, uc, method="naive")
    jac = fmap.enclose_jacobian(ulo, uhi)
    return (
        (boxes[0][inverse], boxes[1][inverse]),
        (centres[0][inverse], centres[1][inverse]),
        (jac[0][inverse], jac[1][inverse]),
    )


def _check_map(name: str, fmap: Any, dim: int, where: str) -> None:
    for attr in ("input_dim", "output_dim", "forward", "enclose", "enclose_jacobian"):
        if not hasattr(fmap, attr):
            raise InvalidInputError(
                f"`{name}` must be a feature map such as certify.networks.MLP (it lacks "
                f"`{attr}`); got {type(fmap).__name__}."
            )
    if fmap.input_dim != dim:
        raise InvalidInputError(
            f"`{name}` takes inputs of dimension {fmap.input_dim}, but {where} has dimension "
            f"{dim}; the network does not fit the relation."
        )


def _diagonal_enclosure(relation: Relation, lo: F64, hi: F64) -> tuple[F64, F64, F64, F64]:
    """Enclosures of x -> r(x, x) and of its gradient over k boxes.

    Stationary and periodic kernels are constant on the diagonal (r(x, x) = r(0, 0), gradient
    0), which is much tighter than enclosing r over the box pair. Otherwise r is enclosed over
    the pair (box, box), a superset of the diagonal, and d/dx r(x, x) = grad_x r + grad_y r.
    """
    k, d = lo.shape
    if isinstance(relation, (Gaussian, Laplace, Matern32, Matern52, Periodic)):
        origin = np.zeros((1, d))
        v = relation.enclose(origin, origin, origin, origin)
        return (
            np.full(k, v.value_lo[0]), np.full(k, v.value_hi[0]),
            np.zeros((k, d)), np.zeros((k, d)),
        )  # fmt: skip
    R = relation.enclose(lo, hi, lo, hi)
    # the sum of two correctly rounded ends moves by at most half an ulp: one ulp outward
    g_lo = np.nextafter(R.grad_x_lo + R.grad_y_lo, -np.inf)
    g_hi = np.nextafter(R.grad_x_hi + R.grad_y_hi, np.inf)
    return _c(R.value_lo), _c(R.value_hi), _c(g_lo), _c(g_hi)


class ResidualFunction(BoxFunction):
    """e(x, y) = r(x, y) - <phi(x), psi(y)> on the box X x Y (coordinates x first).

    Parameters
    ----------
    relation : Relation
        Must support ``Relation.enclose`` (kernels, bilinear, expressions).
    phi, psi : FeatureMap
        ``psi=None`` means psi = phi (the symmetric model of theorem T-S).
    x_box, y_box : Box
    names : tuple of str, default=("phi", "psi")
        How the certificate names the two maps.
    """

    def __init__(
        self,
        relation: Relation,
        phi: FeatureMap,
        psi: FeatureMap | None,
        x_box: Box,
        y_box: Box,
        *,
        names: tuple[str, str] = ("phi", "psi"),
    ) -> None:
        psi_ = phi if psi is None else psi
        for box, dim, which in ((x_box, relation.x_dim, "x"), (y_box, relation.y_dim, "y")):
            if dim is not None and box.dim != dim:
                raise InvalidInputError(
                    f"the {which}-domain has dimension {box.dim} but {relation.spec!r} takes "
                    f"{which}-points of dimension {dim}."
                )
        if relation.x_dim is None and x_box.dim != y_box.dim:
            raise InvalidInputError(
                f"the x- and y-domains of {relation.spec!r} must have the same dimension; got "
                f"{x_box.dim} and {y_box.dim}."
            )
        _check_map(names[0], phi, x_box.dim, "the x-domain")
        _check_map(names[1] if psi is not None else names[0], psi_, y_box.dim, "the y-domain")
        if phi.output_dim != psi_.output_dim:
            raise InvalidInputError(
                f"`{names[0]}` and `{names[1]}` must have the same output (feature) dimension "
                f"for <phi, psi>; got {phi.output_dim} and {psi_.output_dim}."
            )
        self.relation = relation
        self.phi = phi
        self.psi = psi_
        self.same_maps = psi is None or psi is phi
        self.names = (names[0], names[0] if psi is None else names[1])
        self.x_box = x_box
        self.y_box = y_box
        self.dx = x_box.dim
        self.domain = Box(
            np.concatenate([x_box.lower, y_box.lower]), np.concatenate([x_box.upper, y_box.upper])
        )

    def describe(self) -> dict[str, Any]:
        return {"function": "residual", "args": {"left": self.names[0], "right": self.names[1]}}

    def values(self, Z: F64) -> F64:
        X, Y = _c(Z[:, : self.dx]), _c(Z[:, self.dx :])
        P, Q = self.phi.forward(X), self.psi.forward(Y)
        return self.relation._paired(X, Y) - np.einsum("ij,ij->i", P, Q)

    def sample_lower(self, n_points: int, rng: np.random.Generator) -> tuple[float, F64]:
        # A product sample X_s x Y_s through the fused residual kernel (no n x m matrix).
        side = int(max(64, min(2048, round(np.sqrt(max(n_points, 1)) * 16))))
        Xs = self.x_box.lower + rng.random((side, self.dx)) * self.x_box.widths
        Ys = self.y_box.lower + rng.random((side, self.y_box.dim)) * self.y_box.widths
        Xs = _c(np.clip(Xs, self.x_box.lower, self.x_box.upper))
        Ys = _c(np.clip(Ys, self.y_box.lower, self.y_box.upper))
        P, Q = _c(self.phi.forward(Xs)), _c(self.psi.forward(Ys))
        code = self.relation.numba_code
        if code is not None:
            value, i, j = residual_max_numba(code[0], code[1], Xs, Ys, P, Q)
        else:
            value, i, j = residual_max_blocked(self.relation._pairwise, Xs, Ys, P, Q)
        return float(value), np.concatenate([Xs[i], Ys[j]])

    def enclose(self, lo: F64, hi: F64) -> tuple[F64, F64]:
        lo, hi = _c(lo), _c(hi)
        c = _centre(lo, hi)
        dx = self.dx
        xlo, xhi, ylo, yhi = _c(lo[:, :dx]), _c(hi[:, :dx]), _c(lo[:, dx:]), _c(hi[:, dx:])
        xc, yc = _c(c[:, :dx]), _c(c[:, dx:])
        R = self.relation.enclose(xlo, xhi, ylo, yhi)
        Rc = self.relation.enclose(xc, xc, yc, yc)
        if self.same_maps:
            both = _map_enclosures(self.phi, np.vstack([xlo, ylo]), np.vstack([xhi, yhi]))
            k = lo.shape[0]
            pb, pc, jp = (tuple(_c(v[:k]) for v in e) for e in both)
            qb, qc, jq = (tuple(_c(v[k:]) for v in e) for e in both)
        else:
            pb, pc, jp = _map_enclosures(self.phi, xlo, xhi)
            qb, qc, jq = _map_enclosures(self.psi, ylo, yhi)
        out: tuple[F64, F64] = residual_mean_value(
            lo, hi, c,
            _c(R.value_lo), _c(R.value_hi), _c(R.grad_x_lo), _c(R.grad_x_hi),
            _c(R.grad_y_lo), _c(R.grad_y_hi), _c(Rc.value_lo), _c(Rc.value_hi),
            _c(pb[0]), _c(pb[1]), _c(qb[0]), _c(qb[1]), _c(pc[0]), _c(pc[1]),
            _c(qc[0]), _c(qc[1]), _c(jp[0]), _c(jp[1]), _c(jq[0]), _c(jq[1]),
        )  # fmt: skip
        return out


class DiagonalResidualFunction(BoxFunction):
    """f(x) = r(x, x) - |phi(x)|^2 on X (lemma L1's diagonal)."""

    def __init__(self, relation: Relation, phi: FeatureMap, x_box: Box, *, name: str = "phi"):
        if not relation.symmetric:
            raise InvalidInputError(
                f"the diagonal route (L1) needs a symmetric relation; {relation.spec!r} is not."
            )
        if relation.x_dim is not None and relation.x_dim != x_box.dim:
            raise InvalidInputError(
                f"the domain has dimension {x_box.dim} but {relation.spec!r} takes points of "
                f"dimension {relation.x_dim}."
            )
        _check_map(name, phi, x_box.dim, "the domain")
        self.relation = relation
        self.phi = phi
        self.name = name
        self.domain = x_box
        self._taylor = bool(getattr(phi, "has_taylor_diagonal", False)) and (
            getattr(phi, "relation", None) == relation
        )

    def describe(self) -> dict[str, Any]:
        return {"function": "diagonal_residual", "args": {"features": self.name}}

    def values(self, Z: F64) -> F64:
        Z = _c(Z)
        P = self.phi.forward(Z)
        return self.relation._paired(Z, Z) - np.einsum("ij,ij->i", P, P)

    def enclose(self, lo: F64, hi: F64) -> tuple[F64, F64]:
        lo, hi = _c(lo), _c(hi)
        if self._taylor:
            # Nystrom features of this very Gaussian kernel: the Taylor model keeps the
            # cancellation that the mean-value form below loses (certify._kernels.taylor)
            taylor: tuple[F64, F64] = self.phi.diagonal_residual_taylor(lo, hi)  # type: ignore[attr-defined]
            return taylor
        c = _centre(lo, hi)
        rd_lo, rd_hi, g_lo, g_hi = _diagonal_enclosure(self.relation, lo, hi)
        rc_lo, rc_hi, _, _ = _diagonal_enclosure(self.relation, c, c)
        ab = self.phi.enclose(lo, hi)
        ac = self.phi.enclose(c, c)
        ja = self.phi.enclose_jacobian(lo, hi)
        out: tuple[F64, F64] = diagonal_residual_mean_value(
            lo, hi, c, rd_lo, rd_hi, g_lo, g_hi, _c(rc_lo), _c(rc_hi),
            _c(ab[0]), _c(ab[1]), _c(ac[0]), _c(ac[1]), _c(ja[0]), _c(ja[1]),
        )  # fmt: skip
        return out


class FeatureGapFunction(BoxFunction):
    """f(x) = |a(x) - b(x)|_2 on a box; ``b=None`` gives the feature norm |a(x)|_2."""

    def __init__(
        self,
        a: FeatureMap,
        b: FeatureMap | None,
        box: Box,
        *,
        names: tuple[str, str | None] = ("a", "b"),
    ) -> None:
        _check_map(names[0], a, box.dim, "the domain")
        if b is not None:
            _check_map(str(names[1]), b, box.dim, "the domain")
            if a.output_dim != b.output_dim:
                raise InvalidInputError(
                    f"`{names[0]}` and `{names[1]}` must have the same output dimension; got "
                    f"{a.output_dim} and {b.output_dim}."
                )
        self.a = a
        self.b = b
        self.names = names
        self.domain = box
        # Gaussian Nystrom features against a one-hidden-layer tanh network (lemma L2's
        # Delta for the construction): Taylor models of both keep the cancellation
        self._taylor: tuple[Any, Any] | None = None
        for u, v in ((a, b), (b, a)):
            if v is not None and getattr(u, "supports_taylor_gap", lambda _: False)(v):
                self._taylor = (u, v)
                break

    def describe(self) -> dict[str, Any]:
        if self.b is None:
            return {"function": "feature_norm", "args": {"features": self.names[0]}}
        return {"function": "feature_gap", "args": {"a": self.names[0], "b": self.names[1]}}

    def values(self, Z: F64) -> F64:
        A = self.a.forward(_c(Z))
        B = 0.0 if self.b is None else self.b.forward(_c(Z))
        return np.asarray(np.linalg.norm(A - B, axis=1), dtype=np.float64)

    def enclose(self, lo: F64, hi: F64) -> tuple[F64, F64]:
        lo, hi = _c(lo), _c(hi)
        if self._taylor is not None:
            features, network = self._taylor
            taylor: tuple[F64, F64] = features.gap_taylor(network, lo, hi)
            return taylor
        c = _centre(lo, hi)
        ab = self.a.enclose(lo, hi)
        ac = self.a.enclose(c, c)
        ja = self.a.enclose_jacobian(lo, hi)
        if self.b is None:
            z2 = np.zeros_like(ab[0])
            z3 = np.zeros_like(ja[0])
            bb, bc, jb = (z2, z2), (z2, z2), (z3, z3)
        else:
            bb = self.b.enclose(lo, hi)
            bc = self.b.enclose(c, c)
            jb = self.b.enclose_jacobian(lo, hi)
        out: tuple[F64, F64] = feature_gap_mean_value(
            lo, hi, c,
            _c(ab[0]), _c(ab[1]), _c(ac[0]), _c(ac[1]), _c(ja[0]), _c(ja[1]),
            _c(bb[0]), _c(bb[1]), _c(bc[0]), _c(bc[1]), _c(jb[0]), _c(jb[1]),
        )  # fmt: skip
        return out


class DiagonalFunction(BoxFunction):
    """f(x) = r(x, x) on X (its sup is lemma L2's kappa)."""

    def __init__(self, relation: Relation, x_box: Box) -> None:
        if not relation.symmetric:
            raise InvalidInputError(f"{relation.spec!r} is not symmetric.")
        self.relation = relation
        self.domain = x_box

    def describe(self) -> dict[str, Any]:
        return {"function": "diagonal", "args": {}}

    def values(self, Z: F64) -> F64:
        Z = _c(Z)
        return self.relation._paired(Z, Z)

    def enclose(self, lo: F64, hi: F64) -> tuple[F64, F64]:
        lo, hi = _c(lo), _c(hi)
        c = _centre(lo, hi)
        rd_lo, rd_hi, g_lo, g_hi = _diagonal_enclosure(self.relation, lo, hi)
        rc_lo, rc_hi, _, _ = _diagonal_enclosure(self.relation, c, c)
        k = lo.shape[0]
        empty2 = np.zeros((k, 0))
        empty3 = np.zeros((k, 0, lo.shape[1]))
        out: tuple[F64, F64] = diagonal_residual_mean_value(
            lo, hi, c, rd_lo, rd_hi, g_lo, g_hi, _c(rc_lo), _c(rc_hi),
            empty2, empty2, empty2, empty2, empty3, empty3,
        )  # fmt: skip
        return out
