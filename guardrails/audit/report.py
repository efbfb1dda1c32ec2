"""Rendering of an audit: text (rich) and JSON, both in the findings' deterministic order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from guardrails.audit.compare import Finding


@dataclass(frozen=True)
class AuditResult:
    account: str
    account_id: str
    endpoint: str
    as_of: str
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]

    @property
    def drift(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("drift/"))

    @property
    def cis_failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.code.startswith("cis/"))

    @property
    def failed(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def summary(self) -> str:
        info = sum(f.severity == "info" for f in self.findings)
        return (f"account {self.account} ({self.account_id}): {len(self.drift)} drift finding(s), "
                f"{len(self.cis_failures)} CIS failure(s), {info} informational")


def to_json(result: AuditResult) -> str:
    data: dict[str, Any] = {
        "format": "guardrails-audit/1",
        "account": result.account,
        "account_id": result.account_id,
        "endpoint": result.endpoint,
        "as_of": result.as_of,
        "summary": {"drift": len(result.drift), "cis_failures": len(result.cis_failures),
                    "info": sum(f.severity == "info" for f in result.findings), "failed": result.failed},
        "findings": [f.as_json() for f in result.findings],
        "notes": list(result.notes),
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def to_terminal(result: AuditResult, out: Console) -> None:
    out.print(f"[bold]audit[/] {escape(result.account)} ({result.account_id}) via {escape(result.endpoint)}, "
              f"as of {result.as_of}")
    for finding in result.findings:
        style = _STYLE[finding.severity]
        out.print(f"  [{style}]{finding.severity:<5}[/] {escape(finding.code)} {escape(finding.subject)}: "
                  f"{escape(finding.detail)}")
    for note in result.notes:
        out.print(f"  [yellow]note[/]  {escape(note)}")
    mark = "[red]FAIL[/]" if result.failed else "[green]OK[/]"
    out.print(f"{mark} {escape(result.summary)}")
