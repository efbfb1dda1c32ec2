"""checkov over the generated Terraform and CloudFormation (codes GR701–GR703).

checkov pins libraries that clash with ours (``bc-python-hcl2`` overwrites ``python-hcl2``'s
``hcl2`` package), so it lives in its own virtual environment (made by ``guardrails setup checkov``,
or ``.venv-checkov`` by ``make build`` in the repository, both from ``guardrails/data/checkov.lock``)
and runs as a CLI: once for all directories, JSON written to a temporary folder.
It runs offline, with the user's checkov settings (``CKV_*``/``BC_*`` variables, ``~/.checkov.yaml``)
kept out so the result is the same on every machine. Anything but a clean report, a crash, a
timeout, unreadable output, a file checkov could not parse, raises or reports: never a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrails.diagnostics import Diagnostic, Location, ToolError

ENV_VARIABLE = "GUARDRAILS_CHECKOV"
VENV_EXECUTABLE = Path(".venv-checkov") / "bin" / "checkov"
REPO_ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("terraform", "cloudformation")
DEFAULT_TIMEOUT = 900.0  # seconds; checkov spends ~0.75 s per "*"-action CloudFormation document
INSTALL_HINT = ("run `guardrails setup checkov` (it installs the pinned checkov into a virtual environment of its "
                "own; in the guardrails repository `make build` creates .venv-checkov), set GUARDRAILS_CHECKOV to "
                "a checkov executable, or pass --checkov PATH")
# (check id, resource) → the hint of its GR701: where the blueprint can accept it.
AcceptHint = Callable[[str, str], str]
# What checkov writes for a skip comment without a reason (`#checkov:skip=CKV_AWS_1`).
NO_REASON = {"", "No comment provided"}
# Environment prefixes that configure checkov or its vendor platform: a developer's settings must not
# change which checks run, and an API key would send results online.
USER_SETTINGS = ("CKV_", "BC_", "PRISMA_", "CHECKOV_")
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",  # no download of the check-id mapping from the platform
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no PyPI version check when checkov starts
}


@dataclass(frozen=True)
class CheckovResult:
    """Findings plus the counts the build summary shows."""

    diagnostics: tuple[Diagnostic, ...]
    passed: int
    failed: int
    skipped: int
    parsing_errors: int
    version: str


def find_checkov(explicit: str | None, *, venv_roots: Sequence[Path] | None = None) -> str:
    """Locate the checkov executable.

    Precedence: ``explicit`` (``--checkov``), $GUARDRAILS_CHECKOV, the environment ``guardrails setup checkov``
    made in its default place (:mod:`guardrails.validators.checkov_setup`), ``.venv-checkov`` in the working
    directory or the repository (``make build``), ``checkov`` on PATH. Raises :class:`ToolError` when none exists,
    or when the explicit or environment value does not exist.
    """
    if explicit:
        return _existing(explicit, "the checkov option")
    from_env = os.environ.get(ENV_VARIABLE)
    if from_env:
        return _existing(from_env, f"${ENV_VARIABLE}")
    from guardrails.validators.checkov_setup import installed_executable

    set_up = installed_executable()
    if set_up is not None:
        return str(set_up)
    roots = venv_roots if venv_roots is not None else (Path.cwd(), REPO_ROOT)
    for root in roots:
        candidate = root / VENV_EXECUTABLE
        if _is_executable(candidate):
            return str(candidate)
    on_path = shutil.which("checkov")
    if on_path:
        return os.path.abspath(on_path)
    raise ToolError(f"checkov not found (no --checkov, no ${ENV_VARIABLE}, no `guardrails setup checkov` "
                    f"environment, no .venv-checkov, none on PATH): {INSTALL_HINT}")


def _existing(value: str, source: str) -> str:
    """A given executable must exist: falling back silently would run a different checkov than asked for."""
    found = value if _is_executable(Path(value)) else shutil.which(value)
    if not found:
        raise ToolError(f"checkov from {source} not found or not executable: {value}; {INSTALL_HINT}")
    # checkov runs from a scratch working directory, so a relative path must be made absolute here.
    return os.path.abspath(found)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def run_checkov(executable: str, directories: list[Path], *, relative_to: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT, accept_hint: AcceptHint | None = None) -> CheckovResult:
    """Run checkov once over all directories; each failed check becomes GR701 at file:line, with the hint
    ``accept_hint(check, resource)`` gives (:mod:`guardrails.validators.checkov_hints`) or a general one."""
    missing = [str(d) for d in directories if not d.is_dir()]
    if missing:
        # checkov skips a missing directory with exit code 0: that would pass unchecked output.
        raise ToolError(f"checkov: no such directory: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="guardrails-checkov-") as scratch:
        workdir = Path(scratch)
        stderr = _run(executable, directories, workdir, timeout)
        reports = _read_reports(workdir / "results_json.json", stderr)
    return summarize(reports, relative_to, accept_hint)


def _run(executable: str, directories: list[Path], workdir: Path, timeout: float) -> str:
    """Run checkov; returns its stderr. Raises ToolError on a crash, a timeout or a missing executable."""
    command = [executable, *(arg for d in directories for arg in ("-d", str(d.resolve()))),
               "--framework", *FRAMEWORKS, "--skip-download", "--compact", "-o", "json",
               "--output-file-path", str(workdir)]
    # Not --quiet: it drops skipped checks from the JSON, and their reasons are audited (GR702).
    try:
        # A session of its own, so a timeout can stop checkov's worker processes too.
        process = subprocess.Popen(command, cwd=workdir, env=_checkov_env(workdir), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
    except OSError as exc:
        raise ToolError(f"cannot run checkov ({executable}): {exc}; {INSTALL_HINT}") from exc
    with process:
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ToolError(f"checkov did not finish within {timeout:.0f} s: {' '.join(command)}") from exc
    # Exit 0: no failed check, 1: failed checks; anything else (2 is a crash) is a broken run.
    if process.returncode not in (0, 1):
        raise ToolError(f"checkov exited with code {process.returncode}: {_tail(stderr)}")
    return stderr


def _checkov_env(home: Path) -> dict[str, str]:
    """The caller's environment minus checkov settings, offline, with a fresh home (no ~/.checkov.yaml)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(USER_SETTINGS)}
    return {**env, **OFFLINE_ENV, "HOME": str(home)}


