"""The resources moto's CloudFormation does not create (EMULATOR_GAPS), created by the test through the emulator's
service APIs from the template's own properties, as CloudFormation's resource handlers would.

Each provider gets the resolved properties and returns the physical id (what Ref returns) and the attributes
(what Fn::GetAtt returns) it knows, from the CloudFormation resource reference:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html.
Property fix-ups complete resources moto creates but only in part (a role without its managed policies).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from .stacks import Deployment, Stack


@dataclass(frozen=True)
class Created:
    physical: str
    attributes: tuple[tuple[str, Any], ...] = ()


@dataclass
class Context:
    deployment: Deployment
    stack: Stack
    logical: str

    def client(self, service: str) -> Any:
        return self.deployment.emulator.client(service, self.stack.account_id, self.stack.region)

    def generated_name(self, limit: int = 64) -> str:
        """CloudFormation's name for a resource without one: <stack>-<logical id>-<random>."""
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
        return f"{self.stack.name}-{self.logical}"[: limit - 13] + "-" + suffix


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get("Tags") or []]


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- AWS Organizations --------------------------------------------------------------------------------

def organizational_unit(ctx: Context, props: dict[str, Any]) -> Created:
    orgs = ctx.deployment.management_client("organizations")
    unit = orgs.create_organizational_unit(ParentId=props["ParentId"], Name=props["Name"],
                                           **({"Tags": _tags(props)} if props.get("Tags") else {}))
    unit = unit["OrganizationalUnit"]
    return Created(unit["Id"], (("Id", unit["Id"]), ("Arn", unit["Arn"])))


def organizations_policy(ctx: Context, props: dict[str, Any]) -> Created:
    orgs = ctx.deployment.management_client("organizations")
    policy = orgs.create_policy(Name=props["Name"], Description=props.get("Description", ""), Type=props["Type"],
                                Content=_document(props["Content"]),
                                **({"Tags": _tags(props)} if props.get("Tags") else {}))["Policy"]["PolicySummary"]
    for target in props.get("TargetIds") or []:
        orgs.attach_policy(PolicyId=policy["Id"], TargetId=target)
    return Created(policy["Id"], (("Id", policy["Id"]), ("Arn", policy["Arn"])))


def organizations_account(ctx: Context, props: dict[str, Any]) -> Created:
    orgs = ctx.deployment.management_client("organizations")
    status = orgs.create_account(AccountName=props["AccountName"], Email=props["Email"],
                                 RoleName=props.get("RoleName", "OrganizationAccountAccessRole"),
                                 **({"Tags": _tags(props)} if props.get("Tags") else {}))["CreateAccountStatus"]
    account_id = status["AccountId"]
    parents = props.get("ParentIds") or []
    if parents:
        current = orgs.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        orgs.move_account(AccountId=account_id, SourceParentId=current, DestinationParentId=parents[0])
    return Created(account_id, (("AccountId", account_id),))


# -- IAM ------------------------------------------------------------------------------------------------

def iam_group(ctx: Context, props: dict[str, Any]) -> Created:
    iam = ctx.client("iam")
    name = props.get("GroupName") or ctx.generated_name(128)
    group = iam.create_group(GroupName=name, Path=props.get("Path", "/"))["Group"]
    for arn in props.get("ManagedPolicyArns") or []:
        iam.attach_group_policy(GroupName=name, PolicyArn=arn)
    for policy in props.get("Policies") or []:
        iam.put_group_policy(GroupName=name, PolicyName=policy["PolicyName"],
                             PolicyDocument=_document(policy["PolicyDocument"]))
    return Created(name, (("Arn", group["Arn"]),))


def oidc_provider(ctx: Context, props: dict[str, Any]) -> Created:
    arn = ctx.client("iam").create_open_id_connect_provider(
        Url=props["Url"], ClientIDList=props.get("ClientIdList") or [],
        ThumbprintList=props.get("ThumbprintList") or [],
        **({"Tags": _tags(props)} if props.get("Tags") else {}))["OpenIDConnectProviderArn"]
    return Created(arn, (("Arn", arn),))


def saml_provider(ctx: Context, props: dict[str, Any]) -> Created:
    name = props.get("Name") or ctx.generated_name(128)
    arn = ctx.client("iam").create_saml_provider(Name=name, SAMLMetadataDocument=props["SamlMetadataDocument"],
                                                 **({"Tags": _tags(props)} if props.get("Tags") else {})
                                                 )["SAMLProviderArn"]
    return Created(arn, (("Arn", arn),))


