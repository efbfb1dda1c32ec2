"""The lockout proof: break-glass (every action, adversarial contexts), deployment (real policies where guardrails
deploys the deployer), MFA enrollment and quarantine, proven with the evaluator."""

from __future__ import annotations

import copy
import ipaddress
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation.lockout import (
    LockoutFinding,
    Quarantine,
    deployment_actions,
    lockout_diagnostics,
    prove_no_lockout,
    universe,
)
from guardrails.evaluation.lockout import prove as prove_with_coverage
from guardrails.evaluation.organization import Organization, us_east_1_services
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.iam.actions import CREDENTIAL_FREE_ACTIONS, iam_database

from .conftest import ROOT

# The example's explicit Workloads SCP caps instance sizes for everyone, break-glass included, on purpose.
WORKLOADS_INTENDED = {"workloads-deny-expensive-instances": ["DenyLargeInstances"]}
PLAN_ROLES = {"deployment_roles": ("OrganizationAccountAccessRole",),
              "management_deployer": "GuardrailsManagementDeployer"}
ROOT_SCP = "policies/scp/guardrails-root.json"
ROOT_RCP = "guardrails-rcp-root"


@pytest.fixture(scope="module")
def example_files(example_compiled: Compiled) -> dict[str, str]:
    files = example_compiled.files
    return {p: t for p, t in files.items() if p.startswith("policies/")}


def prove(files: dict[str, str], **kwargs: Any) -> list[LockoutFinding]:
    return prove_no_lockout(Organization(files), **{"intended": WORKLOADS_INTENDED, **PLAN_ROLES, **kwargs})


def edit_statement(files: dict[str, str], path: str, sid: str, change: Any) -> dict[str, str]:
    """A copy of the tree with one statement of one policy changed in place by ``change``."""
    out = dict(files)
    document = json.loads(out[path])
    statement = next(s for s in document["Statement"] if s["Sid"] == sid)
    change(statement)
    out[path] = json.dumps(document)
    return out


def with_scp(files: dict[str, str], name: str, statements: list[dict[str, Any]], target: str = "root",
             guardrails: list[str] | None = None) -> dict[str, str]:
    """A copy of the tree with one more SCP attached at ``target``."""
    out = dict(files)
    manifest = json.loads(out["policies/manifest.json"])
    manifest["service_control_policies"].append({"name": name, "target": target, "file": f"policies/scp/{name}.json",
                                                 "guardrails": guardrails or []})
    out["policies/manifest.json"] = json.dumps(manifest)
    out[f"policies/scp/{name}.json"] = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return out


def drop_exemption(statement: dict[str, Any]) -> None:
    del statement["Condition"]["ArnNotLike"]
    if not statement["Condition"]:
        del statement["Condition"]


# ----------------------------------------------------------------------------- the example


def test_the_example_proves_clean_with_its_workloads_cap_declared(example_files: dict[str, str]) -> None:
    assert prove(example_files) == []


def undeclared(files: dict[str, str]) -> dict[str, str]:
    """A copy of the tree whose manifest declares no intended denial (the catalog's stay)."""
    manifest = json.loads(files["policies/manifest.json"])
    for entry in manifest["service_control_policies"]:
        entry.pop("intended_denials", None)
    return {**files, "policies/manifest.json": json.dumps(manifest)}


def test_an_undeclared_cap_for_everyone_is_a_finding_with_the_request_that_proves_it(
        example_files: dict[str, str]) -> None:
    example_files = undeclared(example_files)
    (finding,) = prove(example_files, intended={})
    assert finding.check == "break-glass" and finding.principal == "role/BreakGlass"
    assert (finding.policy, finding.sid, finding.level) == ("workloads-deny-expensive-instances",
                                                            "DenyLargeInstances", "ou:Workloads")
    assert finding.actions == ("ec2:RunInstances",)
    assert finding.accounts == ("app-dev", "app-prod", "data-dev", "data-prod")
    assert finding.resource.startswith("arn:aws:ec2:eu-west-1:${account_id}:instance/")
    (key, values), = finding.context
    assert key == "ec2:InstanceType" and values is not None and values[0].endswith(("xlarge", ".metal"))
    # The witness is a real decision of the evaluator.
    decision = Organization(example_files).evaluate("role/BreakGlass", "app-dev", "ec2:RunInstances",
                                                    finding.resource.replace("${account_id}", "400000000003"),
                                                    {key: list(values)})
    assert decision.outcome == "explicit-deny"


