"""Every policy document of a plan, measured the way AWS measures it.

Each document is named by the file ``guardrails/emitters/policies.py`` writes it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from guardrails.policies.ir import Plan, PolicyDocument, Role
from guardrails.policies.sizes import WORST_CASE_ACCOUNT_ID, deployed_size, longest_region, worst_case

# The measuring lives in the policy stage (compaction fits documents with it); re-exported here.
__all__ = [
    "WORST_CASE_ACCOUNT_ID", "DocumentKind", "GeneratedDocument", "deployed_size", "generated_documents",
    "inline_documents", "longest_region", "worst_case",
]

DocumentKind = Literal["scp", "rcp", "managed", "boundary", "trust", "inline", "resource", "permission-set"]

KIND_LABELS: dict[DocumentKind, str] = {
    "scp": "SCP", "rcp": "RCP", "managed": "managed policy", "boundary": "permission boundary",
    "trust": "trust policy of role", "inline": "inline policy", "resource": "resource policy",
    "permission-set": "inline policy of permission set",
}


@dataclass(frozen=True)
class GeneratedDocument:
    """One policy document as it is deployed: what kind, which file, which baseline class and owner."""

    kind: DocumentKind
    name: str
    path: str
    document: PolicyDocument
    class_key: str = ""  # baseline class; "" for SCPs
    owner: str = ""  # role name, for trust and inline policies
    allowed_unknown_actions: tuple[str, ...] = ()  # newer than the pinned IAM database, allowed by the blueprint
    resource_kind: str = ""  # resource policies: "s3-bucket", "kms-key", "sns-topic", "sqs-queue"
    origin: str = ""  # where the entry behind it is declared in the blueprint ("file:line:col"), when known

    @property
    def label(self) -> str:
        return f"{KIND_LABELS[self.kind]} {self.name}"


def generated_documents(plan: Plan) -> list[GeneratedDocument]:
    """SCPs, RCPs, resource policies, then per baseline class its managed policies, boundaries, trust and inline
    policies."""
    documents = [GeneratedDocument("scp", scp.name, f"policies/scp/{scp.name}.json", scp.document,
                                   origin=scp.origin) for scp in plan.scps]
    documents += [GeneratedDocument("rcp", rcp.name, f"policies/rcp/{rcp.name}.json", rcp.document,
                                    origin=rcp.origin) for rcp in plan.rcps]
    documents += [GeneratedDocument("resource", p.key, f"policies/resources/{p.key}.json", p.document,
                                    resource_kind=p.kind) for p in plan.resource_policies]
    if plan.identity_center is not None:  # inline policies only: their size is checked when they are compiled
        documents += [GeneratedDocument("permission-set", ps.name, f"policies/permission-sets/{ps.name}.json",
                                        ps.inline_policy, origin=ps.origin)
                      for ps in plan.identity_center.permission_sets
                      if ps.inline_policy is not None]
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        for policy in cls.baseline.managed_policies:
            documents.append(GeneratedDocument(policy.kind, policy.name, f"{base}/{policy.kind}/{policy.name}.json",
                                               policy.document, cls.key,
                                               allowed_unknown_actions=policy.allowed_unknown_actions,
                                               origin=policy.origin))
        for role in cls.baseline.roles:
            documents.append(GeneratedDocument("trust", role.name, f"{base}/trust/{role.name}.json", role.trust,
                                               cls.key, role.name, origin=role.origin))
            documents.extend(inline_documents(role, base, cls.key))
    return documents


def inline_documents(role: Role, base: str, class_key: str) -> list[GeneratedDocument]:
    return [GeneratedDocument("inline", f"{role.name}-{name}", f"{base}/inline/{role.name}-{name}.json", document,
                              class_key, role.name, origin=role.origin)
            for name, document in role.inline_policies]
