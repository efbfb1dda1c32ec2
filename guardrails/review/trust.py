"""Who may assume a role (trust policies) and permissions-boundary changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TYPE_CHECKING

from guardrails.review.changes import BoundaryChange, TrustChange
from guardrails.review.statements import _render_clauses, _SENSITIVE_KEYS, _statements

if TYPE_CHECKING:
    from guardrails.review.analyzer import _State
    from guardrails.review.statements import Clause


def _trust_entries(text: str | None) -> dict[str, frozenset[tuple[tuple[str, ...], tuple[Clause, ...]]]]:
    """Principal -> the (actions, conditions) alternatives under which it may assume the role."""
    entries: dict[str, set[tuple[tuple[str, ...], tuple[Clause, ...]]]] = {}
    if text is None:
        return {}
    for statement in _statements(text):
        for principal in statement.principals:
            name = principal if statement.effect == "Allow" else f"Deny {principal}"
            actions = (("NotAction ",) if statement.negated_actions else ()) + statement.patterns
            entries.setdefault(name, set()).add((actions, statement.conditions))
    return {k: frozenset(v) for k, v in entries.items()}


def _render_alternatives(alternatives: Iterable[tuple[tuple[str, ...], tuple[Clause, ...]]]) -> tuple[str, ...]:
    return tuple(sorted(", ".join(actions) + (f" when {_render_clauses(clauses)}" if clauses else " (no conditions)")
                        for actions, clauses in alternatives))


def _trust_changes(base: str | None, head: str | None) -> tuple[TrustChange, ...]:
    if base == head:
        return ()
    before, after = _trust_entries(base), _trust_entries(head)
    out = []
    for principal in sorted(set(before) | set(after)):
        b, a = before.get(principal), after.get(principal)
        if b == a:
            continue
        change: Literal["added", "removed", "changed"] = "added" if b is None else "removed" if a is None \
            else "changed"
        out.append(TrustChange(principal, change, _render_alternatives(b or ()), _render_alternatives(a or ())))
    return tuple(out)


def _trust_widening(base: _State | None, head: _State | None, principal: str) -> list[str]:
    """Why a changed trust entry lets more requests in: a condition key dropped, or its values widened."""
    before = _trust_entries(base.trust if base else None).get(principal, frozenset())
    after = _trust_entries(head.trust if head else None).get(principal, frozenset())
    if not before or not after:
        return []

    def required(alternatives: frozenset) -> dict[str, set[str]]:
        keys = set.intersection(*({c[1].lower() for c in clauses} for _, clauses in alternatives))
        return {k: {v for _, clauses in alternatives for c in clauses if c[1].lower() == k for v in c[2]}
                for k in keys}

    old, new = required(before), required(after)
    reasons = [f"{principal} no longer requires {key}" + (f" ({_SENSITIVE_KEYS[key]})" if key in _SENSITIVE_KEYS
                                                          else "")
               for key in sorted(set(old) - set(new))]
    for key in sorted(set(old) & set(new)):
        added = new[key] - old[key]
        if added:
            reasons.append(f"{principal}: {key} widened to {', '.join(sorted(new[key]))} "
                           f"(was {', '.join(sorted(old[key]))})")
    old_actions = {a for actions, _ in before for a in actions}
    more = sorted({a for actions, _ in after for a in actions} - old_actions)
    if more:
        reasons.append(f"{principal} may now also {', '.join(more)}")
    return reasons


def _boundary_change(base: tuple[str, str | None] | None, head: tuple[str, str | None] | None
                     ) -> BoundaryChange | None:
    if base == head:
        return None
    if base is None:
        return BoundaryChange("attached", None, head[0])  # type: ignore[index]
    if head is None:
        return BoundaryChange("removed", base[0], None)
    if base[0] != head[0]:
        return BoundaryChange("replaced", base[0], head[0])
    return BoundaryChange("changed", base[0], head[0])
