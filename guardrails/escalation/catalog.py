"""The escalation methods, reach probes and controls of ``guardrails/data/escalation_methods.yaml``, loaded and
checked: every kind, target and source is known and every action is in the pinned IAM action database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import GuardrailsError
from guardrails.iam.actions import iam_database

DATA = "escalation_methods.yaml"
KINDS = ("assume-role", "pass-role-to-compute", "change-policies", "change-trust", "change-boundary", "credentials",
         "group-membership", "edit-code", "create-role")
TARGETS = ("roles", "roles-trusting", "roles-with-boundary", "principals", "attached-policies", "boundary-policies",
           "users", "groups", "functions", "new-role")
GIVES = ("target", "administrator", "unbounded")
CONTROL_TARGETS = ("trail", "config-recorder", "config-rules", "alert-rules", "alert-topic", "alert-subscription",
                   "alert-key", "log-bucket", "log-objects", "log-key", "analyzer", "guardrail-roles",
                   "guardrail-policies", "boundaries", "functions", "organization-policies")


class CatalogError(GuardrailsError):
    """The escalation data file is malformed (a programming error of this package, caught by its tests)."""

    exit_code = 3


@dataclass(frozen=True)
class Method:
    """One way of becoming another principal."""

    id: str
    kind: str
    description: str
    all_of: tuple[str, ...]
    any_of: tuple[str, ...]
    target: str
    target_actions: tuple[str, ...]
    gives: str
    sources: tuple[str, ...]
    service: str = ""
    context: tuple[tuple[str, str], ...] = ()
    declared: bool = False
    risk: str = ""

    @property
    def actions(self) -> tuple[str, ...]:
        return (*self.all_of, *self.any_of)

    def own_actions(self) -> tuple[str, ...]:
        """Actions that act on a resource of their own (not the target): their resource comes from the caller."""
        return tuple(a for a in self.actions if a not in self.target_actions)


@dataclass(frozen=True)
class Reach:
    """A representative request for one capability (``what a principal can reach``)."""

    id: str
    title: str
    action: str
    resource: str  # ${partition}, ${account_id}, ${region} placeholders
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Control:
    """A detective or protective control and the requests that tamper with it."""

    id: str
    title: str
    target: str
    actions: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    methods: tuple[Method, ...]
    reach: tuple[Reach, ...]
    controls: tuple[Control, ...]
    sources: dict[str, str]

    def method(self, method_id: str) -> Method:
        return next(m for m in self.methods if m.id == method_id)

    def of_kind(self, kind: str) -> tuple[Method, ...]:
        return tuple(m for m in self.methods if m.kind == kind)

    @property
    def services(self) -> tuple[str, ...]:
        """The service principals the pass-role methods hand roles to."""
        return tuple(dict.fromkeys(m.service for m in self.methods if m.service))


@cache
def catalog() -> Catalog:
    """The checked catalog (read once)."""
    text = resources.files("guardrails.data").joinpath(DATA).read_text(encoding="utf-8")
    return parse(safe_load(text))


def parse(raw: Any) -> Catalog:
    """The catalog of a decoded data file; :class:`CatalogError` naming the first problem."""
    if not isinstance(raw, dict):
        raise CatalogError(f"{DATA}: the file must be a mapping")
    sources = {str(k): str(v) for k, v in (raw.get("sources") or {}).items()}
    methods = tuple(_method(entry, sources) for entry in raw.get("methods") or ())
    reach = tuple(Reach(str(e["id"]), str(e["title"]), _action(e["action"], e["id"]), str(e["resource"]),
                        _context(e.get("context"))) for e in raw.get("reach") or ())
    controls = tuple(_control(entry, sources) for entry in raw.get("controls") or ())
    for what, items in (("method", methods), ("reach", reach), ("control", controls)):
        ids = [i.id for i in items]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise CatalogError(f"{DATA}: {what} id(s) {', '.join(duplicated)} appear twice")
    return Catalog(methods, reach, controls, sources)


def _method(entry: dict[str, Any], sources: dict[str, str]) -> Method:
    where = f"{DATA}: method {entry.get('id')!r}"
    allowed = {"id", "kind", "description", "all_of", "any_of", "target", "target_actions", "gives", "service",
               "context", "declared", "risk", "sources"}
    unknown = set(entry) - allowed
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kind, target, gives = entry.get("kind"), entry.get("target"), entry.get("gives")
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if target not in TARGETS:
        raise CatalogError(f"{where}: target {target!r} is not one of {', '.join(TARGETS)}")
    if gives not in GIVES:
        raise CatalogError(f"{where}: gives {gives!r} is not one of {', '.join(GIVES)}")
    all_of = tuple(_action(a, entry["id"]) for a in entry.get("all_of") or ())
    any_of = tuple(_action(a, entry["id"]) for a in entry.get("any_of") or ())
    target_actions = tuple(_action(a, entry["id"]) for a in entry.get("target_actions") or ())
    if not all_of and not any_of:
        raise CatalogError(f"{where}: names no action")
    if not set(target_actions) <= {*all_of, *any_of}:
        raise CatalogError(f"{where}: target_actions must be among all_of/any_of")
    service = str(entry.get("service") or "")
    if (kind == "pass-role-to-compute") != bool(service) or (service and target != "roles-trusting"):
        raise CatalogError(f"{where}: pass-role-to-compute methods (and only they) name a service, with target "
                           "roles-trusting")
    cited = tuple(entry.get("sources") or ())
    missing = [s for s in cited if s not in sources]
    if not cited or missing:
        raise CatalogError(f"{where}: sources must name keys of `sources` (unknown: {', '.join(missing) or 'none'})")
    declared = bool(entry.get("declared", False))
    risk = str(entry.get("risk") or "")
    if not declared and not risk:
        raise CatalogError(f"{where}: an undeclared method names the risk rule that accepts it")
    return Method(str(entry["id"]), kind, " ".join(str(entry.get("description", "")).split()), all_of, any_of, target,
                  target_actions, gives, cited, service, _context(entry.get("context")), declared, risk)


def _control(entry: dict[str, Any], sources: dict[str, str]) -> Control:
    where = f"{DATA}: control {entry.get('id')!r}"
    if entry.get("target") not in CONTROL_TARGETS:
        raise CatalogError(f"{where}: target {entry.get('target')!r} is not one of {', '.join(CONTROL_TARGETS)}")
    cited = tuple(entry.get("sources") or ())
    if not cited or any(s not in sources for s in cited):
        raise CatalogError(f"{where}: sources must name keys of `sources`")
    actions = tuple(_action(a, entry["id"]) for a in entry.get("actions") or ())
    if not actions:
        raise CatalogError(f"{where}: names no action")
    return Control(str(entry["id"]), str(entry["title"]), str(entry["target"]), actions, cited)


def _action(name: Any, owner: Any) -> str:
    text = str(name)
    if iam_database().action(text) is None:
        raise CatalogError(f"{DATA}: {owner}: {text} is not in the pinned IAM action database")
    return text


def _context(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (raw or {}).items()))
