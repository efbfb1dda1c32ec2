"""Owners of the controls the blueprint names (`security.control_owners`, docs/escalation.md#owners-of-the-controls).

A small policy tree (tests/test_escalation.py's helpers, plus the alert topic's resource policy) pins how the
analysis honours an owner and its scope; a small blueprint (tests/cases/minimal with a security section and one
operator role) pins the pipeline: the declaration reaches the analysis, the report shows it, the lockout proof's
inputs do not change, and wrong entries are located errors.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.escalation import Owner
from guardrails.escalation.analysis import GroupResult, analyze
from guardrails.escalation.catalog import catalog
from guardrails.escalation.findings import diagnostics
from guardrails.escalation.owners import FAMILIES, check, control_names, expand
from guardrails.iam.manifest import MANIFEST, Manifest
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import ROOT
from .test_escalation import ALPHA, ROLE, allow, deny, doc, tree

TOPIC = f"arn:aws:sns:eu-west-1:{ALPHA}:guardrails-security-alerts"
TODAY = date(2026, 12, 1)


def with_alert_topic(files: dict[str, str]) -> dict[str, str]:
    """The tree with the alert topic and its policy (publishing for EventBridge, the rest left to IAM)."""
    files = dict(files)
    files["policies/resource/alerts-topic.json"] = json.dumps(doc({
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
        "Resource": TOPIC}))
    manifest = json.loads(files[MANIFEST])
    manifest["resource_policies"] = [{
        "key": "alerts-topic", "kind": "sns-topic", "resource": "arn:aws:sns:${region}:${account_id}:"
        "guardrails-security-alerts", "file": "policies/resource/alerts-topic.json", "accounts": ["alpha"],
        "regions": ["eu-west-1"], "description": "the alert topic"}]
    files[MANIFEST] = json.dumps(manifest)
    return files


def operator_tree(**roles: dict) -> dict[str, str]:
    """role/security/AlertsOperator may change the alert topic's policy."""
    grant = {"path": "/security/", "policies": [doc(allow("sns:SetTopicAttributes", TOPIC))]}
    return with_alert_topic(tree(roles={"AlertsOperator": grant, **roles}))


def tampering(files: dict[str, str], owners: list[str | Owner] = ()) -> dict[str, list[str]]:
    """Principal → the control ids it changes without owning them."""
    [group] = analyze(files, owners=owners).groups
    return {p.node.base: sorted({g.what for g in p.tamper}) for p in group.principals if p.tamper}


def group_of(files: dict[str, str], owners: list[str | Owner]) -> GroupResult:
    [group] = analyze(files, owners=owners).groups
    return group


# ----------------------------------------------------------------------------- the analysis


def test_a_principal_that_is_not_an_owner_changing_the_alert_topic_is_a_gr406() -> None:
    files = operator_tree()
    assert tampering(files) == {"role/AlertsOperator": ["alert-topic"]}
    analysis = analyze(files)
    [finding] = [d for d in diagnostics(analysis, None, Manifest.from_files(files), TODAY) if d.code == "GR406"]
    assert finding.message.startswith("role/AlertsOperator in alpha: can change the alert topic")
    assert f"sns:SetTopicAttributes on {TOPIC.replace(ALPHA, '${account_id}')}" in finding.message
    # An SCP that exempts nobody here closes it.
    denied = with_alert_topic(tree(roles={"AlertsOperator": {"policies": [doc(allow("sns:SetTopicAttributes",
                                                                                     TOPIC))]}},
                                   scp=[deny("sns:SetTopicAttributes")]))
    assert not tampering(denied)


