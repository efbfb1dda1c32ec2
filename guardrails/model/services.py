"""Checks of the organization-wide services: Control Tower, the security baseline, Identity Center, the rollout lock,
the intended denials of catalog guardrails."""

from __future__ import annotations

import json
import re

from guardrails.diagnostics import Diagnostic, Location
from guardrails.model.resolved import Model, _account_hint, _placement_accounts, _suggest, aws_managed_policy_names

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


def _check_intended_denials(model: Model, problems: list[Diagnostic]) -> None:
    """`organization.intended_denials` names catalog guardrails the tree attaches (run after the attachments are
    resolved): a declaration for a guardrail that is nowhere is a typo or a leftover, and would excuse nothing."""
    attached = {a.guardrail_id for a in model.attachments}
    for guardrail in model.blueprint.organization.intended_denials:
        if guardrail not in attached:
            problems.append(Diagnostic.of(
                "GR301", f"intended_denials names catalog guardrail {guardrail!r}, which is attached nowhere",
                model.source.where_key("organization", "intended_denials", guardrail),
                _suggest(guardrail, attached) or "name a guardrail attached at the root, an OU or an account"))


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
