"""Risk analysis of the compiled policies: privilege escalation, credentials exposure, data exfiltration and
resource exposure.

The rules are data (``guardrails/data/risks.yaml``); the modules below apply them with pure functions, and this
module gathers the names callers use:

* :mod:`~guardrails.policies.risk_rules` — the rules as values (:func:`risk_rules`, :func:`known_risks`) and
  the concrete actions each concerns (:func:`rule_actions`);
* :mod:`~guardrails.policies.risk_findings` — :func:`analyze`: one identity policy → :class:`RiskFinding` per
  (rule, Allow statement), each either *mitigated* (made safe by its conditions, its resources, or a Deny in the
  same document) or not; :func:`analyze_resource_policy`: the same rules on a resource policy, judged by its
  principals (:mod:`~guardrails.policies.risk_grantees`). Each distinct document is analysed once per process;
* :mod:`~guardrails.policies.risk_mitigation` — :func:`mitigation_reason`, the one judge of a mitigated grant
  (the build and ``guardrails diff``), :func:`mitigation_hint`, :func:`service_wide`;
* :mod:`~guardrails.policies.risk_plan` — :func:`analyze_plan`: every local managed policy and inline role policy
  of every baseline class, every permission set's inline policy and every resource policy → :class:`PlanRisk`;
* :mod:`~guardrails.policies.risk_acceptance` — :func:`unaccepted` splits unmitigated findings into errors,
  declared (``accept_risks``) and declared-but-past-review; :func:`risk_diagnostics` / :func:`summary_lines` —
  GR315/GR321 diagnostics and build-summary lines.

Actions are expanded against the pinned IAM database, so ``iam:*``, ``iam:Put*`` and NotAction statements count
as granting what they match.
"""

from __future__ import annotations

from guardrails.policies.risk_acceptance import (
    AcceptedRisk,
    declaration_diagnostics,
    risk_diagnostics,
    summary_lines,
    unaccepted,
    unused_acceptances,
)
from guardrails.policies.risk_findings import RiskFinding, analyze, analyze_resource_policy
from guardrails.policies.risk_mitigation import (
    POSITIVE_OPERATORS,
    Clause,
    mitigation_hint,
    mitigation_reason,
    service_wide,
    statement_mitigation,
)
from guardrails.policies.risk_plan import PlanRisk, analyze_plan, assigned_accounts, aws_managed_in_use, declared_rules
from guardrails.policies.risk_rules import (
    CATEGORIES,
    PASS_ROLE,
    Mitigations,
    RiskRule,
    ServicePath,
    concrete_actions,
    known_risks,
    load_rules,
    risk_rules,
    rule_actions,
)

__all__ = [
    "CATEGORIES", "PASS_ROLE", "POSITIVE_OPERATORS", "AcceptedRisk", "Clause", "Mitigations", "PlanRisk",
    "RiskFinding", "RiskRule", "ServicePath", "analyze", "analyze_plan", "analyze_resource_policy",
    "assigned_accounts", "aws_managed_in_use", "concrete_actions", "declaration_diagnostics", "declared_rules",
    "known_risks", "load_rules", "mitigation_hint", "mitigation_reason", "risk_diagnostics", "risk_rules",
    "rule_actions", "service_wide", "statement_mitigation", "summary_lines", "unaccepted", "unused_acceptances",
]
