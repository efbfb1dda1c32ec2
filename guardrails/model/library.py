"""The built-in job-function library: data files interpreted by small pure functions.

Each ``guardrails/data/job_functions/<id>.yaml`` holds one built-in job function: id, title, description, the
tasks it supports, what it deliberately does not grant, its source and closest AWS managed policy, its
parameters, and its permissions written exactly as a blueprint writes them (``grants``, ``statements``,
``managed_policies``, ``accept_risks``, ``accepted_findings``), checked with the blueprint's own models.

Strings may reference parameters as ``{{name}}`` (double braces never clash with ``${partition}``-style
substitutions or IAM policy variables). A blueprint job function names a built-in with ``library:`` and sets
parameters with ``parameters:``; its own grants, statements and declarations extend the built-in's
(:func:`effective_job` is the one place that merges them).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import pydantic
import yaml

from guardrails.blueprint.schema import (
    AcceptedFinding,
    AcceptedRisk,
    Grant,
    JobFunction,
    Statement,
    UnknownActionAllowed,
)
from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import GuardrailsError
from guardrails.model.abac import access_tags, protect_access_tags
from guardrails.model.catalog import ParameterError

YamlPath = tuple[str | int, ...]

_PARAM = re.compile(r"\{\{\s*([A-Za-z0-9_.-]*)\s*\}\}")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

# What a library file may hold: documentation, parameters and the permissions (blueprint structures).
_DOC_KEYS = ("id", "title", "description", "tasks", "does_not_grant", "source", "aws_counterpart")
_PERMISSION_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "grants": Grant,
    "statements": Statement,
    "accept_risks": AcceptedRisk,
    "accepted_findings": AcceptedFinding,
    "unknown_actions_allowed": UnknownActionAllowed,
}
_KEYS = {*_DOC_KEYS, "parameters", "managed_policies", *_PERMISSION_MODELS}
_REQUIRED = {*_DOC_KEYS}
_PARAMETER_KEYS = {"description", "default", "pattern"}


class LibraryError(GuardrailsError):
    """The packaged library itself is broken (a bug in guardrails, not in the blueprint)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    default: str | None  # None: the blueprint must set it
    pattern: str | None = None  # a value must match this regular expression (full match)


@dataclass(frozen=True)
class BuiltinJob:
    """One built-in job function. ``templates`` hold its permissions with ``{{parameter}}`` references left in."""

    id: str
    title: str
    description: str
    tasks: tuple[str, ...]
    does_not_grant: tuple[str, ...]
    source: str
    aws_counterpart: str
    parameters: dict[str, Parameter]
    templates: dict[str, Any]  # grants, statements, managed_policies, accept_risks, accepted_findings, …
    file: str = ""

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(self.parameters)


@dataclass(frozen=True)
class EffectivePermissions:
    """A built-in's permissions with its parameters expanded, as blueprint models."""

    grants: tuple[Grant, ...] = ()
    statements: tuple[Statement, ...] = ()
    managed_policies: tuple[str, ...] = ()
    accept_risks: tuple[AcceptedRisk, ...] = ()
    accepted_findings: tuple[AcceptedFinding, ...] = ()
    unknown_actions_allowed: tuple[UnknownActionAllowed, ...] = ()


@dataclass(frozen=True)
class EffectiveJob:
    """A blueprint job function merged with the built-in it names: the built-in's permissions, then its own.

    ``*_paths`` say where each item is written, relative to the job function's YAML path: ``("grants", 2)`` for
    the blueprint's own third grant, ``("library",)`` for everything the built-in contributes (so diagnostics
    about a built-in's grant point at the blueprint line that asked for it).
    """

    library: str | None
    aws_counterpart: str | None  # the built-in's closest AWS managed policy (path/name), if it names one
    description: str
    grants: tuple[Grant, ...]
    statements: tuple[Statement, ...]
    managed_policies: tuple[str, ...]
    accept_risks: tuple[AcceptedRisk, ...]
    accepted_findings: tuple[AcceptedFinding, ...]
    unknown_actions_allowed: tuple[UnknownActionAllowed, ...]
    grant_paths: tuple[YamlPath, ...]
    statement_paths: tuple[YamlPath, ...]
    accept_risk_paths: tuple[YamlPath, ...]


# ----------------------------------------------------------------------------- loading


