"""Blueprint format v1, the `identity_center` section: permission sets and group assignments (docs/identity-center.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from guardrails.blueprint.schema_base import Placement, Region, Strict, bounded


PermissionSetName = Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,32}$")]
RelayState = bounded(r"^https://\S{1,232}$", r"^https://\S+$", 9, 240)  # "https://" and 1 to 232 more
# Identity store group ids: a UUID, optionally prefixed by 10 hex digits and a dash (the AWS::SSO::Assignment
# PrincipalId pattern).
IdentityStoreGroupId = Annotated[str, StringConstraints(
    pattern=r"^([0-9a-f]{10}-)?[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$")]
SsoTagText = Annotated[str, StringConstraints(max_length=128, pattern=r"^[A-Za-z0-9_+=,.@-]+$")]
_ISO_DURATION = re.compile(r"^PT(?:(\d{1,2})H)?(?:(\d{1,3})M)?$")


class FullAdminDeclaration(Strict):
    """A permission set declared to grant full administrator access (`*` on `*`), like break-glass: reviewed, owned."""

    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)] = Field(
        description="Why this permission set needs full access (at least 20 characters).")
    owner: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Who answers for it (team or person).")


class PermissionSet(Strict):
    """A permission set of IAM Identity Center, compiled from job functions; it becomes a role in every account it
    is assigned to (docs/identity-center.md)."""

    description: Annotated[str, StringConstraints(max_length=700, pattern=r"^[\t\n\r\x20-\x7e\xa1-\xff]*$")] = Field(
        "", description="Shown to users on the AWS access portal (at most 700 characters, Latin-1 only).")
    job_functions: list[str] = Field(
        default_factory=list, description="Job functions whose permissions the permission set grants; their AWS "
        "managed policies are attached as managed policies.")
    managed_policies: list[str] = Field(
        default_factory=list, description="Further AWS managed policies by name or path/name, e.g. "
        "`job-function/ViewOnlyAccess`.")
    policy: Literal["inline", "customer_managed"] = Field(
        "inline", description="`inline`: the job functions' statements become the permission set's inline policy "
        "(`${account_id}` → `${aws:PrincipalAccount}`, `${region}` → `${aws:RequestedRegion}`; at most 10,240 "
        "characters). `customer_managed`: reference each job function's managed policy (guardrails-<job> under "
        "/guardrails/), which must exist in every account the permission set is assigned to (checked).")
    boundary: str | None = Field(
        None, description="Permissions boundary: a `permission_boundaries` entry (referenced by name and path; it must "
        "exist in every assigned account, checked) or an AWS managed policy name.")
    session_duration: str = Field(
        "PT1H", description="How long a portal session in an account lasts, ISO-8601 (`PT1H` … `PT12H`, e.g. `PT4H`, "
        "`PT90M`).")
    relay_state: RelayState | None = Field(
        None, description="Console URL users land on after signing in (e.g. the CloudWatch console).")
    tags: dict[SsoTagText, Annotated[str, StringConstraints(max_length=256, pattern=r"^[A-Za-z0-9_+=,.@-]+$")]] = Field(
        default_factory=dict, description="Tags of the permission set (letters, digits and + = , . @ _ -).")
    full_admin: FullAdminDeclaration | None = Field(
        None, description="Declare that the permission set grants `*` on `*` (e.g. `AdministratorAccess`); without "
        "it such a grant is error GR504 (docs/identity-center.md).")

    @field_validator("session_duration")
    @classmethod
    def _session_duration(cls, value: str) -> str:
        match = _ISO_DURATION.fullmatch(value)
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"{value!r} is not an ISO-8601 duration in hours and minutes (e.g. PT4H, PT1H30M)")
        minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
        if not 60 <= minutes <= 720:
            raise ValueError(f"{value!r} is outside the range IAM Identity Center allows (PT1H to PT12H)")
        return value


class SsoAssignment(Strict):
    """A group of the identity store gets a permission set in the accounts of `deploy_to`."""

    group: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="Display name of the identity-store group (checked against `group_id` when Terraform applies).")
    group_id: IdentityStoreGroupId = Field(
        description="Identity-store group id (console: IAM Identity Center → Groups), e.g. "
        "`9067c2d4a1-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901`.")
    permission_set: str = Field(description="Name of an entry in `identity_center.permission_sets`.")
    deploy_to: Placement


class IdentityCenter(Strict):
    """IAM Identity Center: the recommended way for people to reach accounts (IAM users only for break-glass)."""

    instance_arn: Annotated[
        str, StringConstraints(pattern=r"^arn:aws(-cn|-us-gov)?:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$")
    ] = Field(description="The Identity Center instance, e.g. `arn:aws:sso:::instance/ssoins-1234567890abcdef`.")
    identity_store_id: Annotated[str, StringConstraints(pattern=r"^d-[0-9a-f]{10}$")] = Field(
        description="The instance's identity store, e.g. `d-1234567890`.")
    region: Region | None = Field(
        None, description="Region of the Identity Center instance; defaults to `organization.home_region`.")
    delegated_admin: str | None = Field(
        None, description="Account (name) registered as Identity Center delegated administrator that applies the "
        "permission sets; default: the management account. A delegated administrator cannot manage assignments in "
        "the management account.")
    permission_sets: dict[str, PermissionSet] = Field(
        default_factory=dict, description="Permission sets by name (at most 32 letters, digits and + = , . @ _ -).")
    assignments: list[SsoAssignment] = Field(default_factory=list)
