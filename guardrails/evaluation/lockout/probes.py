"""The requests a probe makes: role sessions, their request context, and the candidate actions and resources
read from a Deny statement (expanded against the IAM action database, made concrete in the account)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardrails.evaluation.engine import Caller, Request
from guardrails.evaluation.lockout.facts import MAX_ACTIONS, MFA_KEYS, PER_PATTERN, REPRESENTATIVE_ACTIONS
from guardrails.evaluation.lockout.statements import element
from guardrails.evaluation.matching import has_variables, resource_matches, substitute_variables
from guardrails.iam.actions import action_matches
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.iam.actions import iam_database
from guardrails.iam.arns import arn, arn_account, role_arn

Chosen = Mapping[str, tuple[str, ...] | None]  # request keys the proof sets (None: the key is absent)


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

    def actions(self, statement: Mapping[str, Any], excluded: Sequence[str]) -> list[str]:
        """Candidate actions of a statement: its literal actions, a few from each wildcard, or for ``NotAction``
        representative actions outside it; ``excluded`` (intended denials) left out."""
        out: list[str] = []
        if "Action" in statement:
            for pattern in element(statement, "Action"):
                if pattern == "*":
                    out += REPRESENTATIVE_ACTIONS
                elif "*" not in pattern and "?" not in pattern:
                    out.append(pattern)
                else:
                    names = [a.full_name for a in self.db.expand(pattern)]
                    out += _sample(names, PER_PATTERN) or [pattern.replace("*", "Guardrails").replace("?", "X")]
        else:
            nots = element(statement, "NotAction")
            out = [a for a in REPRESENTATIVE_ACTIONS if not any(action_matches(n, a) for n in nots)]
            if not out:
                for prefix in self.db.services():
                    found = next((f"{prefix}:{self.db.service(prefix).actions[k].name}"  # type: ignore[union-attr]
                                  for k in sorted(self.db.service(prefix).actions)  # type: ignore[union-attr]
                                  if not any(action_matches(n, f"{prefix}:{k}") for n in nots)), None)
                    if found:
                        out.append(found)
                    if len(out) >= PER_PATTERN:
                        break
        kept = [a for a in dict.fromkeys(out) if not any(action_matches(e, a) for e in excluded)]
        return kept[:MAX_ACTIONS]

    def resources(self, statement: Mapping[str, Any], action: str, account: Account, region: str,
                  base: Mapping[str, tuple[str, ...]]) -> list[str]:
        """Candidate resources: the statement's own patterns made concrete, or for ``NotResource`` ``*`` and the
        action's resource type outside it."""
        if "Resource" in statement:
            patterns = element(statement, "Resource")
            if "*" in patterns:
                return ["*"]
            out = [self.concrete_arn(p, account, region, base) for p in patterns]
            return list(dict.fromkeys(r for r in out if r))
        if "NotResource" in statement:
            excluded = element(statement, "NotResource")
            candidates = ["*", *self.database_arns(action, account, region)]
            return [c for c in candidates if not any(resource_matches(p, c, base) for p in excluded)][:2]
        return ["*"]

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


def _sample(names: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` names spread over the list (first, middle, last …), deterministic."""
    if len(names) <= count:
        return list(names)
    step = (len(names) - 1) / (count - 1)
    return list(dict.fromkeys(names[round(i * step)] for i in range(count)))


def _fill(arn_format: str, partition: str, region: str, account_id: str, name: str) -> str:
    """An ARN from the IAM database's format: ``${Partition}``, ``${Region}``, ``${Account}``, and ``name`` for the
    first name placeholder (``guardrails`` for any other)."""
    text = arn_format.replace("${Partition}", partition).replace("${Region}", region).replace("${Account}", account_id)
    first = True

    def value(_: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return name
        return "guardrails"

    return re.sub(r"\$\{[^}]+\}", value, text)
