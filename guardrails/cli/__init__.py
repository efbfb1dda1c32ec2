"""Command line: the single error boundary and the dispatch to each command.

Exit codes: 0 ok · 1 blueprint errors · 2 validation findings · 3 internal or tool error · 4 risky diff
(``guardrails diff --fail-on-risk``) · 64 usage error (argparse).
"""

from __future__ import annotations

import argparse
import gc
import sys
import traceback

from rich.console import Console

from guardrails.cli.codes import EXIT_BLUEPRINT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, EXIT_VALIDATION
from guardrails.cli.commands import _account, _audit, _diff, _explain, _init, _run_tests, _with_sarif
from guardrails.cli.output import (
    _line,
    _print_catalog,
    _print_diagnostics,
    _print_library,
    _print_markdown,
    _print_summary,
    _report_drift,
    _write_or_print,
    make_console,
)
from guardrails.cli.parser import REPORTS, _parser
from guardrails.cli.progress import reporting
from guardrails.diagnostics import BlueprintError, GuardrailsError, Severity, ValidationFailed

__all__ = ["EXIT_BLUEPRINT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "EXIT_VALIDATION", "_parser",
           "_print_markdown", "main"]
# Commands whose standard output only says how the run went: `-q` silences it (errors and warnings still print).
STATUS_COMMANDS = frozenset({"build", "validate", "check", "rollout", "account", "test", "init", "setup"})


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``guardrails`` console script."""
    args = _parser().parse_args(argv)
    out, err = make_console(quiet=args.quiet and args.command in STATUS_COMMANDS), make_console(stderr=True)
    try:
        with reporting(err, quiet=args.quiet):  # long steps on stderr (guardrails.cli.progress)
            return _dispatch(args, out, err)
    except BlueprintError as exc:
        _print_diagnostics(err, exc.diagnostics)
        advice = ("the blueprint was not changed; check the command's arguments against the blueprint"
                  if args.command == "account" else "nothing was written; fix the blueprint and run again.")
        err.print(_line(("ERROR", "bold red"), f" {exc}: {advice}"))
        return EXIT_BLUEPRINT
    except ValidationFailed as exc:
        _print_diagnostics(err, exc.diagnostics)
        kept = f" The rejected output is in {exc.rejected} for inspection." if exc.rejected else ""
        err.print(_line(("ERROR", "bold red"), f" {exc}: the previous output was left unchanged.{kept}"))
        return EXIT_VALIDATION
    except GuardrailsError as exc:
        if args.verbose:
            err.print(traceback.format_exc(), markup=False)
        err.print(_line(("ERROR", "bold red"), f" {exc}"))
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted; the previous output is intact", markup=False)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the one error boundary
        if args.verbose:
            err.print(traceback.format_exc(), markup=False)
        err.print(_line(("INTERNAL ERROR", "bold red"), f" {type(exc).__name__}: {exc}" +
                        ("" if args.verbose else " (run with --verbose for the traceback)")))
        return EXIT_INTERNAL


def console() -> None:
    """The console script and ``python -m guardrails``: :func:`main`, then exit. The objects of the run are frozen
    first, so the interpreter's last collections skip them (about 0.25 s of a ``check``, which a pre-commit hook
    pays on every commit: https://docs.python.org/3/library/gc.html#gc.freeze). Not in :func:`main`, which tests
    call many times in one process."""
    code = main()
    gc.freeze()
    sys.exit(code)


def _counted(count: int, noun: str) -> str:
    """``1 account``, ``2 accounts``, ``3 baseline classes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{'es' if noun.endswith('ss') else 's'}"


