"""Risky grants fail the build unless mitigated or declared; declarations past review_by warn; permission sets are
checked like the job functions they are built from; the analysis runs once per document and build."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError, Severity
from guardrails.pipeline import compile_blueprint
from guardrails.policies import risk_findings
from guardrails.policies.ir import PolicyDocument

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


# ----------------------------------------------------------------------------- permission sets (issue 11)

IDENTITY_CENTER = """identity_center:
  instance_arn: arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6
  identity_store_id: d-93670c1a2b
  permission_sets:
    Operators:
      job_functions: [operator]
  assignments:
    - group: operators
      group_id: 9067c2d4a1-1b2c3d4e-5f60-4182-93a4-b5c6d7e8f901
      permission_set: Operators
      deploy_to: {accounts: [security, workload]}
"""


def _signed_in_only(tmp_path: Path, declarations: str = "") -> Path:
    """The operator job function reaches people only through an inline permission set (no IAM group uses it)."""
    blueprint = _blueprint(tmp_path, declarations)
    identity = blueprint / "identity.yaml"
    identity.write_text(identity.read_text().split("groups:")[0])
    (blueprint / "identity-center.yaml").write_text(IDENTITY_CENTER)
    return blueprint


def test_an_undeclared_risk_in_a_permission_set_is_an_error_at_the_job_statement(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(_signed_in_only(tmp_path), run_tests=False)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "GR315" and "data-exfiltration/data-reads" in diagnostic.message
    assert diagnostic.message.startswith("permission set Operators (inline policy, assigned in security, workload)")
    assert diagnostic.location.file.endswith("identity.yaml") and diagnostic.location.line == 4
    assert "accept_risks" in diagnostic.hint


def test_the_job_functions_declaration_covers_the_permission_set_built_from_it(tmp_path: Path) -> None:
    blueprint = _signed_in_only(tmp_path, "    accept_risks:\n      - {risk: data-exfiltration, reason: 'Operators "
                                          "read the shared data lake by design.', owner: data-team, "
                                          "review_by: 2027-01-31}")
    before = compile_blueprint(blueprint, today=date(2027, 1, 31), run_tests=False)
    assert not before.warnings
    assert before.notes == ["permission set Operators: data-exfiltration/data-reads (owner data-team; review by "
                            "2027-01-31)"]
    [warning] = compile_blueprint(blueprint, today=date(2027, 2, 1), run_tests=False).warnings
    assert warning.code == "GR321" and "permission set Operators" in warning.message


def test_a_typo_in_accept_risks_is_reported_once_even_for_a_job_split_into_parts_or_without_a_policy(
        tmp_path: Path) -> None:
    blueprint = _blueprint(tmp_path, "    accept_risks:\n      - {risk: data-exfiltration, reason: 'A reason long "
                                     "enough to pass the schema.', owner: me, review_by: 2030-01-01}\n"
                                     "  viewer:\n    managed_policies: [ReadOnlyAccess]\n    accept_risks:\n"
                                     "      - {risk: data-exfiltraton, reason: 'A reason long enough to pass the "
                                     "schema.', owner: me, review_by: 2030-01-01}")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint, run_tests=False)
    [typo] = [d for d in raised.value.diagnostics if d.code == "GR203"]
    assert "data-exfiltraton" in typo.message and typo.location.file.endswith("identity.yaml")


# ----------------------------------------------------------------------------- once per build (issue 11)


def test_every_document_of_the_example_is_analysed_exactly_once_per_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The least-privilege report (synthesize) and the build's risk check (pipeline) ask for the same findings: the
    analysis runs once per distinct document, and covers permission sets and resource policies."""
    analysed: list[tuple[PolicyDocument, bool]] = []
    analyse = risk_findings._analyze

    def counting(document: PolicyDocument, rules: tuple, own_accounts: frozenset[str] | None) -> list:
        analysed.append((document, own_accounts is not None))
        return analyse(document, rules, own_accounts)

    monkeypatch.setattr(risk_findings, "_analyze", counting)
    risk_findings._memoised.cache_clear()
    plan = compile_blueprint(ROOT / "blueprints", run_tests=False).plan
    documents = [document for document, _ in analysed]
    assert len(documents) == len(set(zip(documents, [tuple(s.origin for s in d.statements) for d in documents])))
    assert plan.identity_center is not None
    inline = [p.inline_policy for p in plan.identity_center.permission_sets if p.inline_policy is not None]
    assert inline and all((document, False) in analysed for document in inline)
    assert plan.resource_policies and all((p.document, True) in analysed for p in plan.resource_policies)
    jobs = [p.document for c in plan.classes for p in c.baseline.managed_policies if p.key.startswith("job_")]
    assert jobs and all(documents.count(d) == 1 for d in jobs)
    count = len(analysed)
    compile_blueprint(ROOT / "blueprints", run_tests=False)
    assert len(analysed) == count, "a second build in the same process reuses every analysis"
