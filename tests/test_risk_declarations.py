"""Risky grants fail the build unless mitigated or declared; declarations past review_by warn."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError, Severity
from guardrails.pipeline import compile_blueprint

from .conftest import ROOT

JOB = """job_functions:
  operator:
    statements:
      - sid: ReadEverything
        actions: [s3:GetObject]
        resources: ["*"]
{declarations}
groups:
  ops: {{job_functions: [operator], deploy_to: {{all: true}}}}
"""


def _blueprint(tmp_path: Path, declarations: str = "") -> Path:
    blueprint = tmp_path / "bp"
    blueprint.mkdir()
    (blueprint / "organization.yaml").write_text((ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text())
    (blueprint / "identity.yaml").write_text(JOB.format(declarations=declarations))
    return blueprint


def test_an_undeclared_data_exfiltration_grant_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(_blueprint(tmp_path))
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "GR315" and "data-exfiltration" in diagnostic.message
    assert diagnostic.location.file.endswith("identity.yaml") and diagnostic.location.line == 4
    assert "accept_risks" in diagnostic.hint


def test_a_declared_risk_passes_and_warns_after_its_review_date(tmp_path: Path) -> None:
    blueprint = _blueprint(tmp_path, "    accept_risks:\n      - {risk: data-exfiltration, reason: 'Reads the "
                                     "shared data lake by design; bucket policies limit it.', owner: data-team, "
                                     "review_by: 2027-01-31}")
    before = compile_blueprint(blueprint, today=date(2027, 1, 31))
    assert not before.warnings and any("data-exfiltration" in note for note in before.notes)
    after = compile_blueprint(blueprint, today=date(2027, 2, 1))
    [warning] = after.warnings
    assert warning.code == "GR321" and warning.severity is Severity.WARNING and "data-team" in warning.message
    assert before.files == after.files, "the date never changes the output"


def test_an_unknown_risk_name_gets_a_suggestion(tmp_path: Path) -> None:
    blueprint = _blueprint(tmp_path, "    accept_risks:\n      - {risk: data-exfiltraton, reason: 'A reason long "
                                     "enough to pass the schema.', owner: me, review_by: 2030-01-01}")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint)
    codes = {d.code for d in raised.value.diagnostics}
    assert "GR203" in codes
    assert any("did you mean" in d.hint for d in raised.value.diagnostics if d.code == "GR203")
