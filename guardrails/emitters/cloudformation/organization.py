"""The management-account stacks, deployed in this order (CloudFormation allows 500 resources per template, and a
1,000-account organization does not fit in one):

1. ``organization.yaml`` (then ``organization-ous-2.yaml``, ``-3.yaml``… when one template cannot hold every OU):
   the OUs and the SCPs attached to the root and to OUs; each exports the ids of the OUs it holds.
2. ``organization-accounts.yaml`` (or ``organization-accounts-1.yaml``, ``-2.yaml``… when one template cannot hold
   them all): the member accounts and the SCPs attached to accounts. Parents come from the OU exports.
3. ``stacksets.yaml``: one service-managed baseline StackSet per member-account class.

Existing OUs are imported into stack 1, existing accounts into the accounts stack that holds them: each stack with
something to import gets ``<stack file>-import.yaml`` (the IMPORT change set's template) and ``-import.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from guardrails.emitters.cloudformation import security as security_templates
from guardrails.emitters.cloudformation.baseline import stack_name
from guardrails.emitters.cloudformation.render import (
    CloudFormationLimitError,
    LogicalIds,
    check_limits,
    dump,
    has_placeholder,
    ref,
    resource,
    skip_metadata,
    template,
    with_header,
)
from guardrails.iam.organization import in_unit
from guardrails.policies.ir import Account, BaselineClass, Plan, ServiceControlPolicy, partition_facts

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


def stack(stem: str) -> str:
    return f"guardrails-{stem}"


def _path(stem: str) -> str:
    return f"cloudformation/{stem}.yaml"


@dataclass(frozen=True)
class _Ids:
    units: dict[str, str]  # OU path → logical id
    accounts: dict[str, str]  # member account name → logical id (empty where accounts cannot be resources)
    scps: dict[str, str]  # SCP key → logical id
    exports: dict[str, str]  # OU path → export name of its id
    managed: dict[str, str]  # OU path → literal id, for the OUs Control Tower manages (never resources here)


_MEMBERS: dict[int, tuple[Plan, dict[str, Account]]] = {}


def _member(plan: Plan, name: str) -> Account:
    """plan.organization_account, by a dict (the plan's lookup is linear: minutes for 5,000 accounts)."""
    entry = _MEMBERS.get(id(plan))
    if entry is None or entry[0] is not plan:
        _MEMBERS.clear()
        entry = _MEMBERS[id(plan)] = (plan, {a.name: a for a in (*plan.accounts, *plan.pending_accounts)})
    return entry[1][name]


def accounts_are_resources(plan: Plan) -> bool:
    return plan.org.partition not in NO_ACCOUNT_RESOURCE


def _ids(plan: Plan) -> _Ids:
    """Logical ids for the whole organization at once, so an id never depends on the stack that holds it."""
    ids = LogicalIds()
    members = list(plan.organization_members) if accounts_are_resources(plan) else []
    names = LogicalIds()
    return _Ids(units={u.path: ids("Ou", u.path) for u in plan.units},
                accounts={a.name: ids("Account", a.name) for a in members},
                scps={s.key: names("Rcp" if s.policy_type == "RESOURCE_CONTROL_POLICY" else "Scp", s.key)
                      for s in (*plan.scps, *plan.rcps)},
                exports=export_names(plan),
                managed={u.path: u.existing_id or "" for u in plan.units if u.managed_by})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def export_names(plan: Plan) -> dict[str, str]:
    """OU path → ``guardrails-<org>-ou-<slug of the path>``: unique, at most 255 characters of ``[a-z0-9-]``.

    Paths whose slugs collide (``A-B`` and ``A/B``), are empty or too long get a stable hash of the path; in sorted
    path order, the first of colliding paths keeps the plain slug.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html"""
    prefix = f"guardrails-{_slug(plan.org.name)}-ou-"
    names: dict[str, str] = {}
    for path in sorted(u.path for u in plan.units):
        name = prefix + _slug(path)
        if not _slug(path) or name in names.values() or len(name) > MAX_EXPORT_NAME:
            digest = hashlib.sha256(path.encode()).hexdigest()[:8]
            name = f"{name[:MAX_EXPORT_NAME - len(digest) - 1].rstrip('-')}-{digest}"
        names[path] = name
    assert len(set(names.values())) == len(names), "OU export names collide"
    assert all(len(n) <= MAX_EXPORT_NAME and re.fullmatch(r"[A-Za-z0-9:-]+", n) for n in names.values())
    return names


def _ou(ids: _Ids, path: str, *, local: bool | frozenset[str]) -> Any:
    """An OU's id: RootId for the root, Ref in the organization stack that holds it (``local``: True, or the paths
    this stack holds), the OU's export anywhere else, and the literal id of an OU Control Tower manages (never a
    resource here)."""
    if path == "":
        return ref(ROOT)
    if path in ids.managed:
        return ids.managed[path]
    here = local if isinstance(local, bool) else path in local
    return ref(ids.units[path]) if here else {"Fn::ImportValue": ids.exports[path]}


def _account(plan: Plan, ids: _Ids, name: str) -> Any:
    """Ref of the account resource (its id; same stack), or the literal id when the account is not a resource."""
    return ref(ids.accounts[name]) if name in ids.accounts else _member(plan, name).id


def _parameters(plan: Plan) -> dict[str, Any]:
    return {
        ORG: {"Type": "String", "Default": plan.org.org_id, "AllowedPattern": "^o-[a-z0-9]{10,32}$",
              "Description": "Organization id from the blueprint (CloudFormation cannot look it up). "
                             "The SCPs already embed it; it is exported for the pipelines that read this stack."},
        ROOT: {"Type": "String", "Default": plan.org.root_id, "AllowedPattern": "^r-[0-9a-z]{4,32}$",
               "Description": "Root id of the organization (CloudFormation cannot look it up)."},
        BASE_URL: {
            "Type": "String", "AllowedPattern": "^https://[^\\s]+[^/\\s]$",
            "Description": "S3 https URL prefix, without a trailing slash, where the baseline-*.yaml templates "
                           "are uploaded (the StackSets read their TemplateURL from it)."},
        # Only in stacksets.yaml, and only when account-security.yaml takes the log archive key as a parameter.
        security_templates.LOG_KEY: {
            "Type": "String", "AllowedPattern": "^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$",
            "Description": "ARN of the log archive's KMS key (output LogArchiveKeyArn of the guardrails-log-archive "
                           "stack), passed on to the account security StackSet."},
    }


def _template(plan: Plan, description: str, resources: dict[str, Any],
              outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return template(plan, description, resources, parameters=_parameters(plan), outputs=outputs)


# ----------------------------------------------------------------------------- resources


def _unit_resource(plan: Plan, ids: _Ids, path: str, here: frozenset[str] | None = None) -> dict[str, Any]:
    """The OU; its parent is a Ref when this stack holds it (``here``: the paths it holds; None: all of them), else
    the export of an earlier organization stack (parents come before children in path order)."""
    unit = next(u for u in plan.units if u.path == path)
    # Retain: deleting the stack, or a change that forces replacement, must never delete an OU.
    properties = {"Name": unit.name, "ParentId": _ou(ids, unit.parent, local=True if here is None else here)}
    return resource("AWS::Organizations::OrganizationalUnit", properties, deletion="Retain",
                    metadata=skip_metadata("ou", unit.path))


def _account_resource(plan: Plan, ids: _Ids, name: str, *, parent_known: bool = True) -> dict[str, Any]:
    account = _member(plan, name)
    properties: dict[str, Any] = {"AccountName": account.name, "Email": account.email}
    if parent_known:
        properties["ParentIds"] = [_ou(ids, account.unit, local=False)]
    # The role Organizations creates in a new account; ignored for accounts that already exist.
    properties["RoleName"] = plan.org.deployment_role
    # Retain: removing an account from the stack must never close it.
    return resource("AWS::Organizations::Account", properties, deletion="Retain",
                    metadata=skip_metadata("account", account.name))


def _scp(plan: Plan, ids: _Ids, scp: ServiceControlPolicy) -> dict[str, Any]:
    if has_placeholder(scp.document):
        raise ValueError(f"SCP {scp.name} contains ${{account_id}} or ${{region}}: an SCP is one document for many "
                         "accounts, so there is no single value to substitute. Use a wildcard or a condition on "
                         "aws:PrincipalAccount / aws:RequestedRegion instead.")
    kind, _, name = scp.target.partition(":")
    if kind == "root":
        target: Any = ref(ROOT)
    elif kind == "ou":
        target = _ou(ids, name, local=True)  # the organization stack holds the OUs and these SCPs
    elif kind == "account":
        # Ref of AWS::Organizations::Account (in the same accounts stack) is the account id; the management account,
        # and every account in GovCloud, is never a resource.
        target = _account(plan, ids, name)
    else:
        raise ValueError(f"SCP {scp.name}: unknown target {scp.target!r}")
    return resource("AWS::Organizations::Policy", {
        "Name": scp.name,
        "Description": scp.description,
        "Type": scp.policy_type,
        # IAM policy variables in an SCP stay plain strings: only Fn::Sub would interpret ${...}.
        "Content": scp.document.to_json(),
        "TargetIds": [target],
    }, metadata=skip_metadata("scp", scp.key))


def _on_account(scp: ServiceControlPolicy) -> bool:
    return scp.target.startswith("account:")


# ----------------------------------------------------------------------------- stack 1: OUs and their SCPs


@dataclass(frozen=True)
class OuPart:
    """One organization stack: ``organization`` (part 1: also the root's SCPs and the OrganizationId output) or
    ``organization-ous-<part>``."""

    stem: str
    part: int
    parts: int
    units: tuple[str, ...]  # OU paths this stack creates and exports, in path order
    resources: dict[str, Any]
    outputs: dict[str, Any]


def _path_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _organization_output() -> dict[str, Any]:
    return {ORG: {"Description": "The organization this stack manages.", "Value": ref(ORG)}}


def _unit_groups(plan: Plan, ids: _Ids) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """(part 1's own resources: SCPs on the root and on Control Tower's OUs, [(OU path, its resources: the OU then the
    SCPs attached to it, its output)] in path order: a parent always comes before its children, so a parent is in
    the same stack or an earlier one). Parents are written as exports here; :func:`_localize` turns them into Refs."""
    on_unit: dict[str, list[ServiceControlPolicy]] = {}
    first: dict[str, Any] = {}
    for scp in (*plan.scps, *plan.rcps):
        if _on_account(scp):
            continue
        kind, _, name = scp.target.partition(":")
        if kind == "ou" and name not in ids.managed:
            on_unit.setdefault(name, []).append(scp)
        else:
            first[ids.scps[scp.key]] = _scp(plan, ids, scp)
    groups = []
    for unit in sorted((u for u in plan.units if not u.managed_by), key=lambda u: _path_key(u.path)):
        resources = {ids.units[unit.path]: _unit_resource(plan, ids, unit.path, frozenset())}
        resources.update({ids.scps[s.key]: _scp(plan, ids, s) for s in on_unit.get(unit.path, [])})
        output = {ids.units[unit.path] + "Id": {"Description": f"Id of the OU {unit.path}",
                                                "Value": ref(ids.units[unit.path]),
                                                "Export": {"Name": ids.exports[unit.path]}}}
        groups.append((unit.path, resources, output))
    return first, groups


def _section_bytes(key: str, entries: dict[str, Any]) -> int:
    """Bytes these entries add under ``<key>:`` (block YAML: each entry's text is independent)."""
    return len(dump({key: entries}).encode("utf-8")) - len(f"{key}:\n")


def ou_parts(plan: Plan, ids: _Ids | None = None) -> list[OuPart]:
    """The organization stacks: consecutive runs of the OUs in path order, each within the outputs and resources
    per template and the inline body size (less a fixed reserve for the header and parameters, so that the split
    never depends on where the blueprint lies). An OU and the SCPs attached to it always share a stack (the SCPs
    Ref it). Deterministic; adding an OU moves only OUs after it in path order, and only across a part boundary.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""
    ids = ids or _ids(plan)
    outputs_limit = plan.limits["cfn_outputs_per_template"].value if "cfn_outputs_per_template" in plan.limits \
        else MAX_OUTPUTS
    resources_limit = plan.limits["cfn_resources_per_template"].value
    budget = plan.limits["cfn_template_body_bytes"].value - CHUNK_RESERVE_BYTES
    first, groups = _unit_groups(plan, ids)
    organization = _organization_output()
    runs: list[list[str]] = [[]]
    count, outputs = len(first), len(organization)
    size = _section_bytes("Outputs", organization) + (_section_bytes("Resources", first) if first else 0)
    for path, resources, output in groups:
        if len(resources) > resources_limit:
            raise CloudFormationLimitError(
                f"OU {path} and the SCPs attached to it are {len(resources)} resources; CloudFormation allows "
                f"{resources_limit} per template. Attach fewer SCPs to the OU.")
        grows = _section_bytes("Resources", resources) + _section_bytes("Outputs", output)
        if (runs[-1] or count) and (outputs + 1 > outputs_limit or count + len(resources) > resources_limit
                                    or size + grows > budget):
            runs.append([])
            count = outputs = size = 0
        runs[-1].append(path)
        count += len(resources)
        outputs += 1
        size += grows
    # Each stack lists its OUs, then its SCPs, in the plan's order (one stack: exactly the single template of old).
    by_path = {path: (resources, output) for path, resources, output in groups}
    parts = []
    for part, members in enumerate(runs, start=1):
        here = frozenset(members)
        units: dict[str, Any] = {}
        policies: dict[str, Any] = dict(first) if part == 1 else {}
        out: dict[str, Any] = dict(organization) if part == 1 else {}
        for unit in plan.units:
            if unit.path in here:
                resources, output = by_path[unit.path]
                own = _localize(resources, ids, here)
                unit_id = ids.units[unit.path]
                units[unit_id] = own[unit_id]
                policies.update({k: v for k, v in own.items() if k != unit_id})
                out.update(output)
        order = {ids.scps[s.key]: i for i, s in enumerate((*plan.scps, *plan.rcps))}
        stem = ORGANIZATION if part == 1 else f"{OU_PARTS}-{part}"
        parts.append(OuPart(stem, part, len(runs), tuple(sorted(here, key=_path_key)),
                            {**units, **dict(sorted(policies.items(), key=lambda kv: order[kv[0]]))}, out))
    return parts


def _localize(group: dict[str, Any], ids: _Ids, here: frozenset[str]) -> dict[str, Any]:
    """The group with an OU's parent as a Ref where this stack holds the parent (the export otherwise)."""
    exported = {ids.exports[p]: p for p in here}
    out = {}
    for key, value in group.items():
        parent = value["Properties"].get("ParentId") if value["Type"] == "AWS::Organizations::OrganizationalUnit" \
            else None
        if isinstance(parent, dict) and parent.get("Fn::ImportValue") in exported:
            value = {**value, "Properties": {**value["Properties"],
                                             "ParentId": ref(ids.units[exported[parent["Fn::ImportValue"]]])}}
        out[key] = value
    return out


def build_organization(plan: Plan, ids: _Ids, part: OuPart | None = None) -> dict[str, Any]:
    """One organization stack (the first when ``part`` is None)."""
    part = part or ou_parts(plan, ids)[0]
    outputs_limit = plan.limits["cfn_outputs_per_template"].value if "cfn_outputs_per_template" in plan.limits \
        else MAX_OUTPUTS
    if len(part.outputs) > outputs_limit:  # by construction of ou_parts; the backstop of `guardrails check`
        raise CloudFormationLimitError(
            f"{_path(part.stem)}: {len(part.units)} OUs need {len(part.outputs)} outputs (every OU id is exported for "
            f"the accounts and StackSet stacks); CloudFormation allows {outputs_limit} per template. Please report it.")
    if part.parts == 1:
        what = "organizational units and the SCPs attached to the root and to OUs"
    else:
        what = f"organizational units and the SCPs attached to the root and to OUs (part {part.part} of {part.parts})"
    return _template(plan, what, part.resources, part.outputs)


# ----------------------------------------------------------------------------- stack 2: accounts and their SCPs


@dataclass(frozen=True)
class _Chunk:
    stem: str
    part: int
    parts: int
    accounts: tuple[str, ...]  # names, sorted by OU path then name
    resources: dict[str, Any]


def _account_groups(plan: Plan, ids: _Ids) -> list[tuple[str, dict[str, Any]]]:
    """(account, its resources: the account where it is a resource, then the SCPs attached to it), sorted by OU
    path then name. An account and its SCPs always land in the same stack (the SCPs Ref the account)."""
    attached: dict[str, list[ServiceControlPolicy]] = {}
    for scp in (*plan.scps, *plan.rcps):
        if _on_account(scp):
            attached.setdefault(scp.target.partition(":")[2], []).append(scp)
    names = sorted({*ids.accounts, *attached}, key=lambda n: (_member(plan, n).unit, n))
    groups = []
    for name in names:
        resources = {ids.accounts[name]: _account_resource(plan, ids, name)} if name in ids.accounts else {}
        resources.update({ids.scps[s.key]: _scp(plan, ids, s) for s in attached.get(name, [])})
        groups.append((name, resources))
    return groups


def _yaml_bytes(resources: dict[str, Any]) -> int:
    """Bytes these resources add under ``Resources:`` (block YAML: each resource's text is independent)."""
    return len(dump({"Resources": resources}).encode("utf-8")) - len("Resources:\n")


def _chunks(plan: Plan, ids: _Ids) -> list[_Chunk]:
    """The accounts stacks: one when everything fits, else consecutive runs of the sorted accounts, each at most
    ACCOUNTS_PER_STACK accounts, the resource limit, and the inline template body size. Deterministic: the same
    blueprint always gives the same split."""
    limit = plan.limits["cfn_resources_per_template"].value
    # Room for resources in an inline body. A fixed reserve for the header, description and parameters (about 2 KB
    # with an import note), not their measured size: the header names the blueprint's path, and compiling the same
    # blueprint from another directory must not move accounts between stacks.
    budget = plan.limits["cfn_template_body_bytes"].value - CHUNK_RESERVE_BYTES
    runs: list[list[tuple[str, dict[str, Any]]]] = []
    run: list[tuple[str, dict[str, Any]]] = []
    count = size = 0
    for name, resources in _account_groups(plan, ids):
        if len(resources) > limit:
            raise CloudFormationLimitError(
                f"account {name} and the SCPs attached to it are {len(resources)} resources; CloudFormation allows "
                f"{limit} per template. Attach fewer SCPs to the account.")
        grows = _yaml_bytes(resources)
        if run and (len(run) == ACCOUNTS_PER_STACK or count + len(resources) > limit or size + grows > budget):
            runs.append(run)
            run, count, size = [], 0, 0
        run.append((name, resources))
        count += len(resources)
        size += grows
    if run:
        runs.append(run)
    chunks = []
    for part, members in enumerate(runs, start=1):
        merged = {k: v for _, resources in members for k, v in resources.items()}
        # By construction: a run only grows while it stays within the limit.
        assert len(merged) <= limit, f"accounts stack {part} holds {len(merged)} resources"
        stem = ACCOUNTS if len(runs) == 1 else f"{ACCOUNTS}-{part}"
        chunks.append(_Chunk(stem, part, len(runs), tuple(n for n, _ in members), merged))
    return chunks


def build_accounts(plan: Plan, chunk: _Chunk) -> dict[str, Any]:
    part = f" (part {chunk.part} of {chunk.parts})" if chunk.parts > 1 else ""
    what = ("member accounts and the SCPs attached to them" if accounts_are_resources(plan)
            else "the SCPs attached to member accounts")
    return _template(plan, what + part, chunk.resources)


def _accounts_files(parts: int) -> str:
    return f"{ACCOUNTS}.yaml" if parts <= 1 else f"{ACCOUNTS}-1.yaml … {ACCOUNTS}-{parts}.yaml"


# ----------------------------------------------------------------------------- stack 3: baseline StackSets


def _accounts_under(plan: Plan, path: str) -> set[str]:
    return {a.name for a in plan.accounts if not a.management and in_unit(a.unit, path)}


def _deployment_targets(plan: Plan, ids: _Ids, cls: BaselineClass) -> dict[str, Any]:
    """Whole OUs (nested OUs included) when the class is exactly their accounts, so accounts added there later
    get the baseline too; otherwise the class's accounts, intersected with the OUs that hold them. The accounts
    live in other stacks: they are named by id.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html"""
    if cls.whole_units:
        covered = set().union(*(_accounts_under(plan, u) for u in cls.whole_units))
        if covered == set(cls.accounts):
            return {"OrganizationalUnitIds": [_ou(ids, u, local=False) for u in cls.whole_units],
                    "AccountFilterType": "NONE"}
    units = sorted({_member(plan, a).unit for a in cls.accounts})
    return {"OrganizationalUnitIds": [_ou(ids, u, local=False) for u in units],
            "Accounts": [_member(plan, a).id for a in cls.accounts],
            "AccountFilterType": "INTERSECTION"}


def _stackset(plan: Plan, ids: _Ids, cls: BaselineClass) -> dict[str, Any]:
    # No DependsOn: the accounts are in the accounts stacks, deployed before this one.
    return resource("AWS::CloudFormation::StackSet", {
        "StackSetName": stack_name(cls, management=False),
        "Description": f"guardrails IAM baseline for the account class {cls.key}",
        "PermissionModel": "SERVICE_MANAGED",
        # Retain (the default): an account that leaves the targeted OUs (moved to another OU, to Quarantine, or out
        # of the organization) keeps BreakGlass and the other baseline roles. With False, StackSets deletes its stack
        # instance and with it the break-glass role, which is what an incident response needs most. The account's
        # new OU brings its own baseline; the stack left behind is cleaned up by hand (docs/deploying.md).
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": plan.org.retain_stacks},
        "CallAs": "SELF",
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        # Queue operations instead of failing when an auto-deployment overlaps an update.
        "ManagedExecution": {"Active": True},
        "TemplateURL": {"Fn::Sub": f"${{{BASE_URL}}}/baseline-{cls.key}.yaml"},
        # The home region only: IAM is global, a second region's instance fails with EntityAlreadyExists.
        "StackInstancesGroup": [{"DeploymentTargets": _deployment_targets(plan, ids, cls),
                                 "Regions": [plan.org.home_region]}],
    }, metadata=skip_metadata("stackset", cls.key))


def build_stacksets(plan: Plan, ids: _Ids) -> dict[str, Any]:
    names = LogicalIds()
    resources = {names("StackSet", c.key): _stackset(plan, ids, c) for c in plan.classes if not _is_management(plan, c)}
    if plan.security is not None:
        # Every member account: the organization root, so accounts added later get it too.
        resources[names("StackSet", security_templates.ACCOUNT_SECURITY)] = security_templates.stackset(
            plan, plan.security, ref(ROOT), BASE_URL, ref(security_templates.LOG_KEY))
    return _template(plan, "baseline StackSets", resources)


def _is_management(plan: Plan, cls: BaselineClass) -> bool:
    return any(_member(plan, a).management for a in cls.accounts)


# ----------------------------------------------------------------------------- importing what exists


def _existing_units(plan: Plan) -> list[str]:
    return [u.path for u in plan.units if u.existing_id and not u.managed_by]


def _existing_accounts(plan: Plan, chunk: _Chunk) -> list[str]:
    return [n for n in chunk.accounts if accounts_are_resources(plan) and not _member(plan, n).management
            and _member(plan, n).existing]


def _organization_import(plan: Plan, ids: _Ids, part: OuPart | None = None
                         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The IMPORT change set of stack 1: (template, ``--resources-to-import`` list). Only the resources being
    imported: an IMPORT change set may add nothing else (no new resources, no outputs).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-existing-stack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceToImport.html"""
    units = _existing_units(plan)
    here = frozenset(part.units) if part is not None else None
    resources: dict[str, Any] = {}
    to_import = []
    for path in units:
        unit = next(u for u in plan.units if u.path == path)
        if unit.parent and unit.parent not in units:
            raise ValueError(f"OU {path} exists (id {unit.existing_id}) but its parent {unit.parent} does not: "
                             "an existing OU can only sit under an existing parent; give the parent its id too.")
        if here is not None and path not in here:
            continue  # imported by the organization stack that holds it
        resources[ids.units[path]] = _unit_resource(plan, ids, path, here)
        to_import.append({"ResourceType": "AWS::Organizations::OrganizationalUnit",
                          "LogicalResourceId": ids.units[path], "ResourceIdentifier": {"Id": unit.existing_id}})
    return _template(plan, "import of the existing organizational units", resources), to_import


def _accounts_import(plan: Plan, ids: _Ids, chunk: _Chunk) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The IMPORT change set of one accounts stack (see :func:`_organization_import`)."""
    units = set(_existing_units(plan))
    resources: dict[str, Any] = {}
    to_import = []
    for name in _existing_accounts(plan, chunk):
        unit = _member(plan, name).unit
        # An existing account moving into a new OU: import it without a parent; the following update moves it.
        resources[ids.accounts[name]] = _account_resource(plan, ids, name, parent_known=unit == "" or unit in units)
        to_import.append({"ResourceType": "AWS::Organizations::Account", "LogicalResourceId": ids.accounts[name],
                          "ResourceIdentifier": {"AccountId": _member(plan, name).id}})
    return _template(plan, "import of the existing accounts", resources), to_import


# ----------------------------------------------------------------------------- headers and files


def _ou_files(ous: int) -> str:
    return "organization.yaml" if ous <= 1 else f"organization.yaml, then {OU_PARTS}-2.yaml … {OU_PARTS}-{ous}.yaml"


def _order(n: int, stem: str, parts: int, ous: int = 1) -> list[str]:
    return [
        f"Stack {n} of 3 ({stack(stem)}). The management account's CloudFormation deploys in three steps, in order:",
        f"  1. {_ou_files(ous)}  2. {_accounts_files(parts)}  3. stacksets.yaml",
    ]


def _import_lines(plan: Plan, stem: str, what: str) -> list[str]:
    region = plan.org.home_region
    return [
        f"Some {what} exist already, so the first deployment of this stack imports them (an IMPORT change set",
        "may contain nothing but the imported resources):",
        f"  aws cloudformation create-change-set --region {region} --stack-name {stack(stem)} \\",
        f"    --change-set-name import --change-set-type IMPORT --template-body file://{stem}-import.yaml \\",
        f"    --resources-to-import file://{stem}-import.json",
        f"  aws cloudformation execute-change-set --region {region} --stack-name {stack(stem)} "
        "--change-set-name import",
        "then deploy this template as below.",
    ]


def _deploy_line(plan: Plan, stem: str) -> str:
    return (f"  aws cloudformation deploy --region {plan.org.home_region} --stack-name {stack(stem)} "
            f"--template-file {stem}.yaml")


def _organization_header(plan: Plan, parts: int, ou: OuPart | None = None) -> list[str]:
    if ou is not None and ou.parts > 1:
        return _ou_part_header(plan, parts, ou)
    lines = [
        *_order(1, ORGANIZATION, parts),
        "This stack: organizational units and the SCPs attached to the root and to OUs. It exports every OU id",
        f"(guardrails-{_slug(plan.org.name)}-ou-<OU path>) for the accounts and StackSet stacks; an export cannot",
        "change or go away while another stack imports it, so remove an OU from those stacks first.",
        "Prerequisites: all features enabled, the SERVICE_CONTROL_POLICY type enabled on the root, and trusted",
        "access for CloudFormation StackSets turned on in Organizations.",
        "OUs carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a replacement",
        "ever deletes an OU.",
    ]
    if not accounts_are_resources(plan):
        lines += [
            f"AWS::Organizations::Account does not exist in {plan.org.partition}: create member accounts from the",
            "commercial partition (CreateGovCloudAccount) and move them into their OUs yourself; the stacks refer",
            "to them by id:",
            *(f"  {a.name} ({a.id}) -> {a.unit or 'root'}" for a in plan.accounts if not a.management),
        ]
    if _existing_units(plan):
        lines += _import_lines(plan, ORGANIZATION, "OUs")
    return [*lines, "Deploy:", _deploy_line(plan, ORGANIZATION)]


def _ou_part_header(plan: Plan, parts: int, ou: OuPart) -> list[str]:
    """The header of each organization stack when the OUs need several (the single stack keeps the header above)."""
    lines = [
        *_order(1, ou.stem, parts, ou.parts),
        f"Organization stack {ou.part} of {ou.parts}: the OUs, in path order, are split into stacks that each fit the",
        "outputs, resources and inline-size limits, parents before children. Deploy the parts in order: an OU whose",
        "parent is in an earlier part reads the parent's export. Each part creates its OUs, the SCPs attached to",
        f"them{' and to the root' if ou.part == 1 else ''}, and exports their ids "
        f"(guardrails-{_slug(plan.org.name)}-ou-<OU path>); the accounts and",
        "StackSet stacks import them by export name, whichever part exports them. An OU that moves to another part",
        "(OUs added before it in path order) must be removed from the old part's template (it is retained) and",
        "imported into the new one; the export cannot move while another stack imports it (docs/deploying.md).",
        "OUs carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a replacement",
        "ever deletes an OU.",
    ]
    if ou.part == 1:
        lines += ["Prerequisites: all features enabled, the SERVICE_CONTROL_POLICY type enabled on the root, and",
                  "trusted access for CloudFormation StackSets turned on in Organizations."]
    if set(_existing_units(plan)) & set(ou.units):
        lines += _import_lines(plan, ou.stem, "OUs")
    return [*lines, "Deploy:", _deploy_line(plan, ou.stem)]


def _chunk_header(plan: Plan, chunk: _Chunk, *, importing: bool, ous: int = 1) -> list[str]:
    lines = _order(2, chunk.stem, chunk.parts, ous)
    if accounts_are_resources(plan):
        lines.append("This stack: member accounts, in the OUs exported by organization.yaml, and the SCPs attached")
        lines.append("to them. Deploy it after organization.yaml and before stacksets.yaml.")
    else:
        lines.append(f"This stack: the SCPs attached to member accounts, by account id ({plan.org.partition} has no")
        lines.append("AWS::Organizations::Account). Deploy it after organization.yaml and before stacksets.yaml.")
    if chunk.parts > 1:
        lines += [
            f"Part {chunk.part} of {chunk.parts}: the accounts, sorted by OU path then name, are split into stacks"
            f" of at most {ACCOUNTS_PER_STACK} that each fit the resource and inline-size limits (deploy the parts in",
            "any order). An account that moves to another part must be imported there (it is retained, not",
            "recreated, by the part it leaves).",
        ]
    if accounts_are_resources(plan):
        lines += ["Accounts carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a",
                  "replacement ever closes an account."]
    if importing:
        lines += _import_lines(plan, chunk.stem, "accounts")
    return [*lines, "Deploy:", _deploy_line(plan, chunk.stem)]


def _stacksets_header(plan: Plan, parts: int, ous: int = 1) -> list[str]:
    region = plan.org.home_region
    return [
        *_order(3, STACKSETS, parts, ous),
        "This stack: one service-managed StackSet per member-account class, rolling the baseline-*.yaml",
        "templates out in the home region. Deploy it last: OU ids come from the exports of organization.yaml,",
        f"and the accounts the StackSets target must exist, but they live in the {ACCOUNTS} stacks, so",
        "no DependsOn can order them: deploy those first.",
        "Upload the baseline-*.yaml files to S3 first, then:",
        f"{_deploy_line(plan, STACKSETS)} \\",
        f"    --parameter-overrides {BASE_URL}=https://BUCKET.s3.{region}."
        f"{partition_facts(plan.org.partition).dns_suffix}/PREFIX" + (
            f" {security_templates.LOG_KEY}=KEY_ARN" if plan.security is not None
            and security_templates.log_key_is_parameter(plan.security) else ""),
        *_security_lines(plan),
    ]


def _security_lines(plan: Plan) -> list[str]:
    """What the account security StackSet adds to the header of stacksets.yaml (nothing without it)."""
    security = plan.security
    if security is None:
        return []
    lines = [
        f"The StackSet {security_templates.STACKSET_NAME} rolls account-security.yaml (upload it with the baselines)",
        "out to every member account in the regions "
        f"{', '.join(security_templates.stackset_regions(plan, security))}, one after another.",
        "It is step 5 of the security baseline: deploy organization-security.yaml, log-archive.yaml and",
        "security-analyzer.yaml first (see their headers).",
    ]
    if security_templates.log_key_is_parameter(security):
        lines.append(f"{security_templates.LOG_KEY}: the output of the guardrails-log-archive stack.")
    return lines


def _file(plan: Plan, stem: str, notes: list[str], template: dict[str, Any], what: str, advice: str) -> str:
    """The template text with its header, after the limit checks (every one of these is deployed inline)."""
    body = dump(template)
    text = with_header(plan, notes, body)
    extra = check_limits(plan, _path(stem), template, text, inline=True, what=what, advice=advice)
    return with_header(plan, [*notes, *extra], body) if extra else text


def _import_files(plan: Plan, stem: str, stage: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, str]:
    template, to_import = stage
    notes = [f"Import stage of {stem}.yaml (stack {stack(stem)}): the existing resources only. Use it with",
             f"{stem}-import.json in an IMPORT change set (see the header of {stem}.yaml)."]
    return {
        _path(f"{stem}-import"): _file(plan, f"{stem}-import", notes, template, "this import stage",
                                       f"It only holds what {stem}.yaml holds."),
        # JSON cannot carry a comment header: the AWS CLI reads this list as it is.
        f"cloudformation/{stem}-import.json": json.dumps(to_import, indent=2) + "\n",
    }


def render(plan: Plan) -> dict[str, str]:
    """Every management-account template; a stack with nothing in it is not written."""
    ids = _ids(plan)
    chunks = _chunks(plan, ids)
    parts = ou_parts(plan, ids)
    ous = len(parts)
    files: dict[str, str] = {}

    for part in parts:
        organization = build_organization(plan, ids, part)
        if not organization["Resources"]:
            continue
        files[_path(part.stem)] = _file(
            plan, part.stem, _organization_header(plan, len(chunks), part), organization,
            "the organization stack (OUs and the SCPs attached to the root and to OUs)",
            "Attach fewer SCPs to OUs (guardrails on a parent OU cover every OU below it) or use fewer OUs, or "
            "deploy the organization with Terraform.")
        if set(_existing_units(plan)) & set(part.units):
            files.update(_import_files(plan, part.stem, _organization_import(plan, ids, part if ous > 1 else None)))

    for chunk in chunks:
        importing = bool(_existing_accounts(plan, chunk))
        files[_path(chunk.stem)] = _file(
            plan, chunk.stem, _chunk_header(plan, chunk, importing=importing, ous=ous), build_accounts(plan, chunk),
            "this accounts stack", "The accounts are split so that this cannot happen: please report it.")
        if importing:
            files.update(_import_files(plan, chunk.stem, _accounts_import(plan, ids, chunk)))

    stacksets = build_stacksets(plan, ids)
    if stacksets["Resources"]:
        files[_path(STACKSETS)] = _file(
            plan, STACKSETS, _stacksets_header(plan, len(chunks), ous), stacksets,
            "the StackSet stack (one StackSet per member-account baseline class)",
            "Give more accounts the same baseline (the same deploy_to) so that there are fewer classes, or deploy "
            "the baselines with Terraform.")
    return files
