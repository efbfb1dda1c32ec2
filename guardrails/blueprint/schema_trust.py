"""Blueprint format v1: who may assume a role (`trust`) and the identity providers trusts name
(`identity_providers`). Re-exported by guardrails.blueprint.schema, the blueprint API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from guardrails.blueprint.schema_base import StringOrList, Strict
from guardrails.blueprint.schema_github import GitHubOidc
from guardrails.blueprint.schema_gitlab import GitLabOidc


class OidcTrust(Strict):
    provider: str = Field(description="Name of the OIDC identity provider entry.")
    subjects: list[str] = Field(min_length=1, description="Allowed `sub` claims (wildcards allowed).")


class SamlTrust(Strict):
    provider: str = Field(description="Name of the SAML identity provider entry.")


class AccountTrust(Strict):
    """Principals of another account (or this one), by account name or id."""

    account: str
    roles: list[str] = Field(default_factory=list, description="Limit to these role names (recommended).")
    users: list[str] = Field(default_factory=list)
    permission_sets: list[str] = Field(
        default_factory=list,
        description="Names of `identity_center.permission_sets` whose Identity Center sessions in this account may "
        "assume the role (its AWSReservedSSO_<set>_* role there, matched by aws:PrincipalArn). MFA comes from "
        "Identity Center's sign-in: `require_mfa` does not apply to these sessions, which carry no "
        "aws:MultiFactorAuthPresent.",
    )


class Trust(Strict):
    services: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$")]] = Field(
        default_factory=list
    )
    accounts: list[AccountTrust] = Field(default_factory=list)
    organization: bool = Field(False, description="Any principal of the organization (aws:PrincipalOrgID).")
    github_oidc: GitHubOidc | None = None
    gitlab_oidc: GitLabOidc | None = None
    oidc: OidcTrust | None = None
    saml: SamlTrust | None = None
    require_mfa: bool = Field(
        False,
        description="Require MFA of IAM users assuming the role. Only for account/organization trust: SAML, OIDC and "
        "Identity Center sessions carry no aws:MultiFactorAuthPresent; enforce MFA at the identity provider. Not "
        "applied to the sessions of `accounts[].permission_sets`.",
    )
    external_id: Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")] | None = None
    source_accounts: list[str] = Field(
        default_factory=list, description="Only with `services`: the accounts on whose behalf the service may assume "
        "the role (aws:SourceAccount, confused-deputy protection): account names, 12-digit ids, or `self` for the "
        "account the role is in.")
    source_arns: list[str] = Field(
        default_factory=list, description="Only with `services`: the resources on whose behalf the service may assume "
        "the role (aws:SourceArn), e.g. `arn:${partition}:sagemaker:*:${account_id}:training-job/app-*`.")
    conditions: dict[str, dict[str, StringOrList | bool | int]] | None = Field(
        None, description="More conditions on every statement of the trust, `{Operator: {key: value or [values]}}` "
        "as in IAM JSON (ANDed with the ones guardrails writes). Operators, keys (global, AWS STS, SAML and the "
        "trusted OIDC providers' claims) and values are checked; `${partition}`, `${account_id}`, `${org_id}` are "
        "substituted, and account names are accepted for account-id keys.")

    @model_validator(mode="after")
    def _not_empty(self) -> Trust:
        if not (self.services or self.accounts or self.organization or self.github_oidc or self.gitlab_oidc
                or self.oidc or self.saml):
            raise ValueError("a trust needs at least one principal source")
        if (self.source_accounts or self.source_arns) and not self.services:
            raise ValueError("`source_accounts` and `source_arns` narrow a service trust (aws:SourceAccount, "
                             "aws:SourceArn): name `services`, or write the condition in `conditions`")
        return self


class OidcProvider(Strict):
    url: Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")]
    audiences: list[str] = Field(default_factory=lambda: ["sts.amazonaws.com"], min_length=1)
    thumbprints: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{40}$")]] = Field(default_factory=list)
    existing: bool = Field(False, description="The provider exists in each target account: import it.")


class SamlProvider(Strict):
    metadata_file: str = Field(description="Path of the IdP metadata XML, relative to the blueprint directory.")
    existing: bool = False


class IdentityProviders(Strict):
    oidc: dict[str, OidcProvider] = Field(default_factory=dict)
    saml: dict[str, SamlProvider] = Field(default_factory=dict)
