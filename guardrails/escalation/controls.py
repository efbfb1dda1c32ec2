"""The controls' resources in one account, the requests that tamper with them, and who owns them.

Resources come from the plan's security baseline (trail, Config rules, alert rules and regions), the manifest's
resource policies (log bucket and key, alert topic and key), the class's roles, policies and boundaries, and the
custom-resource functions. Owners are the break-glass role, the deployment principals (the manifest's
``deployment_principals`` and the plan's deployment roles) and whatever the caller adds (the blueprint's
``security.control_owners``, :mod:`guardrails.escalation.owners`): owners of every control, or of the ones listed;
a name pattern without a kind (``stacksets-exec-*``) names roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from guardrails.escalation.catalog import Control, catalog
from guardrails.escalation.owners import Owner
from guardrails.escalation.scope import Scope
from guardrails.escalation.targets import concrete, database_arn
from guardrails.escalation.view import Node
from guardrails.evaluation.statements import action_applies
from guardrails.iam.actions import wildcard_matches
from guardrails.iam.arns import role_arn
from guardrails.iam.documents import as_tuple
from guardrails.policies.ir import Plan

# EventBridge receives the events of global services (IAM, sign-in) in this region of the aws partition.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html
GLOBAL_REGION = "us-east-1"
SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"  # a subscription id stands for AWS's


@dataclass(frozen=True)
class TamperRequest:
    control: Control
    action: str
    resource: str
    # A resource policy of the plan may grant it on its own: the identity filter must not skip it.
    resource_policy: bool = False

    @property
    def label(self) -> str:
        return f"{self.action} on {self.resource}"


def owner_patterns(scope: Scope, plan: Plan | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Who may change the controls: ``role/NAME`` patterns (and whatever kind ``extra`` names)."""
    info = scope.view.org.manifest.organization
    names = [info.break_glass.role, *info.deployment_principals, info.deployment_role,
             info.management_deployment_role]
    if plan is not None:
        names += [plan.org.break_glass_role, *plan.org.deployment_principals, plan.org.deployment_role,
                  plan.org.management_deployment_role]
    out = [n if "/" in n and n.split("/", 1)[0] in ("role", "user", "group", "permission-set") else f"role/{n}"
           for n in [*names, *extra] if n]
    return tuple(sorted(dict.fromkeys(out)))


def is_owner(node: Node, owners: Iterable[str], scope: Scope) -> bool:
    """A principal named by an owner pattern (by name, or by path and name), whatever an escalation did to it."""
    if node.synthetic == "new-role":
        return False
    # The rest reads only the node's kind and name (its base), its role's path in the scope and the patterns:
    # kept per scope (the closure asks it of every node it reaches).
    owners = tuple(owners)
    key = (node.base, owners)
    known = scope.owners.get(key)
    if known is None:
        known = scope.owners[key] = _is_owner(node, owners, scope)
    return known


def _is_owner(node: Node, owners: tuple[str, ...], scope: Scope) -> bool:
    path = ""
    if node.kind == "role":
        entry = scope.entries.get(node.base)
        path = entry.path.lstrip("/") if entry else ""
    return _named_by(node.base, path, owners)


@lru_cache(maxsize=1 << 14)
def _named_by(base: str, path: str, owners: tuple[str, ...]) -> bool:
    """Does an owner pattern name the principal ``base`` (``kind/name``, a role under ``path``)? A function of
    these strings alone: the same role of every class (and each pattern asked alone) is matched once."""
    kind, name = base.split("/", 1)
    for pattern in owners:
        wanted_kind, _, wanted = pattern.partition("/")
        if kind == wanted_kind and (wildcard_matches(wanted, name) or wildcard_matches(wanted, f"{path}{name}")):
            return True
    return False


def owned(node: Node, declared: Iterable[Owner], scope: Scope) -> frozenset[str]:
    """The control ids the declared owners give the node (an owner of everything is :func:`is_owner`'s)."""
    return frozenset(c for o in declared if is_owner(node, (o.principal,), scope) for c in o.controls)


def tamper_requests(scope: Scope, plan: Plan | None, owners: Iterable[str]) -> list[TamperRequest]:
    """Every tampering request of the controls deployed in the scope's account."""
    out: list[TamperRequest] = []
    owners = tuple(owners)
    roles = cache(lambda: _guardrail_roles(scope, owners))  # asked by every action of the controls on them
    for control in catalog().controls:
        for action in control.actions:
            for resource, by_policy in _resources(scope, plan, control, action, roles):
                out.append(TamperRequest(control, action, resource, by_policy))
    return out


