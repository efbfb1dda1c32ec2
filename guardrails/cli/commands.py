"""The commands that do more than compile and print: test, explain, diff, audit, account; SARIF around a run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from guardrails import __version__
from guardrails.cli.codes import EXIT_BLUEPRINT, EXIT_OK, EXIT_VALIDATION
from guardrails.cli.output import _line, _print_diagnostics, _print_steps, _print_summary, _write_report
from guardrails.diagnostics import BlueprintError, Diagnostic, ToolError, ValidationFailed

if TYPE_CHECKING:
    from guardrails.audit.functions import FunctionRole
    from guardrails.iam.manifest import AccountEntry
    from guardrails.pipeline import Compiled


def _audit(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails audit``: one live account against the blueprint; exit 2 on drift or CIS failures."""
    from datetime import UTC, datetime

    from guardrails import pipeline
    from guardrails.audit import audit_findings, expected_account, read_account
    from guardrails.audit.report import AuditResult, to_json, to_terminal

    if args.organization:
        from guardrails.cli.audit_organization import audit_organization

        return audit_organization(args, out, err)
    if not args.account or args.format == "markdown" or args.write or args.role:
        raise ToolError("give --account NAME (the account the credentials belong to), or --organization to audit "
                        "every account; --format markdown, -o and --role need --organization")
    if args.endpoint_url is not None:
        _check_endpoint(args.endpoint_url)
    compiled = pipeline.compile_blueprint(args.blueprint, run_tests=False)
    _print_diagnostics(err, compiled.warnings)
    organization = compiled.organization
    account = organization.account(args.account)
    baseline = compiled.plan.class_of(account.name)
    expected = expected_account(organization, baseline.baseline.password_policy if baseline else None,
                                account.name, args.account_id, _function_roles(compiled, account))
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


def _function_roles(compiled: Compiled, account: AccountEntry) -> tuple[FunctionRole, ...]:
    """The roles of the custom-resource functions that the emitted CloudFormation deploys into the account (none
    when the blueprint emits no CloudFormation): the audit expects them instead of reporting them as extra."""
    from guardrails.audit.functions import FunctionRole
    from guardrails.escalation.functions import functions

    return tuple(FunctionRole(f.template, f.role_logical_id, f.role_path, f.trust, f.role_policies)
                 for f in functions(compiled.files, compiled.organization.partition)
                 if f.deployed_in(account.class_key, account.management))


def _check_endpoint(url: str) -> None:
    """``--endpoint-url`` must be an http(s) URL with a host name, as botocore requires (it raises ValueError)."""
    from urllib.parse import urlsplit

    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    if urlsplit(url).scheme not in ("http", "https") or not (is_valid_endpoint_url(url)
                                                             or is_valid_ipv6_endpoint_url(url)):
        raise ToolError(f"--endpoint-url {url!r} is not an endpoint URL: give http(s)://HOST[:PORT], e.g. "
                        "http://127.0.0.1:5000 for a local emulator")


