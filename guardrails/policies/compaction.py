"""Safe compaction: fit policy documents under AWS's size limits without granting more.

An explicit action list is replaced by prefix wildcards (``s3:Get*``) only where each wildcard
expands, against the pinned IAM database, to actions that were all intended, and the wildcards
and remaining names together expand to exactly the intended set: compaction never over-grants
against the database. A wildcard also matches actions AWS adds later, so documents keep their
explicit lists unless a size limit requires otherwise, and the caller is told which statements
were compacted so reports can mark them. When compaction is not enough, a managed policy is
split into several (``<name>-1``, ``<name>-2``, …) within the per-role attachment limit.

Only ``Action`` lists are compacted (in Allow and Deny statements); ``NotAction`` lists never
are: in an Allow statement the issue forbids it, and in a Deny statement a wildcard would let
actions AWS adds later escape the deny.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from guardrails.diagnostics import GuardrailsError
from guardrails.iam.actions import IamDatabase, iam_database
from guardrails.policies.ir import Limit, ManagedPolicy, PolicyDocument, Statement
from guardrails.policies.sizes import counted_length, deployed_size, worst_case

__all__ = ["CompactionError", "CompactionResult", "compact_actions", "fit_document", "fit_policy", "split_policy"]


class CompactionError(GuardrailsError):
    """A policy does not fit the size limit even compacted and split into the allowed number of parts."""

    exit_code = 1  # the blueprint asks for more than AWS allows; the user has to change it


# ----------------------------------------------------------------------------- action lists


def compact_actions(actions: Iterable[str], db: IamDatabase | None = None) -> tuple[str, ...]:
    """The shortest sorted list of names and wildcards that expands to exactly ``actions``.

    ``actions`` are explicit names (any case, duplicates allowed) known to the database. Each
    wildcard is a prefix on a CamelCase word boundary (``s3:Get*``, ``s3:GetObject*``) or
    ``service:*``, used only when everything it matches in the database was asked for; the
    result is minimal in rendered characters (ties: fewer wildcards, then the sorted list).
    Explicit names keep AWS's spelling. Deterministic: the same set gives the same list.
    """
    db = db or iam_database()
    wanted: dict[str, set[str]] = {}  # service prefix -> lowercased action names
    for action in actions:
        if any(ch in action for ch in "*?"):
            raise ValueError(f"compact_actions takes explicit action names, not the pattern {action!r}")
        info = db.action(action)
        if info is None:
            raise ValueError(f"unknown action {action!r}: not in the pinned IAM database")
        wanted.setdefault(info.service, set()).add(info.name.lower())
    key = tuple(sorted((prefix, tuple(sorted(names))) for prefix, names in wanted.items()))
    return _compacted(key) if db is iam_database() else _compact(db, key)


@lru_cache(maxsize=1024)
def _compacted(wanted: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[str, ...]:
    """:func:`_compact` against the pinned database, once per set: fitting a policy, then each of its parts,
    compacts the same statements again."""
    return _compact(iam_database(), wanted)


def _compact(db: IamDatabase, wanted: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[str, ...]:
    """(service prefix, its lowercased action names), sorted by prefix → the compacted list, checked exact."""
    out = [item for prefix, names in wanted for item in _compact_service(db, prefix, set(names))]
    result = tuple(sorted(out))
    _check_exact(db, result, {f"{p}:{n}" for p, names in wanted for n in names})
    return result


@dataclass
class _Node:
    """A safe prefix (its wildcard matches only intended actions) in the trie of candidates."""

    prefix: str  # lowercased
    children: list[_Node] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # lowercased actions with no longer safe prefix


def _compact_service(db: IamDatabase, prefix: str, wanted: set[str]) -> tuple[str, ...]:
    service = db.service(prefix)
    assert service is not None
    everything = sorted(service.actions)
    chosen = sorted(wanted)

    def safe(stem: str) -> bool:
        """Does ``stem*`` match only wanted actions? (Both lists are sorted: compare the ranges.)"""
        low, high = bisect_left(everything, stem), bisect_left(everything, stem + "\uffff")
        return high - low == bisect_left(chosen, stem + "\uffff") - bisect_left(chosen, stem)

    nodes = {"": _Node("")}  # the root: ``service:*``, a candidate only if it is safe
    for name in chosen:
        for stem in _word_prefixes(service.actions[name].name):
            if stem not in nodes and safe(stem):
                nodes[stem] = _Node(stem)
    for stem in sorted(nodes, key=len, reverse=True):  # each node hangs under its longest safe proper prefix
        if stem:
            nodes[_longest_stem(nodes, stem[:-1])].children.append(nodes[stem])
    for name in chosen:
        nodes[_longest_stem(nodes, name)].names.append(name)

    def spelled(name: str) -> str:
        return f"{service.prefix}:{service.actions[name].name}"

    def wildcard(stem: str) -> str:
        if not stem:
            return f"{service.prefix}:*"
        first = everything[bisect_left(everything, stem)]  # AWS's spelling of the stem, from its first match
        return f"{service.prefix}:{service.actions[first].name[:len(stem)]}*"

    def best(node: _Node) -> tuple[int, int, tuple[str, ...]]:
        """(rendered characters, wildcards, items) of the cheapest exact cover of the node's subtree."""
        parts = [best(child) for child in node.children]
        items = tuple(sorted([spelled(n) for n in node.names] + [i for p in parts for i in p[2]]))
        explicit = (sum(_cost(i) for i in items), sum(p[1] for p in parts), items)
        if node.prefix or safe(""):
            star = wildcard(node.prefix)
            return min(explicit, (_cost(star), 1, (star,)))
        return explicit

    return best(nodes[""])[2]


