"""The search for a request that proves a lockout, run by the real engine (:func:`~guardrails.evaluation.engine.
evaluate`): a witness that one Deny statement can apply to a probe, or a needed request that is not allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from guardrails.evaluation.engine import Decision, PolicySet, Request, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.contexts import Contexts
from guardrails.evaluation.lockout.facts import RESOURCE_KEYS
from guardrails.evaluation.lockout.findings import Check, FindingLog
from guardrails.evaluation.lockout.paths import Path, PathGroups
from guardrails.evaluation.lockout.probes import Chosen, Requests, Role
from guardrails.evaluation.lockout.statements import Deny, decided_by, denies_of, fits, fits_action
from guardrails.evaluation.organization import Account, Organization

# Builds the request of one (action, resource) under the chosen keys, and the policies that apply to it.
MakeRequest = Callable[[str, str, Chosen], tuple[Request, PolicySet]]


class Search:
    """One proof's shared state: the organization, its account groups, the request builders and the findings."""

    def __init__(self, organization: Organization) -> None:
        self.org = organization
        self.manifest = organization.manifest
        self.partition = organization.partition
        self.paths = PathGroups(organization)
        self.requests = Requests(organization)
        self.contexts = Contexts(self.requests)
        self.log = FindingLog()

    def witness(self, deny: Deny, role: Role, path: Path, policies: PolicySet, fixed: frozenset[str],
                excluded: Sequence[str]) -> tuple[Request, Decision, dict] | None:
        """A request of ``role`` that this Deny statement decides, if there is one."""
        account = path.account
        base = self.requests.base_context(role, account)
        adversary = fixed | role.pinned
        if self.contexts.rejected_by_fixed_keys(deny.statement, adversary, base):
            return None
        for action in self.requests.actions(deny.statement, excluded):
            for chosen in self.contexts.contexts(deny.statement, adversary, base, account):
                region = next((v[0] for k, v in chosen.items() if k.lower() == "aws:requestedregion" and v), None)
                for resource in self.requests.resources(deny.statement, action, account,
                                                        region or self.org.home_region, base):
                    request = self.requests.role_request(role, account, action, resource, chosen)
                    decision = evaluate(request, policies)
                    if decided_by(decision, deny):
                        return request, decision, chosen
        return None

    def check_requests(self, check: Check, principal: str, accounts: Sequence[Account], path: Path,
                       pairs: Sequence[tuple[str, str]], make: MakeRequest, fixed: frozenset[str], *,
                       denies: Sequence[Deny] | None = None) -> None:
        """Each (action, resource) must be allowed under the default context and under every context built from
        the conditions of the Deny statements that could apply to it.

        ``denies``: for role probes, whose policies are the same for every request (SCPs, RCPs and an allow-all
        identity), the Deny statements among them; a request that none of them fits is allowed without asking
        the engine. Without it every request is evaluated (identity policies decide too)."""
        cache: dict[int, tuple[PolicySet, list[Deny]]] = {}
        by_action: dict[str, list[Deny]] = {}
        if denies is not None and pairs:
            # Statements whose conditions on the principal's own keys exclude it (the usual aws:PrincipalArn
            # exemption) can never apply to any of its requests: drop them once, not per request.
            first, _ = make(*pairs[0], {})
            stable = frozenset(fixed - RESOURCE_KEYS - {"aws:requestedregion"})
            denies = [d for d in denies if not self.contexts.rejected_by_fixed_keys(d.statement, stable,
                                                                                    first.context)]
        for action, resource in pairs:
            try:
                if denies is not None:
                    if action not in by_action:
                        by_action[action] = [d for d in denies if fits_action(d, action)]
                    if not by_action[action]:
                        continue
                request, policies = make(action, resource, {})
                if id(policies) not in cache:
                    cache[id(policies)] = (policies, denies_of(policies))  # kept alive: ids stay unique
                candidates = by_action[action] if denies is not None else cache[id(policies)][1]
                applicable = [d for d in candidates if fits(d, request)
                              and not self.contexts.rejected_by_fixed_keys(d.statement, fixed, request.context)]
                if denies is None or applicable:
                    decision = evaluate(request, policies)
                    if decision.outcome not in ("allow", "unknown"):
                        self.log.record(check, principal, accounts, path.account, request, decision, {}, action)
                        continue
                for deny in applicable:
                    for chosen in self.contexts.contexts(deny.statement, fixed, request.context, path.account):
                        if not chosen:
                            continue
                        probe, probe_policies = make(action, resource, chosen)
                        decision = evaluate(probe, probe_policies)
                        if decision.outcome not in ("allow", "unknown"):
                            self.log.record(check, principal, accounts, path.account, probe, decision, chosen,
                                            action)
                            break
            except EvaluationError as exc:
                self.log.unreadable(check, principal, accounts, None, action, exc)

    def record_witness(self, check: Check, role: Role, accounts: Sequence[Account], path: Path, deny: Deny,
                       policies: PolicySet, fixed: frozenset[str], excluded: Sequence[str]) -> None:
        """Look for a witness of ``deny`` against ``role`` and record it (or the statement as unreadable)."""
        try:
            found = self.witness(deny, role, path, policies, fixed, excluded)
        except EvaluationError as exc:
            self.log.unreadable(check, role.label, accounts, deny, "*", exc)
            return
        if found:
            request, decision, chosen = found
            self.log.record(check, role.label, accounts, path.account, request, decision, chosen, request.action,
                            deny)


def given_context(fixed: Mapping[str, tuple[str, ...]], chosen: Chosen) -> dict[str, tuple[str, ...]]:
    """A principal's own keys, then the keys the proof chose (absent ones left out)."""
    return {**fixed, **{k: v for k, v in chosen.items() if v is not None}}
