"""Stack 1: the organization stacks (``organization.yaml``, then ``organization-ous-2.yaml`` …): the OUs in path
order, the SCPs attached to the root and to OUs, and an export of every OU id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrails.emitters.cloudformation.organization_ids import (
    ORG,
    ORGANIZATION,
    OU_PARTS,
    Ids,
    body_budget,
    cached,
    on_account,
    organization_ids,
    outputs_limit,
    path_key,
    template_path,
)
from guardrails.emitters.cloudformation.organization_resources import (
    organization_template,
    scp_resource,
    section_bytes,
    unit_resource,
)
from guardrails.emitters.cloudformation.render import CloudFormationLimitError, ref
from guardrails.policies.ir import Plan, ServiceControlPolicy


@dataclass(frozen=True)
class OuPart:
    """One organization stack: ``organization`` (part 1: also the root's SCPs and the OrganizationId output) or
    ``organization-ous-<part>``."""

    stem: str
    part: int
    parts: int
    units: tuple[str, ...]  # OU paths this stack creates and exports, in path order
    resources: dict[str, Any]
    outputs: dict[str, Any]
    # Bytes the resources and outputs add to the template's text (block YAML), measured while splitting.
    bytes: int = 0


@dataclass(frozen=True)
class UnitPolicies:
    """The SCPs and RCPs of the organization stacks, by the stack that holds them."""

    first: tuple[ServiceControlPolicy, ...]  # part 1: on the root and on the OUs Control Tower manages
    on_unit: dict[str, tuple[ServiceControlPolicy, ...]]  # OU path → the SCPs attached to it (in its stack)


def unit_policies(plan: Plan, ids: Ids) -> UnitPolicies:
    first: list[ServiceControlPolicy] = []
    on_unit: dict[str, list[ServiceControlPolicy]] = {}
    for scp in (*plan.scps, *plan.rcps):
        if on_account(scp):
            continue
        kind, _, name = scp.target.partition(":")
        if kind == "ou" and name not in ids.managed:
            on_unit.setdefault(name, []).append(scp)
        else:
            first.append(scp)
    return UnitPolicies(tuple(first), {k: tuple(v) for k, v in on_unit.items()})


def unit_resource_counts(plan: Plan, ids: Ids) -> dict[str, int]:
    """OU path → the resources it brings to its stack (the OU and the SCPs attached to it), in path order: one
    stack holds them all, so more than a template may hold is a problem no split solves."""
    on_unit = unit_policies(plan, ids).on_unit
    return {u.path: 1 + len(on_unit.get(u.path, ())) for u in sorted(plan.units, key=lambda u: path_key(u.path))
            if not u.managed_by}


def _organization_output() -> dict[str, Any]:
    return {ORG: {"Description": "The organization this stack manages.", "Value": ref(ORG)}}


def _unit_groups(plan: Plan, ids: Ids, policies: UnitPolicies
                 ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """[(OU path, its resources: the OU then the SCPs attached to it, its output)] in path order: a parent always
    comes before its children, so a parent is in the same stack or an earlier one. Parents are written as exports
    here; :func:`_localize` turns them into Refs."""
    groups = []
    for unit in sorted((u for u in plan.units if not u.managed_by), key=lambda u: path_key(u.path)):
        resources = {ids.units[unit.path]: unit_resource(plan, ids, unit.path, frozenset())}
        resources.update({ids.scps[s.key]: scp_resource(plan, ids, s) for s in policies.on_unit.get(unit.path, ())})
        output = {ids.units[unit.path] + "Id": {"Description": f"Id of the OU {unit.path}",
                                                "Value": ref(ids.units[unit.path]),
                                                "Export": {"Name": ids.exports[unit.path]}}}
        groups.append((unit.path, resources, output))
    return groups


def ou_parts(plan: Plan, ids: Ids | None = None) -> list[OuPart]:
    """The organization stacks: consecutive runs of the OUs in path order, each within the outputs and resources
    per template and the inline body size (less a fixed reserve for the header and parameters, so that the split
    never depends on where the blueprint lies). An OU and the SCPs attached to it always share a stack (the SCPs
    Ref it). Deterministic; adding an OU moves only OUs after it in path order, and only across a part boundary.
    Computed once per plan (``guardrails check`` predicts from the same parts the emitter writes).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""
    return cached(plan, "ou_parts", lambda: _split(plan, ids or organization_ids(plan)))


def _split(plan: Plan, ids: Ids) -> list[OuPart]:
    resources_limit = plan.limits["cfn_resources_per_template"].value
    max_outputs, budget = outputs_limit(plan), body_budget(plan)
    policies = unit_policies(plan, ids)
    first = {ids.scps[s.key]: scp_resource(plan, ids, s) for s in policies.first}
    groups = _unit_groups(plan, ids, policies)
    organization = _organization_output()
    runs: list[list[str]] = [[]]
    count, outputs = len(first), len(organization)
    size = section_bytes("Outputs", organization) + (section_bytes("Resources", first) if first else 0)
    sizes: list[int] = []
    for path, resources, output in groups:
        if len(resources) > resources_limit:
            raise CloudFormationLimitError(
                f"OU {path} and the SCPs attached to it are {len(resources)} resources; CloudFormation allows "
                f"{resources_limit} per template. Attach fewer SCPs to the OU.")
        grows = section_bytes("Resources", resources) + section_bytes("Outputs", output)
        if (runs[-1] or count) and (outputs + 1 > max_outputs or count + len(resources) > resources_limit
                                    or size + grows > budget):
            runs.append([])
            sizes.append(size)
            count = outputs = size = 0
        runs[-1].append(path)
        count += len(resources)
        outputs += 1
        size += grows
    sizes.append(size)
    # Each stack lists its OUs, then its SCPs, in the plan's order (one stack: exactly the single template of old).
    by_path = {path: (resources, output) for path, resources, output in groups}
    order = {ids.scps[s.key]: i for i, s in enumerate((*plan.scps, *plan.rcps))}
    parts = []
    for part, (members, measured) in enumerate(zip(runs, sizes), start=1):
        here = frozenset(members)
        units: dict[str, Any] = {}
        scps: dict[str, Any] = dict(first) if part == 1 else {}
        out: dict[str, Any] = dict(organization) if part == 1 else {}
        for unit in plan.units:
            if unit.path in here:
                resources, output = by_path[unit.path]
                own = _localize(resources, ids, here)
                unit_id = ids.units[unit.path]
                units[unit_id] = own[unit_id]
                if own[unit_id] is not resources[unit_id]:  # the parent is here: a Ref instead of the export
                    measured += section_bytes("Resources", {unit_id: own[unit_id]}) - \
                        section_bytes("Resources", {unit_id: resources[unit_id]})
                scps.update({k: v for k, v in own.items() if k != unit_id})
                out.update(output)
        stem = ORGANIZATION if part == 1 else f"{OU_PARTS}-{part}"
        parts.append(OuPart(stem, part, len(runs), tuple(sorted(here, key=path_key)),
                            {**units, **dict(sorted(scps.items(), key=lambda kv: order[kv[0]]))}, out, measured))
    return parts


def _localize(group: dict[str, Any], ids: Ids, here: frozenset[str]) -> dict[str, Any]:
    """The group with an OU's parent as a Ref where this stack holds the parent (the export otherwise)."""
    exported = {ids.exports[p]: p for p in here}
    out = {}
    for key, value in group.items():
        parent = value["Properties"].get("ParentId") if value["Type"] == "AWS::Organizations::OrganizationalUnit" \
            else None
        if isinstance(parent, dict) and parent.get("Fn::ImportValue") in exported:
            value = {**value, "Properties": {**value["Properties"],
                                             "ParentId": ref(ids.units[exported[parent["Fn::ImportValue"]]])}}
        out[key] = value
    return out


def build_organization(plan: Plan, ids: Ids | None = None, part: OuPart | None = None) -> dict[str, Any]:
    """One organization stack (the first when ``part`` is None)."""
    part = part or ou_parts(plan, ids)[0]
    max_outputs = outputs_limit(plan)
    if len(part.outputs) > max_outputs:  # by construction of ou_parts; the backstop of `guardrails check`
        raise CloudFormationLimitError(
            f"{template_path(part.stem)}: {len(part.units)} OUs need {len(part.outputs)} outputs (every OU id is "
            f"exported for the accounts and StackSet stacks); CloudFormation allows {max_outputs} per template. "
            "Please report it.")
    if part.parts == 1:
        what = "organizational units and the SCPs attached to the root and to OUs"
    else:
        what = f"organizational units and the SCPs attached to the root and to OUs (part {part.part} of {part.parts})"
    return organization_template(plan, what, part.resources, part.outputs)
