"""The plan the constructs are built from: a blueprint directory compiled once, or a plan given as it is.
No aws_cdk import here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from guardrails.diagnostics import BlueprintError, Diagnostic, Location

if TYPE_CHECKING:
    from guardrails.pipeline import Compiled
    from guardrails.policies.ir import BaselineClass, Plan

_CACHE: dict[tuple[Path, bool], Plan] = {}


@dataclass(frozen=True)
class Source:
    """Where a plan came from, for the messages of :class:`BlueprintError`."""

    plan: Plan
    origin: str  # the blueprint directory, or the plan's own record of it


def load_plan(blueprint: str | Path | Plan | Compiled, *, verify: bool = True) -> Source:
    """The plan of ``blueprint``: a directory (compiled once per process and directory), a ``Plan`` or a
    ``Compiled`` (guardrails.pipeline).

    ``verify`` compiles the directory as ``guardrails build`` does (access tests and the lockout proof; a failure
    is a BlueprintError), so a CDK app never deploys what the build would refuse; without it only the plan is made
    (faster, for tests and large organizations). Raises BlueprintError, located in the blueprint, on a bad one.
    """
    from guardrails.policies.ir import Plan

    if isinstance(blueprint, Plan):
        return Source(blueprint, blueprint.blueprint)
    if hasattr(blueprint, "plan") and isinstance(getattr(blueprint, "plan"), Plan):
        plan = blueprint.plan  # type: ignore[union-attr]
        return Source(plan, plan.blueprint)
    directory = Path(blueprint).resolve()  # type: ignore[arg-type]
    if not directory.is_dir():
        raise BlueprintError([Diagnostic.of("GR313", f"{blueprint}: not a blueprint directory",
                                            Location(str(blueprint)))])
    key = (directory, verify)
    if key not in _CACHE:
        if verify:
            from guardrails.pipeline import compile_blueprint

            _CACHE[key] = compile_blueprint(directory).plan
        else:
            from guardrails.blueprint import load_blueprint
            from guardrails.model import build_model
            from guardrails.policies.synthesize import synthesize

            _CACHE[key] = synthesize(build_model(load_blueprint(directory)))
    return Source(_CACHE[key], str(blueprint))


def find_class(source: Source, account_class: str) -> BaselineClass:
    """A baseline class by its key (``workloads-prod``) or by the name of an account in it (``prod-app``).
    Raises a located BlueprintError (GR301) naming the classes there are."""
    plan = source.plan
    for cls in plan.classes:
        if cls.key == account_class:
            return cls
    by_account = plan.class_of(account_class)
    if by_account is not None:
        return by_account
    known = ", ".join(sorted(c.key for c in plan.classes))
    raise BlueprintError([Diagnostic.of(
        "GR301", f"account_class {account_class!r} is neither a baseline class nor an account of {source.origin}; "
                 f"its classes: {known}", Location(source.origin))])


def clear_cache() -> None:
    """Forget compiled blueprints (a test that edits a blueprint in place)."""
    _CACHE.clear()
