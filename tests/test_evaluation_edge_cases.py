"""AWS's own edge cases in the evaluator (issue 12, reproducers 1–4), and the small interpreters behind them.

1. Centralized root sessions (sts:AssumeRoot) are scoped by their AWS task policy.
2. Requests AWS documents as needing no permission, or as not deniable by some policy type
   (guardrails/data/unconditional_requests.yaml).
3. A query for resource `*` is about *some* resource of the action's types: resource-scoped Denies count.
4. Principals and resources outside the organization: unknown where the plan cannot know, decided where it does;
   a trust to an outside account that an RCP denies is a build error (GR404).
"""

from __future__ import annotations

import hashlib
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails.diagnostics import BlueprintError
from guardrails.evaluation import root_sessions, some_resource, unconditional
from guardrails.evaluation.engine import Caller, Decision, Policy, PolicySet, Request, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import Wildcard, pattern_atoms
from guardrails.evaluation.organization import Organization, parse_principal
from guardrails.evaluation.outside_trusts import outside_trust_denials
from guardrails.iam.actions import iam_database
from guardrails.pipeline import Compiled, compile_blueprint

from .conftest import EXAMPLE_TODAY, ROOT

APP_PROD = "400000000001"
OUTSIDE = "123456789012"


@pytest.fixture(scope="module")
def org(example_compiled: Compiled) -> Organization:
    return example_compiled.organization


def deciders(decision: Decision) -> set[str]:
    return {m.sid for m in decision.deciding}


def details(decision: Decision) -> str:
    return "\n".join(f"{s.stage}: {s.detail}" for s in decision.steps)


# ----------------------------------------------------------------------------- 1. root sessions


def test_reproducer_1_a_root_session_is_not_the_full_root_user(org: Organization) -> None:
    decision = org.evaluate("root-session/IAMDeleteRootUserCredentials", "app-prod", "iam:CreateRole",
                            "arn:aws:iam::${account_id}:role/x")
    assert decision.outcome == "explicit-deny"
    assert deciders(decision) == {"DenyAllOtherActionsOnAnyResource"}
    assert decision.deciding[0].policy.name == "root task policy IAMDeleteRootUserCredentials"


@pytest.mark.parametrize("task", root_sessions.task_names())
@pytest.mark.parametrize(("action", "resource"), [
    ("iam:CreateRole", "arn:aws:iam::${account_id}:role/x"),
    ("ec2:TerminateInstances", "arn:aws:ec2:eu-west-1:${account_id}:instance/i-0123456789abcdef0"),
    ("s3:GetObject", "arn:aws:s3:::app-assets/customers.csv"),
])
def test_no_task_policy_grants_anything_outside_its_task(org: Organization, task: str, action: str,
                                                         resource: str) -> None:
    decision = org.evaluate(f"root-session/{task}", "app-prod", action, resource)
    assert decision.outcome == "explicit-deny"
    assert "DenyAllOtherActionsOnAnyResource" in deciders(decision)


def test_the_task_itself_works_and_only_on_the_root_user(org: Organization) -> None:
    task = "root-session/IAMDeleteRootUserCredentials"
    assert org.evaluate(task, "app-prod", "iam:DeleteLoginProfile", f"arn:aws:iam::{APP_PROD}:root").allowed
    on_user = org.evaluate(task, "app-prod", "iam:DeleteLoginProfile", f"arn:aws:iam::{APP_PROD}:user/x")
    assert deciders(on_user) == {"DenyDeletingRootUserCredentialsOnNonRootUserResource"}
    # The bucket owner's root principal may always replace a bucket policy (S3 API reference), even one that
    # denies it: the log bucket's policy is left out for the log-archive account's own root session.
    unlock = "root-session/S3UnlockBucketPolicy"
    assert org.evaluate(unlock, "app-prod", "s3:PutBucketPolicy", "arn:aws:s3:::app-prod-uploads").allowed
    # In log-archive the bucket policy is still left out, but an Organizations policy can block the call (the S3
    # API reference says so), and the example's protect-log-archive SCP does.
    logs = org.evaluate(unlock, "log-archive", "s3:PutBucketPolicy", "arn:aws:s3:::example-org-logs-200000000001")
    assert not logs.allowed and "ProtectLogBucket" in deciders(logs)


