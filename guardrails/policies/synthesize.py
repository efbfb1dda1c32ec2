"""Stage 3: turn the resolved model into the format-neutral plan (IR).

Everything the outputs contain is decided here: policy documents, who gets which policy,
the trust of every role, the SCPs per target and the classes of accounts that share
a baseline. The emitters only render it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from guardrails.blueprint.schema import CatalogRef, ExplicitScp, Role as RoleSpec, Statement as StatementSpec
from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.iam.actions import iam_database
from guardrails.iam.arns import iam_arn, oidc_provider_arn, policy_arn, role_arn, root_arn, saml_provider_arn, user_arn
from guardrails.model.build import Model
from guardrails.model import catalog as cat
from guardrails.model.library import effective_job
from guardrails.policies.ir import (
    ACCOUNT_ID,
    AccessTest,
    Account,
    Baseline,
    BaselineClass,
    Condition,
    Group,
    JobReport,
    ManagedPolicy,
    OidcProvider,
    OrgInfo,
    OrgUnit,
    PasswordPolicy,
    Plan,
    PolicyDocument,
    document_from_json,
    PolicyRef,
    Principal,
    Role,
    SamlProvider,
    ServiceControlPolicy,
    Statement,
    User,
)
from guardrails.policies import compare, risks
from guardrails.policies.compaction import CompactionError, fit_policy
from guardrails.policies.identity_center import identity_center_plan
from guardrails.policies.intent import GrantError, compile_grant
from guardrails.policies.limits import effective_limits
from guardrails.policies.names import check_blueprint_names
from guardrails.policies.packing import PackingError, Unit, pack
from guardrails.policies.resource_policies import with_resource_policies
from guardrails.policies.security import security_plan

POLICY_PATH = "/guardrails/"
BREAK_GLASS_GROUP = "break-glass"
# SAML sign-in endpoint per partition: the audience a SAML assertion for the console carries.
SAML_AUDIENCE = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}


def synthesize(model: Model) -> Plan:
    """Compile the model into a plan; raises :class:`BlueprintError` for catalog parameter problems."""
    name_problems = check_blueprint_names(model)
    if name_problems:
        raise BlueprintError(name_problems)
    bp = model.blueprint
    org = bp.organization
    info = OrgInfo(
        name=org.name, partition=org.partition, org_id=org.id, root_id=org.root_id, existing=org.existing,
        home_region=org.home_region, allowed_regions=tuple(org.allowed_regions), deployment_role=org.deployment_role,
        management_deployment_role=org.management_account.deployment_role, deployment_principals=tuple(dict.fromkeys((*org.deployment_principals, *(org.control_tower.roles if org.control_tower else ())))), break_glass_role=org.break_glass.role,
        break_glass_account=org.break_glass.account)
    problems: list[Diagnostic] = []
    scps, rcps = _service_control_policies(model, info, problems)
    if model.released is not None and org.rollout is not None:
        scps, rcps = _canary_rollout(model, scps, rcps)
    jobs = compile_jobs(model, info, problems)
    if problems:
        raise BlueprintError(problems)
    tower = set(org.control_tower.managed_units) if org.control_tower else set()
    units = tuple(OrgUnit(u.path, u.name, u.parent, u.spec.id, "control-tower" if u.path in tower else None)
                  for u in model.units.values())
    accounts = tuple(Account(a.name, a.id, a.email, a.unit, a.existing, a.management) for a in model.accounts.values())
    return with_resource_policies(Plan(blueprint=model.source.display_name, org=info, units=units, accounts=accounts, scps=scps,
                classes=(classes := _classes(model, info, jobs)), limits=effective_limits(bp.limits),
                job_reports=tuple(jobs[name].report for name in sorted(jobs)), tests=_access_tests(model), rcps=rcps,
                security=security_plan(model, password_policy(model)),
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


# ----------------------------------------------------------------------------- helpers


def camel(name: str) -> str:
    """``terraform-deployer`` → ``TerraformDeployer`` (for Sids, which allow only letters and digits)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def substitute(value: str, info: OrgInfo) -> str:
    """Resolve the organization-wide substitutions; per-account ones stay as placeholders."""
    return value.replace("${partition}", info.partition).replace("${org_id}", info.org_id)


