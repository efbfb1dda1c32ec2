"""The security baseline as CloudFormation: account-security.yaml (Config, alerts, account settings) and its
StackSet, log-archive.yaml, security-analyzer.yaml, organization-security.yaml (trail and set-up commands), the
account-settings custom resource's handler, and (slow) cfn-lint over every variant."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails.policies.resource_policies import with_resource_policies
from guardrails.emitters import header_text
from guardrails.emitters.cloudformation import account_settings as settings
from guardrails.emitters.cloudformation import emit
from guardrails.emitters.cloudformation import security as sec
from guardrails.policies.ir import Plan, SecurityPlan
from guardrails.pipeline import Compiled


ACCOUNT_SECURITY = "cloudformation/account-security.yaml"
LOG_ARCHIVE = "cloudformation/log-archive.yaml"
ANALYZER = "cloudformation/security-analyzer.yaml"
ORG_SECURITY = "cloudformation/organization-security.yaml"
STACKSETS = "cloudformation/stacksets.yaml"
SECURITY_FILES = {ACCOUNT_SECURITY, LOG_ARCHIVE, ANALYZER, ORG_SECURITY}


@pytest.fixture(scope="module")
def plan(example_compiled: Compiled) -> Plan:
    return example_compiled.plan


def _with(plan: Plan, **changes: Any) -> Plan:
    assert plan.security is not None
    # The resource policies are compiled from the security plan: compile them again for the variant.
    return with_resource_policies(dataclasses.replace(plan, security=dataclasses.replace(plan.security, **changes)))


def _security(plan: Plan) -> SecurityPlan:
    assert plan.security is not None
    return plan.security


def _load(files: dict[str, str], path: str) -> dict[str, Any]:
    return yaml.safe_load(files[path])


def _header(files: dict[str, str], path: str) -> str:
    return files[path].split("AWSTemplateFormatVersion")[0]


def _of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


# ----------------------------------------------------------------------------- layout


def test_no_security_section_no_security_output(plan: Plan) -> None:
    files = emit(dataclasses.replace(plan, security=None, resource_policies=()))
    assert not SECURITY_FILES & set(files)
    stacksets = _load(files, STACKSETS)
    assert "StackSetAccountSecurity" not in stacksets["Resources"]
    assert sec.LOG_KEY not in stacksets["Parameters"]
    assert "account-security" not in files[STACKSETS]


def test_files_headers_and_order(plan: Plan) -> None:
    files = emit(plan)
    assert SECURITY_FILES <= set(files)
    for step, path in ((1, ORG_SECURITY), (2, LOG_ARCHIVE), (4, ANALYZER), (5, ACCOUNT_SECURITY)):
        header = _header(files, path)
        assert files[path].startswith(f"# {header_text(plan)}\n")
        assert "Security baseline deployment order" in header and f"This file is step {step}." in header
        assert f"--template-file {Path(path).name}" in header, path
    assert emit(plan) == files  # deterministic


# ----------------------------------------------------------------------------- account-security.yaml


def test_regions_decide_what_each_stack_gets(plan: Plan) -> None:
    template = _load(emit(plan), ACCOUNT_SECURITY)
    security = _security(plan)
    conditions = template["Conditions"]
    assert conditions["IsHomeRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, plan.org.home_region]}
    assert conditions["IsGlobalRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, security.global_region]}
    alerting = {term["Fn::Equals"][1] for term in conditions["IsAlertRegion"]["Fn::Or"]}
    assert alerting == set(security.alert_regions)
    assert conditions["IsWatchRegion"] == {"Fn::Not": [{"Condition": "IsAlertRegion"}]}
    allowed = {term["Fn::Equals"][1] for term in conditions["IsAllowedRegion"]["Fn::Or"]}
    assert allowed == set(plan.org.allowed_regions)

    recorder = template["Resources"]["ConfigRecorder"]
    assert recorder["Condition"] == "IsAllowedRegion"
    assert recorder["Properties"]["RecordingGroup"] == {
        "AllSupported": True, "IncludeGlobalResourceTypes": {"Fn::If": ["IsHomeRegion", True, False]}}
    role = recorder["Properties"]["RoleARN"]["Fn::If"]
    assert role[0] == "CreateConfigServiceLinkedRole" and role[1]["Fn::Sub"].endswith("${ConfigServiceLinkedRole}")
    assert role[2]["Fn::Sub"].endswith("/config.amazonaws.com/AWSServiceRoleForConfig")
    slr = template["Resources"]["ConfigServiceLinkedRole"]
    assert slr["Condition"] == "CreateConfigServiceLinkedRole" and slr["DeletionPolicy"] == "Retain"
    assert slr["Properties"]["AWSServiceName"] == "config.amazonaws.com"

    channel = template["Resources"]["ConfigDeliveryChannel"]
    assert channel["Condition"] == "IsAllowedRegion" and channel["DependsOn"] == ["ConfigRecorder"]
    assert channel["Properties"]["S3BucketName"] == security.log_bucket
    assert channel["Properties"]["S3KmsKeyArn"] == {"Ref": sec.LOG_KEY}
    assert sec.LOG_KEY in template["Parameters"] and sec.SLR_EXISTS in template["Parameters"]

    rules = {r["Properties"]["ConfigRuleName"]: r for r in _of_type(template, "AWS::Config::ConfigRule").values()}
    assert set(rules) == {r.name for r in security.config_rules}
    for rule in security.config_rules:
        emitted = rules[rule.name]
        assert emitted["Condition"] == ("IsHomeRegion" if rule.home_region_only else "IsAllowedRegion")
        assert emitted["DependsOn"] == ["ConfigRecorder", "ConfigDeliveryChannel"]
        assert emitted["Properties"]["Source"] == {"Owner": "AWS", "SourceIdentifier": rule.identifier}
        assert emitted["Properties"].get("InputParameters", {}) == dict(rule.parameters)
        scope = emitted["Properties"].get("Scope", {}).get("ComplianceResourceTypes", [])
        assert scope == list(rule.resource_types)
        assert len(emitted["Properties"]["Description"]) <= 256


def test_alerts_in_every_alert_region_global_ones_in_us_east_1(plan: Plan) -> None:
    template = _load(emit(plan), ACCOUNT_SECURITY)
    security = _security(plan)
    resources = template["Resources"]
    for name in ("AlertKey", "AlertKeyAlias", "AlertTopic", "AlertTopicPolicy"):
        assert resources[name]["Condition"] == "IsAlertRegion", name
    key = resources["AlertKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    events = next(s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"})
    assert set(events["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    assert resources["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertKey"}
    assert resources["AlertTopic"]["Properties"]["TopicName"] == security.topic_name
    [publish] = resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert publish["Principal"] == {"Service": "events.amazonaws.com"} and publish["Action"] == "sns:Publish"

    subscriptions = _of_type(template, "AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == sorted(security.alert_emails)
    assert all(s["Properties"]["Protocol"] == "email" for s in subscriptions.values())

    rules = {r["Properties"]["Name"]: r for r in _of_type(template, "AWS::Events::Rule").values()
             if r["Condition"] != "IsWatchRegion"}
    assert set(rules) == {a.name for a in security.alerts}
    for alert in security.alerts:
        rule = rules[alert.name]
        assert rule["Condition"] == ("IsGlobalRegion" if alert.global_only else "IsAlertRegion")
        assert rule["Properties"]["EventPattern"] == json.loads(alert.pattern)
        assert rule["Properties"]["Targets"] == [{"Id": "security-alert-topic", "Arn": {"Ref": "AlertTopic"}}]
    assert "eb-service-event-cloudtrail" in _header(emit(plan), ACCOUNT_SECURITY)


def test_account_settings_custom_resource(plan: Plan) -> None:
    template = _load(emit(plan), ACCOUNT_SECURITY)
    resources = template["Resources"]
    custom = resources[settings.RESOURCE_ID]
    assert custom["Type"] == "Custom::AccountSecuritySettings" and custom["Condition"] == "IsAllowedRegion"
    assert custom["Properties"]["EbsEncryptionByDefault"] is True
    assert custom["Properties"]["S3BlockPublicAccess"] == {"Fn::If": ["IsHomeRegion", True, False]}
    [policy] = resources[settings.ROLE_ID]["Properties"]["Policies"]
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert actions == {"ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault",
                       "s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock",
                       "logs:CreateLogStream", "logs:PutLogEvents"}
    assert resources[settings.LOG_GROUP_ID]["Properties"]["RetentionInDays"] > 0
    skipped = {s["id"] for s in resources[settings.FUNCTION_ID]["Metadata"]["checkov"]["skip"]}
    assert skipped == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}

    only_s3 = _load(emit(_with(plan, ebs_default_encryption=False)), ACCOUNT_SECURITY)["Resources"]
    assert only_s3[settings.RESOURCE_ID]["Condition"] == "IsHomeRegion"
    assert only_s3[settings.RESOURCE_ID]["Properties"]["S3BlockPublicAccess"] is True
    [policy] = only_s3[settings.ROLE_ID]["Properties"]["Policies"]
    assert not any(a.startswith("ec2:") for s in policy["PolicyDocument"]["Statement"] for a in s["Action"])
    neither = _load(emit(_with(plan, ebs_default_encryption=False, s3_block_public_access=False)), ACCOUNT_SECURITY)
    assert settings.RESOURCE_ID not in neither["Resources"]


def test_control_tower_owns_the_recorder(plan: Plan) -> None:
    template = _load(emit(_with(plan, config_recorder=False)), ACCOUNT_SECURITY)
    resources = template["Resources"]
    assert not {"ConfigRecorder", "ConfigDeliveryChannel", "ConfigServiceLinkedRole"} & set(resources)
    assert all("DependsOn" not in r for r in _of_type(template, "AWS::Config::ConfigRule").values())
    assert "Parameters" not in template
    assert "CreateConfigServiceLinkedRole" not in template["Conditions"]


def test_many_allowed_regions_nest_fn_or() -> None:
    regions = [f"xx-test-{i}" for i in range(23)]
    condition = sec._any_region(regions)
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Fn::Or" in node:
            assert 2 <= len(node["Fn::Or"]) <= sec.MAX_OR
            for child in node["Fn::Or"]:
                walk(child)
        else:
            found.append(node["Fn::Equals"][1])

    walk(condition)
    assert found == regions
    assert sec._any_region(["eu-west-1"]) == {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}


# ----------------------------------------------------------------------------- the StackSet


def test_stackset_rolls_out_to_the_whole_organization(plan: Plan) -> None:
    files = emit(plan)
    stacksets = _load(files, STACKSETS)
    properties = stacksets["Resources"]["StackSetAccountSecurity"]["Properties"]
    regions = sec.stackset_regions(plan, _security(plan))
    assert regions[0] == plan.org.home_region and set(regions) == set(_security(plan).event_regions)
    assert properties["PermissionModel"] == "SERVICE_MANAGED" and properties["AutoDeployment"]["Enabled"] is True
    assert properties["AutoDeployment"]["RetainStacksOnAccountRemoval"] is True
    assert properties["TemplateURL"] == {"Fn::Sub": "${BaselineTemplateBaseUrl}/account-security.yaml"}
    [group] = properties["StackInstancesGroup"]
    assert group == {"DeploymentTargets": {"OrganizationalUnitIds": [{"Ref": "RootId"}], "AccountFilterType": "NONE"},
                     "Regions": regions}
    assert properties["OperationPreferences"] == {"RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": regions}
    assert properties["Parameters"] == [{"ParameterKey": sec.LOG_KEY, "ParameterValue": {"Ref": sec.LOG_KEY}}]
    assert sec.LOG_KEY in stacksets["Parameters"]
    header = _header(files, ACCOUNT_SECURITY)
    for region in regions:  # the management account: normal stacks, StackSets skip it
        assert f"aws cloudformation deploy --region {region} --stack-name guardrails-account-security" in header


# ----------------------------------------------------------------------------- log-archive.yaml


def test_log_archive_bucket_key_and_policies(plan: Plan) -> None:
    template = _load(emit(plan), LOG_ARCHIVE)
    security = _security(plan)
    resources = template["Resources"]
    bucket = resources["LogBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and resources["LogArchiveKey"]["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["BucketName"] == security.log_bucket
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(props["PublicAccessBlockConfiguration"].values())
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["LogArchiveKey", "Arn"]}}
    [lifecycle] = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == security.log_retention_days
    assert resources["LogArchiveKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["LogArchiveKeyAlias"]["Properties"]["AliasName"] == sec.LOG_KEY_ALIAS

    statements = {s["Sid"]: s for s in resources["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]}
    deny = statements["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    trail_arn = f"arn:aws:cloudtrail:{plan.org.home_region}:100000000001:trail/{security.trail_name}"
    write = statements["CloudTrailWrite"]
    assert write["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert any(f"/AWSLogs/{plan.org.org_id}/*" in r for r in write["Resource"])
    assert statements["CloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
    for sid, action in (("ConfigBucketPermissionsCheck", "s3:GetBucketAcl"),
                        ("ConfigBucketExistenceCheck", "s3:ListBucket"), ("ConfigBucketDelivery", "s3:PutObject")):
        assert statements[sid]["Action"] == action
        assert statements[sid]["Condition"]["StringEquals"]["aws:SourceOrgID"] == plan.org.org_id
    key_sids = {s["Sid"] for s in resources["LogArchiveKey"]["Properties"]["KeyPolicy"]["Statement"]}
    assert key_sids == {"AccountAdministersKey", "OrganizationAccountsDescribeKey",
                        "CloudTrailEncryptsOrganizationTrail", "CloudTrailDescribesKey",
                        "ConfigEncryptsOrganizationDeliveries"}
    assert template["Outputs"][sec.LOG_KEY]["Value"] == {"Fn::GetAtt": ["LogArchiveKey", "Arn"]}


def test_existing_log_bucket(plan: Plan) -> None:
    key = "arn:aws:kms:eu-west-1:200000000001:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    files = emit(_with(plan, log_bucket_existing=True, log_kms_key_arn=key))
    assert LOG_ARCHIVE not in files
    account = _load(files, ACCOUNT_SECURITY)
    assert account["Resources"]["ConfigDeliveryChannel"]["Properties"]["S3KmsKeyArn"] == key
    assert sec.LOG_KEY not in account["Parameters"]
    stackset = _load(files, STACKSETS)["Resources"]["StackSetAccountSecurity"]["Properties"]
    assert "Parameters" not in stackset
    assert _load(files, ORG_SECURITY)["Resources"]["OrganizationTrail"]["Properties"]["KMSKeyId"] == key


# ----------------------------------------------------------------------------- analyzer and organization


def test_analyzers(plan: Plan) -> None:
    template = _load(emit(plan), ANALYZER)
    resources = template["Resources"]
    assert resources["OrganizationAnalyzer"]["Properties"]["Type"] == "ORGANIZATION"
    assert "Condition" not in resources["OrganizationAnalyzer"]
    unused = resources["UnusedAccessAnalyzer"]
    assert unused["Condition"] == "IsHomeRegion"
    assert unused["Properties"]["Type"] == "ORGANIZATION_UNUSED_ACCESS"
    assert unused["Properties"]["AnalyzerConfiguration"] == {
        "UnusedAccessConfiguration": {"UnusedAccessAge": _security(plan).unused_access_days}}
    without = _load(emit(_with(plan, unused_access_days=None)), ANALYZER)
    assert set(without["Resources"]) == {"OrganizationAnalyzer"} and "Conditions" not in without
    assert ANALYZER not in emit(_with(plan, analyzer_account=None, unused_access_days=None))


def test_organization_trail_and_setup_commands(plan: Plan) -> None:
    files = emit(plan)
    security = _security(plan)
    trail = _load(files, ORG_SECURITY)["Resources"]["OrganizationTrail"]
    assert trail["DeletionPolicy"] == "Retain"
    props = trail["Properties"]
    assert props["TrailName"] == security.trail_name and props["S3BucketName"] == security.log_bucket
    for flag in ("IsOrganizationTrail", "IsMultiRegionTrail", "EnableLogFileValidation", "IncludeGlobalServiceEvents",
                 "IsLogging"):
        assert props[flag] is True, flag
    assert props["KMSKeyId"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:kms:{plan.org.home_region}:200000000001:{sec.LOG_KEY_ALIAS}"}

    commands = sec.setup_commands(plan, security)
    header = _header(files, ORG_SECURITY)
    positions = [header.index(f"#   {c}\n") for c in commands]
    assert positions == sorted(positions)
    assert "aws organizations enable-aws-service-access --service-principal cloudtrail.amazonaws.com" in commands
    assert ("aws organizations register-delegated-administrator --account-id 200000000002 "
            "--service-principal access-analyzer.amazonaws.com") in commands
    assert commands[-2:] == ["aws iam enable-organizations-root-credentials-management",
                             "aws iam enable-organizations-root-sessions"]
    last_trusted = max(i for i, c in enumerate(commands) if "service-access" in c or "organizations-access" in c)
    assert last_trusted < min(i for i, c in enumerate(commands) if "register-delegated" in c)

    no_trail = emit(_with(plan, trail_name=None, centralized_root_access=False))
    template = _load(no_trail, ORG_SECURITY)
    assert _of_type(template, "AWS::CloudTrail::Trail") == {}
    assert set(template["Resources"]) == {"SecurityHubAdministrator"}  # Security Hub's administrator, home region
    template = _load(emit(_with(plan, trail_name=None, security_hub=False)), ORG_SECURITY)
    assert set(template["Resources"]) == {"SetupCommands"}
    assert "enable-organizations-root" not in no_trail[ORG_SECURITY]
    statements = _load(no_trail, LOG_ARCHIVE)["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]
    assert not any(s["Sid"].startswith("CloudTrail") for s in statements["Statement"])


# ----------------------------------------------------------------------------- the account-settings handler


class _FakeEc2:
    def __init__(self, enabled: bool) -> None:
        self.enabled, self.calls = enabled, 0

    def get_ebs_encryption_by_default(self) -> dict[str, bool]:
        return {"EbsEncryptionByDefault": self.enabled}

    def enable_ebs_encryption_by_default(self) -> None:
        self.calls += 1
        self.enabled = True


class _FakeS3Control:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def get_public_access_block(self, AccountId: str) -> dict[str, Any]:  # noqa: N803 - boto3's argument name
        raise _ClientError({"Error": {"Code": "NoSuchPublicAccessBlockConfiguration"}})

    def put_public_access_block(self, **kwargs: Any) -> None:
        self.puts.append(kwargs)


class _ClientError(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response["Error"]["Code"])
        self.response = response


def _run(request: str, props: dict[str, str], ec2: _FakeEc2, s3control: _FakeS3Control) -> list[tuple[str, ...]]:
    sent: list[tuple[str, ...]] = []
    clients = {"ec2": ec2, "s3control": s3control}
    fakes = {
        "boto3": types.SimpleNamespace(client=lambda name: clients[name]),
        "cfnresponse": types.SimpleNamespace(
            SUCCESS="SUCCESS", FAILED="FAILED",
            send=lambda event, context, status, data, physical_id, reason=None: sent.append((status, reason))),
        "botocore": types.ModuleType("botocore"),
        "botocore.exceptions": types.SimpleNamespace(ClientError=_ClientError),
    }
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)  # type: ignore[arg-type]
    try:
        namespace: dict[str, Any] = {}
        exec(compile(settings.HANDLER, "index.py", "exec"), namespace)  # noqa: S102 - our own generated code
        namespace["handler"]({"RequestType": request, "ResourceProperties": props}, None)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return sent


def test_handler_turns_settings_on_and_leaves_them_on_delete() -> None:
    props = {"AccountId": "123456789012", "EbsEncryptionByDefault": "true", "S3BlockPublicAccess": "true"}
    ec2, s3control = _FakeEc2(enabled=False), _FakeS3Control()
    assert [s[0] for s in _run("Create", props, ec2, s3control)] == ["SUCCESS"]
    assert ec2.calls == 1
    [put] = s3control.puts
    assert put["AccountId"] == "123456789012" and all(put["PublicAccessBlockConfiguration"].values())

    ec2, s3control = _FakeEc2(enabled=False), _FakeS3Control()
    [(status, reason)] = _run("Delete", props, ec2, s3control)
    assert status == "SUCCESS" and "left on" in reason
    assert ec2.calls == 0 and s3control.puts == []

    ec2, s3control = _FakeEc2(enabled=True), _FakeS3Control()
    _run("Update", {**props, "S3BlockPublicAccess": "false"}, ec2, s3control)
    assert ec2.calls == 0 and s3control.puts == []  # already on; not the home region


# ----------------------------------------------------------------------------- cfn-lint (slow)


@pytest.mark.slow
def test_cfn_lint_reports_nothing_on_any_variant(plan: Plan) -> None:
    """0 findings (informational ones included, as `guardrails build` counts them) on every security template of
    the example and of its variants: Control Tower's recorder, an existing bucket, no trail, no settings."""
    from guardrails.validators.cfn_lint import lint_templates

    key = "arn:aws:kms:eu-west-1:200000000001:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    variants = {
        "example": plan,
        "control-tower": _with(plan, config_recorder=False),
        "existing-bucket": _with(plan, log_bucket_existing=True, log_kms_key_arn=key),
        "no-trail": _with(plan, trail_name=None, unused_access_days=None, ebs_default_encryption=False),
    }
    regions = (plan.org.home_region, *plan.org.allowed_regions)
    findings = []
    for name, variant in variants.items():
        files = emit(variant)
        templates = {f"{name}/{p}": t for p, t in files.items() if p in SECURITY_FILES | {STACKSETS}}
        findings += [f"{d.location}: {d.message}" for d in lint_templates(templates, regions)]
    assert not findings, "\n".join(findings)