def test_the_sqs_task_policy_substitutes_the_principal_account(org: Organization) -> None:
    task = "root-session/SQSUnlockQueuePolicy"
    own = org.evaluate(task, "app-prod", "sqs:GetQueueAttributes", f"arn:aws:sqs:eu-west-1:{APP_PROD}:jobs")
    assert own.allowed
    other = org.evaluate(task, "app-prod", "sqs:GetQueueAttributes", "arn:aws:sqs:eu-west-1:400000000002:jobs")
    assert deciders(other) == {"DenyGettingQueueAttributesOnNonOwnQueue"}


def test_root_session_request_context(org: Organization) -> None:
    request, policies = org.prepare(parse_principal("root-session/IAMAuditRootUserCredentials"), "app-prod",
                                    "iam:GetUser", f"arn:aws:iam::{APP_PROD}:root")
    assert request.context["aws:assumedroot"] == ("true",)
    assert request.context["aws:principalarn"] == (f"arn:aws:iam::{APP_PROD}:root",)
    assert request.context["aws:multifactorauthpresent"] == ("false",)
    assert "aws:tokenissuetime" in request.context and "aws:username" not in request.context
    assert policies.task_policy is not None and policies.session is None  # never asked for an Allow
    assert policies.notes and "900 s" in policies.notes[0][1]


def test_plain_root_with_assumed_root_is_refused(org: Organization) -> None:
    with pytest.raises(EvaluationError, match="root-session/NAME"):
        org.evaluate("root", "app-prod", "iam:CreateRole", "arn:aws:iam::${account_id}:role/x",
                     {"aws:AssumedRoot": ["true"]})


def test_unknown_task_and_management_account_are_clear_errors(org: Organization) -> None:
    with pytest.raises(EvaluationError) as caught:
        parse_principal("root-session/DeleteEverything")
    assert all(name in str(caught.value) for name in root_sessions.task_names())
    assert len(root_sessions.task_names()) == 5
    with pytest.raises(EvaluationError, match="member accounts only"):
        org.evaluate("root-session/S3UnlockBucketPolicy", "management", "s3:GetBucketPolicy", "*")


def test_task_policies_are_the_documents_their_provenance_names() -> None:
    data = resources.files("guardrails.data").joinpath(root_sessions.DATA_DIR)
    for entry in root_sessions.provenance()["policies"]:
        text = data.joinpath(entry["file"]).read_bytes()
        assert hashlib.sha256(text).hexdigest() == entry["sha256"], entry["name"]
        statements = root_sessions.task_document(entry["name"])["Statement"]
        assert {s["Effect"] for s in statements} == {"Deny"}  # deny-only: the engine must not ask for an Allow


# ----------------------------------------------------------------------------- 2. no permission needed


def test_reproducer_2_get_caller_identity_needs_no_permission(org: Organization) -> None:
    developer = org.evaluate("group/developers", "app-dev", "sts:GetCallerIdentity", "*")
    assert developer.allowed
    without_mfa = org.evaluate("user/break-glass-alice", "audit", "sts:GetCallerIdentity", "*",
                               {"aws:MultiFactorAuthPresent": ["false"]})
    assert without_mfa.allowed  # the identity policy's DenyAllExceptListedIfNoMFA does not apply
    for decision in (developer, without_mfa):
        assert "API_GetCallerIdentity.html" in details(decision)
        assert decision.summary.startswith("allow: documented exception")


def test_get_session_token_needs_no_permission_for_iam_users(org: Organization) -> None:
    decision = org.evaluate("user/break-glass-bob", "audit", "sts:GetSessionToken", "*")
    assert decision.allowed
    assert "id_credentials_temp_control-access_getsessiontoken.html" in details(decision)


def test_where_the_documentation_is_silent_the_answer_is_unknown(org: Organization) -> None:
    decision = org.evaluate("root", "app-prod", "sts:GetCallerIdentity", "*")
    assert decision.outcome == "unknown"
    step = decision.steps[-1]
    assert step.stage == "documented exception" and "does not say" in step.detail
    assert {m.sid for m in step.matches} == {"DenyRootUser"}


def test_documented_exceptions_of_scps_name_their_source(org: Organization) -> None:
    decision = org.evaluate("role/BreakGlass", "management", "organizations:LeaveOrganization", "*")
    assert decision.allowed
    scps = next(s for s in decision.steps if s.stage == "SCPs")
    assert "management account" in scps.detail and "#not-restricted-by-scp" in scps.detail


def _entry(**fields: Any) -> dict[str, Any]:
    return {"action": "sts:GetCallerIdentity", "principals": ["any"], "needs_allow": False,
            "not_deniable_by": ["identity"], "rule": "r", "source": "https://docs.aws.amazon.com/x", **fields}


