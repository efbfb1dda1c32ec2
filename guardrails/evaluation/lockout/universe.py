"""Every action the proof asks about, and each Deny statement's actions as a set over them.

The proof is exhaustive over the pinned IAM action database (:func:`guardrails.iam.actions.iam_database`): a
statement's ``Action`` or ``NotAction`` is expanded once (cached by its patterns), so "does this Deny name that
action" is a set lookup. The actions a statement names are then split into *classes* of actions whose requests
the engine cannot tell apart for that statement — same region rule, same resource types, no documented special
case — so one search per class decides every action in it (``Universe.classes``). The class key holds exactly
what the request and its context depend on besides the action's name; see :class:`ActionFacts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from guardrails.data.fast_yaml import safe_load
from guardrails.evaluation.context import us_east_1_services
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.actions import IamDatabase, action_matcher, glob_regex, has_wildcard, iam_database
from guardrails.iam.documents import PolicyFormatError, as_tuple

# A class of actions: (region pinned, resource ARN formats or None when the statement ignores them, has resource
# types, the action itself when the engine treats it on its own).
ClassKey = tuple[bool, tuple[str, ...] | None, bool, str]


@dataclass(frozen=True)
class ActionFacts:
    """What a request for the action looks like, apart from its name."""

    name: str  # AWS's spelling, ``s3:PutObject``
    # A us-east-1 service (guardrails/data/global_services.yaml): aws:RequestedRegion is us-east-1 in every
    # request, so the adversary cannot choose it.
    pinned_region: bool
    # ARN formats of the resource types the action authorizes (Service Authorization Reference, through the pinned
    # database); empty when it has none and the request's resource is "*".
    # https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
    formats: tuple[str, ...]
    # Named by guardrails/data/unconditional_requests.yaml: the engine may decide it unlike its neighbours, so it
    # is a class of its own.
    special: bool
    known: bool = True  # in the database; an unknown action's resource types are unknown too

    @property
    def authorizes_resources(self) -> bool:
        """Does a request for it name resources (an unknown action is assumed to: RCPs may then apply)?"""
        return bool(self.formats) or not self.known


class Universe:
    """The database's actions with their facts; statements' action sets and classes, cached."""

    def __init__(self, db: IamDatabase, tables: Tables | None = None) -> None:
        self.db = db
        # Lowercased name → the fields of its ActionFacts (name, pinned, formats, special), AWS's spelling → its
        # class keys, the names sorted (see _tables); the ActionFacts are made when asked for (the searches ask for
        # few).
        self._rows, self._keys, self.names = tables or _tables(db, us_east_1_services(), _special_patterns())
        self._facts: dict[str, ActionFacts] = {}
        self._sets: dict[tuple, tuple[str, ...]] = {}
        self._lowered: dict[tuple, frozenset[str]] = {}
        # statement id → (the statement, kept alive so that the id stays its own, its actions lowercased)
        self._by_id: dict[int, tuple[Mapping[str, Any], frozenset[str]]] = {}
        self._classes: dict[tuple, dict[ClassKey, tuple[str, ...]]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def knows(self, action: str) -> bool:
        """Is the action in the database (any case)?"""
        return action.lower() in self._rows

    @property
    def facts(self) -> dict[str, ActionFacts]:
        """Lowercased name → facts, of every database action."""
        return {lowered: self.fact(row[0]) for lowered, row in self._rows.items()}

    def fact(self, action: str) -> ActionFacts:
        """Facts of a database action; an action the database does not know (newer than the pin, or a statement's
        literal) is taken as regional, of unknown resource types, and a class of its own."""
        lowered = action.lower()
        known = self._facts.get(lowered)
        if known is not None:
            return known
        row = self._rows.get(lowered)
        if row is not None:
            known = self._facts[lowered] = ActionFacts(*row)
            return known
        prefix = action.split(":", 1)[0].lower()
        return ActionFacts(action, prefix in us_east_1_services(), (), True, known=False)

    def named_by(self, statement: Mapping[str, Any], where: str = "") -> tuple[str, ...]:
        """Every action the statement's ``Action`` names, or its ``NotAction`` leaves out, sorted.

        A literal action the database does not know is kept as written: AWS may know it."""
        if "Action" not in statement and "NotAction" not in statement:
            return ()  # names nothing (the engine's reading of such a statement)
        if "Action" in statement:
            key: tuple = ("Action", element(statement, "Action", where=where))
        else:
            key = ("NotAction", element(statement, "NotAction", where=where))
        if key not in self._sets:
            kind, patterns = key
            named: set[str] = set()
            for pattern in patterns:
                found = self.db.expand(pattern)
                named.update(a.full_name for a in found)
                if kind == "Action" and not found and not has_wildcard(pattern):
                    named.add(pattern)
            self._sets[key] = tuple(sorted(named)) if kind == "Action" else \
                tuple(n for n in self.names if n not in named)
        return self._sets[key]

    def mentions(self, statement: Mapping[str, Any], action: str, where: str = "") -> bool | None:
        """Does the statement name the action (a set lookup)? None for an action the universe does not know:
        ask the patterns then."""
        lowered = action.lower()
        if lowered not in self._rows:
            return None
        cached = self._by_id.get(id(statement))
        if cached is None or cached[0] is not statement:
            cached = self._by_id[id(statement)] = (statement, self._lowered_set(statement, where))
        return lowered in cached[1]

    def _lowered_set(self, statement: Mapping[str, Any], where: str) -> frozenset[str]:
        key = ("Action", element(statement, "Action", where=where)) if "Action" in statement else \
            ("NotAction", element(statement, "NotAction", where=where))
        if key not in self._lowered:
            self._lowered[key] = frozenset(n.lower() for n in self.named_by(statement, where))
        return self._lowered[key]

    def classes(self, statement: Mapping[str, Any], excluded: Iterable[str], *, resource_dependent: bool,
                where: str = "") -> dict[ClassKey, tuple[str, ...]]:
        """The statement's actions (``excluded`` patterns left out) by class; each class's actions sorted."""
        excluded = tuple(excluded)
        named = self.named_by(statement, where)
        if "NotAction" in statement:
            key = (("NotAction", element(statement, "NotAction", where=where)), excluded, resource_dependent)
        else:
            key = (("Action", element(statement, "Action", where=where)), excluded, resource_dependent)
        if key not in self._classes:
            skip = action_matcher(excluded) if excluded else None
            # Excluded literals only (the usual case: the federation calls, a guardrail's intended actions): the
            # database's names they match, looked up once; a name of the database is ASCII and its lowercase is
            # its row's key, so this is what asking the matcher answers.
            skipped = None if skip is None or skip.prefixes or skip.regex is not None else \
                {self._rows[k][0] for k in skip.literal if k in self._rows}
            keys, variant = self._keys, 0 if resource_dependent else 1
            out: dict[ClassKey, list[str]] = {}
            for name in named:
                both = keys.get(name)
                if skip is not None and (name in skipped if skipped is not None and both is not None else
                                         skip(name)):
                    continue
                if both is not None:
                    cls = both[variant]
                else:  # a literal the database does not know
                    facts = self.fact(name)
                    cls = (facts.pinned_region, facts.formats if resource_dependent else None,
                           facts.authorizes_resources, name if facts.special else "")
                out.setdefault(cls, []).append(name)
            self._classes[key] = {k: tuple(v) for k, v in out.items()}
        return self._classes[key]


def element(statement: Mapping[str, Any], name: str, *, where: str = "") -> tuple[str, ...]:
    """A string-or-list element of a statement (``Action``, ``Resource``, ``Principal.Service`` …) as a tuple.

    A non-string item is an :class:`EvaluationError`: the proof reports the statement as one it cannot read
    instead of guessing what it denies.
    """
    try:
        return as_tuple(statement.get(name), what=f"{where}{': ' if where else ''}{name}")
    except PolicyFormatError as exc:
        raise EvaluationError(f"{exc}; the lockout proof cannot read this statement") from exc


# The universe's tables: lowercased name → (name, pinned, formats, special); name → its class keys with the
# resource formats and without them; every name, sorted.
Tables = tuple[dict[str, tuple[str, bool, tuple[str, ...], bool]], dict[str, tuple[ClassKey, ClassKey]],
               tuple[str, ...]]
_TABLES_FORMAT = 1


def _tables(db: IamDatabase, east: frozenset[str], specials: tuple[str, ...]) -> Tables:
    special = glob_regex(specials) if specials else None
    rows: dict[str, tuple[str, bool, tuple[str, ...], bool]] = {}
    for prefix in db.services():
        service = db.service(prefix)
        assert service is not None
        pinned = prefix in east
        arns = {k: t.arn for k, t in service.resource_types.items()}
        by_types: dict[tuple[str, ...], tuple[str, ...]] = {}  # actions of a service share their types
        for info in service.actions.values():
            types = info.resource_types
            formats = by_types.get(types)
            if formats is None:
                formats = by_types[types] = tuple(sorted({arns[k.lower()] for k in types if k.lower() in arns}))
            name = info.full_name
            rows[name.lower()] = (name, pinned, formats, special is not None and special.match(name) is not None)
    # Class keys built once, since a Deny of "*" or a NotAction classifies nearly every action.
    keys: dict[str, tuple[ClassKey, ClassKey]] = {}
    for name, pinned, formats, special_case in rows.values():
        own = name if special_case else ""
        keys[name] = ((pinned, formats, bool(formats), own), (pinned, None, bool(formats), own))
    return rows, keys, tuple(sorted(keys))


def _unflat_tables(flat: Any) -> Tables:
    version, rows, keys, names = flat
    if version != _TABLES_FORMAT or not (isinstance(rows, dict) and isinstance(keys, dict)
                                         and isinstance(names, tuple) and len(rows) == len(keys) == len(names)):
        raise ValueError("not the universe's tables")
    return rows, keys, names


@cache
def universe() -> Universe:
    """The pinned database's universe, built once per process. Its tables (20,000 actions classified) are kept
    between runs beside the database's (guardrails.iam.database_cache), keyed by the database's key, this module's
    text and the data they are computed from (the us-east-1 services, the special cases' patterns)."""
    from guardrails.iam.database_cache import cached, source_key

    db = iam_database()
    east, specials = us_east_1_services(), _special_patterns()

    def build() -> Tables:
        return _tables(db, east, specials)

    key = db.source_key and source_key(db.source_key, repr(sorted(east)), repr(specials), modules=(__file__,))
    if not key:
        return Universe(db, build())
    tables = cached("lockout-universe", key, build, lambda t: (_TABLES_FORMAT, *t), _unflat_tables)
    return Universe(db, tables)


@cache
def _special_patterns() -> tuple[str, ...]:
    """Action patterns of guardrails/data/unconditional_requests.yaml narrower than "*" (the engine's special
    cases; the ones on every action are about principals and resources, which classes keep apart anyway)."""
    source = resources.files("guardrails.data").joinpath("unconditional_requests.yaml")
    if not source.is_file():
        return ()
    raw = safe_load(source.read_text("utf-8")) or {}
    return tuple(str(e["action"]) for e in raw.get("entries", []) if isinstance(e, Mapping)
                 and e.get("action") and e["action"] != "*")
