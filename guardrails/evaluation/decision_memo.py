"""One answer for requests the engine cannot tell apart: the access matrix asks ~40 principals of a group the same
nine requests, and most of them differ only in who they are, not in any statement that fits the request.

:func:`signature` reduces the engine's inputs (``engine.evaluate(request, policies)``) to what the engine reads of
them for this request, so two requests with the same signature get the same decision — outcome, deciding
statements, steps and summary — but for the names a no-allow ``identity`` step lists in ``Step.policies`` (an
answer computed from the decision must not read those):

* of every policy (of the identity policies, those with a fitting statement: the others are only listed in
  ``Step.policies``): its kind, name and source (step details and summaries name them) and the statements whose
  Effect and Action fit the request's action (``statements.statements_for``; the engine asks no other statement:
  ``engine._split`` starts from them, ``_some_resource_step`` reads the fitting ones again), by identity;
* every scalar field of the policy set and of the request but the context and the caller (action, resource, resource
  types, resource account, the caller's kind and account);
* the caller itself only when a resource-based policy has a fitting statement (``statements.principal_match`` reads
  it); of the context, whether each fitting statement's Condition holds (``evaluate_conditions``, the engine's
  own call), and the whole context when a fitting statement has a policy variable in its Resource/NotResource.
  Those are the only places the engine reads the context (``evaluate_conditions``, ``resource_applies``,
  ``some_resource.could_apply``). A condition's answer, not the values it read, is in the signature: the decision
  keeps those values (``ClauseResult.request_values`` and its note), so an answer computed from it must not read
  the clauses of its matches either.

Statements and shared policy levels are keyed by identity: :class:`DecisionMemo` keeps the inputs of every answer it
holds, so no id is reused while the memo lives. A malformed document (``statements_for`` says None) has no
signature: such a request is always evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from guardrails.evaluation.conditions import evaluate_conditions
from guardrails.evaluation.engine import Policy, PolicySet, Request
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.statements import static_resources, statements_for

_Answer = TypeVar("_Answer")
Levels = tuple[tuple[str, tuple[Policy, ...]], ...]


class _Conditions:
    """The Condition blocks of a document's statements that fit an action. Compared by identity (one object per
    document and action): the statement ids beside it in a projection already tell documents apart."""

    __slots__ = ("blocks",)

    def __init__(self, blocks: tuple[Mapping[str, Any], ...]) -> None:
        self.blocks = blocks


# What the engine reads of a document's statements that fit an action: (index, statement id) of each, their
# Condition blocks, whether a Resource/NotResource pattern holds a policy variable (it reads the context).
_Fitting = tuple[tuple[tuple[int, int], ...], _Conditions, bool]


def _fitting(document: Mapping[str, Any], policy: Policy, action: str) -> _Fitting | None:
    """The statements of ``policy`` that fit ``action`` (either effect) and what of the context they read; None for
    a malformed document."""
    allow = statements_for(policy, "Allow", action)
    deny = statements_for(policy, "Deny", action)
    if allow is None or deny is None:
        return None
    fitting = (*allow, *deny)
    blocks = _Conditions(tuple(st["Condition"] for _, st in fitting if st.get("Condition")))
    return tuple((i, id(st)) for i, st in fitting), blocks, not all(static_resources(st) for _, st in fitting)


class DecisionMemo:
    """Answers by :meth:`signature`, for one policy tree's requests (kept only as long as the memo)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._kept: list[tuple[Request, PolicySet]] = []  # every keyed object stays alive: ids are not reused
        self._documents: dict[tuple[int, str], tuple[Mapping[str, Any], _Fitting | None]] = {}
        self._levels: dict[tuple[int, str], tuple[Levels, tuple[Any, ...] | None]] = {}

    def answer(self, request: Request, policies: PolicySet, compute: Callable[[], _Answer]) -> _Answer:
        """``compute()`` (a function of ``engine.evaluate(request, policies)`` only), once per signature."""
        key = self.signature(request, policies)
        if key is None:
            return compute()
        if key in self._answers:
            return self._answers[key]  # type: ignore[no-any-return]
        answer = self._answers[key] = compute()  # an error raised is not kept: the next request raises it again
        self._kept.append((request, policies))
        return answer

    def _projection(self, policy: Policy | None, action: str) -> tuple[Any, ...] | None:
        """What the engine reads of ``policy`` for ``action``: kind, name, source, the fitting statements, their
        conditions, whether their resources read the context, whether a Principal element is asked; () for no policy,
        None for a malformed one."""
        if policy is None:
            return ()
        document = policy.document
        key = (id(document), action)
        kept = self._documents.get(key)
        if kept is None or kept[0] is not document:
            kept = self._documents[key] = (document, _fitting(document, policy, action))  # the document is kept
        fitting = kept[1]
        if fitting is None:
            return None
        return (policy.kind, policy.name, policy.source, *fitting, policy.kind == "resource" and bool(fitting[0]))

    def _levels_projection(self, levels: Levels, action: str) -> tuple[Any, ...] | None:
        """A level path's projections, once per path object (every principal of an account shares its paths)."""
        key = (id(levels), action)
        kept = self._levels.get(key)
        if kept is not None and kept[0] is levels:
            return kept[1]
        found: tuple[Any, ...] | None = ()
        for level, attached in levels:
            parts = tuple(self._projection(p, action) for p in attached)
            if any(part is None for part in parts):
                found = None
                break
            found += ((level, parts),)
        self._levels[key] = (levels, found)  # the path object is kept: its id is not reused
        return found

    def signature(self, request: Request, policies: PolicySet) -> tuple[Any, ...] | None:
        """What ``engine.evaluate`` reads of the request and the policies (see the module docstring); None when a
        policy or a condition is malformed (the engine raises the error it meets first)."""
        action = request.action
        scp = self._levels_projection(policies.scp_levels, action)
        rcp = self._levels_projection(policies.rcp_levels, action)
        own = tuple(self._projection(p, action) for p in (policies.resource, policies.boundary, policies.session,
                                                           policies.task_policy))
        identity = tuple(self._projection(p, action) for p in policies.identity)
        if scp is None or rcp is None or None in own or None in identity:
            return None
        identity = tuple(p for p in identity if p[3])  # type: ignore[index]  # the others add no match
        parts = [p for levels in (scp, rcp) for _, level in levels for p in level if p]
        parts += [p for p in (*own, *identity) if p]
        context = request.context
        try:
            held = tuple(evaluate_conditions(block, context)[0] for p in parts for block in p[4].blocks)
            read = frozenset(context.items()) if any(p[5] for p in parts) else None
        except (EvaluationError, TypeError):  # malformed, or a context value that is not hashable
            return None
        return (action, request.resource, request.resource_types, request.resource_account, request.caller.kind,
                request.caller.account, request.caller if any(p[6] for p in parts) else None, held, read,
                scp, rcp, own, identity,
                policies.resource_required, policies.identity_implicit, policies.scp_exempt_reason,
                policies.unmodeled, policies.key_policy, policies.resource_unknown, policies.notes,
                policies.exemptions, policies.rcp_exempt_reason, policies.caller_unknown, policies.boundary_unknown)
