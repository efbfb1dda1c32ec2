"""Quota-aware packing of catalog guardrails into SCPs and RCPs, per target.

AWS limits each SCP to 10,240 characters (RCP 5,120), counting every character of the policy as sent, and each
root, OU or account to 10 directly attached SCPs (RCPs 5), the default FullAWSAccess / RCPFullAWSAccess
included (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html). Tools that
merge everything into one policy fail at apply time; guardrails packs before anything is emitted:

- every guardrail's statements stay together in one policy (a guardrail is never split);
- guardrails go first-fit in id order into as few policies as the size limit allows, so adding or removing one
  guardrail only changes the policy it lands in and, rarely, the ones after it — pull-request diffs stay small;
- only when that needs more policies than the target has free slots are statements with the same effect,
  resources and conditions merged (union of their actions: the meaning cannot change) and the guardrails
  re-packed largest first;
- what still does not fit is a :class:`PackingError` with the slot map (target, policies, guardrails, sizes,
  characters over), raised before any file is written.

Pure functions over IR statements; sizes are the minified JSON that the emitters send.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails.policies.ir import PolicyDocument, Statement


@dataclass(frozen=True)
class Unit:
    """One guardrail's statements at one target."""

    guardrail: str
    statements: tuple[Statement, ...]

    @property
    def size(self) -> int:
        """Characters its statements add to a policy (minified, with the separating comma)."""
        return sum(len(PolicyDocument((s,)).render(minified=True)) - _EMPTY + 1 for s in self.statements)


_EMPTY = len(PolicyDocument(()).render(minified=True))  # {"Version":"2012-10-17","Statement":[]}


@dataclass(frozen=True)
class Packed:
    """The policies of one target: each a tuple of units and its minified size."""

    policies: tuple[tuple[tuple[Unit, ...], PolicyDocument], ...]
    merged: bool  # statements were merged to fit the slots

    @property
    def count(self) -> int:
        return len(self.policies)


@dataclass(frozen=True)
class SlotMapRow:
    policy: str
    guardrails: tuple[str, ...]
    chars: int


class PackingError(ValueError):
    """The guardrails of a target do not fit its free slots; ``slot_map`` says what went where."""

    def __init__(self, message: str, slot_map: tuple[SlotMapRow, ...]) -> None:
        super().__init__(message)
        self.slot_map = slot_map


def document_of(units: Sequence[Unit], *, merge: bool = False) -> PolicyDocument:
    statements = tuple(s for u in units for s in u.statements)
    return PolicyDocument(merge_statements(statements) if merge else statements)


def size_of(units: Sequence[Unit], *, merge: bool = False) -> int:
    return len(document_of(units, merge=merge).render(minified=True))


def lower_bound(units: Sequence[Unit], limit: int) -> int:
    """No packing without merging can use fewer policies: the statements' total size over a policy's room."""
    if not units:
        return 0
    return math.ceil(sum(u.size for u in units) / (limit - _EMPTY + 1))


def _first_fit(units: Sequence[Unit], limit: int, merge: bool) -> list[list[Unit]]:
    bins: list[list[Unit]] = []
    for unit in units:
        for candidate in bins:
            if size_of([*candidate, unit], merge=merge) <= limit:
                candidate.append(unit)
                break
        else:
            bins.append([unit])
    return bins


def merge_statements(statements: Sequence[Statement]) -> tuple[Statement, ...]:
    """Statements with the same effect, resources, conditions and kind of action element become one, with the
    union of their actions (an action denied or allowed under identical terms either way). The first Sid stays."""
    merged: dict[tuple, Statement] = {}
    order: list[tuple] = []
    for statement in statements:
        if statement.not_actions:  # NotAction sets do not combine by union
            key: tuple = ("single", len(order))
        else:
            key = (statement.effect, statement.resources, statement.not_resources, statement.conditions,
                   statement.principals)
        if key in merged:
            first = merged[key]
            actions = tuple(sorted(set(first.actions) | set(statement.actions), key=str.lower))
            merged[key] = Statement(**{**first.__dict__, "actions": actions})
        else:
            merged[key] = statement
            order.append(key)
    return tuple(merged[k] for k in order)


def pack(target: str, units: Sequence[Unit], *, limit: int, slots: int, kind: str = "SCP") -> Packed:
    """The fewest policies (at most ``slots``) of at most ``limit`` characters holding every unit.

    Raises :class:`PackingError` with the slot map when the units cannot fit.
    """
    ordered = sorted(units, key=lambda u: u.guardrail)
    for unit in ordered:
        if size_of([unit], merge=True) > limit:
            chars = size_of([unit], merge=True)
            raise PackingError(
                f"{target}: guardrail {unit.guardrail} alone is {chars} characters as an {kind}, "
                f"{chars - limit} over the {limit}-character limit",
                (SlotMapRow("(one guardrail)", (unit.guardrail,), chars),))
    merge = any(size_of([u]) > limit for u in ordered)  # a guardrail that fits only with merged statements
    bins = _first_fit(ordered, limit, merge)
    if len(bins) > slots:
        merge = True
        bins = _first_fit(sorted(ordered, key=lambda u: (-u.size, u.guardrail)), limit, merge)
    if len(bins) > slots:
        rows = tuple(SlotMapRow(f"{kind} {i + 1}", tuple(u.guardrail for u in b), size_of(b, merge=merge))
                     for i, b in enumerate(bins))
        overflow = sum(r.chars for r in rows[slots:])
        raise PackingError(
            f"{target}: its guardrails need {len(bins)} {kind}s of at most {limit} characters, but only {slots} "
            f"slot(s) are free for them; {overflow} characters do not fit (lower bound without merging: "
            f"{lower_bound(ordered, limit)} {kind}s)", rows)
    return Packed(tuple((tuple(b), document_of(b, merge=merge)) for b in bins), merge)
