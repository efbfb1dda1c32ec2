"""Runs the stages in order; the only module that imports all of them.

blueprint (read) → model (resolve, check) → policies (plan) → emitters (text) → validators.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardrails.blueprint import load_blueprint
from guardrails.diagnostics import (
    BlueprintError,
    Diagnostic,
    Location,
    Severity,
    ValidationFailed,
)
from guardrails.emitters import emit_all
from guardrails.emitters.write import (
    check_target,
    discard_rejected,
    keep_rejected,
    not_text,
    read_tree,
    stage_output,
    swap_in,
    write_output,
)
from guardrails.evaluation.assertions import CaseResult, failure_diagnostics, run_tests
from guardrails.evaluation.organization import Organization
from guardrails.model import Model, build_model
from guardrails.model.accepted import Acceptance, apply_acceptances
from guardrails.policies import risks
from guardrails.policies.class_lock import LOCK_FILE, seed_lock, stale_lock, write_lock
from guardrails.policies.identity_center import console_user_warnings
from guardrails.policies.security import root_session_warnings
from guardrails.policies.trust_conditions import confused_deputy_warnings
from guardrails.policies.ir import Plan
from guardrails.policies.synthesize import synthesize
from guardrails.gc_policy import fewer_collections
from guardrails.progress import step
from guardrails.workers import start, worker_count

if TYPE_CHECKING:  # imported where used: `test` and `explain` run neither the proofs nor the escalation analysis
    from guardrails.escalation import Owner
    from guardrails.escalation.report import EscalationRows
    from guardrails.evaluation.lockout import Coverage


@dataclass
class Compiled:
    plan: Plan
    files: dict[str, str]
    seconds: float
    warnings: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # accepted risks, for the build summary
    test_results: list[CaseResult] = field(default_factory=list)  # the blueprint's access tests, when run
    lockout: Coverage | None = None  # what the lockout proof covered, when it ran
    # The blueprint's accepted_warnings (guardrails.model.accepted) and the findings they took, for the summaries
    # and SARIF: accepted findings are listed with their reasons, never dropped silently.
    acceptances: tuple[Acceptance, ...] = ()
    accepted: list[tuple[Diagnostic, Acceptance]] = field(default_factory=list)

    @cached_property
    def organization(self) -> Organization:
        """The emitted policy tree, indexed for the evaluator (built once; the access tests, the lockout proof,
        explain and audit share it)."""
        return Organization({p: t for p, t in self.files.items() if p.startswith("policies/")})

    @property
    def accepted_lines(self) -> list[str]:
        """One summary line per accepted finding: where, what, the reason and where it is accepted."""
        return sorted({acceptance.describe(diagnostic) for diagnostic, acceptance in self.accepted})


@dataclass
class BuildResult:
    compiled: Compiled
    diagnostics: list[Diagnostic] = field(default_factory=list)
    validator_summary: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    lock: str = ""  # the class-name lock the build wrote beside the blueprint (policies/class_lock.py), if it did


def compile_blueprint(directory: Path, *, today: date | None = None, run_tests: bool = True) -> Compiled:
    """Blueprint directory → plan and every output file, in memory. Raises BlueprintError.

    ``today`` decides which accepted risks are past their review date (warnings only; never in the output).
    The blueprint's access tests and the lockout proof (guardrails.evaluation.lockout: break-glass, deployment
    and MFA enrollment are never denied) run against the emitted policies unless ``run_tests`` is false; a
    failure is a blueprint error (the blueprint does not do what it says it does), so nothing is written.
    """
    return _compile(directory, emit_all, today=today, run_tests=run_tests)


def compile_policy_tree(directory: Path, *, today: date | None = None, run_tests: bool = True,
                        own_checks: bool = False) -> Compiled:
    """:func:`compile_blueprint` emitting only ``policies/`` (guardrails.emitters.policy_tree): the same
    diagnostics, test results, lockout proof and escalation findings; no reports without ``run_tests``, and job
    reports without the AWS-counterpart comparison (the least-privilege report's). For ``check``, ``test`` and
    ``explain``, never for a build.

    ``own_checks`` (``check``) also runs the validators' own checks on the plan (GR501–GR507,
    :func:`guardrails.validators.own_checks.check_plan`), the part of ``build``'s validation that needs no rendered
    template: ``check`` fails whenever ``build --skip-external`` would (template quotas aside: docs/validation.md)."""
    from guardrails.emitters.policy_tree import emit_policy_tree

    return _compile(directory, emit_policy_tree, today=today, run_tests=run_tests, reports=False,
                    own_checks=own_checks)


@fewer_collections()
def _compile(directory: Path, emit: Callable[[Plan], dict[str, str]], *, today: date | None, run_tests: bool,
             reports: bool = True, own_checks: bool = False) -> Compiled:
    """The stages after the model report their errors without stopping each other: scale, risks, the own checks,
    the access tests, the lockout proof and the escalation analysis read the same plan, so one run names every
    problem (issue 18). The blueprint and model stages stop the run (there is no plan to read without them), and a
    scale error stops it before emitting (the emitters cannot render past a CloudFormation quota)."""
    started = time.perf_counter()
    today = today or date.today()
    with step("compile"):
        model = build_model(load_blueprint(directory, partial=True))
        owners = control_owners(model)  # before the plan: a wrong reference is a blueprint error like the model's
        plan = synthesize(model, comparisons=reports)
    escalate = partial(_escalate, model=model, owners=owners, today=today, findings=run_tests)
    job = own_part = tree = None
    if (run_tests or reports) and worker_count() == 2:
        # The escalation analysis reads only policies/ and the templates' custom-resource functions (the policy tree
        # and its stubs, guardrails/emitters/policy_tree.py): a forked child runs it while this process checks the
        # plan, renders the rest and runs the access tests and the lockout proof. Errors keep the one-process order
        # (plan checks, tests, lockout, escalation); tests/test_workers.py checks that output, diagnostics and
        # reports are the same. Forked before the plan's checks: they are the parent's work while the child runs
        # (a scale error cancels the child below).
        from guardrails.emitters.policy_tree import emit_policy_tree

        tree = emit_policy_tree(plan)
        job = start(partial(_in_worker, Compiled(plan, tree, 0.0), escalate, matrix=reports))
    try:
        with step("plan checks"):
            warnings, notes, errors, scale = _plan_checks(model, plan, today, own_checks=own_checks)
        if scale:  # the emitters cannot render past these quotas: stop here, with what the plan stages found
            raise BlueprintError(errors)
        compiled = Compiled(plan, {}, 0.0, warnings, notes)
        with step("emit"):
            if tree is None:
                compiled.files = emit(plan)
            else:
                compiled.files = tree if emit is not emit_all else emit_all(
                    plan, emitted={p: t for p, t in tree.items() if p.startswith("policies/")})
        if run_tests:
            errors += _prove(compiled, model)
        # The parent's part of the HTML report's access matrix while the worker finishes (not for a failing run).
        if job is not None and reports and not errors:
            from guardrails.html_index import matrix_part

            own_part = matrix_part(compiled.organization, worker=False)
    except BaseException:
        if job is not None:
            job.cancel()
        raise
    escalation = worker_part = None
    if job is not None or run_tests or reports:
        with step("escalation analysis"):
            if job is not None:
                escalation, worker_part = job.result()
            else:
                escalation = escalate(compiled)
    if escalation is not None:
        reports_found, escalation_warnings, escalation_errors, escalation_rows = escalation
        compiled.files.update(reports_found)
        compiled.warnings += escalation_warnings
        errors += escalation_errors
        if reports and not errors:  # the page describes a plan that passed; a failed run raises below
            from guardrails.html_index import html_index, joined

            matrix = joined([worker_part, own_part])  # both workers' parts; None: html_index computes it
            compiled.files["reports/index.html"] = html_index(compiled, escalation_rows, matrix)
    if errors:
        raise BlueprintError(errors)
    # Accepted guardrails warnings; stale ones only when every stage that warns has run (not for `show`/`explain`).
    taken = apply_acceptances(model.acceptances, compiled.warnings, cfn_lint=False)
    compiled.warnings = taken.kept + (taken.stale if run_tests else [])
    compiled.acceptances, compiled.accepted = model.acceptances, taken.taken
    compiled.seconds = time.perf_counter() - started
    return compiled


def _plan_checks(model: Model, plan: Plan, today: date, *, own_checks: bool
                 ) -> tuple[list[Diagnostic], list[str], list[Diagnostic], list[Diagnostic]]:
    """What the plan stages find, in the order a run reports it: (warnings, accepted-risk notes, errors, scale
    errors). Scale: CloudFormation quotas the organization's size reaches (the emitters cannot render past them).
    ``own_checks`` (``check``): the validators' checks on the plan (no emitter, no file), what build's validation
    adds."""
    scale = _scale_errors(model, plan)
    errors = list(scale)
    warnings, notes, risk_errors = _check_risks(model, plan, today)
    warnings = [*model.warnings, *warnings]
    errors += risk_errors
    if own_checks:
        from guardrails.validators.own_checks import check_plan

        found = check_plan(plan)
        errors += _errors(found)
        warnings += [d for d in found if d.severity is not Severity.ERROR]
    warnings += console_user_warnings(model)  # IAM users with console access: Identity Center is for people
    warnings += root_session_warnings(model)  # centralized root access, but deny-root-user denies its sessions
    warnings += confused_deputy_warnings(model)  # a service trust its service's documentation asks to narrow
    return warnings, notes, errors, scale


def _prove(compiled: Compiled, model: Model) -> list[Diagnostic]:
    """The access tests, then the lockout proof (GR403, GR404) of ``compiled``'s policy tree: their errors together
    (the blueprint does not do what it says it does, so nothing is written)."""
    errors: list[Diagnostic] = []
    if compiled.plan.tests:
        with step("access tests"):
            compiled.test_results = run_access_tests(compiled)
        errors += failure_diagnostics(compiled.test_results)
    from guardrails.evaluation.outside_trusts import outside_trust_denials

    with step("lockout proof"):
        errors += prove_lockout_safety(compiled, model)
        errors += outside_trust_denials(compiled.organization, [  # GR404: trusts to outside accounts an RCP denies
            (role.name or key, entry.account, model.source.where("roles", key, "trust", "accounts", index))
            for key, role in model.blueprint.roles.items() for index, entry in enumerate(role.trust.accounts)])
    return errors


def _in_worker(tree: Compiled, escalate: Callable[[Compiled], Any], *, matrix: bool) -> tuple[Any, Any]:
    """The second worker's part: the escalation analysis of ``tree`` (the policy tree and its stubs) and, for the
    HTML report, its share of the access matrix of the same policies (``("ok", part)`` or ``("error", traceback)``:
    the parent needs it only when the run passes, and fails the run then). The matrix was 0.6 s of the parent's
    1.9 s at 1,000 accounts; it reads only ``policies/``, which the parent writes unchanged (``emit_all(emitted=)``)."""
    escalation = escalate(tree)
    if not matrix:
        return escalation, None
    from guardrails.html_index import matrix_part

    return escalation, matrix_part(tree.organization, worker=True)


def _escalate(compiled: Compiled, *, model: Model, owners: list[Owner], today: date, findings: bool
              ) -> tuple[dict[str, str], list[Diagnostic], list[Diagnostic], EscalationRows]:
    """Escalation and tamper analysis (GR405/GR406): its reports (reports/escalation*.md) and per-class summary
    rows (the HTML report's) always, with ``findings`` its warnings and errors (an escalation or tampering path is
    an error, like a lockout). Picklable: the second worker sends it back."""
    from guardrails.escalation import analyze_escalation
    from guardrails.escalation.report import class_rows

    declared = _declarations_by_policy(compiled.plan, _risk_declarations(model))
    escalation = analyze_escalation(compiled, declared=declared, owners=owners, today=today)
    return (escalation.reports, escalation.warnings if findings else [], escalation.errors if findings else [],
            class_rows(escalation.analysis))


def _accept_validator_findings(compiled: Compiled, found: list[Diagnostic], *, cfn_lint_ran: bool
                               ) -> list[Diagnostic]:
    """The validators' findings minus the cfn-lint findings the blueprint accepts (kept in ``compiled.accepted``);
    GR322 for an acceptance cfn-lint ran for and matched nothing."""
    taken = apply_acceptances(compiled.acceptances, found, cfn_lint=True)
    compiled.accepted += taken.taken
    return taken.kept + (taken.stale if cfn_lint_ran else [])


def _scale_errors(model: Model, plan: Plan) -> list[Diagnostic]:
    from guardrails.scale import scale_diagnostics

    return list(scale_diagnostics(model, plan))


def control_owners(model: Model) -> list[Owner]:
    """``security.control_owners`` for the escalation analysis, checked against the principals the blueprint
    defines — a role of ``roles:``, break-glass, a deployment role or principal, a permission set
    (guardrails.escalation.owners.blueprint_owners). Never the lockout proof's input: owning a control exempts from
    no guardrail."""
    bp = model.blueprint
    entries = bp.security.control_owners if bp.security is not None else []
    if not entries:
        return []
    org = bp.organization
    roles = [(role.path, role.name or key) for key, role in bp.roles.items()]
    roles += [("/", org.break_glass.role), ("/", org.deployment_role), ("/", org.management_account.deployment_role)]
    deployers = [*org.deployment_principals, *(org.control_tower.roles if org.control_tower else ())]
    sets = bp.identity_center.permission_sets if bp.identity_center else {}
    from guardrails.escalation.owners import blueprint_owners

    return blueprint_owners([(e.principal, e.controls, e.reason) for e in entries], roles=roles,
                            role_patterns=deployers, permission_sets=sets,
                            where=partial(model.source.where, "security", "control_owners"))


def prove_lockout_safety(compiled: Compiled, model: Model) -> list[Diagnostic]:
    """GR403 for every way the emitted SCPs and RCPs lock break-glass, deployment or MFA enrollment out."""
    from guardrails.evaluation.lockout import lockout_diagnostics, prove

    plan = compiled.plan
    organization = compiled.organization
    proof = prove(organization, deployment_roles=(plan.org.deployment_role,),
                  management_deployer=plan.org.management_deployment_role, bootstrap_role=plan.org.deployment_role)
    compiled.lockout = proof.coverage
    origins = {(policy.name, index): statement.origin for policy in (*plan.scps, *plan.rcps)
               for index, statement in enumerate(policy.document.statements)}
    return lockout_diagnostics(proof.findings, origins=origins, default=model.source.where("organization"))


def run_access_tests(compiled: Compiled) -> list[CaseResult]:
    """Every case of the blueprint's access tests, evaluated against the compiled policy tree."""
    organization = compiled.organization
    return run_tests(organization, compiled.plan.tests)


