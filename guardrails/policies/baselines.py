"""The IAM baseline of one account: break-glass, groups, users, MFA enforcement, roles and their boundaries,
identity providers and the password policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

from guardrails.blueprint import schema
from guardrails.diagnostics import Diagnostic

from guardrails.iam.arns import iam_arn, role_arn, root_arn, user_arn
from guardrails.model.build import Model
from guardrails.policies.ir import (
    Baseline,
    BaselineClass,
    Condition,
    Group,
    ManagedPolicy,
    OidcProvider,
    OrgInfo,
    PasswordPolicy,
    PolicyDocument,
    PolicyRef,
    Principal,
    Role,
    SamlProvider,
    Statement,
    User,
)
from guardrails.policies.jobs import JobCompilation, refs_for
from guardrails.policies.statements import POLICY_PATH, accepted_checks, camel, convert_statement, ident
from guardrails.policies.trust import role_trust

_T = TypeVar("_T")

BREAK_GLASS_GROUP = "break-glass"
# The tag of the CloudFormation custom-resource functions (password policy, account settings): their roles are
# exempt from guardrails, so protect-guardrail-roles denies changing a function so tagged (Lambda authorizes
# function actions on aws:ResourceTag: https://docs.aws.amazon.com/lambda/latest/dg/attribute-based-access-control.html).
CUSTOM_RESOURCE_TAG = ("guardrails:purpose", "custom-resource")


def mfa_policy_document(*, access_keys: bool, first_password_without_mfa: bool, partition: str,
                        password_expires: bool = False) -> PolicyDocument:
    """AWS's self-manage-credentials pattern: users manage only their own credentials, and nothing works
    without MFA except enrolling a device. ``BoolIfExists`` also blocks long-term access keys used without
    MFA.

    AWS warns that the pattern keeps a user whose password expired from setting a new one at sign-in, and
    that adding iam:ChangePassword and iam:GetAccountPasswordPolicy to the MFA-free actions allows it. That is
    done when passwords expire (``password_expires``: a maximum age without hard expiry), so that the
    break-glass users are never locked out by their own password, and when the blueprint lets users set their
    first password before MFA. ChangePassword changes only the caller's own password and needs the current
    one; AllowManageOwnPasswords scopes it to the caller's own user.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html"""
    own_user = (user_arn(partition, "*", "${aws:username}"),)
    statements = [
        Statement("AllowViewAccountInfo", "Allow",
                  actions=("iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"),
                  resources=("*",)),
        Statement("AllowManageOwnPasswords", "Allow", actions=("iam:ChangePassword", "iam:GetUser"),
                  resources=own_user),
    ]
    if access_keys:
        statements.append(Statement("AllowManageOwnAccessKeys", "Allow",
                                    actions=("iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys",
                                             "iam:UpdateAccessKey"),
                                    resources=own_user))
    statements += [
        Statement("AllowManageOwnVirtualMFADevice", "Allow", actions=("iam:CreateVirtualMFADevice",),
                  resources=(iam_arn(partition, "*", "mfa/*"),)),
        Statement("AllowManageOwnUserMFA", "Allow",
                  actions=("iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:GetMFADevice", "iam:ListMFADevices",
                           "iam:ResyncMFADevice"), resources=own_user),
    ]
    allowed_without_mfa = {"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetMFADevice", "iam:GetUser",
                           "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice",
                           "sts:GetSessionToken"}
    if first_password_without_mfa or password_expires:
        allowed_without_mfa |= {"iam:ChangePassword", "iam:GetAccountPasswordPolicy"}
    statements.append(Statement("DenyAllExceptListedIfNoMFA", "Deny", not_actions=tuple(sorted(allowed_without_mfa)),
                                resources=("*",),
                                conditions=(Condition("BoolIfExists", "aws:MultiFactorAuthPresent", ("false",)),)))
    return PolicyDocument(tuple(statements))


def _former(prefix: str, keys: list[str]) -> tuple[str, ...]:
    """The IR keys of an entry's former blueprint keys (``moved_from``), as the entry's own key is formed."""
    return tuple(f"{prefix}_{ident(k)}" for k in keys)


