"""The account security baseline (blueprint ``security``, :class:`SecurityPlan`) as CloudFormation.

Five templates, deployed in this order (each header repeats it):

1. ``organization-security.yaml`` (management account, home region): the commands that have no resource type
   (trusted access, delegated administrators, GuardDuty's administrator, centralized root access) in its header,
   then, once the log bucket exists, the stack itself: the organization trail and Security Hub's administrator.
2. ``log-archive.yaml`` (log-archive account, home region): the log bucket (Object Lock) and its KMS key (unless the
   bucket exists).
3. ``security-analyzer.yaml`` (Access Analyzer's delegated administrator, every allowed region) and
   ``security-detection.yaml`` (GuardDuty's and Security Hub's, home region; GuardDuty's commands in its header).
4. ``account-security.yaml`` (every account, every region with alert rules): AWS Config, the alert topic and
   rules, the forwarding rules of the watch regions, and the account settings; a service-managed StackSet in
   ``stacksets.yaml`` for the member accounts, normal stacks in the management account (StackSets never deploy
   there).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from guardrails.emitters.cloudformation import account_settings, detection
from guardrails.emitters.cloudformation.render import LogicalIds, document, get_att, ref, resource, skip_metadata
from guardrails.emitters.cloudformation.security_parts import (
    LOG_KEY_ALIAS,
    MAX_OR,  # re-exported: the limit the templates keep, read by the tests
    path,
    stack,
    log_key_is_parameter,
    stackset_regions,
    _order,
    _sub,
    _region_is,
    _any_region,
    _conditional,
    _template,
    _file,
    _log_key_for_trail,
)
from guardrails.iam.arns import role_arn
from guardrails.policies.ir import Plan, SecurityPlan
from guardrails.policies.security import forwarding_role_name

ACCOUNT_SECURITY = "account-security"
LOG_ARCHIVE = "log-archive"
ANALYZER = "security-analyzer"

ORG_SECURITY = "organization-security"
STACKSET_NAME = "guardrails-account-security"

# Parameters
LOG_KEY = "LogArchiveKeyArn"
SLR_EXISTS = "ConfigServiceLinkedRoleExists"
# Conditions
HOME = "IsHomeRegion"
ALLOWED = "IsAllowedRegion"
GLOBAL = "IsGlobalRegion"  # the partition's region for global-service events
ALERT = "IsAlertRegion"  # a region with the alert topic (SecurityPlan.alert_regions)
WATCH = "IsWatchRegion"  # a region whose alert rules forward to the home region (SecurityPlan.watch_regions)
CREATE_SLR = "CreateConfigServiceLinkedRole"

CONFIG_SLR = "AWSServiceRoleForConfig"
HEADER_WIDTH = 110  # characters of a wrapped header paragraph


# ----------------------------------------------------------------------------- 4. account-security.yaml


def _config(plan: Plan, security: SecurityPlan, resources: dict[str, Any], ids: LogicalIds) -> list[str]:
    """Recorder, delivery channel and rules; returns the resources a rule waits for."""
    waits: list[str] = []
    if security.config_recorder:
        resources["ConfigServiceLinkedRole"] = _conditional(CREATE_SLR, resource("AWS::IAM::ServiceLinkedRole", {
            "AWSServiceName": "config.amazonaws.com",
            "Description": "AWS Config records this account's resources with this role (guardrails).",
        }, deletion="Retain", metadata=skip_metadata("config_service_linked_role", "config")))
        role = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/aws-service-role/config.amazonaws.com/"
        resources["ConfigRecorder"] = _conditional(ALLOWED, resource("AWS::Config::ConfigurationRecorder", {
            "Name": "default",
            # The Config service-linked role: AWS keeps its permissions current as Config supports new types.
            # https://docs.aws.amazon.com/config/latest/developerguide/using-service-linked-roles.html
            # A Ref in the branch that creates the role orders the recorder after it.
            "RoleARN": {"Fn::If": [CREATE_SLR, _sub(role + "${ConfigServiceLinkedRole}"), _sub(role + CONFIG_SLR)]},
            "RecordingGroup": {
                "AllSupported": True,
                # Global IAM resources once per account, in the home region, or every region records them again.
                # https://docs.aws.amazon.com/config/latest/developerguide/select-resources.html
                # With the home region as the only allowed region the condition is constant (cfn-lint W1028).
                "IncludeGlobalResourceTypes": True if _home_only(plan) else {"Fn::If": [HOME, True, False]},
            },
        }, metadata=skip_metadata("config_recorder", "config")))
        channel: dict[str, Any] = {"Name": "default", "S3BucketName": security.log_bucket}
        if log_key_is_parameter(security):
            channel["S3KmsKeyArn"] = ref(LOG_KEY)
        elif security.log_kms_key_arn:
            channel["S3KmsKeyArn"] = security.log_kms_key_arn
        channel["ConfigSnapshotDeliveryProperties"] = {"DeliveryFrequency": "TwentyFour_Hours"}
        resources["ConfigDeliveryChannel"] = _conditional(ALLOWED, resource(
            "AWS::Config::DeliveryChannel", channel, depends_on=["ConfigRecorder"],
            metadata=skip_metadata("config_delivery_channel", "config")))
        waits = ["ConfigRecorder", "ConfigDeliveryChannel"]
    for rule in security.config_rules:
        properties: dict[str, Any] = {
            "ConfigRuleName": rule.name,
            # ConfigRule descriptions may be 256 characters: the documentation link only when it fits.
            "Description": (f"{rule.description} {rule.source}" if len(rule.description) + len(rule.source) < 256
                            else rule.description[:256]),
            "Source": {"Owner": "AWS", "SourceIdentifier": rule.identifier},
        }
        if rule.parameters:
            properties["InputParameters"] = dict(rule.parameters)
        if rule.resource_types:
            properties["Scope"] = {"ComplianceResourceTypes": list(rule.resource_types)}
        resources[ids("ConfigRule", rule.name.removeprefix("guardrails-"))] = _conditional(
            HOME if rule.home_region_only else ALLOWED,
            resource("AWS::Config::ConfigRule", properties, depends_on=waits,
                     metadata=skip_metadata("config_rule", rule.name)))
    return waits


def _alerts(plan: Plan, security: SecurityPlan, resources: dict[str, Any], ids: LogicalIds) -> None:
    partition = plan.org.partition
    # With watch regions the topic exists in the alert regions only; the watch regions forward to the home region.
    topic = ALERT if security.watch_regions else None
    resources["AlertKey"] = _conditional(topic, resource("AWS::KMS::Key", {
        "Description": f"guardrails: encrypts the security alert topic {security.topic_name}",
        "EnableKeyRotation": True,
        "KeyPolicy": document(plan.resource_policy("alerts-key").document, partition),
    # Said explicitly: the key protects messages in flight only, nothing stored, so it goes with the stack (KMS
    # still waits 30 days before deleting it).
    }, deletion="Delete", metadata=skip_metadata("alert_key", "alerts")))
    resources["AlertKeyAlias"] = _conditional(topic, resource("AWS::KMS::Alias", {
        "AliasName": f"alias/{security.topic_name}", "TargetKeyId": ref("AlertKey")}))
    resources["AlertTopic"] = _conditional(topic, resource("AWS::SNS::Topic", {
        "TopicName": security.topic_name,
        "DisplayName": "guardrails security alerts",
        "KmsMasterKeyId": ref("AlertKey"),
    }, metadata=skip_metadata("alert_topic", "alerts")))
    resources["AlertTopicPolicy"] = _conditional(topic, resource("AWS::SNS::TopicPolicy", {
        "Topics": [ref("AlertTopic")],
        "PolicyDocument": document(plan.resource_policy("alerts-topic").document, partition),
    }))
    for email in security.alert_emails:
        resources[ids("AlertSubscription", email)] = _conditional(topic, resource("AWS::SNS::Subscription", {
            "TopicArn": ref("AlertTopic"), "Protocol": "email", "Endpoint": email}))
    for alert in security.alerts:
        resources[ids("AlertRule", alert.key)] = _conditional(GLOBAL if alert.global_only else topic, resource(
            "AWS::Events::Rule", {
                "Name": alert.name,
                "Description": alert.description,
                "EventPattern": json.loads(alert.pattern),
                "State": "ENABLED",
                "Targets": [{"Id": "security-alert-topic", "Arn": ref("AlertTopic")}],
            }, metadata=skip_metadata("alert_rule", alert.key)))
    if not security.watch_regions:
        return
    # The same rules in the watch regions put their events on the home region's default bus (an event bus in
    # another region needs a role: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html),
    # an allowed region, so that the region guardrail lets the role's PutEvents through.
    bus = _sub(f"arn:${{AWS::Partition}}:events:{security.forwarding_region}:${{AWS::AccountId}}:event-bus/default")
    role = _sub(role_arn("${AWS::Partition}", "${AWS::AccountId}", forwarding_role_name(security)))
    for alert in security.alerts:
        if alert.global_only:
            continue
        resources[ids("AlertForward", alert.key)] = _conditional(WATCH, resource("AWS::Events::Rule", {
            "Name": alert.name,
            "Description": alert.description,
            "EventPattern": json.loads(alert.pattern),
            "State": "ENABLED",
            "Targets": [{"Id": "home-region-bus", "Arn": bus, "RoleArn": role}],
        }, metadata=skip_metadata("alert_rule", alert.key)))


def build_account_security(plan: Plan, security: SecurityPlan) -> dict[str, Any]:
    home, allowed = plan.org.home_region, list(plan.org.allowed_regions)
    ids = LogicalIds()
    resources: dict[str, Any] = {}
    conditions: dict[str, Any] = {HOME: _region_is(home), ALLOWED: _any_region(allowed),
                                  GLOBAL: _region_is(security.global_region),
                                  ALERT: _any_region(list(security.alert_regions)),
                                  WATCH: {"Fn::Not": [{"Condition": ALERT}]}}
    parameters: dict[str, Any] = {}
    if security.config_recorder:
        conditions[CREATE_SLR] = {"Fn::And": [{"Condition": HOME}, {"Fn::Equals": [ref(SLR_EXISTS), "false"]}]}
        parameters[SLR_EXISTS] = {
            "Type": "String", "Default": "false", "AllowedValues": ["false", "true"],
            "Description": f"true where the account already has the {CONFIG_SLR} service-linked role (Config was "
                           "used before): the stack then uses it instead of creating it."}
    if log_key_is_parameter(security):
        parameters[LOG_KEY] = {
            "Type": "String",
            "AllowedPattern": f"^arn:{plan.org.partition}:kms:{home}:{plan.account(security.log_account).id}:"
                              "key/[0-9a-f-]+$",
            "Description": "ARN of the log archive's KMS key (output LogArchiveKeyArn of the guardrails-log-archive "
                           "stack); Config encrypts what it delivers with it."}
    _config(plan, security, resources, ids)
    _alerts(plan, security, resources, ids)
    if security.ebs_default_encryption or security.s3_block_public_access:
        # The account's S3 block once, in the home region; EBS encryption by default in every allowed region. Without
        # EBS the resources exist in the home region only, where the S3 block is simply on.
        condition = ALLOWED if security.ebs_default_encryption else HOME
        s3: Any = security.s3_block_public_access
        if s3 and condition == ALLOWED and not _home_only(plan):
            s3 = {"Fn::If": [HOME, True, False]}
        resources.update(account_settings.resources(ebs=security.ebs_default_encryption, s3=s3, condition=condition))
    used = json.dumps(resources)
    conditions = {k: v for k, v in conditions.items()
                  if f'"Condition": "{k}"' in used or f'"Fn::If": ["{k}"' in used or k == HOME and CREATE_SLR in used
                  or k == ALERT and f'"Condition": "{WATCH}"' in used}
    return _template(plan, "account security baseline (AWS Config, security alerts, account settings)", resources,
                     parameters=parameters, conditions=conditions)


def _account_security_header(plan: Plan, security: SecurityPlan) -> list[str]:
    home = plan.org.home_region
    allowed = ", ".join(plan.org.allowed_regions)
    regions = stackset_regions(plan, security)
    text = (
        f"This template: every account, in every region with alert rules ({', '.join(regions)}). Conditions on the "
        f"region decide what each gets: AWS Config in the allowed regions ({allowed}), IAM-only Config rules and "
        f"global resource recording in the home region {home}, the alert topic in "
        f"{', '.join(security.alert_regions)}, EventBridge rules on IAM, Organizations and account events in "
        f"{security.global_region} only (those events reach EventBridge there only: "
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html#eb-service-event-cloudtrail).")
    if security.watch_regions:
        text += (f" In {', '.join(security.watch_regions)} (usable, not allowed) the regional rules forward their "
                 f"events to the home region {security.forwarding_region} with the role {security.forwarding_role} "
                 "of the IAM baseline "
                 "(deploy the baselines first).")
    lines = [
        *_order(5),
        *textwrap.wrap(text, HEADER_WIDTH, break_long_words=False, break_on_hyphens=False),
        f"Member accounts: the StackSet {STACKSET_NAME} in stacksets.yaml rolls it out (upload this file next to",
        "the baseline-*.yaml templates). StackSets never deploy to the management account: deploy it there as",
        "normal stacks, the home region first:",
    ]
    for region in regions:
        command = [f"  aws cloudformation deploy --region {region} --stack-name {stack(ACCOUNT_SECURITY)} \\",
                   "    --template-file account-security.yaml --capabilities CAPABILITY_NAMED_IAM"]
        if log_key_is_parameter(security):
            command[-1] += " \\"
            command.append(f"    --parameter-overrides {LOG_KEY}=KEY_ARN")
        lines += command
    if security.config_recorder:
        lines += [
            f"AWS Config uses the service-linked role {CONFIG_SLR}, created in the home region. Where it exists",
            f"already, set {SLR_EXISTS}=true for that account's stack instances (or stack).",
        ]
        if log_key_is_parameter(security):
            lines.append(f"{LOG_KEY}: the output of the {stack(LOG_ARCHIVE)} stack.")
    else:
        lines.append("The Config recorder and delivery channel belong to Control Tower: only the rules are here.")
    if security.alert_emails:
        lines += ["Every stack subscribes the alert addresses to its own topic: each address receives one",
                  "confirmation e-mail per account and region, and gets nothing until it confirms."]
    if security.ebs_default_encryption or security.s3_block_public_access:
        lines += ["EBS encryption by default and the account's S3 Block Public Access have no CloudFormation",
                  "resource type: a small function (Custom::AccountSecuritySettings) sets them and leaves them on",
                  "when the stack is deleted (the keep-* SCP guardrails deny turning them off)."]
    return lines


# ----------------------------------------------------------------------------- 2. log-archive.yaml


def build_log_archive(plan: Plan, security: SecurityPlan) -> dict[str, Any]:
    partition = plan.org.partition
    days = security.log_retention_days
    lock: dict[str, Any] = {}
    if security.object_lock_mode:
        # Every log object version is write-once for the retention: governance mode yields only to
        # s3:BypassGovernanceRetention (denied by protect-log-archive), compliance mode to nobody.
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
        lock = {"ObjectLockEnabled": True, "ObjectLockConfiguration": {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": security.object_lock_mode, "Days": security.object_lock_days}}}}
    resources = {
        # Retain: deleting the stack must never make the logs unreadable.
        "LogArchiveKey": resource("AWS::KMS::Key", {
            "Description": f"guardrails: encrypts the organization's logs in {security.log_bucket}",
            "EnableKeyRotation": True,
            "KeyPolicy": document(plan.resource_policy("log-archive-key").document, partition),
        }, deletion="Retain", metadata=skip_metadata("log_key", "log_archive")),
        "LogArchiveKeyAlias": resource("AWS::KMS::Alias", {"AliasName": LOG_KEY_ALIAS,
                                                            "TargetKeyId": ref("LogArchiveKey")}),
        "LogBucket": resource("AWS::S3::Bucket", {
            "BucketName": security.log_bucket,
            "VersioningConfiguration": {"Status": "Enabled"},
            **lock,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                  "KMSMasterKeyID": get_att("LogArchiveKey", "Arn")}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": days,
                "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]},
        }, deletion="Retain", metadata=skip_metadata("log_bucket", "log_archive")),
        "LogBucketPolicy": resource("AWS::S3::BucketPolicy", {
            "Bucket": ref("LogBucket"),
            "PolicyDocument": document(plan.resource_policy("log-archive-bucket").document, partition),
        }),
    }
    outputs = {
        LOG_KEY: {"Description": f"The log archive key: parameter {LOG_KEY} of account-security.yaml.",
                  "Value": get_att("LogArchiveKey", "Arn")},
        "LogBucketName": {"Description": "The organization's log bucket.", "Value": ref("LogBucket")},
    }
    return _template(plan, "log archive (bucket and KMS key for CloudTrail and AWS Config)", resources,
                     outputs=outputs)


def _log_archive_header(plan: Plan, security: SecurityPlan) -> list[str]:
    region = plan.org.home_region
    account = plan.account(security.log_account)
    return [
        *_order(2),
        f"This stack: the log bucket {security.log_bucket} and its KMS key, in the log-archive account",
        f"{account.name} ({account.id}), home region {region}. CloudTrail (organization trail) and AWS Config of every",
        f"account in {plan.org.org_id} deliver here; write access is scoped to the trail's ARN and aws:SourceOrgID.",
        f"Objects expire after {security.log_retention_days} days" + (
            f"; S3 Object Lock ({security.object_lock_mode.lower()} mode) keeps every version for "
            f"{security.object_lock_days} days." if security.object_lock_mode else "."),
        "Bucket and key carry DeletionPolicy Retain.",
        "Deploy with credentials of the log-archive account:",
        f"  aws cloudformation deploy --region {region} --stack-name {stack(LOG_ARCHIVE)} "
        "--template-file log-archive.yaml",
        f"then pass its output {LOG_KEY} to account-security.yaml." if log_key_is_parameter(security) else "",
    ]


# ----------------------------------------------------------------------------- 3. security-analyzer.yaml


def build_analyzer(plan: Plan, security: SecurityPlan) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "OrganizationAnalyzer": resource("AWS::AccessAnalyzer::Analyzer", {
            "AnalyzerName": "guardrails-organization", "Type": "ORGANIZATION"},
            metadata=skip_metadata("access_analyzer", "organization")),
    }
    conditions = None
    if security.unused_access_days:
        conditions = {HOME: _region_is(plan.org.home_region)}
        # IAM is global: one unused-access analyzer, in the home region, covers the organization's IAM.
        resources["UnusedAccessAnalyzer"] = _conditional(HOME, resource("AWS::AccessAnalyzer::Analyzer", {
            "AnalyzerName": "guardrails-organization-unused-access",
            "Type": "ORGANIZATION_UNUSED_ACCESS",
            "AnalyzerConfiguration": {"UnusedAccessConfiguration": {"UnusedAccessAge": security.unused_access_days}},
        }, metadata=skip_metadata("access_analyzer", "unused_access")))
    return _template(plan, "IAM Access Analyzer for the organization", resources, conditions=conditions)


def _analyzer_header(plan: Plan, security: SecurityPlan) -> list[str]:
    account = plan.account(security.analyzer_account or "")
    lines = [
        *_order(4),
        f"This stack: the organization's Access Analyzer in {account.name} ({account.id}), its delegated",
        "administrator (registered by the commands in organization-security.yaml). Analyzers are regional: deploy it",
        "in every allowed region with that account's credentials:",
    ]
    lines += [f"  aws cloudformation deploy --region {r} --stack-name {stack(ANALYZER)} --template-file "
              "security-analyzer.yaml" for r in plan.org.allowed_regions]
    if security.unused_access_days:
        lines.append(f"The unused-access analyzer ({security.unused_access_days} days) exists in the home region "
                     f"{plan.org.home_region} only (IAM is global).")
    return lines


# ----------------------------------------------------------------------------- 1. organization-security.yaml


def build_organization_security(plan: Plan, security: SecurityPlan) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if security.trail_name:
        properties: dict[str, Any] = {
            "TrailName": security.trail_name,
            "S3BucketName": security.log_bucket,
            "IsLogging": True,
            "IsOrganizationTrail": True,
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
            "EnableLogFileValidation": True,
        }
        key = _log_key_for_trail(plan, security)
        if key:
            properties["KMSKeyId"] = key
        resources["OrganizationTrail"] = resource("AWS::CloudTrail::Trail", properties, deletion="Retain",
                                                  metadata=skip_metadata("trail", security.trail_name))
    if security.security_hub and security.detection_admin:
        # Central configuration runs from the home region, where this stack is: one designation suffices. It also
        # enables Security Hub in the administrator account.
        # https://docs.aws.amazon.com/securityhub/latest/userguide/designate-orgs-admin-account.html
        resources["SecurityHubAdministrator"] = resource("AWS::SecurityHub::DelegatedAdmin", {
            "AdminAccountId": plan.account(security.detection_admin).id})
    if not resources:
        # A template needs a resource; without a trail this one exists for the commands in its header.
        resources["SetupCommands"] = resource("AWS::CloudFormation::WaitConditionHandle", {})
    return _template(plan, "organization trail and organization-wide security set-up", resources)


def setup_commands(plan: Plan, security: SecurityPlan) -> list[str]:
    """The AWS CLI commands, in order, for what has no CloudFormation resource type (management account)."""
    commands = []
    for service in security.trusted_services:
        if service == "member.org.stacksets.cloudformation.amazonaws.com":
            # StackSets' own call also creates its service-linked roles.
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-activate-trusted-access.html
            commands.append("aws cloudformation activate-organizations-access")
        else:
            commands.append(f"aws organizations enable-aws-service-access --service-principal {service}")
    for service, account in security.delegated_admins:
        commands.append(f"aws organizations register-delegated-administrator --account-id {plan.account(account).id}"
                        f" --service-principal {service}")
    if security.guardduty and security.detection_admin:
        # GuardDuty's delegated administrator is designated through GuardDuty, region by region; CloudFormation has
        # no resource type for it. https://docs.aws.amazon.com/guardduty/latest/ug/delegated-admin-designate.html
        admin = plan.account(security.detection_admin).id
        commands += [f"aws guardduty enable-organization-admin-account --region {r} --admin-account-id {admin}"
                     for r in plan.org.allowed_regions]
    if security.centralized_root_access:
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-enable-root-access.html
        commands += ["aws iam enable-organizations-root-credentials-management",
                     "aws iam enable-organizations-root-sessions"]
    return commands


def _organization_security_header(plan: Plan, security: SecurityPlan) -> list[str]:
    region = plan.org.home_region
    lines = [
        *_order(1),
        "Trusted access, delegated administrators and centralized root access have no CloudFormation resource",
        "types. Run these in the management account first, in this order:",
        *(f"  {c}" for c in setup_commands(plan, security)),
    ]
    if security.trail_name:
        lines += [
            f"This stack (step 3): the organization trail {security.trail_name}: every account, every region,",
            f"global service events, log file validation, KMS encryption, delivered to {security.log_bucket}.",
            "CloudTrail checks the bucket policy when it creates the trail, so deploy it after log-archive.yaml.",
            "DeletionPolicy Retain.",
        ]
    elif not (security.security_hub and security.detection_admin):
        lines.append("No organization trail in the blueprint: this template only carries the commands above.")
    if security.security_hub and security.detection_admin:
        lines.append(f"It also designates {security.detection_admin} as Security Hub's delegated administrator "
                     "(home region).")
    return [*lines, "Deploy (management account):",
            f"  aws cloudformation deploy --region {region} --stack-name {stack(ORG_SECURITY)} "
            "--template-file organization-security.yaml"]


# ----------------------------------------------------------------------------- files


def stackset(plan: Plan, security: SecurityPlan, root: Any, base_url: str, log_key: Any) -> dict[str, Any]:
    """The service-managed StackSet rolling account-security.yaml out to every member account (the whole
    organization: accounts added later get it too) in every alert region."""
    properties: dict[str, Any] = {
        "StackSetName": STACKSET_NAME,
        "Description": "guardrails account security baseline (AWS Config, security alerts, account settings)",
        "PermissionModel": "SERVICE_MANAGED",
        # Retain: an account leaving the organization root's scope (closed, or removed from the organization)
        # keeps its Config recorder and alerts until someone removes them on purpose (docs/deploying.md).
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": True},
        "CallAs": "SELF",
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "ManagedExecution": {"Active": True},
        "TemplateURL": _sub(f"${{{base_url}}}/account-security.yaml"),
        # One region after another, the home region first (it creates the Config service-linked role).
        "OperationPreferences": {"RegionConcurrencyType": "SEQUENTIAL",
                                 "RegionOrder": stackset_regions(plan, security)},
        "StackInstancesGroup": [{"DeploymentTargets": {"OrganizationalUnitIds": [root], "AccountFilterType": "NONE"},
                                 "Regions": stackset_regions(plan, security)}],
    }
    if log_key_is_parameter(security):
        properties["Parameters"] = [{"ParameterKey": LOG_KEY, "ParameterValue": log_key}]
    return resource("AWS::CloudFormation::StackSet", properties, metadata=skip_metadata("stackset", ACCOUNT_SECURITY))


def render(plan: Plan) -> dict[str, str]:
    """The security templates (none without a ``security`` section)."""
    security = plan.security
    if security is None:
        return {}
    files = {
        path(ORG_SECURITY): _file(plan, ORG_SECURITY, _organization_security_header(plan, security),
                                  build_organization_security(plan, security), "the organization security stack"),
        path(ACCOUNT_SECURITY): _file(plan, ACCOUNT_SECURITY, _account_security_header(plan, security),
                                      build_account_security(plan, security), "the account security baseline"),
    }
    if not security.log_bucket_existing:
        files[path(LOG_ARCHIVE)] = _file(plan, LOG_ARCHIVE, [ln for ln in _log_archive_header(plan, security) if ln],
                                         build_log_archive(plan, security), "the log archive stack")
    if security.analyzer_account:
        files[path(ANALYZER)] = _file(plan, ANALYZER, _analyzer_header(plan, security),
                                      build_analyzer(plan, security), "the Access Analyzer stack")
    if security.detection_admin and (security.guardduty or security.security_hub):
        files[path(detection.STEM)] = _file(plan, detection.STEM, detection.header(plan, security, _order(4)),
                                            detection.build(plan, security), "the GuardDuty and Security Hub stack")
    return files


def _home_only(plan: Plan) -> bool:
    """The home region is the only allowed region: "allowed" implies "home" in every condition."""
    return tuple(plan.org.allowed_regions) == (plan.org.home_region,)
