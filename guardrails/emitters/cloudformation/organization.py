"""The management-account stacks, deployed in this order (CloudFormation allows 500 resources per template, and a
1,000-account organization does not fit in one):

1. ``organization.yaml`` (then ``organization-ous-2.yaml``, ``-3.yaml``… when one template cannot hold every OU):
   the OUs and the SCPs attached to the root and to OUs; each exports the ids of the OUs it holds.
2. ``organization-accounts.yaml`` (or ``organization-accounts-1.yaml``, ``-2.yaml``… when one template cannot hold
   them all): the member accounts and the SCPs attached to accounts. Parents come from the OU exports.
3. ``stacksets.yaml``: one service-managed baseline StackSet per member-account class.

Existing OUs are imported into stack 1, existing accounts into the accounts stack that holds them: each stack with
something to import gets ``<stack file>-import.yaml`` (the IMPORT change set's template) and ``-import.json``.

This module writes the files; the stacks are built by its neighbours, in the order they import one another:
organization_ids (stems, quotas, ids, references, the per-plan cache), organization_resources, organization_ous
(stack 1), organization_accounts (stack 2), organization_stacksets (stack 3), organization_import and
organization_headers. organization_limits predicts the quotas from the same splits.
"""

from __future__ import annotations

import json
from typing import Any

from guardrails.emitters.cloudformation.organization_accounts import Chunk, accounts_body, build_accounts, chunks
from guardrails.emitters.cloudformation.organization_headers import (
    chunk_header,
    organization_header,
    stacksets_header,
)
from guardrails.emitters.cloudformation.organization_ids import (
    ACCOUNTS,
    ACCOUNTS_PER_STACK,
    ORGANIZATION,
    OU_PARTS,
    STACKSETS,
    Ids,
    accounts_are_resources,
    export_names,
    organization_ids,
    stack,
    template_path,
)
from guardrails.emitters.cloudformation.organization_import import (
    accounts_import,
    existing_accounts,
    existing_unit_policies,
    existing_units,
    organization_import,
)
from guardrails.emitters.cloudformation.organization_ous import OuPart, build_organization, ou_parts
from guardrails.emitters.cloudformation.organization_stacksets import build_stacksets, stacksets_body
from guardrails.emitters.cloudformation.render import check_limits, dump, with_header
from guardrails.policies.ir import Plan

# What callers import from here (guardrails.cdk builds its stacks from the same parts and chunks).
_ids = organization_ids
_chunks = chunks
__all__ = ["ACCOUNTS", "ACCOUNTS_PER_STACK", "ORGANIZATION", "OU_PARTS", "STACKSETS", "Chunk", "Ids", "OuPart",
           "accounts_are_resources", "build_accounts", "build_organization", "build_stacksets", "chunks",
           "export_names", "organization_ids", "ou_parts", "render", "stack"]


def _file(plan: Plan, stem: str, notes: list[str], template: dict[str, Any], what: str, advice: str,
          body: str | None = None) -> str:
    """The template text with its header, after the limit checks (every one of these is deployed inline).
    ``body``: ``dump(template)`` when the caller has it already."""
    body = dump(template) if body is None else body
    text = with_header(plan, notes, body)
    extra = check_limits(plan, template_path(stem), template, text, inline=True, what=what, advice=advice)
    return with_header(plan, [*notes, *extra], body) if extra else text


def _import_files(plan: Plan, stem: str, stage: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, str]:
    template, to_import = stage
    notes = [f"Import stage of {stem}.yaml (stack {stack(stem)}): the existing resources only. Use it with",
             f"{stem}-import.json in an IMPORT change set (see the header of {stem}.yaml)."]
    return {
        template_path(f"{stem}-import"): _file(plan, f"{stem}-import", notes, template, "this import stage",
                                               f"It only holds what {stem}.yaml holds."),
        # JSON cannot carry a comment header: the AWS CLI reads this list as it is.
        f"cloudformation/{stem}-import.json": json.dumps(to_import, indent=2) + "\n",
    }


def render(plan: Plan) -> dict[str, str]:
    """Every management-account template; a stack with nothing in it is not written."""
    ids = organization_ids(plan)
    accounts = chunks(plan, ids)
    parts = ou_parts(plan, ids)
    ous = len(parts)
    files: dict[str, str] = {}

    for part in parts:
        organization = build_organization(plan, ids, part)
        if not organization["Resources"]:
            continue
        files[template_path(part.stem)] = _file(
            plan, part.stem, organization_header(plan, len(accounts), part), organization,
            "the organization stack (OUs and the SCPs attached to the root and to OUs)",
            "Attach fewer SCPs to OUs (guardrails on a parent OU cover every OU below it) or use fewer OUs, or "
            "deploy the organization with Terraform.")
        imported = part if ous > 1 else None
        if set(existing_units(plan)) & set(part.units) or existing_unit_policies(plan, ids, imported):
            files.update(_import_files(plan, part.stem, organization_import(plan, ids, part if ous > 1 else None)))

    for chunk in accounts:
        importing = bool(existing_accounts(plan, chunk))
        template = build_accounts(plan, chunk)
        files[template_path(chunk.stem)] = _file(
            plan, chunk.stem, chunk_header(plan, chunk, importing=importing, ous=ous), template,
            "this accounts stack", "The accounts are split so that this cannot happen: please report it.",
            accounts_body(template, chunk))
        if importing:
            files.update(_import_files(plan, chunk.stem, accounts_import(plan, ids, chunk)))

    stacksets = build_stacksets(plan, ids)
    if stacksets["Resources"]:
        files[template_path(STACKSETS)] = _file(
            plan, STACKSETS, stacksets_header(plan, len(accounts), ous), stacksets,
            "the StackSet stack (one StackSet per member-account baseline class)",
            "Give more accounts the same baseline (the same deploy_to) so that there are fewer classes, or deploy "
            "the baselines with Terraform.", stacksets_body(plan))
    return files