def _conditions(raw: dict[str, dict[str, Any]] | None, info: OrgInfo) -> tuple[Condition, ...]:
    if not raw:
        return ()
    out = []
    for operator, block in raw.items():
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            rendered = tuple(sorted({_scalar(v, info) for v in values}))
            out.append(Condition(operator, key, rendered))
    return tuple(sorted(out))


def _scalar(value: Any, info: OrgInfo) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return substitute(str(value), info)


def _unique(values: list[str] | tuple[str, ...] | None, info: OrgInfo) -> tuple[str, ...]:
    return tuple(sorted({substitute(v, info) for v in values or ()}))


def convert_statement(spec: StatementSpec | dict[str, Any], sid: str, info: OrgInfo, origin: str = "") -> Statement:
    """A blueprint (or catalog) statement as a canonical IR statement: sorted, de-duplicated, substituted."""
    data = spec.model_dump() if isinstance(spec, StatementSpec) else spec
    return Statement(
        sid=data.get("sid") or sid, effect=data.get("effect", "Allow"),
        actions=_unique(data.get("actions"), info), not_actions=_unique(data.get("not_actions"), info),
        resources=_unique(data.get("resources"), info), not_resources=_unique(data.get("not_resources"), info),
        conditions=_conditions(data.get("conditions"), info), origin=origin)


def _role_arn_pattern(name: str, info: OrgInfo, account: str = "*") -> str:
    return role_arn(info.partition, account, name)


def privileged_role_names(info: OrgInfo) -> tuple[str, ...]:
    """Roles that guardrails must never block: break-glass first, then the deployment principals."""
    names = [info.break_glass_role, info.deployment_role, info.management_deployment_role, *info.deployment_principals]
    return tuple(dict.fromkeys(names))


# ----------------------------------------------------------------------------- SCPs


