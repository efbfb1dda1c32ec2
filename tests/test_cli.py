"""The command line: commands, exit codes, and the one error boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails.cli import main
from guardrails.emitters.write import read_tree

from .conftest import ROOT


def test_build_writes_output_and_a_rebuild_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["build", "tests/cases/minimal/blueprint", "-o", str(out), "--skip-external"]) == 0
    first = read_tree(out)
    assert "terraform/organization/scps.tf" in first and "cloudformation/organization.yaml" in first
    assert "generated" in capsys.readouterr().out
    assert main(["build", "tests/cases/minimal/blueprint", "-o", str(out), "--skip-external"]) == 0
    assert "0 added, 0 changed, 0 removed" in capsys.readouterr().out
    assert read_tree(out) == first


def test_validate_fails_on_stale_output_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["build", "tests/cases/minimal/blueprint", "-o", str(out), "--no-validate"]) == 0
    (out / "policies" / "scp" / "guardrails-root.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["validate", "tests/cases/minimal/blueprint", "-o", str(out), "--skip-external"]) == 2
    err = capsys.readouterr().err
    assert "policies/scp/guardrails-root.json:1:1: error GR508" in err and "differs from what the blueprint" in err
    assert "1 file(s) in" in err and "not what the blueprint compiles to" in err


def test_build_refuses_an_output_path_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    assert main(["build", "tests/cases/minimal/blueprint", "-o", str(notes), "--no-validate"]) == 3
    assert "is an existing file" in capsys.readouterr().err
    assert notes.read_text() == "mine\n" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_schema_into_a_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "-o", str(tmp_path / "no" / "such" / "schema.json")]) == 3
    err = capsys.readouterr().err
    assert "cannot write" in err and "INTERNAL" not in err


def test_an_unknown_account_name_with_markup_prints_literally(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "account", "[/]:100:", "tests/cases/minimal/blueprint"]) == 1
    err = capsys.readouterr().err
    assert "unknown account '[/]:100:'" in err and "💯" not in err


def test_missing_checkov_is_a_tool_error_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["build", "tests/cases/minimal/blueprint", "-o", str(out), "--checkov", str(tmp_path / "nope")])
    assert code == 3
    assert "checkov" in capsys.readouterr().err
    assert not out.exists()


def test_schema_and_catalog_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "organization" in schema["properties"]
    assert main(["catalog"]) == 0
    listing = capsys.readouterr().out
    for guardrail in ("deny-leave-organization", "deny-root-user", "region-restriction", "protect-guardrail-roles"):
        assert guardrail in listing


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "guardrails", "--version"], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("guardrails ")
