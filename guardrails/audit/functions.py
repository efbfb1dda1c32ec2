"""The custom-resource functions' roles: deployed by the CloudFormation baselines, expected, not drift.

CloudFormation has no resource type for the password policy or the account settings, so the templates deploy small
Lambda functions whose roles live under ``/guardrails/`` (found in the emitted templates by
guardrails/escalation/functions.py; the command passes them in, this layer never reads templates). Those roles
have no ``RoleName``: CloudFormation names them ``<stack name>-<logical id>-<random suffix>``, truncating the stack
name and the logical id to IAM's 64 characters
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html), and every stack (one per
Region for account-security.yaml) has its own. So a live role is one of them when its path is the function role's
and its name ends in ``-<a prefix of the logical id>-<suffix>``; its content is then compared with the template's
(trust, inline policies, nothing attached, no boundary), so a role that only borrows the name is still drift.
Terraform deploys no functions: in an account deployed with Terraform none exist, and none is required.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The analysis' stand-in for CloudFormation's random suffix (guardrails/escalation/functions.py SUFFIX).
_SUFFIX = "GUARDRAILS0"
_NAME = re.compile(r"^(?P<stack>.+)-(?P<logical>[A-Za-z0-9]+)-(?P<suffix>[A-Za-z0-9]{8,16})$")
# What the analysis could not name in the template, as placeholders: the stack's Region, a generated name
# ("<stack>-<logical id>-GUARDRAILS0", e.g. the function's log group) and a value it left unresolved.
_UNKNOWN = re.compile(r"(\$\{region\}|[A-Za-z0-9-]*-" + _SUFFIX + r"|arn:[a-z-]+:cloudformation:\$\{region\}:"
                      r"[0-9]{12}:unresolved/[A-Za-z0-9]+)")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-[0-9]"


@dataclass(frozen=True)
class FunctionRole:
    """The execution role of one custom-resource function, as its template defines it."""

    template: str  # "cloudformation/baseline-audit.yaml"
    logical_id: str  # the role's logical id, e.g. "PasswordPolicyFunctionRole"
    path: str
    trust: str  # JSON
    policies: tuple[tuple[str, str], ...]  # (inline policy name, JSON with ${account_id}/${region})
    max_session_duration: int = 3600  # the templates set none: IAM's default

    def matches(self, name: str, path: str) -> bool:
        """Whether a live role with this name and path is one CloudFormation created for this function."""
        found = _NAME.match(name)
        return path == self.path and found is not None and self.logical_id.startswith(found["logical"])

    def trust_document(self, account_id: str) -> Any:
        return json.loads(self.trust.replace("${account_id}", account_id))

    def inline_documents(self, account_id: str, live: Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
        """The inline policies as deployed in ``account_id``: each value the template leaves to CloudFormation (the
        Region, a generated name) takes the live value it matches, if one does; otherwise the placeholder stays,
        so the comparison reports it."""
        have = dict(live)
        out = []
        for name, text in self.policies:
            document = json.loads(text.replace("${account_id}", account_id))
            out.append((name, _fit(document, sorted(_strings(have.get(name))))))
        return tuple(sorted(out))


def function_role_for(name: str, path: str, roles: Sequence[FunctionRole]) -> FunctionRole | None:
    """The function role a live role is an instance of (the longest logical id matching first), or None."""
    for role in sorted(roles, key=lambda r: (-len(r.logical_id), r.logical_id, r.template)):
        if role.matches(name, path):
            return role
    return None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _fit(value: Any, candidates: Sequence[str]) -> Any:
    if isinstance(value, dict):
        return {k: _fit(v, candidates) for k, v in value.items()}
    if isinstance(value, list):
        return [_fit(v, candidates) for v in value]
    if not isinstance(value, str) or not _UNKNOWN.search(value):
        return value
    pattern = re.compile("".join(_piece(part) for part in _UNKNOWN.split(value)))
    return next((c for c in candidates if pattern.fullmatch(c)), value)


def _piece(part: str) -> str:
    if part == "${region}":
        return _REGION
    if part.endswith(_SUFFIX):
        return r"[^:*?]+"  # a generated name: anything without a wildcard
    if ":unresolved/" in part:
        return r"[^*?]+"
    return re.escape(part)
