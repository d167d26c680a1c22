"""The positive-definite kernels of certify, as ``certify.kernels.Gaussian`` etc.

A convenience namespace: the classes live in :mod:`certify.relations.kernels`.
"""

from certify.relations.kernels import (
    KERNELS,
    ArcCosine,
    Brownian,
    ExpDot,
    Gaussian,
    Kernel,
    Laplace,
    Matern32,
    Matern52,
    Periodic,
    Polynomial,
)

__all__ = [
    "KERNELS",
    "ArcCosine",
    "Brownian",
    "ExpDot",
    "Gaussian",
    "Kernel",
    "Laplace",
    "Matern32",
    "Matern52",
    "Periodic",
    "Polynomial",
]
