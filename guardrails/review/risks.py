"""Risk rules (guardrails/data/risks.yaml) applied to effective permissions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from guardrails.iam.actions import iam_database
from guardrails.policies.risks import RiskRule, mitigation_reason, risk_rules, rule_actions
from guardrails.review.changes import RiskFlag

if TYPE_CHECKING:
    from guardrails.review.analyzer import _Effective
    from guardrails.review.changes import Severity
    from guardrails.review.statements import Grant


@cache
def _rule_actions(rule: RiskRule) -> frozenset[str]:
    """Every concrete action a rule concerns (its patterns and access levels, minus its exceptions), AWS spelling."""
    return frozenset(name for _, name in rule_actions(rule))


def _grant_mitigated(rule: RiskRule, grant: Grant) -> bool:
    """Is one grant made safe by the rule's mitigations? The build's judge (policies.risks), so the build and the
    diff cannot disagree."""
    resources, negated, clauses = grant
    return mitigation_reason(rule.mitigated_by, resources, clauses, not_resource=negated) is not None


def _unmitigated_findings(effective: _Effective) -> dict[str, frozenset[str]]:
    grants = effective.identity.grants
    out: dict[str, frozenset[str]] = {}
    for rule in risk_rules():
        if rule.with_pass_role:
            passrole = "iam:PassRole"
            if passrole not in effective.actions or all(_grant_mitigated(rule, g) for g in grants[passrole]):
                continue
            services = {path.service for path in rule.with_pass_role
                        if all(any(a.full_name in effective.actions for p in group for a in iam_database().expand(p))
                               for group in path.all_of)}
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
