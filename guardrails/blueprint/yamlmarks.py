"""YAML reading that keeps line marks and refuses duplicate keys.

Plain PyYAML silently keeps the last of two equal keys; a blueprint that says
``max_session_duration`` twice is a mistake we must report, with both places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from guardrails.diagnostics import Diagnostic, Location

Path = tuple[str | int, ...]


@dataclass
class MarkedDocument:
    """Plain Python data plus where every value (and every mapping key) came from."""

    data: Any
    value_locations: dict[Path, Location] = field(default_factory=dict)
    key_locations: dict[Path, Location] = field(default_factory=dict)


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def parse_marked(text: str, file: str, diagnostics: list[Diagnostic]) -> MarkedDocument:
    """Parse one YAML document, recording locations; YAML errors become diagnostics."""
    doc = MarkedDocument(data=None)
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        diagnostics.append(
            Diagnostic.of("GR101", f"YAML syntax error: {exc.problem or exc}", where,
                          "fix the YAML syntax at this position (indentation, quotes, colons)")
        )
        return doc
    except yaml.YAMLError as exc:
        diagnostics.append(Diagnostic.of("GR101", f"YAML error: {exc}", Location(file)))
        return doc
    if root is None:
        return doc
    constructor = yaml.SafeLoader("")

    def convert(node: yaml.Node, path: Path) -> Any:
        doc.value_locations[path] = _loc(file, node)
        if isinstance(node, yaml.MappingNode):
            constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            first_seen: dict[Any, Location] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                key_loc = _loc(file, key_node)
                if not isinstance(key, (str, int, bool)):
                    diagnostics.append(Diagnostic.of("GR102", "mapping keys must be plain scalars", key_loc))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in first_seen:
                    diagnostics.append(
                        Diagnostic.of(
                            "GR103",
                            f"duplicate key {key!r} (first defined at line {first_seen[key].line})",
                            key_loc,
                            "remove one of the two entries; YAML would silently keep only the last",
                        )
                    )
                    continue
                first_seen[key] = key_loc
                doc.key_locations[(*path, key)] = key_loc
                result[key] = convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [convert(item, (*path, index)) for index, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    doc.data = convert(root, ())
    return doc
