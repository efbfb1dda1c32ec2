"""`trust.conditions`, `trust.source_accounts` and `trust.source_arns` (issue 18): any IAM condition on a role's
trust, ANDed into its statements, with the names and values checked and each problem located; the evaluator's
answer for the requests they let in and keep out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.evaluation.engine import Caller, Policy, PolicySet, Request, evaluate
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

SAGEMAKER = """\
roles:
  sagemaker-training:
    name: AppTraining
    path: /workload/
    trust:
      services: [sagemaker.amazonaws.com]
      source_accounts: [self]
      source_arns: ["arn:${partition}:sagemaker:*:${account_id}:training-job/app-*"]
    job_functions: [instance-basics]
    deploy_to: {accounts: [app-dev]}
  platform-admin:
    name: PlatformAdmin
    trust:
      accounts: [{account: audit}]
      require_mfa: true
      conditions:
        StringEquals: {aws:PrincipalTag/team: platform}
        DateLessThan: {aws:CurrentTime: "2030-01-01T00:00:00Z"}
    job_functions: [read-only]
    deploy_to: {accounts: [app-dev]}
"""


def blueprint(tmp_path: Path, extra: str, provider: str = "") -> Path:
    """The example with the roles of ``extra`` (a file of its own) and an OIDC ``provider`` entry added."""
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    (target / "extra.yaml").write_text(extra, encoding="utf-8")
    if provider:
        identity = target / "identity.yaml"
        text = identity.read_text(encoding="utf-8")
        assert "\n  oidc:\n" in text
        identity.write_text(text.replace("\n  oidc:\n", f"\n  oidc:\n    {provider}\n", 1), encoding="utf-8")
    return target


def compiled(tmp_path: Path, extra: str, provider: str = "") -> Compiled:
    return compile_blueprint(blueprint(tmp_path, extra, provider), today=EXAMPLE_TODAY, run_tests=False)


def errors(tmp_path: Path, extra: str, provider: str = "") -> list[Diagnostic]:
    with pytest.raises(BlueprintError) as raised:
        compiled(tmp_path, extra, provider)
    return raised.value.diagnostics


def trust_of(result: Compiled, name: str, account: str = "app-dev") -> dict:  # type: ignore[type-arg]
    org = result.organization
    role = org.role(org.account(account), name)
    return json.loads(result.files[role.trust])


@pytest.fixture(scope="module")
def sagemaker(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compiled(tmp_path_factory.mktemp("sagemaker"), SAGEMAKER)


def test_a_service_trust_names_the_source_account_and_resources(sagemaker: Compiled) -> None:
    [statement] = trust_of(sagemaker, "AppTraining")["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "${account_id}"},
        "ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:*:${account_id}:training-job/app-*"}}


def test_the_service_may_assume_the_role_only_for_the_accounts_own_training_jobs(sagemaker: Compiled) -> None:
    org = sagemaker.organization
    dev = org.account("app-dev").id
    role = f"arn:aws:iam::{dev}:role/workload/AppTraining"

    def assume(context: dict[str, list[str]]) -> str:
        # A service acting for a resource of an organization account sends its organization too (the example's
        # RCP EnforceConfusedDeputyProtection asks for it).
        context = {"aws:SourceOrgID": [org.org_id], **context}
        return org.evaluate("service/sagemaker.amazonaws.com", "app-dev", "sts:AssumeRole", role, context).outcome

    own = f"arn:aws:sagemaker:eu-west-1:{dev}:training-job/app-train-1"
    assert assume({"aws:SourceAccount": [dev], "aws:SourceArn": [own]}) == "allow"
    data = org.account("data-dev").id  # another account of the organization: the trust refuses it
    assert assume({"aws:SourceAccount": [data], "aws:SourceArn": [own.replace(dev, data)]}) == "implicit-deny"
    assert assume({"aws:SourceAccount": [dev],
                   "aws:SourceArn": [own.replace("app-train-1", "other")]}) == "implicit-deny"
    assert assume({}) == "implicit-deny"  # a request on no one's behalf carries neither key


def test_a_conditions_block_is_anded_into_the_account_trust(sagemaker: Compiled) -> None:
    [statement] = trust_of(sagemaker, "PlatformAdmin")["Statement"]
    assert statement["Sid"] == "TrustAccounts"
    assert statement["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        "StringEquals": {"aws:PrincipalTag/team": "platform"}}
    # The trust policy decides on its own: an audit role whose identity policy allows sts:AssumeRole on it.
    org = sagemaker.organization
    dev, audit = org.account("app-dev").id, org.account("audit").id
    role = f"arn:aws:iam::{dev}:role/PlatformAdmin"
    who = Caller("role", f"arn:aws:iam::{audit}:role/Someone", audit, f"arn:aws:sts::{audit}:assumed-role/Someone/s")
    trust = Policy("trust", "resource", json.loads(json.dumps(trust_of(sagemaker, "PlatformAdmin"))
                                                  .replace("${account_id}", dev)))
    identity = Policy("identity", "identity", {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                              "Resource": role}]})

    def decide(tags: dict[str, str]) -> bool:
        context = {"aws:multifactorauthpresent": ("true",), "aws:currenttime": ("2026-12-04T00:00:00Z",),
                   **{f"aws:principaltag/{k}": (v,) for k, v in tags.items()}}
        request = Request(who, "sts:AssumeRole", role, dev, context)
        return evaluate(request, PolicySet(resource=trust, resource_required=True, identity=(identity,))).allowed

    assert decide({"team": "platform"})
    assert not decide({"team": "payments"}) and not decide({})


BAD = """\
roles:
  bad:
    name: Bad
    trust:
      accounts: [{account: audit}]
      conditions:
        StringEqual: {aws:PrincipalTag/team: platform}
        StringEquals:
          aws:PrincipleTag/team: platform
          aws:SourceAccount: "123456789012"
          aws:PrincipalAccount: [audit, "12345"]
        ForAllValues:StringEquals: {aws:PrincipalOrgID: o-abc}
        Bool: {aws:SecureTransport: "yes"}
        ArnLike: {aws:PrincipalArn: "role/x"}
        NumericLessThan: {aws:PrincipalArn: "3"}
    deploy_to: {accounts: [app-dev]}
  bad-oidc:
    name: BadOidc
    trust:
      github_oidc: {repository: example-org/workloads, refs: [refs/heads/main]}
      conditions:
        StringEquals:
          token.actions.githubusercontent.com:sub: "repo:example-org/workloads:ref:refs/heads/dev"
          token.actions.githubusercontent.com:repository_owner_id: "1234"
          gitlab.com:namespace_id: "42"
    deploy_to: {accounts: [app-dev]}
  bad-service:
    name: BadService
    trust:
      services: [sagemaker.amazonaws.com]
      source_accounts: [nowhere]
      source_arns: [not-an-arn]
    deploy_to: {accounts: [app-dev]}
