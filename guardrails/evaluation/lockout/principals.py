"""Who the proof is about, as the manifest and the caller name them: the break-glass role and its account, the
deployment principals, the management deployer and the bootstrap role it assumes in member accounts."""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.evaluation.lockout.facts import BREAK_GLASS_MFA
from guardrails.evaluation.lockout.probes import Role
from guardrails.evaluation.organization import Account
from guardrails.iam.manifest import Manifest, ManifestError

# AWS Organizations creates this role in every account it creates
# (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html).
DEFAULT_BOOTSTRAP_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class Principals:
    """The principals' names; role sessions are made from them per account."""

    break_glass_role: str
    break_glass_account: str
    bootstrap_role: str
    management_deployer: str | None
    deployment_patterns: tuple[str, ...]  # role name patterns, break-glass left out

    @classmethod
    def of(cls, manifest: Manifest, deployment_roles: tuple[str, ...], management_deployer: str | None,
           bootstrap_role: str | None) -> Principals:
        """The manifest's principals, with the caller's additions and overrides (see ``prove_no_lockout``)."""
        info = manifest.organization
        glass = info.break_glass
        if glass.role is None or glass.account is None:
            # The proof is about the break-glass role: a tree without one cannot be proven.
            raise ManifestError.missing("organization.break_glass." + ("role" if glass.role is None else "account"))
        patterns = [*info.deployment_principals, *([info.deployment_role] if info.deployment_role else []),
                    *deployment_roles]
        return cls(
            break_glass_role=glass.role,
            break_glass_account=glass.account,
            bootstrap_role=bootstrap_role or info.deployment_role or DEFAULT_BOOTSTRAP_ROLE,
            management_deployer=management_deployer or info.management_deployment_role,
            deployment_patterns=tuple(dict.fromkeys(p for p in patterns if p and p != glass.role)),
        )

    def break_glass(self, manifest: Manifest, account: Account) -> Role:
        """The break-glass role's session in the account: at the path its class gives it, assumed with MFA."""
        role = manifest.class_by_key(account.class_key).role(self.break_glass_role)
        path = role.path if role is not None else "/"
        return Role(f"role/{self.break_glass_role}", self.break_glass_role, path, BREAK_GLASS_MFA,
                    frozenset({"aws:multifactorauthpresent"}))

    def bootstrap(self) -> Role:
        return Role.of_pattern(self.bootstrap_role)
