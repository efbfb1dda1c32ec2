"""The evaluator on a whole organization: the example's access tests, and tests that catch broken guardrails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.pipeline import Compiled, compile_blueprint, run_access_tests

from .conftest import ROOT


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Organization:
    return example_compiled.organization


def copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    return target


def test_the_example_proves_its_intent_with_at_least_30_tests(example_compiled: Compiled) -> None:
    compiled = example_compiled  # compiling raises if any test fails
    names = {r.test.name for r in compiled.test_results}
    assert len(names) >= 30
    assert all(r.passed for r in compiled.test_results)
    # Every guardrail kind the example uses is exercised by some test that it decided.
    deciders = {m.sid for r in compiled.test_results if r.decision for m in r.decision.deciding}
    assert {"DenyLeaveOrganization", "DenyRootUser", "DenyOutsideAllowedRegions", "ProtectGuardrailRoles",
            "DenyAllExceptListedIfNoMFA", "DenyLargeInstances", "TrustGitHubActions",
            "TrustBreakGlassUsersWithMfa", "OrganizationAccountsDescribeKey"} <= deciders
    # Identity Center sessions are among the tested principals.
    assert any(r.test.principal.startswith("permission-set/") for r in compiled.test_results)


def test_committed_output_answers_like_a_fresh_compilation(example: Organization) -> None:
    committed = Organization.from_directory(ROOT / "output")
    for principal, account, action, resource in [
        ("role/BreakGlass", "app-prod", "iam:CreateRole", "*"),
        ("root", "sandbox-1", "s3:ListAllMyBuckets", "*"),
        ("group/developers", "app-dev", "lambda:CreateFunction", "arn:aws:lambda:us-east-1:400000000003:function:app-x"),
    ]:
        assert committed.evaluate(principal, account, action, resource).outcome == \
            example.evaluate(principal, account, action, resource).outcome


def test_scps_are_inherited_from_every_level(example: Organization) -> None:
    decision = example.evaluate("role/BreakGlass", "app-dev", "ec2:RunInstances",
                                "arn:aws:ec2:eu-west-1:400000000003:instance/*", {"ec2:InstanceType": ["p5.48xlarge"]})
    assert decision.outcome == "explicit-deny"
    assert [(m.policy.name, m.policy.level) for m in decision.deciding] == \
        [("workloads-deny-expensive-instances", "ou:Workloads")]
    levels = [s.stage for s in example.evaluate("role/BreakGlass", "app-dev", "s3:ListAllMyBuckets", "*").steps
              if s.stage.startswith("SCPs ")]
    assert levels == ["SCPs root", "SCPs ou:Workloads", "SCPs ou:Workloads/Dev", "SCPs account:app-dev"]


def test_management_account_is_not_restricted_by_scps(example: Organization) -> None:
    decision = example.evaluate("role/BreakGlass", "management", "organizations:LeaveOrganization", "*")
    assert decision.allowed
    assert any("management account" in s.detail for s in decision.steps)


def test_request_context_is_filled_like_aws_does(example: Organization) -> None:
    request, policies = example.prepare(parse_principal("role/GuardrailsCIDeployer"), "app-prod", "s3:GetObject",
                                        "arn:${partition}:s3:::app-data/x")
    assert request.context["aws:principalarn"] == ("arn:aws:iam::400000000001:role/GuardrailsCIDeployer",)
    assert request.context["aws:principalorgid"] == ("o-exampleorg1",)
    assert request.context["aws:requestedregion"] == ("eu-west-1",)  # the home region when the ARN has none
    assert request.resource == "arn:aws:s3:::app-data/x"
    assert policies.boundary is not None and policies.boundary.name == "GuardrailsCIBoundary"


def test_unknown_principals_and_accounts_are_clear_errors(example: Organization) -> None:
    with pytest.raises(EvaluationError, match="role 'Nope' is not deployed in account app-prod"):
        example.evaluate("role/Nope", "app-prod", "s3:GetObject", "*")
    with pytest.raises(EvaluationError, match="unknown account 'app-pord'"):
        example.evaluate("role/BreakGlass", "app-pord", "s3:GetObject", "*")
    with pytest.raises(EvaluationError, match="role/NAME"):
        parse_principal("BreakGlass")


def test_a_widened_boundary_condition_fails_the_build_naming_the_test(tmp_path: Path) -> None:
    """Loosen the admins' iam:PermissionsBoundary condition to any policy: the risk analysis still sees a
    condition, but the access tests know which boundary was meant."""
    blueprint = copy_example(tmp_path)
    identity = blueprint / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    condition = ('          StringEquals:\n            iam:PermissionsBoundary: '
                 '"arn:${partition}:iam::${account_id}:policy/guardrails/GuardrailsWorkloadBoundary"\n')
    assert condition in text
    identity.write_text(text.replace(condition, '          StringLike:\n            iam:PermissionsBoundary: '
                                                '"arn:${partition}:iam::*:policy/*"\n'), encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    # Every stage reports (issue 18): the escalation analysis finds the wider roles too (GR405), beside the test.
    (diagnostic,) = [d for d in caught.value.diagnostics if d.code == "GR401"]
    assert {d.code for d in caught.value.diagnostics} <= {"GR401", "GR405", "GR406"}
    assert "test 'admins-cannot-create-roles-with-another-boundary'" in diagnostic.message
    assert "expected deny, got allow" in diagnostic.message
    assert diagnostic.location is not None and diagnostic.location.file.endswith("tests.yaml")
    assert "guardrails explain group/admins iam:CreateRole" in diagnostic.hint


def test_a_removed_region_exemption_is_caught(tmp_path: Path) -> None:
    """Taking break-glass out of the deployment principals' exemption is exactly what the tests are for."""
    blueprint = copy_example(tmp_path)
    tests = blueprint / "tests.yaml"
    text = tests.read_text(encoding="utf-8")
    # Break-glass in the Workloads OU cannot run the largest instances: pretend someone expected otherwise.
    text = text.replace("    context: {ec2:InstanceType: m7i.48xlarge}\n    expect: deny\n",
                        "    context: {ec2:InstanceType: m7i.48xlarge}\n    expect: allow\n")
    tests.write_text(text, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    messages = [d.message for d in caught.value.diagnostics]
    assert len(messages) == 2  # app-prod and app-dev
    assert all("expected allow, got explicit deny" in m and "DenyLargeInstances" in m for m in messages)


def test_test_names_unknown_principal_or_account_fail_at_load(tmp_path: Path) -> None:
    blueprint = copy_example(tmp_path)
    (blueprint / "more-tests.yaml").write_text(
        "tests:\n"
        "  typo-principal:\n"
        "    principal: role/BreakGlas\n"
        "    account: app-prod\n"
        "    action: s3:GetObject\n"
        "    expect: allow\n"
        "  typo-account:\n"
        "    principal: role/BreakGlass\n"
        "    accounts: [app-pord]\n"
        "    action: s3:GetObject\n"
        "    expect: allow\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    rendered = "\n".join(d.render() for d in caught.value.diagnostics)
    assert "unknown role 'BreakGlas'" in rendered and "did you mean `BreakGlass`?" in rendered
    assert "unknown account 'app-pord'" in rendered and "more-tests.yaml:9" in rendered


def test_a_principal_not_deployed_in_the_account_is_reported(tmp_path: Path) -> None:
    blueprint = copy_example(tmp_path)
    (blueprint / "more-tests.yaml").write_text(
        "tests:\n"
        "  developers-in-prod:\n"
        "    principal: group/developers\n"
        "    account: app-prod\n"
        "    action: s3:GetObject\n"
        "    expect: deny\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GR402" and "group 'developers' is not deployed in account app-prod" in diagnostic.message


def test_run_access_tests_reports_every_case(example_compiled: Compiled) -> None:
    compiled = example_compiled
    results = run_access_tests(compiled)
    expected = sum(len(t.accounts) * len(t.actions) for t in compiled.plan.tests)
    assert len(results) == expected


def test_assuming_a_role_that_is_not_deployed_is_an_error_not_an_identity_decision(example: Organization) -> None:
    with pytest.raises(EvaluationError, match="not a role guardrails deploys in account app-prod"):
        example.evaluate("role/BreakGlass", "app-prod", "sts:AssumeRole", "arn:aws:iam::400000000001:role/BreakGlas")


def test_context_defaults_follow_aws(example: Organization) -> None:
    role, _ = example.prepare(parse_principal("role/SecurityAuditor"), "app-prod", "iam:GetRole", "*")
    assert role.context["aws:requestedregion"] == ("us-east-1",)  # IAM answers in us-east-1
    assert role.context["aws:multifactorauthpresent"] == ("false",)  # temporary credentials carry the key
    assert role.context["aws:resourceaccount"] == ("400000000001",)
    assert role.context["aws:resourceorgid"] == ("o-exampleorg1",)
    user, _ = example.prepare(parse_principal("user/break-glass-alice"), "audit", "s3:ListBucket",
                              "arn:aws:s3:::logs", {"aws:ResourceAccount": ["log-archive"]})
    assert "aws:multifactorauthpresent" not in user.context  # long-term access keys: no MFA key at all
    assert user.resource_account == "200000000001"  # a bucket of another account, by name
    assert ("aws:principaltag/guardrails:purpose", "aws:PrincipalTag/guardrails:purpose", "default") in \
        user.context_origin
    assert ("aws:resourceaccount", "aws:ResourceAccount", "given") in user.context_origin


def test_an_unclosed_account_reference_is_a_clear_error(example: Organization) -> None:
    with pytest.raises(EvaluationError, match="is not closed"):
        example.evaluate("role/BreakGlass", "audit", "sts:AssumeRole", "arn:aws:iam::${account_id:app-prod:role/x")


def test_decided_by_matches_statements_and_policies_not_words(example: Organization) -> None:
    from guardrails.evaluation.assertions import run_tests
    from guardrails.policies.ir import AccessTest

    organization = example
    # A named role: on `*` the SCP protecting the guardrail roles could deny some role first (some_resource.py).
    base = AccessTest("t", "", "role/AppInstance", ("app-prod",), ("iam:CreateRole",),
                      "arn:aws:iam::400000000001:role/workload/escalated", (), "deny")
    for decided_by, ok in (("GuardrailsWorkloadBoundary", True), ("boundary", True), ("allows", False),
                           ("it", False)):
        (result,) = run_tests(organization, [AccessTest(**{**base.__dict__, "decided_by": decided_by})])
        assert result.passed is ok, decided_by
