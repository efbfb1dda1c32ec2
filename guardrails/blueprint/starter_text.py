"""The text of the starter blueprint's files (``guardrails init``): YAML written line by line, with the comments
that explain each section. See :mod:`guardrails.blueprint.starter` for what phase 1 and phase 2 hold."""

from __future__ import annotations

from guardrails.blueprint.starter import (
    PHASE_2,
    PLACEHOLDER_ACCOUNT_ID,
    PLACEHOLDER_ORG_ID,
    PLACEHOLDER_ROOT_ID,
    PLACEHOLDER_TOWER_OU_ID,
    WHITEPAPER,
    StarterOptions,
    member_email,
)

DOCS = "guardrails' docs/"  # the documentation folder of the guardrails repository
# Regions a region-restriction test may ask about, in this order: the first one not allowed is used.
PROBE_REGIONS = ("sa-east-1", "ap-southeast-2", "eu-north-1", "ca-central-1", "ap-northeast-1", "us-west-1")


def _placeholder_email(options: StarterOptions) -> bool:
    return options.management_email.endswith("@example.com")


def _email_note(options: StarterOptions) -> str:
    return "  # REPLACE: a mailbox you own, unique per account" if _placeholder_email(options) else ""


def _units(options: StarterOptions) -> list[tuple[str, list[str], list[str]]]:
    """(OU path, its accounts, comment lines) of the layout, parents before children."""
    security = [] if options.control_tower else ["log-archive", "audit"]
    if options.layout == "minimal":
        return [("Security", security, []), ("Workloads", [], []), ("Quarantine", [], [])]
    return [("Security", security, []), ("Infrastructure", ["network", "shared-services"], []),
            ("Workloads", [], []), ("Workloads/Prod", [], []), ("Workloads/NonProd", [], []),
            ("Sandbox", [], []), ("Quarantine", [], [])]


