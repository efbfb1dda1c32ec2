"""The blueprint's JSON Schema, generated from the pydantic models (``docs/blueprint.schema.json``).

Editors (VS Code YAML, JetBrains) use it for completion and inline errors; a test keeps the
committed file identical to what this function produces.
"""

from __future__ import annotations

import json

from guardrails.blueprint.schema import Blueprint

SCHEMA_ID = "https://github.com/guardrails/guardrails/docs/blueprint.schema.json"


def schema_text() -> str:
    """Stable JSON text of the schema (sorted keys, trailing newline)."""
    schema = Blueprint.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    # Files of a blueprint each hold some of the sections, so no section is required per file.
    schema.pop("required", None)
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
