"""The certificate record and its versioned JSON format (schema ``certify.certificate/1``).

A certificate states a claim ``sup_D |r(x, y) - <phi(x), psi(y)>| <= eps`` (DESIGN.md,
"Certificates: what the words mean") together with everything an independent checker
needs to re-derive it: the instance (relation, domains, measure), the witness networks
(inline or as ``.npz`` sidecars with their sha256; Nystrom features inline), the route
(``direct``, lemma L1 / L2 of THEORY.md, or L2S = L2 symmetric on top of L1) with its
hypotheses, and the *parts*: enclosures of sups over boxes, each with its cover (a
bisection tree). Every float is written twice, as a decimal
``value`` for people and as ``float.hex`` for machines; readers use only the hex.

File integrity: ``digest`` is the sha256 of the canonical JSON of the document without
the ``digest`` key (sorted keys, compact separators, ASCII), so a hand edit that does
not also recompute the digest is rejected on load. That is a guard against accidents,
not a proof: the checker (:mod:`certify.certificates.checker`) re-evaluates every part
in ball arithmetic and trusts no stored number. ``Certificate.sha256`` is the hash of
the file as :meth:`Certificate.save` writes it, the figure to cite.

Examples
--------
>>> cert = Certificate(
...     verdict="UNKNOWN", eps=0.1, lower=0.0, upper=math.inf, witness_point=None,
...     claim="sup |r - <phi, phi>| <= 0.1 over [-1,1] x [-1,1]", theorem="T-S",
...     instance=Instance("gaussian:lengthscale=0.5", "box:-1,1", "box:-1,1"),
...     witness={"phi": {"format": "certify.mlp/1", "activation": "tanh",
...                      "weights": [[["0x1.0p+0"]], [["0x1.0p+0"]]],
...                      "biases": [["0x0.0p+0"], ["0x0.0p+0"]]}},
...     created="2024-01-01T00:00:00Z", versions={})
>>> Certificate.from_json(cert.to_json()) == cert
True
>>> len(cert.digest), len(cert.sha256)
(64, 64)
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.metadata
import json
import math
import operator
import os
import platform
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from certify.errors import CertificateError, InvalidInputError

__all__ = [
    "L1_HYPOTHESIS",
    "L2S_HYPOTHESIS",
    "LEMMAS_OF_ROUTE",
    "LEMMA_OF_ROUTE",
    "NYSTROM_FORMAT",
    "PART_FUNCTIONS",
    "ROUTES",
    "SCHEMA_ID",
    "VERDICTS",
    "Certificate",
    "Cover",
    "Hypothesis",
    "Instance",
    "Part",
    "Sidecar",
    "canonical_json",
    "document_digest",
    "format_bound",
    "l1_hypothesis",
    "package_versions",
    "parse_document",
    "schema",
]

#: Schema id written into (and required from) every certificate file.
SCHEMA_ID = "certify.certificate/1"
_SCHEMA_PREFIX = "certify.certificate/"
_SCHEMA_RESOURCE = ("certificates", "schema", "certificate-v1.json")

VERDICTS = ("HOLDS", "VIOLATED", "UNKNOWN")
ROUTES = ("direct", "L1", "L2", "L2S")
PART_FUNCTIONS = ("residual", "diagonal_residual", "feature_gap", "feature_norm", "diagonal")
QUANTITY = "sup_abs_residual"

#: The hypothesis route L1 rests on (lemma L1 of THEORY.md).
L1_HYPOTHESIS = "r - <phi, phi> is PSD"

#: The hypothesis route L2S rests on: lemma L1 applied to the Nystrom features F.
L2S_HYPOTHESIS = "r - <F, F> is PSD"

#: The lemma each single-lemma route rests on (it must be listed in ``lemmas``).
LEMMA_OF_ROUTE = {"L1": "L1", "L2": "L2"}

#: Every lemma each non-direct route rests on (all must be listed in ``lemmas``).
LEMMAS_OF_ROUTE: dict[str, tuple[str, ...]] = {"L1": ("L1",), "L2": ("L2",), "L2S": ("L1", "L2")}

#: The witness format of Nystrom features F(x) = sum_j C[j, :] r(x, node_j) (lemma L1').
NYSTROM_FORMAT = "certify.nystrom/1"

#: Argument names of each part function.
PART_ARGS = {
    "residual": ("left", "right"),
    "diagonal_residual": ("features",),
    "feature_gap": ("a", "b"),
    "feature_norm": ("features",),
    "diagonal": (),
}

_MLP_FORMAT = "certify.mlp/1"
_CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --- floats ----------------------------------------------------------------------------------
def _hex(x: float) -> str:
    return float(x).hex()


def _number(x: float) -> dict[str, Any]:
    """A float as {"value": decimal (null if not finite), "hex": float.hex}."""
    x = float(x)
    return {"value": x if math.isfinite(x) else None, "hex": _hex(x)}


def _from_hex(text: str, where: str) -> float:
    try:
        return float.fromhex(text)
    except (ValueError, OverflowError, TypeError):
        raise CertificateError(f"{where}: {str(text)[:40]!r} is not a float.hex string") from None


def _hexvec(values: Sequence[float]) -> list[str]:
    return [_hex(v) for v in values]


def _vec_from_hex(values: Sequence[str], where: str) -> tuple[float, ...]:
    return tuple(_from_hex(v, f"{where}[{i}]") for i, v in enumerate(values))


def _is_number_object(obj: Any) -> bool:
    return isinstance(obj, dict) and set(obj) == {"value", "hex"}


def _encode_free(obj: Any, where: str) -> Any:
    """Free-form data (tolerances, method): floats become {value, hex}; JSON types otherwise."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return _number(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InvalidInputError(f"`{where}` keys must be strings; got {k!r}.")
            out[k] = _encode_free(v, f"{where}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_encode_free(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _encode_free(obj.item(), where)
    raise InvalidInputError(
        f"`{where}` must hold JSON data (str, int, float, bool, None, lists, dicts); got "
        f"{type(obj).__name__}."
    )


def _decode_free(obj: Any, where: str) -> Any:
    if _is_number_object(obj):
        return _from_hex(obj["hex"], where)
    if isinstance(obj, dict):
        return {k: _decode_free(v, f"{where}/{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_free(v, f"{where}/{i}") for i, v in enumerate(obj)]
    return obj


def _check_number_objects(obj: Any, where: str) -> None:
    """Every {value, hex} pair must agree exactly (null value <-> non-finite hex)."""
    if _is_number_object(obj):
        h = _from_hex(obj["hex"], where)
        v = obj["value"]
        if v is None:
            if math.isfinite(h):
                raise CertificateError(
                    f"decimal/hex disagreement at {where}: value null but hex {obj['hex']!r} is "
                    "finite"
                )
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != h:
            raise CertificateError(
                f"decimal/hex disagreement at {where}: value {v!r} but hex {obj['hex']!r} = {h!r}"
            )
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_number_objects(v, f"{where}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_number_objects(v, f"{where}/{i}")


def canonical_json(document: Mapping[str, Any]) -> str:
    """The canonical JSON text the digest is computed from (sorted keys, compact, ASCII)."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def document_digest(document: Mapping[str, Any]) -> str:
    """The digest of a certificate document: sha256 of :func:`canonical_json` without 'digest'.

    Tools that edit a certificate on purpose (and tests that tamper with one) recompute
    it with this function; the checker's re-evaluation is what catches a wrong number.
    """
    body = {k: v for k, v in document.items() if k != "digest"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


_digest_of = document_digest


def format_bound(x: float, *, direction: str = "up", digits: int = 3) -> str:
    """A short decimal for a bound, rounded in the safe direction.

    ``direction="up"`` gives a decimal >= x (for upper bounds and thresholds, so a quoted
    figure stays true), ``"down"`` one <= x (for lower bounds). A float whose shortest
    round-tripping repr has at most ``digits`` significant digits (``0.1``, ``1e-3``) is
    shown as that repr, which names exactly that float.

    Examples
    --------
    >>> format_bound(0.00031001), format_bound(0.00031001, direction="down")
    ('3.11e-04', '3.10e-04')
    >>> format_bound(0.001), format_bound(math.inf), format_bound(0.0)
    ('0.001', 'inf', '0')
    """
    from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    short = repr(float(x))
    mantissa = short.split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    if len(mantissa) <= digits:
        return short
    d = Decimal(x)  # exact
    q = Decimal(1).scaleb(d.adjusted() - digits + 1)
    r = d.quantize(q, rounding=ROUND_CEILING if direction == "up" else ROUND_FLOOR)
    exponent = r.adjusted()
    mant = r.scaleb(-exponent)
    return f"{mant:.{digits - 1}f}e{exponent:+03d}"


def _pretty(obj: Any, level: int = 0) -> str:
    """Deterministic, readable JSON: objects one key a line, scalar lists and small
    scalar objects on one line."""
    ind, ind1 = "  " * level, "  " * (level + 1)

    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if len(obj) <= 3 and all(scalar(v) for v in obj.values()):
            return json.dumps(obj, ensure_ascii=True, allow_nan=False)
        items = [f"{ind1}{json.dumps(k)}: {_pretty(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + ind + "}"
    if isinstance(obj, list):
        if all(scalar(v) for v in obj):
            return json.dumps(obj, ensure_ascii=True, allow_nan=False)
        items = [f"{ind1}{_pretty(v, level + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + ind + "]"
    return json.dumps(obj, ensure_ascii=True, allow_nan=False)


def _index(value: Any) -> int:
    """An int from an int-like (numpy integers too); bools and floats raise TypeError."""
    if isinstance(value, bool):
        raise TypeError("bool is not an index")
    return operator.index(value)


# --- components ------------------------------------------------------------------------------
def l1_hypothesis(features: str) -> str:
    """The statement of lemma L1's hypothesis about the features ``features``.

    >>> l1_hypothesis("phi") == L1_HYPOTHESIS, l1_hypothesis("F") == L2S_HYPOTHESIS
    (True, True)
    """
    return f"r - <{features}, {features}> is PSD"


def _check_str(value: Any, name: str, *, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"`{name}` must be a non-empty string; got {value!r}.")
    return value


def _finite_tuple(values: Any, name: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidInputError(f"`{name}` must be a sequence of floats; got {values!r}.") from None
    if not all(math.isfinite(v) for v in out):
        raise InvalidInputError(f"`{name}` must hold finite floats; got {list(out)!r}.")
    return out


def _float(value: Any, name: str, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool):
        raise InvalidInputError(f"`{name}` must be a float; got {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"`{name}` must be a float; got {value!r}.") from None
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        raise InvalidInputError(
            f"`{name}` must be a {'float' if allow_inf else 'finite float'}; got {out!r}."
        )
    return out


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis of a route (e.g. lemma L1's "r - <phi, phi> is PSD").

    ``justification`` is ``None`` (asserted) or a dict whose ``"kind"`` names a
    justification verifier of the checker, with whatever data that verifier reads. The
    checker's default table knows ``{"kind": "nystrom-l1prime", "features": NAME}``
    (lemma L1': the witness ``NAME`` is Nystrom features whose Gram matrix G has
    ``lambda_max(G) <= 1``, proven in ball arithmetic), for the statement
    ``l1_hypothesis(NAME)``.
    """

    statement: str
    justification: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_str(self.statement, "statement")
        if self.justification is not None:
            if not isinstance(self.justification, Mapping) or not isinstance(
                self.justification.get("kind"), str
            ):
                raise InvalidInputError(
                    "`justification` must be None or a dict with a string 'kind'; got "
                    f"{self.justification!r}."
                )
            object.__setattr__(self, "justification", copy.deepcopy(dict(self.justification)))


@dataclass(frozen=True)
class Instance:
    """What is certified: relation, x- and y-domains (spec strings), and the measure (or None)."""

    relation: str
    x_domain: str
    y_domain: str
    measure: str | None = None

    def __post_init__(self) -> None:
        _check_str(self.relation, "relation")
        _check_str(self.x_domain, "x_domain")
        _check_str(self.y_domain, "y_domain")
        _check_str(self.measure, "measure", allow_none=True)


@dataclass(frozen=True)
class Cover:
    """A bisection tree of a root box, in preorder.

    ``tree``: -1 for a leaf, k >= 0 for an internal node split along coordinate k;
    ``splits``: one split value per internal node (preorder), children ``[lo, s]`` then
    ``[s, hi]``; ``leaf_upper``: the engine's bound of sup |f| per leaf (informational).

    Examples
    --------
    >>> c = Cover(tree=(0, -1, -1), splits=(0.0,), leaf_upper=(0.5, 0.25))
    >>> c.n_leaves
    2
    """

    tree: tuple[int, ...]
    splits: tuple[float, ...] = ()
    leaf_upper: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        try:
            tree = tuple(_index(t) for t in self.tree)
        except TypeError:
            tree = ()
        if not tree or not all(t >= -1 for t in tree):
            raise InvalidInputError(
                "`tree` must be a non-empty sequence of ints >= -1 (-1 = leaf, k = split along "
                "coordinate k)."
            )
        object.__setattr__(self, "tree", tree)
        object.__setattr__(self, "splits", _finite_tuple(self.splits, "splits"))
        leaf_upper = tuple(_float(v, "leaf_upper", allow_inf=True) for v in self.leaf_upper)
        object.__setattr__(self, "leaf_upper", leaf_upper)

    @property
    def n_leaves(self) -> int:
        return sum(1 for t in self.tree if t < 0)

    @classmethod
    def single_leaf(cls, leaf_upper: float = math.inf) -> Cover:
        """The trivial cover: the root box is the only leaf."""
        return cls(tree=(-1,), splits=(), leaf_upper=(leaf_upper,))


@dataclass(frozen=True)
class Part:
    """One enclosure ``lower <= sup_box |f| <= upper`` with its cover.

    ``function``: ``residual`` (r(x, y) - <a(x), b(y)>, args left/right, box X x Y),
    ``diagonal_residual`` (r(x, x) - |a(x)|^2, args features, box X), ``feature_gap``
    (|a(x) - b(x)|, args a/b), ``feature_norm`` (|a(x)|, args features), ``diagonal``
    (r(x, x), no args, box X: kappa of lemma L2). ``point`` is
    where |f| >= ``lower`` (None only when ``lower <= 0``).
    """

    name: str
    function: str
    args: Mapping[str, str]
    domain_lower: tuple[float, ...]
    domain_upper: tuple[float, ...]
    cover: Cover
    lower: float
    upper: float
    point: tuple[float, ...] | None

    def __post_init__(self) -> None:
        _check_str(self.name, "name")
        if self.function not in PART_FUNCTIONS:
            raise InvalidInputError(
                f"`function` of part {self.name!r} must be one of {', '.join(PART_FUNCTIONS)}; "
                f"got {self.function!r}."
            )
        args = dict(self.args)
        want = PART_ARGS[self.function]
        if set(args) != set(want) or not all(isinstance(v, str) and v for v in args.values()):
            raise InvalidInputError(
                f"`args` of part {self.name!r} ({self.function}) must map exactly "
                f"{', '.join(want) or '(nothing)'} to network names; got {args!r}."
            )
        object.__setattr__(self, "args", args)
        lo = _finite_tuple(self.domain_lower, "domain_lower")
        hi = _finite_tuple(self.domain_upper, "domain_upper")
        if not lo or len(lo) != len(hi) or not all(a < b for a, b in zip(lo, hi, strict=True)):
            raise InvalidInputError(
                f"the domain of part {self.name!r} must satisfy lower < upper in every "
                f"coordinate; got lower={list(lo)}, upper={list(hi)}."
            )
        object.__setattr__(self, "domain_lower", lo)
        object.__setattr__(self, "domain_upper", hi)
        if not isinstance(self.cover, Cover):
            raise InvalidInputError(f"`cover` of part {self.name!r} must be a Cover.")
        object.__setattr__(self, "lower", _float(self.lower, "lower"))
        object.__setattr__(self, "upper", _float(self.upper, "upper", allow_inf=True))
        if not self.lower <= self.upper:
            raise InvalidInputError(
                f"part {self.name!r} has lower {self.lower!r} > upper {self.upper!r}."
            )
        if self.point is None:
            if self.lower > 0:
                raise InvalidInputError(
                    f"part {self.name!r} states lower {self.lower!r} > 0 but gives no point."
                )
        else:
            pt = _finite_tuple(self.point, "point")
            if len(pt) != len(lo):
                raise InvalidInputError(
                    f"`point` of part {self.name!r} has {len(pt)} coordinates; its box has "
                    f"{len(lo)}."
                )
            object.__setattr__(self, "point", pt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": self.function,
            "args": dict(self.args),
            "domain": {"lower": _hexvec(self.domain_lower), "upper": _hexvec(self.domain_upper)},
            "cover": {
                "tree": list(self.cover.tree),
                "splits": _hexvec(self.cover.splits),
                "leaf_upper": _hexvec(self.cover.leaf_upper),
            },
            "lower": _number(self.lower),
            "upper": _number(self.upper),
            "point": None if self.point is None else _hexvec(self.point),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "/parts") -> Part:
        cover = data["cover"]
        return cls(
            name=data["name"],
            function=data["function"],
            args=data["args"],
            domain_lower=_vec_from_hex(data["domain"]["lower"], f"{where}/domain/lower"),
            domain_upper=_vec_from_hex(data["domain"]["upper"], f"{where}/domain/upper"),
            cover=Cover(
                tree=tuple(cover["tree"]),
                splits=_vec_from_hex(cover["splits"], f"{where}/cover/splits"),
                leaf_upper=_vec_from_hex(cover["leaf_upper"], f"{where}/cover/leaf_upper"),
            ),
            lower=_from_hex(data["lower"]["hex"], f"{where}/lower"),
            upper=_from_hex(data["upper"]["hex"], f"{where}/upper"),
            point=None if data["point"] is None else _vec_from_hex(data["point"], f"{where}/point"),
        )


@dataclass(frozen=True)
class Sidecar:
    """A witness network stored next to the certificate as an ``.npz`` file.

    ``path`` is relative to the certificate's folder; ``data`` the exact file bytes
    (their sha256 is recorded in the certificate). Build one with :meth:`from_network`,
    which writes the MLP dictionary deterministically.
    """

    path: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        p = _check_str(self.path, "path")
        assert p is not None
        parts = Path(p).parts
        if Path(p).is_absolute() or "\\" in p or ".." in parts or not p.endswith(".npz"):
            raise InvalidInputError(
                f"sidecar `path` must be a relative path ending in .npz without '..'; got {p!r}."
            )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def network(self) -> dict[str, Any]:
        """The MLP dictionary stored in the sidecar."""
        from certify.certificates.arb_models import mlp_dict_from_npz

        return mlp_dict_from_npz(self.data, name=self.path)

    @classmethod
    def from_network(cls, path: str, network: Any) -> Sidecar:
        """A sidecar holding ``network`` (an MLP dict, or an object with ``to_dict()``)."""
        from certify.certificates.arb_models import mlp_npz_bytes

        return cls(path, mlp_npz_bytes(_network_dict(network, path)))


def _network_dict(network: Any, name: str) -> dict[str, Any]:
    if hasattr(network, "to_dict") and callable(network.to_dict):
        network = network.to_dict()
    if isinstance(network, Mapping) and network.get("format") == NYSTROM_FORMAT:
        return _nystrom_dict(network, name)
    if not isinstance(network, Mapping) or network.get("format") != _MLP_FORMAT:
        raise InvalidInputError(
            f"witness network {name!r} must be an MLP dict of format {_MLP_FORMAT!r}, a "
            f"Nystrom dict of format {NYSTROM_FORMAT!r}, a Sidecar, or an object with "
            f"to_dict(); got {type(network).__name__}."
        )
    return copy.deepcopy(dict(network))


def _hex_matrix(value: Any, where: str) -> list[list[str]]:
    """A non-empty rectangular matrix of finite float.hex strings (validated, copied)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInputError(f"{where} must be a non-empty list of rows.")
    rows: list[list[str]] = []
    for i, row in enumerate(value):
        if not isinstance(row, (list, tuple)) or not row:
            raise InvalidInputError(f"{where}[{i}] must be a non-empty list of float.hex strings.")
        out = []
        for j, v in enumerate(row):
            if not isinstance(v, str):
                raise InvalidInputError(
                    f"{where}[{i}][{j}] must be a float.hex string; got {type(v).__name__}."
                )
            try:
                x = float.fromhex(v)
            except (ValueError, OverflowError):
                raise InvalidInputError(
                    f"{where}[{i}][{j}] is not a float.hex string: {v[:40]!r}."
                ) from None
            if not math.isfinite(x):
                raise InvalidInputError(f"{where}[{i}][{j}] must be finite; got {v!r}.")
            out.append(v)
        rows.append(out)
    if len({len(r) for r in rows}) != 1:
        raise InvalidInputError(f"{where} is not rectangular (rows of different lengths).")
    return rows


def _nystrom_dict(network: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Validate Nystrom features ``F(x) = sum_j C[j, :] r(x, node_j)`` (format certify.nystrom/1).

    Keys: ``format``, ``relation`` (a spec string of a symmetric relation), ``nodes``
    (n rows of dim float.hex strings), ``coefficients`` (n rows of m float.hex strings).
    """
    keys = {"format", "relation", "nodes", "coefficients"}
    if set(network) != keys:
        raise InvalidInputError(
            f"Nystrom witness {name!r} must have exactly the keys {sorted(keys)}; got "
            f"{sorted(map(str, network))}."
        )
    spec = network["relation"]
    if not isinstance(spec, str) or not spec:
        raise InvalidInputError(f"Nystrom witness {name!r}: `relation` must be a spec string.")
    from certify.errors import CertifyError
    from certify.relations.spec import parse_relation

    try:
        relation = parse_relation(spec)
    except CertifyError as exc:
        raise InvalidInputError(
            f"Nystrom witness {name!r}: relation {spec!r} does not parse: {_one_line(exc, 200)}"
        ) from None
    if not relation.symmetric:
        raise InvalidInputError(
            f"Nystrom witness {name!r}: relation {spec!r} is not symmetric; Nystrom features "
            "(lemma L1') need a symmetric PSD kernel."
        )
    nodes = _hex_matrix(network["nodes"], f"Nystrom witness {name!r} nodes")
    coefficients = _hex_matrix(network["coefficients"], f"Nystrom witness {name!r} coefficients")
    if len(nodes) != len(coefficients):
        raise InvalidInputError(
            f"Nystrom witness {name!r}: {len(nodes)} nodes but {len(coefficients)} coefficient "
            "rows (one row per node)."
        )
    dim = len(nodes[0])
    if relation.x_dim is not None and relation.x_dim != dim:
        raise InvalidInputError(
            f"Nystrom witness {name!r}: nodes have dimension {dim}, relation {spec!r} takes "
            f"{relation.x_dim}."
        )
    return {
        "format": NYSTROM_FORMAT,
        "relation": spec,
        "nodes": nodes,
        "coefficients": coefficients,
    }


def package_versions() -> dict[str, str]:
    """Versions of python and of the packages a certificate's numbers depend on."""
    out = {"python": platform.python_version()}
    for dist in ("certify-relations", "numpy", "scipy", "sympy", "numba", "python-flint", "mpmath"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the certificate -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Certificate:
    """A certificate of a sup-norm claim about a relation and its witness networks.

    Parameters
    ----------
    verdict : {"HOLDS", "VIOLATED", "UNKNOWN"}
        HOLDS needs ``upper <= eps``; VIOLATED needs ``lower > eps`` and a witness point.
    eps : float
        The claimed threshold, finite and > 0.
    lower, upper : float
        The enclosure ``lower <= sup |e| <= upper`` (``upper = inf`` when nothing is proven).
    witness_point : (x, y) or None
        Coordinates of the point behind ``lower`` (None only when ``lower <= 0``).
    claim : str
        The statement, in words.
    instance : Instance
        Relation, domains and measure as spec strings.
    witness : dict
        Network name -> MLP dict (format ``certify.mlp/1``), :class:`Sidecar`, or inline
        Nystrom features (format ``certify.nystrom/1``: ``relation`` spec, ``nodes`` (n, dim)
        and ``coefficients`` (n, m) as float.hex strings, F(x) = sum_j C[j, :] r(x, node_j));
        ``"phi"`` is required, ``"psi"`` absent or None means psi = phi; routes L2 / L2S
        add ``"F"`` (and L2 ``"G"``).
    route : {"direct", "L1", "L2", "L2S"}
        How ``upper`` is assembled from the parts (THEORY.md, L1 and L2; L2S is lemma L2's
        symmetric form, u = T + 2 sqrt(kappa) Delta + Delta^2, parts ``T`` =
        diagonal_residual(F), ``Delta`` = feature_gap(F, phi), ``kappa`` = diagonal()).
    hypotheses : sequence of Hypothesis
        Hypotheses of the route (L1: "r - <phi, phi> is PSD"; L2S: "r - <F, F> is PSD").
    parts : sequence of Part
        The enclosures the route combines (empty only when ``upper`` is inf).
    theorem, lemmas, tolerances, method, seed, versions, created
        Provenance: theorem id ("T-S", "T-A", None), lemma ids, tolerances actually
        used, the method's settings, the seed, package versions, creation time (ISO-8601
        UTC, e.g. ``2024-06-01T12:00:00Z``).
    """

    verdict: str
    eps: float
    lower: float
    upper: float
    witness_point: tuple[tuple[float, ...], tuple[float, ...]] | None
    claim: str
    instance: Instance
    witness: Mapping[str, Any]
    route: str = "direct"
    hypotheses: tuple[Hypothesis, ...] = ()
    parts: tuple[Part, ...] = ()
    theorem: str | None = None
    lemmas: tuple[str, ...] = ()
    tolerances: Mapping[str, Any] = field(default_factory=dict)
    method: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    versions: Mapping[str, str] = field(default_factory=package_versions)
    created: str = field(default_factory=_utc_now)
    quantity: str = QUANTITY

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise InvalidInputError(
                f"`verdict` must be one of {', '.join(VERDICTS)}; got {self.verdict!r}."
            )
        if self.quantity != QUANTITY:
            raise InvalidInputError(f"`quantity` must be {QUANTITY!r}; got {self.quantity!r}.")
        eps = _float(self.eps, "eps")
        if not eps > 0:
            raise InvalidInputError(f"`eps` must be > 0; got {eps!r}.")
        lower = _float(self.lower, "lower")
        upper = _float(self.upper, "upper", allow_inf=True)
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        if not lower <= upper:
            raise InvalidInputError(f"`lower` {lower!r} must be <= `upper` {upper!r}.")
        if self.verdict == "HOLDS" and not upper <= eps:
            raise InvalidInputError(
                f"verdict HOLDS needs upper <= eps; got upper={upper!r}, eps={eps!r}."
            )
        if self.verdict == "VIOLATED" and not lower > eps:
            raise InvalidInputError(
                f"verdict VIOLATED needs lower > eps; got lower={lower!r}, eps={eps!r}."
            )
        self._init_point(lower)
        _check_str(self.claim, "claim")
        if not isinstance(self.instance, Instance):
            raise InvalidInputError("`instance` must be an Instance.")
        self._init_witness()
        self._init_route()
        if self.theorem is not None:
            _check_str(self.theorem, "theorem")
        lemmas = tuple(self.lemmas)
        if not all(isinstance(v, str) and v for v in lemmas):
            raise InvalidInputError(f"`lemmas` must be lemma ids (strings); got {lemmas!r}.")
        needed = [n for n in LEMMAS_OF_ROUTE.get(self.route, ()) if n not in lemmas]
        if needed:
            raise InvalidInputError(
                f"route {self.route} rests on lemma{'s' if len(needed) > 1 else ''} "
                f"{' and '.join(needed)} of THEORY.md; list "
                f"{'them' if len(needed) > 1 else 'it'} in `lemmas` (got {list(lemmas)})."
            )
        object.__setattr__(self, "lemmas", lemmas)
        for name in ("tolerances", "method"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise InvalidInputError(f"`{name}` must be a dict; got {type(value).__name__}.")
            object.__setattr__(self, name, copy.deepcopy(dict(value)))
        if self.seed is not None:
            try:
                object.__setattr__(self, "seed", _index(self.seed))
            except TypeError:
                raise InvalidInputError(
                    f"`seed` must be an int or None; got {self.seed!r}."
                ) from None
        versions = dict(self.versions)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items()):
            raise InvalidInputError("`versions` must map package names to version strings.")
        object.__setattr__(self, "versions", versions)
        if not isinstance(self.created, str) or not _CREATED_RE.match(self.created):
            raise InvalidInputError(
                "`created` must be an ISO-8601 UTC time like 2024-06-01T12:00:00Z; got "
                f"{self.created!r}."
            )

    def _init_point(self, lower: float) -> None:
        wp = self.witness_point
        if wp is None:
            if lower > 0:
                raise InvalidInputError(
                    f"`lower` = {lower!r} > 0 needs a `witness_point` (the point behind it)."
                )
            if self.verdict == "VIOLATED":
                raise InvalidInputError("verdict VIOLATED needs a `witness_point`.")
            return
        if isinstance(wp, Mapping):
            wp = (wp["x"], wp["y"])
        if len(wp) != 2:
            raise InvalidInputError("`witness_point` must be a pair (x, y) of coordinate lists.")
        object.__setattr__(
            self,
            "witness_point",
            (_finite_tuple(wp[0], "witness_point x"), _finite_tuple(wp[1], "witness_point y")),
        )

    def _init_witness(self) -> None:
        if not isinstance(self.witness, Mapping):
            raise InvalidInputError("`witness` must be a dict: network name -> network.")
        out: dict[str, Any] = {}
        for name, net in self.witness.items():
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"witness names must be non-empty strings; got {name!r}.")
            if net is None:
                if name != "psi":
                    raise InvalidInputError(
                        f"only 'psi' may be None in the witness (psi = phi); {name!r} is None."
                    )
                continue
            out[name] = net if isinstance(net, Sidecar) else _network_dict(net, name)
        if "phi" not in out:
            raise InvalidInputError("`witness` must contain the network 'phi'.")
        paths = [n.path for n in out.values() if isinstance(n, Sidecar)]
        if len(paths) != len(set(paths)):
            raise InvalidInputError(f"two witness sidecars share a path: {sorted(paths)}.")
        object.__setattr__(self, "witness", out)

    def _init_route(self) -> None:
        if self.route not in ROUTES:
            raise InvalidInputError(
                f"`route` must be one of {', '.join(ROUTES)}; got {self.route!r}."
            )
        hyps = tuple(self.hypotheses)
        if not all(isinstance(h, Hypothesis) for h in hyps):
            raise InvalidInputError("`hypotheses` must be Hypothesis records.")
        object.__setattr__(self, "hypotheses", hyps)
        parts = tuple(self.parts)
        if not all(isinstance(p, Part) for p in parts):
            raise InvalidInputError("`parts` must be Part records.")
        object.__setattr__(self, "parts", parts)
        names = [p.name for p in parts]
        if len(names) != len(set(names)):
            raise InvalidInputError(f"part names must be unique; got {names}.")
        if not parts:
            if math.isfinite(self.upper):
                raise InvalidInputError(
                    f"a finite `upper` ({self.upper!r}) needs the parts that prove it; got none."
                )
            return
        needed_hyp = {"L1": L1_HYPOTHESIS, "L2S": L2S_HYPOTHESIS}.get(self.route)
        if needed_hyp is not None and not any(h.statement == needed_hyp for h in hyps):
            raise InvalidInputError(
                f"route {self.route} needs the hypothesis {needed_hyp!r} (lemma L1 of "
                f"THEORY.md); got {[h.statement for h in hyps]}."
            )
        for p in parts:
            for net in p.args.values():
                if net not in self.witness and not (net == "psi" and "phi" in self.witness):
                    raise InvalidInputError(
                        f"part {p.name!r} uses network {net!r}, which is not in the witness."
                    )
        _check_route_parts(self.route, parts, has_psi=self.witness.get("psi") is not None)

    # -- derived -------------------------------------------------------------------------------
    @property
    def psi_is_phi(self) -> bool:
        """Whether the model is symmetric, <phi, phi> (no separate psi)."""
        return self.witness.get("psi") is None

    def network(self, name: str) -> dict[str, Any]:
        """The MLP dictionary of a witness network (``"psi"`` falls back to phi)."""
        if name == "psi" and self.psi_is_phi:
            name = "phi"
        net = self.witness[name]
        return net.network if isinstance(net, Sidecar) else net

    @property
    def n_leaves(self) -> int:
        return sum(p.cover.n_leaves for p in self.parts)

    def to_document(self) -> dict[str, Any]:
        """The JSON document as a dict (with its digest)."""
        witness: dict[str, Any] = {}
        for name, net in self.witness.items():
            if isinstance(net, Sidecar):
                witness[name] = {"npz": net.path, "sha256": net.sha256}
            else:
                witness[name] = net
        wp = self.witness_point
        doc: dict[str, Any] = {
            "schema": SCHEMA_ID,
            "digest": "",
            "claim": {
                "statement": self.claim,
                "quantity": self.quantity,
                "eps": _number(self.eps),
                "verdict": self.verdict,
                "lower": _number(self.lower),
                "upper": _number(self.upper),
                "witness_point": None if wp is None else {"x": _hexvec(wp[0]), "y": _hexvec(wp[1])},
            },
            "theorem": self.theorem,
            "lemmas": list(self.lemmas),
            "instance": {
                "relation": self.instance.relation,
                "x_domain": self.instance.x_domain,
                "y_domain": self.instance.y_domain,
                "measure": self.instance.measure,
            },
            "witness": witness,
            "route": {
                "name": self.route,
                "hypotheses": [
                    {
                        "statement": h.statement,
                        "justification": _encode_free(h.justification, "justification"),
                    }
                    for h in self.hypotheses
                ],
            },
            "parts": [p.to_dict() for p in self.parts],
            "tolerances": _encode_free(self.tolerances, "tolerances"),
            "method": _encode_free(self.method, "method"),
            "seed": self.seed,
            "versions": dict(self.versions),
            "created": self.created,
        }
        doc["digest"] = _digest_of(doc)
        return doc

    def to_json(self) -> str:
        """The certificate file's text (deterministic; what :meth:`save` writes)."""
        return _pretty(self.to_document()) + "\n"

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the document without its digest key."""
        return str(self.to_document()["digest"])

    @property
    def sha256(self) -> str:
        """sha256 of the file :meth:`save` writes (the figure to cite)."""
        return hashlib.sha256(self.to_json().encode("ascii")).hexdigest()

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the certificate (and its sidecars) atomically; return the path.

        Each file is written to a temporary file in the target folder, flushed,
        fsync'ed and moved into place with ``os.replace``; the text is produced before
        any file is opened, so a serialisation error leaves nothing behind.
        """
        target = Path(path)
        text = self.to_json()
        _validate_document(json.loads(text), source=str(target))
        folder = target.parent
        for net in self.witness.values():
            if isinstance(net, Sidecar):
                dest = folder / net.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(dest, net.data)
        _atomic_write(target, text.encode("ascii"))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Certificate:
        """Read, validate and return a certificate file (sidecars are verified too).

        Raises
        ------
        CertificateError
            With a one-line reason: unreadable file, invalid JSON (e.g. truncated), not a
            certificate, unknown schema version, schema violation, digest mismatch,
            decimal/hex disagreement, missing sidecar or sidecar hash mismatch, or an
            inconsistent record.
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise CertificateError(f"cannot read certificate {str(p)!r}: {exc.strerror}") from None
        return cls._from_bytes(raw, base=p.parent, source=str(p))

    @classmethod
    def from_json(
        cls, text: str | bytes, *, base: str | os.PathLike[str] | None = None
    ) -> Certificate:
        """Parse certificate text; ``base`` is the folder sidecar paths are relative to."""
        raw = text.encode("utf-8") if isinstance(text, str) else text
        return cls._from_bytes(raw, base=None if base is None else Path(base), source="<text>")

    @classmethod
    def _from_bytes(cls, raw: bytes, *, base: Path | None, source: str) -> Certificate:
        doc = parse_document(raw, source=source)
        witness: dict[str, Any] = {}
        for name, net in doc["witness"].items():
            if net is None or "format" in net:
                witness[name] = net
                continue
            witness[name] = _read_sidecar(name, net, base)
        try:
            return _certificate_from_document(doc, witness)
        except InvalidInputError as exc:
            raise CertificateError(
                f"{source}: inconsistent certificate: {_one_line(exc)}"
            ) from None


def _one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@functools.cache
def _validator() -> Any:
    import jsonschema

    ref = resources.files("certify").joinpath(*_SCHEMA_RESOURCE)
    schema = json.loads(ref.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema() -> dict[str, Any]:
    """The JSON schema of certificate files (a copy)."""
    return copy.deepcopy(_validator().schema)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def parse_document(raw: bytes, *, source: str = "<text>") -> dict[str, Any]:
    """Decode and validate a certificate document: JSON, schema id, schema, digest, floats.

    Returns the parsed document; raises :class:`CertificateError` with a one-line reason.
    """
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise CertificateError(f"{source}: not a certificate (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise CertificateError(
            f"{source}: invalid JSON (truncated or corrupted file?): {exc.msg} at line "
            f"{exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise CertificateError(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
        raise CertificateError(f"{source}: not a certify certificate (no 'schema' id)")
    sid = doc["schema"]
    if sid != SCHEMA_ID:
        if sid.startswith(_SCHEMA_PREFIX):
            raise CertificateError(
                f"{source}: unknown schema version {sid!r}; this certify reads {SCHEMA_ID!r} "
                "(a newer certify may read it)"
            )
        raise CertificateError(f"{source}: not a certify certificate (schema {sid[:60]!r})")
    _validate_document(doc, source=source)
    computed = _digest_of(doc)
    if doc["digest"] != computed:
        raise CertificateError(
            f"{source}: digest mismatch (stored {doc['digest'][:16]}..., content hashes to "
            f"{computed[:16]}...): the file was modified after it was written"
        )
    _check_number_objects(doc, "")
    return doc


def _validate_document(doc: Any, *, source: str) -> None:
    import jsonschema

    err = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if err is not None:
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        raise CertificateError(
            f"{source}: schema violation at {where}: {_one_line(err.message, 200)}"
        )


def _read_sidecar(name: str, entry: Mapping[str, Any], base: Path | None) -> Sidecar:
    rel = entry["npz"]
    if base is None:
        raise CertificateError(
            f"witness {name!r} is a sidecar ({rel!r}); load the certificate from its file"
        )
    try:
        Sidecar(rel, b"")
    except InvalidInputError as exc:
        raise CertificateError(f"witness {name!r}: {_one_line(exc)}") from None
    path = base / rel
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"sidecar of witness {name!r} is missing: {str(path)!r}") from None
    except OSError as exc:
        raise CertificateError(f"cannot read sidecar {str(path)!r}: {exc.strerror}") from None
    got = hashlib.sha256(data).hexdigest()
    if got != entry["sha256"]:
        raise CertificateError(
            f"sidecar {rel!r} of witness {name!r} has sha256 {got[:16]}..., the certificate "
            f"records {entry['sha256'][:16]}... (wrong or modified file)"
        )
    sidecar = Sidecar(rel, data)
    try:
        sidecar.network  # noqa: B018 - parse now, so a bad file fails at load
    except CertificateError as exc:
        raise CertificateError(f"sidecar {rel!r}: {_one_line(exc)}") from None
    return sidecar


def _certificate_from_document(doc: Mapping[str, Any], witness: Mapping[str, Any]) -> Certificate:
    claim = doc["claim"]
    wp = claim["witness_point"]
    inst = doc["instance"]
    return Certificate(
        verdict=claim["verdict"],
        quantity=claim["quantity"],
        eps=_from_hex(claim["eps"]["hex"], "/claim/eps"),
        lower=_from_hex(claim["lower"]["hex"], "/claim/lower"),
        upper=_from_hex(claim["upper"]["hex"], "/claim/upper"),
        witness_point=None
        if wp is None
        else (
            _vec_from_hex(wp["x"], "/claim/witness_point/x"),
            _vec_from_hex(wp["y"], "/claim/witness_point/y"),
        ),
        claim=claim["statement"],
        theorem=doc["theorem"],
        lemmas=tuple(doc["lemmas"]),
        instance=Instance(inst["relation"], inst["x_domain"], inst["y_domain"], inst["measure"]),
        witness=witness,
        route=doc["route"]["name"],
        hypotheses=tuple(
            Hypothesis(h["statement"], _decode_free(h["justification"], "/route/hypotheses"))
            for h in doc["route"]["hypotheses"]
        ),
        parts=tuple(Part.from_dict(p, f"/parts/{i}") for i, p in enumerate(doc["parts"])),
        tolerances=_decode_free(doc["tolerances"], "/tolerances"),
        method=_decode_free(doc["method"], "/method"),
        seed=doc["seed"],
        versions=doc["versions"],
        created=doc["created"],
    )


def _check_route_parts(route: str, parts: Sequence[Part], *, has_psi: bool) -> None:
    """The parts each route combines (THEORY.md L1, L2); raise InvalidInputError otherwise."""
    psi_names = {"psi"} if has_psi else {"psi", "phi"}

    def describe(p: Part) -> str:
        return f"{p.name}={p.function}({', '.join(f'{k}={v}' for k, v in p.args.items())})"

    got = ", ".join(describe(p) for p in parts)
    if route == "direct":
        ok = (
            len(parts) == 1
            and parts[0].function == "residual"
            and parts[0].args["left"] == "phi"
            and parts[0].args["right"] in psi_names
        )
        want = "one part residual(left=phi, right=psi)"
    elif route == "L2S":
        spec = {
            "T": ("diagonal_residual", {"features": {"F"}}),
            "Delta": ("feature_gap", {"a": {"F"}, "b": {"phi"}}),
            "kappa": ("diagonal", {}),
        }
        by_name = {p.name: p for p in parts}
        ok = (
            not has_psi
            and set(by_name) == set(spec)
            and all(
                by_name[n].function == fn and all(by_name[n].args[k] in v for k, v in args.items())
                for n, (fn, args) in spec.items()
            )
        )
        want = (
            "parts T=diagonal_residual(features=F), Delta=feature_gap(a=F, b=phi), "
            "kappa=diagonal() and no separate psi"
        )
    elif route == "L1":
        ok = (
            len(parts) == 1
            and parts[0].function == "diagonal_residual"
            and parts[0].args["features"] == "phi"
            and not has_psi
        )
        want = "one part diagonal_residual(features=phi) and no separate psi"
    else:
        spec = {
            "e0": ("residual", {"left": {"F"}, "right": {"G"}}),
            "Dphi": ("feature_gap", {"a": {"F"}, "b": {"phi"}}),
            "Dpsi": ("feature_gap", {"a": {"G"}, "b": psi_names}),
            "SF": ("feature_norm", {"features": {"F"}}),
            "SG": ("feature_norm", {"features": {"G"}}),
        }
        by_name = {p.name: p for p in parts}
        ok = set(by_name) == set(spec) and all(
            by_name[n].function == fn and all(by_name[n].args[k] in v for k, v in args.items())
            for n, (fn, args) in spec.items()
        )
        want = (
            "parts e0=residual(F, G), Dphi=feature_gap(F, phi), Dpsi=feature_gap(G, psi), "
            "SF=feature_norm(F), SG=feature_norm(G)"
        )
    if not ok:
        raise InvalidInputError(f"route {route} needs {want}; got {got}.")


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable (POSIX); not possible everywhere
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
