"""Validation that scales with distinct content (issue 17): the shape rule, staging, the mapping of findings back."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.diagnostics import Diagnostic, Location, ToolError
from guardrails.emitters.write import write_output
from guardrails.pipeline import Compiled
from guardrails.validators import ValidatorRun, validate
from guardrails.validators.checkov import find_checkov
from guardrails.validators.shapes import Coverage, describe, plan_coverage

SCANNED = ("terraform/", "cloudformation/")
WEAK_PASSWORD_POLICY = """resource "aws_iam_account_password_policy" "weak" {
  minimum_password_length = 6
}
"""


def _scanned(compiled: Compiled) -> dict[str, str]:
    return {path: text for path, text in compiled.files.items() if path.startswith(SCANNED)}


def _class_of(compiled: Compiled, account: str) -> tuple[str, ...]:
    return next(c.accounts for c in compiled.plan.classes if account in c.accounts)


def test_the_examples_account_root_modules_are_identical_in_shape_within_their_class(
        example_compiled: Compiled) -> None:
    coverage = plan_coverage(example_compiled.plan, _scanned(example_compiled))
    assert coverage.own_shape == ()
    assert set(coverage.representatives) == {c.accounts[0] for c in example_compiled.plan.classes}
    assert set(coverage.covered_accounts) == {a for c in example_compiled.plan.classes for a in c.accounts[1:]}
    # Every file is either validated or stands for exactly one validated file of the same name.
    assert set(coverage.validated) | set(coverage.stands_for) == set(_scanned(example_compiled))
    for path, target in coverage.stands_for.items():
        assert target in coverage.validated and Path(path).name == Path(target).name
    assert not any(p.startswith("terraform/accounts/data-dev/") for p in coverage.validated)


def test_a_planted_difference_makes_that_account_validated_on_its_own(example_compiled: Compiled) -> None:
    files = _scanned(example_compiled)
    representative, other = _class_of(example_compiled, "data-dev")
    assert other == "data-dev"
    main = f"terraform/accounts/{other}/main.tf"
    files[main] = files[main].replace('region     = "eu-west-1"', 'region     = "us-east-1"')
    coverage = plan_coverage(example_compiled.plan, files)
    assert coverage.own_shape == (other,)
    assert main in coverage.validated and main not in coverage.stands_for
    assert f"terraform/accounts/{representative}/main.tf" in coverage.validated
    # An extra file is a difference too, and so is a folder that belongs to no class.
    files = _scanned(example_compiled)
    files[f"terraform/accounts/{other}/extra.tf"] = WEAK_PASSWORD_POLICY
    files["terraform/accounts/stranger/main.tf"] = WEAK_PASSWORD_POLICY
    coverage = plan_coverage(example_compiled.plan, files)
    assert coverage.own_shape == (other, "stranger")
    assert {f"terraform/accounts/{other}/extra.tf", "terraform/accounts/stranger/main.tf"} <= set(coverage.validated)


def test_another_accounts_id_is_not_taken_for_the_accounts_own(example_compiled: Compiled) -> None:
    """The placeholders stand for the account's own values only: the representative's id in another account's
    file (a cross-account reference) is a difference."""
    files = _scanned(example_compiled)
    representative, other = _class_of(example_compiled, "data-dev")
    rep_id, other_id = (example_compiled.plan.account(n).id for n in (representative, other))
    main = f"terraform/accounts/{other}/main.tf"
    files[main] = files[main].replace(f'account_id = "{other_id}"', f'account_id = "{rep_id}"')
    assert files[main] != _scanned(example_compiled)[main]
    assert plan_coverage(example_compiled.plan, files).own_shape == (other,)


def test_byte_identical_templates_are_validated_once(example_compiled: Compiled) -> None:
    files = _scanned(example_compiled)
    files["cloudformation/copy-of-organization.yaml"] = files["cloudformation/organization.yaml"]
    coverage = plan_coverage(example_compiled.plan, files)
    assert coverage.duplicate_templates == 1
    kept = {"cloudformation/copy-of-organization.yaml", "cloudformation/organization.yaml"} & set(coverage.validated)
    assert len(kept) == 1


def test_a_finding_on_a_representative_is_reported_for_every_account_of_its_class(
        example_compiled: Compiled) -> None:
    coverage = plan_coverage(example_compiled.plan, _scanned(example_compiled))
    representative, *others = _class_of(example_compiled, "data-dev")
    finding = Diagnostic.of("GR701", "CKV_AWS_1 something (resource module.baseline.x)",
                            Location(f"terraform/accounts/{representative}/main.tf", 4, 1))
    elsewhere = Diagnostic.of("GR701", "CKV_AWS_2 other", Location("terraform/organization/scps.tf", 2, 1))
    expanded = coverage.expand([finding, elsewhere])
    assert {d.location for d in expanded if d.message == finding.message} == {
        Location(f"terraform/accounts/{name}/main.tf", 4, 1) for name in (representative, *others)}
    assert [d for d in expanded if d.message == elsewhere.message] == [elsewhere]


def test_the_summary_says_what_was_validated_and_how_the_rest_maps(example_compiled: Compiled) -> None:
    coverage = plan_coverage(example_compiled.plan, _scanned(example_compiled))
    classes = len(example_compiled.plan.classes)
    accounts = sum(len(c.accounts) for c in example_compiled.plan.classes)
    text = describe(coverage)
    assert text.startswith(f"{classes} account root modules (1 per class) + 0 on their own + ")
    assert text.endswith(f"; {accounts - classes} account root modules identical in shape to their class's")
    assert " modules + " in text and " templates" in text
    line = ValidatorRun("checkov 3", (), {"passed": 5, "failed": 0}, 1.0, scope=text).summary()
    assert line == f"checkov 3 on {text}: 5 passed, 0 failed; 0 finding(s) in 1.0 s"
    assert ValidatorRun("cfn-lint", (), {"templates": 2}, 0.5).summary() == (
        "cfn-lint: 2 templates; 0 finding(s) in 0.5 s")


def test_empty_coverage_expands_nothing() -> None:
    finding = Diagnostic.of("GR701", "x", Location("terraform/a.tf", 1, 1))
    assert Coverage(()).expand([finding]) == [finding]


@pytest.fixture
def checkov() -> str:
    try:
        return find_checkov(None)
    except ToolError:
        pytest.skip("checkov is not installed: set GUARDRAILS_CHECKOV or run `make build`")


@pytest.mark.slow
def test_a_checkov_failure_planted_in_a_non_representative_account_is_still_found(
        tmp_path: Path, checkov: str, example_compiled: Compiled) -> None:
    files = {p: t for p, t in example_compiled.files.items() if p.startswith(SCANNED)}
    representative, other = _class_of(example_compiled, "data-dev")
    planted = f"terraform/accounts/{other}/main.tf"
    files[planted] = files[planted] + "\n" + WEAK_PASSWORD_POLICY
    write_output(files, tmp_path)
    report = validate(example_compiled.plan, tmp_path, checkov=checkov)
    found = [d for d in report.diagnostics if d.code == "GR701" and "CKV_AWS_10 " in d.message]
    assert {d.location.file for d in found if d.location} == {planted}
    summary = next(line for line in report.summary() if line.startswith("checkov"))
    assert " + 1 on their own + " in summary
    assert f"terraform/accounts/{representative}/main.tf" not in {d.location.file for d in found if d.location}
