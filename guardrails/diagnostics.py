"""Located, coded diagnostics and the exception types that carry them.

Every problem the tool reports is a :class:`Diagnostic` with a stable code from
``guardrails/data/diagnostics.yaml``; code refers to codes by id only, and an unknown
id is a programming error caught by the tests.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml


class Severity(enum.Enum):
    """An error stops the run (nothing is written); a warning is printed and the run goes on."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a blueprint file (1-based line and column), or a generated file."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file

    @classmethod
    def parse(cls, origin: str) -> Location | None:
        """A ``file:line:col`` origin (as the plan records it) as a Location; None for catalog ids and ``""``."""
        match = _ORIGIN.fullmatch(origin)
        if match is None:
            return None
        return cls(match["file"], int(match["line"]), int(match["column"]))


_ORIGIN = re.compile(r"(?P<file>.+):(?P<line>\d+):(?P<column>\d+)")


@dataclass(frozen=True)
class CodeInfo:
    code: str
    title: str
    severity: Severity
    hint: str = ""  # what to do, when the finding itself brings no more specific hint
    acceptable: bool = False  # the blueprint's `accepted_warnings` may take it, with a reason (docs/validation.md)


@cache
def code_catalog() -> dict[str, CodeInfo]:
    """All diagnostic codes, from the package data file."""
    text = resources.files("guardrails.data").joinpath("diagnostics.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return {
        code: CodeInfo(code=code, title=entry["title"], severity=Severity(entry["severity"]),
                       hint=entry.get("hint", ""), acceptable=bool(entry.get("acceptable", False)))
        for code, entry in raw.items()
    }


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, which code, what is wrong and what to do."""

    code: str
    message: str
    location: Location | None = None
    hint: str = ""
    severity: Severity = field(default=Severity.ERROR)

    @classmethod
    def of(cls, code: str, message: str, location: Location | None = None, hint: str = "") -> Diagnostic:
        """Build a diagnostic whose severity (and, without a specific ``hint``, hint) comes from the code catalog."""
        info = code_catalog().get(code)
        if info is None:
            raise KeyError(f"unknown diagnostic code {code!r}; add it to guardrails/data/diagnostics.yaml")
        return cls(code=code, message=message, location=location, hint=hint or info.hint, severity=info.severity)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location or Location("")
        return (loc.file, loc.line, loc.column, self.code, self.message)

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity.value} {self.code}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class GuardrailsError(Exception):
    """Base of every error meant for the user; ``str()`` is the message to show."""

    exit_code = 3


class BlueprintError(GuardrailsError):
    """The blueprint is invalid; carries every diagnostic found, not just the first."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(f"{len(self.diagnostics)} blueprint error(s)")


class ValidationFailed(GuardrailsError):
    """Generated output failed validation (own checks, cfn-lint or checkov)."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic], rejected: object = None) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.rejected = rejected  # where the rejected tree was kept, if anywhere
        super().__init__(f"{len(self.diagnostics)} validation finding(s)")


class ToolError(GuardrailsError):
    """An external tool (checkov, cfn-lint, the formatter) is missing or crashed."""

    exit_code = 3
