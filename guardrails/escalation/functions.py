"""The Lambda functions the output deploys and the roles they run as, read from the emitted CloudFormation.

CloudFormation has no resource type for the account password policy, EBS encryption by default or the account's
S3 Block Public Access, so the baselines deploy small custom-resource functions for them
(guardrails/emitters/cloudformation/password_policy.py, account_settings.py). Their roles are not identities of the
blueprint and not in ``policies/manifest.json``, yet whoever may change a function's code runs code as its role
(https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html). This module finds every
``AWS::Lambda::Function`` whose ``Role`` is a role of the same template and returns the role's inline policies.

Physical names: CloudFormation names them ``<stack>-<logical id>-<random>``; the analysis uses
``StackSet-guardrails-<template>-<logical id>-GUARDRAILS0`` (no ``StackSet-`` in the management account,
whose stacks are not StackSet instances) under the role's ``Path``, which is what name-pattern
conditions (``role/guardrails/*PasswordPolicy*``) see. Which accounts hold a template follows the emitters' file
names: ``baseline-<class>.yaml`` the class's accounts, ``management-baseline.yaml`` the management account,
``account-security.yaml`` every account; functions of other templates are left out (docs/escalation.md).
Terraform deploys no function (it has resources for all three settings), so this is the CloudFormation format's
exposure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

# Reading only: libyaml's loader gives the same values as the pure-Python one, several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUFFIX = "GUARDRAILS0"  # stands for CloudFormation's random suffix, as guardrails/data/deployment_actions.yaml does


@dataclass(frozen=True)
class Function:
    """A function of the output and its execution role."""

    template: str  # "cloudformation/baseline-workloads-prod.yaml"
    logical_id: str  # "PasswordPolicyFunction"
    name: str  # physical name used by the analysis
    role_name: str
    role_path: str
    role_policies: tuple[tuple[str, str], ...]  # (policy name, JSON with ${account_id}/${region})
    trust: str  # JSON
    placement: str  # "class:<key>", "management", "every"

    @property
    def role_logical_id(self) -> str:
        """The role's logical id in its template: both physical names are ``<stack>-<logical id>-<SUFFIX>``."""
        stack = self.name[: -len(f"-{self.logical_id}-{SUFFIX}")]
        return self.role_name[len(stack) + 1: -len(SUFFIX) - 1]

    def deployed_in(self, class_key: str | None, management: bool) -> bool:
        if self.placement == "every":
            return True
        if self.placement == "management":
            return management
        return self.placement == f"class:{class_key}"


def functions(files: Mapping[str, str], partition: str = "aws") -> tuple[Function, ...]:
    """Every function of the emitted CloudFormation templates whose role is defined next to it, sorted."""
    found: list[Function] = []
    # Block text → its YAML: every class's baseline template repeats the same function and role blocks. The values
    # are only read here (_resolved builds new documents), so one parse serves every template.
    parsed: dict[str, dict[str, Any]] = {}

    def load(text: str) -> dict[str, Any]:
        if text not in parsed:
            parsed[text] = _load(text)
        return parsed[text]

    # The templates only, then sorted (the same order as sorting every file: a 1,000-account tree has thousands).
    for path in sorted(p for p in files if p.startswith("cloudformation/") and p.endswith(".yaml")):
        placement = _placement(path)
        if placement is None or "AWS::Lambda::Function" not in files[path]:
            continue
        blocks = _blocks(files[path])
        kinds = {logical: kind for logical, (kind, _) in blocks.items()}
        stack = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        stack = "guardrails-baseline" if stack.startswith("baseline-") else f"guardrails-{stack}"
        # Stack instances of a StackSet are named StackSet-<set>-<id>; the management account's are plain stacks.
        stack = stack if placement == "management" else f"StackSet-{stack}"
        for logical in sorted(k for k, kind in kinds.items() if kind == "AWS::Lambda::Function"):
            body = load(blocks[logical][1]).get(logical) or {}
            role_id = _get_att((body.get("Properties") or {}).get("Role"))
            if not role_id or kinds.get(role_id) != "AWS::IAM::Role":
                continue
            props = (load(blocks[role_id][1]).get(role_id) or {}).get("Properties") or {}
            policies = tuple((str(p.get("PolicyName", f"policy{i + 1}")),
                              json.dumps(_resolved(p.get("PolicyDocument") or {}, kinds, stack, partition),
                                         sort_keys=True))
                             for i, p in enumerate(props.get("Policies") or ()))
            trust = json.dumps(_resolved(props.get("AssumeRolePolicyDocument") or {}, kinds, stack, partition),
                               sort_keys=True)
            found.append(Function(path, logical, f"{stack}-{logical}-{SUFFIX}",
                                  f"{stack}-{role_id}-{SUFFIX}", str(props.get("Path") or "/"), policies,
                                  trust, placement))
    return tuple(found)


