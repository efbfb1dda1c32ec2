"""Shared test fixtures: golden-file updating, the repository root, the checkov location, the compiled example,
the moto server."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from guardrails.pipeline import Compiled, compile_blueprint

# Property tests are reproducible in CI: derandomized, no deadlines (a slow CI machine is not a failure).
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite expected files (goldens) from the current compiler; review the diff before committing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Diagnostics and headers name files relative to the working directory: make that the repo root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def _no_home_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fake, empty home: nothing in the developer's ~ (e.g. ~/.policy_sentry) may change results."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.getbasetemp() / "home"))


def checkov_executable() -> str | None:
    """checkov for the tests: $GUARDRAILS_CHECKOV, the project's .venv-checkov, or None."""
    candidates = [os.environ.get("GUARDRAILS_CHECKOV"), str(ROOT / ".venv-checkov" / "bin" / "checkov")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


# The clock of the shared example: accepted risks are judged against this date, not the machine's.
EXAMPLE_TODAY = date(2026, 12, 1)


@pytest.fixture(scope="session")
def example_compiled() -> Compiled:
    """The default example (blueprints/) compiled once per test run, access tests and lockout proof included.

    Shared by every test that only reads the example's plan, files or policy tree; treat it as read-only (copy
    ``files`` before changing it). Tests about compiling itself (determinism, hash seeds) compile their own.
    """
    return compile_blueprint(ROOT / "blueprints", today=EXAMPLE_TODAY)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """The one moto server of the test run (tests/deploy/emulator.py): a test that needs its own state resets it
    first with ``tests.deploy.emulator.reset``. Here, so that every module shares it (a fixture imported into
    several modules would be set up once per module)."""
    pytest.importorskip("moto.server")
    from .deploy.emulator import moto_server

    with moto_server() as url:
        yield url


@cache
def bounded_developer_example() -> Path:
    """A copy of the example whose Developer permission set is bounded by the workload boundary (the example itself
    no longer bounds it, issue 13): where the tests exercise permission-set boundaries in the plan, both formats,
    the manifest and the evaluator. Read-only; removed when the test run ends."""
    scratch = tempfile.mkdtemp(prefix="guardrails-bounded-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    target = Path(scratch) / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    center = target / "identity-center.yaml"
    anchor = "      session_duration: PT4H\n      # No permissions boundary:"
    text = center.read_text(encoding="utf-8")
    assert anchor in text, "the example's Developer permission set changed: update bounded_developer_example"
    center.write_text(text.replace(anchor, "      session_duration: PT4H\n      boundary: workload-boundary          "
                                           "# exists wherever AppInstance is deployed\n      # No permissions boundary:",
                                   1), encoding="utf-8")
    return target
