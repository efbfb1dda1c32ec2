"""The engine's inputs for one request of the organization (``Organization.prepare``).

Most of it depends on who asks, where, about which resource — not on the action: the caller, its identity
policies, the SCP and RCP paths, the resource's own policy, what the documented exceptions call the caller and the
resource. That part (:class:`Side`) is built once per (principal, account, resource, given context, trust or not)
(one for the resources of a principal that have no policy of their own and agree on their account and exception
words) and kept by the organization; each request adds what its action changes: the request context (region, time), the
documented exceptions that apply, the resource types of a request on ``*``. A test asks one principal about many
actions, the review every principal about the same actions in every account.

:func:`prepare_many` prepares the access matrix's row (one principal, the probes of its group, no given context):
the row keeps its Sides itself, finds the caller once, and its requests of one region share one context dict made
at one time (the engine and the decision memo only read a request's context).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from guardrails.evaluation import attachments, external, permission_sets, root_sessions, some_resource, unconditional
from guardrails.evaluation.attachments import Levels
from guardrails.evaluation.context import Context, Origin, clock, defaults, fill, requested_region, timed
from guardrails.evaluation.engine import Caller, Policy, PolicySet, Request
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.resources import ResourceSide, resolve_resource
from guardrails.evaluation.unconditional import Exemption
from guardrails.iam.arns import SSO_ROLE_PATH, arn_account
from guardrails.iam.manifest import ACCOUNT_PLACEHOLDER

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account, Organization, PrincipalSpec

# Actions that ask a role's trust policy (the role's resource-based policy) for permission.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html
TRUST_ACTIONS = ("sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml", "sts:tagsession",
                 "sts:setsourceidentity", "sts:setcontext")


@dataclass(frozen=True, slots=True)
class Side:
    """What every request of one principal in one account about one resource shares, whatever its action."""

    caller: Caller
    given: dict[str, tuple[str, ...]]  # the request context the request gives, aws:ResourceAccount as an id
    resource_account: str
    target: Account | None  # the resource's account, when it is in the organization
    principal_classes: frozenset[str]
    resource_classes: frozenset[str]
    policies: PolicySet  # without exemptions: those depend on the action
    context: tuple[Context, Origin]  # the request context AWS fills in, but the region and the time
    # exemptions → the policy set with them, as the engine reads it (most actions have none)
    with_exemptions: dict[tuple[Exemption, ...], PolicySet] = field(default_factory=dict, compare=False)


def prepare(org: Organization, spec: PrincipalSpec, account_name: str, action: str, resource: str,
            context: Mapping[str, Iterable[str]] | None = None) -> tuple[Request, PolicySet]:
    """The engine's inputs for one request."""
    account = org.account(account_name)
    given: dict[str, tuple[str, ...]] = {}
    if context:
        given = {k: tuple(v) for k, v in context.items()}
        region = next((v[0] for k, v in given.items() if k.lower() == "aws:requestedregion" and v), None)
        given = {k: tuple(org.expand(v, account, region) for v in values) for k, values in given.items()}
        resource = org.expand(resource, account, region)
    elif "${" in resource:
        resource = org.expand(resource, account)
    trust, _, types = _asked(org.home_region, action, resource)
    side = _side_of(org, spec, account, resource, given, trust)
    ctx, origin = fill(side.context, org.home_region, action, resource, side.given)
    return _request(side, action, resource, ctx, origin, types)


