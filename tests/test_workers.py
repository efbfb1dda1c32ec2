"""One or two worker processes (GUARDRAILS_WORKERS, guardrails/workers.py) compile to the same bytes: the output,
the diagnostics, the access-test results, the lockout coverage and the reports, across hash seeds; a worker that
crashes fails the run."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails.diagnostics import BlueprintError, ToolError
from guardrails.pipeline import Compiled, compile_blueprint, compile_policy_tree
from guardrails.workers import WorkerFailed, worker_count
from tests.bench import write_blueprint
from tests.conftest import EXAMPLE_TODAY, ROOT
from tests.test_control_owners import TODAY, blueprint as owners_blueprint


def _outcome(compiled: Compiled) -> dict[str, object]:
    coverage = compiled.lockout
    return {
        "files": compiled.files,
        "warnings": [d.render() for d in compiled.warnings],
        "notes": compiled.notes,
        "tests": [(r.test.name, r.account, r.action, r.outcome, r.passed, r.error,
                   r.decision.summary if r.decision else "") for r in compiled.test_results],
        "lockout": None if coverage is None else (coverage.actions, coverage.groups, coverage.combinations),
    }


def _with_workers(monkeypatch: pytest.MonkeyPatch, count: int, compile_: object, *args: object, **kwargs: object):
    monkeypatch.setenv("GUARDRAILS_WORKERS", str(count))
    assert worker_count() == count
    return compile_(*args, **kwargs)  # type: ignore[operator]


@pytest.mark.parametrize("compile_", [compile_blueprint, compile_policy_tree], ids=["build", "check"])
def test_example_same_with_one_and_two_workers(monkeypatch: pytest.MonkeyPatch, compile_: object) -> None:
    one = _with_workers(monkeypatch, 1, compile_, ROOT / "blueprints", today=EXAMPLE_TODAY)
    two = _with_workers(monkeypatch, 2, compile_, ROOT / "blueprints", today=EXAMPLE_TODAY)
    assert _outcome(one) == _outcome(two)
    assert any(p.startswith("reports/escalation") for p in two.files)


def test_synthetic_organization_same_with_one_and_two_workers(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    directory = write_blueprint(tmp_path / "bp-100", 100)
    one = _with_workers(monkeypatch, 1, compile_blueprint, directory, today=EXAMPLE_TODAY)
    two = _with_workers(monkeypatch, 2, compile_blueprint, directory, today=EXAMPLE_TODAY)
    assert _outcome(one) == _outcome(two)


def _errors(monkeypatch: pytest.MonkeyPatch, count: int, directory: Path) -> list[str]:
    with pytest.raises(BlueprintError) as raised:
        _with_workers(monkeypatch, count, compile_blueprint, directory, today=TODAY)
    return [d.render() for d in raised.value.diagnostics]


def test_escalation_errors_same_with_one_and_two_workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    directory = owners_blueprint(tmp_path)  # role/security/AlertsOperator may stop the trail: GR406, no owner
    one = _errors(monkeypatch, 1, directory)
    assert any("GR406" in line for line in one)
    assert _errors(monkeypatch, 2, directory) == one


def test_failing_access_tests_and_the_worker_report_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Failing access tests are reported with the escalation analysis's outcome in both modes (one run names every
    problem, issue 18); a worker that crashes meanwhile is not hidden behind them: the run fails with WorkerFailed."""
    import shutil

    from guardrails.workers import WorkerFailed

    directory = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", directory)
    tests = directory / "tests.yaml"
    text = tests.read_text(encoding="utf-8")
    flipped = text.replace("expect: deny", "expect: TMP").replace("expect: allow", "expect: deny").replace(
        "expect: TMP", "expect: allow")
    assert flipped != text
    tests.write_text(flipped, encoding="utf-8")
    one = _errors(monkeypatch, 1, directory)
    assert one and _errors(monkeypatch, 2, directory) == one
    import guardrails.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_escalate", lambda *a, **k: os._exit(3))
    with pytest.raises(WorkerFailed):
        _with_workers(monkeypatch, 2, compile_blueprint, directory, today=TODAY)