def test_an_owner_of_the_alerts_may_change_the_topic() -> None:
    files = operator_tree()
    owner = Owner("role/security/AlertsOperator", ("alerts",), "The security operations team runs the alerts.")
    assert "role/AlertsOperator" not in tampering(files, [owner])
    group = group_of(files, [owner])
    [operator] = [p for p in group.principals if p.node.base == "role/AlertsOperator"]
    assert not operator.owner and operator.owns == expand(["alerts"])
    assert group.owners_of("alert-topic")[-1] == "role/security/AlertsOperator"
    assert "role/security/AlertsOperator" not in group.owners_of("trail")
    # By name, path and name, or a pattern: the same principal.
    for principal in ("AlertsOperator", "role/AlertsOperator", "security/Alerts*", "role/security/AlertsOperator"):
        assert "alert-topic" not in tampering(files, [Owner(principal, ("alert-topic",))]).get(
            "role/AlertsOperator", []), principal
    # An owner of everything is an owner: nothing of it is tampering.
    assert "role/AlertsOperator" not in tampering(files, ["role/security/AlertsOperator"])


def test_an_owner_of_other_controls_still_gets_the_finding() -> None:
    files = operator_tree()
    for controls in (("trail",), ("alert-rules", "alert-subscription", "alert-key"), ("log-archive",)):
        assert "alert-topic" in tampering(files, [Owner("AlertsOperator", controls)])["role/AlertsOperator"], controls


def test_a_non_owner_reaching_the_owner_through_an_undeclared_hop_is_still_a_finding() -> None:
    """role/intruder may rewrite the operator's trust: it gains the operator's alert topic, which it does not own."""
    intruder = {"policies": [doc(allow("iam:UpdateAssumeRolePolicy", f"{ROLE}/security/AlertsOperator"))]}
    files = operator_tree(intruder=intruder)
    owner = Owner("security/AlertsOperator", ("alerts", "guardrail-roles"))
    result = tampering(files, [owner])
    assert "role/AlertsOperator" not in result
    # It changes the owner's role (a guardrail role now) directly, and the owner's alert topic through it.
    assert result["role/intruder"] == ["alert-topic", "guardrail-roles"]
    [group] = analyze(files, owners=[owner]).groups
    [intrusion] = [p for p in group.principals if p.node.base == "role/intruder"]
    assert any(g.what == "alert-topic" and g.via.path for g in intrusion.tamper)


def test_every_declared_owners_role_is_a_guardrail_role() -> None:
    """Changing an owner of the alerts changes who may change the alerts: role/bystander's grant is tampering."""
    bystander = {"policies": [doc(allow("iam:PutRolePolicy", f"{ROLE}/security/AlertsOperator"))]}
    files = operator_tree(bystander=bystander)
    assert "role/bystander" not in tampering(files)
    assert tampering(files, [Owner("security/AlertsOperator", ("alerts",))])["role/bystander"] == [
        "guardrail-roles"]


def test_families_expand_to_control_ids() -> None:
    ids = {c.id for c in catalog().controls}
    assert not set(FAMILIES) & ids
    assert all(set(members) <= ids for members in FAMILIES.values())
    assert set(control_names()) == ids | set(FAMILIES)
    assert expand(["alerts", "trail"]) == ("trail", "alert-rules", "alert-topic", "alert-subscription", "alert-key")


@pytest.mark.parametrize("principal, controls, expected", [
    ("AlertsOperator", ["alerts", "trail"], []),
    ("role/security/Alerts*", None, []),
    ("stacksets-exec-*", None, []),  # a deployment principal as written
    ("permission-set/SecurityAdmin", None, []),
    ("AlertOperator", None, [((0, "principal"), "GR301", "did you mean `AlertsOperator`?")]),
    ("/security/AlertsOperator", None, [((0, "principal"), "GR203", "")]),
    ("role/security//AlertsOperator", None, [((0, "principal"), "GR203", "")]),
    ("user/jane", None, [((0, "principal"), "GR203", "")]),
    ("group/admins", None, [((0, "principal"), "GR203", "")]),
    ("role/*", None, [((0, "principal"), "GR311", "")]),
    ("permission-set/SecurityAdmn", None, [((0, "principal"), "GR301", "did you mean `SecurityAdmin`?")]),
    ("AlertsOperator", ["trial", "alerts"], [((0, "controls", 0), "GR301", "did you mean `trail`?")]),
])
def test_the_check(principal: str, controls: list[str] | None, expected: list[tuple]) -> None:
    problems = check([(principal, controls)], roles=[("/security/", "AlertsOperator"), ("/", "BreakGlass")],
                     role_patterns=["stacksets-exec-*"], permission_sets=["SecurityAdmin"])
    assert [(p.path, p.code) for p in problems] == [(path, code) for path, code, _ in expected]
    for problem, (_, _, hint) in zip(problems, expected):
        assert hint in problem.hint


