"""CloudFormation baselines built and dumped principal by principal (guardrails/emitters/cloudformation/baseline.py
``_entry``/``_body``): the resources of a principal shared by many classes, built and dumped once, give byte for
byte the template that building each class on its own and dumping it whole gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.emitters.cloudformation import yaml_writer
from guardrails.emitters.cloudformation.baseline import Entries, build_template, render_baseline
from guardrails.emitters.cloudformation.render import dump
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import Plan
from tests.bench import write_blueprint
from tests.conftest import ROOT


def _check(plan: Plan) -> None:
    memo: Entries = {}
    for cls in plan.classes:
        management = any(plan.account(a).management for a in cls.accounts)
        fast = render_baseline(plan, cls, management=management, memo=memo)
        assert fast == render_baseline(plan, cls, management=management)
        # The plain path: the whole template built fresh and dumped in one piece (the header is comments).
        body = dump(build_template(plan, cls, management=management))
        assert fast.endswith(body) and all(line.startswith("#") for line in fast[:-len(body)].splitlines())
    assert any(value[1] is not None for value in memo.values())


def test_example_blueprint() -> None:
    _check(compile_blueprint(ROOT / "blueprints", run_tests=False).plan)


@pytest.mark.parametrize("accounts", [10, 200])
def test_synthetic_organization(tmp_path: Path, accounts: int) -> None:
    plan = compile_blueprint(write_blueprint(tmp_path / "bp", accounts), run_tests=False).plan
    assert len(plan.classes) > 2
    _check(plan)


@pytest.mark.parametrize("last", ["plain", "kept\n\n", "code\n"])
def test_entries_concatenate(last: str) -> None:
    """A mapping's text is its entries' texts joined, whatever the last scalar (a kept literal ends with ...)."""
    data = {"A": "x", "Resources": {"One": {"Type": "T", "P": ["a", {"b": 1}]}, "Two": {"Code": last}}}
    head = yaml_writer.entries({"A": "x"}, "")
    parts = [yaml_writer.entries({k: v}, "  ") for k, v in data["Resources"].items()]
    assert head is not None and None not in parts
    joined = head + yaml_writer.key_line("Resources") + "".join(parts) + yaml_writer.document_end(data)
    assert joined == dump(data) == yaml_writer.pyyaml_dump(data)
