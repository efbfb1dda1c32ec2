"""The security review's findings on the default baseline (issue 13), each pinned by a test that failed before the
fix: H3 (alerts where break-glass can act), H4 (management and log archive alerts, Object Lock, the log archive
SCP), GuardDuty and Security Hub enabled, partition-correct regions and endpoints, and M5 (the account-settings
function's exemption, StackSets that keep the baseline when an account moves)."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation.engine import Caller, Policy, Request, matching_statements
from guardrails.model.catalog import load_catalog
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.ir import Plan, SecurityPlan, partition_facts

from .conftest import ROOT

LOG_BUCKET = "example-org-logs-200000000001"
LOG_ARCHIVE_ID = "200000000001"


def _copy(tmp: Path, source: Path = ROOT / "blueprints") -> Path:
    target = tmp / "bp"
    shutil.copytree(source, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@cache
def _example() -> Compiled:
    # The access tests are other findings' business: this module only reads the plan and the files.
    return compile_blueprint(ROOT / "blueprints", run_tests=False)


@pytest.fixture(scope="module")
def example() -> Compiled:
    return _example()


def _security(plan: Plan) -> SecurityPlan:
    assert plan.security is not None
    return plan.security


def _tf_blocks(text: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in hcl2.loads(text).get(kind, []):
        for first, body in entry.items():
            if kind == "module":
                out[("module", first.strip('"'))] = body
                continue
            for name, inner in body.items():
                out[(first.strip('"'), name.strip('"'))] = inner
    return out


def _cfn(files: dict[str, str], name: str) -> dict[str, Any]:
    return yaml.safe_load(files[f"cloudformation/{name}"])


def _denied(document: dict[str, Any], action: str, resource: str, principal: str,
            **context: tuple[str, ...]) -> list[str]:
    """Sids of the SCP's Deny statements that apply to a role session's request (the evaluator's matching)."""
    account = principal.split(":")[4]
    ctx = {"aws:principalarn": (principal,), "aws:principalaccount": (account,), **{k.lower(): v for k, v in
                                                                                    context.items()}}
    caller = Caller("role", principal, account)
    request = Request(caller, action, resource, account, ctx)
    return [m.sid for m in matching_statements(Policy("scp", "scp", document), request, "Deny")]


# ----------------------------------------------------------------------------- H3: alerts where events happen


def test_h3_regional_alerts_exist_in_every_region_an_account_can_use(example: Compiled) -> None:
    security = _security(example.plan)
    facts = partition_facts(example.plan.org.partition)
    # The region guardrail leaves STS (and KMS, Config) out, and break-glass is exempt from it altogether: STS
    # can be called in every default region, so AssumeRole of the break-glass role can be logged in any of them.
    region_restriction = load_catalog()["region-restriction"]
    assert "sts:*" in region_restriction.parameters["global_actions"].default
    assert set(security.event_regions) >= set(facts.default_regions)
    assert set(security.watch_regions) == set(facts.default_regions) - set(security.alert_regions)
    assert security.alert_regions[0] == security.global_region == facts.global_region
    regional = {a.key for a in security.alerts if not a.global_only}
    assert {"break-glass-use", "root-use", "cloudtrail-changes", "kms-key-disabled-or-deleted"} <= regional
    assert {a.key for a in security.alerts if a.global_only} == {"iam-policy-changes", "organizations-changes",
                                                                 "region-opt-in"}


def test_h3_terraform_forwards_every_regional_alert_from_every_watch_region(example: Compiled) -> None:
    plan, files = example.plan, example.files
    security = _security(plan)
    rules = _tf_blocks(files["terraform/modules/alert-forwarding/rules.tf"], "resource")
    names = {json.loads('"' + body["name"].strip('"') + '"') for (kind, _), body in rules.items()
             if kind == "aws_cloudwatch_event_rule"}
    assert names == {a.name for a in security.alerts if not a.global_only}
    targets = [body for (kind, _), body in rules.items() if kind == "aws_cloudwatch_event_target"]
    assert all(t["arn"] == "${var.event_bus_arn}" and t["role_arn"] == "${var.role_arn}" for t in targets)
    for account in ("management", "log-archive", "app-prod"):
        account_id = plan.account(account).id
        modules = _tf_blocks(files[f"terraform/accounts/{account}/security.tf"], "module")
        forwarding = {name.removeprefix("alert_forwarding_").replace("_", "-"): body
                      for (_, name), body in modules.items() if name.startswith("alert_forwarding_")}
        assert set(forwarding) == set(security.watch_regions)
        for region, body in forwarding.items():
            assert body["providers"] == {"aws": "${aws." + region.replace("-", "_") + "}"}
            assert body["event_bus_arn"] == f'"arn:aws:events:eu-west-1:{account_id}:event-bus/default"'
            assert body["role_arn"] == f'"arn:aws:iam::{account_id}:role/guardrails/GuardrailsAlertForwarding"'
        providers = files[f"terraform/accounts/{account}/providers.tf"]
        assert all(f'region              = "{r}"' in providers for r in security.watch_regions)


def test_h3_cloudformation_deploys_forwarding_rules_in_the_watch_regions(example: Compiled) -> None:
    security = _security(example.plan)
    template = _cfn(example.files, "account-security.yaml")
    forwards = {r["Properties"]["Name"]: r for r in template["Resources"].values()
                if r["Type"] == "AWS::Events::Rule" and r["Condition"] == "IsWatchRegion"}
    assert set(forwards) == {a.name for a in security.alerts if not a.global_only}
    [target] = forwards["guardrails-break-glass-use"]["Properties"]["Targets"]
    # The home region: allowed, so the region guardrail lets the forwarding role's PutEvents through.
    assert target["Arn"] == {"Fn::Sub": "arn:${AWS::Partition}:events:eu-west-1:${AWS::AccountId}:event-bus/default"}
    assert target["RoleArn"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/guardrails/"
                                            "GuardrailsAlertForwarding"}
    # The topic, its key and subscriptions stay in the alert regions; the StackSet reaches every region.
    assert template["Resources"]["AlertTopic"]["Condition"] == "IsAlertRegion"
    stackset = _cfn(example.files, "stacksets.yaml")["Resources"]["StackSetAccountSecurity"]["Properties"]
    assert set(stackset["StackInstancesGroup"][0]["Regions"]) == set(security.event_regions)


def test_h3_the_forwarding_role_is_in_every_baseline_and_can_only_put_events_on_the_home_bus(
        example: Compiled) -> None:
    assert _security(example.plan).forwarding_region == example.plan.org.home_region
    for cls in example.plan.classes:
        [role] = [r for r in cls.baseline.roles if r.name == "GuardrailsAlertForwarding"]
        assert role.path == "/guardrails/"
        [trust] = role.trust.to_json()["Statement"]
        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "${account_id}"}
        assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:events:*:${account_id}:rule/guardrails-*"}
        [(name, policy)] = role.inline_policies
        assert policy.to_json()["Statement"] == [{
            "Sid": "PutEventsOnHomeRegionBus", "Effect": "Allow", "Action": "events:PutEvents",
            "Resource": "arn:aws:events:eu-west-1:${account_id}:event-bus/default"}]


