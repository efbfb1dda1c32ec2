"""A blueprint's parameter values for a catalog guardrail: resolved against defaults and the synthesize context,
and checked by type."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from guardrails.model.catalog.entries import _ACCOUNT_ID, _ACTION, _ARN, _ORG_ID, Guardrail, Parameter, ParameterError


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
