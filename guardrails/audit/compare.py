"""Pure comparison: what the blueprint deploys in one account + a live snapshot → findings.

No AWS calls here. Drift: missing / extra / changed roles, groups, users, customer managed policies, trust
policies, attachments, boundaries, the password policy and SCPs. CIS (AWS Foundations, IAM section, v3/v4
numbering): 1.4, 1.10, 1.12, 1.13, 1.14, 1.15. Suggestions: services a role has not used for N days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from guardrails.audit.functions import FunctionRole, function_role_for
from guardrails.audit.reader import CredentialRow, LiveRole, Snapshot
from guardrails.evaluation.organization import Organization
from guardrails.iam.manifest import ACCOUNT_PLACEHOLDER, GroupEntry, ManagedPolicyEntry, RoleEntry, UserEntry
from guardrails.policies.ir import PasswordPolicy

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

UNUSED_CREDENTIAL_DAYS = 45  # CIS 1.12
KEY_ROTATION_DAYS = 90  # CIS 1.14
_IGNORED_ROLE_PATHS = ("/aws-service-role/", "/aws-reserved/")


@dataclass(frozen=True)
class Finding:
    """One result: a stable code (``drift/…``, ``cis/…``, ``info/…``, ``suggest/…``), severity, subject, detail."""

    code: str
    severity: Severity
    subject: str
    detail: str

    def sort_key(self) -> tuple[int, str, str, str]:
        return (SEVERITY_ORDER[self.severity], self.code, self.subject, self.detail)

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "subject": self.subject, "detail": self.detail}


@dataclass(frozen=True)
class ExpectedAccount:
    """What guardrails deploys in one account: the manifest's entries with ${account_id} substituted in their
    ARNs (sorted by name, attachments sorted) and every document they name, parsed, by file."""

    name: str
    id: str
    roles: tuple[RoleEntry, ...]
    groups: tuple[GroupEntry, ...]
    users: tuple[UserEntry, ...]
    policies: tuple[ManagedPolicyEntry, ...]  # sorted by ARN
    documents: Mapping[str, Any]  # trust, inline and managed policy files → the document as deployed
    password_policy: PasswordPolicy | None
    scp_levels: tuple[tuple[str, tuple[str, ...]], ...]  # (target, SCP names), root first
    managed_names: frozenset[str]  # role/group/user names any class deploys ("role:X", "group:X", "user:X")
    management: bool
    # The custom-resource functions' roles of the CloudFormation templates deployed here (guardrails.audit.functions).
    function_roles: tuple[FunctionRole, ...] = ()

    def inline(self, role: RoleEntry) -> tuple[tuple[str, Any], ...]:
        """The role's inline policies as (name, document) as deployed: the file is ``<role>-<policy name>.json``
        (guardrails/emitters/policies.py), the templates name the policy ``<policy name>``."""
        def name(path: str) -> str:
            return path.rsplit("/", 1)[-1].removesuffix(".json").removeprefix(f"{role.name}-")

        return tuple(sorted((name(path), self.documents[path]) for path in role.inline_policies))


def expected_account(organization: Organization, password_policy: PasswordPolicy | None, account_name: str,
                     account_id: str | None = None, function_roles: Sequence[FunctionRole] = ()) -> ExpectedAccount:
    """The account's deployment from the emitted policy tree; ``account_id`` overrides the blueprint's id;
    ``function_roles`` are those of the CloudFormation templates that deploy into this account."""
    account = organization.account(account_name)
    if account_id:
        account = replace(account, id=account_id)
    manifest = organization.manifest
    cls = organization.class_entry(account)

    def sub(arn: str) -> str:
        return arn.replace(ACCOUNT_PLACEHOLDER, account.id).replace("${region}", organization.home_region)

    def subs(arns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(sub(arn) for arn in arns))

    files = [*(r.trust for r in cls.roles), *(p for r in cls.roles for p in r.inline_policies),
             *(p.file for p in cls.managed_policies)]
    documents = {path: organization.document(path, account) for path in files}
    roles = [replace(r, policies=subs(r.policies), boundary=sub(r.boundary) if r.boundary else None)
             for r in cls.roles]
    groups = [replace(g, policies=subs(g.policies)) for g in cls.groups]
    users = [replace(u, groups=tuple(sorted(u.groups))) for u in cls.users]
    policies = [replace(p, arn=sub(p.arn)) for p in cls.managed_policies]
    scps: dict[str, list[str]] = {}
    for scp in manifest.service_control_policies:
        scps.setdefault(scp.target, []).append(scp.name)
    levels = tuple((target, tuple(sorted(scps.get(target, [])))) for target in organization.path_of(account))
    managed = frozenset(f"{kind}:{entry.name}" for c in manifest.classes
                        for kind, entries in (("role", c.roles), ("group", c.groups), ("user", c.users))
                        for entry in entries)
    return ExpectedAccount(account.name, account.id, tuple(sorted(roles, key=lambda r: r.name)),
                           tuple(sorted(groups, key=lambda g: g.name)), tuple(sorted(users, key=lambda u: u.name)),
                           tuple(sorted(policies, key=lambda p: p.arn)), documents, password_policy, levels,
                           managed, account.management, tuple(function_roles))


# -- documents --------------------------------------------------------------------------------------

def normalize(value: Any) -> Any:
    """Order-insensitive canonical form: lists (statements, actions, resources …) become sorted, and a
    one-element list equals its element (IAM accepts ``"s3:GetObject"`` and ``["s3:GetObject"]`` alike)."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = sorted((normalize(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return items[0] if len(items) == 1 else items
    return value


