"""A grant that names resources never widens to unscopable writes on "*" (issue 13): reads and lists stay, writes,
tagging and permissions management need `include`; a grant on "*" is unchanged; the least-privilege report names
every left-out and every unscopable action."""

from __future__ import annotations

import re

import pytest

from guardrails.blueprint.schema import Grant
from guardrails.emitters.reports import REPORT_WIDTH
from guardrails.iam.actions import iam_database
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.intent import LEFT_OUT_UNSCOPED, UNSCOPED_LEVELS_KEPT, compile_grant

from .conftest import ROOT

DB = iam_database()
BUCKET = "arn:aws:s3:::shop-data"
ACCOUNT_WIDE_S3 = {"s3:CreateJob", "s3:CreateStorageLensGroup", "s3:PutStorageLensConfiguration",
                   "s3:PutAccountPublicAccessBlock"}


def compile_(**grant: object):
    return compile_grant(Grant.model_validate(grant), sid_base="T", partition="aws", org_id="o-abcdefghij", db=DB)


def _granted(result) -> dict[str, tuple[str, ...]]:
    return {action: s.resources for s in result.statements for action in s.actions}


def _unscopable(service: str, levels: list[str]) -> set[str]:
    return {a.full_name for a in DB.actions_with_access(service, levels) if not a.resource_types}


def test_the_database_still_has_the_actions_these_tests_are_about() -> None:
    for name in ACCOUNT_WIDE_S3:
        action = DB.action(name)
        assert action is not None and not action.resource_types and action.access_level not in UNSCOPED_LEVELS_KEPT


def test_s3_write_on_one_bucket_leaves_out_account_wide_writes() -> None:
    levels = ["write", "tagging", "permissions-management"]
    result = compile_(service="s3", access=levels, resources=[BUCKET])
    granted = _granted(result)
    assert not ACCOUNT_WIDE_S3 & set(granted)
    assert not any("StorageLens" in action for action in granted)
    assert not [s for s in result.statements if "*" in s.resources], "nothing on * at all"
    assert set(result.left_out) == _unscopable("s3", levels) >= ACCOUNT_WIDE_S3
    assert result.unscoped == ()
    assert all(why == LEFT_OUT_UNSCOPED for action, why in result.not_granted if action in result.left_out)
    assert granted["s3:PutBucketVersioning"] == (BUCKET,), "scoped writes are still granted on the bucket"


def test_write_alone_leaves_out_create_job_and_storage_lens() -> None:
    result = compile_(service="s3", access=["write"], resources=[BUCKET])
    assert {"s3:CreateJob", "s3:CreateStorageLensGroup", "s3:PutStorageLensConfiguration"} <= set(result.left_out)
    assert "s3:CreateJob" not in _granted(result)


def test_unscopable_reads_and_lists_are_kept() -> None:
    result = compile_(service="s3", access=["list", "read", "write"], resources=[BUCKET])
    kept = _unscopable("s3", ["list", "read"])
    assert {"s3:ListAllMyBuckets", "s3:GetAccountPublicAccessBlock"} <= kept
    assert set(result.unscoped) == kept
    assert all(_granted(result)[a] == ("*",) for a in kept)
    assert set(result.left_out) == _unscopable("s3", ["write"])


def test_resource_type_names_are_named_resources_too() -> None:
    result = compile_(service="s3", access=["write"], resources=["bucket"])
    assert "s3:CreateJob" in result.left_out


@pytest.mark.parametrize("include", [["s3:CreateJob"], ["s3:Create*"]])
def test_include_brings_back_a_left_out_action(include: list[str]) -> None:
    result = compile_(service="s3", access=["write"], resources=[BUCKET], include=include)
    assert _granted(result)["s3:CreateJob"] == ("*",)
    assert "s3:CreateJob" in result.unscoped and "s3:CreateJob" not in result.left_out
    assert "s3:PutStorageLensConfiguration" in result.left_out, "only what include names comes back"
    assert result.statements[-1].resources == ("*",), "the statement on * still comes last"


def test_exclude_still_wins_over_include() -> None:
    result = compile_(service="s3", access=["write"], resources=[BUCKET], include=["s3:CreateJob"],
                      exclude=["s3:CreateJob"])
    assert "s3:CreateJob" not in _granted(result)
    assert "s3:CreateJob" not in result.left_out, "an excluded action is not reported as left out"


