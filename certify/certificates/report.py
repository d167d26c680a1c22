"""Human and citation views of a certificate: a summary, a LaTeX table row, a BibTeX entry.

Quoted bounds are rounded in the safe direction (upper bounds and eps up, lower bounds
down; :func:`certify.certificates.record.format_bound`), so a figure copied from a
report is still true. Citations carry the certificate file's sha256
(:attr:`Certificate.sha256`), which identifies the exact file.

Examples
--------
>>> from certify.certificates.record import Certificate, Instance
>>> net = {"format": "certify.mlp/1", "activation": "tanh",
...        "weights": [[["0x1.0p+0"], ["0x1.0p-1"]], [["0x1.0p+0", "0x1.0p+0"]]],
...        "biases": [["0x0.0p+0", "0x0.0p+0"], ["0x0.0p+0"]]}
>>> cert = Certificate(verdict="UNKNOWN", eps=0.1, lower=0.0, upper=math.inf,
...     witness_point=None, claim="sup |r - <phi, phi>| <= 0.1",
...     instance=Instance("gaussian:lengthscale=0.5", "box:-1,1", "box:-1,1"),
...     witness={"phi": net}, created="2024-01-01T00:00:00Z", versions={})
>>> latex_row(cert).split(" & ")[2]  # neurons
'2'
>>> cert.sha256[:12] in bibtex(cert)
True
"""

from __future__ import annotations

import hashlib
import math  # noqa: F401 - used by the doctests
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from certify.certificates.record import (
    NYSTROM_FORMAT,
    Certificate,
    Sidecar,
    canonical_json,
    format_bound,
)

__all__ = ["as_json", "bibtex", "latex_row", "network_summary", "summary"]


def _network(cert: Certificate, name: str) -> dict[str, Any]:
    return cert.network(name)


def network_summary(cert: Certificate, name: str) -> dict[str, Any]:
    """Architecture, neuron count and sha256 of a witness network.

    The sha256 is that of the sidecar file for ``.npz`` witnesses and of the canonical
    JSON of the MLP dictionary for inline ones (``source`` says which).
    """
    stored = cert.witness[name]
    net = _network(cert, name)
    if net.get("format") == NYSTROM_FORMAT:
        # kernel-sum features F = r(., nodes) @ C: one kernel unit per node
        nodes, coef = net["nodes"], net["coefficients"]
        return {
            "name": name,
            "activation": f"Nystrom features of {net['relation']}",
            "widths": [len(nodes[0]) if nodes else 0, len(nodes), len(coef[0]) if coef else 0],
            "neurons": len(nodes),
            "sha256": hashlib.sha256(canonical_json(net).encode("ascii")).hexdigest(),
            "source": "inline",
        }
    weights = net["weights"]
    widths = [len(weights[0][0]), *(len(W) for W in weights)]
    if isinstance(stored, Sidecar):
        sha, source = stored.sha256, f"npz:{stored.path}"
    else:
        sha = hashlib.sha256(canonical_json(net).encode("ascii")).hexdigest()
        source = "inline"
    return {
        "name": name,
        "activation": net["activation"],
        "widths": widths,
        "neurons": sum(widths[1:-1]),
        "sha256": sha,
        "source": source,
    }


def _neurons(cert: Certificate) -> int:
    """Hidden units of phi plus psi (THEORY.md, "Objects": the neuron count)."""
    names = ["phi"] if cert.psi_is_phi else ["phi", "psi"]
    return sum(network_summary(cert, n)["neurons"] for n in names)


def _engine_seconds(method: Mapping[str, Any]) -> float | None:
    for key in ("seconds", "wall_seconds", "time_seconds", "elapsed_seconds"):
        v = method.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    stats = method.get("statistics")
    if isinstance(stats, Mapping):
        return _engine_seconds(stats)
    return None


