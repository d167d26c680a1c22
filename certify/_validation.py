"""Input validation shared by the public boundary of certify.

Every check raises :class:`~certify.errors.InvalidInputError` whose message
names the argument, the constraint and the value seen.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from certify.errors import InvalidInputError

__all__ = [
    "as_points",
    "check_finite_array",
    "check_int",
    "check_positive",
    "check_real",
    "describe",
]


def describe(value: Any) -> str:
    """A short, safe rendering of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a finite Python float, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"`{name}` must be a real number; got {describe(value)}.")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidInputError(f"`{name}` must be finite; got {out!r}.")
    return out


def check_positive(value: Any, name: str, *, what: str = "") -> float:
    """Return ``value`` as a finite float > 0, or raise."""
    out = check_real(value, name)
    if not out > 0.0:
        extra = f" ({what})" if what else ""
        raise InvalidInputError(f"`{name}` must be > 0{extra}; got {out!r}.")
    return out


def check_int(value: Any, name: str, *, minimum: int | None = None, what: str = "") -> int:
    """Return ``value`` as an int (>= ``minimum`` when given), or raise.

    Floats with an integral value (``3.0``) are accepted; ``True``/``False`` are not.
    """
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, numbers.Integral):
        ok = True
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)):
        ok = float(value).is_integer()
    else:
        ok = False
    extra = f" ({what})" if what else ""
    bound = f" >= {minimum}" if minimum is not None else ""
    if not ok:
        raise InvalidInputError(f"`{name}` must be an int{bound}{extra}; got {describe(value)}.")
    out = int(value)
    if minimum is not None and out < minimum:
        raise InvalidInputError(f"`{name}` must be an int{bound}{extra}; got {out}.")
    return out


def check_finite_array(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """Return ``values`` as a float64 array with only finite entries, or raise."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"`{name}` must be an array of real numbers; got {describe(values)} ({exc})."
        ) from None
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(b) for b in bad)
        raise InvalidInputError(
            f"`{name}` must contain only finite values; found {float(arr[tuple(bad)])!r} at index "
            f"{where if len(where) != 1 else where[0]}."
        )
    return arr


def as_points(
    X: npt.ArrayLike,
    name: str,
    *,
    dim: int | None = None,
    min_points: int = 1,
) -> npt.NDArray[np.float64]:
    """Validate a point set and return it as a C-contiguous ``(n, dim)`` float64 array.

    A 1-D array is read as ``n`` points in one dimension (not one point in
    ``n`` dimensions), matching the 1-D domains the paper's examples use.

    Parameters
    ----------
    X : array-like of shape (n,) or (n, dim)
        The points.
    name : str
        The argument name for error messages.
    dim : int, optional
        Required dimension of each point; ``None`` accepts any.
    min_points : int, default=1
        Minimum number of points.
    """
    arr = check_finite_array(X, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidInputError(
            f"`{name}` must be a 2-D array of shape (n_points, dim) (or 1-D for dim 1); "
            f"got an array with {arr.ndim} dimensions and shape {arr.shape}."
        )
    if arr.shape[0] < min_points:
        raise InvalidInputError(
            f"`{name}` must hold at least {min_points} point(s); got shape {arr.shape}."
        )
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(
            f"`{name}` must hold points of dimension {dim}; got points of dimension "
            f"{arr.shape[1]} (shape {arr.shape})."
        )
    return np.ascontiguousarray(arr)
