"""Read a blueprint directory: every ``*.yaml``/``*.yml`` file, merged, then validated.

Errors of every file are collected before anything stops, each with file:line:column,
a stable code and a hint.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from guardrails.blueprint import limits, text
from guardrails.blueprint.schema import MERGEABLE_SECTIONS, Blueprint
from guardrails.blueprint.yamlmarks import Locations, MarkedDocument, parse_marked
from guardrails.diagnostics import BlueprintError, Diagnostic, Location

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedBlueprint:
    """A validated blueprint plus the locations of its values, for later semantic errors."""

    blueprint: Blueprint
    directory: Path
    display_name: str
    value_locations: Locations  # a Mapping[YamlPath, Location]
    key_locations: Locations
    # With ``load_blueprint(..., partial=True)``: the schema errors of the named entries left out (``dropped``),
    # for the model stage to report with its own. Empty otherwise: a blueprint with errors raises.
    errors: tuple[Diagnostic, ...] = ()
    dropped: frozenset[tuple[str, str]] = frozenset()  # (section, name) of the entries left out

    def where(self, *path: str | int) -> Location:
        """Best location for a path: the value itself, or the nearest enclosing value."""
        return _nearest(self.value_locations, tuple(path)) or Location(self.display_name)

    def where_key(self, *path: str | int) -> Location:
        return self.key_locations.get(tuple(path)) or self.where(*path)


def display_path(path: Path) -> str:
    """Path shown to users and written in headers: relative to the working directory when inside it."""
    resolved, here = path.resolve(), Path.cwd().resolve()
    if resolved == here or here in resolved.parents:
        return resolved.relative_to(here).as_posix() or "."
    return os.path.relpath(resolved, here).replace(os.sep, "/")


def _nearest(locations: Mapping[YamlPath, Location], path: YamlPath) -> Location | None:
    for end in range(len(path), -1, -1):
        found = locations.get(path[:end])
        if found is not None:
            return found
    return None


def yaml_files(directory: Path) -> list[Path]:
    """The blueprint's files, in the order they are merged."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_blueprint(directory: Path, *, partial: bool = False) -> LoadedBlueprint:
    """Load, merge and validate; raises :class:`BlueprintError` with every problem found.

    With ``partial``, schema errors confined to named entries (a job function, a role, a test, a permission set…,
    ``NAMED_ENTRIES``) do not raise: those entries are left out, the rest is validated again and returned with the errors in
    ``errors`` (:func:`guardrails.model.build_model` reports them with the reference errors of the rest, so one run
    names both; issue 18). Errors anywhere else (``organization``, ``security``) still raise here."""
    diagnostics: list[Diagnostic] = []
    shown_dir = display_path(directory)
    if not directory.is_dir():
        raise BlueprintError([Diagnostic.of("GR100", f"blueprint directory {shown_dir!r} does not exist",
                                            Location(shown_dir), "pass the folder that holds the blueprint's YAML files")])
    try:
        files = yaml_files(directory)
    except OSError as exc:
        raise BlueprintError([Diagnostic.of("GR100", f"cannot list {shown_dir!r}: {exc.strerror or exc}",
                                            Location(shown_dir), "check the folder's permissions")]) from None
    if not files:
        raise BlueprintError([Diagnostic.of("GR100", f"no .yaml files in {shown_dir!r}", Location(shown_dir),
                                            "a blueprint is a folder of YAML files, e.g. organization.yaml")])
    shown_files = [display_path(file) for file in files]
    too_many = limits.too_many_files(shown_files, shown_dir)
    if too_many is not None:
        raise BlueprintError([too_many])
    merged: dict[str, Any] = {}
    values, keys = Locations(), Locations()
    budget = limits.Budget()
    # Every file's size first (bounded reads): a file too large is refused before any file is parsed.
    contents = [(shown, limits.read_limited(file, shown, budget, diagnostics))
                for file, shown in zip(files, shown_files)]
    if diagnostics:
        raise BlueprintError(diagnostics)
    for shown, raw in contents:
        source = text.decode(raw or b"", shown, diagnostics)
        if source is None:
            continue
        doc = parse_marked(source, shown, diagnostics, budget)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            diagnostics.append(Diagnostic.of("GR203", "a blueprint file must be a mapping of sections",
                                             Location(shown, 1, 1),
                                             "start the file with a section such as `organization:` or `tests:`"))
            continue
        _merge_file(doc, merged, values, keys, diagnostics)
    # Errors about the blueprint as a whole (a missing `organization:`) point at the start of its first file.
    values.setdefault((), Location(shown_files[0], 1, 1))
    if diagnostics:
        # YAML or merge errors: the merged data is not what the author wrote, so schema errors
        # would mostly be consequences. Report the reading errors alone.
        raise BlueprintError(diagnostics)
    blueprint = None
    dropped: frozenset[tuple[str, str]] = frozenset()
    try:
        blueprint = Blueprint.model_validate(merged)
    except pydantic.ValidationError as exc:
        diagnostics.extend(_convert_errors(exc, values, keys))
        if partial:
            blueprint, dropped = _without_failed_entries(merged, exc)
    if blueprint is None:
        raise BlueprintError(diagnostics)
    loaded = LoadedBlueprint(blueprint, directory, shown_dir, values, keys)
    problems = _empty_optional_lists(loaded)
    problems += text.placeholder_problems(blueprint, lambda path: loaded.where(*path),
                                          lambda path: loaded.where_key(*path))
    if (diagnostics or problems) and not partial:
        raise BlueprintError([*diagnostics, *problems])
    return dataclasses.replace(loaded, errors=(*diagnostics, *problems), dropped=dropped)


