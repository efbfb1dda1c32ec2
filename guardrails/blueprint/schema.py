"""Blueprint format v1: the typed, strict input models (pydantic v2).

The JSON Schema in ``docs/blueprint.schema.json`` is generated from these classes
(``guardrails schema``); a test keeps it fresh. Field descriptions become the
editor tooltips, so they say what a landing-zone engineer needs to know.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from guardrails.blueprint.schema_base import (
    AccountId,
    IamName,
    IamPath,
    Placement,
    Region,
    StringOrList,
    Strict,
    bounded,
)

# Names of policies, and role-name patterns (path and wildcards allowed).
PolicyName = bounded(r"^[\w+=,.@-]{1,128}$", r"^[\w+=,.@-]+$", 1, 128)
PrincipalPattern = bounded(r"^[\w+=,.@/*-]{1,128}$", r"^[\w+=,.@/*-]+$", 1, 128)

# Former keys of a renamed entry, oldest first (docs/deploying.md, "Renaming a blueprint entry").
MovedFrom = Annotated[list[IamName], BeforeValidator(lambda v: [v] if isinstance(v, str) else v), Field(
    default_factory=list,
    description="Former keys of this entry, oldest first, after renaming it: Terraform gets `moved` blocks (its "
    "resources are moved in the state, not destroyed and created again) and CloudFormation keeps the logical id "
    "of the oldest key. Keep them while any deployment may still have an old key.")]
# The section models live in their own modules; they are re-exported here as part of the blueprint API.
from guardrails.blueprint.schema_github import GitHubOidc
from guardrails.blueprint.schema_gitlab import GitLabOidc
from guardrails.blueprint.schema_trust import (
    AccountTrust,
    IdentityProviders,
    OidcProvider,
    OidcTrust,
    SamlProvider,
    SamlTrust,
    Trust,
)
from guardrails.blueprint.schema_identity_center import (
    FullAdminDeclaration,
    IdentityCenter,
    PermissionSet,
    PermissionSetName,
    SsoAssignment,
)
from guardrails.blueprint.schema_security import (
    AccessAnalyzer,
    AccountSettings,
    Alerts,
    CloudTrail,
    ConfigSettings,
    LogArchive,
    ManagedConfigRule,
    Security,
)


# --------------------------------------------------------------------------- statements


class Statement(Strict):
    """One IAM policy statement, written with the AWS element names in snake_case."""

    sid: str | None = Field(None, description="Statement id: letters and digits only; generated when omitted.")
    effect: Literal["Allow", "Deny"] = "Allow"
    actions: list[str] | None = Field(None, description="Action patterns such as `s3:GetObject` or `ec2:Describe*`.")
    not_actions: list[str] | None = None
    resources: list[str] | None = Field(
        None,
        description="Resource ARNs; `${partition}`, `${account_id}`, `${region}` and `${org_id}` are substituted.",
    )
    not_resources: list[str] | None = None
    conditions: dict[str, dict[str, StringOrList | bool | int]] | None = Field(
        None, description="`{Operator: {key: value or [values]}}`, exactly as in IAM JSON."
    )

    @model_validator(mode="after")
    def _one_of_each(self) -> Statement:
        if (self.actions is None) == (self.not_actions is None):
            raise ValueError("a statement needs exactly one of `actions` or `not_actions`")
        if (self.resources is None) == (self.not_resources is None):
            raise ValueError("a statement needs exactly one of `resources` or `not_resources`")
        return self



# --------------------------------------------------------------------------- organization


class Account(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,48}$")] = Field(
        description="Short name used in file names and references (lowercase, digits, dashes)."
    )
    id: AccountId | None = Field(
        None, description="12-digit AWS account id (quote it in YAML). Leave it out for an account still to be "
        "created: phase 1 creates it, and its baseline follows once the id is recorded (`guardrails account set-id`)."
    )
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=64)]
    existing: bool = Field(False, description="The account already exists: emit an import instead of creating it.")
    guardrails: list[CatalogRef] = Field(default_factory=list)
    scps: list[ExplicitScp] = Field(default_factory=list)

    @model_validator(mode="after")
    def _existing_needs_id(self) -> Account:
        if self.existing and self.id is None:
            raise ValueError("an existing account needs its `id`")
        return self


class OrgUnit(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")] | None = Field(
        None, description="Existing OU id: emit an import instead of creating the OU."
    )
    accounts: list[Account] = Field(default_factory=list)
    units: dict[str, OrgUnit] = Field(default_factory=dict)
    guardrails: list[CatalogRef] = Field(default_factory=list, description="Built-in SCP guardrails attached here.")
    scps: list[ExplicitScp] = Field(default_factory=list, description="Explicit SCPs attached here.")


CatalogRef = Union[str, dict[str, dict[str, Any]]]


class ExplicitScp(Strict):
    name: PolicyName
    id: Annotated[str, StringConstraints(pattern=r"^p-[0-9a-z]{8,128}$")] | None = Field(
        None, description="Existing policy id (`guardrails import` records it): Terraform imports the policy and "
        "its attachment here instead of creating them.")
    description: str = ""
    statements: list[Statement]
    intended_denials: list[str] = Field(
        default_factory=list,
        description="Sids of Deny statements meant to apply to the break-glass role too (e.g. a size cap for "
        "everyone). The lockout proof accepts them; every other Deny that reaches break-glass fails the build. "
        "Say why in `description`.",
    )


class ManagementAccount(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,48}$")] = "management"
    id: AccountId
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=64)]
    deployment_role: IamName = Field(
        "GuardrailsManagementDeployer",
        description="Role in the management account that Terraform assumes for the organization module "
        "(created once by hand when bootstrapping; OrganizationAccountAccessRole does not exist there).",
    )


class BreakGlass(Strict):
    """IAM users with MFA in one account, able to assume a role that exists in every account."""

    account: str = Field(description="Name of the account that holds the break-glass IAM users.")
    users: list[IamName] = Field(min_length=1, max_length=5, description="Break-glass IAM user names (1–5).")
    role: IamName = "BreakGlass"
    max_session_duration: int = Field(3600, ge=3600, le=43200)
    mfa_max_age: int = Field(3600, ge=60, le=43200, description="Seconds since MFA sign-in, checked on AssumeRole.")


class PolicySlots(Strict):
    """How many of each target's SCP and RCP slots guardrails may fill (the quota is `limits`)."""

    reserved_scps: int = Field(
        0, ge=0, description="SCP slots per target left for policies managed elsewhere (Control Tower, other tools)."
    )
    reserved_rcps: int = Field(0, ge=0, description="RCP slots per target left for policies managed elsewhere.")
    free: int = Field(
        1, ge=0,
        description="Slots per target kept empty so that a rollout that attaches a new policy before detaching an "
        "old one never exceeds the quota.",
    )


