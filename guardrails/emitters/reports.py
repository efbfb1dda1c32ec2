"""Human-readable reports under ``reports/``: what each account receives."""

from __future__ import annotations

from guardrails.emitters import header_text
from guardrails.policies.ir import Plan


def emit(plan: Plan) -> dict[str, str]:
    lines = [f"<!-- {header_text(plan)} -->", "", f"# Organization {plan.org.name}: accounts and their baselines", "",
             "| account | id | OU | baseline class | roles | groups | users |", "|---|---|---|---|---|---|---|"]
    for account in sorted(plan.accounts, key=lambda a: (a.unit, a.name)):
        cls = plan.class_of(account.name)
        assert cls is not None
        b = cls.baseline
        lines.append(f"| {account.name} | {account.id} | {account.unit or '(root)'} | {cls.key} | "
                     f"{', '.join(r.name for r in b.roles)} | {', '.join(g.name for g in b.groups)} | "
                     f"{', '.join(u.name for u in b.users) or '—'} |")
    lines += ["", "## Service control policies", "", "| policy | target | characters (minified) | guardrails |", "|---|---|---|---|"]
    for scp in plan.scps:
        lines.append(f"| {scp.name} | {scp.target} | {len(scp.document.render(minified=True))} | "
                     f"{', '.join(scp.guardrails) or 'explicit'} |")
    return {"reports/summary.md": "\n".join(lines) + "\n"}
