"""SCP and RCP changes per target, and accounts added, removed or moved."""

from __future__ import annotations

import json
from typing import Literal, TYPE_CHECKING

from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import Organization
from guardrails.iam.manifest import MANIFEST
from guardrails.policies.limits import default_limits
from guardrails.review.actions import _sorted
from guardrails.review.changes import AccountChange, PolicySize, RiskFlag, StatementChange, TargetChange
from guardrails.review.risks import _flag
from guardrails.review.statements import (
    _minified,
    _RCPS_PER_TARGET,
    _render_clauses,
    _render_patterns,
    _statements,
)

if TYPE_CHECKING:
    from guardrails.review.statements import _Stmt


def _attached(org: Organization, kind: str) -> dict[str, dict[str, tuple[str, tuple[str, ...]]]]:
    """Target -> policy name -> (document text, guardrails)."""
    out: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    for entry in org.manifest.org_policies(kind):
        text = org.files.get(entry.file)
        if text is None:
            raise EvaluationError(f"{MANIFEST} names {entry.file}, which is not in the output")
        out.setdefault(entry.target, {})[entry.name] = (text, entry.guardrails)
    return out


def _statement_changes(policy: str, before: str | None, after: str | None) -> list[StatementChange]:
    old = {s.sid: s for s in _statements(before)} if before else {}
    new = {s.sid: s for s in _statements(after)} if after else {}
    out = []
    for sid in sorted(set(old) | set(new)):
        b, a = old.get(sid), new.get(sid)
        if b == a:
            continue
        shown = a or b
        assert shown is not None
        change: Literal["added", "removed", "changed"] = "added" if b is None else "removed" if a is None \
            else "changed"
        detail = _statement_detail(b, a) if b and a else ""
        out.append(StatementChange(policy, sid, change, shown.effect, shown.patterns, shown.negated_actions, detail))
    return out


def _statement_detail(before: _Stmt, after: _Stmt) -> str:
    parts = []
    if before.effect != after.effect:
        parts.append(f"Effect {before.effect} → {after.effect}")
    if before.action_key != after.action_key:
        element = "NotAction" if after.negated_actions else "Action"
        if before.negated_actions == after.negated_actions:
            plus = sorted(set(after.patterns) - set(before.patterns))
            minus = sorted(set(before.patterns) - set(after.patterns))
            parts.append(f"{element} " + ", ".join([f"+{p}" for p in plus] + [f"-{p}" for p in minus]))
        else:
            parts.append(f"{'NotAction' if before.negated_actions else 'Action'} → {element}")
    if (before.resources, before.negated_resources) != (after.resources, after.negated_resources):
        parts.append(f"Resource {', '.join(before.resources)} → {', '.join(after.resources)}")
    if before.conditions != after.conditions:
        parts.append(f"Condition {_render_clauses(before.conditions) or '(none)'} → "
                     f"{_render_clauses(after.conditions) or '(none)'}")
    return "; ".join(parts)


def _same_policy(before: tuple[str, tuple[str, ...]], after: tuple[str, tuple[str, ...]]) -> bool:
    """Same statements and guardrails, whatever their order (packing sorts guardrails by id; order means nothing)."""
    def canonical(text: str) -> list[str]:
        raw = json.loads(text).get("Statement", [])
        return sorted(json.dumps(s, sort_keys=True) for s in ([raw] if isinstance(raw, dict) else raw))
    return set(before[1]) == set(after[1]) and canonical(before[0]) == canonical(after[0])