class ControlTower(Strict):
    """Coexistence with AWS Control Tower: guardrails leaves alone what Control Tower manages."""

    managed_units: list[str] = Field(
        default_factory=list,
        description="OU paths registered with Control Tower. guardrails never creates, imports or changes them (each "
        "needs its `id`); its own SCPs may still be attached there, within the slots left free.",
    )
    reserved_scps: int = Field(
        ge=0,
        description="SCP slots Control Tower's own policies take on each managed OU (count them in the Organizations "
        "console: Control Tower groups its preventive controls into a few SCPs per OU).",
    )
    roles: list[PrincipalPattern] = Field(
        default_factory=lambda: ["AWSControlTowerExecution", "aws-controltower-*"],
        description="Roles Control Tower deploys with: exempt from guardrails' denies like the deployment principals.",
    )


class Rollout(Strict):
    """Canary rollout of SCP/RCP changes (`guardrails rollout start`, then `promote`)."""

    canary_units: list[str] = Field(
        min_length=1,
        description="OU paths that receive new or changed SCPs and RCPs first. While `rollout.lock.json` (written by "
        "`guardrails rollout start`) is in the blueprint directory, every other target keeps the released version "
        "and the canary OUs get the new one; `guardrails rollout promote` removes the lock and releases it everywhere.",
    )


