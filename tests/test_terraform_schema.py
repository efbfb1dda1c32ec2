"""The emitted Terraform against the AWS provider's own schema (tests/data/terraform_provider_schema.json, written
by ``make provider-schema`` from the pinned provider release): every argument and nested block is known, every
required one is there, read-only attributes are never set, references name attributes that exist on blocks
that are declared, and every import id has the format the resource's docs give (their "Import" section)."""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import posixpath
import re
from functools import cache
from typing import Any

import hcl2
import pytest

from guardrails.blueprint import load_blueprint
from guardrails.emitters.terraform import emit
from guardrails.emitters.terraform.render import AWS_PROVIDER
from guardrails.model import build_model
from guardrails.pipeline import Compiled
from guardrails.policies.synthesize import synthesize

from .conftest import ROOT
from .provider_schema import IMPORT_IDS, OUTPUT, emitted_types

Schema = dict[str, Any]
SCHEMA: dict[str, Any] = json.loads(OUTPUT.read_text(encoding="utf-8"))

# Meta-arguments Terraform itself accepts in every resource and data block
# (https://developer.hashicorp.com/terraform/language/meta-arguments).
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection"}, "data": {"lifecycle"}}
LIFECYCLE = {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"}
LIFECYCLE_BLOCKS = {"precondition", "postcondition"}

_REFERENCE = re.compile(r"(?<![\w.$])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?)"
                        r"((?:\.[A-Za-z_]\w*|\[[^\]]*\])*)")
_SELF = re.compile(r"(?<![\w.])self((?:\.[A-Za-z_]\w*|\[[^\]]*\])+)")
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_ADDRESS = re.compile(r"^((?:module\.[\w<>-]+(?:\[[^\]]*\])?\.)*)(aws_[a-z0-9_]+)\.([\w-]+)(\[[^\]]*\])?$")


@dataclasses.dataclass
class Module:
    """The blocks of one module directory, by the file that holds them."""
    declared: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)  # (resource|data, type, name)
    blocks: list[tuple[str, str, str, str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    calls: dict[str, str] = dataclasses.field(default_factory=dict)  # module name -> directory
    imports: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (file, to, id expression)
    trees: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    comments: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def _label(text: str) -> str:
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


def _expression(value: str) -> str:
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def parse(files: dict[str, str]) -> dict[str, Module]:
    """Every .tf file of ``files`` (paths -> text), grouped by module directory."""
    modules: dict[str, Module] = {}
    for path, text in sorted(files.items()):
        if not path.endswith(".tf"):
            continue
        directory = posixpath.dirname(path)
        module = modules.setdefault(directory, Module())
        tree = hcl2.loads(text)
        module.trees.append((path, tree))
        module.comments.append((path, "\n".join(re.findall(r"^\s*#\s?(.*)$", text, re.MULTILINE))))
        for kind in ("resource", "data"):
            for entry in tree.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        module.declared.add((kind, _label(rtype), _label(name)))
                        module.blocks.append((path, kind, _label(rtype), _label(name), body))
        for entry in tree.get("module", []):
            for name, body in entry.items():
                source = _label(body.get("source", '""'))
                module.calls[_label(name)] = posixpath.normpath(posixpath.join(directory, source))
        module.imports += [(path, _expression(i["to"]), i["id"]) for i in tree.get("import", [])]
    return modules


def _is_block(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__")
                                                            for v in value)


def _strings(value: Any) -> list[str]:
    """Every string in a parsed value, dictionary keys included (they can be expressions too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if not k.startswith("__") for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _expressions(value: str) -> list[str]:
    """The HCL expressions in one string as python-hcl2 returns it: ``${…}`` whole, or in ``"…${…}…"``."""
    if not value.startswith('"'):
        return [_expression(value)]
    body, found, start = value.replace("$${", ""), [], 0
    while (start := body.find("${", start)) >= 0:
        depth, end = 0, start + 2
        while end < len(body) and (body[end] != "}" or depth):
            depth += {"{": 1, "}": -1}.get(body[end], 0)
            end += 1
        found.append(body[start + 2:end])
        start = end
    return found


def _walk_path(schema: Schema, path: str) -> str | None:
    """Follow ``.attr[0].sub`` through a block schema; the first segment that does not exist, or None."""
    for name in re.findall(r"\.([A-Za-z_]\w*)", re.sub(r"\[[^\]]*\]", "", path)):  # indexes skipped
        if name in schema.get("blocks", {}):
            schema = schema["blocks"][name]
        elif name in schema.get("nested", {}):
            schema = schema["nested"][name]
        elif name in schema["attributes"]:
            return None  # a primitive, list or map: indexing further is not the schema's business
        else:
            return name
    return None


class Checker:
    """Collects every mismatch between parsed modules and the provider schema as a readable line."""

    def __init__(self, modules: dict[str, Module], schema: dict[str, Any] = SCHEMA) -> None:
        self.modules, self.schema = modules, schema
        self.problems: list[str] = []

    def run(self) -> list[str]:
        for directory, module in self.modules.items():
            for path, kind, rtype, name, body in module.blocks:
                where = f"{path}: {kind} {rtype}.{name}"
                type_schema = self.schema[kind].get(rtype)
                if type_schema is None:
                    self.problems.append(f"{where}: type not in the provider schema (run make provider-schema)")
                    continue
                self.body(where, kind, type_schema, body, top=True)
                self.lifecycle(where, type_schema, body)
            for path, tree in module.trees:
                # moved/removed blocks name addresses, not references (a removed one is declared nowhere)
                for text in _strings({k: v for k, v in tree.items() if k not in ("moved", "removed")}):
                    for expression in _expressions(text):
                        self.references(f"{path}", module, expression)
            for path, to, raw_id in module.imports:
                self.import_block(path, directory, to, raw_id)
            for path, comment in module.comments:
                self.commented_imports(path, directory, comment)
        return self.problems

    def body(self, where: str, kind: str, schema: Schema, body: dict[str, Any], *, top: bool) -> None:
        attributes, blocks = schema["attributes"], schema.get("blocks", {})
        present = set()
        for key, value in body.items():
            if key.startswith("__"):
                continue
            if top and key in META_ARGUMENTS | META_BLOCKS[kind]:
                continue
            if key == "dynamic" and _is_block(value):
                for entry in value:
                    for label, inner in entry.items():
                        if not label.startswith("__"):
                            present.add(_label(label))
                            self.block(where, kind, blocks, _label(label), inner.get("content", [{}]))
                continue
            present.add(key)
            if key in blocks:
                if not _is_block(value):
                    self.problems.append(f"{where}: {key} is a nested block, written as an argument")
                self.block(where, kind, blocks, key, value if _is_block(value) else [])
            elif key in attributes:
                if _is_block(value):
                    self.problems.append(f"{where}: {key} is an argument, written as a block")
                elif attributes[key] == "computed":
                    self.problems.append(f"{where}: {key} is read-only (computed), it cannot be set")
            else:
                what = "nested block" if _is_block(value) else "argument"
                self.problems.append(f"{where}: unknown {what} {key!r}")
        for name, mode in attributes.items():
            if mode == "required" and name not in present:
                self.problems.append(f"{where}: required argument {name!r} missing")
        for name, block in blocks.items():
            if block["required"] and name not in present:
                self.problems.append(f"{where}: required nested block {name!r} missing")

    def block(self, where: str, kind: str, blocks: dict[str, Schema], name: str, entries: list[Any]) -> None:
        if name not in blocks:
            self.problems.append(f"{where}: unknown nested block {name!r}")
            return
        if blocks[name]["nesting"] == "single" and len(entries) > 1:
            self.problems.append(f"{where}: {name} may appear once, appears {len(entries)} times")
        for entry in entries:
            self.body(f"{where} > {name}", kind, blocks[name], entry, top=False)

    def lifecycle(self, where: str, schema: Schema, body: dict[str, Any]) -> None:
        for block in body.get("lifecycle", []) if _is_block(body.get("lifecycle")) else []:
            for key, value in block.items():
                if key.startswith("__"):
                    continue
                if key not in LIFECYCLE | LIFECYCLE_BLOCKS:
                    self.problems.append(f"{where} > lifecycle: unknown {key!r}")
                if key == "ignore_changes" and isinstance(value, list):
                    for entry in value:
                        self.ignored(where, schema, _expression(entry))
                if key in LIFECYCLE_BLOCKS:
                    for text in _strings(value):
                        for expression in _expressions(text):
                            for match in _SELF.finditer(_LITERAL.sub('""', expression)):
                                missing = _walk_path(schema, match[1])
                                if missing:
                                    self.problems.append(f"{where} > lifecycle: self.{missing} does not exist")

    def ignored(self, where: str, schema: Schema, entry: str) -> None:
        name = re.split(r"[.\[]", entry, maxsplit=1)[0]
        mode = schema["attributes"].get(name, "block" if name in schema.get("blocks", {}) else None)
        if mode is None or mode == "computed":
            self.problems.append(f"{where} > lifecycle: ignore_changes names {name!r}, "
                                 f"{'read-only' if mode else 'no argument of this type'}")

    def references(self, where: str, module: Module, expression: str) -> None:
        for match in _REFERENCE.finditer(_LITERAL.sub('""', expression)):
            kind = "data" if match[1] else "resource"
            address = f"{'data.' if match[1] else ''}{match[2]}.{match[3]}"
            if (kind, match[2], match[3]) not in module.declared:
                self.problems.append(f"{where}: {address} is referenced but not declared in this module")
                continue
            missing = _walk_path(self.schema[kind].get(match[2], {"attributes": {}}), match[5])
            if missing:
                self.problems.append(f"{where}: {address}{match[4]}{match[5]}: no attribute {missing!r}")

    def resolve(self, directory: str, address: str) -> tuple[list[str], str] | str:
        """(target module directories, resource type) of an address, or why it does not resolve."""
        match = _ADDRESS.match(address)
        if not match:
            return f"{address!r} is not a resource address"
        directories = [directory]
        for call in re.findall(r"module\.([\w<>-]+)", match[1]):
            pattern = re.sub(r"<[^>]*>", "*", call)  # a placeholder in a commented example: any such module
            directories = [self.modules[d].calls[n] for d in directories if d in self.modules
                           for n in self.modules[d].calls if fnmatch.fnmatchcase(n, pattern)]
            if not directories:
                return f"{address!r}: no module {call} is called"
        for target in directories:
            if ("resource", match[2], match[3]) not in self.modules.get(target, Module()).declared:
                return f"{address!r}: {target} declares no resource {match[2]}.{match[3]}"
        return directories, match[2]

    def import_id(self, where: str, rtype: str, raw_id: str) -> None:
        formats = self.schema["import_ids"]
        if rtype not in formats:
            self.problems.append(f"{where}: import of {rtype}: no documented import id format recorded "
                                 "(add it to IMPORT_IDS in tests/provider_schema.py)")
        elif not (raw_id.startswith('"') and raw_id.endswith('"')) or "${" in raw_id.replace("$${", ""):
            self.problems.append(f"{where}: import of {rtype}: id {raw_id} is not a literal string")
        elif not re.fullmatch(formats[rtype]["pattern"], raw_id[1:-1]):
            self.problems.append(f"{where}: import of {rtype}: id {raw_id} is not {formats[rtype]['format']} "
                                 f"({formats[rtype]['source']})")

    def import_block(self, where: str, directory: str, to: str, raw_id: str) -> None:
        resolved = self.resolve(directory, to)
        if isinstance(resolved, str):
            self.problems.append(f"{where}: import: {resolved}")
        else:
            self.import_id(where, resolved[1], raw_id)

    def commented_imports(self, where: str, directory: str, comment: str) -> None:
        """Import examples in comments are copied by people: their addresses and ids must be right too."""
        for to in re.findall(r"^\s*to\s*=\s*(\S+)\s*$", comment, re.MULTILINE):
            resolved = self.resolve(directory, to)
            if isinstance(resolved, str):
                self.problems.append(f"{where}: commented import: {resolved}")
        for to, raw_id in re.findall(r"import \{\s*to\s*=\s*(\S+)\s+id\s*=\s*(\"[^\"\n]*\")\s*\}", comment):
            resolved = self.resolve(directory, to)
            if not isinstance(resolved, str):
                self.import_id(f"{where}: commented", resolved[1], raw_id)


def problems(files: dict[str, str]) -> list[str]:
    return Checker(parse(files)).run()


@cache
def case_files(name: str) -> dict[str, str]:
    return emit(synthesize(build_model(load_blueprint(ROOT / "tests" / "cases" / name / "blueprint"))))


def committed_output() -> dict[str, str]:
    base = ROOT / "output"
    return {p.relative_to(base).as_posix(): p.read_text(encoding="utf-8") for p in (base / "terraform").rglob("*.tf")}


# ----------------------------------------------------------------------------- the schema data itself


def _satisfies(version: str, constraint: str) -> bool:
    """Terraform's ``~> X.Y`` / ``~> X.Y.Z``:
    https://developer.hashicorp.com/terraform/language/expressions/version-constraints"""
    match = re.fullmatch(r"~>\s*(\d+(?:\.\d+)+)", constraint)
    assert match, f"unsupported constraint {constraint!r}"
    low = [int(p) for p in match[1].split(".")]
    have = [int(p) for p in version.split(".")]
    high = [*low[:-2], low[-2] + 1]
    return have >= low and have[:len(high)] < high


def test_schema_is_of_a_provider_release_the_emitter_allows() -> None:
    assert SCHEMA["provider"]["source"] == "registry.terraform.io/hashicorp/aws"
    assert _satisfies(SCHEMA["provider"]["version"], AWS_PROVIDER), \
        f"schema of {SCHEMA['provider']['version']} outside {AWS_PROVIDER}: pin another package, make provider-schema"
    assert SCHEMA["package"]["name"] == "@cdktf/provider-aws" and SCHEMA["package"]["version"]
    assert SCHEMA["import_ids"] == IMPORT_IDS, "IMPORT_IDS changed: run make provider-schema"


def test_schema_covers_every_type_the_emitter_writes() -> None:
    for kind, names in emitted_types().items():
        missing = names - set(SCHEMA[kind])
        assert not missing, f"{kind} types missing (run make provider-schema): {sorted(missing)}"


@pytest.mark.parametrize(("version", "constraint", "expected"), [
    ("6.25.0", "~> 6.0", True), ("6.0.0", "~> 6.0", True), ("7.0.0", "~> 6.0", False), ("5.99.1", "~> 6.0", False),
    ("6.25.3", "~> 6.25.0", True), ("6.26.0", "~> 6.25.0", False),
])
def test_version_constraint(version: str, constraint: str, expected: bool) -> None:
    assert _satisfies(version, constraint) is expected


# ----------------------------------------------------------------------------- the emitted Terraform


def test_example_terraform_matches_the_provider_schema(example_compiled: Compiled) -> None:
    files = {p: t for p, t in example_compiled.files.items() if p.startswith("terraform/")}
    assert len([p for p in files if p.endswith(".tf")]) > 50
    assert problems(files) == []


def test_committed_output_matches_the_provider_schema() -> None:
    assert problems(committed_output()) == []


@pytest.mark.parametrize("case", ["bootstrap", "federation", "minimal"])
def test_case_terraform_matches_the_provider_schema(case: str) -> None:
    assert problems(case_files(case)) == []


def test_imports_are_checked() -> None:
    """The federation case imports an organization, units, accounts and account-level IAM things."""
    modules = parse(case_files("federation"))
    targets = {resolved[1] for d, m in modules.items() for _, to, _ in m.imports
               if not isinstance(resolved := Checker(modules).resolve(d, to), str)}
    assert {"aws_organizations_organization", "aws_iam_account_password_policy",
            "aws_iam_openid_connect_provider"} <= targets


# ----------------------------------------------------------------------------- the checker finds what it should


def _planted(files: dict[str, str], path_end: str, old: str, new: str) -> dict[str, str]:
    files = copy.copy(files)
    path = next(p for p in sorted(files) if p.endswith(path_end) and old in files[p])
    files[path] = files[path].replace(old, new, 1)
    return files


@pytest.mark.parametrize(("path_end", "old", "new", "expected"), [
    ("organization/organization.tf", '  feature_set = "ALL"', '  feature_set = "ALL"\n  feature_sets = "ALL"',
     "resource aws_organizations_organization.this: unknown argument 'feature_sets'"),
    ("organization/organization.tf", '  feature_set = "ALL"', '  feature_set = "ALL"\n  arn = "x"',
     "aws_organizations_organization.this: arn is read-only"),
    ("organization/organization.tf", "  lifecycle {", "  settings {\n    x = 1\n  }\n  lifecycle {",
     "aws_organizations_organization.this: unknown nested block 'settings'"),
    ("organization/organization.tf", "  prevent_destroy = true", "  prevent_destroy = true\n    ignore_changes = [arn]",
     "ignore_changes names 'arn', read-only"),
    ("organization/organization.tf", 'id = "o-exampleorg1"', 'id = "exampleorg1"',
     "import of aws_organizations_organization: id \"exampleorg1\" is not the organization id"),
    ("organization/organization.tf", "to = aws_organizations_organization.this",
     "to = aws_organizations_organization.that",
     "declares no resource aws_organizations_organization.that"),
    ("organization/organization.tf", "aws_organizations_organizational_unit.infrastructure.id",
     "aws_organizations_organizational_unit.infrastructure.ids",
     "aws_organizations_organizational_unit.infrastructure.ids: no attribute 'ids'"),
    ("organization/organization.tf", "aws_organizations_organizational_unit.infrastructure.id",
     "aws_organizations_organizational_unit.nowhere.id",
     "aws_organizations_organizational_unit.nowhere is referenced but not declared"),
    ("security.tf", "#     to = aws_iam_service_linked_role.config", "#     to = aws_iam_service_linked_role.configs",
     "commented import: 'aws_iam_service_linked_role.configs'"),
    ("log_archive.tf", "  versioning_configuration {\n    status = \"Enabled\"\n  }",
     "  versioning_configuration {\n    status = \"Enabled\"\n  }\n" * 2,
     "versioning_configuration may appear once, appears 2 times"),
])
def test_planted_mistakes_are_reported(example_compiled: Compiled, path_end: str, old: str, new: str,
                                       expected: str) -> None:
    found = problems(_planted(example_compiled.files, path_end, old, new))
    assert any(expected in p for p in found), found


def test_a_missing_required_argument_is_reported(example_compiled: Compiled) -> None:
    files = dict(example_compiled.files)
    path = next(p for p in sorted(files) if p.startswith("terraform/") and 'resource "aws_iam_role"' in files[p])
    files[path] = re.sub(r"\n\s*assume_role_policy\s*=[^\n]*", "", files[path], count=1)
    found = problems(files)
    assert any(p.startswith(path) and "aws_iam_role." in p and "required argument 'assume_role_policy' missing" in p
               for p in found), found


def test_a_planted_unknown_argument_in_a_nested_block_is_reported() -> None:
    files = {"terraform/x/main.tf": 'data "aws_iam_policy_document" "d" {\n  statement {\n    effect = "Allow"\n'
                                    '    principals {\n      type = "AWS"\n      identifier = ["*"]\n'
                                    "    }\n  }\n}\n"}
    assert problems(files) == [
        "terraform/x/main.tf: data aws_iam_policy_document.d > statement > principals: unknown argument 'identifier'",
        "terraform/x/main.tf: data aws_iam_policy_document.d > statement > principals: "
        "required argument 'identifiers' missing",
    ]


def test_a_type_missing_from_the_schema_is_reported() -> None:
    files = {"terraform/x/main.tf": 'resource "aws_made_up_thing" "x" {\n  name = "x"\n}\n'}
    assert problems(files) == ["terraform/x/main.tf: resource aws_made_up_thing.x: type not in the provider schema "
                               "(run make provider-schema)"]


def test_import_formats_accept_their_documented_examples() -> None:
    """Each recorded pattern accepts its docs' example, or (where the docs' example is too short for AWS's own
    id syntax, e.g. o-1234567) at least a real-length id."""
    real = {"aws_organizations_organization": "o-a1b2c3d4e5",
            "aws_organizations_organizational_unit": "ou-ab12-cd34ef56"}
    for rtype, entry in SCHEMA["import_ids"].items():
        assert re.fullmatch(entry["pattern"], real.get(rtype, entry["example"])), rtype
        assert entry["source"].startswith("https://registry.terraform.io/providers/hashicorp/aws/")


@pytest.mark.parametrize(("attribute", "expected"), [
    ("roots[0].id", []),
    ("roots[0].idd", ["terraform/x/main.tf: aws_organizations_organization.o.roots[0].idd: no attribute 'idd'"]),
    ("roots[0].policy_types[0].status", []),
])
def test_references_into_nested_attributes(attribute: str, expected: list[str]) -> None:
    files = {"terraform/x/main.tf": 'resource "aws_organizations_organization" "o" {}\n\n'
                                    'resource "aws_organizations_organizational_unit" "u" {\n  name = "u"\n'
                                    f"  parent_id = aws_organizations_organization.o.{attribute}\n}}\n"}
    assert problems(files) == expected
