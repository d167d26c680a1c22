"""Symbolic versions of the quantitative lemmas of THEORY.md (L1-L7), rigorously evaluated.

* :mod:`certify.bounds.lemmas`: one :class:`Bound` per lemma (sympy expression in
  named symbols, ``evaluate`` with directed rounding, ``solve_for``, ``latex``).
* :mod:`certify.bounds.barron`: Barron constants from closed-form Fourier data,
  or "unknown" with the reason.
* :mod:`certify.bounds.tails`: spectral tails from eigenvalue sequences and the
  neuron count N(eps) of L4.
"""

from __future__ import annotations

from certify.bounds.barron import (
    EXTENSION_CONVENTION,
    BarronConstant,
    GaussianPolynomial,
    TensorProduct,
    barron_constant,
)
from certify.bounds.lemmas import BOUND_NAMES, Bound, BoundValue, Solution, bound
from certify.bounds.symbols import SymbolInfo, catalogue
from certify.bounds.tails import (
    NeuronCount,
    Tail,
    neurons_for_accuracy,
    spectral_tail,
    spectral_tails,
)

__all__ = [
    "BOUND_NAMES",
    "EXTENSION_CONVENTION",
    "BarronConstant",
    "Bound",
    "BoundValue",
    "GaussianPolynomial",
    "NeuronCount",
    "Solution",
    "SymbolInfo",
    "Tail",
    "TensorProduct",
    "barron_constant",
    "bound",
    "catalogue",
    "neurons_for_accuracy",
    "spectral_tail",
    "spectral_tails",
]
