"""Validate distinct content once: account root modules of one class, and identical templates, share one check.

checkov's cost is expanding the baseline module once per account root module (``terraform/accounts/<name>/``), and
a class's account root modules differ only in the account's own values. The **shape rule**: an account's root
module is *identical in shape* to its class's representative when

- both folders hold the same file names, and
- each file, with every occurrence of the account's own id, name and email replaced by a placeholder (one pass,
  longest value first), is byte-identical to the representative's file normalized the same way with the
  representative's values — and neither original text contains a placeholder or a newline in a value.

Then the account's file *is* the representative's with the representative's values swapped for the account's, line
for line, so each finding on the representative holds at the same line of the account's file. Anything else — a
file more or less, one other byte, a folder that belongs to no class — is validated on its own: nothing is skipped
without a proof. CloudFormation templates are deduplicated only when byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from guardrails.diagnostics import Diagnostic
from guardrails.policies.ir import Plan

ACCOUNTS = PurePosixPath("terraform/accounts")
PLACEHOLDERS = {"id": "\x00guardrails:account-id\x00", "name": "\x00guardrails:account-name\x00",
                "email": "\x00guardrails:account-email\x00"}


@dataclass(frozen=True)
class Coverage:
    """What the external tools see, and which file stands for which."""

    validated: tuple[str, ...]  # paths (relative to the output) given to the tools
    # path of a file not given to the tools → path of the validated file it is proven equivalent to
    stands_for: Mapping[str, str] = field(default_factory=dict)
    representatives: tuple[str, ...] = ()  # account folders validated as their class's representative
    own_shape: tuple[str, ...] = ()  # account folders validated on their own (no class, or not identical in shape)
    covered_accounts: tuple[str, ...] = ()  # account folders proven identical in shape to their representative
    duplicate_templates: int = 0

    def expand(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """Each finding on a validated file, repeated at the same place of every file it stands for."""
        covered: dict[str, list[str]] = {}
        for path, target in self.stands_for.items():
            covered.setdefault(target, []).append(path)
        result: list[Diagnostic] = []
        for diagnostic in diagnostics:
            result.append(diagnostic)
            location = diagnostic.location
            if location is None:
                continue
            for path in sorted(covered.get(location.file, ())):
                result.append(replace(diagnostic, location=replace(location, file=path)))
        return result


def plan_coverage(plan: Plan, files: Mapping[str, str]) -> Coverage:
    """Choose what to validate among ``files`` (output-relative path → text, terraform/ and cloudformation/ only)."""
    by_folder: dict[str, dict[str, str]] = {}
    validated: list[str] = []
    for path, text in files.items():
        folder = _account_folder(path)
        if folder is None:
            validated.append(path)
        else:
            by_folder.setdefault(folder, {})[PurePosixPath(path).relative_to(ACCOUNTS / folder).as_posix()] = text
    stands_for: dict[str, str] = {}
    representatives: list[str] = []
    own: list[str] = []
    covered: list[str] = []
    accounts = {a.name: a for a in plan.accounts}
    in_class: set[str] = set()
    for baseline_class in plan.classes:
        members = [name for name in baseline_class.accounts if name in by_folder and name in accounts]
        in_class.update(members)
        if not members:
            continue
        representative, *others = members
        representatives.append(representative)
        reference = _normalized(by_folder[representative], accounts[representative])
        for name in others:
            if reference is not None and _normalized(by_folder[name], accounts[name]) == reference:
                covered.append(name)
                for relative in by_folder[name]:
                    stands_for[(ACCOUNTS / name / relative).as_posix()] = (
                        ACCOUNTS / representative / relative).as_posix()
            else:
                own.append(name)
    own.extend(sorted(set(by_folder) - in_class))
    for folder in (*representatives, *own):
        validated.extend((ACCOUNTS / folder / relative).as_posix() for relative in by_folder[folder])
    validated, duplicates = _distinct_templates(validated, files, stands_for)
    return Coverage(tuple(sorted(validated)), stands_for, tuple(representatives), tuple(sorted(own)),
                    tuple(sorted(covered)), duplicates)


def stage(files: Mapping[str, Path], coverage: Coverage, target: Path) -> None:
    """Write the validated files (output path → file on disk) under ``target``, keeping their relative paths."""
    for path in coverage.validated:
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(files[path], destination)  # no copy where the file system allows it
        except OSError:
            shutil.copyfile(files[path], destination)


def _account_folder(path: str) -> str | None:
    """The account folder of ``terraform/accounts/<name>/<file>``; None for every other path."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 4 and PurePosixPath(*parts[:2]) == ACCOUNTS:
        return parts[2]
    return None


def _normalized(folder: Mapping[str, str], account: object) -> dict[str, str] | None:
    """The folder's files with the account's own values replaced by placeholders; None when that is not invertible."""
    values = {key: str(getattr(account, key, "") or "") for key in PLACEHOLDERS}
    values = {key: value for key, value in values.items() if value}
    if any("\n" in value or "\x00" in value for value in values.values()):
        return None
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values.values(), key=len, reverse=True))) \
        if values else None
    token = {value: PLACEHOLDERS[key] for key, value in values.items()}
    result: dict[str, str] = {}
    for relative, text in folder.items():
        if "\x00" in text:
            return None  # a placeholder could not be told from the text
        result[relative] = pattern.sub(lambda m: token[m.group(0)], text) if pattern else text
    return result


def _distinct_templates(validated: list[str], files: Mapping[str, str],
                        stands_for: dict[str, str]) -> tuple[list[str], int]:
    """Keep one of each set of byte-identical CloudFormation templates; the others stand for it."""
    first: dict[str, str] = {}
    kept: list[str] = []
    duplicates = 0
    for path in sorted(validated):
        if not path.startswith("cloudformation/"):
            kept.append(path)
            continue
        digest = hashlib.sha256(files[path].encode("utf-8")).hexdigest()
        if digest in first:
            stands_for[path] = first[digest]
            duplicates += 1
        else:
            first[digest] = path
            kept.append(path)
    return kept, duplicates


def describe(coverage: Coverage) -> str:
    """What the external tools saw, for the summary line."""
    modules = {PurePosixPath(p).parts[2] for p in coverage.validated if p.startswith("terraform/modules/")
               and len(PurePosixPath(p).parts) > 3}
    roots = {PurePosixPath(p).parts[1] for p in coverage.validated if p.startswith("terraform/")
             and not p.startswith(("terraform/modules/", "terraform/accounts/")) and len(PurePosixPath(p).parts) > 2}
    templates = sum(1 for p in coverage.validated if p.startswith("cloudformation/"))
    text = (f"{len(coverage.representatives)} account root modules (1 per class)"
            f" + {len(coverage.own_shape)} on their own + {len(roots)} other root modules + {len(modules)} modules"
            f" + {templates} templates; {len(coverage.covered_accounts)} account root modules identical in shape to "
            "their class's")
    if coverage.duplicate_templates:
        text += f", {coverage.duplicate_templates} templates identical to another"
    return text
