"""The custom-resource functions' roles in ``guardrails audit``: expected where CloudFormation deploys them, compared
with their templates, and any other role under /guardrails/ still drift (issue 16). The deployment test
(tests/test_deploy_cloudformation.py) shows the same on a whole emulated organization."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from guardrails.audit.compare import drift_findings, expected_account
from guardrails.audit.functions import FunctionRole, function_role_for
from guardrails.audit.reader import LiveRole, Snapshot
from guardrails.cli.commands import _function_roles
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

ACCOUNT, ACCOUNT_ID = "security", "222222222222"  # tests/cases/bootstrap: class baseline and account security


@pytest.fixture(scope="module")
def compiled() -> Compiled:
    return compile_blueprint(ROOT / "tests/cases/bootstrap/blueprint", run_tests=False, today=EXAMPLE_TODAY)


@pytest.fixture(scope="module")
def roles(compiled: Compiled) -> tuple[FunctionRole, ...]:
    return _function_roles(compiled, compiled.organization.account(ACCOUNT))


def _live(role: FunctionRole, name: str, region: str = "us-east-1", **changes: Any) -> LiveRole:
    """The role as CloudFormation creates it in ``region``: the log group's generated name in its policy."""
    def concrete(text: str) -> Any:
        return json.loads(text.replace("${account_id}", ACCOUNT_ID).replace("${region}", region)
                          .replace("GUARDRAILS0", "1A2B3C4D5E6F"))
    live = LiveRole(name, role.path, f"arn:aws:iam::{ACCOUNT_ID}:role{role.path}{name}", concrete(role.trust), (),
                    tuple(sorted((n, concrete(t)) for n, t in role.policies)), None, 3600)
    return replace(live, **changes)


def _findings(compiled: Compiled, roles: tuple[FunctionRole, ...], *live: LiveRole) -> list[tuple[str, str, str]]:
    expected = expected_account(compiled.organization, None, ACCOUNT, function_roles=roles)
    snapshot = Snapshot(ACCOUNT_ID, "http://127.0.0.1", tuple(live), (), (), (), None, (), None, None)
    names = {r.name for r in live}
    return sorted((f.code, f.subject, f.detail) for f in drift_findings(expected, snapshot)
                  if f.subject.removeprefix("role/") in names)


def _role(roles: tuple[FunctionRole, ...], logical: str) -> FunctionRole:
    return next(r for r in roles if r.logical_id == logical)


def test_the_account_expects_its_class_baselines_and_account_securitys_function_roles(
        roles: tuple[FunctionRole, ...]) -> None:
    assert sorted((Path(r.template).name, r.logical_id, r.path) for r in roles) == [
        ("account-security.yaml", "AccountSettingsFunctionRole", "/guardrails/"),
        ("baseline-security.yaml", "PasswordPolicyFunctionRole", "/guardrails/")]


@pytest.mark.parametrize("name", [
    "StackSet-guardrails-baseline-security-0a1b2c3d-PasswordPolicyFunctionRole-QWTO79EBGL7G",  # moto: no truncation
    "StackSet-guardrails-baseline-secu-PasswordPolicyFunctio-1AB2C3D4E5F6G",  # CloudFormation: 64 characters
    "guardrails-management-baseline-PasswordPolicyFunctionRole-ABCDEFGHIJKL",  # a normal stack
])
def test_generated_names_of_the_password_policy_role(roles: tuple[FunctionRole, ...], name: str) -> None:
    found = function_role_for(name, "/guardrails/", roles)
    assert found is not None and found.logical_id == "PasswordPolicyFunctionRole"


@pytest.mark.parametrize(("name", "path"), [
    ("StackSet-guardrails-baseline-security-PasswordPolicyFunctionRole-QWTO79EBGL7G", "/"),  # another path
    ("PasswordPolicyFunctionRole", "/guardrails/"),  # no stack name, no suffix
    ("team-PasswordPolicyAdmin-QWTO79EBGL7G", "/guardrails/"),  # not a prefix of the logical id
])
def test_other_names_are_not_function_roles(roles: tuple[FunctionRole, ...], name: str, path: str) -> None:
    assert function_role_for(name, path, roles) is None


def test_deployed_function_roles_are_no_drift_in_any_region(compiled: Compiled,
                                                            roles: tuple[FunctionRole, ...]) -> None:
    settings = _role(roles, "AccountSettingsFunctionRole")
    live = [_live(_role(roles, "PasswordPolicyFunctionRole"),
                  "StackSet-guardrails-baseline-security-1111-PasswordPolicyFunctionRole-QWTO79EBGL7G"),
            _live(settings, "StackSet-guardrails-account-security-2222-AccountSettingsFunctionRole-ABCDEFGHIJKL"),
            _live(settings, "StackSet-guardrails-account-security-3333-AccountSettingsFunctionRole-MNOPQRSTUVWX",
                  region="us-west-2")]
    assert _findings(compiled, roles, *live) == []


def test_a_changed_function_role_is_drift(compiled: Compiled, roles: tuple[FunctionRole, ...]) -> None:
    role = _role(roles, "PasswordPolicyFunctionRole")
    name = "StackSet-guardrails-baseline-security-1111-PasswordPolicyFunctionRole-QWTO79EBGL7G"
    good = _live(role, name)
    wide = json.loads(json.dumps(good.inline))
    wide[0][1]["Statement"][1]["Resource"] = "*"  # WriteOwnLogs on every log group
    trust = json.loads(json.dumps(good.trust))
    trust["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::999999999999:root"}
    changed = replace(good, attached=("arn:aws:iam::aws:policy/AdministratorAccess",), trust=trust,
                      inline=tuple((n, d) for n, d in wide), boundary="arn:aws:iam::222222222222:policy/b",
                      max_session_duration=43200)
    codes = [(code, subject) for code, subject, _ in _findings(compiled, roles, changed)]
    assert codes == [(c, f"role/{name}") for c in (
        "drift/role-boundary-changed", "drift/role-changed", "drift/role-inline-changed",
        "drift/role-policy-attached", "drift/role-trust-changed")]


def test_unknown_guardrails_roles_are_still_drift(compiled: Compiled, roles: tuple[FunctionRole, ...]) -> None:
    role = _role(roles, "PasswordPolicyFunctionRole")
    stray = _live(role, "StackSet-x-SomethingElse-QWTO79EBGL7G")
    assert _findings(compiled, roles, stray) == [
        ("drift/role-extra", "role/StackSet-x-SomethingElse-QWTO79EBGL7G",
         "a guardrails role that the blueprint does not deploy in this account")]
    # Without CloudFormation output (Terraform deploys no function) the function's role is not expected either.
    name = "StackSet-guardrails-baseline-security-1111-PasswordPolicyFunctionRole-QWTO79EBGL7G"
    assert [c for c, _, _ in _findings(compiled, (), _live(role, name))] == ["drift/role-extra"]


def test_the_management_account_expects_its_normal_stacks_function_roles(compiled: Compiled) -> None:
    """The management account's baseline is a normal stack (management-baseline.yaml), not a StackSet instance."""
    management = compiled.plan.management_account.name
    templates = {Path(r.template).name for r in _function_roles(compiled, compiled.organization.account(management))}
    assert templates == {"management-baseline.yaml", "account-security.yaml"}
