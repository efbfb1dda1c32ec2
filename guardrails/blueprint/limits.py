"""How much YAML guardrails reads: bounded work for any input, each limit a located GR107 before the expensive part.

The example blueprint is about 40 KB in five files, nested at most a dozen levels; the limits leave a large
organization far below them while refusing a file that would take minutes and gigabytes to parse (the YAML parser
takes seconds per megabyte) and an alias "bomb" (anchors of anchors, each alias copying the whole previous level:
nine levels of ten give a thousand million values from one kilobyte).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from guardrails.diagnostics import Diagnostic, Location

MAX_FILES = 200                       # YAML files in one blueprint folder
MAX_FILE_BYTES = 2 * 1024 * 1024      # one file
MAX_TOTAL_BYTES = 4 * 1024 * 1024     # all files together
MAX_DEPTH = 64                        # nested mappings and lists (Python recursion stays far from its limit)
MAX_ALIAS_VALUES = 10_000             # values that aliases (`*name`) add by copying an anchored node, all files


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass
class Budget:
    """What the files of one blueprint have used so far."""

    bytes_read: int = 0
    alias_values: int = 0


def read_limited(file: Path, shown: str, budget: Budget, diagnostics: list[Diagnostic]) -> bytes | None:
    """The file's bytes, or None with a located error when it is too large or unreadable.

    The size is checked before anything is parsed, and the read itself is bounded (the file may grow meanwhile).
    """
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
            size = len(raw) if len(raw) <= MAX_FILE_BYTES else max(file.stat().st_size, len(raw))
    except OSError as exc:
        diagnostics.append(Diagnostic.of("GR100", f"cannot read the file: {exc.strerror or exc}", Location(shown, 1, 1),
                                         "check the file's permissions (guardrails only reads the blueprint)"))
        return None
    if size > MAX_FILE_BYTES:
        diagnostics.append(Diagnostic.of(
            "GR107", f"the file is {megabytes(size)}; a blueprint file may hold at most {megabytes(MAX_FILE_BYTES)}",
            Location(shown, 1, 1), "split it into several files (sections such as `tests` and `job_functions` may be "
            "spread over files), or remove what was generated into it by mistake"))
        return None
    budget.bytes_read += size
    if budget.bytes_read > MAX_TOTAL_BYTES:
        if budget.bytes_read - size > MAX_TOTAL_BYTES:  # reported at the file that crossed the limit
            return None
        diagnostics.append(Diagnostic.of(
            "GR107", f"the blueprint's files reach {megabytes(budget.bytes_read)} with this one; a blueprint may hold "
            f"at most {megabytes(MAX_TOTAL_BYTES)} of YAML", Location(shown, 1, 1),
            "keep only blueprint files (*.yaml, *.yml) in the folder; split a very large organization into blueprints"))
        return None
    return raw


def too_many_files(shown_files: list[str], shown_dir: str) -> Diagnostic | None:
    """GR107, at the first file past the limit, when the folder holds more YAML files than a blueprint may."""
    if len(shown_files) <= MAX_FILES:
        return None
    return Diagnostic.of("GR107", f"{len(shown_files)} YAML files in {shown_dir!r}; a blueprint may have at most "
                         f"{MAX_FILES}", Location(shown_files[MAX_FILES], 1, 1),
                         "keep only the blueprint's own files in its folder")