# Mappings of named entries whose entries can be left out when their own schema errors are reported: the mergeable
# sections, Identity Center's permission sets and the identity providers.
NAMED_ENTRIES: tuple[YamlPath, ...] = (*((section,) for section in MERGEABLE_SECTIONS),
                                       ("identity_center", "permission_sets"), ("identity_providers", "oidc"),
                                       ("identity_providers", "saml"))


def _without_failed_entries(merged: dict[str, Any], exc: pydantic.ValidationError
                            ) -> tuple[Blueprint | None, frozenset[tuple[str, str]]]:
    """The blueprint without the named entries the errors are in, when every error is inside one and the rest
    validates; (None, ∅) otherwise (the errors are then reported alone, as the rest cannot be read). Entries are
    named (dotted mapping, name): ``("roles", "ci")``, ``("identity_center.permission_sets", "Admin")``."""
    failed: set[tuple[YamlPath, str]] = set()
    for error in exc.errors(include_url=False):
        loc = _data_path(error["loc"])
        owner = next((p for p in NAMED_ENTRIES if len(loc) > len(p) and loc[:len(p)] == p), None)
        if owner is None or not isinstance(_at(merged, owner), dict):
            return None, frozenset()
        failed.add((owner, str(loc[len(owner)])))
    rest = copy.copy(merged)
    for owner, name in failed:
        parent = rest
        for part in owner[:-1]:  # copy the mappings on the way, so the merged data stays as read
            parent[part] = copy.copy(parent[part])
            parent = parent[part]
        parent[owner[-1]] = {key: value for key, value in parent[owner[-1]].items() if key != name}
    try:
        return Blueprint.model_validate(rest), frozenset((".".join(map(str, o)), n) for o, n in failed)
    except pydantic.ValidationError:
        return None, frozenset()


