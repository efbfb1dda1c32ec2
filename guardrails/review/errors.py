"""Typed errors of ``guardrails diff`` (messages are shown to the user as they are)."""

from __future__ import annotations

from guardrails.diagnostics import GuardrailsError


class ReviewError(GuardrailsError):
    """A side of the diff cannot be obtained (bad revision, missing directory, nothing to compare)."""

    exit_code = 1


class RevisionError(ReviewError):
    """The git revision (or the path inside it) does not exist."""


class BaseUnavailableError(ReviewError):
    """The base revision neither compiles with the current code nor has a committed policy tree."""


class GitError(ReviewError):
    """git itself is missing or failed for a reason other than the revision (not a repository, broken archive)."""

    exit_code = 3
