"""``GuardrailsApp(app, "blueprints")``: the whole organization as stacks of a CDK app, in the deployment order of
docs/deploying.md (CloudFormation)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from guardrails.cdk import templates
from guardrails.cdk.constructs import AccountBaseline, IdentityCenter, OrganizationGuardrails, SecurityBaseline, \
    order_stacks
from guardrails.cdk.include import synthesizer
from guardrails.cdk.plan import load_plan

STACKSET_TEMPLATES = "StackSetTemplates"  # the Stage holding the templates the baseline StackSets roll out


def new_app(**kwargs: Any) -> cdk.App:
    """An App for guardrails: CDK's built-in template validation off (guardrails runs cfn-lint on the same templates
    with its reasoned suppressions; CDK's own pass costs ~20 s on the example), no version reporting."""
    kwargs.setdefault("builtin_cloud_formation_validation", False)
    kwargs.setdefault("analytics_reporting", False)
    return cdk.App(**kwargs)


class GuardrailsApp:
    """Adds every stack of a blueprint to ``app``, each after the stacks the docs deploy before it
    (``add_dependency``; ``cdk deploy --all`` follows it, the stacks being in several accounts):

    1. ``Organization``: the organization parts, the accounts stacks, and ``stacksets`` (deployed after Security);
    2. ``Security``: log archive, organization security, analyzers (one stack per allowed region), detection,
       then the management account's account security (one stack per alert region, home region first);
    3. ``ManagementBaseline``, ``IdentityCenter``;
    4. ``StackSetTemplates`` (a Stage, so ``cdk deploy --all`` leaves it alone): the member classes' baselines,
       which the StackSets roll out from S3 and nobody deploys as a stack.

    Attributes: ``organization``, ``security``, ``baselines`` (class key → AccountBaseline), ``identity_center``
    (None where the blueprint has no such section), ``stacks`` (every normal stack, in deployment order).
    cdk-nag is opt-in: ``guardrails.cdk.add_cdk_nag(app, built.plan)`` after your own changes (:mod:`.nag`).
    """

    def __init__(self, app: cdk.App, blueprint: Any, *, verify: bool = True, environments: bool = True) -> None:
        source = load_plan(blueprint, verify=verify)
        plan = source.plan
        self.plan = plan
        self.organization = OrganizationGuardrails(app, "Organization", blueprint=plan, environments=environments)
        self.security = (SecurityBaseline(app, "Security", blueprint=plan, environments=environments)
                         if plan.security is not None else None)
        stacks = [*self.organization.stacks, *(self.security.stacks if self.security else [])]
        self.baselines: dict[str, AccountBaseline] = {}
        stage = None
        for cls in plan.classes:
            found = templates.baseline_template(plan, cls)
            if found.kind == templates.STACK:
                stack = self._stack(app, "ManagementBaseline", found, environments)
                stacks.append((found, found.regions[0], stack))
            else:
                stage = stage or cdk.Stage(app, STACKSET_TEMPLATES)
                stack = cdk.Stack(stage, found.stem, stack_name=found.stack_name, synthesizer=synthesizer())
            self.baselines[cls.key] = AccountBaseline(stack, "Baseline", blueprint=plan, account_class=cls.key)
        self.stackset_templates = stage
        self.identity_center = None
        center = templates.identity_center_template(plan)
        if center is not None:
            stack = self._stack(app, "IdentityCenter", center, environments)
            self.identity_center = IdentityCenter(stack, "IdentityCenter", blueprint=plan)
            stacks.append((center, center.regions[0], stack))
        order_stacks(stacks)
        stacks.sort(key=lambda entry: entry[0].step)  # stable: regions and parts keep their order
        self.stacks = [stack for _, _, stack in stacks]
        self.entries = stacks

    @staticmethod
    def _stack(app: cdk.App, id: str, found: templates.StackTemplate, environments: bool) -> cdk.Stack:
        env = cdk.Environment(account=found.account, region=found.regions[0]) if environments and found.account \
            else None
        return cdk.Stack(app, id, stack_name=found.stack_name, env=env, synthesizer=synthesizer())
