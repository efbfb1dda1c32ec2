"""Evaluation of a statement's ``Condition`` element against a request context.

The semantics are AWS's documented ones (IAM User Guide):

- operators, ``…IfExists``, ``Null`` and absent keys:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- AND across operators and keys, OR across the values of one key, NOR for negated operators
  (``reference_policies_condition-logic-multiple-context-keys-or-values.html`` in the same guide):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
- ``ForAllValues:``/``ForAnyValue:``:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
- policy variables in condition values:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

How one key is decided (``rv`` = the request's values for the key, ``pv`` = the policy's values):

- A *positive* comparison ``P(r, p)`` is defined per operator family. A request value satisfies a positive
  operator when ``P`` holds for some ``pv`` (OR), and a negated operator when it holds for none (NOR).
- No qualifier: true when some request value satisfies a positive operator; a negated operator is exactly
  the negation of its positive twin (true when no request value matches any ``pv``). For a single-valued
  key both readings coincide; for a multivalued key used without a set qualifier (which AWS tells you not
  to write) this choice keeps ``StringNotEquals`` ≡ not ``StringEquals`` on every request.
- ``ForAllValues:``: every request value satisfies the operator (for a negated one: no request value
  matches any ``pv``). True when the key is absent or has no values — the documented pitfall.
- ``ForAnyValue:``: some request value satisfies the operator (for a negated one: some request value
  matches no ``pv``). False when the key is absent or has no values.
- Absent key (missing, or present with no values): positive operators false, negated operators true,
  ``…IfExists`` true (also with a set qualifier, as documented; some third-party tests report that AWS
  ignores ``IfExists`` under ``ForAnyValue:`` — we follow the documentation), ``Null`` true for "true".
- Policy values that are malformed (number, date, IP, base64, Boolean, ARN, variable syntax) raise
  :class:`EvaluationError`; malformed request values never satisfy the positive comparison.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import operator as compare_ops
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from decimal import Decimal, InvalidOperation

from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import (
    ARN_PARTS,
    Context,
    arn_atoms_match,
    atoms_regex,
    has_variables,
    pattern_atoms,
    split_arn_atoms,
)

OPERATORS_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"

# Negated operator → its positive twin (the NOR of the twin's comparisons).
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_POSITIVE = frozenset({
    "StringEquals", "StringEqualsIgnoreCase", "StringLike",
    "NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "ArnEquals", "ArnLike",
})
_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")
_IF_EXISTS = "IfExists"

# Suffix of a Numeric*/Date* operator → comparison of (request value, policy value).
_ORDER: dict[str, Callable[[object, object], bool]] = {
    "Equals": compare_ops.eq,
    "LessThan": compare_ops.lt,
    "LessThanEquals": compare_ops.le,
    "GreaterThan": compare_ops.gt,
    "GreaterThanEquals": compare_ops.ge,
}

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")

Matcher = Callable[[str], bool]  # the positive comparison of one request value with one policy value


@dataclass(frozen=True, slots=True)
class ClauseResult:
    """One (operator, key) pair of a Condition block, evaluated, for explanations."""

    operator: str            # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str                 # as written
    values: tuple[str, ...]  # policy values as written (JSON Booleans as "true"/"false", numbers with str())
    request_values: tuple[str, ...] | None  # None = key absent from the request
    matched: bool
    note: str = ""           # short reason when it is not obvious


@dataclass(frozen=True, slots=True)
class _Operator:
    written: str           # as in the policy, for messages
    qualifier: str | None  # "ForAllValues" / "ForAnyValue"
    base: str              # without qualifier and IfExists, e.g. "StringNotLike"
    if_exists: bool

    @property
    def negated(self) -> bool:
        return self.base in _NEGATED

    @property
    def positive(self) -> str:
        return _NEGATED.get(self.base, self.base)


# ----------------------------------------------------------------------------- public API


def evaluate_conditions(block: Mapping[str, Mapping[str, object]],
                        context: Context) -> tuple[bool, tuple[ClauseResult, ...]]:
    """Evaluate a whole Condition element: AND across operators and keys.

    Returns whether every clause matched and one :class:`ClauseResult` per (operator, key), in the order
    written. Every clause is evaluated (no short cut), so explanations are complete and a malformed clause
    raises wherever it stands.
    """
    if not block and type(block) is dict:
        return True, ()  # most statements have no conditions: every request asked this
    clauses = _compiled_block(block)
    if clauses is None:  # malformed: evaluated in order, so the error is the one the first bad clause raises
        results = tuple(_decide(_compile(operator, key, values), context)
                        for operator, key, values in _clauses_of(block))
    else:
        results = tuple(_decided(clause, context) for clause in clauses)
    return all(result.matched for result in results), results


def evaluate_clause(operator: str, key: str, values: Sequence[object] | object, context: Context) -> ClauseResult:
    """Evaluate one operator on one condition key with its policy values (OR, or NOR when negated)."""
    return _decide(_compile(operator, key, values), context)


@dataclass(frozen=True, slots=True)
class _Clause:
    """One (operator, key) of a Condition block with what no request changes: parsed once per document."""

    operator: str
    key: str
    lowered: str
    op: _Operator
    values: tuple[str, ...]
    null: frozenset[str] = frozenset()  # Null: the wanted "true"/"false"
    # the positive comparisons, when no policy value holds a variable (else built for each request's context)
    matchers: tuple[Matcher, ...] | None = None


def _clauses_of(block: Mapping[str, Mapping[str, object]]) -> Iterator[tuple[str, str, object]]:
    if not isinstance(block, Mapping):
        raise EvaluationError(f"a Condition element must be an object of operators, not {block!r}")
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            raise EvaluationError(f"condition operator {operator!r} must map condition keys to values, not {keys!r}")
        for key, values in keys.items():
            yield operator, key, values


def _compiled_block(block: Mapping[str, Mapping[str, object]]) -> tuple[_Clause, ...] | None:
    """The block's clauses, kept by the block's identity (the document keeps the block, so its id is not reused);
    None when a clause is malformed."""
    kept = _BLOCKS.get(id(block))
    if kept is not None and kept[0] is block:
        return kept[1]
    try:
        clauses = tuple(_compile(operator, key, values) for operator, key, values in _clauses_of(block))
    except EvaluationError:
        return None
    if len(_BLOCKS) >= _BLOCKS_MAX:
        _BLOCKS.clear()
        _SHARED.clear()
        _DECIDED.clear()
    # One object per distinct clause: the SCPs repeat the same exemption (ArnNotLike aws:PrincipalArn …) in many
    # statements, and _decided keeps answers per clause.
    clauses = tuple(_SHARED.setdefault((c.operator, c.key, c.values), c) for c in clauses)
    _BLOCKS[id(block)] = (block, clauses)
    return clauses


_BLOCKS: dict[int, tuple[Mapping[str, Mapping[str, object]], tuple[_Clause, ...]]] = {}
_BLOCKS_MAX = 1 << 16
_SHARED: dict[tuple[str, str, tuple[str, ...]], _Clause] = {}
# (clause id, the request's values for its key) → the answer, for clauses without policy variables (whose answer
# depends on nothing else); the clauses are kept by _SHARED, so their ids are not reused.
_DECIDED: dict[tuple[int, object], ClauseResult] = {}


def _decided(clause: _Clause, context: Context) -> ClauseResult:
    """:func:`_decide`, answered once per clause and request values when no policy variable is involved."""
    if clause.matchers is None and clause.op.base != "Null":
        return _decide(clause, context)
    raw = context.get(clause.lowered)
    if raw is not None and type(raw) is not tuple:
        return _decide(clause, context)  # only tuples are kept (a list could change)
    key = (id(clause), raw)
    found = _DECIDED.get(key)
    if found is None:
        found = _decide(clause, context)
        if len(_DECIDED) >= _BLOCKS_MAX:
            _DECIDED.clear()
        _DECIDED[key] = found
    return found


def _compile(operator: str, key: str, values: Sequence[object] | object) -> _Clause:
    """Parse the operator and the policy values; a malformed one raises whatever the request holds."""
    op = _parse_operator(operator)
    policy_values = _policy_values(operator, key, values)
    if op.base == "Null":
        return _Clause(operator, key, key.lower(), op, policy_values, frozenset(_null_values(operator, key,
                                                                                             policy_values)))
    if any("${" in value for value in policy_values):
        return _Clause(operator, key, key.lower(), op, policy_values)
    return _Clause(operator, key, key.lower(), op, policy_values,
                   matchers=tuple(_matchers(op, key, policy_values, {})[0]))


def _decide(clause: _Clause, context: Context) -> ClauseResult:
    op, operator, key, policy_values = clause.op, clause.operator, clause.key, clause.values
    raw = context.get(clause.lowered)
    request_values = None if raw is None else tuple(raw)
    present = bool(request_values)  # a key with no values counts as absent, as for Null and IfExists

    def result(matched: bool, note: str = "") -> ClauseResult:
        return ClauseResult(operator, key, policy_values, request_values, matched, note)

    if op.base == "Null":
        note = "key present" if present else ("key absent" if request_values is None else "key has no values")
        return result(("false" if present else "true") in clause.null, note)

    # Built before looking at the request, so a malformed policy value raises whatever the request holds.
    if clause.matchers is not None:
        matchers, unresolved = clause.matchers, ()
    else:
        matchers, unresolved = _matchers(op, key, policy_values, context)  # type: ignore[assignment]
    absence = "key absent" if request_values is None else "key has no values"

    if not present:
        if op.if_exists:
            return result(True, f"{absence}: …IfExists is true")
        if op.qualifier == "ForAllValues":
            return result(True, f"{absence}: ForAllValues is true (add a Null check to require the key)")
        if op.qualifier == "ForAnyValue":
            return result(False, f"{absence}: ForAnyValue is false")
        if op.negated:
            return result(True, f"{absence}: negated operator is true")
        return result(False, absence)

    assert request_values is not None
    hits = [any(matcher(value) for matcher in matchers) for value in request_values]  # positive twin, per value
    if op.qualifier == "ForAllValues":
        matched = all(not hit for hit in hits) if op.negated else all(hits)
    elif op.qualifier == "ForAnyValue":
        matched = any(not hit for hit in hits) if op.negated else any(hits)
    else:
        # Without a qualifier a negated operator is the exact negation of its positive twin (see module doc).
        matched = not any(hits) if op.negated else any(hits)

    notes = []
    if unresolved:
        notes.append("policy variable without value: " + ", ".join(repr(v) for v in unresolved) + " cannot match")
    if op.qualifier is None and len(request_values) > 1:
        notes.append(f"{len(request_values)} request values without a set qualifier: "
                     + ("true if none matches" if op.negated else "true if any matches"))
    return result(matched, "; ".join(notes))


# ----------------------------------------------------------------------------- parsing the policy


def _all_operator_spellings() -> list[str]:
    bases = sorted(_POSITIVE | set(_NEGATED))
    plain = [b + suffix for b in bases for suffix in ("", _IF_EXISTS)]
    return ["Null", *plain, *(q + b for q in _QUALIFIERS for b in plain)]


def _parse_operator(operator: str) -> _Operator:
    if not isinstance(operator, str):
        raise EvaluationError(f"condition operator {operator!r} is not a string")
    return _parsed_operator(operator)


@lru_cache(maxsize=1024)
def _parsed_operator(operator: str) -> _Operator:
    """An operator as written, parsed once (every request meets the same few operators)."""
    if not isinstance(operator, str):
        raise EvaluationError(f"condition operator {operator!r} is not a string")
    qualifier = next((q for q in _QUALIFIERS if operator.startswith(q)), None)
    rest = operator[len(qualifier):] if qualifier else operator
    if_exists = rest.endswith(_IF_EXISTS)
    base = rest.removesuffix(_IF_EXISTS) if if_exists else rest
    if base == "Null":
        if qualifier or if_exists:
            raise EvaluationError(f"condition operator {operator!r}: Null takes neither a set qualifier nor "
                                  f"IfExists; write 'Null'")
        return _Operator(operator, None, base, False)
    if base in _POSITIVE or base in _NEGATED:
        return _Operator(operator, qualifier.rstrip(":") if qualifier else None, base, if_exists)
    close = difflib.get_close_matches(operator, _all_operator_spellings(), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"see {OPERATORS_URL}"
    raise EvaluationError(f"unknown condition operator {operator!r}: {hint}")


def _policy_values(operator: str, key: str, values: Sequence[object] | object) -> tuple[str, ...]:
    """Policy values as strings: JSON Booleans as "true"/"false", numbers with str()."""
    if not isinstance(key, str) or not key:
        raise EvaluationError(f"condition operator {operator!r} has an invalid condition key {key!r}")
    items = list(values) if isinstance(values, list | tuple) else [values]
    if not items:
        raise EvaluationError(f"condition {operator!r} on key {key!r} has no values")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append(str(item).lower())
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise EvaluationError(f"condition {operator!r} on key {key!r}: value {item!r} is not a string, "
                                  f"number or Boolean")
    return tuple(out)


def _null_values(operator: str, key: str, values: tuple[str, ...]) -> set[str]:
    wanted = {value.lower() for value in values}
    bad = wanted - {"true", "false"}
    if bad:
        raise EvaluationError(f"condition {operator!r} on key {key!r}: Null takes \"true\" (key absent) or "
                              f"\"false\" (key present), not {sorted(bad)[0]!r}")
    return wanted


def _matchers(op: _Operator, key: str, values: tuple[str, ...],
              context: Context) -> tuple[list[Matcher], list[str]]:
    """One positive comparison per policy value, and the values whose policy variables have no value."""
    matchers: list[Matcher] = []
    unresolved: list[str] = []
    for value in values:
        matcher = _matcher(op, key, value, context) if "${" in value else _static_matcher(op, key, value)
        if matcher is None:
            unresolved.append(value)
        else:
            matchers.append(matcher)
    return matchers, unresolved


@lru_cache(maxsize=1 << 14)
def _static_matcher(op: _Operator, key: str, value: str) -> Matcher | None:
    """:func:`_matcher` of a value without policy variables, which no request context changes: built once."""
    return _matcher(op, key, value, {})


def _bad(op: _Operator, key: str, value: str, what: str) -> EvaluationError:
    return EvaluationError(f"condition {op.written!r} on key {key!r}: policy value {value!r} is not {what}")


def _matcher(op: _Operator, key: str, value: str, context: Context) -> Matcher | None:
    """The positive comparison for one policy value; None when a policy variable in it has no value."""
    positive = op.positive
    if positive in ("StringEquals", "StringEqualsIgnoreCase"):
        atoms = pattern_atoms(value, context, wildcards=False)  # no wildcards: * and ? are literal
        if atoms is None:
            return None
        text = "".join(a for a in atoms if isinstance(a, str))
        if positive == "StringEquals":
            return lambda request: request == text
        # Simple lowercasing, not Unicode case folding (which would equate "STRASSE" and "straße"): the
        # documentation promises only that letter case is ignored.
        folded = text.lower()
        return lambda request: request.lower() == folded
    if positive == "StringLike":
        atoms = pattern_atoms(value, context)
        if atoms is None:
            return None
        regex = atoms_regex(atoms)
        return lambda request: regex.fullmatch(request) is not None
    if positive.startswith("Numeric"):
        number = _number(value)
        if number is None:
            raise _bad(op, key, value, "a number")
        compare = _ORDER[positive.removeprefix("Numeric")]
        return lambda request: (r := _number(request)) is not None and compare(r, number)
    if positive.startswith("Date"):
        moment = _date(value)
        if moment is None:
            raise _bad(op, key, value, "a date (ISO 8601 such as 2024-01-31T12:00:00Z, or epoch seconds)")
        compare = _ORDER[positive.removeprefix("Date")]
        return lambda request: (r := _date(request)) is not None and compare(r, moment)
    if positive == "Bool":
        return _bool_matcher(op, key, value, context)
    if positive == "BinaryEquals":
        data = _base64(value)
        if data is None:
            raise _bad(op, key, value, "base64")
        return lambda request: _base64(request) == data
    if positive == "IpAddress":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _bad(op, key, value, "an IPv4/IPv6 address or CIDR block") from None
        return lambda request: (r := _ip(request)) is not None and r in network
    return _arn_matcher(op, key, value, context)


def _bool_matcher(op: _Operator, key: str, value: str, context: Context) -> Matcher | None:
    # Bool values may hold policy variables (the User Guide lists them as supported for Bool).
    if not has_variables(value) and value.lower() not in ("true", "false"):
        raise _bad(op, key, value, 'a Boolean ("true" or "false")')
    atoms = pattern_atoms(value, context, wildcards=False)
    if atoms is None:
        return None
    wanted = "".join(a for a in atoms if isinstance(a, str)).lower()
    return lambda request: request.lower() == wanted


def _arn_matcher(op: _Operator, key: str, value: str, context: Context) -> Matcher | None:
    # ArnEquals and ArnLike are the same operator: six parts compared one by one, wildcards within a part.
    if value == "*":
        return lambda request: True
    atoms = pattern_atoms(value, context)
    # A value with a variable is checked only once substituted (the variable may hold colons), and a
    # substituted value that is no ARN simply matches nothing; a literal value must be an ARN.
    if not has_variables(value) and atoms is not None and len(split_arn_atoms(atoms)) != ARN_PARTS:
        raise _bad(op, key, value, "an ARN (arn:partition:service:region:account:resource)")
    if atoms is None:
        return None
    return lambda request: arn_atoms_match(atoms, request)


# ----------------------------------------------------------------------------- value parsing


def _number(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _date(text: str) -> datetime | None:
    """ISO 8601 (date only, with time, with or without zone; no zone means UTC) or epoch seconds."""
    if _EPOCH.fullmatch(text):
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


__all__ = ["ClauseResult", "evaluate_clause", "evaluate_conditions"]
