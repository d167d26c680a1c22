"""certify_symmetric: theorem T-S on instances, PSD refusals, lemma figures, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

import certify
from certify.certificates import verify
from certify.certificates.symmetric import certify_symmetric, sampled_sup_error
from certify.cli import main
from certify.errors import InvalidInputError, NotPSDError


@pytest.fixture(scope="module")
def gaussian_cert():
    return certify_symmetric("gaussian:lengthscale=0.5", "box:-1,1", eps=1e-3, progress=False)


def test_gaussian_on_an_interval_holds_and_is_confirmed(gaussian_cert, tmp_path):
    cert = gaussian_cert
    assert cert.verdict == "HOLDS" and cert.upper <= 1e-3 and cert.theorem == "T-S"
    phi = certify.MLP.from_dict(cert.network("phi"))
    # an independent sample never exceeds the proven bound
    rel = certify.parse_relation("gaussian:lengthscale=0.5")
    box = certify.parse_domain("box:-1,1")
    assert sampled_sup_error(rel, box, phi, n_per_axis=1501) <= cert.upper
    result = verify(cert.save(tmp_path / "ts.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason


def test_lemma_figures_are_recorded(gaussian_cert):
    l6 = gaussian_cert.method["bounds"]["L6"]
    # L6 is a lower bound: the witness cannot have fewer features than it
    assert 1 <= l6["min_features_at_proven_error"] <= l6["witness_features"]
    assert l6["min_features_at_eps"] <= l6["min_features_at_proven_error"]
    assert gaussian_cert.method["bounds"]["L4"]["value"] is None  # unknown, never guessed
    tried = gaussian_cert.method["witness"]["tried"]
    assert tried[-1]["sampled_sup_error"] <= 5e-4


def test_non_psd_relation_is_refused_with_the_l7_witness():
    with pytest.raises(NotPSDError, match="not positive semidefinite|L7") as info:
        certify_symmetric("expr:-Abs(x0-y0)", "box:-1,1", eps=1e-3, progress=False)
    assert info.value.points is not None and len(info.value.points) >= 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(kernel="bilinear:W=[[1,2],[0,1]]", domain="box:-1,1;-1,1"), "not symmetric"),
        (dict(kernel="gaussian", domain="sphere:2"), "box"),
        (dict(kernel="gaussian", domain="box:-1,1", method="magic"), "method"),
        (dict(kernel="gaussian", domain="box:-1,1", eps=0.0), "eps"),
    ],
)
def test_bad_input(kwargs, match):
    kwargs = {"eps": 1e-2, **kwargs}
    kernel, domain = kwargs.pop("kernel"), kwargs.pop("domain")
    with pytest.raises(InvalidInputError, match=match):
        certify_symmetric(kernel, domain, progress=False, **kwargs)


def test_cli_symmetric(tmp_path, capsys):
    out = tmp_path / "s.json"
    code = main([
        "symmetric", "gaussian:lengthscale=0.5", "--domain", "box:-1,1", "--eps", "1e-2",
        "--out", str(out), "--no-progress",
    ])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "HOLDS" in text and "L6:" in text and out.exists()
    code = main(["symmetric", "expr:-Abs(x0-y0)", "--domain", "box:-1,1", "--eps", "1e-3"])
    assert code == 2 and "L7" in capsys.readouterr().err


def test_sampled_error_is_only_an_estimate():
    # the sampled error of a bad witness is positive and finite; it is never used as a bound
    phi = certify.MLP.random([1, 3, 3], rng=0)
    rel = certify.parse_relation("gaussian")
    value = sampled_sup_error(rel, certify.parse_domain("box:-1,1"), phi, n_per_axis=51)
    assert np.isfinite(value) and value > 0


def test_construction_through_lemma_l2_holds_and_is_confirmed(tmp_path):
    cert = certify_symmetric(
        "gaussian:lengthscale=0.5", "box:-1,1", eps=1e-3, method="construction", progress=False
    )
    assert cert.verdict == "HOLDS" and cert.route == "L2S"
    assert set(cert.lemmas) >= {"L1", "L2"}
    parts = {p.name: p.upper for p in cert.parts}
    # u = T + 2 sqrt(kappa) Delta + Delta^2, recombined here in floats (the record rounds up)
    u = parts["T"] + 2 * parts["kappa"] ** 0.5 * parts["Delta"] + parts["Delta"] ** 2
    assert u * (1 - 1e-12) <= cert.upper <= 1e-3
    phi = certify.MLP.from_dict(cert.network("phi"))
    rel = certify.parse_relation("gaussian:lengthscale=0.5")
    assert sampled_sup_error(rel, certify.parse_domain("box:-1,1"), phi) <= cert.upper
    result = verify(cert.save(tmp_path / "l2s.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason
    # the record says whether the builder met its own sampled Delta target (an estimate;
    # the certificate decides either way)
    rank_step = cert.method["witness"]["tried"][0]
    assert rank_step["target_met"] and rank_step["certified_T"] <= rank_step["T_target"]
    fits = [t for t in cert.method["witness"]["tried"] if "hidden" in t]
    assert fits and all(t["target_met"] == (t["sampled_delta"] <= t["delta_target"]) for t in fits)
    # fewest hidden units first, and the search stops at the first fit that meets its target
    sizes = [t["n_neurons"] for t in fits]
    assert sizes == sorted(sizes) and [t["target_met"] for t in fits].count(True) <= 1
    assert phi.n_neurons == sizes[-1]


def test_cli_symmetric_construction_prints_l4(capsys):
    code = main([
        "symmetric", "gaussian:lengthscale=0.5", "--domain", "box:-1,1", "--eps", "1e-2",
        "--method", "construction", "--no-progress",
    ])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "L4:        Barron networks of" in text and "bound / witness" in text


def test_route_l2s_refuses_plain_networks_as_reference():
    phi = certify.MLP.random([1, 4, 3], rng=0)
    with pytest.raises(InvalidInputError, match="NystromFeatures"):
        certify.certify_model(
            "gaussian", "box:-1,1", phi, eps=1.0, route="L2S", reference=phi, progress=False
        )
