"""Resolve a validated blueprint into a model: the OU tree, accounts, and where each identity lives.

All semantic checks (unknown references, duplicates, nesting depth, region rules, MFA where
it cannot exist) run here and are collected before anything fails.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from guardrails.blueprint.loader import LoadedBlueprint
from guardrails.blueprint.schema import Blueprint, OrgUnit, Placement, Statement
from guardrails.diagnostics import BlueprintError, Diagnostic, Location
from guardrails.iam.arns import policy_arn
from guardrails.iam.organization import in_unit
from guardrails.model import catalog, library

MAX_OU_DEPTH = 5  # Organizations: OUs nest at most five levels below the root.
SUBSTITUTIONS = ("partition", "account_id", "region", "org_id")
# Policy variables AWS resolves at request time; passed through untouched.
_POLICY_VARIABLE = re.compile(r"^(aws|saml|sts|ec2|iam|s3|token\.actions\.githubusercontent\.com|[a-z0-9.-]+):[\w/.:-]+$|^[*?$]$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class UnitInfo:
    path: str
    name: str
    parent: str
    depth: int
    spec: OrgUnit


@dataclass(frozen=True)
class AccountInfo:
    name: str
    id: str
    email: str
    unit: str
    existing: bool
    management: bool
    yaml_path: tuple[str | int, ...]


@dataclass
class Model:
    """The blueprint, resolved: lookups by name and the account set of every placed identity."""

    source: LoadedBlueprint
    units: dict[str, UnitInfo] = field(default_factory=dict)
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    placements: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # Accounts still to be created (no id yet): only the account itself is emitted; no baseline, no policies.
    pending: dict[str, AccountInfo] = field(default_factory=dict)
    # The released SCPs/RCPs of a canary rollout in progress (rollout.lock.json), by policy name; None: no rollout.
    released: dict[str, dict[str, Any]] | None = None
    # Every job function as compiled (a built-in's permissions, parameters expanded, then its own), resolved once.
    jobs: dict[str, library.EffectiveJob] = field(default_factory=dict)

    @property
    def blueprint(self) -> Blueprint:
        return self.source.blueprint

    def accounts_in_unit(self, path: str) -> list[str]:
        return [a.name for a in self.accounts.values() if in_unit(a.unit, path)]

    def member_accounts(self) -> list[str]:
        return [a.name for a in self.accounts.values() if not a.management]


@cache
def aws_managed_policy_names() -> frozenset[str]:
    """Names (with path, e.g. ``job-function/Billing``) of all AWS managed policies, from the pinned list."""
    raw = json.loads(resources.files("guardrails.data").joinpath("aws_managed_policy_arns.json").read_text("utf-8"))
    return frozenset(arn.split(":policy/", 1)[1] for arn in raw["arns"])


@cache
def region_facts() -> dict[str, list[str]]:
    return yaml.safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))


def build_model(loaded: LoadedBlueprint) -> Model:
    """Resolve and check; raises :class:`BlueprintError` listing every problem."""
    model = Model(source=loaded)
    problems: list[Diagnostic] = []
    _resolve_tree(model, problems)
    _check_regions(model, problems)
    _resolve_placements(model, problems)
    _check_library(model, problems)
    _check_references(model, problems)
    _check_statements(model, problems)
    _check_guardrail_refs(model, problems)
    _check_organization_rules(model, problems)
    _check_access_tests(model, problems)
    _check_control_tower(model, problems)
    _check_security(model, problems)
    _check_identity_center(model, problems)
    _load_rollout(model, problems)
    if problems:
        raise BlueprintError(problems)
    return model


ROLLOUT_LOCK = "rollout.lock.json"


def _load_rollout(model: Model, problems: list[Diagnostic]) -> None:
    """Canary OUs exist; a rollout in progress (the lock file) is read, and only used with `rollout:` set."""
    rollout = model.blueprint.organization.rollout
    lock = model.source.directory / ROLLOUT_LOCK
    if rollout is None:
        if lock.exists():
            problems.append(Diagnostic.of("GR308", f"{ROLLOUT_LOCK} is present but the blueprint names no canary OUs",
                                          model.source.where("organization"),
                                          "add organization.rollout.canary_units, or run `guardrails rollout promote`"))
        return
    for index, path in enumerate(rollout.canary_units):
        if path not in model.units:
            problems.append(Diagnostic.of("GR301", f"unknown OU {path!r}",
                                          model.source.where("organization", "rollout", "canary_units", index),
                                          _suggest(path, set(model.units))))
    if not lock.exists():
        return
    try:
        raw = json.loads(lock.read_text(encoding="utf-8"))
        model.released = {str(p["name"]): {"type": str(p["type"]), "target": str(p["target"]),
                                           "guardrails": tuple(p.get("guardrails", ())),
                                           "intended_denials": tuple(p.get("intended_denials", ())),
                                           "document": dict(p["document"])} for p in raw["policies"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(Diagnostic.of("GR313", f"{lock.name} cannot be read: {exc}",
                                      Location(f"{model.source.display_name}/{ROLLOUT_LOCK}"),
                                      "write it again with `guardrails rollout start`, or remove it"))


def _check_control_tower(model: Model, problems: list[Diagnostic]) -> None:
    """OUs that Control Tower manages exist already (guardrails only refers to them, by id)."""
    tower = model.blueprint.organization.control_tower
    if tower is None:
        return
    for index, path in enumerate(tower.managed_units):
        where = model.source.where("organization", "control_tower", "managed_units", index)
        unit = model.units.get(path)
        if unit is None:
            problems.append(Diagnostic.of("GR301", f"unknown OU {path!r}", where, _suggest(path, set(model.units))))
        elif unit.spec.id is None:
            problems.append(Diagnostic.of("GR202", f"OU {path!r} is managed by Control Tower but has no `id`", where,
                                          "give the OU's id (ou-…) in the blueprint: guardrails refers to it and never "
                                          "creates or changes it"))


def _check_security(model: Model, problems: list[Diagnostic]) -> None:
    """The accounts `security` names exist; guardrails-managed Config recorders do not clash with Control Tower's."""
    security = model.blueprint.security
    if security is None:
        return
    named = [(("security", "log_archive", "account"), security.log_archive.account)]
    if security.config.delegated_admin is not None:
        named.append((("security", "config", "delegated_admin"), security.config.delegated_admin))
    if security.access_analyzer is not None:
        named.append((("security", "access_analyzer", "delegated_admin"), security.access_analyzer.delegated_admin))
    for path, account in named:
        info = model.accounts.get(account)
        if info is None:
            problems.append(Diagnostic.of("GR301", f"unknown account {account!r}", model.source.where(*path),
                                          _account_hint(model, account)))
        elif info.management:
            problems.append(Diagnostic.of(
                "GR311", f"{account!r} is the management account", model.source.where(*path),
                "name a member account (AWS advises against delegating administration to, or keeping logs in, "
                "the management account)"))
    if security.config.managed_by == "guardrails" and model.blueprint.organization.control_tower is not None:
        problems.append(Diagnostic.of(
            "GR311", "Control Tower already runs a Config recorder and delivery channel in its governed accounts",
            model.source.where("security", "config", "managed_by"),
            "leave `managed_by` out (it defaults to control-tower here) or set it to control-tower; a second "
            "recorder fails with MaxNumberOfConfigurationRecordersExceededException"))
    if not security.log_archive.existing and security.log_archive.kms_key_arn is not None:
        problems.append(Diagnostic.of(
            "GR311", "`kms_key_arn` is for an existing bucket", model.source.where("security", "log_archive", "kms_key_arn"),
            "set `existing: true` if the bucket exists, or drop `kms_key_arn`: guardrails creates the key with the bucket"))


