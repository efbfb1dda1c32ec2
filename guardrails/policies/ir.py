"""The format-neutral intermediate representation (the plan).

Every output format is rendered from these frozen, canonical values, so Terraform and
CloudFormation cannot disagree about what is granted. Strings inside documents keep two
deployment-time placeholders, ``${account_id}`` and ``${region}``; the partition and the
organization id are already substituted (they are constants of the organization).
IAM policy variables such as ``${aws:username}`` pass through untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from guardrails.data.fast_yaml import safe_load
from guardrails.iam.arns import aws_managed_policy_arn
from guardrails.iam.documents import as_tuple, condition_values, statements_of

Effect = Literal["Allow", "Deny"]

# Placeholders that stay symbolic in the IR because they differ per deployed account.
ACCOUNT_ID = "${account_id}"
REGION = "${region}"


@dataclass(frozen=True, order=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Principal:
    """A principal: kind is AWS, Service or Federated (trust policies), or "*" for every principal (RCPs)."""

    kind: Literal["AWS", "Service", "Federated", "*"]
    identifiers: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: tuple[Principal, ...] = ()
    conditions: tuple[Condition, ...] = ()
    # Where the statement came from in the blueprint ("file:line:col"), for diagnostics only.
    origin: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        """AWS policy JSON of this statement, elements in the conventional order."""
        out: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.principals and self.principals[0].kind == "*":
            out["Principal"] = "*"
        elif self.principals:
            out["Principal"] = {p.kind: _one_or_list(p.identifiers) for p in self.principals}
        if self.actions:
            out["Action"] = _one_or_list(self.actions)
        if self.not_actions:
            out["NotAction"] = _one_or_list(self.not_actions)
        if self.resources:
            out["Resource"] = _one_or_list(self.resources)
        if self.not_resources:
            out["NotResource"] = _one_or_list(self.not_resources)
        if self.conditions:
            block: dict[str, dict[str, Any]] = {}
            for cond in self.conditions:
                block.setdefault(cond.operator, {})[cond.key] = _one_or_list(cond.values)
            out["Condition"] = block
        return out


def _one_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]

    def to_json(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [s.to_json() for s in self.statements]}

    def render(self, *, minified: bool = False) -> str:
        """Stable JSON text (sorted statement order is the IR's; keys in AWS order); rendered once per document (the
        emitters and checks ask for the same document many times; the fields are frozen)."""
        rendered = self.__dict__.setdefault("_rendered", {})  # not a field: equality and hashing ignore it
        if minified not in rendered:
            if minified:
                rendered[minified] = json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False)
            else:
                rendered[minified] = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        return rendered[minified]


def document_from_json(raw: dict[str, Any]) -> PolicyDocument:
    """The IR of a policy document's JSON (as :meth:`PolicyDocument.to_json` writes it), e.g. a released SCP."""
    listed = as_tuple
    statements = []
    for index, s in enumerate(statements_of(raw)):
        principal = s.get("Principal")
        principals: tuple[Principal, ...] = ()
        if principal == "*":
            principals = (Principal("*", ("*",)),)
        elif isinstance(principal, dict):
            principals = tuple(Principal(kind, listed(ids)) for kind, ids in principal.items())
        conditions = tuple(Condition(op, key, condition_values(values)) for op, block in (s.get("Condition") or {}).items()
                           for key, values in block.items())
        statements.append(Statement(str(s.get("Sid", f"Statement{index + 1}")), s["Effect"], listed(s.get("Action")),
                                    listed(s.get("NotAction")), listed(s.get("Resource")),
                                    listed(s.get("NotResource")), principals, conditions))
    return PolicyDocument(tuple(statements))


@dataclass(frozen=True)
class PolicyRef:
    """A managed policy attached to an identity: one of ours (by name) or an AWS managed one (path/name)."""

    kind: Literal["local", "aws"]
    name: str  # local: policy name; aws: e.g. "job-function/ViewOnlyAccess"

    def aws_arn(self, partition: str) -> str:
        return aws_managed_policy_arn(partition, self.name)


