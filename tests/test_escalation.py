"""The escalation and tamper analysis (guardrails/escalation/, docs/escalation.md).

Small hand-written policy trees (one member account, one OU, one class) pin each method of
guardrails/data/escalation_methods.yaml: the method gives exactly its hop, and a Deny — an SCP, the caller's boundary,
a condition of the trust or of the grant — takes it away. The example with the boundary issue 13's review found shows
its findings (C2, M2, H1) with their paths; the fixed example has none; the reports are deterministic.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml

from guardrails.diagnostics import Severity
from guardrails.escalation import analyze_escalation
from guardrails.escalation.analysis import analyze
from guardrails.escalation.catalog import DATA, KINDS, CatalogError, catalog, parse
from guardrails.escalation.edges import hops
from guardrails.escalation.scope import ANY_USER, Hop, Scope
from guardrails.escalation.findings import diagnostics
from guardrails.escalation.report import reports
from guardrails.escalation.view import NONE, Node, View
from guardrails.iam.actions import iam_database
from guardrails.iam.manifest import MANIFEST, Manifest
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.risk_acceptance import AcceptedRisk
from guardrails.policies.risk_rules import known_risks
from .conftest import ROOT

ALPHA = "111111111111"
ROLE = f"arn:aws:iam::{ALPHA}:role"
BOUNDARY = "arn:aws:iam::${account_id}:policy/app-boundary"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def deny(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource, **extra}


def trusting(principal: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


EVERYONE_HERE = trusting({"AWS": f"arn:aws:iam::{ALPHA}:root"})


def tree(*, roles: dict[str, dict[str, Any]], users: dict[str, list[str]] | None = None,
         groups: dict[str, list[dict[str, Any]]] | None = None, scp: list[dict[str, Any]] | None = None,
         boundaries: dict[str, dict[str, Any]] | None = None, function_role: dict[str, Any] | None = None,
         deployment_principals: list[str] | None = None) -> dict[str, str]:
    """A policy tree: account alpha in OU Apps, class app. ``roles``: name → {policies: [documents], trust,
    boundary (a key of ``boundaries``), path}; ``groups``: name → [documents]; ``users``: name → group names;
    ``scp``: statements of an SCP on the OU; ``function_role``: the role document of a custom-resource function in
    the CloudFormation baseline."""
    files: dict[str, str] = {}
    managed: dict[str, dict[str, str]] = {}

    def policy(name: str, document: dict[str, Any], kind: str = "managed") -> str:
        path = f"policies/accounts/app/{kind}/{name}.json"
        files[path] = json.dumps(document)
        arn = f"arn:aws:iam::${{account_id}}:policy/{name}"
        managed[arn] = {"name": name, "kind": kind, "file": path}
        return arn

    for name, document in (boundaries or {}).items():
        policy(name, document, "boundary")
    role_entries = []
    for name, spec in roles.items():
        trust = f"policies/accounts/app/trust/{name}.json"
        files[trust] = json.dumps(spec.get("trust", trusting({"Service": "ec2.amazonaws.com"})))
        arns = [policy(f"{name}-{i}", d) for i, d in enumerate(spec.get("policies", []))]
        bound = spec.get("boundary")
        role_entries.append({"name": name, "path": spec.get("path", "/"), "trust": trust, "policies": arns,
                             "inline_policies": [], "max_session_duration": 3600,
                             "boundary": f"arn:aws:iam::${{account_id}}:policy/{bound}" if bound else None})
    group_entries = [{"name": name, "path": "/", "policies": [policy(f"group-{name}-{i}", d)
                                                             for i, d in enumerate(documents)]}
                     for name, documents in (groups or {}).items()]
    user_entries = [{"name": name, "path": "/", "groups": member_of, "tags": {}}
                    for name, member_of in (users or {}).items()]
    scps = []
    if scp:
        files["policies/scp/apps.json"] = json.dumps(doc(*scp))
        scps.append({"name": "apps", "target": "ou:Apps", "file": "policies/scp/apps.json", "guardrails": []})
    if function_role is not None:
        files["cloudformation/baseline-app.yaml"] = yaml.safe_dump({"Resources": {
            "SettingsFunctionRole": {"Type": "AWS::IAM::Role", "Properties": {
                "Path": "/guardrails/", "AssumeRolePolicyDocument": trusting({"Service": "lambda.amazonaws.com"}),
                "Policies": [{"PolicyName": "settings", "PolicyDocument": function_role}]}},
            "SettingsFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Role": {"Fn::GetAtt": ["SettingsFunctionRole", "Arn"]}, "Runtime": "python3.13"}}}},
            sort_keys=False)
    files[MANIFEST] = json.dumps({
        "format": "guardrails-policies/1",
        "organization": {"name": "tiny", "partition": "aws", "id": "o-tiny", "root_id": "r-tiny",
                         "management_account": None, "home_region": "eu-west-1", "allowed_regions": ["eu-west-1"],
                         "deployment_principals": deployment_principals or []},
        "units": [{"path": "Apps", "parent": ""}],
        "accounts": [{"name": "alpha", "id": ALPHA, "unit": "Apps", "management": False, "class": "app"}],
        "service_control_policies": scps, "resource_control_policies": [],
        "classes": {"app": {"accounts": ["alpha"], "roles": role_entries, "groups": group_entries,
                            "users": user_entries, "managed_policies": managed}},
    })
    return files


def hops_of(files: dict[str, str], principal: str = "role/attacker") -> list[Hop]:
    view = View(files)
    return hops(Scope(view, view.org.account("alpha")), Node(principal))


def found(files: dict[str, str], principal: str = "role/attacker") -> set[tuple[str, str]]:
    """(method, target) of every hop out of the principal; targets changed by an escalation are marked."""
    out = set()
    for hop in hops_of(files, principal):
        target = hop.target.base + (" +admin" if hop.target.admin else "") + (
            " -boundary" if hop.target.boundary == NONE else "")
        out.add((hop.method, target))
    return out


# ----------------------------------------------------------------------------- the data


def test_the_methods_load_and_every_action_exists() -> None:
    data = catalog()
    db = iam_database()
    assert {m.kind for m in data.methods} == set(KINDS)
    for method in data.methods:
        for action in method.actions:
            assert db.action(action) is not None, (method.id, action)
        assert method.declared or method.risk in known_risks(), method.id
        assert method.sources and all(s in data.sources for s in method.sources)
    for item in (*data.reach, *data.controls):
        for action in getattr(item, "actions", (getattr(item, "action", None),)):
            assert db.action(action) is not None, (item.id, action)
    assert {"lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "glue.amazonaws.com",
            "cloudformation.amazonaws.com", "codebuild.amazonaws.com", "sagemaker.amazonaws.com",
            "states.amazonaws.com", "datapipeline.amazonaws.com"} <= set(data.services)


@pytest.mark.parametrize("change, message", [
    ({"kind": "teleport"}, "kind 'teleport'"),
    ({"all_of": ["iam:PassRole", "lambda:MakeItSo"]}, "lambda:MakeItSo is not in the pinned IAM action database"),
    ({"sources": ["nowhere"]}, "sources must name keys"),
    ({"risk": ""}, "names the risk rule"),
])
def test_a_malformed_method_is_refused(change: dict[str, Any], message: str) -> None:
    raw = yaml.safe_load(resources.files("guardrails.data").joinpath(DATA).read_text(encoding="utf-8"))
    method = next(m for m in raw["methods"] if m["id"] == "pass-role-lambda")
    method.update(change)
    with pytest.raises(CatalogError, match=message):
        parse(raw)


# ----------------------------------------------------------------------------- roles


def test_assume_role_follows_the_trust_and_the_callers_policies() -> None:
    named = {"attacker": {}, "target": {"trust": trusting({"AWS": f"{ROLE}/attacker"})}}
    assert ("assume-role", "role/target") in found(tree(roles=named))
    # A trust naming the account leaves it to the caller's own policies.
    account = {"attacker": {}, "target": {"trust": EVERYONE_HERE}}
    assert ("assume-role", "role/target") not in found(tree(roles=account))
    account["attacker"] = {"policies": [doc(allow("sts:AssumeRole", f"{ROLE}/target"))]}
    assert ("assume-role", "role/target") in found(tree(roles=account))
    # A Deny in an SCP, or a trust condition the caller cannot meet (a role session has no MFA), removes it.
    assert ("assume-role", "role/target") not in found(tree(roles=account, scp=[deny("sts:AssumeRole")]))
    with_mfa = {"attacker": {}, "target": {"trust": trusting(
        {"AWS": f"{ROLE}/attacker"}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})}}
    assert ("assume-role", "role/target") not in found(tree(roles=with_mfa))


def test_rewriting_a_trust_gives_the_role() -> None:
    roles = {"attacker": {"policies": [doc(allow("iam:UpdateAssumeRolePolicy", f"{ROLE}/target"))]},
             "target": {}}
    assert found(tree(roles=roles)) == {("update-assume-role-policy", "role/target")}
    assert not found(tree(roles=roles, scp=[deny("iam:UpdateAssumeRolePolicy")]))
    # Its caller still has to assume the role: an SCP denying that closes the path too.
    assert not found(tree(roles=roles, scp=[deny("sts:AssumeRole", f"{ROLE}/target")]))


@pytest.mark.parametrize("method", [m for m in catalog().of_kind("pass-role-to-compute")], ids=lambda m: m.id)
def test_each_pass_role_method_gives_the_role_its_service_may_assume(method: Any) -> None:
    actions = [*method.all_of, *method.any_of[:1]]
    roles = {"attacker": {"policies": [doc(allow(actions))]},
             "target": {"trust": trusting({"Service": method.service})}}
    assert (method.id, "role/target") in found(tree(roles=roles))
    # The role must trust that service.
    other = {**roles, "target": {"trust": trusting({"Service": "example.amazonaws.com"})}}
    assert (method.id, "role/target") not in found(tree(roles=other))
    # iam:PassedToService limits the pass to other services; an SCP denies it; the boundary lacks the service.
    scoped = {**roles, "attacker": {"policies": [doc(
        allow([a for a in actions if a != "iam:PassRole"]),
        allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "example.amazonaws.com"}}))]}}
    assert (method.id, "role/target") not in found(tree(roles=scoped))
    assert (method.id, "role/target") not in found(tree(roles=roles, scp=[deny("iam:PassRole")]))
    bounded = {**roles, "attacker": {**roles["attacker"], "boundary": "app-boundary"}}
    assert (method.id, "role/target") not in found(tree(roles=bounded, boundaries={
        "app-boundary": doc(allow("iam:PassRole"))}))


# ----------------------------------------------------------------------------- policies and boundaries


def test_attaching_a_policy_to_itself_makes_it_administrator_within_its_boundary() -> None:
    roles = {"attacker": {"policies": [doc(allow("iam:AttachRolePolicy", f"{ROLE}/attacker"))]}}
    assert found(tree(roles=roles)) == {("attach-role-policy", "role/attacker +admin")}
    # Only with a boundary condition it cannot meet (the key is the boundary it carries: none).
    conditioned = {"attacker": {"policies": [doc(allow("iam:AttachRolePolicy", f"{ROLE}/attacker", Condition={
        "StringEquals": {"iam:PermissionsBoundary": BOUNDARY.replace("${account_id}", ALPHA)}}))]}}
    assert not found(tree(roles=conditioned))
    bounded = {"attacker": {**roles["attacker"], "boundary": "app-boundary"}}
    assert not found(tree(roles=bounded, boundaries={"app-boundary": doc(allow("s3:*"))}))


def test_attaching_to_another_role_needs_that_role_too() -> None:
    roles = {"attacker": {"policies": [doc(allow("iam:PutRolePolicy", f"{ROLE}/target"))]}, "target": {}}
    files = tree(roles=roles)
    [hop] = hops_of(files)
    assert (hop.method, hop.target.base, hop.target.admin, hop.requires) == (
        "attach-role-policy", "role/target", True, "role/target")
    attacker = next(p for p in analyze(files).groups[0].principals if p.node.base == "role/attacker")
    assert not attacker.becomes  # it cannot act as role/target, so changing the role gives it nothing
    # Once it can assume the role as well, it becomes the role with any policy attached.
    roles["target"] = {"trust": trusting({"AWS": f"{ROLE}/attacker"})}
    attacker = next(p for p in analyze(tree(roles=roles)).groups[0].principals if p.node.base == "role/attacker")
    assert {("role/target", False), ("role/target", True)} <= {(r.node.base, r.node.admin) for r in attacker.becomes}


def test_user_and_group_policies() -> None:
    groups = {"team": [doc(allow(["iam:AttachUserPolicy", "iam:PutGroupPolicy"], [
        f"arn:aws:iam::{ALPHA}:user/alice", f"arn:aws:iam::{ALPHA}:group/team"]))]}
    files = tree(roles={}, users={"alice": ["team"]}, groups=groups)
    assert found(files, "user/alice") == {("attach-user-policy", "user/alice +admin"),
                                          ("attach-group-policy", "group/team +admin")}
    # A member of the group (group/team) can change the group, not alice.
    assert found(files, "group/team") == {("attach-group-policy", "group/team +admin"),
                                          ("attach-user-policy", "user/alice +admin")}
    assert not found(tree(roles={}, users={"alice": ["team"]}, groups=groups,
                          scp=[deny(["iam:AttachUserPolicy", "iam:PutGroupPolicy"])]), "user/alice")


def test_a_new_version_of_its_own_policy() -> None:
    own = f"arn:aws:iam::{ALPHA}:policy/attacker-0"
    roles = {"attacker": {"policies": [doc(allow("iam:CreatePolicyVersion", own))]}}
    assert found(tree(roles=roles)) == {("create-policy-version", "role/attacker +admin")}
    assert not found(tree(roles=roles, scp=[deny("iam:CreatePolicyVersion", own)]))


# iam:PermissionsBoundary names the boundary a role carries when it is removed, the new one when it is replaced
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html).
@pytest.mark.parametrize("action, method, condition", [
    ("iam:DeleteRolePermissionsBoundary", "delete-role-boundary",
     {"ArnLike": {"iam:PermissionsBoundary": "arn:aws:iam::*:policy/app-boundary"}}),
    ("iam:PutRolePermissionsBoundary", "replace-role-boundary",
     {"ArnNotLike": {"iam:PermissionsBoundary": "arn:aws:iam::*:policy/app-boundary"}})])
def test_removing_or_replacing_its_boundary(action: str, method: str, condition: dict[str, Any]) -> None:
    roles = {"attacker": {"policies": [doc(allow(action, f"{ROLE}/attacker"))], "boundary": "app-boundary"}}
    loose = {"app-boundary": doc(allow(["iam:*", "sts:*"]))}
    assert found(tree(roles=roles, boundaries=loose)) == {(method, "role/attacker -boundary")}
    assert not found(tree(roles=roles, boundaries={"app-boundary": doc(allow("s3:*"))}))
    assert not found(tree(roles=roles, boundaries=loose, scp=[deny(action, Condition=condition)]))


def test_rewriting_the_boundary_policy_unbounds_every_role_it_bounds() -> None:
    roles = {"attacker": {"policies": [doc(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ALPHA}:policy/*"))],
                          "boundary": "app-boundary"}}
    loose = {"app-boundary": doc(allow(["iam:*", "sts:*"]))}
    assert found(tree(roles=roles, boundaries=loose)) == {("rewrite-boundary-policy", "role/attacker -boundary"),
                                                         ("create-policy-version", "role/attacker +admin")}
    scp = [deny("iam:CreatePolicyVersion", "arn:aws:iam::*:policy/app-boundary")]
    assert ("rewrite-boundary-policy", "role/attacker -boundary") not in found(
        tree(roles=roles, boundaries=loose, scp=scp))


# ----------------------------------------------------------------------------- users, groups, code, new roles


@pytest.mark.parametrize("action, method", [("iam:CreateAccessKey", "create-access-key"),
                                            ("iam:CreateLoginProfile", "login-profile"),
                                            ("iam:UpdateLoginProfile", "login-profile")])
def test_credentials_for_another_user(action: str, method: str) -> None:
    roles = {"attacker": {"policies": [doc(allow(action, f"arn:aws:iam::{ALPHA}:user/victim"))]}}
    assert found(tree(roles=roles, users={"victim": []})) == {(method, "user/victim")}
    assert not found(tree(roles=roles, users={"victim": []}, scp=[deny(action)]))


def test_joining_a_group_needs_a_user() -> None:
    grant = doc(allow("iam:AddUserToGroup", f"arn:aws:iam::{ALPHA}:group/admins"))
    files = tree(roles={"attacker": {"policies": [grant]}}, users={"alice": []}, groups={"admins": [], "self": [grant]})
    [hop] = hops_of(files)
    assert (hop.method, hop.target.base, hop.requires) == ("add-user-to-group", "group/admins", ANY_USER)
    # A member of a group is a user: it adds itself.
    assert {(h.method, h.target.base, h.requires) for h in hops_of(files, "group/self")} == {
        ("add-user-to-group", "group/admins", "")}
    assert not hops_of(tree(roles={"attacker": {"policies": [grant]}}, groups={"admins": []},
                            scp=[deny("iam:AddUserToGroup")]))


def test_changing_a_functions_code_runs_as_its_role() -> None:
    roles = {"attacker": {"policies": [doc(allow("lambda:UpdateFunctionCode",
                                                 f"arn:aws:lambda:*:{ALPHA}:function:*"))]}}
    files = tree(roles=roles, function_role=doc(allow("iam:UpdateAccountPasswordPolicy")))
    function_role = "role/StackSet-guardrails-baseline-SettingsFunctionRole-GUARDRAILS0"
    assert found(files) == {("update-function-code", function_role)}
    denied = tree(roles=roles, function_role=doc(allow("iam:UpdateAccountPasswordPolicy")),
                  scp=[deny("lambda:UpdateFunctionCode", "arn:aws:lambda:*:*:function:*SettingsFunction*")])
    assert not found(denied)


def test_creating_a_role_under_a_required_boundary_reaches_that_boundary() -> None:
    condition = {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY.replace("${account_id}", ALPHA)}}
    grants = doc(allow(["iam:CreateRole", "iam:AttachRolePolicy"], f"{ROLE}/app/*", Condition=condition))
    roles = {"attacker": {"policies": [grants]}}
    boundary = {"app-boundary": doc(allow(["s3:*", "sts:AssumeRole"]))}
    [hop] = hops_of(tree(roles=roles, boundaries=boundary))
    assert (hop.method, hop.target.synthetic, hop.target.admin, hop.target.boundary) == (
        "create-role", "new-role", True, BOUNDARY)
    assert "role/app/guardrails-escalation-probe-2" in hop.detail and "assumes it" in hop.detail
    # Without the condition, the new role is unbounded; an SCP denying CreateRole closes both.
    free = {"attacker": {"policies": [doc(allow(["iam:CreateRole", "iam:PutRolePolicy"], f"{ROLE}/*"))]}}
    [unbounded] = [h for h in hops_of(tree(roles=free, boundaries=boundary)) if h.method == "create-role"]
    assert unbounded.target.boundary == NONE
    assert not [h for h in hops_of(tree(roles=free, boundaries=boundary, scp=[deny("iam:CreateRole")]))
                if h.method == "create-role"]


# ----------------------------------------------------------------------------- ceilings


def _escalating() -> dict[str, str]:
    """role/attacker may read one bucket; it creates a role under /new/ without a boundary, which reads
    everything; role/Deployer owns the controls; role/bystander may change it."""
    roles = {"attacker": {"policies": [doc(allow(["iam:CreateRole", "iam:AttachRolePolicy"], f"{ROLE}/new/*"),
                                           allow("s3:GetObject", "arn:aws:s3:::mine/*"))]},
             "Deployer": {"policies": [doc(allow("*"))], "boundary": "app-boundary"},
             "bystander": {"policies": [doc(allow("iam:PutRolePolicy", f"{ROLE}/Deployer"))]}}
    return tree(roles=roles, boundaries={"app-boundary": doc(allow(["iam:*", "s3:*"]))},
                deployment_principals=["Deployer"])


def test_an_escalation_beyond_the_principals_own_policies_is_a_finding_with_its_path() -> None:
    files = _escalating()
    analysis = analyze(files)
    [group] = analysis.groups
    attacker = next(p for p in group.principals if p.node.base == "role/attacker")
    assert not attacker.reach
    assert {g.what for g in attacker.gained} >= {"s3-objects", "secrets", "kms-decrypt", "iam-any-role"}
    found_ = diagnostics(analysis, None, Manifest.from_files(files), date(2026, 12, 1))
    [finding] = [d for d in found_ if d.code == "GR405" and "role/attacker" in d.message]
    assert ("role/attacker → create-role (iam:CreateRole + iam:AttachRolePolicy + sts:AssumeRole) → a new role "
            "/new/* (no boundary, any policy)") in finding.message
    assert "read objects in any S3 bucket" in finding.message
    assert finding.severity is Severity.ERROR  # an escalation fails the build, like a lockout
    assert "accept_risks: [{risk: privilege-escalation/attach-policy" in finding.hint


def test_only_the_owners_may_change_the_controls() -> None:
    files = _escalating()
    [group] = analyze(files).groups
    by_name = {p.node.base: p for p in group.principals}
    assert by_name["role/Deployer"].owner and not by_name["role/Deployer"].tamper
    bystander = by_name["role/bystander"]
    assert [(g.what, g.request) for g in bystander.tamper] == [
        ("guardrail-roles", f"iam:PutRolePolicy on {ROLE}/Deployer")]
    grant = {"policies": [doc(allow("iam:PutRolePolicy", f"{ROLE}/Deployer"))]}
    denied = tree(roles={"Deployer": {}, "bystander": grant},
                  deployment_principals=["Deployer"], scp=[deny("iam:PutRolePolicy", "arn:aws:iam::*:role/Deployer")])
    [group] = analyze(denied).groups
    assert not next(p for p in group.principals if p.node.base == "role/bystander").tamper


def test_accept_risks_on_the_principals_policy_covers_its_escalation() -> None:
    files = _escalating()
    declaration = AcceptedRisk("privilege-escalation", "The pipeline creates roles by design.", "platform-team",
                               date(2027, 1, 31))
    analysis = analyze(files, declared={"attacker-0": [declaration]})
    attacker = next(p for p in analysis.groups[0].principals if p.node.base == "role/attacker")
    assert not attacker.gained and {g.what for g, _ in attacker.accepted} >= {"s3-objects"}
    manifest = Manifest.from_files(files)
    def escalations(today: date) -> list[Any]:
        return [d for d in diagnostics(analysis, None, manifest, today) if d.code != "GR406"
                and d.message.startswith("role/attacker")]

    assert not escalations(date(2027, 1, 31))  # accept_risks does not cover tampering: owners do
    [overdue] = escalations(date(2027, 2, 1))
    assert overdue.code == "GR321" and "platform-team" in overdue.message


# ----------------------------------------------------------------------------- the example (issue 13)


# GuardrailsWorkloadBoundary as the review of issue 13 found it: every data action on "*" (C2) and lambda:* on "*"
# (M2). The example now scopes the boundary to the workload's names; this variant shows the analysis finds both.
_REVIEWED_BOUNDARY = """  workload-boundary:
    name: GuardrailsWorkloadBoundary
    statements:
      - sid: AllowWorkloadServices
        effect: Allow
        actions: ["s3:*", "dynamodb:*", "lambda:*", "logs:*", "cloudwatch:*", "sqs:*", "sns:*", "states:*",
                  "events:*", "ecr:*", "xray:PutTraceSegments", "xray:PutTelemetryRecords", "kms:Decrypt",
                  "kms:Encrypt", "kms:GenerateDataKey", "ssm:GetParameter", "ssm:GetParameters",
                  "secretsmanager:GetSecretValue", "ec2:Describe*"]
        resources: ["*"]
