"""cdk-nag's AwsSolutions pack over a guardrails CDK app, with the reasoned acknowledgments of
``guardrails/data/cdk_nag.yaml``.

cdk-nag 3 is a CDK validation plugin: its findings make ``app.synth()`` fail and land in the cloud assembly's
``validation-report.json``. It has no bulk suppression: each finding (``AwsSolutions-IAM5[Action::s3:*]``) is
acknowledged on its own, with ``Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))``
(https://docs.aws.amazon.com/cdk/v2/guide/policy-validation-synthesis.html). So :func:`acknowledge_findings` runs
the pack over the construct tree once, matches each finding against the data file's entries (rule, finding
pattern, template, resource type, logical id, and what the resource is in the plan), and acknowledges exactly the
matching findings on exactly their resources, with the entry's reason. A finding no entry covers stays a
violation; an entry that covers nothing is reported as unused (tests/test_cdk.py fails on either).

Acknowledgments are construct metadata (the cloud assembly's manifest), never template content: the synthesized
templates stay ``output/cloudformation/``'s.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aws_cdk as cdk
import yaml
from aws_cdk import aws_iam
from constructs import IConstruct

from guardrails.cdk.include import GuardrailsTemplate
from guardrails.cdk.plan import load_plan
from guardrails.diagnostics import GuardrailsError
from guardrails.emitters.cloudformation.baseline import baseline_path
from guardrails.iam.actions import iam_database
from guardrails.policies.ir import ManagedPolicy, Plan

PACK = "AwsSolutions"  # the plugin's name: CDK qualifies a rule id with it ("AwsSolutions::AwsSolutions-S1")
_FIELDS = {"rule", "findings", "templates", "resource_types", "logical_ids", "policy", "require", "reason"}
_POLICY_KINDS = {"boundary", "job_function"}
_REQUIREMENTS = {"compacted", "unscoped", "break_glass_role"}


class NagDataError(GuardrailsError):
    """guardrails/data/cdk_nag.yaml is malformed (a packaging bug, not a blueprint error)."""


@dataclass(frozen=True)
class Entry:
    """One acknowledgment of the data file: which findings it covers, and why they are accepted."""

    index: int  # position in the file, for messages
    rule: str  # AwsSolutions-IAM5
    findings: tuple[str, ...]  # fnmatch patterns on the finding ("Action::*"); () = the rule's own id only
    templates: tuple[str, ...]  # fnmatch patterns on the emitter's file stem ("baseline-*")
    resource_types: tuple[str, ...]
    logical_ids: tuple[str, ...]  # fnmatch patterns; () = any
    policy: str | None  # boundary | job_function: what the managed policy is in the plan
    require: str | None  # compacted | unscoped: a check on the finding against the plan and the IAM database
    reason: str

    def label(self) -> str:
        return f"cdk_nag.yaml entry {self.index + 1} ({self.rule}: {', '.join(self.findings) or 'rule'})"


@dataclass(frozen=True)
class Finding:
    """One cdk-nag violation on one resource."""

    rule_name: str  # as reported: "AwsSolutions-IAM5[Action::s3:*]"
    path: str  # construct path of the resource
    stem: str | None
    logical_id: str
    resource_type: str

    @property
    def rule(self) -> str:
        return self.rule_name.split("[", 1)[0]

    @property
    def finding(self) -> str | None:
        return self.rule_name[len(self.rule) + 1:-1] if "[" in self.rule_name else None


@dataclass
class Acknowledged:
    """What :func:`acknowledge_findings` did: ``used`` (entry index → findings it acknowledged), ``unmatched``
    (findings no entry covers; they stay violations) and ``unused`` (entries that matched nothing)."""

    entries: tuple[Entry, ...]
    used: dict[int, list[Finding]] = field(default_factory=dict)
    unmatched: list[Finding] = field(default_factory=list)

    @property
    def unused(self) -> list[Entry]:
        return [e for e in self.entries if e.index not in self.used]

    @property
    def count(self) -> int:
        return sum(len(f) for f in self.used.values())


def load_entries(text: str | None = None) -> tuple[Entry, ...]:
    """The entries of guardrails/data/cdk_nag.yaml (or of ``text``), checked."""
    if text is None:
        text = resources.files("guardrails.data").joinpath("cdk_nag.yaml").read_text("utf-8")
    raw = yaml.safe_load(text) or []
    if not isinstance(raw, list):
        raise NagDataError("cdk_nag.yaml: a list of entries expected")
    out = []
    for index, item in enumerate(raw):
        where = f"cdk_nag.yaml entry {index + 1}"
        if not isinstance(item, dict) or not {"rule", "templates", "resource_types", "reason"} <= set(item):
            raise NagDataError(f"{where}: needs rule, templates, resource_types and reason (fields: "
                               f"{', '.join(sorted(_FIELDS))})")
        unknown = set(item) - _FIELDS
        if unknown:
            raise NagDataError(f"{where}: unknown fields {sorted(unknown)}")
        if item.get("policy") not in {None, *_POLICY_KINDS} or item.get("require") not in {None, *_REQUIREMENTS}:
            raise NagDataError(f"{where}: policy is one of {sorted(_POLICY_KINDS)}, require one of "
                               f"{sorted(_REQUIREMENTS)}")
        lists = ("findings", "templates", "resource_types", "logical_ids")
        if any(not isinstance(item.get(k, []), list) or not all(isinstance(v, str) for v in item.get(k, []))
               for k in lists):
            raise NagDataError(f"{where}: {', '.join(lists)} are lists of strings")
        if not str(item["reason"]).strip():
            raise NagDataError(f"{where}: empty reason")
        out.append(Entry(index, str(item["rule"]), tuple(item.get("findings", ())), tuple(item["templates"]),
                         tuple(item["resource_types"]), tuple(item.get("logical_ids", ())), item.get("policy"),
                         item.get("require"), " ".join(str(item["reason"]).split())))
    return tuple(out)


def add_cdk_nag(app: cdk.App | cdk.Stage, blueprint: Any, *, verbose: bool = False) -> Acknowledged:
    """Register cdk-nag's AwsSolutions pack on ``app`` and acknowledge the findings the data file covers. Call it
    after the guardrails constructs (and your own changes to them) are in place; needs ``cdk-nag``."""
    import cdk_nag

    found = acknowledge_findings(app, blueprint, pack=cdk_nag.AwsSolutionsChecks(verbose=verbose))
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app, verbose=verbose))
    return found


def acknowledge_findings(scope: IConstruct, blueprint: Any, *, pack: Any = None,
                         entries: tuple[Entry, ...] | None = None) -> Acknowledged:
    """Run the pack over ``scope``'s guardrails resources and acknowledge, on each resource, the findings an entry
    of the data file covers (``blueprint``: the plan the constructs were built from, or its directory)."""
    if pack is None:
        import cdk_nag

        pack = cdk_nag.AwsSolutionsChecks()
    plan = load_plan(blueprint, verify=False).plan
    entries = load_entries() if entries is None else entries
    index = _Resources(scope, plan)
    report = pack.validate_scope(scope)
    done = Acknowledged(entries)
    for violation in report.violations:
        for resource in violation.violating_resources:
            located = index.by_path.get(resource.construct_path or "")
            if located is None:
                continue  # not a guardrails resource: the user's own, for the user to judge
            template, logical, construct = located
            body = template.template["Resources"][logical]
            finding = Finding(violation.rule_name, resource.construct_path, template.stem, logical, body["Type"])
            entry = next((e for e in entries if _covers(e, finding, construct, body, index)), None)
            if entry is None:
                done.unmatched.append(finding)
                continue
            cdk.Validations.of(construct).acknowledge(
                cdk.Acknowledgment(id=f"{PACK}::{violation.rule_name}", reason=entry.reason))
            done.used.setdefault(entry.index, []).append(finding)
    return done


class _Resources:
    """The guardrails resources under a scope, by construct path, and the plan's view of their policies."""

    def __init__(self, scope: IConstruct, plan: Plan) -> None:
        self.plan = plan
        self.by_path: dict[str, tuple[GuardrailsTemplate, str, cdk.CfnResource]] = {}
        for child in scope.node.find_all():
            if isinstance(child, GuardrailsTemplate):
                for logical, construct in child.resources.items():
                    self.by_path[construct.node.path] = (child, logical, construct)
        # Managed policies by (baseline file stem, name): the class's plan objects.
        self.policies: dict[tuple[str, str], ManagedPolicy] = {}
        for cls in plan.classes:
            management = any(plan.account(a).management for a in cls.accounts)
            stem = baseline_path(cls, management=management).rsplit("/", 1)[-1].removesuffix(".yaml")
            for policy in cls.baseline.managed_policies:
                self.policies[(stem, policy.name)] = policy
        self.job_policies = {key for report in plan.job_reports for key in report.policy_keys}
        self.break_glass_roles = {plan.org.break_glass_role} - {""}
        self._documents: dict[str, list[dict[str, Any]]] = {}  # path → documents (one jsii resolve per resource)

    def documents(self, construct: cdk.CfnResource) -> list[dict[str, Any]]:
        path = construct.node.path
        if path not in self._documents:
            self._documents[path] = _documents(construct)
        return self._documents[path]

    def policy(self, finding: Finding, body: dict[str, Any]) -> ManagedPolicy | None:
        name = body.get("Properties", {}).get("ManagedPolicyName")
        return self.policies.get((finding.stem or "", name)) if isinstance(name, str) else None


