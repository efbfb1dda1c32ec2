"""The analysis of one compiled organization: per group of accounts, each principal's closure, reach and tampering.

Accounts are grouped like the lockout proof groups them (``guardrails.evaluation.lockout.paths``): by baseline
class and SCP/RCP path, so each distinct group is analysed once, on its first account.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from guardrails.escalation.catalog import catalog
from guardrails.escalation.controls import TamperRequest, is_owner, owned, owner_patterns, tamper_requests
from guardrails.escalation.edges import hops
from guardrails.escalation.scope import Scope, grant_of
from guardrails.escalation.graph import Reached, closure, reached
from guardrails.escalation.owners import Owner, as_owner
from guardrails.escalation.view import NONE, OWN, Node, View
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.paths import path_groups
from guardrails.iam.documents import as_tuple
from guardrails.policies.ir import Plan


@dataclass(frozen=True)
class Gain:
    """Something a principal can do: a reach probe (``what`` is its id) or a tampering request (a control id)."""

    what: str
    title: str
    request: str  # "s3:GetObject on arn:…"
    via: Reached  # empty path: the principal itself
    grant: tuple[str, int] | None = None  # the identity statement that allowed it (direct tampering)


@dataclass
class PrincipalResult:
    node: Node
    label: str
    owner: bool
    becomes: list[Reached]
    reach: tuple[str, ...]  # reach ids the principal has itself
    gained: list[Gain] = field(default_factory=list)  # reach beyond its own, through an undeclared path
    tamper: list[Gain] = field(default_factory=list)  # controls it changes without owning them
    accepted: list[tuple[Gain, Any]] = field(default_factory=list)  # gains an accept_risks declaration covers
    owns: tuple[str, ...] = ()  # the controls a declared owner of some of them owns (``owner``: all of them)


@dataclass
class GroupResult:
    class_key: str
    accounts: tuple[str, ...]
    path: tuple[str, ...]  # root → OUs → account
    account_id: str  # the representative's id (shown as ${account_id} in the report)
    owners: tuple[str, ...]  # patterns of the owners of every control (defaults and declared)
    principals: list[PrincipalResult]
    entry_points: list[tuple[str, str]]  # (role, who its trust names)
    unknown: list[str]
    label: Callable[[Node], str]
    declared: tuple[tuple[Owner, tuple[str, ...]], ...] = ()  # the blueprint's owners, with the principals here

    def owners_of(self, control: str) -> tuple[str, ...]:
        """Who may change the control: the owners of everything and the declared owners of this one."""
        return (*self.owners, *(o.principal for o, _ in self.declared if not o.everything and o.owns(control)))


@dataclass
class Analysis:
    groups: list[GroupResult]
    evaluations: int
    seconds: float


Declarations = Mapping[str, Sequence[Any]]  # policy key or name → accept_risks entries (risk, owner, review_by …)


def analyze(files: Mapping[str, str], plan: Plan | None = None, *, owners: Iterable[str | Owner] = (),
            declared: Declarations | None = None, view: View | None = None) -> Analysis:
    """Every group of accounts, analysed. Without the plan (a policy tree on its own) the security baseline's
    controls (trail, Config, alert rules) are not known and not checked. ``owners``: more owners, of every control
    (a pattern, or an :class:`Owner` without controls) or of the controls an :class:`Owner` lists. ``view``: the
    files' :class:`View`, when the caller made it (it reads its manifest too)."""
    started = time.perf_counter()
    view = view or View(files)
    named = tuple(as_owner(o) for o in owners)
    groups = []
    for path, accounts in path_groups(view.org).groups(by_class=True):
        groups.append(_group(view, plan, path.account, tuple(a.name for a in accounts), named, declared or {}))
    return Analysis(groups, view.evaluations, time.perf_counter() - started)


