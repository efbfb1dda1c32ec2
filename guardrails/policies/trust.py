"""The trust policy of a blueprint role: AWS services, accounts, the organization, GitHub Actions, OIDC, SAML."""

from __future__ import annotations

from guardrails.blueprint.schema import Role as RoleSpec
from guardrails.iam.arns import oidc_provider_arn, role_arn, root_arn, saml_provider_arn, sso_role_arn, user_arn
from guardrails.model.build import Model
from guardrails.policies.ir import ACCOUNT_ID, Condition, OrgInfo, PolicyDocument, Principal, Statement
from guardrails.policies.trust_conditions import extra_conditions, source_conditions, with_conditions
from guardrails.policies.trust_github import github_statements
from guardrails.policies.trust_gitlab import gitlab_statement

# SAML sign-in endpoint per partition: the audience a SAML assertion for the console carries.
SAML_AUDIENCE = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}
# The suffix of an Identity Center role is AWS's choice, sixteen characters (guardrails.iam.arns): one `?` each, not
# `*`, so that set `Admin` does not also match the roles of a set named `Admin_Extra` (AWSReservedSSO_Admin_Extra_…).
SSO_SUFFIX_PATTERN = "?" * 16


def role_trust(model: Model, key: str, spec: RoleSpec, info: OrgInfo) -> PolicyDocument:
    """The trust policy: a statement per kind of principal, each with `trust.conditions` ANDed in."""
    extra = extra_conditions(model, spec.trust, info)
    return PolicyDocument(tuple(with_conditions(s, extra) for s in trust_statements(model, key, spec, info)))


def trust_statements(model: Model, key: str, spec: RoleSpec, info: OrgInfo) -> list[Statement]:
    """The trust's statements without `trust.conditions`."""
    trust = spec.trust
    statements: list[Statement] = []
    origin = str(model.source.where("roles", key, "trust"))
    if trust.services:
        statements.append(Statement("TrustAwsServices", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("Service", tuple(sorted(trust.services))),),
                                    conditions=source_conditions(model, trust, info), origin=origin))
    extra: list[Condition] = []
    if trust.external_id:
        extra.append(Condition("StringEquals", "sts:ExternalId", (trust.external_id,)))
    if trust.accounts:
        arns: set[str] = set()
        sessions: set[str] = set()  # accounts whose Identity Center sessions are trusted (their root ARNs)
        session_roles: set[str] = set()  # the permission sets' role ARN patterns there
        for entry in trust.accounts:
            account_id = model.accounts[entry.account].id if entry.account in model.accounts else entry.account
            for role in entry.roles:
                arns.add(role_arn(info.partition, account_id, role))
            for user in entry.users:
                arns.add(user_arn(info.partition, account_id, user))
            if entry.permission_sets:
                sessions.add(root_arn(info.partition, account_id))
                session_roles.update(_permission_set_roles(model, info, account_id, entry.permission_sets))
            elif not entry.roles and not entry.users:
                arns.add(root_arn(info.partition, account_id))
        if arns:
            conditions = list(extra)
            if trust.require_mfa:
                conditions.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
            statements.append(Statement("TrustAccounts", "Allow", actions=("sts:AssumeRole",),
                                        principals=(Principal("AWS", tuple(sorted(arns))),),
                                        conditions=tuple(sorted(conditions)), origin=origin))
        if sessions:
            # No require_mfa here: Identity Center enforces MFA at sign-in, and its role sessions carry no
            # aws:MultiFactorAuthPresent, so a Bool condition on it would never hold and the trust would be dead
            # (https://docs.aws.amazon.com/singlesignon/latest/userguide/enable-mfa.html and
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent
            # ).
            # The account root delegates to the account's IAM policies; aws:PrincipalArn narrows it to the sets'
            # roles (a Principal cannot hold wildcards, the role's suffix is unknown until AWS creates it).
            conditions = [Condition("ArnLike", "aws:PrincipalArn", tuple(sorted(session_roles))), *extra]
            statements.append(Statement("TrustIdentityCenter", "Allow", actions=("sts:AssumeRole",),
                                        principals=(Principal("AWS", tuple(sorted(sessions))),),
                                        conditions=tuple(sorted(conditions)), origin=origin))
    if trust.organization:
        conditions = [Condition("StringEquals", "aws:PrincipalOrgID", (info.org_id,)), *extra]
        if trust.require_mfa:
            conditions.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
        statements.append(Statement("TrustOrganization", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("AWS", ("*",)),), conditions=tuple(sorted(conditions)),
                                    origin=origin))
    providers = model.blueprint.identity_providers
    if trust.github_oidc:
        gh = trust.github_oidc
        host = providers.oidc[gh.provider].url.removeprefix("https://").rstrip("/")
        statements += github_statements(gh, host, providers.oidc[gh.provider].audiences, info, origin)
    if trust.gitlab_oidc:
        gl = trust.gitlab_oidc
        host = providers.oidc[gl.provider].url.removeprefix("https://").rstrip("/")
        statements.append(gitlab_statement(gl, host, providers.oidc[gl.provider].audiences, info, origin))
    if trust.oidc:
        host = providers.oidc[trust.oidc.provider].url.removeprefix("https://").rstrip("/")
        statements.append(_oidc_statement("TrustOidc", host, providers.oidc[trust.oidc.provider].audiences,
                                          trust.oidc.subjects, info, origin))
    if trust.saml:
        statements.append(Statement(
            "TrustSaml", "Allow", actions=("sts:AssumeRoleWithSAML",),
            principals=(Principal("Federated", (saml_provider_arn(info.partition, ACCOUNT_ID, trust.saml.provider),)),),
            conditions=(Condition("StringEquals", "SAML:aud", (SAML_AUDIENCE[info.partition],)),), origin=origin))
    return statements


def _permission_set_roles(model: Model, info: OrgInfo, account_id: str, names: list[str]) -> set[str]:
    """ARN patterns of the roles Identity Center provisions for these permission sets in the account.

    The path is fixed — ``/aws-reserved/sso.amazonaws.com/`` and ``/aws-reserved/sso.amazonaws.com/<region>/`` for
    the instance's region, both accepted since AWS documents the regional form and us-east-1 instances use the
    other — and only the suffix is a pattern, of its fixed length: a role someone creates under another path (or
    in another account) with the same name does not match
    (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html).
    """
    center = model.blueprint.identity_center
    region = (center.region if center is not None else None) or model.blueprint.organization.home_region
    # sso_role_path gives us-east-1 the path without a region segment.
    return {sso_role_arn(info.partition, account_id, name, where, SSO_SUFFIX_PATTERN)
            for name in names for where in ("us-east-1", region)}


def _oidc_statement(sid: str, host: str, audiences: list[str], subjects: list[str], info: OrgInfo,
                    origin: str) -> Statement:
    wildcard = any(ch in s for s in subjects for ch in "*?")
    return Statement(
        sid, "Allow", actions=("sts:AssumeRoleWithWebIdentity",),
        principals=(Principal("Federated", (oidc_provider_arn(info.partition, ACCOUNT_ID, host),)),),
        conditions=tuple(sorted([
            Condition("StringEquals", f"{host}:aud", tuple(sorted(audiences))),
            Condition("StringLike" if wildcard else "StringEquals", f"{host}:sub", tuple(sorted(subjects))),
        ])), origin=origin)