def parse_builtin(text: str, file_name: str) -> BuiltinJob:
    """One library file → :class:`BuiltinJob`; anything malformed raises :class:`LibraryError` naming the file."""
    try:
        raw = safe_load(text)
    except yaml.YAMLError as exc:
        raise LibraryError(f"job-function library file {file_name}: {exc}") from None
    if not isinstance(raw, dict):
        raise LibraryError(f"job-function library file {file_name}: expected a mapping")
    unknown, missing = set(raw) - _KEYS, _REQUIRED - set(raw)
    if unknown or missing:
        wrong = [f"{label} keys {', '.join(sorted(keys))}" for label, keys in (("unknown", unknown), ("missing", missing))
                 if keys]
        raise LibraryError(f"job-function library file {file_name}: {'; '.join(wrong)}")
    builtin_id = raw["id"]
    if not isinstance(builtin_id, str) or not _ID.match(builtin_id):
        raise LibraryError(f"job-function library file {file_name}: id {builtin_id!r} must be lowercase letters, "
                           "digits and dashes")
    if file_name != f"{builtin_id}.yaml":
        raise LibraryError(f"job-function library file {file_name} must be named after its id {builtin_id!r}")
    for key in ("tasks", "does_not_grant"):
        if not isinstance(raw[key], list) or not raw[key] or not all(isinstance(v, str) and v for v in raw[key]):
            raise LibraryError(f"built-in {builtin_id}: `{key}` must be a non-empty list of strings")
    parameters = _parse_parameters(builtin_id, raw.get("parameters") or {})
    templates = {key: raw[key] for key in (*_PERMISSION_MODELS, "managed_policies") if raw.get(key)}
    if not templates.get("grants") and not templates.get("statements") and not templates.get("managed_policies"):
        raise LibraryError(f"built-in {builtin_id} grants nothing")
    builtin = BuiltinJob(
        id=builtin_id, title=_text(raw["title"]), description=_text(raw["description"]),
        tasks=tuple(_text(t) for t in raw["tasks"]), does_not_grant=tuple(_text(t) for t in raw["does_not_grant"]),
        source=_text(raw["source"]), aws_counterpart=str(raw["aws_counterpart"]), parameters=parameters,
        templates=templates, file=file_name)
    _check_templates(builtin)
    return builtin


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _parse_parameters(builtin_id: str, raw: Any) -> dict[str, Parameter]:
    if not isinstance(raw, dict):
        raise LibraryError(f"built-in {builtin_id}: `parameters` must be a mapping")
    out: dict[str, Parameter] = {}
    for name, spec in raw.items():
        if not _PARAM_NAME.match(str(name)) or not isinstance(spec, dict) or set(spec) - _PARAMETER_KEYS \
                or not spec.get("description"):
            raise LibraryError(f"built-in {builtin_id}: parameter {name!r} needs a snake_case name and a description "
                               f"(keys: {', '.join(sorted(_PARAMETER_KEYS))})")
        default = spec.get("default")
        pattern = spec.get("pattern")
        if pattern is not None:
            re.compile(pattern)
            if default is not None and not re.fullmatch(pattern, str(default)):
                raise LibraryError(f"built-in {builtin_id}: default of {name!r} does not match its pattern")
        out[name] = Parameter(name, _text(spec["description"]), None if default is None else str(default), pattern)
    return out


def _check_templates(builtin: BuiltinJob) -> None:
    """Every ``{{reference}}`` names a declared parameter, every parameter is used, and the permissions are
    valid blueprint structures once the defaults (or placeholder values) are filled in."""
    used = set(_references(builtin.templates))
    undeclared = used - set(builtin.parameters)
    if undeclared:
        raise LibraryError(f"built-in {builtin.id} references undeclared parameters {sorted(undeclared)}")
    unused = set(builtin.parameters) - used
    if unused:
        raise LibraryError(f"built-in {builtin.id} declares parameters it never uses: {sorted(unused)}")
    sample = {p.name: p.default if p.default is not None else f"sample-{p.name.replace('_', '-')}"
              for p in builtin.parameters.values()}
    try:
        _models(builtin.id, _expand(builtin.templates, sample))
    except (pydantic.ValidationError, ParameterError) as exc:
        raise LibraryError(f"built-in {builtin.id} ({builtin.file}): {exc}") from None