def _check_identity_center(model: Model, problems: list[Diagnostic]) -> None:
    """Identity Center: references resolve, names fit, and the partition and administrator account make sense.

    Whether customer-managed references exist in every assigned account is checked on the compiled plan
    (guardrails.policies.identity_center), where the baselines of the accounts are known.
    """
    center = model.blueprint.identity_center
    if center is None:
        return
    src = model.source
    bp = model.blueprint
    partition = bp.organization.partition
    if center.instance_arn.split(":")[1] != partition:
        problems.append(Diagnostic.of("GR203", f"the Identity Center instance is in partition "
                                      f"{center.instance_arn.split(':')[1]!r}, the organization in {partition!r}",
                                      src.where("identity_center", "instance_arn"),
                                      f"write the instance ARN as arn:{partition}:sso:::instance/ssoins-…"))
    admin = center.delegated_admin
    if admin is not None:
        info = model.accounts.get(admin)
        if info is None:
            problems.append(Diagnostic.of("GR301", f"unknown account {admin!r}",
                                          src.where("identity_center", "delegated_admin"), _account_hint(model, admin)))
        elif info.management:
            problems.append(Diagnostic.of("GR311", f"{admin!r} is the management account",
                                          src.where("identity_center", "delegated_admin"),
                                          "leave `delegated_admin` out to apply from the management account, or name "
                                          "the member account registered as Identity Center delegated administrator"))
    jobs = set(bp.job_functions)
    boundaries = set(bp.permission_boundaries)
    managed = aws_managed_policy_names()
    keys: dict[str, str] = {}
    for name, spec in center.permission_sets.items():
        where = ("identity_center", "permission_sets", name)
        # Resource names are derived from the lowercased name with punctuation as "_" (policies.identity_center).
        key = re.sub(r"\W", "_", name.lower())
        if key in keys:
            problems.append(Diagnostic.of("GR302", f"permission set names {keys[key]!r} and {name!r} differ only in "
                                          "case or punctuation", src.where_key(*where), "rename one of them"))
        keys.setdefault(key, name)
        if not re.fullmatch(r"[\w+=,.@-]{1,32}", name):
            problems.append(Diagnostic.of("GR303", f"permission set name {name!r} is not valid", src.where_key(*where),
                                          "use at most 32 letters, digits and + = , . @ _ -"))
        for index, job in enumerate(spec.job_functions):
            if job not in jobs:
                problems.append(Diagnostic.of("GR301", f"unknown job function {job!r}",
                                              src.where(*where, "job_functions", index), _suggest(job, jobs)))
        for index, policy in enumerate(spec.managed_policies):
            if policy not in managed:
                problems.append(Diagnostic.of("GR309", f"{policy!r} is not an AWS managed policy",
                                              src.where(*where, "managed_policies", index),
                                              _suggest(policy, managed) or "use the name with its path"))
        if spec.boundary is not None and spec.boundary not in boundaries and spec.boundary not in managed:
            problems.append(Diagnostic.of("GR301", f"unknown permission boundary {spec.boundary!r}",
                                          src.where(*where, "boundary"),
                                          _suggest(spec.boundary, boundaries | managed)
                                          or "name a `permission_boundaries` entry or an AWS managed policy"))
        if not spec.job_functions and not spec.managed_policies:
            problems.append(Diagnostic.of("GR203", f"permission set {name!r} grants nothing", src.where_key(*where),
                                          "add job_functions or managed_policies"))
    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    for index, assignment in enumerate(center.assignments):
        where = ("identity_center", "assignments", index)
        if assignment.permission_set not in center.permission_sets:
            problems.append(Diagnostic.of("GR301", f"unknown permission set {assignment.permission_set!r}",
                                          src.where(*where, "permission_set"),
                                          _suggest(assignment.permission_set, set(center.permission_sets))))
        # One group, one id: a display name that maps to two ids (or the reverse) is a copy-paste error.
        known_id = ids.setdefault(assignment.group, assignment.group_id)
        known_name = names.setdefault(assignment.group_id.lower(), assignment.group)
        if known_id != assignment.group_id or known_name != assignment.group:
            problems.append(Diagnostic.of("GR302", f"group {assignment.group!r} ({assignment.group_id}) disagrees with "
                                          "an earlier assignment", src.where(*where, "group_id"),
                                          "each identity-store group has one display name and one id"))
        accounts = _placement_accounts(model, assignment.deploy_to, (*where, "deploy_to"), problems)
        if admin is not None and any(model.accounts[a].management for a in accounts):
            problems.append(Diagnostic.of(
                "GR311", "a delegated administrator cannot manage assignments in the management account",
                src.where(*where, "deploy_to"),
                "exclude the management account (exclude_accounts) or apply from the management account "
                "(https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin.html)"))


