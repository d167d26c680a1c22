"""Proof-checks of the algebraic steps of L2 (symmetric and asymmetric), L4 and L5.

Every check is run on the expressions certify itself uses (``certify.bounds``),
not on a copy: if a lemma's expression is edited, its proof-check re-runs on the
edit. Each test states its claim in its docstring and prints a one-line summary
(``pytest proofs/ -s`` shows them).

The analytic facts the algebra rests on, and where each enters:

* Cauchy-Schwarz ``|<u, v>| <= |u| |v|`` (checked here through Lagrange's identity);
* the triangle inequality for the sup norm and for the L2(mu x mu) norm;
* Mercer: ``|F_d(x)|^2 = sum_{i<=d} lambda_i e_i(x)^2 <= r(x, x) <= kappa``;
* Fubini: ``||f (x) g||_{L2(mu x mu)} = ||f|| ||g||`` (checked on a discrete measure);
* orthonormality of the e_i, so ``||sqrt(lambda_i) e_i|| = sqrt(lambda_i)`` and
  ``||sum_{i>d} lambda_i e_i (x) e_i|| = tau(d)``;
* Barron (L3) applied to ``sqrt(lambda_i) e_i``, whose Barron constant is
  ``sqrt(lambda_i) C_i`` (the Fourier transform is linear).

"A certificate of nonnegativity" below is an identity ``gap = sum_j p_j`` in which
every ``p_j`` is a product of quantities that are >= 0 under the hypotheses; the
identity is checked by expanding ``gap - sum_j p_j`` to 0.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import sympy

from certify.bounds import bound, catalogue
from certify.bounds.symbols import index_symbol


def _sym(name: str) -> sympy.Basic:
    return catalogue()[name].symbol


def _vector(name: str, m: int) -> list[sympy.Symbol]:
    return list(sympy.symbols(f"{name}1:{m + 1}", real=True))


def _dot(u: list[sympy.Expr], v: list[sympy.Expr]) -> sympy.Expr:
    return sum((a * b for a, b in zip(u, v, strict=True)), sympy.Integer(0))


def _check_certificate(
    gap: sympy.Expr, products: list[tuple[sympy.Expr, ...]], nonnegative: dict[str, sympy.Expr]
) -> None:
    """``gap`` equals the sum of the products, each a product of declared nonnegative factors."""
    allowed = {sympy.expand(v) for v in nonnegative.values()}
    for p in products:
        for factor in p:
            assert sympy.expand(factor) in allowed, f"{factor} is not a declared nonnegative factor"
    total = sum((sympy.Mul(*p) for p in products), sympy.Integer(0))
    residual = sympy.expand(gap - total)
    assert residual == 0, f"gap - certificate = {residual}"


def test_cauchy_schwarz_by_lagrange_identity() -> None:
    """Claim: |u|^2 |v|^2 - <u, v>^2 = sum_{i<j} (u_i v_j - u_j v_i)^2 in R^4, a sum of
    squares; hence |<u, v>| <= |u| |v| (Cauchy-Schwarz), used in every chain below."""
    m = 4
    u, v = _vector("u", m), _vector("v", m)
    lhs = _dot(u, u) * _dot(v, v) - _dot(u, v) ** 2
    squares = sum(
        ((u[i] * v[j] - u[j] * v[i]) ** 2 for i, j in itertools.combinations(range(m), 2)),
        sympy.Integer(0),
    )
    assert sympy.expand(lhs - squares) == 0
    print(f"Cauchy-Schwarz: Lagrange identity in R^{m} expands to 0 (sum of 6 squares)")


def test_l2_symmetric_expansion() -> None:
    """Claim: with phi = F + D, <phi(x), phi(y)> - <F(x), F(y)>
    = <F(x), D(y)> + <D(x), F(y)> + <D(x), D(y)> (checked in R^3)."""
    m = 3
    Fx, Fy, Dx, Dy = (_vector(n, m) for n in ("Fx", "Fy", "Dx", "Dy"))
    phix = [a + b for a, b in zip(Fx, Dx, strict=True)]
    phiy = [a + b for a, b in zip(Fy, Dy, strict=True)]
    lhs = _dot(phix, phiy) - _dot(Fx, Fy)
    rhs = _dot(Fx, Dy) + _dot(Dx, Fy) + _dot(Dx, Dy)
    assert sympy.expand(lhs - rhs) == 0
    print("L2 symmetric: <phi,phi> - <F,F> = <F,D> + <D,F> + <D,D> (difference expands to 0)")


def test_l2_symmetric_bound_dominates_the_chain() -> None:
    """Claim: the L2 expression T + 2 sqrt(kappa) Delta + Delta^2 is >= the chain
    T + |F(x)| |D(y)| + |D(x)| |F(y)| + |D(x)| |D(y)| (triangle inequality and
    Cauchy-Schwarz on the expansion above) whenever |F| <= sqrt(kappa) (Mercer) and
    |D| <= Delta: bound - chain has a certificate of nonnegativity."""
    T, kappa, Delta = _sym("T_d"), _sym("kappa"), _sym("Delta")
    k = sympy.Symbol("k", nonnegative=True)  # sqrt(kappa)
    a, b, d1, d2 = sympy.symbols("a b d1 d2", nonnegative=True)  # |F(x)|, |F(y)|, |D(x)|, |D(y)|
    stated = bound("L2").expression.xreplace({kappa: k**2})
    assert sympy.sqrt(k**2) == k  # k >= 0, so sqrt(kappa) = k exactly
    chain = T + a * d2 + d1 * b + d1 * d2
    nonneg = {
        "sqrt(kappa)": k,
        "Delta": Delta,
        "|D(x)|": d1,
        "|D(y)|": d2,
        "sqrt(kappa) - |F(x)|": k - a,
        "sqrt(kappa) - |F(y)|": k - b,
        "Delta - |D(x)|": Delta - d1,
        "Delta - |D(y)|": Delta - d2,
    }
    products = [
        (k, Delta - d2),
        (k - a, d2),
        (k, Delta - d1),
        (k - b, d1),
        (Delta, Delta - d2),
        (d2, Delta - d1),
    ]
    _check_certificate(stated - chain, products, nonneg)
    print("L2 symmetric: bound - chain = 6 products of nonnegative factors (identity expands to 0)")


def test_l2_symmetric_rational_witnesses() -> None:
    """Claim: on 200 random rational instances in R^3, |<F+D, F+D>(x,y) - <F,F>(x,y)| <=
    2 k Delta + Delta^2 with k = max |F|, Delta = max |D| (exact arithmetic; squared
    comparisons avoid square roots)."""
    rnd = random.Random(20240213)

    def q() -> Fraction:
        return Fraction(rnd.randint(-50, 50), rnd.randint(1, 20))

    for _ in range(200):
        Fx, Fy, Dx, Dy = ([q() for _ in range(3)] for _ in range(4))
        dot = lambda u, v: sum((s * t for s, t in zip(u, v, strict=True)), Fraction(0))  # noqa: E731
        gap = abs(
            dot(
                [s + t for s, t in zip(Fx, Dx, strict=True)],
                [s + t for s, t in zip(Fy, Dy, strict=True)],
            )
            - dot(Fx, Fy)
        )
        k2 = max(dot(Fx, Fx), dot(Fy, Fy))
        D2 = max(dot(Dx, Dx), dot(Dy, Dy))
        # gap <= 2 sqrt(k2 D2) + D2  <=>  (gap - D2 <= 0) or ((gap - D2)^2 <= 4 k2 D2)
        slack = gap - D2
        assert slack <= 0 or slack**2 <= 4 * k2 * D2
    print("L2 symmetric: 200 exact rational witnesses satisfy the bound")


def test_l2_asymmetric_expansion_and_bound() -> None:
    """Claim: with phi = F + a, psi = G + b, <phi, psi> - <F, G> = <F, b> + <a, G> + <a, b>
    (in R^3), and the L2-asymmetric expression e0 + |F| Dpsi + Dphi (|G| + Dpsi) dominates
    the chain e0 + |F(x)||b(y)| + |a(x)||G(y)| + |a(x)||b(y)| when |F| <= sup|F|,
    |G| <= sup|G|, |a| <= Dphi, |b| <= Dpsi (certificate of nonnegativity)."""
    m = 3
    F, G, av, bv = (_vector(n, m) for n in ("F", "G", "a", "b"))
    phi = [s + t for s, t in zip(F, av, strict=True)]
    psi = [s + t for s, t in zip(G, bv, strict=True)]
    assert (
        sympy.expand(_dot(phi, psi) - _dot(F, G) - (_dot(F, bv) + _dot(av, G) + _dot(av, bv))) == 0
    )
    e0, SF, SG = _sym("e0"), _sym("S_F"), _sym("S_G")
    Dphi, Dpsi = _sym("Delta_phi"), _sym("Delta_psi")
    f, g, A, B = sympy.symbols("f g A B", nonnegative=True)  # |F(x)|, |G(y)|, |a(x)|, |b(y)|
    chain = e0 + f * B + A * g + A * B
    nonneg = {
        "sup|F|": SF,
        "Dphi": Dphi,
        "|b|": B,
        "|G|": g,
        "sup|F| - |F|": SF - f,
        "sup|G| - |G|": SG - g,
        "Dphi - |a|": Dphi - A,
        "Dpsi - |b|": Dpsi - B,
    }
    products = [
        (SF, Dpsi - B),
        (SF - f, B),
        (Dphi, SG - g),
        (Dphi - A, g),
        (Dphi, Dpsi - B),
        (Dphi - A, B),
    ]
    _check_certificate(bound("L2-asymmetric").expression - chain, products, nonneg)
    print("L2 asymmetric: expansion expands to 0; bound - chain = 6 nonnegative products")


def test_tensor_norm_factorises_on_a_discrete_measure() -> None:
    """Claim (Fubini, used in L4 and L5): for mu = sum_j w_j delta_{x_j} (4 atoms),
    ||f (x) g||^2_{L2(mu x mu)} = ||f||^2 ||g||^2, and for orthonormal e_i the tail
    ||sum_i c_i e_i (x) e_i||^2 = sum_i c_i^2 (Gram identity with <e_i, e_j> = delta_ij)."""
    w = sympy.symbols("w1:5", nonnegative=True)
    f = sympy.symbols("f1:5", real=True)
    g = sympy.symbols("g1:5", real=True)
    lhs = sum(w[j] * w[k] * f[j] ** 2 * g[k] ** 2 for j in range(4) for k in range(4))
    rhs = sum(w[j] * f[j] ** 2 for j in range(4)) * sum(w[k] * g[k] ** 2 for k in range(4))
    assert sympy.expand(lhs - rhs) == 0
    c = sympy.symbols("c1:4", real=True)
    gram = sympy.eye(3)  # <e_i, e_j>
    norm2 = sum(c[i] * c[j] * gram[i, j] ** 2 for i in range(3) for j in range(3))
    assert sympy.expand(norm2 - sum(ci**2 for ci in c)) == 0
    print("L4: tensor norms factorise (4-atom measure) and the orthonormal tail norm is tau")


def test_l4_feature_term_and_composition_with_l3() -> None:
    """Claim: F (x) F - phi (x) phi = -(F (x) a + a (x) F + a (x) a) for phi = F + a, so each
    feature contributes <= 2 ||F_i|| delta_i + delta_i^2 = 2 sqrt(lambda_i) delta_i + delta_i^2;
    and certify's L4 expression equals tau + sum_i of that term with delta_i the L3 bound
    for sqrt(lambda_i) e_i (Barron constant sqrt(lambda_i) C_i, width n_i), for d = 1..5."""
    Fx, Fy, ax, ay = sympy.symbols("Fx Fy ax ay", real=True)
    assert sympy.expand(Fx * Fy - (Fx + ax) * (Fy + ay) + (Fx * ay + ax * Fy + ax * ay)) == 0
    l3 = bound("L3").expression
    R, Cf, n = _sym("R"), _sym("C_f"), _sym("n")
    tau, d = _sym("tau"), _sym("d")
    lam, C, ni = _sym("lambda_"), _sym("C"), _sym("n_i")
    for depth in range(1, 6):
        stated = bound("L4").substitute(d=depth).expression.doit()
        composed = tau
        for i in range(1, depth + 1):
            delta = l3.xreplace({Cf: sympy.sqrt(lam[i]) * C[i], n: ni[i], R: R})
            composed += 2 * sympy.sqrt(lam[i]) * delta + delta**2
        assert sympy.simplify(stated - composed) == 0, depth
    assert d not in bound("L4").substitute(d=3).expression.free_symbols
    print("L4: feature expansion checked; L4 = tau + sum (2 sqrt(l_i) d_i + d_i^2), d_i from L3")


def test_l4_equal_width_is_the_general_form_with_equal_widths() -> None:
    """Claim: certify's L4 with every n_i = n equals its L4-equal-width expression with
    A = sum_{i<=d} lambda_i C_i and B = sum_{i<=d} lambda_i C_i^2, for symbolic d
    (sympy simplifies the difference of the sums to 0) and for d = 1..6 expanded."""
    i = index_symbol("i")
    lam, C, ni, n, d = (_sym(s) for s in ("lambda_", "C", "n_i", "n", "d"))
    A_s, B_s = _sym("A"), _sym("B")
    general = bound("L4").expression.xreplace({ni[i]: n})
    A = sympy.Sum(lam[i] * C[i], (i, 1, d))
    B = sympy.Sum(lam[i] * C[i] ** 2, (i, 1, d))
    equal = bound("L4-equal-width").expression.xreplace({A_s: A, B_s: B})
    assert sympy.simplify(general - equal) == 0
    for depth in range(1, 7):
        g = general.xreplace({d: depth}).doit()
        e = equal.xreplace({d: depth}).doit()
        assert sympy.expand(g - e) == 0, depth
    print("L4: equal-width form = general form at n_i = n (symbolic d, and d = 1..6)")


def test_l4_neuron_count_makes_each_term_at_most_a_quarter_of_eps() -> None:
    """Claim: with X = (16 R A / eps)^2 and Y = 16 R^2 B / eps (the arguments of certify's
    L4-neurons), 4 R A / sqrt(n) = eps/4 at n = X and 4 R^2 B / n = eps/4 at n = Y, both
    terms decrease in n; so at the width ceil(max{X, Y, 1}) the L4-equal-width bound is
    <= tau + eps/2 <= eps when tau(d) <= eps/2."""
    R, A, B, n, eps, tau = (_sym(s) for s in ("R", "A", "B", "n", "eps", "tau"))
    Apos, Bpos = sympy.symbols("A_+ B_+", positive=True)  # A, B > 0 (A = 0 or B = 0: no term)
    expr = bound("L4-equal-width").expression
    term1 = expr.coeff(1 / sympy.sqrt(n)) / sympy.sqrt(n)
    term2 = expr.coeff(1 / n) / n
    assert sympy.expand(expr - tau - term1 - term2) == 0
    width = bound("L4-neurons").expression
    ceil_arg = width.atoms(sympy.ceiling).pop().args[0]
    args = set(ceil_arg.args)
    X = (16 * R * A / eps) ** 2
    Y = 16 * R**2 * B / eps
    assert {sympy.expand(a) for a in args} == {sympy.expand(X), sympy.expand(Y), 1}
    sub = {A: Apos, B: Bpos}
    t1, t2 = term1.xreplace(sub), term2.xreplace(sub)
    assert sympy.simplify(t1.xreplace({n: X.xreplace(sub)}) - eps / 4) == 0
    assert sympy.simplify(t2.xreplace({n: Y.xreplace(sub)}) - eps / 4) == 0
    assert sympy.diff(t1, n).is_negative and sympy.diff(t2, n).is_negative
    # Numerical witnesses in ball arithmetic: the formula's width meets the bound.
    rnd = random.Random(7)
    for _ in range(50):
        vals = {"R": rnd.uniform(0.1, 3), "A": rnd.uniform(0, 5), "B": rnd.uniform(0, 5)}
        e = rnd.uniform(1e-3, 1)
        w = bound("L4-neurons").evaluate(d=1, eps=e, **vals).value
        assert w is not None
        v = bound("L4-equal-width").evaluate(tau=0.4 * e, n=int(w), **vals).value
        assert v is not None and v <= e, (vals, e, w, v)
    print("L4: N(eps) width makes each term <= eps/4 (symbolic) and meets eps on 50 witnesses")


def test_l5_composition_with_l3() -> None:
    """Claim: certify's L5 equals tau + sum_k [sqrt(sigma_k)(delta_k + delta'_k) + delta_k
    delta'_k] with delta_k, delta'_k the L3 bounds for sqrt(sigma_k) u_k and
    sqrt(sigma_k) v_k, for d = 1..4; the per-k term comes from
    F G - (F + a)(G + b) = -(F b + a G + a b) with ||F|| = ||G|| = sqrt(sigma_k)."""
    Fx, Gy, ax, by = sympy.symbols("Fx Gy ax by", real=True)
    assert sympy.expand(Fx * Gy - (Fx + ax) * (Gy + by) + (Fx * by + ax * Gy + ax * by)) == 0
    l3 = bound("L3").expression
    R, Cf, n, tau = _sym("R"), _sym("C_f"), _sym("n"), _sym("tau")
    sig, cu, cv, nu, nv = (_sym(s) for s in ("sigma", "C_u", "C_v", "n_u", "n_v"))
    for depth in range(1, 5):
        stated = bound("L5").substitute(d=depth).expression.doit()
        composed = tau
        for k in range(1, depth + 1):
            du = l3.xreplace({Cf: sympy.sqrt(sig[k]) * cu[k], n: nu[k]})
            dv = l3.xreplace({Cf: sympy.sqrt(sig[k]) * cv[k], n: nv[k]})
            composed += sympy.sqrt(sig[k]) * (du + dv) + du * dv
        assert sympy.simplify(stated - composed) == 0, depth
    assert R in bound("L5").expression.free_symbols
    print("L5: = tau + sum [sqrt(s_k)(d_k + d'_k) + d_k d'_k] with d_k, d'_k from L3 (d = 1..4)")
