"""Reasoned checkov suppressions, read from ``guardrails/data/suppressions.yaml``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from guardrails.data.fast_yaml import safe_load


@dataclass(frozen=True)
class Suppression:
    check: str
    format: str
    kind: str
    key: str
    reason: str


@cache
def all_suppressions() -> tuple[Suppression, ...]:
    raw = safe_load(resources.files("guardrails.data").joinpath("suppressions.yaml").read_text("utf-8")) or []
    return tuple(Suppression(e["check"], e["format"], e["kind"], e["key"], " ".join(e["reason"].split())) for e in raw)


def suppressions_for(output_format: str, kind: str, key: str) -> list[Suppression]:
    """Suppressions that apply to one generated resource, in file order."""
    return list(_matching(output_format, kind, key))


@lru_cache(maxsize=1 << 14)
def _matching(output_format: str, kind: str, key: str) -> tuple[Suppression, ...]:
    # A pure function of its arguments and the packaged file: every class and account asks again for its resources.
    return tuple(s for s in all_suppressions()
                 if s.format in (output_format, "both") and s.kind == kind and fnmatch.fnmatchcase(key, s.key))
