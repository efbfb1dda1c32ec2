"""Cohorts: accounts whose principals the diff decides once (same class, SCP path and permission sets).

Within a cohort a principal's documents, boundary and Denies are the same text; only the account ID differs, in
the request context (``aws:PrincipalArn``, ``aws:PrincipalAccount``) and in ``${account_id}``. A Deny whose
principal-fixed clauses cannot tell one account ID from another decides alike in every account of the cohort,
so the diff analyses one account and lists the others with it; any other Deny is decided account by account.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from guardrails.review.statements import _PRINCIPAL_KEYS

if TYPE_CHECKING:
    from guardrails.review.statements import Clause, _Stmt

# Context keys whose value holds the account ID (the rest of _PRINCIPAL_KEYS is the same in every account).
_HOLD_ACCOUNT_ID = frozenset({"aws:principalarn", "aws:principalaccount"})
# Operator families compared as text: a value without digits, ``?`` or variables matches a principal's ARN or
# account ID alike whatever its 12 digits are (they can only fall under a ``*``).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
_TEXT_OPERATORS = ("String", "Arn")
_SET_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")
_IF_EXISTS = "IfExists"


@cache
def _clause_invariant(clause: Clause) -> bool:
    """Does the clause decide alike for a principal in every account of a cohort?"""
    operator, key, values = clause
    lowered = key.lower()
    if lowered not in _PRINCIPAL_KEYS and not lowered.startswith("aws:principaltag/"):
        return True  # not decided statically: kept as written, whatever the account
    if any("$" in v for v in values):
        return False  # ${account_id} or a policy variable: the value itself depends on the account
    if lowered not in _HOLD_ACCOUNT_ID:
        return True  # the context value is the same in every account of a cohort
    for qualifier in _SET_QUALIFIERS:
        operator = operator.removeprefix(qualifier)
    base = operator.removesuffix(_IF_EXISTS)
    if base not in ("Bool", "Null") and not base.startswith(_TEXT_OPERATORS):
        return False
    return not any(c.isdigit() or c == "?" for v in values for c in v)


@cache
def account_invariant(statement: _Stmt) -> bool:
    """Does the Deny decide alike for a principal in every account of a cohort?"""
    return all(_clause_invariant(c) for c in statement.conditions)
