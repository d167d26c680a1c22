"""certify_model and the CLI around it: routes, verdicts, refusals, and the checker's view."""

from __future__ import annotations

import math

import numpy as np
import pytest

import certify
from certify.certificates import Budget, certify_model, verify
from certify.cli import main
from certify.errors import InvalidInputError
from certify.networks import MLP
from certify.networks.builders import fit_random_features

KERNEL = "gaussian:lengthscale=0.5"
DOMAIN = "box:-1,1"


@pytest.fixture(scope="module")
def phi() -> MLP:
    return fit_random_features(KERNEL, DOMAIN, n_neurons=10, ridge=1e-8, rng=3)


@pytest.fixture(scope="module")
def dense_sup(phi) -> float:
    g = np.linspace(-1, 1, 601)[:, None]
    return certify.residual_max(KERNEL, g, g, phi(g), phi(g)).value


def test_direct_route_holds_and_the_checker_confirms(phi, dense_sup, tmp_path):
    eps = 1.5 * dense_sup
    cert = certify_model(KERNEL, DOMAIN, phi, eps=eps, rel_gap=0.2, progress=False)
    assert cert.verdict == "HOLDS" and cert.theorem == "T-S"
    assert dense_sup <= cert.upper <= eps  # the proven bound dominates every sample
    assert cert.lower <= dense_sup * (1 + 1e-12) or cert.lower <= cert.upper
    path = cert.save(tmp_path / "cert.json")
    result = verify(path, progress=False)
    assert result.status == "CONFIRMED", result.reason
    assert result.checked_upper <= eps


def test_violated_when_eps_is_below_the_sampled_sup(phi, dense_sup, tmp_path):
    eps = 0.5 * dense_sup
    cert = certify_model(KERNEL, DOMAIN, phi, eps=eps, progress=False)
    assert cert.verdict == "VIOLATED" and cert.lower > eps
    result = verify(cert.save(tmp_path / "v.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason


def test_budget_exhaustion_is_unknown(phi, dense_sup):
    cert = certify_model(
        KERNEL, DOMAIN, phi, eps=dense_sup * 1.001, rel_gap=0.0, budget=Budget(boxes=64),
        progress=False,
    )  # fmt: skip
    assert cert.verdict == "UNKNOWN"


def test_l1_route_never_holds_without_a_psd_proof(phi, dense_sup, tmp_path):
    cert = certify_model(KERNEL, DOMAIN, phi, eps=10.0, route="L1", progress=False)
    assert cert.verdict == "UNKNOWN" and math.isinf(cert.upper)
    assert cert.method["conditional_upper"] < 10.0
    result = verify(cert.save(tmp_path / "l1.json"), progress=False)
    assert result.exit_code == 1 and "hypothesis" in result.reason


def test_l2_route_combines_the_parts(phi, dense_sup, tmp_path):
    # Reference features F: the same fit with more neurons; psi = phi, so G = F.
    F = fit_random_features(KERNEL, DOMAIN, n_neurons=14, n_features=10, ridge=1e-8, rng=4)
    cert = certify_model(
        KERNEL, DOMAIN, phi, eps=10.0, route="L2", reference=F, rel_gap=0.2, progress=False
    )
    assert cert.verdict == "HOLDS" and cert.lemmas == ("L2",)
    bounds = {p.name: p.upper for p in cert.parts}
    combined = (
        bounds["e0"]
        + bounds["SF"] * bounds["Dpsi"]
        + bounds["Dphi"] * (bounds["SG"] + bounds["Dpsi"])
    )
    # the certificate's u is this combination rounded up in ball arithmetic
    assert combined <= cert.upper <= combined * (1 + 1e-12)
    assert dense_sup <= cert.upper
    result = verify(cert.save(tmp_path / "l2.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason


def test_networks_that_do_not_fit_are_refused(phi):
    wide = MLP.random([2, 4, phi.output_dim], rng=0)
    with pytest.raises(InvalidInputError, match="dimension 2.*does not fit"):
        certify_model(KERNEL, DOMAIN, wide, eps=1.0, progress=False)
    other = MLP.random([1, 4, phi.output_dim + 1], rng=0)
    with pytest.raises(InvalidInputError, match="same output"):
        certify_model(KERNEL, DOMAIN, phi, other, eps=1.0, progress=False)
    with pytest.raises(InvalidInputError, match="box"):
        certify_model(KERNEL, "sphere:2", phi, eps=1.0, progress=False)
    with pytest.raises(InvalidInputError, match="eps"):
        certify_model(KERNEL, DOMAIN, phi, eps=0.0, progress=False)
    with pytest.raises(InvalidInputError, match="cannot be enclosed|callable"):
        rel = certify.relations.CallableRelation(lambda X, Y: X[:, 0], x_dim=1, y_dim=1)
        certify_model(rel, DOMAIN, phi, MLP.random([1, 3, phi.output_dim], rng=1), eps=1.0,
                      progress=False)  # fmt: skip


def test_cli_check_verify_show(phi, dense_sup, tmp_path, capsys):
    npz = tmp_path / "phi.npz"
    phi.save(npz)
    out = tmp_path / "c.json"
    code = main([
        "check", KERNEL, "--domain", DOMAIN, "--phi", str(npz), "--eps", repr(2 * dense_sup),
        "--rel-gap", "0.3", "--out", str(out), "--no-progress",
    ])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "HOLDS" in text and out.exists()
    assert main(["verify", str(out), "--no-progress"]) == 0
    assert "CONFIRMED" in capsys.readouterr().out
    assert main(["show", str(out), "--latex"]) == 0
    assert "HOLDS" in capsys.readouterr().out
    assert main(["show", str(out), "--bibtex"]) == 0
    cite = capsys.readouterr().out
    assert (
        "@misc" in cite and verify(out, progress=False).details.get("file_sha256", "")[:12] in cite
    )
    code = main([
        "check", KERNEL, "--domain", DOMAIN, "--phi", str(npz), "--eps", repr(0.5 * dense_sup),
        "--no-progress",
    ])  # fmt: skip
    assert code == 1  # VIOLATED


def test_cli_refuses_a_network_of_the_wrong_dimension(tmp_path, capsys):
    npz = tmp_path / "wide.npz"
    MLP.random([2, 4, 3], rng=0).save(npz)
    code = main(["check", KERNEL, "--domain", DOMAIN, "--phi", str(npz), "--eps", "0.1"])
    err = capsys.readouterr().err
    assert code == 2 and "does not fit" in err and "Traceback" not in err
    assert main(["check", KERNEL, "--domain", DOMAIN, "--phi", str(tmp_path / "nope.npz"),
                 "--eps", "0.1"]) == 2  # fmt: skip