def organization_text(options: StarterOptions) -> str:
    """organization.yaml: the organization, the OU layout, the accounts, break-glass and the root guardrails."""
    o = options
    existing = o.organization_id is not None
    lines = [
        f"# The organization, written by `guardrails init` ({o.layout} layout"
        f"{', AWS Control Tower' if o.control_tower else ''}). Every key: {DOCS}blueprint.md;",
        "# `guardrails schema -o blueprint.schema.json` gives editors the schema. `grep -rn REPLACE .` lists the",
        "# placeholders left to fill in. Compile with `guardrails build` (output/ by default); nothing is deployed",
        f"# by guardrails itself ({DOCS}deploying.md).",
        "#",
        "# Phase 1: the member accounts below have no `id` yet. The first deployment (terraform/organization, or",
        "# CloudFormation stacks 1 and 2) creates them; then record each id with `guardrails account set-id NAME",
        "# ID` and their baselines follow. phase-2/README.md says what to add then (the security baseline above",
        "# all). An account that exists already: write its `id` and `existing: true` instead.",
        "organization:",
        f"  name: {o.name}                       # short name: lowercase, digits, dashes",
        "  partition: aws",
    ]
    if existing:
        lines.append(f"  id: {o.organization_id}")
    else:
        lines += [
            "  # A new organization: create it first in the management account (`aws organizations",
            "  # create-organization --feature-set ALL`), then write its id and root id here. guardrails imports it",
            "  # rather than creating it, because the id is part of the RCPs, trust conditions and the log bucket",
            "  # policy, and it is only known once the organization exists.",
            f"  id: {PLACEHOLDER_ORG_ID}              # REPLACE: `aws organizations describe-organization`",
        ]
    root = o.root_id or PLACEHOLDER_ROOT_ID
    lines.append(f"  root_id: {root}" + ("" if o.root_id else "                   # REPLACE: `aws organizations "
                                                                  "list-roots`"))
    lines += [
        "  existing: true                     # the organization exists: Terraform imports it",
        "  management_account:               # the account that owns the organization (no SCP ever applies to it)",
        "    name: management",
        f'    id: "{o.management_account_id or PLACEHOLDER_ACCOUNT_ID}"'
        + ("" if o.management_account_id else "               # REPLACE: the management account's 12-digit id"),
        f"    email: {o.management_email}" + ("  # REPLACE: its root email address" if _placeholder_email(o) else ""),
        "    # deployment_role: GuardrailsManagementDeployer   # the role Terraform assumes here; create it once",
        f"  home_region: {o.home_region}             # IAM stacks and global AWS Config recording live here",
        f"  allowed_regions: [{', '.join(o.allowed_regions)}]   # the region-restriction guardrail denies the others",
    ]
    if o.control_tower:
        lines += [
            "  # AWS Control Tower governs the organization: guardrails never creates or changes the OUs it manages",
            "  # (each needs its `id`), keeps SCP slots free there for Control Tower's controls, and exempts its",
            "  # roles (AWSControlTowerExecution, aws-controltower-*) from its own denies like the deployment roles.",
            "  control_tower:",
            "    managed_units: [Security]        # the OU Control Tower created; add Sandbox if it manages that too",
            "    reserved_scps: 3                 # count Control Tower's SCPs on the OU in the Organizations console",
        ]
    lines += [
        "  # Break-glass: IAM users with MFA that can assume an administrator role in every account, for when the",
        "  # identity provider or Identity Center is down. Set their passwords and MFA out of band",
        f"  # ({DOCS}blueprint.md#break-glass). They live in the management account because it is the one account",
        "  # with an id in phase 1; once the audit account has its id you may move them there (`account: audit`).",
        "  break_glass:",
        "    account: management",
        "    users: [break-glass-1, break-glass-2]   # 1 to 5 people; rename to who holds them",
        "    role: BreakGlass",
        "    max_session_duration: 3600",
        f"  # Built-in guardrails at the root apply to every member account (`guardrails catalog`, {DOCS}catalog.md).",
        "  guardrails:",
        "    - deny-leave-organization",
        "    - deny-root-user: {allow_centralized_root: true}",
        "    - deny-root-access-keys",
        "    - region-restriction",
        "    - protect-guardrail-roles",
        "    - protect-boundaries",
        "    - protect-security-services",
        "    - deny-password-policy-changes",
        "    - deny-iam-users-except-tagged",
        "    - keep-ebs-default-encryption",
        "    - keep-s3-block-public-access",
        "    - data-perimeter-identity         # RCP: the organization's resources only for its own principals",
        "    - data-perimeter-confused-deputy  # RCP: AWS services act for this organization only",
        "    - enforce-secure-transport",
        "  # The lockout proof of every build shows break-glass is never denied, except by what is listed here.",
        "  intended_denials:",
        "    enforce-secure-transport: >-",
        "      Break-glass works through the AWS CLI, SDKs and console, which always use TLS; a repair never needs",
        "      plain HTTP, and letting break-glass send it would expose its data and signed requests.",
        f"  # The OUs: {'the recommended layout' if o.layout == 'recommended' else 'a small start on the layout'} of"
        " AWS's whitepaper \"Organizing Your AWS Environment",
        f"  # Using Multiple Accounts\": {WHITEPAPER}",
        "  # Add accounts with `guardrails account add NAME --ou OU --email ADDRESS` (it keeps these comments).",
        "  units:",
    ]
    lines += _unit_lines(o)
    return "\n".join(lines) + "\n"


def _unit_lines(o: StarterOptions) -> list[str]:
    note = _email_note(o)
    comments = {
        "Security": "# foundational: the log archive and the security tooling (audit) accounts",
        "Infrastructure": "# foundational: shared networking and shared services",
        "Workloads": "# the business's workloads, production apart from the rest",
        "Workloads/Prod": "# production accounts, e.g. `guardrails account add app-prod --ou Workloads/Prod ...`",
        "Workloads/NonProd": "# development and test accounts",
        "Sandbox": "# experiments, disconnected from internal networks",
        "Quarantine": "# new accounts start here (`account add --quarantine`); also AWS's Suspended OU",
    }
    lines: list[str] = []
    for path, accounts, _ in _units(o):
        depth = path.count("/")
        pad = "    " + "    " * depth
        name = path.rsplit("/", 1)[-1]
        extra = []
        if path == "Security" and o.control_tower:
            extra = [f"{pad}  id: {PLACEHOLDER_TOWER_OU_ID}          # REPLACE: the Security OU's id (ou-…)",
                     f"{pad}  # Control Tower created the Log Archive and Audit accounts here. Add them with ids:",
                     f"{pad}  #   guardrails account add log-archive --ou Security --email ADDRESS --id ID --no-build",
                     f"{pad}  #   guardrails account add audit --ou Security --email ADDRESS --id ID --no-build",
                     f"{pad}  # (`--id` writes them `existing: true`: imported, never created)."]
        if path == "Workloads":
            extra = [f"{pad}  guardrails: [require-imdsv2, require-mfa-for-sensitive-actions]"]
        if path == "Quarantine":
            extra = [f"{pad}  guardrails: [quarantine]          # nothing but the bootstrap roles and break-glass"]
        children = [p for p, _, _ in _units(o) if p.startswith(path + "/") and p.count("/") == depth + 1]
        if not (accounts or extra or children):
            lines.append(f"{pad}{name}: {{}}  {comments[path]}")
            continue
        lines.append(f"{pad}{name}:  {comments[path]}")
        lines += extra
        if accounts:
            lines.append(f"{pad}  accounts:")
            lines += [f"{pad}    - {{name: {a}, email: {member_email(o, a)}}}{note}" for a in accounts]
        if children:
            lines.append(f"{pad}  units:")
    return lines


