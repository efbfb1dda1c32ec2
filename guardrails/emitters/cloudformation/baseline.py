"""One account baseline (IAM + password policy) as a CloudFormation template.

Member-account classes are rolled out by a StackSet (``stacksets.yaml``); the management account's
class is a normal stack, because StackSets never deploy to the management account.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from guardrails.emitters.cloudformation import password_policy, yaml_writer
from guardrails.emitters.cloudformation.render import (
    TEMPLATE_VERSION,
    LogicalIds,
    check_limits,
    document,
    dump,
    ref,
    resource,
    skip_metadata,
    tags,
    with_header,
)
from guardrails.policies.class_lock import stackset_name
from guardrails.policies.ir import Baseline, BaselineClass, Group, ManagedPolicy, Plan, PolicyRef, Role, User

SHOWN_ACCOUNTS = 10  # accounts named in a header; a class can hold hundreds


def baseline_path(cls: BaselineClass, *, management: bool) -> str:
    return "cloudformation/management-baseline.yaml" if management else f"cloudformation/baseline-{cls.key}.yaml"


def stack_name(cls: BaselineClass, *, management: bool) -> str:
    return "guardrails-management-baseline" if management else stackset_name(cls.key)


def render_baseline(plan: Plan, cls: BaselineClass, *, management: bool, memo: Entries | None = None) -> str:
    """The template text, header included; raises CloudFormationLimitError past a hard quota. ``memo``: the
    resources of principals shared across classes (:func:`_entry`), given by :func:`emit` for one plan."""
    path = baseline_path(cls, management=management)
    head, parts = _parts(plan, cls, management=management, memo=memo)
    template = _template(head, parts)
    body = _body(head, parts, template)
    notes = _usage(plan, cls, management=management)
    text = with_header(plan, notes, body)
    extra = check_limits(
        plan, path, template, text, inline=management, what=f"the baseline class {cls.key!r}",
        advice="Deploy fewer roles, groups, users and managed policies to its accounts (narrow their deploy_to, "
               "or merge job functions into fewer managed policies), or deploy the baselines with Terraform, "
               "which has no per-template limit.")
    return with_header(plan, [*notes, *extra], body) if extra else text


def _usage(plan: Plan, cls: BaselineClass, *, management: bool) -> list[str]:
    region = plan.org.home_region
    shown = ", ".join(cls.accounts[:SHOWN_ACCOUNTS])
    more = f" and {len(cls.accounts) - SHOWN_ACCOUNTS} more" if len(cls.accounts) > SHOWN_ACCOUNTS else ""
    lines = [
        f"IAM baseline of the account class {cls.key!r}: {shown}{more}.",
        f"Deploy it in the home region {region} only. IAM is global: a second stack instance in another region",
        "would fail with EntityAlreadyExists. Only IAM and the password-policy function live here.",
    ]
    if management:
        lines += [
            "StackSets never deploy to the management account, so this is a normal stack there:",
            f"  aws cloudformation deploy --region {region} --stack-name {stack_name(cls, management=True)} \\",
            "    --template-file management-baseline.yaml --capabilities CAPABILITY_NAMED_IAM",
        ]
    else:
        lines += [
            f"Rolled out by the StackSet {stack_name(cls, management=False)} in stacksets.yaml: upload this file",
            "to the S3 prefix given as its BaselineTemplateBaseUrl parameter.",
        ]
    skipped = [p.url for p in cls.baseline.oidc_providers if p.existing]
    skipped += [p.name for p in cls.baseline.saml_providers if p.existing]
    if skipped:
        lines.append(f"Identity providers marked existing are not created here (trusted by ARN): {', '.join(skipped)}.")
    return lines


def _first_key(entry: ManagedPolicy | Role | Group | User) -> str:
    """The key a logical id comes from: the oldest of a renamed entry (``moved_from``), so that CloudFormation
    updates the resource in place; a new logical id would create the resource first, which fails while the old one
    holds its name (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html)."""
    return entry.moved_from[0] if entry.moved_from else entry.key


Entries = dict[tuple[object, ...], list[Any]]
"""Memo of :func:`_entry`: key → [resources, their YAML text under ``Resources:`` (None until dumped)]."""
Part = tuple["list[Any] | None", dict[str, Any]]
"""Resources of one principal in template order, with their memo entry (None: not memoized, such as the identity
providers and the password policy, or without a memo)."""


def build_template(plan: Plan, cls: BaselineClass, *, management: bool) -> dict[str, Any]:
    head, parts = _parts(plan, cls, management=management, memo=None)
    return _template(head, parts)


def _template(head: dict[str, Any], parts: list[Part]) -> dict[str, Any]:
    return {**head, "Resources": {k: v for _, resources in parts for k, v in resources.items()}}


def _entry(memo: Entries | None, build: Callable[..., dict[str, Any]], *args: Any) -> Part:
    """``build(*args)``: the resources of one principal, built once per distinct arguments.

    The arguments are plan values (the principal, compared by value, never by id) and the strings the template
    gives it (logical ids, partition): ``build`` is a pure function of them, so equal arguments give equal
    resources, and the same principal in 22 classes is built and dumped once (the only fields equality ignores,
    ``origin``, are diagnostics that no template writes). The resources are shared between
    templates: nothing changes a template after it is built."""
    if memo is None:
        return None, build(*args)
    key = (build.__name__, *args)
    cell = memo.get(key)  # one lookup: hashing a principal walks its documents
    if cell is None:
        cell = memo[key] = [build(*args), None]
    return cell, cell[0]


def _body(head: dict[str, Any], parts: list[Part], template: dict[str, Any]) -> str:
    """``dump(template)``, from each part's YAML dumped once: the writer writes the entries of ``Resources`` one
    after the other, so their texts concatenate (yaml_writer.entries). Where the writer would hand anything to
    PyYAML, or there are no resources, the whole template is dumped."""
    texts = [yaml_writer.entries(head, "")]
    for cell, resources in parts:
        if cell is None:
            texts.append(yaml_writer.entries(resources, "  "))
            continue
        if cell[1] is None:
            cell[1] = yaml_writer.entries(resources, "  ")
        texts.append(cell[1])
    if not template["Resources"] or any(text is None for text in texts):
        return dump(template)
    head_text, *resource_texts = texts
    return head_text + yaml_writer.key_line("Resources") + "".join(resource_texts) + yaml_writer.document_end(template)


def _managed_policy(policy: ManagedPolicy, logical_id: str, partition: str) -> dict[str, Any]:
    kind = "boundary" if policy.kind == "boundary" else "managed_policy"
    return {logical_id: resource("AWS::IAM::ManagedPolicy", _drop_empty({
        "ManagedPolicyName": policy.name,
        "Path": policy.path,
        "Description": policy.description,
        "PolicyDocument": document(policy.document, partition),
    }), metadata=skip_metadata(kind, policy.key, policy.accepted_findings))}


def _arn(policy: PolicyRef, local_ids: tuple[tuple[str, str], ...], partition: str) -> Any:
    if policy.kind == "aws":
        return policy.aws_arn(partition)
    return ref(dict(local_ids)[policy.name])  # Ref of AWS::IAM::ManagedPolicy is its ARN


def _role(role: Role, role_id: str, profile_id: str, local_ids: tuple[tuple[str, str], ...],
          depends_on: tuple[str, ...], partition: str) -> dict[str, Any]:
    out = {role_id: resource("AWS::IAM::Role", _drop_empty({
        "RoleName": role.name,
        "Path": role.path,
        "Description": role.description,
        "AssumeRolePolicyDocument": document(role.trust, partition),
        "ManagedPolicyArns": [_arn(p, local_ids, partition) for p in role.policies],
        "PermissionsBoundary": _arn(role.boundary, local_ids, partition) if role.boundary else None,
        "MaxSessionDuration": role.max_session_duration,
        "Policies": [{"PolicyName": name, "PolicyDocument": document(doc, partition)}
                     for name, doc in role.inline_policies],
        "Tags": tags(role.tags),
    }), depends_on=list(depends_on), metadata=skip_metadata("role", role.key, role.accepted_findings))}
    if role.instance_profile:
        out[profile_id] = resource("AWS::IAM::InstanceProfile", {
            "InstanceProfileName": role.name,
            "Path": role.path,
            "Roles": [ref(role_id)],
        }, metadata=skip_metadata("instance_profile", role.key))
    return out


def _group(group: Group, group_id: str, local_ids: tuple[tuple[str, str], ...], partition: str) -> dict[str, Any]:
    return {group_id: resource("AWS::IAM::Group", _drop_empty({
        "GroupName": group.name,
        "Path": group.path,
        "ManagedPolicyArns": [_arn(p, local_ids, partition) for p in group.policies],
    }), metadata=skip_metadata("group", group.key))}


def _user(user: User, user_id: str, group_ids: tuple[str, ...]) -> dict[str, Any]:
    # No access keys and no login profile: those are credentials, never part of a template.
    return {user_id: resource("AWS::IAM::User", _drop_empty({
        "UserName": user.name,
        "Path": user.path,
        "Groups": [ref(g) for g in group_ids],  # Ref of AWS::IAM::Group is its name
        "Tags": tags(user.tags),
    }), metadata=skip_metadata("user", user.key, user.accepted_findings))}


def _parts(plan: Plan, cls: BaselineClass, *, management: bool,
           memo: Entries | None) -> tuple[dict[str, Any], list[Part]]:
    """The template's head (version, description) and its resources, principal by principal."""
    baseline = cls.baseline
    partition = plan.org.partition
    ids = LogicalIds()
    policy_ids = {p.key: ids("Boundary" if p.kind == "boundary" else "Policy", _first_key(p))
                  for p in baseline.managed_policies}
    group_ids = {g.key: ids("Group", _first_key(g)) for g in baseline.groups}

    def local_ids(refs: Iterable[PolicyRef | None]) -> tuple[tuple[str, str], ...]:
        """(policy key, logical id) of the baseline's own policies among ``refs``."""
        found = []
        for policy in refs:
            if policy is None or policy.kind == "aws":
                continue
            if policy.name not in policy_ids:
                raise ValueError(f"class {cls.key}: policy {policy.name!r} is referenced but not in the baseline")
            found.append((policy.name, policy_ids[policy.name]))
        return tuple(found)

    parts = [_entry(memo, _managed_policy, p, policy_ids[p.key], partition) for p in baseline.managed_policies]
    providers_part: dict[str, Any] = {}
    providers = _identity_providers(baseline, ids, providers_part)
    parts.append((None, providers_part))
    for role in baseline.roles:
        role_id = ids("Role", _first_key(role))
        profile_id = ids("InstanceProfile", _first_key(role)) if role.instance_profile else ""
        parts.append(_entry(memo, _role, role, role_id, profile_id, local_ids((*role.policies, role.boundary)),
                            tuple(_trusted_providers(role, providers)), partition))
    parts += [_entry(memo, _group, g, group_ids[g.key], local_ids(g.policies), partition) for g in baseline.groups]
    for user in baseline.users:
        missing = [g for g in user.groups if g not in group_ids]
        if missing:
            raise ValueError(f"class {cls.key}: user {user.name} is in groups not in the baseline: {missing}")
        parts.append(_entry(memo, _user, user, ids("User", _first_key(user)), tuple(group_ids[g] for g in user.groups)))
    if baseline.password_policy is not None:
        parts.append((None, password_policy.resources(baseline.password_policy)))
    head = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": (f"guardrails {plan.org.name}: IAM baseline for "
                        f"{'the management account' if management else 'account class ' + cls.key}"),
    }
    return head, parts


