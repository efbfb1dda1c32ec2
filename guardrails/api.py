"""The functions of the public Python API (``guardrails.compile`` …; docs/api.md): the pipeline's, taking any path.

They add nothing to :mod:`guardrails.pipeline` but ``str`` or ``os.PathLike`` arguments, so that a script, a notebook
or a CDK app can call them as it calls the command line; results and exceptions are the pipeline's.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrails.blueprint.loader import LoadedBlueprint
    from guardrails.pipeline import BuildResult, Compiled

PathLike = str | os.PathLike[str]


def compile(directory: PathLike, *, today: date | None = None, run_tests: bool = True) -> Compiled:  # noqa: A001
    """Blueprint directory → :class:`Compiled` in memory (the plan and every output file); writes nothing.

    The access tests, the lockout proof and the escalation analysis run unless ``run_tests`` is false; a failure is a
    :class:`BlueprintError`. ``today`` decides which accepted risks are past their review date (default: today).
    """
    from guardrails.pipeline import compile_blueprint

    return compile_blueprint(Path(directory), today=today, run_tests=run_tests)


def compile_policy_tree(directory: PathLike, *, today: date | None = None, run_tests: bool = True) -> Compiled:
    """:func:`compile` emitting only ``policies/`` (what the evaluator reads, plus template stubs the escalation
    analysis reads: never write them): faster, the same errors and proofs."""
    from guardrails.pipeline import compile_policy_tree as compile_tree

    return compile_tree(Path(directory), today=today, run_tests=run_tests)


def build(directory: PathLike, output: PathLike, *, validate: bool = True, external: bool = True,
          checkov: str | None = None) -> BuildResult:
    """Compile, validate (own checks; with ``external`` also cfn-lint, checkov, parliament and cloudsplaining), then
    replace ``output`` atomically. Raises :class:`ValidationFailed` (``output`` unchanged) or :class:`ToolError`."""
    from guardrails.pipeline import build as build_output

    return build_output(Path(directory), Path(output), validate=validate, external=external, checkov=checkov)


def validate_output(directory: PathLike, output: PathLike, *, external: bool = True,
                    checkov: str | None = None) -> BuildResult:
    """Validate an existing ``output`` against the blueprint without rewriting it: drift is GR508, findings are in
    ``.diagnostics`` (nothing raises for them)."""
    from guardrails.pipeline import validate_output as validate

    return validate(Path(directory), Path(output), external=external, checkov=checkov)


def load_blueprint(directory: PathLike) -> LoadedBlueprint:
    """Read and schema-check the YAML files only (no references resolved, nothing compiled): ``.blueprint`` is the
    typed blueprint, ``.value_locations`` where each value was written. Raises :class:`BlueprintError` listing every
    problem with file, line and column."""
    from guardrails.blueprint import load_blueprint as load

    return load(Path(directory))
