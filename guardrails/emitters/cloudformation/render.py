"""Rendering helpers shared by the CloudFormation templates: YAML output, ``Fn::Sub``, logical ids, limits."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from guardrails.emitters import header_text
from guardrails.emitters.cloudformation import yaml_writer
from guardrails.emitters.suppressions import suppressions_for
from guardrails.policies.ir import ACCOUNT_ID, REGION, Plan, PolicyDocument

# The IR's per-account placeholders and the CloudFormation pseudo parameters they become.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
PSEUDO = {ACCOUNT_ID: "${AWS::AccountId}", REGION: "${AWS::Region}"}
_PLACEHOLDER = re.compile("(" + "|".join(re.escape(p) for p in PSEUDO) + ")")

TEMPLATE_VERSION = "2010-09-09"


class CloudFormationLimitError(ValueError):
    """A template would break a CloudFormation quota; the message tells the user what to change."""


# ----------------------------------------------------------------------------- strings and documents


def sub(value: str, partition: str | None = None) -> str | dict[str, str]:
    """A string from the IR as CloudFormation: ``Fn::Sub`` when it holds a placeholder, else plain.

    Inside ``Fn::Sub`` every other ``${`` (IAM policy variables such as ``${aws:username}``) is written
    ``${!`` so CloudFormation keeps it literally; outside ``Fn::Sub`` nothing needs escaping. Given the
    partition, ``arn:<partition>:`` inside ``Fn::Sub`` becomes ``arn:${AWS::Partition}:`` (the same value
    wherever the stack can run, and what cfn-lint I3042 asks for).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-sub.html
    """
    if not _PLACEHOLDER.search(value):
        return value
    parts = _PLACEHOLDER.split(value)  # odd indexes are the placeholders themselves

    def literal(text: str) -> str:
        text = text.replace("${", "${!")
        return text.replace(f"arn:{partition}:", "arn:${AWS::Partition}:") if partition else text

    return {"Fn::Sub": "".join(PSEUDO[part] if index % 2 else literal(part) for index, part in enumerate(parts))}


def unsub(value: Any, partition: str | None = None) -> Any:
    """The inverse of :func:`sub` (for tests and round trips): ``Fn::Sub`` text back to IR placeholders."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"].replace("${!", "\0")
        for placeholder, pseudo in PSEUDO.items():
            text = text.replace(pseudo, placeholder)
        if partition:
            text = text.replace("${AWS::Partition}", partition)
        return text.replace("\0", "${")
    if isinstance(value, dict):
        return {k: unsub(v, partition) for k, v in value.items()}
    if isinstance(value, list):
        return [unsub(v, partition) for v in value]
    return value


def subbed(value: Any, partition: str | None = None) -> Any:
    """Apply :func:`sub` to every string of a JSON-like value (keys are never placeholders)."""
    if isinstance(value, str):
        return sub(value, partition)
    if isinstance(value, dict):
        keys = [k for k in value if _PLACEHOLDER.search(k)]
        if keys:
            raise ValueError(f"{keys[0]!r}: CloudFormation cannot substitute inside a JSON key")
        return {k: subbed(v, partition) for k, v in value.items()}
    if isinstance(value, list):
        return [subbed(v, partition) for v in value]
    return value


def document(doc: PolicyDocument, partition: str) -> dict[str, Any]:
    """A policy document as a CloudFormation JSON property (placeholders resolved per account)."""
    return subbed(doc.to_json(), partition)


def has_placeholder(doc: PolicyDocument) -> bool:
    return bool(_PLACEHOLDER.search(doc.render(minified=True)))


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, str]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def tags(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def skip_metadata(kind: str, key: str, accepted: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """checkov skips for one resource: the reasoned entries of ``guardrails/data/suppressions.yaml``, then the
    findings the blueprint accepts for it (``accepted_findings``: check, reason). One entry per check.
    https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html (CloudFormation Metadata)"""
    skips: dict[str, str] = {}
    for check, reason in [*((s.check, s.reason) for s in suppressions_for("cloudformation", kind, key)), *accepted]:
        skips.setdefault(check, reason)
    return {"checkov": {"skip": [{"id": c, "comment": r} for c, r in skips.items()]}} if skips else {}


# ----------------------------------------------------------------------------- logical ids


@lru_cache(maxsize=1 << 16)
def _logical_id(prefix: str, key: str) -> str:
    """The id of ``key``, before collisions (a pure function of the two strings: the same principal in many
    templates asks again)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", key) if w]
    # Drop a leading word that repeats the prefix: role_auditor → RoleAuditor, not RoleRoleAuditor;
    # oidc_github → OidcProviderGithub.
    first = re.match(r"[A-Z][a-z0-9]*", prefix)
    if len(words) > 1 and words[0].lower() in {prefix.lower(), first.group().lower() if first else ""}:
        words = words[1:]
    return (prefix + "".join(w[:1].upper() + w[1:] for w in words))[:200]


class LogicalIds:
    """Stable, unique, alphanumeric logical ids derived from IR keys (``role_ci_deployer`` → ``RoleCiDeployer``)."""

    def __init__(self) -> None:
        self._taken: dict[str, tuple[str, str]] = {}

    def __call__(self, prefix: str, key: str) -> str:
        candidate = _logical_id(prefix, key)
        if candidate in self._taken and self._taken[candidate] != (prefix, key):
            # Two keys that differ only in punctuation: keep both apart with a stable hash of the key.
            candidate += hashlib.sha256(f"{prefix}:{key}".encode()).hexdigest()[:8].upper()
        self._taken[candidate] = (prefix, key)
        return candidate


# ----------------------------------------------------------------------------- YAML


def dump(data: dict[str, Any]) -> str:
    """Deterministic YAML: keys in the order built, no folding, no aliases, plain long-form intrinsics
    (guardrails.emitters.cloudformation.yaml_writer)."""
    return yaml_writer.dump(data)


def with_header(plan: Plan, lines: list[str], body: str) -> str:
    """``# ``-comment header (provenance first, then usage notes) followed by the YAML body."""
    comment = [header_text(plan), *lines]
    return "".join(f"# {line}".rstrip() + "\n" for line in comment) + body


def resource(type_: str, properties: dict[str, Any], *, depends_on: list[str] | None = None,
             deletion: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """One resource, attributes in a fixed order: Type, DependsOn, deletion policies, Metadata, Properties.

    ``deletion`` sets DeletionPolicy and UpdateReplacePolicy together ("Retain" or "Delete").
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
    """
    out: dict[str, Any] = {"Type": type_}
    if depends_on:
        out["DependsOn"] = depends_on
    if deletion:
        out["DeletionPolicy"] = deletion
        out["UpdateReplacePolicy"] = deletion
    if metadata:
        out["Metadata"] = metadata
    out["Properties"] = properties
    return out


def check_limits(plan: Plan, path: str, template: dict[str, Any], text: str, *, inline: bool, what: str,
                 advice: str) -> list[str]:
    """Raise :class:`CloudFormationLimitError` past a hard quota; return header notes for soft ones.

    ``what`` names what the template holds and ``advice`` says what to change when it holds too many resources:
    "<path>: <what> holds N resources; CloudFormation allows M per template (source). <advice>"
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
    """
    resources = plan.limits["cfn_resources_per_template"]
    if len(template["Resources"]) > resources.value:
        raise CloudFormationLimitError(
            f"{path}: {what} holds {len(template['Resources'])} resources; CloudFormation allows {resources.value} "
            f"per template ({resources.source}). {advice}")
    url = plan.limits["cfn_template_url_bytes"]
    size = len(text.encode("utf-8"))
    if size > url.value:
        raise CloudFormationLimitError(
            f"{path} would be {size:,} bytes; CloudFormation accepts at most {url.value:,} bytes even from S3 "
            f"({url.source}). Reduce the policies it carries.")
    body = plan.limits["cfn_template_body_bytes"]
    if inline and size > body.value:
        return [f"This template is {size:,} bytes, over the {body.value:,}-byte limit for an inline template body:",
                "deploy it from S3 (aws cloudformation deploy --s3-bucket BUCKET ...)."]
    return []


def template(plan: Plan, description: str, resources: dict[str, Any], *, parameters: dict[str, Any] | None = None,
             conditions: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template in the fixed section order, with only the parameters its resources, conditions and outputs use
    (an unused parameter only draws a cfn-lint warning)."""
    used = json.dumps([resources, outputs, conditions])
    kept = {k: v for k, v in (parameters or {}).items() if f'{{"Ref": "{k}"}}' in used or f"${{{k}}}" in used}
    body: dict[str, Any] = {"AWSTemplateFormatVersion": TEMPLATE_VERSION,
                            "Description": f"guardrails {plan.org.name}: {description}"}
    if kept:
        body["Parameters"] = kept
    if conditions:
        body["Conditions"] = conditions
    body["Resources"] = resources
    if outputs:
        body["Outputs"] = outputs
    return body
