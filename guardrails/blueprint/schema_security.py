"""Blueprint format v1, the `security` section: log archive, Config, Access Analyzer, CloudTrail, alerts and account
settings (docs/security-baseline.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from guardrails.blueprint.schema_base import Strict


ConfigRuleId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]{3,128}$")]
AlertKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,64}$")]
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]


class ObjectLock(Strict):
    """S3 Object Lock default retention of the log bucket: every log object version is write-once for `days`.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html"""

    mode: Literal["governance", "compliance"] = Field(
        "governance", description="governance: principals with s3:BypassGovernanceRetention (denied by the "
        "protect-log-archive guardrail to all but break-glass and deployment) can still shorten or remove the lock; "
        "compliance: nobody can, the root user included, until the retention ends."
    )
    days: int | None = Field(
        None, ge=1, le=36500, description="Default retention in days; defaults to `retention_days`."
    )


class LogArchive(Strict):
    """Where CloudTrail and AWS Config deliver: one bucket in the log-archive account."""

    account: str = Field(description="Name of the log-archive account (usually in the Security OU).")
    bucket: BucketName = Field(description="S3 bucket for CloudTrail and Config logs (globally unique name).")
    existing: bool = Field(
        False, description="The bucket and its KMS key exist (e.g. made by Control Tower): reference, never create."
    )
    kms_key_arn: str | None = Field(
        None, description="KMS key of an existing bucket; guardrails creates its own key when it creates the bucket."
    )
    retention_days: int = Field(
        365, ge=1, le=36500, description="Days before log objects expire (CIS keeps at least 365)."
    )
    object_lock: ObjectLock | None = Field(
        default_factory=ObjectLock, description="S3 Object Lock on the log bucket (governance mode by default); "
        "`null` for none. Ignored with `existing: true`."
    )


class ManagedConfigRule(Strict):
    """An AWS managed Config rule by identifier (https://docs.aws.amazon.com/config/latest/developerguide/managed-rules-by-aws-config.html)."""

    identifier: ConfigRuleId = Field(description="e.g. `S3_BUCKET_PUBLIC_READ_PROHIBITED`.")
    parameters: dict[str, str | int | bool] = Field(default_factory=dict, description="Input parameters of the rule.")
    home_region_only: bool = Field(
        False, description="The rule evaluates global resources (IAM): deploy it in the home region only."
    )
    resource_types: list[Annotated[str, StringConstraints(pattern=r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")]] = Field(
        default_factory=list, description="Change-triggered scope, e.g. `AWS::S3::Bucket`; empty: periodic."
    )


class ConfigSettings(Strict):
    managed_by: Literal["guardrails", "control-tower"] | None = Field(
        None, description="Who owns the configuration recorder and delivery channel; defaults to `control-tower` "
        "when `organization.control_tower` is set, else `guardrails`. The rules are emitted either way."
    )
    delegated_admin: str | None = Field(None, description="Account (name) that administers Config for the org.")
    access_key_max_age: int = Field(90, ge=1, le=365, description="ACCESS_KEYS_ROTATED maxAccessKeyAge (CIS: 90).")
    unused_credentials_days: int = Field(
        45, ge=1, le=365, description="IAM_USER_UNUSED_CREDENTIALS_CHECK maxCredentialUsageAge (CIS: 45)."
    )
    rules: list[ManagedConfigRule] = Field(default_factory=list, description="Further AWS managed rules.")


class AccessAnalyzer(Strict):
    delegated_admin: str = Field(description="Account (name) holding the ORGANIZATION analyzer (the security account).")
    unused_access_days: int | None = Field(
        None, ge=1, le=365, description="Also create an unused-access analyzer with this age (a paid feature)."
    )


class CloudTrail(Strict):
    organization_trail: bool = Field(True, description="An organization trail in the management account.")
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")] = "guardrails-org-trail"


class Alerts(Strict):
    """EventBridge rules (guardrails/data/alert_rules.yaml: CIS 4.x, root and break-glass use) to an SNS topic with
    a KMS key."""

    emails: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Subscribed to the alert topic (each address confirms by e-mail)."
    )
    topic_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,256}$")] = "guardrails-security-alerts"
    include: list[AlertKey] = Field(
        default_factory=list, description="Optional alert rules to add (guardrails/data/alert_rules.yaml, "
        "`optional: true`), e.g. `security-group-changes`."
    )
    exclude: list[AlertKey] = Field(
        default_factory=list, description="Alert rules of the baseline to leave out, by key (e.g. "
        "`console-sign-in-failures`)."
    )


class Detection(Strict):
    """GuardDuty and Security Hub for the whole organization, from a delegated administrator."""

    guardduty: bool = Field(True, description="Enable GuardDuty in every allowed region for every account.")
    security_hub: bool = Field(
        True, description="Enable Security Hub (central configuration: AWS Foundational Security Best Practices and "
        "CIS v3.0.0) for every account in the allowed regions."
    )
    delegated_admin: str | None = Field(
        None, description="Account (name) administering both; defaults to `access_analyzer.delegated_admin`, then "
        "`config.delegated_admin`."
    )


class AccountSettings(Strict):
    ebs_default_encryption: bool = Field(True, description="Turn on EBS encryption by default in every allowed region.")
    s3_block_public_access: bool = Field(True, description="Turn on the account-level S3 Block Public Access.")


class ControlOwner(Strict):
    """A principal that may change detective and protective controls besides break-glass and the deployment
    principals; the escalation analysis reports everyone else who can (GR406, docs/escalation.md)."""

    principal: Annotated[str, StringConstraints(max_length=600, pattern=r"^[\w+=,.@/*?-]+$")] = Field(
        description="A role of the blueprint: `NAME` or `role/NAME`, `role/PATH/NAME` (the path without its "
        "slashes around, e.g. `role/security/AlertsOperator`), wildcards `*` and `?` allowed; or "
        "`permission-set/NAME` for the Identity Center sessions of a permission set."
    )
    controls: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{1,63}$")]] | None = Field(
        None, description="The controls it owns, by id (`trail`, `alert-topic`, … as docs/escalation.md lists them) "
        "or family (`alerts`, `log-archive`, `config`); leave out for every control."
    )
    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)] = Field(
        description="Why this principal may change them (shown in the escalation report)."
    )


class Security(Strict):
    """Detective controls and account settings of every account (docs/security-baseline.md)."""

    log_archive: LogArchive
    config: ConfigSettings = Field(default_factory=ConfigSettings)
    access_analyzer: AccessAnalyzer | None = None
    cloudtrail: CloudTrail | None = Field(default_factory=CloudTrail)
    alerts: Alerts = Field(default_factory=Alerts)
    account_settings: AccountSettings = Field(default_factory=AccountSettings)
    detection: Detection = Field(default_factory=Detection)
    centralized_root_access: bool = Field(
        True, description="Manage member accounts' root credentials centrally (aws_iam_organizations_features): "
        "member root users need no password or MFA device."
    )
    trusted_services: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+\.amazonaws\.com$")]] = Field(
        default_factory=list, description="Further service principals with trusted access in the organization "
        "(e.g. securityhub.amazonaws.com). Terraform manages the list exactly: a service enabled elsewhere and "
        "not listed here or needed by guardrails is switched off on apply."
    )
    control_owners: list[ControlOwner] = Field(
        default_factory=list, description="Principals that own controls besides break-glass and the deployment "
        "principals (the trail, Config, the alerts, the log archive, Access Analyzer, the guardrail roles, policies, "
        "boundaries and functions): the escalation analysis lets them change those, and nobody else."
    )