def _service_control_policies(model: Model, info: OrgInfo, problems: list[Diagnostic]
                              ) -> tuple[tuple[ServiceControlPolicy, ...], tuple[ServiceControlPolicy, ...]]:
    """SCPs and RCPs per target: catalog guardrails packed within the quotas, then the explicit SCPs."""
    bp = model.blueprint
    org = bp.organization
    limits = effective_limits(bp.limits)
    slots = org.policy_slots
    context = {"allowed_regions": info.allowed_regions, "privileged_roles": privileged_role_names(info),
               "org_id": (info.org_id,), "boundary_policies": _boundary_policy_arns(model, info)}
    exemption = Condition("ArnNotLike", "aws:PrincipalArn",
                          tuple(sorted(_role_arn_pattern(n, info) for n in privileged_role_names(info))))
    scps: list[ServiceControlPolicy] = []
    rcps: list[ServiceControlPolicy] = []
    names: dict[str, tuple[str | int, ...]] = {}

    def attach(target: str, slug: str, refs: list[CatalogRef], explicit: list[ExplicitScp],
               yaml_path: tuple[str | int, ...]) -> None:
        units: dict[str, list[Unit]] = {"scp": [], "rcp": []}
        for ref in refs:
            # The model stage has checked ids and parameters (with locations); here they are known good.
            guardrail_id, given = (ref, {}) if isinstance(ref, str) else next(iter(ref.items()))
            guardrail = cat.load_catalog()[guardrail_id]
            values = cat.resolve_parameters(guardrail, given or {}, context)
            statements = []
            for template in guardrail.statements:
                statement = convert_statement(cat.expand(template, values), template["sid"], info, origin=guardrail_id)
                if guardrail.exempt_privileged:
                    statement = Statement(**{**statement.__dict__, "conditions": tuple(sorted((*statement.conditions, exemption)))})
                if guardrail.kind == "rcp":  # RCP statements apply to every principal: Principal "*"
                    statement = Statement(**{**statement.__dict__, "principals": (Principal("*", ("*",)),)})
                statements.append(statement)
            units["rcp" if guardrail.kind == "rcp" else "scp"].append(Unit(guardrail_id, tuple(statements)))
        for kind, policy_type, out in (("scp", "SERVICE_CONTROL_POLICY", scps), ("rcp", "RESOURCE_CONTROL_POLICY", rcps)):
            if not units[kind]:
                continue
            quota = limits[f"{kind}s_per_target"].value
            reserved = slots.reserved_scps if kind == "scp" else slots.reserved_rcps
            if kind == "scp" and org.control_tower and target.removeprefix("ou:") in org.control_tower.managed_units:
                reserved += org.control_tower.reserved_scps  # Control Tower's own SCPs on its registered OUs
            taken = 1 + (len(explicit) if kind == "scp" else 0)  # FullAWSAccess / RCPFullAWSAccess, explicit SCPs
            free = quota - taken - reserved - slots.free
            try:
                packed = pack(target, units[kind], limit=limits[f"{kind}_chars"].value, slots=max(free, 0),
                              kind=kind.upper())
            except PackingError as exc:
                problems.append(Diagnostic.of(
                    "GR304", str(exc), model.source.where_key(*yaml_path, "guardrails"),
                    f"slot map of {target} ({quota} {kind.upper()}s per target: 1 default full-access policy, "
                    f"{taken - 1} explicit, {reserved} reserved, {slots.free} kept free for rollouts): "
                    + "; ".join(f"{row.policy} = {', '.join(row.guardrails)} ({row.chars} chars)"
                                for row in exc.slot_map)
                    + ". Attach some guardrails on a parent OU, drop one, or raise the quota under `limits`."))
                continue
            prefix = "guardrails-" if kind == "scp" else "guardrails-rcp-"
            for index, (members, document) in enumerate(packed.policies):
                suffix = "" if index == 0 else f"-{index + 1}"
                ids = tuple(u.guardrail for u in members)
                # Guardrails that deny break-glass on purpose (catalog locks_break_glass): their Sids, for the
                # lockout proof. Merged statements keep the first Sid, so only unmerged policies qualify.
                intended = tuple(sorted(st.sid for u in members if cat.load_catalog()[u.guardrail].locks_break_glass
                                        for st in u.statements))
                out.append(ServiceControlPolicy(
                    key=f"{prefix.replace('-', '_')}{slug.replace('-', '_')}{suffix.replace('-', '_')}",
                    name=f"{prefix}{slug}{suffix}",
                    description=f"Guardrails from the catalog attached to {target}: {', '.join(ids)}",
                    document=document, target=target, guardrails=ids, policy_type=policy_type,
                    merged=packed.merged, intended_denials=intended))
        for index, scp in enumerate(explicit):
            where = (*yaml_path, "scps", index)
            if scp.name in names or scp.name.startswith("guardrails-"):
                problems.append(Diagnostic.of("GR302", f"SCP name {scp.name!r} is used twice or reserved",
                                              model.source.where(*where, "name"), "SCP names are unique in the organization; "
                                              "the prefix guardrails- is reserved for catalog policies"))
                continue
            names[scp.name] = where
            stmts = tuple(convert_statement(s, f"{camel(scp.name)}{i + 1}", info,
                                            str(model.source.where(*where, "statements", i)))
                          for i, s in enumerate(scp.statements))
            unknown = sorted(set(scp.intended_denials) - {st.sid for st in stmts if st.effect == "Deny"})
            for sid in unknown:
                problems.append(Diagnostic.of("GR301", f"intended_denials names {sid!r}, which is no Deny statement "
                                              f"of SCP {scp.name!r}", model.source.where(*where, "intended_denials"),
                                              "list the Sids of this SCP's Deny statements"))
            scps.append(ServiceControlPolicy(key=re.sub(r"\W", "_", scp.name), name=scp.name,
                                             description=scp.description or f"SCP {scp.name}",
                                             document=PolicyDocument(stmts), target=target,
                                             intended_denials=tuple(sorted(scp.intended_denials))))

    attach("root", "root", org.guardrails, org.scps, ("organization",))
    for unit in model.units.values():
        yaml_path: tuple[str | int, ...] = ("organization",)
        for part in unit.path.split("/"):
            yaml_path = (*yaml_path, "units", part)
        attach(f"ou:{unit.path}", "ou-" + _slug(unit.path), unit.spec.guardrails, unit.spec.scps, yaml_path)
        for index, account in enumerate(unit.spec.accounts):
            attach(f"account:{account.name}", "account-" + account.name, account.guardrails, account.scps,
                   (*yaml_path, "accounts", index))
    return tuple(scps), tuple(rcps)


