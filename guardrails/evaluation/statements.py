"""The statements of a policy that apply to a request: the Action, Resource and Principal elements.

Element semantics follow the IAM User Guide's policy elements reference
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html); conditions are
``guardrails.evaluation.conditions``, patterns ``guardrails.evaluation.matching``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import Context, resource_matches
from guardrails.iam.actions import action_matcher

if TYPE_CHECKING:
    from guardrails.evaluation.engine import Caller, Policy, PolicyKind

# Statement elements the engine reads; anything else in a statement is a grammar error, not ignorable.
_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
             "Condition"}


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise EvaluationError(f"expected a string or a list of strings, got {value!r}")


def statements_of(policy: Policy) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    checked = _CHECKED.get(id(policy.document))
    if checked is not None and checked[0] is policy.document:
        return checked[1]
    raw = _checked_statements(policy)
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[id(policy.document)] = (policy.document, raw)
    return raw


# Documents whose statements were checked, by identity (the document is kept, so its id is not reused): a tree's
# documents are parsed once (Organization.document) and read by every request, which checked them every time.
_CHECKED: dict[int, tuple[Mapping[str, Any], list[Mapping[str, Any]]]] = {}
_CHECKED_MAX = 1 << 16


def _checked_statements(policy: Policy) -> list[Mapping[str, Any]]:
    raw = policy.document.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise EvaluationError(f"{policy.name}: the policy has no Statement list")
    for statement in raw:
        unknown = set(statement) - _ELEMENTS
        if unknown:
            raise EvaluationError(f"{policy.name}: statement element(s) {', '.join(sorted(unknown))} are not IAM "
                                  "policy grammar")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise EvaluationError(f"{policy.name}: statement Effect must be Allow or Deny, got "
                                  f"{statement.get('Effect')!r}")
    return raw


def statements_for(policy: Policy, effect: str, action: str) -> tuple[tuple[int, Mapping[str, Any]], ...] | None:
    """(index, statement) of the statements of ``policy`` with this effect whose Action/NotAction names the action,
    kept per document: an SCP holds many statements, few of them about one action, and every account's requests read
    it. None when a statement is malformed: the caller then walks them in order, so the same error is raised first."""
    document = policy.document
    key = (id(document), effect, action)
    kept = _BY_ACTION.get(key)
    if kept is not None and kept[0] is document:
        return kept[1]
    try:
        found = tuple((i, st) for i, st in enumerate(statements_of(policy))
                      if st["Effect"] == effect and action_applies(st, action))
    except EvaluationError:
        return None
    if len(_BY_ACTION) >= _BY_ACTION_MAX:
        _BY_ACTION.clear()  # the lockout proof asks every action of the IAM database
    _BY_ACTION[key] = (document, found)
    return found


# (document id, effect, action) → the document (kept: its id is not reused) and its statements that name the action.
_BY_ACTION: dict[tuple[int, str, str], tuple[Mapping[str, Any], tuple[tuple[int, Mapping[str, Any]], ...]]] = {}
_BY_ACTION_MAX = 1 << 16


def action_applies(statement: Mapping[str, Any], action: str) -> bool:
    known = _ACTIONS.get(id(statement))
    if known is None or known[0] is not statement:
        if "Action" in statement:
            known = (statement, _as_tuple(statement["Action"]), False)
        elif "NotAction" in statement:
            known = (statement, _as_tuple(statement["NotAction"]), True)
        else:
            return False
        if len(_ACTIONS) >= _CHECKED_MAX:
            _ACTIONS.clear()
        _ACTIONS[id(statement)] = known
    return _names_action(known[1], action) != known[2]


# A statement's Action or NotAction as a tuple, by the statement's identity (kept, like _CHECKED's documents).
_ACTIONS: dict[int, tuple[Mapping[str, Any], tuple[str, ...], bool]] = {}


@lru_cache(maxsize=1 << 16)
def _names_action(patterns: tuple[str, ...], action: str) -> bool:
    """Does one of the patterns name the action? The same few statements meet the same actions in every request;
    the patterns' one matcher (a set of literals, one ``startswith`` of prefixes) answers for all of them."""
    return action_matcher(patterns)(action)


def resource_applies(statement: Mapping[str, Any], resource: str, context: Context, kind: PolicyKind) -> bool:
    known = _RESOURCES.get(id(statement))
    if known is None or known[0] is not statement:
        if "Resource" in statement:
            known = (statement, _as_tuple(statement["Resource"]), False)
        elif "NotResource" in statement:
            known = (statement, _as_tuple(statement["NotResource"]), True)
        else:
            # Role trust policies have no Resource element: the role they belong to is the resource.
            return kind == "resource"
        if len(_RESOURCES) >= _CHECKED_MAX:
            _RESOURCES.clear()
        _RESOURCES[id(statement)] = known
    patterns, negated = known[1], known[2]
    if patterns == ("*",):
        return not negated
    return any(resource_matches(p, resource, context) for p in patterns) != negated


def static_resources(statement: Mapping[str, Any]) -> bool:
    """Does no Resource/NotResource pattern of the statement hold a policy variable (so no context changes whether
    it applies)?"""
    for name in ("Resource", "NotResource"):
        value = statement.get(name)
        if isinstance(value, str):
            return "${" not in value
        if isinstance(value, list | tuple):
            return not any("${" in str(p) for p in value)
        if value is not None:
            return False  # malformed: resource_applies says so
    return True


# A statement's Resource or NotResource as a tuple, by the statement's identity (kept, like _ACTIONS').
_RESOURCES: dict[int, tuple[Mapping[str, Any], tuple[str, ...], bool]] = {}


def principal_match(statement: Mapping[str, Any], caller: Caller) -> str:
    """"direct" when the statement names this principal, "account" when it names its account, else ""."""
    if "NotPrincipal" in statement:
        # Its rules (account ARNs required, principals with boundaries always denied, never with Allow) make it
        # easy to get wrong; guardrails never emits it, so a policy that uses it is not evaluated by guessing.
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
        raise EvaluationError("NotPrincipal is not supported by guardrails' evaluator; write the statement with "
                              "Principal and a condition on aws:PrincipalArn")
    if "Principal" in statement:
        return _names_principal(statement["Principal"], caller)
    return ""


def _names_principal(principal: object, caller: Caller) -> str:
    if principal == "*":
        return "direct"
    if not isinstance(principal, Mapping):
        raise EvaluationError(f"a Principal must be \"*\" or an object, got {principal!r}")
    best = ""
    for kind, values in principal.items():
        for value in _as_tuple(values):
            if kind == "AWS":
                if value == "*":
                    return "direct"
                if caller.kind == "role" and value == caller.arn:
                    return "session"  # the role session itself: not limited by the role's boundary
                if value in (caller.principal_arn, caller.arn) and caller.kind != "root":
                    return "direct"
                account = value if value.isdigit() else _root_account(value)
                if account and account == caller.account:
                    # The account's root user itself is named directly; anyone else in it by delegation.
                    best = "direct" if caller.kind == "root" else (best or "account")
            elif kind == "Federated" and caller.kind == "federated" and value == caller.federated_provider:
                return "direct"
            elif kind == "Service" and caller.kind == "service" and value == caller.service:
                return "direct"
            elif kind not in ("AWS", "Federated", "Service", "CanonicalUser"):
                raise EvaluationError(f"unknown Principal type {kind!r}")
    return best


def _root_account(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None
