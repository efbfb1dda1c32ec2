"""One emitter template as CDK L1 constructs, through ``aws_cdk.cloudformation_include.CfnInclude``.

Why CfnInclude and not hand-made ``Cfn*`` calls: it turns each resource of a template into the typed L1 class of
its type (``AWS::IAM::Role`` → ``aws_iam.CfnRole``; types without a class, such as ``Custom::*``, into
``CfnResource``) and keeps every logical id, DependsOn, Condition, DeletionPolicy/UpdateReplacePolicy, Metadata,
Parameter, Condition and Output as written. Building the typed classes by hand would mean translating every
property to its snake_case Python struct (and back, in the synthesized template): a second renderer of the plan,
which the design forbids. The template here is the CloudFormation emitter's dict, so the synthesized template is
``output/cloudformation/``'s (tests/test_cdk.py).
https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.cloudformation_include/README.html
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import aws_cdk as cdk
from aws_cdk import cloudformation_include as cfn_include
from constructs import Construct


class GuardrailsTemplate(Construct):
    """The resources, parameters, conditions and outputs of one template, inside the stack ``scope`` is in.

    ``resources`` maps each logical id to its L1 construct (typed where aws-cdk-lib has the type). The stack's
    Description comes from the template too. ``stem``: the emitter's file it is, without ``.yaml``
    (``baseline-workloads-prod``), when known: the cdk-nag acknowledgments are scoped by it (:mod:`.nag`).
    """

    def __init__(self, scope: Construct, id: str, *, template: dict[str, Any], stem: str | None = None) -> None:
        super().__init__(scope, id)
        self.template = template
        self.stem = stem
        # CfnInclude reads a file (JSON is YAML); it is read in the constructor, so the file goes right after.
        handle, path = tempfile.mkstemp(prefix="guardrails-cdk-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(template, out)
            self.include = cfn_include.CfnInclude(self, "Template", template_file=path, preserve_logical_ids=True)
        finally:
            os.unlink(path)
        self.resources: dict[str, cdk.CfnResource] = {
            logical: self.include.get_resource(logical) for logical in template.get("Resources", {})}
        self.parameters: dict[str, cdk.CfnParameter] = {
            name: self.include.get_parameter(name) for name in template.get("Parameters", {})}
        self.conditions: dict[str, cdk.CfnCondition] = {
            name: self.include.get_condition(name) for name in template.get("Conditions", {})}
        self.outputs: dict[str, cdk.CfnOutput] = {
            name: self.include.get_output(name) for name in template.get("Outputs", {})}

    def of_type(self, cfn_type: str) -> dict[str, cdk.CfnResource]:
        """The resources of one CloudFormation type, by logical id, in template order."""
        return {k: v for k, v in self.resources.items() if self.template["Resources"][k]["Type"] == cfn_type}

    def by_property(self, cfn_type: str, name: str) -> dict[str, cdk.CfnResource]:
        """The resources of one type keyed by one of their properties (``RoleName``…), as the template sets it."""
        out = {}
        for logical, construct in self.of_type(cfn_type).items():
            value = self.template["Resources"][logical].get("Properties", {}).get(name)
            if isinstance(value, str):
                out[value] = construct
        return out


def synthesizer() -> cdk.DefaultStackSynthesizer:
    """No BootstrapVersion parameter and rule: the templates hold no asset, so nothing needs the bootstrap stack
    (deploying with the CDK CLI still needs `cdk bootstrap` for its deploy role, unless a custom synthesizer is
    passed)."""
    return cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
