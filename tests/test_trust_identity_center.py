"""Roles trusted by Identity Center sessions (`trust.accounts[].permission_sets`, issue 13): the trust statement,
its ARN patterns against real and spoofed roles, the located errors, and a small blueprint compiled and evaluated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.evaluation.matching import arn_matches
from guardrails.model import build_model
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.synthesize import synthesize

MINIMAL = Path("tests/cases/minimal/blueprint/organization.yaml")  # management, security, workload; us-east-1
SECURITY, WORKLOAD = "222222222222", "333333333333"

IDENTITY = """\
job_functions:
  viewer:
    managed_policies: [job-function/ViewOnlyAccess]
  reach-support:
    description: Assume the support roles of the organization.
    statements:
      - sid: AssumeSupport
        actions: ["sts:AssumeRole"]
        resources: ["arn:${partition}:iam::*:role/Support", "arn:${partition}:iam::*:role/SessionsOnly"]
groups:
  viewers:
    job_functions: [viewer]
    deploy_to: {all: true}
roles:
  support:
    name: Support
    trust:
      accounts: [{account: security}, {account: security, permission_sets: [Auditor]}]
      require_mfa: true
    job_functions: [viewer]
    deploy_to: {all: true}
  sessions-only:
    name: SessionsOnly
    trust:
      accounts: [{account: security, permission_sets: [Auditor, Auditor_Extra]}]
    job_functions: [viewer]
    deploy_to: {all: true}
"""

IDENTITY_CENTER = """\
identity_center:
  instance_arn: arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6
  identity_store_id: d-93670c1a2b
  region: eu-west-1
  permission_sets:
    Auditor:
      job_functions: [viewer, reach-support]
    Auditor_Extra:
      job_functions: [viewer]
    Viewer:
      job_functions: [viewer, reach-support]
  assignments:
    - group: auditors
      group_id: 9067c2d4a1-3d4e5f60-7182-43a4-b5c6-d7e8f90a1b23
      permission_set: Auditor
      deploy_to: {all: true}
    - group: auditors
      group_id: 9067c2d4a1-3d4e5f60-7182-43a4-b5c6-d7e8f90a1b23
      permission_set: Auditor_Extra
      deploy_to: {accounts: [security]}
    - group: viewers
      group_id: 9067c2d4a1-2c3d4e5f-6071-4293-a4b5-c6d7e8f90a12
      permission_set: Viewer
      deploy_to: {all: true}
"""

TESTS = """\
tests:
  auditor-sessions-assume-support:
    principal: permission-set/Auditor
    account: security
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:workload}:role/Support"
    expect: allow
    decided_by: TrustIdentityCenter
  viewer-sessions-are-not-trusted:
    principal: permission-set/Viewer
    account: security
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:workload}:role/Support"
    expect: deny
    decided_by: trust policy of Support
  auditor-sessions-of-another-account-are-not-trusted:
    principal: permission-set/Auditor
    account: workload
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:security}:role/Support"
    expect: deny
    decided_by: trust policy of Support
  iam-principals-need-mfa-for-support:
    principal: role/BreakGlass
    account: security
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:workload}:role/Support"
    expect: deny
  iam-principals-with-mfa-assume-support:
    principal: role/BreakGlass
    account: security
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:workload}:role/Support"
    context: {aws:MultiFactorAuthPresent: true}
    expect: allow
    decided_by: TrustAccounts
  sessions-only-trusts-no-iam-principal:
    description: A trust naming only permission sets does not trust the account as a whole, MFA or not.
    principal: role/BreakGlass
    account: security
    action: sts:AssumeRole
    resource: "arn:${partition}:iam::${account_id:workload}:role/SessionsOnly"
    context: {aws:MultiFactorAuthPresent: true}
    expect: deny
    decided_by: trust policy of SessionsOnly
"""


def write_blueprint(directory: Path, identity: str = IDENTITY, identity_center: str | None = IDENTITY_CENTER,
                    tests: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(MINIMAL, directory / "organization.yaml")
    (directory / "identity.yaml").write_text(identity, encoding="utf-8")
    if identity_center is not None:
        (directory / "identity-center.yaml").write_text(identity_center, encoding="utf-8")
    if tests:
        (directory / "tests.yaml").write_text(tests, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The small blueprint compiled with its access tests (a failing one is a BlueprintError here)."""
    return compile_blueprint(write_blueprint(tmp_path_factory.mktemp("trust") / "blueprint", tests=TESTS))


