"""guardrails diff: the semantic permission diff (who can now do what, where), its renderers and its sources.

Each case compiles a small blueprint (four accounts: security, and app-1..3 in one class) before and after an
edit of its YAML text, and checks the exact actions, trust, boundary and SCP changes and the risk flags.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any
from pathlib import Path

import pytest
from rich.console import Console

from guardrails.evaluation.organization import Organization
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.iam.actions import iam_database
from guardrails.review import (
    BaseUnavailableError,
    PermissionDiff,
    RevisionError,
    organization_from_blueprint,
    organization_from_directories,
    organization_from_git,
    run_diff,
    to_json,
    to_markdown,
    to_terminal,
)
from guardrails.review.diff import PrincipalChange, _usable

ORGANIZATION = """\
organization:
  name: review
  id: o-review00001
  root_id: r-revw
  management_account: {id: "111111111111", email: root@review.example}
  home_region: us-east-1
  allowed_regions: [us-east-1]
  break_glass: {account: security, users: [bg-one]}
  guardrails: [deny-leave-organization]
  units:
    Core:
      accounts:
        - {name: security, id: "222222222222", email: security@review.example}
    Apps:
      scps:
        - name: apps-deny
          description: Keep apps away from CloudTrail changes.
          statements:
            - sid: DenyTrailChanges
              effect: Deny
              actions: ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"]
              resources: ["*"]
      accounts:
        - {name: app-1, id: "333333333331", email: app-1@review.example}
        - {name: app-2, id: "333333333332", email: app-2@review.example}
        - {name: app-3, id: "333333333333", email: app-3@review.example}
"""

IDENTITY = """\
job_functions:
  reader:
    description: Reads the app buckets with MFA.
    accept_risks:
      - {risk: data-exfiltration, reason: "Granted on purpose by the tests.", owner: tests, review_by: 2099-01-01}
      - {risk: privilege-escalation, reason: "Granted on purpose by the tests.", owner: tests, review_by: 2099-01-01}
      - {risk: resource-exposure, reason: "Granted on purpose by the tests.", owner: tests, review_by: 2099-01-01}
    statements:
      - sid: ReadAppObjects
        actions: ["s3:Get*"]
        resources: ["arn:${partition}:s3:::app-*"]
        conditions: {Bool: {aws:MultiFactorAuthPresent: "true"}}
      - sid: ReadAppTables
        actions: ["dynamodb:GetItem"]
        resources: ["arn:${partition}:dynamodb:*:${account_id}:table/app-*"]
permission_boundaries:
  app-boundary:
    name: AppBoundary
    statements:
      - {sid: AllowStorage, effect: Allow, actions: ["s3:*", "sqs:*"], resources: ["*"]}
groups:
  readers:
    job_functions: [reader]
    deploy_to: {units: [Apps]}
roles:
  app:
    name: AppRole
    trust:
      accounts: [{account: security}]
      require_mfa: true
    job_functions: [reader]
    boundary: app-boundary
    deploy_to: {units: [Apps]}
"""

APPS = ("app-1", "app-2", "app-3")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the blueprint"
    return text.replace(old, new)


def _write(directory: Path, organization: str, identity: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "organization.yaml").write_text(organization, encoding="utf-8")
    (directory / "identity.yaml").write_text(identity, encoding="utf-8")
    return directory


def _compile_files(directory: Path) -> Mapping[str, str]:
    return compile_blueprint(directory, run_tests=False).files


_COMPILED: dict[tuple[str, str], Organization] = {}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Organization]:
    """Compile (once per text) a blueprint made of the two files' text."""

    def build(organization: str = ORGANIZATION, identity: str = IDENTITY) -> Organization:
        key = (organization, identity)
        if key not in _COMPILED:
            directory = _write(tmp_path_factory.mktemp("blueprint"), organization, identity)
            files = _compile_files(directory)
            _COMPILED[key] = Organization({p: t for p, t in files.items() if p.startswith("policies/")})
        return _COMPILED[key]

    return build