class Organization(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,48}$")]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    id: Annotated[str, StringConstraints(pattern=r"^o-[a-z0-9]{10,32}$")] = Field(description="Organization id.")
    root_id: Annotated[str, StringConstraints(pattern=r"^r-[0-9a-z]{4,32}$")]
    existing: bool = Field(True, description="The organization exists already (usual): import it, never create it.")
    management_account: ManagementAccount
    home_region: Region = Field(description="Region for IAM stacks and global-resource Config recording.")
    allowed_regions: list[Region] = Field(min_length=1)
    deployment_principals: list[PrincipalPattern] = Field(
        default_factory=lambda: ["OrganizationAccountAccessRole", "stacksets-exec-*"],
        description="Role names (wildcards allowed, `path/name` for a path) that deploy the baseline: guardrails "
        "never blocks them, and the lockout proof shows on every build that each can create, change and delete "
        "everything the baseline deploys — with its real identity policies and boundary where the blueprint "
        "deploys the role, as administrator where AWS creates it (OrganizationAccountAccessRole, the StackSets "
        "execution role). A role that deploys something else (a workload CI role) does not belong here: the "
        "guardrails apply to it.",
    )
    intended_denials: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
                           Annotated[str, StringConstraints(min_length=20, max_length=400)]] = Field(
        default_factory=dict,
        description="Catalog guardrails (by id) meant to deny the break-glass role too, each with the reason a "
        "reviewer reads (e.g. enforce-secure-transport: break-glass works over TLS like everyone). The lockout proof "
        "accepts their denials of break-glass, never of deployment or MFA enrollment; any other Deny that reaches "
        "break-glass fails the build. The blueprint's own SCPs list theirs in their `intended_denials`.",
    )
    deployment_role: IamName = Field(
        "OrganizationAccountAccessRole", description="Role Terraform assumes in each account to deploy the baseline."
    )
    retain_stacks_on_account_removal: bool = Field(
        True, description="CloudFormation: an account that leaves the OUs of its baseline StackSet (moved, "
        "quarantined, removed) keeps its baseline stack, BreakGlass included, until it is deleted by hand. False "
        "deletes it at once: no leftover roles of the old OU, but no break-glass role until the new OU's StackSet "
        "deploys (docs/deploying.md).",
    )
    break_glass: BreakGlass
    units: dict[str, OrgUnit] = Field(default_factory=dict)
    guardrails: list[CatalogRef] = Field(default_factory=list, description="Built-in SCP guardrails at the root.")
    scps: list[ExplicitScp] = Field(default_factory=list, description="Explicit SCPs at the root.")
    policy_slots: PolicySlots = Field(default_factory=PolicySlots)
    rollout: Rollout | None = Field(None, description="Roll SCP/RCP changes out to canary OUs first.")
    control_tower: ControlTower | None = Field(
        None, description="Set when AWS Control Tower governs the organization (its OUs, SCPs and roles are left alone)."
    )


# --------------------------------------------------------------------------- identities


class AcceptedFinding(Strict):
    """A checkov finding the blueprint's owner accepts for this entry, with the reason a reviewer will read."""

    check: Annotated[str, StringConstraints(pattern=r"^CKV2?_AWS_\d+$")] = Field(description="checkov check id.")
    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)] = Field(
        description="Why the finding is acceptable here (rendered next to the suppression)."
    )


class AcceptedWarning(Strict):
    """A warning kept on purpose: a guardrails warning about one blueprint entry, or a cfn-lint warning or
    informational finding on generated templates, with the reason a reviewer reads. Errors cannot be accepted."""

    finding: Annotated[str, StringConstraints(pattern=r"^(GR\d{3}|[WI]\d{4})$")] = Field(
        description="A guardrails code marked acceptable (GR320), or a cfn-lint rule id of a warning (W…) or "
        "informational finding (I…); cfn-lint errors (E…) cannot be accepted.")
    at: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="For a guardrails warning, the blueprint entry it is about as a dotted path (`users.carol`, "
        "`roles.ci`, `organization.units.Sandbox`); for a cfn-lint finding, a pattern on the template's path in the "
        "output (`cloudformation/baseline-*.yaml`).")
    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)] = Field(
        description="Why the finding is acceptable here (listed with it in the check and build summaries).")