def _canary_rollout(model: Model, scps: tuple[ServiceControlPolicy, ...], rcps: tuple[ServiceControlPolicy, ...]
                   ) -> tuple[tuple[ServiceControlPolicy, ...], tuple[ServiceControlPolicy, ...]]:
    """A rollout in progress: outside the canary OUs every policy keeps its released version (new ones wait, removed
    ones stay); the canary OUs get each new or changed policy as a copy of their own (``<name>-canary[-<ou>]``).

    Policies attached inside a canary OU change directly. Promotion (removing rollout.lock.json) releases the rest.
    """
    assert model.released is not None and model.blueprint.organization.rollout is not None
    canary = model.blueprint.organization.rollout.canary_units
    released = model.released

    def inside(target: str) -> bool:
        kind, _, name = target.partition(":")
        if kind == "ou":
            return any(name == c or name.startswith(c + "/") for c in canary)
        if kind == "account":
            unit = model.accounts[name].unit
            return any(unit == c or unit.startswith(c + "/") for c in canary)
        return False

    out: dict[str, list[ServiceControlPolicy]] = {"SERVICE_CONTROL_POLICY": [], "RESOURCE_CONTROL_POLICY": []}
    current = {p.name for p in (*scps, *rcps)}
    for policy in (*scps, *rcps):
        before = released.get(policy.name)
        if inside(policy.target) or (before is not None and before["target"] == policy.target
                                     and before["document"] == policy.document.to_json()):
            out[policy.policy_type].append(policy)
            continue
        if before is not None and before["target"] == policy.target:
            out[policy.policy_type].append(replace(policy, document=document_from_json(before["document"]),
                                                   guardrails=before["guardrails"],
                                                   intended_denials=before["intended_denials"],
                                                   description=(f"Guardrails from the catalog attached to "
                                                                f"{policy.target}: {', '.join(before['guardrails'])}"
                                                                if before["guardrails"] else policy.description)
                                                   + " (released version; the new one is on the canary OUs)"))
        for unit in canary:
            suffix = "-canary" if len(canary) == 1 else f"-canary-{_slug(unit)}"
            out[policy.policy_type].append(replace(
                policy, key=re.sub(r"\W", "_", policy.name + suffix), name=policy.name + suffix, target=f"ou:{unit}",
                description=f"Canary of {policy.name} (attached to {policy.target}) for the rollout in progress"))
    for name, before in sorted(released.items()):
        if name not in current and not inside(before["target"]):  # removed: stays until the rollout is promoted
            out[before["type"]].append(ServiceControlPolicy(
                key=re.sub(r"\W", "_", name), name=name, description=f"Released {name}, removed on promotion",
                document=document_from_json(before["document"]), target=before["target"],
                guardrails=before["guardrails"], intended_denials=before["intended_denials"],
                policy_type=before["type"]))
    return tuple(out["SERVICE_CONTROL_POLICY"]), tuple(out["RESOURCE_CONTROL_POLICY"])


def _boundary_policy_arns(model: Model, info: OrgInfo) -> tuple[str, ...]:
    """ARN patterns (any account) of the blueprint's permission-boundary policies, for protect-boundaries."""
    return tuple(sorted(policy_arn(info.partition, "*", POLICY_PATH, b.name or key)
                        for key, b in model.blueprint.permission_boundaries.items()))


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


# ----------------------------------------------------------------------------- identities


