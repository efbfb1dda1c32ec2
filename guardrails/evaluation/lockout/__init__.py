"""Lockout safety: proof, with the evaluator, that the guardrails cannot lock the organization out.

Run on every build (``guardrails.pipeline.compile_blueprint``) against the emitted policy tree. Five checks:

- **break-glass**: in every account, no Deny statement of the SCPs and RCPs on the account's path applies to the
  break-glass role for *any* request, except the denials the blueprint declares intended (the catalog's
  ``locks_break_glass``, an SCP's ``intended_denials``);
- **break-glass-entry**: the break-glass users can assume the break-glass role in every account;
- **deployment**: the deployment principals (``deployment_principals``, the deployment role, the password-policy
  function's role) can perform every action that deploying the emitted baseline needs
  (``guardrails/data/deployment_actions.yaml``), and the management deployer can assume the deployment role in
  every member account;
- **mfa-enrollment**: IAM users under MFA enforcement can enroll a device without MFA (identity policies, SCPs
  and RCPs considered);
- **quarantine** (when a quarantine SCP is given): attached to an account, it still lets break-glass and the
  bootstrap role in.

"Any request" is not enumerated (20,000 actions × contexts is slow and still incomplete). Each Deny statement
is asked instead whether it can apply to the principal: candidate actions come from its ``Action`` element
(expanded against the IAM action database, a few per pattern) or, for ``NotAction``, from a fixed set of
representative actions of different services outside it; the resource is the statement's own resource pattern
made concrete in the account; request contexts are built from the statement's own conditions — for each
condition key every value the policy names (wildcards filled in), a value outside them, and the key absent —
and every combination is evaluated by the real engine (:func:`guardrails.evaluation.engine.evaluate`). A
statement that decides one of those requests is a finding, with the request that proves it.

Keys that describe the principal (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID``,
``aws:PrincipalType``, ``aws:PrincipalTag/…``, ``aws:userid`` …) or the resource's account, and
``aws:SecureTransport`` (every AWS client signs over TLS), always come from the real request, never from the
adversary; so does the MFA state of the principal (the break-glass role is assumed with MFA, deployment roles
and the users that enroll have none). Only SCPs and RCPs can deny a role probe: its identity is taken to be
administrator access. Organization structure is cached per distinct policy path, so 1,000 accounts in a few
OUs cost about as much as a dozen.

The modules, bottom up: ``facts`` (keys, samples, bundled data), ``statements`` (Deny statements and whether
they fit a request), ``findings`` (what was found, merged across accounts), ``paths`` (accounts grouped by
policy path), ``probes`` (the requests), ``principals`` (who the proof is about), ``contexts`` (the adversary's
request contexts), ``search`` (the witness search, with the engine), one module per check (``break_glass``,
``deployment``, ``mfa``), ``prover`` (the checks in order) and ``report`` (GR403 diagnostics).
"""

from guardrails.evaluation.lockout.break_glass import Quarantine
from guardrails.evaluation.lockout.facts import (
    REPRESENTATIVE_ACTIONS,
    catalog_intended_actions,
    deployment_actions,
)
from guardrails.evaluation.lockout.findings import CHECK_ORDER, Check, LockoutFinding
from guardrails.evaluation.lockout.prover import prove_no_lockout
from guardrails.evaluation.lockout.report import lockout_diagnostics

__all__ = [
    "CHECK_ORDER",
    "REPRESENTATIVE_ACTIONS",
    "Check",
    "LockoutFinding",
    "Quarantine",
    "catalog_intended_actions",
    "deployment_actions",
    "lockout_diagnostics",
    "prove_no_lockout",
]
