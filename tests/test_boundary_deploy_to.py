"""`permission_boundaries.NAME.deploy_to`: a boundary is created where roles are created with it, whether or not a
role of the blueprint uses it there; and an access test never passes on a boundary the account lacks (issue 18).

The delegation pattern lets an admin call iam:CreateRole only with `iam:PermissionsBoundary` naming the boundary.
IAM authorizes that request whether or not the policy exists; CreateRole then fails (NoSuchEntity). So an "allow"
for an account without the boundary proves nothing: the evaluator answers "unknown" and says why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation.organization import Organization
from guardrails.pipeline import compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

BOUNDARY = "arn:aws:iam::${account_id}:policy/guardrails/GuardrailsWorkloadBoundary"
ROLE = "arn:aws:iam::${account_id}:role/workload/app-worker"
PLACED = "    deploy_to: {units: [Workloads, Sandbox]}\n"


def example_copy(tmp_path: Path, placement: str | None) -> Path:
    """The example with the workload boundary's `deploy_to` replaced (None: removed) and its tests left out."""
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    identity = target / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    assert PLACED in text, "the example's workload boundary placement changed: update this test"
    identity.write_text(text.replace(PLACED, placement or "", 1), encoding="utf-8")
    return target


def organization(directory: Path) -> Organization:
    return compile_blueprint(directory, today=EXAMPLE_TODAY, run_tests=False).organization


def create_role(org: Organization, account: str) -> str:
    decision = org.evaluate("group/admins", account, "iam:CreateRole", ROLE, {"iam:PermissionsBoundary": [BOUNDARY]})
    return decision.outcome


def has_boundary(org: Organization, account: str) -> bool:
    names = {p.name for p in org.class_entry(org.account(account)).managed_policies}
    return "GuardrailsWorkloadBoundary" in names


def test_the_example_deploys_the_boundary_where_admins_create_roles(example_compiled) -> None:  # type: ignore[no-untyped-def]
    org = example_compiled.organization
    # sandbox-1 has no role with the boundary: only its deploy_to puts it there.
    assert not any(r.boundary for r in org.class_entry(org.account("sandbox-1")).roles)
    assert has_boundary(org, "sandbox-1") and has_boundary(org, "app-prod")
    assert not has_boundary(org, "network")  # not a Workloads or Sandbox account
    assert create_role(org, "sandbox-1") == "allow"


def test_without_deploy_to_a_create_role_with_the_boundary_is_unknown_not_allowed(tmp_path: Path) -> None:
    org = organization(example_copy(tmp_path, None))
    assert not has_boundary(org, "sandbox-1")
    assert create_role(org, "app-prod") == "allow"  # AppInstance's accounts have it
    decision = org.evaluate("group/admins", "sandbox-1", "iam:CreateRole", ROLE,
                            {"iam:PermissionsBoundary": [BOUNDARY]})
    assert decision.outcome == "unknown"
    assert "GuardrailsWorkloadBoundary is not deployed in account sandbox-1" in decision.summary
    assert "deploy_to" in decision.summary


def test_a_deny_stays_a_deny_whatever_the_boundary(tmp_path: Path) -> None:
    """Only an allow depends on the boundary's existence: the role outside /workload/ is denied either way."""
    org = organization(example_copy(tmp_path, None))
    decision = org.evaluate("group/admins", "sandbox-1", "iam:CreateRole", "arn:aws:iam::${account_id}:role/escalate",
                            {"iam:PermissionsBoundary": [BOUNDARY]})
    assert decision.outcome == "implicit-deny"


def test_aws_managed_and_other_accounts_boundaries_are_not_judged(tmp_path: Path) -> None:
    org = organization(example_copy(tmp_path, None))
    for boundary in ("arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::999999999999:policy/X"):
        decision = org.evaluate("group/admins", "sandbox-1", "iam:CreateRole", ROLE,
                                {"iam:PermissionsBoundary": [boundary]})
        assert not any(step.stage == "requested boundary" for step in decision.steps)


def test_the_blueprints_access_test_fails_with_the_reason_without_deploy_to(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(example_copy(tmp_path, None), today=EXAMPLE_TODAY)
    text = "\n".join(d.render() for d in raised.value.diagnostics)
    assert "GR402" in text and "admins-create-roles-with-the-boundary" in text and "sandbox-1" in text
    assert "permission_boundaries.NAME.deploy_to" in text


def test_a_boundary_only_deploy_to_needs_no_role_and_a_bad_placement_is_located(tmp_path: Path) -> None:
    directory = example_copy(tmp_path, "    deploy_to: {units: [Sandbox], accounts: [networc]}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(directory, today=EXAMPLE_TODAY, run_tests=False)
    [problem] = [d for d in raised.value.diagnostics if "networc" in d.message]
    assert problem.code == "GR301" and "identity.yaml" in str(problem.location) and "network" in problem.hint
    org = organization(example_copy(tmp_path / "b", "    deploy_to: {accounts: [network]}\n"))
    assert has_boundary(org, "network") and has_boundary(org, "app-prod") and not has_boundary(org, "sandbox-1")


def test_a_permission_set_bounded_by_it_may_be_assigned_where_only_deploy_to_puts_it(tmp_path: Path) -> None:
    """GR308 asked for a role (or an empty group) using the boundary in every account of the assignment; the
    boundary's own deploy_to is enough now."""
    from .conftest import bounded_developer_example

    target = tmp_path / "blueprints"
    shutil.copytree(bounded_developer_example(), target)
    center = target / "identity-center.yaml"
    text = center.read_text(encoding="utf-8")
    assert "deploy_to: {units: [Workloads/Dev]}" in text
    center.write_text(text.replace("deploy_to: {units: [Workloads/Dev]}",
                                   "deploy_to: {units: [Workloads/Dev, Sandbox]}", 1), encoding="utf-8")
    org = compile_blueprint(target, today=EXAMPLE_TODAY, run_tests=False).organization
    assert "sandbox-1" in org.permission_sets["Developer"].accounts
    assert has_boundary(org, "sandbox-1")
