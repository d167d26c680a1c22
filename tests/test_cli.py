"""The console script: --version, --help, the demo, and clean errors."""

from __future__ import annotations

import subprocess
import sys

import certify
from certify.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert certify.__version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_runs(capsys):
    assert (
        main(["demo", "--n", "200", "--rank", "5", "--domain", "box:-1,1", "--no-certificate"]) == 0
    )
    out = capsys.readouterr().out
    assert "Gram     : shape (200, 200)" in out
    assert "sampled estimate" in out


def test_demo_bad_spec_is_a_clean_error(capsys):
    assert main(["demo", "--relation", "gausian"]) == 2
    err = capsys.readouterr().err
    assert "unknown relation 'gausian'" in err and "Traceback" not in err


def test_console_script_entry_point():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from certify.cli import main; sys.exit(main(['--version']))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"certify {certify.__version__}"


def test_demo_writes_a_confirmed_certificate(tmp_path, capsys):
    assert main(["demo", "--n", "100", "--rank", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "verdict:   HOLDS" in out and "CONFIRMED" in out
    assert (tmp_path / "demo-certificate.json").exists()
