"""The IAM kernel (guardrails/iam/): the one matcher, ARN builder, organization path and policy-value reader."""

from __future__ import annotations

import pytest

from guardrails.iam import arns
from guardrails.iam.actions import action_matches, any_action_matches, iam_database, wildcard_matches
from guardrails.iam.documents import PolicyFormatError, as_tuple, condition_values
from guardrails.iam.organization import in_unit, outermost, policy_targets, unit_chain


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:Get*", "s3:GetObject", True),
    ("S3:get*", "s3:GetObject", True),          # actions are case-insensitive
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:[G]etObject", "s3:GetObject", False),   # brackets are literal in IAM (fnmatch would match)
    ("s3:*", "s3-object-lambda:GetObject", False),
    ("*", "anything:AtAll", True),
])
def test_action_matching_is_iams(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


def test_resources_match_case_sensitively_and_sets_of_patterns_at_once() -> None:
    assert wildcard_matches("arn:aws:s3:::App-*", "arn:aws:s3:::app-x", ignore_case=False) is False
    assert wildcard_matches("arn:aws:s3:::app-*", "arn:aws:s3:::app-x/key", ignore_case=False) is True
    assert any_action_matches(("iam:Create*", "sts:AssumeRole"), "sts:assumerole")
    assert not any_action_matches((), "sts:AssumeRole")


def test_expansion_uses_the_same_glob_and_is_sorted() -> None:
    db = iam_database()
    names = [a.full_name for a in db.expand("s3:GetObjectT*")]
    assert names == sorted(names) and "s3:GetObjectTagging" in names
    assert db.expand("s3:[G]etObject") == []
    assert db.services_matching("s3*")[:1] == ["s3"]
    assert db.expand("S3:GETOBJECT")[0].full_name == "s3:GetObject"


def test_arns_are_partition_aware_and_parse_back() -> None:
    assert arns.role_arn("aws-us-gov", "111122223333", "/guardrails/BreakGlass") \
        == "arn:aws-us-gov:iam::111122223333:role/guardrails/BreakGlass"
    assert arns.policy_arn("aws", "*", "/", "x") == "arn:aws:iam::*:policy/x"
    assert arns.policy_arn("aws", "1", "/guardrails/", "x") == "arn:aws:iam::1:policy/guardrails/x"
    assert arns.aws_managed_policy_arn("aws-cn", "job-function/ViewOnlyAccess") \
        == "arn:aws-cn:iam::aws:policy/job-function/ViewOnlyAccess"
    parsed = arns.parse_arn("arn:aws:s3:::bucket/key:with:colons")
    assert parsed is not None and parsed.resource == "bucket/key:with:colons" and str(parsed).endswith("colons")
    assert arns.parse_arn("*") is None
    assert arns.arn_account("arn:aws:iam::aws:policy/X") is None
    assert arns.arn_account("arn:aws:iam::111122223333:root") == "111122223333"
    assert arns.arn_region("arn:aws:sns:*:1:t") is None


def test_identity_center_roles_carry_the_instance_region_outside_us_east_1() -> None:
    assert arns.sso_role_arn("aws", "1", "Dev", "us-east-1").endswith(
        ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0000000000000000")
    assert ":role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Dev_" in arns.sso_role_arn(
        "aws", "1", "Dev", "eu-west-1")


def test_organization_paths() -> None:
    assert policy_targets("A/B", "x") == ["root", "ou:A", "ou:A/B", "account:x"]
    assert policy_targets("", "m") == ["root", "account:m"]
    assert unit_chain("A/B/C") == ["A", "A/B", "A/B/C"]
    assert in_unit("A/B", "A") and in_unit("A", "A") and not in_unit("AB", "A") and in_unit("A", "")
    assert outermost(["A", "A/B", "C"]) == ["A", "C"]


def test_policy_values_are_read_one_way() -> None:
    assert as_tuple(None) == () and as_tuple("a") == ("a",) and as_tuple(["a", "b"]) == ("a", "b")
    with pytest.raises(PolicyFormatError, match="Action"):
        as_tuple(["a", 7], what="Action")
    assert condition_values(True) == ("true",)
    assert condition_values([3600, "x", False]) == ("3600", "x", "false")
    with pytest.raises(PolicyFormatError):
        condition_values({"nested": "object"})
