"""``accepted_warnings``: warnings the blueprint's owner keeps on purpose, each with the reason a reviewer reads.

Two kinds, in one reviewable list of the blueprint (docs/validation.md):

- a guardrails warning whose code the catalog marks ``acceptable`` (GR320), about one blueprint entry: ``at`` is
  the entry's dotted path (``users.carol``, ``roles.ci``, ``organization.units.Sandbox``) and the warning must be
  located inside it;
- a cfn-lint warning (W…, GR602) or informational finding (I…, GR603) on a generated template: ``at`` is a pattern
  on the template's path in the output (``cloudformation/baseline-*.yaml``). cfn-lint errors (E…) never.

An accepted finding is not hidden: the summary lists it with its reason. An acceptance that matches nothing where its
tool ran is stale (GR322, a warning), like a cfn-lint or checkov suppression that no longer applies.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from guardrails.diagnostics import Diagnostic, Location, Severity, code_catalog
from guardrails.model.resolved import Model, _suggest

CFN_LINT_CODES = {"W": "GR602", "I": "GR603"}  # cfn-lint's severity letter → the code its findings carry
CFN_LINT = re.compile(r"[WI]\d{4}")


@dataclass(frozen=True)
class Acceptance:
    """One ``accepted_warnings`` entry, resolved: what it takes and where (a blueprint span or a template pattern)."""

    finding: str  # GR320, or a cfn-lint rule id (W3005)
    at: str
    reason: str
    declared: Location  # the entry in ``accepted_warnings``
    span: tuple[str, int, int] | None = None  # guardrails warnings: (file, first line, last line) of the entry

    @property
    def cfn_lint(self) -> bool:
        return CFN_LINT.fullmatch(self.finding) is not None

    def matches(self, diagnostic: Diagnostic) -> bool:
        where = diagnostic.location
        if where is None:
            return False
        if self.cfn_lint:
            return (diagnostic.code == CFN_LINT_CODES[self.finding[0]] and diagnostic.message.split(" ", 1)[0]
                    == self.finding and fnmatch.fnmatchcase(where.file, self.at))
        if diagnostic.code != self.finding or self.span is None:
            return False
        file, first, last = self.span
        return where.file == file and first <= where.line <= last

    def describe(self, diagnostic: Diagnostic) -> str:
        """One line of the summary: the finding, where it is, the reason and where the acceptance is declared."""
        return (f"{diagnostic.code} at {diagnostic.location}: {diagnostic.message} — accepted: {self.reason} "
                f"({self.declared})")


def resolve_acceptances(model: Model, problems: list[Diagnostic]) -> tuple[Acceptance, ...]:
    """The blueprint's ``accepted_warnings``, checked: an acceptable code, an entry or template that exists."""
    entries = model.blueprint.accepted_warnings
    if not entries:
        return ()
    source = model.source
    spans = _entry_spans(source.key_locations, source.value_locations) if any(
        not CFN_LINT.fullmatch(e.finding) for e in entries) else {}
    catalog = code_catalog()
    found: list[Acceptance] = []
    for index, entry in enumerate(entries):
        where = source.where("accepted_warnings", index)
        reason = " ".join(entry.reason.split())
        if CFN_LINT.fullmatch(entry.finding):
            if not entry.at.startswith("cloudformation/"):
                problems.append(Diagnostic.of(
                    "GR203", f"accepted_warnings[{index}].at: a cfn-lint finding is accepted on generated templates, "
                    f"so `at` is a pattern on their path in the output, not {entry.at!r}",
                    source.where("accepted_warnings", index, "at"),
                    "for example `cloudformation/baseline-*.yaml` or `cloudformation/organization.yaml`"))
                continue
            found.append(Acceptance(entry.finding, entry.at, reason, where))
            continue
        info = catalog.get(entry.finding)
        if entry.finding in CFN_LINT_CODES.values():
            problems.append(Diagnostic.of(
                "GR203", f"accepted_warnings[{index}].finding: accept a cfn-lint finding by its rule id, not by "
                f"{entry.finding}", source.where("accepted_warnings", index, "finding"),
                "the rule id leads the finding's message, e.g. `finding: W3005` (cfn-lint errors, E…, never)"))
            continue
        if info is None or not info.acceptable:
            what = ("is no guardrails diagnostic code" if info is None else
                    "is an error: errors are fixed, not accepted" if info.severity is Severity.ERROR else
                    "is not a warning that can be accepted")
            acceptable = ", ".join(sorted(c for c, i in catalog.items() if i.acceptable and c.startswith("GR3")))
            problems.append(Diagnostic.of(
                "GR203", f"accepted_warnings[{index}].finding: {entry.finding} {what}",
                source.where("accepted_warnings", index, "finding"),
                f"accept {acceptable} (guardrails warnings) or a cfn-lint W… or I… rule id; docs/validation.md"))
            continue
        span = spans.get(entry.at)
        if span is None:
            problems.append(Diagnostic.of(
                "GR301", f"accepted_warnings[{index}].at names no blueprint entry: {entry.at!r}",
                source.where("accepted_warnings", index, "at"),
                _suggest(entry.at, set(spans)) if difflib.get_close_matches(entry.at, spans, n=1, cutoff=0.6)
                else "write the entry's dotted path, e.g. `users.carol` or `organization.units.Sandbox`"))
            continue
        found.append(Acceptance(entry.finding, entry.at, reason, where, span))
    return tuple(found)


