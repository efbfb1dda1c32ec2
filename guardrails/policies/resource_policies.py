"""The security baseline's resource policies as plan values: the log archive's bucket and KMS key, and the alert
topic and its key in every account; and the alert-forwarding role it adds to every account's IAM baseline.

Terraform and CloudFormation both render these :class:`~guardrails.policies.ir.ResourcePolicy` values, so the two
formats cannot grant different things, and the same documents reach ``output/policies/resources/``, the manifest,
the evaluator and the diff. Per-account values stay placeholders (``${account_id}``, ``${region}``).
"""

from __future__ import annotations

from dataclasses import replace

from guardrails.diagnostics import GuardrailsError
from guardrails.iam.arns import arn, root_arn
from guardrails.policies.ir import (
    ACCOUNT_ID,
    REGION,
    BaselineClass,
    Condition,
    Plan,
    PolicyDocument,
    Principal,
    ResourcePolicy,
    Role,
    SecurityPlan,
    Statement,
)
from guardrails.policies.security import alert_forwarding_role

LOG_KEY_ALIAS = "guardrails-log-archive"  # alias/<this> of the key guardrails creates for the log bucket
EVENTS = "events.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
CONFIG = "config.amazonaws.com"


def with_resource_policies(plan: Plan) -> Plan:
    """The plan with the resource policies its security baseline deploys (none without ``security``), and, where
    the baseline watches regions outside the allowed ones, the alert-forwarding role in every class's baseline: an
    IAM role is global, so it belongs with the account's IAM (deployed once, in the home region)."""
    security = plan.security
    if security is None:
        return plan
    if security.forwarding_role:
        role = alert_forwarding_role(plan.org.partition, security)
        plan = replace(plan, classes=tuple(_with_role(c, role) for c in plan.classes))
    everyone = tuple(a.name for a in plan.accounts)
    home = (plan.org.home_region,)
    policies = [
        ResourcePolicy("alerts-key", "kms-key", arn(plan.org.partition, "kms", REGION, ACCOUNT_ID, "key/*"),
                       alerts_key_policy(plan), everyone, security.alert_regions,
                       f"The KMS key of the alert topic {security.topic_name}, in every account and alert region."),
        ResourcePolicy("alerts-topic", "sns-topic", topic_arn(plan, security), alerts_topic_policy(plan, security),
                       everyone, security.alert_regions,
                       f"The security alert topic {security.topic_name}, in every account and alert region."),
    ]
    if not security.log_bucket_existing:
        log_account = plan.account(security.log_account)
        policies += [
            ResourcePolicy("log-archive-bucket", "s3-bucket", arn(plan.org.partition, "s3", "", "", security.log_bucket),
                           log_bucket_policy(plan, security), (log_account.name,), home,
                           f"The organization's log bucket {security.log_bucket}."),
            ResourcePolicy("log-archive-key", "kms-key",
                           arn(plan.org.partition, "kms", plan.org.home_region, log_account.id, "key/*"),
                           log_key_policy(plan, security), (log_account.name,), home,
                           f"The KMS key (alias/{LOG_KEY_ALIAS}) of the log bucket {security.log_bucket}."),
        ]
    return replace(plan, resource_policies=tuple(sorted(policies, key=lambda p: p.key)))


def _with_role(cls: BaselineClass, role: Role) -> BaselineClass:
    """The class with ``role`` (in place of an earlier one of the same key: compiling a plan twice is harmless)."""
    roles = tuple(r for r in cls.baseline.roles if r.key != role.key)
    if any(r.name == role.name for r in roles):
        raise GuardrailsError(f"the blueprint's role {role.name} in the account class {cls.key} has the name of the "
                              "security baseline's alert-forwarding role: rename it")
    return replace(cls, baseline=replace(cls.baseline, roles=(*roles, role)))


def trail_arn(plan: Plan, security: SecurityPlan) -> str:
    management = plan.management_account
    return arn(plan.org.partition, "cloudtrail", plan.org.home_region, management.id, f"trail/{security.trail_name}")


def topic_arn(plan: Plan, security: SecurityPlan) -> str:
    return arn(plan.org.partition, "sns", REGION, ACCOUNT_ID, security.topic_name)


def _service(name: str) -> tuple[Principal, ...]:
    return (Principal("Service", (name,)),)


def alerts_key_policy(plan: Plan) -> PolicyDocument:
    """The alert topic's key: the account administers it (IAM policies decide who), EventBridge encrypts with it.
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"""
    root = root_arn(plan.org.partition, ACCOUNT_ID)
    return PolicyDocument((
        Statement("AccountAdministersKey", "Allow", actions=("kms:*",), resources=("*",),
                  principals=(Principal("AWS", (root,)),)),
        Statement("EventBridgeEncryptsAlerts", "Allow", actions=("kms:Decrypt", "kms:GenerateDataKey*"),
                  resources=("*",), principals=_service(EVENTS),
                  conditions=(Condition("StringEquals", "aws:SourceAccount", (ACCOUNT_ID,)),)),
    ))


