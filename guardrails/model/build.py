"""Resolve a validated blueprint into a model: the OU tree, accounts, and where each identity lives.

All semantic checks (unknown references, duplicates, nesting depth, region rules, MFA where
it cannot exist) run here and are collected before anything fails.
"""

from __future__ import annotations

import itertools
import re

from guardrails.blueprint.loader import LoadedBlueprint
from guardrails.blueprint.schema import OrgUnit
from guardrails.diagnostics import BlueprintError, Diagnostic, Severity
from guardrails.iam import root_tasks
from guardrails.model import library
from guardrails.model.accepted import resolve_acceptances
from guardrails.model.limits import check_limit_overrides
from guardrails.model.references import (
    _check_guardrail_refs,
    _check_organization_rules,
    _check_references,
    _check_statements,
    catalog_attachments,
    guardrail_attachments,
    iter_statements,
)
from guardrails.model.resolved import (
    CatalogAttachment,
    MAX_OU_DEPTH,
    SUBSTITUTIONS,
    AccountInfo,
    Model,
    UnitInfo,
    _account_hint,
    _placement_accounts,
    _suggest,
    aws_managed_policy_names,
    region_facts,
)
from guardrails.model.renames import check_moved_from
from guardrails.model.services import (
    ROLLOUT_LOCK,
    _check_control_tower,
    _check_identity_center,
    _check_intended_denials,
    _check_security,
    _load_rollout,
)

__all__ = ["MAX_OU_DEPTH", "ROLLOUT_LOCK", "SUBSTITUTIONS", "AccountInfo", "CatalogAttachment", "Model", "UnitInfo",
           "aws_managed_policy_names", "build_model", "catalog_attachments", "guardrail_attachments", "iter_statements",
           "region_facts"]


def build_model(loaded: LoadedBlueprint) -> Model:
    """Resolve and check; raises :class:`BlueprintError` listing every problem, the loader's schema errors of a
    partial load (``load_blueprint(partial=True)``) included. Warnings (GR320) do not raise: they are kept in
    ``model.warnings`` for the build summary."""
    model = Model(source=loaded)
    problems: list[Diagnostic] = []
    _resolve_tree(model, problems)
    _check_regions(model, problems)
    check_limit_overrides(model, problems)
    _resolve_placements(model, problems)
    _check_library(model, problems)
    _check_references(model, problems)
    check_moved_from(model, problems)
    _check_statements(model, problems)
    _check_guardrail_refs(model, problems)
    _check_organization_rules(model, problems)
    _check_access_tests(model, problems)
    _check_control_tower(model, problems)
    _check_security(model, problems)
    _check_identity_center(model, problems)
    _check_intended_denials(model, problems)
    _load_rollout(model, problems)
    model.acceptances = resolve_acceptances(model, problems)
    if loaded.dropped:  # no "unknown reference" to an entry whose own errors are reported
        problems = [d for d in problems if not _names_dropped(d, loaded.dropped)]
    errors = [*loaded.errors, *(d for d in problems if d.severity is Severity.ERROR)]
    if errors:
        raise BlueprintError(errors)
    model.warnings = [d for d in problems if d.severity is not Severity.ERROR]
    return model


def _names_dropped(diagnostic: Diagnostic, dropped: frozenset[tuple[str, str]]) -> bool:
    """A reference error (GR301) that names an entry left out for its schema errors: a consequence, not a finding."""
    return diagnostic.code == "GR301" and any(f"{name!r}" in diagnostic.message for _, name in dropped)


