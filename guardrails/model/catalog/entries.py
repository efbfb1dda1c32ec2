"""The catalog's entries: their types, loading from guardrails/data/catalog and the rules an entry must follow
(the package docstring explains them)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import GuardrailsError

_PARAM = re.compile(r"\$([a-z_]+)")
_SID = re.compile(r"^[A-Za-z0-9]+$")
_ACTION = re.compile(r"^[A-Za-z0-9*?-]+:[A-Za-z0-9*?-]+$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_ARN = re.compile(r"^arn:([^:\s]+):([^:\s]*):([^:\s]*):([^:\s]*):(\S+)$")
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

KINDS = ("scp", "rcp")
# How the model stage checks a blueprint's values (guardrails.model.build._check_guardrail_refs).

TYPES = {
    "strings": "any text",
    "regions": "AWS region names",
    "arns": "ARNs or ARN patterns (arn:${partition}:service:region:account:resource)",
    "account_ids": "12-digit AWS account ids",
    "org_ids": "AWS Organizations ids (o-…)",
    "actions": "IAM actions (service:Action, wildcards allowed)",
    "boolean": "true or false",
}
# Values the synthesize stage (and the model stage, for its checks) passes to resolve_parameters.
CONTEXT_KEYS = {
    "allowed_regions": "the organization's `allowed_regions`",
    "privileged_roles": "role names (path/name, `*` wildcards) of the break-glass role and the deployment principals",
    "org_id": "the organization id (`organization.id`, o-…)",
    "boundary_policies": "ARN patterns of the blueprint's permission boundaries, "
                         "`arn:${partition}:iam::*:policy/guardrails/<name>`, sorted",
}
_ENTRY_KEYS = {"id", "title", "kind", "rationale", "source", "source_url", "exempt_privileged", "parameters",
               "exception_tag", "locks_break_glass", "statements"}
_PARAMETER_KEYS = {"description", "type", "default", "default_from", "single", "optional", "arn_of_name"}
_STATEMENT_KEYS = {"sid", "effect", "actions", "not_actions", "resources", "not_resources", "conditions"}
_TAG_KEY = re.compile(r"^(aws:principaltag|aws:resourcetag|iam:resourcetag)/(.+)$", re.IGNORECASE)
TAG_PROTECTION_ACTIONS = ("iam:TagUser", "iam:UntagUser", "iam:TagRole", "iam:UntagRole")
SESSION_TAG_ACTION = "sts:TagSession"


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
    type: str = "strings"
    single: bool = False
    optional: bool = False
    arn_of_name: str | None = None  # e.g. arn:${partition}:iam::*:role/{}: suggested for a bare name


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
    exception_tag: str | None = None
    # Why this guardrail denies break-glass too, on purpose (the lockout proof accepts its denials); None: it must not.
    locks_break_glass: str | None = None


# ----------------------------------------------------------------------------- loading


@cache
def load_catalog() -> dict[str, Guardrail]:
    """Every packaged guardrail by id; a broken entry or duplicate id is a packaging bug and raises."""
    catalog: dict[str, Guardrail] = {}
    folder = resources.files("guardrails.data").joinpath("catalog")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        guardrail = parse_entry(safe_load(entry.read_text("utf-8")), entry.name)
        if guardrail.id in catalog:
            raise CatalogError(f"duplicate guardrail id {guardrail.id!r} in the packaged catalog ({entry.name})")
        if entry.name != f"{guardrail.id}.yaml":
            raise CatalogError(f"catalog file {entry.name} must be named after its id {guardrail.id!r}")
        catalog[guardrail.id] = guardrail
    return catalog


def parse_entry(raw: Any, filename: str = "<entry>") -> Guardrail:
    """One catalog entry (parsed YAML) as a :class:`Guardrail`, after checking every rule of the format."""
    problems = _entry_problems(raw)
    if problems:
        raise CatalogError(f"catalog entry {filename}: " + "; ".join(problems))
    params = {name: _parameter(name, spec or {}) for name, spec in (raw.get("parameters") or {}).items()}
    return Guardrail(
        id=raw["id"], title=raw["title"], kind=raw["kind"], rationale=" ".join(raw["rationale"].split()),
        source=" ".join(str(raw["source"]).split()), source_url=raw.get("source_url", ""),
        exempt_privileged=bool(raw.get("exempt_privileged")), parameters=params,
        statements=tuple(raw["statements"]), exception_tag=raw.get("exception_tag"),
        locks_break_glass=_locks_break_glass(raw.get("locks_break_glass")))


def _locks_break_glass(value: Any) -> str | None:
    """``locks_break_glass: {intended: true, reason: ...}`` → the reason; a denial of break-glass needs one."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("intended") is not True or not str(value.get("reason", "")).strip():
        raise CatalogError("locks_break_glass must be {intended: true, reason: <why break-glass is denied too>}")
    return " ".join(str(value["reason"]).split())


