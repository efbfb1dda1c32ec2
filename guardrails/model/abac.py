"""Job functions whose grants follow a tag (ABAC) protect that tag.

Two kinds of grant depend on a tag. Resource names may follow a principal tag (`name_prefix:
"${aws:PrincipalTag/team}-"`: IAM puts the caller's tag value into the Resource), and a condition may compare a
tag (``aws:PrincipalTag/KEY``, or ``aws:ResourceTag/KEY`` equal to ``${aws:PrincipalTag/KEY}``, as the
workload-developer's EC2 statement does). Whoever can change such a tag reaches what the tag guards, so the job
function denies it:

- the principal's own tag (:data:`TAG_ACTIONS`): creating or tagging roles and users with the key, and passing it
  as a session tag (session tags override the principal's own, https://docs.aws.amazon.com/IAM/latest/UserGuide/
  id_session-tags.html);
- the resources' tag, for the services whose grants test it: their Tagging actions (from the IAM database) may set
  the key only to the caller's own value, and never touch a resource whose key holds another value. A key compared
  with fixed values may not be set or removed at all.

The pattern is the IAM User Guide's ABAC tutorial's
(https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_attribute-based-access-control.html) and that of the
catalog's deny-iam-users-except-tagged guardrail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from guardrails.blueprint.schema import Grant, Statement
from guardrails.iam.actions import IamDatabase, iam_database
from guardrails.model.catalog.entries import SESSION_TAG_ACTION, TAG_PROTECTION_ACTIONS

_TAG = re.compile(r"\$\{aws:PrincipalTag/([^}]+)\}", re.IGNORECASE)
_PRINCIPAL_KEY = re.compile(r"^aws:PrincipalTag/(.+)$", re.IGNORECASE)
_RESOURCE_KEY = re.compile(r"^([a-z0-9-]+):ResourceTag/(.+)$", re.IGNORECASE)
_OWN_VALUE = re.compile(r"^\$\{aws:PrincipalTag/([^},]+)\}$", re.IGNORECASE)
# The catalog's tag-protection actions (the same rule for its tag-based exceptions), and creating a principal
# with the tag.
TAG_ACTIONS = tuple(sorted(("iam:CreateRole", "iam:CreateUser", *TAG_PROTECTION_ACTIONS, SESSION_TAG_ACTION)))


@dataclass
class AccessTags:
    """The tag keys a job function's Allow grants and statements depend on (each in first-seen order)."""

    principal: list[str] = field(default_factory=list)
    # resource tag key → the services whose grants test it; own: compared with the caller's same tag
    own: dict[str, list[str]] = field(default_factory=dict)
    fixed: dict[str, list[str]] = field(default_factory=dict)


def _add(target: list[str], *values: str) -> None:
    target.extend(v for v in values if v not in target)


def access_tags(grants: Iterable[Grant], statements: Iterable[Statement]) -> AccessTags:
    """Which principal and resource tags the Allow grants and statements reach things by."""
    found = AccessTags()
    for grant in grants:
        _add(found.principal, *(m.group(1) for r in grant.resources for m in _TAG.finditer(r)))
        conditions = grant.conditions
        _add(found.principal, *conditions.principal_tags, *conditions.match_principal_tags)
        for key in conditions.match_principal_tags:
            _add(found.own.setdefault(key, []), grant.service)
        for key in conditions.resource_tags:
            _add(found.fixed.setdefault(key, []), grant.service)
    for statement in statements:
        if statement.effect != "Allow":
            continue
        _add(found.principal, *(m.group(1) for r in (*(statement.resources or ()), *(statement.not_resources or ()))
                                for m in _TAG.finditer(r)))
        services = sorted({a.partition(":")[0].lower() for a in statement.actions or () if ":" in a} - {"*"})
        for block in (statement.conditions or {}).values():
            for key, value in block.items():
                values = [str(v) for v in (value if isinstance(value, list) else [value])]
                _add(found.principal, *(m.group(1) for v in values for m in _TAG.finditer(v)))
                if (principal := _PRINCIPAL_KEY.match(key)) is not None:
                    _add(found.principal, principal.group(1))
                if (resource := _RESOURCE_KEY.match(key)) is None:
                    continue
                prefix, tag = resource.group(1).lower(), resource.group(2)
                where = services if prefix == "aws" else [prefix]
                own = all((m := _OWN_VALUE.match(v)) is not None and m.group(1).lower() == tag.lower() for v in values)
                _add((found.own if own else found.fixed).setdefault(tag, []), *where)
    return found


def name_tags(grants: Iterable[Grant], statements: Iterable[Statement]) -> list[str]:
    """Principal tag keys the Allow grants and statements depend on (in order, each once)."""
    return access_tags(grants, statements).principal


def _tagging_actions(services: Iterable[str], db: IamDatabase) -> list[str]:
    """The services' Tagging actions that say which tag keys they change (aws:TagKeys), sorted."""
    return sorted({a.full_name for s in services for a in db.actions_with_access(s, ["tagging"])
                   if "aws:tagkeys" in {k.lower() for k in a.condition_keys}})


def protect_access_tags(tags: AccessTags, db: IamDatabase | None = None) -> tuple[Statement, ...]:
    """The Denies that keep the tags a job function depends on out of its principals' reach."""
    db = iam_database() if db is None else db
    out: list[Statement] = []
    if tags.principal:
        out.append(Statement(
            sid="DenyChangingPrincipalTags", effect="Deny", actions=list(TAG_ACTIONS), resources=["*"],
            conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted(tags.principal, key=str.lower)}}))
    for index, (key, services) in enumerate(sorted(tags.own.items(), key=lambda item: item[0].lower())):
        actions = _tagging_actions(services, db)
        if not actions:
            continue
        suffix = str(index + 1) if index else ""
        own = f"${{aws:PrincipalTag/{key}}}"
        # Setting the key to another value (on creation too: EC2 authorizes tags of RunInstances as CreateTags).
        out.append(Statement(
            sid=f"DenyOtherTagValues{suffix}", effect="Deny", actions=actions, resources=["*"],
            conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [key]},
                        "StringNotEquals": {f"aws:RequestTag/{key}": own}}))
        # Any tagging of a resource whose key holds another value (taking over another team's resource).
        out.append(Statement(
            sid=f"DenyRetaggingOthersResources{suffix}", effect="Deny", actions=actions, resources=["*"],
            conditions={"Null": {f"aws:ResourceTag/{key}": "false"},
                        "StringNotEquals": {f"aws:ResourceTag/{key}": own}}))
        # A caller without the tag leaves the variable above unresolved, and AWS may then skip the statement
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value):
        # such a caller may not set or remove the key at all.
        out.append(Statement(
            sid=f"DenyTagKeyWithoutOwnTag{suffix}", effect="Deny", actions=actions, resources=["*"],
            conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [key]},
                        "Null": {f"aws:PrincipalTag/{key}": "true"}}))
    fixed = {k: v for k, v in tags.fixed.items() if k not in tags.own}
    actions = _tagging_actions({s for services in fixed.values() for s in services}, db)
    if fixed and actions:
        out.append(Statement(
            sid="DenyChangingResourceAccessTags", effect="Deny", actions=actions, resources=["*"],
            conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted(fixed, key=str.lower)}}))
    return tuple(out)