def _covers(entry: Entry, finding: Finding, construct: cdk.CfnResource, body: dict[str, Any],
            index: _Resources) -> bool:
    if finding.rule != entry.rule or finding.resource_type not in entry.resource_types:
        return False
    if finding.stem is None or not any(fnmatch.fnmatchcase(finding.stem, p) for p in entry.templates):
        return False
    if entry.logical_ids and not any(fnmatch.fnmatchcase(finding.logical_id, p) for p in entry.logical_ids):
        return False
    detail = finding.finding
    if entry.findings:
        if detail is None or not any(fnmatch.fnmatchcase(detail, p) for p in entry.findings):
            return False
    elif detail is not None:
        return False
    if entry.policy is not None:
        policy = index.policy(finding, body)
        if policy is None:
            return False
        if entry.policy == "boundary" and policy.kind != "boundary":
            return False
        if entry.policy == "job_function" and (policy.kind != "managed" or policy.key not in index.job_policies):
            return False
    if entry.require == "compacted":
        return _compacted(finding, construct, body, index)
    if entry.require == "unscoped":
        return _unscoped(finding, construct, index)
    if entry.require == "break_glass_role":
        # Resource::arn:<partition>:iam::*:role/<name>: the plan's break-glass role, in any account.
        role = (detail or "").rsplit(":role/", 1)
        return len(role) == 2 and "*" not in role[1] and role[1] in index.break_glass_roles
    return True


