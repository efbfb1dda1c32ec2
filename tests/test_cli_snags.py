"""Issue 18's first-day snags: SARIF tags, the usage exit code, -q/-v anywhere, NO_COLOR, --help, the rejected tree
after a successful build, AWS maxima of `limits:`, the checkov hint, and literal partitions in grant resources."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from guardrails import __version__
from guardrails.cli import EXIT_USAGE, main
from guardrails.cli.parser import DESCRIPTION, _parser
from guardrails.diagnostics import BlueprintError, Diagnostic, Location, Severity, ValidationFailed, code_catalog
from guardrails.pipeline import Compiled, build, compile_policy_tree
from guardrails.sarif import to_sarif
from guardrails.validators.checkov import summarize
from guardrails.validators.checkov_hints import accept_hint

from .conftest import ROOT
from .sarif_rules import check_sarif_structure

MINIMAL = ROOT / "tests" / "cases" / "minimal" / "blueprint"


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    shutil.copytree(MINIMAL, tmp_path / "bp")
    return tmp_path / "bp"


def _add_to_report_reader(blueprint: Path, lines: str) -> None:
    """Add YAML lines (indented for the job function's keys) to the minimal blueprint's report-reader."""
    path = blueprint / "identity.yaml"
    anchor = "    description: Read the reports bucket of the account, with MFA, over TLS.\n"
    text = path.read_text(encoding="utf-8")
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + lines), encoding="utf-8")


# ----------------------------------------------------------------------------- 1. SARIF 2.1.0


def test_every_rule_has_unique_tags_and_the_log_follows_sarif_2_1_0(tmp_path: Path) -> None:
    diagnostics = [Diagnostic("GR401", "test failed", Location("bp/tests.yaml", 3, 5)),
                   Diagnostic("GR403", "lockout", Location("bp/organization.yaml", 9, 1)),
                   Diagnostic("GR099", "a code the catalog lacks", None, severity=Severity.WARNING)]
    log = to_sarif(diagnostics, tool_version=__version__, root=tmp_path, anchor=tmp_path / "bp" / "organization.yaml")
    check_sarif_structure(log)
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(code_catalog()) | {"GR099"} == set(rules)
    for rule in rules.values():
        tags = rule["properties"]["tags"]
        assert len(tags) == len(set(tags)), rule["id"]
    assert [rules[code]["properties"]["tags"] for code in ("GR401", "GR402", "GR403")] == [["guardrails", "proofs"]] * 3
    assert rules["GR099"]["properties"]["tags"] == ["guardrails"]


def test_the_structure_check_rejects_a_repeated_tag_and_a_missing_message(tmp_path: Path) -> None:
    log = to_sarif([Diagnostic("GR401", "x", Location("a.yaml", 1, 1))], tool_version=__version__, root=tmp_path)
    repeated = copy.deepcopy(log)
    repeated["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["tags"] = ["guardrails", "guardrails"]
    with pytest.raises(jsonschema.ValidationError, match="non-unique"):
        check_sarif_structure(repeated)
    no_message = copy.deepcopy(log)
    del no_message["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError, match="'message' is a required property"):
        check_sarif_structure(no_message)


def test_the_sarif_of_a_failed_cli_run_follows_sarif_2_1_0(blueprint: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (blueprint / "organization.yaml").write_text((blueprint / "organization.yaml").read_text() + "typo: 1\n")
    report = tmp_path / "g.sarif"
    assert main(["build", str(blueprint), "-o", str(tmp_path / "out"), "--skip-external", "--sarif",
                 str(report)]) == 1
    log = json.loads(report.read_text(encoding="utf-8"))
    check_sarif_structure(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["GR201"]


# ----------------------------------------------------------------------------- 2. usage errors


@pytest.mark.parametrize("argv", [["nope"], ["check", "--bogus"], ["build", "-o"], ["account", "add", "x"], []])
def test_usage_errors_exit_with_their_own_code(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == EXIT_USAGE == 64
    assert "usage: guardrails" in capsys.readouterr().err


def test_a_usage_error_exits_64_from_the_console_script_and_help_exits_0() -> None:
    run = subprocess.run([sys.executable, "-m", "guardrails", "check", "--bogus"], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert run.returncode == 64 and "unrecognized arguments: --bogus" in run.stderr
    assert subprocess.run([sys.executable, "-m", "guardrails", "--help"], capture_output=True, cwd=ROOT,
                          check=False).returncode == 0


def test_the_usage_exit_code_is_documented_with_the_others() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "**3** internal or tool error" in readme and "**64** usage error" in readme
    assert "64 a usage error" in " ".join((ROOT / "docs" / "design.md").read_text(encoding="utf-8").split())


# ----------------------------------------------------------------------------- 3. -q, -v, NO_COLOR, --help


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command_silences_the_status(where: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-q", "check", str(MINIMAL)] if where == "before" else ["check", str(MINIMAL), "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out == ""
    assert main(["check", str(MINIMAL)]) == 0
    assert "is valid" in capsys.readouterr().out


def test_quiet_keeps_errors_and_what_was_asked_for(blueprint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (blueprint / "organization.yaml").write_text((blueprint / "organization.yaml").read_text() + "typo: 1\n")
    assert main(["check", str(blueprint), "-q"]) == 1
    assert "error GR201" in capsys.readouterr().err
    assert main(["explain", "user/bg-one", "iam:ListUsers", "--account", "security", "--blueprint", str(MINIMAL),
                 "-q"]) == 0
    assert "EXPLICIT-DENY user/bg-one" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["-v", "check", str(MINIMAL)], ["check", str(MINIMAL), "-v"],
                                  ["check", "-v", str(MINIMAL)]])
def test_verbose_anywhere_shows_the_traceback(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from guardrails import pipeline

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "compile_policy_tree", broken)
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_options_given_before_the_command_are_not_reset_by_it() -> None:
    parsed = _parser().parse_args(["-v", "-q", "test", str(MINIMAL), "--verbose-cases"])
    assert (parsed.verbose, parsed.quiet, parsed.verbose_cases) == (True, True, True)
    parsed = _parser().parse_args(["account", "add", "x", "--ou", "Core", "--email", "e@x.example", "-q"])
    assert (parsed.verbose, parsed.quiet) == (False, True)


def test_no_color_drops_bold_and_dim_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["explain", "user/bg-one", "iam:ListUsers", "--account", "security", "--blueprint", str(MINIMAL)]
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(argv) == 0
    styled = capsys.readouterr().out
    assert "\x1b[1" in styled and "\x1b[2m" in styled  # bold and dim when styling is on
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(argv) == 0
    plain = capsys.readouterr().out
    assert "\x1b[" not in plain and plain.startswith("EXPLICIT-DENY user/bg-one")


def test_help_starts_with_a_description_not_a_module_docstring() -> None:
    text = _parser().format_help()
    usage, _, rest = text.partition("\n\n")
    assert usage.startswith("usage: guardrails")
    assert " ".join(rest.split("\n\n")[0].split()) == DESCRIPTION
    assert "No logic" not in text and "error boundary" not in text
    for command in ("build", "check", "diff", "audit"):
        with pytest.raises(SystemExit):
            _parser().parse_args([command, "--help"])
    sub = next(a for a in _parser()._actions if a.dest == "command")  # noqa: SLF001
    for name, command in sub.choices.items():
        assert command.description and command.description[0].isupper(), name


# ----------------------------------------------------------------------------- 4. the rejected tree


def test_a_successful_build_removes_the_tree_an_earlier_build_rejected(blueprint: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    (blueprint / "limits.yaml").write_text("limits: {trust_policy_chars: 50}\n")  # stricter than AWS: fails GR50x
    with pytest.raises(ValidationFailed) as raised:
        build(blueprint, output, external=False)
    rejected = Path(str(raised.value.rejected))
    assert rejected == tmp_path / ".out.rejected" and rejected.is_dir()
    (blueprint / "limits.yaml").unlink()
    build(blueprint, output, external=False)
    assert output.is_dir() and not rejected.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bp", "out"]


# ----------------------------------------------------------------------------- 5. AWS maxima of `limits:`


def test_a_limit_above_the_aws_maximum_is_a_located_error(blueprint: Path) -> None:
    (blueprint / "limits.yaml").write_text("limits:\n  managed_policy_chars: 60000\n  managed_policies_per_role: 21\n")
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, run_tests=False)
    found = {d.message.split()[0]: d for d in raised.value.diagnostics}
    chars, attached = found["limits.managed_policy_chars"], found["limits.managed_policies_per_role"]
    assert chars.code == attached.code == "GR304"
    assert chars.location.file.endswith("bp/limits.yaml") and (chars.location.line, chars.location.column) == (2, 25)
    assert "60,000, above the AWS maximum of 6,144" in chars.message
    assert "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html" in chars.message
    assert "above the AWS maximum of 20 (its default 10 raised on request)" in attached.message
    assert attached.location.line == 3


def test_stricter_limits_and_raised_adjustable_quotas_stay_allowed(blueprint: Path) -> None:
    (blueprint / "limits.yaml").write_text("limits: {managed_policy_chars: 6144, trust_policy_chars: 4096, "
                                           "managed_policies_per_role: 20, scps_per_target: 4}\n")
    compiled = compile_policy_tree(blueprint, run_tests=False)
    assert compiled.plan.limits["trust_policy_chars"].value == 4096
    (blueprint / "limits.yaml").write_text("limits: {trust_policy_chars: 4097}\n")
    with pytest.raises(BlueprintError, match="1 blueprint error"):
        compile_policy_tree(blueprint, run_tests=False)


# ----------------------------------------------------------------------------- 6. the checkov hint


def _failed_report(resource: str, check: str = "CKV_AWS_356") -> list[dict]:
    result = {"check_id": check, "check_name": "a check", "resource": resource,
              "file_path": "/terraform/modules/baseline-security/iam_policies.tf", "file_line_range": [5, 9]}
    return [{"check_type": "terraform", "results": {"failed_checks": [result]},
             "summary": {"passed": 0, "failed": 1, "skipped": 0, "parsing_errors": 0, "checkov_version": "9.9"}}]


@pytest.mark.parametrize(("resource", "entry"), [
    ("module.baseline.aws_iam_policy_document.job_billing", "of job_functions.billing:"),
    ("AWS::IAM::ManagedPolicy.PolicyJobDeveloper2", "of job_functions.developer:"),
    ("module.baseline.aws_iam_role.role_ci_deployer_dev", "IAM role GuardrailsCIDeployer (its trust is at "),
    ("AWS::IAM::Role.RoleSupport", "of the `roles:` entry of IAM role AWSSupport"),
    ("aws_iam_policy_document.ps_securityauditor_inline",
     "job_functions.audit-role-access and job_functions.security-auditor (permission set SecurityAuditor"),
])
def test_the_checkov_hint_names_accepted_findings_of_the_blueprint_entry(example_compiled: Compiled, resource: str,
                                                                         entry: str) -> None:
    [finding] = summarize(_failed_report(resource), accept_hint=accept_hint(example_compiled.plan)).diagnostics
    assert finding.code == "GR701" and "suppressions.yaml" not in finding.hint
    assert "`accepted_findings`" in finding.hint and entry in finding.hint
    assert "{check: CKV_AWS_356, reason:" in finding.hint


def test_the_names_the_hint_knows_are_the_generated_ones(example_compiled: Compiled) -> None:
    files = example_compiled.files
    assert any('data "aws_iam_policy_document" "job_billing"' in t for p, t in files.items() if p.endswith(".tf"))
    assert any('resource "aws_iam_role" "role_ci_deployer_dev"' in t for t in files.values())
    assert any("\n  PolicyJobDeveloper2:\n    Type: AWS::IAM::ManagedPolicy" in t for t in files.values())
    assert any("\n  RoleSupport:\n    Type: AWS::IAM::Role" in t for t in files.values())


@pytest.mark.parametrize("resource", ["module.baseline.aws_iam_role.break_glass",
                                      "module.baseline.aws_iam_role_policy_attachment.break_glass__aws_admin",
                                      "AWS::IAM::User.UserBreakGlassAlice", "aws_iam_policy_document.guardrails_root"])
def test_a_resource_no_entry_reaches_says_so(example_compiled: Compiled, resource: str) -> None:
    hint = accept_hint(example_compiled.plan)("CKV_AWS_274", resource)
    assert f"no blueprint entry's `accepted_findings` reaches {resource}" in hint
    assert "suppressions.yaml" not in hint


def test_without_a_plan_the_hint_still_names_accepted_findings() -> None:
    [finding] = summarize(_failed_report("aws_iam_role.x")).diagnostics
    assert "`accepted_findings`" in finding.hint and "suppressions.yaml" not in finding.hint


@pytest.mark.slow
def test_following_the_checkov_hint_makes_the_build_pass(blueprint: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from guardrails.diagnostics import ToolError
    from guardrails.validators.checkov import find_checkov

    try:
        checkov = find_checkov(None)
    except ToolError:
        pytest.skip("checkov is not installed: set GUARDRAILS_CHECKOV or run `make build`")
    _add_to_report_reader(blueprint, '    statements:\n'
                                     '      - {effect: Allow, actions: ["logs:GetLogEvents"], resources: ["*"]}\n')
    output = tmp_path / "out"
    with pytest.raises(ValidationFailed) as raised:
        build(blueprint, output, checkov=checkov)
    [finding, *_] = [d for d in raised.value.diagnostics if d.code == "GR701"]
    assert "CKV_AWS_356" in finding.message
    assert "`accepted_findings` of job_functions.report-reader" in finding.hint
    _add_to_report_reader(blueprint, "    accepted_findings:\n      - {check: CKV_AWS_356, reason: \"Reads every "
                                     "log group's events by design, in this test.\"}\n")
    build(blueprint, output, checkov=checkov)
    assert not (tmp_path / ".out.rejected").exists()


# ----------------------------------------------------------------------------- 7. literal partitions in grants


def test_a_literal_partition_in_a_grant_resource_is_gr306(blueprint: Path) -> None:
    path = blueprint / "identity.yaml"
    path.write_text(path.read_text().replace('"arn:${partition}:s3:::reports-${account_id}/*"',
                                             '"arn:aws:s3:::reports-${account_id}/*"', 1))
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, run_tests=False)
    [finding] = raised.value.diagnostics
    assert finding.code == "GR306" and "partition written literally in a grant's resource ARN" in finding.message
    assert finding.location.file.endswith("bp/identity.yaml")
    assert (finding.location.line, finding.location.column) == (9, 68)  # the second resource of the first grant
    assert "arn:${partition}:" in finding.hint


def test_a_literal_partition_in_a_statement_is_still_gr306(blueprint: Path) -> None:
    _add_to_report_reader(blueprint, '    statements:\n'
                                     '      - {effect: Allow, actions: ["s3:GetObject"], resources: '
                                     '["arn:aws-cn:s3:::x/*"]}\n')
    with pytest.raises(BlueprintError) as raised:
        compile_policy_tree(blueprint, run_tests=False)
    assert [(d.code, d.message) for d in raised.value.diagnostics] == [
        ("GR306", "partition written literally in an ARN")]


# ----------------------------------------------------------------------------- headers


def test_build_check_from_another_folder_finds_the_output_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """File headers name the blueprint directory, not the path as typed, so the committed output is fresh whatever
    the working directory (before: every file's header differed, and `build --check` reported them stale)."""
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["build", "--check", str(ROOT / "blueprints"), "-o", str(ROOT / "output")]) == 0, \
        capsys.readouterr().out
    assert "up to date" in capsys.readouterr().out
