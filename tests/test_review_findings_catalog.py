"""Issue 13's findings on the catalog, the built-in job functions and the MFA policy, each proved on the compiled
example through the evaluator (every test here failed before its fix):

- C1: a break-glass user whose password expired can set a new one at sign-in, without MFA, but only their own;
- H1: developers cannot silence the security alerts by unsubscribing (the job function no longer grants it, and
  an SCP denies it to everyone but break-glass and the deployment);
- H2: no principal-ARN exemption can be spoofed through `:` or a role path, and every path an exemption still
  matches is reserved for the deployment;
- M3: confused-deputy protection and trusted OIDC tenants as RCPs;
- M4: IMDSv2 role credentials and the hop limit;
- M6: the further ways to silence Config, Access Analyzer, GuardDuty, Security Hub and the alert keys;
- M7: the decision on Identity Center sessions;
- low: the break-glass users and group, and the managed policies of SCP-exempt roles.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from guardrails.evaluation.attachments import FULL_AWS_ACCESS
from guardrails.evaluation.conditions import evaluate_clause
from guardrails.evaluation.engine import Caller, Decision, Policy, PolicySet, Request, evaluate, matching_statements
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.iam.actions import iam_database
from guardrails.model import catalog as cat
from guardrails.blueprint.loader import load_blueprint
from guardrails.model.build import build_model
from guardrails.pipeline import Compiled, compile_blueprint, prove_lockout_safety, run_access_tests
from guardrails.policies.baselines import mfa_policy_document

from .conftest import ROOT

AUDIT, LOG_ARCHIVE, APP_PROD, APP_DEV = "200000000002", "200000000001", "400000000001", "400000000003"
NO_MFA = {"aws:MultiFactorAuthPresent": ["false"]}
WITH_MFA = {"aws:MultiFactorAuthPresent": ["true"], "aws:MultiFactorAuthAge": ["60"]}
CATALOG = cat.load_catalog()


@pytest.fixture(scope="module")
def compiled() -> Compiled:
    """The example as committed (access tests and lockout proof are test_lockout's and the build's business)."""
    return compile_blueprint(ROOT / "blueprints", run_tests=False)


@pytest.fixture(scope="module")
def org(compiled: Compiled) -> Organization:
    return compiled.organization


def deciders(decision: Decision) -> set[str]:
    return {m.sid for m in decision.deciding}


def as_admin(org: Organization, account: str, account_id: str, action: str, resource: str,
             context: dict[str, list[str]] | None = None) -> Decision:
    """An administrator with AdministratorAccess who is neither break-glass nor a deployment principal: the
    break-glass role's policies, evaluated under another role's aws:PrincipalArn (the key the exemptions test)."""
    admin = f"arn:aws:iam::{account_id}:role/workload/app-admin"
    return org.evaluate("role/BreakGlass", account, action, resource, {"aws:PrincipalArn": [admin], **(context or {})})


def _denied_by(decision: Decision, sid: str) -> bool:
    return decision.outcome == "explicit-deny" and sid in deciders(decision)


# ----------------------------------------------------------------------------- C1: expired passwords


def test_c1_break_glass_users_change_their_own_expired_password_without_mfa(org: Organization) -> None:
    alice = f"arn:aws:iam::{AUDIT}:user/break-glass-alice"
    change = org.evaluate("user/break-glass-alice", "audit", "iam:ChangePassword", alice, NO_MFA)
    assert change.allowed, change.summary
    rules = org.evaluate("user/break-glass-alice", "audit", "iam:GetAccountPasswordPolicy", "*", NO_MFA)
    assert rules.allowed, rules.summary
    # Long-term access keys carry no MFA key at all: the same holds for them.
    assert org.evaluate("user/break-glass-bob", "audit", "iam:ChangePassword",
                        f"arn:aws:iam::{AUDIT}:user/break-glass-bob").allowed


def test_c1_only_their_own_password_and_nothing_else_without_mfa(org: Organization) -> None:
    alice, bob = (f"arn:aws:iam::{AUDIT}:user/break-glass-{n}" for n in ("alice", "bob"))
    assert not org.evaluate("user/break-glass-alice", "audit", "iam:ChangePassword", bob, NO_MFA).allowed
    assert not org.evaluate("user/break-glass-alice", "audit", "iam:ChangePassword", bob, WITH_MFA).allowed
    # Resetting another user's password (UpdateLoginProfile) stays an administrator's act, denied by the SCP.
    reset = org.evaluate("user/break-glass-alice", "audit", "iam:UpdateLoginProfile", bob, WITH_MFA)
    assert _denied_by(reset, "DenyIamUserCredentials"), reset.summary
    for action in ("iam:CreateAccessKey", "iam:DeactivateMFADevice"):
        assert _denied_by(org.evaluate("user/break-glass-alice", "audit", action, alice, NO_MFA),
                          "DenyAllExceptListedIfNoMFA")
    assume = org.evaluate("user/break-glass-alice", "audit", "sts:AssumeRole",
                          f"arn:aws:iam::{APP_PROD}:role/BreakGlass", NO_MFA)
    assert not assume.allowed


def test_c1_the_mfa_policy_opens_change_password_only_when_passwords_can_expire() -> None:
    def free(**flags: bool) -> set[str]:
        document = mfa_policy_document(access_keys=False, partition="aws", **flags)
        deny = next(s for s in document.statements if s.sid == "DenyAllExceptListedIfNoMFA")
        return set(deny.not_actions)

    both = {"iam:ChangePassword", "iam:GetAccountPasswordPolicy"}
    assert not both & free(first_password_without_mfa=False)
    assert both <= free(first_password_without_mfa=False, password_expires=True)
    assert both <= free(first_password_without_mfa=True)


# ----------------------------------------------------------------------------- H1: silencing the alerts


ALERT_SUBSCRIPTION = f"arn:aws:sns:eu-west-1:{APP_DEV}:guardrails-security-alerts:0b6f8a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize("action", ["sns:Unsubscribe", "sns:SetSubscriptionAttributes"])
def test_h1_developers_cannot_silence_the_security_alerts(org: Organization, action: str) -> None:
    developer = org.evaluate("group/developers", "app-dev", action, ALERT_SUBSCRIPTION)
    assert not developer.allowed, developer.summary
    # The job function no longer grants it ...
    request, policies = org.prepare(parse_principal("group/developers"), "app-dev", action, ALERT_SUBSCRIPTION)
    granting = [m.describe() for p in policies.identity for m in matching_statements(p, request, "Allow")]
    assert granting == []
    # ... and no identity policy can (a workload role's boundary allows sns:*): the SCP denies it to all but
    # break-glass and the deployment.
    assert _denied_by(as_admin(org, "app-dev", APP_DEV, action, ALERT_SUBSCRIPTION),
                      "ProtectSecurityAlertSubscriptions")
    assert org.evaluate("role/BreakGlass", "app-dev", action, ALERT_SUBSCRIPTION).allowed


def test_h1_a_pipeline_that_manages_subscriptions_is_named_part_by_part() -> None:
    guardrail = CATALOG["protect-security-services"]
    values = cat.resolve_parameters(guardrail, {"subscription_managers": ["arn:aws:iam::*:role/ci/WorkloadDeployer"]},
                                    {})
    [statement] = [s for s in cat.policy_json(guardrail, values)["Statement"]
                   if s["Sid"] == "ProtectSecurityAlertSubscriptions"]
    assert statement["Condition"] == {
        "ArnNotLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci/WorkloadDeployer"}}


def test_h1_nothing_in_the_service_reference_scopes_these_actions() -> None:
    """Why the Deny is organization-wide: no resource type and no condition key to limit it to the alert topic."""
    sns = iam_database().service("sns")
    for name in ("unsubscribe", "setsubscriptionattributes"):
        action = sns.actions[name]
        assert action.resource_types == () and action.condition_keys == ()
    assert "organization-wide" in CATALOG["protect-security-services"].rationale


# ----------------------------------------------------------------------------- H2: spoofable exemptions


def _principal_exemptions(org: Organization) -> list[tuple[str, str, str, str]]:
    """(policy, Sid, operator, pattern) of every negated aws:PrincipalArn condition of every compiled SCP."""
    found = []
    for entry in org.manifest.org_policies("scp"):
        for statement in json.loads(org.files[entry.file])["Statement"]:
            for operator, block in (statement.get("Condition") or {}).items():
                for key, values in block.items():
                    if key.lower() == "aws:principalarn" and "Not" in operator:
                        for value in [values] if isinstance(values, str) else values:
                            found.append((entry.name, statement["Sid"], operator, value))
    return found


def _exempt(operator: str, pattern: str, principal_arn: str) -> bool:
    """Does this negated condition exempt the principal (is the clause false for it)?"""
    return not evaluate_clause(operator, "aws:PrincipalArn", [pattern],
                               {"aws:principalarn": (principal_arn,)}).matched


def _filled(resource: str, first: str = "x") -> str:
    return resource.replace("*", first, 1).replace("*", "x").replace("?", "x")


def test_h2_every_principal_exemption_compares_arns_part_by_part(org: Organization) -> None:
    exemptions = _principal_exemptions(org)
    sids = {sid for _, sid, _, _ in exemptions}
    assert {"DenyAllButBootstrap", "DenyPasswordPolicyChanges", "ProtectGuardrailRoles"} <= sids
    assert {operator for _, _, operator, _ in exemptions} <= {"ArnNotLike", "ArnNotLikeIfExists"}, exemptions


def test_h2_no_exemption_can_be_spoofed_with_a_colon_or_a_path(org: Organization) -> None:
    patterns = sorted({(operator, pattern) for _, _, operator, pattern in _principal_exemptions(org)})
    assert any("role/guardrails/" in p for _, p in patterns) and any("stacksets-exec-" in p for _, p in patterns)
    for operator, pattern in patterns:
        prefix, resource = pattern.rsplit(":", 1)
        assert prefix == "arn:aws:iam::*" and resource.startswith("role/"), pattern
        genuine = f"arn:aws:iam::{APP_PROD}:{_filled(resource)}"
        assert _exempt(operator, pattern, genuine), (pattern, genuine)
        # `*` in the account part must not reach into a role path that only contains the exempt ARN's tail.
        colon = f"arn:aws:iam::{APP_PROD}:role/workload/x:{_filled(resource)}"
        assert not _exempt(operator, pattern, colon), (pattern, colon)
        # A path in front of an exact name does not match it.
        pathed = f"arn:aws:iam::{APP_PROD}:role/team/{_filled(resource).removeprefix('role/')}"
        assert not _exempt(operator, pattern, pathed), (pattern, pathed)


def test_h2_every_path_an_exemption_still_matches_is_reserved_for_the_deployment(org: Organization) -> None:
    """A wildcard matches any path below its prefix (role/stacksets-exec-team/x): nobody else may create, change
    or pass such a role, so nobody else can be one."""
    patterns = sorted({pattern for _, _, _, pattern in _principal_exemptions(org)})
    checked = 0
    for pattern in patterns:
        resource = pattern.rsplit(":", 1)[1]
        if "*" not in resource:
            continue
        spoof = f"arn:aws:iam::{APP_PROD}:{_filled(resource, first='team/x')}"
        assert _exempt("ArnNotLike", pattern, spoof), (pattern, spoof)
        for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:PassRole"):
            decision = as_admin(org, "app-prod", APP_PROD, action, spoof)
            assert _denied_by(decision, "ProtectGuardrailRoles"), (action, spoof, decision.summary)
        assert org.evaluate("role/BreakGlass", "app-prod", "iam:CreateRole", spoof).allowed
        checked += 1
    assert checked >= 3  # stacksets-exec-*, guardrails/* (quarantine), guardrails/*PasswordPolicy*


def test_h2_the_quarantine_lets_only_genuine_bootstrap_roles_through(org: Organization) -> None:
    """The quarantine OU's SCP through the engine, for principals an adversary could create elsewhere."""
    [entry] = [e for e in org.manifest.org_policies("scp") if e.target == "ou:Quarantine"]
    quarantine = Policy(entry.name, "scp", json.loads(org.files[entry.file]), entry.file, entry.target)
    default = Policy("FullAWSAccess", "scp", FULL_AWS_ACCESS)
    admin = Policy("admin", "identity", FULL_AWS_ACCESS)
    account = "600000000009"

    def decide(principal_arn: str) -> str:
        caller = Caller("role", principal_arn, account)
        context = {"aws:principalarn": (principal_arn,), "aws:principalaccount": (account,),
                   "aws:requestedregion": ("eu-west-1",)}
        request = Request(caller, "s3:ListAllMyBuckets", "*", account, context)
        levels = (("root", (default,)), ("ou:Quarantine", (default, quarantine)))
        return evaluate(request, PolicySet(scp_levels=levels, identity=(admin,))).outcome

    for genuine in ("role/guardrails/StackSet-baseline-PasswordPolicyFunctionRole-1A2B", "role/stacksets-exec-3f2a1b",
                    "role/BreakGlass", "role/OrganizationAccountAccessRole"):
        assert decide(f"arn:aws:iam::{account}:{genuine}") == "allow", genuine
    for spoof in ("role/workload/x:role/guardrails/y", "role/app/x:role/stacksets-exec-1", "role/team/BreakGlass",
                  "role/BreakGlass2", "user/guardrails/x"):
        assert decide(f"arn:aws:iam::{account}:{spoof}") == "explicit-deny", spoof


