"""What the commands print: diagnostics, the build summary, the evaluation chain, Markdown, listings.

User text (names, paths, messages, locations) is never read as rich markup or emoji codes: lines are
:class:`rich.text.Text` built with :func:`_line`, or printed with ``markup=False``; the consoles of
:func:`make_console` never replace ``:code:`` emoji, so ``organization.yaml:100:17`` prints as written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from guardrails.cli.codes import EXIT_OK, EXIT_VALIDATION
from guardrails.diagnostics import Diagnostic, Severity, ToolError


def make_console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console for the commands: no highlighting, no emoji codes; ``NO_COLOR`` (https://no-color.org) drops every
    style, bold and dim included (rich alone drops only the colours); ``quiet`` prints nothing (``-q``)."""
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False, quiet=quiet,
                   color_system=None if plain else "auto")


def _line(*parts: str | tuple[str, str]) -> Text:
    """One line: plain strings are literal text, ``(text, style)`` pairs are styled; nothing is parsed as markup."""
    return Text.assemble(*parts)


def _print_steps(out: Console, decision: object) -> None:
    """The evaluation chain; levels where only the default full-access policy allowed are folded into one line."""
    from guardrails.evaluation.engine import Decision

    assert isinstance(decision, Decision)
    defaults = {"FullAWSAccess", "RCPFullAWSAccess"}
    folded: list[str] = []
    marks = {"allow": ("✓", "green"), "deny": ("✗", "red"), "no-allow": ("✗", "red"), "not-applicable": ("·", ""),
             "unknown": ("?", "yellow")}
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
            out.print(_line("  ", marks["allow"], f" {family}: {' → '.join(folded)}: only the default "
                            f"{'RCPFullAWSAccess' if family == 'RCPs' else 'FullAWSAccess'} allows, nothing else "
                            "attached applies"))
            folded = []
            continue
        out.print(_line("  ", marks[step.outcome], f" {step.stage}: {step.detail or step.outcome}"))
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
    if drift.lock:  # the class names a build would pin (docs/accounts.md): committed beside the blueprint
        err.print(f"{drift.lock} is stale: a build pins the current class names there; commit it with the output",
                  markup=False)
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
    err.print(_line(("ERROR", "bold red"), f" {args.output} is out of date with the blueprint: run {command} and "
                    f"commit {args.output}/."))
    return EXIT_VALIDATION


def _write_or_print(text: str, path: Path | None) -> None:
    """Generated documentation or schema: to ``path`` when given, else to standard output, byte for byte."""
    if path:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(text)


def _write_report(out: Console, text: str, path: Path | None, summary: str, *, quiet: bool) -> None:
    """A report (diff, organization audit) to ``-o FILE`` with its summary line, or to standard output."""
    if not path:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot write the report to {path}: {exc.strerror or exc} (create the folder first, or "
                        "give another -o FILE)") from exc
    if not quiet:
        out.print(f"{summary} → {path}", markup=False)


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
        console.print(_line(where, (diagnostic.severity.value, style), " ", (diagnostic.code, "bold"),
                            f": {diagnostic.message}"))
        if diagnostic.hint:
            console.print(f"    hint: {diagnostic.hint}", markup=False)


def _print_summary(console: Console, result: object, output: Path) -> None:
    from guardrails.pipeline import BuildResult

    assert isinstance(result, BuildResult)
    plan = result.compiled.plan
    table = Table(title=Text(f"guardrails: {plan.blueprint} → {output}"), show_header=False, box=None)
    rows = [("organization", f"{plan.org.name} ({plan.org.partition}, home {plan.org.home_region})"),
            ("accounts / OUs", f"{len(plan.accounts)} / {len(plan.units)}"),
            ("baseline classes", ", ".join(c.key for c in plan.classes)),
            ("SCPs", ", ".join(f"{s.name} ({len(s.document.render(minified=True))} chars)" for s in plan.scps)
             or "none")]
    if plan.rcps:
        rows.append(("RCPs", ", ".join(f"{r.name} ({len(r.document.render(minified=True))} chars)" for r in plan.rcps)))
    rows.append(("files", f"{len(result.compiled.files)} generated in {result.compiled.seconds:.2f} s; "
                 f"{len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} removed"))
    if result.lock:
        rows.append(("class names", f"pinned in {result.lock} (commit it; docs/accounts.md)"))
    results = result.compiled.test_results
    if results:
        tests = {r.test.name for r in results}
        rows.append(("access tests", f"{len(tests)} tests, {len(results)} cases passed (`guardrails test` lists them)"))
    if result.compiled.lockout is not None:
        rows.append(("lockout proof", result.compiled.lockout.summary()))
    rows += [("accepted risks" if index == 0 else "", note) for index, note in enumerate(result.compiled.notes)]
    rows += [("accepted warnings" if index == 0 else "", line) for index, line in enumerate(result.compiled.accepted_lines)]
    rows += [tuple(line.partition(": ")[::2]) for line in result.validator_summary]
    for name, value in rows:
        table.add_row(Text(name), Text(value))  # Text: names and paths from the blueprint are never markup
    console.print(table)


def _print_library(console: Console) -> None:
    from guardrails.model.library import load_library

    for builtin in load_library().values():
        console.print(_line((builtin.id, "bold"),
                            f" — {builtin.title} (closest AWS policy: {builtin.aws_counterpart})"))
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
        console.print(_line((guardrail.id, "bold"), f" ({guardrail.kind}{exempt}) — {guardrail.title}"))
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
