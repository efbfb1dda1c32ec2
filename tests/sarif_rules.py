"""The SARIF 2.1.0 rules guardrails' logs must follow, as a JSON Schema subset checked with ``jsonschema``.

No installed package ships the OASIS schema (``sarif-schema-2.1.0.json``; cfn-lint and checkov only name its URL)
and the tests run offline, so this states the constraints of the SARIF 2.1.0 standard
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) for every object guardrails writes: required
properties, enumerations, minimums, unique ``tags`` (3.8.2; GitHub's upload rejects a repeated tag) and unique
rules. ``additionalProperties: false`` lists only the properties guardrails writes, all defined by the standard: a
new one must be checked against it and added here, and a misspelt one fails.
"""

from __future__ import annotations

from typing import Any

import jsonschema

LEVEL = {"enum": ["none", "note", "warning", "error"]}
TEXT = {"type": "object", "required": ["text"], "additionalProperties": False,
        "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "runs"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {"$ref": "#/$defs/run"}},
    },
    "$defs": {
        "run": {
            "type": "object", "required": ["tool"], "additionalProperties": False,
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "additionalProperties": False,
                         "properties": {"driver": {"$ref": "#/$defs/toolComponent"}}},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
            },
        },
        "toolComponent": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "version": {"type": "string"}, "semanticVersion": {"type": "string"},
                "informationUri": {"type": "string", "pattern": r"^[a-z][a-z0-9+.-]*:\S+$"},
                "rules": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/reportingDescriptor"}},
            },
        },
        "reportingDescriptor": {
            "type": "object", "required": ["id"], "additionalProperties": False,
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"},
                "shortDescription": TEXT, "fullDescription": TEXT, "help": TEXT,
                "defaultConfiguration": {"type": "object", "additionalProperties": False,
                                         "properties": {"level": LEVEL}},
                "properties": {"$ref": "#/$defs/propertyBag"},
            },
        },
        "propertyBag": {
            "type": "object",
            "properties": {"tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}},
        },
        "result": {
            "type": "object", "required": ["message"], "additionalProperties": False,
            "properties": {
                "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1}, "level": LEVEL,
                "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                            "properties": {"text": {"type": "string"}, "id": {"type": "string"}}},
                "locations": {"type": "array", "uniqueItems": True, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"physicalLocation": {"$ref": "#/$defs/physicalLocation"}}}},
                "suppressions": {"type": "array", "uniqueItems": True, "items": {  # 3.35
                    "type": "object", "required": ["kind"], "additionalProperties": False,
                    "properties": {"kind": {"enum": ["inSource", "external"]},
                                   "status": {"enum": ["accepted", "underReview", "rejected"]},
                                   "justification": {"type": "string"}}}},
            },
        },
        "physicalLocation": {
            "type": "object", "additionalProperties": False,
            "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}],
            "properties": {
                "artifactLocation": {"type": "object", "additionalProperties": False,
                                     "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}}},
                "region": {"type": "object", "additionalProperties": False,
                           "properties": {"startLine": {"type": "integer", "minimum": 1},
                                          "startColumn": {"type": "integer", "minimum": 1}}},
            },
        },
    },
}


def check_sarif_structure(log: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (or AssertionError) where ``log`` breaks a SARIF 2.1.0 rule above."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(log)
    for run in log["runs"]:
        rules = run["tool"]["driver"].get("rules", [])
        ids = [rule["id"] for rule in rules]
        assert len(ids) == len(set(ids)), "rule ids repeat"
        for result in run.get("results", []):
            if "ruleIndex" in result:  # the index points at the rule the ruleId names
                assert ids[result["ruleIndex"]] == result["ruleId"], result
