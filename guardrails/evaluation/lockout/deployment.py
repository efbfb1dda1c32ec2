"""Deployment: the deployment principals can do everything deploying the emitted baseline needs
(``guardrails/data/deployment_actions.yaml``), and the management deployer can assume the bootstrap role in
every member account.

A deployment principal that guardrails deploys in the account (a role of its class whose name the pattern
matches, such as a CI role) is evaluated with its real identity policies and permissions boundary, as well as
the SCPs and RCPs: within one account a request needs an Allow from the identity policies and from the boundary
and from every SCP level, and no explicit Deny anywhere
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). The roles AWS
creates — OrganizationAccountAccessRole with administrator access in the accounts Organizations creates
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html), the StackSets
execution role, the management deployer made by hand — are not in the emitted tree: for them only the SCPs and
RCPs are asked (their identity taken to be administrator access)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from guardrails.evaluation.engine import Policy, PolicySet, Request, statements_of
from guardrails.evaluation.lockout.facts import ADMINISTRATOR, OWN_REQUEST_KEYS, deployment_actions
from guardrails.evaluation.lockout.paths import role_probe_policies
from guardrails.evaluation.lockout.principals import Principals
from guardrails.evaluation.lockout.probes import Chosen, Role, path_of
from guardrails.evaluation.lockout.search import Search, given_context
from guardrails.evaluation.lockout.statements import denies_of, element
from guardrails.evaluation.organization import Account, PrincipalSpec
from guardrails.iam.actions import wildcard_matches
from guardrails.iam.arns import root_arn


def prove_deployment(search: Search, who: Principals) -> None:
    """Every deployment role, and the password-policy function's role in member accounts, is allowed what its
    account's baseline needs; then the management deployer's way into the member accounts."""
    data = deployment_actions()
    function = data["password_policy_function"]
    roles = [Role.of_pattern(p) for p in who.deployment_patterns]
    function_role = Role(f"role{function['role_path']}{function['role_name']}", function["role_name"],
                         function["role_path"])
    for path, accounts in search.paths.groups(by_class=True):
        account = path.account
        policies = role_probe_policies(path)
        denies = denies_of(policies)
        needed = _needed(search, account)

        def make(action: str, resource: str, chosen: Chosen, role: Role,
                 policies: PolicySet = policies, account: Account = account) -> tuple[Request, PolicySet]:
            return search.requests.role_request(role, account, action, resource, chosen), policies

        search.coverage.group("deployment")
        for pattern, role in zip(who.deployment_patterns, roles, strict=True):
            deployed = _deployed(search, account, pattern)
            if not deployed:
                # A role guardrails does not deploy here (AWS creates OrganizationAccountAccessRole and the
                # StackSets execution role with administrator access): only SCPs and RCPs can deny it.
                search.check_requests("deployment", role.label, accounts, path, needed,
                                      lambda a, r, c, role=role: make(a, r, c, role), OWN_REQUEST_KEYS, denies=denies)
            for name in deployed:
                # A role guardrails deploys: its own identity policies and boundary, with the SCPs and RCPs.
                spec = PrincipalSpec("role", name)

                def real(action: str, resource: str, chosen: Chosen, spec: PrincipalSpec = spec,
                         account: Account = account) -> tuple[Request, PolicySet]:
                    return search.org.prepare(spec, account.name, action, resource, given_context({}, chosen))

                search.check_requests("deployment", f"role/{name}", accounts, path, needed, real, OWN_REQUEST_KEYS)
        if not account.management:
            pairs = _function_pairs(search, account)
            search.check_requests("deployment", function_role.label, accounts, path, pairs,
                                  lambda a, r, c: make(a, r, c, function_role), OWN_REQUEST_KEYS, denies=denies)
    _bootstrap(search, who)


def _deployed(search: Search, account: Account, pattern: str) -> list[str]:
    """Names of the roles of the account's class that a deployment principal pattern (``path/name*``) names."""
    name_pattern = pattern.strip("/").rsplit("/", 1)[-1]
    path = path_of(pattern) if "/" in pattern.strip("/") else None
    return [r.name for r in search.org.class_entry(account).roles
            if wildcard_matches(name_pattern, r.name) and (path is None or wildcard_matches(path, r.path))]