@dataclass(frozen=True)
class ManagedPolicy:
    key: str  # stable identifier used for resource names
    name: str
    path: str
    description: str
    document: PolicyDocument
    kind: Literal["managed", "boundary"] = "managed"
    # checkov findings the blueprint accepts on this policy: (check id, reason).
    accepted_findings: tuple[tuple[str, str], ...] = ()
    # Sids of statements whose action lists were compacted into wildcards to fit the size limit.
    compacted: tuple[str, ...] = ()
    # Actions newer than the pinned IAM database that the blueprint allows here on purpose.
    allowed_unknown_actions: tuple[str, ...] = ()
    # Former keys, oldest first (blueprint `moved_from`): Terraform moves them, CloudFormation keeps the oldest's id.
    moved_from: tuple[str, ...] = ()
    existing: bool = False  # exists in the accounts already (blueprint `existing`): Terraform imports it by ARN
    # Where the entry behind the policy is declared ("file:line:col"), for diagnostics only.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    path: str
    description: str
    trust: PolicyDocument
    policies: tuple[PolicyRef, ...]
    inline_policies: tuple[tuple[str, PolicyDocument], ...] = ()
    boundary: PolicyRef | None = None
    max_session_duration: int = 3600
    instance_profile: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    accepted_findings: tuple[tuple[str, str], ...] = ()
    # Former keys, oldest first (blueprint `moved_from`): Terraform moves them, CloudFormation keeps the oldest's id.
    moved_from: tuple[str, ...] = ()
    existing: bool = False  # exists in the accounts already (blueprint `existing`): Terraform imports it
    # Where the role is declared in the blueprint ("file:line:col"; "" for break-glass's own), for diagnostics only.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    path: str
    policies: tuple[PolicyRef, ...]
    # Former keys, oldest first (blueprint `moved_from`): Terraform moves them, CloudFormation keeps the oldest's id.
    moved_from: tuple[str, ...] = ()
    existing: bool = False  # exists in the accounts already (blueprint `existing`): Terraform imports it
    origin: str = field(default="", compare=False)  # where the group is declared ("file:line:col"), for diagnostics


@dataclass(frozen=True)
class User:
    key: str
    name: str
    path: str
    groups: tuple[str, ...]  # group keys
    tags: tuple[tuple[str, str], ...] = ()
    accepted_findings: tuple[tuple[str, str], ...] = ()
    # Former keys, oldest first (blueprint `moved_from`): Terraform moves them, CloudFormation keeps the oldest's id.
    moved_from: tuple[str, ...] = ()
    existing: bool = False  # exists in the accounts already (blueprint `existing`): Terraform imports it


@dataclass(frozen=True)
class OidcProvider:
    key: str
    url: str
    audiences: tuple[str, ...]
    thumbprints: tuple[str, ...]
    existing: bool = False

    @property
    def host(self) -> str:
        return self.url.removeprefix("https://").rstrip("/")


@dataclass(frozen=True)
class SamlProvider:
    key: str
    name: str
    metadata: str
    existing: bool = False


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int
    require_symbols: bool
    require_numbers: bool
    require_uppercase: bool
    require_lowercase: bool
    allow_users_to_change: bool
    max_age: int
    reuse_prevention: int
    hard_expiry: bool
    existing: bool = False


@dataclass(frozen=True)
class Baseline:
    """The IAM content of one class of accounts (account-independent thanks to placeholders)."""

    managed_policies: tuple[ManagedPolicy, ...]
    roles: tuple[Role, ...]
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    oidc_providers: tuple[OidcProvider, ...]
    saml_providers: tuple[SamlProvider, ...]
    password_policy: PasswordPolicy | None


@dataclass(frozen=True)
class BaselineClass:
    """Accounts that receive an identical baseline. ``key`` names the class in file names."""

    key: str
    accounts: tuple[str, ...]  # account names, sorted
    baseline: Baseline
    # OUs (paths) whose every account, now and later, belongs to this class: StackSets can target them.
    whole_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrgUnit:
    path: str  # "Workloads/Prod"
    name: str
    parent: str  # "" for the root
    existing_id: str | None = None
    managed_by: str | None = None  # "control-tower": never created, imported or changed here (needs existing_id)


@dataclass(frozen=True)
class Account:
    name: str
    id: str
    email: str
    unit: str  # OU path; "" for the management account / root
    existing: bool
    management: bool = False


@dataclass(frozen=True)
class ServiceControlPolicy:
    key: str
    name: str
    description: str
    document: PolicyDocument
    target: str  # "root", "ou:<path>" or "account:<name>"
    guardrails: tuple[str, ...] = ()  # catalog ids packed into this policy
    policy_type: Literal["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"] = "SERVICE_CONTROL_POLICY"
    merged: bool = False  # statements of several guardrails were merged to fit the target's slots
    # Sids of Deny statements that deny the break-glass role on purpose (e.g. a size cap for everyone): the lockout
    # proof (guardrails.evaluation.lockout) accepts them instead of reporting GR403.
    intended_denials: tuple[str, ...] = ()
    existing_id: str | None = None  # an existing policy (blueprint `id`): imported, not created
    # Where the target's attachment is declared in the blueprint ("file:line:col"), for diagnostics only.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Limit:
    key: str
    value: int
    counts: str  # "non-whitespace" | "all" | "count"
    source: str
    overridden: bool = False


