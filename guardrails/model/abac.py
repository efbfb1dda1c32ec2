"""Job functions whose resource names follow a principal tag (ABAC): `name_prefix: "${aws:PrincipalTag/team}-"`.

IAM replaces ``${aws:PrincipalTag/KEY}`` in a Resource with the caller's tag value, so one job function serves
every team: a caller tagged ``team=shop`` reaches ``shop-*``. Whoever can set that tag on their own principal can
reach any team's resources, so the job function denies it: creating or tagging roles and users with the key, and
passing it as a session tag (session tags override the principal's own, https://docs.aws.amazon.com/IAM/latest/
UserGuide/id_session-tags.html). The pattern is the IAM User Guide's ABAC tutorial's
(https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_attribute-based-access-control.html) and that of the
catalog's deny-iam-users-except-tagged guardrail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from guardrails.blueprint.schema import Grant, Statement

_TAG = re.compile(r"\$\{aws:PrincipalTag/([^}]+)\}", re.IGNORECASE)
TAG_ACTIONS = ("iam:CreateRole", "iam:CreateUser", "iam:TagRole", "iam:TagUser", "iam:UntagRole", "iam:UntagUser",
               "sts:TagSession")


def name_tags(grants: Iterable[Grant], statements: Iterable[Statement]) -> list[str]:
    """Principal tag keys the Allow grants and statements name resources with (in order, each once)."""
    resources = [r for g in grants for r in g.resources]
    resources += [r for s in statements if s.effect == "Allow" for r in (*(s.resources or ()), *(s.not_resources or ()))]
    return list(dict.fromkeys(match.group(1) for r in resources for match in _TAG.finditer(r)))


def protect_name_tags(keys: list[str]) -> tuple[Statement, ...]:
    """One Deny: no principal of the job function sets or removes these tag keys anywhere."""
    if not keys:
        return ()
    return (Statement(
        sid="DenyChangingTheNameTags", effect="Deny", actions=list(TAG_ACTIONS), resources=["*"],
        conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted(keys, key=str.lower)}}),)