def _target_changes(base: Organization, head: Organization) -> tuple[list[TargetChange], list[RiskFlag]]:
    limits = default_limits()
    changes: list[TargetChange] = []
    flags: list[RiskFlag] = []
    for kind in ("scp", "rcp"):
        size_limit = limits[f"{kind}_chars"].value
        slot_limit = limits["scps_per_target"].value if kind == "scp" else \
            (limits["rcps_per_target"].value if "rcps_per_target" in limits else _RCPS_PER_TARGET)
        before, after = _attached(base, kind), _attached(head, kind)
        label = kind.upper()
        for target in sorted(set(before) | set(after)):
            old, new = before.get(target, {}), after.get(target, {})
            if old.keys() == new.keys() and all(_same_policy(old[n], new[n]) for n in old):
                continue
            added = _sorted(set(new) - set(old))
            removed = _sorted(set(old) - set(new))
            changed = _sorted(n for n in set(old) & set(new) if not _same_policy(old[n], new[n]))
            statements: list[StatementChange] = []
            sizes: list[PolicySize] = []
            g_added: set[str] = set()
            g_removed: set[str] = set()
            for name in sorted(set(old) | set(new)):
                b, a = old.get(name), new.get(name)
                if b and a:
                    g_added |= set(a[1]) - set(b[1])
                    g_removed |= set(b[1]) - set(a[1])
                elif a:
                    g_added |= set(a[1])
                elif b:
                    g_removed |= set(b[1])
                if b and a and _same_policy(b, a):
                    continue
                statements += _statement_changes(name, b[0] if b else None, a[0] if a else None)
                sizes.append(PolicySize(name, len(_minified(b[0])) if b else None,
                                        len(_minified(a[0])) if a else None, size_limit))
            slots_before, slots_after = 1 + len(old), 1 + len(new)
            change = TargetChange(kind, target, added, removed, changed,  # type: ignore[arg-type]
                                  tuple(statements), _sorted(g_added), _sorted(g_removed), tuple(sizes),
                                  slots_before, slots_after, slot_limit)
            changes.append(change)
            # -- flags
            for name in removed:
                flags.append(_flag("high", f"{kind}-removed", f"{label} {name} at {target}",
                                   f"{label} {name} detached from {target}"))
            for statement in statements:
                subject = f"{label} {statement.policy} at {target}"
                if statement.policy in removed or statement.effect != "Deny":
                    continue
                if statement.change == "removed":
                    denied = _render_patterns(statement.not_action, statement.actions)
                    flags.append(_flag("high", f"{kind}-statement-removed", subject,
                                       f"Deny {statement.sid} removed ({denied})"))
                elif statement.change == "changed":
                    flags.append(_flag("medium", f"{kind}-statement-changed", subject,
                                       f"Deny {statement.sid} changed: {statement.detail}"))
            for guardrail in change.guardrails_removed:
                flags.append(_flag("high", "guardrail-removed", f"{label} at {target}",
                                   f"guardrail {guardrail} no longer attached at {target}"))
            for size in sizes:
                if size.after is not None and size.after > size.limit:
                    flags.append(_flag("high", f"{kind}-size", f"{label} {size.policy} at {target}",
                                       f"{size.after} characters, over the {size.limit}-character limit"))
            if slots_after > slot_limit:
                flags.append(_flag("high", f"{kind}-slots", f"{label} at {target}",
                                   f"{slots_after} policies attached (FullAWSAccess included), over the limit of "
                                   f"{slot_limit}"))
    return changes, flags


# ============================================================================= accounts


def _account_changes(base: Organization, head: Organization) -> tuple[list[AccountChange], list[RiskFlag]]:
    changes: list[AccountChange] = []
    flags: list[RiskFlag] = []
    b, h = base.accounts, head.accounts
    for name in sorted(set(h) - set(b)):
        changes.append(AccountChange(name, "added", f"in {h[name].unit or 'root'}"))
    for name in sorted(set(b) - set(h)):
        changes.append(AccountChange(name, "removed", f"was in {b[name].unit or 'root'}"))
    head_scps = {scp.name: scp.target for scp in head.manifest.service_control_policies}
    base_scps = [(scp.name, scp.target) for scp in base.manifest.service_control_policies]
    for name in sorted(set(b) & set(h)):
        old, new = b[name], h[name]
        if old.unit == new.unit:
            continue
        moved = f"{old.unit or 'root'} → {new.unit or 'root'}"
        changes.append(AccountChange(name, "moved", moved))
        if new.management:
            continue
        old_path, new_path = set(base.path_of(old)), set(head.path_of(new))
        for scp, target in sorted(base_scps):
            # An SCP that still exists but no longer governs the account: its removal is flagged nowhere else.
            if target in old_path and scp in head_scps and head_scps[scp] not in new_path:
                flags.append(RiskFlag("high", "scp-escaped", f"account {name}", (name,),
                                      f"no longer under SCP {scp} (moved {moved})"))
    return changes, flags