def _check_access_tests(model: Model, problems: list[Diagnostic]) -> None:
    """Access tests name known accounts and principals the blueprint defines (placement is checked when they run)."""
    bp = model.blueprint
    known = {"role": {s.name or k for k, s in bp.roles.items()} | {bp.organization.break_glass.role},
             "user": set(bp.users) | set(bp.organization.break_glass.users),
             "group": set(bp.groups) | {"break-glass"}}  # the break-glass users' group (synthesize.BREAK_GLASS_GROUP)
    for name, test in bp.tests.items():
        if isinstance(test.accounts, list) or test.account is not None:
            key = "accounts" if test.accounts is not None else "account"
            for index, account in enumerate(test.accounts if isinstance(test.accounts, list) else [test.account]):
                if account not in model.accounts:
                    where = ("tests", name, key, index) if key == "accounts" else ("tests", name, key)
                    problems.append(Diagnostic.of("GR301", f"unknown account {account!r}", model.source.where(*where),
                                                  _account_hint(model, str(account))))
        kind, _, principal = test.principal.partition("/")
        if kind in known and principal not in known[kind]:
            problems.append(Diagnostic.of("GR301", f"unknown {kind} {principal!r}",
                                          model.source.where("tests", name, "principal"),
                                          _suggest(principal, known[kind])))


