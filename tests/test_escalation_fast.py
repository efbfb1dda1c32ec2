"""The escalation analysis's shortcuts against the plain computations they replace, on real compiled trees (the
example blueprint and a synthetic organization of tests/bench.py): the filter decided once per action signature
(guardrails/escalation/view.py), the methods chosen once per signatures, the roles whose trust names a caller, the
tampering requests skipped by run, the templates' resource blocks found by search (functions.py), the identity read
from the evaluator's memo, the compilation's parsed manifest, the roles naming a caller listed once per caller, owner
patterns matched once across classes and the probes' CreateRole grants read once per document text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace

import pytest

from guardrails.escalation import _parsed_manifest, analyze_escalation
from guardrails.escalation.report import class_rows

from guardrails.escalation.analysis import _request_blocks
from guardrails.escalation.catalog import catalog
from guardrails.escalation.controls import is_owner, owner_patterns, tamper_requests
from guardrails.escalation.functions import _TYPE, _blocks
from guardrails.escalation.scope import Scope
from guardrails.escalation.view import (LISTING, NONE, Node, View, _element, _exceptions_keep_identity, _names,
                                        _probes)
from guardrails.evaluation.engine import Policy
from guardrails.evaluation.lockout.paths import PathGroups
from guardrails.evaluation.organization import Account, PrincipalSpec, parse_principal
from guardrails.evaluation.statements import statements_of
from guardrails.iam.actions import any_action_matches, wildcard_matches
from guardrails.iam.manifest import MANIFEST, Manifest
from guardrails.pipeline import Compiled, compile_blueprint
from .bench import write_blueprint


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compile_blueprint(write_blueprint(tmp_path_factory.mktemp("bp") / "bp", 60), run_tests=False)


@pytest.fixture(params=["example", "synthetic"])
def compiled(request: pytest.FixtureRequest, example_compiled: Compiled, synthetic: Compiled) -> Compiled:
    return example_compiled if request.param == "example" else synthetic


def _scopes(files: dict[str, str]) -> list[Scope]:
    view = View(files)
    return [Scope(view, path.account) for path, _ in PathGroups(view.org).groups(by_class=True)]


def _actions(scope: Scope, compiled: Compiled) -> list[str]:
    found = {a for m in catalog().methods for a in m.actions} | {r.action for r in catalog().reach}
    found |= {r.action for r in tamper_requests(scope, compiled.plan, owner_patterns(scope, compiled.plan))}
    return sorted(found)


def _variants(scope: Scope) -> list[Node]:
    return [v for n in scope.principals for v in (n, Node(n.base, True), Node(n.base, False, NONE))]


def _plain_resources(policy: Policy, action: str) -> list[tuple[bool, tuple[str, ...]]]:
    """The Resource elements of the policy's Allow statements that name the action, statement by statement."""
    out = []
    for statement in statements_of(policy):
        if statement["Effect"] != "Allow":
            continue
        negated, patterns = _element(statement, "Action")
        if negated != any_action_matches(patterns, action):
            out.append(_element(statement, "Resource"))
    return out


def _plain_may(view: View, node: Node, account: Account, action: str, resource: str | None) -> bool:
    identity, boundary = view.identity(node, account)
    granted = tuple(r for p in identity for r in _plain_resources(p, action))
    bounded = None if boundary is None else tuple(_plain_resources(boundary, action))
    return _names(granted, resource) and (bounded is None or _names(bounded, resource))


def test_the_filter_answers_what_the_statements_say(compiled: Compiled) -> None:
    for scope in _scopes(compiled.files):
        view, account = scope.view, scope.account
        resources = [None, "*", *(scope.arn_of(r) for r in scope.role_targets[:6]),
                     f"arn:aws:s3:::guardrails-{account.id}/key", f"arn:aws:iam::{account.id}:policy/x"]
        for node in _variants(scope):
            for action in _actions(scope, compiled):
                for resource in resources:
                    assert view.may_allow(node, account, action, resource) == _plain_may(
                        view, node, account, action, resource), (node, account.name, action, resource)


