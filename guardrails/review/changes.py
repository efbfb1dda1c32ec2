"""What a permission diff reports: the result dataclasses and the headline summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
# high and medium flags make a diff risky (exit code 4 with --fail-on-risk); low flags are review hints.
RISKY_SEVERITIES = frozenset({"high", "medium"})


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
class Replacement:
    """Something deployed that the change destroys and creates again under another identity (a StackSet or stack
    instance that changes its name, an IAM role or policy whose name or path changes): what it takes with it."""

    kind: str  # "stackset", "stack-instance", "role", "managed-policy", "group", "user"
    before: str  # "StackSet guardrails-baseline-sandbox-1", "role /app/Deployer"
    after: str  # the same for the head, or "" when nothing takes its place under a new name
    accounts: tuple[str, ...]  # where it happens
    destroys: tuple[str, ...]  # what goes with it: "role/BreakGlass", "policy/guardrails/guardrails-admin-1", …
    detail: str  # one line per format: what CloudFormation and Terraform do, and how to avoid it


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
    replacements: tuple[Replacement, ...] = ()  # deployed resources destroyed and created again (review/replacements)

    @property
    def risky(self) -> bool:
        """Any high or medium risk flag (``guardrails diff --fail-on-risk`` exits 4)."""
        return any(flag.severity in RISKY_SEVERITIES for flag in self.risks)

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.principals or self.organization_policies or self.wildcards
                    or self.replacements)

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
        if self.replacements:
            parts.append(f"{_count(len(self.replacements), 'deployed resource')} replaced")
        if not parts:
            return "No permission changes"
        risky = sum(1 for f in self.risks if f.severity in RISKY_SEVERITIES)
        parts.append(f"{_count(risky, 'risky change')}" if risky else "no risky changes")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class WildcardWidening:
    """An existing wildcard pattern that matches other actions than it did (a new IAM action database)."""

    pattern: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]
