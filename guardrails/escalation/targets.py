"""Concrete resources for the requests of the analysis: what a caller would create or act on.

An escalation method's own actions (``lambda:CreateFunction`` next to ``iam:PassRole``) act on a resource the
caller chooses. The candidates are the caller's own Allow statements for the action, their ``Resource`` patterns
made concrete in the account (a wildcard in the region or account part becomes the home region or the account, any
other ``probe``), then one ARN of the action's resource type from the pinned IAM database. A request about ``*``
would be asked for *some* resource (``guardrails.evaluation.some_resource``), where an Allow must hold for every one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guardrails.evaluation.engine import Policy
from guardrails.evaluation.organization import Account
from guardrails.evaluation.statements import action_applies, statements_of
from guardrails.iam.actions import iam_database

NAME = "guardrails-escalation-probe"
MAX_CANDIDATES = 3
_WILD = re.compile(r"[*?]")
_PLACEHOLDER = re.compile(r"\$\{[^}]+\}")


def concrete(pattern: str, account: Account, region: str, partition: str) -> str | None:
    """A resource the pattern names in the account; None for ``*`` or a pattern with policy variables."""
    if pattern == "*" or "${" in pattern:
        return None
    parts = pattern.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return _WILD.sub("x", pattern)
    parts[1] = partition if _WILD.search(parts[1]) else parts[1]
    parts[2] = _WILD.sub("x", parts[2])
    parts[3] = region if _WILD.search(parts[3]) else parts[3]
    parts[4] = account.id if _WILD.search(parts[4]) else parts[4]
    parts[5] = parts[5].replace("*", NAME, 1).replace("*", "").replace("?", "x")
    return ":".join(parts)


def database_arn(action: str, account: Account, region: str, partition: str, name: str = NAME) -> str:
    """One resource of the action's resource type (the type its name speaks of, else the first required one);
    ``*`` for an action that takes no resource."""
    info = iam_database().action(action)
    if info is None or not info.resource_types:
        return "*"
    service = iam_database().service(info.service)
    assert service is not None
    kinds = list(dict.fromkeys((*info.required_resource_types, *info.resource_types)))
    noun = info.name.lower()
    chosen = next((k for k in kinds if k.replace("-", "").lower() in noun), kinds[0])
    rtype = service.resource_types.get(chosen.lower())
    if rtype is None:
        return "*"
    text = (rtype.arn.replace("${Partition}", partition).replace("${Region}", region)
            .replace("${Account}", account.id))
    return _PLACEHOLDER.sub(name, text)


def own_resources(action: str, identity: Sequence[Policy], account: Account, region: str,
                  partition: str) -> list[str]:
    """Candidate resources for an action the caller performs on a resource of its choosing."""
    found: list[str] = []
    for policy in identity:
        for statement in statements_of(policy):
            if statement["Effect"] != "Allow" or not action_applies(statement, action):
                continue
            raw = statement.get("Resource", "*")
            for pattern in [raw] if isinstance(raw, str) else raw:
                resource = concrete(str(pattern), account, region, partition)
                if resource is not None:
                    found.append(resource)
    generic = database_arn(action, account, region, partition)
    specific = [r for r in dict.fromkeys(found) if r != generic]
    return [*specific[:MAX_CANDIDATES - 1], generic]