@pytest.mark.parametrize("resources", [["*"], ["*", BUCKET]])
def test_a_grant_on_star_is_unchanged(resources: list[str]) -> None:
    levels = ["list", "read", "write", "tagging", "permissions-management"]
    result = compile_(service="s3", access=levels, resources=resources)
    granted = _granted(result)
    assert set(granted) == {a.full_name for a in DB.actions_with_access("s3", levels)}
    assert set(result.unscoped) == _unscopable("s3", levels) >= ACCOUNT_WIDE_S3
    assert all(granted[a] == ("*",) for a in ACCOUNT_WIDE_S3)
    assert result.left_out == ()


# ----------------------------------------------------------------------------- the least-privilege report


def _section(report: str, job: str) -> str:
    start = report.index(f"\n## {job}\n")
    end = report.find("\n## ", start + 1)
    return report[start:end if end != -1 else None]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """One job function with an S3 write grant on one bucket (and reads on it), one that includes s3:CreateJob,
    and one whose second grant includes what the first leaves out."""
    directory = tmp_path_factory.mktemp("unscopable") / "bp"
    directory.mkdir()
    (directory / "organization.yaml").write_text((ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text())
    bucket = ["arn:${partition}:s3:::shop-data", "arn:${partition}:s3:::shop-data/*"]
    (directory / "identity.yaml").write_text(
        "job_functions:\n"
        f"  writer:\n    grants:\n      - {{service: s3, access: [list, read, write], resources: {bucket}}}\n"
        f"  batch:\n    grants:\n      - {{service: s3, access: [write], resources: {bucket}, include: [s3:CreateJob]}}\n"
        f"  both:\n    grants:\n      - {{service: s3, access: [write], resources: {bucket}}}\n"
        "      - {service: s3, access: [list], resources: ['*'], include: ['s3:PutStorageLensConfiguration']}\n"
        "groups:\n  writers: {job_functions: [writer, batch, both], deploy_to: {all: true}}\n")
    return compile_blueprint(directory)


def test_the_report_names_every_left_out_action(small: Compiled) -> None:
    report = small.files["reports/least-privilege.md"]
    section = _section(report, "writer")
    left_out = sorted(_unscopable("s3", ["write"]))
    assert "Left out:" in section and "add them with `include` if the workload needs them" in section
    listed = section[section.index("Left out:"):]
    assert all(f"`{a}`" in listed for a in left_out)
    assert f"- s3 ({len(left_out)}): " in listed
    assert LEFT_OUT_UNSCOPED not in report, "left-out actions are not repeated among the other actions not granted"
    batch = _section(report, "batch")
    assert "`s3:CreateJob`" not in batch[batch.index("Left out:"):], "included, so not left out"


def test_an_action_another_grant_gives_is_not_reported_as_left_out(small: Compiled) -> None:
    report = next(r for r in small.plan.job_reports if r.job == "both")
    assert "s3:PutStorageLensConfiguration" in report.actions
    section = _section(small.files["reports/least-privilege.md"], "both")
    listed = section[section.index("Left out:"):]
    assert "`s3:PutStorageLensConfiguration`" not in listed and "`s3:CreateJob`" in listed


def test_the_report_names_every_unscopable_action_never_a_count(small: Compiled, example_compiled: Compiled) -> None:
    for compiled in (small, example_compiled):
        report = compiled.files["reports/least-privilege.md"]
        for job in compiled.plan.job_reports:
            if not job.unscoped:
                continue
            section = _section(report, job.job)
            granted = section[section.index("Granted on `*`"):]
            assert all(f"`{a}`" in granted for a in job.unscoped), job.job
            assert not re.search(r": \d+ actions$", granted, re.MULTILINE), "a bare count instead of the names"
            left_out = {a for a, why in job.not_granted if why == LEFT_OUT_UNSCOPED} - set(job.actions)
            assert all(f"`{a}`" in section for a in left_out), job.job
        lists = [line for line in report.splitlines() if re.match(r"- [a-z0-9-]+ \(\d+\): |  `", line)]
        assert lists and all(len(line) <= REPORT_WIDTH for line in lists), "action lists are wrapped"


def test_the_batch_job_gets_create_job_on_star(small: Compiled) -> None:
    report = next(r for r in small.plan.job_reports if r.job == "batch")
    assert "s3:CreateJob" in report.unscoped
    assert "s3:PutStorageLensConfiguration" not in report.actions

