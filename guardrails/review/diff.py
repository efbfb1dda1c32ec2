"""Semantic permission diff of two organizations: who can now do what, where.

Reads two emitted policy trees (:class:`~guardrails.evaluation.organization.Organization`) and reports, per
principal and account, the actions gained and lost, the resources and conditions they are granted under, who
may assume each role, boundaries and policies attached or removed, how the SCPs and RCPs of every target
change, and which of those changes are risky. Pure: no files, no git, no clock.

The permission model (docs/review.md explains it for readers):

* A principal's identity grants are the Allow statements of every attached policy — ours from the tree, AWS
  managed ones from guardrails' reference data (others are *unmodeled* and named as such). Action patterns are
  expanded against the pinned IAM action database, ``NotAction`` is the complement over the database, and a
  pattern that matches nothing is carried verbatim.
* A permissions boundary intersects them: an action is allowed only if the boundary allows it too
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
* An unconditional Deny on ``Resource: "*"`` in an identity policy, the boundary or an SCP on the account's path
  removes actions (explicit deny wins:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). Any other Deny is
  not subtracted; it is reported as a *condition* on the actions it covers.
* Condition clauses that only depend on who the principal is (``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:PrincipalOrgID``, ``aws:PrincipalType``, ``aws:username``, a user's tags) are decided statically, so
  the catalog's exemptions (break-glass, deployment roles) and the root-user deny resolve per principal.
* SCPs do not restrict principals of the management account
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
* Documents keep ``${account_id}``: accounts of one class read the same text, so identical changes in many
  accounts collapse into one entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal

from guardrails.evaluation.conditions import evaluate_clause
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import action_matches
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.policies import compare
from guardrails.policies.arn_match import can_overlap
from guardrails.policies.iam_data import iam_database
from guardrails.policies.limits import default_limits
from guardrails.policies.risks import POSITIVE_OPERATORS, RiskRule, risk_rules, service_wide

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
# high and medium flags make a diff risky (exit code 4 with --fail-on-risk); low flags are review hints.
RISKY_SEVERITIES = frozenset({"high", "medium"})

ACCOUNT_ID = "${account_id}"
AWS_MANAGED = "AWS managed "  # label prefix of AWS managed policies
REGION = "${region}"
PERMISSIONS_MANAGEMENT = "Permissions management"
_WRITE_LEVELS = frozenset({"Write", PERMISSIONS_MANAGEMENT})
_CATEGORY_SEVERITY: dict[str, Severity] = {"privilege-escalation": "high", "credentials-exposure": "high",
                                           "data-exfiltration": "medium", "resource-exposure": "medium"}

# Condition keys whose removal widens who can act (lowercased key -> what it protects).
_SENSITIVE_KEYS = {
    "aws:multifactorauthpresent": "MFA", "aws:multifactorauthage": "MFA",
    "aws:sourceip": "source IP", "aws:vpcsourceip": "source IP", "aws:sourcevpc": "source VPC",
    "aws:sourcevpce": "source VPC endpoint",
    "aws:principalorgid": "organization", "aws:principalorgpaths": "organization",
    "aws:resourceorgid": "organization", "aws:resourceorgpaths": "organization",
    "aws:sourceorgid": "organization", "aws:sourceorgpaths": "organization",
}
# Request context keys fixed by who the principal is; clauses on them are decided per principal.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principal-properties
_PRINCIPAL_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:principaltype",
                             "aws:username", "aws:principalisawsservice"})
# AWS's default quota of RCPs per target, RCPFullAWSAccess included (limits.yaml has no entry for it).
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
_RCPS_PER_TARGET = 5

Grant = tuple[tuple[str, ...], bool, tuple[tuple[str, str, tuple[str, ...]], ...]]  # resources, NotResource, conditions
Clause = tuple[str, str, tuple[str, ...]]  # operator, key, values


# ============================================================================= the result


@dataclass(frozen=True)
class ScopeChange:
    """Actions granted in both revisions whose resources or conditions changed (the same change for all)."""

    actions: tuple[str, ...]
    before: tuple[str, ...]  # one line per grant: "arn:aws:s3:::app-* when Bool aws:MultiFactorAuthPresent=true"
    after: tuple[str, ...]


@dataclass(frozen=True)
class TrustChange:
    """Who may assume a role: one principal of the trust policy added, removed, or with changed conditions."""

    principal: str  # "AWS:arn:aws:iam::222222222222:root", "Service:ec2.amazonaws.com", "Federated:…", "*"
    change: Literal["added", "removed", "changed"]
    before: tuple[str, ...]  # "sts:AssumeRole when Bool aws:MultiFactorAuthPresent=true"
    after: tuple[str, ...]


@dataclass(frozen=True)
class BoundaryChange:
    change: Literal["attached", "removed", "replaced", "changed"]
    before: str | None  # boundary policy ARN
    after: str | None


@dataclass(frozen=True)
class PrincipalChange:
    """What changed for one principal, in every account listed (accounts with identical changes collapse)."""

    principal: str  # "role/NAME", "group/NAME", "user/NAME"
    accounts: tuple[str, ...]
    status: Literal["added", "removed", "changed"]
    gained: tuple[str, ...] = ()  # actions (database spelling)
    lost: tuple[str, ...] = ()
    gained_unknown: tuple[str, ...] = ()  # patterns the IAM database does not know, verbatim
    lost_unknown: tuple[str, ...] = ()
    scope_changes: tuple[ScopeChange, ...] = ()
    attached: tuple[str, ...] = ()  # policy ARNs, "inline:NAME", and for users "group/NAME"
    detached: tuple[str, ...] = ()
    changed_policies: tuple[str, ...] = ()  # attached in both, document changed
    unmodeled: tuple[str, ...] = ()  # attached or detached AWS managed policies without reference data
    boundary: BoundaryChange | None = None
    trust: tuple[TrustChange, ...] = ()
    conditions: tuple[str, ...] = ()  # conditional denies (not subtracted) that limit gained actions, or that left
    same_policies_as: str = ""  # new account: a base account where this principal has exactly these policies

    @property
    def permissions_changed(self) -> bool:
        return bool(self.gained or self.lost or self.gained_unknown or self.lost_unknown or self.scope_changes)


@dataclass(frozen=True)
class StatementChange:
    policy: str
    sid: str  # the Sid, or "#N" (1-based position) for a statement without one
    change: Literal["added", "removed", "changed"]
    effect: str
    actions: tuple[str, ...]  # Action patterns, or NotAction patterns when not_action
    not_action: bool = False
    detail: str = ""  # for "changed": which elements changed


@dataclass(frozen=True)
class PolicySize:
    """Characters of the minified JSON, as Organizations counts them against the per-policy quota."""

    policy: str
    before: int | None
    after: int | None
    limit: int

    @property
    def delta(self) -> int:
        return (self.after or 0) - (self.before or 0)


@dataclass(frozen=True)
class TargetChange:
    """SCP or RCP changes at one target (``root``, ``ou:PATH``, ``account:NAME``)."""

    kind: Literal["scp", "rcp"]
    target: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    statements: tuple[StatementChange, ...] = ()
    guardrails_added: tuple[str, ...] = ()
    guardrails_removed: tuple[str, ...] = ()
    sizes: tuple[PolicySize, ...] = ()
    slots_before: int = 0  # policies attached, the default FullAWSAccess included
    slots_after: int = 0
    slot_limit: int = 0


@dataclass(frozen=True)
class AccountChange:
    account: str
    change: Literal["added", "removed", "moved"]
    detail: str = ""


@dataclass(frozen=True)
class RiskFlag:
    severity: Severity
    kind: str  # a risks.yaml rule id, or e.g. "trust-widened", "boundary-removed", "scp-statement-removed"
    subject: str  # "role/AppRole", "SCP apps-deny at ou:Apps", "account app-1"
    accounts: tuple[str, ...]
    reason: str  # one line


@dataclass(frozen=True)
class PermissionDiff:
    base: str  # labels of the two sides
    head: str
    iam_database: str  # the database version both sides were expanded with
    accounts: tuple[AccountChange, ...] = ()
    principals: tuple[PrincipalChange, ...] = ()
    organization_policies: tuple[TargetChange, ...] = ()
    risks: tuple[RiskFlag, ...] = ()
    notes: tuple[str, ...] = ()
    wildcards: tuple[WildcardWidening, ...] = ()  # existing patterns matching other actions (IAM database update)

    @property
    def risky(self) -> bool:
        """Any high or medium risk flag (``guardrails diff --fail-on-risk`` exits 4)."""
        return any(flag.severity in RISKY_SEVERITIES for flag in self.risks)

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.principals or self.organization_policies or self.wildcards)

    @property
    def summary(self) -> str:
        """One line for a headline: "3 principals gain 42 actions in 4 accounts; 2 risky changes"."""
        parts: list[str] = []
        for verb_one, verb_many, attr in (("gains", "gain", "gained"), ("loses", "lose", "lost")):
            changes = [p for p in self.principals if getattr(p, attr)]
            if changes:
                who = {p.principal for p in changes}
                actions = {a for p in changes for a in getattr(p, attr)}
                where = {a for p in changes for a in p.accounts}
                parts.append(f"{_count(len(who), 'principal')} {verb_one if len(who) == 1 else verb_many} "
                             f"{_count(len(actions), 'action')} in {_count(len(where), 'account')}")
        other = {p.principal for p in self.principals if not (p.gained or p.lost)}
        if other:
            noun = "other principal" if parts else "principal"
            parts.append(f"{_count(len(other), noun)} changed without gaining or losing actions")
        if self.organization_policies:
            parts.append(f"{_count(len(self.organization_policies), 'SCP/RCP target')} changed")
        if self.accounts:
            parts.append(f"{_count(len(self.accounts), 'account')} added, removed or moved")
        if self.wildcards:
            parts.append(f"{_count(len(self.wildcards), 'existing wildcard')} now matching other actions")
        if not parts:
            return "No permission changes"
        risky = sum(1 for f in self.risks if f.severity in RISKY_SEVERITIES)
        parts.append(f"{_count(risky, 'risky change')}" if risky else "no risky changes")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ============================================================================= actions


@cache
def _level_of() -> dict[str, str]:
    """Action (database spelling) -> access level."""
    return {a.full_name: a.access_level for a in iam_database().expand("*")}


@cache
def _all_actions() -> frozenset[str]:
    return frozenset(_level_of())


@cache
def _expand(pattern: str) -> frozenset[str]:
    """Actions an Action pattern names (``*``/``?`` wildcards, any case); empty when the database has none."""
    db = iam_database()
    prefix, _, name = pattern.lower().partition(":")
    if pattern == "*" or any(ch in prefix for ch in "*?"):
        return frozenset(a.full_name for a in db.expand(pattern))
    service = db.service(prefix)
    if service is None:
        return frozenset()
    if not any(ch in name for ch in "*?"):
        info = service.actions.get(name)
        return frozenset({info.full_name}) if info else frozenset()
    # Same wildcard rules as the evaluator; the service's actions only (a few hundred, not 20k).
    return frozenset(info.full_name for key, info in service.actions.items() if action_matches(name, key))


@cache
def _actions(negated: bool, patterns: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(actions, unknown patterns) of an Action (or, negated, NotAction) element. Cached: NotAction complements
    over ~20k actions are computed once per distinct pattern list."""
    found: set[str] = set()
    unknown: set[str] = set()
    for pattern in patterns:
        expanded = _expand(pattern)
        if not expanded:
            unknown.add(pattern)
        found |= expanded
    if negated:
        return _all_actions() - found, frozenset()  # unknown NotAction patterns exclude nothing known
    return frozenset(found), frozenset(unknown)


