"""The typed reader of the policy tree's manifest (guardrails/iam/manifest.py): the example's manifest reads
completely and round-trips field by field, and a missing or malformed key is one ManifestError that names it."""

from __future__ import annotations

import copy
import json
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

import pytest

from guardrails.evaluation.lockout.principals import Principals
from guardrails.evaluation.organization import Organization
from guardrails.iam.manifest import MANIFEST, Manifest, ManifestError, ManagedPolicyEntry
from guardrails.pipeline import compile_blueprint
from guardrails.review.diff import WILDCARDS, Wildcards

from .conftest import ROOT, bounded_developer_example

REGENERATE = r"regenerate it with `guardrails build`"
# Typed fields the raw object does not hold as a key: the key of a keyed section, or what the section says.
DERIVED = {"AccountClass": {"key"}, "ManagedPolicyEntry": {"arn"}, "OrgPolicyEntry": {"kind"}}
# Keys a manifest may leave out (the typed field then holds its default).
OPTIONAL = {"OrganizationInfo": {"deployment_role", "management_deployment_role"},
            "OrgPolicyEntry": {"intended_denials"}, "PermissionSetBoundary": {"arn", "customer_managed"},
            # written only for entries the blueprint renamed (moved_from); the example renames none
            **{entry: {"moved_from"} for entry in ("ManagedPolicyEntry", "RoleEntry", "GroupEntry", "UserEntry")}}
