"""Stacks on the emulator: moto's CloudFormation creates what it can, the test completes the rest.

``Deployment.deploy`` is ``aws cloudformation deploy``: parameters and capabilities checked as CloudFormation
checks them, a CREATE (or UPDATE, or IMPORT) change set executed by moto, then, in dependency order, the resources
moto lacks created by tests/deploy/providers.py, the properties it drops set, the custom resources answered by
their own code (tests/deploy/functions.py), every resource checked against its registry schema
(tests/deploy/schema.py), and the outputs exported. Anything moto lacks that EMULATOR_GAPS does not list fails.
StackSet instances are deployed as stacks named as StackSets name them (``StackSet-<name>-<id>``) into the
accounts the StackSet targets.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import schema
from .emulator import Emulator
from .functions import Response, invoke
from .providers import PROPERTY_FIXES, PROVIDERS, Context
from .template import Scope, TemplateError, check_parameters, condition_values, load, required_capabilities


class DeploymentError(AssertionError):
    """A step that CloudFormation (or the emulator standing in for it) would refuse."""


@dataclass
class Stack:
    account_id: str
    region: str
    name: str
    stack_id: str
    scope: Scope
    provided: dict[str, str] = field(default_factory=dict)  # logical id -> physical id, created by the test
    responses: list[Response] = field(default_factory=list)

    @property
    def template(self) -> dict[str, Any]:
        return self.scope.template


def moto_types() -> set[str]:
    """The resource types moto's CloudFormation models (Custom:: ones need Docker: see EMULATOR_GAPS)."""
    from moto.cloudformation.parsing import get_model_map

    return set(get_model_map())


