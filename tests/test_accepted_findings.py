"""`accepted_warnings` (issue 18 item 4): guardrails warnings marked acceptable (GR320) and cfn-lint warnings and
informational findings, each accepted with a reason, listed in the summaries, stale when they match nothing; errors
never."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guardrails.blueprint.loader import display_path
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Severity, code_catalog
from guardrails.pipeline import _accept_validator_findings, build, compile_policy_tree
from guardrails.validators.cfn_lint import lint_templates

from .conftest import ROOT
from .sarif_rules import check_sarif_structure

MINIMAL = ROOT / "tests" / "cases" / "minimal" / "blueprint"
PEOPLE = """\
groups:
  staff:
    job_functions: [viewer]
    members: [carol, dave]
    deploy_to: {accounts: [workload]}
users:
  carol:
    deploy_to: {accounts: [workload]}
  dave:
    deploy_to: {accounts: [workload]}
"""
CAROL = """\
  - finding: GR320
    at: users.carol
    reason: Carol is the one contractor without an Identity Center account until March.
"""
# A template with an unused parameter: cfn-lint W2001, a warning (GR602, an error of the build unless accepted).
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Unused:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


def _blueprint(tmp_path: Path, accepted: str) -> Path:
    blueprint = tmp_path / "bp"
    shutil.copytree(MINIMAL, blueprint)
    (blueprint / "people.yaml").write_text(PEOPLE + ("accepted_warnings:\n" + accepted if accepted else ""),
                                           encoding="utf-8")
    return blueprint


def test_an_accepted_warning_is_listed_with_its_reason_not_hidden(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = _blueprint(tmp_path, CAROL)
    assert main(["check", str(blueprint)]) == 0
    out, err = capsys.readouterr()
    shown = display_path(blueprint)
    assert f"{shown}/people.yaml:9:3: warning GR320: IAM user 'dave' signs in to the console" in err  # not accepted
    assert "'carol'" not in err
    assert (f"accepted GR320 at {shown}/people.yaml:7:3: IAM user 'carol' signs in to the console — accepted: Carol "
            f"is the one contractor without an Identity Center account until March. ({shown}/people.yaml:12:5)") in out


def test_the_build_summary_lists_it_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = _blueprint(tmp_path, CAROL)
    result = build(blueprint, tmp_path / "out", external=False)
    assert [d.message for d in result.diagnostics if d.code == "GR320"] == ["IAM user 'dave' signs in to the console"]
    [line] = result.compiled.accepted_lines
    assert line.startswith("GR320 at ") and "Carol is the one contractor" in line
    sarif = tmp_path / "guardrails.sarif"
    assert main(["build", str(blueprint), "-o", str(tmp_path / "out2"), "--skip-external", "--sarif", str(sarif)]) == 0
    assert "accepted warnings" in capsys.readouterr().out
    log = json.loads(sarif.read_text(encoding="utf-8"))
    check_sarif_structure(log)
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "GR320"]
    assert [(r["message"]["text"].split("\n")[0], r.get("suppressions")) for r in results] == [
        ("IAM user 'carol' signs in to the console", [{"kind": "external", "status": "accepted", "justification":
         "Carol is the one contractor without an Identity Center account until March."}]),
        ("IAM user 'dave' signs in to the console", None)]


def test_a_stale_acceptance_is_a_warning(tmp_path: Path) -> None:
    """An acceptance whose entry no longer has the warning (carol without console) is reported, GR322."""
    blueprint = _blueprint(tmp_path, CAROL)
    people = blueprint / "people.yaml"
    people.write_text(people.read_text(encoding="utf-8").replace(
        "  carol:\n    deploy_to: {accounts: [workload]}\n", "  carol:\n    console: false\n"
        "    deploy_to: {accounts: [workload]}\n"), encoding="utf-8")
    compiled = compile_policy_tree(blueprint, own_checks=True)
    [stale] = [d for d in compiled.warnings if d.code == "GR322"]
    assert stale.severity is Severity.WARNING and "GR320 at 'users.carol' matches no finding" in stale.message
    assert stale.location is not None and stale.location.file.endswith("people.yaml") and stale.location.line == 13
    assert compiled.accepted == [] and compiled.accepted_lines == []


@pytest.mark.parametrize(("entry", "code", "message"), [
    ("{finding: GR504, at: users.dave, reason: Dave needs full access for the migration project.}", "GR203",
     "accepted_warnings[0].finding: GR504 is an error: errors are fixed, not accepted"),
    ("{finding: GR321, at: users.dave, reason: The review date does not matter for this one.}", "GR203",
     "GR321 is not a warning that can be accepted"),
    ("{finding: GR399, at: users.dave, reason: A code that the catalog does not define.}", "GR203",
     "GR399 is no guardrails diagnostic code"),
    ("{finding: GR320, at: users.erin, reason: An entry that names nobody in this blueprint.}", "GR301",
     "accepted_warnings[0].at names no blueprint entry: 'users.erin'"),
    ("{finding: W2001, at: people.yaml, reason: A cfn-lint finding is on templates and not blueprints.}", "GR203",
     "a cfn-lint finding is accepted on generated templates"),
    ("{finding: E3012, at: cloudformation/x.yaml, reason: cfn-lint errors are never accepted anywhere.}", "GR203",
     "accepted_warnings[0].finding: String should match pattern"),
    ("{finding: GR602, at: cloudformation/x.yaml, reason: cfn-lint findings are named by their rule id.}", "GR203",
     "accept a cfn-lint finding by its rule id, not by GR602"),
    ("{finding: GR320, at: nothing.here, reason: An entry path far from every entry of the blueprint.}", "GR301",
     "accepted_warnings[0].at names no blueprint entry: 'nothing.here'"),
])
def test_what_cannot_be_accepted_is_a_located_error(entry: str, code: str, message: str, tmp_path: Path) -> None:
    blueprint = _blueprint(tmp_path, f"  - {entry}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, own_checks=True)
    [found] = [d for d in raised.value.diagnostics if d.code == code]
    assert message in found.message
    assert found.location is not None and found.location.file.endswith("people.yaml") and found.location.line == 12


def test_cfn_lint_warnings_are_accepted_on_templates_by_rule_and_path(tmp_path: Path) -> None:
    """Real cfn-lint findings: W2001 accepted on the baselines only; an I… acceptance that cfn-lint did not report is
    stale once cfn-lint has run, and not judged before (`check`, `--skip-external`)."""
    blueprint = _blueprint(tmp_path, """\
  - finding: W2001
    at: cloudformation/baseline-*.yaml
    reason: The parameter is read by the deployment pipeline, not by the template itself.
  - finding: I3042
    at: cloudformation/*.yaml
    reason: Hard-coded partitions are fine in this commercial-only organization.
""")
    compiled = compile_policy_tree(blueprint, own_checks=True)
    assert not [d for d in compiled.warnings if d.code == "GR322"]  # cfn-lint has not run
    found = lint_templates({"cloudformation/baseline-a.yaml": TEMPLATE, "cloudformation/organization.yaml": TEMPLATE})
    assert sorted((d.code, d.message.split()[0], d.location.file) for d in found if d.location) == [
        ("GR602", "W2001", "cloudformation/baseline-a.yaml"),
        ("GR602", "W2001", "cloudformation/organization.yaml")]
    kept = _accept_validator_findings(compiled, found, cfn_lint_ran=True)
    assert [(d.code, d.location.file) for d in kept if d.location] == [
        ("GR602", "cloudformation/organization.yaml"), ("GR322", str(compiled.acceptances[1].declared.file))]
    assert [line.split(":")[0] for line in compiled.accepted_lines] == ["GR602 at cloudformation/baseline-a.yaml"]
    assert "read by the deployment pipeline" in compiled.accepted_lines[0]
    assert _accept_validator_findings(compiled, [], cfn_lint_ran=False) == []  # --skip-external: nothing judged


def test_only_documented_codes_are_acceptable() -> None:
    assert sorted(code for code, info in code_catalog().items() if info.acceptable) == ["GR320", "GR602", "GR603"]