def _run_tests(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails test``: one line per test (per case with --verbose-cases), failures with their chain."""
    from guardrails import pipeline
    from guardrails.evaluation.assertions import failure_diagnostics

    compiled = pipeline.compile_policy_tree(args.blueprint, run_tests=False)
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
        mark = ("PASS", "green") if ok else ("FAIL", "red")
        test = cases[0].test
        out.print(_line(mark, f" {name} — {test.principal} {test.expect} in {len(cases)} case(s)"))
        for case in cases if (args.verbose_cases or not ok) else []:
            decided = case.error or (case.decision.summary if case.decision else "")
            style = "green" if case.passed else "red"
            out.print(_line("    ", (f"{case.outcome:<7}", style), f" {case.account} {case.action}: {decided}"))
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
        if args.format == "html":
            from guardrails.emitters.html_report import diff_page

            text = diff_page(review.json_ready(result))
        else:
            text = {"markdown": review.to_markdown, "json": review.to_json}.get(args.format, review.to_markdown)(result)
        _write_report(out, text, args.write, result.summary, quiet=args.quiet)
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

        compiled = pipeline.compile_policy_tree(args.blueprint, run_tests=False)
        organization = compiled.organization
    spec = parse_principal(args.principal)
    request, policies = organization.prepare(spec, args.account, args.action, args.resource, context)
    from guardrails.evaluation.engine import evaluate

    decision = evaluate(request, policies)
    style = {"allow": "bold green", "explicit-deny": "bold red", "implicit-deny": "bold red"}.get(decision.outcome,
                                                                                                "bold yellow")
    out.print(_line((decision.outcome.upper(), style), f" {spec} in {args.account} → {request.action} on "
                    f"{request.resource}"))
    out.print(f"  principal ARN {request.caller.principal_arn}", markup=False, style="dim")
    for key, spelled, origin in request.context_origin:
        out.print(f"  context {spelled} = {', '.join(request.context[key])}"
                  f"{' (given)' if origin == 'given' else ''}", markup=False, style="dim" if origin == "default" else "")
    _print_steps(out, decision)
    return EXIT_OK if decision.outcome != "unknown" else EXIT_BLUEPRINT


_T = TypeVar("_T")


def _with_sarif(args: argparse.Namespace, run: Callable[[], _T], findings: Callable[[_T], list[Diagnostic]],
                accepted: Callable[[_T], Sequence[tuple[Diagnostic, Any]]] | None = None) -> _T:
    """Run a build or validation; with ``--sarif``, write its findings before returning or raising; the findings the
    blueprint accepts (``accepted``: diagnostic and acceptance) are written as suppressed results, with the reason.

    The report matters most when the run fails, so blueprint errors and validation failures are written here,
    before the error boundary in :func:`main` prints them. A tool error leaves no report: an empty one would tell
    code scanning that every earlier finding was fixed.
    """
    if args.sarif is None:
        return run()
    from guardrails import sarif

    def write(diagnostics: list[Diagnostic], suppressed: Sequence[tuple[Diagnostic, Any]] = ()) -> None:
        try:
            sarif.write_sarif(args.sarif, diagnostics, tool_version=__version__,
                              root=sarif.repository_root(Path.cwd()), output=args.output,
                              anchor=sarif.anchor_file(args.blueprint),
                              suppressed=[(d, a.reason) for d, a in suppressed])
        except OSError as exc:
            raise ToolError(f"cannot write the SARIF report {args.sarif}: {exc.strerror or exc}") from exc

    if args.sarif.is_dir():
        raise ToolError(f"--sarif {args.sarif} is a directory; give a file name such as guardrails.sarif")
    args.sarif.unlink(missing_ok=True)  # never leave an earlier run's report behind
    try:
        result = run()
    except (BlueprintError, ValidationFailed) as exc:
        write(exc.diagnostics)
        raise
    write(findings(result), accepted(result) if accepted else ())
    return result


def _account(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``guardrails account add|set-id|move``: one round-trip edit of the blueprint, then a validated build."""
    from guardrails import pipeline, workflows
    from guardrails.blueprint import edit

    name = args.name
    if args.account_command == "add":
        unit, note = args.ou, None
        if args.quarantine:
            unit = workflows.quarantine_unit(args.blueprint)
            note = f"quarantined: `guardrails account move {name} --ou {args.ou}` once its baseline is applied"
        change = edit.add_account(args.blueprint, name=name, unit=unit, email=args.email, account_id=args.account_id,
                                  note=note)
    elif args.account_command == "set-id":
        change = edit.set_account_id(args.blueprint, name=name, account_id=args.account_id)
    else:
        change = edit.move_account(args.blueprint, name=name, unit=args.ou)
    result = _with_sarif(args, lambda: workflows.apply_blueprint_edit(
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
        out.print(f"next steps for {name}: the checklist in {where} (`guardrails show account {name}`)", markup=False)
    return EXIT_OK


def _edit_diagnostics(result: object) -> list:
    return list(getattr(result, "diagnostics", None) or getattr(result, "warnings", []))


def _init(args: argparse.Namespace, out: Console) -> int:
    """``guardrails init``: a commented starter blueprint (guardrails.blueprint.starter), prompting on a terminal."""
    from guardrails.cli.init import run_init

    return run_init(args, out)
