"""The blueprint's access tests (``tests:``), run with the evaluator against the emitted policies.

Each test expands to one case per account and action; a case passes when the evaluator's decision is the
expected one (and, with ``decided_by``, when that statement or policy is among those that decided).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails.diagnostics import Diagnostic, Location
from guardrails.evaluation.engine import Decision
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.policies.ir import AccessTest


@dataclass(frozen=True)
class CaseResult:
    """One (test, account, action) case and how it went."""

    test: AccessTest
    account: str
    action: str
    decision: Decision | None
    error: str = ""  # the case could not be evaluated (unknown principal here, unmodeled policy …)

    @property
    def outcome(self) -> str:
        """"allow", "deny" (explicit or implicit), "unknown" or "error"."""
        if self.error:
            return "error"
        assert self.decision is not None
        if self.decision.outcome == "unknown":
            return "unknown"
        return "allow" if self.decision.allowed else "deny"

    @property
    def decided_by_ok(self) -> bool:
        if not self.test.decided_by or self.decision is None:
            return True
        wanted = self.test.decided_by
        names = {m.sid for m in self.decision.deciding} | {m.policy.name for m in self.decision.deciding}
        if not self.decision.deciding:
            # implicit deny: the step that found no Allow, and the policies it asked; a request that needs no
            # permission: the documented exception that allowed it
            deciding_outcome = "allow" if self.decision.allowed else "no-allow"
            names |= {s.stage for s in self.decision.steps if s.outcome == deciding_outcome}
            names |= {p for s in self.decision.steps if s.outcome == "no-allow" for p in s.policies}
        return wanted in names

    @property
    def passed(self) -> bool:
        return self.outcome == self.test.expect and self.decided_by_ok


def run_tests(organization: Organization, tests: Sequence[AccessTest]) -> list[CaseResult]:
    """Every case of every test, in the blueprint's order (tests sorted by name, then accounts, then actions)."""
    results: list[CaseResult] = []
    for test in tests:
        for account in test.accounts:
            for action in test.actions:
                try:
                    decision = organization.evaluate(parse_principal(test.principal), account, action, test.resource,
                                                     dict(test.context))
                except EvaluationError as exc:
                    results.append(CaseResult(test, account, action, None, str(exc)))
                    continue
                results.append(CaseResult(test, account, action, decision))
    return results


def failure_diagnostics(results: Sequence[CaseResult]) -> list[Diagnostic]:
    """GR401 for a decision other than expected, GR402 for a case that could not be evaluated."""
    found: list[Diagnostic] = []
    for result in results:
        if result.passed:
            continue
        where = Location.parse(result.test.origin)
        case = f"test {result.test.name!r}: {result.test.principal} in {result.account} → {result.action}"
        if result.outcome == "error":
            found.append(Diagnostic.of("GR402", f"{case}: {result.error}", where,
                                       "fix the test's principal, account or resource"))
            continue
        assert result.decision is not None
        if result.outcome == "unknown":
            found.append(Diagnostic.of("GR402", f"{case}: {result.decision.summary}", where,
                                       _unknown_hint(result.decision)))
            continue
        if result.outcome != result.test.expect:
            context = "".join(f" --context {shlex.quote(key + '=' + ','.join(values))}"
                              for key, values in result.test.context)
            found.append(Diagnostic.of("GR401", f"{case}: expected {result.test.expect}, got "
                                       f"{result.decision.summary}", where,
                                       f"`guardrails explain {result.test.principal} {result.action} "
                                       f"{shlex.quote(result.test.resource)} --account {result.account}{context}` "
                                       "shows the chain"))
        else:
            deciders = ", ".join(m.describe() for m in result.decision.deciding) or result.decision.summary
            found.append(Diagnostic.of("GR401", f"{case}: {result.outcome} as expected, but not decided by "
                                       f"{result.test.decided_by!r} ({deciders})", where,
                                       "name a Sid or policy among those that decided, or drop `decided_by`"))
    return found


def _unknown_hint(decision: Decision) -> str:
    """What to change in a test whose decision guardrails cannot know."""
    unknown = [step for step in decision.steps if step.outcome == "unknown"]
    if any(step.stage == "requested boundary" for step in unknown):
        return ("deploy the boundary policy to that account (`permission_boundaries.NAME.deploy_to`), or test an "
                "account where it is deployed")
    if any(step.stage == "documented exception" for step in unknown):
        return ("AWS documents that this request needs no permission but not whether the Deny that applies stops it; "
                "test a request the documentation settles")
    if any("outside the organization" in step.detail and step.stage in ("identity", "SCPs") for step in unknown):
        return ("the decision depends on the policies of a principal outside the organization, which the plan does not "
                "hold; test what the plan decides (a trust policy, a resource policy or an RCP that denies)")
    if any(step.outcome == "unknown" and "resource policy" in step.stage for step in decision.steps):
        return ("the decision depends on the policy of a resource guardrails does not deploy, in another account or "
                "outside the organization; test a resource of the plan (manifest `resource_policies`) or one in the "
                "principal's own account")
    return ("the decision depends on an AWS managed policy whose document guardrails does not carry; test an action "
            "another policy decides")
