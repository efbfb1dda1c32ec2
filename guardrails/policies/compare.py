"""Compare what a job function grants with an AWS managed policy, both expanded against the pinned IAM database.

The AWS documents are reference data copied into ``guardrails/data/aws_managed_policies/`` (default versions;
provenance and version ids in ``PROVENANCE.yaml``). Pure functions over package data; results are cached
per process.

How a document is read:

* Allow statements grant what their ``Action`` patterns match, or — with ``NotAction`` — every action of the
  database that none of the patterns match. Conditions do not remove a grant (a conditional grant is a grant).
* A Deny statement takes actions away only when it is unconditional and on ``"*"`` (anything narrower may
  leave the action allowed on some resources).
* An action is *on* ``"*"`` when some Allow statement that grants it has ``Resource: "*"`` or a ``NotResource``
  (which allows everything but the listed resources); otherwise it is *scoped* (only on the listed ARNs).
* Patterns that match nothing in the database (retired services, or actions AWS added after it was published)
  are listed separately, so a comparison never claims more precision than the database has.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from guardrails.data.fast_yaml import safe_load
from guardrails.iam.actions import IamDatabase, iam_database
from guardrails.iam.documents import as_tuple, statements_of

DATA_DIR = "aws_managed_policies"
# The database's access levels, in the order a reader expects them.
LEVELS = ("List", "Read", "Write", "Tagging", "Permissions management")
# Row ids of Comparison.rows() after the access levels (the emitter gives them their display text).
ROW_TOTAL, ROW_COMMON, ROW_ONLY, ROW_SCOPED, ROW_ON_STAR = "total", "common", "only", "scoped", "on-star"


# ----------------------------------------------------------------------------- the stored documents


@cache
def _provenance() -> dict[str, Any]:
    text = resources.files("guardrails.data").joinpath(DATA_DIR, "PROVENANCE.yaml").read_text("utf-8")
    return safe_load(text)


@cache
def _entries() -> dict[str, dict[str, Any]]:
    """Policy name (with path, ``job-function/ViewOnlyAccess``) → its PROVENANCE entry."""
    return {str(e["name"]): e for e in _provenance()["policies"]}


def available_counterparts() -> tuple[str, ...]:
    """Names (with path) of the AWS managed policies whose documents are stored, sorted."""
    return tuple(sorted(_entries()))


def is_stored(name: str) -> bool:
    """Is the document of this AWS managed policy (name with path, ``job-function/ViewOnlyAccess``) stored?"""
    return name in _entries()


def canonical_name(name: str) -> str | None:
    """The stored policy a reference means: ``job-function/ViewOnlyAccess``, its ARN, or a unique bare name
    (``ViewOnlyAccess``), any case. ``None`` when no document is stored for it."""
    ref = name.strip()
    if ref.startswith("arn:"):
        ref = ref.split(":policy/", 1)[-1]
    ref = ref.strip("/")
    known = _entries()
    if ref in known:
        return ref
    lowered = {k.lower(): k for k in known}
    if ref.lower() in lowered:
        return lowered[ref.lower()]
    by_last = [k for k in known if k.rsplit("/", 1)[-1].lower() == ref.lower()]
    return by_last[0] if len(by_last) == 1 else None


def _require(name: str) -> str:
    found = canonical_name(name)
    if found is None:
        raise ValueError(f"no stored document for AWS managed policy {name!r}; stored: "
                         + ", ".join(available_counterparts()))
    return found


def version_id(name: str) -> str:
    """AWS's version id of the stored default version (``v43``)."""
    return str(_entries()[_require(name)]["version_id"])


def policy_document(name: str) -> dict[str, Any]:
    """The stored document (``{"Version", "Statement": [...]}``) of an AWS managed policy."""
    entry = _entries()[_require(name)]
    text = resources.files("guardrails.data").joinpath(DATA_DIR, str(entry["file"])).read_text("utf-8")
    return json.loads(text)


# ----------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class ManagedGrants:
    """What one AWS managed policy document allows, expanded against the pinned database."""

    name: str
    actions: frozenset[str]  # AWS spelling (the database's)
    on_star: frozenset[str]  # the subset some statement grants on "*" (or with NotResource)
    unknown_patterns: tuple[str, ...]  # Action/NotAction patterns that match nothing in the database

    @property
    def scoped(self) -> frozenset[str]:
        return self.actions - self.on_star


def _statement_actions(statement: dict[str, Any], db: IamDatabase, unknown: list[str]) -> set[str]:
    if "NotAction" in statement:
        matched: set[str] = set()
        for pattern in as_tuple(statement["NotAction"]):
            found = db.expand(pattern)
            if not found:
                unknown.append(pattern)
            matched.update(a.full_name for a in found)
        return _all_actions() - matched
    names: set[str] = set()
    for pattern in as_tuple(statement.get("Action")):
        found = db.expand(pattern)
        if not found:
            unknown.append(pattern)
        names.update(a.full_name for a in found)
    return names


