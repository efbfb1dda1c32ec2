"""``guardrails audit`` (the real command) on the emulated accounts of a deployment."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from guardrails import pipeline
from guardrails.cli import main

from .sequence import Organization


@contextmanager
def compiled_once(blueprint: Path, compiled: pipeline.Compiled) -> Iterator[None]:
    """The command compiles its blueprint; the deployment compiled it already: hand the command that result."""
    real = pipeline.compile_blueprint
    target = blueprint.resolve()

    @functools.wraps(real)
    def compile_blueprint(path: Path | str, *args: Any, **kwargs: Any) -> pipeline.Compiled:
        return compiled if Path(path).resolve() == target else real(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "compile_blueprint", compile_blueprint)
        yield


def audit(org: Organization, blueprint: Path, account: str | None, capsys: pytest.CaptureFixture[str]
          ) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of ``guardrails audit BLUEPRINT --account ACCOUNT`` with that account's keys, or
    (``account`` None) of ``guardrails audit BLUEPRINT --organization`` with the management account's."""
    deployment = org.deployment
    capsys.readouterr()
    who = ["--account", account] if account is not None else ["--organization"]
    keys = org.ids[account] if account is not None else deployment.management_id
    with deployment.emulator.environment(keys, deployment.home_region), compiled_once(blueprint, org.compiled):
        code = main(["audit", str(blueprint), *who, "--endpoint-url", deployment.emulator.url, "--format", "json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)
