"""The blueprint's ``limits:``: overrides of AWS limits may be stricter than AWS, never looser.

A value above what AWS allows would let guardrails pass a document that AWS then rejects at apply time (a 60,000
character managed policy where IAM takes 6,144), so it is GR304 at the value. Quotas AWS raises on request (a role's
trust policy length, its managed policy attachments) may go up to the raised maximum of ``guardrails/data/limits.yaml``
(``maximum``; the default ``value`` is the maximum of the others).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import Diagnostic
from guardrails.model.resolved import Model


@cache
def aws_maxima() -> dict[str, tuple[int, int, str]]:
    """Per limit of ``limits.yaml``: (AWS default, the most AWS allows, where that maximum is documented)."""
    raw = safe_load(resources.files("guardrails.data").joinpath("limits.yaml").read_text("utf-8"))
    return {key: (int(entry["value"]), int(entry.get("maximum", entry["value"])),
                  str(entry.get("maximum_source", entry["source"]))) for key, entry in raw.items()}


def check_limit_overrides(model: Model, problems: list[Diagnostic]) -> None:
    """GR304 for every ``limits:`` value above the AWS maximum, at the value, naming the maximum and its source."""
    maxima = aws_maxima()
    for key, value in model.blueprint.limits.model_dump(exclude_none=True).items():
        default, maximum, source = maxima[key]
        if value <= maximum:
            continue
        raised = f" (its default {default:,} raised on request)" if maximum != default else ""
        problems.append(Diagnostic.of(
            "GR304", f"limits.{key} is {value:,}, above the AWS maximum of {maximum:,}{raised}: AWS would reject "
            f"what guardrails accepted; source: {source}", model.source.where("limits", key),
            f"give at most {maximum:,} or remove the override (a lower value, stricter than AWS, is allowed)"))
