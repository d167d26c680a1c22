"""Relation.enclose: rigorous value and Clarke-gradient enclosures over box pairs.

Every containment check compares the enclosure with a value computed independently in
200-bit mpmath from the float coordinates: the kernels through literal formulas written
here from their definitions, expressions through sympy's own derivatives lambdified to
mpmath (floats in the expression replaced by their exact rationals). There is no
tolerance in any containment check. At kinks the reference takes a one-sided gradient
(or sympy's sign(0) = 0, Heaviside(0) = 1/2), which lies in the Clarke gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from certify.errors import InvalidInputError
from certify.relations import (
    ArcCosine,
    Bilinear,
    Brownian,
    CallableRelation,
    ExpDot,
    ExpressionRelation,
    Gaussian,
    Laplace,
    Matern32,
    Matern52,
    Periodic,
    Polynomial,
    Relation,
)

EPS = 2.0**-52
PREC = 200
mpf = mpmath.mpf

Vector = list[mpmath.mpf]
Reference = Callable[[Vector, Vector], tuple[mpmath.mpf, Vector, Vector]]


# --------------------------------------------------------------------------------------
# independent references (mpmath, literal formulas of the definitions)
# --------------------------------------------------------------------------------------


def _sub(a: Vector, b: Vector) -> Vector:
    return [p - q for p, q in zip(a, b, strict=True)]


def _dot(a: Vector, b: Vector) -> mpmath.mpf:
    return mpmath.fsum(p * q for p, q in zip(a, b, strict=True))


def _norm(a: Vector) -> mpmath.mpf:
    return mpmath.sqrt(_dot(a, a))


def _neg(a: Vector) -> Vector:
    return [-p for p in a]


def _gaussian(ell: float) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        diff = _sub(x, y)
        v = mpmath.exp(-_dot(diff, diff) / (2 * mpf(ell) ** 2))
        gx = [-t / mpf(ell) ** 2 * v for t in diff]
        return v, gx, _neg(gx)

    return ref


def _laplace(ell: float) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        diff = _sub(x, y)
        r = _norm(diff)
        v = mpmath.exp(-r / ell)
        # at the kink r = 0: the one-sided gradient along the first axis
        unit = [t / r for t in diff] if r != 0 else [mpf(1)] + [mpf(0)] * (len(x) - 1)
        gx = [-u / ell * v for u in unit]
        return v, gx, _neg(gx)

    return ref


def _matern(ell: float, nu2: int) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        diff = _sub(x, y)
        r = _norm(diff)
        a = mpmath.sqrt(nu2) * r / ell
        if nu2 == 3:
            v = (1 + a) * mpmath.exp(-a)
            f = 3 / mpf(ell) ** 2 * mpmath.exp(-a)
        else:
            v = (1 + a + a**2 / 3) * mpmath.exp(-a)
            f = 5 / (3 * mpf(ell) ** 2) * (1 + a) * mpmath.exp(-a)
        gx = [-f * t for t in diff]
        return v, gx, _neg(gx)

    return ref


def _polynomial(degree: int, offset: float, gamma: float) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        base = gamma * _dot(x, y) + offset
        v = base**degree
        f = degree * gamma * base ** (degree - 1)
        return v, [f * t for t in y], [f * t for t in x]

    return ref


def _brownian(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
    mins = [min(a, b) for a, b in zip(x, y, strict=True)]
    v = mpmath.fprod(mins)
    gx, gy = [], []
    for i, (a, b) in enumerate(zip(x, y, strict=True)):
        rest = mpmath.fprod(m for j, m in enumerate(mins) if j != i)
        gx.append(rest if a <= b else mpf(0))  # at a tie: the one-sided gradient 1
        gy.append(rest if b < a else mpf(0))  # and 0 (both in the Clarke hull [0, 1])
    return v, gx, gy


def _periodic(kappa: float, period: float) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        w = 2 * mpmath.pi / period
        diff = _sub(x, y)
        v = mpmath.exp(kappa * mpmath.fsum(mpmath.cos(w * t) for t in diff))
        gx = [-kappa * w * mpmath.sin(w * t) * v for t in diff]
        return v, gx, _neg(gx)

    return ref


def _angle(x: Vector, y: Vector) -> mpmath.mpf:
    c = _dot(x, y) / (_norm(x) * _norm(y))
    return mpmath.acos(max(mpf(-1), min(mpf(1), c)))


def _perpendicular(u: Vector) -> Vector:
    """A unit vector orthogonal to the unit vector u (dimension >= 2)."""
    k = min(range(len(u)), key=lambda j: abs(u[j]))
    e = [mpf(1) if j == k else mpf(0) for j in range(len(u))]
    e = [a - u[k] * b for a, b in zip(e, u, strict=True)]
    n = _norm(e)
    return [a / n for a in e]


def _arccos0_grad(x: Vector, y: Vector) -> Vector | None:
    """grad_x of 1 - theta / pi (a one-sided gradient at theta = 0, pi); None at x = 0."""
    nx, ny = _norm(x), _norm(y)
    if nx == 0:
        return None
    if ny == 0 or len(x) == 1:
        return [mpf(0)] * len(x)
    theta = _angle(x, y)
    u = [a / nx for a in x]
    v = [b / ny for b in y]
    s = mpmath.sin(theta)
    if s > mpf(2) ** -80:
        return [
            (b - mpmath.cos(theta) * a) / (mpmath.pi * nx * s) for a, b in zip(u, v, strict=True)
        ]
    # theta = 0 (pi): moving x along e orthogonal to x raises (lowers) theta at rate 1 / |x|.
    sign = -1 if theta < 1 else 1
    return [sign * t / (mpmath.pi * nx) for t in _perpendicular(u)]


def _arccos1_grad(x: Vector, y: Vector) -> Vector:
    nx, ny = _norm(x), _norm(y)
    if ny == 0:
        return [mpf(0)] * len(x)
    u = [a / nx for a in x] if nx > 0 else [mpf(1)] + [mpf(0)] * (len(x) - 1)
    theta = _angle(u, y)
    return [
        ((mpmath.pi - theta) * b + ny * mpmath.sin(theta) * a) / mpmath.pi
        for a, b in zip(u, y, strict=True)
    ]


def _arccos(
    order: int,
) -> Callable[[Vector, Vector], tuple[mpmath.mpf, Vector | None, Vector | None]]:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector | None, Vector | None]:
        nx, ny = _norm(x), _norm(y)
        if nx == 0 or ny == 0:
            v = mpf(1) / 2 if order == 0 else mpf(0)
        else:
            theta = _angle(x, y)
            if order == 0:
                v = 1 - theta / mpmath.pi
            else:
                v = (
                    nx
                    * ny
                    * (mpmath.sin(theta) + (mpmath.pi - theta) * mpmath.cos(theta))
                    / mpmath.pi
                )
        if order == 0:
            return v, _arccos0_grad(x, y), _arccos0_grad(y, x)
        return v, _arccos1_grad(x, y), _arccos1_grad(y, x)

    return ref


def _expdot(scale: float) -> Reference:
    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        v = mpmath.exp(_dot(x, y) / scale)
        return v, [t / scale * v for t in y], [t / scale * v for t in x]

    return ref


def _bilinear(W: np.ndarray) -> Reference:
    Wm = [[mpf(float(w)) for w in row] for row in W]

    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        gx = [mpmath.fsum(w * b for w, b in zip(row, y, strict=True)) for row in Wm]
        gy = [mpmath.fsum(Wm[a][b] * x[a] for a in range(len(x))) for b in range(len(y))]
        return _dot(x, gx), gx, gy

    return ref


W23 = np.array([[1.5, -2.0, 0.25], [0.0, 3.0, -1.0]])

# (relation factory by dimension, reference, non-negative boxes only)
KERNELS: list[tuple[str, Callable[[int], Relation], Callable[..., object], bool]] = [
    ("gaussian", lambda d: Gaussian(lengthscale=0.7), _gaussian(0.7), False),
    ("laplace", lambda d: Laplace(lengthscale=0.7), _laplace(0.7), False),
    ("matern32", lambda d: Matern32(lengthscale=0.7), _matern(0.7, 3), False),
    ("matern52", lambda d: Matern52(lengthscale=0.7), _matern(0.7, 5), False),
    (
        "poly",
        lambda d: Polynomial(degree=3, offset=0.5, gamma=2.0),
        _polynomial(3, 0.5, 2.0),
        False,
    ),
    ("brownian", lambda d: Brownian(), _brownian, True),
    ("periodic", lambda d: Periodic(kappa=1.5, period=2.0), _periodic(1.5, 2.0), False),
    ("arccos0", lambda d: ArcCosine(order=0), _arccos(0), False),
    ("arccos1", lambda d: ArcCosine(order=1), _arccos(1), False),
    ("expdot", lambda d: ExpDot(scale=2.0), _expdot(2.0), False),
]
KERNEL_IDS = [k[0] for k in KERNELS]


# --------------------------------------------------------------------------------------
# boxes and points
# --------------------------------------------------------------------------------------


def _boxes(
    rng: np.random.Generator, k: int, dx: int, dy: int, half_width: float, nonneg: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """k box pairs; a third of them share their x- and y-box (kinks of x - y inside), and
    two are centred at y = -x and y = 2 x (angles pi and 0 for the arc-cosine kernels)."""
    lo_c = 0.0 if nonneg else -1.5
    cx = rng.uniform(lo_c, 1.5, (k, dx))
    cy = rng.uniform(lo_c, 1.5, (k, dy))
    hx = half_width * rng.uniform(0.0, 1.0, (k, dx))
    hy = half_width * rng.uniform(0.0, 1.0, (k, dy))
    if dx == dy:
        m = k // 3
        cy[:m], hy[:m] = cx[:m], hx[:m]
        cy[m], cy[m + 1] = (cx[m] if nonneg else -cx[m]), 2 * cx[m + 1]
    xlo, xhi, ylo, yhi = cx - hx, cx + hx, cy - hy, cy + hy
    if nonneg:
        xlo, ylo = np.maximum(xlo, 0.0), np.maximum(ylo, 0.0)
    return xlo, xhi, ylo, yhi


def _points(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, n_random: int
) -> list[np.ndarray]:
    """Points of the box [lo, hi]: its two extreme corners, a random corner, the centre
    and random points (all clipped into the box)."""
    corner = np.where(rng.random(lo.shape) < 0.5, lo, hi)
    pts = [lo.copy(), hi.copy(), corner, (lo + hi) / 2]
    pts += [lo + rng.random(lo.shape) * (hi - lo) for _ in range(n_random)]
    return [np.minimum(np.maximum(p, lo), hi) for p in pts]


def _inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpf(lo) <= value <= mpf(hi)


def _check_box(
    enc: object,
    i: int,
    ref: Callable[..., tuple],
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    label: str,
) -> None:
    """Every reference value and gradient at the points lies in the enclosure of box pair i."""
    with mpmath.workprec(PREC):
        for x, y in zip(xs, ys, strict=True):
            xm = [mpf(float(t)) for t in x]
            ym = [mpf(float(t)) for t in y]
            v, gx, gy = ref(xm, ym)
            ctx = f"{label}: box {i}, x={x.tolist()}, y={y.tolist()}"
            assert _inside(v, enc.value_lo[i], enc.value_hi[i]), (
                f"{ctx}: value {v} not in [{enc.value_lo[i]!r}, {enc.value_hi[i]!r}]"
            )
            for name, g, glo, ghi in (
                ("grad_x", gx, enc.grad_x_lo[i], enc.grad_x_hi[i]),
                ("grad_y", gy, enc.grad_y_lo[i], enc.grad_y_hi[i]),
            ):
                if g is None:  # no gradient exists there: the bounds must be infinite
                    assert np.all(glo == -np.inf) and np.all(ghi == np.inf), ctx
                    continue
                for c, gc in enumerate(g):
                    assert _inside(gc, glo[c], ghi[c]), (
                        f"{ctx}: {name}[{c}] = {gc} not in [{glo[c]!r}, {ghi[c]!r}]"
                    )


# --------------------------------------------------------------------------------------
# kernels: containment
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "make", "ref", "nonneg"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_kernel_enclosures_contain_values_and_gradients(rng, name, make, ref, nonneg, d):
    relation = make(d)
    for half_width in (0.0, 1e-7, 1e-2, 0.3, 2.0):
        xlo, xhi, ylo, yhi = _boxes(rng, 9, d, d, half_width, nonneg)
        enc = relation.enclose(xlo, xhi, ylo, yhi)
        assert np.all(enc.value_lo <= enc.value_hi)
        for i in range(xlo.shape[0]):
            xs = _points(rng, xlo[i], xhi[i], 2)
            ys = _points(rng, ylo[i], yhi[i], 2)
            _check_box(enc, i, ref, xs, ys, f"{name} d={d} h={half_width}")


@st.composite
def _box_pair(draw: st.DrawFn, d: int, nonneg: bool) -> tuple[np.ndarray, ...]:
    lo_c = 0.0 if nonneg else -3.0
    coord = st.floats(lo_c, 3.0, allow_nan=False)
    width = st.one_of(st.just(0.0), st.floats(0.0, 1e-6), st.floats(0.0, 4.0))
    frac = st.floats(0.0, 1.0)
    cx = np.array([draw(coord) for _ in range(d)])
    cy = np.array([draw(coord) for _ in range(d)])
    if draw(st.booleans()):
        cy = cx.copy()  # shared corner: x = y possible
    wx = np.array([draw(width) for _ in range(d)])
    wy = np.array([draw(width) for _ in range(d)])
    px = np.array([draw(frac) for _ in range(d)])
    py = np.array([draw(frac) for _ in range(d)])
    x = np.minimum(cx + px * wx, cx + wx)
    y = np.minimum(cy + py * wy, cy + wy)
    return cx[None], (cx + wx)[None], cy[None], (cy + wy)[None], x, y


@pytest.mark.parametrize(("name", "make", "ref", "nonneg"), KERNELS, ids=KERNEL_IDS)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_kernel_enclosures_hypothesis(name, make, ref, nonneg, data):
    d = data.draw(st.integers(1, 3))
    xlo, xhi, ylo, yhi, x, y = data.draw(_box_pair(d, nonneg))
    enc = make(d).enclose(xlo, xhi, ylo, yhi)
    _check_box(enc, 0, ref, [x, xlo[0], xhi[0]], [y, ylo[0], yhi[0]], name)


def test_bilinear_enclosures(rng):
    relation = Bilinear(W23)
    ref = _bilinear(W23)
    for half_width in (0.0, 1e-7, 0.1, 2.0):
        xlo, xhi, ylo, yhi = _boxes(rng, 10, 2, 3, half_width, False)
        enc = relation.enclose(xlo, xhi, ylo, yhi)
        for i in range(10):
            xs = _points(rng, xlo[i], xhi[i], 2)
            ys = _points(rng, ylo[i], yhi[i], 2)
            _check_box(enc, i, ref, xs, ys, f"bilinear h={half_width}")


# --------------------------------------------------------------------------------------
# expressions
# --------------------------------------------------------------------------------------


def _heaviside(x: mpmath.mpf, h0: object = None) -> mpmath.mpf:
    return mpf(1) if x > 0 else (mpf(0) if x < 0 else mpf(h0 if h0 is not None else 0.5))


def _dirac(x: mpmath.mpf, *_: object) -> mpmath.mpf:
    return mpf(0) if x != 0 else mpmath.inf


def _expression_reference(relation: ExpressionRelation) -> Reference:
    """sympy's value and derivatives of the expression, lambdified to mpmath."""
    xs, ys = relation.symbols
    expr = relation.expr.xreplace({f: sp.Rational(f) for f in relation.expr.atoms(sp.Float)})
    outputs = [expr] + [sp.diff(expr, s) for s in [*xs, *ys]]
    modules = [{"Heaviside": _heaviside, "DiracDelta": _dirac, "sign": mpmath.sign}, "mpmath"]
    funcs = [sp.lambdify([*xs, *ys], e, modules=modules) for e in outputs]
    dx = len(xs)

    def ref(x: Vector, y: Vector) -> tuple[mpmath.mpf, Vector, Vector]:
        vals = []
        for f in funcs:
            try:
                val = mpf(f(*x, *y))
            except (ZeroDivisionError, ValueError, TypeError):
                val = None  # undefined at the point (e.g. 0/0 at a cone tip)
            vals.append(None if val is None or mpmath.isnan(val) else val)  # nan: a jump
        return vals[0], vals[1 : 1 + dx], vals[1 + dx :]

    return ref


