"""Terraform files assembled from blocks (guardrails/emitters/terraform/render.py ``block``/``assemble``): each
principal of a baseline rendered once per distinct context and aligned on its own gives byte for byte the file that
rendering and aligning every block of every class in one pass gives; the organization's member accounts filled into
their shape (organization.py ``account_blocks``) give what rendering each account gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.emitters import header_text
from guardrails.emitters.terraform.baseline import _attachments, module_directory, principal_files
from guardrails.emitters.terraform.render import Blocks, align, environment
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import Plan
from tests.bench import write_blueprint
from tests.conftest import ROOT


def _plain(plan: Plan) -> dict[str, str]:
    """Every principal file, rendered in one pass per file and aligned once, nothing memoized."""
    env = environment()
    partition = plan.org.partition
    files: dict[str, str] = {}
    for cls in plan.classes:
        roles = {r.key: _attachments(r.key, r.policies, partition) for r in cls.baseline.roles}
        groups = {g.key: _attachments(g.key, g.policies, partition) for g in cls.baseline.groups}
        for name, (heading, blocks) in principal_files(plan, cls, roles, groups).items():
            body = env.get_template(heading).render() + "".join(
                "\n" + env.get_template(template).render(**context) for template, context in blocks)
            files[f"{module_directory(cls)}/{name}"] = align(f"# {header_text(plan)}\n\n{body}")
    return files


def _check(plan: Plan) -> None:
    from guardrails.emitters.terraform import emit

    memo: Blocks = {}
    emitted = emit(plan)
    plain = _plain(plan)
    assert plain and {p: emitted[p] for p in plain} == plain
    # The memo changes nothing either: module by module with and without it.
    from guardrails.emitters.terraform.baseline import baseline_module

    for cls in plan.classes:
        assert baseline_module(plan, cls, memo) == baseline_module(plan, cls, None)
    # Member accounts filled into their shape's block: the same as each rendered on its own.
    from guardrails.emitters.terraform.organization import organization_files

    assert organization_files(plan) == organization_files(plan, shaped=False)


def test_example_blueprint() -> None:
    _check(compile_blueprint(ROOT / "blueprints", run_tests=False).plan)


@pytest.mark.parametrize("accounts", [10, 200])
def test_synthetic_organization(tmp_path: Path, accounts: int) -> None:
    plan = compile_blueprint(write_blueprint(tmp_path / "bp", accounts), run_tests=False).plan
    assert len(plan.classes) > 2
    _check(plan)


CASES = sorted(p.name for p in (ROOT / "tests" / "cases").iterdir() if (p / "blueprint").is_dir())


@pytest.mark.parametrize("case", CASES)
def test_member_accounts_of_every_case(case: str) -> None:
    """Existing accounts (import blocks), accounts still to be created, OUs managed by Control Tower."""
    from guardrails.emitters.terraform.organization import organization_files

    plan = compile_blueprint(ROOT / "tests/cases" / case / "blueprint", run_tests=False).plan
    assert organization_files(plan) == organization_files(plan, shaped=False)


def test_shapes_are_used(tmp_path: Path) -> None:
    from guardrails.emitters.terraform.hcl import Hcl
    from guardrails.emitters.terraform.organization import _shape

    plan = compile_blueprint(write_blueprint(tmp_path / "bp", 10), run_tests=False).plan
    member = next(a for a in plan.organization_members)
    assert _shape(plan, (member, "acct", Hcl("aws_organizations_organizational_unit.x.id"))) is not None


def test_existing_and_odd_member_accounts(tmp_path: Path) -> None:
    """Accounts imported (existing: true) next to created ones, names and emails with characters quote escapes."""
    import yaml

    from guardrails.emitters.terraform.organization import organization_files
    from tests.bench import synthetic_blueprint

    content = synthetic_blueprint(10)

    def accounts(unit: dict) -> list[dict]:
        return [*unit.get("accounts", []), *(a for child in unit.get("units", {}).values() for a in accounts(child))]

    for index, account in enumerate(accounts(content["organization.yaml"]["organization"])):
        if index % 2:
            account["existing"] = True
        if index % 3 == 0:
            account["email"] = f"a+{index}.grStandInNameA@example.com"
    directory = tmp_path / "bp"
    directory.mkdir()
    for name, data in content.items():
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = compile_blueprint(directory, run_tests=False).plan
    files = organization_files(plan)
    assert "to = aws_organizations_account." in files["terraform/organization/organization.tf"]
    assert files == organization_files(plan, shaped=False)
