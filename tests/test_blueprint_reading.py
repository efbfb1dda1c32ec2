"""Reading blueprints: line marks, duplicate keys, merging files, the published JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.blueprint.jsonschema import schema_text
from guardrails.blueprint.yamlmarks import parse_marked
from guardrails.diagnostics import BlueprintError, Diagnostic, Location

from .conftest import ROOT


def test_marks_point_at_values_and_keys() -> None:
    problems: list[Diagnostic] = []
    doc = parse_marked("a:\n  b: [1, 2]\n  c: {d: x}\n", "f.yaml", problems)
    assert not problems
    assert doc.data == {"a": {"b": [1, 2], "c": {"d": "x"}}}
    assert doc.value_locations[("a", "b", 1)] == Location("f.yaml", 2, 10)
    assert doc.key_locations[("a", "c", "d")] == Location("f.yaml", 3, 7)


def test_duplicate_keys_are_errors_at_the_second_key() -> None:
    problems: list[Diagnostic] = []
    parse_marked("x: 1\ny: 2\nx: 3\n", "f.yaml", problems)
    assert [(p.code, p.location) for p in problems] == [("GR103", Location("f.yaml", 3, 1))]
    assert "line 1" in problems[0].message


def test_named_sections_merge_across_files(tmp_path: Path) -> None:
    source = ROOT / "tests/cases/minimal/blueprint"
    for f in source.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "more-groups.yaml").write_text(
        "groups:\n  auditors: {job_functions: [viewer], deploy_to: {accounts: [security]}}\n")
    loaded = load_blueprint(tmp_path)
    assert set(loaded.blueprint.groups) == {"viewers", "auditors"}
    assert loaded.where("groups", "auditors").file.endswith("more-groups.yaml")


def test_did_you_mean_for_nested_unknown_keys(tmp_path: Path) -> None:
    source = ROOT / "tests/cases/minimal/blueprint"
    (tmp_path / "organization.yaml").write_text((source / "organization.yaml").read_text())
    (tmp_path / "identity.yaml").write_text(
        "groups:\n  g: {job_functionz: [x], deploy_to: {all: true}}\n")
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(tmp_path)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "GR201"
    assert diagnostic.hint == "did you mean `job_functions`?"
    assert (diagnostic.location.line, diagnostic.location.column) == (2, 7)


def test_committed_json_schema_is_fresh() -> None:
    committed = (ROOT / "docs/blueprint.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "docs/blueprint.schema.json is stale: run `make schema`"


def test_example_blueprint_validates_against_the_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import json

    import yaml

    schema = json.loads(schema_text())
    for path in sorted((ROOT / "blueprints").glob("*.yaml")):
        # Editors validate YAML dates (review_by: 2027-05-31) as the strings they are written as.
        document = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        jsonschema.validate(document, schema)