def _resources(scope: Scope, plan: Plan | None, control: Control, action: str,
               guardrail_roles: Callable[[], list[str]]) -> list[tuple[str, bool]]:
    account, partition, home = scope.account, scope.view.partition, scope.region
    security = plan.security if plan is not None else None
    target = control.target
    if target in ("trail", "config-recorder", "config-rules", "alert-rules", "alert-subscription", "analyzer") \
            and security is None:
        return []
    if target == "trail":
        if not (account.management and security and security.trail_name):
            return []
        return [(f"arn:{partition}:cloudtrail:{home}:{account.id}:trail/{security.trail_name}", False)]
    if target == "config-recorder":
        return [(database_arn(action, account, home, partition, "default"), False)] \
            if security and security.config_recorder else []
    if target == "config-rules":
        rules = security.config_rules[:3] if security else ()
        return [(database_arn(action, account, home, partition, r.name), False) for r in rules]
    if target == "alert-rules":
        out = []
        for rule in _representative_rules(security.alerts if security else ()):
            regions = _rule_regions(security, rule)
            out += [(f"arn:{partition}:events:{r}:{account.id}:rule/{rule.name}", False) for r in regions]
        return out
    if target == "alert-subscription":
        # Unsubscribe and SetSubscriptionAttributes have no resource type: AWS authorizes them on "*", so a
        # statement scoped to the topic's ARN never applies to them.
        topic = security.topic_name if security else ""
        return [(database_arn(action, account, home, partition, f"{topic}:{SUBSCRIPTION}"), False)]
    if target in ("alert-topic", "alert-key", "log-bucket", "log-objects", "log-key"):
        return _resource_policy_targets(scope, target, action)
    if target == "analyzer":
        if not security or account.name != security.analyzer_account:
            return []
        return [(f"arn:{partition}:access-analyzer:{home}:{account.id}:analyzer/guardrails-organization", False)]
    if target == "guardrail-roles":
        return [(arn, False) for arn in guardrail_roles()]
    if target in ("guardrail-policies", "boundaries"):
        kind = "managed" if target == "guardrail-policies" else "boundary"
        return [(scope.concrete(p.arn), False) for p in scope.cls.managed_policies if p.kind == kind]
    if target == "functions":
        return [(f"arn:{partition}:lambda:{home}:{account.id}:function:{fn.name}", False) for fn, _ in scope.functions]
    if target == "organization-policies":
        if not account.management:
            return []
        org_id = scope.view.org.org_id
        return [(f"arn:{partition}:organizations::{account.id}:policy/{org_id}/{kind}/p-guardrails", False)
                for kind in ("service_control_policy", "resource_control_policy")]
    return []


def _resource_policy_targets(scope: Scope, target: str, action: str) -> list[tuple[str, bool]]:
    key = {"alert-topic": "alerts-topic", "alert-key": "alerts-key", "log-bucket": "log-archive-bucket",
           "log-objects": "log-archive-bucket", "log-key": "log-archive-key"}[target]
    out = []
    for entry in scope.view.org.resource_policies:
        if entry.key != key or scope.account.name not in entry.accounts:
            continue
        for region in entry.regions:
            pattern = entry.resource.replace("${account_id}", scope.account.id).replace("${region}", region)
            resource = concrete(pattern, scope.account, region, scope.view.partition) or pattern
            if target == "log-objects":
                resource = f"{resource}/AWSLogs/{scope.view.org.org_id}/guardrails-escalation-probe.json.gz"
            document = scope.view.org.document(entry.file, scope.account, region)
            out.append((resource, _grants_principals(document, action)))
            if target in ("log-bucket", "log-objects"):
                break  # a bucket is global: one request
    return out


def _grants_principals(document: Mapping[str, Any], action: str) -> bool:
    """Could the resource policy allow the action to a principal of the account by itself (``*``, or a principal
    ARN other than an account root or a service)? Grants to the account leave the decision to identity policies."""
    statements = document.get("Statement") or []
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        if statement.get("Effect") != "Allow" or not action_applies(statement, action):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            return True
        named = as_tuple((principal or {}).get("AWS")) if isinstance(principal, Mapping) else ()
        if any(value == "*" or not (value.isdigit() or value.endswith(":root")) for value in named):
            return True
    return False


def _guardrail_roles(scope: Scope, owners: Iterable[str]) -> list[str]:
    """The owners' roles (present in the class, or made concrete from their patterns), the roles under
    ``/guardrails/`` and the function roles."""
    arns: list[str] = []
    present = {n.base for n in scope.roles}
    for pattern in owners:
        kind, _, name = pattern.partition("/")
        if kind != "role":
            continue
        matching = [n for n in scope.roles if is_owner(n, (pattern,), scope)]
        if matching:
            arns += [scope.arn_of(n) for n in matching]
        elif f"role/{name}" not in present:
            arns.append(role_arn(scope.view.partition, scope.account.id, name.replace("*", "guardrails")))
    # Roles guardrails keeps under its own path (the alert forwarding role) are guardrail roles too.
    arns += [scope.arn_of(n) for n in scope.roles if scope.entries[n.base].path == "/guardrails/"]
    arns += [scope.arn_of(n) for _, n in scope.functions]
    return list(dict.fromkeys(arns))


def _representative_rules(rules: Iterable[Any]) -> list[Any]:
    """One alert rule of each kind (global-service events, regional events): the rules share the ``guardrails-``
    prefix that SCPs protect them by, so one stands for the others and the analysis stays small."""
    chosen: dict[bool, Any] = {}
    for rule in rules:
        chosen.setdefault(_global_only(rule), rule)
    return [chosen[k] for k in sorted(chosen)]


def _global_only(rule: Any) -> bool:
    return bool(getattr(rule, "global_only", getattr(rule, "alert_region_only", False)))


def _rule_regions(security: Any, rule: Any) -> tuple[str, ...]:
    """Where an alert rule runs: the region receiving global services' events for IAM and sign-in rules; for the
    others the alert regions and one watch region (outside the allowed regions, where the region restriction
    applies; the others are alike)."""
    if _global_only(rule):
        return (getattr(security, "global_region", GLOBAL_REGION),)
    return (*security.alert_regions, *tuple(getattr(security, "watch_regions", ()))[:1])
