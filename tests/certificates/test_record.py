"""The certificate record: JSON round trips, validation, atomic saves, sidecars, load errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from certify.certificates.arb_models import mlp_dict_from_npz, mlp_npz_bytes
from certify.certificates.record import (
    L1_HYPOTHESIS,
    SCHEMA_ID,
    Certificate,
    Cover,
    Hypothesis,
    Instance,
    Part,
    Sidecar,
    document_digest,
    format_bound,
)
from certify.errors import CertificateError, InvalidInputError

from . import holds_certificate, l1_certificate, random_mlp

SPECIAL_FLOATS = [
    0.1,
    1 / 3,
    -0.0,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1e-300,
]


@pytest.fixture
def cert(rng: np.random.Generator) -> Certificate:
    return holds_certificate(rng=rng)[0]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_schema_is_shipped_and_valid():
    text = resources.files("certify").joinpath("certificates/schema/certificate-v1.json")
    schema = json.loads(text.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"] == {"const": SCHEMA_ID}


def test_round_trip_is_bit_for_bit(cert, tmp_path):
    special = dataclasses.replace(
        cert,
        tolerances={"floats": SPECIAL_FLOATS, "nested": {"rtol": 1e-12, "n": 3, "ok": True}},
        method={"name": "grid", "scale": -0.0, "note": None},
    )
    path = special.save(tmp_path / "c.json")
    text = path.read_text()
    loaded = Certificate.load(path)
    assert loaded == special
    assert loaded.to_json() == text  # load -> save reproduces the file exactly
    assert [v.hex() for v in loaded.tolerances["floats"]] == [v.hex() for v in SPECIAL_FLOATS]
    assert math.copysign(1.0, loaded.method["scale"]) == -1.0
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == special.sha256
    assert loaded.digest == special.digest == json.loads(text)["digest"]
    assert loaded.eps.hex() == special.eps.hex() and loaded.upper.hex() == special.upper.hex()


def test_json_layout(cert):
    doc = json.loads(cert.to_json())
    assert list(doc) == [
        "schema", "digest", "claim", "theorem", "lemmas", "instance", "witness", "route",
        "parts", "tolerances", "method", "seed", "versions", "created",
    ]  # fmt: skip
    assert doc["schema"] == "certify.certificate/1"
    assert doc["claim"]["quantity"] == "sup_abs_residual"
    assert doc["claim"]["eps"] == {"value": cert.eps, "hex": cert.eps.hex()}
    assert set(doc["claim"]["witness_point"]) == {"x", "y"}
    part = doc["parts"][0]
    assert set(part) == {
        "name", "function", "args", "domain", "cover", "lower", "upper", "point"
    }  # fmt: skip
    assert set(part["cover"]) == {"tree", "splits", "leaf_upper"}
    assert doc["digest"] == document_digest(doc)
    assert doc["route"] == {"name": "direct", "hypotheses": []}


def test_infinite_upper_is_null_value_and_inf_hex(cert, tmp_path):
    unknown = dataclasses.replace(cert, verdict="UNKNOWN", upper=math.inf, parts=())
    doc = json.loads(unknown.to_json())
    assert doc["claim"]["upper"] == {"value": None, "hex": "inf"}
    assert Certificate.load(unknown.save(tmp_path / "u.json")).upper == math.inf


def test_atomic_save_leaves_nothing_if_serialisation_fails(cert, tmp_path):
    bad = dataclasses.replace(cert, method={"solver": object()})
    with pytest.raises(InvalidInputError, match="must hold JSON data"):
        bad.save(tmp_path / "c.json")
    assert _files(tmp_path) == []


def test_atomic_save_keeps_the_old_file_if_writing_fails(cert, tmp_path, monkeypatch):
    path = cert.save(tmp_path / "c.json")
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    changed = dataclasses.replace(cert, claim="another claim")
    with pytest.raises(OSError, match="No space"):
        changed.save(path)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["c.json"]  # no temporary file left behind


def test_save_refuses_documents_the_schema_rejects(cert, tmp_path):
    phi = json.loads(json.dumps(cert.witness["phi"]))
    phi["weights"][0][0][0] = "1.5"  # a decimal where a float.hex string belongs
    with pytest.raises(CertificateError, match="schema violation"):
        dataclasses.replace(cert, witness={"phi": phi}).save(tmp_path / "c.json")
    assert _files(tmp_path) == []


def test_sidecar_round_trip(cert, tmp_path):
    side = Sidecar.from_network("nets/phi.npz", cert.witness["phi"])
    assert side.data == Sidecar.from_network("other.npz", cert.witness["phi"]).data  # deterministic
    with_side = dataclasses.replace(cert, witness={"phi": side})
    path = with_side.save(tmp_path / "c.json")
    assert _files(tmp_path) == ["c.json", "nets/phi.npz"]
    doc = json.loads(path.read_text())
    assert doc["witness"]["phi"] == {"npz": "nets/phi.npz", "sha256": side.sha256}
    loaded = Certificate.load(path)
    assert loaded == with_side
    assert loaded.network("phi") == cert.witness["phi"]
    assert loaded.network("psi") == cert.witness["phi"]  # psi absent: psi = phi
    with np.load(io.BytesIO(side.data)) as npz:
        assert sorted(npz.files) == ["activation", "biases_0", "biases_1", "format",
                                     "weights_0", "weights_1"]  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/abs/phi.npz", "../phi.npz", "a/../../phi.npz", "phi.json", "a\\b.npz"]
)
def test_sidecar_paths_must_be_relative_npz(path):
    with pytest.raises(InvalidInputError, match="relative path"):
        Sidecar(path, b"")


def test_sidecar_errors_on_load(cert, tmp_path):
    side = Sidecar.from_network("phi.npz", cert.witness["phi"])
    path = dataclasses.replace(cert, witness={"phi": side}).save(tmp_path / "c.json")
    (tmp_path / "phi.npz").write_bytes(side.data + b"\0")
    with pytest.raises(CertificateError, match="has sha256 .* records"):
        Certificate.load(path)
    (tmp_path / "phi.npz").unlink()
    with pytest.raises(CertificateError, match="is missing"):
        Certificate.load(path)
    with pytest.raises(CertificateError, match="load the certificate from its file"):
        Certificate.from_json(path.read_text())


def test_npz_reader_matches_the_dict(rng):
    net = random_mlp(rng, [3, 4, 2], "relu")
    assert mlp_dict_from_npz(mlp_npz_bytes(net)) == net
    with pytest.raises(CertificateError, match="unreadable"):
        mlp_dict_from_npz(b"not a zip file")


def _edited(cert: Certificate, tmp_path: Path, edit: Any, *, redigest: bool = True) -> Path:
    path = cert.save(tmp_path / "c.json")
    doc = json.loads(path.read_text())
    edit(doc)
    if redigest:
        doc["digest"] = document_digest(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "edit, redigest, match",
    [
        (lambda d: d.update(seed=7), False, "digest mismatch"),
        (lambda d: d.update(schema="certify.certificate/9"), True, "unknown schema version"),
        (lambda d: d.update(schema="something/1"), True, "not a certify certificate"),
        (lambda d: d.pop("created"), True, "schema violation at /: 'created' is a required"),
        (lambda d: d["claim"].update(verdict="MAYBE"), True, "schema violation at /claim/verdict"),
        (lambda d: d["claim"]["eps"].update(hex="0.1"), True, "schema violation"),
        (lambda d: d["claim"]["eps"].update(value=0.5), True, "decimal/hex disagreement"),
        (lambda d: d["claim"]["upper"].update(value=None), True, "decimal/hex disagreement"),
        (lambda d: d["claim"]["eps"].update(hex="-0x1.0p+0", value=-1.0), True, "`eps` must be"),
        (lambda d: d.update(created="yesterday"), True, "schema violation at /created"),
        (lambda d: d["parts"][0]["cover"].update(tree=[-2]), True, "schema violation"),
        (lambda d: d["route"].update(name="L1"), True, "route L1 needs"),
    ],
)
def test_load_errors_are_one_line(cert, tmp_path, edit, redigest, match):
    path = _edited(cert, tmp_path, edit, redigest=redigest)
    with pytest.raises(CertificateError, match=match) as info:
        Certificate.load(path)
    assert "\n" not in str(info.value)


def test_truncated_and_non_json_files(cert, tmp_path):
    path = cert.save(tmp_path / "c.json")
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    with pytest.raises(CertificateError, match="invalid JSON .truncated or corrupted"):
        Certificate.load(path)
    path.write_text('{"schema": NaN}')
    with pytest.raises(CertificateError, match="invalid JSON"):
        Certificate.load(path)
    with pytest.raises(CertificateError, match="cannot read"):
        Certificate.load(tmp_path / "missing.json")


# --- construction-time validation ---------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, match",
    [
        ({"verdict": "MAYBE"}, "`verdict` must be one of"),
        ({"eps": 0.0}, "`eps` must be > 0"),
        ({"eps": math.nan}, "`eps` must be a finite float"),
        ({"lower": 2.0, "upper": 1.0, "eps": 5.0}, "must be <= `upper`"),
        ({"eps": 1e-9}, "verdict HOLDS needs upper <= eps"),
        ({"witness_point": None}, "needs a `witness_point`"),
        ({"route": "L3"}, "`route` must be one of"),
        ({"route": "L2", "lemmas": ("L2",)}, "route L2 needs parts e0=residual"),
        ({"route": "L1", "lemmas": ("L1",)}, "route L1 needs the hypothesis"),
        ({"witness": {"psi": None}}, "must contain the network 'phi'"),
        ({"witness": {"phi": {"format": "x"}}}, "must be an MLP dict"),
        ({"parts": ()}, "needs the parts that prove it"),
        ({"created": "2024-06-01 12:00"}, "ISO-8601 UTC"),
        ({"seed": 1.5}, "`seed` must be an int"),
        ({"versions": {"numpy": 2}}, "`versions` must map"),
        ({"quantity": "mean"}, "`quantity` must be"),
    ],
)
def test_invalid_certificates_are_rejected(cert, changes, match):
    with pytest.raises(InvalidInputError, match=match):
        dataclasses.replace(cert, **changes)


def test_route_rules(cert, rng):
    l1 = l1_certificate(rng)
    assert l1.route == "L1" and l1.hypotheses[0].statement == L1_HYPOTHESIS
    with pytest.raises(InvalidInputError, match="rests on lemma L1"):
        dataclasses.replace(l1, lemmas=())
    with pytest.raises(InvalidInputError, match="no separate psi"):
        dataclasses.replace(l1, witness={**l1.witness, "psi": l1.witness["phi"]})
    part = dataclasses.replace(cert.parts[0], args={"left": "phi", "right": "G"})
    with pytest.raises(InvalidInputError, match="not in the witness"):
        dataclasses.replace(cert, parts=(part,))
    with pytest.raises(InvalidInputError, match="justification"):
        Hypothesis(L1_HYPOTHESIS, {"no": "kind"})


def test_part_and_cover_validation(cert):
    part = cert.parts[0]
    with pytest.raises(InvalidInputError, match="`function` of part"):
        dataclasses.replace(part, function="gap")
    with pytest.raises(InvalidInputError, match="must map exactly left, right"):
        dataclasses.replace(part, args={"left": "phi"})
    with pytest.raises(InvalidInputError, match="lower < upper"):
        dataclasses.replace(part, domain_upper=(-1.0, 1.0))
    with pytest.raises(InvalidInputError, match="gives no point"):
        dataclasses.replace(part, point=None)
    with pytest.raises(InvalidInputError, match="has 1 coordinates"):
        dataclasses.replace(part, point=(0.0,))
    with pytest.raises(InvalidInputError, match="`tree` must be"):
        Cover(tree=(0, -3, -1), splits=(0.0,))
    with pytest.raises(InvalidInputError, match="finite floats"):
        Cover(tree=(0, -1, -1), splits=(math.inf,))
    assert Cover.single_leaf().n_leaves == 1


def test_instance_and_part_records():
    with pytest.raises(InvalidInputError, match="`relation` must be a non-empty string"):
        Instance("", "box:-1,1", "box:-1,1")
    p = Part(
        name="SF",
        function="feature_norm",
        args={"features": "F"},
        domain_lower=(-1.0,),
        domain_upper=(1.0,),
        cover=Cover.single_leaf(2.0),
        lower=0.0,
        upper=2.0,
        point=None,
    )
    assert Part.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("x", [*SPECIAL_FLOATS, 3.14159e-7, 123456789.0, 0.00031001])
def test_format_bound_rounds_in_the_safe_direction(x):
    for digits in (3, 6):
        up, down = format_bound(x, digits=digits), format_bound(x, direction="down", digits=digits)
        assert Decimal(up) >= Decimal(x) >= Decimal(down) or (
            # a short repr names the float itself
            float(up) == x and float(down) == x
        )


def test_numpy_inputs_are_accepted(cert, tmp_path):
    part = cert.parts[0]
    np_part = dataclasses.replace(
        part,
        domain_lower=np.array(part.domain_lower),
        domain_upper=np.array(part.domain_upper),
        cover=Cover(
            tree=np.array(part.cover.tree, dtype=np.int64),
            splits=np.array(part.cover.splits),
            leaf_upper=np.array(part.cover.leaf_upper),
        ),
        point=np.array(part.point),
    )
    wp = cert.witness_point
    assert wp is not None
    converted = dataclasses.replace(
        cert,
        parts=(np_part,),
        seed=np.int64(cert.seed),
        witness_point=(np.array(wp[0]), np.array(wp[1])),
    )
    assert converted == cert
    assert Certificate.load(converted.save(tmp_path / "c.json")) == cert


def test_networks_package_interoperates(cert, tmp_path):
    # certify.networks.MLP (the engine's witness type): to_dict() goes inline, MLP.save
    # writes a sidecar the record reads, and MLP.load reads the record's own sidecars.
    networks = pytest.importorskip("certify.networks")
    MLP = getattr(networks, "MLP", None)
    if MLP is None or not hasattr(MLP, "from_dict"):
        pytest.skip("certify.networks.MLP is not available yet")
    net = MLP.from_dict(cert.witness["phi"])
    assert dataclasses.replace(cert, witness={"phi": net}) == cert
    net.save(tmp_path / "phi.npz")
    side = Sidecar("phi.npz", (tmp_path / "phi.npz").read_bytes())
    assert side.network == cert.witness["phi"]
    ours = Sidecar.from_network("ours.npz", net)
    (tmp_path / "ours.npz").write_bytes(ours.data)
    assert MLP.load(tmp_path / "ours.npz") == net