"""


@pytest.fixture(scope="module")
def reviewed_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The GR405/GR406 findings of the example with the boundary the review found (compiled without the proofs, which
    would stop at the first error; the findings are the analysis's own diagnostics)."""
    copy = tmp_path_factory.mktemp("reviewed") / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    identity = (copy / "identity.yaml").read_text()
    start, end = identity.index("  workload-boundary:\n"), identity.index("  ci-boundary:\n")
    (copy / "identity.yaml").write_text(identity[:start] + _REVIEWED_BOUNDARY + identity[end:])
    compiled = compile_blueprint(copy, today=date(2026, 12, 1), run_tests=False)
    return [d for d in analyze_escalation(compiled, today=date(2026, 12, 1)).diagnostics
            if d.code in ("GR405", "GR406")]


def test_c2_the_ci_deployer_reaches_all_data_through_a_new_workload_role(reviewed_findings: list[Any]) -> None:
    [c2] = [d for d in reviewed_findings if d.code == "GR405" and d.message.startswith("role/GuardrailsCIDeployer")
            and "read objects in any S3 bucket" in d.message]
    assert "app-prod" in c2.message and "read any secret" in c2.message and "decrypt with any KMS key" in c2.message
    # The shortest path the analysis reports: any policy on a workload role under the boundary, a new one or
    # AppInstance (both only bounded by GuardrailsWorkloadBoundary).
    assert ("role/GuardrailsCIDeployer → create-role (iam:CreateRole + iam:AttachRolePolicy + sts:AssumeRole) → a "
            "new role /workload/* (boundary GuardrailsWorkloadBoundary, any policy)") in c2.message or (
            "role/GuardrailsCIDeployer → attach-role-policy (iam:AttachRolePolicy) → role/AppInstance with any policy "
            "attached") in c2.message
    assert c2.severity is Severity.ERROR
    assert c2.location is not None and c2.location.file.endswith("identity.yaml")


