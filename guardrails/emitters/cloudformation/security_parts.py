"""Pieces the security baseline's CloudFormation templates share: file and stack names, the StackSet's regions,
region conditions, the template and file frame, and the log key the trail encrypts with."""

from __future__ import annotations

from typing import Any

from guardrails.emitters.cloudformation.render import check_limits, dump, ref, template, with_header
from guardrails.policies import resource_policies
from guardrails.policies.ir import Plan, SecurityPlan

LOG_KEY_ALIAS = f"alias/{resource_policies.LOG_KEY_ALIAS}"
# Fn::Or takes 2 to 10 conditions.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
MAX_OR = 10


def path(stem: str) -> str:
    return f"cloudformation/{stem}.yaml"


def stack(stem: str) -> str:
    return f"guardrails-{stem}"


def log_key_is_parameter(security: SecurityPlan) -> bool:
    """Config's delivery channel takes a KMS key ARN (not an alias): the key guardrails creates in log-archive.yaml
    is only known once that stack exists, so account-security.yaml takes it as a parameter.
    https://docs.aws.amazon.com/config/latest/APIReference/API_DeliveryChannel.html"""
    return security.config_recorder and not security.log_bucket_existing


def stackset_regions(plan: Plan, security: SecurityPlan) -> list[str]:
    """Every region with alert rules, the home region first: its stack instance creates the Config service-linked
    role the recorders of the other regions use, so it must be deployed before them (regions run one after
    another)."""
    home = plan.org.home_region
    regions = list(security.event_regions)
    return [home, *(r for r in regions if r != home)] if home in regions else regions


# ----------------------------------------------------------------------------- shared pieces


def _order(current: int) -> list[str]:
    steps = [
        "1. organization-security.yaml: run the commands in its header (trusted access, delegated administrators,",
        "   GuardDuty's administrator, centralized root access) in the management account;",
        "2. log-archive.yaml in the log-archive account (the bucket and key everything else writes to);",
        "3. the organization-security stack itself (its organization trail needs the bucket of step 2; Security",
        "   Hub's administrator);",
        "4. security-analyzer.yaml and security-detection.yaml in the delegated administrators of Access Analyzer,",
        "   GuardDuty and Security Hub (need steps 1 and 3);",
        "5. account-security.yaml: the StackSet in stacksets.yaml for member accounts, then normal stacks in the",
        "   management account.",
    ]
    return ["Security baseline deployment order (docs/security-baseline.md):", *steps,
            f"This file is step {current}."]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _region_is(region: str) -> dict[str, Any]:
    return {"Fn::Equals": [ref("AWS::Region"), region]}


def _any_region(regions: list[str]) -> dict[str, Any]:
    """A condition true in any of the regions (Fn::Or nested in groups of at most 10)."""
    terms: list[dict[str, Any]] = [_region_is(r) for r in regions]
    if len(terms) == 1:
        return terms[0]
    while len(terms) > MAX_OR:
        terms = [t[0] if len(t) == 1 else {"Fn::Or": t} for t in
                 (terms[i:i + MAX_OR] for i in range(0, len(terms), MAX_OR))]
    return terms[0] if len(terms) == 1 else {"Fn::Or": terms}


def _conditional(condition: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """``resource()`` output with a Condition right after its Type."""
    if condition is None:
        return body
    return {"Type": body["Type"], "Condition": condition, **{k: v for k, v in body.items() if k != "Type"}}


def _template(plan: Plan, description: str, resources: dict[str, Any], *, parameters: dict[str, Any] | None = None,
              conditions: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return template(plan, description, resources, parameters=parameters, conditions=conditions, outputs=outputs)


def _file(plan: Plan, stem: str, notes: list[str], template: dict[str, Any], what: str) -> str:
    body = dump(template)
    text = with_header(plan, notes, body)
    extra = check_limits(plan, path(stem), template, text, inline=True, what=what,
                         advice="Use fewer Config rules, alert rules or alert e-mail addresses, or deploy the "
                                "security baseline with Terraform.")
    return with_header(plan, [*notes, *extra], body) if extra else text


def _log_key_for_trail(plan: Plan, security: SecurityPlan) -> Any:
    """CloudTrail accepts an alias ARN for KMSKeyId, also of a key in another account, so the trail names the log
    key by its alias and needs no parameter.
    (KmsKeyId: https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html)"""
    if security.log_bucket_existing:
        return security.log_kms_key_arn
    return _sub(f"arn:${{AWS::Partition}}:kms:{plan.org.home_region}:{plan.account(security.log_account).id}:"
                f"{LOG_KEY_ALIAS}")
