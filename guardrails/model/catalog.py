"""The built-in guardrail catalog: data files interpreted by small pure functions.

Each ``guardrails/data/catalog/<id>.yaml`` holds one guardrail:

- ``id``, ``title``, ``kind`` (``scp``: a service control policy; ``rcp``: a resource control policy, which
  synthesize renders with ``Principal: "*"``), ``rationale``, ``source`` (AWS sample, Control Tower control,
  CIS item) and ``source_url``;
- ``exempt_privileged``: synthesize adds an ``ArnNotLike aws:PrincipalArn`` exemption for the break-glass role
  and the deployment principals to every statement (a template may therefore not use that operator and key);
- ``parameters``: ``name → {description, type, default, default_from, single, optional, arn_of_name}``.
  ``type`` is one of :data:`TYPES` and says how the model stage checks a blueprint's values. ``default_from``
  names a value of the synthesize context (:data:`CONTEXT_KEYS`); when the context has no value for it (the
  key is missing or empty), ``default`` applies. ``single``: at most one value. ``optional`` (implied by an
  empty default and by ``type: boolean``): the parameter may have no value at all;
- ``exception_tag``: the parameter holding the tag key of a tag-based exception (see below);
- ``statements``: statement templates (``sid, effect, actions | not_actions, resources | not_resources,
  conditions``), every one a Deny.

Expansion (:func:`expand`): a list item containing ``$name`` becomes one string per value; a mapping key or a
scalar string containing ``$name`` takes the parameter's single value. Inside ``conditions`` a key whose
value list expands to nothing is dropped, then an operator left empty, then the whole Condition: this is how
an optional parameter switches a condition off. A ``boolean`` parameter expands to ``["true"]`` when set and
to nothing otherwise, so that ``Null: {aws:AssumedRoot: [$flag]}`` exists only when ``flag`` is true. Because
dropping a condition widens a Deny, optional parameters may appear only in condition values (checked at load).

Tag-based exceptions: a condition on ``aws:PrincipalTag/…``, ``aws:ResourceTag/…`` or ``iam:ResourceTag/…`` is
an exception anyone able to set that tag could grant themselves. An entry using one must declare
``exception_tag`` (the tag key must be ``…/$<exception_tag>``) and carry a Deny on setting or removing that
tag: ``iam:TagUser, iam:UntagUser, iam:TagRole, iam:UntagRole`` (and ``sts:TagSession`` for principal tags,
which session tags also set) under a ``ForAnyValue:`` condition on ``aws:TagKeys`` naming the tag key.
:func:`load_catalog` rejects an entry breaking any of these rules (a packaging bug, :class:`CatalogError`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from guardrails.diagnostics import GuardrailsError
from guardrails.iam.documents import condition_values

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
        guardrail = parse_entry(yaml.safe_load(entry.read_text("utf-8")), entry.name)
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
                                "overwritten (use StringNotLike for further exemptions)")
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


# ----------------------------------------------------------------------------- parameters


def resolve_parameters(guardrail: Guardrail, given: dict[str, Any], context: Mapping[str, tuple[str, ...]]
                       ) -> dict[str, tuple[str, ...]]:
    """Merge given parameters with defaults; unknown or ill-typed parameters raise :class:`ParameterError`.

    Values are checked for their shape here (lists of strings, booleans, single values); the model stage checks
    them against their ``type`` with :func:`value_problems`.
    """
    values: dict[str, tuple[str, ...]] = {}
    for name in given:
        if name not in guardrail.parameters:
            close = difflib.get_close_matches(name, sorted(guardrail.parameters), n=1)
            known = ", ".join(sorted(guardrail.parameters)) or "none"
            hint = f"did you mean `{close[0]}`?" if close else f"its parameters: {known}"
            raise ParameterError(f"guardrail {guardrail.id!r} has no parameter {name!r}", hint, name)
    for name, spec in guardrail.parameters.items():
        if name in given:
            values[name] = _given_value(guardrail, spec, given[name])
        elif spec.default_from is not None and context.get(spec.default_from):
            values[name] = tuple(context[spec.default_from])
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.default_from is not None:
            raise ParameterError(f"guardrail {guardrail.id!r} needs parameter {name!r}: the organization has no "
                                 f"{spec.default_from.replace('_', ' ')} to take it from", spec.description, name)
        else:
            raise ParameterError(f"guardrail {guardrail.id!r} needs parameter {name!r}", spec.description, name)
    return values


def _given_value(guardrail: Guardrail, spec: Parameter, value: Any) -> tuple[str, ...]:
    name = spec.name
    if spec.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ParameterError(f"parameter {name!r} of {guardrail.id!r} is true or false", spec.description, name)
        return ("true",) if value else ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        hint = spec.description
        if spec.type == "account_ids":
            hint = "quote account ids in YAML (\"012345678901\"), or leading zeros are lost"
        raise ParameterError(f"parameter {name!r} of {guardrail.id!r} must be a "
                             f"{'list of strings' if spec.optional else 'non-empty list of strings'}", hint, name)
    if not value and not spec.optional:
        raise ParameterError(f"parameter {name!r} of {guardrail.id!r} must be a non-empty list of strings",
                             spec.description, name)
    if spec.single and len(value) > 1:
        raise ParameterError(f"parameter {name!r} of {guardrail.id!r} takes one value, not {len(value)}",
                             spec.description, name)
    return tuple(value)


def value_problems(spec: Parameter, values: Iterable[str], *, regions: Iterable[str] = (),
                   accounts: Mapping[str, str] | None = None, partition: str = "aws"
                   ) -> list[tuple[int, str, str]]:
    """(index, message, hint) for every value that does not fit the parameter's ``type`` (pure).

    ``regions``: known region names; ``accounts``: the blueprint's account names → ids (for suggestions);
    ``partition``: the organization's partition (an ARN naming another one cannot match anything).
    """
    known_regions = set(regions)
    accounts = dict(accounts or {})
    found: list[tuple[int, str, str]] = []
    for index, value in enumerate(values):
        problem = _value_problem(spec, value, known_regions, accounts, partition)
        if problem:
            found.append((index, *problem))
    return found


def _value_problem(spec: Parameter, value: str, regions: set[str], accounts: dict[str, str],
                   partition: str) -> tuple[str, str] | None:
    if spec.type == "regions" and value not in regions:
        return f"unknown region {value!r}", _did_you_mean(value, regions) or "known: " + ", ".join(sorted(regions)[:12])
    if spec.type == "account_ids" and not _ACCOUNT_ID.match(value):
        if value in accounts:
            return (f"{value!r} is an account name, not an account id",
                    f"did you mean `{accounts[value]}` (account {value})?")
        if value.isdigit():
            return (f"account id {value!r} has {len(value)} digits, not 12",
                    "quote account ids in YAML (\"012345678901\"), or leading zeros are lost")
        close = difflib.get_close_matches(value, sorted(accounts), n=1, cutoff=0.6)
        return (f"{value!r} is not a 12-digit account id",
                f"did you mean `{accounts[close[0]]}` (account {close[0]})?" if close
                else "an account id has 12 digits")
    if spec.type == "org_ids" and not _ORG_ID.match(value):
        return f"{value!r} is not an organization id", "organization ids look like o-a1b2c3d4e5"
    if spec.type == "actions" and value != "*" and not _ACTION.match(value):
        close = value.strip().replace("::", ":") if ":" in value else re.sub(r"[\s/.]+", ":", value.strip(), count=1)
        hint = (f"did you mean `{close}`?" if _ACTION.match(close)
                else "write service:Action, e.g. `ec2:TerminateInstances`")
        return f"{value!r} is not of the form service:Action", hint
    if spec.type == "arns":
        return _arn_problem(spec, value, partition)
    return None


def _arn_problem(spec: Parameter, value: str, partition: str) -> tuple[str, str] | None:
    shape = "arn:${partition}:service:region:account:resource"
    found = _ARN.match(value)
    if not found:
        if not value.startswith("arn:") and spec.arn_of_name and re.fullmatch(r"[\w+=,.@*/-]+", value):
            return f"{value!r} is not an ARN", f"did you mean `{spec.arn_of_name.replace('{}', value.strip('/'))}`?"
        return f"{value!r} is not an ARN", f"an ARN has six parts: {shape}"
    arn_partition = found.group(1)
    if arn_partition not in ("${partition}", "*", partition):
        fixed = "arn:${partition}:" + value.split(":", 2)[2]
        return (f"ARN {value!r} names partition {arn_partition!r}, but the organization is in {partition!r}",
                f"did you mean `{fixed}`?")
    for placeholder in ("${account_id}", "${region}"):
        if placeholder in value:
            return (f"{placeholder} cannot be used in an organization policy",
                    "an SCP or RCP is one document for many accounts and regions: use `*`")
    return None


def _did_you_mean(value: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


# ----------------------------------------------------------------------------- expansion


def expand(template: Any, values: Mapping[str, tuple[str, ...]]) -> Any:
    """Expand ``$param`` references in a statement template (pure); see the module docstring."""
    if isinstance(template, dict):
        out: dict[Any, Any] = {}
        for key, value in template.items():
            if key == "conditions" and isinstance(value, dict):
                conditions = _expand_conditions(value, values)
                if conditions:
                    out[key] = conditions
                continue
            out[_scalar(key, values)] = expand(value, values)
        return out
    if isinstance(template, list):
        items: list[Any] = []
        for item in template:
            if isinstance(item, str) and _PARAM.search(item):
                name = _PARAM.search(item).group(1)  # type: ignore[union-attr]
                items.extend(item.replace(f"${name}", value) for value in values[name])
            else:
                items.append(expand(item, values))
        return items
    if isinstance(template, str):
        return _scalar(template, values)
    return template


def _scalar(text: Any, values: Mapping[str, tuple[str, ...]]) -> Any:
    if not isinstance(text, str) or not _PARAM.search(text):
        return text
    return _PARAM.sub(lambda m: values[m.group(1)][0] if values[m.group(1)] else "", text)


def _expand_conditions(block: dict[str, Any], values: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for operator, keys in block.items():
        expanded: dict[str, Any] = {}
        for key, value in keys.items():
            if any(not values[name] for name in _PARAM.findall(str(key))):
                continue  # an optional tag key without a value: no condition
            result = expand(value, values)
            if isinstance(result, list) and not result:
                continue
            expanded[_scalar(key, values)] = result
        if expanded:
            out[operator] = expanded
    return out


# ----------------------------------------------------------------------------- documentation


_ELEMENTS = (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
             ("not_resources", "NotResource"))


def statement_json(guardrail: Guardrail, template: dict[str, Any], values: Mapping[str, tuple[str, ...]]
                   ) -> dict[str, Any]:
    """A template expanded with ``values`` as AWS policy JSON, the way synthesize renders it (values sorted
    and de-duplicated, conditions by operator and key; ``Principal: "*"`` in RCPs), without the privileged
    exemption and with ``${partition}`` left in place."""
    data = expand(template, values)
    out: dict[str, Any] = {"Sid": data["sid"], "Effect": data["effect"]}
    if guardrail.kind == "rcp":
        out["Principal"] = "*"
    for element, name in _ELEMENTS:
        if data.get(element):
            out[name] = _one_or_list(sorted(set(data[element])))
    conditions: dict[str, dict[str, Any]] = {}
    for operator, key, rendered in sorted((operator, key, tuple(sorted(set(condition_values(value)))))
                                          for operator, block in (data.get("conditions") or {}).items()
                                          for key, value in block.items()):
        conditions.setdefault(operator, {})[key] = _one_or_list(list(rendered))
    if conditions:
        out["Condition"] = conditions
    return out


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


# What docs/catalog.md shows for values taken from the organization (a placeholder per context key).
DOC_CONTEXT = {key: (f"<{key}>",) for key in CONTEXT_KEYS if key not in ("org_id", "boundary_policies")}


def default_values(guardrail: Guardrail, context: Mapping[str, tuple[str, ...]] | None = None
                   ) -> dict[str, tuple[str, ...]]:
    """Every parameter at its default: the context's value where it has one, else the fallback default
    (``context`` defaults to :data:`DOC_CONTEXT`)."""
    return resolve_parameters(guardrail, {}, DOC_CONTEXT if context is None else context)


def policy_json(guardrail: Guardrail, values: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [statement_json(guardrail, t, values) for t in guardrail.statements]}


def minified_size(guardrail: Guardrail, values: Mapping[str, tuple[str, ...]], partition: str = "aws") -> int:
    """Characters of the guardrail alone as a minified policy (exemption not counted)."""
    text = json.dumps(policy_json(guardrail, values), separators=(",", ":"), ensure_ascii=False)
    return len(text.replace("${partition}", partition))


def catalog_markdown(catalog: Mapping[str, Guardrail] | None = None) -> str:
    """``docs/catalog.md``: every guardrail with its rationale, parameters, statements and source."""
    catalog = load_catalog() if catalog is None else catalog
    lines = [
        "# Built-in guardrails",
        "",
        "<!-- Generated from guardrails/data/catalog/ by `guardrails catalog --markdown`; do not edit. -->",
        "",
        "Attach these by id under `guardrails:` at the root, on an OU or on an account (see",
        "[the blueprint format](blueprint.md#scps-guardrails-catalog-and-scps-explicit)); the catalog guardrails of",
        "one kind at one target are packed into as few SCPs (or RCPs) as the size limit allows, a guardrail's",
        "statements always together ([packing](blueprint.md#packing-within-the-quotas)). RCP statements carry",
        "`Principal: \"*\"`. Statements of guardrails marked *exempt privileged*",
        "also get `ArnNotLike aws:PrincipalArn` with the break-glass role and the deployment principals",
        "(`arn:${partition}:iam::*:role/<name>`), which the JSON below leaves out. `${partition}` is the",
        "organization's partition; `<allowed_regions>` and `<privileged_roles>` stand for the organization's values.",
        "Sizes are of the guardrail alone, minified, with its defaults (placeholders counted as written), in the",
        "`aws` partition, without that exemption (limits: SCP 10,240 and RCP 5,120 characters per policy).",
        "",
        "| id | kind | title | exempt privileged | size |",
        "|---|---|---|---|---|",
    ]
    for g in catalog.values():
        lines.append(f"| [`{g.id}`](#{g.id}) | {g.kind.upper()} | {g.title} | "
                     f"{'yes' if g.exempt_privileged else 'no'} | {minified_size(g, default_values(g)):,} |")
    lines += ["", "Parameters taken from the organization (`default_from`):", ""]
    lines += [f"- `{key}`: {meaning}" for key, meaning in CONTEXT_KEYS.items()]
    for g in catalog.values():
        lines += ["", f"## {g.id}", "", f"**{g.title}** ({g.kind.upper()}"
                  f"{', exempts break-glass and deployment roles' if g.exempt_privileged else ''}).", "",
                  g.rationale, "", f"Source: {g.source} — <{g.source_url}>"]
        if g.exception_tag:
            lines += ["", f"Tag-based exception: the tag key is parameter `{g.exception_tag}`; the guardrail denies "
                      "setting or removing that tag to everyone it applies to."]
        if g.parameters:
            lines += ["", "| parameter | type | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{p.name}` | {p.type}{' (one value)' if p.single else ''} | {_default_text(p)} | "
                      f"{p.description} |" for p in g.parameters.values()]
        lines += ["", "```json", json.dumps(policy_json(g, default_values(g))["Statement"], indent=2), "```"]
    return "\n".join(lines) + "\n"


def _default_text(p: Parameter) -> str:
    if p.type == "boolean":
        return f"`{'true' if p.default else 'false'}`"
    shown = ", ".join(f"`{v}`" for v in p.default or ())
    if p.default_from:
        fallback = f"; otherwise {shown}" if shown else ""
        return f"the organization's `{p.default_from}`{fallback}"
    return shown if p.default is not None and shown else ("none" if p.default == () else "(required)")
