"""Deploying the Terraform in its documented order (guardrails.emitters.terraform.order, docs/deploying.md).

Fast: the order's rule, checked on the emitted files: no data source of a root module reads at plan time what the
same or a later step creates, so every step plans on a new organization.

Slow: the organization root module, as emitted, planned before the log archive exists, applied, and planned again
(no changes) with the real Terraform binary and the real AWS provider against moto in server mode.

Emulator gaps (moto 5.2.5, the AWS provider of the offline mirror); each is covered by another test:

- Provider version: the emitted constraint is ``~> 6.0``; the offline mirror (/opt/tf-plugins) holds an older
  provider (5.100.0 here), so the temporary copy pins the mirror's version in an override file. The 6.x schema of
  every emitted argument is checked by tests/test_terraform_schema.py.
- Ids: moto makes up the organization and root ids; the example names its own (o-exampleorg1, r-ex01), so the copy
  uses the emulator's. The import id format is checked by tests/test_terraform_schema.py.
- moto's Organizations knows a fixed list of service principals: ``iam.amazonaws.com`` (trusted access for IAM's
  centralized root access) and ``config.amazonaws.com`` (delegated administrator) are missing, so the emulator's
  lists get them for the test
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services_list.html).
- Apply only: moto implements neither IAM's organization features (``aws_iam_organizations_features``: the
  provider retries until its timeout) nor Security Hub's organization administrator
  (``aws_securityhub_organization_admin_account``: 404); the apply copy leaves both out. Their arguments are checked
  by tests/test_terraform_schema.py and tests/test_security_terraform.py.
- moto keeps KMS keys per account and resolves no other account's key or alias ARN, so the root modules that look
  the log archive's key up by its alias ARN (organization-trail, the accounts' security.tf) are not planned here;
  the fast rule below checks that they come after the log archive.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from guardrails.blueprint import load_blueprint
from guardrails.emitters.terraform import emit, emit_identity_center
from guardrails.emitters.terraform.order import ORGANIZATION, TRAIL, apply_order
from guardrails.model import build_model
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.ir import Plan
from guardrails.policies.synthesize import synthesize

from .conftest import EXAMPLE_TODAY, ROOT
from .deploy.emulator import reset

# ----------------------------------------------------------------------------- the rule, statically

Key = tuple[str, ...]  # what a data source reads, what a resource creates


@dataclass
class RootModule:
    directory: str
    account: str  # the default provider's allowed account
    creates: set[Key] = field(default_factory=set)
    reads: list[tuple[str, Key | str]] = field(default_factory=list)  # (data address, key, or why it is wrong)


def _literal(raw: Any) -> str | None:
    if isinstance(raw, str) and raw.startswith('"') and raw.endswith('"') and "${" not in raw:
        return raw[1:-1]
    return None


_ALIAS_ARN = re.compile(r"arn:[\w-]+:kms:[\w-]+:(\d{12}):(alias/.+)")


def _read_key(rtype: str, body: dict[str, Any]) -> Key | str | None:
    """What a data source reads that a root module could create; None: nothing (pure, or made outside Terraform).
    Every data source type guardrails emits is classified here, so a new one fails until it is."""
    if rtype == "aws_iam_policy_document":
        return None  # computed locally by the provider
    if rtype == "aws_kms_key":
        key_id = _literal(body.get("key_id"))
        if key_id is None:
            return "key_id is an expression: refer to the key resource directly"
        alias = _ALIAS_ARN.fullmatch(key_id)
        return ("kms-alias", alias[1], alias[2]) if alias else None  # a key ARN: a key that exists already
    if rtype == "aws_guardduty_detector":
        return ("guardduty-detector",)
    if rtype == "aws_identitystore_group":
        return ("identitystore-group",)  # made by the identity provider (SCIM) or by hand, never here
    return f"data source type {rtype} is not classified in tests/test_deploy_terraform.py"


def _created_keys(rtype: str, body: dict[str, Any], account: str) -> set[Key]:
    if rtype == "aws_kms_alias" and (name := _literal(body.get("name"))):
        return {("kms-alias", account, name)}
    if rtype in ("aws_guardduty_detector", "aws_guardduty_organization_admin_account"):
        return {("guardduty-detector",)}  # a designated administrator gets a detector
    if rtype == "aws_identitystore_group":
        return {("identitystore-group",)}
    return set()


def root_modules(files: dict[str, str]) -> dict[str, RootModule]:
    """Every root module (a directory with backend.tf) with what it and the modules it calls create and read."""
    trees: dict[str, list[dict[str, Any]]] = {}
    for path, text in sorted(files.items()):
        if path.startswith("terraform/") and path.endswith(".tf"):
            trees.setdefault(posixpath.dirname(path), []).append(hcl2.loads(text))
    roots = {}
    for directory in sorted(d for d in trees if f"{d}/backend.tf" in files):
        providers = [body for tree in trees[directory] for entry in tree.get("provider", [])
                     for body in entry.values() if "alias" not in body]
        [provider] = providers
        root = RootModule(directory, _literal(provider["allowed_account_ids"][0]) or "")
        pending, seen = [directory], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            for tree in trees.get(current, []):
                for entry in tree.get("resource", []):
                    for rtype, named in entry.items():
                        for body in named.values():
                            root.creates |= _created_keys(rtype.strip('"'), body, root.account)
                for entry in tree.get("data", []):
                    for rtype, named in entry.items():
                        for name, body in named.items():
                            key = _read_key(rtype.strip('"'), body)
                            if key is not None:
                                root.reads.append((f"{current}: data.{rtype.strip(chr(34))}.{name.strip(chr(34))}",
                                                   key))
                for entry in tree.get("module", []):
                    for body in entry.values():
                        pending.append(posixpath.normpath(posixpath.join(current, _literal(body["source"]) or "")))
        roots[directory] = root
    return roots


def order_problems(plan: Plan, files: dict[str, str]) -> list[str]:
    """Where the emitted files break the apply order's rule, as readable lines."""
    steps = {d: number for number, step in enumerate(apply_order(plan), 1) for d in step.directories}
    roots = root_modules(files)
    problems = [f"{d}: a root module that is in no step of the apply order" for d in roots if d not in steps]
    problems += [f"{d}: in the apply order but not emitted" for d in steps if d not in roots]
    for root in roots.values():
        for address, key in root.reads:
            if isinstance(key, str):
                problems.append(f"{address}: {key}")
                continue
            for creator in roots.values():
                if key not in creator.creates:
                    continue
                if creator.directory == root.directory or steps.get(creator.directory, 0) >= steps.get(
                        root.directory, 0):
                    problems.append(f"{address} (step {steps.get(root.directory)}) reads what "
                                    f"{creator.directory} (step {steps.get(creator.directory)}) creates: it "
                                    "cannot be planned before that step is applied")
    return problems