# (expression, x_dim, y_dim, box range): smooth, kinked, and jumping relations.
EXPRESSIONS = [
    ("exp(-Abs(x0 - y0))", (-1.5, 1.5)),
    ("sin(x0 - 2*y0) + cos(x0*y1)", (-2.0, 2.0)),
    ("log(1 + x0**2 + y0**2)*sqrt(1 + x1**2) - 0.1*x1", (-2.0, 2.0)),
    ("Max(x0, y0) - Min(x1, y1)**2", (-1.0, 1.0)),
    ("x0**3*y0 - x0/(2 + y0**2) + tanh(x0*y1)", (-1.5, 1.5)),
    ("(x0**2 + y0**2 + 1)**(-3/2) + atan(x0 - y0) + 2**x0", (-2.0, 2.0)),
    ("Abs(x0)*Abs(y0) + pi*E*x0/7", (-1.0, 1.0)),
    ("x0**2.5*y0 + y0**0.3 + sqrt(x0)", (0.0, 2.0)),
    ("cosh(x0) - sinh(y0) + tan(x0/3)", (-2.0, 2.0)),
    ("sign(x0 - y0) + Heaviside(y0)", (-1.0, 1.0)),
]
EXPRESSION_RELATIONS = {text: ExpressionRelation(text) for text, _ in EXPRESSIONS}


