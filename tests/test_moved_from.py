"""Renaming a blueprint entry (issue 16): a role's, group's, user's or permission boundary's key names its
resources in the code, so a renamed key destroys and creates them unless `moved_from` lists the old key. Then
Terraform gets moved blocks, CloudFormation keeps the logical id, and `guardrails diff` reports no replacement
where nothing is replaced. (tests/test_deploy_terraform.py applies a rename with real Terraform.)"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from guardrails.cli import main
from guardrails.diagnostics import BlueprintError
from guardrails.emitters.write import read_tree
from guardrails.pipeline import compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

AUDITOR = "  auditor:\n    name: SecurityAuditor\n"
READ_ONLY = "  read-only:\n    job_functions: [read-only]\n"


def _renamed(tmp_path: Path, *, moved: bool, name: str = "renamed") -> Path:
    """A copy of the example with the auditor role and the read-only group under new keys."""
    copy = tmp_path / name
    shutil.copytree(ROOT / "blueprints", copy)
    identity = copy / "identity.yaml"
    text = identity.read_text()
    assert AUDITOR in text and READ_ONLY in text
    text = text.replace(AUDITOR, "  security-auditor:\n    name: SecurityAuditor\n"
                        + ("    moved_from: auditor\n" if moved else ""))
    text = text.replace(READ_ONLY, "  readers:\n" + ("    moved_from: [read-only]\n" if moved else "")
                        + "    job_functions: [read-only]\n")
    identity.write_text(text)
    tests = copy / "tests.yaml"
    tests.write_text(tests.read_text().replace("group/read-only", "group/readers"))
    return copy


def _build(blueprint: Path, out: Path) -> dict[str, str]:
    assert main(["build", str(blueprint), "-o", str(out), "--no-validate"]) == 0
    return read_tree(out)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example, the rename with moved_from and the rename without, built once."""
    tmp = tmp_path_factory.mktemp("moved-from")
    outs = {"example": tmp / "out-example", "moved": tmp / "out-moved", "renamed": tmp / "out-renamed"}
    _build(ROOT / "blueprints", outs["example"])
    _build(_renamed(tmp, moved=True, name="moved"), outs["moved"])
    _build(_renamed(tmp, moved=False), outs["renamed"])
    return outs


def _moves(text: str) -> list[tuple[str, str]]:
    return re.findall(r"moved \{\n  from = (\S+)\n  to   = (\S+)\n\}", text)


def test_terraform_moves_every_resource_of_a_renamed_role_and_group(builds: dict[str, Path]) -> None:
    files = read_tree(builds["moved"])
    example = read_tree(builds["example"])
    module = "terraform/modules/baseline-workloads-prod"
    moves = _moves(files[f"{module}/moved.tf"])
    # Every resource the old key named, and nothing else: the addresses of the example's module.
    before = {f"{kind}.{name}" for text in (example[f"{module}/roles.tf"], example[f"{module}/groups.tf"])
              for kind, name in re.findall(r'^resource "(\S+)" "(\S+)"', text, re.M)}
    after = {f"{kind}.{name}" for text in (files[f"{module}/roles.tf"], files[f"{module}/groups.tf"])
             for kind, name in re.findall(r'^resource "(\S+)" "(\S+)"', text, re.M)}
    assert {source for source, _ in moves} == before - after
    assert {target for _, target in moves} == after - before
    assert ("aws_iam_role.role_auditor", "aws_iam_role.role_security_auditor") in moves
    assert ("aws_iam_group.group_read_only", "aws_iam_group.group_readers") in moves
    # Modules of classes without the renamed entries get no moved.tf; the example has none at all.
    assert not [p for p in example if p.endswith("/moved.tf")]


def test_cloudformation_keeps_the_logical_ids_of_a_renamed_role(builds: dict[str, Path]) -> None:
    files, example = read_tree(builds["moved"]), read_tree(builds["example"])
    renamed = read_tree(builds["renamed"])
    template = "cloudformation/baseline-workloads-prod.yaml"
    # The role and the group keep their logical ids: the templates equal the example's but for the group's new
    # name (CloudFormation replaces a group for a new GroupName; Terraform renames it in place).
    assert _resources(files[template]) == _resources(example[template].replace("GroupName: read-only",
                                                                                 "GroupName: readers"))
    assert "RoleAuditor" in _resources(files[template]) and "RoleAuditor" not in _resources(renamed[template])


def _resources(text: str) -> dict:
    return yaml.safe_load(text)["Resources"]


def test_the_diff_reports_a_renamed_key_as_replacement_only_without_moved_from(
        builds: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["diff", str(builds["example"]), str(builds["renamed"]), "--format", "json"]) == 0
    without = json.loads(capsys.readouterr().out)["replacements"]
    role = [r for r in without if r["kind"] == "role"]
    assert role and role[0]["before"].startswith("module.baseline.aws_iam_role.role_auditor")
    assert "moved_from" in role[0]["detail"]

    assert main(["diff", str(builds["example"]), str(builds["moved"]), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r for r in report["replacements"] if r["kind"] == "role"] == []
    [group] = {r["before"]: r for r in report["replacements"] if r["kind"] == "group"}.values()
    # The group's IAM name is its key: CloudFormation still replaces it, Terraform (moved) renames it in place.
    assert group["before"] == "group/read-only" and "Terraform renames it in place" in group["detail"]
    # The manifest carries the former logical names the diff pairs by.
    manifest = json.loads((builds["moved"] / "policies/manifest.json").read_text())
    roles = {r["name"]: r for r in manifest["classes"]["workloads-prod"]["roles"]}
    assert roles["SecurityAuditor"]["moved_from"] == ["role_auditor"] and "moved_from" not in roles["AWSSupport"]


@pytest.mark.parametrize("edit, message", [
    ("    moved_from: auditor\n", "role 'auditor' moved from 'auditor', which is still an entry of `roles`"),
    ("    moved_from: support\n", "role 'auditor' moved from 'support', which is still an entry of `roles`"),
])
def test_moved_from_a_current_key_is_a_located_error(tmp_path: Path, edit: str, message: str) -> None:
    copy = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    identity = copy / "identity.yaml"
    text = identity.read_text()
    identity.write_text(text.replace(AUDITOR, AUDITOR + edit))
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(copy, today=EXAMPLE_TODAY, run_tests=False)
    [problem] = [d for d in raised.value.diagnostics if "moved from" in d.message]
    assert problem.code == "GR302" and problem.message == message
    line = text.splitlines().index(AUDITOR.splitlines()[0]) + 3  # the moved_from line, 1-based
    assert (problem.location.file.endswith("identity.yaml"), problem.location.line) == (True, line)


def test_two_entries_moving_from_one_key_in_the_same_accounts_is_an_error(tmp_path: Path) -> None:
    copy = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    identity = copy / "identity.yaml"
    text = identity.read_text()
    text = text.replace(AUDITOR, AUDITOR + "    moved_from: old-auditor\n")
    text = text.replace("  support:\n    name: AWSSupport\n", "  support:\n    name: AWSSupport\n"
                        "    moved_from: old-auditor\n")
    identity.write_text(text)
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(copy, today=EXAMPLE_TODAY, run_tests=False)
    [problem] = [d for d in raised.value.diagnostics if "moved from" in d.message]
    assert problem.code == "GR302"
    assert problem.message.startswith("roles 'auditor' and 'support' both moved from 'old-auditor' in ")