def _group(view: View, plan: Plan | None, account: Any, accounts: tuple[str, ...], named: tuple[Owner, ...],
           declared: Declarations) -> GroupResult:
    scope = Scope(view, account)
    owners = owner_patterns(scope, plan, [o.principal for o in named if o.everything])
    partial = tuple(o for o in named if not o.everything)
    # Every owner's role is a guardrail role: changing it changes what may change the controls.
    requests = tamper_requests(scope, plan, (*owners, *(o.principal for o in partial)))
    label = _labeller(scope)
    reach_cache: dict[Node, dict[str, Gain]] = {}
    tamper_cache: dict[Node, list[Gain]] = {}

    # The reach probes' requests in this account (the same for every node).
    probes = [(probe, _fill(probe.resource, scope), {k: (_fill(v, scope),) for k, v in probe.context})
              for probe in catalog().reach]

    # View.may_allow without a resource reads only the node's action signatures (View.action_keys), and with one
    # it is false wherever it is false without: scope.decide skips those requests. So the probes and actions
    # worth asking are chosen once per signatures, not once per node.
    worth: dict[object, list[tuple[Any, str, dict[str, tuple[str, ...]]]]] = {}
    may_by_keys: dict[object, dict[str, bool]] = {}

    def reach_of(node: Node) -> dict[str, Gain]:
        if node not in reach_cache:
            found = {}
            keys = view.action_keys(node, account)
            if keys not in worth:
                worth[keys] = [p for p in probes if view.may_allow(node, account, p[0].action)]
            for probe, resource, context in worth[keys]:
                if scope.decide(node, probe.action, resource, context) is not None:
                    found[probe.id] = Gain(probe.id, probe.title, f"{probe.action} on {resource}", Reached(node, ()))
            reach_cache[node] = found
        return reach_cache[node]

    blocks = _request_blocks(requests)

    def tamper_of(node: Node) -> list[Gain]:
        """The first allowed request of each (control, action): one is enough to show the control is open."""
        if node not in tamper_cache:
            found: dict[tuple[str, str], Gain] = {}
            # action → may_allow (the requests repeat actions over many resources), per signatures (above)
            may = may_by_keys.setdefault(view.action_keys(node, account), {})
            for key, action, by_policy, block in blocks:
                if key in found:
                    continue
                if action not in may:
                    may[action] = view.may_allow(node, account, action)
                if not may[action] and not by_policy:
                    continue  # every request of the block would be skipped below
                for r in block:
                    if not r.resource_policy and not may[action]:
                        continue
                    decision = scope.decide(node, r.action, r.resource, filtered=not r.resource_policy)
                    if decision is not None:
                        found[key] = Gain(r.control.id, r.control.title, r.label, Reached(node, ()),
                                          grant_of(decision))
                        break  # the block's other requests have the same key: they were skipped once found
            tamper_cache[node] = list(found.values())
        return tamper_cache[node]

    results = []
    failed: list[str] = []
    for node in scope.principals:
        try:
            results.append(_principal(view, scope, account, node, owners, owned(node, partial, scope), reach_of,
                                      tamper_of, label, declared))
        except EvaluationError as exc:  # a principal the evaluator cannot judge: said, not guessed
            failed.append(f"{label(node)}: not analysed — {exc}")
    unknown = {f"{label(n)}: {action} on {resource} — {why}" for n, action, resource, why in scope.unknown}
    unknown |= {f"{label(n)}: {', '.join(view.unmodeled(n, account))} (no document in guardrails' reference data: "
                "what they grant is not counted)" for n in scope.principals if view.unmodeled(n, account)}
    here = tuple((o, tuple(label(n) for n in scope.principals if is_owner(n, (o.principal,), scope))) for o in named)
    return GroupResult(account.class_key or "", accounts, tuple(view.org.path_of(account)), account.id, owners,
                       results, _entry_points(scope, label), sorted(unknown | set(failed)), label, here)


def _principal(view: View, scope: Scope, account: Any, node: Node, owners: tuple[str, ...], owns: frozenset[str],
               reach_of: Callable[[Node], dict[str, Gain]], tamper_of: Callable[[Node], list[Gain]],
               label: Callable[[Node], str], declared: Declarations) -> PrincipalResult:
    """One principal: whom it becomes, what it reaches itself and beyond, which controls it changes (``owns``: the
    controls it owns as a declared owner of some; an owner of the alerts still may not change the trail)."""
    owner = is_owner(node, owners, scope)
    # Owners are searched too (a deployer may still escalate beyond its own job functions); an administrator
    # cannot gain anything, and the search stops at the owners it reaches (they may do anything by design).
    states = {(node, False): Reached(node, ())} if view.is_administrator(node, account) else closure(
        node, lambda n: hops(scope, n), lambda n: is_owner(n, owners, scope))
    becomes = reached(states, node)
    own = reach_of(node)
    result = PrincipalResult(node, label(node), owner, becomes, tuple(sorted(own)),
                             owns=tuple(c.id for c in catalog().controls if c.id in owns))
    escalated = sorted((r for r in becomes if r.undeclared), key=lambda r: (len(r.path), r.node))
    seen: set[str] = set(own)
    for via in escalated:
        for what, gain in sorted(reach_of(via.node).items()):
            if what not in seen:
                seen.add(what)
                result.gained.append(Gain(what, gain.title, gain.request, via))
    if not owner:
        # What it owns it may change itself or through anyone it becomes; the rest is tampering either way (through
        # an undeclared path, even when the principal it reaches owns that control).
        direct = [g for g in tamper_of(node) if g.what not in owns]
        result.tamper += direct
        done = {g.request for g in direct}
        for via in escalated:
            for gain in tamper_of(via.node):
                if gain.request not in done and gain.what not in owns:
                    done.add(gain.request)
                    result.tamper.append(Gain(gain.what, gain.title, gain.request, via))
    _accept(result, scope, declared)
    return result