def _account_hint(model: Model, name: str) -> str:
    """What to do about an account name that is not a usable account: it may be one still to be created."""
    if name in model.pending:
        return (f"{name!r} has no id yet: it is created first (phase 1); refer to it once its id is recorded "
                f"(`guardrails account set-id {name} ID`)")
    return _suggest(name, set(model.accounts))


def _suggest(name: str, candidates: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ("known: " + ", ".join(sorted(candidates)[:12]) if candidates else "")


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
                             (*unit_yaml, "accounts", index))
            walk(spec.units, path, depth + 1, (*unit_yaml, "units"))

    walk(org.units, "", 1, ("organization", "units"))


def _add_account(model: Model, problems: list[Diagnostic], name: str, account_id: str | None, email: str, unit: str,
                 existing: bool, yaml_path: tuple[str | int, ...]) -> None:
    for other in (*model.accounts.values(), *model.pending.values()):
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
        return
    model.accounts[name] = AccountInfo(name, account_id, email, unit, existing, False, yaml_path)


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


def _placement_accounts(model: Model, placement: Placement, yaml_path: tuple[str | int, ...],
                        problems: list[Diagnostic]) -> tuple[str, ...]:
    chosen: set[str] = set()
    reported = len(problems)
    if placement.all:
        chosen.update(model.member_accounts())
    for index, unit in enumerate(placement.units):
        if unit not in model.units:
            problems.append(Diagnostic.of("GR301", f"unknown OU {unit!r}", model.source.where(*yaml_path, "units", index),
                                          _suggest(unit, set(model.units))))
            continue
        chosen.update(model.accounts_in_unit(unit))
    for key in ("accounts", "exclude_accounts"):
        for index, name in enumerate(getattr(placement, key)):
            if name not in model.accounts:
                problems.append(Diagnostic.of("GR301", f"unknown account {name!r}",
                                              model.source.where(*yaml_path, key, index), _account_hint(model, name)))
    chosen.update(n for n in placement.accounts if n in model.accounts)
    chosen.difference_update(placement.exclude_accounts)
    if not chosen and len(problems) == reported:  # an unknown name above already explains an empty placement
        problems.append(Diagnostic.of("GR308", "this placement selects no account", model.source.where(*yaml_path),
                                      "name OUs with accounts, accounts, or `all: true`"))
    return tuple(sorted(chosen))


