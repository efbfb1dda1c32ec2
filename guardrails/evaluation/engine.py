"""AWS's authorization decision for one request, from the policies that apply to it.

The order follows the IAM User Guide's evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and its
cross-account page): an explicit Deny in any policy wins; then every level of the resource account's RCPs
and of the caller's SCPs must allow; then a resource-based policy, the identity policies, the permissions
boundary and the session policy decide. Every step is recorded so that ``guardrails explain`` and the
blueprint tests can show which policy and statement decided.

The engine knows nothing about blueprints or organizations: ``guardrails.evaluation.organization`` builds
the :class:`Request` and :class:`PolicySet` from the emitted policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrails.evaluation.conditions import ClauseResult, evaluate_conditions
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import Context, resource_matches
from guardrails.iam.actions import action_matches

PolicyKind = Literal["scp", "rcp", "resource", "identity", "boundary", "session"]
Outcome = Literal["allow", "explicit-deny", "implicit-deny", "unknown"]

# Statement elements the engine reads; anything else in a statement is a grammar error, not ignorable.
_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
             "Condition"}


@dataclass(frozen=True)
class Policy:
    """One policy document and what it is, for explanations."""

    name: str  # e.g. "guardrails-root", "arn:aws:iam::aws:policy/AdministratorAccess"
    kind: PolicyKind
    document: Mapping[str, Any]
    source: str = ""  # where the document comes from (a file under output/, or "AWS managed")
    level: str = ""  # SCPs/RCPs: the target it is attached to ("root", "ou:Workloads", "account:app-dev")


@dataclass(frozen=True)
class Caller:
    """The principal making the request, as AWS sees it.

    ``arn`` is what a resource-based policy's ``Principal`` is compared with besides ``principal_arn``:
    the session ARN for role sessions (``arn:aws:sts::…:assumed-role/Role/session``), the user ARN for
    users. ``principal_arn`` is the value of ``aws:PrincipalArn`` (the role ARN for role sessions).
    """

    kind: Literal["user", "role", "root", "federated", "service"]
    principal_arn: str
    account: str | None  # None for federated web identities and service principals (outside any account)
    arn: str = ""
    federated_provider: str = ""  # federated callers: the provider ARN their token comes from
    service: str = ""  # service callers: e.g. "ec2.amazonaws.com"


@dataclass(frozen=True)
class Request:
    caller: Caller
    action: str
    resource: str
    resource_account: str | None
    context: Context
    # For explanations: (lowercased key, key as AWS spells it, "default" or "given") per context key.
    context_origin: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class PolicySet:
    """Every policy that applies to one request.

    ``scp_levels``/``rcp_levels``: root → OUs → account, each level the policies attached there (an empty
    tuple of levels means "not governed": the management account, principals outside the organization).
    ``unmodeled``: policies attached to the caller whose documents the evaluator does not have (AWS managed
    policies outside guardrails' reference data); a decision they could change is ``unknown``.
    ``key_policy``: ``resource`` is a KMS key policy, which must allow (the principal, or its account so that
    IAM policies count) whatever the identity policies say, in the key's own account too
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
    ``resource_unknown``: why the resource's own policy is unknown (a resource outside the organization, or one
    guardrails deploys no policy for, across accounts); the decision is then a deny or ``unknown``, never allow.
    ``notes``: (stage, text) facts about the request shown first (e.g. the Identity Center session behind a role).
    """

    scp_levels: tuple[tuple[str, tuple[Policy, ...]], ...] = ()
    rcp_levels: tuple[tuple[str, tuple[Policy, ...]], ...] = ()
    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: Policy | None = None
    resource: Policy | None = None
    resource_required: bool = False  # role trust policies must allow sts:AssumeRole* whatever else allows
    identity_implicit: bool = False  # the root user: the account's identity permissions are implied
    scp_exempt_reason: str = ""  # why SCPs do not apply (management account, service-linked role)
    unmodeled: tuple[str, ...] = ()
    key_policy: bool = False
    resource_unknown: str = ""
    notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StatementMatch:
    """A statement that applies to the request (action, resource, principal and conditions all match)."""

    policy: Policy
    index: int
    sid: str
    effect: str
    clauses: tuple[ClauseResult, ...] = ()
    # resource policies: "direct" (this principal), "session" (this role session) or "account" (its account)
    principal_match: str = ""

    def describe(self) -> str:
        where = f"{self.policy.kind.upper() if self.policy.kind in ('scp', 'rcp') else self.policy.kind} "
        sid = self.sid or f"statement {self.index + 1}"
        return f"{where}{self.policy.name}: {self.effect} {sid}"


@dataclass(frozen=True)
class Step:
    """One stage of the evaluation and what it concluded."""

    stage: str  # "explicit deny", "RCPs root", "SCPs ou:Workloads", "resource policy", "identity", ...
    outcome: Literal["deny", "allow", "no-allow", "not-applicable", "unknown"]
    detail: str = ""
    matches: tuple[StatementMatch, ...] = ()
    policies: tuple[str, ...] = ()  # no-allow steps: the policies that were asked and did not allow
    # no-allow steps: statements whose action, resource and principal fit but whose conditions did not hold
    near_misses: tuple[StatementMatch, ...] = ()


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    steps: tuple[Step, ...]
    deciding: tuple[StatementMatch, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    @property
    def summary(self) -> str:
        """One line: the outcome and what decided it."""
        decided = next((s for s in reversed(self.steps) if s.outcome in ("deny", "no-allow", "unknown")), None)
        if self.outcome == "allow":
            return "allow: " + "; ".join(m.describe() for m in self.deciding)
        if self.outcome == "explicit-deny":
            return "explicit deny: " + "; ".join(m.describe() for m in self.deciding)
        return f"{self.outcome}: {decided.stage}: {decided.detail}" if decided else self.outcome


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise EvaluationError(f"expected a string or a list of strings, got {value!r}")


def statements_of(policy: Policy) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    raw = policy.document.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise EvaluationError(f"{policy.name}: the policy has no Statement list")
    for statement in raw:
        unknown = set(statement) - _ELEMENTS
        if unknown:
            raise EvaluationError(f"{policy.name}: statement element(s) {', '.join(sorted(unknown))} are not IAM "
                                  "policy grammar")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise EvaluationError(f"{policy.name}: statement Effect must be Allow or Deny, got "
                                  f"{statement.get('Effect')!r}")
    return raw


def _action_applies(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(action_matches(p, action) for p in _as_tuple(statement["Action"]))
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in _as_tuple(statement["NotAction"]))
    return False


def _resource_applies(statement: Mapping[str, Any], resource: str, context: Context, kind: PolicyKind) -> bool:
    if "Resource" in statement:
        return any(resource_matches(p, resource, context) for p in _as_tuple(statement["Resource"]))
    if "NotResource" in statement:
        return not any(resource_matches(p, resource, context) for p in _as_tuple(statement["NotResource"]))
    # Role trust policies have no Resource element: the role they belong to is the resource.
    return kind == "resource"


def _principal_match(statement: Mapping[str, Any], caller: Caller) -> str:
    """"direct" when the statement names this principal, "account" when it names its account, else ""."""
    if "NotPrincipal" in statement:
        # Its rules (account ARNs required, principals with boundaries always denied, never with Allow) make it
        # easy to get wrong; guardrails never emits it, so a policy that uses it is not evaluated by guessing.
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
        raise EvaluationError("NotPrincipal is not supported by guardrails' evaluator; write the statement with "
                              "Principal and a condition on aws:PrincipalArn")
    if "Principal" in statement:
        return _names_principal(statement["Principal"], caller)
    return ""


def _names_principal(principal: object, caller: Caller) -> str:
    if principal == "*":
        return "direct"
    if not isinstance(principal, Mapping):
        raise EvaluationError(f"a Principal must be \"*\" or an object, got {principal!r}")
    best = ""
    for kind, values in principal.items():
        for value in _as_tuple(values):
            if kind == "AWS":
                if value == "*":
                    return "direct"
                if caller.kind == "role" and value == caller.arn:
                    return "session"  # the role session itself: not limited by the role's boundary
                if value in (caller.principal_arn, caller.arn) and caller.kind != "root":
                    return "direct"
                account = value if value.isdigit() else _root_account(value)
                if account and account == caller.account:
                    # The account's root user itself is named directly; anyone else in it by delegation.
                    best = "direct" if caller.kind == "root" else (best or "account")
            elif kind == "Federated" and caller.kind == "federated" and value == caller.federated_provider:
                return "direct"
            elif kind == "Service" and caller.kind == "service" and value == caller.service:
                return "direct"
            elif kind not in ("AWS", "Federated", "Service", "CanonicalUser"):
                raise EvaluationError(f"unknown Principal type {kind!r}")
    return best


def _root_account(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None


def matching_statements(policy: Policy, request: Request, effect: str, *,
                        near_misses: bool = False) -> list[StatementMatch]:
    """Statements of ``policy`` with this effect that apply to the request (with ``near_misses``: those that
    would, but for their conditions)."""
    found: list[StatementMatch] = []
    for index, statement in enumerate(statements_of(policy)):
        if statement["Effect"] != effect:
            continue
        if not _action_applies(statement, request.action):
            continue
        if not _resource_applies(statement, request.resource, request.context, policy.kind):
            continue
        principal = ""
        if policy.kind == "resource":
            principal = _principal_match(statement, request.caller)
            if not principal:
                continue
        matched, clauses = evaluate_conditions(statement.get("Condition") or {}, request.context)
        if matched != near_misses:
            found.append(StatementMatch(policy, index, str(statement.get("Sid", "")), effect, clauses, principal))
    return found


def near_misses(policy: Policy, request: Request, effect: str = "Allow") -> list[StatementMatch]:
    """Statements that fit the action, resource and principal but whose conditions are false (for explanations)."""
    return matching_statements(policy, request, effect, near_misses=True)


def _no_allow(stage: str, detail: str, policies: Sequence[Policy], request: Request) -> Step:
    return Step(stage, "no-allow", detail, policies=tuple(p.name for p in policies),
                near_misses=tuple(m for p in policies for m in near_misses(p, request)))


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """The decision for ``request`` given every policy that applies to it, with the steps that led there."""
    steps: list[Step] = [Step(stage, "not-applicable", text) for stage, text in policies.notes]
    # RCPs do not restrict service-linked roles either; SCPs also spare the management account's principals.
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
    rcp_exempt = policies.scp_exempt_reason if "service-linked" in policies.scp_exempt_reason else ""
    applicable: list[Policy] = [] if rcp_exempt else [p for _, level in policies.rcp_levels for p in level]
    if not policies.scp_exempt_reason:
        applicable += [p for _, level in policies.scp_levels for p in level]
    applicable += [p for p in (policies.resource, *policies.identity, policies.boundary, policies.session) if p]

    denies = [m for p in applicable for m in matching_statements(p, request, "Deny")]
    if denies:
        steps.append(Step("explicit deny", "deny", f"{len(denies)} Deny statement(s) apply", tuple(denies)))
        return Decision("explicit-deny", tuple(steps), tuple(denies))
    steps.append(Step("explicit deny", "not-applicable", "no Deny statement applies"))

    for family, levels, exempt in (("RCPs", policies.rcp_levels, rcp_exempt),
                                   ("SCPs", policies.scp_levels, policies.scp_exempt_reason)):
        if exempt:
            steps.append(Step(family, "not-applicable", exempt))
            continue
        if not levels:
            steps.append(Step(family, "not-applicable", "none apply to this request"))
            continue
        for level, attached in levels:
            allows = [m for p in attached for m in matching_statements(p, request, "Allow")]
            if not allows:
                names = ", ".join(p.name for p in attached) or "no policy"
                steps.append(_no_allow(f"{family} {level}", f"nothing attached at {level} allows it ({names})",
                                       attached, request))
                return Decision("implicit-deny", tuple(steps))
            steps.append(Step(f"{family} {level}", "allow", "", tuple(allows[:1])))

    if request.caller.kind == "root" and policies.resource_required:
        # IAM refuses role assumption by a root user whatever the trust policy says.
        steps.append(Step("resource policy", "no-allow", "a root user cannot assume roles"))
        return Decision("implicit-deny", tuple(steps))
    resource_allows: list[StatementMatch] = []
    cross_account = request.caller.account is None or request.resource_account != request.caller.account
    if policies.resource:
        resource_allows = matching_statements(policies.resource, request, "Allow")
        if not resource_allows:
            if policies.resource_required or policies.key_policy or cross_account:
                detail = f"{_named(policies.resource)} does not allow this principal"
                if policies.key_policy:
                    detail += " or its account, so no IAM policy can grant it on this key"
                steps.append(_no_allow("resource policy", detail, (policies.resource,), request))
                return Decision("implicit-deny", tuple(steps))
            steps.append(Step("resource policy", "not-applicable", f"{_named(policies.resource)} grants nothing "
                              "here; identity policies decide"))
        else:
            steps.append(Step("resource policy", "allow", "", tuple(resource_allows)))
    elif policies.resource_unknown:
        steps.append(Step("resource policy", "unknown", policies.resource_unknown))
        if not cross_account or request.caller.account is None:
            # Within one account (and for callers outside any account) the unknown policy alone may allow or deny.
            return Decision("unknown", tuple(steps))
        # Across accounts the caller's side must allow too: if it does not, that settles a deny.
    elif cross_account and request.caller.account is not None:
        # Across accounts the resource's own account must grant access too, through a resource-based policy.
        steps.append(Step("resource policy", "no-allow", f"the resource is in account {request.resource_account}: "
                          "cross-account access needs a resource-based policy there, and none applies"))
        return Decision("implicit-deny", tuple(steps))

    # A resource policy that names the principal itself (not its account) grants on its own within one account,
    # and for principals outside any account (web identities, services) — identity policies then do not apply.
    direct = [m for m in resource_allows if m.principal_match in ("direct", "session")]
    if direct and (not cross_account or request.caller.account is None):
        if request.caller.kind in ("user", "federated", "service", "root") or \
                all(m.principal_match == "session" for m in direct):
            return _unless_unmodeled(Decision("allow", tuple(steps), tuple(direct)), policies)
        # A grant to a role ARN still passes through the role's boundary and session policy.
        return _unless_unmodeled(_bounded(request, policies, steps, tuple(direct)), policies)

    identity_allows: list[StatementMatch] = []
    if policies.identity_implicit:
        steps.append(Step("identity", "allow", "the root user holds every permission of its account"))
    else:
        identity_allows = [m for p in policies.identity for m in matching_statements(p, request, "Allow")]
        if not identity_allows:
            if policies.unmodeled:
                steps.append(Step("identity", "unknown", "no modeled identity policy allows it; "
                                  f"unmodeled: {', '.join(policies.unmodeled)}"))
                # The boundary may settle it anyway: what it does not allow is denied whatever the identity grants.
                if policies.boundary and not matching_statements(policies.boundary, request, "Allow"):
                    steps.append(_no_allow("boundary", f"{policies.boundary.name} does not allow it",
                                           (policies.boundary,), request))
                    return Decision("implicit-deny", tuple(steps))
                return Decision("unknown", tuple(steps))
            steps.append(_no_allow("identity", "no identity policy allows it", policies.identity, request))
            return Decision("implicit-deny", tuple(steps))
        steps.append(Step("identity", "allow", "", tuple(identity_allows)))
    return _unless_unmodeled(_bounded(request, policies, steps, tuple(resource_allows) + tuple(identity_allows)),
                             policies)


def _named(policy: Policy) -> str:
    """A resource policy's name and the file it comes from, for step details."""
    return f"{policy.name} ({policy.source})" if policy.source else policy.name


