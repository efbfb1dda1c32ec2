"""`guardrails check` of the example in under a second (issue 17): what keeps it fast changes no result.

The caches between runs (guardrails/iam/database_cache.py: the IAM database and the lockout proof's action
universe) give the same proof, escalation and access-test results cold, warm, damaged and turned off; the glob
matcher's shortcuts (no compiled expression for literals, ``Prefix*`` and ``*``-only globs) agree with the
expression they stand for.
"""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.iam.actions import action_matcher, iam_database, star_matches, wildcard_matches
from tests.conftest import EXAMPLE_TODAY, ROOT

# The example compiled in a fresh process (the caches are per process too), its outcome as JSON: the same fields
# tests/test_fast_commands.py compares with the full compile.
_SCRIPT = f"""
import datetime, json, sys
from pathlib import Path
from guardrails.pipeline import compile_policy_tree
from tests.test_fast_commands import _outcome
compiled = compile_policy_tree(Path("blueprints"), today=datetime.date.fromisoformat("{EXAMPLE_TODAY.isoformat()}"))
print(json.dumps(_outcome(compiled), sort_keys=True, default=repr))
"""


def _outcome_with_cache(folder: str) -> dict:
    env = {**os.environ, "GUARDRAILS_CACHE_DIR": folder}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    return json.loads(done.stdout)


def _caches(folder: Path) -> dict[str, Path]:
    return {p.name.rsplit("-", 1)[0]: p for p in folder.glob("*.marshal")}


def test_results_equal_cold_warm_damaged_and_off(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cold = _outcome_with_cache(str(folder))
    written = _caches(folder)
    assert set(written) == {"iam-database", "lockout-universe"}
    assert cold["lockout"] and cold["tests"] and cold["escalation"]
    stamps = {kind: path.stat().st_mtime_ns for kind, path in written.items()}
    assert _outcome_with_cache(str(folder)) == cold  # warm: read, not rewritten
    assert {kind: path.stat().st_mtime_ns for kind, path in _caches(folder).items()} == stamps

    intact = {kind: path.read_bytes() for kind, path in written.items()}
    damaged = bytearray(intact["lockout-universe"])
    damaged[len(damaged) // 2] ^= 0x20  # a flipped bit in an action's name: the checksum no longer agrees
    written["lockout-universe"].write_bytes(bytes(damaged))
    written["iam-database"].write_bytes(intact["iam-database"][: len(intact["iam-database"]) // 3])  # truncated
    assert _outcome_with_cache(str(folder)) == cold
    assert {kind: path.read_bytes() for kind, path in _caches(folder).items()} == intact  # computed, written again

    # A well-formed file of the wrong shape (the checksum of its own bytes agrees): rejected, computed again.
    import hashlib

    payload = marshal.dumps((1, {"s3:getobject": "not a row"}, {}, ()))
    written["lockout-universe"].write_bytes(hashlib.sha256(payload).digest() + payload)
    written["iam-database"].write_bytes(b"\0" * 64)
    assert _outcome_with_cache(str(folder)) == cold
    assert _caches(folder)["lockout-universe"].read_bytes() == intact["lockout-universe"]

    off = tmp_path / "off"
    assert _outcome_with_cache("") == cold  # GUARDRAILS_CACHE_DIR empty: no cache at all
    assert not off.exists()


def test_universe_key_follows_its_inputs(tmp_path: Path) -> None:
    """Another database key, other us-east-1 services or another module text: another file."""
    from guardrails.iam.database_cache import source_key

    universe_module = ROOT / "guardrails" / "evaluation" / "lockout" / "universe.py"
    base = source_key("db", "['iam']", "()", modules=(str(universe_module),))
    assert base is not None
    assert source_key("db2", "['iam']", "()", modules=(str(universe_module),)) != base
    assert source_key("db", "['iam', 's3']", "()", modules=(str(universe_module),)) != base
    assert source_key("db", "['iam']", "()", modules=(str(ROOT / "guardrails" / "iam" / "actions.py"),)) != base
    assert source_key("d", "b['iam']", "()", modules=(str(universe_module),)) != base  # parts are delimited
    assert source_key("db", modules=(str(tmp_path / "missing.py"),)) is None


def test_xdg_cache_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from guardrails.iam.database_cache import cached

    monkeypatch.delenv("GUARDRAILS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cached("probe", "0" * 64, lambda: (1, "two"), lambda v: v, tuple) == (1, "two")
    assert [p.name for p in (tmp_path / "xdg" / "guardrails").iterdir()] == [f"probe-{'0' * 32}.marshal"]
    assert cached("probe", "0" * 64, lambda: (3,), lambda v: v, tuple) == (1, "two")  # read back


# ----------------------------------------------------------------------------- the glob shortcuts


def _reference(pattern: str, value: str, ignore_case: bool = True) -> bool:
    """The expression every shortcut stands for (the IAM glob: ``*`` any run, ``?`` one character)."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"(?:{body})\\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0)).match(value) is not None


# Letters whose case folding differs outside ASCII (the Kelvin sign and the long s fold to k and s), separators,
# the wildcards and a line break.
_ALPHABET = st.sampled_from(list("aAbBkKsS:*?-/\n") + ["\u212a", "\u017f", "\u00e9"])


@settings(max_examples=600, deadline=None)
@given(st.text(_ALPHABET, max_size=8), st.text(_ALPHABET, max_size=10), st.booleans())
def test_wildcard_matches_is_the_expression(pattern: str, value: str, ignore_case: bool) -> None:
    assert wildcard_matches(pattern, value, ignore_case=ignore_case) == _reference(pattern, value, ignore_case)
    if "?" not in pattern and pattern.isascii() and value.isascii():
        assert star_matches(pattern, value) == _reference(pattern, value, ignore_case=False)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(_ALPHABET, min_size=1, max_size=6), max_size=5), st.text(_ALPHABET, max_size=10))
def test_action_matcher_is_any_expression(patterns: list[str], action: str) -> None:
    assert action_matcher(tuple(patterns))(action) == any(_reference(p, action) for p in patterns)


def test_expand_is_the_expression_over_the_database() -> None:
    db = iam_database()
    keys = [(prefix, key) for prefix, service in db.services_by_prefix.items() for key in service.actions]
    for pattern in ("s3:Get*", "ec2:*Tags", "iam:*Policy*", "kms:*", "*:List*", "s3:Get?bject", "sts:AssumeRole",
                    "s3:*Object*Tag*", "lambda:Delete*", "*"):
        expected = sorted(f"{db.services_by_prefix[prefix].prefix}:{db.services_by_prefix[prefix].actions[key].name}"
                          for prefix, key in keys if _reference(pattern, f"{prefix}:{key}"))
        assert [a.full_name for a in db.expand(pattern)] == expected, pattern


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_ALPHABET, min_size=1, max_size=6), max_size=5),
       st.lists(st.text(st.sampled_from(list("abks:-*?")), max_size=6), max_size=12))
def test_action_matcher_among_is_each_key_asked(patterns: list[str], keys: list[str]) -> None:
    """The set-and-range answer the risk analysis uses equals asking the matcher key by key."""
    matcher = action_matcher(tuple(patterns))
    ordered = tuple(sorted(set(keys)))
    assert matcher.among(ordered, frozenset(ordered)) == {k for k in ordered if matcher(k)}
