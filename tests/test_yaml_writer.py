"""The CloudFormation YAML writer (guardrails.emitters.cloudformation.yaml_writer) writes exactly what PyYAML's
pure-Python emitter wrote, and YAML reads it back as the value written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.emitters.cloudformation import yaml_writer
from guardrails.emitters.cloudformation.yaml_writer import dump, pyyaml_dump

from .conftest import ROOT

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # reading only: libyaml's parser is just faster

# Strings YAML 1.1 reads as something else, or that need quoting, escaping or a block scalar.
TRICKY = [
    "", " ", "  a", "a ", " a ", ":", "a:", "a: b", "a:b", "a :b", "#", "a #b", "a#b", "#a", "-", "- a", "-a", "--",
    "---", "--- a", "---a", "...", "....", "{", "}", "{a}", "[", "]", "[a, b]", ",", "a,b", "!", "!Ref", "!!str",
    "&a", "*a", "?", "? a", "?a", "a?", "|", "|-", ">", "%", "%YAML", "@", "`", "'", '"', "a'b", 'a"b', "''", "'a'",
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "null", "Null", "NULL", "~", "true", "True",
    "FALSE", "012", "0o12", "0x1F", "0b101", "1_000", "1e3", "1.0e3", "1.5", ".5", "+1", "-1", "0", "-0", ".inf",
    "-.inf", ".NaN", "1:20", "190:20:30", "2026-01-01", "2026-01-01T10:00:00Z", "2026-1-1 1:00:00", "<<", "=",
    "é", "日本語", "\u00a0", "a\u00a0", "\ufeff", "a\ufeffb", "😀", "a😀\tb", "a\tb", "\t", "\r", "a\r\nb",
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "a\x85b", "\u2028", "\u2029", "\ud7ff", "\ue000", "\ufffd", "\ufffe",
    "\U0010ffff", "\n", "\n\n", "a\n", "a\n\n", "\na", "\n a", " a\nb", "a \nb", "a\n b", "a\n\nb", "a\nb ", "a\n\tb",
    "a\n\n\n", "a\nb\n", "#!/bin/sh\necho hi\n", "${AWS::Region}", "arn:aws:s3:::b/*", "\\", "a\\nb", "%s",
    "{{x}}", "x" * 130, "word " * 40 + "end",
]
_ALPHABET = st.sampled_from(list(" :#-{}[],!&*?|>%@`'\"\n\t\\.~_+=<0123456789abeflnorsuxyzAENTY")
                            + ["é", "\u00a0", "😀", "\u2028", "\x85", "\ufeff", "\x00", "\r"])
_PIECE = st.one_of(st.sampled_from(TRICKY), st.text(_ALPHABET, max_size=12), st.text(max_size=6))
STRINGS = st.one_of(st.sampled_from(TRICKY), st.lists(_PIECE, min_size=1, max_size=4).map("".join))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-20, 20), STRINGS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(STRINGS, inner, max_size=4)), max_leaves=24)
DOCUMENTS = st.dictionaries(STRINGS, VALUES, max_size=6)


def _round_trip(data: Any) -> None:
    text = dump(data)
    assert text == pyyaml_dump(data)
    if "\x85" not in text:  # PyYAML writes a raw NEL that its reader folds ('a\x85b' comes back 'a b'); the
        assert yaml.load(text, Loader=_LOADER) == data  # writer leaves NEL to PyYAML, flaw included


@settings(max_examples=400)
@given(DOCUMENTS)
def test_writes_what_pyyaml_writes_and_reads_back(data: dict[str, Any]) -> None:
    _round_trip(data)


def _supported(text: str) -> bool:
    return not any(b in text for b in ("\x85", "\u2028", "\u2029"))


def _key(text: str) -> bool:
    return _supported(text) and text != "" and "\n" not in text and len(text) <= 100


@settings(max_examples=300)
@given(st.dictionaries(STRINGS.filter(_key), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), STRINGS.filter(_supported)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(STRINGS.filter(_key), inner, max_size=4)),
    max_leaves=24), min_size=1, max_size=6))
def test_the_subset_never_falls_back_to_pyyaml(data: dict[str, Any]) -> None:
    expected = pyyaml_dump(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml_writer, "pyyaml_dump", _no_fallback)
        assert dump(data) == expected


def _no_fallback(data: Any) -> str:
    raise AssertionError(f"fell back to PyYAML for {data!r}")


@pytest.mark.parametrize("value", TRICKY)
def test_each_tricky_string_as_value_key_and_list_item(value: str) -> None:
    _round_trip({"Key": value, "List": [value, [value], {"In": value}], "Last": value})
    if value:
        _round_trip({value: 1, "Nested": {value: [value]}})


@pytest.mark.parametrize("data", [
    {},  # not a block mapping: "{}"
    {"Key": 1.5},  # types other than dict, list, str, int, bool and None
    {1: "one", None: [True]},
    {"a\nb": 1},  # complex "? " keys: multi-line, empty or long
    {"": 1},
    {"k" * 130: 1},
    {"Key": "a\x85b"},  # line breaks other than \n
    {"Key": "line\u2028next\n"},
    {"Key": "x " * 30_000},  # longer than the writer takes on
], ids=lambda data: repr(data)[:40])
def test_what_the_writer_leaves_to_pyyaml(data: dict[str, Any]) -> None:
    _round_trip(data)


def test_a_tuple_is_written_as_pyyaml_writes_it() -> None:
    assert dump({"Key": (1, ("a", "b: c"))}) == pyyaml_dump({"Key": (1, ("a", "b: c"))})


def test_a_scalar_past_the_line_width_is_folded_as_pyyaml_folds_it() -> None:
    data = {"Key": "word " * 200_002 + "end"}  # 1,000,013 characters: PyYAML breaks the line after the width
    text = dump(data)
    assert text == pyyaml_dump(data) and text.count("\n") > 1
    assert yaml.load(text, Loader=_LOADER) == data


def test_a_final_kept_line_break_ends_the_document_as_pyyaml_does() -> None:
    for data in ({"Key": "a\n\n"}, {"Key": ["x", "\n"]}, {"Key": {"In": "a\n\n"}, "Next": 1}):
        _round_trip(data)
    assert dump({"Key": "a\n\n"}).endswith("...\n")


def test_the_string_cache_changes_nothing() -> None:
    data = {"Key": ["a: b", "012", "x\ny\n", {"yes": "no"}]}
    first = dump(data)
    yaml_writer._VALUES.clear()
    yaml_writer._KEYS.clear()
    assert dump(data) == first == dump(data)


def _committed_templates() -> list[Path]:
    trees = [ROOT / "output", *sorted((ROOT / "tests" / "cases").glob("*/expected"))]
    return [p for tree in trees for p in sorted((tree / "cloudformation").glob("*.yaml"))]


def test_every_committed_template_is_written_back_byte_for_byte() -> None:
    """The templates of the example and of the golden cases, read back and written again: the same bytes."""
    templates = _committed_templates()
    assert templates
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml_writer, "pyyaml_dump", _no_fallback)
        for path in templates:
            text = path.read_text(encoding="utf-8")
            body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
            assert dump(yaml.load(body, Loader=_LOADER)) == body, path
