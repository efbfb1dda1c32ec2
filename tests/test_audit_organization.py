"""``guardrails audit --organization`` against moto in server mode: an organization with member accounts seeded
from the compiled example, the real command over HTTP.

moto 5.2.5 gaps the tests work around (each stated where it matters):
- sts:AssumeRole never fails (the role need not exist, any account id is accepted), so an AccessDenied answer
  is injected for one account to check that its error is reported and the other accounts are still audited.
- moto gives created accounts random ids and the management account the email master@example.com: members are
  matched by their root email (the blueprint's ids then differ, a warning), the management account by
  DescribeOrganization's MasterAccountId.
- Service last accessed is not implemented: each account's report notes it (tests/test_audit.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

from guardrails.audit.reader import AwsError, document  # noqa: E402
from guardrails.cli import main  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .deploy.emulator import reset  # noqa: E402
from .test_audit import MOTO_ACCOUNT_ID, seed  # noqa: E402

BLUEPRINT = ROOT / "blueprints"
# Seeded faithfully, except: app-dev (a changed trust policy), network (its role cannot be assumed); data-prod,
# data-dev, shared-services and sandbox-1 are not created (missing live); "stray" is unknown to the blueprint.
MEMBERS = ("log-archive", "audit", "network", "app-prod", "app-dev")
MISSING = ("data-dev", "data-prod", "sandbox-1", "shared-services")
DENIED = "network"
# SCP left unattached from its OU: every account under Workloads reports it.
UNATTACHED = ("workloads-deny-expensive-instances", "ou:Workloads")


class Org:
    def __init__(self, url: str, ids: dict[str, str], stray: str) -> None:
        self.url, self.ids, self.stray = url, ids, stray


def _assumed_env(url: str, account_id: str, patch: pytest.MonkeyPatch) -> None:
    """Point boto3's environment credentials at ``account_id`` (moto routes assumed-role keys to their account)."""
    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                            RoleSessionName="seed")["Credentials"]
    patch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    patch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    patch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    patch.setattr(boto3, "DEFAULT_SESSION", None)  # the default session caches the credentials it first found


def _attach_org_policies(orgs: Any, compiled: Any, kind: str, targets: dict[str, str]) -> None:
    manifest = json.loads(compiled.files["policies/manifest.json"])
    section = "service_control_policies" if kind == "SERVICE_CONTROL_POLICY" else "resource_control_policies"
    for entry in manifest[section]:
        policy = orgs.create_policy(Name=entry["name"], Description="guardrails", Type=kind,
                                    Content=compiled.files[entry["file"]])["Policy"]["PolicySummary"]["Id"]
        if (entry["name"], entry["target"]) != UNATTACHED:
            orgs.attach_policy(PolicyId=policy, TargetId=targets[entry["target"]])


