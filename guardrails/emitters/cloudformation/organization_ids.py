"""What every management-account stack shares: file stems, quotas, logical ids, OU export names, references, and
the per-plan cache through which ``guardrails check``'s quota prediction (organization_limits.py) and the emitter
compute each split once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from guardrails.emitters.cloudformation.render import LogicalIds, ref
from guardrails.policies.ir import Account, OrgUnit, Plan, ServiceControlPolicy

ROOT = "RootId"
ORG = "OrganizationId"
BASE_URL = "BaselineTemplateBaseUrl"
ORGANIZATION = "organization"  # file stems; each stack is named guardrails-<stem>
ACCOUNTS = "organization-accounts"
OU_PARTS = "organization-ous"  # organization-ous-2.yaml …: the OUs that do not fit in organization.yaml
STACKSETS = "stacksets"
# Accounts per accounts stack when they do not all fit in one (they are also kept within the inline body size).
ACCOUNTS_PER_STACK = 200
CHUNK_RESERVE_BYTES = 4096  # of the inline body size, left for an accounts template's header and parameters
# CloudFormation quota: outputs per template (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
# cloudformation-limits.html). Export names: up to 255 characters of [A-Za-z0-9:-].
MAX_OUTPUTS = 200  # the default of limits.yaml's cfn_outputs_per_template, which the emitter reads
MAX_EXPORT_NAME = 255
# AWS::Organizations::Account does not exist in GovCloud: accounts there are created from the commercial
# partition (CreateGovCloudAccount), so the templates refer to them by id.
# https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-organizations.html
NO_ACCOUNT_RESOURCE = frozenset({"aws-us-gov"})

T = TypeVar("T")


def stack(stem: str) -> str:
    return f"guardrails-{stem}"


def template_path(stem: str) -> str:
    return f"cloudformation/{stem}.yaml"


def outputs_limit(plan: Plan) -> int:
    return plan.limits["cfn_outputs_per_template"].value if "cfn_outputs_per_template" in plan.limits \
        else MAX_OUTPUTS


def body_budget(plan: Plan) -> int:
    """Room for resources (and outputs) in an inline body. A fixed reserve for the header, description and
    parameters (about 2 KB with an import note), not their measured size: the header names the blueprint's path,
    and compiling the same blueprint from another directory must not move anything between stacks."""
    return plan.limits["cfn_template_body_bytes"].value - CHUNK_RESERVE_BYTES


# ----------------------------------------------------------------------------- per-plan cache


class _PlanCache:
    """Values computed from one plan (the last one asked about; a plan is immutable), so that the quota prediction
    of ``guardrails check`` and the emitter that follows it in a build share one computation of each split. The
    values are shared: callers never modify them."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.values: dict[str, Any] = {}

    def get(self, plan: Plan, key: str, compute: Callable[[], T]) -> T:
        if self.plan is not plan:
            self.plan, self.values = plan, {}
        if key not in self.values:
            self.values[key] = compute()
        return self.values[key]


_CACHE = _PlanCache()


def cached(plan: Plan, key: str, compute: Callable[[], T]) -> T:
    return _CACHE.get(plan, key, compute)


def member(plan: Plan, name: str) -> Account:
    """plan.organization_account, by a dict (the plan's lookup is linear: minutes for 5,000 accounts)."""
    return cached(plan, "members", lambda: {a.name: a for a in (*plan.accounts, *plan.pending_accounts)})[name]


def unit(plan: Plan, path: str) -> OrgUnit:
    return cached(plan, "units", lambda: {u.path: u for u in plan.units})[path]


# ----------------------------------------------------------------------------- ids and references


@dataclass(frozen=True)
class Ids:
    units: dict[str, str]  # OU path → logical id
    accounts: dict[str, str]  # member account name → logical id (empty where accounts cannot be resources)
    scps: dict[str, str]  # SCP key → logical id
    exports: dict[str, str]  # OU path → export name of its id
    managed: dict[str, str]  # OU path → literal id, for the OUs Control Tower manages (never resources here)


def accounts_are_resources(plan: Plan) -> bool:
    return plan.org.partition not in NO_ACCOUNT_RESOURCE


def organization_ids(plan: Plan) -> Ids:
    """Logical ids for the whole organization at once, so an id never depends on the stack that holds it."""
    return cached(plan, "ids", lambda: _ids(plan))


def _ids(plan: Plan) -> Ids:
    ids = LogicalIds()
    members = list(plan.organization_members) if accounts_are_resources(plan) else []
    names = LogicalIds()
    return Ids(units={u.path: ids("Ou", u.path) for u in plan.units},
               accounts={a.name: ids("Account", a.name) for a in members},
               scps={s.key: names("Rcp" if s.policy_type == "RESOURCE_CONTROL_POLICY" else "Scp", s.key)
                     for s in (*plan.scps, *plan.rcps)},
               exports=export_names(plan),
               managed={u.path: u.existing_id or "" for u in plan.units if u.managed_by})


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def export_names(plan: Plan) -> dict[str, str]:
    """OU path → ``guardrails-<org>-ou-<slug of the path>``: unique, at most 255 characters of ``[a-z0-9-]``.

    Paths whose slugs collide (``A-B`` and ``A/B``), are empty or too long get a stable hash of the path; in sorted
    path order, the first of colliding paths keeps the plain slug.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html"""
    prefix = f"guardrails-{slug(plan.org.name)}-ou-"
    names: dict[str, str] = {}
    for path in sorted(u.path for u in plan.units):
        name = prefix + slug(path)
        if not slug(path) or name in names.values() or len(name) > MAX_EXPORT_NAME:
            digest = hashlib.sha256(path.encode()).hexdigest()[:8]
            name = f"{name[:MAX_EXPORT_NAME - len(digest) - 1].rstrip('-')}-{digest}"
        names[path] = name
    assert len(set(names.values())) == len(names), "OU export names collide"
    assert all(len(n) <= MAX_EXPORT_NAME and re.fullmatch(r"[A-Za-z0-9:-]+", n) for n in names.values())
    return names


def path_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def ou_ref(ids: Ids, path: str, *, local: bool | frozenset[str]) -> Any:
    """An OU's id: RootId for the root, Ref in the organization stack that holds it (``local``: True, or the paths
    this stack holds), the OU's export anywhere else, and the literal id of an OU Control Tower manages (never a
    resource here)."""
    if path == "":
        return ref(ROOT)
    if path in ids.managed:
        return ids.managed[path]
    here = local if isinstance(local, bool) else path in local
    return ref(ids.units[path]) if here else {"Fn::ImportValue": ids.exports[path]}


def account_ref(plan: Plan, ids: Ids, name: str) -> Any:
    """Ref of the account resource (its id; same stack), or the literal id when the account is not a resource."""
    return ref(ids.accounts[name]) if name in ids.accounts else member(plan, name).id


def on_account(scp: ServiceControlPolicy) -> bool:
    return scp.target.startswith("account:")