def test_the_identity_read_from_the_memo_is_what_prepare_gives(compiled: Compiled) -> None:
    """View.identity reads the evaluator's memo of a principal's policies (no request prepared for it): the same
    policies, boundary and unmodeled ARNs as the policy set of the request it once prepared, for every principal
    of every group, the function and probe roles too."""
    assert _exceptions_keep_identity(LISTING)
    for scope in _scopes(compiled.files):
        view, account = scope.view, scope.account
        probes = [Node(f"role/{p.name}", synthetic="new-role") for p in view.probe_nodes(account)]
        for node in [*scope.principals, *probes]:
            _, policies = view.org.prepare(parse_principal(node.base), account.name, LISTING, "*")
            assert view.identity(node, account) == (policies.identity, policies.boundary), node
            assert view.unmodeled(node, account) == policies.unmodeled, node
            assert view.caller(node, account) == view.org.caller(parse_principal(node.base), account)


def test_the_methods_looked_at_are_the_possible_ones(compiled: Compiled) -> None:
    for scope in _scopes(compiled.files):
        for node in _variants(scope):
            plain = tuple(m for m in catalog().methods if m.kind == "assume-role" or (
                all(_plain_may(scope.view, node, scope.account, a, None) for a in m.all_of)
                and (not m.any_of or any(_plain_may(scope.view, node, scope.account, a, None) for a in m.any_of))))
            assert scope.candidate_methods(node) == plain, node


def test_the_roles_named_are_those_whose_trust_names_the_caller(compiled: Compiled) -> None:
    for scope in _scopes(compiled.files):
        for node in scope.principals:
            spec = PrincipalSpec(*node.base.split("/", 1))  # type: ignore[arg-type]
            caller = scope.view.org.caller(spec, scope.account)
            plain = [(r, scope._named(scope.entries[r.base].trust, caller)) for r in scope.role_targets
                     if r.base != node.base]
            assert list(scope.named_targets(caller, node.base)) == [(r, how) for r, how in plain if how], node


def test_the_request_runs_keep_every_request_in_order(compiled: Compiled) -> None:
    for scope in _scopes(compiled.files):
        requests = tamper_requests(scope, compiled.plan, owner_patterns(scope, compiled.plan))
        runs = _request_blocks(requests)
        assert [r for *_, run in runs for r in run] == requests
        for key, action, by_policy, run in runs:
            assert {(r.control.id, r.action) for r in run} == {key} and action == key[1]
            assert by_policy == any(r.resource_policy for r in run)
        assert len({key for key, *_ in runs}) == len(runs)  # one run per (control, action)


_RESOURCE = re.compile(r"^  [A-Za-z0-9]+:\s*$")


def _plain_blocks(text: str) -> dict[str, tuple[str | None, str]]:
    """The resource blocks, line by line (the implementation the searches replaced)."""
    body = ("\n" + text).split("\nResources:\n", 1)
    if len(body) != 2:
        return {}
    blocks: list[list[str]] = []
    for line in body[1].split("\n"):
        if line and not line.startswith((" ", "#")):
            break
        if _RESOURCE.match(line):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return {block[0].strip().rstrip(":"): (next((m.group(1) for m in map(_TYPE.match, block[1:3]) if m), None),
                                           "\n".join(block)) for block in blocks}


@pytest.mark.parametrize("text", [
    "", "Resources:\n", "Resources:\nOutputs:\n", "Resources:\n  A:\n    Type: X\n",
    "x: 1\nResources:\n# note\n  A: \r\n    Type: X\n  B:\n\n    Type: Y\nOutputs:\n  Z:\n",
    "Resources:\n  A:\n  B:\n    Type: Q", "Resources:\n  A:\n    Type: X\n\n\n"])
def test_resource_blocks_by_search_are_the_line_by_line_ones(text: str) -> None:
    assert _blocks(text) == _plain_blocks(text)


def test_resource_blocks_of_the_emitted_templates(compiled: Compiled) -> None:
    templates = [t for p, t in compiled.files.items() if p.startswith("cloudformation/") and p.endswith(".yaml")]
    assert templates
    for text in templates:
        assert _blocks(text) == _plain_blocks(text)


def test_the_view_keeps_the_trees_own_manifest(compiled: Compiled) -> None:
    """The diagnostics read the View's manifest: the tree's, without the roles the analysis adds."""
    view = View(compiled.files)
    assert view.manifest == Manifest.from_files(compiled.files)
    assert view.org.manifest != view.manifest  # the function and probe roles are the extended one's only


