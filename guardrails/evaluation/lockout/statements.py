"""The Deny statements a probe can meet, and whether one fits a request before its conditions are asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from guardrails.evaluation.conditions import evaluate_conditions
from guardrails.evaluation.engine import Decision, Policy, PolicySet, Request, statements_of
from guardrails.evaluation.lockout.universe import element, universe
from guardrails.evaluation.matching import has_variables, resource_matches
from guardrails.iam.actions import action_matches


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
    known = universe().mentions(statement, action, where)
    if known is not None:
        return known
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


def resource_dependent(statement: Mapping[str, Any], where: str = "") -> bool:
    """Does whether the statement applies depend on the request's resource (anything but ``Resource: "*"``)?"""
    return "NotResource" in statement or element(statement, "Resource", where=where) != ("*",)


def applies(deny: Deny, request: Request) -> bool:
    """The statement itself applies to the request: resource and conditions (its action is known to fit).

    What the engine's explicit-deny step asks of each statement; the engine confirms every witness."""
    statement, where = deny.statement, deny.where
    if "Resource" in statement:
        if not any(resource_matches(p, request.resource, request.context)
                   for p in element(statement, "Resource", where=where)):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(p, request.resource, request.context)
               for p in element(statement, "NotResource", where=where)):
            return False
    matched, _ = evaluate_conditions(statement.get("Condition") or {}, request.context)
    return matched


def decided_by(decision: Decision, deny: Deny) -> bool:
    """The decision is an explicit deny and this statement is among those that decided it (the policy compared by
    what names it: the engine may have been given its pruned copy, see :func:`pruned`)."""
    return decision.outcome == "explicit-deny" and any(
        m.index == deny.index and (m.policy.name, m.policy.kind, m.policy.level) ==
        (deny.policy.name, deny.policy.kind, deny.policy.level) for m in decision.deciding)


class Pruner:
    """Policy sets cut down to the statements that name one action, for the engine.

    A statement whose ``Action``/``NotAction`` does not name the action cannot apply to the request, so the engine
    gets an inert statement in its place (``NotAction: "*"`` names nothing): positions, names and decisions stay
    what they are, and the engine no longer matches hundreds of action patterns per request. Near misses (for
    explanations) of the pruned statements are lost, which the proof does not show."""

    def __init__(self) -> None:
        self._policies: dict[tuple[int, str, str, str], tuple[Policy, Policy]] = {}

    def __call__(self, policies: PolicySet, action: str) -> PolicySet:
        if not universe().knows(action):
            return policies  # an action the database does not know: the patterns decide, unpruned

        def cut(policy: Policy | None) -> Policy | None:
            if policy is None:
                return None
            # Documents are parsed once per account (Organization.document): their ids outlive the Policy objects.
            key = (id(policy.document), policy.name, policy.level, action.lower())
            if key not in self._policies:
                statements = statements_of(policy)
                kept = [s if universe().mentions(s, action, policy.name) is not False else _inert(s)
                        for s in statements]
                document = {**policy.document, "Statement": kept}
                self._policies[key] = (policy, replace(policy, document=document))  # the original kept alive
            return self._policies[key][1]

        def levels(given: tuple[tuple[str, tuple[Policy, ...]], ...]) -> tuple[tuple[str, tuple[Policy, ...]], ...]:
            return tuple((level, tuple(cut(p) for p in attached)) for level, attached in given)  # type: ignore[misc]

        return replace(policies, scp_levels=levels(policies.scp_levels), rcp_levels=levels(policies.rcp_levels),
                       identity=tuple(cut(p) for p in policies.identity),  # type: ignore[misc]
                       boundary=cut(policies.boundary), session=cut(policies.session),
                       resource=cut(policies.resource))


def _inert(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement of the same effect (and principal) that applies to no request."""
    out: dict[str, Any] = {k: statement[k] for k in ("Sid", "Effect", "Principal") if k in statement}
    return {**out, "NotAction": "*", "Resource": "*"}
