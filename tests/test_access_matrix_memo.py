"""The access matrix's memo (guardrails.evaluation.decision_memo) and rows (Organization.prepare_many,
DecisionMemo.answers) answer exactly what Organization.evaluate answers, cell by cell, on the example and on a
synthetic organization (tests/bench.py), also with statements written to catch a share that is too wide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.evaluation.access_matrix import PROBES, Probe, access_matrix, plain_cell
from guardrails.evaluation.decision_memo import DecisionMemo
from guardrails.evaluation.organization import Organization
from guardrails.pipeline import Compiled, compile_policy_tree

from .bench import write_blueprint


def _assert_same_as_plain(files: dict[str, str], probes: tuple[Probe, ...] = PROBES) -> int:
    fast = access_matrix(Organization(files), probes)
    plain_org = Organization(files)  # its own memos: nothing the fast path kept is read
    for group in fast.groups:
        for principal, cells in group.rows:
            for probe, cell in zip(fast.probes, cells, strict=True):
                assert cell == plain_cell(plain_org, principal, group.representative, probe), (
                    group.representative, principal, probe.id)
    return fast.evaluations


def test_the_example_matrix_is_the_plain_evaluation(example_compiled: Compiled) -> None:
    assert _assert_same_as_plain(dict(example_compiled.files)) > 0


def test_a_synthetic_matrix_is_the_plain_evaluation(tmp_path: Path) -> None:
    files = compile_policy_tree(write_blueprint(tmp_path / "bp", 200), run_tests=False).files
    assert _assert_same_as_plain(dict(files)) > 500  # six groups of ~40 principals


# Probes whose requests in one row differ in region (the row's requests share a context per region), one that only a
# policy variable in a Resource tells apart for two principals (_SCP_EXTRA), and one a malformed Condition fits.
_ADVERSARIAL_PROBES = (*PROBES,
                       Probe("ec2-elsewhere", "start an instance in another region", "ec2:StartInstances",
                             "arn:${partition}:ec2:ap-south-1:${account_id}:instance/i-0" + "0" * 16),
                       Probe("s3-named", "read the tags of an object named like a user", "s3:GetObjectTagging",
                             "arn:${partition}:s3:::named/break-glass-alice/object"),
                       Probe("sqs-broken", "send a message", "sqs:SendMessage",
                             "arn:${partition}:sqs:${region}:${account_id}:queue"))

# Identity statements whose answer depends on who asks and where, in every managed and inline policy: principals that
# share a document (break-glass-alice and -bob) differ only in these conditions' answers.
_IDENTITY_EXTRA = (
    {"Effect": "Allow", "Action": ["s3:GetObject", "ec2:StartInstances"], "Resource": "*",
     "Condition": {"ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/B*", "arn:aws:iam::*:user/*alice"]}}},
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
     "Condition": {"StringEquals": {"aws:username": "break-glass-bob"}}},
    {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}},
    {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/guardrails:purpose": "break-glass"}}},
    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"StringEquals": "broken"}},
)
# SCP statements every principal of an account reads alike: roles without a fitting identity statement (AWSSupport,
# GuardrailsAlertForwarding) differ only in these, and so do break-glass-alice and -bob, but for the second one only
# in a policy variable of its Resource (none of its Conditions tells them apart). The first block is asked in two
# regions by one row (ec2-read in the home region first, iam-read in us-east-1): an answer kept per block, not per
# context, would be the first one's.
_SCP_EXTRA = (
    {"Effect": "Deny", "Action": ["ec2:DescribeInstances", "iam:ListRoles"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"},
                   "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/AWSSupport"}}},
    {"Effect": "Deny", "Action": "s3:GetObjectTagging", "Resource": "arn:aws:s3:::named/${aws:username}/*"},
    {"Effect": "Deny", "Action": ["s3:PutObject", "cloudtrail:StopLogging"], "Resource": "*",
     "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/guardrails/*"}}},
)


def _adversarial(files: dict[str, str]) -> dict[str, str]:
    """The tree with :data:`_IDENTITY_EXTRA` in every managed and inline identity policy and :data:`_SCP_EXTRA` in
    every SCP: a memo, Condition answer or context shared too widely answers one principal with another's decision,
    and a malformed Condition makes every request it fits raise (no answer may be kept for it)."""
    changed = dict(files)
    for path, text in files.items():
        is_identity = path.startswith("policies/accounts/") and ("/managed/" in path or "/inline/" in path)
        if is_identity or path.startswith("policies/scp/"):
            document = json.loads(text)
            statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
            document["Statement"] = [*statements, *(_IDENTITY_EXTRA if is_identity else _SCP_EXTRA)]
            changed[path] = json.dumps(document)
    return changed


def test_an_adversarial_example_matrix_is_the_plain_evaluation(example_compiled: Compiled) -> None:
    files = _adversarial(dict(example_compiled.files))
    assert _assert_same_as_plain(files, _ADVERSARIAL_PROBES) > 0
    cells = [c for g in access_matrix(Organization(files), _ADVERSARIAL_PROBES).groups for _, row in g.rows
             for c in row]
    outcomes = {c.outcome for c in cells}
    assert {"allowed", "unknown"} <= outcomes and len(outcomes) > 3  # the statements do decide cells


def test_an_adversarial_synthetic_matrix_is_the_plain_evaluation(tmp_path: Path) -> None:
    files = compile_policy_tree(write_blueprint(tmp_path / "bp", 200), run_tests=False).files
    assert _assert_same_as_plain(_adversarial(dict(files)), _ADVERSARIAL_PROBES) > 500


def test_the_memo_shares_answers_across_principals(example_compiled: Compiled) -> None:
    """Most principals of a group have no statement fitting a probe: their requests have one signature."""
    organization = Organization(dict(example_compiled.files))
    account = next(a for a in organization.accounts.values() if not a.management)
    memo, signatures = DecisionMemo(), set()
    for spec in organization.principals(account):
        request, policies = organization.prepare(spec, account.name, "cloudtrail:StopLogging", "*")
        signatures.add(memo.signature(request, policies))
    assert None not in signatures and len(signatures) < len(organization.principals(account))


def test_the_signature_covers_every_input_field_the_engine_has() -> None:
    """The signature lists what engine.evaluate reads field by field: a field added to PolicySet, Request or Caller
    must be weighed there (decision_memo's docstring) before this list is extended, or two requests the engine tells
    apart could share an answer."""
    from dataclasses import fields

    from guardrails.evaluation.engine import Caller, PolicySet, Request

    assert {f.name for f in fields(PolicySet)} == {
        "scp_levels", "rcp_levels", "identity", "boundary", "session", "resource", "resource_required",
        "identity_implicit", "scp_exempt_reason", "unmodeled", "key_policy", "resource_unknown", "notes",
        "task_policy", "exemptions", "rcp_exempt_reason", "caller_unknown", "boundary_unknown"}
    # context: through the conditions it decides and the policy variables; context_origin: explanations only.
    assert {f.name for f in fields(Request)} == {
        "caller", "action", "resource", "resource_account", "context", "context_origin", "resource_types"}
    # kind and account always; the whole caller when a resource policy's Principal is compared with it.
    assert {f.name for f in fields(Caller)} == {
        "kind", "principal_arn", "account", "arn", "federated_provider", "service"}


def test_a_probe_that_cannot_be_expanded_is_unknown_in_its_cells_only(example_compiled: Compiled) -> None:
    """access_matrix expands each probe's resource once per group: a probe it cannot expand (an account the tree does
    not have) is unknown with plain_cell's message in its own column, and the other probes are still evaluated."""
    from guardrails.evaluation.access_matrix import PROBES, UNKNOWN, Probe

    files = dict(example_compiled.files)
    broken = Probe("broken", "read a bucket of no account", "s3:GetObject", "arn:aws:s3:::${account_id:nowhere}/x")
    probes = (PROBES[0], broken)
    fast = access_matrix(Organization(files), probes)
    plain_org = Organization(files)
    for group in fast.groups:
        for principal, cells in group.rows:
            assert cells[1].outcome == UNKNOWN
            assert list(cells) == [plain_cell(plain_org, principal, group.representative, p) for p in probes]


