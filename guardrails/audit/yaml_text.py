"""Deterministic YAML text with comments, for the blueprints ``guardrails import`` writes.

Scalars and lists of scalars are written as JSON (YAML 1.2 reads JSON), so no value is ever reinterpreted (an
account id stays a string, ``on`` stays a string). Mappings keep the order they were built in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import ScalarNode

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# What PyYAML (YAML 1.1, the blueprint loader) reads a plain key as: `True`, `Off`, `NULL` … are not strings.
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Map:
    """An ordered mapping whose entries may carry comments (written above the key)."""

    items: list[tuple[str, Any, tuple[str, ...]]] = field(default_factory=list)

    def add(self, key: str, value: Any, *comments: str) -> Map:
        self.items.append((key, value, tuple(comments)))
        return self


@dataclass(frozen=True)
class Commented:
    """A list item with comments written above it."""

    value: Any
    comments: tuple[str, ...]


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


def _key(key: str) -> str:
    plain = _PLAIN_KEY.match(key) and _RESOLVER.resolve(ScalarNode, key, (True, False)) == _STR_TAG
    return key if plain else _scalar(key)


def _simple(value: Any) -> bool:
    return not isinstance(value, (Map, list, dict, Commented)) or (
        isinstance(value, list) and all(not isinstance(v, (Map, list, dict, Commented)) for v in value))


def _comment_lines(comments: tuple[str, ...], indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for text in comments for line in text.splitlines()]


def _as_map(value: Any) -> Any:
    if isinstance(value, dict):
        out = Map()
        for k, v in value.items():
            out.add(str(k), v)
        return out
    return value


def render(value: Any, header: tuple[str, ...] = ()) -> str:
    lines = _comment_lines(header, "")
    lines += _block(_as_map(value), 0)
    return "\n".join(lines) + "\n"


def _block(value: Any, depth: int) -> list[str]:
    indent = "  " * depth
    value = _as_map(value)
    lines: list[str] = []
    if isinstance(value, Map):
        if not value.items:
            return [indent + "{}"]
        for key, item, comments in value.items:
            if key.startswith("# ") and item is None:  # Map.note: a comment line where it stands, no entry
                lines += _comment_lines((key[2:],), indent)
                continue
            item = _as_map(item)
            lines += _comment_lines(comments, indent)
            if _simple(item):
                lines.append(f"{indent}{_key(key)}: {_scalar(item)}")
            elif isinstance(item, Map) and not item.items:
                lines.append(f"{indent}{_key(key)}: {{}}")
            elif isinstance(item, list) and not item:
                lines.append(f"{indent}{_key(key)}: []")
            else:
                lines.append(f"{indent}{_key(key)}:")
                lines += _block(item, depth + 1)
        return lines
    if isinstance(value, list):
        for item in value:
            comments: tuple[str, ...] = ()
            if isinstance(item, Commented):
                item, comments = item.value, item.comments
            item = _as_map(item)
            lines += _comment_lines(comments, indent)
            if _simple(item):
                lines.append(f"{indent}- {_scalar(item)}")
                continue
            inner = _block(item, depth + 1)
            first = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
            lines += inner[:first]
            lines.append(f"{indent}- {inner[first].lstrip()}")
            lines += inner[first + 1:]
        return lines
    return [indent + _scalar(value)]
