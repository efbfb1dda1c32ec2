"""Typed reader of ``policies/manifest.json`` (format ``guardrails-policies/1``, docs/policies-manifest.md).

Every reader of the emitted policy tree (evaluation, review, audit, pipeline) goes through :class:`Manifest`
instead of raw keys, so a missing or misspelt key is one clear :class:`ManifestError` ("regenerate with
`guardrails build`") instead of a KeyError deep inside an evaluation. Sections added after the first release
(``resource_policies``, ``identity_center``, ``permission_sets``) are optional: old manifests read them as empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.diagnostics import GuardrailsError

MANIFEST = "policies/manifest.json"
FORMAT = "guardrails-policies/1"
SUPPORTED_FORMATS = (FORMAT,)
_REGENERATE = "regenerate the output with `guardrails build`"


class ManifestError(GuardrailsError):
    """The manifest is missing, of an unknown format, or lacks a key this guardrails needs."""

    exit_code = 1


def _need(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(raw, Mapping) or key not in raw:
        raise ManifestError(f"{MANIFEST}: {where} has no {key!r}; the output was written by another guardrails "
                            f"version or edited by hand: {_REGENERATE}")
    return raw[key]


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ManifestError(f"{MANIFEST}: {where} must be a list of strings, got {value!r}: {_REGENERATE}")


def _list(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    value = _need(raw, key, where) if required else (raw.get(key) or [])
    if not isinstance(value, list):
        raise ManifestError(f"{MANIFEST}: {where}.{key} must be a list: {_REGENERATE}")
    return value


@dataclass(frozen=True)
class BreakGlass:
    account: str | None
    role: str | None


@dataclass(frozen=True)
class OrganizationInfo:
    name: str
    partition: str
    id: str
    root_id: str
    management_account: str | None
    home_region: str
    allowed_regions: tuple[str, ...]
    break_glass: BreakGlass
    deployment_principals: tuple[str, ...]


@dataclass(frozen=True)
class Unit:
    path: str  # "Workloads/Prod"
    parent: str  # "" for the root


@dataclass(frozen=True)
class AccountEntry:
    name: str
    id: str
    unit: str  # OU path, "" at the root
    management: bool
    class_key: str | None


@dataclass(frozen=True)
class OrgPolicyEntry:
    """An SCP (kind "scp") or RCP (kind "rcp") and where it is attached."""

    kind: str
    name: str
    target: str  # "root", "ou:<path>", "account:<name>"
    file: str
    guardrails: tuple[str, ...] = ()
    intended_denials: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManagedPolicyEntry:
    arn: str  # with ${account_id}
    name: str
    kind: str  # "managed" or "boundary"
    file: str


@dataclass(frozen=True)
class RoleEntry:
    name: str
    path: str
    trust: str  # file of the trust policy
    policies: tuple[str, ...]  # attached managed policy ARNs
    inline_policies: tuple[str, ...]  # files
    boundary: str | None
    max_session_duration: int


@dataclass(frozen=True)
class GroupEntry:
    name: str
    path: str
    policies: tuple[str, ...]


@dataclass(frozen=True)
class UserEntry:
    name: str
    path: str
    groups: tuple[str, ...]
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AccountClass:
    """What a baseline class deploys in each of its accounts."""

    key: str
    accounts: tuple[str, ...]
    managed_policies: tuple[ManagedPolicyEntry, ...]
    roles: tuple[RoleEntry, ...]
    groups: tuple[GroupEntry, ...]
    users: tuple[UserEntry, ...]

    def managed_policy(self, arn: str) -> ManagedPolicyEntry | None:
        return next((p for p in self.managed_policies if p.arn == arn), None)

    def role(self, name: str) -> RoleEntry | None:
        return next((r for r in self.roles if r.name == name), None)

    def group(self, name: str) -> GroupEntry | None:
        return next((g for g in self.groups if g.name == name), None)

    def user(self, name: str) -> UserEntry | None:
        return next((u for u in self.users if u.name == name), None)


EMPTY_CLASS = AccountClass("", (), (), (), (), ())


@dataclass(frozen=True)
class ResourcePolicyEntry:
    key: str  # "log-archive-bucket", ...
    kind: str  # "s3-bucket", "kms-key", "sns-topic", "sqs-queue"
    resource: str  # ARN (pattern) with ${account_id}/${region}
    file: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class IdentityCenter:
    instance_arn: str
    region: str
    admin_account: str | None


@dataclass(frozen=True)
class CustomerManagedRef:
    name: str
    path: str = "/"


@dataclass(frozen=True)
class PermissionSetBoundary:
    arn: str | None = None  # an AWS managed policy
    customer_managed: CustomerManagedRef | None = None


@dataclass(frozen=True)
class Assignment:
    group: str
    account: str


@dataclass(frozen=True)
class PermissionSetEntry:
    name: str
    file: str | None  # inline policy document
    managed_policies: tuple[str, ...]  # AWS managed ARNs
    customer_managed: tuple[CustomerManagedRef, ...]
    boundary: PermissionSetBoundary | None
    session_duration: str  # ISO 8601, "PT4H"
    session_seconds: int
    assignments: tuple[Assignment, ...]
    full_admin_accepted: str | None = None

    @property
    def accounts(self) -> tuple[str, ...]:
        """Account names the set is assigned in (sorted, once each)."""
        return tuple(sorted({a.account for a in self.assignments}))


@dataclass(frozen=True)
class Manifest:
    format: str
    organization: OrganizationInfo
    units: tuple[Unit, ...]
    accounts: tuple[AccountEntry, ...]
    service_control_policies: tuple[OrgPolicyEntry, ...]
    resource_control_policies: tuple[OrgPolicyEntry, ...]
    classes: tuple[AccountClass, ...]
    resource_policies: tuple[ResourcePolicyEntry, ...] = ()
    identity_center: IdentityCenter | None = None
    permission_sets: tuple[PermissionSetEntry, ...] = ()

    # -- reading ----------------------------------------------------------------------------------

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> Manifest:
        """The manifest of a policy tree given as {path under output/: text}."""
        if MANIFEST not in files:
            raise ManifestError(f"{MANIFEST} is missing: the output predates the policy manifest; {_REGENERATE}")
        return cls.from_json(files[MANIFEST])

    @classmethod
    def from_json(cls, raw: str | Mapping[str, Any]) -> Manifest:
        """Parse the manifest (its text or the decoded JSON object)."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{MANIFEST} is not JSON ({exc}): {_REGENERATE}") from exc
        if not isinstance(raw, Mapping):
            raise ManifestError(f"{MANIFEST} must hold a JSON object: {_REGENERATE}")
        if raw.get("format") not in SUPPORTED_FORMATS:
            raise ManifestError(f"{MANIFEST} has format {raw.get('format')!r}; this guardrails reads "
                                f"{', '.join(SUPPORTED_FORMATS)}: {_REGENERATE} (or use the matching guardrails)")
        return cls(
            format=str(raw["format"]),
            organization=_organization(_need(raw, "organization", "the manifest")),
            units=tuple(Unit(str(_need(u, "path", "a unit")), str(u.get("parent", "")))
                        for u in _list(raw, "units", "the manifest")),
            accounts=tuple(_account(a) for a in _list(raw, "accounts", "the manifest", required=True)),
            service_control_policies=tuple(_org_policy("scp", e) for e in
                                           _list(raw, "service_control_policies", "the manifest", required=True)),
            resource_control_policies=tuple(_org_policy("rcp", e)
                                            for e in _list(raw, "resource_control_policies", "the manifest")),
            classes=tuple(_class(key, value) for key, value in (raw.get("classes") or {}).items()),
            resource_policies=resource_policies_of(raw),
            identity_center=identity_center_of(raw),
            permission_sets=permission_sets_of(raw),
        )

    # -- lookups ----------------------------------------------------------------------------------

    def account(self, name: str) -> AccountEntry | None:
        return next((a for a in self.accounts if a.name == name), None)

    def account_by_id(self, account_id: str) -> AccountEntry | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def class_by_key(self, key: str | None) -> AccountClass:
        """The class of that key; :data:`EMPTY_CLASS` for None (an account no class deploys anything in)."""
        if key is None:
            return EMPTY_CLASS
        for cls in self.classes:
            if cls.key == key:
                return cls
        raise ManifestError(f"{MANIFEST}: class {key!r} is named by an account but not described under "
                            f"'classes': {_REGENERATE}")

    def class_of(self, account: AccountEntry | str) -> AccountClass:
        entry = self.account(account) if isinstance(account, str) else account
        return self.class_by_key(entry.class_key if entry else None)

    def org_policies(self, kind: str) -> tuple[OrgPolicyEntry, ...]:
        """SCPs (``"scp"``) or RCPs (``"rcp"``)."""
        return self.service_control_policies if kind == "scp" else self.resource_control_policies

    def permission_set(self, name: str) -> PermissionSetEntry | None:
        return next((p for p in self.permission_sets if p.name == name), None)


