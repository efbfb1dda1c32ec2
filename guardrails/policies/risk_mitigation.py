"""The one judge of whether a risky grant is made safe, used by the build (one statement of a policy) and by
``guardrails diff`` (one grant of the effective permissions): a condition key of the rule under a positive operator,
resources limited to role paths or to the caller's own user, or specific resources instead of a whole service."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from guardrails.iam.actions import has_wildcard, iam_database
from guardrails.iam.arns import parse_arn
from guardrails.policies.ir import Statement
from guardrails.policies.risk_rules import Mitigations

# Operators under which a required condition key really restricts the request (no IfExists: an absent
# key would pass; no set qualifier: ForAllValues passes on an empty set).
POSITIVE_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})
# ARN variables that do not narrow what a resource names.
_PLACE_VARIABLES = frozenset({"partition", "region", "account"})
# The policy variable of the caller's own user name
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
OWN_USER_NAME = "${aws:username}"


def wildcard_only(value: str) -> bool:
    return bool(re.fullmatch(r"[*?/:]+", value))


Clause = tuple[str, str, tuple[str, ...]]  # operator, key, values


def positive_condition(conditions: Iterable[Clause], key: str) -> Clause | None:
    for operator, name, values in conditions:
        if (name.lower() == key.lower() and operator in POSITIVE_OPERATORS
                and values and not any(wildcard_only(v) for v in values)):
            return operator, name, values
    return None


def mitigation_reason(rules: Mitigations, resources: tuple[str, ...], conditions: Iterable[Clause], *,
                      not_resource: bool = False) -> str | None:
    """The one judge of a risky grant, used by the build (one statement) and by ``guardrails diff`` (one grant of
    the effective permissions): why the grant is safe, or None. A condition key of the rule with a positive
    operator and a real value; resources limited to role paths, to the caller's own user (any path: user names
    are unique in an account), or to specific resources. NotResource never mitigates."""
    conditions = tuple(conditions)
    for key in rules.conditions:
        found = positive_condition(conditions, key)
        if found is not None:
            operator, name, values = found
            return f"requires {name} ({operator} {', '.join(values)})"
    bounded = bool(resources) and not not_resource
    if rules.role_path and bounded and role_path_only(resources):
        return f"limited to role path(s) {', '.join(resources)}"
    if rules.self_only and bounded and all(own_user_only(r) for r in resources):
        return "limited to the caller's own user"
    if rules.scoped_resources and bounded and not any(service_wide(r) for r in resources):
        return f"limited to {', '.join(resources)}"
    return None


@cache
def _arn_formats(service: str) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Regexes of the service's resource ARN formats, with the names of their variables."""
    info = iam_database().service(service)
    if info is None:
        return ()
    out = []
    for resource_type in info.resource_types.values():
        pieces = re.split(r"\$\{([^}]+)\}", resource_type.arn)
        regex, names = "", []
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                regex += re.escape(piece)
            elif piece.lower() in _PLACE_VARIABLES:
                regex += "[^:]*"
            else:
                regex += "(.+)"
                names.append(piece)
        out.append((re.compile(regex + r"\Z", re.DOTALL), tuple(names)))
    return tuple(out)


def service_wide(resource: str) -> bool:
    """Does the resource name everything of its kind (``*``, ``arn:aws:s3:::*/*``, ``…:role/*``)?"""
    if wildcard_only(resource):
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    name = parts[5]
    if not name or wildcard_only(name):
        return True
    for regex, _ in _arn_formats(parts[2].lower()):
        match = regex.match(resource)
        if match and match.groups() and all(wildcard_only(g) for g in match.groups()):
            return True
    return False


def _iam_resource(resource: str, *, ignore_case: bool) -> str | None:
    """The resource part of an IAM ARN (``role/path/name``, ``user/…``), or None for anything else."""
    parsed = parse_arn(resource)
    if parsed is None or not parsed.partition or parsed.region:
        return None
    if (parsed.service.lower() if ignore_case else parsed.service) != "iam":
        return None
    return parsed.resource


def role_path_only(resources: tuple[str, ...]) -> bool:
    """Does every resource name roles under a path or name that does not start with a wildcard?"""
    def named_roles(resource: str) -> bool:
        part = _iam_resource(resource, ignore_case=False)
        return part is not None and part.startswith("role/") and part[5:6] not in ("", "*", "?")

    return bool(resources) and all(named_roles(r) for r in resources)


def own_user_only(resource: str) -> bool:
    """Is the resource the caller's own IAM user (``user/${aws:username}``, under any path without wildcards)?
    User names are unique in an account whatever the path."""
    part = _iam_resource(resource, ignore_case=True)
    if part is None or not part.lower().startswith("user/") or not part.lower().endswith(OWN_USER_NAME):
        return False
    path = part[len("user/"):len(part) - len(OWN_USER_NAME)]
    return path == "" or (len(path) > 1 and path.endswith("/") and not has_wildcard(path))


def statement_mitigation(rules: Mitigations, statement: Statement, actions: Sequence[str]) -> tuple[bool, str]:
    """Is the grant made safe by the statement's conditions or resources? With the reason either way."""
    clauses = [(c.operator, c.key, c.values) for c in statement.conditions]
    reason = mitigation_reason(rules, statement.resources or statement.not_resources, clauses,
                               not_resource=bool(statement.not_resources))
    if reason is None:
        return False, _unmitigated_reason(rules, statement)
    key = next((k for k in rules.conditions if positive_condition(clauses, k) is not None), None)
    if key is not None:
        db = iam_database()
        unsupported = [a for a in actions if (i := db.action(a)) is not None
                       and key.lower() not in {k.lower() for k in i.condition_keys}]
        if unsupported:
            reason += f"; {', '.join(unsupported)} never carry this key, so the statement never allows them"
    return True, reason


def _unmitigated_reason(rules: Mitigations, statement: Statement) -> str:
    where = (f"NotResource {', '.join(statement.not_resources)}" if statement.not_resources
             else ", ".join(statement.resources) or "no Resource")
    return f"granted on {where}; would be safe if {mitigation_hint(rules)}"


def mitigation_hint(rules: Mitigations) -> str:
    """What would make a grant under this rule safe, in words."""
    options = [f"a Condition required {key}" for key in rules.conditions]
    if rules.role_path:
        options.append("Resource were limited to a role path (e.g. role/workload/*)")
    if rules.self_only:
        options.append("Resource were the caller's own user (user/${aws:username})")
    if rules.scoped_resources:
        options.append("Resource named specific resources instead of the whole service")
    return " or ".join(options) if options else "a Deny in the same policy removed it (nothing else makes it safe)"

