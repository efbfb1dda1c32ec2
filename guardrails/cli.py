"""Command line: argument parsing, the single error boundary, exit codes. No logic lives here.

Exit codes: 0 ok · 1 blueprint errors · 2 validation findings · 3 internal or tool error.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
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
        p.add_argument("--sarif", metavar="FILE", type=Path,
                       help="also write blueprint errors and validation findings as SARIF 2.1.0 (for GitHub code "
                       "scanning), whether the run passes or fails; not written on a tool error")

    build = sub.add_parser("build", help="compile the blueprint into the output directory and validate it")
    blueprint_args(build)
    validator_args(build)
    build.add_argument("--no-validate", action="store_true", help="write the output without validating it")
    build.add_argument("--check", action="store_true",
                       help="compile in memory and compare with the output directory, writing nothing: exit 0 when "
                       "it is up to date, 2 when files would be added, changed or removed (1 on blueprint errors). "
                       "Runs no validator (--checkov, --skip-external and --no-validate are ignored): the build "
                       "that wrote the output validated it, and `guardrails validate` re-checks it")

    validate = sub.add_parser("validate", help="validate the existing output against the blueprint")
    blueprint_args(validate)
    validator_args(validate)

    check = sub.add_parser("check", help="check the blueprint only (load, resolve, plan); writes nothing")
    check.add_argument("blueprint", nargs="?", default="blueprints", type=Path)

    schema = sub.add_parser("schema", help="print (or write) the blueprint JSON Schema")
    schema.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")

    catalog = sub.add_parser("catalog", help="list the built-in guardrails (SCPs and RCPs) and their parameters")
    catalog.add_argument("--markdown", action="store_true", help="print (or write) docs/catalog.md instead")
    catalog.add_argument("-o", "--output", type=Path, help="with --markdown: write to this file")

    library = sub.add_parser("library", help="list the built-in job functions, their parameters and what they grant")
    library.add_argument("--markdown", action="store_true", help="print (or write) docs/job-functions.md instead")
    library.add_argument("-o", "--output", type=Path, help="with --markdown: write to this file")

    report = sub.add_parser("report", help="print a report about the blueprint (also written under output/reports/)")
    report.add_argument("kind", choices=sorted(REPORTS),
                        help="least-privilege: per job function, the actions granted, their scoping, declared "
                        "risks, and the comparison with the closest AWS managed job-function policy")
    report.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                        help="blueprint directory (default: blueprints)")
    show = sub.add_parser("show", help="show what applies to one account (also under output/reports/accounts/)")
    show.add_argument("what", choices=["account"], help="account: its SCPs and RCPs, inherited root → OUs → account, "
                      "with sizes, slot use and the guardrails they contain")
    show.add_argument("name", help="account name")
    show.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                      help="blueprint directory (default: blueprints)")

    rollout = sub.add_parser("rollout", help="canary rollout of SCP/RCP changes (organization.rollout.canary_units)")
    rollout.add_argument("step", choices=["start", "promote"],
                         help="start: record the released policies of OUTPUT in BLUEPRINT/rollout.lock.json, so that "
                         "the next builds give new or changed SCPs/RCPs to the canary OUs only; promote: remove the "
                         "lock, so that the next build releases them everywhere")
    rollout.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                         help="blueprint directory (default: blueprints)")
    rollout.add_argument("-o", "--output", default=Path("output"), type=Path,
                         help="output directory holding the released policies (default: output)")

    account = sub.add_parser("account", help="add an account to the blueprint, record its id, or move it to another "
                             "OU; edits the YAML in place (comments kept), then rebuilds and validates the output")
    account_sub = account.add_subparsers(dest="account_command", required=True, metavar="STEP")
    add = account_sub.add_parser("add", help="add a member account (phase 1 without --id: the account is created "
                                 "first, its baseline follows once `account set-id` records the id)")
    add.add_argument("name", help="account name (lowercase letters, digits, dashes)")
    add.add_argument("--ou", required=True, help="OU path, e.g. Workloads/Prod (with --quarantine: where it goes later)")
    add.add_argument("--email", required=True, help="the account's root email address (unique per account)")
    add.add_argument("--id", dest="account_id", type=_account_id, help="12-digit id of an account that exists already")
    add.add_argument("--quarantine", action="store_true",
                     help="place it in the OU with the `quarantine` guardrail until its baseline is applied; "
                     "`guardrails account move NAME --ou OU` releases it")
    set_id = account_sub.add_parser("set-id", help="record the id of an account created in phase 1 (phase 2: its "
                                    "baseline, root module and StackSet targets follow)")
    set_id.add_argument("name")
    set_id.add_argument("account_id", metavar="ID", type=_account_id)
    move = account_sub.add_parser("move", help="move a member account to another OU (e.g. out of quarantine)")
    move.add_argument("name")
    move.add_argument("--ou", required=True, help="OU path to move it to")
    for step in (add, set_id, move):
        # An option, not a trailing positional: argparse cannot take a positional after --ou/--email.
        step.add_argument("-b", "--blueprint", default=Path("blueprints"), type=Path,
                          help="blueprint directory to edit (default: blueprints)")
        step.add_argument("-o", "--output", default=Path("output"), type=Path, help="output directory (default: output)")
        validator_args(step)
        step.add_argument("--no-build", action="store_true",
                          help="only edit and check the blueprint; leave the output directory alone")

    test = sub.add_parser("test", help="run the blueprint's access tests (`tests:`) with the offline evaluator")
    test.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                      help="blueprint directory (default: blueprints)")
    test.add_argument("-k", dest="select", metavar="TEXT", help="only tests whose name contains TEXT")
    test.add_argument("--verbose-cases", action="store_true", help="print every case, not only a line per test")

    explain = sub.add_parser("explain", help="explain the decision for one request: the policies and statements "
                             "that produced it")
    explain.add_argument("principal", help="role/NAME, user/NAME, group/NAME (a member), root, federated/PROVIDER "
                         "or service/PRINCIPAL")
    explain.add_argument("action", help="e.g. s3:GetObject")
    explain.add_argument("resource", nargs="?", default="*",
                         help="resource ARN (default *); ${partition}, ${account_id}, ${account_id:NAME}, "
                         "${region} are substituted")
    explain.add_argument("--account", required=True, help="the account the principal is in (name or id)")
    explain.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                         help="request context, repeatable; several values for one key: KEY=V1,V2")
    explain.add_argument("--blueprint", default=Path("blueprints"), type=Path,
                         help="blueprint directory to compile (default: blueprints)")
    explain.add_argument("--output", type=Path, metavar="DIR",
                         help="explain against an existing output directory instead of compiling the blueprint")
    diff = sub.add_parser("diff", help="who gains or loses what, where: the permission diff against a git revision "
                          "or between two directories")
    diff.add_argument("paths", nargs="*", type=Path, metavar="DIR",
                      help="without --base: BASE_DIR HEAD_DIR (blueprint or output directories); with --base: the "
                      "blueprint directory (default: blueprints)")
    diff.add_argument("--base", metavar="GIT_REF", help="compare the blueprint with its version at this revision")
    diff.add_argument("--output-dir", default=Path("output"), type=Path, metavar="DIR",
                      help="with --base: the output directory committed next to the blueprint, read when the base "
                      "blueprint no longer compiles (default: output)")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                      help="text (colored, default), markdown (a pull-request comment) or json")
    diff.add_argument("-o", "--write", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    diff.add_argument("--fail-on-risk", action="store_true",
                      help="exit 4 when a risky change (privilege escalation, removed MFA, widened trust, removed "
                      "guardrail …) appears, so CI can require a second reviewer")
    audit = sub.add_parser("audit", help="read one live account (read-only AWS calls) and report drift from the "
                           "blueprint and CIS IAM findings (docs/audit.md)")
    audit.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                       help="blueprint directory (default: blueprints)")
    audit.add_argument("--account", required=True, help="the blueprint account the credentials belong to (name or id)")
    audit.add_argument("--account-id", metavar="ID", help="the live account id, when it is not the blueprint's (e.g. "
                       "an emulator's); ${account_id} is substituted with it")
    audit.add_argument("--profile", help="AWS profile (default: the usual boto3 credential chain)")
    audit.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint (an emulator such as moto)")
    audit.add_argument("--as-of", metavar="YYYY-MM-DD", type=_iso_date,
                       help="the date credential ages are measured at (default: today)")
    audit.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    audit.add_argument("--unused-days", type=int, default=90, metavar="N",
                       help="suggest removing services a role has not used for N days (default 90)")
    return parser


def _iso_date(text: str):  # noqa: ANN202 - argparse type
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _account_id(text: str) -> str:
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account id")
    return text


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


def _audit(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails audit``: one live account against the blueprint; exit 2 on drift or CIS failures."""
    from datetime import UTC, datetime

    from guardrails import pipeline
    from guardrails.audit import audit_findings, expected_account, read_account
    from guardrails.audit.report import AuditResult, to_json, to_terminal
    from guardrails.diagnostics import ToolError

    compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
    _print_diagnostics(err, compiled.warnings)
    organization = compiled.organization
    account = organization.account(args.account)
    baseline = compiled.plan.class_of(account.name)
    expected = expected_account(organization, baseline.baseline.password_policy if baseline else None,
                                account.name, args.account_id)
    snapshot = read_account(profile=args.profile, region=organization.home_region, endpoint_url=args.endpoint_url)
    if snapshot.account_id != expected.id:
        raise ToolError(f"the credentials belong to account {snapshot.account_id}, but blueprint account "
                        f"{account.name} is {expected.id}: use credentials (--profile) for {expected.id}, or pass "
                        f"--account-id {snapshot.account_id} to audit this account as {account.name}")
    as_of = args.as_of or datetime.now(UTC).date()
    findings = audit_findings(expected, snapshot, as_of, args.unused_days)
    result = AuditResult(account.name, snapshot.account_id, snapshot.endpoint, as_of.isoformat(), tuple(findings),
                         snapshot.notes)
    if args.format == "json":
        sys.stdout.write(to_json(result))
    else:
        to_terminal(result, out)
    return EXIT_VALIDATION if result.failed else EXIT_OK


