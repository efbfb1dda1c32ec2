"""The requests a probe makes: role sessions, their request context, and the candidate resources read from a
Deny statement and the action's resource types (made concrete in the account)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from guardrails.evaluation.engine import Caller, Request
from guardrails.evaluation.lockout.facts import MFA_KEYS
from guardrails.evaluation.lockout.statements import element
from guardrails.evaluation.matching import has_variables, resource_matches, substitute_variables
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.iam.actions import iam_database
from guardrails.iam.arns import arn, arn_account, role_arn

Chosen = Mapping[str, tuple[str, ...] | None]  # request keys the proof sets (None: the key is absent)
# Names given to a resource of an ARN format (a NotResource pattern may name one of them, hardly both).
PROBE_NAMES = ("guardrails", "guardrails-lockout-probe")


@dataclass(frozen=True)
class Role:
    """A role session that probes the policies: concrete name (wildcards filled in) and how it is shown."""

    label: str  # "role/stacksets-exec-*"
    name: str
    path: str = "/"
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # request keys it sends (its MFA state)
    # Keys (lowercased) the adversary may not choose, besides the principal's: role sessions without MFA carry
    # aws:MultiFactorAuthPresent=false and no age; break-glass carries true, its age grows during the session.
    pinned: frozenset[str] = MFA_KEYS

    @classmethod
    def of_pattern(cls, pattern: str, label: str | None = None) -> Role:
        """A session of some role the name pattern (``path/stacksets-exec-*``) matches."""
        return cls(f"role/{pattern}" if label is None else label, concrete_name(pattern), path_of(pattern))

    def arn(self, partition: str, account_id: str) -> str:
        return role_arn(partition, account_id, f"{self.path}{self.name}")


class Requests:
    """Builds the probes' requests in one organization."""

    def __init__(self, organization: Organization) -> None:
        self.org = organization
        self.partition = organization.partition
        self.db = iam_database()

    def role_request(self, role: Role, account: Account, action: str, resource: str, chosen: Chosen) -> Request:
        """The request of a session of ``role`` in ``account``, its context as AWS fills it, then ``chosen``."""
        session = arn(self.partition, "sts", "", account.id, f"assumed-role/{role.name}/guardrails")
        caller = Caller("role", role.arn(self.partition, account.id), account.id, session)
        resource_account = arn_account(resource) or account.id
        given = {k: v for k, v in {**role.context, **chosen}.items() if v is not None}
        context, origin = self.org.request_context(caller, PrincipalSpec("role", role.name), account, action,
                                                   resource, resource_account, given)
        context = dict(context)
        for key, value in chosen.items():
            if value is None:
                context.pop(key.lower(), None)
        return Request(caller, action, resource, resource_account, context, origin)

    def base_context(self, role: Role, account: Account) -> Mapping[str, tuple[str, ...]]:
        return self.role_request(role, account, "sts:GetCallerIdentity", "*", {}).context

    def candidate_resources(self, statement: Mapping[str, Any], formats: Sequence[str] | None, account: Account,
                            region: str, base: Mapping[str, tuple[str, ...]]) -> list[str]:
        """Resources of a request the statement could apply to, for an action that authorizes resources of these
        ARN formats (none: the request's resource is ``*``) — a request always names the resources its action
        authorizes, never ``*`` when it has resource types (the Service Authorization Reference:
        https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).

        ``Resource``: for each pattern, the action's resource of a type the pattern can name (the format filled in,
        or the pattern made concrete when the format admits it). ``NotResource``: the action's resources outside
        every pattern (two names tried per format). ``formats`` None: an action the database does not know, whose
        request may name any resource (the statement's own patterns made concrete, ``*`` outside ``NotResource``)."""
        if formats is None:
            if "Resource" in statement:
                found = (self.concrete_arn(p, account, region, base) for p in element(statement, "Resource"))
                return list(dict.fromkeys(r for r in found if r))
            return ["*"]
        fills = [[_fill(f, self.partition, region, account.id, name) for name in PROBE_NAMES] for f in formats]
        if "Resource" in statement:
            out: list[str] = []
            for pattern in element(statement, "Resource"):
                if pattern == "*":
                    out += [names[0] for names in fills] or ["*"]
                    continue
                if not formats:
                    if resource_matches(pattern, "*", base):
                        out.append("*")
                    continue
                concrete = self.concrete_arn(pattern, account, region, base)
                for arn_format, names in zip(formats, fills, strict=True):
                    if resource_matches(pattern, names[0], base):
                        out.append(names[0])
                    elif concrete and _format_regex(arn_format).fullmatch(concrete):
                        out.append(concrete)
            return list(dict.fromkeys(out))
        if "NotResource" in statement:
            excluded = element(statement, "NotResource")
            candidates = [n for names in fills for n in names] or ["*"]
            outside = [c for c in candidates if not any(resource_matches(p, c, base) for p in excluded)]
            return list(dict.fromkeys(outside))
        return [names[0] for names in fills][:1] or ["*"]

    def concrete_arn(self, pattern: str, account: Account, region: str,
                     base: Mapping[str, tuple[str, ...]]) -> str | None:
        """A resource the pattern names, in the account: wildcards in the region and account parts become the
        region and the account, any other wildcard ``x``."""
        text = substitute_variables(pattern, base) if has_variables(pattern) else pattern
        if text is None:
            return None
        parts = text.split(":", 5)
        if len(parts) == 6 and parts[0] == "arn":
            wild = re.compile(r"[*?]")
            parts[1] = self.partition if wild.search(parts[1]) else parts[1]
            parts[2] = wild.sub("x", parts[2])
            parts[3] = region if wild.search(parts[3]) else parts[3]
            parts[4] = account.id if wild.search(parts[4]) else parts[4]
            parts[5] = wild.sub("x", parts[5])
            return ":".join(parts)
        return re.sub(r"[*?]", "x", text)

    def database_arns(self, action: str, account: Account, region: str,
                      objects: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Resources of the action's resource type: the class's objects of that type when given, else one ARN
        in the database's format with ``guardrails`` for every name."""
        info = self.db.action(action)
        if info is None or not info.resource_types:
            return ["*"]
        service = self.db.service(info.service)
        assert service is not None
        kinds = list(dict.fromkeys((*info.required_resource_types, *info.resource_types)))
        if objects is not None:
            for kind in kinds:
                if kind in objects:
                    rtype = service.resource_types.get(kind.lower())
                    if rtype is None:
                        continue
                    return [_fill(rtype.arn, self.partition, region, account.id, name) for name in objects[kind]]
            return []  # the class has nothing of that type: the action is not needed there
        rtype = service.resource_types.get(kinds[0].lower())
        return [_fill(rtype.arn, self.partition, region, account.id, "guardrails")] if rtype else ["*"]


def concrete_name(pattern: str) -> str:
    """A role name the pattern matches (``stacksets-exec-*`` → ``stacksets-exec-guardrails``), path stripped."""
    return re.sub(r"\?", "x", re.sub(r"\*", "guardrails", pattern.strip("/").rsplit("/", 1)[-1]))


def path_of(pattern: str) -> str:
    """The IAM path of a ``path/name`` pattern (``/`` when it has none)."""
    parts = pattern.strip("/").split("/")
    return "/" + "".join(f"{p}/" for p in parts[:-1])


@lru_cache(maxsize=8192)
def _format_regex(arn_format: str) -> re.Pattern[str]:
    """An ARN format of the database as a pattern: every ``${…}`` placeholder any text (names may hold ``/``)."""
    parts = re.split(r"\$\{[^}]+\}", arn_format)
    return re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL)


@lru_cache(maxsize=1 << 15)
def _fill(arn_format: str, partition: str, region: str, account_id: str, name: str) -> str:
    """An ARN from the IAM database's format: ``${Partition}``, ``${Region}``, ``${Account}``, and ``name`` for the
    first name placeholder (``guardrails`` for any other). Kept: the deployment proof asks the same role names of
    the same formats in every class (a pure function of its arguments)."""
    known = {"${Partition}": partition, "${Region}": region, "${Account}": account_id}
    out, first = [], True
    for index, part in enumerate(_format_parts(arn_format)):
        if index % 2 == 0:  # the text between placeholders
            out.append(part)
        elif part in known:
            out.append(known[part])
        else:
            out.append(name if first else "guardrails")
            first = False
    return "".join(out)


@lru_cache(maxsize=8192)
def _format_parts(arn_format: str) -> tuple[str, ...]:
    """The format split at its ``${…}`` placeholders, which sit at the odd positions (the deployment proof fills the
    same few hundred formats for every class: split once)."""
    return tuple(re.split(r"(\$\{[^}]+\})", arn_format))
