"""certify_features: L1 certificates for Nystrom features (Mercer, sklearn, your own)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from certify.certificates import certify_features, verify
from certify.errors import InvalidInputError
from certify.relations import Laplace
from certify.spectral import NystromFeatures, mercer


@pytest.fixture(scope="module")
def features():
    return NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=8)


def test_holds_confirms_and_bounds_a_dense_sample(features, tmp_path):
    cert = certify_features(features, "box:-1,1", eps=1e-3, progress=False)
    assert cert.verdict == "HOLDS" and cert.route == "L1"
    g = np.linspace(-1, 1, 2001)[:, None]
    P = features.forward(g)
    assert np.max(np.abs(np.exp(-((g - g.T) ** 2) / 0.5) - P @ P.T)) <= cert.upper
    assert verify(cert.save(tmp_path / "c.json"), progress=False).status == "CONFIRMED"


def test_too_few_features_is_violated(features):
    F = NystromFeatures.from_mercer(mercer("gaussian:lengthscale=0.5", "box:-1,1"), rank=4)
    cert = certify_features(F, "box:-1,1", eps=1e-3, progress=False)
    assert cert.verdict == "VIOLATED" and cert.lower > 1e-3 and cert.witness_point is not None


def test_features_that_are_not_a_contraction_never_hold(features):
    """Scaled-up coefficients make G = C^T K C > I: L1' fails, so no HOLDS whatever the diagonal."""
    big = NystromFeatures(features.relation, features.nodes, features.coefficients * 1.01)
    cert = certify_features(big, "box:-1,1", eps=0.5, progress=False)
    assert cert.verdict != "HOLDS"


def test_tampered_coefficient_is_caught(features, tmp_path):
    cert = certify_features(features, "box:-1,1", eps=1e-3, progress=False)
    path = cert.save(tmp_path / "c.json")
    data = json.loads(path.read_text())
    rows = data["witness"]["phi"]["coefficients"]
    rows[3][0] = (float.fromhex(rows[3][0]) * 1.05).hex()  # (the L1' proof alone catching
    # such a change, with a recomputed digest, is tested in test_nystrom_route.py)
    path.write_text(json.dumps(data))
    assert verify(path, progress=False).status != "CONFIRMED"


def test_bad_input(features):
    with pytest.raises(InvalidInputError, match="NystromFeatures"):
        certify_features("F", "box:-1,1", eps=1e-3)
    with pytest.raises(InvalidInputError, match="dimension"):
        certify_features(features, "box:-1,1;-1,1", eps=1e-3)
    with pytest.raises(InvalidInputError, match="eps"):
        certify_features(features, "box:-1,1", eps=0.0)
    # kernels without Taylor models take the mean-value path (a tiny Laplace instance)
    lap = NystromFeatures(Laplace(1.0), [[-0.5], [0.5]], [[0.3], [0.3]])
    cert = certify_features(lap, "box:-1,1", eps=0.99, progress=False)  # sup ~ 0.94
    assert cert.method["enclosure"].startswith("mean-value") and cert.verdict == "HOLDS"


def test_reports_show_nystrom_witnesses(features):
    """summary / latex_row / `certify show` handle Nystrom witnesses (route L1 and L2S)."""
    from certify.certificates import certify_symmetric, latex_row, summary

    cert = certify_features(features, "box:-1,1", eps=1e-3, progress=False)
    text = summary(cert)
    assert "Nystrom features of gaussian:lengthscale=0.5 1-" in text and "kernel units" in text
    assert "HOLDS" in latex_row(cert)
    l2s = certify_symmetric(
        "gaussian:lengthscale=0.5", "box:-1,1", eps=1e-3, method="construction", progress=False
    )
    text = summary(l2s)
    assert "phi = tanh MLP 1-" in text and "F = Nystrom features" in text


def test_kappa_attained_at_a_corner_is_confirmed(tmp_path):
    """Brownian: kappa = sup r(x, x) = 1 is attained exactly at x = 1. The stated kappa carries
    a 2^-20 relative margin so that the checker (whose balls exceed float boxes by 2^-30 of
    their width) can confirm it; before, every such L2S certificate was 'not confirmed'."""
    from certify.certificates import certify_symmetric

    cert = certify_symmetric("brownian", "box:0,1", eps=0.2, method="construction", progress=False)
    kappa = next(p for p in cert.parts if p.name == "kappa")
    assert 1.0 < kappa.upper <= 1.0 + 2.0**-19
    result = verify(cert.save(tmp_path / "b.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason
