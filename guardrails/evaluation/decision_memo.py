"""One answer for requests the engine cannot tell apart: the access matrix asks ~40 principals of a group the same
nine requests, and most of them differ only in who they are, not in any statement that fits the request.

:func:`signature` reduces the engine's inputs (``engine.evaluate(request, policies)``) to what the engine reads of
them for this request, so two requests with the same signature get the same decision — outcome, deciding
statements, steps and summary — but for the names a no-allow ``identity`` step lists in ``Step.policies`` (an
answer computed from the decision must not read those):

* of every policy (of the identity policies, those with a fitting statement: the others are only listed in
  ``Step.policies``): its kind, name and source (step details and summaries name them) and the statements whose
  Effect and Action fit the request's action (``statements.statements_for``; the engine asks no other statement:
  ``engine._split`` starts from them, ``_some_resource_step`` reads the fitting ones again), by identity, but those
  whose Resource/NotResource (without policy variables: no context changes the answer) does not name the request's
  resource — ``_split`` skips them before reading anything else of them;
* every scalar field of the policy set and of the request but the context and the caller (action, resource, resource
  types, resource account, the caller's kind and account);
* the caller itself only when a resource-based policy has a fitting statement (``statements.principal_match`` reads
  it); of the context, whether each fitting statement's Condition holds (``evaluate_conditions``, the engine's
  own call), and the whole context when a fitting statement has a policy variable in its Resource/NotResource.
  Those are the only places the engine reads the context (``evaluate_conditions``, ``resource_applies``,
  ``some_resource.could_apply``). A condition's answer, not the values it read, is in the signature: the decision
  keeps those values (``ClauseResult.request_values`` and its note), so an answer computed from it must not read
  the clauses of its matches either.

Statements are keyed by identity: :class:`DecisionMemo` keeps every document, level path and policy set it read, so
no id is reused while the memo lives. What a level path or a document reads, and a policy set's fields that are
neither a policy nor a level path, are turned into a small number once (equal reads, equal numbers), so a request's
signature is a short tuple to hash. :meth:`DecisionMemo.answers` (the access matrix's rows) keeps a Condition block's
answer per (block, context) object for one row: the row keeps both alive and nothing writes a request's context, and
``evaluate_conditions`` reads nothing else, so the same two objects give the same answer. A malformed document or
condition has no signature: such a request is always evaluated (the engine raises the error it meets first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from guardrails.evaluation import some_resource
from guardrails.evaluation.conditions import evaluate_conditions
from guardrails.evaluation.engine import Policy, PolicySet, Request
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.statements import action_applies, resource_applies, static_resources, statements_of

_Answer = TypeVar("_Answer")
Levels = tuple[tuple[str, tuple[Policy, ...]], ...]


class _Read(NamedTuple):
    """What the engine reads of some policies for one action."""

    key: Any  # hashable: kind, name, source and the fitting statements of each policy (or a number standing for it)
    conditions: tuple[Mapping[str, Any], ...]  # the fitting statements' Condition blocks, in order
    context: bool  # a fitting Resource/NotResource pattern holds a policy variable
    caller: bool  # a resource-based policy has a fitting statement (its Principal is compared with the caller)
    fits: bool  # some statement fits


_NOTHING = _Read((), (), False, False, False)
_MISSING = object()  # no answer kept yet


def _joined(reads: Sequence[_Read], key: Any) -> _Read:
    return _Read(key, tuple(block for r in reads for block in r.conditions), any(r.context for r in reads),
                 any(r.caller for r in reads), any(r.fits for r in reads))


def _fitting(policy: Policy, request: Request) -> tuple[tuple[tuple[int, int], ...], _Read] | None:
    """The (index, statement id) of the statements of ``policy`` that fit the request's action (either effect) and
    may fit its resource, and what they read (``key`` and ``caller`` left to the caller); None for a malformed
    document."""
    found = _naming(policy, request.action)
    if found is None:
        return None
    allow, deny = found
    if not allow and not deny:
        return (), _NOTHING  # most documents name none of a probe's actions
    ids: list[tuple[int, int]] = []
    conditions: list[Mapping[str, Any]] = []
    context = False
    try:
        for effect, named in (("Allow", allow), ("Deny", deny)):
            for i, statement in named:
                static = static_resources(statement)
                if static and not _names_resource(policy, statement, effect, request):
                    continue
                ids.append((i, id(statement)))
                context = context or not static
                if statement.get("Condition"):
                    conditions.append(statement["Condition"])
    except EvaluationError:
        return None  # the engine raises it where it meets it
    return tuple(ids), _Read(None, tuple(conditions), context, False, bool(ids))


def _naming(policy: Policy, action: str) -> tuple[list[tuple[int, Mapping[str, Any]]],
                                                list[tuple[int, Mapping[str, Any]]]] | None:
    """``statements_for(policy, "Allow", action)`` and ``statements_for(policy, "Deny", action)`` in one walk of the
    statements (each statement asked the same: its Effect, then ``action_applies``); None when either is None (a
    malformed statement: this document is read once per action, and neither answer is worth keeping apart)."""
    allow: list[tuple[int, Mapping[str, Any]]] = []
    deny: list[tuple[int, Mapping[str, Any]]] = []
    try:
        for i, statement in enumerate(statements_of(policy)):
            if action_applies(statement, action):  # Effect is Allow or Deny: statements_of checked it
                (allow if statement["Effect"] == "Allow" else deny).append((i, statement))
    except EvaluationError:
        return None
    return allow, deny


def _names_resource(policy: Policy, statement: Mapping[str, Any], effect: str, request: Request) -> bool:
    """``engine._split``'s resource test of a statement whose patterns hold no policy variable (so no context changes
    it): a statement it fails is skipped there before its Principal or Condition is read, and adds nothing."""
    if effect == "Deny" and request.resource_types and request.resource == "*":
        return some_resource.could_apply(statement, request.resource_types, request.context,
                                         trust=policy.kind == "resource")
    return resource_applies(statement, request.resource, request.context, policy.kind)


class DecisionMemo:
    """Answers by :meth:`signature`, for one policy tree's requests (kept only as long as the memo)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._numbers: dict[Any, int] = {}  # a read's key → its number
        # (action, resource, resource types) → what the engine reads for requests of that target: of a document by
        # (document id, policy kind, name, source), of a level path by its id (with the path: its id is not reused)
        self._targets: dict[tuple[Any, ...], tuple[dict[tuple[Any, ...], _Read | None],
                                                   dict[int, tuple[Levels, _Read | None]]]] = {}
        self._documents: dict[int, Mapping[str, Any]] = {}  # every document read, kept so that no id is reused
        self._unfitting: dict[tuple[str, str, str], _Read] = {}  # (kind, name, source) → the read that fits nothing
        self._sets: dict[int, tuple[PolicySet, int]] = {}  # policy set id → the set (kept) and :meth:`_settings`

    def answer(self, request: Request, policies: PolicySet, compute: Callable[[], _Answer]) -> _Answer:
        """``compute()`` (a function of ``engine.evaluate(request, policies)`` only), once per signature."""
        return self._answer(self.signature(request, policies), compute)

    def answers(self, prepared: Sequence[tuple[Request, PolicySet] | EvaluationError],
                compute: Callable[[Request, PolicySet], _Answer]) -> list[_Answer | EvaluationError]:
        """:meth:`answer` of each prepared request (``Organization.prepare_many``'s row), or the error it is or
        ``compute`` raises; a Condition block is decided once per context object (the row's requests of one region
        share theirs)."""
        held: dict[tuple[int, int], bool] = {}  # (block id, context id): ``prepared`` keeps both alive, unchanged
        found: list[_Answer | EvaluationError] = []
        for item in prepared:
            if isinstance(item, EvaluationError):
                found.append(item)
                continue
            request, policies = item
            try:
                key = self._signature(request, policies, held)
                answer = self._answers.get(key, _MISSING) if key is not None else _MISSING
                if answer is _MISSING:
                    answer = compute(request, policies)  # an error raised is not kept, as in :meth:`answer`
                    if key is not None:
                        self._answers[key] = answer
                found.append(answer)
            except EvaluationError as exc:
                found.append(exc)
        return found

    def _answer(self, key: tuple[Any, ...] | None, compute: Callable[[], _Answer]) -> _Answer:
        if key is None:
            return compute()
        if key in self._answers:
            return self._answers[key]  # type: ignore[no-any-return]
        answer = self._answers[key] = compute()  # an error raised is not kept: the next request raises it again
        return answer

    def _number(self, key: Any) -> int:
        return self._numbers.setdefault(key, len(self._numbers))

    def _read(self, policy: Policy, request: Request, documents: dict[tuple[Any, ...], Any]) -> _Read | None:
        """What the engine reads of ``policy`` for the request: its kind, name and source, and its document's fitting
        statements (found once per document, policy and request target: principals' policies share documents).
        ``documents``: the reads kept for the request's target."""
        document = policy.document
        key = (id(document), policy.kind, policy.name, policy.source)
        if key in documents:  # the document is kept (self._documents): no other one has its id
            return documents[key]  # type: ignore[no-any-return]
        found = _fitting(policy, request)
        if found is None:
            read = None
        elif not found[1].fits:  # most reads: one for every target a policy fits nothing of
            read = self._unfitting.get(key[1:])
            if read is None:
                read = self._unfitting[key[1:]] = _NOTHING._replace(key=(*key[1:], self._number(())))
        else:
            read = _Read((policy.kind, policy.name, policy.source, self._number(found[0])), found[1].conditions,
                         found[1].context, policy.kind == "resource", True)
        self._documents[id(document)] = document  # its statements' ids are not reused either
        documents[key] = read
        return read

    def _levels_read(self, levels: Levels, request: Request, documents: dict[tuple[Any, ...], Any],
                     paths: dict[int, tuple[Levels, _Read | None]]) -> _Read | None:
        """What the engine reads of a level path, once per path object (an account's principals share its paths);
        ``documents`` and ``paths``: the reads kept for the request's target."""
        kept = paths.get(id(levels))
        if kept is not None and kept[0] is levels:
            return kept[1]
        reads = [(level, [self._read(p, request, documents) for p in attached]) for level, attached in levels]
        found = None
        if not any(r is None for _, at_level in reads for r in at_level):
            found = _joined([r for _, at_level in reads for r in at_level],  # type: ignore[misc]
                            self._number(tuple((level, tuple(r.key for r in at_level))  # type: ignore[union-attr]
                                               for level, at_level in reads)))
        paths[id(levels)] = (levels, found)  # the path object is kept: its id is not reused
        return found

    def signature(self, request: Request, policies: PolicySet) -> tuple[Any, ...] | None:
        """What ``engine.evaluate`` reads of the request and the policies (see the module docstring); None when a
        policy or a condition is malformed (the engine raises the error it meets first)."""
        return self._signature(request, policies, None)

    def _signature(self, request: Request, policies: PolicySet, held_by: dict[tuple[int, int], bool] | None
                   ) -> tuple[Any, ...] | None:
        """:meth:`signature`; ``held_by``: Condition answers by (block id, context id), for contexts it outlives
        unchanged (:meth:`answers`)."""
        target = (request.action, request.resource, request.resource_types)
        kept = self._targets.get(target)
        if kept is None:
            kept = self._targets[target] = ({}, {})
        documents, paths = kept
        scp = self._levels_read(policies.scp_levels, request, documents, paths)
        rcp = self._levels_read(policies.rcp_levels, request, documents, paths)
        if scp is None or rcp is None:
            return None
        # The Condition blocks of the fitting statements in the order of the policies, and whether a fitting statement
        # has a policy variable in its Resource or is a resource policy's (a read that fits nothing has none of them).
        blocks = [*scp.conditions, *rcp.conditions]
        variable, compared = scp.context or rcp.context, scp.caller or rcp.caller
        own: list[Any] = []
        for policy in (policies.resource, policies.boundary, policies.session, policies.task_policy):
            if policy is None:
                own.append(_NOTHING.key)
                continue
            read = self._read(policy, request, documents)
            if read is None:
                return None
            own.append(read.key)
            blocks += read.conditions
            variable, compared = variable or read.context, compared or read.caller
        identity: list[Any] = []
        for policy in policies.identity:
            read = self._read(policy, request, documents)
            if read is None:
                return None
            if read.fits:  # an identity policy without a fitting statement adds no match: only Step.policies names it
                identity.append(read.key)
                blocks += read.conditions
                variable, compared = variable or read.context, compared or read.caller
        context, caller = request.context, request.caller
        try:
            held = () if not blocks else tuple(
                [evaluate_conditions(block, context)[0] for block in blocks] if held_by is None else
                _held(blocks, context, held_by))
            whole = frozenset(context.items()) if variable else None
        except (EvaluationError, TypeError):  # malformed, or a context value that is not hashable
            return None
        return (request.action, request.resource, request.resource_types, request.resource_account, caller.kind,
                caller.account, caller if compared else None, held, whole, scp.key, rcp.key, tuple(own),
                tuple(identity), self._settings(policies))

    def _settings(self, policies: PolicySet) -> int:
        """The number standing for the policy set's fields that are neither a policy nor a level path (a row's
        requests share a few policy sets: numbered once per object, which is kept so its id is not reused)."""
        kept = self._sets.get(id(policies))
        if kept is None or kept[0] is not policies:
            kept = self._sets[id(policies)] = (policies, self._number((
                policies.resource_required, policies.identity_implicit, policies.scp_exempt_reason,
                policies.unmodeled, policies.key_policy, policies.resource_unknown, policies.notes,
                policies.exemptions, policies.rcp_exempt_reason, policies.caller_unknown, policies.boundary_unknown)))
        return kept[1]


def _held(blocks: Sequence[Mapping[str, Any]], context: Mapping[str, Any], held_by: dict[tuple[int, int], bool]
          ) -> list[bool]:
    """Whether each Condition block holds in the context (``evaluate_conditions``), once per (block, context) object;
    an error is raised again each time, never kept."""
    found = []
    context_id = id(context)
    for block in blocks:
        key = (id(block), context_id)
        held = held_by.get(key)
        if held is None:
            held = held_by[key] = evaluate_conditions(block, context)[0]
        found.append(held)
    return found
