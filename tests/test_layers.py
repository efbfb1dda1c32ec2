"""Imports flow one way: blueprint → model → policies → emitters | validators | evaluation → pipeline → cli.

Emitters render the plan only (they never read the blueprint or the model); validators never import the
emitters. Checked on the source with the standard library's parser, so no import side effects run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

ALLOWED = {
    "diagnostics": {"diagnostics"},
    # The one IAM kernel (documents, actions, ARNs, organization paths, the manifest): every stage imports it.
    "iam": {"diagnostics", "iam"},
    "blueprint": {"diagnostics", "blueprint"},
    "model": {"diagnostics", "blueprint", "model"},
    "policies": {"diagnostics", "blueprint", "model", "policies"},
    "emitters": {"diagnostics", "policies", "emitters"},
    "validators": {"diagnostics", "policies", "validators"},
    # Reads policy JSON (as emitted) and the plan's IR; never the blueprint, the model or the emitters.
    "evaluation": {"diagnostics", "policies", "evaluation"},
    "review": {"diagnostics", "policies", "evaluation", "review"},
    "audit": {"diagnostics", "policies", "evaluation", "audit"},
    # Reads the emitted tree (and the plan's IR) like the evaluator's other readers.
    "escalation": {"diagnostics", "policies", "evaluation", "escalation"},
}


def _stage(module_path: Path) -> str | None:
    parts = module_path.relative_to(ROOT / "guardrails").with_suffix("").parts
    name = parts[0]
    return name if name in ALLOWED else None


def _imported_stages(source: str) -> set[str]:
    stages: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "guardrails" and len(parts) > 1 and parts[1] in ALLOWED:
                stages.add(parts[1])
    return stages


@pytest.mark.parametrize("path", sorted((ROOT / "guardrails").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    stage = _stage(path)
    if stage is None:
        return  # cli, pipeline, __init__, __main__ may import every stage
    wrong = _imported_stages(path.read_text(encoding="utf-8")) - ALLOWED[stage] - {"iam"}
    assert not wrong, f"{path.relative_to(ROOT)} ({stage}) imports {sorted(wrong)}"
