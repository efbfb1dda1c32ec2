"""The YAML writer of the CloudFormation templates: a small, fast emitter for the subset guardrails writes.

Templates are JSON-like values: ``dict`` (keys in the order built), ``list``, ``str``, ``int``, ``bool`` and
``None``; intrinsics are written in their long form (``{"Ref": ...}``), never as ``!Ref`` tags. :func:`dump` writes
such a value exactly as :func:`pyyaml_dump` (PyYAML's pure-Python emitter, the former writer) does, byte for byte,
about 50 times faster: block mappings, lists indented under their key, ``|`` literals for multi-line strings, and
each scalar plain, single-quoted or double-quoted by the rules of YAML 1.1 that PyYAML applies
(https://yaml.org/spec/1.1/#id903915). A value outside that subset (another type, a non-``\\n`` line break, a very
long scalar that PyYAML would fold, a key PyYAML writes as a complex ``? `` key) is written by
:func:`pyyaml_dump` instead, so the output never depends on which path ran. libyaml's C emitter is never used.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode

# ----------------------------------------------------------------------------- the reference writer (PyYAML)


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, insertion order kept."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002
        return True  # repeated documents are written out in full, never as &anchors


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # code and SAML metadata stay readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_WIDTH = 1_000_000  # no folding: one scalar, one line


def pyyaml_dump(data: Any) -> str:
    """The reference: PyYAML's pure-Python emitter with the template settings (and the fallback of :func:`dump`)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=_WIDTH, indent=2)


# ----------------------------------------------------------------------------- scalars


class _Unsupported(Exception):
    """The value is outside the subset this writer reproduces exactly: :func:`pyyaml_dump` writes it."""


_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
# Longest scalar written here: PyYAML folds a plain or quoted scalar once its column passes the width; 10 output
# characters per input character (\UXXXXXXXX) keep every column far below it.
_MAX_SCALAR = 50_000
_MAX_KEY = 100  # PyYAML writes a key of 128 characters or more (tag included) as a complex "? " key
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")  # YAML line breaks besides \n: rare, left to PyYAML
# Characters that only a double-quoted scalar can hold: not printable ASCII, \n or printable Unicode (BOM excluded).
# https://yaml.org/spec/1.1/#id868524 (printable characters)
_SPECIAL = re.compile("[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010fffe]")
_SPACE = "[\\x00 \\t\\r\\n\\x85\\u2028\\u2029]"
# What keeps a one-line scalar from being plain in block context: a document marker or an indicator at the start,
# ": " or " #" inside, a trailing ":". https://yaml.org/spec/1.1/#id864510 (indicator characters)
_BLOCK_INDICATOR = re.compile(
    "\\A(?:---|\\.\\.\\.)|\\A[#,\\[\\]{}&*!|>'\"%@`]|\\A[?-](?:" + _SPACE + "|\\Z)|:(?:" + _SPACE + "|\\Z)|"
    + _SPACE + "#")
