"""The MLP feature map phi of THEORY.md, as a frozen, validated witness.

Users bring networks they trained elsewhere: ``MLP(weights, biases, activation)`` takes
the layers in PyTorch's convention (``weights[k]`` of shape ``(out_k, in_k)``), applies
the activation on every hidden layer and none on the last, and offers what a certificate
needs: a float forward pass, point Jacobians, a certified Lipschitz bound, rigorous
enclosures of phi and of its Jacobian over boxes, exact serialisation (``.npz`` and
JSON with ``float.hex``) and a content hash.

Example: a PyTorch ``nn.Sequential(Linear(2, 16), Tanh(), Linear(16, 5))`` becomes
``MLP([l.weight.detach().numpy() for l in lins], [l.bias.detach().numpy() for l in lins])``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import numbers
import os
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import arb, arb_mat, ctx

from certify._kernels.interval_mlp import (
    METHOD_CODES,
    enclose_jacobian_numba,
    enclose_numba,
    mlp_jacobian_numpy,
    pack_layers,
)
from certify._kernels.mlp import ACTIVATION_CODES, mlp_forward_numba
from certify._rigorous import WORKING_PRECISION, ball, upper_float
from certify._validation import as_points, check_int, check_positive, describe
from certify.errors import InvalidInputError
from certify.relations.measures import RNGLike, as_generator

__all__ = ["FORMAT", "MLP"]

FloatArray = npt.NDArray[np.float64]

#: Format id written by :meth:`MLP.save` and :meth:`MLP.to_dict` (and hashed by ``sha256``).
FORMAT = "certify.mlp/1"

#: Upper bounds on |act'| (the activations' Lipschitz constants).
_SLOPE = {"linear": arb(1), "tanh": arb(1), "sigmoid": arb(1) / 4, "relu": arb(1)}

# Largest Gram matrix (min(out, in)) for the repeated-squaring norm bound: ~0.1 s at 256.
_POWER_BOUND_MAX_DIM = 256
_POWER_BOUND_SQUARINGS = 5


def _readonly(arr: FloatArray) -> FloatArray:
    out = np.array(arr, dtype=np.float64, copy=True, order="C")
    out.setflags(write=False)
    return out


def _as_layer_array(value: Any, name: str, ndim: int, what: str) -> FloatArray:
    """``value`` as a float64 array of ``ndim`` dimensions and finite entries, or raise."""
    if np.iscomplexobj(value):
        raise InvalidInputError(f"`{name}` must be real; got {describe(value)}.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"`{name}` must be an array of real numbers; got {describe(value)} ({exc})."
        ) from None
    if arr.ndim != ndim or arr.size == 0:
        raise InvalidInputError(
            f"`{name}` must be a non-empty {ndim}-D array ({what}); got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = bad if len(bad) != 1 else bad[0]
        raise InvalidInputError(
            f"`{name}` must contain only finite values; found {float(arr[bad])!r} at index {where}."
        )
    return arr


def _check_activation(activation: Any) -> str:
    if not isinstance(activation, str) or activation not in ACTIVATION_CODES:
        raise InvalidInputError(
            f"`activation` must be one of {sorted(ACTIVATION_CODES)}; got {describe(activation)}."
        )
    return activation


def _check_layer_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            f"`{name}` must be a list of arrays, one per layer; got {describe(value)}."
        )
    if len(value) == 0:
        raise InvalidInputError(f"`{name}` must hold at least one layer; got an empty list.")
    return list(value)


def _norm_bound(W: FloatArray) -> arb:
    """A rigorous upper bound on the spectral norm ||W||_2, as a ball.

    The smallest of: the Frobenius norm; sqrt(||W||_1 ||W||_inf); and, for Gram matrices
    up to ``_POWER_BOUND_MAX_DIM``, ``||G^p||_F^(1/(2p))`` with ``G`` the smaller of
    ``W^T W`` and ``W W^T`` and ``p = 2^5`` (as ``||G||_2^p = ||G^p||_2 <= ||G^p||_F``; it
    overestimates by at most ``rank^(1/(4p))``, under 4.5% for rank 256).
    """
    absW = [[abs(ball(float(w))) for w in row] for row in W]
    frob2 = arb(0)
    for row in absW:
        for a in row:
            frob2 += a * a
    best = frob2.sqrt()
    norm_inf = max((sum(row, arb(0)) for row in absW), key=upper_float)
    norm_1 = max((sum(col, arb(0)) for col in zip(*absW, strict=True)), key=upper_float)
    best = _smaller(best, (norm_1 * norm_inf).sqrt())
    if min(W.shape) <= _POWER_BOUND_MAX_DIM:
        A = arb_mat([[ball(float(w)) for w in row] for row in W])
        G = A.transpose() * A if W.shape[1] <= W.shape[0] else A * A.transpose()
        for _ in range(_POWER_BOUND_SQUARINGS):
            G = G * G
        total = arb(0)
        for row in G.tolist():
            for g in row:
                total += g * g
        # ||G^p||_F^(1/(2p)) = total^(1/(4p)), 4p = 2^(squarings + 2): repeated square roots.
        for _ in range(_POWER_BOUND_SQUARINGS + 2):
            total = total.sqrt()
        best = _smaller(best, total)
    return best


def _smaller(a: arb, b: arb) -> arb:
    return a if upper_float(a) <= upper_float(b) else b


def _parse_hex_matrix(value: Any, where: str, ndim: int) -> FloatArray:
    """Nested lists of float.hex strings (or reals) -> float64 array, exactly."""

    def scalar(v: Any, at: str) -> float:
        if isinstance(v, str):
            try:
                return float.fromhex(v)
            except ValueError:
                raise InvalidInputError(
                    f"`{at}` must be a float.hex string such as '0x1.8p+0'; got {v!r}."
                ) from None
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            return float(v)
        raise InvalidInputError(f"`{at}` must be a float.hex string; got {describe(v)}.")

    def walk(v: Any, at: str, depth: int) -> Any:
        if depth == 0:
            return scalar(v, at)
        if not isinstance(v, (list, tuple)):
            raise InvalidInputError(
                f"`{at}` must be a list (nested {ndim} deep); got {describe(v)}."
            )
        return [walk(e, f"{at}[{i}]", depth - 1) for i, e in enumerate(v)]

    nested = walk(value, where, ndim)
    try:
        return np.array(nested, dtype=np.float64)
    except ValueError:
        raise InvalidInputError(
            f"`{where}` must be a rectangular {ndim}-D nested list; its rows differ in length."
        ) from None


@dataclass(frozen=True, eq=False, repr=False)
class MLP:
    """A multilayer perceptron ``phi: R^input_dim -> R^output_dim`` (phi in THEORY.md).

    ``phi(x) = W_L a(... a(W_1 a(W_0 x + b_0) + b_1) ...) + b_L``: the activation ``a``
    on every hidden layer, the last layer linear.

    Parameters
    ----------
    weights : list of array-like
        ``weights[k]`` of shape ``(out_k, in_k)`` (PyTorch's ``nn.Linear.weight``), with
        ``in_{k+1} == out_k``; finite. Stored as read-only float64 copies.
    biases : list of array-like
        ``biases[k]`` of shape ``(out_k,)``; finite.
    activation : {"tanh", "sigmoid", "relu", "linear"}, default="tanh"
        The hidden layers' activation.

    Raises
    ------
    InvalidInputError
        Empty or unequal lists, wrong shapes, layers that do not connect, non-finite
        entries, or an unknown activation.

    See Also
    --------
    MLP.random : a randomly initialised network.
    MLP.load, MLP.from_dict : networks saved by :meth:`save` / :meth:`to_dict`.

    Examples
    --------
    >>> net = MLP([[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]], activation="relu")
    >>> net
    MLP(1 -> 2 -> 1, relu)
    >>> net([-3.0, 2.0]).ravel().tolist()  # relu(x) + relu(-x) = |x|
    [3.0, 2.0]
    >>> (net.input_dim, net.output_dim, net.n_neurons, net.n_parameters)
    (1, 1, 2, 7)
    """

    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]
    activation: str
    _packed: tuple[npt.NDArray[np.int64], FloatArray, FloatArray] = field(init=False, repr=False)

    def __init__(
        self,
        weights: Sequence[npt.ArrayLike],
        biases: Sequence[npt.ArrayLike],
        activation: str = "tanh",
    ) -> None:
        act = _check_activation(activation)
        w_list = _check_layer_list(weights, "weights")
        b_list = _check_layer_list(biases, "biases")
        if len(w_list) != len(b_list):
            raise InvalidInputError(
                f"`weights` and `biases` must have one entry per layer; got {len(w_list)} "
                f"weight matrices and {len(b_list)} bias vectors."
            )
        ws: list[FloatArray] = []
        bs: list[FloatArray] = []
        for k, (w, b) in enumerate(zip(w_list, b_list, strict=True)):
            W = _as_layer_array(w, f"weights[{k}]", 2, "out_features x in_features")
            if k > 0 and W.shape[1] != ws[-1].shape[0]:
                raise InvalidInputError(
                    f"`weights[{k}]` must have {ws[-1].shape[0]} columns (the outputs of "
                    f"layer {k - 1}, shape {ws[-1].shape}); got shape {W.shape}."
                )
            B = _as_layer_array(b, f"biases[{k}]", 1, "out_features")
            if B.shape != (W.shape[0],):
                raise InvalidInputError(
                    f"`biases[{k}]` must have shape ({W.shape[0]},) (the rows of "
                    f"`weights[{k}]`); got shape {B.shape}."
                )
            ws.append(_readonly(W))
            bs.append(_readonly(B))
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))
        object.__setattr__(self, "activation", act)
        object.__setattr__(self, "_packed", pack_layers(ws, bs))

    # --- shape ---------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        """Dimension of the inputs x."""
        return int(self.weights[0].shape[1])

    @property
    def output_dim(self) -> int:
        """Dimension of the features phi(x) (the paper's m)."""
        return int(self.weights[-1].shape[0])

    @property
    def n_layers(self) -> int:
        """Number of affine layers (hidden layers + 1)."""
        return len(self.weights)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths ``(input_dim, hidden..., output_dim)``."""
        return (self.input_dim, *(int(W.shape[0]) for W in self.weights))

    @property
    def n_neurons(self) -> int:
        """Hidden units, summed over all hidden layers (the paper's "neurons")."""
        return int(sum(W.shape[0] for W in self.weights[:-1]))

    @property
    def n_parameters(self) -> int:
        """Number of weights and biases."""
        return int(sum(W.size + b.size for W, b in zip(self.weights, self.biases, strict=True)))

    @property
    def _act_code(self) -> int:
        return ACTIVATION_CODES[self.activation]

    # --- evaluation ----------------------------------------------------------------------
    def _points(self, X: npt.ArrayLike, name: str) -> FloatArray:
        pts = as_points(X, name, min_points=0)
        if pts.shape[1] != self.input_dim:
            raise InvalidInputError(
                f"`{name}` must hold points of dimension {self.input_dim} (the input dimension "
                f"of phi); got points of dimension {pts.shape[1]} (shape {pts.shape})."
            )
        return pts

    def forward(self, X: npt.ArrayLike) -> FloatArray:
        """Evaluate phi at points, in float64.

        Parameters
        ----------
        X : array-like of shape (n, input_dim), or (n,) when ``input_dim == 1``
            Finite points (a 1-D array is ``n`` points of dimension 1).

        Returns
        -------
        ndarray of shape (n, output_dim)
            ``phi(X[i])`` per row; a float computation, not an enclosure (see
            :meth:`enclose` with ``lo == hi`` for a rigorous one).

        Raises
        ------
        InvalidInputError
            Non-finite entries, or points of the wrong dimension.

        Examples
        --------
        >>> net = MLP([np.eye(2)], [np.array([1.0, -1.0])])
        >>> net.forward([[0.5, 0.5]]).tolist()
        [[1.5, -0.5]]
        """
        pts = self._points(X, "X")
        if pts.shape[0] == 0:
            return np.empty((0, self.output_dim), dtype=np.float64)
        return mlp_forward_numba(pts, self.weights, self.biases, self._act_code)

    def __call__(self, X: npt.ArrayLike) -> FloatArray:
        """Same as :meth:`forward`."""
        return self.forward(X)

    def jacobian(self, X: npt.ArrayLike) -> FloatArray:
        """Float Jacobians of phi at points.

        Parameters
        ----------
        X : array-like of shape (n, input_dim), or (n,) when ``input_dim == 1``
            Finite points.

        Returns
        -------
        ndarray of shape (n, output_dim, input_dim)
            ``J[i, o, j] = d phi_o / d x_j`` at ``X[i]`` (ReLU's derivative at 0 taken as
            0); a float computation (see :meth:`enclose_jacobian` for an enclosure).

        Examples
        --------
        >>> net = MLP([[[2.0]], [[3.0]]], [[0.0], [0.0]], activation="tanh")
        >>> net.jacobian([0.0]).tolist()  # 3 tanh'(0) 2
        [[[6.0]]]
        """
        pts = self._points(X, "X")
        return mlp_jacobian_numpy(pts, self.weights, self.biases, self._act_code)

    def lipschitz_bound(self) -> float:
        """A certified upper bound on the Lipschitz constant of phi (Euclidean norms).

        The product over layers of an upper bound on ``||W_k||_2``, times the activation's
        slope bound per hidden layer (tanh, relu, linear: 1; sigmoid: 1/4). Each norm bound
        is the smallest of the Frobenius norm, ``sqrt(||W||_1 ||W||_inf)`` and a
        repeated-squaring bound ``||(W^T W)^32||_F^(1/64)`` (for layers with
        ``min(out, in) <= 256``), all computed in arb ball arithmetic; the product is
        rounded up to a float.

        Returns
        -------
        float
            ``L`` with ``|phi(x) - phi(y)| <= L |x - y|`` for all real ``x, y``.

        Examples
        --------
        >>> net = MLP([np.diag([3.0, 4.0])], [np.zeros(2)])
        >>> L = net.lipschitz_bound()
        >>> bool(4.0 <= L <= 4.0 * 1.01)  # ||diag(3, 4)||_2 = 4
        True
        """
        with ctx.workprec(WORKING_PRECISION):
            total = arb(1)
            for k, W in enumerate(self.weights):
                total *= _norm_bound(W)
                if k < self.n_layers - 1:
                    total *= _SLOPE[self.activation]
            return upper_float(total)

    def _boxes(self, lo: npt.ArrayLike, hi: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        lo_arr = self._points(lo, "lo")
        hi_arr = self._points(hi, "hi")
        if lo_arr.shape != hi_arr.shape:
            raise InvalidInputError(
                f"`lo` and `hi` must have the same shape (one row per box); got {lo_arr.shape} "
                f"and {hi_arr.shape}."
            )
        if not np.all(lo_arr <= hi_arr):
            i, j = (int(v) for v in np.argwhere(~(lo_arr <= hi_arr))[0])
            raise InvalidInputError(
                f"`lo` must be <= `hi` in every coordinate; box {i} has lo={float(lo_arr[i, j])!r} "
                f"> hi={float(hi_arr[i, j])!r} in coordinate {j}."
            )
        return lo_arr, hi_arr

    def enclose(
        self, lo: npt.ArrayLike, hi: npt.ArrayLike, *, method: str = "best"
    ) -> tuple[FloatArray, FloatArray]:
        """Rigorous enclosures of phi over boxes.

        For every box ``b`` and every real ``x`` with ``lo[b] <= x <= hi[b]``, the exact
        value ``phi(x)`` (real arithmetic on the stored float weights) satisfies
        ``out_lo[b] <= phi(x) <= out_hi[b]`` componentwise. Outward rounding covers every
        float operation (see :mod:`certify._kernels.interval_mlp`); libm's ``tanh`` and
        ``exp`` are assumed accurate to 4 ulp (:mod:`certify._kernels.interval`).

        Parameters
        ----------
        lo, hi : array-like of shape (k, input_dim), or (k,) when ``input_dim == 1``
            Box corners, ``lo <= hi``; ``lo == hi`` gives a rigorous point enclosure, a
            few dozen ulps of ``sum_k |W_ok| |h_k| + |b_o|`` wide (tested bound in
            ``tests/_kernels/test_interval_mlp.py``).
        method : {"best", "naive", "mean_value"}, default="best"
            ``"naive"``: interval arithmetic layer by layer (fastest, loose on wide or deep
            nets); ``"mean_value"``: ``phi(c) + J(box) (box - c)`` with ``c`` the centre
            (tighter on small boxes); ``"best"``: the intersection of both.

        Returns
        -------
        out_lo, out_hi : ndarray of shape (k, output_dim)
            The enclosure; infinite ends mean no information (overflow).

        Raises
        ------
        InvalidInputError
            Non-finite or mis-shaped corners, ``lo > hi`` somewhere, or an unknown method.

        Examples
        --------
        >>> net = MLP.random([2, 16, 3], rng=0)
        >>> lo, hi = np.array([[0.0, 0.0]]), np.array([[0.1, 0.2]])
        >>> out_lo, out_hi = net.enclose(lo, hi)
        >>> X = np.random.default_rng(1).uniform(lo, hi, size=(100, 2))
        >>> bool(np.all((out_lo <= net(X)) & (net(X) <= out_hi)))
        True
        """
        if not isinstance(method, str) or method not in METHOD_CODES:
            raise InvalidInputError(
                f"`method` must be one of {sorted(METHOD_CODES)}; got {describe(method)}."
            )
        lo_arr, hi_arr = self._boxes(lo, hi)
        return enclose_numba(*self._packed, self._act_code, lo_arr, hi_arr, METHOD_CODES[method])

    def enclose_jacobian(
        self, lo: npt.ArrayLike, hi: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Rigorous enclosures of the Jacobian of phi over boxes (forward mode).

        ``J_{l+1} = diag(act'(z_l)) W_l J_l`` in interval arithmetic, with
        ``tanh' = 1 - tanh^2``, ``sigmoid' = s (1 - s)``, ``relu' = [0, 1]`` where the
        pre-activation can be 0 (Clarke's generalised derivative) and 1 for linear.

        Parameters
        ----------
        lo, hi : array-like of shape (k, input_dim), or (k,) when ``input_dim == 1``
            Box corners, ``lo <= hi``.

        Returns
        -------
        J_lo, J_hi : ndarray of shape (k, output_dim, input_dim)
            ``J_lo[b] <= D phi(x) <= J_hi[b]`` entrywise for every ``x`` in box ``b``.

        Raises
        ------
        InvalidInputError
            Non-finite or mis-shaped corners, or ``lo > hi`` somewhere.

        Examples
        --------
        >>> net = MLP.random([2, 8, 2], rng=0)
        >>> J_lo, J_hi = net.enclose_jacobian([[0.0, 0.0]], [[0.1, 0.1]])
        >>> J = net.jacobian([[0.05, 0.02]])
        >>> bool(np.all((J_lo <= J) & (J <= J_hi)))
        True
        """
        lo_arr, hi_arr = self._boxes(lo, hi)
        return enclose_jacobian_numba(*self._packed, self._act_code, lo_arr, hi_arr)

    # --- construction --------------------------------------------------------------------
    @classmethod
    def random(
        cls,
        layer_sizes: Sequence[int],
        *,
        activation: str = "tanh",
        rng: RNGLike = None,
        scale: float = 1.0,
    ) -> MLP:
        """A randomly initialised network (Glorot-normal weights times ``scale``).

        Weights and biases of layer ``k`` are drawn from
        ``N(0, scale^2 * 2 / (in_k + out_k))`` (biases too, since zero biases would make
        every tanh network odd).

        Parameters
        ----------
        layer_sizes : sequence of int
            ``(input_dim, hidden..., output_dim)``, each >= 1, at least two entries:
            ``[2, 16, 5]`` is one hidden layer of 16 units.
        activation : {"tanh", "sigmoid", "relu", "linear"}, default="tanh"
            The hidden layers' activation.
        rng : numpy.random.Generator, int or None, default=None
            Source of randomness (a seed gives a reproducible network).
        scale : float, default=1.0
            Multiplies every standard deviation; finite and > 0.

        Returns
        -------
        MLP

        Examples
        --------
        >>> net = MLP.random([2, 16, 5], rng=0)
        >>> net, net.n_neurons
        (MLP(2 -> 16 -> 5, tanh), 16)
        >>> net == MLP.random([2, 16, 5], rng=0)
        True
        """
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            raise InvalidInputError(
                f"`layer_sizes` must be a sequence of ints (input, hidden..., output); got "
                f"{describe(layer_sizes)}."
            )
        sizes = [
            check_int(n, f"layer_sizes[{i}]", minimum=1, what="a layer width")
            for i, n in enumerate(layer_sizes)
        ]
        if len(sizes) < 2:
            raise InvalidInputError(
                f"`layer_sizes` must list at least the input and output widths; got {sizes}."
            )
        act = _check_activation(activation)
        s = check_positive(scale, "scale")
        gen = as_generator(rng)
        weights, biases = [], []
        for n_in, n_out in itertools.pairwise(sizes):
            std = s * math.sqrt(2.0 / (n_in + n_out))
            weights.append(gen.normal(0.0, std, size=(n_out, n_in)))
            biases.append(gen.normal(0.0, std, size=n_out))
        return cls(weights, biases, act)

    # --- serialisation -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to ``path`` (exactly that name) as an ``.npz`` archive.

        Keys: ``format`` (``"certify.mlp/1"``), ``activation``, ``weights_0``, ...,
        ``biases_0``, ... (float64, bit for bit).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> net = MLP.random([2, 4, 1], rng=0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     net.save(pathlib.Path(tmp) / "phi.npz")
        ...     MLP.load(pathlib.Path(tmp) / "phi.npz") == net
        True
        """
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT),
            "activation": np.array(self.activation),
        }
        for k, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"weights_{k}"] = W
            arrays[f"biases_{k}"] = b
        with open(os.fspath(path), "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """Read a network written by :meth:`save` (validated; bit for bit).

        Raises
        ------
        InvalidInputError
            Not an ``.npz`` archive, another format id, missing or unexpected keys, entries
            that need pickle, or invalid layers (shapes, non-finite values); the message
            names the file.
        OSError
            The file cannot be read.
        """
        name = os.fspath(path)
        try:
            archive = np.load(name, allow_pickle=False)
        except (ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise InvalidInputError(
                f"{name!r} is not an .npz archive written by MLP.save ({exc})."
            ) from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise InvalidInputError(
                f"{name!r} is not an .npz archive written by MLP.save (it holds a single array)."
            )
        with archive:
            try:
                arrays = {key: archive[key] for key in archive.files}
            except ValueError as exc:  # object arrays need pickle, which is never allowed
                raise InvalidInputError(
                    f"{name!r} holds entries that cannot be read without pickle ({exc})."
                ) from None
        missing = [k for k in ("format", "activation", "weights_0", "biases_0") if k not in arrays]
        if missing:
            raise InvalidInputError(
                f"{name!r} lacks the key(s) {missing} of format {FORMAT!r}; found {sorted(arrays)}."
            )
        fmt = str(arrays["format"][()])
        if fmt != FORMAT:
            raise InvalidInputError(
                f"{name!r} has format {fmt!r}; this version of certify reads {FORMAT!r}."
            )
        n_layers = 0
        while f"weights_{n_layers}" in arrays:
            n_layers += 1
        expected = {"format", "activation"}
        expected |= {f"{kind}_{k}" for kind in ("weights", "biases") for k in range(n_layers)}
        missing = sorted(expected - set(arrays))
        extra = sorted(set(arrays) - expected)
        if missing or extra:
            raise InvalidInputError(
                f"{name!r} must hold `weights_k` and `biases_k` for k = 0..{n_layers - 1} and "
                f"nothing else; missing {missing}, unexpected {extra}."
            )
        weights = [arrays[f"weights_{k}"] for k in range(n_layers)]
        biases = [arrays[f"biases_{k}"] for k in range(n_layers)]
        activation = str(arrays["activation"][()])
        try:
            return cls(weights, biases, activation)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{name!r} holds an invalid network: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every float as ``float.hex`` (exact).

        Keys: ``format``, ``activation``, ``weights`` (per layer, a list of rows of hex
        strings) and ``biases`` (per layer, a list of hex strings).

        Examples
        --------
        >>> d = MLP([[[1.5]]], [[-0.25]]).to_dict()
        >>> d["weights"], d["biases"]
        ([[['0x1.8000000000000p+0']]], [['-0x1.0000000000000p-2']])
        """
        return {
            "format": FORMAT,
            "activation": self.activation,
            "weights": [[[float(w).hex() for w in row] for row in W] for W in self.weights],
            "biases": [[float(v).hex() for v in b] for b in self.biases],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MLP:
        """Rebuild a network from :meth:`to_dict`'s output (validated; bit for bit).

        Raises
        ------
        InvalidInputError
            Not a mapping, missing keys, another format id, entries that are not
            ``float.hex`` strings (plain reals are accepted too), or invalid layers.

        Examples
        --------
        >>> import json
        >>> net = MLP.random([3, 5, 2], rng=1)
        >>> MLP.from_dict(json.loads(json.dumps(net.to_dict()))) == net
        True
        """
        if not isinstance(d, Mapping):
            raise InvalidInputError(f"`d` must be a dict from MLP.to_dict; got {describe(d)}.")
        missing = [k for k in ("format", "activation", "weights", "biases") if k not in d]
        if missing:
            raise InvalidInputError(
                f"`d` lacks the key(s) {missing} of format {FORMAT!r}; found {sorted(d)}."
            )
        if d["format"] != FORMAT:
            raise InvalidInputError(
                f"`d['format']` must be {FORMAT!r}; got {describe(d['format'])}."
            )
        for key in ("weights", "biases"):
            if not isinstance(d[key], (list, tuple)):
                raise InvalidInputError(
                    f"`d[{key!r}]` must be a list with one entry per layer; got {describe(d[key])}."
                )
        weights = [
            _parse_hex_matrix(W, f"d['weights'][{k}]", 2) for k, W in enumerate(d["weights"])
        ]
        biases = [_parse_hex_matrix(b, f"d['biases'][{k}]", 1) for k, b in enumerate(d["biases"])]
        return cls(weights, biases, d["activation"])

    def sha256(self) -> str:
        """SHA-256 of a canonical byte encoding of the network (hex digest).

        Encoding: ``b"certify.mlp/1\\0"``, the activation name and ``b"\\0"``, the number of
        layers (int64), then per layer its shape (two int64), the weights (float64, C
        order) and the biases (float64), every number little-endian. Equal networks hash
        equal; a change of any bit (even ``0.0`` to ``-0.0``) changes the hash.

        Examples
        --------
        >>> a = MLP([[[1.0]]], [[0.0]])
        >>> b = MLP([[[np.nextafter(1.0, 2.0)]]], [[0.0]])
        >>> a.sha256() == MLP([[[1.0]]], [[0.0]]).sha256(), a.sha256() == b.sha256()
        (True, False)
        """
        h = hashlib.sha256()
        h.update(FORMAT.encode() + b"\0")
        h.update(self.activation.encode() + b"\0")
        h.update(struct.pack("<q", self.n_layers))
        for W, b in zip(self.weights, self.biases, strict=True):
            h.update(struct.pack("<qq", *W.shape))
            h.update(W.astype("<f8").tobytes(order="C"))
            h.update(b.astype("<f8").tobytes(order="C"))
        return h.hexdigest()

    # --- identity ------------------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        """Bitwise equality of the activation and every weight and bias."""
        if not isinstance(other, MLP):
            return NotImplemented
        return (
            self.activation == other.activation
            and self.n_layers == other.n_layers
            and all(
                a.shape == b.shape and a.tobytes() == b.tobytes()
                for a, b in zip(
                    self.weights + self.biases, other.weights + other.biases, strict=True
                )
            )
        )

    def __hash__(self) -> int:
        return hash(self.sha256())

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle / deepcopy through the constructor: validated, read-only again.
        return (type(self), (list(self.weights), list(self.biases), self.activation))

    def __repr__(self) -> str:
        return f"MLP({' -> '.join(str(n) for n in self.layer_sizes)}, {self.activation})"