@cache
def _all_actions() -> frozenset[str]:
    return frozenset(a.full_name for a in iam_database().expand("*"))


def expand_document(document: dict[str, Any], name: str = "") -> ManagedGrants:
    """What a policy document (AWS JSON) allows; see the module docstring for the rules."""
    db = iam_database()
    statements = statements_of(document)
    allowed: set[str] = set()
    on_star: set[str] = set()
    denied: set[str] = set()
    unknown: list[str] = []
    for statement in statements:
        names = _statement_actions(statement, db, unknown)
        everywhere = "*" in as_tuple(statement.get("Resource")) or "NotResource" in statement
        if statement.get("Effect") == "Allow":
            allowed |= names
            if everywhere:
                on_star |= names
        elif statement.get("Effect") == "Deny" and not statement.get("Condition") and "NotResource" not in statement \
                and "*" in as_tuple(statement.get("Resource")):
            denied |= names
    actions = frozenset(allowed - denied)
    return ManagedGrants(name, actions, frozenset(on_star) & actions, tuple(sorted(set(unknown))))


@cache
def managed_policy_grants(name: str) -> ManagedGrants:
    """The expanded grants of a stored AWS managed policy (name with path, ARN, or unique bare name)."""
    canonical = _require(name)
    return expand_document(policy_document(canonical), canonical)


def managed_policy_actions(name: str) -> frozenset[str]:
    """The actions (database spelling) a stored AWS managed policy allows, expanded against the pinned database."""
    return managed_policy_grants(name).actions


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Comparison:
    """A job function's actions beside an AWS managed policy's, both expanded against the pinned database."""

    counterpart: str
    version_id: str
    ours: frozenset[str]
    theirs: frozenset[str]
    ours_on_star: frozenset[str] | None  # None: the caller did not say which of ours are scoped
    theirs_on_star: frozenset[str]
    theirs_unknown: tuple[str, ...]  # their patterns the database does not know (retired or newer)
    attached: tuple[str, ...] = ()  # AWS managed policies attached by the job function, counted in ours
    uncounted: tuple[str, ...] = ()  # attached AWS managed policies without a stored document: not in ours

    @property
    def common(self) -> tuple[str, ...]:
        return tuple(sorted(self.ours & self.theirs))

    @property
    def only_ours(self) -> tuple[str, ...]:
        return tuple(sorted(self.ours - self.theirs))

    @property
    def only_theirs(self) -> tuple[str, ...]:
        return tuple(sorted(self.theirs - self.ours))

    def by_level(self) -> tuple[tuple[str, int, int], ...]:
        """(access level, ours, theirs) for every level of the database, in LEVELS order."""
        db = iam_database()
        ours = _level_counts(self.ours, db)
        theirs = _level_counts(self.theirs, db)
        return tuple((level, ours.get(level, 0), theirs.get(level, 0)) for level in LEVELS)

    def rows(self) -> tuple[tuple[str, int, int], ...]:
        """Every count as (row id, ours, theirs): the access levels, then ``total``, ``common`` (same number
        both sides), ``only`` (only in ours, only in theirs), and — when ours' scoping is known — ``scoped``
        and ``on-star``."""
        rows = [*self.by_level(), (ROW_TOTAL, len(self.ours), len(self.theirs)),
                (ROW_COMMON, len(self.common), len(self.common)),
                (ROW_ONLY, len(self.only_ours), len(self.only_theirs))]
        if self.ours_on_star is not None:
            rows += [(ROW_SCOPED, len(self.ours - self.ours_on_star), len(self.theirs - self.theirs_on_star)),
                     (ROW_ON_STAR, len(self.ours_on_star), len(self.theirs_on_star))]
        return tuple(rows)

    def notes(self) -> tuple[str, ...]:
        """Caveats a reader needs to trust the numbers."""
        out = [f"{self.counterpart} is AWS's default version {self.version_id}."]
        if self.attached:
            out.append("Ours includes the attached AWS managed " + _plural(len(self.attached), "policy", "policies")
                       + " " + ", ".join(self.attached) + ".")
        if self.uncounted:
            out.append("Not counted (no stored document): " + ", ".join(self.uncounted) + ".")
        if self.theirs_unknown:
            count = len(self.theirs_unknown)
            more = f" and {count - 5} more" if count > 5 else ""
            shown = ", ".join(f"`{p}`" for p in self.theirs_unknown[:5]) + more
            out.append(f"Not counted: {count} action {_plural(count, 'pattern', 'patterns')} of {self.counterpart} "
                       f"that the pinned IAM database does not know (retired, or newer than it): {shown}.")
        return tuple(out)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _level_counts(actions: Iterable[str], db: IamDatabase) -> dict[str, int]:
    if isinstance(actions, frozenset) and db is iam_database():
        return dict(_pinned_level_counts(actions))
    return _count_levels(actions, db)


