"""The independent checker: verdicts, tampering, routes, covers, and its arb models.

Certificates are built by hand (tests/certificates/__init__.py): leaf bounds from a grid
plus a Lipschitz constant, reference values in mpmath at 200 bits. No test uses the
enclosure engine.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from flint import arb, ctx

from certify.certificates.arb_models import (
    CHECK_PRECISION,
    ArbMLP,
    NotCheckableError,
    arb_relation,
    interval_ball,
)
from certify.certificates.checker import check, cover_leaves, verify
from certify.certificates.record import (
    Certificate,
    Cover,
    Hypothesis,
    Instance,
    Part,
    Sidecar,
    document_digest,
)
from certify.errors import CertificateError
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
)

from . import (
    MP_PREC,
    float_down,
    float_up,
    grid_argmax,
    holds_certificate,
    l1_certificate,
    leaf_bounds_grid,
    mp_forward,
    np_forward,
    op_norm_bounds,
    random_mlp,
    residual_mp,
    residual_part,
    uniform_cover,
)

CERTIFICATES_DIR = Path(__file__).resolve().parents[2] / "certify" / "certificates"


@pytest.fixture
def holds(rng: np.random.Generator) -> tuple[Certificate, dict[str, Any]]:
    return holds_certificate(rng=rng)


def _save(cert: Certificate, tmp_path: Path, name: str = "cert.json") -> Path:
    return cert.save(tmp_path / name)


def _edit(path: Path, edit: Any, *, redigest: bool) -> None:
    """Apply ``edit(doc)`` to a saved certificate; optionally recompute its digest."""
    doc = json.loads(path.read_text())
    edit(doc)
    if redigest:
        doc["digest"] = document_digest(doc)
    path.write_text(json.dumps(doc, indent=1))


def _assert_clean(result: Any) -> None:
    assert "\n" not in result.reason and "Traceback" not in result.reason
    assert (
        result.exit_code
        == {"CONFIRMED": 0, "REFUTED": 1, "NOT_CONFIRMED": 1, "MALFORMED": 2}[result.status]
    )


# --- verdicts ----------------------------------------------------------------------------------
def test_correct_holds_certificate_is_confirmed(holds, tmp_path):
    cert, facts = holds
    result = verify(_save(cert, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "CONFIRMED", result.reason
    assert result.exit_code == 0
    # the checker's own bounds enclose the true sup: |e(point)| <= sup <= checked_upper
    assert result.checked_lower <= facts["value"] <= result.checked_upper <= cert.upper
    assert result.details["leaves"] == 64
    assert result.details["leaves_per_second"] > 0
    assert result.details["file_sha256"] == cert.sha256


@pytest.mark.parametrize("with_point", [True, False])
def test_holds_with_eps_below_the_true_sup_is_not_confirmed(holds, tmp_path, with_point):
    cert, facts = holds
    # sup |e| >= |e(point)| (mpmath, 200 bits), so this eps is below the true sup
    eps = math.nextafter(float_down(facts["value"]), 0.0)
    part = dataclasses.replace(
        cert.parts[0], upper=eps, lower=0.0, point=None, cover=cert.parts[0].cover
    )
    bad = dataclasses.replace(
        cert,
        eps=eps,
        upper=eps,
        lower=0.0,
        witness_point=cert.witness_point if with_point else None,
        parts=(part,),
    )
    result = verify(_save(bad, tmp_path), progress=False)
    _assert_clean(result)
    assert result.exit_code == 1
    if with_point:  # the certificate's own point shows |e| > eps
        assert result.status == "REFUTED"
        assert "refuted: HOLDS claims" in result.reason
    else:
        assert result.status == "NOT_CONFIRMED"
        assert result.checked_upper > eps
        assert result.details["parts"][0]["refined_subboxes"] > 0  # it tried to refine


def _violated(cert: Certificate, facts: dict[str, Any], eps: float, lower: float) -> Certificate:
    return dataclasses.replace(
        cert, verdict="VIOLATED", eps=eps, lower=lower, upper=math.inf, parts=()
    )


def test_violated_with_a_violating_point_is_confirmed(holds, tmp_path):
    cert, facts = holds
    value = facts["value"]
    bad = _violated(cert, facts, eps=float(value) / 2, lower=float_down(value))
    result = verify(_save(bad, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "CONFIRMED", result.reason
    assert result.checked_lower == float_down(value)


def test_violated_with_eps_above_the_point_value_is_refuted(holds, tmp_path):
    cert, facts = holds
    eps = 1.5 * float(facts["value"])
    bad = _violated(cert, facts, eps=eps, lower=math.nextafter(eps, math.inf))
    result = verify(_save(bad, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "REFUTED"
    assert result.exit_code == 1


def test_violated_with_a_tight_false_lower_is_refuted(holds, tmp_path):
    cert, facts = holds
    value = facts["value"]
    # eps below the value, but the stored lower one float above the true |e(point)|
    bad = _violated(cert, facts, eps=float(value) / 2, lower=float_up(value) * (1 + 1e-12))
    result = verify(_save(bad, tmp_path), progress=False)
    assert result.status == "REFUTED"
    assert "states |f| >=" in result.reason


def test_unknown_claims_only_its_enclosure(holds, tmp_path):
    cert, facts = holds
    unknown = dataclasses.replace(cert, verdict="UNKNOWN", eps=cert.upper / 10)
    assert verify(_save(unknown, tmp_path), progress=False).status == "CONFIRMED"
    # an enclosure tighter than the checker can prove is not confirmed
    tight = dataclasses.replace(unknown, upper=float(facts["value"]))
    result = verify(_save(tight, tmp_path, "tight.json"), progress=False)
    assert result.status == "NOT_CONFIRMED"
    assert "the claim states sup |e| <=" in result.reason


def test_checker_refines_leaves_whose_bound_is_too_loose(rng, tmp_path):
    # One leaf over [-1,1]^2 with a stored upper from a fine grid: the checker's one-box
    # mean-value bound is far looser, so only its own bisection can confirm it.
    phi = random_mlp(rng, [1, 4, 2], out_scale=0.5)
    # a tight upper from 64 small leaves, stored with the one-leaf cover
    fine, upper, _ = residual_part("e", phi, phi, 0.5, [-1.0, -1.0], [1.0, 1.0], depth=6)
    part = dataclasses.replace(fine, cover=Cover.single_leaf(upper))
    cert, _ = holds_certificate(rng=rng)
    cert = dataclasses.replace(
        cert,
        witness={"phi": phi},
        parts=(part,),
        upper=upper,
        eps=2 * upper,
        lower=0.0,
        witness_point=None,
    )
    result = check(cert, progress=False)
    assert result.status == "CONFIRMED", result.reason
    assert result.details["refined_subboxes"] > 0
    strict = check(cert, progress=False, refine_depth=0)
    assert strict.status == "NOT_CONFIRMED"


def test_progress_bar_over_many_leaves(rng, capsys):
    phi = random_mlp(rng, [1, 3, 2], out_scale=0.3)
    part, upper, _ = residual_part("e", phi, phi, 1.0, [-1.0, -1.0], [1.0, 1.0], depth=10)
    cert, _ = holds_certificate(rng=rng)
    cert = dataclasses.replace(
        cert,
        witness={"phi": phi},
        parts=(part,),
        upper=upper,
        eps=2 * upper,
        lower=0.0,
        witness_point=None,
        instance=Instance("gaussian:lengthscale=1.0", "box:-1,1", "box:-1,1"),
    )
    assert check(cert, progress=True).status == "CONFIRMED"
    assert "leaf" in capsys.readouterr().err
    assert check(cert, progress=False).status == "CONFIRMED"
    assert capsys.readouterr().err == ""


# --- tampered and malformed files --------------------------------------------------------------
def _scale_output_layer(doc: dict[str, Any], factor: float = 3.0) -> None:
    W = doc["witness"]["phi"]["weights"][-1]
    doc["witness"]["phi"]["weights"][-1] = [
        [(factor * float.fromhex(v)).hex() for v in row] for row in W
    ]


def test_changed_weight_without_digest_is_malformed(holds, tmp_path):
    path = _save(holds[0], tmp_path)
    _edit(path, _scale_output_layer, redigest=False)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED" and result.exit_code == 2
    assert "digest mismatch" in result.reason


def test_changed_weight_with_digest_is_decided_by_reevaluation(holds, tmp_path):
    path = _save(holds[0], tmp_path)
    _edit(path, _scale_output_layer, redigest=True)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status in ("NOT_CONFIRMED", "REFUTED")
    assert result.exit_code == 1


def test_tiny_weight_change_with_digest_still_rechecked(holds, tmp_path):
    # a one-ulp change leaves the claim true: re-evaluation (not the digest) decides
    path = _save(holds[0], tmp_path)

    def nudge(doc: dict[str, Any]) -> None:
        v = float.fromhex(doc["witness"]["phi"]["biases"][0][0])
        doc["witness"]["phi"]["biases"][0][0] = math.nextafter(v, math.inf).hex()
        # the stored lower was tight at the old network: keep it provable
        doc["claim"]["lower"] = {"value": 0.0, "hex": (0.0).hex()}
        doc["parts"][0]["lower"] = {"value": 0.0, "hex": (0.0).hex()}

    _edit(path, nudge, redigest=True)
    assert verify(path, progress=False).status == "CONFIRMED"


def test_changed_bound(holds, tmp_path):
    cert, facts = holds
    lowered = float(facts["value"])  # below the checker's bound, above the stored lower

    def lower_upper(doc: dict[str, Any]) -> None:
        doc["claim"]["upper"] = {"value": lowered, "hex": lowered.hex()}

    path = _save(cert, tmp_path)
    _edit(path, lower_upper, redigest=False)
    assert verify(path, progress=False).status == "MALFORMED"
    path = _save(cert, tmp_path)
    _edit(path, lower_upper, redigest=True)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "NOT_CONFIRMED" and "the claim states" in result.reason


def test_part_bound_below_the_checker_is_not_confirmed(holds, tmp_path):
    cert, facts = holds
    v = float(facts["value"])

    def edit(doc: dict[str, Any]) -> None:
        doc["parts"][0]["upper"] = {"value": v, "hex": v.hex()}

    path = _save(cert, tmp_path)
    _edit(path, edit, redigest=True)
    result = verify(path, progress=False)
    assert result.status == "NOT_CONFIRMED" and "part 'e' states" in result.reason


def test_decimal_hex_disagreement_is_malformed(holds, tmp_path):
    def edit(doc: dict[str, Any]) -> None:
        doc["claim"]["eps"]["value"] = 1e6  # hex unchanged

    path = _save(holds[0], tmp_path)
    _edit(path, edit, redigest=True)
    result = verify(path, progress=False)
    assert result.status == "MALFORMED" and "decimal/hex disagreement" in result.reason


def test_unknown_schema_version_is_malformed(holds, tmp_path):
    def edit(doc: dict[str, Any]) -> None:
        doc["schema"] = "certify.certificate/2"

    path = _save(holds[0], tmp_path)
    _edit(path, edit, redigest=True)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED" and "unknown schema version" in result.reason


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "invalid JSON"),  # truncated
        (b"", "invalid JSON"),
        (b"[1, 2]", "not a certify certificate"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"schema": "certify.certificate/1"}', "schema violation"),
    ],
)
def test_broken_files_are_malformed(holds, tmp_path, content, match):
    path = _save(holds[0], tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content is None else content)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED"
    assert match in result.reason
    assert result.checked_upper == math.inf


def test_missing_file_is_malformed(tmp_path):
    result = verify(tmp_path / "nope.json", progress=False)
    assert result.status == "MALFORMED" and "cannot read" in result.reason


def test_split_outside_its_box_is_malformed(holds, tmp_path):
    def edit(doc: dict[str, Any]) -> None:
        doc["parts"][0]["cover"]["splits"][1] = (5.0).hex()

    path = _save(holds[0], tmp_path)
    _edit(path, edit, redigest=True)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED" and "outside its box" in result.reason


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c["tree"].pop(), "ends after"),
        (lambda c: c["tree"].append(-1), "after its last leaf"),
        (lambda c: c["splits"].append((0.0).hex()), "split values but the tree has"),
        (lambda c: c["leaf_upper"].pop(), "leaf bounds"),
        (lambda c: c["tree"].__setitem__(0, 7), "splits coordinate 7"),
    ],
)
def test_malformed_covers(holds, tmp_path, edit, match):
    path = _save(holds[0], tmp_path)
    _edit(path, lambda doc: edit(doc["parts"][0]["cover"]), redigest=True)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED" and match in result.reason


def test_cover_of_a_smaller_box_is_not_confirmed(rng, tmp_path):
    cert, _ = holds_certificate(rng=rng)
    phi = cert.witness["phi"]
    # a valid cover, with valid bounds, of [-0.5, 0.5] x [-1, 1] only
    part, upper, _ = residual_part("e", phi, phi, 0.5, [-0.5, -1.0], [0.5, 1.0], depth=6)
    small = dataclasses.replace(cert, parts=(part,), upper=upper, eps=2 * upper)
    result = verify(_save(small, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "NOT_CONFIRMED" and "not the instance's domain" in result.reason
    assert result.checked_upper == math.inf


def test_points_outside_the_domain_are_malformed(holds, tmp_path):
    cert, _ = holds
    far = dataclasses.replace(cert, witness_point=((3.0,), (0.0,)))
    assert verify(_save(far, tmp_path), progress=False).status == "MALFORMED"
    part = dataclasses.replace(cert.parts[0], point=(0.0, 2.0))
    assert check(dataclasses.replace(cert, parts=(part,)), progress=False).status == "MALFORMED"


def test_sidecar_with_wrong_sha256_is_malformed(holds, tmp_path):
    cert, _ = holds
    side = dataclasses.replace(
        cert, witness={"phi": Sidecar.from_network("nets/phi.npz", cert.witness["phi"])}
    )
    path = _save(side, tmp_path)
    assert (tmp_path / "nets" / "phi.npz").exists()
    assert verify(path, progress=False).status == "CONFIRMED"
    other = random_mlp(np.random.default_rng(1), [1, 8, 3])
    (tmp_path / "nets" / "phi.npz").write_bytes(Sidecar.from_network("x.npz", other).data)
    result = verify(path, progress=False)
    _assert_clean(result)
    assert result.status == "MALFORMED" and "sha256" in result.reason
    (tmp_path / "nets" / "phi.npz").unlink()
    result = verify(path, progress=False)
    assert result.status == "MALFORMED" and "missing" in result.reason


def test_numpy_savez_sidecar_is_read(holds, tmp_path):
    # the networks package writes sidecars with numpy.savez (keys weights_k, biases_k, ...)
    cert, _ = holds
    from . import arrays

    Ws, bs = arrays(cert.witness["phi"])
    content: dict[str, Any] = {f"weights_{k}": W for k, W in enumerate(Ws)}
    content.update({f"biases_{k}": b for k, b in enumerate(bs)})
    content.update(activation=np.array("tanh"), format=np.array("certify.mlp/1"))
    np.savez(tmp_path / "phi.npz", **content)
    data = (tmp_path / "phi.npz").read_bytes()
    side = dataclasses.replace(cert, witness={"phi": Sidecar("phi.npz", data)})
    assert side.network("phi") == cert.witness["phi"]
    assert verify(_save(side, tmp_path), progress=False).status == "CONFIRMED"


# --- routes -----------------------------------------------------------------------------------
def test_l1_certificate_is_not_confirmed_while_its_hypothesis_is_asserted(rng, tmp_path):
    cert = l1_certificate(rng)
    result = verify(_save(cert, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "NOT_CONFIRMED" and result.exit_code == 1
    assert result.reason.startswith("not confirmed: hypothesis 'r - <phi, phi> is PSD'")
    assert "asserted, not proven" in result.reason
    assert result.checked_upper == math.inf  # nothing proven about sup |e| without it
    assert result.details["conditional_upper"] <= cert.upper


def test_l1_justification_verifiers_can_be_registered(rng, tmp_path):
    cert = l1_certificate(rng, justification={"kind": "test-oracle", "note": "trusted"})
    path = _save(cert, tmp_path)
    unknown_kind = verify(path, progress=False)
    assert unknown_kind.status == "NOT_CONFIRMED" and "no verifier" in unknown_kind.reason
    seen = []

    def oracle(c: Certificate, h: Hypothesis) -> tuple[bool, str]:
        seen.append(h.justification)
        return True, "accepted"

    result = verify(path, progress=False, justification_verifiers={"test-oracle": oracle})
    assert result.status == "CONFIRMED", result.reason
    assert seen == [{"kind": "test-oracle", "note": "trusted"}]
    assert result.checked_upper == result.details["combined_upper"] <= cert.upper
    rejecting = verify(
        path, progress=False, justification_verifiers={"test-oracle": lambda c, h: (False, "no")}
    )
    assert rejecting.status == "NOT_CONFIRMED" and "fails: no" in rejecting.reason


def _vector_part(
    name: str, function: str, args: dict[str, str], nets: list[dict[str, Any]]
) -> tuple[Part, float]:
    """feature_gap / feature_norm part over [-1, 1] with grid + Lipschitz leaf bounds."""
    tree, splits, leaves = uniform_cover([-1.0], [1.0], 4)
    if len(nets) == 2:
        lip = op_norm_bounds(nets[0])[0] + op_norm_bounds(nets[1])[0]

        def f(Z: np.ndarray) -> np.ndarray:
            return np.linalg.norm(np_forward(nets[0], Z) - np_forward(nets[1], Z), axis=1)
    else:
        lip = op_norm_bounds(nets[0])[0]

        def f(Z: np.ndarray) -> np.ndarray:
            return np.linalg.norm(np_forward(nets[0], Z), axis=1)

    bounds = leaf_bounds_grid(f, leaves, lip)
    point = grid_argmax(f, [-1.0], [1.0])
    with mpmath.workprec(MP_PREC):
        a = mp_forward(nets[0], point)
        b = mp_forward(nets[1], point) if len(nets) == 2 else [0] * len(a)
        value = mpmath.sqrt(mpmath.fsum((u - v) ** 2 for u, v in zip(a, b, strict=True)))
    part = Part(
        name=name,
        function=function,
        args=args,
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover(tuple(tree), tuple(splits), tuple(bounds)),
        lower=float_down(value),
        upper=max(bounds),
        point=point,
    )
    return part, max(bounds)


def _perturb(net: dict[str, Any], rng: np.random.Generator, size: float) -> dict[str, Any]:
    out = json.loads(json.dumps(net))
    out["weights"][-1] = [
        [(float.fromhex(v) + rng.normal(0, size)).hex() for v in row] for row in out["weights"][-1]
    ]
    return out


def _l2_certificate(rng: np.random.Generator) -> tuple[Certificate, dict[str, float]]:
    F = random_mlp(rng, [1, 6, 3], out_scale=0.5)
    G = random_mlp(rng, [1, 6, 3], out_scale=0.5)
    phi, psi = _perturb(F, rng, 1e-3), _perturb(G, rng, 1e-3)
    e0, u_e0, _ = residual_part(
        "e0", F, G, 0.5, [-1.0, -1.0], [1.0, 1.0], depth=6, left="F", right="G"
    )
    dphi, u_dphi = _vector_part("Dphi", "feature_gap", {"a": "F", "b": "phi"}, [F, phi])
    dpsi, u_dpsi = _vector_part("Dpsi", "feature_gap", {"a": "G", "b": "psi"}, [G, psi])
    sf, u_sf = _vector_part("SF", "feature_norm", {"features": "F"}, [F])
    sg, u_sg = _vector_part("SG", "feature_norm", {"features": "G"}, [G])
    with mpmath.workprec(MP_PREC):
        u = (
            mpmath.mpf(u_e0)
            + mpmath.mpf(u_sf) * u_dpsi
            + mpmath.mpf(u_dphi) * (mpmath.mpf(u_sg) + u_dpsi)
        )
    upper = float_up(u)

    def f(Z: np.ndarray) -> np.ndarray:
        return np.exp(-((Z[:, 0] - Z[:, 1]) ** 2) / 0.5) - np.sum(
            np_forward(phi, Z[:, :1]) * np_forward(psi, Z[:, 1:]), axis=1
        )

    point = grid_argmax(f, [-1.0, -1.0], [1.0, 1.0])
    value = residual_mp(phi, psi, 0.5, point[:1], point[1:])
    cert = Certificate(
        verdict="HOLDS",
        eps=2 * upper,
        lower=float_down(value),
        upper=upper,
        witness_point=((point[0],), (point[1],)),
        claim="sup |k - <phi, psi>| <= eps via lemma L2",
        theorem="T-A",
        lemmas=("L2",),
        instance=Instance("gaussian:lengthscale=0.5", "box:-1,1", "box:-1,1"),
        witness={"phi": phi, "psi": psi, "F": F, "G": G},
        route="L2",
        parts=(e0, dphi, dpsi, sf, sg),
        created="2024-06-01T12:00:00Z",
    )
    return cert, {"e0": u_e0, "Dphi": u_dphi, "Dpsi": u_dpsi, "SF": u_sf, "SG": u_sg}


def test_l2_certificate_is_confirmed_and_u_recomputed(rng, tmp_path):
    cert, _ = _l2_certificate(rng)
    result = verify(_save(cert, tmp_path), progress=False)
    _assert_clean(result)
    assert result.status == "CONFIRMED", result.reason
    # u = e0 + SF Dpsi + Dphi (SG + Dpsi) from the checker's own (rounded-up) part bounds
    b = {p["name"]: p["checked_upper"] for p in result.details["parts"]}
    with ctx.workprec(CHECK_PRECISION):
        again = (
            arb(b["e0"])
            + arb(b["SF"]) * arb(b["Dpsi"])
            + arb(b["Dphi"]) * (arb(b["SG"]) + arb(b["Dpsi"]))
        )
    # the checker combines the exact part bounds, which are <= their rounded-up floats
    assert result.checked_upper <= float(again.upper()) * (1 + 2**-50)
    assert result.checked_upper >= b["e0"]
    assert result.checked_upper <= cert.upper


def test_l2_claim_below_the_combination_is_not_confirmed(rng, tmp_path):
    cert, bounds = _l2_certificate(rng)
    # the claim quotes e0 alone, dropping the perturbation terms of lemma L2
    result = check(dataclasses.replace(cert, upper=bounds["e0"]), progress=False)
    assert result.status == "NOT_CONFIRMED" or result.checked_upper <= bounds["e0"]


def test_relation_not_checkable(holds):
    cert, _ = holds
    callable_cert = dataclasses.replace(
        cert, instance=dataclasses.replace(cert.instance, relation="callable:my_relation")
    )
    result = check(callable_cert, progress=False)
    assert result.status == "NOT_CONFIRMED" and "not checkable" in result.reason
    sphere = dataclasses.replace(
        cert, instance=dataclasses.replace(cert.instance, x_domain="sphere:2")
    )
    assert check(sphere, progress=False).status == "NOT_CONFIRMED"
    with pytest.raises(NotCheckableError, match="not checkable"):
        arb_relation(CallableRelation(lambda X, Y: X[:, 0], x_dim=1, y_dim=1), 1, 1)


def test_brownian_on_negative_coordinates_is_malformed(holds):
    cert, _ = holds
    bad = dataclasses.replace(
        cert, instance=dataclasses.replace(cert.instance, relation="brownian")
    )
    result = check(bad, progress=False)
    assert result.status == "MALFORMED" and "[0, inf)" in result.reason


def test_dimension_mismatch_is_malformed(holds):
    cert, _ = holds
    bad = dataclasses.replace(
        cert, instance=dataclasses.replace(cert.instance, x_domain="box:-1,1;-1,1")
    )
    result = check(bad, progress=False)
    assert result.status == "MALFORMED" and "same dimension" in result.reason
    both = dataclasses.replace(
        bad, instance=dataclasses.replace(bad.instance, y_domain="box:-1,1;-1,1")
    )
    result = check(both, progress=False)
    assert result.status == "MALFORMED" and "takes 1 inputs" in result.reason


# --- every relation kind through the whole checker --------------------------------------------
RELATION_SPECS = [
    "gaussian:lengthscale=0.7",
    "laplace:lengthscale=0.7",
    "matern32:lengthscale=0.7",
    "matern52:lengthscale=0.7",
    "poly:degree=3,offset=0.5",
    "brownian",
    "periodic:kappa=0.5",
    "arccos:order=0",
    "arccos:order=1",
    "expdot:scale=2",
    "bilinear:W=[[1,-0.5],[0.25,2]]",
    "expr:sin(x0 - 2*y1) + Abs(x1 - y0)",
]


@pytest.mark.parametrize("spec", RELATION_SPECS)
def test_checked_upper_dominates_sampled_residual(rng, spec):
    # Soundness end to end: the checker's proven bound is >= |e| at every sampled point.
    import certify

    relation = certify.parse_relation(spec)
    lo, hi = (
        ([0.1, 0.2], [1.0, 1.1])
        if spec in ("brownian",) or "arccos" in spec
        else (
            [-1.0, -0.5],
            [0.5, 1.0],
        )
    )
    phi = random_mlp(rng, [2, 5, 3], out_scale=0.7)
    tree, splits, leaves = uniform_cover(lo + lo, hi + hi, 6)
    part = Part(
        name="e",
        function="residual",
        args={"left": "phi", "right": "phi"},
        domain_lower=tuple(lo + lo),
        domain_upper=tuple(hi + hi),
        cover=Cover(tuple(tree), tuple(splits), (math.inf,) * len(leaves)),
        lower=0.0,
        upper=math.inf,
        point=None,
    )
    box = "box:" + ";".join(f"{a!r},{b!r}" for a, b in zip(lo, hi, strict=True))
    cert = Certificate(
        verdict="UNKNOWN",
        eps=1.0,
        lower=0.0,
        upper=math.inf,
        witness_point=None,
        claim="enclosure",
        instance=Instance(spec, box, box),
        witness={"phi": phi},
        parts=(part,),
        created="2024-06-01T12:00:00Z",
    )
    result = check(cert, progress=False)
    assert result.status == "CONFIRMED", result.reason
    X = rng.uniform(lo, hi, size=(400, 2))
    Y = rng.uniform(lo, hi, size=(400, 2))
    e = relation.paired(X, Y) - np.sum(np_forward(phi, X) * np_forward(phi, Y), axis=1)
    # float evaluation errs by a few ulps of O(10) values: 1e-12 absolute headroom
    assert np.max(np.abs(e)) <= result.checked_upper + 1e-12
    assert math.isfinite(result.checked_upper)


# --- cover_leaves -----------------------------------------------------------------------------
def test_cover_leaves_partition_the_box(rng):
    tree, splits, leaves = uniform_cover([-1.0, 0.0, 2.0], [1.0, 1.0, 3.0], 5)
    got = cover_leaves([-1.0, 0.0, 2.0], [1.0, 1.0, 3.0], tree, splits)
    assert [(tuple(a), tuple(b)) for a, b in leaves] == got
    volume = sum(math.prod(h - lo for lo, h in zip(a, b, strict=True)) for a, b in got)
    assert volume == 2.0 * 1.0 * 1.0
    assert cover_leaves([0.0], [1.0], [-1], []) == [((0.0,), (1.0,))]


@pytest.mark.parametrize(
    "tree, splits, match",
    [
        ([0, -1], [0.5], "ends after"),
        ([-1, -1], [], "after its last leaf"),
        ([0, -1, -1], [], "split values, the tree needs more"),
        ([0, -1, -1], [0.5, 0.2], "internal nodes"),
        ([0, -1, -1], [1.0], "outside its box"),
        ([0, 0, -1, -1, -1], [0.5, 0.75], "outside its box"),
        ([2, -1, -1], [0.5], "coordinate 2"),
    ],
)
def test_cover_leaves_rejects_malformed_trees(tree, splits, match):
    with pytest.raises(CertificateError, match=match):
        cover_leaves([0.0, 0.0], [1.0, 1.0], tree, splits)


# --- arb models: enclosures contain 200-bit mpmath values -------------------------------------
def _mp(x: float) -> Any:
    return mpmath.mpf(x)


def _mp_relation(relation: Any) -> Any:
    """Independent mpmath formulas (certify._kernels.codes table), at the current precision."""
    pi = mpmath.pi

    def dist(x, y):
        return mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(x, y, strict=True)))

    def dot(x, y):
        return mpmath.fsum(a * b for a, b in zip(x, y, strict=True))

    def angle(x, y):
        c = dot(x, y) / (mpmath.sqrt(dot(x, x)) * mpmath.sqrt(dot(y, y)))
        return mpmath.acos(max(-1, min(1, c)))

    if isinstance(relation, Gaussian):
        ell = _mp(relation.lengthscale)
        return lambda x, y: mpmath.exp(-(dist(x, y) ** 2) / (2 * ell**2))
    if isinstance(relation, Laplace):
        ell = _mp(relation.lengthscale)
        return lambda x, y: mpmath.exp(-dist(x, y) / ell)
    if isinstance(relation, Matern32):
        ell = _mp(relation.lengthscale)
        return lambda x, y: (
            (1 + mpmath.sqrt(3) * dist(x, y) / ell) * mpmath.exp(-mpmath.sqrt(3) * dist(x, y) / ell)
        )
    if isinstance(relation, Matern52):
        ell = _mp(relation.lengthscale)

        def m52(x, y):
            a = mpmath.sqrt(5) * dist(x, y) / ell
            return (1 + a + a**2 / 3) * mpmath.exp(-a)

        return m52
    if isinstance(relation, Polynomial):
        return lambda x, y: (
            (_mp(relation.gamma) * dot(x, y) + _mp(relation.offset)) ** (relation.degree)
        )
    if isinstance(relation, Brownian):
        return lambda x, y: mpmath.fprod(min(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(relation, Periodic):
        w = 2 * pi / _mp(relation.period)
        return lambda x, y: mpmath.exp(
            _mp(relation.kappa)
            * mpmath.fsum(mpmath.cos(w * (a - b)) for a, b in zip(x, y, strict=True))
        )
    if isinstance(relation, ArcCosine):
        if relation.order == 0:
            return lambda x, y: 1 - angle(x, y) / pi
        return lambda x, y: (
            mpmath.sqrt(dot(x, x))
            * mpmath.sqrt(dot(y, y))
            * (mpmath.sin(angle(x, y)) + (pi - angle(x, y)) * mpmath.cos(angle(x, y)))
            / pi
        )
    if isinstance(relation, ExpDot):
        return lambda x, y: mpmath.exp(dot(x, y) / _mp(relation.scale))
    if isinstance(relation, Bilinear):
        W = relation.W
        return lambda x, y: mpmath.fsum(
            _mp(W[i, j]) * x[i] * y[j] for i in range(W.shape[0]) for j in range(W.shape[1])
        )
    if isinstance(relation, ExpressionRelation):
        xs, ys = relation.symbols
        fn = sp.lambdify([*xs, *ys], relation.expr, modules="mpmath")
        return lambda x, y: fn(*x, *y)
    raise AssertionError(relation)


def _mp_diagonal(relation: Any, ref: Any) -> Any:
    """x -> r(x, x); for the arc-cosine kernels theta = 0 exactly there (acos of a rounded
    1 would carry sqrt(rounding) noise), so k0(x, x) = 1 and k1(x, x) = |x|^2."""
    if isinstance(relation, ArcCosine):
        if relation.order == 0:
            return lambda x: mpmath.mpf(1)
        return lambda x: mpmath.fsum(v**2 for v in x)
    return lambda x: ref(x, x)


ARB_RELATIONS = [
    Gaussian(lengthscale=0.7),
    Laplace(lengthscale=0.7),
    Matern32(lengthscale=0.4),
    Matern52(lengthscale=0.4),
    Polynomial(degree=3, offset=0.5, gamma=2.0),
    Polynomial(degree=2, offset=0.0),
    Brownian(),
    Periodic(kappa=1.5, period=2.0),
    ArcCosine(order=0),
    ArcCosine(order=1),
    ExpDot(scale=2.0),
    Bilinear([[1.0, -2.0], [0.5, 0.25]]),
    ExpressionRelation("sin(x0 - 2*y1) + Abs(x1 - y0)*exp(x0*y0) + Max(x0, y1)"),
]


def _to_arb(x: Any) -> arb:
    """The exact arb value of an mpmath number (mantissa * 2^exponent)."""
    sign, man, exp, _ = mpmath.mpf(x)._mpf_
    with ctx.workprec(400):  # exact: the mantissa has <= 200 bits
        value = arb(-int(man) if sign else int(man)) * arb(2) ** int(exp)
    return value


def _contains(ball: arb, x: Any) -> bool:
    return bool(ball.contains(_to_arb(x)))


def _partial(fn: Any, x: list[Any], y: list[Any], which: str, i: int) -> Any:
    def g(t: Any) -> Any:
        if which == "x":
            return fn([*x[:i], t, *x[i + 1 :]], y)
        return fn(x, [*y[:i], t, *y[i + 1 :]])

    return mpmath.diff(g, (x if which == "x" else y)[i])


@pytest.mark.parametrize("relation", ARB_RELATIONS, ids=lambda r: r.spec[:24])
def test_arb_relation_encloses_values_and_gradients(rng, relation):
    model = arb_relation(relation, 2, 2)
    ref = _mp_relation(relation)
    ref_diag = _mp_diagonal(relation, ref)
    positive = isinstance(relation, (Brownian, ArcCosine))
    for _ in range(4):
        lo = rng.uniform(0.05 if positive else -1.0, 0.8, size=4)
        hi = lo + rng.uniform(0.01, 0.3, size=4)
        with ctx.workprec(CHECK_PRECISION):
            balls = [interval_ball(a, b) for a, b in zip(lo, hi, strict=True)]
            v, gx, gy = model.value_grad(balls[:2], balls[2:])
            value = model.value(balls[:2], balls[2:])
            dv, dg = model.diagonal_grad(balls[:2])
            diag = model.diagonal(balls[:2])
        for _ in range(3):
            p = rng.uniform(lo, hi)
            with mpmath.workprec(MP_PREC):
                x, y = [_mp(t) for t in p[:2]], [_mp(t) for t in p[2:]]
                r = ref(x, y)
                assert _contains(value, r) and _contains(v, r), (relation, p)
                for i in range(2):
                    assert _contains(gx[i], _partial(ref, x, y, "x", i)), (relation, p, i)
                    assert _contains(gy[i], _partial(ref, x, y, "y", i)), (relation, p, i)
                    d = mpmath.diff(lambda t, i=i, x=x: ref_diag([*x[:i], t, *x[i + 1 :]]), x[i])
                    assert _contains(dg[i], d), (relation, p, i)
                assert _contains(diag, ref_diag(x)) and _contains(dv, ref_diag(x))
            # point evaluation: a ball of radius 0 -> a ball of width ~2^-128 around r
            with ctx.workprec(CHECK_PRECISION):
                pv = model.value([arb(t) for t in p[:2]], [arb(t) for t in p[2:]])
            with mpmath.workprec(MP_PREC):
                assert _contains(pv, ref(x, y)), (relation, p)
            assert float(pv.rad()) < 1e-15


def test_arb_relation_clarke_gradients_at_kinks():
    with ctx.workprec(CHECK_PRECISION):
        lap = arb_relation(Laplace(lengthscale=0.5), 1, 1)
        _, gx, gy = lap.value_grad([arb(0.25)], [arb(0.25)])
        assert gx[0].contains(arb(2)) and gx[0].contains(arb(-2))  # [-1/l, 1/l]
        assert gy[0].contains(arb(2)) and gy[0].contains(arb(-2))
        bro = arb_relation(Brownian(), 1, 1)
        _, gx, gy = bro.value_grad([arb(0.5)], [arb(0.5)])
        assert gx[0].contains(arb(0)) and gx[0].contains(arb(1))
        assert gy[0].contains(arb(0)) and gy[0].contains(arb(1))
        arc = arb_relation(ArcCosine(order=0), 2, 2)
        _, gx, _ = arc.value_grad([interval_ball(-0.1, 0.1)] * 2, [arb(1), arb(0)])
        assert not gx[0].is_finite()  # discontinuous at the origin: no finite gradient
        assert arc.value([arb(0), arb(0)], [arb(1), arb(0)]) == arb(0.5)  # H(0) = 1/2


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_arb_mlp_encloses_forward_and_jacobian(rng, activation):
    net = random_mlp(rng, [2, 6, 5, 3], activation)
    model = ArbMLP.from_dict(net)
    assert (model.in_dim, model.out_dim, model.n_neurons) == (2, 3, 11)
    for _ in range(5):
        lo = rng.uniform(-1, 0.8, size=2)
        hi = lo + rng.uniform(0.0, 0.4, size=2)
        with ctx.workprec(CHECK_PRECISION):
            balls = [interval_ball(a, b) for a, b in zip(lo, hi, strict=True)]
            values, jac = model.forward_jacobian(balls)
            direct = model.forward(balls)
        flat = jac.entries()
        for _ in range(4):
            p = rng.uniform(lo, hi)
            with mpmath.workprec(MP_PREC):
                out = mp_forward(net, p)
                for k in range(3):
                    assert _contains(values[k], out[k]) and _contains(direct[k], out[k])
                    for j in range(2):
                        d = mpmath.diff(
                            lambda t, j=j, k=k, p=p: mp_forward(
                                net, [t if m == j else _mp(p[m]) for m in range(2)]
                            )[k],
                            _mp(p[j]),
                        )
                        assert _contains(flat[k * 2 + j], d), (activation, p, k, j)


def test_arb_mlp_rejects_bad_dicts():
    good = random_mlp(np.random.default_rng(0), [2, 3, 1])
    with pytest.raises(CertificateError, match="format"):
        ArbMLP.from_dict({**good, "format": "other/1"})
    with pytest.raises(CertificateError, match="activation"):
        ArbMLP.from_dict({**good, "activation": "gelu"})
    with pytest.raises(CertificateError, match="not a float.hex"):
        ArbMLP.from_dict({**good, "biases": [["zz"] * 3, ["0x0.0p+0"]]})
    with pytest.raises(CertificateError, match="columns"):
        ArbMLP.from_dict({**good, "weights": [good["weights"][0], [["0x1.0p+0"] * 2]]})
    with pytest.raises(CertificateError, match="finite"):
        ArbMLP.from_dict({**good, "biases": [["inf"] * 3, ["0x0.0p+0"]]})


# --- independence from the engine -------------------------------------------------------------
CHECKER_MODULES = ["checker.py", "arb_models.py", "record.py", "report.py"]
FORBIDDEN = (
    "certify._kernels",
    "certify.networks",
    "certify.certificates.enclosure",
    "certify.certificates.functions",
)


@pytest.mark.parametrize("module", CHECKER_MODULES)
def test_checker_modules_do_not_import_the_engine(module):
    tree = ast.parse((CERTIFICATES_DIR / module).read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    bad = [m for m in imported if m.startswith(FORBIDDEN)]
    assert not bad, f"{module} imports {bad}"


def test_checking_never_touches_engine_code_or_float_relations(holds, tmp_path):
    # In a fresh interpreter: run a check with every certify._kernels function, the
    # relations' float evaluation methods and the networks package booby-trapped.
    path = _save(holds[0], tmp_path)
    script = f"""