"""


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> list[Diagnostic]:
    return errors(tmp_path_factory.mktemp("bad"), BAD)


def test_every_problem_is_located_with_its_reason(bad: list[Diagnostic]) -> None:
    found = {(d.code, d.location.line if d.location else 0): d for d in bad}
    lines = {line: text for line, text in enumerate(BAD.splitlines(), 1)}
    assert all(d.location and d.location.file.endswith("extra.yaml") for d in bad)
    expected = [
        ("GR316", "StringEqual:", "unknown condition operator 'StringEqual'", "StringEquals"),
        ("GR314", "aws:PrincipleTag/team", "unknown condition key", "aws:PrincipalTag/team"),
        ("GR314", "aws:SourceAccount", "set only by an AWS service", "IfExists"),
        ("GR317", "aws:PrincipalAccount", "'12345' is not an account id", ""),
        ("GR316", "ForAllValues", "ForAllValues on the single-valued key 'aws:PrincipalOrgID'", "StringEquals"),
        ("GR317", "Bool:", "takes `true` or `false`, not 'yes'", ""),
        ("GR317", "ArnLike:", "'role/x' is not an ARN", ""),
        ("GR316", "NumericLessThan", "compares Numeric values, but 'aws:PrincipalArn' is of type ARN", ""),
        ("GR302", "githubusercontent.com:sub", "already conditions 'token.actions.githubusercontent.com:sub'", ""),
        ("GR314", "gitlab.com:namespace_id", "names the OIDC provider 'gitlab.com'", ""),
        ("GR301", "source_accounts", "unknown account 'nowhere'", "self"),
        ("GR317", "source_arns", "'not-an-arn' in `source_arns` is not an ARN", ""),
    ]
    for code, marker, message, hint in expected:
        line = next(n for n, text in lines.items() if marker in text)
        assert (code, line) in found, (code, marker, [d.render() for d in bad])
        diagnostic = found[(code, line)]
        assert message in diagnostic.message and hint in diagnostic.hint, diagnostic.render()
    # repository_owner_id is a GitHub claim AWS checks: not an error. Nothing else was reported.
    assert len(bad) == len(expected), [d.render() for d in bad]


def test_source_keys_need_a_service_trust() -> None:
    from pydantic import ValidationError

    from guardrails.blueprint.schema import Trust

    with pytest.raises(ValidationError, match="narrow a service trust"):
        Trust(accounts=[{"account": "audit"}], source_accounts=["self"])  # type: ignore[list-item]


# ----------------------------------------------------------------------------- GitHub ids, GitLab CI

GH = "token.actions.githubusercontent.com"
GITLAB = 'gitlab: {url: "https://gitlab.com", audiences: [https://gitlab.com]}'
CI = """\
roles:
  gitlab-deployer:
    name: GitLabDeployer
    trust:
      gitlab_oidc:
        project_path: example-group/platform/workloads
        branches: [main]
        tags: ["v*"]
        protected_refs_only: true
        project_id: 4242
    deploy_to: {accounts: [network]}  # outside Workloads, whose RCP trusts GitHub only
  github-pinned:
    name: GitHubPinned
    trust:
      github_oidc:
        repository: example-org/workloads
        refs: [refs/heads/main]
        repository_id: 123456
        repository_owner_id: 987
    deploy_to: {accounts: [app-dev]}
