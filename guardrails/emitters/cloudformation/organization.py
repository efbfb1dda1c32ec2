"""The management-account template: OUs, member accounts, SCPs and one baseline StackSet per class."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from guardrails.emitters.cloudformation.baseline import stack_name
from guardrails.emitters.cloudformation.render import (
    TEMPLATE_VERSION,
    LogicalIds,
    check_limits,
    dump,
    has_placeholder,
    ref,
    resource,
    skip_metadata,
    with_header,
)
from guardrails.policies.ir import BaselineClass, Plan, ServiceControlPolicy

ROOT = "RootId"
ORG = "OrganizationId"
BASE_URL = "BaselineTemplateBaseUrl"
STACK = "guardrails-organization"
# AWS::Organizations::Account does not exist in GovCloud: accounts there are created from the commercial
# partition (CreateGovCloudAccount), so the template refers to them by id.
# https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-organizations.html
NO_ACCOUNT_RESOURCE = frozenset({"aws-us-gov"})


@dataclass(frozen=True)
class _Ids:
    units: dict[str, str]  # OU path → logical id
    accounts: dict[str, str]  # member account name → logical id (empty where accounts cannot be resources)


def accounts_are_resources(plan: Plan) -> bool:
    return plan.org.partition not in NO_ACCOUNT_RESOURCE


def _ids(plan: Plan) -> _Ids:
    ids = LogicalIds()
    members = [a for a in plan.accounts if not a.management] if accounts_are_resources(plan) else []
    return _Ids(units={u.path: ids("Ou", u.path) for u in plan.units},
                accounts={a.name: ids("Account", a.name) for a in members})


def _account(plan: Plan, ids: _Ids, name: str) -> Any:
    """Ref of the account resource (its id), or the literal id when the account is not a resource here."""
    return ref(ids.accounts[name]) if name in ids.accounts else plan.account(name).id


def _parent(ids: _Ids, unit: str) -> dict[str, str]:
    return ref(ROOT if unit == "" else ids.units[unit])


def _parameters(plan: Plan, *, stacksets: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        ORG: {"Type": "String", "Default": plan.org.org_id, "AllowedPattern": "^o-[a-z0-9]{10,32}$",
              "Description": "Organization id from the blueprint (CloudFormation cannot look it up). "
                             "The SCPs already embed it; it is exported for the pipelines that read this stack."},
        ROOT: {"Type": "String", "Default": plan.org.root_id, "AllowedPattern": "^r-[0-9a-z]{4,32}$",
               "Description": "Root id of the organization (CloudFormation cannot look it up)."},
    }
    if stacksets:
        params[BASE_URL] = {
            "Type": "String", "AllowedPattern": "^https://[^\\s]+[^/\\s]$",
            "Description": "S3 https URL prefix, without a trailing slash, where the baseline-*.yaml templates "
                           "are uploaded (the StackSets read their TemplateURL from it)."}
    return params


def _unit_resource(plan: Plan, ids: _Ids, path: str) -> dict[str, Any]:
    unit = next(u for u in plan.units if u.path == path)
    # Retain: deleting the stack, or a change that forces replacement, must never delete an OU.
    properties = {"Name": unit.name, "ParentId": _parent(ids, unit.parent)}
    return resource("AWS::Organizations::OrganizationalUnit", properties, deletion="Retain",
                    metadata=skip_metadata("ou", unit.path))


def _account_resource(plan: Plan, ids: _Ids, name: str, *, parent_known: bool = True) -> dict[str, Any]:
    account = plan.account(name)
    properties: dict[str, Any] = {"AccountName": account.name, "Email": account.email}
    if parent_known:
        properties["ParentIds"] = [_parent(ids, account.unit)]
    # The role Organizations creates in a new account; ignored for accounts that already exist.
    properties["RoleName"] = plan.org.deployment_role
    # Retain: removing an account from the stack must never close it.
    return resource("AWS::Organizations::Account", properties, deletion="Retain",
                    metadata=skip_metadata("account", account.name))


def _accounts_under(plan: Plan, path: str) -> set[str]:
    return {a.name for a in plan.accounts if not a.management and (a.unit == path or a.unit.startswith(path + "/"))}


def _deployment_targets(plan: Plan, ids: _Ids, cls: BaselineClass) -> dict[str, Any]:
    """Whole OUs (nested OUs included) when the class is exactly their accounts, so accounts added there later
    get the baseline too; otherwise the class's accounts, intersected with the OUs that hold them.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html"""
    if cls.whole_units:
        covered = set().union(*(_accounts_under(plan, u) for u in cls.whole_units))
        if covered == set(cls.accounts):
            return {"OrganizationalUnitIds": [ref(ids.units[u]) for u in cls.whole_units], "AccountFilterType": "NONE"}
    units = sorted({plan.account(a).unit for a in cls.accounts})
    return {"OrganizationalUnitIds": [_parent(ids, u) for u in units],
            "Accounts": [_account(plan, ids, a) for a in cls.accounts],
            "AccountFilterType": "INTERSECTION"}


