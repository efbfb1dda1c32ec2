"""Hostile and broken input never crashes `guardrails check` (issue 14): random mutations of the example blueprint
exit 0 or 1, print no traceback and no internal error, and every error names file:line:column and gives a hint.

The mutations are those that broke the reader before: deleted, duplicated and re-indented lines (so missing and
duplicate keys), scalars of the wrong type, control and bidirectional characters, YAML syntax characters, deep
nesting, aliases, tags, other encodings and truncated files. The example's access tests are cut to the first few
so that each run stays cheap (reading the YAML dominates); every other file is the example as committed.
A run tries 80 mutants through the command line and 220 through the reader alone (about half a minute); in CI the
examples are derandomized (tests/conftest.py), elsewhere each run tries new ones.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.blueprint import load_blueprint, text
from guardrails.blueprint.yamlmarks import parse_marked
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Diagnostic
from guardrails.model import build_model

from .conftest import ROOT

EXAMPLE = ROOT / "blueprints"
FILES = sorted(p.name for p in EXAMPLE.glob("*.yaml"))
KEPT_TESTS = 8

# Values that are wrong somewhere, or right in a surprising way: types, YAML's implicit forms, tags, anchors,
# placeholders, rich markup, escapes of refused characters.
SCALARS = [
    "[]", "{}", "null", "~", "0", "-1", "1.5", "1e400", "true", "no", "2026-13-45", "2026-02-30", "0b_", "0x", "=",
    "'${account_id}'", "${region}", "'${acount_id}'", '"\\u202e"', '"\\x00"', '"a\\nb"', '"\\t"', "!Ref X",
    "!!python/object:os.system {}", "!!float abc", "!!timestamp 2020-13-45", "! text", "&a [1]", "*nowhere",
    "'[/]'", "'[bold]x[/]'", "'" + "x" * 300 + "'", "[[[[[[[[[[]]]]]]]]]]", "{a: {b: {c: {}}}}", "'|' >", "- x",
    "arn:aws:s3:::b", "'*'", "s3:*", "role/nobody", "all", "allow", "deny", "eu-west-1", "-",
]
CHARACTERS = [
    "\x00", "\x01", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200f", "\u2028", "\ufeff", "\u200b", "\t", "\r",
    ":", "-", "[", "]", "{", "}", '"', "'", "&", "*", "!", "#", "%", "@", "`", "|", ">", ",", "?", "é", "\\", " ",
]
_VALUE_LINE = re.compile(r"^(\s*(?:- )?[^\s#:][^:#]*:\s+)(\S.*)$")
_ERROR_LINE = re.compile(r"^(?P<where>\S.*?): error (?P<code>GR\d{3}): ")
_LOCATED = re.compile(r".+\.ya?ml:\d+:\d+")


@dataclass(frozen=True)
class Mutation:
    kind: str
    file: str
    at: float        # where in the file, 0..1 (line or character, by kind)
    value: str = ""
    size: int = 0

    def apply(self, files: dict[str, bytes]) -> None:
        source = files[self.file].decode("utf-8", errors="surrogateescape")
        lines = source.splitlines(keepends=True)
        meaningful = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
        index = meaningful[min(int(self.at * len(meaningful)), len(meaningful) - 1)] if meaningful else 0
        if self.kind == "delete-line" and lines:
            del lines[index]
        elif self.kind == "duplicate-line" and lines:
            lines.insert(index, lines[index])
        elif self.kind == "indent" and lines:
            lines[index] = (" " * self.size + lines[index]) if self.size > 0 else lines[index][-self.size:]
        elif self.kind in ("value", "nest") and lines:
            values = [i for i in meaningful if _VALUE_LINE.match(lines[i])]
            if values:
                index = values[min(int(self.at * len(values)), len(values) - 1)]
                prefix = _VALUE_LINE.match(lines[index]).group(1)
                value = self.value if self.kind == "value" else "[" * self.size + "]" * self.size
                lines[index] = prefix + value + "\n"
        elif self.kind == "character":
            position = int(self.at * len(source))
            lines = [source[:position] + self.value + source[position:]]
        elif self.kind == "truncate":
            lines = [source[:int(self.at * len(source))]]
        elif self.kind == "aliases":  # `size` levels of ten aliases of the previous level
            bomb = ["x-anchors:", "  l0: &l0 [a, b, c, d, e, f, g, h, i, j]"]
            bomb += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, self.size + 1)]
            lines.append("\n".join(bomb) + "\n")
        mutated = "".join(lines)
        if self.kind == "encoding":
            files[self.file] = (mutated + "# é\n").encode(self.value, errors="replace")
        else:
            files[self.file] = mutated.encode("utf-8", errors="surrogateescape")


_at = st.floats(min_value=0, max_value=1, allow_nan=False)
_file = st.sampled_from(FILES)
MUTATIONS = st.one_of(
    st.builds(Mutation, st.just("delete-line"), _file, _at),
    st.builds(Mutation, st.just("duplicate-line"), _file, _at),
    st.builds(Mutation, st.just("indent"), _file, _at, size=st.sampled_from([-2, -1, 1, 2, 4])),
    st.builds(Mutation, st.just("value"), _file, _at, st.sampled_from(SCALARS)),
    st.builds(Mutation, st.just("nest"), _file, _at, size=st.sampled_from([10, 63, 64, 65, 1000])),
    st.builds(Mutation, st.just("character"), _file, _at, st.sampled_from(CHARACTERS)),
    st.builds(Mutation, st.just("truncate"), _file, _at),
    st.builds(Mutation, st.just("aliases"), _file, _at, size=st.sampled_from([1, 3, 9])),
    st.builds(Mutation, st.just("encoding"), _file, _at, st.sampled_from(["latin-1", "utf-16", "utf-16-le",
                                                                          "utf-8-sig"])),
)


def _example() -> dict[str, bytes]:
    """The example's files; tests.yaml keeps its header and first KEPT_TESTS tests."""
    files = {name: (EXAMPLE / name).read_bytes() for name in FILES}
    lines = files["tests.yaml"].decode("utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"^  [a-z]", line)]
    files["tests.yaml"] = "".join(lines[:starts[KEPT_TESTS]]).encode("utf-8")
    return files


BASE = _example()
# Mutants that pass reading and the model stage compile completely (seconds each): the first of a run is checked
# through the CLI, the rest only as far as the model (still no crash allowed).
_FULL_RUNS = {"left": 1}


def _check_output(code: int, out: str, err: str) -> None:
    assert code in (0, 1), (code, err[-2000:])
    for stream in (out, err):
        assert "Traceback" not in stream and "INTERNAL ERROR" not in stream, stream[-2000:]
    lines = err.splitlines()
    for index, line in enumerate(lines):
        match = _ERROR_LINE.match(line)
        if match is None:
            continue
        assert _LOCATED.fullmatch(match["where"]), line
        block = []
        for following in lines[index + 1:]:
            if not following.startswith("    "):
                break
            block.append(following)
        assert any(b.startswith("    hint: ") and b[len("    hint: "):].strip() for b in block), line
    if code == 1:
        assert any(_ERROR_LINE.match(line) for line in lines), err[-2000:]


def _run(mutations: list[Mutation], capsys: pytest.CaptureFixture[str]) -> None:
    files = dict(BASE)
    for mutation in mutations:
        mutation.apply(files)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "blueprint"
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        try:
            build_model(load_blueprint(folder))
        except BlueprintError:
            pass
        else:  # valid so far: the full compile is the expensive part
            if _FULL_RUNS["left"] <= 0:
                return
            _FULL_RUNS["left"] -= 1
        capsys.readouterr()
        code = main(["check", str(folder)])
        captured = capsys.readouterr()
    _check_output(code, captured.out, captured.err)


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=80, **_SETTINGS)
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=3))
def test_mutated_example_never_crashes_check(mutations: list[Mutation], capsys: pytest.CaptureFixture[str]) -> None:
    """`guardrails check` of a mutant: exit 0 or 1, no traceback, each error at file:line:column with a hint."""
    _run(mutations, capsys)


@settings(max_examples=220, **_SETTINGS)
@given(name=_file, mutations=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_a_mutated_file_reads_into_located_hinted_errors(name: str, mutations: list[Mutation]) -> None:
    """The reader alone, on one file (cheap, so more examples): plain data, or errors each with a line and a hint."""
    files = dict(BASE)
    for mutation in mutations:
        dataclasses.replace(mutation, file=name).apply(files)
    problems: list[Diagnostic] = []
    source = text.decode(files[name], name, problems)
    document = parse_marked(source, name, problems) if source is not None else None
    for problem in problems:
        assert problem.location is not None and problem.location.line > 0 and problem.hint, problem
    if not problems:
        assert document is not None and isinstance(document.data, (dict, list, str, int, float, bool, type(None),
                                                                    date))


def test_the_unmutated_base_is_valid() -> None:
    """The property test starts from a blueprint that reads and resolves, so each mutation is what fails."""
    with tempfile.TemporaryDirectory() as temporary:
        for name, content in BASE.items():
            (Path(temporary) / name).write_bytes(content)
        model = build_model(load_blueprint(Path(temporary)))
    assert len(model.blueprint.tests) == KEPT_TESTS