def _request_blocks(requests: Sequence[TamperRequest]) -> list[tuple[tuple[str, str], str, bool,
                                                                     list[TamperRequest]]]:
    """The requests in runs of one (control, action), in order: (that key, the action, whether a request of the
    run may be granted by a resource policy, the run)."""
    runs = groupby(requests, key=lambda r: (r.control.id, r.action))
    return [(key, key[1], any(r.resource_policy for r in run), run) for key, run in ((k, list(g)) for k, g in runs)]


def _fill(text: str, scope: Scope) -> str:
    return (text.replace("${partition}", scope.view.partition).replace("${account_id}", scope.account.id)
            .replace("${region}", scope.region))


def _accept(result: PrincipalResult, scope: Scope, declared: Declarations) -> None:
    """Move the gains an ``accept_risks`` declaration of the principal's own policies covers: every undeclared hop
    of the path must be accepted (its method's risk rule, or that rule's category)."""
    if not declared or not result.gained:
        return
    identity, _ = scope.view.identity(result.node, scope.account)
    names = [p.name for p in identity]
    if result.node.kind == "permission-set":
        names.append(result.node.base.split("/", 1)[1])
    entries = [a for name in names for a in declared.get(name, ())]
    if not entries:
        return
    kept = []
    for gain in result.gained:
        risks = [catalog().method(h.method).risk for h in gain.via.path if not h.declared]
        covering = [next((a for a in entries if a.risk in (r, r.split("/", 1)[0])), None) for r in risks]
        if risks and all(covering):
            result.accepted.append((gain, covering[0]))
        else:
            kept.append(gain)
    result.gained = kept


def _labeller(scope: Scope) -> Callable[[Node], str]:
    functions = {n.base: fn.logical_id for fn, n in scope.functions}
    probes = {f"role/{p.name}": p for p in scope.view.probe_nodes(scope.account)}

    def label(node: Node) -> str:
        if node.synthetic == "new-role":
            probe = probes[node.base]
            bound = "no boundary" if node.boundary in (NONE, OWN) else f"boundary {node.boundary.rsplit('/', 1)[-1]}"
            return f"a new role {probe.path}* ({bound}, any policy)"
        text = node.base
        if node.base in functions:
            text += f" (role of the custom-resource function {functions[node.base]})"
        changes = (["with any policy attached"] if node.admin else []) + (
            ["without its boundary"] if node.boundary == NONE else [])
        return text + (" " + " and ".join(changes) if changes else "")

    return label


def _entry_points(scope: Scope, label: Callable[[Node], str]) -> list[tuple[str, str]]:
    """Who each role's trust names (services, identity providers, accounts), with the keys its conditions test."""
    out = []
    parsed: dict[str, Any] = {}  # trust text → its JSON, only read below: most roles of a class share a few texts
    for role in scope.role_targets:
        entry = scope.entries[role.base]
        text = scope.view.org.files.get(entry.trust, '{"Statement": []}')
        document = parsed[text] if text in parsed else parsed.setdefault(text, json.loads(text))
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            named = (["everyone"] if principal == "*" else
                     [f"{kind} {v}" for kind, values in sorted((principal or {}).items()) for v in as_tuple(values)])
            keys = sorted({k for block in (statement.get("Condition") or {}).values() for k in block})
            text = ", ".join(named).replace(scope.account.id, "${account_id}")
            out.append((label(role), text + (f" (conditions on {', '.join(keys)})" if keys else "")))
    return out
