"""Certificates: the sup-norm enclosure engine, the certificate record, the independent
checker and reports (DESIGN.md, "Certificates: what the words mean").

Names are loaded lazily (PEP 562), so that importing the checker
(``certify.certificates.checker``) does not import the engine or the networks: the
checker shares no evaluation code with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certify.certificates.checker import CheckResult, check, verify
    from certify.certificates.enclosure import BoxFunction, Budget, Enclosure, enclose
    from certify.certificates.functions import (
        DiagonalResidualFunction,
        FeatureGapFunction,
        ResidualFunction,
    )
    from certify.certificates.model import certify_features, certify_model
    from certify.certificates.record import (
        Certificate,
        Cover,
        Hypothesis,
        Instance,
        Part,
        Sidecar,
    )
    from certify.certificates.report import as_json, bibtex, latex_row, summary
    from certify.certificates.symmetric import certify_symmetric

_LAZY = {
    "CheckResult": "checker",
    "check": "checker",
    "verify": "checker",
    "BoxFunction": "enclosure",
    "Budget": "enclosure",
    "Enclosure": "enclosure",
    "enclose": "enclosure",
    "DiagonalResidualFunction": "functions",
    "FeatureGapFunction": "functions",
    "ResidualFunction": "functions",
    "certify_features": "model",
    "certify_model": "model",
    "certify_symmetric": "symmetric",
    "Certificate": "record",
    "Cover": "record",
    "Hypothesis": "record",
    "Instance": "record",
    "Part": "record",
    "Sidecar": "record",
    "as_json": "report",
    "bibtex": "report",
    "latex_row": "report",
    "summary": "report",
}

__all__ = [
    "BoxFunction",
    "Budget",
    "Certificate",
    "CheckResult",
    "Cover",
    "DiagonalResidualFunction",
    "Enclosure",
    "FeatureGapFunction",
    "Hypothesis",
    "Instance",
    "Part",
    "ResidualFunction",
    "Sidecar",
    "as_json",
    "bibtex",
    "certify_features",
    "certify_model",
    "certify_symmetric",
    "check",
    "enclose",
    "latex_row",
    "summary",
    "verify",
]
assert sorted(__all__) == sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'certify.certificates' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"certify.certificates.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