def _same_inputs_as_one_resource_at_a_time(files: dict[str, str]) -> int:
    """prepare shares one Side between the resources of a principal that have no resource policy and agree on what
    the rest of the Side reads of them (guardrails.evaluation.prepare._side): every request it prepares that way
    equals the one an organization that was never asked about another resource prepares."""
    from guardrails.evaluation.access_matrix import PROBES
    from guardrails.evaluation.context import _NOW
    from guardrails.evaluation.lockout.paths import PathGroups

    shared = Organization(files)
    reps = [path.account for path, _ in PathGroups(shared).groups(by_class=True)]
    # The probes in the principal's account, in another account of the tree and in an account outside it.
    outside = "arn:aws:secretsmanager:us-east-1:999999999999:secret:elsewhere-AbCdEf"
    asked = [(probe.action, probe.resource, i) for probe in PROBES for i in (0, 1)]
    asked.append(("secretsmanager:GetSecretValue", outside, 0))
    alone: dict[str, Organization] = {}  # each asked about one resource only
    compared = 0
    for n, rep in enumerate(reps):
        for spec in shared.principals(rep):
            for action, written, other in asked:
                resource = shared.expand(written, reps[(n + other) % len(reps)])
                fast, fast_policies = shared.prepare(spec, rep.name, action, resource)
                plain, plain_policies = alone.setdefault(resource, Organization(files)).prepare(
                    spec, rep.name, action, resource)
                assert fast_policies == plain_policies, (rep.name, str(spec), action, resource)
                assert ({k: v for k, v in fast.context.items() if k not in _NOW}
                        == {k: v for k, v in plain.context.items() if k not in _NOW})
                assert (fast.caller, fast.action, fast.resource, fast.resource_account, fast.resource_types,
                        fast.context_origin) == (plain.caller, plain.action, plain.resource, plain.resource_account,
                                                 plain.resource_types, plain.context_origin), (rep.name, str(spec))
                compared += 1
    return compared


