"""The change of one principal in one account, and its risk flags."""

from __future__ import annotations

from typing import Literal, TYPE_CHECKING

from guardrails.policies.risks import risk_rules
from guardrails.review.actions import _actions, _level_of, _preview, _sorted
from guardrails.review.changes import _count, PrincipalChange, ScopeChange
from guardrails.review.risks import _flag, _on_star
from guardrails.review.statements import (
    _CATEGORY_SEVERITY,
    _render_grant,
    _SENSITIVE_KEYS,
    _WRITE_LEVELS,
    PERMISSIONS_MANAGEMENT,
)
from guardrails.review.trust import _boundary_change, _trust_changes, _trust_widening

if TYPE_CHECKING:
    from guardrails.review.analyzer import _Analyzer, _Effective, _State
    from guardrails.review.changes import RiskFlag
    from guardrails.review.statements import Grant


def _pair(analyzer: _Analyzer, base: _State | None, head: _State | None, base_eff: _Effective | None,
          head_eff: _Effective | None, known: str) -> tuple[PrincipalChange, tuple[RiskFlag, ...]] | None:
    """The change of one principal in one account (accounts left empty), with its risk flags. ``known``: the
    account is new and the principal is deployed exactly so in this account of the base."""
    principal = (head or base).principal  # type: ignore[union-attr]
    status: Literal["added", "removed", "changed"] = "added" if base is None else "removed" if head is None \
        else "changed"
    b_actions = base_eff.actions if base_eff else frozenset()
    h_actions = head_eff.actions if head_eff else frozenset()
    gained, lost = h_actions - b_actions, b_actions - h_actions
    b_unknown = base_eff.unknown if base_eff else frozenset()
    h_unknown = head_eff.unknown if head_eff else frozenset()

    scope_changes: list[ScopeChange] = []
    scope_pairs: list[tuple[frozenset[Grant], frozenset[Grant], list[str]]] = []
    if base_eff and head_eff and base_eff.identity is not head_eff.identity:
        common = b_actions & h_actions
        for (before, after), actions in analyzer.scope_index(base_eff.identity, head_eff.identity).items():
            kept = [a for a in actions if a in common]
            if kept:
                scope_pairs.append((before, after, kept))
                scope_changes.append(ScopeChange(_sorted(kept), tuple(sorted(_render_grant(g) for g in before)),
                                                 tuple(sorted(_render_grant(g) for g in after))))

    b_att = dict(base.attachments) if base else {}
    h_att = dict(head.attachments) if head else {}
    attached = _sorted(set(h_att) - set(b_att))
    detached = _sorted(set(b_att) - set(h_att))
    changed_policies = _sorted(n for n in set(b_att) & set(h_att) if b_att[n] != h_att[n])
    unmodeled_all = set(base.unmodeled if base else ()) | set(head.unmodeled if head else ())
    unmodeled = _sorted(n for n in (*attached, *detached) if n in unmodeled_all)

    boundary = _boundary_change(base.boundary if base else None, head.boundary if head else None) \
        if principal.startswith("role/") and status != "removed" else None
    trust = _trust_changes(base.trust if base else None, head.trust if head else None)

    conditions: list[str] = []  # notes on gained actions
    limit_changes: list[str] = []  # conditional denies that start or stop applying to actions held in both
    flags: list[RiskFlag] = []
    if head_eff and gained:
        for limit in head_eff.limits:
            covered = gained & _actions(*limit.action_key)[0]
            if covered:
                conditions.append(f"{limit.description} (applies to {len(covered)} of the gained actions)")
    if base_eff and head_eff:
        common = b_actions & h_actions
        old_limits = {lim.description: lim for lim in base_eff.limits}
        new_limits = {lim.description: lim for lim in head_eff.limits}
        for description in sorted(set(new_limits) - set(old_limits)):
            if common & _actions(*new_limits[description].action_key)[0]:
                limit_changes.append(f"now also limited by: {description}")
        for description in sorted(set(old_limits) - set(new_limits)):
            limit = old_limits[description]
            if not common & _actions(*limit.action_key)[0]:
                continue
            limit_changes.append(f"no longer limited by: {description}")
            labels = sorted({_SENSITIVE_KEYS[k] for k in limit.keys if k in _SENSITIVE_KEYS})
            if labels and limit.kind != "scp":  # SCP statements are flagged once, in the SCP section
                flags.append(_flag("high", "condition-removed", principal,
                                   f"no longer limited by a {'/'.join(labels)} condition: {description}"))

    change = PrincipalChange(
        principal=principal, accounts=(), status=status, gained=_sorted(gained), lost=_sorted(lost),
        gained_unknown=_sorted(h_unknown - b_unknown), lost_unknown=_sorted(b_unknown - h_unknown),
        scope_changes=tuple(sorted(scope_changes, key=lambda s: (s.actions[0].lower(), s.before, s.after))),
        attached=attached, detached=detached, changed_policies=changed_policies, unmodeled=unmodeled,
        boundary=boundary, trust=trust, conditions=tuple(sorted(conditions)) + tuple(limit_changes),
        same_policies_as=known)
    if not (change.permissions_changed or attached or detached or changed_policies or boundary or trust
            or limit_changes):
        return None

    flags += _permission_flags(analyzer, principal, base_eff, head_eff, gained, scope_pairs)
    flags += _attachment_flags(principal, status, change, base, head)
    if known:
        # A new account receiving a baseline other accounts already have is no new kind of access: the account
        # is listed under accounts, and its principals' grants under principals, without repeating every flag.
        flags = []
    return change, tuple(flags)


