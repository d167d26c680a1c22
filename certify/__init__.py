"""certify: numerical certificates for the approximation theorems of relation functions
and attention mechanisms (Altabaa & Lafferty, 2024).

The mathematics and the lemma ids (T-S, T-A, T-Att, L1..L10) are in THEORY.md;
the public API is re-exported here.
"""

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
    "CertificateError",
    "CertifyError",
    "InvalidInputError",
    "NotAPreorderError",
    "NotPSDError",
    "ResidualMax",
    "SolverError",
    "__version__",
    "gram",
    "kernels",
    "parse_domain",
    "parse_measure",
    "parse_relation",
    "quadrature",
    "residual_max",
    "residual_sumsq",
]
