"""The CloudFormation output deployed onto an AWS API emulator in the documented order, then audited.

moto (server mode, 127.0.0.1) plays AWS: one organization with the blueprint's ids, every stack created in the
order and with the parameters docs/deploying.md gives (the templates' header commands, run as written), StackSet
instances deployed as stacks into the accounts they target, the custom resources answered by their functions' own
code, then ``guardrails audit`` in every account and ``guardrails audit --organization`` (SCPs and RCPs on every
account's path included): zero drift. A role changed in the emulator is drift. The example and every golden case
with CloudFormation output go through the same sequence.

What moto lacks is listed in EMULATOR_GAPS with how the test covers it; anything else it lacks fails the test,
and a listed gap that moto has closed (or that nothing needed) fails too, so the list stays true. On top of
that, every resource of every stack is checked against its CloudFormation registry schema with its deployed values.
Regions: an account-security stack is deployed once per distinct set of condition values (the home region, the
other allowed ones, the global-events region, one watch region): the others would create the same resources with
another Region in their ARNs. GUARDRAILS_DEPLOY_EVERY_REGION=1 deploys all of them (about twice as long).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("moto.server")

from guardrails.pipeline import Compiled, compile_blueprint  # noqa: E402

from .conftest import EXAMPLE_TODAY, ROOT  # noqa: E402
from .deploy.audit import audit  # noqa: E402
from .deploy.commands import Command, shell_commands  # noqa: E402
from .deploy.emulator import Emulator, reset  # noqa: E402
from .deploy.functions import invoke  # noqa: E402
from .deploy.providers import PROPERTY_FIXES, PROVIDERS  # noqa: E402
from .deploy.sequence import Organization, deploy  # noqa: E402
from .deploy.stacks import moto_types  # noqa: E402
from .deploy.template import (  # noqa: E402
    TemplateError,
    check_parameters,
    condition_values,
    load,
    required_capabilities,
)

pytestmark = [pytest.mark.slow,
              # moto warns (UserWarning) for each resource type it has no model for: those are EMULATOR_GAPS.
              pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning")]

MOTO_VERSION = "5.2.5"  # the moto the gaps below were checked against (tests fail when one is no longer true)
_CREATED = "created by the test through the emulator's API from the template's properties (tests/deploy/providers.py)"
_SCHEMA = "its properties checked against the registry schema with their deployed values; not created"
EMULATOR_GAPS: dict[str, str] = {
    # Resource types moto's CloudFormation has no model for.
    "AWS::Organizations::OrganizationalUnit": f"no model in moto {MOTO_VERSION}: {_CREATED}",
    "AWS::Organizations::Policy": f"no model in moto {MOTO_VERSION}: {_CREATED}, attached to its TargetIds",
    "AWS::Organizations::Account": f"no model in moto {MOTO_VERSION}: {_CREATED}, moved to its ParentIds",
    "AWS::CloudFormation::StackSet": f"no model in moto {MOTO_VERSION} (its StackSets API deploys hidden stacks "
                                     "without custom resources): each instance is deployed as a stack "
                                     "StackSet-<name>-<id> into every target account and Region",
    "AWS::IAM::Group": f"no model in moto {MOTO_VERSION}: {_CREATED}, with its managed and inline policies",
    "AWS::IAM::OIDCProvider": f"no model in moto {MOTO_VERSION}: {_CREATED}",
    "AWS::IAM::SAMLProvider": f"no model in moto {MOTO_VERSION}: {_CREATED}",
    "AWS::IAM::ServiceLinkedRole": f"no model in moto {MOTO_VERSION}: {_CREATED}",
    "AWS::S3::BucketPolicy": f"no model in moto {MOTO_VERSION}: {_CREATED}",
    "AWS::SNS::TopicPolicy": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SNS::Subscription": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::Config::ConfigRule": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::Config::ConfigurationRecorder": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::Config::DeliveryChannel": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::CloudTrail::Trail": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SecurityHub::DelegatedAdmin": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SecurityHub::ConfigurationPolicy": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SecurityHub::FindingAggregator": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SecurityHub::OrganizationConfiguration": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SecurityHub::PolicyAssociation": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::AccessAnalyzer::Analyzer": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SSO::PermissionSet": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "AWS::SSO::Assignment": f"no model in moto {MOTO_VERSION}: {_SCHEMA}",
    "Custom::*": f"moto {MOTO_VERSION} invokes the function in Docker (not available here): the test runs the "
                 "function's inline code with Create, Update and Delete requests (tests/deploy/functions.py) and "
                 "hands the Create response to moto",
    # Properties moto's models drop (the test sets them through the API).
    "AWS::IAM::Role.ManagedPolicyArns": f"moto {MOTO_VERSION} creates the role without them: attached by the test",
    "AWS::IAM::Role.Policies": f"moto {MOTO_VERSION} stores the documents as Python text, which GetRolePolicy "
                               "returns as is (not JSON): put again as JSON by the test",
    "AWS::IAM::User.Groups": f"moto {MOTO_VERSION} creates a bare user: added to its groups by the test",
    "AWS::IAM::User.Tags": f"moto {MOTO_VERSION} creates a bare user: tagged by the test",
    # What moto does not check.
    "IMPORT change sets": f"moto {MOTO_VERSION} ignores ResourcesToImport: the test checks that the template holds "
                          "exactly the imported resources and that each exists as declared, and adopts them",
    "moto picks organization, root, OU and account ids": "AWS assigns them and the blueprint records what it "
                                                        "assigned (trust policies, StackSet account filters and "
                                                        "bucket names name them): the in-process moto is made to "
                                                        "hand out the blueprint's ids (tests/deploy/emulator.py)",
    "AWS::Partition and AWS::URLSuffix": f"moto {MOTO_VERSION} resolves them to aws and amazonaws.com in every "
                                         "Region: the in-process moto resolves them for the Region's partition "
                                         "(tests/deploy/emulator.py), as CloudFormation does",
    "parameters and capabilities": f"moto {MOTO_VERSION} checks neither AllowedPattern/AllowedValues nor "
                                   "Capabilities: tests/deploy/template.py checks them as CloudFormation does",
    "S3 Control endpoint": "botocore puts the account id in the S3 Control host name, which a server on 127.0.0.1 "
                           "cannot answer under: the functions' session sends it to the emulator's address "
                           "(the id still travels in x-amz-account-id)",
    # CLI commands of the headers that moto cannot run: checked against the API model (botocore) instead.
    "aws cloudformation activate-organizations-access": f"not implemented by moto {MOTO_VERSION}: "
                                                        "checked against the API model",
    "aws iam enable-organizations-root-credentials-management": f"not implemented by moto {MOTO_VERSION}: "
                                                                "checked against the API model",
    "aws iam enable-organizations-root-sessions": f"not implemented by moto {MOTO_VERSION}: checked against the API "
                                                  "model",
    "aws guardduty update-organization-configuration": f"not implemented by moto {MOTO_VERSION}: checked against "
                                                       "the API model",
    "aws organizations enable-aws-service-access --service-principal iam.amazonaws.com":
        f"moto {MOTO_VERSION} does not know IAM's trusted access (centralized root access): checked against the API "
        "model",
    "aws organizations register-delegated-administrator * --service-principal config.amazonaws.com":
        f"moto {MOTO_VERSION} does not accept Config as a delegated service: checked against the API model",
}

# The example and the golden cases with CloudFormation output (tests/cases/*/expected/cloudformation).
CASES = {"example": ROOT / "blueprints",
         **{p.parent.parent.name: p.parent.parent / "blueprint"
            for p in sorted((ROOT / "tests/cases").glob("*/expected/cloudformation"))}}


@pytest.fixture(scope="module")
def emulator(moto_url: str) -> Iterator[str]:
    """The moto server (tests/conftest.py); its state is the process's: none of this module's deployments is left
    behind for the rest of the run."""
    yield moto_url
    reset(moto_url)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def organization(case: str, emulator: str, request: pytest.FixtureRequest) -> Organization:
    """The case deployed onto a fresh emulator, in the documented order."""
    if case == "example":
        compiled: Compiled = request.getfixturevalue("example_compiled")
    else:
        compiled = compile_blueprint(CASES[case], run_tests=False, today=EXAMPLE_TODAY)
    reset(emulator)
    return deploy(Emulator(emulator, compiled.plan.org.partition), compiled, EMULATOR_GAPS)


def _audited_accounts(org: Organization) -> list[str]:
    """Accounts with a baseline (an id in the blueprint): the management account and every member."""
    return sorted(a.name for a in org.compiled.plan.accounts if a.id)


# -- the deployment ----------------------------------------------------------------------------------------

def test_every_stack_deploys_in_the_documented_order(organization: Organization) -> None:
    deployment, plan = organization.deployment, organization.compiled.plan
    assert deployment.stacks, "nothing was deployed"
    # Every account with an id has its class's baseline, deployed by its StackSet (or, for the management
    # account, as the normal stack docs/deploying.md names).
    for account in plan.accounts:
        if not account.id or plan.class_of(account.name) is None:
            continue
        names = {s.name for s in deployment.stacks if s.account_id == account.id}
        wanted = ("guardrails-management-baseline" if account.management
                  else f"StackSet-guardrails-baseline-{plan.class_of(account.name).key}-")
        assert any(n == wanted or n.startswith(wanted) for n in names), (account.name, sorted(names))
    # Every custom resource was answered by its function, and moto then completed the stack.
    answered = [r for s in deployment.stacks for r in s.responses]
    assert answered and all(r.status == "SUCCESS" for r in answered)
    # Every resource that was created (or stood for by the schema check) was checked against its schema.
    active = {s.template["Resources"][k]["Type"] for s in deployment.stacks for k in s.template["Resources"]
              if s.scope.active(k)}
    assert set(deployment.schema_checked) == active


def test_what_cloudformation_refuses_is_refused(example_compiled: Compiled) -> None:
    """moto accepts these; CloudFormation does not, and neither does the test's deployment."""
    files = example_compiled.files
    stacksets = load(files["cloudformation/stacksets.yaml"])
    url = "https://guardrails-templates.s3.eu-west-1.amazonaws.com/guardrails/v1"
    with pytest.raises(TemplateError, match="LogArchiveKeyArn has no default"):
        check_parameters(stacksets, {"BaselineTemplateBaseUrl": url})  # the old docs' command
    with pytest.raises(TemplateError, match="does not match"):
        check_parameters(stacksets, {"BaselineTemplateBaseUrl": url + "/", "LogArchiveKeyArn": "KEY_ARN"})
    with pytest.raises(TemplateError, match="not in the template"):
        check_parameters(stacksets, {"BaselineTemplateBaseUrl": url, "LogArchiveKeyArn": "x", "Extra": "y"})
    assert required_capabilities(load(files["cloudformation/management-baseline.yaml"])) == {"CAPABILITY_NAMED_IAM"}
    assert required_capabilities(load(files["cloudformation/organization.yaml"])) == set()


