"""Lockout safety: proof, with the evaluator, that the guardrails cannot lock the organization out.

Run on every build (``guardrails.pipeline.compile_blueprint``) against the emitted policy tree. Five checks:

- **break-glass**: in every member account, no Deny statement of the SCPs and RCPs on the account's path applies to
  the break-glass role for *any* request — any action of the pinned IAM database, in any context the statement's
  conditions can be given — except the denials declared intended (the catalog's ``locks_break_glass``, the
  blueprint's ``organization.intended_denials`` for catalog guardrails, an SCP's ``intended_denials``);
- **break-glass-entry**: the break-glass users can assume the break-glass role in every account;
- **deployment**: the deployment principals (``deployment_principals``, the deployment role, the password-policy
  function's role) can perform every action that deploying the emitted baseline needs
  (``guardrails/data/deployment_actions.yaml``) — with their real identity policies and boundary where guardrails
  deploys the role, as administrators where AWS creates it — and the management deployer can assume the
  deployment role in every member account;
- **mfa-enrollment**: IAM users under MFA enforcement can enroll a device without MFA (identity policies, SCPs
  and RCPs considered);
- **quarantine** (when a quarantine SCP is given): attached to an account, it still lets break-glass and the
  bootstrap role in, for any request.

"Any request" is exhaustive over actions: each Deny statement's Action/NotAction is expanded once against the
database (``universe``), and its actions are split into classes that the statement and the engine cannot tell
apart (region rule, resource types, documented special cases), so one search per class decides each action. The
search builds the requests from the statement itself: the resources the action authorizes that the statement can
name, and request contexts from its own conditions — for each key the adversary may set, every value the policy
names, a value outside them (the negation of what it requires) and the key absent unless AWS always sends it.
The statement must apply to the request and the real engine (:func:`guardrails.evaluation.engine.evaluate`) must
deny it by that statement; the finding lists every action so denied, with the first request found.

Keys that describe the principal (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID``,
``aws:PrincipalType``, ``aws:PrincipalTag/…``, ``aws:userid`` …) or the resource's account always come from the
real request; so does the MFA state of the principal (the break-glass role is assumed with MFA, deployment roles
and the users that enroll have none). ``aws:SecureTransport`` is the adversary's for "any request" (S3 answers
plain HTTP), not for the requests a principal must be able to make (SDKs sign over TLS). Organization structure
is cached per distinct policy path, so 1,000 accounts in a few OUs cost about as much as a dozen; the proof
counts the (action, path, class, context) combinations it decided (``coverage``).

The modules, bottom up: ``universe`` (the actions, statements' action sets and classes), ``facts`` (keys, outside
values, bundled data), ``statements`` (Deny statements, whether they fit or apply to a request, pruned policy sets
for the engine), ``findings`` (what was found, merged across accounts), ``coverage``, ``paths`` (accounts grouped
by policy path), ``probes`` (the requests and their resources), ``principals`` (who the proof is about),
``contexts`` (the adversary's request contexts), ``search`` (the exhaustive search, with the engine), one module
per check (``break_glass``, ``deployment``, ``mfa``), ``prover`` (the checks in order) and ``report`` (GR403
diagnostics).
"""

from guardrails.evaluation.lockout.break_glass import Quarantine
from guardrails.evaluation.lockout.coverage import Coverage
from guardrails.evaluation.lockout.facts import catalog_intended_actions, deployment_actions
from guardrails.evaluation.lockout.findings import CHECK_ORDER, Check, LockoutFinding
from guardrails.evaluation.lockout.prover import Proof, prove, prove_no_lockout
from guardrails.evaluation.lockout.report import lockout_diagnostics
from guardrails.evaluation.lockout.universe import universe

__all__ = [
    "CHECK_ORDER",
    "Check",
    "Coverage",
    "LockoutFinding",
    "Proof",
    "Quarantine",
    "catalog_intended_actions",
    "deployment_actions",
    "lockout_diagnostics",
    "prove",
    "prove_no_lockout",
    "universe",
]
