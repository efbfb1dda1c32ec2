"""Risks kept on purpose: ``accept_risks`` declarations, which findings they cover, and the diagnostics and summary
lines of the build (GR203 unknown risk, GR315 undeclared finding, GR321 declaration past its review date).

A declaration belongs to a job function; it covers the findings of the job function's managed policies and of the
permission sets whose inline policy is compiled from it (the caller maps both to the declarations). Resource
policies have no declarations: a finding there is fixed in the policy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from guardrails.diagnostics import Diagnostic, Location
from guardrails.policies.risk_findings import RiskFinding
from guardrails.policies.risk_plan import PlanRisk
from guardrails.policies.risk_rules import CATEGORIES, known_risks


@dataclass(frozen=True)
class AcceptedRisk:
    """A job function's declaration that it carries a risk on purpose (``accept_risks`` entry)."""

    risk: str  # a rule id ("privilege-escalation/pass-role-unscoped") or a category ("data-exfiltration")
    reason: str
    owner: str
    review_by: date
    origin: str = field(default="", compare=False)  # blueprint "file:line:col" of the declaration

    def covers(self, finding: RiskFinding) -> bool:
        return self.risk in (finding.rule, finding.category)

    def expired(self, today: date) -> bool:
        return today > self.review_by


def unaccepted(findings: Iterable[PlanRisk], accepted: Mapping[str, Sequence[AcceptedRisk]], today: date
               ) -> tuple[list[PlanRisk], list[tuple[PlanRisk, AcceptedRisk]], list[tuple[PlanRisk, AcceptedRisk]]]:
    """Split unmitigated findings into (errors, accepted, expired).

    ``accepted`` maps a policy key (``job_workload_admin``) or policy name (``guardrails-workload-admin``)
    to its declarations. ``accepted`` holds every declared finding with the declaration that covers it,
    including those past review; ``expired`` is the subset whose ``review_by`` is before ``today``
    (still accepted: a warning, not an error). Mitigated findings need no declaration and appear nowhere.
    """
    errors: list[PlanRisk] = []
    ok: list[tuple[PlanRisk, AcceptedRisk]] = []
    expired: list[tuple[PlanRisk, AcceptedRisk]] = []
    for risk in findings:
        if risk.finding.mitigated:
            continue
        if risk.kind == "resource-policy":  # nothing declares these: the policy itself must change
            errors.append(risk)
            continue
        declared = [a for k in dict.fromkeys((risk.policy_key, risk.policy_name)) for a in accepted.get(k, ())
                    if a.covers(risk.finding)]
        if not declared:
            errors.append(risk)
            continue
        current = [a for a in declared if not a.expired(today)]
        chosen = (current or declared)[0]
        ok.append((risk, chosen))
        if chosen.expired(today):
            expired.append((risk, chosen))
    return errors, ok, expired


def unused_acceptances(findings: Iterable[PlanRisk], accepted: Mapping[str, Sequence[AcceptedRisk]]
                       ) -> list[tuple[str, AcceptedRisk]]:
    """Declarations that cover no unmitigated finding of their policy (stale: worth a GR320 warning)."""
    open_ = [r for r in findings if not r.finding.mitigated]
    return [(key, a) for key, declared in accepted.items() for a in declared
            if not any(key in (r.policy_key, r.policy_name) and a.covers(r.finding) for r in open_)]


def declaration_diagnostics(accepted: Mapping[str, Sequence[AcceptedRisk]]) -> list[Diagnostic]:
    """GR203 for a declaration whose ``risk`` is neither a rule id nor a category (with a suggestion)."""
    known = sorted(known_risks())
    out = []
    for declared in accepted.values():
        for a in declared:
            if a.risk in known:
                continue
            close = difflib.get_close_matches(a.risk, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            out.append(Diagnostic.of("GR203", f"accept_risks names unknown risk {a.risk!r}", Location.parse(a.origin),
                                     hint + "use a rule id from guardrails/data/risks.yaml or one of the categories "
                                     + ", ".join(CATEGORIES)))
    return out


# ----------------------------------------------------------------------------- reporting


def _preview(actions: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(actions[:limit])
    return shown + (f" and {len(actions) - limit} more" if len(actions) > limit else "")


def risk_diagnostics(errors: Iterable[PlanRisk], expired: Iterable[tuple[PlanRisk, AcceptedRisk]]) -> list[Diagnostic]:
    """GR315 for each undeclared finding, GR321 for each declaration past its review date."""
    out: list[Diagnostic] = []
    for risk in errors:
        f = risk.finding
        out.append(Diagnostic.of("GR315", f"{_subject(risk)}, statement {f.sid}: {f.title} ({f.rule}): "
                                          f"{_preview(f.actions)}; {f.reason}", risk.location, _hint(risk)))
    seen: set[tuple[str, AcceptedRisk]] = set()
    for risk, declaration in expired:
        if (risk.policy_key, declaration) in seen:
            continue
        seen.add((risk.policy_key, declaration))
        out.append(Diagnostic.of(
            "GR321", f"accepted risk {declaration.risk} on {_subject(risk)} was due for review on "
                     f"{declaration.review_by.isoformat()} (owner {declaration.owner})",
            Location.parse(declaration.origin) or risk.location,
            "review the grant with its owner; then narrow it, or move review_by forward"))
    return out


def _subject(risk: PlanRisk) -> str:
    """``policy guardrails-dev``; ``permission set ReadOnly (inline policy, assigned in a, b)``; ``resource policy
    log-archive-key (arn:aws:kms:…)``."""
    if risk.kind == "permission-set":
        where = f", assigned in {_preview(risk.accounts)}" if risk.accounts else ", not assigned"
        return f"{risk.label} (inline policy{where})"
    if risk.kind == "resource-policy":
        return f"{risk.label} ({risk.resource})"
    return f"policy {risk.label}"


def _hint(risk: PlanRisk) -> str:
    rule = risk.finding.rule
    declaration = f"accept_risks: [{{risk: {rule}, reason: ..., owner: ..., review_by: YYYY-MM-DD}}]"
    if risk.kind == "permission-set":
        return ("narrow the grant as above, or declare it on the job function the statement comes from (its "
                f"declarations cover the permission sets built from it): {declaration}")
    if risk.kind == "resource-policy":
        return ("name the principals (this account, or a service) or add a condition on the caller; resource "
                "policies take no accept_risks")
    return f"narrow the grant as above, or declare it on the job function: {declaration}"


def summary_lines(accepted: Iterable[tuple[PlanRisk, AcceptedRisk]], today: date | None = None) -> list[str]:
    """One line per (policy, declaration) for the build summary: what is accepted, why, by whom, until when."""
    grouped: dict[tuple[str, AcceptedRisk], list[str]] = {}
    for risk, declaration in accepted:
        rules = grouped.setdefault((risk.label, declaration), [])
        if risk.finding.rule not in rules:
            rules.append(risk.finding.rule)
    lines = []
    for (policy, declaration), rule_ids in grouped.items():
        late = " (review overdue)" if today and declaration.expired(today) else ""
        lines.append(f"{policy}: accepts {', '.join(rule_ids)} — {declaration.reason} "
                     f"[owner {declaration.owner}, review by {declaration.review_by.isoformat()}{late}]")
    return lines
