"""What is approximated: kernels, asymmetric relations, domains, measures, quadrature."""

from certify.relations.asymmetric import Bilinear, CallableRelation, ExpressionRelation
from certify.relations.base import LipschitzBound, Relation, RelationEnclosure
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
from certify.relations.measures import Chebyshev, Empirical, Measure, Uniform
from certify.relations.measures import Gaussian as GaussianMeasure
from certify.relations.quadrature import QuadratureRule, quadrature
from certify.relations.spec import parse_domain, parse_measure, parse_relation

__all__ = [
    "ArcCosine",
    "Bilinear",
    "Box",
    "Brownian",
    "CallableRelation",
    "Chebyshev",
    "Domain",
    "Empirical",
    "ExpDot",
    "ExpressionRelation",
    "FiniteSet",
    "Gaussian",
    "GaussianMeasure",
    "Kernel",
    "Laplace",
    "LipschitzBound",
    "Matern32",
    "Matern52",
    "Measure",
    "Periodic",
    "Polynomial",
    "QuadratureRule",
    "RealSpace",
    "Relation",
    "RelationEnclosure",
    "ResidualMax",
    "Sphere",
    "Uniform",
    "gram",
    "parse_domain",
    "parse_measure",
    "parse_relation",
    "quadrature",
    "residual_max",
    "residual_sumsq",
]
