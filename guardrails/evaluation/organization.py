"""The organization as the evaluator sees it: accounts, OUs, attached policies, principals.

Built from the emitted policy tree (``policies/manifest.json`` and the documents next to it), so the same
code answers questions about a fresh compilation, the committed ``output/`` of any git revision, or a
directory on disk. This module turns "role BreakGlass in app-prod calls ec2:RunInstances" into the
:class:`~guardrails.evaluation.engine.Request` and :class:`~guardrails.evaluation.engine.PolicySet` the
engine needs, filling the request context the way AWS does (aws:PrincipalArn, aws:PrincipalAccount,
aws:PrincipalOrgID, aws:username, aws:PrincipalType, aws:RequestedRegion, aws:CurrentTime …). Identity Center
sessions (``permission-set/NAME``) are resolved by ``guardrails.evaluation.permission_sets``, the resource-based
policies of the plan (bucket, key, topic policies) by ``guardrails.evaluation.resources``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

from guardrails.evaluation import attachments, external, permission_sets, root_sessions
from guardrails.evaluation import prepare as preparing
from guardrails.evaluation.attachments import Levels
from guardrails.evaluation.context import Context, Origin, request_context
from guardrails.evaluation.context import us_east_1_services as us_east_1_services  # re-exported: tests use it
from guardrails.evaluation.engine import Caller, Decision, Policy, PolicySet, Request, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.permission_sets import SESSION_NAME
from guardrails.evaluation.resources import Placement, placements
from guardrails.iam.arns import arn, oidc_provider_arn, role_arn, root_arn, user_arn
from guardrails.iam.manifest import (
    MANIFEST,
    AccountClass,
    AccountEntry,
    GroupEntry,
    IdentityCenter,
    Manifest,
    PermissionSetEntry,
    ResourcePolicyEntry,
    RoleEntry,
    UserEntry,
)
from guardrails.iam.organization import policy_targets

PrincipalKind = Literal["role", "user", "group", "root", "federated", "service", "permission-set", "root-session",
                        "external"]
_KINDS = ("role", "user", "group", "federated", "service", permission_sets.PRINCIPAL, root_sessions.PRINCIPAL)
PRINCIPAL_FORMS = ("role/NAME, user/NAME, group/NAME, root, root-session/TASK, federated/PROVIDER, service/PRINCIPAL, "
                   f"permission-set/NAME or {external.FORM}")
Account = AccountEntry  # an account of the tree (name, id, unit, management, class_key)
_Entry = TypeVar("_Entry", RoleEntry, UserEntry, GroupEntry)
_Value = TypeVar("_Value")
_TRANSIENT_MAX = 1 << 14


@dataclass(frozen=True)
class PrincipalSpec:
    """Who makes the request: a role, a user, a (hypothetical) member of a group, the root user, a web or
    SAML identity from a provider, an AWS service principal, an Identity Center session of a permission set, an
    sts:AssumeRoot session (``root-session/TASK``) or a principal of an account outside the organization."""

    kind: PrincipalKind
    # role/user/group/permission set name; provider host or ARN (federated); service principal; root task policy;
    # ``123456789012/role/Name`` (external)
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "external":
            return f"{external.PREFIX}{self.name}"
        return self.kind if self.kind == "root" else f"{self.kind}/{self.name}"


@lru_cache(maxsize=1024)
def parse_principal(text: str) -> PrincipalSpec:
    """``role/NAME``, ``user/NAME``, ``group/NAME``, ``root``, ``root-session/TASK``, ``federated/PROVIDER``,
    ``service/PRINCIPAL``, ``permission-set/NAME``, ``external:ACCOUNT/role/NAME`` (``/user/NAME``, ``/root``)."""
    text = text.strip()
    if text == "root":
        return PrincipalSpec("root")
    if text.startswith(external.PREFIX):
        name = text.removeprefix(external.PREFIX)
        external.parse(name)  # the form is checked here; membership of the account when it is evaluated
        return PrincipalSpec("external", name)
    kind, sep, name = text.partition("/")
    if not sep or not name or kind not in _KINDS:
        raise EvaluationError(f"principal {text!r} is not one of {PRINCIPAL_FORMS} (e.g. role/BreakGlass)")
    if kind == root_sessions.PRINCIPAL and name not in root_sessions.task_names():
        raise EvaluationError(f"unknown root task policy {name!r}: root-session/TASK names one of "
                              f"{', '.join(root_sessions.task_names())}")
    return PrincipalSpec(kind, name)  # type: ignore[arg-type]


@dataclass
class Organization:
    """The emitted policy tree, indexed for evaluation. ``files`` maps paths under output/ to their text;
    ``manifest`` is its typed manifest (a malformed one raises :class:`~guardrails.iam.manifest.ManifestError`)."""

    files: Mapping[str, str]
    # The files' manifest when the caller holds it already (the escalation analysis's, with the roles it adds).
    # Keyword-only: subclasses add positional fields (review.sources.SourcedOrganization's label and notes).
    parsed: InitVar[Manifest | None] = field(default=None, kw_only=True)
    manifest: Manifest = field(init=False, repr=False)
    # Parsed documents by (file, account id, region): every request of every test reads the same few documents.
    _parsed: dict[tuple[str, str, str], dict[str, Any]] = field(init=False, default_factory=dict, repr=False)
    # SCPs and RCPs by kind, then target: every request reads its account's path of them.
    _org_policies: dict[str, dict[str, tuple[Policy, ...]]] = field(init=False, default_factory=dict, repr=False)
    # What every request of one principal in one account repeats (caller, policies, SCP path, context defaults):
    # a test runs the same principal against many actions, the review every principal against every account.
    _memo: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict, repr=False)
    _transient: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self, parsed: Manifest | None) -> None:
        self.manifest = parsed if parsed is not None else Manifest.from_files(self.files)

    @classmethod
    def from_directory(cls, output_dir: Path) -> Organization:
        """Read ``policies/`` of an output directory."""
        root = output_dir / "policies"
        if not root.is_dir():
            raise EvaluationError(f"{root} does not exist: run `guardrails build` first")
        files = {path.relative_to(output_dir).as_posix(): path.read_text(encoding="utf-8")
                 for path in sorted(root.rglob("*.json"))}
        return cls(files)

    # -- structure ------------------------------------------------------------------------------

    @property
    def partition(self) -> str:
        return self.manifest.organization.partition

    @property
    def org_id(self) -> str:
        return self.manifest.organization.id

    @property
    def home_region(self) -> str:
        return self.manifest.organization.home_region

    @property
    def manifest_name(self) -> str:
        return MANIFEST

    @cached_property
    def permission_sets(self) -> dict[str, PermissionSetEntry]:
        """Identity Center permission sets by name (none in output older than that manifest section)."""
        return {entry.name: entry for entry in self.manifest.permission_sets}

    @property
    def identity_center(self) -> IdentityCenter | None:
        return self.manifest.identity_center

    @property
    def resource_policies(self) -> tuple[ResourcePolicyEntry, ...]:
        return self.manifest.resource_policies

    @cached_property
    def resource_placements(self) -> tuple[Placement, ...]:
        """Every resource policy in every account and region it is deployed in."""
        return placements(self)

    @cached_property
    def accounts(self) -> dict[str, Account]:
        return {a.name: a for a in self.manifest.accounts}

    def account(self, name_or_id: str) -> Account:
        """An account by name or id; a clear error naming the known ones otherwise."""
        if name_or_id in self.accounts:
            return self.accounts[name_or_id]
        for account in self.accounts.values():
            if account.id == name_or_id:
                return account
        raise EvaluationError(f"unknown account {name_or_id!r}; the organization has "
                              + ", ".join(sorted(self.accounts)))

    def account_by_id(self, account_id: str) -> Account | None:
        return self._accounts_by_id.get(account_id)

    @cached_property
    def _accounts_by_id(self) -> dict[str, Account]:
        # Every request asks (context, resource side); a scan of 1,000 accounts each time was a fifth of the time.
        by_id: dict[str, Account] = {}
        for account in self.accounts.values():
            by_id.setdefault(account.id, account)  # the first, as the scan found it
        return by_id

    def path_of(self, account: Account) -> list[str]:
        """Targets from the root down to the account: ``root``, ``ou:A``, ``ou:A/B``, ``account:NAME``."""
        return policy_targets(account.unit, account.name)

    def class_entry(self, account: Account) -> AccountClass:
        """What the account's baseline class deploys (an empty class for an account without one)."""
        key = account.class_key
        return self.memo(("class", key), lambda: self.manifest.class_by_key(key))  # a scan of every class otherwise

    def principals(self, account: Account) -> list[PrincipalSpec]:
        """Every role, user and group the account holds, its root user, and the permission sets assigned there."""
        cls = self.class_entry(account)
        return ([PrincipalSpec("role", r.name) for r in cls.roles]
                + [PrincipalSpec("user", u.name) for u in cls.users]
                + [PrincipalSpec("group", g.name) for g in cls.groups] + [PrincipalSpec("root")]
                + [PrincipalSpec("permission-set", name) for name, entry in sorted(self.permission_sets.items())
                   if account.name in entry.accounts])

    def role(self, account: Account, name: str) -> RoleEntry:
        cls = self.class_entry(account)
        return cls.role(name) or _missing(account, "role", name, cls.roles)

    def user(self, account: Account, name: str) -> UserEntry:
        cls = self.class_entry(account)
        return cls.user(name) or _missing(account, "user", name, cls.users)

    def group(self, account: Account, name: str) -> GroupEntry:
        cls = self.class_entry(account)
        return cls.group(name) or _missing(account, "group", name, cls.groups)

    # -- documents ------------------------------------------------------------------------------

    def document(self, path: str, account: Account, region: str | None = None) -> dict[str, Any]:
        """A document of the tree as deployed in ``account`` and ``region`` (default: the home region)."""
        if path not in self.files:
            raise EvaluationError(f"{MANIFEST} names {path}, which is not in the output")
        region = region or self.home_region
        key = (path, account.id, region)
        if key not in self._parsed:
            text = self.files[path].replace("${account_id}", account.id).replace("${region}", region)
            self._parsed[key] = json.loads(text)
        return self._parsed[key]

    def memo(self, key: tuple[Any, ...], build: Callable[[], _Value], *, transient: bool = False) -> _Value:
        """``build()``, once per key for this tree (its files do not change; a failed build is not kept).
        ``transient``: one of many (a request's resource and context), forgotten in bulk past a bound."""
        kept = self._transient if transient else self._memo
        if key in kept:
            return kept[key]
        if transient and len(kept) >= _TRANSIENT_MAX:
            kept.clear()  # the lockout proof prepares a request for every action, resource and context it probes
        value = kept[key] = build()
        return value

    def identity_policies(self, spec: PrincipalSpec, account: Account
                          ) -> tuple[tuple[Policy, ...], Policy | None, tuple[str, ...]]:
        """The principal's identity policies, boundary and unmodeled ARNs in the account: what every request it
        prepares starts from, before the documented exceptions of the request's action (the same memo)."""
        return self.memo(("identity", spec.kind, spec.name, account.name),
                         lambda: preparing._identity(self, spec, account))[:3]

    def managed_policy(self, arn: str, account: Account) -> Policy | None:
        """A managed policy by ARN as attached in ``account``: ours from the tree, AWS's from reference data."""
        return attachments.managed_policy(self, arn, account)

    def org_policies(self, kind: Literal["scp", "rcp"]) -> Mapping[str, tuple[Policy, ...]]:
        """The tree's SCPs or RCPs by target, parsed on first use."""
        if kind not in self._org_policies:
            self._org_policies[kind] = attachments.attached(self, kind)
        return self._org_policies[kind]

    def scp_levels(self, account: Account) -> Levels:
        """The SCPs at every level of the account's path, FullAWSAccess included."""
        return self.memo(("scp", account.name), lambda: attachments.levels(self, "scp", account))

    def rcp_levels(self, account: Account) -> Levels:
        return self.memo(("rcp", account.name), lambda: attachments.levels(self, "rcp", account))

    # -- principals -----------------------------------------------------------------------------

    def caller(self, spec: PrincipalSpec, account: Account) -> Caller:
        p = self.partition
        if spec.kind == "permission-set":
            return permission_sets.caller(self, permission_sets.assigned(self, spec.name, account), account)
        if spec.kind == "role":
            role = self.role(account, spec.name)
            session = arn(p, "sts", "", account.id, f"assumed-role/{role.name}/{SESSION_NAME}")
            return Caller("role", role_arn(p, account.id, f"{role.path}{role.name}"), account.id, session)
        if spec.kind == "user":
            user = self.user(account, spec.name)
            user_ = user_arn(p, account.id, f"{user.path}{user.name}")
            return Caller("user", user_, account.id, user_)
        if spec.kind == "group":
            group = self.group(account, spec.name)
            # A member of the group: an IAM user with nothing but the group's policies.
            member = user_arn(p, account.id, f"{group.path}member-of-{group.name}")
            return Caller("user", member, account.id, member)
        if spec.kind == "root":
            account_root = root_arn(p, account.id)
            return Caller("root", account_root, account.id, account_root)
        if spec.kind == "root-session":
            return root_sessions.caller(p, account)
        if spec.kind == "external":
            account_id = external.parse(spec.name)[0]
            member = self.account_by_id(account_id)
            external.refuse_member(account_id, member.name if member else None)
            return external.caller(p, spec.name)
        if spec.kind == "federated":
            provider = spec.name if spec.name.startswith("arn:") else oidc_provider_arn(p, account.id, spec.name)
            return Caller("federated", provider, None, provider, federated_provider=provider)
        return Caller("service", spec.name, None, spec.name, service=spec.name)

    def request_context(self, caller: Caller, spec: PrincipalSpec, account: Account, action: str, resource: str,
                        resource_account: str, given: Mapping[str, tuple[str, ...]]) -> tuple[Context, Origin]:
        """What AWS puts into the request context for this caller, then the context the user gave (which wins)."""
        return request_context(self, caller, spec, account, action, resource, resource_account, given)

    # -- requests -------------------------------------------------------------------------------

    def expand(self, text: str, account: Account, region: str | None = None) -> str:
        """``${partition}``, ``${account_id}``, ``${region}`` and ``${account_id:NAME}`` in a test's resource."""
        text = text.replace("${partition}", self.partition).replace("${account_id}", account.id)
        text = text.replace("${region}", region or self.home_region)
        while "${account_id:" in text:
            start = text.index("${account_id:")
            end = text.find("}", start)
            if end < 0:
                raise EvaluationError(f"{text!r}: `${{account_id:` is not closed; write ${{account_id:NAME}}")
            text = text[:start] + self.account(text[start + len("${account_id:"):end]).id + text[end + 1:]
        return text

    def prepare(self, spec: PrincipalSpec, account_name: str, action: str, resource: str,
                context: Mapping[str, Iterable[str]] | None = None) -> tuple[Request, PolicySet]:
        """The engine's inputs for one request (``guardrails.evaluation.prepare``)."""
        return preparing.prepare(self, spec, account_name, action, resource, context)

    def prepare_many(self, spec: PrincipalSpec, account_name: str, asks: Sequence[tuple[str, str]]
                     ) -> list[tuple[Request, PolicySet] | EvaluationError]:
        """:meth:`prepare` of each (action, resource), without a given context, in one batch (the access matrix's
        row: ``guardrails.evaluation.prepare.prepare_many``)."""
        return preparing.prepare_many(self, spec, account_name, asks)

    def role_by_arn(self, arn: str) -> tuple[Account, RoleEntry] | None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return None
        account = self.account_by_id(parts[4])
        if account is None:
            return None
        for role in self.class_entry(account).roles:
            if parts[5] == f"role{role.path}{role.name}":
                return account, role
        return None

    def evaluate(self, principal: PrincipalSpec | str, account: str, action: str, resource: str,
                 context: Mapping[str, Iterable[str]] | None = None) -> Decision:
        """Is ``principal`` in ``account`` allowed ``action`` on ``resource``, with this request context?"""
        spec = parse_principal(principal) if isinstance(principal, str) else principal
        request, policies = self.prepare(spec, account, action, resource, context)
        return evaluate(request, policies)


def _missing(account: Account, kind: str, name: str, entries: tuple[_Entry, ...]) -> NoReturn:
    known = ", ".join(sorted(e.name for e in entries)) or "none"
    raise EvaluationError(f"{kind} {name!r} is not deployed in account {account.name} ({kind}s there: {known})")