def identity_text(o: StarterOptions) -> str:
    """identity.yaml: password policy, MFA enforcement and the job functions (built-ins from the library)."""
    lines = [
        "# Who may do what: job functions say what people do; "
        + ("Identity Center permission sets and roles" if o.identity == "identity-center" else "IAM groups and roles"),
        f"# carry them ({DOCS}blueprint.md#job_functions, `guardrails library` for the built-ins).",
        "password_policy: cis                 # length 14, reuse 24, all character classes, max age 90 days",
        "",
        "mfa_enforcement:                     # IAM users may do nothing but enroll MFA until they sign in with it",
        "  enabled: true",
        "",
        "job_functions:",
        "  read-only:",
        "    library: viewer                  # configuration and metadata, no data",
        "  billing:",
        "    library: billing",
        "  security-auditor:",
        "    library: security-auditor",
    ]
    if o.identity == "iam-users":
        lines += [
            "  audit-role-access:",
            "    description: Assume the SecurityAuditor role of the organization's accounts (phase 2).",
            "    statements:",
            "      - sid: AssumeAuditRoles",
            '        actions: ["sts:AssumeRole"]',
            '        resources: ["arn:${partition}:iam::*:role/SecurityAuditor"]',
            "        conditions:",
            '          StringEquals: {aws:ResourceOrgID: "${org_id}"}',
            "",
            "# IAM users and groups: people get permissions through groups only (CIS 1.15). The groups go into member",
            f"# accounts, so they come with phase 2 ({PHASE_2}/groups.yaml). AWS recommends IAM Identity Center for",
            f"# people instead ({DOCS}identity-center.md); `guardrails init --identity identity-center` writes that.",
        ]
    return "\n".join(lines) + "\n"


def identity_center_text(o: StarterOptions, *, phase: int) -> str:
    """identity-center.yaml: permission sets and group assignments (phase 2 also assigns them in member accounts)."""
    lines = [
        f"# IAM Identity Center: people sign in once and get a role per account ({DOCS}identity-center.md).",
        "# guardrails does not create the instance, the identity store or the groups: their ids are inputs, from",
        "# the Identity Center console (Settings; Groups).",
        "identity_center:",
        "  instance_arn: arn:aws:sso:::instance/ssoins-0000000000000000   # REPLACE: Settings → Instance ARN",
        "  identity_store_id: d-0000000000                                # REPLACE: Settings → Identity store ID",
        "  permission_sets:",
        "    Billing:",
        "      description: Reads and manages billing in the management account.",
        "      job_functions: [billing]",
        "      session_duration: PT1H",
        "    ReadOnly:",
        "      description: Reads configuration and metadata; no data, no changes.",
        "      job_functions: [read-only]",
        "      session_duration: PT4H",
    ]
    if phase == 2:
        lines += [
            "    SecurityAuditor:",
            "      description: Reviews security configuration in every account.",
            "      job_functions: [security-auditor]",
            "      session_duration: PT4H",
        ]
    lines += [
        "  assignments:",
        "    - group: billing-admins",
        "      group_id: 00000000-0000-4000-8000-000000000001   # REPLACE: Groups → the group → Group ID",
        "      permission_set: Billing",
        "      deploy_to: {accounts: [management]}",
        "    - group: platform-readers",
        "      group_id: 00000000-0000-4000-8000-000000000002   # REPLACE: Groups → the group → Group ID",
        "      permission_set: ReadOnly",
        "      deploy_to: {accounts: [management]" + ("" if phase == 1 else ", all: true") + "}",
    ]
    if phase == 2:
        lines += [
            "    - group: security-auditors",
            "      group_id: 00000000-0000-4000-8000-000000000003   # REPLACE: Groups → the group → Group ID",
            "      permission_set: SecurityAuditor",
            "      deploy_to: {all: true}",
        ]
    else:
        lines += [f"  # Assignments in member accounts follow in phase 2 ({PHASE_2}/identity-center.yaml replaces this"
                  " file)."]
    return "\n".join(lines) + "\n"