def _check_risks(model: Model, plan: Plan, today: date
                 ) -> tuple[list[Diagnostic], list[str], list[Diagnostic]]:
    """Risky grants must be mitigated by scope or conditions, or declared by their job function.

    Returns (warnings, the accepted-risk summary, errors). Every document that grants is analysed
    (risks.analyze_plan): job functions' policies, inline role policies,
    permission sets' inline policies and resource policies. A job function's ``accept_risks`` covers its managed
    policies and the permission sets whose inline policy is compiled from them; resource policies take none.
    """
    by_job = _risk_declarations(model)
    declared = _declarations_by_policy(plan, by_job)
    problems = risks.declaration_diagnostics(by_job)  # per job function: each declaration is checked once
    errors, accepted, expired = risks.unaccepted(risks.analyze_plan(plan), declared, today)
    found = problems + risks.risk_diagnostics(errors, expired)
    return ([d for d in found if d.severity is not Severity.ERROR], _accepted_summary(accepted),
            [d for d in found if d.severity is Severity.ERROR])


def _risk_declarations(model: Model) -> dict[str, list[risks.AcceptedRisk]]:
    """Job function → its ``accept_risks`` entries, located in the blueprint (a built-in's come with its grants)."""
    by_job: dict[str, list[risks.AcceptedRisk]] = {}
    for job, spec in model.jobs.items():
        by_job[job] = [risks.AcceptedRisk(a.risk, " ".join(a.reason.split()), a.owner, a.review_by,
                                          str(model.source.where("job_functions", job, *spec.accept_risk_paths[i])))
                       for i, a in enumerate(spec.accept_risks)]
    return by_job


