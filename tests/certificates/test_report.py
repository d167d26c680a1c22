"""Reports: summary lines, LaTeX rows and BibTeX entries carry true (safely rounded) figures."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal

import numpy as np
import pytest

from certify.certificates.checker import check
from certify.certificates.record import Certificate, Instance, Sidecar
from certify.certificates.report import as_json, bibtex, latex_row, network_summary, summary

from . import holds_certificate, random_mlp


@pytest.fixture
def cert(rng: np.random.Generator) -> Certificate:
    return holds_certificate(rng=rng)[0]


def test_summary_lines(cert):
    text = summary(cert)
    assert text.splitlines()[0] == f"claim:     {cert.claim}"
    assert "verdict:   HOLDS" in text
    assert "tanh MLP 1-8-3 (8 neurons" in text and "psi = phi" in text
    assert "route:     direct (theorem T-S)" in text
    assert "1 part(s), 64 leaves, engine time 0.01 s" in text
    assert cert.sha256 in text
    assert "python" in text  # package versions
    assert len(text.splitlines()) <= 10


def test_summary_with_checker_result(cert):
    result = check(cert, progress=False)
    assert summary(cert, result=result).splitlines()[-1].startswith("checker:   CONFIRMED (exit 0)")


def test_summary_of_sidecars_and_hypotheses(rng, cert):
    from . import l1_certificate

    l1 = l1_certificate(rng)
    text = summary(l1)
    assert "hypothesis 'r - <phi, phi> is PSD' (asserted)" in text
    side = dataclasses.replace(
        cert, witness={"phi": Sidecar.from_network("phi.npz", cert.witness["phi"])}
    )
    info = network_summary(side, "phi")
    assert info["source"] == "npz:phi.npz" and info["sha256"] == side.witness["phi"].sha256
    assert info["widths"] == [1, 8, 3] and info["neurons"] == 8


def _tex_float(cell: str) -> Decimal:
    m = re.fullmatch(r"\$(-?[0-9.]+)(?: \\times 10\^\{(-?[0-9]+)\})?\$", cell)
    assert m, cell
    return Decimal(m.group(1)).scaleb(int(m.group(2) or 0))


def test_latex_row(cert):
    row = latex_row(cert)
    assert row.endswith(r" \\")
    cells = row[: -len(r" \\")].split(" & ")
    assert len(cells) == 7
    relation, domain, neurons, eps, upper, verdict, sha = cells
    assert relation == r"\texttt{gaussian:lengthscale=0.5}"
    assert domain == "$[-1, 1]$"
    assert neurons == "8"
    assert _tex_float(upper) >= Decimal(cert.upper)  # rounded up: the quoted u stays true
    assert _tex_float(eps) >= Decimal(cert.eps)
    assert verdict == "HOLDS"
    assert sha == r"\texttt{" + cert.sha256[:12] + "}"


def test_latex_row_escapes_and_products(cert, rng):
    psi = random_mlp(rng, [1, 5, 3])
    odd = dataclasses.replace(
        cert,
        instance=Instance("expr:x0_1 & 50% #1", "box:-1,1;0,2", "box:0,1"),
        witness={"phi": cert.witness["phi"], "psi": psi},
        parts=(dataclasses.replace(cert.parts[0], args={"left": "phi", "right": "psi"}),),
    )
    cells = latex_row(odd).split(" & ")
    assert cells[0] == r"\texttt{expr:x0\_1 \& 50\% \#1}"
    assert cells[1] == r"$[-1, 1] \times [0, 2]$ $\times$ $[0, 1]$"
    assert cells[2] == "13"  # hidden units of phi and psi


def test_bibtex_carries_the_sha256(cert):
    entry = bibtex(cert)
    assert entry.startswith("@misc{certify:" + cert.sha256[:16] + ",")
    assert f"file sha256 {cert.sha256}" in entry
    assert "year         = {2024}" in entry
    assert entry.count("{") == entry.count("}")


def test_as_json_is_the_file_text(cert, tmp_path):
    path = cert.save(tmp_path / "c.json")
    assert as_json(cert) == path.read_text()
    assert json.loads(as_json(cert))["digest"] == cert.digest
