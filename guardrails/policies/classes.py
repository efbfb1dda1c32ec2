"""Classes of accounts: accounts whose baselines are identical share one class (one stack, one set of files)."""

from __future__ import annotations

from collections import defaultdict

from guardrails.iam.organization import outermost
from guardrails.model.build import Model
from guardrails.policies.baselines import baseline_for
from guardrails.policies.ir import Baseline, BaselineClass, OrgInfo
from guardrails.policies.jobs import JobCompilation
from guardrails.policies.statements import slug


def baseline_classes(model: Model, info: OrgInfo, compiled: dict[str, JobCompilation]) -> tuple[BaselineClass, ...]:
    """Group accounts whose baselines are identical; name each class after what it covers."""
    by_content: dict[Baseline, list[str]] = defaultdict(list)
    management: list[BaselineClass] = []
    # A baseline depends only on which identities an account holds (and whether it holds the break-glass
    # users), so accounts with the same placements share one computation: large organizations stay fast.
    placed_in: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for identity, accounts in model.placements.items():
        for account in accounts:
            placed_in[account].add(identity)
    computed: dict[tuple[bool, frozenset[tuple[str, str]]], Baseline] = {}
    for name, account in sorted(model.accounts.items()):
        signature = (name == model.blueprint.organization.break_glass.account, frozenset(placed_in[name]))
        if signature not in computed:
            computed[signature] = baseline_for(model, name, info, compiled)
        baseline = computed[signature]
        if account.management:
            # StackSets never deploy to the management account: it always gets a class (and stack) of its own.
            management.append(BaselineClass(name, (name,), baseline))
        else:
            by_content[baseline].append(name)
    classes: list[BaselineClass] = []
    used: set[str] = {c.key for c in management}
    for baseline, accounts in sorted(by_content.items(), key=lambda item: item[1]):
        whole = _whole_units(model, set(accounts))
        covered = {a for u in whole for a in model.accounts_in_unit(u)}
        if len(accounts) == 1:
            key = accounts[0]
        elif whole and covered == set(accounts):
            key = "-".join(slug(u) for u in whole)
        else:
            key = f"{accounts[0]}-and-{len(accounts) - 1}-more"
        base, n = key[:60], 2
        while key in used:
            key, n = f"{base}-{n}", n + 1
        used.add(key)
        classes.append(BaselineClass(key, tuple(accounts), baseline, tuple(whole)))
    return tuple(management + sorted(classes, key=lambda c: c.key))


def _whole_units(model: Model, accounts: set[str]) -> list[str]:
    """Maximal OUs all of whose accounts (recursively, at least one) belong to the given set."""
    full = [u for u in model.units if (inside := model.accounts_in_unit(u)) and set(inside) <= accounts]
    return outermost(full)