def _declarations_by_policy(plan: Plan, by_job: dict[str, list[risks.AcceptedRisk]]
                            ) -> dict[str, list[risks.AcceptedRisk]]:
    """Policy key → the declarations that may cover its findings: a job function's own managed policies (one or
    several parts) carry the job's; a permission set's inline policy those of every job function inlined into it
    (the permission-set schema has no ``accept_risks`` of its own)."""
    declared: dict[str, list[risks.AcceptedRisk]] = {}
    for report in plan.job_reports:
        for key in report.policy_keys:
            declared[key] = by_job.get(report.job, [])
    if plan.identity_center is not None:
        for permission_set in plan.identity_center.permission_sets:
            entries = [a for key in permission_set.inlined for a in declared.get(key, ())]
            if entries:
                declared[permission_set.key] = list(dict.fromkeys(entries))
    return declared


def _accepted_summary(accepted: list[tuple[risks.PlanRisk, risks.AcceptedRisk]]) -> list[str]:
    """One line per policy: which risks it keeps on purpose, whose decision, next review (reasons: the blueprint)."""
    by_policy: dict[str, tuple[set[str], set[str], set[date]]] = {}
    for risk, declaration in accepted:
        rules, owners, dates = by_policy.setdefault(risk.label, (set(), set(), set()))
        rules.add(risk.finding.rule)
        owners.add(declaration.owner)
        dates.add(declaration.review_by)
    return [f"{policy}: {', '.join(sorted(rules))} (owner {', '.join(sorted(owners))}; review by "
            f"{min(dates).isoformat()})" for policy, (rules, owners, dates) in sorted(by_policy.items())]