def _resolve_placements(model: Model, problems: list[Diagnostic]) -> None:
    bp = model.blueprint
    for section in ("groups", "users", "roles"):
        for name, entry in getattr(bp, section).items():
            model.placements[(section, name)] = _placement_accounts(model, entry.deploy_to, (section, name, "deploy_to"), problems)


def _check_references(model: Model, problems: list[Diagnostic]) -> None:
    bp = model.blueprint
    src = model.source
    org = bp.organization
    jobs = set(bp.job_functions)
    managed = aws_managed_policy_names()
    if org.break_glass.account not in model.accounts:
        problems.append(Diagnostic.of("GR301", f"unknown break-glass account {org.break_glass.account!r}",
                                      src.where("organization", "break_glass", "account"), _account_hint(model, org.break_glass.account)))
    for name, job in bp.job_functions.items():
        for index, policy in enumerate(job.managed_policies):
            if policy not in managed:
                with_path = sorted(m for m in managed if m.endswith("/" + policy))
                hint = f"did you mean `{with_path[0]}`? (job-function policies carry their path)" if with_path else (
                    _suggest(policy, managed) or "use the name as in the IAM console, with its path (job-function/…)")
                problems.append(Diagnostic.of("GR309", f"{policy!r} is not an AWS managed policy",
                                              src.where("job_functions", name, "managed_policies", index), hint))
        if not job.statements and not job.managed_policies and not job.grants and job.library is None:
            problems.append(Diagnostic.of("GR203", f"job function {name!r} grants nothing", src.where_key("job_functions", name),
                                          "add statements or managed_policies"))
    for section in ("groups", "roles"):
        for name, entry in getattr(bp, section).items():
            for index, job in enumerate(entry.job_functions):
                if job not in jobs:
                    problems.append(Diagnostic.of("GR301", f"unknown job function {job!r}",
                                                  src.where(section, name, "job_functions", index), _suggest(job, jobs)))
    users_in_groups: set[str] = set()
    for name, group in bp.groups.items():
        for index, member in enumerate(group.members):
            if member not in bp.users:
                problems.append(Diagnostic.of("GR301", f"unknown user {member!r}", src.where("groups", name, "members", index),
                                              _suggest(member, set(bp.users)) or "define the user under `users:`"))
                continue
            users_in_groups.add(member)
            missing = set(model.placements[("users", member)]) - set(model.placements[("groups", name)])
            if missing:
                problems.append(Diagnostic.of("GR308", f"user {member!r} is placed in {', '.join(sorted(missing))} where group {name!r} is not",
                                              src.where("groups", name, "members", index),
                                              "place the group wherever its members are, or narrow the user's deploy_to"))
    for name in bp.users:
        if name not in users_in_groups:
            problems.append(Diagnostic.of("GR311", f"user {name!r} is in no group", src.where_key("users", name),
                                          "users get permissions only through groups (CIS 1.15); add it to a group's members"))
        if name in org.break_glass.users:
            problems.append(Diagnostic.of("GR302", f"user {name!r} is also a break-glass user", src.where_key("users", name),
                                          "break-glass users are generated from organization.break_glass; remove this entry"))
    providers_oidc = set(bp.identity_providers.oidc)
    providers_saml = set(bp.identity_providers.saml)
    for name, saml in bp.identity_providers.saml.items():
        path = model.source.directory / saml.metadata_file
        where_file = src.where("identity_providers", "saml", name, "metadata_file")
        if not path.is_file():
            problems.append(Diagnostic.of("GR313", f"SAML metadata file {saml.metadata_file!r} not found", where_file,
                                          "give a path relative to the blueprint directory"))
        elif not 1000 <= len(path.read_text(encoding="utf-8")) <= 10_000_000:
            problems.append(Diagnostic.of("GR313", f"SAML metadata file {saml.metadata_file!r} is not IdP metadata "
                                          "(AWS accepts 1,000 to 10,000,000 characters)", where_file,
                                          "download the full metadata XML from your identity provider"))
    boundaries = set(bp.permission_boundaries)
    names_seen: dict[str, tuple[str, ...]] = {}
    reserved = {org.break_glass.role.lower(): ("organization", "break_glass", "role")}
    for key, role in bp.roles.items():
        role_name = role.name or key
        where_role = ("roles", key)
        lowered = role_name.lower()
        if lowered in reserved or lowered in names_seen:
            problems.append(Diagnostic.of("GR302", f"role name {role_name!r} is used twice (IAM names are case-insensitive)",
                                          src.where_key(*where_role), "give the role a unique `name`"))
        names_seen[lowered] = where_role
        if len(role.path) - 1 + len(role_name) > 64 and role.path != "/":
            problems.append(Diagnostic.of("GR320", f"role {role_name!r}: path and name exceed 64 characters",
                                          src.where_key(*where_role), "console switch-role needs path + name ≤ 64"))
        if role.boundary is not None and role.boundary not in boundaries:
            problems.append(Diagnostic.of("GR301", f"unknown permission boundary {role.boundary!r}",
                                          src.where("roles", key, "boundary"), _suggest(role.boundary, boundaries)))
        trust = role.trust
        federated = bool(trust.github_oidc or trust.oidc or trust.saml)
        if trust.require_mfa and not (trust.accounts or trust.organization):
            problems.append(Diagnostic.of(
                "GR307", f"role {key!r} requires MFA but is trusted only by {'federated identities' if federated else 'AWS services'}",
                src.where("roles", key, "trust", "require_mfa"),
                "SAML, OIDC and Identity Center sessions carry no aws:MultiFactorAuthPresent: enforce MFA at the "
                "identity provider and remove require_mfa" if federated else "services never use MFA: remove require_mfa"))
        if trust.github_oidc and trust.github_oidc.provider not in providers_oidc:
            problems.append(Diagnostic.of("GR301", f"unknown OIDC provider {trust.github_oidc.provider!r}",
                                          src.where("roles", key, "trust", "github_oidc"),
                                          "declare it under identity_providers.oidc (url https://token.actions.githubusercontent.com)"))
        if trust.oidc and trust.oidc.provider not in providers_oidc:
            problems.append(Diagnostic.of("GR301", f"unknown OIDC provider {trust.oidc.provider!r}",
                                          src.where("roles", key, "trust", "oidc", "provider"), _suggest(trust.oidc.provider, providers_oidc)))
        if trust.saml and trust.saml.provider not in providers_saml:
            problems.append(Diagnostic.of("GR301", f"unknown SAML provider {trust.saml.provider!r}",
                                          src.where("roles", key, "trust", "saml", "provider"), _suggest(trust.saml.provider, providers_saml)))
        for index, account_trust in enumerate(trust.accounts):
            if account_trust.account not in model.accounts and not re.fullmatch(r"\d{12}", account_trust.account):
                problems.append(Diagnostic.of("GR301", f"unknown account {account_trust.account!r}",
                                              src.where("roles", key, "trust", "accounts", index, "account"),
                                              _account_hint(model, account_trust.account) or "use an account name or a 12-digit id"))
    group_names: dict[str, str] = {"break-glass": "generated break-glass group"}
    for key in bp.groups:
        if key.lower() in group_names:
            problems.append(Diagnostic.of("GR302", f"group name {key!r} is reserved or used twice", src.where_key("groups", key),
                                          "rename the group"))
        group_names[key.lower()] = key
        if not re.fullmatch(r"[\w+=,.@-]{1,128}", key):
            problems.append(Diagnostic.of("GR303", f"group name {key!r} is not a valid IAM name", src.where_key("groups", key),
                                          "use letters, digits and + = , . @ _ -"))
    for key in list(bp.users) + list(bp.job_functions) + list(bp.permission_boundaries):
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", key):
            problems.append(Diagnostic.of("GR303", f"name {key!r} is not a valid IAM name", Location(src.display_name),
                                          "use 1–64 letters, digits and + = , . @ _ -"))


