"""Stage 5: check what was generated, before anyone runs ``apply``.

Five validators, one diagnostics list:

- own checks (GR501–GR506) on the plan's policy documents and on the CloudFormation templates;
- cfn-lint (GR601–GR603), in-process, on ``output/cloudformation/**/*.yaml``;
- checkov (GR701–GR703), from its own virtual environment, on ``output/terraform`` and ``output/cloudformation``;
- parliament and cloudsplaining (GR801–GR805), in one child process, on the JSON under ``output/policies``.

A validator that crashes reports GR901 or raises :class:`~guardrails.diagnostics.ToolError`; it never passes.
Validators read the plan and the files on disk; they never import the emitters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from guardrails.diagnostics import Diagnostic, Severity
from guardrails.policies.ir import Plan
from guardrails.validators._common import guarded, unique
from guardrails.validators._documents import generated_documents
from guardrails.validators.cfn_lint import lint_templates
from guardrails.validators.cfn_templates import check_templates
from guardrails.validators.checkov import CheckovResult, find_checkov, run_checkov
from guardrails.validators.iam_audit import audit, check_installed, read_documents
from guardrails.validators.own_checks import check_plan

__all__ = ["ValidationReport", "ValidatorRun", "read_templates", "run_own_checks", "validate"]


@dataclass(frozen=True)
class ValidatorRun:
    """What one validator found, what it looked at (counts for the summary) and how long it took."""

    name: str
    diagnostics: tuple[Diagnostic, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str = ""  # why the validator did not run; "" when it ran

    def summary(self) -> str:
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        counted = ", ".join(f"{value} {key}" for key, value in self.counts.items())
        return f"{self.name}: {counted}; {len(self.diagnostics)} finding(s) in {self.seconds:.1f} s"


@dataclass(frozen=True)
class ValidationReport:
    runs: tuple[ValidatorRun, ...]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every finding of every validator, de-duplicated and in file order."""
        return sorted(unique(d for run in self.runs for d in run.diagnostics), key=Diagnostic.sort_key)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def summary(self) -> list[str]:
        """One line per validator, for the build summary."""
        return [run.summary() for run in self.runs]


def validate(plan: Plan, output_dir: Path, *, checkov: str | None = None,
             run_external: bool = True) -> ValidationReport:
    """Run the own checks, then (unless ``run_external`` is false) cfn-lint, checkov, parliament and cloudsplaining
    on ``output_dir``.

    Raises :class:`~guardrails.diagnostics.ToolError` when an external tool is missing, crashes or times out.
    """
    executable = find_checkov(checkov) if run_external else ""  # fail fast, before the slower work
    if run_external:
        check_installed()
    templates = read_templates(output_dir)
    runs = [_timed("own checks", partial(run_own_checks, plan, templates),
                   {"policy documents": len(generated_documents(plan)), "templates": len(templates)})]
    if not run_external:
        return ValidationReport((*runs, *(ValidatorRun(name, skipped="external validators turned off")
                                          for name in ("cfn-lint", "checkov", "parliament", "cloudsplaining"))))
    regions = (plan.org.home_region, *plan.org.allowed_regions)
    runs.append(_timed("cfn-lint", lambda: lint_templates(templates, regions), {"templates": len(templates)}))
    runs.append(_checkov_run(executable, output_dir))
    runs.extend(_iam_audit_runs(plan, output_dir))
    return ValidationReport(tuple(runs))


def run_own_checks(plan: Plan, templates: dict[str, str]) -> list[Diagnostic]:
    """The checks on the plan's documents plus the CloudFormation template quotas."""
    return [*check_plan(plan), *guarded("CloudFormation template limits",
                                        partial(check_templates, templates, plan.limits))]


def read_templates(output_dir: Path) -> dict[str, str]:
    """Every CloudFormation template on disk, keyed by its path relative to the output directory."""
    root = output_dir / "cloudformation"
    if not root.is_dir():
        return {}
    return {path.relative_to(output_dir).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(root.rglob("*.yaml"))}


def _timed(name: str, run: Callable[[], Sequence[Diagnostic]], counts: dict[str, int]) -> ValidatorRun:
    start = time.perf_counter()
    diagnostics = tuple(run())
    return ValidatorRun(name, diagnostics, counts, time.perf_counter() - start)


def _checkov_run(executable: str, output_dir: Path) -> ValidatorRun:
    directories = [d for d in (output_dir / "terraform", output_dir / "cloudformation") if d.is_dir()]
    if not directories:
        return ValidatorRun("checkov", skipped=f"no terraform/ or cloudformation/ in {output_dir}")
    start = time.perf_counter()
    result: CheckovResult = run_checkov(executable, directories, relative_to=output_dir)
    counts = {"passed": result.passed, "failed": result.failed, "skipped": result.skipped}
    return ValidatorRun(f"checkov {result.version}".strip(), result.diagnostics, counts, time.perf_counter() - start)


def _iam_audit_runs(plan: Plan, output_dir: Path) -> list[ValidatorRun]:
    if not (output_dir / "policies").is_dir():
        skipped = f"no policies/ in {output_dir}"
        return [ValidatorRun(name, skipped=skipped) for name in ("parliament", "cloudsplaining")]
    result = audit(plan, read_documents(plan, output_dir))
    return [ValidatorRun(tool.name, tool.diagnostics, tool.counts, tool.seconds)
            for tool in (result.parliament, result.cloudsplaining)]
