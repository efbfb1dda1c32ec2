"""MFA enrollment: IAM users under MFA enforcement can enroll a device without MFA, identity policies, SCPs
and RCPs considered. What enrolling takes (the IAM User Guide's self-manage-MFA example):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html
"""

from __future__ import annotations

from collections.abc import Mapping

from guardrails.evaluation.engine import PolicySet, Request, statements_of
from guardrails.evaluation.lockout.facts import MFA_ENROLLMENT, MFA_VARIANTS, OWN_REQUEST_KEYS
from guardrails.evaluation.lockout.probes import Chosen
from guardrails.evaluation.lockout.search import Search, given_context
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.iam.arns import user_arn as iam_user_arn


def prove_mfa_enrollment(search: Search) -> None:
    """Each user of each class under MFA enforcement, signing with access keys or a console session without MFA,
    is allowed every request of enrolling a device on itself."""
    org, partition = search.org, search.partition
    for path, accounts in search.paths.groups(by_class=True):
        account = path.account
        for user in org.class_entry(account).users:
            spec = PrincipalSpec("user", user.name)
            if not _under_mfa_enforcement(org, account, spec):
                continue
            user_arn = iam_user_arn(partition, account.id, f"{user.path}{user.name}")
            pairs = [(action, template.format(partition=partition, account=account.id, user=user.name,
                                              user_arn=user_arn)) for action, template in MFA_ENROLLMENT]
            for variant in MFA_VARIANTS:
                def make(action: str, resource: str, chosen: Chosen, variant: Mapping[str, tuple[str, ...]] = variant,
                         spec: PrincipalSpec = spec, account: Account = account) -> tuple[Request, PolicySet]:
                    return org.prepare(spec, account.name, action, resource, given_context(variant, chosen))

                search.check_requests("mfa-enrollment", f"user/{user.name}", accounts, path, pairs, make,
                                      OWN_REQUEST_KEYS)


def _under_mfa_enforcement(org: Organization, account: Account, spec: PrincipalSpec) -> bool:
    """A Deny on aws:MultiFactorAuthPresent in the user's identity policies (the enforcement policy)."""
    _, policies = org.prepare(spec, account.name, "iam:GetUser", "*")
    for policy in policies.identity:
        for statement in statements_of(policy):
            if statement["Effect"] == "Deny" and any(
                    key.lower() == "aws:multifactorauthpresent"
                    for block in (statement.get("Condition") or {}).values() for key in block):
                return True
    return False