def compile_jobs(model: Model, info: OrgInfo, problems: list[Diagnostic]) -> dict[str, JobCompilation]:
    """Every job function's own managed policy (intent grants first, then explicit statements) and report."""
    db = iam_database()
    compiled: dict[str, JobCompilation] = {}
    for job, blueprint_spec in model.blueprint.job_functions.items():
        spec = effective_job(blueprint_spec)  # the built-in it names (if any), extended by its own entries
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
            whole = ManagedPolicy(key=f"job_{_ident(job)}", name=f"guardrails-{job}", path=POLICY_PATH,
                                  description=" ".join((spec.description or f"Job function {job}").split()),
                                  document=PolicyDocument(tuple(statements)),
                                  accepted_findings=_accepted(spec.accepted_findings),
                                  allowed_unknown_actions=tuple(sorted(a.action for a in spec.unknown_actions_allowed)))
            policies = _fit_job_policy(model, job, whole, problems)
        compacted = tuple(sorted({sid for p in policies for sid in p.compacted}))
        granted, on_star = _granted_actions(statements, db)
        report = JobReport(job=job, description=" ".join(spec.description.split()),
                           managed_policies=tuple(spec.managed_policies), actions=tuple(sorted(granted)),
                           scoped=tuple(sorted(granted - on_star)),
                           unscoped=tuple(sorted(a for a in granted if not db.action(a).resource_types)),
                           not_granted=tuple(sorted(set(not_granted))), compacted=compacted,
                           policy_keys=tuple(p.key for p in policies), parts=max(1, len(policies)),
                           risks=risks.declared_rules([p.document for p in policies],
                                                      [a.risk for a in spec.accept_risks]),
                           **compare.report_fields(job, spec, granted, granted - on_star))
        compiled[job] = JobCompilation(policies, report)
    return compiled


def _fit_job_policy(model: Model, job: str, policy: ManagedPolicy, problems: list[Diagnostic]) -> tuple[ManagedPolicy, ...]:
    """Keep the policy under the managed-policy size limit: explicit lists while it fits, then wildcards that
    expand to exactly the intended actions, then several policies within the attachment limit."""
    limits = effective_limits(model.blueprint.limits)
    attachments = limits["managed_policies_per_role"]
    spec = effective_job(model.blueprint.job_functions[job])
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
            names = {a.full_name for a in db.expand("*")} - {a.full_name for p in statement.not_actions for a in db.expand(p)}
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


def _accepted(findings: list[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((f.check, " ".join(f.reason.split())) for f in findings)


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name.lower())


def _refs_for(model: Model, jobs: list[str], compiled: dict[str, JobCompilation],
              policies: dict[str, ManagedPolicy]) -> tuple[PolicyRef, ...]:
    refs: list[PolicyRef] = []
    for job in jobs:
        spec = effective_job(model.blueprint.job_functions[job])
        refs.extend(PolicyRef("aws", name) for name in spec.managed_policies)
        for local in compiled[job].policies:
            policies[local.key] = local
            refs.append(PolicyRef("local", local.key))
    return tuple(dict.fromkeys(refs))


def _trust(model: Model, key: str, spec: RoleSpec, info: OrgInfo) -> PolicyDocument:
    trust = spec.trust
    statements: list[Statement] = []
    origin = str(model.source.where("roles", key, "trust"))
    if trust.services:
        statements.append(Statement("TrustAwsServices", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("Service", tuple(sorted(trust.services))),), origin=origin))
    extra: list[Condition] = []
    if trust.external_id:
        extra.append(Condition("StringEquals", "sts:ExternalId", (trust.external_id,)))
    if trust.accounts:
        arns: set[str] = set()
        for entry in trust.accounts:
            account_id = model.accounts[entry.account].id if entry.account in model.accounts else entry.account
            for role in entry.roles:
                arns.add(role_arn(info.partition, account_id, role))
            for user in entry.users:
                arns.add(user_arn(info.partition, account_id, user))
            if not entry.roles and not entry.users:
                arns.add(root_arn(info.partition, account_id))
        conditions = list(extra)
        if trust.require_mfa:
            conditions.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
        statements.append(Statement("TrustAccounts", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("AWS", tuple(sorted(arns))),),
                                    conditions=tuple(sorted(conditions)), origin=origin))
    if trust.organization:
        conditions = [Condition("StringEquals", "aws:PrincipalOrgID", (info.org_id,)), *extra]
        if trust.require_mfa:
            conditions.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
        statements.append(Statement("TrustOrganization", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("AWS", ("*",)),), conditions=tuple(sorted(conditions)), origin=origin))
    providers = model.blueprint.identity_providers
    if trust.github_oidc:
        gh = trust.github_oidc
        host = providers.oidc[gh.provider].url.removeprefix("https://").rstrip("/")
        subjects = [f"repo:{gh.repository}:ref:{ref}" for ref in gh.refs]
        subjects += [f"repo:{gh.repository}:environment:{env}" for env in gh.environments]
        if gh.pull_requests:
            subjects.append(f"repo:{gh.repository}:pull_request")
        statements.append(_oidc_statement("TrustGitHubActions", host, providers.oidc[gh.provider].audiences, subjects, info, origin))
    if trust.oidc:
        host = providers.oidc[trust.oidc.provider].url.removeprefix("https://").rstrip("/")
        statements.append(_oidc_statement("TrustOidc", host, providers.oidc[trust.oidc.provider].audiences,
                                          trust.oidc.subjects, info, origin))
    if trust.saml:
        statements.append(Statement(
            "TrustSaml", "Allow", actions=("sts:AssumeRoleWithSAML",),
            principals=(Principal("Federated", (saml_provider_arn(info.partition, ACCOUNT_ID, trust.saml.provider),)),),
            conditions=(Condition("StringEquals", "SAML:aud", (SAML_AUDIENCE[info.partition],)),), origin=origin))
    return PolicyDocument(tuple(statements))


