"""Semantic permission diff for pull-request review: who can now do what, where (``guardrails diff``).

Reads two emitted policy trees and reports permission changes instead of Terraform lines; see docs/review.md.
"""

from __future__ import annotations

from guardrails.evaluation.organization import Organization
from guardrails.review.diff import PermissionDiff, diff_organizations
from guardrails.review.errors import BaseUnavailableError, GitError, ReviewError, RevisionError
from guardrails.review.render import json_ready, to_json, to_markdown, to_terminal
from guardrails.review.sources import (
    CompileFiles,
    SourcedOrganization,
    organization_from_blueprint,
    organization_from_directories,
    organization_from_files,
    organization_from_git,
    organization_from_path,
)

# Exit code of `guardrails diff --fail-on-risk` when the diff has a high or medium risk flag.
EXIT_RISKY = 4


def run_diff(base: Organization, head: Organization) -> PermissionDiff:
    """The permission diff from ``base`` to ``head`` (notes and labels of SourcedOrganization sides included)."""
    return diff_organizations(base, head)


__all__ = [
    "EXIT_RISKY", "BaseUnavailableError", "CompileFiles", "GitError", "PermissionDiff", "ReviewError", "RevisionError",
    "SourcedOrganization", "diff_organizations", "json_ready", "organization_from_blueprint",
    "organization_from_directories", "organization_from_files", "organization_from_git", "organization_from_path",
    "run_diff", "to_json", "to_markdown", "to_terminal",
]
