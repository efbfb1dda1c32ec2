"""YAML reading that keeps line marks, refuses duplicate keys, tags and unbounded work.

Plain PyYAML silently keeps the last of two equal keys; a blueprint that says
``max_session_duration`` twice is a mistake we must report, with both places.
Blueprints use no YAML tags (``!Ref``, ``!!python/object``, ``!!float``): each is a located
error rather than a constructor's exception. Nesting depth and the values aliases add are
bounded (guardrails.blueprint.limits) while the document is composed, before anything is built
from it; every string produced, keys included, is checked for refused characters
(guardrails.blueprint.text).

Documents are composed by libyaml (C) when PyYAML has it: the pure-Python scanner was most of the time spent reading
a blueprint (a fifth as much CPU with libyaml for the 1,000-account benchmark). libyaml's nodes carry the same start
marks and the same Python resolver and constructor build the values, so data and locations are the same; what the two
read differently (tabs, `|#`, a missing final line break, `{a: }`) and anything libyaml or a check objects to is read
again by the pure-Python loader, which words and places every message as before (libyaml's error texts differ).
tests/test_blueprint_libyaml.py compares both readings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.resolver import Resolver

from guardrails.blueprint import limits, text
from guardrails.diagnostics import Diagnostic, Location

try:  # libyaml's parser; PyYAML installed without libyaml lacks it, and then only the pure-Python loader reads
    from yaml.cyaml import CParser, CSafeLoader
except ImportError:
    CParser = CSafeLoader = None

Path = tuple[str | int, ...]


Mark = tuple[str, int, int]  # file, 1-based line and column: a Location's fields


class Locations(Mapping[Path, Location]):
    """Where each value (or key) of a blueprint was written, by YAML path. Kept as marks, each made a Location
    when read: a large blueprint has tens of thousands, of which a compile reads a few thousand (making them all
    was a third of the time spent converting a document)."""

    __slots__ = ("marks",)

    def __init__(self, marks: dict[Path, Mark] | None = None) -> None:
        self.marks: dict[Path, Mark] = {} if marks is None else marks

    def __getitem__(self, path: Path) -> Location:
        return Location(*self.marks[path])

    def get(self, path: Path, default: Any = None) -> Any:
        mark = self.marks.get(path)
        return default if mark is None else Location(*mark)

    def __contains__(self, path: object) -> bool:
        return path in self.marks

    def __iter__(self) -> Iterator[Path]:
        return iter(self.marks)

    def __len__(self) -> int:
        return len(self.marks)

    def __repr__(self) -> str:
        return f"Locations({dict(self)!r})"

    def setdefault(self, path: Path, location: Location) -> Location:
        """The location at ``path``, set to ``location`` if there is none (as dict.setdefault)."""
        mark = self.marks.setdefault(path, (location.file, location.line, location.column))
        return Location(*mark)


@dataclass
class MarkedDocument:
    """Plain Python data plus where every value (and every mapping key) came from."""

    data: Any
    value_locations: Locations = field(default_factory=Locations)
    key_locations: Locations = field(default_factory=Locations)


_CORE = "tag:yaml.org,2002:"  # what `!!` abbreviates
_AS_TEXT = frozenset((_CORE + "str", _CORE + "value"))


class _Refused(yaml.MarkedYAMLError):
    """A document guardrails will not compose: carries the diagnostic's code, message and hint."""

    def __init__(self, code: str, message: str, hint: str, mark: yaml.Mark) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.code, self.hint = code, hint


class _BoundedComposer(Composer):
    """A composer that refuses tags, nesting past MAX_DEPTH and alias copies past the budget."""

    def _bound(self, budget: limits.Budget) -> None:
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


class _BoundedLoader(_BoundedComposer, yaml.SafeLoader):
    """The pure-Python SafeLoader with the bounded composer: reads every document, and words every error."""

    def __init__(self, stream: str, budget: limits.Budget) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._bound(budget)


if CParser is not None:
    class _CBoundedLoader(_BoundedComposer, CParser, SafeConstructor, Resolver):
        """libyaml's events, composed by the bounded composer (in Python): for documents with tags or anchors."""

        def __init__(self, stream: str, budget: limits.Budget) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bound(budget)


