"""Issue 18 item 4: `check` is `build` minus the external validators and the writing.

Every own check `build` runs on the plan (guardrails/validators/own_checks.py) also runs in `check`, and each of its
findings names the blueprint entry responsible (file:line), in `build` too. The errors of the stages after the model
(scale, risks, own checks, access tests, lockout proof, escalation) come together in one run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from guardrails.blueprint.loader import display_path
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Diagnostic, ValidationFailed
from guardrails.pipeline import build, compile_policy_tree
from guardrails.validators import own_checks

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "cases" / "minimal" / "blueprint"

# The issue's case: a role holding AdministratorAccess, named as a control owner (so the escalation analysis, which
# `check` ran, has nothing to say); `check` said valid and `build` failed with GR504 at ".".
ADMIN_ROLE = """\
job_functions:
  admin:
    managed_policies: [AdministratorAccess]
roles:
  ops:
    job_functions: [admin]
    trust: {services: [ec2.amazonaws.com]}
    deploy_to: {accounts: [workload]}
security:
  detection: {delegated_admin: security}
  log_archive: {account: security, bucket: minimal-logs-222222222222}
  control_owners:
    - {principal: ops, reason: "The operations role runs the platform and owns every control."}
"""
ROLE = """\
roles:
  ops:
    job_functions: [viewer, report-reader]
    trust: {services: [ec2.amazonaws.com]}
    deploy_to: {accounts: [workload]}
"""
STAR_STATEMENT = ADMIN_ROLE.replace("    managed_policies: [AdministratorAccess]\n",
                                    "    statements:\n      - {effect: Allow, actions: ['*'], resources: ['*']}\n")

# Per own-check code a blueprint that makes `build` report it: (extra file, code, file of the location, line).
REACHABLE = {
    "GR501": ("limits: {trust_policy_chars: 50}\n" + ROLE, "GR501", "x.yaml", 5),
    "GR504": (ADMIN_ROLE, "GR504", "x.yaml", 5),
    "GR505-role": ("limits: {managed_policies_per_role: 1}\n" + ROLE, "GR505", "x.yaml", 3),
    "GR505-group": ("limits: {managed_policies_per_group: 1}\n", "GR505", "identity.yaml", 18),
}
# Own checks no blueprint reaches: the model stage refuses the input first, located (see test below), and GR506 is
# the CloudFormation templates' quotas, which need the rendered templates (`check` predicts the organization
# template's in guardrails/scale.py, GR304).
GUARDED_EARLIER = {"GR502": "GR203", "GR503": "GR312", "GR507": "GR314"}
NEEDS_TEMPLATES = {"GR506"}


def _blueprint(tmp_path: Path, extra: str) -> Path:
    blueprint = tmp_path / "bp"
    shutil.copytree(MINIMAL, blueprint)
    (blueprint / "x.yaml").write_text(extra, encoding="utf-8")
    return blueprint


def _located(diagnostics: list[Diagnostic], codes: set[str]) -> set[tuple[str, str]]:
    return {(d.code, str(d.location)) for d in diagnostics if d.code in codes}


def test_every_own_check_code_is_covered_here() -> None:
    """A new own check needs a case above (or a reason it cannot be reached from a blueprint)."""
    sources = (ROOT / "guardrails" / "validators" / "own_checks.py").read_text(encoding="utf-8")
    sources += (ROOT / "guardrails" / "validators" / "cfn_templates.py").read_text(encoding="utf-8")
    emitted = set(re.findall(r'Diagnostic\.of\(\s*"(GR5\d\d)"', sources))
    covered = {code for _, code, _, _ in REACHABLE.values()} | set(GUARDED_EARLIER) | NEEDS_TEMPLATES
    assert emitted == covered
    assert len(own_checks.ALL_CHECKS) == 9  # each check of the list emits one of the codes above


@pytest.mark.parametrize("case", sorted(REACHABLE))
def test_check_reports_what_build_reports_located_in_the_blueprint(case: str, tmp_path: Path) -> None:
    extra, code, file, line = REACHABLE[case]
    blueprint = _blueprint(tmp_path, extra)
    with pytest.raises(BlueprintError) as checked:
        compile_policy_tree(blueprint, own_checks=True)
    with pytest.raises(ValidationFailed) as built:
        build(blueprint, tmp_path / "out", external=False)
    in_check = _located(checked.value.diagnostics, {code})
    assert in_check == _located(built.value.diagnostics, {code})  # the same findings at the same places
    for diagnostic in checked.value.diagnostics:
        assert diagnostic.location is not None and diagnostic.location.line, diagnostic.render()
        assert diagnostic.location.file.startswith(display_path(blueprint) + "/"), diagnostic.render()
    assert any(where.startswith(f"{display_path(blueprint)}/{file}:{line}:") for _, where in in_check), \
        in_check


def test_the_issue_case_check_fails_with_the_role_s_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = _blueprint(tmp_path, ADMIN_ROLE)
    assert main(["check", str(blueprint)]) == 1
    err = capsys.readouterr().err
    shown = display_path(blueprint)
    assert f"{shown}/x.yaml:5:3: error GR504: role ops has the AWS managed policy AdministratorAccess" in err
    assert "is valid" not in err


@pytest.mark.parametrize(("code", "statement"), [
    ("GR312", "{effect: Allow, actions: ['s3:GetObjectz'], resources: ['*']}"),
    ("GR314", "{effect: Allow, actions: ['s3:GetObject'], resources: ['*'], "
              "conditions: {StringEquals: {'s3:NoSuchKey': 'x'}}}"),
    ("GR203", "{effect: Maybe, actions: ['s3:GetObject'], resources: ['*']}"),
])
def test_what_the_own_checks_would_find_in_a_statement_check_refuses_earlier(code: str, statement: str,
                                                                           tmp_path: Path) -> None:
    blueprint = _blueprint(tmp_path, f"job_functions:\n  odd:\n    statements:\n      - {statement}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    [found] = [d for d in raised.value.diagnostics if d.code == code]
    assert found.location is not None and found.location.file.endswith("x.yaml") and found.location.line == 4


def test_the_stages_after_the_model_report_together(tmp_path: Path) -> None:
    """A `*` on `*` statement: the undeclared risks (GR315, the risk stage) and the full grant (GR504, an own check)
    in one run, at the statement; before, the risks stopped the run and build never got to GR504."""
    blueprint = _blueprint(tmp_path, STAR_STATEMENT)
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    found = {(d.code, str(d.location)) for d in raised.value.diagnostics}
    where = f"{display_path(blueprint)}/x.yaml:4:9"
    assert {("GR315", where), ("GR504", where)} <= found


# ----------------------------------------------------------------------------- all stages' errors in one run

SCHEMA_AND_REFERENCE = {
    "roles.yaml": """\
