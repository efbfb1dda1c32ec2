"""Stack 3: ``stacksets.yaml``, one service-managed baseline StackSet per member-account class (and the account
security StackSet)."""

from __future__ import annotations

from typing import Any

from guardrails.emitters.cloudformation import security as security_templates
from guardrails.emitters.cloudformation.baseline import stack_name
from guardrails.emitters.cloudformation.organization_ids import (
    BASE_URL,
    ROOT,
    Ids,
    cached,
    member,
    organization_ids,
    ou_ref,
)
from guardrails.emitters.cloudformation.organization_resources import organization_template
from guardrails.emitters.cloudformation.render import LogicalIds, dump, ref, resource, skip_metadata
from guardrails.iam.organization import unit_chain
from guardrails.policies.ir import BaselineClass, Plan


def _accounts_under(plan: Plan, path: str) -> frozenset[str]:
    """The member accounts (with an id) in the OU ``path`` or nested in it; the root holds them all. Indexed once
    per plan: a class per OU of a large organization would otherwise read every account for each."""
    return cached(plan, "accounts_under", lambda: _index(plan)).get(path, frozenset())


def _index(plan: Plan) -> dict[str, frozenset[str]]:
    under: dict[str, set[str]] = {}
    for account in plan.accounts:
        if not account.management:
            for path in ("", *unit_chain(account.unit)):
                under.setdefault(path, set()).add(account.name)
    return {path: frozenset(names) for path, names in under.items()}


def _deployment_targets(plan: Plan, ids: Ids, cls: BaselineClass) -> dict[str, Any]:
    """Whole OUs (nested OUs included) when the class is exactly their accounts, so accounts added there later
    get the baseline too; otherwise the class's accounts, intersected with the OUs that hold them. The accounts
    live in other stacks: they are named by id.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html"""
    if cls.whole_units:
        covered = set().union(*(_accounts_under(plan, u) for u in cls.whole_units))
        if covered == set(cls.accounts):
            return {"OrganizationalUnitIds": [ou_ref(ids, u, local=False) for u in cls.whole_units],
                    "AccountFilterType": "NONE"}
    units = sorted({member(plan, a).unit for a in cls.accounts})
    return {"OrganizationalUnitIds": [ou_ref(ids, u, local=False) for u in units],
            "Accounts": [member(plan, a).id for a in cls.accounts],
            "AccountFilterType": "INTERSECTION"}


def _stackset(plan: Plan, ids: Ids, cls: BaselineClass) -> dict[str, Any]:
    # No DependsOn: the accounts are in the accounts stacks, deployed before this one.
    return resource("AWS::CloudFormation::StackSet", {
        "StackSetName": stack_name(cls, management=False),
        "Description": f"guardrails IAM baseline for the account class {cls.key}",
        "PermissionModel": "SERVICE_MANAGED",
        # Retain (the default): an account that leaves the targeted OUs (moved to another OU, to Quarantine, or out
        # of the organization) keeps BreakGlass and the other baseline roles. With False, StackSets deletes its stack
        # instance and with it the break-glass role, which is what an incident response needs most. The account's
        # new OU brings its own baseline; the stack left behind is cleaned up by hand (docs/deploying.md).
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": plan.org.retain_stacks},
        "CallAs": "SELF",
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        # Queue operations instead of failing when an auto-deployment overlaps an update.
        "ManagedExecution": {"Active": True},
        "TemplateURL": {"Fn::Sub": f"${{{BASE_URL}}}/baseline-{cls.key}.yaml"},
        # The home region only: IAM is global, a second region's instance fails with EntityAlreadyExists.
        "StackInstancesGroup": [{"DeploymentTargets": _deployment_targets(plan, ids, cls),
                                 "Regions": [plan.org.home_region]}],
    }, metadata=skip_metadata("stackset", cls.key))


def build_stacksets(plan: Plan, ids: Ids | None = None) -> dict[str, Any]:
    """The StackSet template, once per plan (``guardrails check`` predicts it, the emitter writes it)."""
    return cached(plan, "stacksets", lambda: _build(plan, ids or organization_ids(plan)))


def stacksets_body(plan: Plan) -> str:
    """``dump(build_stacksets(plan))``, once per plan."""
    return cached(plan, "stacksets_body", lambda: dump(build_stacksets(plan)))


def _build(plan: Plan, ids: Ids) -> dict[str, Any]:
    names = LogicalIds()
    resources = {names("StackSet", c.key): _stackset(plan, ids, c) for c in plan.classes if not is_management(plan, c)}
    if plan.security is not None:
        # Every member account: the organization root, so accounts added later get it too.
        resources[names("StackSet", security_templates.ACCOUNT_SECURITY)] = security_templates.stackset(
            plan, plan.security, ref(ROOT), BASE_URL, ref(security_templates.LOG_KEY))
    return organization_template(plan, "baseline StackSets", resources)


def is_management(plan: Plan, cls: BaselineClass) -> bool:
    return any(member(plan, a).management for a in cls.accounts)
