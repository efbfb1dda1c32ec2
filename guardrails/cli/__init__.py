"""Command line: the single error boundary and the dispatch to each command.

Exit codes: 0 ok · 1 blueprint errors · 2 validation findings · 3 internal or tool error · 4 risky diff
(``guardrails diff --fail-on-risk``).
"""

from __future__ import annotations

import argparse
import traceback

from rich.console import Console
from rich.markup import escape

from guardrails.cli.codes import EXIT_BLUEPRINT, EXIT_INTERNAL, EXIT_OK, EXIT_VALIDATION
from guardrails.cli.commands import _account, _audit, _diff, _explain, _run_tests, _with_sarif
from guardrails.cli.output import (
    _print_catalog,
    _print_diagnostics,
    _print_library,
    _print_markdown,
    _print_summary,
    _report_drift,
    _write_or_print,
)
from guardrails.cli.parser import REPORTS, _parser
from guardrails.diagnostics import BlueprintError, GuardrailsError, Severity, ValidationFailed

__all__ = ["EXIT_BLUEPRINT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_VALIDATION", "_parser", "_print_markdown", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``guardrails`` console script."""
    args = _parser().parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return _dispatch(args, out, err)
    except BlueprintError as exc:
        _print_diagnostics(err, exc.diagnostics)
        err.print(f"[bold red]ERROR[/] {exc}: nothing was written; fix the blueprint and run again.")
        return EXIT_BLUEPRINT
    except ValidationFailed as exc:
        _print_diagnostics(err, exc.diagnostics)
        kept = f" The rejected output is in {exc.rejected} for inspection." if exc.rejected else ""
        err.print(f"[bold red]ERROR[/] {exc}: the previous output was left unchanged.{kept}")
        return EXIT_VALIDATION
    except GuardrailsError as exc:
        if args.verbose:
            err.print(traceback.format_exc(), markup=False)
        err.print(f"[bold red]ERROR[/] {escape(str(exc))}", markup=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted; the previous output is intact")
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the one error boundary
        if args.verbose:
            err.print(traceback.format_exc(), markup=False)
        err.print(f"[bold red]INTERNAL ERROR[/] {type(exc).__name__}: {exc}" +
                  ("" if args.verbose else " (run with --verbose for the traceback)"), markup=True)
        return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace, out: Console, err: Console) -> int:
    from guardrails import pipeline

    if args.command == "build" and args.check:
        compiled, drift = _with_sarif(args, lambda: pipeline.check_output(args.blueprint, args.output),
                                      lambda checked: checked[0].warnings)
        _print_diagnostics(err, compiled.warnings)
        return _report_drift(out, err, drift, args)
    if args.command == "build":
        result = _with_sarif(args, lambda: pipeline.build(args.blueprint, args.output, validate=not args.no_validate,
                                                          external=not args.skip_external, checkov=args.checkov),
                             lambda built: built.diagnostics)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        return EXIT_OK
    if args.command == "validate":
        result = _with_sarif(args, lambda: pipeline.validate_output(args.blueprint, args.output,
                                                                    external=not args.skip_external,
                                                                    checkov=args.checkov),
                             lambda validated: validated.diagnostics)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        if result.changed or result.removed:
            err.print(f"[yellow]note[/] {len(result.changed) + len(result.removed)} file(s) in {args.output} differ "
                      "from the blueprint: run `guardrails build`")
        return EXIT_VALIDATION if any(d.severity is Severity.ERROR for d in result.diagnostics) else EXIT_OK
    if args.command == "check":
        compiled = pipeline.compile_blueprint(args.blueprint)
        _print_diagnostics(err, compiled.warnings)
        out.print(f"blueprint {compiled.plan.blueprint} is valid: {len(compiled.plan.accounts)} accounts, "
                  f"{len(compiled.plan.classes)} baseline classes, {len(compiled.plan.scps)} SCPs, "
                  f"{len(compiled.plan.rcps)} RCP(s); {len(compiled.plan.tests)} access tests and the lockout proof pass")
        return EXIT_OK
    if args.command == "schema":
        from guardrails.blueprint.jsonschema import schema_text

        _write_or_print(schema_text(), args.output)
        return EXIT_OK
    if args.command == "library":
        if args.markdown:
            from guardrails.model.library import library_markdown

            _write_or_print(library_markdown(), args.output)
        else:
            _print_library(out)
        return EXIT_OK
    if args.command == "catalog":
        if args.markdown:
            from guardrails.model.catalog import catalog_markdown

            _write_or_print(catalog_markdown(), args.output)
        else:
            _print_catalog(out)
        return EXIT_OK
    if args.command == "report":
        compiled = pipeline.compile_blueprint(args.blueprint)
        _print_diagnostics(err, compiled.warnings)
        _print_markdown(out, compiled.files[REPORTS[args.kind]])
        return EXIT_OK
    if args.command == "show":
        compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
        _print_diagnostics(err, compiled.warnings)
        report = compiled.files.get(f"reports/accounts/{args.name}.md")
        if report is None:
            import difflib

            names = [a.name for a in compiled.plan.accounts]
            close = difflib.get_close_matches(args.name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "accounts: " + ", ".join(sorted(names))
            err.print(f"[bold red]ERROR[/] unknown account {args.name!r}; ", end="")
            err.print(hint, markup=False)
            return EXIT_BLUEPRINT
        _print_markdown(out, report)
        return EXIT_OK
    if args.command == "account":
        return _account(args, out, err)
    if args.command == "rollout":
        if args.step == "start":
            lock = pipeline.rollout_start(args.blueprint, args.output)
            out.print(f"rollout started: {lock} records the released SCPs and RCPs; change the guardrails, run "
                      "`guardrails build`, apply, watch the canary OUs, then `guardrails rollout promote`",
                      markup=False)
        else:
            lock = pipeline.rollout_promote(args.blueprint)
            out.print(f"rollout promoted: {lock} removed; `guardrails build` now releases the new versions "
                      "everywhere", markup=False)
        return EXIT_OK
    if args.command == "test":
        return _run_tests(args, out, err)
    if args.command == "explain":
        return _explain(args, out)
    if args.command == "diff":
        return _diff(args, out)
    if args.command == "audit":
        return _audit(args, out, err)
    raise AssertionError(args.command)
