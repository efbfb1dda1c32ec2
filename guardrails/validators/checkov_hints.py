"""Where a checkov finding (GR701) can be accepted: the ``accepted_findings`` of the blueprint entry behind it.

A job function's policy, a role and a user take ``accepted_findings`` (docs/blueprint.md), which the emitters
write as checkov skips on exactly that resource; a permission set's inline policy takes those of the job functions
it holds. checkov names a resource ``[module.M.]TYPE.NAME`` (Terraform) or ``AWS::TYPE.LogicalId``
(CloudFormation); both names derive from the plan's keys, so they are compared letters and digits only, per
resource type. A resource no entry reaches gets a hint that says so, never a file inside the installed package.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from guardrails.policies.ir import Plan

CHECKOV_INDEX = "https://www.checkov.io/5.Policy%20Index/all.html"
# The resource types whose skips come from `accepted_findings`, by what in the plan they stand for.
KINDS = {
    "aws_iam_policy_document": "policy", "AWS::IAM::ManagedPolicy": "policy",
    "aws_iam_role": "role", "AWS::IAM::Role": "role",
    "aws_iam_user": "user", "AWS::IAM::User": "user",
    "AWS::SSO::PermissionSet": "permission_set",
}
# CloudFormation logical ids lead with these words (RoleCiDeployer for the key role_ci_deployer).
PREFIXES = {"policy": "policy", "role": "role", "user": "user", "permission_set": "permissionset"}


def accept_hint(plan: Plan) -> Callable[[str, str], str]:
    """``hint(check, resource)`` for GR701: the entry whose ``accepted_findings`` takes ``check``, or why none does."""
    entries = _entries(plan)

    def hint(check: str, resource: str) -> str:
        kind, name = _split(resource)
        where = entries.get((kind, name)) if kind else None
        if where is None:
            return (f"fix the blueprint: no blueprint entry's `accepted_findings` reaches {resource} (only a job "
                    "function's policy, a role and a user take them); if checkov is wrong about it, report it to "
                    f"the guardrails maintainers; {CHECKOV_INDEX}")
        return (f"fix the blueprint, or accept {check} with a reason in the `accepted_findings` of {where}: "
                f"`accepted_findings: [{{check: {check}, reason: \"…\"}}]`; {CHECKOV_INDEX}")

    return hint


def _split(resource: str) -> tuple[str, str]:
    """(kind, normalised name) of a checkov resource address; kind "" for a type no entry accepts findings for."""
    if "::" in resource:
        type_, _, name = resource.rpartition(".")
    else:
        parts = re.sub(r"\[[^\]]*\]", "", resource).split(".")  # drop for_each/count indices
        type_, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
    if type_ == "aws_iam_policy_document" and name.endswith("_inline"):
        return "permission_set", _norm(name.removesuffix("_inline"))  # a permission set's inline policy document
    return KINDS.get(type_, ""), _norm(name)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _entries(plan: Plan) -> dict[tuple[str, str], str]:
    """(kind, normalised resource name) → the blueprint entry to name, for every resource that takes its findings."""
    jobs = {key: job.job for job in plan.job_reports for key in job.policy_keys}
    found: dict[tuple[str, str], str] = {}

    def add(kind: str, keys: tuple[str, ...], where: str) -> None:
        for key in keys:
            found.setdefault((kind, _norm(key)), where)
            found.setdefault((kind, PREFIXES[kind] + _norm(re.sub(rf"^{kind}_", "", key))), where)

    for cls in plan.classes:
        baseline = cls.baseline
        for policy in baseline.managed_policies:
            if policy.key in jobs:
                add("policy", (policy.key, *policy.moved_from), f"job_functions.{jobs[policy.key]}")
        for role in baseline.roles:
            if role.key.startswith("role_"):  # the blueprint's `roles:`; break-glass and alert forwarding are not
                # IAM names repeat across accounts (and keys lose their dashes): the trust's origin tells the entry.
                origin = next((st.origin for st in role.trust.statements if st.origin), "")
                add("role", (role.key, *role.moved_from),
                    f"the `roles:` entry of IAM role {role.name}" + (f" (its trust is at {origin})" if origin else ""))
        for user in baseline.users:
            if ("guardrails:purpose", "break-glass") not in user.tags:
                add("user", (user.key, *user.moved_from), f"users.{user.name}")
    center = plan.identity_center
    for ps in center.permission_sets if center else ():
        held = sorted({jobs[key] for key in ps.inlined if key in jobs})
        if held:
            where = (" and ".join(f"job_functions.{job}" for job in held)
                     + f" (permission set {ps.name} holds their statements)")
            add("permission_set", (ps.key,), where)
            found.setdefault(("permission_set", PREFIXES["permission_set"] + _norm(ps.name)), where)
    return found