def _change(diff: PermissionDiff, principal: str, accounts: tuple[str, ...] = APPS) -> PrincipalChange:
    found = [p for p in diff.principals if p.principal == principal and p.accounts == accounts]
    assert len(found) == 1, [(p.principal, p.accounts) for p in diff.principals]
    return found[0]


def _expand(pattern: str) -> set[str]:
    return {a.full_name for a in iam_database().expand(pattern)}


APP_BUCKETS = ("arn:aws:s3:::app-*",)


def _on_app_buckets(pattern: str) -> set[str]:
    """The actions of a pattern that can apply to resources named by ``arn:aws:s3:::app-*`` (buckets, objects)."""
    return {a for a in _expand(pattern) if _usable(a, APP_BUCKETS)}


def test_only_actions_that_apply_to_the_named_resources_count() -> None:
    """s3:Get* on bucket and object ARNs grants object and bucket reads, not access points or Storage Lens."""
    assert _usable("s3:GetObject", APP_BUCKETS) and _usable("s3:GetBucketPolicy", APP_BUCKETS)
    assert not _usable("s3:GetAccessPoint", APP_BUCKETS)  # only on access-point ARNs
    assert not _usable("s3:ListAllMyBuckets", APP_BUCKETS)  # supports no resource type: "*" only
    assert _usable("iam:PassRole", ("arn:aws:iam::${account_id}:role/workload/*",))
    assert not _usable("iam:PassRole", ("arn:aws:iam::${account_id}:user/*",))


def _kinds(diff: PermissionDiff) -> set[str]:
    return {flag.kind for flag in diff.risks}


# ============================================================================= permissions


def test_identical_organizations_have_no_changes(org: Callable[..., Organization]) -> None:
    diff = run_diff(org(), org())
    assert diff.empty and not diff.risky and not diff.risks
    assert diff.summary == "No permission changes"
    assert "No principal" in to_markdown(diff)


def test_added_actions_are_listed_exactly_and_identical_accounts_collapse(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, 'actions: ["dynamodb:GetItem"]',
                              'actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]'))
    diff = run_diff(org(), head)
    readers = _change(diff, "group/readers")
    assert readers.gained == ("dynamodb:PutItem", "dynamodb:Query")
    assert readers.lost == () and readers.status == "changed"
    assert readers.changed_policies == ("arn:aws:iam::${account_id}:policy/guardrails/guardrails-reader",)
    # The role's boundary allows only s3 and sqs: DynamoDB stays out of reach; only its policy text changed.
    role = _change(diff, "role/AppRole")
    assert (role.gained, role.lost, role.changed_policies) == ((), (), readers.changed_policies)
    assert diff.summary.startswith("1 principal gains 2 actions in 3 accounts")


def test_removed_actions(org: Callable[..., Organization]) -> None:
    base = org(identity=_edit(IDENTITY, 'actions: ["dynamodb:GetItem"]',
                              'actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]'))
    diff = run_diff(base, org())
    readers = _change(diff, "group/readers")
    assert readers.lost == ("dynamodb:PutItem", "dynamodb:Query") and readers.gained == ()
    assert not diff.risky
    assert "loses 2 actions" in diff.summary


def test_wildcard_widening_yields_exactly_the_expanded_difference(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, 'actions: ["s3:Get*"]', 'actions: ["s3:*"]'))
    diff = run_diff(org(), head)
    expected = tuple(sorted(_on_app_buckets("s3:*") - _on_app_buckets("s3:Get*"), key=str.lower))
    assert _change(diff, "group/readers").gained == expected
    assert _change(diff, "role/AppRole").gained == expected  # inside the boundary's s3:*
    assert {"new-wildcard", "permissions-management"} <= _kinds(diff)
    wildcard = next(f for f in diff.risks if f.kind == "new-wildcard")
    assert wildcard.severity == "low" and "s3:*" in wildcard.reason and wildcard.accounts == APPS


