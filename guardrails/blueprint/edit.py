"""Edit a blueprint in place, keeping its comments, order and formatting (round-trip YAML with ruamel.yaml).

Used by ``guardrails account add|set-id|move``. Only the YAML file that holds ``organization`` is touched, and only
the account entry being added, changed or moved; every other line stays byte for byte as it was (the tests diff the
file). Callers compile the edited blueprint and put the old text back if it does not compile (:class:`Edit`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from guardrails.blueprint.loader import yaml_files
from guardrails.diagnostics import ToolError


@dataclass(frozen=True)
class Edit:
    """One file's text before and after an edit; :meth:`apply` writes it, :meth:`revert` puts the old text back."""

    path: Path
    before: str
    after: str

    def apply(self) -> None:
        self.path.write_text(self.after, encoding="utf-8")

    def revert(self) -> None:
        self.path.write_text(self.before, encoding="utf-8")


def organization_file(directory: Path) -> Path:
    """The blueprint file that defines ``organization`` (the loader guarantees there is exactly one)."""
    for path in yaml_files(directory):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("organization:"):
                return path
    raise ToolError(f"no file in {directory} defines `organization:` at the top level")


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


def _unit(organization: CommentedMap, path: str) -> CommentedMap:
    """The mapping of the OU at ``path`` (``Workloads/Prod``)."""
    node: Any = organization
    for segment in path.split("/"):
        units = node.get("units") if isinstance(node, dict) else None
        if not isinstance(units, dict) or segment not in units:
            raise ToolError(f"no OU {path!r} in the blueprint (the OU must exist under organization.units)")
        node = units[segment]
        if node is None:  # an OU written as `Name:` with nothing under it
            units[segment] = node = CommentedMap()
    return node


def _accounts_of(unit: CommentedMap) -> CommentedSeq:
    accounts = unit.get("accounts")
    if accounts is None:
        accounts = unit["accounts"] = CommentedSeq()
    return accounts


def _find_account(organization: CommentedMap, name: str) -> tuple[CommentedSeq, int] | None:
    """The accounts list holding the member account ``name`` and its index, searching the whole OU tree."""
    def walk(units: Any) -> tuple[CommentedSeq, int] | None:
        for unit in (units or {}).values():
            if not isinstance(unit, dict):
                continue
            for index, entry in enumerate(unit.get("accounts") or []):
                if isinstance(entry, dict) and entry.get("name") == name:
                    return unit["accounts"], index
            found = walk(unit.get("units"))
            if found:
                return found
        return None

    return walk(organization.get("units"))


def _new_entry(siblings: CommentedSeq, name: str, email: str, account_id: str | None) -> CommentedMap:
    """An account mapping written like its siblings: flow style (``{name: …, id: …}``) when they are."""
    entry = CommentedMap()
    entry["name"] = name
    if account_id is not None:
        entry["id"] = DoubleQuotedScalarString(account_id)  # a quoted string, never a number with lost zeros
    entry["email"] = email
    flow = all(isinstance(s, CommentedMap) and s.fa.flow_style() for s in siblings) if siblings else True
    if flow:
        entry.fa.set_flow_style()
    return entry


def add_account(directory: Path, *, name: str, unit: str, email: str, account_id: str | None = None,
                note: str | None = None) -> Edit:
    """Append an account to the OU ``unit`` (its ``accounts`` list is created when missing); ``note`` becomes an
    end-of-line comment on the new entry (e.g. where a quarantined account goes next)."""
    path = organization_file(directory)
    before = path.read_text(encoding="utf-8")
    yaml, data = _yaml(before)
    organization = data["organization"]
    if _find_account(organization, name) is not None:
        raise ToolError(f"the blueprint already has an account named {name!r} ({path})")
    accounts = _accounts_of(_unit(organization, unit))
    accounts.append(_new_entry(accounts, name, email, account_id))
    if note:
        accounts.yaml_add_eol_comment(f"# {note}", len(accounts) - 1)
    return Edit(path, before, _dump(yaml, data))


def set_account_id(directory: Path, *, name: str, account_id: str) -> Edit:
    """Record the id of an account created in phase 1 (its ``id`` goes right after ``name``)."""
    path = organization_file(directory)
    before = path.read_text(encoding="utf-8")
    yaml, data = _yaml(before)
    found = _find_account(data["organization"], name)
    if found is None:
        raise ToolError(f"no member account named {name!r} in {path}")
    accounts, index = found
    entry = accounts[index]
    if entry.get("id") is not None:
        raise ToolError(f"account {name!r} already has the id {entry['id']} in {path}; edit it by hand if it is wrong")
    entry.insert(list(entry).index("name") + 1, "id", DoubleQuotedScalarString(account_id))
    return Edit(path, before, _dump(yaml, data))


def move_account(directory: Path, *, name: str, unit: str) -> Edit:
    """Move a member account to another OU (e.g. out of quarantine), keeping its entry as written."""
    path = organization_file(directory)
    before = path.read_text(encoding="utf-8")
    yaml, data = _yaml(before)
    organization = data["organization"]
    found = _find_account(organization, name)
    if found is None:
        raise ToolError(f"no member account named {name!r} in {path}")
    target = _accounts_of(_unit(organization, unit))
    accounts, index = found
    if accounts is target:
        raise ToolError(f"account {name!r} is already in {unit!r}")
    entry = accounts.pop(index)
    accounts.ca.items.pop(index, None)  # the entry's end-of-line comment (e.g. "move to …") stays behind
    target.append(entry)
    return Edit(path, before, _dump(yaml, data))
