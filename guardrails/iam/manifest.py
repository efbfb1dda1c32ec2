"""Typed reader of ``policies/manifest.json`` (format ``guardrails-policies/1``, docs/policies-manifest.md).

Every reader of the emitted tree (evaluation, lockout proof, review, audit) goes through :class:`Manifest` instead
of raw keys, so a missing or malformed key is one :class:`ManifestError` naming it (``classes.audit.roles``) and
saying to regenerate the output, instead of a KeyError or TypeError deep inside an evaluation. Every key the
emitter writes is required, except: the sections added after the first release (``resource_control_policies``,
``resource_policies``, ``identity_center``, ``permission_sets``: older trees read as having none), an org policy's
``intended_denials`` (written only when set), and the organization's ``break_glass`` and
``deployment_principals`` (absent from hand-written trees; the lockout proof asks for them when it needs them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from guardrails.diagnostics import GuardrailsError
from guardrails.iam.arns import policy_arn

MANIFEST = "policies/manifest.json"
FORMAT = "guardrails-policies/1"
SUPPORTED_FORMATS = (FORMAT,)
ACCOUNT_PLACEHOLDER = "${account_id}"  # class documents and ARNs keep it; substituted per account
REGENERATE = ("the tree was written by another guardrails version or edited by hand: regenerate it with "
              "`guardrails build`")
REQUIRED: Any = object()  # the default of a getter whose key must be there

T = TypeVar("T")


class ManifestError(GuardrailsError):
    """The policy tree's manifest is missing, of an unknown format, or lacks a key (or holds a malformed one)."""

    exit_code = 1

    @classmethod
    def missing(cls, key: str, file: str = MANIFEST) -> ManifestError:
        return cls(f"{file}: {key} is missing; {REGENERATE}")

    @classmethod
    def malformed(cls, key: str, expected: str, value: Any, file: str = MANIFEST) -> ManifestError:
        try:
            shown = json.dumps(value)
        except (TypeError, ValueError):
            shown = repr(value)
        return cls(f"{file}: {key} must be {expected}, not {shown[:80]}; {REGENERATE}")


def decoded(raw: str | Mapping[str, Any], file: str = MANIFEST) -> Any:
    """The JSON value of a file's text (a decoded value is returned as it is)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{file} is not JSON ({exc}); {REGENERATE}") from exc


class JsonObject:
    """One JSON object of the file and its key path, for the messages (``""`` for the file's top level)."""

    def __init__(self, raw: Any, where: str, file: str = MANIFEST) -> None:
        if not isinstance(raw, Mapping):
            raise ManifestError.malformed(where or "the file", "an object", raw, file)
        self.raw, self.where, self.file = raw, where, file

    def key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: Any = REQUIRED) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is REQUIRED:
            raise ManifestError.missing(self.key(key), self.file)
        return default

    def _typed(self, key: str, kinds: tuple[type, ...], expected: str, default: Any, null: bool) -> Any:
        value = self.get(key, default)
        if key not in self.raw or (value is None and null):
            return value
        # bool is an int in Python, never in the file.
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ManifestError.malformed(self.key(key), expected + (" or null" if null else ""), value, self.file)
        return value

    def text(self, key: str, *, null: bool = False, default: Any = REQUIRED) -> Any:
        """A string (or None when ``null`` allows it)."""
        return self._typed(key, (str,), "a string", default, null)

    def flag(self, key: str) -> bool:
        return bool(self._typed(key, (bool,), "true or false", REQUIRED, False))

    def number(self, key: str) -> int:
        return int(self._typed(key, (int,), "a whole number", REQUIRED, False))

    def texts(self, key: str, *, default: Any = REQUIRED) -> tuple[str, ...]:
        """A list of strings."""
        value = self._typed(key, (list,), "a list of strings", default, False)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ManifestError.malformed(f"{self.key(key)}[{index}]", "a string", item, self.file)
        return tuple(value)

    def objects(self, key: str, read: Callable[[JsonObject], T], *, default: Any = REQUIRED) -> tuple[T, ...]:
        """A list of objects, each read by ``read``."""
        value = self._typed(key, (list,), "a list", default, False)
        return tuple(read(JsonObject(item, f"{self.key(key)}[{i}]", self.file)) for i, item in enumerate(value))

    def keyed(self, key: str) -> dict[str, JsonObject]:
        """An object of objects (``classes`` by class key, ``managed_policies`` by ARN)."""
        value = self._typed(key, (Mapping,), "an object", REQUIRED, False)
        return {str(k): JsonObject(v, f"{self.key(key)}.{k}", self.file) for k, v in value.items()}

    def section(self, key: str) -> JsonObject:
        """An object that must be there."""
        return JsonObject(self._typed(key, (Mapping,), "an object", REQUIRED, False), self.key(key), self.file)

    def object(self, key: str, *, null: bool = False, default: Any = REQUIRED) -> JsonObject | None:
        """An object; None when it is null (``null``) or absent (a ``default`` given)."""
        value = self._typed(key, (Mapping,), "an object", default, null)
        return None if key not in self.raw or value is None else JsonObject(value, self.key(key), self.file)