def _read_reports(results: Path, stderr: str) -> list[dict[str, Any]]:
    """Read checkov's JSON: a list of per-framework reports, one report, or a bare summary when nothing was found."""
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ToolError(f"checkov wrote no readable results ({exc}); stderr: {_tail(stderr)}") from exc
    reports = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in reports):
        raise ToolError(f"checkov results have an unexpected shape: {str(data)[:200]}")
    if len(reports) == 1 and "check_type" not in reports[0] and "passed" in reports[0]:
        return [{"check_type": "none", "results": {}, "summary": reports[0]}]  # no scannable file at all
    if not all("summary" in r and "results" in r for r in reports):
        raise ToolError(f"checkov results have an unexpected shape: {str(data)[:200]}")
    return reports


def summarize(reports: list[dict[str, Any]], relative_to: Path | None = None,
              accept_hint: AcceptHint | None = None) -> CheckovResult:
    """Diagnostics and counts from checkov's per-framework reports."""
    diagnostics: list[Diagnostic] = []
    totals = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
    version = ""
    for report in reports:
        summary = report["summary"]
        for key in totals:
            totals[key] += int(summary.get(key, 0))
        version = str(summary.get("checkov_version", version))
        results = report["results"]
        diagnostics += [_failed(r, relative_to, accept_hint) for r in results.get("failed_checks", [])]
        diagnostics += list(_skips_without_reason(results.get("skipped_checks", []), relative_to))
        diagnostics += [Diagnostic.of("GR703", f"checkov could not parse {_display(str(p), relative_to)}, so "
                                      "none of its checks ran", Location(_display(str(p), relative_to)),
                                      "run `terraform fmt`/cfn-lint on it; the emitter wrote invalid syntax")
                        for p in results.get("parsing_errors", [])]
    return CheckovResult(tuple(diagnostics), totals["passed"], totals["failed"], totals["skipped"],
                         totals["parsing_errors"], version)


def _failed(result: dict[str, Any], relative_to: Path | None, accept_hint: AcceptHint | None) -> Diagnostic:
    check_id, resource = str(result.get("check_id", "?")), str(result.get("resource", "?"))
    hint = accept_hint(check_id, resource) if accept_hint else (
        f"fix the blueprint, or, if the resource comes from a job function, role or user, accept {check_id} with a "
        "reason in that entry's `accepted_findings`; https://www.checkov.io/5.Policy%20Index/all.html")
    return Diagnostic.of("GR701", f"{check_id} {result.get('check_name', '')} (resource {resource})",
                         _location(result, relative_to), hint)


def _skips_without_reason(skipped: list[dict[str, Any]], relative_to: Path | None) -> Iterator[Diagnostic]:
    for result in skipped:
        reason = str(result.get("check_result", {}).get("suppress_comment", "")).strip()
        if reason in NO_REASON:
            yield Diagnostic.of("GR702", f"{result.get('check_id', '?')} is skipped without a reason on "
                                f"{result.get('resource', '?')}", _location(result, relative_to),
                                "every suppression needs a reason: add it in guardrails/data/suppressions.yaml")


def _location(result: dict[str, Any], relative_to: Path | None) -> Location:
    path = str(result.get("file_abs_path") or result.get("file_path") or "?")
    lines = result.get("file_line_range") or [0]
    return Location(_display(path, relative_to), int(lines[0]), 1 if lines[0] else 0)


def _display(path: str, relative_to: Path | None) -> str:
    """A path relative to the output directory when it lies inside it, as the other validators report."""
    if relative_to is not None:
        try:
            return Path(path).resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return path


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