def test_the_manifest_declares_intended_denials(example_files: dict[str, str]) -> None:
    manifest = json.loads(example_files["policies/manifest.json"])
    manifest["service_control_policies"] = [{**e, "intended_denials": ["DenyLargeInstances"]}
                                            if e["name"] == "workloads-deny-expensive-instances" else e
                                            for e in manifest["service_control_policies"]]
    declared = {**undeclared(example_files), "policies/manifest.json": json.dumps(manifest)}
    assert prove(declared, intended={}) == []


def test_leaving_the_organization_is_intended_by_the_catalog(example_files: dict[str, str]) -> None:
    """deny-leave-organization denies break-glass on purpose (locks_break_glass); the proof accepts exactly
    that action, not another one that happens to share its statement (as when the packer merges statements),
    whatever Sid the manifest lists for the catalog policy."""
    widened = edit_statement(example_files, ROOT_SCP, "DenyLeaveOrganization",
                             lambda s: s.update(Action=["organizations:LeaveOrganization", "iam:CreateRole"]))
    (finding,) = [f for f in prove(widened) if f.check == "break-glass"]
    assert (finding.sid, finding.actions) == ("DenyLeaveOrganization", ("iam:CreateRole",))


def test_a_catalog_deny_without_the_exemption_is_caught_naming_statement_and_action(
        example_files: dict[str, str]) -> None:
    files = edit_statement(example_files, ROOT_SCP, "ProtectGuardrailRoles", drop_exemption)
    findings = prove(files)
    (bg,) = [f for f in findings if f.check == "break-glass"]
    assert (bg.policy, bg.sid, bg.level) == ("guardrails-root", "ProtectGuardrailRoles", "root")
    assert bg.actions[0].startswith("iam:") and ":role/" in bg.resource
    assert len(bg.accounts) == 9  # every member account; SCPs never restrict the management account
    deployers = {f.principal for f in findings if f.check == "deployment" and f.sid == "ProtectGuardrailRoles"}
    assert {"role/stacksets-exec-*", "role/OrganizationAccountAccessRole"} <= deployers
    origins = {("guardrails-root", bg.index): "protect-guardrail-roles"}
    (diagnostic, *_) = lockout_diagnostics(findings, origins=origins)
    assert diagnostic.code == "GR403"
    assert "ProtectGuardrailRoles" in diagnostic.message and bg.actions[0] in diagnostic.message
    assert "catalog guardrail protect-guardrail-roles" in diagnostic.message
    assert "exempt_privileged" in diagnostic.hint and "intended_denials: [ProtectGuardrailRoles]" in diagnostic.hint


def test_a_region_restriction_without_exemption_locks_break_glass_out_of_us_east_1(
        example_files: dict[str, str]) -> None:
    files = edit_statement(example_files, ROOT_SCP, "DenyOutsideAllowedRegions", drop_exemption)
    (finding,) = [f for f in prove(files) if f.check == "break-glass"]
    assert finding.sid == "DenyOutsideAllowedRegions"
    service = finding.actions[0].split(":")[0]
    assert service not in us_east_1_services() and service not in ("iam", "sts", "organizations")
    assert dict(finding.context) == {"aws:RequestedRegion": ("us-east-1",)}
    assert "with aws:RequestedRegion=us-east-1" in lockout_diagnostics([finding])[0].message


def test_a_deny_on_create_role_for_everyone_breaks_the_deployment(example_files: dict[str, str]) -> None:
    files = with_scp(example_files, "no-new-roles", [{"Sid": "DenyCreateRole", "Effect": "Deny",
                                                      "Action": "iam:CreateRole", "Resource": "*"}])
    deployment = [f for f in prove(files, intended={**WORKLOADS_INTENDED, "no-new-roles": ["DenyCreateRole"]})
                  if f.check == "deployment"]
    assert {f.principal for f in deployment} == {"role/stacksets-exec-*", "role/OrganizationAccountAccessRole"}
    assert all(f.actions == ("iam:CreateRole",) and f.sid == "DenyCreateRole" for f in deployment)
    # Intended or not for break-glass, the deployment needs the action: the declaration does not hide it.
    message = lockout_diagnostics(deployment)[0].message
    assert "deployment principal" in message and "which deploying the baseline needs" in message


