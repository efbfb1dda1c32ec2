"""Blueprint format v1, `trust.github_oidc`: which GitHub Actions jobs may assume a role (docs/blueprint.md#trust).

GitHub's token says which repository, ref, environment and workflow file a job runs
(https://docs.github.com/en/actions/reference/security/oidc); AWS STS checks `sub` and, since 2026, the claims
`ref`, `environment`, `job_workflow_ref` … as condition keys `token.actions.githubusercontent.com:<claim>`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif).
"""

from __future__ import annotations

import re
from typing import Annotated, NamedTuple

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from guardrails.blueprint.schema_base import Strict

_REPOSITORY = r"[\w.-]+/[\w.-]+"
# A workflow file lives directly in .github/workflows/ of its repository; a reusable workflow is named with its
# repository (`uses: OWNER/REPO/.github/workflows/FILE@REF`). Wildcards only after the `@`: see _check_workflow.
_WORKFLOW = re.compile(rf"^(?:(?P<repository>{_REPOSITORY})/)?(?P<path>\.github/workflows/[\w.-]+\.ya?ml)"
                       r"(?:@(?P<ref>\S+))?$")
_REF = re.compile(r"^(refs/\S+|[0-9a-f]{40}|\*)$")
WORKFLOW_FORMS = ("`.github/workflows/FILE.yml` (this repository, at the refs the role trusts), "
                  "`.github/workflows/FILE.yml@REF` or `OWNER/REPO/.github/workflows/FILE.yml@REF` "
                  "(a reusable workflow)")


class Workflow(NamedTuple):
    """A `workflows` entry taken apart: repository None means the trusted repository, ref None the job's own refs."""

    repository: str | None
    path: str
    ref: str | None


def parse_workflow(text: str) -> Workflow:
    """The parts of a `workflows` entry that passed validation."""
    match = _WORKFLOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a workflow file: write {WORKFLOW_FORMS}")
    return Workflow(match["repository"], match["path"], match["ref"])


def _check_workflow(text: str) -> str:
    before, _, ref = text.partition("@")
    if any(ch in before for ch in "*?"):
        # In StringLike a `*` also matches `@` and `/`: `deploy-*.yml@refs/heads/main` would match a workflow run
        # from a branch named `x.yml@refs/heads/main` (a valid git branch name), so any pusher could pass.
        raise ValueError(f"{text!r}: wildcards are allowed only in the ref after `@` (a `*` in the repository or "
                         "file name also matches `@` and a branch name, so a job on any branch could match)")
    workflow = parse_workflow(text)
    if workflow.repository is not None and workflow.ref is None:
        raise ValueError(f"{text!r}: a workflow named with its repository needs its ref, e.g. "
                         f"`{text}@refs/heads/main`")
    if workflow.ref is not None and not _REF.match(ref):
        raise ValueError(f"{text!r}: the ref after `@` is `refs/heads/BRANCH`, `refs/tags/TAG` (wildcards allowed), "
                         "a 40-digit commit SHA, or `*` for any")
    return text


# The schema's pattern lets editors flag a bad entry; the validator gives the reason.
WorkflowText = Annotated[str, AfterValidator(_check_workflow), Field(json_schema_extra={
    "pattern": rf"^(?:{_REPOSITORY}/)?\.github/workflows/[\w.-]+\.ya?ml(?:@(?:refs/\S+|[0-9a-f]{{40}}|\*))?$"})]


class GitHubOidc(Strict):
    """GitHub Actions jobs of one repository. Several values of one key are alternatives; the keys combine:
    `refs` with `environments` trusts only jobs in those environments that run on those refs, and `workflows`
    narrows every job to those workflow files."""

    repository: Annotated[str, StringConstraints(pattern=rf"^{_REPOSITORY}$")]
    refs: list[str] = Field(default_factory=list, description=(
        "e.g. `refs/heads/main`; wildcards allowed. Alone: jobs on these refs that use no environment. With "
        "`environments`: the refs those environment jobs must run on (the `ref` claim)."))
    environments: list[str] = Field(default_factory=list, description=(
        "GitHub deployment environments. A job in an environment carries no ref in `sub`: name `refs` too to pin it."))
    pull_requests: bool = Field(False, description="Jobs of `pull_request` events (their own statement when "
                                "`refs` pin environments or `workflows` are named).")
    workflows: list[WorkflowText] = Field(default_factory=list, description=(
        f"The workflow files allowed (the `job_workflow_ref` claim): {WORKFLOW_FORMS}. Wildcards only in the ref."))
    repository_id: int | None = Field(None, ge=1, description=(
        "The repository's numeric id (the `repository_id` claim): a repository created again under the same name "
        "after a rename or deletion has another, so its jobs are refused."))
    repository_owner_id: int | None = Field(None, ge=1, description=(
        "The owner's numeric id (the `repository_owner_id` claim): an organization or user that takes over the "
        "owner's name after a rename has another."))
    provider: str = Field("github", description="Name of the OIDC identity provider entry.")

    @model_validator(mode="after")
    def _some_subject(self) -> GitHubOidc:
        if not (self.refs or self.environments or self.pull_requests):
            raise ValueError("name at least one of `refs`, `environments` or `pull_requests`: a role trusted by a "
                             "whole repository lets any branch deploy")
        return self

    @model_validator(mode="after")
    def _workflows_have_a_ref(self) -> GitHubOidc:
        unpinned = [w for w in self.workflows if "@" not in w]
        if unpinned and self.environments and not self.refs:
            raise ValueError(f"workflow {unpinned[0]!r} has no ref, and `refs` is empty: name the `refs` the "
                             "environments deploy from (the job's ref is then pinned too), or write the ref, e.g. "
                             f"`{unpinned[0]}@refs/heads/main` (`@*` for a file from any branch)")
        return self
