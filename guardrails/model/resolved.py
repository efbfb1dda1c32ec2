"""The resolved blueprint: OUs, accounts and where each identity lives, plus the AWS facts the checks use."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from guardrails.blueprint.loader import LoadedBlueprint
from guardrails.blueprint.schema import Blueprint, OrgUnit, Placement
from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import Diagnostic
from guardrails.model import library

MAX_OU_DEPTH = 5  # Organizations: OUs nest at most five levels below the root.
SUBSTITUTIONS = ("partition", "account_id", "region", "org_id")
# Policy variables AWS resolves at request time; passed through untouched.
_POLICY_VARIABLE = re.compile(r"^(aws|saml|sts|ec2|iam|s3|token\.actions\.githubusercontent\.com|[a-z0-9.-]+):[\w/.:-]+$|^[*?$]$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")



@dataclass(frozen=True)
class UnitInfo:
    path: str
    name: str
    parent: str
    depth: int
    spec: OrgUnit


@dataclass(frozen=True)
class AccountInfo:
    name: str
    id: str
    email: str
    unit: str
    existing: bool
    management: bool
    yaml_path: tuple[str | int, ...]


@dataclass(frozen=True)
class CatalogAttachment:
    """One catalog guardrail attached at a target, as the blueprint writes it (``- id`` or ``- id: {params}``)."""

    target: str                        # root, ou:PATH or account:NAME
    owner: tuple[str | int, ...]       # YAML path of the mapping that holds the ``guardrails`` list
    index: int                         # position in that list
    guardrail_id: str
    given: dict[str, Any]              # the parameters as written (empty for the bare form)

    @property
    def yaml_path(self) -> tuple[str | int, ...]:
        return (*self.owner, "guardrails", self.index)


@dataclass
class Model:
    """The blueprint, resolved: lookups by name and the account set of every placed identity."""

    source: LoadedBlueprint
    units: dict[str, UnitInfo] = field(default_factory=dict)
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    placements: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # Accounts still to be created (no id yet): only the account itself is emitted; no baseline, no policies.
    pending: dict[str, AccountInfo] = field(default_factory=dict)
    # The released SCPs/RCPs of a canary rollout in progress (rollout.lock.json), by policy name; None: no rollout.
    released: dict[str, dict[str, Any]] | None = None
    # Every job function as compiled (a built-in's permissions, parameters expanded, then its own), resolved once.
    jobs: dict[str, library.EffectiveJob] = field(default_factory=dict)
    # Every well-formed catalog attachment of the tree (root, OUs, accounts), parsed once by the model stage.
    attachments: tuple[CatalogAttachment, ...] = ()
    warnings: list[Diagnostic] = field(default_factory=list)  # the model stage's warnings (GR320), for the summary
    acceptances: tuple[Any, ...] = ()  # the blueprint's accepted_warnings, resolved (guardrails.model.accepted)
    _units_of: tuple[int, dict[str, list[str]]] | None = field(default=None, repr=False, compare=False)

    @property
    def blueprint(self) -> Blueprint:
        return self.source.blueprint

    def accounts_in_unit(self, path: str) -> list[str]:
        """Accounts in the OU ``path`` or nested in it, in blueprint order (``""``: every account)."""
        return list(self._unit_index().get(path, ()))

    def _unit_index(self) -> dict[str, list[str]]:
        # Built once per account set: a scan per call made the class naming quadratic (1,000 accounts, 60 OUs).
        if self._units_of is None or self._units_of[0] != len(self.accounts):
            index: dict[str, list[str]] = {}
            for account in self.accounts.values():
                parts = account.unit.split("/") if account.unit else []
                for depth in range(len(parts) + 1):
                    index.setdefault("/".join(parts[:depth]), []).append(account.name)
            self._units_of = (len(self.accounts), index)
        return self._units_of[1]

    def member_accounts(self) -> list[str]:
        return [a.name for a in self.accounts.values() if not a.management]


@cache
def aws_managed_policy_names() -> frozenset[str]:
    """Names (with path, e.g. ``job-function/Billing``) of all AWS managed policies, from the pinned list."""
    raw = json.loads(resources.files("guardrails.data").joinpath("aws_managed_policy_arns.json").read_text("utf-8"))
    return frozenset(arn.split(":policy/", 1)[1] for arn in raw["arns"])


@cache
def region_facts() -> dict[str, list[str]]:
    return safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))


def _account_hint(model: Model, name: str) -> str:
    """What to do about an account name that is not a usable account: it may be one still to be created."""
    if name in model.pending:
        return (f"{name!r} has no id yet: it is created first (phase 1); refer to it once its id is recorded "
                f"(`guardrails account set-id {name} ID`)")
    return _suggest(name, set(model.accounts))


def _suggest(name: str, candidates: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ("known: " + ", ".join(sorted(candidates)[:12]) if candidates else "")


def _placement_accounts(model: Model, placement: Placement, yaml_path: tuple[str | int, ...],
                        problems: list[Diagnostic], chosen: dict[tuple[Any, ...], tuple[str, ...]] | None = None
                        ) -> tuple[str, ...]:
    """The accounts ``placement`` selects, sorted; its unknown names and an empty selection are ``problems``.
    ``chosen``: selections already made for the same model, by what they read of the placement (many identities
    share one `deploy_to`, and each selection sorts up to every account)."""
    reported = len(problems)
    for index, unit in enumerate(placement.units):
        if unit not in model.units:
            problems.append(Diagnostic.of("GR301", f"unknown OU {unit!r}", model.source.where(*yaml_path, "units", index),
                                          _suggest(unit, set(model.units))))
    for key in ("accounts", "exclude_accounts"):
        for index, name in enumerate(getattr(placement, key)):
            if name not in model.accounts:
                problems.append(Diagnostic.of("GR301", f"unknown account {name!r}",
                                              model.source.where(*yaml_path, key, index), _account_hint(model, name)))
    signature = (placement.all, tuple(placement.units), tuple(placement.accounts), tuple(placement.exclude_accounts))
    chosen = {} if chosen is None else chosen
    if signature not in chosen:
        chosen[signature] = _selected(model, placement)
    selected = chosen[signature]
    if not selected and len(problems) == reported:  # an unknown name above already explains an empty placement
        problems.append(Diagnostic.of("GR308", "this placement selects no account", model.source.where(*yaml_path),
                                      "name OUs with accounts, accounts, or `all: true`"))
    return selected


def _selected(model: Model, placement: Placement) -> tuple[str, ...]:
    """The accounts a placement selects (unknown names select nothing), sorted."""
    chosen: set[str] = set()
    if placement.all:
        chosen.update(model.member_accounts())
    for unit in placement.units:
        if unit in model.units:
            chosen.update(model.accounts_in_unit(unit))
    chosen.update(n for n in placement.accounts if n in model.accounts)
    chosen.difference_update(placement.exclude_accounts)
    return tuple(sorted(chosen))
