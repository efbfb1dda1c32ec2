"""Can an ARN pattern of a policy name a resource of a given type?

IAM matches ``Resource`` patterns with ``*`` (any characters, ``/`` and ``:`` included) and ``?``
(one character), case-sensitively. The IAM database describes each resource type by an ARN
format such as ``arn:${Partition}:s3:::${BucketName}/${ObjectName}``. An action is granted on a
pattern only if the pattern and the format can describe a common ARN, which this module decides
exactly with a small product-automaton search over the two token sequences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

ANY = "any"            # any character
NO_COLON = "no-colon"  # paths: "/" allowed, ":" not
NO_SEP = "no-sep"      # one name segment: neither "/" nor ":"

# Placeholders of ARN formats whose values may span separators: object keys and free-form names may hold
# anything, paths and log group names hold "/" but not ":".
_ANY = re.compile(r"ObjectName|Key$|ResourceName")
_PATHS = re.compile(r"Path|LogGroupName|Prefix")


@dataclass(frozen=True)
class Token:
    kind: str  # "lit" (one literal character), "one" (exactly one character of cls), "star" (zero or more of cls)
    value: str = ""
    cls: str = ANY


def _allows(cls: str, char: str) -> bool:
    if cls == ANY:
        return True
    if cls == NO_COLON:
        return char != ":"
    return char not in "/:"


def pattern_tokens(pattern: str) -> tuple[Token, ...]:
    """Tokens of a policy ARN pattern. ``${account_id}``, ``${region}`` and IAM policy variables
    (``${aws:username}``) stand for one name segment: some characters, none of them "/" or ":"."""
    tokens: list[Token] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("${", index) and "}" in pattern[index:]:
            index = pattern.index("}", index) + 1
            tokens += [Token("one", cls=NO_SEP), Token("star", cls=NO_SEP)]
            continue
        char = pattern[index]
        tokens.append(Token("star") if char == "*" else Token("one") if char == "?" else Token("lit", char))
        index += 1
    return tuple(tokens)


@cache
def format_tokens(arn_format: str) -> tuple[Token, ...]:
    """Tokens of an IAM-database ARN format: each ``${Name}`` is one or more characters of its class."""
    tokens: list[Token] = []
    for part in re.split(r"(\$\{[^}]+\})", arn_format):
        if part.startswith("${"):
            name = part[2:-1]
            cls = ANY if _ANY.search(name) else NO_COLON if _PATHS.search(name) else NO_SEP
            tokens += [Token("one", cls=cls), Token("star", cls=cls)]
        else:
            tokens += [Token("lit", c) for c in part]
    return tuple(tokens)


def _compatible(a: Token, b: Token) -> bool:
    """Can the two tokens produce the same single character?"""
    if a.kind == "lit" and b.kind == "lit":
        return a.value == b.value
    if a.kind == "lit":
        return _allows(b.cls, a.value)
    if b.kind == "lit":
        return _allows(a.cls, b.value)
    return True  # two classes always share ordinary characters


@cache  # a grant asks for each of its resources against every format of every action it names
def can_overlap(pattern: str, arn_format: str) -> bool:
    """True if some ARN matches both the policy pattern and the resource type's format."""
    left, right = pattern_tokens(pattern), format_tokens(arn_format)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(left) and j == len(right):
            return True
        a = left[i] if i < len(left) else None
        b = right[j] if j < len(right) else None
        if a is not None and a.kind == "star":
            stack.append((i + 1, j))
        if b is not None and b.kind == "star":
            stack.append((i, j + 1))
        if a is None or b is None or not _compatible(a, b):
            continue
        # Both produce one common character; a star stays where it is, the others advance.
        if a.kind == "star" and b.kind != "star":
            stack.append((i, j + 1))
        elif b.kind == "star" and a.kind != "star":
            stack.append((i + 1, j))
        elif a.kind != "star":
            stack.append((i + 1, j + 1))
    return False
