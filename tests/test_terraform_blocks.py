"""Baseline modules rendered block by block (guardrails/emitters/terraform/render.py ``block``/``assemble``): each
principal rendered once per distinct context and aligned on its own gives byte for byte the file that rendering and
aligning every block of every class in one pass gives."""

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


def test_example_blueprint() -> None:
    _check(compile_blueprint(ROOT / "blueprints", run_tests=False).plan)


@pytest.mark.parametrize("accounts", [10, 200])
def test_synthetic_organization(tmp_path: Path, accounts: int) -> None:
    plan = compile_blueprint(write_blueprint(tmp_path / "bp", accounts), run_tests=False).plan
    assert len(plan.classes) > 2
    _check(plan)