def _gradient_ok_or_jump(relation: ExpressionRelation) -> bool:
    return "sign" not in str(relation.expr) and "Heaviside" not in str(relation.expr)


@pytest.mark.parametrize(("text", "box_range"), EXPRESSIONS, ids=[e[0] for e in EXPRESSIONS])
def test_expression_enclosures_contain_sympy_values(rng, text, box_range):
    relation = EXPRESSION_RELATIONS[text]
    ref = _expression_reference(relation)
    a, b = box_range
    for half_width in (0.0, 1e-7, 0.05, 0.5):
        k = 8
        cx = rng.uniform(a, b, (k, relation.x_dim))
        cy = rng.uniform(a, b, (k, relation.y_dim))
        if relation.x_dim == relation.y_dim:
            cy[:3] = cx[:3]  # kinks inside
        hx = half_width * rng.random((k, relation.x_dim))
        hy = half_width * rng.random((k, relation.y_dim))
        xlo, xhi = np.clip(cx - hx, a, b), np.clip(cx + hx, a, b)
        ylo, yhi = np.clip(cy - hy, a, b), np.clip(cy + hy, a, b)
        enc = relation.enclose(xlo, xhi, ylo, yhi)
        for i in range(k):
            xs = _points(rng, xlo[i], xhi[i], 2)
            ys = _points(rng, ylo[i], yhi[i], 2)
            with mpmath.workprec(PREC):
                for x, y in zip(xs, ys, strict=True):
                    v, gx, gy = ref([mpf(float(t)) for t in x], [mpf(float(t)) for t in y])
                    ctx = f"{text}: x={x.tolist()}, y={y.tolist()}"
                    assert _inside(v, enc.value_lo[i], enc.value_hi[i]), (
                        f"{ctx}: {v} not in [{enc.value_lo[i]!r}, {enc.value_hi[i]!r}]"
                    )
                    for g, glo, ghi in (
                        (gx, enc.grad_x_lo[i], enc.grad_x_hi[i]),
                        (gy, enc.grad_y_lo[i], enc.grad_y_hi[i]),
                    ):
                        for c, gc in enumerate(g):
                            if gc is None:
                                continue
                            assert _inside(gc, glo[c], ghi[c]), (
                                f"{ctx}: d/d[{c}] = {gc} not in [{glo[c]!r}, {ghi[c]!r}]"
                            )


