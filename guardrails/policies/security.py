"""The blueprint's ``security`` section → :class:`SecurityPlan`: Config rules, alerts, log archive, org set-up,
GuardDuty and Security Hub.

Pure: the baseline's Config rules and alert rules are data (``guardrails/data/config_rules.yaml``,
``alert_rules.yaml``), filled with the blueprint's values; the partition's regions come from ``regions.yaml``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from guardrails.blueprint.schema import Security
from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.iam.arns import arn
from guardrails.model.build import Model
from guardrails.model.resolved import region_facts
from guardrails.policies.ir import (
    ACCOUNT_ID,
    AlertRule,
    Condition,
    ConfigRule,
    PasswordPolicy,
    PolicyDocument,
    Principal,
    Role,
    SecurityPlan,
    Statement,
    partition_facts,
)

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

GUARDDUTY = "guardduty.amazonaws.com"
SECURITY_HUB = "securityhub.amazonaws.com"

FORWARDING_ROLE = "GuardrailsAlertForwarding"  # in every account's IAM baseline (alert_forwarding_role)
FORWARDING_ROLE_PATH = "/guardrails/"
# Security Hub standards of the central configuration policy, by ARN (region: the home region).
# https://docs.aws.amazon.com/securityhub/latest/userguide/standards-reference.html
SECURITY_HUB_STANDARDS = ("standards/aws-foundational-security-best-practices/v/1.0.0",
                          "standards/cis-aws-foundations-benchmark/v/3.0.0")


@cache
def baseline_rules() -> dict[str, Any]:
    """The AWS managed Config rules of the baseline (data with sources)."""
    text = resources.files("guardrails.data").joinpath("config_rules.yaml").read_text("utf-8")
    return safe_load(text)


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


@cache
def alert_rule_data() -> dict[str, Any]:
    """The alert rules of the baseline (data with sources: guardrails/data/alert_rules.yaml)."""
    text = resources.files("guardrails.data").joinpath("alert_rules.yaml").read_text("utf-8")
    return safe_load(text)


def _filled(value: Any, role: str, users: tuple[str, ...]) -> Any:
    """A pattern with the break-glass role and users put in (see the data file's header)."""
    if isinstance(value, dict):
        return {k: _filled(v, role, users) for k, v in value.items()}
    if isinstance(value, list):
        if value == ["{break_glass_users}"]:
            return list(users)
        return [_filled(v, role, users) for v in value]
    if isinstance(value, str):
        return value.replace("{break_glass_role}", role)
    return value


def _pattern(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def alert_rules(break_glass_role: str, break_glass_users: tuple[str, ...], partition: str = "aws", *,
                include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> tuple[AlertRule, ...]:
    """EventBridge patterns on CloudTrail events (https://docs.aws.amazon.com/eventbridge/latest/ref/
    events-structure.html): the data file's rules for this partition, the optional ones only when included."""
    rules = []
    for entry in alert_rule_data()["rules"]:
        key = entry["key"]
        if key in exclude or (entry.get("optional") and key not in include):
            continue
        if partition not in entry.get("partitions", (partition,)):
            continue
        if key == "break-glass-sign-in" and not break_glass_users:
            continue
        rules.append(AlertRule(
            key, f"guardrails-{key}", entry["description"].replace("{break_glass_role}", break_glass_role),
            _pattern(_filled(entry["pattern"], break_glass_role, break_glass_users)),
            global_only=bool(entry["global_only"]), source=entry.get("source", "")))
    return tuple(rules)


def _alert_problems(model: Model, security: Security) -> list[Diagnostic]:
    """Keys of `alerts.include`/`exclude` that name no rule (or, for include, no optional rule)."""
    known = {e["key"]: bool(e.get("optional")) for e in alert_rule_data()["rules"]}
    problems = []
    for field, values in (("include", security.alerts.include), ("exclude", security.alerts.exclude)):
        for index, key in enumerate(values):
            if key not in known or (field == "include" and not known[key]):
                choices = sorted(k for k, optional in known.items() if optional or field == "exclude")
                problems.append(Diagnostic.of(
                    "GR301", f"unknown {'optional ' if field == 'include' else ''}alert rule {key!r}",
                    model.source.where("security", "alerts", field, index), "one of: " + ", ".join(choices)))
    return problems


def _detection_admin(model: Model, security: Security) -> tuple[str | None, list[Diagnostic]]:
    """The delegated administrator of GuardDuty and Security Hub: the one named, else Access Analyzer's, else
    Config's (the model stage has checked those two)."""
    detection = security.detection
    if not (detection.guardduty or detection.security_hub):
        return None, []
    name = detection.delegated_admin or (security.access_analyzer.delegated_admin if security.access_analyzer
                                         else None) or security.config.delegated_admin
    where = model.source.where("security", "detection")
    if name is None:
        return None, [Diagnostic.of(
            "GR311", "GuardDuty and Security Hub need a delegated administrator", where,
            "name one with `security.detection.delegated_admin` (the audit account), or switch them off with "
            "`guardduty: false` and `security_hub: false`")]
    account = model.accounts.get(name)
    if account is None or account.management:
        return None, [Diagnostic.of(
            "GR301" if account is None else "GR311",
            f"unknown account {name!r}" if account is None else f"{name!r} is the management account",
            model.source.where("security", "detection", "delegated_admin"),
            "name a member account, usually the audit account (AWS advises against administering GuardDuty and "
            "Security Hub from the management account)")]
    return name, []


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
    problems = _alert_problems(model, security)
    detection_admin, more = _detection_admin(model, security)
    if problems or more:
        raise BlueprintError([*problems, *more])
    detection = security.detection
    if detection_admin is not None:
        trusted |= {GUARDDUTY} if detection.guardduty else set()
        trusted |= {SECURITY_HUB} if detection.security_hub else set()
    facts = partition_facts(org.partition)
    regions = tuple(dict.fromkeys((facts.global_region, *org.allowed_regions)))
    # Break-glass and the deployment principals are exempt from the region guardrail, and STS, KMS and Config are
    # outside it for everyone: their events can happen in every region an account can use, not only the allowed ones.
    watch = tuple(r for r in facts.default_regions if r not in regions)
    lock = security.log_archive.object_lock
    linking_mode, linked = _hub_linking(org.partition, org.home_region, tuple(org.allowed_regions))
    return SecurityPlan(
        log_account=security.log_archive.account, log_bucket=security.log_archive.bucket,
        log_bucket_existing=security.log_archive.existing, log_kms_key_arn=security.log_archive.kms_key_arn,
        log_retention_days=security.log_archive.retention_days,
        config_recorder=recorder_owner == "guardrails", config_rules=config_rules(security, password),
        config_admin=security.config.delegated_admin,
        analyzer_account=security.access_analyzer.delegated_admin if security.access_analyzer else None,
        unused_access_days=security.access_analyzer.unused_access_days if security.access_analyzer else None,
        trail_name=security.cloudtrail.name if security.cloudtrail and security.cloudtrail.organization_trail else None,
        alert_regions=regions,
        alerts=alert_rules(org.break_glass.role, tuple(org.break_glass.users), org.partition,
                           include=tuple(security.alerts.include), exclude=tuple(security.alerts.exclude)),
        alert_emails=tuple(security.alerts.emails), topic_name=security.alerts.topic_name,
        ebs_default_encryption=security.account_settings.ebs_default_encryption,
        s3_block_public_access=security.account_settings.s3_block_public_access,
        centralized_root_access=security.centralized_root_access, trusted_services=tuple(sorted(trusted)),
        delegated_admins=tuple(sorted(delegated)), global_region=facts.global_region, watch_regions=watch,
        forwarding_role=FORWARDING_ROLE if watch else None, forwarding_region=org.home_region if watch else "",
        object_lock_mode=lock.mode.upper() if lock is not None and not security.log_archive.existing else None,
        object_lock_days=(lock.days or security.log_archive.retention_days) if lock is not None else 0,
        detection_admin=detection_admin, guardduty=detection_admin is not None and detection.guardduty,
        security_hub=detection_admin is not None and detection.security_hub,
        security_hub_standards=tuple(arn(org.partition, "securityhub", org.home_region, "", s)
                                     for s in SECURITY_HUB_STANDARDS) if detection.security_hub else (),
        hub_linking_mode=linking_mode if detection.security_hub else "",
        hub_linked_regions=linked if detection.security_hub else ())


def _hub_linking(partition: str, home: str, allowed: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Security Hub aggregates the other allowed regions' findings into the home region. With no other region,
    every other region of the partition is excluded instead (CloudFormation's RegionLinkingMode has no
    NO_REGIONS). https://docs.aws.amazon.com/securityhub/latest/userguide/finding-aggregation.html"""
    others = tuple(r for r in allowed if r != home)
    if others:
        return "SPECIFIED_REGIONS", others
    facts = region_facts()
    everywhere = sorted({*facts["records_global_iam"], *facts["launched_later"]})
    same = [r for r in everywhere if _partition_of(r) == partition and r != home]
    return "ALL_REGIONS_EXCEPT_SPECIFIED", tuple(same)


def _partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def forwarding_role_name(security: SecurityPlan) -> str:
    """``guardrails/GuardrailsAlertForwarding``: the alert-forwarding role's path and name, as ARNs write them."""
    return FORWARDING_ROLE_PATH.strip("/") + "/" + (security.forwarding_role or FORWARDING_ROLE)


def alert_forwarding_role(partition: str, security: SecurityPlan) -> Role:
    """The role EventBridge assumes in the watch regions to put the alert rules' events on the home region's
    default bus, where the rules of the same name send them to the topic. A rule targeting an event bus in another
    region needs a role with events:PutEvents on it (https://docs.aws.amazon.com/eventbridge/latest/userguide/
    eb-cross-region.html); the home region is allowed, so the region guardrail lets the role's PutEvents through.
    aws:SourceAccount and aws:SourceArn keep EventBridge from assuming it for any other account's or rule's sake
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    bus = arn(partition, "events", security.forwarding_region, ACCOUNT_ID, "event-bus/default")
    trust = PolicyDocument((Statement(
        "EventBridgeForwardsAlerts", "Allow", actions=("sts:AssumeRole",),
        principals=(Principal("Service", ("events.amazonaws.com",)),),
        conditions=(Condition("ArnLike", "aws:SourceArn", (arn(partition, "events", "*", ACCOUNT_ID,
                                                                   "rule/guardrails-*"),)),
                    Condition("StringEquals", "aws:SourceAccount", (ACCOUNT_ID,)))),))
    policy = PolicyDocument((Statement("PutEventsOnHomeRegionBus", "Allow", actions=("events:PutEvents",),
                                       resources=(bus,)),))
    return Role(key="alert_forwarding", name=security.forwarding_role or FORWARDING_ROLE, path=FORWARDING_ROLE_PATH,
                description=f"EventBridge forwards the security alert events of the regions outside the allowed "
                            f"ones to {security.forwarding_region} with this role.",
                trust=trust, policies=(), inline_policies=(("forward-security-alerts", policy),),
                tags=(("guardrails:purpose", "security-alerts"),))


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
