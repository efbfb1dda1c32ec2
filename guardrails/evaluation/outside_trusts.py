"""Build check: a role that trusts an account outside the organization, which the plan's own RCPs would turn away.

A trust to another company's account is only useful if its principals can actually call ``sts:AssumeRole``. The
role's account enforces its RCPs on that call like on any other (RCPs apply to principals outside the organization,
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html), so an identity
perimeter (``aws:PrincipalOrgID`` must be ours) makes such a trust dead, usually by accident. This module asks the
evaluator, for every role trust naming an outside account and every account the role is deployed in, whether the
trusted principal's assume-role request (with what the trust itself requires: MFA, the external id) ends in an
explicit Deny from an RCP — or an SCP, should one apply — and reports each as GR404 at the blueprint's trust entry.
"""

from __future__ import annotations

import json
import re

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.diagnostics import Diagnostic, Location
from guardrails.evaluation.engine import Policy, StatementMatch, statements_of
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.iam.arns import parse_arn, role_arn
from guardrails.iam.documents import as_tuple, condition_values

CODE = "GR404"
# Condition operators whose first value is a request that satisfies them (what the trusted caller would send).
_SATISFIED_BY_VALUE = ("StringEquals", "StringEqualsIgnoreCase", "Bool", "ArnEquals", "NumericEquals")
TrustEntry = tuple[str, str, Location | None]  # (role name, trusted account as written, where the blueprint says so)


@dataclass(frozen=True)
class _Finding:
    role: str
    role_arn: str  # with ${account_id}, as explain takes it
    trusted: str  # principal ARN of the trust
    account_id: str
    denier: StatementMatch


def outside_trust_denials(org: Organization, entries: Iterable[TrustEntry] = ()) -> list[Diagnostic]:
    """GR404 for each (role, trusted outside principal, denying statement), its accounts listed."""
    where = {(role, account): location for role, account, location in entries}
    found: dict[tuple[str, str, str, int], list[str]] = {}
    first: dict[tuple[str, str, str, int], _Finding] = {}
    for account in sorted(org.accounts.values(), key=lambda a: a.name):
        for finding in _denials(org, account):
            key = (finding.role, finding.trusted, finding.denier.policy.name, finding.denier.index)
            found.setdefault(key, []).append(account.name)
            first.setdefault(key, finding)
    diagnostics = []
    for key, accounts in found.items():
        finding = first[key]
        denier = finding.denier
        level = f" (attached at {denier.policy.level})" if denier.policy.level else ""
        message = (f"role {finding.role} trusts {finding.trusted} in account {finding.account_id}, outside the "
                   f"organization, but {denier.policy.kind.upper()} {denier.policy.name}{level} statement "
                   f"{denier.sid or denier.index + 1} denies its sts:AssumeRole in {_accounts(accounts)}: the trust "
                   "can never be used")
        hint = (f"exempt that account in {denier.sid or denier.policy.name} (e.g. a condition on aws:PrincipalAccount) "
                "or remove the trust; `guardrails explain external:"
                f"{_principal_name(finding.trusted)} sts:AssumeRole '{finding.role_arn}' --account {accounts[0]}` "
                "shows the chain")
        diagnostics.append(Diagnostic.of(CODE, message, where.get((finding.role, finding.account_id)), hint))
    return diagnostics


def _denials(org: Organization, account: Account) -> Iterable[_Finding]:
    cls = org.class_entry(account)
    # The same for every account of the class: its roles whose trust may name a principal outside the organization
    # (usually none), found once per class, not once per account (1,000 accounts × ~40 roles).
    outside = org.memo((CODE, "class", cls.key), lambda: tuple(
        role for role in cls.roles if org.memo((CODE, role.trust), lambda: _may_trust_outside(org, role.trust))))
    for role in outside:
        document = org.document(role.trust, account)
        target = role_arn(org.partition, account.id, f"{role.path}{role.name}")
        for statement in _allows(document):
            for trusted in _outside_principals(org, statement):
                context = _satisfying_context(statement.get("Condition") or {})
                decision = org.evaluate(PrincipalSpec("external", _principal_name(trusted)), account.name,
                                        "sts:AssumeRole", target, context)
                if decision.outcome != "explicit-deny":
                    continue
                for denier in decision.deciding:
                    if denier.policy.kind in ("rcp", "scp"):
                        yield _Finding(role.name, role_arn(org.partition, "${account_id}", f"{role.path}{role.name}"),
                                       trusted, _account_of(trusted), denier)


# An AWS principal naming the deploying account itself: ``${account_id}`` as the whole value or as an ARN's account.
_OWN_ACCOUNT = re.compile(r"\$\{account_id\}|arn:[^:${}]+:iam::\$\{account_id\}:[^${}]*")


def _may_trust_outside(org: Organization, path: str) -> bool:
    """Can the trust policy at ``path`` name a principal outside the organization in some account? Decided once
    from its text before the account's values go in: a literal principal names the same account everywhere, and
    one that is the deploying account (``_OWN_ACCOUNT``) is inside it; any other placeholder is asked per account."""
    for statement in _allows(json.loads(org.files[path])):
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping):
            continue
        for value in as_tuple(principal.get("AWS")):
            if "${" in value and not _OWN_ACCOUNT.fullmatch(value):
                return True
        if _outside_principals(org, statement):  # the literal ones (the deploying account's parse to none)
            return True
    return False


def _allows(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The Allow statements of a trust policy (read by the engine's reader, which checks the grammar)."""
    return [s for s in statements_of(Policy("trust policy", "resource", document)) if s["Effect"] == "Allow"]


def _outside_principals(org: Organization, statement: Mapping[str, Any]) -> list[str]:
    """The AWS principals of a trust statement in accounts outside the organization (as ARNs)."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    found = []
    for value in as_tuple(principal.get("AWS")):
        arn = f"arn:{org.partition}:iam::{value}:root" if value.isdigit() else value
        account_id = _account_of(arn)
        if account_id and org.account_by_id(account_id) is None:
            found.append(arn)
    return found


def _account_of(arn: str) -> str:
    parsed = parse_arn(arn)
    return parsed.account if parsed and len(parsed.account) == 12 and parsed.account.isdigit() else ""


def _principal_name(arn: str) -> str:
    """``arn:aws:iam::123456789012:role/x`` → ``123456789012/role/x`` (the external principal's name)."""
    parsed = parse_arn(arn)
    assert parsed is not None
    return f"{parsed.account}/{parsed.resource}"


def _satisfying_context(block: Mapping[str, Any]) -> dict[str, list[str]]:
    """A request context that meets the trust's own equality conditions (MFA, external id …)."""
    context: dict[str, list[str]] = {}
    for operator, keys in block.items():
        if operator in _SATISFIED_BY_VALUE and isinstance(keys, Mapping):
            for key, values in keys.items():
                literal = [v for v in condition_values(values) if "${" not in v]
                if literal:
                    context[key] = literal[:1]
    return context


def _accounts(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