OPTIONAL["RoleEntry"] = {"moved_from", "tags"}  # written only for roles with tags
RENAMES = {"class_key": "class"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example's policy tree, compiled once for the module, written to disk and read back."""
    out = tmp_path_factory.mktemp("out")
    for path, text in compile_blueprint(ROOT / "blueprints", run_tests=False).files.items():
        if path.startswith("policies/"):
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_text(text, encoding="utf-8")
    return dict(Organization.from_directory(out).files)


@pytest.fixture(scope="module")
def raw(tree: dict[str, str]) -> dict[str, Any]:
    return json.loads(tree[MANIFEST])


def edited(raw: dict[str, Any], change: Any) -> dict[str, Any]:
    copied = copy.deepcopy(raw)
    change(copied)
    return copied


def assert_same(typed: Any, value: Any, where: str = "manifest") -> None:
    """Every typed field equals the raw JSON value of its key, and no key of the raw object is left unread."""
    if is_dataclass(typed):
        kind = type(typed).__name__
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        read = set()
        for f in fields(typed):
            key = RENAMES.get(f.name, f.name)
            if f.name in DERIVED.get(kind, ()):
                continue
            if key not in value:
                assert key in OPTIONAL.get(kind, ()), f"{where}.{key} is missing from the raw manifest"
                default = f.default if f.default is not MISSING else None
                assert getattr(typed, f.name) == default, f"{where}.{key}: absent, yet not the default"
                continue
            read.add(key)
            assert_same(getattr(typed, f.name), value[key], f"{where}.{key}")
        assert set(value) <= read, f"{where}: keys without a typed field: {sorted(set(value) - read)}"
    elif isinstance(typed, tuple) and isinstance(value, dict):
        if all(isinstance(t, tuple) for t in typed):  # tags: sorted (key, value) pairs
            assert dict(typed) == value, where
            return
        # A keyed section: classes by key, a class's managed policies by ARN.
        keys = [getattr(t, "key", None) or getattr(t, "arn") for t in typed]
        assert keys == list(value), f"{where}: {keys} != {list(value)}"
        for key, entry in zip(keys, typed, strict=True):
            assert_same(entry, value[key], f"{where}.{key}")
    elif isinstance(typed, tuple):
        assert isinstance(value, list) and len(typed) == len(value), f"{where}: {typed!r} != {value!r}"
        for index, (t, v) in enumerate(zip(typed, value, strict=True)):
            assert_same(t, v, f"{where}[{index}]")
    else:
        assert type(typed) is type(value) and typed == value, f"{where}: {typed!r} != {value!r}"


# ----------------------------------------------------------------------------- reading completely


def test_the_example_manifest_reads_completely_and_round_trips(tree: dict[str, str], raw: dict[str, Any]) -> None:
    manifest = Manifest.from_files(tree)
    assert_same(manifest, raw)
    # Every section is exercised, not vacuously equal.
    assert manifest.units and manifest.accounts and manifest.service_control_policies
    assert manifest.resource_control_policies and manifest.resource_policies and manifest.permission_sets
    assert manifest.identity_center is not None and manifest.identity_center.admin_account == "management"
    assert all(c.roles for c in manifest.classes) and any(c.groups for c in manifest.classes)
    assert any(c.users for c in manifest.classes) and any(c.managed_policies for c in manifest.classes)
    assert any(s.intended_denials for s in manifest.service_control_policies)
    assert any(p.file for p in manifest.permission_sets)
    assert {e.kind for e in manifest.service_control_policies} == {"scp"}
    assert {e.kind for e in manifest.resource_control_policies} == {"rcp"}


def test_a_permission_set_boundary_reads_completely_and_round_trips() -> None:
    """The example's permission sets carry no boundary (issue 13); its bounded copy does."""
    files = compile_blueprint(bounded_developer_example(), run_tests=False).files
    manifest = Manifest.from_files(files)
    assert_same(manifest, json.loads(files[MANIFEST]))
    assert any(p.boundary is not None and p.boundary.customer_managed for p in manifest.permission_sets)


@pytest.mark.parametrize("case", sorted(p.name for p in (ROOT / "tests/cases").iterdir()
                                        if (p / "expected" / MANIFEST).is_file()))
def test_the_golden_manifests_read_completely(case: str) -> None:
    text = (ROOT / "tests/cases" / case / "expected" / MANIFEST).read_text(encoding="utf-8")
    assert_same(Manifest.from_json(text), json.loads(text))


def test_the_organization_holds_the_typed_manifest(tree: dict[str, str]) -> None:
    org = Organization(tree)
    assert org.manifest == Manifest.from_files(tree)
    assert org.partition == org.manifest.organization.partition == "aws"
    assert list(org.accounts) == [a.name for a in org.manifest.accounts]
    audit = org.account("audit")
    assert org.class_entry(audit) is org.manifest.class_of("audit")
    assert [u.name for u in org.class_entry(audit).users if u.tag("guardrails:purpose") == "break-glass"]


def test_a_boundary_of_an_aws_managed_policy_and_the_first_drafts_spelling(raw: dict[str, Any]) -> None:
    arn = "arn:aws:iam::aws:policy/PowerUserAccess"
    for key in ("arn", "managed"):
        def change(m: dict[str, Any], key: str = key) -> None:
            m["permission_sets"][0]["boundary"] = {key: arn}
        entry = Manifest.from_json(edited(raw, change)).permission_sets[0]
        assert entry.boundary is not None and (entry.boundary.arn, entry.boundary.customer_managed) == (arn, None)


def test_customer_managed_references_are_found_by_name_and_path(raw: dict[str, Any]) -> None:
    manifest = Manifest.from_json(raw)
    cls = next(c for c in manifest.classes if c.managed_policies)
    policy = cls.managed_policies[0]
    assert policy.path == "/guardrails/"
    assert cls.customer_managed("aws", "/guardrails/", policy.name) == policy
    assert cls.customer_managed("aws", "/", policy.name) is None  # Identity Center matches the path too
    assert ManagedPolicyEntry("arn:aws:iam::${account_id}:policy/Plain", "Plain", "managed", "f").path == "/"
    assert ManagedPolicyEntry("arn:aws:iam::${account_id}:policy/a/b/N", "N", "managed", "f").path == "/a/b/"


def test_sections_added_later_are_optional(raw: dict[str, Any]) -> None:
    def change(m: dict[str, Any]) -> None:
        for key in ("resource_control_policies", "resource_policies", "identity_center", "permission_sets"):
            del m[key]
        del m["organization"]["break_glass"], m["organization"]["deployment_principals"]
        for entry in m["service_control_policies"]:
            entry.pop("intended_denials", None)
    manifest = Manifest.from_json(edited(raw, change))
    assert (manifest.resource_control_policies, manifest.resource_policies, manifest.permission_sets) == ((), (), ())
    assert manifest.identity_center is None and manifest.organization.break_glass.role is None
    # The lockout proof needs the break-glass role: one error naming the key, not a KeyError in the proof.
    with pytest.raises(ManifestError, match=rf"organization\.break_glass\.role is missing; .*{REGENERATE}"):
        Principals.of(manifest, (), None, None)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.pop("classes"), r"classes is missing"),
    (lambda m: m["classes"]["audit"].pop("roles"), r"classes\.audit\.roles is missing"),
    (lambda m: m["classes"]["audit"]["roles"][0]["policies"].append(42),
     r"classes\.audit\.roles\[0\]\.policies\[\d+\] must be a string, not 42"),
    (lambda m: m["accounts"][1].pop("id"), r"accounts\[1\]\.id is missing"),
    (lambda m: m["accounts"][0].update(management="yes"), r'accounts\[0\]\.management must be true or false'),
    (lambda m: m["accounts"][0].update({"class": "nowhere"}), r"accounts\[0\]\.class names class 'nowhere'"),
    (lambda m: m["organization"].pop("partition"), r"organization\.partition is missing"),
    (lambda m: m["service_control_policies"][0].update(file=None), r"service_control_policies\[0\]\.file must be"),
    (lambda m: m["classes"]["audit"]["users"][0].update(tags=["x"]), r"classes\.audit\.users\[0\]\.tags must be"),
    (lambda m: m["classes"]["audit"]["roles"][0].update(max_session_duration="1h"),
     r"classes\.audit\.roles\[0\]\.max_session_duration must be a whole number"),
    (lambda m: m["permission_sets"][0].update(boundary={}), r"permission_sets\[0\]\.boundary must be one of"),
    (lambda m: m["permission_sets"][0]["assignments"][0].pop("group"),
     r"permission_sets\[0\]\.assignments\[0\]\.group is missing"),
    (lambda m: m["resource_policies"].append("x"), r"resource_policies\[\d+\] must be an object"),
], ids=["no-classes", "class-without-roles", "non-string-in-list", "account-without-id", "bool", "unknown-class",
        "no-partition", "null-file", "tags-not-object", "int", "boundary", "assignment", "entry-not-object"])
