"""Extract the part of the AWS provider's schema that guardrails emits, for tests/test_terraform_schema.py.

``make provider-schema`` runs this once by hand (never at test time): it downloads the pinned
``@cdktf/provider-aws`` npm package into a temporary folder and writes tests/data/terraform_provider_schema.json,
which is committed. That package is generated from ``terraform providers schema -json`` of one hashicorp/aws
release; its jsii assembly (``package/.jsii``) keeps, per resource and data source, the ``<Type>Config``
interface (one property per argument or nested block: optional flag, nested block struct, and a link to the
registry docs whose ``#anchor`` is the Terraform name) and the class whose getters are every readable attribute.
Getter names of read-only attributes are mapped back to Terraform names through the package's JavaScript
(``this.getStringAttribute('create_date')``), because camelCase does not round-trip (``address1``/``address_1``).

Import ids are not in the schema: IMPORT_IDS below is taken from the "Import" section of each resource's
registry docs (links kept with every entry) and the AWS API's id syntax, and is written into the JSON as data.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "data" / "terraform_provider_schema.json"

# The last @cdktf/provider-aws release (the prebuilt providers were discontinued after it); its package.json
# says "cdktf": {"provider": {"version": "6.25.0"}}, inside the emitter's required_providers "~> 6.0".
PACKAGE = "@cdktf/provider-aws"
PACKAGE_VERSION = "21.22.1"
PACKAGE_INTEGRITY = "sha512-BuSHeaQFUL9l33pBzIMRT7cTQ69AM2mLtijjteCPhVQRmvuhuj9Lvfymf7knAMhYqAT6+Lrls9jiGVW/Us3zrQ=="

_DOCS = "https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/"
_ORGS_API = "https://docs.aws.amazon.com/organizations/latest/APIReference/"
_IAM_ARNS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"
# Import id of every resource type guardrails writes an import block for (live, or as a commented example).
IMPORT_IDS: dict[str, dict[str, str]] = {
    "aws_organizations_organization": {
        "format": "the organization id", "example": "o-1234567",
        "pattern": r"^o-[a-z0-9]{10,32}$",
        "source": _DOCS + "organizations_organization#import",
        "pattern_source": _ORGS_API + "API_Organization.html",
    },
    "aws_organizations_organizational_unit": {
        "format": "the organizational unit id", "example": "ou-1234567",
        "pattern": r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$",
        "source": _DOCS + "organizations_organizational_unit#import",
        "pattern_source": _ORGS_API + "API_OrganizationalUnit.html",
    },
    "aws_organizations_account": {
        "format": "the account id", "example": "111111111111",
        "pattern": r"^[0-9]{12}$",
        "source": _DOCS + "organizations_account#import",
        "pattern_source": _ORGS_API + "API_Account.html",
    },
    "aws_organizations_policy": {
        "format": "the policy id", "example": "p-12345678",
        "pattern": r"^p-[0-9a-zA-Z_]{8,128}$",
        "source": _DOCS + "organizations_policy#import",
        "pattern_source": _ORGS_API + "API_Policy.html",
    },
    "aws_organizations_policy_attachment": {
        "format": "the target id and the policy id, joined by a colon", "example": "123456789012:p-12345678",
        "pattern": r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|[0-9]{12}):p-[0-9a-zA-Z_]{8,128}$",
        "source": _DOCS + "organizations_policy_attachment#import",
        "pattern_source": _ORGS_API + "API_AttachPolicy.html",
    },
    "aws_iam_role": {
        "format": "the role name", "example": "developer",
        "pattern": r"^[\w+=,.@-]{1,64}$",
        "source": _DOCS + "iam_role#import",
        "pattern_source": "https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html",
    },
    "aws_iam_group": {
        "format": "the group name", "example": "developers",
        "pattern": r"^[\w+=,.@-]{1,128}$",
        "source": _DOCS + "iam_group#import",
        "pattern_source": "https://docs.aws.amazon.com/IAM/latest/APIReference/API_Group.html",
    },
    "aws_iam_user": {
        "format": "the user name", "example": "alice",
        "pattern": r"^[\w+=,.@-]{1,64}$",
        "source": _DOCS + "iam_user#import",
        "pattern_source": "https://docs.aws.amazon.com/IAM/latest/APIReference/API_User.html",
    },
    "aws_iam_policy": {
        "format": "the policy ARN", "example": "arn:aws:iam::123456789012:policy/UsersManageOwnCredentials",
        "pattern": r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:policy/([\x21-\x2e\x30-\x7e]+/)*[\w+=,.@-]{1,128}$",
        "source": _DOCS + "iam_policy#import",
        "pattern_source": _IAM_ARNS,
    },
    "aws_iam_role_policy": {
        "format": "the role name and the policy name, joined by a colon", "example": "test_role:mypolicy",
        "pattern": r"^[\w+=,.@-]{1,64}:[\w+=,.@-]{1,128}$",
        "source": _DOCS + "iam_role_policy#import",
        "pattern_source": "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
    },
    "aws_iam_account_password_policy": {
        "format": "the word iam-account-password-policy", "example": "iam-account-password-policy",
        "pattern": r"^iam-account-password-policy$",
        "source": _DOCS + "iam_account_password_policy#import",
        "pattern_source": _DOCS + "iam_account_password_policy#import",
    },
    "aws_iam_openid_connect_provider": {
        "format": "the provider ARN", "example": "arn:aws:iam::123456789012:oidc-provider/accounts.google.com",
        "pattern": r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:oidc-provider/[^\s/][^\s]*$",
        "source": _DOCS + "iam_openid_connect_provider#import",
        "pattern_source": _IAM_ARNS,
    },
    "aws_iam_saml_provider": {
        "format": "the provider ARN", "example": "arn:aws:iam::123456789012:saml-provider/SAMLADFS",
        "pattern": r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:saml-provider/[\w+=,.@-]{1,128}$",
        "source": _DOCS + "iam_saml_provider#import",
        "pattern_source": _IAM_ARNS,
    },
    "aws_iam_service_linked_role": {
        "format": "the role ARN",
        "example": "arn:aws:iam::123456789012:role/aws-service-role/elasticbeanstalk.amazonaws.com/"
                   "AWSServiceRoleForElasticBeanstalk",
        "pattern": r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/aws-service-role/[a-z0-9.-]+\.amazonaws\.com/[\w+=,.@-]+$",
        "source": _DOCS + "iam_service_linked_role#import",
        "pattern_source": "https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html",
    },
}

_DECLARED = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.MULTILINE)
_CLASS_DOC = re.compile(r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/[\d.]+/docs/"
                        r"(resources|data-sources)/\w+ (aws_\w+)\}")
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(\w+) ")
_JS_GETTER = re.compile(r"get (\w+)\(\) \{\s*return [^;]*?this\.get\w*Attribute\('(\w+)'\)")
_JS_COMPLEX = re.compile(r"this\._(\w+) = new \w+\(this, \"(\w+)\"")
_PROVIDER = "@cdktf/provider-aws."


class ProviderSchemaError(Exception):
    """The package could not be fetched, or does not look like the cdktf provider this script knows."""


def emitted_types(root: Path = ROOT) -> dict[str, set[str]]:
    """Resource and data source types in the emitter's templates and code and in the committed output/terraform."""
    sources: Iterable[Path] = [
        *(root / "guardrails" / "emitters" / "templates" / "terraform").rglob("*.j2"),
        *(root / "guardrails" / "emitters" / "terraform").glob("*.py"),
        *(root / "output" / "terraform").rglob("*.tf"),
    ]
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sources:
        for kind, name in _DECLARED.findall(path.read_text(encoding="utf-8")):
            found[kind].add(name)
    return found


