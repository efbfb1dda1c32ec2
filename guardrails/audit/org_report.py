"""Rendering of an organization audit: text (rich), JSON and Markdown; accounts by name, findings in the
single-account audit's order. Each account's JSON is the single-account report (guardrails-audit/1) plus its
status, role and error."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from guardrails.audit.compare import Finding
from guardrails.audit.organization import AccountAudit, OrganizationAudit
from guardrails.audit.report import to_json as account_json

FORMAT = "guardrails-audit-organization/1"


def _account(audit: AccountAudit) -> dict[str, Any]:
    if audit.result is not None:
        data = json.loads(account_json(audit.result))
        del data["format"]
    else:
        data = {"account": audit.name, "account_id": audit.account_id, "summary": None, "findings": [], "notes": []}
    return {"status": audit.status, "role_arn": audit.role_arn, "error": audit.error, **data}


def to_json(audit: OrganizationAudit) -> str:
    data = {
        "format": FORMAT,
        "organization_id": audit.organization_id,
        "management_account_id": audit.management_account_id,
        "caller_account_id": audit.caller_account_id,
        "endpoint": audit.endpoint,
        "as_of": audit.as_of,
        "role": audit.role,
        "summary": {**audit.counts(), "failed": audit.failed, "incomplete": audit.incomplete},
        "findings": [f.as_json() for f in audit.findings],
        "accounts": [_account(a) for a in audit.accounts],
        "notes": list(audit.notes),
    }
    return json.dumps(data, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(findings: tuple[Finding, ...]) -> list[str]:
    rows = ["| severity | code | subject | detail |", "|---|---|---|---|"]
    rows += [f"| {f.severity} | `{f.code}` | {_cell(f.subject)} | {_cell(f.detail)} |" for f in findings]
    return rows


def to_markdown(audit: OrganizationAudit) -> str:
    mark = "❌" if audit.failed or audit.incomplete else "✅"
    lines = [f"# Organization audit {audit.organization_id}", "",
             f"{mark} {audit.summary}. As of {audit.as_of}, via {audit.endpoint}, role `{audit.role}`, called "
             f"from account {audit.caller_account_id} (management account {audit.management_account_id}).", "",
             "| account | id | status | drift | CIS | info |", "|---|---|---|---|---|---|"]
    for a in audit.accounts:
        r = a.result
        numbers = ("—", "—", "—") if r is None else (str(len(r.drift)), str(len(r.cis_failures)),
                                                      str(sum(f.severity == "info" for f in r.findings)))
        lines.append(f"| {a.name} | {a.account_id} | {a.status} | " + " | ".join(numbers) + " |")
    if audit.findings:
        lines += ["", "## Organization", "", *_table(audit.findings)]
    for a in audit.accounts:
        lines += ["", f"## {a.name} ({a.account_id}): {a.status}", ""]
        if a.error:
            lines.append(f"Not audited: {_cell(a.error)}")
        elif a.result is not None and a.result.findings:
            lines += _table(a.result.findings)
        else:
            lines.append("No findings.")
        notes = a.result.notes if a.result is not None else ()
        if notes:
            lines += ["", *(f"- note: {n}" for n in notes)]
    if audit.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in audit.notes)]
    return "\n".join(lines) + "\n"


_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def to_terminal(audit: OrganizationAudit, out: Console) -> None:
    out.print(f"[bold]audit[/] organization {escape(audit.organization_id)} via {escape(audit.endpoint)}, as of "
              f"{audit.as_of}, role {escape(audit.role)}")
    for finding in audit.findings:
        _finding(out, finding, "  ")
    for a in audit.accounts:
        style = {"ok": "green", "drift": "red", "error": "red"}[a.status]
        out.print(f"  [{style}]{a.status.upper():<5}[/] {escape(a.name)} ({a.account_id})"
                  + (f": {escape(a.error)}" if a.error else ""))
        for finding in a.result.findings if a.result is not None else ():
            _finding(out, finding, "      ")
    for note in audit.notes:
        out.print(f"  [yellow]note[/]  {escape(note)}")
    mark = "[red]FAIL[/]" if audit.failed or audit.incomplete else "[green]OK[/]"
    out.print(f"{mark} {escape(audit.summary)}")


def _finding(out: Console, finding: Finding, indent: str) -> None:
    out.print(f"{indent}[{_STYLE[finding.severity]}]{finding.severity:<5}[/] {escape(finding.code)} "
              f"{escape(finding.subject)}: {escape(finding.detail)}")