def iter_statements(bp: Blueprint) -> list[tuple[tuple[str | int, ...], Statement]]:
    """Every explicit statement of the blueprint with its YAML path."""
    found: list[tuple[tuple[str | int, ...], Statement]] = []
    for name, job in bp.job_functions.items():
        found += [(("job_functions", name, "statements", i), s) for i, s in enumerate(job.statements)]
    for name, boundary in bp.permission_boundaries.items():
        found += [(("permission_boundaries", name, "statements", i), s) for i, s in enumerate(boundary.statements)]

    def scps(scp_list: list, base: tuple[str | int, ...]) -> None:
        for i, scp in enumerate(scp_list):
            found.extend(((*base, i, "statements", j), s) for j, s in enumerate(scp.statements))

    org = bp.organization
    scps(org.scps, ("organization", "scps"))

    def walk(units: dict[str, OrgUnit], base: tuple[str | int, ...]) -> None:
        for name, unit in units.items():
            scps(unit.scps, (*base, name, "scps"))
            for index, account in enumerate(unit.accounts):
                scps(account.scps, (*base, name, "accounts", index, "scps"))
            walk(unit.units, (*base, name, "units"))

    walk(org.units, ("organization", "units"))
    return found


def _check_statements(model: Model, problems: list[Diagnostic]) -> None:
    src = model.source
    for path, statement in iter_statements(model.blueprint):
        if statement.sid is not None and not re.fullmatch(r"[A-Za-z0-9]+", statement.sid):
            problems.append(Diagnostic.of("GR203", f"Sid {statement.sid!r} may hold only letters and digits",
                                          src.where(*path, "sid"), "IAM rejects other characters in Sid"))
        for element in ("resources", "not_resources"):
            for index, value in enumerate(getattr(statement, element) or []):
                for name in _PLACEHOLDER.findall(value):
                    if name not in SUBSTITUTIONS and not _POLICY_VARIABLE.match(name):
                        problems.append(Diagnostic.of(
                            "GR306", f"unknown substitution ${{{name}}}", src.where(*path, element, index),
                            _suggest(name, set(SUBSTITUTIONS)) or f"use one of {', '.join('${' + s + '}' for s in SUBSTITUTIONS)}"
                            " or an IAM policy variable such as ${aws:username}"))
                if value.startswith("arn:aws:") or value.startswith("arn:aws-"):
                    problems.append(Diagnostic.of("GR306", "partition written literally in an ARN", src.where(*path, element, index),
                                                  "write arn:${partition}:… so the blueprint works in every partition"))


