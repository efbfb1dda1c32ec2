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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrails.evaluation import some_resource, unconditional
from guardrails.evaluation.conditions import ClauseResult, evaluate_conditions
from guardrails.evaluation.matching import Context
from guardrails.evaluation.statements import (
    action_applies,
    principal_match,
    resource_applies,
    statements_for,
    statements_of,
    static_resources,
)
from guardrails.evaluation.unconditional import Exemption

PolicyKind = Literal["scp", "rcp", "resource", "identity", "boundary", "session"]
Outcome = Literal["allow", "explicit-deny", "implicit-deny", "unknown"]


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy document and what it is, for explanations."""

    name: str  # e.g. "guardrails-root", "arn:aws:iam::aws:policy/AdministratorAccess"
    kind: PolicyKind
    document: Mapping[str, Any]
    source: str = ""  # where the document comes from (a file under output/, or "AWS managed")
    level: str = ""  # SCPs/RCPs: the target it is attached to ("root", "ou:Workloads", "account:app-dev")


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Request:
    caller: Caller
    action: str
    resource: str
    resource_account: str | None
    context: Context
    # For explanations: (lowercased key, key as AWS spells it, "default" or "given") per context key.
    context_origin: tuple[tuple[str, str, str], ...] = ()
    # resource "*" for an action with resource types: those types, and the answer is for some resource of them
    # (guardrails.evaluation.some_resource); () = the resource is what it says.
    resource_types: some_resource.ResourceTypes = ()


@dataclass(frozen=True, slots=True)
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
    ``task_policy``: an sts:AssumeRoot session's task policy: its Denies apply, it is never asked for an Allow.
    ``exemptions``: the documented exceptions that apply (guardrails.evaluation.unconditional): policy types left
    out, or no permission needed at all.
    ``caller_unknown``: why the caller's own policies (identity, boundary, SCPs) are unknown (a principal outside
    the organization): what depends on them is ``unknown``, what the plan's policies decide stays decided.
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
    task_policy: Policy | None = None
    exemptions: tuple[Exemption, ...] = ()
    rcp_exempt_reason: str = ""  # why RCPs do not apply (a documented exception)
    caller_unknown: str = ""
    # Why the permissions boundary the request names (iam:PermissionsBoundary) may not exist where it is set: IAM
    # authorizes the request, but it succeeds only if the policy exists, so an allow is ``unknown``.
    boundary_unknown: str = ""


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Step:
    """One stage of the evaluation and what it concluded."""

    stage: str  # "explicit deny", "RCPs root", "SCPs ou:Workloads", "resource policy", "identity", ...
    outcome: Literal["deny", "allow", "no-allow", "not-applicable", "unknown"]
    detail: str = ""
    matches: tuple[StatementMatch, ...] = ()
    policies: tuple[str, ...] = ()  # no-allow steps: the policies that were asked and did not allow
    # no-allow steps: statements whose action, resource and principal fit but whose conditions did not hold
    near_misses: tuple[StatementMatch, ...] = ()


@dataclass(frozen=True, slots=True)
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
            if not self.deciding and self.steps:  # a request that needs no permission: the exception decided
                return f"allow: {self.steps[-1].stage}: {self.steps[-1].detail}"
            return "allow: " + "; ".join(m.describe() for m in self.deciding)
        if self.outcome == "explicit-deny":
            return "explicit deny: " + "; ".join(m.describe() for m in self.deciding)
        return f"{self.outcome}: {decided.stage}: {decided.detail}" if decided else self.outcome


def matching_statements(policy: Policy, request: Request, effect: str, *,
                        near_misses: bool = False) -> list[StatementMatch]:
    """Statements of ``policy`` with this effect that apply to the request (with ``near_misses``: those that
    would, but for their conditions)."""
    return split_statements(policy, request, effect)[1 if near_misses else 0]


Split = tuple[list[StatementMatch], list[StatementMatch]]


def split_statements(policy: Policy, request: Request, effect: str) -> Split:
    """The statements of ``policy`` with this effect whose action, resource and principal fit the request: those
    whose conditions hold, and the near misses whose conditions do not. One pass: the conditions of every fitting
    statement are evaluated either way, so the near misses of an explanation cost nothing more."""
    return _split(policy, request, effect)[0]


def _split(policy: Policy, request: Request, effect: str) -> tuple[Split, bool]:
    """:func:`split_statements`, and whether the answer holds for every request of this action and resource."""
    found: tuple[list[StatementMatch], list[StatementMatch]] = ([], [])
    # Asked first: most policies have no statement of this effect for this action (FullAWSAccess and Denies).
    fitting: Iterable[tuple[int, Mapping[str, Any]]] | None = statements_for(policy, effect, request.action)
    if fitting is None:  # a malformed statement: checked lazily, in order, so the first error is the one raised
        fitting = ((i, st) for i, st in enumerate(statements_of(policy))
                   if st["Effect"] == effect and action_applies(st, request.action))
    elif not fitting:
        return found, True
    some = effect == "Deny" and bool(request.resource_types) and request.resource == "*"
    key = (id(policy), effect, request.action, request.resource, request.resource_types if some else ())
    kept = _SPLITS.get(key)
    if kept is not None and kept[0] is policy:
        return (list(kept[1]), list(kept[2])), True
    # The answer is the same for every request of this action on this resource when no fitting statement asks the
    # context (no Condition, no policy variable in its resources) or the caller (a resource policy's Principal):
    # the SCP and RCP levels every account of an OU shares, and AWS managed policies, are decided once.
    static = policy.kind != "resource"
    for index, statement in fitting:
        if static and (statement.get("Condition") or not static_resources(statement)):
            static = False
        if some:
            if not some_resource.could_apply(statement, request.resource_types, request.context,
                                             trust=policy.kind == "resource"):
                continue
        elif not resource_applies(statement, request.resource, request.context, policy.kind):
            continue
        principal = ""
        if policy.kind == "resource":
            principal = principal_match(statement, request.caller)
            if not principal:
                continue
        matched, clauses = evaluate_conditions(statement.get("Condition") or {}, request.context)
        found[0 if matched else 1].append(StatementMatch(policy, index, str(statement.get("Sid", "")), effect,
                                                         clauses, principal))
    if static and not policy.level.startswith(_ONE_ACCOUNT):
        if len(_SPLITS) >= 1 << 16:
            _SPLITS.clear()
        _SPLITS[key] = (policy, tuple(found[0]), tuple(found[1]))
    return found, static


def _level_step(family: str, level: str, attached: tuple[Policy, ...], request: Request) -> Step:
    """One level of SCPs or RCPs: it allows when some policy attached there allows. Kept like a split when every
    policy's answer holds for any request of the action and resource: a level is shared by every account below it
    (``Organization.scp_levels``), so the root's is decided once for the whole organization."""
    key = (family, level, id(attached), request.action, request.resource)
    kept = _LEVELS.get(key)
    if kept is not None and kept[0] is attached:
        return kept[1]
    answers = [_split(p, request, "Allow") for p in attached]
    splits = [split for split, _ in answers]
    allows = _matched(splits)
    if allows:
        step = Step(f"{family} {level}", "allow", "", tuple(allows[:1]))
    else:
        names = ", ".join(p.name for p in attached) or "no policy"
        step = _no_allow(f"{family} {level}", f"nothing attached at {level} allows it ({names})", attached, splits)
    if all(static for _, static in answers) and not level.startswith(_ONE_ACCOUNT):
        if len(_LEVELS) >= 1 << 16:
            _LEVELS.clear()
        _LEVELS[key] = (attached, step)
    return step