@lru_cache(maxsize=64)
def _pinned_level_counts(actions: frozenset[str]) -> dict[str, int]:
    """Per access level against the pinned database, once per set: an AWS managed policy's (its grants are cached)
    is counted for every job function compared with it."""
    return _count_levels(actions, iam_database())


def _count_levels(actions: Iterable[str], db: IamDatabase) -> dict[str, int]:
    known = _access_levels() if db is iam_database() else {}
    actions = tuple(actions)
    counts = Counter(map(known.get, actions))
    if counts.pop(None, 0):  # not in the map: asked of the database
        for action in actions:
            if action not in known:
                info = db.action(action)
                counts[info.access_level if info else "unknown"] += 1
    return dict(counts)


@cache
def _access_levels() -> dict[str, str]:
    """Action (database spelling) → the access level ``db.action`` gives it: a comparison counts tens of thousands."""
    return {info.full_name: info.access_level for prefix, service in iam_database().services_by_prefix.items()
            if prefix == prefix.lower() for info in service.actions.values()}


def _concrete(patterns: Iterable[str], db: IamDatabase) -> frozenset[str]:
    """Action names or patterns → the database's spelling of every action they match (unknown ones dropped)."""
    return frozenset(a.full_name for p in patterns for a in db.expand(p))


def compare(granted: Iterable[str], counterpart: str, *, scoped: Iterable[str] | None = None,
            attached: Iterable[str] = ()) -> Comparison:
    """Compare granted actions (names or patterns, any case) with a stored AWS managed policy.

    ``scoped``: those of ``granted`` limited to specific resources (the rest count as on ``"*"``); without it
    the comparison has no scoping rows for ours. ``attached``: AWS managed policies the job function also
    attaches; the stored ones are added to ours (with their own scoping), the others are listed as uncounted.
    """
    db = iam_database()
    name = _require(counterpart)
    theirs = managed_policy_grants(name)
    ours = set(_concrete(granted, db))
    ours_on_star: set[str] | None = None if scoped is None else ours - _concrete(scoped, db)
    counted: list[str] = []
    uncounted: list[str] = []
    for policy in dict.fromkeys(attached):
        stored = canonical_name(policy)
        if stored is None:
            uncounted.append(policy)
            continue
        extra = managed_policy_grants(stored)
        counted.append(stored)
        if ours_on_star is not None:
            ours_on_star |= extra.on_star  # on "*" if any of the policies grants it there
        ours |= extra.actions
    return Comparison(name, version_id(name), frozenset(ours), theirs.actions,
                      None if ours_on_star is None else frozenset(ours_on_star), theirs.on_star,
                      theirs.unknown_patterns, tuple(counted), tuple(uncounted))


# ----------------------------------------------------------------------------- which counterpart


def counterpart_for(job: str, spec: Any) -> str | None:
    """The AWS managed policy a job function is compared with, or ``None``.

    ``spec`` is a blueprint job function (or anything with the same attributes, such as the library's merged
    ``EffectiveJob``). In order: its own ``aws_counterpart`` if it has one; else, for a job function built on a
    library entry (``library: <id>``), that entry's ``aws_counterpart`` — from
    ``guardrails.model.library.load_library()`` when the module is importable, else straight from the entry's
    data file ``guardrails/data/job_functions/<id>.yaml``. ``job`` (the blueprint's name for it) is unused
    today; it is part of the hook so a later rule can depend on it.
    """
    direct = getattr(spec, "aws_counterpart", None)
    if isinstance(direct, str) and direct:
        return direct
    entry = getattr(spec, "library", None)
    if not isinstance(entry, str) or not entry:
        return None
    try:
        from guardrails.model.library import load_library
    except ImportError:
        return _library_file_counterpart(entry)
    builtin = load_library().get(entry)
    found = getattr(builtin, "aws_counterpart", None)
    return found if isinstance(found, str) and found else None


def _library_file_counterpart(entry: str) -> str | None:
    try:
        text = resources.files("guardrails.data").joinpath("job_functions", f"{entry}.yaml").read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    data = yaml.safe_load(text)
    found = data.get("aws_counterpart") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


def report_fields(job: str, spec: Any, granted: Iterable[str], scoped: Iterable[str]) -> dict[str, Any]:
    """The comparison fields of a :class:`~guardrails.policies.ir.JobReport` (empty without a counterpart).

    ``granted``/``scoped``: the job function's own policy, as in the report; the AWS managed policies it
    attaches (``spec.managed_policies``) are added to ours when their documents are stored.
    """
    counterpart = counterpart_for(job, spec)
    if counterpart is None:
        return {}
    if canonical_name(counterpart) is None:
        return {"counterpart": counterpart,
                "counterpart_notes": (f"No stored document for {counterpart}: not compared.",)}
    result = compare(granted, counterpart, scoped=scoped, attached=getattr(spec, "managed_policies", ()) or ())
    return {"counterpart": result.counterpart, "counterpart_counts": result.rows(),
            "counterpart_only_ours": result.only_ours, "counterpart_notes": result.notes()}
