"""Edit a blueprint in place, keeping its comments, order and formatting (round-trip YAML with ruamel.yaml).

Used by ``guardrails account add|set-id|move``. Only the YAML file that holds ``organization`` is touched, and only
the account entry being added, changed or moved; every other line stays byte for byte as it was (the tests diff the
file). Callers compile the edited blueprint and put the old text back if it does not compile (:class:`Edit`).
Every write replaces the file whole (:func:`write_atomically`): a full disk or a crash never leaves half a file.
A request the blueprint cannot take (an unknown OU or account, a name used twice) is a located
:class:`~guardrails.diagnostics.BlueprintError` (exit 1), never a traceback.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from guardrails.blueprint.loader import display_path, yaml_files
from guardrails.diagnostics import BlueprintError, Diagnostic, Location, ToolError


def write_atomically(path: Path, text: str) -> None:
    """Replace the file's content with ``text``: a temporary file in the same folder, fsync, rename.

    On any failure (a full disk, a read-only folder) the file keeps its old bytes, the temporary file is removed
    and a :class:`ToolError` says so. A symbolic link stays a link: its target is replaced.
    """
    target = path.resolve()
    temporary: str | None = None
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
        _fsync_directory(target.parent)
    except OSError as exc:
        reason = f"{exc.strerror} (errno {exc.errno})" if exc.strerror else str(exc)
        raise ToolError(f"cannot write {display_path(path)}: {reason}; the file was not changed") from exc
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); best effort where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class Edit:
    """One file's text before and after an edit; :meth:`apply` writes it, :meth:`revert` puts the old text back.

    Both replace the file atomically; a failed :meth:`apply` leaves the file as it was (nothing to revert)."""

    path: Path
    before: str
    after: str

    def apply(self) -> None:
        write_atomically(self.path, self.after)

    def revert(self) -> None:
        write_atomically(self.path, self.before)


def organization_file(directory: Path) -> Path:
    """The blueprint file that defines ``organization`` (the loader guarantees there is exactly one)."""
    if not directory.is_dir():
        raise BlueprintError([Diagnostic.of("GR100", f"blueprint directory {display_path(directory)!r} does not exist",
                                            Location(display_path(directory)),
                                            "pass the folder that holds the blueprint's YAML files (-b DIR)")])
    for path in yaml_files(directory):
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            if line.startswith("organization:"):
                return path
    raise BlueprintError([Diagnostic.of("GR100", "no file defines `organization:` at the top level",
                                        Location(display_path(directory)),
                                        "the OU tree and its accounts live under `organization:` in one YAML file")])


@dataclass
class _Document:
    """The organization file read for a round-trip edit."""

    path: Path
    before: str
    yaml: YAML
    data: Any

    @property
    def organization(self) -> CommentedMap:
        return self.data["organization"]

    def edit(self) -> Edit:
        return Edit(self.path, self.before, _dump(self.yaml, self.data))

    def problem(self, code: str, message: str, node: Any = None, key: Any = None, item: int | None = None,
                hint: str = "") -> BlueprintError:
        """A located blueprint error at ``node`` (its ``key`` or list ``item``) of this file."""
        line = column = 0
        try:
            if node is not None:
                if key is not None:
                    line, column = node.lc.key(key)
                elif item is not None:
                    line, column = node.lc.item(item)
                else:
                    line, column = node.lc.line, node.lc.col
                line, column = line + 1, column + 1  # ruamel counts from 0
        except (AttributeError, KeyError, TypeError, IndexError):
            line = column = 0
        return BlueprintError([Diagnostic.of(code, message, Location(display_path(self.path), line, column), hint)])


def _read(directory: Path) -> _Document:
    """The organization file, decoded and parsed round-trip; reading problems are located blueprint errors."""
    path = organization_file(directory)
    shown = display_path(path)
    raw = path.read_bytes()
    try:
        before = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BlueprintError([Diagnostic.of("GR101", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                                            Location(shown, line, column),
                                            "save the file as UTF-8, the encoding YAML blueprints use")]) from exc
    try:
        yaml, data = _yaml(before)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(shown, mark.line + 1, mark.column + 1) if mark is not None else Location(shown)
        raise BlueprintError([Diagnostic.of("GR101", f"YAML the editor cannot read: {exc.problem or exc}", where,
                                            "`guardrails check` shows every problem of the blueprint; fix them "
                                            "first")]) from exc
    except (YAMLError, RecursionError, ValueError) as exc:
        raise BlueprintError([Diagnostic.of("GR101", f"YAML the editor cannot read: {type(exc).__name__}",
                                            Location(shown), "`guardrails check` shows every problem of the "
                                            "blueprint; fix them first")]) from exc
    document = _Document(path, before, yaml, data)
    if not isinstance(data, CommentedMap) or not isinstance(data.get("organization"), CommentedMap):
        raise document.problem("GR203", "`organization` is not a mapping", data if isinstance(data, CommentedMap)
                               else None, "organization" if isinstance(data, CommentedMap) else None,
                               hint="`guardrails check` shows every problem of the blueprint; fix them first")
    return document


def _yaml(text: str) -> tuple[YAML, Any]:
    """A round-trip loader set to the file's own indentation, and the loaded document."""
    # ruamel guesses the block-sequence layout ("- " offset and item indent); the mapping indent is that of the
    # first nested key, as the file writes it.
    _, sequence, offset = load_yaml_guess_indent(text)
    mapping = next((len(line) - len(line.lstrip(" ")) for line in text.splitlines()
                    if line.startswith(" ") and line.strip() and not line.lstrip().startswith(("#", "-"))), 2)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=mapping, sequence=sequence or mapping, offset=offset or 0)
    return yaml, yaml.load(text)


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _unit_paths(units: Any, prefix: str = "") -> list[str]:
    """Every OU path of the tree (``Workloads``, ``Workloads/Prod`` …), in file order."""
    found: list[str] = []
    for name, unit in (units.items() if isinstance(units, dict) else ()):
        found.append(f"{prefix}{name}")
        if isinstance(unit, dict):
            found += _unit_paths(unit.get("units"), f"{prefix}{name}/")
    return found