# (policy id, effect, action, resource, resource types) → the policy (kept: its id is not reused) and its split, for
# splits that depend on nothing else (split_statements).
_SPLITS: dict[tuple[Any, ...], tuple[Policy, tuple[StatementMatch, ...], tuple[StatementMatch, ...]]] = {}
# What is attached to one account is asked about by that account's requests only, a few actions each: keeping it
# would grow the heap by every account (and the garbage collector's work with it) for no later answer.
_ONE_ACCOUNT = "account:"
# (family, level, id of the level's policies, action, resource) → the policies (kept) and the level's step.
_LEVELS: dict[tuple[Any, ...], tuple[tuple[Policy, ...], Step]] = {}


def near_misses(policy: Policy, request: Request, effect: str = "Allow") -> list[StatementMatch]:
    """Statements that fit the action, resource and principal but whose conditions are false (for explanations)."""
    return matching_statements(policy, request, effect, near_misses=True)


def _splits(policies: Sequence[Policy], request: Request, effect: str = "Allow") -> list[Split]:
    return [split_statements(p, request, effect) for p in policies]


def _matched(splits: Sequence[Split]) -> list[StatementMatch]:
    return [m for matched, _ in splits for m in matched]


def _no_allow(stage: str, detail: str, policies: Sequence[Policy], splits: Sequence[Split]) -> Step:
    """A step that found no Allow, with the near misses of the same pass (statements whose conditions failed)."""
    return Step(stage, "no-allow", detail, policies=tuple(p.name for p in policies),
                near_misses=tuple(m for _, missed in splits for m in missed))


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """The decision for ``request`` given every policy that applies to it, with the steps that led there."""
    steps: list[Step] = [Step(stage, "not-applicable", text) for stage, text in policies.notes]
    policies, left_out = unconditional.leave_out(policies)  # documented exceptions: the types they leave out
    steps += [Step(stage, "not-applicable", text) for stage, text in left_out]
    # RCPs do not restrict service-linked roles either; SCPs also spare the management account's principals.
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
    rcp_exempt = policies.rcp_exempt_reason or (
        policies.scp_exempt_reason if "service-linked" in policies.scp_exempt_reason else "")
    applicable: list[Policy] = [] if rcp_exempt else [p for _, level in policies.rcp_levels for p in level]
    if not policies.scp_exempt_reason:
        applicable += [p for _, level in policies.scp_levels for p in level]
    applicable += [p for p in (policies.resource, *policies.identity, policies.boundary, policies.session,
                               policies.task_policy) if p]
    deny_splits = _splits(applicable, request, "Deny")
    if request.resource_types and request.resource == "*":
        steps.append(_some_resource_step(request, deny_splits))

    denies = _matched(deny_splits)
    free = unconditional.without_permission(policies.exemptions)
    if free is not None:
        return _without_permission(free, denies, policies, steps)
    if denies:
        steps.append(Step("explicit deny", "deny", f"{len(denies)} Deny statement(s) apply", tuple(denies)))
        return Decision("explicit-deny", tuple(steps), tuple(denies))
    steps.append(Step("explicit deny", "not-applicable", "no Deny statement applies"))

    for family, levels, exempt in (("RCPs", policies.rcp_levels, rcp_exempt),
                                   ("SCPs", policies.scp_levels, policies.scp_exempt_reason)):
        if exempt:
            steps.append(Step(family, "not-applicable", exempt))
            continue
        if family == "SCPs" and policies.caller_unknown:
            steps.append(Step(family, "unknown", policies.caller_unknown))
            continue
        if not levels:
            steps.append(Step(family, "not-applicable", "none apply to this request"))
            continue
        for level, attached in levels:
            step = _level_step(family, level, attached, request)
            steps.append(step)
            if step.outcome != "allow":
                return Decision("implicit-deny", tuple(steps))

    if request.caller.kind == "root" and policies.resource_required:
        # IAM refuses role assumption by a root user whatever the trust policy says.
        steps.append(Step("resource policy", "no-allow", "a root user cannot assume roles"))
        return Decision("implicit-deny", tuple(steps))
    resource_allows: list[StatementMatch] = []
    cross_account = request.caller.account is None or request.resource_account != request.caller.account
    if policies.resource:
        splits = _splits((policies.resource,), request)
        resource_allows = _matched(splits)
        if not resource_allows:
            if policies.resource_required or policies.key_policy or cross_account:
                detail = f"{_named(policies.resource)} does not allow this principal"
                if policies.key_policy:
                    detail += " or its account, so no IAM policy can grant it on this key"
                steps.append(_no_allow("resource policy", detail, (policies.resource,), splits))
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
    if policies.caller_unknown:
        steps.append(Step("identity", "unknown", policies.caller_unknown))
        return Decision("unknown", tuple(steps))
    if policies.identity_implicit:
        steps.append(Step("identity", "allow", "the root user holds every permission of its account"))
    else:
        splits = _splits(policies.identity, request)
        identity_allows = _matched(splits)
        if not identity_allows:
            if policies.unmodeled:
                steps.append(Step("identity", "unknown", "no modeled identity policy allows it; "
                                  f"unmodeled: {', '.join(policies.unmodeled)}"))
                # The boundary may settle it anyway: what it does not allow is denied whatever the identity grants.
                bounds = _splits((policies.boundary,), request) if policies.boundary else []
                if policies.boundary and not _matched(bounds):
                    steps.append(_no_allow("boundary", f"{policies.boundary.name} does not allow it",
                                           (policies.boundary,), bounds))
                    return Decision("implicit-deny", tuple(steps))
                return Decision("unknown", tuple(steps))
            steps.append(_no_allow("identity", "no identity policy allows it", policies.identity, splits))
            return Decision("implicit-deny", tuple(steps))
        steps.append(Step("identity", "allow", "", tuple(identity_allows)))
    return _unless_unmodeled(_bounded(request, policies, steps, tuple(resource_allows) + tuple(identity_allows)),
                             policies)