def prepare_many(org: Organization, spec: PrincipalSpec, account_name: str, asks: Sequence[tuple[str, str]]
                 ) -> list[tuple[Request, PolicySet] | EvaluationError]:
    """:func:`prepare` of each (action, resource) one principal is asked without a given context, or the error it
    raises, the requests made at one time: the account is found once, each resource's Side once, and the requests
    of one region share one context dict (the engine and the decision memo only read a request's context)."""
    try:
        account = org.account(account_name)
    except EvaluationError as exc:
        return [exc] * len(asks)
    now = clock()
    caller: Caller | None = None  # found with the first Side (in _side nothing before it raises without a context)
    sides: dict[tuple[str, bool], Side] = {}
    contexts: dict[tuple[int, str], Context] = {}  # (id of a Side's context, region): the Sides keep them alive
    prepared: list[tuple[Request, PolicySet] | EvaluationError] = []
    for action, resource in asks:
        try:
            if "${" in resource:
                resource = org.expand(resource, account)
            trust, region, types = _asked(org.home_region, action, resource)
            side = sides.get((resource, trust))
            if side is None:  # a row asks each resource once or twice: kept here, not in the organization's memo
                if caller is None:  # an error is raised again by the next resource's ask, as prepare would
                    caller = _caller(org, spec, account)
                side = sides[resource, trust] = _side_of_caller(org, spec, account, caller, resource, {}, trust)
            ctx = contexts.get((id(side.context), region))
            if ctx is None:
                ctx = contexts[id(side.context), region] = timed(side.context[0], region, now)
            # No given context: the request's origin is the defaults'.
            prepared.append(_request(side, action, resource, ctx, side.context[1], types))
        except EvaluationError as exc:
            prepared.append(exc)
    return prepared


@lru_cache(maxsize=1 << 12)
def _asked(home_region: str, action: str, resource: str) -> tuple[bool, str, some_resource.ResourceTypes]:
    """What a request's action and resource alone decide: whether a trust policy is asked, aws:RequestedRegion, and
    the resource types of a request on ``*`` (the access matrix asks each group's probes of every principal)."""
    return (action.lower() in TRUST_ACTIONS, requested_region(home_region, action, resource),
            some_resource.resource_types(action) if resource == "*" else ())


def _side_of(org: Organization, spec: PrincipalSpec, account: Account, resource: str,
             given: dict[str, tuple[str, ...]], trust: bool) -> Side:
    """The principal's Side for the resource, kept by the organization."""
    return org.memo(("side", spec.kind, spec.name, account.name, resource, trust, tuple(given.items())),
                    lambda: _side(org, spec, account, resource, given, trust), transient=True)


def _request(side: Side, action: str, resource: str, ctx: Context, origin: Origin,
             types: some_resource.ResourceTypes) -> tuple[Request, PolicySet]:
    """The request of one action on the Side's resource, with its context, and the policy set it is decided by;
    ``types``: the action's resource types on ``*`` (:func:`_asked`)."""
    exemptions = unconditional.applying(action, side.principal_classes, side.resource_classes)
    policies = side.with_exemptions.get(exemptions)
    if policies is None:
        # Readers of the policy set (the lockout proof) see what the engine uses; the engine repeats it for its notes.
        policies = side.with_exemptions[exemptions] = unconditional.leave_out(
            _replace(side.policies, exemptions))[0]
    return Request(side.caller, action, resource, side.resource_account, ctx, origin, resource_types=types), policies


def _replace(policies: PolicySet, exemptions: tuple[Exemption, ...]) -> PolicySet:
    return replace(policies, exemptions=exemptions) if exemptions else policies


def _side(org: Organization, spec: PrincipalSpec, account: Account, resource: str,
          given: dict[str, tuple[str, ...]], trust: bool) -> Side:
    """Everything of a request but its action, in the order the checks raise their errors."""
    if spec.kind == "root":
        root_sessions.refuse_plain_root(given)
    return _side_of_caller(org, spec, account, _caller(org, spec, account), resource, given, trust)


def _caller(org: Organization, spec: PrincipalSpec, account: Account) -> Caller:
    """The principal as the engine sees it, kept by the organization."""
    return org.memo(("caller", spec.kind, spec.name, account.name), lambda: org.caller(spec, account))