@dataclass(frozen=True)
class OrgInfo:
    name: str
    partition: str
    org_id: str
    root_id: str
    existing: bool
    home_region: str
    allowed_regions: tuple[str, ...]
    deployment_role: str
    management_deployment_role: str
    deployment_principals: tuple[str, ...]  # role name patterns
    break_glass_role: str
    break_glass_account: str
    retain_stacks: bool = True  # baseline StackSets keep an account's stack when it leaves their OUs


@dataclass(frozen=True)
class JobReport:
    """What compiling one job function's intent left for the least-privilege report."""

    job: str
    description: str
    managed_policies: tuple[str, ...]  # AWS managed policies it attaches
    actions: tuple[str, ...]  # every action its own policy allows, expanded against the IAM database
    scoped: tuple[str, ...]  # those allowed only on specific resources (never on "*")
    unscoped: tuple[str, ...]  # actions granted on "*" because they support no resource-level scoping
    not_granted: tuple[tuple[str, str], ...]  # (action, why) of the requested access levels
    compacted: tuple[str, ...] = ()  # Sids whose action lists became wildcards to fit the size limit
    policy_keys: tuple[str, ...] = ()  # the job function's own managed policies (several when split)
    parts: int = 1  # managed policies the job function's own policy was split into
    # The closest AWS managed job-function policy (path/name, e.g. "job-function/ViewOnlyAccess"), if any, and
    # the comparison with it (guardrails.policies.compare), both expanded against the same IAM database:
    # rows of (row id, ours, theirs) — the access levels ("List", "Read", "Write", "Tagging",
    # "Permissions management"), then "total", "common", "only", "scoped", "on-star".
    counterpart: str | None = None
    counterpart_counts: tuple[tuple[str, int, int], ...] = ()
    counterpart_only_ours: tuple[str, ...] = ()  # actions ours grants and the counterpart does not
    counterpart_notes: tuple[str, ...] = ()  # caveats: AWS version id, attached policies counted, unknown patterns
    # Risk rules (guardrails/data/risks.yaml ids) with unmitigated findings in the job function's own policy
    # that its `accept_risks` declares.
    risks: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessTest:
    """A blueprint access assertion, expanded to concrete accounts and actions (run by guardrails.evaluation)."""

    name: str
    description: str
    principal: str  # "role/NAME", "user/NAME", "group/NAME", "root", "federated/…", "service/…"
    accounts: tuple[str, ...]
    actions: tuple[str, ...]
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...]
    expect: Literal["allow", "deny"]
    decided_by: str | None = None
    origin: str = ""  # "file:line:col" of the test in the blueprint


# --------------------------------------------------------------------------- security baseline


@dataclass(frozen=True)
class ConfigRule:
    """An AWS managed Config rule, deployed in every account (home region only when ``home_region_only``)."""

    name: str  # ConfigRuleName, e.g. "guardrails-access-keys-rotated"
    identifier: str  # the managed rule's SourceIdentifier, e.g. "ACCESS_KEYS_ROTATED"
    description: str
    parameters: tuple[tuple[str, str], ...]  # InputParameters; values are strings, as Config takes them
    home_region_only: bool  # evaluates global resources (IAM): one evaluation per account, in the home region
    resource_types: tuple[str, ...] = ()  # change-triggered scope; empty: periodic (every 24 hours)
    source: str = ""  # documentation URL


@dataclass(frozen=True)
class AlertRule:
    """An EventBridge rule that sends matching CloudTrail events to the alert topic."""

    key: str  # "iam-policy-changes", "root-use", "break-glass-use", … (guardrails/data/alert_rules.yaml)
    name: str  # rule name
    description: str
    pattern: str  # event pattern, JSON with sorted keys
    # Global-service events (IAM, Organizations, account opt-in): only SecurityPlan.global_region receives them.
    # Every other rule runs in each region where its events can happen (alert and watch regions).
    global_only: bool
    source: str = ""  # documentation URL (the CIS item or AWS page the rule implements)


