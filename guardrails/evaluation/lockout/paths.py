"""Accounts grouped by the policy path that applies to them, so that each group is proven once.

Two accounts whose root → OU → account path carries the same SCPs and RCPs get the same answer, unless a policy
names an account id or an account-valued key: 1,000 accounts in a few OUs cost about as much as a dozen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails.evaluation.attachments import Levels
from guardrails.evaluation.engine import PolicySet
from guardrails.evaluation.lockout.facts import ADMINISTRATOR
from guardrails.evaluation.organization import Account, Organization
from guardrails.iam.manifest import OrgPolicyEntry


@dataclass
class Path:
    """What applies to the principals of one account (the representative of its group)."""

    account: Account
    scp_levels: Levels
    rcp_levels: Levels


class PathGroups:
    """The organization's accounts by policy path; the paths' SCP/RCP levels are read once per path."""

    def __init__(self, organization: Organization) -> None:
        self.org = organization
        manifest = organization.manifest
        self._attachments = self._attachments_by_target()
        entries = (*manifest.service_control_policies, *manifest.resource_control_policies)
        self._dependent = {e.name: self._account_dependent(e) for e in entries}
        self._paths: dict[tuple, Path] = {}
        self._keys: dict[str, tuple] = {}  # account name → its path key: the proofs group the accounts five times

    def _attachments_by_target(self) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {"scp": {}, "rcp": {}}
        for kind in ("scp", "rcp"):
            for entry in self.org.manifest.org_policies(kind):
                out[kind].setdefault(entry.target, []).append(entry.name)
        return out

    def _account_dependent(self, entry: OrgPolicyEntry) -> bool:
        """Does the policy name an account id of the organization or an account-valued key? Then its effect on a
        principal can differ between accounts of one path, which are then proven one by one."""
        text = self.org.files.get(entry.file, "")
        ids = {a.id for a in self.org.accounts.values()}
        lowered = text.lower()
        return bool(set(re.findall(r"\d{12}", text)) & ids) or any(
            k in lowered for k in ("aws:principalaccount", "aws:resourceaccount", "aws:sourceaccount", "aws:userid",
                                   "aws:username", "${account_id}"))

    def _path_key(self, account: Account) -> tuple:
        key = self._keys.get(account.name)
        if key is None:
            key = self._keys[account.name] = self._compute_key(account)
        return key

    def _compute_key(self, account: Account) -> tuple:
        names = {kind: tuple(n for t in self.org.path_of(account) for n in self._attachments[kind].get(t, []))
                 for kind in ("scp", "rcp")}
        dependent = any(self._dependent.get(n) for kind in names for n in names[kind])
        return (account.management, names["scp"], names["rcp"], account.name if dependent else "")

    def groups(self, *, members_only: bool = False, by_class: bool = False) -> list[tuple[Path, list[Account]]]:
        """Accounts grouped by what applies to them, in name order; each group proven once, on its first account.

        ``by_class``: accounts of different baseline classes apart too (their principals differ)."""
        groups: dict[tuple, list[Account]] = {}
        for account in sorted(self.org.accounts.values(), key=lambda a: a.name):
            if members_only and account.management:
                continue
            key = self._path_key(account) + ((account.class_key,) if by_class else ())
            groups.setdefault(key, []).append(account)
        out = []
        for key, accounts in groups.items():
            path_key = key[:4]
            if path_key not in self._paths:
                rep = accounts[0]
                self._paths[path_key] = Path(rep, self.org.scp_levels(rep), self.org.rcp_levels(rep))
            path = self._paths[path_key]
            if path.account.name != accounts[0].name:  # the class split the group: prove on its own first account
                path = Path(accounts[0], path.scp_levels, path.rcp_levels)
            out.append((path, accounts))
        return out


def path_groups(organization: Organization) -> PathGroups:
    """The organization's :class:`PathGroups`, made once per organization: the lockout proof, the access matrix (and
    its split between the two workers) and the escalation analysis each group its accounts (5 ms each at 1,000
    accounts), and the groups depend only on the organization's files."""
    return organization.memo(("path groups",), lambda: PathGroups(organization))


def role_probe_policies(path: Path, *, levels: Levels | None = None) -> PolicySet:
    """The policies a role probe of the path meets: its SCPs (``levels`` instead, when given) and RCPs, and
    administrator access as its identity (only SCPs and RCPs may deny it). SCPs and RCPs spare the management
    account (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html)."""
    exempt = "SCPs do not restrict principals of the management account" if path.account.management else ""
    return PolicySet(scp_levels=levels if levels is not None else path.scp_levels,
                     rcp_levels=() if path.account.management else path.rcp_levels,
                     identity=(ADMINISTRATOR,), scp_exempt_reason=exempt)