import sys, types, importlib, inspect
sys.modules["certify.networks"] = None  # importing it would raise
import certify._kernels as K
import certify.relations.base as base
def trap(name):
    def f(*a, **k):
        raise RuntimeError("checker called " + name)
    return f
for modname in list(sys.modules):
    if modname.startswith("certify._kernels"):
        mod = sys.modules[modname]
        for attr, val in list(vars(mod).items()):
            if callable(val) and not isinstance(val, type):
                setattr(mod, attr, trap(modname + "." + attr))
def walk(c):
    yield c
    for s in c.__subclasses__():
        yield from walk(s)
import certify.relations  # noqa: F401 - defines every relation class
for cls in set(walk(base.Relation)):
    for meth in list(vars(cls)):
        if meth in ("_pairwise", "_paired", "_lipschitz", "lipschitz", "__call__", "paired",
                    "diag", "_sup_gradient") or "enclose" in meth:
            setattr(cls, meth, trap(cls.__name__ + "." + meth))
from certify.certificates.checker import verify
r = verify({str(path)!r}, progress=False)
assert r.status == "CONFIRMED", r.reason
# the engine's modules were never imported (certify._kernels.gram / interval_relations are
# imported by certify.relations itself, and are trapped above)
engine = ("certify.networks", "certify.certificates.enclosure",
          "certify.certificates.functions", "certify._kernels.interval_mlp",
          "certify._kernels.interval_residual", "certify._kernels.mlp")
loaded = [m for m in sys.modules if m.startswith(engine) and sys.modules[m] is not None]
assert not loaded, loaded
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