"""


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compiled(tmp_path_factory.mktemp("ci"), CI, GITLAB)


def test_github_ids_are_pinned_with_their_claims(ci: Compiled) -> None:
    [statement] = trust_of(ci, "GitHubPinned")["Statement"]
    assert statement["Condition"] == {"StringEquals": {
        f"{GH}:aud": "sts.amazonaws.com", f"{GH}:sub": "repo:example-org/workloads:ref:refs/heads/main",
        f"{GH}:repository_id": "123456", f"{GH}:repository_owner_id": "987"}}
    org = ci.organization
    role = f"arn:aws:iam::{org.account('app-dev').id}:role/GitHubPinned"

    def assume(owner: str) -> bool:
        claims = {f"{GH}:aud": ["sts.amazonaws.com"], f"{GH}:sub": ["repo:example-org/workloads:ref:refs/heads/main"],
                  f"{GH}:repository_id": ["123456"], f"{GH}:repository_owner_id": [owner]}
        return org.evaluate(f"federated/{GH}", "app-dev", "sts:AssumeRoleWithWebIdentity", role, claims).allowed

    assert assume("987")
    assert not assume("555")  # an owner who took over the name after a rename


def test_gitlab_pins_project_and_refs_in_sub_and_the_ids_in_their_keys(ci: Compiled) -> None:
    [statement] = trust_of(ci, "GitLabDeployer", "network")["Statement"]
    assert statement["Sid"] == "TrustGitLabCi"
    assert statement["Principal"] == {"Federated": "arn:aws:iam::${account_id}:oidc-provider/gitlab.com"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {"gitlab.com:aud": "https://gitlab.com", "gitlab.com:project_id": "4242",
                         "gitlab.com:ref_protected": "true"},
        "StringLike": {"gitlab.com:sub": [
            "project_path:example-group/platform/workloads:ref_type:branch:ref:main",
            "project_path:example-group/platform/workloads:ref_type:tag:ref:v*"]}}
    org = ci.organization
    role = f"arn:aws:iam::{org.account('network').id}:role/GitLabDeployer"
    path = "example-group/platform/workloads"

    def assume(sub: str, protected: str = "true", project: str = "4242") -> bool:
        claims = {"gitlab.com:aud": ["https://gitlab.com"], "gitlab.com:sub": [sub],
                  "gitlab.com:ref_protected": [protected], "gitlab.com:project_id": [project]}
        return org.evaluate("federated/gitlab.com", "network", "sts:AssumeRoleWithWebIdentity", role, claims).allowed

    assert assume(f"project_path:{path}:ref_type:branch:ref:main")
    assert assume(f"project_path:{path}:ref_type:tag:ref:v1.2.0")
    assert not assume(f"project_path:{path}:ref_type:branch:ref:feature")
    assert not assume(f"project_path:{path}:ref_type:branch:ref:v1")  # a branch named like a tag
    assert not assume(f"project_path:{path}:ref_type:branch:ref:main", protected="false")
    assert not assume(f"project_path:{path}:ref_type:branch:ref:main", project="1")


def test_gitlab_refuses_what_aws_cannot_check() -> None:
    from pydantic import ValidationError

    from guardrails.blueprint.schema_gitlab import GitLabOidc

    with pytest.raises(ValidationError, match="not offer as a condition key"):
        GitLabOidc.model_validate({"project_path": "g/p", "branches": ["main"], "environment": "production"})
    with pytest.raises(ValidationError, match="at least one of `branches` or `tags`"):
        GitLabOidc(project_path="g/p")
    with pytest.raises(ValidationError):
        GitLabOidc(project_path="g/*", branches=["main"])  # a wildcard in the project would match other projects


def test_gitlab_claim_keys_need_gitlab_com(tmp_path: Path) -> None:
    provider = GITLAB.replace('url: "https://gitlab.com"', 'url: "https://gitlab.example.com"')
    [problem] = [d for d in errors(tmp_path, CI, provider) if d.code == "GR311"]
    assert "protected_refs_only, project_id can be checked only for tokens of gitlab.com" in problem.message


# ----------------------------------------------------------------------------- confused-deputy warning

PERSONALIZE = """\
roles:
  personalize-open:
    name: PersonalizeOpen
    trust: {services: [personalize.amazonaws.com]}
    deploy_to: {accounts: [app-dev]}
  personalize-narrowed:
    name: PersonalizeNarrowed
    trust:
      services: [personalize.amazonaws.com]
      conditions: {StringEquals: {aws:SourceAccount: app-dev}}
    deploy_to: {accounts: [app-dev]}
