"""The built-in guardrail catalog: data files interpreted by small pure functions.

Each ``guardrails/data/catalog/<id>.yaml`` holds one guardrail: id, title, rationale,
source, parameters and statement templates. A list item ``$name`` expands to the
parameter's values; ``…/$name`` inside a string expands to one string per value.
Statements of guardrails marked ``exempt_privileged`` get an ``ArnNotLike
aws:PrincipalArn`` exemption for the break-glass role and the deployment principals.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from guardrails.diagnostics import GuardrailsError

_PARAM = re.compile(r"\$([a-z_]+)")


class CatalogError(GuardrailsError):
    """The packaged catalog itself is broken (a bug in guardrails, not in the blueprint)."""


class ParameterError(ValueError):
    """A blueprint passed a bad parameter to a catalog guardrail or a built-in job function; ``parameter``
    names the one at fault."""

    def __init__(self, message: str, hint: str = "", parameter: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.parameter = parameter


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    default: tuple[str, ...] | None
    default_from: str | None


@dataclass(frozen=True)
class Guardrail:
    id: str
    title: str
    kind: str
    rationale: str
    source: str
    source_url: str
    exempt_privileged: bool
    parameters: dict[str, Parameter]
    statements: tuple[dict[str, Any], ...]


@cache
def load_catalog() -> dict[str, Guardrail]:
    """Every packaged guardrail by id; duplicate ids are a packaging bug and raise."""
    catalog: dict[str, Guardrail] = {}
    folder = resources.files("guardrails.data").joinpath("catalog")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(entry.read_text("utf-8"))
        guardrail_id = raw["id"]
        if guardrail_id in catalog:
            raise CatalogError(f"duplicate guardrail id {guardrail_id!r} in the packaged catalog ({entry.name})")
        if entry.name != f"{guardrail_id}.yaml":
            raise CatalogError(f"catalog file {entry.name} must be named after its id {guardrail_id!r}")
        params = {
            name: Parameter(name, spec.get("description", ""),
                            tuple(spec["default"]) if "default" in spec else None, spec.get("default_from"))
            for name, spec in (raw.get("parameters") or {}).items()
        }
        catalog[guardrail_id] = Guardrail(
            id=guardrail_id, title=raw["title"], kind=raw["kind"], rationale=" ".join(raw["rationale"].split()),
            source=" ".join(str(raw["source"]).split()), source_url=raw.get("source_url", ""),
            exempt_privileged=bool(raw.get("exempt_privileged")), parameters=params,
            statements=tuple(raw["statements"]))
    return catalog


def resolve_parameters(guardrail: Guardrail, given: dict[str, Any], context: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Merge given parameters with defaults; unknown or ill-typed parameters raise :class:`ParameterError`."""
    values: dict[str, tuple[str, ...]] = {}
    for name in given:
        if name not in guardrail.parameters:
            close = difflib.get_close_matches(name, sorted(guardrail.parameters), n=1)
            known = ", ".join(sorted(guardrail.parameters)) or "none"
            hint = f"did you mean `{close[0]}`?" if close else f"its parameters: {known}"
            raise ParameterError(f"guardrail {guardrail.id!r} has no parameter {name!r}", hint, name)
    for name, spec in guardrail.parameters.items():
        if name in given:
            value = given[name]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ParameterError(f"parameter {name!r} of {guardrail.id!r} must be a non-empty list of strings",
                                     spec.description, name)
            values[name] = tuple(value)
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.default_from is not None:
            values[name] = context[spec.default_from]
        else:
            raise ParameterError(f"guardrail {guardrail.id!r} needs parameter {name!r}", spec.description, name)
    return values


def expand(template: Any, values: dict[str, tuple[str, ...]]) -> Any:
    """Expand ``$param`` references in a statement template (pure)."""
    if isinstance(template, dict):
        return {key: expand(value, values) for key, value in template.items()}
    if isinstance(template, list):
        out: list[Any] = []
        for item in template:
            if isinstance(item, str) and _PARAM.search(item):
                name = _PARAM.search(item).group(1)  # type: ignore[union-attr]
                out.extend(item.replace(f"${name}", value) for value in values[name])
            else:
                out.append(expand(item, values))
        return out
    return template