def _oidc_statement(sid: str, host: str, audiences: list[str], subjects: list[str], info: OrgInfo, origin: str) -> Statement:
    wildcard = any(ch in s for s in subjects for ch in "*?")
    return Statement(
        sid, "Allow", actions=("sts:AssumeRoleWithWebIdentity",),
        principals=(Principal("Federated", (oidc_provider_arn(info.partition, ACCOUNT_ID, host),)),),
        conditions=tuple(sorted([
            Condition("StringEquals", f"{host}:aud", tuple(sorted(audiences))),
            Condition("StringLike" if wildcard else "StringEquals", f"{host}:sub", tuple(sorted(subjects))),
        ])), origin=origin)


def mfa_policy_document(*, access_keys: bool, first_password_without_mfa: bool, partition: str) -> PolicyDocument:
    """AWS's self-manage-credentials pattern: users manage only their own credentials, and nothing works
    without MFA except enrolling a device. ``BoolIfExists`` also blocks long-term access keys used without
    MFA (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html)."""
    own_user = (user_arn(partition, "*", "${aws:username}"),)
    statements = [
        Statement("AllowViewAccountInfo", "Allow", actions=("iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"),
                  resources=("*",)),
        Statement("AllowManageOwnPasswords", "Allow", actions=("iam:ChangePassword", "iam:GetUser"), resources=own_user),
    ]
    if access_keys:
        statements.append(Statement("AllowManageOwnAccessKeys", "Allow",
                                    actions=("iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"),
                                    resources=own_user))
    statements += [
        Statement("AllowManageOwnVirtualMFADevice", "Allow", actions=("iam:CreateVirtualMFADevice",),
                  resources=(iam_arn(partition, "*", "mfa/*"),)),
        Statement("AllowManageOwnUserMFA", "Allow",
                  actions=("iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:GetMFADevice", "iam:ListMFADevices",
                           "iam:ResyncMFADevice"), resources=own_user),
    ]
    allowed_without_mfa = {"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetMFADevice", "iam:GetUser",
                           "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"}
    if first_password_without_mfa:
        allowed_without_mfa |= {"iam:ChangePassword", "iam:GetAccountPasswordPolicy"}
    statements.append(Statement("DenyAllExceptListedIfNoMFA", "Deny", not_actions=tuple(sorted(allowed_without_mfa)),
                                resources=("*",),
                                conditions=(Condition("BoolIfExists", "aws:MultiFactorAuthPresent", ("false",)),)))
    return PolicyDocument(tuple(statements))


