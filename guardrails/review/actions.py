"""Action patterns expanded against the pinned IAM action database."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from guardrails.iam.actions import iam_database


@cache
def _level_of() -> dict[str, str]:
    """Action (database spelling) -> access level."""
    return {a.full_name: a.access_level for a in iam_database().expand("*")}


@cache
def _all_actions() -> frozenset[str]:
    return frozenset(_level_of())


@cache
def _actions(negated: bool, patterns: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(actions, unknown patterns) of an Action (or, negated, NotAction) element. Cached: NotAction complements
    over ~20k actions are computed once per distinct pattern list."""
    found: set[str] = set()
    unknown: set[str] = set()
    for pattern in patterns:
        expanded = {a.full_name for a in iam_database().expand(pattern)}
        if not expanded:
            unknown.add(pattern)
        found |= expanded
    if negated:
        return _all_actions() - found, frozenset()  # unknown NotAction patterns exclude nothing known
    return frozenset(found), frozenset(unknown)


def _preview(items: Iterable[str], limit: int = 4) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items), key=lambda s: (s.lower(), s)))
