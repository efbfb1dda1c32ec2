"""``guardrails audit --organization``: the command around guardrails.audit.organization (options, progress bar,
report, exit code)."""

from __future__ import annotations

import argparse

from rich.console import Console

from guardrails.cli.codes import EXIT_INTERNAL, EXIT_OK, EXIT_VALIDATION
from guardrails.cli.output import _print_diagnostics, _write_report
from guardrails.diagnostics import ToolError


def audit_organization(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Exit 0 when every account matches, 2 on drift or CIS failures, 3 when an account could not be audited (the
    report is written first, with the error under that account)."""
    from datetime import UTC, datetime

    from guardrails import pipeline
    from guardrails.audit import org_report
    from guardrails.audit.organization import audit_organization as run
    from guardrails.audit.organization import default_role
    from guardrails.cli.commands import _check_endpoint, _function_roles

    if args.account or args.account_id:
        raise ToolError("--organization audits every account: leave out --account and --account-id")
    if args.jobs < 1:
        raise ToolError(f"--jobs {args.jobs}: give at least 1")
    if args.endpoint_url is not None:
        _check_endpoint(args.endpoint_url)
    compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
    _print_diagnostics(err, compiled.warnings)
    role = args.role or default_role(compiled)
    if not args.role and role != "SecurityAuditor" and args.format != "json":
        err.print(f"note: assuming the deployment role {role} (it can change the accounts; the audit only reads): "
                  "give a read-only role with --role", markup=False)
    as_of = args.as_of or datetime.now(UTC).date()
    show = err.is_terminal and args.format != "json" and not args.quiet

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                        TimeElapsedColumn(), console=err, transient=True, disable=not show)
    with progress:
        task = progress.add_task("", total=None)
        result = run(compiled, role=role, profile=args.profile, endpoint_url=args.endpoint_url, jobs=args.jobs,
                     as_of=as_of, unused_days=args.unused_days,
                     function_roles=lambda account: _function_roles(compiled, account),
                     started=lambda total: progress.update(task, total=total),
                     done=lambda name: progress.update(task, advance=1, description=name))
    if args.format == "text" and not args.write:
        org_report.to_terminal(result, out)
    else:
        text = (org_report.to_json if args.format == "json" else org_report.to_markdown)(result)
        _write_report(out, text, args.write, result.summary, quiet=args.quiet)
    if result.incomplete:
        return EXIT_INTERNAL
    return EXIT_VALIDATION if result.failed else EXIT_OK