def service_linked_role(ctx: Context, props: dict[str, Any]) -> Created:
    kwargs = {k: props[k] for k in ("Description", "CustomSuffix") if k in props}
    role = ctx.client("iam").create_service_linked_role(AWSServiceName=props["AWSServiceName"], **kwargs)["Role"]
    return Created(role["RoleName"], (("RoleName", role["RoleName"]),))


def bucket_policy(ctx: Context, props: dict[str, Any]) -> Created:
    ctx.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=_document(props["PolicyDocument"]))
    return Created(ctx.generated_name())


def stack_set(ctx: Context, props: dict[str, Any]) -> Created:
    """A service-managed StackSet: its instances become stacks in the target accounts (tests/deploy/stacks.py)."""
    ctx.deployment.deploy_stack_set(ctx.stack, props)
    name = props["StackSetName"]
    return Created(f"{name}:{ctx.stack.stack_id.rsplit('/', 1)[-1]}", (("StackSetId", name),))


PROVIDERS: dict[str, Callable[[Context, dict[str, Any]], Created]] = {
    "AWS::Organizations::OrganizationalUnit": organizational_unit,
    "AWS::Organizations::Policy": organizations_policy,
    "AWS::Organizations::Account": organizations_account,
    "AWS::IAM::Group": iam_group,
    "AWS::IAM::OIDCProvider": oidc_provider,
    "AWS::IAM::SAMLProvider": saml_provider,
    "AWS::IAM::ServiceLinkedRole": service_linked_role,
    "AWS::S3::BucketPolicy": bucket_policy,
    "AWS::CloudFormation::StackSet": stack_set,
}


# -- what moto creates only in part ----------------------------------------------------------------------

def role_properties(ctx: Context, physical: str, props: dict[str, Any]) -> set[str]:
    """AWS::IAM::Role: moto creates the role without its ManagedPolicyArns, and stores the documents of its
    Policies as Python text (GetRolePolicy then returns ``{'Version': …}``, which is not JSON)."""
    iam = ctx.client("iam")
    done: set[str] = set()
    have = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=physical)["AttachedPolicies"]}
    for arn in props.get("ManagedPolicyArns") or []:
        if arn not in have:
            iam.attach_role_policy(RoleName=physical, PolicyArn=arn)
            done.add("ManagedPolicyArns")
    for policy in props.get("Policies") or []:
        stored = iam.get_role_policy(RoleName=physical, PolicyName=policy["PolicyName"])["PolicyDocument"]
        if not _is_json(stored):
            iam.put_role_policy(RoleName=physical, PolicyName=policy["PolicyName"],
                                PolicyDocument=_document(policy["PolicyDocument"]))
            done.add("Policies")
    return done


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return True  # botocore decoded it: it was JSON
    try:
        json.loads(unquote(value))
    except ValueError:
        return False
    return True


def user_properties(ctx: Context, physical: str, props: dict[str, Any]) -> set[str]:
    """AWS::IAM::User: moto creates a bare user (name and path); the rest is set here."""
    iam = ctx.client("iam")
    done: set[str] = set()
    have = {g["GroupName"] for g in iam.list_groups_for_user(UserName=physical)["Groups"]}
    for group in props.get("Groups") or []:
        if group not in have:
            iam.add_user_to_group(GroupName=group, UserName=physical)
            done.add("Groups")
    tags = _tags(props)
    if tags and not iam.list_user_tags(UserName=physical)["Tags"]:
        iam.tag_user(UserName=physical, Tags=tags)
        done.add("Tags")
    attached = {p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=physical)["AttachedPolicies"]}
    for arn in props.get("ManagedPolicyArns") or []:
        if arn not in attached:
            iam.attach_user_policy(UserName=physical, PolicyArn=arn)
            done.add("ManagedPolicyArns")
    inline = set(iam.list_user_policies(UserName=physical)["PolicyNames"])
    for policy in props.get("Policies") or []:
        if policy["PolicyName"] not in inline:
            iam.put_user_policy(UserName=physical, PolicyName=policy["PolicyName"],
                                PolicyDocument=_document(policy["PolicyDocument"]))
            done.add("Policies")
    if props.get("PermissionsBoundary") and "PermissionsBoundary" not in iam.get_user(UserName=physical)["User"]:
        iam.put_user_permissions_boundary(UserName=physical, PermissionsBoundary=props["PermissionsBoundary"])
        done.add("PermissionsBoundary")
    return done


# Resource types moto creates in part: the fix-up returns the properties moto had left out (EMULATOR_GAPS names
# them as "<type>.<property>").
PROPERTY_FIXES: dict[str, Callable[[Context, str, dict[str, Any]], set[str]]] = {
    "AWS::IAM::Role": role_properties,
    "AWS::IAM::User": user_properties,
}
