"""Identity Center sessions as principals of the evaluator: ``permission-set/NAME`` in an assigned account.

The role Identity Center creates and its ARN: https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation.conditions import evaluate_conditions
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import MANIFEST, Organization, parse_principal
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import ROOT, bounded_developer_example

APP_DEV = "400000000003"
DEVELOPER_ROLE = (f"arn:aws:iam::{APP_DEV}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                  "AWSReservedSSO_Developer_0000000000000000")


@pytest.fixture(scope="module")
def files(example_compiled: Compiled) -> dict[str, str]:
    compiled = example_compiled.files
    return {p: t for p, t in compiled.items() if p.startswith("policies/")}


@pytest.fixture(scope="module")
def example(files: dict[str, str]) -> Organization:
    return Organization(files)


def edited(files: dict[str, str], change) -> Organization:  # type: ignore[no-untyped-def]
    """The example with its manifest changed by ``change(manifest)``."""
    manifest = json.loads(files[MANIFEST])
    change(manifest)
    return Organization({**files, MANIFEST: json.dumps(manifest)})


def permission_set(manifest: dict, name: str) -> dict:
    return next(ps for ps in manifest["permission_sets"] if ps["name"] == name)


def test_the_session_is_a_role_of_the_reserved_sso_path(example: Organization) -> None:
    spec = parse_principal("permission-set/Developer")
    assert (spec.kind, spec.name, str(spec)) == ("permission-set", "Developer", "permission-set/Developer")
    request, _ = example.prepare(spec, "app-dev", "s3:GetObject", "*")
    assert request.caller.kind == "role"
    assert request.caller.principal_arn == DEVELOPER_ROLE
    assert request.caller.arn == (f"arn:aws:sts::{APP_DEV}:assumed-role/AWSReservedSSO_Developer_0000000000000000/"
                                  "guardrails")
    assert request.context["aws:principalarn"] == (DEVELOPER_ROLE,)
    assert request.context["aws:principaltype"] == ("AssumedRole",)
    assert request.context["aws:principalaccount"] == (APP_DEV,)
    assert "aws:tokenissuetime" in request.context


def test_no_mfa_key_unless_the_request_says_so(example: Organization) -> None:
    spec = parse_principal("permission-set/ReadOnly")
    plain, _ = example.prepare(spec, "app-prod", "ec2:DescribeInstances", "*")
    assert "aws:multifactorauthpresent" not in plain.context
    given, _ = example.prepare(spec, "app-prod", "ec2:DescribeInstances", "*", {"aws:MultiFactorAuthPresent": ["true"]})
    assert given.context["aws:multifactorauthpresent"] == ("true",)
    # An ordinary role session still carries the key (temporary credentials always do).
    role, _ = example.prepare(parse_principal("role/SecurityAuditor"), "app-prod", "ec2:DescribeInstances", "*")
    assert role.context["aws:multifactorauthpresent"] == ("false",)


def test_arn_patterns_on_the_set_name_match_the_placeholder_suffix(example: Organization) -> None:
    request, _ = example.prepare(parse_principal("permission-set/Developer"), "app-dev", "s3:GetObject", "*")
    for pattern, expected in (
            ("arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Developer_*", True),
            ("arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_*", True),
            ("arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_ReadOnly_*", False)):
        matched, _ = evaluate_conditions({"ArnLike": {"aws:PrincipalArn": pattern}}, request.context)
        assert matched is expected, pattern


def test_an_instance_in_us_east_1_has_no_region_in_the_role_path(files: dict[str, str]) -> None:
    org = edited(files, lambda m: m["identity_center"].update(region="us-east-1"))
    request, _ = org.prepare(parse_principal("permission-set/Developer"), "app-dev", "s3:GetObject", "*")
    assert request.caller.principal_arn == DEVELOPER_ROLE.replace("/eu-west-1/", "/")


def test_a_set_not_assigned_in_the_account_is_a_clear_error(example: Organization) -> None:
    with pytest.raises(EvaluationError, match="permission set Developer is not assigned in account app-prod; "
                                              "assigned in: app-dev, data-dev"):
        example.evaluate("permission-set/Developer", "app-prod", "s3:GetObject", "*")
    with pytest.raises(EvaluationError, match="unknown permission set 'Developr'; permission sets: Developer, "
                                              "ReadOnly, SecurityAuditor"):
        example.evaluate("permission-set/Developr", "app-dev", "s3:GetObject", "*")


def test_without_identity_center_there_are_no_permission_sets(files: dict[str, str]) -> None:
    org = edited(files, lambda m: m.update(identity_center=None, permission_sets=[]))
    with pytest.raises(EvaluationError, match="no Identity Center permission sets"):
        org.evaluate("permission-set/Developer", "app-dev", "s3:GetObject", "*")


def test_managed_and_customer_managed_policies_are_resolved_in_the_account(example: Organization) -> None:
    _, policies = example.prepare(parse_principal("permission-set/Developer"), "app-dev", "s3:GetObject", "*")
    assert [p.name for p in policies.identity][:2] == ["AWS managed job-function/ViewOnlyAccess",
                                                      "guardrails-developer-1"]
    assert all(p.name.startswith("guardrails-developer-") for p in policies.identity[1:])
    assert policies.identity[1].source == "policies/accounts/workloads-dev/managed/guardrails-developer-1.json"
    assert policies.boundary is None  # the example's Developer set has no boundary (issue 13)
    assert not policies.unmodeled


@pytest.fixture(scope="module")
def bounded() -> Organization:
    """The example with its Developer permission set bounded by the workload boundary, as it once was."""
    return compile_blueprint(bounded_developer_example(), run_tests=False).organization


def test_a_permission_set_boundary_is_resolved_in_the_account(bounded: Organization) -> None:
    _, policies = bounded.prepare(parse_principal("permission-set/Developer"), "app-dev", "s3:GetObject", "*")
    assert policies.boundary is not None and policies.boundary.kind == "boundary"
    assert policies.boundary.source == "policies/accounts/workloads-dev/boundary/GuardrailsWorkloadBoundary.json"
    # The boundary caps the session like a role's: the developer policies do not reach Organizations.
    capped = bounded.evaluate("permission-set/Developer", "app-dev", "organizations:ListAccounts", "*")
    assert capped.outcome == "implicit-deny" and capped.steps[-1].stage == "boundary"


def test_the_inline_policy_is_the_sets_own_document(example: Organization) -> None:
    _, policies = example.prepare(parse_principal("permission-set/SecurityAuditor"), "app-prod", "s3:GetObject", "*")
    inline = policies.identity[0]
    assert (inline.name, inline.source) == ("inline policy of permission set SecurityAuditor",
                                            "policies/permission-sets/SecurityAuditor.json")
    assert [p.name for p in policies.identity[1:]] == ["AWS managed SecurityAudit"]
    # Its ARNs use ${aws:PrincipalAccount}: the account of the session.
    decision = example.evaluate("permission-set/SecurityAuditor", "app-prod", "access-analyzer:GetAnalyzer",
                                "arn:aws:access-analyzer:eu-west-1:400000000001:analyzer/org")
    assert decision.allowed
    assert any(m.policy is inline or m.policy.name == inline.name for m in decision.deciding)
    elsewhere = example.evaluate("permission-set/SecurityAuditor", "app-prod", "access-analyzer:GetAnalyzer",
                                 "arn:aws:access-analyzer:eu-west-1:400000000002:analyzer/org")
    assert all(m.policy.name != inline.name for m in elsewhere.deciding)


def test_a_customer_managed_reference_missing_in_the_account_is_reported(files: dict[str, str]) -> None:
    org = edited(files, lambda m: permission_set(m, "Developer")["assignments"].append(
        {"group": "developers", "account": "app-prod"}))
    with pytest.raises(EvaluationError, match="permission set Developer refers to the customer managed policy "
                                              "/guardrails/guardrails-developer-1, which account app-prod does not "
                                              "hold"):
        org.evaluate("permission-set/Developer", "app-prod", "s3:GetObject", "*")


def test_a_missing_boundary_is_reported_and_an_aws_managed_boundary_is_read(files: dict[str, str]) -> None:
    def swap(boundary: dict) -> None:
        def change(manifest: dict) -> None:
            developer = permission_set(manifest, "Developer")
            developer["customer_managed"] = []
            developer["boundary"] = boundary
        return change  # type: ignore[return-value]

    missing = edited(files, swap({"customer_managed": {"name": "NoSuchBoundary", "path": "/guardrails/"}}))
    with pytest.raises(EvaluationError, match="boundary /guardrails/NoSuchBoundary, which account app-dev"):
        missing.evaluate("permission-set/Developer", "app-dev", "s3:GetObject", "*")
    managed = edited(files, swap({"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
    _, policies = managed.prepare(parse_principal("permission-set/Developer"), "app-dev", "ec2:DescribeInstances", "*")
    assert policies.boundary is not None and policies.boundary.name == "AWS managed ReadOnlyAccess"
    assert managed.evaluate("permission-set/Developer", "app-dev", "ec2:DescribeInstances", "*").allowed


def test_scps_apply_to_sessions_like_to_any_role(example: Organization) -> None:
    denied = example.evaluate("permission-set/Developer", "app-dev", "lambda:CreateFunction",
                              f"arn:aws:lambda:us-east-1:{APP_DEV}:function:app-api")
    assert denied.outcome == "explicit-deny"
    assert [m.sid for m in denied.deciding] == ["DenyOutsideAllowedRegions"]
    allowed = example.evaluate("permission-set/Developer", "app-dev", "lambda:CreateFunction",
                               f"arn:aws:lambda:eu-west-1:{APP_DEV}:function:app-api")
    assert allowed.allowed
    assert any(s.stage == "SCPs account:app-dev" for s in allowed.steps)
    assert allowed.steps[0].stage == "session" and "PT4H" in allowed.steps[0].detail
    assert "placeholder" in allowed.steps[0].detail


def test_read_only_sessions_cannot_write(example: Organization) -> None:
    for action in ("ec2:TerminateInstances", "s3:PutObject"):
        assert example.evaluate("permission-set/ReadOnly", "network", action, "*").outcome == "implicit-deny"
    # Creating IAM users is also denied by an SCP, which wins first.
    assert example.evaluate("permission-set/ReadOnly", "network", "iam:CreateUser", "*").outcome == "explicit-deny"
    assert example.evaluate("permission-set/ReadOnly", "network", "ec2:DescribeInstances", "*").allowed


def test_assigned_sets_are_listed_among_the_accounts_principals(example: Organization) -> None:
    names = {str(p) for p in example.principals(example.account("app-dev"))}
    assert {"permission-set/Developer", "permission-set/ReadOnly", "permission-set/SecurityAuditor"} <= names
    assert "permission-set/Developer" not in {str(p) for p in example.principals(example.account("app-prod"))}


def test_access_tests_name_known_permission_sets(tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    (blueprint / "more-tests.yaml").write_text(
        "tests:\n"
        "  typo-permission-set:\n"
        "    principal: permission-set/Devloper\n"
        "    account: app-dev\n"
        "    action: s3:GetObject\n"
        "    expect: allow\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    rendered = "\n".join(d.render() for d in caught.value.diagnostics)
    assert "unknown permission-set 'Devloper'" in rendered and "did you mean `Developer`?" in rendered


def test_assuming_an_identity_center_role_points_to_the_session_principal(example: Organization) -> None:
    with pytest.raises(EvaluationError, match="test the session itself as permission-set/NAME"):
        example.evaluate("role/BreakGlass", "app-dev", "sts:AssumeRole", DEVELOPER_ROLE)