def _dispatch(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.command in ("schema", "library", "catalog"):
        return _reference(args, out)
    if args.command == "init":
        return _init(args, out)
    if args.command == "setup":
        from guardrails.cli.setup import setup

        return setup(args, out)
    from guardrails import pipeline  # here: the commands that only print package data never compile

    if args.command == "build" and args.check:
        compiled, drift = _with_sarif(args, lambda: pipeline.check_output(args.blueprint, args.output),
                                      lambda checked: checked[0].warnings)
        _print_diagnostics(err, compiled.warnings)
        return _report_drift(out, err, drift, args)
    if args.command == "build":
        result = _with_sarif(args, lambda: pipeline.build(args.blueprint, args.output, validate=not args.no_validate,
                                                          external=not args.skip_external, checkov=args.checkov),
                             lambda built: built.diagnostics, lambda built: built.compiled.accepted)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        return EXIT_OK
    if args.command == "validate":
        result = _with_sarif(args, lambda: pipeline.validate_output(args.blueprint, args.output,
                                                                    external=not args.skip_external,
                                                                    checkov=args.checkov),
                             lambda validated: validated.diagnostics, lambda validated: validated.compiled.accepted)
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        from guardrails.emitters.write import override_files

        overrides = override_files(args.output)
        if overrides:  # kept by every build like Terraform's other files, but they change what `apply` does
            err.print(_line(("note", "yellow"), f" Terraform merges {len(overrides)} override file(s) in "
                            f"{args.output} into the generated configuration; validate does not check them: "
                            + ", ".join(overrides)))
        drift = len(result.added) + len(result.changed) + len(result.removed)
        if drift:
            err.print(_line(("ERROR", "bold red"), f" {drift} file(s) in {args.output} are not what the blueprint "
                            f"compiles to ({len(result.added)} missing, {len(result.changed)} changed, "
                            f"{len(result.removed)} not generated; GR508 above): review them, then run "
                            "`guardrails build`"))
        return EXIT_VALIDATION if any(d.severity is Severity.ERROR for d in result.diagnostics) else EXIT_OK
    if args.command == "check":
        # The policy tree and the own checks on the plan: build minus the external validators and the writing.
        compiled = pipeline.compile_policy_tree(args.blueprint, own_checks=True)
        _print_diagnostics(err, compiled.warnings)
        plan = compiled.plan
        counts = ", ".join(_counted(len(things), what) for things, what in (
            (plan.accounts, "account"), (plan.classes, "baseline class"), (plan.scps, "SCP"), (plan.rcps, "RCP")))
        out.print(f"blueprint {plan.blueprint} is valid: {counts}; {_counted(len(plan.tests), 'access test')} and "
                  "the lockout proof pass", markup=False)
        for line in compiled.accepted_lines:  # listed, never hidden (accepted_warnings, docs/validation.md)
            out.print(f"accepted {line}", markup=False)
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
            err.print(_line(("ERROR", "bold red"), f" unknown account {args.name!r}; {hint}"))
            return EXIT_BLUEPRINT
        _print_markdown(out, report)
        return EXIT_OK
    if args.command == "account":
        return _account(args, out, err)
    if args.command == "rollout":
        from guardrails import workflows

        if args.step == "start":
            lock = workflows.rollout_start(args.blueprint, args.output)
            out.print(f"rollout started: {lock} records the released SCPs and RCPs; change the guardrails, run "
                      "`guardrails build`, apply, watch the canary OUs, then `guardrails rollout promote`",
                      markup=False)
        else:
            lock = workflows.rollout_promote(args.blueprint)
            out.print(f"rollout promoted: {lock} removed; `guardrails build` now releases the new versions "
                      "everywhere", markup=False)
        return EXIT_OK
    if args.command == "test":
        return _run_tests(args, out, err)
    if args.command == "explain":
        return _explain(args, out)
    if args.command == "diff":
        return _diff(args, out)
    if args.command == "import":
        from guardrails.cli.import_command import import_organization

        return import_organization(args, out, err)
    if args.command == "audit":
        return _audit(args, out, err)
    raise AssertionError(args.command)


def _reference(args: argparse.Namespace, out: Console) -> int:
    """``schema``, ``library`` and ``catalog``: the blueprint schema and the built-ins, from the package alone."""
    if args.command == "schema":
        from guardrails.blueprint.jsonschema import schema_text

        _write_or_print(schema_text(), args.output)
    elif args.markdown:
        if args.command == "library":
            from guardrails.model.library import library_markdown

            _write_or_print(library_markdown(), args.output)
        else:
            from guardrails.model.catalog import catalog_markdown

            _write_or_print(catalog_markdown(), args.output)
    elif args.command == "library":
        _print_library(out)
    else:
        _print_catalog(out)
    return EXIT_OK