def boundary_policy(model: Model, name: str, info: OrgInfo) -> ManagedPolicy:
    """The managed policy of the `permission_boundaries` entry ``name``."""
    b = model.blueprint.permission_boundaries[name]
    where = ("permission_boundaries", name, "statements")
    statements = tuple(convert_statement(s, f"{camel(name)}{i + 1}", info, str(model.source.where(*where, i)))
                       for i, s in enumerate(b.statements))
    return ManagedPolicy(f"boundary_{ident(name)}", b.name or name, b.path or POLICY_PATH,
                         # An existing policy's description cannot change in place: kept as written.
                         b.description if b.existing else b.description or f"Permission boundary {name}",
                         PolicyDocument(statements), "boundary",
                         moved_from=_former("boundary", b.moved_from), existing=b.existing,
                         origin=str(model.source.where_key("permission_boundaries", name)))


def baseline_for(model: Model, account: str, info: OrgInfo, compiled: dict[str, JobCompilation],
                 shared: dict[tuple[str, str], Any] | None = None,
                 placed: frozenset[tuple[str, str]] | None = None) -> Baseline:
    """The baseline of ``account``. ``shared``: the documents that do not depend on the account (a role's trust, a
    boundary), kept across the calls of one synthesis: a role deployed to 20 classes is built once, not 20 times.
    ``placed``: the identities placed in the account (:func:`placed_identities`), when the caller has them."""
    shared = {} if shared is None else shared
    # Set lookups: `account in model.placements[...]` scanned a tuple of up to every account, per identity.
    placed = placed_identities(model, account) if placed is None else placed
    bp = model.blueprint
    org = bp.organization
    policies: dict[str, ManagedPolicy] = {}
    roles: list[Role] = []
    groups: list[Group] = []
    users: list[User] = []
    oidc_used: set[str] = set()
    saml_used: set[str] = set()

    # Break-glass: a role in every account, trusted only by the break-glass users with fresh MFA.
    bg = org.break_glass
    bg_account_id = model.accounts[bg.account].id
    roles.append(Role(
        key="break_glass", name=bg.role, path="/",
        description="Break-glass administrator access; assumed only by the break-glass IAM users with MFA.",
        trust=PolicyDocument((Statement(
            "TrustBreakGlassUsersWithMfa", "Allow", actions=("sts:AssumeRole",),
            principals=(Principal("AWS", (root_arn(info.partition, bg_account_id),)),),
            conditions=tuple(sorted([
                Condition("ArnLike", "aws:PrincipalArn",
                          tuple(sorted(user_arn(info.partition, bg_account_id, u) for u in bg.users))),
                Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)),
                Condition("NumericLessThan", "aws:MultiFactorAuthAge", (str(bg.mfa_max_age),)),
            ]))),)),
        policies=(PolicyRef("aws", "AdministratorAccess"),), max_session_duration=bg.max_session_duration,
        tags=(("guardrails:purpose", "break-glass"),),
        origin=str(model.source.where_key("organization", "break_glass"))))

    placed_users = [name for name in bp.users if ("users", name) in placed]
    if account == bg.account:
        assume = ManagedPolicy(
            key="break_glass_assume", name="guardrails-break-glass-assume", path=POLICY_PATH,
            description="Lets break-glass users assume the break-glass role in any account, with MFA.",
            document=PolicyDocument((Statement(
                "AssumeBreakGlassRoleWithMfa", "Allow", actions=("sts:AssumeRole",),
                resources=(role_arn(info.partition, "*", bg.role),),
                conditions=(Condition("Bool", "aws:MultiFactorAuthPresent", ("true",)),)),)),
            origin=str(model.source.where_key("organization", "break_glass")))
        policies[assume.key] = assume
        groups.append(Group("break_glass", BREAK_GLASS_GROUP, "/", (PolicyRef("local", assume.key),),
                            origin=assume.origin))
        users.extend(User(f"user_{ident(u)}", u, "/", ("break_glass",), (("guardrails:purpose", "break-glass"),))
                     for u in bg.users)

    # Groups, users and roles do not depend on the account they are placed in: built once per synthesis (`shared`).
    for name, spec in bp.groups.items():
        if ("groups", name) in placed:
            groups.append(_shared_adding(shared, "group", name, policies,
                                         lambda own: _group(model, name, spec, compiled, own)))
    users.extend(_shared(shared, "user", name, lambda: _user(model, name)) for name in placed_users)

    # MFA enforcement: attached to every group that has IAM users in this account.
    mfa = bp.mfa_enforcement
    if mfa.enabled and users:
        needs_keys = any(bp.users[u].access_keys for u in placed_users)
        document = mfa_policy_document(access_keys=needs_keys,
                                       first_password_without_mfa=mfa.allow_first_password_without_mfa,
                                       partition=info.partition,
                                       password_expires=bp.password_policy.max_age > 0
                                       and not bp.password_policy.hard_expiry)
        force = ManagedPolicy("force_mfa", mfa.policy_name, POLICY_PATH,
                              "Denies everything but MFA enrollment until the user signs in with MFA.", document,
                              origin=str(model.source.where_key("mfa_enforcement")))
        policies[force.key] = force
        with_members = {g for u in users for g in u.groups}
        groups = [replace(g, policies=(*g.policies, PolicyRef("local", force.key)))
                  if g.key in with_members else g for g in groups]

    for key, spec in bp.roles.items():
        if ("roles", key) not in placed:
            continue
        if spec.trust.github_oidc:
            oidc_used.add(spec.trust.github_oidc.provider)
        if spec.trust.gitlab_oidc:
            oidc_used.add(spec.trust.gitlab_oidc.provider)
        if spec.trust.oidc:
            oidc_used.add(spec.trust.oidc.provider)
        if spec.trust.saml:
            saml_used.add(spec.trust.saml.provider)
        roles.append(_shared_adding(shared, "role", key, policies,
                                    lambda own: _role(model, key, spec, info, compiled, own, shared)))

    # Boundaries placed by their own `deploy_to`: where roles are created with them (the delegation pattern), which
    # no role of the blueprint may use there.
    for name in bp.permission_boundaries:
        if ("permission_boundaries", name) in placed:
            boundary = _shared(shared, "boundary", name, lambda: boundary_policy(model, name, info))
            policies.setdefault(boundary.key, boundary)

    password = password_policy(model)
    idp = bp.identity_providers
    return Baseline(
        managed_policies=tuple(sorted(policies.values(), key=lambda p: p.key)),
        roles=tuple(sorted(roles, key=lambda r: r.key)),
        groups=tuple(sorted(groups, key=lambda g: g.key)),
        users=tuple(sorted(users, key=lambda u: u.key)),
        oidc_providers=tuple(OidcProvider(f"oidc_{ident(n)}", idp.oidc[n].url, tuple(idp.oidc[n].audiences),
                                          tuple(t.lower() for t in idp.oidc[n].thumbprints), idp.oidc[n].existing)
                             for n in sorted(oidc_used)),
        saml_providers=tuple(SamlProvider(f"saml_{ident(n)}", n,
                                          (model.source.directory / idp.saml[n].metadata_file).read_text("utf-8"),
                                          idp.saml[n].existing) for n in sorted(saml_used)),
        password_policy=password)