def _blocks(text: str) -> dict[str, tuple[str | None, str]]:
    """The template's resources as logical id → (type, YAML text of the resource), unparsed: parsing a whole
    baseline template costs seconds, the few resources needed are a few lines of it. The emitters write every
    resource as a two-space key under ``Resources:`` with its ``Type`` among its first lines."""
    body = ("\n" + text).split("\nResources:\n", 1)
    if len(body) != 2:
        return {}
    section = "\n" + body[1]  # every line starts after a line break (the searches below look for them)
    # The section's lines end before the next top-level one (Outputs); the lines before it, joined.
    end = _TOP_LEVEL.search(section)
    if end is not None:
        section = section[:end.start()]
    # Each resource: its key line to the line before the next key line (lines before the first key are not one).
    starts = [m.start() + 1 for m in _RESOURCE_LINE.finditer(section)]
    out: dict[str, tuple[str | None, str]] = {}
    for index, start in enumerate(starts):
        block = section[start:starts[index + 1] - 1] if index + 1 < len(starts) else section[start:]
        lines = block.split("\n", 3)
        kind = next((m.group(1) for m in map(_TYPE.match, lines[1:3]) if m), None)
        out[lines[0].strip().rstrip(":")] = (kind, block)
    return out


def _load(text: str) -> dict[str, Any]:
    loaded = yaml.load(text, Loader=_LOADER)
    return loaded if isinstance(loaded, dict) else {}


# A resource's key line (two spaces, the logical id, a colon), found in the whole text at once: a loop over the
# lines of the large baseline templates cost more than the rest of the function search. And a top-level line.
_RESOURCE_LINE = re.compile(r"\n  [A-Za-z0-9]+:[^\S\n]*(?=\n|\Z)")
_TOP_LEVEL = re.compile(r"\n[^ #\n]")
_TYPE = re.compile(r"^    Type: (\S+)\s*$")


def _placement(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    if name.startswith("baseline-"):
        return f"class:{name.removeprefix('baseline-')}"
    return {"management-baseline": "management", "account-security": "every"}.get(name)


def _get_att(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and target:
            return str(target[0])
        if isinstance(target, str):
            return target.split(".", 1)[0]
    return None


def _resolved(value: Any, kinds: Mapping[str, str | None], stack: str, partition: str) -> Any:
    """The document with CloudFormation's intrinsic functions replaced by the evaluator's placeholders: pseudo
    parameters by ``${account_id}``/``${region}``, a log group's ``Arn`` by its ARN pattern, anything else by an
    ARN that matches nothing real (so it grants nothing the template did not say)."""
    if isinstance(value, list):
        return [_resolved(v, kinds, stack, partition) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return (value["Fn::Sub"].replace("${AWS::AccountId}", "${account_id}").replace("${AWS::Region}", "${region}")
                .replace("${AWS::Partition}", partition))
    target = _get_att(value)
    if target is not None:
        kind = kinds.get(target)
        if kind == "AWS::Logs::LogGroup":
            return f"arn:{partition}:logs:${{region}}:${{account_id}}:log-group:{stack}-{target}-{SUFFIX}:*"
        return f"arn:{partition}:cloudformation:${{region}}:${{account_id}}:unresolved/{target}"
    if "Ref" in value or any(k.startswith("Fn::") for k in value):
        return f"arn:{partition}:cloudformation:${{region}}:${{account_id}}:unresolved/value"
    return {k: _resolved(v, kinds, stack, partition) for k, v in value.items()}
