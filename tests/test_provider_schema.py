"""tests/provider_schema.py (``make provider-schema``) on a tiny package shaped like @cdktf/provider-aws: how jsii
properties become Terraform arguments, nested blocks and read-only attributes. Nothing is downloaded."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .provider_schema import PACKAGE_VERSION, ProviderSchemaError, extract

P = "@cdktf/provider-aws.thing."
DOCS = "https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/thing"


def _prop(name: str, type_ref: dict[str, Any], *, anchor: str | None = None, optional: bool = False,
          block: bool = False) -> dict[str, Any]:
    link = f"{{@link {DOCS}#{anchor} Thing#{anchor}}}" if anchor else ""
    docs = {"summary": f"{anchor} block.", "remarks": link} if block else {"summary": f"Docs: {link}."}
    return {"name": name, "type": type_ref, "docs": docs, **({"optional": True} if optional else {})}


ASSEMBLY = {"types": {
    P + "Thing": {
        "kind": "class", "fqn": P + "Thing", "locationInModule": {"filename": "src/thing/index.ts"},
        "docs": {"summary": f"Represents a {{@link {DOCS} aws_thing}}."},
        "initializer": {"parameters": [{"name": "scope"}, {"name": "id"},
                                       {"name": "config", "type": {"fqn": P + "ThingConfig"}}]},
        "properties": [
            {"name": "tfResourceType", "static": True, "type": {"primitive": "string"}},
            {"name": "arn", "type": {"primitive": "string"}},
            {"name": "address1", "type": {"primitive": "string"}},
            {"name": "name", "type": {"primitive": "string"}},
            {"name": "nameInput", "type": {"primitive": "string"}},
            {"name": "equalTo", "type": {"primitive": "string"}},
            {"name": "rule", "type": {"fqn": P + "ThingRuleOutputReference"}},
            {"name": "history", "type": {"fqn": P + "ThingHistoryList"}},
        ],
    },
    P + "ThingConfig": {"kind": "interface", "properties": [
        _prop("name", {"primitive": "string"}, anchor="name"),
        _prop("equalTo", {"primitive": "string"}, anchor="equals", optional=True),  # renamed by cdktf
        _prop("rule", {"fqn": P + "ThingRule"}, anchor="rule", block=True),
    ]},
    P + "ThingRule": {"kind": "interface", "properties": [_prop("status", {"primitive": "string"}, anchor="status",
                                                                optional=True)]},
    P + "ThingRuleOutputReference": {"kind": "class", "properties": [
        {"name": "status", "type": {"primitive": "string"}}, {"name": "statusInput", "type": {"primitive": "string"}},
        {"name": "internalValue", "type": {"fqn": P + "ThingRule"}}]},
    P + "ThingHistoryList": {"kind": "class", "methods": [
        {"name": "get", "returns": {"type": {"fqn": P + "ThingHistoryOutputReference"}}}]},
    P + "ThingHistoryOutputReference": {"kind": "class", "properties": [
        {"name": "changedAt", "type": {"primitive": "string"}}]},
}}
JS = "get address1() {\n        return this.getStringAttribute('address_1');\n    }\n"


def _tarball(tmp_path: Path) -> Path:
    package = {"version": PACKAGE_VERSION,
               "cdktf": {"provider": {"name": "registry.terraform.io/hashicorp/aws", "version": "6.25.0"}}}
    path = tmp_path / "package.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in [("package/package.json", json.dumps(package)), ("package/.jsii", json.dumps(ASSEMBLY)),
                           ("package/lib/thing/index.js", JS)]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_extract_reads_arguments_blocks_and_read_only_attributes(tmp_path: Path) -> None:
    data = extract(_tarball(tmp_path), {"resource": {"aws_thing"}, "data": set()})
    assert data["provider"] == {"source": "registry.terraform.io/hashicorp/aws", "version": "6.25.0"}
    assert data["resource"]["aws_thing"] == {
        "attributes": {"address_1": "computed", "arn": "computed", "equals": "optional", "history": "computed",
                       "name": "required"},
        "blocks": {"rule": {"nesting": "single", "required": True, "attributes": {"status": "optional"}}},
        "nested": {"history": {"attributes": {"changed_at": "computed"}}},
    }
    assert data["import_ids"]


def test_a_type_the_package_lacks_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderSchemaError, match="resource aws_other"):
        extract(_tarball(tmp_path), {"resource": {"aws_thing", "aws_other"}, "data": set()})
