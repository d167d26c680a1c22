"""MLP feature maps (phi, psi in THEORY.md): the witnesses certificates are about.

:class:`MLP` wraps a network trained elsewhere (PyTorch weight convention) with a float
forward pass, point Jacobians, a certified Lipschitz bound, rigorous enclosures over
boxes, and exact serialisation with a content hash.
"""

from certify.networks.mlp import FORMAT, MLP

__all__ = ["FORMAT", "MLP"]