def _preview(items: Iterable[str], limit: int = 4) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items), key=lambda s: (s.lower(), s)))


# ============================================================================= statements


def _listed(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(_text(v) for v in value)


def _text(value: Any) -> str:
    """A JSON condition value as IAM reads it (JSON Booleans are "true"/"false")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clauses(condition: Any) -> tuple[Clause, ...]:
    if not isinstance(condition, Mapping):
        return ()
    out = []
    for operator, keys in condition.items():
        if isinstance(keys, Mapping):
            for key, values in keys.items():
                out.append((str(operator), str(key), tuple(sorted(_listed(values)))))
    return tuple(sorted(out, key=lambda c: (c[1].lower(), c[0], c[2])))


@dataclass(frozen=True)
class _Stmt:
    sid: str
    effect: str
    negated_actions: bool
    patterns: tuple[str, ...]
    resources: tuple[str, ...]
    negated_resources: bool
    conditions: tuple[Clause, ...]
    principals: tuple[str, ...] = ()  # trust policies: "AWS:arn…", "Service:…", "*"; "Not …" for NotPrincipal

    @property
    def action_key(self) -> tuple[bool, tuple[str, ...]]:
        return self.negated_actions, self.patterns

    @property
    def grant(self) -> Grant:
        return tuple(sorted(self.resources)), self.negated_resources, self.conditions


def _principals(statement: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for element, prefix in (("Principal", ""), ("NotPrincipal", "Not ")):
        value = statement.get(element)
        if value is None:
            continue
        if value == "*":
            out.append(prefix + "*")
            continue
        if isinstance(value, Mapping):
            for kind, names in value.items():
                for name in _listed(names):
                    out.append(prefix + ("*" if kind == "AWS" and name == "*" else f"{kind}:{name}"))
    return tuple(sorted(set(out)))


@cache
def _statements(text: str) -> tuple[_Stmt, ...]:
    """The statements of a policy document's JSON text, normalized (cached by text)."""
    document = json.loads(text)
    raw = document.get("Statement", [])
    if isinstance(raw, Mapping):
        raw = [raw]
    out = []
    for index, statement in enumerate(raw):
        negated = "NotAction" in statement
        out.append(_Stmt(
            sid=str(statement.get("Sid") or f"#{index + 1}"), effect=str(statement.get("Effect", "")),
            negated_actions=negated, patterns=_listed(statement.get("NotAction" if negated else "Action")),
            resources=_listed(statement.get("NotResource" if "NotResource" in statement else "Resource")),
            negated_resources="NotResource" in statement, conditions=_clauses(statement.get("Condition")),
            principals=_principals(statement)))
    return tuple(out)


@cache
def _usable(action: str, resources: tuple[str, ...]) -> bool:
    """Can the action be used on any of these resource patterns? An action only applies to the resource types the
    IAM database lists for it (none: ``Resource: "*"`` only), so ``s3:Get*`` on bucket ARNs does not grant
    ``s3:GetAccessPoint`` — counting it as gained would mislead the reviewer. Unknown actions are kept."""
    db = iam_database()
    info = db.action(action)
    service = db.service(action.split(":", 1)[0])
    if info is None or service is None:
        return True
    formats = [service.resource_types[t.lower()].arn for t in info.resource_types if t.lower() in service.resource_types]
    if len(formats) < len(info.resource_types):
        return True  # a type the database does not describe: do not guess
    return any(can_overlap(pattern, arn_format) for pattern in resources for arn_format in formats)


def _covers(statement: _Stmt, name: str) -> bool:
    """Does the statement's Action/NotAction cover an action name the database may not know?"""
    hit = any(action_matches(p, name) for p in statement.patterns)
    return not hit if statement.negated_actions else hit


def _render_clauses(clauses: Iterable[Clause]) -> str:
    return ", ".join(f"{op} {key}={','.join(values)}" for op, key, values in clauses)


def _render_grant(grant: Grant) -> str:
    resources, negated, clauses = grant
    where = ("all but " if negated else "") + (", ".join(resources) or "(no resource)")
    return where + (f" when {_render_clauses(clauses)}" if clauses else "")


def _render_patterns(negated: bool, patterns: tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(patterns[:limit]) + (f", … ({len(patterns)} patterns)" if len(patterns) > limit else "")
    return ("NotAction " if negated else "") + shown


def _minified(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


# ============================================================================= principals


@dataclass(frozen=True)
class _State:
    """One principal as deployed in a class of accounts (documents with ${account_id} kept)."""

    principal: str
    attachments: tuple[tuple[str, str | None], ...]  # (ARN / "inline:NAME" / "group/NAME", document text or None)
    documents: tuple[tuple[str, str], ...]  # (label, text) of every identity policy, for the permissions
    unmodeled: tuple[str, ...]  # AWS managed policy ARNs without reference data
    boundary: tuple[str, str | None] | None = None  # (ARN, text)
    trust: str | None = None
    tags: tuple[tuple[str, str], ...] = ()  # users


@dataclass(frozen=True)
class _Limit:
    """A Deny that is not subtracted (conditional, or not on "*"), as a note on the actions it covers."""

    description: str
    kind: Literal["scp", "identity", "boundary"]
    keys: frozenset[str]  # lowercased condition keys it still depends on
    action_key: tuple[bool, tuple[str, ...]]


@dataclass(frozen=True, eq=False)
class _Identity:
    """What the attached policies allow under the boundary, before any Deny."""

    actions: frozenset[str]
    grants: Mapping[str, frozenset[Grant]]
    unknown: frozenset[str]
    own_unknown: frozenset[str]  # the subset named by our own documents (AWS's name retired services freely)
    wildcards: frozenset[str]  # wildcard Action patterns and NotAction lists of our own documents
    denies: tuple[tuple[str, str, _Stmt], ...]  # (kind, source label, statement) from identity and boundary


@dataclass(frozen=True, eq=False)
class _Effective:
    identity: _Identity
    actions: frozenset[str]
    unknown: frozenset[str]
    limits: tuple[_Limit, ...]


class _Analyzer:
    """Caches shared by both sides of one diff: identical content yields the identical object."""

    def __init__(self) -> None:
        self._identities: dict[tuple, _Identity] = {}
        self._effective: dict[tuple, _Effective] = {}
        self._interned: dict[frozenset[Grant], frozenset[Grant]] = {}
        self._scopes: dict[tuple[int, int], dict[tuple[frozenset[Grant], frozenset[Grant]], list[str]]] = {}
        self._unmitigated: dict[int, dict[str, frozenset[str]]] = {}
        self._pairs: dict[tuple, tuple[PrincipalChange, tuple[RiskFlag, ...]] | None] = {}

    # -- permissions ---------------------------------------------------------------------------

    def identity(self, documents: tuple[tuple[str, str], ...], boundary: tuple[str, str | None] | None) -> _Identity:
        key = (documents, boundary)
        found = self._identities.get(key)
        if found is None:
            found = self._identities[key] = self._build_identity(documents, boundary)
        return found

    def _build_identity(self, documents: tuple[tuple[str, str], ...],
                        boundary: tuple[str, str | None] | None) -> _Identity:
        grants: dict[str, set[Grant]] = {}
        unknown: set[str] = set()
        own_unknown: set[str] = set()
        wildcards: set[str] = set()
        denies: list[tuple[str, str, _Stmt]] = []
        for label, text in documents:
            own = not label.startswith(AWS_MANAGED)
            for statement in _statements(text):
                if statement.effect == "Deny":
                    denies.append(("identity", f"policy {label}", statement))
                    continue
                if statement.effect != "Allow":
                    continue
                actions, missing = _actions(*statement.action_key)
                if not statement.negated_resources and "*" not in statement.resources:
                    actions = frozenset(a for a in actions if _usable(a, statement.resources))
                grant = statement.grant
                for action in actions:
                    grants.setdefault(action, set()).add(grant)
                unknown |= missing
                if not own:
                    continue
                own_unknown |= missing
                if statement.negated_actions:
                    wildcards.add(_render_patterns(True, statement.patterns))
                else:
                    wildcards.update(p for p in statement.patterns if "*" in p or "?" in p)
        allowed = frozenset(grants)
        if boundary is not None and boundary[1] is not None:
            ceiling: set[str] = set()
            allows = [s for s in _statements(boundary[1]) if s.effect == "Allow"]
            for statement in allows:
                ceiling |= _actions(*statement.action_key)[0]
            allowed &= ceiling
            unknown = {u for u in unknown if any(_covers(s, u) for s in allows)}
            label = boundary[0].rsplit("/", 1)[-1]
            denies += [("boundary", f"boundary {label}", s) for s in _statements(boundary[1]) if s.effect == "Deny"]
        frozen = {action: self._intern(frozenset(grants[action])) for action in allowed}
        return _Identity(allowed, frozen, frozenset(unknown), frozenset(own_unknown), frozenset(wildcards),
                         tuple(denies))

    def _intern(self, grants: frozenset[Grant]) -> frozenset[Grant]:
        return self._interned.setdefault(grants, grants)

    def effective(self, identity: _Identity, denies: Iterable[tuple[str, str, _Stmt]],
                  context: Mapping[str, tuple[str, ...]], static: frozenset[str],
                  substitutions: Mapping[str, str]) -> _Effective:
        """Subtract unconditional Denies on "*"; keep the others as limits. Cached by what decides the result."""
        unconditional: set[tuple[bool, tuple[str, ...]]] = set()
        limits: set[_Limit] = set()
        for kind, source, statement in denies:
            remaining = _undecided(statement.conditions, context, static, substitutions)
            if remaining is None:
                continue  # never applies to this principal
            if not remaining and not statement.negated_resources and "*" in statement.resources:
                unconditional.add(statement.action_key)
                continue
            description = f"{source} {statement.sid}: Deny {_render_patterns(*statement.action_key)}"
            if statement.negated_resources or "*" not in statement.resources:
                description += " on " + ("all but " if statement.negated_resources else "") + \
                    ", ".join(statement.resources)
            if remaining:
                description += f" when {_render_clauses(remaining)}"
            limits.add(_Limit(description, kind, frozenset(c[1].lower() for c in remaining),  # type: ignore[arg-type]
                              statement.action_key))
        key = (id(identity), frozenset(unconditional), frozenset(limits))
        found = self._effective.get(key)
        if found is None:
            denied: set[str] = set()
            for action_key in unconditional:
                denied |= _actions(*action_key)[0]
            patterns = [_Stmt("", "Deny", n, p, ("*",), False, ()) for n, p in unconditional]
            unknown = frozenset(u for u in identity.unknown if not any(_covers(s, u) for s in patterns))
            found = self._effective[key] = _Effective(identity, identity.actions - denied, unknown,
                                                      tuple(sorted(limits, key=lambda lim: lim.description)))
        return found

    def scope_index(self, base: _Identity, head: _Identity
                    ) -> dict[tuple[frozenset[Grant], frozenset[Grant]], list[str]]:
        """(grants before, grants after) -> actions granted by both identities whose grants differ."""
        key = (id(base), id(head))
        found = self._scopes.get(key)
        if found is None:
            found = {}
            for action in base.actions & head.actions:
                before, after = base.grants[action], head.grants[action]
                if before is not after and before != after:
                    found.setdefault((before, after), []).append(action)
            self._scopes[key] = found
        return found

    def unmitigated(self, effective: _Effective | None) -> dict[str, frozenset[str]]:
        """Rule id -> actions (or, for PassRole combinations, services) the principal holds unmitigated."""
        if effective is None:
            return {}
        found = self._unmitigated.get(id(effective))
        if found is None:
            found = self._unmitigated[id(effective)] = _unmitigated_findings(effective)
        return found

    # -- pairs -----------------------------------------------------------------------------------

    def pair(self, base: _State | None, head: _State | None, base_eff: _Effective | None,
             head_eff: _Effective | None, known: str = "") -> tuple[PrincipalChange, tuple[RiskFlag, ...]] | None:
        key = (base, head, id(base_eff), id(head_eff), known)
        if key not in self._pairs:
            self._pairs[key] = _pair(self, base, head, base_eff, head_eff, known)
        return self._pairs[key]


def _undecided(clauses: tuple[Clause, ...], context: Mapping[str, tuple[str, ...]], static: frozenset[str],
               substitutions: Mapping[str, str]) -> tuple[Clause, ...] | None:
    """The clauses that still depend on the request, or None when a principal-fixed clause is false."""
    remaining: list[Clause] = []
    for operator, key, values in clauses:
        lowered = key.lower()
        if lowered not in static and not (lowered.startswith("aws:principaltag/") and "aws:principaltag/*" in static):
            remaining.append((operator, key, values))
            continue
        concrete = [_substitute(v, substitutions) for v in values]
        try:
            matched = evaluate_clause(operator, key, concrete, context).matched
        except EvaluationError:
            remaining.append((operator, key, values))  # malformed for the evaluator: leave it to the reader
            continue
        if not matched:
            return None
    return tuple(remaining)


def _substitute(text: str, substitutions: Mapping[str, str]) -> str:
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text


# ============================================================================= one side


class _Side:
    """One organization, read for the diff: principal states per class, SCP denies per target."""

    def __init__(self, org: Organization, analyzer: _Analyzer) -> None:
        self.org = org
        self.analyzer = analyzer
        self._states: dict[str | None, dict[str, _State]] = {}
        self._scp_denies: dict[str, list[tuple[str, str, _Stmt]]] | None = None

    @property
    def accounts(self) -> dict[str, Account]:
        return self.org.accounts

    def states(self, account: Account) -> dict[str, _State]:
        if account.class_key not in self._states:
            self._states[account.class_key] = self._class_states(account.class_key)
        return self._states[account.class_key]

    def _text(self, path: str) -> str:
        if path not in self.org.files:
            raise EvaluationError(f"policies/manifest.json names {path}, which is not in the output")
        return self.org.files[path]

    def _policy(self, cls: Mapping[str, Any], arn: str) -> tuple[str, str | None]:
        """(label, document text) of a managed policy ARN; text None for an AWS managed policy without data."""
        managed = cls.get("managed_policies", {})
        if arn in managed:
            return managed[arn]["name"], self._text(managed[arn]["file"])
        if ":iam::aws:policy/" in arn:
            return f"{AWS_MANAGED}{arn.split(':policy/', 1)[1]}", _aws_managed_text(arn.split(":policy/", 1)[1])
        raise EvaluationError(f"policies/manifest.json: policy {arn} is attached but not emitted")

    def _class_states(self, class_key: str | None) -> dict[str, _State]:
        if class_key is None:
            return {}
        cls = self.org.manifest["classes"][class_key]
        states: dict[str, _State] = {}

        def state(principal: str, arns: Iterable[str], extra: Iterable[tuple[str, str, str]] = (),
                  boundary: str | None = None, trust: str | None = None, memberships: Iterable[str] = (),
                  tags: Mapping[str, str] | None = None) -> _State:
            attachments: dict[str, str | None] = {}
            documents: set[tuple[str, str]] = set()
            unmodeled: list[str] = []
            for arn in dict.fromkeys(arns):
                label, text = self._policy(cls, arn)
                if text is None:
                    unmodeled.append(arn)
                else:
                    documents.add((label, text))
                attachments.setdefault(arn, text)
            for name, label, text in extra:
                attachments[name] = text
                documents.add((label, text))
            for group in memberships:
                attachments[f"group/{group}"] = None
            bound = None
            if boundary:
                bound = (boundary, self._policy(cls, boundary)[1])
            return _State(principal, tuple(sorted(attachments.items())), tuple(sorted(documents)),
                          tuple(sorted(unmodeled)), bound, trust, tuple(sorted((tags or {}).items())))

        groups = {g["name"]: g for g in cls.get("groups", [])}
        for role in cls.get("roles", []):
            inline = [(f"inline:{p.rsplit('/', 1)[-1].removesuffix('.json')}",
                       f"inline {p.rsplit('/', 1)[-1].removesuffix('.json')}", self._text(p))
                      for p in role.get("inline_policies", [])]
            states[f"role/{role['name']}"] = state(f"role/{role['name']}", role.get("policies", []), inline,
                                                   role.get("boundary"), self._text(role["trust"]))
        for group in cls.get("groups", []):
            states[f"group/{group['name']}"] = state(f"group/{group['name']}", group.get("policies", []))
        for user in cls.get("users", []):
            arns = [arn for name in user.get("groups", []) for arn in groups.get(name, {}).get("policies", [])]
            states[f"user/{user['name']}"] = state(f"user/{user['name']}", arns, memberships=user.get("groups", []),
                                                   tags=user.get("tags", {}))
        return states

    def scp_denies(self, target: str) -> list[tuple[str, str, _Stmt]]:
        if self._scp_denies is None:
            self._scp_denies = {}
            for scp in self.org.manifest.get("service_control_policies", []):
                source = f"SCP {scp['name']} ({scp['target']})"
                self._scp_denies.setdefault(scp["target"], []).extend(
                    ("scp", source, s) for s in _statements(self._text(scp["file"])) if s.effect == "Deny")
        return self._scp_denies.get(target, [])

    def effective(self, account: Account, state: _State) -> _Effective:
        identity = self.analyzer.identity(state.documents, state.boundary)
        denies = list(identity.denies)
        if not account.management:
            for level in self.org.path_of(account):
                denies += self.scp_denies(level)
        context, static = self._context(account, state)
        substitutions = {ACCOUNT_ID: account.id, REGION: self.org.home_region}
        return self.analyzer.effective(identity, denies, context, static, substitutions)

    def _context(self, account: Account, state: _State) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
        """What the request context holds whatever the request, for this principal (see _PRINCIPAL_KEYS)."""
        kind, _, name = state.principal.partition("/")
        arn = self.org.caller(PrincipalSpec(kind, name), account).principal_arn  # type: ignore[arg-type]
        context = {"aws:principalarn": (arn,), "aws:principalaccount": (account.id,),
                   "aws:principalorgid": (self.org.org_id,), "aws:principalisawsservice": ("false",),
                   "aws:principaltype": ("AssumedRole" if kind == "role" else "User",)}
        static = set(_PRINCIPAL_KEYS)
        if kind == "user":
            context["aws:username"] = (name,)
            context.update({f"aws:principaltag/{k.lower()}": (v,) for k, v in state.tags})
            static.add("aws:principaltag/*")  # a user's tags are in the manifest; absent tags are absent
        elif kind == "group":
            static.discard("aws:username")  # any member's name
        return context, frozenset(static)


@cache
def _aws_managed_text(name: str) -> str | None:
    canonical = compare.canonical_name(name)
    if canonical is None or canonical != name:
        return None
    return json.dumps(compare.policy_document(canonical), sort_keys=True)


# ============================================================================= risks of a principal


@cache
def _rule_actions(rule: RiskRule) -> frozenset[str]:
    """Every concrete action a rule concerns (its patterns and access levels, minus its exceptions)."""
    found: set[str] = set()
    for pattern in rule.actions:
        found |= _expand(pattern)
    if rule.access_levels:
        found |= {a for a, level in _level_of().items() if level in rule.access_levels}
    if rule.except_:
        found = {a for a in found if not any(action_matches(p, a) for p in rule.except_)}
    return frozenset(found)


def _grant_mitigated(rule: RiskRule, grant: Grant) -> bool:
    """Is one grant made safe by the rule's mitigations (as risks.py reads them on the IR)?"""
    resources, negated, clauses = grant
    wanted = {k.lower() for k in rule.mitigated_by.conditions}
    for operator, key, values in clauses:
        if key.lower() in wanted and operator in POSITIVE_OPERATORS and values and \
                not any(set(v) <= set("*?/:") for v in values):
            return True
    if negated or not resources:
        return False
    if rule.mitigated_by.role_path and all(_role_path(r) for r in resources):
        return True
    if rule.mitigated_by.self_only and all(r.lower().endswith("user/${aws:username}") for r in resources):
        return True
    return rule.mitigated_by.scoped_resources and not any(service_wide(r) for r in resources)


def _role_path(resource: str) -> bool:
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return False
    name = parts[5][len("role/"):]
    return bool(name) and name[0] not in "*?"


def _unmitigated_findings(effective: _Effective) -> dict[str, frozenset[str]]:
    grants = effective.identity.grants
    out: dict[str, frozenset[str]] = {}
    for rule in risk_rules():
        if rule.with_pass_role:
            passrole = "iam:PassRole"
            if passrole not in effective.actions or all(_grant_mitigated(rule, g) for g in grants[passrole]):
                continue
            services = {path.service for path in rule.with_pass_role
                        if all(any(effective.actions & _expand(p) for p in group) for group in path.all_of)}
            if services:
                out[rule.id] = frozenset(services)
            continue
        hits = _rule_actions(rule) & effective.actions
        risky = frozenset(a for a in hits if not all(_grant_mitigated(rule, g) for g in grants[a]))
        if risky:
            out[rule.id] = risky
    return out


def _on_star(grants: Iterable[Grant]) -> bool:
    return any(negated or "*" in resources for resources, negated, _ in grants)


def _pair(analyzer: _Analyzer, base: _State | None, head: _State | None, base_eff: _Effective | None,
          head_eff: _Effective | None, known: str) -> tuple[PrincipalChange, tuple[RiskFlag, ...]] | None:
    """The change of one principal in one account (accounts left empty), with its risk flags. ``known``: the
    account is new and the principal is deployed exactly so in this account of the base."""
    principal = (head or base).principal  # type: ignore[union-attr]
    status: Literal["added", "removed", "changed"] = "added" if base is None else "removed" if head is None \
        else "changed"
    b_actions = base_eff.actions if base_eff else frozenset()
    h_actions = head_eff.actions if head_eff else frozenset()
    gained, lost = h_actions - b_actions, b_actions - h_actions
    b_unknown = base_eff.unknown if base_eff else frozenset()
    h_unknown = head_eff.unknown if head_eff else frozenset()

    scope_changes: list[ScopeChange] = []
    scope_pairs: list[tuple[frozenset[Grant], frozenset[Grant], list[str]]] = []
    if base_eff and head_eff and base_eff.identity is not head_eff.identity:
        common = b_actions & h_actions
        for (before, after), actions in analyzer.scope_index(base_eff.identity, head_eff.identity).items():
            kept = [a for a in actions if a in common]
            if kept:
                scope_pairs.append((before, after, kept))
                scope_changes.append(ScopeChange(_sorted(kept), tuple(sorted(_render_grant(g) for g in before)),
                                                 tuple(sorted(_render_grant(g) for g in after))))

    b_att = dict(base.attachments) if base else {}
    h_att = dict(head.attachments) if head else {}
    attached = _sorted(set(h_att) - set(b_att))
    detached = _sorted(set(b_att) - set(h_att))
    changed_policies = _sorted(n for n in set(b_att) & set(h_att) if b_att[n] != h_att[n])
    unmodeled_all = set(base.unmodeled if base else ()) | set(head.unmodeled if head else ())
    unmodeled = _sorted(n for n in (*attached, *detached) if n in unmodeled_all)

    boundary = _boundary_change(base.boundary if base else None, head.boundary if head else None) \
        if principal.startswith("role/") and status != "removed" else None
    trust = _trust_changes(base.trust if base else None, head.trust if head else None)

    conditions: list[str] = []  # notes on gained actions
    limit_changes: list[str] = []  # conditional denies that start or stop applying to actions held in both
    flags: list[RiskFlag] = []
    if head_eff and gained:
        for limit in head_eff.limits:
            covered = gained & _actions(*limit.action_key)[0]
            if covered:
                conditions.append(f"{limit.description} (applies to {len(covered)} of the gained actions)")
    if base_eff and head_eff:
        common = b_actions & h_actions
        old_limits = {lim.description: lim for lim in base_eff.limits}
        new_limits = {lim.description: lim for lim in head_eff.limits}
        for description in sorted(set(new_limits) - set(old_limits)):
            if common & _actions(*new_limits[description].action_key)[0]:
                limit_changes.append(f"now also limited by: {description}")
        for description in sorted(set(old_limits) - set(new_limits)):
            limit = old_limits[description]
            if not common & _actions(*limit.action_key)[0]:
                continue
            limit_changes.append(f"no longer limited by: {description}")
            labels = sorted({_SENSITIVE_KEYS[k] for k in limit.keys if k in _SENSITIVE_KEYS})
            if labels and limit.kind != "scp":  # SCP statements are flagged once, in the SCP section
                flags.append(_flag("high", "condition-removed", principal,
                                   f"no longer limited by a {'/'.join(labels)} condition: {description}"))

    change = PrincipalChange(
        principal=principal, accounts=(), status=status, gained=_sorted(gained), lost=_sorted(lost),
        gained_unknown=_sorted(h_unknown - b_unknown), lost_unknown=_sorted(b_unknown - h_unknown),
        scope_changes=tuple(sorted(scope_changes, key=lambda s: (s.actions[0].lower(), s.before, s.after))),
        attached=attached, detached=detached, changed_policies=changed_policies, unmodeled=unmodeled,
        boundary=boundary, trust=trust, conditions=tuple(sorted(conditions)) + tuple(limit_changes),
        same_policies_as=known)
    if not (change.permissions_changed or attached or detached or changed_policies or boundary or trust
            or limit_changes):
        return None

    flags += _permission_flags(analyzer, principal, base_eff, head_eff, gained, scope_pairs)
    flags += _attachment_flags(principal, status, change, base, head)
    if known:
        # A new account receiving a baseline other accounts already have is no new kind of access: the account
        # is listed under accounts, and its principals' grants under principals, without repeating every flag.
        flags = []
    return change, tuple(flags)


def _flag(severity: Severity, kind: str, subject: str, reason: str) -> RiskFlag:
    return RiskFlag(severity, kind, subject, (), reason)


def _permission_flags(analyzer: _Analyzer, principal: str, base_eff: _Effective | None, head_eff: _Effective | None,
                      gained: frozenset[str], scope_pairs: list[tuple[frozenset[Grant], frozenset[Grant], list[str]]]
                      ) -> list[RiskFlag]:
    flags: list[RiskFlag] = []
    before, after = analyzer.unmitigated(base_eff), analyzer.unmitigated(head_eff)
    rules = {r.id: r for r in risk_rules()}
    flagged: set[str] = set()
    for rule_id, found in sorted(after.items()):
        new = found - before.get(rule_id, frozenset())
        if not new:
            continue
        rule = rules[rule_id]
        if not rule.with_pass_role:
            flagged |= new
        what = f"passes roles to {', '.join(sorted(new))}" if rule.with_pass_role else _preview(_sorted(new))
        flags.append(_flag(_CATEGORY_SEVERITY.get(rule.category, "medium"), rule_id, principal,
                           f"{rule.title}: {what}"))
    levels = _level_of()
    # Permissions management a risk rule already named is not repeated.
    management = _sorted(a for a in gained if levels.get(a) == PERMISSIONS_MANAGEMENT and a not in flagged)
    if management:
        flags.append(_flag("medium", "permissions-management", principal,
                           f"gains {_count(len(management), 'permissions-management action')}: "
                           f"{_preview(management)}"))
    if head_eff:
        grants = head_eff.identity.grants
        starred = {a for a in gained if levels.get(a) in _WRITE_LEVELS and _on_star(grants[a])}
        starred |= {a for before_g, after_g, actions in scope_pairs if _on_star(after_g) and not _on_star(before_g)
                    for a in actions if levels.get(a) in _WRITE_LEVELS}
        if starred:
            flags.append(_flag("medium", "star-resource", principal,
                               f"{_count(len(starred), 'write/permissions-management action')} newly granted on "
                               f"\"*\": {_preview(_sorted(starred))}"))
        removed: dict[str, set[str]] = {}
        for before_g, after_g, actions in scope_pairs:
            required = set.intersection(*({c[1].lower() for c in g[2]} for g in before_g)) if before_g else set()
            for grant in after_g:
                present = {c[1].lower() for c in grant[2]}
                for key in required - present:
                    if key in _SENSITIVE_KEYS:
                        removed.setdefault(_SENSITIVE_KEYS[key], set()).update(actions)
        for label, actions in sorted(removed.items()):
            flags.append(_flag("high", "condition-removed", principal,
                               f"{label} condition removed from {_count(len(actions), 'action')}: "
                               f"{_preview(_sorted(actions))}"))
        new_wildcards = sorted(head_eff.identity.wildcards - (base_eff.identity.wildcards if base_eff else set()))
        if new_wildcards:
            flags.append(_flag("low", "new-wildcard", principal,
                               f"new wildcard action pattern(s) {_preview(new_wildcards)} (they also match actions "
                               "AWS adds later)"))
        unknown = head_eff.identity.own_unknown & head_eff.unknown
        unknown -= base_eff.identity.own_unknown if base_eff else frozenset()
        if unknown:
            flags.append(_flag("low", "unknown-action", principal,
                               f"gains action pattern(s) unknown to the IAM database: {_preview(_sorted(unknown))}"))
    return flags


def _attachment_flags(principal: str, status: str, change: PrincipalChange, base: _State | None,
                      head: _State | None) -> list[RiskFlag]:
    flags: list[RiskFlag] = []
    new_unmodeled = [n for n in change.unmodeled if n in change.attached]
    if new_unmodeled:
        flags.append(_flag("medium", "unmodeled-policy", principal,
                           f"attaches AWS managed {_preview(new_unmodeled)}, whose grants are not in the reference "
                           "data: review them by hand"))
    if change.boundary and change.boundary.change == "removed":
        flags.append(_flag("high", "boundary-removed", principal,
                           f"permissions boundary {change.boundary.before} removed"))
    role = principal.removeprefix("role/")
    for trust in change.trust:
        if trust.change == "added":
            if trust.principal in ("*", "Not *") or trust.principal.startswith("Not "):
                flags.append(_flag("high", "trust-widened", principal,
                                   f"role {role} may be assumed by anyone ({trust.principal})"))
            elif status == "added" or trust.principal.startswith("Service:"):
                flags.append(_flag("medium", "trust-added", principal,
                                   f"role {role} may be assumed by {trust.principal}"))
            else:
                flags.append(_flag("high", "trust-widened", principal,
                                   f"new principal may assume role {role}: {trust.principal}"))
        elif trust.change == "changed":
            for reason in _trust_widening(base, head, trust.principal):
                flags.append(_flag("high", "trust-widened", principal, f"role {role}: {reason}"))
        elif trust.change == "removed" and status != "removed" and trust.principal.startswith("Deny "):
            flags.append(_flag("high", "trust-widened", principal, f"role {role}: Deny of {trust.principal} removed"))
    return flags


# ============================================================================= trust and boundary


def _trust_entries(text: str | None) -> dict[str, frozenset[tuple[tuple[str, ...], tuple[Clause, ...]]]]:
    """Principal -> the (actions, conditions) alternatives under which it may assume the role."""
    entries: dict[str, set[tuple[tuple[str, ...], tuple[Clause, ...]]]] = {}
    if text is None:
        return {}
    for statement in _statements(text):
        for principal in statement.principals:
            name = principal if statement.effect == "Allow" else f"Deny {principal}"
            actions = (("NotAction ",) if statement.negated_actions else ()) + statement.patterns
            entries.setdefault(name, set()).add((actions, statement.conditions))
    return {k: frozenset(v) for k, v in entries.items()}


def _render_alternatives(alternatives: Iterable[tuple[tuple[str, ...], tuple[Clause, ...]]]) -> tuple[str, ...]:
    return tuple(sorted(", ".join(actions) + (f" when {_render_clauses(clauses)}" if clauses else " (no conditions)")
                        for actions, clauses in alternatives))


def _trust_changes(base: str | None, head: str | None) -> tuple[TrustChange, ...]:
    if base == head:
        return ()
    before, after = _trust_entries(base), _trust_entries(head)
    out = []
    for principal in sorted(set(before) | set(after)):
        b, a = before.get(principal), after.get(principal)
        if b == a:
            continue
        change: Literal["added", "removed", "changed"] = "added" if b is None else "removed" if a is None \
            else "changed"
        out.append(TrustChange(principal, change, _render_alternatives(b or ()), _render_alternatives(a or ())))
    return tuple(out)


def _trust_widening(base: _State | None, head: _State | None, principal: str) -> list[str]:
    """Why a changed trust entry lets more requests in: a condition key dropped, or its values widened."""
    before = _trust_entries(base.trust if base else None).get(principal, frozenset())
    after = _trust_entries(head.trust if head else None).get(principal, frozenset())
    if not before or not after:
        return []

    def required(alternatives: frozenset) -> dict[str, set[str]]:
        keys = set.intersection(*({c[1].lower() for c in clauses} for _, clauses in alternatives))
        return {k: {v for _, clauses in alternatives for c in clauses if c[1].lower() == k for v in c[2]}
                for k in keys}

    old, new = required(before), required(after)
    reasons = [f"{principal} no longer requires {key}" + (f" ({_SENSITIVE_KEYS[key]})" if key in _SENSITIVE_KEYS
                                                          else "")
               for key in sorted(set(old) - set(new))]
    for key in sorted(set(old) & set(new)):
        added = new[key] - old[key]
        if added:
            reasons.append(f"{principal}: {key} widened to {', '.join(sorted(new[key]))} "
                           f"(was {', '.join(sorted(old[key]))})")
    old_actions = {a for actions, _ in before for a in actions}
    more = sorted({a for actions, _ in after for a in actions} - old_actions)
    if more:
        reasons.append(f"{principal} may now also {', '.join(more)}")
    return reasons


def _boundary_change(base: tuple[str, str | None] | None, head: tuple[str, str | None] | None
                     ) -> BoundaryChange | None:
    if base == head:
        return None
    if base is None:
        return BoundaryChange("attached", None, head[0])  # type: ignore[index]
    if head is None:
        return BoundaryChange("removed", base[0], None)
    if base[0] != head[0]:
        return BoundaryChange("replaced", base[0], head[0])
    return BoundaryChange("changed", base[0], head[0])


# ============================================================================= SCPs and RCPs


def _attached(org: Organization, kind: str) -> dict[str, dict[str, tuple[str, tuple[str, ...]]]]:
    """Target -> policy name -> (document text, guardrails)."""
    out: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    element = "service_control_policies" if kind == "scp" else "resource_control_policies"
    for entry in org.manifest.get(element, []):
        text = org.files.get(entry["file"])
        if text is None:
            raise EvaluationError(f"policies/manifest.json names {entry['file']}, which is not in the output")
        out.setdefault(entry["target"], {})[entry["name"]] = (text, tuple(entry.get("guardrails", ())))
    return out


def _statement_changes(policy: str, before: str | None, after: str | None) -> list[StatementChange]:
    old = {s.sid: s for s in _statements(before)} if before else {}
    new = {s.sid: s for s in _statements(after)} if after else {}
    out = []
    for sid in sorted(set(old) | set(new)):
        b, a = old.get(sid), new.get(sid)
        if b == a:
            continue
        shown = a or b
        assert shown is not None
        change: Literal["added", "removed", "changed"] = "added" if b is None else "removed" if a is None \
            else "changed"
        detail = _statement_detail(b, a) if b and a else ""
        out.append(StatementChange(policy, sid, change, shown.effect, shown.patterns, shown.negated_actions, detail))
    return out


def _statement_detail(before: _Stmt, after: _Stmt) -> str:
    parts = []
    if before.effect != after.effect:
        parts.append(f"Effect {before.effect} → {after.effect}")
    if before.action_key != after.action_key:
        element = "NotAction" if after.negated_actions else "Action"
        if before.negated_actions == after.negated_actions:
            plus = sorted(set(after.patterns) - set(before.patterns))
            minus = sorted(set(before.patterns) - set(after.patterns))
            parts.append(f"{element} " + ", ".join([f"+{p}" for p in plus] + [f"-{p}" for p in minus]))
        else:
            parts.append(f"{'NotAction' if before.negated_actions else 'Action'} → {element}")
    if (before.resources, before.negated_resources) != (after.resources, after.negated_resources):
        parts.append(f"Resource {', '.join(before.resources)} → {', '.join(after.resources)}")
    if before.conditions != after.conditions:
        parts.append(f"Condition {_render_clauses(before.conditions) or '(none)'} → "
                     f"{_render_clauses(after.conditions) or '(none)'}")
    return "; ".join(parts)


def _same_policy(before: tuple[str, tuple[str, ...]], after: tuple[str, tuple[str, ...]]) -> bool:
    """Same statements and guardrails, whatever their order (packing sorts guardrails by id; order means nothing)."""
    def canonical(text: str) -> list[str]:
        raw = json.loads(text).get("Statement", [])
        return sorted(json.dumps(s, sort_keys=True) for s in ([raw] if isinstance(raw, dict) else raw))
    return set(before[1]) == set(after[1]) and canonical(before[0]) == canonical(after[0])


def _target_changes(base: Organization, head: Organization) -> tuple[list[TargetChange], list[RiskFlag]]:
    limits = default_limits()
    changes: list[TargetChange] = []
    flags: list[RiskFlag] = []
    for kind in ("scp", "rcp"):
        size_limit = limits[f"{kind}_chars"].value
        slot_limit = limits["scps_per_target"].value if kind == "scp" else \
            (limits["rcps_per_target"].value if "rcps_per_target" in limits else _RCPS_PER_TARGET)
        before, after = _attached(base, kind), _attached(head, kind)
        label = kind.upper()
        for target in sorted(set(before) | set(after)):
            old, new = before.get(target, {}), after.get(target, {})
            if old.keys() == new.keys() and all(_same_policy(old[n], new[n]) for n in old):
                continue
            added = _sorted(set(new) - set(old))
            removed = _sorted(set(old) - set(new))
            changed = _sorted(n for n in set(old) & set(new) if not _same_policy(old[n], new[n]))
            statements: list[StatementChange] = []
            sizes: list[PolicySize] = []
            g_added: set[str] = set()
            g_removed: set[str] = set()
            for name in sorted(set(old) | set(new)):
                b, a = old.get(name), new.get(name)
                if b and a:
                    g_added |= set(a[1]) - set(b[1])
                    g_removed |= set(b[1]) - set(a[1])
                elif a:
                    g_added |= set(a[1])
                elif b:
                    g_removed |= set(b[1])
                if b and a and _same_policy(b, a):
                    continue
                statements += _statement_changes(name, b[0] if b else None, a[0] if a else None)
                sizes.append(PolicySize(name, len(_minified(b[0])) if b else None,
                                        len(_minified(a[0])) if a else None, size_limit))
            slots_before, slots_after = 1 + len(old), 1 + len(new)
            change = TargetChange(kind, target, added, removed, changed,  # type: ignore[arg-type]
                                  tuple(statements), _sorted(g_added), _sorted(g_removed), tuple(sizes),
                                  slots_before, slots_after, slot_limit)
            changes.append(change)
            # -- flags
            for name in removed:
                flags.append(_flag("high", f"{kind}-removed", f"{label} {name} at {target}",
                                   f"{label} {name} detached from {target}"))
            for statement in statements:
                subject = f"{label} {statement.policy} at {target}"
                if statement.policy in removed or statement.effect != "Deny":
                    continue
                if statement.change == "removed":
                    denied = _render_patterns(statement.not_action, statement.actions)
                    flags.append(_flag("high", f"{kind}-statement-removed", subject,
                                       f"Deny {statement.sid} removed ({denied})"))
                elif statement.change == "changed":
                    flags.append(_flag("medium", f"{kind}-statement-changed", subject,
                                       f"Deny {statement.sid} changed: {statement.detail}"))
            for guardrail in change.guardrails_removed:
                flags.append(_flag("high", "guardrail-removed", f"{label} at {target}",
                                   f"guardrail {guardrail} no longer attached at {target}"))
            for size in sizes:
                if size.after is not None and size.after > size.limit:
                    flags.append(_flag("high", f"{kind}-size", f"{label} {size.policy} at {target}",
                                       f"{size.after} characters, over the {size.limit}-character limit"))
            if slots_after > slot_limit:
                flags.append(_flag("high", f"{kind}-slots", f"{label} at {target}",
                                   f"{slots_after} policies attached (FullAWSAccess included), over the limit of "
                                   f"{slot_limit}"))
    return changes, flags


# ============================================================================= accounts


def _account_changes(base: Organization, head: Organization) -> tuple[list[AccountChange], list[RiskFlag]]:
    changes: list[AccountChange] = []
    flags: list[RiskFlag] = []
    b, h = base.accounts, head.accounts
    for name in sorted(set(h) - set(b)):
        changes.append(AccountChange(name, "added", f"in {h[name].unit or 'root'}"))
    for name in sorted(set(b) - set(h)):
        changes.append(AccountChange(name, "removed", f"was in {b[name].unit or 'root'}"))
    head_scps = {scp["name"]: scp["target"] for scp in head.manifest.get("service_control_policies", [])}
    base_scps = [(scp["name"], scp["target"]) for scp in base.manifest.get("service_control_policies", [])]
    for name in sorted(set(b) & set(h)):
        old, new = b[name], h[name]
        if old.unit == new.unit:
            continue
        moved = f"{old.unit or 'root'} → {new.unit or 'root'}"
        changes.append(AccountChange(name, "moved", moved))
        if new.management:
            continue
        old_path, new_path = set(base.path_of(old)), set(head.path_of(new))
        for scp, target in sorted(base_scps):
            # An SCP that still exists but no longer governs the account: its removal is flagged nowhere else.
            if target in old_path and scp in head_scps and head_scps[scp] not in new_path:
                flags.append(RiskFlag("high", "scp-escaped", f"account {name}", (name,),
                                      f"no longer under SCP {scp} (moved {moved})"))
    return changes, flags


# ============================================================================= entry point


WILDCARDS = "policies/wildcards.json"


@dataclass(frozen=True)
class WildcardWidening:
    """An existing wildcard pattern that matches other actions than it did (a new IAM action database)."""

    pattern: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]


def _wildcards(org: Organization) -> dict[str, Any]:
    text = org.files.get(WILDCARDS)
    return json.loads(text) if text else {}


def _database_changes(base: Organization, head: Organization) -> tuple[list[str], list[WildcardWidening],
                                                                       list[RiskFlag]]:
    """Notes, wildcard widenings and flags when the two sides were compiled with different IAM databases.

    Each side's ``policies/wildcards.json`` records what its patterns matched in the database it was compiled
    with (for a git base: the committed file), so the actions an unchanged pattern newly matches are exact.
    """
    old, new = _wildcards(base), _wildcards(head)
    old_db, new_db = old.get("iam_database", {}).get("version"), new.get("iam_database", {}).get("version")
    if not old or not new or old_db == new_db:
        return [], [], []
    notes = [f"the IAM action database changed from {old_db} to {new_db}: wildcard patterns that exist on both sides "
             "are compared with what each side's database made them match"]
    widenings: list[WildcardWidening] = []
    flags: list[RiskFlag] = []
    levels = _level_of()
    for pattern in sorted(set(old.get("patterns", {})) & set(new.get("patterns", {}))):
        before, after = old["patterns"][pattern], new["patterns"][pattern]
        if not isinstance(before, list) or not isinstance(after, list):
            continue  # whole-service patterns and "*": "everything" before and after
        gained = tuple(sorted(set(after) - set(before)))
        lost = tuple(sorted(set(before) - set(after)))
        if not (gained or lost):
            continue
        widenings.append(WildcardWidening(pattern, gained, lost))
        sensitive = [a for a in gained if levels.get(a) in ("Permissions management", "Write")]
        if sensitive:
            flags.append(RiskFlag("medium", "wildcard-widened", f"pattern {pattern}", (),
                                  f"{pattern} now also matches {', '.join(sensitive[:4])}"
                                  f"{' …' if len(sensitive) > 4 else ''} ({levels.get(sensitive[0])} access)"))
    return notes, widenings, flags


def diff_organizations(base: Organization, head: Organization) -> PermissionDiff:
    """Who can now do what, where: every permission-relevant change from ``base`` to ``head``."""
    analyzer = _Analyzer()
    sides = _Side(base, analyzer), _Side(head, analyzer)
    grouped: dict[tuple[PrincipalChange, tuple[RiskFlag, ...]], list[str]] = {}
    deployed: dict[_State, list[Account]] = {}
    for account in sorted(base.accounts):
        for state in sides[0].states(base.accounts[account]).values():
            deployed.setdefault(state, []).append(base.accounts[account])
    for name in sorted(set(base.accounts) | set(head.accounts)):
        accounts = [side.accounts.get(name) for side in sides]
        states = [side.states(a) if a else {} for side, a in zip(sides, accounts, strict=True)]
        for principal in sorted(set(states[0]) | set(states[1])):
            b_state, h_state = states[0].get(principal), states[1].get(principal)
            b_eff = sides[0].effective(accounts[0], b_state) if b_state and accounts[0] else None
            h_eff = sides[1].effective(accounts[1], h_state) if h_state and accounts[1] else None
            known = ""
            if accounts[0] is None and accounts[1] is not None and h_state in deployed:
                # Name an account of the same OU when there is one: the closest existing counterpart.
                peers = deployed[h_state]
                known = next((a.name for a in peers if a.unit == accounts[1].unit), peers[0].name)
            found = analyzer.pair(b_state, h_state, b_eff, h_eff, known)
            if found is not None:
                grouped.setdefault(found, []).append(name)

    principals: list[PrincipalChange] = []
    flags: list[RiskFlag] = []
    for (change, change_flags), names in grouped.items():
        where = tuple(sorted(names))
        principals.append(replace(change, accounts=where))
        flags += [replace(flag, accounts=where) for flag in change_flags]
    targets, target_flags = _target_changes(base, head)
    accounts, account_flags = _account_changes(base, head)
    flags += target_flags + account_flags
    database_notes, widenings, database_flags = _database_changes(base, head)
    flags += database_flags
    notes = [*getattr(base, "notes", ()), *getattr(head, "notes", ()), *database_notes]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return PermissionDiff(
        base=getattr(base, "label", "") or "base", head=getattr(head, "label", "") or "head",
        iam_database=iam_database().version, accounts=tuple(accounts),
        principals=tuple(sorted(principals, key=lambda p: (p.principal, p.accounts, p.status))),
        organization_policies=tuple(targets),
        risks=tuple(sorted(set(flags), key=lambda f: (rank[f.severity], f.kind, f.subject, f.accounts, f.reason))),
        notes=tuple(notes), wildcards=tuple(widenings))