# Where each resource policy of the plan lives in the CloudFormation output.
RESOURCE_POLICY_PLACES = {
    "alerts-key": (ACCOUNT_SECURITY, "AlertKey", "KeyPolicy"),
    "alerts-topic": (ACCOUNT_SECURITY, "AlertTopicPolicy", "PolicyDocument"),
    "log-archive-key": (LOG_ARCHIVE, "LogArchiveKey", "KeyPolicy"),
    "log-archive-bucket": (LOG_ARCHIVE, "LogBucketPolicy", "PolicyDocument"),
}


@pytest.mark.parametrize("config_recorder", [True, False], ids=["recorder", "control-tower-config"])
def test_resource_policies_are_the_plans_documents(plan: Plan, config_recorder: bool) -> None:
    """Both formats render the one plan value (the Terraform side: tests/test_security_terraform.py); with Config
    owned by Control Tower neither grants Config on the log bucket or key."""
    from guardrails.emitters.cloudformation.render import unsub

    variant = _with(plan, config_recorder=config_recorder)
    files = emit(variant)
    assert {p.key for p in variant.resource_policies} == set(RESOURCE_POLICY_PLACES)
    for policy in variant.resource_policies:
        path, logical_id, prop = RESOURCE_POLICY_PLACES[policy.key]
        rendered = _load(files, path)["Resources"][logical_id]["Properties"][prop]
        assert unsub(rendered, variant.org.partition) == policy.document.to_json(), policy.key
        grants_config = any(p.identifiers == ("config.amazonaws.com",)
                            for s in policy.document.statements for p in s.principals)
        assert grants_config == (config_recorder and policy.key.startswith("log-archive")), policy.key
