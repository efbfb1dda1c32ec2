"""Imports flow one way: blueprint → model → policies → emitters | validators | evaluation → pipeline → cli/cdk.

Emitters render the plan only (they never read the blueprint or the model); validators never import the
emitters. guardrails.cdk sits at the top beside pipeline and cli (it compiles blueprints): no stage and not the
pipeline import it, it does not import the cli, and it is the only package that imports the CDK itself (aws_cdk,
constructs, cdk_nag, jsii), an optional extra that runs on Node.js; emitters/cdk_app.py writes the CDK app as text.
Checked on the source with the standard library's parser, so no import side effects run.
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


# The top of the stack: they may import every stage. cdk is a library for users' CDK apps, so not the cli either.
TOP_FORBIDS = {"pipeline": {"cdk", "cli", "workflows"}, "workflows": {"cdk", "cli"}, "cdk": {"cli"}}
CDK_DISTRIBUTIONS = {"aws_cdk", "constructs", "cdk_nag", "jsii"}  # guardrails[cdk]; cdk-nag for the checks


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


def _imported_modules(source: str) -> set[str]:
    """Every module name an import statement names (absolute imports; relative ones stay inside a package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _top(path: Path) -> str:
    return path.relative_to(ROOT / "guardrails").with_suffix("").parts[0]


@pytest.mark.parametrize("path", sorted((ROOT / "guardrails").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_cdk_sits_at_the_top_and_alone_imports_the_cdk(path: Path) -> None:
    top = _top(path)
    modules = _imported_modules(path.read_text(encoding="utf-8"))
    ours = {m.split(".")[1] for m in modules if m.startswith("guardrails.") and len(m.split(".")) > 1}
    if top in ALLOWED:
        assert "cdk" not in ours, f"{path.relative_to(ROOT)} ({top}) imports guardrails.cdk"
    wrong = ours & TOP_FORBIDS.get(top, set())
    assert not wrong, f"{path.relative_to(ROOT)} ({top}) imports {sorted(wrong)}"
    if top != "cdk":
        cdk = {m for m in modules if m.split(".")[0] in CDK_DISTRIBUTIONS}
        assert not cdk, f"{path.relative_to(ROOT)} imports {sorted(cdk)}: only guardrails/cdk may"


def test_the_cdk_app_emitter_is_an_emitter() -> None:
    path = ROOT / "guardrails" / "emitters" / "cdk_app.py"
    assert _stage(path) == "emitters"
    modules = _imported_modules(path.read_text(encoding="utf-8"))
    assert not {m for m in modules if m.split(".")[0] in CDK_DISTRIBUTIONS}
    assert not _imported_stages(path.read_text(encoding="utf-8")) - ALLOWED["emitters"] - {"iam"}