AccessLevel = Literal["list", "read", "write", "tagging", "permissions-management"]


class TimeWindow(Strict):
    """Requests are allowed only between these instants (ISO 8601, UTC), via aws:CurrentTime."""

    after: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    before: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

    @model_validator(mode="after")
    def _some_bound(self) -> TimeWindow:
        if not (self.after or self.before):
            raise ValueError("a time window needs `after`, `before` or both")
        if self.after and self.before and self.after >= self.before:
            raise ValueError("`after` must be earlier than `before`")
        return self


class GrantConditions(Strict):
    """Conditions every statement compiled from a grant carries (each becomes IAM condition keys)."""

    require_mfa: bool = Field(False, description="aws:MultiFactorAuthPresent must be true (IAM users and the "
                              "roles they assume; federated sessions carry no MFA key).")
    mfa_max_age: int | None = Field(None, ge=60, le=129600, description="Seconds since MFA (aws:MultiFactorAuthAge).")
    source_ips: list[str] = Field(default_factory=list, description="CIDR ranges (aws:SourceIp).")
    source_vpces: list[str] = Field(default_factory=list, description="VPC endpoint ids (aws:SourceVpce).")
    requested_regions: list[str] = Field(default_factory=list, description="aws:RequestedRegion.")
    principal_tags: dict[str, StringOrList] = Field(default_factory=dict, description="aws:PrincipalTag/<key> values.")
    resource_tags: dict[str, StringOrList] = Field(default_factory=dict, description="aws:ResourceTag/<key> values; "
                                                   "actions that cannot be limited by resource tags are not granted.")
    match_principal_tags: list[str] = Field(default_factory=list, description="ABAC: aws:ResourceTag/<key> must "
                                            "equal the caller's aws:PrincipalTag/<key>.")
    time_window: TimeWindow | None = None
    secure_transport: bool = Field(False, description="Only over TLS (aws:SecureTransport).")
    organization_resources: bool = Field(False, description="Only resources owned by accounts of this organization "
                                         "(aws:ResourceOrgID).")


class Grant(Strict):
    """Intent: what people do with one service, compiled against the IAM action database."""

    service: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")] = Field(description="Service prefix, e.g. s3.")
    access: list[AccessLevel] = Field(min_length=1, description="Access levels: list, read, write, tagging, "
                                      "permissions-management.")
    resources: list[str] = Field(default_factory=lambda: ["*"], description="ARN patterns (substitutions allowed) "
                                 "or resource-type names of the service (e.g. bucket, object) meaning all of that "
                                 "type in the account.")
    include: list[str] = Field(default_factory=list, description="Extra actions of any access level (patterns).")
    exclude: list[str] = Field(default_factory=list, description="Actions never granted (patterns).")
    conditions: GrantConditions = Field(default_factory=GrantConditions)


class AcceptedRisk(Strict):
    """A risky grant kept on purpose: who owns the decision, why, and when it is reviewed again."""

    risk: str = Field(description="A rule id from guardrails/data/risks.yaml (e.g. privilege-escalation/attach-policy) "
                      "or a whole category: privilege-escalation, credentials-exposure, data-exfiltration, "
                      "resource-exposure.")
    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)]
    owner: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    review_by: date = Field(description="After this date the build warns until the grant is reviewed.")


class UnknownActionAllowed(Strict):
    """An action newer than the pinned IAM database, allowed in this job function on purpose."""

    action: str = Field(description="Action or pattern newer than the pinned database, e.g. `bedrock:NewAction`.")
    reason: Annotated[str, StringConstraints(min_length=20, max_length=400)]