def test_the_emulated_organization_has_the_blueprints_ids_and_places(organization: Organization) -> None:
    plan, deployment = organization.compiled.plan, organization.deployment
    orgs = deployment.management_client("organizations")
    described = orgs.describe_organization()["Organization"]
    assert described["MasterAccountId"] == plan.management_account.id
    if plan.org.org_id:
        assert described["Id"] == plan.org.org_id
    live = {a["Name"]: a["Id"] for a in orgs.list_accounts()["Accounts"]}
    for account in plan.accounts:
        if account.id and not account.management:
            assert live.get(account.name) == account.id, account.name
    for account in plan.pending_accounts:
        assert account.name in live  # created by the accounts stack; its id comes from AWS


def test_gaps_are_listed_needed_and_still_gaps(organization: Organization) -> None:
    """EMULATOR_GAPS stays true: moto still lacks each listed type, and whatever a provider or fix-up exists for is
    listed. (The example uses every listed gap; a gap nothing uses is reported by test_every_gap_is_used.)"""
    import moto

    types = {g for g in EMULATOR_GAPS if re.fullmatch(r"AWS::\w+::\w+", g)}
    properties = {g for g in EMULATOR_GAPS if re.fullmatch(r"AWS::\w+::\w+\.\w+", g)}
    assert not types & moto_types(), (f"moto {moto.__version__} models these (moto {MOTO_VERSION} did not): "
                                      "remove them from EMULATOR_GAPS")
    assert set(PROVIDERS) <= types
    assert {g.split(".", 1)[0] for g in properties} <= set(PROPERTY_FIXES)
    assert set(organization.deployment.gaps_used) <= set(EMULATOR_GAPS)


