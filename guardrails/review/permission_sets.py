"""Identity Center permission sets in the diff: each set is a principal in every account it is assigned to (its
gains and losses come from the same analysis as roles), plus what only permission sets have: the session duration
and the assignments (which group gets which set where)."""

from __future__ import annotations

import json

from guardrails.evaluation.organization import Organization
from guardrails.iam.documents import as_tuple, statements_of
from guardrails.iam.manifest import PermissionSetEntry
from guardrails.review.changes import RiskFlag

PRINCIPAL = "permission-set"
# Sessions longer than this are the exception AWS's guidance warns about (the default is one hour).
# https://docs.aws.amazon.com/singlesignon/latest/userguide/howtosessionduration.html
LONG_SESSION_SECONDS = 4 * 3600


def assigned(org: Organization, account: str) -> list[PermissionSetEntry]:
    """The permission sets assigned to an account (any group)."""
    return [ps for ps in org.manifest.permission_sets if account in ps.accounts]


def full_admin(org: Organization, ps: PermissionSetEntry) -> bool:
    """AdministratorAccess attached, or an inline Allow of every action on every resource."""
    if any(arn.endswith(":policy/AdministratorAccess") for arn in ps.managed_policies):
        return True
    if not ps.file or ps.file not in org.files:
        return False
    return any(s.get("Effect") == "Allow" and "*" in as_tuple(s.get("Action")) and "*" in as_tuple(s.get("Resource"))
               for s in statements_of(json.loads(org.files[ps.file])))


def session_and_assignment_flags(base: Organization, head: Organization) -> list[RiskFlag]:
    """A longer session, and groups newly given a set in an account."""
    flags: list[RiskFlag] = []
    before, after = base.permission_sets, head.permission_sets
    for name, ps in sorted(after.items()):
        old = before.get(name)
        subject = f"{PRINCIPAL}/{name}"
        seconds = ps.session_seconds
        where = ps.accounts
        if old is not None and seconds > old.session_seconds:
            severity = "high" if seconds > LONG_SESSION_SECONDS else "medium"
            flags.append(RiskFlag(severity, "session-longer", subject, where,
                                  f"session duration {old.session_duration} → {ps.session_duration}"))
        elif old is None and seconds > LONG_SESSION_SECONDS:
            flags.append(RiskFlag("medium", "session-longer", subject, where,
                                  f"new permission set with sessions of {ps.session_duration}"))
        if full_admin(head, ps) and not (old is not None and full_admin(base, old)):
            flags.append(RiskFlag("high", "full-admin", subject, where,
                                  "the permission set now grants '*' on '*'"
                                  + (f" (declared: {ps.full_admin_accepted})" if ps.full_admin_accepted else "")))
        old_assignments = set(old.assignments) if old is not None else set()
        added: dict[str, list[str]] = {}
        for entry in ps.assignments:
            if entry not in old_assignments:
                added.setdefault(entry.group, []).append(entry.account)
        for group, accounts in sorted(added.items()):
            # Access granted to a group is a review item; to a declared full-admin set it is high risk.
            flags.append(RiskFlag("low" if ps.full_admin_accepted is None else "high", "assignment-added",
                                  subject, tuple(sorted(accounts)), f"group {group} newly gets this permission set"))
    return flags