def tests_text(o: StarterOptions) -> str:
    """tests.yaml: access tests proved offline on every build (phase 1: the management account)."""
    return "\n".join([
        "# Access tests: what the guardrails must allow and deny, proved offline on every build (`guardrails test`",
        f"# runs them alone, `guardrails explain` shows why; {DOCS}access-tests.md). Add your own as you go.",
        "tests:",
        "  break-glass-administers-management:",
        "    description: The break-glass role can repair IAM in the management account.",
        "    principal: role/BreakGlass",
        "    account: management",
        "    actions: [iam:CreateRole, iam:AttachRolePolicy]",
        '    resource: "arn:${partition}:iam::${account_id}:role/recovery/restored-app"',
        "    expect: allow",
        "  break-glass-users-assume-with-fresh-mfa:",
        "    principal: user/break-glass-1",
        "    account: management",
        "    action: sts:AssumeRole",
        '    resource: "arn:${partition}:iam::${account_id}:role/BreakGlass"',
        "    context: {aws:MultiFactorAuthPresent: true, aws:MultiFactorAuthAge: 300}",
        "    expect: allow",
        "  break-glass-needs-mfa:",
        "    description: Without MFA the break-glass user is stopped by the MFA-enforcement policy.",
        "    principal: user/break-glass-2",
        "    account: management",
        "    action: sts:AssumeRole",
        '    resource: "arn:${partition}:iam::${account_id}:role/BreakGlass"',
        "    context: {aws:MultiFactorAuthPresent: false}",
        "    expect: deny",
        "    decided_by: DenyAllExceptListedIfNoMFA",
    ]) + "\n"


def phase_two_files(o: StarterOptions) -> dict[str, str]:
    """phase-2/: what needs member accounts with ids, and the README that says how to move it in."""
    files = {"README.md": _phase_two_readme(o), "security.yaml": _security_text(o), "roles.yaml": _roles_text(o),
             "tests-accounts.yaml": _account_tests_text(o)}
    if o.identity == "identity-center":
        files["identity-center.yaml"] = identity_center_text(o, phase=2)
    else:
        files["groups.yaml"] = _groups_text(o)
    return files


def _phase_two_readme(o: StarterOptions) -> str:
    record = [f"guardrails account set-id {name} ID --no-build" for _, accounts, _ in _units(o) for name in accounts]
    if o.control_tower:
        record = ["guardrails account add log-archive --ou Security --email ADDRESS --id ID --no-build",
                  "guardrails account add audit --ou Security --email ADDRESS --id ID --no-build",
                  "# (with --id they are written `existing: true`: Control Tower created them, guardrails imports them)",
                  *record]
    return "\n".join([
        "# Phase 2 of the starter blueprint",
        "",
        "guardrails reads the YAML files of the blueprint folder itself, not of this folder. These files need",
        "member accounts with ids: the security baseline (AWS Config, the organization trail into the log archive,",
        "IAM Access Analyzer, alerts), the SecurityAuditor role in every account, the identities placed in member",
        "accounts and their access tests. Once the deployment of phase 1 has created the accounts, from the folder",
        "that holds the blueprint (`blueprints` here; the account commands take `-b DIR` for another one):",
        "",
        "```sh",
        *record,
        f"mv blueprints/{PHASE_2}/*.yaml blueprints/   # replaces the files of the same name",
        "grep -rn REPLACE blueprints/                # fill in what is left (the log bucket, the alert address)",
        "guardrails build",
        "```",
        "",
        "Then protect the log archive: give the log-archive account in organization.yaml",
        "`guardrails: [protect-log-archive: {buckets: [\"arn:${partition}:s3:::BUCKET\"]}]` with the bucket of",
        "security.yaml. Move break-glass to the audit account if you prefer (`break_glass.account: audit`).",
        "",
    ])


