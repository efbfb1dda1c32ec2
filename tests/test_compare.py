"""Comparison with AWS managed job-function policies: the stored documents, their expansion against the pinned IAM
database, the comparison arithmetic, the least-privilege report section and `guardrails report least-privilege`."""

from __future__ import annotations

import hashlib
import io
import json
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from rich.console import Console

from guardrails.blueprint import load_blueprint
from guardrails.cli import _print_markdown, main
from guardrails.model.build import aws_managed_policy_names
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies import compare
from guardrails.iam.actions import iam_database
from guardrails.policies.risks import risk_rules

from .conftest import ROOT

MINIMAL = Path("tests/cases/minimal/blueprint")
VIEW_ONLY = "job-function/ViewOnlyAccess"
ALL_TWELVE = {"AWSSupportAccess", "AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "SecurityAudit",
              "job-function/Billing", "job-function/DataScientist", "job-function/DatabaseAdministrator",
              "job-function/NetworkAdministrator", "job-function/SupportUser", "job-function/SystemAdministrator",
              VIEW_ONLY}


def _all_actions() -> set[str]:
    return {a.full_name for a in iam_database().expand("*")}


# ----------------------------------------------------------------------------- stored documents


def test_all_twelve_documents_are_stored_with_provenance() -> None:
    assert set(compare.available_counterparts()) == ALL_TWELVE
    folder = resources.files("guardrails.data").joinpath("aws_managed_policies")
    provenance = yaml.safe_load(folder.joinpath("PROVENANCE.yaml").read_text("utf-8"))
    assert provenance["snapshot"] and provenance["source"] and provenance["dataset"]
    listed = set()
    for entry in provenance["policies"]:
        text = folder.joinpath(entry["file"]).read_text("utf-8")
        assert hashlib.sha256(text.encode()).hexdigest() == entry["sha256"], entry["file"]
        assert entry["file"] == entry["name"].replace("/", "-") + ".json"
        assert entry["arn"] == f"arn:aws:iam::aws:policy/{entry['name']}" and entry["version_id"].startswith("v")
        document = json.loads(text)
        assert list(document) == ["Version", "Statement"] and isinstance(document["Statement"], list)
        listed.add(entry["file"])
    on_disk = {p.name for p in folder.iterdir() if p.name.endswith(".json")}
    assert on_disk == listed


def test_stored_counterparts_are_real_aws_managed_policies() -> None:
    assert set(compare.available_counterparts()) <= aws_managed_policy_names()


def test_names_resolve_by_path_arn_bare_name_and_case() -> None:
    assert compare.canonical_name(VIEW_ONLY) == VIEW_ONLY
    assert compare.canonical_name("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess") == VIEW_ONLY
    assert compare.canonical_name("viewonlyaccess") == VIEW_ONLY
    assert compare.canonical_name("securityaudit") == "SecurityAudit"
    assert compare.canonical_name("job-function/NoSuchThing") is None
    with pytest.raises(ValueError, match="stored: "):
        compare.managed_policy_actions("NoSuchThing")


# ----------------------------------------------------------------------------- expansion


def test_view_only_access_expands_to_list_and_read_only() -> None:
    grants = compare.managed_policy_grants(VIEW_ONLY)
    assert 1000 < len(grants.actions) < 3000
    levels = {iam_database().action(a).access_level for a in grants.actions}
    assert levels == {"List", "Read"}
    assert {"ec2:DescribeInstances", "s3:ListAllMyBuckets"} <= grants.actions
    assert "s3:GetObject" not in grants.actions  # view-only: metadata, not data
    # One statement is on specific API Gateway ARNs; the action it names is granted nowhere else.
    assert grants.scoped == {"apigateway:GET"} and grants.on_star == grants.actions - {"apigateway:GET"}


def test_power_user_access_not_action_is_everything_but_iam_organizations_account() -> None:
    actions = compare.managed_policy_actions("PowerUserAccess")
    assert "ec2:RunInstances" in actions and "s3:PutBucketPolicy" in actions
    assert "iam:CreateUser" not in actions and "organizations:LeaveOrganization" not in actions
    assert {"iam:CreateServiceLinkedRole", "iam:ListRoles", "account:GetAccountInformation"} <= actions  # 2nd statement
    excluded = {a for p in ("iam:*", "organizations:*", "account:*") for a in
                (i.full_name for i in iam_database().expand(p))}
    document = compare.policy_document("PowerUserAccess")
    extras = {i.full_name for p in document["Statement"][1]["Action"] for i in iam_database().expand(p)}
    assert actions == (_all_actions() - excluded) | extras