def _entry_spans(keys: Mapping[tuple[str | int, ...], Location], values: Mapping[tuple[str | int, ...], Location]
                 ) -> dict[str, tuple[str, int, int]]:
    """Dotted path of every entry of the blueprint (a mapping key, or a list item such as
    ``organization.units.Core.accounts[0]``) → (file, its first line, the last line of anything under it)."""
    spans: dict[str, tuple[str, int, int]] = {}
    for path, location in (*values.items(), *keys.items()):  # a key's line wins over its value's
        spans[_dotted(path)] = (location.file, location.line, location.line)
    for path, location in (*keys.items(), *values.items()):
        for end in range(1, len(path) + 1):
            span = spans.get(_dotted(path[:end]))
            if span is not None and span[0] == location.file and location.line > span[2]:
                spans[_dotted(path[:end])] = (span[0], span[1], location.line)
    return spans


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Accepted:
    """What the acceptances did to a list of diagnostics."""

    kept: list[Diagnostic]  # everything no acceptance matched
    taken: list[tuple[Diagnostic, Acceptance]]  # each accepted finding with the acceptance that took it
    stale: list[Diagnostic]  # GR322 for each acceptance judged that matched nothing


def apply_acceptances(acceptances: Iterable[Acceptance], diagnostics: Iterable[Diagnostic], *, cfn_lint: bool
                      ) -> Accepted:
    """Take the findings the acceptances match out of ``diagnostics`` (guardrails warnings, or cfn-lint's findings
    when ``cfn_lint``: the acceptances of the tool that did not run are left for the run that has it)."""
    judged = [a for a in acceptances if a.cfn_lint == cfn_lint]
    used: set[Acceptance] = set()
    kept: list[Diagnostic] = []
    taken: list[tuple[Diagnostic, Acceptance]] = []
    for diagnostic in diagnostics:
        taker = next((a for a in judged if a.matches(diagnostic)), None)
        if taker is None:
            kept.append(diagnostic)
            continue
        used.add(taker)
        taken.append((diagnostic, taker))
    stale = [Diagnostic.of("GR322", f"accepted_warnings: {a.finding} at {a.at!r} matches no finding any more",
                           a.declared, "remove the entry, or correct `finding` or `at`")
             for a in judged if a not in used]
    return Accepted(kept, taken, stale)