def _permission_flags(analyzer: _Analyzer, principal: str, base_eff: _Effective | None, head_eff: _Effective | None,
                      gained: frozenset[str], scope_pairs: list[tuple[frozenset[Grant], frozenset[Grant], list[str]]]
                      ) -> list[RiskFlag]:
    flags: list[RiskFlag] = []
    before, after = analyzer.unmitigated(base_eff), analyzer.unmitigated(head_eff)
    rules = {r.id: r for r in risk_rules()}
    flagged: set[str] = set()
    for rule_id, found in sorted(after.items()):
        new = found - before.get(rule_id, frozenset())
        if not new:
            continue
        rule = rules[rule_id]
        if not rule.with_pass_role:
            flagged |= new
        what = f"passes roles to {', '.join(sorted(new))}" if rule.with_pass_role else _preview(_sorted(new))
        flags.append(_flag(_CATEGORY_SEVERITY.get(rule.category, "medium"), rule_id, principal,
                           f"{rule.title}: {what}"))
    levels = _level_of()
    # Permissions management a risk rule already named is not repeated.
    management = _sorted(a for a in gained if levels.get(a) == PERMISSIONS_MANAGEMENT and a not in flagged)
    if management:
        flags.append(_flag("medium", "permissions-management", principal,
                           f"gains {_count(len(management), 'permissions-management action')}: "
                           f"{_preview(management)}"))
    if head_eff:
        grants = head_eff.identity.grants
        starred = {a for a in gained if levels.get(a) in _WRITE_LEVELS and _on_star(grants[a])}
        starred |= {a for before_g, after_g, actions in scope_pairs if _on_star(after_g) and not _on_star(before_g)
                    for a in actions if levels.get(a) in _WRITE_LEVELS}
        if starred:
            flags.append(_flag("medium", "star-resource", principal,
                               f"{_count(len(starred), 'write/permissions-management action')} newly granted on "
                               f"\"*\": {_preview(_sorted(starred))}"))
        removed: dict[str, set[str]] = {}
        for before_g, after_g, actions in scope_pairs:
            required = set.intersection(*({c[1].lower() for c in g[2]} for g in before_g)) if before_g else set()
            for grant in after_g:
                present = {c[1].lower() for c in grant[2]}
                for key in required - present:
                    if key in _SENSITIVE_KEYS:
                        removed.setdefault(_SENSITIVE_KEYS[key], set()).update(actions)
        for label, actions in sorted(removed.items()):
            flags.append(_flag("high", "condition-removed", principal,
                               f"{label} condition removed from {_count(len(actions), 'action')}: "
                               f"{_preview(_sorted(actions))}"))
        new_wildcards = sorted(head_eff.identity.wildcards - (base_eff.identity.wildcards if base_eff else set()))
        if new_wildcards:
            flags.append(_flag("low", "new-wildcard", principal,
                               f"new wildcard action pattern(s) {_preview(new_wildcards)} (they also match actions "
                               "AWS adds later)"))
        unknown = head_eff.identity.own_unknown & head_eff.unknown
        unknown -= base_eff.identity.own_unknown if base_eff else frozenset()
        if unknown:
            flags.append(_flag("low", "unknown-action", principal,
                               f"gains action pattern(s) unknown to the IAM database: {_preview(_sorted(unknown))}"))
    return flags


def _attachment_flags(principal: str, status: str, change: PrincipalChange, base: _State | None,
                      head: _State | None) -> list[RiskFlag]:
    flags: list[RiskFlag] = []
    new_unmodeled = [n for n in change.unmodeled if n in change.attached]
    if new_unmodeled:
        flags.append(_flag("medium", "unmodeled-policy", principal,
                           f"attaches AWS managed {_preview(new_unmodeled)}, whose grants are not in the reference "
                           "data: review them by hand"))
    if change.boundary and change.boundary.change == "removed":
        flags.append(_flag("high", "boundary-removed", principal,
                           f"permissions boundary {change.boundary.before} removed"))
    role = principal.removeprefix("role/")
    for trust in change.trust:
        if trust.change == "added":
            if trust.principal in ("*", "Not *") or trust.principal.startswith("Not "):
                flags.append(_flag("high", "trust-widened", principal,
                                   f"role {role} may be assumed by anyone ({trust.principal})"))
            elif status == "added" or trust.principal.startswith("Service:"):
                flags.append(_flag("medium", "trust-added", principal,
                                   f"role {role} may be assumed by {trust.principal}"))
            else:
                flags.append(_flag("high", "trust-widened", principal,
                                   f"new principal may assume role {role}: {trust.principal}"))
        elif trust.change == "changed":
            for reason in _trust_widening(base, head, trust.principal):
                flags.append(_flag("high", "trust-widened", principal, f"role {role}: {reason}"))
        elif trust.change == "removed" and status != "removed" and trust.principal.startswith("Deny "):
            flags.append(_flag("high", "trust-widened", principal, f"role {role}: Deny of {trust.principal} removed"))
    return flags
