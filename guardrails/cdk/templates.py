"""The CloudFormation emitter's template dicts, one per stack, in the documented deployment order
(docs/deploying.md, CloudFormation). Pure: no aws_cdk import, so the tests can compare against it without CDK.

The constructs of :mod:`guardrails.cdk` are built from these dicts, never from a policy document of their own: the
CDK app grants exactly what ``output/cloudformation/`` grants. Import stages (``*-import.yaml``) are left out: an
IMPORT change set is a step of its own (``cdk import`` or the AWS CLI), not part of a normal deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrails.emitters.cloudformation import detection, identity_center, organization, security
from guardrails.emitters.cloudformation.baseline import baseline_path, build_template, stack_name
from guardrails.policies.ir import BaselineClass, Plan

# How a stack is deployed: a normal stack, or a template a StackSet (stacksets.yaml) rolls out from S3.
STACK = "stack"
STACKSET_TEMPLATE = "stackset-template"


@dataclass(frozen=True)
class StackTemplate:
    """One template of the CloudFormation output and where it goes."""

    path: str  # the emitter's file, relative to output/ ("cloudformation/organization.yaml")
    stack_name: str  # the CloudFormation stack name the docs use
    template: dict[str, Any]
    account: str | None  # account id it is deployed in (None: every account of a StackSet)
    regions: tuple[str, ...]  # regions it is deployed in, in order
    kind: str = STACK
    step: int = 0  # deployment step of docs/deploying.md: a stack is deployed after every stack of lower steps

    @property
    def stem(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".yaml")


def _is_management(plan: Plan, cls: BaselineClass) -> bool:
    return any(plan.account(a).management for a in cls.accounts)


def baseline_template(plan: Plan, cls: BaselineClass) -> StackTemplate:
    management = _is_management(plan, cls)
    return StackTemplate(
        baseline_path(cls, management=management), stack_name(cls, management=management),
        build_template(plan, cls, management=management),
        plan.management_account.id if management else None, (plan.org.home_region,),
        STACK if management else STACKSET_TEMPLATE, MANAGEMENT_BASELINE if management else 0)


def organization_templates(plan: Plan) -> list[StackTemplate]:
    """Step 1 (organization parts) and 2 (accounts stacks); the StackSets stack is :func:`stacksets_template`."""
    # The emitter's own split, so the parts are the files of output/cloudformation/ (organization.render).
    ids = organization.organization_ids(plan)
    home, management = (plan.org.home_region,), plan.management_account.id
    out = []
    for part in organization.ou_parts(plan, ids):
        template = organization.build_organization(plan, ids, part)
        if template["Resources"]:
            # Parts in order: an OU whose parent is in an earlier part reads the parent's export.
            out.append(StackTemplate(f"cloudformation/{part.stem}.yaml", organization.stack(part.stem), template,
                                     management, home, step=part.part))
    first_accounts = len(out) + 1
    for chunk in organization.chunks(plan, ids):  # accounts parts: any order among themselves
        out.append(StackTemplate(f"cloudformation/{chunk.stem}.yaml", organization.stack(chunk.stem),
                                 organization.build_accounts(plan, chunk), management, home, step=first_accounts))
    return out


# Steps after the organization's (which number their parts 1…n): offsets from SECURITY.
SECURITY = 100  # 3.2 log archive, 3.3 organization security, 3.4 analyzer and detection
STACKSETS, MANAGEMENT_BASELINE, MANAGEMENT_SECURITY, IDENTITY_CENTER = 200, 300, 400, 500


def stacksets_template(plan: Plan) -> StackTemplate | None:
    template = organization.build_stacksets(plan, organization.organization_ids(plan))
    if not template["Resources"]:
        return None
    return StackTemplate("cloudformation/stacksets.yaml", organization.stack(organization.STACKSETS), template,
                         plan.management_account.id, (plan.org.home_region,), step=STACKSETS)


def security_templates(plan: Plan) -> dict[str, StackTemplate]:
    """The security baseline's templates by stem (none without a ``security`` section); as security.render."""
    sec = plan.security
    if sec is None:
        return {}
    home = (plan.org.home_region,)
    management = plan.management_account.id
    out: dict[str, StackTemplate] = {}

    def add(stem: str, template: dict[str, Any], account: str | None, regions: tuple[str, ...], step: int) -> None:
        out[stem] = StackTemplate(security.path(stem), security.stack(stem), template, account, regions, STACK, step)

    # 3.2 the log archive first: the organization trail (3.3) is checked against its bucket policy.
    if not sec.log_bucket_existing:
        add(security.LOG_ARCHIVE, security.build_log_archive(plan, sec), plan.account(sec.log_account).id, home,
            SECURITY)
    add(security.ORG_SECURITY, security.build_organization_security(plan, sec), management, home, SECURITY + 1)
    if sec.analyzer_account:
        add(security.ANALYZER, security.build_analyzer(plan, sec), plan.account(sec.analyzer_account).id,
            tuple(plan.org.allowed_regions), SECURITY + 2)
    if sec.detection_admin and (sec.guardduty or sec.security_hub):
        add(detection.STEM, detection.build(plan, sec), plan.account(sec.detection_admin).id, home, SECURITY + 2)
    # Member accounts get it from the StackSet; the management account deploys it as normal stacks, one per region,
    # the home region first (it creates the Config service-linked role the other regions use).
    add(security.ACCOUNT_SECURITY, security.build_account_security(plan, sec), management,
        tuple(security.stackset_regions(plan, sec)), MANAGEMENT_SECURITY)
    return out


def identity_center_template(plan: Plan) -> StackTemplate | None:
    center = plan.identity_center
    if center is None:
        return None
    return StackTemplate(identity_center.PATH, identity_center.STACK, identity_center.build_template(plan),
                         plan.account(center.admin_account).id, (center.region,), step=IDENTITY_CENTER)


def stack_templates(plan: Plan) -> list[StackTemplate]:
    """Every template, in the deployment order of docs/deploying.md (CloudFormation): organization parts, accounts
    stacks, the security baseline (organization security, log archive, analyzer, detection), the StackSets, the
    management baseline, the management account's account security, Identity Center. The member classes'
    baselines (rolled out by the StackSets, never deployed as stacks) come last."""
    ordered = organization_templates(plan)
    sec = security_templates(plan)
    ordered += [sec[s] for s in (security.LOG_ARCHIVE, security.ORG_SECURITY, security.ANALYZER, detection.STEM)
                if s in sec]
    stacksets = stacksets_template(plan)
    if stacksets is not None:
        ordered.append(stacksets)
    baselines = [baseline_template(plan, cls) for cls in plan.classes]
    ordered += [b for b in baselines if b.kind == STACK]
    if security.ACCOUNT_SECURITY in sec:
        ordered.append(sec[security.ACCOUNT_SECURITY])
    center = identity_center_template(plan)
    if center is not None:
        ordered.append(center)
    ordered += [b for b in baselines if b.kind == STACKSET_TEMPLATE]
    paths = [t.path for t in ordered]
    assert len(set(paths)) == len(paths), "two templates share a path"
    return ordered