def _cost(item: str) -> int:
    return len(item) + 3  # quotes and the separating comma


def _longest_stem(nodes: dict[str, _Node], text: str) -> str:
    while text not in nodes:
        text = text[:-1]
    return text


def _word_prefixes(name: str) -> list[str]:
    """Lowercased prefixes of an AWS action name ending on a word boundary, the whole name included.

    ``GetObjectAcl`` → get, getobject, getobjectacl; ``DescribeVPCEndpoints`` → describe,
    describevpc, describevpcendpoints; ``ListObjectsV2`` → list, listobjects, listobjectsv, listobjectsv2.
    """
    cuts = []
    for i in range(1, len(name)):
        before, here, after = name[i - 1], name[i], name[i + 1:i + 2]
        if (here.isupper() and (before.islower() or before.isdigit() or (before.isupper() and after.islower()))
                or (here.isdigit() and not before.isdigit()) or not before.isalnum()):
            cuts.append(i)
    return [name[:i].lower() for i in cuts] + [name.lower()]


def _check_exact(db: IamDatabase, items: Iterable[str], wanted: set[str]) -> None:
    granted = set()
    for item in items:
        info = None if "*" in item else db.action(item)
        granted.update([info.full_name.lower()] if info else (a.full_name.lower() for a in db.expand(item)))
    if granted != wanted:  # the construction guarantees equality; never ship a list that breaks it
        raise AssertionError(f"compaction is not exact: adds {sorted(granted - wanted)}, "
                             f"drops {sorted(wanted - granted)}")


def _compact_statement(statement: Statement, db: IamDatabase) -> Statement:
    """The statement with its explicit, known actions compacted (wildcards and unknown names kept)."""
    explicit = [a for a in statement.actions if not any(ch in a for ch in "*?") and db.action(a) is not None]
    if len(explicit) < 2:
        return statement
    kept = [a for a in statement.actions if a not in explicit]
    actions = tuple(sorted({*kept, *compact_actions(explicit, db)}))
    return replace(statement, actions=actions) if set(actions) != set(statement.actions) else statement


# ----------------------------------------------------------------------------- documents


def fit_document(document: PolicyDocument, limit: Limit, db: IamDatabase | None = None) -> tuple[PolicyDocument, bool]:
    """The document compacted just enough to fit ``limit`` (measured as deployed), and whether it was.

    A document that fits is returned untouched. Otherwise statements are compacted one at a time,
    the biggest saving first, until the document fits, so as many lists as possible stay explicit.
    If even compacting every statement is not enough, the fully compacted document is returned
    (still too big: the caller splits it) with ``True``.
    """
    fitted, compacted = _fit(document, limit, db or iam_database())
    return fitted, bool(compacted)


def _fit(document: PolicyDocument, limit: Limit, db: IamDatabase) -> tuple[PolicyDocument, set[int]]:
    """The fitted document and the indexes of the statements compacted."""
    size = deployed_size(document, limit)
    if size <= limit.value:
        return document, set()
    statements = list(document.statements)
    savings = []
    for index, statement in enumerate(statements):
        compact = _compact_statement(statement, db)
        saving = _statement_size(statement, limit) - _statement_size(compact, limit)
        if saving > 0:
            savings.append((-saving, index, compact))
    compacted: set[int] = set()
    for negative, index, compact in sorted(savings, key=lambda s: (s[0], s[1])):
        statements[index] = compact
        compacted.add(index)
        size += negative
        if size <= limit.value:
            break
    return PolicyDocument(tuple(statements)), compacted