def _side_of_caller(org: Organization, spec: PrincipalSpec, account: Account, caller: Caller, resource: str,
                    given: dict[str, tuple[str, ...]], trust: bool) -> Side:
    """:func:`_side` once the caller is known."""
    outside = spec.kind == "external"
    # S3 bucket ARNs name no account: the caller's own unless the request says otherwise (aws:ResourceAccount,
    # by id or account name).
    stated = next((v[0] for k, v in given.items() if k.lower() == "aws:resourceaccount" and v), None) \
        if given else None
    if stated is not None and not stated.isdigit():
        stated = org.account(stated).id
        given = {k: ((stated,) if k.lower() == "aws:resourceaccount" else v) for k, v in given.items()}
    # An external caller's request goes to the named account: a bucket ARN (no account in it) is taken to be there.
    default_account = account.id if outside else None
    # The resource half depends on the resource and the caller's account, not on who in that account asks: kept
    # once for the principals of an account (an error is raised again, never kept: Organization.memo).
    side, resource_account, target, classes = org.memo(
        ("resource side", resource, trust, caller.account, stated, default_account, account.id),
        lambda: _resource_side(org, resource, trust, caller.account, stated, default_account, account.id),
        transient=True)
    if trust or side.policy is not None:
        return _rest(org, spec, account, resource, given, trust, caller, side, resource_account, target, classes)
    # Without a trust or resource policy, the rest reads of the resource only these values (a Side holds no resource):
    # the resources a principal is asked about that agree on them share one Side (resource_classes raises nothing,
    # so computing it first changes no error).
    return org.memo(("side without a resource policy", spec.kind, spec.name, account.name, tuple(given.items()),
                     side.key_policy, side.unknown, resource_account, target.name if target else None, classes),
                    lambda: _rest(org, spec, account, resource, given, trust, caller, side, resource_account, target,
                                  classes), transient=True)


def _rest(org: Organization, spec: PrincipalSpec, account: Account, resource: str, given: dict[str, tuple[str, ...]],
          trust: bool, caller: Caller, side: ResourceSide, resource_account: str, target: Account | None,
          resource_classes: frozenset[str]) -> Side:
    """:func:`_side` once the resource's half is known; ``resource`` is read only for a trust policy."""
    outside = spec.kind == "external"
    # Every resource a principal is asked about shares its identity half: built once per principal and account.
    (identity, boundary, unmodeled, notes, task_policy), scp_levels, principal_classes = org.memo(
        ("principal half", spec.kind, spec.name, account.name),
        lambda: _principal_half(org, spec, account, caller, outside))
    rcp_levels: Levels = org.rcp_levels(target) if target is not None else ()
    resource_policy, required = side.policy, False
    if trust:
        resource_policy, required = _trust_policy(org, resource, target)
    unknown = side.unknown
    if target is None and resource_account != caller.account and resource_policy is None:
        # Whatever that account's resource policies say decides, and they are not in the plan.
        unknown = f"account {resource_account} is not in the organization: what its resource policies grant " \
                  "is not known offline"
    policies = PolicySet(scp_levels=scp_levels, rcp_levels=rcp_levels, identity=identity, boundary=boundary,
                         resource=resource_policy, resource_required=required,
                         identity_implicit=caller.kind == "root" and not outside, unmodeled=unmodeled,
                         key_policy=side.key_policy, resource_unknown=unknown, notes=notes, task_policy=task_policy,
                         caller_unknown=external.unknown_side(caller) if outside else "",
                         boundary_unknown=_missing_boundary(org, given, target))
    return Side(caller, given, resource_account, target, principal_classes, resource_classes, policies,
                org.memo(("context", caller, spec, account.name, resource_account),
                         lambda: defaults(org, caller, spec, account, resource_account)))


def _principal_half(org: Organization, spec: PrincipalSpec, account: Account, caller: Caller, outside: bool
                    ) -> tuple[tuple[tuple[Policy, ...], Policy | None, tuple[str, ...], tuple[tuple[str, str], ...],
                                     Policy | None], Levels, frozenset[str]]:
    """What :func:`_side` reads of the principal whatever the resource: its policies (:func:`_identity`), its SCP path
    and the documented exceptions' words for it. Only the first two can raise, in that order, as before."""
    identity = org.memo(("identity", spec.kind, spec.name, account.name), lambda: _identity(org, spec, account))
    # SCPs bind the organization's principals; an outside principal's SCPs (if any) are unknown.
    scp_levels: Levels = org.scp_levels(account) if caller.kind in ("user", "role", "root") and not outside else ()
    return identity, scp_levels, unconditional.principal_classes(caller.kind, spec.kind, caller.principal_arn,
                                                                 account.management and not outside)


