"""What the commands print: diagnostics, the build summary, the evaluation chain, Markdown, listings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from guardrails.cli.codes import EXIT_OK, EXIT_VALIDATION
from guardrails.diagnostics import Diagnostic, Severity


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