def _errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]


def build(directory: Path, output: Path, *, validate: bool = True, external: bool = True,
          checkov: str | None = None) -> BuildResult:
    """Compile, stage, validate the staged tree, then swap it in.

    If validation finds errors the previous ``output`` stays as it was and the rejected tree is
    kept beside it (``.<name>.rejected``) for inspection, until a build succeeds; :class:`ValidationFailed` is raised.
    An ``output`` that is a file, or a non-empty folder that is not a guardrails output, is refused first
    (:func:`~guardrails.emitters.write.check_target`): nothing of the user's is ever moved.
    """
    check_target(output)
    seed_lock(directory, output)
    compiled = compile_blueprint(directory)
    previous = read_tree(output)
    result = BuildResult(compiled, diagnostics=list(compiled.warnings))
    result.added = sorted(set(compiled.files) - set(previous))
    result.removed = sorted(set(previous) - set(compiled.files))
    result.changed = sorted(p for p in set(compiled.files) & set(previous) if compiled.files[p] != previous[p])
    staging = stage_output(compiled.files, output)
    try:
        if validate:
            from guardrails.validators import validate as run_validators

            report = run_validators(compiled.plan, staging, checkov=checkov, run_external=external)
            result.diagnostics = [*compiled.warnings, *_accept_validator_findings(compiled, report.diagnostics,
                                                                                  cfn_lint_ran=external)]
            result.validator_summary = report.summary()
            if _errors(result.diagnostics):
                raise ValidationFailed(result.diagnostics, rejected=keep_rejected(staging, output))
        swap_in(staging, output)
        discard_rejected(output)
        result.lock = write_lock(directory, {c.key: c.accounts for c in compiled.plan.classes})
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


