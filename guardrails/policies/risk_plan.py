"""The risk analysis of a whole plan: every document that grants something, once per document.

* local managed policies (not boundaries: a boundary is a ceiling, not a grant) and inline role policies of every
  baseline class, de-duplicated across classes (same policy key = same finding);
* the inline policy of every Identity Center permission set, with the accounts it is assigned to (a permission set
  referring to customer managed policies is analysed through those policies, which name it as a holder);
* every resource policy (bucket, key, topic, queue), judged by whom it grants to
  (:func:`~guardrails.policies.risk_findings.analyze_resource_policy`).

Out of scope: SCPs and RCPs (they grant nothing), trust policies, the break-glass role (AWS-managed
AdministratorAccess by design) and every AWS managed policy (their content is not in the plan;
:func:`aws_managed_in_use` lists them so a report can say they were not analyzed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from guardrails.diagnostics import Location
from guardrails.iam.arns import parse_arn
from guardrails.policies.ir import ACCOUNT_ID, Baseline, Plan, PolicyDocument, ResourcePolicy
from guardrails.policies.risk_findings import RiskFinding, analyze, analyze_resource_policy
from guardrails.policies.risk_rules import RiskRule

PolicyKind = Literal["policy", "permission-set", "resource-policy"]
RESOURCE_POLICY_PREFIX = "resource-policy/"  # policy_key of a resource policy: never a managed policy's key


@dataclass(frozen=True)
class PlanRisk:
    """A finding in one document of the plan, with every baseline class, identity and account that carries it."""

    finding: RiskFinding
    policy_key: str  # ManagedPolicy.key (job_workload_admin), "<role key>/<inline name>", PermissionSet.key
    policy_name: str  # policy name, "<role name>/<inline name>", permission set name, resource policy key
    classes: tuple[str, ...]
    attached_to: tuple[str, ...]  # "group admins", "role GuardrailsCIDeployer", "permission set ReadOnly"
    kind: PolicyKind = "policy"
    accounts: tuple[str, ...] = ()  # permission set: the accounts it is assigned to; resource policy: deployed in
    resource: str = ""  # resource policy: the ARN (pattern) of what it protects
    origin: str = ""  # where to point when the statement has no blueprint location (the permission set)

    @property
    def location(self) -> Location | None:
        return self.finding.location or Location.parse(self.origin)

    @property
    def label(self) -> str:
        """The document in words: ``guardrails-developer``, ``permission set ReadOnly``, ``resource policy …``."""
        if self.kind == "permission-set":
            return f"permission set {self.policy_name}"
        if self.kind == "resource-policy":
            return f"resource policy {self.policy_name}"
        return self.policy_name


def analyze_plan(plan: Plan, rules: Sequence[RiskRule] | None = None) -> list[PlanRisk]:
    """Findings for every document of the plan that grants something, once per document key."""
    found: dict[tuple[str, RiskFinding], dict] = {}
    order: list[tuple[str, RiskFinding]] = []
    # Classes share their documents and the memo its findings: one object met again in another class is looked up
    # by identity, not hashed again (a document and a finding hash all of their contents). `kept` keeps every
    # finding alive, so that no identity is reused during the analysis.
    by_identity: dict[tuple[str, int], dict] = {}
    kept: list[list[RiskFinding]] = []
    analysed: dict[int, tuple[PolicyDocument, list[RiskFinding]]] = {}

    def findings_of(document: PolicyDocument) -> list[RiskFinding]:
        known = analysed.get(id(document))
        if known is None or known[0] is not document:
            known = analysed[id(document)] = (document, analyze(document, rules))
        return known[1]

    def add(key: str, findings: Iterable[RiskFinding], name: str, cls: str | None, holders: Iterable[str],
            **extra: object) -> None:
        findings = list(findings)
        kept.append(findings)
        for finding in findings:
            entry = by_identity.get((key, id(finding)))
            if entry is None:
                entry = found.get((key, finding))
                if entry is None:
                    entry = found[(key, finding)] = {"name": name, "classes": [], "holders": set(),
                                                     "finding": finding, "extra": extra}
                    order.append((key, finding))
                by_identity[(key, id(finding))] = entry
            if cls is not None and cls not in entry["classes"]:
                entry["classes"].append(cls)
            entry["holders"].update(holders)

    by_reference = _customer_managed_holders(plan)
    for cls in plan.classes:
        baseline = cls.baseline
        local = _local_holders(baseline)
        for policy in baseline.managed_policies:
            if policy.kind != "managed":
                continue  # a boundary is a ceiling, not a grant
            holders = list(local.get(policy.key, ()))
            holders += [f"permission set {name}" for name, accounts in by_reference.get((policy.path, policy.name), ())
                        if accounts & set(cls.accounts)]
            add(policy.key, findings_of(policy.document), policy.name, cls.key, holders)
        for role in baseline.roles:
            if role.name == plan.org.break_glass_role:
                continue  # administrator by design
            for name, document in role.inline_policies:
                add(f"{role.key}/{name}", findings_of(document), f"{role.name}/{name}", cls.key,
                    [f"role {role.name}"])
    for key, name, document, accounts, origin in _permission_set_policies(plan):
        add(key, analyze(document, rules), name, None, [f"permission set {name}"], kind="permission-set",
            accounts=accounts, origin=origin)
    for policy in plan.resource_policies:
        add(RESOURCE_POLICY_PREFIX + policy.key,
            analyze_resource_policy(policy.document, own_accounts(plan, policy), rules), policy.key, None,
            [f"{policy.kind} {policy.resource}"], kind="resource-policy", accounts=policy.accounts,
            resource=policy.resource)
    return [PlanRisk(found[k]["finding"], k[0], found[k]["name"], tuple(found[k]["classes"]),
                     tuple(sorted(found[k]["holders"])), **found[k]["extra"]) for k in order]


def _local_holders(baseline: Baseline) -> dict[str, list[str]]:
    """Key of a policy of the baseline → its holders (``group NAME`` first, then ``role NAME``, each in the
    baseline's order, once): one pass over the baseline instead of one per policy (50 policies × 150 holders per
    class in a large organization)."""
    out: dict[str, list[str]] = {}
    for kind, owners in (("group", baseline.groups), ("role", baseline.roles)):
        for owner in owners:
            for key in dict.fromkeys(ref.name for ref in owner.policies if ref.kind == "local"):
                out.setdefault(key, []).append(f"{kind} {owner.name}")
    return out


def assigned_accounts(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Permission-set key → the account names it is assigned to, sorted."""
    if plan.identity_center is None:
        return {}
    out: dict[str, set[str]] = {}
    for assignment in plan.identity_center.assignments:
        out.setdefault(assignment.permission_set, set()).add(assignment.account)
    return {key: tuple(sorted(accounts)) for key, accounts in out.items()}


