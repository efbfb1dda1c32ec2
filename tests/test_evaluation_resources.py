"""Resource-based policies of the plan in the evaluator's decisions.

AWS's rules: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html (same
account: identity or resource policy), ..._evaluation-logic-cross-account.html (both sides), and for KMS
https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html (IAM policies count only when the
key policy allows the account). Small synthetic organizations pin each rule; the compiled example shows them on the
security baseline's real bucket, key and topic policies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from guardrails.evaluation.assertions import failure_diagnostics, run_tests
from guardrails.evaluation.engine import Caller, Policy, PolicySet, Request, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import MANIFEST, Organization, parse_principal
from guardrails.pipeline import Compiled
from guardrails.policies.ir import AccessTest


ALPHA, BETA, OUTSIDE = "111111111111", "222222222222", "333333333333"
BUCKET = "arn:aws:s3:::data-bucket"
KEY = f"arn:aws:kms:eu-west-1:{ALPHA}:key/data-key"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(principal: Any, action: str, resource: str = "*", effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def root(account: str) -> dict[str, str]:
    return {"AWS": f"arn:aws:iam::{account}:root"}


def tiny(*, bucket: dict[str, Any] | None = None, key: dict[str, Any] | None = None,
         topic: dict[str, Any] | None = None) -> Organization:
    """Two member accounts of one class: role ``app`` may do anything with S3, KMS and SNS, role ``bare`` nothing."""
    files: dict[str, str] = {
        "policies/accounts/app/managed/app-admin.json": json.dumps(doc({"Effect": "Allow",
                                                                        "Action": ["s3:*", "kms:*", "sns:*", "sts:*",
                                                                                   "dynamodb:*"],
                                                                        "Resource": "*"})),
        "policies/accounts/app/trust/app.json": json.dumps(doc(grant(root("${account_id}"), "sts:AssumeRole"))),
    }
    resource_policies = []
    for key_name, kind, arn, document, accounts, regions in (
            ("data-bucket", "s3-bucket", BUCKET, bucket, ["alpha"], ["eu-west-1"]),
            ("data-key", "kms-key", "arn:aws:kms:${region}:${account_id}:key/*", key, ["alpha"], ["eu-west-1"]),
            ("alerts", "sns-topic", "arn:aws:sns:${region}:${account_id}:alerts", topic, ["alpha"],
             ["eu-west-1", "us-east-1"])):
        if document is None:
            continue
        path = f"policies/resources/{key_name}.json"
        files[path] = json.dumps(document)
        resource_policies.append({"key": key_name, "kind": kind, "resource": arn, "file": path,
                                  "accounts": accounts, "regions": regions, "description": ""})
    roles = [{"name": name, "path": "/", "trust": "policies/accounts/app/trust/app.json", "policies": policies,
              "inline_policies": [], "boundary": None, "max_session_duration": 3600}
             for name, policies in (("app", ["arn:aws:iam::${account_id}:policy/app-admin"]), ("bare", []))]
    files[MANIFEST] = json.dumps({
        "format": "guardrails-policies/1",
        "organization": {"name": "tiny", "partition": "aws", "id": "o-tiny", "root_id": "r-tiny",
                         "management_account": None, "home_region": "eu-west-1", "allowed_regions": []},
        "units": [],
        "accounts": [{"name": "alpha", "id": ALPHA, "unit": "", "management": False, "class": "app"},
                     {"name": "beta", "id": BETA, "unit": "", "management": False, "class": "app"}],
        "service_control_policies": [], "resource_control_policies": [],
        "classes": {"app": {"accounts": ["alpha", "beta"], "roles": roles, "groups": [], "users": [],
                            "managed_policies": {"arn:aws:iam::${account_id}:policy/app-admin": {
                                "name": "app-admin", "kind": "managed",
                                "file": "policies/accounts/app/managed/app-admin.json"}}}},
        "resource_policies": resource_policies,
    })
    return Organization(files)


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Organization:
    files = example_compiled.files
    return Organization({p: t for p, t in files.items() if p.startswith("policies/")})


# ----------------------------------------------------------------------------- same account


def test_same_account_the_resource_policy_or_the_identity_policies_may_allow() -> None:
    org = tiny(bucket=doc(grant({"AWS": role(ALPHA, "bare")}, "s3:GetObject", f"{BUCKET}/*")))
    by_bucket = org.evaluate("role/bare", "alpha", "s3:GetObject", f"{BUCKET}/report.csv")
    assert by_bucket.allowed
    assert [m.policy.name for m in by_bucket.deciding] == ["bucket policy data-bucket"]
    assert org.evaluate("role/bare", "alpha", "s3:PutObject", f"{BUCKET}/report.csv").outcome == "implicit-deny"
    by_identity = org.evaluate("role/app", "alpha", "s3:PutObject", f"{BUCKET}/report.csv")
    assert by_identity.allowed and [m.policy.name for m in by_identity.deciding] == ["app-admin"]
    step = next(s for s in by_identity.steps if s.stage == "resource policy")
    assert step.outcome == "not-applicable" and "policies/resources/data-bucket.json" in step.detail


def test_an_explicit_deny_in_the_resource_policy_wins() -> None:
    org = tiny(bucket=doc(grant("*", "s3:DeleteObject", f"{BUCKET}/*", effect="Deny", Sid="KeepEverything")))
    decision = org.evaluate("role/app", "alpha", "s3:DeleteObject", f"{BUCKET}/report.csv")
    assert decision.outcome == "explicit-deny" and [m.sid for m in decision.deciding] == ["KeepEverything"]
    assert org.evaluate("role/app", "alpha", "s3:GetObject", f"{BUCKET}/report.csv").allowed


def test_a_bucket_of_the_plan_is_in_its_own_account_whoever_asks() -> None:
    org = tiny(bucket=doc(grant(root(BETA), "s3:GetObject", f"{BUCKET}/*")))
    request, policies = org.prepare(parse_principal("role/app"), "beta", "s3:GetObject", f"{BUCKET}/x")
    assert request.resource_account == ALPHA and request.context["aws:resourceaccount"] == (ALPHA,)
    assert policies.resource is not None and policies.resource.source == "policies/resources/data-bucket.json"
    with pytest.raises(EvaluationError, match="is in account alpha"):
        org.evaluate("role/app", "beta", "s3:GetObject", f"{BUCKET}/x", {"aws:ResourceAccount": ["beta"]})


# ----------------------------------------------------------------------------- across accounts


def test_across_accounts_both_sides_must_allow() -> None:
    org = tiny(bucket=doc(grant(root(BETA), "s3:GetObject", f"{BUCKET}/*")))
    assert org.evaluate("role/app", "beta", "s3:GetObject", f"{BUCKET}/x").allowed
    caller_side = org.evaluate("role/bare", "beta", "s3:GetObject", f"{BUCKET}/x")
    assert caller_side.outcome == "implicit-deny" and caller_side.steps[-1].stage == "identity"
    resource_side = org.evaluate("role/app", "beta", "s3:PutObject", f"{BUCKET}/x")
    assert resource_side.outcome == "implicit-deny" and resource_side.steps[-1].stage == "resource policy"
    assert "bucket policy data-bucket" in resource_side.steps[-1].policies


def test_across_accounts_a_grant_naming_the_role_still_needs_its_identity_policy() -> None:
    org = tiny(bucket=doc(grant({"AWS": role(BETA, "bare")}, "s3:GetObject", f"{BUCKET}/*")))
    assert org.evaluate("role/bare", "beta", "s3:GetObject", f"{BUCKET}/x").outcome == "implicit-deny"
    same_account = tiny(bucket=doc(grant({"AWS": role(ALPHA, "bare")}, "s3:GetObject", f"{BUCKET}/*")))
    assert same_account.evaluate("role/bare", "alpha", "s3:GetObject", f"{BUCKET}/x").allowed


# ----------------------------------------------------------------------------- KMS keys


def test_iam_policies_count_for_a_key_only_when_its_policy_allows_the_account() -> None:
    service_only = tiny(key=doc(grant({"Service": "events.amazonaws.com"}, "kms:Decrypt")))
    decision = service_only.evaluate("role/app", "alpha", "kms:Decrypt", KEY)
    assert decision.outcome == "implicit-deny"
    assert decision.steps[-1].stage == "resource policy" and "no IAM policy can grant it" in decision.steps[-1].detail
    delegated = tiny(key=doc(grant(root(ALPHA), "kms:*", Sid="EnableIamPolicies")))
    assert delegated.evaluate("role/app", "alpha", "kms:Decrypt", KEY).allowed
    assert delegated.evaluate("role/bare", "alpha", "kms:Decrypt", KEY).outcome == "implicit-deny"


def test_the_key_policy_delegates_only_the_actions_it_allows_the_account() -> None:
    org = tiny(key=doc(grant(root(ALPHA), "kms:DescribeKey")))
    assert org.evaluate("role/app", "alpha", "kms:DescribeKey", KEY).allowed
    assert org.evaluate("role/app", "alpha", "kms:Decrypt", KEY).outcome == "implicit-deny"


def test_a_key_policy_naming_the_role_grants_in_its_account_without_iam() -> None:
    org = tiny(key=doc(grant({"AWS": role(ALPHA, "bare")}, "kms:Decrypt")))
    assert org.evaluate("role/bare", "alpha", "kms:Decrypt", KEY).allowed


def test_the_root_user_may_use_a_key_its_policy_gives_the_account() -> None:
    # Unlike a trust policy, a key policy may allow the root user.
    org = tiny(key=doc(grant(root(ALPHA), "kms:*")))
    assert org.evaluate("root", "alpha", "kms:Decrypt", KEY).allowed


def test_another_key_of_the_callers_account_gets_the_default_key_policy() -> None:
    org = tiny(key=doc(grant({"Service": "events.amazonaws.com"}, "kms:Decrypt")))
    decision = org.evaluate("role/app", "alpha", "kms:Decrypt", f"arn:aws:kms:eu-west-1:{ALPHA}:key/0a1b2c3d")
    assert decision.allowed
    assert "default key policy" in {m.policy.name for m in decision.deciding}
    assert org.evaluate("role/bare", "alpha", "kms:Decrypt",
                        f"arn:aws:kms:eu-west-1:{ALPHA}:key/0a1b2c3d").outcome == "implicit-deny"


def test_a_key_of_the_plan_named_where_it_is_not_deployed_is_an_error() -> None:
    org = tiny(key=doc(grant(root(ALPHA), "kms:*")))
    with pytest.raises(EvaluationError, match="the KMS key data-key is deployed in alpha"):
        org.evaluate("role/app", "beta", "kms:Decrypt", f"arn:aws:kms:eu-west-1:{BETA}:key/data-key")


# ----------------------------------------------------------------------------- what guardrails cannot know


def test_a_resource_outside_the_organization_is_unknown() -> None:
    org = tiny()
    for action, resource, context in (
            ("s3:GetObject", "arn:aws:s3:::their-bucket/x", {"aws:ResourceAccount": [OUTSIDE]}),
            ("kms:Decrypt", f"arn:aws:kms:eu-west-1:{OUTSIDE}:key/0a1b2c3d", {}),
            ("sts:AssumeRole", role(OUTSIDE, "partner"), {}),
            ("dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{OUTSIDE}:table/orders", {})):
        decision = org.evaluate("role/app", "alpha", action, resource, context)
        assert decision.outcome == "unknown", action
        assert "not in the organization" in decision.summary, action
    # The caller's own side can still settle a deny: across accounts it must allow too.
    assert org.evaluate("role/bare", "alpha", "s3:GetObject", "arn:aws:s3:::their-bucket/x",
                        {"aws:ResourceAccount": [OUTSIDE]}).outcome == "implicit-deny"


def test_a_resource_the_plan_has_no_policy_for_in_another_account_is_unknown() -> None:
    org = tiny(bucket=doc(grant(root(BETA), "s3:GetObject", f"{BUCKET}/*")),
               topic=doc(grant({"Service": "events.amazonaws.com"}, "sns:Publish")))
    for action, resource, context in (
            ("s3:GetObject", "arn:aws:s3:::another-bucket/x", {"aws:ResourceAccount": ["alpha"]}),
            ("kms:Decrypt", f"arn:aws:kms:eu-west-1:{ALPHA}:key/0a1b2c3d", {}),
            ("sns:Publish", f"arn:aws:sns:eu-west-1:{ALPHA}:other-topic", {})):
        decision = org.evaluate("role/app", "beta", action, resource, context)
        assert decision.outcome == "unknown", action
        assert "in account alpha that guardrails deploys no" in decision.summary, action
    # In the caller's own account such a resource is taken to have no policy: identity policies decide.
    assert org.evaluate("role/app", "alpha", "s3:GetObject", "arn:aws:s3:::another-bucket/x").allowed
    # Kinds guardrails never writes a policy for keep AWS's rule: across accounts, no resource policy, no access.
    other_kind = org.evaluate("role/app", "beta", "dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ALPHA}:table/t")
    assert other_kind.outcome == "implicit-deny"


def test_a_service_principal_depends_on_the_resource_policy_alone() -> None:
    org = tiny(topic=doc(grant({"Service": "events.amazonaws.com"}, "sns:Publish",
                               "arn:aws:sns:${region}:${account_id}:alerts")))
    # The template is expanded for each region the topic is deployed in.
    assert org.evaluate("service/events.amazonaws.com", "alpha", "sns:Publish",
                        f"arn:aws:sns:us-east-1:{ALPHA}:alerts").allowed
    assert org.evaluate("service/events.amazonaws.com", "alpha", "sns:Publish",
                        f"arn:aws:sns:eu-west-1:{ALPHA}:alerts").allowed
    # Not deployed in eu-central-1: a topic guardrails has no policy for, whose policy alone decides.
    assert org.evaluate("service/events.amazonaws.com", "alpha", "sns:Publish",
                        f"arn:aws:sns:eu-central-1:{ALPHA}:alerts").outcome == "unknown"


def test_the_engine_keeps_an_unknown_resource_policy_unknown() -> None:
    caller = Caller("role", role(ALPHA, "app"), ALPHA, f"arn:aws:sts::{ALPHA}:assumed-role/app/s")
    allow_all = Policy("id", "identity", doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    same = Request(caller, "s3:GetObject", "arn:aws:s3:::b/x", ALPHA, {})
    assert evaluate(same, PolicySet(identity=(allow_all,), resource_unknown="why")).outcome == "unknown"
    deny_all = Policy("id", "identity", doc({"Effect": "Deny", "Action": "*", "Resource": "*"}))
    assert evaluate(same, PolicySet(identity=(deny_all,), resource_unknown="why")).outcome == "explicit-deny"


def test_an_unknown_case_in_an_access_test_says_what_to_test_instead() -> None:
    org = tiny()
    test = AccessTest("outside", "tests.yaml:1:1", "role/app", ("alpha",), ("s3:GetObject",),
                      "arn:aws:s3:::their-bucket/x", (("aws:ResourceAccount", (OUTSIDE,)),), "allow")
    (result,) = run_tests(org, [test])
    assert result.outcome == "unknown"
    (diagnostic,) = failure_diagnostics([result])
    assert diagnostic.code == "GR402" and "resource guardrails does not deploy" in diagnostic.hint


# ----------------------------------------------------------------------------- the example's security baseline


def test_the_log_bucket_refuses_other_accounts_and_lets_cloudtrail_write(example: Organization) -> None:
    bucket = "arn:aws:s3:::example-org-logs-200000000001"
    denied = example.evaluate("role/BreakGlass", "app-prod", "s3:GetObject", f"{bucket}/AWSLogs/x")
    assert denied.outcome == "implicit-deny"
    assert "policies/resources/log-archive-bucket.json" in denied.steps[-1].detail
    assert example.evaluate("role/BreakGlass", "log-archive", "s3:GetObject", f"{bucket}/AWSLogs/x").allowed
    trail = "arn:aws:cloudtrail:eu-west-1:100000000001:trail/guardrails-org-trail"
    written = example.evaluate("service/cloudtrail.amazonaws.com", "log-archive", "s3:PutObject",
                               f"{bucket}/AWSLogs/o-exampleorg1/x",
                               {"aws:SourceArn": [trail], "s3:x-amz-acl": ["bucket-owner-full-control"]})
    assert written.allowed and [m.sid for m in written.deciding] == ["CloudTrailWrite"]
    plain_http = example.evaluate("role/BreakGlass", "log-archive", "s3:GetObject", f"{bucket}/AWSLogs/x",
                                  {"aws:SecureTransport": ["false"]})
    assert plain_http.outcome == "explicit-deny" and "DenyInsecureTransport" in {m.sid for m in plain_http.deciding}


def test_the_log_key_lets_the_organization_describe_it_and_nothing_more(example: Organization) -> None:
    key = "arn:aws:kms:eu-west-1:200000000001:key/log-archive-key"
    described = example.evaluate("role/SecurityAuditor", "app-prod", "kms:DescribeKey", key)
    assert described.allowed and "OrganizationAccountsDescribeKey" in {m.sid for m in described.deciding}
    decrypt = example.evaluate("role/BreakGlass", "app-prod", "kms:Decrypt", key)
    assert decrypt.outcome == "implicit-deny" and "key policy log-archive-key" in decrypt.steps[-1].policies
    assert example.evaluate("role/BreakGlass", "log-archive", "kms:Decrypt", key).allowed


def test_the_alert_topic_and_key_are_read_per_account_and_region(example: Organization) -> None:
    rule = "arn:aws:events:us-east-1:400000000003:rule/guardrails-root-use"
    publish = example.evaluate("service/events.amazonaws.com", "app-dev", "sns:Publish",
                               "arn:aws:sns:us-east-1:400000000003:guardrails-security-alerts",
                               {"aws:SourceArn": [rule], "aws:SourceAccount": ["400000000003"]})
    assert publish.allowed
    wrong_region = example.evaluate("service/events.amazonaws.com", "app-dev", "sns:Publish",
                                    "arn:aws:sns:eu-west-1:400000000003:guardrails-security-alerts",
                                    {"aws:SourceArn": [rule], "aws:SourceAccount": ["400000000003"]})
    assert wrong_region.outcome == "implicit-deny"  # that region's topic only takes that region's rules
    _, policies = example.prepare(parse_principal("role/BreakGlass"), "app-dev", "kms:Decrypt",
                                  "arn:aws:kms:us-east-1:${account_id}:key/alerts-key")
    assert policies.key_policy and policies.resource is not None
    assert policies.resource.document["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::400000000003:root"}
