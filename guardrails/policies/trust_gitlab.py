"""The trust statement of `trust.gitlab_oidc` (see guardrails/blueprint/schema_gitlab.py for what AWS can check)."""

from __future__ import annotations

from guardrails.blueprint.schema_gitlab import GitLabOidc
from guardrails.iam.arns import oidc_provider_arn
from guardrails.policies.ir import ACCOUNT_ID, Condition, OrgInfo, Principal, Statement


def gitlab_subjects(gl: GitLabOidc) -> list[str]:
    """The `sub` values: `project_path:P:ref_type:branch|tag:ref:NAME`."""
    return sorted({f"project_path:{gl.project_path}:ref_type:{kind}:ref:{name}"
                   for kind, names in (("branch", gl.branches), ("tag", gl.tags)) for name in names})


def gitlab_statement(gl: GitLabOidc, host: str, audiences: list[str], info: OrgInfo, origin: str) -> Statement:
    subjects = gitlab_subjects(gl)
    # StringLike only where a value holds a wildcard, so an exact ref cannot be read as a pattern.
    wildcard = any(ch in s for s in subjects for ch in "*?")
    conditions = [Condition("StringEquals", f"{host}:aud", tuple(sorted(audiences))),
                  Condition("StringLike" if wildcard else "StringEquals", f"{host}:sub", tuple(subjects))]
    claims = {"ref_protected": "true" if gl.protected_refs_only else None,  # GitLab writes it as a string
              "project_id": str(gl.project_id) if gl.project_id else None,
              "namespace_id": str(gl.namespace_id) if gl.namespace_id else None}
    conditions += [Condition("StringEquals", f"{host}:{claim}", (value,)) for claim, value in claims.items() if value]
    return Statement("TrustGitLabCi", "Allow", actions=("sts:AssumeRoleWithWebIdentity",),
                     principals=(Principal("Federated", (oidc_provider_arn(info.partition, ACCOUNT_ID, host),)),),
                     conditions=tuple(sorted(conditions)), origin=origin)