def _security_text(o: StarterOptions) -> str:
    lines = [
        "# Detective controls and account settings every account gets (guardrails' docs/security-baseline.md).",
        "security:",
        "  log_archive:",
        "    account: log-archive",
    ]
    if o.control_tower:
        lines += [
            f"    bucket: aws-controltower-logs-{PLACEHOLDER_ACCOUNT_ID}-{o.home_region}   # REPLACE: Control Tower's "
            "log bucket",
            "    existing: true                   # Control Tower made the bucket and key: referenced, never created",
        ]
    else:
        lines += [f"    bucket: {o.name}-org-logs-{PLACEHOLDER_ACCOUNT_ID}   # REPLACE: a globally unique name, e.g. "
                  "with the log-archive id",
                  "    retention_days: 400              # CIS keeps at least 365"]
    lines += [
        "  config:                            # the CIS IAM rules in the home region, more rules below",
        "    delegated_admin: audit",
    ]
    if o.control_tower:
        lines += ["    # managed_by: control-tower      # the default here: Control Tower owns the recorder"]
    lines += [
        "    rules:",
        "      - identifier: S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        '        resource_types: ["AWS::S3::Bucket"]',
        "      - identifier: EC2_IMDSV2_CHECK",
        '        resource_types: ["AWS::EC2::Instance"]',
        "  access_analyzer:",
        "    delegated_admin: audit",
        "    unused_access_days: 90",
    ]
    if o.control_tower:
        lines += ["  cloudtrail: null                   # Control Tower runs the organization trail"]
    else:
        lines += ["  cloudtrail:", "    organization_trail: true"]
    lines += [
        "  alerts:",
        "    emails: [security-alerts@example.com]   # REPLACE: who receives the alerts",
        "  account_settings:",
        "    ebs_default_encryption: true     # keep-ebs-default-encryption keeps it on",
        "    s3_block_public_access: true     # keep-s3-block-public-access keeps it on",
        "  centralized_root_access: true      # member accounts' root users have no password or MFA device at all",
    ]
    return "\n".join(lines) + "\n"


def _roles_text(o: StarterOptions) -> str:
    return "\n".join([
        "# Roles in member accounts (guardrails' docs/blueprint.md#trust).",
        "roles:",
        "  auditor:",
        "    name: SecurityAuditor",
        "    description: Read-only security review, assumed from the audit account by its IAM principals with MFA.",
        "    trust:",
        "      accounts:",
        "        - {account: audit}",
        "      require_mfa: true",
        "    job_functions: [security-auditor]",
        "    max_session_duration: 3600",
        "    deploy_to: {all: true}",
    ]) + "\n"


def _groups_text(o: StarterOptions) -> str:
    return "\n".join([
        "# IAM groups (people get permissions through groups only, CIS 1.15). Add the people as `users:` with",
        "# `deploy_to` the account that holds them and the groups as `members` (guardrails' docs/blueprint.md).",
        "groups:",
        "  billing:",
        "    job_functions: [billing]",
        "    deploy_to: {accounts: [management]}",
        "  read-only:",
        "    job_functions: [read-only]",
        "    deploy_to: {all: true}",
        "  security-auditors:",
        "    job_functions: [security-auditor, audit-role-access]",
        "    deploy_to: {accounts: [audit]}",
    ]) + "\n"


def _account_tests_text(o: StarterOptions) -> str:
    lines = [
        "# Access tests of the member accounts (phase 2).",
        "tests:",
        "  break-glass-administers-every-account:",
        "    principal: role/BreakGlass",
        "    accounts: all",
        "    action: iam:CreateRole",
        '    resource: "arn:${partition}:iam::${account_id}:role/recovery/restored-app"',
        "    expect: allow",
        "  member-accounts-cannot-leave:",
        "    description: Leaving the organization is denied in member accounts, break-glass included (intended).",
        "    principal: role/BreakGlass",
        "    accounts: [log-archive, audit]",
        "    action: organizations:LeaveOrganization",
        "    expect: deny",
        "    decided_by: DenyLeaveOrganization",
    ]
    outside = next((r for r in PROBE_REGIONS if r not in o.allowed_regions), None)
    if outside is not None:
        lines += [
            "  auditors-stay-in-allowed-regions:",
            "    principal: role/SecurityAuditor",
            "    account: audit",
            "    action: ec2:DescribeInstances",
            f"    context: {{aws:RequestedRegion: {outside}}}",
            "    expect: deny",
            "    decided_by: DenyOutsideAllowedRegions",
        ]
    return "\n".join(lines) + "\n"
