"""Principals of accounts outside the organization: ``external:123456789012/role/Name``, ``…/user/Name``,
``…/root``.

Their own side — identity policies, permissions boundary, the SCPs of whatever organization they belong to — is not
in the plan, so whatever depends on it is ``unknown`` (``PolicySet.caller_unknown``). What the plan decides stays
decided: a role trust policy that does not trust them, a resource policy of the plan that does not allow them, an RCP
of the resource's account that denies them. Across accounts both sides must allow
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html), so a deny
on the plan's side settles the request whatever the other side says.

In a test or ``explain`` the account (``account:``/``--account``) names the organization account the request goes to:
``${account_id}`` in the resource is that account, and an S3 bucket ARN (which names no account) is taken to be there.
"""

from __future__ import annotations

import re

from guardrails.evaluation.engine import Caller
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.arns import arn, role_arn, root_arn, user_arn

PRINCIPAL = "external"
PREFIX = "external:"
FORM = "external:123456789012/role/NAME, external:123456789012/user/NAME or external:123456789012/root"
_PATTERN = re.compile(r"(?P<account>\d{12})/(?:(?P<root>root)|(?P<kind>role|user)/(?P<name>[\w+=,.@/-]+))")
SESSION_NAME = "guardrails"


def parse(name: str) -> tuple[str, str, str]:
    """``123456789012/role/Name`` → (account id, "role" | "user" | "root", name with path or "")."""
    match = _PATTERN.fullmatch(name)
    if match is None:
        raise EvaluationError(f"external principal {PREFIX + name!r} is not one of {FORM}")
    if match["root"]:
        return match["account"], "root", ""
    return match["account"], match["kind"], match["name"]


def caller(partition: str, name: str) -> Caller:
    """The principal as AWS sees it (a role as a session of it)."""
    account, kind, principal = parse(name)
    if kind == "root":
        account_root = root_arn(partition, account)
        return Caller("root", account_root, account, account_root)
    if kind == "user":
        user = user_arn(partition, account, principal)
        return Caller("user", user, account, user)
    role = role_arn(partition, account, principal)
    session = arn(partition, "sts", "", account, f"assumed-role/{principal.rsplit('/', 1)[-1]}/{SESSION_NAME}")
    return Caller("role", role, account, session)


def unknown_side(caller_: Caller) -> str:
    """Why the caller's own policies are unknown."""
    return (f"{caller_.principal_arn} is in account {caller_.account}, outside the organization: its identity "
            "policies, permissions boundary and SCPs are not in the plan")


def refuse_member(account_id: str, member: str | None) -> None:
    """An external principal must be outside the organization."""
    if member is not None:
        raise EvaluationError(f"account {account_id} is {member}, an account of the organization: test its principals "
                              f"as role/NAME, user/NAME or root with that account, not as {PREFIX}…")
