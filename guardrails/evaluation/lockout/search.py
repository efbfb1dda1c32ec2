"""The search for requests that prove a lockout, confirmed by the real engine (:func:`~guardrails.evaluation.engine.
evaluate`): every action a Deny statement can deny a probe (exhaustive over the action universe), or a needed
request that is not allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from guardrails.evaluation.engine import Decision, PolicySet, Request, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.contexts import Context, Contexts
from guardrails.evaluation.lockout.coverage import Coverage
from guardrails.evaluation.lockout.facts import RESOURCE_KEYS
from guardrails.evaluation.lockout.findings import Check, FindingLog
from guardrails.evaluation.lockout.paths import Path, path_groups
from guardrails.evaluation.lockout.probes import Chosen, Requests, Role
from guardrails.evaluation.lockout.statements import (
    Deny,
    Pruner,
    applies,
    decided_by,
    denies_of,
    fits,
    fits_action,
    resource_dependent,
)
from guardrails.evaluation.lockout.universe import universe
from guardrails.evaluation.organization import Account, Organization
from guardrails.iam.actions import CREDENTIAL_FREE_ACTIONS

US_EAST_1 = "us-east-1"  # the region of every request to a us-east-1 service (guardrails/data/global_services.yaml)
_REGION = frozenset({"aws:requestedregion"})

# Builds the request of one (action, resource) under the chosen keys, and the policies that apply to it.
MakeRequest = Callable[[str, str, Chosen], tuple[Request, PolicySet]]


class Search:
    """One proof's shared state: the organization, its account groups, the request builders and the findings."""

    def __init__(self, organization: Organization) -> None:
        self.org = organization
        self.manifest = organization.manifest
        self.partition = organization.partition
        self.paths = path_groups(organization)
        self.requests = Requests(organization)
        self.contexts = Contexts(self.requests)
        self.universe = universe()
        self.prune = Pruner()
        self.log = FindingLog()
        self.memo: dict[tuple, Any] = {}  # what a check works out once per proof (keys start with its name)
        self.coverage = Coverage(actions=len(self.universe))

    def prove_statement(self, check: Check, role: Role, accounts: Sequence[Account], path: Path, deny: Deny,
                        policies: PolicySet, fixed: frozenset[str], excluded: Sequence[str]) -> None:
        """Every action the Deny statement names (``excluded`` aside), at every adversarial context built from
        its conditions: each one it denies the role is recorded, with one witness request per statement.

        Actions are decided class by class (:meth:`~guardrails.evaluation.lockout.universe.Universe.classes`):
        the request of every action of a class meets the statement alike, so one search answers for all of them.
        Each witness is confirmed by the engine with every policy of the path."""
        account = path.account
        try:
            base = self.requests.base_context(role, account)
            adversary = fixed | role.pinned
            # A role never sends the federation calls (CREDENTIAL_FREE_ACTIONS): a Deny of them cannot lock it out.
            classes = self.universe.classes(deny.statement, (*excluded, *CREDENTIAL_FREE_ACTIONS), where=deny.where,
                                            resource_dependent=resource_dependent(deny.statement, deny.where))
            contexts = {pinned: list(self.contexts.contexts(deny.statement, adversary | (_REGION if pinned else
                                                                                          frozenset()), base, account))
                        for pinned in {key[0] for key in classes}}
            for key, names in classes.items():
                self.coverage.add(check, len(names) * max(1, len(contexts[key[0]])))
            if self.contexts.rejected_by_fixed_keys(deny.statement, adversary, base):
                return  # e.g. the aws:PrincipalArn exemption: no context makes it apply to this principal
            recorded = False
            for (pinned, _, typed, _), names in classes.items():
                if deny.policy.kind == "rcp" and not typed:
                    # RCPs apply only to the resources an action authorizes; an action without a resource type has
                    # none: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
                    continue
                found = self._witness(deny, role, account, policies, names[0], contexts[pinned], base, pinned)
                if found is None:
                    continue
                if not recorded:
                    request, decision, chosen = found
                    self.log.record(check, role.label, accounts, account, request, decision, chosen, names[0], deny)
                    recorded = True
                self.log.extend(check, role.label, accounts, deny, names)
        except EvaluationError as exc:
            self.log.unreadable(check, role.label, accounts, deny, "*", exc)

    def _witness(self, deny: Deny, role: Role, account: Account, policies: PolicySet, action: str,
                 contexts: Sequence[Chosen], base: Context, pinned: bool) -> tuple[Request, Decision, Chosen] | None:
        """A request of ``role`` for ``action`` that the statement applies to and the engine denies by it."""
        facts = self.universe.fact(action)
        formats = facts.formats if facts.known else None
        resources: dict[str, list[str]] = {}
        for chosen in contexts:
            region = next((v[0] for k, v in chosen.items() if k.lower() == "aws:requestedregion" and v), None) or \
                (US_EAST_1 if pinned else self.org.home_region)
            if region not in resources:
                resources[region] = self.requests.candidate_resources(deny.statement, formats, account, region, base)
            for resource in resources[region]:
                request = self.requests.role_request(role, account, action, resource, chosen)
                if not applies(deny, request):
                    continue
                decision = evaluate(request, self.prune(policies, action))
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
        self.coverage.add(check, len(pairs))  # each needed request with the context its principal sends
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
                    decision = evaluate(request, self.prune(policies, action))
                    if decision.outcome not in ("allow", "unknown"):
                        self.log.record(check, principal, accounts, path.account, request, decision, {}, action)
                        continue
                for deny in applicable:
                    for chosen in self.contexts.contexts(deny.statement, fixed, request.context, path.account):
                        if not chosen:
                            continue
                        probe, probe_policies = make(action, resource, chosen)
                        self.coverage.add(check, 1)
                        decision = evaluate(probe, self.prune(probe_policies, action))
                        if decision.outcome not in ("allow", "unknown"):
                            self.log.record(check, principal, accounts, path.account, probe, decision, chosen,
                                            action)
                            break
            except EvaluationError as exc:
                self.log.unreadable(check, principal, accounts, None, action, exc)


def given_context(fixed: Mapping[str, tuple[str, ...]], chosen: Chosen) -> dict[str, tuple[str, ...]]:
    """A principal's own keys, then the keys the proof chose (absent ones left out)."""
    return {**fixed, **{k: v for k, v in chosen.items() if v is not None}}
