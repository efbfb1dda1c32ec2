"""Terraform for the plan's security baseline (:class:`~guardrails.policies.ir.SecurityPlan`).

Files (paths relative to ``output/``; only when ``plan.security`` is set)::

    terraform/modules/account-security/   one module for every account, instantiated once per region
        versions.tf variables.tf config.tf config_rules.tf alerts.tf account_settings.tf outputs.tf
    terraform/modules/alert-forwarding/   the regional alert rules of a watch region, forwarding to the home region
        versions.tf variables.tf rules.tf
    terraform/accounts/<account>/security.tf        the module per region of SecurityPlan.alert_regions, and
                                                    alert-forwarding per region of SecurityPlan.watch_regions
    terraform/accounts/<log account>/log_archive.tf the log bucket (Object Lock) and its KMS key (unless it exists)
    terraform/accounts/<analyzer>/access_analyzer.tf organization analyzers
    terraform/accounts/<detection admin>/detection.tf  GuardDuty and Security Hub for the organization
    terraform/organization/security.tf   delegated administrators (GuardDuty and Security Hub included), root
                                         access features
    terraform/organization-trail/        the organization trail, a root module of its own (management account)

The module's content is the same for every account: literal values from the plan, variables only for what
differs per instance (account id, region and which kind of region it is). The key, bucket and topic policies
are the plan's :class:`~guardrails.policies.ir.ResourcePolicy` values (guardrails.policies.resource_policies)
rendered by ``policy_document.tf.j2``, never assembled here; inside the module the placeholders
``${account_id}``/``${region}`` become the instance's variables.

The module's inputs: account_id, region, home_region, allowed_region, global_region, log_kms_key_arn,
config_role_arn.

Apply order (guardrails.emitters.terraform.order): ``terraform/organization`` (trusted access, delegated
administrators), the log-archive account (bucket, key), ``terraform/organization-trail`` (CloudTrail checks the
bucket and key when it creates the trail), the analyzer account, every other account. A root module looks the log
key up by its alias ARN only after the log archive's step.

checkov kinds: ``security_key_policy`` (key: ``alerts`` or ``log_archive``), ``log_bucket`` (key: ``log_archive``),
``config_recorder`` (key: its name), ``organization_trail`` (key: the trail's name).
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.emitters.terraform.hcl import Hcl, quote, ref, tf_name
from guardrails.emitters.terraform.order import TRAIL, apply_order, step_of
from guardrails.emitters.terraform.render import ROOT, render, root_files, versions
from guardrails.iam.arns import arn, role_arn
from guardrails.policies.ir import Account, Plan, SecurityPlan
from guardrails.policies.resource_policies import LOG_KEY_ALIAS
from guardrails.policies.security import forwarding_role_name

MODULE = "account-security"
FORWARDING_MODULE = "alert-forwarding"
HUB_POLICY_NAME = "guardrails-organization"
RECORDER_NAME = "default"  # the name the console and `aws configservice` use; one recorder per region anyway
ANALYZER_NAME = "guardrails-organization"
UNUSED_ANALYZER_NAME = "guardrails-unused-access"
CONFIG_SLR = "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


def region_alias(region: str) -> str:
    """Provider alias of a region: ``eu-west-1`` → ``eu_west_1``."""
    return tf_name(region)


@dataclass(frozen=True)
class LogKey:
    """How a root module names the log archive's KMS key: an expression, and the data source it needs."""

    expression: Hcl | None  # None: the existing bucket has no customer managed key (SSE-S3)
    lookup_alias_arn: str | None = None  # data "aws_kms_key" "log_archive" { key_id = <alias ARN> }


def _log_key(plan: Plan, security: SecurityPlan, *, in_log_account: bool) -> LogKey:
    if security.log_bucket_existing:
        return LogKey(quote(security.log_kms_key_arn) if security.log_kms_key_arn else None)
    if in_log_account:
        return LogKey(ref("aws_kms_key.log_archive.arn"))
    return LogKey(ref("data.aws_kms_key.log_archive.arn"), log_key_alias_arn(plan, security))


def log_key_alias_arn(plan: Plan, security: SecurityPlan) -> str:
    account = plan.account(security.log_account)
    return f"arn:{plan.org.partition}:kms:{plan.org.home_region}:{account.id}:alias/{LOG_KEY_ALIAS}"


# ----------------------------------------------------------------------------- files