HYPOTHESIS_EXPRESSIONS = [e for e in EXPRESSIONS if e[1] == (-1.5, 1.5) or e[1] == (-1.0, 1.0)]


@pytest.mark.parametrize(
    ("text", "box_range"), HYPOTHESIS_EXPRESSIONS, ids=[e[0] for e in HYPOTHESIS_EXPRESSIONS]
)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_expression_enclosures_hypothesis(text, box_range, data):
    relation = EXPRESSION_RELATIONS[text]
    ref = _expression_reference(relation)
    a, b = box_range
    coord = st.floats(a, b, allow_nan=False)
    width = st.one_of(st.just(0.0), st.floats(0.0, 1e-6), st.floats(0.0, b - a))
    lo = [np.array([data.draw(coord) for _ in range(n)]) for n in (relation.x_dim, relation.y_dim)]
    if relation.x_dim == relation.y_dim and data.draw(st.booleans()):
        lo[1] = lo[0].copy()  # kinks of x - y on the boundary
    hi = [np.minimum(v + np.array([data.draw(width) for _ in v]), b) for v in lo]
    pts = [
        np.minimum(v + np.array([data.draw(st.floats(0, 1)) for _ in v]) * (h - v), h)
        for v, h in zip(lo, hi, strict=True)
    ]
    enc = relation.enclose(lo[0][None], hi[0][None], lo[1][None], hi[1][None])
    with mpmath.workprec(PREC):
        for x, y in ((pts[0], pts[1]), (lo[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1])):
            v, gx, gy = ref([mpf(float(t)) for t in x], [mpf(float(t)) for t in y])
            assert _inside(v, enc.value_lo[0], enc.value_hi[0]), (text, x, y)
            for g, glo, ghi in (
                (gx, enc.grad_x_lo[0], enc.grad_x_hi[0]),
                (gy, enc.grad_y_lo[0], enc.grad_y_hi[0]),
            ):
                for c, gc in enumerate(g):
                    assert gc is None or _inside(gc, glo[c], ghi[c]), (text, x, y, c, gc)


