"""The import stage of the organization and accounts stacks: the OUs and accounts that exist already, imported
into the stack that holds them (``<stack file>-import.yaml`` and ``-import.json``) before its first deployment."""

from __future__ import annotations

from typing import Any

from guardrails.emitters.cloudformation.organization_accounts import Chunk
from guardrails.emitters.cloudformation.organization_ids import Ids, accounts_are_resources, member, unit
from guardrails.emitters.cloudformation.organization_ous import OuPart, unit_policies
from guardrails.emitters.cloudformation.organization_resources import (
    account_resource,
    organization_template,
    scp_resource,
    unit_resource,
)
from guardrails.policies.ir import Plan, ServiceControlPolicy


def existing_units(plan: Plan) -> list[str]:
    return [u.path for u in plan.units if u.existing_id and not u.managed_by]


def existing_accounts(plan: Plan, chunk: Chunk) -> list[str]:
    return [n for n in chunk.accounts if accounts_are_resources(plan) and not member(plan, n).management
            and member(plan, n).existing]


def existing_unit_policies(plan: Plan, ids: Ids, part: OuPart | None) -> list[ServiceControlPolicy]:
    """The SCPs that exist already (blueprint ``id``) held by this organization stack, on a target that exists too
    (the root of an existing organization, an existing OU): imported with it."""
    policies = unit_policies(plan, ids)
    units = set(existing_units(plan))
    here = set(part.units) if part is not None else None
    held = [*(policies.first if part is None or part.part == 1 else ()),
            *(s for path, scps in sorted(policies.on_unit.items()) if here is None or path in here for s in scps)]
    out = []
    for scp in held:
        kind, _, name = scp.target.partition(":")
        if scp.existing_id and ((kind == "root" and plan.org.existing) or (kind == "ou" and name in units)):
            out.append(scp)
    return out


def _policy_import(plan: Plan, ids: Ids, scp: ServiceControlPolicy, resources: dict[str, Any],
                   to_import: list[dict[str, Any]]) -> None:
    # An imported resource needs a DeletionPolicy in the import template; Retain, like the OUs and accounts.
    resources[ids.scps[scp.key]] = {**scp_resource(plan, ids, scp), "DeletionPolicy": "Retain",
                                    "UpdateReplacePolicy": "Retain"}
    to_import.append({"ResourceType": "AWS::Organizations::Policy", "LogicalResourceId": ids.scps[scp.key],
                      "ResourceIdentifier": {"Id": scp.existing_id}})


def organization_import(plan: Plan, ids: Ids, part: OuPart | None = None
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The IMPORT change set of stack 1: (template, ``--resources-to-import`` list). Only the resources being
    imported: an IMPORT change set may add nothing else (no new resources, no outputs).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-existing-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceToImport.html"""
    units = existing_units(plan)
    here = frozenset(part.units) if part is not None else None
    resources: dict[str, Any] = {}
    to_import = []
    for path in units:
        ou = unit(plan, path)
        if ou.parent and ou.parent not in units:
            raise ValueError(f"OU {path} exists (id {ou.existing_id}) but its parent {ou.parent} does not: "
                             "an existing OU can only sit under an existing parent; give the parent its id too.")
        if here is not None and path not in here:
            continue  # imported by the organization stack that holds it
        resources[ids.units[path]] = unit_resource(plan, ids, path, here)
        to_import.append({"ResourceType": "AWS::Organizations::OrganizationalUnit",
                          "LogicalResourceId": ids.units[path], "ResourceIdentifier": {"Id": ou.existing_id}})
    for scp in existing_unit_policies(plan, ids, part):
        _policy_import(plan, ids, scp, resources, to_import)
    return organization_template(plan, "import of the existing organizational units", resources), to_import


def accounts_import(plan: Plan, ids: Ids, chunk: Chunk) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The IMPORT change set of one accounts stack (see :func:`organization_import`)."""
    units = set(existing_units(plan))
    resources: dict[str, Any] = {}
    to_import = []
    for name in existing_accounts(plan, chunk):
        parent = member(plan, name).unit
        # An existing account moving into a new OU: import it without a parent; the following update moves it.
        resources[ids.accounts[name]] = account_resource(plan, ids, name, parent_known=parent == "" or parent in units)
        to_import.append({"ResourceType": "AWS::Organizations::Account", "LogicalResourceId": ids.accounts[name],
                          "ResourceIdentifier": {"AccountId": member(plan, name).id}})
        for scp in (*plan.scps, *plan.rcps):
            if scp.existing_id and scp.target == f"account:{name}":
                _policy_import(plan, ids, scp, resources, to_import)
    return organization_template(plan, "import of the existing accounts", resources), to_import
