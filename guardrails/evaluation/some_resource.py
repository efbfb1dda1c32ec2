"""A query whose resource is ``*`` for an action that acts on resources: the answer is for *some* resource.

AWS never receives ``*`` as the resource of an action that has resource types: every request names the resources
the action authorizes, listed in the "Resource types" column of the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html;
guardrails reads it from the pinned IAM database). So ``explain`` and tests without a resource ask about some
resource the action applies to, not named:

- a Deny statement applies when one of its ``Resource`` patterns could match an ARN of one of the action's resource
  types (``NotResource``: when some such ARN is outside all its patterns) — ``cloudtrail:StopLogging`` on ``*`` is
  denied by a statement on ``arn:aws:cloudtrail:*:*:trail/*``;
- an Allow statement must allow every resource (``Resource: "*"``), as before.

A deny therefore means "denied for some resource", an allow "allowed whatever the resource". Matching is on the
ARN formats (``arn:${Partition}:cloudtrail:${Region}:${Account}:trail/${TrailName}``) against the patterns after
policy-variable substitution (wildcards ``*`` and ``?`` as in ``Resource``, spanning ``:`` and ``/``). A placeholder
stands for any text — without ``:`` in the partition, service, region and account parts, whose values never hold one
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from guardrails.evaluation.matching import Atom, Context, Wildcard, pattern_atoms
from guardrails.iam.actions import iam_database
from guardrails.iam.documents import as_tuple

ResourceTypes = tuple[tuple[str, str], ...]  # (resource type name, ARN format)


class Placeholder(enum.Enum):
    """A placeholder of an ARN format before the resource part: any run of characters other than ``:``."""

    SEGMENT = "${…}"


FormatAtom = Atom | Placeholder
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_SHOWN = 3  # resource types named in the explanation (ec2:RunInstances has sixteen)


@lru_cache(maxsize=1 << 14)
def resource_types(action: str) -> ResourceTypes:
    """The resource types of an action in the pinned database, with their ARN formats; () for an action that
    takes only ``*`` or that the database does not know."""
    info = iam_database().action(action)
    if info is None or not info.resource_types:
        return ()
    service = iam_database().service(info.service)
    assert service is not None
    found = [(name, service.resource_types[name.lower()].arn) for name in info.resource_types
             if name.lower() in service.resource_types]
    return tuple(found)


@lru_cache(maxsize=2048)
def format_atoms(arn_format: str) -> tuple[FormatAtom, ...]:
    """An ARN format as a pattern: a placeholder in the resource part is any text, one before it any text
    without ``:``."""
    atoms: list[FormatAtom] = []
    index = 0
    for match in _PLACEHOLDER.finditer(arn_format):
        atoms.extend(arn_format[index:match.start()])
        in_resource = arn_format[:match.start()].count(":") >= 5
        atoms.append(Wildcard.STAR if in_resource else Placeholder.SEGMENT)
        index = match.end()
    atoms.extend(arn_format[index:])
    return tuple(atoms)


def _compatible(a: FormatAtom, b: FormatAtom) -> bool:
    return a is Wildcard.ONE or b is Wildcard.ONE or a == b


def _wild(atom: FormatAtom) -> bool:
    return atom is Wildcard.STAR or atom is Placeholder.SEGMENT


@lru_cache(maxsize=8192)
def intersects(p: tuple[Atom, ...], q: tuple[FormatAtom, ...]) -> bool:
    """Is there a string that the pattern ``p`` and the format ``q`` both match?"""
    seen: dict[tuple[int, int], bool] = {}

    def walk(i: int, j: int) -> bool:
        key = (i, j)
        if key in seen:
            return seen[key]
        if i == len(p) and j == len(q):
            result = True
        elif i < len(p) and p[i] is Wildcard.STAR:
            result = walk(i + 1, j) or (j < len(q) and walk(i, j + 1))
        elif j < len(q) and _wild(q[j]):
            # a placeholder takes the pattern's next character, unless it must not hold a ':'
            takes = i < len(p) and (q[j] is Wildcard.STAR or p[i] != ":")
            result = walk(i, j + 1) or (takes and walk(i + 1, j))
        elif i == len(p) or j == len(q):
            result = False
        else:
            result = _compatible(p[i], q[j]) and walk(i + 1, j + 1)
        seen[key] = result
        return result

    return walk(0, 0)


@lru_cache(maxsize=8192)
def covers(pattern: tuple[Atom, ...], arn_format: tuple[FormatAtom, ...]) -> bool:
    """Does the pattern match every string of the format? Sound, not complete: only a ``*`` of the pattern may take
    a placeholder's place, so a "no" may be a "yes" in contrived cases (the Deny is then taken to apply)."""
    seen: dict[tuple[int, int], bool] = {}

    def walk(i: int, j: int) -> bool:
        key = (i, j)
        if key not in seen:
            if i == len(pattern) and j == len(arn_format):
                seen[key] = True
            elif i < len(pattern) and pattern[i] is Wildcard.STAR:
                seen[key] = walk(i + 1, j) or (j < len(arn_format) and walk(i, j + 1))
            elif i == len(pattern) or j == len(arn_format) or _wild(arn_format[j]):
                seen[key] = False
            elif arn_format[j] is Wildcard.ONE:
                seen[key] = pattern[i] is Wildcard.ONE and walk(i + 1, j + 1)
            else:
                seen[key] = _compatible(pattern[i], arn_format[j]) and walk(i + 1, j + 1)
        return seen[key]

    return walk(0, 0)


