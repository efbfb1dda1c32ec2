"""Parity: every policy document of the plan says the same in Terraform, in CloudFormation and under policies/.

For the example, every golden case and the example with Config owned by Control Tower, the blueprint is compiled
once (in process, no validators) into a temporary output directory. Every document the plan has (identity, trust
and boundary policies, SCPs and RCPs, permission-set inline policies, the key, bucket and topic policies) is then
found where each format attaches it — Terraform: the resource's attribute, followed to its
``data "aws_iam_policy_document"`` (python-hcl2); CloudFormation: the resource's property (``cfnlint.decode``,
which also reads the short-form tags) — turned into policy JSON, its placeholders put into the plan's form
(``${account_id}``, ``${region}``, literal IAM policy variables), and compared with the JSON file under
``policies/``. Conversely every policy document either format renders must be one of the plan's.

The Terraform side is decoded as the AWS provider's aws_iam_policy_document builds its JSON: ``Sid`` only when
set, one value as a string, ``principals { type = "*" identifiers = ["*"] }`` as ``"Principal": "*"``; lists are
compared in the order written (the provider treats them as sets).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from cfnlint.decode import cfn_yaml

from guardrails.emitters.cloudformation import account_settings, password_policy
from guardrails.emitters.write import write_output
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import BaselineClass, Plan, PolicyDocument

from .conftest import ROOT

CASES_DIR = ROOT / "tests" / "cases"
GOLDEN = sorted(p.name for p in CASES_DIR.iterdir() if (p / "blueprint").is_dir())
CONTROL_TOWER_CONFIG = "example-control-tower-config"
CASES = ["example", *GOLDEN, CONTROL_TOWER_CONFIG]

# Where each resource policy of the plan is deployed: Terraform module directory ({log} is the log-archive
# account), CloudFormation template. Within it, the one resource of the kind's type carries it.
RESOURCE_POLICY_PLACES = {
    "alerts-key": ("terraform/modules/account-security", "account-security.yaml"),
    "alerts-topic": ("terraform/modules/account-security", "account-security.yaml"),
    "log-archive-key": ("terraform/accounts/{log}", "log-archive.yaml"),
    "log-archive-bucket": ("terraform/accounts/{log}", "log-archive.yaml"),
}
# Resource policy kind: (Terraform resource type, attribute), (CloudFormation resource type, property).
RESOURCE_POLICY_TYPES = {
    "kms-key": (("aws_kms_key", "policy"), ("AWS::KMS::Key", "KeyPolicy")),
    "s3-bucket": (("aws_s3_bucket_policy", "policy"), ("AWS::S3::BucketPolicy", "PolicyDocument")),
    "sns-topic": (("aws_sns_topic_policy", "policy"), ("AWS::SNS::TopicPolicy", "PolicyDocument")),
    "sqs-queue": (("aws_sqs_queue_policy", "policy"), ("AWS::SQS::QueuePolicy", "PolicyDocument")),
}
# CloudFormation has no resource type for the account password policy and the account security settings: its
# templates carry a small function for each, whose role is no plan value (Terraform sets them natively).
CLOUDFORMATION_ONLY_ROLES = {password_policy.ROLE_ID, account_settings.ROLE_ID}
# Resource types and the attributes or properties that hold a policy document, for the converse check.
TERRAFORM_DOCUMENTS = {
    "aws_iam_policy": ("policy",), "aws_iam_role": ("assume_role_policy", "inline_policy"),
    "aws_iam_role_policy": ("policy",), "aws_iam_group_policy": ("policy",), "aws_iam_user_policy": ("policy",),
    "aws_organizations_policy": ("content",), "aws_ssoadmin_permission_set_inline_policy": ("inline_policy",),
    "aws_s3_bucket": ("policy",), "aws_sns_topic": ("policy",), "aws_sqs_queue": ("policy",),
    **{tf_type: (attribute,) for (tf_type, attribute), _ in RESOURCE_POLICY_TYPES.values()},
}
CLOUDFORMATION_DOCUMENTS = {
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",), "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies"),
    "AWS::IAM::Group": ("Policies",), "AWS::IAM::User": ("Policies",), "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::Organizations::Policy": ("Content",), "AWS::SSO::PermissionSet": ("InlinePolicy",),
    **{cfn_type: (prop,) for _, (cfn_type, prop) in RESOURCE_POLICY_TYPES.values()},
}


# ----------------------------------------------------------------------------- compiled outputs


@dataclass
class Module:
    """The parsed blocks of one Terraform directory."""

    data: dict[str, Any] = field(default_factory=dict)  # aws_iam_policy_document name → body
    resources: dict[tuple[str, str], Any] = field(default_factory=dict)  # (type, name) → body


@dataclass
class Output:
    name: str
    plan: Plan
    directory: Path
    terraform: dict[str, Module]  # directory relative to the output → its blocks
    cloudformation: dict[str, dict[str, Any]]  # template file name → template


def _blueprint(case: str, scratch: Path) -> Path:
    if case == "example":
        return ROOT / "blueprints"
    if case == CONTROL_TOWER_CONFIG:
        copy = scratch / "blueprint"
        shutil.copytree(ROOT / "blueprints", copy)
        security = copy / "security.yaml"
        text, count = re.subn(r"(?m)^(  config:.*)$", r"\1\n    managed_by: control-tower", security.read_text())
        assert count == 1, "blueprints/security.yaml has no security.config section to change"
        security.write_text(text)
        return copy
    return CASES_DIR / case / "blueprint"


def _unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') else label


@cache
def _parse(text: str) -> dict[str, Any]:
    return hcl2.loads(text)


_WITH_DOCUMENTS = re.compile("aws_iam_policy_document|" + "|".join(f'resource "{t}"' for t in TERRAFORM_DOCUMENTS))


def _terraform(root: Path) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted((root / "terraform").rglob("*.tf")):
        text = path.read_text(encoding="utf-8")
        if not _WITH_DOCUMENTS.search(text):  # python-hcl2 is slow: only files that may hold a document
            continue
        module = modules.setdefault(path.parent.relative_to(root).as_posix(), Module())
        # Without the provenance line (it names the blueprint), a variant's unchanged files are parsed once.
        tree = _parse(text.split("\n", 1)[1] if text.startswith("# Generated by guardrails") else text)
        for entry in tree.get("data", []):
            for rtype, named in entry.items():
                for rname, body in named.items():
                    if _unquote(rtype) == "aws_iam_policy_document":
                        module.data[_unquote(rname)] = body
        for entry in tree.get("resource", []):
            for rtype, named in entry.items():
                for rname, body in named.items():
                    module.resources[(_unquote(rtype), _unquote(rname))] = body
    return modules


@pytest.fixture(scope="module", params=CASES)
def output(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Output:
    case: str = request.param
    scratch = tmp_path_factory.mktemp(f"parity-{case}")
    with pytest.MonkeyPatch.context() as patch:  # what the autouse fixtures do for function-scoped tests
        patch.chdir(ROOT)
        patch.setenv("HOME", str(tmp_path_factory.getbasetemp() / "home"))
        compiled = compile_blueprint(_blueprint(case, scratch), run_tests=False)
    directory = scratch / "output"
    write_output(compiled.files, directory)
    if case == CONTROL_TOWER_CONFIG:
        assert compiled.plan.security is not None and not compiled.plan.security.config_recorder
    cloudformation = {path.name: cfn_yaml.loads(path.read_text(encoding="utf-8"), str(path))
                      for path in sorted((directory / "cloudformation").glob("*.yaml"))}
    return Output(case, compiled.plan, directory, _terraform(directory), cloudformation)


# ----------------------------------------------------------------------------- placeholders → the plan's form


class NotPlanValue(ValueError):
    """A rendered document holds an expression that is no placeholder of the plan (a reference, a function)."""


_TF_VARIABLES = {"var.account_id": "${account_id}", "var.region": "${region}"}
_HCL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def hcl_string(raw: Any) -> str:
    """The plan's string for an HCL string expression as python-hcl2 returns it (quotes, escapes and
    interpolations kept): ``${var.account_id}``/``${var.region}`` → ``${account_id}``/``${region}``,
    ``$${``/``%%{`` → ``${``/``%{``, ``${"$$"}`` → ``$$``; any other interpolation is refused."""
    if not isinstance(raw, str):
        raise NotPlanValue(f"not a string: {raw!r}")
    if raw.startswith("${") and raw.endswith("}") and raw[2:-1] in _TF_VARIABLES:  # a lone, unwrapped reference
        return _TF_VARIABLES[raw[2:-1]]
    if not (len(raw) >= 2 and raw.startswith('"') and raw.endswith('"')):
        raise NotPlanValue(f"not a quoted string: {raw}")
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            width = {"u": 4, "U": 8}.get(body[i + 1])
            if width:
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
            else:
                out.append(_HCL_ESCAPES[body[i + 1]])
                i += 2
        elif body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1:i + 3])
            i += 3
        elif body.startswith(("${", "%{"), i):
            end = body.index("}", i)
            expression = body[i + 2:end]
            if re.fullmatch(r'"\$+"', expression):
                out.append(expression[1:-1])
            elif body[i] == "$" and expression in _TF_VARIABLES:
                out.append(_TF_VARIABLES[expression])
            else:
                raise NotPlanValue(f"Terraform expression {body[i:end + 1]} in {raw}")
            i = end + 1
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def terraform_json(body: dict[str, Any]) -> dict[str, Any]:
    """The policy JSON of a ``data "aws_iam_policy_document"`` body, in the plan's placeholders."""
    unsupported = sorted(k for k in body if not k.startswith("__") and k not in {"statement", "version"})
    if unsupported:
        raise NotPlanValue(f"aws_iam_policy_document arguments the plan never uses: {unsupported}")
    statements = []
    for block in body.get("statement", []):
        out: dict[str, Any] = {}
        if "sid" in block and hcl_string(block["sid"]):
            out["Sid"] = hcl_string(block["sid"])
        out["Effect"] = hcl_string(block["effect"]) if "effect" in block else "Allow"  # the provider's default
        for element, key in (("Principal", "principals"), ("NotPrincipal", "not_principals")):
            principals: dict[str, list[str]] = {}
            for p in block.get(key, []):
                principals.setdefault(hcl_string(p["type"]), []).extend(hcl_string(v) for v in p["identifiers"])
            if principals == {"*": ["*"]}:
                out[element] = "*"
            elif principals:
                out[element] = {kind: _one_or_list(ids) for kind, ids in principals.items()}
        for element, key in (("Action", "actions"), ("NotAction", "not_actions"), ("Resource", "resources"),
                             ("NotResource", "not_resources")):
            if block.get(key):
                out[element] = _one_or_list([hcl_string(v) for v in block[key]])
        conditions: dict[str, dict[str, Any]] = {}
        for c in block.get("condition", []):
            values = [hcl_string(v) for v in c["values"]]
            conditions.setdefault(hcl_string(c["test"]), {})[hcl_string(c["variable"])] = _one_or_list(values)
        if conditions:
            out["Condition"] = conditions
        statements.append(out)
    version = hcl_string(body["version"]) if "version" in body else "2012-10-17"
    return {"Version": version, "Statement": statements}


_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


def cloudformation_json(value: Any, partition: str) -> Any:
    """A CloudFormation policy property in the plan's placeholders: ``Fn::Sub`` resolved for
    ``${AWS::AccountId}``/``${AWS::Region}``/``${AWS::Partition}`` and ``${!…}``; any other intrinsic is refused."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            if not isinstance(text, str):
                raise NotPlanValue(f"Fn::Sub with a variable map: {value!r}")
            pseudo = {"AWS::AccountId": "${account_id}", "AWS::Region": "${region}", "AWS::Partition": partition}

            def resolve(match: re.Match[str]) -> str:
                if match.group(1):
                    return "${" + match.group(2) + "}"
                if match.group(2) not in pseudo:
                    raise NotPlanValue(f"Fn::Sub variable ${{{match.group(2)}}} in {text!r}")
                return pseudo[match.group(2)]

            return _SUB_VARIABLE.sub(resolve, text)
        intrinsic = [k for k in value if k == "Ref" or k.startswith("Fn::")]
        if intrinsic:
            raise NotPlanValue(f"CloudFormation expression {intrinsic[0]}: {value!r}")
        return {str(k): cloudformation_json(v, partition) for k, v in value.items()}
    if isinstance(value, list):
        return [cloudformation_json(v, partition) for v in value]
    return str(value) if isinstance(value, str) else value


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (``Statement[2].Condition.StringEquals``), with both values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            if key not in actual:
                return f"{path}.{key}: missing (plan: {expected[key]!r})".lstrip(".")
            if key not in expected:
                return f"{path}.{key}: not in the plan (rendered: {actual[key]!r})".lstrip(".")
            found = first_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (e, a) in enumerate(zip(expected, actual)):
            found = first_difference(e, a, f"{path}[{index}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path.lstrip('.') or '$'}: {len(expected)} items in the plan, {len(actual)} rendered"
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path.lstrip('.') or '$'}: plan {expected!r}, rendered {actual!r}"
    return None


# ----------------------------------------------------------------------------- where each document is rendered


@dataclass(frozen=True)
class Ref:
    """An HCL reference expected as an attribute's value, e.g. ``aws_iam_role.role_x.name``."""

    expression: str


@dataclass(frozen=True)
class Hit:
    """One rendering of a document: where it is (for messages), which document of the output it is, its value."""

    where: str
    # Which documents of the output it is. Terraform: (directory, "data", data source) and (directory, resource
    # type, name, attribute); CloudFormation: (file, logical id, property…).
    keys: tuple[tuple[str, ...], ...]
    value: Any


Finder = Callable[[Output], list[Hit]]


@dataclass(frozen=True)
class Place:
    """One plan document and how to find each format's rendering of it."""

    label: str
    document: PolicyDocument
    policy_file: str  # under the output directory
    terraform: Finder  # → data source bodies
    cloudformation: Finder  # → property values


def _matches(body: dict[str, Any], match: dict[str, str | Ref]) -> bool:
    for key, wanted in match.items():
        raw = body.get(key)
        if isinstance(wanted, Ref):
            if raw != "${" + wanted.expression + "}":
                return False
        else:
            try:
                if hcl_string(raw) != wanted:
                    return False
            except NotPlanValue:
                return False
    return True


def tf_resources(out: Output, directory: str, rtype: str, **match: str | Ref) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of the resources of ``rtype`` in ``directory`` whose attributes are ``match``."""
    module = out.terraform.get(directory, Module())
    return [(name, body) for (t, name), body in module.resources.items() if t == rtype and _matches(body, match)]


_DATA_REF = re.compile(r"\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.(?:json|minified_json)\}")


def tf_attached(directory: str, rtype: str, attribute: str, **match: str | Ref) -> Finder:
    """The data source that the ``attribute`` of each matching resource refers to."""
    def find(out: Output) -> list[Hit]:
        found = []
        for name, body in tf_resources(out, directory, rtype, **match):
            where = f"{directory}: {rtype}.{name}.{attribute}"
            reference = _DATA_REF.fullmatch(str(body.get(attribute)))
            if reference is None:
                raise NotPlanValue(f"{where} is {body.get(attribute)!r}, not an aws_iam_policy_document")
            data = out.terraform[directory].data.get(reference.group(1))
            if data is None:
                raise NotPlanValue(f"{where} refers to a data source not in {directory}")
            found.append(Hit(f"{where} (data.aws_iam_policy_document.{reference.group(1)})",
                             ((directory, "data", reference.group(1)), (directory, rtype, name, attribute)), data))
        return found
    return find


def tf_inline_policy(directory: str, role: str, name: str) -> Finder:
    def find(out: Output) -> list[Hit]:
        return [hit for key, _ in tf_resources(out, directory, "aws_iam_role", name=role)
                for hit in tf_attached(directory, "aws_iam_role_policy", "policy", name=name,
                                       role=Ref(f"aws_iam_role.{key}.name"))(out)]
    return find


def tf_permission_set(name: str) -> Finder:
    directory = "terraform/identity-center"

    def find(out: Output) -> list[Hit]:
        return [hit for key, _ in tf_resources(out, directory, "aws_ssoadmin_permission_set", name=name)
                for hit in tf_attached(directory, "aws_ssoadmin_permission_set_inline_policy", "inline_policy",
                                       permission_set_arn=Ref(f"aws_ssoadmin_permission_set.{key}.arn"))(out)]
    return find


def cfn_property(files: Callable[[Output], list[str]], rtype: str, path: tuple[str | tuple[str, str], ...],
                 **match: str) -> Finder:
    """The property at ``path`` of every resource of ``rtype`` in ``files`` whose properties are ``match``; a
    ``(key, value)`` step picks the list item whose ``key`` is ``value`` (``Policies``' ``PolicyName``)."""
    steps = tuple(step[1] if isinstance(step, tuple) else step for step in path)

    def find(out: Output) -> list[Hit]:
        found = []
        for file in files(out):
            for logical_id, resource in out.cloudformation.get(file, {}).get("Resources", {}).items():
                properties = resource.get("Properties", {})
                if resource.get("Type") != rtype or any(properties.get(k) != v for k, v in match.items()):
                    continue
                value: Any = properties
                for step in path:
                    if isinstance(step, tuple):
                        value = next((item for item in value or [] if item.get(step[0]) == step[1]), {})
                    else:
                        value = value.get(step) if isinstance(value, dict) else None
                if value:
                    found.append(Hit(f"{file}: {logical_id}.{'.'.join(steps)}", ((file, logical_id, *steps),), value))
        return found
    return find


def _files(*names: str) -> Callable[[Output], list[str]]:
    return lambda out: list(names)


def _all_templates(out: Output) -> list[str]:
    return list(out.cloudformation)


def _baseline_template(plan: Plan, cls: BaselineClass) -> str:
    management = any(plan.account(a).management for a in cls.accounts)
    return "management-baseline.yaml" if management else f"baseline-{cls.key}.yaml"


def places(plan: Plan) -> Iterator[Place]:
    """Every policy document of the plan, with where each format renders it."""
    for scp in (*plan.scps, *plan.rcps):
        folder = "scp" if scp.policy_type == "SERVICE_CONTROL_POLICY" else "rcp"
        yield Place(f"{folder.upper()} {scp.name}", scp.document, f"policies/{folder}/{scp.name}.json",
                    tf_attached("terraform/organization", "aws_organizations_policy", "content", name=scp.name,
                                type=scp.policy_type),
                    cfn_property(_all_templates, "AWS::Organizations::Policy", ("Content",), Name=scp.name,
                                 Type=scp.policy_type))
    for cls in plan.classes:
        module, template, base = f"terraform/modules/baseline-{cls.key}", _files(_baseline_template(plan, cls)), \
            f"policies/accounts/{cls.key}"
        for policy in cls.baseline.managed_policies:
            yield Place(f"class {cls.key}: {policy.kind} policy {policy.name}", policy.document,
                        f"{base}/{policy.kind}/{policy.name}.json",
                        tf_attached(module, "aws_iam_policy", "policy", name=policy.name, path=policy.path),
                        cfn_property(template, "AWS::IAM::ManagedPolicy", ("PolicyDocument",),
                                     ManagedPolicyName=policy.name, Path=policy.path))
        for role in cls.baseline.roles:
            yield Place(f"class {cls.key}: trust policy of {role.name}", role.trust, f"{base}/trust/{role.name}.json",
                        tf_attached(module, "aws_iam_role", "assume_role_policy", name=role.name),
                        cfn_property(template, "AWS::IAM::Role", ("AssumeRolePolicyDocument",), RoleName=role.name))
            for name, document in role.inline_policies:
                yield Place(f"class {cls.key}: inline policy {name} of {role.name}", document,
                            f"{base}/inline/{role.name}-{name}.json", tf_inline_policy(module, role.name, name),
                            cfn_property(template, "AWS::IAM::Role", ("Policies", ("PolicyName", name),
                                                                      "PolicyDocument"), RoleName=role.name))
    if plan.identity_center is not None:
        for ps in plan.identity_center.permission_sets:
            if ps.inline_policy is not None:
                yield Place(f"permission set {ps.name}: inline policy", ps.inline_policy,
                            f"policies/permission-sets/{ps.name}.json", tf_permission_set(ps.name),
                            cfn_property(_all_templates, "AWS::SSO::PermissionSet", ("InlinePolicy",), Name=ps.name))
    for policy in plan.resource_policies:
        if policy.key not in RESOURCE_POLICY_PLACES:
            raise AssertionError(f"resource policy {policy.key}: add where it is rendered to RESOURCE_POLICY_PLACES")
        directory, template = RESOURCE_POLICY_PLACES[policy.key]
        directory = directory.format(log=plan.security.log_account if plan.security else "")
        (tf_type, attribute), (cfn_type, prop) = RESOURCE_POLICY_TYPES[policy.kind]
        yield Place(f"{policy.kind} policy {policy.key}", policy.document, f"policies/resources/{policy.key}.json",
                    tf_attached(directory, tf_type, attribute), cfn_property(_files(template), cfn_type, (prop,)))


# ----------------------------------------------------------------------------- the tests


def _compare(place: Place, expected: dict[str, Any], side: str, hit: Hit, decode: Callable[[Any], Any]) -> str | None:
    try:
        rendered = decode(hit.value)
    except NotPlanValue as error:
        return f"{place.label}: {side} {hit.where}: {error}"
    difference = first_difference(expected, rendered)
    return f"{place.label}: {side} {hit.where} differs from {place.policy_file} at {difference}" if difference else None


def test_both_formats_render_every_plan_document_exactly(output: Output) -> None:
    problems: list[str] = []
    partition = output.plan.org.partition
    for place in places(output.plan):
        file = output.directory / place.policy_file
        if not file.is_file():
            problems.append(f"{place.label}: {place.policy_file} is missing")
            continue
        expected = json.loads(file.read_text(encoding="utf-8"))
        if expected != place.document.to_json():
            problems.append(f"{place.label}: {place.policy_file} is not the plan's document")
        for side, finder, decode in (
                ("Terraform", place.terraform, terraform_json),
                ("CloudFormation", place.cloudformation, lambda value: cloudformation_json(value, partition))):
            try:
                hits = finder(output)
            except NotPlanValue as error:
                problems.append(f"{place.label}: {side}: {error}")
                continue
            if not hits:
                problems.append(f"{place.label}: not found in the {side} output")
            elif len(hits) > 1:
                problems.append(f"{place.label}: {side} renders it {len(hits)} times: {[h.where for h in hits]}")
            problems += filter(None, (_compare(place, expected, side, hit, decode) for hit in hits))
    assert not problems, f"{output.name}: {len(problems)} parity problem(s):\n" + "\n".join(problems)


def test_every_rendered_policy_document_is_a_plan_document(output: Output) -> None:
    """Neither format grants through a document the plan (and so policies/, the checks and the diff) lacks."""
    claimed: set[tuple[str, ...]] = set()
    for place in places(output.plan):
        for finder in (place.terraform, place.cloudformation):
            try:
                claimed.update(key for hit in finder(output) for key in hit.keys)
            except NotPlanValue:
                pass  # reported by the test above
    extra = [f"Terraform {directory}: data.aws_iam_policy_document.{name}" for directory, module in
             output.terraform.items() for name in module.data if (directory, "data", name) not in claimed]
    extra += [f"Terraform {directory}: {rtype}.{name}.{attribute}" for directory, module in output.terraform.items()
              for (rtype, name), body in module.resources.items() for attribute in TERRAFORM_DOCUMENTS.get(rtype, ())
              if attribute in body and (directory, rtype, name, attribute) not in claimed]
    for file, template in output.cloudformation.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if logical_id in CLOUDFORMATION_ONLY_ROLES:
                continue
            for prop in CLOUDFORMATION_DOCUMENTS.get(resource.get("Type"), ()):
                value = resource.get("Properties", {}).get(prop)
                keys = [(file, logical_id, prop, p.get("PolicyName"), "PolicyDocument") for p in value or []] \
                    if prop == "Policies" else [(file, logical_id, prop)] if value else []
                extra += [f"CloudFormation {k[0]}: {'.'.join(k[1:])}" for k in keys if k not in claimed]
    assert not extra, f"{output.name}: policy documents that are no plan value:\n" + "\n".join(extra)


def test_the_decoders_undo_each_formats_escaping() -> None:
    """The placeholder and escape forms both emitters write, read back into the plan's form."""
    assert hcl_string('"arn:aws:s3:::b-${var.account_id}/$${aws:username}/%%{x}/${"$$"}${var.region}"') == \
        "arn:aws:s3:::b-${account_id}/${aws:username}/%{x}/$$${region}"
    assert hcl_string("${var.account_id}") == "${account_id}"
    assert hcl_string(r'"say \"hi\"\n\u00e9"') == 'say "hi"\né'
    with pytest.raises(NotPlanValue):
        hcl_string('"${aws_s3_bucket.x.arn}"')
    sub = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${!aws:username}-${AWS::Region}"}
    assert cloudformation_json(sub, "aws-us-gov") == "arn:aws-us-gov:iam::${account_id}:role/${aws:username}-${region}"
    for value in ({"Ref": "Bucket"}, {"Fn::Sub": "${Bucket.Arn}"}, {"Fn::GetAtt": ["Key", "Arn"]}):
        with pytest.raises(NotPlanValue):
            cloudformation_json(value, "aws")
    assert first_difference({"Statement": [{"Sid": "A", "Action": "s3:Get*"}]},
                            {"Statement": [{"Sid": "A", "Action": ["s3:Get*"]}]}) == \
        "Statement[0].Action: plan 's3:Get*', rendered ['s3:Get*']"
