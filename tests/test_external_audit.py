"""parliament and cloudsplaining on the emitted policy documents (GR801–GR805, guardrails/validators/iam_audit.py).

Tests that start the real tools are marked slow; the fail-closed tests use a fake worker and are fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from guardrails.diagnostics import Diagnostic, Location, Severity, ToolError
from guardrails.pipeline import Compiled
from guardrails.validators import iam_audit
from guardrails.validators.external_findings import (
    DATA_FILE,
    ExternalFindingsError,
    KnownFalsePositive,
    known_false_positives,
)
from guardrails.validators.iam_audit import audit, audited_documents, readable, run_worker


ESCALATION = {"Version": "2012-10-17", "Statement": [
    {"Sid": "PassAnyRoleToEc2", "Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}
EVERYTHING_IN_S3 = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllOfS3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def _managed_path(compiled: Compiled) -> str:
    """The output path of one managed policy of the example: planted documents take its place."""
    return next(d.path for d in audited_documents(compiled.plan) if d.kind == "managed")


def _planted(compiled: Compiled, document: object) -> tuple[str, dict[str, str]]:
    """Only the planted document is in the output (the others report GR804): fast, and the findings are its own."""
    path = _managed_path(compiled)
    return path, {path: json.dumps(document, indent=2)}


def _on(diagnostics: tuple[Diagnostic, ...], path: str, code: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.code == code and d.location is not None and d.location.file == path]


# ----------------------------------------------------------------------------- the example, real tools


@pytest.mark.slow
def test_the_example_output_has_no_unexplained_high_finding(example_compiled: Compiled) -> None:
    result = audit(example_compiled.plan, example_compiled.files)
    found = [*result.parliament.diagnostics, *result.cloudsplaining.diagnostics]
    assert not [d for d in found if d.severity is Severity.WARNING], "\n".join(d.render() for d in found)
    assert not [d for d in found if d.code in {"GR804", "GR901"}], "\n".join(d.render() for d in found)
    unexplained = [d for d in found if d.severity is Severity.ERROR]
    assert not unexplained, "\n".join(d.render() for d in unexplained)
    assert result.parliament.counts["documents"] > 40 and result.cloudsplaining.counts["documents"] > 30
    assert result.cloudsplaining.counts["known false positives"] >= 1  # the listed ones still occur
    assert result.parliament.name.startswith("parliament 1.6.4")
    assert result.cloudsplaining.name.startswith("cloudsplaining 0.9.1")


@pytest.mark.slow
def test_every_listed_false_positive_still_applies_to_the_example(example_compiled: Compiled) -> None:
    """An entry whose documents pattern matches nothing is never reported stale: it must not rot unnoticed."""
    paths = [d.path for d in audited_documents(example_compiled.plan)]
    for entry in known_false_positives():
        assert any(entry.applies_to(entry.tool, p) for p in paths), f"{DATA_FILE}:{entry.line} matches no document"
        assert len(entry.reason) > 80 and "https://docs.aws.amazon.com/" in entry.reason


# ----------------------------------------------------------------------------- planted findings, real tools


@pytest.mark.slow
def test_a_planted_privilege_escalation_is_an_error_from_both_tools(example_compiled: Compiled) -> None:
    path, texts = _planted(example_compiled, ESCALATION)
    result = audit(example_compiled.plan, texts, known=())
    [parliament] = _on(result.parliament.diagnostics, path, "GR801")
    [cloudsplaining] = [d for d in _on(result.cloudsplaining.diagnostics, path, "GR802")
                        if d.message.startswith("cloudsplaining PrivilegeEscalation ")]
    assert "PRIVILEGE_ESCALATION" in parliament.message and "CreateEC2WithExistingIP" in parliament.message
    assert "CreateEC2WithExistingIP" in cloudsplaining.message
    assert parliament.severity is Severity.ERROR and cloudsplaining.severity is Severity.ERROR
    assert parliament.location == Location(path, 8, 9)  # the first action the finding names, as written
    assert {d.code for d in result.parliament.diagnostics} == {"GR801", "GR804"}  # the rest was left out


@pytest.mark.slow
def test_a_planted_s3_wildcard_is_reported_and_a_listed_false_positive_suppresses_it(
        example_compiled: Compiled) -> None:
    path, texts = _planted(example_compiled, EVERYTHING_IN_S3)
    reported = audit(example_compiled.plan, texts, known=())
    risks = {d.message.split()[1] for d in _on(reported.cloudsplaining.diagnostics, path, "GR802")}
    assert {"DataExfiltration", "ResourceExposure"} <= risks
    entries = [KnownFalsePositive("cloudsplaining", category, "s3:*", "policies/accounts/*/managed/*.json",
                                  "planted for the test", 3) for category in ("DataExfiltration", "ResourceExposure")]
    suppressed = audit(example_compiled.plan, texts, known=entries)
    risks = {d.message.split()[1] for d in _on(suppressed.cloudsplaining.diagnostics, path, "GR802")}
    assert not risks & {"DataExfiltration", "ResourceExposure"}
    assert suppressed.cloudsplaining.counts["known false positives"] >= 2
    assert not [d for d in suppressed.cloudsplaining.diagnostics if d.code == "GR803"]


@pytest.mark.slow
def test_a_stale_entry_warns_and_one_for_other_documents_does_not(example_compiled: Compiled) -> None:
    path, texts = _planted(example_compiled, ESCALATION)
    stale = KnownFalsePositive("cloudsplaining", "CredentialsExposure", "ecr:GetAuthorizationToken",
                               "policies/accounts/*/managed/*.json", "no longer true", 17)
    elsewhere = KnownFalsePositive("parliament", "PRIVILEGE_ESCALATION", "*", "policies/scp/*.json", "not audited", 23)
    result = audit(example_compiled.plan, texts, known=[stale, elsewhere])
    [warning] = [d for d in result.cloudsplaining.diagnostics if d.code == "GR803"]
    assert warning.severity is Severity.WARNING and warning.location == Location(DATA_FILE, 17)
    assert not [d for d in result.parliament.diagnostics if d.code == "GR803"]


@pytest.mark.slow
def test_a_document_a_tool_crashes_on_fails_the_run(example_compiled: Compiled) -> None:
    path = _managed_path(example_compiled)
    result = audit(example_compiled.plan, {path: "[1, 2]"}, known=())
    for run in (result.parliament, result.cloudsplaining):
        [crash] = _on(run.diagnostics, path, "GR901")
        assert crash.severity is Severity.ERROR and "crashed" in crash.message


@pytest.mark.slow
def test_the_tools_ignore_a_policy_sentry_database_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """policy_sentry prefers ~/.policy_sentry/iam-definition.json; the audit runs with a scratch HOME."""
    (tmp_path / ".policy_sentry").mkdir()
    (tmp_path / ".policy_sentry" / "iam-definition.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    answer = run_worker([{"path": "p.json", "text": json.dumps(EVERYTHING_IN_S3), "parliament": "full",
                          "cloudsplaining": True}])
    assert answer["versions"]["policy_sentry"] == "0.15.2"
    assert answer["results"][0]["cloudsplaining"]["findings"]["DataExfiltration"] == ["s3:GetObject"]


# ----------------------------------------------------------------------------- failing closed (fake worker)


def _fake_worker(tmp_path: Path, body: str) -> list[str]:
    """A script standing in for the worker: argv[1] is the request, argv[2] the result to write."""
    script = tmp_path / "worker.py"
    script.write_text("import json, sys, time\nrequest, result = sys.argv[1], sys.argv[2]\n" + body, encoding="utf-8")
    return [sys.executable, str(script)]


DOCUMENT = [{"path": "policies/x.json", "text": "{}", "parliament": "full", "cloudsplaining": True}]


@pytest.mark.parametrize(("body", "message"), [
    ("sys.exit(3)", "exited with code 3"),
    ("raise RuntimeError('boom')", "RuntimeError: boom"),
    ("open(result, 'w').write('not json')", "no readable result"),
    ("pass", "no readable result"),
    ("json.dump({'versions': {}, 'seconds': {}, 'results': []}, open(result, 'w'))", "unexpected shape"),
    ("json.dump({'versions': {}, 'seconds': {}, 'results': [{'path': 'policies/x.json', 'parliament': {}}]}, "
     "open(result, 'w'))", "unexpected shape"),  # cloudsplaining's part is missing
    ("time.sleep(30)", "did not finish"),
])
def test_a_crashing_hanging_or_silent_worker_raises(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        run_worker(DOCUMENT, command=_fake_worker(tmp_path, body), timeout=3)


def test_a_missing_interpreter_raises(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="cannot run"):
        run_worker(DOCUMENT, command=[str(tmp_path / "no-python")])


def test_missing_tools_fail_fast_with_install_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam_audit.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolError, match="make install"):
        iam_audit.check_installed()


def test_the_worker_gets_a_scratch_home_and_no_access_overrides(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOM_ACCESS_OVERRIDES_FILE", "mine.yml")
    body = ("import os\nassert 'CUSTOM_ACCESS_OVERRIDES_FILE' not in os.environ\n"
            "assert os.environ['HOME'] == os.path.dirname(request), os.environ['HOME']\n"
            "paths = [d['path'] for d in json.load(open(request))['documents']]\n"
            "done = [{'path': p, 'parliament': {}, 'cloudsplaining': {}} for p in paths]\n"
            "json.dump({'versions': {}, 'seconds': {}, 'results': done}, open(result, 'w'))\n")
    [result] = run_worker(DOCUMENT, command=_fake_worker(tmp_path, body))["results"]
    assert result["path"] == "policies/x.json"


# ----------------------------------------------------------------------------- the false-positive list


def test_the_shipped_list_loads_and_every_entry_has_a_reason() -> None:
    entries = known_false_positives()
    assert entries and all(e.line > 0 and e.reason for e in entries)


@pytest.mark.parametrize(("text", "message"), [
    ("- {tool: parliament, finding: X, subject: '*', documents: 'policies/*'}", "exactly the keys"),
    ("- {tool: checkov, finding: X, subject: '*', documents: 'policies/*', reason: r}", "tool is one of"),
    ("- {tool: cloudsplaining, finding: ServiceWildcard, subject: '*', documents: 'policies/*', reason: r}",
     "counted as high"),
    ("- {tool: parliament, finding: X, subject: '*', documents: 'output/*', reason: r}", "starting with policies/"),
    ("- {tool: parliament, finding: X, subject: '', documents: 'policies/*', reason: r}", "non-empty string"),
    ("tool: parliament", "a list of entries"),
])
def test_a_malformed_entry_is_rejected_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ExternalFindingsError, match=message):
        known_false_positives(text)


def test_an_entry_matches_tool_finding_subject_and_path() -> None:
    from guardrails.validators.external_findings import RawFinding

    entry = KnownFalsePositive("cloudsplaining", "CredentialsExposure", "ecr:GetAuthorization*",
                               "policies/accounts/*/managed/guardrails-*.json", "r")
    hit = RawFinding("cloudsplaining", "CredentialsExposure", "ECR:GetAuthorizationToken",
                     "policies/accounts/workloads-dev/managed/guardrails-developer-1.json")
    assert entry.matches(hit)
    assert not entry.matches(RawFinding(**{**hit.__dict__, "tool": "parliament"}))
    assert not entry.matches(RawFinding(**{**hit.__dict__, "finding": "DataExfiltration"}))
    assert not entry.matches(RawFinding(**{**hit.__dict__, "subject": "iam:CreateAccessKey"}))
    assert not entry.matches(RawFinding(**{**hit.__dict__, "path": hit.path.replace("managed", "boundary")}))


def test_parliament_reads_placeholders_and_account_variables_as_account_ids() -> None:
    from guardrails.policies.sizes import longest_region

    text = ('"arn:aws:sns:${region}:${account_id}:t",\n"arn:aws:macie2:*:${aws:PrincipalAccount}:*",\n'
            '"arn:aws-cn:iam::aws:policy/ReadOnlyAccess", "${aws:username}"')
    assert readable(text).splitlines() == [
        f'"arn:aws:sns:{longest_region()}:123456789012:t",', '"arn:aws:macie2:*:123456789012:*",',
        '"arn:aws-cn:iam::123456789012:policy/ReadOnlyAccess", "${aws:username}"']
