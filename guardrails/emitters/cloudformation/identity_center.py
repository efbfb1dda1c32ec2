"""IAM Identity Center as CloudFormation: ``cloudformation/identity-center.yaml``, a normal stack in the
administrator account (management, or the Identity Center delegated administrator) and the instance's region.

Each permission set is an ``AWS::SSO::PermissionSet`` (inline policy, AWS managed policies, customer managed
policy references, permissions boundary, session duration); each group × account an ``AWS::SSO::Assignment``.
The inline policy holds no per-account placeholder (the plan has turned them into the IAM policy variables
``${aws:PrincipalAccount}``/``${aws:RequestedRegion}``), so it is written as plain JSON, never inside ``Fn::Sub``.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sso-permissionset.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sso-assignment.html

checkov: the permission set resource (kind ``permission_set``, key: its key) carries that kind's suppressions,
plus those and the accepted findings of the job functions' managed policies its inline policy holds.
"""

from __future__ import annotations

import re
from typing import Any

from guardrails.emitters.cloudformation.render import (
    TEMPLATE_VERSION,
    LogicalIds,
    check_limits,
    dump,
    get_att,
    resource,
    skip_metadata,
    tags,
    with_header,
)
from guardrails.emitters.suppressions import suppressions_for
from guardrails.policies.ir import CustomerPolicyReference, PermissionSet, Plan, PolicyRef

PATH = "cloudformation/identity-center.yaml"
STACK = "guardrails-identity-center"


def emit(plan: Plan) -> dict[str, str]:
    """``{path: text}``: the Identity Center template, or nothing without ``identity_center``."""
    if plan.identity_center is None:
        return {}
    template = build_template(plan)
    body = dump(template)
    notes = _usage(plan)
    text = with_header(plan, notes, body)
    extra = check_limits(plan, PATH, template, text, inline=True, what="the Identity Center stack",
                         advice="Assign permission sets to fewer accounts per group (OU assignments multiply), or "
                                "apply Identity Center with Terraform, which has no per-template limit.")
    return {PATH: with_header(plan, [*notes, *extra], body) if extra else text}


def _usage(plan: Plan) -> list[str]:
    center = plan.identity_center
    assert center is not None
    return [
        "IAM Identity Center: permission sets compiled from job functions, and group assignments.",
        f"Deploy it as a normal stack in {center.admin_account} (the management account or the Identity Center",
        f"delegated administrator), in the instance's region {center.region}, after the account baselines: customer",
        "managed policies and boundaries a permission set refers to must exist in the assigned accounts first.",
        f"  aws cloudformation deploy --region {center.region} --stack-name {STACK} \\",
        "    --template-file identity-center.yaml",
        "cfn-lint E3510/I3510 are off on permission sets whose inline policy has ${aws:PrincipalAccount} in an ARN's",
        "account field: IAM resolves the variable per request; cfn-lint expects 12 digits there.",
    ]


def build_template(plan: Plan) -> dict[str, Any]:
    center = plan.identity_center
    assert center is not None
    partition = plan.org.partition
    ids = LogicalIds()
    resources: dict[str, Any] = {}
    set_ids = {ps.key: ids("PermissionSet", ps.name) for ps in center.permission_sets}
    set_names = {ps.key: ps.name for ps in center.permission_sets}
    for ps in center.permission_sets:
        resources[set_ids[ps.key]] = resource("AWS::SSO::PermissionSet", _permission_set(ps, center.instance_arn,
                                                                                           partition),
                                              metadata=_metadata(ps))
    for assignment in center.assignments:
        logical = ids("Assignment", f"{set_names[assignment.permission_set]}_{assignment.group}_{assignment.account}")
        resources[logical] = resource("AWS::SSO::Assignment", {
            "InstanceArn": center.instance_arn,
            "PermissionSetArn": get_att(set_ids[assignment.permission_set], "PermissionSetArn"),
            "PrincipalType": "GROUP",
            "PrincipalId": assignment.group_id,
            "TargetType": "AWS_ACCOUNT",
            "TargetId": assignment.account_id,
        })
    outputs = {f"{set_ids[ps.key]}Arn": {"Description": f"ARN of the permission set {ps.name}",
                                          "Value": get_att(set_ids[ps.key], "PermissionSetArn")}
               for ps in center.permission_sets}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": "guardrails: IAM Identity Center permission sets and group assignments",
        "Resources": resources,
    }
    if outputs:
        template["Outputs"] = outputs
    return template


def _permission_set(ps: PermissionSet, instance_arn: str, partition: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"InstanceArn": instance_arn, "Name": ps.name}
    if ps.description:
        properties["Description"] = ps.description
    properties["SessionDuration"] = ps.session_duration
    if ps.relay_state:
        properties["RelayStateType"] = ps.relay_state
    if ps.inline_policy is not None:
        properties["InlinePolicy"] = ps.inline_policy.to_json()
    if ps.managed_policies:
        properties["ManagedPolicies"] = [PolicyRef("aws", m).aws_arn(partition) for m in ps.managed_policies]
    if ps.customer_managed:
        properties["CustomerManagedPolicyReferences"] = [_reference(r) for r in ps.customer_managed]
    if isinstance(ps.boundary, PolicyRef):
        properties["PermissionsBoundary"] = {"ManagedPolicyArn": ps.boundary.aws_arn(partition)}
    elif isinstance(ps.boundary, CustomerPolicyReference):
        properties["PermissionsBoundary"] = {"CustomerManagedPolicyReference": _reference(ps.boundary)}
    if ps.tags:
        properties["Tags"] = tags(ps.tags)
    return properties


def _reference(reference: CustomerPolicyReference) -> dict[str, str]:
    return {"Name": reference.name, "Path": reference.path}


def _metadata(ps: PermissionSet) -> dict[str, Any]:
    """checkov skips (the permission set's own, then its inlined job functions'), and the cfn-lint exception below."""
    accepted = [(s.check, s.reason) for key in ps.inlined
                for s in suppressions_for("cloudformation", "managed_policy", key)]
    metadata = skip_metadata("permission_set", ps.key, (*accepted, *ps.accepted_findings))
    if _variable_in_arn_account(ps):
        metadata["cfn-lint"] = {"config": {"ignore_checks": list(CFN_LINT_IGNORED)}}
    return metadata


# cfn-lint's ARN pattern for identity policies (E3510, and I3510's resource-type match) wants 12 digits, `*` or
# `aws` in an ARN's account field; IAM resolves a policy variable there on each request
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), which is the whole point of
# ${aws:PrincipalAccount} in a permission set. Only permission sets whose inline policy does that skip the two rules.
CFN_LINT_IGNORED = ("E3510", "I3510")


def _variable_in_arn_account(ps: PermissionSet) -> bool:
    if ps.inline_policy is None:
        return False
    arns = [r for s in ps.inline_policy.statements for r in (*s.resources, *s.not_resources)]
    return any(re.match(r"arn:[^:]*:[^:]*:[^:]*:\$\{", arn) for arn in arns)
