"""The organization as the escalation analysis sees it: the emitted policy tree plus the roles it cannot list.

Two kinds of role are added to each class's copy of the manifest (the compiled tree itself is not touched):

- the custom-resource functions' roles (``guardrails.escalation.functions``), with their inline policies;
- one *probe* role per IAM path the class's policies let someone create roles under (``role/workload/*`` →
  ``/workload/``, and ``/``): a role the caller creates. It holds no policy of its own; the analysis asks about it
  with AdministratorAccess attached and each boundary the creator may (or must) set.

A :class:`Node` is a principal of an account, possibly changed by an escalation: with any policy attached
(``admin``), without its boundary, or with another one. Its requests are the evaluator's
(:meth:`Organization.prepare` and :func:`guardrails.evaluation.engine.evaluate`), with the policy set changed the way
the escalation changed the principal; decisions are cached per node, account, action, resource and context.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from guardrails.escalation.catalog import catalog
from guardrails.escalation.functions import Function, functions
from guardrails.evaluation import unconditional
from guardrails.evaluation.engine import Caller, Decision, Policy, PolicySet, Request, evaluate
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec, parse_principal
from guardrails.evaluation.statements import action_applies, statements_of
from guardrails.evaluation.matching import glob_matches
from guardrails.iam.actions import action_matcher, action_matches, glob_regex
from guardrails.iam.arns import aws_managed_policy_arn
from guardrails.iam.manifest import AccountClass, Manifest, RoleEntry

OWN = ""  # Node.boundary: the principal's own boundary (if any)
NONE = "-"  # Node.boundary: no boundary at all
PROBE_NAME = "guardrails-escalation-probe"
MAX_PROBES = 4  # paths a class's CreateRole grants name, "/" included
ADMINISTRATOR = "AdministratorAccess"
LISTING = "iam:ListRoles"  # the request whose policy set View.identity reads (any action no exception names)
# Request keys of a person signed in with MFA (users, group members, Identity Center sessions, roles whose trust
# requires MFA): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
MFA = {"aws:MultiFactorAuthPresent": ("true",), "aws:MultiFactorAuthAge": ("300",)}

Context = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, order=True)
class Node:
    """A principal as an escalation leaves it. ``base`` is the evaluator's name (``role/NAME``, ``user/NAME``,
    ``group/NAME`` for a member, ``permission-set/NAME``)."""

    base: str
    admin: bool = False
    boundary: str = OWN  # OWN, NONE or a boundary ARN as the manifest writes it
    synthetic: str = ""  # "function" (a custom-resource function's role) or "new-role" (a probe role)

    @property
    def kind(self) -> str:
        return self.base.split("/", 1)[0]


@dataclass(frozen=True)
class Probe:
    """A role a principal could create: where, and under which name."""

    path: str
    name: str


class View:
    """The analysis's organization: the compiled tree, the function roles and the probe roles."""

    def __init__(self, files: Mapping[str, str], manifest: Manifest | None = None) -> None:
        """``manifest``: the files' manifest when the caller has parsed it already (``Manifest.from_files`` of the
        same files; it is a frozen value, only read)."""
        policy_files = {p: t for p, t in files.items() if p.startswith("policies/")}
        # The compiled tree's own manifest (what the diagnostics read); its errors are an Organization's.
        self.manifest = manifest if manifest is not None else Manifest.from_files(policy_files)
        self.partition = self.manifest.organization.partition
        self.functions = functions(files, self.partition)
        self.probes: dict[str, tuple[Probe, ...]] = {}
        extended = dict(policy_files)
        management = {a.class_key for a in self.manifest.accounts if a.management}
        classes = []
        create_role: dict[str, tuple[str, ...]] = {}
        for cls in self.manifest.classes:
            key = cls.key
            roles = list(cls.roles)
            for fn in self.functions:
                if not fn.deployed_in(key, key in management):
                    continue
                inline = []
                for name, text in fn.role_policies:
                    path = f"policies/escalation/{key}/functions/{fn.role_name}-{name}.json"
                    extended[path] = text
                    inline.append(path)
                trust = f"policies/escalation/{key}/functions/{fn.role_name}-trust.json"
                extended[trust] = fn.trust
                roles.append(_role(fn.role_name, fn.role_path, trust, inline))
            probes = _probes(self.manifest, cls, roles, extended, create_role)
            self.probes[key] = probes
            trust = f"policies/escalation/{key}/probe-trust.json"
            extended[trust] = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": list(catalog().services)}, "Action": "sts:AssumeRole"}]})
            roles.extend(_role(p.name, p.path, trust, []) for p in probes)
            classes.append(replace(cls, roles=tuple(roles)))
        # The tree's manifest with these roles, given as values (what parsing it written out with them gives,
        # tests/test_escalation_fast.py): the large file is not written out and parsed again. ``extended`` keeps
        # the tree's manifest text; nothing reads an Organization's manifest text but its manifest.
        self.org = Organization(extended, parsed=replace(self.manifest, classes=tuple(classes)))
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._identity: dict[tuple[str, str], tuple[tuple[Policy, ...], Policy | None]] = {}
        self._admin: dict[str, Policy] = {}
        self._callers: dict[tuple[str, str], Caller] = {}
        self._mfa: dict[tuple[str, str], bool] = {}
        self._unmodeled: dict[tuple[str, str], tuple[str, ...]] = {}
        self._flags: dict[tuple[str, str, str], bool] = {}
        self._may: dict[tuple[Node, str, str], bool] = {}  # (node, account, action) → for any resource
        self._granted: dict[tuple[Node, str, str], tuple[Any, Any]] = {}  # … → (granted, bounded) Resource elements
        self._keys: dict[tuple[Node, str], tuple[tuple[int, ...], int | None]] = {}  # the node's action signatures
        self._anywhere: dict[tuple[tuple[int, ...], int | None, str], bool] = {}
        # Per document (by identity; the document is kept, so its id is not reused): its Allow statements' action
        # signature (interned by value, see _document) and their Resource elements.
        self._documents: dict[int, tuple[Mapping[str, Any], int, tuple[tuple[bool, tuple[str, ...]], ...]]] = {}
        self._signatures: dict[tuple[tuple[bool, tuple[str, ...]], ...], int] = {}
        self._matching: dict[tuple[int, str], tuple[int, ...]] = {}  # (signature, action) → statements naming it
        self._by_number: list[tuple[tuple[bool, tuple[str, ...]], ...]] = []  # the signatures by number

    # -- the principals ---------------------------------------------------------------------------

    def function_roles(self, account: Account) -> list[tuple[Function, Node]]:
        cls = self.org.class_entry(account)
        names = {r.name for r in cls.roles}
        return [(fn, Node(f"role/{fn.role_name}", synthetic="function")) for fn in self.functions
                if fn.role_name in names and fn.deployed_in(account.class_key, account.management)]

    def probe_nodes(self, account: Account) -> tuple[Probe, ...]:
        return self.probes.get(account.class_key or "", ())

    def role_arn(self, node: Node | str, account: Account) -> str:
        base = node.base if isinstance(node, Node) else node
        role = self.org.role(account, base.split("/", 1)[1])
        return f"arn:{self.partition}:iam::{account.id}:role{role.path}{role.name}"

    def administrator(self, account: Account) -> Policy:
        if account.name not in self._admin:
            found = self.org.managed_policy(aws_managed_policy_arn(self.partition, ADMINISTRATOR), account)
            assert found is not None, "AdministratorAccess is in guardrails' reference data"
            self._admin[account.name] = found
        return self._admin[account.name]

    def boundary_policy(self, arn: str, account: Account) -> Policy:
        found = self.org.managed_policy(arn, account)
        assert found is not None, f"{arn} is a boundary of the class"
        return Policy(found.name, "boundary", found.document, found.source)

    def identity(self, node: Node, account: Account) -> tuple[tuple[Policy, ...], Policy | None]:
        """The node's identity policies and boundary (after the escalation's change)."""
        key = (node.base, account.name)
        if key not in self._identity:
            spec = parse_principal(node.base)
            if _exceptions_keep_identity(LISTING):
                # What ``org.prepare(spec, account, LISTING, "*")`` puts in its policy set: the principal's
                # identity, boundary and unmodeled ARNs (its memo), less what the documented exceptions applying to
                # the action leave out, and none of them leaves these out for it (checked above, from the data
                # file). The caller is what the rest of prepare could refuse for the analysis's principals (the
                # class's own; tests/test_escalation_fast.py compares both ways): asked first, as prepare asks it.
                self.caller(node, account)
                identity, boundary, unmodeled = self.org.identity_policies(spec, account)
            else:
                _, policies = self.org.prepare(spec, account.name, LISTING, "*")
                identity, boundary, unmodeled = policies.identity, policies.boundary, policies.unmodeled
            self._identity[key] = (identity, boundary)
            self._unmodeled[key] = unmodeled
        identity, boundary = self._identity[key]
        if node.admin:
            identity = (*identity, self.administrator(account))
        if node.boundary == NONE:
            boundary = None
        elif node.boundary != OWN:
            boundary = self.boundary_policy(node.boundary, account)
        return identity, boundary

    def caller(self, node: Node | str, account: Account) -> Caller:
        """The evaluator's caller for the node's principal (the same for every change an escalation makes)."""
        base = node.base if isinstance(node, Node) else node
        key = (base, account.name)
        found = self._callers.get(key)
        if found is None:
            found = self._callers[key] = self.org.caller(parse_principal(base), account)
        return found

    def unmodeled(self, node: Node, account: Account) -> tuple[str, ...]:
        """AWS managed policies of the node without a document in guardrails' reference data."""
        self.identity(node, account)
        return () if node.admin else self._unmodeled[(node.base, account.name)]

    def may_allow(self, node: Node, account: Account, action: str, resource: str | None = None) -> bool:
        """Could the node's own policies allow the action (on the resource, when given) at all: an Allow in the
        identity policies and, when it has one, in the boundary? A cheap filter before the evaluator (conditions
        and Denies are the evaluator's); resource policies are asked separately."""
        key = (node, account.name, action)
        anywhere = self._may.get(key)
        if anywhere is None:
            identity, boundary = self.action_keys(node, account)
            # Whether a statement names the action depends on its Effect, Action and NotAction only: documents with
            # the same signature (the same file in every account of a class, the same policy in many classes) give
            # the same answer, so it is decided once per signature pair and action.
            found = (identity, boundary, action)
            anywhere = self._anywhere.get(found)
            if anywhere is None:
                anywhere = self._anywhere[found] = any(self._naming(sig, action) for sig in identity) and (
                    boundary is None or bool(self._naming(boundary, action)))
            self._may[key] = anywhere
        if resource is None or resource == "*" or not anywhere:
            return anywhere  # what _names answers for any resource; and no resource where none is granted
        granted, bounded = self._grants(node, account, action)
        return _names(granted, resource) and (bounded is None or _names(bounded, resource))

    def is_administrator(self, node: Node, account: Account) -> bool:
        """May the node do anything (an unconditional Allow of ``*`` on ``*``, no boundary)? Then no escalation can
        give it more: its closure is not searched."""
        key = (node.base, account.name, "administrator")
        if key in self._flags and not node.admin and node.boundary == OWN:
            return self._flags[key]
        identity, boundary = self.identity(node, account)
        found = boundary is None and any(
            s["Effect"] == "Allow" and s.get("Action") in ("*", ["*"]) and s.get("Resource") in ("*", ["*"])
            and not s.get("Condition") for p in identity for s in statements_of(p))
        if not node.admin and node.boundary == OWN:
            self._flags[key] = found
        return found

    def has_mfa(self, node: Node, account: Account) -> bool:
        """Does a session of the node carry MFA? People do (users, group members, Identity Center sessions, roles
        whose trust requires MFA); workloads and functions do not."""
        if node.kind in ("user", "group", "permission-set"):
            return True
        key = (node.base, account.class_key or "")
        if key not in self._mfa:
            found = False
            if node.kind == "role" and not node.synthetic:
                role = self.org.role(account, node.base.split("/", 1)[1])
                found = "aws:multifactorauthpresent" in self.org.files.get(role.trust, "").lower()
            self._mfa[key] = found
        return self._mfa[key]

    def _grants(self, node: Node, account: Account, action: str) -> tuple[Any, Any]:
        """The Resource elements of the node's Allow statements that name the action: (identity, boundary or None)."""
        key = (node, account.name, action)
        known = self._granted.get(key)
        if known is None:
            identity, boundary = self.identity(node, account)
            granted = tuple(r for p in identity for r in self._resources(p, action))
            known = self._granted[key] = (granted, None if boundary is None else self._resources(boundary, action))
        return known

    def action_keys(self, node: Node, account: Account) -> tuple[tuple[int, ...], int | None]:
        """The action signatures of the node's identity policies and boundary (after the escalation's change): all
        that :meth:`may_allow` without a resource reads."""
        key = (node, account.name)
        known = self._keys.get(key)
        if known is None:
            identity, boundary = self.identity(node, account)
            known = self._keys[key] = (tuple(self._document(p)[1] for p in identity),
                                       None if boundary is None else self._document(boundary)[1])
        return known

    def _resources(self, policy: Policy, action: str) -> tuple[tuple[bool, tuple[str, ...]], ...]:
        """The (NotResource?, patterns) of the policy's Allow statements that name the action."""
        _, signature, resources = self._document(policy)
        return tuple(resources[i] for i in self._naming(signature, action))

    def _document(self, policy: Policy) -> tuple[Mapping[str, Any], int, tuple[tuple[bool, tuple[str, ...]], ...]]:
        document = policy.document
        cached = self._documents.get(id(document))
        if cached is None or cached[0] is not document:
            allows = [s for s in statements_of(policy) if s["Effect"] == "Allow"]
            signature = tuple(_element(s, "Action") for s in allows)
            # Interned by value: equal signatures get one number, so _naming's answers are shared between them.
            number = self._signatures.get(signature)
            if number is None:
                number = self._signatures[signature] = len(self._by_number)
                self._by_number.append(signature)
            cached = self._documents[id(document)] = (document, number, tuple(_element(s, "Resource") for s in allows))
        return cached

    def _naming(self, signature: int, action: str) -> tuple[int, ...]:
        """The indices of a signature's (Allow) statements whose Action or NotAction names the action; one compiled
        pattern set per statement's actions of the action's service."""
        key = (signature, action)
        known = self._matching.get(key)
        if known is None:
            statements = self._by_number[signature]
            service = action.split(":", 1)[0].lower()
            out = []
            for index, (negated, patterns) in enumerate(statements):
                by_service = _by_service(patterns)
                candidates = (*by_service.get(service, ()), *by_service.get("*", ()))
                if negated != bool(candidates and action_matcher(candidates)(action)):
                    out.append(index)
            known = self._matching[key] = tuple(out)
        return known

    # -- requests ---------------------------------------------------------------------------------

    def evaluate(self, node: Node, account: Account, action: str, resource: str,
                 context: Mapping[str, Iterable[str]] | None = None, *, trust_naming_caller: bool = False) -> Decision:
        """The decision for a request of the node. ``trust_naming_caller``: an sts:AssumeRole whose role trust
        the caller wrote itself, naming the caller (a trust it rewrote or a role it created)."""
        given = dict(MFA) if self.has_mfa(node, account) else {}
        given.update({k: tuple(v) for k, v in (context or {}).items()})
        frozen: Context = tuple(sorted(given.items()))
        key = (node, account.name, action, resource, frozen, trust_naming_caller)
        if key not in self._decisions:
            request, policies = self._prepare(node, account, action, resource, given, trust_naming_caller)
            self._decisions[key] = evaluate(request, policies)
        return self._decisions[key]

    def _prepare(self, node: Node, account: Account, action: str, resource: str,
                 given: Mapping[str, tuple[str, ...]], trust_naming_caller: bool) -> tuple[Request, PolicySet]:
        spec: PrincipalSpec = parse_principal(node.base)
        request, policies = self.org.prepare(spec, account.name, action, resource, given)
        changes: dict[str, Any] = {}
        if node.admin:
            # AWS managed policies without reference data only grant; next to AdministratorAccess they change nothing.
            changes.update(identity=(*policies.identity, self.administrator(account)), unmodeled=())
        if node.boundary == NONE:
            changes["boundary"] = None
        elif node.boundary != OWN:
            changes["boundary"] = self.boundary_policy(node.boundary, account)
        if trust_naming_caller:
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": request.caller.principal_arn}, "Action": "sts:AssumeRole"}]}
            changes.update(resource=Policy("trust policy written by the caller", "resource", trust),
                           resource_required=True)
        return request, (replace(policies, **changes) if changes else policies)

    @property
    def evaluations(self) -> int:
        return len(self._decisions)