def download(destination: Path) -> Path:
    """``npm pack`` the pinned package into ``destination``; check it against the pinned integrity."""
    try:
        run = subprocess.run(["npm", "pack", f"{PACKAGE}@{PACKAGE_VERSION}", "--silent",
                              "--pack-destination", str(destination)],
                             capture_output=True, text=True, check=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        raise ProviderSchemaError(f"npm pack {PACKAGE}@{PACKAGE_VERSION} failed: {error}") from error
    tarball = destination / run.stdout.strip().splitlines()[-1]
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != PACKAGE_INTEGRITY:
        raise ProviderSchemaError(f"{tarball.name}: integrity {digest} is not the pinned {PACKAGE_INTEGRITY}")
    return tarball


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    if handle is None:
        raise ProviderSchemaError(f"{name} missing from the package")
    return handle.read()


def _snake(camel: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), camel)


def _provider_fqns(type_ref: Any) -> list[str]:
    """The package's own types named in a jsii type reference (unions, arrays and maps unwrapped)."""
    return [f for f in re.findall(r'"fqn": "([^"]+)"', json.dumps(type_ref)) if f.startswith(_PROVIDER)]


class _Assembly:
    """The jsii assembly of the package, read for one resource or data source class at a time."""

    def __init__(self, types: dict[str, Any], js_names: dict[str, dict[str, str]]) -> None:
        self.types = types
        self.js_names = js_names  # per src/<dir>: getter name -> Terraform attribute name

    def properties(self, fqn: str) -> list[dict[str, Any]]:
        return [p for p in self.types[fqn].get("properties", []) if not p.get("static")]

    def element_class(self, fqn: str) -> str:
        """A ``…List``/``…Map`` class's element (its ``get`` method's type), or an ``…OutputReference`` itself."""
        for method in self.types[fqn].get("methods", []):
            if method["name"] == "get":
                return _provider_fqns(method["returns"]["type"])[0]
        return fqn

    def schema(self, cls: str, struct: str | None, directory: str) -> dict[str, Any]:
        """Arguments, nested blocks and read-only attributes of a class (resource, data source or block)."""
        inputs = {p["name"]: p for p in self.properties(struct)} if struct else {}
        getters = {p["name"]: p for p in self.properties(cls)}
        attributes: dict[str, str] = {}
        blocks: dict[str, Any] = {}
        nested: dict[str, Any] = {}
        for camel, prop in inputs.items():
            docs = prop.get("docs", {})
            anchors = _ANCHOR.findall(docs.get("summary", "") + " " + docs.get("remarks", ""))
            name = anchors[0] if anchors else _snake(camel)
            element = _provider_fqns(prop["type"])
            inner = self.schema(self.element_class(_provider_fqns(getters[camel]["type"])[0]), element[0], directory) \
                if element else None
            if inner is not None and docs.get("summary", "").endswith(" block."):
                kind = "single" if "fqn" in prop["type"] else "list"  # a bare struct: MaxItems 1 in the schema
                blocks[name] = {"nesting": kind, "required": not prop.get("optional", False), **inner}
                continue
            attributes[name] = "optional" if prop.get("optional") else "required"
            if inner is not None:  # an object-typed argument (a nested attribute, written `name = {…}`)
                nested[name] = inner
        for camel, prop in getters.items():
            if camel in inputs or camel.endswith("Input") or camel == "internalValue":
                continue
            name = self.js_names.get(directory, {}).get(camel, _snake(camel))
            attributes[name] = "computed"
            element = _provider_fqns(prop["type"])
            if element:
                nested[name] = self.schema(self.element_class(element[0]), None, directory)
        out: dict[str, Any] = {"attributes": dict(sorted(attributes.items()))}
        if blocks:
            out["blocks"] = dict(sorted(blocks.items()))
        if nested:
            out["nested"] = dict(sorted(nested.items()))
        return out


