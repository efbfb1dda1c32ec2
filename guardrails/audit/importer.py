"""``guardrails import``: read an existing organization with read-only calls → plain frozen dataclasses.

Read with the caller's (management account's) credentials: the OU tree, the accounts, every SCP and RCP with its
document and targets, the delegated administrators, IAM Identity Center's permission sets and account assignments;
then, for the accounts asked for, their IAM roles, groups, users, customer managed policies and password policy
(through a role assumed in each member account, with the caller's credentials in the management account).

Every AWS call goes through a botocore ``before-call`` hook (:class:`ReadOnlyGuard`) that refuses, before
anything is sent, an operation that is not List*, Describe*, Get* or sts:AssumeRole (which changes nothing): the
import cannot change the organization whatever a later edit of this module does. The calls are listed in
docs/importing.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guardrails.audit.reader import (
    AwsClient,
    AwsError,
    LiveGroup,
    LivePolicy,
    LiveRole,
    LiveUser,
    _groups,
    _password_policy,
    _policies,
    _roles,
    _users,
    document,
    make_session,
)
from guardrails.diagnostics import ToolError

READ_PREFIXES = ("List", "Describe", "Get")
ALSO_ALLOWED = frozenset({"AssumeRole"})  # sts: issues credentials, changes nothing in the account
SESSION_NAME = "guardrails-import"
DEFAULT_ROLE = "OrganizationAccountAccessRole"


class ReadOnlyGuard:
    """A botocore ``before-call`` handler: records every operation and refuses any that could change something."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        self.operations.append(name)
        if not (model.name.startswith(READ_PREFIXES) or model.name in ALSO_ALLOWED):
            raise ToolError(f"guardrails import makes read-only calls only; {name} was refused (a bug: report it)")

    def watch(self, session: Any) -> Any:
        session.events.register("before-call", self)
        return session


@dataclass(frozen=True)
class ImportedUnit:
    id: str
    name: str
    parent_id: str
    path: str  # "Workloads/Prod"


@dataclass(frozen=True)
class ImportedAccount:
    id: str
    name: str
    email: str
    status: str
    parent_id: str


@dataclass(frozen=True)
class ImportedOrgPolicy:
    id: str
    name: str
    description: str
    kind: str  # SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY
    aws_managed: bool
    document: Any
    targets: tuple[str, ...]  # target ids (root, OU or account), sorted


@dataclass(frozen=True)
class ImportedPermissionSet:
    arn: str
    name: str
    description: str
    session_duration: str
    relay_state: str | None
    inline: Any  # the inline policy document, None when there is none
    managed: tuple[str, ...]  # AWS managed policy ARNs, sorted
    customer_managed: tuple[str, ...]  # "path/name" references, sorted
    boundary: str | None  # a description of the boundary, None when there is none or it could not be read
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ImportedAssignment:
    permission_set: str  # name
    account_id: str
    principal_type: str  # GROUP or USER
    principal_id: str
    principal_name: str | None


@dataclass(frozen=True)
class ImportedIdentityCenter:
    instance_arn: str
    identity_store_id: str
    permission_sets: tuple[ImportedPermissionSet, ...]
    assignments: tuple[ImportedAssignment, ...]


@dataclass(frozen=True)
class AccountIam:
    account_id: str
    roles: tuple[LiveRole, ...]
    groups: tuple[LiveGroup, ...]
    users: tuple[LiveUser, ...]
    policies: tuple[LivePolicy, ...]
    password_policy: dict[str, Any] | None
    # (policy ARN, description) of the customer managed policies (GetPolicy): a policy's description cannot
    # change in place (CreatePolicy only), so an imported policy keeps it or Terraform would replace it.
    descriptions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ImportedOrganization:
    id: str
    root_id: str
    management_account_id: str
    region: str
    endpoint: str
    partition: str
    units: tuple[ImportedUnit, ...]  # parents before children, sorted by path
    accounts: tuple[ImportedAccount, ...]  # sorted by id
    policies: tuple[ImportedOrgPolicy, ...]  # sorted by kind, name
    delegated_admins: tuple[tuple[str, str], ...]  # (account id, service principal), sorted
    identity_center: ImportedIdentityCenter | None
    iam: tuple[AccountIam, ...]  # the accounts asked for, sorted by id
    notes: tuple[str, ...] = field(default=())


