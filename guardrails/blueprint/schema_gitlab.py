"""Blueprint format v1, `trust.gitlab_oidc`: which GitLab CI/CD jobs may assume a role (docs/blueprint.md#trust).

A GitLab ID token's `sub` is `project_path:GROUP/PROJECT:ref_type:branch|tag:ref:NAME`
(https://docs.gitlab.com/ci/secrets/id_token_authentication/). Of its other claims AWS STS offers only some as
condition keys `gitlab.com:<claim>` (namespace_id, project_id, ref_protected, pipeline_source, user_… ;
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html): the project
and ref are pinned through `sub`, the ids and protection through their keys. `environment` is no key, and the default
`sub` does not name it, so a GitLab environment cannot be pinned in a trust policy.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from guardrails.blueprint.schema_base import Strict

# group/subgroup…/project; no wildcards: in StringLike a `*` there would also match `:ref_type:…` of another project.
_PROJECT = r"^[\w.-]+(/[\w.-]+)+$"
_REF = Annotated[str, StringConstraints(pattern=r"^[^\s:]+$")]


class GitLabOidc(Strict):
    """GitLab CI/CD jobs of one project. `branches` and `tags` are alternatives; `protected_refs_only`, `project_id`
    and `namespace_id` narrow every one of them."""

    project_path: Annotated[str, StringConstraints(pattern=_PROJECT)] = Field(
        description="`GROUP/PROJECT` (subgroups allowed), as in the project's URL.")
    branches: list[_REF] = Field(default_factory=list, description="Branch names such as `main` (no `refs/heads/`); "
                                 "wildcards allowed, e.g. `release/*`.")
    tags: list[_REF] = Field(default_factory=list, description="Tag names such as `v*`; wildcards allowed.")
    protected_refs_only: bool = Field(
        False, description="Only jobs of protected branches and tags (the `ref_protected` claim): who may push to "
        "the ref is then GitLab's protection rule, not every developer of the project.")
    project_id: int | None = Field(None, ge=1, description="The project's numeric id (`project_id` claim): a "
                                   "project created again under the same path after a rename or deletion has another.")
    namespace_id: int | None = Field(None, ge=1, description="The group's numeric id (`namespace_id` claim).")
    provider: str = Field("gitlab", description="Name of the OIDC identity provider entry (url https://gitlab.com).")

    @model_validator(mode="before")
    @classmethod
    def _no_environment(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"environment", "environments"} & set(data)):
            raise ValueError("GitLab's token names its environment only in the `environment` claim, which AWS does "
                             "not offer as a condition key, and the default `sub` names no environment: pin the "
                             "`branches` or `tags` the environment deploys from, with `protected_refs_only: true`")
        return data

    @model_validator(mode="after")
    def _some_ref(self) -> GitLabOidc:
        if not (self.branches or self.tags):
            raise ValueError("name at least one of `branches` or `tags`: a role trusted by a whole project lets any "
                             "branch deploy")
        return self
