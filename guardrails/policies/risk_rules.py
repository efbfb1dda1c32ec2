"""The risk rules (``guardrails/data/risks.yaml``) as values, and the concrete actions each one concerns.

Actions are expanded against the pinned IAM database, so a rule naming ``iam:Put*`` concerns every action that
pattern matches today, and a literal unknown to the database still stands for itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from guardrails.data.fast_yaml import safe_load
from guardrails.iam.actions import any_action_matches, has_wildcard, iam_database

CATEGORIES = ("privilege-escalation", "credentials-exposure", "data-exfiltration", "resource-exposure")
PASS_ROLE = "iam:PassRole"


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
    raw = safe_load(text)
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


def concrete_actions(pattern: str) -> list[str]:
    """The actions (AWS spelling) a pattern names; a literal unknown to the database stands for itself."""
    names = [info.full_name for info in iam_database().expand(pattern)]
    if not names and not has_wildcard(pattern):
        names = [pattern]
    return names


@cache
def rule_actions(rule: RiskRule) -> tuple[tuple[str, str], ...]:
    """(lowercased, AWS spelling) of every concrete action a rule concerns."""
    db = iam_database()
    found = {name.lower(): name for pattern in rule.actions for name in concrete_actions(pattern)}
    if rule.access_levels:
        for service in db.services_by_prefix.values():
            for info in service.actions.values():
                if info.access_level in rule.access_levels:
                    found[info.full_name.lower()] = info.full_name
    if rule.except_:
        found = {k: v for k, v in found.items() if not any_action_matches(rule.except_, k)}
    return tuple(sorted(found.items()))
