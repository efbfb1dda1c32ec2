"""Blueprint fields that keep an existing IAM policy as it is (what ``guardrails import`` writes, issue 18): a job
function's `policy_name`/`policy_path`/`existing`, a boundary's `path`/`existing` (Terraform imports them by ARN,
name, path and description unchanged), a role's `inline_policies` (aws_iam_role_policy / AWS::IAM::RolePolicy),
with the least-privilege checks applying to them as to any policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError
from guardrails.pipeline import compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

EXTRA = """
job_functions:
  reports-reader:
    description: ""
    policy_name: AppReports
    policy_path: /
    existing: true
    statements:
      - effect: Allow
        actions: [s3:GetObject]
        resources: ["arn:${partition}:s3:::reports/*"]
permission_boundaries:
  app-boundary:
    name: AppBoundary
    path: /
    existing: true
    description: Ceiling of the app roles
    statements:
      - effect: Allow
        actions: [s3:*]
        resources: ["*"]
roles:
  app-role:
    name: AppRole
    trust: {services: [ec2.amazonaws.com]}
    job_functions: [reports-reader]
    boundary: app-boundary
    inline_policies:
      read-logs:
        statements:
          - effect: Allow
            actions: [logs:GetLogEvents]
            resources: ["arn:${partition}:logs:*:*:log-group:app-*"]
    deploy_to: {accounts: [app-prod]}
    existing: true
"""


def _messages(error: BlueprintError) -> str:
    return "\n".join(f"{d.code} {d.location} {d.message}" for d in error.diagnostics)


def _blueprint(tmp_path: Path, extra: str = EXTRA) -> Path:
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    (target / "imported.yaml").write_text(extra, encoding="utf-8")
    return target


def _merged(tmp_path: Path, extra: str) -> Path:
    """The example with ``extra``'s sections merged into identity.yaml (a section lives in one file)."""
    import yaml

    target = _blueprint(tmp_path, "")
    (target / "imported.yaml").unlink()
    identity = yaml.safe_load((target / "identity.yaml").read_text(encoding="utf-8"))
    for section, entries in yaml.safe_load(extra).items():
        identity.setdefault(section, {}).update(entries)
    (target / "identity.yaml").write_text(yaml.safe_dump(identity, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return compile_blueprint(_merged(tmp_path_factory.mktemp("existing"), EXTRA), today=EXAMPLE_TODAY,
                             run_tests=False)


def test_plan_keeps_names_paths_and_inline_policies(compiled) -> None:  # type: ignore[no-untyped-def]
    cls = compiled.plan.class_of("app-prod")
    policies = {p.key: p for p in cls.baseline.managed_policies}
    job, boundary = policies["job_reports_reader"], policies["boundary_app_boundary"]
    assert (job.name, job.path, job.description, job.existing) == ("AppReports", "/", "", True)
    assert (boundary.name, boundary.path, boundary.existing) == ("AppBoundary", "/", True)
    (role,) = [r for r in cls.baseline.roles if r.name == "AppRole"]
    assert [name for name, _ in role.inline_policies] == ["read-logs"]
    assert role.inline_policies[0][1].statements[0].actions == ("logs:GetLogEvents",)


def test_terraform_imports_them_by_arn(compiled) -> None:  # type: ignore[no-untyped-def]
    account_id = next(a.id for a in compiled.plan.accounts if a.name == "app-prod")
    main = compiled.files["terraform/accounts/app-prod/main.tf"]
    for to, name in (("aws_iam_policy.job_reports_reader", f"arn:aws:iam::{account_id}:policy/AppReports"),
                     ("aws_iam_policy.boundary_app_boundary", f"arn:aws:iam::{account_id}:policy/AppBoundary"),
                     ("aws_iam_role_policy.role_app_role_inline_read_logs", "AppRole:read-logs")):
        assert f"to = module.baseline.{to}\n  id = \"{name}\"" in main, main
    module = "\n".join(t for p, t in compiled.files.items()
                       if p.startswith("terraform/modules/") and "aws_iam_policy\" \"job_reports_reader\"" in t)
    import re

    assert re.search(r'resource "aws_iam_policy" "job_reports_reader" \{\n  name += "AppReports"\n  path += "/"\n'
                     r'  description += ""\n', module), module


def test_cloudformation_renders_the_inline_policy(compiled) -> None:  # type: ignore[no-untyped-def]
    import yaml

    template = yaml.safe_load(compiled.files["cloudformation/baseline-workloads-prod.yaml"])
    (role,) = [r for r in template["Resources"].values()
               if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == "AppRole"]
    (policy,) = role["Properties"]["Policies"]
    assert policy["PolicyName"] == "read-logs"
    assert policy["PolicyDocument"]["Statement"][0]["Action"] == "logs:GetLogEvents"
    (managed,) = [r for r in template["Resources"].values()
                  if r["Type"] == "AWS::IAM::ManagedPolicy"
                  and r["Properties"].get("ManagedPolicyName") == "AppReports"]
    assert managed["Properties"]["Path"] == "/"


def test_least_privilege_checks_apply_to_inline_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A full grant in a role's inline policy is refused like one in a job function (GR504)."""
    from guardrails.cli import main

    risky = EXTRA.replace("actions: [logs:GetLogEvents]", "actions: [\"*\"]").replace(
        'resources: ["arn:${partition}:logs:*:*:log-group:app-*"]', 'resources: ["*"]')
    target = _merged(tmp_path, risky)
    assert main(["check", str(target)]) != 0
    err = capsys.readouterr().err
    assert "GR504" in err and "role AppRole" in err, err


def test_existing_policy_needs_its_name(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(_merged(tmp_path, EXTRA.replace("    policy_name: AppReports\n", "")),
                          today=EXAMPLE_TODAY, run_tests=False)
    text = _messages(caught.value)
    assert "needs its `policy_name`" in text and "reports-reader" in text, text


def test_two_policies_of_one_name_in_an_account(tmp_path: Path) -> None:
    """IAM policy names are unique in an account whatever the path: a clear error names both."""
    clash = EXTRA.replace("name: AppBoundary", "name: AppReports")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(_merged(tmp_path, clash), today=EXAMPLE_TODAY, run_tests=False)
    text = _messages(caught.value)
    assert "GR302" in text and "'AppReports'" in text and "boundary_app_boundary" in text, text
