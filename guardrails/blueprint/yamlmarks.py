"""YAML reading that keeps line marks, refuses duplicate keys, tags and unbounded work.

Plain PyYAML silently keeps the last of two equal keys; a blueprint that says
``max_session_duration`` twice is a mistake we must report, with both places.
Blueprints use no YAML tags (``!Ref``, ``!!python/object``, ``!!float``): each is a located
error rather than a constructor's exception. Nesting depth and the values aliases add are
bounded (guardrails.blueprint.limits) while the document is composed, before anything is built
from it; every string produced, keys included, is checked for refused characters
(guardrails.blueprint.text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from guardrails.blueprint import limits, text
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


_CORE = "tag:yaml.org,2002:"  # what `!!` abbreviates


class _Refused(yaml.MarkedYAMLError):
    """A document guardrails will not compose: carries the diagnostic's code, message and hint."""

    def __init__(self, code: str, message: str, hint: str, mark: yaml.Mark) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.code, self.hint = code, hint


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses tags, nesting past MAX_DEPTH and alias copies past the budget."""

    def __init__(self, stream: str, budget: limits.Budget) -> None:
        super().__init__(stream)
        self.budget = budget
        self.depth = 0
        # Per composed node: values it expands to and its height, so an alias is priced without expanding it.
        self.sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:
                raise _Refused("GR107", f"alias *{event.anchor} refers to a node that contains it",
                               "a blueprint is a tree: copy the values instead of nesting an anchor in itself",
                               event.start_mark)
            self.budget.alias_values += size[0]
            if self.budget.alias_values > limits.MAX_ALIAS_VALUES:
                raise _Refused("GR107", f"aliases expand to more than {limits.MAX_ALIAS_VALUES:,} values "
                               f"(*{event.anchor} adds {size[0]:,})",
                               "write the values out, or use fewer levels of anchors that refer to anchors",
                               event.start_mark)
            if self.depth + size[1] > limits.MAX_DEPTH:
                raise _Refused("GR107", f"alias *{event.anchor} nests values deeper than {limits.MAX_DEPTH} levels",
                               "flatten the structure", event.start_mark)
            return node
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.tag is not None:
            shown = "!!" + event.tag[len(_CORE):] if event.tag.startswith(_CORE) else event.tag
            raise _Refused("GR105", f"YAML tag {shown!r}: guardrails blueprints use no tags",
                           "remove the tag; write the value as plain YAML (quote it to keep it as text). "
                           "CloudFormation functions such as !Ref and !Sub have no meaning in a blueprint",
                           event.start_mark)
        if self.depth >= limits.MAX_DEPTH:
            raise _Refused("GR107", f"values are nested more than {limits.MAX_DEPTH} levels deep",
                           "flatten the structure; no blueprint section nests this deep", event.start_mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        known = [self.sizes[id(child)] for child in children]
        self.sizes[id(node)] = (1 + sum(s for s, _ in known), 1 + max((h for _, h in known), default=0))
        return node


def parse_marked(source: str, file: str, diagnostics: list[Diagnostic],
                 budget: limits.Budget | None = None) -> MarkedDocument:
    """Parse one YAML document, recording locations; YAML errors become diagnostics."""
    doc = MarkedDocument(data=None)
    if not text.scan_file(source, file, diagnostics):
        return doc
    try:
        loader = _BoundedLoader(source, budget or limits.Budget())
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as exc:
        diagnostics.append(Diagnostic.of(exc.code, str(exc.problem), _mark(file, exc.problem_mark), exc.hint))
        return doc
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(
            Diagnostic.of("GR101", f"YAML syntax error: {exc.problem or exc}",
                          _mark(file, exc.problem_mark or exc.context_mark),
                          "fix the YAML syntax at this position (indentation, quotes, colons)")
        )
        return doc
    except yaml.YAMLError as exc:  # a reader error: scan_file refuses its characters first, so only defensively
        where = text.position(source, exc.position) if isinstance(exc, yaml.reader.ReaderError) else (1, 1)
        diagnostics.append(Diagnostic.of("GR101", f"YAML error: {getattr(exc, 'reason', exc)}", Location(file, *where),
                                         "remove the character at this position"))
        return doc
    if root is None:
        return doc
    constructor = yaml.SafeLoader("")

    def scalar(node: yaml.Node, *, key: bool) -> Any:
        """A scalar's value; tags were refused, so only YAML's own implicit types (and their bad forms) arrive."""
        if node.tag == "tag:yaml.org,2002:value":  # a lone `=`: YAML 1.1's value key, plain text to a blueprint
            value: Any = node.value
        else:
            try:
                value = constructor.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError, yaml.constructor.ConstructorError) as exc:
                kind = node.tag.rsplit(":", 1)[-1]
                raise _Refused("GR106", f"{node.value!r} reads as a YAML {kind} but is not a valid one "
                               f"({getattr(exc, 'problem', None) or exc})",
                               "correct it, or quote it to keep it as text", node.start_mark) from None
        if isinstance(value, str):
            problem = text.value_problem(value, _loc(file, node), block=node.style in ("|", ">"), key=key)
            if problem is not None:
                diagnostics.append(problem)
        return value

    def convert(node: yaml.Node, path: Path) -> Any:
        doc.value_locations[path] = _loc(file, node)
        if isinstance(node, yaml.MappingNode):
            constructor.flatten_mapping(node)  # `<<: *base` merge keys
            result: dict[Any, Any] = {}
            first_seen: dict[Any, Location] = {}
            for key_node, value_node in node.value:
                key_loc = _loc(file, key_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    diagnostics.append(Diagnostic.of("GR102", "mapping keys must be plain scalars", key_loc,
                                                     "write the key as a plain word, e.g. `name:`; a list or mapping "
                                                     "cannot be a key"))
                    continue
                key = scalar(key_node, key=True)
                if not isinstance(key, (str, int, bool)):
                    diagnostics.append(Diagnostic.of(
                        "GR102", f"mapping key {key_node.value!r} reads as a YAML {type(key).__name__}", key_loc,
                        "quote the key to make it text"))
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
        return scalar(node, key=False)

    try:
        doc.data = convert(root, ())
    except _Refused as exc:
        diagnostics.append(Diagnostic.of(exc.code, str(exc.problem), _mark(file, exc.problem_mark), exc.hint))
        doc.data = None
    except yaml.MarkedYAMLError as exc:  # a merge key (`<<`) whose value is not a mapping
        diagnostics.append(Diagnostic.of("GR101", f"YAML error: {exc.problem or exc}",
                                         _mark(file, exc.problem_mark or exc.context_mark),
                                         "a merge key `<<:` takes an alias of a mapping, or a list of them"))
        doc.data = None
    return doc


def _mark(file: str, mark: yaml.Mark | None) -> Location:
    return Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