def summary(cert: Certificate, *, result: Any = None) -> str:
    """A few human-readable lines: claim, verdict, [l, u], eps, witness, route, cover, versions.

    ``result`` (a :class:`~certify.certificates.checker.CheckResult`) adds the
    independent checker's answer.
    """
    lo = format_bound(cert.lower, direction="down")
    up = format_bound(cert.upper, direction="up")
    lines = [
        f"claim:     {cert.claim}",
        f"verdict:   {cert.verdict}   sup |e| in [{lo}, {up}]   eps = "
        f"{format_bound(cert.eps, direction='up', digits=6)}",
        f"instance:  {cert.instance.relation} on {cert.instance.x_domain} x "
        f"{cert.instance.y_domain}"
        + (f", measure {cert.instance.measure}" if cert.instance.measure else ""),
    ]
    nets = []
    for name in cert.witness:
        s = network_summary(cert, name)
        arch = "-".join(str(w) for w in s["widths"])
        kind = (
            f"{s['activation']} {arch} ({s['neurons']} kernel units"
            if s["activation"].startswith("Nystrom")
            else f"{s['activation']} MLP {arch} ({s['neurons']} neurons"
        )
        nets.append(f"{name} = {kind}, sha256 {s['sha256'][:16]}, {s['source']})")
    if cert.psi_is_phi:
        nets.append("psi = phi")
    lines.append("witness:   " + "; ".join(nets))
    route = f"route:     {cert.route}"
    if cert.theorem:
        route += f" (theorem {cert.theorem})"
    if cert.lemmas:
        route += f", lemmas {', '.join(cert.lemmas)}"
    for h in cert.hypotheses:
        kind = "asserted" if h.justification is None else f"justified by {h.justification['kind']}"
        route += f"; hypothesis {h.statement!r} ({kind})"
    lines.append(route)
    cover = f"cover:     {len(cert.parts)} part(s), {cert.n_leaves} leaves"
    seconds = _engine_seconds(cert.method)
    if seconds is not None:
        cover += f", engine time {seconds:.3g} s"
    lines.append(cover)
    versions = ", ".join(f"{k} {v}" for k, v in cert.versions.items())
    lines.append(f"created:   {cert.created}" + (f"; {versions}" if versions else ""))
    lines.append(f"file:      sha256 {cert.sha256}")
    if result is not None:
        lines.append(f"checker:   {result.status} (exit {result.exit_code}): {result.reason}")
    return "\n".join(lines)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def _tex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_number(x: float, direction: str) -> str:
    text = format_bound(x, direction=direction)
    if text == "inf":
        return r"$\infty$"
    m = re.fullmatch(r"(-?[0-9.]+)e([+-][0-9]+)", text)
    if m:
        exponent = int(m.group(2))
        if -3 <= exponent <= 3:  # plain decimal: the same (safely rounded) number
            return f"${Decimal(text):f}$"
        return f"${m.group(1)} \\times 10^{{{exponent}}}$"
    return f"${text}$"


def _tex_domain(spec: str) -> str:
    """``box:-1,1;-1,1`` -> ``$[-1, 1]^{2}$``; other specs verbatim (escaped)."""
    if spec.startswith("box:"):
        pairs = [p.split(",") for p in spec[4:].split(";")]
        if all(len(p) == 2 for p in pairs):
            parts = [f"[{a.strip()}, {b.strip()}]" for a, b in pairs]
            if len(set(parts)) == 1:
                return f"${parts[0]}^{{{len(parts)}}}$" if len(parts) > 1 else f"${parts[0]}$"
            return "$" + r" \times ".join(parts) + "$"
    return r"\texttt{" + _tex_escape(spec) + "}"


def latex_row(cert: Certificate) -> str:
    r"""One LaTeX table row: relation & domain & neurons & eps & u & verdict & short sha256.

    The domain is X when Y = X, else X x Y; u is rounded up. Ends with ``\\``.
    """
    inst = cert.instance
    if inst.x_domain == inst.y_domain:
        domain = _tex_domain(inst.x_domain)
    else:
        domain = _tex_domain(inst.x_domain) + r" $\times$ " + _tex_domain(inst.y_domain)
    cells = [
        r"\texttt{" + _tex_escape(inst.relation) + "}",
        domain,
        str(_neurons(cert)),
        _tex_number(cert.eps, "up"),
        _tex_number(cert.upper, "up"),
        cert.verdict,
        r"\texttt{" + cert.sha256[:12] + "}",
    ]
    return " & ".join(cells) + r" \\"


def _bib_escape(text: str) -> str:
    return _tex_escape(text)


def bibtex(cert: Certificate) -> str:
    """A ``@misc`` BibTeX entry whose key and note carry the certificate file's sha256."""
    sha = cert.sha256
    version = cert.versions.get("certify-relations") or cert.versions.get("certify", "")
    year = cert.created[:4]
    lo = format_bound(cert.lower, direction="down")
    up = format_bound(cert.upper, direction="up")
    eps = format_bound(cert.eps, direction="up", digits=6)
    note = (
        f"certify certificate (schema certify.certificate/1), verdict {cert.verdict}: "
        f"sup |e| in [{lo}, {up}], eps = {eps}; {cert.instance.relation} on "
        f"{cert.instance.x_domain} x {cert.instance.y_domain}; route {cert.route}; "
        f"file sha256 {sha}"
    )
    fields = [
        ("title", "{" + _bib_escape(cert.claim) + "}"),
        ("author", "{certify}"),
        ("howpublished", f"certify {version}".strip() + " certificate file (JSON)"),
        ("year", year),
        ("note", _bib_escape(note)),
    ]
    body = ",\n".join(f"  {k:<12} = {{{v}}}" for k, v in fields)
    return f"@misc{{certify:{sha[:16]},\n{body}\n}}\n"


def as_json(cert: Certificate) -> str:
    """The certificate file's text (same as :meth:`Certificate.to_json`)."""
    return cert.to_json()
