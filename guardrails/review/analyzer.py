"""Effective permissions of a principal: identity grants, boundary, Denies (cached across both sides)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TYPE_CHECKING

from guardrails.evaluation.conditions import evaluate_clause
from guardrails.evaluation.errors import EvaluationError
from guardrails.review.actions import _actions
from guardrails.review.cohorts import _clause_invariant, _HOLD_ACCOUNT_ID
from guardrails.review.principals import _pair
from guardrails.review.risks import _unmitigated_findings
from guardrails.review.statements import (
    _covers,
    _render_clauses,
    _render_patterns,
    _statements,
    _Stmt,
    _usable,
    ACCOUNT_ID,
    AWS_MANAGED,
)

if TYPE_CHECKING:
    from guardrails.review.changes import PrincipalChange, RiskFlag
    from guardrails.review.statements import Clause, Grant


@dataclass(frozen=True)
class _State:
    """One principal as deployed in a class of accounts (documents with ${account_id} kept)."""

    principal: str
    attachments: tuple[tuple[str, str | None], ...]  # (ARN / "inline:NAME" / "group/NAME", document text or None)
    documents: tuple[tuple[str, str], ...]  # (label, text) of every identity policy, for the permissions
    unmodeled: tuple[str, ...]  # AWS managed policy ARNs without reference data
    boundary: tuple[str, str | None] | None = None  # (ARN, text)
    trust: str | None = None
    tags: tuple[tuple[str, str], ...] = ()  # users


@dataclass(frozen=True)
class _Limit:
    """A Deny that is not subtracted (conditional, or not on "*"), as a note on the actions it covers."""

    description: str
    kind: Literal["scp", "identity", "boundary"]
    keys: frozenset[str]  # lowercased condition keys it still depends on
    action_key: tuple[bool, tuple[str, ...]]


@dataclass(frozen=True, eq=False)
class _Identity:
    """What the attached policies allow under the boundary, before any Deny."""

    actions: frozenset[str]
    grants: Mapping[str, frozenset[Grant]]
    unknown: frozenset[str]
    own_unknown: frozenset[str]  # the subset named by our own documents (AWS's name retired services freely)
    wildcards: frozenset[str]  # wildcard Action patterns and NotAction lists of our own documents
    denies: tuple[tuple[str, str, _Stmt], ...]  # (kind, source label, statement) from identity and boundary


@dataclass(frozen=True, eq=False)
class _Effective:
    identity: _Identity
    actions: frozenset[str]
    unknown: frozenset[str]
    limits: tuple[_Limit, ...]


class _Analyzer:
    """Caches shared by both sides of one diff: identical content yields the identical object."""

    def __init__(self) -> None:
        self._identities: dict[tuple, _Identity] = {}
        self._effective: dict[tuple, _Effective] = {}
        self._interned: dict[frozenset[Grant], frozenset[Grant]] = {}
        self._scopes: dict[tuple[int, int], dict[tuple[frozenset[Grant], frozenset[Grant]], list[str]]] = {}
        self._unmitigated: dict[int, dict[str, frozenset[str]]] = {}
        self._pairs: dict[tuple, tuple[PrincipalChange, tuple[RiskFlag, ...]] | None] = {}
        self._decided: dict[tuple, bool | None] = {}  # principal-fixed condition clauses

    # -- permissions ---------------------------------------------------------------------------

    def identity(self, documents: tuple[tuple[str, str], ...], boundary: tuple[str, str | None] | None) -> _Identity:
        key = (documents, boundary)
        found = self._identities.get(key)
        if found is None:
            found = self._identities[key] = self._build_identity(documents, boundary)
        return found

    def _build_identity(self, documents: tuple[tuple[str, str], ...],
                        boundary: tuple[str, str | None] | None) -> _Identity:
        grants: dict[str, set[Grant]] = {}
        unknown: set[str] = set()
        own_unknown: set[str] = set()
        wildcards: set[str] = set()
        denies: list[tuple[str, str, _Stmt]] = []
        for label, text in documents:
            own = not label.startswith(AWS_MANAGED)
            for statement in _statements(text):
                if statement.effect == "Deny":
                    denies.append(("identity", f"policy {label}", statement))
                    continue
                if statement.effect != "Allow":
                    continue
                actions, missing = _actions(*statement.action_key)
                if not statement.negated_resources and "*" not in statement.resources:
                    actions = frozenset(a for a in actions if _usable(a, statement.resources))
                grant = statement.grant
                for action in actions:
                    grants.setdefault(action, set()).add(grant)
                unknown |= missing
                if not own:
                    continue
                own_unknown |= missing
                if statement.negated_actions:
                    wildcards.add(_render_patterns(True, statement.patterns))
                else:
                    wildcards.update(p for p in statement.patterns if "*" in p or "?" in p)
        allowed = frozenset(grants)
        if boundary is not None and boundary[1] is not None:
            ceiling: set[str] = set()
            allows = [s for s in _statements(boundary[1]) if s.effect == "Allow"]
            for statement in allows:
                ceiling |= _actions(*statement.action_key)[0]
            allowed &= ceiling
            unknown = {u for u in unknown if any(_covers(s, u) for s in allows)}
            label = boundary[0].rsplit("/", 1)[-1]
            denies += [("boundary", f"boundary {label}", s) for s in _statements(boundary[1]) if s.effect == "Deny"]
        frozen = {action: self._intern(frozenset(grants[action])) for action in allowed}
        return _Identity(allowed, frozen, frozenset(unknown), frozenset(own_unknown), frozenset(wildcards),
                         tuple(denies))

    def _intern(self, grants: frozenset[Grant]) -> frozenset[Grant]:
        return self._interned.setdefault(grants, grants)

    def effective(self, identity: _Identity, denies: Iterable[tuple[str, str, _Stmt]],
                  context: Mapping[str, tuple[str, ...]], static: frozenset[str],
                  substitutions: Mapping[str, str]) -> _Effective:
        """Subtract unconditional Denies on "*"; keep the others as limits. Cached by what decides the result."""
        unconditional: set[tuple[bool, tuple[str, ...]]] = set()
        limits: set[_Limit] = set()
        for kind, source, statement in denies:
            remaining = _undecided(statement.conditions, context, static, substitutions, self._decided)
            if remaining is None:
                continue  # never applies to this principal
            if not remaining and not statement.negated_resources and "*" in statement.resources:
                unconditional.add(statement.action_key)
                continue
            description = f"{source} {statement.sid}: Deny {_render_patterns(*statement.action_key)}"
            if statement.negated_resources or "*" not in statement.resources:
                description += " on " + ("all but " if statement.negated_resources else "") + \
                    ", ".join(statement.resources)
            if remaining:
                description += f" when {_render_clauses(remaining)}"
            limits.add(_Limit(description, kind, frozenset(c[1].lower() for c in remaining),  # type: ignore[arg-type]
                              statement.action_key))
        key = (id(identity), frozenset(unconditional), frozenset(limits))
        found = self._effective.get(key)
        if found is None:
            denied: set[str] = set()
            for action_key in unconditional:
                denied |= _actions(*action_key)[0]
            patterns = [_Stmt("", "Deny", n, p, ("*",), False, ()) for n, p in unconditional]
            unknown = frozenset(u for u in identity.unknown if not any(_covers(s, u) for s in patterns))
            found = self._effective[key] = _Effective(identity, identity.actions - denied, unknown,
                                                      tuple(sorted(limits, key=lambda lim: lim.description)))
        return found

    def scope_index(self, base: _Identity, head: _Identity
                    ) -> dict[tuple[frozenset[Grant], frozenset[Grant]], list[str]]:
        """(grants before, grants after) -> actions granted by both identities whose grants differ."""
        key = (id(base), id(head))
        found = self._scopes.get(key)
        if found is None:
            found = {}
            for action in base.actions & head.actions:
                before, after = base.grants[action], head.grants[action]
                if before is not after and before != after:
                    found.setdefault((before, after), []).append(action)
            self._scopes[key] = found
        return found

    def unmitigated(self, effective: _Effective | None) -> dict[str, frozenset[str]]:
        """Rule id -> actions (or, for PassRole combinations, services) the principal holds unmitigated."""
        if effective is None:
            return {}
        found = self._unmitigated.get(id(effective))
        if found is None:
            found = self._unmitigated[id(effective)] = _unmitigated_findings(effective)
        return found

    # -- pairs -----------------------------------------------------------------------------------

    def pair(self, base: _State | None, head: _State | None, base_eff: _Effective | None,
             head_eff: _Effective | None, known: str = "") -> tuple[PrincipalChange, tuple[RiskFlag, ...]] | None:
        key = (base, head, id(base_eff), id(head_eff), known)
        if key not in self._pairs:
            self._pairs[key] = _pair(self, base, head, base_eff, head_eff, known)
        return self._pairs[key]


def _undecided(clauses: tuple[Clause, ...], context: Mapping[str, tuple[str, ...]], static: frozenset[str],
               substitutions: Mapping[str, str], decided: dict[tuple, bool | None]) -> tuple[Clause, ...] | None:
    """The clauses that still depend on the request, or None when a principal-fixed clause is false.
    ``decided`` keeps each clause's outcome (None: malformed) by what decides it."""
    remaining: list[Clause] = []
    for clause in clauses:
        operator, key, values = clause
        lowered = key.lower()
        if lowered not in static and not (lowered.startswith("aws:principaltag/") and "aws:principaltag/*" in static):
            remaining.append(clause)
            continue
        memo = _decision_key(clause, lowered, context, substitutions)
        if memo is not None and memo in decided:
            matched = decided[memo]
        else:
            concrete = [_substitute(v, substitutions) for v in values]
            try:
                matched = evaluate_clause(operator, key, concrete, context).matched
            except EvaluationError:
                matched = None
            if memo is not None:
                decided[memo] = matched
        if matched is None:
            remaining.append(clause)  # malformed for the evaluator: leave it to the reader
        elif not matched:
            return None
    return tuple(remaining)


def _decision_key(clause: Clause, lowered: str, context: Mapping[str, tuple[str, ...]],
                  substitutions: Mapping[str, str]) -> tuple | None:
    """What a clause's outcome depends on: its key's request values, with the account ID blanked when no account
    ID can change the outcome (guardrails.review.cohorts); None when a value has a placeholder or variable."""
    if any("$" in v for v in clause[2]):
        return None
    values = context.get(lowered)
    account = substitutions.get(ACCOUNT_ID, "")
    if values is not None and account.isdigit() and lowered in _HOLD_ACCOUNT_ID and _clause_invariant(clause) \
            and not any("\0" in v for v in values):
        values = tuple(v.replace(account, "\0") for v in values)
    return clause, values


def _substitute(text: str, substitutions: Mapping[str, str]) -> str:
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text
