"""``terraform/accounts/<account>/``: one root module per account (management included).

    versions.tf backend.tf providers.tf   the provider assumes the account's deployment role; with a security
                                          plan, one aliased provider per region of SecurityPlan.alert_regions
    main.tf                               calls the class's baseline module and imports what already exists
    security.tf log_archive.tf access_analyzer.tf   with a security plan (:mod:`.security`)

An account without a baseline class gets a root module with the security files only.
"""

from __future__ import annotations

from dataclasses import replace

from guardrails.emitters.terraform.hcl import comment, path_segment, quote, tf_name
from guardrails.emitters.terraform.render import ROOT, render, root_files
from guardrails.emitters.terraform.security import account_security_files, provider_aliases
from guardrails.iam.arns import policy_arn
from guardrails.policies.ir import Account, BaselineClass, Plan

PASSWORD_POLICY_IMPORT_ID = "iam-account-password-policy"  # the fixed id the provider imports it by


def account_roots(plan: Plan) -> dict[str, str]:
    """``{path: text}`` of every account's root module: each shape rendered once (:func:`_shaped`), the same text as
    :func:`account_root` gives account by account (tests/test_account_shapes.py compares them)."""
    classes = {name: cls for cls in plan.classes for name in cls.accounts}
    shapes: dict[tuple[object, ...], dict[str, str] | None] = {}
    files: dict[str, str] = {}
    for account in sorted(plan.accounts, key=lambda a: a.name):
        cls = classes.get(account.name)
        files.update(_shaped(plan, account, cls, shapes) or _render(plan, account, cls))
    return files


def account_root(plan: Plan, account: Account) -> dict[str, str]:
    """``{path: text}`` of the account's root module; nothing for an account with neither class nor security."""
    return _render(plan, account, plan.class_of(account.name))


# Placeholders for the account's name and id in a shape (NUL never occurs in generated text).
_NAME, _ID = "\0name\0", "\0id\0"
_OTHER = "\0other\0"  # the stand-in's email and OU, which no root module writes


def _shaped(plan: Plan, account: Account, cls: BaselineClass | None,
            shapes: dict[tuple[object, ...], dict[str, str] | None]) -> dict[str, str] | None:
    """The account's root module from its shape's, or None where it must be rendered on its own.

    Accounts of one class that are none of the special ones (management, log archive, analyzer, detection admin)
    differ only in their name and id, which the templates insert verbatim (``quote``, ``comment`` and
    ``path_segment`` leave them unchanged, checked here) and never as an attribute name that ``align`` would pad
    for. The shape is rendered twice with two different stand-ins of the account's name and id lengths (alignment
    cannot change) and kept only if both give the same text with the stand-ins taken out — so no stand-in
    coincided with template text — then the account's values go where the stand-ins were."""
    security = plan.security
    special = security is not None and account.name in (
        security.log_account, security.analyzer_account, security.detection_admin)
    if account.management or special or not all(_verbatim(v) for v in (account.name, account.id)):
        return None
    key = (cls.key if cls is not None else None, len(account.name), len(account.id), account.existing)
    if key not in shapes:
        shapes[key] = _shape(plan, account, cls)
    shape = shapes[key]
    if shape is None:
        return None
    return {path.replace(_NAME, account.name): text.replace(_NAME, account.name).replace(_ID, account.id)
            for path, text in shape.items()}


def _shape(plan: Plan, account: Account, cls: BaselineClass | None) -> dict[str, str] | None:
    renders = []
    for mark in "AB":
        name = (mark + "GrShApEsTaNdIn" + "N" * len(account.name))[:len(account.name)]
        number = (str("AB".index(mark) + 1) + "7" * len(account.id))[:len(account.id)]
        files = _render(plan, replace(account, name=name, id=number, email=_OTHER, unit=_OTHER), cls)
        if any(_OTHER in text for text in files.values()):
            return None  # the module writes the account's email or OU: render each account
        renders.append({path.replace(name, _NAME): text.replace(name, _NAME).replace(number, _ID)
                        for path, text in files.items()})
    return renders[0] if renders[0] == renders[1] else None


def _verbatim(value: str) -> bool:
    """Does every template filter write ``value`` as it is?"""
    try:
        return quote(value).text == f'"{value}"' and comment(value).text == value and path_segment(value) == value
    except ValueError:
        return False


def _render(plan: Plan, account: Account, cls: BaselineClass | None) -> dict[str, str]:
    if cls is None and plan.security is None:
        return {}
    directory = f"{ROOT}/accounts/{path_segment(account.name)}"
    role = plan.org.management_deployment_role if account.management else plan.org.deployment_role
    files = root_files(plan, directory, f"guardrails/accounts/{account.name}.tfstate", account.id, role,
                       provider_aliases(plan))
    if plan.security is not None:
        files.update(account_security_files(plan, account, directory))
    if cls is None:
        return files
    baseline = cls.baseline
    imports: list[tuple[str, str]] = []  # (address inside module.baseline, import id)
    if baseline.password_policy is not None and baseline.password_policy.existing:
        imports.append(("aws_iam_account_password_policy.this", PASSWORD_POLICY_IMPORT_ID))
    # Roles and groups that exist already (blueprint `existing`, written by `guardrails import`): by name.
    imports += [(f"aws_iam_role.{r.key}", r.name) for r in baseline.roles if r.existing]
    imports += [(f"aws_iam_group.{g.key}", g.name) for g in baseline.groups if g.existing]
    # Group memberships need no import: AddUserToGroup succeeds for a member already.
    imports += [(f"aws_iam_user.{u.key}", u.name) for u in baseline.users if u.existing]
    prefix = f"arn:{plan.org.partition}:iam::{account.id}:"
    # Customer managed policies that exist already (job functions and boundaries with `existing`): by ARN.
    imports += [(f"aws_iam_policy.{p.key}", policy_arn(plan.org.partition, account.id, p.path, p.name))
                for p in baseline.managed_policies if p.existing]
    # A role's inline policies when the role exists: "<role name>:<policy name>" (PutRolePolicy would overwrite).
    imports += [(f"aws_iam_role_policy.{r.key}_inline_{tf_name(n)}", f"{r.name}:{n}")
                for r in baseline.roles if r.existing for n, _ in r.inline_policies]
    imports += [(f"aws_iam_openid_connect_provider.{p.key}", f"{prefix}oidc-provider/{p.host}")
                for p in baseline.oidc_providers if p.existing]
    imports += [(f"aws_iam_saml_provider.{p.key}", f"{prefix}saml-provider/{p.name}")
                for p in baseline.saml_providers if p.existing]
    files[f"{directory}/main.tf"] = render(
        plan, "account_main.tf.j2", account=account, module_source=f"../../modules/baseline-{cls.key}",
        region=plan.org.home_region, imports=imports, class_key=cls.key)
    return files