def test_h3_no_scp_denies_the_forwarding_roles_put_events(example: Compiled) -> None:
    """The forwarding role is no privileged principal: the region guardrail applies to it, so it forwards to an
    allowed region (the home region), never to the global region the organization may not allow."""
    plan = example.plan
    account = plan.account("app-prod")
    role = f"arn:aws:iam::{account.id}:role/guardrails/GuardrailsAlertForwarding"
    home = plan.org.home_region
    bus = f"arn:aws:events:{home}:{account.id}:event-bus/default"
    documents = [s.document.to_json() for s in plan.scps if s.target in ("root", "ou:Workloads", "ou:Workloads/Prod")]
    assert documents
    for document in documents:
        assert not _denied(document, "events:PutEvents", bus, role, **{"aws:RequestedRegion": (home,)})
    elsewhere = f"arn:aws:events:us-east-1:{account.id}:event-bus/default"
    assert "us-east-1" not in plan.org.allowed_regions
    assert any(_denied(d, "events:PutEvents", elsewhere, role, **{"aws:RequestedRegion": ("us-east-1",)})
               for d in documents)


# ----------------------------------------------------------------------------- H4: alerts, Object Lock, the SCP


def test_h4_cis_section_4_alerts_cover_organizations_trails_keys_and_config(example: Compiled) -> None:
    patterns = {a.key: json.loads(a.pattern) for a in _security(example.plan).alerts}
    names = {key: set(p.get("detail", {}).get("eventName", [])) for key, p in patterns.items()}
    assert {"AttachPolicy", "DetachPolicy", "UpdatePolicy", "CreatePolicy", "DeletePolicy"} <= \
        names["organizations-changes"]
    assert {"StopLogging", "DeleteTrail", "UpdateTrail"} <= names["cloudtrail-changes"]
    assert {"DisableKey", "ScheduleKeyDeletion"} <= names["kms-key-disabled-or-deleted"]
    assert {"StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel"} <= names["config-changes"]
    assert patterns["organizations-changes"]["source"] == ["aws.organizations"]
    # Every account gets them, the management account and the log archive included (both formats).
    for account in ("management", "log-archive"):
        assert 'module "security_us_east_1"' in example.files[f"terraform/accounts/{account}/security.tf"]
    alerts = example.files["terraform/modules/account-security/alerts.tf"]
    assert '"guardrails-organizations-changes"' in alerts and '"guardrails-cloudtrail-changes"' in alerts
    header = example.files["cloudformation/account-security.yaml"].split("AWSTemplateFormatVersion")[0]
    assert "StackSets never deploy to the management account: deploy it there" in header


