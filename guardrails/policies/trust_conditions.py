"""`trust.conditions`, `trust.source_accounts` and `trust.source_arns`: conditions of a role's trust beyond the
principals, and their checks.

The condition block is IAM's grammar (operator → key → values) and is ANDed into every statement of the trust.
Its names are checked as the statements' are (:mod:`guardrails.policies.names`: operators with their ``IfExists``
suffix and set qualifier; keys among the global keys, AWS STS keys, SAML keys and the claims of the OIDC providers
the statement trusts), then what IAM would accept silently but never match:

* a set qualifier on a single-valued global key (``ForAllValues`` on it holds for a request without the key);
* an operator of another type than the key's (``Bool`` on a string key, ``Arn*`` on a non-ARN key …);
* values of the wrong shape: account ids, ARNs, booleans, numbers;
* the confused-deputy keys (``aws:SourceAccount``, ``aws:SourceArn``, ``aws:SourceOrgID``, ``aws:SourceOrgPaths``)
  on a statement for principals other than AWS services: only a service sets them, so the statement would never
  match (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html);
* a key the trust already conditions with the same operator (one JSON object cannot hold it twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import Diagnostic
from guardrails.model.build import Model
from guardrails.policies.ir import ACCOUNT_ID, Condition, Statement
from guardrails.policies.names import (
    SET_QUALIFIERS,
    condition_key_problem,
    global_condition_keys,
    oidc_host,
    operator_problem,
)
from guardrails.policies.statements import substitute

if TYPE_CHECKING:
    from guardrails.blueprint.schema import Trust
    from guardrails.policies.ir import OrgInfo

# Keys whose values are account ids: account names of the blueprint are accepted for them.
ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:principalaccount", "aws:resourceaccount"})
# Keys only an AWS service puts in its request (confused-deputy protection).
SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"})
CONFUSED_DEPUTY_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
_ACCOUNT_ID = re.compile(r"^(\d{12}|\$\{account_id\})$")
_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+$")
_VARIABLE = re.compile(r"\$\{[^}]*\}")
# The type of the values an operator compares (the global keys' "Data type").
_OPERATOR_TYPES = {"String": "String", "Numeric": "Numeric", "Date": "Date", "Bool": "Boolean", "Binary": "Binary",
                   "IpAddress": "IP address", "NotIpAddress": "IP address", "Arn": "ARN"}


def _base(operator: str) -> tuple[str, str]:
    """(set qualifier or "", operator without qualifier and IfExists)."""
    qualifier = next((q for q in SET_QUALIFIERS if operator.startswith(q)), "")
    return qualifier, operator[len(qualifier):].removesuffix("IfExists")


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _account_value(model: Model, value: str) -> str:
    if value == "self":
        return ACCOUNT_ID
    return model.accounts[value].id if value in model.accounts else value


def source_conditions(model: Model, trust: Trust, info: OrgInfo) -> tuple[Condition, ...]:
    """aws:SourceAccount and aws:SourceArn of the service statement (`source_accounts`, `source_arns`)."""
    found = []
    if trust.source_accounts:
        found.append(Condition("StringEquals", "aws:SourceAccount",
                               tuple(sorted({_account_value(model, a) for a in trust.source_accounts}))))
    if trust.source_arns:
        wildcard = any(ch in arn for arn in trust.source_arns for ch in "*?")
        found.append(Condition("ArnLike" if wildcard else "ArnEquals", "aws:SourceArn",
                               tuple(sorted({substitute(arn, info) for arn in trust.source_arns}))))
    return tuple(found)


def extra_conditions(model: Model, trust: Trust, info: OrgInfo) -> tuple[Condition, ...]:
    """`trust.conditions` as IR conditions: substituted, account names of account-id keys as ids."""
    found = []
    for operator, block in (trust.conditions or {}).items():
        for key, value in block.items():
            values = {substitute(_scalar(v), info) for v in _values(value)}
            if key.lower() in ACCOUNT_KEYS:
                values = {_account_value(model, v) for v in values}
            found.append(Condition(operator, key, tuple(sorted(values))))
    return tuple(sorted(found))


def with_conditions(statement: Statement, extra: Iterable[Condition]) -> Statement:
    """The statement with more conditions (one the statement already has is kept once)."""
    merged = {(c.operator, c.key): c for c in statement.conditions}
    for condition in extra:
        merged.setdefault((condition.operator, condition.key), condition)
    return replace(statement, conditions=tuple(sorted(merged.values())))


def trust_condition_problems(model: Model, key: str, statements: Iterable[Statement]) -> list[Diagnostic]:
    """Located problems of role ``key``'s `trust.conditions` and `source_accounts`, given the statements the trust
    has without them."""
    trust = model.blueprint.roles[key].trust
    src = model.source
    at = ("roles", key, "trust")
    found: list[Diagnostic] = []
    statements = list(statements)
    for index, name in enumerate(trust.source_accounts):
        if name != "self" and not _ACCOUNT_ID.match(name) and name not in model.accounts:
            found.append(Diagnostic.of("GR301", f"unknown account {name!r} in `source_accounts`",
                                       src.where(*at, "source_accounts", index),
                                       "name an account of the blueprint, a 12-digit id, or `self`"))
    for index, arn in enumerate(trust.source_arns):
        if not _ARN.match(arn):
            found.append(Diagnostic.of("GR317", f"{arn!r} in `source_arns` is not an ARN",
                                       src.where(*at, "source_arns", index),
                                       "write arn:${partition}:SERVICE:REGION:ACCOUNT:RESOURCE (wildcards allowed)"))
    for operator, block in (trust.conditions or {}).items():
        problem = operator_problem(operator)
        if problem:
            found.append(Diagnostic.of("GR316", problem[0], src.where_key(*at, "conditions", operator), problem[1]))
            continue
        for cond_key, value in block.items():
            where = (*at, "conditions", operator, cond_key)
            found += _key_problems(model, operator, cond_key, statements, src.where_key(*where))
            found += _value_problems(model, operator, cond_key, value, where)
    return found


def _key_problems(model: Model, operator: str, key: str, statements: list[Statement], where: Any) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    lowered = key.lower()
    for statement in statements:
        hosts = frozenset(h for p in statement.principals if p.kind == "Federated"
                          for h in (oidc_host(i) for i in p.identifiers) if h)
        problem = condition_key_problem(key, services={"sts"}, trust=True, idp_hosts=hosts)
        if problem:
            found.append(Diagnostic.of("GR314", f"{problem[0]} (trust statement {statement.sid})", where, problem[1]))
            break
        services = any(p.kind == "Service" for p in statement.principals)
        if lowered in SOURCE_KEYS and not services and "IfExists" not in operator and operator != "Null":
            found.append(Diagnostic.of(
                "GR314", f"condition key {key!r} is set only by an AWS service acting for a resource, so trust "
                f"statement {statement.sid} (no service principal) would never match", where,
                f"use it on a trust of `services` only, or add IfExists ({CONFUSED_DEPUTY_URL})"))
            break
        if any((c.operator, c.key.lower()) == (operator, lowered) for c in statement.conditions):
            found.append(Diagnostic.of(
                "GR302", f"trust statement {statement.sid} already conditions {key!r} with {operator}", where,
                "use the trust's own fields for it (github_oidc, oidc.subjects, external_id …), or another "
                "operator"))
            break
    spec = _global_spec(lowered)
    qualifier, base = _base(operator)
    if spec is not None and qualifier and not spec.get("multivalued"):
        found.append(Diagnostic.of(
            "GR316", f"{qualifier.rstrip(':')} on the single-valued key {key!r}", where,
            f"write {operator[len(qualifier):]}: set qualifiers are for multivalued keys, and ForAllValues holds "
            "for a request without the key (https://docs.aws.amazon.com/IAM/latest/UserGuide/"
            "reference_policies_condition-single-vs-multi-valued-context-keys.html)"))
    if spec is not None and base != "Null":
        family = next((t for prefix, t in _OPERATOR_TYPES.items() if base.startswith(prefix)), None)
        kind = spec.get("type")
        # String operators compare any key's text; ARN keys take the Arn* and String* operators.
        if family is not None and kind and family not in kind.split(" or ") and family != "String":  # "Date or Numeric"
            found.append(Diagnostic.of("GR316", f"{operator} compares {family} values, but {key!r} is of type "
                                       f"{kind}", where, "use an operator of the key's type (String* works for any)"))
    return found


def _value_problems(model: Model, operator: str, key: str, value: Any, where: tuple[str | int, ...]
                    ) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    lowered = key.lower()
    _, base = _base(operator)
    spec = _global_spec(lowered) or {}
    listed = isinstance(value, list)
    for index, item in enumerate(_values(value)):
        text = _scalar(item)
        at = model.source.where(*where, index) if listed else model.source.where(*where)
        problem = ""
        if _VARIABLE.fullmatch(text) and text != ACCOUNT_ID:
            continue  # a policy variable (or ${partition}…) holds what the request carries
        if base in ("Bool", "Null") and text not in ("true", "false"):
            problem = f"{operator} takes `true` or `false`, not {text!r}"
        elif base.startswith("Numeric") and not re.fullmatch(r"-?\d+(\.\d+)?", text):
            problem = f"{operator} takes a number, not {text!r}"
        elif lowered in ACCOUNT_KEYS and not _ACCOUNT_ID.match(text) and text not in model.accounts \
                and not (base == "StringLike" and re.fullmatch(r"[\d*?]{1,12}", text)):
            problem = f"{text!r} is not an account id for {key}: write a 12-digit id, `${{account_id}}` or an " \
                      "account name of the blueprint"
        elif (base.startswith("Arn") or (spec.get("type") == "ARN" and base.startswith("String"))) \
                and text != "*" and not _ARN.match(text):
            problem = f"{text!r} is not an ARN for {key}: write arn:${{partition}}:SERVICE:REGION:ACCOUNT:RESOURCE"
        if problem:
            found.append(Diagnostic.of("GR317", problem, at))
    return found


def _global_spec(lowered: str) -> dict[str, Any] | None:
    for name, spec in global_condition_keys().items():
        if "${" not in name and name.lower() == lowered:
            return spec
        if "${" in name and lowered.startswith(name.split("${", 1)[0].lower()):
            return spec
    return None


def confused_deputy_warnings(model: Model) -> list[Diagnostic]:
    """GR320 for a role trusted by a service whose documentation asks for aws:SourceAccount or aws:SourceArn in the
    trust (guardrails/data/confused_deputy_services.yaml) when the trust names neither."""
    documented = _documented_services()
    found: list[Diagnostic] = []
    for key, role in model.blueprint.roles.items():
        trust = role.trust
        named = {k.lower() for block in (trust.conditions or {}).values() for k in block}
        if trust.source_accounts or trust.source_arns or named & SOURCE_KEYS:
            continue
        for service in sorted(s for s in trust.services if s in documented):
            found.append(Diagnostic.of(
                "GR320", f"role {key!r} trusts {service} without aws:SourceAccount or aws:SourceArn: a resource of "
                "another account could make the service act as this role (confused deputy)",
                model.source.where("roles", key, "trust", "services"),
                f"add `source_accounts: [self]` and/or `source_arns` to the trust ({documented[service]})"))
    return found


@cache
def _documented_services() -> dict[str, str]:
    raw = safe_load(resources.files("guardrails.data").joinpath("confused_deputy_services.yaml").read_text("utf-8"))
    return dict(raw["services"])
