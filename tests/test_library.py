"""The built-in job-function library: every built-in compiles clean and scoped; blueprints use and extend them;
parameter and reference errors are located; the registry refuses malformed or duplicate entries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from guardrails.blueprint.schema import JobFunction
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, Severity
from guardrails.model.build import aws_managed_policy_names
from guardrails.model.library import (
    LibraryError,
    ParameterError,
    effective_job,
    expand_builtin,
    library_markdown,
    load_library,
    load_library_from,
    parse_builtin,
)
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies import risks
from guardrails.iam.actions import iam_database
from guardrails.policies.ir import Statement
from guardrails.policies.names import statement_name_problems
from guardrails.validators.own_checks import check_plan

from .conftest import ROOT

TODAY = date(2026, 11, 23)
# Values for the parameters that have no default (every required parameter of every built-in must be here).
SAMPLE = {"name_prefix": "shop-", "state_bucket": "shop-tfstate-111111111111"}
BUILTINS = sorted(load_library())
ORGANIZATION = (ROOT / "tests/cases/minimal/blueprint/organization.yaml").read_text()


def _blueprint(tmp_path: Path, identity: str, name: str = "bp") -> Path:
    directory = tmp_path / name
    directory.mkdir(parents=True)
    (directory / "organization.yaml").write_text(ORGANIZATION)
    (directory / "identity.yaml").write_text(identity)
    return directory


def _required(builtin_id: str) -> dict[str, str]:
    return {p.name: SAMPLE[p.name] for p in load_library()[builtin_id].parameters.values() if p.default is None}


@pytest.fixture(scope="module")
def all_builtins(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """One blueprint with every built-in as a job function of its own group (groups hold at most 10 policies)."""
    jobs = {b: {"library": b, **({"parameters": _required(b)} if _required(b) else {})} for b in BUILTINS}
    groups = {f"g-{b}": {"job_functions": [b], "deploy_to": {"all": True}} for b in BUILTINS}
    directory = _blueprint(tmp_path_factory.mktemp("library"), yaml.safe_dump({"job_functions": jobs, "groups": groups}))
    return compile_blueprint(directory, today=TODAY)


def _statements(compiled: Compiled, job: str) -> list[Statement]:
    [report] = [r for r in compiled.plan.job_reports if r.job == job]
    policies = {p.key: p for c in compiled.plan.classes for p in c.baseline.managed_policies}
    return [s for key in report.policy_keys for s in policies[key].document.statements]


# ----------------------------------------------------------------------------- the built-ins themselves


def test_the_library_holds_the_issue_s_job_functions() -> None:
    assert {"viewer", "security-auditor", "workload-developer", "ci-deployer-terraform", "ci-deployer-cloudformation",
            "database-administrator", "network-administrator", "billing", "support"} <= set(BUILTINS)


@pytest.mark.parametrize("builtin_id", BUILTINS)
def test_each_builtin_is_documented_and_names_real_aws_policies(builtin_id: str) -> None:
    builtin = load_library()[builtin_id]
    assert builtin.title and builtin.description and builtin.source and builtin.tasks and builtin.does_not_grant
    known = aws_managed_policy_names()
    assert builtin.aws_counterpart in known
    assert all(p in known for p in builtin.templates.get("managed_policies", ()))
    assert all(p.name in SAMPLE for p in builtin.parameters.values() if p.default is None)
    for declaration in builtin.templates.get("accept_risks", ()):
        # Inherent risks only, owned by guardrails, reviewed far ahead; never escalation or exfiltration.
        assert declaration["owner"] == "guardrails" and declaration["review_by"] >= date(2027, 6, 1)
        assert not declaration["risk"].startswith(("privilege-escalation", "data-exfiltration"))


def test_every_builtin_compiles_without_undeclared_risks_or_unknown_names(all_builtins: Compiled) -> None:
    assert not all_builtins.warnings
    problems = [d for d in check_plan(all_builtins.plan) if d.severity is Severity.ERROR]
    assert not problems, "\n".join(d.render() for d in problems)
    findings = risks.analyze_plan(all_builtins.plan)
    open_ = [f for f in findings if not f.finding.mitigated]
    assert not [f for f in open_ if f.finding.category in ("privilege-escalation", "data-exfiltration")]
    # The only unmitigated findings are the declared credential action (ecr:GetAuthorizationToken).
    assert {a for f in open_ for a in f.finding.actions} <= {"ecr:GetAuthorizationToken"}


@pytest.mark.parametrize("builtin_id", BUILTINS)
def test_library_statements_use_known_names(builtin_id: str) -> None:
    permissions = expand_builtin(load_library()[builtin_id], _required(builtin_id))
    for statement in permissions.statements:
        conditions = {op: list(block) for op, block in (statement.conditions or {}).items()}
        assert not statement_name_problems(statement.actions or (), statement.not_actions or (), conditions), statement


@pytest.mark.parametrize("builtin_id", BUILTINS)
def test_writes_are_scoped_wherever_the_action_supports_it(all_builtins: Compiled, builtin_id: str) -> None:
    db = iam_database()
    loose = []
    for statement in _statements(all_builtins, builtin_id):
        if statement.effect != "Allow":
            continue
        assert statement.actions and not statement.not_actions, statement.sid
        for pattern in statement.actions:
            for action in db.expand(pattern):  # compaction may have written wildcards
                if action.access_level in ("Write", "Permissions management") and action.resource_types \
                        and ("*" in statement.resources or statement.not_resources):
                    loose.append(f"{statement.sid}: {action.full_name}")
    assert not loose, loose


@pytest.mark.parametrize("builtin_id", ["ci-deployer-terraform", "ci-deployer-cloudformation"])
def test_ci_deployers_pass_only_workload_roles_and_create_roles_only_with_the_boundary(
        all_builtins: Compiled, builtin_id: str) -> None:
    db = iam_database()
    boundary = "arn:aws:iam::${account_id}:policy/guardrails/GuardrailsWorkloadBoundary"
    role_creation = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary",
                     "iam:UpdateAssumeRolePolicy"}
    seen = set()
    for statement in _statements(all_builtins, builtin_id):
        if statement.effect != "Allow":
            continue
        names = {a.full_name for p in statement.actions for a in db.expand(p)}
        if "iam:PassRole" in names:
            seen.add("pass")
            assert statement.resources == ("arn:aws:iam::${account_id}:role/workload/*",)
        if names & role_creation:
            seen.add("create")
            assert statement.resources == ("arn:aws:iam::${account_id}:role/workload/*",)
            assert [(c.operator, c.key, c.values) for c in statement.conditions] == [
                ("StringEquals", "iam:PermissionsBoundary", (boundary,))]
        assert not {n for n in names if n.startswith("iam:Delete") and "PermissionsBoundary" in n}
    assert seen == {"pass", "create"}


def test_the_developer_cannot_unsubscribe_from_any_topic(all_builtins: Compiled) -> None:
    """sns:Unsubscribe and sns:SetSubscriptionAttributes have no resource type: granted at all, they reach the
    security alert topic's subscriptions (issue 13, H1). The developer gets neither; its own topics' other writes
    stay scoped to the prefix."""
    db = iam_database()
    granted = {a.full_name for s in _statements(all_builtins, "workload-developer") if s.effect == "Allow"
               for p in s.actions for a in db.expand(p)}
    assert not granted & {"sns:Unsubscribe", "sns:SetSubscriptionAttributes"}
    assert {"sns:Subscribe", "sns:DeleteTopic", "sns:Publish"} <= granted


def test_the_developer_reaches_ec2_only_through_the_team_tag(all_builtins: Compiled) -> None:
    [statement] = [s for s in _statements(all_builtins, "workload-developer")
                   if s.effect == "Allow" and any(a.startswith("ec2:") for a in s.actions)]
    assert [(c.key, c.values) for c in statement.conditions] == [("aws:ResourceTag/team", ("${aws:PrincipalTag/team}",))]
    # The tag it reaches them by is protected (tests/test_abac_tag_protection.py).
    denies = {s.sid for s in _statements(all_builtins, "workload-developer") if s.effect == "Deny"}
    assert {"DenyChangingPrincipalTags", "DenyOtherTagValues", "DenyRetaggingOthersResources"} <= denies


# ----------------------------------------------------------------------------- using and extending


def test_a_blueprint_extends_a_builtin(tmp_path: Path) -> None:
    identity = """job_functions:
  shop-dev:
    library: workload-developer
    parameters: {name_prefix: shop-, role_path: /shop/}
    managed_policies: [job-function/ViewOnlyAccess, AWSSupportAccess]
    grants:
      - service: kinesis
        access: [read, write]
        resources: ["arn:${partition}:kinesis:*:${account_id}:stream/shop-*"]
    statements:
      - sid: ReadSharedConfig
        actions: [ssm:GetParameter]
        resources: ["arn:${partition}:ssm:*:${account_id}:parameter/shared/*"]
