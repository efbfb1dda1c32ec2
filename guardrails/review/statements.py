"""Policy statements normalized for the diff, and how grants and clauses are rendered."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TYPE_CHECKING

from guardrails.iam.actions import action_matches, iam_database
from guardrails.iam.documents import as_tuple, condition_values
from guardrails.policies.arn_match import can_overlap

if TYPE_CHECKING:
    from guardrails.review.changes import Severity


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




def _clauses(condition: Any) -> tuple[Clause, ...]:
    if not isinstance(condition, Mapping):
        return ()
    out = []
    for operator, keys in condition.items():
        if isinstance(keys, Mapping):
            for key, values in keys.items():
                out.append((str(operator), str(key), tuple(sorted(condition_values(values)))))
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
                for name in as_tuple(names):
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
            negated_actions=negated, patterns=as_tuple(statement.get("NotAction" if negated else "Action")),
            resources=as_tuple(statement.get("NotResource" if "NotResource" in statement else "Resource")),
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
