"""``security-detection.yaml``: GuardDuty and Security Hub for the organization, in their delegated administrator.

The management account designates the administrator (``organization-security.yaml``: Security Hub's as a resource,
GuardDuty's as commands, since CloudFormation has no resource type for it), which enables both services in that
account. This template, deployed there in the home region, then turns on Security Hub's central configuration:
findings of the other allowed regions aggregate into the home region, and one configuration policy on the
organization root enables Security Hub and its standards in every account. GuardDuty's organization
configuration has no resource type either: its commands, one per allowed region, are in the header.
https://docs.aws.amazon.com/securityhub/latest/userguide/central-configuration-intro.html
https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_organizations.html
"""

from __future__ import annotations

from typing import Any

from guardrails.emitters.cloudformation.render import get_att, resource, template
from guardrails.policies.ir import Plan, SecurityPlan

STEM = "security-detection"
HUB_POLICY_NAME = "guardrails-organization"


def build(plan: Plan, security: SecurityPlan) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if security.security_hub:
        resources["FindingAggregator"] = resource("AWS::SecurityHub::FindingAggregator", {
            "RegionLinkingMode": security.hub_linking_mode, "Regions": list(security.hub_linked_regions)})
        resources["OrganizationConfiguration"] = resource("AWS::SecurityHub::OrganizationConfiguration", {
            "AutoEnable": False, "AutoEnableStandards": "NONE", "ConfigurationType": "CENTRAL",
        }, depends_on=["FindingAggregator"])
        resources["ConfigurationPolicy"] = resource("AWS::SecurityHub::ConfigurationPolicy", {
            "Name": HUB_POLICY_NAME,
            "Description": "guardrails: Security Hub with its standards in every account and allowed region.",
            "ConfigurationPolicy": {"SecurityHub": {
                "ServiceEnabled": True,
                "EnabledStandardIdentifiers": list(security.security_hub_standards),
                "SecurityControlsConfiguration": {"DisabledSecurityControlIdentifiers": []}}},
        }, depends_on=["OrganizationConfiguration"])
        resources["RootPolicyAssociation"] = resource("AWS::SecurityHub::PolicyAssociation", {
            "ConfigurationPolicyId": get_att("ConfigurationPolicy", "Id"),
            "TargetId": plan.org.root_id, "TargetType": "ROOT"})
    else:
        # A template needs a resource; with GuardDuty only, this one exists for the commands in its header.
        resources["SetupCommands"] = resource("AWS::CloudFormation::WaitConditionHandle", {})
    return template(plan, "GuardDuty and Security Hub for the organization (delegated administrator)", resources)


def guardduty_commands(plan: Plan) -> list[str]:
    """GuardDuty in every account of the organization, present and future, region by region."""
    return [f"aws guardduty update-organization-configuration --region {r} --auto-enable-organization-members ALL "
            f"--detector-id $(aws guardduty list-detectors --region {r} --query 'DetectorIds[0]' --output text)"
            for r in plan.org.allowed_regions]


def header(plan: Plan, security: SecurityPlan, order: list[str]) -> list[str]:
    account = plan.account(security.detection_admin or "")
    lines = [*order, f"This stack: GuardDuty and Security Hub for the organization, in {account.name} ({account.id}),",
             "their delegated administrator (designated by organization-security.yaml, which enables both here)."]
    if security.guardduty:
        lines += ["GuardDuty's organization configuration has no CloudFormation resource type: with this account's",
                  "credentials, run", *(f"  {c}" for c in guardduty_commands(plan))]
    if security.security_hub:
        lines += [f"Security Hub central configuration from the home region {plan.org.home_region}: the policy",
                  f"{HUB_POLICY_NAME} on the organization root enables Security Hub with",
                  *(f"  {s}" for s in security.security_hub_standards),
                  "in every account; findings aggregate into the home region."]
    return [*lines, "Deploy (with this account's credentials):",
            f"  aws cloudformation deploy --region {plan.org.home_region} --stack-name guardrails-{STEM} "
            f"--template-file {STEM}.yaml"]