# ----------------------------------------------------------------------------- M3: RCP perimeter


def _example_with_root_guardrails(tmp_path: Path, extra: str) -> Path:
    target = tmp_path / "blueprint"
    shutil.copytree(ROOT / "blueprints", target)
    organization = target / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    anchor = "    - data-perimeter-identity"
    assert anchor in text
    organization.write_text(text.replace(anchor, extra + anchor, 1), encoding="utf-8")
    return target


def test_m3_confused_deputy_and_oidc_tenants_in_the_root_rcp(tmp_path: Path) -> None:
    # The example attaches data-perimeter-confused-deputy at the root already.
    directory = _example_with_root_guardrails(tmp_path, (
        "    - data-perimeter-oidc-tenants: {tenants: [\"repo:example-org/*\"]}\n"))
    org = compile_blueprint(directory, run_tests=False).organization
    # A service acting for another organization's resource is denied; for the organization's own it is not.
    bucket_object = f"arn:aws:s3:::example-org-logs-{LOG_ARCHIVE}/AWSLogs/x.json.gz"
    other = org.evaluate("service/cloudtrail.amazonaws.com", "log-archive", "s3:PutObject", bucket_object,
                         {"aws:SourceAccount": ["111122223333"], "aws:SourceOrgID": ["o-someoneelse1"]})
    assert _denied_by(other, "EnforceConfusedDeputyProtection"), other.summary
    own = org.evaluate("service/cloudtrail.amazonaws.com", "log-archive", "s3:PutObject", bucket_object,
                       {"aws:SourceAccount": [APP_PROD], "aws:SourceOrgID": ["o-exampleorg1"]})
    assert "EnforceConfusedDeputyProtection" not in deciders(own)
    # A GitHub token of another tenant is denied by the RCP, whatever a role's trust says; the own tenant is not.
    role = f"arn:aws:iam::{APP_PROD}:role/GuardrailsCIDeployer"

    def assume(sub: str) -> Decision:
        return org.evaluate("federated/token.actions.githubusercontent.com", "app-prod",
                            "sts:AssumeRoleWithWebIdentity", role,
                            {"token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"],
                             "token.actions.githubusercontent.com:sub": [sub],
                             # The prod deployer's trust also pins the ref and the workflow file (M1).
                             "token.actions.githubusercontent.com:ref": ["refs/heads/main"],
                             "token.actions.githubusercontent.com:job_workflow_ref": [
                                 "example-org/workloads/.github/workflows/deploy.yml@refs/heads/main"]})

    assert _denied_by(assume("repo:someone-else/workloads:environment:production"), "EnforceTrustedOIDCTenants")
    assert assume("repo:example-org/workloads:environment:production").allowed


