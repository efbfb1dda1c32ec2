"""Read-only boto3 calls against one live account → plain frozen dataclasses.

Every call made here is listed in docs/audit.md (the read-only policy the command needs). A botocore error
becomes a :class:`~guardrails.diagnostics.ToolError` naming the call and the endpoint; an API the endpoint does
not implement (an emulator) is skipped with a note instead — the audit never invents data.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from guardrails.diagnostics import ToolError

# Waits between polls of asynchronous IAM jobs (credential report, service last accessed): about a minute in all.
_PAUSES = (0.05, 0.1, 0.25, 0.5, *([1.0] * 60))

# Error codes (or HTTP statuses) meaning "this endpoint does not implement the API" rather than a real failure.
_UNSUPPORTED_CODES = {"NotImplemented", "InternalFailure", "InternalError", "NotImplementedError",
                      "InvalidAction", "UnknownOperationException"}


@dataclass(frozen=True)
class LivePolicy:
    arn: str
    name: str
    path: str
    document: Any  # the default version's document (parsed JSON)


@dataclass(frozen=True)
class LiveRole:
    name: str
    path: str
    arn: str
    trust: Any
    attached: tuple[str, ...]  # policy ARNs, sorted
    inline: tuple[tuple[str, Any], ...]  # (name, document), sorted by name
    boundary: str | None
    max_session_duration: int
    # GetRole's; the import writes them so that the first apply leaves them as they are (the audit ignores them).
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LiveGroup:
    name: str
    path: str
    attached: tuple[str, ...]
    inline: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class LiveUser:
    name: str
    path: str
    groups: tuple[str, ...]
    attached: tuple[str, ...]
    inline: tuple[tuple[str, Any], ...]
    boundary: str | None


@dataclass(frozen=True)
class CredentialRow:
    """One line of the IAM credential report (the root user is ``<root_account>``); values as AWS writes them."""

    user: str
    arn: str
    user_creation_time: str
    password_enabled: str
    password_last_used: str
    password_last_changed: str
    mfa_active: str
    access_key_1_active: str
    access_key_1_last_rotated: str
    access_key_1_last_used_date: str
    access_key_2_active: str
    access_key_2_last_rotated: str
    access_key_2_last_used_date: str


@dataclass(frozen=True)
class ServiceUse:
    namespace: str
    name: str
    last_authenticated: str | None  # ISO date-time, None when never used in the tracking period


@dataclass(frozen=True)
class ScpLevel:
    """One level of the account's path in the organization, root first: its kind, name and SCP names."""

    kind: str  # "root", "ou" or "account"
    id: str
    name: str
    policies: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    account_id: str
    endpoint: str
    roles: tuple[LiveRole, ...]
    groups: tuple[LiveGroup, ...]
    users: tuple[LiveUser, ...]
    policies: tuple[LivePolicy, ...]  # customer managed policies (scope Local)
    password_policy: dict[str, Any] | None  # None: the account has none (AWS defaults apply)
    credentials: tuple[CredentialRow, ...]
    scp_path: tuple[ScpLevel, ...] | None  # None: not in an organization, or not readable (see notes)
    service_use: tuple[tuple[str, tuple[ServiceUse, ...]], ...] | None  # per role ARN; None: unavailable
    notes: tuple[str, ...] = ()