def read_organization(*, profile: str | None, region: str, endpoint_url: str | None, accounts: tuple[str, ...],
                      role: str = DEFAULT_ROLE, guard: ReadOnlyGuard | None = None) -> ImportedOrganization:
    """Everything the blueprint writer needs, read-only; ``accounts``: ids whose IAM is read too."""
    from botocore.config import Config

    guard = guard or ReadOnlyGuard()
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    session = guard.watch(make_session(profile, region))

    def client(service: str, on: Any = session) -> AwsClient:
        return AwsClient(on.client(service, endpoint_url=endpoint_url, region_name=region, config=config), service)

    orgs, sts = client("organizations"), client("sts")
    notes: list[str] = []
    described = orgs.call("describe_organization")["Organization"]
    roots = orgs.pages("list_roots", "Roots")
    if not roots:
        raise ToolError("the organization has no root (ListRoots answered nothing)")
    root_id = str(roots[0]["Id"])
    units = _units(orgs, root_id)
    members = _accounts(orgs, root_id, units)
    known = {a.id for a in members}
    unknown = sorted(set(accounts) - known)
    if unknown:
        raise ToolError(f"--accounts {', '.join(unknown)}: not in organization {described['Id']} (its accounts: "
                        f"{', '.join(sorted(known))})")
    policies = [*_org_policies(orgs, "SERVICE_CONTROL_POLICY", notes),
                *_org_policies(orgs, "RESOURCE_CONTROL_POLICY", notes)]
    management = str(described["MasterAccountId"])
    partition = str(described.get("Arn", "arn:aws:")).split(":")[1] or "aws"
    caller = str(sts.call("get_caller_identity")["Account"])
    iam = []
    for account_id in sorted(accounts):
        if account_id == caller:
            on = session
        else:
            arn = f"arn:{partition}:iam::{account_id}:role/{role.strip('/')}" if not role.startswith("arn:") \
                else role.replace("${account_id}", account_id)
            credentials = sts.call("assume_role", RoleArn=arn, RoleSessionName=SESSION_NAME)["Credentials"]
            import boto3

            on = guard.watch(boto3.session.Session(
                region_name=region, aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"]))
        iam.append(_account_iam(client("iam", on), account_id))
    return ImportedOrganization(
        id=str(described["Id"]), root_id=root_id, management_account_id=management, region=region,
        endpoint=orgs.endpoint, partition=partition, units=tuple(units), accounts=tuple(members),
        policies=tuple(sorted(policies, key=lambda p: (p.kind, p.name, p.id))),
        delegated_admins=_delegated(orgs, notes), identity_center=_identity_center(client, members, notes),
        iam=tuple(iam), notes=tuple(notes))


def _units(orgs: AwsClient, root_id: str) -> list[ImportedUnit]:
    out: list[ImportedUnit] = []
    todo = [(root_id, "")]
    while todo:
        parent, prefix = todo.pop(0)
        children = orgs.pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)
        for child in sorted(children, key=lambda c: c["Name"]):
            path = f"{prefix}/{child['Name']}" if prefix else str(child["Name"])
            out.append(ImportedUnit(str(child["Id"]), str(child["Name"]), parent, path))
            todo.append((str(child["Id"]), path))
    return sorted(out, key=lambda u: u.path)


def _accounts(orgs: AwsClient, root_id: str, units: list[ImportedUnit]) -> list[ImportedAccount]:
    out = []
    for parent in (root_id, *(u.id for u in units)):
        for account in orgs.pages("list_accounts_for_parent", "Accounts", ParentId=parent):
            out.append(ImportedAccount(str(account["Id"]), str(account.get("Name", "")),
                                       str(account.get("Email", "")), str(account.get("Status", "ACTIVE")), parent))
    return sorted(out, key=lambda a: a.id)


def _org_policies(orgs: AwsClient, kind: str, notes: list[str]) -> list[ImportedOrgPolicy]:
    try:
        listed = orgs.pages("list_policies", "Policies", Filter=kind)
    except AwsError as exc:
        if kind == "SERVICE_CONTROL_POLICY" or not (exc.unsupported or exc.code in (
                "PolicyTypeNotEnabledException", "InvalidInputException")):
            raise
        notes.append(f"RCPs could not be read ({exc.code or exc.status}): none imported")
        return []
    out = []
    for summary in listed:
        policy = orgs.call("describe_policy", PolicyId=summary["Id"])["Policy"]
        targets = orgs.pages("list_targets_for_policy", "Targets", PolicyId=summary["Id"])
        out.append(ImportedOrgPolicy(
            str(summary["Id"]), str(summary["Name"]), str(summary.get("Description", "")), kind,
            bool(summary.get("AwsManaged", False)), document(policy["Content"]),
            tuple(sorted(str(t["TargetId"]) for t in targets))))
    return out


def _delegated(orgs: AwsClient, notes: list[str]) -> tuple[tuple[str, str], ...]:
    try:
        admins = orgs.pages("list_delegated_administrators", "DelegatedAdministrators")
        out = set()
        for admin in admins:
            for service in orgs.pages("list_delegated_services_for_account", "DelegatedServices",
                                      AccountId=admin["Id"]):
                out.add((str(admin["Id"]), str(service["ServicePrincipal"])))
        return tuple(sorted(out))
    except AwsError as exc:
        if not (exc.unsupported or exc.code == "AccessDeniedException"):
            raise
        notes.append(f"delegated administrators could not be read ({exc.code or exc.status}): none imported")
        return ()


def _identity_center(client: Any, members: list[ImportedAccount], notes: list[str]) -> ImportedIdentityCenter | None:
    sso = client("sso-admin")
    try:
        instances = sso.pages("list_instances", "Instances")
    except AwsError as exc:
        if not (exc.unsupported or exc.code in ("AccessDeniedException", "ValidationException")):
            raise
        notes.append(f"IAM Identity Center could not be read ({exc.code or exc.status}): none imported")
        return None
    if not instances:
        return None
    if len(instances) > 1:
        notes.append(f"{len(instances)} Identity Center instances: only the first ({instances[0]['InstanceArn']}) "
                     "is imported")
    instance, store = str(instances[0]["InstanceArn"]), str(instances[0]["IdentityStoreId"])
    identity = client("identitystore")
    names: dict[str, str | None] = {}
    sets, assignments = [], []
    for arn in sorted(sso.pages("list_permission_sets", "PermissionSets", InstanceArn=instance)):
        described = sso.call("describe_permission_set", InstanceArn=instance, PermissionSetArn=arn)["PermissionSet"]
        name = str(described["Name"])
        inline = sso.call("get_inline_policy_for_permission_set", InstanceArn=instance,
                          PermissionSetArn=arn).get("InlinePolicy") or None
        managed = sso.pages("list_managed_policies_in_permission_set", "AttachedManagedPolicies",
                            InstanceArn=instance, PermissionSetArn=arn)
        customer = sso.pages("list_customer_managed_policy_references_in_permission_set",
                             "CustomerManagedPolicyReferences", InstanceArn=instance, PermissionSetArn=arn)
        boundary, tags = _optional_sso(sso, instance, arn, notes)
        sets.append(ImportedPermissionSet(
            arn, name, str(described.get("Description", "")), str(described.get("SessionDuration", "PT1H")),
            described.get("RelayState") or None, document(inline) if inline else None,
            tuple(sorted(str(p["Arn"]) for p in managed)),
            tuple(sorted(f"{str(p.get('Path', '/')).strip('/')}/{p['Name']}".lstrip("/") for p in customer)),
            boundary, tags))
        for account in members:  # every account × set: complete without provisioning status
            for found in sso.pages("list_account_assignments", "AccountAssignments", InstanceArn=instance,
                                   AccountId=account.id, PermissionSetArn=arn):
                principal, kind = str(found["PrincipalId"]), str(found["PrincipalType"])
                if principal not in names:
                    names[principal] = _principal_name(identity, store, kind, principal, notes)
                assignments.append(ImportedAssignment(name, account.id, kind, principal, names[principal]))
    return ImportedIdentityCenter(instance, store, tuple(sorted(sets, key=lambda s: s.name)),
                                  tuple(sorted(set(assignments), key=lambda a: (a.permission_set, a.principal_id,
                                                                                 a.account_id))))


def _optional_sso(sso: AwsClient, instance: str, arn: str, notes: list[str]
                  ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The permission set's boundary and tags; calls an emulator may lack are noted, never guessed."""
    boundary: str | None = None
    try:
        found = sso.call("get_permissions_boundary_for_permission_set", InstanceArn=instance,
                         PermissionSetArn=arn).get("PermissionsBoundary") or {}
        if found.get("ManagedPolicyArn"):
            boundary = str(found["ManagedPolicyArn"])
        elif found.get("CustomerManagedPolicyReference"):
            ref = found["CustomerManagedPolicyReference"]
            boundary = f"{str(ref.get('Path', '/')).strip('/')}/{ref['Name']}".lstrip("/")
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":
            if not exc.unsupported:
                raise
            note = f"permission set boundaries could not be read ({exc.code or exc.status}): none imported"
            if note not in notes:
                notes.append(note)
    try:
        tags = sso.pages("list_tags_for_resource", "Tags", InstanceArn=instance, ResourceArn=arn)
    except AwsError as exc:
        if not exc.unsupported:
            raise
        note = f"permission set tags could not be read ({exc.code or exc.status}): none imported"
        if note not in notes:
            notes.append(note)
        tags = []
    return boundary, tuple(sorted((str(t["Key"]), str(t.get("Value", ""))) for t in tags))


def _principal_name(identity: AwsClient, store: str, kind: str, principal: str, notes: list[str]) -> str | None:
    try:
        if kind == "GROUP":
            return str(identity.call("describe_group", IdentityStoreId=store, GroupId=principal)["DisplayName"])
        return str(identity.call("describe_user", IdentityStoreId=store, UserId=principal)["UserName"])
    except AwsError as exc:
        if not (exc.unsupported or exc.code in ("ResourceNotFoundException", "AccessDeniedException")):
            raise
        notes.append(f"the identity store name of {kind.lower()} {principal} could not be read ({exc.code})")
        return None


def _account_iam(iam: AwsClient, account_id: str) -> AccountIam:
    policies = _policies(iam)
    descriptions = tuple((p.arn, str(iam.call("get_policy", PolicyArn=p.arn)["Policy"].get("Description", "")))
                         for p in policies)
    return AccountIam(account_id, _roles(iam), _groups(iam), _users(iam), policies, _password_policy(iam),
                      descriptions)
