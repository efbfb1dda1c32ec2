"""Bad blueprints get located, coded errors: each case under tests/errors/<name>/ holds a blueprint and
the exact diagnostics expected (regenerate with `make golden`, then read the diff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Diagnostic, code_catalog
from guardrails.pipeline import compile_blueprint

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(p.name for p in ERRORS.iterdir() if (p / "blueprint").is_dir())


@pytest.mark.parametrize("case", CASES)
def test_error_case(case: str, update_golden: bool) -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(Path("tests/errors") / case / "blueprint")
    rendered = "\n".join(d.render() for d in raised.value.diagnostics) + "\n"
    expected = ERRORS / case / "expected.txt"
    if update_golden:
        expected.write_text(rendered, encoding="utf-8")
    assert rendered == expected.read_text(encoding="utf-8")


def test_every_error_is_located_and_hinted_or_explained() -> None:
    for case in CASES:
        with pytest.raises(BlueprintError) as raised:
            compile_blueprint(Path("tests/errors") / case / "blueprint")
        for diagnostic in raised.value.diagnostics:
            assert diagnostic.location is not None and diagnostic.location.line > 0, (case, diagnostic)
            assert diagnostic.code in code_catalog()


def test_cli_exit_code_and_message_for_blueprint_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "out"
    code = main(["build", "tests/errors/unknown-key/blueprint", "-o", str(output), "--skip-external"])
    captured = capsys.readouterr()
    assert code == 1
    assert "organization.yaml:7:3" in captured.err and "GR201" in captured.err and "home_region" in captured.err
    assert "Traceback" not in captured.err
    assert not output.exists(), "nothing may be written when the blueprint is invalid"


def test_missing_directory_is_a_located_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no/such/dir"]) == 1
    assert "GR100" in capsys.readouterr().err


def test_every_golden_error_has_a_hint() -> None:
    """The README promises a hint with every error: each error line of every case is followed by `    hint: …`."""
    for case in CASES:
        lines = (ERRORS / case / "expected.txt").read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if " error GR" in line:
                following = lines[index + 1] if index + 1 < len(lines) else ""
                assert following.startswith("    hint: ") and following.strip() != "hint:", (case, line)


def test_every_reader_and_model_code_has_a_default_hint() -> None:
    """Codes the reader, the model and the access tests use (GR1xx–GR4xx) carry a hint in diagnostics.yaml, which
    Diagnostic.of uses whenever the finding brings no more specific one."""
    for code, info in code_catalog().items():
        if code[2] in "1234":
            assert info.hint.strip(), f"{code} has no default hint in guardrails/data/diagnostics.yaml"
    assert Diagnostic.of("GR201", "unknown key").hint == code_catalog()["GR201"].hint
    assert Diagnostic.of("GR201", "unknown key", hint="did you mean `x`?").hint == "did you mean `x`?"


def test_a_location_on_line_100_is_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    """`:100:` is an emoji code to rich; the location must reach the terminal as written."""
    assert main(["check", "tests/errors/error-on-line-100/blueprint"]) == 1
    assert "error-on-line-100/blueprint/organization.yaml:100:3: error GR201" in capsys.readouterr().err


@pytest.mark.parametrize(("resource", "code", "message"), [
    ("''", "GR203", "empty resource"),
    ('"arn:${partition}:s3:::${aws:username"', "GR306", "never closed"),
])
def test_statement_resources_that_iam_would_reject_are_located_errors(tmp_path: Path, resource: str, code: str,
                                                                      message: str) -> None:
    """Two inputs the hostile-input corpus let through: an empty resource and an unclosed policy variable."""
    import shutil

    target = tmp_path / "blueprint"
    shutil.copytree(Path("tests/cases/minimal/blueprint"), target)
    (target / "extra.yaml").write_text(
        "job_functions:\n  extra-job:\n    statements:\n      - sid: Extra\n        actions: [s3:GetObject]\n"
        f"        resources: [{resource}]\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(target, run_tests=False)
    found = [d for d in raised.value.diagnostics if d.code == code]
    assert found and message in found[0].message and found[0].location is not None
    assert found[0].location.file.endswith("extra.yaml") and found[0].location.line == 6