def test_the_extended_manifest_is_what_parsing_it_written_out_gives(compiled: Compiled) -> None:
    """The View gives its Organization the tree's manifest with the function and probe roles as values; written
    into the manifest's JSON (as the analysis once did) and parsed, the same roles give the same manifest."""
    view = View(compiled.files)
    written = json.loads(compiled.files[MANIFEST])
    for base, extended in zip(view.manifest.classes, view.org.manifest.classes, strict=True):
        added = extended.roles[len(base.roles):]
        assert extended.roles[:len(base.roles)] == base.roles and added
        written["classes"][base.key]["roles"] += [
            {"name": r.name, "path": r.path, "trust": r.trust, "policies": [],
             "inline_policies": list(r.inline_policies), "boundary": None, "max_session_duration": 3600}
            for r in added]
    assert view.org.manifest == Manifest.from_json(json.dumps(written))


def test_the_compilations_manifest_gives_the_analysis_parsing_it_gives(compiled: Compiled) -> None:
    """analyze_escalation takes the manifest of the compilation's Organization (parsed already) instead of
    parsing the files' manifest again: the reports, diagnostics and rows are those of a View that parses it."""
    assert _parsed_manifest(compiled) is compiled.organization.manifest
    plain = analyze_escalation(SimpleNamespace(plan=compiled.plan, files=compiled.files), today=date(2026, 12, 1))
    assert _parsed_manifest(SimpleNamespace(plan=compiled.plan, files=compiled.files)) is None
    fast = analyze_escalation(compiled, today=date(2026, 12, 1))
    assert fast.reports == plain.reports and fast.diagnostics == plain.diagnostics
    assert class_rows(fast.analysis) == class_rows(plain.analysis)


def test_owner_patterns_matched_by_strings_are_the_plain_match(compiled: Compiled) -> None:
    """is_owner matches (kind/name, role path, patterns) once for every class: the answer is the plain match."""
    for scope in _scopes(compiled.files):
        patterns = owner_patterns(scope, compiled.plan, ["role/*admin*", "group/*", "role/workload/*", "user/x"])
        for node in [*scope.principals, *(Node(n.base, True) for n in scope.principals)]:
            kind, name = node.base.split("/", 1)
            entry = scope.entries.get(node.base) if kind == "role" else None
            path = entry.path.lstrip("/") if entry else ""
            for owners in [patterns, *((p,) for p in patterns)]:
                plain = any(p.partition("/")[0] == kind and (wildcard_matches(p.partition("/")[2], name) or
                                                             wildcard_matches(p.partition("/")[2], path + name))
                            for p in owners)
                assert is_owner(node, owners, scope) == plain, (node, owners)


def test_an_unreadable_trust_raises_where_the_role_by_role_loop_does(synthetic: Compiled) -> None:
    """named_targets lists the roles naming a caller once per caller; when a trust cannot be read it walks the
    roles one by one as before: the same roles, or the same error, as a loop asking each role's trust."""
    scope = _scopes(synthetic.files)[0]
    victim = scope.role_targets[len(scope.role_targets) // 2]
    files = dict(synthetic.files)
    files[scope.entries[victim.base].trust] = "{"
    scope = Scope(View(files), scope.account)

    def outcome(run: Callable[[], list[tuple[Node, str]]]) -> object:
        try:
            return run()
        except Exception as exc:  # noqa: BLE001 - the error is what is compared
            return type(exc), str(exc)

    failed = 0
    for node in [*scope.principals[:4], victim]:
        caller = scope.view.caller(node, scope.account)
        plain = outcome(lambda: [(r, how) for r in scope.role_targets if r.base != node.base
                                 for how in (scope._named(scope.entries[r.base].trust, caller),) if how])
        assert outcome(lambda: list(scope.named_targets(caller, node.base))) == plain, node
        failed += isinstance(plain, tuple)
    assert failed  # the broken trust was met


def test_the_probes_of_each_class_are_those_read_without_the_shared_texts(compiled: Compiled) -> None:
    """The View reads each document text's CreateRole grants once for every class: each class's probes are those
    read from its own documents alone."""
    view = View(compiled.files)
    for cls in view.org.manifest.classes:
        roles = [r for r in cls.roles if r.name not in {p.name for p in view.probes[cls.key]}]
        assert _probes(view.manifest, cls, roles, view.org.files, {}) == view.probes[cls.key], cls.key
