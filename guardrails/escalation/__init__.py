"""Whole-account escalation and tamper analysis of the emitted policy tree, on every build (docs/escalation.md).

For every group of accounts with the same baseline class and SCP/RCP path, every principal (roles, group members,
users, Identity Center sessions, the custom-resource functions' roles) is asked, with the evaluator, whom it can
become by the methods of ``guardrails/data/escalation_methods.yaml`` and what it can then reach. Two ceilings are
checked: nothing beyond a principal's own policies and boundary through an undeclared hop (GR405), and no change to
the detective and protective controls by a principal that does not own them (GR406). The result also renders
``reports/escalation.md`` and one ``reports/escalation/<class>.md`` per class.

The modules, bottom up: ``catalog`` (the data file, checked), ``functions`` (the functions of the emitted
CloudFormation), ``view`` (the organization with function and probe roles; a principal as an escalation leaves it),
``targets`` (concrete resources), ``scope`` (one account's principals and requests), ``edges`` (the hops, one
function per target kind), ``graph`` (closure and paths), ``owners`` (the owners a blueprint names),
``controls`` (tampering requests and owners), ``analysis`` (per group), ``findings`` (diagnostics) and ``report``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from guardrails.diagnostics import Diagnostic, Severity
from guardrails.escalation.analysis import Analysis, analyze
from guardrails.escalation.findings import diagnostics
from guardrails.escalation.owners import Owner
from guardrails.escalation.report import reports
from guardrails.escalation.view import View
from guardrails.evaluation.organization import Organization
from guardrails.iam.manifest import MANIFEST, Manifest
from guardrails.policies.ir import Plan


class CompiledTree(Protocol):
    """What the analysis reads of a compilation (``guardrails.pipeline.Compiled``)."""

    plan: Plan
    files: dict[str, str]


@dataclass
class Escalation:
    """The analysis, its diagnostics and its report files ({path under output/: text})."""

    analysis: Analysis
    diagnostics: list[Diagnostic]
    reports: dict[str, str]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is not Severity.ERROR]


def analyze_escalation(compiled: CompiledTree, *, declared: Mapping[str, Sequence[Any]] | None = None,
                       owners: Iterable[str | Owner] = (), today: date | None = None) -> Escalation:
    """Analyse a compiled organization. ``declared``: policy key or name → its job functions' ``accept_risks``
    entries (as the build's risk analysis maps them); ``owners``: principals that own the controls besides
    break-glass and the deployment principals — ``role/NAME`` patterns (every control) or :class:`Owner` entries
    (the blueprint's ``security.control_owners``: every control, or the ones listed)."""
    # One View for both: it parses the tree's manifest once (a large file at 1,000 accounts), or not at all when the
    # compilation's Organization holds it (the build's access tests and lockout proof parsed it; the worker's share
    # of the access matrix reads it next) and was made from the same manifest text.
    view = View(compiled.files, _parsed_manifest(compiled))
    analysis = analyze(compiled.files, compiled.plan, owners=owners, declared=declared, view=view)
    found = diagnostics(analysis, compiled.plan, view.manifest, today or date.today())
    return Escalation(analysis, found, reports(analysis, compiled.plan.source_name))


def _parsed_manifest(compiled: CompiledTree) -> Manifest | None:
    """The manifest of the compilation's Organization (``guardrails.pipeline.Compiled.organization``), when it has
    one of these files' manifest text (the same string object in a build: the check costs nothing then)."""
    organization = getattr(compiled, "organization", None)
    if not isinstance(organization, Organization):
        return None
    text = compiled.files.get(MANIFEST)
    return organization.manifest if text is not None and organization.files.get(MANIFEST) == text else None


__all__ = ["Escalation", "Owner", "analyze_escalation"]