def test_the_data_file_follows_its_header() -> None:
    raw = yaml.safe_load(resources.files("guardrails.data").joinpath(unconditional.DATA).read_text("utf-8"))
    parsed = unconditional.entries()
    assert len(parsed) == len(raw["entries"]) and all(e.source.startswith("https://docs.aws.amazon.com/")
                                                       for e in parsed)
    with pytest.raises(unconditional.UnconditionalDataError, match="principals 'everyone'"):
        unconditional.parse({"entries": [_entry(principals=["everyone"])]})
    with pytest.raises(unconditional.UnconditionalDataError, match="has no source"):
        unconditional.parse({"entries": [{k: v for k, v in _entry().items() if k != "source"}]})


def test_entries_apply_by_action_principal_and_resource() -> None:
    table = unconditional.parse({"entries": [
        _entry(), _entry(action="kms:*", principals=["any"], resources="aws-managed-kms-key", needs_allow=True,
                         not_deniable_by=["rcp"])]})
    anyone = unconditional.principal_classes("user", "user", "arn:aws:iam::1:user/a", False)
    assert unconditional.applying("STS:getcalleridentity", anyone, (), table) == (table[0],)
    managed_key = unconditional.resource_classes("arn:aws:kms:eu-west-1:1:alias/aws/s3", "1", "1", False)
    assert unconditional.applying("kms:Decrypt", anyone, managed_key, table) == (table[1],)
    assert unconditional.applying("kms:Decrypt", anyone, (), table) == ()
    slr = unconditional.principal_classes("role", "role", "arn:aws:iam::1:role/aws-service-role/x/y", True)
    assert {"role-session", "service-linked-role", "management-account"} <= slr


CALLER = Caller("user", "arn:aws:iam::111111111111:user/a", "111111111111", "arn:aws:iam::111111111111:user/a")