class JobFunction(Strict):
    """A named set of permissions: intent (`grants`), explicit `statements` and AWS managed policies."""

    library: str | None = Field(
        None, description="A built-in job function (`guardrails library` lists them) whose permissions this one "
        "starts from; its own grants, statements and declarations are added to the built-in's.")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Values of the built-in's parameters (e.g. `name_prefix`, `role_path`, "
        "`boundary`); the others keep their defaults.")
    description: str = Field("", description="Defaults to the built-in's description when `library` is set.")
    accepted_findings: list[AcceptedFinding] = Field(
        default_factory=list,
        description="checkov findings accepted on this job function's policy, one check each, with a reason.",
    )
    accept_risks: list[AcceptedRisk] = Field(
        default_factory=list, description="Risky grants (privilege escalation, data exfiltration…) kept on purpose."
    )
    unknown_actions_allowed: list[UnknownActionAllowed] = Field(
        default_factory=list, description="Actions AWS added after the pinned IAM database, each with a reason."
    )
    grants: list[Grant] = Field(default_factory=list, description="Intent, compiled to least-privilege statements.")
    statements: list[Statement] = Field(default_factory=list)
    managed_policies: list[str] = Field(
        default_factory=list, description="AWS managed policies by name or path/name, e.g. `job-function/ViewOnlyAccess`."
    )
    policy_name: PolicyName | None = Field(
        None, description="Name of the job function's managed policy (default `guardrails-<job>`), e.g. the name of "
        "a customer managed policy that exists already (`guardrails import` writes it). The policy must fit in one.")
    policy_path: IamPath | None = Field(None, description="Path of the managed policy (default `/guardrails/`).")
    existing: bool = Field(False, description="The policy `policy_name` under `policy_path` exists in every account "
                           "where the job function is used (`guardrails import` says so): Terraform imports it by ARN.")

    @model_validator(mode="after")
    def _existing_needs_name(self) -> JobFunction:
        if self.existing and (self.policy_name is None or not (self.statements or self.grants or self.library)):
            raise ValueError("an existing job-function policy needs its `policy_name` and the statements it holds")
        return self


class InlinePolicy(Strict):
    """A role's inline policy (as `guardrails import` keeps a live one): explicit statements, checked like any."""

    statements: list[Statement] = Field(min_length=1)


class Group(Strict):
    job_functions: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list, description="IAM user names (users defined in `users`).")
    path: IamPath = "/"
    deploy_to: Placement
    moved_from: MovedFrom
    existing: bool = Field(False, description="The group exists in every account of `deploy_to` (`guardrails "
                           "import` says so): Terraform imports it instead of creating it.")


class User(Strict):
    path: IamPath = "/"
    console: bool = Field(True, description="The user signs in to the console (a password is set out of band).")
    access_keys: bool = Field(False, description="The user may create access keys (discouraged; CIS 1.11).")
    deploy_to: Placement
    moved_from: MovedFrom
    tags: dict[str, str] = Field(default_factory=dict)
    accepted_findings: list[AcceptedFinding] = Field(
        default_factory=list, description="checkov findings accepted on this user (e.g. CKV_AWS_273), with a reason."
    )
    existing: bool = Field(False, description="The user exists in every account of `deploy_to` (`guardrails "
                           "import` says so): Terraform imports it instead of creating it.")


class Role(Strict):
    name: IamName | None = Field(None, description="IAM role name; defaults to the entry's key.")
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    path: IamPath = "/"
    trust: Trust
    job_functions: list[str] = Field(default_factory=list)
    boundary: str | None = Field(None, description="Name of an entry in `permission_boundaries`.")
    inline_policies: dict[PolicyName, InlinePolicy] = Field(
        default_factory=dict, description="Inline policies by name (a live role's, kept inline by `guardrails "
        "import`); prefer job functions, which are managed policies that can be reviewed and reused.")
    max_session_duration: int = Field(3600, ge=3600, le=43200, description="Seconds (AWS range 3600–43200).")
    instance_profile: bool = False
    deploy_to: Placement
    moved_from: MovedFrom
    tags: dict[str, str] = Field(default_factory=dict)
    accepted_findings: list[AcceptedFinding] = Field(
        default_factory=list, description="checkov findings accepted on this role (e.g. CKV_AWS_60), with a reason."
    )
    existing: bool = Field(False, description="The role exists in every account of `deploy_to` (`guardrails "
                           "import` says so): Terraform imports it instead of creating it.")