def test_h4_optional_and_excluded_alert_rules(tmp_path: Path) -> None:
    blueprint = _copy(tmp_path)
    _edit(blueprint / "security.yaml", "  alerts:\n    emails: [security-alerts@example.com]\n",
          "  alerts:\n    emails: [security-alerts@example.com]\n    include: [security-group-changes]\n"
          "    exclude: [console-sign-in-failures]\n")
    keys = {a.key for a in _security(compile_blueprint(blueprint, run_tests=False).plan).alerts}
    assert "security-group-changes" in keys and "console-sign-in-failures" not in keys
    assert "vpc-changes" not in keys  # optional rules stay off unless included
    _edit(blueprint / "security.yaml", "include: [security-group-changes]", "include: [no-such-rule]")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint, run_tests=False)
    assert any(d.code == "GR301" and "no-such-rule" in d.message for d in raised.value.diagnostics)


def test_h4_the_log_bucket_has_object_lock_in_governance_mode_by_default(example: Compiled) -> None:
    security = _security(example.plan)
    assert (security.object_lock_mode, security.object_lock_days) == ("GOVERNANCE", security.log_retention_days)
    lock = _tf_blocks(example.files["terraform/accounts/log-archive/log_archive.tf"], "resource")[
        ("aws_s3_bucket_object_lock_configuration", "log_archive")]
    assert lock["object_lock_enabled"] == '"Enabled"'
    retention = lock["rule"][0]["default_retention"][0]
    assert (retention["mode"], retention["days"]) == ('"GOVERNANCE"', security.log_retention_days)
    bucket = _cfn(example.files, "log-archive.yaml")["Resources"]["LogBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
        "Mode": "GOVERNANCE", "Days": security.log_retention_days}}}