_ESCAPES = {"\0": "\\0", "\x07": "\\a", "\x08": "\\b", "\t": "\\t", "\n": "\\n", "\x0b": "\\v", "\x0c": "\\f",
            "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}
# Written as-is inside double quotes: printable ASCII and the Basic Multilingual Plane's printable characters.
_ESCAPED = re.compile('["\\\\\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _double_quoted(text: str) -> str:
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def _one_line(text: str) -> str:
    """A scalar without line breaks: plain when YAML reads it back as this string, else quoted."""
    if len(text) > _MAX_SCALAR:
        raise _Unsupported("long scalar")
    if _SPECIAL.search(text):
        return _double_quoted(text)
    if (text and text[0] != " " and text[-1] != " " and not _BLOCK_INDICATOR.search(text)
            and _RESOLVER.resolve(ScalarNode, text, (True, False)) == _STR_TAG):
        return text
    return "'" + text.replace("'", "''") + "'"


class _Literal:
    """A ``|`` block scalar: its header (indentation and chomping indicators) and its lines."""

    __slots__ = ("header", "keep", "lines")

    def __init__(self, text: str) -> None:
        # https://yaml.org/spec/1.1/#id926597 (block indentation indicator), #id927035 (chomping)
        hint = "2" if text[0] in " \n" else ""
        if not text.endswith("\n"):
            chomp = "-"
        elif len(text) == 1 or text[-2] == "\n":
            chomp = "+"
        else:
            chomp = ""
        self.header = " |" + hint + chomp + "\n"
        self.keep = chomp == "+"  # PyYAML then ends the stream with "..."
        self.lines = (text if text.endswith("\n") else text + "\n").split("\n")[:-1]

    def render(self, pad: str) -> str:
        return self.header + "".join(pad + line + "\n" if line else "\n" for line in self.lines)


def _value(text: str) -> str | _Literal:
    """A string as a mapping value or list item: `` scalar`` or a literal block."""
    if any(b in text for b in _OTHER_BREAKS):
        raise _Unsupported("line break other than \\n")
    if "\n" not in text:
        return " " + _one_line(text)
    if _SPECIAL.search(text) or text.endswith(" ") or " \n" in text:
        return " " + _double_quoted(text)  # a block scalar cannot hold it (trailing spaces, control characters)
    return _Literal(text)


def _key(text: Any) -> str:
    if type(text) is not str or not text or len(text) > _MAX_KEY or "\n" in text or any(
            b in text for b in _OTHER_BREAKS):
        raise _Unsupported("key")
    return _one_line(text) + ":"


# ----------------------------------------------------------------------------- collections

# Rendered strings by value, shared by every template of a run (scalars repeat across accounts).
_VALUES: dict[str, str | _Literal] = {}
_KEYS: dict[str, str] = {}
_CACHE_LIMIT = 200_000


class _Writer:
    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out: list[str] = []

    def item(self, value: Any, pad: str) -> None:
        """The text after ``key:`` or ``-``; ``pad`` is the indentation of a nested block."""
        out = self.out
        kind = type(value)
        if kind is str:
            rendered = _VALUES.get(value)
            if rendered is None:
                rendered = _VALUES[value] = _value(value)
            if type(rendered) is str:
                out.append(rendered)
                out.append("\n")
            else:
                out.append(rendered.render(pad))
        elif kind is dict:
            if value:
                out.append("\n")
                self.mapping(value, pad)
            else:
                out.append(" {}\n")
        elif kind is list:
            if value:
                out.append("\n")
                self.sequence(value, pad)
            else:
                out.append(" []\n")
        elif kind is bool:
            out.append(" true\n" if value else " false\n")
        elif kind is int:
            out.append(" " + str(value) + "\n")
        elif value is None:
            out.append(" null\n")
        else:
            raise _Unsupported(kind.__name__)

    def mapping(self, value: dict[Any, Any], pad: str, first: str | None = None) -> None:
        """``first`` replaces the indentation of the first key (``- `` of a list item)."""
        out = self.out
        inner = pad + "  "
        for key, item in value.items():
            text = _KEYS.get(key) if type(key) is str else None
            if text is None:
                text = _KEYS[key] = _key(key)
            out.append(pad if first is None else first)
            first = None
            out.append(text)
            self.item(item, inner)

    def sequence(self, value: list[Any], pad: str, first: str | None = None) -> None:
        out = self.out
        inner = pad + "  "
        dash = pad + "- "
        for item in value:
            kind = type(item)
            if kind is dict and item:
                self.mapping(item, inner, dash if first is None else first + "- ")
            elif kind is list and item:
                self.sequence(item, inner, dash if first is None else first + "- ")
            else:
                out.append(dash[:-1] if first is None else first + "-")
                self.item(item, inner)
            first = None


def _last_scalar(value: Any) -> Any:
    while type(value) in (dict, list) and value:
        value = next(reversed(value.values())) if type(value) is dict else value[-1]
    return value


def dump(data: dict[str, Any]) -> str:
    """``data`` as YAML, byte for byte what :func:`pyyaml_dump` writes (which writes what this writer does not)."""
    if type(data) is not dict or not data:
        return pyyaml_dump(data)
    if len(_VALUES) > _CACHE_LIMIT or len(_KEYS) > _CACHE_LIMIT:
        _VALUES.clear()
        _KEYS.clear()
    text = entries(data, "")
    return pyyaml_dump(data) if text is None else text + document_end(data)


def entries(mapping: dict[str, Any], pad: str) -> str | None:
    """The lines :func:`dump` writes for the entries of ``mapping`` nested at ``pad`` (``""`` for the top level,
    ``"  "`` under a top-level key), or None where it hands the document to PyYAML. The writer writes a mapping's
    entries one after the other, each from its own key and value alone, so the text of a mapping is the
    concatenation of its entries' texts (baseline.py renders the resources of a principal once this way)."""
    writer = _Writer()
    try:
        writer.mapping(mapping, pad)
    except (_Unsupported, RecursionError, ValueError):  # ValueError: an int too long for str()
        return None
    return "".join(writer.out)


def key_line(key: str) -> str:
    """``key:`` alone on its line, as :func:`dump` writes a key whose value is a non-empty mapping."""
    return _key(key) + "\n"


def document_end(data: dict[str, Any]) -> str:
    """``...`` where PyYAML closes the document: its last scalar is a block literal that keeps its final line break
    (the document would be left open-ended)."""
    last = _last_scalar(data)
    if type(last) is not str:
        return ""
    tail = _VALUES.get(last) or _value(last)
    return "...\n" if isinstance(tail, _Literal) and tail.keep else ""