def _parameter(name: str, spec: dict[str, Any]) -> Parameter:
    kind = spec.get("type", "strings")
    default: tuple[str, ...] | None
    if kind == "boolean":
        default = ("true",) if spec.get("default") else ()
    else:
        default = tuple(str(v) for v in spec["default"]) if "default" in spec else None
    optional = kind == "boolean" or bool(spec.get("optional")) or default == ()
    return Parameter(name, " ".join(str(spec.get("description", "")).split()), default, spec.get("default_from"),
                     kind, bool(spec.get("single")), optional, spec.get("arn_of_name"))


def _entry_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["an entry is a mapping"]
    problems = [f"unknown key {key!r}" for key in raw if key not in _ENTRY_KEYS]
    problems += [f"missing {key!r}" for key in ("id", "title", "kind", "rationale", "source", "source_url",
                                                 "statements") if not raw.get(key)]
    if raw.get("kind") and raw["kind"] not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}, not {raw['kind']!r}")
    specs = raw.get("parameters") or {}
    if not isinstance(specs, dict):
        return [*problems, "parameters is a mapping"]
    for name, spec in specs.items():
        problems += [f"parameter {name!r}: {p}" for p in _parameter_problems(name, spec or {})]
    statements = raw.get("statements") or []
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        return [*problems, "statements is a list of mappings"]
    if problems:
        return problems
    params = {name: _parameter(name, spec or {}) for name, spec in specs.items()}
    sids = [s.get("sid") for s in statements]
    for index, statement in enumerate(statements):
        problems += [f"statement {sids[index] or index + 1}: {p}"
                     for p in _statement_problems(statement, raw, params)]
    problems += [f"Sid {sid!r} is used twice" for sid in sorted({s for s in sids if s and sids.count(s) > 1})]
    used = {name for statement in statements for name in _references(statement)}
    problems += [f"parameter {name!r} is never used" for name in params if name not in used]
    problems += _exception_tag_problems(raw, params)
    return problems


def _parameter_problems(name: str, spec: dict[str, Any]) -> list[str]:
    problems = [f"unknown key {key!r}" for key in spec if key not in _PARAMETER_KEYS]
    if not re.fullmatch(r"[a-z_]+", name):
        problems.append("names are lowercase letters and underscores")
    kind = spec.get("type", "strings")
    if kind not in TYPES:
        problems.append(f"type must be one of {', '.join(TYPES)}, not {kind!r}")
    if spec.get("default_from") is not None and spec["default_from"] not in CONTEXT_KEYS:
        problems.append(f"default_from must be one of {', '.join(CONTEXT_KEYS)}")
    if "default" in spec:
        default = spec["default"]
        if kind == "boolean":
            if not isinstance(default, bool):
                problems.append("a boolean default is true or false")
        elif not isinstance(default, list) or not all(isinstance(v, str) and v for v in default):
            problems.append("default is a list of non-empty strings")
        elif spec.get("single") and len(default) > 1:
            problems.append("a single-valued parameter has at most one default value")
    if kind == "boolean" and spec.get("default_from"):
        problems.append("a boolean parameter takes no default_from")
    return problems


def _strings(template: Any) -> Iterable[tuple[str, str]]:
    """(where, text) of every string of a template: ``key`` for mapping keys, ``value`` for values."""
    if isinstance(template, dict):
        for key, value in template.items():
            yield "key", str(key)
            yield from _strings(value)
    elif isinstance(template, list):
        for item in template:
            if isinstance(item, str):
                yield "item", item
            else:
                yield from _strings(item)
    elif isinstance(template, str):
        yield "value", template


def _references(template: Any) -> set[str]:
    return {name for _, text in _strings(template) for name in _PARAM.findall(text)}