@pytest.mark.parametrize("crash", ["exception", "exit", "signal"])
def test_a_crashing_worker_fails_the_run(monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    import signal

    import guardrails.pipeline as pipeline

    def broken(*args: object, **kwargs: object) -> object:
        if crash == "exception":
            raise RuntimeError("the analysis broke")
        if crash == "exit":
            os._exit(0)  # no result sent: still a failure
        os.kill(os.getpid(), signal.SIGKILL)
        return None

    monkeypatch.setattr(pipeline, "_escalate", broken)
    with pytest.raises(WorkerFailed) as raised:
        _with_workers(monkeypatch, 2, compile_blueprint, ROOT / "tests/cases/minimal/blueprint")
    if crash == "exception":
        assert "the analysis broke" in str(raised.value)


def test_worker_count_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAILS_WORKERS", "3")
    with pytest.raises(ToolError, match="GUARDRAILS_WORKERS"):
        worker_count()
    monkeypatch.delenv("GUARDRAILS_WORKERS")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert worker_count() == (2 if cpus >= 2 else 1)


DIGEST = """
import hashlib, json, sys
from datetime import date
from pathlib import Path
from guardrails.pipeline import compile_blueprint
c = compile_blueprint(Path(sys.argv[1]), today=date(2026, 12, 1))
digest = hashlib.sha256()
for path, text in c.files.items():
    digest.update(path.encode() + b"\\0" + text.encode() + b"\\0")
digest.update(json.dumps([d.render() for d in c.warnings] + c.notes).encode())
digest.update(json.dumps([(r.test.name, r.account, r.action, r.outcome, r.passed) for r in c.test_results]).encode())
print(digest.hexdigest())
"""


def test_same_bytes_across_hash_seeds_and_workers() -> None:
    digests = set()
    for seed, workers in (("0", "1"), ("1", "2"), ("4242", "2")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "GUARDRAILS_WORKERS": workers}
        done = subprocess.run([sys.executable, "-c", DIGEST, str(ROOT / "blueprints")], capture_output=True,
                              text=True, check=True, env=env, cwd=ROOT)
        digests.add(done.stdout.strip())
    assert len(digests) == 1, digests


def test_access_matrix_parts_make_the_whole(tmp_path: Path) -> None:
    """The HTML report's access matrix split between the two workers (guardrails.pipeline) joins to the one-process
    matrix whatever the share: every group once, in the same order."""
    from guardrails.evaluation.access_matrix import access_matrix, merged, split

    organization = compile_policy_tree(write_blueprint(tmp_path / "bp-100", 100), today=EXAMPLE_TODAY).organization
    whole = access_matrix(organization)
    assert len(whole.groups) > 2
    for share in (0.0, 0.3, 0.6, 1.0):
        cut = split(organization, share)
        parts = [access_matrix(organization, share=slice(0, cut)), access_matrix(organization, share=slice(cut, None))]
        assert merged(parts) == whole
    assert split(organization, 0.0) == 0 and split(organization, 1.0) == len(whole.groups)


@pytest.mark.parametrize("where", ["worker", "parent"])
def test_a_failing_access_matrix_fails_the_run(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """The matrix's part in the worker failing is WorkerFailed; the parent's part raises its own exception."""
    import guardrails.evaluation.access_matrix as matrix

    parent, whole = os.getpid(), matrix.access_matrix

    def broken(*args: object, **kwargs: object) -> object:
        if (os.getpid() == parent) == (where == "parent"):
            raise RuntimeError("the matrix broke")
        return whole(*args, **kwargs)

    monkeypatch.setattr(matrix, "access_matrix", broken)
    with pytest.raises(WorkerFailed if where == "worker" else RuntimeError, match="the matrix broke"):
        _with_workers(monkeypatch, 2, compile_blueprint, ROOT / "tests/cases/minimal/blueprint")
