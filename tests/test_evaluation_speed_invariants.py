"""The evaluator's caches (issue 17) never change a decision: what is kept per account, per class, per level, per
document or per statement answers every later request as a fresh evaluation would. No timing here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.evaluation.engine import Caller, Policy, PolicySet, Request, evaluate, matching_statements
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import glob_matches
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.iam.actions import wildcard_matches
from guardrails.pipeline import Compiled

APP_DEV, DATA_DEV = "400000000003", "400000000004"  # two accounts of the example's class workloads-dev
ACCOUNT = "111111111111"
ROLE = Caller("role", f"arn:aws:iam::{ACCOUNT}:role/app", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1")


@pytest.fixture
def org(example_compiled: Compiled) -> Organization:
    """A fresh Organization per test: its caches start empty, as each test's order of requests needs."""
    return Organization(dict(example_compiled.organization.files))


def _bus(account_id: str) -> str:
    return f"arn:aws:events:eu-west-1:{account_id}:event-bus/default"


def test_two_accounts_of_one_class_read_their_own_account_ids(org: Organization) -> None:
    # The role's inline policy names ${account_id}: each account's copy names its own bus, whichever came first.
    for account, own, other in (("app-dev", APP_DEV, DATA_DEV), ("data-dev", DATA_DEV, APP_DEV),
                                ("app-dev", APP_DEV, DATA_DEV)):
        mine = org.evaluate("role/GuardrailsAlertForwarding", account, "events:PutEvents", _bus(own))
        assert mine.allowed, mine.summary
        [match] = [m for m in mine.deciding if m.policy.kind == "identity"]
        assert match.policy.document["Statement"][0]["Resource"] == _bus(own)
        theirs = org.evaluate("role/GuardrailsAlertForwarding", account, "events:PutEvents", _bus(other))
        assert not theirs.allowed


def test_the_caller_and_its_arns_are_the_accounts_own(org: Organization) -> None:
    first = org.prepare(parse_principal("role/BreakGlass"), "app-dev", "s3:ListAllMyBuckets", "*")[0]
    second = org.prepare(parse_principal("role/BreakGlass"), "data-dev", "s3:ListAllMyBuckets", "*")[0]
    assert first.caller.principal_arn == f"arn:aws:iam::{APP_DEV}:role/BreakGlass"
    assert second.caller.principal_arn == f"arn:aws:iam::{DATA_DEV}:role/BreakGlass"
    assert first.context["aws:principalaccount"] == (APP_DEV,)
    assert second.context["aws:principalaccount"] == (DATA_DEV,)


def test_the_request_context_is_per_request(org: Organization) -> None:
    spec = parse_principal("role/BreakGlass")
    # The region follows the action (global services ask us-east-1) for one principal in one account.
    s3 = org.prepare(spec, "app-dev", "s3:GetObject", "*")[0]
    iam = org.prepare(spec, "app-dev", "iam:CreateUser", "*")[0]
    assert s3.context["aws:requestedregion"] == (org.home_region,)
    assert iam.context["aws:requestedregion"] == ("us-east-1",)
    # A context a request gives stays in that request: the next one gets the defaults again.
    given = org.prepare(spec, "app-dev", "s3:GetObject", "*", {"aws:RequestedRegion": ["us-west-2"],
                                                              "aws:MultiFactorAuthPresent": ["true"]})
    assert given[0].context["aws:requestedregion"] == ("us-west-2",)
    assert ("aws:multifactorauthpresent", "aws:MultiFactorAuthPresent", "given") in given[0].context_origin
    again = org.prepare(spec, "app-dev", "s3:GetObject", "*")[0]
    assert again.context == s3.context | {k: again.context[k] for k in ("aws:currenttime", "aws:epochtime")}
    assert again.context["aws:multifactorauthpresent"] == ("false",)
    assert again.context_origin == s3.context_origin
    # Changing one request's context does not change the next one's.
    again.context["aws:principalarn"] = ("arn:aws:iam::999999999999:role/x",)
    assert org.prepare(spec, "app-dev", "s3:GetObject", "*")[0].context["aws:principalarn"] == \
        (f"arn:aws:iam::{APP_DEV}:role/BreakGlass",)