def _unit(document: _Document, path: str) -> CommentedMap:
    """The mapping of the OU at ``path`` (``Workloads/Prod``); an unknown path is GR301 with the known ones."""
    organization = document.organization
    node: Any = organization
    for segment in path.split("/"):
        units = node.get("units") if isinstance(node, dict) else None
        if not isinstance(units, dict) or segment not in units:
            known = _unit_paths(organization.get("units"))
            close = difflib.get_close_matches(path, known, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + (
                f"the OUs are: {', '.join(known)}" if known else "the blueprint has no OUs under organization.units")
            at = node if isinstance(node, CommentedMap) else organization  # the `units:` where it would be
            raise document.problem("GR301", f"no OU {path!r} in the blueprint (--ou must name an OU under "
                                   "organization.units)", at, "units" if isinstance(units, dict) else None, hint=hint)
        parent, node = units, units[segment]
        if node is None:  # an OU written as `Name:` with nothing under it
            units[segment] = node = CommentedMap()
        elif not isinstance(node, CommentedMap):
            raise document.problem("GR203", f"OU {segment!r} is not a mapping", parent, segment)
    return node


def _accounts_of(document: _Document, unit: CommentedMap) -> CommentedSeq:
    accounts = unit.get("accounts")
    if accounts is None:
        accounts = unit["accounts"] = CommentedSeq()
    if not isinstance(accounts, CommentedSeq):
        raise document.problem("GR203", "`accounts` of the OU is not a list", unit, "accounts")
    return accounts


def _account_names(units: Any) -> list[str]:
    names: list[str] = []
    for unit in (units.values() if isinstance(units, dict) else ()):
        if isinstance(unit, dict):
            accounts = unit.get("accounts")
            names += [str(e.get("name")) for e in (accounts if isinstance(accounts, list) else [])
                      if isinstance(e, dict) and e.get("name") is not None]
            names += _account_names(unit.get("units"))
    return names


def _find_account(organization: CommentedMap, name: str) -> tuple[CommentedSeq, int] | None:
    """The accounts list holding the member account ``name`` and its index, searching the whole OU tree."""
    def walk(units: Any) -> tuple[CommentedSeq, int] | None:
        for unit in (units.values() if isinstance(units, dict) else ()):
            if not isinstance(unit, dict):
                continue
            accounts = unit.get("accounts")
            for index, entry in enumerate(accounts if isinstance(accounts, list) else []):
                if isinstance(entry, dict) and entry.get("name") == name:
                    return accounts, index
            found = walk(unit.get("units"))
            if found:
                return found
        return None

    return walk(organization.get("units"))


def _member(document: _Document, name: str) -> tuple[CommentedSeq, int]:
    """The member account ``name``; an unknown name is GR301 with the closest one."""
    found = _find_account(document.organization, name)
    if found is None:
        names = _account_names(document.organization.get("units"))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            "member accounts: " + ", ".join(sorted(names)) if names else "the OUs have no member accounts")
        raise document.problem("GR301", f"no member account named {name!r}", document.organization.get("units"),
                               hint=hint)
    return found


