"""One account's principals (the representative of a group of accounts) and its requests: the decisions of the
evaluator behind every hop, with a cheap filter on the caller's own policies first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from guardrails.escalation.catalog import Method, catalog
from guardrails.escalation.targets import own_resources
from guardrails.escalation.view import Node, View
from guardrails.evaluation.engine import Caller, Decision
from guardrails.evaluation.organization import Account, PrincipalSpec
from guardrails.evaluation.statements import principal_match
from guardrails.iam.arns import iam_arn, user_arn
from guardrails.iam.manifest import ACCOUNT_PLACEHOLDER, RoleEntry

ANY_USER = "user"  # Hop.requires: any IAM user (or group member) the caller can act as


@dataclass(frozen=True)
class Hop:
    """``source`` becomes ``target`` by ``method``; ``actions`` are the allowed requests, in order."""

    source: Node
    method: str
    target: Node
    actions: tuple[str, ...]
    detail: str = ""
    grant: tuple[str, int] | None = None  # (policy file, statement index) that allowed the first target action
    requires: str = ""  # a node base the caller must also be able to act as (ANY_USER: any user)
    declared: bool = False


@dataclass
class Scope:
    """The principals of one account (the representative of a group of accounts) and the hops between them."""

    view: View
    account: Account
    unknown: list[tuple[Node, str, str, str]] = field(default_factory=list)  # (node, action, resource, why)
    hops: dict[Node, list[Hop]] = field(default_factory=dict)  # computed once per node (guardrails.escalation.edges)
    _trusting: dict[str, list[Node]] = field(default_factory=dict)
    _arns: dict[str, str] = field(default_factory=dict)
    _names: dict[Caller, dict[str, str]] = field(default_factory=dict)  # caller → trust text → how it is named
    _possible: dict[tuple[object, tuple[str, ...], tuple[str, ...]], bool] = field(default_factory=dict)
    _trusts: list[tuple[Node, str, str]] | None = None  # (role target, its trust text, the trust file)
    _texts: dict[str, str] = field(default_factory=dict)  # trust text → its first file (_trust_list)
    _named_lists: dict[Caller, list[tuple[Node, str]]] = field(default_factory=dict)  # named_targets' for but=""
    _candidates: dict[object, tuple[Method, ...]] = field(default_factory=dict)
    owners: dict[tuple[str, tuple[str, ...]], bool] = field(default_factory=dict)  # controls.is_owner's

    def __post_init__(self) -> None:
        org = self.view.org
        cls = org.class_entry(self.account)
        self.region = org.home_region
        probe_names = {p.name for p in self.view.probe_nodes(self.account)}
        self.functions = self.view.function_roles(self.account)
        function_names = {n.base for _, n in self.functions}
        self.entries: dict[str, RoleEntry] = {f"role/{r.name}": r for r in cls.roles}
        self.roles = [Node(f"role/{r.name}") for r in cls.roles
                      if r.name not in probe_names and f"role/{r.name}" not in function_names]
        self.users = [Node(f"user/{u.name}") for u in cls.users]
        self.groups = [Node(f"group/{g.name}") for g in cls.groups]
        self.permission_sets = [Node(f"permission-set/{name}") for name, entry in sorted(org.permission_sets.items())
                                if self.account.name in entry.accounts]
        self.boundaries = [p.arn for p in cls.managed_policies if p.kind == "boundary"]
        self.cls = cls

    # -- the nodes --------------------------------------------------------------------------------

    @property
    def principals(self) -> list[Node]:
        """The account's own principals (the subjects of the analysis), function roles included."""
        return [*self.roles, *self.users, *self.groups, *self.permission_sets, *(n for _, n in self.functions)]

    @property
    def role_targets(self) -> list[Node]:
        return [*self.roles, *(n for _, n in self.functions)]

    def concrete(self, arn: str) -> str:
        return arn.replace(ACCOUNT_PLACEHOLDER, self.account.id)

    def arn_of(self, node: Node) -> str:
        if node.base not in self._arns:
            self._arns[node.base] = self._arn(node)
        return self._arns[node.base]

    def _arn(self, node: Node) -> str:
        kind, name = node.base.split("/", 1)
        if kind == "role":
            return self.view.role_arn(node, self.account)
        if kind == "user":
            user = self.cls.user(name)
            return user_arn(self.view.partition, self.account.id, f"{user.path if user else '/'}{name}")
        group = self.cls.group(name)
        return iam_arn(self.view.partition, self.account.id, f"group{group.path if group else '/'}{name}")

    def boundary_of(self, node: Node) -> str | None:
        entry = self.entries.get(node.base)
        return entry.boundary if entry is not None else None

    # -- requests ---------------------------------------------------------------------------------

    def decide(self, node: Node, action: str, resource: str, context: Mapping[str, Iterable[str]] | None = None,
               *, trust: bool = False, filtered: bool = True) -> Decision | None:
        """The allowing decision, or None. ``filtered``: skip the evaluator when the node's own policies grant
        no such action (no resource policy can grant these requests alone)."""
        if filtered and not self.view.may_allow(node, self.account, action, resource):
            return None
        decision = self.view.evaluate(node, self.account, action, resource, context, trust_naming_caller=trust)
        if decision.outcome == "unknown":
            self.unknown.append((node, action, resource, decision.summary))
        return decision if decision.allowed else None

    def trusting(self, service: str) -> list[Node]:
        """Roles whose trust lets the service assume them."""
        if service not in self._trusting:
            spec = PrincipalSpec("service", service)
            caller = self.view.org.caller(spec, self.account)
            found = []
            for role in self.role_targets:
                if not self.names(role, caller):
                    continue
                decision = self.view.org.evaluate(spec, self.account.name, "sts:AssumeRole", self.arn_of(role))
                if decision.allowed:
                    found.append(role)
            self._trusting[service] = found
        return self._trusting[service]

    def names(self, role: Node, caller: Caller) -> str:
        """How an Allow statement of the role's trust names the caller: "direct" or "session" (itself), "account"
        (its account: the caller's own policies must allow too), or "" (not at all)."""
        path = self.entries[role.base].trust
        return self._naming(caller, self.view.org.files.get(path, path), path)

    def named_targets(self, caller: Caller, but: str) -> Iterator[tuple[Node, str]]:
        """The role targets (but the one whose base is ``but``) whose trust names the caller, in order, with
        :meth:`names`' answer. Every assume-role method of every node the caller stands for asks it: the roles
        naming the caller are listed once per caller (:meth:`_named` is a function of the trust text and the
        caller). When a trust of the class cannot be read for the caller, nothing is kept and the roles are gone
        through lazily, raising where a loop asking :meth:`names` would (at that role, and not for ``but``'s own)."""
        named = self._named_lists.get(caller)
        if named is None:
            try:
                named = self._all_named(caller)
            except Exception:  # noqa: BLE001 - the lazy walk below raises it again, at the role a loop would
                return self._named_lazily(caller, but)
            self._named_lists[caller] = named
        return iter([(role, how) for role, how in named if role.base != but])

    def _all_named(self, caller: Caller) -> list[tuple[Node, str]]:
        """Every role target whose trust names the caller, in order: each distinct trust text decided once."""
        trusts = self._trust_list()
        by_text = self._names.setdefault(caller, {})
        for text, path in self._texts.items():
            if text not in by_text:
                by_text[text] = self._named(path, caller)
        return [(role, by_text[text]) for role, text, _ in trusts if by_text[text]]

    def _trust_list(self) -> list[tuple[Node, str, str]]:
        """(role target, its trust text, the trust file), in role order; ``_texts``: each text's first file."""
        if self._trusts is None:
            files = self.view.org.files
            self._trusts = [(role, files.get(path, path), path) for role in self.role_targets
                            for path in (self.entries[role.base].trust,)]
            for _, text, path in self._trusts:
                self._texts.setdefault(text, path)
        return self._trusts

    def _named_lazily(self, caller: Caller, but: str) -> Iterator[tuple[Node, str]]:
        """:meth:`named_targets`, role by role, each trust text read once for the caller."""
        by_text = self._names.setdefault(caller, {})
        for role, text, path in self._trust_list():
            if role.base == but:
                continue
            how = by_text.get(text)
            if how is None:
                how = by_text[text] = self._named(path, caller)
            if how:
                yield role, how

    def _naming(self, caller: Caller, text: str, path: str) -> str:
        # Many roles of a class carry the same trust text (a large organization: hundreds): decided once per text
        # and caller in this account (the document is that text with this account's values).
        by_text = self._names.setdefault(caller, {})
        found = by_text.get(text)
        if found is None:
            found = by_text[text] = self._named(path, caller)
        return found

    def _named(self, path: str, caller: Caller) -> str:
        trust = self.view.org.document(path, self.account)
        statements = trust.get("Statement") or []
        found = {principal_match(s, caller) for s in ([statements] if isinstance(statements, Mapping)
                                                      else statements) if s.get("Effect") == "Allow"} - {""}
        return "account" if found == {"account"} else (next(iter(sorted(found))) if found else "")

    # -- the methods' requests ----------------------------------------------------------------------

    def possible(self, node: Node, method: Method) -> bool:
        """Could the node's own policies grant the method's actions at all (whatever the resource)?"""
        # View.may_allow without a resource answers from the node's action signatures alone (View.action_keys):
        # nodes with the same signatures get the same answer, so it is decided once per signatures and method.
        key = (self.view.action_keys(node, self.account), method.all_of, method.any_of)
        found = self._possible.get(key)
        if found is None:
            may = self.view.may_allow
            found = self._possible[key] = all(may(node, self.account, a) for a in method.all_of) and (
                not method.any_of or any(may(node, self.account, a) for a in method.any_of))
        return found

    def candidate_methods(self, node: Node) -> tuple[Method, ...]:
        """The catalog's methods whose hops out of the node are worth looking for, in order: every assume-role
        method (it needs no identity grant when the trust names the caller itself) and those :meth:`possible`."""
        # possible() reads only the node's action signatures: the choice is made once per signatures.
        key = self.view.action_keys(node, self.account)
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = tuple(
                m for m in catalog().methods if m.kind == "assume-role" or self.possible(node, m))
        return found

    def run(self, node: Node, method: Method, resource: str, target_context: Mapping[str, Iterable[str]],
            ) -> tuple[tuple[str, ...], tuple[str, int] | None] | None:
        """Do the method's actions hold, its target-bound ones on ``resource``? (allowed actions, first grant)."""
        if not self.possible(node, method):
            return None
        chosen: list[str] = []
        grant: tuple[str, int] | None = None
        for group in ([[a] for a in method.all_of] + ([list(method.any_of)] if method.any_of else [])):
            hit = None
            for action in group:
                decision = self._one(node, method, action, resource, target_context)
                if decision is not None:
                    hit = action
                    if grant is None and action in method.target_actions:
                        grant = grant_of(decision)
                    break
            if hit is None:
                return None
            chosen.append(hit)
        return tuple(chosen), grant

    def _one(self, node: Node, method: Method, action: str, resource: str,
             target_context: Mapping[str, Iterable[str]]) -> Decision | None:
        if action in method.target_actions:
            return self.decide(node, action, resource, _for(action, target_context))
        identity, _ = self.view.identity(node, self.account)
        own = dict(method.context)
        for candidate in own_resources(action, identity, self.account, self.region, self.view.partition):
            decision = self.decide(node, action, candidate, {k: (v,) for k, v in own.items()})
            if decision is not None:
                return decision
        return None


def _for(action: str, context: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """The target context keys that apply to the action (iam:PolicyARN only to Attach*)."""
    out = {k: tuple(v) for k, v in context.items()}
    if "Attach" not in action:
        out.pop("iam:PolicyARN", None)
    return out


def grant_of(decision: Decision) -> tuple[str, int] | None:
    """(policy file, statement index) of the identity statement that allowed a request."""
    match = next((m for m in decision.deciding if m.policy.kind == "identity"), None)
    return (match.policy.source, match.index) if match is not None else None