def _assert_rows_are_single_requests(files: dict[str, str]) -> int:
    """Organization.prepare_many's row is what prepare answers for each of its asks — the same request (but for the
    time keys, and a context dict shared by the row's requests of one region) and policy set, or the same error."""
    from guardrails.evaluation.context import _NOW
    from guardrails.evaluation.errors import EvaluationError
    from guardrails.evaluation.lockout.paths import PathGroups
    from guardrails.evaluation.organization import PrincipalSpec

    organization, plain = Organization(files), Organization(files)  # plain: prepare's own memos only
    asks = [(p.action, p.resource) for p in _ADVERSARIAL_PROBES]
    # A role asked about without and with its trust policy (two Sides of one resource), and resources that raise.
    role = "arn:aws:iam::${account_id}:role/BreakGlass"
    asks += [("iam:GetRole", role), ("sts:AssumeRole", role), ("s3:GetObject", "${account_id:nowhere}"),
             ("sts:AssumeRole", "arn:aws:iam::${account_id}:role/NotDeployed")]
    compared = errors = 0
    for path, _ in PathGroups(organization).groups(by_class=True):
        account = path.account.name
        specs = [*organization.principals(path.account), PrincipalSpec("role", "NotDeployed"),
                 PrincipalSpec("external", "999999999999/role/Outside")]
        for spec in specs:
            row = organization.prepare_many(spec, account, asks)
            for (action, resource), item in zip(asks, row, strict=True):
                try:
                    request, policies = plain.prepare(spec, account, action, resource)
                except EvaluationError as exc:
                    assert isinstance(item, EvaluationError) and str(item) == str(exc), (account, str(spec), action)
                    errors += 1
                    continue
                assert not isinstance(item, EvaluationError), (account, str(spec), action, item)
                fast, fast_policies = item
                assert fast_policies == policies
                assert ({k: v for k, v in fast.context.items() if k not in _NOW}
                        == {k: v for k, v in request.context.items() if k not in _NOW})
                assert (fast.caller, fast.action, fast.resource, fast.resource_account, fast.resource_types,
                        fast.context_origin) == (request.caller, request.action, request.resource,
                                                 request.resource_account, request.resource_types,
                                                 request.context_origin), (account, str(spec), action)
                compared += 1
    with pytest.raises(EvaluationError) as unknown:
        plain.prepare(PrincipalSpec("root"), "nowhere", *asks[0])
    assert [str(e) for e in organization.prepare_many(PrincipalSpec("root"), "nowhere", asks[:2])] == [
        str(unknown.value)] * 2  # an unknown account: prepare's error for every ask
    assert errors > compared / 10  # a principal, a role or an account the tree does not have
    return compared


def test_a_row_is_its_single_requests_on_the_example(example_compiled: Compiled) -> None:
    assert _assert_rows_are_single_requests(_adversarial(dict(example_compiled.files))) > 500


def test_a_row_is_its_single_requests_on_a_synthetic_tree(tmp_path: Path) -> None:
    files = compile_policy_tree(write_blueprint(tmp_path / "bp", 100), run_tests=False).files
    assert _assert_rows_are_single_requests(_adversarial(dict(files))) > 500


def test_shared_sides_are_the_plain_ones_on_the_example(example_compiled: Compiled) -> None:
    assert _same_inputs_as_one_resource_at_a_time(dict(example_compiled.files)) > 0


def test_shared_sides_are_the_plain_ones_on_a_synthetic_tree(tmp_path: Path) -> None:
    files = compile_policy_tree(write_blueprint(tmp_path / "bp", 200), run_tests=False).files
    assert _same_inputs_as_one_resource_at_a_time(dict(files)) > 500


def test_one_walk_finds_what_statements_for_finds(example_compiled: Compiled) -> None:
    """decision_memo._naming walks a document once for both effects: the same statements statements_for finds for
    each, and None for a document statements_for refuses."""
    from guardrails.evaluation.access_matrix import PROBES
    from guardrails.evaluation.decision_memo import _naming
    from guardrails.evaluation.engine import Policy
    from guardrails.evaluation.statements import statements_for

    organization = Organization(dict(example_compiled.files))
    account = next(a for a in organization.accounts.values() if not a.management)
    policies = [p for spec in organization.principals(account)
                for p in organization.prepare(spec, account.name, "s3:GetObject", "*")[1].identity]
    policies += [p for _, attached in organization.scp_levels(account) for p in attached]
    policies.append(Policy("bad", "identity", {"Statement": [{"Effect": "Allow", "Action": 3, "Resource": "*"}]}))
    actions = [p.action for p in PROBES] + ["iam:PassRole", "sts:AssumeRole"]
    for policy in policies:
        for action in actions:
            allow, deny = statements_for(policy, "Allow", action), statements_for(policy, "Deny", action)
            expected = None if allow is None or deny is None else (list(allow), list(deny))
            assert _naming(policy, action) == expected, (policy.name, action)
    assert _naming(policies[-1], "s3:GetObject") is None