# What libyaml reads where PyYAML reports an error: a tab outside quotes, block scalars and comments (`a: b<TAB>`), a
# comment right after a block scalar's indicator (`|#`). A file with either is read the pure-Python way (most of its
# tabs may well be legal, in block scalars or comments; tabs are rare in blueprints).
_LIBYAML_LENIENT = re.compile(r"\t|[|>][-+0-9]{0,2}#")


class _Retry(Exception):
    """libyaml's document needs a check only the pure-Python loader makes: read it again with that loader."""


def _compose_libyaml(source: str, budget: limits.Budget) -> yaml.Node | None:
    """The root node as libyaml composes it. Every tag starts with `!` and every anchor with `&`: without either,
    libyaml's own (C) composer has nothing to refuse but depth, checked after (by _build, with what libyaml places
    differently); with them, the bounded composer composes libyaml's events. Raises on anything refused: the caller
    then reads the pure-Python way."""
    if "!" in source or "&" in source:
        loader: Any = _CBoundedLoader(source, budget)
    else:
        loader = CSafeLoader(source)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    return root


def _placed_differently_or_too_deep(root: yaml.Node, depth: int = 1) -> bool:
    """Whether the tree nests more than MAX_DEPTH nodes (the root counting as one, as in _BoundedComposer), or holds
    an empty key or value in a flow mapping (`{a: }`, `[a: ]`): PyYAML places that null right after the colon,
    libyaml at the next token. Aliases were composed by _BoundedComposer, which bounds them, so sharing is finite.
    ``depth``: the root's level. The definition of what _build(libyaml=True) refuses, which it checks as it goes."""
    stack = [(root, depth)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_DEPTH:
            return True
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for pair in node.value:
                if node.flow_style and any(_empty(part) for part in pair):
                    return True
                stack.extend((part, depth + 1) for part in pair)
    return False


def _empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == "" and not node.style


def parse_marked(source: str, file: str, diagnostics: list[Diagnostic],
                 budget: limits.Budget | None = None) -> MarkedDocument:
    """Parse one YAML document, recording locations; YAML errors become diagnostics."""
    if not text.scan_file(source, file, diagnostics):
        return MarkedDocument(data=None)
    budget = budget or limits.Budget()
    if CParser is not None:
        doc = _parse_libyaml(source, file, budget)
        if doc is not None:
            return doc
    return _parse_python(source, file, diagnostics, budget)


def _parse_libyaml(source: str, file: str, budget: limits.Budget) -> MarkedDocument | None:
    """The fast reading of a document without problems; None (the budget untouched) at the first sign of one."""
    # Without a line break at the end, libyaml ends the last line itself and places a null that ends the file there.
    if _LIBYAML_LENIENT.search(source) or (source and source[-1] not in "\n\r"):
        return None
    spent = budget.alias_values
    doc = MarkedDocument(data=None)
    found: list[Diagnostic] = []
    try:
        root = _compose_libyaml(source, budget)
        if root is not None:
            _build(root, file, doc, found, libyaml=True)
        if not found:
            return doc
    except Exception:  # noqa: BLE001 - whatever libyaml or a check refuses, the pure-Python reading reports
        pass
    budget.alias_values = spent  # the pure-Python reading counts the aliases again
    return None


def _parse_python(source: str, file: str, diagnostics: list[Diagnostic], budget: limits.Budget) -> MarkedDocument:
    """The pure-Python reading: every problem becomes a located diagnostic."""
    doc = MarkedDocument(data=None)
    try:
        loader = _BoundedLoader(source, budget)
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
    try:
        _build(root, file, doc, diagnostics)
    except _Refused as exc:
        diagnostics.append(Diagnostic.of(exc.code, str(exc.problem), _mark(file, exc.problem_mark), exc.hint))
        doc.data = None
    except yaml.MarkedYAMLError as exc:  # a merge key (`<<`) whose value is not a mapping
        diagnostics.append(Diagnostic.of("GR101", f"YAML error: {exc.problem or exc}",
                                         _mark(file, exc.problem_mark or exc.context_mark),
                                         "a merge key `<<:` takes an alias of a mapping, or a list of them"))
        doc.data = None
    return doc


def _build(root: yaml.Node, file: str, doc: MarkedDocument, diagnostics: list[Diagnostic], *,
           libyaml: bool = False) -> None:
    """Plain data from a composed tree into ``doc``, with the locations; raises _Refused or a merge-key error. With
    ``libyaml``, raises _Retry too where libyaml places a value differently or the tree nests too deep
    (_libyaml_placement): checked in this walk rather than in one of its own."""
    constructor = yaml.SafeLoader("")
    values, keys = doc.value_locations.marks, doc.key_locations.marks

    def scalar(node: yaml.Node, where: Mark, *, key: bool) -> Any:
        """A scalar's value; tags were refused, so only YAML's own implicit types (and their bad forms) arrive."""
        # Text is the node's value as is (what SafeConstructor returns for it, without its bookkeeping); a lone `=`
        # (YAML 1.1's value key) is plain text to a blueprint.
        if node.tag in _AS_TEXT:
            value: Any = node.value
        else:
            try:
                value = constructor.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError, yaml.constructor.ConstructorError) as exc:
                kind = node.tag.rsplit(":", 1)[-1]
                raise _Refused("GR106", f"{node.value!r} reads as a YAML {kind} but is not a valid one "
                               f"({getattr(exc, 'problem', None) or exc})",
                               "correct it, or quote it to keep it as text", node.start_mark) from None
        if isinstance(value, str) and text.may_be_refused(value) is not None:
            problem = text.value_problem(value, Location(*where), block=node.style in ("|", ">"), key=key)
            if problem is not None:
                diagnostics.append(problem)
        return value

    def convert(node: yaml.Node, path: Path, depth: int) -> Any:
        mark = node.start_mark
        where = values[path] = (file, mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            if libyaml:
                _libyaml_placement(node, depth)
            constructor.flatten_mapping(node)  # `<<: *base` merge keys
            result: dict[Any, Any] = {}
            first_seen: dict[Any, Mark] = {}
            for key_node, value_node in node.value:
                mark = key_node.start_mark
                key_mark = (file, mark.line + 1, mark.column + 1)
                if not isinstance(key_node, yaml.ScalarNode):
                    diagnostics.append(Diagnostic.of("GR102", "mapping keys must be plain scalars", Location(*key_mark),
                                                     "write the key as a plain word, e.g. `name:`; a list or mapping "
                                                     "cannot be a key"))
                    continue
                key = scalar(key_node, key_mark, key=True)
                if not isinstance(key, (str, int, bool)):
                    diagnostics.append(Diagnostic.of(
                        "GR102", f"mapping key {key_node.value!r} reads as a YAML {type(key).__name__}",
                        Location(*key_mark), "quote the key to make it text"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in first_seen:
                    diagnostics.append(
                        Diagnostic.of(
                            "GR103",
                            f"duplicate key {key!r} (first defined at line {first_seen[key][1]})",
                            Location(*key_mark),
                            "remove one of the two entries; YAML would silently keep only the last",
                        )
                    )
                    continue
                first_seen[key] = key_mark
                keys[(*path, key)] = key_mark
                result[key] = convert(value_node, (*path, key), depth + 1)
            return result
        if libyaml and depth > limits.MAX_DEPTH:
            raise _Retry
        if isinstance(node, yaml.SequenceNode):
            return [convert(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        return scalar(node, where, key=False)

    doc.data = convert(root, (), 1)


_MERGE = _CORE + "merge"  # the tag of `<<`, as SafeConstructor.flatten_mapping recognizes it


def _libyaml_placement(node: yaml.MappingNode, depth: int) -> None:
    """_Retry where _placed_differently_or_too_deep finds something in a mapping ``depth`` levels down (the root
    is 1), before its merge keys are flattened. _build checks every other node's depth as it reaches it; its keys
    are as deep as their values, and a key _build does not convert is a diagnostic, so a retry anyway. A merge key's
    values leave the tree when flattened: the whole mapping is checked then, as it was written. (With aliases the
    bounded composer has bounded the depth of every occurrence, and a mapping met again keeps its flow style.)"""
    if depth > limits.MAX_DEPTH or (node.flow_style and any(_empty(part) for pair in node.value for part in pair)):
        raise _Retry
    if any(key.tag == _MERGE for key, _ in node.value) and _placed_differently_or_too_deep(node, depth):
        raise _Retry


def _mark(file: str, mark: yaml.Mark | None) -> Location:
    return Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
