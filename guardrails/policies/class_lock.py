"""``classes.lock.json``: the names of the baseline classes, pinned (docs/accounts.md, "Class names").

A class's name is in its policy files, its Terraform module directory and its CloudFormation StackSet, and a
StackSet cannot be renamed: a new name deletes the old StackSet with its stack instances (and the roles they hold)
and creates another. So a name, once given, stays: the lock records every class with the accounts it held at the
last build, and each class of the next build keeps the locked name of the class its accounts held (the most of
them; ties by name). Accounts that are added, moved or given their id never rename a class that still holds the
accounts it had; only a class holding none of the locked accounts gets a new name.

The build writes the lock beside the blueprint (like Terraform's ``.terraform.lock.hcl``) and ``build --check``
reports it stale; commit it. Renaming a class on purpose is an edit of this file, and ``guardrails diff`` shows
what the rename replaces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guardrails.diagnostics import BlueprintError, Diagnostic, GuardrailsError, Location

LOCK_FILE = "classes.lock.json"
LOCK_FORMAT = "guardrails-classes/1"
# Used in file and directory names and in StackSet names (guardrails-baseline-<name>, at most 128 characters:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_FRESH = 60  # a new name's length before a "-2" that keeps it unique
STACKSET_PREFIX = "guardrails-baseline-"
_COMMENT = ("Names of the baseline classes (Terraform modules, CloudFormation StackSets, policy folders), pinned so "
            "that adding, moving or identifying accounts never renames a class: written by `guardrails build`; "
            "commit it. Renaming a class replaces its StackSet: edit a name here only on purpose, and read "
            "`guardrails diff` (docs/accounts.md, Class names).")


def stackset_name(key: str) -> str:
    """The StackSet of a member class (``StackSetName`` in stacksets.yaml); its stack instances are named
    ``StackSet-<name>-<id>`` in each account."""
    return f"{STACKSET_PREFIX}{key}"


@dataclass(frozen=True)
class ClassLock:
    """The locked classes: name → the accounts the class held when the lock was written."""

    classes: Mapping[str, frozenset[str]]


def read_lock(directory: Path, display_name: str) -> ClassLock | None:
    """The blueprint's lock, or None without one; a BlueprintError (GR313) names what is wrong with it."""
    path = directory / LOCK_FILE
    if not path.is_file():
        return None
    where = Location(f"{display_name}/{LOCK_FILE}")

    def fail(why: str) -> BlueprintError:
        return BlueprintError([Diagnostic.of(
            "GR313", f"{LOCK_FILE} cannot be read: {why}", where,
            "fix the entry, or remove the file and build again (new names then follow the rules of "
            "docs/accounts.md, and `guardrails diff` shows any class that changes its name)")])

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise fail(str(exc)) from exc
    if not isinstance(raw, dict) or raw.get("format") != LOCK_FORMAT or not isinstance(raw.get("classes"), dict):
        raise fail(f'expected an object with "format": "{LOCK_FORMAT}" and "classes"')
    classes: dict[str, frozenset[str]] = {}
    holder: dict[str, str] = {}
    for name, accounts in raw["classes"].items():
        if not NAME.match(name):
            raise fail(f"class name {name!r} is not lower-case letters, digits and inner hyphens (at most 64)")
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise fail(f"class {name!r}: expected a list of account names")
        for account in accounts:
            if account in holder:
                raise fail(f"account {account!r} is in classes {holder[account]!r} and {name!r}")
            holder[account] = name
        classes[name] = frozenset(accounts)
    return ClassLock(classes)


def assign_names(groups: Sequence[Sequence[str]], lock: ClassLock | None,
                 fresh: Callable[[Sequence[str]], str]) -> list[str]:
    """One name per group of accounts: the locked name of the class most of its accounts held, else ``fresh``.

    Greedy on the overlap (largest first, then the name, then the group's first account), so when a class splits
    the larger part keeps the name, and when two merge the merged class keeps the name of the larger one. A new
    name avoids every locked name: a retired StackSet name is never reused for other accounts in the same change.
    """
    locked = dict(lock.classes) if lock else {}
    names: dict[int, str] = {}
    pairs = sorted(((len(set(group) & members), name, index) for index, group in enumerate(groups)
                    for name, members in locked.items() if set(group) & members),
                   key=lambda p: (-p[0], p[1], groups[p[2]][0]))
    for _, name, index in pairs:
        if index not in names and name not in names.values():
            names[index] = name
    used = set(locked) | set(names.values())
    for index, group in enumerate(groups):
        if index in names:
            continue
        base = fresh(group)[:MAX_FRESH].strip("-") or "class"
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[index] = name
    return [names[i] for i in range(len(groups))]


def lock_text(classes: Mapping[str, Sequence[str]]) -> str:
    """The lock for the classes of a build (name → accounts), as the build writes it."""
    body = {"comment": _COMMENT, "format": LOCK_FORMAT,
            "classes": {name: sorted(accounts) for name, accounts in sorted(classes.items())}}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def stale_lock(directory: Path, classes: Mapping[str, Sequence[str]]) -> str | None:
    """The lock a build of these classes writes, or None when the blueprint's lock already says exactly that."""
    text = lock_text(classes)
    path = directory / LOCK_FILE
    try:
        return None if path.read_text(encoding="utf-8") == text else text
    except (OSError, UnicodeDecodeError):
        return text


def seed_lock(directory: Path, output: Path) -> None:
    """Without a class-name lock, pin the names ``output`` already deploys (its manifest), so that the first build
    with the lock (an upgrade, or naming rules that changed) renames nothing; no readable manifest, no seed."""
    from guardrails.blueprint.edit import write_atomically  # ruamel: only a build writes the lock
    from guardrails.iam.manifest import MANIFEST, Manifest

    if (directory / LOCK_FILE).exists() or not (output / MANIFEST).is_file():
        return
    try:
        manifest = Manifest.from_json((output / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, GuardrailsError):
        return  # not a tree this version reads: the build names the classes by the rules
    classes = {c.key: c.accounts for c in manifest.classes}
    if classes and all(NAME.match(key) for key in classes):
        write_atomically(directory / LOCK_FILE, lock_text(classes))


def write_lock(directory: Path, classes: Mapping[str, Sequence[str]]) -> str:
    """Pin the class names of a build that was swapped in (docs/accounts.md); the path written, or ""."""
    from guardrails.blueprint.edit import write_atomically

    text = stale_lock(directory, classes)
    if text is None:
        return ""
    write_atomically(directory / LOCK_FILE, text)
    return str(directory / LOCK_FILE)
