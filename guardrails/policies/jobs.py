"""Job functions compiled into their own managed policies (intent grants, then explicit statements), fitted to
the managed-policy size limit, with the least-privilege report of each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from guardrails.diagnostics import Diagnostic
from guardrails.iam.actions import iam_database
from guardrails.model.build import Model
from guardrails.policies import compare
from guardrails.policies.compaction import CompactionError, fit_policy
from guardrails.policies.intent import GrantError, compile_grant
from guardrails.policies.ir import JobReport, ManagedPolicy, OrgInfo, PolicyDocument, PolicyRef, Statement
from guardrails.policies.limits import effective_limits
from guardrails.policies.risk_plan import declared_rules
from guardrails.policies.statements import POLICY_PATH, accepted_checks, camel, convert_statement, ident


def compile_jobs(model: Model, info: OrgInfo, problems: list[Diagnostic], *, comparisons: bool = True
                 ) -> dict[str, JobCompilation]:
    """Every job function's own managed policy (intent grants first, then explicit statements) and report;
    ``comparisons``: with the report's comparison to the job's AWS counterpart (the least-privilege report's)."""
    db = iam_database()
    compiled: dict[str, JobCompilation] = {}
    for job, blueprint_spec in model.blueprint.job_functions.items():
        spec = model.jobs[job]  # the built-in it names (if any), extended by its own entries (model stage)
        statements: list[Statement] = []
        not_granted: list[tuple[str, str]] = []
        for index, grant in enumerate(spec.grants):
            where = ("job_functions", job, *spec.grant_paths[index])
            try:
                result = compile_grant(grant, sid_base=f"{camel(job)}{camel(grant.service)}G{index + 1}S",
                                       partition=info.partition, org_id=info.org_id, db=db,
                                       origin=str(model.source.where(*where)))
            except GrantError as exc:
                problems.append(Diagnostic.of("GR312", str(exc), model.source.where(*where, *exc.path), exc.hint))
                continue
            statements.extend(result.statements)
            not_granted.extend(result.not_granted)
        statements.extend(
            convert_statement(s, f"{camel(job)}{i + 1}", info,
                              str(model.source.where("job_functions", job, *spec.statement_paths[i])))
            for i, s in enumerate(spec.statements))
        policies: tuple[ManagedPolicy, ...] = ()
        if statements:
            whole = ManagedPolicy(key=f"job_{ident(job)}", name=blueprint_spec.policy_name or f"guardrails-{job}",
                                  path=blueprint_spec.policy_path or POLICY_PATH, existing=blueprint_spec.existing,
                                  # An existing policy's description cannot change in place: kept as written.
                                  description=blueprint_spec.description if blueprint_spec.existing else
                                  " ".join((spec.description or f"Job function {job}").split()),
                                  document=PolicyDocument(tuple(statements)),
                                  accepted_findings=accepted_checks(spec.accepted_findings),
                                  allowed_unknown_actions=tuple(sorted(a.action for a in spec.unknown_actions_allowed)),
                                  origin=str(model.source.where_key("job_functions", job)))
            policies = _fit_job_policy(model, job, whole, problems)
            if len(policies) > 1 and blueprint_spec.policy_name is not None:
                # Parts are named <name>-1, <name>-2…: a policy named on purpose (an existing one) must stay one.
                problems.append(Diagnostic.of(
                    "GR304", f"job function {job}: its policy {whole.name} needs {len(policies)} managed policies "
                    "(the size limit), but `policy_name` names one", model.source.where_key("job_functions", job),
                    "drop `policy_name` (guardrails then splits it into parts) or split the job function"))
        compacted = tuple(sorted({sid for p in policies for sid in p.compacted}))
        granted, on_star = _granted_actions(statements, db)
        report = JobReport(job=job, description=" ".join(spec.description.split()),
                           managed_policies=tuple(spec.managed_policies), actions=tuple(sorted(granted)),
                           scoped=tuple(sorted(granted - on_star)),
                           unscoped=tuple(sorted(a for a in granted if not db.action(a).resource_types)),
                           not_granted=tuple(sorted(set(not_granted))), compacted=compacted,
                           policy_keys=tuple(p.key for p in policies), parts=max(1, len(policies)),
                           risks=declared_rules([p.document for p in policies], [a.risk for a in spec.accept_risks]),
                           **(compare.report_fields(job, spec, granted, granted - on_star) if comparisons else {}))
        compiled[job] = JobCompilation(policies, report)
    return compiled


def _fit_job_policy(model: Model, job: str, policy: ManagedPolicy, problems: list[Diagnostic]
                    ) -> tuple[ManagedPolicy, ...]:
    """Keep the policy under the managed-policy size limit: explicit lists while it fits, then wildcards that
    expand to exactly the intended actions, then several policies within the attachment limit."""
    limits = effective_limits(model.blueprint.limits)
    attachments = limits["managed_policies_per_role"]
    spec = model.jobs[job]
    room = attachments.value - len(spec.managed_policies) - 1  # leave a slot for a boundary-free extra (MFA)
    try:
        result = fit_policy(policy, limits["managed_policy_chars"], max(1, room), job_function=job,
                            attachment_limit=attachments)
    except CompactionError as exc:
        problems.append(Diagnostic.of("GR304", str(exc), model.source.where_key("job_functions", job),
                                      "narrow the grants, split the job function, or raise "
                                      "`limits: {managed_policies_per_role: N}`"))
        return ()
    return tuple(replace(p, compacted=result.compacted.get(p.key, ())) for p in result.policies)


def _granted_actions(statements: list[Statement], db: Any) -> tuple[set[str], set[str]]:
    """Actions the Allow statements grant (expanded), and those among them granted on "*"."""
    granted: set[str] = set()
    on_star: set[str] = set()
    for statement in statements:
        if statement.effect != "Allow":
            continue
        if statement.not_actions:
            excluded = {a.full_name for p in statement.not_actions for a in db.expand(p)}
            names = {a.full_name for a in db.expand("*")} - excluded
        else:
            names = {a.full_name for p in statement.actions for a in db.expand(p)}
        granted |= names
        if "*" in statement.resources or statement.not_resources:
            on_star |= names
    return granted, on_star


@dataclass(frozen=True)
class JobCompilation:
    policies: tuple[ManagedPolicy, ...]  # one, or several parts when one would exceed the size limit
    report: JobReport



def refs_for(model: Model, jobs: list[str], compiled: dict[str, JobCompilation],
              policies: dict[str, ManagedPolicy]) -> tuple[PolicyRef, ...]:
    refs: list[PolicyRef] = []
    for job in jobs:
        spec = model.jobs[job]
        refs.extend(PolicyRef("aws", name) for name in spec.managed_policies)
        for local in compiled[job].policies:
            policies[local.key] = local
            refs.append(PolicyRef("local", local.key))
    return tuple(dict.fromkeys(refs))
