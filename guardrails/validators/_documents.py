"""Every policy document of a plan, measured the way AWS measures it.

Each document is named by the file ``guardrails/emitters/policies.py`` writes it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import yaml

from guardrails.policies.ir import ACCOUNT_ID, REGION, Limit, Plan, PolicyDocument, Role

DocumentKind = Literal["scp", "managed", "boundary", "trust", "inline"]

KIND_LABELS: dict[DocumentKind, str] = {
    "scp": "SCP", "managed": "managed policy", "boundary": "permission boundary",
    "trust": "trust policy of role", "inline": "inline policy",
}

# A 12-digit account id: ``${account_id}`` (13 characters) becomes 12 when deployed.
WORST_CASE_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class GeneratedDocument:
    """One policy document as it is deployed: what kind, which file, which baseline class and owner."""

    kind: DocumentKind
    name: str
    path: str
    document: PolicyDocument
    class_key: str = ""  # baseline class; "" for SCPs
    owner: str = ""  # role name, for trust and inline policies

    @property
    def label(self) -> str:
        return f"{KIND_LABELS[self.kind]} {self.name}"


def generated_documents(plan: Plan) -> list[GeneratedDocument]:
    """SCPs, then per baseline class its managed policies, boundaries, trust and inline policies."""
    documents = [GeneratedDocument("scp", scp.name, f"policies/scp/{scp.name}.json", scp.document)
                 for scp in plan.scps]
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        for policy in cls.baseline.managed_policies:
            documents.append(GeneratedDocument(policy.kind, policy.name, f"{base}/{policy.kind}/{policy.name}.json",
                                               policy.document, cls.key))
        for role in cls.baseline.roles:
            documents.append(GeneratedDocument("trust", role.name, f"{base}/trust/{role.name}.json", role.trust,
                                               cls.key, role.name))
            documents.extend(inline_documents(role, base, cls.key))
    return documents


def inline_documents(role: Role, base: str, class_key: str) -> list[GeneratedDocument]:
    return [GeneratedDocument("inline", f"{role.name}-{name}", f"{base}/inline/{role.name}-{name}.json", document,
                              class_key, role.name)
            for name, document in role.inline_policies]


@cache
def longest_region() -> str:
    """The longest region code in ``guardrails/data/regions.yaml``: the worst case for ``${region}``."""
    raw = yaml.safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))
    regions = [str(region) for group in raw.values() for region in group]
    return max(sorted(regions), key=len)


def worst_case(text: str) -> str:
    """The text as deployed into the account with the longest values for the per-account placeholders."""
    return text.replace(ACCOUNT_ID, WORST_CASE_ACCOUNT_ID).replace(REGION, longest_region())


def deployed_size(document: PolicyDocument, limit: Limit) -> int:
    """Characters AWS counts against ``limit``: the minified JSON after worst-case substitution.

    IAM ignores whitespace; Organizations counts every character of an SCP, and the SDK/CLI send
    what they are given, so emitters send minified JSON
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
    """
    text = worst_case(document.render(minified=True))
    if limit.counts == "non-whitespace":
        return sum(1 for char in text if not char.isspace())
    if limit.counts == "all":
        return len(text)
    raise ValueError(f"limit {limit.key} counts {limit.counts!r}, not characters")