def test_expression_jumps_give_infinite_gradients_and_finite_values():
    relation = EXPRESSION_RELATIONS["sign(x0 - y0) + Heaviside(y0)"]
    enc = relation.enclose([[-0.1]], [[0.1]], [[-0.2]], [[0.2]])
    # [-1, 1] + [0, 1] with one outward-rounded addition (one ulp each way)
    assert -1.0 - 4 * EPS <= enc.value_lo[0] <= -1.0 and 2.0 <= enc.value_hi[0] <= 2.0 + 8 * EPS
    assert enc.grad_x_lo[0, 0] == -np.inf and enc.grad_x_hi[0, 0] == np.inf
    assert enc.grad_y_lo[0, 0] == -np.inf and enc.grad_y_hi[0, 0] == np.inf
    # away from the jumps the gradient is exactly 0
    enc = relation.enclose([[0.5]], [[0.6]], [[0.1]], [[0.2]])
    assert abs(enc.grad_x_lo[0, 0]) <= 1e-300 and abs(enc.grad_x_hi[0, 0]) <= 1e-300
    assert (
        enc.value_lo[0] <= 2.0 <= enc.value_hi[0] and enc.value_hi[0] - enc.value_lo[0] <= 8 * EPS
    )


def test_expression_kink_gives_clarke_hull():
    relation = EXPRESSION_RELATIONS["exp(-Abs(x0 - y0))"]
    enc = relation.enclose([[0.0]], [[0.0]], [[0.0]], [[0.0]])  # the kink itself
    assert enc.grad_x_lo[0, 0] <= -1.0 and enc.grad_x_hi[0, 0] >= 1.0
    assert enc.value_lo[0] <= 1.0 <= enc.value_hi[0]


