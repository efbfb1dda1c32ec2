"""What the lockout proof takes as given: which request keys the adversary may choose, the sample sizes, the
representative actions, MFA enrollment, and the bundled data (deployment actions, catalog markers)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from guardrails.evaluation.engine import Policy

# Keys whose value is a property of the principal or of the resource's account: taken from the real request.
PRINCIPAL_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths", "aws:principaltype",
    "aws:principalisawsservice", "aws:principalservicename", "aws:principalservicenameslist", "aws:userid",
    "aws:username", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcearn",
    "aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths",
    # Every AWS SDK, the CLI and the console sign over TLS: a TLS-only Deny never locks anyone out.
    "aws:securetransport",
})
PRINCIPAL_PREFIXES = ("aws:principaltag/",)
RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})
MFA_KEYS = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})
# The requests that must be allowed (deployment, MFA enrollment, break-glass entry) are the principal's own:
# its keys, its MFA state and the region it deploys to are not the adversary's to choose.
OWN_REQUEST_KEYS = PRINCIPAL_KEYS | MFA_KEYS | {"aws:requestedregion"}
# AWS puts these in every request: the adversary may pick their value, not their absence.
ALWAYS_PRESENT = frozenset({"aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:securetransport",
                            "aws:viaawsservice", "aws:principalisawsservice"})

# Candidates for a statement with Action "*" or NotAction: common actions of many services, regional and global.
REPRESENTATIVE_ACTIONS = (
    "ec2:RunInstances", "ec2:DescribeInstances", "s3:GetObject", "s3:PutObject", "lambda:InvokeFunction",
    "cloudformation:CreateStack", "logs:PutLogEvents", "kms:Decrypt", "dynamodb:GetItem", "rds:DescribeDBInstances",
    "ssm:StartSession", "cloudtrail:StopLogging", "guardduty:GetFindings", "securityhub:GetFindings",
    "config:DescribeConfigRules", "sso:ListInstances", "sts:AssumeRole", "sts:GetCallerIdentity", "iam:CreateRole",
    "iam:PassRole", "iam:CreateUser", "organizations:DescribeOrganization", "account:GetAlternateContact",
    "support:CreateCase", "route53:ChangeResourceRecordSets", "cloudfront:CreateInvalidation", "ce:GetCostAndUsage",
    "health:DescribeEvents",
)
# Regions tried, in order, as "a value outside the policy's" for region keys.
OUTSIDE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1")
OUTSIDE_IPS = ("203.0.113.10", "198.51.100.10", "192.0.2.10", "2001:db8::10")
FAR_PAST, FAR_FUTURE = "1970-01-02T00:00:00Z", "2999-12-31T00:00:00Z"
OUTSIDE = "guardrails-outside-value"
ADVERSARY_ACCOUNT = "999999999999"

PER_PATTERN = 3  # actions sampled from each wildcard Action pattern
MAX_ACTIONS = 12  # candidate actions per statement
MAX_CONTEXTS = 256  # request contexts per statement and action (combinations of condition-key candidates)

# What a user without MFA must be able to do to enroll a device (the IAM User Guide's self-manage-MFA example,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html).
# sts:GetSessionToken, which turns the device into an MFA session, is not among them on purpose: it needs no
# permission and no policy can deny it ("You cannot use policies to control authentication operations",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html).
MFA_ENROLLMENT = (
    ("iam:CreateVirtualMFADevice", "arn:{partition}:iam::{account}:mfa/{user}"),
    ("iam:EnableMFADevice", "{user_arn}"),
    ("iam:ListMFADevices", "{user_arn}"),
    ("iam:GetUser", "{user_arn}"),
)
# How a user without MFA signs requests: long-term access keys (key absent) or a console session (false).
MFA_VARIANTS: tuple[dict[str, tuple[str, ...]], ...] = ({}, {"aws:MultiFactorAuthPresent": ("false",)})
BREAK_GLASS_MFA: dict[str, tuple[str, ...]] = {"aws:MultiFactorAuthPresent": ("true",),
                                               "aws:MultiFactorAuthAge": ("60",)}

# Only SCPs and RCPs may deny a role probe: its own permissions are taken to be everything.
ADMINISTRATOR = Policy("administrator access (assumed for the proof)", "identity",
                       {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                       "guardrails lockout proof")


@cache
def deployment_actions() -> dict[str, Any]:
    """``guardrails/data/deployment_actions.yaml``."""
    return yaml.safe_load(resources.files("guardrails.data").joinpath("deployment_actions.yaml").read_text("utf-8"))


@cache
def catalog_intended_actions(guardrail_id: str) -> tuple[str, ...]:
    """Actions a catalog guardrail denies to everyone by design (``locks_break_glass: {intended: true}``), read
    from the raw catalog file (the loader does not carry the key)."""
    entry = resources.files("guardrails.data").joinpath("catalog", f"{guardrail_id}.yaml")
    if not entry.is_file():
        return ()
    raw = yaml.safe_load(entry.read_text("utf-8")) or {}
    marker = raw.get("locks_break_glass")
    if not (isinstance(marker, Mapping) and marker.get("intended") is True):
        return ()
    return tuple(a for s in raw.get("statements", []) for a in s.get("actions", []) if "$" not in a)