def _compacted(finding: Finding, construct: cdk.CfnResource, body: dict[str, Any], index: _Resources) -> bool:
    """An ``Action::<wildcard>`` finding whose wildcard appears only in statements the compiler compacted to fit the
    size limit (``ManagedPolicy.compacted``): each such wildcard expands, against the pinned IAM database, to
    actions that were all intended (guardrails/policies/compaction.py). Read from the construct as it is now, so a
    wildcard added in CDK code, or written in a blueprint, stays flagged."""
    detail = finding.finding or ""
    policy = index.policy(finding, body)
    if policy is None or not detail.startswith("Action::"):
        return False
    action = detail.removeprefix("Action::")
    planned = {s.sid: s for s in policy.document.statements if s.sid in policy.compacted}
    holding = [s for document in index.documents(construct) for s in document.get("Statement", [])
               if s.get("Effect") == "Allow" and action in _listed(s.get("Action"))]
    return bool(holding) and all(s.get("Sid") in planned and action in planned[s["Sid"]].actions for s in holding)


def _unscoped(finding: Finding, construct: cdk.CfnResource, index: _Resources) -> bool:
    """A ``Resource::*`` finding where every action allowed on ``"*"`` supports no resource-level permissions in
    the pinned IAM database, so ``"*"`` is the only value IAM accepts for it (the Service Authorization Reference).
    Read from the construct as it is now (a statement added in CDK code counts)."""
    if finding.finding != "Resource::*":
        return False
    db = iam_database()
    on_star = [s for document in index.documents(construct) for s in document.get("Statement", [])
               if s.get("Effect") == "Allow" and "*" in _listed(s.get("Resource"))]
    if not on_star or any("Action" not in s for s in on_star):
        return False
    for statement in on_star:
        for pattern in _listed(statement["Action"]):
            actions = db.expand(pattern) if isinstance(pattern, str) else []
            if not actions or any(a.resource_types for a in actions):
                return False
    return True


def _documents(construct: cdk.CfnResource) -> list[dict[str, Any]]:
    """The policy documents of an IAM resource as they are now (CDK code may have changed them), resolved."""
    stack = cdk.Stack.of(construct)
    if isinstance(construct, (aws_iam.CfnManagedPolicy, aws_iam.CfnPolicy)):
        document = stack.resolve(construct.policy_document)
        return [document] if isinstance(document, dict) else []
    if isinstance(construct, (aws_iam.CfnRole, aws_iam.CfnGroup, aws_iam.CfnUser)):
        policies = stack.resolve(construct.policies) or []
        documents = [p.get("policyDocument") for p in policies if isinstance(p, dict)]
        return [d for d in documents if isinstance(d, dict)]
    return []


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def describe(found: Acknowledged) -> str:
    """A short text for a failed check: the unmatched findings and the unused entries."""
    lines = [f"{f.rule_name} on {f.path}" for f in found.unmatched[:50]]
    if len(found.unmatched) > 50:
        lines.append(f"… {len(found.unmatched) - 50} more")
    lines += [f"unused: {e.label()}" for e in found.unused]
    return "\n".join(lines)