def test_the_password_policy_function_role_is_a_deployment_principal(example_files: dict[str, str]) -> None:
    """Only break-glass and the deployment roles exempted: the CloudFormation function that sets the password
    policy (its role name is generated) is locked out."""
    exempt = next(s["Condition"]["ArnNotLike"] for s in json.loads(example_files[ROOT_SCP])["Statement"]
                  if s["Sid"] == "DenyOutsideAllowedRegions")
    files = with_scp(example_files, "password-policy-frozen", [{
        "Sid": "FreezePasswordPolicy", "Effect": "Deny", "Action": "iam:UpdateAccountPasswordPolicy",
        "Resource": "*", "Condition": {"ArnNotLike": exempt}}])
    (finding,) = prove(files)
    assert finding.check == "deployment" and "PasswordPolicyFunctionRole" in finding.principal
    assert finding.principal.startswith("role/guardrails/")
    exempt_too = with_scp(example_files, "password-policy-frozen", [{
        "Sid": "FreezePasswordPolicy", "Effect": "Deny", "Action": "iam:UpdateAccountPasswordPolicy",
        "Resource": "*", "Condition": {"ArnNotLike": exempt,
                                       "StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/guardrails/*"
                                                                             "PasswordPolicy*"}}}])
    assert prove(exempt_too) == []


def test_an_rcp_is_checked_like_an_scp(example_files: dict[str, str]) -> None:
    files = dict(example_files)
    manifest = json.loads(files["policies/manifest.json"])
    manifest["resource_control_policies"] = [{"name": "s3-from-office", "target": "ou:Workloads",
                                              "file": "policies/rcp/s3-from-office.json", "guardrails": []}]
    files["policies/manifest.json"] = json.dumps(manifest)
    files["policies/rcp/s3-from-office.json"] = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3OnlyFromOffice", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}}]})
    (finding,) = prove(files)
    assert (finding.kind, finding.policy, finding.sid) == ("rcp", "s3-from-office", "S3OnlyFromOffice")
    assert finding.actions[0].startswith("s3:") and dict(finding.context)["aws:SourceIp"] != ("192.0.2.0",)


# ----------------------------------------------------------------------------- exhaustive and adversarial


def test_break_glass_over_plain_http_is_found_and_the_example_declares_it(example_files: dict[str, str]) -> None:
    """aws:SecureTransport is the adversary's (S3 answers plain HTTP; AWS always sends the key): the root RCP's
    EnforceSecureTransport denies break-glass, and the example declares that intended
    (organization.intended_denials, carried into the manifest)."""
    manifest = json.loads(example_files["policies/manifest.json"])
    (rcp,) = [e for e in manifest["resource_control_policies"] if e["name"] == ROOT_RCP]
    assert "EnforceSecureTransport" in rcp["intended_denials"]
    for entry in manifest["resource_control_policies"]:
        entry.pop("intended_denials", None)
    files = {**example_files, "policies/manifest.json": json.dumps(manifest)}
    (finding,) = prove(files)
    assert (finding.check, finding.principal, finding.kind, finding.policy, finding.sid) == (
        "break-glass", "role/BreakGlass", "rcp", ROOT_RCP, "EnforceSecureTransport")
    assert dict(finding.context) == {"aws:SecureTransport": ("false",)} and len(finding.accounts) == 9
    assert {"s3:PutObject", "s3:GetObject", "sqs:SendMessage", "kms:Decrypt", "sts:AssumeRole"} <= set(finding.actions)
    # RCPs apply only to the resources an action authorizes: STS calls without a resource type are out of reach.
    assert "sts:GetSessionToken" not in finding.actions and not any(a.startswith("ec2:") for a in finding.actions)
    assert "with aws:SecureTransport=false" in lockout_diagnostics([finding])[0].message
    # The reproducer, as the evaluator answers it.
    decision = Organization(files).evaluate("role/BreakGlass", "app-prod", "s3:PutObject",
                                            "arn:aws:s3:::app-assets/restore.tar", {"aws:SecureTransport": ["false"]})
    assert decision.outcome == "explicit-deny" and [m.sid for m in decision.deciding] == ["EnforceSecureTransport"]
    assert prove(files, intended={**WORKLOADS_INTENDED, ROOT_RCP: ["EnforceSecureTransport"]}) == []


