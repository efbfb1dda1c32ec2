"""The pipeline's part of reports/index.html: evaluator results of one compilation, as the HTML emitter's data.

Beside guardrails.pipeline (which calls it after the escalation analysis): it reads the evaluation and escalation
results and the plan, so it sits at the top of the stack like the pipeline.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from guardrails.workers import WorkerFailed

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Organization
    from guardrails.evaluation.access_matrix import AccessMatrix
    from guardrails.escalation.report import EscalationRows
    from guardrails.pipeline import Compiled


def html_index(compiled: Compiled, escalation_rows: EscalationRows,
               matrix: AccessMatrix | None = None) -> str:
    """reports/index.html: the plan, with the access matrix, escalation summary (``escalation_rows``, from
    :func:`guardrails.escalation.report.class_rows`) and lockout coverage the evaluator decided on this
    compilation's policy tree (guardrails.emitters.html_report renders; nothing is decided there). ``matrix``: the
    access matrix when the second worker computed it (guardrails.pipeline), else it is computed here."""
    from guardrails.emitters.html_report import Evaluated, EscalationRow, LockoutRow, report_page
    from guardrails.evaluation.access_matrix import OUTCOMES, access_matrix
    from guardrails.evaluation.lockout.coverage import check_name
    from guardrails.evaluation.lockout.findings import CHECK_ORDER

    escalation = tuple(EscalationRow(*row) for row in escalation_rows)  # escalation.report.class_rows
    coverage = compiled.lockout
    lockout = None if coverage is None else tuple(
        LockoutRow(check_name(c), coverage.groups.get(c, 0), coverage.combinations[c])
        for c in CHECK_ORDER if c in coverage.combinations)
    tests = (sum(1 for r in compiled.test_results if r.passed), len(compiled.test_results)) \
        if compiled.test_results else None
    evaluated = Evaluated(matrix or access_matrix(compiled.organization), OUTCOMES, escalation, lockout,
                          coverage.actions if coverage else 0, tests)
    return report_page(compiled.plan, evaluated)


# The escalation worker's share of the access matrix (its first groups, by principals), the parent computing the rest
# (guardrails.pipeline). Measured at 1,000 accounts in fresh processes (as a build runs: the parent's first lockout
# proof builds its action universe, its emit compiles the templates): the parent's own part after the fork (the
# plan's checks, emit, lockout proof) is about 0.34 s of CPU, the worker's escalation analysis about 0.2 s, and the
# matrix, 0.16 s since its rows are prepared whole, fits beside it: with 0.95 both finish within a hundredth (0.67,
# tuned for the earlier 0.33 s matrix: the parent 0.1 s after the worker).
WORKER_MATRIX_SHARE = 0.95


def matrix_part(organization: Organization, *, worker: bool) -> tuple[str, Any]:
    """One process's part of the access matrix: ``("ok", part)``, or its failure raised only if the page is written
    (a run that fails anyway reports its own errors, as with one worker): the worker's traceback (``"error"``,
    WorkerFailed then), this process's exception itself (``"raise"``)."""
    from guardrails.evaluation.access_matrix import access_matrix, split

    try:
        cut = split(organization, WORKER_MATRIX_SHARE)
        return "ok", access_matrix(organization, share=slice(0, cut) if worker else slice(cut, None))
    except Exception as exc:  # noqa: BLE001 — see the docstring
        return ("error", traceback.format_exc()) if worker else ("raise", exc)


def joined(parts: list[tuple[str, Any] | None]) -> Any:
    """The access matrix from both workers' parts; None without a worker (html_index computes it whole)."""
    if any(part is None for part in parts):
        return None
    from guardrails.evaluation.access_matrix import merged

    for kind, value in parts:
        if kind == "raise":
            raise value
        if kind != "ok":
            raise WorkerFailed(f"the escalation worker failed computing the access matrix:\n{value}")
    return merged([value for _, value in parts])