def _atoms(pattern: str, context: Context) -> tuple[Atom, ...] | None:
    return (Wildcard.STAR,) if pattern == "*" else pattern_atoms(pattern, context)


def could_apply(statement: Mapping[str, Any], types: ResourceTypes, context: Context, *, trust: bool) -> bool:
    """Could the statement's Resource/NotResource name some resource of these types? (``trust``: a role trust
    policy's statement, which has neither element and is about the role itself.)"""
    key = (id(statement), types, trust)
    kept = _COULD.get(key)
    if kept is not None and kept[0] is statement:
        return kept[1]
    answer = _could_apply(statement, types, context, trust=trust)
    patterns = as_tuple(statement.get("Resource", statement.get("NotResource")))
    if not any("${" in p for p in patterns):  # no policy variable: the context does not change the answer
        if len(_COULD) >= 1 << 16:
            _COULD.clear()
        _COULD[key] = (statement, answer)
    return answer


# (statement id, types, trust) → the statement (kept: its id is not reused) and the answer, for statements whose
# patterns hold no variable: every request of an action asks the same Denies of the SCPs.
_COULD: dict[tuple[int, ResourceTypes, bool], tuple[Mapping[str, Any], bool]] = {}


def _could_apply(statement: Mapping[str, Any], types: ResourceTypes, context: Context, *, trust: bool) -> bool:
    formats = [format_atoms(arn_format) for _, arn_format in types]
    if "Resource" in statement:
        patterns = [a for a in (_atoms(p, context) for p in as_tuple(statement["Resource"])) if a is not None]
        return any(intersects(p, f) for p in patterns for f in formats)
    if "NotResource" in statement:
        patterns = [a for a in (_atoms(p, context) for p in as_tuple(statement["NotResource"])) if a is not None]
        return any(not any(covers(p, f) for p in patterns) for f in formats)
    return trust


def scoped(statement: Mapping[str, Any]) -> bool:
    """Is the statement limited to some resources (anything but ``Resource: "*"``)?"""
    return as_tuple(statement.get("Resource")) != ("*",)


def describe(types: ResourceTypes, scoped_denies: int) -> str:
    """The explain step: what ``*`` stands for, and how many resource-scoped Denies could apply to one."""
    shown = "; ".join(f"{name} {arn_format}" for name, arn_format in types[:_SHOWN])
    more = f" and {len(types) - _SHOWN} more" if len(types) > _SHOWN else ""
    text = (f"the answer is for some resource this action applies to ({shown}{more}): a Deny scoped to resources "
            "counts if it could match one, an Allow must allow every resource; ")
    if scoped_denies:
        return text + f"{scoped_denies} resource-scoped Deny statement(s) could deny it (below, with their conditions)"
    return text + "no resource-scoped Deny statement could deny it"