def _statement_problems(statement: dict[str, Any], raw: dict[str, Any], params: dict[str, Parameter]) -> list[str]:
    problems = [f"unknown key {key!r}" for key in statement if key not in _STATEMENT_KEYS]
    if not isinstance(statement.get("sid"), str) or not _SID.match(statement["sid"]):
        problems.append("needs a sid of letters and digits")
    if statement.get("effect") != "Deny":
        problems.append("catalog statements are Deny statements")
    if ("actions" in statement) == ("not_actions" in statement):
        problems.append("needs exactly one of actions and not_actions")
    if ("resources" in statement) == ("not_resources" in statement):
        problems.append("needs exactly one of resources and not_resources")
    if raw.get("kind") == "rcp" and "not_actions" in statement:
        problems.append("an RCP has no NotAction")
    for element in ("actions", "not_actions", "resources", "not_resources"):
        if element in statement and not (isinstance(statement[element], list) and statement[element]):
            problems.append(f"{element} is a non-empty list")
    conditions = statement.get("conditions") or {}
    if not isinstance(conditions, dict) or not all(isinstance(b, dict) for b in conditions.values()):
        return [*problems, "conditions map operators to {key: [values]}"]
    for name in sorted(_references(statement)):
        if name not in params:
            problems.append(f"${name} names no parameter")
    for element in ("actions", "not_actions", "resources", "not_resources"):
        for name in sorted(_references(statement.get(element))):
            if name in params and params[name].optional:
                problems.append(f"optional parameter ${name} may appear only in condition values ({element})")
    for operator, block in conditions.items():
        for key, value in block.items():
            for name in _PARAM.findall(str(key)):
                if name in params and (params[name].optional or not params[name].single):
                    problems.append(f"${name} in the condition key {key!r} must be a required single-valued parameter")
            if not isinstance(value, list):
                problems.append(f"condition {operator} {key} takes a list of values")
                continue
            if raw.get("exempt_privileged") and operator == "ArnNotLike" and str(key).lower() == "aws:principalarn":
                problems.append("exempt_privileged adds ArnNotLike aws:PrincipalArn itself; this one would be "
                                "overwritten (use ArnNotLikeIfExists for further exemptions: it compares ARNs part by part, StringNotLike lets * cross : and /)")
    for where, text in _strings({k: v for k, v in statement.items() if k not in ("actions", "not_actions",
                                                                                   "resources", "not_resources")}):
        if where == "value":
            for name in _PARAM.findall(text):
                if name in params and not params[name].single:
                    problems.append(f"${name} in the scalar {text!r} must be single-valued")
    return problems


def _exception_tag_problems(raw: dict[str, Any], params: dict[str, Parameter]) -> list[str]:
    """Every tag-based exception comes with a Deny on changing that tag (see the module docstring)."""
    declared = raw.get("exception_tag")
    problems: list[str] = []
    principal_tag = False
    exceptions = 0
    for statement in raw["statements"]:
        for block in (statement.get("conditions") or {}).values():
            for key in block:
                found = _TAG_KEY.match(str(key))
                if not found:
                    continue
                exceptions += 1
                principal_tag |= found.group(1).lower() == "aws:principaltag"
                if declared is None:
                    problems.append(f"the condition on {key!r} is a tag-based exception: declare exception_tag and "
                                    "protect the tag with a Deny on changing it")
                elif found.group(2) != f"${declared}":
                    problems.append(f"the tag key of {key!r} must be ${declared} (the exception_tag)")
    if declared is None:
        return problems
    if declared not in params or not params[declared].single or params[declared].optional:
        return [*problems, f"exception_tag {declared!r} must name a required single-valued parameter"]
    if not exceptions:
        problems.append(f"exception_tag {declared!r} is declared but no condition uses the tag")
    needed = {a.lower() for a in TAG_PROTECTION_ACTIONS} | ({SESSION_TAG_ACTION.lower()} if principal_tag else set())
    if not any(_protects_tag(statement, declared, needed) for statement in raw["statements"]):
        problems.append(f"exception_tag {declared!r} needs a tag-protection statement: Deny "
                        f"{', '.join(sorted(needed))} with ForAnyValue:… aws:TagKeys [${declared}]")
    return problems


def _protects_tag(statement: dict[str, Any], parameter: str, needed: set[str]) -> bool:
    if statement.get("effect") != "Deny" or not needed <= {str(a).lower() for a in statement.get("actions") or ()}:
        return False
    return any(operator.startswith("ForAnyValue:") and key.lower() == "aws:tagkeys" and f"${parameter}" in values
               for operator, block in (statement.get("conditions") or {}).items()
               for key, values in block.items() if isinstance(values, list))
