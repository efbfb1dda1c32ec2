"""``terraform/organization/``: the root module applied in the management account.

    versions.tf backend.tf providers.tf
    organization.tf   the organization (imported), OUs, member accounts, import blocks; trusted access with a
                      security plan
    scps.tf           per SCP and RCP: policy document, policy, attachment
    outputs.tf
    security.tf       with a security plan (:mod:`.security`): delegated administrators, root access features, the
                      apply order, and the removed block of the trail (now terraform/organization-trail)

checkov kind ``scp`` (key: the SCP's or RCP's key) for the policy documents of scps.tf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from guardrails.emitters.terraform.hcl import Hcl, ident, quote, ref, tf_name, unique
from guardrails.emitters.terraform.render import ROOT, assemble, block, render, root_files
from guardrails.emitters.terraform.security import security_files
from guardrails.policies.ir import Account, Plan

DIRECTORY = f"{ROOT}/organization"


def organization_files(plan: Plan, *, shaped: bool = True) -> dict[str, str]:
    """``{path: text}`` of the organization root module (``shaped``: see :func:`account_blocks`)."""
    management = plan.management_account
    units = sorted(plan.units, key=lambda u: u.path)
    members = sorted(plan.organization_members, key=lambda a: (a.unit, a.name))
    unit_names = unique({u.path: tf_name(u.path) for u in units}, "OUs")
    account_names = unique({a.name: tf_name(a.name) for a in members}, "accounts")
    root_id = plan.org.root_id if plan.org.existing else "aws_organizations_organization.this.roots[0].id"

    by_path = {u.path: u for u in plan.units}

    def parent(unit_path: str) -> Hcl:
        if not unit_path:
            return quote(root_id) if plan.org.existing else ref(root_id)
        unit = by_path[unit_path]
        if unit.managed_by:  # Control Tower's OU: referred to by id, never a resource here
            return quote(unit.existing_id or "")
        return ref(f"aws_organizations_organizational_unit.{unit_names[unit_path]}.id")

    def target(scp_target: str) -> Hcl:
        kind, _, name = scp_target.partition(":")
        if kind == "root":
            return parent("")
        if kind == "ou":
            return parent(name)
        account = plan.account(name)
        return quote(account.id) if account.management else ref(f"aws_organizations_account.{account_names[name]}.id")

    files = root_files(plan, DIRECTORY, "guardrails/organization.tfstate", management.id,
                       plan.org.management_deployment_role)
    head = render(
        plan, "organization.tf.j2", org=plan.org, units=units, accounts=members, unit_names=unit_names,
        parent=parent, policy_types=["SERVICE_CONTROL_POLICY", *(["RESOURCE_CONTROL_POLICY"] if plan.rcps else [])],
        trusted_services=list(plan.security.trusted_services) if plan.security else [])
    files[f"{DIRECTORY}/organization.tf"] = assemble(head, account_blocks(
        plan, members, account_names, parent, shaped=shaped))
    policies = (*plan.scps, *plan.rcps)
    scp_names = unique({s.key: tf_name(s.key) for s in policies}, "SCPs and RCPs")
    files[f"{DIRECTORY}/scps.tf"] = render(plan, "scps.tf.j2", scps=policies, scp_names=scp_names, target=target,
                                           target_id=lambda t: _target_id(plan, t))
    files[f"{DIRECTORY}/outputs.tf"] = render(plan, "organization_outputs.tf.j2", units=units, accounts=members,
                                              unit_names=unit_names, account_names=account_names)
    if plan.security is not None:
        files.update(security_files(plan, account_names))
    return files


Member = tuple[Account, str, Hcl]
"""A member account, its resource name and its parent's id expression: what its block is rendered from."""


def account_blocks(plan: Plan, members: Sequence[Account], account_names: dict[str, str],
                   parent: Callable[[str], Hcl], *, shaped: bool = True) -> list[str]:
    """The aligned block of every member account (for :func:`assemble`), each from its shape (:func:`_shape`),
    or with ``shaped=False`` each rendered on its own (the plain path tests/test_terraform_blocks.py compares)."""
    shapes: dict[bool, str | None] = {}
    out = []
    for account in members:
        member = (account, account_names[account.name], parent(account.unit))
        if shaped and account.existing not in shapes:
            shapes[account.existing] = _shape(plan, member)
        shape = shapes.get(account.existing) if shaped else None
        out.append(_render_member(plan, member) if shape is None else _fill(shape, member))
    return out


def _render_member(plan: Plan, member: Member) -> str:
    account, resource, parent_id = member
    return block(None, "organization_account.tf.j2", account=account, resource=resource, parent_id=parent_id,
                 org=plan.org)


# Stand-ins of a shape: identifiers that the filters write unchanged (ident, quote) and no template text holds.
_STAND_INS = {"resource": "grStandInResource", "name": "grStandInName", "email": "grStandInEmail",
              "parent_id": "grStandInParent", "id": "grStandInId"}


def _values(member: Member) -> dict[str, str]:
    """What the template writes for each stand-in: the filters' output for this account."""
    account, resource, parent_id = member
    return {"resource": ident(resource).text, "name": quote(account.name).text, "email": quote(account.email).text,
            "parent_id": parent_id.text, "id": quote(account.id).text}


def _fill(shape: str, member: Member) -> str:
    for field, value in _values(member).items():
        shape = shape.replace("\0" + field + "\0", value)
    return shape


def _shape(plan: Plan, member: Member) -> str | None:
    """The block of an account with a NUL-marked hole for each value, or None where that cannot be trusted.

    The accounts of one ``existing`` flag differ only in the values the block writes, each the output of a filter
    at the end of an ``attribute = value`` line: ``align`` pads only the attribute names of a chain (a value has no
    line break, and its brackets balance: quoted strings, and references that ``ref`` checked), so the values can
    go in after aligning. The shape is rendered with two sets of stand-ins and kept only if both give the same text
    once the stand-ins are taken out: no stand-in coincided with template text."""
    account, _, _ = member
    renders = []
    for suffix in "AB":
        stand_in = {field: token + suffix for field, token in _STAND_INS.items()}
        fake = replace(account, name=stand_in["name"], email=stand_in["email"], id=stand_in["id"])
        values = _values((fake, stand_in["resource"], Hcl(stand_in["parent_id"])))
        text = _render_member(plan, (fake, stand_in["resource"], Hcl(stand_in["parent_id"])))
        for field, value in values.items():
            text = text.replace(value, "\0" + field + "\0")
        renders.append(text)
    return renders[0] if renders[0] == renders[1] else None


def _target_id(plan: Plan, scp_target: str) -> str | None:
    """The live id of an SCP's target when it exists already (for the attachment's import id), else None."""
    kind, _, name = scp_target.partition(":")
    if kind == "root":
        return plan.org.root_id if plan.org.existing else None
    if kind == "ou":
        return next((u.existing_id for u in plan.units if u.path == name), None)
    account = plan.account(name)
    return account.id if account.management or account.existing else None