def test_a_principal_named_twice() -> None:
    [problem] = check([("AlertsOperator", ["alerts"]), ("role/alertsoperator", ["trail"])],
                      roles=[("/", "AlertsOperator")])
    assert (problem.path, problem.code) == ((1, "principal"), "GR302")


# ----------------------------------------------------------------------------- the blueprint


OPERATOR = """\
job_functions:
  alerts-admin:
    statements:
      - actions: ["sns:SetTopicAttributes"]
        resources: ["arn:${partition}:sns:*:${account_id}:guardrails-security-alerts"]
      - actions: ["cloudtrail:StopLogging"]
        resources: ["arn:${partition}:cloudtrail:*:${account_id}:trail/*"]
roles:
  AlertsOperator:
    path: /security/
    job_functions: [alerts-admin]
    trust: {accounts: [{account: security}]}
    deploy_to: {accounts: [management, workload]}
"""
SECURITY = """\
security:
  log_archive:
    account: security
    bucket: minimal-logs-222222222222
  access_analyzer:
    delegated_admin: security
  alerts:
    emails: [secops@minimal.example]
"""


def blueprint(tmp_path: Path, owners: str = "") -> Path:
    """tests/cases/minimal with a security section and role/security/AlertsOperator in management and workload, which
    may change the alert topic and stop the trail; ``owners``: the ``control_owners`` entries (YAML, indented)."""
    directory = tmp_path / "blueprint"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", directory)
    (directory / "operator.yaml").write_text(OPERATOR, encoding="utf-8")
    text = SECURITY + (f"  control_owners:\n{owners}" if owners else "")
    (directory / "security.yaml").write_text(text, encoding="utf-8")
    return directory


def build(directory: Path) -> tuple[Compiled | None, list[Diagnostic]]:
    """The compilation (None when it failed) and its findings, whether the build reports them as errors or
    warnings."""
    try:
        compiled = compile_blueprint(directory, today=TODAY)
    except BlueprintError as exc:
        return None, list(exc.diagnostics)
    return compiled, list(compiled.warnings)


def gr406(found: list[Diagnostic]) -> dict[str, str]:
    """Account → the GR406 message of role/AlertsOperator there."""
    out = {}
    for d in found:
        if d.code == "GR406" and d.message.startswith("role/AlertsOperator in "):
            out[d.message.split(" in ", 1)[1].split(":", 1)[0]] = d.message
    return out


def test_the_blueprints_owners_reach_the_analysis(tmp_path: Path) -> None:
    _, found = build(blueprint(tmp_path))
    findings = gr406(found)
    assert set(findings) == {"management", "workload"}
    assert "the organization trail" in findings["management"] and "the alert topic" in findings["management"]
    assert "the alert topic" in findings["workload"]
    assert all(d.location is not None and d.location.file.endswith("operator.yaml") for d in found
               if d.code == "GR406")

    alerts_only = """\
    - principal: role/security/AlertsOperator
      controls: [alerts]
      reason: The security operations team runs the alert pipeline.
"""
    _, found = build(blueprint(tmp_path, alerts_only))
    findings = gr406(found)
    # An owner of the alerts is not an owner of the trail.
    assert set(findings) == {"management"}
    assert "the organization trail" in findings["management"] and "alert topic" not in findings["management"]


