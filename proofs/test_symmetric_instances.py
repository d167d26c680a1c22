"""Theorem T-S with lemmas L1, L1' and L2 on a certified instance.

Claim: for the Gaussian kernel (lengthscale 0.5) on [-1, 1] there is a tanh MLP phi with
sup |k(x, y) - <phi(x), phi(y)>| <= 1e-3. The certificate is produced by THEORY.md's
construction: certified Nystrom features F_d (L1' proves r - <F, F> PSD, so L1 bounds the
truncation by the diagonal tail T(d)), one tanh block per feature, and L2's bound
T(d) + 2 sqrt(kappa) Delta + Delta^2 assembled from three enclosures over X; the independent
checker re-proves everything in ball arithmetic.

The same on [-1, 1]^2 (Chebyshev measure for the Mercer data): 47 features and one hidden
layer of 400 tanh units shared by them, Delta enclosed with Taylor models of F and phi.

Second instance: Matern 3/2 (lengthscale 1, the kernel's default) on [-1, 1] at 1e-3, with
the exact ReLU interpolation witness (``method="interpolation"``: <phi, phi> is the
bilinear interpolant of k on uniform knots) certified by the direct route over X x X.

Third instance: Brownian motion min(x, y) on [0, 1] at 1e-3 with the same kind of witness (513
knots, 512 features, 44 554 leaves over X x X). It is the slowest proof-check: ~2.5 minutes on
2 cores (the engine evaluates each distinct interval of a batch once, the checker caches its
network enclosures and uses ball products unless a leaf needs interval products; before
those it took 13 minutes).
"""

from __future__ import annotations

import numpy as np
import pytest

import certify
from certify.certificates import verify
from certify.certificates.symmetric import certify_symmetric, sampled_sup_error
from certify.spectral import certified_uniform_tail, mercer


@pytest.fixture(scope="module")
def gaussian_certificate():
    return certify_symmetric(
        "gaussian:lengthscale=0.5", "box:-1,1", eps=1e-3, method="construction", progress=False
    )


def test_l1_diagonal_tail_bounds_the_truncation_error():
    """L1 + L1': sup |r - <F_d, F_d>| <= T(d), checked against a dense product sample."""
    dec = mercer("gaussian:lengthscale=0.5", "box:-1,1")
    tail = certified_uniform_tail(dec, 7, eps=1e-3)
    assert tail.l1_prime.holds and tail.sup_error_bound is not None
    g = np.linspace(-1, 1, 801)[:, None]
    F = tail.features(g)
    sampled = certify.residual_max("gaussian:lengthscale=0.5", g, g, F, F).value
    assert sampled <= tail.sup_error_bound
    print(f"L1 certified: T(7) <= {tail.sup_error_bound:.3e} >= sampled sup {sampled:.3e}")


def _holds_and_confirmed(cert, kernel: str, box: str, route: str, path) -> certify.MLP:
    """The T-S claim at eps = 1e-3 HOLDS by ``route``, a grid sample stays below the proven
    bound, and the independent checker confirms the saved file; returns the witness."""
    assert cert.verdict == "HOLDS" and cert.route == route and cert.upper <= 1e-3
    phi = certify.MLP.from_dict(cert.network("phi"))
    rel = certify.parse_relation(kernel)
    assert sampled_sup_error(rel, certify.parse_domain(box), phi) <= cert.upper
    result = verify(cert.save(path), progress=False)
    assert result.status == "CONFIRMED", result.reason
    return phi


def test_ts_gaussian_interval_at_1e3(gaussian_certificate, tmp_path):
    """T-S on [-1, 1] at eps = 1e-3, via L2 (route L2S); the checker confirms."""
    cert = gaussian_certificate
    kernel = "gaussian:lengthscale=0.5"
    phi = _holds_and_confirmed(cert, kernel, "box:-1,1", "L2S", tmp_path / "ts.json")
    print(
        f"T-S certified: gaussian:lengthscale=0.5 on [-1,1], {phi.n_neurons} neurons, "
        f"sup error <= {cert.upper:.3e} <= 1e-3 (sha256 {cert.sha256[:12]})"
    )


def test_ts_gaussian_square_at_1e3(tmp_path):
    """T-S on [-1, 1]^2 at eps = 1e-3 with a tanh MLP witness, via L2 (route L2S).

    The construction with the Chebyshev measure: d = 47 certified Nystrom features with
    T(d) <= eps / 4, one shared hidden layer fitted to them, Delta enclosed with Taylor
    models of both maps; the checker re-proves the three parts with its own Taylor models.
    """
    box = "box:-1,1;-1,1"
    cert = certify_symmetric(
        "gaussian:lengthscale=0.5", box, eps=1e-3, method="construction",
        measure="chebyshev", progress=False,
    )  # fmt: skip
    kernel = "gaussian:lengthscale=0.5"
    phi = _holds_and_confirmed(cert, kernel, box, "L2S", tmp_path / "ts_square.json")
    l4 = cert.method["bounds"]["L4"]
    print(
        f"T-S certified: gaussian:lengthscale=0.5 on [-1,1]^2, {phi.n_neurons} neurons, "
        f"{phi.output_dim} features, sup error <= {cert.upper:.3e} <= 1e-3; L4 gives "
        f"{l4.get('neurons_at_eps')} neurons (sha256 {cert.sha256[:12]})"
    )


def test_l6_lower_bound_is_below_the_witness(gaussian_certificate):
    """L6: no model with fewer than min{m : tau(m) <= e} features reaches sup error e."""
    l6 = gaussian_certificate.method["bounds"]["L6"]
    assert l6["min_features_at_proven_error"] <= l6["witness_features"]
    print(
        f"L6: >= {l6['min_features_at_proven_error']} features needed at the proven error; "
        f"the witness has {l6['witness_features']}"
    )


def _interpolation_instance(kernel: str, box: str, label: str, tmp_path) -> None:
    """T-S at eps = 1e-3 with the ReLU interpolation witness (direct route): HOLDS, a grid
    sample stays below the proven bound, and the independent checker confirms the file."""
    cert = certify_symmetric(kernel, box, eps=1e-3, method="interpolation", progress=False)
    phi = _holds_and_confirmed(cert, kernel, box, "direct", tmp_path / f"ts_{kernel}.json")
    knots = cert.method["witness"]["knots"]
    print(
        f"T-S certified: {kernel} on {label}, ReLU interpolant on {knots['count']} knots, "
        f"{phi.n_neurons} neurons, {phi.output_dim} features, sup error <= {cert.upper:.3e} "
        f"<= 1e-3 (sha256 {cert.sha256[:12]})"
    )


def test_ts_matern32_interpolation_at_1e3(tmp_path):
    """T-S for Matern 3/2 on [-1, 1] at eps = 1e-3: ReLU interpolation witness, direct route."""
    _interpolation_instance("matern32", "box:-1,1", "[-1,1]", tmp_path)


def test_ts_brownian_interpolation_at_1e3(tmp_path):
    """T-S for Brownian motion min(x, y) on [0, 1] at eps = 1e-3: ReLU interpolation witness
    (error w/4 on the diagonal cells), direct route, confirmed by the checker."""
    _interpolation_instance("brownian", "box:0,1", "[0,1]", tmp_path)