def _without_sid(statement: Any) -> Any:
    """A statement without its Sid: an identifier only, it never changes what the policy grants or denies
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html)."""
    return {k: v for k, v in statement.items() if k != "Sid"} if isinstance(statement, dict) else statement


def canonical(doc: Any) -> Any:
    """The document as IAM evaluates it: Sids dropped, then :func:`normalize` (statement and value order, a
    one-element list and its element alike)."""
    if isinstance(doc, dict) and "Statement" in doc:
        doc = {**doc, "Statement": [_without_sid(s) for s in _statements(doc)]}
    return normalize(doc)


def same_document(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


def _statements(doc: Any) -> list[Any]:
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    return statements if isinstance(statements, list) else [statements]


def document_difference(expected: Any, live: Any) -> str:
    """A short description of how two documents differ, statement by statement."""
    def label(statement: Any) -> str:
        if isinstance(statement, dict) and statement.get("Sid"):
            return str(statement["Sid"])
        return json.dumps(normalize(statement), sort_keys=True)[:160]

    want = {json.dumps(normalize(_without_sid(s)), sort_keys=True): s for s in _statements(expected)}
    have = {json.dumps(normalize(_without_sid(s)), sort_keys=True): s for s in _statements(live)}
    missing = {label(want[k]) for k in want.keys() - have.keys()}
    extra = {label(have[k]) for k in have.keys() - want.keys()}
    changed = sorted(missing & extra)
    parts = []
    if changed:
        parts.append("statement(s) changed: " + ", ".join(changed))
    if missing - extra:
        parts.append("statement(s) missing: " + ", ".join(sorted(missing - extra)))
    if extra - missing:
        parts.append("statement(s) added: " + ", ".join(sorted(extra - missing)))
    if not parts:
        parts.append("document differs outside its statements (Version or Id)")
    return "; ".join(parts)


# -- drift ------------------------------------------------------------------------------------------

def _drift_attachments(findings: list[Finding], kind: str, subject: str, expected: tuple[str, ...],
                       live: tuple[str, ...]) -> None:
    for arn in sorted(set(expected) - set(live)):
        findings.append(Finding(f"drift/{kind}-policy-detached", "error", subject, f"{arn} is not attached"))
    for arn in sorted(set(live) - set(expected)):
        findings.append(Finding(f"drift/{kind}-policy-attached", "error", subject,
                                f"{arn} is attached but not in the blueprint"))


def _drift_inline(findings: list[Finding], kind: str, subject: str, expected: tuple[tuple[str, Any], ...],
                  live: tuple[tuple[str, Any], ...]) -> None:
    want, have = dict(expected), dict(live)
    for name in sorted(want.keys() - have.keys()):
        findings.append(Finding(f"drift/{kind}-inline-missing", "error", subject, f"inline policy {name} is missing"))
    for name in sorted(have.keys() - want.keys()):
        findings.append(Finding(f"drift/{kind}-inline-extra", "error", subject,
                                f"inline policy {name} is not in the blueprint"))
    for name in sorted(want.keys() & have.keys()):
        if not same_document(want[name], have[name]):
            findings.append(Finding(f"drift/{kind}-inline-changed", "error", subject,
                                    f"inline policy {name}: {document_difference(want[name], have[name])}"))


def drift_findings(expected: ExpectedAccount, snapshot: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    # Roles
    live_roles = {r.name: r for r in snapshot.roles}
    for role in expected.roles:
        subject = f"role/{role.name}"
        live = live_roles.get(role.name)
        if live is None:
            findings.append(Finding("drift/role-missing", "error", subject, "the role does not exist"))
            continue
        if live.path != role.path:
            findings.append(Finding("drift/role-changed", "error", subject, f"path {live.path} (expected {role.path})"))
        if live.max_session_duration != role.max_session_duration:
            findings.append(Finding("drift/role-changed", "error", subject, f"max session duration "
                                    f"{live.max_session_duration} s (expected {role.max_session_duration} s)"))
        trust = expected.documents[role.trust]
        if not same_document(trust, live.trust):
            findings.append(Finding("drift/role-trust-changed", "error", subject,
                                    document_difference(trust, live.trust)))
        _drift_attachments(findings, "role", subject, role.policies, live.attached)
        _drift_inline(findings, "role", subject, expected.inline(role), live.inline)
        if live.boundary != role.boundary:
            findings.append(Finding("drift/role-boundary-changed", "error", subject,
                                    f"boundary {live.boundary or 'none'} (expected {role.boundary or 'none'})"))
    wanted = {r.name for r in expected.roles}
    for live in snapshot.roles:
        if live.name in wanted or live.path.startswith(_IGNORED_ROLE_PATHS):
            continue
        function = function_role_for(live.name, live.path, expected.function_roles)
        if function is not None and f"role:{live.name}" not in expected.managed_names:
            findings += _function_role_drift(function, live, expected.id)
        elif f"role:{live.name}" in expected.managed_names or live.path.startswith("/guardrails/"):
            findings.append(Finding("drift/role-extra", "error", f"role/{live.name}",
                                    "a guardrails role that the blueprint does not deploy in this account"))
        else:
            findings.append(Finding("info/unmanaged-role", "info", f"role/{live.name}", "not managed by guardrails"))
    # Groups
    live_groups = {g.name: g for g in snapshot.groups}
    for group in expected.groups:
        subject = f"group/{group.name}"
        live_group = live_groups.get(group.name)
        if live_group is None:
            findings.append(Finding("drift/group-missing", "error", subject, "the group does not exist"))
            continue
        if live_group.path != group.path:
            findings.append(Finding("drift/group-changed", "error", subject,
                                    f"path {live_group.path} (expected {group.path})"))
        _drift_attachments(findings, "group", subject, group.policies, live_group.attached)
        _drift_inline(findings, "group", subject, (), live_group.inline)
    wanted = {g.name for g in expected.groups}
    for live_group in snapshot.groups:
        if live_group.name in wanted:
            continue
        if f"group:{live_group.name}" in expected.managed_names or live_group.path.startswith("/guardrails/"):
            findings.append(Finding("drift/group-extra", "error", f"group/{live_group.name}",
                                    "a guardrails group that the blueprint does not deploy in this account"))
        else:
            findings.append(Finding("info/unmanaged-group", "info", f"group/{live_group.name}",
                                    "not managed by guardrails"))
    # Users
    live_users = {u.name: u for u in snapshot.users}
    for user in expected.users:
        subject = f"user/{user.name}"
        live_user = live_users.get(user.name)
        if live_user is None:
            findings.append(Finding("drift/user-missing", "error", subject, "the user does not exist"))
            continue
        if live_user.path != user.path:
            findings.append(Finding("drift/user-changed", "error", subject,
                                    f"path {live_user.path} (expected {user.path})"))
        for group in sorted(set(user.groups) - set(live_user.groups)):
            findings.append(Finding("drift/user-group-missing", "error", subject, f"not a member of group {group}"))
        for group in sorted(set(live_user.groups) - set(user.groups)):
            findings.append(Finding("drift/user-group-extra", "error", subject,
                                    f"member of group {group}, which the blueprint does not say"))
        _drift_attachments(findings, "user", subject, (), live_user.attached)
    wanted = {u.name for u in expected.users}
    for live_user in snapshot.users:
        if live_user.name in wanted:
            continue
        if f"user:{live_user.name}" in expected.managed_names or live_user.path.startswith("/guardrails/"):
            findings.append(Finding("drift/user-extra", "error", f"user/{live_user.name}",
                                    "a guardrails user that the blueprint does not deploy in this account"))
        else:
            findings.append(Finding("info/unmanaged-user", "info", f"user/{live_user.name}",
                                    "not managed by guardrails"))
    # Customer managed policies
    live_policies = {(p.path, p.name): p for p in snapshot.policies}
    for policy in expected.policies:
        subject = f"policy{policy.path}{policy.name}"
        live_policy = live_policies.get((policy.path, policy.name))
        if live_policy is None:
            elsewhere = [p.path for p in snapshot.policies if p.name == policy.name]
            where = f" (a policy of that name exists under {', '.join(elsewhere)})" if elsewhere else ""
            findings.append(Finding("drift/policy-missing", "error", subject, "the policy does not exist" + where))
            continue
        document = expected.documents[policy.file]
        if not same_document(document, live_policy.document):
            findings.append(Finding("drift/policy-changed", "error", subject,
                                    "default version: " + document_difference(document, live_policy.document)))
    wanted_keys = {(p.path, p.name) for p in expected.policies}
    for live_policy in snapshot.policies:
        if (live_policy.path, live_policy.name) in wanted_keys:
            continue
        subject = f"policy{live_policy.path}{live_policy.name}"
        if live_policy.path.startswith("/guardrails/"):
            findings.append(Finding("drift/policy-extra", "error", subject,
                                    "a policy under /guardrails/ that the blueprint does not deploy"))
        else:
            findings.append(Finding("info/unmanaged-policy", "info", subject, "not managed by guardrails"))
    findings += _password_drift(expected.password_policy, snapshot.password_policy)
    findings += _scp_drift(expected, snapshot)
    return findings


def _function_role_drift(function: FunctionRole, live: LiveRole, account_id: str) -> list[Finding]:
    """A custom-resource function's role compared with its template: the trust, the inline policies and
    nothing else (no attached policy, no boundary, IAM's default session duration)."""
    findings: list[Finding] = []
    subject = f"role/{live.name}"
    trust = function.trust_document(account_id)
    if not same_document(trust, live.trust):
        findings.append(Finding("drift/role-trust-changed", "error", subject, document_difference(trust, live.trust)))
    if live.max_session_duration != function.max_session_duration:
        findings.append(Finding("drift/role-changed", "error", subject, f"max session duration "
                                f"{live.max_session_duration} s (expected {function.max_session_duration} s)"))
    _drift_attachments(findings, "role", subject, (), live.attached)
    _drift_inline(findings, "role", subject, function.inline_documents(account_id, live.inline), live.inline)
    if live.boundary is not None:
        findings.append(Finding("drift/role-boundary-changed", "error", subject,
                                f"boundary {live.boundary} (expected none)"))
    return findings


_PASSWORD_FIELDS = (("minimum_length", "MinimumPasswordLength", 6), ("require_symbols", "RequireSymbols", False),
                    ("require_numbers", "RequireNumbers", False),
                    ("require_uppercase", "RequireUppercaseCharacters", False),
                    ("require_lowercase", "RequireLowercaseCharacters", False),
                    ("allow_users_to_change", "AllowUsersToChangePassword", False),
                    ("max_age", "MaxPasswordAge", 0), ("reuse_prevention", "PasswordReusePrevention", 0),
                    ("hard_expiry", "HardExpiry", False))


def _password_drift(expected: PasswordPolicy | None, live: dict[str, Any] | None) -> list[Finding]:
    if expected is None or expected.existing:
        return []  # the blueprint does not manage the password policy
    subject = "account password policy"
    if live is None:
        return [Finding("drift/password-policy-missing", "error", subject,
                        "the account has no password policy (AWS defaults apply)")]
    changes = []
    for attribute, key, default in _PASSWORD_FIELDS:
        want = getattr(expected, attribute)
        have = live.get(key, default)
        if attribute in ("max_age", "reuse_prevention") and have in (None, ""):
            have = 0
        if want != have:
            changes.append(f"{key} {json.dumps(have)} (expected {json.dumps(want)})")
    if changes:
        return [Finding("drift/password-policy-changed", "error", subject, "; ".join(changes))]
    return []


def _scp_drift(expected: ExpectedAccount, snapshot: Snapshot) -> list[Finding]:
    if snapshot.scp_path is None:
        return []
    findings = []
    live_levels = list(snapshot.scp_path)
    if len(live_levels) != len(expected.scp_levels):
        live_path = " → ".join(f"{lvl.kind}:{lvl.name}" for lvl in live_levels)
        want_path = " → ".join(t for t, _ in expected.scp_levels)
        return [Finding("drift/scp-path-changed", "error", f"account/{expected.name}",
                        f"the account sits at {live_path}; the blueprint places it at {want_path}")]
    for (target, wanted), live in zip(expected.scp_levels, live_levels, strict=True):
        have = {n for n in live.policies if n != "FullAWSAccess"}
        for name in sorted(set(wanted) - have):
            findings.append(Finding("drift/scp-missing", "error", target, f"SCP {name} is not attached"))
        for name in sorted(have - set(wanted)):
            findings.append(Finding("drift/scp-extra", "error", target,
                                    f"SCP {name} is attached but not in the blueprint"))
    return findings


# -- CIS ----------------------------------------------------------------------------------------------

def _when(value: str) -> datetime | None:
    if not value or value in ("N/A", "no_information", "not_supported"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _age(value: str, now: datetime) -> int | None:
    """Whole calendar days (UTC) from ``value`` to ``now``: a key created on 1 March is 100 days old on 9 June."""
    when = _when(value)
    return None if when is None else (now.astimezone(UTC).date() - when.astimezone(UTC).date()).days


def cis_findings(snapshot: Snapshot, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    for row in snapshot.credentials:
        keys = [(n, getattr(row, f"access_key_{n}_active") == "true", getattr(row, f"access_key_{n}_last_rotated"),
                 getattr(row, f"access_key_{n}_last_used_date")) for n in (1, 2)]
        active = [k for k in keys if k[1]]
        if row.user == "<root_account>":
            if active:
                findings.append(Finding("cis/1.4-root-access-key", "error", "root",
                                        f"{len(active)} active root access key(s)"))
            continue
        subject = f"user/{row.user}"
        if row.password_enabled == "true":
            if row.mfa_active != "true":
                findings.append(Finding("cis/1.10-console-without-mfa", "error", subject,
                                        "console password without an MFA device"))
            age = _age(row.password_last_used, now)
            basis = "last used"
            if age is None:
                changed = _age(row.password_last_changed, now)
                age = changed if changed is not None else _age(row.user_creation_time, now)
                basis = "never used; set"
            if age is not None and age >= UNUSED_CREDENTIAL_DAYS:
                findings.append(Finding("cis/1.12-unused-credentials", "error", subject,
                                        f"password {basis} {age} days ago (limit {UNUSED_CREDENTIAL_DAYS})"))
        for number, _, rotated, used in active:
            age = _age(used, now)
            basis = "last used"
            if age is None:
                age, basis = _age(rotated, now), "never used; created"
            if age is not None and age >= UNUSED_CREDENTIAL_DAYS:
                findings.append(Finding("cis/1.12-unused-credentials", "error", subject,
                                        f"access key {number} {basis} {age} days ago (limit {UNUSED_CREDENTIAL_DAYS})"))
            key_age = _age(rotated, now)
            if key_age is not None and key_age > KEY_ROTATION_DAYS:
                findings.append(Finding("cis/1.14-access-key-rotation", "error", subject,
                                        f"access key {number} is {key_age} days old (limit {KEY_ROTATION_DAYS})"))
        if len(active) > 1:
            findings.append(Finding("cis/1.13-multiple-access-keys", "error", subject,
                                    f"{len(active)} active access keys"))
    for user in snapshot.users:
        if user.attached or user.inline:
            what = [*user.attached, *(f"inline {name}" for name, _ in user.inline)]
            findings.append(Finding("cis/1.15-user-policies", "error", f"user/{user.name}",
                                    "policies attached to the user (grant through groups): " + ", ".join(what)))
    return findings


def service_use_findings(snapshot: Snapshot, now: datetime, unused_days: int) -> list[Finding]:
    findings = []
    for arn, services in snapshot.service_use or ():
        role = arn.split(":role/", 1)[-1]
        for service in services:
            age = _age(service.last_authenticated or "", now)
            if age is None or age >= unused_days:
                when = "never used" if age is None else f"last used {age} days ago"
                findings.append(Finding("suggest/unused-service", "info", f"role/{role.rsplit('/', 1)[-1]}",
                                        f"{service.namespace} is allowed but {when} (≥ {unused_days} days): consider "
                                        "removing it"))
    return findings


def audit_findings(expected: ExpectedAccount, snapshot: Snapshot, as_of: date | None = None,
                   unused_days: int = 90) -> list[Finding]:
    """Every finding, in a deterministic order (errors first, then by code, subject and detail)."""
    now = datetime.now(UTC) if as_of is None else datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    findings = drift_findings(expected, snapshot) + cis_findings(snapshot, now)
    findings += service_use_findings(snapshot, now, unused_days)
    return sorted(set(findings), key=Finding.sort_key)
