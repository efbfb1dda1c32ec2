"""Risk analysis of compiled identity policies: privilege escalation, credentials exposure, data
exfiltration and resource exposure.

The rules are data (``guardrails/data/risks.yaml``); this module applies them with pure functions:

* :func:`analyze` — one policy document → :class:`RiskFinding` per (rule, Allow statement), each either
  *mitigated* (made safe by its conditions, its resources, or a Deny in the same document) or not;
* :func:`analyze_plan` — every local managed policy and inline role policy of every baseline class,
  de-duplicated across classes (same policy key = same finding) → :class:`PlanRisk`;
* :func:`unaccepted` — splits unmitigated findings into errors, declared (``accept_risks``) and
  declared-but-past-review;
* :func:`risk_diagnostics` / :func:`summary_lines` — GR315/GR321 diagnostics and build-summary lines.

Out of scope: permission boundaries and SCPs (they grant nothing), trust policies, the break-glass role
(AWS-managed AdministratorAccess by design) and every AWS managed policy (their content is not in the
plan; :func:`aws_managed_in_use` lists them so a report can say they were not analyzed).
Actions are expanded against the pinned IAM database, so ``iam:*``, ``iam:Put*`` and NotAction
statements count as granting what they match.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources

import yaml

from guardrails.diagnostics import Diagnostic, Location
from guardrails.iam.actions import any_action_matches, iam_database, wildcard_matches
from guardrails.policies.ir import Plan, PolicyDocument, Statement

CATEGORIES = ("privilege-escalation", "credentials-exposure", "data-exfiltration", "resource-exposure")
PASS_ROLE = "iam:PassRole"
# Operators under which a required condition key really restricts the request (no IfExists: an absent
# key would pass; no set qualifier: ForAllValues passes on an empty set).
POSITIVE_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})
# ARN variables that do not narrow what a resource names.
_PLACE_VARIABLES = frozenset({"partition", "region", "account"})


# ----------------------------------------------------------------------------- rules (data)


@dataclass(frozen=True)
class Mitigations:
    conditions: tuple[str, ...] = ()
    scoped_resources: bool = False
    role_path: bool = False
    self_only: bool = False


@dataclass(frozen=True)
class ServicePath:
    """A service that runs code with a passed role, and the action groups (any one of each) it needs."""

    service: str
    all_of: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class RiskRule:
    id: str
    category: str
    title: str
    actions: tuple[str, ...] = ()
    access_levels: tuple[str, ...] = ()
    except_: tuple[str, ...] = ()
    with_pass_role: tuple[ServicePath, ...] = ()
    mitigated_by: Mitigations = Mitigations()
    rationale: str = ""
    sources: tuple[str, ...] = ()


_RULE_KEYS = {"id", "category", "title", "actions", "access_levels", "except", "with_pass_role", "mitigated_by",
              "rationale", "sources"}
_MITIGATION_KEYS = {"conditions", "scoped_resources", "role_path", "self_only"}


def load_rules(text: str) -> tuple[RiskRule, ...]:
    """Parse and check the rules file; a malformed rule is a programming error (ValueError)."""
    raw = yaml.safe_load(text)
    sources = raw.get("sources", {})
    rules: list[RiskRule] = []
    for entry in raw["rules"]:
        rule_id = entry.get("id", "?")
        unknown = set(entry) - _RULE_KEYS
        mitigated = entry.get("mitigated_by") or {}
        unknown |= {f"mitigated_by.{k}" for k in set(mitigated) - _MITIGATION_KEYS}
        if unknown:
            raise ValueError(f"risk rule {rule_id}: unknown keys {sorted(unknown)}")
        if entry.get("category") not in CATEGORIES or not rule_id.startswith(f"{entry.get('category')}/"):
            raise ValueError(f"risk rule {rule_id}: category must be one of {CATEGORIES} and prefix the id")
        if bool(entry.get("with_pass_role")) == bool(entry.get("actions") or entry.get("access_levels")):
            raise ValueError(f"risk rule {rule_id}: give either actions/access_levels or with_pass_role")
        missing = [s for s in entry.get("sources", []) if s not in sources]
        if missing or not entry.get("sources"):
            raise ValueError(f"risk rule {rule_id}: sources {missing or '(none)'} not defined")
        rules.append(RiskRule(
            id=rule_id, category=entry["category"], title=entry["title"],
            actions=tuple(entry.get("actions", ())), access_levels=tuple(entry.get("access_levels", ())),
            except_=tuple(entry.get("except", ())),
            with_pass_role=tuple(ServicePath(p["service"], tuple(tuple(g) for g in p["all_of"]))
                                 for p in entry.get("with_pass_role", ())),
            mitigated_by=Mitigations(conditions=tuple(mitigated.get("conditions", ())),
                                     scoped_resources=bool(mitigated.get("scoped_resources")),
                                     role_path=bool(mitigated.get("role_path")),
                                     self_only=bool(mitigated.get("self_only"))),
            rationale=" ".join(str(entry.get("rationale", "")).split()), sources=tuple(entry["sources"])))
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("risk rule ids must be unique")
    return tuple(rules)


@cache
def risk_rules() -> tuple[RiskRule, ...]:
    """The packaged rules, loaded once."""
    return load_rules(resources.files("guardrails.data").joinpath("risks.yaml").read_text("utf-8"))


def known_risks() -> frozenset[str]:
    """What ``accept_risks[].risk`` may name: a rule id or a category (for the schema's check)."""
    return frozenset({r.id for r in risk_rules()} | set(CATEGORIES))


# ----------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class RiskFinding:
    rule: str
    category: str
    title: str
    sid: str
    actions: tuple[str, ...]  # concrete actions (AWS spelling) the statement grants that the rule concerns
    resources: tuple[str, ...]
    mitigated: bool
    reason: str  # why it is mitigated, or why it is risky
    not_resources: tuple[str, ...] = ()  # set when the statement uses NotResource (grants all but these)
    related_sids: tuple[str, ...] = ()  # other statements that make up the finding (PassRole for combinations)
    origin: str = field(default="", compare=False)  # blueprint "file:line:col" of the statement

    @property
    def location(self) -> Location | None:
        return Location.parse(self.origin)


def analyze(document: PolicyDocument, rules: Sequence[RiskRule] | None = None) -> list[RiskFinding]:
    """Every rule that fires on an Allow statement of an identity policy, mitigated or not."""
    rules = risk_rules() if rules is None else rules
    doc = _Document(document)
    findings: list[RiskFinding] = []
    for rule in rules:
        if rule.with_pass_role:
            findings.extend(_combination_findings(rule, doc))
            continue
        universe = _rule_actions(rule)
        for statement in doc.allows:
            matched = [name for key, name in universe if doc.grants(statement, key)]
            if not matched:
                continue
            denied = {name: sid for name in matched if (sid := doc.denied_by(statement, name.lower()))}
            remaining = [name for name in matched if name not in denied]
            if not remaining:
                mitigated, reason = True, f"denied in the same policy by {', '.join(sorted(set(denied.values())))}"
                actions = tuple(matched)
            else:
                mitigated, reason = _mitigation(rule.mitigated_by, statement, remaining)
                actions = tuple(remaining)
            findings.append(RiskFinding(
                rule=rule.id, category=rule.category, title=rule.title, sid=statement.sid, actions=actions,
                resources=statement.resources, mitigated=mitigated, reason=reason,
                not_resources=statement.not_resources, origin=statement.origin))
    position: dict[str, int] = {}
    for index, statement in enumerate(document.statements):
        position.setdefault(statement.sid, index)
    rule_order = {r.id: i for i, r in enumerate(rules)}
    return sorted(findings, key=lambda f: (position.get(f.sid, 0), rule_order[f.rule], f.actions))


# ----------------------------------------------------------------------------- matching


def _concrete(pattern: str) -> list[str]:
    """The actions (AWS spelling) a pattern names; a literal unknown to the database stands for itself."""
    names = [info.full_name for info in iam_database().expand(pattern)]
    if not names and not any(ch in pattern for ch in "*?"):
        names = [pattern]
    return names


@cache
def _rule_actions(rule: RiskRule) -> tuple[tuple[str, str], ...]:
    """(lowercased, AWS spelling) of every concrete action a rule concerns."""
    db = iam_database()
    found = {name.lower(): name for pattern in rule.actions for name in _concrete(pattern)}
    if rule.access_levels:
        for service in db.services_by_prefix.values():
            for info in service.actions.values():
                if info.access_level in rule.access_levels:
                    found[info.full_name.lower()] = info.full_name
    if rule.except_:
        found = {k: v for k, v in found.items() if not any_action_matches(rule.except_, k)}
    return tuple(sorted(found.items()))


class _Document:
    """One policy document with its statements' action matchers and its unconditional Denies."""

    def __init__(self, document: PolicyDocument) -> None:
        self.allows = [s for s in document.statements if s.effect == "Allow"]
        # A Deny with conditions may not apply to a given request, and NotResource is hard to compare:
        # only unconditional, Resource-based Denies take an action away for certain.
        self.denies = [s for s in document.statements
                       if s.effect == "Deny" and not s.conditions and s.resources and not s.not_resources]

    @staticmethod
    def grants(statement: Statement, action: str) -> bool:
        """Does the statement's Action (or NotAction: everything not listed) cover the action (lowercased)?"""
        if statement.actions:
            return any_action_matches(statement.actions, action)
        if statement.not_actions:
            return not any_action_matches(statement.not_actions, action)
        return False

    def denied_by(self, statement: Statement, action: str) -> str:
        """Sid of an unconditional Deny that removes the action on all of the statement's resources, or ''."""
        for deny in self.denies:
            if not self.grants(deny, action):
                continue
            if "*" in deny.resources or (statement.resources and not statement.not_resources and all(
                    any(wildcard_matches(d, r, ignore_case=False) for d in deny.resources) for r in statement.resources)):
                return deny.sid or "(no sid)"
        return ""

    def granted(self, action: str) -> list[Statement]:
        """Allow statements that grant the action (lowercased) and are not denied it."""
        return [s for s in self.allows if self.grants(s, action) and not self.denied_by(s, action)]


# ----------------------------------------------------------------------------- mitigations


def _wildcard_only(value: str) -> bool:
    return bool(re.fullmatch(r"[*?/:]+", value))


Clause = tuple[str, str, tuple[str, ...]]  # operator, key, values


def _positive_condition(conditions: Iterable[Clause], key: str) -> Clause | None:
    for operator, name, values in conditions:
        if (name.lower() == key.lower() and operator in POSITIVE_OPERATORS
                and values and not any(_wildcard_only(v) for v in values)):
            return operator, name, values
    return None


def mitigation_reason(rules: Mitigations, resources: tuple[str, ...], conditions: Iterable[Clause], *,
                      not_resource: bool = False) -> str | None:
    """The one judge of a risky grant, used by the build (one statement) and by ``guardrails diff`` (one grant of
    the effective permissions): why the grant is safe, or None. A condition key of the rule with a positive
    operator and a real value; resources limited to role paths, to the caller's own user (any path: user names
    are unique in an account), or to specific resources. NotResource never mitigates."""
    conditions = tuple(conditions)
    for key in rules.conditions:
        found = _positive_condition(conditions, key)
        if found is not None:
            operator, name, values = found
            return f"requires {name} ({operator} {', '.join(values)})"
    bounded = bool(resources) and not not_resource
    if rules.role_path and bounded and _role_path_only(resources):
        return f"limited to role path(s) {', '.join(resources)}"
    if rules.self_only and bounded and all(_OWN_USER.fullmatch(r) for r in resources):
        return "limited to the caller's own user"
    if rules.scoped_resources and bounded and not any(service_wide(r) for r in resources):
        return f"limited to {', '.join(resources)}"
    return None


@cache
def _arn_formats(service: str) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Regexes of the service's resource ARN formats, with the names of their variables."""
    info = iam_database().service(service)
    if info is None:
        return ()
    out = []
    for resource_type in info.resource_types.values():
        pieces = re.split(r"\$\{([^}]+)\}", resource_type.arn)
        regex, names = "", []
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                regex += re.escape(piece)
            elif piece.lower() in _PLACE_VARIABLES:
                regex += "[^:]*"
            else:
                regex += "(.+)"
                names.append(piece)
        out.append((re.compile(regex + r"\Z", re.DOTALL), tuple(names)))
    return tuple(out)


def service_wide(resource: str) -> bool:
    """Does the resource name everything of its kind (``*``, ``arn:aws:s3:::*/*``, ``…:role/*``)?"""
    if _wildcard_only(resource):
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    name = parts[5]
    if not name or _wildcard_only(name):
        return True
    for regex, _ in _arn_formats(parts[2].lower()):
        match = regex.match(resource)
        if match and match.groups() and all(_wildcard_only(g) for g in match.groups()):
            return True
    return False


_ROLE_ARN = re.compile(r"arn:[^:]+:iam::[^:]*:role/(?P<name>.+)", re.DOTALL)
_OWN_USER = re.compile(r"arn:[^:]+:iam::[^:]*:user/(?:[^*?]+/)?\$\{aws:username\}", re.IGNORECASE)


def _role_path_only(resources: tuple[str, ...]) -> bool:
    return bool(resources) and all(
        (m := _ROLE_ARN.fullmatch(r)) is not None and m["name"][0] not in "*?" for r in resources)


def _mitigation(rules: Mitigations, statement: Statement, actions: Sequence[str]) -> tuple[bool, str]:
    """Is the grant made safe by the statement's conditions or resources? With the reason either way."""
    clauses = [(c.operator, c.key, c.values) for c in statement.conditions]
    reason = mitigation_reason(rules, statement.resources or statement.not_resources, clauses,
                               not_resource=bool(statement.not_resources))
    if reason is None:
        return False, _unmitigated_reason(rules, statement)
    key = next((k for k in rules.conditions if _positive_condition(clauses, k) is not None), None)
    if key is not None:
        db = iam_database()
        unsupported = [a for a in actions if (i := db.action(a)) is not None
                       and key.lower() not in {k.lower() for k in i.condition_keys}]
        if unsupported:
            reason += f"; {', '.join(unsupported)} never carry this key, so the statement never allows them"
    return True, reason


def _unmitigated_reason(rules: Mitigations, statement: Statement) -> str:
    where = (f"NotResource {', '.join(statement.not_resources)}" if statement.not_resources
             else ", ".join(statement.resources) or "no Resource")
    return f"granted on {where}; would be safe if {mitigation_hint(rules)}"


def mitigation_hint(rules: Mitigations) -> str:
    """What would make a grant under this rule safe, in words."""
    options = [f"a Condition required {key}" for key in rules.conditions]
    if rules.role_path:
        options.append("Resource were limited to a role path (e.g. role/workload/*)")
    if rules.self_only:
        options.append("Resource were the caller's own user (user/${aws:username})")
    if rules.scoped_resources:
        options.append("Resource named specific resources instead of the whole service")
    return " or ".join(options) if options else "a Deny in the same policy removed it (nothing else makes it safe)"


# ----------------------------------------------------------------------------- combinations


def _passes_to(statement: Statement, service: str) -> bool:
    """Can a role passed under this statement reach the service (no iam:PassedToService excludes it)?"""
    condition = _positive_condition([(c.operator, c.key, c.values) for c in statement.conditions],
                                    "iam:PassedToService")
    return condition is None or any(wildcard_matches(v, service) for v in condition[2])


def _combination_findings(rule: RiskRule, doc: _Document) -> list[RiskFinding]:
    passes = doc.granted(PASS_ROLE.lower())
    if not passes:
        return []
    # One finding per (statement granting the service actions, the PassRole statements involved).
    merged: dict[tuple[str, tuple[str, ...]], dict] = {}
    for path in rule.with_pass_role:
        relevant = [s for s in passes if _passes_to(s, path.service)]
        if not relevant:
            continue
        picked: list[tuple[str, Statement]] = []
        for group in path.all_of:
            hits = [(name, s) for pattern in group for name in _concrete(pattern) for s in doc.granted(name.lower())]
            if not hits:
                break
            picked.extend(hits)
        else:
            first = picked[0][1]
            key = (first.sid, tuple(s.sid for s in relevant))
            entry = merged.setdefault(key, {"statement": first, "relevant": relevant, "actions": set(),
                                            "sids": set(), "services": []})
            entry["actions"].update(name for name, _ in picked)
            entry["sids"].update(s.sid for _, s in picked if s.sid != first.sid)
            if path.service not in entry["services"]:
                entry["services"].append(path.service)
    findings = []
    for entry in merged.values():
        relevant: list[Statement] = entry["relevant"]
        scoped = all(s.resources and not s.not_resources and _role_path_only(s.resources) for s in relevant)
        roles = sorted({r for s in relevant for r in s.resources})
        services = ", ".join(entry["services"])
        if rule.mitigated_by.role_path and scoped:
            mitigated, reason = True, f"iam:PassRole limited to role path(s) {', '.join(roles)}, so {services} can only receive those roles"
        else:
            mitigated, reason = False, (f"iam:PassRole ({', '.join(s.sid for s in relevant)}) lets {services} receive "
                                        f"any role on {', '.join(roles) or 'NotResource'}; would be safe if "
                                        f"{mitigation_hint(rule.mitigated_by)}")
        statement: Statement = entry["statement"]
        findings.append(RiskFinding(
            rule=rule.id, category=rule.category, title=rule.title, sid=statement.sid,
            actions=tuple(sorted(entry["actions"] | {PASS_ROLE})), resources=tuple(roles), mitigated=mitigated,
            reason=reason, related_sids=tuple(sorted(entry["sids"] | {s.sid for s in relevant})),
            origin=statement.origin))
    return findings


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlanRisk:
    """A finding in one policy of the plan, with every baseline class and identity that carries it."""

    finding: RiskFinding
    policy_key: str  # ManagedPolicy.key (e.g. job_workload_admin), or "<role key>/<inline name>"
    policy_name: str
    classes: tuple[str, ...]
    attached_to: tuple[str, ...]  # "group admins", "role GuardrailsCIDeployer"

    @property
    def location(self) -> Location | None:
        return self.finding.location


def analyze_plan(plan: Plan, rules: Sequence[RiskRule] | None = None) -> list[PlanRisk]:
    """Findings for every local managed policy (not boundaries) and inline role policy, once per policy key."""
    found: dict[tuple[str, RiskFinding], dict] = {}
    cache_: dict[tuple[str, PolicyDocument], list[RiskFinding]] = {}
    order: list[tuple[str, RiskFinding]] = []

    def add(key: str, name: str, document: PolicyDocument, cls: str, holders: Iterable[str]) -> None:
        if (key, document) not in cache_:
            cache_[(key, document)] = analyze(document, rules)
        for finding in cache_[(key, document)]:
            entry = found.get((key, finding))
            if entry is None:
                entry = found[(key, finding)] = {"name": name, "classes": [], "holders": set(), "finding": finding}
                order.append((key, finding))
            if cls not in entry["classes"]:
                entry["classes"].append(cls)
            entry["holders"].update(holders)

    for cls in plan.classes:
        baseline = cls.baseline
        for policy in baseline.managed_policies:
            if policy.kind != "managed":
                continue  # a boundary is a ceiling, not a grant
            holders = [f"group {g.name}" for g in baseline.groups if any(
                ref.kind == "local" and ref.name == policy.key for ref in g.policies)]
            holders += [f"role {r.name}" for r in baseline.roles if any(
                ref.kind == "local" and ref.name == policy.key for ref in r.policies)]
            add(policy.key, policy.name, policy.document, cls.key, holders)
        for role in baseline.roles:
            if role.name == plan.org.break_glass_role:
                continue  # administrator by design
            for name, document in role.inline_policies:
                add(f"{role.key}/{name}", f"{role.name}/{name}", document, cls.key, [f"role {role.name}"])
    return [PlanRisk(found[k]["finding"], k[0], found[k]["name"], tuple(found[k]["classes"]),
                     tuple(sorted(found[k]["holders"]))) for k in order]


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
    return [(name, tuple(sorted(h))) for name, h in sorted(holders.items())]


# ----------------------------------------------------------------------------- acceptance


@dataclass(frozen=True)
class AcceptedRisk:
    """A job function's declaration that it carries a risk on purpose (``accept_risks`` entry)."""

    risk: str  # a rule id ("privilege-escalation/pass-role-unscoped") or a category ("data-exfiltration")
    reason: str
    owner: str
    review_by: date
    origin: str = field(default="", compare=False)  # blueprint "file:line:col" of the declaration

    def covers(self, finding: RiskFinding) -> bool:
        return self.risk in (finding.rule, finding.category)

    def expired(self, today: date) -> bool:
        return today > self.review_by


def unaccepted(findings: Iterable[PlanRisk], accepted: Mapping[str, Sequence[AcceptedRisk]], today: date
               ) -> tuple[list[PlanRisk], list[tuple[PlanRisk, AcceptedRisk]], list[tuple[PlanRisk, AcceptedRisk]]]:
    """Split unmitigated findings into (errors, accepted, expired).

    ``accepted`` maps a policy key (``job_workload_admin``) or policy name (``guardrails-workload-admin``)
    to its declarations. ``accepted`` holds every declared finding with the declaration that covers it,
    including those past review; ``expired`` is the subset whose ``review_by`` is before ``today``
    (still accepted: a warning, not an error). Mitigated findings need no declaration and appear nowhere.
    """
    errors: list[PlanRisk] = []
    ok: list[tuple[PlanRisk, AcceptedRisk]] = []
    expired: list[tuple[PlanRisk, AcceptedRisk]] = []
    for risk in findings:
        if risk.finding.mitigated:
            continue
        declared = [a for k in dict.fromkeys((risk.policy_key, risk.policy_name)) for a in accepted.get(k, ())
                    if a.covers(risk.finding)]
        if not declared:
            errors.append(risk)
            continue
        current = [a for a in declared if not a.expired(today)]
        chosen = (current or declared)[0]
        ok.append((risk, chosen))
        if chosen.expired(today):
            expired.append((risk, chosen))
    return errors, ok, expired


def unused_acceptances(findings: Iterable[PlanRisk], accepted: Mapping[str, Sequence[AcceptedRisk]]
                       ) -> list[tuple[str, AcceptedRisk]]:
    """Declarations that cover no unmitigated finding of their policy (stale: worth a GR320 warning)."""
    open_ = [r for r in findings if not r.finding.mitigated]
    return [(key, a) for key, declared in accepted.items() for a in declared
            if not any(key in (r.policy_key, r.policy_name) and a.covers(r.finding) for r in open_)]


def declaration_diagnostics(accepted: Mapping[str, Sequence[AcceptedRisk]]) -> list[Diagnostic]:
    """GR203 for a declaration whose ``risk`` is neither a rule id nor a category (with a suggestion)."""
    known = sorted(known_risks())
    out = []
    for declared in accepted.values():
        for a in declared:
            if a.risk in known:
                continue
            close = difflib.get_close_matches(a.risk, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            out.append(Diagnostic.of("GR203", f"accept_risks names unknown risk {a.risk!r}", Location.parse(a.origin),
                                     hint + "use a rule id from guardrails/data/risks.yaml or one of the categories "
                                     + ", ".join(CATEGORIES)))
    return out


# ----------------------------------------------------------------------------- reporting


def _preview(actions: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(actions[:limit])
    return shown + (f" and {len(actions) - limit} more" if len(actions) > limit else "")


def risk_diagnostics(errors: Iterable[PlanRisk], expired: Iterable[tuple[PlanRisk, AcceptedRisk]]) -> list[Diagnostic]:
    """GR315 for each undeclared finding, GR321 for each declaration past its review date."""
    out: list[Diagnostic] = []
    for risk in errors:
        f = risk.finding
        hint = ("narrow the grant as above, or declare it on the job function: "
                f"accept_risks: [{{risk: {f.rule}, reason: ..., owner: ..., review_by: YYYY-MM-DD}}]")
        out.append(Diagnostic.of(
            "GR315", f"policy {risk.policy_name}, statement {f.sid}: {f.title} ({f.rule}): "
                     f"{_preview(f.actions)}; {f.reason}", risk.location, hint))
    seen: set[tuple[str, AcceptedRisk]] = set()
    for risk, declaration in expired:
        if (risk.policy_key, declaration) in seen:
            continue
        seen.add((risk.policy_key, declaration))
        out.append(Diagnostic.of(
            "GR321", f"accepted risk {declaration.risk} on policy {risk.policy_name} was due for review on "
                     f"{declaration.review_by.isoformat()} (owner {declaration.owner})",
            Location.parse(declaration.origin) or risk.location,
            "review the grant with its owner; then narrow it, or move review_by forward"))
    return out


def summary_lines(accepted: Iterable[tuple[PlanRisk, AcceptedRisk]], today: date | None = None) -> list[str]:
    """One line per (policy, declaration) for the build summary: what is accepted, why, by whom, until when."""
    grouped: dict[tuple[str, AcceptedRisk], list[str]] = {}
    for risk, declaration in accepted:
        rules = grouped.setdefault((risk.policy_name, declaration), [])
        if risk.finding.rule not in rules:
            rules.append(risk.finding.rule)
    lines = []
    for (policy, declaration), rule_ids in grouped.items():
        late = " (review overdue)" if today and declaration.expired(today) else ""
        lines.append(f"{policy}: accepts {', '.join(rule_ids)} — {declaration.reason} "
                     f"[owner {declaration.owner}, review by {declaration.review_by.isoformat()}{late}]")
    return lines


def declared_rules(documents: Iterable[PolicyDocument], declared: Iterable[str]) -> tuple[str, ...]:
    """Rule ids of the unmitigated findings in ``documents`` that a declaration (rule id or category, as in
    ``accept_risks``) covers, sorted: what a job function keeps on purpose, for the least-privilege report."""
    wanted = set(declared)
    if not wanted:
        return ()
    return tuple(sorted({f.rule for document in documents for f in analyze(document)
                         if not f.mitigated and (f.rule in wanted or f.category in wanted)}))
