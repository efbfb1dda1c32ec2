"""`trust.github_oidc`: the conditions each combination emits, the `workflows` shapes refused, and the evaluator's
answer for tokens of the pinned job and of every other job (issue 13, M1).

A GitHub token's claims are set by GitHub from the run, but whoever may push a branch, open a pull request or add a
workflow file chooses which run that is: the repository, ref, environment and workflow file are the caller's to pick
within what the repository allows, so each one a trust relies on must be pinned.
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from guardrails.blueprint.schema_github import GitHubOidc
from guardrails.evaluation.engine import Caller, Decision, Policy, PolicySet, Request, evaluate
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.pipeline import Compiled
from guardrails.policies.ir import PolicyDocument
from guardrails.policies.trust_github import github_statements

from .conftest import ROOT

HOST = "token.actions.githubusercontent.com"
REPO = "example-org/workloads"
ACCOUNT = "111111111111"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"
DEPLOY = f"{REPO}/.github/workflows/deploy.yml"


def trust(**fields: Any) -> list[dict[str, Any]]:
    """The trust statements of a github_oidc entry, as JSON."""
    gh = GitHubOidc(repository=REPO, **fields)
    info = SimpleNamespace(partition="aws")  # the only field the statements read
    statements = github_statements(gh, HOST, ["sts.amazonaws.com"], info, "test")  # type: ignore[arg-type]
    document = PolicyDocument(tuple(statements))
    return json.loads(json.dumps(document.to_json()).replace("${account_id}", ACCOUNT))["Statement"]


def conditions(**fields: Any) -> dict[str, dict[str, Any]]:
    [statement] = trust(**fields)
    assert statement["Sid"] == "TrustGitHubActions"
    return statement["Condition"]


AUD = {f"{HOST}:aud": "sts.amazonaws.com"}


# ----------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(("fields", "expected"), [
    ({"refs": ["refs/heads/main"]}, {"StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:ref:refs/heads/main"}}),
    ({"refs": ["refs/heads/main", "refs/tags/v*"]},
     {"StringEquals": AUD, "StringLike": {f"{HOST}:sub": [f"repo:{REPO}:ref:refs/heads/main",
                                                          f"repo:{REPO}:ref:refs/tags/v*"]}}),
    ({"environments": ["production"]},
     {"StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:environment:production"}}),
    ({"pull_requests": True}, {"StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:pull_request"}}),
    ({"refs": ["refs/heads/main"], "pull_requests": True},
     {"StringEquals": {**AUD, f"{HOST}:sub": [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main"]}}),
    ({"environments": ["production"], "pull_requests": True},
     {"StringEquals": {**AUD, f"{HOST}:sub": [f"repo:{REPO}:environment:production", f"repo:{REPO}:pull_request"]}}),
])
def test_blueprints_without_the_new_fields_keep_their_trust(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    assert conditions(**fields) == expected


def test_environments_with_refs_pin_the_ref_instead_of_trusting_either() -> None:
    """An environment's sub names no ref: without the ref claim any branch allowed to use the environment could
    deploy, and a job on main outside the environment (its protection rules skipped) would match the ref sub."""
    assert conditions(environments=["production"], refs=["refs/heads/main"]) == {"StringEquals": {
        **AUD, f"{HOST}:sub": f"repo:{REPO}:environment:production", f"{HOST}:ref": "refs/heads/main"}}


def test_each_key_gets_stringlike_only_when_one_of_its_values_has_a_wildcard() -> None:
    assert conditions(environments=["production", "staging"], refs=["refs/heads/release/*"]) == {
        "StringEquals": {**AUD, f"{HOST}:sub": [f"repo:{REPO}:environment:production",
                                                f"repo:{REPO}:environment:staging"]},
        "StringLike": {f"{HOST}:ref": "refs/heads/release/*"}}


def test_workflows_pin_job_workflow_ref_at_each_trusted_ref() -> None:
    assert conditions(refs=["refs/heads/main", "refs/heads/hotfix"], workflows=[".github/workflows/deploy.yml"]) == {
        "StringEquals": {**AUD,
                         f"{HOST}:sub": [f"repo:{REPO}:ref:refs/heads/hotfix", f"repo:{REPO}:ref:refs/heads/main"],
                         f"{HOST}:job_workflow_ref": [f"{DEPLOY}@refs/heads/hotfix", f"{DEPLOY}@refs/heads/main"]}}


def test_workflows_with_their_own_ref_and_reusable_workflows_are_taken_as_written() -> None:
    found = conditions(environments=["production"], refs=["refs/heads/main"], workflows=[
        "example-org/platform/.github/workflows/terraform.yml@refs/tags/v2", ".github/workflows/deploy.yaml@*"])
    assert found["StringLike"] == {f"{HOST}:job_workflow_ref": [
        "example-org/platform/.github/workflows/terraform.yml@refs/tags/v2",
        f"{REPO}/.github/workflows/deploy.yaml@*"]}
    assert found["StringEquals"][f"{HOST}:ref"] == "refs/heads/main"


def test_an_environment_may_name_a_workflow_at_any_ref_explicitly() -> None:
    assert conditions(environments=["production"], workflows=[".github/workflows/deploy.yml@*"]) == {
        "StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:environment:production"},
        "StringLike": {f"{HOST}:job_workflow_ref": f"{DEPLOY}@*"}}


def test_pull_requests_get_their_own_statement_when_pins_would_shut_them_out() -> None:
    statements = trust(environments=["production"], refs=["refs/heads/main"], pull_requests=True,
                       workflows=[".github/workflows/deploy.yml"])
    assert [s["Sid"] for s in statements] == ["TrustGitHubActions", "TrustGitHubPullRequests"]
    assert statements[0]["Condition"] == {"StringEquals": {
        **AUD, f"{HOST}:sub": f"repo:{REPO}:environment:production", f"{HOST}:ref": "refs/heads/main",
        f"{HOST}:job_workflow_ref": f"{DEPLOY}@refs/heads/main"}}
    assert statements[1]["Condition"] == {"StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:pull_request"},
                                          "StringLike": {f"{HOST}:job_workflow_ref": f"{DEPLOY}@refs/pull/*/merge"}}
    # Pinned environments alone also separate them: the ref of a pull request's run is refs/pull/N/merge.
    assert [s["Sid"] for s in trust(environments=["production"], refs=["refs/heads/main"], pull_requests=True)] == [
        "TrustGitHubActions", "TrustGitHubPullRequests"]


def test_pull_requests_alone_take_the_workflow_at_the_merge_ref() -> None:
    assert conditions(pull_requests=True, workflows=[".github/workflows/plan.yml"]) == {
        "StringEquals": {**AUD, f"{HOST}:sub": f"repo:{REPO}:pull_request"},
        "StringLike": {f"{HOST}:job_workflow_ref": f"{REPO}/.github/workflows/plan.yml@refs/pull/*/merge"}}


def test_the_order_of_the_input_does_not_change_the_output() -> None:
    one = trust(environments=["b", "a"], refs=["refs/heads/y", "refs/heads/x"], pull_requests=True,
                workflows=[".github/workflows/z.yml", ".github/workflows/a.yml"])
    two = trust(environments=["a", "b"], refs=["refs/heads/x", "refs/heads/y"], pull_requests=True,
                workflows=[".github/workflows/a.yml", ".github/workflows/z.yml"])
    assert one == two


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("workflow", "message"), [
    ("deploy.yml", "is not a workflow file"),
    (".github/workflows/nested/deploy.yml", "is not a workflow file"),
    (".github/workflows/deploy.txt", "is not a workflow file"),
    (".github/workflows/deploy-*.yml", "wildcards are allowed only in the ref"),
    (".github/workflows/deploy?.yml@refs/heads/main", "wildcards are allowed only in the ref"),
    ("example-org/*/.github/workflows/deploy.yml@refs/heads/main", "wildcards are allowed only in the ref"),
    ("example-org/platform/.github/workflows/terraform.yml", "needs its ref"),
    (".github/workflows/deploy.yml@main", "the ref after `@`"),
    (".github/workflows/deploy.yml@", "is not a workflow file"),
    (".github/workflows/deploy.yml@refs/heads/main extra", "is not a workflow file"),
])
def test_bad_workflow_values_are_refused_at_the_entry(workflow: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GitHubOidc(repository=REPO, refs=["refs/heads/main"], workflows=[".github/workflows/ok.yml", workflow])
    [error] = raised.value.errors()
    assert error["loc"] == ("workflows", 1)
    assert message in error["msg"]


@pytest.mark.parametrize("workflow", [
    ".github/workflows/deploy.yml", ".github/workflows/deploy.yaml", ".github/workflows/deploy.yml@refs/heads/main",
    ".github/workflows/deploy.yml@refs/tags/v*", ".github/workflows/deploy.yml@*",
    "example-org/platform/.github/workflows/terraform.yml@refs/heads/main",
    "example-org/platform/.github/workflows/terraform.yml@0123456789abcdef0123456789abcdef01234567",
])
def test_good_workflow_values_are_accepted(workflow: str) -> None:
    assert GitHubOidc(repository=REPO, refs=["refs/heads/main"], workflows=[workflow]).workflows == [workflow]


def test_an_environment_workflow_without_any_ref_is_refused() -> None:
    with pytest.raises(ValidationError, match="has no ref, and `refs` is empty"):
        GitHubOidc(repository=REPO, environments=["production"], workflows=[".github/workflows/deploy.yml"])


def test_the_error_cases_locate_each_bad_workflow() -> None:
    """tests/errors/github-oidc-workflows holds the rendered diagnostics (test_blueprint_errors compares them)."""
    expected = (ROOT / "tests/errors/github-oidc-workflows/expected.txt").read_text(encoding="utf-8")
    assert [line.split(": error ")[0].rsplit(":", 2)[1] for line in expected.splitlines() if " error " in line] == \
        ["19", "20", "21", "22", "23", "29"]


# ----------------------------------------------------------------------------- the evaluator


def token(sub: str, ref: str | None = None, workflow: str | None = None) -> dict[str, list[str]]:
    claims = {f"{HOST}:aud": ["sts.amazonaws.com"], f"{HOST}:sub": [sub]}
    if ref is not None:
        claims[f"{HOST}:ref"] = [ref]
    if workflow is not None:
        claims[f"{HOST}:job_workflow_ref"] = [workflow]
    return claims


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Organization:
    return example_compiled.organization


def assume(org: Organization, account: str, claims: dict[str, list[str]]) -> bool:
    role = f"arn:aws:iam::{org.account(account).id}:role/GuardrailsCIDeployer"
    decision = org.evaluate(f"federated/{HOST}", account, "sts:AssumeRoleWithWebIdentity", role, claims)
    return decision.allowed


MAIN = "refs/heads/main"


@pytest.mark.parametrize(("account", "environment"), [("app-prod", "production"), ("data-prod", "production"),
                                                      ("app-dev", "development"), ("data-dev", "development")])
def test_the_example_trusts_only_the_deploy_workflow_on_main_in_the_stages_environment(
        example: Organization, account: str, environment: str) -> None:
    other = {"production": "development", "development": "production"}[environment]
    sub = f"repo:{REPO}:environment:{environment}"
    assert assume(example, account, token(sub, MAIN, f"{DEPLOY}@{MAIN}"))
    refused = {
        "the other stage's environment": token(f"repo:{REPO}:environment:{other}", MAIN, f"{DEPLOY}@{MAIN}"),
        "another workflow file": token(sub, MAIN, f"{REPO}/.github/workflows/ci.yml@{MAIN}"),
        "the deploy workflow of a branch": token(sub, "refs/heads/feature", f"{DEPLOY}@refs/heads/feature"),
        "a branch claiming main's workflow": token(sub, "refs/heads/feature", f"{DEPLOY}@{MAIN}"),
        "a branch named to look like main": token(sub, MAIN, f"{DEPLOY}@refs/heads/x.yml@{MAIN}"),
        "a job on main outside the environment": token(f"repo:{REPO}:ref:{MAIN}", MAIN, f"{DEPLOY}@{MAIN}"),
        "a pull request": token(f"repo:{REPO}:pull_request", "refs/pull/7/merge", f"{DEPLOY}@refs/pull/7/merge"),
        "a token without job_workflow_ref": token(sub, MAIN),
        "a token without ref": token(sub, workflow=f"{DEPLOY}@{MAIN}"),
        "a fork's deploy workflow": token(f"repo:someone/workloads:environment:{environment}", MAIN,
                                          f"someone/workloads/.github/workflows/deploy.yml@{MAIN}"),
    }
    assert {why for why, claims in refused.items() if assume(example, account, claims)} == set()


def test_the_example_deploys_one_role_name_with_a_trust_per_stage(example_compiled: Compiled) -> None:
    plan = example_compiled.plan
    subs = {}
    for account in ("app-prod", "app-dev"):
        cls = plan.class_of(account)
        assert cls is not None
        [role] = [r for r in cls.baseline.roles if r.name == "GuardrailsCIDeployer"]
        [statement] = role.trust.to_json()["Statement"]
        subs[account] = statement["Condition"]["StringEquals"][f"{HOST}:sub"]
    assert subs == {"app-prod": f"repo:{REPO}:environment:production",
                    "app-dev": f"repo:{REPO}:environment:development"}


def test_pull_requests_pass_only_their_own_statement() -> None:
    statements = trust(environments=["production"], refs=[MAIN], pull_requests=True,
                       workflows=[".github/workflows/deploy.yml"])
    policies = PolicySet(resource=Policy("trust", "resource", {"Version": "2012-10-17", "Statement": statements}),
                         resource_required=True)
    web = Caller("federated", PROVIDER, None, PROVIDER, federated_provider=PROVIDER)

    def decide(claims: dict[str, list[str]]) -> str:
        request = Request(web, "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{ACCOUNT}:role/ci", ACCOUNT,
                          {k: tuple(v) for k, v in claims.items()})
        decision = evaluate(request, policies)
        return ",".join(m.sid for m in decision.deciding) if decision.allowed else "deny"

    pr = f"repo:{REPO}:pull_request"
    assert decide(token(pr, "refs/pull/7/merge", f"{DEPLOY}@refs/pull/7/merge")) == "TrustGitHubPullRequests"
    assert decide(token(pr, "refs/pull/7/merge", f"{REPO}/.github/workflows/other.yml@refs/pull/7/merge")) == "deny"
    env = f"repo:{REPO}:environment:production"
    assert decide(token(env, MAIN, f"{DEPLOY}@{MAIN}")) == "TrustGitHubActions"
    # A pull request's job in the environment: its ref is the merge ref, not main.
    assert decide(token(env, "refs/pull/7/merge", f"{DEPLOY}@refs/pull/7/merge")) == "deny"


# ----------------------------------------------------------------------------- M1: the CI boundary caps the deployer


def widened(org: Organization, action: str, resource: str, context: dict[str, list[str]]) -> Decision:
    """The deployer's decision with its own policies widened to all of IAM: only GuardrailsCIBoundary (and the
    SCPs) stand between it and IAM administration. The example's risk analysis would refuse such a job function,
    so the identity policies are swapped in the evaluator's inputs."""
    request, policies = org.prepare(parse_principal("role/GuardrailsCIDeployer"), "app-prod", action, resource, context)
    everything = Policy("AllOfIam", "identity", {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllOfIam", "Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
    return evaluate(request, replace(policies, identity=(everything,)))


BOUNDARY = {"iam:PermissionsBoundary": ["arn:aws:iam::{id}:policy/guardrails/GuardrailsWorkloadBoundary"]}


@pytest.mark.parametrize(("action", "resource", "context", "allowed"), [
    ("iam:CreateRole", "role/workload/app-worker", BOUNDARY, True),
    ("iam:CreateRole", "role/workload/app-worker", {}, False),
    ("iam:CreateRole", "role/escalate", BOUNDARY, False),
    ("iam:AttachRolePolicy", "role/workload/app-worker", {}, False),
    ("iam:PutRolePolicy", "role/SecurityAuditor", BOUNDARY, False),
    ("iam:PutRolePermissionsBoundary", "role/workload/app-worker",
     {"iam:PermissionsBoundary": ["arn:aws:iam::aws:policy/AdministratorAccess"]}, False),
    ("iam:PassRole", "role/workload/app-worker", {}, True),
    ("iam:PassRole", "role/SecurityAuditor", {}, False),
    ("iam:UpdateAssumeRolePolicy", "role/SecurityAuditor", {}, False),
    ("iam:CreateInstanceProfile", "instance-profile/workload/app", {}, True),
    ("iam:CreateInstanceProfile", "instance-profile/admin", {}, False),
    ("iam:CreateServiceLinkedRole", "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", {}, True),
    ("iam:CreateUser", "user/deploy-bot", {}, False),
    ("iam:CreatePolicy", "policy/escalate", {}, False),
    ("iam:GetRole", "role/SecurityAuditor", {}, True),
])
def test_the_ci_boundary_allows_iam_only_for_workload_roles_with_the_workload_boundary(
        example: Organization, action: str, resource: str, context: dict[str, list[str]], allowed: bool) -> None:
    account_id = example.account("app-prod").id
    given = {k: [v.format(id=account_id) for v in values] for k, values in context.items()}
    decision = widened(example, action, f"arn:aws:iam::{account_id}:{resource}", given)
    assert decision.allowed is allowed, decision.summary
    if not allowed and decision.outcome == "implicit-deny":
        assert any(s.outcome == "no-allow" and "boundary" in s.stage for s in decision.steps), decision.summary