@lru_cache(maxsize=None)
def _exceptions_keep_identity(action: str) -> bool:
    """Does no documented exception (guardrails/data/unconditional_requests.yaml) that could apply to the action
    leave out the identity policies or the boundary? Then a request's policy set for it has the principal's own."""
    return not any(action_matches(entry.action, action) and {"identity", "boundary"} & set(entry.not_deniable_by)
                   for entry in unconditional.entries())


def _names(statements: tuple[tuple[bool, tuple[str, ...]], ...], resource: str | None) -> bool:
    """Does one of the statements' Resource elements name the resource (patterns with policy variables, and
    NotResource, count as naming it; ``None`` or ``*``: any statement)?"""
    if resource is None or resource == "*":
        return bool(statements)
    # One pattern at a time (glob_matches settles most by their literal ends): an expression per statement's
    # Resource list was compiled for every distinct list, thousands of them at 1,000 accounts.
    return any(not patterns or negated or any("${" in p for p in patterns)
               or any(glob_matches(p, resource) for p in patterns) for negated, patterns in statements)


def _element(statement: Mapping[str, Any], name: str) -> tuple[bool, tuple[str, ...]]:
    """(written as Not<name>?, its patterns) of a statement element."""
    negated = name not in statement
    raw = statement.get(f"Not{name}" if negated else name) or ()
    return negated, (raw,) if isinstance(raw, str) else tuple(str(v) for v in raw)


