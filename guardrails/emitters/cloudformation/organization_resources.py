"""The resources of the management-account stacks (OUs, accounts, SCPs and RCPs), their shared parameters, and
the byte size a group of them adds to a template."""

from __future__ import annotations

from typing import Any

from guardrails.emitters.cloudformation import security as security_templates
from guardrails.emitters.cloudformation.organization_ids import (
    BASE_URL,
    ORG,
    ROOT,
    Ids,
    account_ref,
    member,
    ou_ref,
    unit,
)
from guardrails.emitters.cloudformation.render import dump, has_placeholder, ref, resource, skip_metadata, template
from guardrails.policies.ir import Plan, ServiceControlPolicy


def parameters(plan: Plan) -> dict[str, Any]:
    return {
        ORG: {"Type": "String", "Default": plan.org.org_id, "AllowedPattern": "^o-[a-z0-9]{10,32}$",
              "Description": "Organization id from the blueprint (CloudFormation cannot look it up). "
                             "The SCPs already embed it; it is exported for the pipelines that read this stack."},
        ROOT: {"Type": "String", "Default": plan.org.root_id, "AllowedPattern": "^r-[0-9a-z]{4,32}$",
               "Description": "Root id of the organization (CloudFormation cannot look it up)."},
        BASE_URL: {
            "Type": "String", "AllowedPattern": "^https://[^\\s]+[^/\\s]$",
            "Description": "S3 https URL prefix, without a trailing slash, where the baseline-*.yaml templates "
                           "are uploaded (the StackSets read their TemplateURL from it)."},
        # Only in stacksets.yaml, and only when account-security.yaml takes the log archive key as a parameter.
        security_templates.LOG_KEY: {
            "Type": "String", "AllowedPattern": "^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$",
            "Description": "ARN of the log archive's KMS key (output LogArchiveKeyArn of the guardrails-log-archive "
                           "stack), passed on to the account security StackSet."},
    }


def organization_template(plan: Plan, description: str, resources: dict[str, Any],
                          outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return template(plan, description, resources, parameters=parameters(plan), outputs=outputs)


def section_bytes(key: str, entries: dict[str, Any]) -> int:
    """Bytes these entries add under ``<key>:`` (block YAML: each entry's text is independent)."""
    return len(dump({key: entries}).encode("utf-8")) - len(f"{key}:\n")


def unit_resource(plan: Plan, ids: Ids, path: str, here: frozenset[str] | None = None) -> dict[str, Any]:
    """The OU; its parent is a Ref when this stack holds it (``here``: the paths it holds; None: all of them), else
    the export of an earlier organization stack (parents come before children in path order)."""
    ou = unit(plan, path)
    # Retain: deleting the stack, or a change that forces replacement, must never delete an OU.
    properties = {"Name": ou.name, "ParentId": ou_ref(ids, ou.parent, local=True if here is None else here)}
    return resource("AWS::Organizations::OrganizationalUnit", properties, deletion="Retain",
                    metadata=skip_metadata("ou", ou.path))


def account_resource(plan: Plan, ids: Ids, name: str, *, parent_known: bool = True) -> dict[str, Any]:
    account = member(plan, name)
    properties: dict[str, Any] = {"AccountName": account.name, "Email": account.email}
    if parent_known:
        properties["ParentIds"] = [ou_ref(ids, account.unit, local=False)]
    # The role Organizations creates in a new account; ignored for accounts that already exist.
    properties["RoleName"] = plan.org.deployment_role
    # Retain: removing an account from the stack must never close it.
    return resource("AWS::Organizations::Account", properties, deletion="Retain",
                    metadata=skip_metadata("account", account.name))


def scp_resource(plan: Plan, ids: Ids, scp: ServiceControlPolicy) -> dict[str, Any]:
    if has_placeholder(scp.document):
        raise ValueError(f"SCP {scp.name} contains ${{account_id}} or ${{region}}: an SCP is one document for many "
                         "accounts, so there is no single value to substitute. Use a wildcard or a condition on "
                         "aws:PrincipalAccount / aws:RequestedRegion instead.")
    kind, _, name = scp.target.partition(":")
    if kind == "root":
        target: Any = ref(ROOT)
    elif kind == "ou":
        target = ou_ref(ids, name, local=True)  # the organization stack holds the OUs and these SCPs
    elif kind == "account":
        # Ref of AWS::Organizations::Account (in the same accounts stack) is the account id; the management account,
        # and every account in GovCloud, is never a resource.
        target = account_ref(plan, ids, name)
    else:
        raise ValueError(f"SCP {scp.name}: unknown target {scp.target!r}")
    return resource("AWS::Organizations::Policy", {
        "Name": scp.name,
        "Description": scp.description,
        "Type": scp.policy_type,
        # IAM policy variables in an SCP stay plain strings: only Fn::Sub would interpret ${...}.
        "Content": scp.document.to_json(),
        "TargetIds": [target],
    }, metadata=skip_metadata("scp", scp.key))
