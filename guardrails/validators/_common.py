"""Helpers shared by the validators: locations, fail-closed wrapping, de-duplication."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from guardrails.diagnostics import Diagnostic, Location


def location_from_origin(origin: str) -> Location | None:
    """A ``file:line:col`` origin as a Location; None for catalog ids and empty origins."""
    return Location.parse(origin)


def guarded(name: str, run: Callable[[], Iterable[Diagnostic]]) -> list[Diagnostic]:
    """Run one check; if it raises, report GR901 instead of passing silently (fail closed)."""
    try:
        return list(run())
    except Exception as exc:  # noqa: BLE001 - any crash must become a finding, never a pass
        return [Diagnostic.of(
            "GR901", f"check {name!r} crashed: {type(exc).__name__}: {exc}",
            hint="this is a bug in guardrails, not in the blueprint; please report it with the blueprint attached")]


def unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Drop exact repeats (the same finding in several baseline classes), keeping the first."""
    seen: set[tuple[str, Location | None, str, str]] = set()
    result: list[Diagnostic] = []
    for diagnostic in diagnostics:
        key = (diagnostic.code, diagnostic.location, diagnostic.message, diagnostic.hint)
        if key not in seen:
            seen.add(key)
            result.append(diagnostic)
    return result


def shorten(text: str, limit: int = 300) -> str:
    """Cut long tool messages (cfn-lint lists every valid action name) to a readable length."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
