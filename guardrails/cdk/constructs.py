"""The guardrails constructs: one blueprint's organization, security baseline, account baselines and Identity Center
as CDK L1 constructs, each from the CloudFormation emitter's template for the same stack (:mod:`.templates`).

``AccountBaseline`` and ``IdentityCenter`` go inside a stack of yours (one template each). ``OrganizationGuardrails``
and ``SecurityBaseline`` span several stacks (the organization is split to fit the CloudFormation quotas; the
security baseline lives in several accounts and regions), so they go directly under an App or a Stage and create
their stacks, named as in docs/deploying.md, in the order it gives.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from guardrails.cdk import templates
from guardrails.cdk.include import GuardrailsTemplate, synthesizer
from guardrails.cdk.plan import Source, find_class, load_plan
from guardrails.emitters.cloudformation import organization as cfn_organization

class AccountBaseline(Construct):
    """One account class's IAM baseline (roles, groups, users, managed policies, boundaries, identity providers,
    password policy): the resources of ``output/cloudformation/baseline-<class>.yaml`` (or
    ``management-baseline.yaml``) in the enclosing stack.

    ``account_class``: the class key (``workloads-prod``) or an account in it. Attributes, keyed by IAM name:
    ``roles``, ``managed_policies`` (boundaries included), ``groups``, ``users``, ``instance_profiles``; and
    ``resources`` (every L1 construct by logical id), ``baseline_class`` (the plan's class).
    """

    def __init__(self, scope: Construct, id: str, *, blueprint: Any, account_class: str,
                 verify: bool = True) -> None:
        super().__init__(scope, id)
        source = load_plan(blueprint, verify=verify)
        self.baseline_class = find_class(source, account_class)
        self.stack_template = templates.baseline_template(source.plan, self.baseline_class)
        self.template = GuardrailsTemplate(self, "Baseline", template=self.stack_template.template,
                                           stem=self.stack_template.stem)
        self.resources = self.template.resources
        self.roles = self.template.by_property("AWS::IAM::Role", "RoleName")
        self.managed_policies = self.template.by_property("AWS::IAM::ManagedPolicy", "ManagedPolicyName")
        self.groups = self.template.by_property("AWS::IAM::Group", "GroupName")
        self.users = self.template.by_property("AWS::IAM::User", "UserName")
        self.instance_profiles = self.template.by_property("AWS::IAM::InstanceProfile", "InstanceProfileName")


class IdentityCenter(Construct):
    """IAM Identity Center permission sets and assignments (``identity-center.yaml``) in the enclosing stack.

    ``permission_sets`` by name, ``assignments`` by logical id. A blueprint without ``identity_center`` raises
    BlueprintError."""

    def __init__(self, scope: Construct, id: str, *, blueprint: Any, verify: bool = True) -> None:
        super().__init__(scope, id)
        source = load_plan(blueprint, verify=verify)
        found = templates.identity_center_template(source.plan)
        if found is None:
            _missing(source, "identity_center", "IdentityCenter")
        self.stack_template = found
        self.template = GuardrailsTemplate(self, "IdentityCenter", template=found.template, stem=found.stem)
        self.resources = self.template.resources
        self.permission_sets = self.template.by_property("AWS::SSO::PermissionSet", "Name")
        self.assignments = self.template.of_type("AWS::SSO::Assignment")


class _Stacks(Construct):
    """Several emitter templates, one stack each (one per region for a template deployed in several)."""

    def __init__(self, scope: Construct, id: str, *, environments: bool) -> None:
        if _in_stack(scope):
            raise TypeError(f"{type(self).__name__} creates its own stacks: put it under an App or a Stage, "
                            "not inside a Stack")
        super().__init__(scope, id)
        self._environments = environments
        self.stacks: list[tuple[templates.StackTemplate, str, cdk.Stack]] = []  # (template, region, stack)
        self.templates: dict[str, list[GuardrailsTemplate]] = {}  # stem → one per region

    def _add(self, found: templates.StackTemplate, regions: tuple[str, ...] | None = None) -> list[GuardrailsTemplate]:
        regions = regions or found.regions
        out = []
        for region in regions:
            # One construct id per region; the stack name is the docs' (the same name in every region).
            name = found.stem if len(regions) == 1 else f"{found.stem}-{region}"
            env = cdk.Environment(account=found.account, region=region) if self._environments and found.account \
                else None
            stack = cdk.Stack(self, name, stack_name=found.stack_name, env=env, synthesizer=synthesizer())
            out.append(GuardrailsTemplate(stack, "Guardrails", template=found.template, stem=found.stem))
            self.stacks.append((found, region, stack))
        self.templates[found.stem] = out
        return out

    def resource(self, stem: str, logical_id: str, region: str | None = None) -> cdk.CfnResource:
        """One resource of one stack (``stem``: the file name without .yaml; ``region``: of a per-region stack)."""
        regions = [r for t, r, _ in self.stacks if t.stem == stem]
        index = regions.index(region) if region else 0
        return self.templates[stem][index].resources[logical_id]


def order_stacks(stacks: list[tuple[templates.StackTemplate, str, cdk.Stack]]) -> None:
    """Stack dependencies in the order of docs/deploying.md: each stack after every stack of the step before its
    own; a per-region stack after its first region's (the home region creates what the others use)."""
    steps = sorted({t.step for t, _, _ in stacks if t.kind == templates.STACK})
    by_step = {s: [(t, r, st) for t, r, st in stacks if t.step == s and t.kind == templates.STACK] for s in steps}
    for before, after in zip(steps, steps[1:]):
        for _, _, stack in by_step[after]:
            for _, _, prior in by_step[before]:
                stack.add_stack_dependency(prior, "deployment order (docs/deploying.md)")
    for group in by_step.values():
        firsts: dict[str, cdk.Stack] = {}
        for found, region, stack in group:
            if found.path in firsts and found.path == templates.security.path(templates.security.ACCOUNT_SECURITY):
                stack.add_stack_dependency(firsts[found.path], "the home region creates the Config service-linked role")
            firsts.setdefault(found.path, stack)


class OrganizationGuardrails(_Stacks):
    """OUs, SCPs and RCPs and their attachments, member accounts and the baseline StackSets: the stacks of
    ``organization*.yaml``, ``organization-accounts*.yaml`` and ``stacksets.yaml``.

    Attributes: ``units`` (OU path → ``CfnOrganizationalUnit``), ``policies`` (SCP/RCP key → ``CfnPolicy``),
    ``accounts`` (member account name → ``CfnAccount``), ``stacksets`` (logical id → ``CfnStackSet``), ``stacks``.
    """

    def __init__(self, scope: Construct, id: str, *, blueprint: Any, verify: bool = True,
                 environments: bool = True, stacksets: bool = True) -> None:
        super().__init__(scope, id, environments=environments)
        source = load_plan(blueprint, verify=verify)
        plan = source.plan
        found = templates.organization_templates(plan)
        sets = templates.stacksets_template(plan) if stacksets else None
        included = [self._add(t)[0] for t in [*found, *([sets] if sets else [])]]
        ids = cfn_organization.organization_ids(plan)  # the emitter's logical ids, by OU path, key and name

        def lookup(wanted: dict[str, str]) -> dict[str, cdk.CfnResource]:
            return {key: t.resources[logical] for key, logical in wanted.items()
                    for t in included if logical in t.resources}

        self.units = lookup(ids.units)
        self.policies = lookup(ids.scps)
        self.accounts = lookup(ids.accounts)
        self.stacksets = included[-1].of_type("AWS::CloudFormation::StackSet") if sets else {}
        order_stacks(self.stacks)


class SecurityBaseline(_Stacks):
    """The security baseline (blueprint ``security``): log archive, organization trail and Security Hub's
    administrator, the organization's analyzers (every allowed region), GuardDuty and Security Hub, and the
    management account's account security (AWS Config, alerts, account settings; every alert region). Member accounts
    get their account security from the StackSet of :class:`OrganizationGuardrails`.

    ``management_account_security=False`` leaves the management account's account-security stacks out (e.g. when
    :class:`GuardrailsApp` adds them after the StackSets). A blueprint without ``security`` raises BlueprintError.
    """

    def __init__(self, scope: Construct, id: str, *, blueprint: Any, verify: bool = True,
                 environments: bool = True, management_account_security: bool = True) -> None:
        super().__init__(scope, id, environments=environments)
        source = load_plan(blueprint, verify=verify)
        found = templates.security_templates(source.plan)
        if not found:
            _missing(source, "security", "SecurityBaseline")
        for stem, template in found.items():
            if stem == templates.security.ACCOUNT_SECURITY and not management_account_security:
                continue
            self._add(template)
        order_stacks(self.stacks)


def _in_stack(scope: Construct) -> bool:
    node: Construct | None = scope
    while node is not None:
        if isinstance(node, cdk.Stack):
            return True
        node = node.node.scope
    return False


def _missing(source: Source, section: str, construct: str) -> None:
    from guardrails.diagnostics import BlueprintError, Diagnostic, Location

    raise BlueprintError([Diagnostic.of(
        "GR301", f"{construct} needs the blueprint section {section!r}, which {source.origin} does not have",
        Location(source.origin))])
