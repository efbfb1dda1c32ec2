"""The documented CloudFormation deployment (docs/deploying.md, docs/security-baseline.md), step by step.

Which template goes into which account, in which order, is the documentation's; what each step runs is the
template header's own commands (tests/deploy/commands.py), with the placeholders the docs use (BUCKET, PREFIX,
KEY_ARN) filled in from earlier steps. The pre-existing state a blueprint describes (the organization with its
ids, OUs with an ``id``, accounts marked ``existing``) is created first, as it exists before the first deployment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from guardrails.emitters.cloudformation.organization import export_names
from guardrails.pipeline import Compiled

from .commands import Command, header_commands, run
from .emulator import Emulator, intercepted_invocations, only_managed_policies, pinned_ids, regional_pseudo_parameters
from .stacks import Deployment
from .template import load

BUCKET = "guardrails-templates"  # the docs' BUCKET/PREFIX, where the StackSets' templates are uploaded
PREFIX = "guardrails/v1"
DEPLOY_COMMANDS = {"aws cloudformation deploy", "aws cloudformation create-change-set",
                   "aws cloudformation execute-change-set"}


@dataclass(frozen=True)
class Step:
    """One documented step: the template whose header commands run, and as which account."""

    template: str  # file name under cloudformation/
    account: str  # account name
    part: str = "all"  # "commands": the header's other commands; "deploy": its stack commands; "all": both

    def commands(self, files: Mapping[str, str]) -> list[Command]:
        every = header_commands(files[f"cloudformation/{self.template}"])
        if self.part == "all":
            return every
        deploying = [c for c in every if f"aws {c.service} {c.operation}" in DEPLOY_COMMANDS]
        return deploying if self.part == "deploy" else [c for c in every if c not in deploying]


def documented_steps(compiled: Compiled) -> list[Step]:
    """The CloudFormation steps in the documented order, for the templates this output has."""
    plan, files = compiled.plan, compiled.files
    have = {p.removeprefix("cloudformation/") for p in files if p.startswith("cloudformation/")}
    management = plan.management_account.name
    security = plan.security
    steps = [Step("organization.yaml", management)]
    accounts = sorted(t for t in have if t.startswith("organization-accounts") and t.endswith(".yaml")
                      and not t.endswith("-import.yaml"))
    steps += [Step(t, management) for t in accounts]
    if "organization-security.yaml" in have and security is not None:
        steps.append(Step("organization-security.yaml", management, "commands"))
        if "log-archive.yaml" in have:
            steps.append(Step("log-archive.yaml", security.log_account))
        steps.append(Step("organization-security.yaml", management, "deploy"))
        if "security-analyzer.yaml" in have and security.analyzer_account:
            steps.append(Step("security-analyzer.yaml", security.analyzer_account))
        if "security-detection.yaml" in have and security.detection_admin:
            steps.append(Step("security-detection.yaml", security.detection_admin))
    steps.append(Step("stacksets.yaml", management))
    if "management-baseline.yaml" in have:
        steps.append(Step("management-baseline.yaml", management))
    if "account-security.yaml" in have:
        steps.append(Step("account-security.yaml", management))
    if "identity-center.yaml" in have and plan.identity_center is not None:
        steps.append(Step("identity-center.yaml", plan.identity_center.admin_account))
    return steps


@dataclass
class Organization:
    """The emulated organization after the documented deployment."""

    deployment: Deployment
    compiled: Compiled
    ids: dict[str, str]  # account name -> id
    steps: list[Step] = field(default_factory=list)
    commands: list[tuple[str, Command]] = field(default_factory=list)  # (account name, command) as run


def _aws_policies(compiled: Compiled) -> set[str]:
    """The AWS managed policies the output names (their names: moto's data is keyed by name)."""
    found: set[str] = set()
    for text in compiled.files.values():
        names = re.findall(r"arn:aws[a-z-]*:iam::aws:policy/([A-Za-z0-9+=,.@_/-]+)", text)
        found |= {name.rsplit("/", 1)[-1] for name in names}
    return found


def _pins(compiled: Compiled) -> dict[str, Any]:
    plan = compiled.plan
    accounts = {a.email.lower(): a.id for a in (*plan.accounts, *plan.pending_accounts) if a.id}
    return {"accounts": accounts, "organization": plan.org.org_id or None, "root": plan.org.root_id or None}


@contextmanager
def _pinned(compiled: Compiled, units: dict[tuple[str, str], str]) -> Iterator[None]:
    pins = _pins(compiled)
    with pinned_ids(pins["accounts"], pins["organization"], pins["root"], units):
        yield


def deploy(emulator: Emulator, compiled: Compiled, gaps: Mapping[str, str]) -> Organization:
    """Deploy the compiled output in the documented order; every step must succeed."""
    plan, files = compiled.plan, compiled.files
    management = plan.management_account
    units: dict[tuple[str, str], str] = {}
    with _pinned(compiled, units), regional_pseudo_parameters(), only_managed_policies(_aws_policies(compiled)), \
            intercepted_invocations(emulator.url) as invocations:
        deployment = Deployment(emulator, management.id, plan.org.home_region, gaps)
        deployment.invocations = invocations
        if emulator.partition != "aws":
            deployment.gaps_used["AWS::Partition and AWS::URLSuffix"] += 1  # regional_pseudo_parameters resolves it
        org = Organization(deployment, compiled, {a.name: a.id for a in plan.accounts if a.id})
        _prerequisites(org, units)
        placeholders: dict[str, str] = {}
        if plan.security is not None and plan.security.log_kms_key_arn:
            placeholders["KEY_ARN"] = plan.security.log_kms_key_arn  # an existing log archive's key
        pending: dict[str, Any] = {}
        unsupported = {g for g in gaps if g.startswith("aws ")}
        for step in documented_steps(compiled):
            if step.template == "stacksets.yaml":
                placeholders.update(_upload(org))
            if step.template.startswith("organization-accounts"):
                _move_existing_accounts(org)  # GovCloud: no account resources, the header says move them
            account_id = org.ids[step.account]
            org.steps.append(step)
            for command in step.commands(files):
                org.commands.append((step.account, command))
                run(deployment, account_id, command, placeholders, unsupported, pending, files)
            if step.template == "log-archive.yaml":
                stack = deployment.stack(account_id, plan.org.home_region, "guardrails-log-archive")
                placeholders["KEY_ARN"] = str(deployment.output(stack, "LogArchiveKeyArn"))
            if step.template.startswith("organization-accounts"):
                org.ids.update(_account_ids(org))
        if pending:
            raise AssertionError(f"IMPORT change sets created but never executed: {sorted(pending)}")
    return org


def _prerequisites(org: Organization, units: dict[tuple[str, str], str]) -> None:
    """What must exist before the first step (docs/deploying.md): the organization with all features, the policy
    types enabled on the root, and whatever the blueprint says exists already."""
    plan = org.compiled.plan
    orgs = org.deployment.management_client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    if plan.rcps:
        orgs.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    ids = {"": root}
    for unit in sorted(plan.units, key=lambda u: u.path.count("/")):
        if unit.existing_id:
            units[(ids[unit.parent], unit.name)] = unit.existing_id
            ids[unit.path] = orgs.create_organizational_unit(ParentId=ids[unit.parent],
                                                             Name=unit.name)["OrganizationalUnit"]["Id"]
    for account in plan.accounts:
        if account.existing and not account.management:
            orgs.create_account(AccountName=account.name, Email=account.email)


def _move_existing_accounts(org: Organization) -> None:
    """Accounts the templates do not create (aws-us-gov has no AWS::Organizations::Account): moved into their OUs
    by hand, as the header of organization.yaml says, once the OUs exist."""
    templates = [load(t) for p, t in org.compiled.files.items()
                 if p.startswith("cloudformation/organization-accounts") and p.endswith(".yaml")]
    if any(r["Type"] == "AWS::Organizations::Account" for t in templates for r in t["Resources"].values()):
        return
    deployment = org.deployment
    orgs = deployment.management_client("organizations")
    exports = deployment.exports[(deployment.management_id, deployment.home_region)]
    names = export_names(org.compiled.plan)
    for account in org.compiled.plan.accounts:
        if account.management or not account.unit:
            continue
        target = exports[names[account.unit]]
        current = orgs.list_parents(ChildId=account.id)["Parents"][0]["Id"]
        if current != target:
            orgs.move_account(AccountId=account.id, SourceParentId=current, DestinationParentId=target)


def _account_ids(org: Organization) -> dict[str, str]:
    orgs = org.deployment.management_client("organizations")
    return {a["Name"]: a["Id"] for a in orgs.list_accounts()["Accounts"]}


def _upload(org: Organization) -> dict[str, str]:
    """Upload the StackSets' templates to S3 in the management account (docs/deploying.md, step 3)."""
    deployment = org.deployment
    region = deployment.home_region
    s3 = deployment.management_client("s3", region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=BUCKET, **config)
    for path, text in sorted(org.compiled.files.items()):
        name = path.removeprefix("cloudformation/")
        if path.startswith("cloudformation/") and (name.startswith("baseline-") or name == "account-security.yaml"):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}", Body=text.encode("utf-8"))
    return {"BUCKET": BUCKET, "PREFIX": PREFIX}