def test_a_deny_that_reaches_one_rare_resource_type_is_found_with_exactly_its_actions(
        example_files: dict[str, str]) -> None:
    """Every action of the database is asked, with the resources it authorizes: a sampled proof tried a few
    common actions (on a server-certificate ARN, which no such request names)."""
    files = with_scp(example_files, "certificates-frozen", [{
        "Sid": "FreezeServerCertificates", "Effect": "Deny", "Action": "*",
        "Resource": "arn:aws:iam::*:server-certificate/*"}])
    (finding,) = [f for f in prove(files, intended={**WORKLOADS_INTENDED}) if f.check == "break-glass"]
    expected = {f.name for f in universe().facts.values() if any(":server-certificate/" in x for x in f.formats)}
    assert set(finding.actions) == expected and "iam:UploadServerCertificate" in expected
    assert ":server-certificate/" in finding.resource


def test_a_deny_for_one_region_reaches_every_regional_action_and_no_global_one(example_files: dict[str, str]) -> None:
    """The adversary picks the region of a regional service's request; a us-east-1 service's requests always say
    us-east-1, so a Deny for another region never reaches them."""
    files = with_scp(example_files, "no-osaka", [{
        "Sid": "DenyOsaka", "Effect": "Deny", "NotAction": ["iam:*", "organizations:*"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-northeast-3"}}}])
    (finding,) = [f for f in prove(files) if f.check == "break-glass"]
    assert dict(finding.context) == {"aws:RequestedRegion": ("ap-northeast-3",)}
    # ... except the federation calls, which no role sends (they carry no AWS credentials).
    expected = {f.name for f in universe().facts.values() if not f.pinned_region} - set(CREDENTIAL_FREE_ACTIONS)
    assert set(finding.actions) == expected and len(expected) > 15_000
    assert "ec2:RunInstances" in expected and "route53:ChangeResourceRecordSets" not in expected


def test_adversarial_values_are_derived_from_the_denys_own_condition(example_files: dict[str, str]) -> None:
    files = with_scp(example_files, "adversary", [
        {"Sid": "S3FromOfficeOnly", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}},
        {"Sid": "FreshMfaForKeyDeletion", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "900"}}},
        {"Sid": "OnlyOurOrganization", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}}}])
    found = {f.sid: dict(f.context) for f in prove(files) if f.check == "break-glass"}
    address = ipaddress.ip_address(found["S3FromOfficeOnly"]["aws:SourceIp"][0])
    assert not any(address in ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.0.0/16"))
    assert found["FreshMfaForKeyDeletion"] == {"aws:MultiFactorAuthAge": ("901",)}  # the session grows old
    assert "OnlyOurOrganization" not in found  # the principal's organization is its own, not the adversary's


def test_a_deployment_principal_guardrails_deploys_is_proven_with_its_real_policies(
        example_files: dict[str, str]) -> None:
    """GuardrailsCIDeployer (a workload CI role with a boundary) listed as a deployment principal: it cannot
    create what the baseline deploys, through its own policies. (The tree's SCPs do not exempt it — the example
    does not list it — so they deny it too, everywhere.)"""
    manifest = json.loads(example_files["policies/manifest.json"])
    manifest["organization"]["deployment_principals"].append("GuardrailsCIDeployer")
    files = {**example_files, "policies/manifest.json": json.dumps(manifest)}
    everything = [f for f in prove(files) if f.principal == "role/GuardrailsCIDeployer"]
    assert {f.check for f in everything} == {"deployment"} and {"scp"} <= {f.kind for f in everything}
    findings = [f for f in everything if f.kind in ("identity", "boundary")]
    # Its own policies where guardrails deploys it; elsewhere a role of that name would be someone else's.
    assert findings and {f.accounts for f in findings} == {("app-dev", "app-prod", "data-dev", "data-prod")}
    denied = {a for f in findings for a in f.actions}
    assert {"iam:CreatePolicy", "iam:CreateGroup", "iam:AttachGroupPolicy"} <= denied
    (implicit,) = [f for f in findings if f.index == -1]
    assert implicit.decision.startswith("implicit-deny") and ":role/" in implicit.resource
    organization = Organization(files)
    for role in ("BreakGlass", "SecurityAuditor"):  # the baseline's roles are out of its reach
        assert not organization.evaluate("role/GuardrailsCIDeployer", "app-prod", "iam:UpdateAssumeRolePolicy",
                                         f"arn:aws:iam::400000000001:role/{role}").allowed
    (diagnostic, *_) = lockout_diagnostics(findings)
    assert "deployment principal role/GuardrailsCIDeployer cannot" in diagnostic.message
    assert "deployment_principals" in diagnostic.hint


def test_a_deployment_principal_aws_creates_is_taken_as_administrator(example_files: dict[str, str]) -> None:
    """OrganizationAccountAccessRole and the StackSets execution role are not in the tree: only SCPs and RCPs can
    deny them, and the example's exempt them."""
    assert not [f for f in prove(example_files) if f.check == "deployment"]


def test_the_proof_reports_what_it_covered(example_files: dict[str, str]) -> None:
    result = prove_with_coverage(Organization(example_files), intended=WORKLOADS_INTENDED, **PLAN_ROLES)
    coverage = result.coverage
    assert result.findings == []
    # Member accounts by SCP/RCP path and class: the root RCP data-perimeter-confused-deputy names account-valued
    # keys, so each of the nine member accounts is proven on its own path.
    groups = 9
    assert coverage.actions == len(universe()) and coverage.groups["break-glass"] == groups
    assert coverage.combinations["break-glass"] > coverage.actions * groups  # adversarial contexts on top
    assert coverage.combinations["deployment"] > 1_000 and coverage.combinations["mfa-enrollment"] > 0
    line = coverage.summary()
    assert f"{coverage.actions:,} actions × {groups} SCP/RCP paths and classes: " \
           f"{coverage.combinations['break-glass']:,} (action, path, class, context) combinations" in line


def test_a_declaration_of_a_guardrail_attached_nowhere_is_an_error(tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    organization = blueprint / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    assert "    enforce-secure-transport: >-\n" in text
    organization.write_text(text.replace("    enforce-secure-transport: >-\n", "    enforce-secure-transprt: >-\n"),
                            encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, run_tests=False)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GR301" and "enforce-secure-transprt" in diagnostic.message
    assert "enforce-secure-transport" in diagnostic.hint


# ----------------------------------------------------------------------------- MFA enrollment and quarantine


def test_an_scp_that_denies_mfa_enrollment_without_mfa_is_caught(example_files: dict[str, str]) -> None:
    files = with_scp(example_files, "mfa-only", [{
        "Sid": "DenyMfaDeviceChangesWithoutMfa", "Effect": "Deny",
        "Action": ["iam:EnableMFADevice", "iam:DeactivateMFADevice"], "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}], target="ou:Security")
    findings = prove(files)
    assert {(f.check, f.principal, f.sid, f.actions) for f in findings} == {
        ("mfa-enrollment", "user/break-glass-alice", "DenyMfaDeviceChangesWithoutMfa", ("iam:EnableMFADevice",)),
        ("mfa-enrollment", "user/break-glass-bob", "DenyMfaDeviceChangesWithoutMfa", ("iam:EnableMFADevice",))}
    assert all(f.accounts == ("audit",) for f in findings)  # the break-glass users live there, MFA enforced
    assert "without MFA cannot iam:EnableMFADevice" in lockout_diagnostics(findings)[0].message


def test_the_force_mfa_policy_itself_lets_users_enroll(example_files: dict[str, str]) -> None:
    """The enrollment check reads identity policies too: removing EnableMFADevice from the force-MFA policy's
    NotAction is caught as the identity Deny that decides."""
    path = next(p for p, t in example_files.items() if "DenyAllExceptListedIfNoMFA" in t)
    files = edit_statement(example_files, path, "DenyAllExceptListedIfNoMFA",
                           lambda s: s.update(NotAction=[a for a in s["NotAction"] if a != "iam:EnableMFADevice"]))
    findings = prove(files)
    assert {(f.check, f.kind, f.sid, f.actions) for f in findings} == {
        ("mfa-enrollment", "identity", "DenyAllExceptListedIfNoMFA", ("iam:EnableMFADevice",))}


QUARANTINE = {"Version": "2012-10-17", "Statement": [{
    "Sid": "QuarantineAccount", "Effect": "Deny", "Action": "*", "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/BreakGlass",
                                                      "arn:aws:iam::*:role/OrganizationAccountAccessRole"]}}}]}


def test_a_quarantine_scp_must_let_break_glass_and_the_bootstrap_role_in(example_files: dict[str, str]) -> None:
    assert prove(example_files, quarantine=Quarantine(QUARANTINE)) == []
    forgets = copy.deepcopy(QUARANTINE)
    forgets["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = [
        "arn:aws:iam::*:role/OrganizationAccountAccessRole"]
    (finding,) = prove(example_files, quarantine=Quarantine(forgets, name="quarantine-v2"))
    assert (finding.check, finding.principal, finding.policy, finding.sid) == (
        "quarantine", "role/BreakGlass", "quarantine-v2", "QuarantineAccount")
    assert len(finding.accounts) == 9
    bootstrap_forgotten = copy.deepcopy(QUARANTINE)
    bootstrap_forgotten["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = [
        "arn:aws:iam::*:role/BreakGlass"]
    (finding,) = prove(example_files, quarantine=Quarantine(bootstrap_forgotten))
    assert finding.principal == "role/OrganizationAccountAccessRole"
    assert "quarantine SCP denies role/OrganizationAccountAccessRole" in lockout_diagnostics([finding])[0].message


# ----------------------------------------------------------------------------- the build


def test_the_build_fails_with_gr403_at_the_offending_statement(tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    organization = blueprint / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    anchor = "  guardrails:                        # attached at the root\n"
    assert anchor in text
    organization.write_text(text.replace(anchor, (
        "  scps:\n"
        "    - name: groups-frozen\n"
        "      statements:\n"
        "        - sid: DenyGroupUpdates\n"
        "          effect: Deny\n"
        "          actions: [\"iam:UpdateGroup\"]\n"
        "          resources: [\"*\"]\n") + anchor), encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint)
    diagnostics = caught.value.diagnostics
    assert diagnostics and all(d.code == "GR403" for d in diagnostics)
    assert all(d.location is not None and d.location.file.endswith("organization.yaml") and d.location.line
               for d in diagnostics)
    assert any("iam:UpdateGroup" in d.message and "DenyGroupUpdates" in d.message and "deployment principal" in
               d.message for d in diagnostics)


def test_the_example_builds_with_the_proof(example_files: dict[str, str]) -> None:
    compile_blueprint(ROOT / "blueprints")  # raises BlueprintError on a GR403


# ----------------------------------------------------------------------------- determinism and scale


def test_the_proof_is_deterministic(example_files: dict[str, str]) -> None:
    files = edit_statement(example_files, ROOT_SCP, "DenyOutsideAllowedRegions", drop_exemption)
    files = undeclared(files)
    first = prove(files, intended={})
    manifest = json.loads(files["policies/manifest.json"])
    manifest["accounts"].reverse()
    manifest["service_control_policies"].reverse()
    shuffled = {**files, "policies/manifest.json": json.dumps(manifest)}
    assert prove(shuffled, intended={}) == first == prove(files, intended={})
    assert [d.render() for d in lockout_diagnostics(first)] == [d.render() for d in lockout_diagnostics(first)]


def synthetic(files: dict[str, str], accounts: int) -> dict[str, str]:
    """The example's policies on an organization of ``accounts`` member accounts spread over its OUs."""
    manifest = json.loads(files["policies/manifest.json"])
    members = [a for a in manifest["accounts"] if not a["management"]]
    out = [a for a in manifest["accounts"] if a["management"] or a["name"] == "audit"]
    for n in range(accounts - 1):
        model = members[n % len(members)]
        out.append({**model, "name": f"acct-{n:04d}", "id": str(700000000000 + n)})
    manifest["accounts"] = out
    return {**files, "policies/manifest.json": json.dumps(manifest)}


def test_a_200_account_organization_is_proven_quickly(example_files: dict[str, str]) -> None:
    files = synthetic(example_files, 200)
    started = time.perf_counter()
    assert prove(files) == []
    broken = edit_statement(files, ROOT_SCP, "DenyOutsideAllowedRegions", drop_exemption)
    (finding,) = [f for f in prove(broken) if f.check == "break-glass"]
    assert len(finding.accounts) == 200
    assert time.perf_counter() - started < 60  # generous: the figure is in docs/performance.md


# ----------------------------------------------------------------------------- the data


def _bundled_schemas() -> dict[str, Any]:
    import cfnlint

    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    return {"providers": providers, "base": base}


def test_deployment_actions_follow_the_cloudformation_handler_permissions() -> None:
    """Every action listed for an AWS:: type is one of its schema's create/update/delete handler permissions,
    and every handler permission is either listed or left out with a reason: a new cfn-lint (new schemas)
    shows up here."""
    schemas = _bundled_schemas()
    data = deployment_actions()
    database = iam_database()
    checked = 0
    for type_name, spec in data["types"].items():
        for action in (*spec["actions"], *(spec.get("terraform_extra") or {}), *data["password_policy_function"]
                       ["actions"]):
            assert database.action(action) is not None, (type_name, action)
        if "source" in spec:  # not a registry resource type (custom resource, stack instance): its own source
            continue
        entry = schemas["providers"][type_name]
        schema = json.loads((schemas["base"] / "resources" / f"{entry}.json").read_text(encoding="utf-8")) \
            if isinstance(entry, str) else entry
        handlers = {p for h in ("create", "update", "delete")
                    for p in schema["handlers"].get(h, {}).get("permissions", [])}
        assert set(spec["actions"]) <= handlers, (type_name, sorted(set(spec["actions"]) - handlers))
        assert handlers <= set(spec["actions"]) | set(spec.get("left_out") or {}), \
            (type_name, sorted(handlers - set(spec["actions"]) - set(spec.get("left_out") or {})))
        checked += 1
    assert checked >= 12


def test_the_universe_is_every_action_of_the_pinned_database() -> None:
    database = iam_database()
    names = {a.full_name for s in database.services() for a in database.expand(f"{s}:*")}
    assert len(universe()) == len(names) > 17_000 and set(universe().names) == names
    # Facts the classes rest on: us-east-1 services pin the region; resource types come from the database.
    assert universe().fact("iam:CreateRole").pinned_region and not universe().fact("s3:PutObject").pinned_region
    assert universe().fact("sts:GetCallerIdentity").formats == () and universe().fact("sts:GetCallerIdentity").special
    assert any(":s3:::" in f for f in universe().fact("s3:PutObject").formats)


def test_catalog_marker_is_read_from_the_entry() -> None:
    raw = yaml.safe_load((ROOT / "guardrails/data/catalog/deny-leave-organization.yaml").read_text("utf-8"))
    assert raw["locks_break_glass"]["intended"] is True and raw["locks_break_glass"]["reason"].strip()


def test_a_deny_of_the_federation_calls_locks_nobody_out(example_files: dict[str, str]) -> None:
    """AssumeRoleWithWebIdentity and AssumeRoleWithSAML are sent with a token, not AWS credentials: a Deny of them
    (e.g. data-perimeter-oidc-tenants) cannot deny a role anything, so the proof does not count it."""
    files = with_scp(example_files, "no-federation", [{
        "Sid": "DenyFederation", "Effect": "Deny", "Action": list(CREDENTIAL_FREE_ACTIONS), "Resource": "*"}])
    assert not [f for f in prove(files) if f.sid == "DenyFederation"]


def test_shared_path_groups_are_a_fresh_grouping_in_any_call_order(example_compiled) -> None:
    """path_groups: one PathGroups per organization, whatever its users asked first (the lockout proof asks
    members_only, the access matrix and the escalation analysis by_class): the same accounts, representatives and
    SCP/RCP documents as a PathGroups made for the one call."""
    from guardrails.evaluation.lockout.paths import PathGroups, path_groups
    from guardrails.evaluation.organization import Organization

    files = {p: t for p, t in example_compiled.files.items() if p.startswith("policies/")}
    flags = [dict(members_only=m, by_class=c) for m in (False, True) for c in (False, True)]

    def shown(groups):
        return [(path.account.name, [a.name for a in accounts],
                 [(level, [p.document for p in attached]) for level, attached in (*path.scp_levels, *path.rcp_levels)])
                for path, accounts in groups]

    for order in (flags, flags[::-1]):
        shared = Organization(files)
        assert path_groups(shared) is path_groups(shared)
        for flag in order:
            assert shown(path_groups(shared).groups(**flag)) == shown(PathGroups(Organization(files)).groups(**flag))