def _failures(directory: Path) -> tuple[set[tuple[str, str, str]], set[str]]:
    """The access-test cases that fail and the lockout findings of a blueprint."""
    compiled = compile_blueprint(directory, run_tests=False)
    cases = {(r.test.name, r.account, r.action) for r in run_access_tests(compiled) if not r.passed}
    return cases, {d.message for d in prove_lockout_safety(compiled, build_model(load_blueprint(directory)))}


def test_m3_the_example_attaches_the_confused_deputy_rcp(example_compiled: Compiled) -> None:
    """The example attaches it at the root, and its access tests and lockout proof pass with it (compiling
    the shared example raises otherwise)."""
    [root] = [p for p in example_compiled.plan.rcps if p.target == "root"]
    assert "data-perimeter-confused-deputy" in root.guardrails


def test_m3_the_oidc_rcp_is_parameterised_and_explains_why_it_is_opt_in() -> None:
    guardrail = CATALOG["data-perimeter-oidc-tenants"]
    values = cat.resolve_parameters(guardrail, {"provider": "token.actions.githubusercontent.com",
                                                "tenants": ["repo:example-org/*"]}, {})
    tenants, providers = cat.policy_json(guardrail, values)["Statement"]
    assert tenants["Condition"] == {
        "StringNotLikeIfExists": {"token.actions.githubusercontent.com:sub": "repo:example-org/*"},
        "Null": {"token.actions.githubusercontent.com:sub": "false"}}
    assert providers["Condition"] == {"Null": {"token.actions.githubusercontent.com:sub": "true"}}
    assert "not attached by default" in guardrail.rationale and "EKS" in guardrail.rationale