def test_h4_object_lock_mode_and_days_come_from_the_blueprint(tmp_path: Path) -> None:
    blueprint = _copy(tmp_path)
    _edit(blueprint / "security.yaml", "    retention_days: 400\n",
          "    retention_days: 400\n    object_lock: {mode: compliance, days: 365}\n")
    security = _security(compile_blueprint(blueprint, run_tests=False).plan)
    assert (security.object_lock_mode, security.object_lock_days) == ("COMPLIANCE", 365)
    _edit(blueprint / "security.yaml", "    object_lock: {mode: compliance, days: 365}\n", "    object_lock: null\n")
    compiled = compile_blueprint(blueprint, run_tests=False)
    assert _security(compiled.plan).object_lock_mode is None
    log_archive = compiled.files["terraform/accounts/log-archive/log_archive.tf"]
    assert "aws_s3_bucket_object_lock_configuration" not in log_archive


def test_h4_protect_log_archive_denies_tampering_with_bucket_objects_lifecycle_and_key(tmp_path: Path) -> None:
    blueprint = _copy(tmp_path)  # the example attaches protect-log-archive to the log-archive account
    plan = compile_blueprint(blueprint, run_tests=False).plan
    [scp] = [s for s in plan.scps if s.target == "account:log-archive"]
    assert "protect-log-archive" in scp.guardrails
    document = scp.document.to_json()
    admin = f"arn:aws:iam::{LOG_ARCHIVE_ID}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
    bucket, objects = f"arn:aws:s3:::{LOG_BUCKET}", f"arn:aws:s3:::{LOG_BUCKET}/AWSLogs/o-x/CloudTrail/log.json.gz"
    key = f"arn:aws:kms:eu-west-1:{LOG_ARCHIVE_ID}:key/11111111-2222-3333-4444-555555555555"
    alias = ("alias/guardrails-log-archive",)
    for action, resource in (("s3:PutLifecycleConfiguration", bucket), ("s3:PutBucketPolicy", bucket),
                             ("s3:DeleteBucket", bucket), ("s3:PutBucketObjectLockConfiguration", bucket),
                             ("s3:PutBucketVersioning", bucket), ("s3:DeleteObjectVersion", objects),
                             ("s3:BypassGovernanceRetention", objects), ("s3:PutObjectRetention", objects)):
        assert _denied(document, action, resource, admin), action
    for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:DisableKeyRotation"):
        assert _denied(document, action, key, admin, **{"kms:ResourceAliases": alias}), action
    assert _denied(document, "kms:DeleteAlias", f"arn:aws:kms:eu-west-1:{LOG_ARCHIVE_ID}:alias/guardrails-log-archive",
                   admin)
    # Break-glass and the deployment keep the repair path; other keys of the account are not this guardrail's.
    for exempt in ("BreakGlass", "OrganizationAccountAccessRole"):
        role = f"arn:aws:iam::{LOG_ARCHIVE_ID}:role/{exempt}"
        assert not _denied(document, "s3:PutLifecycleConfiguration", bucket, role)
    assert not _denied(document, "kms:ScheduleKeyDeletion", key, admin, **{"kms:ResourceAliases": ("alias/app",)})


def test_h4_no_checkov_reason_claims_protect_security_services_guards_the_log_bucket() -> None:
    entries = yaml.safe_load((ROOT / "guardrails/data/suppressions.yaml").read_text(encoding="utf-8"))
    for entry in entries:
        if entry["kind"] == "log_bucket":
            assert "protect-security-services" not in entry["reason"], entry["check"]
    replication = next(e for e in entries if e["check"] == "CKV_AWS_144" and e["kind"] == "log_bucket")
    assert "protect-log-archive" in replication["reason"] and "Object Lock" in replication["reason"]


# ----------------------------------------------------------------------------- GuardDuty and Security Hub


