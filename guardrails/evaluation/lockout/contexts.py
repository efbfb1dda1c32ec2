"""The adversary's request contexts, built from a Deny statement's own conditions.

For each condition key the adversary may set: every value the policy names (wildcards filled in), a value
outside them, and the key absent (unless AWS always sends it). Keys of the real principal are never the
adversary's: a clause on them is evaluated against the real request, and when it is false the statement can
never apply to that principal.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from guardrails.evaluation.conditions import evaluate_clause
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.facts import (
    ADVERSARY_ACCOUNT,
    ALWAYS_PRESENT,
    FAR_FUTURE,
    FAR_PAST,
    MAX_CONTEXTS,
    OUTSIDE,
    OUTSIDE_IPS,
    OUTSIDE_REGIONS,
    PRINCIPAL_PREFIXES,
)
from guardrails.evaluation.lockout.probes import Requests
from guardrails.evaluation.matching import has_variables, substitute_variables
from guardrails.evaluation.organization import Account
from guardrails.iam.arns import role_arn

Context = Mapping[str, tuple[str, ...]]


class Contexts:
    """Candidate contexts per statement, and the (memoised) test of a statement against the real principal."""

    def __init__(self, requests: Requests) -> None:
        self.requests = requests
        self.org = requests.org
        self.partition = requests.partition
        # (statement id, fixed keys, their values) → (statement kept alive, rejected?)
        self._rejections: dict[tuple, tuple[Mapping[str, Any], bool]] = {}

    def contexts(self, statement: Mapping[str, Any], fixed: frozenset[str], base: Context,
                 account: Account) -> Iterator[dict[str, tuple[str, ...] | None]]:
        """Request contexts built from the statement's own conditions: for each key the adversary may set,
        the policy's values made concrete, a value outside them, and (unless AWS always sends it) absence."""
        per_key: dict[str, list[tuple[str, ...] | None]] = {}
        written: dict[str, str] = {}
        for operator, block in (statement.get("Condition") or {}).items():
            for key, values in block.items():
                lowered = key.lower()
                if lowered in fixed or lowered.startswith(PRINCIPAL_PREFIXES):
                    continue
                written.setdefault(lowered, key)
                candidates = per_key.setdefault(lowered, [])
                for candidate in self._candidates(operator, key, values, base, account):
                    if candidate not in candidates:
                        candidates.append(candidate)
        for key, candidates in per_key.items():
            if key not in ALWAYS_PRESENT:
                candidates.append(None)
        keys = sorted(per_key)
        for combination in itertools.islice(itertools.product(*(per_key[k] for k in keys)), MAX_CONTEXTS):
            yield {written[k]: v for k, v in zip(keys, combination, strict=True)}

    def _candidates(self, operator: str, key: str, values: object, base: Context,
                    account: Account) -> list[tuple[str, ...]]:
        """Values for one key of one clause: inside the policy's values and (one) outside, per operator family
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
        # Condition values may be JSON booleans and numbers as well as strings: they are compared as text.
        raw = [str(v).lower() if isinstance(v, bool) else str(v)
               for v in (values if isinstance(values, list | tuple) else [values])]
        resolved = [r for r in (substitute_variables(v, base) if has_variables(v) else v for v in raw) if r is not None]
        qualifier = operator.startswith(("ForAnyValue:", "ForAllValues:"))
        base_op = operator.split(":", 1)[-1].removesuffix("IfExists")
        family = re.match(r"(Not)?(String|Numeric|Date|Bool|Binary|IpAddress|Arn|Null)", base_op.replace("NotIp", "Ip"))
        kind = family.group(2) if family else "String"
        inside: list[str] = []
        outside: list[str] = []
        if kind == "Null":
            return [(OUTSIDE,)]
        if kind == "Bool":
            return [("true",), ("false",)]
        if kind == "Numeric":
            for value in resolved:
                try:
                    number = Decimal(value)
                except InvalidOperation:
                    continue
                inside.append(value)
                outside += [str(number - 1), str(number + 1)]
        elif kind == "Date":
            inside = list(resolved)
            outside = [FAR_PAST, FAR_FUTURE]
        elif kind == "Binary":
            inside = list(resolved)
            outside = ["Z3VhcmRyYWlscy1vdXRzaWRl"]
        elif kind == "IpAddress":
            inside = [v.split("/", 1)[0] for v in resolved]
            pool = [*_neighbours(resolved), *OUTSIDE_IPS]
            outside = [ip for ip in pool if not _clause(operator, "IpAddress", key, resolved, ip)][:1]
        elif kind == "Arn" or all(v.startswith("arn:") for v in resolved) and resolved:
            region = self.org.home_region
            inside = [a for a in (self.requests.concrete_arn(v, account, region, base) for v in resolved) if a]
            probe = role_arn(self.partition, ADVERSARY_ACCOUNT, OUTSIDE)
            outside = [probe] if not _clause(operator, "ArnLike", key, resolved, probe) else []
        else:
            inside = [re.sub(r"[*?]", "x", v) for v in resolved]
            like = "StringEqualsIgnoreCase" if "IgnoreCase" in base_op else "StringLike"
            pool = OUTSIDE_REGIONS if key.lower().endswith("region") else (OUTSIDE,)
            outside = [v for v in pool if not _clause(operator, like, key, resolved, v)][:1]
        result = [(v,) for v in dict.fromkeys(inside + outside)]
        if qualifier and inside and outside:
            result.append((inside[0], outside[0]))
        return result

    def rejected_by_fixed_keys(self, statement: Mapping[str, Any], fixed: frozenset[str], base: Context) -> bool:
        """A clause on keys that come from the real principal is false: the statement never applies to it."""
        conditions = statement.get("Condition") or {}
        keys = sorted({k.lower() for block in conditions.values() for k in block
                       if k.lower() in fixed or k.lower().startswith(PRINCIPAL_PREFIXES)})
        if not keys:
            return False
        memo = (id(statement), fixed, tuple((k, base.get(k)) for k in keys))
        if memo not in self._rejections:
            self._rejections[memo] = (statement, _rejects(conditions, fixed, base))
        return self._rejections[memo][1]


def _rejects(conditions: Mapping[str, Any], fixed: frozenset[str], base: Context) -> bool:
    for operator, block in conditions.items():
        for key, values in block.items():
            lowered = key.lower()
            if not (lowered in fixed or lowered.startswith(PRINCIPAL_PREFIXES)):
                continue
            listed = values if isinstance(values, list | tuple) else [values]
            if any(has_variables(str(v)) and not _resolvable(str(v), fixed) for v in listed):
                continue
            if not evaluate_clause(operator, key, values, base).matched:
                return True
    return False


def _clause(operator: str, positive: str, key: str, values: Sequence[str], candidate: str) -> bool:
    """Does ``candidate`` match one of the policy values under the positive form of the operator's family?"""
    try:
        return evaluate_clause(positive, key, list(values), {key.lower(): (candidate,)}).matched
    except EvaluationError:
        return False


def _neighbours(values: Sequence[str]) -> list[str]:
    """Addresses just outside each of the condition's ranges (the one after its last and before its first)."""
    out: list[str] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        top = int(network.broadcast_address) + 1
        bottom = int(network.network_address) - 1
        limit = 2 ** network.max_prefixlen
        kind = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address
        out += [str(kind(n)) for n in (top, bottom) if 0 <= n < limit]
    return out


def _resolvable(value: str, fixed: frozenset[str]) -> bool:
    """Every policy variable in the value names a key the real request fixes."""
    names = re.findall(r"\$\{([^},']+)", value)
    return all(n.strip().lower() in fixed or n.strip().lower().startswith(PRINCIPAL_PREFIXES) for n in names)
