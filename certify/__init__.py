"""certify: numerical certificates for the approximation theorems of relation functions
and attention mechanisms (Altabaa & Lafferty, 2024).

The mathematics and the lemma ids (T-S, T-A, T-Att, L1..L10) are in THEORY.md;
the public API is re-exported here.

Engine-side names (``MLP``, ``certify_model``, ``enclose``, ``Budget``,
``Certificate``, ``verify``) load lazily on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from certify import kernels
from certify._version import __version__
from certify.errors import (
    CertificateError,
    CertifyError,
    InvalidInputError,
    NotAPreorderError,
    NotPSDError,
    SolverError,
)
from certify.relations import (
    ResidualMax,
    gram,
    parse_domain,
    parse_measure,
    parse_relation,
    quadrature,
    residual_max,
    residual_sumsq,
)

__all__ = [
    "MLP",
    "Budget",
    "Certificate",
    "CertificateError",
    "CertifyError",
    "InvalidInputError",
    "NotAPreorderError",
    "NotPSDError",
    "ResidualMax",
    "SolverError",
    "__version__",
    "certify_features",
    "certify_model",
    "certify_symmetric",
    "check_psd",
    "enclose",
    "gram",
    "kernels",
    "mercer",
    "parse_domain",
    "parse_measure",
    "parse_relation",
    "quadrature",
    "residual_max",
    "residual_sumsq",
    "verify",
]

if TYPE_CHECKING:
    from certify.certificates import (
        Budget,
        Certificate,
        certify_features,
        certify_model,
        certify_symmetric,
        enclose,
        verify,
    )
    from certify.networks import MLP
    from certify.spectral import check_psd, mercer

_LAZY = {
    "MLP": "certify.networks",
    "Budget": "certify.certificates",
    "Certificate": "certify.certificates",
    "certify_features": "certify.certificates",
    "certify_model": "certify.certificates",
    "certify_symmetric": "certify.certificates",
    "enclose": "certify.certificates",
    "verify": "certify.certificates",
    "mercer": "certify.spectral",
    "check_psd": "certify.spectral",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'certify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
