"""A canary rollout in progress (``rollout.lock.json``): released SCP/RCP versions outside the canary OUs."""

from __future__ import annotations

import re
from dataclasses import replace

from guardrails.iam.organization import in_any_unit
from guardrails.model.build import Model
from guardrails.policies.ir import ServiceControlPolicy, document_from_json
from guardrails.policies.statements import slug


def canary_rollout(model: Model, scps: tuple[ServiceControlPolicy, ...], rcps: tuple[ServiceControlPolicy, ...]
                   ) -> tuple[tuple[ServiceControlPolicy, ...], tuple[ServiceControlPolicy, ...]]:
    """A rollout in progress: outside the canary OUs every policy keeps its released version (new ones wait, removed
    ones stay); the canary OUs get each new or changed policy as a copy of their own (``<name>-canary[-<ou>]``).

    Policies attached inside a canary OU change directly. Promotion (removing rollout.lock.json) releases the rest.
    """
    assert model.released is not None and model.blueprint.organization.rollout is not None
    canary = model.blueprint.organization.rollout.canary_units
    released = model.released

    def inside(target: str) -> bool:
        kind, _, name = target.partition(":")
        if kind == "ou":
            return in_any_unit(name, canary)
        if kind == "account":
            return in_any_unit(model.accounts[name].unit, canary)
        return False

    out: dict[str, list[ServiceControlPolicy]] = {"SERVICE_CONTROL_POLICY": [], "RESOURCE_CONTROL_POLICY": []}
    current = {p.name for p in (*scps, *rcps)}
    for policy in (*scps, *rcps):
        before = released.get(policy.name)
        if inside(policy.target) or (before is not None and before["target"] == policy.target
                                     and before["document"] == policy.document.to_json()):
            out[policy.policy_type].append(policy)
            continue
        if before is not None and before["target"] == policy.target:
            out[policy.policy_type].append(replace(policy, document=document_from_json(before["document"]),
                                                   guardrails=before["guardrails"],
                                                   intended_denials=before["intended_denials"],
                                                   description=(f"Guardrails from the catalog attached to "
                                                                f"{policy.target}: {', '.join(before['guardrails'])}"
                                                                if before["guardrails"] else policy.description)
                                                   + " (released version; the new one is on the canary OUs)"))
        for unit in canary:
            suffix = "-canary" if len(canary) == 1 else f"-canary-{slug(unit)}"
            out[policy.policy_type].append(replace(
                policy, key=re.sub(r"\W", "_", policy.name + suffix), name=policy.name + suffix, target=f"ou:{unit}",
                description=f"Canary of {policy.name} (attached to {policy.target}) for the rollout in progress"))
    for name, before in sorted(released.items()):
        if name not in current and not inside(before["target"]):  # removed: stays until the rollout is promoted
            out[before["type"]].append(ServiceControlPolicy(
                key=re.sub(r"\W", "_", name), name=name, description=f"Released {name}, removed on promotion",
                document=document_from_json(before["document"]), target=before["target"],
                guardrails=before["guardrails"], intended_denials=before["intended_denials"],
                policy_type=before["type"]))
    return tuple(out["SERVICE_CONTROL_POLICY"]), tuple(out["RESOURCE_CONTROL_POLICY"])
