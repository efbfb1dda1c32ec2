"""Reports and the policy tree computed once per distinct thing (guardrails/emitters/reports.py ``levels``,
guardrails/emitters/policies.py ``wildcards``) give what computing them account by account and file by file gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.emitters import policies, reports
from guardrails.iam.actions import has_wildcard
from guardrails.iam.documents import as_tuple
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import Plan
from tests.bench import write_blueprint
from tests.conftest import ROOT


def _check(plan: Plan) -> None:
    levels: reports.Levels = {}
    for account in plan.accounts:
        assert reports.effective_guardrails(plan, account.name, levels) == reports.effective_guardrails(
            plan, account.name)
    assert levels
    files = policies.emit(plan)
    patterns = sorted({p for path, text in files.items() if path.endswith(".json") and path not in
                       (policies.MANIFEST, policies.WILDCARDS) for s in json.loads(text)["Statement"]
                       for e in ("Action", "NotAction") for p in as_tuple(s.get(e)) if has_wildcard(p)})
    assert sorted(json.loads(files[policies.WILDCARDS])["patterns"]) == patterns
    manifest = json.loads(files[policies.MANIFEST])
    assert [a["class"] for a in manifest["accounts"]] == [
        c.key if (c := plan.class_of(a.name)) else None for a in plan.accounts]


def test_example_blueprint() -> None:
    _check(compile_blueprint(ROOT / "blueprints", run_tests=False).plan)


@pytest.mark.parametrize("accounts", [10, 200])
def test_synthetic_organization(tmp_path: Path, accounts: int) -> None:
    _check(compile_blueprint(write_blueprint(tmp_path / "bp", accounts), run_tests=False).plan)