def test_expression_values_only_matches_full_enclosure(rng):
    relation = ExpressionRelation("exp(x0*y0) - x0**2")
    xlo = rng.uniform(-1, 1, (50, 1))
    ylo = rng.uniform(-1, 1, (50, 1))
    lo, hi = relation.enclose_values(xlo, xlo + 0.1, ylo, ylo + 0.1)
    enc = relation.enclose(xlo, xlo + 0.1, ylo, ylo + 0.1)
    np.testing.assert_array_equal(lo, enc.value_lo)
    np.testing.assert_array_equal(hi, enc.value_hi)


def test_expression_outside_its_domain_is_unknown_not_nan():
    relation = ExpressionRelation("log(x0) + y0")
    enc = relation.enclose([[-2.0]], [[-1.0]], [[0.0]], [[1.0]])
    assert enc.value_lo[0] == -np.inf and enc.value_hi[0] == np.inf
    enc = relation.enclose([[0.0]], [[1.0]], [[0.0]], [[1.0]])
    assert enc.value_lo[0] == -np.inf and np.isfinite(enc.value_hi[0])
    assert not np.isnan(enc.grad_x_lo).any()


def test_unsupported_expression_node_is_named():
    relation = ExpressionRelation("floor(x0) + y0")
    with pytest.raises(InvalidInputError, match=r"floor.*Supported: .*Abs"):
        relation.enclose([[0.0]], [[1.0]], [[0.0]], [[1.0]])
    with pytest.raises(InvalidInputError, match="Piecewise"):
        ExpressionRelation("Piecewise((x0, x0 > 0), (y0, True))").enclose_values(
            [[0.0]], [[1.0]], [[0.0]], [[1.0]]
        )


def test_callable_relation_cannot_be_enclosed():
    relation = CallableRelation(lambda X, Y: X[:, 0] * Y[:, 0], x_dim=1, y_dim=1, name="prod")
    with pytest.raises(InvalidInputError, match=r"black-box callable.*expr:"):
        relation.enclose([[0.0]], [[1.0]], [[0.0]], [[1.0]])


# --------------------------------------------------------------------------------------
# degenerate boxes: tight point enclosures
# --------------------------------------------------------------------------------------