def resource_policies_of(raw: Mapping[str, Any]) -> tuple[ResourcePolicyEntry, ...]:
    """Only the ``resource_policies`` section of a decoded manifest (readers that need no other section)."""
    return tuple(_resource_policy(e) for e in _list(raw, "resource_policies", "the manifest"))


def permission_sets_of(raw: Mapping[str, Any]) -> tuple[PermissionSetEntry, ...]:
    """Only the ``permission_sets`` section of a decoded manifest."""
    return tuple(_permission_set(e) for e in _list(raw, "permission_sets", "the manifest"))


def identity_center_of(raw: Mapping[str, Any]) -> IdentityCenter | None:
    """Only the ``identity_center`` section of a decoded manifest (None without one)."""
    return _identity_center(raw.get("identity_center"))


def _organization(raw: Mapping[str, Any]) -> OrganizationInfo:
    where = "organization"
    glass = raw.get("break_glass") or {}
    return OrganizationInfo(
        name=str(raw.get("name", "")), partition=str(_need(raw, "partition", where)),
        id=str(_need(raw, "id", where)), root_id=str(raw.get("root_id", "")),
        management_account=raw.get("management_account"), home_region=str(_need(raw, "home_region", where)),
        allowed_regions=_strs(raw.get("allowed_regions"), f"{where}.allowed_regions"),
        break_glass=BreakGlass(glass.get("account"), glass.get("role")),
        deployment_principals=_strs(raw.get("deployment_principals"), f"{where}.deployment_principals"))


