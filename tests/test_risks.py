"""Risk analysis of compiled policies: every rule firing and mitigated, wildcard and NotAction expansion,
same-document Denies, de-duplication across baseline classes, permission sets and resource policies, the memo,
and declared (accepted) risks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from guardrails.diagnostics import Location, Severity
from guardrails.iam import arns
from guardrails.iam.actions import iam_database
from guardrails.policies import risks as rk
from guardrails.policies.ir import (
    ACCOUNT_ID,
    Account,
    Baseline,
    BaselineClass,
    Condition,
    CustomerPolicyReference,
    Group,
    IdentityCenter,
    ManagedPolicy,
    OrgInfo,
    PermissionSet,
    Plan,
    PolicyDocument,
    PolicyRef,
    Principal,
    ResourcePolicy,
    Role,
    SsoAssignment,
    Statement,
)
from guardrails.pipeline import Compiled

ACCOUNT = "111122223333"
BOUNDARY = arns.policy_arn("aws", ACCOUNT, "/guardrails/", "Boundary")


def allow(*actions: str, resources: tuple[str, ...] = ("*",), sid: str = "S1", conditions: tuple[Condition, ...] = (),
          not_actions: tuple[str, ...] = (), not_resources: tuple[str, ...] = (), origin: str = "") -> Statement:
    return Statement(sid, "Allow", actions=actions, not_actions=not_actions,
                     resources=() if not_resources else resources, not_resources=not_resources,
                     conditions=conditions, origin=origin)


def deny(*actions: str, resources: tuple[str, ...] = ("*",), sid: str = "D1",
         conditions: tuple[Condition, ...] = ()) -> Statement:
    return Statement(sid, "Deny", actions=actions, resources=resources, conditions=conditions)


def doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(tuple(statements))


def findings(*statements: Statement, rule: str | None = None) -> list[rk.RiskFinding]:
    found = rk.analyze(doc(*statements))
    return [f for f in found if rule is None or f.rule == rule]


def one(*statements: Statement, rule: str) -> rk.RiskFinding:
    found = findings(*statements, rule=rule)
    assert len(found) == 1, found
    return found[0]


def role_arn(name: str) -> str:
    return arns.role_arn("aws", ACCOUNT, name)


def cond(operator: str, key: str, *values: str) -> Condition:
    return Condition(operator, key, values)


WITH_BOUNDARY = (cond("StringEquals", "iam:PermissionsBoundary", BOUNDARY),)


# ----------------------------------------------------------------------------- the rules file


def test_rules_load_with_unique_ids_and_every_category() -> None:
    rules = rk.risk_rules()
    assert len({r.id for r in rules}) == len(rules)
    assert {r.category for r in rules} == set(rk.CATEGORIES)
    for required in ("privilege-escalation/pass-role-unscoped", "privilege-escalation/policy-version",
                     "privilege-escalation/attach-policy", "privilege-escalation/update-assume-role-policy",
                     "privilege-escalation/credentials-for-others", "privilege-escalation/service-with-pass-role"):
        assert required in rk.known_risks()
    assert "data-exfiltration" in rk.known_risks()


def test_every_action_in_the_rules_is_in_the_pinned_database() -> None:
    db = iam_database()
    for rule in rk.risk_rules():
        patterns = [*rule.actions, *rule.except_, *(a for p in rule.with_pass_role for g in p.all_of for a in g)]
        for pattern in patterns:
            assert db.expand(pattern), f"{rule.id}: {pattern} names no action in the pinned IAM database"
        for level in rule.access_levels:
            assert level in {"List", "Read", "Write", "Tagging", "Permissions management"}


@pytest.mark.parametrize(("text", "message"), [
    ("sources: {a: x}\nrules: [{id: privilege-escalation/x, category: privilege-escalation, title: t, "
     "actions: [iam:PassRole], sources: [a], mitigated_by: {bogus: true}}]", "unknown keys"),
    ("sources: {a: x}\nrules: [{id: misc/x, category: misc, title: t, actions: [iam:PassRole], sources: [a]}]",
     "category"),
    ("sources: {a: x}\nrules: [{id: data-exfiltration/x, category: data-exfiltration, title: t, "
     "actions: [s3:GetObject], sources: [b]}]", "sources"),
    ("sources: {a: x}\nrules: [{id: data-exfiltration/x, category: data-exfiltration, title: t, sources: [a]}]",
     "either"),
])
def test_malformed_rules_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rk.load_rules(text)


# ----------------------------------------------------------------------------- privilege escalation


PASS = "privilege-escalation/pass-role-unscoped"


@pytest.mark.parametrize("resource", ["*", f"arn:aws:iam::{ACCOUNT}:role/*", "arn:aws:iam::*:role/*",
                                      f"arn:aws:iam::{ACCOUNT}:role/*admin"])
def test_pass_role_on_any_role_fires(resource: str) -> None:
    finding = one(allow("iam:PassRole", resources=(resource,)), rule=PASS)
    assert not finding.mitigated and finding.actions == ("iam:PassRole",)
    assert "iam:PassedToService" in finding.reason


@pytest.mark.parametrize("statement", [
    allow("iam:PassRole", resources=(role_arn("workload/*"),)),
    allow("iam:PassRole", resources=("arn:aws:iam::*:role/workload/app-*", role_arn("NamedRole"))),
    allow("iam:PassRole", conditions=(cond("StringEquals", "iam:PassedToService", "lambda.amazonaws.com"),)),
    allow("iam:PassRole", conditions=(cond("StringLike", "iam:PassedToService", "*.amazonaws.com"),)),
])
def test_pass_role_limited_to_a_path_or_to_services_is_mitigated(statement: Statement) -> None:
    assert one(statement, rule=PASS).mitigated


@pytest.mark.parametrize("statement", [
    allow("iam:PassRole", conditions=(cond("StringLike", "iam:PassedToService", "*"),)),
    allow("iam:PassRole", conditions=(cond("StringEqualsIfExists", "iam:PassedToService", "ec2.amazonaws.com"),)),
    allow("iam:PassRole", conditions=(cond("ForAllValues:StringEquals", "iam:PassedToService", "ec2.amazonaws.com"),)),
    allow("iam:PassRole", not_resources=(role_arn("Admin"),)),
])
def test_conditions_that_do_not_restrict_and_not_resource_are_not_mitigation(statement: Statement) -> None:
    assert not one(statement, rule=PASS).mitigated


SERVICE = "privilege-escalation/service-with-pass-role"


@pytest.mark.parametrize("actions", [
    ("lambda:CreateFunction", "lambda:InvokeFunction"),
    ("lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
    ("lambda:CreateFunction", "lambda:UpdateFunctionCode"),
    ("glue:CreateDevEndpoint",), ("glue:UpdateDevEndpoint",), ("glue:CreateJob",),
    ("cloudformation:CreateStack",), ("cloudformation:UpdateStack",),
    ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"),
    ("ec2:RunInstances",), ("datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
    ("codebuild:CreateProject", "codebuild:StartBuild"), ("ecs:RegisterTaskDefinition", "ecs:RunTask"),
    ("sagemaker:CreateNotebookInstance",),
])
def test_service_paths_with_unscoped_pass_role_fire(actions: tuple[str, ...]) -> None:
    finding = one(allow(*actions, sid="Compute"), allow("iam:PassRole", sid="Pass"), rule=SERVICE)
    assert not finding.mitigated
    assert finding.sid == "Compute" and finding.related_sids == ("Pass",)
    assert set(actions) | {"iam:PassRole"} <= set(finding.actions)


def test_service_path_with_path_scoped_pass_role_is_mitigated() -> None:
    finding = one(allow("ec2:*", sid="Compute"), allow("iam:PassRole", resources=(role_arn("workload/*"),), sid="Pass"),
                  rule=SERVICE)
    assert finding.mitigated and "role/workload/*" in finding.reason
    assert "ec2:RunInstances" in finding.actions


@pytest.mark.parametrize("statements", [
    (allow("lambda:CreateFunction"),),  # no PassRole at all
    (allow("lambda:CreateFunction", sid="C"), allow("iam:PassRole", sid="P")),  # nothing runs the function
    (allow("lambda:CreateFunction", "lambda:InvokeFunction", sid="C"), allow("iam:PassRole", sid="P"),
     deny("iam:PassRole")),  # PassRole denied in the same document
    (allow("lambda:CreateFunction", "lambda:InvokeFunction", sid="C"),  # roles may only go to EC2
     allow("iam:PassRole", sid="P", conditions=(cond("StringEquals", "iam:PassedToService", "ec2.amazonaws.com"),))),
])
def test_service_path_does_not_fire_without_a_usable_pass_role_or_the_whole_path(statements: tuple[Statement, ...]) -> None:
    assert findings(*statements, rule=SERVICE) == []


def test_passed_to_service_naming_the_same_service_still_fires() -> None:
    only_lambda = (cond("StringEquals", "iam:PassedToService", "lambda.amazonaws.com"),)
    statements = (allow("lambda:CreateFunction", "lambda:InvokeFunction", sid="C"),
                  allow("iam:PassRole", sid="P", conditions=only_lambda))
    assert one(*statements, rule=PASS).mitigated  # PassRole alone is reviewable …
    assert not one(*statements, rule=SERVICE).mitigated  # … but any role can still go to a function we run


@pytest.mark.parametrize(("rule", "action"), [
    ("privilege-escalation/policy-version", "iam:CreatePolicyVersion"),
    ("privilege-escalation/policy-version", "iam:SetDefaultPolicyVersion"),
    ("privilege-escalation/attach-policy", "iam:AttachUserPolicy"),
    ("privilege-escalation/attach-policy", "iam:AttachGroupPolicy"),
    ("privilege-escalation/attach-policy", "iam:AttachRolePolicy"),
    ("privilege-escalation/attach-policy", "iam:PutUserPolicy"),
    ("privilege-escalation/attach-policy", "iam:PutGroupPolicy"),
    ("privilege-escalation/attach-policy", "iam:PutRolePolicy"),
    ("privilege-escalation/add-user-to-group", "iam:AddUserToGroup"),
    ("privilege-escalation/update-assume-role-policy", "iam:UpdateAssumeRolePolicy"),
    ("privilege-escalation/boundary-change", "iam:PutRolePermissionsBoundary"),
    ("privilege-escalation/boundary-removal", "iam:DeleteRolePermissionsBoundary"),
    ("privilege-escalation/credentials-for-others", "iam:CreateAccessKey"),
    ("privilege-escalation/credentials-for-others", "iam:CreateLoginProfile"),
    ("privilege-escalation/credentials-for-others", "iam:UpdateLoginProfile"),
    ("privilege-escalation/existing-compute-role", "lambda:UpdateFunctionCode"),
    ("privilege-escalation/existing-compute-role", "ssm:StartSession"),
    ("credentials-exposure/credential-actions", "ecr:GetAuthorizationToken"),
    ("credentials-exposure/credential-actions", "ec2:GetPasswordData"),
    ("credentials-exposure/credential-actions", "sts:GetFederationToken"),
    ("credentials-exposure/credential-actions", "redshift:GetClusterCredentials"),
    ("credentials-exposure/credential-actions", "iam:UpdateAccessKey"),
    ("data-exfiltration/data-reads", "s3:GetObject"),
    ("data-exfiltration/data-reads", "secretsmanager:GetSecretValue"),
    ("data-exfiltration/data-reads", "ssm:GetParametersByPath"),
    ("resource-exposure/permissions-management", "s3:PutBucketPolicy"),
    ("resource-exposure/permissions-management", "kms:PutKeyPolicy"),
    ("resource-exposure/permissions-management", "sns:AddPermission"),
    ("resource-exposure/permissions-management", "lambda:AddPermission"),
    ("resource-exposure/permissions-management", "ec2:ModifyImageAttribute"),
])
def test_every_rule_fires_on_star(rule: str, action: str) -> None:
    finding = one(allow(action), rule=rule)
    assert not finding.mitigated and finding.actions == (action,) and finding.resources == ("*",)


@pytest.mark.parametrize(("rule", "statement"), [
    ("privilege-escalation/attach-policy",
     allow("iam:AttachRolePolicy", "iam:PutRolePolicy", resources=(role_arn("workload/*"),), conditions=WITH_BOUNDARY)),
    ("privilege-escalation/update-assume-role-policy", allow("iam:UpdateAssumeRolePolicy", conditions=WITH_BOUNDARY)),
    ("privilege-escalation/boundary-change", allow("iam:PutRolePermissionsBoundary", conditions=WITH_BOUNDARY)),
    ("privilege-escalation/policy-version", allow("iam:CreatePolicyVersion")),  # with the Deny below
    ("privilege-escalation/credentials-for-others",
     allow("iam:CreateAccessKey", resources=("arn:aws:iam::*:user/${aws:username}",))),
    ("privilege-escalation/existing-compute-role",
     allow("lambda:UpdateFunctionCode", resources=(f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:app-*",))),
    ("credentials-exposure/credential-actions", allow("sts:AssumeRole", resources=("arn:aws:iam::*:role/BreakGlass",))),
    ("data-exfiltration/data-reads", allow("s3:GetObject", resources=("arn:aws:s3:::example-tfstate/*",))),
    ("data-exfiltration/data-reads",
     allow("secretsmanager:GetSecretValue", resources=("arn:aws:secretsmanager:*:*:secret:app/*",))),
    ("resource-exposure/permissions-management",
     allow("kms:PutKeyPolicy", resources=(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab",))),
])
def test_every_rule_is_mitigated_by_its_conditions_or_scope(rule: str, statement: Statement) -> None:
    extra = (deny("iam:CreatePolicyVersion"),) if rule.endswith("policy-version") else ()
    finding = one(statement, *extra, rule=rule)
    assert finding.mitigated, finding.reason


@pytest.mark.parametrize(("rule", "statement"), [
    # No scope helps these: the caller's own policies, groups or boundary may be in any path.
    ("privilege-escalation/policy-version",
     allow("iam:CreatePolicyVersion", resources=(f"arn:aws:iam::{ACCOUNT}:policy/workload/*",))),
    ("privilege-escalation/add-user-to-group",
     allow("iam:AddUserToGroup", resources=(f"arn:aws:iam::{ACCOUNT}:group/admins",))),
    ("privilege-escalation/boundary-removal", allow("iam:DeleteRolePermissionsBoundary", conditions=WITH_BOUNDARY)),
    # A role path alone does not stop attaching AdministratorAccess to a role one can assume.
    ("privilege-escalation/attach-policy", allow("iam:AttachRolePolicy", resources=(role_arn("workload/*"),))),
    ("privilege-escalation/attach-policy", allow("iam:AttachRolePolicy", conditions=(
        cond("StringEqualsIfExists", "iam:PermissionsBoundary", BOUNDARY),))),
    # Another user's keys are someone else's credentials, however precisely named.
    ("privilege-escalation/credentials-for-others",
     allow("iam:CreateAccessKey", resources=(f"arn:aws:iam::{ACCOUNT}:user/bob",))),
    ("privilege-escalation/credentials-for-others", allow("iam:CreateAccessKey", resources=(
        "arn:aws:iam::*:user/*${aws:username}",))),
    # Service-wide ARNs are as wide as "*".
    ("data-exfiltration/data-reads", allow("s3:GetObject", resources=("arn:aws:s3:::*/*",))),
    ("data-exfiltration/data-reads", allow("ssm:GetParameter", resources=("arn:aws:ssm:*:*:parameter/*",))),
    ("data-exfiltration/data-reads",
     allow("secretsmanager:GetSecretValue", resources=("arn:aws:secretsmanager:*:*:secret:*",))),
    ("resource-exposure/permissions-management", allow("s3:PutBucketPolicy", resources=("arn:aws:s3:::*",))),
    ("credentials-exposure/credential-actions", allow("sts:AssumeRole", resources=("arn:aws:iam::*:role/*",))),
])
def test_scope_that_is_not_enough_stays_risky(rule: str, statement: Statement) -> None:
    assert not one(statement, rule=rule).mitigated


def test_boundary_condition_on_group_actions_is_mitigated_because_it_never_applies() -> None:
    finding = one(allow("iam:AttachGroupPolicy", conditions=WITH_BOUNDARY), rule="privilege-escalation/attach-policy")
    assert finding.mitigated and "never" in finding.reason


# ----------------------------------------------------------------------------- expansion


def test_iam_star_fires_every_iam_escalation_rule() -> None:
    fired = {f.rule for f in findings(allow("iam:*"))}
    assert {PASS, "privilege-escalation/policy-version", "privilege-escalation/attach-policy",
            "privilege-escalation/add-user-to-group", "privilege-escalation/update-assume-role-policy",
            "privilege-escalation/boundary-change", "privilege-escalation/boundary-removal",
            "privilege-escalation/credentials-for-others", "credentials-exposure/credential-actions"} <= fired
    assert "resource-exposure/permissions-management" not in fired  # IAM's own changes are escalation rules
    assert SERVICE not in fired  # IAM alone runs no code


def test_prefix_wildcards_expand_against_the_database_case_insensitively() -> None:
    finding = one(allow("IAM:put*"), rule="privilege-escalation/attach-policy")
    assert finding.actions == ("iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:PutUserPolicy")
    assert one(allow("iam:Pass?ole"), rule=PASS).actions == ("iam:PassRole",)
    assert findings(allow("iam:Get*", "iam:List*")) == []


def test_full_star_fires_every_rule() -> None:
    assert {f.rule for f in findings(allow("*"))} == {r.id for r in rk.risk_rules()}


def test_not_action_allow_grants_everything_not_listed() -> None:
    everything_but_iam = {f.rule: f for f in findings(allow(not_actions=("iam:*",)))}
    assert PASS not in everything_but_iam and "privilege-escalation/attach-policy" not in everything_but_iam
    assert "s3:GetObject" in everything_but_iam["data-exfiltration/data-reads"].actions
    but_get_object = one(allow(not_actions=("s3:GetObject", "ssm:*")), rule="data-exfiltration/data-reads")
    assert "s3:GetObject" not in but_get_object.actions and "s3:GetObjectVersion" in but_get_object.actions
    assert not any(a.startswith("ssm:") for a in but_get_object.actions)
    # NotAction + PassRole in the remainder makes the service paths real too.
    assert not one(allow(not_actions=("s3:*",)), rule=SERVICE).mitigated


def test_not_resource_allow_is_unscoped() -> None:
    finding = one(allow("s3:GetObject", not_resources=("arn:aws:s3:::secret-bucket/*",)),
                  rule="data-exfiltration/data-reads")
    assert not finding.mitigated and finding.not_resources == ("arn:aws:s3:::secret-bucket/*",)
    assert "NotResource" in finding.reason


# ----------------------------------------------------------------------------- Deny in the same document


def test_deny_of_every_matched_action_on_the_same_resources_mitigates() -> None:
    finding = one(allow("iam:*"), deny("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", sid="NoVersions"),
                  rule="privilege-escalation/policy-version")
    assert finding.mitigated and "NoVersions" in finding.reason


def test_partial_deny_leaves_the_rest_risky() -> None:
    finding = one(allow("iam:*"), deny("iam:CreatePolicyVersion"), rule="privilege-escalation/policy-version")
    assert not finding.mitigated and finding.actions == ("iam:SetDefaultPolicyVersion",)


@pytest.mark.parametrize("denial", [
    deny("iam:CreatePolicyVersion", conditions=(cond("BoolIfExists", "aws:MultiFactorAuthPresent", "false"),)),
    deny("iam:CreatePolicyVersion", resources=(f"arn:aws:iam::{ACCOUNT}:policy/guardrails/*",)),
])
def test_conditional_or_narrower_deny_does_not_mitigate(denial: Statement) -> None:
    assert not one(allow("iam:CreatePolicyVersion"), denial, rule="privilege-escalation/policy-version").mitigated


def test_deny_on_a_covering_pattern_mitigates_a_narrower_allow() -> None:
    finding = one(allow("iam:AttachRolePolicy", resources=(role_arn("workload/*"),)),
                  deny("iam:Attach*", resources=(f"arn:aws:iam::{ACCOUNT}:role/*",)),
                  rule="privilege-escalation/attach-policy")
    assert finding.mitigated


def test_only_allow_statements_grant() -> None:
    assert findings(deny("*"), deny("iam:PassRole")) == []


def test_the_workload_boundary_shape_is_self_protecting() -> None:
    boundary = doc(allow("iam:*", sid="Allow"), deny("iam:CreatePolicyVersion", "iam:DeletePolicy",
                                                      "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
                                                      "iam:DeleteRolePermissionsBoundary", sid="DenyBoundaryChanges"))
    by_rule = {f.rule: f for f in rk.analyze(boundary)}
    assert by_rule["privilege-escalation/policy-version"].mitigated
    assert by_rule["privilege-escalation/boundary-removal"].actions == ("iam:DeleteUserPermissionsBoundary",)


# ----------------------------------------------------------------------------- resources


@pytest.mark.parametrize(("resource", "wide"), [
    ("*", True), ("arn:aws:s3:::*", True), ("arn:aws:s3:::*/*", True), ("arn:aws:iam::*:role/*", True),
    (f"arn:aws:iam::{ACCOUNT}:role/*", True), ("arn:aws:iam::*:*", True), ("arn:aws:ssm:*:*:parameter/*", True),
    ("arn:aws:secretsmanager:*:${account_id}:secret:*", True), ("arn:aws:kms:${region}:${account_id}:key/*", True),
    ("arn:aws:s3:::example-*", False), ("arn:aws:s3:::bucket/*", False), ("arn:aws:s3:::*/public/*", False),
    ("arn:aws:iam::${account_id}:role/workload/*", False), ("arn:aws:iam::*:user/${aws:username}", False),
    ("arn:aws:kms:eu-west-1:111122223333:key/abcd", False),
])
def test_service_wide_resources(resource: str, wide: bool) -> None:
    assert rk.service_wide(resource) is wide


# ----------------------------------------------------------------------------- the plan


def _org() -> OrgInfo:
    return OrgInfo(name="test", partition="aws", org_id="o-test123456", root_id="r-test", existing=False,
                   home_region="eu-west-1", allowed_regions=("eu-west-1",), deployment_role="Deployer",
                   management_deployment_role="Deployer", deployment_principals=(), break_glass_role="BreakGlass",
                   break_glass_account="audit")


def _plan(*baselines: tuple[str, Baseline]) -> Plan:
    return Plan(blueprint="blueprints", org=_org(), units=(), accounts=(), scps=(),
                classes=tuple(BaselineClass(key, (key,), b) for key, b in baselines), limits={})


def _baseline(policies: tuple[ManagedPolicy, ...], roles: tuple[Role, ...] = (), groups: tuple[Group, ...] = ()) -> Baseline:
    return Baseline(managed_policies=policies, roles=roles, groups=groups, users=(), oidc_providers=(),
                    saml_providers=(), password_policy=None)


TRUST = doc(Statement("T", "Allow", actions=("sts:AssumeRole",)))
RISKY = ManagedPolicy("job_dev", "guardrails-dev", "/guardrails/", "", doc(allow("s3:*", origin="bp/identity.yaml:7:9")))


def test_same_policy_in_several_classes_is_one_finding_with_every_class_and_holder() -> None:
    admins = Group("group_admins", "admins", "/", (PolicyRef("local", "job_dev"), PolicyRef("aws", "ReadOnlyAccess")))
    devs = Group("group_devs", "devs", "/", (PolicyRef("local", "job_dev"),))
    plan = _plan(("prod", _baseline((RISKY,), groups=(admins,))), ("dev", _baseline((RISKY,), groups=(admins, devs))))
    found = [r for r in rk.analyze_plan(plan) if r.finding.rule == "data-exfiltration/data-reads"]
    assert len(found) == 1
    risk = found[0]
    assert risk.policy_key == "job_dev" and risk.policy_name == "guardrails-dev"
    assert risk.classes == ("prod", "dev") and risk.attached_to == ("group admins", "group devs")
    assert risk.location == Location("bp/identity.yaml", 7, 9)
    assert rk.aws_managed_in_use(plan) == [("ReadOnlyAccess", ("group admins",))]


def test_boundaries_break_glass_and_aws_managed_policies_are_not_analyzed_but_inline_policies_are() -> None:
    boundary = ManagedPolicy("boundary_wl", "Boundary", "/guardrails/", "", doc(allow("*")), kind="boundary")
    break_glass = Role("break_glass", "BreakGlass", "/", "", TRUST, (PolicyRef("aws", "AdministratorAccess"),),
                       inline_policies=(("extra", doc(allow("*"))),))
    app = Role("role_app", "App", "/", "", TRUST, (PolicyRef("local", "boundary_wl"),),
               inline_policies=(("reads", doc(allow("secretsmanager:GetSecretValue", sid="Read"))),))
    risks = rk.analyze_plan(_plan(("prod", _baseline((boundary,), roles=(break_glass, app)))))
    assert [(r.policy_key, r.policy_name, r.finding.rule, r.attached_to) for r in risks] == [
        ("role_app/reads", "App/reads", "data-exfiltration/data-reads", ("role App",))]
    assert rk.aws_managed_in_use(_plan(("prod", _baseline((), roles=(break_glass,))))) == []


# ----------------------------------------------------------------------------- acceptance


TODAY = date(2026, 6, 1)


def _accept(risk: str, review_by: date = date(2026, 12, 31), origin: str = "") -> rk.AcceptedRisk:
    return rk.AcceptedRisk(risk=risk, reason="operating workloads reads their data", owner="platform-team",
                           review_by=review_by, origin=origin)


@pytest.fixture()
def risks() -> list[rk.PlanRisk]:
    policy = ManagedPolicy("job_dev", "guardrails-dev", "/guardrails/", "", doc(
        allow("s3:*", sid="Build", origin="bp/identity.yaml:7:9"),
        allow("iam:PassRole", resources=(role_arn("workload/*"),), sid="Pass", origin="bp/identity.yaml:12:9")))
    return rk.analyze_plan(_plan(("prod", _baseline((policy,)))))


def _open_rules(risks: list[rk.PlanRisk]) -> set[str]:
    return {r.finding.rule for r in risks if not r.finding.mitigated}


def test_undeclared_risks_are_errors_and_mitigated_ones_need_nothing(risks: list[rk.PlanRisk]) -> None:
    assert _open_rules(risks) == {"data-exfiltration/data-reads", "resource-exposure/permissions-management"}
    errors, accepted, expired = rk.unaccepted(risks, {}, TODAY)
    assert {e.finding.rule for e in errors} == _open_rules(risks) and accepted == [] and expired == []


def test_accepted_by_exact_id_and_by_category(risks: list[rk.PlanRisk]) -> None:
    declared = {"job_dev": [_accept("data-exfiltration/data-reads"), _accept("resource-exposure")]}
    errors, accepted, expired = rk.unaccepted(risks, declared, TODAY)
    assert errors == [] and expired == []
    assert sorted((r.finding.rule, a.risk) for r, a in accepted) == [
        ("data-exfiltration/data-reads", "data-exfiltration/data-reads"),
        ("resource-exposure/permissions-management", "resource-exposure")]


def test_accepted_by_policy_name_and_other_policies_do_not_count(risks: list[rk.PlanRisk]) -> None:
    errors, accepted, _ = rk.unaccepted(risks, {"guardrails-dev": [_accept("data-exfiltration")],
                                                "job_other": [_accept("resource-exposure")]}, TODAY)
    assert [e.finding.rule for e in errors] == ["resource-exposure/permissions-management"]
    assert [r.finding.rule for r, _ in accepted] == ["data-exfiltration/data-reads"]


def test_expired_declaration_still_accepts_but_warns(risks: list[rk.PlanRisk]) -> None:
    late = _accept("data-exfiltration", review_by=date(2026, 5, 31), origin="bp/identity.yaml:20:9")
    due_today = _accept("resource-exposure", review_by=TODAY)
    errors, accepted, expired = rk.unaccepted(risks, {"job_dev": [late, due_today]}, TODAY)
    assert errors == [] and len(accepted) == 2
    assert [(r.finding.rule, a) for r, a in expired] == [("data-exfiltration/data-reads", late)]
    diagnostics = rk.risk_diagnostics(errors, expired)
    assert [(d.code, d.severity, d.location) for d in diagnostics] == [
        ("GR321", Severity.WARNING, Location("bp/identity.yaml", 20, 9))]
    assert "2026-05-31" in diagnostics[0].message and "platform-team" in diagnostics[0].message
    assert any("review overdue" in line for line in rk.summary_lines(accepted, TODAY))


def test_a_current_declaration_wins_over_an_expired_one(risks: list[rk.PlanRisk]) -> None:
    declared = {"job_dev": [_accept("data-exfiltration", review_by=date(2025, 1, 1)),
                            _accept("data-exfiltration/data-reads"), _accept("resource-exposure")]}
    _, accepted, expired = rk.unaccepted(risks, declared, TODAY)
    assert expired == [] and {a.risk for _, a in accepted} == {"data-exfiltration/data-reads", "resource-exposure"}


def test_undeclared_risk_diagnostic_points_at_the_statement_and_says_how_to_declare(risks: list[rk.PlanRisk]) -> None:
    errors, _, _ = rk.unaccepted(risks, {}, TODAY)
    diagnostics = rk.risk_diagnostics(errors, [])
    assert {d.code for d in diagnostics} == {"GR315"}
    assert all(d.severity is Severity.ERROR and d.location == Location("bp/identity.yaml", 7, 9) for d in diagnostics)
    exfil = next(d for d in diagnostics if "data-exfiltration/data-reads" in d.message)
    assert "guardrails-dev" in exfil.message and "Build" in exfil.message
    assert "accept_risks: [{risk: data-exfiltration/data-reads" in exfil.hint


def test_declarations_must_name_a_rule_or_category() -> None:
    typo = _accept("data-exfiltraton", origin="bp/identity.yaml:30:11")
    diagnostics = rk.declaration_diagnostics({"job_dev": [typo, _accept("resource-exposure"), _accept(PASS)]})
    assert [(d.code, d.location) for d in diagnostics] == [("GR203", Location("bp/identity.yaml", 30, 11))]
    assert "data-exfiltration" in diagnostics[0].hint


def test_unused_declarations_are_reported(risks: list[rk.PlanRisk]) -> None:
    stale = _accept("privilege-escalation/pass-role-unscoped")  # the PassRole is path-scoped: nothing to accept
    used = _accept("data-exfiltration")
    assert rk.unused_acceptances(risks, {"job_dev": [stale, used]}) == [("job_dev", stale)]


# ----------------------------------------------------------------------------- permission sets and resource policies


def _identity_center(*permission_sets: PermissionSet, assigned: dict[str, tuple[str, ...]]) -> IdentityCenter:
    assignments = tuple(SsoAssignment(key, "ops", "9067c2d4a1-1b2c3d4e-5f60-4182-93a4-b5c6d7e8f901", account, ACCOUNT)
                        for key, accounts in assigned.items() for account in accounts)
    return IdentityCenter("arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6", "d-93670c1a2b", "eu-west-1", "audit",
                          "Deployer", permission_sets, assignments)


def _permission_set(key: str, name: str, inline: PolicyDocument | None = None, managed: tuple[str, ...] = (),
                    customer: tuple[CustomerPolicyReference, ...] = ()) -> PermissionSet:
    return PermissionSet(key, name, "", "PT1H", None, inline, managed, customer, None,
                         origin="bp/identity-center.yaml:5:5")


def test_permission_set_inline_policies_are_analysed_with_their_assigned_accounts() -> None:
    ops = _permission_set("ps_ops", "Ops", doc(allow("s3:GetObject", sid="Read", origin="bp/identity.yaml:7:9")),
                          managed=("ReadOnlyAccess",))
    by_reference = _permission_set("ps_dev", "Dev", customer=(CustomerPolicyReference(RISKY.name, RISKY.path),))
    plan = replace(_plan(("prod", _baseline((RISKY,))), ("dev", _baseline((RISKY,)))),
                   identity_center=_identity_center(ops, by_reference,
                                                    assigned={"ps_ops": ("prod", "dev"), "ps_dev": ("dev",)}))
    found = rk.analyze_plan(plan)
    [inline] = [r for r in found if r.kind == "permission-set"]
    assert (inline.policy_key, inline.policy_name, inline.label) == ("ps_ops", "Ops", "permission set Ops")
    assert inline.attached_to == ("permission set Ops",) and inline.accounts == ("dev", "prod")
    assert inline.classes == () and inline.location == Location("bp/identity.yaml", 7, 9)
    [managed] = [r for r in found if r.policy_key == RISKY.key and r.finding.rule == "data-exfiltration/data-reads"]
    assert managed.attached_to == ("permission set Dev",), "only the class holding an assigned account counts"
    assert ("ReadOnlyAccess", ("permission set Ops",)) in rk.aws_managed_in_use(plan)
    [diagnostic] = rk.risk_diagnostics([inline], [])
    assert diagnostic.message.startswith("permission set Ops (inline policy, assigned in dev, prod), statement Read")
    assert "job function" in diagnostic.hint and "accept_risks" in diagnostic.hint
    errors, accepted, _ = rk.unaccepted([inline], {"ps_ops": [_accept("data-exfiltration")]}, TODAY)
    assert errors == [] and rk.summary_lines(accepted)[0].startswith("permission set Ops: accepts")


OWN = frozenset({ACCOUNT_ID, ACCOUNT})
OTHER = "444455556666"
IN_ORG = cond("StringEquals", "aws:PrincipalOrgID", "o-test123456")


def grant(*actions: str, principal: Principal, conditions: tuple[Condition, ...] = ()) -> Statement:
    return Statement("Grant", "Allow", actions=actions, resources=("*",), principals=(principal,),
                     conditions=conditions)


@pytest.mark.parametrize(("statement", "risky"), [
    (grant("kms:*", principal=Principal("AWS", (arns.root_arn("aws", ACCOUNT_ID),))), False),
    (grant("kms:Decrypt", principal=Principal("AWS", (arns.role_arn("aws", ACCOUNT, "App"),))), False),
    (grant("s3:GetObject", principal=Principal("*", ("*",))), True),
    (grant("s3:GetObject", principal=Principal("AWS", ("*",))), True),
    (grant("s3:GetObject", principal=Principal("*", ("*",)), conditions=(IN_ORG,)), False),
    (grant("kms:Decrypt", principal=Principal("AWS", (arns.root_arn("aws", OTHER),))), True),
    (grant("kms:Decrypt", principal=Principal("AWS", (OTHER,))), True),
    (grant("kms:Decrypt", principal=Principal("AWS", (OTHER,)), conditions=(IN_ORG,)), False),
    # A wildcard-only value names no caller; IfExists passes when the key is absent.
    (grant("kms:Decrypt", principal=Principal("AWS", (OTHER,)),
           conditions=(cond("StringLike", "aws:PrincipalOrgID", "*"),)), True),
    (grant("kms:Decrypt", principal=Principal("AWS", (OTHER,)),
           conditions=(cond("StringEqualsIfExists", "aws:PrincipalOrgID", "o-test123456"),)), True),
    # An AWS service acts for any account unless a condition names the one it acts for (confused deputy).
    (grant("kms:Decrypt", principal=Principal("Service", ("events.amazonaws.com",))), True),
    (grant("kms:Decrypt", principal=Principal("Service", ("events.amazonaws.com",)),
           conditions=(cond("StringEquals", "aws:SourceAccount", ACCOUNT_ID),)), False),
])
def test_a_resource_policy_grant_is_judged_by_whom_it_reaches(statement: Statement, risky: bool) -> None:
    found = rk.analyze_resource_policy(doc(statement), OWN)
    assert found, "every grant above concerns a rule"
    assert {not f.mitigated for f in found} == {risky}, [(f.rule, f.reason) for f in found]
    expected = tuple(sorted("*" if p.kind == "*" else f"{p.kind}:{i}" for p in statement.principals
                            for i in p.identifiers))
    assert all(f.principals == expected for f in found)


def test_resource_policies_skip_the_pass_role_combinations_and_honour_a_deny() -> None:
    everyone = Principal("*", ("*",))
    passes = rk.analyze_resource_policy(doc(grant("iam:PassRole", "lambda:CreateFunction", principal=everyone)), OWN)
    assert "privilege-escalation/service-with-pass-role" not in {f.rule for f in passes}
    denied = rk.analyze_resource_policy(doc(grant("s3:GetObject", principal=everyone), deny("s3:GetObject")), OWN)
    assert [(f.rule, f.mitigated) for f in denied] == [("data-exfiltration/data-reads", True)]


def test_resource_policies_are_in_the_plan_analysis_and_take_no_declaration() -> None:
    key_arn = arns.arn("aws", "kms", "eu-west-1", ACCOUNT, "key/*")
    policy = ResourcePolicy("log-key", "kms-key", key_arn, doc(
        grant("kms:*", principal=Principal("AWS", (arns.root_arn("aws", ACCOUNT),))),
        Statement("Public", "Allow", actions=("kms:Decrypt",), resources=("*",), principals=(Principal("*", ("*",)),))),
        ("prod",), ("eu-west-1",), "")
    plan = replace(_plan(("prod", _baseline(()))), resource_policies=(policy,),
                   accounts=(Account("prod", ACCOUNT, "prod@example.com", "Workloads", False),))
    found = [r for r in rk.analyze_plan(plan) if r.kind == "resource-policy"]
    assert found and {r.policy_key for r in found} == {"resource-policy/log-key"}
    assert all(r.finding.mitigated for r in found if r.finding.sid == "Grant"), "the account's own root"
    [public] = [r for r in found if not r.finding.mitigated]
    assert public.finding.sid == "Public" and public.finding.principals == ("*",) and public.accounts == ("prod",)
    errors, accepted, _ = rk.unaccepted(found, {"log-key": [_accept("data-exfiltration")],
                                                "resource-policy/log-key": [_accept("data-exfiltration")]}, TODAY)
    assert errors == [public] and accepted == []
    [diagnostic] = rk.risk_diagnostics(errors, [])
    assert diagnostic.message.startswith(f"resource policy log-key ({key_arn}), statement Public")
    assert "everyone" in diagnostic.message and "no accept_risks" in diagnostic.hint


def test_each_distinct_document_is_analysed_once_and_keeps_its_own_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardrails.policies import risk_findings

    calls: list[PolicyDocument] = []
    analyse = risk_findings._analyze

    def counting(document: PolicyDocument, *args: object) -> list[rk.RiskFinding]:
        calls.append(document)
        return analyse(document, *args)

    monkeypatch.setattr(risk_findings, "_analyze", counting)
    risk_findings._memoised.cache_clear()
    first = doc(allow("s3:GetObject", origin="bp/a.yaml:1:1"))
    assert rk.analyze(first) == rk.analyze(first) and len(calls) == 1
    moved = doc(allow("s3:GetObject", origin="bp/b.yaml:2:2"))  # equal document, another blueprint line
    assert [f.location for f in rk.analyze(moved)] == [Location("bp/b.yaml", 2, 2)] and len(calls) == 2
    rk.analyze(first).clear()  # a caller changing its list does not change the memo
    assert rk.analyze(first) and len(calls) == 2


# ----------------------------------------------------------------------------- the example blueprint


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> list[rk.PlanRisk]:
    return rk.analyze_plan(example_compiled.plan)


def test_example_blueprint_escalation_paths_are_all_mitigated(example: list[rk.PlanRisk]) -> None:
    """The example's job functions come from the library: PassRole on the workload path, role changes only with
    the boundary, so every privilege-escalation finding is mitigated."""
    escalation = [r for r in example if r.finding.category == "privilege-escalation"]
    assert escalation, "the example does grant PassRole and role management"
    assert all(r.finding.mitigated for r in escalation), [(r.policy_name, r.finding.sid, r.finding.rule)
                                                          for r in escalation if not r.finding.mitigated]
    mitigated = {(r.policy_name.rsplit("-", 1)[0] if r.policy_name[-1].isdigit() else r.policy_name, r.finding.sid,
                  r.finding.rule) for r in example if r.finding.mitigated}
    assert ("guardrails-workload-admin", "CreateRolesOnlyWithBoundary", "privilege-escalation/attach-policy") in mitigated


def test_example_blueprint_open_findings_are_only_the_unscopable_ecr_token(example: list[rk.PlanRisk]) -> None:
    """What stays open (and is declared by the built-ins): ecr:GetAuthorizationToken, which supports no
    resource-level scoping. No data-exfiltration or escalation finding is open."""
    open_ = [r for r in example if not r.finding.mitigated]
    assert open_
    assert {r.finding.rule for r in open_} == {"credentials-exposure/credential-actions"}
    assert {a for r in open_ for a in r.finding.actions} == {"ecr:GetAuthorizationToken"}
    lines = Path("blueprints/identity.yaml").read_text("utf-8").splitlines()
    for risk in open_:  # findings in a built-in's grants point at the blueprint line that asked for the built-in
        location = risk.location
        assert location is not None and location.file.endswith("identity.yaml")
        assert lines[location.line - 1].strip().startswith("library:")


def test_example_blueprint_resource_policies_are_analysed_and_reach_only_their_account_or_services(
        example: list[rk.PlanRisk]) -> None:
    """The security baseline's key policies grant kms:* to their own account and kms:Decrypt to services under
    aws:SourceAccount / aws:SourceOrgID: findings, all mitigated."""
    resource = [r for r in example if r.kind == "resource-policy"]
    assert {r.policy_name for r in resource} >= {"alerts-key", "log-archive-key"}
    assert all(r.finding.mitigated and r.finding.principals for r in resource), [
        (r.policy_name, r.finding.sid, r.finding.reason) for r in resource if not r.finding.mitigated]


def test_location_parse() -> None:
    assert Location.parse("blueprints/identity.yaml:22:9") == Location("blueprints/identity.yaml", 22, 9)
    assert Location.parse("C:/bp/x.yaml:3:1") == Location("C:/bp/x.yaml", 3, 1)
    assert Location.parse("deny-leaving-org") is None and Location.parse("") is None


@pytest.mark.parametrize(("resource", "safe"), [
    ("arn:aws:iam::${account_id}:user/${aws:username}", True),
    # User names are unique in an account whatever the path: still only the caller's own user.
    ("arn:aws:iam::${account_id}:user/team/${aws:username}", True),
    # A role whose name ends like a user's is not the caller's own user.
    ("arn:aws:iam::${account_id}:role/ci-user/${aws:username}", False),
    ("arn:aws:iam::${account_id}:user/*", False),
])
def test_the_build_and_the_diff_judge_self_only_grants_alike(resource: str, safe: bool) -> None:
    """One judge (issue 11): policies.risks for the build, review.risks for guardrails diff."""
    from guardrails.review.risks import _grant_mitigated

    [rule] = [r for r in rk.risk_rules() if r.mitigated_by.self_only][:1]
    statement = Statement("Own", "Allow", actions=("iam:CreateAccessKey",), resources=(resource,))
    build, _ = rk.statement_mitigation(rule.mitigated_by, statement, ["iam:CreateAccessKey"])
    assert build is safe
    assert _grant_mitigated(rule, ((resource,), False, ())) is safe