def _point_scale(name: str, x: np.ndarray, y: np.ndarray, v: float) -> float:
    """An upper bound on width / eps of the point enclosure of each kernel of KERNELS.

    Derivation: a correctly rounded operation widens by one ulp (<= 2 eps relative) per
    side, a libm call by 2^-48 = 16 eps per side. An exp-type kernel v = exp(-t) (up to
    a polynomial factor) gets 2 x 16 eps from exp, plus the absolute width of its exponent
    t, which for the <= 4 d + 8 operations of the formula (d <= 3) is at most
    ~40 eps x m, m the magnitude of the terms of t (r^2 / (2 l^2), sqrt(nu) r / l,
    sum |x_i y_i| / s, kappa sum_i (|cos| + |w (x_i - y_i)|)). Hence
    width <= v (64 + 48 (1 + m)) eps. The polynomial kernel loses relative accuracy by
    cancellation in gamma <x, y> + c, so its bound is relative to the magnitude
    (gamma sum |x_i y_i| + c)^3 (3 multiplications, each widening by <= 2 ulps of it, and
    the base by <= 2 d + 2 ulps, times the degree). Brownian: d products, 2 eps each. The
    arc-cosine kernels: the angle has an absolute width of a few dozen ulps of pi, scaled
    by |x| |y| for order 1.
    """
    diff = x - y
    r = float(np.linalg.norm(diff))
    if name == "poly":
        return 64.0 * (2.0 * float(np.abs(x) @ np.abs(y)) + 0.5) ** 3
    if name == "brownian":
        return 16.0 * v
    if name == "arccos0":
        return 256.0
    if name == "arccos1":
        return 512.0 * float(np.linalg.norm(x) * np.linalg.norm(y))
    magnitude = {
        "gaussian": r**2 / (2 * 0.7**2),
        "laplace": r / 0.7,
        "matern32": math.sqrt(3) * r / 0.7,
        "matern52": math.sqrt(5) * r / 0.7,
        "expdot": float(np.abs(x) @ np.abs(y)) / 2.0,
        "periodic": 1.5 * float(np.sum(1 + np.abs(np.pi * diff))),
    }[name]
    return v * (64 + 48 * (1 + magnitude))


@pytest.mark.parametrize(("name", "make", "ref", "nonneg"), KERNELS, ids=KERNEL_IDS)
def test_point_enclosures_are_tight(rng, name, make, ref, nonneg):
    d = 3
    lo_c = 0.0 if nonneg else -1.5
    X = rng.uniform(lo_c, 1.5, (200, d))
    Y = rng.uniform(lo_c, 1.5, (200, d))
    Y[:20] = X[:20]
    relation = make(d)
    vlo, vhi = relation.enclose_values(X, X, Y, Y)
    values = relation.paired(X, Y)
    for i in range(200):
        width = vhi[i] - vlo[i]
        bound = _point_scale(name, X[i], Y[i], abs(float(values[i]))) * EPS
        assert width <= bound, (name, i, width / EPS, bound / EPS)


def test_bilinear_point_enclosures_are_tight(rng):
    X, Y = rng.uniform(-2, 2, (100, 2)), rng.uniform(-2, 2, (100, 3))
    vlo, vhi = Bilinear(W23).enclose_values(X, X, Y, Y)
    # 2 x 3 products, each term rounded twice and summed in 3 + 2 steps: <= 16 ulps of the
    # magnitude sum_ij |W_ij x_i y_j| per side.
    magnitude = np.einsum("ij,ni,nj->n", np.abs(W23), np.abs(X), np.abs(Y))
    assert np.all(vhi - vlo <= 32 * EPS * magnitude)


# --------------------------------------------------------------------------------------
# shrinking boxes
# --------------------------------------------------------------------------------------


SMOOTH = [k for k in KERNELS if k[0] not in ("arccos0",)]


@pytest.mark.parametrize(("name", "make", "ref", "nonneg"), SMOOTH, ids=[k[0] for k in SMOOTH])
def test_enclosures_shrink_with_the_boxes(rng, name, make, ref, nonneg):
    d = 2
    c_lo = 0.2 if nonneg else -1.0
    cx = rng.uniform(c_lo, 1.0, (20, d))
    cy = rng.uniform(c_lo, 1.0, (20, d))
    relation = make(d)
    widths = []
    for h in (0.1, 0.025, 0.00625):
        enc = relation.enclose(cx - h, cx + h, cy - h, cy + h)
        widths.append(enc.value_hi - enc.value_lo)
    # Interval enclosures of a Lipschitz function converge linearly in the box size: the
    # width at h / 4 is well below the width at h (< 1/2 leaves room for the constants).
    assert np.all(widths[1] < 0.5 * widths[0]), name
    assert np.all(widths[2] < 0.5 * widths[1]), name


