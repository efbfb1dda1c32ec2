"""Break-glass: no SCP or RCP Deny reaches the break-glass role except the denials declared intended, its users
can assume it in every account, and a quarantine SCP still lets it (and the bootstrap role) in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from guardrails.evaluation.engine import Policy, PolicySet, Request, statements_of
from guardrails.evaluation.lockout.facts import (
    BREAK_GLASS_MFA,
    OWN_REQUEST_KEYS,
    PRINCIPAL_KEYS,
    catalog_intended_actions,
    catalog_marked,
    catalog_sids,
)
from guardrails.evaluation.lockout.paths import role_probe_policies
from guardrails.evaluation.lockout.principals import Principals
from guardrails.evaluation.lockout.probes import Chosen
from guardrails.evaluation.lockout.search import Search, given_context
from guardrails.evaluation.lockout.statements import Deny, denies_of
from guardrails.evaluation.organization import PrincipalSpec
from guardrails.iam.manifest import Manifest


@dataclass(frozen=True)
class Quarantine:
    """An SCP attached to an account to isolate it; break-glass and the bootstrap role must still get in."""

    document: Mapping[str, Any]
    name: str = "quarantine"
    intended: tuple[str, ...] = ()  # Sids whose denial of break-glass is by design


class Declarations:
    """Which denials of break-glass are by design.

    - Sids per policy: the manifest's ``intended_denials`` of the blueprint's own SCPs, and the caller's;
    - actions per catalog policy: its guardrails' ``locks_break_glass`` (the catalog's own marker);
    - Sids per catalog policy that the blueprint declares (``organization.intended_denials``: guardrail id →
      reason, carried into the manifest's ``intended_denials`` of the policy the guardrail is packed into): every
      Sid listed there that is not a catalog-marked guardrail's.
    """

    def __init__(self, manifest: Manifest, intended: Mapping[str, Iterable[str]],
                 explicit_need_declaration: bool) -> None:
        entries = (*manifest.service_control_policies, *manifest.resource_control_policies)
        self.sids: dict[str, set[str]] = {}
        for entry in entries:
            if not entry.intended_denials:
                continue
            if not entry.guardrails:
                self.sids.setdefault(entry.name, set()).update(entry.intended_denials)
                continue
            # A catalog-marked guardrail's intended denials are read from the catalog, action by action (below):
            # when the packer merges statements, its Sid can carry other guardrails' actions too. The Sids left
            # are those of guardrails the blueprint declares.
            marked = {sid for g in entry.guardrails if catalog_marked(g) for sid in catalog_sids(g)}
            declared = set(entry.intended_denials) - marked
            if declared:
                self.sids.setdefault(entry.name, set()).update(declared)
        for name, sids in intended.items():
            self.sids.setdefault(name, set()).update(sids)
        self.catalog_actions: dict[str, tuple[str, ...]] = {}
        self.explicit: set[str] = set()  # the blueprint's own policies (no catalog guardrail)
        for entry in entries:
            ids = entry.guardrails
            if not ids:
                self.explicit.add(entry.name)
            self.catalog_actions[entry.name] = tuple(a for g in ids for a in catalog_intended_actions(g))
        self.explicit_need_declaration = explicit_need_declaration

    def intended_for(self, deny: Deny, quarantine: bool = False) -> tuple[bool, tuple[str, ...]]:
        """(whole statement intended, actions intended) for the break-glass check."""
        sids = self.sids.get(deny.policy.name, set())
        if "*" in sids or (deny.statement.get("Sid") and deny.statement["Sid"] in sids):
            return True, ()
        if not quarantine and self.explicit_need_declaration is False and deny.policy.name in self.explicit:
            return True, ()
        return False, self.catalog_actions.get(deny.policy.name, ())


def prove_break_glass(search: Search, who: Principals, declarations: Declarations) -> None:
    """No SCP or RCP Deny applies to the break-glass role in a member account for any action of the universe, in
    any context its conditions can be given, intended denials aside. Accounts are proven once per distinct
    SCP/RCP path and class (the role's path is the class's)."""
    for path, accounts in search.paths.groups(members_only=True, by_class=True):
        search.coverage.group("break-glass", len(search.universe))
        role = who.break_glass(search.manifest, path.account)
        policies = role_probe_policies(path)
        for deny in denies_of(policies):
            if deny.policy.kind not in ("scp", "rcp"):
                continue
            whole, excluded = declarations.intended_for(deny)
            if whole:
                continue
            search.prove_statement("break-glass", role, accounts, path, deny, policies, PRINCIPAL_KEYS, excluded)


def prove_quarantine(search: Search, who: Principals, quarantine: Quarantine) -> None:
    """Attached to any member account (below what is attached there), the quarantine SCP denies neither the
    break-glass role nor the bootstrap role any action, its intended Sids aside."""
    policy = Policy(quarantine.name, "scp", quarantine.document, "quarantine SCP (given to the proof)")
    for path, accounts in search.paths.groups(members_only=True, by_class=True):
        search.coverage.group("quarantine", len(search.universe))
        level, attached = path.scp_levels[-1]
        levels = (*path.scp_levels[:-1], (level, (*attached, replace(policy, level=level))))
        policies = role_probe_policies(path, levels=levels)
        probes = [who.break_glass(search.manifest, path.account), who.bootstrap()]
        for index, statement in enumerate(statements_of(policy)):
            if statement["Effect"] != "Deny" or statement.get("Sid") in quarantine.intended:
                continue
            deny = Deny(replace(policy, level=level), index, statement)
            for role in probes:
                search.prove_statement("quarantine", role, accounts, path, deny, policies, PRINCIPAL_KEYS, ())


def prove_break_glass_entry(search: Search, who: Principals) -> None:
    """The break-glass users (tagged guardrails:purpose=break-glass) assume the role in every account."""
    org, manifest = search.org, search.manifest
    bg_account = org.accounts.get(who.break_glass_account)
    if bg_account is None or bg_account.class_key is None:
        return
    users = [u.name for u in org.class_entry(bg_account).users if u.tag("guardrails:purpose") == "break-glass"]
    for path, accounts in search.paths.groups(by_class=True):
        role = who.break_glass(manifest, path.account)
        resource = role.arn(search.partition, path.account.id)
        if org.class_entry(path.account).role(who.break_glass_role) is None:
            continue
        for user in users:
            spec = PrincipalSpec("user", user)

            def make(action: str, res: str, chosen: Chosen, spec: PrincipalSpec = spec) -> tuple[Request, PolicySet]:
                return org.prepare(spec, bg_account.name, action, res, given_context(BREAK_GLASS_MFA, chosen))

            search.check_requests("break-glass-entry", f"user/{user}", accounts, path, [("sts:AssumeRole", resource)],
                                  make, OWN_REQUEST_KEYS)