def _identity_providers(baseline: Baseline, ids: LogicalIds, resources: dict[str, Any]) -> dict[str, str]:
    """Emit the OIDC and SAML providers; return {ARN suffix used in trust policies: logical id}."""
    found: dict[str, str] = {}
    for oidc in baseline.oidc_providers:
        if oidc.existing:
            continue
        logical = ids("OidcProvider", oidc.key)
        found[f":oidc-provider/{oidc.host}"] = logical
        resources[logical] = resource("AWS::IAM::OIDCProvider", _drop_empty({
            "Url": oidc.url,
            "ClientIdList": list(oidc.audiences),
            "ThumbprintList": list(oidc.thumbprints),
        }), metadata=skip_metadata("oidc_provider", oidc.key))
    for saml in baseline.saml_providers:
        if saml.existing:
            continue
        logical = ids("SamlProvider", saml.key)
        found[f":saml-provider/{saml.name}"] = logical
        resources[logical] = resource("AWS::IAM::SAMLProvider", {
            "Name": saml.name,
            "SamlMetadataDocument": saml.metadata,
        }, metadata=skip_metadata("saml_provider", saml.key))
    return found


def _trusted_providers(role: Role, providers: dict[str, str]) -> list[str]:
    """Providers a trust policy names by ARN: the role must be created after them (no Ref links them)."""
    trust = role.trust.render(minified=True)
    return sorted({logical for suffix, logical in providers.items() if suffix + '"' in trust})


def _drop_empty(properties: dict[str, Any]) -> dict[str, Any]:
    """Leave out optional properties the IR does not set (empty strings, lists, None)."""
    return {k: v for k, v in properties.items() if v not in (None, "", [], {})}