def validate_output(directory: Path, output: Path, *, external: bool = True, checkov: str | None = None) -> BuildResult:
    """Validate the existing ``output`` (as generated from ``directory``) without rewriting it.

    The tree must be exactly what the blueprint compiles to: every added, changed, removed or unreadable file is a
    GR508 error (Terraform's own files — ``.terraform/``, lock, state, tfvars, backend and override files — are not
    compared). The validators then run on a copy of the text files read, so a binary or foreign file cannot crash
    them and what they check is what was compared.
    """
    import tempfile

    from guardrails.validators import validate as run_validators

    compiled = compile_blueprint(directory)
    result = BuildResult(compiled)
    if not output.is_dir():
        what = "a file, not a directory" if output.exists() else "missing"
        result.diagnostics = [*compiled.warnings, Diagnostic.of(
            "GR508", f"the output directory {output} is {what}: nothing to validate", None,
            f"`guardrails build {directory} -o {output}` writes and validates it")]
        result.validator_summary = ["validators: skipped (no output directory)"]
        return result
    on_disk = read_tree(output)
    drift = output_drift(compiled.files, on_disk)
    result.added, result.changed, result.removed = drift.added, drift.changed, drift.removed
    readable = {path: text for path, text in on_disk.items() if not_text(text) is None}
    with tempfile.TemporaryDirectory(prefix="guardrails-validate-") as scratch:
        copy = Path(scratch) / "output"
        write_output(readable, copy)
        report = run_validators(compiled.plan, copy, checkov=checkov, run_external=external)
    result.diagnostics = [*compiled.warnings, *drift_diagnostics(drift, output),
                          *_accept_validator_findings(compiled, report.diagnostics, cfn_lint_ran=external)]
    result.validator_summary = report.summary()
    return result


