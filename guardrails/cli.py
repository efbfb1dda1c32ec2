"""Command line: argument parsing, the single error boundary, exit codes. No logic lives here.

Exit codes: 0 ok · 1 blueprint errors · 2 validation findings · 3 internal or tool error.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from guardrails import __version__
from guardrails.diagnostics import BlueprintError, Diagnostic, GuardrailsError, Severity, ValidationFailed

EXIT_OK, EXIT_BLUEPRINT, EXIT_VALIDATION, EXIT_INTERNAL = 0, 1, 2, 3
# `guardrails report KIND` → the generated file it prints.
REPORTS = {"least-privilege": "reports/least-privilege.md"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardrails", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"guardrails {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def blueprint_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                       help="blueprint directory (default: blueprints)")
        p.add_argument("-o", "--output", default=Path("output"), type=Path, help="output directory (default: output)")

    def validator_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--checkov", metavar="PATH",
                       help="checkov executable (else $GUARDRAILS_CHECKOV, .venv-checkov/bin/checkov, or PATH)")
        p.add_argument("--skip-external", action="store_true",
                       help="run only guardrails' own checks (no cfn-lint, no checkov)")

    build = sub.add_parser("build", help="compile the blueprint into the output directory and validate it")
    blueprint_args(build)
    validator_args(build)
    build.add_argument("--no-validate", action="store_true", help="write the output without validating it")

    validate = sub.add_parser("validate", help="validate the existing output against the blueprint")
    blueprint_args(validate)
    validator_args(validate)

    check = sub.add_parser("check", help="check the blueprint only (load, resolve, plan); writes nothing")
    check.add_argument("blueprint", nargs="?", default="blueprints", type=Path)

    schema = sub.add_parser("schema", help="print (or write) the blueprint JSON Schema")
    schema.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")

    sub.add_parser("catalog", help="list the built-in guardrails and their parameters")

    library = sub.add_parser("library", help="list the built-in job functions, their parameters and what they grant")
    library.add_argument("--markdown", action="store_true", help="print (or write) docs/job-functions.md instead")
    library.add_argument("-o", "--output", type=Path, help="with --markdown: write to this file")

    report = sub.add_parser("report", help="print a report about the blueprint (also written under output/reports/)")
    report.add_argument("kind", choices=sorted(REPORTS),
                        help="least-privilege: per job function, the actions granted, their scoping, declared "
                        "risks, and the comparison with the closest AWS managed job-function policy")
    report.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                        help="blueprint directory (default: blueprints)")
    return parser


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
        err.print(f"[bold red]ERROR[/] {exc}", markup=True)
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

    if args.command == "build":
        result = pipeline.build(args.blueprint, args.output, validate=not args.no_validate,
                                external=not args.skip_external, checkov=args.checkov)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        return EXIT_OK
    if args.command == "validate":
        result = pipeline.validate_output(args.blueprint, args.output, external=not args.skip_external,
                                          checkov=args.checkov)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        if result.changed or result.removed:
            err.print(f"[yellow]note[/] {len(result.changed) + len(result.removed)} file(s) in {args.output} differ "
                      "from the blueprint: run `guardrails build`")
        return EXIT_VALIDATION if any(d.severity is Severity.ERROR for d in result.diagnostics) else EXIT_OK
    if args.command == "check":
        compiled = pipeline.compile_blueprint(args.blueprint)
        out.print(f"blueprint {compiled.plan.blueprint} is valid: {len(compiled.plan.accounts)} accounts, "
                  f"{len(compiled.plan.classes)} baseline classes, {len(compiled.plan.scps)} SCPs")
        return EXIT_OK
    if args.command == "schema":
        from guardrails.blueprint.jsonschema import schema_text

        text = schema_text()
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return EXIT_OK
    if args.command == "library":
        if args.markdown:
            from guardrails.model.library import library_markdown

            text = library_markdown()
            if args.output:
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        else:
            _print_library(out)
        return EXIT_OK
    if args.command == "catalog":
        _print_catalog(out)
        return EXIT_OK
    if args.command == "report":
        compiled = pipeline.compile_blueprint(args.blueprint)
        _print_diagnostics(err, compiled.warnings)
        _print_markdown(out, compiled.files[REPORTS[args.kind]])
        return EXIT_OK
    raise AssertionError(args.command)


def _print_markdown(console: Console, text: str) -> None:
    """Rendered on a terminal; the Markdown itself (exactly the file under output/reports/) otherwise."""
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(text))
    else:
        sys.stdout.write(text)


def _print_diagnostics(console: Console, diagnostics: list[Diagnostic]) -> None:
    for diagnostic in sorted(diagnostics, key=Diagnostic.sort_key):
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        where = f"{diagnostic.location}: " if diagnostic.location else ""
        console.print(f"{where}[{style}]{diagnostic.severity.value}[/] [bold]{diagnostic.code}[/]: ", end="")
        console.print(diagnostic.message, markup=False)
        if diagnostic.hint:
            console.print(f"    hint: {diagnostic.hint}", markup=False)


def _print_summary(console: Console, result: object, output: Path) -> None:
    from guardrails.pipeline import BuildResult

    assert isinstance(result, BuildResult)
    plan = result.compiled.plan
    table = Table(title=f"guardrails: {plan.blueprint} → {output}", show_header=False, box=None)
    table.add_row("organization", f"{plan.org.name} ({plan.org.partition}, home {plan.org.home_region})")
    table.add_row("accounts / OUs", f"{len(plan.accounts)} / {len(plan.units)}")
    table.add_row("baseline classes", ", ".join(c.key for c in plan.classes))
    table.add_row("SCPs", ", ".join(f"{s.name} ({len(s.document.render(minified=True))} chars)" for s in plan.scps) or "none")
    table.add_row("files", f"{len(result.compiled.files)} generated in {result.compiled.seconds:.2f} s; "
                  f"{len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} removed")
    for index, note in enumerate(result.compiled.notes):
        table.add_row("accepted risks" if index == 0 else "", note)
    for line in result.validator_summary:
        name, _, summary = line.partition(": ")
        table.add_row(name, summary)
    console.print(table)


def _print_library(console: Console) -> None:
    from guardrails.model.library import load_library

    for builtin in load_library().values():
        console.print(f"[bold]{builtin.id}[/] — {builtin.title} (closest AWS policy: {builtin.aws_counterpart})")
        console.print(f"    {builtin.description}", markup=False)
        for param in builtin.parameters.values():
            default = f"default {param.default}" if param.default is not None else "required"
            console.print(f"    parameter {param.name} ({default}): {param.description}", markup=False)
        for task in builtin.tasks:
            console.print(f"    + {task}", markup=False)
        for item in builtin.does_not_grant:
            console.print(f"    - not: {item}", markup=False)
        console.print(f"    source: {builtin.source}", markup=False)


def _print_catalog(console: Console) -> None:
    from guardrails.model.catalog import load_catalog

    for guardrail in load_catalog().values():
        console.print(f"[bold]{guardrail.id}[/] ({guardrail.kind}) — {guardrail.title}")
        console.print(f"    {guardrail.rationale}", markup=False)
        for param in guardrail.parameters.values():
            default = ", ".join(param.default) if param.default else f"from the organization's {param.default_from}"
            console.print(f"    parameter {param.name}: {param.description} (default: {default})", markup=False)
        console.print(f"    source: {guardrail.source}", markup=False)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
