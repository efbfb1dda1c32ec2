"""Classes of accounts: accounts whose baselines are identical share one class (one stack, one set of files).

A class keeps its name while it holds the accounts it had (:mod:`~guardrails.policies.class_lock`); a new class is
named after the OUs it covers exactly, its single account, or the OUs its accounts are in (docs/accounts.md)."""

from __future__ import annotations

from collections import defaultdict

from guardrails.iam.organization import outermost
from guardrails.model.build import Model
from guardrails.policies.baselines import baseline_for
from guardrails.policies.class_lock import assign_names, read_lock
from guardrails.policies.ir import Baseline, BaselineClass, OrgInfo
from guardrails.policies.jobs import JobCompilation
from guardrails.policies.statements import slug


def baseline_classes(model: Model, info: OrgInfo, compiled: dict[str, JobCompilation]) -> tuple[BaselineClass, ...]:
    """Group accounts whose baselines are identical; each class keeps its locked name, or gets a new one."""
    by_content: dict[Baseline, list[str]] = defaultdict(list)
    management: list[BaselineClass] = []
    # A baseline depends only on which identities an account holds (and whether it holds the break-glass
    # users), so accounts with the same placements share one computation: large organizations stay fast.
    # Identities deployed alike (one selection of accounts) are one placement here: an account's signature names
    # the placements it is in, each account visited once per placement rather than once per identity.
    placements: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for identity, accounts in model.placements.items():
        placements[accounts].append(identity)
    identities = list(placements.values())
    placed_in: dict[str, set[int]] = defaultdict(set)
    for index, accounts in enumerate(placements):
        for account in accounts:
            placed_in[account].add(index)
    computed: dict[tuple[bool, frozenset[int]], Baseline] = {}
    # Equal baselines of different signatures become one object, so accounts group by that object (hashing a
    # Baseline walks all of it; once per signature, not once per account: 5,000 accounts, 30 s).
    canonical: dict[Baseline, Baseline] = {}
    by_object: dict[int, list[str]] = defaultdict(list)
    shared: dict[tuple[str, str], object] = {}  # what every class's baseline_for builds alike (trusts, boundaries)
    for name, account in sorted(model.accounts.items()):
        signature = (name == model.blueprint.organization.break_glass.account, frozenset(placed_in[name]))
        if signature not in computed:
            placed = frozenset(identity for index in signature[1] for identity in identities[index])
            fresh = baseline_for(model, name, info, compiled, shared, placed=placed)
            computed[signature] = canonical.setdefault(fresh, fresh)
        baseline = computed[signature]
        if account.management:
            # StackSets never deploy to the management account: it always gets a class (and stack) of its own.
            management.append(BaselineClass(name, (name,), baseline))
        else:
            by_object[id(baseline)].append(name)
    for baseline in canonical.values():
        if id(baseline) in by_object:
            by_content[baseline] = by_object[id(baseline)]
    members = sorted(by_content.items(), key=lambda item: item[1])
    groups = [c.accounts for c in management] + [accounts for _, accounts in members]
    whole = _WholeUnits(model)
    names = assign_names(groups, read_lock(model.source.directory, model.source.display_name),
                         lambda accounts: _fresh_name(model, accounts, whole))
    management = [BaselineClass(name, c.accounts, c.baseline)
                  for name, c in zip(names[:len(management)], management, strict=True)]
    classes = [BaselineClass(name, tuple(accounts), baseline, tuple(whole(accounts)))
               for name, (baseline, accounts) in zip(names[len(management):], members, strict=True)]
    return tuple(management + sorted(classes, key=lambda c: c.key))


def _fresh_name(model: Model, accounts: list[str] | tuple[str, ...], whole_units: _WholeUnits) -> str:
    """A new class's name: its single account, the OUs it covers exactly, else the OUs its accounts are in.

    Used once, when the class first appears; the lock keeps it afterwards, whoever joins or leaves the class.
    """
    if len(accounts) == 1:
        return accounts[0]
    whole = whole_units(accounts)
    if whole and set().union(*(whole_units.members[u] for u in whole)) == set(accounts):
        return "-".join(slug(u) for u in whole)
    return "-".join(slug(u) or "root" for u in sorted({model.accounts[a].unit for a in accounts}))


class _WholeUnits:
    """Maximal OUs all of whose accounts (recursively, at least one) belong to a set of accounts, for the classes of
    one synthesis: each OU's accounts are a set built once, and each class's answer is kept for its name and its
    record (a set per OU and per class made this quadratic: 41 classes × 116 OUs at 1,000 accounts)."""

    def __init__(self, model: Model) -> None:
        self.members = {u: frozenset(model.accounts_in_unit(u)) for u in model.units}
        self._found: dict[frozenset[str], list[str]] = {}

    def __call__(self, accounts: list[str] | tuple[str, ...]) -> list[str]:
        chosen = frozenset(accounts)
        if chosen not in self._found:
            self._found[chosen] = _whole_units(self.members, chosen)
        return list(self._found[chosen])


def _whole_units(members: dict[str, frozenset[str]], accounts: frozenset[str]) -> list[str]:
    """Maximal OUs (``members``: OU → its accounts) all of whose accounts, at least one, are in ``accounts``."""
    return outermost(u for u, inside in members.items() if inside and inside <= accounts)