def test_the_time_keys_are_the_time_of_the_request(org: Organization) -> None:
    before = int(datetime.now(UTC).timestamp())
    context = org.prepare(parse_principal("role/BreakGlass"), "app-dev", "s3:GetObject", "*")[0].context
    after = int(datetime.now(UTC).timestamp())
    assert before <= int(context["aws:epochtime"][0]) <= after
    stamp = datetime.strptime(context["aws:currenttime"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert int(stamp.timestamp()) == int(context["aws:epochtime"][0])


def test_principals_of_one_account_do_not_share_what_is_kept(org: Organization) -> None:
    # The root user and a role of one account, asked in turns and on a fresh organization: the same answers.
    root = org.evaluate("root", "sandbox-1", "s3:ListAllMyBuckets", "*")
    role = org.evaluate("role/BreakGlass", "sandbox-1", "s3:ListAllMyBuckets", "*")
    assert (root.outcome, role.outcome) == (org.evaluate("root", "sandbox-1", "s3:ListAllMyBuckets", "*").outcome,
                                            org.evaluate("role/BreakGlass", "sandbox-1", "s3:ListAllMyBuckets",
                                                         "*").outcome)
    fresh = Organization(dict(org.files))
    assert fresh.evaluate("role/BreakGlass", "sandbox-1", "s3:ListAllMyBuckets", "*").outcome == role.outcome
    assert fresh.evaluate("root", "sandbox-1", "s3:ListAllMyBuckets", "*").outcome == root.outcome


def test_decisions_repeat_exactly(org: Organization, example_compiled: Compiled) -> None:
    # Every case of the example's access tests, twice on one organization and once on a fresh one: same chains.
    from guardrails.evaluation.assertions import run_tests

    tests = example_compiled.plan.tests
    first = [_chain(r.decision) for r in run_tests(org, tests)]
    second = [_chain(r.decision) for r in run_tests(org, tests)]
    fresh = [_chain(r.decision) for r in run_tests(Organization(dict(org.files)), tests)]
    assert first == second == fresh


def _chain(decision: Any) -> Any:
    if decision is None:
        return None
    # The time keys are the only values that may differ between two evaluations.
    return decision.outcome, [(s.stage, s.outcome, s.detail, s.policies,
                               [(m.policy.name, m.index, m.effect, m.principal_match,
                                 [(c.key, c.matched) for c in m.clauses]) for m in (*s.matches, *s.near_misses)])
                              for s in decision.steps]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _request(action: str = "s3:GetObject", resource: str = "arn:aws:s3:::bucket/key", **context: str) -> Request:
    ctx = {"aws:principalarn": (ROLE.principal_arn,)} | {k: (v,) for k, v in context.items()}
    return Request(ROLE, action, resource, ACCOUNT, ctx)


def test_a_policy_with_conditions_is_decided_for_each_context() -> None:
    scp = Policy("deny-outside", "scp", _doc({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
        "StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}, {"Effect": "Allow", "Action": "*",
                                                                     "Resource": "*"}))
    policies = PolicySet(scp_levels=(("root", (scp,)),), identity=(Policy("id", "identity", _doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})),))
    assert evaluate(_request(**{"aws:requestedregion": "eu-west-1"}), policies).allowed
    assert evaluate(_request(**{"aws:requestedregion": "us-east-1"}), policies).outcome == "explicit-deny"
    assert evaluate(_request(**{"aws:requestedregion": "eu-west-1"}), policies).allowed


