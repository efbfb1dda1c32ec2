"""Policy documents as AWS writes them: the one reader of "a string or a list of strings" and of ``Statement``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PolicyFormatError(ValueError):
    """A policy element that is neither a string nor a list of strings (a corrupt or hand-edited document)."""


def as_tuple(value: object, *, what: str = "value") -> tuple[str, ...]:
    """``None`` → ``()``, ``"a"`` → ``("a",)``, ``["a", "b"]`` → ``("a", "b")``; anything else is an error.

    IAM accepts a single string wherever a list is allowed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyFormatError(f"{what}: expected a string or a list of strings, got {type(value).__name__} "
                            f"{value!r:.80}")


def statements_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document: ``Statement`` may be one object or a list of them."""
    raw = document.get("Statement", [])
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise PolicyFormatError("Statement: expected an object or a list of objects")
    return statements


def condition_value(value: object, *, what: str = "condition value") -> str:
    """One condition value as IAM compares it: JSON ``true`` is ``"true"``, numbers their decimal text
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise PolicyFormatError(f"{what}: expected a string, number or Boolean, got {type(value).__name__} {value!r:.80}")


def condition_values(value: object, *, what: str = "condition value") -> tuple[str, ...]:
    """A condition key's value or list of values, each read by :func:`condition_value`."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else (value,)
    return tuple(condition_value(v, what=what) for v in items)
