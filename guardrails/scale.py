"""GR304 for the CloudFormation quotas the organization's size reaches, located in the blueprint (run by
``guardrails check`` and every build before anything is emitted; the prediction: emitters/cloudformation/
organization_limits.py). Here, not in the model: the prediction reads the plan, the locations the model."""

from __future__ import annotations

from guardrails.diagnostics import Diagnostic
from guardrails.emitters.cloudformation.organization_limits import ScaleProblem, problems
from guardrails.model import Model
from guardrails.policies.ir import Plan


def scale_diagnostics(model: Model, plan: Plan) -> list[Diagnostic]:
    return [Diagnostic.of("GR304", p.message, _where(model, p), p.hint) for p in problems(plan)]


def _where(model: Model, problem: ScaleProblem):  # -> Location
    if problem.unit is not None:
        yaml_path: list[str] = ["organization"]
        for name in problem.unit.split("/"):
            yaml_path += ["units", name]
        return model.source.where_key(*yaml_path)
    if problem.account is not None and problem.account in model.accounts:
        return model.source.where(*model.accounts[problem.account].yaml_path)
    return model.source.where_key(problem.section)
