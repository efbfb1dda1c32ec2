"""Terraform for IAM Identity Center (``plan.identity_center``): one root module, ``terraform/identity-center/``.

    versions.tf backend.tf providers.tf   like the other root modules; the provider assumes the deployment role
                                          of the administrator account (management, or the delegated admin) in
                                          the Identity Center instance's region
    groups.tf                             data sources of the identity-store groups (ids checked against names)
    permission_sets.tf                    aws_ssoadmin_permission_set and its inline policy, managed and customer
                                          managed policy attachments, permissions boundary
    assignments.tf                        aws_ssoadmin_account_assignment (GROUP → AWS_ACCOUNT)
    outputs.tf

Apply it after the account baselines: customer managed policies and boundaries a permission set refers to must
exist in the assigned accounts before Identity Center provisions the role there.

checkov: the inline policy document (kind ``permission_set_inline_policy``, key: the permission set's key)
carries that kind's entries of ``guardrails/data/suppressions.yaml``, plus the entries and accepted findings of the
job functions' managed policies whose statements it holds (kind ``managed_policy``, their keys): the same
statements, the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.emitters.suppressions import Suppression, suppressions_for
from guardrails.emitters.terraform.hcl import check_documents, tf_name, unique
from guardrails.emitters.terraform.render import ROOT, render, root_files
from guardrails.policies.ir import CustomerPolicyReference, IdentityCenter, PermissionSet, Plan, PolicyRef

DIRECTORY = f"{ROOT}/identity-center"


@dataclass(frozen=True)
class _Group:
    name: str  # data source name
    group_id: str
    display_name: str


@dataclass(frozen=True)
class _Assignment:
    name: str
    permission_set: str
    group: str  # data source name
    account_id: str


def emit(plan: Plan) -> dict[str, str]:
    """``{path: text}`` of the Identity Center root module; nothing without ``identity_center``."""
    center = plan.identity_center
    if center is None:
        return {}
    check_documents(ps.inline_policy for ps in center.permission_sets if ps.inline_policy is not None)
    partition = plan.org.partition
    admin = plan.account(center.admin_account)
    groups = _groups(center)
    group_names = {g.group_id: g.name for g in groups}
    account_names = {a.name: tf_name(a.name) for a in plan.accounts}
    assignments = [_Assignment(f"{a.permission_set}__{group_names[a.group_id]}__{account_names[a.account]}",
                               a.permission_set, group_names[a.group_id], a.account_id) for a in center.assignments]
    unique({a.name: a.name for a in assignments}, "assignments")
    managed = {ps.key: [(PolicyRef("aws", m).aws_arn(partition), f"{ps.key}__aws_{tf_name(m)}")
                        for m in ps.managed_policies] for ps in center.permission_sets}
    customer = {ps.key: [(r, f"{ps.key}__{tf_name(r.name)}") for r in ps.customer_managed]
                for ps in center.permission_sets}
    unique({n: n for ps in center.permission_sets for n in
            [*(n for _, n in managed[ps.key]), *(n for _, n in customer[ps.key])]}, "policy attachments")
    context: dict[str, object] = {
        "center": center, "groups": groups, "assignments": assignments, "managed": managed, "customer": customer,
        "boundary_arn": {ps.key: ps.boundary.aws_arn(partition) if isinstance(ps.boundary, PolicyRef) else None
                         for ps in center.permission_sets},
        "inline_skips": {ps.key: _inline_skips(ps) for ps in center.permission_sets},
        "depends_on": {ps.key: _policy_resources(ps, managed[ps.key], customer[ps.key])
                       for ps in center.permission_sets},
    }
    files = root_files(plan, DIRECTORY, "guardrails/identity-center.tfstate", admin.id, center.admin_role,
                       region=center.region)
    files[f"{DIRECTORY}/permission_sets.tf"] = render(plan, "identity_center/permission_sets.tf.j2", **context)
    files[f"{DIRECTORY}/outputs.tf"] = render(plan, "identity_center/outputs.tf.j2", **context)
    if groups:
        files[f"{DIRECTORY}/groups.tf"] = render(plan, "identity_center/groups.tf.j2", **context)
    if assignments:
        files[f"{DIRECTORY}/assignments.tf"] = render(plan, "identity_center/assignments.tf.j2", **context)
    return dict(sorted(files.items()))


def _groups(center: IdentityCenter) -> list[_Group]:
    """One data source per identity-store group (the model stage checked that ids and names pair up)."""
    found = {a.group_id: a.group for a in center.assignments}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for gid, name in sorted(found.items(), key=lambda item: (item[1], item[0])):
        candidate = "group_" + tf_name(name)
        if candidate in taken:  # display names that differ only in case or punctuation: tell them apart by id
            candidate += "_" + tf_name(gid.rsplit("-", 1)[-1])
        taken.add(candidate)
        names[gid] = candidate
    return sorted((_Group(names[gid], gid, name) for gid, name in found.items()), key=lambda g: g.name)


def _inline_skips(ps: PermissionSet) -> list[Suppression]:
    found = suppressions_for("terraform", "permission_set_inline_policy", ps.key)
    for key in ps.inlined:
        found += suppressions_for("terraform", "managed_policy", key)
    found += [Suppression(check, "terraform", "permission_set_inline_policy", ps.key, reason)
              for check, reason in ps.accepted_findings]
    by_check: dict[str, Suppression] = {}
    for suppression in found:
        by_check.setdefault(suppression.check, suppression)
    return list(by_check.values())


def _policy_resources(ps: PermissionSet, managed: list[tuple[str, str]],
                      customer: list[tuple[CustomerPolicyReference, str]]) -> list[str]:
    """What an assignment of ``ps`` waits for: its inline policy, attachments and boundary."""
    found = [f"aws_ssoadmin_managed_policy_attachment.{name}" for _, name in managed]
    found += [f"aws_ssoadmin_customer_managed_policy_attachment.{name}" for _, name in customer]
    if ps.inline_policy is not None:
        found.append(f"aws_ssoadmin_permission_set_inline_policy.{ps.key}")
    if ps.boundary is not None:
        found.append(f"aws_ssoadmin_permissions_boundary_attachment.{ps.key}")
    return sorted(found)