def test_a_policy_with_variables_in_its_resources_is_decided_for_each_context() -> None:
    policy = Policy("own-prefix", "identity", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}))
    policies = PolicySet(identity=(policy,))
    resource = "arn:aws:s3:::bucket/alice/key"
    assert evaluate(_request(resource=resource, **{"aws:username": "alice"}), policies).allowed
    assert not evaluate(_request(resource=resource, **{"aws:username": "bob"}), policies).allowed
    # A Deny on some resource (`*`) whose pattern holds a variable: asked again for each context.
    deny = Policy("deny", "scp", _doc({"Effect": "Deny", "Action": "s3:GetObject",
                                       "Resource": "arn:aws:s3:::${aws:username}-private/*"},
                                      {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    star = [("object", "arn:${Partition}:s3:::${BucketName}/${ObjectName}")]
    for name in ("alice", "bob"):
        req = Request(ROLE, "s3:GetObject", "*", ACCOUNT, {"aws:username": (name,)}, resource_types=tuple(star))
        assert [m.index for m in matching_statements(deny, req, "Deny")] == [0]


def test_the_same_policy_answers_each_resource_and_action() -> None:
    policy = Policy("id", "identity", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                            "Resource": "arn:aws:s3:::one/*"}))
    policies = PolicySet(identity=(policy,))
    assert evaluate(_request(resource="arn:aws:s3:::one/k"), policies).allowed
    assert not evaluate(_request(resource="arn:aws:s3:::two/k"), policies).allowed
    assert not evaluate(_request("s3:PutObject", "arn:aws:s3:::one/k"), policies).allowed
    assert evaluate(_request(resource="arn:aws:s3:::one/k"), policies).allowed


def test_kept_matches_are_not_shared_lists() -> None:
    policy = Policy("id", "identity", _doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    found = matching_statements(policy, _request(), "Allow")
    found.clear()
    assert len(matching_statements(policy, _request(), "Allow")) == 1


def test_near_misses_are_still_shown_on_an_implicit_deny() -> None:
    policy = Policy("id", "identity", _doc({"Sid": "WithMfa", "Effect": "Allow", "Action": "*", "Resource": "*",
                                            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}))
    decision = evaluate(_request(**{"aws:multifactorauthpresent": "false"}), PolicySet(identity=(policy,)))
    assert decision.outcome == "implicit-deny"
    [miss] = decision.steps[-1].near_misses
    assert miss.sid == "WithMfa" and [(c.key, c.matched) for c in miss.clauses] == [
        ("aws:MultiFactorAuthPresent", False)]


@pytest.mark.parametrize("statements", [
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": 5},),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEqualz": {"k": "v"}}},),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericEquals": {"k": "x"}}},),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Allow", "Action": 7,
                                                                       "Resource": "*"}),
])
def test_a_malformed_policy_raises_every_time(statements: tuple[dict[str, Any], ...]) -> None:
    policies = PolicySet(identity=(Policy("bad", "identity", _doc(*statements)),))
    with pytest.raises(EvaluationError) as first:
        evaluate(_request(), policies)
    with pytest.raises(EvaluationError) as second:
        evaluate(_request(), policies)
    assert str(first.value) == str(second.value)


def test_the_first_malformed_clause_is_the_one_reported() -> None:
    block = {"NumericEquals": {"a": "not-a-number"}, "StringEqualz": {"b": "v"}}
    policy = Policy("bad", "identity", _doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": block}))
    with pytest.raises(EvaluationError, match="not a number"):
        evaluate(_request(), PolicySet(identity=(policy,)))


_GLOB = st.text(alphabet="ab*?:/", max_size=8)


@given(_GLOB, st.text(alphabet="ab*?:/", max_size=8))
def test_glob_matches_is_wildcard_matches(pattern: str, value: str) -> None:
    assert glob_matches(pattern, value) == wildcard_matches(pattern, value, ignore_case=False)


def test_glob_matches_is_case_sensitive() -> None:
    assert glob_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::Bucket/k")
    assert not glob_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k")
    assert not glob_matches("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket")