@lru_cache(maxsize=4096)
def _by_service(patterns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Action patterns by their service prefix (lowercased; ``*`` for patterns whose prefix has a wildcard), so
    that an action is matched against its own service's patterns only."""
    out: dict[str, list[str]] = {}
    for pattern in patterns:
        prefix = pattern.split(":", 1)[0].lower() if ":" in pattern else "*"
        out.setdefault("*" if "*" in prefix or "?" in prefix else prefix, []).append(pattern)
    return {k: tuple(v) for k, v in out.items()}


def _role(name: str, path: str, trust: str, inline: list[str]) -> RoleEntry:
    """A role the analysis adds, as the manifest reader reads one without policies, boundary, name or tags."""
    return RoleEntry(name, path, trust, (), tuple(inline), None, 3600)


def _probes(tree: Manifest, cls: AccountClass, roles: list[RoleEntry], files: Mapping[str, str],
            known: dict[str, tuple[str, ...]]) -> tuple[Probe, ...]:
    """Where the class's policies (its ``roles``: the function roles too) let someone create roles: a probe under
    each path their iam:CreateRole grants name (``role/workload/*`` → ``/workload/``), and ``/`` for grants on
    ``*``. ``known``: the CreateRole resources of each document text read so far."""
    patterns: set[str] = set()
    documents = [entry.file for entry in cls.managed_policies]
    documents += [p for role in roles for p in role.inline_policies]
    documents += [entry.file for entry in tree.permission_sets if entry.file]
    for path in dict.fromkeys(documents):
        # By text: the permission sets' documents are every class's, a job function's the same text in each class
        # (its account placeholders unexpanded): each read once (a malformed one still raises at its first path).
        text = files[path]
        if text not in known:
            known[text] = _create_role_resources(path, text)
        patterns.update(known[text])
    taken = {role.name for role in roles}
    probes = [Probe("/", PROBE_NAME)]
    for pattern in sorted(patterns):
        tail = pattern.split(":role/", 1)[1] if ":role/" in pattern else ""
        if not tail or "${" in tail or len(probes) >= MAX_PROBES:
            continue
        parts = tail.split("/")
        path = "/" + "".join(f"{_concrete(p, 'x')}/" for p in parts[:-1])
        if any(p.path == path for p in probes):
            continue
        # Role names are unique in an account whatever the path: each probe gets its own.
        name = _concrete(parts[-1] or "*", f"{PROBE_NAME}-{len(probes) + 1}")
        if name not in taken and glob_regex((tail,), ignore_case=False).match(f"{path.lstrip('/')}{name}"):
            probes.append(Probe(path, name))
    return tuple(probes)


def _create_role_resources(path: str, text: str) -> tuple[str, ...]:
    """The Resource patterns of a document's Allow statements that grant iam:CreateRole."""
    return tuple(pattern for statement in statements_of(Policy(path, "identity", json.loads(text)))
                 if statement["Effect"] == "Allow" and action_applies(statement, "iam:CreateRole")
                 for pattern in _as_list(statement.get("Resource", "*")))


def _concrete(pattern: str, fill: str) -> str:
    return pattern.replace("*", fill, 1).replace("*", "").replace("?", "x") if pattern != "*" else fill


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or ()]