def _case(name: str) -> tuple[Plan, dict[str, str]]:
    plan = synthesize(build_model(load_blueprint(ROOT / "tests" / "cases" / name / "blueprint")))
    return plan, {**emit(plan), **emit_identity_center(plan)}


def test_example_root_modules_read_only_what_earlier_steps_created(example_compiled: Compiled) -> None:
    assert order_problems(example_compiled.plan, example_compiled.files) == []


@pytest.mark.parametrize("case", ["bootstrap", "federation", "minimal"])
def test_case_root_modules_read_only_what_earlier_steps_created(case: str) -> None:
    assert order_problems(*_case(case)) == []


def test_the_example_order(example_compiled: Compiled) -> None:
    steps = [step.directories for step in apply_order(example_compiled.plan)]
    assert steps[:4] == [(ORGANIZATION,), ("terraform/accounts/log-archive",), (TRAIL,), ("terraform/accounts/audit",)]
    assert steps[-1] == ("terraform/identity-center",)
    organization = root_modules(example_compiled.files)[ORGANIZATION]
    assert organization.reads == []  # nothing at all: it is the first step
    trail = example_compiled.files[f"{TRAIL}/trail.tf"]
    assert 'resource "aws_cloudtrail" "organization"' in trail
    assert "aws_cloudtrail" not in example_compiled.files[f"{ORGANIZATION}/security.tf"].replace(
        "from = aws_cloudtrail.organization", "")


