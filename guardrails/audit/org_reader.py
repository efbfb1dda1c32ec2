"""Read-only calls of the organization audit, made with the management (or delegated administrator) account's
credentials: the member accounts, where each sits (root → OUs → account) with the SCPs and RCPs attached at every
level, and the temporary credentials of the audit role in each account (sts:AssumeRole).

Organizations answers these only in the management account or a delegated administrator
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html). Every call is listed in
docs/audit.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrails.audit.reader import AwsClient, AwsError, ScpLevel  # one error translation for every audit call
from guardrails.diagnostics import ToolError

# The policies AWS attaches by itself to every root, OU and account; never in a blueprint.
AWS_DEFAULT_POLICIES = frozenset({"FullAWSAccess", "RCPFullAWSAccess"})
_KINDS = {"ROOT": "root", "ORGANIZATIONAL_UNIT": "ou", "ACCOUNT": "account"}


@dataclass(frozen=True)
class LiveAccount:
    id: str
    name: str
    email: str
    status: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE


@dataclass(frozen=True)
class LivePath:
    """One account's place in the organization, root first: SCP levels as the single-account audit reads them,
    and the RCP names at the same levels (None: RCPs could not be read, see the organization's notes)."""

    scps: tuple[ScpLevel, ...]
    rcps: tuple[tuple[str, ...], ...] | None

    @property
    def targets(self) -> tuple[str, ...]:
        """The levels as the manifest names its targets: ``root``, ``ou:A``, ``ou:A/B``, ``account:<id>``."""
        out, units = [], []
        for level in self.scps:
            if level.kind == "ou":
                units.append(level.name)
                out.append("ou:" + "/".join(units))
            else:
                out.append(level.kind if level.kind == "root" else f"account:{level.id}")
        return tuple(out)


@dataclass(frozen=True)
class LiveOrganization:
    id: str
    management_account_id: str
    caller_account_id: str
    accounts: tuple[LiveAccount, ...]


class OrganizationReader:
    """The management session's Organizations and STS clients, with every parent, OU name and attachment read once
    (accounts share their OUs). Used from one thread: boto3 clients are shared, sessions are not thread safe."""

    def __init__(self, session: Any, endpoint_url: str | None, region: str, config: Any) -> None:
        self._orgs = AwsClient(session.client("organizations", endpoint_url=endpoint_url, region_name=region,
                                              config=config), "organizations")
        self._sts = AwsClient(session.client("sts", endpoint_url=endpoint_url, region_name=region, config=config),
                              "sts")
        self.endpoint = self._orgs.endpoint
        self._parents: dict[str, tuple[str, str] | None] = {}
        self._names: dict[str, str] = {}
        self._attached: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self.notes: list[str] = []

    def organization(self) -> LiveOrganization:
        caller = str(self._sts.call("get_caller_identity")["Account"])
        try:
            described = self._orgs.call("describe_organization")["Organization"]
        except AwsError as exc:
            if exc.code == "AWSOrganizationsNotInUseException":
                raise ToolError(f"account {caller} is in no organization: --organization needs the credentials of "
                                "the management account or of a delegated administrator") from exc
            raise
        accounts = tuple(sorted((LiveAccount(str(a["Id"]), str(a.get("Name", "")), str(a.get("Email", "")),
                                             str(a.get("Status", "ACTIVE")))
                                 for a in self._orgs.pages("list_accounts", "Accounts")), key=lambda a: a.id))
        return LiveOrganization(str(described["Id"]), str(described["MasterAccountId"]), caller, accounts)

    def path(self, account_id: str) -> LivePath:
        chain: list[tuple[str, str]] = [("ACCOUNT", account_id)]
        while chain[-1][0] != "ROOT":
            parent = self._parent(chain[-1][1])
            if parent is None:
                break
            chain.append(parent)
        chain.reverse()
        scps, rcps = [], []
        for kind, target in chain:
            name = self._unit_name(target) if kind == "ORGANIZATIONAL_UNIT" else target
            scps.append(ScpLevel(_KINDS[kind], target, name, self._policies(target, "SERVICE_CONTROL_POLICY") or ()))
            rcps.append(self._policies(target, "RESOURCE_CONTROL_POLICY"))
        rcp_levels = None if any(r is None for r in rcps) else tuple(r or () for r in rcps)
        return LivePath(tuple(scps), rcp_levels)

    def assume(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Temporary credentials of ``role_arn`` (sts:AssumeRole), as boto3 session keyword arguments."""
        credentials = self._sts.call("assume_role", RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {"aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"]}

    def _parent(self, child: str) -> tuple[str, str] | None:
        if child not in self._parents:
            parents = self._orgs.call("list_parents", ChildId=child)["Parents"]
            self._parents[child] = (str(parents[0]["Type"]), str(parents[0]["Id"])) if parents else None
        return self._parents[child]

    def _unit_name(self, unit: str) -> str:
        if unit not in self._names:
            self._names[unit] = str(self._orgs.call("describe_organizational_unit", OrganizationalUnitId=unit)
                                    ["OrganizationalUnit"]["Name"])
        return self._names[unit]

    def _policies(self, target: str, kind: str) -> tuple[str, ...] | None:
        """Names of the policies of one type attached to ``target``; None (and one note) when the type cannot be
        read: RCPs not enabled, or an endpoint that does not implement them."""
        key = (target, kind)
        if key not in self._attached:
            try:
                listed = self._orgs.pages("list_policies_for_target", "Policies", TargetId=target, Filter=kind)
                self._attached[key] = tuple(sorted(str(p["Name"]) for p in listed))
            except AwsError as exc:
                if kind == "SERVICE_CONTROL_POLICY" or not (exc.unsupported or exc.code in (
                        "PolicyTypeNotEnabledException", "InvalidInputException")):
                    raise
                note = f"RCPs could not be read ({exc.code or exc.status}): RCPs were not compared"
                if note not in self.notes:
                    self.notes.append(note)
                self._attached[key] = None
        return self._attached[key]