# ----------------------------------------------------------------------------- M4: IMDSv2


def test_m4_role_credentials_from_imdsv1_and_far_travelling_tokens_are_denied(org: Organization) -> None:
    instance = f"arn:aws:ec2:eu-west-1:{APP_PROD}:instance/*"
    launch = {"ec2:MetadataHttpTokens": ["required"]}
    far = as_admin(org, "app-prod", APP_PROD, "ec2:RunInstances", instance,
                   {**launch, "ec2:MetadataHttpPutResponseHopLimit": ["3"]})
    assert _denied_by(far, "LimitImdsHopLimitOnLaunch"), far.summary
    near = as_admin(org, "app-prod", APP_PROD, "ec2:RunInstances", instance,
                    {**launch, "ec2:MetadataHttpPutResponseHopLimit": ["2"]})
    assert near.allowed, near.summary
    bucket = "arn:aws:s3:::app-prod-uploads"
    v1 = as_admin(org, "app-prod", APP_PROD, "s3:ListBucket", bucket, {"ec2:RoleDelivery": ["1.0"]})
    assert _denied_by(v1, "DenyImdsv1RoleCredentials"), v1.summary
    assert as_admin(org, "app-prod", APP_PROD, "s3:ListBucket", bucket, {"ec2:RoleDelivery": ["2.0"]}).allowed
    assert as_admin(org, "app-prod", APP_PROD, "s3:ListBucket", bucket).allowed  # no instance credentials


