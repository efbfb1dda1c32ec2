"""``moved_from``: the former keys of a renamed role, group, user or permission boundary.

A key names the entry's resources in the code (Terraform addresses, CloudFormation logical ids), so renaming it
would destroy and create them; the former keys let the emitters keep them (``moved`` blocks, the old logical id).
Checked here: a former key is no longer an entry of its section, and within one account it moves to one entry.
"""

from __future__ import annotations

import re

from guardrails.diagnostics import Diagnostic
from guardrails.model.resolved import Model

SECTIONS = ("roles", "groups", "users", "permission_boundaries")
_LABEL = {"roles": "role", "groups": "group", "users": "user", "permission_boundaries": "permission boundary"}


def code_key(key: str) -> str:
    """What the code names an entry by: keys that differ only in case or punctuation name the same resources."""
    return re.sub(r"\W", "_", key.lower())


def check_moved_from(model: Model, problems: list[Diagnostic]) -> None:
    bp = model.blueprint
    src = model.source
    for section in SECTIONS:
        entries = getattr(bp, section)
        current = {code_key(k): k for k in entries}
        claimed: dict[str, list[str]] = {}
        for key, entry in entries.items():
            for index, former in enumerate(entry.moved_from):
                where = src.where(section, key, "moved_from", index)
                if code_key(former) in current:
                    problems.append(Diagnostic.of(
                        "GR302", f"{_LABEL[section]} {key!r} moved from {former!r}, which is still an entry of "
                        f"`{section}`" + ("" if current[code_key(former)] == former else
                                          f" ({current[code_key(former)]!r} names the same resources)"), where,
                        "remove the old entry (its resources move to this one), or remove the moved_from"))
                    continue
                for other in claimed.get(code_key(former), []):
                    shared = _shared_accounts(model, section, key, other)
                    if shared is not None:
                        problems.append(Diagnostic.of(
                            "GR302", f"{_LABEL[section]}s {other!r} and {key!r} both moved from {former!r}"
                            + (f" in {', '.join(shared[:6])}" if shared else ""), where,
                            "in one account an old key moves to one entry: deploy the entries to different "
                            "accounts, or drop the moved_from of one"))
                claimed.setdefault(code_key(former), []).append(key)


def _shared_accounts(model: Model, section: str, key: str, other: str) -> list[str] | None:
    """The accounts two entries share (None: none); permission boundaries go wherever a role uses them."""
    if section == "permission_boundaries":
        return []
    shared = sorted(set(model.placements.get((section, key), ())) & set(model.placements.get((section, other), ())))
    return shared or None