def _dependencies(value: Any, resources: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and arg in resources:
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {n.split(".", 1)[0] for n in re.findall(r"\$\{([^}!]+)\}", text)
                          if n.split(".", 1)[0] in resources}
                found |= _dependencies(arg, resources) if not isinstance(arg, str) else set()
            else:
                found |= _dependencies(arg, resources)
    elif isinstance(value, list):
        for item in value:
            found |= _dependencies(item, resources)
    return found


def creation_order(template: Mapping[str, Any]) -> list[str]:
    """Logical ids, every resource after those it refers to or depends on (template order otherwise)."""
    resources = template["Resources"]
    deps = {}
    for logical, body in resources.items():
        depends = body.get("DependsOn") or []
        deps[logical] = _dependencies(body.get("Properties") or {}, resources) | set(
            [depends] if isinstance(depends, str) else depends)
    order: list[str] = []
    seen: set[str] = set()

    def visit(logical: str, path: tuple[str, ...]) -> None:
        if logical in seen:
            return
        if logical in path:
            raise TemplateError(f"circular dependency: {' -> '.join((*path, logical))}")
        for dep in sorted(deps[logical]):
            visit(dep, (*path, logical))
        seen.add(logical)
        order.append(logical)

    for logical in resources:
        visit(logical, ())
    return order


class Deployment:
    """Everything deployed into one emulated organization, in the order it was deployed."""

    def __init__(self, emulator: Emulator, management_id: str, home_region: str, gaps: Mapping[str, str]) -> None:
        self.emulator = emulator
        self.management_id = management_id
        self.home_region = home_region
        self.gaps = gaps
        self.stacks: list[Stack] = []
        self.exports: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        self.gaps_used: Counter[str] = Counter()  # gap name -> resources (or properties) it was needed for
        self.schema_checked: Counter[str] = Counter()  # resource type -> resources checked
        self._moto = moto_types()
        # Regions deployed once for all the Regions whose conditions evaluate alike (see deploy): on by default,
        # GUARDRAILS_DEPLOY_EVERY_REGION=1 deploys every Region.
        self.sample_regions = os.environ.get("GUARDRAILS_DEPLOY_EVERY_REGION") != "1"
        self._samples: dict[tuple[Any, ...], Stack] = {}
        self.represented: list[tuple[str, str, Stack]] = []  # (Region, stack name, the stack standing for it)
        # The requests moto sent to custom resources' functions (emulator.intercepted_invocations).
        self.invocations: list[dict[str, Any]] = []

    @property
    def partition(self) -> str:
        return self.emulator.partition

    def management_client(self, service: str, region: str | None = None) -> Any:
        return self.emulator.client(service, self.management_id, region or self.home_region)

    def stack(self, account_id: str, region: str, name: str) -> Stack:
        return next(s for s in reversed(self.stacks)
                    if (s.account_id, s.region, s.name) == (account_id, region, name))

    # -- aws cloudformation deploy -----------------------------------------------------------------------

    def deploy(self, account_id: str, region: str, name: str, text: str, parameters: Mapping[str, str] | None = None,
               capabilities: Iterable[str] = (), *, import_resources: list[dict[str, Any]] | None = None,
               group: str | None = None) -> Stack:
        """``group`` names what the stack is an instance of in every Region (its stack or StackSet name): with
        ``sample_regions``, a Region whose conditions evaluate as in one deployed before is represented by it."""
        template = load(text)
        self._check_types(name, template)
        values = check_parameters(template, parameters or {})
        if group is not None and self.sample_regions:
            key = (account_id, group, text, tuple(sorted(values.items())),
                   condition_values(template, region, values, self.partition))
            if key in self._samples:
                self.represented.append((region, name, self._samples[key]))
                return self._samples[key]
        given = set(capabilities)
        missing = required_capabilities(template) - given - ({"CAPABILITY_IAM"} if "CAPABILITY_NAMED_IAM" in given
                                                             else set())
        if missing:
            raise DeploymentError(f"{name}: InsufficientCapabilities, requires {sorted(missing)}")
        cf = self.emulator.client("cloudformation", account_id, region)
        existing = [s for s in self.stacks if (s.account_id, s.region, s.name) == (account_id, region, name)]
        kind = "IMPORT" if import_resources is not None else ("UPDATE" if existing else "CREATE")
        change = cf.create_change_set(StackName=name, ChangeSetName=f"deploy-{uuid.uuid4().hex[:8]}",
                                      TemplateBody=text, ChangeSetType=kind, Capabilities=sorted(given),
                                      Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                                  for k, v in sorted((parameters or {}).items())])
        if cf.describe_change_set(ChangeSetName=change["Id"])["Status"] == "FAILED":
            return existing[-1]  # "No changes to deploy", as the CLI says
        cf.execute_change_set(ChangeSetName=change["Id"])
        stack_id = change["StackId"]
        previous = existing[-1] if existing else None
        scope = Scope(template, account_id, region, self.partition, name, stack_id, values,
                      exports=self.exports[(account_id, region)])
        stack = Stack(account_id, region, name, stack_id, scope, dict(previous.provided) if previous else {})
        for summary in cf.describe_stack_resources(StackName=stack_id)["StackResources"]:
            if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
                scope.physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
        if import_resources is not None:
            self._import(stack, import_resources)
        scope.physical.update(stack.provided)
        self.stacks.append(stack)
        for logical in creation_order(template):
            if scope.active(logical):
                self._complete(stack, logical, created=previous is None or logical not in previous.scope.physical)
        self._export(stack)
        if group is not None and self.sample_regions:
            self._samples[key] = stack
        status = cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"):
            raise DeploymentError(f"{name} in {account_id}/{region}: {status}")
        return stack

    def _check_types(self, name: str, template: Mapping[str, Any]) -> None:
        for logical, body in template["Resources"].items():
            kind = body["Type"]
            gap = "Custom::*" if kind.startswith("Custom::") else kind
            if kind not in self._moto and gap not in self.gaps:
                raise DeploymentError(f"{name}/{logical}: moto has no CloudFormation model for {kind} and "
                                      "EMULATOR_GAPS does not list it: add it there with how it is covered")

    def _import(self, stack: Stack, resources: list[dict[str, Any]]) -> None:
        """An IMPORT change set: moto ignores ResourcesToImport, so the test checks what CloudFormation checks —
        the template holds exactly the imported resources, each of which exists — and adopts them."""
        template = stack.template["Resources"]
        listed = {r["LogicalResourceId"] for r in resources}
        if listed != set(template):
            raise DeploymentError(f"{stack.name}: an IMPORT template may hold only the imported resources "
                                  f"(template {sorted(template)}, to import {sorted(listed)})")
        orgs = self.management_client("organizations")
        for entry in resources:
            kind, logical, identifier = entry["ResourceType"], entry["LogicalResourceId"], entry["ResourceIdentifier"]
            if template[logical]["Type"] != kind:
                raise DeploymentError(f"{stack.name}/{logical}: imported as {kind}, "
                                      f"declared {template[logical]['Type']}")
            if kind != "AWS::Organizations::OrganizationalUnit":
                raise DeploymentError(f"{stack.name}/{logical}: importing {kind} is not emulated")
            unit = orgs.describe_organizational_unit(OrganizationalUnitId=identifier["Id"])["OrganizationalUnit"]
            props = stack.scope.properties(logical)
            parent = orgs.list_parents(ChildId=unit["Id"])["Parents"][0]["Id"]
            if (unit["Name"], parent) != (props["Name"], props["ParentId"]):
                raise DeploymentError(f"{stack.name}/{logical}: {identifier['Id']} is {unit['Name']} under {parent}, "
                                      f"the template says {props['Name']} under {props['ParentId']}")
            stack.provided[logical] = unit["Id"]
            stack.scope.attributes[(logical, "Id")] = unit["Id"]
            stack.scope.attributes[(logical, "Arn")] = unit["Arn"]
            self.gaps_used["IMPORT change sets"] += 1

    def _complete(self, stack: Stack, logical: str, created: bool) -> None:
        scope = stack.scope
        kind = scope.resources[logical]["Type"]
        props = scope.properties(logical)
        self.schema_checked[kind] += 1
        found = schema.problems(stack.region, kind, props)
        if found:
            raise DeploymentError(f"{stack.name}/{logical} ({kind}) does not fit its registry schema: {found}")
        if kind in PROVIDERS:
            if logical not in stack.provided:  # else created (or imported) by an earlier deployment of the stack
                made = PROVIDERS[kind](Context(self, stack, logical), props)
                stack.provided[logical] = scope.physical[logical] = made.physical
                scope.attributes.update({(logical, k): v for k, v in made.attributes})
                self.gaps_used[kind] += 1
        elif kind in PROPERTY_FIXES and logical in scope.physical:
            for prop in PROPERTY_FIXES[kind](Context(self, stack, logical), scope.physical[logical], props):
                self.gaps_used[f"{kind}.{prop}"] += 1
        elif kind.startswith("Custom::") and created:
            response = invoke(self, stack, logical, "Create", properties=props, forward=True,
                              request=self._moto_request(stack, logical))
            stack.responses.append(response)
            if response.status != "SUCCESS" or response.delivery_error:
                raise DeploymentError(f"{stack.name}/{logical}: the function answered {response.status}: "
                                      f"{response.reason} {response.delivery_error or ''}".rstrip())
            scope.physical[logical] = response.physical_id or logical
            scope.attributes.update({(logical, k): v for k, v in response.data.items()})
            self.gaps_used["Custom::*"] += 1
        elif kind not in self._moto and not kind.startswith("Custom::"):
            self.gaps_used[kind] += 1  # covered by the schema check above only
            scope.physical.setdefault(logical, f"{stack.name}-{logical}-NOTDEPLOYED")

    def _moto_request(self, stack: Stack, logical: str) -> dict[str, Any]:
        """The Create request moto sent for the custom resource (from its invocation thread)."""
        for _ in range(100):
            found = [r for r in self.invocations
                     if (r.get("StackId"), r.get("LogicalResourceId")) == (stack.stack_id, logical)]
            if found:
                self.invocations.remove(found[0])
                return found[0]
            time.sleep(0.05)
        raise DeploymentError(f"{stack.name}/{logical}: moto sent no request to the custom resource's function")

    def _export(self, stack: Stack) -> None:
        for key, output in (stack.template.get("Outputs") or {}).items():
            if "Condition" in output and not stack.scope.condition(output["Condition"]):
                continue
            value = stack.scope.resolve(output["Value"])
            stack.scope.attributes[("Outputs", key)] = value
            if "Export" in output:
                self.exports[(stack.account_id, stack.region)][stack.scope.resolve(output["Export"]["Name"])] = value

    def output(self, stack: Stack, key: str) -> Any:
        return stack.scope.attributes[("Outputs", key)]

    # -- StackSets -----------------------------------------------------------------------------------------

    def deploy_stack_set(self, parent: Stack, props: dict[str, Any]) -> None:
        """A service-managed StackSet with automatic deployment, as StackSets deploys it: one stack per target
        account and Region, Regions in the operation's order, accounts of the targeted OUs and every OU below
        them (never the management account), filtered by AccountFilterType
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html)."""
        if props.get("PermissionModel") != "SERVICE_MANAGED":
            raise DeploymentError(f"{props['StackSetName']}: only service-managed StackSets are emulated")
        text = self._template_body(props)
        params = {p["ParameterKey"]: str(p["ParameterValue"]) for p in props.get("Parameters") or []}
        capabilities = props.get("Capabilities") or []
        order = (props.get("OperationPreferences") or {}).get("RegionOrder") or []
        for group in props.get("StackInstancesGroup") or []:
            regions = sorted(group["Regions"], key=lambda r: order.index(r) if r in order else len(order))
            for account_id in self.targets(group["DeploymentTargets"]):
                for region in regions:
                    name = f"StackSet-{props['StackSetName']}-{uuid.uuid4()}"
                    self.deploy(account_id, region, name, text, params, capabilities, group=props["StackSetName"])

    def targets(self, targets: Mapping[str, Any]) -> list[str]:
        orgs = self.management_client("organizations")
        in_units: set[str] = set()
        pending = list(targets.get("OrganizationalUnitIds") or [])
        while pending:
            parent = pending.pop()
            in_units |= {a["Id"] for a in orgs.list_accounts_for_parent(ParentId=parent)["Accounts"]}
            pending += [u["Id"] for u in orgs.list_organizational_units_for_parent(ParentId=parent)
                        ["OrganizationalUnits"]]
        accounts = {str(a) for a in targets.get("Accounts") or []}
        chosen = {"NONE": in_units, "INTERSECTION": in_units & accounts, "DIFFERENCE": in_units - accounts,
                  "UNION": in_units | accounts}[targets.get("AccountFilterType") or "NONE"]
        return sorted(chosen - {self.management_id})

    def _template_body(self, props: Mapping[str, Any]) -> str:
        if "TemplateBody" in props:
            return str(props["TemplateBody"])
        url = urlsplit(props["TemplateURL"])
        host = url.netloc.split(".")
        if url.scheme != "https" or len(host) < 4 or host[1] != "s3":
            raise DeploymentError(f"TemplateURL {props['TemplateURL']} is not a virtual-hosted S3 https URL")
        s3 = self.management_client("s3", host[2])
        return s3.get_object(Bucket=host[0], Key=url.path.lstrip("/"))["Body"].read().decode("utf-8")
