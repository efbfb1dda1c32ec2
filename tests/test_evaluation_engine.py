"""The evaluator's decision logic: AWS's documented evaluation order, one rule per test.

Sources: IAM User Guide "Policy evaluation logic" (explicit deny, SCPs/RCPs, resource-based policies,
boundaries, session policies), "Cross-account policy evaluation logic", Organizations User Guide
"SCP evaluation" (every level from the root to the account must allow; management account exempt).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.evaluation.engine import Caller, Policy, PolicySet, Request, evaluate

ACCOUNT, OTHER = "111111111111", "222222222222"
USER = Caller("user", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice")
ROLE = Caller("role", f"arn:aws:iam::{ACCOUNT}:role/app", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1")


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = "*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def identity(*statements: dict[str, Any], name: str = "id") -> Policy:
    return Policy(name, "identity", doc(*statements))


FULL = Policy("FullAWSAccess", "scp", doc(allow()))


def request(action: str = "s3:GetObject", resource: str = "arn:aws:s3:::bucket/key", caller: Caller = USER,
            resource_account: str | None = ACCOUNT, **context: str) -> Request:
    ctx = {k.lower().replace("__", ":").replace("_", "/"): (v,) for k, v in context.items()}
    ctx.setdefault("aws:principalarn", (caller.principal_arn,))
    return Request(caller, action, resource, resource_account, ctx)


def test_no_policy_means_implicit_deny() -> None:
    decision = evaluate(request(), PolicySet())
    assert decision.outcome == "implicit-deny"
    assert decision.steps[-1].stage == "identity"


def test_identity_allow_allows() -> None:
    decision = evaluate(request(), PolicySet(identity=(identity(allow("s3:Get*")),)))
    assert decision.allowed
    assert [m.policy.name for m in decision.deciding] == ["id"]


def test_explicit_deny_anywhere_wins_over_any_allow() -> None:
    policies = PolicySet(identity=(identity(allow()), identity(deny("s3:GetObject"), name="deny")),
                         scp_levels=(("root", (FULL,)),))
    decision = evaluate(request(), policies)
    assert decision.outcome == "explicit-deny"
    assert decision.deciding[0].policy.name == "deny"


def test_action_match_is_case_insensitive_and_resource_match_case_sensitive() -> None:
    assert evaluate(request("S3:getobject"), PolicySet(identity=(identity(allow("s3:GetObject")),))).allowed
    denied = evaluate(request(resource="arn:aws:s3:::Bucket/key"),
                      PolicySet(identity=(identity(allow("s3:*", "arn:aws:s3:::bucket/*")),)))
    assert denied.outcome == "implicit-deny"


def test_scps_every_level_must_allow() -> None:
    """An SCP at an OU that allows only EC2 takes S3 away below it, though the root allows everything."""
    only_ec2 = Policy("ec2-only", "scp", doc(allow("ec2:*")), level="ou:Workloads")
    policies = PolicySet(identity=(identity(allow()),),
                         scp_levels=(("root", (FULL,)), ("ou:Workloads", (only_ec2,)), ("account:a", (FULL,))))
    decision = evaluate(request(), policies)
    assert decision.outcome == "implicit-deny"
    assert decision.steps[-1].stage == "SCPs ou:Workloads"
    assert evaluate(request("ec2:RunInstances", "*"), policies).allowed


def test_scp_allow_grants_nothing_by_itself() -> None:
    assert evaluate(request(), PolicySet(scp_levels=(("root", (FULL,)),))).outcome == "implicit-deny"


def test_scp_deny_with_condition_only_when_condition_holds() -> None:
    region = Policy("regions", "scp", doc(deny("*", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}})))
    policies = PolicySet(identity=(identity(allow()),), scp_levels=(("root", (FULL, region)),))
    assert evaluate(request(aws__RequestedRegion="eu-west-1"), policies).allowed
    assert evaluate(request(aws__RequestedRegion="us-east-1"), policies).outcome == "explicit-deny"


def test_management_account_and_service_linked_roles_are_exempt_from_scps() -> None:
    deny_all = Policy("deny-all", "scp", doc(deny()))
    policies = PolicySet(identity=(identity(allow()),), scp_levels=(("root", (FULL, deny_all)),),
                         scp_exempt_reason="SCPs do not restrict principals of the management account")
    decision = evaluate(request(), policies)
    assert decision.allowed
    assert any(s.stage == "SCPs" and s.outcome == "not-applicable" for s in decision.steps)


def test_rcps_each_level_must_allow_and_deny_wins() -> None:
    rcp_full = Policy("RCPFullAWSAccess", "rcp", doc(allow(Principal="*")))
    rcp_deny = Policy("perimeter", "rcp", doc(deny("s3:*", Principal="*", Condition={
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}})))
    policies = PolicySet(identity=(identity(allow()),), rcp_levels=(("root", (rcp_full, rcp_deny)),))
    assert evaluate(request(aws__PrincipalOrgID="o-abc"), policies).allowed
    assert evaluate(request(aws__PrincipalOrgID="o-other"), policies).outcome == "explicit-deny"


def test_boundary_intersects_with_identity_policies() -> None:
    """The effective permissions are the intersection: identity allows S3 and EC2, the boundary only S3."""
    policies = PolicySet(identity=(identity(allow("s3:*"), allow("ec2:*")),),
                         boundary=Policy("boundary", "boundary", doc(allow("s3:*"), allow("iam:*"))))
    assert evaluate(request(), policies).allowed
    assert evaluate(request("ec2:RunInstances", "*"), policies).outcome == "implicit-deny"
    # The boundary alone grants nothing.
    assert evaluate(request("iam:CreateUser", "*"), policies).outcome == "implicit-deny"


def test_boundary_deny_is_an_explicit_deny() -> None:
    policies = PolicySet(identity=(identity(allow()),),
                         boundary=Policy("boundary", "boundary", doc(allow(), deny("iam:DeleteRolePermissionsBoundary"))))
    assert evaluate(request("iam:DeleteRolePermissionsBoundary", "*", ROLE), policies).outcome == "explicit-deny"


def test_session_policy_limits_a_role_session() -> None:
    policies = PolicySet(identity=(identity(allow()),), session=Policy("session", "session", doc(allow("s3:GetObject"))))
    assert evaluate(request(caller=ROLE), policies).allowed
    assert evaluate(request("s3:PutObject", caller=ROLE), policies).outcome == "implicit-deny"


def resource_policy(principal: Any, action: str = "s3:GetObject") -> Policy:
    return Policy("bucket policy", "resource", doc(allow(action, "arn:aws:s3:::bucket/*", Principal=principal)))


def test_same_account_resource_policy_naming_the_user_grants_without_identity_policy() -> None:
    policies = PolicySet(resource=resource_policy({"AWS": USER.principal_arn}))
    assert evaluate(request(), policies).allowed


def test_same_account_resource_policy_naming_the_account_needs_an_identity_allow() -> None:
    policies = PolicySet(resource=resource_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert evaluate(request(), policies).outcome == "implicit-deny"
    both = PolicySet(resource=policies.resource, identity=(identity(allow("s3:GetObject")),))
    assert evaluate(request(), both).allowed


def test_resource_policy_naming_a_role_is_still_capped_by_its_boundary() -> None:
    policies = PolicySet(resource=resource_policy({"AWS": ROLE.principal_arn}),
                         boundary=Policy("boundary", "boundary", doc(allow("ec2:*"))))
    assert evaluate(request(caller=ROLE), policies).outcome == "implicit-deny"
    assert evaluate(request(caller=ROLE), PolicySet(resource=policies.resource)).allowed


def test_cross_account_needs_both_sides() -> None:
    resource_side = resource_policy({"AWS": OTHER})
    caller = Caller("user", f"arn:aws:iam::{OTHER}:user/bob", OTHER, f"arn:aws:iam::{OTHER}:user/bob")
    only_resource = PolicySet(resource=resource_side)
    assert evaluate(request(caller=caller), only_resource).outcome == "implicit-deny"
    only_identity = PolicySet(identity=(identity(allow("s3:GetObject")),))
    assert evaluate(request(caller=caller), only_identity).outcome == "implicit-deny"
    both = PolicySet(resource=resource_side, identity=(identity(allow("s3:GetObject")),))
    assert evaluate(request(caller=caller), both).allowed


def test_trust_policy_is_required_even_in_the_same_account() -> None:
    trust = Policy("trust", "resource", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                             "Action": "sts:AssumeRole",
                                             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/admin"
    policies = PolicySet(identity=(identity(allow("sts:AssumeRole")),), resource=trust, resource_required=True)
    assert evaluate(request("sts:AssumeRole", role_arn, aws__MultiFactorAuthPresent="true"), policies).allowed
    without_mfa = evaluate(request("sts:AssumeRole", role_arn, aws__MultiFactorAuthPresent="false"), policies)
    assert without_mfa.outcome == "implicit-deny"
    assert any(s.stage == "resource policy" and s.outcome == "no-allow" for s in without_mfa.steps)


def test_web_identity_needs_only_the_trust_policy() -> None:
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    trust = Policy("trust", "resource", doc({
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"}}}))
    web = Caller("federated", provider, None, provider, federated_provider=provider)
    role = f"arn:aws:iam::{ACCOUNT}:role/ci"
    ok = Request(web, "sts:AssumeRoleWithWebIdentity", role, ACCOUNT,
                 {"token.actions.githubusercontent.com:sub": ("repo:org/app:ref:refs/heads/main",)})
    policies = PolicySet(resource=trust, resource_required=True)
    assert evaluate(ok, policies).allowed
    other = Request(web, "sts:AssumeRoleWithWebIdentity", role, ACCOUNT,
                    {"token.actions.githubusercontent.com:sub": ("repo:org/app:pull_request",)})
    assert evaluate(other, policies).outcome == "implicit-deny"


def test_not_action_allow_grants_everything_else_and_not_resource() -> None:
    policies = PolicySet(identity=(identity({"Effect": "Allow", "NotAction": "iam:*", "NotResource":
                                             "arn:aws:s3:::secret/*"}),))
    assert evaluate(request(), policies).allowed
    assert evaluate(request("iam:CreateUser", "*"), policies).outcome == "implicit-deny"
    assert evaluate(request(resource="arn:aws:s3:::secret/x"), policies).outcome == "implicit-deny"


def test_policy_variables_in_resources() -> None:
    policies = PolicySet(identity=(identity(allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username}")),))
    own = request("iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/alice", aws__username="alice")
    other = request("iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/bob", aws__username="alice")
    assert evaluate(own, policies).allowed
    assert evaluate(other, policies).outcome == "implicit-deny"


def test_unmodeled_policies_make_an_implicit_deny_unknown_unless_the_boundary_settles_it() -> None:
    policies = PolicySet(unmodeled=("arn:aws:iam::aws:policy/SomethingNew",))
    assert evaluate(request(), policies).outcome == "unknown"
    bounded = PolicySet(unmodeled=policies.unmodeled, boundary=Policy("b", "boundary", doc(allow("ec2:*"))))
    assert evaluate(request(), bounded).outcome == "implicit-deny"


def test_malformed_statement_is_an_error_not_a_silent_pass() -> None:
    from guardrails.evaluation.errors import EvaluationError

    with pytest.raises(EvaluationError, match="Effect"):
        evaluate(request(), PolicySet(identity=(identity({"Effect": "Permit", "Action": "*", "Resource": "*"}),)))
    with pytest.raises(EvaluationError, match="Actoin"):
        evaluate(request(), PolicySet(identity=(identity({"Effect": "Allow", "Actoin": "*", "Resource": "*"}),)))


ACTIONS = st.sampled_from(["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "iam:CreateUser", "sts:AssumeRole"])
EFFECTS = st.sampled_from(["Allow", "Deny"])
PATTERNS = st.sampled_from(["*", "s3:*", "s3:Get*", "ec2:*", "iam:Create*", "sts:AssumeRole"])


@given(st.lists(st.tuples(EFFECTS, PATTERNS), max_size=5), st.lists(st.tuples(EFFECTS, PATTERNS), max_size=3), ACTIONS)
def test_properties_of_the_decision(identity_statements: list[tuple[str, str]], scp_statements: list[tuple[str, str]],
                                    action: str) -> None:
    """Deny anywhere ⇒ denied; allowed ⇒ some identity Allow and no Deny; adding a Deny never turns deny into allow."""
    id_policy = identity(*({"Effect": e, "Action": p, "Resource": "*"} for e, p in identity_statements))
    scp = Policy("scp", "scp", doc(allow(), *({"Effect": e, "Action": p, "Resource": "*"} for e, p in scp_statements)))
    policies = PolicySet(identity=(id_policy,), scp_levels=(("root", (scp,)),))
    decision = evaluate(request(action, "*"), policies)
    from guardrails.iam.actions import action_matches

    any_deny = any(e == "Deny" and action_matches(p, action) for e, p in identity_statements + scp_statements)
    any_allow = any(e == "Allow" and action_matches(p, action) for e, p in identity_statements)
    assert (decision.outcome == "explicit-deny") == any_deny
    assert decision.allowed == (any_allow and not any_deny)
    stricter = PolicySet(identity=(id_policy, identity(deny(action), name="extra")), scp_levels=policies.scp_levels)
    assert not evaluate(request(action, "*"), stricter).allowed


def test_resource_policy_naming_the_role_session_is_not_capped_by_the_boundary() -> None:
    """A grant to the session ARN itself works like one to a user; a grant to the role ARN stays bounded."""
    boundary = Policy("boundary", "boundary", doc(allow("ec2:*")))
    session = PolicySet(resource=resource_policy({"AWS": ROLE.arn}), boundary=boundary)
    assert evaluate(request(caller=ROLE), session).allowed
    role = PolicySet(resource=resource_policy({"AWS": ROLE.principal_arn}), boundary=boundary)
    assert evaluate(request(caller=ROLE), role).outcome == "implicit-deny"


def test_service_linked_roles_are_exempt_from_rcps_too() -> None:
    slr = Caller("role", f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX", ACCOUNT)
    rcp = Policy("deny-s3", "rcp", doc(deny("s3:*", Principal="*")))
    full = Policy("RCPFullAWSAccess", "rcp", doc(allow(Principal="*")))
    policies = PolicySet(identity=(identity(allow()),), rcp_levels=(("root", (full, rcp)),),
                         scp_exempt_reason="SCPs and RCPs do not restrict service-linked roles")
    decision = evaluate(request(caller=slr), policies)
    assert decision.allowed
    assert any(s.stage == "RCPs" and s.outcome == "not-applicable" for s in decision.steps)


def test_not_principal_is_refused_rather_than_guessed() -> None:
    from guardrails.evaluation.errors import EvaluationError

    policy = Policy("bucket", "resource", doc({"Effect": "Deny", "NotPrincipal": {"AWS": USER.principal_arn},
                                               "Action": "s3:*", "Resource": "*"}))
    with pytest.raises(EvaluationError, match="NotPrincipal"):
        evaluate(request(), PolicySet(identity=(identity(allow()),), resource=policy))


def test_root_cannot_assume_roles() -> None:
    root = Caller("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    trust = Policy("trust", "resource", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                             "Action": "sts:AssumeRole"}))
    decision = evaluate(request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/x", root),
                        PolicySet(resource=trust, resource_required=True, identity_implicit=True))
    assert decision.outcome == "implicit-deny" and "root user cannot assume roles" in decision.summary


def test_an_allow_next_to_an_unmodeled_policy_is_unknown() -> None:
    policies = PolicySet(identity=(identity(allow()),), unmodeled=("arn:aws:iam::aws:policy/AWSDenyAll",))
    decision = evaluate(request(), policies)
    assert decision.outcome == "unknown" and "AWSDenyAll" in decision.summary


def test_failed_conditions_are_reported_as_near_misses() -> None:
    trust = Policy("trust", "resource", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                             "Action": "sts:AssumeRole",
                                             "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}))
    decision = evaluate(request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/x", aws__MultiFactorAuthAge="7200"),
                        PolicySet(identity=(identity(allow()),), resource=trust, resource_required=True))
    step = decision.steps[-1]
    assert step.outcome == "no-allow" and step.policies == ("trust",)
    (miss,) = step.near_misses
    assert [(c.key, c.matched) for c in miss.clauses] == [("aws:MultiFactorAuthAge", False)]
