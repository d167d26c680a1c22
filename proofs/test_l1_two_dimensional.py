"""Lemmas L1 and L1' on a two-dimensional domain, certified at eps = 1e-3.

Claim: for the Gaussian kernel k (lengthscale 0.5) on X = [-1, 1]^2 the top-37 Nystrom Mercer
features F of k under the Chebyshev (arcsine) measure satisfy

    sup_{x, y in X} |k(x, y) - <F(x), F(y)>| <= 1e-3,

and the top-36 do not (a proven counterexample on the diagonal). Proof: L1' -- with
G = C^T K C (K the kernel matrix of the nodes, C the coefficients) proven <= I in ball
arithmetic, k - <F, F> = <k_x, (I - P) k_y>_H is PSD; L1 -- a PSD kernel e has
|e(x, y)| <= sqrt(e(x, x) e(y, y)), so the sup over X x X is the sup of the diagonal
1 - |F(x)|^2 over X, which the engine encloses with Taylor models (a first-order form would need
millions of boxes here). The independent checker re-proves G <= I and every leaf of the cover
with its own Taylor models in arb.

These are the features of the feature-efficiency benchmark (benchmarks/features.py); the
two-dimensional theorem T-S with an MLP witness needs Taylor models of MLPs, not yet built.
The algebra of L1 (Cauchy-Schwarz for a PSD kernel) is checked in sympy below.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from certify.certificates import certify_features, verify
from certify.spectral import NystromFeatures, mercer

KERNEL = "gaussian:lengthscale=0.5"
BOX = "box:-1,1;-1,1"


@pytest.fixture(scope="module")
def decomposition():
    return mercer(KERNEL, BOX, measure="chebyshev", rank=45)


def test_l1_cauchy_schwarz_for_a_psd_2x2_block():
    """For a PSD 2x2 Gram block [[a, b], [b, c]] (a, c >= 0, ac - b^2 >= 0): b^2 <= a c, hence
    |e(x, y)| <= sqrt(e(x, x) e(y, y)) <= max(e(x, x), e(y, y)). The quadratic form at
    (sqrt(c), -sign(b) sqrt(a)) equals 2 sqrt(ac) (sqrt(ac) - |b|), so PSD forces |b| <= sqrt(ac);
    the last step is the AM-GM inequality, reduced to a square."""
    a, c, b = sp.symbols("a c b", nonnegative=True)  # b stands for |e(x, y)|
    v = sp.Matrix([sp.sqrt(c), -sp.sqrt(a)])
    form = sp.expand((v.T * sp.Matrix([[a, b], [b, c]]) * v)[0])
    assert sp.simplify(form - 2 * sp.sqrt(a * c) * (sp.sqrt(a * c) - b)) == 0
    amgm = sp.expand((a + c) / 2 - sp.sqrt(a) * sp.sqrt(c))
    assert sp.simplify(amgm - (sp.sqrt(a) - sp.sqrt(c)) ** 2 / 2) == 0
    print("L1 algebra: PSD 2x2 block => |e(x,y)| <= sqrt(e(x,x) e(y,y)) (sum of squares)")


def test_l1_two_dimensional_truncation_at_1e3(decomposition, tmp_path):
    F = NystromFeatures.from_mercer(decomposition, rank=37)
    cert = certify_features(F, BOX, eps=1e-3, progress=False)
    assert cert.verdict == "HOLDS" and cert.upper <= 1e-3
    g = np.linspace(-1, 1, 121)
    X = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    sampled = float((1.0 - (F.forward(X) ** 2).sum(axis=1)).max())
    assert sampled <= cert.upper  # a sample can never beat a proven bound
    result = verify(cert.save(tmp_path / "l1-2d.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason
    print(
        f"L1+L1' certified: {KERNEL} on [-1,1]^2, 37 Mercer features (Chebyshev measure), "
        f"sup error <= {cert.upper:.3e} <= 1e-3, checker CONFIRMED (sha256 {cert.sha256[:12]})"
    )


def test_one_feature_fewer_is_refuted(decomposition):
    F = NystromFeatures.from_mercer(decomposition, rank=36)
    cert = certify_features(F, BOX, eps=1e-3, progress=False)
    assert cert.verdict == "VIOLATED" and cert.lower > 1e-3
    print(
        f"L1 refuted: 36 features, error >= {cert.lower:.3e} > 1e-3 at "
        f"x = y = {tuple(round(v, 4) for v in cert.witness_point[0])}"
    )