def test_guardduty_and_security_hub_are_enabled_from_the_delegated_administrator(example: Compiled) -> None:
    plan, files = example.plan, example.files
    security = _security(plan)
    assert (security.guardduty, security.security_hub, security.detection_admin) == (True, True, "audit")
    assert {"guardduty.amazonaws.com", "securityhub.amazonaws.com"} <= set(security.trusted_services)
    audit = plan.account("audit").id
    organization = _tf_blocks(files["terraform/organization/security.tf"], "resource")
    designations = {n: b for (k, n), b in organization.items() if k == "aws_guardduty_organization_admin_account"}
    assert set(designations) == {r.replace("-", "_") for r in plan.org.allowed_regions}
    assert ("aws_securityhub_organization_admin_account", "this") in organization
    detection = _tf_blocks(files["terraform/accounts/audit/detection.tf"], "resource")
    configurations = [b for (k, _), b in detection.items() if k == "aws_guardduty_organization_configuration"]
    assert len(configurations) == len(plan.org.allowed_regions)
    assert all(c["auto_enable_organization_members"] == '"ALL"' for c in configurations)
    hub = detection[("aws_securityhub_organization_configuration", "this")]
    assert hub["organization_configuration"][0]["configuration_type"] == '"CENTRAL"'
    assert detection[("aws_securityhub_configuration_policy_association", "root")]["target_id"] == \
        f'"{plan.org.root_id}"'
    # CloudFormation: Security Hub's administrator and central configuration as resources, GuardDuty's commands.
    resources = _cfn(files, "organization-security.yaml")["Resources"]
    assert resources["SecurityHubAdministrator"] == {"Type": "AWS::SecurityHub::DelegatedAdmin",
                                                     "Properties": {"AdminAccountId": audit}}
    header = files["cloudformation/organization-security.yaml"].split("AWSTemplateFormatVersion")[0]
    for region in plan.org.allowed_regions:
        assert f"aws guardduty enable-organization-admin-account --region {region} --admin-account-id {audit}" in header
    template = _cfn(files, "security-detection.yaml")
    types = {r["Type"] for r in template["Resources"].values()}
    assert types == {"AWS::SecurityHub::FindingAggregator", "AWS::SecurityHub::OrganizationConfiguration",
                     "AWS::SecurityHub::ConfigurationPolicy", "AWS::SecurityHub::PolicyAssociation"}
    standards = template["Resources"]["ConfigurationPolicy"]["Properties"]["ConfigurationPolicy"]["SecurityHub"][
        "EnabledStandardIdentifiers"]
    assert standards == list(security.security_hub_standards)
    assert "--auto-enable-organization-members ALL" in files["cloudformation/security-detection.yaml"]


def test_guardduty_and_security_hub_can_be_switched_off(tmp_path: Path) -> None:
    blueprint = _copy(tmp_path)
    _edit(blueprint / "security.yaml", "  centralized_root_access: true",
          "  detection: {guardduty: false, security_hub: false}\n  centralized_root_access: true")
    compiled = compile_blueprint(blueprint, run_tests=False)
    security = _security(compiled.plan)
    assert not security.guardduty and not security.security_hub and security.detection_admin is None
    assert "cloudformation/security-detection.yaml" not in compiled.files
    assert "terraform/accounts/audit/detection.tf" not in compiled.files
    assert "aws_guardduty" not in compiled.files["terraform/organization/security.tf"]
    assert "aws_securityhub" not in compiled.files["terraform/organization/security.tf"]


# ----------------------------------------------------------------------------- partitions


def _security_section(tmp: Path, source: str, text: str) -> Path:
    blueprint = _copy(tmp, ROOT / "tests/cases" / source / "blueprint")
    (blueprint / "security.yaml").write_text(text, encoding="utf-8")
    return blueprint


