"""Risk rules (guardrails/data/risks.yaml) applied to effective permissions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from guardrails.evaluation.matching import action_matches
from guardrails.policies.risks import POSITIVE_OPERATORS, risk_rules, RiskRule, service_wide
from guardrails.review.actions import _expand, _level_of
from guardrails.review.changes import RiskFlag

if TYPE_CHECKING:
    from guardrails.review.analyzer import _Effective
    from guardrails.review.changes import Severity
    from guardrails.review.statements import Grant


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


def _flag(severity: Severity, kind: str, subject: str, reason: str) -> RiskFlag:
    return RiskFlag(severity, kind, subject, (), reason)
