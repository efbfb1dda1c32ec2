"""What the lockout proof takes as given: which request keys the adversary may choose, the values it tries
outside a policy's, MFA enrollment, and the bundled data (deployment actions, catalog markers)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from guardrails.data.fast_yaml import safe_load
from guardrails.evaluation.engine import Policy

# Keys whose value is a property of the principal or of the resource's account: taken from the real request.
PRINCIPAL_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths", "aws:principaltype",
    "aws:principalisawsservice", "aws:principalservicename", "aws:principalservicenameslist", "aws:userid",
    "aws:username", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcearn",
    "aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths",
})
PRINCIPAL_PREFIXES = ("aws:principaltag/",)
RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})
MFA_KEYS = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})
# The requests that must be allowed (deployment, MFA enrollment, break-glass entry) are the principal's own:
# its keys, its MFA state, the region it deploys to and its transport are not the adversary's to choose. Those
# requests come from the AWS SDKs, the CLI and the console, which sign over TLS. For "any request" of the
# break-glass role (and the quarantine check) aws:SecureTransport is the adversary's: S3 answers plain HTTP
# ("Amazon S3 allows both HTTP and HTTPS requests",
# https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule) and AWS always sends the key
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport).
OWN_REQUEST_KEYS = PRINCIPAL_KEYS | MFA_KEYS | {"aws:requestedregion", "aws:securetransport"}
# AWS puts these in every request: the adversary may pick their value, not their absence.
ALWAYS_PRESENT = frozenset({"aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:securetransport",
                            "aws:viaawsservice", "aws:principalisawsservice"})

# Regions tried, in order, as "a value outside the policy's" for region keys (the first the condition's values
# do not name).
OUTSIDE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1",
                   "ap-northeast-1", "ca-central-1")
# Addresses tried when none next to the condition's own ranges is outside them all (documentation ranges).
OUTSIDE_IPS = ("203.0.113.10", "198.51.100.10", "192.0.2.10", "2001:db8::10")
FAR_PAST, FAR_FUTURE = "1970-01-02T00:00:00Z", "2999-12-31T00:00:00Z"
OUTSIDE = "guardrails-outside-value"
ADVERSARY_ACCOUNT = "999999999999"

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

# The identity of a role probe that is not in the emitted tree (the break-glass role's "any request", the roles AWS
# creates: OrganizationAccountAccessRole, stacksets-exec-*, the management deployer): only SCPs and RCPs may deny it.
ADMINISTRATOR = Policy("administrator access (assumed for the proof)", "identity",
                       {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                       "guardrails lockout proof")


@cache
def deployment_actions() -> dict[str, Any]:
    """``guardrails/data/deployment_actions.yaml``."""
    return safe_load(resources.files("guardrails.data").joinpath("deployment_actions.yaml").read_text("utf-8"))


@cache
def _catalog_entry(guardrail_id: str) -> Mapping[str, Any]:
    """The raw catalog file of a guardrail (read here: the evaluation stage does not import the model's catalog
    loader); {} when unknown."""
    entry = resources.files("guardrails.data").joinpath("catalog", f"{guardrail_id}.yaml")
    if not entry.is_file():
        return {}
    raw = safe_load(entry.read_text("utf-8")) or {}
    return raw if isinstance(raw, Mapping) else {}


def catalog_marked(guardrail_id: str) -> bool:
    """The catalog itself says the guardrail denies break-glass by design (``locks_break_glass: {intended: true}``)."""
    marker = _catalog_entry(guardrail_id).get("locks_break_glass")
    return isinstance(marker, Mapping) and marker.get("intended") is True


def catalog_sids(guardrail_id: str) -> tuple[str, ...]:
    """Sids of the guardrail's statements, as the emitted policies carry them."""
    return tuple(str(s["sid"]) for s in _catalog_entry(guardrail_id).get("statements", []) if s.get("sid"))


@cache
def catalog_intended_actions(guardrail_id: str) -> tuple[str, ...]:
    """Actions a catalog guardrail denies to everyone by design (``locks_break_glass: {intended: true}``)."""
    if not catalog_marked(guardrail_id):
        return ()
    raw = _catalog_entry(guardrail_id)
    return tuple(a for s in raw.get("statements", []) for a in s.get("actions", []) if "$" not in a)
