"""The hops of the graph: for one node, every principal it can become, each hop decided by the evaluator.

Each method of ``guardrails/data/escalation_methods.yaml`` is interpreted here by the target it selects: the
target-bound actions are asked on the target's ARN (``iam:PassRole`` with ``iam:PassedToService``,
``iam:AttachRolePolicy`` with ``iam:PolicyARN`` AdministratorAccess and the target's ``iam:PermissionsBoundary``),
the others on a resource the caller may choose (``guardrails.escalation.targets``), and a method holds when every
``all_of`` action and one ``any_of`` action is allowed. A hop that changes another principal (attach a policy,
remove a boundary) only gives that principal to a caller who can also act as it: it ``requires`` it.
"""

from __future__ import annotations

from collections.abc import Iterable

from guardrails.escalation.catalog import Method, catalog
from guardrails.escalation.scope import ANY_USER, Hop, Scope, grant_of
from guardrails.escalation.view import ADMINISTRATOR, NONE, Node
from guardrails.iam.arns import aws_managed_policy_arn, iam_arn

__all__ = ["ANY_USER", "Hop", "Scope", "hops"]


def hops(scope: Scope, node: Node) -> list[Hop]:
    """Every hop out of the node (computed once per scope)."""
    if node not in scope.hops:
        found: list[Hop] = []
        for method in scope.candidate_methods(node):
            found += _METHODS[method.target](scope, node, method)
        scope.hops[node] = found
    return scope.hops[node]


def _admin_arn(scope: Scope) -> str:
    return aws_managed_policy_arn(scope.view.partition, ADMINISTRATOR)


def _boundary_context(scope: Scope, node: Node) -> dict[str, tuple[str, ...]]:
    arn = scope.boundary_of(node)
    return {"iam:PermissionsBoundary": (scope.concrete(arn),)} if arn else {}


# ----------------------------------------------------------------------------- one function per target kind


def _roles(scope: Scope, node: Node, method: Method) -> list[Hop]:
    if method.kind == "assume-role":
        return _assumed_roles(scope, node, method)
    out: list[Hop] = []
    for role in scope.role_targets:
        if role.base == node.base:
            continue
        arn = scope.arn_of(role)
        result = scope.run(node, method, arn, _boundary_context(scope, role))
        if result is None:
            continue
        # The trust now names the caller: the assumption needs only the caller's own side (SCPs, boundary).
        if scope.decide(node, "sts:AssumeRole", arn, trust=True, filtered=False) is None:
            continue
        out.append(Hop(node, method.id, role, (*result[0], "sts:AssumeRole"), f"on {arn}", result[1]))
    return out


