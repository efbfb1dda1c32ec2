"""CI integration: ``build --check``, SARIF for code scanning, the pre-commit hooks and the example workflow."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails import __version__
from guardrails.cli import _parser, main
from guardrails.diagnostics import Diagnostic, Location, Severity, code_catalog
from guardrails.emitters.write import read_tree
from guardrails.pipeline import check_output, output_drift
from guardrails.sarif import SRCROOT, to_sarif
from guardrails.validators import ValidationReport, ValidatorRun

from .conftest import ROOT
from .sarif_rules import check_sarif_structure

MINIMAL = ROOT / "tests" / "cases" / "minimal" / "blueprint"
WORKFLOW = ROOT / "docs" / "ci" / "guardrails.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
# Commands other changes add; their tests run as soon as the command is registered.
PENDING = {"test", "diff"}


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of the minimal blueprint built into ``out`` beside it, run from tmp_path (headers name ``bp``)."""
    shutil.copytree(MINIMAL, tmp_path / "bp")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "bp", "-o", "out", "--skip-external"]) == 0
    capsys.readouterr()
    return tmp_path


# ----------------------------------------------------------------------------- build --check


def test_check_passes_when_output_is_up_to_date(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--check", "bp", "-o", "out"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_names_stale_files_and_writes_nothing(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    organization = built / "bp" / "organization.yaml"
    organization.write_text(organization.read_text().replace("guardrails: [deny-leave-organization]",
                                                             "guardrails: [deny-leave-organization, deny-root-user]"))
    (built / "out" / "policies" / "stray.json").write_text("{}\n")
    before = read_tree(built / "out")
    entries = sorted(p.name for p in built.iterdir())

    assert main(["build", "--check", "bp", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert "out/terraform/organization/scps.tf" in err and "changed" in err
    assert "removed out/policies/stray.json" in " ".join(err.split())
    assert "+++ b/terraform/organization/scps.tf" in err or "+++ b/" in err  # a diff excerpt
    assert "run `guardrails build bp -o out`" in err and "commit out/" in err
    assert read_tree(built / "out") == before  # nothing written…
    assert sorted(p.name for p in built.iterdir()) == entries  # …and no staging or rejected tree beside it


def test_check_reports_missing_output_as_added(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--check", str(MINIMAL), "-o", str(tmp_path / "none")]) == 2
    assert "would be added" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_check_needs_no_validator(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A checkov that does not exist would be a tool error (3) for any command that runs validators.
    assert main(["build", "--check", "bp", "-o", "out", "--checkov", str(built / "no-checkov")]) == 0


def test_check_on_blueprint_errors_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["build", "--check", "tests/errors/unknown-key/blueprint", "-o", str(tmp_path / "out")]) == 1
    assert "GR201" in capsys.readouterr().err


def test_output_drift_is_pure_and_sorted() -> None:
    drift = output_drift({"b": "new", "a": "same", "c": "x"}, {"a": "same", "b": "old", "z": "gone"})
    assert (drift.added, drift.changed, drift.removed, drift.stale) == (["c"], ["b"], ["z"], True)
    assert drift.excerpt("b")[:2] == ["--- a/b", "+++ b/b"] and "-old" in drift.excerpt("b")
    assert len(drift.excerpt("b", max_lines=2)) == 2
    assert not output_drift({"a": "1"}, {"a": "1"}).stale


def test_check_output_function(built: Path) -> None:
    compiled, drift = check_output(Path("bp"), Path("out"))
    assert not drift.stale and set(drift.expected) == set(compiled.files)


# ----------------------------------------------------------------------------- SARIF


def sarif_checks(log: dict[str, Any]) -> dict[str, Any]:
    """The SARIF 2.1.0 structure GitHub code scanning needs, asserted by hand (the schema is not available offline);
    returns the one run."""
    check_sarif_structure(log)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "guardrails" and driver["version"] == __version__
    assert re.fullmatch(r"https://\S+", driver["informationUri"])
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted(set(ids)) and set(code_catalog()) <= set(ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    for result in run["results"]:
        assert result["ruleId"] in ids and ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"} and result["message"]["text"]
        for location in result.get("locations", []):
            artifact = location["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == SRCROOT and not artifact["uri"].startswith(("/", "file:"))
            region = location["physicalLocation"].get("region", {})
            assert all(isinstance(v, int) and v >= 1 for v in region.values())
    return run


def test_sarif_levels_locations_and_rules(tmp_path: Path) -> None:
    (tmp_path / "out" / "cloudformation").mkdir(parents=True)
    (tmp_path / "out" / "cloudformation" / "stack.yaml").write_text("x: 1\n")
    (tmp_path / "bp").mkdir()
    (tmp_path / "bp" / "organization.yaml").write_text("organization: {}\n")
    diagnostics = [
        Diagnostic.of("GR201", "unknown key", Location(str(tmp_path / "bp" / "organization.yaml"), 7, 3), "did you?"),
        Diagnostic.of("GR320", "questionable", Location(str(tmp_path / "bp" / "organization.yaml"), 2)),
        Diagnostic.of("GR601", "E3012 bad type", Location("cloudformation/stack.yaml", 4, 9)),  # output-relative
        Diagnostic.of("GR901", "check crashed"),
        Diagnostic("GR999", "from a newer validator", Location("bp with space.yaml", 1, 1), severity=Severity.WARNING),
    ]
    log = to_sarif(diagnostics, tool_version=__version__, root=tmp_path, output=tmp_path / "out")
    run = sarif_checks(log)
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["GR201"]["level"] == "error" and by_rule["GR320"]["level"] == "warning"
    assert by_rule["GR201"]["message"]["text"] == "unknown key\nhint: did you?"
    assert by_rule["GR201"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "bp/organization.yaml", "uriBaseId": SRCROOT},
        "region": {"startLine": 7, "startColumn": 3}}
    assert by_rule["GR320"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 2}  # no column known
    assert by_rule["GR601"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "out/cloudformation/stack.yaml"
    assert "locations" not in by_rule["GR901"]  # no file: no location
    assert by_rule["GR999"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "out/bp%20with%20space.yaml"  # a URI: escaped
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["GR601"]["shortDescription"]["text"] == code_catalog()["GR601"].title
    assert "GR999" in rules and "not in guardrails/data/diagnostics.yaml" in rules["GR999"]["help"]["text"]
    assert rules["GR320"]["defaultConfiguration"]["level"] == "warning"
    # Deterministic: the same log for the same findings in another order.
    again = to_sarif(list(reversed(diagnostics)), tool_version=__version__, root=tmp_path, output=tmp_path / "out")
    assert json.dumps(again) == json.dumps(log)
    # Code scanning rejects a whole report with one unlocated result: the command line anchors those at the blueprint,
    # as it does findings about the blueprint directory itself.
    directory = Diagnostic.of("GR505", "too many SCPs", Location(str(tmp_path / "bp")))
    anchored = to_sarif([diagnostics[3], directory], tool_version=__version__, root=tmp_path,
                        anchor=tmp_path / "bp" / "organization.yaml")
    for result in anchored["runs"][0]["results"]:
        assert result["locations"][0]["physicalLocation"] == {
            "artifactLocation": {"uri": "bp/organization.yaml", "uriBaseId": SRCROOT}}
    outside = to_sarif([diagnostics[0]], tool_version=__version__, root=tmp_path / "out")
    assert outside["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": (tmp_path / "bp" / "organization.yaml").as_uri()}  # outside the repository: absolute, no base


def test_sarif_of_blueprint_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "guardrails.sarif"
    report.write_text("an earlier run's report")
    code = main(["build", "tests/errors/unknown-key/blueprint", "-o", str(tmp_path / "out"), "--skip-external",
                 "--sarif", str(report)])
    assert code == 1 and "GR201" in capsys.readouterr().err  # the boundary still reports after the write
    run = sarif_checks(json.loads(report.read_text()))
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("GR201", "error")]
    assert run["results"][0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "tests/errors/unknown-key/blueprint/organization.yaml", "uriBaseId": SRCROOT},
        "region": {"startLine": 7, "startColumn": 3}}


def test_sarif_of_a_validate_finding_in_generated_output(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An unreadable template: cfn-lint's decoder finding (E0000) becomes GR601 at the generated file's line.
    (built / "out" / "cloudformation" / "broken.yaml").write_text("Resources:\n  A: [\n")
    assert main(["validate", "bp", "-o", "out", "--skip-external", "--sarif", "reports/g.sarif"]) == 2
    capsys.readouterr()
    run = sarif_checks(json.loads((built / "reports" / "g.sarif").read_text()))
    findings = [r for r in run["results"] if r["ruleId"] == "GR601"]
    assert findings and all(r["level"] == "error" and r["message"]["text"].startswith("E0000") for r in findings)
    location = findings[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "out/cloudformation/broken.yaml", "uriBaseId": SRCROOT}
    assert location["region"]["startLine"] >= 1


def test_sarif_is_written_before_a_failed_build_is_reported(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A checkov finding fails the build (ValidationFailed): the report is written all the same."""
    import guardrails.validators

    finding = Diagnostic.of("GR701", "CKV_AWS_111 Ensure IAM policies do not allow write access without constraints "
                            "(resource aws_iam_policy.x)",
                            Location("terraform/modules/baseline-security/iam_policies.tf", 12, 1))
    monkeypatch.setattr(guardrails.validators, "validate",
                        lambda *_a, **_k: ValidationReport((ValidatorRun("checkov 3.3.30", (finding,)),)))
    assert main(["build", "bp", "-o", "out", "--sarif", "g.sarif"]) == 2
    assert "CKV_AWS_111" in capsys.readouterr().err
    run = sarif_checks(json.loads((built / "g.sarif").read_text()))
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("GR701", "error")]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "out/terraform/modules/baseline-security/iam_policies.tf"


def test_sarif_of_a_passing_run_has_no_results(built: Path) -> None:
    assert main(["validate", "bp", "-o", "out", "--skip-external", "--sarif", "g.sarif"]) == 0
    assert sarif_checks(json.loads((built / "g.sarif").read_text()))["results"] == []


def test_no_sarif_on_a_tool_error(built: Path) -> None:
    (built / "g.sarif").write_text("an earlier run's report")
    assert main(["validate", "bp", "-o", "out", "--checkov", str(built / "none"), "--sarif", "g.sarif"]) == 3
    assert not (built / "g.sarif").exists()  # an empty report would close every open code-scanning alert


# ----------------------------------------------------------------------------- pre-commit hooks and the workflow


def registered_commands() -> set[str]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def parses(command: str) -> None:
    """``guardrails …`` parses with the real parser (registered commands) or names a command still being added."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    operators = [i for i, token in enumerate(tokens) if token in {"||", "&&", ";", "|", ">", ">>"}]
    argv = tokens[: operators[0]] if operators else tokens  # the command, without `|| status=$?`
    assert argv[0] == "guardrails", command
    if argv[1] not in registered_commands():
        assert argv[1] in PENDING, f"unknown guardrails command in {command!r}"
        pytest.skip(f"`guardrails {argv[1]}` is not registered yet")
    _parser().parse_args(argv[1:])


def hooks() -> dict[str, dict[str, Any]]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}


def test_pre_commit_hooks() -> None:
    found = hooks()
    assert set(found) == {"guardrails-check", "guardrails-test"}
    for hook in found.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False and hook["name"]
        re.compile(hook["files"])
    assert found["guardrails-check"]["entry"] == "guardrails build --check"
    assert found["guardrails-test"]["entry"] == "guardrails test"
    assert re.search(found["guardrails-check"]["files"], "blueprints/organization.yaml")
    assert not re.search(found["guardrails-check"]["files"], "README.md")


@pytest.mark.parametrize("hook", ["guardrails-check", "guardrails-test"])
def test_pre_commit_hook_commands_exist(hook: str) -> None:
    parses(hooks()[hook]["entry"])


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return job["steps"]


def commands() -> list[str]:
    """Every ``guardrails …`` command line of the workflow's run steps."""
    lines = (line.strip() for step in steps() for line in step.get("run", "").splitlines())
    return [line for line in lines if line.startswith("guardrails ")]


def test_workflow_triggers_permissions_and_setup() -> None:
    flow = workflow()
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads the bare key `on` as true
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert flow["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}
    uses = {step["uses"].split("@")[0]: step for step in steps() if "uses" in step}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0
    assert str(uses["actions/setup-python"]["with"]["python-version"]) == "3.11"
    for step in steps():
        if "uses" in step:
            assert re.fullmatch(r"[\w./-]+@v\d+", step["uses"]), step["uses"]  # pinned by major version
    install = "\n".join(step.get("run", "") for step in steps())
    assert "guardrails\" setup checkov --dir" in install and "GUARDRAILS_CHECKOV" in install  # the shipped lock


def test_workflow_runs_the_required_commands() -> None:
    lines = commands()
    assert any(line.startswith("guardrails build --check") for line in lines)
    assert any(line.startswith("guardrails validate --sarif guardrails.sarif") for line in lines)
    assert any(line.startswith("guardrails test") for line in lines)
    (diff,) = [line for line in lines if line.startswith("guardrails diff")]
    for part in ("--base", "origin/", "--format markdown", "-o guardrails-diff.md", "--fail-on-risk"):
        assert part in diff
    upload = next(step for step in steps() if step.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert "always()" in upload["if"] and upload["with"]["sarif_file"] == "guardrails.sarif"
    comment = next(step for step in steps() if "guardrails-diff.md" in step.get("with", {}).get("script", ""))
    assert comment["uses"].startswith("actions/github-script@")
    assert "<!-- guardrails-diff -->" in comment["with"]["script"] and "updateComment" in comment["with"]["script"]
    assert "pull_request" in comment["if"]


@pytest.mark.parametrize("command", ["build", "validate", "test", "diff"])
def test_workflow_commands_parse(command: str) -> None:
    (line,) = [line for line in commands() if line.split()[1] == command]
    parses(line)