groups:
  devs: {job_functions: [shop-dev], deploy_to: {all: true}}
"""
    compiled = compile_blueprint(_blueprint(tmp_path, identity), today=TODAY)
    [report] = compiled.plan.job_reports
    assert report.managed_policies == ("job-function/ViewOnlyAccess", "AWSSupportAccess")  # merged, no duplicate
    assert report.description == load_library()["workload-developer"].description  # the built-in's by default
    assert {"kinesis:PutRecord", "ssm:GetParameter", "lambda:UpdateFunctionCode"} <= set(report.actions)
    statements = _statements(compiled, "shop-dev")
    sids = [s.sid for s in statements]
    assert "ReadSharedConfig" in sids and "PassWorkloadRoles" in sids and len(sids) == len(set(sids))
    [passing] = [s for s in statements if s.sid == "PassWorkloadRoles"]
    assert passing.resources == ("arn:aws:iam::${account_id}:role/shop/*",)
    assert any(n.startswith("guardrails-shop-dev") and "credentials-exposure" in n for n in compiled.notes)


def test_effective_job_puts_the_builtin_first_and_remembers_where_each_part_comes_from() -> None:
    spec = JobFunction.model_validate({
        "library": "security-auditor", "description": "Our auditors.",
        "grants": [{"service": "trustedadvisor", "access": ["read"]}],
        "accept_risks": [{"risk": "resource-exposure", "reason": "An example declaration, long enough.",
                          "owner": "me", "review_by": "2030-01-01"}]})
    job = effective_job(spec)
    assert [g.service for g in job.grants] == ["access-analyzer", "macie2", "trustedadvisor"]
    assert job.grant_paths == (("library",), ("library",), ("grants", 0))
    assert job.accept_risk_paths == (("accept_risks", 0),) and job.managed_policies == ("SecurityAudit",)
    assert job.description == "Our auditors." and job.aws_counterpart == "SecurityAudit"
    plain = effective_job(JobFunction.model_validate({"managed_policies": ["SecurityAudit"]}))
    assert plain.library is None and plain.managed_policies == ("SecurityAudit",) and plain.grant_paths == ()


# ----------------------------------------------------------------------------- located errors


def _errors(tmp_path: Path, job: str) -> list:
    identity = f"job_functions:\n  j:\n{job}groups:\n  g: {{job_functions: [j], deploy_to: {{all: true}}}}\n"
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(_blueprint(tmp_path, identity))
    return [(d.code, d.location.line if d.location else 0, d.message, d.hint) for d in raised.value.diagnostics]


def test_an_unknown_builtin_gets_a_suggestion(tmp_path: Path) -> None:
    [(code, line, message, hint)] = _errors(tmp_path, "    library: veiwer\n")
    assert (code, line) == ("GR301", 3) and "veiwer" in message and "`viewer`" in hint


def test_an_unknown_parameter_is_located_at_its_key(tmp_path: Path) -> None:
    [(code, line, message, hint)] = _errors(
        tmp_path, "    library: workload-developer\n    parameters:\n      name_prefix: shop-\n      role_pth: /x/\n")
    assert (code, line) == ("GR203", 6) and "role_pth" in message and hint == "did you mean `role_path`?"


def test_a_missing_parameter_is_located_at_parameters_or_library(tmp_path: Path) -> None:
    [(code, line, message, _)] = _errors(
        tmp_path, "    library: ci-deployer-terraform\n    parameters:\n      name_prefix: shop-\n")
    assert (code, line) == ("GR203", 4) and "state_bucket" in message
    [(code, line, message, _)] = _errors(tmp_path / "2", "    library: workload-developer\n")
    assert (code, line) == ("GR203", 3) and "name_prefix" in message


def test_a_malformed_parameter_value_is_refused(tmp_path: Path) -> None:
    [(code, line, message, _)] = _errors(
        tmp_path, "    library: workload-developer\n    parameters: {name_prefix: 'Shop_{{x}}'}\n")
    assert code == "GR203" and line == 4 and "name_prefix" in message
    [(code, _, message, _)] = _errors(tmp_path / "2", "    parameters: {name_prefix: shop-}\n    managed_policies: [SecurityAudit]\n")
    assert code == "GR203" and "no `library`" in message


def test_a_risky_extension_is_still_caught_at_its_own_line(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "    library: support\n    statements:\n      - {actions: [s3:GetObject], resources: ['*']}\n")
    assert [(c, line) for c, line, _, _ in errors] == [("GR315", 5)]


def test_an_extension_may_not_reuse_a_builtin_sid(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "    library: database-administrator\n    statements:\n      - sid: ConnectAsDbaUser\n"
                               "        actions: [rds:DescribeDBInstances]\n        resources: ['*']\n")
    assert [(c, line) for c, line, _, _ in errors] == [("GR302", 5)]


# ----------------------------------------------------------------------------- the registry


def _entry(builtin_id: str = "example", **extra: object) -> str:
    data = {"id": builtin_id, "title": "Example", "description": "An example.", "tasks": ["read the support cases"],
            "does_not_grant": ["anything else"], "source": "Tests.", "aws_counterpart": "AWSSupportAccess",
            "parameters": {"path": {"description": "A role path.", "default": "/x/"}},
            "statements": [{"actions": ["iam:PassRole"], "resources": ["arn:${partition}:iam::${account_id}:role{{path}}*"]}]}
    data.update(extra)
    return yaml.safe_dump(data)


def test_the_registry_refuses_duplicate_ids_and_misnamed_files() -> None:
    with pytest.raises(LibraryError, match="duplicate job-function id 'example'"):
        load_library_from([("example.yaml", _entry()), ("example.yaml", _entry())])
    with pytest.raises(LibraryError, match="must be named after its id"):
        load_library_from([("other.yaml", _entry())])
    assert set(load_library_from([("example.yaml", _entry()), ("second.yaml", _entry("second"))])) == {"example", "second"}


@pytest.mark.parametrize(("extra", "message"), [
    ({"colour": "blue"}, "unknown keys"),
    ({"tasks": []}, "`tasks` must be a non-empty list"),
    ({"parameters": {}}, "undeclared parameters"),
    ({"parameters": {"path": {"description": "A path.", "default": "/x/"}, "unused": {"description": "Never used."}}},
     "never uses"),
    ({"grants": [{"service": "s3", "access": ["everything"]}]}, "access"),
    ({"statements": [], "grants": []}, "grants nothing"),
])
def test_the_loader_refuses_malformed_entries(extra: dict, message: str) -> None:
    with pytest.raises(LibraryError, match=message):
        parse_builtin(_entry(**extra), "example.yaml")


def test_parameters_expand_everywhere_and_nothing_is_left_unexpanded() -> None:
    builtin = parse_builtin(_entry(), "example.yaml")
    assert expand_builtin(builtin, {}).statements[0].resources == ["arn:${partition}:iam::${account_id}:role/x/*"]
    assert expand_builtin(builtin, {"path": "/y/"}).statements[0].resources[0].endswith("role/y/*")
    with pytest.raises(ParameterError, match="no parameter 'pth'") as raised:
        expand_builtin(builtin, {"pth": "/y/"})
    assert raised.value.parameter == "pth" and raised.value.hint == "did you mean `path`?"
    with pytest.raises(ParameterError, match="may not contain"):
        expand_builtin(builtin, {"path": "/{{path}}/"})
    required = parse_builtin(_entry(parameters={"path": {"description": "A role path."}}), "example.yaml")
    with pytest.raises(ParameterError, match="needs parameter 'path'"):
        expand_builtin(required, {})


# ----------------------------------------------------------------------------- CLI and documentation


def test_the_library_command_lists_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library"]) == 0
    listing = capsys.readouterr().out
    for builtin_id in BUILTINS:
        assert builtin_id in listing
    assert "parameter name_prefix (required)" in listing and "job-function/DatabaseAdministrator" in listing
    assert main(["library", "--markdown"]) == 0
    assert capsys.readouterr().out == library_markdown()


def test_committed_job_function_docs_are_fresh() -> None:
    committed = (ROOT / "docs/job-functions.md").read_text(encoding="utf-8")
    assert committed == library_markdown(), "docs/job-functions.md is stale: run `make schema`"
