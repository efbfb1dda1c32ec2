"""The ceilings, checked: GR405 for a principal that escalates beyond its own policies and boundary, GR406 for one
that can change a control it does not own, GR321 for an accepted escalation past its review date.

Findings of accounts analysed together (one group) and of groups with the same text are merged, their accounts
listed. Each is located at the blueprint statement that allowed the first undeclared hop (or the tampering request),
found through the plan's statement origins; else at the permission set, role or group, else at the blueprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from guardrails.diagnostics import Diagnostic, Location
from guardrails.escalation.analysis import Analysis, Gain, GroupResult, PrincipalResult
from guardrails.escalation.catalog import catalog
from guardrails.escalation.graph import describe
from guardrails.iam.manifest import MANIFEST, Manifest
from guardrails.policies.ir import Plan

ESCALATION, TAMPER, OVERDUE = "GR405", "GR406", "GR321"
_SHOWN = 3  # requests named per finding

_FIX = {
    "create-role": "narrow the boundary the new roles must carry to what the workload needs (it is their ceiling), "
                   "or stop granting iam:CreateRole with iam:AttachRolePolicy/iam:PutRolePolicy",
    "pass-role-to-compute": "scope iam:PassRole to the roles the principal deploys (a path whose roles carry a narrow "
                            "boundary) and iam:PassedToService to the services it needs",
    "change-policies": "require iam:PermissionsBoundary (a narrow boundary) on the attach/put grant, or remove it",
    "change-trust": "remove iam:UpdateAssumeRolePolicy, or limit it with iam:PermissionsBoundary to roles that carry a "
                    "narrow boundary",
    "change-boundary": "deny removing, replacing or rewriting boundaries to everyone but the deployment principals "
                       "(the protect-boundaries guardrail)",
    "credentials": "limit credential actions to the caller's own user (user/${aws:username})",
    "group-membership": "remove iam:AddUserToGroup or limit it to groups that grant less",
    "edit-code": "scope lambda:* to the principal's own functions, and deny changing the custom-resource functions "
                 "(role/guardrails/*) to everyone but the deployment principals",
}


def diagnostics(analysis: Analysis, plan: Plan | None, manifest: Manifest, today: date) -> list[Diagnostic]:
    """Every finding of the analysis, merged across groups, sorted; located in the blueprint through the plan
    (without one, at the manifest)."""
    origins = statement_origins(plan, manifest) if plan is not None else {}
    center = plan.identity_center if plan is not None else None
    sets = {ps.name: ps.origin for ps in (center.permission_sets if center else ())}
    # A grant with no statement origin (an AWS managed policy such as AdministratorAccess): the entry of the role or
    # group that holds it, as the own checks locate GR504.
    holders = {f"{kind}/{entity.name}": entity.origin for cls in (plan.classes if plan is not None else ())
               for kind, entities in (("role", cls.baseline.roles), ("group", cls.baseline.groups))
               for entity in entities if entity.origin}
    default = Location(plan.blueprint if plan is not None else MANIFEST)
    merged: dict[tuple[str, str, str, str], tuple[Location, list[str]]] = {}
    for group in analysis.groups:
        for result in group.principals:
            for code, message, hint, grant in _findings(group, result, today):
                location = Location.parse(origins.get(grant, "")) if grant else None
                if location is None and result.node.kind == "permission-set":
                    location = Location.parse(sets.get(result.node.base.split("/", 1)[1], ""))
                if location is None:
                    location = Location.parse(holders.get(result.node.base, ""))
                key = (code, result.label, message, hint)
                merged.setdefault(key, (location or default, []))[1].extend(group.accounts)
    out = []
    for (code, label, message, hint), (location, accounts) in merged.items():
        text = f"{label} in {_accounts(accounts)}: {message}"
        # An escalation or a tampering path fails the build like the lockout proof does; an accepted escalation past
        # its review date (GR321) is the warning the risk analysis gives for expired acceptances.
        out.append(Diagnostic.of(code, text, location, hint))
    return sorted(out, key=Diagnostic.sort_key)


def _findings(group: GroupResult, result: PrincipalResult, today: date
              ) -> list[tuple[str, str, str, tuple[str, int] | None]]:
    out = []
    label = _neutral(group)
    by_path: dict[str, list[Gain]] = {}
    for gain in result.gained:
        by_path.setdefault(describe(gain.via.path, group.label, detail=False), []).append(gain)
    for path, gains in sorted(by_path.items()):
        first = next(h for h in gains[0].via.path if not h.declared)
        kind = catalog().method(first.method).kind
        risks = sorted({catalog().method(h.method).risk for h in gains[0].via.path if not h.declared})
        message = (f"escalates beyond its own policies and boundary to {', '.join(g.title for g in gains)}: "
                   f"{label(path)}")
        hint = (f"{_FIX[kind]}; or, if this is intended, accept it on the principal's job function: "
                f"accept_risks: [{{risk: {risks[0]}, reason: ..., owner: ..., review_by: YYYY-MM-DD}}]")
        out.append((ESCALATION, message, hint, first.grant))
    direct = [g for g in result.tamper if not g.via.path]
    if direct:
        out.append((TAMPER, _tamper_message(group, direct, "directly"), _tamper_hint(group, direct), direct[0].grant))
    via: dict[str, list[Gain]] = {}
    for gain in result.tamper:
        if gain.via.path:
            via.setdefault(describe(gain.via.path, group.label, detail=False), []).append(gain)
    for path, gains in sorted(via.items()):
        first = next((h for h in gains[0].via.path if not h.declared), gains[0].via.path[0])
        out.append((TAMPER, _tamper_message(group, gains, f"through {label(path)}"), _tamper_hint(group, gains),
                    first.grant))
    overdue: dict[Any, list[str]] = {}
    for gain, declaration in result.accepted:
        if today > declaration.review_by:
            overdue.setdefault(declaration, []).append(gain.title)
    for declaration, titles in overdue.items():
        out.append((OVERDUE, f"accepted escalation to {', '.join(titles)} ({declaration.risk}) was due for review on "
                             f"{declaration.review_by.isoformat()} (owner {declaration.owner})",
                    "review the escalation with its owner; then narrow it, or move review_by forward", None))
    return out


def _tamper_message(group: GroupResult, gains: list[Gain], how: str) -> str:
    controls = list(dict.fromkeys(g.title for g in gains))
    shown = "; ".join(_neutral(group)(g.request) for g in gains[:_SHOWN])
    more = f" and {len(gains) - _SHOWN} more" if len(gains) > _SHOWN else ""
    return f"can change {', '.join(controls)} without owning them, {how}: {shown}{more}"


def _tamper_hint(group: GroupResult, gains: list[Gain]) -> str:
    owners = dict.fromkeys(o for g in gains for o in group.owners_of(g.what))
    return ("deny these requests in an SCP that exempts only the controls' owners "
            f"({', '.join(owners)}), or remove the grant; a principal meant to own the controls must be named "
            "as an owner (security.control_owners)")


def _neutral(group: GroupResult) -> Any:
    """Text with the representative account's id as ``${account_id}``, so that groups with the same finding merge."""
    return lambda text: text.replace(group.account_id, "${account_id}")


def _accounts(names: list[str]) -> str:
    unique = sorted(set(names))
    return ", ".join(unique[:4]) + (f" and {len(unique) - 4} more" if len(unique) > 4 else "")


def statement_origins(plan: Plan, manifest: Manifest) -> Mapping[tuple[str, int], str]:
    """(policy file in the tree, statement index) → where the statement comes from in the blueprint."""
    out: dict[tuple[str, int], str] = {}
    by_class = {c.key: c for c in plan.classes}
    for cls in manifest.classes:
        planned = by_class.get(cls.key)
        if planned is None:
            continue
        documents = {p.name: p.document for p in planned.baseline.managed_policies}
        for entry in cls.managed_policies:
            document = documents.get(entry.name)
            for index, statement in enumerate(document.statements if document else ()):
                if statement.origin:
                    out[(entry.file, index)] = statement.origin
    sets = {ps.name: ps for ps in (plan.identity_center.permission_sets if plan.identity_center else ())}
    for entry in manifest.permission_sets:
        planned_set = sets.get(entry.name)
        if entry.file and planned_set is not None and planned_set.inline_policy is not None:
            for index, statement in enumerate(planned_set.inline_policy.statements):
                if statement.origin:
                    out[(entry.file, index)] = statement.origin
    return out