def test_m2_a_bounded_role_rewrites_the_password_policy_function(reviewed_findings: list[Any]) -> None:
    [m2] = [d for d in reviewed_findings if d.code == "GR405" and d.message.startswith("role/GuardrailsCIDeployer")
            and "change the account password policy" in d.message]
    assert ("→ update-function-code (lambda:UpdateFunctionCode) → role/StackSet-guardrails-baseline-"
            "PasswordPolicyFunctionRole") in m2.message
    assert "(boundary GuardrailsWorkloadBoundary, any policy)" in m2.message or "role/AppInstance" in m2.message
    [tamper] = [d for d in reviewed_findings if d.code == "GR406" and d.message.startswith("role/GuardrailsCIDeployer")]
    assert "custom-resource functions" in tamper.message


def test_the_fixed_example_has_no_escalation_and_no_tampering(example_compiled: Compiled) -> None:
    """C2 and M2 fixed: the boundary limits what any role the CI deployer or a workload admin creates to the
    workload's names, so nobody but the owners reaches other data or the custom-resource functions."""
    again = analyze_escalation(example_compiled, today=date(2026, 12, 1))
    assert [d for d in again.diagnostics if d.code in ("GR405", "GR406")] == []
    for group in again.analysis.groups:
        for result in group.principals:
            assert result.owner or not result.gained, (group.label, result.label, result.gained)


