"""Numba hot paths of certify, each with a pure-numpy twin of the same signature.

Modules
-------
codes
    Kind codes and the formula table of the kernels with a jitted path (the
    single source of truth for both twins).
gram
    Gram matrices, diagonals and paired values (``gram_numba`` / ``gram_numpy``, ...).
residual
    Fused residual reductions ``max |k - <P, Q>|`` and ``sum w w (k - <P, Q>)^2``
    that never form the ``(n, m)`` matrix, plus blocked fallbacks for relations
    given as callables.
mlp
    Dense layers and the MLP forward pass of the feature maps.
interval
    Outward-rounded interval arithmetic primitives (the libm accuracy assumption
    is stated there).
interval_relations
    Value and Clarke-gradient enclosures of every relation over boxes (kernels,
    bilinear forms, generated code for sympy expressions).
interval_mlp
    Interval forward passes and Jacobians of MLPs (naive and mean-value forms).
interval_residual
    Mean-value enclosures of the model error r - <phi, psi>, of lemma L1's diagonal
    and of lemma L2's feature gaps.

The interval kernels are checked against independent 200-300-bit mpmath
evaluations instead of numpy twins (a float twin cannot test an enclosure).

Everything here is low level: inputs are assumed validated by the public layer
(C-contiguous float64 arrays of matching shapes). Nothing is compiled at import
time; numba compiles each kernel on first call and caches it on disk. No
kernel uses ``fastmath``, since the values feed certificates.
"""

import os as _os

# numba's OpenMP threading layer busy-waits between parallel regions by default. The
# engine makes many short parallel calls (one per batch of boxes), and on a shared or
# loaded machine (CI runs two test workers on two cores) the spinning threads fight for
# the cores: measured here, 0.7 ms per call instead of 5 us. Passive waiting is set
# only if the user has not chosen a policy, and takes effect only if no OpenMP region
# has run in this process yet.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
