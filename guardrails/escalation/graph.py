"""Whom a principal can become: the closure of its hops, each reached node with the shortest path to it.

The attacker holds every principal it has reached so far, so a hop that changes another principal (attach a policy
to role R, remove R's boundary) counts once R itself is reached; adding a user to a group once any user is. A node
is reached *declared* when every hop of its path is one the blueprint declares (an assumption its trusts allow),
and *undeclared* otherwise; both are kept, since a finding needs an undeclared path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from guardrails.escalation.scope import ANY_USER, Hop
from guardrails.escalation.view import Node


@dataclass(frozen=True)
class Reached:
    node: Node
    path: tuple[Hop, ...]

    @property
    def undeclared(self) -> bool:
        return any(not hop.declared for hop in self.path)


def closure(start: Node, hops_of: Callable[[Node], Iterable[Hop]],
            stop: Callable[[Node], bool] = lambda node: False) -> dict[tuple[Node, bool], Reached]:
    """Every (node, undeclared) state reachable from ``start``, with its first (shortest) path; BFS, so the order
    of ``hops_of`` decides ties and the result is deterministic. Nodes where ``stop`` holds are reached but not
    left (an owner of the controls may do anything by design: what it reaches next adds nothing to judge)."""
    states: dict[tuple[Node, bool], Reached] = {(start, False): Reached(start, ())}
    queue: deque[tuple[Node, bool]] = deque([(start, False)])
    waiting: list[tuple[tuple[Node, bool], Hop]] = []

    def satisfied(hop: Hop) -> bool:
        if not hop.requires:
            return True
        if hop.requires == ANY_USER:
            return any(node.kind in ("user", "group") for node, _ in states)
        return any(node.base == hop.requires for node, _ in states)

    def take(state: tuple[Node, bool], hop: Hop) -> None:
        flag = state[1] or not hop.declared
        key = (hop.target, flag)
        if key in states:
            return
        states[key] = Reached(hop.target, (*states[state].path, hop))
        queue.append(key)

    while True:
        while queue:
            state = queue.popleft()
            if stop(state[0]) and state[0] != start:
                continue
            for hop in hops_of(state[0]):
                if satisfied(hop):
                    take(state, hop)
                else:
                    waiting.append((state, hop))
        ready = [(s, h) for s, h in waiting if satisfied(h)]
        if not ready:
            break
        waiting = [(s, h) for s, h in waiting if not satisfied(h)]
        for state, hop in ready:
            take(state, hop)
    return states


def reached(states: dict[tuple[Node, bool], Reached], start: Node) -> list[Reached]:
    """The nodes other than ``start``, one entry each (the undeclared path when there is one: that is what a
    finding needs; the report shows the declared one too when both exist), sorted by node."""
    out: dict[Node, Reached] = {}
    for (node, flag), value in sorted(states.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if node == start:
            continue
        if node not in out or flag:
            out[node] = value
    return [out[n] for n in sorted(out)]


def describe(path: Iterable[Hop], label: Callable[[Node], str], *, detail: bool = True) -> str:
    """``A → method (actions[; detail]) → B → …``."""
    parts: list[str] = []
    for index, hop in enumerate(path):
        if index == 0:
            parts.append(label(hop.source))
        extra = f"; {hop.detail}" if detail and hop.detail else ""
        parts.append(f"{hop.method} ({' + '.join(hop.actions)}{extra})")
        parts.append(label(hop.target))
    return " → ".join(parts)
