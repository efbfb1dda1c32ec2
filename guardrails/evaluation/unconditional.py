"""Requests whose outcome AWS documents as independent of some policy types, read from
``guardrails/data/unconditional_requests.yaml`` (its header is the contract; every entry names its source).

An entry applies to a request by action, by who calls (``principals``) and by what the resource is (``resources``).
For an applying entry the engine leaves the policy types of ``not_deniable_by`` out of the decision. With
``needs_allow: false`` no Allow is needed either: the request is allowed unless a remaining policy denies it — and
only a Deny from a type the entry lists under ``deniable_by`` (the types its source says can still stop it) is a
documented deny. A Deny from any other type is a case the documentation does not settle (``sts:GetCallerIdentity``
under an SCP that denies the root user): the answer is ``unknown`` with that reason, never a guess.

This module is pure: it reads the data, matches entries and rewrites a :class:`PolicySet`; the engine applies it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from guardrails.data.fast_yaml import safe_load
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.actions import action_matches

if TYPE_CHECKING:
    from guardrails.evaluation.engine import PolicySet

DATA = "unconditional_requests.yaml"
PRINCIPALS = frozenset({"any", "iam-user", "root", "root-session", "role-session", "service-linked-role",
                        "aws-service", "management-account"})
RESOURCES = frozenset({"own-account", "management-account", "aws-managed-kms-key", "service-linked-role"})
KINDS = frozenset({"identity", "boundary", "session", "scp", "rcp", "resource"})
# The policy types that belong to the caller: unknown for a principal outside the organization.
CALLER_KINDS = frozenset({"identity", "boundary", "session", "scp"})
SLR_PATH = "/aws-service-role/"


class UnconditionalDataError(EvaluationError):
    """The data file does not follow its own header (a term outside the vocabulary, a missing field)."""


@dataclass(frozen=True)
class Exemption:
    """One entry of the data file."""

    action: str
    principals: tuple[str, ...]
    resources: str | None
    needs_allow: bool
    not_deniable_by: tuple[str, ...]
    rule: str
    source: str
    deniable_by: tuple[str, ...] = ()  # types the source says can still deny (needs_allow false only)
    note: str = ""

    def applies(self, action: str, principals: Iterable[str], resources_: Iterable[str]) -> bool:
        return action_matches(self.action, action) and bool(set(self.principals) & set(principals)) and \
            (self.resources is None or self.resources in set(resources_))

    def describe(self) -> str:
        """The entry as a step names it: action, who, rule and source."""
        who = ", ".join(self.principals) + (f" on {self.resources} resources" if self.resources else "")
        return f"{self.action} ({who}): {' '.join(self.rule.split())} — {self.source}"


def _strings(raw: dict[str, Any], key: str, vocabulary: frozenset[str], where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    values = (value,) if isinstance(value, str) else tuple(value or ())
    unknown = [v for v in values if v not in vocabulary]
    if unknown:
        raise UnconditionalDataError(f"{DATA}: {where}: {key} {unknown[0]!r} is not one of "
                                     f"{', '.join(sorted(vocabulary))}")
    return tuple(str(v) for v in values)


def parse(raw: dict[str, Any]) -> tuple[Exemption, ...]:
    """The entries of the data file's content (a mapping with ``entries``)."""
    found: list[Exemption] = []
    for index, entry in enumerate(raw.get("entries") or ()):
        where = f"entry {index + 1} ({entry.get('action', '?')})"
        missing = [k for k in ("action", "principals", "needs_allow", "not_deniable_by", "rule", "source")
                   if k not in entry]
        if missing:
            raise UnconditionalDataError(f"{DATA}: {where} has no {', '.join(missing)}")
        resource = entry.get("resources")
        if resource is not None and resource not in RESOURCES:
            raise UnconditionalDataError(f"{DATA}: {where}: resources {resource!r} is not one of "
                                         f"{', '.join(sorted(RESOURCES))}")
        found.append(Exemption(
            action=str(entry["action"]), principals=_strings(entry, "principals", PRINCIPALS, where),
            resources=resource, needs_allow=bool(entry["needs_allow"]),
            not_deniable_by=_strings(entry, "not_deniable_by", KINDS, where), rule=str(entry["rule"]),
            source=str(entry["source"]), deniable_by=_strings(entry, "deniable_by", KINDS, where),
            note=str(entry.get("note", ""))))
    return tuple(found)


@cache
def entries() -> tuple[Exemption, ...]:
    """Every entry of ``guardrails/data/unconditional_requests.yaml``."""
    text = resources.files("guardrails.data").joinpath(DATA).read_text("utf-8")
    return parse(safe_load(text))


