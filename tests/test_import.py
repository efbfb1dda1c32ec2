"""``guardrails import`` against moto in server mode: an organization seeded with OUs, accounts, SCPs (one equal to
a catalog guardrail, one custom), an RCP, a delegated administrator, an Identity Center permission set and
assignment, and in one member account a role with a boundary, a group, a customer managed policy and a password
policy; then import → build → the import lists → audit.

moto 5.2.5 notes (each where it matters): sts:AssumeRole always succeeds; created accounts get random ids; the
management account's email is master@example.com; RegisterDelegatedAdministrator accepts only a few services
(access-analyzer here, not config); sso-admin has one instance whose identity store id is not of AWS's ``d-`` + 10
hex form, so the imported Identity Center section is written commented out (test_identity_center_section_compiles
shows it compiles with ids of AWS's form); GetPermissionsBoundaryForPermissionSet and ListTagsForResource are not
implemented (the import notes it and invents nothing); the reset emulator has no AWS managed policies, so the seed
attaches none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

from guardrails.audit.importer import ReadOnlyGuard, read_organization  # noqa: E402
from guardrails.cli import main  # noqa: E402

from .deploy.emulator import reset  # noqa: E402
from .test_terraform_schema import problems as schema_problems  # noqa: E402

REGION = "us-east-1"
CUSTOM_SCP = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyBucketDeletion", "Effect": "Deny", "Action": ["s3:DeleteBucket"], "Resource": "*"}]}
CATALOG_SCP = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyLeaveOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization",
     "Resource": "*"}]}
CUSTOM_RCP = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "*", "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]}
APP_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadReports", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports/*"}]}
BOUNDARY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Ceiling", "Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class Seeded:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ids: dict[str, str] = {}
        self.units: dict[str, str] = {}
        self.policies: dict[str, str] = {}
        self.group = ""
        self.stray = ""


def _client(url: str, service: str, creds: dict[str, str] | None = None) -> Any:
    extra = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
             "aws_session_token": creds["SessionToken"]} if creds else {}
    return boto3.client(service, endpoint_url=url, region_name=REGION, **extra)


@pytest.fixture(scope="module")
def seeded(moto_url: str) -> Iterator[Seeded]:
    reset(moto_url)
    patch = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_DEFAULT_REGION", REGION)
    out = Seeded(moto_url)
    orgs = _client(moto_url, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    orgs.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    out.units["Workloads"] = orgs.create_organizational_unit(ParentId=root, Name="Workloads")[
        "OrganizationalUnit"]["Id"]
    out.units["Workloads/Prod"] = orgs.create_organizational_unit(ParentId=out.units["Workloads"], Name="Prod")[
        "OrganizationalUnit"]["Id"]
    out.units["Security"] = orgs.create_organizational_unit(ParentId=root, Name="Security")[
        "OrganizationalUnit"]["Id"]
    for name, unit in (("app-prod", "Workloads/Prod"), ("audit", "Security")):
        created = orgs.create_account(Email=f"aws+{name}@example.com", AccountName=name)[
            "CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=created, SourceParentId=root, DestinationParentId=out.units[unit])
        out.ids[name] = created
    for name, doc, target, kind in (("deny-leave", CATALOG_SCP, root, "SERVICE_CONTROL_POLICY"),
                                    ("keep-buckets", CUSTOM_SCP, out.units["Workloads"], "SERVICE_CONTROL_POLICY")):
        policy = orgs.create_policy(Name=name, Description=f"seeded {name}", Type=kind, Content=json.dumps(doc))[
            "Policy"]["PolicySummary"]["Id"]
        orgs.attach_policy(PolicyId=policy, TargetId=target)
        out.policies[name] = policy
    # Attached twice (the root and Security): a blueprint SCP has one target, so a warning names the second.
    orgs.attach_policy(PolicyId=out.policies["deny-leave"], TargetId=out.units["Security"])
    custom_rcp = orgs.create_policy(Name="custom-rcp", Description="seeded", Type="RESOURCE_CONTROL_POLICY",
                                    Content=json.dumps(CUSTOM_RCP))["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=custom_rcp, TargetId=root)
    out.policies["custom-rcp"] = custom_rcp
    # A member account directly under the root: the blueprint has no place for it (a warning).
    out.stray = orgs.create_account(Email="aws+stray@example.com", AccountName="stray")[
        "CreateAccountStatus"]["AccountId"]
    orgs.register_delegated_administrator(AccountId=out.ids["audit"], ServicePrincipal="access-analyzer.amazonaws.com")
    creds = _client(moto_url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{out.ids['app-prod']}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed")["Credentials"]
    iam = _client(moto_url, "iam", creds)
    boundary = iam.create_policy(PolicyName="AppBoundary", PolicyDocument=json.dumps(BOUNDARY))["Policy"]["Arn"]
    app = iam.create_policy(PolicyName="AppReports", PolicyDocument=json.dumps(APP_POLICY))["Policy"]["Arn"]
    iam.create_role(RoleName="AppRole", AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=boundary,
                    Description="Runs the reports app", Tags=[{"Key": "team", "Value": "reports"}])
    iam.attach_role_policy(RoleName="AppRole", PolicyArn=app)
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=app)
    iam.create_user(UserName="alice")
    iam.add_user_to_group(GroupName="readers", UserName="alice")
    # A role the audit account's principals assume with MFA, with an inline policy; and a role whose trust the
    # blueprint cannot say (a web identity provider condition), which the import names in a warning.
    iam.create_role(RoleName="CrossAccountRead", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{out.ids['audit']}:root"},
            "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}),
        MaxSessionDuration=7200)
    iam.put_role_policy(RoleName="CrossAccountRead", PolicyName="read-logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:GetLogEvents",
                                                "Resource": "arn:aws:logs:*:*:log-group:app-*"}]}))
    iam.create_role(RoleName="WebIdentity", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity"}]}))
    store = _client(moto_url, "sso-admin").list_instances()["Instances"][0]
    group = _client(moto_url, "identitystore").create_group(IdentityStoreId=store["IdentityStoreId"],
                                                            DisplayName="developers")["GroupId"]
    sso = _client(moto_url, "sso-admin")
    permission_set = sso.create_permission_set(Name="Developer", InstanceArn=store["InstanceArn"],
                                               SessionDuration="PT4H")["PermissionSet"]["PermissionSetArn"]
    sso.put_inline_policy_to_permission_set(InstanceArn=store["InstanceArn"], PermissionSetArn=permission_set,
                                            InlinePolicy=json.dumps(APP_POLICY))
    sso.create_account_assignment(InstanceArn=store["InstanceArn"], TargetId=out.ids["app-prod"],
                                  TargetType="AWS_ACCOUNT", PermissionSetArn=permission_set, PrincipalType="GROUP",
                                  PrincipalId=group)
    out.group = group
    iam.update_account_password_policy(MinimumPasswordLength=16, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                       AllowUsersToChangePassword=True, MaxPasswordAge=60, PasswordReusePrevention=12)
    yield out
    patch.undo()


def test_reads_only(seeded: Seeded) -> None:
    guard = ReadOnlyGuard()
    org = read_organization(profile=None, region=REGION, endpoint_url=seeded.url, accounts=(seeded.ids["app-prod"],),
                            guard=guard)
    assert guard.operations, "the guard saw no calls"
    writes = [op for op in guard.operations if not op.split(":", 1)[1].startswith(("List", "Describe", "Get"))]
    assert set(writes) <= {"sts:AssumeRole"}, writes
    assert {u.path for u in org.units} == {"Workloads", "Workloads/Prod", "Security"}
    assert {p.name for p in org.policies} >= {"deny-leave", "keep-buckets"}
    assert (seeded.ids["audit"], "access-analyzer.amazonaws.com") in org.delegated_admins
    assert org.identity_center is not None
    assert [(s.name, s.session_duration, s.inline is not None) for s in org.identity_center.permission_sets] == [
        ("Developer", "PT4H", True)]
    assert [(a.permission_set, a.account_id, a.principal_id, a.principal_name)
            for a in org.identity_center.assignments] == [("Developer", seeded.ids["app-prod"], seeded.group,
                                                           "developers")]
    (iam,) = org.iam
    assert [r.name for r in iam.roles if r.name == "AppRole"] and iam.password_policy is not None


@pytest.fixture(scope="module")
def imported(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("import") / "blueprint"
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["import", "--endpoint-url", seeded.url, "--region", REGION, "-o", str(target),
                     "--accounts", seeded.ids["app-prod"]])
    assert code == 0, out.getvalue() + err.getvalue()
    return target, out.getvalue() + err.getvalue()


def test_written_blueprint(seeded: Seeded, imported: tuple[Path, str]) -> None:
    target, text = imported
    organization = (target / "organization.yaml").read_text()
    assert f'id: "{seeded.policies["keep-buckets"]}"' in organization
    assert "equals catalog guardrail deny-leave-organization" in organization
    for unit in seeded.units.values():
        assert f'id: "{unit}"' in organization
    # Never silently dropped: what the schema cannot say is a warning line (and a comment in the file).
    multi = f"SCP {seeded.policies['deny-leave']} (deny-leave) is attached here too"
    assert f"warning: OU Security: {multi}" in text and multi in organization
    rcp = f"RCP {seeded.policies['custom-rcp']} (custom-rcp) is not a catalog guardrail"
    assert f"warning: the root: {rcp}" in text and rcp in organization
    assert f"{seeded.stray} (aws+stray@example.com) sits at the root" in text
    assert "warning: account audit: delegated administrator for access-analyzer.amazonaws.com" in text
    assert "delegated administrator for access-analyzer.amazonaws.com" in organization
    assert "warning: identity_center:" in text  # moto's identity store id is not AWS's d-<10 hex>
    identity_center = (target / "identity-center.yaml").read_text()
    assert "#   permission_sets:" in identity_center and "#     Developer:" in identity_center
    assert f"#       group_id: \"{seeded.group}\"" in identity_center
    identity = (target / "identity.yaml").read_text()
    assert "AppRole:" in identity and "boundary: \"appboundary\"" in identity and "readers:" in identity
    assert 'members: ["alice"]' in identity and "alice:" in identity
    assert 'account: "audit"' in identity and "require_mfa: true" in identity and "max_session_duration: 7200" \
        in identity
    # The live policies keep their names, paths and descriptions (imported by ARN); a role's inline policy stays
    # inline.
    assert '  appreports-app-prod:\n    # imported unchanged from arn:aws:iam::' in identity
    assert 'policy_name: "AppReports"\n    policy_path: "/"\n    existing: true\n' in identity
    assert '    name: "AppBoundary"\n    path: "/"\n    existing: true\n' in identity
    assert "    inline_policies:\n      read-logs:\n        statements:\n" in identity
    # A role's description and tags as they are (Terraform would otherwise change them in place).
    assert '  AppRole:\n    description: "Runs the reports app"\n' in identity
    assert '    tags:\n      team: "reports"\n    existing: true\n' in identity
    assert "guardrails-" not in identity and "crossaccountread" not in identity
    assert "warning: account app-prod: role WebIdentity: trust actions" in text and "WebIdentity" in identity
    assert "minimum_length: 16" in identity and "existing: true" in identity


def test_use_catalog(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --use-catalog the SCP equal to deny-leave-organization is written as that guardrail, and the build
    packs it into guardrails-root (which replaces the live policy: a warning says so)."""
    target = tmp_path / "catalog"
    assert main(["import", "--endpoint-url", seeded.url, "--region", REGION, "-o", str(target),
                 "--use-catalog"]) == 0
    text = capsys.readouterr().err
    organization = (target / "organization.yaml").read_text()
    assert '  guardrails:\n    # SCP ' in organization and '    - "deny-leave-organization"' in organization
    assert "equals catalog guardrail deny-leave-organization: written as the guardrail" in text
    assert main(["check", str(target)]) == 0, capsys.readouterr()


