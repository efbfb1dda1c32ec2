"""guardrails: compile YAML blueprints of an AWS Organization into least-privilege IAM, SCPs and
account baselines for Terraform and CloudFormation, validated before anyone runs apply.

The public Python API is what ``__all__`` names (docs/api.md): ``guardrails.compile(directory)`` returns a
:class:`Compiled` (``.plan``, ``.files``, ``.organization`` for the offline evaluator), ``guardrails.build`` writes and
validates an output directory. Everything else is internal and may change. The names are imported on first use
(:func:`__getattr__`), so ``import guardrails`` loads nothing else: the command line starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public name → the module that defines it.
_EXPORTS = {
    "compile": "guardrails.api",
    "compile_policy_tree": "guardrails.api",
    "build": "guardrails.api",
    "validate_output": "guardrails.api",
    "load_blueprint": "guardrails.api",
    "Compiled": "guardrails.pipeline",
    "BuildResult": "guardrails.pipeline",
    "Plan": "guardrails.policies.ir",
    "Organization": "guardrails.evaluation.organization",
    "Decision": "guardrails.evaluation.engine",
    "EvaluationError": "guardrails.evaluation.errors",
    "BlueprintError": "guardrails.diagnostics",
    "Diagnostic": "guardrails.diagnostics",
    "GuardrailsError": "guardrails.diagnostics",
    "Location": "guardrails.diagnostics",
    "Severity": "guardrails.diagnostics",
    "ToolError": "guardrails.diagnostics",
    "ValidationFailed": "guardrails.diagnostics",
}
__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on first use
    from guardrails.api import build, compile, compile_policy_tree, load_blueprint, validate_output  # noqa: A004
    from guardrails.diagnostics import (
        BlueprintError,
        Diagnostic,
        GuardrailsError,
        Location,
        Severity,
        ToolError,
        ValidationFailed,
    )
    from guardrails.evaluation.engine import Decision
    from guardrails.evaluation.errors import EvaluationError
    from guardrails.evaluation.organization import Organization
    from guardrails.pipeline import BuildResult, Compiled
    from guardrails.policies.ir import Plan


def __getattr__(name: str) -> object:
    """``guardrails.NAME`` of the public API, imported when first asked for (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'guardrails' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
