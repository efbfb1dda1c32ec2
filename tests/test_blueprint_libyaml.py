"""libyaml reads blueprints as the pure-Python loader does (issue 17): the same data, the same file:line:column for
every key and value, the same diagnostics (worded by the pure-Python loader) and the same alias budget, on every
committed blueprint, the synthetic 1,000-account one and generated YAML."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.blueprint import limits, load_blueprint, text, yamlmarks
from guardrails.diagnostics import BlueprintError, Diagnostic

from .bench import write_blueprint
from .conftest import ROOT
from .test_hostile_input import BASE, MUTATIONS, _file

pytestmark = pytest.mark.skipif(yamlmarks.CParser is None, reason="PyYAML is installed without libyaml")

FOLDERS = [ROOT / "blueprints", *sorted((ROOT / "tests/cases").glob("*/blueprint")),
           *sorted((ROOT / "tests/errors").glob("*/blueprint"))]
FILES = [file for folder in FOLDERS for file in sorted(folder.glob("*.y*ml"))]


@contextmanager
def _pure_python() -> Iterator[None]:
    """As on an installation without libyaml."""
    with mock.patch.object(yamlmarks, "CParser", None):
        yield


def _read(source: str, budget: limits.Budget | None = None) -> tuple[Any, ...]:
    problems: list[Diagnostic] = []
    budget = budget or limits.Budget()
    doc = yamlmarks.parse_marked(source, "f.yaml", problems, budget)
    # repr tells 1 from 1.0 and True, and a date from its text
    return repr(doc.data), doc.value_locations, doc.key_locations, [p.render() for p in problems], budget.alias_values


def _same(source: str) -> tuple[Any, ...]:
    fast = _read(source)
    with _pure_python():
        slow = _read(source)
    assert fast == slow, source
    return fast


def _read_fast(source: str) -> bool:
    """Whether libyaml reads the document (rather than leaving it to the pure-Python loader)."""
    return yamlmarks._parse_libyaml(source, "f.yaml", limits.Budget()) is not None


@pytest.mark.parametrize("file", FILES, ids=[f.relative_to(ROOT).as_posix() for f in FILES])
def test_every_committed_file_reads_the_same(file: Path) -> None:
    problems: list[Diagnostic] = []
    source = text.decode(file.read_bytes(), file.name, problems)
    if source is None:
        return
    _, _, _, diagnostics, _ = _same(source)
    if not diagnostics and not problems:
        assert _read_fast(source), "a valid committed file is read by libyaml"


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.relative_to(ROOT).as_posix() for f in FOLDERS])
def test_every_committed_blueprint_loads_the_same(folder: Path) -> None:
    """Whole blueprints: the merged locations, the model, or the rendered errors (the alias budget spans files)."""
    def load() -> Any:
        try:
            loaded = load_blueprint(folder)
        except BlueprintError as exc:
            return [d.render() for d in exc.diagnostics]
        return loaded.blueprint.model_dump(), loaded.value_locations, loaded.key_locations

    fast = load()
    with _pure_python():
        assert load() == fast


def test_the_synthetic_1000_account_blueprint_reads_the_same(tmp_path: Path) -> None:
    folder = write_blueprint(tmp_path / "bench", 1000)
    for file in sorted(folder.glob("*.yaml")):
        source = file.read_text(encoding="utf-8")
        _same(source)
        assert _read_fast(source)


@pytest.mark.parametrize("source", [
    "a: b\t\n",                        # PyYAML refuses a tab here, libyaml takes it
    "a:\t1\n",
    "a: |\n  b\tc\n",                  # a legal tab: read the pure-Python way all the same
    "a: |#c\n  x\n",                   # libyaml takes a comment right after the indicator
    "? a",                             # no line break at the end: libyaml would place the null on line 2
    "a: 1\n# end",
    "{a: }\n",                         # PyYAML places the null after the colon, libyaml at the brace
    "[a: ]\n",
    "{a}\n",                          # no colon: placed alike, but read the pure-Python way all the same
    "{a: , b: 1}\n",
    "[" * 65 + "]" * 65 + "\n",        # too deep for the blueprint, fine for libyaml
    "[" * 1001 + "]" * 1001 + "\n",    # too deep for libyaml too: its error text is not ours
    "a: !Ref b\n",                     # tags: libyaml's events composed by the bounded composer refuse them
    "a: &x [1]\nb: &x [2]\n",          # anchors: likewise
    "a: &x [*x]\n",
    "a: 1\na: 2\n",                    # a duplicate key, found after composing: worded by the pure-Python reading
    "a: \"\\u202e\"\n",
    "a: [\n",
    "a: 1\n---\nb: 2\n",
    "a: 2026-02-30\n",
])
def test_what_libyaml_reads_otherwise_is_read_the_pure_python_way(source: str) -> None:
    _same(source)
    assert not _read_fast(source)


@pytest.mark.parametrize("source", [
    "a: {b: c}\nd: [e, {f: g}, [h, i]]\n",
    "base: &base {a: 1}\nuse: {<<: *base, b: 2}\n",     # anchors, within the budget: libyaml's events
    "a: b!\n",                                          # a `!` that is no tag
    "a: |\n  x\n  y\n\nb: >-\n  folded\n  text\n",
    "k:\n- 1\n- 2.5\n- true\n- 2024-01-01\n- ~\n- =\n",
    "\"é😀\": 'ü 😀 x'\n",
    "a:\r\n  b: c\r\n",
    "",
    "# only a comment\n",
])
def test_valid_documents_are_read_by_libyaml(source: str) -> None:
    _same(source)
    assert _read_fast(source)


def test_the_alias_budget_is_counted_once_when_the_pure_python_reading_takes_over() -> None:
    source = "a: &a [1, 2, 3]\nb: [*a, *a]\nc: {d: 1, d: 2}\n"  # aliases, then a duplicate key
    budget = limits.Budget()
    fast = _read(source, budget)
    with _pure_python():
        assert _read(source) == fast
    assert budget.alias_values == 8


# ----------------------------------------------------------------------------- generated YAML

_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(list(" :#-?[]{}'\"\n\t")),
                max_size=10)
_SCALARS = st.one_of(_TEXT, st.integers(), st.floats(), st.booleans(), st.none(), st.dates(), st.sampled_from([
    "yes", "No", "~", "0o17", "1_000", "1e3", ".inf", "2024-01-01T10:00:00Z", "a: b", "- x", "#c", "x #c", " lead",
    "trail ", "'q", '"q', "=", "<<", "${account_id}", "s3:*", "arn:aws:iam::*:role/x"]))
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_TEXT | st.integers(), inner, max_size=4), max_leaves=20)


@settings(max_examples=150, **_SETTINGS)
@given(data=_DATA, flow=st.sampled_from([None, True, False]), indent=st.sampled_from([2, 4]),
       unicode=st.booleans(), width=st.sampled_from([20, 80, 1000]), style=st.sampled_from([None, '"', "'", "|", ">"]))
def test_dumped_data_reads_the_same(data: Any, flow: bool | None, indent: int, unicode: bool, width: int,
                                    style: str | None) -> None:
    """YAML as emitters write it, in every style: flow and block collections, quoted, folded and literal scalars."""
    source = yaml.safe_dump({"root": data}, default_flow_style=flow, indent=indent, allow_unicode=unicode,
                            width=width, default_style=style)
    _same(source)


_PIECES = [
    " ", "  ", "\t", "\n", "\n", "\r\n", "\r", ":", ": ", "-", "- ", "? ", "[", "]", "{", "}", ",", "#", "'", '"', "|",
    ">", ">-", "|2", "|#", "&a ", "*a", "&a.b ", "!", "!!str ", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n",
    "...\n", "@", "`", "\\", '"\\u00e9"', '"\\ud800"', '"\\/"', "a", "b", "1", "0x1F", "2024-01-01", "null", "=",
    "<<: ", "é", "😀", "\ufeff", "{a: }", "[a: ]", "k" * 1030,
]
_LINE = st.tuples(st.sampled_from(["", " ", "  ", "    "]), st.sampled_from(["", "- ", "? ", ": ", "- - "]),
                  st.sampled_from(["", "a", "'q'", '"d"', "[x, y]", "{k: v}", "{k: }", "&a x", "*a", "<<", "1", "~",
                                   "|", ">", "!!str x", "# c"]),
                  st.sampled_from(["", ":", ": ", ": v", ": # c", ": [", "]", ", z", ": *a"])).map("".join)


@settings(max_examples=250, **_SETTINGS)
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=30), end=st.sampled_from(["", "\n"]))
def test_yaml_like_text_reads_the_same(pieces: list[str], end: str) -> None:
    """Mostly broken YAML: every error must be the pure-Python loader's, at its place."""
    _same("".join(pieces) + end)


@settings(max_examples=150, **_SETTINGS)
@given(lines=st.lists(_LINE, max_size=8), end=st.sampled_from(["", "\n", " \n"]))
def test_yaml_like_lines_read_the_same(lines: list[str], end: str) -> None:
    _same("\n".join(lines) + end)


@settings(max_examples=60, **_SETTINGS)
@given(name=_file, mutations=st.lists(MUTATIONS, min_size=1, max_size=3))
def test_mutated_example_files_read_the_same(name: str, mutations: list[Any]) -> None:
    """The example's files, broken the ways tests/test_hostile_input.py breaks them."""
    files = dict(BASE)
    for mutation in mutations:
        dataclasses.replace(mutation, file=name).apply(files)
    source = text.decode(files[name], name, [])
    if source is not None:
        _same(source)