def _stackset(plan: Plan, ids: _Ids, cls: BaselineClass) -> dict[str, Any]:
    targets = _deployment_targets(plan, ids, cls)
    # Make sure the class's accounts exist (and sit in their OUs) before instances are created; when they
    # are already referenced through Accounts, the dependency is implicit.
    depends = [] if "Accounts" in targets else [ids.accounts[a] for a in cls.accounts if a in ids.accounts]
    return resource("AWS::CloudFormation::StackSet", {
        "StackSetName": stack_name(cls, management=False),
        "Description": f"guardrails IAM baseline for the account class {cls.key}",
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "CallAs": "SELF",
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        # Queue operations instead of failing when an auto-deployment overlaps an update.
        "ManagedExecution": {"Active": True},
        "TemplateURL": {"Fn::Sub": f"${{{BASE_URL}}}/baseline-{cls.key}.yaml"},
        # The home region only: IAM is global, a second region's instance fails with EntityAlreadyExists.
        "StackInstancesGroup": [{"DeploymentTargets": targets, "Regions": [plan.org.home_region]}],
    }, depends_on=depends, metadata=skip_metadata("stackset", cls.key))


def _scp(plan: Plan, ids: _Ids, scp: ServiceControlPolicy) -> dict[str, Any]:
    if has_placeholder(scp.document):
        raise ValueError(f"SCP {scp.name} contains ${{account_id}} or ${{region}}: an SCP is one document for many "
                         "accounts, so there is no single value to substitute. Use a wildcard or a condition on "
                         "aws:PrincipalAccount / aws:RequestedRegion instead.")
    kind, _, name = scp.target.partition(":")
    if kind == "root":
        target: Any = ref(ROOT)
    elif kind == "ou":
        target = ref(ids.units[name])
    elif kind == "account":
        # Ref of AWS::Organizations::Account is the account id; the management account is never a resource.
        target = _account(plan, ids, name)
    else:
        raise ValueError(f"SCP {scp.name}: unknown target {scp.target!r}")
    return resource("AWS::Organizations::Policy", {
        "Name": scp.name,
        "Description": scp.description,
        "Type": "SERVICE_CONTROL_POLICY",
        # IAM policy variables in an SCP stay plain strings: only Fn::Sub would interpret ${...}.
        "Content": scp.document.to_json(),
        "TargetIds": [target],
    }, metadata=skip_metadata("scp", scp.key))


def build_template(plan: Plan) -> dict[str, Any]:
    ids = _ids(plan)
    resources: dict[str, Any] = {}
    for unit in plan.units:
        resources[ids.units[unit.path]] = _unit_resource(plan, ids, unit.path)
    for name in ids.accounts:
        resources[ids.accounts[name]] = _account_resource(plan, ids, name)
    names = LogicalIds()
    for scp in plan.scps:
        resources[names("Scp", scp.key)] = _scp(plan, ids, scp)
    members = [c for c in plan.classes if not _is_management(plan, c)]
    for cls in members:
        resources[names("StackSet", cls.key)] = _stackset(plan, ids, cls)
    return {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"guardrails {plan.org.name}: organizational units, accounts, SCPs and baseline StackSets",
        "Parameters": _parameters(plan, stacksets=bool(members)),
        "Resources": resources,
        "Outputs": {ORG: {"Description": "The organization this stack manages.", "Value": ref(ORG)}},
    }


def _is_management(plan: Plan, cls: BaselineClass) -> bool:
    return any(plan.account(a).management for a in cls.accounts)


# ----------------------------------------------------------------------------- importing what exists


def imported(plan: Plan) -> tuple[list[str], list[str]]:
    """(OU paths, member account names) that exist already and must be imported, not created."""
    units = [u.path for u in plan.units if u.existing_id]
    accounts = [a.name for a in plan.accounts if a.existing and not a.management and accounts_are_resources(plan)]
    return units, accounts


