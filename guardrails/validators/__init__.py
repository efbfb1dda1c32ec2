"""Stage 5: check what was generated, before anyone runs ``apply``.

Five validators, one diagnostics list:

- own checks (GR501–GR506) on the plan's policy documents and on the CloudFormation templates;
- cfn-lint (GR601–GR603), in-process, on each distinct template of ``output/cloudformation/**/*.yaml``;
- checkov (GR701–GR703), from its own virtual environment, on a staged copy of ``output/terraform`` and
  ``output/cloudformation`` holding one account root module per class (the others proven identical in shape,
  :mod:`guardrails.validators.shapes`) and every other file;
- parliament and cloudsplaining (GR801–GR805), in one child process, on the JSON under ``output/policies``.

The three external runs go concurrently (threads around child processes; cfn-lint in-process), and a finding on a
representative is reported at the same place of every file it stands for.

A validator that crashes reports GR901 or raises :class:`~guardrails.diagnostics.ToolError`; it never passes.
Validators read the plan and the files on disk; they never import the emitters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from guardrails.diagnostics import Diagnostic, Severity
from guardrails.policies.ir import Plan
from guardrails.progress import step
from guardrails.validators._common import guarded, unique

if TYPE_CHECKING:
    from guardrails.validators.checkov import CheckovResult
    from guardrails.validators.shapes import Coverage

# The external validators' modules are imported where they run: `check` imports this package for the own checks
# (guardrails.validators.own_checks) and pays for nothing else.

__all__ = ["ValidationReport", "ValidatorRun", "read_templates", "run_own_checks", "validate"]


@dataclass(frozen=True)
class ValidatorRun:
    """What one validator found, what it looked at (counts for the summary) and how long it took."""

    name: str
    diagnostics: tuple[Diagnostic, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str = ""  # why the validator did not run; "" when it ran
    scope: str = ""  # what the tool was given and how the other files map to it; "" when it saw every file

    def summary(self) -> str:
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        counted = ", ".join(f"{value} {key}" for key, value in self.counts.items())
        scope = f" on {self.scope}" if self.scope else ""
        return f"{self.name}{scope}: {counted}; {len(self.diagnostics)} finding(s) in {self.seconds:.1f} s"


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
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from guardrails.validators._documents import generated_documents
    from guardrails.validators.cfn_lint import lint_templates
    from guardrails.validators.checkov import find_checkov
    from guardrails.validators.iam_audit import check_installed
    from guardrails.validators.shapes import plan_coverage, stage

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
    coverage = plan_coverage(plan, _scanned_files(output_dir, templates))
    distinct = {p: t for p, t in templates.items() if p in coverage.validated}
    with tempfile.TemporaryDirectory(prefix="guardrails-distinct-") as scratch:
        staged = Path(scratch)
        stage({p: output_dir / p for p in coverage.validated}, coverage, staged)
        # Threads: checkov and the IAM audit are child processes, so only cfn-lint holds the GIL. A ToolError in
        # any of them is raised by .result(): fail closed.
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="guardrails-validate") as pool:
            checkov_run = pool.submit(_checkov_run, executable, staged, coverage, plan)
            audit_runs = pool.submit(_iam_audit_runs, plan, output_dir)
            lint_run = pool.submit(_timed, "cfn-lint", lambda: coverage.expand(lint_templates(distinct, regions)),
                                   {"templates": len(distinct)}, _template_scope(coverage, len(templates)))
            runs.extend((lint_run.result(), checkov_run.result(), *audit_runs.result()))
    return ValidationReport(tuple(runs))


def _scanned_files(output_dir: Path, templates: dict[str, str]) -> dict[str, str]:
    """The files checkov and cfn-lint look at: everything under terraform/ plus the templates (path → text)."""
    root = output_dir / "terraform"
    found = dict(templates)
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                # Lossless for any byte (never two different files read as one), for the shape comparison.
                found[path.relative_to(output_dir).as_posix()] = path.read_text(encoding="utf-8",
                                                                                 errors="surrogateescape")
    return found


def _template_scope(coverage: Coverage, total: int) -> str:
    if not coverage.duplicate_templates:
        return ""
    return (f"{total - coverage.duplicate_templates} distinct templates ({coverage.duplicate_templates} identical "
            "to another)")


def run_own_checks(plan: Plan, templates: dict[str, str]) -> list[Diagnostic]:
    """The checks on the plan's documents plus the CloudFormation template quotas."""
    from guardrails.validators.cfn_templates import check_templates
    from guardrails.validators.own_checks import check_plan

    return [*check_plan(plan), *guarded("CloudFormation template limits",
                                        partial(check_templates, templates, plan.limits))]


def read_templates(output_dir: Path) -> dict[str, str]:
    """Every CloudFormation template on disk, keyed by its path relative to the output directory."""
    root = output_dir / "cloudformation"
    if not root.is_dir():
        return {}
    return {path.relative_to(output_dir).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(root.rglob("*.yaml"))}


def _timed(name: str, run: Callable[[], Sequence[Diagnostic]], counts: dict[str, int],
           scope: str = "") -> ValidatorRun:
    start = time.perf_counter()
    with step(name):
        diagnostics = tuple(run())
    return ValidatorRun(name, diagnostics, counts, time.perf_counter() - start, scope=scope)


def _checkov_run(executable: str, staged: Path, coverage: Coverage, plan: Plan) -> ValidatorRun:
    """checkov on the staged distinct tree; its paths are the output's, so findings map back unchanged. Each
    finding's hint names the blueprint entry whose ``accepted_findings`` takes it."""
    from guardrails.validators.checkov import run_checkov
    from guardrails.validators.checkov_hints import accept_hint
    from guardrails.validators.shapes import describe

    directories = [d for d in (staged / "terraform", staged / "cloudformation") if d.is_dir()]
    if not directories:
        return ValidatorRun("checkov", skipped="no terraform/ or cloudformation/ in the output")
    start = time.perf_counter()
    with step("checkov"):
        result: CheckovResult = run_checkov(executable, directories, relative_to=staged,
                                            accept_hint=accept_hint(plan))
    counts = {"passed": result.passed, "failed": result.failed, "skipped": result.skipped}
    return ValidatorRun(f"checkov {result.version}".strip(), tuple(coverage.expand(result.diagnostics)), counts,
                        time.perf_counter() - start, scope=describe(coverage))


def _iam_audit_runs(plan: Plan, output_dir: Path) -> list[ValidatorRun]:
    from guardrails.validators.iam_audit import audit, read_documents

    if not (output_dir / "policies").is_dir():
        skipped = f"no policies/ in {output_dir}"
        return [ValidatorRun(name, skipped=skipped) for name in ("parliament", "cloudsplaining")]
    with step("parliament and cloudsplaining"):
        result = audit(plan, read_documents(plan, output_dir))
    return [ValidatorRun(tool.name, tool.diagnostics, tool.counts, tool.seconds)
            for tool in (result.parliament, result.cloudsplaining)]