_NO_COUNTER = {"moto picks organization, root, OU and account ids", "parameters and capabilities",
               "S3 Control endpoint"}  # exercised by every deployment
# GovCloud and imported OUs: only the federation case has them.
_FEDERATION_ONLY = {"AWS::IAM::SAMLProvider", "IMPORT change sets", "AWS::Partition and AWS::URLSuffix"}


def test_every_gap_is_used(organization: Organization, case: str) -> None:
    """A gap nothing needs any more (moto closed it, or the output no longer has it) is removed from the list:
    the example needs all but the GovCloud case's, which that case needs."""
    used = set(organization.deployment.gaps_used)
    if case == "example":
        unused = set(EMULATOR_GAPS) - used - _NO_COUNTER - _FEDERATION_ONLY
    elif case == "federation":
        unused = _FEDERATION_ONLY - used
    else:
        pytest.skip("the example and the federation case use every gap between them")
    assert not unused, f"gaps nothing needed (closed in moto? no longer emitted?): {sorted(unused)}"


def test_region_sampling_is_sound(organization: Organization) -> None:
    """A Region deployed by proxy evaluates every condition as the Region standing for it does, so it would get the
    same resources (with its own Region in their ARNs)."""
    deployment = organization.deployment
    for region, name, proxy in deployment.represented:
        values = proxy.scope.parameters
        assert proxy.region != region, name
        assert (condition_values(proxy.template, region, values, deployment.partition)
                == condition_values(proxy.template, proxy.region, values, deployment.partition)), (name, region)
    if organization.compiled.plan.security is not None and deployment.sample_regions:
        assert deployment.represented  # the account-security stacks of the watch regions