def _account(raw: Mapping[str, Any]) -> AccountEntry:
    name = str(_need(raw, "name", "an account"))
    where = f"account {name}"
    return AccountEntry(name, str(_need(raw, "id", where)), str(raw.get("unit") or ""), bool(raw.get("management")),
                        raw.get("class"))


def _org_policy(kind: str, raw: Mapping[str, Any]) -> OrgPolicyEntry:
    name = str(_need(raw, "name", f"an {kind.upper()}"))
    where = f"{kind.upper()} {name}"
    return OrgPolicyEntry(kind, name, str(_need(raw, "target", where)), str(_need(raw, "file", where)),
                          _strs(raw.get("guardrails"), f"{where}.guardrails"),
                          _strs(raw.get("intended_denials"), f"{where}.intended_denials"))


def _class(key: str, raw: Mapping[str, Any]) -> AccountClass:
    where = f"class {key}"
    managed = tuple(ManagedPolicyEntry(arn, str(_need(e, "name", f"{where} policy {arn}")),
                                       str(e.get("kind", "managed")),
                                       str(_need(e, "file", f"{where} policy {arn}")))
                    for arn, e in (raw.get("managed_policies") or {}).items())
    roles = []
    for r in _list(raw, "roles", where):
        name = str(_need(r, "name", f"a role of {where}"))
        rw = f"role {name} of {where}"
        roles.append(RoleEntry(name, str(r.get("path", "/")), str(_need(r, "trust", rw)),
                               _strs(r.get("policies"), f"{rw}.policies"),
                               _strs(r.get("inline_policies"), f"{rw}.inline_policies"),
                               r.get("boundary"), int(r.get("max_session_duration") or 3600)))
    groups = tuple(GroupEntry(str(_need(g, "name", f"a group of {where}")), str(g.get("path", "/")),
                              _strs(g.get("policies"), f"{where} group policies"))
                   for g in _list(raw, "groups", where))
    users = tuple(UserEntry(str(_need(u, "name", f"a user of {where}")), str(u.get("path", "/")),
                            _strs(u.get("groups"), f"{where} user groups"),
                            tuple(sorted((str(k), str(v)) for k, v in (u.get("tags") or {}).items())))
                  for u in _list(raw, "users", where))
    return AccountClass(key, _strs(raw.get("accounts"), f"{where}.accounts"), managed, tuple(roles), groups, users)


def _resource_policy(raw: Mapping[str, Any]) -> ResourcePolicyEntry:
    key = str(_need(raw, "key", "a resource policy"))
    where = f"resource policy {key}"
    return ResourcePolicyEntry(key, str(_need(raw, "kind", where)), str(_need(raw, "resource", where)),
                               str(_need(raw, "file", where)), _strs(raw.get("accounts"), f"{where}.accounts"),
                               _strs(raw.get("regions"), f"{where}.regions"), str(raw.get("description") or ""))


def _identity_center(raw: Mapping[str, Any] | None) -> IdentityCenter | None:
    if not raw:
        return None
    return IdentityCenter(str(raw.get("instance_arn") or ""), str(_need(raw, "region", "identity_center")),
                          raw.get("admin_account"))


def _customer_managed(raw: Mapping[str, Any], where: str) -> CustomerManagedRef:
    return CustomerManagedRef(str(_need(raw, "name", where)), str(raw.get("path") or "/"))


def _permission_set(raw: Mapping[str, Any]) -> PermissionSetEntry:
    name = str(_need(raw, "name", "a permission set"))
    where = f"permission set {name}"
    boundary_raw = raw.get("boundary")
    boundary = None
    if boundary_raw:
        if not isinstance(boundary_raw, Mapping):
            raise ManifestError(f"{MANIFEST}: {where}.boundary must be an object: {_REGENERATE}")
        cm = boundary_raw.get("customer_managed")
        # The writer says "arn" for an AWS managed boundary; "managed" is read too (the first drafts' spelling).
        boundary = PermissionSetBoundary(boundary_raw.get("arn") or boundary_raw.get("managed"),
                                         _customer_managed(cm, f"{where}.boundary") if cm else None)
    return PermissionSetEntry(
        name=name, file=raw.get("file"),
        managed_policies=_strs(raw.get("managed_policies"), f"{where}.managed_policies"),
        customer_managed=tuple(_customer_managed(c, f"{where}.customer_managed")
                               for c in _list(raw, "customer_managed", where)),
        boundary=boundary, session_duration=str(raw.get("session_duration") or "PT1H"),
        session_seconds=int(raw.get("session_seconds") or 3600),
        assignments=tuple(Assignment(str(_need(a, "group", f"{where} assignment")),
                                     str(_need(a, "account", f"{where} assignment")))
                          for a in _list(raw, "assignments", where)),
        full_admin_accepted=raw.get("full_admin_accepted"))
