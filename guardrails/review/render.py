"""A :class:`PermissionDiff` as a pull-request comment (Markdown), as JSON, and on the terminal (rich).

Markdown and the terminal are for people: risks first, then one collapsible section per principal change, long
lists capped with "… and N more". JSON is for tools: everything, uncapped, with sorted keys.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from guardrails.review.changes import (
    SEVERITIES,
    PermissionDiff,
    PrincipalChange,
    RiskFlag,
    TargetChange,
)

# Caps that keep a comment readable (and under GitHub's 65,536-character comment limit).
MAX_ACCOUNTS = 8
MAX_SERVICES = 25
MAX_ACTIONS_PER_SERVICE = 12
MAX_ROWS = 20
MAX_RISKS = 60
MARKDOWN_BUDGET = 60_000

_ICON = {"high": "🔴", "medium": "🟠", "low": "⚪"}
_STYLE = {"high": "bold yellow", "medium": "yellow", "low": "dim yellow"}


# ============================================================================= shared helpers


def _more(shown: int, total: int, noun: str = "") -> str:
    return f"… and {total - shown} more{' ' + noun if noun else ''}" if total > shown else ""


def _more_suffix(total: int) -> str:
    return f" … and {total - MAX_ACTIONS_PER_SERVICE} more" if total > MAX_ACTIONS_PER_SERVICE else ""


def _capped(items: Sequence[str], limit: int) -> str:
    text = ", ".join(items[:limit])
    rest = _more(limit, len(items))
    return f"{text} {rest}" if rest else text


def _accounts(accounts: Sequence[str]) -> str:
    names = _capped(list(accounts), MAX_ACCOUNTS)
    return f"{len(accounts)} accounts ({names})" if len(accounts) > 1 else names


def _by_service(actions: Iterable[str]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for action in actions:
        service, sep, name = action.partition(":")
        grouped.setdefault(service if sep else "(other)", []).append(name if sep else action)
    return sorted(grouped.items())


def _risk_counts(risks: Sequence[RiskFlag]) -> str:
    counts = [(s, sum(1 for r in risks if r.severity == s)) for s in SEVERITIES]
    return ", ".join(f"{n} {s}" for s, n in counts if n)


def _principal_title(change: PrincipalChange) -> str:
    parts = [f"+{len(change.gained)} −{len(change.lost)} actions"]
    if change.same_policies_as:
        parts.append(f"the policies it has in {change.same_policies_as}")
    if change.status != "changed":
        parts.insert(0, change.status)
    if change.scope_changes:
        parts.append(f"{sum(len(s.actions) for s in change.scope_changes)} re-scoped")
    if change.trust and change.status == "changed":
        parts.append("trust changed")
    elif change.trust:
        parts.append(f"assumable by {', '.join(t.principal for t in change.trust[:3])}"
                     + (f" and {len(change.trust) - 3} more" if len(change.trust) > 3 else ""))
    if change.boundary:
        parts.append(f"boundary {change.boundary.change}")
    if any(c.startswith(("now also limited by", "no longer limited by")) for c in change.conditions):
        parts.append("conditional denies changed")
    if change.attached or change.detached:
        parts.append(f"{len(change.attached)} attached, {len(change.detached)} detached")
    elif change.changed_policies:
        n = len(change.changed_policies)
        parts.append(f"{n} {'policy' if n == 1 else 'policies'} changed")
    return " · ".join(parts)


def _target_rows(target: TargetChange) -> list[tuple[str, str]]:
    """(change, detail) rows for one SCP/RCP target."""
    label = target.kind.upper()
    rows: list[tuple[str, str]] = []
    rows += [(f"{label} attached", name) for name in target.added]
    rows += [(f"{label} detached", name) for name in target.removed]
    rows += [("guardrail added", g) for g in target.guardrails_added]
    rows += [("guardrail removed", g) for g in target.guardrails_removed]
    for statement in target.statements:
        actions = ("NotAction " if statement.not_action else "") + _capped(list(statement.actions), 6)
        detail = f"{statement.policy} {statement.sid}: {statement.effect} {actions}"
        if statement.detail:
            detail += f" — {statement.detail}"
        rows.append((f"statement {statement.change}", detail))
    for size in target.sizes:
        before = "—" if size.before is None else f"{size.before:,}"
        after = "—" if size.after is None else f"{size.after:,}"
        over = " **over the limit**" if size.after is not None and size.after > size.limit else ""
        rows.append(("size", f"{size.policy}: {before} → {after} characters ({size.delta:+,}) of "
                             f"{size.limit:,}{over}"))
    if target.slots_before != target.slots_after:
        over = " **over the limit**" if target.slots_after > target.slot_limit else ""
        rows.append(("policies attached", f"{target.slots_before} → {target.slots_after} of {target.slot_limit} "
                                          f"(FullAWSAccess included){over}"))
    return rows


# ============================================================================= Markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


def _md_actions(actions: Sequence[str]) -> list[str]:
    groups = _by_service(actions)
    lines = []
    for service, names in groups[:MAX_SERVICES]:
        shown = ", ".join(_code(n) for n in names[:MAX_ACTIONS_PER_SERVICE])
        rest = _more(MAX_ACTIONS_PER_SERVICE, len(names))
        lines.append(f"- **{service}** ({len(names)}): {shown}{' ' + rest if rest else ''}")
    if len(groups) > MAX_SERVICES:
        lines.append(f"- {_more(MAX_SERVICES, len(groups), 'services')} "
                     f"({sum(len(n) for _, n in groups[MAX_SERVICES:])} actions)")
    return lines


def _md_principal(change: PrincipalChange) -> list[str]:
    title = f"<b>{change.principal}</b> in {_accounts(change.accounts)} — {_principal_title(change)}"
    if change.same_policies_as:
        # A new account with a baseline already reviewed elsewhere: one line, the lists are in the JSON.
        return [f"- {title}", ""]
    lines = ["<details>", f"<summary>{title}</summary>", ""]
    if change.gained:
        lines += [f"**Gained ({len(change.gained)})**", "", *_md_actions(change.gained), ""]
    if change.lost:
        lines += [f"**Lost ({len(change.lost)})**", "", *_md_actions(change.lost), ""]
    unknown = [f"{verb} {_capped([_code(u) for u in items], 10)}"
               for verb, items in (("gained", change.gained_unknown), ("lost", change.lost_unknown)) if items]
    if unknown:
        lines += ["**Patterns unknown to the IAM database:** " + "; ".join(unknown), ""]
    if change.scope_changes:
        lines += ["**Scope changes** (granted in both, on other resources or conditions)", "",
                  "| actions | before | after |", "|---|---|---|"]
        for scope in change.scope_changes[:MAX_ROWS]:
            lines.append(f"| {_cell(_capped([_code(a) for a in scope.actions], 6))} | "
                         f"{_cell('<br>'.join(scope.before))} | {_cell('<br>'.join(scope.after))} |")
        if len(change.scope_changes) > MAX_ROWS:
            lines.append(f"| {_more(MAX_ROWS, len(change.scope_changes), 'scope changes')} | | |")
        lines.append("")
    if change.trust:
        lines += ["**Who can assume it**", "", "| principal | change | before | after |", "|---|---|---|---|"]
        for trust in change.trust[:MAX_ROWS]:
            lines.append(f"| {_cell(_code(trust.principal))} | {trust.change} | {_cell('<br>'.join(trust.before))} | "
                         f"{_cell('<br>'.join(trust.after))} |")
        if len(change.trust) > MAX_ROWS:
            lines.append(f"| {_more(MAX_ROWS, len(change.trust))} | | | |")
        lines.append("")
    if change.boundary:
        b = change.boundary
        lines += [f"**Permissions boundary** {b.change}: {_code(b.before or '—')} → {_code(b.after or '—')}", ""]
    for title, items in (("Policies attached", change.attached), ("Policies detached", change.detached),
                         ("Policies changed", change.changed_policies),
                         ("AWS managed policies without reference data (grants not shown)", change.unmodeled)):
        if items:
            lines += [f"**{title}:** {_capped([_code(i) for i in items], 10)}", ""]
    if change.conditions:
        lines += ["**Conditions** (conditional denies are not subtracted from the lists above)", ""]
        lines += [f"- {c}" for c in change.conditions[:MAX_ROWS]]
        if len(change.conditions) > MAX_ROWS:
            lines.append(f"- {_more(MAX_ROWS, len(change.conditions))}")
        lines.append("")
    lines += ["</details>", ""]
    return lines


def to_markdown(diff: PermissionDiff) -> str:
    """A pull-request comment: headline, risks, principals (collapsible), SCP/RCP and account changes."""
    lines = ["### guardrails diff — who can now do what, where", "", f"**{diff.summary}**", "",
             f"{_code(diff.base)} → {_code(diff.head)} · IAM action database {diff.iam_database}", ""]
    for note in diff.notes:
        lines += [f"> **Note:** {note}", ""]
    if diff.risks:
        lines += [f"#### ⚠️ Risks ({_risk_counts(diff.risks)})", "", "| | severity | kind | who | where | why |",
                  "|---|---|---|---|---|---|"]
        for flag in diff.risks[:MAX_RISKS]:
            lines.append(f"| {_ICON[flag.severity]} | {flag.severity} | {_cell(flag.kind)} | {_cell(flag.subject)} | "
                         f"{_cell(_accounts(flag.accounts)) if flag.accounts else ''} | {_cell(flag.reason)} |")
        if len(diff.risks) > MAX_RISKS:
            lines.append(f"| | | | | | {_more(MAX_RISKS, len(diff.risks), 'flags')} (see `--format json`) |")
        lines.append("")
    if diff.principals:
        lines += ["#### Principals", ""]
        for index, change in enumerate(diff.principals):
            section = _md_principal(change)
            if sum(len(line) + 1 for line in lines + section) > MARKDOWN_BUDGET:
                lines += [f"{_more(index, len(diff.principals), 'principal changes')} — the comment is at its size "
                          "limit; run `guardrails diff --format json` for everything", ""]
                break
            lines += section
    if diff.organization_policies:
        lines += ["#### Service and resource control policies", "", "| target | change | detail |", "|---|---|---|"]
        rows = [(t.target, change, detail) for t in diff.organization_policies for change, detail in _target_rows(t)]
        for target, change, detail in rows[:MAX_ROWS * 3]:
            lines.append(f"| {_cell(_code(target))} | {change} | {_cell(detail)} |")
        if len(rows) > MAX_ROWS * 3:
            lines.append(f"| | | {_more(MAX_ROWS * 3, len(rows), 'rows')} |")
        lines.append("")
    if diff.wildcards:
        lines += ["#### Existing wildcards that now match other actions (IAM action database update)", ""]
        for widening in diff.wildcards[:MAX_ROWS]:
            parts = []
            if widening.gained:
                parts.append("now also " + ", ".join(_code(a) for a in widening.gained[:MAX_ACTIONS_PER_SERVICE])
                             + _more_suffix(len(widening.gained)))
            if widening.lost:
                parts.append("no longer " + ", ".join(_code(a) for a in widening.lost[:MAX_ACTIONS_PER_SERVICE])
                             + _more_suffix(len(widening.lost)))
            lines.append(f"- {_code(widening.pattern)}: {'; '.join(parts)}")
        if len(diff.wildcards) > MAX_ROWS:
            lines.append(f"- {_more(MAX_ROWS, len(diff.wildcards), 'patterns')}")
        lines.append("")
    if diff.replacements:
        lines += ["#### Replacements (deployed resources destroyed and created again)", ""]
        for item in diff.replacements[:MAX_ROWS]:
            after = f" → {_code(item.after)}" if item.after else ""
            lines += [f"- **{_code(item.before)}**{after} in {_accounts(item.accounts)}: {item.detail}.",
                      f"  Destroys {_capped([_code(d) for d in item.destroys], MAX_ROWS)}."]
        if len(diff.replacements) > MAX_ROWS:
            lines.append(f"- {_more(MAX_ROWS, len(diff.replacements), 'replacements')} (see `--format json`)")
        lines.append("")
    if diff.accounts:
        lines += ["#### Accounts", ""]
        lines += [f"- {a.change} **{a.account}** {a.detail}".rstrip() for a in diff.accounts]
        lines.append("")
    if diff.empty:
        lines += ["No principal, trust, boundary, SCP/RCP or account changes.", ""]
    return "\n".join(lines).rstrip() + "\n"


# ============================================================================= JSON


def json_ready(diff: PermissionDiff) -> dict[str, Any]:
    """The diff as plain data: what ``--format json`` writes, and what the HTML page renders."""
    data = dataclasses.asdict(diff)
    data["summary"] = diff.summary
    data["risky"] = diff.risky
    for target, raw in zip(diff.organization_policies, data["organization_policies"], strict=True):
        for size, entry in zip(target.sizes, raw["sizes"], strict=True):
            entry["delta"] = size.delta
    return data


def to_json(diff: PermissionDiff) -> str:
    """Everything, uncapped, with sorted keys (stable across runs)."""
    return json.dumps(json_ready(diff), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ============================================================================= terminal


def _term_actions(sign: str, style: str, actions: Sequence[str]) -> list[Text]:
    out = []
    groups = _by_service(actions)
    for service, names in groups[:MAX_SERVICES]:
        shown = ", ".join(names[:MAX_ACTIONS_PER_SERVICE])
        rest = _more(MAX_ACTIONS_PER_SERVICE, len(names))
        out.append(Text(f"    {sign} {service}: {shown}{' ' + rest if rest else ''}", style=style))
    if len(groups) > MAX_SERVICES:
        out.append(Text(f"    {sign} {_more(MAX_SERVICES, len(groups), 'services')}", style=style))
    return out


def to_terminal(diff: PermissionDiff, console: Console) -> None:
    """Print the diff with colors: green gained, red lost, yellow risks."""
    console.print(Text(diff.summary, style="bold"))
    console.print(Text(f"{diff.base} → {diff.head} · IAM action database {diff.iam_database}", style="dim"))
    for note in diff.notes:
        console.print(Text(f"note: {note}", style="cyan"))
    if diff.risks:
        table = Table(title=f"Risks ({_risk_counts(diff.risks)})", title_style="bold yellow", show_lines=False,
                      expand=False)
        for column in ("severity", "kind", "who", "where", "why"):
            table.add_column(column, overflow="fold")
        for flag in diff.risks[:MAX_RISKS]:
            style = _STYLE[flag.severity]
            table.add_row(Text(flag.severity, style=style), flag.kind, flag.subject,
                          _accounts(flag.accounts) if flag.accounts else "", Text(flag.reason, style=style))
        if len(diff.risks) > MAX_RISKS:
            table.add_row("", "", "", "", _more(MAX_RISKS, len(diff.risks), "flags"))
        console.print(table)
    for change in diff.principals:
        console.print()
        console.print(Text.assemble((change.principal, "bold"), f" in {_accounts(change.accounts)} — ",
                                    (_principal_title(change), "dim")))
        if change.same_policies_as:
            continue  # a baseline already deployed elsewhere: the lists are in the JSON
        for line in _term_actions("+", "green", change.gained) + _term_actions("-", "red", change.lost):
            console.print(line)
        for pattern in change.gained_unknown:
            console.print(Text(f"    + {pattern} (unknown to the IAM database)", style="green"))
        for pattern in change.lost_unknown:
            console.print(Text(f"    - {pattern} (unknown to the IAM database)", style="red"))
        for scope in change.scope_changes[:MAX_ROWS]:
            console.print(Text(f"    ~ {_capped(list(scope.actions), 6)}: {' | '.join(scope.before)} → "
                               f"{' | '.join(scope.after)}"))
        for trust in change.trust[:MAX_ROWS]:
            style = {"added": "green", "removed": "red", "changed": "yellow"}[trust.change]
            console.print(Text(f"    trust {trust.change} {trust.principal}: {' | '.join(trust.before) or '—'} → "
                               f"{' | '.join(trust.after) or '—'}", style=style))
        if change.boundary:
            b = change.boundary
            console.print(Text(f"    boundary {b.change}: {b.before or '—'} → {b.after or '—'}",
                               style="red" if b.change == "removed" else ""))
        for title, items, style in (("attached", change.attached, "green"), ("detached", change.detached, "red"),
                                    ("changed", change.changed_policies, ""),
                                    ("unmodeled", change.unmodeled, "yellow")):
            if items:
                console.print(Text(f"    {title}: {_capped(list(items), 10)}", style=style))
        for condition in change.conditions[:MAX_ROWS]:
            console.print(Text(f"    condition: {condition}", style="dim"))
    if diff.organization_policies:
        console.print()
        table = Table(title="Service and resource control policies", expand=False)
        for column in ("target", "change", "detail"):
            table.add_column(column, overflow="fold")
        for target in diff.organization_policies:
            for change_name, detail in _target_rows(target):
                table.add_row(target.target, change_name, detail.replace("**", ""))
        console.print(table)
    for widening in diff.wildcards:
        console.print(Text(f"wildcard {widening.pattern}: +{len(widening.gained)} −{len(widening.lost)} actions "
                           f"({_capped(list(widening.gained or widening.lost), 6)})", style="yellow"))
    for item in diff.replacements:
        console.print()
        after = f" → {item.after}" if item.after else ""
        console.print(Text(f"replaced: {item.before}{after} in {_accounts(item.accounts)}", style="bold red"))
        console.print(Text(f"    destroys {_capped(list(item.destroys), MAX_ROWS)}", style="red"))
        console.print(Text(f"    {item.detail}", style="dim"))
    if diff.accounts:
        console.print()
        for account in diff.accounts:
            style = {"added": "green", "removed": "red", "moved": "yellow"}[account.change]
            console.print(Text(f"account {account.change}: {account.account} {account.detail}".rstrip(), style=style))
