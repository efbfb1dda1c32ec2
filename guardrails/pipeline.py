"""Runs the stages in order; the only module that imports all of them.

blueprint (read) → model (resolve, check) → policies (plan) → emitters (text) → validators.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from guardrails.blueprint import load_blueprint
from guardrails.diagnostics import Diagnostic, Severity, ValidationFailed
from guardrails.emitters import emit_all
from guardrails.emitters.write import read_tree, stage_output, swap_in
from guardrails.model import build_model
from guardrails.policies.ir import Plan
from guardrails.policies.synthesize import synthesize


@dataclass
class Compiled:
    plan: Plan
    files: dict[str, str]
    seconds: float


@dataclass
class BuildResult:
    compiled: Compiled
    diagnostics: list[Diagnostic] = field(default_factory=list)
    validator_summary: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def compile_blueprint(directory: Path) -> Compiled:
    """Blueprint directory → plan and every output file, in memory. Raises BlueprintError."""
    started = time.perf_counter()
    plan = synthesize(build_model(load_blueprint(directory)))
    files = emit_all(plan)
    return Compiled(plan, files, time.perf_counter() - started)


def _errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]


def build(directory: Path, output: Path, *, validate: bool = True, external: bool = True,
          checkov: str | None = None) -> BuildResult:
    """Compile, stage, validate the staged tree, then swap it in.

    If validation finds errors the previous ``output`` stays as it was and the rejected tree is
    kept beside it (``.<name>.rejected``) for inspection; :class:`ValidationFailed` is raised.
    """
    compiled = compile_blueprint(directory)
    previous = read_tree(output)
    result = BuildResult(compiled)
    result.added = sorted(set(compiled.files) - set(previous))
    result.removed = sorted(set(previous) - set(compiled.files))
    result.changed = sorted(p for p in set(compiled.files) & set(previous) if compiled.files[p] != previous[p])
    staging = stage_output(compiled.files, output)
    try:
        if validate:
            from guardrails.validators import validate as run_validators

            report = run_validators(compiled.plan, staging, checkov=checkov, run_external=external)
            result.diagnostics = list(report.diagnostics)
            result.validator_summary = report.summary()
            if _errors(result.diagnostics):
                rejected = output.resolve().with_name(f".{output.resolve().name}.rejected")
                shutil.rmtree(rejected, ignore_errors=True)
                staging.rename(rejected)
                raise ValidationFailed(result.diagnostics, rejected=rejected)
        swap_in(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


def validate_output(directory: Path, output: Path, *, external: bool = True, checkov: str | None = None) -> BuildResult:
    """Validate the existing ``output`` (as generated from ``directory``) without rewriting it."""
    from guardrails.validators import validate as run_validators

    compiled = compile_blueprint(directory)
    result = BuildResult(compiled)
    report = run_validators(compiled.plan, output, checkov=checkov, run_external=external)
    result.diagnostics = list(report.diagnostics)
    result.validator_summary = report.summary()
    on_disk = read_tree(output)
    result.changed = sorted(p for p, text in compiled.files.items() if on_disk.get(p) != text)
    result.removed = sorted(set(on_disk) - set(compiled.files))
    return result
