"""The comment headers of the management-account stacks: the deployment order, what each stack holds, its import
stage, and the commands that deploy it."""

from __future__ import annotations

from guardrails.emitters.cloudformation import security as security_templates
from guardrails.emitters.cloudformation.organization_accounts import Chunk, accounts_files
from guardrails.emitters.cloudformation.organization_ids import (
    ACCOUNTS,
    ACCOUNTS_PER_STACK,
    BASE_URL,
    ORGANIZATION,
    OU_PARTS,
    STACKSETS,
    accounts_are_resources,
    slug,
    stack,
)
from guardrails.emitters.cloudformation.organization_import import existing_units
from guardrails.emitters.cloudformation.organization_ous import OuPart
from guardrails.policies.ir import Plan, partition_facts


def _ou_files(ous: int) -> str:
    return "organization.yaml" if ous <= 1 else f"organization.yaml, then {OU_PARTS}-2.yaml … {OU_PARTS}-{ous}.yaml"


def _order(n: int, stem: str, parts: int, ous: int = 1) -> list[str]:
    return [
        f"Stack {n} of 3 ({stack(stem)}). The management account's CloudFormation deploys in three steps, in order:",
        f"  1. {_ou_files(ous)}  2. {accounts_files(parts)}  3. stacksets.yaml",
    ]


def _import_lines(plan: Plan, stem: str, what: str) -> list[str]:
    region = plan.org.home_region
    return [
        f"Some {what} exist already, so the first deployment of this stack imports them (an IMPORT change set",
        "may contain nothing but the imported resources):",
        f"  aws cloudformation create-change-set --region {region} --stack-name {stack(stem)} \\",
        f"    --change-set-name import --change-set-type IMPORT --template-body file://{stem}-import.yaml \\",
        f"    --resources-to-import file://{stem}-import.json",
        f"  aws cloudformation execute-change-set --region {region} --stack-name {stack(stem)} "
        "--change-set-name import",
        "then deploy this template as below.",
    ]


def _deploy_line(plan: Plan, stem: str) -> str:
    return (f"  aws cloudformation deploy --region {plan.org.home_region} --stack-name {stack(stem)} "
            f"--template-file {stem}.yaml")


def organization_header(plan: Plan, parts: int, ou: OuPart | None = None) -> list[str]:
    if ou is not None and ou.parts > 1:
        return _ou_part_header(plan, parts, ou)
    lines = [
        *_order(1, ORGANIZATION, parts),
        "This stack: organizational units and the SCPs attached to the root and to OUs. It exports every OU id",
        f"(guardrails-{slug(plan.org.name)}-ou-<OU path>) for the accounts and StackSet stacks; an export cannot",
        "change or go away while another stack imports it, so remove an OU from those stacks first.",
        "Prerequisites: all features enabled, the SERVICE_CONTROL_POLICY type enabled on the root, and trusted",
        "access for CloudFormation StackSets turned on in Organizations.",
        "OUs carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a replacement",
        "ever deletes an OU.",
    ]
    if not accounts_are_resources(plan):
        lines += [
            f"AWS::Organizations::Account does not exist in {plan.org.partition}: create member accounts from the",
            "commercial partition (CreateGovCloudAccount) and move them into their OUs yourself; the stacks refer",
            "to them by id:",
            *(f"  {a.name} ({a.id}) -> {a.unit or 'root'}" for a in plan.accounts if not a.management),
        ]
    if existing_units(plan):
        lines += _import_lines(plan, ORGANIZATION, "OUs")
    return [*lines, "Deploy:", _deploy_line(plan, ORGANIZATION)]