def trust_of(compiled: Compiled, role: str, account: str = "workload") -> dict[str, Any]:
    cls = compiled.plan.class_of(account)
    assert cls is not None
    return next(r for r in cls.baseline.roles if r.name == role).trust.to_json()


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s["Sid"] == sid)


def patterns(document: dict[str, Any]) -> list[str]:
    values = statement(document, "TrustIdentityCenter")["Condition"]["ArnLike"]["aws:PrincipalArn"]
    return [values] if isinstance(values, str) else values


def errors_of(directory: Path) -> list[Diagnostic]:
    with pytest.raises(BlueprintError) as raised:
        synthesize(build_model(load_blueprint(directory)))
    return raised.value.diagnostics


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


# ----------------------------------------------------------------------------- the trust statement


def test_permission_set_sessions_get_their_own_statement_without_mfa(compiled: Compiled) -> None:
    trust = trust_of(compiled, "Support")
    assert [s["Sid"] for s in trust["Statement"]] == ["TrustAccounts", "TrustIdentityCenter"]
    accounts = statement(trust, "TrustAccounts")
    assert accounts["Principal"] == {"AWS": f"arn:aws:iam::{SECURITY}:root"}
    assert accounts["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, "require_mfa keeps applying"
    sessions = statement(trust, "TrustIdentityCenter")
    assert sessions["Action"] == "sts:AssumeRole"
    assert sessions["Principal"] == {"AWS": f"arn:aws:iam::{SECURITY}:root"}
    assert set(sessions["Condition"]) == {"ArnLike"}, "no aws:MultiFactorAuthPresent: IC sessions never carry it"
    assert "MultiFactorAuth" not in json.dumps(sessions)
    suffix = "?" * 16
    assert patterns(trust) == [
        f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_{suffix}",
        f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Auditor_{suffix}",
    ]


def test_a_trust_of_permission_sets_only_does_not_trust_the_account(compiled: Compiled) -> None:
    trust = trust_of(compiled, "SessionsOnly")
    assert [s["Sid"] for s in trust["Statement"]] == ["TrustIdentityCenter"]
    assert len(patterns(trust)) == 4  # two sets, each under both paths


def test_sids_are_unique_and_stable(compiled: Compiled, tmp_path: Path) -> None:
    again = compile_blueprint(write_blueprint(tmp_path / "again"), run_tests=False)
    for role in ("Support", "SessionsOnly", "BreakGlass"):
        sids = [s["Sid"] for s in trust_of(compiled, role)["Statement"]]
        assert len(sids) == len(set(sids))
        assert trust_of(again, role) == trust_of(compiled, role)


def test_a_us_east_1_instance_has_one_path(tmp_path: Path) -> None:
    text = IDENTITY_CENTER.replace("region: eu-west-1", "region: us-east-1")
    plan = synthesize(build_model(load_blueprint(write_blueprint(tmp_path / "bp", identity_center=text))))
    cls = plan.class_of("workload")
    assert cls is not None
    trust = next(r for r in cls.baseline.roles if r.name == "Support").trust.to_json()
    assert patterns(trust) == [
        f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_{'?' * 16}"]


# ----------------------------------------------------------------------------- the patterns, real and spoofed


def _matched(compiled: Compiled, arn: str) -> bool:
    return any(arn_matches(p, arn, {}) for p in patterns(trust_of(compiled, "Support")))


@pytest.mark.parametrize("arn", [
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Auditor_1234567890abcdef",
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_abcdef0123456789",
])
def test_the_permission_sets_roles_match(compiled: Compiled, arn: str) -> None:
    assert _matched(compiled, arn)


@pytest.mark.parametrize("arn", [
    # another account's role of the same set
    f"arn:aws:iam::{WORKLOAD}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Auditor_1234567890abcdef",
    # a path segment that is not the instance's region, with or without a colon in it
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/x:eu-west-1/AWSReservedSSO_Auditor_1234567890abcdef",
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Auditor_1234567890abcdef",
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/x/AWSReservedSSO_Auditor_1234567890abcdef",
    # a role anyone with iam:CreateRole in the account could make, with the same name under another path
    f"arn:aws:iam::{SECURITY}:role/AWSReservedSSO_Auditor_1234567890abcdef",
    f"arn:aws:iam::{SECURITY}:role/evil/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_1234567890abcdef",
    # another permission set whose name starts with this one's
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Auditor_Extra_1234567890abcdef",
    # a longer suffix hiding more path
    f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_1234567890abcdef/x",
    # not a role, another partition
    f"arn:aws:sts::{SECURITY}:assumed-role/AWSReservedSSO_Auditor_1234567890abcdef/alice",
    f"arn:aws-cn:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Auditor_1234567890abcdef",
])
def test_spoofed_roles_do_not_match(compiled: Compiled, arn: str) -> None:
    assert not _matched(compiled, arn)


# ----------------------------------------------------------------------------- evaluated


def test_access_tests_of_the_small_blueprint_pass(compiled: Compiled) -> None:
    assert compiled.test_results and all(r.passed for r in compiled.test_results), [
        (r.test.name, r.outcome, r.error) for r in compiled.test_results if not r.passed]


def test_an_iam_role_named_like_the_set_is_not_trusted(compiled: Compiled) -> None:
    """The evaluator with aws:PrincipalArn of a look-alike role in the trusted account: the trust does not allow."""
    organization = compiled.organization
    fake = f"arn:aws:iam::{SECURITY}:role/AWSReservedSSO_Auditor_0000000000000000"
    decision = organization.evaluate("permission-set/Auditor", "security", "sts:AssumeRole",
                                     f"arn:aws:iam::{WORKLOAD}:role/Support", {"aws:PrincipalArn": [fake]})
    assert not decision.allowed
    decision = organization.evaluate("permission-set/Auditor", "security", "sts:AssumeRole",
                                     f"arn:aws:iam::{WORKLOAD}:role/Support")
    assert decision.allowed and "TrustIdentityCenter" in {m.sid for m in decision.deciding}


# ----------------------------------------------------------------------------- located errors


def test_unknown_and_unassigned_permission_sets_are_located(tmp_path: Path) -> None:
    identity = IDENTITY.replace("permission_sets: [Auditor]}", "permission_sets: [Auditr]}").replace(
        "permission_sets: [Auditor, Auditor_Extra]}]", "permission_sets: [Auditor, Auditor_Extra]}, "
        "{account: workload, permission_sets: [Auditor_Extra]}]")
    directory = write_blueprint(tmp_path / "bp", identity=identity)
    found = {(d.code, d.location.line if d.location else 0, d.message) for d in errors_of(directory)}
    path = directory / "identity.yaml"
    assert ("GR301", line_of(path, "[Auditr]"), "unknown permission set 'Auditr'") in found
    assert ("GR308", line_of(path, "{account: workload, permission_sets"),
            "permission set 'Auditor_Extra' is not assigned in account 'workload': no session of it exists there "
            "to trust") in found
    hints = {d.hint for d in errors_of(directory)}
    assert "did you mean `Auditor`?" in hints


def test_permission_sets_without_identity_center_are_unknown(tmp_path: Path) -> None:
    directory = write_blueprint(tmp_path / "bp", identity_center=None)
    found = [d for d in errors_of(directory) if d.code == "GR301"]
    assert found and all("identity_center" in d.hint for d in found)


def test_permission_sets_of_an_outside_account_are_refused(tmp_path: Path) -> None:
    identity = IDENTITY.replace("{account: security, permission_sets: [Auditor]}",
                                "{account: \"123456789012\", permission_sets: [Auditor]}")
    [error] = errors_of(write_blueprint(tmp_path / "bp", identity=identity))
    assert error.code == "GR203" and "not in the organization" in error.message
    assert error.location is not None and error.location.line == line_of(tmp_path / "bp" / "identity.yaml",
                                                                          "123456789012")


def test_require_mfa_with_only_permission_set_sessions_is_an_error(tmp_path: Path) -> None:
    identity = IDENTITY.replace("      accounts: [{account: security, permission_sets: [Auditor, Auditor_Extra]}]\n",
                                "      accounts: [{account: security, permission_sets: [Auditor, Auditor_Extra]}]\n"
                                "      require_mfa: true\n")
    directory = write_blueprint(tmp_path / "bp", identity=identity)
    [error] = errors_of(directory)
    assert error.code == "GR307" and "Identity Center sessions" in error.message
    assert error.location is not None and error.location.line == line_of(directory / "identity.yaml",
                                                                          "require_mfa: true", 2)