def test_h1_whoever_may_unsubscribe_from_the_alerts_is_found(example_compiled: Compiled) -> None:
    """H1 (workload-developer's sns:Unsubscribe on "*"): every principal that is not an owner and whom the evaluator
    allows to unsubscribe from the alert topic is a GR406 finding — on the example as it is, and on the grant H1 names
    (the group below)."""
    view = View(example_compiled.files)
    for group in analyze(example_compiled.files, example_compiled.plan).groups:
        account = view.org.account(group.accounts[0])
        for result in group.principals:
            allowed = view.evaluate(result.node, account, "sns:Unsubscribe", "*").allowed
            assert allowed == any(g.request == "sns:Unsubscribe on *" and not g.via.path for g in result.tamper) \
                or result.owner, result.label
    findings = analyze_escalation(example_compiled, today=date(2026, 12, 1)).diagnostics
    shown = {d.message.split(" in ", 1)[0] for d in findings
             if d.code == "GR406" and "sns:Unsubscribe on *" in d.message}
    expected = {r.label for g in analyze(example_compiled.files, example_compiled.plan).groups for r in g.principals
                if any(t.request == "sns:Unsubscribe on *" and not t.via.path for t in r.tamper)}
    assert shown == expected
    developer = [doc(allow(["sns:Unsubscribe", "sns:SetSubscriptionAttributes"]))]
    files = tree(roles={}, groups={"developers": developer})
    # The example's plan stands in for the small tree's: its security baseline names the alert topic.
    [group] = analyze(files, example_compiled.plan).groups
    [result] = group.principals
    assert [g.request for g in result.tamper] == ["sns:Unsubscribe on *", "sns:SetSubscriptionAttributes on *"]


def test_the_report_is_deterministic_and_in_the_output(example_compiled: Compiled) -> None:
    again = analyze_escalation(example_compiled, today=date(2026, 12, 1))
    assert {p: t for p, t in example_compiled.files.items() if p.startswith("reports/escalation")} == again.reports
    assert reports(analyze(example_compiled.files, example_compiled.plan), "blueprints") == again.reports
    index = again.reports["reports/escalation.md"]
    assert "[workloads-prod](escalation/workloads-prod.md)" in index
    prod = again.reports["reports/escalation/workloads-prod.md"]
    assert "### Who can become whom" in prod and "400000000001" not in prod  # ids written ${account_id}
    assert "role/GuardrailsCIDeployer" in prod and "`s3-objects`" in prod
