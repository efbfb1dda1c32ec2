"""Expansion of a guardrail's statement templates with parameter values (the package docstring gives the rules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardrails.model.catalog.entries import _PARAM


def expand(template: Any, values: Mapping[str, tuple[str, ...]]) -> Any:
    """Expand ``$param`` references in a statement template (pure); see the module docstring."""
    if isinstance(template, dict):
        out: dict[Any, Any] = {}
        for key, value in template.items():
            if key == "conditions" and isinstance(value, dict):
                conditions = _expand_conditions(value, values)
                if conditions:
                    out[key] = conditions
                continue
            out[_scalar(key, values)] = expand(value, values)
        return out
    if isinstance(template, list):
        items: list[Any] = []
        for item in template:
            if isinstance(item, str) and _PARAM.search(item):
                name = _PARAM.search(item).group(1)  # type: ignore[union-attr]
                items.extend(item.replace(f"${name}", value) for value in values[name])
            else:
                items.append(expand(item, values))
        return items
    if isinstance(template, str):
        return _scalar(template, values)
    return template


def _scalar(text: Any, values: Mapping[str, tuple[str, ...]]) -> Any:
    if not isinstance(text, str) or not _PARAM.search(text):
        return text
    return _PARAM.sub(lambda m: values[m.group(1)][0] if values[m.group(1)] else "", text)


def _expand_conditions(block: dict[str, Any], values: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for operator, keys in block.items():
        expanded: dict[str, Any] = {}
        for key, value in keys.items():
            if any(not values[name] for name in _PARAM.findall(str(key))):
                continue  # an optional tag key without a value: no condition
            result = expand(value, values)
            if isinstance(result, list) and not result:
                continue
            expanded[_scalar(key, values)] = result
        if expanded:
            out[operator] = expanded
    return out
