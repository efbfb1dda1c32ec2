"""Typed errors of the evaluation stage (messages are shown to the user as they are)."""

from __future__ import annotations

from guardrails.diagnostics import GuardrailsError


class EvaluationError(GuardrailsError):
    """A policy or request the evaluator cannot interpret (unknown operator, malformed element, unknown principal)."""

    exit_code = 1
