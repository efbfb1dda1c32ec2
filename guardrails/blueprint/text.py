"""What text a blueprint may hold: UTF-8, no control or bidirectional characters, placeholders in policy text only.

Bidirectional controls make a reviewer read something other than what AWS receives ("Trojan Source",
https://trojansource.codes/), and control characters hide or rewrite text on a terminal; neither has a use in a
name, an email, a description or a condition value. ``${…}`` is substituted (or left to IAM as a policy variable)
only in policy text; anywhere else it reaches Terraform, which interpolates it, and CloudFormation, which does not.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from guardrails.blueprint import schema
from guardrails.diagnostics import Diagnostic, Location

YamlPath = tuple[str | int, ...]

# Characters refused anywhere in a blueprint file, comments included: C0 controls but tab, line feed and carriage
# return; DEL and C1 (NEL too, which YAML would count as a line break an editor does not show); the line and
# paragraph separators; the bidirectional formatting characters (Unicode UAX #9: ALM, LRM, RLM, LRE…RLO, LRI…PDI);
# invisible characters that make two equal-looking names differ; surrogates and the two noncharacters YAML rejects.
_REFUSED = ("\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060"
            "\u2066-\u2069\ufeff\ud800-\udfff\ufffe\uffff")
_REFUSED_IN_FILE = re.compile(f"[{_REFUSED}]")
# In a value YAML produced (escapes such as "\u202e" or "\t" in a double-quoted string): the same, plus carriage
# return always and tab or line feed outside block scalars (`|`, `>`), where a reader does not expect them.
_REFUSED_IN_VALUE = re.compile(f"[{_REFUSED}\r]")
_REFUSED_IN_FLOW = re.compile(f"[{_REFUSED}\r\t\n]")
# None: value_problem finds nothing in the text, whatever `block` and `key` (the flow set holds the other). Asked
# first of each of the thousands of strings a blueprint holds, which a call of value_problem each made slower.
may_be_refused = _REFUSED_IN_FLOW.search
_MAX_REPORTED = 20  # per file: enough to find them, short enough to read

_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16"))
_UTF8_HINT = "save the file as UTF-8 (most editors: \"Save with encoding\" → UTF-8)"


def describe(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: what a reader cannot see."""
    name = unicodedata.name(char, "") or {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}.get(
        char, "CONTROL CHARACTER")
    return f"U+{ord(char):04X} ({name})"


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting lines as YAML does once the refused breaks are gone."""
    line = text.count("\n", 0, index) + 1
    start = text.rfind("\n", 0, index) + 1
    lone_cr = text.count("\r", start, index) - text.count("\r\n", start, index)
    if lone_cr:  # an old Mac line end: YAML counts it as a break too
        line += lone_cr
        start = text.rfind("\r", 0, index) + 1
    return line, index - start + 1


def decode(raw: bytes, file: str, diagnostics: list[Diagnostic]) -> str | None:
    """The file as text; None (and a located GR108) unless it is UTF-8. A UTF-8 byte order mark is accepted."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            diagnostics.append(Diagnostic.of("GR108", f"the file is {encoding} (it starts with a byte order mark); "
                                             "blueprint files must be UTF-8", Location(file, 1, 1), _UTF8_HINT))
            return None
    if raw.startswith(codecs.BOM_UTF8):  # written by some Windows editors; harmless, and YAML allows it
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start].decode("utf-8")
        line, column = position(before + "?", len(before))
        diagnostics.append(Diagnostic.of(
            "GR108", f"byte 0x{raw[exc.start]:02x} is not UTF-8; blueprint files must be UTF-8",
            Location(file, line, column),
            _UTF8_HINT + "; Latin-1 or Windows-1252 text (é, ü, ß…) must be converted"))
        return None
    if "\x00" in text:
        line, column = position(text, text.index("\x00"))
        diagnostics.append(Diagnostic.of("GR108", "the file holds NUL characters: it is UTF-16, UTF-32 or binary, "
                                         "not UTF-8 text", Location(file, line, column), _UTF8_HINT))
        return None
    return text


def scan_file(text: str, file: str, diagnostics: list[Diagnostic]) -> bool:
    """GR109 for every refused character in the file (comments too); True when there is none."""
    found = list(_REFUSED_IN_FILE.finditer(text))
    for match in found[:_MAX_REPORTED]:
        line, column = position(text, match.start())
        diagnostics.append(_character(match.group(), "", Location(file, line, column)))
    if len(found) > _MAX_REPORTED:
        diagnostics.append(Diagnostic.of("GR109", f"{len(found) - _MAX_REPORTED} more refused characters in this file",
                                         Location(file, *position(text, found[_MAX_REPORTED].start())),
                                         "remove them all (`cat -A` shows where they are)"))
    return not found


