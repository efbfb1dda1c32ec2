"""Every deployed resource checked against the CloudFormation registry schema of its type.

The schemas are those cfn-lint (pinned in pyproject) ships for the Region, the same the registry publishes
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html). The properties are
checked as deployed: intrinsic functions resolved to the stack's values, so a wrong type, an unknown or missing
property, or a value outside an enum or pattern fails even where the emulator would have accepted it or, for the
types it lacks, never looked.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import regex  # the registry's patterns are ECMA-262 (\p{L} …): cfn-lint's own dependency reads them

from .template import Unresolved

_VALUE_CHECKS = {"pattern", "enum", "const", "format", "minLength", "maxLength"}


@cache
def _validator(region: str, resource_type: str) -> jsonschema.protocols.Validator | None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # noqa: BLE001 - cfn-lint raises its own ResourceNotFoundError for unknown types
        return None
    # The registry schema describes the resource's model; read-only properties are outputs, never inputs.
    read_only = {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties", ())}
    properties = {k: v for k, v in schema.get("properties", {}).items() if k not in read_only}
    inputs = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "definitions": schema.get("definitions", {}), "properties": properties,
              "additionalProperties": schema.get("additionalProperties", True),
              "required": [r for r in schema.get("required", []) if r not in read_only]}
    for key in ("oneOf", "anyOf", "allOf", "dependencies", "dependentRequired"):
        if key in schema:
            inputs[key] = schema[key]
    return _Validator(inputs)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


def problems(region: str, resource_type: str, properties: dict[str, Any]) -> list[str]:
    """Why the resolved properties do not fit the type's schema ([] when they do)."""
    if resource_type.startswith("Custom::"):
        return []  # a custom resource's properties are whatever its function reads (checked by running it)
    validator = _validator(region, resource_type)
    if validator is None:
        return [f"{resource_type} has no registry schema in {region}"]
    out = []
    for error in sorted(validator.iter_errors(properties), key=lambda e: list(e.absolute_path)):
        if isinstance(error.instance, Unresolved) and error.validator in _VALUE_CHECKS:
            continue  # only the real service knows the value (an id it assigns): its type is still checked
        where = "/".join(str(p) for p in error.absolute_path) or "(properties)"
        out.append(f"{where}: {error.message[:300]}")
    return out
