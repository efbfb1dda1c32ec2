"""Which policies apply to a request, read from the policy tree: the SCPs and RCPs at every level of an account's
path, the managed policies a role, user or group has attached (ours from the tree, AWS's from reference data), and
a role's inline policies and permissions boundary."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from guardrails.evaluation.engine import Policy
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.arns import aws_managed_policy_arn
from guardrails.iam.manifest import MANIFEST
from guardrails.policies import compare

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account, Organization

Levels = tuple[tuple[str, tuple[Policy, ...]], ...]

# AWS attaches FullAWSAccess to the root, every OU and every account unless someone detaches it; guardrails
# never detaches it, so every level of the SCP path allows everything that no Deny removes.
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
FULL_AWS_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# RCPFullAWSAccess likewise, at every level (it cannot be detached).
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
RCP_FULL_AWS_ACCESS = {"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
_DEFAULTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "scp": ("FullAWSAccess", FULL_AWS_ACCESS, "AWS managed, attached by default"),
    "rcp": ("RCPFullAWSAccess", RCP_FULL_AWS_ACCESS, "AWS managed, cannot be detached"),
}


def attached(org: Organization, kind: Literal["scp", "rcp"]) -> dict[str, tuple[Policy, ...]]:
    """The tree's SCPs or RCPs by target, documents parsed (``Organization.org_policies`` keeps the result, so
    each tree's are parsed once, not for every request)."""
    found: dict[str, list[Policy]] = {}
    for entry in org.manifest.org_policies(kind):
        if entry.file not in org.files:
            raise EvaluationError(f"{MANIFEST} names {entry.file}, which is not in the output")
        found.setdefault(entry.target, []).append(
            Policy(entry.name, kind, json.loads(org.files[entry.file]), entry.file, entry.target))
    return {target: tuple(policies) for target, policies in found.items()}


def levels(org: Organization, kind: Literal["scp", "rcp"], account: Account) -> Levels:
    """The SCPs or RCPs at every level of the account's path, root first, AWS's default policy included."""
    by_target = org.org_policies(kind)
    name, document, source = _DEFAULTS[kind]
    # A level is the same for every account below it: built once per target, not once per account.
    return tuple(org.memo((kind, "level", level), lambda level=level: (
        level, (Policy(name, kind, document, source, level), *by_target.get(level, ()))))
        for level in org.path_of(account))


def managed_policy(org: Organization, arn: str, account: Account) -> Policy | None:
    """A managed policy by ARN as attached in ``account``: ours from the tree, AWS's from reference data (None
    when guardrails has no data for it)."""
    entry = org.class_entry(account).managed_policy(arn)
    if entry is not None:
        return Policy(entry.name, "identity", org.document(entry.file, account), entry.file)
    if arn.startswith(aws_managed_policy_arn(org.partition, "")):
        name = arn.split(":policy/", 1)[1]
        if compare.is_stored(name):
            # The same in every account: one Policy, so what the engine keeps about it holds for every account.
            return org.memo(("aws-managed", name), lambda: Policy(
                f"AWS managed {name}", "identity", _aws_managed_document(name),
                f"AWS managed policy {name} (reference data)"))
        return None
    raise EvaluationError(f"{MANIFEST}: policy {arn} is attached in {account.name} but not emitted")


@cache
def _aws_managed_document(name: str) -> dict[str, Any]:
    """An AWS managed policy's stored document, read and parsed once per process (the evaluator only reads it;
    every request of a principal with one attached used to read the file again)."""
    return compare.policy_document(name)


def identity(org: Organization, account: Account, kind: str, name: str
             ) -> tuple[list[Policy], Policy | None, list[str]]:
    """Identity policies, boundary and unmodeled policy ARNs of a role, a user or a member of a group."""
    arns: list[str] = []
    inline: list[Policy] = []
    boundary = None
    if kind == "role":
        role = org.role(account, name)
        arns = list(role.policies)
        inline = [Policy(path.rsplit("/", 1)[-1], "identity", org.document(path, account), path)
                  for path in role.inline_policies]
        if role.boundary:
            found = managed_policy(org, role.boundary, account)
            if found is None:
                raise EvaluationError(f"the boundary {role.boundary} of role {name} has no document")
            boundary = Policy(found.name, "boundary", found.document, found.source)
    elif kind == "user":
        for group in org.user(account, name).groups:
            arns += org.group(account, group).policies
    elif kind == "group":
        arns = list(org.group(account, name).policies)
    policies: list[Policy] = list(inline)
    unmodeled: list[str] = []
    for arn in dict.fromkeys(arns):
        found = managed_policy(org, arn, account)
        if found is None:
            unmodeled.append(arn)
        else:
            policies.append(found)
    return policies, boundary, unmodeled