# ============================================================================= the manifest's entries


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
    break_glass: BreakGlass = BreakGlass(None, None)
    deployment_principals: tuple[str, ...] = ()  # role name patterns
    # Not written by guardrails; a hand-made tree may name the roles the lockout proof should treat as deployers.
    deployment_role: str | None = None
    management_deployment_role: str | None = None


@dataclass(frozen=True)
class Unit:
    path: str  # "Workloads/Prod"
    parent: str  # "" for the root


@dataclass(frozen=True)
class AccountEntry:
    """An account as the tree names it (the evaluator's ``Account``)."""

    name: str
    id: str
    unit: str  # OU path, "" at the root
    management: bool
    class_key: str | None  # the manifest's "class"


@dataclass(frozen=True)
class OrgPolicyEntry:
    """An SCP (kind "scp") or RCP (kind "rcp") and where it is attached."""

    kind: str
    name: str
    target: str  # "root", "ou:<path>", "account:<name>"
    file: str
    guardrails: tuple[str, ...] = ()  # catalog ids packed into it; empty for the blueprint's own
    intended_denials: tuple[str, ...] = ()  # Sids that deny break-glass by design


@dataclass(frozen=True)
class ManagedPolicyEntry:
    arn: str  # with ${account_id}
    name: str
    kind: str  # "managed" or "boundary"
    file: str
    logical_name: str = ""  # its name in the code: module.baseline.aws_iam_policy.NAME; CloudFormation's from it
    moved_from: tuple[str, ...] = ()  # former logical names (blueprint moved_from), oldest first

    @property
    def path(self) -> str:
        """The IAM path the ARN carries: ``/guardrails/`` for ``…:policy/guardrails/NAME``, ``/`` without one."""
        head = self.arn.split(":policy/", 1)[-1].rpartition("/")[0]
        return f"/{head}/" if head else "/"


@dataclass(frozen=True)
class RoleEntry:
    name: str
    path: str
    trust: str  # file of the trust policy
    policies: tuple[str, ...]  # attached managed policy ARNs
    inline_policies: tuple[str, ...]  # files
    boundary: str | None  # ARN
    max_session_duration: int
    logical_name: str = ""  # module.baseline.aws_iam_role.NAME; "" in trees written before the manifest had it
    moved_from: tuple[str, ...] = ()  # former logical names (blueprint moved_from), oldest first
    tags: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs: its sessions' aws:PrincipalTag values