class PermissionBoundary(Strict):
    name: PolicyName | None = None
    path: IamPath | None = Field(None, description="Path of the boundary policy (default `/guardrails/`).")
    existing: bool = Field(False, description="The policy `name` under `path` exists in every account where it is "
                           "created (`guardrails import` says so): Terraform imports it by ARN.")
    description: str = ""
    statements: list[Statement] = Field(min_length=1)
    deploy_to: Placement | None = Field(
        None, description="Where the boundary policy is created even if no role of the blueprint uses it there: "
        "the accounts where people or CI create roles with it (`iam:PermissionsBoundary`). It is created wherever a "
        "role or permission set uses it anyway.")
    moved_from: MovedFrom


class PasswordPolicy(Strict):
    """Every field is always emitted: UpdateAccountPasswordPolicy is not a partial update."""

    minimum_length: int = Field(14, ge=6, le=128)
    require_symbols: bool = True
    require_numbers: bool = True
    require_uppercase: bool = True
    require_lowercase: bool = True
    allow_users_to_change: bool = True
    max_age: int = Field(90, ge=0, le=1095, description="Days; 0 = never expire.")
    reuse_prevention: int = Field(24, ge=0, le=24, description="0 = none.")
    hard_expiry: bool = False
    existing: bool = Field(False, description="A password policy is already set: import it.")


class MfaEnforcement(Strict):
    enabled: bool = True
    policy_name: PolicyName = "GuardrailsForceMFA"
    allow_first_password_without_mfa: bool = Field(
        False,
        description="Let users set their first password before enrolling MFA (adds iam:ChangePassword and "
        "iam:GetAccountPasswordPolicy to the MFA-free actions; AWS advises against it).",
    )


class Limits(Strict):
    """Overrides of AWS limits (defaults: current AWS values, see guardrails/data/limits.yaml)."""

    managed_policy_chars: int | None = Field(None, ge=1)
    scp_chars: int | None = Field(None, ge=1)
    rcp_chars: int | None = Field(None, ge=1)
    trust_policy_chars: int | None = Field(None, ge=1)
    role_inline_chars: int | None = Field(None, ge=1)
    group_inline_chars: int | None = Field(None, ge=1)
    user_inline_chars: int | None = Field(None, ge=1)
    scps_per_target: int | None = Field(None, ge=1)
    rcps_per_target: int | None = Field(None, ge=1)
    managed_policies_per_role: int | None = Field(None, ge=1)
    managed_policies_per_group: int | None = Field(None, ge=1)


# --------------------------------------------------------------------------- access tests

PrincipalText = Annotated[
    str, StringConstraints(pattern=r"^(root|(role|user|group|federated|service|permission-set|root-session)/.+"
                                   r"|external:\d{12}/(root|(role|user)/.+))$")]
ContextValue = Union[str, bool, int, list[str]]