def _run_tests(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails test``: one line per test (per case with --verbose-cases), failures with their chain."""
    from guardrails import pipeline
    from guardrails.evaluation.assertions import failure_diagnostics

    compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
    _print_diagnostics(err, compiled.warnings)
    results = pipeline.run_access_tests(compiled)
    if args.select:
        results = [r for r in results if args.select in r.test.name]
    if not results:
        err.print(f"no access tests{' match ' + repr(args.select) if args.select else ''} in {args.blueprint}; "
                  "add a `tests:` section (docs/blueprint.md#tests)", markup=False)
        return EXIT_BLUEPRINT
    by_test: dict[str, list] = {}
    for result in results:
        by_test.setdefault(result.test.name, []).append(result)
    for name, cases in by_test.items():
        ok = all(c.passed for c in cases)
        mark = "[green]PASS[/]" if ok else "[red]FAIL[/]"
        test = cases[0].test
        out.print(f"{mark} {name}", end="")
        out.print(f" — {test.principal} {test.expect} in {len(cases)} case(s)", markup=False)
        for case in cases if (args.verbose_cases or not ok) else []:
            decided = case.error or (case.decision.summary if case.decision else "")
            style = "green" if case.passed else "red"
            out.print(f"    [{style}]{case.outcome:<7}[/] {case.account} {case.action}: ", end="")
            out.print(decided, markup=False)
    failures = failure_diagnostics(results)
    passed = sum(r.passed for r in results)
    tests_passed = sum(all(c.passed for c in cases) for cases in by_test.values())
    out.print(f"{tests_passed}/{len(by_test)} tests passed ({passed}/{len(results)} cases)", markup=False)
    if failures:
        _print_diagnostics(err, failures)
        return EXIT_BLUEPRINT
    return EXIT_OK


def _diff(args: argparse.Namespace, out: Console) -> int:
    """``guardrails diff``: compile both sides, report the permission changes, exit 4 on risk if asked."""
    from guardrails import pipeline, review

    def compile_files(directory: Path) -> dict[str, str]:
        return pipeline.compile_blueprint(directory, run_tests=False).files

    if args.base:
        if len(args.paths) > 1:
            raise review.ReviewError("with --base give at most one directory: the blueprint")
        blueprint = args.paths[0] if args.paths else Path("blueprints")
        base = review.organization_from_git(args.base, blueprint if blueprint.is_dir() else Path.cwd(),
                                            blueprint.resolve(), args.output_dir.resolve(), compile_files)
        head = review.organization_from_blueprint(blueprint, compile_files, f"{blueprint} (working tree)")
    else:
        if len(args.paths) != 2:
            raise review.ReviewError("give --base GIT_REF, or two directories: BASE_DIR HEAD_DIR")
        base, head = review.organization_from_directories(args.paths[0], args.paths[1], compile_files)
    result = review.run_diff(base, head)
    if args.format == "text" and not args.write:
        review.to_terminal(result, out)
    else:
        text = {"markdown": review.to_markdown, "json": review.to_json}.get(args.format, review.to_markdown)(result)
        if args.write:
            args.write.write_text(text, encoding="utf-8")
            out.print(f"{result.summary} → {args.write}", markup=False)
        else:
            sys.stdout.write(text)
    return review.EXIT_RISKY if args.fail_on_risk and result.risky else EXIT_OK


def _explain(args: argparse.Namespace, out: Console) -> int:
    """``guardrails explain``: the decision, then every stage of the evaluation and the statements it used."""
    from guardrails.evaluation.errors import EvaluationError
    from guardrails.evaluation.organization import Organization, parse_principal

    context: dict[str, list[str]] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EvaluationError(f"--context {item!r} is not KEY=VALUE (e.g. aws:MultiFactorAuthPresent=true)")
        context.setdefault(key, []).extend(value.split(","))
    if args.output:
        organization = Organization.from_directory(args.output)
    else:
        from guardrails import pipeline

        compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
        organization = compiled.organization
    spec = parse_principal(args.principal)
    request, policies = organization.prepare(spec, args.account, args.action, args.resource, context)
    from guardrails.evaluation.engine import evaluate

    decision = evaluate(request, policies)
    style = {"allow": "bold green", "explicit-deny": "bold red", "implicit-deny": "bold red"}.get(decision.outcome,
                                                                                                "bold yellow")
    out.print(f"[{style}]{decision.outcome.upper()}[/] ", end="")
    out.print(f"{spec} in {args.account} → {request.action} on {request.resource}", markup=False)
    out.print(f"  principal ARN {request.caller.principal_arn}", markup=False, style="dim")
    for key, spelled, origin in request.context_origin:
        out.print(f"  context {spelled} = {', '.join(request.context[key])}"
                  f"{' (given)' if origin == 'given' else ''}", markup=False, style="dim" if origin == "default" else "")
    _print_steps(out, decision)
    return EXIT_OK if decision.outcome != "unknown" else EXIT_BLUEPRINT


def _print_steps(out: Console, decision: object) -> None:
    """The evaluation chain; levels where only the default full-access policy allowed are folded into one line."""
    from guardrails.evaluation.engine import Decision

    assert isinstance(decision, Decision)
    defaults = {"FullAWSAccess", "RCPFullAWSAccess"}
    folded: list[str] = []
    marks = {"allow": "[green]✓[/]", "deny": "[red]✗[/]", "no-allow": "[red]✗[/]", "not-applicable": "·",
             "unknown": "[yellow]?[/]"}
    steps = list(decision.steps)
    for index, step in enumerate(steps):
        trivial = step.outcome == "allow" and step.matches and all(m.policy.name in defaults for m in step.matches)
        if trivial:
            folded.append(step.stage.split(" ", 1)[-1])
            following = steps[index + 1] if index + 1 < len(steps) else None
            same_family = following is not None and following.stage.split(" ")[0] == step.stage.split(" ")[0]
            if same_family and following.outcome == "allow" and all(m.policy.name in defaults
                                                                    for m in following.matches):
                continue
            family = step.stage.split(" ")[0]
            out.print(f"  {marks['allow']} {family}: ", end="")
            out.print(f"{' → '.join(folded)}: only the default {'RCPFullAWSAccess' if family == 'RCPs' else 'FullAWSAccess'}"
                      " allows, nothing else attached applies", markup=False)
            folded = []
            continue
        out.print(f"  {marks[step.outcome]} {step.stage}: ", end="")
        out.print(step.detail or step.outcome, markup=False)
        for match in step.matches:
            _print_match(out, match, "")
        for match in step.near_misses:
            _print_match(out, match, "would allow, but a condition is false: ")


def _print_match(out: Console, match: object, prefix: str) -> None:
    """One statement, where it comes from, and each condition with the request's value and the result."""
    from guardrails.evaluation.engine import StatementMatch

    assert isinstance(match, StatementMatch)
    out.print(f"      {prefix}{match.describe()}", markup=False)
    if match.policy.source:
        out.print(f"        from {match.policy.source}", markup=False, style="dim")
    for clause in match.clauses:
        seen = "absent" if clause.request_values is None else ", ".join(clause.request_values)
        note = f" ({clause.note})" if clause.note else ""
        out.print(f"        {clause.operator} {clause.key} {list(clause.values)} ← {seen}: "
                  f"{'true' if clause.matched else 'false'}{note}", markup=False,
                  style="" if clause.matched else "red")


_T = TypeVar("_T")


def _with_sarif(args: argparse.Namespace, run: Callable[[], _T], findings: Callable[[_T], list[Diagnostic]]) -> _T:
    """Run a build or validation; with ``--sarif``, write its findings before returning or raising.

    The report matters most when the run fails, so blueprint errors and validation failures are written here,
    before the error boundary in :func:`main` prints them. A tool error leaves no report: an empty one would tell
    code scanning that every earlier finding was fixed.
    """
    if args.sarif is None:
        return run()
    from guardrails import sarif

    def write(diagnostics: list[Diagnostic]) -> None:
        sarif.write_sarif(args.sarif, diagnostics, tool_version=__version__, root=sarif.repository_root(Path.cwd()),
                          output=args.output, anchor=sarif.anchor_file(args.blueprint))

    args.sarif.unlink(missing_ok=True)  # never leave an earlier run's report behind
    try:
        result = run()
    except (BlueprintError, ValidationFailed) as exc:
        write(exc.diagnostics)
        raise
    write(findings(result))
    return result


def _report_drift(out: Console, err: Console, drift: object, args: argparse.Namespace) -> int:
    """``build --check``: the stale files, the start of each change (capped), and what to run."""
    from guardrails.pipeline import OutputDrift

    assert isinstance(drift, OutputDrift)
    max_listed, max_diffs, max_diff_lines = 50, 5, 20  # enough to see what is stale; the build shows the rest
    if not drift.stale:
        out.print(f"{args.output} is up to date with {args.blueprint} ({len(drift.expected)} files)", markup=False)
        return EXIT_OK
    listed = [*(("added", p) for p in drift.added), *(("changed", p) for p in drift.changed),
              *(("removed", p) for p in drift.removed)]
    err.print(f"{args.output} is stale: {len(drift.added)} file(s) would be added, {len(drift.changed)} changed, "
              f"{len(drift.removed)} removed", markup=False)
    for kind, path in listed[:max_listed]:
        err.print(f"  {kind:<8}{args.output / path}", markup=False)
    if len(listed) > max_listed:
        err.print(f"  … and {len(listed) - max_listed} more", markup=False)
    for path in drift.changed[:max_diffs]:
        lines = drift.excerpt(path, max_diff_lines + 1)
        err.print("\n".join(f"    {line}" for line in lines[:max_diff_lines]), markup=False)
        if len(lines) > max_diff_lines:
            err.print("    …", markup=False)
    if args.blueprint == Path("blueprints") and args.output == Path("output"):
        command = "`guardrails build` (or `make build`)"
    else:
        command = f"`guardrails build {args.blueprint} -o {args.output}`"
    err.print("[bold red]ERROR[/] ", end="")
    err.print(f"{args.output} is out of date with the blueprint: run {command} and commit {args.output}/.",
              markup=False)
    return EXIT_VALIDATION


def _write_or_print(text: str, path: Path | None) -> None:
    """Generated documentation or schema: to ``path`` when given, else to standard output, byte for byte."""
    if path:
        path.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


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
    if plan.rcps:
        table.add_row("RCPs", ", ".join(f"{r.name} ({len(r.document.render(minified=True))} chars)" for r in plan.rcps))
    table.add_row("files", f"{len(result.compiled.files)} generated in {result.compiled.seconds:.2f} s; "
                  f"{len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} removed")
    results = result.compiled.test_results
    if results:
        tests = {r.test.name for r in results}
        table.add_row("access tests", f"{len(tests)} tests, {len(results)} cases passed (`guardrails test` lists them)")
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
        exempt = "; exempts break-glass and deployment roles" if guardrail.exempt_privileged else ""
        console.print(f"[bold]{guardrail.id}[/] ({guardrail.kind}{exempt}) — {guardrail.title}")
        console.print(f"    {guardrail.rationale}", markup=False)
        for param in guardrail.parameters.values():
            if param.type == "boolean":
                default = "true" if param.default else "false"
            elif param.default_from:
                default = f"from the organization's {param.default_from}"
                default += f", else {', '.join(param.default)}" if param.default else ""
            else:
                default = ", ".join(param.default) if param.default else ("none" if param.default == () else "required")
            console.print(f"    parameter {param.name} ({param.type}): {param.description} (default: {default})",
                          markup=False)
        if guardrail.exception_tag:
            console.print(f"    exception tag: parameter {guardrail.exception_tag} (changing the tag is denied)",
                          markup=False)
        console.print(f"    source: {guardrail.source} {guardrail.source_url}", markup=False)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


def _account(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails account add|set-id|move``: one round-trip edit of the blueprint, then a validated build."""
    from guardrails import pipeline
    from guardrails.blueprint import edit

    name = args.name
    if args.account_command == "add":
        unit, note = args.ou, None
        if args.quarantine:
            unit = pipeline.quarantine_unit(args.blueprint)
            note = f"quarantined: `guardrails account move {name} --ou {args.ou}` once its baseline is applied"
        change = edit.add_account(args.blueprint, name=name, unit=unit, email=args.email, account_id=args.account_id,
                                  note=note)
    elif args.account_command == "set-id":
        change = edit.set_account_id(args.blueprint, name=name, account_id=args.account_id)
    else:
        change = edit.move_account(args.blueprint, name=name, unit=args.ou)
    result = _with_sarif(args, lambda: pipeline.apply_blueprint_edit(
        change, args.blueprint, args.output, build_output=not args.no_build, validate=True,
        external=not args.skip_external, checkov=args.checkov), _edit_diagnostics)
    import difflib

    for line in difflib.unified_diff(change.before.splitlines(), change.after.splitlines(), str(change.path),
                                     str(change.path), lineterm="", n=0):
        if not line.startswith(("---", "+++", "@@")):
            out.print(line, markup=False)
    if isinstance(result, pipeline.BuildResult):
        _print_diagnostics(err, result.diagnostics)
        _print_summary(out, result, args.output)
        compiled = result.compiled
    else:
        _print_diagnostics(err, result.warnings)
        compiled = result
    report = f"reports/accounts/{name}.md"
    if report in compiled.files:
        where = args.output / report if isinstance(result, pipeline.BuildResult) else report
        out.print(f"next steps for {name}: the checklist in {where} (`guardrails show account {name}`)")
    return EXIT_OK


def _edit_diagnostics(result: object) -> list:
    return list(getattr(result, "diagnostics", None) or getattr(result, "warnings", []))