@pytest.fixture(scope="module")
def org(moto_url: str, example_compiled: Any) -> Iterator[Org]:
    reset(moto_url)  # the organization is this module's: nothing from other tests
    patch = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    plan = example_compiled.plan
    orgs = boto3.client("organizations", endpoint_url=moto_url, region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    orgs.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    targets = {"root": root}
    for unit in json.loads(example_compiled.files["policies/manifest.json"])["units"]:
        parent = targets["ou:" + unit["parent"]] if unit["parent"] else root
        targets["ou:" + unit["path"]] = orgs.create_organizational_unit(
            ParentId=parent, Name=unit["path"].rsplit("/", 1)[-1])["OrganizationalUnit"]["Id"]
    ids = {plan.management_account.name: MOTO_ACCOUNT_ID}
    for name in MEMBERS:
        account = plan.account(name)
        created = orgs.create_account(Email=account.email, AccountName=name)["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=created, SourceParentId=root, DestinationParentId=targets["ou:" + account.unit])
        ids[name] = targets[f"account:{name}"] = created
    stray = orgs.create_account(Email="someone@example.net", AccountName="stray")["CreateAccountStatus"]["AccountId"]
    _attach_org_policies(orgs, example_compiled, "SERVICE_CONTROL_POLICY", targets)
    _attach_org_policies(orgs, example_compiled, "RESOURCE_CONTROL_POLICY", targets)
    seed(moto_url, example_compiled, plan.management_account.name, MOTO_ACCOUNT_ID)
    for name in MEMBERS:
        with pytest.MonkeyPatch.context() as member:
            _assumed_env(moto_url, ids[name], member)
            seed(moto_url, example_compiled, name, ids[name])
            if name == "app-dev":  # the deliberate drift: the SecurityAuditor trust loses its MFA condition
                iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
                trust = document(iam.get_role(RoleName="SecurityAuditor")["Role"]["AssumeRolePolicyDocument"])
                trust["Statement"].append({"Sid": "Sneaky", "Effect": "Allow",
                                           "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                                           "Action": "sts:AssumeRole"})
                iam.update_assume_role_policy(RoleName="SecurityAuditor", PolicyDocument=json.dumps(trust))
    yield Org(moto_url, ids, stray)
    patch.undo()


@pytest.fixture
def deny_network(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's AssumeRole never fails: answer AccessDenied for the network account as AWS would."""
    from botocore.exceptions import ClientError

    from guardrails.audit import org_reader

    real = org_reader.OrganizationReader.assume

    def assume(self: Any, role_arn: str, session_name: str) -> dict[str, str]:
        if f"::{org.ids[DENIED]}:" in role_arn:
            error = ClientError({"Error": {"Code": "AccessDenied", "Message": f"not authorized to assume {role_arn}"},
                                 "ResponseMetadata": {"HTTPStatusCode": 403}}, "AssumeRole")
            raise AwsError("sts", "assume_role", self.endpoint, error) from error
        return real(self, role_arn, session_name)

    monkeypatch.setattr(org_reader.OrganizationReader, "assume", assume)


def run(org: Org, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", str(BLUEPRINT), "--organization", "--endpoint-url", org.url, "--as-of", "2026-01-15",
                 *extra])
    captured = capsys.readouterr()
    return code, captured.out


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["account"]: a for a in report["accounts"]}


def codes(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["code"], f["subject"]) for f in findings if f["severity"] != "info"]


def test_organization_report(org: Org, deny_network: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(org, capsys, "--format", "json", "--jobs", "3")
    report = json.loads(out)
    assert code == 3  # an account could not be audited: the report is written, the run is incomplete
    assert report["format"] == "guardrails-audit-organization/1"
    assert report["role"] == "SecurityAuditor" and report["management_account_id"] == MOTO_ACCOUNT_ID
    accounts = by_name(report)
    assert sorted(accounts) == sorted(("management", *MEMBERS))
    # Faithfully seeded accounts outside Workloads: no drift, no CIS failure.
    for name in ("management", "log-archive", "audit"):
        assert (accounts[name]["status"], codes(accounts[name]["findings"])) == ("ok", []), name
        assert accounts[name]["summary"]["failed"] is False
    assert accounts["management"]["role_arn"] is None  # the caller's own account: no role assumed
    assert accounts["audit"]["role_arn"] == f"arn:aws:iam::{org.ids['audit']}:role/SecurityAuditor"
    # The SCP missing from OU Workloads, under each account there; app-dev's changed trust as well.
    missing_scp = ("drift/scp-missing", UNATTACHED[1])
    assert codes(accounts["app-prod"]["findings"]) == [missing_scp]
    assert codes(accounts["app-dev"]["findings"]) == [("drift/role-trust-changed", "role/SecurityAuditor"),
                                                      missing_scp]
    assert "Sneaky" in accounts["app-dev"]["findings"][0]["detail"]
    assert accounts["app-dev"]["status"] == "drift"
    # The account whose role cannot be assumed: an error of its own, the others audited.
    network = accounts[DENIED]
    assert network["status"] == "error" and network["findings"] == [] and network["summary"] is None
    assert "sts:AssumeRole" in network["error"] and "AccessDenied" in network["error"]
    # The organization: missing blueprint accounts, the unknown live account, ids that differ (moto's ids).
    org_codes = codes(report["findings"])
    assert [s for c, s in org_codes if c == "drift/account-missing"] == [f"account/{n}" for n in MISSING]
    assert ("drift/account-unknown", f"account/{org.stray}") in org_codes
    assert {s for c, s in org_codes if c == "org/account-id-differs"} == {
        f"account/{n}" for n in ("management", *MEMBERS)}
    assert not any("RCP" in note for note in report["notes"])  # RCPs were read and compared on every path
    assert report["summary"] == {"accounts": 6, "audited": 5, "errors": 1, "drift": 8, "cis_failures": 0,
                                 "warnings": 6, "info": report["summary"]["info"], "failed": True,
                                 "incomplete": True}


def test_markdown_report_to_a_file(org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "audit.md"
    code, out = run(org, capsys, "--format", "markdown", "-o", str(target), "--jobs", "1")
    assert code == 2  # drift, every account audited
    text = target.read_text(encoding="utf-8")
    assert f"→ {target}" in out
    assert text.startswith("# Organization audit ")
    assert "| account | id | status | drift | CIS | info |" in text
    assert f"| audit | {org.ids['audit']} | ok | 0 | 0 |" in text
    assert f"| network | {org.ids['network']} | ok | 0 | 0 |" in text
    assert "## app-dev (" in text and "`drift/role-trust-changed`" in text
    assert "`drift/account-unknown`" in text and "`drift/account-missing`" in text


def test_text_report_and_no_progress_without_a_terminal(org: Org, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(BLUEPRINT), "--organization", "--endpoint-url", org.url, "--as-of", "2026-01-15"])
    captured = capsys.readouterr()
    assert code == 2
    assert "FAIL organization" in captured.out and "DRIFT app-dev" in captured.out
    assert "auditing" not in captured.err  # no progress bar when stderr is not a terminal


def test_single_account_options_need_an_account(org: Org, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(BLUEPRINT), "--endpoint-url", org.url]) == 3
    assert "--organization" in capsys.readouterr().err
    assert main(["audit", str(BLUEPRINT), "--organization", "--account", "audit", "--endpoint-url", org.url]) == 3
    assert "leave out --account" in capsys.readouterr().err
