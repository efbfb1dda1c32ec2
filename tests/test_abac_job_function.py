"""A job function whose resource names follow a principal tag (issue 18): `name_prefix: "${aws:PrincipalTag/team}-"`
gives one job function to N teams. The policy names resources with the policy variable, the evaluator substitutes
the caller's tag, and the job function denies changing the tag that decides what it reaches.
"""

from __future__ import annotations

import json
import shutil

import pytest

from guardrails.blueprint.schema import Grant, JobFunction, Statement
from guardrails.evaluation.organization import Organization
from guardrails.model.abac import name_tags
from guardrails.model.library import effective_job
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.validators import run_own_checks

from .conftest import EXAMPLE_TODAY, ROOT

TAGGED = '    parameters: {name_prefix: "${aws:PrincipalTag/team}-"}\n'
PLAIN = "  developer:\n    library: workload-developer\n    parameters: {name_prefix: app-}\n"


# A team's role: its tag is the principal tag of its sessions.
SHOP_ROLE = """\
roles:
  shop-developer:
    name: ShopDeveloper
    trust: {accounts: [{account: audit}], require_mfa: true}
    job_functions: [developer]
    tags: {team: shop}
    deploy_to: {accounts: [app-dev]}
"""


@pytest.fixture(scope="module")
def abac(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The example with the developer job function named by the caller's `team` tag (its tests left out: they
    give no tag)."""
    target = tmp_path_factory.mktemp("abac") / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    identity = target / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    assert PLAIN in text, "the example's developer job function changed: update this test"
    identity.write_text(text.replace(PLAIN, "  developer:\n    library: workload-developer\n" + TAGGED, 1),
                        encoding="utf-8")
    (target / "extra.yaml").write_text(SHOP_ROLE, encoding="utf-8")
    return compile_blueprint(target, today=EXAMPLE_TODAY, run_tests=False)


def developer_documents(result: Compiled) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(text) for path, text in sorted(result.files.items())
            if path.startswith("policies/accounts/workloads-dev/managed/guardrails-developer")]


def test_the_policy_names_resources_with_the_policy_variable(abac: Compiled) -> None:
    resources = {r for doc in developer_documents(abac) for s in doc["Statement"]
                 for r in ([s["Resource"]] if isinstance(s.get("Resource"), str) else s.get("Resource", []))}
    assert "arn:aws:s3:::${aws:PrincipalTag/team}-*" in resources
    assert "arn:aws:lambda:*:${account_id}:function:${aws:PrincipalTag/team}-*" in resources
    assert not any("app-" in r for r in resources)
    terraform = abac.files["terraform/modules/baseline-workloads-dev/iam_policies.tf"]
    assert "$${aws:PrincipalTag/team}-*" in terraform  # escaped: Terraform would interpolate ${…}


def test_own_checks_find_nothing_in_the_tagged_names(abac: Compiled) -> None:
    """No finding about the policy variable (a literal or a wildcard name)."""
    templates = {p: t for p, t in abac.files.items() if p.startswith("cloudformation/")}
    assert run_own_checks(abac.plan, templates) == []


def test_each_caller_reaches_the_names_of_its_own_tag(abac: Compiled) -> None:
    org: Organization = abac.organization

    def get(bucket: str, **tags: str) -> str:
        context = {f"aws:PrincipalTag/{k}": [v] for k, v in tags.items()}
        return org.evaluate("group/developers", "app-dev", "s3:GetObject",
                            f"arn:aws:s3:::{bucket}/report.csv", context).outcome

    assert get("shop-data", team="shop") == "allow"
    assert get("pay-data", team="pay") == "allow"
    assert get("pay-data", team="shop") == "implicit-deny"   # another team's bucket
    assert get("shop-data") == "implicit-deny"               # no tag: the variable matches nothing


def test_a_roles_tag_is_the_principal_tag_of_its_sessions(abac: Compiled) -> None:
    org = abac.organization

    def get(bucket: str, context: dict[str, list[str]] | None = None) -> str:
        return org.evaluate("role/ShopDeveloper", "app-dev", "s3:GetObject", f"arn:aws:s3:::{bucket}/x",
                            context).outcome

    assert get("shop-data") == "allow"
    assert get("pay-data") == "implicit-deny"
    assert get("pay-data", {"aws:PrincipalTag/team": ["pay"]}) == "allow"  # a session tag overrides the role's


@pytest.mark.parametrize("action", ["iam:TagRole", "iam:TagUser", "iam:UntagRole", "iam:UntagUser",
                                    "sts:TagSession", "iam:CreateRole"])
def test_the_job_function_denies_changing_the_tag(abac: Compiled, action: str) -> None:
    org = abac.organization
    resource = "arn:aws:iam::${account_id}:role/workload/app-x" if action.startswith("iam:") and "Role" in action \
        else "arn:aws:iam::${account_id}:user/member-of-developers" if "User" in action else "*"
    decision = org.evaluate("group/developers", "app-dev", action, resource,
                            {"aws:TagKeys": ["Team"], "aws:PrincipalTag/team": ["shop"]})
    assert decision.outcome == "explicit-deny"
    assert "DenyChangingPrincipalTags" in {m.sid for m in decision.deciding}


def test_the_protection_follows_any_tag_named_resource_and_only_those() -> None:
    own = JobFunction(statements=[Statement(actions=["sqs:SendMessage"],
                                            resources=["arn:${partition}:sqs:*:*:${aws:PrincipalTag/cost-center}-*"])])
    [deny] = [s for s in effective_job(own).statements if s.effect == "Deny"]
    assert deny.conditions == {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["cost-center"]}}
    # workload-developer's EC2 access follows the team tag (tests/test_abac_tag_protection.py); the viewer's nothing.
    plain = JobFunction(library="viewer")
    assert not [s for s in effective_job(plain).statements if s.sid == "DenyChangingPrincipalTags"]
    # A Deny that names the tag is no grant that follows it.
    assert name_tags([Grant(service="s3", access=["read"])],
                     [Statement(effect="Deny", actions=["s3:*"], resources=["${aws:PrincipalTag/x}"])]) == []


def test_a_name_prefix_is_a_literal_prefix_or_one_principal_tag() -> None:
    from guardrails.model.catalog import ParameterError

    for value in ("${aws:PrincipalTag/team}", "${aws:PrincipalTag/team}-web-"):
        effective_job(JobFunction(library="workload-developer", parameters={"name_prefix": value}))
    for value in ("${aws:username}-", "App-", "${aws:PrincipalTag/team}*"):
        with pytest.raises(ParameterError):
            effective_job(JobFunction(library="workload-developer", parameters={"name_prefix": value}))