# -- the custom resources' functions -------------------------------------------------------------------------

def test_password_policy_function_create_update_delete(organization: Organization) -> None:
    stack = next(s for s in organization.deployment.stacks if s.responses and
                 any(r["Type"] == "Custom::PasswordPolicy" for r in s.template["Resources"].values()))
    logical = next(k for k, r in stack.template["Resources"].items() if r["Type"] == "Custom::PasswordPolicy")
    iam = organization.deployment.emulator.client("iam", stack.account_id, stack.region)
    props = stack.scope.properties(logical)
    created = iam.get_account_password_policy()["PasswordPolicy"]
    assert created["MinimumPasswordLength"] == props["MinimumPasswordLength"]  # the Create request set it
    physical = stack.responses[0].physical_id
    length = int(props["MinimumPasswordLength"])

    same = invoke(organization.deployment, stack, logical, "Update", properties=props, old_properties=props,
                  physical_id=physical)
    assert (same.status, same.physical_id) == ("SUCCESS", physical)
    longer = {**props, "MinimumPasswordLength": length + 6}
    changed = invoke(organization.deployment, stack, logical, "Update", properties=longer, old_properties=props,
                     physical_id=physical)
    assert changed.status == "SUCCESS"
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == length + 6
    back = invoke(organization.deployment, stack, logical, "Update", properties=props, old_properties=longer,
                  physical_id=physical)
    assert back.status == "SUCCESS"
    assert iam.get_account_password_policy()["PasswordPolicy"] == created
    too_short = invoke(organization.deployment, stack, logical, "Update", old_properties=props,
                       properties={**props, "MinimumPasswordLength": 5}, physical_id=physical)
    assert too_short.status == "FAILED" and too_short.reason  # reported to CloudFormation, not left waiting
    assert iam.get_account_password_policy()["PasswordPolicy"] == created
    deleted = invoke(organization.deployment, stack, logical, "Delete", properties=props, physical_id=physical)
    assert deleted.status == "SUCCESS"
    assert iam.get_account_password_policy()["PasswordPolicy"] == created  # deliberately left in place


