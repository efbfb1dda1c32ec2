"""``terraform/accounts/<account>/``: one root module per account (management included).

    versions.tf backend.tf providers.tf   the provider assumes the account's deployment role; with a security
                                          plan, one aliased provider per region of SecurityPlan.alert_regions
    main.tf                               calls the class's baseline module and imports what already exists
    security.tf log_archive.tf access_analyzer.tf   with a security plan (:mod:`.security`)

An account without a baseline class gets a root module with the security files only.
"""

from __future__ import annotations

from guardrails.emitters.terraform.hcl import path_segment, tf_name
from guardrails.emitters.terraform.render import ROOT, render, root_files
from guardrails.emitters.terraform.security import account_security_files, provider_aliases
from guardrails.policies.ir import Account, Plan

PASSWORD_POLICY_IMPORT_ID = "iam-account-password-policy"  # the fixed id the provider imports it by


def account_root(plan: Plan, account: Account) -> dict[str, str]:
    """``{path: text}`` of the account's root module; nothing for an account with neither class nor security."""
    cls = plan.class_of(account.name)
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
    imports += [(f"aws_iam_policy.{p.key}", f"{prefix}policy{p.path}{p.name}")
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