# ----------------------------------------------------------------------------- M6: more ways to silence detection


def _arn(service: str, resource: str, account: str = APP_PROD) -> str:
    return f"arn:aws:{service}:eu-west-1:{account}:{resource}"


SILENCING = [
    ("config:PutConfigRule", _arn("config", "config-rule/config-rule-a1b2c3"), "ProtectSecurityServices"),
    ("config:PutRetentionConfiguration", "*", "ProtectSecurityServices"),
    ("config:DeleteConfigurationAggregator", _arn("config", "config-aggregator/config-aggregator-a1b2"),
     "ProtectSecurityServices"),
    ("access-analyzer:UpdateFindings", _arn("access-analyzer", "analyzer/guardrails"), "ProtectSecurityFindings"),
    ("guardduty:ArchiveFindings", "*", "ProtectSecurityFindings"),
    ("securityhub:BatchUpdateFindings", _arn("securityhub", "hub/default"), "ProtectSecurityFindings"),
    ("guardduty:UpdateThreatIntelSet", _arn("guardduty", "detector/d1/threatintelset/t1"), "ProtectSecurityServices"),
    ("guardduty:DeleteThreatIntelSet", _arn("guardduty", "detector/d1/threatintelset/t1"), "ProtectSecurityServices"),
    ("securityhub:UpdateSecurityHubConfiguration", _arn("securityhub", "hub/default"), "ProtectSecurityServices"),
    ("securityhub:UpdateConfigurationPolicy", _arn("securityhub", "configuration-policy/p1"),
     "ProtectSecurityServices"),
    ("kms:DeleteAlias", _arn("kms", "alias/guardrails-security-alerts"), "ProtectSecurityAlertKeyAliases"),
    ("kms:UpdateAlias", _arn("kms", "alias/guardrails-security-alerts"), "ProtectSecurityAlertKeyAliases"),
]