@dataclass(frozen=True)
class Partition:
    """Facts of an AWS partition (guardrails/data/regions.yaml ``partitions``)."""

    name: str  # aws, aws-us-gov, aws-cn
    global_region: str  # where EventBridge receives global services' events (IAM, Organizations, accounts)
    dns_suffix: str  # amazonaws.com, amazonaws.com.cn
    default_regions: tuple[str, ...]  # enabled in every account without opting in


@cache
def partition_facts(name: str) -> Partition:
    """The partition's facts; a partition the data does not know is a packaging bug (the schema allows three)."""
    raw = safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))
    entry = raw["partitions"][name]
    return Partition(name, entry["global_region"], entry["dns_suffix"], tuple(entry["default_regions"]))


@dataclass(frozen=True)
class SecurityPlan:
    """Detective controls and account settings (blueprint ``security``); emitted per account and organization."""

    log_account: str  # account name holding the log bucket
    log_bucket: str
    log_bucket_existing: bool
    log_kms_key_arn: str | None  # an existing bucket's key; None when guardrails creates the key
    log_retention_days: int
    config_recorder: bool  # guardrails owns the recorder and delivery channel (not Control Tower)
    config_rules: tuple[ConfigRule, ...]
    config_admin: str | None  # delegated administrator account (name) for Config
    analyzer_account: str | None  # delegated administrator holding the ORGANIZATION analyzer
    unused_access_days: int | None  # also an ORGANIZATION_UNUSED_ACCESS analyzer
    trail_name: str | None  # organization trail in the management account
    alert_regions: tuple[str, ...]  # regions with the alert topic: global_region first, then the allowed regions
    alerts: tuple[AlertRule, ...]
    alert_emails: tuple[str, ...]
    topic_name: str
    ebs_default_encryption: bool
    s3_block_public_access: bool
    centralized_root_access: bool
    trusted_services: tuple[str, ...]  # service principals with trusted access in the organization (sorted)
    delegated_admins: tuple[tuple[str, str], ...]  # (service principal, account name), via Organizations
    global_region: str = "us-east-1"  # the partition's region for global-service events (Partition.global_region)
    # Regions every account can use but the organization does not allow: the regional alert rules run there too
    # and forward their events to forwarding_region's event bus (through forwarding_role), which alerts.
    watch_regions: tuple[str, ...] = ()
    forwarding_role: str | None = None  # role name (path "/guardrails/") EventBridge forwards with
    # Where the watch regions forward: the home region, an allowed one (the region guardrail would deny the role's
    # events:PutEvents anywhere else), where the regional rules of the same name alert on the forwarded events.
    forwarding_region: str = ""
    # S3 Object Lock default retention of the log bucket: "GOVERNANCE" or "COMPLIANCE" (None: off), in days.
    object_lock_mode: str | None = None
    object_lock_days: int = 0
    # GuardDuty and Security Hub, enabled organization-wide from this delegated administrator (account name).
    detection_admin: str | None = None
    guardduty: bool = False
    security_hub: bool = False
    security_hub_standards: tuple[str, ...] = ()  # standards ARNs of the central configuration policy
    # The finding aggregator of the home region (central configuration's home region): its RegionLinkingMode and
    # Regions. https://docs.aws.amazon.com/securityhub/latest/userguide/finding-aggregation.html
    hub_linking_mode: str = ""
    hub_linked_regions: tuple[str, ...] = ()

    @property
    def event_regions(self) -> tuple[str, ...]:
        """Every region with alert rules: the alert regions, then the watch regions."""
        return (*self.alert_regions, *self.watch_regions)


@dataclass(frozen=True)
class ResourcePolicy:
    """A resource-based policy the output deploys (bucket, key, topic or queue policy), rendered by every format."""

    key: str  # stable id and file stem: "log-archive-bucket", "log-archive-key", "alerts-key", "alerts-topic"
    kind: Literal["s3-bucket", "kms-key", "sns-topic", "sqs-queue"]
    resource: str  # ARN (or pattern: a key's id is AWS's choice) it protects; ${account_id}/${region} kept
    document: PolicyDocument
    accounts: tuple[str, ...]  # account names it is deployed in
    regions: tuple[str, ...]
    description: str


# --------------------------------------------------------------------------- identity center


@dataclass(frozen=True)
class CustomerPolicyReference:
    """A customer managed policy by name and path, as Identity Center refers to it in every assigned account."""

    name: str
    path: str = "/"