def _ou_part_header(plan: Plan, parts: int, ou: OuPart) -> list[str]:
    """The header of each organization stack when the OUs need several (the single stack keeps the header above)."""
    lines = [
        *_order(1, ou.stem, parts, ou.parts),
        f"Organization stack {ou.part} of {ou.parts}: the OUs, in path order, are split into stacks that each fit the",
        "outputs, resources and inline-size limits, parents before children. Deploy the parts in order: an OU whose",
        "parent is in an earlier part reads the parent's export. Each part creates its OUs, the SCPs attached to",
        f"them{' and to the root' if ou.part == 1 else ''}, and exports their ids "
        f"(guardrails-{slug(plan.org.name)}-ou-<OU path>); the accounts and",
        "StackSet stacks import them by export name, whichever part exports them. An OU that moves to another part",
        "(OUs added before it in path order) must be removed from the old part's template (it is retained) and",
        "imported into the new one; the export cannot move while another stack imports it (docs/deploying.md).",
        "OUs carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a replacement",
        "ever deletes an OU.",
    ]
    if ou.part == 1:
        lines += ["Prerequisites: all features enabled, the SERVICE_CONTROL_POLICY type enabled on the root, and",
                  "trusted access for CloudFormation StackSets turned on in Organizations."]
    if set(existing_units(plan)) & set(ou.units):
        lines += _import_lines(plan, ou.stem, "OUs")
    return [*lines, "Deploy:", _deploy_line(plan, ou.stem)]


def chunk_header(plan: Plan, chunk: Chunk, *, importing: bool, ous: int = 1) -> list[str]:
    lines = _order(2, chunk.stem, chunk.parts, ous)
    if accounts_are_resources(plan):
        lines.append("This stack: member accounts, in the OUs exported by organization.yaml, and the SCPs attached")
        lines.append("to them. Deploy it after organization.yaml and before stacksets.yaml.")
    else:
        lines.append(f"This stack: the SCPs attached to member accounts, by account id ({plan.org.partition} has no")
        lines.append("AWS::Organizations::Account). Deploy it after organization.yaml and before stacksets.yaml.")
    if chunk.parts > 1:
        lines += [
            f"Part {chunk.part} of {chunk.parts}: the accounts, sorted by OU path then name, are split into stacks"
            f" of at most {ACCOUNTS_PER_STACK} that each fit the resource and inline-size limits (deploy the parts in",
            "any order). An account that moves to another part must be imported there (it is retained, not",
            "recreated, by the part it leaves).",
        ]
    if accounts_are_resources(plan):
        lines += ["Accounts carry DeletionPolicy and UpdateReplacePolicy Retain: neither deleting this stack nor a",
                  "replacement ever closes an account."]
    if importing:
        lines += _import_lines(plan, chunk.stem, "accounts")
    return [*lines, "Deploy:", _deploy_line(plan, chunk.stem)]


def stacksets_header(plan: Plan, parts: int, ous: int = 1) -> list[str]:
    region = plan.org.home_region
    return [
        *_order(3, STACKSETS, parts, ous),
        "This stack: one service-managed StackSet per member-account class, rolling the baseline-*.yaml",
        "templates out in the home region. Deploy it last: OU ids come from the exports of organization.yaml,",
        f"and the accounts the StackSets target must exist, but they live in the {ACCOUNTS} stacks, so",
        "no DependsOn can order them: deploy those first.",
        "Upload the baseline-*.yaml files to S3 first, then:",
        f"{_deploy_line(plan, STACKSETS)} \\",
        f"    --parameter-overrides {BASE_URL}=https://BUCKET.s3.{region}."
        f"{partition_facts(plan.org.partition).dns_suffix}/PREFIX" + (
            f" {security_templates.LOG_KEY}=KEY_ARN" if plan.security is not None
            and security_templates.log_key_is_parameter(plan.security) else ""),
        *_security_lines(plan),
    ]


def _security_lines(plan: Plan) -> list[str]:
    """What the account security StackSet adds to the header of stacksets.yaml (nothing without it)."""
    security = plan.security
    if security is None:
        return []
    lines = [
        f"The StackSet {security_templates.STACKSET_NAME} rolls account-security.yaml (upload it with the baselines)",
        "out to every member account in the regions "
        f"{', '.join(security_templates.stackset_regions(plan, security))}, one after another.",
        "It is step 5 of the security baseline: deploy organization-security.yaml, log-archive.yaml and",
        "security-analyzer.yaml first (see their headers).",
    ]
    if security_templates.log_key_is_parameter(security):
        lines.append(f"{security_templates.LOG_KEY}: the output of the guardrails-log-archive stack.")
    return lines