roles:
  ops:
    job_functions: [viewer]
    trust: {services: [ec2.amazonaws.com]}
    deploy_to: {accounts: [workload]}
    max_session_duration: lots
  ci:
    job_functions: [viewr]
    trust: {services: [ec2.amazonaws.com]}
    deploy_to: {accounts: [workload]}
""",
    "people.yaml": """\
groups:
  operators:
    job_functions: [viewer]
    members: [carol]
    deploy_to: {all: true}
users:
  carol:
    deploy_to: {all: true}
    consol: true
""",
}


def test_a_schema_error_does_not_hide_a_reference_error_in_another_file(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """roles.ops and users.carol fail the schema; roles.ci names an unknown job function: all three in one run, each
    at its line, and no "unknown user 'carol'" for the group that lists the user left out."""
    blueprint = tmp_path / "bp"
    shutil.copytree(MINIMAL, blueprint)
    for name, text in SCHEMA_AND_REFERENCE.items():
        (blueprint / name).write_text(text, encoding="utf-8")
    assert main(["check", str(blueprint)]) == 1
    err = capsys.readouterr().err
    shown = display_path(blueprint)
    assert f"{shown}/roles.yaml:6:27: error GR203: roles.ops.max_session_duration" in err
    assert f"{shown}/people.yaml:9:5: error GR201: unknown key 'consol' in users.carol" in err
    assert f"{shown}/roles.yaml:8:21: error GR301: unknown job function 'viewr'" in err
    assert "carol'" not in err.replace("users.carol", "")  # no cascade from the entry left out
    assert "3 blueprint error(s)" in err


def test_errors_outside_named_entries_are_reported_alone(tmp_path: Path) -> None:
    """A schema error in `organization` leaves nothing to resolve references against: the loader's errors alone."""
    blueprint = tmp_path / "bp"
    shutil.copytree(MINIMAL, blueprint)
    (blueprint / "roles.yaml").write_text(SCHEMA_AND_REFERENCE["roles.yaml"], encoding="utf-8")
    organization = blueprint / "organization.yaml"
    organization.write_text(organization.read_text(encoding="utf-8").replace("  home_region: us-east-1\n",
                                                                            "  home_region: 5\n"), encoding="utf-8")
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    assert {d.code for d in raised.value.diagnostics} == {"GR203"}


def test_escalation_findings_of_an_aws_managed_policy_name_the_role(tmp_path: Path) -> None:
    """Without the control-owner declaration the escalation analysis reports the role too (GR406); its grant has no
    statement in the blueprint (AdministratorAccess), so it is located at the role, like GR504, not at the folder."""
    blueprint = _blueprint(tmp_path, ADMIN_ROLE.partition("security:")[0])
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    found = {(d.code, str(d.location)) for d in raised.value.diagnostics}
    where = f"{display_path(blueprint)}/x.yaml:5:3"
    assert found == {("GR406", where), ("GR504", where)}


def test_a_permission_set_with_a_schema_error_is_left_out_without_cascades(tmp_path: Path) -> None:
    """Nested named entries too: the permission set Viewer fails the schema, Reader names an unknown job function,
    and the assignment of Viewer does not add "unknown permission set"."""
    blueprint = _blueprint(tmp_path, """\
identity_center:
  instance_arn: arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6
  identity_store_id: d-93670c1a2b
  permission_sets:
    Viewer:
      job_functions: [viewer]
      session_duration: four hours
    Reader:
      job_functions: [report-readr]
  assignments:
    - group: viewers
      group_id: 9067c2d4a1-1b2c3d4e-5f60-4182-93a4-b5c6d7e8f901
      permission_set: Viewer
      deploy_to: {all: true}
""")
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    found = sorted((d.code, d.location.line if d.location else 0) for d in raised.value.diagnostics)
    assert found == [("GR203", 7), ("GR301", 9)]