def _some_resource_step(request: Request, deny_splits: Sequence[Split]) -> Step:
    """What resource `*` stands for, and the resource-scoped Denies that could apply to one (conditions shown)."""
    candidates = [m for matched, missed in deny_splits for m in (*matched, *missed)]
    scoped = [m for m in candidates if some_resource.scoped(statements_of(m.policy)[m.index])]
    return Step("resource *", "not-applicable", some_resource.describe(request.resource_types, len(scoped)),
                tuple(scoped))


def _without_permission(entry: Exemption, denies: list[StatementMatch], policies: PolicySet,
                        steps: list[Step]) -> Decision:
    """A request that needs no permission: only a Deny of a type the documentation says can stop it decides."""
    documented = [m for m in denies if m.policy.kind in entry.deniable_by]
    if documented:
        steps.append(Step("explicit deny", "deny", f"{len(documented)} Deny statement(s) apply", tuple(documented)))
        return Decision("explicit-deny", tuple(steps), tuple(documented))
    if denies:
        steps.append(Step("documented exception", "unknown",
                          unconditional.unsettled(entry, (m.policy.kind for m in denies)), tuple(denies)))
        return Decision("unknown", tuple(steps))
    if policies.caller_unknown:
        steps.append(Step("documented exception", "unknown", f"{entry.action} needs no permission, but a Deny of the "
                          f"caller's own policies could stop it: {policies.caller_unknown}"))
        return Decision("unknown", tuple(steps))
    steps.append(Step("explicit deny", "not-applicable", "no Deny statement applies"))
    steps.append(Step("documented exception", "allow", f"{entry.action} needs no permission and no remaining "
                      f"policy denies it ({entry.source})"))
    return Decision("allow", tuple(steps))


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
    if policies.boundary_unknown:
        step = Step("requested boundary", "unknown", "the policies allow it, but "
                    f"{policies.boundary_unknown}")
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
        splits = _splits((policy,), request)
        found = _matched(splits)
        if not found:
            steps.append(_no_allow(stage, f"{policy.name} does not allow it", (policy,), splits))
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


__all__ = ["Caller", "Decision", "Outcome", "Policy", "PolicyKind", "PolicySet", "Request", "Step", "StatementMatch",
           "describe_steps", "evaluate", "matching_statements", "near_misses", "statements_of"]
