"""The Deny statements a probe can meet, and whether one fits a request before its conditions are asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.evaluation.engine import Decision, Policy, PolicySet, Request, statements_of
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import has_variables, resource_matches
from guardrails.iam.actions import action_matches
from guardrails.iam.documents import PolicyFormatError, as_tuple


@dataclass(frozen=True)
class Deny:
    """One Deny statement: the policy it is in and its position there."""

    policy: Policy
    index: int
    statement: Mapping[str, Any]

    @property
    def where(self) -> str:
        """The statement as a message names it: ``guardrails-root statement ProtectGuardrailRoles``."""
        return f"{self.policy.name} statement {self.statement.get('Sid') or self.index + 1}"


def element(statement: Mapping[str, Any], name: str, *, where: str = "") -> tuple[str, ...]:
    """A string-or-list element of a statement (``Action``, ``Resource``, ``Principal.Service`` …) as a tuple.

    A non-string item is an :class:`EvaluationError`: the proof reports the statement as one it cannot read
    instead of guessing what it denies.
    """
    try:
        return as_tuple(statement.get(name), what=f"{where}{': ' if where else ''}{name}")
    except PolicyFormatError as exc:
        raise EvaluationError(f"{exc}; the lockout proof cannot read this statement") from exc


def denies_of(policies: PolicySet) -> list[Deny]:
    """Deny statements of the policies the engine would consider for a role probe."""
    out: list[Deny] = []
    levels = list(policies.rcp_levels)
    if not policies.scp_exempt_reason:
        levels += list(policies.scp_levels)
    for _, attached in levels:
        for policy in attached:
            for index, statement in enumerate(statements_of(policy)):
                if statement["Effect"] == "Deny":
                    out.append(Deny(policy, index, statement))
    for policy in (*policies.identity, policies.boundary, policies.resource, policies.session):
        if policy is None:
            continue
        for index, statement in enumerate(statements_of(policy)):
            if statement["Effect"] == "Deny":
                out.append(Deny(policy, index, statement))
    return out


def fits_action(deny: Deny, action: str) -> bool:
    """The statement's Action names the action, or its NotAction does not."""
    statement, where = deny.statement, deny.where
    if "Action" in statement:
        return any(action_matches(p, action) for p in element(statement, "Action", where=where))
    return not any(action_matches(p, action) for p in element(statement, "NotAction", where=where))


def fits(deny: Deny, request: Request) -> bool:
    """Action and resource of the statement fit the request (its conditions aside)."""
    statement, where = deny.statement, deny.where
    if not fits_action(deny, request.action):
        return False
    if "Resource" in statement:
        return any(resource_matches(p, request.resource, request.context) or has_variables(p)
                   for p in element(statement, "Resource", where=where))
    if "NotResource" in statement:
        return not any(resource_matches(p, request.resource, request.context)
                       for p in element(statement, "NotResource", where=where))
    return True


def decided_by(decision: Decision, deny: Deny) -> bool:
    """The decision is an explicit deny and this statement is among those that decided it."""
    return decision.outcome == "explicit-deny" and any(
        m.policy == deny.policy and m.index == deny.index for m in decision.deciding)