def test_account_settings_function_create_update_delete(organization: Organization) -> None:
    stacks = [s for s in organization.deployment.stacks
              if any(r["Type"] == "Custom::AccountSecuritySettings" and s.scope.active(k)
                     for k, r in s.template["Resources"].items())]
    if not stacks:
        pytest.skip("no account-security.yaml in this case (no `security` section)")
    home = organization.deployment.home_region
    for stack in stacks:
        ec2 = organization.deployment.emulator.client("ec2", stack.account_id, stack.region)
        assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], (stack.account_id, stack.region)
        if stack.region == home:
            s3control = organization.deployment.emulator.client("s3control", stack.account_id, stack.region)
            block = _public_access_block(s3control, stack.account_id)
            assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                             "RestrictPublicBuckets": True}, stack.account_id
    stack = next(s for s in stacks if s.region == home)
    logical = next(k for k, r in stack.template["Resources"].items() if r["Type"] == "Custom::AccountSecuritySettings")
    props = stack.scope.properties(logical)
    physical = stack.responses[0].physical_id
    update = invoke(organization.deployment, stack, logical, "Update", properties=props, old_properties=props,
                    physical_id=physical)
    delete = invoke(organization.deployment, stack, logical, "Delete", properties=props, physical_id=physical)
    assert (update.status, delete.status) == ("SUCCESS", "SUCCESS")
    ec2 = organization.deployment.emulator.client("ec2", stack.account_id, stack.region)
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]  # left on (the keep-* SCPs say so)