def test_not_action_boundary_is_the_complement_over_the_database(org: Callable[..., Organization]) -> None:
    identity = _edit(IDENTITY, 'actions: ["s3:Get*"]', 'actions: ["s3:*"]')
    head = org(identity=_edit(identity, '{sid: AllowStorage, effect: Allow, actions: ["s3:*", "sqs:*"], '
                                        'resources: ["*"]}',
                              '{sid: AllowMostThings, effect: Allow, not_actions: ["s3:Delete*", "iam:*"], '
                              'resources: ["*"]}'))
    diff = run_diff(org(identity=identity), head)
    role = _change(diff, "role/AppRole")
    # dynamodb:GetItem was outside the old boundary and is inside the NotAction one.
    assert role.gained == ("dynamodb:GetItem",)
    assert set(role.lost) == _on_app_buckets("s3:Delete*")
    assert role.boundary is not None and role.boundary.change == "changed"
    assert [p.principal for p in diff.principals] == ["role/AppRole"]


def test_unconditional_not_action_deny_in_an_scp_removes_the_complement(org: Callable[..., Organization]) -> None:
    head = org(organization=_edit(ORGANIZATION, '              resources: ["*"]\n      accounts:',
                                  '              resources: ["*"]\n'
                                  '            - sid: OnlyStorage\n'
                                  '              effect: Deny\n'
                                  '              not_actions: ["s3:*", "sts:*"]\n'
                                  '              resources: ["*"]\n'
                                  '      accounts:'))
    diff = run_diff(org(), head)
    breakglass = _change(diff, "role/BreakGlass")
    already_denied = {"organizations:LeaveOrganization", "cloudtrail:StopLogging", "cloudtrail:DeleteTrail"}
    everything = {a.full_name for a in iam_database().expand("*")}
    assert set(breakglass.lost) == everything - _expand("s3:*") - _expand("sts:*") - already_denied
    assert breakglass.gained == ()
    readers = _change(diff, "group/readers")
    assert readers.lost == ("dynamodb:GetItem",)
    target = next(t for t in diff.organization_policies if t.target == "ou:Apps")
    assert [(s.sid, s.change, s.not_action) for s in target.statements] == [("OnlyStorage", "added", True)]


def test_scope_change_to_star_without_mfa_is_flagged(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, '        resources: ["arn:${partition}:s3:::app-*"]\n'
                                        '        conditions: {Bool: {aws:MultiFactorAuthPresent: "true"}}\n',
                              '        resources: ["*"]\n'))
    diff = run_diff(org(), head)
    readers = _change(diff, "group/readers")
    # Reads that apply to no bucket or object (access points, Storage Lens …) become usable on "*".
    assert set(readers.gained) == _expand("s3:Get*") - _on_app_buckets("s3:Get*") and readers.lost == ()
    assert len(readers.scope_changes) == 1
    scope = readers.scope_changes[0]
    assert set(scope.actions) == _on_app_buckets("s3:Get*")
    assert scope.before == ("arn:aws:s3:::app-* when Bool aws:MultiFactorAuthPresent=true",)
    assert scope.after == ("*",)
    removed = [f for f in diff.risks if f.kind == "condition-removed" and f.subject == "group/readers"]
    assert removed and removed[0].severity == "high" and "MFA" in removed[0].reason
    assert "data-exfiltration/data-reads" in _kinds(diff)  # s3:GetObject on "*" is a new unmitigated finding
    assert diff.risky


def test_new_privilege_escalation_finding_is_flagged(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, "permission_boundaries:",
                              '      - sid: PassAnyRole\n'
                              '        actions: ["iam:PassRole"]\n'
                              '        resources: ["*"]\n'
                              'permission_boundaries:'))
    diff = run_diff(org(), head)
    assert _change(diff, "group/readers").gained == ("iam:PassRole",)
    flag = next(f for f in diff.risks if f.kind == "privilege-escalation/pass-role-unscoped")
    assert flag.severity == "high" and flag.subject == "group/readers" and flag.accounts == APPS
    assert diff.risky


def test_detaching_the_mfa_policy_is_a_removed_mfa_condition(org: Callable[..., Organization]) -> None:
    diff = run_diff(org(), org(identity=IDENTITY + "mfa_enforcement:\n  enabled: false\n"))
    user = _change(diff, "user/bg-one", ("security",))
    assert user.detached == ("arn:aws:iam::${account_id}:policy/guardrails/GuardrailsForceMFA",)
    assert any(c.startswith("no longer limited by: policy GuardrailsForceMFA") for c in user.conditions)
    flag = next(f for f in diff.risks if f.kind == "condition-removed" and f.subject == "user/bg-one")
    assert flag.severity == "high" and "MFA" in flag.reason and flag.accounts == ("security",)


