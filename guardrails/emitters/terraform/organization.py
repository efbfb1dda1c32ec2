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

from guardrails.emitters.terraform.hcl import Hcl, quote, ref, tf_name, unique
from guardrails.emitters.terraform.render import ROOT, render, root_files
from guardrails.emitters.terraform.security import security_files
from guardrails.policies.ir import Plan

DIRECTORY = f"{ROOT}/organization"


def organization_files(plan: Plan) -> dict[str, str]:
    """``{path: text}`` of the organization root module."""
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
    files[f"{DIRECTORY}/organization.tf"] = render(
        plan, "organization.tf.j2", org=plan.org, units=units, accounts=members, unit_names=unit_names,
        account_names=account_names, parent=parent,
        policy_types=["SERVICE_CONTROL_POLICY", *(["RESOURCE_CONTROL_POLICY"] if plan.rcps else [])],
        trusted_services=list(plan.security.trusted_services) if plan.security else [])
    policies = (*plan.scps, *plan.rcps)
    scp_names = unique({s.key: tf_name(s.key) for s in policies}, "SCPs and RCPs")
    files[f"{DIRECTORY}/scps.tf"] = render(plan, "scps.tf.j2", scps=policies, scp_names=scp_names, target=target,
                                           target_id=lambda t: _target_id(plan, t))
    files[f"{DIRECTORY}/outputs.tf"] = render(plan, "organization_outputs.tf.j2", units=units, accounts=members,
                                              unit_names=unit_names, account_names=account_names)
    if plan.security is not None:
        files.update(security_files(plan, account_names))
    return files


def _target_id(plan: Plan, scp_target: str) -> str | None:
    """The live id of an SCP's target when it exists already (for the attachment's import id), else None."""
    kind, _, name = scp_target.partition(":")
    if kind == "root":
        return plan.org.root_id if plan.org.existing else None
    if kind == "ou":
        return next((u.existing_id for u in plan.units if u.path == name), None)
    account = plan.account(name)
    return account.id if account.management or account.existing else None
