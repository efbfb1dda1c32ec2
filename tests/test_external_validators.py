"""cfn-lint (GR601–GR603), checkov (GR701–GR703) and finding checkov.

Tests that run the real tools are marked slow. checkov tests skip only when no checkov can be found
(set GUARDRAILS_CHECKOV, or run `make build` to create .venv-checkov).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from guardrails.diagnostics import Location, ToolError
from guardrails.validators import validate
from guardrails.validators.cfn_lint import _runner, lint_templates
from guardrails.validators.checkov import find_checkov, run_checkov

GOOD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

# An unknown property (E), an unknown IAM action (W) and a hard-coded partition (I).
BAD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketNamez: logs
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: s3:GetObjectz
            Resource: !Sub arn:aws:s3:::logs-${AWS::AccountId}/*
"""

WEAK_PASSWORD_POLICY = """\
resource "aws_iam_account_password_policy" "weak" {
  minimum_password_length        = 8
  require_lowercase_characters   = true
  require_numbers                = true
  require_uppercase_characters   = true
  require_symbols                = true
  allow_users_to_change_password = true
  max_password_age               = 90
  password_reuse_prevention      = 24
}
"""


# ----------------------------------------------------------------------------- cfn-lint


@pytest.mark.slow
def test_cfn_lint_passes_a_good_template() -> None:
    assert lint_templates({"cloudformation/good.yaml": GOOD_TEMPLATE}) == []


@pytest.mark.slow
def test_cfn_lint_maps_errors_warnings_and_informational_findings_with_their_lines() -> None:
    findings = {d.message.split()[0]: d for d in lint_templates({"cloudformation/bad.yaml": BAD_TEMPLATE})}
    error, warning, info = findings["E3002"], findings["W3037"], findings["I3042"]
    assert (error.code, error.location) == ("GR601", Location("cloudformation/bad.yaml", 6, 7))
    assert "BucketNamez" in error.message
    assert (warning.code, warning.location) == ("GR602", Location("cloudformation/bad.yaml", 14, 13))
    assert (info.code, info.location) == ("GR603", Location("cloudformation/bad.yaml", 15, 13))
    assert "E3002" in error.hint  # names the rule and links its documentation


@pytest.mark.slow
def test_cfn_lint_reports_a_yaml_error_at_its_line() -> None:
    [finding] = lint_templates({"cloudformation/broken.yaml": "Resources:\n  Topic: [\n"})
    assert finding.code == "GR601" and finding.message.startswith("E0000")
    assert finding.location == Location("cloudformation/broken.yaml", 3, 1)


@pytest.mark.slow
def test_cfn_lint_loads_its_rules_once() -> None:
    lint_templates({"a.yaml": GOOD_TEMPLATE}, regions=["eu-west-1"])
    before = _runner.cache_info()
    lint_templates({"a.yaml": GOOD_TEMPLATE, "b.yaml": GOOD_TEMPLATE, "c.yaml": BAD_TEMPLATE}, regions=["eu-west-1"])
    after = _runner.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits


@pytest.mark.slow
def test_cfn_lint_ignores_regions_it_does_not_know() -> None:
    assert lint_templates({"a.yaml": GOOD_TEMPLATE}, regions=["xx-nowhere-9"]) == []


# ----------------------------------------------------------------------------- finding checkov


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_checkovs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """One fake checkov per source; PATH holds only the fake one."""
    fakes = {
        "explicit": _executable(tmp_path / "explicit" / "checkov"),
        "env": _executable(tmp_path / "env" / "checkov"),
        "venv": _executable(tmp_path / "project" / ".venv-checkov" / "bin" / "checkov"),
        "path": _executable(tmp_path / "on-path" / "checkov"),
    }
    monkeypatch.setenv("PATH", str(tmp_path / "on-path"))
    monkeypatch.delenv("GUARDRAILS_CHECKOV", raising=False)
    return fakes