def resources_to_import(plan: Plan) -> list[dict[str, Any]]:
    """The ``--resources-to-import`` list of the IMPORT change set.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceToImport.html"""
    ids = _ids(plan)
    units, accounts = imported(plan)
    out = [{"ResourceType": "AWS::Organizations::OrganizationalUnit", "LogicalResourceId": ids.units[path],
            "ResourceIdentifier": {"Id": next(u.existing_id for u in plan.units if u.path == path)}} for path in units]
    out += [{"ResourceType": "AWS::Organizations::Account", "LogicalResourceId": ids.accounts[name],
             "ResourceIdentifier": {"AccountId": plan.account(name).id}} for name in accounts]
    return out


def build_import_template(plan: Plan) -> dict[str, Any]:
    """Only the resources being imported: an IMPORT change set may add nothing else (no new resources,
    no outputs). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-existing-stack.html"""
    ids = _ids(plan)
    units, accounts = imported(plan)
    resources: dict[str, Any] = {}
    for path in units:
        unit = next(u for u in plan.units if u.path == path)
        if unit.parent and unit.parent not in units:
            raise ValueError(f"OU {path} exists (id {unit.existing_id}) but its parent {unit.parent} does not: "
                             "an existing OU can only sit under an existing parent; give the parent its id too.")
        resources[ids.units[path]] = _unit_resource(plan, ids, path)
    for name in accounts:
        unit = plan.account(name).unit
        # An existing account moving into a new OU: import it without a parent; the following update moves it.
        resources[ids.accounts[name]] = _account_resource(plan, ids, name, parent_known=unit == "" or unit in units)
    return {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"guardrails {plan.org.name}: import of the existing organizational units and accounts",
        # OrganizationId is added by the update that follows: an unused parameter here only draws a lint warning.
        "Parameters": {ROOT: _parameters(plan, stacksets=False)[ROOT]},
        "Resources": resources,
    }


def _header(plan: Plan, *, importing: bool) -> list[str]:
    region = plan.org.home_region
    lines = [
        "Management-account stack: organizational units, member accounts, SCPs and the StackSets that roll the",
        "baseline-*.yaml templates out to member accounts.",
        "Prerequisites: all features enabled, the SERVICE_CONTROL_POLICY type enabled on the root, and trusted",
        "access for CloudFormation StackSets turned on in Organizations.",
        "OUs and accounts carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a",
        "replacement ever deletes an OU or closes an account.",
    ]
    if not accounts_are_resources(plan):
        lines += [
            f"AWS::Organizations::Account does not exist in {plan.org.partition}: create member accounts from the",
            "commercial partition (CreateGovCloudAccount) and move them into their OUs yourself; this stack refers",
            "to them by id:",
            *(f"  {a.name} ({a.id}) -> {a.unit or 'root'}" for a in plan.accounts if not a.management),
        ]
    if importing:
        lines += [
            "Some OUs or accounts exist already, so the first deployment imports them (an IMPORT change set",
            "may contain nothing but the imported resources):",
            f"  aws cloudformation create-change-set --region {region} --stack-name {STACK} \\",
            "    --change-set-name import --change-set-type IMPORT --template-body file://organization-import.yaml \\",
            "    --resources-to-import file://organization-import.json",
            f"  aws cloudformation execute-change-set --region {region} --stack-name {STACK} --change-set-name import",
            "then deploy this template as below.",
        ]
    lines += [
        "Upload the baseline-*.yaml files to S3 first, then:",
        f"  aws cloudformation deploy --region {region} --stack-name {STACK} --template-file organization.yaml \\",
        f"    --parameter-overrides {BASE_URL}=https://BUCKET.s3.{region}.amazonaws.com/PREFIX",
    ]
    return lines


def render(plan: Plan) -> dict[str, str]:
    files: dict[str, str] = {}
    importing = any(imported(plan))
    template = build_template(plan)
    body = dump(template)
    notes = _header(plan, importing=importing)
    text = with_header(plan, notes, body)
    extra = check_limits(plan, "cloudformation/organization.yaml", template, text, inline=True)
    files["cloudformation/organization.yaml"] = with_header(plan, [*notes, *extra], body) if extra else text
    if importing:
        stage = build_import_template(plan)
        files["cloudformation/organization-import.yaml"] = with_header(plan, [
            "Import stage of organization.yaml: the existing OUs and accounts only. Use it with",
            "organization-import.json in an IMPORT change set (see the header of organization.yaml).",
        ], dump(stage))
        # JSON cannot carry a comment header: the AWS CLI reads this list as it is.
        files["cloudformation/organization-import.json"] = json.dumps(resources_to_import(plan), indent=2) + "\n"
    return files
