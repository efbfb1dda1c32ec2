"""Reading blueprints: line marks, duplicate keys, merging files, the published JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.blueprint.loader import display_path
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


# ----------------------------------------------------------------------------- hostile input (issue 14)

MINIMAL = ROOT / "tests/cases/minimal/blueprint"


def _minimal(folder: Path) -> Path:
    for source in MINIMAL.iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


def _codes(folder: Path) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(folder)
    return [(d.code, str(d.location)) for d in raised.value.diagnostics]


def test_a_20_mb_file_is_refused_before_parsing(tmp_path: Path) -> None:
    import time

    folder = _minimal(tmp_path)
    entry = "  t{}: {{principal: role/BreakGlass, account: security, action: s3:GetObject, expect: allow}}\n"
    (folder / "huge.yaml").write_text("tests:\n" + "".join(entry.format(i) for i in range(330_000)))
    assert (folder / "huge.yaml").stat().st_size > 20_000_000
    started = time.perf_counter()
    codes = _codes(folder)
    assert time.perf_counter() - started < 1.0
    assert codes == [("GR107", f"{display_path(folder / 'huge.yaml')}:1:1")]


def test_the_total_size_is_bounded_before_any_file_is_parsed(tmp_path: Path) -> None:
    import time

    from guardrails.blueprint import limits

    folder = _minimal(tmp_path)
    filler = "#" * 99 + "\n"
    for name in ("a.yaml", "b.yaml", "c.yaml"):  # each below the per-file limit, together above the total
        (folder / name).write_text(filler * (limits.MAX_FILE_BYTES * 3 // 4 // len(filler)))
    started = time.perf_counter()
    codes = _codes(folder)
    assert time.perf_counter() - started < 2.0
    assert [code for code, _ in codes] == ["GR107"] and codes[0][1].endswith("c.yaml:1:1")


def test_a_folder_of_too_many_files_is_refused(tmp_path: Path) -> None:
    from guardrails.blueprint import limits

    folder = _minimal(tmp_path)
    for index in range(limits.MAX_FILES):
        (folder / f"extra-{index:03}.yaml").write_text("")
    assert [code for code, _ in _codes(folder)] == ["GR107"]


def test_a_utf8_byte_order_mark_is_accepted_and_columns_stay_right(tmp_path: Path) -> None:
    folder = _minimal(tmp_path)
    text = (folder / "identity.yaml").read_text(encoding="utf-8")
    (folder / "identity.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    loaded = load_blueprint(folder)
    assert loaded.where_key("job_functions") == Location(display_path(folder / "identity.yaml"), 1, 1)


def test_aliases_within_the_budget_and_merge_keys_still_work() -> None:
    problems: list[Diagnostic] = []
    doc = parse_marked("base: &base {a: 1}\nregions: &r [eu-west-1, eu-central-1]\nuse: {regions: *r, <<: *base}\n",
                       "f.yaml", problems)
    assert not problems
    assert doc.data["use"] == {"regions": ["eu-west-1", "eu-central-1"], "a": 1}


@pytest.mark.parametrize(("source", "code", "where"), [
    ("? [a, b]\n: x\n", "GR102", (1, 3)),                     # a list as a key
    ("a:\n  <<: 1\n", "GR101", (2, 7)),                       # a merge key of a scalar
    ("a: 123456789" + "0" * 5000 + "\n", "GR106", (1, 4)),    # more digits than Python converts
    ("a: &x 1\nb: &x 2\n", "GR101", (2, 4)),                  # a duplicate anchor
    ("a: 1\n---\nb: 2\n", "GR101", (2, 1)),                   # two documents
    ("a: \"b\tc\"\n", "GR109", (1, 4)),                        # a tab in a quoted scalar, written as is
    ("a: \"b\\tc\"\n", "GR109", (1, 4)),                      # or escaped
    ("a: |\n  b\tc\n  d\n", None, None),                      # tabs and line breaks belong in block scalars
    ("\"k\\u202e\": 1\n", "GR109", (1, 1)),                   # keys are checked too
    ("a: =\n", None, None),                                   # YAML 1.1's value key is plain text here
])
def test_reading_errors_are_located(source: str, code: str | None, where: tuple[int, int] | None) -> None:
    problems: list[Diagnostic] = []
    doc = parse_marked(source, "f.yaml", problems)
    if code is None:
        assert not problems and doc.data is not None
        return
    assert [(p.code, (p.location.line, p.location.column)) for p in problems][:1] == [(code, where)], problems
    assert all(p.hint for p in problems)
