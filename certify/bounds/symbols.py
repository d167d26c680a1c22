"""The named symbols of the lemma expressions of THEORY.md.

Every quantity that appears in a bound of :mod:`certify.bounds.lemmas` is a
:class:`SymbolInfo`: the sympy object (a ``Symbol`` with real / positive /
integer assumptions, or an ``IndexedBase`` for a sequence such as the
eigenvalues ``lambda_i``), its LaTeX name, what it means, and the domain of
values it accepts. Values are passed by the symbol's ``name`` (``kappa``,
``lambda_``) or by its spelled-out ``alias`` (``sup_diagonal``,
``eigenvalues``).

Indices of sequences run from 1, as in the paper: ``lambda_[i]`` for
``i = 1, ..., d`` is the ``i``-th entry of the sequence passed as ``lambda_``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import sympy

__all__ = ["SymbolInfo", "catalogue", "index_symbol"]

#: How a symbol's values are checked at the boundary.
Domain = Literal["nonnegative", "positive", "integer>=0", "integer>=1"]
#: A scalar, or a sequence indexed from 1 (an ``IndexedBase``).
Shape = Literal["scalar", "sequence"]


@dataclass(frozen=True)
class SymbolInfo:
    """One named symbol of a lemma.

    Attributes
    ----------
    name : str
        Keyword under which its value is passed (``"kappa"``, ``"lambda_"``).
    alias : str
        Spelled-out keyword accepted as well (``"sup_diagonal"``, ``"eigenvalues"``).
    symbol : sympy.Symbol or sympy.IndexedBase
        The object in the lemma's expression.
    latex : str
        The paper's notation.
    description : str
        What the quantity is, with the direction in which a value passed for it
        must be rounded for the bound to stay valid.
    domain : {"nonnegative", "positive", "integer>=0", "integer>=1"}
        Accepted values (each entry, for a sequence).
    shape : {"scalar", "sequence"}
        Sequences are passed as Python sequences, entry ``i`` (from 1) at position ``i - 1``.
    """

    name: str
    alias: str
    symbol: sympy.Symbol | sympy.IndexedBase
    latex: str
    description: str
    domain: Domain
    shape: Shape = "scalar"

    @property
    def integer(self) -> bool:
        """Whether the symbol takes integer values (``d``, ``n``, ``m``, ``p``)."""
        return self.domain.startswith("integer")

    def describe(self) -> str:
        """``name (alias, latex): description [domain]`` on one line."""
        return f"{self.name} ({self.alias}, ${self.latex}$): {self.description} [{self.domain}]"


def _scalar(
    name: str, alias: str, latex: str, description: str, domain: Domain, symbol_name: str = ""
) -> SymbolInfo:
    kw: dict[str, bool] = {"real": True}
    if domain == "positive":
        kw["positive"] = True
    elif domain == "nonnegative":
        kw["nonnegative"] = True
    elif domain == "integer>=0":
        kw = {"integer": True, "nonnegative": True}
    else:
        kw = {"integer": True, "positive": True}
    sym = sympy.Symbol(symbol_name or name, **kw)
    return SymbolInfo(name, alias, sym, latex, description, domain)


def _sequence(name: str, alias: str, latex: str, description: str, domain: Domain) -> SymbolInfo:
    kw: dict[str, bool] = {"real": True}
    if domain == "positive":
        kw["positive"] = True
    elif domain == "nonnegative":
        kw["nonnegative"] = True
    else:
        kw = {"integer": True, "positive": True}
    # The label is a plain Symbol, so a sequence named like a scalar (``n_i`` and ``n``)
    # stays a distinct object; the assumptions go to the entries.
    base = sympy.IndexedBase(sympy.Symbol(latex), **kw)
    return SymbolInfo(name, alias, base, latex, description, domain, "sequence")


@cache
def index_symbol(name: str = "i") -> sympy.Symbol:
    """The summation index ``i`` (integer, positive)."""
    return sympy.Symbol(name, integer=True, positive=True)


@cache
def catalogue() -> dict[str, SymbolInfo]:
    """Every symbol used by the lemmas, keyed by ``name`` (built on first use).

    The descriptions say in which direction a value must be rounded: an upper
    bound on a quantity the bound increases with (tails, Barron constants,
    feature errors), an exact value for integers.

    Examples
    --------
    >>> cat = catalogue()
    >>> cat["kappa"].alias, cat["kappa"].symbol.is_nonnegative
    ('sup_diagonal', True)
    >>> cat["lambda_"].shape
    'sequence'
    """
    s = [
        _scalar(
            "eps",
            "accuracy",
            r"\varepsilon",
            "target accuracy: the value the bound is compared with",
            "positive",
        ),
        _scalar(
            "T",
            "diagonal_residual",
            "T",
            "diagonal residual sup_x (r(x,x) - s(x,x)) of a PSD residual r - s "
            "(an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "T_d",
            "uniform_tail",
            "T(d)",
            "uniform Mercer tail T(d) = sup_x (r(x,x) - |F_d(x)|^2) (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "kappa",
            "sup_diagonal",
            r"\kappa",
            "sup_x r(x,x) (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "Delta",
            "feature_error",
            r"\Delta",
            "sup_x |F_d(x) - phi(x)| in the Euclidean norm of R^d (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "e0",
            "reference_error",
            "e_0",
            "sup |r - <F, G>| of the reference features (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "S_F",
            "sup_norm_F",
            r"\|F\|_\infty",
            "sup_x |F(x)| (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "S_G",
            "sup_norm_G",
            r"\|G\|_\infty",
            "sup_y |G(y)| (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "Delta_phi",
            "feature_error_phi",
            r"\Delta_\phi",
            "sup_x |F(x) - phi(x)| (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "Delta_psi",
            "feature_error_psi",
            r"\Delta_\psi",
            "sup_y |G(y) - psi(y)| (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "R",
            "radius",
            "R",
            "radius of the ball that carries the measure mu (Barron's theorem)",
            "positive",
        ),
        _scalar(
            "C_f",
            "barron_constant",
            "C_f",
            "Barron constant int |w| |f^(w)| dw of the approximated function (an upper bound)",
            "nonnegative",
        ),
        _scalar(
            "n",
            "width",
            "n",
            "hidden units of each one-hidden-layer sigmoidal network",
            "integer>=1",
        ),
        _scalar(
            "tau",
            "l2_tail",
            r"\tau(d)",
            "L2 tail (sum_{i>d} lambda_i^2)^(1/2) of the spectrum (an upper bound on it)",
            "nonnegative",
        ),
        _scalar("d", "rank", "d", "retained eigenpairs (features) d", "integer>=0"),
        _scalar(
            "A",
            "weighted_barron_sum",
            "A",
            "A = sum_{i<=d} lambda_i C_i (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "B",
            "weighted_barron_square_sum",
            "B",
            "B = sum_{i<=d} lambda_i C_i^2 (an upper bound on it)",
            "nonnegative",
        ),
        _scalar(
            "m",
            "n_features",
            "m",
            "feature dimension m of the model (its rank is at most m)",
            "integer>=0",
        ),
        _scalar(
            "gamma",
            "negative_eigenvalue",
            r"\gamma",
            "-gamma is the smallest eigenvalue of a Gram matrix of r (a lower bound on gamma)",
            "positive",
        ),
        _scalar("p", "n_points", "p", "points of that Gram matrix", "integer>=1"),
        _sequence(
            "lambda_",
            "eigenvalues",
            r"\lambda",
            "Mercer eigenvalues lambda_1 >= lambda_2 >= ... (upper bounds, in an upper bound)",
            "nonnegative",
        ),
        _sequence(
            "C",
            "barron_constants",
            "C",
            "Barron constants C_i of the eigenfunctions e_i (upper bounds)",
            "nonnegative",
        ),
        _sequence(
            "n_i",
            "widths",
            "n",
            "hidden units n_i of the network approximating sqrt(lambda_i) e_i",
            "integer>=1",
        ),
        _sequence(
            "sigma",
            "singular_values",
            r"\sigma",
            "singular values sigma_1 >= sigma_2 >= ... of r in L2(mu x nu) "
            "(the eigenvalues lambda_k in the symmetric case)",
            "nonnegative",
        ),
        _sequence(
            "C_u",
            "barron_constants_u",
            "C^u",
            "Barron constants of the left singular functions u_k (upper bounds)",
            "nonnegative",
        ),
        _sequence(
            "C_v",
            "barron_constants_v",
            "C^v",
            "Barron constants of the right singular functions v_k (upper bounds)",
            "nonnegative",
        ),
        _sequence(
            "n_u",
            "widths_u",
            "n^u",
            "hidden units of the network approximating sqrt(sigma_k) u_k",
            "integer>=1",
        ),
        _sequence(
            "n_v",
            "widths_v",
            "n^v",
            "hidden units of the network approximating sqrt(sigma_k) v_k",
            "integer>=1",
        ),
    ]
    return {info.name: info for info in s}


def with_description(info: SymbolInfo, description: str) -> SymbolInfo:
    """``info`` with a lemma-specific description (same sympy object)."""
    return replace(info, description=description)