def _group(model: Model, name: str, spec: schema.Group, compiled: dict[str, JobCompilation],
           policies: dict[str, ManagedPolicy]) -> Group:
    """The ``groups`` entry ``name`` (before MFA enforcement); adds its job functions' policies to ``policies``."""
    return Group(f"group_{ident(name)}", name, spec.path, refs_for(model, spec.job_functions, compiled, policies),
                 moved_from=_former("group", spec.moved_from), existing=spec.existing,
                 origin=str(model.source.where_key("groups", name)))


def _user(model: Model, name: str) -> User:
    """The ``users`` entry ``name``, member of the groups that list it."""
    bp = model.blueprint
    spec = bp.users[name]
    member_of = tuple(f"group_{ident(g)}" for g, gs in bp.groups.items() if name in gs.members)
    return User(f"user_{ident(name)}", name, spec.path, member_of, tuple(sorted(spec.tags.items())),
                accepted_checks(spec.accepted_findings), _former("user", spec.moved_from), existing=spec.existing)


def _role(model: Model, key: str, spec: schema.Role, info: OrgInfo, compiled: dict[str, JobCompilation],
          policies: dict[str, ManagedPolicy], shared: dict[tuple[str, str], Any]) -> Role:
    """The ``roles`` entry ``key``; adds its boundary and its job functions' policies to ``policies``."""
    boundary_ref = None
    if spec.boundary:
        boundary = _shared(shared, "boundary", spec.boundary, lambda: boundary_policy(model, spec.boundary, info))
        policies[boundary.key] = boundary
        boundary_ref = PolicyRef("local", boundary.key)
    return Role(
        key=f"role_{ident(key)}", name=spec.name or key, path=spec.path, description=spec.description,
        trust=role_trust(model, key, spec, info), policies=refs_for(model, spec.job_functions, compiled, policies),
        boundary=boundary_ref, max_session_duration=spec.max_session_duration,
        inline_policies=tuple((name, PolicyDocument(tuple(
            convert_statement(s, f"{camel(key)}{camel(name)}{i + 1}", info,
                              str(model.source.where("roles", key, "inline_policies", name, "statements", i)))
            for i, s in enumerate(inline.statements)))) for name, inline in sorted(spec.inline_policies.items())),
        instance_profile=spec.instance_profile,
        tags=tuple(sorted(spec.tags.items())), accepted_findings=accepted_checks(spec.accepted_findings),
        moved_from=_former("role", spec.moved_from), existing=spec.existing,
        origin=str(model.source.where_key("roles", key)))


