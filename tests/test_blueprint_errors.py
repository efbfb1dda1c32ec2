"""Bad blueprints get located, coded errors: each case under tests/errors/<name>/ holds a blueprint and
the exact diagnostics expected (regenerate with `make golden`, then read the diff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, code_catalog
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
