"""The trust policy of a blueprint role: AWS services, accounts, the organization, GitHub Actions, OIDC, SAML."""

from __future__ import annotations

from guardrails.blueprint.schema import Role as RoleSpec
from guardrails.iam.arns import oidc_provider_arn, role_arn, root_arn, saml_provider_arn, user_arn
from guardrails.model.build import Model
from guardrails.policies.ir import ACCOUNT_ID, Condition, OrgInfo, PolicyDocument, Principal, Statement

# SAML sign-in endpoint per partition: the audience a SAML assertion for the console carries.
SAML_AUDIENCE = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}


def role_trust(model: Model, key: str, spec: RoleSpec, info: OrgInfo) -> PolicyDocument:
    trust = spec.trust
    statements: list[Statement] = []
    origin = str(model.source.where("roles", key, "trust"))
    if trust.services:
        statements.append(Statement("TrustAwsServices", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("Service", tuple(sorted(trust.services))),), origin=origin))
    extra: list[Condition] = []
    if trust.external_id:
        extra.append(Condition("StringEquals", "sts:ExternalId", (trust.external_id,)))
    if trust.accounts:
        arns: set[str] = set()
        for entry in trust.accounts:
            account_id = model.accounts[entry.account].id if entry.account in model.accounts else entry.account
            for role in entry.roles:
                arns.add(role_arn(info.partition, account_id, role))
            for user in entry.users:
                arns.add(user_arn(info.partition, account_id, user))
            if not entry.roles and not entry.users:
                arns.add(root_arn(info.partition, account_id))
        conditions = list(extra)
        if trust.require_mfa:
            conditions.append(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)))
        statements.append(Statement("TrustAccounts", "Allow", actions=("sts:AssumeRole",),
                                    principals=(Principal("AWS", tuple(sorted(arns))),),
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
        subjects = [f"repo:{gh.repository}:ref:{ref}" for ref in gh.refs]
        subjects += [f"repo:{gh.repository}:environment:{env}" for env in gh.environments]
        if gh.pull_requests:
            subjects.append(f"repo:{gh.repository}:pull_request")
        statements.append(_oidc_statement("TrustGitHubActions", host, providers.oidc[gh.provider].audiences, subjects,
                                          info, origin))
    if trust.oidc:
        host = providers.oidc[trust.oidc.provider].url.removeprefix("https://").rstrip("/")
        statements.append(_oidc_statement("TrustOidc", host, providers.oidc[trust.oidc.provider].audiences,
                                          trust.oidc.subjects, info, origin))
    if trust.saml:
        statements.append(Statement(
            "TrustSaml", "Allow", actions=("sts:AssumeRoleWithSAML",),
            principals=(Principal("Federated", (saml_provider_arn(info.partition, ACCOUNT_ID, trust.saml.provider),)),),
            conditions=(Condition("StringEquals", "SAML:aud", (SAML_AUDIENCE[info.partition],)),), origin=origin))
    return PolicyDocument(tuple(statements))


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