def security_files(plan: Plan, account_names: dict[str, str]) -> dict[str, str]:
    """The shared module and the organization's security.tf (``account_names``: member account → resource name)."""
    security = plan.security
    assert security is not None
    directory = f"{ROOT}/modules/{MODULE}"
    context: dict[str, object] = {
        "security": security, "org": plan.org, "global_region": security.global_region,
        "key_policy": plan.resource_policy("alerts-key").document,
        "topic_policy": plan.resource_policy("alerts-topic").document,
        "needs_key": not security.log_bucket_existing or security.log_kms_key_arn is not None,
        "tf_name": tf_name, "recorder_name": RECORDER_NAME}
    files = {
        f"{directory}/versions.tf": versions(plan, root=False),
        f"{directory}/variables.tf": render(plan, "security_variables.tf.j2", **context),
        f"{directory}/alerts.tf": render(plan, "security_alerts.tf.j2", **context),
        f"{directory}/outputs.tf": render(plan, "security_outputs.tf.j2", **context),
    }
    if security.config_recorder:
        files[f"{directory}/config.tf"] = render(plan, "security_config.tf.j2", **context)
    if security.config_rules:
        files[f"{directory}/config_rules.tf"] = render(plan, "security_config_rules.tf.j2", **context)
    if security.ebs_default_encryption or security.s3_block_public_access:
        files[f"{directory}/account_settings.tf"] = render(plan, "security_account_settings.tf.j2", **context)
    if security.watch_regions:
        forwarding = f"{ROOT}/modules/{FORWARDING_MODULE}"
        files.update({
            f"{forwarding}/versions.tf": versions(plan, root=False),
            f"{forwarding}/variables.tf": render(plan, "alert_forwarding_variables.tf.j2",
                                                 forwarding_region=security.forwarding_region,
                                                 role=forwarding_role_name(security)),
            f"{forwarding}/rules.tf": render(plan, "alert_forwarding.tf.j2",
                                             forwarding_region=security.forwarding_region,
                                             alerts=[a for a in security.alerts if not a.global_only],
                                             tf_name=tf_name),
        })

    def account_ref(name: str) -> Hcl:
        account = plan.account(name)
        if account.management:
            return quote(account.id)
        return ref(f"aws_organizations_account.{account_names[name]}.id")

    home = plan.org.home_region
    management = plan.management_account
    guardduty_regions = [(region_alias(r), r) for r in plan.org.allowed_regions] if security.guardduty else []
    files[f"{ROOT}/organization/security.tf"] = render(
        plan, "organization_security.tf.j2", security=security, org=plan.org, account_ref=account_ref,
        tf_name=tf_name, steps=apply_order(plan), trail_directory=TRAIL if security.trail_name else None,
        guardduty_regions=guardduty_regions,
        home_alias=region_alias(home), regional_providers=[(a, r) for a, r in guardduty_regions if r != home],
        management_id=management.id,
        role_arn=role_arn(plan.org.partition, management.id, plan.org.management_deployment_role))
    if security.trail_name:
        files.update(trail_files(plan, security))
    return files


def trail_files(plan: Plan, security: SecurityPlan) -> dict[str, str]:
    """``terraform/organization-trail/``: the organization trail, applied in the management account after the log
    archive (guardrails.emitters.terraform.order)."""
    assert security.trail_name is not None
    management = plan.management_account
    after = [step.label for step in apply_order(plan)[:step_of(plan, TRAIL) - 1]]
    files = root_files(plan, TRAIL, "guardrails/organization-trail.tfstate", management.id,
                       plan.org.management_deployment_role)
    files[f"{TRAIL}/trail.tf"] = render(
        plan, "organization_trail.tf.j2", security=security, after=after,
        log_key=_log_key(plan, security, in_log_account=False),
        trail_arn=arn(plan.org.partition, "cloudtrail", plan.org.home_region, management.id,
                      f"trail/{security.trail_name}"))
    return files


def account_security_files(plan: Plan, account: Account, directory: str) -> dict[str, str]:
    """security.tf of one account's root module, plus the log archive or analyzers where they live."""
    security = plan.security
    assert security is not None
    is_log = account.name == security.log_account
    log_key = _log_key(plan, security, in_log_account=is_log)
    allowed = set(plan.org.allowed_regions)
    instances = [(region_alias(r), r, r == plan.org.home_region, r in allowed, r == security.global_region)
                 for r in security.alert_regions]
    watch = [(region_alias(r), r) for r in security.watch_regions]
    depends_on = []
    if is_log and not security.log_bucket_existing:
        depends_on.append("aws_s3_bucket_policy.log_archive")
    first = ["the organization (terraform/organization)"]
    if not is_log:
        first.append(f"the log archive (terraform/accounts/{security.log_account})")
    files = {f"{directory}/security.tf": render(
        plan, "account_security.tf.j2", security=security, account=account, instances=instances, log_key=log_key,
        module_source=f"../../modules/{MODULE}", depends_on=depends_on, first=first,
        recorder_name=RECORDER_NAME, config_role_arn=f"arn:{plan.org.partition}:iam::{account.id}:role/{CONFIG_SLR}",
        watch=watch, forwarding_region=security.forwarding_region,
        forwarding_source=f"../../modules/{FORWARDING_MODULE}",
        event_bus_arn=arn(plan.org.partition, "events", security.forwarding_region, account.id, "event-bus/default"),
        forwarding_role_arn=forwarding_role_arn(plan, security, account))}
    if is_log and not security.log_bucket_existing:
        files[f"{directory}/log_archive.tf"] = render(
            plan, "log_archive.tf.j2", security=security, account=account, alias=LOG_KEY_ALIAS,
            key_policy=plan.resource_policy("log-archive-key").document,
            bucket_policy=plan.resource_policy("log-archive-bucket").document)
    if account.name == security.analyzer_account:
        files[f"{directory}/access_analyzer.tf"] = render(
            plan, "access_analyzer.tf.j2", security=security,
            regions=[(region_alias(r), r) for r in plan.org.allowed_regions],
            home_alias=region_alias(plan.org.home_region), name=ANALYZER_NAME, unused_name=UNUSED_ANALYZER_NAME)
    if account.name == security.detection_admin:
        files[f"{directory}/detection.tf"] = render(
            plan, "detection.tf.j2", security=security,
            regions=[(region_alias(r), r) for r in plan.org.allowed_regions],
            home_alias=region_alias(plan.org.home_region), policy_name=HUB_POLICY_NAME, root_id=plan.org.root_id)
    return files


def forwarding_role_arn(plan: Plan, security: SecurityPlan, account: Account) -> str:
    """The alert-forwarding role of the account's IAM baseline (guardrails.policies.security)."""
    return role_arn(plan.org.partition, account.id, forwarding_role_name(security))


def provider_aliases(plan: Plan) -> list[tuple[str, str]]:
    """(alias, region) of the aliased providers an account root module needs for the security baseline: every
    region with alert rules (SecurityPlan.event_regions)."""
    if plan.security is None:
        return []
    return [(region_alias(r), r) for r in plan.security.event_regions]