def alerts_topic_policy(plan: Plan, security: SecurityPlan) -> PolicyDocument:
    """Only this account's alert rules may publish; aws:SourceArn and aws:SourceAccount together are AWS's
    confused-deputy protection. Every rule's ARN is listed in every region (a rule not deployed in a region grants
    nothing there). https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions"""
    rules = tuple(arn(plan.org.partition, "events", REGION, ACCOUNT_ID, f"rule/{a.name}") for a in security.alerts)
    return PolicyDocument((
        Statement("EventBridgePublishesAlerts", "Allow", actions=("sns:Publish",),
                  resources=(topic_arn(plan, security),), principals=_service(EVENTS),
                  conditions=(Condition("ArnEquals", "aws:SourceArn", rules),
                              Condition("StringEquals", "aws:SourceAccount", (ACCOUNT_ID,)))),
    ))


def log_key_policy(plan: Plan, security: SecurityPlan) -> PolicyDocument:
    """The log archive key: CloudTrail (organization trail) and AWS Config of the organization's accounts encrypt
    with it. https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
    https://docs.aws.amazon.com/config/latest/developerguide/s3-kms-key-policy.html"""
    partition = plan.org.partition
    log_account = plan.account(security.log_account)
    statements = [
        Statement("AccountAdministersKey", "Allow", actions=("kms:*",), resources=("*",),
                  principals=(Principal("AWS", (root_arn(partition, log_account.id),)),)),
        # Every account's Terraform looks the key ARN up by its alias ARN (DescribeKey), so no account needs
        # another one's state. Only DescribeKey: it reveals the key's metadata, never its use.
        Statement("OrganizationAccountsDescribeKey", "Allow", actions=("kms:DescribeKey",), resources=("*",),
                  principals=(Principal("AWS", tuple(sorted(root_arn(partition, a.id)
                                                            for a in plan.accounts))),)),
    ]
    if security.trail_name:
        trail = trail_arn(plan, security)
        management = plan.management_account
        statements += [
            Statement("CloudTrailEncryptsOrganizationTrail", "Allow", actions=("kms:GenerateDataKey*",),
                      resources=("*",), principals=_service(CLOUDTRAIL),
                      conditions=(Condition("StringEquals", "aws:SourceArn", (trail,)),
                                  Condition("StringLike", "kms:EncryptionContext:aws:cloudtrail:arn",
                                            (arn(partition, "cloudtrail", "*", management.id, "trail/*"),)))),
            Statement("CloudTrailDescribesKey", "Allow", actions=("kms:DescribeKey",), resources=("*",),
                      principals=_service(CLOUDTRAIL),
                      conditions=(Condition("StringEquals", "aws:SourceArn", (trail,)),)),
        ]
    if security.config_recorder:
        # Config delivers as its service principal when the recorder uses the service-linked role. Without
        # guardrails' recorder (Control Tower owns Config) it delivers to Control Tower's bucket: no grant here.
        statements.append(Statement(
            "ConfigEncryptsOrganizationDeliveries", "Allow", actions=("kms:Decrypt", "kms:GenerateDataKey"),
            resources=("*",), principals=_service(CONFIG),
            conditions=(Condition("StringEquals", "aws:SourceOrgID", (plan.org.org_id,)),)))
    return PolicyDocument(tuple(statements))


def log_bucket_policy(plan: Plan, security: SecurityPlan) -> PolicyDocument:
    """TLS only; the organization trail and Config of the organization's accounts deliver.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html"""
    bucket = arn(plan.org.partition, "s3", "", "", security.log_bucket)
    owner_full_control = Condition("StringEquals", "s3:x-amz-acl", ("bucket-owner-full-control",))
    in_org = Condition("StringEquals", "aws:SourceOrgID", (plan.org.org_id,))
    statements = [
        Statement("DenyInsecureTransport", "Deny", actions=("s3:*",), resources=(bucket, f"{bucket}/*"),
                  principals=(Principal("*", ("*",)),),
                  conditions=(Condition("Bool", "aws:SecureTransport", ("false",)),)),
    ]
    if security.trail_name:
        management = plan.management_account
        source = Condition("StringEquals", "aws:SourceArn", (trail_arn(plan, security),))
        statements += [
            Statement("CloudTrailAclCheck", "Allow", actions=("s3:GetBucketAcl",), resources=(bucket,),
                      principals=_service(CLOUDTRAIL), conditions=(source,)),
            Statement("CloudTrailWrite", "Allow", actions=("s3:PutObject",),
                      resources=(f"{bucket}/AWSLogs/{management.id}/*", f"{bucket}/AWSLogs/{plan.org.org_id}/*"),
                      principals=_service(CLOUDTRAIL), conditions=(source, owner_full_control)),
        ]
    if security.config_recorder:
        statements += [
            Statement("ConfigBucketPermissionsCheck", "Allow", actions=("s3:GetBucketAcl",), resources=(bucket,),
                      principals=_service(CONFIG), conditions=(in_org,)),
            Statement("ConfigBucketExistenceCheck", "Allow", actions=("s3:ListBucket",), resources=(bucket,),
                      principals=_service(CONFIG), conditions=(in_org,)),
            Statement("ConfigBucketDelivery", "Allow", actions=("s3:PutObject",),
                      resources=(f"{bucket}/AWSLogs/*/Config/*",),
                      principals=_service(CONFIG), conditions=(in_org, owner_full_control)),
        ]
    return PolicyDocument(tuple(statements))