def placed_identities(model: Model, account: str) -> frozenset[tuple[str, str]]:
    """The (section, name) of every identity (and boundary with its own ``deploy_to``) placed in ``account``."""
    return frozenset(identity for identity, accounts in model.placements.items() if account in accounts)


def _shared_adding(shared: dict[tuple[str, str], Any], kind: str, name: str, policies: dict[str, ManagedPolicy],
                   build: Callable[[dict[str, ManagedPolicy]], _T]) -> _T:
    """``_shared`` for a value whose build adds managed policies to the account's: ``build(own)`` runs once and
    records them in ``own``; every call adds them to ``policies`` again (same keys, same objects)."""
    key = (kind, name)
    if key not in shared:
        own: dict[str, ManagedPolicy] = {}
        shared[key] = (build(own), tuple(own.items()))
    value, adds = shared[key]
    policies.update(adds)
    return value


def _shared(shared: dict[tuple[str, str], Any], kind: str, name: str, build: Callable[[], _T]) -> _T:
    """``build()`` once per (kind, name) in ``shared``: plan values are immutable, so classes share the object."""
    key = (kind, name)
    if key not in shared:
        shared[key] = build()
    return shared[key]


def password_policy(model: Model) -> PasswordPolicy:
    pp = model.blueprint.password_policy
    return PasswordPolicy(pp.minimum_length, pp.require_symbols, pp.require_numbers, pp.require_uppercase,
                          pp.require_lowercase, pp.allow_users_to_change, pp.max_age, pp.reuse_prevention,
                          pp.hard_expiry, pp.existing)



def policy_name_clashes(model: Model, classes: Iterable[BaselineClass]) -> list[Diagnostic]:
    """Two managed policies of one account with one name: IAM policy names are unique in an account whatever the
    path (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names),
    so the second CreatePolicy would fail. Named policies (`policy_name`, a boundary's `name`) can clash."""
    problems: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for cls in classes:
        by_name: dict[str, list[ManagedPolicy]] = {}
        for policy in cls.baseline.managed_policies:
            by_name.setdefault(policy.name, []).append(policy)
        for name, same in sorted(by_name.items()):
            if len(same) > 1 and (cls.key, name) not in seen:
                seen.add((cls.key, name))
                keys = ", ".join(p.key for p in same)
                problems.append(Diagnostic.of(
                    "GR302", f"managed policy name {name!r} is used by {keys} in account(s) "
                    f"{', '.join(cls.accounts)}: IAM policy names are unique in an account, whatever the path",
                    model.source.where_key(*_origin_path(model, same[-1].key)), "rename one (`policy_name`, a "
                    "boundary's `name`), or deploy them to different accounts"))
    return problems


def _origin_path(model: Model, key: str) -> tuple[str, ...]:
    """The blueprint entry behind a policy key (``job_<job>``, ``boundary_<name>``); () for guardrails' own."""
    entries = {**{f"job_{ident(j)}": ("job_functions", j) for j in model.blueprint.job_functions},
               **{f"boundary_{ident(b)}": ("permission_boundaries", b) for b in model.blueprint.permission_boundaries}}
    return entries.get(key, ())
