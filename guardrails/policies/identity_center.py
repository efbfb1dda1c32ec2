"""IAM Identity Center: permission sets compiled from job functions, and group assignments (blueprint
``identity_center``; docs/identity-center.md).

A permission set is one definition that Identity Center provisions as a role (``AWSReservedSSO_<name>_…``) into
every account it is assigned to. Nothing can be substituted per account on the way, so:

- ``policy: inline``: the job functions' compiled statements become the one inline policy, with the per-account
  placeholders turned into IAM policy variables that AWS resolves on each request: ``${account_id}`` →
  ``${aws:PrincipalAccount}`` (the account of the role session, i.e. the account the permission set was provisioned
  into: the same value the baseline would have substituted) and ``${region}`` → ``${aws:RequestedRegion}`` (the
  region of the request). The second is wider than a baseline's ``${region}`` (the home region the baseline is
  deployed in): it matches any region the caller targets, still bounded by the organization's region guardrail.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
- ``policy: customer_managed``: the permission set refers to each job function's managed policy by name and path;
  Identity Center fails to provision into an account that lacks it, so every assigned account's baseline must hold
  it (checked here against the compiled classes).

The inline policy is limited to 10,240 non-whitespace characters (32,768 bytes in all): the role inline-policy
quota of IAM, which is what the permission set becomes.
https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.model.build import Model, _placement_accounts, aws_managed_policy_names
from guardrails.policies.ir import (
    ACCOUNT_ID,
    REGION,
    BaselineClass,
    Condition,
    CustomerPolicyReference,
    IdentityCenter,
    Limit,
    ManagedPolicy,
    OrgInfo,
    PermissionSet,
    PolicyDocument,
    PolicyRef,
    SsoAssignment,
    Statement,
)
from guardrails.policies.limits import effective_limits
from guardrails.policies.sizes import counted_length
from guardrails.policies.statements import POLICY_PATH

# The policy variables the per-account placeholders become in a permission set's inline policy.
POLICY_VARIABLES = {ACCOUNT_ID: "${aws:PrincipalAccount}", REGION: "${aws:RequestedRegion}"}
LIMITS_URL = "https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html"
INLINE_POLICY_CHARS = Limit("permission_set_inline_chars", 10_240, "non-whitespace",
                            f"IAM Identity Center quotas: inline policy per permission set ({LIMITS_URL})")
INLINE_POLICY_BYTES = Limit("permission_set_inline_bytes", 32_768, "all",
                            f"IAM Identity Center quotas: inline policy per permission set ({LIMITS_URL})")
# AWS and customer managed policies per permission set (hard); each assigned account's role quota applies too.
MANAGED_POLICIES_PER_PERMISSION_SET = 20


def identity_center_plan(model: Model, info: OrgInfo, jobs: Mapping[str, Any],
                         classes: tuple[BaselineClass, ...]) -> IdentityCenter | None:
    """The plan's Identity Center part; raises :class:`BlueprintError` (GR304 sizes, GR308 missing references).

    ``jobs`` maps job-function names to their compilation (``.policies``: the job's own managed policies).
    """
    center = model.blueprint.identity_center
    if center is None:
        return None
    problems: list[Diagnostic] = []
    where_account = {a: cls for cls in classes for a in cls.accounts}
    assigned: dict[str, set[str]] = {}
    assignments: set[SsoAssignment] = set()
    for index, spec in enumerate(center.assignments):
        # References and placements were checked by the model stage; errors cannot recur here.
        accounts = _placement_accounts(model, spec.deploy_to, ("identity_center", "assignments", index), [])
        assigned.setdefault(spec.permission_set, set()).update(accounts)
        for account in accounts:
            assignments.add(SsoAssignment(permission_set_key(spec.permission_set), spec.group, spec.group_id,
                                          account, model.accounts[account].id))
    sets = []
    for name, spec in sorted(center.permission_sets.items()):
        where = ("identity_center", "permission_sets", name)
        permission_set = _permission_set(model, info, name, jobs, problems)
        sets.append(permission_set)
        needed = [*permission_set.customer_managed]
        if isinstance(permission_set.boundary, CustomerPolicyReference):
            needed.append(permission_set.boundary)
        for reference in needed:
            missing = sorted(a for a in assigned.get(name, ()) if not _holds(where_account.get(a), reference))
            if missing:
                what = "boundary" if reference == permission_set.boundary else "policy"
                problems.append(Diagnostic.of(
                    "GR308", f"permission set {name!r} refers to the customer managed {what} "
                    f"{reference.path}{reference.name}, which does not exist in {', '.join(missing)}",
                    model.source.where(*where, "boundary" if what == "boundary" else "policy"),
                    "Identity Center cannot provision a permission set into an account that lacks the policy: place "
                    "a group or role using it in those accounts, narrow the assignments, or use `policy: inline`"
                    if what == "policy" else "name those accounts in the boundary's `deploy_to` "
                    f"(permission_boundaries.{_boundary_key(model, reference)}.deploy_to), or use an AWS managed "
                    "boundary"))
    if problems:
        raise BlueprintError(problems)
    admin = center.delegated_admin or next(a.name for a in model.accounts.values() if a.management)
    org = model.blueprint.organization
    return IdentityCenter(
        instance_arn=center.instance_arn, identity_store_id=center.identity_store_id,
        region=center.region or org.home_region, admin_account=admin,
        admin_role=org.deployment_role if center.delegated_admin else org.management_account.deployment_role,
        permission_sets=tuple(sets),
        assignments=tuple(sorted(assignments, key=lambda a: (a.permission_set, a.group, a.account))))


def permission_set_key(name: str) -> str:
    return "ps_" + re.sub(r"\W", "_", name.lower())


def _boundary_key(model: Model, reference: CustomerPolicyReference) -> str:
    """The `permission_boundaries` key of the policy a reference names (its name when none: cannot happen)."""
    return next((key for key, b in model.blueprint.permission_boundaries.items()
                 if (b.name or key) == reference.name), reference.name)


def _holds(cls: BaselineClass | None, reference: CustomerPolicyReference) -> bool:
    return cls is not None and any(p.name == reference.name and p.path == reference.path
                                   for p in cls.baseline.managed_policies)


def _permission_set(model: Model, info: OrgInfo, name: str, jobs: Mapping[str, Any],
                    problems: list[Diagnostic]) -> PermissionSet:
    bp = model.blueprint
    assert bp.identity_center is not None
    spec = bp.identity_center.permission_sets[name]
    where = ("identity_center", "permission_sets", name)
    own: list[ManagedPolicy] = [p for job in spec.job_functions for p in jobs[job].policies]
    aws = list(dict.fromkeys([*(m for job in spec.job_functions for m in _job_managed(model, job)),
                              *spec.managed_policies]))
    inline: PolicyDocument | None = None
    customer: tuple[CustomerPolicyReference, ...] = ()
    if spec.policy == "inline" and own:
        inline = inline_document(own)
        for limit in (INLINE_POLICY_CHARS, INLINE_POLICY_BYTES):
            size = counted_length(inline.render(minified=True), limit)
            if size > limit.value:
                problems.append(Diagnostic.of(
                    "GR304", f"the inline policy of permission set {name!r} would be {size:,} characters; "
                    f"{limit.source} allows {limit.value:,}" + (" (whitespace not counted)"
                                                               if limit.counts == "non-whitespace" else ""),
                    model.source.where(*where, "job_functions"),
                    "use `policy: customer_managed` (each job function stays its own managed policy), or split the "
                    "job functions over several permission sets"))
    elif spec.policy == "customer_managed":
        customer = tuple(CustomerPolicyReference(p.name, p.path) for p in own)
    attached = len(aws) + len(customer)
    role_limit = effective_limits(bp.limits)["managed_policies_per_role"]
    if attached > min(role_limit.value, MANAGED_POLICIES_PER_PERMISSION_SET):
        problems.append(Diagnostic.of(
            "GR304", f"permission set {name!r} attaches {attached} managed policies; each assigned account's role "
            f"allows {role_limit.value} ({role_limit.source}) and a permission set at most "
            f"{MANAGED_POLICIES_PER_PERMISSION_SET} ({LIMITS_URL})", model.source.where_key(*where),
            "use `policy: inline`, fewer job functions, or raise `limits: {managed_policies_per_role: N}` after "
            "raising the IAM quota in every assigned account"))
    boundary: PolicyRef | CustomerPolicyReference | None = None
    if spec.boundary in bp.permission_boundaries:
        entry = bp.permission_boundaries[spec.boundary]
        boundary = CustomerPolicyReference(entry.name or spec.boundary, entry.path or POLICY_PATH)
    elif spec.boundary is not None and spec.boundary in aws_managed_policy_names():
        boundary = PolicyRef("aws", spec.boundary)
    findings = tuple(dict.fromkeys(f for p in own for f in p.accepted_findings)) if inline else ()
    return PermissionSet(
        key=permission_set_key(name), name=name,
        description=" ".join((spec.description or f"Job functions: {', '.join(spec.job_functions)}").split())
        if spec.description or spec.job_functions else "",
        session_duration=spec.session_duration, relay_state=spec.relay_state, inline_policy=inline,
        managed_policies=tuple(sorted(aws)), customer_managed=customer, boundary=boundary,
        tags=tuple(sorted(spec.tags.items())), inlined=tuple(p.key for p in own) if inline else (),
        accepted_findings=findings, origin=str(model.source.where_key(*where)),
        full_admin_accepted=spec.full_admin.reason if spec.full_admin else None)


def _job_managed(model: Model, job: str) -> list[str]:
    """The AWS managed policies a job function attaches (a built-in's included)."""
    return list(model.jobs[job].managed_policies)


def inline_document(policies: list[ManagedPolicy]) -> PolicyDocument:
    """The statements of the job functions' policies as one document, per-account placeholders as policy variables.

    Sids are unique within a policy: a repeated Sid (two job functions built on the same library statement) gets a
    number; an identical repeated statement is kept once.
    """
    statements: list[Statement] = []
    seen: dict[str, Statement] = {}
    for policy in policies:
        for statement in policy.document.statements:
            converted = _with_policy_variables(statement)
            if converted.sid in seen:
                if seen[converted.sid] == converted:
                    continue
                n = 2
                while f"{converted.sid}{n}" in seen:
                    n += 1
                converted = Statement(**{**converted.__dict__, "sid": f"{converted.sid}{n}"})
            seen[converted.sid] = converted
            statements.append(converted)
    return PolicyDocument(tuple(statements))


def to_policy_variables(text: str) -> str:
    for placeholder, variable in POLICY_VARIABLES.items():
        text = text.replace(placeholder, variable)
    return text


def _with_policy_variables(statement: Statement) -> Statement:
    def values(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({to_policy_variables(v) for v in items}))

    return Statement(
        sid=statement.sid, effect=statement.effect, actions=statement.actions, not_actions=statement.not_actions,
        resources=values(statement.resources), not_resources=values(statement.not_resources),
        principals=statement.principals,
        conditions=tuple(sorted(Condition(c.operator, to_policy_variables(c.key), values(c.values))
                                for c in statement.conditions)),
        origin=statement.origin)


def console_user_warnings(model: Model) -> list[Diagnostic]:
    """GR320 for every blueprint IAM user with console access (break-glass users excepted): people should sign in
    through IAM Identity Center; IAM users stay the exception for emergencies."""
    bp = model.blueprint
    break_glass = set(bp.organization.break_glass.users)
    found = []
    for name, user in bp.users.items():
        if user.console and name not in break_glass:
            found.append(Diagnostic.of(
                "GR320", f"IAM user {name!r} signs in to the console",
                model.source.where_key("users", name),
                "give people access through IAM Identity Center (`identity_center` permission sets and group "
                "assignments, docs/identity-center.md); keep IAM users for break-glass, or set `console: false`"))
    return found
