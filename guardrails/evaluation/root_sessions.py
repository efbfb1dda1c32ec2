"""Centralized root access as a principal: ``root-session/TASK`` is an ``sts:AssumeRoot`` session in a member account.

An AssumeRoot session acts as the member account's root user, scoped by the one AWS managed task policy named in
the call (TaskPolicyArn, "the identity based policy that scopes the session to the privileged tasks",
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html). The five task policies are reference
data in ``guardrails/data/root_task_policies/``, read by :mod:`guardrails.iam.root_tasks`. All five hold only
Deny statements, so the session keeps the root user's implicit access minus those Denies, and minus the SCPs and
RCPs of the account: the engine applies the task policy's Denies and never asks it for an Allow
(``PolicySet.task_policy``); treating it as an ordinary session policy, which must allow too, would deny even the
task itself.

What the session looks like to policies (PROVENANCE.yaml ``session``): ``aws:AssumedRoot`` true, ``aws:PrincipalArn``
the member account's root ARN, no MFA (``aws:MultiFactorAuthPresent`` false), temporary credentials
(``aws:TokenIssueTime``), at most 900 seconds.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from guardrails.evaluation.engine import Caller, Policy
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.arns import root_arn
from guardrails.iam.root_tasks import DATA_DIR as DATA_DIR  # re-exported: tests read the data directory
from guardrails.iam.root_tasks import provenance, stored_document, task_names

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account

PRINCIPAL = "root-session"
ASSUME_ROOT_URL = "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html"


def max_seconds() -> int:
    return int(provenance()["session"]["duration_seconds"]["max"])


def _entry(name: str) -> dict[str, Any]:
    entries = {str(e["name"]): e for e in provenance()["policies"]}
    if name not in entries or name not in task_names():
        raise EvaluationError(f"unknown root task policy {name!r}: an sts:AssumeRoot session is scoped by one of "
                              f"{', '.join(task_names())} (write root-session/NAME; {ASSUME_ROOT_URL})")
    return entries[name]


@cache
def task_document(name: str) -> dict[str, Any]:
    """The stored document of a task policy (AWS's default version)."""
    return stored_document(str(_entry(name)["file"]))


def task_policy(name: str) -> Policy:
    """The task policy as the engine applies it: its Denies only (``PolicySet.task_policy``)."""
    entry = _entry(name)
    return Policy(f"root task policy {name}", "session", task_document(name),
                  f"AWS managed policy {entry['arn']} {entry['version_id']} (reference data, {entry['url']})")


def caller(partition: str, account: Account) -> Caller:
    """The session: the member account's root principal (CloudTrail records it as type Root, its ARN the root's)."""
    if account.management:
        # AssumeRoot's TargetPrincipal is a member account; the management account's root user is not reachable so.
        raise EvaluationError(f"{account.name} is the management account: sts:AssumeRoot opens sessions in member "
                              f"accounts only (TargetPrincipal, {ASSUME_ROOT_URL}); test its root user as `root`")
    account_root = root_arn(partition, account.id)
    return Caller("root", account_root, account.id, account_root)


def note(name: str, account: Account) -> tuple[str, str]:
    """What explain shows first: the session, its task policy and how long it lasts."""
    return ("session", f"sts:AssumeRoot session in {account.name} scoped by the task policy {name} (at most "
            f"{max_seconds()} s): the root user's access minus the task policy's Denies, then SCPs and RCPs")


def refuse_plain_root(given: dict[str, tuple[str, ...]]) -> None:
    """``root`` with aws:AssumedRoot in the context would be the full root user: an AssumeRoot session is not."""
    if any(key.lower() == "aws:assumedroot" for key in given):
        raise EvaluationError("aws:AssumedRoot is set only for sts:AssumeRoot sessions, which are limited by their "
                              "task policy: write the principal as root-session/NAME (one of "
                              f"{', '.join(task_names())}) instead of root with --context aws:AssumedRoot")
