"""`guardrails account add|set-id|move` on a copy of the example blueprint: the YAML keeps every comment and line
it had, a bad edit is put back, and the regenerated output holds the new account's bundle (two phases)."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from guardrails.cli import main
from guardrails.emitters.write import read_tree

from .conftest import ROOT


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    copy = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    return copy


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    removed = [l[1:] for l in diff if l.startswith("-") and not l.startswith("---")]
    added = [l[1:] for l in diff if l.startswith("+") and not l.startswith("+++")]
    return removed, added


def _account(args: list[str], blueprint: Path, output: Path, *extra: str) -> int:
    return main(["account", *args, "-b", str(blueprint), "-o", str(output), *extra])


def test_add_keeps_comments_and_formatting_and_adds_one_line(blueprint: Path, tmp_path: Path) -> None:
    before = (blueprint / "organization.yaml").read_text()
    assert _account(["add", "app-staging", "--ou", "Workloads/Dev", "--email", "aws+app-staging@example.com"],
                    blueprint, tmp_path / "out", "--no-build") == 0
    after = (blueprint / "organization.yaml").read_text()
    removed, added = _changed_lines(before, after)
    assert removed == []
    assert added == ["            - {name: app-staging, email: aws+app-staging@example.com}"]
    # every comment of the original is still there, on its line
    assert [l for l in before.splitlines() if "#" in l] == [l for l in after.splitlines() if "#" in l]


def test_phase_one_then_set_id_then_move(blueprint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _account(["add", "app-staging", "--ou", "Workloads/Dev", "--email", "aws+app-staging@example.com"],
                    blueprint, out, "--skip-external") == 0
    phase1 = read_tree(out)
    # Phase 1: only the account itself and its checklist; no baseline without an id.
    assert "terraform/accounts/app-staging/main.tf" not in phase1
    assert 'resource "aws_organizations_account" "app_staging"' in phase1["terraform/organization/organization.tf"]
    assert "AccountName: app-staging" in phase1["cloudformation/organization-accounts.yaml"]
    checklist = phase1["reports/accounts/app-staging.md"]
    assert "guardrails account set-id app-staging ID" in checklist and "Phase 1" in checklist

    assert _account(["set-id", "app-staging", "400000000077"], blueprint, out, "--skip-external") == 0
    phase2 = read_tree(out)
    assert 'account_id = "400000000077"' in phase2["terraform/accounts/app-staging/main.tf"]
    assert "role/OrganizationAccountAccessRole" in phase2["terraform/accounts/app-staging/providers.tf"]
    assert "## Bootstrap" in phase2["reports/accounts/app-staging.md"]
    text = (blueprint / "organization.yaml").read_text()
    assert '- {name: app-staging, id: "400000000077", email: aws+app-staging@example.com}' in text

    assert _account(["move", "app-staging", "--ou", "Workloads/Prod"], blueprint, out, "--skip-external") == 0
    assert "Workloads/Prod" in read_tree(out)["reports/accounts/app-staging.md"]


def test_a_rejected_edit_leaves_the_blueprint_and_output_as_they_were(blueprint: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["build", str(blueprint), "-o", str(out), "--skip-external"]) == 0
    before_yaml = (blueprint / "organization.yaml").read_text()
    before_out = read_tree(out)
    capsys.readouterr()
    code = _account(["add", "app-two", "--ou", "Workloads/Dev", "--email", "aws+app-dev@example.com"], blueprint, out,
                    "--skip-external")
    assert code == 1
    err = capsys.readouterr().err
    assert "organization.yaml:" in err and "GR302" in err and "aws+app-dev@example.com" in err
    assert (blueprint / "organization.yaml").read_text() == before_yaml
    assert read_tree(out) == before_out


def test_unknown_ou_and_duplicate_names_are_located_blueprint_errors(blueprint: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = (blueprint / "organization.yaml").read_text()
    assert _account(["add", "x1", "--ou", "Workloads/Staging", "--email", "x1@example.com"], blueprint,
                    tmp_path / "out", "--no-build") == 1
    err = capsys.readouterr().err
    assert "organization.yaml:" in err and "GR301: no OU 'Workloads/Staging'" in err
    assert "Workloads/Prod, Workloads/Dev" in err and "the blueprint was not changed" in err
    assert _account(["add", "app-dev", "--ou", "Sandbox", "--email", "x2@example.com"], blueprint, tmp_path / "out",
                    "--no-build") == 1
    err = capsys.readouterr().err
    line = next(i for i, l in enumerate(before.splitlines(), 1) if "name: app-dev" in l)
    assert f"organization.yaml:{line}:" in err and "GR302: the blueprint already has an account named 'app-dev'" in err
    assert _account(["set-id", "app-dve", "400000000099"], blueprint, tmp_path / "out", "--no-build") == 1
    assert "no member account named 'app-dve'" in (err := capsys.readouterr().err) and "did you mean 'app-dev'" in err
    assert _account(["move", "app-dev", "--ou", "Nope"], blueprint, tmp_path / "out", "--no-build") == 1
    assert "GR301: no OU 'Nope'" in capsys.readouterr().err
    assert (blueprint / "organization.yaml").read_text() == before


def test_quarantine_places_the_account_in_the_quarantine_ou_with_a_note(blueprint: Path, tmp_path: Path) -> None:
    path = blueprint / "organization.yaml"
    text = path.read_text()
    if "quarantine" not in text.split("units:", 1)[1]:
        text = text.replace("    Sandbox:\n", "    Quarantine:\n      guardrails: [quarantine]\n    Sandbox:\n", 1)
        path.write_text(text)
    out = tmp_path / "out"
    assert _account(["add", "fresh", "--quarantine", "--ou", "Workloads/Prod", "--email", "aws+fresh@example.com",
                     "--id", "600000000001"], blueprint, out, "--skip-external") == 0
    after = path.read_text()
    # With --id the account exists already: `existing: true`, so Terraform imports it instead of creating it.
    assert ("- {name: fresh, id: \"600000000001\", email: aws+fresh@example.com, existing: true}  # quarantined: "
            "`guardrails account move fresh --ou Workloads/Prod` once its baseline is applied") in after
    files = read_tree(out)
    assert "guardrails account move fresh --ou OU" in files["reports/accounts/fresh.md"]
    imports = "".join(t for p, t in files.items() if p.startswith("terraform/organization/"))
    assert 'to = aws_organizations_account.fresh\n  id = "600000000001"' in imports  # imported, not created
    manifest = files["policies/manifest.json"]
    assert '"quarantine"' in manifest
    assert _account(["move", "fresh", "--ou", "Workloads/Prod"], blueprint, out, "--skip-external") == 0
    moved = path.read_text()
    assert "quarantined:" not in moved
    assert "- {name: fresh, id: \"600000000001\", email: aws+fresh@example.com, existing: true}" in moved