def test_an_owner_of_both_builds_and_the_report_shows_it(tmp_path: Path) -> None:
    owners = """\
    - principal: security/AlertsOperator
      controls: [alerts, trail]
      reason: >-
        The security operations team runs the alert pipeline
        and pauses the trail during incident drills.
"""
    compiled, found = build(blueprint(tmp_path, owners))
    assert compiled is not None and not gr406(found)
    report = compiled.files["reports/escalation/management.md"]
    assert ("Owners of the controls: `role/BreakGlass`, `role/GuardrailsManagementDeployer`, "
            "`role/OrganizationAccountAccessRole`, `role/stacksets-exec-*`.") in report
    assert ("- `role/security/AlertsOperator` owns the organization trail (`trail`); the alert rules (`alert-rules`); "
            "the alert topic (`alert-topic`); the alert topic's subscriptions (`alert-subscription`); the alert "
            "topic's KMS key (`alert-key`) — here: role/AlertsOperator. Why: The security operations team runs the "
            "alert pipeline and pauses the trail during incident drills.") in report
    assert "| role/AlertsOperator (owner of trail, alert-rules, alert-topic, alert-subscription, alert-key) |" in report
    security = compiled.files["reports/escalation/security.md"]
    assert "— here: no principal of these accounts." in security


def test_owners_change_the_reports_only(tmp_path: Path) -> None:
    """The lockout proof, the deployment principals and every emitted policy are the same with and without owners:
    owning a control exempts from nothing."""
    plain = compile_blueprint(blueprint(tmp_path), today=TODAY, run_tests=False)
    owners = "    - principal: AlertsOperator\n      reason: The security operations team runs every control.\n"
    owned = compile_blueprint(blueprint(tmp_path, owners), today=TODAY, run_tests=False)
    assert plain.plan.org == owned.plan.org
    changed = sorted(p for p in set(plain.files) | set(owned.files) if plain.files.get(p) != owned.files.get(p))
    # The escalation reports, and the HTML report's escalation summary drawn from them.
    assert changed and all(p.startswith("reports/escalation") or p == "reports/index.html" for p in changed), changed


def test_wrong_entries_are_located_errors(tmp_path: Path) -> None:
    owners = """\
    - principal: role/security/AlertsOperator
      controls: [alerts, trial]
      reason: The security operations team runs the alert pipeline.
    - principal: role/AlertOperator
      reason: The security operations team runs the alert pipeline.
    - principal: /security/AlertsOperator
      reason: The security operations team runs the alert pipeline.
    - principal: user/bg-one
      reason: The security operations team runs the alert pipeline.
    - principal: permission-set/SecurityAdmin
      reason: The security operations team runs the alert pipeline.
    - principal: "*"
      reason: The security operations team runs the alert pipeline.
"""
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint(tmp_path, owners), today=TODAY)
    shown = [(Path(d.location.file).name, d.location.line, d.location.column, d.code, d.message, d.hint)
             for d in raised.value.diagnostics if d.location is not None]
    assert [s[:5] for s in shown] == [
        ("security.yaml", 11, 26, "GR301", "unknown control 'trial'"),
        ("security.yaml", 13, 18, "GR301", "no role of the blueprint is named 'AlertOperator'"),
        ("security.yaml", 15, 18, "GR203", "'/security/AlertsOperator' is not a role name or pattern"),
        ("security.yaml", 17, 18, "GR203", "'user/bg-one': IAM users cannot own the controls"),
        ("security.yaml", 19, 18, "GR301", "unknown permission set 'SecurityAdmin'"),
        ("security.yaml", 21, 18, "GR311", "'*' names every role: no one would be checked"),
    ]
    hints = [s[5] for s in shown]
    assert hints[0] == "did you mean `trail`?" and hints[1] == "did you mean `AlertsOperator`?"
    assert "without its leading and trailing slash" in hints[2]


@pytest.mark.parametrize("entry, message", [
    ("    - principal: AlertsOperator\n", "missing required key 'reason' in security.control_owners[0]"),
    ("    - principal: AlertsOperator\n      reason: too short\n", "at least 20 characters"),
    ("    - principal: AlertsOperator\n      controls: []\n      reason: The operators run every control here.\n",
     "security.control_owners[0].controls is an empty list"),
    ("    - principal: arn:aws:iam::333333333333:role/AlertsOperator\n      reason: The operators run every control.\n",
     "security.control_owners[0].principal"),
])
def test_the_schema_refuses(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint(tmp_path, entry), today=TODAY)
    assert any(message in d.render() for d in raised.value.diagnostics), [d.render() for d in raised.value.diagnostics]