def drift_diagnostics(drift: OutputDrift, output: Path) -> list[Diagnostic]:
    """GR508 for every file of ``output`` that is not what the blueprint compiles to, located in the file (its path
    relative to ``output``, like the own checks) at the first line that differs or does not parse."""
    rebuild = f"`guardrails build` regenerates {output} from the blueprint (review why it changed first)"
    found: list[Diagnostic] = []
    for path in drift.added:
        found.append(Diagnostic.of("GR508", f"missing from {output}: the blueprint compiles to this file",
                                   Location(path), rebuild))
    for path in drift.removed:
        why = not_text(drift.on_disk[path])
        found.append(Diagnostic.of("GR508", f"in {output}, but the blueprint does not generate this file"
                                   + (f" ({why})" if why else " (added by hand, or left from an older build)"),
                                   Location(path), "remove it, or regenerate the whole tree: " + rebuild))
    for path in drift.changed:
        text, expected = drift.on_disk[path], drift.expected[path]
        why = not_text(text)
        if why is not None:
            found.append(Diagnostic.of("GR508", f"this file in {output} is {why}, not the generated text",
                                       Location(path), rebuild))
            continue
        if path.endswith(".json"):
            try:
                json.loads(text)
            except ValueError as exc:
                line, column = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
                found.append(Diagnostic.of("GR508", f"this file in {output} is not valid JSON "
                                           f"({getattr(exc, 'msg', exc)})", Location(path, line, column), rebuild))
                continue
        lines, wanted = text.splitlines(), expected.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(lines, wanted)) if a != b), min(len(lines), len(wanted)))
        found.append(Diagnostic.of("GR508", f"this file in {output} differs from what the blueprint compiles to "
                                   f"(from line {first + 1}; edited by hand or generated from another blueprint)",
                                   Location(path, first + 1, 1), rebuild))
    return found


@dataclass(frozen=True)
class OutputDrift:
    """How an output directory differs from what the blueprint compiles to (paths relative to the output)."""

    added: list[str]  # generated now, missing on disk
    changed: list[str]  # on disk with other content
    removed: list[str]  # on disk, no longer generated
    expected: dict[str, str] = field(default_factory=dict, repr=False)
    on_disk: dict[str, str] = field(default_factory=dict, repr=False)
    lock: str = ""  # the blueprint's class-name lock, when a build would rewrite it (policies/class_lock.py)

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.lock)

    def excerpt(self, path: str, max_lines: int = 20) -> list[str]:
        """The start of a unified diff (on disk → expected) of one changed file; at most ``max_lines`` lines."""
        import difflib
        import itertools

        diff = difflib.unified_diff(self.on_disk.get(path, "").splitlines(), self.expected.get(path, "").splitlines(),
                                    f"a/{path}", f"b/{path}", lineterm="", n=1)
        return list(itertools.islice(diff, max_lines))


def output_drift(files: dict[str, str], on_disk: dict[str, str]) -> OutputDrift:
    """Compare generated ``files`` with an output tree as :func:`read_tree` returns it; pure."""
    return OutputDrift(added=sorted(set(files) - set(on_disk)),
                       changed=sorted(p for p in set(files) & set(on_disk) if files[p] != on_disk[p]),
                       removed=sorted(set(on_disk) - set(files)), expected=files, on_disk=on_disk)


def check_output(directory: Path, output: Path) -> tuple[Compiled, OutputDrift]:
    """Compile in memory and compare with ``output``; writes nothing and runs no validator.

    Staleness is a question about text, not about validity: the build that wrote ``output`` validated it,
    and ``guardrails validate`` re-checks it. Blueprint errors still raise :class:`BlueprintError`.
    """
    from dataclasses import replace

    compiled = compile_blueprint(directory)
    drift = output_drift(compiled.files, read_tree(output))
    if stale_lock(directory, {c.key: c.accounts for c in compiled.plan.classes}) is not None:
        drift = replace(drift, lock=str(directory / LOCK_FILE))
    return compiled, drift
