"""Nystrom features (lemma L1'), the ``nystrom-l1prime`` justification and route L2S.

The Nystrom features are built by hand here (Gauss-Legendre nodes, the eigenpairs of
W^(1/2) K W^(1/2), a shrink factor 1 - 1e-9), never by ``certify.spectral``; the covers
are uniform bisections whose leaf bounds are float grid estimates with a safety factor
(the checker, not the test, is the judge of those numbers).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flint import ctx

from certify.certificates.arb_models import ArbNystrom, interval_ball
from certify.certificates.checker import JUSTIFICATION_VERIFIERS, check, verify
from certify.certificates.record import (
    L1_HYPOTHESIS,
    L2S_HYPOTHESIS,
    SCHEMA_ID,
    Certificate,
    Cover,
    Hypothesis,
    Instance,
    Part,
    document_digest,
)
from certify.errors import CertificateError, InvalidInputError

from . import holds_certificate, l1_certificate, mlp_dict, np_forward, uniform_cover

ELL = 0.5
SPEC = f"gaussian:lengthscale={ELL!r}"
N_NODES = 20
D = 6
JUST_F = {"kind": "nystrom-l1prime", "features": "F"}
JUST_PHI = {"kind": "nystrom-l1prime", "features": "phi"}


# --- hand-made Nystrom features ----------------------------------------------------------------
def nystrom_arrays(shrink: float = 1 - 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """(nodes (n,), C (n, d)): F_i(x) = sum_j C[j, i] k(x, x_j), top d eigenpairs, shrunk."""
    x, w = np.polynomial.legendre.leggauss(N_NODES)
    K = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * ELL**2))
    sw = np.sqrt(w)
    lam, U = np.linalg.eigh(sw[:, None] * K * sw[None, :])
    lam, U = lam[::-1][:D], U[:, ::-1][:, :D]
    C = (sw[:, None] * U) / np.sqrt(lam) * shrink
    return x, C


def nystrom_dict(nodes: np.ndarray, C: np.ndarray, spec: str = SPEC) -> dict[str, Any]:
    return {
        "format": "certify.nystrom/1",
        "relation": spec,
        "nodes": [[float(v).hex()] for v in nodes],
        "coefficients": [[float(v).hex() for v in row] for row in C],
    }


def features_np(net: dict[str, Any], X: np.ndarray) -> np.ndarray:
    nodes = np.array([[float.fromhex(v) for v in row] for row in net["nodes"]])
    C = np.array([[float.fromhex(v) for v in row] for row in net["coefficients"]])
    d2 = np.sum((X[:, None, :] - nodes[None, :, :]) ** 2, axis=-1)
    return np.exp(-d2 / (2 * ELL**2)) @ C


def grid_part(name: str, function: str, args: dict[str, str], f: Any, depth: int) -> Part:
    """A part over [-1, 1]: leaf bounds = 1.25 * (max of |f| on a 33-point grid) + 1e-9."""
    tree, splits, leaves = uniform_cover([-1.0], [1.0], depth)
    bounds = []
    for lo, hi in leaves:
        g = np.linspace(lo[0], hi[0], 33)[:, None]
        bounds.append(1.25 * float(np.max(np.abs(f(g)))) + 1e-9)
    fine = np.linspace(-1.0, 1.0, 4001)[:, None]
    vals = np.abs(f(fine))
    k = int(np.argmax(vals))
    return Part(
        name=name,
        function=function,
        args=args,
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover(tuple(tree), tuple(splits), tuple(bounds)),
        lower=0.99 * float(vals[k]),
        upper=max(bounds),
        point=(float(fine[k, 0]),),
    )


def diag_residual_np(net: dict[str, Any]) -> Any:
    return lambda X: 1.0 - np.sum(features_np(net, X) ** 2, axis=1)  # Gaussian: r(x, x) = 1


def l1_nystrom_certificate(
    F: dict[str, Any], *, depth: int = 9, just: Any = JUST_PHI
) -> Certificate:
    part = grid_part("T", "diagonal_residual", {"features": "phi"}, diag_residual_np(F), depth)
    return Certificate(
        verdict="HOLDS",
        eps=part.upper,
        lower=0.0,
        upper=part.upper,
        witness_point=None,
        claim="sup |k - <F, F>| <= eps via lemmas L1' and L1",
        theorem="T-S",
        lemmas=("L1", "L1'"),
        instance=Instance(SPEC, "box:-1,1", "box:-1,1"),
        witness={"phi": F},
        route="L1",
        hypotheses=(Hypothesis(L1_HYPOTHESIS, just),),
        parts=(part,),
        created="2024-06-01T12:00:00Z",
    )


def random_features_mlp(F: dict[str, Any], rng: np.random.Generator, width: int = 12) -> dict:
    """A 1 -> width -> D tanh MLP fitted to F by least squares (random hidden layer)."""
    W1 = rng.normal(0.0, 3.0, (width, 1))
    b1 = rng.uniform(-3.0, 3.0, width)
    X = np.linspace(-1.0, 1.0, 2001)[:, None]
    H = np.tanh(X @ W1.T + b1)
    A = np.hstack([H, np.ones((len(X), 1))])
    sol, *_ = np.linalg.lstsq(A, features_np(F, X), rcond=None)
    return mlp_dict([W1, sol[:-1].T], [b1, sol[-1]], "tanh")


def combined(t: float, delta: float, kappa: float) -> float:
    """T + 2 sqrt(kappa) Delta + Delta^2, nudged up past float rounding."""
    u = t + 2 * math.sqrt(kappa) * delta + delta * delta
    return u * (1 + 1e-12)


def l2s_certificate(
    F: dict[str, Any], phi: dict[str, Any], *, depth: int = 9, just: Any = JUST_F
) -> Certificate:
    T = grid_part("T", "diagonal_residual", {"features": "F"}, diag_residual_np(F), depth)

    def gap(X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(features_np(F, X) - np_forward(phi, X), axis=1)

    delta = grid_part("Delta", "feature_gap", {"a": "F", "b": "phi"}, gap, depth)
    kappa = Part(
        name="kappa",
        function="diagonal",
        args={},
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover.single_leaf(1.0),
        lower=1.0,
        upper=1.0,
        point=(0.0,),
    )
    u = combined(T.upper, delta.upper, kappa.upper)
    return Certificate(
        verdict="HOLDS",
        eps=u,
        lower=0.0,
        upper=u,
        witness_point=None,
        claim="sup |k - <phi, phi>| <= eps via lemma L2 (symmetric) on Nystrom features",
        theorem="T-S",
        lemmas=("L1", "L1'", "L2"),
        instance=Instance(SPEC, "box:-1,1", "box:-1,1"),
        witness={"phi": phi, "F": F},
        route="L2S",
        hypotheses=(Hypothesis(L2S_HYPOTHESIS, just),),
        parts=(T, delta, kappa),
        created="2024-06-01T12:00:00Z",
    )


@pytest.fixture(scope="module")
def F() -> dict[str, Any]:
    return nystrom_dict(*nystrom_arrays())


@pytest.fixture(scope="module")
def phi(F: dict[str, Any]) -> dict[str, Any]:
    return random_features_mlp(F, np.random.default_rng(20240213))


@pytest.fixture(scope="module")
def l2s(F: dict[str, Any], phi: dict[str, Any]) -> Certificate:
    return l2s_certificate(F, phi)


def _save_edited(cert: Certificate, tmp_path: Path, edit: Any) -> Path:
    path = cert.save(tmp_path / "cert.json")
    doc = json.loads(path.read_text())
    edit(doc)
    doc["digest"] = document_digest(doc)
    path.write_text(json.dumps(doc, indent=1))
    return path


# --- the ball model of Nystrom features ---------------------------------------------------------
def test_arb_nystrom_encloses_the_features(F):
    model = ArbNystrom.from_dict(F, name="F")
    assert (model.in_dim, model.out_dim, model.n_nodes) == (1, D, N_NODES)
    X = np.linspace(-0.3, -0.2, 11)[:, None]
    ref = features_np(F, X)
    with ctx.workprec(128):
        box = [interval_ball(-0.3, -0.2)]
        values, jac, _ = model.enclose(box)
        direct = model.forward(box)
        for row in ref:  # float reference values: 1e-12 covers their rounding
            for i in range(D):
                for ball in (values[i], direct[i]):
                    assert ball.lower() - 1e-12 <= row[i] <= ball.upper() + 1e-12
        # the Jacobian encloses a finite-difference slope inside the box
        slope = (features_np(F, np.array([[-0.24]])) - features_np(F, np.array([[-0.26]]))) / 0.02
        for i in range(D):
            assert jac[i, 0].lower() - 1e-6 <= slope[0, i] <= jac[i, 0].upper() + 1e-6


# --- the L1' verifier ----------------------------------------------------------------------------
def test_l1prime_verifier_proves_the_shrunk_features_and_rejects_scaled_ones(F):
    verifier = JUSTIFICATION_VERIFIERS["nystrom-l1prime"]
    cert = l1_nystrom_certificate(F, depth=2)
    ok, message = verifier(cert, cert.hypotheses[0])
    assert ok, message
    assert "lambda_max" in message and "1 - " in message
    nodes, C = nystrom_arrays(shrink=1.01)  # lambda_max(G) = 1.0201 > 1
    scaled = dataclasses.replace(cert, witness={"phi": nystrom_dict(nodes, C)})
    ok, message = verifier(scaled, scaled.hypotheses[0])
    assert not ok and "not proven positive definite" in message
    # the justification must name the features of the hypothesis, and they must be Nystrom
    wrong = Hypothesis(L1_HYPOTHESIS, JUST_F)
    ok, message = verifier(cert, wrong)
    assert not ok and "not 'r - <phi, phi> is PSD'" in message


def test_l1prime_needs_the_instance_relation_and_nodes_in_the_domain(F):
    verifier = JUSTIFICATION_VERIFIERS["nystrom-l1prime"]
    cert = l1_nystrom_certificate(F, depth=2)
    other = dict(F, relation="gaussian:lengthscale=0.25")
    ok, message = verifier(dataclasses.replace(cert, witness={"phi": other}), cert.hypotheses[0])
    assert not ok and "instance is" in message
    narrow = dataclasses.replace(cert, instance=Instance(SPEC, "box:-0.5,0.5", "box:-0.5,0.5"))
    ok, message = verifier(narrow, cert.hypotheses[0])
    assert not ok and "outside x_domain" in message


# --- route L1 with Nystrom phi -------------------------------------------------------------------
def test_l1_certificate_about_nystrom_phi_is_confirmed(F, tmp_path):
    cert = l1_nystrom_certificate(F)
    result = verify(cert.save(tmp_path / "l1.json"), progress=False)
    assert result.status == "CONFIRMED", result.reason
    t_est = float(np.max(diag_residual_np(F)(np.linspace(-1, 1, 4001)[:, None])))
    assert t_est <= result.checked_upper <= cert.upper <= cert.eps
    asserted = dataclasses.replace(cert, hypotheses=(Hypothesis(L1_HYPOTHESIS, None),))
    res = check(asserted, progress=False)
    assert res.status == "NOT_CONFIRMED" and "asserted, not proven" in res.reason


def test_l1_certificate_about_an_mlp_phi_is_not_confirmed(rng):
    cert = l1_certificate(rng, justification=JUST_PHI)
    result = check(cert, progress=False)
    assert result.status == "NOT_CONFIRMED"
    assert "nystrom-l1prime' fails" in result.reason and "not Nystrom features" in result.reason
    assert result.checked_upper == math.inf


# --- route L2S ------------------------------------------------------------------------------------
def test_l2s_certificate_is_confirmed_with_the_recombined_bound(l2s):
    result = check(l2s, progress=False)
    assert result.status == "CONFIRMED", result.reason
    parts = {p["name"]: p["checked_upper"] for p in result.details["parts"]}
    u = parts["T"] + 2 * math.sqrt(parts["kappa"]) * parts["Delta"] + parts["Delta"] ** 2
    assert result.checked_upper == result.details["combined_upper"]
    assert result.checked_upper == pytest.approx(u, rel=1e-9)
    assert result.checked_upper <= l2s.upper
    assert parts["kappa"] == 1.0
    # the checker's bound is an upper bound of the true sup (estimated on a grid)
    X = np.linspace(-1.0, 1.0, 201)[:, None]
    phiX = np_forward(l2s.witness["phi"], X)
    E = np.exp(-((X - X.T) ** 2) / (2 * ELL**2)) - phiX @ phiX.T
    assert float(np.max(np.abs(E))) <= result.checked_upper


def test_l2s_with_eps_below_the_recombined_bound_is_not_confirmed(l2s):
    result = check(l2s, progress=False)
    u = result.checked_upper
    below = dataclasses.replace(l2s, eps=0.98 * u, upper=0.98 * u)
    res = check(below, progress=False)
    assert res.status == "NOT_CONFIRMED"
    assert "the checker proves only" in res.reason


def test_l2s_without_the_justification_is_not_confirmed(l2s):
    cert = dataclasses.replace(l2s, hypotheses=(Hypothesis(L2S_HYPOTHESIS, None),))
    res = check(cert, progress=False)
    assert res.status == "NOT_CONFIRMED" and res.checked_upper == math.inf


@pytest.mark.parametrize("what", ["node", "coefficient"])
def test_tampering_with_the_nystrom_witness_is_caught(l2s, tmp_path, what):
    def edit(doc: dict[str, Any]) -> None:
        F = doc["witness"]["F"]
        if what == "node":
            F["nodes"][10][0] = (float.fromhex(F["nodes"][10][0]) + 0.05).hex()
        else:
            F["coefficients"][3][0] = (float.fromhex(F["coefficients"][3][0]) * 1.05).hex()

    result = verify(_save_edited(l2s, tmp_path, edit), progress=False, refine_depth=2)
    assert result.status == "NOT_CONFIRMED", result.reason


# --- the record and the schema --------------------------------------------------------------------
def test_nystrom_witness_round_trips_bit_for_bit(l2s, tmp_path):
    assert Certificate.from_json(l2s.to_json()) == l2s
    loaded = Certificate.load(l2s.save(tmp_path / "c.json"))
    assert loaded == l2s and loaded.digest == l2s.digest
    nodes, C = nystrom_arrays()
    F = loaded.witness["F"]
    assert [float.fromhex(r[0]) for r in F["nodes"]] == nodes.tolist()
    assert [[float.fromhex(v) for v in r] for r in F["coefficients"]] == C.tolist()
    doc = json.loads(l2s.to_json())
    assert doc["schema"] == SCHEMA_ID == "certify.certificate/1"
    assert doc["route"]["name"] == "L2S"
    assert doc["parts"][2]["function"] == "diagonal" and doc["parts"][2]["args"] == {}


def test_old_certificates_still_load(rng):
    cert, _ = holds_certificate(rng=rng, depth=3)
    assert Certificate.from_json(cert.to_json()) == cert


def test_digest_covers_the_nystrom_witness(l2s, tmp_path):
    path = l2s.save(tmp_path / "c.json")
    doc = json.loads(path.read_text())
    doc["witness"]["F"]["coefficients"][0][0] = "0x1.0p+0"
    path.write_text(json.dumps(doc))
    with pytest.raises(CertificateError, match="digest mismatch"):
        Certificate.load(path)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda F: F.update(nodes=F["nodes"][:-1]), "coefficient rows"),
        (lambda F: F["coefficients"][0].append("0x0.0p+0"), "not rectangular"),
        (lambda F: F["coefficients"][0].__setitem__(0, "inf"), "must be finite"),
        (lambda F: F.update(relation="expr:x0 - y0"), "not symmetric"),
        (lambda F: F.update(relation="nonsense:1"), "does not parse"),
        (lambda F: F.update(extra=1), "exactly the keys"),
    ],
)
def test_invalid_nystrom_witnesses_are_rejected(l2s, change, match):
    F = json.loads(json.dumps(l2s.witness["F"]))
    change(F)
    with pytest.raises(InvalidInputError, match=match):
        dataclasses.replace(l2s, witness={**l2s.witness, "F": F})


def test_l2s_route_rules(l2s):
    with pytest.raises(InvalidInputError, match="rests on lemma L1"):
        dataclasses.replace(l2s, lemmas=("L2",))
    with pytest.raises(InvalidInputError, match="route L2S needs parts"):
        dataclasses.replace(l2s, parts=l2s.parts[:2])
    with pytest.raises(InvalidInputError, match="route L2S needs parts"):
        dataclasses.replace(l2s, witness={**l2s.witness, "psi": l2s.witness["phi"]})
    with pytest.raises(InvalidInputError, match="route L2S needs the hypothesis"):
        dataclasses.replace(l2s, hypotheses=(Hypothesis(L1_HYPOTHESIS, JUST_F),))
    with pytest.raises(InvalidInputError, match="must map exactly"):
        dataclasses.replace(l2s.parts[2], args={"features": "F"})