def _baseline_for(model: Model, account: str, info: OrgInfo, compiled: dict[str, JobCompilation]) -> Baseline:
    bp = model.blueprint
    org = bp.organization
    policies: dict[str, ManagedPolicy] = {}
    roles: list[Role] = []
    groups: list[Group] = []
    users: list[User] = []
    oidc_used: set[str] = set()
    saml_used: set[str] = set()

    # Break-glass: a role in every account, trusted only by the break-glass users with fresh MFA.
    bg = org.break_glass
    bg_account_id = model.accounts[bg.account].id
    roles.append(Role(
        key="break_glass", name=bg.role, path="/",
        description="Break-glass administrator access; assumed only by the break-glass IAM users with MFA.",
        trust=PolicyDocument((Statement(
            "TrustBreakGlassUsersWithMfa", "Allow", actions=("sts:AssumeRole",),
            principals=(Principal("AWS", (root_arn(info.partition, bg_account_id),)),),
            conditions=tuple(sorted([
                Condition("ArnLike", "aws:PrincipalArn",
                          tuple(sorted(user_arn(info.partition, bg_account_id, u) for u in bg.users))),
                Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)),
                Condition("NumericLessThan", "aws:MultiFactorAuthAge", (str(bg.mfa_max_age),)),
            ]))),)),
        policies=(PolicyRef("aws", "AdministratorAccess"),), max_session_duration=bg.max_session_duration,
        tags=(("guardrails:purpose", "break-glass"),)))

    placed_users = [name for name in bp.users if account in model.placements[("users", name)]]
    if account == bg.account:
        assume = ManagedPolicy(
            key="break_glass_assume", name="guardrails-break-glass-assume", path=POLICY_PATH,
            description="Lets break-glass users assume the break-glass role in any account, with MFA.",
            document=PolicyDocument((Statement(
                "AssumeBreakGlassRoleWithMfa", "Allow", actions=("sts:AssumeRole",),
                resources=(role_arn(info.partition, "*", bg.role),),
                conditions=(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)),)),)))
        policies[assume.key] = assume
        groups.append(Group("break_glass", BREAK_GLASS_GROUP, "/", (PolicyRef("local", assume.key),)))
        users.extend(User(f"user_{_ident(u)}", u, "/", ("break_glass",), (("guardrails:purpose", "break-glass"),))
                     for u in bg.users)

    for name, spec in bp.groups.items():
        if account in model.placements[("groups", name)]:
            groups.append(Group(f"group_{_ident(name)}", name, spec.path,
                                _refs_for(model, spec.job_functions, compiled, policies)))
    for name in placed_users:
        spec = bp.users[name]
        member_of = tuple(f"group_{_ident(g)}" for g, gs in bp.groups.items() if name in gs.members)
        users.append(User(f"user_{_ident(name)}", name, spec.path, member_of, tuple(sorted(spec.tags.items())),
                          _accepted(spec.accepted_findings)))

    # MFA enforcement: attached to every group that has IAM users in this account.
    mfa = bp.mfa_enforcement
    if mfa.enabled and users:
        needs_keys = any(bp.users[u].access_keys for u in placed_users)
        document = mfa_policy_document(access_keys=needs_keys, first_password_without_mfa=mfa.allow_first_password_without_mfa,
                                       partition=info.partition)
        force = ManagedPolicy("force_mfa", mfa.policy_name, POLICY_PATH,
                              "Denies everything but MFA enrollment until the user signs in with MFA.", document)
        policies[force.key] = force
        with_members = {g for u in users for g in u.groups}
        groups = [Group(g.key, g.name, g.path, (*g.policies, PolicyRef("local", force.key))) if g.key in with_members else g
                  for g in groups]

    for key, spec in bp.roles.items():
        if account not in model.placements[("roles", key)]:
            continue
        boundary_ref = None
        if spec.boundary:
            b = bp.permission_boundaries[spec.boundary]
            statements = tuple(convert_statement(s, f"{camel(spec.boundary)}{i + 1}", info,
                                                 str(model.source.where("permission_boundaries", spec.boundary, "statements", i)))
                               for i, s in enumerate(b.statements))
            boundary = ManagedPolicy(f"boundary_{_ident(spec.boundary)}", b.name or spec.boundary, POLICY_PATH,
                                     b.description or f"Permission boundary {spec.boundary}", PolicyDocument(statements), "boundary")
            policies[boundary.key] = boundary
            boundary_ref = PolicyRef("local", boundary.key)
        if spec.trust.github_oidc:
            oidc_used.add(spec.trust.github_oidc.provider)
        if spec.trust.oidc:
            oidc_used.add(spec.trust.oidc.provider)
        if spec.trust.saml:
            saml_used.add(spec.trust.saml.provider)
        roles.append(Role(
            key=f"role_{_ident(key)}", name=spec.name or key, path=spec.path, description=spec.description,
            trust=_trust(model, key, spec, info), policies=_refs_for(model, spec.job_functions, compiled, policies),
            boundary=boundary_ref, max_session_duration=spec.max_session_duration, instance_profile=spec.instance_profile,
            tags=tuple(sorted(spec.tags.items())), accepted_findings=_accepted(spec.accepted_findings)))

    password = password_policy(model)
    idp = bp.identity_providers
    return Baseline(
        managed_policies=tuple(sorted(policies.values(), key=lambda p: p.key)),
        roles=tuple(sorted(roles, key=lambda r: r.key)),
        groups=tuple(sorted(groups, key=lambda g: g.key)),
        users=tuple(sorted(users, key=lambda u: u.key)),
        oidc_providers=tuple(OidcProvider(f"oidc_{_ident(n)}", idp.oidc[n].url, tuple(idp.oidc[n].audiences),
                                          tuple(t.lower() for t in idp.oidc[n].thumbprints), idp.oidc[n].existing)
                             for n in sorted(oidc_used)),
        saml_providers=tuple(SamlProvider(f"saml_{_ident(n)}", n,
                                          (model.source.directory / idp.saml[n].metadata_file).read_text("utf-8"),
                                          idp.saml[n].existing) for n in sorted(saml_used)),
        password_policy=password)