def document(value: Any) -> Any:
    """A policy document as IAM returns it (URL-encoded JSON text, or already decoded by botocore) → JSON."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


class AwsClient:
    """A boto3 client whose errors become ToolErrors naming the call and the endpoint (AWS answers: AwsError)."""

    def __init__(self, client: Any, service: str) -> None:
        self.client = client
        self.service = service
        self.endpoint = client.meta.endpoint_url

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            raise AwsError(self.service, operation, self.endpoint, exc) from exc
        except ResponseParserError as exc:  # not an AWS answer at all (an emulator's HTML error page)
            raise AwsError(self.service, operation, self.endpoint, None, str(exc).splitlines()[0]) from exc
        except BotoCoreError as exc:
            raise ToolError(f"AWS call {self.service}:{_camel(operation)} to {self.endpoint} failed: {exc}") from exc

    def pages(self, operation: str, key: str, **kwargs: Any) -> list[Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[Any] = []
        try:
            for page in self.client.get_paginator(operation).paginate(**kwargs):
                items += page.get(key, [])
        except ClientError as exc:
            raise AwsError(self.service, operation, self.endpoint, exc) from exc
        except BotoCoreError as exc:
            raise ToolError(f"AWS call {self.service}:{_camel(operation)} to {self.endpoint} failed: {exc}") from exc
        return items


class AwsError(ToolError):
    """An AWS error answer to one call (or an answer no AWS service gives), with its error code and HTTP status."""

    def __init__(self, service: str, operation: str, endpoint: str, exc: Any, unparsable: str = "") -> None:
        response = exc.response if exc is not None else {"Error": {"Code": "InternalFailure", "Message": unparsable}}
        error = response.get("Error", {})
        self.code = str(error.get("Code", ""))
        self.status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        super().__init__(f"AWS call {service}:{_camel(operation)} to {endpoint} failed: {self.code or self.status} "
                         f"{error.get('Message', '')}".rstrip())

    @property
    def unsupported(self) -> bool:
        """The endpoint does not implement the API (an emulator), rather than refusing the call."""
        return self.code in _UNSUPPORTED_CODES or self.status in (500, 501)


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def make_session(profile: str | None = None, region: str | None = None) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(profile_name=profile, region_name=region or None)
    except BotoCoreError as exc:
        raise ToolError(f"cannot create an AWS session (profile {profile!r}): {exc}") from exc


def read_account(*, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None,
                 service_last_accessed: bool = True, session: Any = None, read_scps: bool = True) -> Snapshot:
    """Everything the audit compares, read from the account the credentials belong to (``session``: a boto3
    session to use instead of ``profile``; ``read_scps=False``: leave ``scp_path`` to the caller, e.g. the
    organization audit, which reads it with the management account's credentials)."""
    from botocore.config import Config

    session = session or make_session(profile, region)
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    region_name = session.region_name or region or "us-east-1"

    def client(service: str) -> AwsClient:
        return AwsClient(session.client(service, endpoint_url=endpoint_url, region_name=region_name, config=config),
                         service)

    iam, sts, orgs = client("iam"), client("sts"), client("organizations")
    notes: list[str] = []
    account_id = str(sts.call("get_caller_identity")["Account"])
    roles = _roles(iam)
    snapshot_service_use = None
    if service_last_accessed:
        snapshot_service_use = _service_use(iam, roles, notes)
    scp_path = _scp_path(orgs, account_id, notes) if read_scps else None
    return Snapshot(
        account_id=account_id, endpoint=iam.endpoint, roles=roles, groups=_groups(iam), users=_users(iam),
        policies=_policies(iam), password_policy=_password_policy(iam), credentials=_credential_report(iam),
        scp_path=scp_path, service_use=snapshot_service_use, notes=tuple(notes))


def _inline(iam: AwsClient, kind: str, name: str) -> tuple[tuple[str, Any], ...]:
    key = {"role": "RoleName", "group": "GroupName", "user": "UserName"}[kind]
    names = iam.pages(f"list_{kind}_policies", "PolicyNames", **{key: name})
    return tuple(sorted((n, document(iam.call(f"get_{kind}_policy", **{key: name, "PolicyName": n})["PolicyDocument"]))
                        for n in names))


def _attached(iam: AwsClient, kind: str, name: str) -> tuple[str, ...]:
    key = {"role": "RoleName", "group": "GroupName", "user": "UserName"}[kind]
    return tuple(sorted(p["PolicyArn"] for p in iam.pages(f"list_attached_{kind}_policies", "AttachedPolicies",
                                                          **{key: name})))


def _roles(iam: AwsClient) -> tuple[LiveRole, ...]:
    roles = []
    for listed in iam.pages("list_roles", "Roles"):
        name = listed["RoleName"]
        role = iam.call("get_role", RoleName=name)["Role"]  # list_roles omits the permissions boundary
        boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        roles.append(LiveRole(name, role["Path"], role["Arn"], document(role["AssumeRolePolicyDocument"]),
                              _attached(iam, "role", name), _inline(iam, "role", name), boundary,
                              int(role.get("MaxSessionDuration", 3600)), str(role.get("Description", "")),
                              tuple(sorted((str(t["Key"]), str(t.get("Value", ""))) for t in role.get("Tags", [])))))
    return tuple(sorted(roles, key=lambda r: r.name))


def _groups(iam: AwsClient) -> tuple[LiveGroup, ...]:
    return tuple(sorted((LiveGroup(g["GroupName"], g["Path"], _attached(iam, "group", g["GroupName"]),
                                   _inline(iam, "group", g["GroupName"])) for g in iam.pages("list_groups", "Groups")),
                        key=lambda g: g.name))


def _users(iam: AwsClient) -> tuple[LiveUser, ...]:
    users = []
    for listed in iam.pages("list_users", "Users"):
        name = listed["UserName"]
        groups = tuple(sorted(g["GroupName"] for g in iam.pages("list_groups_for_user", "Groups", UserName=name)))
        boundary = listed.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        users.append(LiveUser(name, listed["Path"], groups, _attached(iam, "user", name), _inline(iam, "user", name),
                              boundary))
    return tuple(sorted(users, key=lambda u: u.name))


def _policies(iam: AwsClient) -> tuple[LivePolicy, ...]:
    policies = []
    for listed in iam.pages("list_policies", "Policies", Scope="Local"):
        version = iam.call("get_policy_version", PolicyArn=listed["Arn"], VersionId=listed["DefaultVersionId"])
        policies.append(LivePolicy(listed["Arn"], listed["PolicyName"], listed["Path"],
                                   document(version["PolicyVersion"]["Document"])))
    return tuple(sorted(policies, key=lambda p: p.arn))


def _password_policy(iam: AwsClient) -> dict[str, Any] | None:
    try:
        return dict(iam.call("get_account_password_policy")["PasswordPolicy"])
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise


def _credential_report(iam: AwsClient) -> tuple[CredentialRow, ...]:
    for pause in _PAUSES:
        if iam.call("generate_credential_report").get("State") == "COMPLETE":
            break
        time.sleep(pause)
    content = iam.call("get_credential_report")["Content"]
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    fields = CredentialRow.__dataclass_fields__
    rows = [CredentialRow(**{k: (row.get(k) or "N/A") for k in fields}) for row in csv.DictReader(io.StringIO(text))]
    return tuple(sorted(rows, key=lambda r: r.user))


def _scp_path(orgs: AwsClient, account_id: str, notes: list[str]) -> tuple[ScpLevel, ...] | None:
    """Root → OUs → account with the SCP names attached at each level; None (and a note) outside an organization."""
    try:
        chain: list[tuple[str, str]] = [("ACCOUNT", account_id)]
        child = account_id
        while True:
            parents = orgs.call("list_parents", ChildId=child)["Parents"]
            if not parents:
                break
            parent = parents[0]
            chain.append((parent["Type"], parent["Id"]))
            if parent["Type"] == "ROOT":
                break
            child = parent["Id"]
        levels = []
        for kind, target in reversed(chain):
            if kind == "ORGANIZATIONAL_UNIT":
                name = orgs.call("describe_organizational_unit", OrganizationalUnitId=target)["OrganizationalUnit"]["Name"]
            else:
                name = target
            names = orgs.pages("list_policies_for_target", "Policies", TargetId=target,
                               Filter="SERVICE_CONTROL_POLICY")
            levels.append(ScpLevel({"ROOT": "root", "ORGANIZATIONAL_UNIT": "ou", "ACCOUNT": "account"}[kind],
                                   target, name, tuple(sorted(p["Name"] for p in names))))
        return tuple(levels)
    except AwsError as exc:
        if exc.code in ("AWSOrganizationsNotInUseException", "AccountNotFoundException", "ChildNotFoundException"):
            notes.append(f"account {account_id} is not in an organization ({exc.code}): SCPs were not compared")
            return None
        if exc.code == "AccessDeniedException":
            notes.append("organizations calls are denied (they work from the management account or a delegated "
                         "administrator): SCPs were not compared")
            return None
        if exc.unsupported:
            notes.append(f"the endpoint does not implement the organizations calls ({exc}): SCPs were not compared")
            return None
        raise


def _service_use(iam: AwsClient, roles: tuple[LiveRole, ...], notes: list[str]
                 ) -> tuple[tuple[str, tuple[ServiceUse, ...]], ...] | None:
    """Service last accessed data per role; None (and a note) when the endpoint does not implement it."""
    result = []
    for role in roles:
        if role.path.startswith(("/aws-service-role/", "/aws-reserved/")):
            continue
        try:
            job = iam.call("generate_service_last_accessed_details", Arn=role.arn)["JobId"]
            details = _poll(lambda: iam.call("get_service_last_accessed_details", JobId=job))
        except AwsError as exc:
            if exc.unsupported:
                notes.append("service last accessed data is not available from this endpoint "
                             f"({exc.code or exc.status}): unused-service suggestions were skipped")
                return None
            raise
        if details is None:
            notes.append(f"service last accessed job for {role.arn} did not complete: skipped")
            continue
        used = tuple(sorted((ServiceUse(s["ServiceNamespace"], s.get("ServiceName", s["ServiceNamespace"]),
                                        s["LastAuthenticated"].isoformat() if hasattr(s.get("LastAuthenticated"),
                                                                                     "isoformat")
                                        else s.get("LastAuthenticated"))
                             for s in details.get("ServicesLastAccessed", [])), key=lambda s: s.namespace))
        result.append((role.arn, used))
    return tuple(result)


def _poll(get: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    for pause in _PAUSES:
        details = get()
        if details.get("JobStatus") == "COMPLETED":
            return details
        if details.get("JobStatus") == "FAILED":
            return None
        time.sleep(pause)
    return None
