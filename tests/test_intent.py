"""Intent grants compile to least-privilege statements against the pinned IAM action database."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.blueprint.schema import Grant
from guardrails.diagnostics import BlueprintError
from guardrails.pipeline import compile_blueprint
from guardrails.policies.arn_match import can_overlap
from guardrails.iam.actions import iam_database
from guardrails.policies.intent import GrantError, compile_grant

from .conftest import ROOT

DB = iam_database()


def compile_(**grant: object):
    return compile_grant(Grant.model_validate(grant), sid_base="T", partition="aws", org_id="o-abcdefghij", db=DB)


def _granted(result) -> dict[str, tuple[str, ...]]:
    return {action: s.resources for s in result.statements for action in s.actions}


@pytest.mark.parametrize(("service", "levels"), [
    ("s3", ["list"]), ("s3", ["read", "write"]), ("ec2", ["read"]), ("iam", ["list", "read"]),
    ("kms", ["write"]), ("dynamodb", ["read", "tagging"]), ("lambda", ["permissions-management"]),
])
def test_access_levels_expand_to_exactly_the_database_actions(service: str, levels: list[str]) -> None:
    result = compile_(service=service, access=levels)
    expected = {a.full_name for a in DB.actions_with_access(service, levels)}
    assert set(_granted(result)) == expected
    assert all(DB.action(a).access_level.lower().replace(" ", "-") in levels for a in _granted(result))


def test_actions_are_scoped_to_the_resource_types_they_support() -> None:
    result = compile_(service="s3", access=["read"], resources=["arn:${partition}:s3:::logs-${account_id}"])
    granted = _granted(result)
    assert granted["s3:GetBucketPolicy"] == ("arn:aws:s3:::logs-${account_id}",)
    assert "s3:GetObject" not in granted, "an object action is not granted on a bucket ARN"
    assert ("s3:GetObject", "none of the given resources is a accesspointobject or object") in result.not_granted


def test_unscopable_actions_get_their_own_statement_on_star() -> None:
    result = compile_(service="s3", access=["list"], resources=["bucket"])
    star = [s for s in result.statements if s.resources == ("*",)]
    assert len(star) == 1 and "s3:ListAllMyBuckets" in star[0].actions
    assert "s3:ListAllMyBuckets" in result.unscoped
    assert result.statements[-1] is star[0], "the statement on * comes last"
    assert _granted(result)["s3:ListBucket"] == ("arn:aws:s3:::*",)


def test_resource_type_names_become_account_scoped_arns() -> None:
    result = compile_(service="dynamodb", access=["read"], resources=["table"])
    assert _granted(result)["dynamodb:GetItem"] == ("arn:aws:dynamodb:${region}:${account_id}:table/*",)


def test_include_and_exclude() -> None:
    result = compile_(service="iam", access=["read"], resources=["*"], include=["iam:PassRole"],
                      exclude=["iam:GetAccountAuthorizationDetails", "iam:Generate*"])
    granted = _granted(result)
    assert "iam:PassRole" in granted and "iam:GetRole" in granted
    assert "iam:GetAccountAuthorizationDetails" not in granted
    assert not any(a.startswith("iam:Generate") for a in granted)


def test_conditions_become_global_condition_keys() -> None:
    result = compile_(service="s3", access=["read"], resources=["object"], conditions={
        "require_mfa": True, "mfa_max_age": 3600, "source_ips": ["10.0.0.0/8"], "requested_regions": ["eu-west-1"],
        "match_principal_tags": ["team"], "secure_transport": True, "organization_resources": True,
        "time_window": {"after": "2026-01-01T00:00:00Z", "before": "2027-01-01T00:00:00Z"}})
    conditions = {(c.operator, c.key): c.values for c in result.statements[0].conditions}
    assert conditions[("Bool", "aws:MultiFactorAuthPresent")] == ("true",)
    assert conditions[("NumericLessThan", "aws:MultiFactorAuthAge")] == ("3600",)
    assert conditions[("IpAddress", "aws:SourceIp")] == ("10.0.0.0/8",)
    assert conditions[("StringEquals", "aws:ResourceTag/team")] == ("${aws:PrincipalTag/team}",)
    assert conditions[("Bool", "aws:SecureTransport")] == ("true",)
    assert conditions[("StringEquals", "aws:ResourceOrgID")] == ("o-abcdefghij",)
    assert conditions[("DateGreaterThan", "aws:CurrentTime")] == ("2026-01-01T00:00:00Z",)


def test_resource_tag_conditions_drop_actions_that_cannot_honour_them() -> None:
    result = compile_(service="s3", access=["list"], conditions={"resource_tags": {"team": "a"}})
    assert ("s3:ListAllMyBuckets", "cannot be limited by aws:ResourceTag") in result.not_granted


@pytest.mark.parametrize(("grant", "message", "hint"), [
    ({"service": "s4", "access": ["read"]}, "unknown service 's4'", "did you mean `s3`?"),
    ({"service": "s3", "access": ["read"], "resources": ["buckett"]}, "no resource type 'buckett'",
     "did you mean `bucket`?"),
    ({"service": "s3", "access": ["read"], "include": ["s3:GetObjectz"]}, "matches no action",
     "did you mean `s3:GetObject`?"),
])
def test_unknown_names_get_suggestions(grant: dict, message: str, hint: str) -> None:
    with pytest.raises(GrantError) as raised:
        compile_(**grant)
    assert message in str(raised.value) and raised.value.hint == hint


def test_a_bad_grant_is_a_located_blueprint_error(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    blueprint.mkdir()
    (blueprint / "organization.yaml").write_text((ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text())
    (blueprint / "identity.yaml").write_text(
        "job_functions:\n  viewer:\n    grants:\n      - {service: dynamodb, access: [read], resources: [tabel]}\n"
        "groups:\n  viewers: {job_functions: [viewer], deploy_to: {all: true}}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "GR312" and diagnostic.hint == "did you mean `table`?"
    assert (diagnostic.location.line, diagnostic.location.column) == (4, 57)


@pytest.mark.parametrize(("pattern", "arn_format", "expected"), [
    ("arn:aws:s3:::app-*", "arn:${Partition}:s3:::${BucketName}", True),
    ("arn:aws:s3:::app-*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),  # * spans "/" in IAM
    ("arn:aws:s3:::app-1", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
    ("arn:aws:s3:::app-1/*", "arn:${Partition}:s3:::${BucketName}", False),
    ("arn:aws:iam::${account_id}:role/workload/*", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", True),
    ("arn:aws:iam::${account_id}:user/x", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", False),
    ("arn:aws:s3:::home/${aws:username}/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
])
def test_arn_patterns_overlap_resource_type_formats(pattern: str, arn_format: str, expected: bool) -> None:
    assert can_overlap(pattern, arn_format) is expected


def test_a_job_too_big_for_one_policy_is_compacted_then_split_and_reported(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    blueprint.mkdir()
    (blueprint / "organization.yaml").write_text((ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text())
    (blueprint / "identity.yaml").write_text(
        "job_functions:\n  operator:\n    grants:\n"
        "      - {service: ec2, access: [read, write], resources: ['*']}\n"
        "      - {service: iam, access: [read, list], resources: ['*']}\n"
        "    accept_risks:\n"
        "      - {risk: credentials-exposure, reason: 'Operators of the fleet need it (test).', owner: ops, review_by: 2030-01-01}\n"
        "      - {risk: resource-exposure, reason: 'Operators of the fleet need it (test).', owner: ops, review_by: 2030-01-01}\n"
        "      - {risk: privilege-escalation, reason: 'Operators of the fleet need it (test).', owner: ops, review_by: 2030-01-01}\n"
        "      - {risk: data-exfiltration, reason: 'Operators of the fleet need it (test).', owner: ops, review_by: 2030-01-01}\n"
        "groups:\n  ops: {job_functions: [operator], deploy_to: {all: true}}\n")
    compiled = compile_blueprint(blueprint)
    cls = compiled.plan.class_of("workload")
    parts = [p for p in cls.baseline.managed_policies if p.name.startswith("guardrails-operator")]
    limit = compiled.plan.limits["managed_policy_chars"].value
    assert all(len("".join(p.document.render().split())) <= limit for p in parts)
    report = next(r for r in compiled.plan.job_reports if r.job == "operator")
    assert report.compacted, "the statements had to be compacted"
    wanted = {a.full_name for a in DB.actions_with_access("ec2", ["read", "write"])}
    granted = {a.full_name for p in parts for s in p.document.statements for pattern in s.actions
               for a in DB.expand(pattern) if a.service == "ec2"}
    assert granted == wanted, "compaction neither adds nor drops an action"
    assert "compacted statements" in compiled.files["reports/least-privilege.md"]
