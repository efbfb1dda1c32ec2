"""The plan (IR): what each account gets, and the security-relevant details of every document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.model import build_model
from guardrails.policies.ir import Plan, PolicyDocument
from guardrails.policies.synthesize import synthesize
from guardrails.pipeline import Compiled


def plan_of(path: str) -> Plan:
    return synthesize(build_model(load_blueprint(Path(path))))


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Plan:
    return example_compiled.plan


@pytest.fixture(scope="module")
def federation() -> Plan:
    return plan_of("tests/cases/federation/blueprint")


def _role(plan: Plan, account: str, name: str):
    cls = plan.class_of(account)
    assert cls is not None
    return next(r for r in cls.baseline.roles if r.name == name)


def _statement(document: PolicyDocument, sid: str) -> dict:
    return next(s for s in document.to_json()["Statement"] if s["Sid"] == sid)


def test_break_glass_role_in_every_account_trusts_only_its_users_with_fresh_mfa(example: Plan) -> None:
    audit = example.account("audit").id
    for account in example.accounts:
        role = _role(example, account.name, "BreakGlass")
        trust = _statement(role.trust, "TrustBreakGlassUsersWithMfa")
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{audit}:root"}
        assert trust["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
        assert trust["Condition"]["NumericLessThan"] == {"aws:MultiFactorAuthAge": "3600"}
        assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
            f"arn:aws:iam::{audit}:user/break-glass-alice", f"arn:aws:iam::{audit}:user/break-glass-bob"]


def test_github_oidc_trust_checks_audience_environment_branch_and_workflow(example: Plan) -> None:
    role = _role(example, "app-prod", "GuardrailsCIDeployer")
    statement = _statement(role.trust, "TrustGitHubActions")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": "arn:aws:iam::${account_id}:oidc-provider/token.actions.githubusercontent.com"}
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:job_workflow_ref":
            "example-org/workloads/.github/workflows/deploy.yml@refs/heads/main",
        "token.actions.githubusercontent.com:ref": "refs/heads/main",
        "token.actions.githubusercontent.com:sub": "repo:example-org/workloads:environment:production"}}
    assert "aws:MultiFactorAuthPresent" not in json.dumps(role.trust.to_json()), "federated sessions carry no MFA key"


def test_cross_account_auditor_requires_mfa(example: Plan) -> None:
    statement = _statement(_role(example, "network", "SecurityAuditor").trust, "TrustAccounts")
    assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_mfa_enforcement_uses_bool_if_exists_and_no_key_management_without_keys(example: Plan) -> None:
    audit = example.class_of("audit").baseline
    force = next(p for p in audit.managed_policies if p.name == "GuardrailsForceMFA")
    deny = _statement(force.document, "DenyAllExceptListedIfNoMFA")
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    # Passwords expire (password_policy cis): users set a new one at sign-in, before the MFA session (issue 13, C1).
    assert {"iam:ChangePassword", "iam:GetAccountPasswordPolicy"} <= set(deny["NotAction"])
    sids = {s["Sid"] for s in force.document.to_json()["Statement"]}
    assert "AllowManageOwnAccessKeys" not in sids
    bg_group = next(g for g in audit.groups if g.name == "break-glass")
    assert any(ref.name == "force_mfa" for ref in bg_group.policies)


def test_mfa_policy_with_access_keys_and_first_password(federation: Plan) -> None:
    app = federation.class_of("app").baseline
    force = next(p for p in app.managed_policies if p.name == "GuardrailsForceMFA")
    sids = {s["Sid"] for s in force.document.to_json()["Statement"]}
    assert "AllowManageOwnAccessKeys" in sids
    deny = _statement(force.document, "DenyAllExceptListedIfNoMFA")
    assert {"iam:ChangePassword", "iam:GetAccountPasswordPolicy"} <= set(deny["NotAction"])
    assert "arn:aws-us-gov:iam::*:user/${aws:username}" in json.dumps(force.document.to_json())


def test_password_policy_is_complete_everywhere(example: Plan) -> None:
    for cls in example.classes:
        policy = cls.baseline.password_policy
        assert policy is not None
        assert (policy.minimum_length, policy.reuse_prevention, policy.max_age) == (14, 24, 90)
        assert policy.require_symbols and policy.require_numbers and policy.require_uppercase and policy.require_lowercase


def test_classes_follow_whole_ous_and_management_stands_alone(example: Plan) -> None:
    keys = {c.key: c for c in example.classes}
    assert keys["management"].accounts == ("management",)
    assert keys["workloads-prod"].accounts == ("app-prod", "data-prod")
    assert keys["workloads-prod"].whole_units == ("Workloads/Prod",)
    assert sorted(a for c in example.classes for a in c.accounts) == sorted(a.name for a in example.accounts)


def test_catalog_scps_exempt_break_glass_and_deployers_but_leave_org_has_no_exemption(example: Plan) -> None:
    root = next(s for s in example.scps if s.target == "root")
    region = _statement(root.document, "DenyOutsideAllowedRegions")
    exempt = region["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert "arn:aws:iam::*:role/BreakGlass" in exempt
    assert "arn:aws:iam::*:role/OrganizationAccountAccessRole" in exempt
    assert region["Condition"]["StringNotEquals"] == {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}
    assert "iam:*" in region["NotAction"]
    leave = _statement(root.document, "DenyLeaveOrganization")
    assert "Condition" not in leave


def test_partition_and_policy_variables(federation: Plan) -> None:
    text = json.dumps([c.baseline.managed_policies[0].document.to_json() for c in federation.classes
                       if c.baseline.managed_policies])
    assert "arn:aws:" not in text
    reader = next(p for p in federation.class_of("app").baseline.managed_policies if p.name == "guardrails-own-bucket")
    own = _statement(reader.document, "OwnPrefix")
    assert own["Resource"] == "arn:aws-us-gov:s3:::shared-${account_id}/home/${aws:username}/*"


def test_saml_and_org_trust(federation: Plan) -> None:
    saml = _statement(_role(federation, "identity", "FederatedReader").trust, "TrustSaml")
    assert saml["Condition"] == {"StringEquals": {"SAML:aud": "https://signin.amazonaws-us-gov.com/saml"}}
    org = _statement(_role(federation, "payer", "OrgReader").trust, "TrustOrganization")
    assert org["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-fedgov00001"}
    vendor = _statement(_role(federation, "app", "VendorAudit").trust, "TrustAccounts")
    assert vendor["Principal"] == {"AWS": "arn:aws-us-gov:iam::999988887777:role/VendorScanner"}
    assert vendor["Condition"] == {"StringEquals": {"sts:ExternalId": "vendor-7f3a9c"}}


def test_the_split_modules_names_are_still_importable_from_synthesize() -> None:
    """synthesize.py keeps synthesize() and re-exports what the other modules and the tests import from it."""
    from guardrails.policies import baselines, jobs, scps, statements, synthesize as module

    assert module.convert_statement is statements.convert_statement
    assert module.privileged_role_names is scps.privileged_role_names
    assert module.compile_jobs is jobs.compile_jobs and module.mfa_policy_document is baselines.mfa_policy_document
    assert set(module.__all__) <= set(vars(module))