def _unless_unmodeled(decision: Decision, policies: PolicySet) -> Decision:
    """An allow is only certain when no policy that applies is unknown to us: it could hold a Deny, and an
    unknown resource policy across accounts must allow as well."""
    if decision.outcome != "allow":
        return decision
    if policies.resource_unknown:
        step = Step("unknown resource policy", "unknown", "the caller's side allows it, so it depends on the "
                    f"resource's own policy: {policies.resource_unknown}")
        return Decision("unknown", (*decision.steps, step), decision.deciding)
    if not policies.unmodeled:
        return decision
    step = Step("unmodeled policies", "unknown", "allowed by the modeled policies, but a Deny in "
                f"{', '.join(policies.unmodeled)} (not in guardrails' reference data) would win")
    return Decision("unknown", (*decision.steps, step), decision.deciding)


def _bounded(request: Request, policies: PolicySet, steps: list[Step],
             allows: tuple[StatementMatch, ...]) -> Decision:
    """The permissions boundary and the session policy, each of which must also allow."""
    for stage, policy in (("boundary", policies.boundary), ("session policy", policies.session)):
        if policy is None:
            continue
        found = matching_statements(policy, request, "Allow")
        if not found:
            steps.append(_no_allow(stage, f"{policy.name} does not allow it", (policy,), request))
            return Decision("implicit-deny", tuple(steps))
        steps.append(Step(stage, "allow", "", tuple(found)))
        allows = allows + tuple(found)
    return Decision("allow", tuple(steps), allows)


def describe_steps(decision: Decision) -> Sequence[str]:
    """Plain-text lines of the chain (for logs and tests; the CLI renders its own)."""
    lines = []
    for step in decision.steps:
        lines.append(f"{step.stage}: {step.outcome}{' — ' + step.detail if step.detail else ''}")
        lines.extend(f"    {m.describe()}" for m in step.matches)
    return lines
