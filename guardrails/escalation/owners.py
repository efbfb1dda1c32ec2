"""The owners of the controls a blueprint names (``security.control_owners``, docs/escalation.md): a principal, the
controls it owns (all when none are listed) and why; checked against the controls of
``guardrails/data/escalation_methods.yaml`` and the principals the blueprint defines.

A principal is written the way :func:`guardrails.escalation.controls.is_owner` matches it: ``role/NAME`` or a bare
``NAME`` (a role), ``role/PATH/NAME`` (the role's path without its slashes around), ``permission-set/NAME`` (the
Identity Center sessions of a permission set); ``*`` and ``?`` are wildcards, as in IAM. IAM users and groups cannot
own controls: long-lived credentials are what the controls watch (CIS 1.15, 1.16).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from guardrails.diagnostics import BlueprintError, Diagnostic, Location
from guardrails.escalation.catalog import catalog
from guardrails.iam.actions import wildcard_matches

# Families of controls, for an owner of a whole subsystem; each expands to its control ids.
FAMILIES: dict[str, tuple[str, ...]] = {
    "alerts": ("alert-rules", "alert-topic", "alert-subscription", "alert-key"),
    "log-archive": ("log-bucket", "log-objects", "log-key"),
    "config": ("config-recorder", "config-rules"),
}
KINDS = ("role", "permission-set")
_CHAR = r"[\w+=,.@*?-]"
_ROLE = re.compile(rf"(?:{_CHAR}+/)*{_CHAR}{{1,64}}")  # IAM: a name of at most 64 characters under its path
_PERMISSION_SET = re.compile(rf"{_CHAR}{{1,32}}")  # Identity Center: name ≤ 32


@dataclass(frozen=True)
class Owner:
    """A principal that owns some controls (``controls`` empty: every control)."""

    principal: str  # role/NAME, role/PATH/NAME or permission-set/NAME, wildcards allowed
    controls: tuple[str, ...] = ()  # control ids (families expanded)
    reason: str = ""
    origin: str = ""  # where the blueprint names it (file:line:column)

    @property
    def everything(self) -> bool:
        return not self.controls

    def owns(self, control: str) -> bool:
        return self.everything or control in self.controls


@dataclass(frozen=True)
class Problem:
    """What is wrong with an entry: ``path`` below ``security.control_owners``, e.g. ``(0, "principal")``."""

    path: tuple[str | int, ...]
    code: str
    message: str
    hint: str


def normalized(principal: str) -> str:
    """The principal with its kind: a bare name (or ``PATH/NAME``) is a role."""
    kind = principal.split("/", 1)[0]
    return principal if "/" in principal and kind in (*KINDS, "user", "group") else f"role/{principal}"


def as_owner(entry: str | Owner) -> Owner:
    """An owner of everything for a bare pattern (``analyze_escalation(owners=["role/X"])``)."""
    if isinstance(entry, Owner):
        return Owner(normalized(entry.principal), expand(entry.controls), entry.reason, entry.origin)
    return Owner(normalized(entry))


def expand(controls: Iterable[str]) -> tuple[str, ...]:
    """Control ids, families replaced by their members, in the catalog's order."""
    wanted = {c for name in controls for c in FAMILIES.get(name, (name,))}
    return tuple(c.id for c in catalog().controls if c.id in wanted)


def control_names() -> tuple[str, ...]:
    """What ``controls`` may list: the catalog's control ids and the families."""
    return (*(c.id for c in catalog().controls), *FAMILIES)


def blueprint_owners(entries: Sequence[tuple[str, Sequence[str] | None, str]], *, roles: Iterable[tuple[str, str]],
                     role_patterns: Iterable[str], permission_sets: Iterable[str],
                     where: Callable[..., Location]) -> list[Owner]:
    """The blueprint's entries (principal, controls or None for all, reason) as owners for the analysis, checked
    (:func:`check`); a BlueprintError lists every problem, located by ``where(*path below control_owners)``."""
    problems = check([(principal, controls) for principal, controls, _ in entries], roles=roles,
                     role_patterns=role_patterns, permission_sets=permission_sets)
    if problems:
        raise BlueprintError([Diagnostic.of(p.code, p.message, where(*p.path), p.hint) for p in problems])
    return [Owner(principal, tuple(controls or ()), " ".join(reason.split()), str(where(index)))
            for index, (principal, controls, reason) in enumerate(entries)]


def check(entries: Sequence[tuple[str, Sequence[str] | None]], *, roles: Iterable[tuple[str, str]],
          role_patterns: Iterable[str] = (), permission_sets: Iterable[str] = ()) -> list[Problem]:
    """Problems of the blueprint's entries (principal, controls or None for all). ``roles``: the (path, name) of every
    role the blueprint defines; ``role_patterns``: names it gives as patterns (the deployment principals), accepted
    as written; ``permission_sets``: the names of its permission sets."""
    defined = [(path.strip("/") + "/" if path.strip("/") else "", name) for path, name in roles]
    written = {normalized(p).lower() for p in role_patterns}
    sets = sorted(permission_sets)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, (principal, controls) in enumerate(entries):
        at = (index, "principal")
        found = _principal_problem(principal, defined, written, sets)
        if found is not None:
            problems.append(Problem(at, *found))
        key = normalized(principal).lower()
        if key in seen:
            problems.append(Problem(at, "GR302", f"{principal!r} is named twice (first in entry {seen[key] + 1})",
                                    "keep one entry per principal, with every control it owns in its `controls`"))
        seen.setdefault(key, index)
        known = control_names()
        for position, name in enumerate(controls or ()):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}`?" if close else (
                    "name controls of docs/escalation.md: " + ", ".join(known))
                problems.append(Problem((index, "controls", position), "GR301", f"unknown control {name!r}", hint))
    return problems


def _principal_problem(principal: str, defined: list[tuple[str, str]], written: set[str],
                       sets: list[str]) -> tuple[str, str, str] | None:
    """(code, message, hint) of a principal that is malformed or names nothing the blueprint defines."""
    full = normalized(principal)
    kind, _, pattern = full.partition("/")
    form = ("write `role/NAME`, `role/PATH/NAME` (the role's path without its leading and trailing slash, e.g. "
            "`role/security/AlertsOperator`) or `permission-set/NAME`; * and ? are wildcards")
    if kind in ("user", "group"):
        return ("GR203", f"{principal!r}: IAM {kind}s cannot own the controls",
                "name the role (or permission set) the people who own them use; long-lived credentials are what the "
                "controls watch")
    grammar = _PERMISSION_SET if kind == "permission-set" else _ROLE
    if grammar.fullmatch(pattern) is None:
        return "GR203", f"{principal!r} is not a {kind} name or pattern", form
    if not pattern.strip("*?/"):
        return ("GR311", f"{principal!r} names every {kind}: no one would be checked",
                "name the few principals that own the controls")
    if kind == "permission-set":
        if not any(wildcard_matches(pattern, name) for name in sets):
            return "GR301", f"unknown permission set {pattern!r}", _hint(pattern, sets,
                                                                          "name one of identity_center.permission_sets")
        return None
    if full.lower() in written or any(wildcard_matches(pattern, name) or wildcard_matches(pattern, path + name)
                                      for path, name in defined):
        return None
    return ("GR301", f"no role of the blueprint is named {pattern!r}",
            _hint(pattern, list(dict.fromkeys([*(n for _, n in defined), *(p + n for p, n in defined if p)])),
                  "name a role of `roles:` (by its name, or PATH/NAME), the break-glass role or a deployment role"))


def _hint(name: str, candidates: list[str], otherwise: str) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else otherwise