def test_the_rule_catches_a_lookup_of_a_later_step(example_compiled: Compiled) -> None:
    """The layout before the fix: the organization module looked the log archive's key up by its alias."""
    files = dict(example_compiled.files)
    files[f"{ORGANIZATION}/security.tf"] += (
        '\ndata "aws_kms_key" "log_archive" {\n'
        '  key_id = "arn:aws:kms:eu-west-1:200000000001:alias/guardrails-log-archive"\n}\n')
    [problem] = order_problems(example_compiled.plan, files)
    assert "data.aws_kms_key.log_archive (step 1) reads what terraform/accounts/log-archive (step 2)" in problem
    files[f"{ORGANIZATION}/security.tf"] += 'data "aws_ssm_parameter" "x" {\n  name = "x"\n}\n'
    assert any("aws_ssm_parameter is not classified" in p for p in order_problems(example_compiled.plan, files))


def test_docs_give_the_terraform_steps_in_the_apply_order(example_compiled: Compiled) -> None:
    """docs/deploying.md's Terraform sequence names the example's root modules in the emitter's apply order."""
    text = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    section = text.split("\n## Terraform\n", 1)[1].split("\n## ", 1)[0]
    loop = re.search(r"^for account in ([\w .-]+); do\n  cd \"output/terraform/accounts/\$account\"$", section, re.M)
    positions = []
    for step in apply_order(example_compiled.plan):
        if len(step.directories) > 1:
            assert loop, "docs/deploying.md: no `for account in …` loop for the step of many accounts"
            assert [f"terraform/accounts/{a}" for a in loop[1].split()] == list(step.directories)
            positions.append(loop.start())
            continue
        [directory] = step.directories
        assert f"cd output/{directory}\n" in section, f"docs/deploying.md: no `cd output/{directory}`"
        positions.append(section.index(f"cd output/{directory}\n"))
    assert positions == sorted(positions), "docs/deploying.md gives the Terraform steps in another order"


# ----------------------------------------------------------------------------- real Terraform against moto

TERRAFORM = Path(os.environ.get("GUARDRAILS_TERRAFORM", "/usr/local/bin/terraform"))
PLUGINS = Path(os.environ.get("GUARDRAILS_TF_PLUGINS", "/opt/tf-plugins"))
PROVIDER_DIR = "registry.terraform.io/hashicorp/aws"
TIMEOUT = 900  # seconds per Terraform command: a provider retrying an API moto lacks fails instead of hanging
MOTO_MISSING_PRINCIPALS = {"trusted": ["iam.amazonaws.com"], "delegated": ["config.amazonaws.com"]}
NOT_EMULATED = ("aws_iam_organizations_features", "aws_securityhub_organization_admin_account")
SERVICES = ("accessanalyzer", "cloudtrail", "cloudwatch", "configservice", "ec2", "events", "guardduty", "iam",
            "identitystore", "kms", "organizations", "s3", "s3control", "securityhub", "sns", "ssoadmin", "sts")


def _provider_version() -> str:
    """The AWS provider release in the offline mirror; fails, naming what is missing, when there is none."""
    if not (TERRAFORM.is_file() and os.access(TERRAFORM, os.X_OK)):
        pytest.fail(f"the Terraform binary is missing: {TERRAFORM} (set GUARDRAILS_TERRAFORM to another one)")
    versions = sorted((p.name for p in (PLUGINS / PROVIDER_DIR).glob("*") if (p / "linux_amd64").is_dir()),
                      key=lambda v: [int(x) for x in re.findall(r"\d+", v)])
    if not versions:
        pytest.fail(f"the AWS provider is missing from the filesystem mirror: no {PLUGINS}/{PROVIDER_DIR}/"
                    "<version>/linux_amd64/ (set GUARDRAILS_TF_PLUGINS to another mirror)")
    return versions[-1]


@pytest.fixture(scope="module")
def emulator(moto_url: str) -> Iterator[str]:
    """The moto server (tests/conftest.py), with the service principals it lacks (module docstring) while this
    module runs."""
    from moto.organizations.models import FakeDelegatedAdministrator, FakeServiceAccess

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeServiceAccess, "TRUSTED_SERVICES",
                      [*FakeServiceAccess.TRUSTED_SERVICES, *MOTO_MISSING_PRINCIPALS["trusted"]])
        patch.setattr(FakeDelegatedAdministrator, "SUPPORTED_SERVICES",
                      [*FakeDelegatedAdministrator.SUPPORTED_SERVICES, *MOTO_MISSING_PRINCIPALS["delegated"]])
        yield moto_url


