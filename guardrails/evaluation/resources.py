"""Resource-based policies of the plan in a decision: the bucket, KMS key, SNS topic and SQS queue policies the
manifest lists under ``resource_policies``.

The engine combines them as AWS does
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
within one account the resource policy or the identity policies may allow (an explicit Deny in either wins);
across accounts both must. A KMS key policy must allow in any case — IAM policies only count for a key whose
policy allows the account (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
This module decides which policy, if any, protects a request's resource:

- a bucket: its ARN and every object ARN under it (``bucket/…``); the bucket's account is the one the plan
  deploys it in, whatever the caller's account;
- a topic or a queue: the manifest's ARN with ``${account_id}`` and ``${region}`` expanded for each account and
  region it is deployed in;
- a KMS key: key ids are AWS's choice (the manifest says ``key/*``), so a request names one of the plan's keys
  with the manifest key as key id: ``arn:aws:kms:eu-west-1:200000000001:key/log-archive-key``.

A resource of those kinds the plan has no policy for (another bucket, a key guardrails does not create) is taken
to have none in the caller's own account — identity policies decide, and a KMS key is given AWS's default key
policy, which lets IAM policies decide (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
In another account its policy is what decides, and guardrails does not have it: the decision is ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardrails.evaluation.engine import Policy
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import resource_matches
from guardrails.iam.arns import arn_account, parse_arn, root_arn
from guardrails.iam.manifest import ResourcePolicyEntry

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account, Organization

# Kinds of resource whose policies guardrails models, with what AWS calls the policy and the resource.
POLICY_NAMES = {"s3-bucket": "bucket policy", "kms-key": "key policy", "sns-topic": "topic policy",
                "sqs-queue": "queue policy"}
_NOUNS = {"s3-bucket": "bucket", "kms-key": "KMS key", "sns-topic": "SNS topic", "sqs-queue": "SQS queue"}
DEFAULT_KEY_POLICY_URL = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"


@dataclass(frozen=True)
class ResourceSide:
    """What the resource's own policy contributes: the policy, or why it is unknown (or neither: no policy)."""

    policy: Policy | None = None
    account_id: str | None = None  # the resource's account when the plan places it (bucket ARNs name none)
    key_policy: bool = False  # the policy is a KMS key policy: it must allow, in the key's account too
    unknown: str = ""


@dataclass(frozen=True)
class Placement:
    """One resource policy as deployed in one account and region, its resource ARN expanded."""

    entry: ResourcePolicyEntry
    account: Account
    region: str
    resource: str

    def protects(self, resource: str) -> bool:
        kind = self.entry.kind
        if kind == "s3-bucket":
            return resource == self.resource or resource.startswith(self.resource + "/")
        if kind == "kms-key" and self.resource.endswith(":key/*"):
            return resource == self.resource[:-1] + self.entry.key
        return resource_matches(self.resource, resource, {})


def kind_of(resource: str) -> str | None:
    """``s3-bucket``, ``kms-key``, ``sns-topic`` or ``sqs-queue`` for an ARN of such a resource (or an object in a
    bucket), else None."""
    parsed = parse_arn(resource)
    if parsed is None or not parsed.resource:
        return None
    if parsed.service == "s3" and not parsed.region and not parsed.account:
        return "s3-bucket"
    if parsed.service == "kms" and parsed.resource.startswith("key/"):
        return "kms-key"
    if parsed.service in ("sns", "sqs") and parsed.account and "/" not in parsed.resource:
        return "sns-topic" if parsed.service == "sns" else "sqs-queue"
    return None


def placements(org: Organization) -> tuple[Placement, ...]:
    """Every (resource policy, account, region) of the manifest."""
    found: list[Placement] = []
    for entry in org.resource_policies:
        for name in entry.accounts:
            account = org.accounts.get(name)
            if account is None:
                raise EvaluationError(f"{org.manifest_name}: resource policy {entry.key} is deployed in account "
                                      f"{name!r}, which the manifest does not list: rebuild the output")
            for region in entry.regions or (org.home_region,):
                expanded = entry.resource.replace("${account_id}", account.id).replace("${region}", region)
                found.append(Placement(entry, account, region, expanded.replace("${partition}", org.partition)))
    return tuple(found)


def resolve_resource(org: Organization, resource: str, caller_account: str | None, stated: str | None, *,
                     default_account: str | None = None) -> ResourceSide:
    """The policy protecting ``resource`` for a caller of ``caller_account`` (None: outside any account);
    ``stated`` is the request's ``aws:ResourceAccount``, if given; ``default_account`` the account of a resource whose
    ARN names none (S3 buckets) when neither says (default: the caller's)."""
    kind = kind_of(resource)
    if kind is None:
        return ResourceSide()
    for placed in org.resource_placements:
        if placed.entry.kind != kind or not placed.protects(resource):
            continue
        if stated is not None and stated != placed.account.id:
            raise EvaluationError(f"{resource} is in account {placed.account.name} ({placed.entry.key}); the "
                                  f"request context says aws:ResourceAccount {stated}")
        document = org.document(placed.entry.file, placed.account, placed.region)
        policy = Policy(f"{POLICY_NAMES[kind]} {placed.entry.key}", "resource", document, placed.entry.file)
        return ResourceSide(policy, placed.account.id, kind == "kms-key")
    if kind == "kms-key":
        _refuse_misplaced_key(org, resource)
    account_id = arn_account(resource) or stated or default_account or caller_account
    target = org.account_by_id(account_id) if account_id else None
    if target is None:
        return ResourceSide()  # outside the organization: the caller (Organization.prepare) says why it is unknown
    if account_id != caller_account:
        return ResourceSide(unknown=f"{resource} is a {_NOUNS[kind]} in account {target.name} that guardrails "
                            f"deploys no {POLICY_NAMES[kind]} for: what its {POLICY_NAMES[kind]} grants is not "
                            "known offline")
    if kind == "kms-key":
        return ResourceSide(default_key_policy(org, target), key_policy=True)
    return ResourceSide()


def default_key_policy(org: Organization, account: Account) -> Policy:
    """AWS's default key policy: the account may use the key as its IAM policies allow."""
    document = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": root_arn(org.partition, account.id)}, "Action": "kms:*", "Resource": "*"}]}
    return Policy("default key policy", "resource", document,
                  f"AWS's default key policy, assumed: guardrails deploys no policy for this key "
                  f"({DEFAULT_KEY_POLICY_URL})")


def _refuse_misplaced_key(org: Organization, resource: str) -> None:
    """A key id that names one of the plan's keys in an account or region where it is not deployed."""
    key_id = resource.split(":key/", 1)[-1]
    entry = next((e for e in org.resource_policies if e.kind == "kms-key" and e.key == key_id), None)
    if entry is not None:
        raise EvaluationError(f"{resource}: the KMS key {key_id} is deployed in {', '.join(entry.accounts)} "
                              f"({', '.join(entry.regions)}), not in that account and region")
