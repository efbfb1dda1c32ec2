"""Account root modules rendered once per shape (guardrails/emitters/terraform/accounts.py ``account_roots``) are
byte-identical to rendering every account on its own (``account_root``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.emitters.terraform.accounts import account_root, account_roots
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import Plan
from tests.bench import synthetic_blueprint, write_blueprint
from tests.conftest import ROOT

CASES = sorted(p.name for p in (ROOT / "tests" / "cases").iterdir() if (p / "blueprint").is_dir())


def _each(plan: Plan) -> dict[str, str]:
    files: dict[str, str] = {}
    for account in sorted(plan.accounts, key=lambda a: a.name):
        files.update(account_root(plan, account))
    return files


def _plan(directory: Path) -> Plan:
    return compile_blueprint(directory, run_tests=False).plan


@pytest.mark.parametrize("directory", [ROOT / "blueprints", *(ROOT / "tests/cases" / c / "blueprint" for c in CASES)],
                         ids=["example", *CASES])
def test_shapes_equal_account_by_account(directory: Path) -> None:
    plan = _plan(directory)
    assert account_roots(plan) == _each(plan)


def test_synthetic_organization(tmp_path: Path) -> None:
    plan = _plan(write_blueprint(tmp_path / "bp", 100))
    shaped = account_roots(plan)
    assert shaped == _each(plan)
    assert len({p.rsplit("/", 1)[0] for p in shaped}) >= 100


def test_names_of_every_length_and_shared_text(tmp_path: Path) -> None:
    """Names one to many characters long, names that are words of the templates, ids sharing digits."""
    import yaml

    content = synthetic_blueprint(10)
    names = ["a", "b2", "aws", "baseline", "guardrails", "module", "acct-0003", "x" * 40, "terraform", "s3"]
    def accounts(unit: dict) -> list[dict]:
        return [*unit.get("accounts", []), *(a for child in unit.get("units", {}).values() for a in accounts(child))]

    for account in accounts(content["organization.yaml"]["organization"]):
        number = int(account["id"]) - 700000000000
        account["name"] = names[number - 1]
        account["id"] = f"{number:012d}" if number % 2 else f"{number}{number:011d}"[:12]
    content["organization.yaml"]["organization"]["break_glass"]["account"] = names[0]
    for role in content["identity.yaml"]["roles"].values():
        role["trust"]["accounts"] = [{"account": names[0]}]
    directory = tmp_path / "bp"
    directory.mkdir()
    for name, data in content.items():
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = _plan(directory)
    assert account_roots(plan) == _each(plan)