def test_identity_center_section_compiles(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    """moto's identity store id is not of AWS's form, so the section is written commented out against it; with
    ids of AWS's form (the only change) the same permission set and assignment compile."""
    from dataclasses import replace

    from guardrails.audit.blueprint_writer import write_blueprint

    org = read_organization(profile=None, region=REGION, endpoint_url=seeded.url, accounts=())
    assert org.identity_center is not None
    org = replace(org, identity_center=replace(org.identity_center, identity_store_id="d-1234567890",
                                               instance_arn="arn:aws:sso:::instance/ssoins-1234567890abcdef"))
    written = write_blueprint(org)
    text = written.files["identity-center.yaml"]
    assert "\nidentity_center:\n" in text and "\n    Developer:\n" in text
    for name, body in written.files.items():
        (tmp_path / name).write_text(body)
    code = main(["check", str(tmp_path)])
    assert code == 0, capsys.readouterr().err


def test_refuses_a_non_empty_directory(seeded: Seeded, imported: tuple[Path, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target, _ = imported
    assert main(["import", "--endpoint-url", seeded.url, "-o", str(target)]) == 3
    assert "--force" in capsys.readouterr().err
    # --force without --accounts: identity.yaml of the first import (its IAM) does not stay behind.
    forced = target.parent / "forced"
    forced.mkdir()
    for p in target.glob("*.yaml"):
        (forced / p.name).write_text(p.read_text())
    (forced / "mine.yaml").write_text("tests: {}\n")
    assert main(["import", "--endpoint-url", seeded.url, "-o", str(forced), "--force"]) == 0
    assert "other YAML files (mine.yaml)" in capsys.readouterr().err
    assert "AppRole" not in (forced / "identity.yaml").read_text()


def test_deterministic(seeded: Seeded, imported: tuple[Path, str], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    """Byte-identical in this process and in another one with a different hash seed."""
    import os
    import subprocess
    import sys

    target, _ = imported
    again, other = tmp_path / "again", tmp_path / "other"
    assert main(["import", "--endpoint-url", seeded.url, "--region", REGION, "-o", str(again),
                 "--accounts", seeded.ids["app-prod"]]) == 0
    capsys.readouterr()
    subprocess.run([sys.executable, "-m", "guardrails", "import", "--endpoint-url", seeded.url, "--region", REGION,
                    "-o", str(other), "--accounts", seeded.ids["app-prod"]], check=True, capture_output=True,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    first = {p.name: p.read_bytes() for p in target.glob("*.yaml")}
    assert first == {p.name: p.read_bytes() for p in again.glob("*.yaml")}
    assert first == {p.name: p.read_bytes() for p in other.glob("*.yaml")}


def test_round_trip_build_and_import_lists(seeded: Seeded, imported: tuple[Path, str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    target, _ = imported
    output = tmp_path / "output"
    code = main(["build", str(target), "-o", str(output), "--skip-external"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    terraform = "\n".join(p.read_text() for p in (output / "terraform" / "organization").glob("*.tf"))
    expected = [*(f'id = "{u}"' for u in seeded.units.values()),
                *(f'id = "{i}' for i in seeded.ids.values()),  # accounts: "<id>" or "<id>_<role>"
                f'id = "{seeded.policies["keep-buckets"]}"', f'id = "{seeded.policies["deny-leave"]}"',
                f'id = "{seeded.units["Workloads"]}:{seeded.policies["keep-buckets"]}"']
    missing = [e for e in expected if e not in terraform]
    assert not missing, missing
    account = (output / "terraform" / "accounts" / "app-prod" / "main.tf").read_text()
    for to, name in (("aws_iam_role.role_approle", "AppRole"), ("aws_iam_group.group_readers", "readers"),
                     ("aws_iam_user.user_alice", "alice"),
                     ("aws_iam_account_password_policy.this", "iam-account-password-policy")):
        assert f"to = module.baseline.{to}\n  id = \"{name}\"" in account, account
    # The live customer managed policies and the boundary by ARN, the role's inline policy by role:name.
    arn = f"arn:aws:iam::{seeded.ids['app-prod']}:policy/"
    for to, name in (("aws_iam_policy.job_appreports_app_prod", f"{arn}AppReports"),
                     ("aws_iam_policy.boundary_appboundary", f"{arn}AppBoundary"),
                     ("aws_iam_role_policy.role_crossaccountread_inline_read_logs", "CrossAccountRead:read-logs")):
        assert f"to = module.baseline.{to}\n  id = \"{name}\"" in account, account
    # Every import block resolves and its id has the provider's documented format (tests/provider_schema.py).
    files = {str(p.relative_to(output)): p.read_text() for p in (output / "terraform").rglob("*.tf")}
    assert not schema_problems(files)
    listed = [r for p in sorted((output / "cloudformation").glob("*-import.json")) for r in json.loads(p.read_text())]
    identifiers = {(r["ResourceType"], next(iter(r["ResourceIdentifier"].values()))) for r in listed}
    wanted = {*(("AWS::Organizations::OrganizationalUnit", u) for u in seeded.units.values()),
              *(("AWS::Organizations::Account", i) for i in seeded.ids.values()),
              *(("AWS::Organizations::Policy", p) for n, p in seeded.policies.items() if n != "custom-rcp")}
    assert wanted <= identifiers, sorted(wanted - identifiers)
    # Not yet (docs/importing.md): IAM in CloudFormation (the baselines are StackSets).


def test_audit_of_the_round_trip(seeded: Seeded, imported: tuple[Path, str], capsys: pytest.CaptureFixture[str]
                                 ) -> None:
    """Zero drift for every imported resource. What remains is exactly what guardrails adds on purpose (break-glass,
    MFA enforcement; docs/importing.md) and what the import warned it could not write, each by subject."""
    target, _ = imported
    code = main(["audit", str(target), "--organization", "--endpoint-url", seeded.url, "--format", "json",
                 "--role", "OrganizationAccountAccessRole"])
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 2), report
    names = {i: n for n, i in seeded.ids.items()}
    drift = sorted((names.get(account.get("account_id"), account["account"]), f["code"], f["subject"], f["detail"])
                   for account in report["accounts"] for f in (account.get("findings") or [])
                   if f["code"].startswith("drift/"))
    organization = sorted((f["code"], f["subject"]) for f in report.get("findings", [])
                          if f["code"].startswith("drift/"))
    # The organization reproduces exactly, but for what the import warned it could not write: the second
    # attachment of deny-leave (on Security), the account at the root, the custom RCP (not an explicit RCP in
    # the blueprint; moto reports the RCPs on the path of each audited account).
    assert organization == [("drift/account-unknown", f"account/{seeded.stray}")], organization
    at_levels = {(c, s) for _, c, s, _ in drift if c.startswith(("drift/scp", "drift/rcp"))}
    assert at_levels == {("drift/scp-extra", "ou:Security"), ("drift/rcp-extra", "root")}, at_levels
    iam = [(a, c, s, d) for a, c, s, d in drift if not c.startswith(("drift/scp", "drift/rcp"))]
    management = next(a["account"] for a in report["accounts"] if a["account"] not in seeded.ids)
    # guardrails' additions, by subject: the break-glass role in every audited account, and in the break-glass
    # account (the import's placeholder: the management account) its group, user and assume policy; MFA
    # enforcement (GuardrailsForceMFA) on every group with IAM users: readers in app-prod, break-glass.
    expected = sorted([
        *((a, "drift/role-missing", "role/BreakGlass") for a in (management, "app-prod", "audit")),
        (management, "drift/group-missing", "group/break-glass"),
        (management, "drift/user-missing", "user/break-glass-1"),
        (management, "drift/policy-missing", "policy/guardrails/guardrails-break-glass-assume"),
        (management, "drift/policy-missing", "policy/guardrails/GuardrailsForceMFA"),
        ("app-prod", "drift/policy-missing", "policy/guardrails/GuardrailsForceMFA"),
        ("app-prod", "drift/group-policy-detached", "group/readers")])
    assert sorted((a, c, s) for a, c, s, _ in iam) == expected, iam
    detached = next(d for a, c, s, d in iam if c == "drift/group-policy-detached")
    assert detached.endswith(":policy/guardrails/GuardrailsForceMFA is not attached"), detached


def test_audit_compares_documents_as_iam_does() -> None:
    """Sid, value order, statement order and a one-element list do not change what a policy grants; an action,
    a resource, an effect or a condition does, and stays drift."""
    from guardrails.audit.compare import document_difference, same_document

    live = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                   "Action": "sts:AssumeRole"}}
    ours = {"Version": "2012-10-17", "Statement": [
        {"Sid": "TrustEc2", "Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
         "Action": ["sts:AssumeRole"]}]}
    assert same_document(live, ours)
    two = {"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
        {"Sid": "B", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
    reordered = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": ["s3:DeleteBucket"], "Resource": ["*"]},
        {"Sid": "Other", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}]}
    assert same_document(two, reordered)
    for change in ({"Action": ["s3:GetObject"]}, {"Resource": "arn:aws:s3:::b/*"}, {"Effect": "Deny"},
                   {"Condition": {"Bool": {"aws:SecureTransport": "true"}}}):
        changed = {**two, "Statement": [{**two["Statement"][0], **change}, two["Statement"][1]]}
        assert not same_document(two, changed), change
        assert document_difference(two, changed).startswith("statement(s) changed: A"), change
    assert not same_document(two, {**two, "Statement": two["Statement"][:1]})
    assert "statement(s) missing: B" in document_difference(two, {**two, "Statement": two["Statement"][:1]})


def test_unknown_account_is_a_clear_error(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "--endpoint-url", seeded.url, "-o", str(tmp_path / "x"), "--accounts", "999999999999"]) == 3
    assert "--accounts 999999999999: not in organization" in capsys.readouterr().err
    assert main(["import", "--endpoint-url", seeded.url, "-o", str(tmp_path / "y"), "--accounts", "12ab"]) == 3
    assert "give 12-digit account ids" in capsys.readouterr().err


def test_yaml_text_reads_back_as_written() -> None:
    """Values that YAML would reinterpret unquoted (yes, on, 0123, a colon key, unicode) read back unchanged."""
    import yaml

    from guardrails.audit.yaml_text import Commented, Map, render

    value = Map().add("on", "yes", "a comment\nover two lines").add("aws:PrincipalArn", ["0123", "naïve", "a: b"])
    value.add("list", [Commented(Map().add("x", 1).add("y", {"z": True}), ("item comment",)), "plain"])
    value.add("empty", {}).add("none", [])
    text = render(value, ("header",))
    assert text.startswith("# header\n# a comment\n# over two lines\n")
    assert yaml.safe_load(text) == {"on": "yes", "aws:PrincipalArn": ["0123", "naïve", "a: b"],
                                    "list": [{"x": 1, "y": {"z": True}}, "plain"], "empty": {}, "none": []}


def test_catalog_rcp_is_recognised(seeded: Seeded, imported: tuple[Path, str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An RCP equal to a catalog guardrail's rendering (as the imported blueprint compiles it) is written as that
    guardrail. The policy is added to what was read from moto (the seeded organization's other tests expect its
    RCPs as they are), with the document guardrails renders for enforce-secure-transport."""
    from dataclasses import replace

    from guardrails.audit.blueprint_writer import write_blueprint
    from guardrails.audit.importer import ImportedOrgPolicy
    from guardrails.cli.import_command import catalog_renderings

    target, _ = imported
    catalog = catalog_renderings((target / "organization.yaml").read_text())
    assert catalog["deny-leave-organization"][0] == "scp" and catalog["enforce-secure-transport"][0] == "rcp"
    org = read_organization(profile=None, region=REGION, endpoint_url=seeded.url, accounts=())
    rendered = ImportedOrgPolicy("p-tlsonly0001", "tls-only", "", "RESOURCE_CONTROL_POLICY", False,
                                 catalog["enforce-secure-transport"][1], (org.root_id,))
    written = write_blueprint(replace(org, policies=(*org.policies, rendered)), catalog=catalog)
    organization = written.files["organization.yaml"]
    assert '    - "enforce-secure-transport"' in organization
    assert '  intended_denials:\n    enforce-secure-transport: "Imported: the live RCP p-tlsonly0001' in organization
    assert any("RCP p-tlsonly0001 (tls-only) equals catalog guardrail enforce-secure-transport" in w
               for w in written.warnings)
    for name, body in written.files.items():
        (tmp_path / name).write_text(body)
    code = main(["check", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
