"""A job function whose grants are conditioned on a tag protects that tag (issue 18): workload-developer starts
and stops the instances whose `team` tag equals the caller's, so its principals may not set `team` on themselves,
give a resource another team's `team`, or retag another team's resource. Proved with the evaluator on the
example, with a developer that may tag instances (what a team would add to the built-in)."""

from __future__ import annotations

import json
import shutil

import pytest

from guardrails.blueprint.schema import Grant, JobFunction, Statement
from guardrails.model.abac import access_tags
from guardrails.model.library import effective_job
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

PLAIN = "  developer:\n    library: workload-developer\n    parameters: {name_prefix: app-}\n"
TAGGING = """\
    statements:
      - sid: TagInstances
        actions: ["ec2:CreateTags", "ec2:DeleteTags"]
        resources: ["arn:${partition}:ec2:*:${account_id}:instance/*"]
"""
INSTANCE = "arn:aws:ec2:eu-west-1:${account_id}:instance/i-0123456789abcdef0"
SIDS = {"DenyChangingPrincipalTags", "DenyOtherTagValues", "DenyRetaggingOthersResources", "DenyTagKeyWithoutOwnTag"}


@pytest.fixture(scope="module")
def tagging(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The example whose developers may also tag and untag instances."""
    target = tmp_path_factory.mktemp("tags") / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    identity = target / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    assert PLAIN in text, "the example's developer job function changed: update this test"
    identity.write_text(text.replace(PLAIN, PLAIN + TAGGING, 1), encoding="utf-8")
    return compile_blueprint(target, today=EXAMPLE_TODAY, run_tests=False)


def _tag(result: Compiled, action: str, **tags: str | list[str]) -> str:
    """The outcome of tagging the instance; keywords are context keys with `:` and `/` spelt `_` and `__`."""
    context = {_key(k): v if isinstance(v, list) else [v] for k, v in tags.items()}
    return result.organization.evaluate("group/developers", "app-dev", action, INSTANCE, context).outcome


def _key(word: str) -> str:
    return word.replace("__", "/").replace("_", ":", 1)


def test_the_developer_denies_changing_the_team_tag() -> None:
    job = effective_job(JobFunction(library="workload-developer", parameters={"name_prefix": "app-"}))
    denies = {s.sid: s for s in job.statements if s.effect == "Deny"}
    assert SIDS <= set(denies)
    assert denies["DenyOtherTagValues"].actions == ["ec2:CreateTags", "ec2:DeleteTags"]
    assert denies["DenyOtherTagValues"].conditions == {
        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["team"]},
        "StringNotEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"}}
    assert denies["DenyRetaggingOthersResources"].conditions == {
        "Null": {"aws:ResourceTag/team": "false"},
        "StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    other = effective_job(JobFunction(library="workload-developer",
                                      parameters={"name_prefix": "app-", "team_tag": "cost-center"}))
    assert {"aws:TagKeys": ["cost-center"]} in [s.conditions.get("ForAnyValue:StringEqualsIgnoreCase")
                                                for s in other.statements if s.effect == "Deny" and s.conditions]


def test_a_team_tags_its_own_and_untagged_instances_with_its_own_value(tagging: Compiled) -> None:
    shop = {"aws_PrincipalTag__team": "shop", "aws_TagKeys": ["team"], "aws_RequestTag__team": "shop"}
    assert _tag(tagging, "ec2:CreateTags", **shop) == "allow"                                   # untagged instance
    assert _tag(tagging, "ec2:CreateTags", **shop, aws_ResourceTag__team="shop") == "allow"
    assert _tag(tagging, "ec2:CreateTags", aws_PrincipalTag__team="shop", aws_TagKeys=["Name"],
                aws_RequestTag__Name="web", aws_ResourceTag__team="shop") == "allow"              # other keys


@pytest.mark.parametrize(("case", "sid"), [
    ({"aws_RequestTag__team": "pay"}, "DenyOtherTagValues"),                         # another team's value
    ({"aws_RequestTag__team": "shop", "aws_ResourceTag__team": "pay"}, "DenyRetaggingOthersResources"),
    ({"aws_RequestTag__team": "PAY", "aws_ResourceTag__team": "shop"}, "DenyOtherTagValues"),   # values are exact
])
def test_a_team_cannot_tag_for_or_take_over_another_team(tagging: Compiled, case: dict[str, str], sid: str) -> None:
    for action in ("ec2:CreateTags", "ec2:DeleteTags"):
        decision = tagging.organization.evaluate(
            "group/developers", "app-dev", action, INSTANCE,
            {"aws:PrincipalTag/team": ["shop"], "aws:TagKeys": ["TEAM"],  # tag keys are case-insensitive
             **{_key(k): [v] for k, v in case.items()}})
        assert decision.outcome == "explicit-deny", action
        assert sid in {m.sid for m in decision.deciding}


def test_a_caller_without_the_tag_may_not_set_it(tagging: Compiled) -> None:
    """The Denies above compare with ${aws:PrincipalTag/team}, which an untagged caller leaves unresolved (AWS
    may skip such a statement): a Deny without the variable stops the untagged caller on its own."""
    decision = tagging.organization.evaluate("group/developers", "app-dev", "ec2:CreateTags", INSTANCE,
                                             {"aws:TagKeys": ["team"], "aws:RequestTag/team": ["pay"]})
    assert decision.outcome == "explicit-deny"
    assert "DenyTagKeyWithoutOwnTag" in {m.sid for m in decision.deciding}
    assert _tag(tagging, "ec2:CreateTags", aws_TagKeys=["Name"], aws_RequestTag__Name="web") == "allow"


def test_another_teams_instance_takes_no_tag_at_all(tagging: Compiled) -> None:
    assert _tag(tagging, "ec2:CreateTags", aws_PrincipalTag__team="shop", aws_TagKeys=["Name"],
                aws_RequestTag__Name="x", aws_ResourceTag__team="pay") == "explicit-deny"


def test_the_developer_policies_stay_within_the_size_limit(tagging: Compiled) -> None:
    """6,144 characters for a managed policy (whitespace not counted)."""
    documents = {p: t for p, t in tagging.files.items()
                 if p.startswith("policies/accounts/workloads-dev/managed/guardrails-developer")}
    assert documents
    for path, text in documents.items():
        assert len(json.dumps(json.loads(text), separators=(",", ":"))) <= 6144, path
    sids = {s.get("Sid") for t in documents.values() for s in json.loads(t)["Statement"]}
    assert SIDS <= sids


def test_conditions_of_grants_and_statements_name_the_tags() -> None:
    tags = access_tags(
        [Grant(service="lambda", access=["write"], conditions={"match_principal_tags": ["project"]}),
         Grant(service="dynamodb", access=["read"], conditions={"resource_tags": {"env": "dev"},
                                                                 "principal_tags": {"dept": "ops"}})],
        [Statement(actions=["ec2:StartInstances"], resources=["*"],
                   conditions={"StringEquals": {"ec2:ResourceTag/owner": "${aws:PrincipalTag/owner}"}}),
         Statement(effect="Deny", actions=["s3:*"], resources=["*"],  # a Deny depends on nothing
                   conditions={"StringNotEquals": {"aws:ResourceTag/zone": "${aws:PrincipalTag/zone}"}})])
    assert tags.principal == ["project", "dept", "owner"]
    assert tags.own == {"project": ["lambda"], "owner": ["ec2"]}
    assert tags.fixed == {"env": ["dynamodb"]}


def test_a_fixed_resource_tag_may_not_be_set_or_removed() -> None:
    own = JobFunction(grants=[Grant(service="dynamodb", access=["read"], conditions={"resource_tags": {"env": "dev"}})])
    [deny] = [s for s in effective_job(own).statements if s.effect == "Deny"]
    assert deny.sid == "DenyChangingResourceAccessTags"
    assert deny.actions == ["dynamodb:TagResource", "dynamodb:UntagResource"]
    assert deny.conditions == {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["env"]}}


def test_a_job_function_without_tag_conditions_gets_no_protection() -> None:
    plain = JobFunction(library="viewer")
    assert not [s for s in effective_job(plain).statements if s.sid in {*SIDS, "DenyChangingResourceAccessTags"}]
