"""The blueprint's ``security`` section → :class:`SecurityPlan`: Config rules, alerts, log archive, org set-up.

Pure: the baseline rules are data (``guardrails/data/config_rules.yaml``), filled with the blueprint's values.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import yaml

from guardrails.blueprint.schema import Security
from guardrails.diagnostics import Diagnostic
from guardrails.model.build import Model
from guardrails.policies.ir import ALERT_REGION, AlertRule, ConfigRule, PasswordPolicy, SecurityPlan

# Trusted access each feature needs in AWS Organizations, by service principal.
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services_list.html
ACCESS_ANALYZER = "access-analyzer.amazonaws.com"
CONFIG = "config.amazonaws.com"
CONFIG_MULTI_ACCOUNT = "config-multiaccountsetup.amazonaws.com"  # organization rules and conformance packs
CLOUDTRAIL = "cloudtrail.amazonaws.com"
IAM = "iam.amazonaws.com"  # centralized root access
STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"  # service-managed StackSets (the CloudFormation output)
CONTROL_TOWER = "controltower.amazonaws.com"
IDENTITY_CENTER = "sso.amazonaws.com"

# IAM calls that change what a policy grants (the CIS 4.4 / CloudWatch "IAM policy changes" event names, plus the
# boundary and trust-policy calls that change what a principal can do).
IAM_POLICY_CHANGES = (
    "AttachGroupPolicy", "AttachRolePolicy", "AttachUserPolicy", "CreatePolicy", "CreatePolicyVersion",
    "DeleteGroupPolicy", "DeletePolicy", "DeletePolicyVersion", "DeleteRolePermissionsBoundary", "DeleteRolePolicy",
    "DeleteUserPermissionsBoundary", "DeleteUserPolicy", "DetachGroupPolicy", "DetachRolePolicy", "DetachUserPolicy",
    "PutGroupPolicy", "PutRolePermissionsBoundary", "PutRolePolicy", "PutUserPermissionsBoundary", "PutUserPolicy",
    "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy",
)
API_CALL = "AWS API Call via CloudTrail"
SIGN_IN = "AWS Console Sign In via CloudTrail"


@cache
def baseline_rules() -> dict[str, Any]:
    """The AWS managed Config rules of the baseline (data with sources)."""
    text = resources.files("guardrails.data").joinpath("config_rules.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def rule_name(identifier: str) -> str:
    """``ACCESS_KEYS_ROTATED`` → ``guardrails-access-keys-rotated`` (ConfigRuleName: up to 128 characters)."""
    return ("guardrails-" + identifier.lower().replace("_", "-"))[:128]


def _parameter(value: object) -> str:
    """Config takes every input parameter as a string; booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_rules(security: Security, password: PasswordPolicy | None) -> tuple[ConfigRule, ...]:
    """The baseline rules with the blueprint's values, then the blueprint's extra rules (an extra rule with a
    baseline identifier replaces the baseline one: same rule, the blueprint's parameters)."""
    values: dict[str, object] = {"access_key_max_age": security.config.access_key_max_age,
                                 "unused_credentials_days": security.config.unused_credentials_days}
    if password is not None:
        values.update({field: _parameter(getattr(password, field)) for field in (
            "require_uppercase", "require_lowercase", "require_symbols", "require_numbers", "minimum_length",
            "reuse_prevention", "max_age")})
    extra = {rule.identifier: rule for rule in security.config.rules}
    rules: list[ConfigRule] = []
    for entry in baseline_rules()["rules"]:
        identifier = entry["identifier"]
        if identifier in extra:
            continue
        parameters = entry.get("parameters", {})
        if identifier == "IAM_PASSWORD_POLICY" and password is None:
            parameters = {}  # no password policy in the blueprint: the rule's own defaults (CIS-like)
        rules.append(ConfigRule(
            name=rule_name(identifier), identifier=identifier, description=entry["description"],
            parameters=tuple(sorted((k, str(v).format(**values)) for k, v in parameters.items())),
            home_region_only=entry["home_region_only"], resource_types=tuple(entry.get("resource_types", ())),
            source=entry["source"]))
    for rule in security.config.rules:
        rules.append(ConfigRule(
            name=rule_name(rule.identifier), identifier=rule.identifier,
            description=f"AWS managed rule {rule.identifier} (from the blueprint).",
            parameters=tuple(sorted((k, _parameter(v)) for k, v in rule.parameters.items())),
            home_region_only=rule.home_region_only, resource_types=tuple(rule.resource_types),
            source="https://docs.aws.amazon.com/config/latest/developerguide/"
                   + rule.identifier.lower().replace("_", "-") + ".html"))
    return tuple(rules)


