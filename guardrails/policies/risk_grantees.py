"""Whom a resource policy grants to, and whether that makes a risky grant safe.

In a resource policy the resource is fixed; what matters is the principal. A grant to the resource's own account
hands the decision to that account's IAM policies, which the identity-policy analysis covers
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html). A grant to
everyone (``Principal: "*"``) or to another account reaches principals no policy of this plan governs, and a grant to
an AWS service can be used by that service on behalf of any account (the confused deputy,
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html): both are safe only under a condition that
names the caller.
"""

from __future__ import annotations

from guardrails.iam.arns import parse_arn
from guardrails.policies.ir import Principal, Statement
from guardrails.policies.risk_mitigation import positive_condition

# Global condition keys that name the calling principal, its account or organization, or the resource a service
# acts for (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
CALLER_KEYS = ("aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn",
               "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceAccount", "aws:SourceArn",
               "aws:SourceVpc", "aws:SourceVpce")
_ACCOUNT_ID_DIGITS = 12


def principal_labels(statement: Statement) -> tuple[str, ...]:
    """The statement's principals as ``Kind:identifier`` (``*`` for everyone), sorted."""
    return tuple(sorted(_label(p, i) for p in statement.principals for i in p.identifiers))


def _label(principal: Principal, identifier: str) -> str:
    return "*" if principal.kind == "*" else f"{principal.kind}:{identifier}"


def _account_of(identifier: str) -> str | None:
    """The account an ``AWS`` principal belongs to: an ARN's account field (an id or the ``${account_id}``
    placeholder), or a bare account id."""
    if identifier.isdigit() and len(identifier) == _ACCOUNT_ID_DIGITS:
        return identifier
    parsed = parse_arn(identifier)
    return parsed.account if parsed is not None else None


def _grantees(statement: Statement, own_accounts: frozenset[str]) -> tuple[list[str], list[str]]:
    """(outside: everyone or other accounts, services), each as words for a reason."""
    outside: list[str] = []
    services: list[str] = []
    for principal in statement.principals:
        for identifier in principal.identifiers:
            if principal.kind == "*" or identifier == "*":
                outside.append("everyone (Principal *)")
            elif principal.kind == "Service":
                services.append(f"service {identifier}")
            elif principal.kind != "AWS" or _account_of(identifier) not in own_accounts:
                outside.append(f"{principal.kind} {identifier}")
    return sorted(set(outside)), sorted(set(services))


def grantee_mitigation(statement: Statement, own_accounts: frozenset[str]) -> tuple[bool, str]:
    """Is a resource policy's Allow safe because of whom it reaches? With the reason either way."""
    outside, services = _grantees(statement, own_accounts)
    if not outside and not services:
        return True, "granted to the resource's own account only: its IAM policies decide who may use it"
    who = ", ".join([*outside, *services])
    clauses = [(c.operator, c.key, c.values) for c in statement.conditions]
    caller = next((found for key in CALLER_KEYS if (found := positive_condition(clauses, key)) is not None), None)
    if caller is not None:
        operator, name, values = caller
        return True, f"granted to {who} only when {name} ({operator} {', '.join(values)})"
    hint = "would be safe if a Condition required aws:PrincipalOrgID, aws:SourceAccount or aws:SourceArn"
    if not outside:
        return False, f"granted to {who} without a condition on the account or resource it acts for; {hint}"
    return False, f"granted to {who} without a condition on the caller; {hint}"