def test_arccos0_enclosure_at_the_origin():
    relation = ArcCosine(order=0)
    enc = relation.enclose([[-0.1, -0.1]], [[0.1, 0.1]], [[1.0, 0.0]], [[1.0, 0.5]])
    assert enc.value_lo[0] == 0.0 and enc.value_hi[0] == 1.0  # [0, 1]: the kernel's range
    assert np.all(enc.grad_x_lo == -np.inf) and np.all(enc.grad_x_hi == np.inf)
    assert np.all(np.isfinite(enc.grad_y_lo)) and np.all(np.isfinite(enc.grad_y_hi))
    enc = relation.enclose([[0.0, 0.0]], [[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 0.0]])
    assert enc.value_lo[0] == 0.5 == enc.value_hi[0]  # the convention at a zero vector


def test_laplace_gradient_at_the_kink():
    enc = Laplace(lengthscale=2.0).enclose([[0.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]])
    # The Clarke gradient at r = 0 is the ball of radius 1 / l: components in [-1/2, 1/2].
    assert np.all(enc.grad_x_lo <= -0.5) and np.all(enc.grad_x_hi >= 0.5)
    assert np.all(enc.grad_x_lo >= -0.5 - 1e-12) and np.all(enc.grad_x_hi <= 0.5 + 1e-12)


def test_brownian_gradient_at_a_tie_is_the_hull():
    enc = Brownian().enclose([[0.5, 1.0]], [[0.5, 1.0]], [[0.5, 2.0]], [[0.5, 2.0]])
    assert enc.grad_x_lo[0, 0] == 0.0 and enc.grad_x_hi[0, 0] >= 1.0  # tie in coordinate 0
    assert enc.grad_y_lo[0, 1] == 0.0 == enc.grad_y_hi[0, 1]  # x_1 < y_1 certainly


def test_overflow_gives_infinite_bounds_not_nan():
    enc = ExpDot(scale=1.0).enclose([[0.0, 30.0]], [[1.0, 30.0]], [[0.0, 30.0]], [[1.0, 30.0]])
    assert enc.value_hi[0] == np.inf and enc.value_lo[0] > 1e300
    assert not np.isnan(enc.grad_x_lo).any() and not np.isnan(enc.grad_x_hi).any()
    assert -1e-300 <= enc.grad_x_lo[0, 0] <= 0.0 and enc.grad_x_hi[0, 0] == np.inf


def test_empty_batch():
    enc = Gaussian().enclose(np.empty((0, 2)), np.empty((0, 2)), np.empty((0, 2)), np.empty((0, 2)))
    assert enc.value_lo.shape == (0,) and enc.grad_x_lo.shape == (0, 2)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def test_enclose_validates_boxes():
    k = Gaussian(dim=2)
    ok = np.zeros((3, 2))
    with pytest.raises(InvalidInputError, match=r"`xlo` must contain only finite values"):
        k.enclose(np.full((3, 2), np.nan), ok, ok, ok)
    with pytest.raises(InvalidInputError, match=r"`yhi` must hold points of dimension 2"):
        k.enclose(ok, ok, ok, np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match=r"`xlo` must be <= `xhi` elementwise.*xlo\[1, 0\]"):
        bad = ok.copy()
        bad[1, 0] = 1.0
        k.enclose(bad, ok, ok, ok)
    with pytest.raises(InvalidInputError, match=r"same number k of boxes"):
        k.enclose(ok, ok, ok[:2], ok[:2])
    with pytest.raises(InvalidInputError, match=r"`xlo` and `xhi` must have the same shape"):
        k.enclose(ok, ok[:2], ok, ok)
    with pytest.raises(InvalidInputError, match=r"same dimension"):
        Gaussian().enclose(ok, ok, np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(InvalidInputError, match=r"`ylo` must have non-negative coordinates"):
        Brownian().enclose(ok, ok, ok - 1.0, ok)
    with pytest.raises(InvalidInputError, match=r"`xlo` must hold points of dimension 2"):
        Bilinear(W23).enclose(
            np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3))
        )