@dataclass(frozen=True)
class PermissionSet:
    """An IAM Identity Center permission set. Its inline policy has no per-account placeholders: ``${account_id}``
    and ``${region}`` are already the policy variables ``${aws:PrincipalAccount}`` and ``${aws:RequestedRegion}``."""

    key: str  # stable identifier for resource names, e.g. "ps_developer"
    name: str
    description: str
    session_duration: str  # ISO-8601, e.g. "PT4H"
    relay_state: str | None
    inline_policy: PolicyDocument | None
    managed_policies: tuple[str, ...]  # AWS managed policies, path/name (e.g. "job-function/ViewOnlyAccess")
    customer_managed: tuple[CustomerPolicyReference, ...]
    boundary: PolicyRef | CustomerPolicyReference | None  # PolicyRef("aws", name) or a customer managed reference
    tags: tuple[tuple[str, str], ...] = ()
    # Keys of the job functions' managed policies whose statements the inline policy holds: their reasoned
    # suppressions and accepted findings apply to the same statements here.
    inlined: tuple[str, ...] = ()
    accepted_findings: tuple[tuple[str, str], ...] = ()
    origin: str = ""  # "file:line:col" of the permission set in the blueprint
    full_admin_accepted: str | None = None  # the reason of its `full_admin` declaration


@dataclass(frozen=True)
class SsoAssignment:
    """One identity-store group given one permission set in one account."""

    permission_set: str  # PermissionSet.key
    group: str  # display name
    group_id: str
    account: str  # account name
    account_id: str


@dataclass(frozen=True)
class IdentityCenter:
    """Blueprint ``identity_center``: applied from ``admin_account`` (management or delegated administrator)."""

    instance_arn: str
    identity_store_id: str
    region: str
    admin_account: str  # account name
    admin_role: str  # role Terraform assumes there
    permission_sets: tuple[PermissionSet, ...]
    assignments: tuple[SsoAssignment, ...]


@dataclass(frozen=True)
class Plan:
    """Everything the emitters need; emitters never read the blueprint."""

    blueprint: str  # the blueprint directory as the user gave it (relative to the working directory): locations
    org: OrgInfo
    units: tuple[OrgUnit, ...]
    accounts: tuple[Account, ...]
    scps: tuple[ServiceControlPolicy, ...]
    classes: tuple[BaselineClass, ...]
    limits: dict[str, Limit]
    job_reports: tuple[JobReport, ...] = ()
    # The blueprint directory's own name, written in file headers: the same from every working directory, so a
    # build or `build --check` run elsewhere writes the same bytes (the path as typed would differ).
    blueprint_name: str = ""
    tests: tuple[AccessTest, ...] = ()
    rcps: tuple[ServiceControlPolicy, ...] = ()  # resource control policies (policy_type RESOURCE_CONTROL_POLICY)
    security: SecurityPlan | None = None  # blueprint `security`: detective controls and account settings
    # Accounts still to be created (no id yet, ``Account.id == ""``): emitted as organization accounts only; their
    # baseline follows once the id is in the blueprint (two phases, docs/accounts.md).
    pending_accounts: tuple[Account, ...] = ()
    identity_center: IdentityCenter | None = None  # blueprint `identity_center`: permission sets and assignments
    resource_policies: tuple[ResourcePolicy, ...] = ()  # bucket, key and topic policies (policies.resource_policies)

    @property
    def source_name(self) -> str:
        """The blueprint as generated files and reports name it (plans built by hand may lack blueprint_name)."""
        return self.blueprint_name or self.blueprint

    def resource_policy(self, key: str) -> ResourcePolicy:
        return next(p for p in self.resource_policies if p.key == key)

    def account(self, name: str) -> Account:
        index = self.__dict__.get("_accounts")  # built on first use (emitters ask once per account: 5,000 × 5,000)
        if index is None:
            index = self.__dict__["_accounts"] = {}
            for account in self.accounts:
                index.setdefault(account.name, account)  # the first, as the scan it replaces returned
        if name not in index:
            raise StopIteration  # what the scan raised: callers may rely on it
        return index[name]

    @property
    def management_account(self) -> Account:
        return next(a for a in self.accounts if a.management)

    @property
    def organization_members(self) -> tuple[Account, ...]:
        """Every member account the organization templates hold: those with an id, then those still to be created."""
        return (*(a for a in self.accounts if not a.management), *self.pending_accounts)

    def organization_account(self, name: str) -> Account:
        """An account by name, including one still to be created (id "")."""
        return next(a for a in (*self.accounts, *self.pending_accounts) if a.name == name)

    def class_of(self, account: str) -> BaselineClass | None:
        return next((c for c in self.classes if account in c.accounts), None)