def _client(url: str, service: str, account_id: str, region: str) -> Any:
    """A boto3 client acting in ``account_id`` of the emulator (moto maps assumed-role credentials to it)."""
    import boto3

    base = {"endpoint_url": url, "region_name": region, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    credentials = boto3.client("sts", **base).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/guardrails-test-seed", RoleSessionName="seed")["Credentials"]
    return boto3.client(service, **{**base, "aws_access_key_id": credentials["AccessKeyId"],
                                    "aws_secret_access_key": credentials["SecretAccessKey"],
                                    "aws_session_token": credentials["SessionToken"]})


@dataclass
class Workspace:
    """A temporary copy of the emitted Terraform, pointed at the emulator, and the commands to run in it."""

    root: Path
    env: dict[str, str]
    substitutions: dict[str, str]  # the example's organization and root ids → the emulator's

    def write(self, path: str, text: str) -> None:
        """An emitted file, with the emulator's ids."""
        for before, after in self.substitutions.items():
            text = text.replace(before, after)
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def run(self, directory: str, command: str, *args: str, expect: tuple[int, ...] = (0,)) -> str:
        """stdout of one Terraform command (stderr too when it fails)."""
        started = time.monotonic()
        flags = ["-input=false"] if command in ("init", "plan", "apply") else []
        done = subprocess.run([str(TERRAFORM), command, *flags, "-no-color", *args], cwd=self.root / directory,
                              env=self.env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        print(f"terraform {command} in {directory}: exit {done.returncode} after {time.monotonic() - started:.0f}s")
        assert done.returncode in expect, \
            f"terraform {command} {' '.join(args)} in {directory}:\n{(done.stdout + done.stderr)[-6000:]}"
        return done.stdout


def _override(version: str, url: str, aliases: list[str]) -> str:
    """emulator_override.tf: local backend, the mirror's provider, every provider block pointed at the emulator.
    Override files merge into the emitted blocks: https://developer.hashicorp.com/terraform/language/files/override"""
    endpoints = "\n".join(f'    {s} = "{url}"' for s in SERVICES)
    settings = ('  access_key                  = "test"\n  secret_key                  = "test"\n'
                "  skip_credentials_validation = true\n  skip_metadata_api_check     = true\n"
                f"  s3_use_path_style           = true\n\n  endpoints {{\n{endpoints}\n  }}\n")
    blocks = [f'provider "aws" {{\n{settings}}}\n',
              *(f'provider "aws" {{\n  alias = "{a}"\n{settings}}}\n' for a in aliases)]
    return ('terraform {\n  backend "local" {}\n\n  required_providers {\n    aws = {\n'
            f'      source  = "hashicorp/aws"\n      version = "{version}"\n    }}\n  }}\n}}\n\n' + "\n".join(blocks))


def _drop_resources(text: str, types: tuple[str, ...]) -> str:
    for rtype in types:
        text = re.sub(rf'(?ms)^resource "{rtype}" "[^"]+" \{{\n.*?^\}}\n', "", text)
    return text


@pytest.fixture
def workspace(emulator: str, example_compiled: Compiled, tmp_path: Path) -> Workspace:
    """A fresh emulator with the example's existing organization, and the emitted Terraform pointed at it."""
    version = _provider_version()
    reset(emulator)
    plan = example_compiled.plan
    assert plan.org.existing  # the example adopts its organization with an import block
    organizations = _client(emulator, "organizations", plan.management_account.id, plan.org.home_region)
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    workspace = Workspace(tmp_path, {}, {plan.org.org_id: org_id, plan.org.root_id: root_id})
    for path, text in example_compiled.files.items():
        if path.startswith("terraform/"):
            workspace.write(path, text)
    for directory in {posixpath.dirname(p) for p in example_compiled.files if p.endswith("/backend.tf")}:
        aliases = [body["alias"].strip('"') for path, text in example_compiled.files.items()
                   if posixpath.dirname(path) == directory and path.endswith(".tf")
                   for entry in hcl2.loads(text).get("provider", []) for body in entry.values() if "alias" in body]
        (tmp_path / directory / "emulator_override.tf").write_text(_override(version, emulator, aliases),
                                                                   encoding="utf-8")
    (tmp_path / "terraform.rc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n  }}\n}}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(TF_CLI_CONFIG_FILE=str(tmp_path / "terraform.rc"), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
               AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path))
    workspace.env = env
    return workspace


def _log_key_is_missing(url: str, plan: Plan) -> bool:
    from botocore.exceptions import ClientError

    assert plan.security is not None
    kms = _client(url, "kms", plan.account(plan.security.log_account).id, plan.org.home_region)
    try:
        kms.describe_key(KeyId="alias/guardrails-log-archive")
    except ClientError as error:
        return error.response["Error"]["Code"] == "NotFoundException"
    return False


@pytest.mark.slow
def test_organization_plans_before_the_log_archive_exists(workspace: Workspace, emulator: str,
                                                          example_compiled: Compiled) -> None:
    assert _log_key_is_missing(emulator, example_compiled.plan)
    workspace.run(ORGANIZATION, "init")
    output = workspace.run(ORGANIZATION, "plan", "-detailed-exitcode", expect=(2,))  # 2: succeeded, with changes
    assert "aws_organizations_organization.this: Preparing import" in output
    assert "aws_kms_key" not in output and "Error:" not in output


@pytest.mark.slow
def test_organization_applies_and_then_plans_no_changes(workspace: Workspace, example_compiled: Compiled) -> None:
    security = workspace.root / ORGANIZATION / "security.tf"
    security.write_text(_drop_resources(security.read_text(encoding="utf-8"), NOT_EMULATED), encoding="utf-8")
    workspace.run(ORGANIZATION, "init")
    workspace.run(ORGANIZATION, "plan", "-out=first.tfplan")
    workspace.run(ORGANIZATION, "apply", "first.tfplan")
    output = workspace.run(ORGANIZATION, "plan", "-detailed-exitcode")  # 0: no changes
    assert "No changes." in output
    state = json.loads(workspace.run(ORGANIZATION, "show", "-json"))
    created = {r["address"] for r in state["values"]["root_module"]["resources"]}
    members = {a.name for a in example_compiled.plan.organization_members}
    assert len([a for a in created if a.startswith("aws_organizations_account.")]) == len(members)
    assert "aws_organizations_organization.this" in created


@pytest.mark.slow
def test_a_renamed_role_moves_in_the_state_and_nothing_is_replaced(workspace: Workspace, tmp_path: Path) -> None:
    """An account's baseline applied, then its auditor role renamed in the blueprint with `moved_from`
    (tests/test_moved_from.py): the plan moves the role and its attachments and creates or destroys nothing."""
    account, module = "terraform/accounts/app-prod", "terraform/modules/baseline-workloads-prod"
    (workspace.root / account / "security.tf").unlink()  # the security services need the organization's steps
    # The child module's own constraint, pinned to the mirror's provider as the root's override pins it.
    (workspace.root / module / "emulator_override.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        f'      version = "{_provider_version()}"\n    }}\n  }}\n}}\n', encoding="utf-8")
    workspace.run(account, "init")
    workspace.run(account, "apply", "-auto-approve")

    blueprint = tmp_path / "renamed"
    shutil.copytree(ROOT / "blueprints", blueprint)
    identity = blueprint / "identity.yaml"
    auditor = "  auditor:\n    name: SecurityAuditor\n"
    assert auditor in identity.read_text()
    identity.write_text(identity.read_text().replace(
        auditor, "  security-auditor:\n    name: SecurityAuditor\n    moved_from: auditor\n"))
    renamed = compile_blueprint(blueprint, today=EXAMPLE_TODAY, run_tests=False).files
    assert f"{module}/moved.tf" in renamed
    for path, text in renamed.items():
        if path.startswith(f"{module}/"):
            workspace.write(path, text)

    workspace.run(account, "plan", "-out=renamed.tfplan")
    planned = json.loads(workspace.run(account, "show", "-json", "renamed.tfplan"))
    changes = {c["address"]: c for c in planned["resource_changes"] if c["mode"] == "managed"}
    moved = {address: c["previous_address"] for address, c in changes.items() if "previous_address" in c}
    assert moved["module.baseline.aws_iam_role.role_security_auditor"] == "module.baseline.aws_iam_role.role_auditor"
    assert {a.split(".")[2] for a in moved} == {"aws_iam_role", "aws_iam_role_policy_attachment"}
    assert {address: c["change"]["actions"] for address, c in changes.items()
            if c["change"]["actions"] != ["no-op"]} == {}
    workspace.run(account, "apply", "renamed.tfplan")
    assert "No changes." in workspace.run(account, "plan", "-detailed-exitcode")
