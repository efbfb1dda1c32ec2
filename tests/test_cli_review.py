"""The review commands end to end: `guardrails test`, `guardrails explain`, `guardrails diff --base`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from guardrails.cli import main

from .conftest import ROOT

WIDENED_DEVELOPER = '''  developer:
    library: workload-developer
    parameters: {name_prefix: app-}
    statements:
      - sid: AttachWorkloadPolicies
        actions: ["iam:AttachRolePolicy", "iam:PutRolePolicy"]
        resources: ["arn:${partition}:iam::${account_id}:role/workload/*"]
    accept_risks:
      - risk: privilege-escalation/attach-policy
        reason: developers tune their workload roles
        owner: team-app
        review_by: 2027-06-30
'''


def test_guardrails_test_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(ROOT / "blueprints")]) == 0
    out = capsys.readouterr().out
    assert "PASS break-glass-administers-every-account" in out
    assert re.search(r"\b(\d+)/\1 tests passed", out), out[-300:]


def test_guardrails_test_fails_with_the_chain_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    (blueprint / "more-tests.yaml").write_text(
        "tests:\n  developers-may-leave:\n    principal: group/developers\n    account: app-dev\n"
        "    action: organizations:LeaveOrganization\n    expect: allow\n", encoding="utf-8")
    assert main(["test", str(blueprint), "-k", "developers-may"]) == 1
    captured = capsys.readouterr()
    assert "FAIL developers-may-leave" in captured.out
    assert "explicit deny: SCP guardrails-root: Deny DenyLeaveOrganization" in captured.out
    assert "more-tests.yaml:2:3: error GR401" in captured.err


def test_explain_shows_the_deciding_statement_and_its_conditions(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "group/developers", "lambda:CreateFunction",
                 "arn:${partition}:lambda:us-east-1:${account_id}:function:app-api", "--account", "app-dev",
                 "--blueprint", str(ROOT / "blueprints")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("EXPLICIT-DENY group/developers in app-dev")
    assert "SCP guardrails-root: Deny DenyOutsideAllowedRegions" in out
    assert "StringNotEquals aws:RequestedRegion ['eu-central-1', 'eu-west-1'] ← us-east-1: true" in out


def test_explain_on_committed_output_with_context(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "user/break-glass-alice", "sts:AssumeRole", "arn:aws:iam::${account_id:app-prod}:role/BreakGlass",
                 "--account", "audit", "--output", str(ROOT / "output"),
                 "--context", "aws:MultiFactorAuthPresent=true", "--context", "aws:MultiFactorAuthAge=120"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("ALLOW")
    assert "trust policy of BreakGlass: Allow TrustBreakGlassUsersWithMfa" in out
    assert "NumericLessThan aws:MultiFactorAuthAge ['3600'] ← 120: true" in out


def test_explain_rejects_a_malformed_context(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "root", "s3:ListAllMyBuckets", "--account", "app-dev", "--context", "oops",
                 "--output", str(ROOT / "output")]) == 1
    assert "is not KEY=VALUE" in capsys.readouterr().err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_diff_against_a_git_revision_names_the_exact_actions_and_flags_the_risk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's "done when": widening a job function shows the actions gained, flagged, as Markdown."""
    repo = tmp_path / "landing-zone"
    shutil.copytree(ROOT / "blueprints", repo / "blueprints")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    identity = repo / "blueprints" / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    head = "  developer:\n    library: workload-developer\n    parameters: {name_prefix: app-}\n"
    assert head in text
    identity.write_text(text.replace(head, WIDENED_DEVELOPER), encoding="utf-8")
    monkeypatch.chdir(repo)

    report = repo / "diff.md"
    assert main(["diff", "--base", "HEAD", "--format", "markdown", "-o", str(report), "--fail-on-risk"]) == 4
    markdown = report.read_text(encoding="utf-8")
    # The Developer permission set refers to the same policies (and has no boundary): it gains them too.
    assert "**2 principals gain 2 actions in 3 accounts; 2 risky changes**" in markdown
    assert "- **iam** (2): `AttachRolePolicy`, `PutRolePolicy`" in markdown
    assert "| 🔴 | high | privilege-escalation/attach-policy | group/developers | 3 accounts (app-dev, data-dev, " \
           "sandbox-1) |" in markdown
    capsys.readouterr()

    assert main(["diff", "--base", "HEAD", "--format", "json"]) == 0  # without --fail-on-risk
    data = json.loads(capsys.readouterr().out)
    (developers,) = [p for p in data["principals"] if p["principal"] == "group/developers"]
    assert developers["gained"] == ["iam:AttachRolePolicy", "iam:PutRolePolicy"]

    identity.write_text(text, encoding="utf-8")  # back to the base: nothing to report
    assert main(["diff", "--base", "HEAD", "--fail-on-risk"]) == 0
    assert "No permission changes" in capsys.readouterr().out


def test_diff_between_two_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(ROOT / "output"), str(ROOT / "blueprints"), "--format", "markdown"]) == 0
    assert "No permission changes" in capsys.readouterr().out
    assert main(["diff", str(ROOT / "blueprints")]) == 1
    assert "two directories" in capsys.readouterr().err


def test_diff_shows_what_existing_wildcards_newly_match_after_a_database_update(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The base was compiled with an older IAM database in which sqs:Delete* matched only sqs:DeleteMessage."""
    base = tmp_path / "base-output"
    shutil.copytree(ROOT / "output" / "policies", base / "policies")
    wildcards = base / "policies" / "wildcards.json"
    data = json.loads(wildcards.read_text(encoding="utf-8"))
    assert data["patterns"]["sqs:Delete*"] == ["sqs:DeleteMessage", "sqs:DeleteQueue"]
    data["iam_database"]["version"] = "0.15.1"
    data["patterns"]["sqs:Delete*"] = ["sqs:DeleteMessage"]
    wildcards.write_text(json.dumps(data, indent=2), encoding="utf-8")

    assert main(["diff", str(base), str(ROOT / "blueprints"), "--format", "markdown", "--fail-on-risk"]) == 4
    markdown = capsys.readouterr().out
    assert "1 existing wildcard now matching other actions" in markdown
    assert "- `sqs:Delete*`: now also `sqs:DeleteQueue`" in markdown
    assert "| 🟠 | medium | wildcard-widened | pattern sqs:Delete* |" in markdown
    assert "changed from 0.15.1 to 0.15.2" in markdown


def test_diff_base_revision_keeps_its_committed_wildcard_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """--base compiles the old blueprint with today's code, but what its wildcards matched comes from its output."""
    repo = tmp_path / "landing-zone"
    shutil.copytree(ROOT / "blueprints", repo / "blueprints")
    shutil.copytree(ROOT / "output" / "policies", repo / "output" / "policies")
    wildcards = repo / "output" / "policies" / "wildcards.json"
    data = json.loads(wildcards.read_text(encoding="utf-8"))
    data["iam_database"]["version"] = "0.15.1"
    data["patterns"]["sqs:Delete*"] = ["sqs:DeleteMessage"]
    wildcards.write_text(json.dumps(data, indent=2), encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    monkeypatch.chdir(repo)
    assert main(["diff", "--base", "HEAD", "--format", "markdown"]) == 0
    assert "- `sqs:Delete*`: now also `sqs:DeleteQueue`" in capsys.readouterr().out