@pytest.mark.parametrize(("action", "resource", "sid"), SILENCING, ids=[a for a, _, _ in SILENCING])
def test_m6_member_accounts_cannot_silence_detection(org: Organization, action: str, resource: str,
                                                     sid: str) -> None:
    assert iam_database().matches(action)
    decision = as_admin(org, "app-prod", APP_PROD, action, resource)
    assert _denied_by(decision, sid), decision.summary
    assert org.evaluate("role/BreakGlass", "app-prod", action, resource).allowed


@pytest.mark.parametrize("action", ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"])
def test_m6_the_alert_key_cannot_be_disabled_deleted_or_reowned(org: Organization, action: str) -> None:
    key = _arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    alerts = as_admin(org, "app-prod", APP_PROD, action, key,
                      {"kms:ResourceAliases": ["alias/guardrails-security-alerts"]})
    assert _denied_by(alerts, "ProtectSecurityAlertKeys"), alerts.summary
    workload = as_admin(org, "app-prod", APP_PROD, action, key, {"kms:ResourceAliases": ["alias/app-data"]})
    assert workload.allowed, workload.summary


def test_m6_triage_can_be_handed_to_the_security_account() -> None:
    guardrail = CATALOG["protect-security-services"]
    values = cat.resolve_parameters(guardrail, {"triage_accounts": [AUDIT]}, {})
    findings = next(s for s in cat.policy_json(guardrail, values)["Statement"] if s["Sid"] == "ProtectSecurityFindings")
    assert findings["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": AUDIT}}


# ----------------------------------------------------------------------------- M7: Identity Center sessions


def test_m7_identity_center_sessions_are_left_to_identity_center_mfa_by_decision(org: Organization) -> None:
    rationale = CATALOG["require-mfa-for-sensitive-actions"].rationale
    assert "by decision" in rationale and "never carry aws:MultiFactorAuthPresent" in rationale
    assert "Identity Center sign-in" in rationale
    # The decision, as evaluated: an Identity Center session is judged by its permission set, not by this Deny.
    table = f"arn:aws:dynamodb:eu-west-1:{APP_DEV}:table/app-orders"
    session = org.evaluate("permission-set/Developer", "app-dev", "dynamodb:DeleteTable", table)
    assert "DenySensitiveActionsWithoutMfa" not in deciders(session)


