"""Mercer decompositions (quadrature Nystrom and closed forms) of PSD relations.

THEORY.md, "Objects" and "Tails": eigenvalues, eigenfunctions and features of the
integral operator of a PSD relation w.r.t. a probability measure, their tails,
and the reference instances with known answers.
"""

from certify.spectral.closed_forms import (
    ClosedFormMercer,
    brownian_l2_tail,
    brownian_mercer,
    brownian_trace_tail,
    brownian_uniform_tail,
    fasshauer_mccourt_eigenvalues,
    gaussian_mercer,
    periodic_mercer,
    tensor_eigenvalues,
)
from certify.spectral.mercer import (
    MercerConvergence,
    MercerDecomposition,
    TailEstimate,
    mercer,
    rank_for_tail,
)
from certify.spectral.nystrom import (
    L1PrimeCheck,
    NystromFeatures,
    UniformTail,
    certified_feature_tail,
    certified_uniform_tail,
    certify_l1_prime,
    smallest_certified_rank,
)
from certify.spectral.psd import PSDCheck, check_psd, require_psd

__all__ = [
    "ClosedFormMercer",
    "L1PrimeCheck",
    "MercerConvergence",
    "MercerDecomposition",
    "NystromFeatures",
    "PSDCheck",
    "TailEstimate",
    "UniformTail",
    "brownian_l2_tail",
    "brownian_mercer",
    "brownian_trace_tail",
    "brownian_uniform_tail",
    "certified_feature_tail",
    "certified_uniform_tail",
    "certify_l1_prime",
    "check_psd",
    "fasshauer_mccourt_eigenvalues",
    "gaussian_mercer",
    "mercer",
    "periodic_mercer",
    "rank_for_tail",
    "require_psd",
    "smallest_certified_rank",
    "tensor_eigenvalues",
]