def value_problem(value: str, location: Location, *, block: bool, key: bool) -> Diagnostic | None:
    """GR109 for a string YAML produced (a key or a scalar value) that holds a refused character."""
    pattern = _REFUSED_IN_VALUE if block and not key else _REFUSED_IN_FLOW
    match = pattern.search(value)
    if match is None:
        return None
    where = f" at character {match.start() + 1} of this {'key' if key else 'value'}"
    if match.group() in "\t\n":
        return Diagnostic.of("GR109", f"{describe(match.group())}{where}", location,
                             "tabs and line breaks belong in block scalars (`|` or `>`) only: write the text as one, "
                             "or on one line" if not key else "a key is one line of text without tabs")
    return _character(match.group(), where, location)


def _character(char: str, where: str, location: Location) -> Diagnostic:
    bidi = unicodedata.bidirectional(char) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI") or \
        char in "\u061c\u200e\u200f"
    what = "bidirectional control" if bidi else "invisible or control character"
    return Diagnostic.of("GR109", f"{what} {describe(char)}{where}", location,
                         "remove it: it makes the text read differently from what AWS receives (escapes such as "
                         "\"\\u202e\" count too)" if bidi else
                         "remove it (an editor may not show it; `cat -A` does)")


# ----------------------------------------------------------------------------- placeholders

# Where ``${…}`` may appear: policy text, whose substitutions guardrails makes (``${partition}``, ``${region}``…)
# and whose policy variables IAM resolves in Resource and condition values only
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html). Values of these fields only,
# never mapping keys.
POLICY_TEXT: frozenset[tuple[type[BaseModel], str]] = frozenset({
    (schema.Statement, "resources"), (schema.Statement, "not_resources"), (schema.Statement, "conditions"),
    (schema.Grant, "resources"), (schema.GrantConditions, "principal_tags"), (schema.GrantConditions, "resource_tags"),
    (schema.AccessTest, "resource"), (schema.AccessTest, "context"),
    (schema.Trust, "source_arns"), (schema.Trust, "conditions"),  # trust policy text
    (schema.JobFunction, "parameters"),  # built-ins' parameters end up in their policy text
    (schema.Organization, "guardrails"), (schema.OrgUnit, "guardrails"), (schema.Account, "guardrails"),
})


def iter_strings(value: Any, path: YamlPath = (), owner: tuple[type[BaseModel], str] | None = None
                 ) -> Iterator[tuple[YamlPath, tuple[type[BaseModel], str] | None, str, bool]]:
    """Every string of a validated model: (YAML path, the model field it sits in, the text, is it a mapping key)."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name in value.model_fields_set:
                yield from iter_strings(getattr(value, name), (*path, name), (type(value), name))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), owner, key, True
            yield from iter_strings(item, (*path, key), owner)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*path, index), owner)
    elif isinstance(value, str):
        yield path, owner, value, False


def placeholders_outside_policy_text(blueprint: schema.Blueprint
                                     ) -> list[tuple[YamlPath, tuple[type[BaseModel], str] | None, bool]]:
    """(YAML path, field, is it a key) of every string of ``iter_strings`` that holds ``${`` outside policy text, in
    its order. One recursive walk that keeps nothing else: iter_strings passes each string up through a generator
    per level, which was most of the cost (a few thousand strings, eight levels deep)."""
    found: list[tuple[YamlPath, tuple[type[BaseModel], str] | None, bool]] = []

    def visit(value: Any, path: YamlPath, owner: tuple[type[BaseModel], str] | None) -> None:
        if isinstance(value, BaseModel):
            model = type(value)
            given = value.model_fields_set
            for name in model.model_fields:
                if name in given:
                    visit(getattr(value, name), (*path, name), (model, name))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "${" in key:
                    found.append(((*path, key), owner, True))
                if isinstance(item, str):  # a value, as visit would judge it, without the call
                    if "${" in item and owner not in POLICY_TEXT:
                        found.append(((*path, key), owner, False))
                elif isinstance(item, (BaseModel, dict, list, tuple)):
                    visit(item, (*path, key), owner)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    if "${" in item and owner not in POLICY_TEXT:
                        found.append(((*path, index), owner, False))
                elif isinstance(item, (BaseModel, dict, list, tuple)):
                    visit(item, (*path, index), owner)
        elif isinstance(value, str) and "${" in value and owner not in POLICY_TEXT:
            found.append((path, owner, False))

    visit(blueprint, (), None)
    return found


def placeholder_problems(blueprint: schema.Blueprint, where: Any, where_key: Any) -> list[Diagnostic]:
    """GR204 for ``${`` outside policy text (``where``/``where_key``: YAML path → Location)."""
    problems: list[Diagnostic] = []
    for path, owner, is_key in placeholders_outside_policy_text(blueprint):
        field = owner[1] if owner else "value"
        problems.append(Diagnostic.of(
            "GR204", f"`${{…}}` in {'a key of ' if is_key else ''}{_dotted(path)}: substitutions and policy "
            "variables belong in policy text only", where_key(path) if is_key else where(path),
            f"write the {field} literally; only statement resources and condition values, access tests' resource "
            "and context, and guardrail or job-function parameters are substituted"))
    return problems


def _dotted(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the blueprint"
