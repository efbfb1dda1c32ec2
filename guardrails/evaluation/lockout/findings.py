"""Lockout findings: what a proof found, and the log that merges the findings of every account group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from guardrails.evaluation.engine import Decision, Request
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.statements import Deny
from guardrails.evaluation.organization import Account

Check = Literal["break-glass", "break-glass-entry", "deployment", "mfa-enrollment", "quarantine"]
CHECK_ORDER: tuple[Check, ...] = ("break-glass", "break-glass-entry", "deployment", "mfa-enrollment", "quarantine")


@dataclass(frozen=True)
class LockoutFinding:
    """A statement (or a missing allow) that denies a principal something it must be able to do."""

    check: Check
    principal: str  # "role/BreakGlass", "role/stacksets-exec-*", "user/alice"
    accounts: tuple[str, ...]
    policy: str  # the policy whose statement decided ("" when nothing decided but a missing allow)
    kind: str  # "scp", "rcp", "identity", "boundary", "resource"
    level: str  # SCPs/RCPs: where the policy is attached ("root", "ou:Workloads", "account:app-dev")
    sid: str
    index: int  # the statement's position in the policy; -1 for an implicit deny
    actions: tuple[str, ...]  # the denied actions (the first is the one the request below shows)
    resource: str  # the request's resource (${account_id} for the account's own id)
    context: tuple[tuple[str, tuple[str, ...] | None], ...]  # request keys the proof chose (None: absent)
    decision: str  # the evaluator's one-line summary

    @property
    def statement(self) -> str:
        return self.sid or (f"statement {self.index + 1}" if self.index >= 0 else "")

    def describe_policy(self) -> str:
        if not self.policy:
            return self.decision
        where = f" ({self.level})" if self.level else ""
        return f"{self.kind.upper() if self.kind in ('scp', 'rcp') else self.kind + ' policy'} " \
               f"{self.policy}{where}, statement {self.statement}"

    def describe_context(self) -> str:
        parts = [f"{key}={','.join(values)}" if values is not None else f"{key} absent"
                 for key, values in self.context]
        return ", ".join(parts)


class FindingLog:
    """Findings in the order they were found, one per (check, principal, statement), accounts and actions merged."""

    def __init__(self) -> None:
        self._raw: dict[tuple, tuple[LockoutFinding, list[str], list[str]]] = {}
        self._order: list[tuple] = []

    def record(self, check: Check, principal: str, accounts: Sequence[Account], representative: Account,
               request: Request, decision: Decision, chosen: Mapping[str, tuple[str, ...] | None], action: str,
               only: Deny | None = None) -> None:
        """One finding per deciding statement (or per missing allow), merged with what other groups found.

        ``representative``: the account the request was made in (its id is shown as ``${account_id}``)."""
        ids = {a.id for a in accounts} | {representative.id}
        # Policies compared by what names them: the engine may have been given a pruned copy (statements.Pruner).
        matches = [m for m in decision.deciding if only is None or (
            m.index == only.index and (m.policy.name, m.policy.kind, m.policy.level) ==
            (only.policy.name, only.policy.kind, only.policy.level))]
        if decision.outcome == "explicit-deny" and matches:
            rows = [(m.policy.name, m.policy.kind, m.policy.level, m.sid, m.index) for m in matches]
        else:
            step = next((s for s in reversed(decision.steps) if s.outcome in ("no-allow", "deny", "unknown")), None)
            rows = [("", step.stage if step else "", "", "", -1)]
        context = tuple(sorted((k, None if v is None else tuple(_normalize(x, ids) for x in v))
                               for k, v in chosen.items()))
        for policy, kind, level, sid, index in rows:
            self._add(LockoutFinding(check, principal, (), policy, kind, level, sid, index, (action,),
                                     _normalize(request.resource, ids), context, decision.summary), accounts)

    def unreadable(self, check: Check, principal: str, accounts: Sequence[Account], deny: Deny | None,
                   action: str, error: EvaluationError) -> None:
        """A policy the evaluator cannot read (NotPrincipal, a malformed condition) cannot be proven safe."""
        policy = deny.policy if deny else None
        self._add(LockoutFinding(check, principal, (), policy.name if policy else "", policy.kind if policy else "",
                                 policy.level if policy else "", str(deny.statement.get("Sid", "")) if deny else "",
                                 deny.index if deny else -1, (action,), "*", (),
                                 f"cannot be evaluated: {error}"), accounts)

    def extend(self, check: Check, principal: str, accounts: Sequence[Account], deny: Deny,
               actions: Sequence[str]) -> None:
        """More actions the statement denies the principal, found after the request :meth:`record` shows."""
        key = (check, principal, deny.policy.name, deny.index, "")
        if key not in self._raw:
            raise ValueError(f"{deny.where}: extend() needs a recorded finding first")
        _, names, known = self._raw[key]
        names.extend(a.name for a in accounts if a.name not in names)
        seen = set(known)
        known.extend(a for a in actions if a not in seen)

    def _add(self, finding: LockoutFinding, accounts: Sequence[Account]) -> None:
        key = (finding.check, finding.principal, finding.policy, finding.index,
               "" if finding.policy else finding.decision)
        if key not in self._raw:
            self._raw[key] = (finding, [], [])
            self._order.append(key)
        _, names, actions = self._raw[key]
        names.extend(a.name for a in accounts if a.name not in names)
        if finding.actions[0] not in actions:
            actions.append(finding.actions[0])

    def findings(self) -> list[LockoutFinding]:
        """Every finding, accounts sorted, the first denied action first; ordered by check, policy, statement."""
        out = []
        for key in self._order:
            finding, names, actions = self._raw[key]
            out.append(replace(finding, accounts=tuple(sorted(names)), actions=(actions[0], *sorted(actions[1:]))))
        return sorted(out, key=lambda f: (CHECK_ORDER.index(f.check), f.policy, f.index, f.principal, f.accounts))


def _normalize(text: str, account_ids: set[str]) -> str:
    for account_id in account_ids:
        text = text.replace(account_id, "${account_id}")
    return text
