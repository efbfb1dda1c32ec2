"""Identity Center permission sets in the diff: each set is a principal in every account it is assigned to (its
gains and losses come from the same analysis as roles), plus what only permission sets have: the session duration
and the assignments (which group gets which set where)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from guardrails.evaluation.organization import Organization
from guardrails.iam.documents import as_tuple, statements_of
from guardrails.review.changes import RiskFlag

PRINCIPAL = "permission-set"
# Sessions longer than this are the exception AWS's guidance warns about (the default is one hour).
# https://docs.aws.amazon.com/singlesignon/latest/userguide/howtosessionduration.html
LONG_SESSION_SECONDS = 4 * 3600


def permission_sets(org: Organization) -> dict[str, Mapping[str, Any]]:
    """The manifest's permission sets by name (none in output older than this section)."""
    return {ps["name"]: ps for ps in org.manifest.get("permission_sets", [])}


def assigned(org: Organization, account: str) -> list[Mapping[str, Any]]:
    """The permission sets assigned to an account (any group)."""
    return [ps for ps in permission_sets(org).values()
            if any(a["account"] == account for a in ps.get("assignments", []))]


def full_admin(org: Organization, ps: Mapping[str, Any]) -> bool:
    """AdministratorAccess attached, or an inline Allow of every action on every resource."""
    if any(arn.endswith(":policy/AdministratorAccess") for arn in ps.get("managed_policies", [])):
        return True
    if not ps.get("file") or ps["file"] not in org.files:
        return False
    return any(s.get("Effect") == "Allow" and "*" in as_tuple(s.get("Action")) and "*" in as_tuple(s.get("Resource"))
               for s in statements_of(json.loads(org.files[ps["file"]])))


def session_and_assignment_flags(base: Organization, head: Organization) -> list[RiskFlag]:
    """A longer session, and groups newly given a set in an account."""
    flags: list[RiskFlag] = []
    before, after = permission_sets(base), permission_sets(head)
    for name, ps in sorted(after.items()):
        old = before.get(name)
        subject = f"{PRINCIPAL}/{name}"
        seconds = int(ps.get("session_seconds", 0))
        where = tuple(sorted({a["account"] for a in ps.get("assignments", [])}))
        if old is not None and seconds > int(old.get("session_seconds", 0)):
            severity = "high" if seconds > LONG_SESSION_SECONDS else "medium"
            flags.append(RiskFlag(severity, "session-longer", subject, where,
                                  f"session duration {old.get('session_duration')} → {ps.get('session_duration')}"))
        elif old is None and seconds > LONG_SESSION_SECONDS:
            flags.append(RiskFlag("medium", "session-longer", subject, where,
                                  f"new permission set with sessions of {ps.get('session_duration')}"))
        if full_admin(head, ps) and not (old is not None and full_admin(base, old)):
            flags.append(RiskFlag("high", "full-admin", subject, where,
                                  "the permission set now grants '*' on '*'"
                                  + (f" (declared: {ps['full_admin_accepted']})" if ps.get("full_admin_accepted")
                                     else "")))
        old_assignments = {(a["group"], a["account"]) for a in (old or {}).get("assignments", [])}
        added: dict[str, list[str]] = {}
        for entry in ps.get("assignments", []):
            if (entry["group"], entry["account"]) not in old_assignments:
                added.setdefault(entry["group"], []).append(entry["account"])
        for group, accounts in sorted(added.items()):
            # Access granted to a group is a review item; to a declared full-admin set it is high risk.
            flags.append(RiskFlag("low" if ps.get("full_admin_accepted") is None else "high", "assignment-added",
                                  subject, tuple(sorted(accounts)), f"group {group} newly gets this permission set"))
    return flags
