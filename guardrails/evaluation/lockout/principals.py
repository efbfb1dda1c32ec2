"""Who the proof is about, as the manifest and the caller name them: the break-glass role and its account, the
deployment principals, the management deployer and the bootstrap role it assumes in member accounts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.evaluation.lockout.facts import BREAK_GLASS_MFA
from guardrails.evaluation.lockout.probes import Role
from guardrails.evaluation.organization import Account

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
    def of(cls, manifest: Mapping[str, Any], deployment_roles: tuple[str, ...], management_deployer: str | None,
           bootstrap_role: str | None) -> Principals:
        """The manifest's principals, with the caller's additions and overrides (see ``prove_no_lockout``)."""
        info = manifest["organization"]
        break_glass_role = str(info["break_glass"]["role"])
        patterns = [*info.get("deployment_principals", []), *([info["deployment_role"]] if info.get("deployment_role")
                                                               else []), *deployment_roles]
        return cls(
            break_glass_role=break_glass_role,
            break_glass_account=str(info["break_glass"]["account"]),
            bootstrap_role=bootstrap_role or info.get("deployment_role") or DEFAULT_BOOTSTRAP_ROLE,
            management_deployer=management_deployer or info.get("management_deployment_role"),
            deployment_patterns=tuple(dict.fromkeys(p for p in patterns if p and p != break_glass_role)),
        )

    def break_glass(self, manifest: Mapping[str, Any], account: Account) -> Role:
        """The break-glass role's session in the account: at the path its class gives it, assumed with MFA."""
        path = "/"
        if account.class_key:
            for role in manifest["classes"][account.class_key]["roles"]:
                if role["name"] == self.break_glass_role:
                    path = role["path"]
        return Role(f"role/{self.break_glass_role}", self.break_glass_role, path, BREAK_GLASS_MFA,
                    frozenset({"aws:multifactorauthpresent"}))

    def bootstrap(self) -> Role:
        return Role.of_pattern(self.bootstrap_role)
