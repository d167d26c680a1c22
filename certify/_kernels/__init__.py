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

Everything here is low level: inputs are assumed validated by the public layer
(C-contiguous float64 arrays of matching shapes). Nothing is compiled at import
time; numba compiles each kernel on first call and caches it on disk. No
kernel uses ``fastmath``, since the values feed certificates.
"""