def _permission_set_policies(plan: Plan) -> list[tuple[str, str, PolicyDocument, tuple[str, ...], str]]:
    """(key, name, inline policy, assigned accounts, blueprint origin) of every permission set with one."""
    if plan.identity_center is None:
        return []
    assigned = assigned_accounts(plan)
    return [(ps.key, ps.name, ps.inline_policy, assigned.get(ps.key, ()), ps.origin)
            for ps in plan.identity_center.permission_sets if ps.inline_policy is not None]


def _customer_managed_holders(plan: Plan) -> dict[tuple[str, str], list[tuple[str, set[str]]]]:
    """(path, name) of a customer managed policy → the permission sets referring to it, with their accounts."""
    if plan.identity_center is None:
        return {}
    assigned = assigned_accounts(plan)
    out: dict[tuple[str, str], list[tuple[str, set[str]]]] = {}
    for ps in plan.identity_center.permission_sets:
        for reference in ps.customer_managed:
            out.setdefault((reference.path, reference.name), []).append((ps.name, set(assigned.get(ps.key, ()))))
    return out


def own_accounts(plan: Plan, policy: ResourcePolicy) -> frozenset[str]:
    """The accounts a resource policy's resource lives in: those it is deployed to (ids), the account of its ARN,
    and the per-account placeholder (which is always the deploying account)."""
    ids = {a.id for a in plan.accounts if a.name in policy.accounts}
    parsed = parse_arn(policy.resource)
    return frozenset({ACCOUNT_ID, *ids, parsed.account if parsed is not None else ""} - {""})


def aws_managed_in_use(plan: Plan) -> list[tuple[str, tuple[str, ...]]]:
    """AWS managed policies attached anywhere except the break-glass role: not analyzed (content unknown)."""
    holders: dict[str, set[str]] = {}
    for cls in plan.classes:
        for group in cls.baseline.groups:
            for ref in group.policies:
                if ref.kind == "aws":
                    holders.setdefault(ref.name, set()).add(f"group {group.name}")
        for role in cls.baseline.roles:
            if role.name == plan.org.break_glass_role:
                continue
            for ref in role.policies:
                if ref.kind == "aws":
                    holders.setdefault(ref.name, set()).add(f"role {role.name}")
    if plan.identity_center is not None:
        for ps in plan.identity_center.permission_sets:
            for name in ps.managed_policies:
                holders.setdefault(name, set()).add(f"permission set {ps.name}")
    return [(name, tuple(sorted(h))) for name, h in sorted(holders.items())]


def declared_rules(documents: Iterable[PolicyDocument], declared: Iterable[str]) -> tuple[str, ...]:
    """Rule ids of the unmitigated findings in ``documents`` that a declaration (rule id or category, as in
    ``accept_risks``) covers, sorted: what a job function keeps on purpose, for the least-privilege report."""
    wanted = set(declared)
    if not wanted:
        return ()
    return tuple(sorted({f.rule for document in documents for f in analyze(document)
                         if not f.mitigated and (f.rule in wanted or f.category in wanted)}))