def _assumed_roles(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out: list[Hop] = []
    caller = scope.view.caller(node, scope.account)
    # Only the roles whose trust names the caller or its account (the others cannot be assumed by it).
    for role, named in scope.named_targets(caller, node.base):
        arn = scope.arn_of(role)
        if named == "account" and not scope.view.may_allow(node, scope.account, "sts:AssumeRole", arn):
            continue  # the trust names the caller's account only, and the caller's policies do not allow
        decision = scope.decide(node, "sts:AssumeRole", arn, filtered=False)
        if decision is not None:
            out.append(Hop(node, method.id, role, ("sts:AssumeRole",), f"on {arn}", grant_of(decision),
                           declared=method.declared))
    return out


def _roles_trusting(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for role in scope.trusting(method.service):
        if role.base == node.base:
            continue
        arn = scope.arn_of(role)
        result = scope.run(node, method, arn, {"iam:PassedToService": (method.service,)})
        if result is not None:
            out.append(Hop(node, method.id, role, result[0], f"passes {arn} to {method.service}", result[1]))
    return out


def _principals(scope: Scope, node: Node, method: Method) -> list[Hop]:
    kind = {"attach-role-policy": "role", "attach-user-policy": "user", "attach-group-policy": "group"}[method.id]
    targets = {"role": scope.role_targets, "user": scope.users, "group": scope.groups}[kind]
    out = []
    for target in targets:
        context = {"iam:PolicyARN": (_admin_arn(scope),), **_boundary_context(scope, target)}
        result = scope.run(node, method, scope.arn_of(target), context)
        if result is None:
            continue
        changed = Node(target.base, True, target.boundary if target.base != node.base else node.boundary,
                       target.synthetic)
        out.append(Hop(node, method.id, changed, result[0], f"on {scope.arn_of(target)}", result[1],
                       requires="" if target.base == node.base else target.base))
    return out


def _holders(scope: Scope) -> list[tuple[Node, tuple[str, ...]]]:
    """Principals and the customer managed policies attached to them (manifest ARNs)."""
    managed = {p.arn for p in scope.cls.managed_policies if p.kind == "managed"}
    out: list[tuple[Node, tuple[str, ...]]] = []
    for role in scope.roles:
        out.append((role, tuple(a for a in scope.entries[role.base].policies if a in managed)))
    for group in scope.groups:
        entry = scope.cls.group(group.base.split("/", 1)[1])
        out.append((group, tuple(a for a in (entry.policies if entry else ()) if a in managed)))
    for node in scope.permission_sets:
        entry = scope.view.org.permission_sets[node.base.split("/", 1)[1]]
        refs = [scope.cls.customer_managed(scope.view.partition, r.path, r.name) for r in entry.customer_managed]
        out.append((node, tuple(r.arn for r in refs if r is not None)))
    return [(n, arns) for n, arns in out if arns]


def _attached_policies(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for holder, arns in _holders(scope):
        for arn in arns:
            result = scope.run(node, method, scope.concrete(arn), {})
            if result is not None:
                out.append(Hop(node, method.id, Node(holder.base, True), result[0], f"on {scope.concrete(arn)}",
                               result[1], requires="" if holder.base == node.base else holder.base))
                break
    return out


def _roles_with_boundary(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for role in scope.roles:
        arn = scope.boundary_of(role)
        if not arn:
            continue
        value = scope.concrete(arn) if method.id == "delete-role-boundary" else _admin_arn(scope)
        result = scope.run(node, method, scope.arn_of(role), {"iam:PermissionsBoundary": (value,)})
        if result is not None:
            out.append(Hop(node, method.id, Node(role.base, node.admin and role.base == node.base, NONE),
                           result[0], f"on {scope.arn_of(role)}", result[1],
                           requires="" if role.base == node.base else role.base))
    return out


def _boundary_policies(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for boundary in scope.boundaries:
        bounded = [r for r in scope.roles if scope.boundary_of(r) == boundary]
        for ps in scope.permission_sets:
            entry = scope.view.org.permission_sets[ps.base.split("/", 1)[1]]
            ref = entry.boundary.customer_managed if entry.boundary else None
            found = scope.cls.customer_managed(scope.view.partition, ref.path, ref.name) if ref else None
            if found is not None and found.arn == boundary:
                bounded.append(ps)
        if not bounded:
            continue
        result = scope.run(node, method, scope.concrete(boundary), {})
        if result is None:
            continue
        out += [Hop(node, method.id, Node(r.base, False, NONE), result[0], f"on {scope.concrete(boundary)}",
                    result[1], requires="" if r.base == node.base else r.base) for r in bounded]
    return out


def _users(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for user in scope.users:
        if user.base == node.base:
            continue
        result = scope.run(node, method, scope.arn_of(user), {})
        if result is not None:
            out.append(Hop(node, method.id, user, result[0], f"on {scope.arn_of(user)}", result[1]))
    return out


def _groups(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for group in scope.groups:
        if group.base == node.base:
            continue
        result = scope.run(node, method, scope.arn_of(group), {})
        if result is not None:
            out.append(Hop(node, method.id, group, result[0], f"on {scope.arn_of(group)}", result[1],
                           requires="" if node.kind in ("user", "group") else ANY_USER))
    return out


def _functions(scope: Scope, node: Node, method: Method) -> list[Hop]:
    out = []
    for fn, role in scope.functions:
        if role.base == node.base:
            continue
        arn = f"arn:{scope.view.partition}:lambda:{scope.region}:{scope.account.id}:function:{fn.name}"
        result = scope.run(node, method, arn, {})
        if result is not None:
            out.append(Hop(node, method.id, role, result[0], f"on {arn} (runs as {scope.arn_of(role)})", result[1]))
    return out


def _new_role(scope: Scope, node: Node, method: Method) -> list[Hop]:
    if not all(scope.view.may_allow(node, scope.account, a) for a in method.all_of):
        return []
    out = []
    pass_methods = catalog().of_kind("pass-role-to-compute")
    for probe in scope.view.probe_nodes(scope.account):
        arn = iam_arn(scope.view.partition, scope.account.id, f"role{probe.path}{probe.name}")
        for boundary in (None, *scope.boundaries):
            context = {"iam:PermissionsBoundary": (scope.concrete(boundary),)} if boundary else {}
            result = scope.run(node, method, arn, {"iam:PolicyARN": (_admin_arn(scope),), **context})
            if result is None:
                continue
            target = Node(f"role/{probe.name}", True, boundary or NONE, "new-role")
            way = _way_in(scope, node, arn, pass_methods)
            if way is None:
                continue
            name = boundary.rsplit("/", 1)[-1] if boundary else "no boundary"
            out.append(Hop(node, method.id, target, (*result[0], *way[0]), f"creates {arn} ({name}), then {way[1]}",
                           result[1]))
            if boundary is None:
                break  # an unbounded new role: the bounded ones give no more
    return out


def _way_in(scope: Scope, node: Node, arn: str, pass_methods: Iterable[Method]) -> tuple[tuple[str, ...], str] | None:
    """How the creator gets the new role's credentials — a trust naming itself, or a compute service it passes the
    role to (the creator writes the trust, so the service is trusted): the first way's actions, and every way."""
    ways: list[tuple[tuple[str, ...], str]] = []
    if scope.decide(node, "sts:AssumeRole", arn, trust=True, filtered=False) is not None:
        ways.append((("sts:AssumeRole",), "assumes it (its trust names the creator)"))
    for method in pass_methods:
        result = scope.run(node, method, arn, {"iam:PassedToService": (method.service,)})
        if result is not None and not any(method.service in text for _, text in ways):
            ways.append((result[0], f"passes it to {method.service} ({' + '.join(result[0])})"))
    if not ways:
        return None
    return ways[0][0], "; ".join(text for _, text in ways)


_METHODS = {
    "roles": _roles, "roles-trusting": _roles_trusting, "principals": _principals,
    "attached-policies": _attached_policies, "roles-with-boundary": _roles_with_boundary,
    "boundary-policies": _boundary_policies, "users": _users, "groups": _groups, "functions": _functions,
    "new-role": _new_role,
}