class AccessTest(Strict):
    """An access assertion, proved offline on every build (and by `guardrails test`) with guardrails' evaluator."""

    description: str | None = Field(None, description="What the assertion proves, in a sentence.")
    principal: PrincipalText = Field(
        description="`role/NAME`, `user/NAME`, `group/NAME` (a member of the group), `root` (the account's root "
        "user), `root-session/TASK` (an sts:AssumeRoot session scoped by the AWS task policy TASK, e.g. "
        "`root-session/IAMDeleteRootUserCredentials`), `federated/PROVIDER` (e.g. "
        "`federated/token.actions.githubusercontent.com`), `service/PRINCIPAL`, `permission-set/NAME` (an IAM "
        "Identity Center session of that permission set, in an account it is assigned to) or a principal of an "
        "account outside the organization: `external:123456789012/role/NAME`, `external:123456789012/user/NAME`, "
        "`external:123456789012/root`."
    )
    account: str | None = Field(None, description="The account the principal is in (name); for an `external:` "
                                "principal, the organization account the request goes to.")
    accounts: list[str] | Literal["all"] | None = Field(
        None, description="Several accounts (names), or `all`: the assertion must hold in each."
    )
    action: str | None = Field(None, description="The action, e.g. `ec2:RunInstances`.")
    actions: list[str] | None = Field(None, description="Several actions: the assertion must hold for each.")
    resource: str = Field(
        "*",
        description="Resource ARN; `${partition}`, `${account_id}` (the principal's account), "
        "`${account_id:NAME}` and `${region}` are substituted.",
    )
    context: dict[str, ContextValue] = Field(
        default_factory=dict,
        description="Request context, e.g. `aws:MultiFactorAuthPresent: true`, `aws:RequestedRegion: us-east-1`, "
        "`aws:SourceIp`, `aws:PrincipalTag/team`, `aws:CurrentTime`. Keys AWS always sets (aws:PrincipalArn, "
        "aws:PrincipalOrgID, aws:RequestedRegion from the resource or home region …) are filled in.",
    )
    expect: Literal["allow", "deny"]
    decided_by: str | None = Field(
        None, description="Optional: a statement Sid or policy name that must be among those that decided."
    )

    @model_validator(mode="after")
    def _one_of_each(self) -> AccessTest:
        if (self.account is None) == (self.accounts is None):
            raise ValueError("an access test needs exactly one of `account` or `accounts`")
        if (self.action is None) == (self.actions is None):
            raise ValueError("an access test needs exactly one of `action` or `actions`")
        return self


class Blueprint(Strict):
    """The whole blueprint: the merge of every YAML file in the blueprint directory."""

    model_config = ConfigDict(title="guardrails blueprint v1")

    version: Literal[1] = Field(1, description="Blueprint format version.")
    organization: Organization
    job_functions: dict[str, JobFunction] = Field(default_factory=dict)
    permission_boundaries: dict[str, PermissionBoundary] = Field(default_factory=dict)
    identity_providers: IdentityProviders = Field(default_factory=IdentityProviders)
    groups: dict[str, Group] = Field(default_factory=dict)
    users: dict[str, User] = Field(default_factory=dict)
    roles: dict[str, Role] = Field(default_factory=dict)
    password_policy: Literal["cis"] | PasswordPolicy = Field(
        "cis", validate_default=True, description="`cis` (CIS defaults: length 14, reuse 24, max age 90) or explicit values."
    )
    mfa_enforcement: MfaEnforcement = Field(default_factory=MfaEnforcement)
    limits: Limits = Field(default_factory=Limits)
    tests: dict[str, AccessTest] = Field(
        default_factory=dict, description="Access assertions by name: who may (not) do what, where."
    )
    security: Security | None = Field(
        None, description="Detective controls, log archive and account settings (docs/security-baseline.md)."
    )
    identity_center: IdentityCenter | None = Field(
        None, description="IAM Identity Center permission sets and group assignments (docs/identity-center.md)."
    )
    accepted_warnings: list[AcceptedWarning] = Field(
        default_factory=list, description="Warnings kept on purpose, each with a reason: guardrails warnings marked "
        "acceptable (GR320) and cfn-lint warnings and informational findings (docs/validation.md). checkov findings "
        "are accepted on their entry (`accepted_findings`), risky grants in `accept_risks`.")

    @field_validator("password_policy", mode="after")
    @classmethod
    def _expand_preset(cls, value: Any) -> PasswordPolicy:
        return PasswordPolicy() if value == "cis" else value


Account.model_rebuild()
OrgUnit.model_rebuild()
Organization.model_rebuild()

# Top-level sections that are mappings of named entries may be split across files.
MERGEABLE_SECTIONS = ("job_functions", "permission_boundaries", "groups", "users", "roles", "tests")