def test_govcloud_uses_its_global_region_for_alerts_and_detection(tmp_path: Path) -> None:
    blueprint = _security_section(tmp_path, "federation", (
        "security:\n  log_archive: {account: identity, bucket: federation-logs-210987654321}\n"
        "  access_analyzer: {delegated_admin: identity}\n  alerts: {emails: [soc@gov.example]}\n"))
    compiled = compile_blueprint(blueprint, run_tests=False)
    security = _security(compiled.plan)
    assert security.global_region == "us-gov-west-1" and security.alert_regions[0] == "us-gov-west-1"
    assert "us-east-1" not in security.event_regions and set(security.event_regions) == {"us-gov-west-1",
                                                                                        "us-gov-east-1"}
    assert all(standard.startswith("arn:aws-us-gov:securityhub:us-gov-west-1::")
               for standard in security.security_hub_standards)
    template = _cfn(compiled.files, "account-security.yaml")
    assert template["Conditions"]["IsGlobalRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-gov-west-1"]}
    assert not [p for p, text in compiled.files.items() if "us-east-1" in text and "security" in p]


def test_china_uses_cn_north_1_and_the_amazonaws_com_cn_suffix(tmp_path: Path) -> None:
    blueprint = _security_section(tmp_path, "minimal", (
        "security:\n  log_archive: {account: security, bucket: minimal-logs-222222222222}\n"
        "  access_analyzer: {delegated_admin: security}\n"))
    for name in ("organization.yaml", "identity.yaml"):
        path = blueprint / name
        text = path.read_text(encoding="utf-8").replace("us-east-1", "cn-north-1")
        path.write_text(text.replace("organization:\n  name: minimal\n",
                                     "organization:\n  name: minimal\n  partition: aws-cn\n"), encoding="utf-8")
    compiled = compile_blueprint(blueprint, run_tests=False)
    security = _security(compiled.plan)
    assert security.global_region == "cn-north-1" and security.watch_regions == ("cn-northwest-1",)
    assert "region-opt-in" not in {a.key for a in security.alerts}  # China has no opt-in regions
    header = compiled.files["cloudformation/stacksets.yaml"].split("AWSTemplateFormatVersion")[0]
    assert "https://BUCKET.s3.cn-north-1.amazonaws.com.cn/PREFIX" in header
    assert not [p for p, text in compiled.files.items() if re.search(r"\.amazonaws\.com/", text)
                and p.startswith("cloudformation/") and "aws-service-role" not in text]
    bus = _tf_blocks(compiled.files["terraform/accounts/security/security.tf"], "module")[
        ("module", "alert_forwarding_cn_northwest_1")]["event_bus_arn"]
    assert bus == '"arn:aws-cn:events:cn-north-1:222222222222:event-bus/default"'


# ----------------------------------------------------------------------------- M5


def test_m5_the_account_settings_function_role_may_set_the_accounts_block(example: Compiled) -> None:
    [document] = [s.document.to_json() for s in example.plan.scps
                  if any(st.sid == "KeepS3AccountPublicAccessBlock" for st in s.document.statements)]
    account = "400000000001"
    # CloudFormation names the role after the StackSet instance and the logical id, shortened: only the path holds.
    function = f"arn:aws:iam::{account}:role/guardrails/StackSet-guardrails-account-sec-AccountSettingsFunctio-1A2B3C"
    assert not _denied(document, "s3:PutAccountPublicAccessBlock", "*", function)
    for other in (f"arn:aws:iam::{account}:role/workload/x",
                  f"arn:aws:iam::{account}:role/workload/x:role/guardrails/y"):
        assert _denied(document, "s3:PutAccountPublicAccessBlock", "*", other) == ["KeepS3AccountPublicAccessBlock"]


def test_m5_stacksets_keep_the_baseline_when_an_account_leaves_their_targets(example: Compiled) -> None:
    stacksets = _cfn(example.files, "stacksets.yaml")["Resources"]
    retained = {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert stacksets and all(s["Properties"]["AutoDeployment"] == retained for s in stacksets.values())
    deploying = (ROOT / "docs/deploying.md").read_text(encoding="utf-8")
    assert "RetainStacksOnAccountRemoval" in deploying
