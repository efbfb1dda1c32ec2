"""Risk findings of one policy document: every rule that fires on an Allow statement, mitigated or not.

Identity policies are judged by their resources and conditions (:mod:`~guardrails.policies.risk_mitigation`);
resource policies by whom they grant to (:mod:`~guardrails.policies.risk_grantees`). A document is analysed once
per process: the build asks for the findings of a job function's policy when it writes the least-privilege report
and again when it checks the plan, and both get the same memoised answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from guardrails.diagnostics import Location
from guardrails.iam.actions import ActionMatcher, action_matcher, wildcard_matches
from guardrails.policies.ir import PolicyDocument, Statement
from guardrails.policies.risk_grantees import grantee_mitigation, principal_labels
from guardrails.policies.risk_mitigation import (mitigation_hint, positive_condition, role_path_only,
                                                 statement_mitigation)
from guardrails.policies.risk_rules import PASS_ROLE, RiskRule, concrete_actions, risk_rules, rule_actions

# Distinct documents kept per process (a large organization compiles a few hundred).
MEMOISED_DOCUMENTS = 4096


@dataclass(frozen=True)
class RiskFinding:
    rule: str
    category: str
    title: str
    sid: str
    actions: tuple[str, ...]  # concrete actions (AWS spelling) the statement grants that the rule concerns
    resources: tuple[str, ...]
    mitigated: bool
    reason: str  # why it is mitigated, or why it is risky
    not_resources: tuple[str, ...] = ()  # set when the statement uses NotResource (grants all but these)
    related_sids: tuple[str, ...] = ()  # other statements that make up the finding (PassRole for combinations)
    principals: tuple[str, ...] = ()  # a resource policy's grantees ("AWS:arn:…:root", "Service:…", "*")
    origin: str = field(default="", compare=False)  # blueprint "file:line:col" of the statement

    @property
    def location(self) -> Location | None:
        return Location.parse(self.origin)


def analyze(document: PolicyDocument, rules: Sequence[RiskRule] | None = None) -> list[RiskFinding]:
    """Every rule that fires on an Allow statement of an identity policy, mitigated or not."""
    return list(_memoised(document, _origins(document), _rules(rules), None))


def analyze_resource_policy(document: PolicyDocument, own_accounts: frozenset[str],
                            rules: Sequence[RiskRule] | None = None) -> list[RiskFinding]:
    """The same per-statement rules on the Allow statements of a resource policy (bucket, key, topic, queue),
    judged by their principals: a grant to everyone or to an account outside ``own_accounts`` (ids, or the
    ``${account_id}`` placeholder) without a condition on the caller is risky. Combination rules (a passed role
    reaching a service) concern identities and do not apply."""
    return list(_memoised(document, _origins(document), _rules(rules), own_accounts))


def _rules(rules: Sequence[RiskRule] | None) -> tuple[RiskRule, ...]:
    return risk_rules() if rules is None else tuple(rules)


def _origins(document: PolicyDocument) -> tuple[str, ...]:
    # Statement origins are not part of a document's equality, but findings carry them: part of the memo key.
    return tuple(s.origin for s in document.statements)


@lru_cache(maxsize=MEMOISED_DOCUMENTS)
def _memoised(document: PolicyDocument, origins: tuple[str, ...], rules: tuple[RiskRule, ...],
              own_accounts: frozenset[str] | None) -> tuple[RiskFinding, ...]:
    return tuple(_analyze(document, rules, own_accounts))


def _analyze(document: PolicyDocument, rules: tuple[RiskRule, ...], own_accounts: frozenset[str] | None
             ) -> list[RiskFinding]:
    """The analysis itself (``own_accounts`` None: an identity policy; else a resource policy)."""
    doc = _Document(document)
    findings: list[RiskFinding] = []
    for rule in rules:
        if rule.with_pass_role:
            if own_accounts is None:
                findings.extend(_combination_findings(rule, doc))
            continue
        universe = rule_actions(rule)
        keys, keyset, names = _rule_index(rule)
        for statement in doc.allows:
            negated, matches = doc.matcher(statement)  # asked of every action of the rule: looked up once
            if matches is None:
                matched = []
            elif names is None:  # a key that is not ASCII: each key asked
                matched = [name for key, name in universe if negated != matches(key)]
            else:  # by set and range (ActionMatcher.among), in the universe's (sorted) order
                hits = matches.among(keys, keyset)
                matched = [name for key, name in universe if key not in hits] if negated else \
                    [names[key] for key in sorted(hits)]
            if not matched:
                continue
            denied = {name: sid for name in matched if (sid := doc.denied_by(statement, name.lower()))}
            remaining = [name for name in matched if name not in denied]
            if not remaining:
                mitigated, reason = True, f"denied in the same policy by {', '.join(sorted(set(denied.values())))}"
                actions = tuple(matched)
            elif own_accounts is None:
                mitigated, reason = statement_mitigation(rule.mitigated_by, statement, remaining)
                actions = tuple(remaining)
            else:
                mitigated, reason = grantee_mitigation(statement, own_accounts)
                actions = tuple(remaining)
            findings.append(RiskFinding(
                rule=rule.id, category=rule.category, title=rule.title, sid=statement.sid, actions=actions,
                resources=statement.resources, mitigated=mitigated, reason=reason,
                not_resources=statement.not_resources,
                principals=principal_labels(statement) if own_accounts is not None else (), origin=statement.origin))
    position: dict[str, int] = {}
    for index, statement in enumerate(document.statements):
        position.setdefault(statement.sid, index)
    rule_order = {r.id: i for i, r in enumerate(rules)}
    return sorted(findings, key=lambda f: (position.get(f.sid, 0), rule_order[f.rule], f.actions))


@lru_cache(maxsize=256)
def _rule_index(rule: RiskRule) -> tuple[tuple[str, ...], frozenset[str], dict[str, str] | None]:
    """A rule's lowercased actions sorted, as a set, and to their spelling (None when one is not ASCII, which
    :meth:`~guardrails.iam.actions.ActionMatcher.among` does not take)."""
    universe = rule_actions(rule)
    keys = tuple(key for key, _ in universe)
    return keys, frozenset(keys), dict(universe) if all(k.isascii() for k in keys) else None


class _Document:
    """One policy document with its statements' action matchers and its unconditional Denies."""

    def __init__(self, document: PolicyDocument) -> None:
        self.allows = [s for s in document.statements if s.effect == "Allow"]
        # A Deny with conditions may not apply to a given request, and NotResource is hard to compare:
        # only unconditional, Resource-based Denies take an action away for certain.
        self.denies = [s for s in document.statements
                       if s.effect == "Deny" and not s.conditions and s.resources and not s.not_resources]
        # id of a statement of the document (alive with it) → NotAction?, the matcher of its Action or NotAction
        # patterns: every rule asks each statement about each of its actions
        self._matchers: dict[int, tuple[bool, ActionMatcher | None]] = {}

    def grants(self, statement: Statement, action: str) -> bool:
        """Does the statement's Action (or NotAction: everything not listed) cover the action (lowercased)?"""
        negated, matches = self.matcher(statement)
        return matches is not None and negated != matches(action)

    def matcher(self, statement: Statement) -> tuple[bool, ActionMatcher | None]:
        """(NotAction?, the matcher of its patterns; None when it lists none)."""
        found = self._matchers.get(id(statement))
        if found is None:
            patterns = tuple(statement.actions or statement.not_actions)
            found = self._matchers[id(statement)] = (not statement.actions,
                                                     action_matcher(patterns) if patterns else None)
        return found

    def denied_by(self, statement: Statement, action: str) -> str:
        """Sid of an unconditional Deny that removes the action on all of the statement's resources, or ''."""
        for deny in self.denies:
            if not self.grants(deny, action):
                continue
            if "*" in deny.resources or self.covers(deny, statement):
                return deny.sid or "(no sid)"
        return ""

    @staticmethod
    def covers(deny: Statement, statement: Statement) -> bool:
        """Does the Deny name every resource the statement names (ARNs are case-sensitive)?"""
        return bool(statement.resources) and not statement.not_resources and all(
            any(wildcard_matches(d, r, ignore_case=False) for d in deny.resources) for r in statement.resources)

    def granted(self, action: str) -> list[Statement]:
        """Allow statements that grant the action (lowercased) and are not denied it."""
        return [s for s in self.allows if self.grants(s, action) and not self.denied_by(s, action)]


