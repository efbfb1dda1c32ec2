"""Control Tower coexistence: its OUs are referred to by id and never managed, its slots and roles are respected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from guardrails.diagnostics import BlueprintError
from guardrails.pipeline import compile_blueprint

from .conftest import ROOT

SECURITY_ID = "ou-ex01-secur1ty"
TOWER = f"""  control_tower:
    managed_units: [Security]
    reserved_scps: 3
"""


def blueprint_with_tower(tmp_path: Path, tower: str = TOWER, security_id: str | None = SECURITY_ID) -> Path:
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    text = (target / "organization.yaml").read_text(encoding="utf-8")
    text = text.replace("  guardrails:                        # attached at the root\n",
                        tower + "  guardrails:                        # attached at the root\n")
    if security_id:
        text = text.replace("    Security:\n      accounts:\n", f"    Security:\n      id: {security_id}\n      accounts:\n")
    (target / "organization.yaml").write_text(text, encoding="utf-8")
    return target


def test_managed_ous_are_referred_to_by_id_and_never_resources(tmp_path: Path) -> None:
    files = compile_blueprint(blueprint_with_tower(tmp_path), run_tests=False).files
    terraform = files["terraform/organization/organization.tf"]
    flat = " ".join(terraform.split())
    assert 'name = "Security"' not in flat and 'name = "Workloads"' in flat  # no OU resource, no import
    assert f'resource "aws_organizations_account" "audit" {{ name = "audit" email = "aws+audit@example.com" ' \
           f'parent_id = "{SECURITY_ID}"' in flat
    assert f'"Security" = "{SECURITY_ID}" # managed by Control Tower' in " ".join(
        files["terraform/organization/outputs.tf"].split())
    template = yaml.safe_load(files["cloudformation/organization.yaml"])
    names = [r["Properties"]["Name"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Organizations::OrganizationalUnit"]
    assert "Security" not in names and "Workloads" in names
    accounts = yaml.safe_load(files["cloudformation/organization-accounts.yaml"])
    audit = next(r for r in accounts["Resources"].values()
                 if r["Type"] == "AWS::Organizations::Account" and r["Properties"]["AccountName"] == "audit")
    assert audit["Properties"]["ParentIds"] == [SECURITY_ID]


def test_control_tower_roles_are_exempt_like_deployment_principals(tmp_path: Path) -> None:
    plan = compile_blueprint(blueprint_with_tower(tmp_path), run_tests=False).plan
    root = next(s for s in plan.scps if s.target == "root")  # every root SCP carries the same exemption
    exempt = next(c for st in root.document.statements for c in st.conditions if c.operator == "ArnNotLike")
    assert "arn:aws:iam::*:role/AWSControlTowerExecution" in exempt.values
    assert "arn:aws:iam::*:role/aws-controltower-*" in exempt.values


def test_reserved_slots_apply_on_managed_ous(tmp_path: Path) -> None:
    blueprint = blueprint_with_tower(tmp_path)
    text = (blueprint / "organization.yaml").read_text(encoding="utf-8")
    text = text.replace(f"      id: {SECURITY_ID}\n",
                        f"      id: {SECURITY_ID}\n      guardrails: [require-imdsv2, keep-ebs-default-encryption]\n")
    (blueprint / "organization.yaml").write_text(text, encoding="utf-8")
    (blueprint / "limits.yaml").write_text("limits: {scps_per_target: 5}\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, run_tests=False)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GR304" and diagnostic.message.startswith("ou:Security:")
    assert "3 reserved" in diagnostic.hint  # 5 − FullAWSAccess − 3 for Control Tower − 1 free = 0


def test_managed_ous_need_their_id_and_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint_with_tower(tmp_path, security_id=None), run_tests=False)
    assert "OU 'Security' is managed by Control Tower but has no `id`" in caught.value.diagnostics[0].message
    other = tmp_path / "other"
    other.mkdir()
    typo = TOWER.replace("[Security]", "[Securty]")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint_with_tower(other, tower=typo), run_tests=False)
    assert "unknown OU 'Securty'" in caught.value.diagnostics[0].message
    assert "did you mean `Security`?" in caught.value.diagnostics[0].hint