def _resource_side(org: Organization, resource: str, trust: bool, caller_account: str | None, stated: str | None,
                   default_account: str | None, account_id: str
                   ) -> tuple[ResourceSide, str, Account | None, frozenset[str]]:
    """The resource's own policy, its account (id), that account when it is in the organization, and the documented
    exceptions' words for the resource (they read nothing else)."""
    side = ResourceSide() if trust else resolve_resource(org, resource, caller_account, stated,
                                                         default_account=default_account)
    # A bucket of the plan is in the account the plan puts it in, whoever asks.
    resource_account = side.account_id or arn_account(resource) or stated or account_id
    target = org.account_by_id(resource_account)
    # Documented exceptions (guardrails/data/unconditional_requests.yaml): the management account's principals
    # and resources, service-linked roles, calls that need no permission (resource_classes raises nothing).
    return side, resource_account, target, unconditional.resource_classes(
        resource, resource_account, caller_account, target is not None and target.management)


def _identity(org: Organization, spec: PrincipalSpec, account: Account) -> tuple[
        tuple[Policy, ...], Policy | None, tuple[str, ...], tuple[tuple[str, str], ...], Policy | None]:
    """Identity policies, boundary, unmodeled ARNs, notes and task policy of the principal in the account."""
    if spec.kind in ("role", "user", "group"):
        identity, boundary, unmodeled = attachments.identity(org, account, spec.kind, spec.name)
        return tuple(identity), boundary, tuple(unmodeled), (), None
    if spec.kind == "permission-set":
        entry = permission_sets.assigned(org, spec.name, account)
        identity, boundary, unmodeled = permission_sets.policies(org, entry, account)
        return tuple(identity), boundary, tuple(unmodeled), (permission_sets.note(entry, account),), None
    if spec.kind == "root-session":
        return (), None, (), (root_sessions.note(spec.name, account),), root_sessions.task_policy(spec.name)
    return (), None, (), (), None


def _trust_policy(org: Organization, resource: str, target: Account | None) -> tuple[Policy | None, bool]:
    """The trust policy a role-assuming request asks (and whether it must allow)."""
    role = org.role_by_arn(resource)
    if role is not None:
        role_account, entry = role
        return Policy(f"trust policy of {entry.name}", "resource", org.document(entry.trust, role_account),
                      entry.trust), True
    if target is not None and f":role{SSO_ROLE_PATH}" in resource:
        raise EvaluationError(f"{resource} is a role of IAM Identity Center: people reach it by signing in, "
                              "not by sts:AssumeRole; test the session itself as permission-set/NAME")
    if target is not None and ":role/" in resource:
        known = ", ".join(sorted(r.name for r in org.class_entry(target).roles)) or "none"
        raise EvaluationError(f"{resource} is not a role guardrails deploys in account {target.name} "
                              f"(roles there: {known}); its trust policy is unknown")
    return None, False


def _missing_boundary(org: Organization, given: Mapping[str, tuple[str, ...]], target: Account | None) -> str:
    """Why a boundary the request names (``iam:PermissionsBoundary``: the one CreateRole, CreateUser and
    Put*PermissionsBoundary set, or the one the changed role carries) may not exist: a customer managed policy of
    the resource's account that the plan does not deploy there. IAM authorizes such a request, then fails it with
    NoSuchEntity (a boundary must be an existing managed policy,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html); "" when every one is deployed
    (or is not the plan's to know: AWS managed, or another account's)."""
    if target is None:
        return ""
    values = next((v for k, v in given.items() if k.lower() == "iam:permissionsboundary"), ())
    missing = []
    for value in values:
        if arn_account(value) != target.id or ":policy/" not in value:
            continue
        written = value.replace(f"::{target.id}:", f"::{ACCOUNT_PLACEHOLDER}:", 1)
        if org.class_entry(target).managed_policy(written) is None:
            missing.append(value)
    if not missing:
        return ""
    return (f"the permissions boundary {', '.join(missing)} is not deployed in account {target.name}: the request "
            "fails unless that policy was created outside guardrails (name the account in the boundary's "
            "`deploy_to`)")