@dataclass(frozen=True)
class GroupEntry:
    name: str
    path: str
    policies: tuple[str, ...]
    logical_name: str = ""  # module.baseline.aws_iam_group.NAME
    moved_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserEntry:
    name: str
    path: str
    groups: tuple[str, ...]  # group names
    tags: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs
    logical_name: str = ""  # module.baseline.aws_iam_user.NAME
    moved_from: tuple[str, ...] = ()

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


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
        """A customer managed policy of the class by ARN (as the manifest writes it, with ``${account_id}``)."""
        return self._by_name.get(("managed", arn))

    def customer_managed(self, partition: str, path: str, name: str) -> ManagedPolicyEntry | None:
        """The policy a customer managed reference (name and path) finds in the class's accounts: Identity Center
        looks it up by both (https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetcustom.html)."""
        return self.managed_policy(policy_arn(partition, ACCOUNT_PLACEHOLDER, path, name))

    def role(self, name: str) -> RoleEntry | None:
        return self._by_name.get(("role", name))

    def group(self, name: str) -> GroupEntry | None:
        return self._by_name.get(("group", name))

    def user(self, name: str) -> UserEntry | None:
        return self._by_name.get(("user", name))

    @cached_property
    def _by_name(self) -> dict[tuple[str, str], Any]:
        """(kind, ARN or name) → the first entry of that kind with it: the evaluator asks a class for its roles and
        policies thousands of times (a scan of ~50 entries each). Not a field: a frozen class's equality, hash and
        repr ignore it."""
        index: dict[tuple[str, str], Any] = {}
        for kind, entries in (("managed", self.managed_policies), ("role", self.roles), ("group", self.groups),
                              ("user", self.users)):
            for entry in entries:
                index.setdefault((kind, entry.arn if kind == "managed" else entry.name), entry)
        return index


EMPTY_CLASS = AccountClass("", (), (), (), (), ())  # an account no class deploys anything in


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
    admin_account: str


@dataclass(frozen=True)
class CustomerManagedRef:
    name: str
    path: str = "/"


@dataclass(frozen=True)
class PermissionSetBoundary:
    """``{"arn": …}`` (an AWS managed policy) or ``{"customer_managed": {"name", "path"}}``."""

    arn: str | None = None
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
            raise ManifestError(f"{MANIFEST} is missing: the output predates the policy manifest; regenerate it "
                                "with `guardrails build`")
        return cls.from_json(files[MANIFEST])

    @classmethod
    def from_json(cls, raw: str | Mapping[str, Any]) -> Manifest:
        """Parse the manifest (its text or the decoded JSON object)."""
        top = JsonObject(decoded(raw, MANIFEST), "")
        found = top.get("format")
        if found not in SUPPORTED_FORMATS:
            raise ManifestError(f"{MANIFEST}: format is {json.dumps(found)}, this guardrails reads "
                                f"{', '.join(SUPPORTED_FORMATS)}; regenerate the tree with `guardrails build` (or "
                                "read it with the guardrails version that wrote it)")
        center = top.object("identity_center", null=True, default=None)
        manifest = cls(
            format=str(found), organization=_organization(top.section("organization")),
            units=top.objects("units", lambda u: Unit(u.text("path"), u.text("parent"))),
            accounts=top.objects("accounts", _account),
            service_control_policies=top.objects("service_control_policies", lambda e: _org_policy("scp", e)),
            resource_control_policies=top.objects("resource_control_policies", lambda e: _org_policy("rcp", e),
                                                  default=[]),
            classes=tuple(_class(key, at) for key, at in top.keyed("classes").items()),
            resource_policies=top.objects("resource_policies", _resource_policy, default=[]),
            identity_center=IdentityCenter(center.text("instance_arn"), center.text("region"),
                                           center.text("admin_account")) if center else None,
            permission_sets=top.objects("permission_sets", _permission_set, default=[]))
        known = {c.key for c in manifest.classes}
        for index, account in enumerate(manifest.accounts):
            if account.class_key is not None and account.class_key not in known:
                raise ManifestError(f"{MANIFEST}: accounts[{index}].class names class {account.class_key!r}, which "
                                    f"classes does not describe; {REGENERATE}")
        return manifest

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
        raise ManifestError(f"{MANIFEST}: classes.{key} is missing (an account names that class); {REGENERATE}")

    def class_of(self, account: AccountEntry | str) -> AccountClass:
        entry = self.account(account) if isinstance(account, str) else account
        return self.class_by_key(entry.class_key if entry else None)

    def org_policies(self, kind: str) -> tuple[OrgPolicyEntry, ...]:
        """SCPs (``"scp"``) or RCPs (``"rcp"``)."""
        return self.service_control_policies if kind == "scp" else self.resource_control_policies

    def permission_set(self, name: str) -> PermissionSetEntry | None:
        return next((p for p in self.permission_sets if p.name == name), None)