def _pattern(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def alert_rules(break_glass_role: str, break_glass_users: tuple[str, ...]) -> tuple[AlertRule, ...]:
    """EventBridge patterns on CloudTrail events (https://docs.aws.amazon.com/eventbridge/latest/ref/
    events-structure.html). IAM and console sign-in are global: their events reach EventBridge in us-east-1 only
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html#eb-service-event-cloudtrail).
    Root and break-glass sessions can call any regional service, so those rules run in every alert region."""
    return (
        AlertRule("iam-policy-changes", "guardrails-iam-policy-changes",
                  "IAM policies, boundaries or trust policies were changed (CIS 4.4).",
                  _pattern({"source": ["aws.iam"], "detail-type": [API_CALL],
                            "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": list(IAM_POLICY_CHANGES)}}),
                  alert_region_only=True),
        AlertRule("root-use", "guardrails-root-use",
                  "The root user signed in or called an API (CIS 4.3).",
                  _pattern({"detail-type": [API_CALL, SIGN_IN],
                            "detail": {"userIdentity": {"type": ["Root"]}}}),
                  alert_region_only=False),
        AlertRule("break-glass-use", "guardrails-break-glass-use",
                  f"The break-glass role {break_glass_role} was assumed or used.",
                  _pattern({"detail-type": [API_CALL], "detail": {"$or": [
                      {"eventName": ["AssumeRole"],
                       "requestParameters": {"roleArn": [{"suffix": f":role/{break_glass_role}"}]}},
                      {"userIdentity": {"sessionContext": {"sessionIssuer": {"userName": [break_glass_role]}}}},
                  ]}}),
                  alert_region_only=False),
        AlertRule("break-glass-sign-in", "guardrails-break-glass-sign-in",
                  "A break-glass IAM user signed in to the console.",
                  _pattern({"detail-type": [SIGN_IN],
                            "detail": {"userIdentity": {"type": ["IAMUser"], "userName": list(break_glass_users)}}}),
                  alert_region_only=True),
    )


def security_plan(model: Model, password: PasswordPolicy | None) -> SecurityPlan | None:
    """The plan's security part, or None when the blueprint has no ``security`` section."""
    bp = model.blueprint
    security = bp.security
    if security is None:
        return None
    org = bp.organization
    recorder_owner = security.config.managed_by or ("control-tower" if org.control_tower else "guardrails")
    delegated: list[tuple[str, str]] = []
    if security.access_analyzer is not None:
        delegated.append((ACCESS_ANALYZER, security.access_analyzer.delegated_admin))
    if security.config.delegated_admin is not None:
        delegated += [(CONFIG, security.config.delegated_admin),
                      (CONFIG_MULTI_ACCOUNT, security.config.delegated_admin)]
    trusted = {STACKSETS, CONFIG, CONFIG_MULTI_ACCOUNT, *security.trusted_services} | {s for s, _ in delegated}
    if security.cloudtrail is not None and security.cloudtrail.organization_trail:
        trusted.add(CLOUDTRAIL)
    if security.centralized_root_access:
        trusted.add(IAM)
    if org.control_tower is not None:
        trusted.add(CONTROL_TOWER)
    if bp.identity_center is not None:
        trusted.add(IDENTITY_CENTER)
        if bp.identity_center.delegated_admin is not None:
            delegated.append((IDENTITY_CENTER, bp.identity_center.delegated_admin))
    regions = tuple(dict.fromkeys((ALERT_REGION, *org.allowed_regions)))
    return SecurityPlan(
        log_account=security.log_archive.account, log_bucket=security.log_archive.bucket,
        log_bucket_existing=security.log_archive.existing, log_kms_key_arn=security.log_archive.kms_key_arn,
        log_retention_days=security.log_archive.retention_days,
        config_recorder=recorder_owner == "guardrails", config_rules=config_rules(security, password),
        config_admin=security.config.delegated_admin,
        analyzer_account=security.access_analyzer.delegated_admin if security.access_analyzer else None,
        unused_access_days=security.access_analyzer.unused_access_days if security.access_analyzer else None,
        trail_name=security.cloudtrail.name if security.cloudtrail and security.cloudtrail.organization_trail else None,
        alert_regions=regions, alerts=alert_rules(org.break_glass.role, tuple(org.break_glass.users)),
        alert_emails=tuple(security.alerts.emails), topic_name=security.alerts.topic_name,
        ebs_default_encryption=security.account_settings.ebs_default_encryption,
        s3_block_public_access=security.account_settings.s3_block_public_access,
        centralized_root_access=security.centralized_root_access, trusted_services=tuple(sorted(trusted)),
        delegated_admins=tuple(sorted(delegated)))




def root_session_warnings(model: Model) -> list[Diagnostic]:
    """GR320 where centralized root access is on but deny-root-user would deny the root sessions it starts.

    Centralized root access replaces member root passwords with short ``sts:AssumeRoot`` sessions; the catalog's
    deny-root-user denies them too unless ``allow_centralized_root: true``, so root tasks (unlocking a bucket policy,
    deleting leftover root credentials) would fail in every member account under it."""
    bp = model.blueprint
    if bp.security is None or not bp.security.centralized_root_access:
        return []
    found = []
    for attachment in model.attachments:
        if attachment.guardrail_id == "deny-root-user" and not attachment.given.get("allow_centralized_root"):
            found.append(Diagnostic.of(
                "GR320", "deny-root-user also denies the root sessions of centralized root access",
                model.source.where(*attachment.yaml_path),
                "write `- deny-root-user: {allow_centralized_root: true}` so that sessions started with "
                "sts:AssumeRoot from the management account keep working (docs/security-baseline.md)"))
    return found
