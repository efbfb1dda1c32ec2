"""Read a blueprint directory: every ``*.yaml``/``*.yml`` file, merged, then validated.

Errors of every file are collected before anything stops, each with file:line:column,
a stable code and a hint.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from guardrails.blueprint.schema import MERGEABLE_SECTIONS, Blueprint
from guardrails.blueprint.yamlmarks import MarkedDocument, parse_marked
from guardrails.diagnostics import BlueprintError, Diagnostic, Location

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedBlueprint:
    """A validated blueprint plus the locations of its values, for later semantic errors."""

    blueprint: Blueprint
    directory: Path
    display_name: str
    value_locations: dict[YamlPath, Location]
    key_locations: dict[YamlPath, Location]

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


def _nearest(locations: dict[YamlPath, Location], path: YamlPath) -> Location | None:
    for end in range(len(path), -1, -1):
        found = locations.get(path[:end])
        if found is not None:
            return found
    return None


def yaml_files(directory: Path) -> list[Path]:
    """The blueprint's files, in the order they are merged."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_blueprint(directory: Path) -> LoadedBlueprint:
    """Load, merge and validate; raises :class:`BlueprintError` with every problem found."""
    diagnostics: list[Diagnostic] = []
    shown_dir = display_path(directory)
    if not directory.is_dir():
        raise BlueprintError([Diagnostic.of("GR100", f"blueprint directory {shown_dir!r} does not exist",
                                            Location(shown_dir), "pass the folder that holds the blueprint's YAML files")])
    files = yaml_files(directory)
    if not files:
        raise BlueprintError([Diagnostic.of("GR100", f"no .yaml files in {shown_dir!r}", Location(shown_dir),
                                            "a blueprint is a folder of YAML files, e.g. organization.yaml")])
    merged: dict[str, Any] = {}
    values: dict[YamlPath, Location] = {}
    keys: dict[YamlPath, Location] = {}
    for file in files:
        shown = display_path(file)
        doc = parse_marked(file.read_text(encoding="utf-8"), shown, diagnostics)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            diagnostics.append(Diagnostic.of("GR203", "a blueprint file must be a mapping of sections", Location(shown, 1, 1)))
            continue
        _merge_file(doc, merged, values, keys, diagnostics)
    values.setdefault((), Location(shown_dir))
    if diagnostics:
        # YAML or merge errors: the merged data is not what the author wrote, so schema errors
        # would mostly be consequences. Report the reading errors alone.
        raise BlueprintError(diagnostics)
    blueprint = None
    try:
        blueprint = Blueprint.model_validate(merged)
    except pydantic.ValidationError as exc:
        diagnostics.extend(_convert_errors(exc, values, keys))
    if diagnostics or blueprint is None:
        raise BlueprintError(diagnostics)
    return LoadedBlueprint(blueprint, directory, shown_dir, values, keys)


def _merge_file(doc: MarkedDocument, merged: dict[str, Any], values: dict[YamlPath, Location],
                keys: dict[YamlPath, Location], diagnostics: list[Diagnostic]) -> None:
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
        for path, loc in doc.value_locations.items():
            if path and path[0] == section:
                values.setdefault(path, loc)
        for path, loc in doc.key_locations.items():
            if path and path[0] == section:
                keys.setdefault(path, loc)


# ----------------------------------------------------------------------------- error conversion

_MESSAGES = {
    "missing": ("GR202", "missing required key {key!r}", "add `{key}:`; see docs/blueprint.md"),
}


def _convert_errors(exc: pydantic.ValidationError, values: dict[YamlPath, Location],
                    keys: dict[YamlPath, Location]) -> list[Diagnostic]:
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
    return ""


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