def test_find_checkov_precedence_explicit_env_venv_path(fake_checkovs: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    roots = [fake_checkovs["venv"].parents[2]]
    monkeypatch.setenv("GUARDRAILS_CHECKOV", str(fake_checkovs["env"]))
    assert find_checkov(str(fake_checkovs["explicit"]), venv_roots=roots) == str(fake_checkovs["explicit"])
    assert find_checkov(None, venv_roots=roots) == str(fake_checkovs["env"])
    monkeypatch.delenv("GUARDRAILS_CHECKOV")
    assert find_checkov(None, venv_roots=roots) == str(fake_checkovs["venv"])
    assert find_checkov(None, venv_roots=[]) == str(fake_checkovs["path"])


def test_find_checkov_looks_for_the_venv_in_the_working_directory(fake_checkovs: dict[str, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fake_checkovs["venv"].parents[2])
    assert find_checkov(None) == str(Path.cwd() / ".venv-checkov" / "bin" / "checkov")


def test_find_checkov_missing_raises_with_install_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("GUARDRAILS_CHECKOV", raising=False)
    with pytest.raises(ToolError, match="make build"):
        find_checkov(None, venv_roots=[tmp_path])


@pytest.mark.usefixtures("fake_checkovs")
def test_a_given_checkov_that_does_not_exist_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ToolError, match="the checkov option"):
        find_checkov("/nonexistent/checkov")
    monkeypatch.setenv("GUARDRAILS_CHECKOV", "/nonexistent/checkov")
    with pytest.raises(ToolError, match="GUARDRAILS_CHECKOV"):
        find_checkov(None)


# ----------------------------------------------------------------------------- checkov failing closed (fakes)


def _fake_checkov(tmp_path: Path, body: str) -> str:
    """A Python script standing in for checkov; ``out`` is the --output-file-path folder."""
    script = (f"#!{sys.executable}\nimport sys, pathlib, time\n"
              "out = pathlib.Path(sys.argv[sys.argv.index('--output-file-path') + 1])\n" + body)
    return str(_executable(tmp_path / "fake" / "checkov", script))


@pytest.mark.parametrize(("body", "message"), [
    ("sys.exit(2)", "exited with code 2"),
    ("(out / 'results_json.json').write_text('not json')\nsys.exit(0)", "no readable results"),
    ("sys.exit(0)", "no readable results"),
    ("(out / 'results_json.json').write_text('[1, 2]')", "unexpected shape"),
    ("time.sleep(30)", "did not finish"),
])
def test_checkov_crash_timeout_or_garbage_raises(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        run_checkov(_fake_checkov(tmp_path, body), [tmp_path], timeout=2)


def test_checkov_on_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such directory"):
        run_checkov(_fake_checkov(tmp_path, "sys.exit(0)"), [tmp_path / "missing"])


def test_checkov_runs_offline_without_the_users_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_API_KEY", "secret")
    monkeypatch.setenv("CKV_SKIP_CHECK", "CKV_AWS_10")
    body = ("import json, os\n"
            "env = {k: os.environ.get(k) for k in ('BC_API_KEY', 'CKV_SKIP_CHECK', 'BC_SKIP_MAPPING', "
            "'CKV_SKIP_PACKAGE_UPDATE_CHECK', 'HOME')}\n"
            "assert '--skip-download' in sys.argv and sys.argv.count('-d') == 2, sys.argv\n"
            "assert env['BC_API_KEY'] is None and env['CKV_SKIP_CHECK'] is None, env\n"
            "assert env['BC_SKIP_MAPPING'] == 'TRUE' and env['CKV_SKIP_PACKAGE_UPDATE_CHECK'] == 'true', env\n"
            "assert env['HOME'] == str(out), env\n"
            "(out / 'results_json.json').write_text(json.dumps({'passed': 0, 'failed': 0, 'skipped': 0, "
            "'parsing_errors': 0, 'resource_count': 0, 'checkov_version': '9.9'}))\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = run_checkov(_fake_checkov(tmp_path, body), [tmp_path / "a", tmp_path / "b"])
    assert (result.diagnostics, result.passed, result.version) == ((), 0, "9.9")


# ----------------------------------------------------------------------------- checkov, real


@pytest.fixture
def checkov() -> str:
    try:
        return find_checkov(None)
    except ToolError:
        pytest.skip("checkov is not installed: set GUARDRAILS_CHECKOV or run `make build`")


def _terraform(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "terraform"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(text, encoding="utf-8")
    return directory


@pytest.mark.slow
def test_checkov_reports_a_weak_password_policy_at_its_line(tmp_path: Path, checkov: str) -> None:
    directory = _terraform(tmp_path, "\n\n" + WEAK_PASSWORD_POLICY)
    result = run_checkov(checkov, [directory], relative_to=tmp_path)
    [finding] = [d for d in result.diagnostics if "CKV_AWS_10 " in d.message]
    assert finding.code == "GR701"
    assert finding.location == Location("terraform/main.tf", 3, 1)
    assert "aws_iam_account_password_policy.weak" in finding.message
    assert result.failed >= 1 and result.passed >= 1
    assert result.version


@pytest.mark.slow
def test_checkov_skip_without_reason_and_unparseable_files(tmp_path: Path, checkov: str) -> None:
    skipped = WEAK_PASSWORD_POLICY.replace("{\n", "{\n  #checkov:skip=CKV_AWS_10\n", 1)
    good = _terraform(tmp_path / "one", skipped)
    broken = _terraform(tmp_path / "two", 'resource "aws_iam_user" {\n')
    result = run_checkov(checkov, [good, broken], relative_to=tmp_path)
    by_code = {d.code: d for d in result.diagnostics}
    assert "CKV_AWS_10 is skipped without a reason" in by_code["GR702"].message
    assert by_code["GR703"].location == Location("two/terraform/main.tf")
    assert result.skipped == 1 and result.parsing_errors == 1


@pytest.mark.slow
def test_validate_runs_all_three_validators_on_an_output_directory(tmp_path: Path, checkov: str) -> None:
    from guardrails.blueprint import load_blueprint
    from guardrails.model import build_model
    from guardrails.policies.synthesize import synthesize

    plan = synthesize(build_model(load_blueprint(Path("blueprints"))))
    _terraform(tmp_path, WEAK_PASSWORD_POLICY)
    (tmp_path / "cloudformation").mkdir()
    (tmp_path / "cloudformation" / "baseline-x.yaml").write_text(BAD_TEMPLATE, encoding="utf-8")
    report = validate(plan, tmp_path, checkov=checkov)
    assert [run.name.split()[0] for run in report.runs] == ["own", "cfn-lint", "checkov", "parliament",
                                                            "cloudsplaining"]
    assert [run.skipped for run in report.runs[3:]] == [f"no policies/ in {tmp_path}"] * 2
    found = {(d.code, str(d.location).split(":")[0]) for d in report.diagnostics}
    assert ("GR601", "cloudformation/baseline-x.yaml") in found
    assert ("GR701", "terraform/main.tf") in found
    assert report.runs[2].counts["failed"] >= 1
    assert all(line.count("finding(s)") == 1 for line in report.summary()[:3])


def test_validate_fails_fast_when_checkov_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAILS_CHECKOV", str(tmp_path / "nope"))
    with pytest.raises(ToolError):
        validate(None, tmp_path)  # type: ignore[arg-type]  # nothing else runs before checkov is found



def test_find_checkov_makes_a_relative_path_absolute(fake_checkovs: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """checkov runs from a scratch directory, so `--checkov .venv-checkov/bin/checkov` must still resolve."""
    explicit = fake_checkovs["explicit"]
    monkeypatch.chdir(explicit.parent)
    found = find_checkov(explicit.name)
    assert Path(found).is_absolute() and Path(found) == explicit