def test_administrator_access_is_the_whole_database() -> None:
    assert compare.managed_policy_actions("AdministratorAccess") == _all_actions()


def test_unknown_patterns_are_reported_not_counted() -> None:
    grants = compare.managed_policy_grants("ReadOnlyAccess")
    assert grants.unknown_patterns and all(not iam_database().expand(p) for p in grants.unknown_patterns)


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_only_unconditional_denies_on_star_take_actions_away() -> None:
    allow = {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}
    everything = compare.expand_document(_doc(allow)).actions
    assert "s3:GetObject" in everything
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}
    assert compare.expand_document(_doc(allow, deny)).actions == everything - {"s3:GetObject"}
    conditional = {**deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    narrow = {**deny, "Resource": "arn:aws:s3:::secret/*"}
    assert compare.expand_document(_doc(allow, conditional)).actions == everything
    assert compare.expand_document(_doc(allow, narrow)).actions == everything


def test_scoping_follows_their_resource_elements() -> None:
    scoped = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::b/*"]}
    star = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ["*"]}
    not_resource = {"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::b/*"}
    grants = compare.expand_document(_doc(scoped, star, not_resource))
    assert grants.actions == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    assert grants.scoped == {"s3:GetObject"}  # on "*" anywhere counts as on "*"; NotResource too


# ----------------------------------------------------------------------------- comparison


def test_comparison_arithmetic() -> None:
    theirs = compare.managed_policy_actions(VIEW_ONLY)
    shared = sorted(theirs)[:5]
    granted = [*shared, "s3:GetObject", "S3:PUTOBJECT"]  # any case; both outside ViewOnlyAccess
    result = compare.compare(granted, VIEW_ONLY, scoped=["s3:GetObject", "s3:PutObject"])
    assert result.counterpart == VIEW_ONLY and result.version_id.startswith("v")
    assert result.ours == {*shared, "s3:GetObject", "s3:PutObject"}
    assert result.common == tuple(shared)
    assert result.only_ours == ("s3:GetObject", "s3:PutObject")
    assert len(result.only_theirs) == len(theirs) - 5
    rows = {label: (ours, them) for label, ours, them in result.rows()}
    assert sum(rows[level][0] for level in compare.LEVELS) == rows["total"][0] == 7
    assert sum(rows[level][1] for level in compare.LEVELS) == rows["total"][1] == len(theirs)
    assert rows["common"] == (5, 5) and rows["only"] == (2, len(theirs) - 5)
    assert rows["Write"] == (1, 0) and rows["Read"][0] >= 1
    assert rows["scoped"] == (2, 1) and rows["on-star"] == (5, len(theirs) - 1)
    assert rows["scoped"][0] + rows["on-star"][0] == rows["total"][0]


def test_patterns_in_granted_are_expanded_and_scoping_is_optional() -> None:
    result = compare.compare(["ec2:Describe*"], VIEW_ONLY)
    assert result.ours == {a.full_name for a in iam_database().expand("ec2:Describe*")}
    assert result.ours_on_star is None and "scoped" not in {row[0] for row in result.rows()}


def test_attached_managed_policies_count_as_ours() -> None:
    result = compare.compare([], VIEW_ONLY, scoped=[], attached=[VIEW_ONLY, "AmazonSSMManagedInstanceCore"])
    assert result.ours == result.theirs and not result.only_ours
    assert result.attached == (VIEW_ONLY,) and result.uncounted == ("AmazonSSMManagedInstanceCore",)
    assert any("Not counted (no stored document): AmazonSSMManagedInstanceCore" in n for n in result.notes())


# ----------------------------------------------------------------------------- which counterpart


def test_counterpart_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    assert compare.counterpart_for("x", SimpleNamespace(aws_counterpart="SecurityAudit")) == "SecurityAudit"
    assert compare.counterpart_for("x", SimpleNamespace(library=None, managed_policies=[VIEW_ONLY])) is None
    from guardrails.model import library

    monkeypatch.setattr(library, "load_library", lambda: {"viewer": SimpleNamespace(aws_counterpart=VIEW_ONLY)})
    assert compare.counterpart_for("mine", SimpleNamespace(library="viewer")) == VIEW_ONLY
    assert compare.counterpart_for("mine", SimpleNamespace(library="other")) is None


def test_report_fields_without_a_stored_document() -> None:
    spec = SimpleNamespace(aws_counterpart="job-function/NotStored", managed_policies=[])
    fields = compare.report_fields("x", spec, [], [])
    assert fields["counterpart"] == "job-function/NotStored" and "not compared" in fields["counterpart_notes"][0]
    assert compare.report_fields("x", SimpleNamespace(managed_policies=[]), [], []) == {}


# ----------------------------------------------------------------------------- report and CLI


@pytest.fixture
def with_counterparts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimal blueprint's job functions compared with ViewOnlyAccess (through the hook synthesize uses)."""
    monkeypatch.setattr(compare, "counterpart_for", lambda job, spec: VIEW_ONLY)


def test_report_section_renders_numbers_from_the_plan(with_counterparts: None) -> None:
    compiled = compile_blueprint(MINIMAL)
    reports = {r.job: r for r in compiled.plan.job_reports}
    reader, viewer = reports["report-reader"], reports["viewer"]
    assert reader.counterpart == VIEW_ONLY
    counts = {label: (ours, theirs) for label, ours, theirs in reader.counterpart_counts}
    assert counts["total"][0] == len(reader.actions)
    assert counts["only"][0] == len(reader.counterpart_only_ours) > 10  # S3/DynamoDB data reads: not view-only
    assert "s3:GetObject" in reader.counterpart_only_ours
    assert viewer.counterpart_only_ours == ()  # attaches ViewOnlyAccess itself: identical
    text = compiled.files["reports/least-privilege.md"]
    section = text.split("## Compared with AWS managed job-function policies", 1)[1]
    assert f"### report-reader — {VIEW_ONLY}" in section and f"### viewer — {VIEW_ONLY}" in section
    assert f"| actions | ours | {VIEW_ONLY} |" in section
    for label, shown in (("List", "List"), ("Read", "Read"), ("Write", "Write"), ("total", "**total**")):
        ours, theirs = counts[label]
        assert f"| {shown} | {ours} | {theirs} |" in section
    assert f"Only in ours ({len(reader.counterpart_only_ours)}; each must be justified by a documented task): " \
           f"{', '.join(f'`{a}`' for a in reader.counterpart_only_ours[:10])} and " \
           f"{len(reader.counterpart_only_ours) - 10} more." in section
    assert f"Only in ours: none; every action is also in {VIEW_ONLY}." in section
    assert "Ours includes the attached AWS managed policy job-function/ViewOnlyAccess." in section


def test_report_has_no_comparison_without_counterparts() -> None:
    text = compile_blueprint(MINIMAL).files["reports/least-privilege.md"]
    assert "Compared with AWS managed" not in text


def test_declared_risks_are_in_the_plan_and_the_report(example_compiled: Compiled) -> None:
    compiled = example_compiled
    from guardrails.model.library import effective_job

    declared = {job: {a.risk for a in effective_job(spec).accept_risks}
                for job, spec in load_blueprint(Path("blueprints")).blueprint.job_functions.items()}
    with_risks = [r for r in compiled.plan.job_reports if r.risks]
    assert with_risks
    rules = {rule.id: rule.category for rule in risk_rules()}
    for report in with_risks:
        assert all(rule in declared[report.job] or rules[rule] in declared[report.job] for rule in report.risks)
        assert f"| {report.job} | " in compiled.files["reports/least-privilege.md"].split("## Declared risks", 1)[1]


def test_cli_report_prints_the_generated_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "least-privilege", str(MINIMAL)]) == 0
    printed = capsys.readouterr().out
    assert printed == (ROOT / "tests/cases/minimal/expected/reports/least-privilege.md").read_text("utf-8")


def test_cli_report_includes_the_comparison(with_counterparts: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "least-privilege", str(MINIMAL)]) == 0
    assert "## Compared with AWS managed job-function policies" in capsys.readouterr().out


def test_cli_report_renders_markdown_on_a_terminal() -> None:
    buffer = io.StringIO()
    _print_markdown(Console(file=buffer, force_terminal=True, width=100, color_system=None),
                    "<!-- header -->\n\n# Title\n\n| a | b |\n|---|---:|\n| x | 1 |\n")
    shown = buffer.getvalue()
    assert "Title" in shown and "|---|" not in shown and "header" not in shown


def test_cli_report_rejects_unknown_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "nope"])
    assert "least-privilege" in capsys.readouterr().err
