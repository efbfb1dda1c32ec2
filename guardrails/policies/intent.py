"""Compile intent-based grants (service × access levels × resources × conditions) into statements.

Each action of the requested access levels is granted only on the given resources whose type it
supports (per the pinned IAM database). Actions that support no resource-level scoping go into
their own statement on ``"*"`` and are listed for the report, except that a grant naming resources
leaves out those that change something (see ``UNSCOPED_LEVELS_KEPT``) unless its ``include`` names
them; actions none of whose resource types match the given resources are not granted, and the report
says why. Action lists stay explicit: wildcards match actions AWS adds later, so compaction happens
only when a size limit requires it.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass

from guardrails.blueprint.schema import Grant, GrantConditions
from guardrails.policies.arn_match import can_overlap
from guardrails.iam.actions import ActionInfo, IamDatabase
from guardrails.policies.ir import ACCOUNT_ID, REGION, Condition, Statement


# A grant that names resources keeps its access levels' unscopable actions only at these levels (the
# database's spelling): they see, never change. An unscopable Write, Tagging or Permissions management action
# reaches beyond the resources the grant names (s3:CreateJob runs batch jobs on any bucket,
# s3:PutAccountPublicAccessBlock changes an account setting), so it is left out unless the grant's `include`
# names it. A grant on "*" keeps them all.
# Access levels: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand-policy-summary-access-level-summaries.html
# An empty resource-types column means `"Resource": "*"` only:
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
UNSCOPED_LEVELS_KEPT = frozenset({"List", "Read"})
# The `why` of a left-out action in CompiledGrant.not_granted (and so in JobReport.not_granted); the report
# lists these apart from the other actions not granted.
LEFT_OUT_UNSCOPED = ("supports no resource-level scoping, so it would reach beyond the grant's resources: add it "
                     "with `include` if the workload needs it")


class GrantError(ValueError):
    """A grant names something the IAM database does not know; carries a hint and the YAML sub-path."""

    def __init__(self, message: str, hint: str, path: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.hint = hint
        self.path = path


@dataclass(frozen=True)
class CompiledGrant:
    statements: tuple[Statement, ...]
    unscoped: tuple[str, ...]  # actions that support no resource-level scoping, granted on "*"
    not_granted: tuple[tuple[str, str], ...]  # (action, why); why is LEFT_OUT_UNSCOPED for a left-out action

    @property
    def left_out(self) -> tuple[str, ...]:
        """Unscopable actions that change something, left out because the grant names resources."""
        return tuple(action for action, why in self.not_granted if why == LEFT_OUT_UNSCOPED)


def resolve_resource(entry: str, service_prefix: str, db: IamDatabase, partition: str, org_id: str) -> str:
    """An ARN pattern as given (organization substitutions applied), or a resource-type name turned into
    the ARN of every resource of that type in the deploying account."""
    if entry == "*" or ":" in entry:
        return entry.replace("${partition}", partition).replace("${org_id}", org_id)
    service = db.service(service_prefix)
    assert service is not None
    resource_type = service.resource_types.get(entry.lower())
    if resource_type is None:
        close = difflib.get_close_matches(entry.lower(), sorted(service.resource_types), n=1)
        raise GrantError(f"{service_prefix} has no resource type {entry!r}",
                         f"did you mean `{close[0]}`?" if close else
                         "resource types of " + service_prefix + ": " + ", ".join(sorted(service.resource_types)[:15]),
                         ("resources",))
    arn = resource_type.arn.replace("${Partition}", partition).replace("${Account}", ACCOUNT_ID)
    arn = arn.replace("${Region}", REGION)
    return re.sub(r"\$\{(?!account_id\}|region\})[^}]+\}", "*", arn)


def grant_conditions(conditions: GrantConditions, org_id: str) -> tuple[Condition, ...]:
    """The IAM conditions a grant's conditions stand for (global condition keys, IAM User Guide)."""
    out: list[Condition] = []
    if conditions.require_mfa:
        out.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
    if conditions.mfa_max_age is not None:
        out.append(Condition("NumericLessThan", "aws:MultiFactorAuthAge", (str(conditions.mfa_max_age),)))
    if conditions.source_ips:
        out.append(Condition("IpAddress", "aws:SourceIp", tuple(sorted(conditions.source_ips))))
    if conditions.source_vpces:
        out.append(Condition("StringEquals", "aws:SourceVpce", tuple(sorted(conditions.source_vpces))))
    if conditions.requested_regions:
        out.append(Condition("StringEquals", "aws:RequestedRegion", tuple(sorted(conditions.requested_regions))))
    for key, value in sorted(conditions.principal_tags.items()):
        out.append(Condition("StringEquals", f"aws:PrincipalTag/{key}", _values(value)))
    for key, value in sorted(conditions.resource_tags.items()):
        out.append(Condition("StringEquals", f"aws:ResourceTag/{key}", _values(value)))
    for key in sorted(conditions.match_principal_tags):
        out.append(Condition("StringEquals", f"aws:ResourceTag/{key}", (f"${{aws:PrincipalTag/{key}}}",)))
    if conditions.time_window is not None:
        if conditions.time_window.after:
            out.append(Condition("DateGreaterThan", "aws:CurrentTime", (conditions.time_window.after,)))
        if conditions.time_window.before:
            out.append(Condition("DateLessThan", "aws:CurrentTime", (conditions.time_window.before,)))
    if conditions.secure_transport:
        out.append(Condition("Bool", "aws:SecureTransport", ("true",)))
    if conditions.organization_resources:
        out.append(Condition("StringEquals", "aws:ResourceOrgID", (org_id,)))
    return tuple(sorted(out))


