"""The one exception family of certify.

Every error certify raises on purpose derives from :class:`CertifyError`; bad
input raises :class:`InvalidInputError`, which is also a :class:`ValueError` so
that generic ``except ValueError`` handlers keep working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CertificateError",
    "CertifyError",
    "InvalidInputError",
    "NotAPreorderError",
    "NotPSDError",
    "SolverError",
]


class CertifyError(Exception):
    """Base class of every error certify raises on purpose."""


class InvalidInputError(CertifyError, ValueError):
    """An argument violates a documented constraint.

    The message names the argument, the constraint, the value seen and, where
    there is one, the remedy.
    """


class NotPSDError(CertifyError):
    """A relation handed to a symmetric (positive-definite) route is not PSD.

    ``points`` holds the witness points whose Gram matrix has a negative
    eigenvalue (lemma L7 of THEORY.md); ``eigenvalue`` its enclosure, if known.
    """

    def __init__(self, message: str, *, points: Any = None, eigenvalue: Any = None) -> None:
        super().__init__(message)
        self.points = points
        self.eigenvalue = eigenvalue


class NotAPreorderError(CertifyError):
    """A relation fails the preorder axioms; ``cycle`` carries the violation."""

    def __init__(self, message: str, *, cycle: Any = None) -> None:
        super().__init__(message)
        self.cycle = cycle


class SolverError(CertifyError):
    """An optimiser (cvxpy, scipy) failed or returned a proposal that did not re-check."""


class CertificateError(CertifyError):
    """A certificate file is malformed, of an unknown schema version, or tampered with."""
