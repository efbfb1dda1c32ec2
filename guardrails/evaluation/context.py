"""The request context AWS fills in for a caller, before the keys a test or the user gives (which win).

Keys follow the IAM User Guide's "AWS global condition context keys" (availability per key):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from guardrails.data.fast_yaml import safe_load
from guardrails.evaluation.engine import Caller
from guardrails.iam.arns import arn_region

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account, Organization, PrincipalSpec

Context = dict[str, tuple[str, ...]]
Origin = tuple[tuple[str, str, str], ...]  # (lowercased key, key as written, "default" or "given")


@cache
def us_east_1_services() -> frozenset[str]:
    """Service prefixes whose requests carry aws:RequestedRegion us-east-1 (guardrails/data/global_services.yaml)."""
    raw = safe_load(resources.files("guardrails.data").joinpath("global_services.yaml").read_text("utf-8"))
    return frozenset(raw["us_east_1_services"])


# The keys whose value is the time of the request; the rest of the defaults depend on who asks where.
_NOW = ("aws:tokenissuetime", "aws:currenttime", "aws:epochtime")
_PENDING = ("",)  # a region or time key's value in a cached template, set for each request


def request_context(org: Organization, caller: Caller, spec: PrincipalSpec, account: Account, action: str,
                    resource: str, resource_account: str, given: Mapping[str, tuple[str, ...]]
                    ) -> tuple[Context, Origin]:
    """What AWS puts into the request context for this caller, then the context the user gave (which wins)."""
    # Every request of a principal in an account fills in the same defaults but the region and the time: built once
    # per (caller, account, resource account), copied per request (a key keeps its place when its value is set).
    template = org.memo(("context", caller, spec, account.name, resource_account),
                        lambda: defaults(org, caller, spec, account, resource_account))
    return fill(template, org.home_region, action, resource, given)


def fill(template: tuple[Context, Origin], home_region: str, action: str, resource: str,
         given: Mapping[str, tuple[str, ...]]) -> tuple[Context, Origin]:
    """One request's context from the defaults of its caller (:func:`defaults`): its region, its time, then the
    context the request gives."""
    context = timed(template[0], requested_region(home_region, action, resource), clock())
    if not given:
        return context, template[1]
    origin = {entry[0]: entry for entry in template[1]}
    for key, values in given.items():
        context[key.lower()] = values
        origin[key.lower()] = (key.lower(), key, "given")
    return context, tuple(origin[k] for k in sorted(origin))


def requested_region(home_region: str, action: str, resource: str) -> str:
    """aws:RequestedRegion of a request: the resource's region, else us-east-1 for the global services that AWS
    serves from there, else the organization's home region."""
    return arn_region(resource) or (
        "us-east-1" if action.split(":", 1)[0].lower() in us_east_1_services() else home_region)


def clock() -> tuple[str, str]:
    """aws:CurrentTime and aws:EpochTime of a request made now."""
    return _clock(int(datetime.now(UTC).timestamp()))


def timed(defaults_: Context, region: str, now: tuple[str, str]) -> Context:
    """A copy of a caller's defaults with the region and the time (``now``: :func:`clock`) set in their places."""
    context = dict(defaults_)
    context["aws:requestedregion"] = (region,)
    iso, epoch = now
    for key in _NOW:
        if key in context:
            context[key] = (epoch,) if key == "aws:epochtime" else (iso,)
    return context


@lru_cache(maxsize=4)
def _clock(second: int) -> tuple[str, str]:
    """aws:CurrentTime and aws:EpochTime of a request made in this second (both have second resolution)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), str(second)


def defaults(org: Organization, caller: Caller, spec: PrincipalSpec, account: Account, resource_account: str
             ) -> tuple[Context, Origin]:
    """The request context AWS fills in, region and time keys pending, and where each key comes from."""
    defaults: dict[str, str | tuple[str, ...]] = {}
    if caller.kind in ("user", "role", "root"):
        own = caller.account or account.id
        name = spec.name if spec.kind != "external" else caller.principal_arn.rsplit("/", 1)[-1]
        defaults["aws:PrincipalArn"] = caller.principal_arn
        defaults["aws:PrincipalAccount"] = own
        if org.account_by_id(own) is not None:
            # Left out for an account outside the organization: its organization, if any, is not this one.
            defaults["aws:PrincipalOrgID"] = org.org_id
        defaults["aws:PrincipalIsAWSService"] = "false"
        defaults["aws:PrincipalType"] = {"user": "User", "role": "AssumedRole", "root": "Account"}[caller.kind]
        defaults["aws:userid"] = {"user": f"AIDAGUARDRAILS{name.upper()}", "root": own,
                                  "role": f"AROAGUARDRAILS{name.upper()}:guardrails"}[caller.kind]
    if spec.kind == "root-session":
        # An sts:AssumeRoot session: temporary credentials without MFA, marked by aws:AssumedRoot
        # (guardrails/data/root_task_policies/PROVENANCE.yaml, `session.request_context`).
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-assumedroot
        defaults["aws:AssumedRoot"] = "true"
        defaults["aws:MultiFactorAuthPresent"] = "false"
        defaults["aws:TokenIssueTime"] = _PENDING
    elif spec.kind == "permission-set":
        # An Identity Center session: the MFA of the sign-in is the identity source's, so the key is left out
        # unless the request says otherwise; the credentials are fresh (the session lasts session_duration).
        defaults["aws:TokenIssueTime"] = _PENDING
    elif caller.kind == "role":
        # Temporary credentials always carry the key; an IAM user's long-term access keys do not, and neither
        # does a web or SAML identity asking STS for a role (it holds no AWS credentials yet).
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent
        defaults["aws:MultiFactorAuthPresent"] = "false"
    if caller.kind == "user":
        defaults["aws:username"] = caller.principal_arn.rsplit("/", 1)[-1]
        if spec.kind == "user":
            for key, value in org.user(account, spec.name).tags:
                defaults[f"aws:PrincipalTag/{key}"] = value
    if spec.kind == "role":
        # A role session carries the role's tags as principal tags (session tags, which a test gives in its context,
        # override them): https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
        role = org.class_entry(account).role(spec.name)  # None: a role the plan does not deploy (its tags unknown)
        for key, value in role.tags if role is not None else ():
            defaults[f"aws:PrincipalTag/{key}"] = value
    if caller.kind == "service":
        defaults["aws:PrincipalIsAWSService"] = "true"
        defaults["aws:PrincipalServiceName"] = caller.service
    target = org.account_by_id(resource_account)
    defaults["aws:ResourceAccount"] = resource_account
    if target is not None:
        defaults["aws:ResourceOrgID"] = org.org_id
    defaults["aws:RequestedRegion"] = _PENDING
    defaults["aws:CurrentTime"] = _PENDING
    defaults["aws:EpochTime"] = _PENDING
    defaults["aws:SecureTransport"] = "true"
    defaults["aws:ViaAWSService"] = "false"
    lowered, origin = _spellings(tuple(defaults))
    return dict(zip(lowered, ((v,) if isinstance(v, str) else v for v in defaults.values()), strict=True)), origin


@lru_cache(maxsize=1024)
def _spellings(keys: tuple[str, ...]) -> tuple[tuple[str, ...], Origin]:
    """The keys lowercased, and their origin (every caller of a kind has the same keys: one origin for them all)."""
    origin = {key.lower(): (key.lower(), key, "default") for key in keys}
    return tuple(key.lower() for key in keys), tuple(origin[k] for k in sorted(origin))