def password_policy(model: Model) -> PasswordPolicy:
    pp = model.blueprint.password_policy
    return PasswordPolicy(pp.minimum_length, pp.require_symbols, pp.require_numbers, pp.require_uppercase,
                          pp.require_lowercase, pp.allow_users_to_change, pp.max_age, pp.reuse_prevention,
                          pp.hard_expiry, pp.existing)


def _classes(model: Model, info: OrgInfo, compiled: dict[str, JobCompilation]) -> tuple[BaselineClass, ...]:
    """Group accounts whose baselines are identical; name each class after what it covers."""
    by_content: dict[Baseline, list[str]] = defaultdict(list)
    management: list[BaselineClass] = []
    # A baseline depends only on which identities an account holds (and whether it holds the break-glass
    # users), so accounts with the same placements share one computation: large organizations stay fast.
    placed_in: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for identity, accounts in model.placements.items():
        for account in accounts:
            placed_in[account].add(identity)
    computed: dict[tuple[bool, frozenset[tuple[str, str]]], Baseline] = {}
    for name, account in sorted(model.accounts.items()):
        signature = (name == model.blueprint.organization.break_glass.account, frozenset(placed_in[name]))
        if signature not in computed:
            computed[signature] = _baseline_for(model, name, info, compiled)
        baseline = computed[signature]
        if account.management:
            # StackSets never deploy to the management account: it always gets a class (and stack) of its own.
            management.append(BaselineClass(name, (name,), baseline))
        else:
            by_content[baseline].append(name)
    classes: list[BaselineClass] = []
    used: set[str] = {c.key for c in management}
    for baseline, accounts in sorted(by_content.items(), key=lambda item: item[1]):
        whole = _whole_units(model, set(accounts))
        covered = {a for u in whole for a in model.accounts_in_unit(u)}
        if len(accounts) == 1:
            key = accounts[0]
        elif whole and covered == set(accounts):
            key = "-".join(_slug(u) for u in whole)
        else:
            key = f"{accounts[0]}-and-{len(accounts) - 1}-more"
        base, n = key[:60], 2
        while key in used:
            key, n = f"{base}-{n}", n + 1
        used.add(key)
        classes.append(BaselineClass(key, tuple(accounts), baseline, tuple(whole)))
    return tuple(management + sorted(classes, key=lambda c: c.key))


def _whole_units(model: Model, accounts: set[str]) -> list[str]:
    """Maximal OUs all of whose accounts (recursively, at least one) belong to the given set."""
    full = [u for u in model.units if (inside := model.accounts_in_unit(u)) and set(inside) <= accounts]
    return sorted(u for u in full if not any(u.startswith(p + "/") for p in full))
