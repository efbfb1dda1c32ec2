"""Condition operators, policy variables and action/resource/ARN matching of the offline evaluator.

Expected values follow the IAM User Guide (https://docs.aws.amazon.com/IAM/latest/UserGuide/); examples taken
from a page say which one in a comment:

- [ops]   reference_policies_elements_condition_operators.html
- [multi] reference_policies_condition-logic-multiple-context-keys-or-values.html
- [sets]  reference_policies_condition-single-vs-multi-valued-context-keys.html
- [setx]  reference_policies_condition_examples-multi-valued-context-keys.html
- [vars]  reference_policies_variables.html
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.diagnostics import GuardrailsError
from guardrails.evaluation.conditions import ClauseResult, evaluate_clause, evaluate_conditions
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import Context, arn_matches, resource_matches, substitute_variables
from guardrails.iam.actions import action_matches


def req(values: Mapping[str, str | tuple[str, ...]]) -> Context:
    """A request context from condition keys as AWS spells them (lowercased here, as the engine does)."""
    return {k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in values.items()}


def ok(operator: str, key: str, values: object, context: Context) -> bool:
    return evaluate_clause(operator, key, values, context).matched


NEGATED_PAIRS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnEquals", "ArnNotEquals"),
    ("ArnLike", "ArnNotLike"),
]
POSITIVE_ONLY = ["NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
                 "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
                 "Bool", "BinaryEquals"]

# One well-formed (policy value, matching request value, non-matching request value) per operator family.
SAMPLES = {
    "String": ("prod", "prod", "dev"),
    "Numeric": ("10", "10", "11"),
    "Date": ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"),
    "Ip": ("10.0.0.0/8", "10.1.2.3", "192.168.0.1"),
    "Arn": ("arn:aws:iam::*:role/Admin", "arn:aws:iam::111122223333:role/Admin",
            "arn:aws:iam::111122223333:role/Dev"),
    "Bool": ("true", "true", "false"),
    "Binary": ("QmluYXJ5", "QmluYXJ5", "T3RoZXI="),
}


def sample(operator: str) -> tuple[str, str, str]:
    base = operator.removeprefix("Not")
    family = next(f for f in SAMPLES if base.startswith(f))
    return SAMPLES[family]


# ----------------------------------------------------------------------------- string operators


@pytest.mark.parametrize(("operator", "policy", "request_value", "expected"), [
    ("StringEquals", "prod", "prod", True),
    ("StringEquals", "prod", "Prod", False),          # values are case-sensitive
    ("StringEquals", "pro*", "prod", False),          # no wildcards in Equals
    ("StringEquals", "pro*", "pro*", True),
    ("StringNotEquals", "prod", "dev", True),
    ("StringNotEquals", "prod", "prod", False),
    ("StringEqualsIgnoreCase", "PROD", "prod", True),
    ("StringEqualsIgnoreCase", "pro*", "PROD", False),
    ("StringNotEqualsIgnoreCase", "PROD", "prod", False),
    ("StringNotEqualsIgnoreCase", "PROD", "dev", True),
    ("StringLike", "pro*", "production", True),
    ("StringLike", "pro?", "prod", True),
    ("StringLike", "pro?", "produce", False),
    ("StringLike", "Pro*", "production", False),      # Like is case-sensitive too
    ("StringLike", "*", "", True),
    ("StringLike", "a*b", "a/x:yb", True),           # * spans any character
    ("StringNotLike", "pro*", "production", False),
    ("StringNotLike", "pro*", "dev", True),
])
def test_string_operators(operator: str, policy: str, request_value: str, expected: bool) -> None:
    assert ok(operator, "aws:PrincipalTag/env", policy, req({"aws:PrincipalTag/env": request_value})) is expected


def test_string_equals_example_from_docs() -> None:
    # [ops] String condition operators: the principal must be tagged job-category = iamuser-admin.
    block = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
    assert evaluate_conditions(block, req({"aws:PrincipalTag/job-category": "iamuser-admin"}))[0]
    assert not evaluate_conditions(block, req({"aws:PrincipalTag/job-category": "user"}))[0]
    assert not evaluate_conditions(block, {})[0]


def test_several_values_are_or_and_negated_values_are_nor() -> None:
    # [multi] OR across the values of one key; NOR for a negated operator.
    key = "aws:PrincipalTag/role"
    assert ok("StringEquals", key, ["audit", "security"], req({key: "security"}))
    assert not ok("StringEquals", key, ["audit", "security"], req({key: "dev"}))
    assert not ok("StringNotEquals", key, ["audit", "security"], req({key: "security"}))
    assert ok("StringNotEquals", key, ["audit", "security"], req({key: "dev"}))


def test_multiple_keys_and_operators_are_and_example_from_docs() -> None:
    # Modelled on the [multi] S3 bucket policy: StringEquals on two principal tags AND ArnLike on aws:PrincipalArn.
    block = {
        "StringEquals": {
            "aws:PrincipalTag/department": ["finance", "hr", "legal"],
            "aws:PrincipalTag/role": ["audit", "security"],
        },
        "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::222222222222:user/Ana", "arn:aws:iam::222222222222:user/Mary"]},
    }
    good = {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit",
            "aws:PrincipalArn": "arn:aws:iam::222222222222:user/Mary"}
    matched, clauses = evaluate_conditions(block, req(good))
    assert matched
    assert [(c.operator, c.key) for c in clauses] == [
        ("StringEquals", "aws:PrincipalTag/department"), ("StringEquals", "aws:PrincipalTag/role"),
        ("ArnLike", "aws:PrincipalArn")]
    for key, value in [("aws:PrincipalTag/role", "dev"), ("aws:PrincipalArn", "arn:aws:iam::222222222222:user/Bob")]:
        matched, clauses = evaluate_conditions(block, req({**good, key: value}))
        assert not matched
        assert [c.key for c in clauses if not c.matched] == [key]


def test_empty_condition_block_matches() -> None:
    assert evaluate_conditions({}, {}) == (True, ())


# ----------------------------------------------------------------------------- absent keys, IfExists, Null


@pytest.mark.parametrize("operator", [p for pair in NEGATED_PAIRS for p in pair] + POSITIVE_ONLY)
def test_absent_key_positive_false_negated_true_ifexists_true(operator: str) -> None:
    policy, _, _ = sample(operator)
    negated = operator in {n for _, n in NEGATED_PAIRS}
    result = evaluate_clause(operator, "k:Key", policy, {})
    assert result.matched is negated
    assert result.request_values is None
    assert ("negated operator is true" in result.note) is negated
    exists = evaluate_clause(operator + "IfExists", "k:Key", policy, {})
    assert exists.matched and "IfExists is true" in exists.note


@pytest.mark.parametrize("operator", [p for pair in NEGATED_PAIRS for p in pair] + POSITIVE_ONLY)
def test_ifexists_equals_base_operator_when_key_present(operator: str) -> None:
    policy, hit, miss = sample(operator)
    for value in (hit, miss):
        context = req({"k:Key": value})
        assert ok(operator + "IfExists", "k:Key", policy, context) is ok(operator, "k:Key", policy, context)


@pytest.mark.parametrize(("positive", "negated"), NEGATED_PAIRS)
def test_every_negated_operator_is_the_negation_when_present(positive: str, negated: str) -> None:
    policy, hit, miss = sample(positive)
    assert ok(positive, "k:Key", policy, req({"k:Key": hit}))
    assert not ok(negated, "k:Key", policy, req({"k:Key": hit}))
    assert not ok(positive, "k:Key", policy, req({"k:Key": miss}))
    assert ok(negated, "k:Key", policy, req({"k:Key": miss}))


def test_ifexists_example_from_docs() -> None:
    # [ops] ...IfExists: instance type checked only where the request has one.
    values = ["t1.*", "t2.*", "m3.*"]
    assert ok("StringLikeIfExists", "ec2:InstanceType", values, req({"ec2:InstanceType": "t2.micro"}))
    assert not ok("StringLikeIfExists", "ec2:InstanceType", values, req({"ec2:InstanceType": "c5.large"}))
    assert ok("StringLikeIfExists", "ec2:InstanceType", values, {})


def test_null_operator() -> None:
    # [ops] Null: "true" means the key is absent (aws:TokenIssueTime exists only with temporary credentials).
    temp = req({"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert ok("Null", "aws:TokenIssueTime", "true", {})
    assert not ok("Null", "aws:TokenIssueTime", "true", temp)
    assert ok("Null", "aws:TokenIssueTime", "false", temp)
    assert not ok("Null", "aws:TokenIssueTime", "false", {})
    assert ok("Null", "aws:TokenIssueTime", True, {})          # JSON Boolean
    assert ok("Null", "aws:TokenIssueTime", "TRUE", {})
    assert ok("Null", "aws:TagKeys", "true", {"aws:tagkeys": ()})  # no values counts as absent
    assert ok("Null", "aws:TokenIssueTime", ["true", "false"], temp)  # OR of the values


@pytest.mark.parametrize("operator", ["NullIfExists", "ForAllValues:Null", "ForAnyValue:Null"])
def test_null_takes_no_modifier(operator: str) -> None:
    with pytest.raises(EvaluationError, match="Null takes neither"):
        evaluate_clause(operator, "aws:TokenIssueTime", "true", {})


def test_null_with_other_value_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"Null takes .*'yes'"):
        evaluate_clause("Null", "aws:TokenIssueTime", "yes", {})


# ----------------------------------------------------------------------------- set qualifiers


TAGS = "aws:TagKeys"


@pytest.mark.parametrize(("operator", "request_keys", "expected"), [
    # [sets] ForAllValues: every request value matches some policy value; true when absent or empty (pitfall).
    ("ForAllValues:StringEquals", ("Owner",), True),
    ("ForAllValues:StringEquals", ("Owner", "DataClass"), True),
    ("ForAllValues:StringEquals", ("Owner", "Dept"), False),
    ("ForAllValues:StringEquals", None, True),
    ("ForAllValues:StringEquals", (), True),
    # ForAnyValue: at least one request value matches; false when absent or empty.
    ("ForAnyValue:StringEquals", ("Dept", "Owner"), True),
    ("ForAnyValue:StringEquals", ("Dept",), False),
    ("ForAnyValue:StringEquals", None, False),
    ("ForAnyValue:StringEquals", (), False),
    # ForAllValues + negated: no request value may match any policy value; still true when absent.
    ("ForAllValues:StringNotEquals", ("Dept", "SIC"), True),
    ("ForAllValues:StringNotEquals", ("Dept", "Owner"), False),
    ("ForAllValues:StringNotEquals", ("DataClass", "Owner"), False),
    ("ForAllValues:StringNotEquals", None, True),
    ("ForAllValues:StringNotEquals", (), True),
    # ForAnyValue + negated: some request value matches no policy value; false when absent.
    ("ForAnyValue:StringNotEquals", ("Dept", "Owner"), True),
    ("ForAnyValue:StringNotEquals", ("DataClass", "Owner"), False),
    ("ForAnyValue:StringNotEquals", None, False),
    ("ForAnyValue:StringNotEquals", (), False),
    # IfExists makes an absent key true under either qualifier.
    ("ForAnyValue:StringEqualsIfExists", None, True),
    ("ForAnyValue:StringEqualsIfExists", ("Dept",), False),
    ("ForAllValues:StringEqualsIfExists", ("Dept",), False),
])
def test_set_qualifiers(operator: str, request_keys: tuple[str, ...] | None, expected: bool) -> None:
    context = {} if request_keys is None else {TAGS.lower(): request_keys}
    result = evaluate_clause(operator, TAGS, ["DataClass", "Owner"], context)
    assert result.matched is expected
    assert result.request_values == request_keys


def test_for_all_values_pitfall_is_explained() -> None:
    result = evaluate_clause("ForAllValues:StringLike", TAGS, "key1*", {})
    assert result.matched and "ForAllValues is true" in result.note and "Null" in result.note


def test_for_all_values_with_null_check() -> None:
    # In the style of [setx] "Deny policy with condition set operator ForAllValues": the Null check with
    # "false" keeps an absent key from satisfying ForAllValues.
    block = {"ForAllValues:StringLike": {TAGS: "key1*"}, "Null": {TAGS: "false"}}
    assert evaluate_conditions(block, {TAGS.lower(): ("key1a", "key1b")})[0]
    assert not evaluate_conditions(block, {TAGS.lower(): ("key1a", "other")})[0]
    assert not evaluate_conditions(block, {})[0]
    assert evaluate_conditions({"ForAllValues:StringLike": {TAGS: "key1*"}}, {})[0]  # without it: true
    # The negated form: true only when no requested tag key is key1*.
    negated = {"ForAllValues:StringNotLike": {TAGS: "key1*"}}
    assert evaluate_conditions(negated, {TAGS.lower(): ("other", "more")})[0]
    assert not evaluate_conditions(negated, {TAGS.lower(): ("key1a", "other")})[0]


def test_for_any_value_deny_style() -> None:
    # In the style of [setx] "Deny policy with condition set operator ForAnyValue": any restricted tag key.
    block = {"ForAnyValue:StringEquals": {TAGS: ["webserver", "environment"]}}
    assert evaluate_conditions(block, {TAGS.lower(): ("environment", "costcenter")})[0]
    assert not evaluate_conditions(block, {TAGS.lower(): ("costcenter",)})[0]
    assert not evaluate_conditions(block, {})[0]


def test_multivalued_key_without_qualifier() -> None:
    # Positive operators: some request value matches. Negated ones: the exact negation (no value matches).
    context = {TAGS.lower(): ("Dept", "Owner")}
    positive = evaluate_clause("StringEquals", TAGS, "Owner", context)
    assert positive.matched and "without a set qualifier" in positive.note
    assert not ok("StringEquals", TAGS, "Cost", context)
    assert not ok("StringNotEquals", TAGS, "Owner", context)
    assert ok("StringNotEquals", TAGS, "Cost", context)


def test_empty_values_count_as_absent_without_qualifier() -> None:
    context = {"aws:calledvia": ()}
    result = evaluate_clause("StringEquals", "aws:CalledVia", "athena.amazonaws.com", context)
    assert not result.matched and result.request_values == () and result.note == "key has no values"
    assert ok("StringNotEquals", "aws:CalledVia", "athena.amazonaws.com", context)
    assert ok("StringEqualsIfExists", "aws:CalledVia", "athena.amazonaws.com", context)


# ----------------------------------------------------------------------------- numeric, date, Bool, binary, IP


@pytest.mark.parametrize(("operator", "request_value", "expected"), [
    ("NumericEquals", "10", True), ("NumericEquals", "10.0", True), ("NumericEquals", "9", False),
    ("NumericNotEquals", "9", True), ("NumericNotEquals", "10", False),
    ("NumericLessThan", "9", True), ("NumericLessThan", "10", False),
    ("NumericLessThanEquals", "10", True), ("NumericLessThanEquals", "11", False),
    ("NumericGreaterThan", "11", True), ("NumericGreaterThan", "10", False),
    ("NumericGreaterThanEquals", "10", True), ("NumericGreaterThanEquals", "-3", False),
    ("NumericLessThan", "abc", False),  # a malformed request value does not match
    ("NumericNotEquals", "abc", True),  # ... so its negation holds
])
def test_numeric_operators(operator: str, request_value: str, expected: bool) -> None:
    # [ops] Numeric example: s3:max-keys at most 10.
    assert ok(operator, "s3:max-keys", "10", req({"s3:max-keys": request_value})) is expected


def test_numeric_accepts_json_numbers_and_decimals() -> None:
    assert ok("NumericLessThanEquals", "s3:max-keys", 10, req({"s3:max-keys": "10"}))
    assert ok("NumericLessThan", "aws:MultiFactorAuthAge", 3600.5, req({"aws:MultiFactorAuthAge": "3600.25"}))
    assert evaluate_clause("NumericEquals", "k:n", [10, 2.5], {}).values == ("10", "2.5")


@pytest.mark.parametrize("value", ["ten", "", "1,000", "0x10", "NaN", "inf"])
def test_malformed_number_in_policy_is_an_error(value: str) -> None:
    with pytest.raises(EvaluationError, match=r"NumericLessThan.*s3:max-keys.*not a number"):
        evaluate_clause("NumericLessThan", "s3:max-keys", value, req({"s3:max-keys": "1"}))


@pytest.mark.parametrize(("policy", "request_value"), [
    ("2020-01-01T00:00:01Z", "2020-01-01T00:00:01Z"),
    ("2020-01-01T00:00:01Z", "2020-01-01T02:00:01+02:00"),   # same instant, other zone
    ("2020-01-01T00:00:01Z", "2020-01-01T00:00:01.000Z"),    # milliseconds
    ("2020-01-01T00:00:01Z", "1577836801"),                   # epoch seconds
    ("1577836801", "2020-01-01T00:00:01Z"),
    ("2020-01-01", "2020-01-01T00:00:00Z"),                   # a date alone is midnight UTC
    ("2020-01-01T00:00:01", "2020-01-01T00:00:01Z"),          # no zone: UTC
])
def test_date_forms(policy: str, request_value: str) -> None:
    assert ok("DateEquals", "aws:CurrentTime", policy, req({"aws:CurrentTime": request_value}))


@pytest.mark.parametrize(("operator", "request_value", "expected"), [
    # [ops] Date example: temporary credentials issued after 2020-01-01T00:00:01Z.
    ("DateGreaterThan", "2020-01-01T00:00:02Z", True), ("DateGreaterThan", "2020-01-01T00:00:01Z", False),
    ("DateGreaterThanEquals", "2020-01-01T00:00:01Z", True), ("DateGreaterThanEquals", "2019-12-31", False),
    ("DateLessThan", "2019-12-31T23:59:59Z", True), ("DateLessThan", "2020-01-01T00:00:01Z", False),
    ("DateLessThanEquals", "2020-01-01T00:00:01Z", True), ("DateLessThanEquals", "2021-01-01", False),
    ("DateNotEquals", "2021-01-01", True), ("DateNotEquals", "1577836801", False),
    ("DateGreaterThan", "yesterday", False),
])
def test_date_operators(operator: str, request_value: str, expected: bool) -> None:
    context = req({"aws:TokenIssueTime": request_value})
    assert ok(operator, "aws:TokenIssueTime", "2020-01-01T00:00:01Z", context) is expected


@pytest.mark.parametrize("value", ["2020-13-01", "tomorrow", "01/02/2020", ""])
def test_malformed_date_in_policy_is_an_error(value: str) -> None:
    with pytest.raises(EvaluationError, match=r"DateLessThan.*aws:CurrentTime.*not a date"):
        evaluate_clause("DateLessThan", "aws:CurrentTime", value, {})


def test_bool() -> None:
    # [ops] Boolean example: aws:SecureTransport must be true.
    assert ok("Bool", "aws:SecureTransport", "true", req({"aws:SecureTransport": "true"}))
    assert ok("Bool", "aws:SecureTransport", True, req({"aws:SecureTransport": "True"}))
    assert not ok("Bool", "aws:SecureTransport", "true", req({"aws:SecureTransport": "false"}))
    assert not ok("Bool", "aws:SecureTransport", "true", req({"aws:SecureTransport": "yes"}))
    assert evaluate_clause("Bool", "aws:SecureTransport", [True, False], {}).values == ("true", "false")
    # BoolIfExists false on MFA: also blocks long-term keys, where the key is absent.
    assert ok("BoolIfExists", "aws:MultiFactorAuthPresent", "false", {})
    with pytest.raises(EvaluationError, match=r"'Bool'.*aws:SecureTransport.*'yes' is not a Boolean"):
        evaluate_clause("Bool", "aws:SecureTransport", "yes", {})


def test_binary_equals() -> None:
    # [ops] BinaryEquals example value.
    value = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    assert ok("BinaryEquals", "key", value, req({"key": value}))
    assert not ok("BinaryEquals", "key", value, req({"key": "T3RoZXI="}))
    assert not ok("BinaryEquals", "key", value, req({"key": "%%%"}))
    with pytest.raises(EvaluationError, match=r"BinaryEquals.*not base64"):
        evaluate_clause("BinaryEquals", "key", "not base64!", {})


@pytest.mark.parametrize(("policy", "address", "expected"), [
    # [ops] IP example ranges (IPv4 and IPv6).
    ("203.0.113.0/24", "203.0.113.7", True),
    ("203.0.113.0/24", "203.0.114.7", False),
    ("203.0.113.5", "203.0.113.5", True),                     # a single address is a /32
    ("203.0.113.5/24", "203.0.113.200", True),                # host bits set: still the /24
    ("2001:DB8:1234:5678::/64", "2001:db8:1234:5678:abcd::1", True),
    ("2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
    ("2001:db8::1", "2001:DB8:0:0:0:0:0:1", True),            # single IPv6 address, any spelling
    ("203.0.113.0/24", "2001:db8::1", False),                 # other IP version
    ("2001:DB8:1234:5678::/64", "203.0.113.7", False),
    ("203.0.113.0/24", "not-an-ip", False),
])
def test_ip_address(policy: str, address: str, expected: bool) -> None:
    context = req({"aws:SourceIp": address})
    assert ok("IpAddress", "aws:SourceIp", policy, context) is expected
    assert ok("NotIpAddress", "aws:SourceIp", policy, context) is not expected


def test_malformed_ip_in_policy_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"NotIpAddress.*aws:SourceIp.*'10.0.0.300/8'"):
        evaluate_clause("NotIpAddress", "aws:SourceIp", "10.0.0.300/8", {})


# ----------------------------------------------------------------------------- ARNs


ROLE = "arn:aws:iam::123456789012:role/BreakGlass"


@pytest.mark.parametrize(("pattern", "arn", "expected"), [
    ("arn:aws:iam::*:role/Break*", ROLE, True),
    ("arn:aws:iam::*:role/Break*", "arn:aws:iam::123456789012:role/Admin", False),
    ("arn:aws:iam::*:role/Break*", "arn:aws:iam::123456789012:role/breakglass", False),  # case-sensitive
    ("arn:aws:iam::*:role/Break*", "arn:aws:iam::123456789012:role/path/BreakGlass", False),
    ("arn:aws:iam::*:role/*Break*", "arn:aws:iam::123456789012:role/path/BreakGlass", True),
    # A '*' in the account part stays in that part: it cannot swallow ":user/x" to reach a later "role/".
    ("arn:aws:iam::*:role/Break*", "arn:aws:iam::123456789012:user/x:role/BreakGlass", False),
    # ... nor the resource part of another service's ARN.
    ("arn:aws:iam::*:role/Break*", "arn:aws:sts::123456789012:assumed-role/BreakGlass/s", False),
    ("arn:aws:*:*:123456789012:*", "arn:aws:sns:us-east-1:123456789012:topic", True),
    ("arn:aws:*:*:123456789012:*", "arn:aws:sns:us-east-1:999999999999:topic", False),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", True),  # the resource part may hold ':'
    ("arn:aws:iam::12345678901?:role/BreakGlass", ROLE, True),
    ("*", ROLE, True),
    ("arn:aws:iam::*:role/Break*", "not-an-arn", False),
    ("arn:aws:iam::*:role/Break*", "arn:aws:iam::role", False),
])
def test_arn_like_and_equals_segment_by_segment(pattern: str, arn: str, expected: bool) -> None:
    context = req({"aws:PrincipalArn": arn})
    for positive, negated in (("ArnLike", "ArnNotLike"), ("ArnEquals", "ArnNotEquals")):  # Equals ≡ Like
        assert ok(positive, "aws:PrincipalArn", pattern, context) is expected
        assert ok(negated, "aws:PrincipalArn", pattern, context) is not expected
    assert arn_matches(pattern, arn, {}) is expected


def test_arn_equals_example_from_docs() -> None:
    # [ops] ARN example: an SQS queue policy accepting messages from one SNS topic.
    topic = "arn:aws:sns:REGION:123456789012:TOPIC-ID"
    assert ok("ArnEquals", "aws:SourceArn", topic, req({"aws:SourceArn": topic}))
    assert not ok("ArnEquals", "aws:SourceArn", topic, req({"aws:SourceArn": topic + "2"}))


@pytest.mark.parametrize("value", ["role/Admin", "arn:aws:iam::role"])
def test_malformed_arn_in_policy_is_an_error(value: str) -> None:
    with pytest.raises(EvaluationError, match=r"ArnLike.*aws:PrincipalArn.*not an ARN"):
        evaluate_clause("ArnLike", "aws:PrincipalArn", value, {})


def test_arn_with_variable_is_checked_after_substitution() -> None:
    key = "aws:PrincipalArn"
    value = "arn:aws:iam::${aws:PrincipalAccount}:role/Admin"
    context = req({key: "arn:aws:iam::111122223333:role/Admin", "aws:PrincipalAccount": "111122223333"})
    assert ok("ArnLike", key, value, context)
    assert not ok("ArnLike", key, value, req({key: "arn:aws:iam::111122223333:role/Admin"}))  # no value
    assert ok("ArnLike", key, "${aws:SourceArn}", {**context, "aws:sourcearn": (context[key.lower()][0],)})


# ----------------------------------------------------------------------------- policy variables


@pytest.mark.parametrize(("text", "expected"), [
    ("home/${aws:username}/*", "home/ana/*"),
    ("home/${AWS:UserName}", "home/ana"),                            # key lookup is case-insensitive
    ("${aws:PrincipalTag/team, 'company-wide'}", "company-wide"),    # [vars] default value
    ("${aws:PrincipalTag/dept, 'company-wide'}", "eng"),
    ("${ aws:PrincipalTag/team ,  'x' }", "x"),                       # blanks around name and default
    ("${aws:PrincipalTag/team, 'it''s'}", "it's"),                     # '' is a quote in a default
    ("${aws:PrincipalTag/team, 'a}b'}", "a}b"),
    ("${aws:PrincipalTag/team, ''}", ""),
    ("a${*}b${?}c${$}d", "a*b?c$d"),
    ("${aws:PrincipalTag/team, '${aws:username}'}", "${aws:username}"),  # one round only
    ("no variables * ? $ here", "no variables * ? $ here"),
    ("${aws:username}${aws:username}", "anaana"),
])
def test_substitute_variables(text: str, expected: str) -> None:
    context = req({"aws:username": "ana", "aws:PrincipalTag/dept": "eng"})
    assert substitute_variables(text, context) == expected


def test_substitute_variables_without_value() -> None:
    assert substitute_variables("home/${aws:username}", {}) is None
    assert substitute_variables("${aws:username}", {"aws:username": ()}) is None
    # A multivalued key is never substituted: nothing, or its default.
    multi = {"aws:calledvia": ("athena.amazonaws.com", "glue.amazonaws.com")}
    assert substitute_variables("${aws:CalledVia}", multi) is None
    assert substitute_variables("${aws:CalledVia, 'none'}", multi) == "none"


@pytest.mark.parametrize("text", ["${aws:username", "${}", "${ }", "${aws:username, default}",
                                  "${aws:username, 'a' 'b'}", "${aws:username, 'open}"])
def test_malformed_variable_is_an_error(text: str) -> None:
    with pytest.raises(EvaluationError, match="policy variable"):
        substitute_variables(text, {})


def test_variables_in_condition_values() -> None:
    # [vars] s3:prefix must be under the caller's home folder.
    block = {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}
    assert evaluate_conditions(block, req({"aws:username": "ana", "s3:prefix": "home/ana/docs"}))[0]
    assert not evaluate_conditions(block, req({"aws:username": "ana", "s3:prefix": "home/bob/docs"}))[0]
    # Without aws:username the value cannot match: StringLike false, its negation true.
    result = evaluate_clause("StringLike", "s3:prefix", "home/${aws:username}/*", req({"s3:prefix": "home/x/y"}))
    assert not result.matched and "policy variable without value" in result.note
    assert ok("StringNotLike", "s3:prefix", "home/${aws:username}/*", req({"s3:prefix": "home/x/y"}))
    # A value that resolves still decides when another does not.
    assert ok("StringEquals", "s3:prefix", ["${aws:username}", "public"], req({"s3:prefix": "public"}))


def test_variable_values_are_literal_in_like() -> None:
    # A request value (or default) that holds '*' matches only '*', never as a wildcard.
    context = req({"aws:PrincipalTag/team": "*", "s3:prefix": "anything"})
    assert not ok("StringLike", "s3:prefix", "${aws:PrincipalTag/team}", context)
    assert ok("StringLike", "s3:prefix", "${aws:PrincipalTag/team}", req({"aws:PrincipalTag/team": "*",
                                                                             "s3:prefix": "*"}))
    assert ok("StringLike", "s3:prefix", "a${*}", req({"s3:prefix": "a*"}))
    assert not ok("StringLike", "s3:prefix", "a${*}", req({"s3:prefix": "ab"}))
    assert ok("StringEquals", "aws:PrincipalTag/team", "${aws:PrincipalTag/team}", context)


def test_principal_tag_matches_resource_tag_with_variable() -> None:
    # [vars] A common pattern: resource tag equal to the principal's tag of the same name.
    block = {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}}
    assert evaluate_conditions(block, req({"aws:PrincipalTag/project": "x", "aws:ResourceTag/project": "x"}))[0]
    assert not evaluate_conditions(block, req({"aws:PrincipalTag/project": "x", "aws:ResourceTag/project": "y"}))[0]
    assert not evaluate_conditions(block, req({"aws:ResourceTag/project": "x"}))[0]


# ----------------------------------------------------------------------------- case rules, actions, resources


def test_condition_keys_are_case_insensitive_values_are_not() -> None:
    context = req({"aws:PrincipalTag/Team": "Blue"})
    assert ok("StringEquals", "AWS:PRINCIPALTAG/TEAM", "Blue", context)
    assert ok("StringEquals", "aws:principaltag/team", "Blue", context)
    assert not ok("StringEquals", "aws:PrincipalTag/Team", "blue", context)
    result = evaluate_clause("StringEquals", "AWS:PrincipalTag/TEAM", "Blue", context)
    assert result.key == "AWS:PrincipalTag/TEAM" and result.request_values == ("Blue",)


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:GetObject", "s3:getobject", True),
    ("S3:get*", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObjectAcl", False),
    ("s3:*", "s3:PutObject", True),
    ("s3:*", "s3express:CreateSession", False),
    ("*", "iam:CreateUser", True),
    ("iam:*User", "iam:CreateUser", True),
    ("iam:*User", "iam:CreateUserPolicy", False),
])
def test_action_matches(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/a", False),      # case-sensitive
    ("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/a", True),
    ("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/ab", False),
    ("arn:aws:iam::*:role/Break*", ROLE, True),
    ("arn:aws:iam::*:role/Break*", "arn:aws:sts::123456789012:assumed-role/BreakGlass/s", False),
    ("arn:aws:logs:*:*:log-group:*", "arn:aws:logs:us-east-1:1:log-group:/a/b:log-stream:c", True),  # spans ':'
    ("*", "anything at all", True),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/", False),
])
def test_resource_matches(pattern: str, resource: str, expected: bool) -> None:
    assert resource_matches(pattern, resource, {}) is expected


def test_resource_matches_with_variables() -> None:
    context = req({"aws:username": "ana"})
    assert resource_matches("arn:aws:s3:::bucket/home/${aws:username}/*", "arn:aws:s3:::bucket/home/ana/x", context)
    assert not resource_matches("arn:aws:s3:::bucket/home/${aws:username}/*", "arn:aws:s3:::bucket/home/bob/x",
                                context)
    assert not resource_matches("arn:aws:s3:::bucket/home/${aws:username}/*", "arn:aws:s3:::bucket/home/ana/x", {})
    # [vars] default value in a Resource.
    pattern = "arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"
    assert resource_matches(pattern, "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/f", {})
    assert resource_matches(pattern, "arn:aws:s3:::amzn-s3-demo-bucket/red/f", req({"aws:PrincipalTag/team": "red"}))
    # ${*} is a literal star.
    assert resource_matches("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", {})
    assert not resource_matches("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", {})


# ----------------------------------------------------------------------------- malformed policies


@pytest.mark.parametrize(("operator", "suggestion"), [
    ("StringEqual", "StringEquals"), ("stringequals", "StringEquals"), ("ForAnyValues:StringLike", None),
    ("StringLikeIfExist", "StringLikeIfExists"), ("IpAddressNot", None),
])
def test_unknown_operator_is_an_error(operator: str, suggestion: str | None) -> None:
    with pytest.raises(EvaluationError, match=f"unknown condition operator '{operator}'") as info:
        evaluate_clause(operator, "aws:username", "x", {})
    if suggestion:
        assert f"did you mean '{suggestion}'" in str(info.value)
    assert isinstance(info.value, GuardrailsError)


def test_malformed_policy_value_raises_even_when_the_key_is_absent() -> None:
    with pytest.raises(EvaluationError):
        evaluate_conditions({"NumericLessThanIfExists": {"s3:max-keys": "many"}}, {})


@pytest.mark.parametrize("values", [[], None, {"a": 1}, [["nested"]]])
def test_invalid_value_lists_are_errors(values: object) -> None:
    with pytest.raises(EvaluationError, match="aws:username"):
        evaluate_clause("StringEquals", "aws:username", values, {})


def test_condition_block_must_be_objects() -> None:
    with pytest.raises(EvaluationError, match="StringEquals"):
        evaluate_conditions({"StringEquals": ["aws:username"]}, {})  # type: ignore[dict-item]


def test_clause_result_is_frozen() -> None:
    result = evaluate_clause("StringEquals", "k", "v", {})
    assert result == ClauseResult("StringEquals", "k", ("v",), None, False, "key absent")
    with pytest.raises(AttributeError):
        result.matched = True  # type: ignore[misc]


# ----------------------------------------------------------------------------- properties

TEXT = st.text(alphabet="abAB:/*?-", max_size=8)
PLAIN = st.text(alphabet="abAB:/-", max_size=8)
STRING_PAIRS = [p for p in NEGATED_PAIRS if p[0].startswith("String")]


@given(st.sampled_from(STRING_PAIRS), st.lists(TEXT, min_size=1, max_size=3), PLAIN)
def test_negation_duality_for_present_single_valued_key(pair: tuple[str, str], policy: list[str], value: str) -> None:
    positive, negated = pair
    context = {"k": (value,)}
    assert ok(negated, "k", policy, context) is not ok(positive, "k", policy, context)


@given(st.integers(-5, 5), st.integers(-5, 5))
def test_numeric_negation_duality(policy: int, value: int) -> None:
    context = {"n": (str(value),)}
    assert ok("NumericNotEquals", "n", policy, context) is not ok("NumericEquals", "n", policy, context)
    assert ok("NumericLessThan", "n", policy, context) is not ok("NumericGreaterThanEquals", "n", policy, context)
    assert ok("NumericGreaterThan", "n", policy, context) is not ok("NumericLessThanEquals", "n", policy, context)


OPERATORS = [p for pair in STRING_PAIRS for p in pair]


@given(st.sampled_from(OPERATORS), st.sampled_from(["", "ForAllValues:", "ForAnyValue:"]),
       st.lists(TEXT, min_size=1, max_size=3), st.lists(PLAIN, min_size=1, max_size=3))
def test_ifexists_equals_base_when_present(operator: str, qualifier: str, policy: list[str],
                                           values: list[str]) -> None:
    context = {"k": tuple(values)}
    assert ok(qualifier + operator + "IfExists", "k", policy, context) is ok(qualifier + operator, "k", policy, context)


@given(st.sampled_from(STRING_PAIRS), st.lists(TEXT, min_size=1, max_size=3), st.lists(PLAIN, min_size=1, max_size=4))
def test_set_qualifiers_against_per_value_definition(pair: tuple[str, str], policy: list[str],
                                                     values: list[str]) -> None:
    positive, negated = pair
    context = {"k": tuple(values)}
    per_value = [ok(positive, "k", policy, {"k": (v,)}) for v in values]
    assert ok("ForAllValues:" + positive, "k", policy, context) is all(per_value)
    assert ok("ForAnyValue:" + positive, "k", policy, context) is any(per_value)
    # Negated set operators: De Morgan with the positive ones.
    assert ok("ForAllValues:" + negated, "k", policy, context) is not any(per_value)
    assert ok("ForAnyValue:" + negated, "k", policy, context) is not all(per_value)
    # No qualifier: positive = any; negated = its exact negation.
    assert ok(positive, "k", policy, context) is any(per_value)
    assert ok(negated, "k", policy, context) is not any(per_value)


@given(st.text(alphabet="sS3:gG*?eEtT-", max_size=10), st.text(alphabet="sS3:gGeEtT-", max_size=10))
def test_action_matches_agrees_with_fnmatch(pattern: str, action: str) -> None:
    assert action_matches(pattern, action) is fnmatch.fnmatchcase(action.lower(), pattern.lower())


@given(st.text(alphabet="aA:/*?-", max_size=10), st.text(alphabet="aA:/-*?", max_size=10))
def test_resource_matches_agrees_with_case_sensitive_fnmatch(pattern: str, resource: str) -> None:
    assert resource_matches(pattern, resource, {}) is fnmatch.fnmatchcase(resource, pattern)


@given(st.text(alphabet="ab:/*?-", max_size=8), st.text(alphabet="ab:/*?-", max_size=8))
def test_escaped_star_matches_only_a_star(prefix: str, resource: str) -> None:
    literal = prefix.replace("*", "${*}").replace("?", "${?}")
    assert resource_matches(literal, resource, {}) is (resource == prefix)


@given(st.text(alphabet="ab:/*?-' ", max_size=12))
def test_text_without_variables_is_unchanged(text: str) -> None:
    assert substitute_variables(text, {"aws:username": ("x",)}) == text


@given(st.lists(st.text(alphabet="abc*", max_size=4), min_size=6, max_size=6),
       st.lists(st.text(alphabet="abc", max_size=4), min_size=6, max_size=6))
def test_arn_like_is_per_segment(pattern_parts: list[str], arn_parts: list[str]) -> None:
    expected = all(fnmatch.fnmatchcase(a, p) for p, a in zip(pattern_parts, arn_parts, strict=True))
    assert arn_matches(":".join(pattern_parts), ":".join(arn_parts), {}) is expected