"""


def test_a_documented_service_trust_without_source_keys_is_warned_about(tmp_path: Path,
                                                                         example_compiled: Compiled) -> None:
    result = compiled(tmp_path, PERSONALIZE)
    [warning] = [w for w in result.warnings if "confused deputy" in w.message]
    assert warning.code == "GR320" and "'personalize-open'" in warning.message
    assert warning.location is not None and warning.location.file.endswith("extra.yaml")
    assert "source_accounts: [self]" in warning.hint
    # An account name of the blueprint is written as its id for account-id keys.
    [statement] = trust_of(result, "PersonalizeNarrowed")["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": result.organization.account("app-dev").id}}
    assert not [w for w in example_compiled.warnings if "confused deputy" in w.message]  # the example: EC2 only


def test_a_key_of_two_types_takes_either_family(tmp_path: Path) -> None:
    """aws:EpochTime is "Date or Numeric" (global_condition_keys.yaml): Date* and Numeric* both compare it."""
    extra = SAGEMAKER.split("  platform-admin:")[0] + """\
  epoch-admin:
    name: EpochAdmin
    trust:
      accounts: [{account: audit}]
      conditions:
        DateLessThan: {aws:EpochTime: "2030-01-01T00:00:00Z"}
        NumericLessThan: {aws:EpochTime: 1893456000}
    job_functions: [read-only]
    deploy_to: {accounts: [app-dev]}
"""
    conditions = trust_of(compiled(tmp_path, extra), "EpochAdmin")["Statement"][0]["Condition"]
    assert {"DateLessThan", "NumericLessThan"} <= set(conditions)