def _new_entry(siblings: CommentedSeq, name: str, email: str, account_id: str | None) -> CommentedMap:
    """An account mapping written like its siblings: flow style (``{name: …, id: …}``) when they are."""
    entry = CommentedMap()
    entry["name"] = name
    if account_id is not None:
        entry["id"] = DoubleQuotedScalarString(account_id)  # a quoted string, never a number with lost zeros
    entry["email"] = email
    if account_id is not None:
        # An account with an id exists already: Terraform imports it (an aws_organizations_account created again
        # would fail on its email, which AWS allows once), CloudFormation lists it for an IMPORT change set.
        entry["existing"] = True
    flow = all(isinstance(s, CommentedMap) and s.fa.flow_style() for s in siblings) if siblings else True
    if flow:
        entry.fa.set_flow_style()
    return entry


def add_account(directory: Path, *, name: str, unit: str, email: str, account_id: str | None = None,
                note: str | None = None) -> Edit:
    """Append an account to the OU ``unit`` (its ``accounts`` list is created when missing); with ``account_id``
    the account exists already and is written ``existing: true``; ``note`` becomes an end-of-line comment on the
    new entry (e.g. where a quarantined account goes next)."""
    document = _read(directory)
    existing = _find_account(document.organization, name)
    if existing is not None:
        raise document.problem("GR302", f"the blueprint already has an account named {name!r}", existing[0],
                               item=existing[1], hint="choose another name (account names are unique)")
    accounts = _accounts_of(document, _unit(document, unit))
    accounts.append(_new_entry(accounts, name, email, account_id))
    if note:
        accounts.yaml_add_eol_comment(f"# {note}", len(accounts) - 1)
    return document.edit()


def set_account_id(directory: Path, *, name: str, account_id: str) -> Edit:
    """Record the id of an account created in phase 1 (its ``id`` goes right after ``name``)."""
    document = _read(directory)
    accounts, index = _member(document, name)
    entry = accounts[index]
    if entry.get("id") is not None:
        raise document.problem("GR203", f"account {name!r} already has the id {entry['id']}", entry, "id",
                               hint="edit it by hand if it is wrong")
    entry.insert(list(entry).index("name") + 1, "id", DoubleQuotedScalarString(account_id))
    return document.edit()


def move_account(directory: Path, *, name: str, unit: str) -> Edit:
    """Move a member account to another OU (e.g. out of quarantine), keeping its entry as written."""
    document = _read(directory)
    accounts, index = _member(document, name)
    target = _accounts_of(document, _unit(document, unit))
    if accounts is target:
        raise document.problem("GR203", f"account {name!r} is already in {unit!r}", accounts, item=index,
                               hint="--ou names the OU to move it to")
    entry = accounts.pop(index)
    accounts.ca.items.pop(index, None)  # the entry's end-of-line comment (e.g. "move to …") stays behind
    target.append(entry)
    return document.edit()
