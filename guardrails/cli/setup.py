"""``guardrails setup checkov``: the pinned checkov for a pip-installed guardrails (no repository, no make)."""

from __future__ import annotations

import argparse
import hashlib

from rich.console import Console

from guardrails.cli.codes import EXIT_OK
from guardrails.progress import step
from guardrails.validators.checkov_setup import (
    MARKER,
    checkov_version,
    default_directory,
    install_plan,
    installed_executable,
    setup_checkov,
)


def setup(args: argparse.Namespace, out: Console) -> int:
    plan = install_plan(args.dir, python=args.python)
    version = checkov_version()
    found = installed_executable(plan.directory)
    digest = hashlib.sha256(plan.lock.read_bytes()).hexdigest()
    if found is not None and not args.force and (plan.directory / MARKER).read_text(encoding="utf-8").strip() == digest:
        out.print(f"checkov {version} is already set up: {found} (--force reinstalls it)", markup=False)
        return EXIT_OK
    out.print(f"installing checkov {version} and its pinned dependencies ({plan.lock}) into {plan.directory}",
              markup=False)
    with step(f"pip install checkov=={version}"):
        executable = setup_checkov(plan)
    if plan.directory == default_directory():
        where = "guardrails validate and build find it there (no --checkov needed)"
    else:
        where = f"not the default place: pass --checkov {executable} or set GUARDRAILS_CHECKOV={executable}"
    out.print(f"checkov {version} is ready: {executable}; {where}", markup=False)
    return EXIT_OK
