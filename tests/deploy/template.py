"""CloudFormation template evaluation for what the test deploys itself: parameters, conditions, intrinsic functions.

moto resolves the templates for the resources it creates; the resources it lacks (EMULATOR_GAPS) are created by
tests/deploy/providers.py, which needs the same values: a Ref is the physical id, an attribute is what
CloudFormation documents for the type
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html). A value
that only a real service knows (an Identity Center permission set's ARN) resolves to :class:`Unresolved`.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

NO_VALUE = object()  # AWS::NoValue: the property is dropped


class Unresolved(str):
    """A value only the real service would know (a string, so type checks of the schema still apply)."""


class TemplateError(Exception):
    """The template uses something this evaluator (or CloudFormation) does not accept."""


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> dict[str, Any]:
    """The template as data (a fresh copy): the emitters write the long form of every intrinsic function."""
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - the safe loader (libyaml's when available)
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError("not a CloudFormation template")
    return data


def condition_values(template: dict[str, Any], region: str, parameters: dict[str, Any], partition: str) -> tuple:
    """Every condition of the template, evaluated in ``region``: Regions with the same values get the same
    resources (only ``${AWS::Region}`` in their values differs)."""
    scope = Scope(template, "000000000000", region, partition, "stack", "stack-id", dict(parameters))
    return tuple(sorted((name, scope.condition(name)) for name in template.get("Conditions") or {}))


@dataclass
class Scope:
    """Where a stack runs and what its resources are called, for resolving its template."""

    template: dict[str, Any]
    account_id: str
    region: str
    partition: str
    stack_name: str
    stack_id: str
    parameters: dict[str, Any]
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> physical id (what Ref returns)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    exports: Mapping[str, Any] = field(default_factory=dict)
    _conditions: dict[str, bool] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def url_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def active(self, logical: str) -> bool:
        """Whether the resource is created: its Condition, if any, holds."""
        name = self.resources[logical].get("Condition")
        return name is None or self.condition(name)

    def properties(self, logical: str) -> dict[str, Any]:
        props = self.resolve(self.resources[logical].get("Properties") or {})
        return props if isinstance(props, dict) else {}

    # -- intrinsic functions ---------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": self.account_id, "AWS::Region": self.region, "AWS::Partition": self.partition,
                  "AWS::StackName": self.stack_name, "AWS::StackId": self.stack_id,
                  "AWS::URLSuffix": self.url_suffix(), "AWS::NotificationARNs": []}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            if name not in self.physical:
                raise TemplateError(f"Ref {name}: the resource has no physical id (not created yet?)")
            return self.physical[name]
        raise TemplateError(f"Ref {name}: no such parameter or resource")

    def get_att(self, logical: str, attribute: str) -> Any:
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        resource = self.resources.get(logical)
        if resource is None:
            raise TemplateError(f"Fn::GetAtt {logical}.{attribute}: no such resource")
        kind, name = resource["Type"], self.ref(logical)
        p, region, account = self.partition, self.region, self.account_id
        known = {
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{p}:iam::{account}:role"
                                               f"{(resource.get('Properties') or {}).get('Path', '/')}{name}",
            ("AWS::Lambda::Function", "Arn"): lambda: f"arn:{p}:lambda:{region}:{account}:function:{name}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:{p}:logs:{region}:{account}:log-group:{name}:*",
            ("AWS::KMS::Key", "Arn"): lambda: f"arn:{p}:kms:{region}:{account}:key/{name}",
            ("AWS::SNS::Topic", "TopicArn"): lambda: name,
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:{p}:s3:::{name}",
        }
        make = known.get((kind, attribute))
        return make() if make is not None else Unresolved(f"{logical}.{attribute}")

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}]+)\}", one, text)


def _sub(scope: Scope, arg: Any) -> str:
    if isinstance(arg, str):
        return scope.sub(arg, {})
    text, variables = arg
    return scope.sub(text, {k: scope.resolve(v) for k, v in variables.items()})


def _get_att(scope: Scope, arg: Any) -> Any:
    logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
    return scope.get_att(logical, scope.resolve(attribute))


def _import(scope: Scope, arg: Any) -> Any:
    name = scope.resolve(arg)
    if name not in scope.exports:
        raise TemplateError(f"Fn::ImportValue {name}: no stack exports it")
    return scope.exports[name]


def _if(scope: Scope, arg: Any) -> Any:
    name, then, otherwise = arg
    return scope.resolve(then if scope.condition(name) else otherwise)


def _select(scope: Scope, arg: Any) -> Any:
    index, items = scope.resolve(arg)
    return items[int(index)]


def _find_in_map(scope: Scope, arg: Any) -> Any:
    name, top, second = scope.resolve(arg)
    return scope.template["Mappings"][name][top][second]


_FUNCTIONS = {
    "Ref": lambda scope, arg: scope.ref(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::ImportValue": _import,
    "Fn::If": _if,
    "Fn::Join": lambda scope, arg: str(arg[0]).join(str(v) for v in scope.resolve(arg[1])),
    "Fn::Select": _select,
    "Fn::Split": lambda scope, arg: str(scope.resolve(arg[1])).split(arg[0]),
    "Fn::FindInMap": _find_in_map,
    "Fn::Equals": lambda scope, arg: scope.resolve(arg[0]) == scope.resolve(arg[1]),
    "Fn::Not": lambda scope, arg: not scope.resolve(arg[0]),
    "Fn::And": lambda scope, arg: all(scope.resolve(v) for v in arg),
    "Fn::Or": lambda scope, arg: any(scope.resolve(v) for v in arg),
    "Condition": lambda scope, arg: scope.condition(arg),
    "Fn::GetAZs": lambda scope, arg: [f"{scope.region}{z}" for z in "abc"],
}


def required_capabilities(template: Mapping[str, Any]) -> set[str]:
    """What CreateStack requires for the template's IAM resources: CAPABILITY_NAMED_IAM when one has a custom name,
    else CAPABILITY_IAM (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    control-access-with-iam.html#using-iam-capabilities)."""
    names = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
             "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName"}
    iam = [r for r in template["Resources"].values() if str(r.get("Type", "")).startswith("AWS::IAM::")]
    if any(names.get(r["Type"]) in (r.get("Properties") or {}) for r in iam):
        return {"CAPABILITY_NAMED_IAM"}
    return {"CAPABILITY_IAM"} if iam else set()


def check_parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Parameter values as CloudFormation takes them: unknown keys, missing values, AllowedValues and
    AllowedPattern are errors (moto checks only that a value without a default is given)."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"parameters not in the template: {unknown}")
    values: dict[str, str] = {}
    for key, spec in declared.items():
        value = given.get(key, spec.get("Default"))
        if value is None:
            raise TemplateError(f"parameter {key} has no default and was not given")
        value = str(value)
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            raise TemplateError(f"parameter {key}={value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            raise TemplateError(f"parameter {key}={value!r} does not match {spec['AllowedPattern']}")
        values[key] = value
    return values
