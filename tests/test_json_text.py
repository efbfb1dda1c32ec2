"""pretty_json is json.dumps(indent=2, ensure_ascii=False), byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.emitters.json_text import pretty_json

ROOT = Path(__file__).resolve().parent.parent

_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=True, allow_infinity=True)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                       | st.dictionaries(st.text(max_size=8) | st.integers() | st.booleans() | st.none(), inner,
                                         max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_generated_values_are_laid_out_as_json_dumps_does(value: object) -> None:
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_the_committed_manifests_and_wildcards_are_laid_out_as_json_dumps_does() -> None:
    files = sorted((ROOT / "output" / "policies").glob("*.json"))
    assert files
    for path in files:
        value = json.loads(path.read_text(encoding="utf-8"))
        assert pretty_json(value) + "\n" == path.read_text(encoding="utf-8")


def test_what_json_dumps_refuses_is_refused_the_same_way() -> None:
    for bad in ({"a": {1, 2}}, [object()], {(1, 2): "tuple key"}):
        try:
            json.dumps(bad, indent=2, ensure_ascii=False)
        except TypeError as expected:
            try:
                pretty_json(bad)
            except TypeError as found:
                assert str(found) == str(expected)
            else:
                raise AssertionError(f"pretty_json accepted {bad!r}")