def _public_access_block(client: Any, account_id: str) -> dict[str, bool]:
    from .deploy.emulator import strip_account_host

    client.meta.events.register("before-send.s3-control", strip_account_host)
    return dict(client.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"])


# -- the audit ---------------------------------------------------------------------------------------------

def _drift(report: dict[str, Any], deployment_role: str) -> list[dict[str, str]]:
    """Every finding but the one a correct deployment has: the role Organizations creates in the accounts it
    creates, which guardrails deploys through and does not manage (info/unmanaged-role)."""
    expected = {"code": "info/unmanaged-role", "subject": f"role/{deployment_role}"}
    return [f for f in report["findings"] if {k: f[k] for k in expected} != expected]


def test_every_deployed_account_audits_without_drift(organization: Organization, case: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    role = organization.compiled.plan.org.deployment_role
    for account in _audited_accounts(organization):
        code, report = audit(organization, CASES[case], account, capsys)
        assert _drift(report, role) == [], (account, report["findings"])
        assert code == 0, account


def test_the_whole_organization_audits_without_drift(organization: Organization, case: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``guardrails audit --organization`` from the management account: every account through its role, with the
    SCPs and RCPs on its path (which an account's own keys cannot read)."""
    code, report = audit(organization, CASES[case], None, capsys)
    plan = organization.compiled.plan
    role = plan.org.deployment_role
    # An account the accounts stack created and the blueprint has no id for yet (phase 1, docs/accounts.md).
    assert [(f["code"], f["subject"]) for f in report["findings"]] == [
        ("org/account-pending", f"account/{a.name}") for a in plan.pending_accounts]
    assert {a["account"]: (a["status"], _drift(a, role)) for a in report["accounts"]} == {
        name: ("ok", []) for name in _audited_accounts(organization)}
    assert report["summary"]["drift"] == report["summary"]["errors"] == report["summary"]["cis_failures"] == 0
    assert code == 0


def test_a_changed_role_is_drift(organization: Organization, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Changed in the emulator: the break-glass role and a custom-resource function's role each get an extra policy,
    the function role's trust admits EC2 too, and a role under /guardrails/ that no template deploys appears."""
    plan = organization.compiled.plan
    account = plan.org.break_glass_account
    deployment = organization.deployment
    iam = deployment.emulator.client("iam", organization.ids[account], deployment.home_region)
    role = plan.org.break_glass_role
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    extra = iam.create_policy(PolicyName="sneaky-admin", Path="/", PolicyDocument=json.dumps(admin))["Policy"]["Arn"]
    function_role = next(r for r in iam.list_roles(PathPrefix="/guardrails/")["Roles"]
                         if "PasswordPolicyFunctionRole" in r["RoleName"])["RoleName"]
    trust = iam.get_role(RoleName=function_role)["Role"]["AssumeRolePolicyDocument"]
    widened = json.loads(json.dumps(trust))
    widened["Statement"][0]["Principal"] = {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}
    stray = "guardrails-leftover-PasswordPolicyHelper-ABCDEFGHIJKL"
    lambda_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.attach_role_policy(RoleName=role, PolicyArn=extra)
    iam.attach_role_policy(RoleName=function_role, PolicyArn=extra)
    iam.update_assume_role_policy(RoleName=function_role, PolicyDocument=json.dumps(widened))
    iam.create_role(RoleName=stray, Path="/guardrails/", AssumeRolePolicyDocument=json.dumps(lambda_trust))
    try:
        code, report = audit(organization, CASES[case], account, capsys)
    finally:
        iam.detach_role_policy(RoleName=role, PolicyArn=extra)
        iam.detach_role_policy(RoleName=function_role, PolicyArn=extra)
        iam.delete_policy(PolicyArn=extra)
        iam.update_assume_role_policy(RoleName=function_role, PolicyDocument=json.dumps(trust))
        iam.delete_role(RoleName=stray)
    assert code == 2
    assert sorted((f["code"], f["subject"]) for f in _drift(report, plan.org.deployment_role)) == sorted([
        ("drift/role-policy-attached", f"role/{role}"),
        ("drift/role-policy-attached", f"role/{function_role}"),
        ("drift/role-trust-changed", f"role/{function_role}"),
        ("drift/role-extra", f"role/{stray}"),
        ("info/unmanaged-policy", "policy/sneaky-admin")])
    code, report = audit(organization, CASES[case], account, capsys)
    assert (code, _drift(report, plan.org.deployment_role)) == (0, [])


# -- docs/deploying.md is the sequence the test runs -----------------------------------------------------------

_STACK_COMMANDS = ("aws cloudformation deploy", "aws cloudformation create-change-set",
                   "aws cloudformation execute-change-set")


def _shape(command: Command) -> tuple[str, str, str, tuple[str, ...], tuple[str, ...]]:
    options = command.options()
    keys = tuple(sorted(v.split("=", 1)[0] for v in options.get("parameter-overrides", [])))
    return (options["stack-name"][0], options.get("template-file", [""])[0], options.get("region", [""])[0], keys,
            tuple(sorted(options.get("capabilities", []))))


def test_docs_give_the_commands_the_test_runs(organization: Organization, case: str) -> None:
    if case != "example":
        pytest.skip("docs/deploying.md shows the example's commands")
    text = (ROOT / "docs/deploying.md").read_text(encoding="utf-8")
    section = text.split("## CloudFormation", 1)[1].split("**Accounts that move between OUs.**", 1)[0]
    documented = [c for c in shell_commands(section) if f"aws {c.service} {c.operation}" == "aws cloudformation deploy"]
    ran = [c for _, c in organization.commands if f"aws {c.service} {c.operation}" in _STACK_COMMANDS]
    ran_shapes = [_shape(c) for c in ran]
    for command in documented:
        assert _shape(command) in ran_shapes, f"docs/deploying.md: {command} is not what the headers say"
    # The same stacks, in the same order (the docs show one Region of a stack deployed in several).
    def stacks(shapes: list[tuple[str, ...]]) -> list[str]:
        out: list[str] = []
        for shape in shapes:
            if shape[0] not in out:
                out.append(shape[0])
        return out
    assert stacks([_shape(c) for c in documented]) == stacks(ran_shapes)
    # Every placeholder the docs use is one the sequence fills in; a command the docs add runs as documented.
    others = [c for c in shell_commands(section) if c not in documented]
    assert {f"aws {c.service} {c.operation}" for c in others} <= {
        "aws organizations enable-policy-type", "aws cloudformation describe-stacks", "aws s3 cp",
        "aws cloudformation activate-organizations-access"}