def _organization(at: JsonObject) -> OrganizationInfo:
    glass = at.object("break_glass", null=True, default=None)
    return OrganizationInfo(
        name=at.text("name"), partition=at.text("partition"), id=at.text("id"), root_id=at.text("root_id"),
        management_account=at.text("management_account", null=True), home_region=at.text("home_region"),
        allowed_regions=at.texts("allowed_regions"),
        break_glass=BreakGlass(glass.text("account", null=True), glass.text("role", null=True)) if glass
        else BreakGlass(None, None),
        deployment_principals=at.texts("deployment_principals", default=[]),
        deployment_role=at.text("deployment_role", null=True, default=None),
        management_deployment_role=at.text("management_deployment_role", null=True, default=None))


def _account(at: JsonObject) -> AccountEntry:
    return AccountEntry(at.text("name"), at.text("id"), at.text("unit"), at.flag("management"),
                        at.text("class", null=True))


def _org_policy(kind: str, at: JsonObject) -> OrgPolicyEntry:
    return OrgPolicyEntry(kind, at.text("name"), at.text("target"), at.text("file"), at.texts("guardrails"),
                          at.texts("intended_denials", default=[]))


def _class(key: str, at: JsonObject) -> AccountClass:
    managed = tuple(ManagedPolicyEntry(arn, e.text("name"), e.text("kind"), e.text("file"),
                                       e.text("logical_name", default=""), e.texts("moved_from", default=[]))
                    for arn, e in at.keyed("managed_policies").items())
    roles = at.objects("roles", lambda r: RoleEntry(
        r.text("name"), r.text("path"), r.text("trust"), r.texts("policies"), r.texts("inline_policies"),
        r.text("boundary", null=True), r.number("max_session_duration"),
        r.text("logical_name", default=""), r.texts("moved_from", default=[]), _tags(r)))
    groups = at.objects("groups", lambda g: GroupEntry(g.text("name"), g.text("path"), g.texts("policies"),
                                                       g.text("logical_name", default=""),
                                                       g.texts("moved_from", default=[])))
    users = at.objects("users", _user)
    return AccountClass(key, at.texts("accounts"), managed, roles, groups, users)


def _tags(at: JsonObject) -> tuple[tuple[str, str], ...]:
    """A role's tags, sorted (absent in trees written before roles had them, and for roles without tags)."""
    tags = at.object("tags", default=None)
    return tuple(sorted((k, tags.text(k)) for k in tags.raw)) if tags is not None else ()


def _user(at: JsonObject) -> UserEntry:
    tags = at.section("tags")
    return UserEntry(at.text("name"), at.text("path"), at.texts("groups"),
                     tuple(sorted((k, tags.text(k)) for k in tags.raw)), at.text("logical_name", default=""),
                     at.texts("moved_from", default=[]))


def _resource_policy(at: JsonObject) -> ResourcePolicyEntry:
    return ResourcePolicyEntry(at.text("key"), at.text("kind"), at.text("resource"), at.text("file"),
                               at.texts("accounts"), at.texts("regions"), at.text("description"))


def _customer_managed(at: JsonObject) -> CustomerManagedRef:
    return CustomerManagedRef(at.text("name"), at.text("path"))


def _permission_set(at: JsonObject) -> PermissionSetEntry:
    bound = at.object("boundary", null=True)
    boundary = None
    if bound is not None:
        ref = bound.object("customer_managed", default=None)
        # "managed" was the first drafts' spelling of "arn".
        boundary = PermissionSetBoundary(bound.text("arn", default=None) or bound.text("managed", default=None),
                                         _customer_managed(ref) if ref else None)
        if (boundary.arn is None) == (boundary.customer_managed is None):
            raise ManifestError.malformed(bound.where, 'one of {"arn": …} or {"customer_managed": …}', bound.raw)
    return PermissionSetEntry(
        name=at.text("name"), file=at.text("file", null=True), managed_policies=at.texts("managed_policies"),
        customer_managed=at.objects("customer_managed", _customer_managed), boundary=boundary,
        session_duration=at.text("session_duration"), session_seconds=at.number("session_seconds"),
        assignments=at.objects("assignments", lambda a: Assignment(a.text("group"), a.text("account"))),
        full_admin_accepted=at.text("full_admin_accepted", null=True))
