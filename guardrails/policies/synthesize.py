"""Stage 3: turn the resolved model into the format-neutral plan (IR).

Everything the outputs contain is decided here: policy documents, who gets which policy,
the trust of every role, the SCPs per target and the classes of accounts that share
a baseline. The emitters only render it. Each part has its module: :mod:`~guardrails.policies.statements`
(statement conversion, naming), :mod:`~guardrails.policies.scps`, :mod:`~guardrails.policies.rollout`,
:mod:`~guardrails.policies.jobs`, :mod:`~guardrails.policies.trust`, :mod:`~guardrails.policies.baselines`
(per-account baseline, MFA policy, password policy) and :mod:`~guardrails.policies.classes`; the names other
modules import from here are re-exported.
"""

from __future__ import annotations

from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.model.build import Model
from guardrails.policies.baselines import (
    BREAK_GLASS_GROUP,
    baseline_for,
    mfa_policy_document,
    password_policy,
    policy_name_clashes,
)
from guardrails.policies.classes import baseline_classes
from guardrails.policies.identity_center import identity_center_plan
from guardrails.policies.ir import AccessTest, Account, OrgInfo, OrgUnit, Plan
from guardrails.policies.jobs import JobCompilation, compile_jobs, refs_for
from guardrails.policies.limits import effective_limits
from guardrails.policies.names import check_blueprint_names
from guardrails.policies.resource_policies import with_resource_policies
from guardrails.policies.rollout import canary_rollout
from guardrails.policies.scps import privileged_role_names, service_control_policies
from guardrails.policies.security import security_plan
from guardrails.policies.statements import POLICY_PATH, camel, convert_statement, ident, slug, substitute
from guardrails.policies.trust import SAML_AUDIENCE, role_trust, trust_statements
from guardrails.policies.trust_conditions import trust_condition_problems

__all__ = [
    "BREAK_GLASS_GROUP", "POLICY_PATH", "SAML_AUDIENCE", "JobCompilation", "baseline_classes", "baseline_for",
    "camel", "canary_rollout", "compile_jobs", "convert_statement", "ident", "mfa_policy_document",
    "password_policy", "privileged_role_names", "refs_for", "role_trust", "service_control_policies", "slug",
    "substitute", "synthesize",
]


def synthesize(model: Model, *, comparisons: bool = True) -> Plan:
    """Compile the model into a plan; raises :class:`BlueprintError` for catalog parameter problems. Without
    ``comparisons`` the job reports do not compare each job function with its AWS counterpart (only the
    least-privilege report reads that: ``check``, ``test`` and ``explain`` render no report)."""
    name_problems = check_blueprint_names(model)
    if name_problems:
        raise BlueprintError(name_problems)
    bp = model.blueprint
    org = bp.organization
    info = OrgInfo(
        name=org.name, partition=org.partition, org_id=org.id, root_id=org.root_id, existing=org.existing,
        home_region=org.home_region, allowed_regions=tuple(org.allowed_regions), deployment_role=org.deployment_role,
        management_deployment_role=org.management_account.deployment_role,
        deployment_principals=tuple(dict.fromkeys((*org.deployment_principals,
                                                   *(org.control_tower.roles if org.control_tower else ())))),
        break_glass_role=org.break_glass.role, break_glass_account=org.break_glass.account,
        retain_stacks=org.retain_stacks_on_account_removal)
    problems: list[Diagnostic] = [
        problem for key, role in bp.roles.items() if role.trust.conditions or role.trust.source_accounts
        or role.trust.source_arns
        for problem in trust_condition_problems(model, key, trust_statements(model, key, role, info))]
    if problems:
        raise BlueprintError(problems)
    scps, rcps = service_control_policies(model, info, problems)
    if model.released is not None and org.rollout is not None:
        scps, rcps = canary_rollout(model, scps, rcps)
    jobs = compile_jobs(model, info, problems, comparisons=comparisons)
    if problems:
        raise BlueprintError(problems)
    tower = set(org.control_tower.managed_units) if org.control_tower else set()
    units = tuple(OrgUnit(u.path, u.name, u.parent, u.spec.id, "control-tower" if u.path in tower else None)
                  for u in model.units.values())
    accounts = tuple(Account(a.name, a.id, a.email, a.unit, a.existing, a.management) for a in model.accounts.values())
    classes = baseline_classes(model, info, jobs)
    problems += policy_name_clashes(model, classes)
    if problems:
        raise BlueprintError(problems)
    return with_resource_policies(Plan(
        blueprint=model.source.display_name, blueprint_name=model.source.directory.resolve().name, org=info, units=units, accounts=accounts, scps=scps, classes=classes,
        limits=effective_limits(bp.limits), job_reports=tuple(jobs[name].report for name in sorted(jobs)),
        tests=_access_tests(model), rcps=rcps, security=security_plan(model, password_policy(model)),
        pending_accounts=tuple(Account(a.name, "", a.email, a.unit, False) for a in model.pending.values()),
        identity_center=identity_center_plan(model, info, jobs, classes)))


def _access_tests(model: Model) -> tuple[AccessTest, ...]:
    """The blueprint's access assertions with `accounts: all` and single values expanded (names checked later,
    by the evaluator, against what was actually emitted)."""
    every = tuple(model.accounts)
    tests = []
    for name, spec in sorted(model.blueprint.tests.items()):
        accounts = every if spec.accounts == "all" else tuple(spec.accounts or (spec.account,))
        context = tuple(sorted((key, _context_values(value)) for key, value in spec.context.items()))
        tests.append(AccessTest(name, " ".join((spec.description or "").split()), spec.principal, accounts,
                                tuple(spec.actions or (spec.action,)), spec.resource, context, spec.expect,
                                spec.decided_by, str(model.source.where_key("tests", name))))
    return tuple(tests)


def _context_values(value: object) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)