# ----------------------------------------------------------------------------- low: break-glass users, policies


BREAK_GLASS_TAG = {"iam:ResourceTag/guardrails:purpose": ["break-glass"]}


@pytest.mark.parametrize("action", ["iam:DeleteLoginProfile", "iam:DeactivateMFADevice", "iam:DeleteUser",
                                    "iam:AttachUserPolicy", "iam:UpdateUser"])
def test_low_break_glass_users_are_protected(org: Organization, action: str) -> None:
    alice = f"arn:aws:iam::{AUDIT}:user/break-glass-alice"
    decision = as_admin(org, "audit", AUDIT, action, alice, BREAK_GLASS_TAG)
    assert _denied_by(decision, "ProtectBreakGlassUsers"), decision.summary
    assert org.evaluate("role/BreakGlass", "audit", action, alice, BREAK_GLASS_TAG).allowed
    other = as_admin(org, "audit", AUDIT, action, f"arn:aws:iam::{AUDIT}:user/someone",
                     {"iam:ResourceTag/guardrails:purpose": ["app"]})
    assert "ProtectBreakGlassUsers" not in deciders(other)


def test_low_the_break_glass_group_and_tag_are_protected(org: Organization) -> None:
    group = f"arn:aws:iam::{AUDIT}:group/break-glass"
    for action in ("iam:RemoveUserFromGroup", "iam:AddUserToGroup", "iam:DetachGroupPolicy"):
        assert _denied_by(as_admin(org, "audit", AUDIT, action, group), "ProtectBreakGlassGroup"), action
    untag = as_admin(org, "audit", AUDIT, "iam:UntagUser", f"arn:aws:iam::{AUDIT}:user/break-glass-bob",
                     {"aws:TagKeys": ["guardrails:purpose"]})
    assert _denied_by(untag, "ProtectPurposeTag"), untag.summary


def test_low_policies_of_scp_exempt_roles_cannot_be_rewritten(org: Organization) -> None:
    account = org.account("app-prod")
    deployer = org.role(account, "GuardrailsCIDeployer")
    own = [p for p in deployer.policies if ":policy/guardrails/" in p]
    assert own, deployer.policies
    for policy in own:
        concrete = policy.replace("${account_id}", APP_PROD)
        for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"):
            decision = as_admin(org, "app-prod", APP_PROD, action, concrete)
            assert _denied_by(decision, "ProtectBoundaryPolicies"), (action, concrete, decision.summary)


def test_low_every_catalog_exemption_path_is_reserved_by_default() -> None:
    """The default also_exempt patterns of every entry lie under what protect-guardrail-roles reserves."""
    reserved = CATALOG["protect-guardrail-roles"].parameters["reserved_roles"].default or ()
    patterns = [re.escape(f"arn:${{partition}}:iam::*:role/{r}").replace(r"\*", ".*") for r in reserved]
    for guardrail in CATALOG.values():
        spec: Any = guardrail.parameters.get("also_exempt")
        for value in (spec.default or ()) if spec else ():
            assert any(re.fullmatch(p, value) for p in patterns), (guardrail.id, value)


# ----------------------------------------------------------------------------- M2: the custom-resource functions


CUSTOM_RESOURCE = {"aws:ResourceTag/guardrails:purpose": ["custom-resource"]}


@pytest.mark.parametrize("action", ["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                                    "lambda:DeleteFunction", "lambda:AddPermission", "lambda:PutFunctionConcurrency",
                                    "lambda:UntagResource"])