def _at(data: Any, path: YamlPath) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _empty_optional_lists(loaded: LoadedBlueprint) -> list[Diagnostic]:
    """GR203 for ``key: []`` where the key is optional and absent means something else (``actions`` of a statement
    or an access test, ``accounts`` of a test): an empty list passes validation, then grants or asserts nothing, or
    breaks a later stage that reads it as "absent"."""
    problems: list[Diagnostic] = []

    def walk(value: Any, path: YamlPath) -> None:
        # Only models, mappings and lists are walked into (a call per string was most of the cost).
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            for name in value.model_fields_set:
                item = getattr(value, name)
                if isinstance(item, list) and not item and fields[name].default is None:
                    problems.append(Diagnostic.of(
                        "GR203", f"{_dotted((*path, name))} is an empty list", loaded.where(*path, name),
                        f"list at least one entry, or leave `{name}` out"))
                if isinstance(item, _CONTAINERS):
                    walk(item, (*path, name))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, _CONTAINERS):
                    walk(item, (*path, key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, _CONTAINERS):
                    walk(item, (*path, index))

    walk(loaded.blueprint, ())
    return problems


_CONTAINERS = (BaseModel, dict, list, tuple)  # what _empty_optional_lists walks into


def _merge_file(doc: MarkedDocument, merged: dict[str, Any], values: Locations, keys: Locations,
                diagnostics: list[Diagnostic]) -> None:
    taken: set[str] = set()  # the sections whose locations are merged (a section defined twice is not)
    for section, content in doc.data.items():
        if section not in merged:
            merged[section] = content
        elif section in MERGEABLE_SECTIONS and isinstance(merged[section], dict) and isinstance(content, dict):
            for name, entry in content.items():
                if name in merged[section]:
                    diagnostics.append(Diagnostic.of(
                        "GR302", f"{section} entry {name!r} is defined twice (also at {keys[(section, name)]})",
                        doc.key_locations[(section, name)], "rename or remove one of them"))
                    continue
                merged[section][name] = entry
        else:
            diagnostics.append(Diagnostic.of(
                "GR104", f"section {section!r} is already defined at {keys[(section,)]}",
                doc.key_locations[(section,)],
                f"keep `{section}` in one file" + (
                    "" if section not in MERGEABLE_SECTIONS else " or make both mappings of named entries")))
            continue
        taken.add(section)
    # One pass over the document's locations (a pass per section was most of the merge): a document's paths come
    # section by section, in the order of its sections, so the merged order is the same.
    for merged_marks, marks in ((values.marks, doc.value_locations.marks), (keys.marks, doc.key_locations.marks)):
        for path, mark in marks.items():
            if path and path[0] in taken:
                merged_marks.setdefault(path, mark)


# ----------------------------------------------------------------------------- error conversion

_MESSAGES = {
    "missing": ("GR202", "missing required key {key!r}", "add `{key}:`; see docs/blueprint.md"),
}


def _convert_errors(exc: pydantic.ValidationError, values: Locations, keys: Locations) -> list[Diagnostic]:
    result: list[Diagnostic] = []
    seen: set[tuple[YamlPath, str]] = set()
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the intended key "missing"; report only the misspelling then.
    misspelt: set[YamlPath] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = _data_path(error["loc"])
            for close in difflib.get_close_matches(str(loc[-1]), _allowed_keys(loc[:-1]), n=1, cutoff=0.6):
                misspelt.add((*loc[:-1], close))
    for error in errors:
        loc = _data_path(error["loc"])
        kind = error["type"]
        if (loc, kind) in seen:
            continue
        seen.add((loc, kind))
        dotted = _dotted(loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            candidates = _allowed_keys(loc[:-1])
            close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else (
                "allowed keys: " + ", ".join(sorted(candidates)) if candidates else "remove it")
            where = keys.get(loc) or _nearest(values, loc)
            result.append(Diagnostic.of("GR201", f"unknown key {key!r} in {_dotted(loc[:-1]) or 'the blueprint'}",
                                        where, hint))
        elif kind == "missing":
            if loc in misspelt:
                continue
            key = str(loc[-1])
            result.append(Diagnostic.of("GR202", f"missing required key {key!r} in {_dotted(loc[:-1]) or 'the blueprint'}",
                                        _nearest(values, loc[:-1]), f"add `{key}:` (see docs/blueprint.md)"))
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            hint = _hint_for(kind, error)
            result.append(Diagnostic.of("GR203", f"{dotted or 'blueprint'}: {message}", _nearest(values, loc), hint))
    return result


def _hint_for(kind: str, error: Any) -> str:
    if kind == "string_pattern_mismatch":
        return f"the value must match {error['ctx']['pattern']}"
    if kind in ("literal_error", "enum"):
        return f"use one of: {error['ctx'].get('expected', '')}"
    if kind.startswith(("greater_than", "less_than")):
        return "see the allowed range in docs/blueprint.md"
    return _TYPE_HINTS.get(kind, "")


# pydantic error types (https://docs.pydantic.dev/latest/errors/validation_errors/) → what to write instead;
# YAML reads unquoted 123, 2024-01-01, yes/no and null as numbers, dates, booleans and nothing.
_TYPE_HINTS = {
    "string_type": "write text here; quote the value if YAML reads it as a number, date, true/false or null",
    "string_too_short": "the value is too short: see docs/blueprint.md",
    "string_too_long": "the value is too long: see docs/blueprint.md",
    "too_short": "give more entries: see docs/blueprint.md",
    "too_long": "give fewer entries: see docs/blueprint.md",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "list_type": "write a list: `[a, b]`, or one `- item` per line",
    "dict_type": "write a mapping of `key: value` entries",
    "model_type": "write a mapping of `key: value` entries (see docs/blueprint.md)",
    "model_attributes_type": "write a mapping of `key: value` entries (see docs/blueprint.md)",
    "date_type": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date as YYYY-MM-DD, without a time",
    "value_error": "see docs/blueprint.md for what this entry needs",
    "assertion_error": "see docs/blueprint.md for what this entry needs",
    "union_tag_invalid": "see docs/blueprint.md for the forms this value may take",
    "is_instance_of": "see docs/blueprint.md for the forms this value may take",
}


def _data_path(loc: tuple[Any, ...]) -> YamlPath:
    """Drop pydantic's union-branch markers (class names, tags) so the path matches the YAML."""
    cleaned: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (part in _UNION_TAGS or part.startswith(_UNION_TAG_PREFIXES)):
            continue
        cleaned.append(part)
    return tuple(cleaned)


# Names pydantic inserts into error locations for union branches; they are not YAML keys.
_UNION_TAGS = {"PasswordPolicy", "str", "bool", "int"}
_UNION_TAG_PREFIXES = ("function-", "literal[", "dict[", "list[")


def _dotted(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(path: YamlPath) -> list[str]:
    """Field names of the model that sits at ``path`` (best effort through lists, dicts and unions)."""
    current: list[Any] = [Blueprint]
    for part in path:
        following: list[Any] = []
        for annotation in current:
            for candidate in _unwrap(annotation):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(part, str):
                    field = candidate.model_fields.get(part)
                    if field is not None:
                        following.append(field.annotation)
                elif typing.get_origin(candidate) in (list, dict):
                    args = typing.get_args(candidate)
                    following.append(args[-1])
        current = following
    names: set[str] = set()
    for annotation in current:
        for candidate in _unwrap(annotation):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names.update(candidate.model_fields)
    return sorted(names)


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]
