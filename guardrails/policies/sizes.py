"""How big a policy document is once deployed, counted the way AWS counts it.

Pure helpers shared by the policy stage (compaction fits documents under the limits) and the
validators (which report documents that still do not fit), so both measure the same way.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from guardrails.data.fast_yaml import safe_load
from guardrails.policies.ir import ACCOUNT_ID, REGION, Limit, PolicyDocument

# A 12-digit account id: ``${account_id}`` (13 characters) becomes 12 when deployed.
WORST_CASE_ACCOUNT_ID = "123456789012"


@cache
def longest_region() -> str:
    """The longest region code in ``guardrails/data/regions.yaml``: the worst case for ``${region}``."""
    raw = safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))
    regions = [str(region) for group in raw.values() for region in group]
    return max(sorted(regions), key=len)


def worst_case(text: str) -> str:
    """The text as deployed into the account with the longest values for the per-account placeholders."""
    return text.replace(ACCOUNT_ID, WORST_CASE_ACCOUNT_ID).replace(REGION, longest_region())


def counted_length(text: str, limit: Limit) -> int:
    """Characters of ``text`` (already substituted) that count against ``limit``."""
    if limit.counts == "non-whitespace":
        return len("".join(text.split()))  # str.split() drops exactly the characters str.isspace() holds for
    if limit.counts == "all":
        return len(text)
    raise ValueError(f"limit {limit.key} counts {limit.counts!r}, not characters")


def deployed_size(document: PolicyDocument, limit: Limit) -> int:
    """Characters AWS counts against ``limit``: the minified JSON after worst-case substitution.

    IAM ignores whitespace; Organizations counts every character of an SCP, and the SDK/CLI send
    what they are given, so emitters send minified JSON
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
    """
    return counted_length(worst_case(document.render(minified=True)), limit)