def test_m2_only_the_deployment_changes_the_custom_resource_functions(org: Organization, action: str) -> None:
    """Their roles are exempt from guardrails (DenyPasswordPolicyChanges, KeepS3AccountPublicAccessBlock), so changing
    a function would act with those exemptions: an SCP denies it on the functions' tag to everyone else."""
    function = f"arn:aws:lambda:eu-west-1:{APP_PROD}:function:StackSet-guardrails-baseline-PasswordPolic-GUARDRAILS0"
    decision = as_admin(org, "app-prod", APP_PROD, action, function, CUSTOM_RESOURCE)
    assert _denied_by(decision, "ProtectGuardrailFunctions"), decision.summary
    assert org.evaluate("role/BreakGlass", "app-prod", action, function, CUSTOM_RESOURCE).allowed
    own = as_admin(org, "app-prod", APP_PROD, action, f"arn:aws:lambda:eu-west-1:{APP_PROD}:function:app-orders",
                   {"aws:ResourceTag/guardrails:purpose": ["app"]})
    assert "ProtectGuardrailFunctions" not in deciders(own), own.summary


def test_m2_the_functions_carry_the_tag_and_the_tag_cannot_be_moved(compiled: Compiled, org: Organization) -> None:
    templates = {p: t for p, t in compiled.files.items() if p.startswith("cloudformation/")
                 and "AWS::Lambda::Function" in t}
    assert templates
    for path, text in templates.items():
        assert text.count("AWS::Lambda::Function") == text.count("Value: custom-resource"), path
    tag = as_admin(org, "app-prod", APP_PROD, "lambda:TagResource",
                   f"arn:aws:lambda:eu-west-1:{APP_PROD}:function:app-orders", {"aws:TagKeys": ["guardrails:purpose"]})
    assert _denied_by(tag, "ProtectPurposeTag"), tag.summary


# ----------------------------------------------------------------------------- C2: rewritten workload trusts


def test_c2_a_rewritten_trust_admits_no_other_repository(org: Organization) -> None:
    """C2's second half: the CI deployer may rewrite the trust of a workload role; whatever it writes, a GitHub token of
    another repository is denied by the Workloads RCP (data-perimeter-oidc-tenants), the workloads repository is not."""
    role = f"arn:aws:iam::{APP_PROD}:role/workload/AppInstance"  # a workload role the deployer may rewrite
    other = {"token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"],
             "token.actions.githubusercontent.com:sub": ["repo:attacker/fork:ref:refs/heads/main"]}
    decision = org.evaluate("federated/token.actions.githubusercontent.com", "app-prod",
                            "sts:AssumeRoleWithWebIdentity", role, other)
    assert _denied_by(decision, "EnforceTrustedOIDCTenants"), decision.summary
    own = dict(other, **{"token.actions.githubusercontent.com:sub": ["repo:example-org/workloads:ref:refs/heads/main"]})
    assert "EnforceTrustedOIDCTenants" not in deciders(org.evaluate(
        "federated/token.actions.githubusercontent.com", "app-prod", "sts:AssumeRoleWithWebIdentity", role, own))


# ----------------------------------------------------------------------------- low: the Developer permission set


@pytest.mark.parametrize(("action", "resource"), [
    ("iam:PassRole", f"arn:aws:iam::{APP_DEV}:role/workload/app-worker"),
    ("rds:DescribeDBInstances", f"arn:aws:rds:eu-west-1:{APP_DEV}:db:app-orders"),
    ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:eu-west-1:{APP_DEV}:stack/app-api/1"),
    ("lambda:ListFunctions", "*"),
])
def test_low_the_developer_permission_set_keeps_what_its_job_function_grants(org: Organization, action: str,
                                                                             resource: str) -> None:
    """The workload boundary no longer bounds the Developer permission set: a session does what the developers
    group does (it stripped PassRole of the workload roles and most of ViewOnlyAccess)."""
    context = {"iam:PassedToService": ["lambda.amazonaws.com"]} if action == "iam:PassRole" else None
    session = org.evaluate("permission-set/Developer", "app-dev", action, resource, context)
    group = org.evaluate("group/developers", "app-dev", action, resource, context)
    assert group.allowed, group.summary
    assert session.allowed, session.summary