def guardrail_attachments(bp: Blueprint) -> list[tuple[str, tuple[str | int, ...], list]]:
    """(target, YAML path of the attachment list's owner, catalog refs) for root, every OU and account."""
    org = bp.organization
    found: list[tuple[str, tuple[str | int, ...], list]] = [("root", ("organization",), org.guardrails)]

    def walk(units: dict[str, OrgUnit], parent: str, base: tuple[str | int, ...]) -> None:
        for name, unit in units.items():
            path = f"{parent}/{name}" if parent else name
            found.append((f"ou:{path}", (*base, name), unit.guardrails))
            for index, account in enumerate(unit.accounts):
                found.append((f"account:{account.name}", (*base, name, "accounts", index), account.guardrails))
            walk(unit.units, path, (*base, name, "units"))

    walk(org.units, "", ("organization", "units"))
    return found


def _check_guardrail_refs(model: Model, problems: list[Diagnostic]) -> None:
    """Catalog references: known ids, once per target, parameters that exist and whose values fit their type
    (regions, ARNs, account and organization ids, action names), each error at the value."""
    known = catalog.load_catalog()
    bp = model.blueprint
    org = bp.organization
    # The same context values synthesize passes (catalog.CONTEXT_KEYS), as far as the checks here need them.
    context = {"allowed_regions": tuple(org.allowed_regions), "privileged_roles": (org.break_glass.role,),
               "org_id": (org.id,),
               "boundary_policies": tuple(sorted(policy_arn("${partition}", "*", "/guardrails/", b.name or key)
                                                 for key, b in bp.permission_boundaries.items()))}
    regions = set(region_facts()["records_global_iam"]) | set(region_facts()["launched_later"])
    accounts = {name: info.id for name, info in model.accounts.items() if info.id}
    for _target, owner, refs in guardrail_attachments(bp):
        seen: set[str] = set()
        for index, ref in enumerate(refs):
            where = (*owner, "guardrails", index)
            if isinstance(ref, dict) and len(ref) != 1:
                problems.append(Diagnostic.of("GR203", "a guardrail with parameters is a mapping with exactly one key",
                                              model.source.where(*where), "write `- region-restriction: {allowed_regions: [...]}`"))
                continue
            guardrail_id, given = (ref, {}) if isinstance(ref, str) else next(iter(ref.items()))
            if guardrail_id not in known:
                problems.append(Diagnostic.of("GR301", f"unknown guardrail {guardrail_id!r}", model.source.where(*where),
                                              (_suggest(guardrail_id, set(known)) + " — `guardrails catalog` lists them").lstrip(" —")))
                continue
            if guardrail_id in seen:
                problems.append(Diagnostic.of("GR302", f"guardrail {guardrail_id!r} is attached twice here",
                                              model.source.where(*where), "remove one"))
            seen.add(guardrail_id)
            guardrail = known[guardrail_id]
            try:
                values = catalog.resolve_parameters(guardrail, given or {}, context)
            except catalog.ParameterError as exc:
                at = (*where, guardrail_id, exc.parameter) if exc.parameter else where
                problems.append(Diagnostic.of("GR203", str(exc), model.source.where_key(*at), exc.hint))
                continue
            # Defaults are the catalog's own (checked by tests/test_catalog.py); only given values are checked.
            # Action names are checked against the IAM database in the policies stage (guardrails.policies.names).
            for name in sorted(given or {}, key=list(guardrail.parameters).index):
                spec = guardrail.parameters[name]
                listed = isinstance(given[name], list)
                for position, message, hint in catalog.value_problems(spec, values[name], regions=regions,
                                                                      accounts=accounts, partition=org.partition):
                    at = (*where, guardrail_id, name, position) if listed else (*where, guardrail_id, name)
                    code = "GR310" if spec.type == "regions" else "GR203"
                    problems.append(Diagnostic.of(code, f"{message} (parameter {name!r} of {guardrail_id!r})"
                                                  if code == "GR203" else message, model.source.where(*at), hint))