# ----------------------------------------------------------------------------- managed policies


@dataclass(frozen=True)
class CompactionResult:
    """Managed policies that each fit, and per policy key the Sids of its compacted statements."""

    policies: tuple[ManagedPolicy, ...]
    compacted: dict[str, tuple[str, ...]]  # policy key -> Sids of statements holding wildcards we introduced

    @property
    def compacted_sids(self) -> tuple[str, ...]:
        return tuple(sorted({sid for sids in self.compacted.values() for sid in sids}))

    @property
    def split(self) -> bool:
        return len(self.policies) > 1


def split_policy(policy: ManagedPolicy, limit: Limit, max_parts: int, *, job_function: str = "",
                 attachment_limit: Limit | None = None, db: IamDatabase | None = None) -> tuple[ManagedPolicy, ...]:
    """The policy, compacted and if need be split, as managed policies that each fit ``limit``.

    See :func:`fit_policy`, which also says which statements were compacted.
    """
    return fit_policy(policy, limit, max_parts, job_function=job_function, attachment_limit=attachment_limit,
                      db=db).policies


def fit_policy(policy: ManagedPolicy, limit: Limit, max_parts: int, *, job_function: str = "",
               attachment_limit: Limit | None = None, db: IamDatabase | None = None) -> CompactionResult:
    """Fit a managed policy under ``limit``: untouched, compacted, or split into at most ``max_parts``.

    Compaction comes first (:func:`fit_document`). If the compacted document is still too big its
    statements are packed, in order and first-fit, into parts named ``<name>-1``, ``<name>-2``…
    (keys ``<key>_1``…); a statement too big for a part on its own is cut into chunks of its
    action list, else of its resource list (see :func:`_chunks`), Sids ``<Sid>Part1``….
    Every part grants, statement for statement, exactly what the original granted.

    ``max_parts`` is how many managed policies this job function may still attach to its role;
    ``attachment_limit`` (``managed_policies_per_role``) and ``job_function`` only make the error
    message precise. Raises :class:`CompactionError` when more parts would be needed.
    """
    db = db or iam_database()
    original_size = deployed_size(policy.document, limit)
    document, compacted_indexes = _fit(policy.document, limit, db)
    if deployed_size(document, limit) <= limit.value:
        fitted = replace(policy, document=document) if compacted_indexes else policy
        sids = tuple(sorted({document.statements[i].sid for i in compacted_indexes}))
        return CompactionResult((fitted,), {policy.key: sids})

    empty = deployed_size(PolicyDocument(()), limit)
    room = limit.value - empty  # for the statements of one part and the commas between them
    pieces: list[tuple[Statement, bool]] = []  # (statement or chunk, compacted?)
    for index, statement in enumerate(document.statements):
        chunks = _chunks(statement, room, limit)
        if chunks is None:
            raise CompactionError(_too_big_statement(policy, statement, limit, job_function))
        pieces.extend((chunk, index in compacted_indexes) for chunk in chunks)

    parts: list[list[tuple[Statement, bool]]] = []
    used: list[int] = []  # characters of each part's statements, commas included
    for piece in pieces:
        size = _statement_size(piece[0], limit)
        target = next((i for i, filled in enumerate(used) if filled + 1 + size <= room), None)
        if target is None:
            parts.append([piece])
            used.append(size)
        else:
            parts[target].append(piece)
            used[target] += 1 + size

    if len(parts) > max_parts:
        raise CompactionError(_too_many_parts(policy, original_size, limit, len(parts), max_parts,
                                              job_function, attachment_limit))
    policies = []
    compacted: dict[str, tuple[str, ...]] = {}
    for number, part in enumerate(parts, start=1):
        part_document = PolicyDocument(tuple(statement for statement, _ in part))
        if deployed_size(part_document, limit) > limit.value:  # the packing estimates are upper bounds
            raise AssertionError(f"part {number} of {policy.name} does not fit {limit.key}")
        key = f"{policy.key}_{number}"
        policies.append(replace(policy, key=key, name=f"{policy.name}-{number}", document=part_document,
                                description=f"{policy.description} (part {number} of {len(parts)})"))
        compacted[key] = tuple(sorted({s.sid for s, was in part if was}))
    return CompactionResult(tuple(policies), compacted)


def _statement_size(statement: Statement, limit: Limit) -> int:
    """Characters a statement adds to a document (without the comma separating it from the next)."""
    return _counted(json.dumps(statement.to_json(), separators=(",", ":"), ensure_ascii=False), limit)