def _values(value: str | list[str]) -> tuple[str, ...]:
    return tuple(sorted([value] if isinstance(value, str) else value))


def _supports_resource_tags(action: ActionInfo, db: IamDatabase) -> bool:
    service = db.service(action.service)
    keys = {k.lower() for k in action.condition_keys}
    if service is not None:
        for type_name in action.resource_types:
            resource_type = service.resource_types.get(type_name.lower())
            if resource_type is not None:
                keys.update(k.lower() for k in resource_type.condition_keys)
    return any(k.startswith("aws:resourcetag/") for k in keys)


def select_actions(grant: Grant, db: IamDatabase) -> list[ActionInfo]:
    """The grant's actions: its access levels of its service, plus includes, minus excludes."""
    if db.service(grant.service) is None:
        # Short prefixes tie often (s4 → ts, s3, es): prefer a candidate with the same first letter.
        candidates = difflib.get_close_matches(grant.service, db.services(), n=5, cutoff=0.5)
        close = sorted(candidates, key=lambda c: c[:1] != grant.service[:1])[:1]
        raise GrantError(f"unknown service {grant.service!r}", f"did you mean `{close[0]}`?" if close else
                         "use the IAM service prefix, e.g. s3, ec2, dynamodb", ("service",))
    chosen = {a.full_name: a for a in db.actions_with_access(grant.service, grant.access)}
    for index, pattern in enumerate(grant.include):
        found = db.expand(pattern)
        if not found:
            raise GrantError(f"include pattern {pattern!r} matches no action", _action_hint(pattern, db),
                             ("include", index))
        chosen.update((a.full_name, a) for a in found)
    for index, pattern in enumerate(grant.exclude):
        found = db.expand(pattern)
        if not found:
            raise GrantError(f"exclude pattern {pattern!r} matches no action", _action_hint(pattern, db),
                             ("exclude", index))
        for action in found:
            chosen.pop(action.full_name, None)
    return sorted(chosen.values(), key=lambda a: a.full_name)


def included_actions(grant: Grant, db: IamDatabase) -> set[str]:
    """The actions the grant's `include` patterns name (select_actions checks that each names one)."""
    return {a.full_name for pattern in grant.include for a in db.expand(pattern)}


def _action_hint(pattern: str, db: IamDatabase) -> str:
    prefix, _, name = pattern.partition(":")
    service = db.service(prefix)
    if service is None:
        close = difflib.get_close_matches(prefix.lower(), db.services(), n=1)
        return f"did you mean the service `{close[0]}`?" if close else "unknown service prefix"
    names = [a.name for a in service.actions.values()]
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean `{prefix}:{close[0]}`?" if close else f"no action of {prefix} matches"


def compile_grant(grant: Grant, *, sid_base: str, partition: str, org_id: str, db: IamDatabase,
                  origin: str = "") -> CompiledGrant:
    """Statements granting exactly the grant's actions on the resources each supports."""
    actions = select_actions(grant, db)
    resources = []
    for index, entry in enumerate(grant.resources):
        try:
            resources.append(resolve_resource(entry, grant.service, db, partition, org_id))
        except GrantError as exc:
            raise GrantError(str(exc), exc.hint, ("resources", index)) from None
    conditions = grant_conditions(grant.conditions, org_id)
    needs_tags = bool(grant.conditions.resource_tags or grant.conditions.match_principal_tags)
    # Named resources, not "*": unscopable actions that change something need the grant's `include`.
    included = included_actions(grant, db) if "*" not in resources else None
    by_resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
    unscoped: list[str] = []
    not_granted: list[tuple[str, str]] = []
    for action in actions:
        if needs_tags and not _supports_resource_tags(action, db):
            not_granted.append((action.full_name, "cannot be limited by aws:ResourceTag"))
            continue
        if not action.resource_types:
            if (included is not None and action.access_level not in UNSCOPED_LEVELS_KEPT
                    and action.full_name not in included):
                not_granted.append((action.full_name, LEFT_OUT_UNSCOPED))
                continue
            unscoped.append(action.full_name)
            by_resources[("*",)].append(action.full_name)
            continue
        service = db.service(action.service)
        assert service is not None
        formats = [service.resource_types[t.lower()].arn for t in action.resource_types
                   if t.lower() in service.resource_types]
        matched = tuple(sorted({r for r in resources if r == "*" or any(can_overlap(r, f) for f in formats)}))
        if matched:
            by_resources[matched].append(action.full_name)
        else:
            not_granted.append((action.full_name, "none of the given resources is a "
                                + " or ".join(action.resource_types)))
    statements = []
    # Scoped statements first (sorted by resources), the "*" statement of unscopable actions last.
    ordered = sorted(by_resources.items(), key=lambda item: (item[0] == ("*",), item[0]))
    for number, (scope, names) in enumerate(ordered, start=1):
        statements.append(Statement(f"{sid_base}{number}", "Allow", actions=tuple(sorted(names)), resources=scope,
                                    conditions=conditions, origin=origin))
    return CompiledGrant(tuple(statements), tuple(unscoped), tuple(not_granted))
