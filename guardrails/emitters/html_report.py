"""``reports/index.html`` and ``guardrails diff --format html``: self-contained HTML pages (docs/html-report.md).

Rendered with Jinja2 (autoescape on; the long repeated parts by html_rows, escaped the same way) from values that
already exist: the plan (OU tree, policies, sizes, slots, accounts), and what the pipeline's evaluator runs decided
(the access matrix, the escalation summary, the lockout proof's coverage), passed in as data. Inline CSS only, no
script, font or URL outside the page; the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import jinja2

from guardrails.emitters import header_text, html_rows
from guardrails.iam.organization import policy_targets
from guardrails.policies.ir import Account, OrgUnit, Plan, ServiceControlPolicy

MAX_DETAIL = 240  # characters of the evaluator's summary kept in a matrix cell's title


class _Probe(Protocol):
    id: str
    title: str
    action: str
    resource: str


class _Cell(Protocol):
    outcome: str
    detail: str


class _Group(Protocol):
    class_key: str
    accounts: tuple[str, ...]
    representative: str
    path: tuple[str, ...]
    rows: tuple[tuple[str, tuple[_Cell, ...]], ...]


class Matrix(Protocol):
    """guardrails.evaluation.access_matrix.AccessMatrix, as this page reads it."""

    probes: tuple[_Probe, ...]
    groups: tuple[_Group, ...]


@dataclass(frozen=True)
class EscalationRow:
    """One baseline class of the escalation analysis (reports/escalation.md's index)."""

    class_key: str
    accounts: tuple[str, ...]
    principals: int
    escalations: int  # principals that gain reach through an undeclared path
    tamper: int  # principals that change a control they do not own


@dataclass(frozen=True)
class LockoutRow:
    check: str
    groups: int  # (SCP/RCP path, class) groups proven
    combinations: int  # requests (or action × context combinations) decided


@dataclass(frozen=True)
class Evaluated:
    """What the evaluator decided during the compilation, for the report page."""

    matrix: Matrix
    outcomes: Mapping[str, str]  # matrix outcome → what it means
    escalation: tuple[EscalationRow, ...]
    lockout: tuple[LockoutRow, ...] | None  # None: the lockout proof did not run in this compilation
    lockout_actions: int = 0
    tests: tuple[int, int] | None = None  # (passed, cases) of the blueprint's access tests, when they ran


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("guardrails.emitters", "templates/html"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


@dataclass(frozen=True)
class _Index:
    """The plan's lists grouped once by what the page looks them up by (each lookup was a scan of the whole list:
    a target's SCPs, an OU's children, an account's class). Every list keeps the plan's order."""

    scps: Mapping[str, list[ServiceControlPolicy]]  # target → policies attached there
    rcps: Mapping[str, list[ServiceControlPolicy]]
    units: Mapping[str, list[OrgUnit]]  # parent path → OUs
    accounts: Mapping[str, list[Account]]  # OU path → accounts
    pending: Mapping[str, list[Account]]
    class_of: Mapping[str, str]  # account → baseline class key

    @classmethod
    def of(cls, plan: Plan) -> _Index:
        def by(items: Sequence[Any], key: str) -> dict[str, list[Any]]:
            grouped: dict[str, list[Any]] = {}
            for item in items:
                grouped.setdefault(getattr(item, key), []).append(item)
            return grouped

        class_of: dict[str, str] = {}
        for baseline in plan.classes:  # the first class naming an account wins, as Plan.class_of
            for account in baseline.accounts:
                class_of.setdefault(account, baseline.key)
        return cls(by(plan.scps, "target"), by(plan.rcps, "target"), by(plan.units, "parent"),
                   by(plan.accounts, "unit"), by(plan.pending_accounts, "unit"), class_of)


def _policy_row(policy: ServiceControlPolicy, limit: int) -> dict[str, Any]:
    size = len(policy.document.render(minified=True))
    return {"name": policy.name, "size": size, "limit": limit, "percent": size * 100 // limit,
            "what": ", ".join(policy.guardrails) or "explicit: " + ", ".join(s.sid for s in policy.document.statements),
            "merged": policy.merged}


def _slots(plan: Plan, index: _Index, target: str) -> dict[str, Any]:
    """The SCPs and RCPs attached at one target: slots used (the AWS managed default included) and sizes."""
    out: dict[str, Any] = {}
    for kind, policies, chars, slots in (("scp", index.scps, "scp_chars", "scps_per_target"),
                                         ("rcp", index.rcps, "rcp_chars", "rcps_per_target")):
        attached = policies.get(target, ())
        out[kind] = {"used": 1 + len(attached), "limit": plan.limits[slots].value,
                     "policies": [_policy_row(p, plan.limits[chars].value) for p in attached]}
    return out


def _tree(plan: Plan, index: _Index) -> dict[str, Any]:
    """root → OUs → accounts, each node with its target's slots."""
    def node(path: str, name: str) -> dict[str, Any]:
        target = f"ou:{path}" if path else "root"
        units = sorted(index.units.get(path, ()), key=lambda u: u.name)
        accounts = sorted(index.accounts.get(path, ()), key=lambda a: a.name)
        return {"name": name, "target": target, "id": "ou-" + (_slug(path) or "root"),
                "slots": _slots(plan, index, target), "units": [node(u.path, u.name) for u in units],
                "accounts": [{"name": a.name, "id": a.id, "management": a.management,
                              "slots": _slots(plan, index, f"account:{a.name}")} for a in accounts],
                "pending": sorted(a.name for a in index.pending.get(path, ()))}
    return node("", "Root")


def _names(attached: Mapping[str, list[ServiceControlPolicy]], targets: Sequence[str]) -> list[str]:
    return [p.name for t in targets for p in attached.get(t, ())]


def _accounts(plan: Plan, index: _Index, group_of: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    rows = []
    inherited: dict[str, tuple[list[str], list[str]]] = {}  # OU → SCP and RCP names root → OU, for all its accounts
    for account in sorted(plan.accounts, key=lambda a: (a.unit, a.name)):
        *above, own = policy_targets(account.unit, account.name)
        if account.unit not in inherited:
            inherited[account.unit] = (_names(index.scps, above), _names(index.rcps, above))
        scps, rcps = inherited[account.unit]
        rows.append({"name": account.name, "id": account.id, "unit": account.unit or "(root)",
                     "management": account.management, "class": index.class_of.get(account.name, "—"),
                     "scps": scps + _names(index.scps, [own]), "rcps": rcps + _names(index.rcps, [own]),
                     "group": group_of.get(account.name)})
    return rows


def _matrix(groups: Sequence[_Group]) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """The matrix groups as the page shows them (rows rendered), and each account's group (anchor, name)."""
    out, group_of = [], {}
    for index, group in enumerate(groups, start=1):
        anchor = f"matrix-{index}"
        group_of.update({a: (anchor, group.class_key or group.representative) for a in group.accounts})
        out.append({"id": anchor, "class_key": group.class_key, "accounts": group.accounts,
                    "representative": group.representative, "path": group.path, "principals": len(group.rows),
                    "rows": html_rows.matrix_rows(group.rows, _slug, MAX_DETAIL)})
    return out, group_of


def report_page(plan: Plan, evaluated: Evaluated) -> str:
    """reports/index.html: OU tree with slots and sizes, accounts, the access matrix, escalation and lockout."""
    index = _Index.of(plan)
    groups, group_of = _matrix(evaluated.matrix.groups)
    accounts = _accounts(plan, index, group_of)
    probes = evaluated.matrix.probes
    return environment().get_template("report.html.j2").render(
        title=f"Organization {plan.org.name}", header=header_text(plan), org=plan.org.name,
        tree=html_rows.tree(_tree(plan, index)), accounts=html_rows.account_rows(accounts),
        management=any(a["management"] for a in accounts),
        pending=[{"name": a.name, "unit": a.unit or "(root)"} for a in plan.pending_accounts],
        probes=probes, groups=groups, decisions=sum(g["principals"] for g in groups) * len(probes),
        outcomes=[{"name": k, "slug": _slug(k), "text": v} for k, v in evaluated.outcomes.items()],
        escalation=evaluated.escalation, lockout=evaluated.lockout, lockout_actions=evaluated.lockout_actions,
        tests=evaluated.tests)


def diff_page(diff: Mapping[str, Any], *, actions_shown: int = 200) -> str:
    """``guardrails diff --format html``: the permission diff as ``guardrails diff --format json`` writes it
    (``review.json_ready``), as one page: risks, principals, SCP/RCP changes, accounts. Lists longer than
    ``actions_shown`` are cut with a count; the JSON has everything."""
    return environment().get_template("diff.html.j2").render(
        title="Permission diff", header="Generated by guardrails diff.", diff=diff, shown=actions_shown,
        by_service=_by_service)


def _by_service(actions: Sequence[str]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for action in actions:
        service, sep, name = action.partition(":")
        grouped.setdefault(service if sep else "(other)", []).append(name if sep else action)
    return sorted(grouped.items())