def _check_access_tests(model: Model, problems: list[Diagnostic]) -> None:
    """Access tests name known accounts and principals the blueprint defines (placement is checked when they run)."""
    bp = model.blueprint
    known = {"role": {s.name or k for k, s in bp.roles.items()} | {bp.organization.break_glass.role},
             "user": set(bp.users) | set(bp.organization.break_glass.users),
             "group": set(bp.groups) | {"break-glass"},  # the break-glass users' group (synthesize.BREAK_GLASS_GROUP)
             # Identity Center sessions; whether the set is assigned in the test's accounts is checked when it runs.
             "permission-set": set(bp.identity_center.permission_sets) if bp.identity_center else set()}
    if any(t.principal.startswith("root-session/") for t in bp.tests.values()):
        # sts:AssumeRoot sessions: the AWS task policies the evaluator carries as reference data.
        known["root-session"] = set(root_tasks.task_names())
    for name, test in bp.tests.items():
        if isinstance(test.accounts, list) or test.account is not None:
            key = "accounts" if test.accounts is not None else "account"
            for index, account in enumerate(test.accounts if isinstance(test.accounts, list) else [test.account]):
                if account not in model.accounts:
                    where = ("tests", name, key, index) if key == "accounts" else ("tests", name, key)
                    problems.append(Diagnostic.of("GR301", f"unknown account {account!r}", model.source.where(*where),
                                                  _account_hint(model, str(account))))
        where = model.source.where("tests", name, "principal")
        if test.principal.startswith("external:"):
            # A principal outside the organization (its own policies unknown); an account of ours is tested as itself.
            account_id = test.principal.removeprefix("external:").split("/", 1)[0]
            member = next((a.name for a in model.accounts.values() if a.id == account_id), None)
            if member is not None:
                problems.append(Diagnostic.of("GR203", f"external principal {test.principal!r} is in account {member} "
                                              "of the organization", where,
                                              f"test it as role/NAME, user/NAME or root with `account: {member}`"))
            continue
        kind, _, principal = test.principal.partition("/")
        if kind in known and principal not in known[kind]:
            hint = _suggest(principal, known[kind])
            if kind == "root-session":
                hint = (hint + "; " if hint.startswith("did") else "") + "an sts:AssumeRoot session names one of " + \
                    ", ".join(sorted(known[kind]))
            problems.append(Diagnostic.of("GR301", f"unknown {'root task policy' if kind == 'root-session' else kind} "
                                          f"{principal!r}", where, hint))


def _check_library(model: Model, problems: list[Diagnostic]) -> None:
    """Job functions that name a built-in: the id exists and the parameters fit it."""
    known = library.load_library()
    src = model.source
    for name, job in model.blueprint.job_functions.items():
        if job.library is None:
            if job.parameters:
                problems.append(Diagnostic.of("GR203", f"job function {name!r} has parameters but no `library`",
                                              src.where_key("job_functions", name, "parameters"),
                                              "parameters belong to a built-in job function: add `library: <id>`"))
            continue
        if job.library not in known:
            problems.append(Diagnostic.of("GR301", f"unknown built-in job function {job.library!r}",
                                          src.where("job_functions", name, "library"),
                                          (_suggest(job.library, set(known)) + " — `guardrails library` lists them")
                                          .lstrip(" —")))
            continue
        try:
            inherited = library.expand_builtin(known[job.library], job.parameters)
        except library.ParameterError as exc:
            where: tuple[str | int, ...] = ("job_functions", name, "parameters")
            if exc.parameter in job.parameters:
                where = (*where, exc.parameter)
            elif not job.parameters:
                where = ("job_functions", name, "library")
            problems.append(Diagnostic.of("GR203", str(exc), src.where_key(*where), exc.hint))
            continue
        taken = {s.sid for s in inherited.statements if s.sid}
        for index, statement in enumerate(job.statements):
            if statement.sid in taken:
                problems.append(Diagnostic.of("GR302", f"Sid {statement.sid!r} is also a statement of the built-in "
                                              f"{job.library!r}", src.where("job_functions", name, "statements", index, "sid"),
                                              "Sids are unique in a policy: rename this statement"))
    if not problems:
        model.jobs = {name: library.effective_job(job, known) for name, job in model.blueprint.job_functions.items()}


def _resolve_tree(model: Model, problems: list[Diagnostic]) -> None:
    org = model.blueprint.organization
    mgmt = org.management_account
    model.accounts[mgmt.name] = AccountInfo(mgmt.name, mgmt.id, mgmt.email, "", True, True,
                                            ("organization", "management_account"))
    seen: _Seen = {}
    _remember(seen, model.accounts[mgmt.name], 0)

    def walk(units: dict[str, OrgUnit], parent: str, depth: int, yaml_path: tuple[str | int, ...]) -> None:
        for name, spec in units.items():
            path = f"{parent}/{name}" if parent else name
            unit_yaml = (*yaml_path, name)
            if depth > MAX_OU_DEPTH:
                problems.append(Diagnostic.of("GR305", f"OU {path!r} is nested {depth} levels deep (AWS allows {MAX_OU_DEPTH})",
                                              model.source.where_key(*unit_yaml), "flatten the OU tree"))
            if not re.fullmatch(r"[\w .+=,@-]{1,128}", name) or "/" in name:
                problems.append(Diagnostic.of("GR303", f"OU name {name!r} is not a valid Organizations OU name",
                                              model.source.where_key(*unit_yaml), "use 1–128 letters, digits, spaces or . - _"))
            model.units[path] = UnitInfo(path, name, parent, depth, spec)
            for index, account in enumerate(spec.accounts):
                _add_account(model, problems, account.name, account.id, account.email, path, account.existing,
                             (*unit_yaml, "accounts", index), seen)
            walk(spec.units, path, depth + 1, (*unit_yaml, "units"))

    walk(org.units, "", 1, ("organization", "units"))