def test_a_missing_or_malformed_key_is_one_error_naming_it(raw: dict[str, Any], change: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=rf"^{MANIFEST}: {message}.*{REGENERATE}"):
        Manifest.from_json(edited(raw, change))


def test_another_format_is_refused_naming_the_key(raw: dict[str, Any]) -> None:
    with pytest.raises(ManifestError, match=r'format is "guardrails-policies/2", this guardrails reads '
                                            r"guardrails-policies/1; regenerate .*`guardrails build`"):
        Manifest.from_json(edited(raw, lambda m: m.update(format="guardrails-policies/2")))
    with pytest.raises(ManifestError, match=r"format is missing"):
        Manifest.from_json(edited(raw, lambda m: m.pop("format")))


def test_the_organization_fails_on_load_not_deep_inside_an_evaluation(tree: dict[str, str],
                                                                      raw: dict[str, Any]) -> None:
    broken = edited(raw, lambda m: m["classes"]["audit"]["roles"][0].pop("trust"))
    with pytest.raises(ManifestError, match=r"classes\.audit\.roles\[0\]\.trust is missing"):
        Organization({**tree, MANIFEST: json.dumps(broken)})
    with pytest.raises(ManifestError, match=rf"{MANIFEST} is missing: .*guardrails build"):
        Organization({p: t for p, t in tree.items() if p != MANIFEST})
    with pytest.raises(ManifestError, match=rf"{MANIFEST} is not JSON"):
        Organization({**tree, MANIFEST: "{"})
    with pytest.raises(ManifestError, match=r"the file must be an object"):
        Manifest.from_json("[]")


# ----------------------------------------------------------------------------- wildcards.json


def test_the_wildcard_record_reads_typed(tree: dict[str, str]) -> None:
    record = json.loads(tree[WILDCARDS])
    wildcards = Wildcards.of(Organization(tree))
    assert wildcards is not None
    assert (wildcards.database_package, wildcards.database_version, wildcards.database_published) == (
        record["iam_database"]["package"], record["iam_database"]["version"], record["iam_database"]["published"])
    assert {p: list(v) if isinstance(v, tuple) else v for p, v in wildcards.patterns.items()} == record["patterns"]
    assert Wildcards.of(Organization({p: t for p, t in tree.items() if p != WILDCARDS})) is None
    del record["iam_database"]["version"]
    with pytest.raises(ManifestError, match=rf"^{WILDCARDS}: iam_database\.version is missing"):
        Wildcards.of(Organization({**tree, WILDCARDS: json.dumps(record)}))


def test_no_reader_indexes_the_manifest_json_by_key() -> None:
    """Evaluation, review and audit read the typed manifest only (docs/policies-manifest.md lists the keys)."""
    raw_keys = ('manifest["', "manifest.get(", '["classes"]', '["roles"]', '["users"]', '["groups"]',
                '["managed_policies"]', '["permission_sets"]', '["service_control_policies"]')
    offenders = [f"{path.relative_to(ROOT)}: {key}" for stage in ("evaluation", "review", "audit")
                 for path in sorted((ROOT / "guardrails" / stage).rglob("*.py"))
                 for key in raw_keys if key in path.read_text(encoding="utf-8")]
    assert not offenders
