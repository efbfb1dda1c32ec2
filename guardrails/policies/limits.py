"""AWS limits as data (``guardrails/data/limits.yaml``), with blueprint overrides."""

from __future__ import annotations

from functools import cache
from importlib import resources

from guardrails.blueprint.schema import Limits
from guardrails.data.fast_yaml import safe_load
from guardrails.policies.ir import Limit


@cache
def default_limits() -> dict[str, Limit]:
    raw = safe_load(resources.files("guardrails.data").joinpath("limits.yaml").read_text("utf-8"))
    return {key: Limit(key, int(v["value"]), v["counts"], v["source"]) for key, v in raw.items()}


def effective_limits(overrides: Limits) -> dict[str, Limit]:
    """Defaults with the blueprint's overrides applied (marked as overridden)."""
    limits = dict(default_limits())
    for key, value in overrides.model_dump(exclude_none=True).items():
        base = limits[key]
        limits[key] = Limit(key, value, base.counts, f"blueprint override (AWS default {base.value})", overridden=True)
    return limits