def principal_classes(kind: str, spec_kind: str, principal_arn: str, management: bool) -> frozenset[str]:
    """The data's words for a caller: ``kind`` is the engine's Caller.kind, ``spec_kind`` the principal's
    (``root-session``, ``permission-set`` …), ``management`` whether it is a principal of the management account."""
    found = {"any"}
    if spec_kind == "root-session":
        found.add("root-session")
    elif kind == "root":
        found.add("root")
    elif kind == "user":
        found.add("iam-user")
    elif kind == "role":
        found.add("role-session")
        if SLR_PATH in principal_arn:
            found.add("service-linked-role")
    elif kind == "service":
        found.add("aws-service")
    if management:
        found.add("management-account")
    return _shared(found)


def _shared(words: set[str]) -> frozenset[str]:
    """One frozenset per distinct set of words: every account's principals and resources keep theirs."""
    key = frozenset(words)
    return _SETS.setdefault(key, key)


_SETS: dict[frozenset[str], frozenset[str]] = {}


def resource_classes(resource: str, resource_account: str | None, caller_account: str | None,
                     management: bool) -> frozenset[str]:
    """The data's words for a resource; ``management``: the resource is in the management account."""
    found: set[str] = set()
    if caller_account is not None and resource_account == caller_account:
        found.add("own-account")
    if management:
        found.add("management-account")
    if resource.startswith("arn:") and ":kms:" in resource and ":alias/aws/" in resource:
        found.add("aws-managed-kms-key")  # AWS managed keys are the ones behind the aws/<service> aliases
    if resource.startswith("arn:") and ":iam::" in resource and f":role{SLR_PATH}" in resource:
        found.add("service-linked-role")
    return _shared(found)


def applying(action: str, principals: Iterable[str], resources_: Iterable[str],
             table: Iterable[Exemption] | None = None) -> tuple[Exemption, ...]:
    """The entries that apply to one request."""
    principals, resources_ = frozenset(principals), frozenset(resources_)
    if table is None:
        return _applying(action, principals, resources_)
    return tuple(e for e in table if e.applies(action, principals, resources_))


@lru_cache(maxsize=1 << 14)
def _applying(action: str, principals: frozenset[str], resources_: frozenset[str]) -> tuple[Exemption, ...]:
    """:func:`applying` of the data file's entries, which every request asked again with the same few words."""
    return tuple(e for e in entries() if e.applies(action, principals, resources_))


def left_out(exemptions: Iterable[Exemption]) -> dict[str, Exemption]:
    """Policy type → the (first) entry that leaves it out."""
    out: dict[str, Exemption] = {}
    for entry in exemptions:
        for kind in entry.not_deniable_by:
            out.setdefault(kind, entry)
    return out


def without_permission(exemptions: Iterable[Exemption]) -> Exemption | None:
    """The entry that makes the request need no permission, if any."""
    return next((e for e in exemptions if not e.needs_allow), None)


def leave_out(policies: PolicySet) -> tuple[PolicySet, list[tuple[str, str]]]:
    """The policy set without the policy types its exemptions leave out, and a (stage, text) note per entry.
    Idempotent: the engine applies it to whatever it is given, ``Organization.prepare`` already to what it builds."""
    kinds = left_out(policies.exemptions)
    if not kinds:
        return policies, []
    changes: dict[str, Any] = {}
    if "identity" in kinds:
        changes.update(identity=(), unmodeled=())
    if "boundary" in kinds:
        changes["boundary"] = None
    if "session" in kinds:
        changes.update(session=None, task_policy=None)
    if "resource" in kinds:
        changes.update(resource=None, resource_required=False, key_policy=False, resource_unknown="")
    if "scp" in kinds and not policies.scp_exempt_reason:
        changes["scp_exempt_reason"] = kinds["scp"].describe()
    if "rcp" in kinds and not policies.rcp_exempt_reason:
        changes.update(rcp_exempt_reason=kinds["rcp"].describe(), rcp_levels=())
    if CALLER_KINDS <= set(kinds):
        changes["caller_unknown"] = ""  # nothing of the caller's own (unknown) side is asked
    by_entry: dict[Exemption, list[str]] = {}
    for kind, entry in sorted(kinds.items()):
        if kind not in ("scp", "rcp"):  # those two are named at their own step
            by_entry.setdefault(entry, []).append(_NAMES[kind])
    notes = [("documented exception", f"{_listed(names)} left out: {entry.describe()}")
             for entry, names in by_entry.items()]
    return dataclasses.replace(policies, **changes), notes


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_NAMES = {"identity": "identity policies", "boundary": "permissions boundary", "session": "session policies",
          "resource": "resource-based policy", "scp": "SCPs", "rcp": "RCPs"}


def unsettled(entry: Exemption, kinds: Iterable[str]) -> str:
    """Why a Deny of these types leaves a request that needs no permission undecided."""
    names = ", ".join(_NAMES[k] for k in sorted(set(kinds)))
    return (f"{entry.action} needs no permission, but a Deny in {names} applies and the documentation does not say "
            f"whether it stops the call ({entry.source}): {' '.join((entry.note or entry.rule).split())}")