# ============================================================================= trust and boundary


def test_trust_change_new_account_and_removed_mfa_are_risky(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, "      accounts: [{account: security}]\n      require_mfa: true\n",
                              '      accounts: [{account: security}, {account: "444455556666"}]\n'))
    diff = run_diff(org(), head)
    role = _change(diff, "role/AppRole")
    assert role.gained == () and role.lost == ()
    trust = {t.principal: t for t in role.trust}
    assert set(trust) == {"AWS:arn:aws:iam::222222222222:root", "AWS:arn:aws:iam::444455556666:root"}
    assert trust["AWS:arn:aws:iam::444455556666:root"].change == "added"
    changed = trust["AWS:arn:aws:iam::222222222222:root"]
    assert changed.change == "changed"
    assert changed.before == ("sts:AssumeRole when Bool aws:MultiFactorAuthPresent=true",)
    assert changed.after == ("sts:AssumeRole (no conditions)",)
    reasons = [f.reason for f in diff.risks if f.kind == "trust-widened"]
    assert any("444455556666" in r for r in reasons)
    assert any("no longer requires aws:multifactorauthpresent (MFA)" in r for r in reasons)
    assert diff.risky


def test_boundary_removal_is_flagged_and_gains_what_it_cut(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, "    boundary: app-boundary\n", ""))
    diff = run_diff(org(), head)
    role = _change(diff, "role/AppRole")
    assert role.gained == ("dynamodb:GetItem",)
    assert role.boundary is not None and role.boundary.change == "removed"
    assert role.boundary.before == "arn:aws:iam::${account_id}:policy/guardrails/AppBoundary"
    flag = next(f for f in diff.risks if f.kind == "boundary-removed")
    assert flag.severity == "high" and flag.accounts == APPS


def test_added_role_lists_its_grants_and_trust(org: Callable[..., Organization]) -> None:
    head = org(identity=IDENTITY + """\
  worker:
    name: AppWorker
    trust:
      services: [ec2.amazonaws.com]
    job_functions: [reader]
    deploy_to: {units: [Apps]}
""")
    diff = run_diff(org(), head)
    worker = _change(diff, "role/AppWorker")
    assert worker.status == "added"
    assert set(worker.gained) == _on_app_buckets("s3:Get*") | {"dynamodb:GetItem"}
    assert [(t.principal, t.change) for t in worker.trust] == [("Service:ec2.amazonaws.com", "added")]
    assert any(f.kind == "trust-added" and f.severity == "medium" for f in diff.risks)


# ============================================================================= SCPs and accounts


SECOND_STATEMENT = ('              resources: ["*"]\n'
                    '            - sid: DenyKeyDeletion\n'
                    '              effect: Deny\n'
                    '              actions: ["kms:ScheduleKeyDeletion"]\n'
                    '              resources: ["*"]\n'
                    '      accounts:')


def _minified(organization: Organization, path: str) -> int:
    return len(json.dumps(json.loads(organization.files[path]), separators=(",", ":"), ensure_ascii=False))


def test_scp_statement_added_with_size_delta(org: Callable[..., Organization]) -> None:
    base = org()
    head = org(organization=_edit(ORGANIZATION, '              resources: ["*"]\n      accounts:', SECOND_STATEMENT))
    diff = run_diff(base, head)
    [target] = diff.organization_policies
    assert (target.kind, target.target, target.changed) == ("scp", "ou:Apps", ("apps-deny",))
    assert [(s.sid, s.change, s.effect, s.actions) for s in target.statements] == [
        ("DenyKeyDeletion", "added", "Deny", ("kms:ScheduleKeyDeletion",))]
    [size] = target.sizes
    path = "policies/scp/apps-deny.json"
    assert (size.before, size.after) == (_minified(base, path), _minified(head, path))
    assert size.delta == size.after - size.before > 0 and size.limit == 10240
    assert (target.slots_before, target.slots_after, target.slot_limit) == (2, 2, 10)
    assert _change(diff, "role/BreakGlass").lost == ("kms:ScheduleKeyDeletion",)
    assert not diff.risky  # a new Deny narrows


