"""Stack 2: the accounts stacks (``organization-accounts.yaml``, or ``-1.yaml``, ``-2.yaml`` …): the member
accounts and the SCPs attached to accounts, sorted by OU path then name and cut into chunks that fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrails.emitters.cloudformation.organization_ids import (
    ACCOUNTS,
    ACCOUNTS_PER_STACK,
    Ids,
    accounts_are_resources,
    body_budget,
    cached,
    member,
    on_account,
    organization_ids,
)
from guardrails.emitters.cloudformation.organization_resources import (
    account_resource,
    organization_template,
    scp_resource,
)
from guardrails.emitters.cloudformation.render import CloudFormationLimitError, dump
from guardrails.policies.ir import Plan, ServiceControlPolicy

_KEY = "Resources:\n"


@dataclass(frozen=True)
class Chunk:
    stem: str
    part: int
    parts: int
    accounts: tuple[str, ...]  # names, sorted by OU path then name
    resources: dict[str, Any]
    # The YAML text of each account's resources under ``Resources:``, rendered once to measure the chunk and
    # written as they are (block YAML: each resource's text is independent of the others).
    fragments: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        """Bytes the resources add to the template's text."""
        return sum(len(f.encode("utf-8")) for f in self.fragments)


def attached_scps(plan: Plan) -> dict[str, tuple[ServiceControlPolicy, ...]]:
    """Account name → the SCPs and RCPs attached to it (in its accounts stack: they Ref the account)."""
    attached: dict[str, list[ServiceControlPolicy]] = {}
    for scp in (*plan.scps, *plan.rcps):
        if on_account(scp):
            attached.setdefault(scp.target.partition(":")[2], []).append(scp)
    return {k: tuple(v) for k, v in attached.items()}


def account_resource_counts(plan: Plan, ids: Ids) -> dict[str, int]:
    """Account name → the resources it brings to its stack (the account where it is one, and its SCPs), by name:
    one stack holds them all, so more than a template may hold is a problem no split solves."""
    attached = attached_scps(plan)
    counts = {n: (1 if n in ids.accounts else 0) + len(attached.get(n, ())) for n in {*ids.accounts, *attached}}
    return dict(sorted(counts.items()))


def _account_groups(plan: Plan, ids: Ids) -> list[tuple[str, dict[str, Any]]]:
    """(account, its resources: the account where it is a resource, then the SCPs attached to it), sorted by OU
    path then name. An account and its SCPs always land in the same stack (the SCPs Ref the account)."""
    attached = attached_scps(plan)
    names = sorted({*ids.accounts, *attached}, key=lambda n: (member(plan, n).unit, n))
    groups = []
    for name in names:
        resources = {ids.accounts[name]: account_resource(plan, ids, name)} if name in ids.accounts else {}
        resources.update({ids.scps[s.key]: scp_resource(plan, ids, s) for s in attached.get(name, ())})
        groups.append((name, resources))
    return groups


def _fragment(resources: dict[str, Any]) -> str:
    """The text these resources add under ``Resources:``."""
    text = dump({"Resources": resources})
    assert text.startswith(_KEY), "a block mapping of resources"
    return text[len(_KEY):]


def chunks(plan: Plan, ids: Ids | None = None) -> list[Chunk]:
    """The accounts stacks: one when everything fits, else consecutive runs of the sorted accounts, each at most
    ACCOUNTS_PER_STACK accounts, the resource limit, and the inline template body size. Deterministic: the same
    blueprint always gives the same split. Computed once per plan (``guardrails check`` predicts from the same
    chunks the emitter writes)."""
    return cached(plan, "chunks", lambda: _split(plan, ids or organization_ids(plan)))


def _split(plan: Plan, ids: Ids) -> list[Chunk]:
    limit = plan.limits["cfn_resources_per_template"].value
    budget = body_budget(plan)
    runs: list[list[tuple[str, dict[str, Any], str]]] = []
    run: list[tuple[str, dict[str, Any], str]] = []
    count = size = 0
    for name, resources in _account_groups(plan, ids):
        if len(resources) > limit:
            raise CloudFormationLimitError(
                f"account {name} and the SCPs attached to it are {len(resources)} resources; CloudFormation allows "
                f"{limit} per template. Attach fewer SCPs to the account.")
        fragment = _fragment(resources)
        grows = len(fragment.encode("utf-8"))
        if run and (len(run) == ACCOUNTS_PER_STACK or count + len(resources) > limit or size + grows > budget):
            runs.append(run)
            run, count, size = [], 0, 0
        run.append((name, resources, fragment))
        count += len(resources)
        size += grows
    if run:
        runs.append(run)
    found = []
    for part, members in enumerate(runs, start=1):
        merged = {k: v for _, resources, _ in members for k, v in resources.items()}
        # By construction: a run only grows while it stays within the limit.
        assert len(merged) <= limit, f"accounts stack {part} holds {len(merged)} resources"
        stem = ACCOUNTS if len(runs) == 1 else f"{ACCOUNTS}-{part}"
        found.append(Chunk(stem, part, len(runs), tuple(n for n, _, _ in members), merged,
                           tuple(f for _, _, f in members)))
    return found


def build_accounts(plan: Plan, chunk: Chunk) -> dict[str, Any]:
    part = f" (part {chunk.part} of {chunk.parts})" if chunk.parts > 1 else ""
    what = ("member accounts and the SCPs attached to them" if accounts_are_resources(plan)
            else "the SCPs attached to member accounts")
    return organization_template(plan, what + part, chunk.resources)


def accounts_body(template: dict[str, Any], chunk: Chunk) -> str:
    """``dump(template)`` of :func:`build_accounts`, with the resources' text the split already rendered."""
    if not chunk.fragments or list(template)[-1] != "Resources" or template["Resources"] is not chunk.resources:
        return dump(template)
    return dump({k: v for k, v in template.items() if k != "Resources"}) + _KEY + "".join(chunk.fragments)


def accounts_files(parts: int) -> str:
    return f"{ACCOUNTS}.yaml" if parts <= 1 else f"{ACCOUNTS}-1.yaml … {ACCOUNTS}-{parts}.yaml"
