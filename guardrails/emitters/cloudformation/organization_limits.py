"""The management-account templates predicted from the plan, before anything is emitted (``guardrails check``).

Every quota the organization's size can reach: resources, outputs and parameters per template, template bytes,
exports and stacks per account and Region (the values and their sources: guardrails/data/limits.yaml;
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html). What can be split is
split (:func:`organization.ou_parts`, the accounts chunks), so a problem here is one that cannot: a finding names
the OU or account that tips it, or None for the organization as a whole. The emitter keeps its own checks as the
backstop.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.emitters.cloudformation import organization as org
from guardrails.emitters.cloudformation.render import dump
from guardrails.policies.ir import Limit, Plan

# Management-account stacks besides the organization, accounts and StackSet stacks (organization-security,
# identity-center, the management baseline, log-archive and the security delegated administrators at most).
OTHER_STACKS = 6
# Bytes of an account resource besides its name (twice: logical id and AccountName), e-mail, OU export and role
# name, and of an SCP besides its name, description and content (measured on the emitted YAML, rounded up).
ACCOUNT_BYTES = 250
SCP_BYTES = 400


@dataclass(frozen=True)
class TemplateEstimate:
    """One template as the emitter will write it: counts exact, bytes within the header reserve."""

    path: str
    resources: int
    outputs: int
    parameters: int
    bytes: int
    exports: int = 0


@dataclass(frozen=True)
class ScaleProblem:
    limit: str  # key of limits.yaml
    message: str
    hint: str
    unit: str | None = None  # the OU that tips it
    account: str | None = None  # or the account
    section: str = "organization"  # or the blueprint section otherwise responsible (security)


def _limit(plan: Plan, key: str, default: int) -> Limit:
    return plan.limits.get(key) or Limit(key, default, "count", "CloudFormation User Guide, CloudFormation quotas")


def estimate(plan: Plan) -> list[TemplateEstimate]:
    """Every organization, accounts and StackSet template, counted from the plan."""
    ids = org._ids(plan)
    found = []
    for part in org.ou_parts(plan, ids):
        body = org._section_bytes("Resources", part.resources) if part.resources else 0
        body += org._section_bytes("Outputs", part.outputs) if part.outputs else 0
        found.append(TemplateEstimate(f"cloudformation/{part.stem}.yaml", len(part.resources), len(part.outputs),
                                      _parameters(part.resources, part.outputs), body + org.CHUNK_RESERVE_BYTES,
                                      sum(1 for o in part.outputs.values() if "Export" in o)))
    found += _accounts(plan, ids)
    stacksets = org.build_stacksets(plan, ids)
    if stacksets["Resources"]:
        found.append(TemplateEstimate("cloudformation/stacksets.yaml", len(stacksets["Resources"]), 0,
                                      len(stacksets.get("Parameters", {})),
                                      len(dump(stacksets).encode()) + org.CHUNK_RESERVE_BYTES))
    return found


def _parameters(resources: dict, outputs: dict) -> int:
    text = repr((resources, outputs))
    return sum(1 for p in (org.ORG, org.ROOT, org.BASE_URL) if f"'Ref': '{p}'" in text)


def _accounts(plan: Plan, ids: org._Ids) -> list[TemplateEstimate]:
    """The accounts stacks as :func:`organization._chunks` cuts them (at most ACCOUNTS_PER_STACK accounts, the
    resource limit, the inline body), with each account's bytes estimated from the lengths of what it writes
    rather than rendered (rendering 5,000 accounts is the emitter's slowest part): never less than the text."""
    limit = plan.limits["cfn_resources_per_template"].value
    budget = plan.limits["cfn_template_body_bytes"].value - org.CHUNK_RESERVE_BYTES
    attached: dict[str, list[int]] = {}
    for scp in (*plan.scps, *plan.rcps):
        if org._on_account(scp):
            attached.setdefault(scp.target.partition(":")[2], []).append(
                SCP_BYTES + len(scp.name) + len(scp.description) + len(scp.document.to_json()) * 11 // 10)
    names = sorted({*ids.accounts, *attached}, key=lambda n: (org._member(plan, n).unit, n))
    role = len(plan.org.deployment_role)
    found: list[tuple[int, int]] = []
    count = members = size = 0
    for name in names:
        account = org._member(plan, name)
        grows = (1 if name in ids.accounts else 0) + len(attached.get(name, []))
        bytes_ = sum(attached.get(name, []))
        if name in ids.accounts:
            bytes_ += ACCOUNT_BYTES + 2 * len(name) + len(account.email) + len(ids.exports.get(account.unit, "")) + role
        if members and (members == org.ACCOUNTS_PER_STACK or count + grows > limit or size + bytes_ > budget):
            found.append((count, size))
            count = members = size = 0
        count += grows
        members += 1
        size += bytes_
    if members:
        found.append((count, size))
    stem = org.ACCOUNTS
    return [TemplateEstimate(f"cloudformation/{stem if len(found) == 1 else f'{stem}-{i}'}.yaml", resources, 0, 1,
                             size + org.CHUNK_RESERVE_BYTES) for i, (resources, size) in enumerate(found, start=1)]


def problems(plan: Plan) -> list[ScaleProblem]:
    """What no split can fix, each once, in a stable order."""
    found: list[ScaleProblem] = []
    ids = org._ids(plan)
    resources = plan.limits["cfn_resources_per_template"]
    for name, count in _account_resources(plan, ids).items():
        if count > resources.value:
            found.append(ScaleProblem(
                "cfn_resources_per_template", f"account {name} and the SCPs attached to it are {count} CloudFormation "
                f"resources; a template may hold {resources.value} ({resources.source})",
                "attach fewer SCPs to the account (an account and its SCPs share a stack)", account=name))
    for path, count in _unit_resources(plan, ids).items():
        if count > resources.value:
            found.append(ScaleProblem(
                "cfn_resources_per_template", f"OU {path} and the SCPs attached to it are {count} CloudFormation "
                f"resources; a template may hold {resources.value} ({resources.source})",
                "attach fewer SCPs to the OU (an OU and its SCPs share a stack)", unit=path))
    if found:
        return found  # the templates below cannot be built
    templates = estimate(plan)
    url = plan.limits["cfn_template_url_bytes"]
    outputs = _limit(plan, "cfn_outputs_per_template", org.MAX_OUTPUTS)
    parameters = _limit(plan, "cfn_parameters_per_template", 200)
    for t in templates:
        stacksets = t.path.endswith("/stacksets.yaml")
        hint = ("give more accounts the same baseline (the same deploy_to) so that there are fewer classes, or "
                "deploy the baselines with Terraform" if stacksets else "please report it: this stack is split "
                "so that it cannot happen")
        if t.resources > resources.value:
            found.append(ScaleProblem("cfn_resources_per_template", f"{t.path} would hold {t.resources} resources "
                                      f"(one StackSet per baseline class); a template may hold {resources.value} "
                                      f"({resources.source})" if stacksets else f"{t.path} would hold {t.resources} "
                                      f"resources; a template may hold {resources.value} ({resources.source})", hint))
        if t.bytes > url.value:
            found.append(ScaleProblem("cfn_template_url_bytes", f"{t.path} would be about {t.bytes:,} bytes; a "
                                      f"template may be {url.value:,} even from S3 ({url.source})", hint))
        if t.outputs > outputs.value:
            found.append(ScaleProblem("cfn_outputs_per_template", f"{t.path} would declare {t.outputs} outputs; a "
                                      f"template may declare {outputs.value} ({outputs.source})", hint))
        if t.parameters > parameters.value:
            found.append(ScaleProblem("cfn_parameters_per_template", f"{t.path} would declare {t.parameters} "
                                      f"parameters; a template may declare {parameters.value} ({parameters.source})",
                                      hint))
    found += _account_wide(plan, templates)
    return found


def _account_wide(plan: Plan, templates: list[TemplateEstimate]) -> list[ScaleProblem]:
    """Exports and stacks: one account and Region holds every management-account stack, so no split helps."""
    found = []
    exports = _limit(plan, "cfn_exports_per_region", 5000)
    exported = [u.path for u in sorted(plan.units, key=lambda u: org._path_key(u.path)) if not u.managed_by]
    if len(exported) > exports.value:
        found.append(ScaleProblem(
            "cfn_exports_per_region", f"the organization stacks would export {len(exported)} OU ids; an account may "
            f"have {exports.value} exports per Region ({exports.source}); this OU is export {exports.value + 1}",
            "use fewer OUs (accounts can share one), or deploy the organization with Terraform", unit=exported[exports.value]))
    stacks = _limit(plan, "cfn_stacks_per_region", 2000)
    if len(templates) + OTHER_STACKS > stacks.value:
        found.append(ScaleProblem(
            "cfn_stacks_per_region", f"the management account would need about {len(templates) + OTHER_STACKS} "
            f"stacks in {plan.org.home_region}; an account may have {stacks.value} per Region ({stacks.source})",
            "request a higher stack quota (Service Quotas), or deploy the organization with Terraform"))
    return found


def _account_resources(plan: Plan, ids: org._Ids) -> dict[str, int]:
    counts = {name: 1 for name in ids.accounts}
    for scp in (*plan.scps, *plan.rcps):
        if org._on_account(scp):
            name = scp.target.partition(":")[2]
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _unit_resources(plan: Plan, ids: org._Ids) -> dict[str, int]:
    counts = {u.path: 1 for u in plan.units if not u.managed_by}
    for scp in (*plan.scps, *plan.rcps):
        kind, _, name = scp.target.partition(":")
        if kind == "ou" and name in counts:
            counts[name] += 1
    return dict(sorted(counts.items(), key=lambda kv: org._path_key(kv[0])))
