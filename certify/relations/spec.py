"""The one spec-string parser shared by the CLI and notebooks.

Grammar: ``name`` or ``name:arguments``.

Relations: ``gaussian:lengthscale=0.5``, ``laplace:lengthscale=1``, ``matern32:lengthscale=0.3``,
``matern52``, ``poly:degree=3,offset=1``, ``brownian``, ``periodic:kappa=2``,
``arccos:order=0`` (also ``arccos0``, ``arccos1``), ``expdot:scale=2``,
``bilinear:W=[[1,2],[0,1]]``, ``expr:exp(-(x0-y0)**2)``. Every kernel also takes
``dim=...``. Aliases: ``rbf`` = gaussian, ``exponential`` = laplace, ``vonmises`` = periodic.

Domains: ``box:-1,1`` (1-D), ``box:-1,1;0,2`` (2-D: one ``low,high`` pair per
coordinate), ``real:2`` (R^2), ``sphere:3`` (the unit sphere in R^3),
``finite:0;0.5;1`` (points separated by ``;``, coordinates by ``,``).

Measures: ``uniform``, ``gaussian:std=0.5`` (or ``std=[0.5,1]``), ``chebyshev``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from certify._validation import describe
from certify.errors import InvalidInputError
from certify.relations.asymmetric import Bilinear, ExpressionRelation
from certify.relations.base import Relation
from certify.relations.domains import Box, Domain, FiniteSet, RealSpace, Sphere
from certify.relations.kernels import KERNELS, ArcCosine

if TYPE_CHECKING:
    from certify.relations.measures import Measure

__all__ = ["parse_domain", "parse_measure", "parse_relation"]

_ALIASES = {"rbf": "gaussian", "exponential": "laplace", "vonmises": "periodic"}
_RELATION_NAMES = sorted([*KERNELS, "arccos0", "arccos1", "bilinear", "expr", *_ALIASES])
_DOMAIN_NAMES = ["box", "finite", "real", "sphere"]
_MEASURE_NAMES = ["chebyshev", "gaussian", "uniform"]


def _split_name(spec: Any, what: str) -> tuple[str, str | None]:
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInputError(f"`{what}` spec must be a non-empty string; got {describe(spec)}.")
    name, sep, rest = spec.strip().partition(":")
    return name.strip().lower(), (rest.strip() if sep else None)


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _value(text: str, key: str, spec: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "pi":
        return math.pi
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(
            f"parameter `{key}` in {spec!r} must be a number, a list like [[1,2],[0,1]], "
            f"true/false or pi; got {text!r}."
        ) from None


def _params(rest: str | None, spec: str) -> dict[str, Any]:
    if rest is None or rest == "":
        return {}
    out: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key or not text.strip():
            raise InvalidInputError(
                f"parameters in {spec!r} must look like key=value separated by commas; "
                f"got {item!r}."
            )
        if key in out:
            raise InvalidInputError(f"parameter `{key}` is given twice in {spec!r}.")
        out[key] = _value(text.strip(), key, spec)
    return out


def _construct(cls: type, params: dict[str, Any], spec: str, fixed: dict[str, Any]) -> Any:
    valid = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in fixed]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InvalidInputError(
            f"unknown parameter(s) {', '.join(unknown)} in {spec!r}; valid parameters of "
            f"{cls.__name__}: {', '.join(valid) or '(none)'}."
        )
    return cls(**params, **fixed)


def parse_relation(spec: str | Relation) -> Relation:
    """Build a relation from a spec string (relations pass through unchanged).

    Raises
    ------
    InvalidInputError
        An unknown name (the message lists the valid ones) or a bad parameter.

    Examples
    --------
    >>> parse_relation("gaussian:lengthscale=0.5")
    Gaussian('gaussian:lengthscale=0.5')
    >>> parse_relation("bilinear:W=[[1,2],[0,1]]").W.tolist()
    [[1.0, 2.0], [0.0, 1.0]]
    >>> parse_relation("expr:exp(-(x0-y0)**2)").symmetric
    True
    """
    if isinstance(spec, Relation):
        return spec
    name, rest = _split_name(spec, "relation")
    name = _ALIASES.get(name, name)
    if name == "expr":
        if not rest:
            raise InvalidInputError(
                f"{spec!r} needs an expression after 'expr:', e.g. 'expr:exp(-(x0-y0)**2)'."
            )
        return ExpressionRelation(rest)
    params = _params(rest, spec)
    if name == "bilinear":
        if set(params) != {"W"}:
            raise InvalidInputError(
                f"{spec!r}: the bilinear relation takes exactly one parameter W, a matrix such "
                "as W=[[1,2],[0,1]]."
            )
        return Bilinear(params["W"])
    if name in ("arccos0", "arccos1"):
        return _construct(ArcCosine, params, spec, {"order": int(name[-1])})
    if name in KERNELS:
        return _construct(KERNELS[name], params, spec, {})
    raise InvalidInputError(
        f"unknown relation {name!r} in {spec!r}; valid names: {', '.join(_RELATION_NAMES)}."
    )


def _floats(text: str, spec: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidInputError(
            f"{spec!r}: expected comma-separated numbers, got {text!r}."
        ) from None
    return values


def parse_domain(spec: str | Domain) -> Domain:
    """Build a domain from a spec string (domains pass through unchanged).

    Examples
    --------
    >>> parse_domain("box:-1,1;0,2")
    Box(lower=[-1.0, 0.0], upper=[1.0, 2.0])
    >>> parse_domain("sphere:3").dim
    3
    """
    if isinstance(spec, Domain):
        return spec
    name, rest = _split_name(spec, "domain")
    if name == "box":
        if not rest:
            raise InvalidInputError(f"{spec!r} needs bounds, e.g. 'box:-1,1' or 'box:-1,1;0,2'.")
        pairs = [_floats(part, spec) for part in rest.split(";")]
        if any(len(p) != 2 for p in pairs):
            raise InvalidInputError(
                f"{spec!r}: each coordinate of a box needs exactly two bounds 'low,high', "
                "coordinates separated by ';'."
            )
        return Box([p[0] for p in pairs], [p[1] for p in pairs])
    if name in ("real", "sphere"):
        try:
            dim = int(rest) if rest else None
        except ValueError:
            dim = None
        if dim is None:
            raise InvalidInputError(f"{spec!r} needs an integer dimension, e.g. '{name}:2'.")
        return RealSpace(dim) if name == "real" else Sphere(dim)
    if name == "finite":
        if not rest:
            raise InvalidInputError(f"{spec!r} needs points, e.g. 'finite:0;0.5;1'.")
        rows = [_floats(part, spec) for part in rest.split(";")]
        if len({len(r) for r in rows}) != 1:
            raise InvalidInputError(f"{spec!r}: all points must have the same dimension.")
        return FiniteSet(rows)
    raise InvalidInputError(
        f"unknown domain {name!r} in {spec!r}; valid names: {', '.join(_DOMAIN_NAMES)}."
    )


def parse_measure(spec: str | Measure) -> Measure:
    """Build a probability measure from a spec string (measures pass through unchanged).

    Examples
    --------
    >>> parse_measure("gaussian:std=0.5").spec
    'gaussian:std=0.5'
    """
    from certify.relations.measures import Chebyshev, Gaussian, Measure, Uniform

    if isinstance(spec, Measure):
        return spec
    name, rest = _split_name(spec, "measure")
    params = _params(rest, spec)
    classes: dict[str, type] = {"uniform": Uniform, "gaussian": Gaussian, "chebyshev": Chebyshev}
    if name not in classes:
        raise InvalidInputError(
            f"unknown measure {name!r} in {spec!r}; valid names: {', '.join(_MEASURE_NAMES)} "
            "(build empirical measures in Python: certify.relations.Empirical(points, weights))."
        )
    result: Measure = _construct(classes[name], params, spec, {})
    return result