def _check_organization_rules(model: Model, problems: list[Diagnostic]) -> None:
    """Rules of Organizations that the outputs could not honour if the blueprint broke them."""
    bp = model.blueprint
    src = model.source
    for path, statement in iter_statements(bp):
        if path[0] != "organization":
            continue
        text = " ".join([*(statement.resources or []), *(statement.not_resources or [])])
        for placeholder in ("${account_id}", "${region}"):
            if placeholder in text:
                problems.append(Diagnostic.of(
                    "GR306", f"{placeholder} cannot be used in an SCP", src.where(*path),
                    "an SCP is one document for many accounts and regions: use `*` or the aws:PrincipalAccount / "
                    "aws:RequestedRegion condition keys"))
    for unit in model.units.values():
        parent = model.units.get(unit.parent)
        if unit.spec.id and parent is not None and not parent.spec.id:
            problems.append(Diagnostic.of(
                "GR308", f"OU {unit.path!r} exists (id {unit.spec.id}) but its parent {parent.path!r} would be created",
                src.where("organization", "units", *_unit_yaml(unit.path), "id"),
                "an existing OU cannot move under a new one: give the parent OU its existing id too"))
    if bp.organization.partition == "aws-us-gov":
        for account in model.accounts.values():
            if not account.management and not account.existing:
                problems.append(Diagnostic.of(
                    "GR311", f"GovCloud account {account.name!r} must be marked existing",
                    src.where(*account.yaml_path, "name"),
                    "GovCloud accounts are created from the commercial partition (CreateGovCloudAccount): create it "
                    "there, then set `existing: true`"))


def _unit_yaml(path: str) -> list[str]:
    out: list[str] = []
    for index, part in enumerate(path.split("/")):
        if index:
            out.append("units")
        out.append(part)
    return out