def _bootstrap(search: Search, who: Principals) -> None:
    """The management deployer assumes the bootstrap role in every member account: RCPs of the member apply."""
    if not who.management_deployer:
        return
    management = next((a for a in search.org.accounts.values() if a.management), None)
    if management is None:
        return
    deployer = Role.of_pattern(who.management_deployer)
    target = Role.of_pattern(who.bootstrap_role, label="")
    for path, accounts in search.paths.groups(members_only=True):
        resource = target.arn(search.partition, path.account.id)
        # AWS Organizations creates the role trusting the management account; guardrails does not emit it.
        # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html
        trust = Policy(f"trust policy of {who.bootstrap_role} (created by AWS Organizations)", "resource",
                       {"Version": "2012-10-17", "Statement": [{
                           "Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"AWS": root_arn(search.partition, management.id)}}]})
        policies = PolicySet(rcp_levels=() if path.account.management else path.rcp_levels,
                             identity=(ADMINISTRATOR,), resource=trust, resource_required=True,
                             scp_exempt_reason="SCPs do not restrict principals of the management account")

        def make(action: str, res: str, chosen: Chosen, policies: PolicySet = policies) -> tuple[Request, PolicySet]:
            return search.requests.role_request(deployer, management, action, res, chosen), policies

        search.check_requests("deployment", deployer.label, accounts, path, [("sts:AssumeRole", resource)], make,
                              OWN_REQUEST_KEYS, denies=denies_of(policies))


_ACCOUNT = "<account>"  # stands for the account id in the pairs kept per class


def _needed(search: Search, account: Account) -> list[tuple[str, str]]:
    """(action, resource) pairs that deploying the account's baseline needs (worked out once per class)."""
    cache = search.memo
    key = ("deployment-needs", account.class_key, account.management)
    if key not in cache:
        data = deployment_actions()
        model = replace(account, id=_ACCOUNT)
        objects, present = _objects(search, model)
        region = search.org.home_region
        pairs: list[tuple[str, str]] = []
        scope = "management" if account.management else "member"
        for spec in data["types"].values():
            if spec["scope"] != scope or not present.get(spec["when"], False):
                continue
            for action in (*spec["actions"], *(spec.get("terraform_extra") or {})):
                for resource in search.requests.database_arns(action, model, region, objects):
                    pairs.append((action, resource))
        cache[key] = list(dict.fromkeys(pairs))
    return [(action, resource.replace(_ACCOUNT, account.id)) for action, resource in cache[key]]


def _function_pairs(search: Search, account: Account) -> list[tuple[str, str]]:
    """(action, resource) pairs of the password-policy function's role (worked out once per class)."""
    key = ("function-needs", account.class_key)
    if key not in search.memo:
        model = replace(account, id=_ACCOUNT)
        objects, _ = _objects(search, model)
        actions = deployment_actions()["password_policy_function"]["actions"]
        search.memo[key] = [(a, r) for a in actions
                            for r in search.requests.database_arns(a, model, search.org.home_region, objects)]
    return [(action, resource.replace(_ACCOUNT, account.id)) for action, resource in search.memo[key]]


def _objects(search: Search, account: Account) -> tuple[dict[str, list[str]], dict[str, bool]]:
    """The class's objects by IAM resource type (names as the ARN formats want them), and which kinds exist."""
    data = deployment_actions()
    function = data["password_policy_function"]
    cls = search.org.class_entry(account)
    roles = [r.path.lstrip("/") + r.name for r in cls.roles]
    roles.append(function["role_path"].lstrip("/") + function["role_name"])
    oidc: list[str] = []
    saml: list[str] = []
    profiles: list[str] = []
    for role in cls.roles:
        trust = json.loads(search.org.files.get(role.trust, '{"Statement": []}'))
        for statement in statements_of(Policy(role.name, "resource", trust)):
            principal = statement.get("Principal")
            if not isinstance(principal, Mapping):
                continue
            where = f"trust policy of role {role.name}: Principal"
            for value in element(principal, "Federated", where=where):
                if ":oidc-provider/" in value:
                    oidc.append(value.split(":oidc-provider/", 1)[1])
                elif ":saml-provider/" in value:
                    saml.append(value.split(":saml-provider/", 1)[1])
            if "ec2.amazonaws.com" in element(principal, "Service", where=where):
                profiles.append(role.path.lstrip("/") + role.name)
    stack = data["stack_instance_name"].replace("{class}", account.class_key or "management")
    objects = {
        "role": roles,
        "policy": [p.arn.split(":policy/", 1)[1] for p in cls.managed_policies],
        "group": [g.path.lstrip("/") + g.name for g in cls.groups],
        "user": [u.path.lstrip("/") + u.name for u in cls.users],
        "instance-profile": sorted(set(profiles)),
        "oidc-provider": sorted(set(oidc)),
        "saml-provider": sorted(set(saml)),
        "function": [function["function_name"]],
        "log-group": [function["log_group_name"]],
        "log-stream": [f"{function['log_group_name']}:log-stream:guardrails"],
        "stack": [f"{stack}/00000000-0000-4000-8000-000000000000"],
    }
    objects = {k: v for k, v in objects.items() if v}
    present = {"always": True, "roles": bool(cls.roles), "managed_policies": bool(cls.managed_policies),
               "groups": bool(cls.groups), "users": bool(cls.users),
               "instance_profiles": bool(profiles), "oidc_providers": bool(oidc), "saml_providers": bool(saml)}
    return objects, present