# (field, value) → [(sort key, account)]: the accounts seen so far by name, id and lower-case email, so that the
# duplicate checks are lookups (comparing every account with every other took minutes for 5,000 accounts).
_Seen = dict[tuple[str, str], list[tuple[tuple[int, int], AccountInfo]]]
_ORDER = itertools.count()


def _remember(seen: _Seen, info: AccountInfo, pending: int) -> None:
    order = (pending, next(_ORDER))
    for key in (("name", info.name), ("id", info.id), ("email", info.email.lower())):
        if key[1]:
            seen.setdefault(key, []).append((order, info))


def _add_account(model: Model, problems: list[Diagnostic], name: str, account_id: str | None, email: str, unit: str,
                 existing: bool, yaml_path: tuple[str | int, ...], seen: _Seen) -> None:
    # The accounts that share a name, id or email, in the order of model.accounts then model.pending.
    candidates = {id(info): (order, info) for key in (("name", name), ("id", account_id or ""), ("email", email.lower()))
                  if key[1] for order, info in seen.get(key, [])}
    for _, other in sorted(candidates.values(), key=lambda item: item[0]):
        if other.name == name:
            problems.append(Diagnostic.of("GR302", f"account name {name!r} is used twice", model.source.where(*yaml_path, "name"),
                                          "account names must be unique across the organization"))
            return
        if account_id is not None and other.id == account_id:
            problems.append(Diagnostic.of("GR302", f"account id {account_id} is used by {other.name!r} too",
                                          model.source.where(*yaml_path, "id"), "check the 12-digit id"))
        if other.email.lower() == email.lower():
            problems.append(Diagnostic.of("GR302", f"email {email} is used by {other.name!r} too",
                                          model.source.where(*yaml_path, "email"), "every AWS account needs its own root email"))
    if account_id is None:
        model.pending[name] = AccountInfo(name, "", email, unit, False, False, yaml_path)
        _remember(seen, model.pending[name], 1)
        return
    model.accounts[name] = AccountInfo(name, account_id, email, unit, existing, False, yaml_path)
    _remember(seen, model.accounts[name], 0)


def _check_regions(model: Model, problems: list[Diagnostic]) -> None:
    org = model.blueprint.organization
    facts = region_facts()
    known = set(facts["records_global_iam"]) | set(facts["launched_later"])
    if org.home_region not in facts["records_global_iam"]:
        hint = ("this region launched after February 2022 and cannot record global IAM resources in AWS Config; "
                "choose one of: " + ", ".join(r for r in facts["records_global_iam"] if r.split("-")[0] == org.home_region.split("-")[0])
                ) if org.home_region in known else _suggest(org.home_region, facts["records_global_iam"])
        problems.append(Diagnostic.of("GR310", f"home region {org.home_region!r} cannot record global IAM resources",
                                      model.source.where("organization", "home_region"), hint))
    for index, region in enumerate(org.allowed_regions):
        if region not in known:
            problems.append(Diagnostic.of("GR310", f"unknown region {region!r}",
                                          model.source.where("organization", "allowed_regions", index), _suggest(region, known)))
    if org.home_region not in org.allowed_regions:
        problems.append(Diagnostic.of("GR310", f"home region {org.home_region!r} is not in allowed_regions",
                                      model.source.where("organization", "allowed_regions"),
                                      "add it: the IAM stacks and the password-policy function run there"))


def _resolve_placements(model: Model, problems: list[Diagnostic]) -> None:
    bp = model.blueprint
    chosen: dict = {}  # the selections of this model, shared by the entries that deploy alike
    for section in ("groups", "users", "roles"):
        for name, entry in getattr(bp, section).items():
            model.placements[(section, name)] = _placement_accounts(model, entry.deploy_to, (section, name, "deploy_to"),
                                                                    problems, chosen)
    # A boundary's own placement adds to the accounts of the roles that use it (guardrails.policies.baselines).
    for name, boundary in bp.permission_boundaries.items():
        if boundary.deploy_to is not None:
            model.placements[("permission_boundaries", name)] = _placement_accounts(
                model, boundary.deploy_to, ("permission_boundaries", name, "deploy_to"), problems, chosen)