def _passes_to(statement: Statement, service: str) -> bool:
    """Can a role passed under this statement reach the service (no iam:PassedToService excludes it)?"""
    condition = positive_condition([(c.operator, c.key, c.values) for c in statement.conditions],
                                   "iam:PassedToService")
    return condition is None or any(wildcard_matches(v, service) for v in condition[2])


def _combination_findings(rule: RiskRule, doc: _Document) -> list[RiskFinding]:
    passes = doc.granted(PASS_ROLE.lower())
    if not passes:
        return []
    # One finding per (statement granting the service actions, the PassRole statements involved).
    merged: dict[tuple[str, tuple[str, ...]], dict] = {}
    for path in rule.with_pass_role:
        relevant = [s for s in passes if _passes_to(s, path.service)]
        if not relevant:
            continue
        picked: list[tuple[str, Statement]] = []
        for group in path.all_of:
            hits = [(name, s) for pattern in group for name in concrete_actions(pattern)
                    for s in doc.granted(name.lower())]
            if not hits:
                break
            picked.extend(hits)
        else:
            first = picked[0][1]
            key = (first.sid, tuple(s.sid for s in relevant))
            entry = merged.setdefault(key, {"statement": first, "relevant": relevant, "actions": set(),
                                            "sids": set(), "services": []})
            entry["actions"].update(name for name, _ in picked)
            entry["sids"].update(s.sid for _, s in picked if s.sid != first.sid)
            if path.service not in entry["services"]:
                entry["services"].append(path.service)
    findings = []
    for entry in merged.values():
        relevant: list[Statement] = entry["relevant"]
        scoped = all(s.resources and not s.not_resources and role_path_only(s.resources) for s in relevant)
        roles = sorted({r for s in relevant for r in s.resources})
        services = ", ".join(entry["services"])
        if rule.mitigated_by.role_path and scoped:
            mitigated, reason = True, (f"iam:PassRole limited to role path(s) {', '.join(roles)}, so {services} "
                                       "can only receive those roles")
        else:
            mitigated, reason = False, (f"iam:PassRole ({', '.join(s.sid for s in relevant)}) lets {services} receive "
                                        f"any role on {', '.join(roles) or 'NotResource'}; would be safe if "
                                        f"{mitigation_hint(rule.mitigated_by)}")
        statement: Statement = entry["statement"]
        findings.append(RiskFinding(
            rule=rule.id, category=rule.category, title=rule.title, sid=statement.sid,
            actions=tuple(sorted(entry["actions"] | {PASS_ROLE})), resources=tuple(roles), mitigated=mitigated,
            reason=reason, related_sids=tuple(sorted(entry["sids"] | {s.sid for s in relevant})),
            origin=statement.origin))
    return findings

