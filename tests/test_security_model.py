"""The blueprint's `security` section in the model and policies stages: the plan's rules, trusted services and
delegated administrators, and the warning about centralized root access next to deny-root-user."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from guardrails.pipeline import compile_blueprint

from .conftest import ROOT


def test_plan_of_the_example() -> None:
    security = compile_blueprint(ROOT / "blueprints", run_tests=False).plan.security
    assert security is not None
    rules = {r.identifier: r for r in security.config_rules}
    assert dict(rules["ACCESS_KEYS_ROTATED"].parameters) == {"maxAccessKeyAge": "90"}
    assert dict(rules["IAM_USER_UNUSED_CREDENTIALS_CHECK"].parameters) == {"maxCredentialUsageAge": "45"}
    assert dict(rules["IAM_PASSWORD_POLICY"].parameters)["MinimumPasswordLength"] == "14"
    assert all(rules[i].home_region_only for i in rules if i.startswith(("IAM_", "ROOT_", "MFA_", "ACCESS_KEYS")))
    assert not rules["SECRETSMANAGER_ROTATION_ENABLED_CHECK"].home_region_only
    assert security.alert_regions[0] == security.global_region == "us-east-1"
    assert {"sso.amazonaws.com", "iam.amazonaws.com", "access-analyzer.amazonaws.com"} <= set(security.trusted_services)
    assert ("sso.amazonaws.com", "audit") not in security.delegated_admins  # the example applies IC from management
    patterns = {a.key: json.loads(a.pattern) for a in security.alerts}
    assert patterns["root-use"]["detail"]["userIdentity"]["type"] == ["Root"]
    assert {a.key for a in security.alerts if a.global_only} == {"iam-policy-changes", "organizations-changes",
                                                                 "region-opt-in"}


def test_a_blueprint_rule_replaces_the_baseline_rule_of_the_same_identifier(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "blueprints", blueprint)
    path = blueprint / "security.yaml"
    path.write_text(path.read_text().replace(
        "    rules:\n", "    rules:\n      - {identifier: ACCESS_KEYS_ROTATED, home_region_only: true, "
        "parameters: {maxAccessKeyAge: 30}}\n", 1))
    security = compile_blueprint(blueprint, run_tests=False).plan.security
    matching = [r for r in security.config_rules if r.identifier == "ACCESS_KEYS_ROTATED"]
    assert len(matching) == 1 and dict(matching[0].parameters) == {"maxAccessKeyAge": "30"}


def test_centralized_root_with_a_plain_deny_root_user_warns(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "blueprints", blueprint)
    path = blueprint / "organization.yaml"
    text = path.read_text()
    line = next(l for l in text.splitlines() if "deny-root-user" in l)
    path.write_text(text.replace(line, "    - deny-root-user", 1))
    warnings = [d for d in compile_blueprint(blueprint, run_tests=False).warnings if d.code == "GR320"
                and "root sessions" in d.message]
    assert len(warnings) == 1 and warnings[0].location.file.endswith("organization.yaml")
    assert "allow_centralized_root: true" in warnings[0].hint
    assert not [d for d in compile_blueprint(ROOT / "blueprints", run_tests=False).warnings
                if "root sessions" in d.message]
