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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from guardrails.evaluation.organization import Account, Organization
from guardrails.iam.actions import iam_database
from guardrails.iam.manifest import JsonObject, decoded
from guardrails.review.actions import _level_of
from guardrails.review.analyzer import _Analyzer
from guardrails.review.changes import PermissionDiff, RiskFlag, SEVERITIES, WildcardWidening
from guardrails.review.permission_sets import session_and_assignment_flags
from guardrails.review.replacements import replacements
from guardrails.review.side import _Side
from guardrails.review.targets import _account_changes, _target_changes

if TYPE_CHECKING:
    from guardrails.review.analyzer import _State
    from guardrails.review.changes import PrincipalChange


WILDCARDS = "policies/wildcards.json"


@dataclass(frozen=True)
class Wildcards:
    """A tree's ``policies/wildcards.json`` (docs/policies-manifest.md): the IAM action database it was compiled
    with, and what each wildcard pattern matched (the actions, or a count for ``*`` and ``svc:*``)."""

    database_package: str
    database_version: str
    database_published: str
    patterns: Mapping[str, int | tuple[str, ...]]

    @classmethod
    def of(cls, org: Organization) -> Wildcards | None:
        """None for a tree written before the file existed."""
        text = org.files.get(WILDCARDS)
        if not text:
            return None
        top = JsonObject(decoded(text, WILDCARDS), "", WILDCARDS)
        database, listed = top.section("iam_database"), top.section("patterns")
        return cls(database.text("package"), database.text("version"), database.text("published"),
                   {p: listed.number(p) if isinstance(v, int) else listed.texts(p) for p, v in listed.raw.items()})


def _database_changes(base: Organization, head: Organization) -> tuple[list[str], list[WildcardWidening],
                                                                       list[RiskFlag]]:
    """Notes, wildcard widenings and flags when the two sides were compiled with different IAM databases.

    Each side's ``policies/wildcards.json`` records what its patterns matched in the database it was compiled
    with (for a git base: the committed file), so the actions an unchanged pattern newly matches are exact.
    """
    old, new = Wildcards.of(base), Wildcards.of(head)
    if old is None or new is None or old.database_version == new.database_version:
        return [], [], []
    notes = [f"the IAM action database changed from {old.database_version} to {new.database_version}: wildcard "
             "patterns that exist on both sides are compared with what each side's database made them match"]
    widenings: list[WildcardWidening] = []
    flags: list[RiskFlag] = []
    levels = _level_of()
    for pattern in sorted(set(old.patterns) & set(new.patterns)):
        before, after = old.patterns[pattern], new.patterns[pattern]
        if isinstance(before, int) or isinstance(after, int):
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


def _principal_changes(base: Organization, head: Organization, analyzer: _Analyzer
                       ) -> dict[tuple[PrincipalChange, tuple[RiskFlag, ...]], list[str]]:
    """Each principal change (accounts left empty) -> the accounts it happens in.

    Accounts of one cohort on both sides (guardrails.review.cohorts) are decided once, through the first of them,
    for every principal whose Denies decide alike across the cohort; the others account by account.
    """
    sides = _Side(base, analyzer), _Side(head, analyzer)
    grouped: dict[tuple[PrincipalChange, tuple[RiskFlag, ...]], list[str]] = {}
    deployed: dict[_State, list[Account]] | None = None
    cohorts: dict[tuple, list[str]] = {}
    for name in sorted(set(base.accounts) | set(head.accounts)):
        key = tuple(side.cohort(side.accounts.get(name)) for side in sides)
        cohorts.setdefault(key, []).append(name)
    for names in cohorts.values():
        first = [side.accounts.get(names[0]) for side in sides]
        states = [side.states(a) if a else {} for side, a in zip(sides, first, strict=True)]
        for principal in sorted(set(states[0]) | set(states[1])):
            b_state, h_state = states[0].get(principal), states[1].get(principal)
            known = ""
            if first[0] is None and first[1] is not None:
                if deployed is None:
                    deployed = _deployed(sides[0])
                if h_state in deployed:
                    # Name an account of the same OU when there is one: the closest existing counterpart.
                    peers = deployed[h_state]
                    known = next((a.name for a in peers if a.unit == first[1].unit), peers[0].name)
            shared = all(side.invariant(a, s) for side, a, s in zip(sides, first, (b_state, h_state), strict=True)
                         if a and s)
            for name in names[:1] if shared else names:
                accounts = [side.accounts.get(name) for side in sides]
                b_eff = sides[0].effective(accounts[0], b_state) if b_state and accounts[0] else None
                h_eff = sides[1].effective(accounts[1], h_state) if h_state and accounts[1] else None
                found = analyzer.pair(b_state, h_state, b_eff, h_eff, known)
                if found is not None:
                    grouped.setdefault(found, []).extend(names if shared else [name])
    return grouped


def _deployed(side: _Side) -> dict[_State, list[Account]]:
    """Each principal state of the base -> the accounts (sorted by name) it is deployed in."""
    deployed: dict[_State, list[Account]] = {}
    for account in sorted(side.accounts):
        for state in side.states(side.accounts[account]).values():
            deployed.setdefault(state, []).append(side.accounts[account])
    return deployed


def diff_organizations(base: Organization, head: Organization) -> PermissionDiff:
    """Who can now do what, where: every permission-relevant change from ``base`` to ``head``."""
    analyzer = _Analyzer()
    grouped = _principal_changes(base, head, analyzer)

    principals: list[PrincipalChange] = []
    flags: list[RiskFlag] = []
    for (change, change_flags), names in grouped.items():
        where = tuple(sorted(names))
        principals.append(replace(change, accounts=where))
        flags += [replace(flag, accounts=where) for flag in change_flags]
    targets, target_flags = _target_changes(base, head)
    accounts, account_flags = _account_changes(base, head)
    flags += target_flags + account_flags + session_and_assignment_flags(base, head)
    database_notes, widenings, database_flags = _database_changes(base, head)
    flags += database_flags
    replaced, replacement_flags = replacements(base, head)
    flags += replacement_flags
    notes = [*getattr(base, "notes", ()), *getattr(head, "notes", ()), *database_notes]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return PermissionDiff(
        base=getattr(base, "label", "") or "base", head=getattr(head, "label", "") or "head",
        iam_database=iam_database().version, accounts=tuple(accounts),
        principals=tuple(sorted(principals, key=lambda p: (p.principal, p.accounts, p.status))),
        organization_policies=tuple(targets),
        risks=tuple(sorted(set(flags), key=lambda f: (rank[f.severity], f.kind, f.subject, f.accounts, f.reason))),
        notes=tuple(notes), wildcards=tuple(widenings), replacements=tuple(replaced))

# The result types and the helpers tests reach for, importable from here as before the split.
from guardrails.review.changes import (  # noqa: E402,F401
    RISKY_SEVERITIES, AccountChange, BoundaryChange, PolicySize, PrincipalChange, ScopeChange, StatementChange,
    TargetChange, TrustChange,
)
from guardrails.review.statements import _usable  # noqa: E402,F401