def _counted(text: str, limit: Limit) -> int:
    return counted_length(worst_case(text), limit)


_CHUNK_SID_SUFFIX = "Part9999"  # the longest suffix a chunk's Sid gets, for the size estimates


def _chunks(statement: Statement, room: int, limit: Limit) -> list[Statement] | None:
    """The statement, or chunks of it that each take at most ``room``; None if it cannot be cut small enough.

    Chunks cut the ``Action`` list, else the ``Resource`` list, else both: exact for Allow and Deny
    (A∪B on R = A on R + B on R, and likewise for resources). ``NotAction`` and ``NotResource`` are
    never cut: a complement of a union is not a union of complements. Chunks get Sids ``<Sid>Part<n>``.
    """
    if _statement_size(statement, limit) <= room:
        return [statement]
    probe = replace(statement, sid=statement.sid + _CHUNK_SID_SUFFIX) if statement.sid else statement
    pieces = _cut(probe, room, limit)
    if pieces is None:
        return None
    return [replace(piece, sid=f"{statement.sid}Part{n}" if statement.sid else "")
            for n, piece in enumerate(pieces, start=1)]


def _cut(statement: Statement, room: int, limit: Limit) -> list[Statement] | None:
    if _statement_size(statement, limit) <= room:
        return [statement]
    for attribute, key in (("actions", "Action"), ("resources", "Resource")):
        groups = _pack(statement, attribute, key, room, limit)
        if groups is not None:
            return [replace(statement, **{attribute: group}) for group in groups]
    if len(statement.actions) >= 2:  # both lists are long: halve the actions and cut each half's resources
        half = len(statement.actions) // 2
        left = _cut(replace(statement, actions=statement.actions[:half]), room, limit)
        right = _cut(replace(statement, actions=statement.actions[half:]), room, limit)
        return None if left is None or right is None else left + right
    return None


def _pack(statement: Statement, attribute: str, key: str, room: int, limit: Limit) -> list[tuple[str, ...]] | None:
    """``attribute``'s values in order, in groups as large as fit ``room``; None if a single value does not."""
    values: tuple[str, ...] = getattr(statement, attribute)
    if len(values) < 2:
        return None
    bare = _statement_size(replace(statement, **{attribute: ()}), limit)
    base = bare + 1 + _counted(f'"{key}":[]', limit) - 1  # its comma, key and brackets, minus the last item's comma
    groups: list[list[str]] = [[]]
    total = base
    for value in values:
        cost = _counted(json.dumps(value, ensure_ascii=False), limit) + 1  # the value and its comma
        if base + cost > room:
            return None
        if total + cost > room:
            groups.append([])
            total = base
        groups[-1].append(value)
        total += cost
    return [tuple(group) for group in groups]


# ----------------------------------------------------------------------------- messages


def _owner(policy: ManagedPolicy, job_function: str) -> str:
    return f"job function {job_function} (managed policy {policy.name})" if job_function else \
        f"managed policy {policy.name}"


def _too_many_parts(policy: ManagedPolicy, size: int, limit: Limit, needed: int, allowed: int,
                    job_function: str, attachment_limit: Limit | None) -> str:
    if attachment_limit is not None:
        quota = (f"the role may attach {attachment_limit.value} managed policies (managed_policies_per_role, "
                 f"{attachment_limit.source})")
        if allowed < attachment_limit.value:
            quota += f" and {attachment_limit.value - allowed} are taken by its other policies"
        raise_to = max(attachment_limit.value + needed - allowed, needed)
    else:
        quota = f"at most {allowed} may be attached"
        raise_to = needed
    return (f"{_owner(policy, job_function)} is {size:,} characters as deployed, over the limit of "
            f"{limit.value:,} ({limit.key}: {limit.source}) even with its action lists compacted into wildcards; "
            f"it would need {needed} managed policies, but {quota}. Narrow the job function's grants, split it "
            f"into several job functions on different roles, or raise the attachment limit in the blueprint with "
            f"`limits: {{managed_policies_per_role: {raise_to}}}` once AWS has raised that quota for the accounts.")


def _too_big_statement(policy: ManagedPolicy, statement: Statement, limit: Limit, job_function: str) -> str:
    return (f"{_owner(policy, job_function)}: statement {statement.sid or '(no Sid)'} is "
            f"{_statement_size(statement, limit):,} characters as deployed and cannot be cut to fit the limit of "
            f"{limit.value:,} ({limit.key}: {limit.source}), not even one action or resource per part. "
            f"Shorten its resources or conditions, or narrow the job function's grants.")
