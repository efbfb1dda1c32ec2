"""The trust statements of `trust.github_oidc`: which GitHub Actions jobs may assume a role.

`sub` is `repo:OWNER/REPO:environment:NAME` for a job in an environment (then it names no ref),
`repo:OWNER/REPO:ref:REF` otherwise, `repo:OWNER/REPO:pull_request` for pull-request events
(https://docs.github.com/en/actions/reference/security/oidc). AWS STS also checks the token's `ref`,
`job_workflow_ref`, `repository_id` and `repository_owner_id` claims as condition keys `<provider host>:<claim>`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif,
GitHub tab): the environment's ref and the workflow file are pinned with them. A missing claim never matches
StringEquals or StringLike, so a token without it is refused.
"""

from __future__ import annotations

from guardrails.blueprint.schema_github import GitHubOidc, parse_workflow
from guardrails.iam.arns import oidc_provider_arn
from guardrails.policies.ir import ACCOUNT_ID, Condition, OrgInfo, Principal, Statement

# The ref of a pull_request event's run, and so of its job_workflow_ref for a workflow of the repository itself.
PULL_REQUEST_REF = "refs/pull/*/merge"


def github_statements(gh: GitHubOidc, host: str, audiences: list[str], info: OrgInfo,
                      origin: str) -> list[Statement]:
    """`TrustGitHubActions` (branch and environment jobs, or pull requests alone), and `TrustGitHubPullRequests`
    when pull requests need conditions of their own (the ref pin or the workflows' refs differ for them)."""
    repo = gh.repository
    pinned = bool(gh.environments and gh.refs)  # environment jobs must also run on one of the refs
    subjects = [f"repo:{repo}:environment:{env}" for env in gh.environments]
    if not pinned:
        subjects += [f"repo:{repo}:ref:{ref}" for ref in gh.refs]
    pull_request = f"repo:{repo}:pull_request"
    separate = gh.pull_requests and bool(subjects) and (pinned or bool(gh.workflows))
    statements: list[Statement] = []
    if subjects:
        claims = {"sub": subjects}
        if pinned:
            claims["ref"] = list(gh.refs)
        if gh.workflows:
            claims["job_workflow_ref"] = _workflow_refs(gh, gh.refs)
        if gh.pull_requests and not separate:
            claims["sub"].append(pull_request)
        statements.append(_statement("TrustGitHubActions", host, audiences, claims, info, origin, gh))
    if gh.pull_requests and (separate or not subjects):
        claims = {"sub": [pull_request]}
        if gh.workflows:
            claims["job_workflow_ref"] = _workflow_refs(gh, [PULL_REQUEST_REF])
        statements.append(_statement("TrustGitHubPullRequests" if separate else "TrustGitHubActions", host,
                                     audiences, claims, info, origin, gh))
    return statements


def _workflow_refs(gh: GitHubOidc, refs: list[str]) -> list[str]:
    """The job_workflow_ref values of `workflows`: OWNER/REPO/.github/workflows/FILE@REF, a file of the trusted
    repository without a ref at each of ``refs`` (the job runs its own ref's version of the file)."""
    values: set[str] = set()
    for text in gh.workflows:
        workflow = parse_workflow(text)
        repository = workflow.repository or gh.repository
        for ref in [workflow.ref] if workflow.ref is not None else refs:
            values.add(f"{repository}/{workflow.path}@{ref}")
    return sorted(values)


def _statement(sid: str, host: str, audiences: list[str], claims: dict[str, list[str]], info: OrgInfo,
               origin: str, gh: GitHubOidc | None = None) -> Statement:
    conditions = [Condition("StringEquals", f"{host}:aud", tuple(sorted(audiences)))]
    if gh is not None:
        # The ids survive no rename: a repository or owner created again under the trusted name has other ones.
        for claim in ("repository_id", "repository_owner_id"):
            if getattr(gh, claim) is not None:
                conditions.append(Condition("StringEquals", f"{host}:{claim}", (str(getattr(gh, claim)),)))
    for claim, values in claims.items():
        # StringLike only where a value holds a wildcard, so an exact value cannot be read as a pattern.
        wildcard = any(ch in value for value in values for ch in "*?")
        conditions.append(Condition("StringLike" if wildcard else "StringEquals", f"{host}:{claim}",
                                    tuple(sorted(set(values)))))
    return Statement(sid, "Allow", actions=("sts:AssumeRoleWithWebIdentity",),
                     principals=(Principal("Federated", (oidc_provider_arn(info.partition, ACCOUNT_ID, host),)),),
                     conditions=tuple(sorted(conditions)), origin=origin)