def _free_request(*statements: dict[str, Any], entry: dict[str, Any]) -> Decision:
    (exemption,) = unconditional.parse({"entries": [entry]})
    deny = Policy("SCP", "scp", {"Statement": list(statements)}, level="root")
    identity = Policy("id", "identity", {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    request = Request(CALLER, "sts:GetCallerIdentity", "*", "111111111111", {})
    return evaluate(request, PolicySet(scp_levels=(("root", (deny,)),), identity=(identity,),
                                       exemptions=(exemption,)))


def test_a_deny_the_source_names_decides_and_any_other_is_unknown() -> None:
    scp_deny = {"Sid": "NoSts", "Effect": "Deny", "Action": "sts:*", "Resource": "*"}
    assert _free_request(entry=_entry()).allowed  # the identity Deny is left out, no Allow is needed
    assert _free_request(scp_deny, entry=_entry()).outcome == "unknown"
    documented = _free_request(scp_deny, entry=_entry(deniable_by=["scp"]))
    assert documented.outcome == "explicit-deny" and deciders(documented) == {"NoSts"}


# ----------------------------------------------------------------------------- 3. resource `*`


def test_reproducer_3_star_is_some_resource_and_resource_scoped_denies_count(org: Organization) -> None:
    admins = org.evaluate("group/admins", "app-prod", "cloudtrail:StopLogging", "*")
    assert admins.outcome == "explicit-deny" and deciders(admins) == {"ProtectCloudTrail"}
    note = next(s for s in admins.steps if s.stage == "resource *")
    assert "some resource" in note.detail and "trail" in note.detail
    assert [m.sid for m in note.matches] == ["ProtectCloudTrail"]
    # Break-glass is exempt: allowed, and explain still shows the statement that could deny (its condition false).
    break_glass = org.evaluate("role/BreakGlass", "app-prod", "cloudtrail:StopLogging", "*")
    assert break_glass.allowed
    (could,) = next(s for s in break_glass.steps if s.stage == "resource *").matches
    assert could.sid == "ProtectCloudTrail" and not all(c.matched for c in could.clauses)


def test_star_keeps_its_meaning_for_actions_without_resource_types(org: Organization) -> None:
    decision = org.evaluate("role/BreakGlass", "app-prod", "s3:ListAllMyBuckets", "*")
    assert decision.allowed and all(s.stage != "resource *" for s in decision.steps)


def test_no_example_test_asks_about_star_for_an_action_with_resource_types(example_compiled: Compiled) -> None:
    db = iam_database()
    for test in example_compiled.plan.tests:
        if test.resource == "*":
            typed = [a for a in test.actions if (info := db.action(a)) is not None and info.resource_types]
            assert not typed, f"test {test.name} asks about `*` for {typed}: name the resources it means"
    results = {r.test.name: r for r in example_compiled.test_results}
    for name, sid in (("auditor-cannot-stop-cloudtrail", "ProtectCloudTrail"),
                      ("auditor-cannot-create-iam-users", "DenyIamUserCredentials"),
                      ("workload-roles-are-capped-by-the-boundary", "GuardrailsWorkloadBoundary")):
        assert results[name].test.decided_by == sid and results[name].passed


def atoms(text: str) -> tuple[Any, ...]:
    found = pattern_atoms(text, {})
    assert found is not None
    return found


TRAIL = some_resource.format_atoms("arn:${Partition}:cloudtrail:${Region}:${Account}:trail/${TrailName}")


def test_arn_formats_become_patterns() -> None:
    # partition, region and account hold no ':'; the trail name may hold anything
    assert TRAIL.count(some_resource.Placeholder.SEGMENT) == 3 and TRAIL.count(Wildcard.STAR) == 1
    assert "".join(a for a in TRAIL if isinstance(a, str)).startswith("arn::cloudtrail:")
    types = dict(some_resource.resource_types("cloudtrail:StopLogging"))
    assert types == {"trail": "arn:${Partition}:cloudtrail:${Region}:${Account}:trail/${TrailName}"}
    assert some_resource.resource_types("sts:GetCallerIdentity") == ()
    assert some_resource.resource_types("cloudtrial:StopLogging") == ()


@pytest.mark.parametrize(("pattern", "expected"), [
    ("arn:aws:cloudtrail:*:*:trail/*", True),
    ("arn:aws:cloudtrail:eu-west-1:400000000001:trail/organization", True),
    ("arn:aws:cloudtrail:eu-west-1:400000000001:eventdatastore/*", False),
    ("arn:aws:cloudtrail:*:*:eventdatastore/*", True),  # a `*` spans `:`: a trail named `x:y:eventdatastore/z`
    ("arn:aws:s3:::*", False),
    ("arn:aws:cloud?rail:*", True),
    ("*", True),
])
def test_could_a_pattern_match_some_trail(pattern: str, expected: bool) -> None:
    assert some_resource.intersects(atoms(pattern), TRAIL) is expected


def test_not_resource_covers_only_what_it_surely_covers() -> None:
    root_fmt = some_resource.format_atoms("arn:aws:iam::${Account}:root")
    assert some_resource.covers(atoms("arn:aws:iam::*:root"), root_fmt)
    assert not some_resource.covers(atoms("arn:aws:iam::4000000000?1:root"), root_fmt)
    assert not some_resource.covers(atoms("arn:aws:iam::*:user/*"), root_fmt)
    types = (("root", "arn:aws:iam::${Account}:root"),)
    statement = {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:iam::*:root"}
    assert not some_resource.could_apply(statement, types, {}, trust=False)
    user_types = (("user", "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}"),)
    assert some_resource.could_apply(statement, user_types, {}, trust=False)
    scoped = {"Effect": "Deny", "Action": "*", "Resource": "arn:aws:iam::${aws:PrincipalAccount}:user/*"}
    assert some_resource.could_apply(scoped, user_types, {"aws:principalaccount": ("1",)}, trust=False)
    assert not some_resource.could_apply(scoped, user_types, {}, trust=False)  # the variable has no value


# ----------------------------------------------------------------------------- 4. outside the organization


def test_reproducer_4_an_outside_bucket_is_unknown_not_deny(org: Organization) -> None:
    decision = org.evaluate("group/developers", "app-dev", "s3:PutObject", "arn:aws:s3:::app-exfiltration/dump.csv",
                            {"aws:ResourceAccount": [OUTSIDE]})
    assert decision.outcome == "unknown"
    assert "not in the organization" in decision.summary


def test_external_principals_what_the_plan_decides_is_decided(org: Organization) -> None:
    auditor = f"external:{OUTSIDE}/role/ExternalAuditor"
    by_rcp = org.evaluate(auditor, "app-prod", "sts:AssumeRole", "arn:aws:iam::${account_id}:role/SecurityAuditor")
    assert by_rcp.outcome == "explicit-deny" and deciders(by_rcp) == {"EnforceOrgIdentities"}
    # The management account's resources are outside RCPs: there the trust policy decides, and it does not trust them.
    by_trust = org.evaluate(auditor, "management", "sts:AssumeRole", "arn:aws:iam::${account_id}:role/BreakGlass")
    assert by_trust.outcome == "implicit-deny" and by_trust.steps[-1].stage == "resource policy"
    # What depends on the outside account's own policies is unknown, with the reason.
    own = org.evaluate(auditor, "app-prod", "s3:GetObject", "arn:aws:s3:::their-bucket/x",
                       {"aws:ResourceAccount": [OUTSIDE]})
    assert own.outcome == "unknown" and "outside the organization" in own.summary
    request, _ = org.prepare(parse_principal(auditor), "app-prod", "s3:GetObject", "arn:aws:s3:::b/x")
    assert request.context["aws:principalaccount"] == (OUTSIDE,) and "aws:principalorgid" not in request.context


def test_a_trust_that_trusts_an_outside_principal_depends_on_its_policies() -> None:
    role = f"arn:aws:iam::{APP_PROD}:role/Vendor"
    caller = Caller("role", f"arn:aws:iam::{OUTSIDE}:role/Ops", OUTSIDE, f"arn:aws:sts::{OUTSIDE}:assumed-role/Ops/s")
    trust = Policy("trust policy of Vendor", "resource", {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "Action": "sts:AssumeRole"}]})
    decision = evaluate(Request(caller, "sts:AssumeRole", role, APP_PROD, {}),
                        PolicySet(resource=trust, resource_required=True, caller_unknown="outside"))
    assert decision.outcome == "unknown" and decision.steps[-1].stage == "identity"


def test_external_principals_are_checked(org: Organization) -> None:
    with pytest.raises(EvaluationError, match="app-prod, an account of the organization"):
        org.evaluate(f"external:{APP_PROD}/root", "audit", "s3:GetObject", "*")
    with pytest.raises(EvaluationError, match="is not one of"):
        parse_principal("external:1234/role/x")
    assert str(parse_principal(f"external:{OUTSIDE}/user/ops/jane")) == f"external:{OUTSIDE}/user/ops/jane"


def test_the_example_trusts_no_outside_account(org: Organization) -> None:
    assert outside_trust_denials(org) == []


def copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    return target


def test_a_trust_to_an_outside_account_the_rcp_denies_is_a_build_error(tmp_path: Path) -> None:
    blueprint = copy_example(tmp_path)
    identity = blueprint / "identity.yaml"
    text = identity.read_text(encoding="utf-8")
    before, support = text.split("    name: AWSSupport\n", 1)  # the support role's trust gains an outside account
    old = "        - {account: audit}                                      # IAM principals, with MFA (require_mfa)\n"
    assert old in support.split("job_functions", 1)[0]
    support = support.replace(old, old + f'        - {{account: "{OUTSIDE}", roles: [ExternalAuditor]}}\n', 1)
    identity.write_text(before + "    name: AWSSupport\n" + support, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, today=EXAMPLE_TODAY)
    (diagnostic,) = [d for d in caught.value.diagnostics if d.code == "GR404"]
    assert "role AWSSupport" in diagnostic.message and OUTSIDE in diagnostic.message
    assert "RCP guardrails-rcp-root" in diagnostic.message and "EnforceOrgIdentities" in diagnostic.message
    assert diagnostic.location is not None and diagnostic.location.file.endswith("identity.yaml")
    line = identity.read_text(encoding="utf-8").splitlines()[diagnostic.location.line - 1]
    assert OUTSIDE in line


@pytest.mark.parametrize(("principal", "code", "words"), [
    (f"external:{APP_PROD}/role/Ops", "GR203", "in account app-prod of the organization"),
    ("root-session/IAMDeleteRootUserCredential", "GR301", "unknown root task policy"),
])
def test_access_test_principals_are_name_checked(tmp_path: Path, principal: str, code: str, words: str) -> None:
    blueprint = copy_example(tmp_path)
    tests = blueprint / "tests.yaml"
    tests.write_text(tests.read_text(encoding="utf-8") + f"""  checked-principal:
    principal: {principal}
    account: audit
    action: s3:ListAllMyBuckets
    expect: deny
""", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, today=EXAMPLE_TODAY)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == code and words in diagnostic.message
    assert diagnostic.location is not None and diagnostic.location.file.endswith("tests.yaml")
    if code == "GR301":
        assert "IAMDeleteRootUserCredentials" in diagnostic.hint
