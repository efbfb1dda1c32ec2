"""CloudFormation template quotas (GR506): resources per template and template size.

A template passed inline (``TemplateBody``) may be 51,200 bytes, one read from S3
(``TemplateURL``) 1 MB, and any template 500 resources
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
The organization template is deployed inline; the baselines are deployed by StackSets from S3.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from guardrails.diagnostics import Diagnostic, Location
from guardrails.policies.ir import Limit
from guardrails.validators.cfn_lint import to_diagnostic

URL_DEPLOYED_SUFFIX = "baseline"


def check_templates(templates: dict[str, str], limits: dict[str, Limit]) -> list[Diagnostic]:
    """Size and resource count of each template (path → text) against the plan's limits."""
    found: list[Diagnostic] = []
    for path, text in sorted(templates.items()):
        found.extend(_size(path, text, limits))
        found.extend(_resources(path, text, limits["cfn_resources_per_template"]))
    return found


def deployed_by_url(path: str) -> bool:
    """Baselines (``baseline-*.yaml``, ``management-baseline.yaml``) are read from S3 by URL — StackSets need it, and
    docs/deploying.md deploys the management baseline with ``--s3-bucket`` too; every other template counts as
    inline (stricter)."""
    return PurePosixPath(path).stem.split("-")[0] == URL_DEPLOYED_SUFFIX or PurePosixPath(path).stem.endswith(
        "-" + URL_DEPLOYED_SUFFIX)


def _size(path: str, text: str, limits: dict[str, Limit]) -> list[Diagnostic]:
    limit = limits["cfn_template_url_bytes" if deployed_by_url(path) else "cfn_template_body_bytes"]
    size = len(text.encode("utf-8"))
    if size <= limit.value:
        return []
    how = "read from S3 (TemplateURL)" if deployed_by_url(path) else "passed inline (TemplateBody)"
    return [Diagnostic.of("GR506", f"template is {size:,} bytes; a template {how} may be {limit.value:,} "
                          f"({limit.source})", Location(path),
                          "split the blueprint's accounts or policies over more stacks, or shorten descriptions")]


def _resources(path: str, text: str, limit: Limit) -> list[Diagnostic]:
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(text)
    if errors:
        # The same E0000 cfn-lint reports (de-duplicated later): unreadable is never "within limits".
        return [to_diagnostic(path, error) for error in errors]
    if not isinstance(template, dict):
        return []
    count = len(template.get("Resources") or {})
    if count <= limit.value:
        return []
    return [Diagnostic.of("GR506", f"template has {count} resources; the limit is {limit.value} ({limit.source})",
                          Location(path), "split it into several stacks (for example one per OU or baseline class)")]
