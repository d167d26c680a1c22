"""What is approximated: kernels, asymmetric relations, domains, measures, quadrature."""

from certify.relations.asymmetric import Bilinear, CallableRelation, ExpressionRelation
from certify.relations.base import LipschitzBound, Relation
from certify.relations.domains import Box, Domain, FiniteSet, RealSpace, Sphere
from certify.relations.evaluation import ResidualMax, gram, residual_max, residual_sumsq
from certify.relations.kernels import (
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
from certify.relations.spec import parse_domain, parse_measure, parse_relation

__all__ = [
    "ArcCosine",
    "Bilinear",
    "Box",
    "Brownian",
    "CallableRelation",
    "Domain",
    "ExpDot",
    "ExpressionRelation",
    "FiniteSet",
    "Gaussian",
    "Kernel",
    "Laplace",
    "LipschitzBound",
    "Matern32",
    "Matern52",
    "Periodic",
    "Polynomial",
    "RealSpace",
    "Relation",
    "ResidualMax",
    "Sphere",
    "gram",
    "parse_domain",
    "parse_measure",
    "parse_relation",
    "residual_max",
    "residual_sumsq",
]