def test_scp_statement_removal_is_flagged(org: Callable[..., Organization]) -> None:
    base = org(organization=_edit(ORGANIZATION, '              resources: ["*"]\n      accounts:', SECOND_STATEMENT))
    diff = run_diff(base, org())
    flag = next(f for f in diff.risks if f.kind == "scp-statement-removed")
    assert flag.severity == "high" and "DenyKeyDeletion" in flag.reason
    assert _change(diff, "role/BreakGlass").gained == ("kms:ScheduleKeyDeletion",)


def test_scp_over_the_size_and_slot_limits(org: Callable[..., Organization]) -> None:
    base = org()
    files = dict(base.files)
    manifest = json.loads(files["policies/manifest.json"])
    big = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"Deny{i}", "Effect": "Deny", "Action": [f"ec2:Action{i}{n}" for n in range(40)], "Resource": "*"}
        for i in range(20)]}
    for index in range(10):
        name = f"extra-{index}"
        files[f"policies/scp/{name}.json"] = json.dumps(big if index == 0 else {
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*"}]})
        manifest["service_control_policies"].append({"name": name, "target": "ou:Apps",
                                                     "file": f"policies/scp/{name}.json", "guardrails": []})
    files["policies/manifest.json"] = json.dumps(manifest)
    diff = run_diff(base, Organization(files))
    assert {"scp-size", "scp-slots"} <= _kinds(diff)
    [target] = diff.organization_policies
    assert (target.slots_before, target.slots_after) == (2, 12)
    assert next(s for s in target.sizes if s.policy == "extra-0").after > 10240
    # ec2:Action… are not actions: the unknown patterns change nobody's permissions; RunInstances is denied.
    assert _change(diff, "role/BreakGlass").lost == ("ec2:RunInstances",)


def test_new_account_in_an_existing_class_is_not_risky(org: Callable[..., Organization]) -> None:
    app3 = '        - {name: app-3, id: "333333333333", email: app-3@review.example}\n'
    head = org(organization=_edit(ORGANIZATION, app3,
                                  app3 + '        - {name: app-4, id: "333333333334", email: app-4@review.example}\n'))
    diff = run_diff(org(), head)
    assert [(a.account, a.change) for a in diff.accounts] == [("app-4", "added")]
    added = [p for p in diff.principals if p.accounts == ("app-4",)]
    assert {p.principal for p in added} == {"group/readers", "role/AppRole", "role/BreakGlass"}
    assert all(p.status == "added" and p.same_policies_as == "app-1" for p in added)
    assert not diff.risks and not diff.risky
    assert "app-1" in to_markdown(diff)


def test_database_versions_are_noted_only_when_they_differ(org: Callable[..., Organization]) -> None:
    base = org()
    assert not run_diff(base, base).notes and not run_diff(base, base).wildcards
    files = dict(base.files)
    wildcards = json.loads(files["policies/wildcards.json"])
    wildcards["iam_database"]["version"] = "0.16.0"
    files["policies/wildcards.json"] = json.dumps(wildcards)
    diff = run_diff(base, Organization(files))
    assert len(diff.notes) == 1 and "from 0.15.2 to 0.16.0" in diff.notes[0]
    assert not diff.wildcards  # same expansions: nothing newly matched


# ============================================================================= rendering


def test_markdown_puts_risks_first_and_caps_long_lists(org: Callable[..., Organization]) -> None:
    head = org(identity=_edit(IDENTITY, "      accounts: [{account: security}]\n      require_mfa: true\n",
                              "      accounts: [{account: security}]\n"),
               organization=_edit(ORGANIZATION, '              actions: ["cloudtrail:StopLogging", '
                                                '"cloudtrail:DeleteTrail"]\n',
                                  '              actions: ["cloudtrail:StopLogging"]\n'))
    diff = run_diff(org(), head)
    text = to_markdown(diff)
    assert text.startswith("### guardrails diff")
    assert f"**{diff.summary}**" in text
    assert text.index("Risks") < text.index("#### Principals") < text.index("control policies")
    assert "<details>" in text and "</details>" in text
    # BreakGlass now may DeleteTrail: one action. A removed-MFA trust and a changed Deny are listed as risks.
    assert "cloudtrail" in text and "trust-widened" in text and "scp-statement-changed" in text
    many = run_diff(org(), org(identity=_edit(IDENTITY, 'actions: ["s3:Get*"]', 'actions: ["s3:*"]')))
    assert "… and " in to_markdown(many)


def test_json_is_complete_stable_and_sorted(org: Callable[..., Organization]) -> None:
    diff = run_diff(org(), org(identity=_edit(IDENTITY, 'actions: ["s3:Get*"]', 'actions: ["s3:*"]')))
    text = to_json(diff)
    assert text == to_json(run_diff(org(), org(identity=_edit(IDENTITY, 'actions: ["s3:Get*"]',
                                                                          'actions: ["s3:*"]'))))
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["risky"] is True and data["summary"] == diff.summary
    readers = next(p for p in data["principals"] if p["principal"] == "group/readers")
    assert len(readers["gained"]) == len(_on_app_buckets("s3:*") - _on_app_buckets("s3:Get*"))  # uncapped


def test_terminal_output_uses_rich(org: Callable[..., Organization]) -> None:
    diff = run_diff(org(), org(identity=_edit(IDENTITY, "    boundary: app-boundary\n", "")))
    console = Console(record=True, width=140, color_system="truecolor", force_terminal=True)
    to_terminal(diff, console)
    text = console.export_text()
    assert diff.summary in text and "role/AppRole" in text and "+ dynamodb: GetItem" in text
    assert "boundary-removed" in text


# ============================================================================= sources


def test_directories_compile_blueprints_or_read_policy_trees(tmp_path: Path) -> None:
    base_dir = _write(tmp_path / "base", ORGANIZATION, IDENTITY)
    head_dir = _write(tmp_path / "head", ORGANIZATION, _edit(IDENTITY, "    boundary: app-boundary\n", ""))
    output = tmp_path / "out"
    for path, text in _compile_files(base_dir).items():
        (output / path).parent.mkdir(parents=True, exist_ok=True)
        (output / path).write_text(text, encoding="utf-8")
    base, head = organization_from_directories(output, head_dir, _compile_files)
    assert "policy tree" in base.label and head.label == str(head_dir)
    assert "boundary-removed" in _kinds(run_diff(base, head))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "guardrails tests")
    _git(repo, "config", "user.email", "tests@guardrails.example")
    _git(repo, "config", "commit.gpgsign", "false")
    return repo


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def test_git_base_is_compiled_with_the_current_code(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _write(repo / "blueprints", ORGANIZATION, IDENTITY)
    _commit(repo, "base")
    _write(repo / "blueprints", ORGANIZATION, _edit(IDENTITY, "    boundary: app-boundary\n", ""))
    _commit(repo, "drop the boundary")
    base = organization_from_git("HEAD~1", repo, "blueprints", "output", _compile_files)
    head = organization_from_blueprint(repo / "blueprints", _compile_files)
    diff = run_diff(base, head)
    assert diff.base.startswith("HEAD~1 (") and "compiled with the current code" in diff.base
    assert not diff.notes
    assert _change(diff, "role/AppRole").boundary is not None and "boundary-removed" in _kinds(diff)
    # Absolute paths inside the repository work as well.
    again = organization_from_git("HEAD", repo, repo / "blueprints", repo / "output", _compile_files)
    assert run_diff(again, head).empty


def test_git_base_that_no_longer_compiles_falls_back_to_committed_output(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    valid = _write(tmp_path / "valid", ORGANIZATION, IDENTITY)
    for path, text in _compile_files(valid).items():
        if path.startswith("policies/"):
            (repo / "output" / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / "output" / path).write_text(text, encoding="utf-8")
    # A key today's schema rejects: the base blueprint no longer compiles.
    _write(repo / "blueprints", ORGANIZATION, IDENTITY.replace("    boundary: app-boundary\n",
                                                               "    boundary: app-boundary\n    legacy_key: 1\n"))
    _commit(repo, "base with committed output")
    _write(repo / "blueprints", ORGANIZATION, _edit(IDENTITY, "    boundary: app-boundary\n", ""))
    shutil.rmtree(repo / "output")
    _commit(repo, "fix the blueprint, drop the boundary")
    base = organization_from_git("HEAD~1", repo, "blueprints", "output", _compile_files)
    assert "committed output/policies/" in base.label
    diff = run_diff(base, organization_from_blueprint(repo / "blueprints", _compile_files))
    assert len(diff.notes) == 1 and "does not compile with the current code" in diff.notes[0]
    assert "legacy_key" in diff.notes[0] or "blueprint error" in diff.notes[0]
    assert "boundary-removed" in _kinds(diff)


def test_git_base_without_blueprint_or_output_is_a_clear_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _write(repo / "blueprints", ORGANIZATION, IDENTITY + "bogus_top_level: true\n")
    _commit(repo, "broken")
    with pytest.raises(BaseUnavailableError, match=r"'HEAD'.*does not compile.*output/policies"):
        organization_from_git("HEAD", repo, "blueprints", "output", _compile_files)


def test_unknown_git_revision_is_named_in_the_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _write(repo / "blueprints", ORGANIZATION, IDENTITY)
    _commit(repo, "base")
    with pytest.raises(RevisionError, match="no-such-branch") as raised:
        organization_from_git("no-such-branch", repo, "blueprints", "output", _compile_files)
    assert raised.value.exit_code == 1
    with pytest.raises(RevisionError, match="--output"):
        organization_from_git("--output=/tmp/x", repo, "blueprints", "output", _compile_files)


@pytest.fixture(scope="module")
def example_tree(example_compiled: Compiled) -> Organization:
    """The example's policy tree, compiled once per test run."""
    return example_compiled.organization


def _with_permission_set(tree: Organization, name: str, **changes: Any) -> Organization:
    files = dict(tree.files)
    manifest = json.loads(files["policies/manifest.json"])
    entry = next(ps for ps in manifest["permission_sets"] if ps["name"] == name)
    entry.update(changes)
    files["policies/manifest.json"] = json.dumps(manifest)
    return Organization(files)


def test_a_permission_set_gaining_administrator_access_is_high_risk_in_every_assigned_account(
        example_tree: Organization) -> None:
    read_only = example_tree.permission_sets["ReadOnly"]
    assigned = read_only.accounts
    head = _with_permission_set(example_tree, "ReadOnly", session_duration="PT12H", session_seconds=43200,
                                managed_policies=[*read_only.managed_policies,
                                                  "arn:aws:iam::aws:policy/AdministratorAccess"])
    diff = run_diff(example_tree, head)
    assert diff.risky
    [full] = [f for f in diff.risks if f.kind == "full-admin"]
    assert (full.severity, full.subject, full.accounts) == ("high", "permission-set/ReadOnly", assigned)
    [session] = [f for f in diff.risks if f.kind == "session-longer"]
    assert session.severity == "high" and "PT8H → PT12H" in session.reason
    gained = {a for p in diff.principals if p.principal == "permission-set/ReadOnly" for a in p.gained}
    assert {"iam:CreateUser", "s3:PutObject"} <= gained
    covered = {a for p in diff.principals if p.principal == "permission-set/ReadOnly" for a in p.accounts}
    assert covered == set(assigned)


def test_a_new_assignment_is_reported_and_unchanged_sets_are_not(example_tree: Organization) -> None:
    assert not run_diff(example_tree, example_tree).risks
    auditor = example_tree.permission_sets["SecurityAuditor"]
    head = _with_permission_set(example_tree, "SecurityAuditor",
                                assignments=[*({"group": a.group, "account": a.account} for a in auditor.assignments),
                                             {"group": "contractors", "account": "app-prod"}])
    [added] = [f for f in run_diff(example_tree, head).risks if f.kind == "assignment-added"]
    assert (added.subject, added.accounts, added.severity) == ("permission-set/SecurityAuditor", ("app-prod",), "low")