def extract(tarball: Path, wanted: dict[str, set[str]]) -> dict[str, Any]:
    """The schema JSON for the ``wanted`` types, read from the package tarball."""
    with tarfile.open(tarball, "r:gz") as archive:
        package = json.loads(_member(archive, "package/package.json"))
        assembly = json.loads(_member(archive, "package/.jsii"))
        provider = package.get("cdktf", {}).get("provider", {})
        if package.get("version") != PACKAGE_VERSION or not provider.get("version"):
            raise ProviderSchemaError(f"package.json of {tarball.name} names no provider version")
        classes: dict[tuple[str, str], dict[str, Any]] = {}
        for fqn, info in assembly["types"].items():
            match = _CLASS_DOC.search(info.get("docs", {}).get("summary", "")) if info["kind"] == "class" else None
            if match and fqn.startswith(_PROVIDER):
                classes[("resource" if match[1] == "resources" else "data", match[2])] = info
        missing = sorted(f"{kind} {name}" for kind in wanted for name in wanted[kind] if (kind, name) not in classes)
        if missing:
            raise ProviderSchemaError(f"not in provider {provider['version']}: {', '.join(missing)}")
        chosen = {key: classes[key] for key in sorted(classes) if key[1] in wanted[key[0]]}
        directories = {info["locationInModule"]["filename"].rsplit("/", 1)[0] for info in chosen.values()}
        js_names: dict[str, dict[str, str]] = {d: {} for d in directories}
        for member in archive.getmembers():
            parts = member.name.split("/")  # package/lib/<dir>/…/*.js
            directory = "src/" + parts[2] if len(parts) > 3 and parts[1] == "lib" else ""
            if directory in js_names and member.name.endswith(".js"):
                text = _member(archive, member.name).decode("utf-8")
                for camel, name in [*_JS_GETTER.findall(text), *_JS_COMPLEX.findall(text)]:
                    if js_names[directory].setdefault(camel, name) != name:
                        raise ProviderSchemaError(f"{member.name}: {camel} names both {name} and "
                                                  f"{js_names[directory][camel]}")
    reader = _Assembly(assembly["types"], js_names)
    out: dict[str, Any] = {
        "provider": {"source": provider["name"], "version": provider["version"]},
        "package": {"name": PACKAGE, "version": PACKAGE_VERSION, "integrity": PACKAGE_INTEGRITY},
        "generated_by": "make provider-schema (tests/provider_schema.py), from the package's jsii assembly",
        "resource": {}, "data": {},
    }
    for (kind, name), info in chosen.items():
        config = next(p for p in info["initializer"]["parameters"] if p["name"] == "config")["type"]["fqn"]
        directory = info["locationInModule"]["filename"].rsplit("/", 1)[0]
        out[kind][name] = reader.schema(info["fqn"], config, directory)
    out["import_ids"] = IMPORT_IDS
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    parser.add_argument("--tarball", type=Path, help="a downloaded package tarball (skips npm)")
    args = parser.parse_args(argv)
    wanted = emitted_types()
    try:
        with tempfile.TemporaryDirectory(prefix="provider-schema-") as temp:
            data = extract(args.tarball or download(Path(temp)), wanted)
    except ProviderSchemaError as error:
        print(f"provider-schema: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    count = sum(len(data[k]) for k in ("resource", "data"))
    print(f"{args.output}: {count} types of {data['provider']['source']} {data['provider']['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
