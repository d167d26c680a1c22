"""The lemma expressions of certify.bounds: values, directed rounding, inversion, LaTeX, errors.

Reference values are computed here in exact rational arithmetic (``fractions``) or
from closed forms, never by the code under test. "Directed rounding" means: an
upper bound's float is >= the exact value and the next float below is < it (so the
rounding is outward and tight); a lower bound's float mirrors this.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
import sympy
from flint import arb

from certify.bounds import (
    BOUND_NAMES,
    BarronConstant,
    BoundValue,
    GaussianPolynomial,
    barron_constant,
    bound,
    catalogue,
)
from certify.bounds import lemmas as lemmas_module
from certify.errors import InvalidInputError


def F(x: float) -> Fraction:
    return Fraction(x)


def value_of(b: BoundValue) -> float:
    assert b.value is not None, b.missing
    return b.value


def assert_upper_tight(value: float | None, exact: Fraction) -> None:
    """value >= exact, and the float just below value is < exact."""
    assert value is not None
    assert F(value) >= exact, f"{value!r} < exact {float(exact)!r}"
    assert F(math.nextafter(value, -math.inf)) < exact, f"{value!r} is not the tightest float"


def assert_lower_tight(value: float | None, exact: Fraction) -> None:
    assert value is not None
    assert F(value) <= exact, f"{value!r} > exact {float(exact)!r}"
    assert F(math.nextafter(value, math.inf)) > exact, f"{value!r} is not the tightest float"


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name", BOUND_NAMES)
def test_every_free_symbol_is_a_declared_input(name):
    b = bound(name)
    declared = set()
    for info in b.symbols.values():
        declared.add(info.symbol)
        if info.shape == "sequence":
            declared.add(info.symbol.label)
    index_like = {s for s in b.expression.free_symbols if str(s) in ("i", "k")}
    free = {s for s in b.expression.free_symbols if not isinstance(s, sympy.Indexed)}
    assert free - index_like <= declared, free - index_like - declared
    assert set(b.monotonicity) <= set(b.symbols)
    assert b.direction in ("upper", "lower", "sufficient")
    assert b.lemma in name


def test_symbols_carry_their_assumptions():
    cat = catalogue()
    assert cat["kappa"].symbol.is_nonnegative and cat["R"].symbol.is_positive
    assert cat["n"].symbol.is_integer and cat["n"].symbol.is_positive
    assert cat["d"].symbol.is_integer and cat["d"].symbol.is_nonnegative
    i = sympy.Symbol("i", integer=True, positive=True)
    assert cat["lambda_"].symbol[i].is_nonnegative
    # The width sequence n_i and the width n are distinct objects.
    assert cat["n_i"].symbol.label != cat["n"].symbol


def test_module_attributes_are_the_named_bounds():
    assert lemmas_module.L2_SYMMETRIC is bound("L2")
    assert lemmas_module.L4_EQUAL_WIDTH is bound("L4-equal-width")
    with pytest.raises(AttributeError, match="no attribute"):
        _ = lemmas_module.L99


def test_describe_lists_symbols_and_assumptions():
    text = bound("L2").describe()
    assert "kappa (sup_diagonal" in text and "assumes" in text and "T(d)" in text


# --------------------------------------------------------------------------- values


def test_l1_is_the_diagonal_residual():
    assert bound("L1").evaluate(T=0.3).value == 0.3


def test_l2_symmetric_exact_case():
    # 1/64 + 2 * 1.5 * 1/8 + 1/64 = 0.40625, exactly representable
    v = bound("L2").evaluate(T_d=0.015625, kappa=2.25, Delta=0.125)
    assert v.value == 0.40625 and v.enclosure == (0.40625, 0.40625)


def test_l2_symmetric_irrational_case_is_rounded_up():
    T, kappa, D = 0.01, 2.0, 0.001
    v = bound("L2").evaluate(T_d=T, kappa=kappa, Delta=D).value
    assert v is not None
    # v >= T + 2 sqrt(kappa) D + D^2  <=>  (v - T - D^2)^2 >= 4 kappa D^2 (both sides >= 0)
    rest = F(v) - F(T) - F(D) ** 2
    assert rest >= 0 and rest**2 >= 4 * F(kappa) * F(D) ** 2
    below = F(math.nextafter(v, 0)) - F(T) - F(D) ** 2
    assert below**2 < 4 * F(kappa) * F(D) ** 2


def test_l2_asymmetric_value():
    e0, sf, sg, dphi, dpsi = 0.01, 2.0, 3.0, 0.5, 0.3
    exact = F(e0) + F(sf) * F(dpsi) + F(dphi) * (F(sg) + F(dpsi))
    v = bound("L2-asymmetric").evaluate(e0=e0, S_F=sf, S_G=sg, Delta_phi=dphi, Delta_psi=dpsi)
    assert_upper_tight(v.value, exact)


def test_l3_value_is_rounded_up():
    v = bound("L3").evaluate(R=1.0, C_f=2.0, n=3).value  # 4 / sqrt(3)
    assert v is not None
    assert F(v) ** 2 >= Fraction(16, 3) > F(math.nextafter(v, 0)) ** 2


def test_l4_general_value():
    lam, C, n = [0.5, 0.25, 0.125], [1.0, 2.0, 3.0], [100, 400, 900]
    R, tau = 1.0, 0.01
    exact: Fraction = F(tau)
    for li, ci, ni in zip(lam, C, n, strict=True):
        sq = math.isqrt(ni)  # n_i are perfect squares: the reference stays rational
        exact += 4 * F(R) * F(li) * F(ci) / sq + 4 * F(R) ** 2 * F(li) * F(ci) ** 2 / ni
    v = bound("L4").evaluate(tau=tau, d=3, R=R, lambda_=lam, C=C, n_i=n)
    assert_upper_tight(v.value, exact)


def test_l4_uses_only_the_first_d_entries():
    kw = dict(tau=0.0, R=1.0, lambda_=[0.5, 0.25, 0.125], C=[1.0, 2.0, 3.0], n_i=[4, 4, 4])
    v2 = bound("L4").evaluate(d=2, **kw).value
    v3 = bound("L4").evaluate(d=3, **kw).value
    assert v2 is not None and v3 is not None and v2 < v3
    assert bound("L4").evaluate(d=0, **kw).value == 0.0


def test_l4_equal_width_matches_the_general_form():
    lam, C = [0.5, 0.25, 0.125], [1.0, 2.0, 3.0]
    A = sum((F(a) * F(c) for a, c in zip(lam, C, strict=True)), Fraction(0))
    B = sum((F(a) * F(c) ** 2 for a, c in zip(lam, C, strict=True)), Fraction(0))
    exact = F(0.01) + 4 * A / 10 + 4 * B / 100
    v = bound("L4-equal-width").evaluate(tau=0.01, R=1.0, A=float(A), B=float(B), n=100)
    assert_upper_tight(v.value, exact)
    g = bound("L4").evaluate(tau=0.01, d=3, R=1.0, lambda_=lam, C=C, n_i=[100] * 3)
    assert g.value == v.value


def test_l4_neurons_value():
    # X = (16 R A / eps)^2, Y = 16 R^2 B / eps; width = ceil(max(X, Y, 1)); total = d width
    R, A, B, eps, d = 1.0, 0.5, 1.0, 0.1, 2
    X = (16 * F(R) * F(A) / F(eps)) ** 2
    Y = 16 * F(R) ** 2 * F(B) / F(eps)
    expected = d * math.ceil(max(X, Y, Fraction(1)))
    v = bound("L4-neurons").evaluate(d=d, R=R, A=A, B=B, eps=eps)
    assert v.value == expected == 12800


def test_l5_value():
    # delta = 2 * 0.5 * 1 / 2 = 0.5, delta' = 2 * 0.5 * 2 / 4 = 0.5; 0.5 * 1 + 0.25 = 0.75
    v = bound("L5").evaluate(
        tau=0.0, d=1, R=1.0, sigma=[0.25], C_u=[1.0], C_v=[2.0], n_u=[4], n_v=[16]
    )
    assert v.value == 0.75


def test_l6_is_a_lower_bound_rounded_down():
    assert bound("L6").evaluate(m=1, sigma=[5.0, 3.0, 4.0]).value == 5.0  # sqrt(9 + 16)
    v = bound("L6").evaluate(m=1, sigma=[1.0, 1.0, 1.0])  # sqrt(2)
    assert v.direction == "lower"
    assert v.value is not None
    assert F(v.value) ** 2 <= 2 < F(math.nextafter(v.value, 3)) ** 2
    assert any("truncated" in note and "lower bound" in note for note in v.notes)
    assert bound("L6").evaluate(m=5, sigma=[1.0, 1.0]).value == 0.0


def test_l7_is_rounded_down():
    v = bound("L7").evaluate(gamma=1.0, p=3)
    assert_lower_tight(v.value, Fraction(1, 3))
    assert v.enclosure is not None and F(v.enclosure[1]) >= Fraction(1, 3)


@pytest.mark.parametrize("trial", range(40))
def test_directed_rounding_on_random_inputs(rng, trial):
    T, kappa, D = (float(x) for x in rng.uniform(0.0, 2.0, size=3))
    v = bound("L2").evaluate(T_d=T, kappa=kappa, Delta=D).value
    assert v is not None
    rest = F(v) - F(T) - F(D) ** 2
    assert rest >= 0 and rest**2 >= 4 * F(kappa) * F(D) ** 2
    gamma, p = float(rng.uniform(1e-6, 10.0)), int(rng.integers(1, 10**6))
    assert_lower_tight(bound("L7").evaluate(gamma=gamma, p=p).value, F(gamma) / p)
    args = rng.uniform(0.0, 3.0, size=5)
    e0, sf, sg, dphi, dpsi = (float(x) for x in args)
    exact = F(e0) + F(sf) * F(dpsi) + F(dphi) * (F(sg) + F(dpsi))
    v2 = bound("L2-asymmetric").evaluate(e0=e0, S_F=sf, S_G=sg, Delta_phi=dphi, Delta_psi=dpsi)
    assert v2.value is not None and F(v2.value) >= exact


def test_aliases_and_exact_number_types():
    a = bound("L3").evaluate(R=1.0, C_f=2.0, n=16)
    b = bound("L3").evaluate(radius=Fraction(1), barron_constant=sympy.Integer(2), width=16)
    assert a.value == b.value == 1.0


def test_ball_inputs_are_propagated():
    # C_f known to lie in [1.9, 2.1]: the bound covers the worst case 2 * 2.1 / 4.
    c = arb(1.9).union(arb(2.1))
    v = bound("L3").evaluate(R=1.0, C_f=c, n=16)
    assert v.value is not None and v.value >= 2.1 / 2
    assert v.enclosure is not None and v.enclosure[0] <= 1.9 / 2


def test_barron_constant_records_are_accepted():
    c = barron_constant(GaussianPolynomial([1], rate=1.0))  # C_f = 2 / sqrt(pi)
    v = bound("L3").evaluate(R=1.0, C_f=c, n=4)  # = C_f
    assert v.value is not None and v.value >= 2 / math.sqrt(math.pi) - 1e-15
    # The record enters as the ball [lower, value]; arb's low-precision radius may put its
    # upper end a hair above value, so the bound is value or the float just above it.
    assert c.value is not None and c.value <= v.value <= math.nextafter(c.value, math.inf)


# --------------------------------------------------------------------------- unknowns


def test_missing_constant_gives_none_with_its_name():
    v = bound("L3").evaluate(R=1.0, C_f=None, n=100)
    assert v.value is None and v.enclosure is None and v.missing == ("C_f",)
    assert bound("L3").evaluate(R=1.0, n=100).missing == ("C_f",)


def test_unknown_barron_constant_gives_none_with_the_reason():
    x = sympy.Symbol("x")
    unknown = barron_constant(sympy.sqrt(2) * sympy.sin(sympy.pi * x / 2))
    v = bound("L3").evaluate(R=1.0, C_f=unknown, n=100)
    assert v.value is None and v.missing == ("C_f",)
    assert any("extension" in note for note in v.notes)


def test_missing_sequence_entries_are_listed():
    x = sympy.Symbol("x")
    unknown = barron_constant(sympy.sin(x))
    v = bound("L4").evaluate(
        tau=0.0, d=3, R=1.0, lambda_=[0.5, 0.25, 0.125], C=[1.0, None, unknown], n_i=[4, 4, 4]
    )
    assert v.value is None and v.missing == ("C[2]", "C[3]")
    # Unknown entries beyond d are not needed.
    w = bound("L4").evaluate(tau=0.0, d=1, R=1.0, lambda_=[0.5, 0.25], C=[1.0, None], n_i=[4, 4])
    assert w.value is not None and w.missing == ()


def test_missing_integer_and_sequence_are_listed():
    v = bound("L4").evaluate(tau=0.0, R=1.0, C=[1.0], n_i=[4])
    assert v.value is None and set(v.missing) == {"d", "lambda_"}


# --------------------------------------------------------------------------- solve_for


def test_l3_neurons_round_trip():
    s = bound("L3").solve_for("n", R=1.0, C_f=1.0, eps=0.1)
    # (2 R C_f / eps)^2 = 400 / (1 + tiny) since float(0.1) > 1/10: n = 400 exactly
    assert s.value == math.ceil((2 * F(1.0) * F(1.0) / F(0.1)) ** 2) == 400
    assert s.bound is not None and s.bound.value is not None and s.bound.value <= 0.1
    below = bound("L3").evaluate(R=1.0, C_f=1.0, n=399).value
    assert below is not None and below > 0.1
    assert "suffices" in s.meaning


def test_l4_equal_width_neurons_round_trip():
    kw = dict(tau=0.01, R=1.0, A=1.375, B=2.625)
    s = bound("L4-equal-width").solve_for("n", eps=0.1, **kw)
    assert isinstance(s.value, int)
    assert value_of(bound("L4-equal-width").evaluate(n=s.value, **kw)) <= 0.1
    assert value_of(bound("L4-equal-width").evaluate(n=s.value - 1, **kw)) > 0.1
    # Independent: the smallest n with 4 R A t + 4 R^2 B t^2 <= eps - tau, t = 1/sqrt(n).
    t = (-4 * 1.375 + math.sqrt((4 * 1.375) ** 2 + 16 * 2.625 * 0.09)) / (8 * 2.625)
    assert abs(s.value - math.ceil(1 / t**2)) <= 1
    # The paper's N(eps) per feature is a sufficient width, no smaller than the exact one.
    per = bound("L4-neurons").evaluate(d=1, R=1.0, A=1.375, B=2.625, eps=0.1 - 0.01)
    assert per.value is not None and per.value >= s.value


def test_eps_given_neurons_is_the_evaluation():
    kw = dict(tau=0.01, R=1.0, A=1.375, B=2.625, n=1000)
    s = bound("L4-equal-width").solve_for("eps", **kw)
    assert s.value == bound("L4-equal-width").evaluate(**kw).value and s.eps is None
    assert bound("L4-equal-width").solve_for("accuracy", **kw).value == s.value


def test_l2_feature_error_round_trip():
    T, kappa, eps = 0.01, 1.0, 0.1
    s = bound("L2").solve_for("Delta", T_d=T, kappa=kappa, eps=eps)
    assert isinstance(s.value, float)
    assert value_of(bound("L2").evaluate(T_d=T, kappa=kappa, Delta=s.value)) <= eps
    nxt = math.nextafter(s.value, math.inf)
    assert value_of(bound("L2").evaluate(T_d=T, kappa=kappa, Delta=nxt)) > eps
    # Closed form of Delta^2 + 2 sqrt(kappa) Delta + T = eps; rounding moves it a few ulps.
    root = -math.sqrt(kappa) + math.sqrt(kappa + eps - T)
    assert math.isclose(s.value, root, rel_tol=1e-13, abs_tol=0.0)


def test_l6_feature_dimension_lower_bound():
    sigma = [1.0, 0.5, 0.25, 0.125]
    s = bound("L6").solve_for("m", sigma=sigma, eps=0.3)
    assert s.value == 2  # tails: m=1 -> sqrt(0.328125) > 0.3, m=2 -> sqrt(0.078125) < 0.3
    assert value_of(bound("L6").evaluate(m=1, sigma=sigma)) > 0.3
    assert "necessary" in s.meaning


def test_l7_points_threshold():
    s = bound("L7").solve_for("p", gamma=1.0, eps=0.3)
    assert s.value == 4  # 1/3 > 0.3 >= 1/4
    assert value_of(bound("L7").evaluate(gamma=1.0, p=3)) > 0.3


def test_unreachable_accuracy_gives_none_with_the_reason():
    s = bound("L4-equal-width").solve_for("n", tau=0.2, R=1.0, A=1.0, B=1.0, eps=0.1)
    assert s.value is None and "exceeds eps" in s.reason
    assert s.bound is not None and s.bound.value is not None and s.bound.value > 0.1
    s2 = bound("L2").solve_for("Delta", T_d=0.2, kappa=1.0, eps=0.1)
    assert s2.value is None and "exceeds eps" in s2.reason


def test_solve_with_missing_inputs():
    s = bound("L3").solve_for("n", R=1.0, eps=0.1)
    assert s.value is None and s.missing == ("C_f",)
    s2 = bound("L3").solve_for("n", R=1.0, C_f=1.0)
    assert s2.value is None and s2.missing == ("eps",)


# --------------------------------------------------------------------------- substitute, LaTeX


def test_substitute_scalars_and_sequences():
    b = bound("L3").substitute(R=1, C_f=2.0)
    assert sympy.simplify(b.expression - 4 / catalogue()["n"].symbol ** sympy.Rational(1, 2)) == 0
    assert set(b.symbols) == {"n"} and b.substituted == {"R": "1", "C_f": "2.0"}
    assert b.evaluate(n=16).value == bound("L3").evaluate(R=1, C_f=2.0, n=16).value
    full = dict(tau=0.01, d=2, R=1.0, lambda_=[0.5, 0.25], C=[1.0, 2.0], n_i=[9, 25])
    part = bound("L4").substitute(d=2, lambda_=[0.5, 0.25])
    assert "lambda_" not in part.symbols and "d" not in part.symbols
    rest = {k: v for k, v in full.items() if k not in ("d", "lambda_")}
    assert part.evaluate(**rest).value == bound("L4").evaluate(**full).value


@pytest.mark.parametrize("name", BOUND_NAMES)
def test_latex_names_every_scalar_symbol(name):
    b = bound(name)
    text = b.latex()
    assert text.startswith(b.lhs_latex)
    assert {"upper": r"\le", "lower": r"\ge", "sufficient": "="}[b.direction] in text
    for info in b.symbols.values():
        if info.shape == "scalar" and info.name not in ("d", "m"):  # d, m may be limits only
            assert info.latex in text, (info.latex, text)
    assert text.count("{") == text.count("}")


def test_latex_of_sums_shows_the_index_and_sequences():
    text = bound("L4").latex()
    assert r"\sum_{i=1}^{d}" in text and r"{\lambda}_{i}" in text and "{C}_{i}" in text
    assert r"\sum_{k=m + 1}^{\infty}" in bound("L6").latex()


# --------------------------------------------------------------------------- records


def test_bound_value_record_round_trips_to_json():
    v = bound("L3").evaluate(R=1.0, C_f=2.0, n=3)
    d = json.loads(json.dumps(v.to_dict()))
    assert float.fromhex(d["value_hex"]) == v.value and d["lemma"] == "L3"
    assert v.ratio_to_achieved(v.value / 4) == pytest.approx(4.0, rel=1e-15, abs=0.0)
    assert bound("L3").evaluate(R=1.0, n=3).ratio_to_achieved(0.1) is None
    assert v.ratio_to_achieved(0.0) == math.inf


# --------------------------------------------------------------------------- errors


def test_unknown_bound_name():
    with pytest.raises(InvalidInputError, match="`name` must be one of L1, L2"):
        bound("L9")


def test_unknown_keyword():
    with pytest.raises(InvalidInputError, match="`C` is not an input of L3; its inputs are: R"):
        bound("L3").evaluate(R=1.0, C=[1.0], n=4)


def test_value_given_twice():
    with pytest.raises(InvalidInputError, match="gives R twice"):
        bound("L3").evaluate(R=1.0, radius=1.0, C_f=1.0, n=4)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(T_d=0.0, kappa=1.0, Delta=-0.1), "`Delta` must be >= 0"),
        (dict(T_d=0.0, kappa=1.0, Delta=math.nan), "`Delta` must be finite"),
        (dict(T_d=0.0, kappa="one", Delta=0.1), "`kappa` must be a real number or an arb ball"),
        (dict(T_d=0.0, kappa=1.0, Delta=arb(0).union(arb(-1e-3))), "`Delta` must be >= 0"),
    ],
)
def test_out_of_domain_scalars(kw, match):
    with pytest.raises(InvalidInputError, match=match):
        bound("L2").evaluate(**kw)


@pytest.mark.parametrize(
    ("n", "match"),
    [(0, r"`n` must be an int >= 1"), (2.5, r"`n` must be an int >= 1"), (True, "`n` must be")],
)
def test_bad_integer(n, match):
    with pytest.raises(InvalidInputError, match=match):
        bound("L3").evaluate(R=1.0, C_f=1.0, n=n)


def test_positive_symbol_rejects_zero():
    with pytest.raises(InvalidInputError, match="`R` must be > 0"):
        bound("L3").evaluate(R=0.0, C_f=1.0, n=4)


def test_short_sequence():
    with pytest.raises(InvalidInputError, match="`lambda_` has 2 values; entry 3 is needed"):
        bound("L4").evaluate(tau=0.0, d=3, R=1.0, lambda_=[1.0, 1.0], C=[1.0] * 3, n_i=[1] * 3)


def test_sequence_must_be_a_sequence():
    with pytest.raises(InvalidInputError, match=r"`C` \(barron_constants\) must be a sequence"):
        bound("L4").evaluate(tau=0.0, d=1, R=1.0, lambda_=[1.0], C="1", n_i=[1])
    with pytest.raises(InvalidInputError, match=r"`n_i\[1\]` must be an int >= 1"):
        bound("L4").evaluate(tau=0.0, d=1, R=1.0, lambda_=[1.0], C=[1.0], n_i=[0])


@pytest.mark.parametrize(
    ("name", "symbol", "kw", "match"),
    [
        ("L3", "q", dict(R=1.0, C_f=1.0, eps=0.1), "`symbol` must be 'eps' or an input of L3"),
        ("L4", "lambda_", dict(eps=0.1), "not monotone"),
        ("L3", "n", dict(R=1.0, C_f=1.0, n=4, eps=0.1), "`n` is the unknown"),
        ("L3", "n", dict(R=1.0, C_f=1.0, eps=-0.1), "`eps` must be a finite real number > 0"),
        ("L4-neurons", "A", dict(eps=0.1), "a formula for a size"),
        ("L4-neurons", "eps", dict(d=1), "a sufficient size"),
    ],
)
def test_solve_for_errors(name, symbol, kw, match):
    with pytest.raises(InvalidInputError, match=match):
        bound(name).solve_for(symbol, **kw)


def test_substitute_errors():
    with pytest.raises(InvalidInputError, match="give the limits of"):
        bound("L4").substitute(lambda_=[0.5])
    with pytest.raises(InvalidInputError, match="substitute takes exact real numbers"):
        bound("L3").substitute(C_f=arb(1))
    with pytest.raises(InvalidInputError, match="substitute takes exact real numbers"):
        bound("L3").substitute(C_f=BarronConstant(None, None, False, 1, "none", "unknown"))


def test_ratio_rejects_a_negative_achieved_value():
    with pytest.raises(InvalidInputError, match="`achieved` must be a number >= 0"):
        bound("L1").evaluate(T=0.1).ratio_to_achieved(-1.0)
