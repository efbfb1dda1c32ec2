"""The management-account templates predicted from the plan, before anything is emitted (``guardrails check``).

Every quota the organization's size can reach: resources, outputs and parameters per template, template bytes,
exports and stacks per account and Region (the values and their sources: guardrails/data/limits.yaml;
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html). What can be split is
split, and the prediction reads the very splits the emitter writes (:func:`organization_ous.ou_parts`,
:func:`organization_accounts.chunks`, the StackSet template; computed once per plan, so a build that checks first
does not compute them twice); a problem here is one that no split solves: a finding names the OU or account that
tips it, or None for the organization as a whole. The emitter keeps its own checks as the backstop.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.emitters.cloudformation.organization_accounts import account_resource_counts, build_accounts, chunks
from guardrails.emitters.cloudformation.organization_ids import (
    CHUNK_RESERVE_BYTES,
    MAX_OUTPUTS,
    organization_ids,
    template_path,
)
from guardrails.emitters.cloudformation.organization_ous import ou_parts, unit_resource_counts
from guardrails.emitters.cloudformation.organization_resources import organization_template
from guardrails.emitters.cloudformation.organization_stacksets import build_stacksets, stacksets_body
from guardrails.policies.ir import Limit, Plan

# Management-account stacks besides the organization, accounts and StackSet stacks (organization-security,
# identity-center, the management baseline, log-archive and the security delegated administrators at most).
OTHER_STACKS = 6


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
    """Every organization, accounts and StackSet template, from the parts and chunks the emitter writes: counts
    exact, bytes those of the resources and outputs plus the fixed reserve the splits leave for the header."""
    found = []
    for part in ou_parts(plan):
        # The template's own choice of parameters (those its resources and outputs use).
        used = organization_template(plan, "", part.resources, part.outputs).get("Parameters", {})
        found.append(TemplateEstimate(template_path(part.stem), len(part.resources), len(part.outputs), len(used),
                                      part.bytes + CHUNK_RESERVE_BYTES,
                                      sum(1 for o in part.outputs.values() if "Export" in o)))
    for chunk in chunks(plan):
        found.append(TemplateEstimate(template_path(chunk.stem), len(chunk.resources), 0,
                                      len(build_accounts(plan, chunk).get("Parameters", {})),
                                      chunk.bytes + CHUNK_RESERVE_BYTES))
    stacksets = build_stacksets(plan)
    if stacksets["Resources"]:
        found.append(TemplateEstimate("cloudformation/stacksets.yaml", len(stacksets["Resources"]), 0,
                                      len(stacksets.get("Parameters", {})),
                                      len(stacksets_body(plan).encode()) + CHUNK_RESERVE_BYTES))
    return found


def problems(plan: Plan) -> list[ScaleProblem]:
    """What no split can fix, each once, in a stable order."""
    found: list[ScaleProblem] = []
    ids = organization_ids(plan)
    resources = plan.limits["cfn_resources_per_template"]
    for name, count in account_resource_counts(plan, ids).items():
        if count > resources.value:
            found.append(ScaleProblem(
                "cfn_resources_per_template", f"account {name} and the SCPs attached to it are {count} CloudFormation "
                f"resources; a template may hold {resources.value} ({resources.source})",
                "attach fewer SCPs to the account (an account and its SCPs share a stack)", account=name))
    for path, count in unit_resource_counts(plan, ids).items():
        if count > resources.value:
            found.append(ScaleProblem(
                "cfn_resources_per_template", f"OU {path} and the SCPs attached to it are {count} CloudFormation "
                f"resources; a template may hold {resources.value} ({resources.source})",
                "attach fewer SCPs to the OU (an OU and its SCPs share a stack)", unit=path))
    if found:
        return found  # the templates below cannot be built
    templates = estimate(plan)
    url = plan.limits["cfn_template_url_bytes"]
    outputs = _limit(plan, "cfn_outputs_per_template", MAX_OUTPUTS)
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
    exported = [u for part in ou_parts(plan) for u in part.units]  # in path order
    if len(exported) > exports.value:
        found.append(ScaleProblem(
            "cfn_exports_per_region", f"the organization stacks would export {len(exported)} OU ids; an account may "
            f"have {exports.value} exports per Region ({exports.source}); this OU is export {exports.value + 1}",
            "use fewer OUs (accounts can share one), or deploy the organization with Terraform",
            unit=exported[exports.value]))
    stacks = _limit(plan, "cfn_stacks_per_region", 2000)
    if len(templates) + OTHER_STACKS > stacks.value:
        found.append(ScaleProblem(
            "cfn_stacks_per_region", f"the management account would need about {len(templates) + OTHER_STACKS} "
            f"stacks in {plan.org.home_region}; an account may have {stacks.value} per Region ({stacks.source})",
            "request a higher stack quota (Service Quotas), or deploy the organization with Terraform"))
    return found
