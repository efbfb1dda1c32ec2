"""The pipeline's part of reports/index.html: evaluator results of one compilation, as the HTML emitter's data.

Beside guardrails.pipeline (which calls it after the escalation analysis): it reads the evaluation and escalation
results and the plan, so it sits at the top of the stack like the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrails.evaluation.access_matrix import AccessMatrix
    from guardrails.pipeline import Compiled


def html_index(compiled: Compiled, escalation_rows: tuple[tuple[str, tuple[str, ...], int, int, int], ...],
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
