"""AccountClass looks its roles, users, groups and managed policies up in an index: the same entry a scan finds."""

from __future__ import annotations

from dataclasses import replace

from guardrails.iam.manifest import AccountClass, Manifest
from guardrails.pipeline import Compiled


def _scan(entries, attribute: str, value: str):
    return next((e for e in entries if getattr(e, attribute) == value), None)


def _assert_index_is_the_scan(cls: AccountClass) -> None:
    for entries, look, attribute in ((cls.roles, cls.role, "name"), (cls.users, cls.user, "name"),
                                     (cls.groups, cls.group, "name"), (cls.managed_policies, cls.managed_policy, "arn")):
        for entry in entries:
            assert look(getattr(entry, attribute)) is _scan(entries, attribute, getattr(entry, attribute))
        assert look("not-deployed-here") is None


def test_every_class_of_the_example_finds_what_a_scan_finds(example_compiled: Compiled) -> None:
    manifest = Manifest.from_files({p: t for p, t in example_compiled.files.items() if p.startswith("policies/")})
    assert manifest.classes
    for cls in manifest.classes:
        _assert_index_is_the_scan(cls)
        assert cls.role("x") is None and cls.user("x") is None and cls.group("x") is None


def test_the_first_of_two_entries_with_one_name_wins_and_a_replaced_class_is_indexed_anew(
        example_compiled: Compiled) -> None:
    manifest = Manifest.from_files({p: t for p, t in example_compiled.files.items() if p.startswith("policies/")})
    cls = next(c for c in manifest.classes if c.roles)
    first = cls.roles[0]
    doubled = replace(cls, roles=(first, replace(first, trust="other.json"), *cls.roles[1:]))
    assert doubled.role(first.name) is first
    _assert_index_is_the_scan(doubled)
    fewer = replace(cls, roles=cls.roles[1:])  # the index belongs to the instance, not to its equal-looking copy
    assert cls.role(first.name) is first
    assert fewer.role(first.name) is _scan(fewer.roles, "name", first.name)
    assert fewer == replace(cls, roles=cls.roles[1:]) and hash(fewer) == hash(replace(cls, roles=cls.roles[1:]))