def _references(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from _PARAM.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _references(key)
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def load_library_from(files: Iterable[tuple[str, str]]) -> dict[str, BuiltinJob]:
    """A registry from ``(file name, text)`` pairs; a repeated id is a packaging bug and raises."""
    library: dict[str, BuiltinJob] = {}
    for file_name, text in sorted(files):
        builtin = parse_builtin(text, file_name)
        if builtin.id in library:
            raise LibraryError(f"duplicate job-function id {builtin.id!r} in the library ({file_name} and "
                               f"{library[builtin.id].file})")
        library[builtin.id] = builtin
    return library


def _library_files(folder: Traversable) -> list[tuple[str, str]]:
    return [(entry.name, entry.read_text("utf-8")) for entry in folder.iterdir() if entry.name.endswith(".yaml")]


@cache
def load_library() -> dict[str, BuiltinJob]:
    """Every packaged built-in job function by id."""
    return load_library_from(_library_files(resources.files("guardrails.data").joinpath("job_functions")))


def aws_counterpart(builtin_id: str) -> str | None:
    """The closest AWS managed policy (path/name) of a built-in, or None for an unknown id."""
    builtin = load_library().get(builtin_id)
    return builtin.aws_counterpart if builtin else None


# ----------------------------------------------------------------------------- parameters


def resolve_parameters(builtin: BuiltinJob, given: Mapping[str, str]) -> dict[str, str]:
    """Given values merged with the defaults; unknown, missing or ill-formed values raise :class:`ParameterError`."""
    for name in given:
        if name not in builtin.parameters:
            close = difflib.get_close_matches(name, sorted(builtin.parameters), n=1)
            known = ", ".join(sorted(builtin.parameters)) or "none"
            hint = f"did you mean `{close[0]}`?" if close else f"its parameters: {known}"
            raise ParameterError(f"built-in job function {builtin.id!r} has no parameter {name!r}", hint, name)
    values: dict[str, str] = {}
    for name, spec in builtin.parameters.items():
        if name in given:
            value = given[name]
            if not isinstance(value, str) or not value:
                raise ParameterError(f"parameter {name!r} of {builtin.id!r} must be a non-empty string",
                                     spec.description, name)
            if spec.pattern and not re.fullmatch(spec.pattern, value):
                raise ParameterError(f"parameter {name!r} of {builtin.id!r}: {value!r} does not match "
                                     f"{spec.pattern}", spec.description, name)
            if _PARAM.search(value) or "{{" in value or "}}" in value:
                raise ParameterError(f"parameter {name!r} of {builtin.id!r} may not contain {{{{…}}}}",
                                     spec.description, name)
            values[name] = value
        elif spec.default is not None:
            values[name] = spec.default
        else:
            raise ParameterError(f"built-in job function {builtin.id!r} needs parameter {name!r}",
                                 f"set it under `parameters:` — {spec.description}", name)
    return values


def _expand(template: Any, values: Mapping[str, str]) -> Any:
    """Replace ``{{name}}`` in every string (pure); a reference left over raises :class:`ParameterError`."""
    if isinstance(template, str):
        def replace(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                raise ParameterError(f"{{{{{match.group(1)}}}}} is not a parameter", "", match.group(1))
            return values[match.group(1)]

        out = _PARAM.sub(replace, template)
        if "{{" in out or "}}" in out:
            raise ParameterError(f"unexpanded parameter reference in {out!r}")
        return out
    if isinstance(template, dict):
        return {_expand(key, values): _expand(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_expand(item, values) for item in template]
    return template  # numbers, booleans, dates (review_by)


def _models(builtin_id: str, expanded: Mapping[str, Any]) -> EffectivePermissions:
    built: dict[str, tuple[Any, ...]] = {}
    for key, model in _PERMISSION_MODELS.items():
        built[key] = tuple(model.model_validate(item) for item in expanded.get(key) or ())
    policies = expanded.get("managed_policies") or ()
    if not all(isinstance(p, str) for p in policies):
        raise ParameterError(f"built-in {builtin_id}: managed_policies must be strings")
    return EffectivePermissions(managed_policies=tuple(policies), **built)


@cache
def _expanded(builtin_id: str, values: tuple[tuple[str, str], ...]) -> EffectivePermissions:
    builtin = load_library()[builtin_id]
    return _models(builtin.id, _expand(builtin.templates, dict(values)))


def expand_builtin(builtin: BuiltinJob, given: Mapping[str, str]) -> EffectivePermissions:
    """The built-in's permissions with parameters resolved and expanded (raises :class:`ParameterError`)."""
    values = resolve_parameters(builtin, given)
    if load_library().get(builtin.id) is builtin:
        return _expanded(builtin.id, tuple(sorted(values.items())))
    return _models(builtin.id, _expand(builtin.templates, values))


# ----------------------------------------------------------------------------- merging


def effective_job(spec: JobFunction, library: Mapping[str, BuiltinJob] | None = None) -> EffectiveJob:
    """The job function as compiled: the built-in's permissions (parameters expanded) followed by its own.

    Raises ``KeyError`` for an unknown built-in and :class:`ParameterError` for bad parameters; the model stage
    reports both as located diagnostics before anything calls this.
    """
    library = load_library() if library is None else library
    base = EffectivePermissions()
    description, counterpart = spec.description, None
    if spec.library is not None:
        builtin = library[spec.library]
        base = expand_builtin(builtin, spec.parameters)
        description, counterpart = description or builtin.description, builtin.aws_counterpart
    own_findings = {f.check for f in spec.accepted_findings}
    # Grants that follow a tag (names or conditions): the tag is what the job reaches, so it may not be changed
    # (model.abac).
    protect = protect_access_tags(access_tags((*base.grants, *spec.grants), (*base.statements, *spec.statements)))
    base = replace(base, statements=(*base.statements, *protect))
    return EffectiveJob(
        library=spec.library,
        aws_counterpart=counterpart,
        description=description,
        grants=(*base.grants, *spec.grants),
        statements=(*base.statements, *spec.statements),
        managed_policies=tuple(dict.fromkeys((*base.managed_policies, *spec.managed_policies))),
        accept_risks=(*base.accept_risks, *spec.accept_risks),
        accepted_findings=(*(f for f in base.accepted_findings if f.check not in own_findings),
                           *spec.accepted_findings),
        unknown_actions_allowed=(*base.unknown_actions_allowed, *spec.unknown_actions_allowed),
        grant_paths=_paths(len(base.grants), "grants", len(spec.grants)),
        statement_paths=_paths(len(base.statements), "statements", len(spec.statements)),
        accept_risk_paths=_paths(len(base.accept_risks), "accept_risks", len(spec.accept_risks)))


def _paths(inherited: int, key: str, own: int) -> tuple[YamlPath, ...]:
    return (*((("library",),) * inherited), *((key, i) for i in range(own)))


# ----------------------------------------------------------------------------- documentation


def library_markdown(library: Mapping[str, BuiltinJob] | None = None) -> str:
    """``docs/job-functions.md``: every built-in with its tasks, exclusions, parameters and permissions."""
    library = load_library() if library is None else library
    lines = [
        "# Built-in job functions",
        "",
        "<!-- Generated from guardrails/data/job_functions/ by `guardrails library --markdown`; do not edit. -->",
        "",
        "A blueprint job function names one of these with `library:`, sets its `parameters:`, and may add its own",
        "`grants`, `statements`, `managed_policies` and declarations (see [the blueprint format](blueprint.md#built-in-job-functions)).",
        "Write and permissions-management actions are granted on the workload's own resources (by name prefix, tag",
        "or role path) wherever the action supports resource-level scoping; the risk analysis finds no undeclared",
        "privilege escalation or data exfiltration in any of them (tests/test_library.py).",
        "",
        "| id | title | closest AWS managed policy |",
        "|---|---|---|",
    ]
    lines += [f"| [`{b.id}`](#{b.id}) | {b.title} | `{b.aws_counterpart}` |" for b in library.values()]
    for b in library.values():
        lines += ["", f"## {b.id}", "", f"**{b.title}.** {b.description}", "",
                  f"Source: {b.source} Closest AWS managed policy: `{b.aws_counterpart}`.", "",
                  "Supports:", ""]
        lines += [f"- {task}" for task in b.tasks]
        lines += ["", "Deliberately does not grant:", ""]
        lines += [f"- {item}" for item in b.does_not_grant]
        if b.parameters:
            lines += ["", "| parameter | default | meaning |", "|---|---|---|"]
            lines += [f"| `{p.name}` | {f'`{p.default}`' if p.default is not None else '(required)'} | "
                      f"{p.description} |" for p in b.parameters.values()]
        lines += ["", "Permissions:", ""]
        for grant in b.templates.get("grants", ()):
            resources_ = ", ".join(f"`{r}`" for r in grant.get("resources", ["*"]))
            extra = ""
            if grant.get("include"):
                extra += f"; also {', '.join(f'`{a}`' for a in grant['include'])}"
            if grant.get("exclude"):
                extra += f"; except {', '.join(f'`{a}`' for a in grant['exclude'])}"
            if grant.get("conditions"):
                extra += "; when " + ", ".join(f"{k}: {v}" for k, v in grant["conditions"].items())
            lines.append(f"- `{grant['service']}` {', '.join(grant['access'])} on {resources_}{extra}")
        for statement in b.templates.get("statements", ()):
            actions = statement.get("actions") or statement.get("not_actions") or []
            where = statement.get("resources") or statement.get("not_resources") or []
            effect = statement.get("effect", "Allow")
            condition = ""
            if statement.get("conditions"):
                condition = " when " + "; ".join(f"{op} {k} = {v}" for op, block in statement["conditions"].items()
                                                 for k, v in block.items())
            lines.append(f"- {effect} {', '.join(f'`{a}`' for a in actions)} on "
                         f"{', '.join(f'`{r}`' for r in where)}{condition}")
        for policy in b.templates.get("managed_policies", ()):
            lines.append(f"- AWS managed policy `{policy}`")
        for risk in b.templates.get("accept_risks", ()):
            lines.append(f"- accepts `{risk['risk']}`: {_text(risk['reason'])}")
    return "\n".join(lines) + "\n"
