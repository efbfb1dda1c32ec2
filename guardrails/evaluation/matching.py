"""Matching of actions, resources and ARNs, and substitution of IAM policy variables.

Pure functions over a request *context*: condition key (lowercased) → its values in the request. A key
with several values is multivalued; a key that is missing, or present with no values, has no value.

Semantics follow the IAM User Guide:

- actions: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
  (``service:Action``, case-insensitive, ``*`` and ``?`` wildcards);
- resources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
  (case-sensitive; wildcards may span ``:`` and ``/``);
- ARN condition operators, segment by segment:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
- policy variables, defaults and the ``${*}``/``${?}``/``${$}`` escapes:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
  and (no multivalued key as a variable)
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.actions import wildcard_matches

Context = Mapping[str, tuple[str, ...]]

VARIABLES_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
ARN_PARTS = 6  # arn:partition:service:region:account:resource (the resource part may hold more colons)


class Wildcard(enum.Enum):
    """A wildcard written in a policy (as opposed to a ``*`` or ``?`` that must be matched literally)."""

    STAR = "*"  # any run of characters, possibly empty
    ONE = "?"   # exactly one character


# A pattern after substitution: literal text and wildcards. Keeping them apart is what lets ``${*}`` (a
# literal star) and a variable whose value happens to contain ``*`` match only a real ``*``.
Atom = str | Wildcard


@dataclass(frozen=True)
class _Variable:
    name: str            # as written, stripped
    default: str | None  # the quoted default, unescaped; None when none is given


_Token = str | Wildcard | _Variable  # str: literal text (from an escape or between wildcards)

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"'((?:[^']|'')*)'")
_NAME = re.compile(r"[^\s'{}$,]+")


def _regex(atoms: Iterable[Atom]) -> str:
    parts: list[str] = []
    for atom in atoms:
        if atom is Wildcard.STAR:
            parts.append(".*")
        elif atom is Wildcard.ONE:
            parts.append(".")
        else:
            parts.append(re.escape(atom))
    return "".join(parts)


# ----------------------------------------------------------------------------- policy variables


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[_Token, ...]:
    """Split policy text into literal runs, wildcards and ``${…}`` references (one pass, as IAM does:
    text produced by a substitution or a default is never scanned again)."""
    tokens: list[_Token] = []
    literal: list[str] = []
    index = 0

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    while index < len(text):
        if text.startswith("${", index):
            end = _variable_end(text, index)
            body = text[index + 2:end]
            index = end + 1
            if body.strip() in _ESCAPES:
                literal.append(_ESCAPES[body.strip()])
                continue
            flush()
            tokens.append(_parse_variable(text, body))
            continue
        char = text[index]
        if char in "*?":
            flush()
            tokens.append(Wildcard.STAR if char == "*" else Wildcard.ONE)
        else:
            literal.append(char)
        index += 1
    flush()
    return tuple(tokens)


def _variable_end(text: str, start: int) -> int:
    """Index of the ``}`` closing the reference that starts at ``start`` (a quoted default may hold ``}``)."""
    index, quoted = start + 2, False
    while index < len(text):
        char = text[index]
        if quoted and char == "'":
            if text.startswith("''", index):  # '' is an escaped quote inside a default
                index += 2
                continue
            quoted = False
        elif not quoted and char == "'":
            quoted = True
        elif not quoted and char == "}":
            return index
        index += 1
    raise EvaluationError(f"policy variable in {text!r} is not closed with '}}' (write ${{$}} for a literal '$'); "
                          f"see {VARIABLES_URL}")


def _parse_variable(text: str, body: str) -> _Variable:
    name, comma, rest = body.partition(",")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise EvaluationError(f"policy variable ${{{body}}} in {text!r} does not name a condition key; "
                              f"see {VARIABLES_URL}")
    if not comma:
        return _Variable(name, None)
    match = _DEFAULT.fullmatch(rest.strip())
    if match is None:
        raise EvaluationError(f"the default of policy variable ${{{body}}} in {text!r} must be one single-quoted "
                              f"string, as in ${{{name}, 'default'}}; see {VARIABLES_URL}")
    return _Variable(name, match.group(1).replace("''", "'"))


def _lookup(variable: _Variable, context: Context) -> str | None:
    """The value of a variable. A key with exactly one value substitutes; an absent key, a key without
    values and a multivalued key do not (IAM never substitutes multivalued keys) and fall back to the
    default, or to None: the element that holds the variable then cannot match."""
    values = context.get(variable.name.lower())
    if values is not None and len(values) == 1:
        return values[0]
    return variable.default


def has_variables(text: str) -> bool:
    """Does the text reference a policy variable (escapes such as ``${*}`` do not count)?"""
    return "${" in text and any(isinstance(token, _Variable) for token in _tokens(text))


def pattern_atoms(text: str, context: Context, *, wildcards: bool = True) -> tuple[Atom, ...] | None:
    """Policy text as atoms after substitution: substituted values, defaults and escapes are literal text;
    a bare ``*``/``?`` is a wildcard when ``wildcards`` (else literal). None when a variable has no value."""
    atoms: list[Atom] = []
    for token in _tokens(text):
        if isinstance(token, _Variable):
            value = _lookup(token, context)
            if value is None:
                return None
            atoms.extend(value)
        elif isinstance(token, Wildcard):
            atoms.append(token if wildcards else token.value)
        else:
            atoms.extend(token)
    return tuple(atoms)


def substitute_variables(text: str, context: Context) -> str | None:
    """Text with its policy variables replaced by request values (keys looked up case-insensitively).

    ``${key, 'default'}`` falls back to the default; ``${*}``, ``${?}`` and ``${$}`` give a literal ``*``,
    ``?`` and ``$``. Returns None when a referenced key has no value and no default, and when the key is
    multivalued (IAM substitutes only single-valued keys; a default, when given, is used instead). Text
    without ``${`` is returned unchanged. The result no longer tells a literal ``*`` from a wildcard: to
    match patterns use :func:`resource_matches` or :func:`pattern_atoms`.
    """
    if "${" not in text:
        return text
    atoms = pattern_atoms(text, context, wildcards=False)
    return None if atoms is None else "".join(atom for atom in atoms if isinstance(atom, str))


# ----------------------------------------------------------------------------- resources and ARNs


@lru_cache(maxsize=4096)
def atoms_regex(atoms: tuple[Atom, ...]) -> re.Pattern[str]:
    """The atoms as a case-sensitive regular expression for a whole value (wildcards span every character,
    ``:`` and ``/`` included)."""
    return re.compile(_regex(atoms), re.DOTALL)


def atoms_match(atoms: Sequence[Atom], value: str) -> bool:
    """Does the whole value match the atoms? Case-sensitive."""
    return atoms_regex(tuple(atoms)).fullmatch(value) is not None


def resource_matches(pattern: str, resource: str, context: Context) -> bool:
    """Does a Resource/NotResource pattern name this resource?

    Case-sensitive; ``*`` and ``?`` may match ``:`` and ``/``; policy variables are substituted first and
    their values (like ``${*}``) match literally. ``*`` alone matches everything; a variable without value
    matches nothing.
    """
    if pattern == "*":
        return True
    if "${" not in pattern:
        return glob_matches(pattern, resource)
    atoms = pattern_atoms(pattern, context)
    return atoms is not None and atoms_match(atoms, resource)


def glob_matches(pattern: str, value: str) -> bool:
    """``wildcard_matches(pattern, value, ignore_case=False)``, decided by string comparison where it can be.

    Resource patterns name their account, so 1,000 accounts held thousands of distinct patterns and compiling an
    expression for each was most of a request's time; the literal text before the first and after the last
    wildcard must begin and end the value, which settles most patterns without an expression."""
    star, one = pattern.find("*"), pattern.find("?")
    first = star if one < 0 else one if star < 0 else min(star, one)
    if first < 0:
        return pattern == value
    if not value.startswith(pattern[:first]):
        return False
    if first == len(pattern) - 1 and star == first:
        return True  # a prefix and a final `*`
    suffix = pattern[max(pattern.rfind("*"), pattern.rfind("?")) + 1:]
    if len(value) < first + len(suffix) or not value.endswith(suffix):
        return False
    return wildcard_matches(pattern, value, ignore_case=False)


def split_arn_atoms(atoms: Sequence[Atom]) -> list[list[Atom]]:
    """Atoms cut at their first five literal ``:`` (wildcards never count as a separator)."""
    segments: list[list[Atom]] = [[]]
    for atom in atoms:
        if atom == ":" and len(segments) < ARN_PARTS:
            segments.append([])
        else:
            segments[-1].append(atom)
    return segments


def arn_matches(pattern: str, arn: str, context: Context) -> bool:
    """ArnEquals/ArnLike: compare the six colon-separated parts one by one, with wildcards inside a part.

    A ``*`` in one part never reaches into the next (``arn:aws:iam::*:role/x`` does not match an ARN whose
    account part is followed by another resource type). ``*`` alone matches everything; a pattern or an ARN
    without six parts, and a pattern whose variable has no value, match nothing. Case-sensitive.
    """
    if pattern == "*":
        return True
    atoms = pattern_atoms(pattern, context)
    return atoms is not None and arn_atoms_match(atoms, arn)


def arn_atoms_match(atoms: Sequence[Atom], arn: str) -> bool:
    """:func:`arn_matches` for a pattern already substituted into atoms."""
    segments = _arn_segments(tuple(atoms))
    parts = arn.split(":", ARN_PARTS - 1)
    if len(segments) != ARN_PARTS or len(parts) != ARN_PARTS:
        return False
    return all(regex.fullmatch(part) is not None for regex, part in zip(segments, parts, strict=True))


@lru_cache(maxsize=4096)
def _arn_segments(atoms: tuple[Atom, ...]) -> tuple[re.Pattern[str], ...]:
    """The parts of a substituted ARN pattern as regular expressions (every request repeats the same patterns)."""
    return tuple(atoms_regex(tuple(segment)) for segment in split_arn_atoms(atoms))
